// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/ops/migrate_recover.c — a migration a previous daemon left in the
 * journal: QEMU's view first, then the phases join the state machine (docs/host-agent.md).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "migrate_int.h"

static void rec_status_done(void *arg, const struct hv_result *r)
{
	struct vm *v = arg;
	struct mig *m = mig_of(v);

	if (!m || (m->phase != MIG_S_RECOVER && m->phase != MIG_D_RECOVER))
		return;
	m->rec_querying = 0;
	if (r->err) {
		hlog(HLOG_WARN, "vm %s: recovery: query-status: %s (asking again)", v->cfg.name,
		     r->msg);
		return;         /* the timer or the next QMP session asks again */
	}
	(void)snprintf(m->rec_status, sizeof(m->rec_status), "%s", r->status);
	mig_rec_decide(m, r->running);
}

static void rec_migrate_done(void *arg, const struct hv_result *r)
{
	struct vm *v = arg;
	struct mig *m = mig_of(v);

	if (!m || m->phase != MIG_S_RECOVER)
		return;
	if (r->err) {
		m->rec_querying = 0;
		hlog(HLOG_WARN, "vm %s: recovery: query-migrate: %s", v->cfg.name, r->msg);
		return;
	}
	m->info = r->mig;
	if (!v->hv || v->hvo->query_status(v->hv, rec_status_done, v))
		m->rec_querying = 0;
}

void mig_rec_query(struct mig *m)
{
	struct vm *v = m->v;
	int rc;

	if (m->rec_querying || !v->hv || !v->hvo->ready(v->hv))
		return;
	m->rec_querying = 1;
	rc = m->role == MIG_SOURCE ? v->hvo->query_migrate(v->hv, rec_migrate_done, v) :
				     v->hvo->query_status(v->hv, rec_status_done, v);
	if (rc)
		m->rec_querying = 0;
}

void mig_enter_recover(struct mig *m)
{
	struct vm *v = m->v;
	char err[512];

	/* not journalled; wait for the QMP session, then ask QEMU (mig_rec_query) */
	loop_timer_arm(m->timer, MIG_RECOVER_QMP_MS);
	if (!v->hv && (v->cfg.qmp[0] || m->drv->libvirt) && vm_attach(v, err, sizeof(err))) {
		mig_recover_no_qemu(m, err);
		return;
	}
	if (!v->hv) {
		mig_recover_no_qemu(m, "no QMP socket known for it (qmp, or the journal's)");
		return;
	}
	mig_rec_query(m);   /* now, or from mig_on_hv_ready() */
}

/* ---- recovery ---------------------------------------------------------------------- */
/* The VM's QEMU does not answer here. */
void mig_recover_no_qemu(struct mig *m, const char *why)
{
	struct vm *v = m->v;
	int j = m->rec_phase;

	if (m->role == MIG_DEST) {
		/* an incoming QEMU that is gone failed its migration; one that ran the VM
		 * died with it: either way nothing runs here, clean up */
		mig_err(m, "recovery from %s: the VM's QEMU on %s does not answer (%s): cleaned up",
			mig_phase_names[j], v->d->cfg.host, why);
		mig_enter(m, MIG_D_ABORT);
		return;
	}
	if (j >= MIG_S_DEST_SWITCHBACK && j <= MIG_S_DONE) {
		/* the VM had left: the source QEMU is gone, finish the cleanup */
		mig_enter(m, MIG_S_CLEANUP);
		return;
	}
	hlog(HLOG_ERR, "vm %s: recovering a migration left in %s: the source QEMU does not "
	     "answer (%s): where the VM runs is unknown; check by hand (journal %s/%s.migrate.json "
	     "kept)", v->cfg.name, mig_phase_names[j], why, v->d->j ? jrnl_dir(v->d->j) : "-",
	     v->cfg.name);
	mig_free(v);
}

