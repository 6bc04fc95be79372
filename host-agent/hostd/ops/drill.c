// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/ops/drill.c — drill and snapshot: the switch steps on ONE host, as an
 * explicit state machine (same steps and order as migrate.c's source side and
 * tests/lab/agent_switch.py's proven cycle).  The order (docs/host-agent.md):
 *
 *  PREFLIGHT      agent session, standby with link+carrier, VF up, eswitch ports
 *  PROBE_START    hybond-probe (udp to the guest's echo responder, or icmp) in
 *                 the given netns; a clean stretch before the first step
 *  per cycle:
 *  STEER_STANDBY  RX: the MAC's entry VF port -> standby port (one atomic replace)
 *  SWITCH_TX      PREPARE_SWITCH -> SWITCH_DONE: guest TX pinned to the standby
 *  ON_STANDBY     dwell on the standby (drill), so outages fall into one window
 *  UNPLUG_VF      drill --unplug, snapshot of a bond (or a re-plugged plain VF):
 *                 device_del, DEVICE_DELETED
 *  SAVE           snapshot: migrate "exec:cat > FILE" (failover: QEMU unplugs its
 *                 primary itself); MIGRATION completed -> paused (postmigrate).
 *                 libvirt: the backend's snapshot_save (an external memory snapshot,
 *                 live: libvirt pauses for the last copy and resumes) -> its answer
 *  CONT           snapshot: cont -> RESUME (frames waited in the standby tap);
 *                 libvirt resumed it already: only checked
 *  REPLUG_VF      device_add with a fresh id (plain e1000e: QEMU 7.2 refuses the
 *                 old id and a second primary) or, for a failover primary QEMU
 *                 hid at SAVE, a migration that fails at once (snapshot.h)
 *  WAIT_VF        until the GUEST reports the VF up (never steer before)
 *  STEER_VF       RX: the MAC's entry -> VF port, RESUME_FAST_PATH sent
 *  RESUME         -> FAST_PATH_UP; next cycle after a dwell
 *                 (WAIT_VF..RESUME and RB_WAIT_VF..RB_RESUME: fastpath.c)
 *  SETTLE         a quiet stretch, then the probe is stopped (SIGINT)
 *  REPORT         the probe's JSON; outages attributed to each cycle's windows
 *                 (to_standby, on_standby, [paused], back_to_vf)
 *  DONE
 * Failure: ROLLBACK (cont if paused) -> RB_REPLUG (VF gone) -> RB_WAIT_VF ->
 * RB_STEER_VF -> RB_RESUME -> FAILED: the VM ends on the fast path whenever
 * the guest brings its VF up.  Every phase is journalled (VM.drill.json /
 * VM.snapshot.json) before its action; the final record stays as the "last
 * operation" (phase DONE/FAILED with the figures), and a daemon that finds an
 * unfinished one at start rolls it back to the fast path.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host-agent/common/child.h"
#include "host-agent/hostd/esw/announce.h"
#include "host-agent/hostd/vm.h"
#include "drill.h"
#include "fastpath.h"
#include "snapshot.h"
#include "steps.h"
#include "vfwatch.h"

#define DRILL_PROBE_LEAD_MS      1000u  /* clean stretch before the first step */
#define DRILL_DWELL_MS           1000u  /* on the standby, and after FAST_PATH_UP */
#define DRILL_SETTLE_MS          1000u  /* after the last step, before SIGINT */
#define DRILL_PROBE_GRACE_MS     1000u  /* late replies still count as delayed */
#define DRILL_PROBE_MAX_S        3600u  /* the probe's --duration: we stop it */
#define DRILL_REPORT_TIMEOUT_MS 10000u  /* SIGINT -> JSON on stdout */
#define DRILL_UNPLUG_TIMEOUT_MS 30000u
#define DRILL_SAVE_TIMEOUT_MS  300000u
#define DRILL_RECOVER_WAIT_MS   20000u  /* agent session after a restart */
#define DRILL_PROBE_OUT_MAX   (1u << 20)
#define DRILL_MAX_WINDOWS     ((size_t)DRILL_MAX_CYCLES * 4u)

/* ---- the operation ---------------------------------------------------------- */
static const struct op_ops drill_op_ops;

struct drill {
	struct vm_op base;              /* first: v->op while it runs */
	struct vm *v;
	struct drill_req rq;
	struct drill_plan plan;
	enum drill_phase phase;
	struct op_sink sink;            /* who started it: progress and the result */
	struct op_errors errs;          /* every failure, in order (err: the first) */
	struct loop_timer *timer;
	struct fastpath fp;             /* WAIT_VF..RESUME, RB_WAIT_VF..RB_RESUME */
	uint64_t t0;                    /* monotonic ms */
	/* facts for the rollback (journalled in extra) */
	int steered_standby, switched, vf_out, primary_hidden, paused, save_sent;
	int fast_up, recovering;
	int hv_save;                    /* SAVE through the backend's snapshot_save (libvirt) */
	int hv_save_pending;            /* ... and its answer has not come yet */
	/* the timeline: per step, realtime (for the probe) */
	struct drill_win win[DRILL_MAX_WINDOWS];
	size_t n_win;
	json_t *timeline;               /* [{cycle, phase, t_ms}] */
	/* the probe */
	struct child *prober;           /* hybond-probe while it runs */
	json_t *probe;                  /* its JSON result */
	/* snapshot figures */
	struct qmp_migrate_info info;
	uint64_t t_pause_rt, t_resume_rt;
	char err[512];
	struct jrnl_op op;
};

/* The VM's drill or snapshot, if the operation it runs is one. */
static struct drill *drill_of(const struct vm *v)
{
	return v->op && v->op->ops == &drill_op_ops ? (struct drill *)v->op : NULL;
}

static void drill_enter(struct drill *x, enum drill_phase p);
static const struct fastpath_ops drill_fastpath_ops;
static void drill_fail(struct drill *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void drill_fail_rc(struct drill *x, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void drill_err_more(struct drill *x, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static const char *kind_name(const struct drill *x)
{
	return x->rq.kind == DRILL_KIND_SNAPSHOT ? "snapshot" : "drill";
}

static uint64_t since_ms(const struct drill *x)
{
	return loop_now_ms() - x->t0;
}

static void add_window_at(struct drill *x, const char *phase, uint64_t rt_ms)
{
	if (x->n_win >= DRILL_MAX_WINDOWS)
		return;
	x->win[x->n_win].cycle = x->plan.cycle;
	x->win[x->n_win].phase = phase;
	x->win[x->n_win].start_s = (double)rt_ms / 1e3;
	x->n_win++;
}

static void add_window(struct drill *x, const char *phase)
{
	add_window_at(x, phase, hv_realtime_ms());
}

/* ---- journal ------------------------------------------------------------------ */
static json_t *facts_json(const struct drill *x)
{
	return json_pack("{s:i, s:i, s:b, s:s, s:s, s:i, s:b, s:b, s:b, s:b, s:b}",
			 "cycle", (int)x->plan.cycle, "cycles", (int)x->plan.cycles,
			 "unplug", x->rq.unplug, "file", x->rq.file, "vf_id", x->v->vf_id,
			 "vf_seq", (int)x->v->vf_seq, "vf_out", x->vf_out,
			 "primary_hidden", x->primary_hidden, "paused", x->paused,
			 "steered_standby", x->steered_standby, "switched", x->switched);
}

static void drill_journal(struct drill *x, json_t *result)
{
	struct vm *v = x->v;
	int rc;

	if (!v->d->j) {
		json_decref(result);
		return;
	}
	(void)snprintf(x->op.phase, sizeof(x->op.phase), "%s", drill_phase_name(x->phase));
	json_decref(x->op.extra);
	x->op.extra = facts_json(x);
	if (result)
		(void)json_object_set_new(x->op.extra, "result", result);
	rc = jrnl_write(v->d->j, &x->op);
	if (rc)
		hlog(HLOG_WARN, "vm %s: journal write (%s %s): %s", v->cfg.name, kind_name(x),
		     x->op.phase, strerror(-rc));
}

static void drill_journal_init(struct drill *x)
{
	struct vm *v = x->v;

	jrnl_op_init(&x->op);
	(void)snprintf(x->op.vm, sizeof(x->op.vm), "%s", v->cfg.name);
	x->op.kind = x->rq.kind == DRILL_KIND_SNAPSHOT ? JRNL_SNAPSHOT : JRNL_DRILL;
	x->op.started_ms = (int64_t)hv_realtime_ms();
	(void)snprintf(x->op.source, sizeof(x->op.source), "%.63s", v->d->cfg.host);
	(void)snprintf(x->op.mac, sizeof(x->op.mac), "%s", v->cfg.mac);
	(void)snprintf(x->op.vf_src, sizeof(x->op.vf_src), "%s", v->cfg.vf_port);
	(void)snprintf(x->op.standby_src, sizeof(x->op.standby_src), "%s", v->cfg.standby_port);
	x->op.pair_id = v->pair.id;
	x->op.steer_src = JRNL_STEER_VF;
	x->op.steer_dst = JRNL_STEER_UNKNOWN;
}

/* ---- reporting ------------------------------------------------------------------ */
static void drill_report(struct drill *x, json_t *progress)
{
	if (!op_sink_listens(&x->sink)) {
		json_decref(progress);
		return;
	}
	(void)json_object_set_new(progress, "op", json_string(kind_name(x)));
	(void)json_object_set_new(progress, "phase", json_string(drill_phase_name(x->phase)));
	(void)json_object_set_new(progress, "cycle", json_integer(x->plan.cycle));
	(void)json_object_set_new(progress, "t_ms", json_integer((json_int_t)since_ms(x)));
	op_progress(&x->sink, json_pack("{s:o}", "progress", progress));
}

json_t *drill_to_json(const struct vm *v)
{
	const struct drill *x = drill_of(v);

	if (!x)
		return json_null();
	return json_pack("{s:s, s:s, s:i, s:i, s:I}", "op", kind_name(x), "phase",
			 drill_phase_name(x->phase), "cycle", (int)x->plan.cycle, "cycles",
			 (int)x->plan.cycles, "t_ms", (json_int_t)since_ms(x));
}

/* The result: full (to the CLI) or short (status, the journal's last record). */
static json_t *drill_result(struct drill *x, int ok, int full)
{
	struct vm *v = x->v;
	json_t *o = json_pack("{s:b, s:s, s:s, s:s, s:s, s:I, s:I, s:i, s:i, s:b}", "ok", ok,
			      "op", kind_name(x), "vm", v->cfg.name, "mode", vm_mode_name(v->cfg.mode),
			      "host", v->d->cfg.host, "started_ms", (json_int_t)x->op.started_ms,
			      "total_ms", (json_int_t)since_ms(x), "cycles", (int)x->plan.cycles,
			      "cycles_done", (int)(x->phase == DRILL_DONE ? x->plan.cycles :
						   x->plan.cycle - 1), "unplug", x->rq.unplug);

	if (!ok || x->err[0])
		(void)json_object_set_new(o, "error", json_string(x->err));
	op_errors_json(&x->errs, o);
	(void)json_object_set_new(o, "final_phase", json_string(drill_phase_name(x->phase)));
	if (x->probe) {
		json_t *att = drill_attribute(x->probe, x->win, x->n_win);
		json_t *pp = drill_per_phase(att), *rtt = json_object_get(x->probe, "rtt_ms");
		json_t *ts = json_object_get(pp, "to_standby"), *bv = json_object_get(pp, "back_to_vf");

		(void)json_object_set_new(o, "probe", json_pack(
			"{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:O, s:O}", "kind", x->rq.probe_kind,
			"target", x->rq.probe_target, "rate_pps", (json_int_t)x->rq.rate_pps,
			"sent", json_integer_value(json_object_get(x->probe, "sent")),
			"received", json_integer_value(json_object_get(x->probe, "received")),
			"lost_to_guest", json_integer_value(json_object_get(x->probe, "lost_to_guest")),
			"lost_from_guest", json_integer_value(json_object_get(x->probe, "lost_from_guest")),
			"lost_total", json_integer_value(json_object_get(x->probe, "lost_total")),
			"longest_outage_ms", json_object_get(x->probe, "longest_outage_ms") ?
			json_object_get(x->probe, "longest_outage_ms") : json_null(),
			"rtt_max_ms", json_object_get(rtt, "max") ? json_object_get(rtt, "max") : json_null()));
		(void)json_object_set_new(o, "switch_lost", json_integer(
			json_integer_value(json_object_get(ts, "lost")) +
			json_integer_value(json_object_get(bv, "lost"))));
		(void)json_object_set_new(o, "phases", pp);
		if (full) {
			(void)json_object_set(o, "windows", json_object_get(att, "windows"));
			(void)json_object_set(o, "before", json_object_get(att, "before"));
		}
		json_decref(att);
	}
	if (x->rq.kind == DRILL_KIND_SNAPSHOT) {
		struct stat st;
		json_t *s = json_pack("{s:s}", "file", x->rq.file);

		if (stat(x->rq.file, &st) == 0)
			(void)json_object_set_new(s, "bytes", json_integer((json_int_t)st.st_size));
		if (x->info.downtime_ms >= 0)
			(void)json_object_set_new(s, "qemu_downtime_ms", json_integer(x->info.downtime_ms));
		if (x->info.total_time_ms >= 0)
			(void)json_object_set_new(s, "qemu_total_ms", json_integer(x->info.total_time_ms));
		if (x->t_pause_rt && x->t_resume_rt > x->t_pause_rt)
			(void)json_object_set_new(s, "paused_ms",
						  json_integer((json_int_t)(x->t_resume_rt - x->t_pause_rt)));
		if (x->hv_save) {       /* libvirt's save image: restored by libvirt */
			char how[300];

			(void)snprintf(how, sizeof(how), "virsh restore %s", x->rq.file);
			(void)json_object_set_new(s, "saved_by", json_string(v->hvo->kind));
			(void)json_object_set_new(s, "restore", json_string(how));
		}
		(void)json_object_set_new(o, "snapshot", s);
	}
	if (full && x->timeline)
		(void)json_object_set(o, "timeline", x->timeline);
	return o;
}

/* ---- the probe: hybond-probe as a child, in the requested netns ------------------ */
static void probe_path(char *buf, size_t len)
{
	char self[512];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = 0;
		(void)snprintf(buf, len, "%s/hybond-probe", dirname(self));
		if (access(buf, X_OK) == 0)
			return;
	}
	(void)snprintf(buf, len, "hybond-probe");      /* $PATH */
}

static void probe_ended(void *arg, const char *out, size_t len, int status);

static int probe_start(struct drill *x)
{
	char path[600], ns[128], rate[16], dur[16], grace[16];
	char *argv[] = { path, x->rq.probe_kind, "--target", x->rq.probe_target, "--rate", rate,
			 "--duration", dur, "--grace-ms", grace, "-j", "-q", NULL };
	struct child_spec cs = { .argv = argv, .stderr_null = 1, .kill_on_free = 1,
				 .out_max = DRILL_PROBE_OUT_MAX };
	int rc;

	probe_path(path, sizeof(path));
	(void)snprintf(rate, sizeof(rate), "%u", x->rq.rate_pps);
	(void)snprintf(dur, sizeof(dur), "%u", DRILL_PROBE_MAX_S);
	(void)snprintf(grace, sizeof(grace), "%u", DRILL_PROBE_GRACE_MS);
	if (x->rq.probe_netns[0]) {
		(void)snprintf(ns, sizeof(ns), "/run/netns/%s", x->rq.probe_netns);
		cs.netns = ns;
	}
	x->prober = child_spawn(x->v->d->l, &cs, probe_ended, x, &rc);
	return x->prober ? 0 : rc;
}

static void probe_close(struct drill *x)
{
	child_free(x->prober);          /* killed and reaped: our own child */
	x->prober = NULL;
}

/* stdout closed: the probe finished (after our SIGINT) or died */
static void probe_ended(void *arg, const char *out, size_t len, int status)
{
	struct drill *x = arg;

	(void)len;
	x->prober = NULL;
	json_decref(x->probe);
	x->probe = json_loads(out, 0, NULL);
	if (!json_is_object(x->probe)) {
		json_decref(x->probe);
		x->probe = NULL;
		hlog(HLOG_WARN, "vm %s: %s: hybond-probe ended without a result (status %d)",
		     x->v->cfg.name, kind_name(x), status);
	}
	if (x->phase == DRILL_REPORT)
		drill_enter(x, DRILL_DONE);
	else if (x->phase < DRILL_SETTLE)
		hlog(HLOG_WARN, "vm %s: %s: hybond-probe exited early (no loss figures)",
		     x->v->cfg.name, kind_name(x));
}

/* ---- life ------------------------------------------------------------------------ */
static void drill_timeout(void *arg);

static struct drill *drill_new(struct vm *v, const struct drill_req *rq)
{
	struct drill *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->v = v;
	x->rq = *rq;
	x->t0 = loop_now_ms();
	x->info.downtime_ms = x->info.total_time_ms = -1;
	x->timeline = json_array();
	x->plan.kind = rq->kind;
	x->plan.bond = v->cfg.mode == VM_MODE_BOND;
	x->plan.unplug = rq->unplug;
	x->plan.qemu_primary = !x->plan.bond && !strcmp(v->vf_id, v->cfg.vf_id);
	x->plan.probe = rq->probe_target[0] != 0;
	x->plan.cycle = 1;
	x->plan.cycles = rq->kind == DRILL_KIND_SNAPSHOT ? 1 : rq->cycles;
	x->timer = loop_timer_new(v->d->l, drill_timeout, x);
	fastpath_init(&x->fp, v, &drill_fastpath_ops, x, NULL, &x->op.steer_src);
	if (!x->timer) {
		json_decref(x->timeline);
		free(x);
		return NULL;
	}
	x->base.ops = &drill_op_ops;
	vm_op_begin(v, &x->base);
	return x;
}

void drill_free(struct vm *v)
{
	struct drill *x = drill_of(v);

	if (!x)
		return;
	vm_op_end(v, &x->base);
	loop_timer_free(x->timer);
	probe_close(x);
	json_decref(x->probe);
	json_decref(x->timeline);
	jrnl_op_clear(&x->op);
	op_errors_clear(&x->errs);
	free(x);
}

/* Over: the last record stays in the journal, the CLI gets the figures. */
static void drill_end(struct drill *x, int ok)
{
	struct vm *v = x->v;

	if (x->rq.kind == DRILL_KIND_SNAPSHOT) {
		v->cnt.snapshots++;
		v->cnt.snapshots_failed += !ok;
	} else {
		v->cnt.drills++;
		v->cnt.drills_failed += !ok;
	}
	vm_set_last_op(v, drill_result(x, ok, 0));
	drill_journal(x, json_incref(v->last_op));
	op_finish(&x->sink, ok, drill_result(x, ok, 1));
	hlog(ok ? HLOG_INFO : HLOG_WARN, "vm %s: %s %s after %llu ms%s%s", v->cfg.name,
	     kind_name(x), ok ? "done" : "failed", (unsigned long long)since_ms(x),
	     x->err[0] ? ": " : "", x->err);
	drill_free(v);
}

/* ---- hypervisor answers ---------------------------------------------------------- */
static void hv_done(void *arg, const struct hv_result *r)
{
	struct vm *v = arg;
	struct drill *x = drill_of(v);

	if (!x || !r->err)
		return;
	switch (x->phase) {
	case DRILL_UNPLUG_VF:
	case DRILL_SAVE:
		drill_fail(x, "QEMU refused (%s): %s", drill_phase_name(x->phase), r->msg);
		break;
	default:
		hlog(HLOG_WARN, "vm %s: %s %s: QEMU: %s", v->cfg.name, kind_name(x),
		     drill_phase_name(x->phase), r->msg);
		break;
	}
}

static void cont_done(void *arg, const struct hv_result *r)
{
	struct vm *v = arg;
	struct drill *x = drill_of(v);

	if (!x || x->phase != DRILL_CONT)
		return;
	if (r->err) {
		drill_fail(x, "cont: %s", r->msg);
		return;
	}
	x->paused = 0;
	drill_enter(x, drill_next(&x->plan, x->phase));
}

static void stats_done(void *arg, const struct hv_result *r)
{
	struct vm *v = arg;
	struct drill *x = drill_of(v);

	if (x && !r->err && r->mig.status[0])
		x->info = r->mig;
}

/* snapshot_save's answer: the file is written and the hypervisor runs the VM again. */
static void save_done(void *arg, const struct hv_result *r)
{
	struct vm *v = arg;
	struct drill *x = drill_of(v);

	if (!x || !x->hv_save_pending)
		return;
	x->hv_save_pending = 0;
	if (x->phase != DRILL_SAVE)
		return;         /* failed meanwhile (timeout): the rollback goes on */
	if (r->err) {
		drill_fail(x, "%s snapshot to %s: %s", v->hvo->kind, x->rq.file, r->msg);
		return;
	}
	x->info = r->mig;
	drill_enter(x, DRILL_CONT);
}

static void status_done(void *arg, const struct hv_result *r)
{
	struct vm *v = arg;

	if (!r->err && !r->running && v->hv) {
		hlog(HLOG_WARN, "vm %s: QEMU is %s: cont", v->cfg.name, r->status);
		v->hvo->cont(v->hv, NULL, NULL);
	}
}

/* ---- the state machine ------------------------------------------------------------- */
static void vf_plug_fresh(struct drill *x)
{
	struct vm *v = x->v;

	if (step_vf_plug(v, vm_next_vf_id(v), hv_done, v))
		hlog(HLOG_WARN, "vm %s: VF device_add not sent", v->cfg.name);
}

/* Re-plug the VF: a failover primary QEMU hid at SAVE comes back through a
 * migration that fails at once (snapshot.h); anything else: device_add. */
static void vf_replug(struct drill *x)
{
	struct vm *v = x->v;

	vm_vf_forget(v);
	if (x->primary_hidden) {
		if (v->hvo->failover_replug ? v->hvo->failover_replug(v->hv, hv_done, v) :
		    v->hvo->migrate_out(v->hv, SNAP_REPLUG_URI, NULL, NULL))
			hlog(HLOG_WARN, "vm %s: re-plug migration not sent", v->cfg.name);
		x->primary_hidden = 0;
	} else {
		vf_plug_fresh(x);
	}
	x->vf_out = 0;
}

static void timeline_add(struct drill *x)
{
	(void)json_array_append_new(x->timeline, json_pack(
		"{s:i, s:s, s:I}", "cycle", (int)x->plan.cycle, "phase", drill_phase_name(x->phase),
		"t_ms", (json_int_t)since_ms(x)));
}

static void denter_probe_start(struct drill *x)
{
	int rc;

	rc = probe_start(x);
	if (rc) {
		drill_fail_rc(x, rc, "hybond-probe %s %s%s%s", x->rq.probe_kind,
			      x->rq.probe_target, x->rq.probe_netns[0] ? " in netns " : "",
			      x->rq.probe_netns);
		return;
	}
	loop_timer_arm(x->timer, DRILL_PROBE_LEAD_MS);
}

static void denter_steer_standby(struct drill *x)
{
	struct vm *v = x->v;
	char err[512];
	int rc;
	enum drill_phase p = x->phase;

	add_window(x, "to_standby");
	rc = step_rx_to(v, ESW_TO_STANDBY, &x->op.steer_src, err, sizeof(err));
	if (rc) {
		drill_fail(x, "%s", err);
		return;
	}
	x->steered_standby = 1;
	drill_enter(x, drill_next(&x->plan, p));
}

static void denter_switch_tx(struct drill *x)
{
	struct vm *v = x->v;
	int rc;

	x->switched = 1;
	rc = step_pin_tx_standby(v, NULL);
	if (rc < 0)
		drill_fail_rc(x, rc, "PREPARE_SWITCH");
}

static void denter_on_standby(struct drill *x)
{
	enum drill_phase p = x->phase;

	add_window(x, "on_standby");
	if (x->rq.kind == DRILL_KIND_DRILL)
		loop_timer_arm(x->timer, DRILL_DWELL_MS);
	else
		drill_enter(x, drill_next(&x->plan, p));
}

static void denter_unplug_vf(struct drill *x)
{
	struct vm *v = x->v;
	int rc;

	rc = v->hvo->vf_unplug(v->hv, v->vf_id, hv_done, v);
	if (rc) {
		drill_fail_rc(x, rc, "device_del %s", v->vf_id);
		return;
	}
	loop_timer_arm(x->timer, DRILL_UNPLUG_TIMEOUT_MS);
}

static void denter_save(struct drill *x)
{
	struct vm *v = x->v;
	const struct hostd_config *c = &x->v->d->cfg;
	char err[512];
	char uri[300];
	int rc;

	add_window(x, "save");
	/* frames for the paused VM wait in its standby tap: size the queue */
	rc = link_set_txqlen(v->cfg.standby_port, c->txqueuelen, err, sizeof(err));
	if (rc)
		hlog(HLOG_WARN, "vm %s: %s (frames beyond the tap's queue are lost while "
		     "paused)", v->cfg.name, err);
	rc = snap_save_uri(x->rq.file, uri, sizeof(uri));
	if (!rc) {
		if (x->plan.qemu_primary && !x->vf_out)
			x->primary_hidden = 1;  /* QEMU unplugs it at the migration's start */
		x->save_sent = 1;
		x->hv_save = v->hvo->snapshot_save != NULL;
		if (x->hv_save) {
			(void)snprintf(uri, sizeof(uri), "%s snapshot", v->hvo->kind);
			rc = v->hvo->snapshot_save(v->hv, x->rq.file, save_done, v);
			x->hv_save_pending = !rc;
		} else {
			rc = v->hvo->migrate_out(v->hv, uri, hv_done, v);
		}
	}
	if (rc) {
		drill_fail_rc(x, rc, "migrate %s", uri);
		return;
	}
	loop_timer_arm(x->timer, DRILL_SAVE_TIMEOUT_MS);
}

static void denter_cont(struct drill *x)
{
	struct vm *v = x->v;
	enum drill_phase p = x->phase;

	if (x->hv_save) {
		/* the hypervisor ran the VM again before answering; if not: cont */
		x->paused = 0;
		v->hvo->query_status(v->hv, status_done, v);
		drill_enter(x, drill_next(&x->plan, p));
		return;
	}
	x->paused = 1;
	v->hvo->query_migrate(v->hv, stats_done, v);
	if (v->hvo->cont(v->hv, cont_done, v))
		drill_fail(x, "cont not sent");
}

static void denter_replug_vf(struct drill *x)
{
	enum drill_phase p = x->phase;

	vf_replug(x);
	drill_enter(x, drill_next(&x->plan, p));
}

static void denter_wait_vf(struct drill *x)
{
	loop_timer_arm(x->timer, x->v->d->cfg.vf_up_timeout_ms);
	(void)fastpath_wait(&x->fp, FASTPATH_POLL | FASTPATH_NOW);
}

/* The guest reports its VF up (WAIT_VF, RB_WAIT_VF). */
static void drill_fp_ready(void *arg)
{
	struct drill *x = arg;

	drill_enter(x, x->phase == DRILL_WAIT_VF ? drill_next(&x->plan, x->phase) :
		    DRILL_RB_STEER_VF);
}

/* RX to the VF port and RESUME_FAST_PATH (the rollback leaves RX on the VF whatever the
 * guest answers: it ends there); the answer comes in RESUME */
static void denter_steer_vf(struct drill *x)
{
	enum drill_phase p = x->phase;

	if (p == DRILL_STEER_VF)
		add_window(x, "back_to_vf");
	x->fast_up = 0;
	if (!fastpath_attempt(&x->fp, p == DRILL_RB_STEER_VF))
		return;
	x->steered_standby = 0;
	drill_enter(x, p == DRILL_STEER_VF ? DRILL_RESUME : DRILL_RB_RESUME);
}

static void drill_fp_done(void *arg, const struct fastpath_result *r)
{
	struct drill *x = arg;
	int rb = x->phase == DRILL_RB_STEER_VF || x->phase == DRILL_RB_RESUME;

	x->steered_standby = x->v->rx_steer == ESW_TO_STANDBY;
	if (rb) {
		if (r->outcome == FASTPATH_STEER_FAILED)
			drill_err_more(x, r->rc, "rollback: %s", r->why);
		drill_enter(x, DRILL_FAILED);   /* the guest takes its fast path when it can */
	} else if (r->outcome == FASTPATH_UP) {
		x->fast_up = 1;
		if (x->plan.cycle < x->plan.cycles)
			loop_timer_arm(x->timer, DRILL_DWELL_MS);
		else
			drill_enter(x, drill_next(&x->plan, x->phase));
	} else if (r->outcome == FASTPATH_REFUSED) {
		drill_fail(x, "RESUME_FAST_PATH: %s", r->why ? r->why : "still on standby");
	} else if (r->outcome == FASTPATH_NOT_ASKED) {
		drill_fail_rc(x, r->rc, "RESUME_FAST_PATH");
	} else {
		drill_fail(x, "%s", r->why);
	}
}

static const struct fastpath_ops drill_fastpath_ops = {
	.ready = drill_fp_ready, .done = drill_fp_done,
};

static void denter_settle(struct drill *x)
{
	loop_timer_arm(x->timer, DRILL_SETTLE_MS);
}

static void denter_report(struct drill *x)
{
	if (x->prober && child_signal(x->prober, SIGINT) == 0) {
		/* its summary comes when it exits (probe_ended) */
		loop_timer_arm(x->timer, DRILL_REPORT_TIMEOUT_MS);
		return;
	}
	drill_enter(x, DRILL_DONE);
}

static void denter_done(struct drill *x)
{
	drill_end(x, 1);
}

static void denter_rollback(struct drill *x)
{
	struct vm *v = x->v;

	if (x->hv_save_pending)         /* the hypervisor's save still runs: abort it */
		v->hvo->migrate_cancel(v->hv, NULL, NULL);
	if (x->save_sent || x->paused)
		v->hvo->query_status(v->hv, status_done, v);
	if (!x->steered_standby && !x->switched) {
		drill_enter(x, DRILL_FAILED);
		return;
	}
	if (x->vf_out || x->primary_hidden) {
		drill_enter(x, DRILL_RB_REPLUG);
		return;
	}
	drill_enter(x, DRILL_RB_WAIT_VF);
}

static void denter_rb_replug(struct drill *x)
{
	vf_replug(x);
	drill_enter(x, DRILL_RB_WAIT_VF);
}

static void denter_rb_wait_vf(struct drill *x)
{
	loop_timer_arm(x->timer, x->v->d->cfg.vf_up_timeout_ms +
		       (x->recovering ? DRILL_RECOVER_WAIT_MS : 0));
	(void)fastpath_wait(&x->fp, FASTPATH_POLL | FASTPATH_NOW);
}

static void denter_failed(struct drill *x)
{
	drill_end(x, 0);
}

/* What entering each phase does (NULL: nothing but the journal and the report). */
static void (*const drill_enter_fn[DRILL_N_PHASES])(struct drill *) = {
	[DRILL_PROBE_START] = denter_probe_start,
	[DRILL_STEER_STANDBY] = denter_steer_standby,
	[DRILL_SWITCH_TX] = denter_switch_tx,
	[DRILL_ON_STANDBY] = denter_on_standby,
	[DRILL_UNPLUG_VF] = denter_unplug_vf,
	[DRILL_SAVE] = denter_save,
	[DRILL_CONT] = denter_cont,
	[DRILL_REPLUG_VF] = denter_replug_vf,
	[DRILL_WAIT_VF] = denter_wait_vf,
	[DRILL_STEER_VF] = denter_steer_vf,
	[DRILL_RB_STEER_VF] = denter_steer_vf,
	[DRILL_SETTLE] = denter_settle,
	[DRILL_REPORT] = denter_report,
	[DRILL_DONE] = denter_done,
	[DRILL_ROLLBACK] = denter_rollback,
	[DRILL_RB_REPLUG] = denter_rb_replug,
	[DRILL_RB_WAIT_VF] = denter_rb_wait_vf,
	[DRILL_FAILED] = denter_failed,
};

/* Enter phase p: journal it, report it, run its action.  The only place phases change. */
static void drill_enter(struct drill *x, enum drill_phase p)
{
	struct vm *v = x->v;

	/* RESUME waits for the answer to what STEER_VF asked; every other phase change
	 * ends the sub-machine's wait or request (a late answer is not ours any more) */
	if (p != DRILL_RESUME && p != DRILL_RB_RESUME)
		fastpath_stop(&x->fp);
	x->phase = p;
	timeline_add(x);
	if (p != DRILL_DONE && p != DRILL_FAILED)
		drill_journal(x, NULL);
	hlog(HLOG_INFO, "vm %s: %s cycle %u: %s (+%llu ms)", v->cfg.name, kind_name(x),
	     x->plan.cycle, drill_phase_name(p), (unsigned long long)since_ms(x));
	drill_report(x, json_object());
	loop_timer_disarm(x->timer);
	if (drill_enter_fn[p])
		drill_enter_fn[p](x);
}

/* Record and log one failure: the result's "errors" always, its "error" as `how` says. */
static void drill_vrecord(struct drill *x, enum op_err_how how, int rc, const char *fmt,
			  va_list ap) __attribute__((format(printf, 4, 0)));

static void drill_vrecord(struct drill *x, enum op_err_how how, int rc, const char *fmt,
			  va_list ap)
{
	char text[512];

	op_error_vformat(text, sizeof(text), rc, fmt, ap);
	op_error_into(x->err, sizeof(x->err), how, text);
	op_error_add(&x->errs, drill_phase_name(x->phase), rc, text);
	hlog(HLOG_ERR, "vm %s: %s %s: %s", x->v->cfg.name, kind_name(x), drill_phase_name(x->phase),
	     text);
}

/* Rolling back could not finish (rc: its errno, 0 if none): said, recorded. */
static void drill_err_more(struct drill *x, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	drill_vrecord(x, OP_ERR_APPEND, rc, fmt, ap);
	va_end(ap);
}

static void drill_fail_rc(struct drill *x, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	drill_vrecord(x, OP_ERR_FIRST, rc, fmt, ap);
	va_end(ap);
	/* from SETTLE on the VM is back on the fast path: nothing to roll back */
	drill_enter(x, x->phase >= DRILL_SETTLE ? DRILL_FAILED : DRILL_ROLLBACK);
}

static void drill_fail(struct drill *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	drill_vrecord(x, OP_ERR_FIRST, 0, fmt, ap);
	va_end(ap);
	drill_enter(x, x->phase >= DRILL_SETTLE ? DRILL_FAILED : DRILL_ROLLBACK);
}

static void drill_timeout(void *arg)
{
	struct drill *x = arg;

	switch (x->phase) {
	case DRILL_PROBE_START:
	case DRILL_ON_STANDBY:
	case DRILL_SETTLE:
		drill_enter(x, drill_next(&x->plan, x->phase));
		break;
	case DRILL_RESUME:
		if (x->fast_up) {               /* the dwell after FAST_PATH_UP is over */
			x->plan.cycle++;
			drill_enter(x, x->plan.cycle <= x->plan.cycles ? DRILL_STEER_STANDBY :
				    x->plan.probe ? DRILL_SETTLE : DRILL_DONE);
		} else {
			drill_fail(x, "timed out in RESUME");
		}
		break;
	case DRILL_REPORT:
		hlog(HLOG_WARN, "vm %s: hybond-probe gave no result within %u ms", x->v->cfg.name,
		     DRILL_REPORT_TIMEOUT_MS);
		probe_close(x);
		drill_enter(x, DRILL_DONE);
		break;
	case DRILL_WAIT_VF:
		drill_fail(x, "the guest did not report its VF up within %u ms",
			   x->v->d->cfg.vf_up_timeout_ms);
		break;
	case DRILL_RB_WAIT_VF:
		drill_err_more(x, 0, "rolled back, but the VF did not come back: the VM stays on "
			       "the standby");
		drill_enter(x, DRILL_FAILED);
		break;
	default:
		drill_fail(x, "timed out in %s", drill_phase_name(x->phase));
		break;
	}
}

/* ---- inputs ------------------------------------------------------------------------ */
static void drill_on_hv_event(struct vm *v, enum hv_ev ev, const char *detail, uint64_t ts_ms)
{
	struct drill *x = drill_of(v);

	if (!x)
		return;
	if (ev == HV_EV_DEVICE_DELETED && x->phase == DRILL_UNPLUG_VF && !strcmp(detail, v->vf_id)) {
		x->vf_out = 1;
		drill_enter(x, drill_next(&x->plan, x->phase));
	} else if (ev == HV_EV_STOP && x->phase == DRILL_SAVE) {
		x->t_pause_rt = ts_ms;
		add_window_at(x, "paused", ts_ms);
	} else if (ev == HV_EV_RESUME && x->t_pause_rt && !x->t_resume_rt) {
		x->t_resume_rt = ts_ms;
		add_window_at(x, "resumed_on_standby", ts_ms);
	} else if (ev == HV_EV_MIGRATION && x->phase == DRILL_SAVE) {
		if (!strcmp(detail, "completed")) {
			x->paused = 1;
			if (!x->hv_save)        /* else: the hypervisor resumes it, then answers */
				drill_enter(x, DRILL_CONT);
		} else if (!strcmp(detail, "failed") || !strcmp(detail, "cancelled")) {
			/* a failed migration re-plugs the failover primary itself */
			x->primary_hidden = 0;
			if (!x->hv_save)        /* else: its answer has the hypervisor's reason */
				drill_fail(x, "QEMU reports the save to %s %s", x->rq.file, detail);
		}
	}
}

static void drill_on_hv_closed(struct vm *v, int err)
{
	struct drill *x = drill_of(v);

	(void)err;
	if (x && x->phase < DRILL_SETTLE)
		drill_fail(x, "the QEMU monitor closed");
}

static void drill_on_guest(struct vm *v)
{
	struct drill *x = drill_of(v);

	if (x)
		(void)fastpath_on_guest(&x->fp);        /* WAIT_VF, RB_WAIT_VF */
}

static void drill_on_guest_answer(struct vm *v, uint16_t req_type, const struct hb_msg *ans,
				  int res)
{
	struct drill *x = drill_of(v);
	const char *why = gc_answer_failure(ans, res);

	if (!x)
		return;
	if (req_type == HB_MSG_PREPARE_SWITCH && x->phase == DRILL_SWITCH_TX) {
		if (why || !ans) {
			drill_fail(x, "PREPARE_SWITCH: %s", why ? why : "no answer");
			return;
		}
		drill_report(x, json_pack("{s:i, s:i}", "switch_elapsed_us",
					  (int)ans->u.switch_done.elapsed_us, "queued",
					  (int)ans->u.switch_done.queued));
		drill_enter(x, drill_next(&x->plan, x->phase));
	} else {
		(void)fastpath_on_answer(&x->fp, req_type, ans, res);   /* RESUME, RB_RESUME */
	}
}

static void drill_sink_gone(struct vm *v, const void *arg)
{
	struct drill *x = drill_of(v);

	if (x)
		op_sink_forget(&x->sink, arg);  /* goes on without its CLI: status shows it */
}

/* ---- starting ------------------------------------------------------------------------ */
int drill_start(struct vm *v, const struct drill_req *rq, const struct op_sink *sink,
		char *err, size_t errlen)
{
	struct drill *x;
	int rc;

	if (v->op) {
		(void)snprintf(err, errlen, "vm %s: busy (a %s in progress)", v->cfg.name,
			       v->op->ops->what);
		return -EBUSY;
	}
	rc = vfw_busy(v, err, errlen);
	if (rc)
		return rc;
	if (!v->here || !v->hv || !v->hvo->ready(v->hv)) {
		(void)snprintf(err, errlen, "vm %s: not running here (no QMP session)", v->cfg.name);
		return -ENOENT;
	}
	if (rq->kind == DRILL_KIND_SNAPSHOT && vm_config_libvirt(&v->cfg) &&
	    !v->hvo->snapshot_save) {
		/* a QEMU that libvirt runs is saved through libvirt (its job, its lock) */
		(void)snprintf(err, errlen, "vm %s is a libvirt domain and the %s backend has no "
			       "snapshot: use `virsh snapshot-create` after `hybond drill`",
			       v->cfg.name, v->hvo->kind);
		return -EOPNOTSUPP;
	}
	if (!vm_guest_ready(v)) {
		(void)snprintf(err, errlen, "vm %s: no guest agent session (no HELLO/STATUS): the "
			       "switch steps need it", v->cfg.name);
		return -ENOTCONN;
	}
	if (!v->pair.sb_link || !v->pair.sb_carrier) {
		(void)snprintf(err, errlen, "vm %s: the guest's standby %s has no %s: it cannot "
			       "carry the traffic", v->cfg.name, v->pair.standby,
			       v->pair.sb_link ? "carrier" : "link");
		return -ENETDOWN;
	}
	if (!vm_vf_up(v)) {
		(void)snprintf(err, errlen, "vm %s: the guest's VF is not up: the VM is not on the "
			       "fast path (nothing to drill)", v->cfg.name);
		return -ENETDOWN;
	}
	if (rq->kind == DRILL_KIND_DRILL && (rq->cycles < 1 || rq->cycles > DRILL_MAX_CYCLES)) {
		(void)snprintf(err, errlen, "cycles: 1..%u", DRILL_MAX_CYCLES);
		return -EINVAL;
	}
	if (rq->probe_target[0] && (rq->rate_pps < 1 || rq->rate_pps > DRILL_MAX_RATE_PPS ||
				    (strcmp(rq->probe_kind, "udp") != 0 && strcmp(rq->probe_kind, "icmp") != 0))) {
		(void)snprintf(err, errlen, "probe: kind udp|icmp, rate 1..%u pps", DRILL_MAX_RATE_PPS);
		return -EINVAL;
	}
	if (rq->probe_netns[0] && (strchr(rq->probe_netns, '/') || rq->probe_netns[0] == '.')) {
		(void)snprintf(err, errlen, "probe netns: a name under /run/netns");
		return -EINVAL;
	}
	if (rq->kind == DRILL_KIND_SNAPSHOT) {
		rc = snap_check_file(rq->file, err, errlen);
		if (rc)
			return rc;
	}
	rc = vm_esw_ready(v, err, errlen);
	if (rc)
		return rc;
	x = drill_new(v, rq);
	if (!x)
		return -ENOMEM;
	if (sink)
		x->sink = *sink;
	drill_journal_init(x);
	drill_enter(x, DRILL_PREFLIGHT);
	drill_enter(x, drill_next(&x->plan, DRILL_PREFLIGHT));
	return 0;
}

/* ---- recovery ------------------------------------------------------------------------ */
void drill_recover(struct vm *v, const struct jrnl_op *op)
{
	struct drill_req rq = { .kind = op->kind == JRNL_SNAPSHOT ? DRILL_KIND_SNAPSHOT :
						     DRILL_KIND_DRILL, .cycles = 1 };
	const char *vf_id = json_string_value(json_object_get(op->extra, "vf_id"));
	const char *file = json_string_value(json_object_get(op->extra, "file"));
	int phase = drill_phase_from_name(op->phase);
	struct drill *x;

	if (phase == DRILL_DONE || phase == DRILL_FAILED) {
		json_t *r = json_object_get(op->extra, "result");

		if (json_is_object(r) && (!v->last_op ||
		    json_integer_value(json_object_get(v->last_op, "started_ms")) <
		    json_integer_value(json_object_get(r, "started_ms")))) {
			vm_set_last_op(v, json_incref(r));
		}
		return;
	}
	if (phase < 0 || v->op) {
		hlog(HLOG_WARN, "vm %s: journal: %s left in %s: not recoverable here", v->cfg.name,
		     jrnl_kind_name(op->kind), op->phase);
		return;
	}
	if (vf_id && vf_id[0])
		(void)snprintf(v->vf_id, sizeof(v->vf_id), "%s", vf_id);
	v->vf_seq = (unsigned)jrnl_extra_int(op, "vf_seq");
	if (file)
		(void)snprintf(rq.file, sizeof(rq.file), "%s", file);
	rq.unplug = jrnl_extra_int(op, "unplug");
	rq.cycles = (unsigned)jrnl_extra_int(op, "cycles");
	x = drill_new(v, &rq);
	if (!x)
		return;
	x->op = *op;
	x->op.extra = NULL;
	x->op.started_ms = op->started_ms;
	x->plan.cycle = (unsigned)jrnl_extra_int(op, "cycle");
	x->vf_out = jrnl_extra_int(op, "vf_out");
	x->primary_hidden = jrnl_extra_int(op, "primary_hidden");
	x->paused = jrnl_extra_int(op, "paused") || phase == DRILL_SAVE || phase == DRILL_CONT;
	x->save_sent = phase == DRILL_SAVE || phase == DRILL_CONT;
	x->steered_standby = op->steer_src != JRNL_STEER_VF || phase >= DRILL_STEER_STANDBY;
	x->switched = jrnl_extra_int(op, "switched") || phase > DRILL_SWITCH_TX;
	x->recovering = 1;
	x->phase = (enum drill_phase)phase;
	(void)snprintf(x->err, sizeof(x->err), "daemon restarted in %s: rolled back", op->phase);
	hlog(HLOG_WARN, "vm %s: recovering a %s left in %s", v->cfg.name, kind_name(x), op->phase);
	if (phase >= DRILL_ROLLBACK)
		x->phase = DRILL_ROLLBACK;
	drill_enter(x, DRILL_ROLLBACK);
}

static const struct op_ops drill_op_ops = {
	.what = "drill or snapshot",
	.on_hv_event = drill_on_hv_event, .on_hv_closed = drill_on_hv_closed,
	.on_guest = drill_on_guest, .on_guest_answer = drill_on_guest_answer,
	.sink_gone = drill_sink_gone, .json_key = "operation", .to_json = drill_to_json,
	.free = drill_free,
};
