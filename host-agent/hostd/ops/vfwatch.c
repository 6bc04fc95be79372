// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/ops/vfwatch.c — unannounced VF loss (see vfwatch.h for the states).
 *
 * Why RX first, at once: the eswitch (a real NIC, and the lab's bridge with its
 * static sticky FDB entry) keeps sending the VM's MAC to the VF port whether a
 * VF is there or not; every frame until the steering moves is lost.  VF_LEAVING
 * (the guest's kernel shim started its unplug barrier) comes while the VF still
 * receives: the shim holds the removal until the host has steered (the daemon sends
 * PREPARE_SWITCH(STANDBY) after the steer; the agent then releases the shim) or its
 * rx_wait_ms ran out, so steering then loses nothing.
 *
 * Why the guest decides the return: a VF that QEMU plugged is not usable before
 * the guest enslaved it and saw its carrier (net_failover drops standby RX while
 * a primary is registered — the agent's tc redirect covers that — but frames
 * steered to a VF the guest has not enslaved are lost).  So, as in migrate.c's
 * D_FAST_PATH and drill.c's STEER_VF/RESUME: the guest reports the VF up, RX
 * moves to the VF port, then RESUME_FAST_PATH unpins the guest's TX.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host-agent/hostd/vm.h"
#include "fastpath.h"
#include "steps.h"
#include "vfwatch.h"

#define VFW_STEER_RETRY_MS   1000u      /* RX to the standby failed: again after */
#define VFW_RETRY_MIN_MS      500u      /* RESUME_FAST_PATH refused: first back-off */
#define VFW_RETRY_MAX_MS    10000u
#define VFW_EVENT_AGE_MAX_MS 60000      /* older QEMU timestamps are not a latency */
#define VFW_FLAP_WINDOW_MS  10000u      /* a loss this soon after a return is a flap */
#define VFW_HOLD_MIN_MS      1000u      /* hold-down after the first flap, doubling */
#define VFW_HOLD_MAX_MS     60000u

static const char *const state_names[] = {
	[VFW_IDLE] = "idle", [VFW_VF_AWAY] = "vf_away", [VFW_RETURNING] = "returning",
};

static const char *const trig_names[] = {
	[VFW_TRIG_NONE] = "", [VFW_TRIG_VF_LEAVING] = "vf_leaving",
	[VFW_TRIG_VF_VANISHED] = "vf_vanished", [VFW_TRIG_STATUS] = "status",
	[VFW_TRIG_DEVICE_DELETED] = "device_deleted",
	[VFW_TRIG_UNPLUG_PRIMARY] = "unplug_primary",
};

/* for log lines: who told us */
static const char *const trig_text[] = {
	[VFW_TRIG_NONE] = "?", [VFW_TRIG_VF_LEAVING] = "guest EVENT VF_LEAVING",
	[VFW_TRIG_VF_VANISHED] = "guest EVENT VF_VANISHED",
	[VFW_TRIG_STATUS] = "guest STATUS without the VF",
	[VFW_TRIG_DEVICE_DELETED] = "QEMU DEVICE_DELETED",
	[VFW_TRIG_UNPLUG_PRIMARY] = "QEMU UNPLUG_PRIMARY",
};

const char *vfw_state_name(enum vfw_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

const char *vfw_trigger_name(enum vfw_trigger t)
{
	return (unsigned)t < sizeof(trig_names) / sizeof(trig_names[0]) ? trig_names[t] : "?";
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The watch may act: on, the VM runs here, no operation owns the datapath. */
static int vfw_eligible(const struct vm *v)
{
	return v->d->cfg.vf_watch && v->here && !v->op;
}

/* VF_AWAY waits for the VF (fastpath.c), RETURNING has asked (vfw_ready()), IDLE neither. */
static void vfw_set(struct vm *v, enum vfw_state s)
{
	v->vfw->state = s;
	v->vfw->since_ms = loop_now_ms();
	if (v->vfw->hv == VFW_HV_PRESENT)
		v->vfw->hv = VFW_HV_UNKNOWN;    /* evidence is for one attempt */
	if (s == VFW_IDLE)
		fastpath_stop(&v->vfw->fp);
	else if (s == VFW_VF_AWAY)
		(void)fastpath_wait(&v->vfw->fp, 0);
}

/* Not ours any more (an operation runs, the VM left, the watch is off): forget the
 * episode; whoever owns the datapath now decides where RX goes. */
static void vfw_drop(struct vm *v)
{
	const char *who = v->op ? v->op->ops->what : !v->here ?
			  "nobody (the VM does not run here)" : "nobody (vf_watch = off)";

	if (v->vfw->state == VFW_IDLE)
		return;
	hlog(HLOG_INFO, "vm %s: VF watch: %s episode handed over to %s%s", v->cfg.name,
	     vfw_state_name(v->vfw->state), v->op ? "the " : "", who);
	loop_timer_disarm(v->vfw->timer);
	vfw_set(v, VFW_IDLE);
}

/* RX to the standby port unless it is there already; a failure is retried. */
static int steer_standby(struct vm *v)
{
	char err[256];
	int rc;

	rc = step_rx_to_standby(v, NULL, err, sizeof(err));
	if (rc) {
		hlog(HLOG_ERR, "%s: RX for the VM is lost while its VF is away; retrying every "
		     "%u ms (check the eswitch: hybond status, esw_kind/ports in hostd.conf)", err,
		     VFW_STEER_RETRY_MS);
		(void)loop_timer_arm(v->vfw->timer, VFW_STEER_RETRY_MS);
	}
	return rc;
}

/* A loss soon after a return is a flap: the next return waits a hold-down that doubles
 * with each flap in a row (none for a first loss: the fast path back at once). */
static void hold_down(struct vm *v)
{
	struct vfwatch *w = v->vfw;
	uint64_t now = loop_now_ms(), hold;

	if (w->t_returned_ms && now - w->t_returned_ms < VFW_FLAP_WINDOW_MS)
		w->flaps++;
	else
		w->flaps = 0;
	if (!w->flaps)
		return;
	hold = (uint64_t)VFW_HOLD_MIN_MS << (w->flaps > 7 ? 6 : w->flaps - 1);
	if (hold > VFW_HOLD_MAX_MS)
		hold = VFW_HOLD_MAX_MS;
	w->retry_at_ms = now + hold;
	hlog(HLOG_WARN, "vm %s: its VF left again %u time%s in a row within %u s of coming "
	     "back: the next return waits %llu ms", v->cfg.name, w->flaps, w->flaps > 1 ? "s" :
	     "", VFW_FLAP_WINDOW_MS / 1000u, (unsigned long long)hold);
}

/* The next return attempt waits (the guest refused, or steering failed). */
static void back_off(struct vm *v)
{
	struct vfwatch *w = v->vfw;

	w->retry_ms = w->retry_ms ? w->retry_ms * 2 : VFW_RETRY_MIN_MS;
	if (w->retry_ms > VFW_RETRY_MAX_MS)
		w->retry_ms = VFW_RETRY_MAX_MS;
	w->retry_at_ms = loop_now_ms() + w->retry_ms;
	(void)loop_timer_arm(w->timer, w->retry_ms);
}

/* VF_LEAVING: RX is on the standby port now; say so the way every hybond operation
 * does, with a PREPARE_SWITCH(STANDBY) after the steer.  The guest's kernel shim holds
 * the VF's removal until then (its agent sends the shim RELEASE when it gets this), so
 * the VF keeps receiving what the eswitch sent it before the steer. */
static void confirm_rx_moved(struct vm *v)
{
	int rc;

	rc = step_pin_tx_standby(v, vfw_cookie(v));
	if (rc == -ENOTCONN)
		return;         /* no session: the agent releases the shim by itself */
	if (rc < 0)
		hlog(HLOG_WARN, "vm %s: VF leaving: PREPARE_SWITCH not sent (%s): the guest's shim "
		     "holds the VF until its rx_wait_ms", v->cfg.name, strerror(-rc));
}

/* A trigger: the VF left (or is leaving) with nobody having moved the datapath. */
static void vfw_lost(struct vm *v, enum vfw_trigger trig, uint64_t qemu_ts_ms)
{
	struct vfwatch *w = v->vfw;
	uint64_t t0 = mono_us();

	if (!vfw_eligible(v)) {
		vfw_drop(v);
		return;
	}
	if (w->state == VFW_VF_AWAY) {
		/* steered once already (VF_LEAVING, then VF_VANISHED, ...) */
		if (trig == VFW_TRIG_VF_LEAVING && v->rx_steer == ESW_TO_STANDBY)
			confirm_rx_moved(v);
		return;
	}
	w->trigger = trig;
	w->t_trigger_us = t0;
	w->steer_us = -1;
	w->event_age_ms = -1;
	w->retry_ms = 0;
	w->retry_at_ms = 0;
	w->losses++;
	hold_down(v);
	loop_timer_disarm(w->timer);
	vfw_set(v, VFW_VF_AWAY);
	if (v->rx_steer == ESW_TO_STANDBY) {
		hlog(HLOG_INFO, "vm %s: VF away (%s); RX is on the standby port already: "
		     "waiting for a VF to come back", v->cfg.name, trig_text[trig]);
		if (trig == VFW_TRIG_VF_LEAVING)
			confirm_rx_moved(v);
		return;
	}
	if (steer_standby(v))
		return;
	w->steer_us = (int64_t)(mono_us() - t0);
	if (trig == VFW_TRIG_VF_LEAVING)
		confirm_rx_moved(v);
	if (qemu_ts_ms) {
		int64_t age = (int64_t)hv_realtime_ms() - (int64_t)qemu_ts_ms;

		if (age >= 0 && age < VFW_EVENT_AGE_MAX_MS)
			w->event_age_ms = age;
	}
	if (w->event_age_ms >= 0)
		hlog(HLOG_WARN, "vm %s: VF left without notice (%s): RX steered to the standby port "
		     "%.3f ms after the trigger (%lld ms after QEMU's event)", v->cfg.name,
		     trig_text[trig], (double)w->steer_us / 1000.0, (long long)w->event_age_ms);
	else
		hlog(HLOG_WARN, "vm %s: VF left without notice (%s): RX steered to the standby port "
		     "%.3f ms after the trigger", v->cfg.name, trig_text[trig],
		     (double)w->steer_us / 1000.0);
}

/* The hypervisor's answer: is a VF device in the VM? */
static void vfw_hv_answer(void *arg, const struct hv_result *r)
{
	struct vm *v = arg;
	struct vfwatch *w = v->vfw;

	if (!w || w->hv != VFW_HV_ASKING)
		return;
	w->hv = VFW_HV_UNKNOWN;
	if (r->err || !r->present) {
		w->hv_refusals++;
		hlog(HLOG_WARN, "vm %s: the guest reports its VF up but %s%s%s: RX stays on the "
		     "standby port (retried)", v->cfg.name, r->err ?
		     "the hypervisor could not say whether a VF is in the VM: " : "the "
		     "hypervisor shows no VF device in the VM (id ", r->err ? strerror(-r->err) :
		     v->vf_id, r->err ? "" : v->cfg.vf_bus[0] ? ", nor one behind vf_bus)" : ")");
		back_off(v);
		return;
	}
	w->hv = VFW_HV_PRESENT;
	(void)fastpath_on_guest(&w->fp);        /* the guest's view again, then back */
}

/* The hypervisor shows the VF in the VM: asked once per attempt; 1 when it did. */
static int vf_in_vm(struct vm *v)
{
	struct vfwatch *w = v->vfw;

	if (w->hv == VFW_HV_PRESENT) {
		w->hv = VFW_HV_UNKNOWN;
		return 1;
	}
	if (w->hv == VFW_HV_ASKING)
		return 0;
	if (!v->hv || !v->hvo->query_vf || !v->hvo->ready(v->hv)) {
		(void)loop_timer_arm(w->timer, VFW_STEER_RETRY_MS);     /* ask when it can */
		return 0;
	}
	if (v->hvo->query_vf(v->hv, v->vf_id, v->cfg.vf_bus[0] ? v->cfg.vf_bus : NULL,
			     vfw_hv_answer, v) == 0)
		w->hv = VFW_HV_ASKING;
	else
		back_off(v);
	return 0;
}

/* The watch's own view before it tries (fastpath.c checked the VF up in the guest). */
static int vfw_may_try(void *arg)
{
	struct vm *v = arg;
	struct vfwatch *w = v->vfw;
	uint64_t now = loop_now_ms();

	if (w->leaving[0] && !strcmp(v->pair.vf, w->leaving))
		return 0;       /* the VF that is leaving, still listed: not a VF that is back */
	if (v->rx_steer != ESW_TO_STANDBY)
		return 0;       /* the steering to the standby is still being retried */
	if (now < w->retry_at_ms) {
		(void)loop_timer_arm(w->timer, w->retry_at_ms - now);
		return 0;
	}
	return vf_in_vm(v);     /* the guest's word alone never steers RX to a VF */
}

/* The VF is back and up in the guest: RX to the VF port, then RESUME_FAST_PATH; RX
 * stays where it is on a request not sent (vfw_done() steers it back). */
static void vfw_ready(void *arg)
{
	struct vm *v = arg;

	if (!fastpath_attempt(&v->vfw->fp, 1))
		return;
	hlog(HLOG_INFO, "vm %s: VF %s back in the guest: RX steered to the VF port, "
	     "RESUME_FAST_PATH sent", v->cfg.name, v->pair.vf);
	vfw_set(v, VFW_RETURNING);
}

static void vfw_done(void *arg, const struct fastpath_result *r)
{
	struct vm *v = arg;
	struct vfwatch *w = v->vfw;

	switch (r->outcome) {
	case FASTPATH_UP:
		w->returns++;
		w->t_returned_ms = loop_now_ms();
		w->retry_ms = 0;
		w->retry_at_ms = 0;
		w->vf_deleted = 0;
		hlog(HLOG_INFO, "vm %s: fast path resumed after an unannounced VF loss (%.0f ms "
		     "away)", v->cfg.name, (double)(mono_us() - w->t_trigger_us) / 1000.0);
		vfw_set(v, VFW_IDLE);
		return;
	case FASTPATH_STEER_FAILED:
		hlog(HLOG_ERR, "%s: the VF is back in the guest but the VM stays on the standby; "
		     "retrying", r->why);
		(void)fastpath_wait(&w->fp, 0);         /* still VF_AWAY */
		back_off(v);
		return;
	case FASTPATH_NOT_ASKED:
		hlog(HLOG_WARN, "vm %s: VF back, but %s (not sent): RX back to the standby port",
		     v->cfg.name, r->why);
		(void)fastpath_wait(&w->fp, 0);         /* still VF_AWAY */
		(void)steer_standby(v);
		back_off(v);
		return;
	case FASTPATH_REFUSED:
		break;
	}
	/* the guest stays on the standby (no VF, not usable before the deadline, busy, no
	 * session): RX back to the standby it listens on, and wait for the VF again */
	w->resume_failures++;
	vfw_set(v, VFW_VF_AWAY);
	(void)steer_standby(v);
	hlog(HLOG_WARN, "vm %s: RESUME_FAST_PATH after an unannounced VF loss: %s: RX back on "
	     "the standby port; trying again once the guest reports its VF up", v->cfg.name,
	     r->why ? r->why : "the guest stays on the standby");
	if (r->rc == GC_ABANDONED) {
		w->retry_at_ms = 0;     /* session down: retried as soon as it is up again */
		return;
	}
	back_off(v);
}

static const struct fastpath_ops vfw_fastpath_ops = {
	.ready = vfw_ready, .done = vfw_done, .may_try = vfw_may_try,
};

void vfw_on_answer(struct vm *v, uint16_t req_type, const struct hb_msg *ans, int res)
{
	struct vfwatch *w = v->vfw;

	if (ans && ans->type == HB_MSG_SWITCH_DONE) {
		hlog(HLOG_INFO, "vm %s: VF leaving: the guest confirmed TX on the standby "
		     "(SWITCH_DONE)", v->cfg.name);
		return;
	}
	if (w->state != VFW_RETURNING)
		return;         /* late: the VF left again, or an operation took over; a failed
				 * PREPARE_SWITCH (the guest's shim then waits out rx_wait_ms) */
	if (!vfw_eligible(v)) {
		vfw_drop(v);
		return;
	}
	(void)fastpath_on_answer(&w->fp, req_type, ans, res);
}

static void vfw_timer(void *arg)
{
	struct vm *v = arg;

	if (!vfw_eligible(v)) {
		vfw_drop(v);
		return;
	}
	if (v->vfw->state != VFW_VF_AWAY)
		return;
	if (v->rx_steer != ESW_TO_STANDBY) {
		(void)steer_standby(v);
		return;
	}
	/* a fresh view (its answer retries), and the VF up already: back now */
	(void)fastpath_wait(&v->vfw->fp, FASTPATH_POLL | FASTPATH_NOW);
}

/* ---- inputs ------------------------------------------------------------------ */
void vfw_on_hv_event(struct vm *v, enum hv_ev ev, const char *detail, uint64_t ts_ms)
{
	if (ev == HV_EV_DEVICE_DELETED && detail && !strcmp(detail, v->vf_id)) {
		v->vfw->vf_deleted = 1;
		vfw_lost(v, VFW_TRIG_DEVICE_DELETED, ts_ms);
	} else if (ev == HV_EV_UNPLUG_PRIMARY && v->cfg.mode == VM_MODE_FAILOVER) {
		vfw_lost(v, VFW_TRIG_UNPLUG_PRIMARY, ts_ms);
	} else if (ev == HV_EV_SHUTDOWN && v->vfw->state != VFW_IDLE) {
		loop_timer_disarm(v->vfw->timer);
		vfw_set(v, VFW_IDLE);
	}
}

void vfw_on_guest_event(struct vm *v, const struct hb_event *e)
{
	if (!v->pair.valid || e->pair_id != v->pair.id) {
		vfw_on_guest(v);
		return;
	}
	if (e->kind == HB_EV_VF_LEAVING) {
		(void)str_escape(v->vfw->leaving, sizeof(v->vfw->leaving),
				HB_PRESENT(e, EVENT, IFNAME) && e->ifname ? e->ifname : "", 16);
		vfw_lost(v, VFW_TRIG_VF_LEAVING, 0);
	} else if (e->kind == HB_EV_VF_VANISHED) {
		v->vfw->leaving[0] = 0;
		vfw_lost(v, VFW_TRIG_VF_VANISHED, 0);
	} else {
		if (e->kind == HB_EV_VF_APPEARED)
			v->vfw->leaving[0] = 0;  /* a new VF (it may reuse the name) */
		vfw_on_guest(v);
	}
}

void vfw_on_guest(struct vm *v)
{
	if (!vfw_eligible(v)) {
		vfw_drop(v);
		return;
	}
	if (v->pair.valid && v->pair.vf_present)
		v->vfw->vf_deleted = 0;          /* a VF is in the VM again */
	if (!vm_guest_ready(v))
		return;                         /* no view: wait for the session and its STATUS */
	if (!v->pair.vf_present)
		vfw_lost(v, VFW_TRIG_STATUS, 0);
	else
		(void)fastpath_on_guest(&v->vfw->fp);
}

/* ---- for operations and status ---------------------------------------------------- */
void *vfw_cookie(struct vm *v)
{
	return v->vfw;
}

int vfw_busy(const struct vm *v, char *err, size_t errlen)
{
	if (!v->vfw || v->vfw->state != VFW_RETURNING)
		return 0;
	(void)snprintf(err, errlen, "vm %s: busy: its VF came back after an unannounced loss and "
		       "the fast path is being resumed (at most resume_deadline_ms = %u ms): "
		       "retry then", v->cfg.name, v->d->cfg.resume_deadline_ms);
	return -EBUSY;
}

int vfw_vf_deleted(const struct vm *v)
{
	return v->vfw && v->vfw->vf_deleted;
}

json_t *vfw_to_json(const struct vm *v)
{
	const struct vfwatch *w = v->vfw;
	/* an operation that started owns the datapath: the episode is over (vfw_drop()
	 * runs at the watch's next input) */
	enum vfw_state st = vfw_eligible(v) ? w->state : VFW_IDLE;

	if (!v->d->cfg.vf_watch)
		return json_pack("{s:s}", "state", "off");
	return json_pack("{s:s, s:I, s:s, s:o, s:o, s:b, s:i, s:i, s:i, s:i, s:i}",
			 "state", vfw_state_name(st),
			 "since_ms", (json_int_t)(loop_now_ms() - w->since_ms),
			 "trigger", vfw_trigger_name(w->trigger),
			 "steer_ms", w->steer_us >= 0 ? json_real((double)w->steer_us / 1000.0) :
			 json_null(),
			 "event_age_ms", w->event_age_ms >= 0 ? json_integer(w->event_age_ms) :
			 json_null(),
			 "vf_deleted", w->vf_deleted, "losses", (int)w->losses,
			 "returns", (int)w->returns, "resume_failures", (int)w->resume_failures,
			 "flaps", (int)w->flaps, "no_vf_in_vm", (int)w->hv_refusals);
}

int vfw_init(struct vm *v)
{
	v->vfw = calloc(1, sizeof(*v->vfw));
	if (!v->vfw)
		return -ENOMEM;
	v->vfw->steer_us = -1;
	v->vfw->event_age_ms = -1;
	v->vfw->since_ms = loop_now_ms();
	v->vfw->timer = loop_timer_new(v->d->l, vfw_timer, v);
	fastpath_init(&v->vfw->fp, v, &vfw_fastpath_ops, v, v->vfw, NULL);
	return v->vfw->timer ? 0 : -ENOMEM;
}

void vfw_fini(struct vm *v)
{
	/* the guest channel is freed after us: its abandoned RESUME_FAST_PATH finds no
	 * watch (vfw_cookie() is NULL) and is ignored */
	if (!v->vfw)
		return;
	loop_timer_free(v->vfw->timer);
	free(v->vfw);
	v->vfw = NULL;
}
