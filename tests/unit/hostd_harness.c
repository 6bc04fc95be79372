// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tests/unit/hostd_harness.c — the fake hypervisor, guest agent and peer daemon around one
 * VM of hybond-hostd, and the daemon's loop they run on; see hostd_harness.h.
 */
#include "tests/unit/hostd_harness.h"
#include "host-agent/hostd/sentry/sentry.h"

#include <CUnit/CUnit.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "host-agent/hostd/ops/idle.h"
#include "host-agent/hostd/ops/migrate.h"

#ifndef HB_TESTDATA
#define HB_TESTDATA "tests/data"
#endif

/* ---- the fake hypervisor ---- */
struct fake_hv_state H;

struct hv {
	int unused;
};

static struct hv hv_obj;

static int rec(const char *name, const char *id, hv_done_fn fn, void *arg)
{
	struct fcall *c;

	if (H.n >= (int)(sizeof(H.calls) / sizeof(H.calls[0])))
		return -ENOBUFS;
	if (H.fail_call[0] && !strcmp(H.fail_call, name)) {
		H.fail_call[0] = 0;
		return H.fail_rc;
	}
	c = &H.calls[H.n++];
	(void)snprintf(c->name, sizeof(c->name), "%s", name);
	(void)snprintf(c->id, sizeof(c->id), "%s", id ? id : "");
	c->fn = fn;
	c->arg = arg;
	c->done = 0;
	return 0;
}

static struct hv *f_open(struct loop *l, const char *target, const struct hv_cb *cb, void *arg,
			 const char *name, int *err)
{
	(void)l;
	(void)target;
	(void)name;
	H.cb = cb;
	H.arg = arg;
	*err = 0;
	return &hv_obj;
}

static void f_close(struct hv *h)
{
	(void)h;
}

static int f_ready(const struct hv *h)
{
	(void)h;
	return H.ready;
}

static int f_migrate_out(struct hv *h, const char *uri, hv_done_fn fn, void *arg)
{
	(void)h;
	return rec("migrate", uri, fn, arg);
}

static int f_incoming(struct hv *h, const char *uri, hv_done_fn fn, void *arg)
{
	(void)h;
	return rec("migrate-incoming", uri, fn, arg);
}

static int f_cancel(struct hv *h, hv_done_fn fn, void *arg)
{
	(void)h;
	return rec("migrate_cancel", NULL, fn, arg);
}

static int f_query_migrate(struct hv *h, hv_done_fn fn, void *arg)
{
	(void)h;
	return rec("query-migrate", NULL, fn, arg);
}

static int f_query_status(struct hv *h, hv_done_fn fn, void *arg)
{
	(void)h;
	return rec("query-status", NULL, fn, arg);
}

static int f_unplug(struct hv *h, const char *id, hv_done_fn fn, void *arg)
{
	(void)h;
	return rec("device_del", id, fn, arg);
}

static int f_plug(struct hv *h, const struct hv_vf *vf, hv_done_fn fn, void *arg)
{
	(void)h;
	return rec("device_add", vf->id, fn, arg);
}

static int f_query_vf(struct hv *h, const char *id, const char *bus, hv_done_fn fn,
		      void *arg)
{
	(void)h;
	(void)bus;
	return rec("query-pci", id, fn, arg);
}

static int f_cont(struct hv *h, hv_done_fn fn, void *arg)
{
	(void)h;
	return rec("cont", NULL, fn, arg);
}

static int f_quit(struct hv *h, hv_done_fn fn, void *arg)
{
	(void)h;
	return rec("quit", NULL, fn, arg);
}

const struct hv_ops fake_hv = {
	.kind = "fake", .open = f_open, .close = f_close, .ready = f_ready,
	.migrate_out = f_migrate_out, .accept_incoming = f_incoming, .migrate_cancel = f_cancel,
	.query_migrate = f_query_migrate, .query_status = f_query_status, .vf_unplug = f_unplug,
	.vf_plug = f_plug, .query_vf = f_query_vf, .cont = f_cont, .quit = f_quit,
};

