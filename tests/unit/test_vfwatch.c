// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tests/unit/test_vfwatch.c — the daemon's reaction to a VF that leaves a running VM with
 * no operation in progress (host-agent/vfwatch.c), without QEMU.  The same surroundings as
 * test_migrate.c (tests/unit/hostd_harness.c): the daemon's objects on a real loop, a fake
 * hypervisor (calls recorded, QEMU's events sent by the test), the guest agent played over
 * the guest channel socket, the peer daemon on a unix socket, the sriov-legacy eswitch on
 * the fake sysfs tree.
 * Cases: each trigger (guest VF_LEAVING, VF_VANISHED, STATUS without the VF; QEMU's
 * DEVICE_DELETED of the VF, UNPLUG_PRIMARY) steers RX to the standby once; VF_LEAVING then
 * VF_VANISHED steers once; the VF back: RX to the VF port, then RESUME_FAST_PATH; the
 * guest refuses (NO_VF, STANDBY) or its session drops: RX back to the standby, retried;
 * no reaction while a migration or a drill runs, nor with vf_watch = off; a migration
 * started while the VF is away skips the unplug; status JSON.
 */
#include "tests/unit/cu_run.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "host-agent/hostd/ctl/ctl.h"
#include "host-agent/hostd/ops/drill.h"
#include "host-agent/hostd/hostd.h"
#include "host-agent/hostd/ops/migrate.h"
#include "host-agent/hostd/ops/vfwatch.h"
#include "host-agent/hostd/peer/peer.h"
#include "host-agent/hostd/vm.h"
#include "tests/unit/hostd_harness.h"
#include "host-agent/hostd/sentry/sentry.h"

/* ---- the guest agent: G (hostd_harness.c) and this test's additions ---- */
static struct {
	int resume_no_vf;       /* answer RESUME_FAST_PATH with ERROR NO_VF */
	int resume_standby;     /* answer it with FAST_PATH_UP path STANDBY */
	int rx_at_resume;       /* where the eswitch steered when RESUME_FAST_PATH came */
	int rx_at_prepare;      /* ... and when PREPARE_SWITCH came */
} GW;

static void gw_reset(void)
{
	memset(&GW, 0, sizeof(GW));
	H.vf_query_auto = 1;    /* QEMU shows the VF (the watch asks before every return) */
}

/* Note where RX was steered; answer RESUME_FAST_PATH as told (then 1: G does not). */
static int gw_request(const struct hb_msg *req)
{
	struct hb_msg m;

	if (req->type == HB_MSG_PREPARE_SWITCH)
		GW.rx_at_prepare = V->rx_steer;
	if (req->type != HB_MSG_RESUME_FAST_PATH)
		return 0;
	GW.rx_at_resume = V->rx_steer;
	if (!G.answer_resume || (!GW.resume_no_vf && !GW.resume_standby))
		return 0;
	G.n_resume++;
	if (!GW.resume_no_vf) {
		g_fast_path_up(req, HB_PATH_STANDBY);
		return 1;
	}
	hb_msg_init_reply(&m, HB_MSG_ERROR, req);
	m.u.error.code = HB_ERR_NO_VF;
	m.u.error.text = "no VF appeared before the deadline";
	m.u.error.req_type = HB_MSG_RESUME_FAST_PATH;
	HB_MARK(&m.u.error, ERROR, REQ_TYPE);
	tsend(&G.s, &m);
	return 1;
}

const struct g_hooks g_hooks = { .reset = gw_reset, .request = gw_request };

/* ---- helpers ---- */
static void g_event_on(uint8_t kind, const char *ifname)
{
	struct hb_msg m;

	hb_msg_init(&m, HB_MSG_EVENT, hb_seq_next(&G.s.seq));
	m.u.event.pair_id = PAIR_ID;
	m.u.event.kind = kind;
	m.u.event.ifname = ifname;
	HB_MARK(&m.u.event, EVENT, IFNAME);
	tsend(&G.s, &m);
}

static void g_event(uint8_t kind)
{
	g_event_on(kind, "eth2");
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
	return until_is(wstate, "watch state", s, max_ms);
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
	CU_ASSERT_EQUAL(GW.rx_at_resume, ESW_TO_VF);     /* steered before the request */
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
	CU_ASSERT_EQUAL(GW.rx_at_prepare, ESW_TO_STANDBY);
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
	CU_ASSERT_PTR_NULL(V->op);
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
	GW.resume_no_vf = 1;
	g_vf_back();
	pump(30);
	CU_ASSERT_EQUAL(G.n_resume, 1);
	CU_ASSERT_EQUAL(GW.rx_at_resume, ESW_TO_VF);
	CU_ASSERT_STRING_EQUAL(wstate(), "vf_away");
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	CU_ASSERT_EQUAL(V->cnt.steer_standby, 2);
	CU_ASSERT_EQUAL(V->vfw->resume_failures, 1);
	/* the guest's STATUS that follows does not make it ask again at once (back-off) */
	g_status(NULL);
	pump(20);
	CU_ASSERT_EQUAL(G.n_resume, 1);
	/* then FAST_PATH_UP path STANDBY: the same */
	GW.resume_no_vf = 0;
	GW.resume_standby = 1;
	for (t = 0; t < 5000 && V->vfw->resume_failures < 2; t += 10)
		pump(10);
	CU_ASSERT_EQUAL(V->vfw->resume_failures, 2);
	CU_ASSERT_EQUAL(G.n_resume, 2);
	CU_ASSERT_STRING_EQUAL(wstate(), "vf_away");
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	CU_ASSERT_EQUAL(V->cnt.steer_standby, 3);
	/* RETURNING: a drill or migration would fight the outstanding RESUME_FAST_PATH */
	GW.resume_standby = 0;
	G.answer_resume = 0;            /* the next request stays unanswered for a while */
	CU_ASSERT_EQUAL(until_w("returning", 5000), 0);
	{
		struct drill_req rq = { .kind = DRILL_KIND_DRILL, .cycles = 1 };

		CU_ASSERT_EQUAL(drill_start(V, &rq, NULL, err, sizeof(err)), -EBUSY);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "unannounced"));
		CU_ASSERT_EQUAL(mig_start_source(V, "B", 0, NULL, err, sizeof(err)), -EBUSY);
		CU_ASSERT_PTR_NULL(V->op);      /* neither a migration nor a drill */
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
	CU_ASSERT_EQUAL(V->vfw->losses, 0);
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
	CU_ASSERT_PTR_NOT_NULL_FATAL(V->op);
	CU_ASSERT_STRING_EQUAL(V->op ? V->op->ops->what : "", "drill or snapshot");
	sb = V->cnt.steer_standby;
	hv_event(HV_EV_DEVICE_DELETED, "vf0");
	g_event(HB_EV_VF_LEAVING);
	g_vf_vanished();
	pump(20);
	CU_ASSERT_STRING_EQUAL(wstate(), "idle");
	CU_ASSERT_EQUAL(V->cnt.steer_standby, sb);
	CU_ASSERT_EQUAL(V->vfw->losses, 0);
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

/* The guest's word alone never steers RX to a VF: a guest that reports its VF up while
 * QEMU shows no VF device stays on the standby; once QEMU shows it, back. */
static void test_needs_hypervisor(void)
{
	json_t *o;

	setup(VM_MODE_FAILOVER, 1);
	g_vf_vanished();
	pump(20);
	expect_away("vf_vanished");
	H.vf_query_auto = 2;                    /* the operator gave the VF to another VM */
	g_vf_back();
	pump(300);
	CU_ASSERT_STRING_EQUAL(wstate(), "vf_away");
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	CU_ASSERT_EQUAL(V->cnt.steer_vf, 0);
	CU_ASSERT_EQUAL(G.n_resume, 0);
	CU_ASSERT_TRUE(called("query-pci") >= 1);
	o = vm_to_json(V);
	CU_ASSERT_TRUE(json_integer_value(json_object_get(json_object_get(o, "vf_watch"),
							  "no_vf_in_vm")) >= 1);
	json_decref(o);
	H.vf_query_auto = 1;                    /* a VF is in the VM again */
	g_status(NULL);
	CU_ASSERT_EQUAL(until_w("idle", 5000), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_VF);
	CU_ASSERT_EQUAL(V->cnt.steer_vf, 1);
	teardown();
}

/* A guest flapping its VF (vanished, up, vanished, ...) as fast as it can: the first
 * loss returns at once, then each return waits a doubling hold-down; the PF's MAC table
 * is written a handful of times, not on every flap. */
static void test_flapping(void)
{
	unsigned t, i, most = 1;
	uint64_t t0, elapsed_ms;

	setup(VM_MODE_FAILOVER, 1);
	t0 = loop_now_ms();
	for (t = 0; t < 3000; t += 30) {
		g_vf_vanished();
		pump(10);
		g_vf_back();
		pump(20);
	}
	/* ~100 flaps: returns at 0, then after holds of 1, 2, 4, 8 s (0, 1, 3, 7, 15 s in),
	 * however long the pumping took (valgrind: longer than 3 s) */
	elapsed_ms = loop_now_ms() - t0;
	while (((1ull << most) - 1) * 1000u <= elapsed_ms)
		most++;
	CU_ASSERT_TRUE(V->cnt.steer_vf >= 2);
	CU_ASSERT_TRUE(V->cnt.steer_vf <= most);
	CU_ASSERT_TRUE(V->vfw->flaps >= 2);
	/* calm again: it comes back, and a loss long after is a first loss again */
	g_vf_back();
	CU_ASSERT_EQUAL(until_w("idle", 10000), 0);
	i = V->cnt.steer_vf;
	V->vfw->t_returned_ms -= 20000;         /* the fast path held 20 s */
	g_vf_vanished();
	pump(20);
	g_vf_back();
	CU_ASSERT_EQUAL(until_w("idle", 500), 0);
	CU_ASSERT_EQUAL(V->cnt.steer_vf, i + 1);
	CU_ASSERT_EQUAL(V->vfw->flaps, 0);
	teardown();
}

/* A guest's interface names reach logs and status escaped: no control characters. */
static void test_names_escaped(void)
{
	setup(VM_MODE_FAILOVER, 1);
	g_event_on(HB_EV_VF_APPEARED, "e\x1b[2J\nx\"");
	pump(20);
	CU_ASSERT_STRING_EQUAL(V->pair.vf, "e\\x1b[2J\\x0ax\\x22");
	teardown();
}

static CU_TestInfo tests[] = {
	{ "a guest's interface names are kept escaped", test_names_escaped },
	{ "the guest's word alone: no VF in QEMU, no steer to the VF", test_needs_hypervisor },
	{ "a flapping VF: hold-down doubling, few MAC writes", test_flapping },
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

int main(int argc, char **argv)
{
	CU_SuiteInfo suites[] = {
		{ "vfwatch", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	/* the harness's guest sentry is this binary re-executed (hostd_harness.c) */
	if (argc > 1 && !strcmp(argv[1], SENTRY_ARG))
		return sentry_main(argc - 2, argv + 2);
	return hb_cu_run(suites);
}