/* QEMU answered (query-migrate, query-status): join the state machine. */
void mig_rec_decide(struct mig *m, int running)
{
	struct vm *v = m->v;
	const char *ms = m->info.status, *st = m->rec_status;
	int j = m->rec_phase;

	hlog(HLOG_INFO, "vm %s: recovery from %s: QEMU is %s, migration %s", v->cfg.name,
	     mig_phase_names[j], st, ms[0] ? ms : "none");
	if (m->role == MIG_DEST) {
		if (running || (j >= MIG_D_RESUMED && strcmp(st, "inmigrate") != 0)) {
			v->here = 1;
			mig_enter(m, j <= MIG_D_RESUMED || m->force_no_agent ? MIG_D_RESUMED :
				  MIG_D_WAIT_VF);
		} else if (j == MIG_D_ANNOUNCED && !strcmp(st, "inmigrate")) {
			mig_enter(m, MIG_D_ANNOUNCED);  /* the stream goes on QEMU to QEMU */
		} else {
			/* before MIGRATE_STOPPED the source cancels when our channel drops */
			mig_fail(m, "recovery from %s: the incoming QEMU is %s (the source gave up "
				 "when this daemon stopped)", mig_phase_names[j], st);
		}
		return;
	}
	if (!strcmp(ms, "completed") || !strcmp(st, "postmigrate")) {
		m->stopped = 1;
		(void)snprintf(m->d_text, sizeof(m->d_text), "the migration completed while the "
			       "daemon was down (left in %s)", mig_phase_names[j]);
		mig_enter(m, MIG_S_CLEANUP);
	} else if (mig_status_active(ms)) {
		m->migrate_sent = 1;
		mig_err(m, "daemon restarted in %s: migration cancelled", mig_phase_names[j]);
		mig_enter(m, MIG_S_CANCEL);
	} else {
		if (ms[0] && strcmp(ms, "none") != 0)
			m->migrate_sent = 1;
		m->mig_ended = 1;
		mig_err(m, "daemon restarted in %s (QEMU: migration %s): rolled back",
			mig_phase_names[j], ms[0] ? ms : "none");
		mig_enter(m, MIG_S_ROLLBACK);
	}
}

/*
 * Recovery at start (journal left by a previous daemon): the facts come from the
 * journal, where the VM runs from QEMU.  S_RECOVER / D_RECOVER wait for the QMP
 * session and decide (mig_rec_decide); the table is in docs/host-agent.md.
 */
void mig_recover(struct vm *v, const struct jrnl_op *op)
{
	struct mig *m;
	int i, phase = -1;
	const char *s;

	for (i = 0; i < MIG_N_PHASES; i++)
		if (!strcmp(op->phase, mig_phase_names[i]))
			phase = i;
	if (mig_of(v))
		return;         /* already recovering (a second pass) */
	if (v->op) {
		hlog(HLOG_WARN, "vm %s: journal: a migration left in %s, but a %s runs: not "
		     "recovered (journal kept: check where the VM runs)", v->cfg.name, op->phase,
		     v->op->ops->what);
		return;
	}
	if (phase < 0 || phase == MIG_S_RECOVER || phase == MIG_D_RECOVER) {
		hlog(HLOG_WARN, "vm %s: journal phase %s not recoverable: check by hand",
		     v->cfg.name, op->phase);
		return;
	}
	m = mig_new(v, phase >= MIG_D_LAUNCH ? MIG_DEST : MIG_SOURCE,
		    phase >= MIG_D_LAUNCH ? op->source : op->dest, mig_drv_hybond(v));
	if (!m)
		return;
	jrnl_op_init(&m->op);
	m->op = *op;
	m->op.extra = NULL;
	m->phase = (enum mig_phase)phase;
	m->rec_phase = phase;
	m->recovering = 1;
	s = jrnl_extra_str(op, "vf_id");
	if (s[0])
		(void)snprintf(v->vf_id, sizeof(v->vf_id), "%s", s);
	if ((unsigned)jrnl_extra_int(op, "vf_seq") > v->vf_seq)
		v->vf_seq = (unsigned)jrnl_extra_int(op, "vf_seq");
	m->migrate_sent = jrnl_extra_int(op, "migrate_sent");
	m->stopped = jrnl_extra_int(op, "stopped") || phase == MIG_S_STOPPED;
	m->unplug_sent = jrnl_extra_int(op, "unplug_sent") || phase == MIG_S_UNPLUG_VF;
	m->vf_unplugged = jrnl_extra_int(op, "vf_unplugged");
	m->force_no_agent = jrnl_extra_int(op, "no_agent");
	/* (the journal is written before a phase's action: S_STEER_STANDBY may have steered) */
	m->steered_standby = jrnl_extra_int(op, "steered_standby") ||
			     (m->role == MIG_SOURCE && (op->steer_src == JRNL_STEER_STANDBY ||
							phase >= MIG_S_STEER_STANDBY));
	(void)snprintf(m->uri, sizeof(m->uri), "%s", jrnl_extra_str(op, "uri"));
	if (!v->cfg.qmp[0])
		(void)snprintf(v->cfg.qmp, sizeof(v->cfg.qmp), "%s", jrnl_extra_str(op, "qmp"));
	if (!v->cfg.agent[0])
		(void)snprintf(v->cfg.agent, sizeof(v->cfg.agent), "%s", jrnl_extra_str(op, "agent"));
	(void)snprintf(m->note, sizeof(m->note), "recovered after a daemon restart in %s",
		       op->phase);
	hlog(HLOG_WARN, "vm %s: recovering a migration left in %s: waiting for QEMU's view",
	     v->cfg.name, op->phase);
	mig_enter(m, m->role == MIG_SOURCE ? MIG_S_RECOVER : MIG_D_RECOVER);
}