int called(const char *name)
{
	int i, n = 0;

	for (i = 0; i < H.n; i++)
		n += !strcmp(H.calls[i].name, name);
	return n;
}

int answer(const char *name, const struct hv_result *r)
{
	int i, n = 0, end = H.n;

	for (i = 0; i < end; i++) {
		struct fcall *c = &H.calls[i];

		if (c->done || strcmp(c->name, name) != 0)
			continue;
		c->done = 1;
		n++;
		if (c->fn)
			c->fn(c->arg, r);
	}
	return n;
}

int answer_migrate(const char *status, int64_t total_ms)
{
	struct hv_result r;

	memset(&r, 0, sizeof(r));
	(void)snprintf(r.mig.status, sizeof(r.mig.status), "%s", status);
	r.mig.total_time_ms = total_ms;
	r.mig.downtime_ms = total_ms >= 0 ? 5 : -1;
	r.mig.setup_time_ms = -1;
	return answer("query-migrate", &r);
}

int answer_status(int running, const char *status)
{
	struct hv_result r;

	memset(&r, 0, sizeof(r));
	r.running = running;
	(void)snprintf(r.status, sizeof(r.status), "%s", status);
	return answer("query-status", &r);
}

int answer_ok(const char *name)
{
	struct hv_result r;

	memset(&r, 0, sizeof(r));
	return answer(name, &r);
}

void hv_event(enum hv_ev ev, const char *detail)
{
	H.cb->on_event(H.arg, ev, detail, 1000);
}

/* ---- the test's side of sockets ---- */
void tsend(struct tsock *t, const struct hb_msg *m)
{
	uint8_t buf[4096];
	int n = hb_encode(buf, sizeof(buf), m);

	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL(write(t->fd, buf, (size_t)n), n);
}

int tlisten(struct tsock *t, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	hb_stream_init(&t->rx);
	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	t->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->lfd < 0 || bind(t->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(t->lfd, 4) < 0)
		return -1;
	return 0;
}

void tclose(struct tsock *t)
{
	if (t->fd >= 0)
		(void)close(t->fd);
	if (t->lfd >= 0)
		(void)close(t->lfd);
	t->fd = t->lfd = -1;
}

