// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_guest_agent.c — the agent's state machine, driven by netlink messages
 * captured in the lab guest during a failover migration
 * (tests/data/netlink/failover-migrate) and by protocol frames, with a
 * recording fake instead of the system. */
#include "tests/unit/cu_run.h"
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <string.h>

#include "guest-agent/agent.h"
#include "kmod-shim/hybond_genl.h"
#include "test_guest_util.h"

/* CUnit's _FATAL longjmps, which the analyzer cannot see: return instead. */
#define REQUIRE(p) do { CU_ASSERT_PTR_NOT_NULL(p); if (!(p)) return; } while (0)

#define MAX_SENT 64

static struct fake {
	struct hb_msg sent[MAX_SENT];
	int nsent;
	int pins, unpins, accepts, announces, announce_if;
	int queued_left;          /* queued() reports "not drained" this many times */
	int pin_fails;
	int releases, release_master;   /* kernel shim RELEASEs, master of the last */
	int release_nsent;        /* frames sent before the last RELEASE */
} fk;

static uint8_t rxbuf[HB_FRAME_MAX];

static int f_send(void *ctx, const void *frame, size_t len)
{
	(void)ctx;
	if (fk.nsent < MAX_SENT) {
		/* copy first: decoded strings point into the frame */
		static uint8_t keep[MAX_SENT][2048];

		CU_ASSERT(len <= sizeof(keep[0]));
		if (len > sizeof(keep[0]))
			return -1;
		memcpy(keep[fk.nsent], frame, len);
		CU_ASSERT(hb_decode(keep[fk.nsent], len, &fk.sent[fk.nsent]) > 0);
		fk.nsent++;
	}
	return 0;
}

static int f_accept(void *ctx, const struct gd_agent *a, const struct gd_pair *p)
{
	(void)ctx; (void)a; (void)p;
	fk.accepts++;
	return 0;
}

static int f_pin(void *ctx, const struct gd_agent *a, const struct gd_pair *p)
{
	(void)ctx; (void)a;
	if (fk.pin_fails)
		return -22;
	if (p->pinned)
		fk.pins++;
	else
		fk.unpins++;
	return 0;
}

static int f_enslave(void *ctx, const struct gd_agent *a, const struct gd_pair *p, int i)
{
	(void)ctx; (void)a; (void)p; (void)i;
	return 0;
}

static int n_create, n_enslave_sb;

static int f_create(void *ctx, const struct gd_bond_conf *b)
{
	(void)ctx; (void)b;
	n_create++;
	return 0;
}

static int f_enslave_sb(void *ctx, int b, int i)
{
	(void)ctx; (void)b; (void)i;
	n_enslave_sb++;
	return 0;
}

static int f_queued(void *ctx, const struct gd_agent *a, const struct gd_pair *p, uint32_t *n)
{
	(void)ctx; (void)a; (void)p;
	*n = (uint32_t)fk.queued_left;
	if (fk.queued_left > 0) {
		fk.queued_left--;
		return 1;
	}
	return 0;
}

static int f_announce(void *ctx, const struct gd_agent *a, const struct gd_pair *p, int ifindex)
{
	(void)ctx; (void)a; (void)p;
	fk.announces++;
	fk.announce_if = ifindex;
	return 0;
}

static int f_release(void *ctx, int master)
{
	(void)ctx;
	fk.releases++;
	fk.release_master = master;
	fk.release_nsent = fk.nsent;
	return 0;
}

static const struct gd_ops fake_ops = {
	.send = f_send, .accept_standby_rx = f_accept, .apply_pin = f_pin, .enslave = f_enslave,
	.create_bond = f_create, .enslave_standby = f_enslave_sb, .queued = f_queued,
	.announce = f_announce, .shim_release = f_release,
};

static struct gd_agent ag;
static struct gd_config cfg;
static struct tg_capture cap;

/* Feeds a message from the host as the daemon does (encode, parse, agent). */
static void host_sends(struct hb_msg *m, uint64_t now)
{
	struct hb_frame f;
	int n = hb_encode(rxbuf, sizeof(rxbuf), m);

	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_FATAL(hb_frame_parse(rxbuf, (size_t)n, &f) > 0);
	gd_agent_frame(&ag, 1, &f, now);
}

static const struct hb_msg *last_sent(uint16_t type)
{
	int i;

	for (i = fk.nsent - 1; i >= 0; i--)
		if (fk.sent[i].type == type)
			return &fk.sent[i];
	return NULL;
}

static int count_sent(uint16_t type)
{
	int i, n = 0;

	for (i = 0; i < fk.nsent; i++)
		n += fk.sent[i].type == type;
	return n;
}

static void feed_from(const struct tg_capture *c, int from, int to, uint64_t now)
{
	int i;

	for (i = from; i <= to && i < c->n; i++)
		gd_agent_link_msg(&ag, c->msgs[i], now);
}

static void feed(int from, int to, uint64_t now)
{
	int i;

	for (i = from; i <= to && i < cap.n; i++)
		gd_agent_link_msg(&ag, cap.msgs[i], now);
}

/* Agent up with the initial dump (lo, eth0, eth1, eth2) and a session. */
static void start(void)
{
	struct hb_msg m;
	const struct hb_msg *hello;

	memset(&fk, 0, sizeof(fk));
	gd_config_defaults(&cfg);
	gd_agent_init(&ag, &cfg, &fake_ops, NULL, HB_CAP_NET_FAILOVER | HB_CAP_BONDING);
	feed(0, 3, 1000);                       /* the initial dump: VF up */
	gd_agent_channel(&ag, true, 1000);
	hello = last_sent(HB_MSG_HELLO);
	REQUIRE(hello);
	CU_ASSERT_EQUAL(hello->u.hello.caps, HB_CAP_NET_FAILOVER | HB_CAP_BONDING);
	hb_msg_init(&m, HB_MSG_HELLO_ACK, hello->seq);
	m.flags = HB_F_REPLY;
	m.u.hello_ack.ver_min = m.u.hello_ack.ver_max = m.u.hello_ack.ver_use = HB_VERSION_CURRENT;
	m.u.hello_ack.agent = "test-host";
	host_sends(&m, 2000);
	CU_ASSERT_TRUE(ag.session);
	fk.pins = fk.unpins = 0;                /* discovery sets the pin state once */
}

