// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tests/unit/test_vfwatch.c — the daemon's reaction to a VF that leaves a running VM with
 * no operation in progress (host-agent/vfwatch.c), without QEMU.  The same surroundings as
 * test_migrate.c: the daemon's objects on a real loop, a fake hypervisor (calls recorded,
 * QEMU's events sent by the test), the guest agent played over the guest channel socket,
 * the peer daemon on a unix socket, the sriov-legacy eswitch on the fake sysfs tree.
 * Cases: each trigger (guest VF_LEAVING, VF_VANISHED, STATUS without the VF; QEMU's
 * DEVICE_DELETED of the VF, UNPLUG_PRIMARY) steers RX to the standby once; VF_LEAVING then
 * VF_VANISHED steers once; the VF back: RX to the VF port, then RESUME_FAST_PATH; the
 * guest refuses (NO_VF, STANDBY) or its session drops: RX back to the standby, retried;
 * no reaction while a migration or a drill runs, nor with vf_watch = off; a migration
 * started while the VF is away skips the unplug; status JSON.
 */
#include "tests/unit/cu_run.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "host-agent/ctl.h"
#include "host-agent/drill.h"
#include "host-agent/hostd.h"
#include "host-agent/migrate.h"
#include "host-agent/peer.h"
#include "host-agent/vm.h"

#ifndef HB_TESTDATA
#define HB_TESTDATA "tests/data"
#endif
#define MAC_S "52:54:00:18:00:10"
#define PAIR_ID 7u

/* hlog: tests/unit/hlog_stub.c; hostd_vm, hostd_vm_add/del, hostd_peer_msg:
 * tests/unit/hostd_stubs.c */

/* ---- the fake hypervisor ---- */
struct fcall {
	char name[32], id[64];
	hv_done_fn fn;
	void *arg;
	int done;
};

static struct {
	int ready;
	const struct hv_cb *cb;
	void *arg;
	struct fcall calls[256];
	int n;
} H;

struct hv {
	int unused;
};

static struct hv hv_obj;

