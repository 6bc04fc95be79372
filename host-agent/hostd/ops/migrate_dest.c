// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/ops/migrate_dest.c — the destination of a migration: LAUNCH to the fast
 * path, ON_STANDBY retries, ABORT (the story: migrate.c).
 */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host-agent/hostd/peer/peer.h"
#include "migrate_int.h"
#include "steps.h"

void mig_incoming_done(void *arg, const struct hv_result *r)
{
	struct vm *v = arg;
	struct mig *m = mig_of(v);
	struct hb_msg rep;

	if (!m || m->phase != MIG_D_INCOMING)
		return;
	if (r->err) {
		mig_fail(m, "migrate-incoming %s: %s", m->uri, r->msg);
		return;
	}
	hb_msg_init_answer(&rep, HB_MSG_MIGRATE_READY, m->prepare_seq);
	rep.u.migrate_ready.vm = v->cfg.name;
	rep.u.migrate_ready.uri = m->uri;
	if (peer_send(m->pc, &rep))
		mig_fail(m, "peer %s: cannot answer MIGRATE_PREPARE", m->peer);
}

/* ---------------- destination ---------------- */
static void enter_d_launch(struct mig *m)
{
	struct vm *v = m->v;
	int rc;

	if (m->drv->libvirt && !v->cfg.launcher[0]) {     /* libvirt starts the incoming QEMU */
		mig_launch_done(m, 0);
		return;
	}
	rc = mig_spawn(m, v->cfg.launcher, mig_launch_done);
	if (rc) {
		mig_fail_rc(m, rc, "launcher '%s'", v->cfg.launcher);
		return;
	}
	loop_timer_arm(m->timer, MIG_DEST_PREPARE_TIMEOUT_MS);
}

static void enter_d_hook_wait(struct mig *m)
{
	const struct hostd_config *c = &m->v->d->cfg;

	/* MIGRATE_INCOMING sent: the source switches to the standby; the hook waits */
	loop_timer_arm(m->timer, c->hook_wait_ms);
}

static void enter_d_incoming(struct mig *m)
{
	m->drv->incoming(m);    /* migrate_drivers.c */
}

static void enter_d_announced(struct mig *m)
{
	if (m->recovering)      /* the incoming QEMU resumes, or exits on a failure */
		loop_timer_arm(m->timer, MIG_MIGRATE_TIMEOUT_MS);
}

static void enter_d_resumed(struct mig *m)
{
	struct vm *v = m->v;
	char err[512];
	int rc;

	v->here = 1;
	m->t_resumed = loop_now_ms();
	vm_vf_forget(v);
	if (v->cfg.mode == VM_MODE_BOND && step_vf_plug(v, v->vf_id, mig_hv_done, v))
		hlog(HLOG_WARN, "vm %s: VF device_add not sent", v->cfg.name);
	if (m->force_no_agent) {
		/* no guest agent to wait for: plain QEMU order, the MAC to the VF port
		 * now, as QEMU and the NIC would; nobody can verify the fast path */
		rc = step_rx_to(v, ESW_TO_VF, mig_steer(m), err, sizeof(err));
		if (rc) {
			mig_err(m, "%s", err);
			mig_enter(m, MIG_D_ON_STANDBY);
			return;
		}
		mig_enter(m, MIG_D_DONE);
		return;
	}
	mig_enter(m, MIG_D_WAIT_VF);
}

static void enter_d_wait_vf(struct mig *m)
{
	loop_timer_arm(m->timer, m->v->d->cfg.vf_up_timeout_ms);
	(void)fastpath_wait(&m->fp, FASTPATH_NOW);
}

static void enter_d_fast_path(struct mig *m)
{
	if (!m->t_vf_up)
		m->t_vf_up = loop_now_ms();
	/* RX to the VF port, RESUME_FAST_PATH; the answer decides (mig_dest_fast_path_done) */
	(void)fastpath_attempt(&m->fp, 0);
}

void mig_dest_fast_path_done(struct mig *m, const struct fastpath_result *r)
{
	if (r->outcome == FASTPATH_UP) {
		mig_enter(m, MIG_D_DONE);
		return;
	}
	/* RX is back on the standby the guest listens on */
	if (r->outcome == FASTPATH_REFUSED)
		mig_err(m, "RESUME_FAST_PATH: %s", r->why ? r->why : "still on standby");
	else
		mig_err(m, "%s", r->why);
	mig_enter(m, MIG_D_ON_STANDBY);
}

static void enter_d_done(struct mig *m)
{
	mig_send_finished(m, HB_PATH_FAST, m->force_no_agent ? MIG_NO_AGENT_TEXT : "fast path up");
	mig_end(m, 1);
}

