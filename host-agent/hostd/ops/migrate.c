// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/ops/migrate.c — live migration without loss, as an explicit state
 * machine.  Source S and destination D each run one `struct mig`; they talk
 * over the peer channel (MIGRATE_* messages).  The order (docs/host-agent.md):
 *
 *  S  PREFLIGHT        agent session + usable standby; D reachable
 *  S  DEST_PREPARE     MIGRATE_PREPARE -> D launches the incoming QEMU
 *  D    LAUNCH           launcher command; D's eswitch steers the MAC to the
 *                        standby port from the start; standby tap queue sized
 *  D    INCOMING         migrate-incoming, MIGRATE_READY(uri) -> S
 *  S  STEER_STANDBY    RX: the MAC's entry moves VF port -> standby port (atomic)
 *  S  SWITCH_TX        PREPARE_SWITCH -> SWITCH_DONE: guest TX pinned to standby
 *  S  UNPLUG_VF        bond: device_del, DEVICE_DELETED (failover: QEMU unplugs)
 *  S  MIGRATING        QMP migrate; progress from query-migrate
 *  S  STOPPED          QMP STOP: MIGRATE_STOPPED -> D
 *  D    ANNOUNCED        D sends a RARP out of its uplink at once: the fabric
 *                        moves the MAC, frames wait in D's standby tap
 *  D    RESUMED          QMP RESUME; bond: device_add the VF
 *  D    WAIT_VF          until the GUEST reports the VF up (never steer before)
 *  D    FAST_PATH        MAC -> D's VF port, RESUME_FAST_PATH -> FAST_PATH_UP;
 *                        MIGRATE_FINISHED -> S
 *  S  DEST_SWITCHBACK  waiting for MIGRATE_FINISHED
 *  S  CLEANUP          quit the source QEMU, MAC entry removed, cleanup command
 *  S  DONE
 * Failure on S once `migrate` was sent: CANCEL (QMP migrate_cancel; nothing is
 * rolled back before QEMU says the migration failed or was cancelled — it may
 * still complete, then the VM is on D).  Then, and for any failure before:
 * ROLLBACK (re-announce if after STOP, cont, MIGRATE_RESULT ok=0) -> RB_REPLUG
 * (bond: device_add with a fresh id unless the VF is still there) -> RB_WAIT_VF
 * -> RB_FAST_PATH (MAC -> VF port, RESUME_FAST_PATH) -> RB_SETTLE (the fast path
 * must hold MIG_RB_SETTLE_MS: QEMU re-plugs a failover primary late, the guest
 * then pins TX again and gets RESUME_FAST_PATH again) -> FAILED.  `hybond cancel`
 * is such a failure, refused from STOPPED on (stop-and-copy ends on its own).
 * Failure on D before RESUME: ABORT (QEMU quit, entry removed).
 * D without a usable VF: ON_STANDBY, retried with back-off.
 * --force without a guest agent: plain QEMU order (S moves RX to its standby
 * only once its VF is gone; D steers to its VF at RESUME, path unverified).
 * libvirt (hv = libvirt, docs/libvirt.md): `hybond migrate` is the same story, but
 * S_MIGRATING is libvirt's peer-to-peer migration to the peer's libvirt_uri and D
 * launches nothing (libvirt's Prepare starts the incoming domain; D's launcher, if
 * any, only prepares taps).  `virsh migrate` (external): D's qemu hook reports
 * `migrate begin` (Prepare, before any memory moves) and waits for our answer:
 *  D    LAUNCH -> HOOK_WAIT  D steers to its standby, MIGRATE_INCOMING -> S, which
 *  S  PREFLIGHT, STEER_STANDBY, SWITCH_TX, MIGRATING: MIGRATE_READY -> D, then
 *                        follows libvirt's job through QEMU's events (STOP ->
 *                        MIGRATE_STOPPED as above)
 *  D    INCOMING ...     the hook is answered, libvirt goes on; then as above.
 * If S cannot be asked (unreachable, refused, hook_wait_ms, libvirt_coordinate = 0)
 * D answers the hook anyway (the operator's migration must not fail for us) and S,
 * seeing QEMU's UNPLUG_PRIMARY (or MIGRATION setup) with no migration known, reacts
 * (mig_start_reactive): RX to the standby and PREPARE_SWITCH at once.  The source
 * domain ending after STOP means libvirt confirmed the migration.  A destination no
 * hook told (none installed) takes the domain to its fast path when it resumes
 * (mig_start_dest_unannounced).
 * Every phase is written to the journal (jrnl) before its action runs, with the
 * facts a restarted daemon needs; S_RECOVER / D_RECOVER (not journalled) wait
 * for the QMP session, ask QEMU where the migration stands, then join the
 * phases above (mig_recover()).
 *
 * The files: this one keeps the core (journal, reports, life, phase entry, failure,
 * timeouts, every input); migrate_source.c and migrate_dest.c each role's phases;
 * migrate_libvirt.c the hook, MIGRATE_INCOMING and the migrations nobody announced;
 * migrate_recover.c the restart; migrate_int.h what they share.
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

#define MIG_NAME_(n) #n,
const char *const mig_phase_names[MIG_N_PHASES] = { MIG_PHASES(MIG_NAME_) };
#undef MIG_NAME_

static uint64_t rt_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t since_ms(const struct mig *m)
{
	return loop_now_ms() - m->t0;
}

/* ---- journal ---------------------------------------------------------------- */
static void mig_journal(struct mig *m)
{
	struct vm *v = m->v;
	int rc;

	if (!v->d->j || m->phase == MIG_S_RECOVER || m->phase == MIG_D_RECOVER)
		return;         /* recovering: the journal keeps the phase the last daemon left */
	(void)snprintf(m->op.phase, sizeof(m->op.phase), "%s", mig_phase_names[m->phase]);
	/* what a restarted daemon needs beyond the phase (mig_recover) */
	json_decref(m->op.extra);
	m->op.extra = json_pack("{s:s, s:i, s:b, s:b, s:b, s:b, s:b, s:b, s:s, s:s, s:s}",
				"vf_id", v->vf_id, "vf_seq", (int)v->vf_seq,
				"migrate_sent", m->migrate_sent, "stopped", m->stopped,
				"unplug_sent", m->unplug_sent, "vf_unplugged", m->vf_unplugged,
				"steered_standby", m->steered_standby, "no_agent", m->force_no_agent,
				"qmp", v->cfg.qmp, "agent", v->cfg.agent, "uri", m->uri);
	rc = jrnl_write(v->d->j, &m->op);
	if (rc)
		hlog(HLOG_WARN, "vm %s: journal write (%s): %s", v->cfg.name, m->op.phase,
		     strerror(-rc));
}

void mig_journal_init(struct mig *m, const char *src, const char *dst)
{
	struct vm *v = m->v;

	jrnl_op_init(&m->op);
	(void)snprintf(m->op.vm, sizeof(m->op.vm), "%s", v->cfg.name);
	m->op.kind = JRNL_MIGRATE;
	m->op.started_ms = (int64_t)hv_realtime_ms();
	(void)snprintf(m->op.source, sizeof(m->op.source), "%s", src);
	(void)snprintf(m->op.dest, sizeof(m->op.dest), "%s", dst);
	(void)snprintf(m->op.mac, sizeof(m->op.mac), "%s", v->cfg.mac);
	(void)snprintf(m->op.vf_src, sizeof(m->op.vf_src), "%s", v->cfg.vf_port);
	(void)snprintf(m->op.vf_dst, sizeof(m->op.vf_dst), "%s", v->cfg.vf_port);
	(void)snprintf(m->op.standby_src, sizeof(m->op.standby_src), "%s", v->cfg.standby_port);
	(void)snprintf(m->op.standby_dst, sizeof(m->op.standby_dst), "%s", v->cfg.standby_port);
	m->op.steer_src = m->role == MIG_SOURCE ? JRNL_STEER_VF : JRNL_STEER_UNKNOWN;
	m->op.steer_dst = JRNL_STEER_UNKNOWN;
}

/* The journal's steer field of this host's role: steps.c records only steers that
 * happened there. */
enum jrnl_steer *mig_steer(struct mig *m)
{
	return m->role == MIG_SOURCE ? &m->op.steer_src : &m->op.steer_dst;
}

/* ---- reporting to the CLI ----------------------------------------------------- */
static json_t *phases_json(const struct mig *m)
{
	json_t *o = json_object();
	int i;

	for (i = 0; i < MIG_N_PHASES; i++)
		if (m->t_phase[i] >= 0)
			(void)json_object_set_new(o, mig_phase_names[i], json_integer(m->t_phase[i]));
	return o;
}

void mig_report(struct mig *m, json_t *progress)
{
	if (!op_sink_listens(&m->sink)) {
		json_decref(progress);
		return;
	}
	(void)json_object_set_new(progress, "phase", json_string(mig_phase_names[m->phase]));
	(void)json_object_set_new(progress, "t_ms", json_integer((json_int_t)since_ms(m)));
	op_progress(&m->sink, json_pack("{s:o}", "progress", progress));
}

json_t *mig_to_json(const struct vm *v)
{
	const struct mig *m = mig_of(v);

	json_t *o;

	if (!m)
		return json_null();
	o = json_pack("{s:s, s:s, s:s, s:I, s:o, s:b, s:s}", "role",
		      m->role == MIG_SOURCE ? "source" : "destination", "peer", m->peer,
		      "phase", mig_phase_names[m->phase], "t_ms", (json_int_t)since_ms(m),
		      "phases_ms", phases_json(m), "recovering", m->recovering,
		      "driven_by", m->drv->driven_by);
	if (o && m->note[0])
		(void)json_object_set_new(o, "note", json_string(m->note));
	return o;
}

static json_t *mig_result_json(struct mig *m, int ok)
{
	struct vm *v = m->v;
	int src = m->role == MIG_SOURCE;
	json_t *o = json_pack("{s:b, s:s, s:s, s:s, s:s, s:I, s:o}", "ok", ok, "vm", v->cfg.name,
			      "mode", vm_mode_name(v->cfg.mode),
			      "from", src ? v->d->cfg.host : m->peer,
			      "to", src ? m->peer : v->d->cfg.host,
			      "total_ms", (json_int_t)since_ms(m), "phases_ms", phases_json(m));

	if (!ok)
		(void)json_object_set_new(o, "error", json_string(m->err));
	op_errors_json(&m->errs, o);
	if (m->cancelled)
		(void)json_object_set_new(o, "cancelled", json_true());
	if (m->force_no_agent || m->note[0]) {
		char w[512];

		(void)snprintf(w, sizeof(w), "%s%s%s", m->force_no_agent ?
			       "--force: no guest agent, plain QEMU order (expect loss); the fast "
			       "path is not verified by a guest" : "",
			       m->force_no_agent && m->note[0] ? "; " : "", m->note);
		(void)json_object_set_new(o, "warning", json_string(w));
	}
	if (m->info.downtime_ms >= 0)
		(void)json_object_set_new(o, "qemu_downtime_ms", json_integer(m->info.downtime_ms));
	if (m->info.total_time_ms >= 0)
		(void)json_object_set_new(o, "qemu_total_ms", json_integer(m->info.total_time_ms));
	if (m->info.setup_time_ms >= 0)
		(void)json_object_set_new(o, "qemu_setup_ms", json_integer(m->info.setup_time_ms));
	if (m->info.ram_transferred >= 0)
		(void)json_object_set_new(o, "ram_transferred", json_integer(m->info.ram_transferred));
	if (m->t_stop_rt)
		(void)json_object_set_new(o, "stop_realtime_ms", json_integer((json_int_t)m->t_stop_rt));
	if (m->tr_seen_us)
		(void)json_object_set_new(o, "stop_trace_us", json_pack(
			"{s:I, s:I}", "stop_seen", (json_int_t)m->tr_seen_us,
			"stopped_sent", (json_int_t)m->tr_sent_us));
	if (m->d_path >= 0)
		(void)json_object_set_new(o, "dest", json_pack(
			"{s:s, s:b, s:i, s:i, s:i, s:s}",
			"path", m->d_path == HB_PATH_FAST ? "fast" : "standby",
			"verified", !m->force_no_agent,
			"resumed_ms", (int)m->d_resumed_ms, "vf_up_ms", (int)m->d_vf_up_ms,
			"fast_path_ms", (int)m->d_fast_path_ms, "text", m->d_text));
	else if (m->d_text[0])
		(void)json_object_set_new(o, "dest", json_pack("{s:s}", "text", m->d_text));
	return o;
}

/* ---- life ---------------------------------------------------------------------- */
static void mig_timeout(void *arg);

/* ---- back to the fast path (fastpath.c) --------------------------------------------- */
/* The guest reports its VF up: the destination's FAST_PATH, the rollback's RB_FAST_PATH. */
static void mig_fp_ready(void *arg)
{
	struct mig *m = arg;

	mig_enter(m, m->role == MIG_DEST ? MIG_D_FAST_PATH : MIG_S_RB_FAST_PATH);
}

static void mig_fp_done(void *arg, const struct fastpath_result *r)
{
	struct mig *m = arg;

	if (m->role == MIG_DEST)
		mig_dest_fast_path_done(m, r);
	else
		mig_rb_fast_path_done(m, r);
}

static const struct fastpath_ops mig_fastpath_ops = {
	.ready = mig_fp_ready, .done = mig_fp_done,
};

struct mig *mig_new(struct vm *v, enum mig_role role, const char *peer,
		    const struct mig_driver *drv)
{
	struct mig *m = calloc(1, sizeof(*m));
	int i;

	if (!m)
		return NULL;
	m->base.ops = &mig_op_ops;
	m->v = v;
	m->role = role;
	m->drv = drv;
	m->d_path = -1;
	announcer_init(&m->ann);
	m->t0 = loop_now_ms();
	m->info.downtime_ms = m->info.total_time_ms = m->info.setup_time_ms = -1;
	m->info.ram_transferred = -1;
	for (i = 0; i < MIG_N_PHASES; i++)
		m->t_phase[i] = -1;
	(void)snprintf(m->peer, sizeof(m->peer), "%s", peer);
	m->timer = loop_timer_new(v->d->l, mig_timeout, m);
	fastpath_init(&m->fp, v, &mig_fastpath_ops, m, NULL, mig_steer(m));
	m->progress = loop_timer_new(v->d->l, mig_progress_tick, m);
	if (!m->timer || !m->progress) {
		loop_timer_free(m->timer);
		loop_timer_free(m->progress);
		free(m);
		return NULL;
	}
	vm_op_begin(v, &m->base);
	return m;
}

void mig_free(struct vm *v)
{
	struct mig *m = mig_of(v);

	if (!m)
		return;
	vm_op_end(v, &m->base);
	loop_timer_free(m->timer);
	loop_timer_free(m->progress);
	child_free(m->child);    /* a launcher still running runs on */
	if (m->pc) {
		peer_conn_set_arg(m->pc, NULL);
		peer_conn_free(m->pc);
	}
	announcer_close(&m->ann);
	jrnl_op_clear(&m->op);
	op_errors_clear(&m->errs);
	free(m->hook_xml);
	free(m);
}

/* The operation is over: journal entry removed, its figures kept for status (either
 * role, whoever started it), the starter answered, object freed. */
void mig_end(struct mig *m, int ok)
{
	struct vm *v = m->v;
	json_t *last = mig_result_json(m, ok);

	if (v->d->j)
		(void)jrnl_remove(v->d->j, v->cfg.name, JRNL_MIGRATE);
	(void)json_object_set_new(last, "op", json_string("migrate"));
	(void)json_object_set_new(last, "role", json_string(m->role == MIG_SOURCE ? "source" :
							       "destination"));
	vm_set_last_op(v, last);
	hlog(ok ? HLOG_INFO : HLOG_WARN, "vm %s: migration %s %s (%s) after %llu ms%s%s",
	     v->cfg.name, m->role == MIG_SOURCE ? "to" : "from", m->peer,
	     mig_phase_names[m->phase], (unsigned long long)since_ms(m), m->err[0] ? ": " : "",
	     m->err);
	op_finish(&m->sink, ok, mig_result_json(m, ok));
	mig_free(v);
}

/* ---- child commands (launcher, cleanup) ------------------------------------------ */
static void child_ended(void *arg, const char *out, size_t len, int status)
{
	struct mig *m = arg;

	memcpy(m->child_out, out, len + 1);     /* len < out_max = sizeof(child_out) */
	m->child = NULL;
	m->child_done(m, status);
}

/* A value substituted into a command: one plain word (a peer's name may come from a
 * domain's metadata, written on another host: it must not add arguments). '?' is the
 * peer of a migration nobody announced. */
static int plain_word(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("._-?", *s)))
			return 0;
	return 1;
}

