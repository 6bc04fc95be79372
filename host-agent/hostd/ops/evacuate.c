// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/ops/evacuate.c — drain this host: every VM that runs here migrates to
 * one destination, at most K at a time (see evacuate.h, docs/host-agent.md).
 *
 *  BEGIN      DEST is a configured peer and its socket answers (else refused,
 *             nothing touched); the VMs that run here, in registration order
 *  PUMP       while fewer than K run and one waits: mig_start_source(VM, DEST,
 *             no CLI); a refusal (pre-flight: no agent session, no standby
 *             link, busy, …) is reported with its reason and the next one tried
 *  ENDED      the migration's sink (evac_mig_finished) gets its result: the VM's figures
 *             from the migration's result; the next turn pumps again
 *  STOP       Ctrl-C in the CLI or `hybond evacuate --stop`: no new migration
 *             starts, the running ones go on
 *  DONE       nothing runs, nothing waits: the summary, the connection closes
 *
 * The CLI's connection is taken over from ctl.c (a duplicate of its fd), so the
 * evacuation and the connection have separate lives: the CLI may leave at any
 * time and the evacuation goes on, logging each VM's end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evacuate.h"
#include "host-agent/common/jsonl.h"
#include "host-agent/hostd/hostd.h"
#include "migrate.h"
#include "host-agent/hostd/peer/peer.h"
#include "host-agent/hostd/registry.h"
#include "host-agent/hostd/vm.h"

#define EVAC_OUT_MAX (1u << 20)         /* queued output to a CLI that does not read */
#define EVAC_IN_MAX  4096u              /* a line from the CLI ({"cmd":"stop"}) */

/* ---- the scheduler ---------------------------------------------------------------- */
static const char *const evac_state_names[] = {
	[EVAC_WAITING] = "waiting", [EVAC_RUNNING] = "running", [EVAC_OK] = "ok",
	[EVAC_FAILED] = "failed", [EVAC_SKIPPED] = "skipped", [EVAC_NOT_STARTED] = "not_started",
};

const char *evac_state_name(enum evac_state st)
{
	return (unsigned)st < sizeof(evac_state_names) / sizeof(evac_state_names[0]) ?
	       evac_state_names[st] : "?";
}

int evac_core_init(struct evac_core *c, const char *const *vms, size_t n, unsigned parallel,
		   const struct evac_core_ops *ops, void *arg, uint64_t now_ms)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	if (parallel < 1 || parallel > EVAC_PARALLEL_MAX || !ops || !ops->start || !ops->emit ||
	    n > CFG_MAX_VMS)
		return -EINVAL;
	if (n) {
		c->items = calloc(n, sizeof(*c->items));
		if (!c->items)
			return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		(void)snprintf(c->items[i].vm, sizeof(c->items[i].vm), "%s", vms[i]);
		c->items[i].st = EVAC_WAITING;
		c->items[i].start_ms = c->items[i].end_ms = -1;
	}
	c->n = n;
	c->parallel = parallel;
	c->ops = ops;
	c->arg = arg;
	c->t0_ms = now_ms;
	return 0;
}

void evac_core_clear(struct evac_core *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		json_decref(c->items[i].result);
	free(c->items);
	memset(c, 0, sizeof(*c));
}

static unsigned count(const struct evac_core *c, enum evac_state st)
{
	unsigned k = 0;
	size_t i;

	for (i = 0; i < c->n; i++)
		k += c->items[i].st == st;
	return k;
}

static int64_t rel_ms(const struct evac_core *c, uint64_t now_ms)
{
	return now_ms >= c->t0_ms ? (int64_t)(now_ms - c->t0_ms) : 0;
}

/* One VM's figures, from the migration's result (migrate.c's mig_result_json). */
static json_t *item_json(const struct evac_item *it)
{
	json_t *o = json_pack("{s:s, s:s}", "vm", it->vm, "status", evac_state_name(it->st));
	json_t *r = it->result, *dest = json_object_get(r, "dest");
	static const char *const copy[] = { "qemu_downtime_ms", "total_ms", "warning" };
	size_t i;

	if (!o)
		return NULL;
	if (it->reason[0])
		(void)json_object_set_new(o, "reason", json_string(it->reason));
	for (i = 0; i < sizeof(copy) / sizeof(copy[0]); i++)
		if (json_object_get(r, copy[i]))
			(void)json_object_set(o, copy[i], json_object_get(r, copy[i]));
	if (json_is_string(json_object_get(dest, "path")))
		(void)json_object_set(o, "dest_path", json_object_get(dest, "path"));
	if (it->start_ms >= 0)
		(void)json_object_set_new(o, "start_ms", json_integer(it->start_ms));
	if (it->end_ms >= 0)
		(void)json_object_set_new(o, "end_ms", json_integer(it->end_ms));
	return o;
}