static void enter_d_on_standby(struct mig *m)
{
	struct vm *v = m->v;

	/* the journal says where RX is: a steer back that failed left it on the VF */
	if (v->rx_steer == ESW_TO_STANDBY || v->rx_steer == ESW_TO_VF)
		*mig_steer(m) = v->rx_steer == ESW_TO_STANDBY ? JRNL_STEER_STANDBY :
				JRNL_STEER_VF;
	mig_send_finished(m, HB_PATH_STANDBY, m->err[0] ? m->err : "VF not up in the guest");
	m->retry_ms = m->retry_ms ? m->retry_ms * 2 : MIG_RETRY_MIN_MS;
	if (m->retry_ms > MIG_RETRY_MAX_MS)
		m->retry_ms = MIG_RETRY_MAX_MS;
	loop_timer_arm(m->timer, m->retry_ms);
	(void)fastpath_wait(&m->fp, 0);         /* a VF that comes up moves us on */
}

static void enter_d_abort(struct mig *m)
{
	struct vm *v = m->v;
	char err[512];

	if (m->pc) {    /* the reason to the source: its CLI shows it, not "lost the peer" */
		struct hb_msg e;

		hb_msg_init_answer(&e, HB_MSG_ERROR, m->prepare_seq);
		e.u.error.code = HB_ERR_INTERNAL;
		e.u.error.text = m->err;
		e.u.error.req_type = HB_MSG_MIGRATE_PREPARE;
		HB_MARK(&e.u.error, ERROR, REQ_TYPE);
		(void)peer_send(m->pc, &e);
	}
	mig_hook_answer(m, 0, "refused", m->err[0] ? m->err : "hybond could not prepare the "
		    "destination");
	if (v->hv && !m->drv->libvirt)    /* libvirt tears its incoming domain down itself */
		v->hvo->quit(v->hv, NULL, NULL);
	if ((v->ports_ok || m->recovering) &&
	    step_rx_to(v, ESW_TO_NONE, mig_steer(m), err, sizeof(err)))
		hlog(HLOG_WARN, "%s", err);
	v->here = 0;
	if (v->cfg.cleanup[0] && mig_spawn(m, v->cfg.cleanup, mig_cleanup_done) == 0)
		return;
	mig_end(m, 0);
}

/* The MAC to the standby port from the start, the announce socket ready, the standby
 * tap's queue sized (QMP and libvirt destinations alike).  0 or mig_fail()ed. */
int mig_dest_standby_first(struct mig *m)
{
	struct vm *v = m->v;
	char err[512];
	int rc;

	v->ports_ok = 0;
	rc = step_rx_to(v, ESW_TO_STANDBY, mig_steer(m), err, sizeof(err));
	if (rc) {
		mig_fail(m, "%s", err);
		return rc;
	}
	/* the announce at STOP must be one sendto(): socket and ifindex ready now */
	if (v->d->cfg.uplink[0] && announcer_open(&m->ann, v->d->cfg.uplink, v->mac, err,
						  sizeof(err)))
		hlog(HLOG_WARN, "vm %s: %s (the announce at STOP will open its own socket)",
		     v->cfg.name, err);
	rc = link_set_txqlen(v->cfg.standby_port, v->d->cfg.txqueuelen, err, sizeof(err));
	if (rc)
		hlog(HLOG_WARN, "vm %s: %s (frames beyond the default queue are lost during "
		     "stop-and-copy)", v->cfg.name, err);
	return 0;
}

/* libvirt destination: the prepare command (if any) is done, libvirt will start the
 * incoming domain; `virsh migrate`: ask the source daemon to switch first. */
static void launch_done_libvirt(struct mig *m)
{
	struct vm *v = m->v;
	const struct peer_config *pcfg;
	struct hb_msg r;
	char err[512];
	int rc = 0;

	if (mig_dest_standby_first(m))
		return;
	if (!v->hv && vm_attach(v, err, sizeof(err))) {
		mig_fail(m, "%s", err);
		return;
	}
	if (!m->drv->external) {
		mig_enter(m, MIG_D_INCOMING);
		return;
	}
	if (!v->d->cfg.libvirt_coordinate) {
		mig_hook_uncoordinated(m, "libvirt_coordinate = 0 in hostd.conf");
		return;
	}
	pcfg = config_peer(&v->d->cfg, m->peer);
	if (!pcfg) {
		(void)snprintf(err, sizeof(err), "no [peer %s] in hostd.conf", m->peer);
		mig_hook_uncoordinated(m, err);
		return;
	}
	m->pc = peer_connect_to(v->d->l, v->d->tls, pcfg, &mig_peer_ops, v, &rc);
	if (!m->pc) {
		(void)snprintf(err, sizeof(err), "peer %s unreachable: %s", m->peer, strerror(-rc));
		mig_hook_uncoordinated(m, err);
		return;
	}
	hb_msg_init(&r, HB_MSG_MIGRATE_INCOMING, 0);
	r.u.migrate_incoming.vm = v->cfg.name;
	memcpy(r.u.migrate_incoming.mac, v->mac, 6);
	r.u.migrate_incoming.dest = v->d->cfg.host;
	if (peer_send(m->pc, &r)) {
		mig_hook_uncoordinated(m, "cannot send MIGRATE_INCOMING");
		return;
	}
	mig_enter(m, MIG_D_HOOK_WAIT);
}