static void test_discovery_and_hello(void)
{
	const struct hb_msg *st;

	start();
	CU_ASSERT_EQUAL(ag.npairs, 1);
	CU_ASSERT_EQUAL(ag.pairs[0].id, 1);
	CU_ASSERT_EQUAL(fk.accepts, 1);         /* ingress redirect installed once */
	CU_ASSERT_EQUAL(fk.pins, 0);
	gd_agent_tick(&ag, 3000);               /* a STATUS follows the session */
	st = last_sent(HB_MSG_STATUS);
	REQUIRE(st);
	CU_ASSERT_EQUAL(st->u.status.n_pairs, 1);
	CU_ASSERT_EQUAL(st->u.status.pairs[0].active, HB_PATH_FAST);
	CU_ASSERT_STRING_EQUAL(st->u.status.pairs[0].vf_pci, "0000:01:00.0");
	CU_ASSERT_STRING_EQUAL(st->u.status.pairs[0].standby.name, "eth1");
}

static void test_prepare_migrate_resume(void)
{
	struct hb_msg m;
	const struct hb_msg *r;

	start();
	fk.queued_left = 2;
	hb_msg_init(&m, HB_MSG_PREPARE_SWITCH, 7);
	m.u.prepare_switch.pair_id = 1;
	m.u.prepare_switch.path = HB_PATH_STANDBY;
	m.u.prepare_switch.deadline_ms = 2000;
	host_sends(&m, 10000);
	CU_ASSERT_EQUAL(fk.pins, 1);
	CU_ASSERT_PTR_NULL(last_sent(HB_MSG_SWITCH_DONE));      /* still draining */
	gd_agent_tick(&ag, 10000);              /* the STATUS the pin made due */
	CU_ASSERT_EQUAL(gd_agent_next_us(&ag), 11000);          /* re-read in 1 ms */
	gd_agent_tick(&ag, 11000);
	gd_agent_tick(&ag, 12000);
	r = last_sent(HB_MSG_SWITCH_DONE);
	REQUIRE(r);
	CU_ASSERT_EQUAL(r->seq, 7);
	CU_ASSERT(r->flags & HB_F_REPLY);
	CU_ASSERT_EQUAL(r->u.switch_done.path, HB_PATH_STANDBY);
	CU_ASSERT_EQUAL(r->u.switch_done.queued, 0);
	CU_ASSERT_EQUAL(r->u.switch_done.elapsed_us, 2000);
	CU_ASSERT_EQUAL(fk.announce_if, 3);     /* GARP out of the standby */

	/* migration: VF unplugged, re-plugged and up on the destination */
	feed(4, 7, 20000);
	r = last_sent(HB_MSG_EVENT);
	REQUIRE(r);
	CU_ASSERT_EQUAL(r->u.event.kind, HB_EV_VF_VANISHED);
	feed(8, cap.n - 1, 30000);
	CU_ASSERT(count_sent(HB_MSG_EVENT) >= 2);
	CU_ASSERT_EQUAL(fk.unpins, 0);          /* TX stays pinned until RESUME */
	CU_ASSERT_EQUAL(gd_pair_active(&ag, &ag.pairs[0]), HB_PATH_STANDBY);

	hb_msg_init(&m, HB_MSG_RESUME_FAST_PATH, 8);
	m.u.resume_fast_path.pair_id = 1;
	host_sends(&m, 40000);
	r = last_sent(HB_MSG_FAST_PATH_UP);
	REQUIRE(r);
	CU_ASSERT_EQUAL(r->seq, 8);
	CU_ASSERT_EQUAL(r->u.fast_path_up.path, HB_PATH_FAST);
	CU_ASSERT_EQUAL(fk.unpins, 1);
	CU_ASSERT_EQUAL(fk.announce_if, ag.pairs[0].l.vf);
	CU_ASSERT_EQUAL(gd_pair_active(&ag, &ag.pairs[0]), HB_PATH_FAST);
}

static void test_resume_waits_for_vf(void)
{
	struct hb_msg m;
	const struct hb_msg *r;

	start();
	feed(4, 7, 5000);                       /* VF gone while the session is up: pin */
	CU_ASSERT_EQUAL(fk.pins, 1);
	hb_msg_init(&m, HB_MSG_RESUME_FAST_PATH, 3);
	m.u.resume_fast_path.pair_id = 1;
	m.u.resume_fast_path.deadline_ms = 5000;
	HB_MARK(&m.u.resume_fast_path, RESUME_FAST_PATH, DEADLINE_MS);
	host_sends(&m, 6000);
	CU_ASSERT_PTR_NULL(last_sent(HB_MSG_FAST_PATH_UP));
	/* a second request while resuming: BUSY */
	hb_msg_init(&m, HB_MSG_PREPARE_SWITCH, 4);
	m.u.prepare_switch.pair_id = 1;
	m.u.prepare_switch.deadline_ms = 100;
	host_sends(&m, 6500);
	r = last_sent(HB_MSG_ERROR);
	REQUIRE(r);
	CU_ASSERT_EQUAL(r->u.error.code, HB_ERR_BUSY);
	feed(8, cap.n - 1, 7000);               /* the VF comes back with carrier */
	r = last_sent(HB_MSG_FAST_PATH_UP);
	REQUIRE(r);
	CU_ASSERT_EQUAL(r->u.fast_path_up.path, HB_PATH_FAST);
	CU_ASSERT_EQUAL(r->u.fast_path_up.elapsed_us, 1000);
}

static void test_resume_deadline_no_vf(void)
{
	struct hb_msg m;
	const struct hb_msg *r;

	start();
	feed(4, 7, 5000);
	hb_msg_init(&m, HB_MSG_RESUME_FAST_PATH, 3);
	m.u.resume_fast_path.pair_id = 1;
	host_sends(&m, 6000);
	CU_ASSERT_EQUAL(gd_agent_next_us(&ag) <= 6000 + 10000000ull, 1);
	gd_agent_tick(&ag, 6000 + 10000000ull);
	r = last_sent(HB_MSG_ERROR);
	REQUIRE(r);
	CU_ASSERT_EQUAL(r->u.error.code, HB_ERR_NO_VF);
	CU_ASSERT_EQUAL(r->seq, 3);
	CU_ASSERT_EQUAL(fk.unpins, 0);
}