/* {"progress": {"event": EVENT, VM's figures…, "t_ms", "running", "waiting"}} */
static void emit_item(struct evac_core *c, const char *event, const struct evac_item *it,
		      uint64_t now_ms)
{
	json_t *p = item_json(it);

	if (!p)
		return;
	(void)json_object_set_new(p, "event", json_string(event));
	(void)json_object_set_new(p, "t_ms", json_integer(rel_ms(c, now_ms)));
	(void)json_object_set_new(p, "running", json_integer(c->running));
	(void)json_object_set_new(p, "waiting", json_integer(count(c, EVAC_WAITING)));
	if (it->result)
		(void)json_object_set(p, "result", it->result);
	c->ops->emit(c->arg, json_pack("{s:o}", "progress", p));
}

void evac_core_pump(struct evac_core *c, uint64_t now_ms)
{
	/* ops->start may end a migration at once, and that end may come back here */
	if (c->in_pump)
		return;
	c->in_pump = 1;
	while (!c->stopped && c->running < c->parallel && c->next < c->n) {
		struct evac_item *it = &c->items[c->next++];
		char err[sizeof(it->reason)] = "";
		int rc;

		if (it->st != EVAC_WAITING)
			continue;
		it->st = EVAC_RUNNING;
		it->start_ms = rel_ms(c, now_ms);
		c->running++;
		c->starting = it;
		rc = c->ops->start(c->arg, it->vm, err, sizeof(err));
		c->starting = NULL;
		if (rc < 0 && it->st == EVAC_RUNNING) {
			it->st = EVAC_SKIPPED;
			it->end_ms = it->start_ms;
			c->running--;
			(void)snprintf(it->reason, sizeof(it->reason), "%s",
				       err[0] ? err : strerror(-rc));
			emit_item(c, "skipped", it, now_ms);
			continue;
		}
		emit_item(c, "started", it, now_ms);
		if (it->st != EVAC_RUNNING)     /* ended inside start: told now, in order */
			emit_item(c, "finished", it, now_ms);
	}
	c->in_pump = 0;
}

int evac_core_ended(struct evac_core *c, const char *vm, int ok, json_t *result, uint64_t now_ms)
{
	struct evac_item *it = NULL;
	const char *e;
	size_t i;

	for (i = 0; i < c->n && !it; i++)
		if (c->items[i].st == EVAC_RUNNING && !strcmp(c->items[i].vm, vm))
			it = &c->items[i];
	if (!it) {
		json_decref(result);
		return 0;
	}
	it->st = ok ? EVAC_OK : EVAC_FAILED;
	it->end_ms = rel_ms(c, now_ms);
	json_decref(it->result);
	it->result = result;
	e = json_string_value(json_object_get(result, "error"));
	if (!ok)
		(void)snprintf(it->reason, sizeof(it->reason), "%s",
			       e && e[0] ? e : "the migration failed (no reason given)");
	c->running--;
	if (it != c->starting)
		emit_item(c, "finished", it, now_ms);
	return 1;
}

int evac_core_stop(struct evac_core *c, const char *by, uint64_t now_ms)
{
	unsigned n = 0;
	size_t i;

	if (c->stopped)
		return 0;
	c->stopped = 1;
	for (i = 0; i < c->n; i++)
		if (c->items[i].st == EVAC_WAITING) {
			c->items[i].st = EVAC_NOT_STARTED;
			(void)snprintf(c->items[i].reason, sizeof(c->items[i].reason),
				       "not started: the evacuation was stopped (%s)", by);
			n++;
		}
	c->ops->emit(c->arg, json_pack("{s:{s:s, s:s, s:I, s:I, s:I}}", "progress", "event",
				       "stopping", "by", by, "t_ms", (json_int_t)rel_ms(c, now_ms),
				       "running", (json_int_t)c->running, "not_started",
				       (json_int_t)n));
	return 1;
}

int evac_core_done(const struct evac_core *c)
{
	return c->running == 0 && count(c, EVAC_WAITING) == 0;
}

