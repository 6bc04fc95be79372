// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/ops/migrate_source.c — the source of a migration: PREFLIGHT to DONE,
 * CANCEL and the ROLLBACK back to the fast path (the story: migrate.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host-agent/hostd/peer/peer.h"
#include "migrate_int.h"
#include "steps.h"
#include "vfwatch.h"

/* Source: QEMU said "completed" and the final statistics are wanted before MIGRATE_RESULT. */
static int awaiting_final_stats(const struct mig *m)
{
	return m->phase == MIG_S_STOPPED && !strcmp(m->info.status, "completed");
}

/* Source: the migration completed: MIGRATE_RESULT ok to D, wait for its switch back. */
void mig_completed(struct mig *m)
{
	loop_timer_disarm(m->progress);
	mig_send_result(m, 1, "completed");
	mig_enter(m, MIG_S_DEST_SWITCHBACK);
}

void mig_stats_done(void *arg, const struct hv_result *r)
{
	struct vm *v = arg;
	struct mig *m = mig_of(v);

	if (!m)
		return;
	if (r->err && awaiting_final_stats(m)) {
		/* no final statistics (libvirt: the source domain is gone already) */
		mig_completed(m);
		return;
	}
	/* (an answer older than QEMU's "completed" — libvirt answers slowly during its
	 * migration job — or libvirt's view of a job that is not its own: ignored, the
	 * retries below ask again) */
	if (!r->err && r->mig.status[0] && (strcmp(m->info.status, "completed") != 0 ||
					    !strcmp(r->mig.status, "completed"))) {
		m->info = r->mig;
		if (m->phase == MIG_S_MIGRATING || m->phase == MIG_S_STOPPED)
			mig_report(m, json_pack("{s:s, s:I, s:I, s:f, s:I}", "status", r->mig.status,
						"ram_remaining", (json_int_t)r->mig.ram_remaining,
						"ram_total", (json_int_t)r->mig.ram_total,
						"mbps", r->mig.mbps, "expected_downtime_ms",
						(json_int_t)r->mig.expected_downtime_ms));
	}
	if (!awaiting_final_stats(m))
		return;
	/* the MIGRATION event can beat the final statistics: wait for total-time */
	if (m->info.total_time_ms < 0 && ++m->stats_tries < MIG_STATS_RETRIES) {
		loop_timer_arm(m->progress, MIG_STATS_RETRY_MS);
		return;
	}
	mig_completed(m);
}

void mig_progress_tick(void *arg)
{
	struct mig *m = arg;
	struct vm *v = m->v;

	if (!v->hv || v->hvo->query_migrate(v->hv, mig_stats_done, v)) {
		if (awaiting_final_stats(m))
			mig_completed(m);       /* no final statistics */
		return;
	}
	if (m->phase == MIG_S_MIGRATING)
		loop_timer_arm(m->progress, MIG_PROGRESS_MS);
}

static void status_cont_done(void *arg, const struct hv_result *r)
{
	struct vm *v = arg;

	if (r->err || r->running || !v->hv)
		return;
	/* never `cont` a VM whose state went to the destination (postmigrate) */
	if (!strcmp(r->status, "postmigrate") || !strcmp(r->status, "inmigrate")) {
		hlog(HLOG_ERR, "vm %s: source QEMU is %s during a rollback: not resumed here "
		     "(check where the VM runs: hybond status on both hosts)", v->cfg.name, r->status);
		return;
	}
	hlog(HLOG_WARN, "vm %s: source QEMU is %s after the failed migration: cont",
	     v->cfg.name, r->status);
	v->hvo->cont(v->hv, NULL, NULL);
}

/* The migration completed before the cancel took: the VM runs on D; finish as a success. */
void mig_cancel_too_late(struct mig *m)
{
	struct vm *v = m->v;

	hlog(HLOG_WARN, "vm %s: the migration completed before QEMU could cancel it (%s): the VM "
	     "runs on %s", v->cfg.name, m->err, m->peer);
	(void)snprintf(m->note, sizeof(m->note), "cancel came too late (%.160s): the migration "
		       "had completed", m->err);
	m->err[0] = 0;
	m->cancelled = 0;
	if (!m->stopped) {
		m->stopped = 1;
		mig_send_stopped(m);
	}
	(void)snprintf(m->info.status, sizeof(m->info.status), "completed");
	m->stats_tries = 0;
	mig_enter(m, MIG_S_STOPPED);
	if (v->hv)
		v->hvo->query_migrate(v->hv, mig_stats_done, v);
}

/* QEMU ended the migration (failed, cancelled, none): roll back, saying what QEMU said. */
void mig_cancel_ended(struct mig *m, const char *status)
{
	size_t n = strlen(m->err);

	if (!strstr(m->err, "QEMU reports") && !strstr(m->err, "(QEMU: "))
		(void)snprintf(m->err + n, sizeof(m->err) - n, " (QEMU: migration %s)",
			       status[0] ? status : "none");
	m->mig_ended = 1;
	mig_enter(m, MIG_S_ROLLBACK);
}

void mig_cancel_query_done(void *arg, const struct hv_result *r)
{
	struct vm *v = arg;
	struct mig *m = mig_of(v);

	if (!m || m->phase != MIG_S_CANCEL || r->err)
		return;
	if (!strcmp(r->mig.status, "completed"))
		mig_cancel_too_late(m);
	else if (!mig_status_active(r->mig.status))
		mig_cancel_ended(m, r->mig.status);
}

static void cancel_done(void *arg, const struct hv_result *r)
{
	struct vm *v = arg;
	struct mig *m = mig_of(v);

	if (!m || m->phase != MIG_S_CANCEL)
		return;
	if (r->err)
		hlog(HLOG_WARN, "vm %s: migrate_cancel: %s", v->cfg.name, r->msg);
	/* the MIGRATION event may have come before our subscription saw it: ask */
	if (v->hv)
		(void)v->hvo->query_migrate(v->hv, mig_cancel_query_done, v);
}

static void rb_plug_done(void *arg, const struct hv_result *r)
{
	struct vm *v = arg;
	struct mig *m = mig_of(v);

	if (!r->err)
		return;
	hlog(HLOG_WARN, "vm %s: VF device_add %s: %s", v->cfg.name, v->vf_id, r->msg);
	/* a daemon before us may have used this id (QEMU keeps deleted ids): the next one */
	if (m && m->phase == MIG_S_RB_WAIT_VF && r->msg && strstr(r->msg, "Duplicate ID") &&
	    m->plug_tries < MIG_REPLUG_TRIES)
		mig_rb_plug(m);
}

void mig_rb_plug(struct mig *m)
{
	struct vm *v = m->v;

	m->plug_tries++;
	vm_vf_forget(v);
	if (step_vf_plug(v, vm_next_vf_id(v), rb_plug_done, v))
		hlog(HLOG_WARN, "vm %s: VF re-plug (%s) not sent", v->cfg.name, v->vf_id);
}

static void rb_vf_query_done(void *arg, const struct hv_result *r)
{
	struct vm *v = arg;
	struct mig *m = mig_of(v);

	if (!m || m->phase != MIG_S_RB_REPLUG)
		return;
	if (!r->err && r->present) {
		hlog(HLOG_INFO, "vm %s: VF %s is still in the VM: no re-plug", v->cfg.name, v->vf_id);
	} else {
		if (r->err)
			hlog(HLOG_WARN, "vm %s: query-pci: %s (re-plugging the VF)", v->cfg.name, r->msg);
		mig_rb_plug(m);
	}
	mig_enter(m, MIG_S_RB_WAIT_VF);
}

/* RX back to the path the guest listens on while its VF is away (rollback, VF lost). */
void mig_rx_to_standby(struct mig *m)
{
	char err[512];

	if (step_rx_to_standby(m->v, mig_steer(m), err, sizeof(err)))
		hlog(HLOG_WARN, "%s", err);
}

/* --force without an agent: RX to the standby once the VF is gone (plain QEMU order). */
void mig_plain_rx_to_standby(struct mig *m)
{
	char err[512];

	if (m->steered_standby)
		return;
	if (step_rx_to(m->v, ESW_TO_STANDBY, mig_steer(m), err, sizeof(err))) {
		hlog(HLOG_WARN, "%s", err);
		return;
	}
	m->steered_standby = 1;
}

static void enter_s_dest_prepare(struct mig *m)
{
	struct hb_msg r;
	struct vm *v = m->v;
	const struct hostd_config *c = &m->v->d->cfg;

	hb_msg_init(&r, HB_MSG_MIGRATE_PREPARE, 0);
	r.u.migrate_prepare.vm = v->cfg.name;
	memcpy(r.u.migrate_prepare.mac, v->mac, 6);
	r.u.migrate_prepare.mode = (uint8_t)v->cfg.mode;
	r.u.migrate_prepare.source = c->host;
	if (m->force_no_agent) {        /* D: plain QEMU order at RESUME */
		r.u.migrate_prepare.agent = 0;
		HB_MARK(&r.u.migrate_prepare, MIGRATE_PREPARE, AGENT);
	}
	if (peer_send(m->pc, &r)) {
		mig_fail(m, "peer %s: cannot send MIGRATE_PREPARE", m->peer);
		return;
	}
	loop_timer_arm(m->timer, MIG_DEST_PREPARE_TIMEOUT_MS);
}

static void enter_s_steer_standby(struct mig *m)
{
	struct vm *v = m->v;
	char err[512];
	int rc;

	if (m->force_no_agent) {
		/* no agent, no tc redirect: net_failover drops standby RX while its
		 * VF is registered, so RX stays on the VF until the VF is gone
		 * (bond: DEVICE_DELETED; failover: MIGRATION "active") */
		mig_enter(m, MIG_S_SWITCH_TX);
		return;
	}
	rc = step_rx_to(v, ESW_TO_STANDBY, mig_steer(m), err, sizeof(err));
	if (rc) {
		mig_fail(m, "%s", err);
		return;
	}
	m->steered_standby = 1;
	mig_enter(m, MIG_S_SWITCH_TX);
}

static void enter_s_switch_tx(struct mig *m)
{
	struct vm *v = m->v;
	int rc;

	if (!vm_guest_ready(v)) {          /* --force without an agent */
		mig_enter(m, v->cfg.mode == VM_MODE_BOND ? MIG_S_UNPLUG_VF : MIG_S_MIGRATING);
		return;
	}
	rc = step_pin_tx_standby(v, NULL);
	if (rc < 0)
		mig_fail_rc(m, rc, "PREPARE_SWITCH");
}

static void enter_s_unplug_vf(struct mig *m)
{
	struct vm *v = m->v;
	int rc;

	if (vfw_vf_deleted(v)) {
		/* someone removed the VF before (vfwatch.c): nothing to unplug; a
		 * rollback plugs a fresh one */
		m->unplug_sent = m->vf_unplugged = 1;
		mig_enter(m, MIG_S_MIGRATING);
		return;
	}
	rc = v->hvo->vf_unplug(v->hv, v->vf_id, mig_hv_done, v);
	if (rc) {
		mig_fail_rc(m, rc, "device_del %s", v->vf_id);
		return;
	}
	m->unplug_sent = 1;
	loop_timer_arm(m->timer, MIG_UNPLUG_TIMEOUT_MS);
}

static void enter_s_migrating(struct mig *m)
{
	m->drv->migrate(m);     /* migrate_drivers.c */
}

static void enter_s_stopped(struct mig *m)
{
	/* MIGRATE_STOPPED already went out (mig_send_stopped) before this journal write */
	loop_timer_arm(m->timer, MIG_MIGRATE_TIMEOUT_MS);
}

static void enter_s_cancel(struct mig *m)
{
	struct vm *v = m->v;
	int rc;

	/* m->err says why; QEMU's MIGRATION cancelled/failed -> ROLLBACK, completed ->
	 * the VM is on D after all (mig_cancel_too_late) */
	m->cancel_polls = 0;
	if (!v->hv || !v->hvo->ready(v->hv)) {
		m->mig_ended = 1;       /* no QEMU session: nothing is migrating */
		mig_enter(m, MIG_S_ROLLBACK);
		return;
	}
	rc = v->hvo->migrate_cancel(v->hv, cancel_done, v);
	if (rc)
		hlog(HLOG_WARN, "vm %s: migrate_cancel not sent: %s", v->cfg.name,
		     strerror(-rc));
	loop_timer_arm(m->timer, MIG_CANCEL_POLL_MS);
}

static void enter_s_dest_switchback(struct mig *m)
{
	const struct hostd_config *c = &m->v->d->cfg;

	if (m->finished_rcvd) { /* D was quicker than our final statistics */
		mig_enter(m, MIG_S_CLEANUP);
		return;
	}
	if (!m->pc) {   /* D's daemon is gone: it finishes (or recovers) on its own */
		if (!m->d_text[0])
			(void)snprintf(m->d_text, sizeof(m->d_text), "no peer channel to %s: "
				       "its daemon finishes the fast path on its own", m->peer);
		mig_enter(m, MIG_S_CLEANUP);
		return;
	}
	loop_timer_arm(m->timer, c->vf_up_timeout_ms + c->resume_deadline_ms +
		       MIG_FINISH_SLACK_MS);
}

static void enter_s_cleanup(struct mig *m)
{
	struct vm *v = m->v;
	char err[512];
	int rc;

	v->here = 0;
	if (v->hv)
		v->hvo->quit(v->hv, NULL, NULL);
	rc = step_rx_to(v, ESW_TO_NONE, mig_steer(m), err, sizeof(err));
	if (rc)
		hlog(HLOG_WARN, "%s", err);
	if (v->cfg.cleanup[0] && mig_spawn(m, v->cfg.cleanup, mig_cleanup_done) == 0)
		return;
	mig_enter(m, MIG_S_DONE);
}

static void enter_s_done(struct mig *m)
{
	mig_end(m, 1);
}

static void enter_s_rollback(struct mig *m)
{
	struct vm *v = m->v;
	const struct hostd_config *c = &m->v->d->cfg;
	char err[512];

	if (!m->rb_t0) {
		m->rb_t0 = loop_now_ms();
		if (m->stopped && c->uplink[0]) {
			/* the fabric may already point at the destination: take the MAC back */
			if (announce_rarp(c->uplink, v->mac, MIG_ANNOUNCE_COUNT, err,
					  sizeof(err)))
				hlog(HLOG_WARN, "vm %s: %s", v->cfg.name, err);
		}
		mig_send_result(m, 0, m->err);
		if (m->migrate_sent && v->hv)
			v->hvo->query_status(v->hv, status_cont_done, v);
	}
	if (!m->steered_standby && !m->unplug_sent && !m->migrate_sent) {
		mig_enter(m, MIG_S_FAILED);     /* nothing moved */
		return;
	}
	if (v->cfg.mode == VM_MODE_BOND && m->unplug_sent && !m->vf_unplugged &&
	    !m->recovering) {
		/* device_del is under way: re-plug only once it is gone */
		loop_timer_arm(m->timer, MIG_UNPLUG_TIMEOUT_MS);
		return;
	}
	if (v->cfg.mode == VM_MODE_BOND && (m->unplug_sent || m->recovering)) {
		mig_enter(m, MIG_S_RB_REPLUG);
		return;
	}
	/* failover: a failed migration makes QEMU re-plug the primary itself */
	if (m->migrate_sent)
		vm_vf_forget(v);
	mig_enter(m, MIG_S_RB_WAIT_VF);
}

static void enter_s_rb_replug(struct mig *m)
{
	struct vm *v = m->v;

	/* bond: a fresh id (QEMU 7.2 refuses the old one), unless the VF is still there */
	if (v->hv && v->hvo->query_vf && v->hvo->ready(v->hv) && !m->vf_unplugged &&
	    v->hvo->query_vf(v->hv, v->vf_id, NULL, rb_vf_query_done, v) == 0)
		return;
	mig_rb_plug(m);
	mig_enter(m, MIG_S_RB_WAIT_VF);
}

static void enter_s_rb_wait_vf(struct mig *m)
{
	uint64_t spent = loop_now_ms() - m->rb_t0;
	const struct hostd_config *c = &m->v->d->cfg;

	if (spent >= c->vf_up_timeout_ms) {
		mig_err_more(m, "rolled back, but the VF did not come back within %u ms: VM "
			     "stays on the standby", c->vf_up_timeout_ms);
		mig_rx_to_standby(m);
		mig_enter(m, MIG_S_FAILED);
		return;
	}
	loop_timer_arm(m->timer, c->vf_up_timeout_ms - spent);
	if (m->force_no_agent) {
		/* no agent to ask: plain QEMU order, RX to the VF at once */
		mig_enter(m, MIG_S_RB_FAST_PATH);
		return;
	}
	(void)fastpath_wait(&m->fp, FASTPATH_POLL | FASTPATH_NOW);
}

static void enter_s_rb_fast_path(struct mig *m)
{
	struct vm *v = m->v;
	const struct hostd_config *c = &m->v->d->cfg;
	char err[512];
	int rc;

	if (loop_now_ms() - m->rb_t0 >= (uint64_t)c->vf_up_timeout_ms + c->resume_deadline_ms) {
		mig_err_more(m, "rolled back, but the guest did not keep its fast path within "
			     "%u ms: VM stays on the standby", c->vf_up_timeout_ms +
			     c->resume_deadline_ms);
		mig_rx_to_standby(m);
		mig_enter(m, MIG_S_FAILED);
		return;
	}
	if (!m->force_no_agent) {
		/* the answer decides (mig_rb_fast_path_done); RX stays on the VF meanwhile */
		(void)fastpath_attempt(&m->fp, 1);
		return;
	}
	/* no agent to ask: RX to the VF and done */
	rc = step_rx_to(v, ESW_TO_VF, mig_steer(m), err, sizeof(err));
	if (rc < 0) {
		hlog(HLOG_ERR, "%s", err);
		mig_err_more(m, "rollback: %s", err);
	} else {
		(void)snprintf(m->note, sizeof(m->note), "rolled back: " MIG_NO_AGENT_TEXT);
	}
	mig_enter(m, MIG_S_FAILED);
}

/* FAST -> RB_SETTLE; refused (busy: a PREPARE_SWITCH still draining), timed out, not
 * sent, or the VF not usable yet -> retry while the rollback's budget lasts */
void mig_rb_fast_path_done(struct mig *m, const struct fastpath_result *r)
{
	switch (r->outcome) {
	case FASTPATH_UP:
		mig_enter(m, MIG_S_RB_SETTLE);  /* its STATUS follows; settle on it */
		return;
	case FASTPATH_STEER_FAILED:
		hlog(HLOG_ERR, "%s", r->why);
		mig_err_more(m, "rollback: %s", r->why);
		mig_enter(m, MIG_S_FAILED);
		return;
	case FASTPATH_REFUSED:
		hlog(HLOG_WARN, "vm %s: rollback: RESUME_FAST_PATH: %s: retrying", m->v->cfg.name,
		     r->why ? r->why : "the guest stays on the standby");
		break;
	case FASTPATH_NOT_ASKED:
		break;
	}
	loop_timer_arm(m->timer, MIG_RB_RETRY_MS);
}

static void enter_s_rb_settle(struct mig *m)
{
	/* a late VF change (vanish, re-plug, TX pinned again) sends us back */
	loop_timer_arm(m->timer, MIG_RB_SETTLE_MS);
}

static void enter_s_failed(struct mig *m)
{
	mig_end(m, 0);
}

int mig_start_source(struct vm *v, const char *peer, int force, const struct op_sink *sink,
		     char *err, size_t errlen)
{
	const struct peer_config *pcfg = config_peer(&v->d->cfg, peer);
	struct peer_conn *pc;
	struct mig *m;
	int rc;

	if (mig_of(v)) {
		(void)snprintf(err, errlen, "vm %s: a migration is already in progress", v->cfg.name);
		return -EBUSY;
	}
	if (v->op) {
		(void)snprintf(err, errlen, "vm %s: busy (a %s in progress): migrate it when that "
			       "is done", v->cfg.name, v->op->ops->what);
		return -EBUSY;
	}
	rc = vfw_busy(v, err, errlen);
	if (rc)
		return rc;
	if (!v->here || !v->hv || !v->hvo->ready(v->hv)) {
		(void)snprintf(err, errlen, "vm %s: not running here (no QMP session)", v->cfg.name);
		return -ENOENT;
	}
	if (!pcfg) {
		(void)snprintf(err, errlen, "no peer '%s' in the configuration ([peer %s])", peer, peer);
		return -ENOENT;
	}
	if (vm_config_libvirt(&v->cfg) && !pcfg->libvirt_uri[0]) {
		(void)snprintf(err, errlen, "vm %s is a libvirt domain: [peer %s] needs libvirt_uri "
			       "(how this host's libvirtd reaches %s's, e.g. qemu+tls://%s/system)",
			       v->cfg.name, peer, peer, peer);
		return -EINVAL;
	}
	if (!force) {
		if (!vm_guest_ready(v)) {
			(void)snprintf(err, errlen, "vm %s: no guest agent session (no HELLO/STATUS); "
				 "--force migrates in plain QEMU order (packet loss)", v->cfg.name);
			return -ENOTCONN;
		}
		if (!v->pair.sb_link || !v->pair.sb_carrier) {
			(void)snprintf(err, errlen, "vm %s: the guest's standby %s has no %s: it cannot "
				 "carry the traffic", v->cfg.name, v->pair.standby,
				 v->pair.sb_link ? "carrier" : "link");
			return -ENETDOWN;
		}
	}
	rc = vm_esw_ready(v, err, errlen);
	if (rc)
		return rc;
	pc = peer_connect_to(v->d->l, v->d->tls, pcfg, &mig_peer_ops, v, &rc);
	if (!pc) {
		(void)snprintf(err, errlen, "peer %s (%s) unreachable: %s", peer,
			       config_peer_tls(pcfg) ? pcfg->address : pcfg->socket, strerror(-rc));
		return rc;
	}
	m = mig_new(v, MIG_SOURCE, peer, mig_drv_hybond(v));
	if (!m) {
		peer_conn_free(pc);
		return -ENOMEM;
	}
	m->pc = pc;
	if (sink)
		m->sink = *sink;
	m->force = force;
	m->force_no_agent = force && !vm_guest_ready(v);
	if (m->force_no_agent)
		hlog(HLOG_WARN, "vm %s: --force: no guest agent, plain QEMU order (expect loss)",
		     v->cfg.name);
	mig_journal_init(m, v->d->cfg.host, peer);
	mig_enter(m, MIG_S_PREFLIGHT);
	mig_enter(m, MIG_S_DEST_PREPARE);
	return 0;
}

/* ---- cancel ------------------------------------------------------------------------ */
int mig_cancel(struct vm *v, char *msg, size_t len)
{
	struct mig *m = mig_of(v);

	if (!m) {
		(void)snprintf(msg, len, "vm %s: no migration in progress", v->cfg.name);
		return -ENOENT;
	}
	if (m->role == MIG_DEST) {
		(void)snprintf(msg, len, "vm %s: this host is the destination of the migration "
			       "from %s: cancel it there (hybond cancel %s on %s)", v->cfg.name,
			       m->peer, v->cfg.name, m->peer);
		return -EINVAL;
	}
	switch (m->phase) {
	case MIG_S_PREFLIGHT:
	case MIG_S_DEST_PREPARE:
	case MIG_S_STEER_STANDBY:
	case MIG_S_SWITCH_TX:
	case MIG_S_UNPLUG_VF:
	case MIG_S_MIGRATING:
		(void)snprintf(msg, len, "vm %s: cancelling in %s: %s", v->cfg.name,
			       mig_phase_names[m->phase], m->migrate_sent ?
			       "migrate_cancel sent, rolling back once QEMU confirms" :
			       "rolling back to the fast path");
		m->cancelled = 1;
		mig_fail(m, "cancelled by the operator (hybond cancel) in %s",
			 mig_phase_names[m->phase]);
		return 0;
	case MIG_S_STOPPED:
		(void)snprintf(msg, len, "vm %s: the VM is in stop-and-copy; it completes or fails "
			       "on its own", v->cfg.name);
		return -EBUSY;
	case MIG_S_DEST_SWITCHBACK:
	case MIG_S_CLEANUP:
	case MIG_S_DONE:
		(void)snprintf(msg, len, "vm %s: the migration completed, the VM runs on %s (%s): "
			       "migrate it back instead", v->cfg.name, m->peer,
			       mig_phase_names[m->phase]);
		return -EBUSY;
	default:
		(void)snprintf(msg, len, "vm %s: already %s (%s)", v->cfg.name,
			       m->phase == MIG_S_CANCEL ? "cancelling" :
			       m->phase == MIG_S_RECOVER ? "recovering after a restart" :
			       "rolling back", mig_phase_names[m->phase]);
		return -EALREADY;
	}
}

void (*const mig_source_enter[MIG_N_PHASES])(struct mig *m) = {
	[MIG_S_DEST_PREPARE] = enter_s_dest_prepare,
	[MIG_S_STEER_STANDBY] = enter_s_steer_standby,
	[MIG_S_SWITCH_TX] = enter_s_switch_tx,
	[MIG_S_UNPLUG_VF] = enter_s_unplug_vf,
	[MIG_S_MIGRATING] = enter_s_migrating,
	[MIG_S_STOPPED] = enter_s_stopped,
	[MIG_S_CANCEL] = enter_s_cancel,
	[MIG_S_DEST_SWITCHBACK] = enter_s_dest_switchback,
	[MIG_S_CLEANUP] = enter_s_cleanup,
	[MIG_S_DONE] = enter_s_done,
	[MIG_S_ROLLBACK] = enter_s_rollback,
	[MIG_S_RB_REPLUG] = enter_s_rb_replug,
	[MIG_S_RB_WAIT_VF] = enter_s_rb_wait_vf,
	[MIG_S_RB_FAST_PATH] = enter_s_rb_fast_path,
	[MIG_S_RB_SETTLE] = enter_s_rb_settle,
	[MIG_S_FAILED] = enter_s_failed,
	[MIG_S_RECOVER] = mig_enter_recover,
};