static void test_requests_and_errors(void)
{
	struct hb_msg m;
	const struct hb_msg *r;
	struct hb_frame f;
	int n;

	start();
	hb_msg_init(&m, HB_MSG_PING, 11);
	m.u.ping.token = 0x1122334455667788ull;
	host_sends(&m, 5000);
	r = last_sent(HB_MSG_PONG);
	REQUIRE(r);
	CU_ASSERT_EQUAL(r->u.pong.token, 0x1122334455667788ull);
	CU_ASSERT_EQUAL(r->seq, 11);

	hb_msg_init(&m, HB_MSG_PREPARE_SWITCH, 12);
	m.u.prepare_switch.pair_id = 9;
	m.u.prepare_switch.deadline_ms = 100;
	host_sends(&m, 5000);
	r = last_sent(HB_MSG_ERROR);
	REQUIRE(r);
	CU_ASSERT_EQUAL(r->u.error.code, HB_ERR_UNKNOWN_PAIR);

	/* a frame whose payload is not valid for its type: MALFORMED, keep serving */
	hb_msg_init(&m, HB_MSG_PING, 13);
	n = hb_encode(rxbuf, sizeof(rxbuf), &m);
	CU_ASSERT_FATAL(n > 0);
	rxbuf[HB_HDR_LEN + 2] = 9;              /* attribute type 9: unknown, TOKEN missing */
	CU_ASSERT_FATAL(hb_frame_finish(rxbuf, sizeof(rxbuf), HB_MSG_PING, 0, 13,
					(size_t)n - HB_HDR_LEN) > 0);
	CU_ASSERT_FATAL(hb_frame_parse(rxbuf, (size_t)n, &f) > 0);
	gd_agent_frame(&ag, 1, &f, 5000);
	r = last_sent(HB_MSG_ERROR);
	REQUIRE(r);
	CU_ASSERT_EQUAL(r->u.error.code, HB_ERR_MALFORMED);
	CU_ASSERT_EQUAL(r->u.error.detail, (uint32_t)-HB_E_ATTR_MISSING);
	CU_ASSERT_EQUAL(r->seq, 13);
	CU_ASSERT_EQUAL(ag.frames_bad, 1);

	/* an answer-only type as a request */
	hb_msg_init(&m, HB_MSG_SWITCH_DONE, 14);
	host_sends(&m, 5000);
	r = last_sent(HB_MSG_ERROR);
	REQUIRE(r);
	CU_ASSERT_EQUAL(r->u.error.code, HB_ERR_UNEXPECTED);

	/* a host of an older minor (1.0..1.1): accepted, 1.1 used (protocol.md §6) */
	hb_msg_init(&m, HB_MSG_HELLO, 15);
	m.u.hello.ver_min = HB_VERSION(1, 0);
	m.u.hello.ver_max = HB_VERSION(1, 1);
	m.u.hello.agent = "old-host";
	host_sends(&m, 5000);
	r = last_sent(HB_MSG_HELLO_ACK);
	REQUIRE(r);
	CU_ASSERT_EQUAL(r->seq, 15);
	CU_ASSERT_EQUAL(r->u.hello_ack.ver_use, HB_VERSION(1, 1));
	CU_ASSERT_EQUAL(r->u.hello_ack.ver_min, HB_VERSION(1, 0));
	/* another major: refused */
	hb_msg_init(&m, HB_MSG_HELLO, 16);
	m.u.hello.ver_min = m.u.hello.ver_max = HB_VERSION(2, 0);
	m.u.hello.agent = "future-host";
	host_sends(&m, 5000);
	r = last_sent(HB_MSG_ERROR);
	REQUIRE(r);
	CU_ASSERT_EQUAL(r->u.error.code, HB_ERR_UNSUPPORTED_VERSION);
}

static void test_standby_unusable(void)
{
	struct hb_msg m;
	struct gd_link *sb;
	const struct hb_msg *r;

	start();
	sb = (struct gd_link *)gd_table_get(&ag.links, 3);
	sb->carrier = 0;                        /* standby without carrier */
	hb_msg_init(&m, HB_MSG_PREPARE_SWITCH, 5);
	m.u.prepare_switch.pair_id = 1;
	m.u.prepare_switch.deadline_ms = 2000;
	host_sends(&m, 5000);
	r = last_sent(HB_MSG_ERROR);
	REQUIRE(r);
	CU_ASSERT_EQUAL(r->u.error.code, HB_ERR_SWITCH_FAILED);
	CU_ASSERT_EQUAL(fk.pins, 0);            /* nothing changed */
}

static void test_no_session_no_pin(void)
{
	memset(&fk, 0, sizeof(fk));
	gd_config_defaults(&cfg);
	gd_agent_init(&ag, &cfg, &fake_ops, NULL, HB_CAP_NET_FAILOVER);
	feed(0, cap.n - 1, 1000);               /* whole migration, host absent */
	CU_ASSERT_EQUAL(fk.pins, 0);            /* the kernel's choice stands */
	CU_ASSERT_EQUAL(fk.accepts, 1);
	CU_ASSERT_EQUAL(gd_pair_active(&ag, &ag.pairs[0]), HB_PATH_FAST);
	CU_ASSERT_EQUAL(fk.nsent, 0);
}

/* guest.conf bond: created only when the whole initial dump says it is missing
 * (the dump is in ifindex order: an existing bond comes after its slaves). */
