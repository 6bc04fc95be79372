// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tests/unit/test_hostd_evacuate.c — `hybond evacuate`: the scheduler with a fake
 * start function (the parallel bound, the order, a refusal skipped while the others
 * go on, an end inside start, a stop, the per-VM figures and the summary), and the
 * daemon side on a real loop (refusals before any VM is touched: unknown, own or
 * unreachable destination, a bad K, a second evacuation; VMs that cannot start are
 * skipped with migrate.c's reason; status, stop; a CLI that leaves).  The daemon's
 * own main (hostd.c) is replaced by the few stubs below.
 */
#include "tests/unit/cu_run.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "host-agent/hostd/ops/evacuate.h"
#include "host-agent/hostd/hostd.h"
#include "host-agent/hostd/ops/migrate.h"
#include "host-agent/hostd/vm.h"

/* hlog: tests/unit/hlog_stub.c; the VM table: the daemon's registry.c */

/* ---- the scheduler with fakes ---------------------------------------------------------- */
struct fake {
	struct evac_core *c;
	const char *refuse[8];          /* these VMs refuse to start */
	const char *end_inside;         /* this VM's migration ends inside start (ok) */
	char started[16][CFG_NAME_MAX + 1];
	unsigned n_started, running, max_running;
	json_t *lines;                  /* every emitted line */
	uint64_t now;
};

static int fake_start(void *arg, const char *vm, char *err, size_t errlen)
{
	struct fake *f = arg;
	size_t i;

	for (i = 0; i < 8 && f->refuse[i]; i++)
		if (!strcmp(f->refuse[i], vm)) {
			(void)snprintf(err, errlen, "vm %s: no guest agent session", vm);
			return -ENOTCONN;
		}
	(void)snprintf(f->started[f->n_started++], CFG_NAME_MAX + 1, "%s", vm);
	if (++f->running > f->max_running)
		f->max_running = f->running;
	if (f->end_inside && !strcmp(f->end_inside, vm)) {
		f->running--;
		CU_ASSERT_EQUAL(evac_core_ended(f->c, vm, 1, json_pack("{s:b, s:i}", "ok", 1,
									    "total_ms", 7), f->now), 1);
		evac_core_pump(f->c, f->now);   /* re-entry: must not start past K */
	}
	return 0;
}

static void fake_emit(void *arg, json_t *line)
{
	struct fake *f = arg;

	(void)json_array_append_new(f->lines, line);
}

static const struct evac_core_ops fake_ops = { .start = fake_start, .emit = fake_emit };

static const char *const five[] = { "vm0", "vm1", "vm2", "vm3", "vm4" };

static void fake_init(struct fake *f, struct evac_core *c, size_t n, unsigned k)
{
	memset(f, 0, sizeof(*f));
	f->c = c;
	f->lines = json_array();
	f->now = 1000;
	CU_ASSERT_EQUAL_FATAL(evac_core_init(c, five, n, k, &fake_ops, f, f->now), 0);
}

static void fake_clear(struct fake *f)
{
	evac_core_clear(f->c);
	json_decref(f->lines);
}

/* the migration of VM ended: result like migrate.c's */
static void fake_end(struct fake *f, const char *vm, int ok)
{
	json_t *r = ok ? json_pack("{s:b, s:s, s:i, s:i, s:{s:s}}", "ok", 1, "vm", vm,
				   "total_ms", 4000, "qemu_downtime_ms", 6, "dest", "path", "fast")
		       : json_pack("{s:b, s:s, s:s}", "ok", 0, "vm", vm, "error",
				   "launcher exited with status 1");

	f->now += 100;
	f->running--;
	CU_ASSERT_EQUAL(evac_core_ended(f->c, vm, ok, r, f->now), 1);
	evac_core_pump(f->c, f->now);
}

/* "event vm" of emitted line i */
static const char *line_event(const struct fake *f, size_t i, const char **vm)
{
	json_t *p = json_object_get(json_array_get(f->lines, i), "progress");

	*vm = json_string_value(json_object_get(p, "vm"));
	return json_string_value(json_object_get(p, "event"));
}

static void expect_line(const struct fake *f, size_t i, const char *event, const char *vm)
{
	const char *gvm = NULL, *gev = line_event(f, i, &gvm);

	CU_ASSERT_PTR_NOT_NULL(gev);
	if (!gev)
		return;
	if (strcmp(gev, event) != 0 || (vm && (!gvm || strcmp(gvm, vm) != 0)))
		(void)fprintf(stderr, "line %zu: got %s %s, want %s %s\n", i, gev, gvm ? gvm : "-",
			      event, vm ? vm : "-");
	CU_ASSERT_STRING_EQUAL(gev, event);
	if (vm)
		CU_ASSERT_STRING_EQUAL(gvm ? gvm : "", vm);
}

static void test_init_bounds(void)
{
	struct evac_core c;

	CU_ASSERT_EQUAL(evac_core_init(&c, five, 5, 0, &fake_ops, NULL, 0), -EINVAL);
	CU_ASSERT_EQUAL(evac_core_init(&c, five, 5, EVAC_PARALLEL_MAX + 1, &fake_ops, NULL, 0),
			-EINVAL);
	CU_ASSERT_EQUAL(evac_core_init(&c, five, 5, EVAC_PARALLEL_MAX, &fake_ops, NULL, 0), 0);
	evac_core_clear(&c);
	CU_ASSERT_STRING_EQUAL(evac_state_name(EVAC_NOT_STARTED), "not_started");
	CU_ASSERT_STRING_EQUAL(evac_state_name((enum evac_state)42), "?");
}

/* K=2 over five VMs: never more than two at once, in order, each end frees one slot. */
static void test_parallel_bound_and_order(void)
{
	struct evac_core c;
	struct fake f;
	unsigned i;

	fake_init(&f, &c, 5, 2);
	evac_core_pump(&c, f.now);
	CU_ASSERT_EQUAL(f.n_started, 2);
	CU_ASSERT_EQUAL(c.running, 2);
	evac_core_pump(&c, f.now);              /* nothing more while two run */
	CU_ASSERT_EQUAL(f.n_started, 2);
	fake_end(&f, "vm1", 1);                 /* ends out of order: vm2 takes its slot */
	CU_ASSERT_EQUAL(f.n_started, 3);
	fake_end(&f, "vm0", 1);
	fake_end(&f, "vm2", 1);
	CU_ASSERT_EQUAL(f.n_started, 5);
	CU_ASSERT_FALSE(evac_core_done(&c));
	fake_end(&f, "vm3", 1);
	fake_end(&f, "vm4", 1);
	CU_ASSERT_TRUE(evac_core_done(&c));
	CU_ASSERT_EQUAL(f.max_running, 2);
	for (i = 0; i < 5; i++)
		CU_ASSERT_STRING_EQUAL(f.started[i], five[i]);
	/* started vm0, vm1, finished vm1, started vm2, finished vm0, started vm3, … */
	expect_line(&f, 0, "started", "vm0");
	expect_line(&f, 1, "started", "vm1");
	expect_line(&f, 2, "finished", "vm1");
	expect_line(&f, 3, "started", "vm2");
	expect_line(&f, 4, "finished", "vm0");
	expect_line(&f, 5, "started", "vm3");
	CU_ASSERT_EQUAL(json_array_size(f.lines), 10);
	/* a finished line carries the VM's figures and the migration's whole result */
	{
		json_t *p = json_object_get(json_array_get(f.lines, 2), "progress");

		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "status")), "ok");
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(p, "qemu_downtime_ms")), 6);
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(p, "total_ms")), 4000);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "dest_path")), "fast");
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(p, "t_ms")), 100);
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(p, "running")), 1);
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(p, "waiting")), 3);
		CU_ASSERT_PTR_NOT_NULL(json_object_get(p, "result"));
	}
	fake_clear(&f);
}