static int rec(const char *name, const char *id, hv_done_fn fn, void *arg)
{
	struct fcall *c;

	if (H.n >= (int)(sizeof(H.calls) / sizeof(H.calls[0])))
		return -ENOBUFS;
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

static int f_query_vf(struct hv *h, const char *id, hv_done_fn fn, void *arg)
{
	(void)h;
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

static const struct hv_ops fake_hv = {
	.kind = "fake", .open = f_open, .close = f_close, .ready = f_ready,
	.migrate_out = f_migrate_out, .accept_incoming = f_incoming, .migrate_cancel = f_cancel,
	.query_migrate = f_query_migrate, .query_status = f_query_status, .vf_unplug = f_unplug,
	.vf_plug = f_plug, .query_vf = f_query_vf, .cont = f_cont, .quit = f_quit,
};

static int called(const char *name)
{
	int i, n = 0;

	for (i = 0; i < H.n; i++)
		n += !strcmp(H.calls[i].name, name);
	return n;
}

/* Answer every call NAME pending now (not those the answers make) with r; how many. */
static int answer(const char *name, const struct hv_result *r)
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

static int answer_status(int running, const char *status)
{
	struct hv_result r;

	memset(&r, 0, sizeof(r));
	r.running = running;
	(void)snprintf(r.status, sizeof(r.status), "%s", status);
	return answer("query-status", &r);
}

static void hv_event(enum hv_ev ev, const char *detail)
{
	H.cb->on_event(H.arg, ev, detail, 1000);
}

/* ---- the test's side of sockets ---- */
struct tsock {
	int lfd, fd;
	uint32_t seq;
	struct hb_stream rx;
};

static void tsend(struct tsock *t, const struct hb_msg *m)
{
	uint8_t buf[4096];
	int n = hb_encode(buf, sizeof(buf), m);

	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL(write(t->fd, buf, (size_t)n), n);
}

static int tlisten(struct tsock *t, const char *path)
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

static void tclose(struct tsock *t)
{
	if (t->fd >= 0)
		(void)close(t->fd);
	if (t->lfd >= 0)
		(void)close(t->lfd);
	t->fd = t->lfd = -1;
}

/* Accept a pending connection; decode what arrived, call fn for each message. */
static void tpoll(struct tsock *t, void (*fn)(const struct hb_msg *m))
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

static struct vm *V;

/* ---- the guest agent ---- */
static struct {
	struct tsock s;
	int vf_present, vf_up, answer_resume;
	int resume_no_vf;       /* answer RESUME_FAST_PATH with ERROR NO_VF */
	int resume_standby;     /* answer it with FAST_PATH_UP path STANDBY */
	int rx_at_resume;       /* where the eswitch steered when RESUME_FAST_PATH came */
	int rx_at_prepare;      /* ... and when PREPARE_SWITCH came */
	uint8_t active;
	int n_prepare, n_resume;
} G;

static void g_pair(struct hb_pair *p)
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

/* STATUS: the answer to a request (req != NULL) or unsolicited, as the agent sends it. */
static void g_status(const struct hb_msg *req)
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

static void g_vf_vanished(void)
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

static void g_msg(const struct hb_msg *req)
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
		G.rx_at_prepare = V->rx_steer;
		G.active = HB_PATH_STANDBY;
		hb_msg_init_reply(&m, HB_MSG_SWITCH_DONE, req);
		m.u.switch_done.pair_id = PAIR_ID;
		m.u.switch_done.path = HB_PATH_STANDBY;
		tsend(&G.s, &m);
		break;
	case HB_MSG_RESUME_FAST_PATH:
		G.n_resume++;
		G.rx_at_resume = V->rx_steer;
		if (!G.answer_resume)
			break;
		if (G.resume_no_vf) {
			hb_msg_init_reply(&m, HB_MSG_ERROR, req);
			m.u.error.code = HB_ERR_NO_VF;
			m.u.error.text = "no VF appeared before the deadline";
			m.u.error.req_type = HB_MSG_RESUME_FAST_PATH;
			HB_MARK(&m.u.error, ERROR, REQ_TYPE);
			tsend(&G.s, &m);
			break;
		}
		G.active = G.vf_up && !G.resume_standby ? HB_PATH_FAST : HB_PATH_STANDBY;
		hb_msg_init_reply(&m, HB_MSG_FAST_PATH_UP, req);
		m.u.fast_path_up.pair_id = PAIR_ID;
		m.u.fast_path_up.path = G.active;
		tsend(&G.s, &m);
		g_status(NULL);         /* the agent's STATUS follows a change */
		break;
	default:
		break;
	}
}

/* ---- the peer daemon ---- */
static struct {
	struct tsock s;
	uint16_t types[64];
	int n, result_ok[8], n_results, finished_path;
	char finished_text[128];
	int refuse_incoming;    /* answer MIGRATE_INCOMING with ERROR */
	char ready_uri[64];     /* the URI of the last MIGRATE_READY received */
} P;

static void p_msg(const struct hb_msg *m)
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
		r.u.migrate_ready.uri = "unix:/nonexistent/mig.sock";
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

/* ---- the daemon around it ---- */
static struct hostd D;
static int setup_lv;    /* the next setup() registers a libvirt domain (hv = libvirt) */
static char dir[64];
static char path_agent[128], path_peer[128];

static void quit_cb(void *arg)
{
	loop_quit(arg);
}

/* Run the daemon's loop ms, then serve the guest and the peer. */
static void pump(unsigned ms)
{
	struct loop_timer *t = loop_timer_new(D.l, quit_cb, D.l);
	unsigned i;

	for (i = 0; i < ms; i += 5) {
		(void)loop_timer_arm(t, 5);
		(void)loop_run(D.l);
		tpoll(&G.s, g_msg);
		tpoll(&P.s, p_msg);
	}
	loop_timer_free(t);
}

static const char *phase(void)
{
	static char buf[32];
	json_t *o;

	if (!V->mig)
		return "none";
	o = mig_to_json(V);
	(void)snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(o, "phase")));
	json_decref(o);
	return buf;
}