static void test_conf_bond_after_dump(void)
{
	struct tg_capture bc;
	char err[128];
	int i;

	CU_ASSERT_TRUE(tg_load(&bc, "bond-migrate") >= 4);
	if (bc.n < 4) {
		tg_free(&bc);
		return;
	}
	memset(&fk, 0, sizeof(fk));
	CU_ASSERT_EQUAL(gd_config_parse(&cfg, "bond bond0 standby-mac 52:54:00:18:00:10\n", err,
					sizeof(err)), 0);
	/* agent restarted in a guest whose bond0 exists: lo, eth0, eth1, then bond0 */
	n_create = n_enslave_sb = 0;
	gd_agent_init(&ag, &cfg, &fake_ops, NULL, HB_CAP_BONDING);
	for (i = 0; i < 4; i++) {
		gd_agent_link_msg(&ag, bc.msgs[i], 1000);
		CU_ASSERT_EQUAL(n_create, 0);   /* not before the dump is complete */
	}
	gd_agent_links_complete(&ag, 1000);
	CU_ASSERT_EQUAL(n_create, 0);           /* it exists: never recreated */
	CU_ASSERT_EQUAL(ag.npairs, 1);
	/* first start: no bond0 in the dump -> created once, after the dump */
	n_create = 0;
	gd_agent_init(&ag, &cfg, &fake_ops, NULL, HB_CAP_BONDING);
	gd_agent_link_msg(&ag, bc.msgs[0], 1000);
	CU_ASSERT_EQUAL(n_create, 0);
	gd_agent_links_complete(&ag, 1000);
	CU_ASSERT_EQUAL(n_create, 1);
	gd_agent_link_msg(&ag, bc.msgs[0], 1100);
	gd_agent_links_complete(&ag, 1100);
	CU_ASSERT_EQUAL(n_create, 1);           /* tried once */
	gd_config_defaults(&cfg);
	tg_free(&bc);
}

/* ---- the kernel shim's events (gd_agent_shim_event) ------------------------- */

static void shim_ev(uint8_t cmd, int master, int vf, uint64_t now)
{
	struct gd_shim_ev ev;

	memset(&ev, 0, sizeof(ev));
	ev.cmd = cmd;
	ev.master = master;
	ev.vf = vf;
	ev.standby = 3;
	gd_agent_shim_event(&ag, &ev, now);
}

/* index of the first EVENT of that kind that was sent, -1 if none */
static int event_at(uint8_t kind)
{
	int i;

	for (i = 0; i < fk.nsent; i++)
		if (fk.sent[i].type == HB_MSG_EVENT && fk.sent[i].u.event.kind == kind)
			return i;
	return -1;
}

static int count_events(uint8_t kind)
{
	int i, n = 0;

	for (i = 0; i < fk.nsent; i++)
		n += fk.sent[i].type == HB_MSG_EVENT && fk.sent[i].u.event.kind == kind;
	return n;
}

static void test_shim_hello_cap(void)
{
	struct hb_msg m;
	const struct hb_msg *r;

	memset(&fk, 0, sizeof(fk));
	gd_config_defaults(&cfg);
	gd_agent_init(&ag, &cfg, &fake_ops, NULL, HB_CAP_NET_FAILOVER | HB_CAP_BONDING);
	feed(0, 3, 1000);
	gd_agent_shim(&ag, true);               /* subscribed before the port opens */
	gd_agent_channel(&ag, true, 1000);
	r = last_sent(HB_MSG_HELLO);
	REQUIRE(r);
	CU_ASSERT_EQUAL(r->u.hello.caps, HB_CAP_NET_FAILOVER | HB_CAP_BONDING | HB_CAP_KMOD_SHIM);
	/* the host's HELLO is answered with the same caps */
	hb_msg_init(&m, HB_MSG_HELLO, 21);
	m.u.hello.ver_min = HB_VERSION(1, 0);
	m.u.hello.ver_max = HB_VERSION_CURRENT;
	m.u.hello.agent = "test-host";
	host_sends(&m, 2000);
	r = last_sent(HB_MSG_HELLO_ACK);
	REQUIRE(r);
	CU_ASSERT(r->u.hello_ack.caps & HB_CAP_KMOD_SHIM);
	/* unloaded: the open session is left alone (no HELLO in its middle) ... */
	gd_agent_shim(&ag, false);
	CU_ASSERT_EQUAL(count_sent(HB_MSG_HELLO), 1);
	/* ... and the next session has no KMOD_SHIM */
	gd_agent_channel(&ag, false, 3000);
	gd_agent_channel(&ag, true, 4000);
	CU_ASSERT_EQUAL(count_sent(HB_MSG_HELLO), 2);
	r = last_sent(HB_MSG_HELLO);
	REQUIRE(r);
	CU_ASSERT_EQUAL(r->u.hello.caps, HB_CAP_NET_FAILOVER | HB_CAP_BONDING);
}

/* UNPLUG_STARTING of the pair's VF (eth2, ifindex 4; master eth0 2): VF_LEAVING
 * at once, once, TX held on the standby; rtnetlink's VF_VANISHED follows; the
 * next VF is not used before RESUME_FAST_PATH. */