/* A refusal (pre-flight) is reported with its reason, takes no slot, the others go on. */
static void test_skip_on_refusal(void)
{
	struct evac_core c;
	struct fake f;
	json_t *r, *s, *v1;

	fake_init(&f, &c, 4, 2);
	f.refuse[0] = "vm1";
	f.refuse[1] = "vm3";
	evac_core_pump(&c, f.now);
	CU_ASSERT_EQUAL(f.n_started, 2);
	CU_ASSERT_STRING_EQUAL(f.started[0], "vm0");
	CU_ASSERT_STRING_EQUAL(f.started[1], "vm2");
	expect_line(&f, 0, "started", "vm0");
	expect_line(&f, 1, "skipped", "vm1");
	expect_line(&f, 2, "started", "vm2");
	fake_end(&f, "vm0", 1);
	expect_line(&f, 4, "skipped", "vm3");
	fake_end(&f, "vm2", 0);
	CU_ASSERT_TRUE(evac_core_done(&c));

	r = evac_core_result(&c, f.now);
	s = json_object_get(r, "summary");
	CU_ASSERT_FALSE(json_is_true(json_object_get(r, "ok")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(s, "vms")), 4);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(s, "ok")), 1);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(s, "failed")), 1);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(s, "skipped")), 2);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(s, "not_started")), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_object_get(r, "error")),
				      "3 of 4 VMs not evacuated"));
	CU_ASSERT_EQUAL(json_array_size(json_object_get(r, "vms")), 4);
	v1 = json_array_get(json_object_get(r, "vms"), 1);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(v1, "vm")), "vm1");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(v1, "status")), "skipped");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(v1, "reason")),
			       "vm vm1: no guest agent session");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
		json_array_get(json_object_get(r, "vms"), 2), "reason")),
		"launcher exited with status 1");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
		json_array_get(json_object_get(r, "vms"), 0), "dest_path")), "fast");
	json_decref(r);
	fake_clear(&f);
}

