// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tests/unit/test_hostd_drill.c — the drill/snapshot state machine's pure parts:
 * the plan (which phase follows which, per kind, guest mode, --unplug and
 * cycle), the phase names the journal stores, the attribution of the probe's
 * outages to windows, the snapshot file checks and URIs, and which backend saves
 * through its own API.  The daemon's own main (hostd.c) is replaced by the few
 * stubs below.
 */
#include "tests/unit/cu_run.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "host-agent/hostd/ops/drill.h"
#include "host-agent/hostd/hostd.h"
#include "host-agent/hostd/ops/snapshot.h"

/* hlog: tests/unit/hlog_stub.c; the VM table: the daemon's registry.c */

/* Walk the plan from PREFLIGHT to DONE; the RESUME -> next-cycle step bumps the cycle
 * the way drill.c does after its dwell. */
static int walk(struct drill_plan p, enum drill_phase *out, int max)
{
	enum drill_phase ph = DRILL_PREFLIGHT;
	int n = 0;

	while (n < max) {
		out[n++] = ph;
		if (ph == DRILL_DONE)
			break;
		if (ph == DRILL_RESUME && p.kind == DRILL_KIND_DRILL && p.cycle < p.cycles) {
			p.cycle++;
			ph = DRILL_STEER_STANDBY;
			continue;
		}
		ph = drill_next(&p, ph);
	}
	return n;
}

static void expect(struct drill_plan p, const enum drill_phase *want, int n_want)
{
	enum drill_phase got[64];
	int n = walk(p, got, 64), i;

	CU_ASSERT_EQUAL(n, n_want);
	for (i = 0; i < n && i < n_want; i++) {
		if (got[i] != want[i])
			(void)fprintf(stderr, "step %d: got %s want %s\n", i, drill_phase_name(got[i]),
				      drill_phase_name(want[i]));
		CU_ASSERT_EQUAL(got[i], want[i]);
	}
}

static void test_plan_drill(void)
{
	static const enum drill_phase plain[] = {
		DRILL_PREFLIGHT, DRILL_PROBE_START, DRILL_STEER_STANDBY, DRILL_SWITCH_TX,
		DRILL_ON_STANDBY, DRILL_WAIT_VF, DRILL_STEER_VF, DRILL_RESUME,
		DRILL_STEER_STANDBY, DRILL_SWITCH_TX, DRILL_ON_STANDBY, DRILL_WAIT_VF,
		DRILL_STEER_VF, DRILL_RESUME, DRILL_SETTLE, DRILL_REPORT, DRILL_DONE };
	static const enum drill_phase unplug_noprobe[] = {
		DRILL_PREFLIGHT, DRILL_STEER_STANDBY, DRILL_SWITCH_TX, DRILL_ON_STANDBY,
		DRILL_UNPLUG_VF, DRILL_REPLUG_VF, DRILL_WAIT_VF, DRILL_STEER_VF, DRILL_RESUME,
		DRILL_DONE };

	expect((struct drill_plan){ .kind = DRILL_KIND_DRILL, .probe = 1, .cycle = 1, .cycles = 2,
				    .qemu_primary = 1 }, plain, (int)(sizeof(plain) / sizeof(plain[0])));
	expect((struct drill_plan){ .kind = DRILL_KIND_DRILL, .bond = 1, .unplug = 1, .cycle = 1,
				    .cycles = 1 }, unplug_noprobe,
	       (int)(sizeof(unplug_noprobe) / sizeof(unplug_noprobe[0])));
}