static void test_shim_vf_leaving(void)
{
	struct hb_msg m;
	const struct hb_msg *r;
	int pins;

	start();
	CU_ASSERT_EQUAL(gd_pair_active(&ag, &ag.pairs[0]), HB_PATH_FAST);
	shim_ev(HYBOND_CMD_UNPLUG_STARTING, 2, 4, 5000);
	CU_ASSERT_EQUAL(count_events(HB_EV_VF_LEAVING), 1);
	CU_ASSERT_EQUAL(fk.sent[fk.nsent - 1].type, HB_MSG_EVENT);     /* nothing before it */
	r = &fk.sent[event_at(HB_EV_VF_LEAVING)];
	CU_ASSERT_EQUAL(r->u.event.pair_id, 1);
	CU_ASSERT_EQUAL(r->u.event.ifindex, 4);
	CU_ASSERT_STRING_EQUAL(r->u.event.ifname, "eth2");
	CU_ASSERT_EQUAL(r->u.event.active, HB_PATH_STANDBY);   /* the shim took TX off it */
	/* rtnetlink still says carrier, but a leaving VF is reported without:
	 * the host must not take it for a VF that is back */
	CU_ASSERT_EQUAL(r->u.event.carrier, 0);
	gd_agent_tick(&ag, 5050);
	r = last_sent(HB_MSG_STATUS);
	REQUIRE(r);
	CU_ASSERT_EQUAL(r->u.status.n_pairs, 1);
	CU_ASSERT(HB_PRESENT(&r->u.status.pairs[0], PAIR, VF));
	CU_ASSERT_EQUAL(r->u.status.pairs[0].vf.ifindex, 4);
	CU_ASSERT_EQUAL(r->u.status.pairs[0].vf.carrier, 0);
	CU_ASSERT_EQUAL(r->u.status.pairs[0].active, HB_PATH_STANDBY);
	CU_ASSERT_TRUE(ag.pairs[0].pinned);
	CU_ASSERT_EQUAL(fk.pins, 1);
	CU_ASSERT_EQUAL(gd_pair_active(&ag, &ag.pairs[0]), HB_PATH_STANDBY);
	CU_ASSERT_TRUE(ag.pairs[0].release_pending);   /* until the host moved RX */
	CU_ASSERT_EQUAL(fk.releases, 0);
	pins = fk.pins;
	/* the same VF again (a repeated event): nothing more */
	shim_ev(HYBOND_CMD_UNPLUG_STARTING, 2, 4, 5100);
	shim_ev(HYBOND_CMD_UNPLUG_STARTING, 2, 0, 5150);        /* no IFINDEX: the pair's VF */
	CU_ASSERT_EQUAL(count_events(HB_EV_VF_LEAVING), 1);
	CU_ASSERT_EQUAL(fk.pins, pins);
	CU_ASSERT_EQUAL(fk.releases, 0);        /* still pending */
	/* DRAINED: the barrier is over (the module's rx_wait_ms ran out) */
	shim_ev(HYBOND_CMD_DRAINED, 2, 4, 5200);
	CU_ASSERT_EQUAL(count_events(HB_EV_VF_LEAVING), 1);
	CU_ASSERT_FALSE(ag.pairs[0].release_pending);
	CU_ASSERT_EQUAL(fk.releases, 0);
	/* rtnetlink: carrier off, then the VF unregistered: VF_VANISHED after VF_LEAVING */
	feed(4, 7, 6000);
	CU_ASSERT(event_at(HB_EV_VF_VANISHED) > event_at(HB_EV_VF_LEAVING));
	CU_ASSERT_EQUAL(count_events(HB_EV_VF_VANISHED), 1);
	CU_ASSERT_EQUAL(count_events(HB_EV_VF_LEAVING), 1);
	CU_ASSERT_EQUAL(fk.pins, pins);         /* already pinned: not again */
	CU_ASSERT_EQUAL(ag.pairs[0].leaving_vf, 0);
	/* a new VF comes up: TX stays on the standby until the host asks */
	feed(8, cap.n - 1, 7000);
	CU_ASSERT(ag.pairs[0].l.vf > 0);
	CU_ASSERT_EQUAL(fk.unpins, 0);
	CU_ASSERT_EQUAL(gd_pair_active(&ag, &ag.pairs[0]), HB_PATH_STANDBY);
	hb_msg_init(&m, HB_MSG_RESUME_FAST_PATH, 30);
	m.u.resume_fast_path.pair_id = 1;
	host_sends(&m, 8000);
	r = last_sent(HB_MSG_FAST_PATH_UP);
	REQUIRE(r);
	CU_ASSERT_EQUAL(r->u.fast_path_up.path, HB_PATH_FAST);
	CU_ASSERT_EQUAL(fk.unpins, 1);
	/* the new VF is unplugged in its turn: VF_LEAVING again, for it */
	shim_ev(HYBOND_CMD_UNPLUG_STARTING, 2, ag.pairs[0].l.vf, 9000);
	CU_ASSERT_EQUAL(count_events(HB_EV_VF_LEAVING), 2);
	r = last_sent(HB_MSG_EVENT);
	REQUIRE(r);
	CU_ASSERT_EQUAL(r->u.event.ifindex, (uint32_t)ag.pairs[0].l.vf);
}

/* A leaving VF is not "up" for RESUME_FAST_PATH, PREPARE_SWITCH(FAST) or the
 * standby-lost-carrier rule, even while rtnetlink still shows it up. */
static void test_shim_leaving_vf_not_used(void)
{
	struct hb_msg m;
	const struct hb_msg *r;

	start();
	shim_ev(HYBOND_CMD_UNPLUG_STARTING, 2, 4, 5000);
	hb_msg_init(&m, HB_MSG_PREPARE_SWITCH, 40);
	m.u.prepare_switch.pair_id = 1;
	m.u.prepare_switch.path = HB_PATH_FAST;
	m.u.prepare_switch.deadline_ms = 100;
	host_sends(&m, 5100);
	r = last_sent(HB_MSG_ERROR);
	REQUIRE(r);
	CU_ASSERT_EQUAL(r->u.error.code, HB_ERR_SWITCH_FAILED);
	hb_msg_init(&m, HB_MSG_RESUME_FAST_PATH, 41);
	m.u.resume_fast_path.pair_id = 1;
	host_sends(&m, 5200);
	CU_ASSERT_PTR_NULL(last_sent(HB_MSG_FAST_PATH_UP));    /* waits for another VF */
	CU_ASSERT_EQUAL(fk.unpins, 0);
	CU_ASSERT_TRUE(ag.pairs[0].pinned);
}

static void test_shim_unknown_and_other_events(void)
{
	int nsent;

	start();
	gd_agent_tick(&ag, 3000);               /* the STATUS the session made due */
	nsent = fk.nsent;
	shim_ev(HYBOND_CMD_UNPLUG_STARTING, 99, 4, 5000);       /* not our master */
	shim_ev(HYBOND_CMD_UNPLUG_STARTING, 3, 4, 5000);        /* the standby, not a master */
	shim_ev(HYBOND_CMD_PRIMARY_ARRIVING, 2, 4, 5000);
	shim_ev(HYBOND_CMD_CARRIER_UP, 2, 4, 5000);
	shim_ev(HYBOND_CMD_DRAINED, 2, 4, 5000);
	CU_ASSERT_EQUAL(fk.nsent, nsent);
	/* the barriers of masters that are not ours are released at once (they
	 * wait because the agent listens); the other events release nothing */
	CU_ASSERT_EQUAL(fk.releases, 2);
	CU_ASSERT_EQUAL(fk.release_master, 3);
	CU_ASSERT_EQUAL(fk.pins, 0);
	CU_ASSERT_FALSE(ag.pairs[0].pinned);
	CU_ASSERT_EQUAL(ag.pairs[0].leaving_vf, 0);
	CU_ASSERT_EQUAL(gd_pair_active(&ag, &ag.pairs[0]), HB_PATH_FAST);
	/* an UNPLUG_STARTING for a VF rtnetlink already removed: too late, nothing */
	feed(4, 7, 6000);
	nsent = count_events(HB_EV_VF_VANISHED);
	shim_ev(HYBOND_CMD_UNPLUG_STARTING, 2, 4, 6100);
	CU_ASSERT_EQUAL(count_events(HB_EV_VF_LEAVING), 0);
	CU_ASSERT_EQUAL(count_events(HB_EV_VF_VANISHED), nsent);
	CU_ASSERT_EQUAL(fk.releases, 3);        /* released: no VF_LEAVING for it */
	CU_ASSERT_EQUAL(fk.release_master, 2);
	CU_ASSERT_FALSE(ag.pairs[0].release_pending);
}