/* Every VM refuses: the evacuation is done at once, nothing runs. */
static void test_all_refuse(void)
{
	struct evac_core c;
	struct fake f;

	fake_init(&f, &c, 3, 1);
	f.refuse[0] = "vm0";
	f.refuse[1] = "vm1";
	f.refuse[2] = "vm2";
	evac_core_pump(&c, f.now);
	CU_ASSERT_EQUAL(f.n_started, 0);
	CU_ASSERT_EQUAL(json_array_size(f.lines), 3);
	CU_ASSERT_TRUE(evac_core_done(&c));
	fake_clear(&f);
}

/* Stop: the waiting VMs are not started, the running one goes on and is reported. */
static void test_stop(void)
{
	struct evac_core c;
	struct fake f;
	json_t *r, *p;

	fake_init(&f, &c, 4, 1);
	evac_core_pump(&c, f.now);
	CU_ASSERT_EQUAL(evac_core_stop(&c, "Ctrl-C in the CLI", f.now), 1);
	CU_ASSERT_EQUAL(evac_core_stop(&c, "again", f.now), 0);
	p = json_object_get(json_array_get(f.lines, 1), "progress");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "event")), "stopping");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(p, "running")), 1);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(p, "not_started")), 3);
	CU_ASSERT_FALSE(evac_core_done(&c));    /* vm0 still migrates */
	fake_end(&f, "vm0", 1);
	CU_ASSERT_EQUAL(f.n_started, 1);
	CU_ASSERT_TRUE(evac_core_done(&c));
	r = evac_core_result(&c, f.now);
	CU_ASSERT_TRUE(json_is_true(json_object_get(r, "stopped")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(r, "summary"),
							   "not_started")), 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_object_get(
		json_array_get(json_object_get(r, "vms"), 3), "reason")), "Ctrl-C in the CLI"));
	json_decref(r);
	fake_clear(&f);
}

/* A migration that ends inside start: "started" is still told before "finished",
 * and the pump re-entered from there starts nothing past K. */
static void test_end_inside_start(void)
{
	struct evac_core c;
	struct fake f;

	fake_init(&f, &c, 3, 1);
	f.end_inside = "vm0";
	evac_core_pump(&c, f.now);
	expect_line(&f, 0, "started", "vm0");
	expect_line(&f, 1, "finished", "vm0");
	expect_line(&f, 2, "started", "vm1");
	CU_ASSERT_EQUAL(f.n_started, 2);
	CU_ASSERT_EQUAL(c.running, 1);
	CU_ASSERT_EQUAL(f.max_running, 1);
	fake_end(&f, "vm1", 1);
	fake_end(&f, "vm2", 1);
	CU_ASSERT_TRUE(evac_core_done(&c));
	fake_clear(&f);
}