/* Split CMD on blanks (no shell), substitute {vm} {host} {peer} {moved}; stdout to us. */
int mig_spawn(struct mig *m, const char *tmpl, void (*done)(struct mig *, int))
{
	struct vm *v = m->v;
	char buf[CFG_CMD_MAX * 2], *argv[64], *save = NULL, *tok, moved[CFG_NAME_MAX + 16];
	int argc = 0, rc;
	size_t o = 0;
	const char *s;
	struct loop *l;

	if (!v || !v->d)
		return -EINVAL;
	l = v->d->l;
	(void)snprintf(moved, sizeof(moved), "--moved-to %s", m->peer);
	for (s = tmpl; *s && o < sizeof(buf) - 80; s++) {
		const char *rep = NULL;

		if (!strncmp(s, "{vm}", 4))
			rep = v->cfg.name;
		else if (!strncmp(s, "{host}", 6))
			rep = v->d->cfg.host;
		else if (!strncmp(s, "{peer}", 6))
			rep = m->peer;
		else if (!strncmp(s, "{moved}", 7))     /* source, VM gone: where it runs now */
			rep = m->phase == MIG_S_CLEANUP && strcmp(m->peer, "?") != 0 ? moved : "";
		if (rep && rep[0] && !plain_word(rep == moved ? m->peer : rep)) {
			hlog(HLOG_ERR, "vm %s: not running '%s': a value for %.*s is not a plain "
			     "name ([A-Za-z0-9._?-]): the domain's metadata or the peer's name", v->cfg.name,
			     tmpl, (int)(strchr(s, '}') - s + 1), s);
			return -EINVAL;
		}
		if (rep) {
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s", rep);
			s = strchr(s, '}');
		} else {
			buf[o++] = *s;
		}
	}
	buf[o] = 0;
	for (tok = strtok_r(buf, " \t", &save); tok && argc < 63; tok = strtok_r(NULL, " \t", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	if (!argc)
		return -EINVAL;
	m->child_done = done;
	m->child = child_spawn(l, &(struct child_spec){ .argv = argv,
							.out_max = sizeof(m->child_out) },
			       child_ended, m, &rc);
	return m->child ? 0 : rc;
}

/* ---- the peer channel ------------------------------------------------------------ */
int mig_send_result(struct mig *m, int ok, const char *text)
{
	struct hb_msg r;

	if (!m->pc)
		return -ENOTCONN;
	hb_msg_init(&r, HB_MSG_MIGRATE_RESULT, 0);
	r.u.migrate_result.vm = m->v->cfg.name;
	r.u.migrate_result.ok = (uint8_t)ok;
	r.u.migrate_result.text = text;
	if (m->info.downtime_ms >= 0) {
		r.u.migrate_result.downtime_ms = (uint32_t)m->info.downtime_ms;
		HB_MARK(&r.u.migrate_result, MIGRATE_RESULT, DOWNTIME_MS);
	}
	return peer_send(m->pc, &r);
}

void mig_send_finished(struct mig *m, uint8_t path, const char *text)
{
	struct hb_msg r;

	if (!m->pc || m->finished_sent)
		return;
	hb_msg_init(&r, HB_MSG_MIGRATE_FINISHED, 0);
	r.u.migrate_finished.vm = m->v->cfg.name;
	r.u.migrate_finished.path = path;
	r.u.migrate_finished.text = text;
	if (m->t_resumed) {
		r.u.migrate_finished.resumed_ms = (uint32_t)(m->t_resumed - m->t0);
		HB_MARK(&r.u.migrate_finished, MIGRATE_FINISHED, RESUMED_MS);
	}
	if (m->t_vf_up && m->t_resumed) {
		r.u.migrate_finished.vf_up_ms = (uint32_t)(m->t_vf_up - m->t_resumed);
		HB_MARK(&r.u.migrate_finished, MIGRATE_FINISHED, VF_UP_MS);
	}
	if (path == HB_PATH_FAST && m->t_vf_up) {
		r.u.migrate_finished.fast_path_ms = (uint32_t)(loop_now_ms() - m->t_vf_up);
		HB_MARK(&r.u.migrate_finished, MIGRATE_FINISHED, FAST_PATH_MS);
	}
	if (peer_send(m->pc, &r) == 0)
		m->finished_sent = 1;
}

/*
 * At the source's STOP, the destination must announce AT ONCE: every ms between
 * STOP and the fabric learning the MAC at D sends frames into the stopped
 * source's standby tap, where they die.  So this goes out before anything else
 * (in particular before the journal's fsync in mig_enter).
 */
void mig_send_stopped(struct mig *m)
{
	struct hb_msg r;

	hb_msg_init(&r, HB_MSG_MIGRATE_STOPPED, 0);
	r.u.migrate_stopped.vm = m->v->cfg.name;
	if (!m->pc || peer_send(m->pc, &r))
		hlog(HLOG_WARN, "vm %s: MIGRATE_STOPPED not sent: no announce from %s",
		     m->v->cfg.name, m->peer);
}

/* ---- hypervisor answers ------------------------------------------------------------ */
void mig_hv_done(void *arg, const struct hv_result *r)
{
	struct vm *v = arg;
	struct mig *m = mig_of(v);

	if (!m || !r->err)
		return;
	switch (m->phase) {
	case MIG_S_MIGRATING:
		/* `migrate` refused: nothing migrates (a timeout or a lost session: CANCEL asks) */
		if (r->err != -ETIMEDOUT && r->err != -ECONNRESET)
			m->mig_ended = 1;
		mig_fail(m, "QEMU refused (%s): %s", mig_phase_names[m->phase], r->msg);
		break;
	case MIG_S_UNPLUG_VF:
	case MIG_D_INCOMING:
		mig_fail(m, "QEMU refused (%s): %s", mig_phase_names[m->phase], r->msg);
		break;
	case MIG_D_RESUMED:
	case MIG_D_WAIT_VF:
	case MIG_S_RB_REPLUG:
		hlog(HLOG_WARN, "vm %s: VF device_add: %s", v->cfg.name, r->msg);
		break;
	default:
		break;
	}
}

/* QEMU's migration status is one that still moves the VM (or is about to end). */
int mig_status_active(const char *s)
{
	return s[0] && strcmp(s, "none") != 0 && strcmp(s, "completed") != 0 &&
	       strcmp(s, "failed") != 0 && strcmp(s, "cancelled") != 0;
}

/* ---- recovery: QEMU's view first ---------------------------------------------------- */

/* ---- the state machine ------------------------------------------------------------- */
void mig_cleanup_done(struct mig *m, int status)
{
	if (status != 0)
		hlog(HLOG_WARN, "vm %s: cleanup command exited with status %d", m->v->cfg.name,
		     status);
	mig_end(m, m->phase == MIG_S_CLEANUP);
}

/* Enter phase p: journal it, report it, run its action.  The only place phases change. */
void mig_enter(struct mig *m, enum mig_phase p)
{
	struct vm *v = m->v;

	fastpath_stop(&m->fp);  /* a phase that waits for the VF or asks does so on entry */
	m->phase = p;
	if (m->t_phase[p] < 0)
		m->t_phase[p] = (int64_t)since_ms(m);
	mig_journal(m);
	hlog(HLOG_INFO, "vm %s: migration %s %s: %s (+%llu ms)", v->cfg.name,
	     m->role == MIG_SOURCE ? "to" : "from", m->peer, mig_phase_names[p],
	     (unsigned long long)since_ms(m));
	mig_report(m, json_object());
	loop_timer_disarm(m->timer);
	if (mig_source_enter[p])
		mig_source_enter[p](m);
	else if (mig_dest_enter[p])
		mig_dest_enter[p](m);
}

/* Record one failure: the result's "errors" always, its "error" as `how` says; a failure
 * that ends the phase is logged too. */
static void mig_vrecord(struct mig *m, enum op_err_how how, int log, int rc, const char *fmt,
			va_list ap) __attribute__((format(printf, 5, 0)));

static void mig_vrecord(struct mig *m, enum op_err_how how, int log, int rc, const char *fmt,
			va_list ap)
{
	char text[512];

	op_error_vformat(text, sizeof(text), rc, fmt, ap);
	op_error_into(m->err, sizeof(m->err), how, text);
	op_error_add(&m->errs, mig_phase_names[m->phase], rc, text);
	if (log)
		hlog(HLOG_ERR, "vm %s: migration %s: %s", m->v->cfg.name,
		     mig_phase_names[m->phase], text);
}

void mig_err(struct mig *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mig_vrecord(m, OP_ERR_REPLACE, 0, 0, fmt, ap);
	va_end(ap);
}

void mig_err_more(struct mig *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mig_vrecord(m, OP_ERR_APPEND, 0, 0, fmt, ap);
	va_end(ap);
}

/* The phase failed: what happens next depends on the role and how far it got. */
static void mig_failed(struct mig *m)
{
	loop_timer_disarm(m->progress);
	if (m->role == MIG_SOURCE) {
		if (m->phase == MIG_S_CANCEL)
			return;         /* QEMU's answer to the cancel decides */
		if (m->phase >= MIG_S_ROLLBACK)
			mig_enter(m, MIG_S_FAILED);
		else if (m->migrate_sent && !m->mig_ended)
			mig_enter(m, MIG_S_CANCEL);     /* it may still complete: ask QEMU first */
		else
			mig_enter(m, MIG_S_ROLLBACK);
	} else if (m->phase < MIG_D_RESUMED || m->phase == MIG_D_RECOVER) {
		mig_enter(m, MIG_D_ABORT);
	} else {
		mig_enter(m, MIG_D_ON_STANDBY);
	}
}

void mig_fail(struct mig *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mig_vrecord(m, OP_ERR_FIRST, 1, 0, fmt, ap);
	va_end(ap);
	mig_failed(m);
}

void mig_fail_rc(struct mig *m, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mig_vrecord(m, OP_ERR_FIRST, 1, rc, fmt, ap);
	va_end(ap);
	mig_failed(m);
}

static void mig_timeout(void *arg)
{
	struct mig *m = arg;
	struct vm *v = m->v;

	switch (m->phase) {
	case MIG_D_HOOK_WAIT: {
		char why[96];

		(void)snprintf(why, sizeof(why), "no MIGRATE_READY within %u ms",
			       v->d->cfg.hook_wait_ms);
		mig_hook_uncoordinated(m, why);
		break;
	}
	case MIG_S_MIGRATING:
		if (m->drv->external && !m->migrate_sent) {
			mig_fail(m, "libvirt did not start the migration within %u s of our "
				 "MIGRATE_READY (its hook gave up, or the migration failed early)",
				 MIG_EXTERNAL_START_MS / 1000u);
			break;
		}
		mig_fail(m, "timed out in %s", mig_phase_names[m->phase]);
		break;
	case MIG_D_WAIT_VF:
		mig_err(m, "the guest did not report its VF up within %u ms", v->d->cfg.vf_up_timeout_ms);
		mig_enter(m, MIG_D_ON_STANDBY);
		break;
	case MIG_D_ON_STANDBY:
		/* retry: ask the guest again; a VF that came up moves us on */
		if (!fastpath_wait(&m->fp, FASTPATH_POLL | FASTPATH_NOW))
			mig_enter(m, MIG_D_ON_STANDBY);
		break;
	case MIG_S_DEST_SWITCHBACK:
		(void)snprintf(m->d_text, sizeof(m->d_text), "no MIGRATE_FINISHED from %s", m->peer);
		mig_enter(m, MIG_S_CLEANUP);
		break;
	case MIG_S_CANCEL:
		if (++m->cancel_polls > MIG_CANCEL_POLLS) {
			mig_err_more(m, "QEMU did not end the migration within %u s after "
				     "migrate_cancel: not rolled back, check where the VM runs",
				     MIG_CANCEL_POLLS * MIG_CANCEL_POLL_MS / 1000u);
			mig_enter(m, MIG_S_FAILED);
			break;
		}
		if (v->hv) {    /* ask again (and cancel again: a cancel in setup can be lost) */
			(void)v->hvo->migrate_cancel(v->hv, NULL, NULL);
			(void)v->hvo->query_migrate(v->hv, mig_cancel_query_done, v);
		}
		loop_timer_arm(m->timer, MIG_CANCEL_POLL_MS);
		break;
	case MIG_S_ROLLBACK:    /* device_del did not finish: the query in RB_REPLUG decides */
		mig_enter(m, MIG_S_RB_REPLUG);
		break;
	case MIG_S_RB_WAIT_VF:  /* the budget is checked on entry */
		mig_enter(m, MIG_S_RB_WAIT_VF);
		break;
	case MIG_S_RB_FAST_PATH:
		if (vm_vf_up(v) && vm_guest_ready(v)) {
			mig_enter(m, MIG_S_RB_FAST_PATH);
		} else {
			mig_rx_to_standby(m);
			mig_enter(m, MIG_S_RB_WAIT_VF);
		}
		break;
	case MIG_S_RB_SETTLE:
		if (vm_vf_up(v) && v->pair.active == HB_PATH_FAST) {
			mig_enter(m, MIG_S_FAILED);     /* rolled back: the VM is on its fast path */
		} else {
			mig_rx_to_standby(m);
			mig_enter(m, MIG_S_RB_WAIT_VF);
		}
		break;
	case MIG_S_RECOVER:
	case MIG_D_RECOVER:
		mig_recover_no_qemu(m, "no QMP session within 30 s");
		break;
	default:
		mig_fail(m, "timed out in %s", mig_phase_names[m->phase]);
		break;
	}
}

/* ---- inputs ------------------------------------------------------------------------ */

void mig_on_hv_event(struct vm *v, enum hv_ev ev, const char *detail, uint64_t ts_ms)
{
	struct mig *m = mig_of(v);

	if (!m)
		return;
	if (ev == HV_EV_MIGRATION)
		hlog(HLOG_INFO, "vm %s: QEMU: migration %s (%s)", v->cfg.name, detail,
		     mig_phase_names[m->phase]);
	if (m->role == MIG_SOURCE && m->drv->external && !m->migrate_sent &&
	    (ev == HV_EV_UNPLUG_PRIMARY || ev == HV_EV_STOP ||
	     (ev == HV_EV_MIGRATION && mig_status_active(detail)))) {
		/* libvirt's migration job reached QEMU: from now on a failure is QEMU's
		 * (cancel first, roll back once it says so), as after our own `migrate` */
		m->migrate_sent = 1;
		if (m->phase == MIG_S_MIGRATING)
			loop_timer_arm(m->timer, MIG_MIGRATE_TIMEOUT_MS);
	}
	if (m->role == MIG_SOURCE && m->drv->reactive && ev == HV_EV_MIGRATION &&
	    !strcmp(detail, "active") && !m->steered_standby) {
		/* QEMU's unplug is over (failover waits for it before "active"): the VF
		 * cannot receive any more, whatever the guest agent answered */
		mig_plain_rx_to_standby(m);
	}
	if (m->role == MIG_SOURCE) {
		if (ev == HV_EV_DEVICE_DELETED && m->phase == MIG_S_UNPLUG_VF &&
		    !strcmp(detail, v->vf_id)) {
			m->vf_unplugged = 1;
			if (m->force_no_agent)
				mig_plain_rx_to_standby(m);
			mig_enter(m, MIG_S_MIGRATING);
		} else if (ev == HV_EV_DEVICE_DELETED && !strcmp(detail, v->vf_id) &&
			   m->phase == MIG_S_ROLLBACK) {
			m->vf_unplugged = 1;    /* the device_del we waited for */
			mig_enter(m, MIG_S_RB_REPLUG);
		} else if (ev == HV_EV_DEVICE_DELETED && !strcmp(detail, v->vf_id) &&
			   m->phase > MIG_S_ROLLBACK && m->phase < MIG_S_FAILED) {
			/* a bond VF that left during the rollback: RX to the standby, a new VF */
			m->vf_unplugged = 1;
			mig_rx_to_standby(m);
			mig_enter(m, MIG_S_RB_REPLUG);
		} else if (ev == HV_EV_STOP && (m->phase == MIG_S_MIGRATING ||
						(m->phase == MIG_S_CANCEL && !m->stopped))) {
			/* (CANCEL: the migration may still complete: D must announce) */
			m->tr_seen_us = rt_us();
			m->stopped = 1;
			m->t_stop_rt = ts_ms;
			mig_send_stopped(m);
			m->tr_sent_us = rt_us();
			if (m->phase == MIG_S_MIGRATING)
				mig_enter(m, MIG_S_STOPPED);
			hlog(HLOG_INFO, "vm %s: STOP trace: qemu_stop_ms=%llu seen_us=%llu sent_us=%llu",
			     v->cfg.name, (unsigned long long)ts_ms,
			     (unsigned long long)m->tr_seen_us, (unsigned long long)m->tr_sent_us);
		} else if (ev == HV_EV_MIGRATION && m->phase == MIG_S_CANCEL) {
			if (!strcmp(detail, "completed"))
				mig_cancel_too_late(m);
			else if (!strcmp(detail, "failed") || !strcmp(detail, "cancelled"))
				mig_cancel_ended(m, detail);
		} else if (ev == HV_EV_MIGRATION && (m->phase == MIG_S_MIGRATING ||
						     m->phase == MIG_S_STOPPED)) {
			if (!strcmp(detail, "active") && m->force_no_agent)
				mig_plain_rx_to_standby(m);  /* failover: QEMU's unplug is done */
			if (!strcmp(detail, "completed")) {
				if (m->phase == MIG_S_MIGRATING) {     /* no STOP seen: still order */
					m->stopped = 1;
					mig_send_stopped(m);
					mig_enter(m, MIG_S_STOPPED);
				}
				(void)snprintf(m->info.status, sizeof(m->info.status), "completed");
				m->stats_tries = 0;
				v->hvo->query_migrate(v->hv, mig_stats_done, v);
			} else if (!strcmp(detail, "failed") || !strcmp(detail, "cancelled")) {
				m->mig_ended = 1;
				mig_fail(m, "QEMU reports the migration %s", detail);
			}
		}
		return;
	}
	if (ev == HV_EV_RESUME && (m->phase == MIG_D_INCOMING || m->phase == MIG_D_ANNOUNCED))
		mig_enter(m, MIG_D_RESUMED);
	else if (ev == HV_EV_SHUTDOWN && m->phase < MIG_D_RESUMED)
		mig_fail(m, "the incoming QEMU shut down (the migration failed)");
	else if (ev == HV_EV_FAILOVER_NEGOTIATED)
		hlog(HLOG_INFO, "vm %s: FAILOVER_NEGOTIATED: QEMU re-plugs the VF", v->cfg.name);
}

static void mig_on_hv_closed(struct vm *v, int err)
{
	struct mig *m = mig_of(v);

	if (!m)
		return;
	if (m->drv->libvirt && m->role == MIG_SOURCE && m->stopped &&
	    (m->phase == MIG_S_STOPPED || m->phase == MIG_S_CANCEL)) {
		/* libvirt ends the source QEMU only once the destination runs the VM
		 * (Confirm after a successful Finish): the migration completed */
		hlog(HLOG_INFO, "vm %s: the source domain ended after STOP: completed",
		     v->cfg.name);
		(void)snprintf(m->info.status, sizeof(m->info.status), "completed");
		mig_completed(m);
		return;
	}
	if (m->drv->libvirt && m->role == MIG_DEST && m->phase < MIG_D_RESUMED && err == -ENOENT)
		return;         /* libvirt: no domain yet (Prepare has not started it) */
	if (m->phase == MIG_S_RECOVER || m->phase == MIG_D_RECOVER) {
		mig_recover_no_qemu(m, "its QMP monitor closed");
	} else if (m->role == MIG_SOURCE && m->phase < MIG_S_DEST_SWITCHBACK) {
		m->mig_ended = 1;       /* no source QEMU, nothing migrates */
		if (m->phase == MIG_S_CANCEL)
			mig_enter(m, MIG_S_ROLLBACK);
		else
			mig_fail(m, "the source QEMU's monitor closed");
	} else if (m->role == MIG_DEST && m->phase < MIG_D_RESUMED) {
		mig_fail(m, "the incoming QEMU's monitor closed");
	}
}

void mig_on_hv_ready(struct vm *v)
{
	struct mig *m = mig_of(v);

	if (m && m->drv->libvirt && m->role == MIG_DEST && m->phase < MIG_D_RESUMED)
		vm_gc_restart(v);       /* the incoming domain exists: its agent socket too */
	if (m && (m->phase == MIG_S_RECOVER || m->phase == MIG_D_RECOVER))
		mig_rec_query(m);
}

static void mig_on_guest(struct vm *v)
{
	struct mig *m = mig_of(v);

	if (!m)
		return;
	if (fastpath_on_guest(&m->fp)) {
		return;         /* D_WAIT_VF, D_ON_STANDBY, S_RB_WAIT_VF: the VF is up */
	} else if (m->phase == MIG_S_RB_SETTLE && !vm_vf_up(v)) {
		/* the VF left after the guest took the fast path back (QEMU re-plugs a
		 * failover primary late): RX to the standby, wait for it again */
		hlog(HLOG_WARN, "vm %s: rollback: the VF left the guest again: waiting for it",
		     v->cfg.name);
		mig_rx_to_standby(m);
		mig_enter(m, MIG_S_RB_WAIT_VF);
	} else if (m->phase == MIG_S_RB_SETTLE && v->pair.valid && v->pair.active != HB_PATH_FAST) {
		/* the guest pinned TX to the standby again (its VF came back): ask again */
		hlog(HLOG_WARN, "vm %s: rollback: the guest's TX is on the standby again: "
		     "RESUME_FAST_PATH again", v->cfg.name);
		mig_enter(m, MIG_S_RB_FAST_PATH);
	}
}

void mig_on_guest_answer(struct vm *v, uint16_t req_type, const struct hb_msg *ans,
				int res)
{
	struct mig *m = mig_of(v);
	const char *why = gc_answer_failure(ans, res);

	if (!m)
		return;
	if (req_type == HB_MSG_PREPARE_SWITCH && m->phase == MIG_S_SWITCH_TX && m->drv->reactive) {
		/* QEMU is already unplugging the VF: whatever the agent says, RX goes to
		 * the standby now; a refusal must not cancel the operator's migration */
		if (why || !ans)
			hlog(HLOG_WARN, "vm %s: reactive: PREPARE_SWITCH: %s (RX to the standby "
			     "anyway)", v->cfg.name, why ? why : "no answer");
		mig_plain_rx_to_standby(m);
		mig_enter(m, MIG_S_MIGRATING);
		return;
	}
	if (req_type == HB_MSG_PREPARE_SWITCH && m->phase == MIG_S_SWITCH_TX) {
		if (why || !ans) {
			mig_fail(m, "PREPARE_SWITCH: %s", why ? why : "no answer");
			return;
		}
		mig_report(m, json_pack("{s:i, s:i}", "switch_elapsed_us",
					(int)ans->u.switch_done.elapsed_us, "queued",
					(int)ans->u.switch_done.queued));
		mig_enter(m, v->cfg.mode == VM_MODE_BOND ? MIG_S_UNPLUG_VF : MIG_S_MIGRATING);
	} else {
		(void)fastpath_on_answer(&m->fp, req_type, ans, res);   /* D_FAST_PATH, RB_FAST_PATH */
	}
}

void mig_on_peer_msg(struct vm *v, struct peer_conn *pc, const struct hb_msg *m_)
{
	struct mig *m = mig_of(v);
	char err[640];        /* a refused URI quoted, escaped */
	int rc;

	if (!m || m->pc != pc)
		return;
	switch (m_->type) {
	case HB_MSG_MIGRATE_READY:
		if (m->role == MIG_DEST && m->phase == MIG_D_HOOK_WAIT) {
			/* the source's RX and TX are on the standby: libvirt may go on */
			mig_hook_answer(m, 1, "coordinated", "the source moved RX and TX to the standby");
			mig_enter(m, MIG_D_INCOMING);
			break;
		}
		if (m->role != MIG_SOURCE || m->phase != MIG_S_DEST_PREPARE)
			break;
		if (m->drv->ready_uri) {
			rc = m->drv->ready_uri(m, m_->u.migrate_ready.uri, err, sizeof(err));
			if (rc) {       /* nothing moved yet: the destination tears down */
				mig_fail_rc(m, rc, "%s", err);
				break;
			}
		}
		mig_enter(m, MIG_S_STEER_STANDBY);
		break;
	case HB_MSG_ERROR:
		if (m->role == MIG_DEST && m->phase == MIG_D_HOOK_WAIT) {
			(void)snprintf(err, sizeof(err), "the source refused: %s",
				       m_->u.error.text ? m_->u.error.text : "?");
			mig_hook_uncoordinated(m, err);
			break;
		}
		if (m->role == MIG_SOURCE && m->phase == MIG_S_DEST_PREPARE)
			mig_fail(m, "destination %s refused: %s", m->peer,
				 m_->u.error.text ? m_->u.error.text : "?");
		else if (m->role == MIG_SOURCE && m->phase < MIG_S_STOPPED)
			mig_fail(m, "destination %s failed: %s", m->peer,
				 m_->u.error.text ? m_->u.error.text : "?");
		break;
	case HB_MSG_MIGRATE_FINISHED:
		/* (D can finish before S read its final statistics: --force without an agent) */
		if (m->role != MIG_SOURCE || (m->phase != MIG_S_DEST_SWITCHBACK &&
					       m->phase != MIG_S_STOPPED && m->phase != MIG_S_CANCEL))
			break;
		m->finished_rcvd = 1;
		m->d_path = m_->u.migrate_finished.path;
		m->d_resumed_ms = m_->u.migrate_finished.resumed_ms;
		m->d_vf_up_ms = m_->u.migrate_finished.vf_up_ms;
		m->d_fast_path_ms = m_->u.migrate_finished.fast_path_ms;
		(void)snprintf(m->d_text, sizeof(m->d_text), "%s",
			 m_->u.migrate_finished.text ? m_->u.migrate_finished.text : "");
		if (m->phase == MIG_S_DEST_SWITCHBACK)
			mig_enter(m, MIG_S_CLEANUP);
		break;
	case HB_MSG_MIGRATE_STOPPED:
		if (m->role != MIG_DEST || m->phase != MIG_D_INCOMING)
			break;
		/* AT ONCE: the fabric learns the MAC here; frames wait in the standby tap.
		 * One sendto() on the socket opened before (mig_launch_done); nothing before it. */
		m->tr_recv_us = rt_us();
		rc = m->ann.fd >= 0 ? announcer_send(&m->ann, MIG_ANNOUNCE_COUNT) : -EBADF;
		m->tr_rarp_us = rt_us();
		if (rc && v->d->cfg.uplink[0] &&
		    announce_rarp(v->d->cfg.uplink, v->mac, MIG_ANNOUNCE_COUNT, err, sizeof(err)))
			hlog(HLOG_WARN, "vm %s: %s", v->cfg.name, err);
		mig_enter(m, MIG_D_ANNOUNCED);
		hlog(HLOG_INFO, "vm %s: STOP trace: recv_us=%llu rarp_sent_us=%llu", v->cfg.name,
		     (unsigned long long)m->tr_recv_us, (unsigned long long)m->tr_rarp_us);
		break;
	case HB_MSG_MIGRATE_RESULT:
		if (m->role != MIG_DEST)
			break;
		if (!m_->u.migrate_result.ok && m->phase == MIG_D_HOOK_WAIT) {
			(void)snprintf(err, sizeof(err), "the source could not switch: %s",
				       m_->u.migrate_result.text ? m_->u.migrate_result.text : "?");
			mig_hook_uncoordinated(m, err);
		} else if (!m_->u.migrate_result.ok && m->phase < MIG_D_RESUMED)
			mig_fail(m, "the source reports the migration failed: %s",
				 m_->u.migrate_result.text ? m_->u.migrate_result.text : "?");
		break;
	default:
		break;
	}
}

static void peer_lost_status_done(void *arg, const struct hv_result *r)
{
	struct vm *v = arg;
	struct mig *m = mig_of(v);

	if (!m || m->phase != MIG_D_INCOMING)
		return;
	if (!r->err && r->running) {
		hlog(HLOG_WARN, "vm %s: lost the source %s, but the VM already runs here: going on",
		     v->cfg.name, m->peer);
		mig_enter(m, MIG_D_RESUMED);
		return;
	}
	mig_fail(m, "lost the peer channel to the source %s", m->peer);
}

void mig_on_peer_closed(struct vm *v, struct peer_conn *pc, int err)
{
	struct mig *m = mig_of(v);

	(void)err;
	if (!m || m->pc != pc)
		return;
	m->pc = NULL;           /* freed by peer.c */
	if (m->role == MIG_DEST && m->phase == MIG_D_HOOK_WAIT) {
		mig_hook_uncoordinated(m, "the source daemon closed the peer channel");
	} else if (m->role == MIG_SOURCE && m->phase == MIG_S_DEST_SWITCHBACK) {
		/* the VM runs on D; its daemon finishes (or recovers) the fast path there */
		(void)snprintf(m->d_text, sizeof(m->d_text), "lost the peer channel to %s before "
			       "MIGRATE_FINISHED: its daemon finishes the fast path on its own",
			       m->peer);
		mig_enter(m, MIG_S_CLEANUP);
	} else if (m->role == MIG_SOURCE && m->phase < MIG_S_DEST_SWITCHBACK &&
		   m->phase != MIG_S_STOPPED) {
		/* (STOPPED: stop-and-copy ends on its own, QEMU to QEMU) */
		mig_fail(m, "lost the peer channel to %s%s%s", m->peer, *peer_conn_error(pc) ? ": " : "",
			 peer_conn_error(pc));
	} else if (m->role == MIG_DEST && m->phase == MIG_D_INCOMING && v->hv &&
		   v->hvo->ready(v->hv)) {
		/* the source daemon is gone: its QEMU may have finished the migration
		 * already (then the VM runs here: keep it), else abort, which fails the
		 * source QEMU's migration and its restarted daemon rolls back */
		if (v->hvo->query_status(v->hv, peer_lost_status_done, v))
			mig_fail(m, "lost the peer channel to the source %s", m->peer);
	} else if (m->role == MIG_DEST && m->phase < MIG_D_ANNOUNCED) {
		mig_fail(m, "lost the peer channel to the source %s", m->peer);
	}
}

static void mig_sink_gone(struct vm *v, const void *arg)
{
	struct mig *m = mig_of(v);

	if (!m)
		return;
	op_sink_forget(&m->sink, arg);  /* the migration goes on without its CLI */
	op_sink_forget(&m->hook, arg);  /* the hook gave up waiting; libvirt goes on */
}

/* ---- starting ------------------------------------------------------------------------ */
static void peer_msg_cb(void *arg, struct peer_conn *pc, const struct hb_msg *m)
{
	struct vm *v = arg;

	if (v)
		mig_on_peer_msg(v, pc, m);
}

static void peer_closed_cb(void *arg, struct peer_conn *pc, int err)
{
	struct vm *v = arg;

	if (v)
		mig_on_peer_closed(v, pc, err);
}

const struct peer_ops mig_peer_ops = { .on_msg = peer_msg_cb, .on_closed = peer_closed_cb };

const struct op_ops mig_op_ops = {
	.what = "migration", .places_vm = 1,
	.on_hv_event = mig_on_hv_event, .on_hv_closed = mig_on_hv_closed,
	.on_hv_ready = mig_on_hv_ready, .on_guest = mig_on_guest,
	.on_guest_answer = mig_on_guest_answer, .on_peer_msg = mig_on_peer_msg,
	.on_peer_closed = mig_on_peer_closed, .sink_gone = mig_sink_gone,
	.json_key = "migration", .to_json = mig_to_json, .free = mig_free,
};