json_t *evac_core_state(const struct evac_core *c)
{
	json_t *vms = json_array();
	size_t i;

	for (i = 0; i < c->n; i++)
		(void)json_array_append_new(vms, item_json(&c->items[i]));
	return json_pack("{s:b, s:I, s:I, s:o}", "stopped", c->stopped, "running",
			 (json_int_t)c->running, "waiting", (json_int_t)count(c, EVAC_WAITING),
			 "vms", vms);
}

json_t *evac_core_result(const struct evac_core *c, uint64_t now_ms)
{
	unsigned ok = count(c, EVAC_OK), failed = count(c, EVAC_FAILED);
	unsigned skipped = count(c, EVAC_SKIPPED), not_started = count(c, EVAC_NOT_STARTED);
	json_t *vms = json_array(), *o;
	size_t i;
	char msg[256];

	for (i = 0; i < c->n; i++)
		(void)json_array_append_new(vms, item_json(&c->items[i]));
	o = json_pack("{s:b, s:I, s:b, s:{s:I, s:I, s:I, s:I, s:I}, s:o}", "ok", ok == c->n,
		      "total_ms", (json_int_t)rel_ms(c, now_ms), "stopped", c->stopped, "summary",
		      "vms", (json_int_t)c->n, "ok", (json_int_t)ok, "failed", (json_int_t)failed,
		      "skipped", (json_int_t)skipped, "not_started", (json_int_t)not_started,
		      "vms", vms);
	if (o && ok != c->n) {
		(void)snprintf(msg, sizeof(msg), "%zu of %zu VMs not evacuated (%u failed, %u skipped, "
			       "%u not started): see each VM's reason", c->n - ok, c->n, failed,
			       skipped, not_started);
		(void)json_object_set_new(o, "error", json_string(msg));
	}
	return o;
}

/* ---- the CLI's connection ------------------------------------------------------------ */
struct evac;

struct evac_conn {
	struct loop *l;
	int fd;
	char in[EVAC_IN_MAX];
	size_t in_len;
	struct jsonl_out out;           /* lines not sent yet (EVAC_OUT_MAX) */
	int closing, dead;
	struct evac *e;                 /* NULL once the evacuation has ended */
};

struct evac {
	struct hostd *d;
	struct evac_req rq;
	struct evac_core core;
	struct loop_timer *kick;        /* pump / finish on the next loop turn */
	struct evac_conn *conn;         /* NULL once the CLI left */
};

/* One evacuation per daemon: a second one would compete for the same VMs and DEST. */
static struct evac *evac_cur;

static void evac_stop(struct evac *e, const char *by);

static void conn_free(struct evac_conn *cn)
{
	if (cn->e)
		cn->e->conn = NULL;
	loop_del_fd(cn->l, cn->fd);
	(void)close(cn->fd);
	jsonl_clear(&cn->out);
	free(cn);
}

/* Never frees: a broken connection is marked dead and freed by its fd callback
 * (EPOLLHUP/EPOLLERR follow) or by whoever closes it. */
static void conn_flush(struct evac_conn *cn)
{
	long left;

	if (cn->dead)
		return;
	left = jsonl_flush(&cn->out, cn->fd);
	if (left < 0 || (!left && cn->closing))
		cn->dead = 1;
	else
		(void)loop_mod_fd(cn->l, cn->fd, EPOLLIN | (left ? EPOLLOUT : 0));
}

/* A line the CLI reads too slowly to take (EVAC_OUT_MAX queued) is dropped. */
static void conn_send(struct evac_conn *cn, json_t *o)
{
	if (!o || cn->dead) {
		json_decref(o);
		return;
	}
	(void)jsonl_queue(&cn->out, o);
	conn_flush(cn);
}

/* A line from the CLI: {"cmd":"stop"} (its Ctrl-C); anything else is ignored. */
static void conn_line(struct evac_conn *cn, const char *line, size_t len)
{
	json_error_t je;
	json_t *o = json_loadb(line, len, 0, &je);
	const char *cmd = json_string_value(json_object_get(o, "cmd"));

	if (cn->e && cmd && !strcmp(cmd, "stop"))
		evac_stop(cn->e, "Ctrl-C in the CLI");
	else if (cn->e)
		hlog(HLOG_DEBUG, "evacuation: ignored a line from the CLI (only {\"cmd\":\"stop\"})");
	json_decref(o);
}