/* Ends of migrations that are not ours are ignored (their result freed). */
static void test_foreign_end(void)
{
	struct evac_core c;
	struct fake f;
	json_t *r;

	fake_init(&f, &c, 2, 1);
	CU_ASSERT_EQUAL(evac_core_ended(&c, "vm0", 1, json_object(), f.now), 0); /* waiting */
	evac_core_pump(&c, f.now);
	CU_ASSERT_EQUAL(evac_core_ended(&c, "other", 1, json_object(), f.now), 0);
	CU_ASSERT_EQUAL(evac_core_ended(&c, "vm1", 0, NULL, f.now), 0);
	CU_ASSERT_EQUAL(evac_core_ended(&c, "vm0", 0, NULL, f.now), 1);         /* no result */
	CU_ASSERT_EQUAL(evac_core_ended(&c, "vm0", 1, json_object(), f.now), 0); /* twice */
	r = evac_core_result(&c, f.now);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
		json_array_get(json_object_get(r, "vms"), 0), "reason")),
		"the migration failed (no reason given)");
	json_decref(r);
	fake_clear(&f);
}

static void test_empty(void)
{
	struct evac_core c;
	struct fake f;
	json_t *r;

	fake_init(&f, &c, 0, 1);
	evac_core_pump(&c, f.now);
	CU_ASSERT_TRUE(evac_core_done(&c));
	r = evac_core_result(&c, f.now);
	CU_ASSERT_TRUE(json_is_true(json_object_get(r, "ok")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(r, "summary"), "vms")),
			0);
	CU_ASSERT_PTR_NULL(json_object_get(r, "error"));
	json_decref(r);
	fake_clear(&f);
}

/* ---- the daemon side on a real loop ---------------------------------------------------- */
struct dtest {
	struct hostd d;
	char dir[64], peer_path[128];
	int peer_lfd;
	int cli[2];                     /* [0] the CLI's end, [1] ctl.c's: handed over, closed */
	struct vm vms[3];
	json_t *lines;
	char buf[65536];
	size_t len;
};

static void cli_io(void *arg, unsigned events)
{
	struct dtest *t = arg;
	ssize_t n = read(t->cli[0], t->buf + t->len, sizeof(t->buf) - t->len);
	char *nl;

	(void)events;
	if (n <= 0) {
		loop_quit(t->d.l);
		return;
	}
	t->len += (size_t)n;
	while ((nl = memchr(t->buf, '\n', t->len))) {
		json_error_t je;
		json_t *o = json_loadb(t->buf, (size_t)(nl - t->buf), 0, &je);

		CU_ASSERT_PTR_NOT_NULL(o);
		if (o)
			(void)json_array_append_new(t->lines, o);
		t->len -= (size_t)(nl + 1 - t->buf);
		(void)memmove(t->buf, nl + 1, t->len);
	}
}

static void dtest_init(struct dtest *t)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t i;

	memset(t, 0, sizeof(*t));
	config_defaults(&t->d.cfg);
	(void)snprintf(t->d.cfg.host, sizeof(t->d.cfg.host), "A");
	(void)snprintf(t->d.cfg.peers[0].name, sizeof(t->d.cfg.peers[0].name), "B");
	(void)snprintf(t->d.cfg.peers[1].name, sizeof(t->d.cfg.peers[1].name), "C");
	t->d.cfg.n_peers = 2;
	t->d.l = loop_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->d.l);
	(void)snprintf(t->dir, sizeof(t->dir), "/tmp/hb-evac-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(t->dir));
	/* B: a listening socket (connect succeeds); C: a path nobody listens on */
	(void)snprintf(t->peer_path, sizeof(t->peer_path), "%s/B.sock", t->dir);
	(void)snprintf(t->d.cfg.peers[0].socket, sizeof(t->d.cfg.peers[0].socket), "%s",
		       t->peer_path);
	(void)snprintf(t->d.cfg.peers[1].socket, sizeof(t->d.cfg.peers[1].socket), "%s/C.sock",
		       t->dir);
	memcpy(sa.sun_path, t->peer_path, strlen(t->peer_path) + 1);
	t->peer_lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_FATAL(t->peer_lfd >= 0);
	CU_ASSERT_FATAL(bind(t->peer_lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CU_ASSERT_FATAL(listen(t->peer_lfd, 8) == 0);
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, t->cli) == 0);
	CU_ASSERT_FATAL(loop_add_fd(t->d.l, t->cli[0], EPOLLIN, cli_io, t) == 0);
	/* vm0 and vm2 run here (no QMP session: migrate.c refuses them), vm1 may arrive */
	for (i = 0; i < 3; i++) {
		(void)snprintf(t->vms[i].cfg.name, sizeof(t->vms[i].cfg.name), "vm%zu", i);
		t->vms[i].d = &t->d;
		t->vms[i].here = i != 1;
		t->d.vms[i] = &t->vms[i];
	}
	t->lines = json_array();
}