/* Pump until the phase is p (or the migration ended, p "none"); 0 or -1 after max_ms. */
static int until(const char *p, unsigned max_ms)
{
	unsigned t;

	for (t = 0; t <= max_ms; t += 10) {
		if (!strcmp(phase(), p))
			return 0;
		pump(10);
	}
	(void)fprintf(stderr, "  wanted phase %s, still %s\n", p, phase());
	return -1;
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

static void setup(enum vm_mode mode, int here)
{
	struct esw_config ec = { .kind = "sriov-legacy", .pf = "enp3s0f0",
				 .sysfs_root = HB_TESTDATA "/sysfs-sriov", .xmit = xmit_ok };
	struct vm_config vc;
	char err[256];

	memset(&H, 0, sizeof(H));
	memset(&G, 0, sizeof(G));
	memset(&P, 0, sizeof(P));
	memset(&D, 0, sizeof(D));
	G.s.fd = G.s.lfd = P.s.fd = P.s.lfd = -1;
	(void)snprintf(dir, sizeof(dir), "/tmp/hbvfw-XXXXXX");
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
	V = vm_new(&D, &vc);
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
	pump(100);
	CU_ASSERT_TRUE_FATAL(vm_guest_ready(V) && vm_vf_up(V));
}

static void teardown(void)
{
	setup_lv = 0;
	D.vms[0] = NULL;
	vm_free(V);
	V = NULL;
	tclose(&G.s);
	tclose(&P.s);
	jrnl_close(D.j);
	loop_free(D.l);
	(void)nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- helpers ---- */
static void g_event(uint8_t kind)
{
	struct hb_msg m;

	hb_msg_init(&m, HB_MSG_EVENT, hb_seq_next(&G.s.seq));
	m.u.event.pair_id = PAIR_ID;
	m.u.event.kind = kind;
	m.u.event.ifname = "eth2";
	HB_MARK(&m.u.event, EVENT, IFNAME);
	tsend(&G.s, &m);
}

/* The operator (or QEMU) plugged a VF and the guest enslaved it: STATUS with it up. */
static void g_vf_back(void)
{
	G.vf_present = G.vf_up = 1;
	g_status(NULL);
}

static const char *wstate(void)
{
	static char buf[32];
	json_t *o = vm_to_json(V);

	(void)snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(
		json_object_get(o, "vf_watch"), "state")));
	json_decref(o);
	return buf;
}

static const char *wtrigger(void)
{
	static char buf[32];
	json_t *o = vm_to_json(V);

	(void)snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(
		json_object_get(o, "vf_watch"), "trigger")));
	json_decref(o);
	return buf;
}

/* Pump until the watch is in state s; 0 or -1 after max_ms. */
static int until_w(const char *s, unsigned max_ms)
{
	unsigned t;

	for (t = 0; t <= max_ms; t += 10) {
		if (!strcmp(wstate(), s))
			return 0;
		pump(10);
	}
	(void)fprintf(stderr, "  wanted watch state %s, still %s\n", s, wstate());
	return -1;
}

/* The VF is away and RX on the standby, steered once by the watch. */
static void expect_away(const char *trigger)
{
	CU_ASSERT_STRING_EQUAL(wstate(), "vf_away");
	CU_ASSERT_STRING_EQUAL(wtrigger(), trigger);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	CU_ASSERT_EQUAL(V->cnt.steer_standby, 1);
	CU_ASSERT_EQUAL(V->cnt.steer_errors, 0);
}

/* The VF back: RX to the VF port first, then RESUME_FAST_PATH; FAST ends the episode. */
static void expect_return(void)
{
	unsigned vf0 = V->cnt.steer_vf;
	int r0 = G.n_resume;

	g_vf_back();
	CU_ASSERT_EQUAL(until_w("idle", 2000), 0);
	CU_ASSERT_EQUAL(G.n_resume, r0 + 1);
	CU_ASSERT_EQUAL(G.rx_at_resume, ESW_TO_VF);     /* steered before the request */
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_VF);
	CU_ASSERT_EQUAL(V->cnt.steer_vf, vf0 + 1);
	CU_ASSERT_EQUAL(G.active, HB_PATH_FAST);
}

/* ---- tests ---- */

/* The kernel shim's VF_LEAVING steers at once; the VF_VANISHED that follows, and the
 * STATUS after it, do not steer again; the VF back takes the VM to the fast path. */