void tpoll(struct tsock *t, void (*fn)(const struct hb_msg *m))
{
	if (t->fd < 0 && t->lfd >= 0) {
		t->fd = accept4(t->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (t->fd < 0)
			return;
		hb_stream_init(&t->rx);
		fn(NULL);       /* connected */
	}
	for (;;) {
		size_t room;
		uint8_t *p = hb_stream_wptr(&t->rx, &room);
		ssize_t n = t->fd >= 0 ? read(t->fd, p, room) : -1;
		struct hb_frame f;
		struct hb_msg m;

		if (n <= 0)
			return;
		hb_stream_commit(&t->rx, (size_t)n);
		while (hb_stream_next(&t->rx, &f, NULL) == 1)
			if (hb_msg_decode(&f, &m) == 0)
				fn(&m);
	}
}

/* ---- the guest agent ---- */
struct guest_fake G;

void g_pair(struct hb_pair *p)
{
	memset(p, 0, sizeof(*p));
	p->id = PAIR_ID;
	(void)esw_parse_mac(MAC_S, p->mac);
	p->active = G.active;
	p->master.name = "eth0";
	p->master.ifindex = 2;
	p->master.link = p->master.carrier = 1;
	p->standby.name = "eth1";
	p->standby.ifindex = 3;
	p->standby.link = p->standby.carrier = 1;
	if (G.vf_present) {
		p->vf.name = "eth2";
		p->vf.ifindex = 4;
		p->vf.link = p->vf.carrier = (uint8_t)G.vf_up;
		HB_MARK(p, PAIR, VF);
	}
}

void g_status(const struct hb_msg *req)
{
	struct hb_msg m;

	if (req)
		hb_msg_init_reply(&m, HB_MSG_STATUS, req);
	else
		hb_msg_init(&m, HB_MSG_STATUS, hb_seq_next(&G.s.seq));
	g_pair(&m.u.status.pairs[0]);
	m.u.status.n_pairs = 1;
	tsend(&G.s, &m);
}

void g_fast_path_up(const struct hb_msg *req, uint8_t path)
{
	struct hb_msg m;

	G.active = path;
	hb_msg_init_reply(&m, HB_MSG_FAST_PATH_UP, req);
	m.u.fast_path_up.pair_id = PAIR_ID;
	m.u.fast_path_up.path = G.active;
	tsend(&G.s, &m);
	g_status(NULL);         /* the agent's STATUS follows a change */
}

void g_vf_vanished(void)
{
	struct hb_msg m;

	G.vf_present = G.vf_up = 0;
	G.active = HB_PATH_STANDBY;     /* the agent pins TX: "VF gone" */
	hb_msg_init(&m, HB_MSG_EVENT, hb_seq_next(&G.s.seq));
	m.u.event.pair_id = PAIR_ID;
	m.u.event.kind = HB_EV_VF_VANISHED;
	m.u.event.active = G.active;
	HB_MARK(&m.u.event, EVENT, ACTIVE);
	tsend(&G.s, &m);
}

void g_msg(const struct hb_msg *req)
{
	struct hb_msg m;

	if (!req) {             /* connected: the agent says HELLO */
		hb_msg_init(&m, HB_MSG_HELLO, hb_seq_next(&G.s.seq));
		m.u.hello.ver_min = m.u.hello.ver_max = HB_VERSION_CURRENT;
		m.u.hello.caps = HB_CAP_NET_FAILOVER;
		m.u.hello.agent = "test-guest";
		tsend(&G.s, &m);
		return;
	}
	if (req->flags & HB_F_REPLY)
		return;
	if (g_hooks.request && g_hooks.request(req))
		return;
	switch (req->type) {
	case HB_MSG_HELLO:
		hb_msg_init_reply(&m, HB_MSG_HELLO_ACK, req);
		m.u.hello_ack.ver_min = m.u.hello_ack.ver_max = HB_VERSION_CURRENT;
		m.u.hello_ack.ver_use = HB_VERSION_CURRENT;
		m.u.hello_ack.agent = "test-guest";
		tsend(&G.s, &m);
		break;
	case HB_MSG_STATUS:
		g_status(req);
		break;
	case HB_MSG_PREPARE_SWITCH:
		G.n_prepare++;
		G.active = HB_PATH_STANDBY;
		hb_msg_init_reply(&m, HB_MSG_SWITCH_DONE, req);
		m.u.switch_done.pair_id = PAIR_ID;
		m.u.switch_done.path = HB_PATH_STANDBY;
		tsend(&G.s, &m);
		break;
	case HB_MSG_RESUME_FAST_PATH:
		G.n_resume++;
		if (G.answer_resume)
			g_fast_path_up(req, G.vf_up ? HB_PATH_FAST : HB_PATH_STANDBY);
		break;
	default:
		break;
	}
}

/* ---- the peer daemon ---- */
struct peer_fake P;

int p_got(uint16_t type)
{
	int i, n = 0;

	for (i = 0; i < P.n; i++)
		n += P.types[i] == type;
	return n;
}

void p_msg(const struct hb_msg *m)
{
	struct hb_msg r;

	if (!m)
		return;
	if (P.n < 64)
		P.types[P.n++] = m->type;
	switch (m->type) {
	case HB_MSG_MIGRATE_PREPARE:
		hb_msg_init_reply(&r, HB_MSG_MIGRATE_READY, m);
		r.u.migrate_ready.vm = m->u.migrate_prepare.vm;
		r.u.migrate_ready.uri = P.offer_uri ? P.offer_uri : "unix:/nonexistent/mig.sock";
		tsend(&P.s, &r);
		break;
	case HB_MSG_MIGRATE_INCOMING:
		if (P.refuse_incoming) {
			hb_msg_init_reply(&r, HB_MSG_ERROR, m);
			r.u.error.code = HB_ERR_BUSY;
			r.u.error.text = "no guest agent session";
		} else {
			hb_msg_init_reply(&r, HB_MSG_MIGRATE_READY, m);
			r.u.migrate_ready.vm = m->u.migrate_incoming.vm;
			r.u.migrate_ready.uri = "libvirt";
		}
		tsend(&P.s, &r);
		break;
	case HB_MSG_MIGRATE_READY:
		(void)snprintf(P.ready_uri, sizeof(P.ready_uri), "%s", m->u.migrate_ready.uri);
		break;
	case HB_MSG_MIGRATE_RESULT:
		if (P.n_results < 8)
			P.result_ok[P.n_results++] = m->u.migrate_result.ok;
		break;
	case HB_MSG_MIGRATE_FINISHED:
		P.finished_path = m->u.migrate_finished.path;
		(void)snprintf(P.finished_text, sizeof(P.finished_text), "%s",
			       m->u.migrate_finished.text ? m->u.migrate_finished.text : "");
		break;
	default:
		break;
	}
}

void p_stopped(void)
{
	struct hb_msg m;

	hb_msg_init(&m, HB_MSG_MIGRATE_STOPPED, hb_seq_next(&P.s.seq));
	m.u.migrate_stopped.vm = "vm1";
	tsend(&P.s, &m);
}

void p_finished(void)
{
	struct hb_msg m;

	hb_msg_init(&m, HB_MSG_MIGRATE_FINISHED, hb_seq_next(&P.s.seq));
	m.u.migrate_finished.vm = "vm1";
	m.u.migrate_finished.path = HB_PATH_FAST;
	m.u.migrate_finished.text = "fast path up";
	tsend(&P.s, &m);
}

/* ---- the daemon around it ---- */
struct hostd D;
struct vm *V;
int setup_lv;
char dir[64];
char path_agent[128], path_peer[128];

static void quit_cb(void *arg)
{
	loop_quit(arg);
}

void pump(unsigned ms)
{
	struct loop_timer *t = loop_timer_new(D.l, quit_cb, D.l);
	unsigned i;

	for (i = 0; i < ms; i += 5) {
		(void)loop_timer_arm(t, 5);
		(void)loop_run(D.l);
		tpoll(&G.s, g_msg);
		tpoll(&P.s, p_msg);
		if (H.vf_query_auto) {
			struct hv_result r = { .present = H.vf_query_auto == 1 };

			(void)answer("query-pci", &r);
		}
	}
	loop_timer_free(t);
}

const char *phase(void)
{
	static char buf[32];
	json_t *o;

	if (!V->op || !V->op->ops->places_vm)
		return "none";  /* no migration (test_vfwatch: a drill runs) */
	o = mig_to_json(V);
	(void)snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(o, "phase")));
	json_decref(o);
	return buf;
}