/* Without a host session: nothing to tell, and the kernel's choice stands. */
static void test_shim_no_session(void)
{
	memset(&fk, 0, sizeof(fk));
	gd_config_defaults(&cfg);
	gd_agent_init(&ag, &cfg, &fake_ops, NULL, HB_CAP_NET_FAILOVER);
	gd_agent_shim(&ag, true);
	feed(0, 3, 1000);
	shim_ev(HYBOND_CMD_UNPLUG_STARTING, 2, 4, 2000);
	CU_ASSERT_EQUAL(fk.nsent, 0);
	/* nobody will move RX: the barrier is released at once */
	CU_ASSERT_EQUAL(fk.releases, 1);
	CU_ASSERT_EQUAL(fk.release_master, 2);
	CU_ASSERT_FALSE(ag.pairs[0].release_pending);
	CU_ASSERT_EQUAL(fk.pins, 0);
	CU_ASSERT_FALSE(ag.pairs[0].pinned);
	CU_ASSERT_EQUAL(ag.pairs[0].leaving_vf, 4);
	feed(4, cap.n - 1, 3000);
	CU_ASSERT_EQUAL(fk.pins, 0);
	CU_ASSERT_EQUAL(gd_pair_active(&ag, &ag.pairs[0]), HB_PATH_FAST);      /* new VF */
}

/* A host of protocol 1.2 does not know VF_LEAVING: it will not move RX for it, so
 * the barrier is released at once (the event still goes out: it may be logged). */
static void test_shim_old_host(void)
{
	struct hb_msg m;

	start();
	gd_agent_shim(&ag, true);
	hb_msg_init(&m, HB_MSG_HELLO, 30);
	m.u.hello.ver_min = HB_VERSION(1, 0);
	m.u.hello.ver_max = HB_VERSION(1, 2);
	m.u.hello.agent = "host-1.2";
	host_sends(&m, 3000);
	CU_ASSERT_EQUAL(ag.host_ver, HB_VERSION(1, 2));
	shim_ev(HYBOND_CMD_UNPLUG_STARTING, 2, 4, 4000);
	CU_ASSERT_EQUAL(count_sent(HB_MSG_EVENT) > 0, 1);
	CU_ASSERT_EQUAL(fk.releases, 1);
	CU_ASSERT_EQUAL(fk.release_master, 2);
	CU_ASSERT_FALSE(ag.pairs[0].release_pending);
}

static void host_prepare(uint32_t seq, uint8_t path, uint64_t now)
{
	struct hb_msg m;

	hb_msg_init(&m, HB_MSG_PREPARE_SWITCH, seq);
	m.u.prepare_switch.pair_id = 1;
	m.u.prepare_switch.path = path;
	m.u.prepare_switch.deadline_ms = 100;
	host_sends(&m, now);
}

static int sent_index(uint16_t type)
{
	int i;

	for (i = fk.nsent - 1; i >= 0; i--)
		if (fk.sent[i].type == type)
			return i;
	return -1;
}

/* The host answers VF_LEAVING with PREPARE_SWITCH(STANDBY) once it moved RX:
 * RELEASE first, then the usual answer (TX is already pinned). */
static void test_shim_release_on_prepare(void)
{
	const struct hb_msg *r;

	start();
	shim_ev(HYBOND_CMD_UNPLUG_STARTING, 2, 4, 5000);
	CU_ASSERT_TRUE(ag.pairs[0].release_pending);
	CU_ASSERT_EQUAL(fk.releases, 0);
	/* PREPARE_SWITCH to FAST is not the host moving RX off the VF */
	host_prepare(50, HB_PATH_FAST, 5050);
	CU_ASSERT_EQUAL(fk.releases, 0);
	CU_ASSERT_TRUE(ag.pairs[0].release_pending);
	host_prepare(51, HB_PATH_STANDBY, 5100);
	CU_ASSERT_EQUAL(fk.releases, 1);
	CU_ASSERT_EQUAL(fk.release_master, 2);
	CU_ASSERT_FALSE(ag.pairs[0].release_pending);
	r = last_sent(HB_MSG_SWITCH_DONE);
	REQUIRE(r);
	CU_ASSERT_EQUAL(r->seq, 51);
	CU_ASSERT_EQUAL(r->u.switch_done.path, HB_PATH_STANDBY);
	CU_ASSERT(sent_index(HB_MSG_SWITCH_DONE) >= fk.release_nsent);  /* RELEASE first */
	CU_ASSERT_EQUAL(fk.pins, 1);            /* pinned at UNPLUG_STARTING, not again */
	/* a second PREPARE_SWITCH: nothing left to release */
	host_prepare(52, HB_PATH_STANDBY, 5200);
	CU_ASSERT_EQUAL(fk.releases, 1);
	CU_ASSERT_EQUAL(count_sent(HB_MSG_SWITCH_DONE), 2);
}