static void test_plan_snapshot(void)
{
	/* failover primary owned by QEMU: QEMU unplugs it at SAVE, no device_del */
	static const enum drill_phase fo[] = {
		DRILL_PREFLIGHT, DRILL_PROBE_START, DRILL_STEER_STANDBY, DRILL_SWITCH_TX,
		DRILL_ON_STANDBY, DRILL_SAVE, DRILL_CONT, DRILL_REPLUG_VF, DRILL_WAIT_VF,
		DRILL_STEER_VF, DRILL_RESUME, DRILL_SETTLE, DRILL_REPORT, DRILL_DONE };
	/* bond, or a failover VM whose VF is a re-plugged plain device: device_del first */
	static const enum drill_phase bond[] = {
		DRILL_PREFLIGHT, DRILL_STEER_STANDBY, DRILL_SWITCH_TX, DRILL_ON_STANDBY,
		DRILL_UNPLUG_VF, DRILL_SAVE, DRILL_CONT, DRILL_REPLUG_VF, DRILL_WAIT_VF,
		DRILL_STEER_VF, DRILL_RESUME, DRILL_DONE };

	expect((struct drill_plan){ .kind = DRILL_KIND_SNAPSHOT, .probe = 1, .qemu_primary = 1,
				    .cycle = 1, .cycles = 1 }, fo, (int)(sizeof(fo) / sizeof(fo[0])));
	expect((struct drill_plan){ .kind = DRILL_KIND_SNAPSHOT, .bond = 1, .cycle = 1, .cycles = 1 },
	       bond, (int)(sizeof(bond) / sizeof(bond[0])));
	expect((struct drill_plan){ .kind = DRILL_KIND_SNAPSHOT, .qemu_primary = 0, .cycle = 1,
				    .cycles = 1 }, bond, (int)(sizeof(bond) / sizeof(bond[0])));
}

static void test_plan_rollback(void)
{
	struct drill_plan p = { .kind = DRILL_KIND_DRILL, .cycle = 1, .cycles = 1 };

	CU_ASSERT_EQUAL(drill_next(&p, DRILL_ROLLBACK), DRILL_RB_REPLUG);
	CU_ASSERT_EQUAL(drill_next(&p, DRILL_RB_REPLUG), DRILL_RB_WAIT_VF);
	CU_ASSERT_EQUAL(drill_next(&p, DRILL_RB_WAIT_VF), DRILL_RB_STEER_VF);
	CU_ASSERT_EQUAL(drill_next(&p, DRILL_RB_STEER_VF), DRILL_RB_RESUME);
	CU_ASSERT_EQUAL(drill_next(&p, DRILL_RB_RESUME), DRILL_FAILED);
	CU_ASSERT_EQUAL(drill_next(&p, DRILL_FAILED), DRILL_FAILED);
}

static void test_names(void)
{
	int i;

	for (i = 0; i < DRILL_N_PHASES; i++)
		CU_ASSERT_EQUAL(drill_phase_from_name(drill_phase_name((enum drill_phase)i)), i);
	CU_ASSERT_EQUAL(drill_phase_from_name("S_MIGRATING"), -1);
	CU_ASSERT_STRING_EQUAL(drill_phase_name(DRILL_N_PHASES), "?");
	CU_ASSERT_STRING_EQUAL(drill_phase_name(DRILL_STEER_STANDBY), "STEER_STANDBY");
}

static void test_attribute(void)
{
	/* windows at t=100.0 (to_standby), 100.05 (on_standby), 101.0 (back_to_vf) */
	const struct drill_win w[] = { { 1, "to_standby", 100.0 }, { 1, "on_standby", 100.05 },
				       { 1, "back_to_vf", 101.0 } };
	json_t *probe = json_loads(
		"{\"outages\": ["
		"{\"start_realtime\": 99.5, \"duration_ms\": 3.0, \"lost\": 3, \"lost_to_guest\": 3, \"lost_from_guest\": 0},"
		"{\"start_realtime\": 100.2, \"duration_ms\": 12.5, \"lost\": 12, \"lost_to_guest\": 5, \"lost_from_guest\": 7},"
		"{\"start_realtime\": 100.6, \"duration_ms\": 2.0, \"lost\": 2, \"lost_to_guest\": 2, \"lost_from_guest\": 0},"
		"{\"start_realtime\": 101.0, \"duration_ms\": 1.0, \"lost\": 1, \"lost_to_guest\": 0, \"lost_from_guest\": 1}"
		"]}", 0, NULL);
	json_t *a, *ws, *b;

	CU_ASSERT_PTR_NOT_NULL_FATAL(probe);
	a = drill_attribute(probe, w, 3);
	ws = json_object_get(a, "windows");
	CU_ASSERT_EQUAL(json_array_size(ws), 3);
	b = json_object_get(a, "before");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(b, "lost_to_guest")), 3);
	b = json_array_get(ws, 0);      /* to_standby: nothing */
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(b, "lost")), 0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(b, "outages")), 0);
	b = json_array_get(ws, 1);      /* on_standby: two outages */
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(b, "outages")), 2);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(b, "lost_to_guest")), 7);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(b, "lost_from_guest")), 7);
	CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(b, "outage_ms")), 14.5, 0.01);
	CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(b, "longest_outage_ms")), 12.5, 0.01);
	CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(b, "start_ms")), 50.0, 0.01);
	b = json_array_get(ws, 2);      /* at exactly the window's start: that window */
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(b, "lost_from_guest")), 1);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(b, "phase")), "back_to_vf");
	json_decref(a);
	/* no outages at all, no windows */
	a = drill_attribute(json_object_get(probe, "nothing"), NULL, 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(a, "windows")), 0);
	json_decref(a);
	json_decref(probe);
}

