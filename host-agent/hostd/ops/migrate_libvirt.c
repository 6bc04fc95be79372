// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/ops/migrate_libvirt.c — libvirt drives the migration (`virsh migrate`):
 * the qemu hook's answer, MIGRATE_INCOMING, and the migrations nobody announced (reactive
 * source, unannounced destination); docs/libvirt.md.
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

/* libvirt: answer the destination's qemu hook, which waits (bounded) at Prepare. */
void mig_hook_answer(struct mig *m, int ok, const char *mode, const char *msg)
{
	json_t *o;

	if (!op_sink_listens(&m->hook))
		return;
	(void)snprintf(m->hook_mode, sizeof(m->hook_mode), "%s", mode);
	/* libvirt takes the hook's XML: the domain now names this host as its own */
	o = json_pack("{s:s, s:s}", "mode", mode, "msg", msg);
	if (o && m->hook_xml)
		(void)json_object_set_new(o, "xml", json_string(m->hook_xml));
	op_finish(&m->hook, ok, o);
}

/* Source of a `virsh migrate`: RX and TX are on the standby, libvirt may go on. */
void mig_send_incoming_ready(struct mig *m)
{
	struct hb_msg rep;

	if (m->ready_sent || !m->pc || m->drv->reactive)
		return;
	hb_msg_init_answer(&rep, HB_MSG_MIGRATE_READY, m->incoming_seq);
	rep.u.migrate_ready.vm = m->v->cfg.name;
	rep.u.migrate_ready.uri = "libvirt";
	if (peer_send(m->pc, &rep) == 0)
		m->ready_sent = 1;
	else
		hlog(HLOG_WARN, "vm %s: MIGRATE_READY to %s not sent: its hook gives up at its "
		     "deadline and the migration goes on", m->v->cfg.name, m->peer);
}

/* Destination of a `virsh migrate` whose source daemon cannot help (unreachable,
 * refused, too slow, libvirt_coordinate = 0): the migration goes on in QEMU's order;
 * the source daemon reacts to UNPLUG_PRIMARY on its own, we announce at RESUME. */
void mig_hook_uncoordinated(struct mig *m, const char *why)
{
	hlog(HLOG_WARN, "vm %s: `virsh migrate` from %s not coordinated: %s; the source daemon "
	     "reacts on its own (expect loss at the unplug)", m->v->cfg.name, m->peer, why);
	if (m->pc) {
		peer_conn_set_arg(m->pc, NULL);
		peer_conn_free(m->pc);
		m->pc = NULL;
	}
	(void)snprintf(m->note, sizeof(m->note), "not coordinated with %s: %.160s", m->peer, why);
	mig_hook_answer(m, 1, "reactive", m->note);
	mig_enter(m, MIG_D_INCOMING);
}

/* No operation runs: QEMU's events may show a migration nobody announced here
 * (ops/idle.c calls this before the VF watch). */
void mig_watch_hv_event(struct vm *v, enum hv_ev ev, const char *detail, uint64_t ts_ms)
{
	if (v->op || !vm_config_libvirt(&v->cfg) || v->cfg.mode != VM_MODE_FAILOVER)
		return;
	if (v->here && (ev == HV_EV_UNPLUG_PRIMARY ||
			(ev == HV_EV_MIGRATION && (!strcmp(detail, "setup") ||
						   !strcmp(detail, "wait-unplug") ||
						   !strcmp(detail, "active"))))) {
		/* a migration nobody told us about (`virsh migrate` whose hook could not
		 * reach us, or none installed): move what we can, as fast as we can */
		mig_start_reactive(v, ev == HV_EV_UNPLUG_PRIMARY ? "UNPLUG_PRIMARY" : detail);
		if (mig_of(v) && ev == HV_EV_MIGRATION && !strcmp(detail, "active"))
			mig_on_hv_event(v, ev, detail, ts_ms);
		return;
	}
	if (ev == HV_EV_RESUME && !v->here) {
		/* an incoming domain nobody announced (no hook installed here) now runs
		 * here: the fast path is ours to finish */
		mig_start_dest_unannounced(v);
	}
}

/* ---- libvirt: `virsh migrate` --------------------------------------------------------- */
/* Source: the destination's hook asked (MIGRATE_INCOMING): RX and TX to the standby,
 * then MIGRATE_READY; libvirt's own job then migrates, we follow QEMU's events. */