static void conn_read(struct evac_conn *cn)
{
	ssize_t n = recv(cn->fd, cn->in + cn->in_len, sizeof(cn->in) - cn->in_len, MSG_DONTWAIT);
	char *nl;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (cn->e)
			hlog(HLOG_INFO, "evacuation to %s: the CLI left; the evacuation goes on "
			     "(hybond evacuate --status, --stop)", cn->e->rq.to);
		cn->dead = 1;
		return;
	}
	cn->in_len += (size_t)n;
	while ((nl = memchr(cn->in, '\n', cn->in_len))) {
		size_t len = (size_t)(nl - cn->in);

		conn_line(cn, cn->in, len);
		cn->in_len -= len + 1;
		(void)memmove(cn->in, nl + 1, cn->in_len);
	}
	if (cn->in_len == sizeof(cn->in))
		cn->in_len = 0;         /* no line of ours is that long: drop it */
}

static void conn_io(void *arg, unsigned events)
{
	struct evac_conn *cn = arg;

	if (events & EPOLLOUT)
		conn_flush(cn);
	if (!cn->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		conn_read(cn);
	if (cn->dead)
		conn_free(cn);
}

static struct evac_conn *conn_new(struct loop *l, int fd, struct evac *e)
{
	struct evac_conn *cn = calloc(1, sizeof(*cn));

	if (!cn)
		return NULL;
	cn->l = l;
	cn->fd = fd;
	cn->e = e;
	cn->out.max = EVAC_OUT_MAX;
	if (loop_add_fd(l, fd, EPOLLIN, conn_io, cn)) {
		free(cn);
		return NULL;
	}
	return cn;
}

/* ---- the daemon's evacuation ---------------------------------------------------------- */
static void evac_log(const struct evac *e, json_t *line)
{
	json_t *p = json_object_get(line, "progress");
	const char *ev = json_string_value(json_object_get(p, "event"));
	const char *vm = json_string_value(json_object_get(p, "vm"));
	const char *why = json_string_value(json_object_get(p, "reason"));
	const char *path = json_string_value(json_object_get(p, "dest_path"));

	if (!ev)
		return;
	if (!strcmp(ev, "started"))
		hlog(HLOG_INFO, "evacuation to %s: vm %s started (%lld running, %lld waiting)",
		     e->rq.to, vm, json_integer_value(json_object_get(p, "running")),
		     json_integer_value(json_object_get(p, "waiting")));
	else if (!strcmp(ev, "finished") && !why)
		hlog(HLOG_INFO, "evacuation to %s: vm %s moved (%s path there, QEMU downtime %lld ms, "
		     "%lld ms)", e->rq.to, vm, path ? path : "unknown",
		     json_integer_value(json_object_get(p, "qemu_downtime_ms")),
		     json_integer_value(json_object_get(p, "total_ms")));
	else if (!strcmp(ev, "finished") || !strcmp(ev, "skipped"))
		hlog(HLOG_WARN, "evacuation to %s: vm %s %s: %s", e->rq.to, vm,
		     !strcmp(ev, "skipped") ? "skipped" : "failed", why ? why : "?");
	else if (!strcmp(ev, "stopping"))
		hlog(HLOG_WARN, "evacuation to %s: stopped by %s; %lld running go on, %lld not started",
		     e->rq.to, json_string_value(json_object_get(p, "by")),
		     json_integer_value(json_object_get(p, "running")),
		     json_integer_value(json_object_get(p, "not_started")));
}

static void evac_emit(void *arg, json_t *line)
{
	struct evac *e = arg;

	evac_log(e, line);
	if (e->conn)
		conn_send(e->conn, line);
	else
		json_decref(line);
}

static void evac_mig_finished(void *arg, int ok, json_t *result);
static const struct op_sink_ops evac_sink_ops = { .finish = evac_mig_finished };
const struct op_sink evac_mig_sink = { .ops = &evac_sink_ops };

static int evac_start_vm(void *arg, const char *name, char *err, size_t errlen)
{
	struct evac *e = arg;
	struct vm *v = hostd_vm(e->d, name);

	if (!v) {
		(void)snprintf(err, errlen, "vm %s: no longer registered (hybond vm del during the "
			       "evacuation)", name);
		return -ENOENT;
	}
	/* no CLI: the evacuation aggregates the results (evac_mig_finished) */
	return mig_start_source(v, e->rq.to, e->rq.force, &evac_mig_sink, err, errlen);
}

static const struct evac_core_ops evac_ops = { .start = evac_start_vm, .emit = evac_emit };

static void evac_finish(struct evac *e)
{
	json_t *r = evac_core_result(&e->core, loop_now_ms()), *s = json_object_get(r, "summary");
	struct evac_conn *cn = e->conn;

	(void)json_object_set_new(r, "op", json_string("evacuate"));
	(void)json_object_set_new(r, "from", json_string(e->d->cfg.host));
	(void)json_object_set_new(r, "to", json_string(e->rq.to));
	(void)json_object_set_new(r, "parallel", json_integer(e->rq.parallel));
	(void)json_object_set_new(r, "force", json_boolean(e->rq.force));
	hlog(json_is_true(json_object_get(r, "ok")) ? HLOG_INFO : HLOG_WARN,
	     "evacuation to %s: done after %lld ms: %lld of %lld VMs moved, %lld failed, %lld "
	     "skipped, %lld not started", e->rq.to, json_integer_value(json_object_get(r, "total_ms")),
	     json_integer_value(json_object_get(s, "ok")), json_integer_value(json_object_get(s, "vms")),
	     json_integer_value(json_object_get(s, "failed")),
	     json_integer_value(json_object_get(s, "skipped")),
	     json_integer_value(json_object_get(s, "not_started")));
	evac_cur = NULL;
	if (cn) {
		cn->e = NULL;
		e->conn = NULL;
		cn->closing = 1;
		conn_send(cn, r);
		if (cn->dead)
			conn_free(cn);
	} else {
		json_decref(r);
	}
	evac_core_clear(&e->core);
	loop_timer_free(e->kick);       /* we run in its callback: timer_fire is done with it */
	free(e);
}

/* Next loop turn after a start, an end or a stop: never inside migrate.c's call stack. */
static void evac_kick(void *arg)
{
	struct evac *e = arg;

	evac_core_pump(&e->core, loop_now_ms());
	if (evac_core_done(&e->core))
		evac_finish(e);
}

static void evac_stop(struct evac *e, const char *by)
{
	if (evac_core_stop(&e->core, by, loop_now_ms()))
		(void)loop_timer_arm(e->kick, 0);
}

static void probe_msg(void *arg, struct peer_conn *pc, const struct hb_msg *m)
{
	(void)arg;
	(void)pc;
	(void)m;
}

static void probe_closed(void *arg, struct peer_conn *pc, int err)
{
	(void)arg;
	(void)pc;
	(void)err;
}

static const struct peer_ops evac_probe_ops = { .on_msg = probe_msg, .on_closed = probe_closed };

/* The destination answers on its peer socket, as a migration's first step would need. */
static int dest_check(struct hostd *d, const char *to, char *err, size_t errlen)
{
	const struct peer_config *pcfg = config_peer(&d->cfg, to);
	struct peer_conn *pc;
	int rc;

	if (!strcmp(to, d->cfg.host)) {
		(void)snprintf(err, errlen, "evacuate: --to %s is this host; name a peer", to);
		return -EINVAL;
	}
	if (!pcfg) {
		(void)snprintf(err, errlen, "evacuate: no peer '%s' in the configuration ([peer %s] in "
			       "hostd.conf); no VM was touched", to, to);
		return -ENOENT;
	}
	if (config_peer_tls(pcfg)) {
		/* TCP + TLS connects asynchronously: each VM's migration reports a peer that
		 * cannot be reached or authenticated (run `hybond peer-check` first) */
		hlog(HLOG_INFO, "evacuate: peer %s is a TLS peer (%s): checked by each migration",
		     to, pcfg->address);
		return 0;
	}
	pc = peer_connect(d->l, pcfg->socket, &evac_probe_ops, NULL, to, &rc);
	if (!pc) {
		(void)snprintf(err, errlen, "evacuate: peer %s unreachable: %s; no VM was touched (is "
			       "hybond-hostd running there? its [peer %s] in hostd.conf)", to,
			       strerror(rc ? -rc : ENOMEM), to);
		return rc ? rc : -ENOMEM;
	}
	peer_conn_free(pc);
	return 0;
}

int evac_start(struct hostd *d, const struct evac_req *rq, int conn_fd, char *err, size_t errlen)
{
	const char *names[CFG_MAX_VMS];
	struct evac *e;
	json_t *vms;
	size_t i, n = 0;
	int rc, fd = -1;

	if (evac_cur) {
		(void)snprintf(err, errlen, "evacuate: an evacuation to %s is already running "
			       "(hybond evacuate --status, --stop)", evac_cur->rq.to);
		return -EBUSY;
	}
	if (rq->parallel < 1 || rq->parallel > EVAC_PARALLEL_MAX) {
		(void)snprintf(err, errlen, "evacuate: --parallel %d: must be 1 to %d", rq->parallel,
			       EVAC_PARALLEL_MAX);
		return -EINVAL;
	}
	rc = dest_check(d, rq->to, err, errlen);
	if (rc)
		return rc;
	for (i = 0; i < CFG_MAX_VMS; i++)
		if (d->vms[i] && d->vms[i]->here)
			names[n++] = d->vms[i]->cfg.name;
	e = calloc(1, sizeof(*e));
	if (!e) {
		(void)snprintf(err, errlen, "evacuate: out of memory");
		return -ENOMEM;
	}
	e->d = d;
	e->rq = *rq;
	rc = evac_core_init(&e->core, names, n, (unsigned)rq->parallel, &evac_ops, e,
			    loop_now_ms());
	if (rc)
		goto fail;
	errno = 0;
	e->kick = loop_timer_new(d->l, evac_kick, e);
	if (!e->kick) {
		rc = errno ? -errno : -ENOMEM;
		goto fail;
	}
	fd = fcntl(conn_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	e->conn = conn_new(d->l, fd, e);
	if (!e->conn) {
		rc = -ENOMEM;
		goto fail;
	}
	evac_cur = e;
	hlog(HLOG_INFO, "evacuation to %s: %zu VMs, at most %d at a time%s", rq->to, n,
	     rq->parallel, rq->force ? ", --force" : "");
	vms = json_array();
	for (i = 0; i < n; i++)
		(void)json_array_append_new(vms, json_string(names[i]));
	evac_emit(e, json_pack("{s:{s:s, s:s, s:s, s:i, s:b, s:o}}", "progress", "event", "begin",
			       "from", d->cfg.host, "to", rq->to, "parallel", rq->parallel, "force",
			       rq->force, "vms", vms));
	(void)loop_timer_arm(e->kick, 0);
	return 0;

fail:
	(void)snprintf(err, errlen, "evacuate: cannot set up (%s); no VM was touched",
		       strerror(-rc));
	if (fd >= 0)
		(void)close(fd);
	loop_timer_free(e->kick);
	evac_core_clear(&e->core);
	free(e);
	return rc;
}

int evac_query(struct hostd *d, int stop, json_t **out, char *err, size_t errlen)
{
	struct evac *e = evac_cur;
	json_t *o;

	*out = NULL;
	if (!e) {
		(void)snprintf(err, errlen, "evacuate: no evacuation in progress on %s", d->cfg.host);
		return -ENOENT;
	}
	if (stop)
		evac_stop(e, "hybond evacuate --stop");
	o = evac_core_state(&e->core);
	(void)json_object_set_new(o, "ok", json_true());
	(void)json_object_set_new(o, "op", json_string("evacuate"));
	(void)json_object_set_new(o, "from", json_string(d->cfg.host));
	(void)json_object_set_new(o, "to", json_string(e->rq.to));
	(void)json_object_set_new(o, "parallel", json_integer(e->rq.parallel));
	(void)json_object_set_new(o, "t_ms", json_integer(rel_ms(&e->core, loop_now_ms())));
	*out = o;
	return 0;
}

/* The sink of every migration an evacuation starts: its end (result stolen). */
static void evac_mig_finished(void *arg, int ok, json_t *result)
{
	struct evac *e = evac_cur;
	const char *name = json_string_value(json_object_get(result, "vm"));
	struct vm *v;

	(void)arg;      /* the evacuation may have ended (hybond evacuate --stop) */
	if (!e || !name) {
		json_decref(result);
		return;
	}
	v = hostd_vm(e->d, name);
	if (evac_core_ended(&e->core, name, ok, result, loop_now_ms())) {
		/* its figures for `hybond status` (migrate.c kept them) say so */
		if (v && v->last_op)
			(void)json_object_set_new(v->last_op, "evacuation", json_true());
		(void)loop_timer_arm(e->kick, 0);
	}
}