static void test_snapshot_file(void)
{
	char err[256], uri[300], dir[] = "/tmp/hbdrill-XXXXXX", path[300];
	FILE *f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/vm1.state", dir);
	CU_ASSERT_EQUAL(snap_check_file(path, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(snap_check_file("rel/x", err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(snap_check_file("/tmp/x;rm -rf /", err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/bin/sh"));
	CU_ASSERT_EQUAL(snap_check_file("/tmp/$(id)", err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(snap_check_file("/tmp/../etc/x", err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(snap_check_file("/tmp/", err, sizeof(err)), -EISDIR);
	CU_ASSERT_EQUAL(snap_check_file("", err, sizeof(err)), -EINVAL);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	(void)fclose(f);
	CU_ASSERT_EQUAL(snap_check_file(path, err, sizeof(err)), -EEXIST);
	(void)unlink(path);
	(void)rmdir(dir);
	CU_ASSERT_EQUAL(snap_save_uri("/a/b", uri, sizeof(uri)), 0);
	CU_ASSERT_STRING_EQUAL(uri, "exec:cat > /a/b");
	CU_ASSERT_EQUAL(snap_restore_uri("/a/b", uri, sizeof(uri)), 0);
	CU_ASSERT_STRING_EQUAL(uri, "exec:cat /a/b");
	CU_ASSERT_EQUAL(snap_save_uri("/a/b", uri, 8), -ENAMETOOLONG);
}

/* SAVE and REPLUG_VF pick the backend's way: QMP writes QEMU's stream itself
 * (migrate "exec:cat > FILE", then "exec:false"), libvirt saves through its own
 * snapshot API and re-plugs through its QMP passthrough.  A file snap_check_file
 * accepts needs no escaping in libvirt's snapshot XML either. */
static void test_snapshot_backends(void)
{
	char err[256];

	CU_ASSERT_PTR_NULL(hv_qmp_ops.snapshot_save);
	CU_ASSERT_PTR_NULL(hv_qmp_ops.failover_replug);
	CU_ASSERT_PTR_NOT_NULL(hv_libvirt_ops.snapshot_save);
	CU_ASSERT_PTR_NOT_NULL(hv_libvirt_ops.failover_replug);
	CU_ASSERT_EQUAL(snap_check_file("/tmp/a'b", err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(snap_check_file("/tmp/a&b", err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(snap_check_file("/tmp/a<b", err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(snap_check_file("/tmp/a\"b", err, sizeof(err)), -EINVAL);
}

static CU_TestInfo tests[] = {
	{ "plan: drill, 2 cycles with probe; bond --unplug without", test_plan_drill },
	{ "plan: snapshot failover (QEMU's primary) and bond", test_plan_snapshot },
	{ "plan: rollback ends FAILED on the fast path", test_plan_rollback },
	{ "phase names round trip (journal)", test_names },
	{ "probe outages attributed to windows", test_attribute },
	{ "snapshot: file checks and URIs", test_snapshot_file },
	{ "snapshot: QMP writes the stream, libvirt uses its API", test_snapshot_backends },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_SuiteInfo suites[] = {
		{ "hostd_drill", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return hb_cu_run(suites);
}