static void test_leaving_then_vanished(void)
{
	json_t *o, *w;

	setup(VM_MODE_FAILOVER, 1);
	CU_ASSERT_STRING_EQUAL(wstate(), "idle");
	G.vf_up = 0;
	g_event(HB_EV_VF_LEAVING);
	pump(20);
	expect_away("vf_leaving");
	CU_ASSERT_FALSE(vm_vf_up(V));
	/* RX moved, then the guest is told so (its shim holds the VF until then) */
	CU_ASSERT_EQUAL(G.n_prepare, 1);
	CU_ASSERT_EQUAL(G.rx_at_prepare, ESW_TO_STANDBY);
	g_vf_vanished();
	pump(20);
	g_status(NULL);
	pump(20);
	expect_away("vf_leaving");
	CU_ASSERT_EQUAL(G.n_prepare, 1);        /* VF_VANISHED asks nothing more */
	o = vm_to_json(V);
	w = json_object_get(o, "vf_watch");
	CU_ASSERT_TRUE(json_is_number(json_object_get(w, "steer_ms")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(w, "losses")), 1);
	CU_ASSERT_TRUE(json_is_integer(json_object_get(w, "since_ms")));
	json_decref(o);
	expect_return();
	o = vm_to_json(V);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(o, "vf_watch"),
							   "returns")), 1);
	json_decref(o);
	teardown();
}

/* A STATUS that still lists the leaving VF up (rtnetlink shows it until it is
 * removed; agents before the carrier-0 rule sent that) is not a VF that is back. */
static void test_leaving_still_listed(void)
{
	setup(VM_MODE_FAILOVER, 1);
	g_event(HB_EV_VF_LEAVING);
	pump(20);
	expect_away("vf_leaving");
	G.vf_present = G.vf_up = 1;     /* eth2, link and carrier: the one leaving */
	g_status(NULL);
	pump(50);
	CU_ASSERT_STRING_EQUAL(wstate(), "vf_away");
	CU_ASSERT_EQUAL(G.n_resume, 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	g_vf_vanished();
	pump(20);
	expect_return();                /* a VF named eth2 again, after it vanished: back */
	teardown();
}

/* Each of the other triggers alone steers once. */
static void test_vanished(void)
{
	setup(VM_MODE_FAILOVER, 1);
	g_vf_vanished();
	pump(20);
	expect_away("vf_vanished");
	CU_ASSERT_EQUAL(G.n_prepare, 0);        /* gone already: nothing to release */
	expect_return();
	teardown();
}

static void test_status(void)
{
	setup(VM_MODE_BOND, 1);
	G.vf_present = G.vf_up = 0;
	g_status(NULL);         /* a guest that sends no event (sysfs unbind, old agent) */
	pump(20);
	expect_away("status");
	g_status(NULL);
	pump(20);
	CU_ASSERT_EQUAL(V->cnt.steer_standby, 1);
	expect_return();
	teardown();
}

static void test_device_deleted(void)
{
	setup(VM_MODE_BOND, 1);
	hv_event(HV_EV_DEVICE_DELETED, "other-dev");    /* not the VF: nothing */
	CU_ASSERT_STRING_EQUAL(wstate(), "idle");
	hv_event(HV_EV_DEVICE_DELETED, "vf0");
	expect_away("device_deleted");                  /* at once, before the guest says it */
	CU_ASSERT_TRUE(vfw_vf_deleted(V));
	g_vf_vanished();
	pump(20);
	expect_away("device_deleted");
	expect_return();
	CU_ASSERT_FALSE(vfw_vf_deleted(V));
	teardown();
}

static void test_unplug_primary(void)
{
	setup(VM_MODE_FAILOVER, 1);
	hv_event(HV_EV_UNPLUG_PRIMARY, "vf0");
	expect_away("unplug_primary");
	CU_ASSERT_PTR_NULL(V->mig);
	g_vf_vanished();
	pump(20);
	expect_away("unplug_primary");
	teardown();
	/* a bond guest has no failover primary: QEMU's event is not about its VF */
	setup(VM_MODE_BOND, 1);
	hv_event(HV_EV_UNPLUG_PRIMARY, "vf0");
	CU_ASSERT_STRING_EQUAL(wstate(), "idle");
	CU_ASSERT_EQUAL(V->cnt.steer_standby, 0);
	teardown();
}

/* RESUME_FAST_PATH refused (NO_VF, then path STANDBY): RX back to the standby, the watch
 * waits and tries again; the operation it blocked meanwhile is refused with EBUSY. */
static void test_resume_refused(void)
{
	char err[256];
	unsigned t;

	setup(VM_MODE_FAILOVER, 1);
	g_vf_vanished();
	pump(20);
	expect_away("vf_vanished");
	G.resume_no_vf = 1;
	g_vf_back();
	pump(30);
	CU_ASSERT_EQUAL(G.n_resume, 1);
	CU_ASSERT_EQUAL(G.rx_at_resume, ESW_TO_VF);
	CU_ASSERT_STRING_EQUAL(wstate(), "vf_away");
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	CU_ASSERT_EQUAL(V->cnt.steer_standby, 2);
	CU_ASSERT_EQUAL(V->vfw.resume_failures, 1);
	/* the guest's STATUS that follows does not make it ask again at once (back-off) */
	g_status(NULL);
	pump(20);
	CU_ASSERT_EQUAL(G.n_resume, 1);
	/* then FAST_PATH_UP path STANDBY: the same */
	G.resume_no_vf = 0;
	G.resume_standby = 1;
	for (t = 0; t < 5000 && V->vfw.resume_failures < 2; t += 10)
		pump(10);
	CU_ASSERT_EQUAL(V->vfw.resume_failures, 2);
	CU_ASSERT_EQUAL(G.n_resume, 2);
	CU_ASSERT_STRING_EQUAL(wstate(), "vf_away");
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	CU_ASSERT_EQUAL(V->cnt.steer_standby, 3);
	/* RETURNING: a drill or migration would fight the outstanding RESUME_FAST_PATH */
	G.resume_standby = 0;
	G.answer_resume = 0;            /* the next request stays unanswered for a while */
	CU_ASSERT_EQUAL(until_w("returning", 5000), 0);
	{
		struct drill_req rq = { .kind = DRILL_KIND_DRILL, .cycles = 1 };

		CU_ASSERT_EQUAL(drill_start(V, &rq, NULL, err, sizeof(err)), -EBUSY);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "unannounced"));
		CU_ASSERT_EQUAL(mig_start_source(V, "B", 0, NULL, err, sizeof(err)), -EBUSY);
		CU_ASSERT_PTR_NULL(V->mig);
		CU_ASSERT_PTR_NULL(V->drill);
	}
	teardown();
}