int until_is(const char *(*now)(void), const char *what, const char *want, unsigned max_ms)
{
	unsigned t;

	for (t = 0; t <= max_ms; t += 10) {
		if (!strcmp(now(), want))
			return 0;
		pump(10);
	}
	(void)fprintf(stderr, "  wanted %s %s, still %s\n", what, want, now());
	return -1;
}

int until(const char *p, unsigned max_ms)
{
	return until_is(phase, "phase", p, max_ms);
}

static int xmit_ok(void *arg, const struct nlmsghdr *nlh)
{
	(void)arg;
	(void)nlh;
	return 0;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

void setup(enum vm_mode mode, int here)
{
	struct esw_config ec = { .kind = "sriov-legacy", .pf = "enp3s0f0",
				 .sysfs_root = HB_TESTDATA "/sysfs-sriov", .xmit = xmit_ok };
	struct vm_config vc;
	char err[256];

	memset(&H, 0, sizeof(H));
	memset(&G, 0, sizeof(G));
	if (g_hooks.reset)
		g_hooks.reset();
	memset(&P, 0, sizeof(P));
	memset(&D, 0, sizeof(D));
	G.s.fd = G.s.lfd = P.s.fd = P.s.lfd = -1;
	(void)snprintf(dir, sizeof(dir), "/tmp/hb-%s-XXXXXX", program_invocation_short_name);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	config_defaults(&D.cfg);
	(void)snprintf(D.cfg.host, sizeof(D.cfg.host), "A");
	D.cfg.vf_up_timeout_ms = 3000;
	D.cfg.resume_deadline_ms = 500;
	(void)snprintf(path_agent, sizeof(path_agent), "%s/agent.sock", dir);
	(void)snprintf(path_peer, sizeof(path_peer), "%s/peer-B.sock", dir);
	(void)snprintf(D.cfg.peers[0].name, sizeof(D.cfg.peers[0].name), "B");
	(void)snprintf(D.cfg.peers[0].socket, sizeof(D.cfg.peers[0].socket), "%s", path_peer);
	D.cfg.n_peers = 1;
	D.l = loop_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(D.l);
	CU_ASSERT_EQUAL_FATAL(jrnl_open(dir, &D.j, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(tlisten(&G.s, path_agent), 0);
	CU_ASSERT_EQUAL_FATAL(tlisten(&P.s, path_peer), 0);
	/* the guest channel is read by the guest sentry, as in the daemon (the test binary
	 * is its own sentry: hh_main); test_guestchan covers the direct mode */
	D.sentry = sentry_start(D.l, "nobody", SENTRY_GUESTS, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(D.sentry);

	vm_config_defaults(&vc, "vm1");
	CU_ASSERT_EQUAL_FATAL(vm_config_set(&vc, "mac", MAC_S, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(vm_config_set(&vc, "mode", mode == VM_MODE_BOND ? "bond" : "failover",
					    err, sizeof(err)), 0);
	(void)snprintf(vc.standby_port, sizeof(vc.standby_port), "enp3s0f0");
	(void)snprintf(vc.vf_port, sizeof(vc.vf_port), "vf0");
	(void)snprintf(vc.esw_kind, sizeof(vc.esw_kind), "sriov-legacy");
	(void)snprintf(vc.esw_pf, sizeof(vc.esw_pf), "enp3s0f0");
	(void)snprintf(vc.launcher, sizeof(vc.launcher), "echo qmp=%s/qmp.sock", dir);
	if (setup_lv) {
		CU_ASSERT_EQUAL_FATAL(vm_config_set(&vc, "hv", "libvirt", err, sizeof(err)), 0);
		(void)snprintf(vc.launcher, sizeof(vc.launcher), "true");  /* taps, in the lab */
		(void)snprintf(vc.agent, sizeof(vc.agent), "%s", path_agent);
	}
	if (here) {
		(void)snprintf(vc.qmp, sizeof(vc.qmp), "%s/qmp.sock", dir);
		(void)snprintf(vc.agent, sizeof(vc.agent), "%s", path_agent);
	}
	V = vm_new(&D, &vc, &idle_bg_ops);
	CU_ASSERT_PTR_NOT_NULL_FATAL(V);
	if (!V)
		return;
	D.vms[0] = V;
	V->hvo = &fake_hv;
	CU_ASSERT_EQUAL_FATAL(esw_open(&ec, &V->esw), 0);
	G.active = HB_PATH_FAST;
	G.vf_present = G.vf_up = 1;
	G.answer_resume = 1;
	if (!here)
		return;
	CU_ASSERT_EQUAL_FATAL(vm_attach(V, err, sizeof(err)), 0);
	H.ready = 1;
	H.cb->on_ready(H.arg);
	if (setup_lv) {         /* libvirt: runs here once the domain is seen running */
		CU_ASSERT_FALSE(V->here);
		CU_ASSERT_EQUAL(answer_status(1, "running"), 1);
		CU_ASSERT_TRUE(V->here);
	}
	/* the guest's HELLO and STATUS, through the sentry (which may still be starting) */
	for (unsigned ms = 0; ms < 5000 && !(vm_guest_ready(V) && vm_vf_up(V)); ms += 20)
		pump(20);
	pump(20);
	CU_ASSERT_TRUE_FATAL(vm_guest_ready(V) && vm_vf_up(V));
}

void teardown(void)
{
	setup_lv = 0;
	D.vms[0] = NULL;
	vm_free(V);
	V = NULL;
	sentry_stop(D.sentry);
	D.sentry = NULL;
	tclose(&G.s);
	tclose(&P.s);
	jrnl_close(D.j);
	loop_free(D.l);
	(void)nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