/* Released even when the request itself is refused (BUSY): the host moved RX. */
static void test_shim_release_on_busy_prepare(void)
{
	start();
	fk.queued_left = 100;                   /* the agent's own drain takes a while */
	host_prepare(60, HB_PATH_STANDBY, 3000);
	CU_ASSERT_EQUAL(ag.pairs[0].state, GD_ST_DRAINING);
	shim_ev(HYBOND_CMD_UNPLUG_STARTING, 2, 4, 3100);
	CU_ASSERT_TRUE(ag.pairs[0].release_pending);    /* not answered yet */
	host_prepare(61, HB_PATH_STANDBY, 3200);
	REQUIRE(last_sent(HB_MSG_ERROR));
	CU_ASSERT_EQUAL(last_sent(HB_MSG_ERROR)->u.error.code, HB_ERR_BUSY);
	CU_ASSERT_EQUAL(fk.releases, 1);
	CU_ASSERT_FALSE(ag.pairs[0].release_pending);
}

/* RX already on the standby (PREPARE_SWITCH(STANDBY) answered, e.g. hybond
 * migrate before QEMU's own unplug): released at once; after
 * RESUME_FAST_PATH the next unplug waits for the host again. */
static void test_shim_release_already_switched(void)
{
	struct hb_msg m;

	start();
	host_prepare(70, HB_PATH_STANDBY, 3000);
	REQUIRE(last_sent(HB_MSG_SWITCH_DONE));
	CU_ASSERT_TRUE(ag.pairs[0].host_rx_standby);
	shim_ev(HYBOND_CMD_UNPLUG_STARTING, 2, 4, 4000);
	CU_ASSERT_EQUAL(count_events(HB_EV_VF_LEAVING), 1);
	CU_ASSERT_EQUAL(fk.releases, 1);
	CU_ASSERT(fk.release_nsent > event_at(HB_EV_VF_LEAVING));   /* VF_LEAVING first */
	CU_ASSERT_FALSE(ag.pairs[0].release_pending);
	/* the VF goes, a new one comes, the host resumes the fast path */
	feed(4, cap.n - 1, 5000);
	hb_msg_init(&m, HB_MSG_RESUME_FAST_PATH, 71);
	m.u.resume_fast_path.pair_id = 1;
	host_sends(&m, 6000);
	REQUIRE(last_sent(HB_MSG_FAST_PATH_UP));
	CU_ASSERT_FALSE(ag.pairs[0].host_rx_standby);
	shim_ev(HYBOND_CMD_UNPLUG_STARTING, 2, ag.pairs[0].l.vf, 7000);
	CU_ASSERT_EQUAL(fk.releases, 1);
	CU_ASSERT_TRUE(ag.pairs[0].release_pending);
}

/* The host goes away (or restarts its session) with a release pending. */
static void test_shim_release_on_session_end(void)
{
	struct hb_msg m;

	start();
	shim_ev(HYBOND_CMD_UNPLUG_STARTING, 2, 4, 5000);
	CU_ASSERT_TRUE(ag.pairs[0].release_pending);
	gd_agent_channel(&ag, false, 5100);
	CU_ASSERT_EQUAL(fk.releases, 1);
	CU_ASSERT_EQUAL(fk.release_master, 2);
	CU_ASSERT_FALSE(ag.pairs[0].release_pending);
	gd_agent_channel(&ag, false, 5200);     /* no change: nothing more */
	CU_ASSERT_EQUAL(fk.releases, 1);

	/* a HELLO in the middle of a session: the old session's VF_LEAVING
	 * will not be answered */
	start();
	shim_ev(HYBOND_CMD_UNPLUG_STARTING, 2, 4, 5000);
	CU_ASSERT_EQUAL(fk.releases, 0);
	hb_msg_init(&m, HB_MSG_HELLO, 80);
	m.u.hello.ver_min = HB_VERSION(1, 0);
	m.u.hello.ver_max = HB_VERSION_CURRENT;
	m.u.hello.agent = "test-host";
	host_sends(&m, 5100);
	CU_ASSERT_EQUAL(fk.releases, 1);
	CU_ASSERT_FALSE(ag.pairs[0].release_pending);
}

/* The VF vanishes while the release is pending: the barrier ended (the
 * removal only goes on after it), nothing to send, a later PREPARE_SWITCH
 * releases nothing; shim unloaded likewise. */
static void test_shim_release_vf_vanished(void)
{
	start();
	shim_ev(HYBOND_CMD_UNPLUG_STARTING, 2, 4, 5000);
	CU_ASSERT_TRUE(ag.pairs[0].release_pending);
	feed(4, 7, 6000);                       /* carrier off ... eth2 deleted */
	CU_ASSERT_EQUAL(count_events(HB_EV_VF_VANISHED), 1);
	CU_ASSERT_FALSE(ag.pairs[0].release_pending);
	host_prepare(90, HB_PATH_STANDBY, 6100);
	CU_ASSERT_EQUAL(fk.releases, 0);
	REQUIRE(last_sent(HB_MSG_SWITCH_DONE));

	start();
	gd_agent_shim(&ag, true);
	shim_ev(HYBOND_CMD_UNPLUG_STARTING, 2, 4, 5000);
	CU_ASSERT_TRUE(ag.pairs[0].release_pending);
	gd_agent_shim(&ag, false);              /* rmmod: no barrier left */
	CU_ASSERT_FALSE(ag.pairs[0].release_pending);
	CU_ASSERT_EQUAL(fk.releases, 0);
}

/* RTM_DELLINK of one interface, as the kernel sends it. */
static void del_link(int ifindex, uint64_t now)
{
	uint8_t buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	nlh->nlmsg_type = RTM_DELLINK;
	ifi->ifi_index = ifindex;
	gd_agent_link_msg(&ag, nlh, now);
}

/* The pair disappears (its standby is gone) with a release pending. */
static void test_shim_release_pair_gone(void)
{
	start();
	shim_ev(HYBOND_CMD_UNPLUG_STARTING, 2, 4, 5000);
	CU_ASSERT_TRUE(ag.pairs[0].release_pending);
	del_link(3, 5100);
	CU_ASSERT_FALSE(ag.pairs[0].present);
	CU_ASSERT_EQUAL(fk.releases, 1);
	CU_ASSERT_EQUAL(fk.release_master, 2);
	CU_ASSERT_FALSE(ag.pairs[0].release_pending);
}

/* bond0's RTM_NEWLINK of the capture, with its IFLA_LINKINFO replaced by one
 * that says active slave @active and primary @primary (0: none). */