int mig_start_source_incoming(struct vm *v, struct peer_conn *pc, const struct hb_msg *req,
			      char *err, size_t errlen)
{
	const struct hb_migrate_incoming *p = &req->u.migrate_incoming;
	struct mig *m;
	int rc;

	if (!vm_config_libvirt(&v->cfg)) {
		(void)snprintf(err, errlen, "vm %s is not a libvirt domain on %s (hv = qmp)",
			       v->cfg.name, v->d->cfg.host);
		return -EINVAL;
	}
	rc = vm_op_busy(v, err, errlen);
	if (rc)
		return rc;
	if (!v->here || !v->hv || !v->hvo->ready(v->hv)) {
		(void)snprintf(err, errlen, "vm %s does not run on %s", v->cfg.name, v->d->cfg.host);
		return -ENOENT;
	}
	if (memcmp(p->mac, v->mac, 6) != 0) {
		(void)snprintf(err, errlen, "vm %s: the domain's MAC differs from %s's registration",
			       v->cfg.name, v->d->cfg.host);
		return -EINVAL;
	}
	if (v->cfg.mode != VM_MODE_FAILOVER) {
		(void)snprintf(err, errlen, "vm %s is a bonding guest: libvirt cannot migrate it "
			       "with its VF; use `hybond migrate %s --to %s`", v->cfg.name,
			       v->cfg.name, p->dest);
		return -EOPNOTSUPP;
	}
	if (!vm_guest_ready(v)) {
		(void)snprintf(err, errlen, "vm %s: no guest agent session: plain QEMU order",
			       v->cfg.name);
		return -ENOTCONN;
	}
	rc = vm_esw_ready(v, err, errlen);
	if (rc)
		return rc;
	m = mig_new(v, MIG_SOURCE, p->dest, &mig_drv_virsh);
	if (!m)
		return -ENOMEM;
	m->pc = pc;
	peer_conn_set_arg(pc, v);
	m->incoming_seq = req->seq;
	hlog(HLOG_INFO, "vm %s: libvirt migrates it to %s: moving RX and TX to the standby first",
	     v->cfg.name, p->dest);
	mig_journal_init(m, v->d->cfg.host, p->dest);
	mig_enter(m, MIG_S_PREFLIGHT);
	mig_enter(m, MIG_S_STEER_STANDBY);
	return 0;
}

/* Source: QEMU began a migration nobody announced (UNPLUG_PRIMARY / MIGRATION setup):
 * RX to the standby at once, TX pinned to the standby (PREPARE_SWITCH); then as an
 * external migration.  The destination is unknown here ("?"): no MIGRATE_STOPPED. */
void mig_start_reactive(struct vm *v, const char *why)
{
	struct mig *m = mig_new(v, MIG_SOURCE, "?", &mig_drv_reactive);

	if (!m)
		return;
	m->migrate_sent = 1;    /* QEMU migrates already */
	hlog(HLOG_WARN, "vm %s: reactive: a migration began without notice (%s): moving the "
	     "datapath to the standby now", v->cfg.name, why);
	(void)snprintf(m->note, sizeof(m->note), "reactive: nobody warned this host (%s)", why);
	mig_journal_init(m, v->d->cfg.host, "?");
	mig_enter(m, MIG_S_PREFLIGHT);
	/* RX first: measured in the lab (docs/benchmarks.md), steering at once loses nothing
	 * at the unplug, steering at SWITCH_DONE loses what arrives on the leaving VF
	 * meanwhile (~80 ms at 1000 pps); the agent's redirect is up before frames reach
	 * the standby */
	mig_plain_rx_to_standby(m);
	mig_enter(m, MIG_S_SWITCH_TX);
}

/* Destination without a hook: the incoming domain resumed here and nobody told us.
 * RX to the standby (the new VF is not up yet), then as after any RESUME. */
void mig_start_dest_unannounced(struct vm *v)
{
	struct mig *m = mig_new(v, MIG_DEST, "?", &mig_drv_reactive);

	if (!m)
		return;
	hlog(HLOG_WARN, "vm %s: the domain resumed here without notice (no hybond hook in "
	     "this host's libvirt?): taking it to the fast path", v->cfg.name);
	(void)snprintf(m->note, sizeof(m->note), "unannounced: no hook told this host");
	(void)snprintf(v->vf_id, sizeof(v->vf_id), "%s", v->cfg.vf_id);
	mig_journal_init(m, "?", v->d->cfg.host);
	if (mig_dest_standby_first(m))
		return;
	vm_gc_restart(v);       /* the agent's socket is there now: no back-off wait */
	mig_enter(m, MIG_D_RESUMED);
}

/* Destination: the qemu hook's `migrate begin` (libvirt's Prepare, before memory
 * moves).  0: the hook gets its answer later (mig_hook_answer); <0: answer now with err. */
int mig_hook_incoming(struct vm *v, const struct op_sink *hook, const char *source, char **xml,
		      char *err, size_t errlen, int *answered)
{
	struct mig *m = mig_of(v);

	*answered = 0;
	if (m && m->role == MIG_DEST && !m->drv->external) {
		/* `hybond migrate` from the source: everything is prepared already */
		*answered = 1;
		(void)snprintf(err, errlen, "hybond migrate from %s in progress (%s)", m->peer,
			       mig_phase_names[m->phase]);
		return 0;
	}
	if (v->op) {
		(void)snprintf(err, errlen, "vm %s: busy with another %s on %s", v->cfg.name,
			       v->op->ops->what, v->d->cfg.host);
		return -EBUSY;
	}
	if (v->here) {
		(void)snprintf(err, errlen, "vm %s already runs on %s", v->cfg.name, v->d->cfg.host);
		return -EEXIST;
	}
	m = mig_new(v, MIG_DEST, source && source[0] ? source : "?", &mig_drv_virsh);
	if (!m)
		return -ENOMEM;
	if (hook)
		m->hook = *hook;
	if (xml) {
		m->hook_xml = *xml;
		*xml = NULL;
	}
	(void)snprintf(v->vf_id, sizeof(v->vf_id), "%s", v->cfg.vf_id);
	mig_journal_init(m, m->peer, v->d->cfg.host);
	if (!source || !source[0])
		(void)snprintf(m->note, sizeof(m->note), "the domain XML names no source host "
			       "(<hybond:vm host=…/> metadata)");
	mig_enter(m, MIG_D_LAUNCH);
	return 0;
}