static void dtest_clear(struct dtest *t)
{
	size_t i;

	for (i = 0; i < 3; i++)
		json_decref(t->vms[i].last_op);
	if (t->cli[0] >= 0) {
		loop_del_fd(t->d.l, t->cli[0]);
		(void)close(t->cli[0]);
	}
	if (t->cli[1] >= 0)
		(void)close(t->cli[1]);
	(void)close(t->peer_lfd);
	(void)unlink(t->peer_path);
	(void)rmdir(t->dir);
	loop_free(t->d.l);
	json_decref(t->lines);
}

static struct evac_req req_to(const char *to, int k)
{
	struct evac_req rq = { .parallel = k };

	(void)snprintf(rq.to, sizeof(rq.to), "%s", to);
	return rq;
}

/* evac_start, then ctl.c's copy of the connection goes (cc_free closes it) */
static int start_handover(struct dtest *t, struct evac_req *rq, char *err, size_t errlen)
{
	int rc = evac_start(&t->d, rq, t->cli[1], err, errlen);

	if (rc == 0) {
		(void)close(t->cli[1]);
		t->cli[1] = -1;
	}
	return rc;
}

static void expect_refused(struct dtest *t, const char *to, int k, int rc, const char *words)
{
	struct evac_req rq = req_to(to, k);
	char err[512] = "";
	json_t *st = NULL;

	CU_ASSERT_EQUAL(evac_start(&t->d, &rq, t->cli[1], err, sizeof(err)), rc);
	if (!strstr(err, words))
		(void)fprintf(stderr, "error '%s' does not say '%s'\n", err, words);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, words));
	CU_ASSERT_EQUAL(evac_query(&t->d, 0, &st, err, sizeof(err)), -ENOENT);
	CU_ASSERT_PTR_NULL(st);
}

static void test_daemon_refusals(void)
{
	struct dtest t;

	dtest_init(&t);
	expect_refused(&t, "X", 1, -ENOENT, "no peer 'X' in the configuration");
	expect_refused(&t, "A", 1, -EINVAL, "is this host");
	expect_refused(&t, "C", 1, -ENOENT, "peer C unreachable");
	expect_refused(&t, "B", 0, -EINVAL, "--parallel 0: must be 1 to 8");
	expect_refused(&t, "B", 9, -EINVAL, "--parallel 9");
	CU_ASSERT_PTR_NULL(t.vms[0].op);        /* no VM touched */
	dtest_clear(&t);
}

/* VMs that refuse are skipped with migrate.c's reason; the final line says so. */
static void test_daemon_run(void)
{
	struct evac_req rq = req_to("B", 2);
	struct dtest t;
	char err[512] = "";
	json_t *fin, *beg, *st = NULL;
	const char *reason;

	dtest_init(&t);
	CU_ASSERT_EQUAL_FATAL(start_handover(&t, &rq, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(evac_start(&t.d, &rq, t.cli[0], err, sizeof(err)), -EBUSY);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "already running"));
	CU_ASSERT_EQUAL(evac_query(&t.d, 0, &st, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(st, "waiting")), 2);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(st, "to")), "B");
	json_decref(st);
	CU_ASSERT_EQUAL(loop_run(t.d.l), 0);    /* until the evacuation closes the connection */
	CU_ASSERT_EQUAL_FATAL(json_array_size(t.lines), 4);
	beg = json_object_get(json_array_get(t.lines, 0), "progress");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(beg, "event")), "begin");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(beg, "vms")), 2);       /* not vm1 */
	reason = json_string_value(json_object_get(json_object_get(json_array_get(t.lines, 1),
								   "progress"), "reason"));
	CU_ASSERT_TRUE(reason && strstr(reason, "vm vm0: not running here"));
	fin = json_array_get(t.lines, 3);
	CU_ASSERT_FALSE(json_is_true(json_object_get(fin, "ok")));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(fin, "op")), "evacuate");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(fin, "summary"),
							   "skipped")), 2);
	CU_ASSERT_EQUAL(evac_query(&t.d, 0, &st, err, sizeof(err)), -ENOENT);   /* over */
	{       /* a migration's end with no evacuation running: freed, ignored */
		struct op_sink late = evac_mig_sink;

		op_finish(&late, 1, json_pack("{s:s}", "vm", "vm0"));
	}
	CU_ASSERT_PTR_NULL(t.vms[0].last_op);
	dtest_clear(&t);
}