/* The guest session drops while the fast path is being resumed: RX back to the standby;
 * once the session and the VF are up again, the VM returns to the fast path. */
static void test_session_down(void)
{
	setup(VM_MODE_FAILOVER, 1);
	g_vf_vanished();
	pump(20);
	G.answer_resume = 0;
	g_vf_back();
	CU_ASSERT_EQUAL(until_w("returning", 1000), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_VF);
	(void)close(G.s.fd);    /* the agent goes away (guest reboot, agent restart) */
	G.s.fd = -1;
	CU_ASSERT_EQUAL(until_w("vf_away", 2000), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	/* it comes back (the channel reconnects, HELLO, STATUS with the VF up) */
	G.answer_resume = 1;
	CU_ASSERT_EQUAL(until_w("idle", 5000), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_VF);
	CU_ASSERT_EQUAL(G.active, HB_PATH_FAST);
	teardown();
}

/* A migration owns the datapath: QEMU's unplug of the failover primary, the guest's
 * VF_VANISHED, a STATUS without the VF are the migration's, not the watch's. */
static void test_not_during_migration(void)
{
	char err[256];
	unsigned sb;

	setup(VM_MODE_FAILOVER, 1);
	CU_ASSERT_EQUAL_FATAL(mig_start_source(V, "B", 0, NULL, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(until("S_MIGRATING", 2000), 0);
	sb = V->cnt.steer_standby;
	hv_event(HV_EV_UNPLUG_PRIMARY, "vf0");
	g_vf_vanished();
	pump(20);
	g_status(NULL);
	pump(20);
	CU_ASSERT_STRING_EQUAL(wstate(), "idle");
	CU_ASSERT_EQUAL(V->cnt.steer_standby, sb);
	CU_ASSERT_EQUAL(V->vfw.losses, 0);
	teardown();
}

/* A drill owns the datapath: the VF leaving during it is the drill's business. */
static void test_not_during_drill(void)
{
	struct drill_req rq = { .kind = DRILL_KIND_DRILL, .cycles = 1, .unplug = 1 };
	char err[256];
	unsigned sb;

	setup(VM_MODE_BOND, 1);
	CU_ASSERT_EQUAL_FATAL(drill_start(V, &rq, NULL, err, sizeof(err)), 0);
	pump(50);
	CU_ASSERT_PTR_NOT_NULL_FATAL(V->drill);
	sb = V->cnt.steer_standby;
	hv_event(HV_EV_DEVICE_DELETED, "vf0");
	g_event(HB_EV_VF_LEAVING);
	g_vf_vanished();
	pump(20);
	CU_ASSERT_STRING_EQUAL(wstate(), "idle");
	CU_ASSERT_EQUAL(V->cnt.steer_standby, sb);
	CU_ASSERT_EQUAL(V->vfw.losses, 0);
	teardown();
}

/* vf_watch = off: nothing reacts, status says so. */
static void test_off(void)
{
	setup(VM_MODE_FAILOVER, 1);
	D.cfg.vf_watch = 0;
	g_event(HB_EV_VF_LEAVING);
	g_vf_vanished();
	pump(20);
	hv_event(HV_EV_DEVICE_DELETED, "vf0");
	hv_event(HV_EV_UNPLUG_PRIMARY, "vf0");
	CU_ASSERT_EQUAL(V->cnt.steer_standby, 0);
	CU_ASSERT_NOT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	CU_ASSERT_STRING_EQUAL(wstate(), "off");
	teardown();
}

/* A VM that is not running here (a destination before its migration) is not watched. */
static void test_not_here(void)
{
	setup(VM_MODE_FAILOVER, 0);
	CU_ASSERT_FALSE(V->here);
	CU_ASSERT_EQUAL(vm_attach(V, NULL, 0), 0);
	H.ready = 1;
	hv_event(HV_EV_DEVICE_DELETED, "vf0");
	CU_ASSERT_STRING_EQUAL(wstate(), "idle");
	CU_ASSERT_EQUAL(V->cnt.steer_standby, 0);
	teardown();
}

/* A bond migration started while the operator's device_del left the VM without its VF:
 * it takes over (the watch forgets), and does not device_del a VF that is gone. */
static void test_migration_while_away(void)
{
	char err[256];

	setup(VM_MODE_BOND, 1);
	hv_event(HV_EV_DEVICE_DELETED, "vf0");
	g_vf_vanished();
	pump(20);
	expect_away("device_deleted");
	CU_ASSERT_EQUAL_FATAL(mig_start_source(V, "B", 0, NULL, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(until("S_MIGRATING", 2000), 0);
	CU_ASSERT_EQUAL(called("device_del"), 0);
	CU_ASSERT_EQUAL(called("migrate"), 1);
	CU_ASSERT_STRING_EQUAL(wstate(), "idle");
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	teardown();
}

static CU_TestInfo tests[] = {
	{ "VF_LEAVING then VF_VANISHED: steered once; VF back: RX to VF, RESUME_FAST_PATH",
	  test_leaving_then_vanished },
	{ "a STATUS still listing the leaving VF up: not back", test_leaving_still_listed },
	{ "trigger: guest VF_VANISHED", test_vanished },
	{ "trigger: guest STATUS without the VF", test_status },
	{ "trigger: QEMU DEVICE_DELETED of the VF", test_device_deleted },
	{ "trigger: QEMU UNPLUG_PRIMARY (failover only)", test_unplug_primary },
	{ "RESUME_FAST_PATH refused: back to the standby, retried; operations EBUSY",
	  test_resume_refused },
	{ "guest session down while resuming", test_session_down },
	{ "no reaction while a migration runs", test_not_during_migration },
	{ "no reaction while a drill runs", test_not_during_drill },
	{ "no reaction with vf_watch = off", test_off },
	{ "no reaction for a VM not running here", test_not_here },
	{ "a bond migration while the VF is away: no device_del", test_migration_while_away },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_SuiteInfo suites[] = {
		{ "vfwatch", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return hb_cu_run(suites);
}