/* Launcher output: lines "qmp=PATH", "agent=PATH", optionally "uri=URI". */
void mig_launch_done(struct mig *m, int status)
{
	struct vm *v = m->v;
	char *save = NULL, *line, err[512], *qdir;
	int rc;

	if (status != 0) {
		mig_fail(m, "launcher exited with status %d", status);
		return;
	}
	if (m->drv->libvirt) {
		launch_done_libvirt(m);
		return;
	}
	for (line = strtok_r(m->child_out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "qmp=", 4))
			(void)snprintf(v->cfg.qmp, sizeof(v->cfg.qmp), "%s", line + 4);
		else if (!strncmp(line, "agent=", 6))
			(void)snprintf(v->cfg.agent, sizeof(v->cfg.agent), "%s", line + 6);
		else if (!strncmp(line, "uri=", 4))
			(void)snprintf(m->uri, sizeof(m->uri), "%s", line + 4);
	}
	if (!v->cfg.qmp[0]) {
		mig_fail(m, "launcher printed no qmp=PATH");
		return;
	}
	if (!m->uri[0]) {
		char tmp[CFG_PATH_MAX];

		(void)snprintf(tmp, sizeof(tmp), "%s", v->cfg.qmp);
		qdir = dirname(tmp);
		(void)snprintf(m->uri, sizeof(m->uri), "unix:%s/mig.sock", qdir);
	}
	/* the standby path from the start: RX for the MAC to the standby port */
	if (mig_dest_standby_first(m))
		return;
	vm_detach(v);            /* a QMP session left from an earlier stay here is dead */
	rc = vm_attach(v, err, sizeof(err));
	if (rc) {
		mig_fail(m, "%s", err);
		return;
	}
	mig_enter(m, MIG_D_INCOMING);
}

int mig_start_dest(struct vm *v, struct peer_conn *pc, const struct hb_msg *req,
		   char *err, size_t errlen)
{
	const struct hb_migrate_prepare *p = &req->u.migrate_prepare;
	struct mig *m;

	if (v->op) {
		(void)snprintf(err, errlen, "vm %s: busy with another %s", v->cfg.name,
			       v->op->ops->what);
		return -EBUSY;
	}
	if (v->here) {
		(void)snprintf(err, errlen, "vm %s already runs on %s", v->cfg.name, v->d->cfg.host);
		return -EEXIST;
	}
	if (memcmp(p->mac, v->mac, 6) != 0 || p->mode != (uint8_t)v->cfg.mode) {
		(void)snprintf(err, errlen, "vm %s: MAC or mode differ from %s's registration",
			 v->cfg.name, v->d->cfg.host);
		return -EINVAL;
	}
	if (!v->cfg.launcher[0] && !vm_config_libvirt(&v->cfg)) {
		(void)snprintf(err, errlen, "vm %s: no launcher configured on %s", v->cfg.name,
			 v->d->cfg.host);
		return -ENOENT;
	}
	m = mig_new(v, MIG_DEST, p->source, mig_drv_hybond(v));
	if (!m)
		return -ENOMEM;
	m->pc = pc;
	peer_conn_set_arg(pc, v);
	m->prepare_seq = req->seq;
	m->force_no_agent = HB_PRESENT(p, MIGRATE_PREPARE, AGENT) && !p->agent;
	if (m->force_no_agent)
		hlog(HLOG_WARN, "vm %s: the source migrates without a guest agent: plain QEMU "
		     "order here (MAC to the VF port at RESUME, unverified)", v->cfg.name);
	(void)snprintf(v->vf_id, sizeof(v->vf_id), "%s", v->cfg.vf_id);
	mig_journal_init(m, p->source, v->d->cfg.host);
	mig_enter(m, MIG_D_LAUNCH);
	return 0;
}

void (*const mig_dest_enter[MIG_N_PHASES])(struct mig *m) = {
	[MIG_D_RECOVER] = mig_enter_recover,
	[MIG_D_LAUNCH] = enter_d_launch,
	[MIG_D_HOOK_WAIT] = enter_d_hook_wait,
	[MIG_D_INCOMING] = enter_d_incoming,
	[MIG_D_ANNOUNCED] = enter_d_announced,
	[MIG_D_RESUMED] = enter_d_resumed,
	[MIG_D_WAIT_VF] = enter_d_wait_vf,
	[MIG_D_FAST_PATH] = enter_d_fast_path,
	[MIG_D_DONE] = enter_d_done,
	[MIG_D_ON_STANDBY] = enter_d_on_standby,
	[MIG_D_ABORT] = enter_d_abort,
};