static const struct nlmsghdr *bond_msg(void *buf, const struct nlmsghdr *orig, int active,
				       int primary)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	const struct ifinfomsg *oi = mnl_nlmsg_get_payload(orig);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	const struct nlattr *a;
	struct nlattr *li, *data;

	nlh->nlmsg_type = RTM_NEWLINK;
	*ifi = *oi;
	mnl_attr_for_each(a, orig, sizeof(*oi)) {
		if (mnl_attr_get_type(a) != IFLA_LINKINFO)
			mnl_attr_put(nlh, a->nla_type, mnl_attr_get_payload_len(a),
				     mnl_attr_get_payload(a));
	}
	li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bond");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u8(nlh, IFLA_BOND_MODE, 1);
	mnl_attr_put_u32(nlh, IFLA_BOND_ACTIVE_SLAVE, (uint32_t)active);
	if (primary)
		mnl_attr_put_u32(nlh, IFLA_BOND_PRIMARY, (uint32_t)primary);
	mnl_attr_put_u8(nlh, IFLA_BOND_ALL_SLAVES_ACTIVE, 1);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, li);
	return nlh;
}

/* A pinned bond is the standby as active slave AND as primary: with no
 * primary (or the VF as primary) the bond reselects the VF on its own (the
 * kernel shim's unplug barrier saw TX flap back to a leaving VF), so such a
 * state is pinned again. */
static void test_bond_pin_primary(void)
{
	struct tg_capture bc;
	uint8_t buf[4096];
	struct hb_msg m;
	const struct hb_msg *hello;
	int pins;

	CU_ASSERT_TRUE(tg_load(&bc, "bond-migrate") >= 4);
	if (bc.n < 4) {
		tg_free(&bc);
		return;
	}
	memset(&fk, 0, sizeof(fk));
	gd_config_defaults(&cfg);
	gd_agent_init(&ag, &cfg, &fake_ops, NULL, HB_CAP_BONDING);
	feed_from(&bc, 0, 3, 1000);             /* lo, eth0 (virtio 2), eth1 (e1000e 3), bond0 4 */
	REQUIRE(gd_agent_pair(&ag, 1));
	CU_ASSERT_EQUAL(ag.pairs[0].l.kind, GD_PAIR_BOND);
	CU_ASSERT_EQUAL(ag.pairs[0].l.standby, 2);
	CU_ASSERT_EQUAL(ag.pairs[0].l.vf, 3);
	gd_agent_channel(&ag, true, 1000);
	hello = last_sent(HB_MSG_HELLO);
	REQUIRE(hello);
	hb_msg_init(&m, HB_MSG_HELLO_ACK, hello->seq);
	m.flags = HB_F_REPLY;
	m.u.hello_ack.ver_min = m.u.hello_ack.ver_max = m.u.hello_ack.ver_use = HB_VERSION_CURRENT;
	m.u.hello_ack.agent = "test-host";
	host_sends(&m, 2000);
	host_prepare(100, HB_PATH_STANDBY, 3000);
	REQUIRE(last_sent(HB_MSG_SWITCH_DONE));
	CU_ASSERT_TRUE(ag.pairs[0].pinned);
	pins = fk.pins;
	CU_ASSERT(pins >= 1);
	/* the kernel: standby active, but no primary: pinned again */
	gd_agent_link_msg(&ag, bond_msg(buf, bc.msgs[3], 2, 0), 4000);
	CU_ASSERT_EQUAL(fk.pins, pins + 1);
	/* the VF as primary: the same */
	gd_agent_link_msg(&ag, bond_msg(buf, bc.msgs[3], 2, 3), 4100);
	CU_ASSERT_EQUAL(fk.pins, pins + 2);
	/* standby active and primary: nothing to do */
	gd_agent_link_msg(&ag, bond_msg(buf, bc.msgs[3], 2, 2), 4200);
	CU_ASSERT_EQUAL(fk.pins, pins + 2);
	/* the bond reselected the VF: pinned again */
	gd_agent_link_msg(&ag, bond_msg(buf, bc.msgs[3], 3, 2), 4300);
	CU_ASSERT_EQUAL(fk.pins, pins + 3);
	tg_free(&bc);
}

static CU_TestInfo tests[] = {
	{ "discovery and HELLO", test_discovery_and_hello },
	{ "prepare, migrate, resume", test_prepare_migrate_resume },
	{ "resume waits for the VF", test_resume_waits_for_vf },
	{ "resume deadline without VF", test_resume_deadline_no_vf },
	{ "requests and errors", test_requests_and_errors },
	{ "standby unusable", test_standby_unusable },
	{ "no session: no pin", test_no_session_no_pin },
	{ "guest.conf bond after the dump", test_conf_bond_after_dump },
	{ "kernel shim: HELLO capability", test_shim_hello_cap },
	{ "kernel shim: VF_LEAVING before VF_VANISHED", test_shim_vf_leaving },
	{ "kernel shim: a leaving VF is not used", test_shim_leaving_vf_not_used },
	{ "kernel shim: unknown master, other events", test_shim_unknown_and_other_events },
	{ "kernel shim: no session", test_shim_no_session },
	{ "kernel shim: a 1.2 host (no VF_LEAVING): released at once", test_shim_old_host },
	{ "kernel shim: RELEASE on PREPARE_SWITCH", test_shim_release_on_prepare },
	{ "kernel shim: RELEASE on a BUSY PREPARE_SWITCH", test_shim_release_on_busy_prepare },
	{ "kernel shim: RELEASE when already switched", test_shim_release_already_switched },
	{ "kernel shim: RELEASE when the session ends", test_shim_release_on_session_end },
	{ "kernel shim: VF vanished, shim unloaded", test_shim_release_vf_vanished },
	{ "kernel shim: RELEASE when the pair goes", test_shim_release_pair_gone },
	{ "bond: pinned means standby active and primary", test_bond_pin_primary },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_SuiteInfo suites[] = {
		{ "guest_agent", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	int rc;

	if (tg_load(&cap, "failover-migrate") < 27)
		return 1;

	rc = hb_cu_run(suites);
	tg_free(&cap);
	return rc;
}