/* Stopped before the first turn: nothing starts, every VM "not started". */
static void test_daemon_stop(void)
{
	struct evac_req rq = req_to("B", 1);
	struct dtest t;
	char err[512] = "";
	json_t *fin, *st = NULL;

	dtest_init(&t);
	CU_ASSERT_EQUAL_FATAL(start_handover(&t, &rq, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(evac_query(&t.d, 1, &st, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(json_is_true(json_object_get(st, "stopped")));
	json_decref(st);
	CU_ASSERT_EQUAL(loop_run(t.d.l), 0);
	CU_ASSERT_EQUAL_FATAL(json_array_size(t.lines), 3);     /* begin, stopping, final */
	fin = json_array_get(t.lines, 2);
	CU_ASSERT_TRUE(json_is_true(json_object_get(fin, "stopped")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(fin, "summary"),
							   "not_started")), 2);
	dtest_clear(&t);
}

static void quit_cb(void *arg)
{
	loop_quit(arg);
}

/* The CLI leaves at once: the evacuation goes on and ends without it; the next one may
 * start (nothing left behind: ASan/valgrind). */
static void test_daemon_cli_leaves(void)
{
	struct evac_req rq = req_to("B", 1);
	struct dtest t;
	struct loop_timer *q;
	char err[512] = "";
	json_t *st = NULL;

	dtest_init(&t);
	CU_ASSERT_EQUAL_FATAL(start_handover(&t, &rq, err, sizeof(err)), 0);
	loop_del_fd(t.d.l, t.cli[0]);
	(void)close(t.cli[0]);
	t.cli[0] = -1;
	q = loop_timer_new(t.d.l, quit_cb, t.d.l);
	CU_ASSERT_FATAL(q != NULL);
	(void)loop_timer_arm(q, 100);
	CU_ASSERT_EQUAL(loop_run(t.d.l), 0);
	CU_ASSERT_EQUAL(evac_query(&t.d, 0, &st, err, sizeof(err)), -ENOENT);
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, t.cli) == 0);
	CU_ASSERT_EQUAL(start_handover(&t, &rq, err, sizeof(err)), 0);
	(void)close(t.cli[0]);                  /* and this CLI leaves too */
	t.cli[0] = -1;
	(void)loop_timer_arm(q, 100);
	CU_ASSERT_EQUAL(loop_run(t.d.l), 0);
	CU_ASSERT_EQUAL(evac_query(&t.d, 0, &st, err, sizeof(err)), -ENOENT);
	loop_timer_free(q);
	dtest_clear(&t);
}

int main(void)
{
	static CU_TestInfo core[] = {
		{ "init bounds", test_init_bounds },
		{ "parallel bound and order", test_parallel_bound_and_order },
		{ "refusal skipped, others go on; summary", test_skip_on_refusal },
		{ "every VM refuses", test_all_refuse },
		{ "stop", test_stop },
		{ "end inside start", test_end_inside_start },
		{ "foreign ends ignored", test_foreign_end },
		{ "nothing to evacuate", test_empty },
		CU_TEST_INFO_NULL,
	};
	static CU_TestInfo daemon[] = {
		{ "refused before touching a VM", test_daemon_refusals },
		{ "VMs that cannot start are skipped", test_daemon_run },
		{ "stop", test_daemon_stop },
		{ "the CLI leaves", test_daemon_cli_leaves },
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		{ "evacuate scheduler", NULL, NULL, NULL, NULL, core },
		{ "evacuate daemon", NULL, NULL, NULL, NULL, daemon },
		CU_SUITE_INFO_NULL,
	};

	return hb_cu_run(suites);
}
