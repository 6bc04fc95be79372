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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host-agent/common/child.h"
#include "host-agent/hostd/esw/announce.h"
#include "host-agent/hostd/peer/peer.h"
#include "host-agent/hostd/vm.h"
#include "migrate.h"
#include "steps.h"
#include "vfwatch.h"

#define MIG_DEST_PREPARE_TIMEOUT_MS 120000u   /* launcher + QEMU start */
#define MIG_UNPLUG_TIMEOUT_MS        30000u
#define MIG_MIGRATE_TIMEOUT_MS      300000u
#define MIG_PROGRESS_MS                250u
#define MIG_STATS_RETRY_MS              20u
#define MIG_STATS_RETRIES               50
#define MIG_FINISH_SLACK_MS          20000u
#define MIG_RETRY_MIN_MS              2000u
#define MIG_RETRY_MAX_MS             30000u
#define MIG_ANNOUNCE_COUNT               1u
#define MIG_LAUNCH_OUT_MAX            4096u
#define MIG_CANCEL_POLL_MS            1000u   /* CANCEL: query-migrate (and cancel again) */
#define MIG_CANCEL_POLLS                30
#define MIG_RECOVER_QMP_MS           30000u   /* recovery: the QMP session must come up */
#define MIG_RB_SETTLE_MS              3000u   /* rollback: the fast path must hold this long */
#define MIG_RB_RETRY_MS                500u   /* rollback: RESUME_FAST_PATH refused, retry */
#define MIG_REPLUG_TRIES                 8    /* rollback: fresh VF ids tried ("Duplicate ID") */
#define MIG_EXTERNAL_START_MS       120000u   /* libvirt: READY -> its migration job starts */
#define MIG_NO_AGENT_TEXT "fast (unverified: no guest agent)"

#define MIG_PHASES(P) \
	P(S_PREFLIGHT) P(S_DEST_PREPARE) P(S_STEER_STANDBY) P(S_SWITCH_TX) P(S_UNPLUG_VF) \
	P(S_MIGRATING) P(S_STOPPED) P(S_CANCEL) P(S_DEST_SWITCHBACK) P(S_CLEANUP) P(S_DONE) \
	P(S_ROLLBACK) P(S_RB_REPLUG) P(S_RB_WAIT_VF) P(S_RB_FAST_PATH) P(S_RB_SETTLE) P(S_FAILED) \
	P(S_RECOVER) \
	P(D_LAUNCH) P(D_HOOK_WAIT) P(D_INCOMING) P(D_ANNOUNCED) P(D_RESUMED) P(D_WAIT_VF) P(D_FAST_PATH) \
	P(D_DONE) P(D_ON_STANDBY) P(D_ABORT) P(D_RECOVER)

#define MIG_ENUM_(n) MIG_##n,
enum mig_phase { MIG_PHASES(MIG_ENUM_) MIG_N_PHASES };
#undef MIG_ENUM_
#define MIG_NAME_(n) #n,
static const char *const mig_phase_names[] = { MIG_PHASES(MIG_NAME_) };
#undef MIG_NAME_

enum mig_role { MIG_SOURCE, MIG_DEST };

struct mig {
	struct vm_op base;      /* first: v->op while it runs */
	struct vm *v;
	enum mig_role role;
	enum mig_phase phase;
	char peer[CFG_NAME_MAX + 1];
	int force;
	int force_no_agent;     /* --force without a guest agent: plain QEMU order, a warning */
	struct op_sink sink;    /* who started it: progress and the result */
	struct peer_conn *pc;
	struct loop_timer *timer, *progress;
	char uri[2 * CFG_PATH_MAX + 8];         /* QEMU's, or libvirt's "DCONNURI [MIGRATEURI]" */
	uint64_t t0;                            /* monotonic ms at start */
	int64_t t_phase[MIG_N_PHASES];          /* ms since t0, -1: not entered */
	uint64_t t_stop_rt;                     /* QEMU's STOP timestamp (realtime ms) */
	struct qmp_migrate_info info;
	int stats_tries;
	int steered_standby, vf_unplugged, migrate_sent, stopped;
	int unplug_sent;        /* bond: device_del sent (DEVICE_DELETED may still come) */
	int mig_ended;          /* QEMU's migration failed / was cancelled / never started */
	int cancelled;          /* `hybond cancel` */
	int cancel_polls;
	uint64_t rb_t0;         /* monotonic ms: ROLLBACK entered (the rollback's budget) */
	int plug_tries;
	char err[512];
	char note[256];         /* a warning for the result (cancel too late, recovery) */
	/* recovery (mig_recover): the phase the previous daemon left, QEMU's view */
	int recovering, rec_phase, rec_querying;
	char rec_status[32];
	/* destination */
	uint32_t prepare_seq;
	struct child *child;                    /* the launcher or cleanup command */
	char child_out[MIG_LAUNCH_OUT_MAX];     /* what it printed */
	void (*child_done)(struct mig *m, int status);
	uint64_t t_resumed, t_vf_up;
	unsigned retry_ms;
	int finished_sent;
	/* what D reported (source) */
	int finished_rcvd;      /* MIGRATE_FINISHED came (maybe before DEST_SWITCHBACK) */
	int d_path;
	uint32_t d_resumed_ms, d_vf_up_ms, d_fast_path_ms;
	uint32_t incoming_seq;          /* libvirt source: the MIGRATE_INCOMING to answer */
	char d_text[256];
	struct jrnl_op op;
	/* libvirt (hv = libvirt): lv the VM is a libvirt domain; external: libvirt drives the
	 * migration (`virsh migrate`), hybond only moves the datapath around it; reactive:
	 * the source learnt of it from QEMU's UNPLUG_PRIMARY (nobody warned it) */
	int lv, external, reactive, ready_sent;
	struct op_sink hook;            /* destination: the qemu hook waiting for its answer */
	char *hook_xml;                 /* its domain XML naming this host (owned) */
	char hook_mode[32];
	/* STOP -> announce: the socket is ready before STOP; CLOCK_REALTIME µs stamps */
	struct announcer ann;
	uint64_t tr_seen_us, tr_sent_us;        /* source: STOP read, MIGRATE_STOPPED sent */
	uint64_t tr_recv_us, tr_rarp_us;        /* dest: MIGRATE_STOPPED read, sendto() back */
};

static const struct op_ops mig_op_ops;

/* The VM's migration, if the operation it runs is one. */
static struct mig *mig_of(const struct vm *v)
{
	return v->op && v->op->ops == &mig_op_ops ? (struct mig *)v->op : NULL;
}

static void mig_enter(struct mig *m, enum mig_phase p);
static void mig_fail(struct mig *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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

static void mig_journal_init(struct mig *m, const char *src, const char *dst)
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
static enum jrnl_steer *mig_steer(struct mig *m)
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

static void mig_report(struct mig *m, json_t *progress)
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
		      "driven_by", m->reactive ? "qemu (reactive: nobody warned this host)" :
		      m->external ? "libvirt (virsh migrate)" : "hybond");
	if (o && m->note[0])
		(void)json_object_set_new(o, "note", json_string(m->note));
	return o;
}

static json_t *mig_result_json(struct mig *m, int ok)
{
	struct vm *v = m->v;
	json_t *o = json_pack("{s:b, s:s, s:s, s:s, s:s, s:I, s:o}", "ok", ok, "vm", v->cfg.name,
			      "mode", vm_mode_name(v->cfg.mode), "from", v->d->cfg.host,
			      "to", m->peer, "total_ms", (json_int_t)since_ms(m),
			      "phases_ms", phases_json(m));

	if (!ok)
		(void)json_object_set_new(o, "error", json_string(m->err));
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
static void mig_progress_tick(void *arg);

static struct mig *mig_new(struct vm *v, enum mig_role role, const char *peer)
{
	struct mig *m = calloc(1, sizeof(*m));
	int i;

	if (!m)
		return NULL;
	m->base.ops = &mig_op_ops;
	m->v = v;
	m->role = role;
	m->lv = vm_config_libvirt(&v->cfg);
	m->d_path = -1;
	announcer_init(&m->ann);
	m->t0 = loop_now_ms();
	m->info.downtime_ms = m->info.total_time_ms = m->info.setup_time_ms = -1;
	m->info.ram_transferred = -1;
	for (i = 0; i < MIG_N_PHASES; i++)
		m->t_phase[i] = -1;
	(void)snprintf(m->peer, sizeof(m->peer), "%s", peer);
	m->timer = loop_timer_new(v->d->l, mig_timeout, m);
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
	free(m->hook_xml);
	free(m);
}

/* The operation is over: journal entry removed, its figures kept for status (either
 * role, whoever started it), the starter answered, object freed. */
static void mig_end(struct mig *m, int ok)
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

/* Split CMD on blanks (no shell), substitute {vm} {host} {peer} {moved}; stdout to us. */
static int spawn_cmd(struct mig *m, const char *tmpl, void (*done)(struct mig *, int))
{
	struct vm *v = m->v;
	char buf[CFG_CMD_MAX * 2], *argv[64], *save = NULL, *tok, moved[CFG_NAME_MAX + 16];
	int argc = 0, rc;
	size_t o = 0;
	const char *s;

	if (!v || !v->d)
		return -EINVAL;
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
	m->child = child_spawn(v->d->l, &(struct child_spec){ .argv = argv,
							      .out_max = sizeof(m->child_out) },
			       child_ended, m, &rc);
	return m->child ? 0 : rc;
}

/* ---- the peer channel ------------------------------------------------------------ */
static int send_result(struct mig *m, int ok, const char *text)
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

static void send_finished(struct mig *m, uint8_t path, const char *text)
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
static void send_stopped(struct mig *m)
{
	struct hb_msg r;

	hb_msg_init(&r, HB_MSG_MIGRATE_STOPPED, 0);
	r.u.migrate_stopped.vm = m->v->cfg.name;
	if (!m->pc || peer_send(m->pc, &r))
		hlog(HLOG_WARN, "vm %s: MIGRATE_STOPPED not sent: no announce from %s",
		     m->v->cfg.name, m->peer);
}

/* libvirt: answer the destination's qemu hook, which waits (bounded) at Prepare. */
static void hook_answer(struct mig *m, int ok, const char *mode, const char *msg)
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
static void send_incoming_ready(struct mig *m)
{
	struct hb_msg rep;

	if (m->ready_sent || !m->pc || m->reactive)
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
static void hook_uncoordinated(struct mig *m, const char *why)
{
	hlog(HLOG_WARN, "vm %s: `virsh migrate` from %s not coordinated: %s; the source daemon "
	     "reacts on its own (expect loss at the unplug)", m->v->cfg.name, m->peer, why);
	if (m->pc) {
		peer_conn_set_arg(m->pc, NULL);
		peer_conn_free(m->pc);
		m->pc = NULL;
	}
	(void)snprintf(m->note, sizeof(m->note), "not coordinated with %s: %.160s", m->peer, why);
	hook_answer(m, 1, "reactive", m->note);
	mig_enter(m, MIG_D_INCOMING);
}

/* ---- hypervisor answers ------------------------------------------------------------ */
static void hv_generic_done(void *arg, const struct hv_result *r)
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

static void incoming_done(void *arg, const struct hv_result *r)
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

/* Source: QEMU said "completed" and the final statistics are wanted before MIGRATE_RESULT. */
static int awaiting_final_stats(const struct mig *m)
{
	return m->phase == MIG_S_STOPPED && !strcmp(m->info.status, "completed");
}

/* Source: the migration completed: MIGRATE_RESULT ok to D, wait for its switch back. */
static void mig_completed(struct mig *m)
{
	loop_timer_disarm(m->progress);
	send_result(m, 1, "completed");
	mig_enter(m, MIG_S_DEST_SWITCHBACK);
}

static void stats_done(void *arg, const struct hv_result *r)
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

static void mig_progress_tick(void *arg)
{
	struct mig *m = arg;
	struct vm *v = m->v;

	if (!v->hv || v->hvo->query_migrate(v->hv, stats_done, v)) {
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

/* QEMU's migration status is one that still moves the VM (or is about to end). */
static int mig_status_active(const char *s)
{
	return s[0] && strcmp(s, "none") != 0 && strcmp(s, "completed") != 0 &&
	       strcmp(s, "failed") != 0 && strcmp(s, "cancelled") != 0;
}

/* ---- CANCEL: the rollback waits until QEMU says the migration is over ---------------- */

/* The migration completed before the cancel took: the VM runs on D; finish as a success. */
static void cancel_too_late(struct mig *m)
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
		send_stopped(m);
	}
	(void)snprintf(m->info.status, sizeof(m->info.status), "completed");
	m->stats_tries = 0;
	mig_enter(m, MIG_S_STOPPED);
	if (v->hv)
		v->hvo->query_migrate(v->hv, stats_done, v);
}

/* QEMU ended the migration (failed, cancelled, none): roll back, saying what QEMU said. */
static void cancel_ended(struct mig *m, const char *status)
{
	size_t n = strlen(m->err);

	if (!strstr(m->err, "QEMU reports") && !strstr(m->err, "(QEMU: "))
		(void)snprintf(m->err + n, sizeof(m->err) - n, " (QEMU: migration %s)",
			       status[0] ? status : "none");
	m->mig_ended = 1;
	mig_enter(m, MIG_S_ROLLBACK);
}

static void cancel_query_done(void *arg, const struct hv_result *r)
{
	struct vm *v = arg;
	struct mig *m = mig_of(v);

	if (!m || m->phase != MIG_S_CANCEL || r->err)
		return;
	if (!strcmp(r->mig.status, "completed"))
		cancel_too_late(m);
	else if (!mig_status_active(r->mig.status))
		cancel_ended(m, r->mig.status);
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
		(void)v->hvo->query_migrate(v->hv, cancel_query_done, v);
}

/* ---- rollback: the VF back in a bond VM ---------------------------------------------- */
static void rb_plug(struct mig *m);

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
		rb_plug(m);
}

static void rb_plug(struct mig *m)
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
		rb_plug(m);
	}
	mig_enter(m, MIG_S_RB_WAIT_VF);
}

/* RX back to the path the guest listens on while its VF is away (rollback, VF lost). */
static void rx_to_standby(struct mig *m)
{
	char err[512];

	if (step_rx_to_standby(m->v, mig_steer(m), err, sizeof(err)))
		hlog(HLOG_WARN, "%s", err);
}

/* --force without an agent: RX to the standby once the VF is gone (plain QEMU order). */
static void plain_rx_to_standby(struct mig *m)
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

/* ---- recovery: QEMU's view first ---------------------------------------------------- */
static void rec_decide(struct mig *m, int running);

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
	rec_decide(m, r->running);
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

static void rec_query(struct mig *m)
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

/* ---- the state machine ------------------------------------------------------------- */
static void cleanup_done(struct mig *m, int status)
{
	if (status != 0)
		hlog(HLOG_WARN, "vm %s: cleanup command exited with status %d", m->v->cfg.name,
		     status);
	mig_end(m, m->phase == MIG_S_CLEANUP);
}

static void launch_done(struct mig *m, int status);
static void recover_no_qemu(struct mig *m, const char *why);

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
		mig_fail(m, "PREPARE_SWITCH: %s", strerror(-rc));
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
	rc = v->hvo->vf_unplug(v->hv, v->vf_id, hv_generic_done, v);
	if (rc) {
		mig_fail(m, "device_del %s: %s", v->vf_id, strerror(-rc));
		return;
	}
	m->unplug_sent = 1;
	loop_timer_arm(m->timer, MIG_UNPLUG_TIMEOUT_MS);
}

static void enter_s_migrating(struct mig *m)
{
	struct vm *v = m->v;
	const struct hostd_config *c = &m->v->d->cfg;
	int rc;

	if (m->external) {
		/* libvirt migrates (`virsh migrate`): we only answer its hook, then
		 * follow QEMU's events like our own migration's */
		send_incoming_ready(m);
		loop_timer_arm(m->timer, m->migrate_sent ? MIG_MIGRATE_TIMEOUT_MS :
			       MIG_EXTERNAL_START_MS);
		loop_timer_arm(m->progress, MIG_PROGRESS_MS);
		return;
	}
	if (m->lv) {
		/* libvirt: peer-to-peer to the peer's libvirtd ("DCONNURI [MIGRATEURI]") */
		const struct peer_config *pc_ = config_peer(c, m->peer);

		(void)snprintf(m->uri, sizeof(m->uri), "%s%s%s",
			       pc_ ? pc_->libvirt_uri : "", pc_ && pc_->migrate_uri[0] ?
			       " " : "", pc_ ? pc_->migrate_uri : "");
	}
	rc = v->hvo->migrate_out(v->hv, m->uri, hv_generic_done, v);
	if (rc) {
		mig_fail(m, "migrate %s: %s", m->uri, strerror(-rc));
		return;
	}
	m->migrate_sent = 1;
	loop_timer_arm(m->timer, MIG_MIGRATE_TIMEOUT_MS);
	loop_timer_arm(m->progress, MIG_PROGRESS_MS);
}

static void enter_s_stopped(struct mig *m)
{
	/* MIGRATE_STOPPED already went out (send_stopped) before this journal write */
	loop_timer_arm(m->timer, MIG_MIGRATE_TIMEOUT_MS);
}

static void enter_s_cancel(struct mig *m)
{
	struct vm *v = m->v;
	int rc;

	/* m->err says why; QEMU's MIGRATION cancelled/failed -> ROLLBACK, completed ->
	 * the VM is on D after all (cancel_too_late) */
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
	if (v->cfg.cleanup[0] && spawn_cmd(m, v->cfg.cleanup, cleanup_done) == 0)
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
		send_result(m, 0, m->err);
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
	    v->hvo->query_vf(v->hv, v->vf_id, rb_vf_query_done, v) == 0)
		return;
	rb_plug(m);
	mig_enter(m, MIG_S_RB_WAIT_VF);
}

static void enter_s_rb_wait_vf(struct mig *m)
{
	uint64_t spent = loop_now_ms() - m->rb_t0;
	struct vm *v = m->v;
	const struct hostd_config *c = &m->v->d->cfg;

	if (spent >= c->vf_up_timeout_ms) {
		(void)snprintf(m->err + strlen(m->err), sizeof(m->err) - strlen(m->err),
			       "; rolled back, but the VF did not come back within %u ms: VM "
			       "stays on the standby", c->vf_up_timeout_ms);
		rx_to_standby(m);
		mig_enter(m, MIG_S_FAILED);
		return;
	}
	loop_timer_arm(m->timer, c->vf_up_timeout_ms - spent);
	if (m->force_no_agent) {
		/* no agent to ask: plain QEMU order, RX to the VF at once */
		mig_enter(m, MIG_S_RB_FAST_PATH);
		return;
	}
	if (v->gc && v->session_up)
		(void)gc_status(v->gc, NULL, gc_now_ms());
	if (vm_vf_up(v) && vm_guest_ready(v))
		mig_enter(m, MIG_S_RB_FAST_PATH);
}

static void enter_s_rb_fast_path(struct mig *m)
{
	struct vm *v = m->v;
	const struct hostd_config *c = &m->v->d->cfg;
	char err[512];
	int rc;

	if (loop_now_ms() - m->rb_t0 >= (uint64_t)c->vf_up_timeout_ms + c->resume_deadline_ms) {
		(void)snprintf(m->err + strlen(m->err), sizeof(m->err) - strlen(m->err),
			       "; rolled back, but the guest did not keep its fast path within "
			       "%u ms: VM stays on the standby", c->vf_up_timeout_ms +
			       c->resume_deadline_ms);
		rx_to_standby(m);
		mig_enter(m, MIG_S_FAILED);
		return;
	}
	/* no agent to ask: RX to the VF and done; else the answer decides: FAST ->
	 * RB_SETTLE, anything else -> retry (bounded) with RX on the VF */
	rc = m->force_no_agent ? step_rx_to(v, ESW_TO_VF, mig_steer(m), err, sizeof(err)) :
			      step_fast_path(v, NULL, mig_steer(m), 1, err, sizeof(err));
	if (rc < 0) {
		hlog(HLOG_ERR, "%s", err);
		(void)snprintf(m->err + strlen(m->err), sizeof(m->err) - strlen(m->err),
			       "; rollback: %s", err);
		mig_enter(m, MIG_S_FAILED);
	} else if (m->force_no_agent) {
		(void)snprintf(m->note, sizeof(m->note), "rolled back: " MIG_NO_AGENT_TEXT);
		mig_enter(m, MIG_S_FAILED);
	} else if (rc == STEP_FP_NOT_ASKED) {
		loop_timer_arm(m->timer, MIG_RB_RETRY_MS);
	}
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

static void enter_recover(struct mig *m)
{
	struct vm *v = m->v;
	char err[512];

	/* not journalled; wait for the QMP session, then ask QEMU (rec_query) */
	loop_timer_arm(m->timer, MIG_RECOVER_QMP_MS);
	if (!v->hv && (v->cfg.qmp[0] || m->lv) && vm_attach(v, err, sizeof(err))) {
		recover_no_qemu(m, err);
		return;
	}
	if (!v->hv) {
		recover_no_qemu(m, "no QMP socket known for it (qmp, or the journal's)");
		return;
	}
	rec_query(m);   /* now, or from mig_on_hv_ready() */
}

/* ---------------- destination ---------------- */
static void enter_d_launch(struct mig *m)
{
	struct vm *v = m->v;
	int rc;

	if (m->lv && !v->cfg.launcher[0]) {     /* libvirt starts the incoming QEMU */
		launch_done(m, 0);
		return;
	}
	rc = spawn_cmd(m, v->cfg.launcher, launch_done);
	if (rc) {
		mig_fail(m, "launcher '%s': %s", v->cfg.launcher, strerror(-rc));
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
	struct vm *v = m->v;
	int rc;

	if (m->lv) {
		/* libvirt runs the incoming side (its Prepare); `hybond migrate`: the
		 * source's libvirtd migrates once we answered; `virsh migrate`: the
		 * hook was answered.  The domain appears, runs or goes away. */
		loop_timer_arm(m->timer, MIG_MIGRATE_TIMEOUT_MS);
		if (!m->external) {
			struct hv_result ok_;

			memset(&ok_, 0, sizeof(ok_));
			incoming_done(v, &ok_);
		}
		return;
	}
	/* the QMP session may not be up yet: commands wait for the handshake */
	rc = v->hvo->accept_incoming(v->hv, m->uri, incoming_done, v);
	if (rc)
		mig_fail(m, "migrate-incoming: %s", strerror(-rc));
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
	if (v->cfg.mode == VM_MODE_BOND && step_vf_plug(v, v->vf_id, hv_generic_done, v))
		hlog(HLOG_WARN, "vm %s: VF device_add not sent", v->cfg.name);
	if (m->force_no_agent) {
		/* no guest agent to wait for: plain QEMU order, the MAC to the VF port
		 * now, as QEMU and the NIC would; nobody can verify the fast path */
		rc = step_rx_to(v, ESW_TO_VF, mig_steer(m), err, sizeof(err));
		if (rc) {
			(void)snprintf(m->err, sizeof(m->err), "%s", err);
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
	struct vm *v = m->v;
	const struct hostd_config *c = &m->v->d->cfg;

	loop_timer_arm(m->timer, c->vf_up_timeout_ms);
	if (vm_vf_up(v) && vm_guest_ready(v))
		mig_enter(m, MIG_D_FAST_PATH);
}

static void enter_d_fast_path(struct mig *m)
{
	struct vm *v = m->v;
	char err[512];

	if (!m->t_vf_up)
		m->t_vf_up = loop_now_ms();
	/* RX to the VF port, RESUME_FAST_PATH; the answer decides (mig_on_guest_answer) */
	if (step_fast_path(v, NULL, mig_steer(m), 0, err, sizeof(err)) != STEP_FP_ASKED) {
		(void)snprintf(m->err, sizeof(m->err), "%s", err);
		mig_enter(m, MIG_D_ON_STANDBY);
	}
}

static void enter_d_done(struct mig *m)
{
	send_finished(m, HB_PATH_FAST, m->force_no_agent ? MIG_NO_AGENT_TEXT : "fast path up");
	mig_end(m, 1);
}

static void enter_d_on_standby(struct mig *m)
{
	struct vm *v = m->v;

	/* the journal says where RX is: a steer back that failed left it on the VF */
	if (v->rx_steer == ESW_TO_STANDBY || v->rx_steer == ESW_TO_VF)
		*mig_steer(m) = v->rx_steer == ESW_TO_STANDBY ? JRNL_STEER_STANDBY :
				JRNL_STEER_VF;
	send_finished(m, HB_PATH_STANDBY, m->err[0] ? m->err : "VF not up in the guest");
	m->retry_ms = m->retry_ms ? m->retry_ms * 2 : MIG_RETRY_MIN_MS;
	if (m->retry_ms > MIG_RETRY_MAX_MS)
		m->retry_ms = MIG_RETRY_MAX_MS;
	loop_timer_arm(m->timer, m->retry_ms);
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
	hook_answer(m, 0, "refused", m->err[0] ? m->err : "hybond could not prepare the "
		    "destination");
	if (v->hv && !m->lv)    /* libvirt tears its incoming domain down itself */
		v->hvo->quit(v->hv, NULL, NULL);
	if ((v->ports_ok || m->recovering) &&
	    step_rx_to(v, ESW_TO_NONE, mig_steer(m), err, sizeof(err)))
		hlog(HLOG_WARN, "%s", err);
	v->here = 0;
	if (v->cfg.cleanup[0] && spawn_cmd(m, v->cfg.cleanup, cleanup_done) == 0)
		return;
	mig_end(m, 0);
}

/* What entering each phase does (NULL: nothing but the journal and the report). */
static void (*const mig_enter_fn[MIG_N_PHASES])(struct mig *) = {
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
	[MIG_S_RECOVER] = enter_recover,
	[MIG_D_RECOVER] = enter_recover,
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

/* Enter phase p: journal it, report it, run its action.  The only place phases change. */
static void mig_enter(struct mig *m, enum mig_phase p)
{
	struct vm *v = m->v;

	m->phase = p;
	if (m->t_phase[p] < 0)
		m->t_phase[p] = (int64_t)since_ms(m);
	mig_journal(m);
	hlog(HLOG_INFO, "vm %s: migration %s %s: %s (+%llu ms)", v->cfg.name,
	     m->role == MIG_SOURCE ? "to" : "from", m->peer, mig_phase_names[p],
	     (unsigned long long)since_ms(m));
	mig_report(m, json_object());
	loop_timer_disarm(m->timer);
	if (mig_enter_fn[p])
		mig_enter_fn[p](m);
}

static void mig_fail(struct mig *m, const char *fmt, ...)
{
	va_list ap;

	if (!m->err[0]) {
		va_start(ap, fmt);
		(void)vsnprintf(m->err, sizeof(m->err), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): va_start above */
		va_end(ap);
	}
	hlog(HLOG_ERR, "vm %s: migration %s: %s", m->v->cfg.name, mig_phase_names[m->phase],
	     m->err);
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

static void mig_timeout(void *arg)
{
	struct mig *m = arg;
	struct vm *v = m->v;

	switch (m->phase) {
	case MIG_D_HOOK_WAIT: {
		char why[96];

		(void)snprintf(why, sizeof(why), "no MIGRATE_READY within %u ms",
			       v->d->cfg.hook_wait_ms);
		hook_uncoordinated(m, why);
		break;
	}
	case MIG_S_MIGRATING:
		if (m->external && !m->migrate_sent) {
			mig_fail(m, "libvirt did not start the migration within %u s of our "
				 "MIGRATE_READY (its hook gave up, or the migration failed early)",
				 MIG_EXTERNAL_START_MS / 1000u);
			break;
		}
		mig_fail(m, "timed out in %s", mig_phase_names[m->phase]);
		break;
	case MIG_D_WAIT_VF:
		(void)snprintf(m->err, sizeof(m->err), "the guest did not report its VF up within %u ms",
			 v->d->cfg.vf_up_timeout_ms);
		mig_enter(m, MIG_D_ON_STANDBY);
		break;
	case MIG_D_ON_STANDBY:
		/* retry: ask the guest again; a VF that came up moves us on */
		if (v->gc && v->session_up)
			(void)gc_status(v->gc, NULL, gc_now_ms());
		if (vm_vf_up(v) && vm_guest_ready(v))
			mig_enter(m, MIG_D_FAST_PATH);
		else
			mig_enter(m, MIG_D_ON_STANDBY);
		break;
	case MIG_S_DEST_SWITCHBACK:
		(void)snprintf(m->d_text, sizeof(m->d_text), "no MIGRATE_FINISHED from %s", m->peer);
		mig_enter(m, MIG_S_CLEANUP);
		break;
	case MIG_S_CANCEL:
		if (++m->cancel_polls > MIG_CANCEL_POLLS) {
			(void)snprintf(m->err + strlen(m->err), sizeof(m->err) - strlen(m->err),
				       "; QEMU did not end the migration within %u s after "
				       "migrate_cancel: not rolled back, check where the VM runs",
				       MIG_CANCEL_POLLS * MIG_CANCEL_POLL_MS / 1000u);
			mig_enter(m, MIG_S_FAILED);
			break;
		}
		if (v->hv) {    /* ask again (and cancel again: a cancel in setup can be lost) */
			(void)v->hvo->migrate_cancel(v->hv, NULL, NULL);
			(void)v->hvo->query_migrate(v->hv, cancel_query_done, v);
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
			rx_to_standby(m);
			mig_enter(m, MIG_S_RB_WAIT_VF);
		}
		break;
	case MIG_S_RB_SETTLE:
		if (vm_vf_up(v) && v->pair.active == HB_PATH_FAST) {
			mig_enter(m, MIG_S_FAILED);     /* rolled back: the VM is on its fast path */
		} else {
			rx_to_standby(m);
			mig_enter(m, MIG_S_RB_WAIT_VF);
		}
		break;
	case MIG_S_RECOVER:
	case MIG_D_RECOVER:
		recover_no_qemu(m, "no QMP session within 30 s");
		break;
	default:
		mig_fail(m, "timed out in %s", mig_phase_names[m->phase]);
		break;
	}
}

/* ---- inputs ------------------------------------------------------------------------ */
static void mig_start_reactive(struct vm *v, const char *why);
static void mig_start_dest_unannounced(struct vm *v);
static void mig_on_hv_event(struct vm *v, enum hv_ev ev, const char *detail, uint64_t ts_ms);

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

static void mig_on_hv_event(struct vm *v, enum hv_ev ev, const char *detail, uint64_t ts_ms)
{
	struct mig *m = mig_of(v);

	if (!m)
		return;
	if (ev == HV_EV_MIGRATION)
		hlog(HLOG_INFO, "vm %s: QEMU: migration %s (%s)", v->cfg.name, detail,
		     mig_phase_names[m->phase]);
	if (m->role == MIG_SOURCE && m->external && !m->migrate_sent &&
	    (ev == HV_EV_UNPLUG_PRIMARY || ev == HV_EV_STOP ||
	     (ev == HV_EV_MIGRATION && mig_status_active(detail)))) {
		/* libvirt's migration job reached QEMU: from now on a failure is QEMU's
		 * (cancel first, roll back once it says so), as after our own `migrate` */
		m->migrate_sent = 1;
		if (m->phase == MIG_S_MIGRATING)
			loop_timer_arm(m->timer, MIG_MIGRATE_TIMEOUT_MS);
	}
	if (m->role == MIG_SOURCE && m->reactive && ev == HV_EV_MIGRATION &&
	    !strcmp(detail, "active") && !m->steered_standby) {
		/* QEMU's unplug is over (failover waits for it before "active"): the VF
		 * cannot receive any more, whatever the guest agent answered */
		plain_rx_to_standby(m);
	}
	if (m->role == MIG_SOURCE) {
		if (ev == HV_EV_DEVICE_DELETED && m->phase == MIG_S_UNPLUG_VF &&
		    !strcmp(detail, v->vf_id)) {
			m->vf_unplugged = 1;
			if (m->force_no_agent)
				plain_rx_to_standby(m);
			mig_enter(m, MIG_S_MIGRATING);
		} else if (ev == HV_EV_DEVICE_DELETED && !strcmp(detail, v->vf_id) &&
			   m->phase == MIG_S_ROLLBACK) {
			m->vf_unplugged = 1;    /* the device_del we waited for */
			mig_enter(m, MIG_S_RB_REPLUG);
		} else if (ev == HV_EV_DEVICE_DELETED && !strcmp(detail, v->vf_id) &&
			   m->phase > MIG_S_ROLLBACK && m->phase < MIG_S_FAILED) {
			/* a bond VF that left during the rollback: RX to the standby, a new VF */
			m->vf_unplugged = 1;
			rx_to_standby(m);
			mig_enter(m, MIG_S_RB_REPLUG);
		} else if (ev == HV_EV_STOP && (m->phase == MIG_S_MIGRATING ||
						(m->phase == MIG_S_CANCEL && !m->stopped))) {
			/* (CANCEL: the migration may still complete: D must announce) */
			m->tr_seen_us = rt_us();
			m->stopped = 1;
			m->t_stop_rt = ts_ms;
			send_stopped(m);
			m->tr_sent_us = rt_us();
			if (m->phase == MIG_S_MIGRATING)
				mig_enter(m, MIG_S_STOPPED);
			hlog(HLOG_INFO, "vm %s: STOP trace: qemu_stop_ms=%llu seen_us=%llu sent_us=%llu",
			     v->cfg.name, (unsigned long long)ts_ms,
			     (unsigned long long)m->tr_seen_us, (unsigned long long)m->tr_sent_us);
		} else if (ev == HV_EV_MIGRATION && m->phase == MIG_S_CANCEL) {
			if (!strcmp(detail, "completed"))
				cancel_too_late(m);
			else if (!strcmp(detail, "failed") || !strcmp(detail, "cancelled"))
				cancel_ended(m, detail);
		} else if (ev == HV_EV_MIGRATION && (m->phase == MIG_S_MIGRATING ||
						     m->phase == MIG_S_STOPPED)) {
			if (!strcmp(detail, "active") && m->force_no_agent)
				plain_rx_to_standby(m);  /* failover: QEMU's unplug is done */
			if (!strcmp(detail, "completed")) {
				if (m->phase == MIG_S_MIGRATING) {     /* no STOP seen: still order */
					m->stopped = 1;
					send_stopped(m);
					mig_enter(m, MIG_S_STOPPED);
				}
				(void)snprintf(m->info.status, sizeof(m->info.status), "completed");
				m->stats_tries = 0;
				v->hvo->query_migrate(v->hv, stats_done, v);
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
	if (m->lv && m->role == MIG_SOURCE && m->stopped &&
	    (m->phase == MIG_S_STOPPED || m->phase == MIG_S_CANCEL)) {
		/* libvirt ends the source QEMU only once the destination runs the VM
		 * (Confirm after a successful Finish): the migration completed */
		hlog(HLOG_INFO, "vm %s: the source domain ended after STOP: completed",
		     v->cfg.name);
		(void)snprintf(m->info.status, sizeof(m->info.status), "completed");
		mig_completed(m);
		return;
	}
	if (m->lv && m->role == MIG_DEST && m->phase < MIG_D_RESUMED && err == -ENOENT)
		return;         /* libvirt: no domain yet (Prepare has not started it) */
	if (m->phase == MIG_S_RECOVER || m->phase == MIG_D_RECOVER) {
		recover_no_qemu(m, "its QMP monitor closed");
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

static void mig_on_hv_ready(struct vm *v)
{
	struct mig *m = mig_of(v);

	if (m && m->lv && m->role == MIG_DEST && m->phase < MIG_D_RESUMED)
		vm_gc_restart(v);       /* the incoming domain exists: its agent socket too */
	if (m && (m->phase == MIG_S_RECOVER || m->phase == MIG_D_RECOVER))
		rec_query(m);
}

static void mig_on_guest(struct vm *v)
{
	struct mig *m = mig_of(v);

	if (!m)
		return;
	if ((m->phase == MIG_D_WAIT_VF || m->phase == MIG_D_ON_STANDBY) && vm_vf_up(v) &&
	    vm_guest_ready(v)) {
		mig_enter(m, MIG_D_FAST_PATH);
	} else if (m->phase == MIG_S_RB_WAIT_VF && vm_vf_up(v) && vm_guest_ready(v)) {
		mig_enter(m, MIG_S_RB_FAST_PATH);
	} else if (m->phase == MIG_S_RB_SETTLE && !vm_vf_up(v)) {
		/* the VF left after the guest took the fast path back (QEMU re-plugs a
		 * failover primary late): RX to the standby, wait for it again */
		hlog(HLOG_WARN, "vm %s: rollback: the VF left the guest again: waiting for it",
		     v->cfg.name);
		rx_to_standby(m);
		mig_enter(m, MIG_S_RB_WAIT_VF);
	} else if (m->phase == MIG_S_RB_SETTLE && v->pair.valid && v->pair.active != HB_PATH_FAST) {
		/* the guest pinned TX to the standby again (its VF came back): ask again */
		hlog(HLOG_WARN, "vm %s: rollback: the guest's TX is on the standby again: "
		     "RESUME_FAST_PATH again", v->cfg.name);
		mig_enter(m, MIG_S_RB_FAST_PATH);
	}
}

static void mig_on_guest_answer(struct vm *v, uint16_t req_type, const struct hb_msg *ans,
				int res)
{
	struct mig *m = mig_of(v);
	const char *why = gc_answer_failure(ans, res);

	if (!m)
		return;
	if (req_type == HB_MSG_PREPARE_SWITCH && m->phase == MIG_S_SWITCH_TX && m->reactive) {
		/* QEMU is already unplugging the VF: whatever the agent says, RX goes to
		 * the standby now; a refusal must not cancel the operator's migration */
		if (why || !ans)
			hlog(HLOG_WARN, "vm %s: reactive: PREPARE_SWITCH: %s (RX to the standby "
			     "anyway)", v->cfg.name, why ? why : "no answer");
		plain_rx_to_standby(m);
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
	} else if (req_type == HB_MSG_RESUME_FAST_PATH && m->phase == MIG_D_FAST_PATH) {
		/* refused: RX back to the standby the guest listens on */
		if (step_fast_path_answer(v, ans, res, mig_steer(m), 0, &why)) {
			mig_enter(m, MIG_D_DONE);
			return;
		}
		(void)snprintf(m->err, sizeof(m->err), "RESUME_FAST_PATH: %s", why ? why : "still on standby");
		mig_enter(m, MIG_D_ON_STANDBY);
	} else if (req_type == HB_MSG_RESUME_FAST_PATH && m->phase == MIG_S_RB_FAST_PATH) {
		/* refused: RX stays on the VF port while the rollback retries */
		if (step_fast_path_answer(v, ans, res, mig_steer(m), 1, &why)) {
			mig_enter(m, MIG_S_RB_SETTLE);  /* its STATUS follows; settle on it */
			return;
		}
		/* refused (busy: a PREPARE_SWITCH still draining), timed out, or the VF is not
		 * usable yet: retry while the rollback's budget lasts */
		hlog(HLOG_WARN, "vm %s: rollback: RESUME_FAST_PATH: %s: retrying", v->cfg.name,
		     why ? why : "the guest stays on the standby");
		loop_timer_arm(m->timer, MIG_RB_RETRY_MS);
	}
}

void mig_on_peer_msg(struct vm *v, struct peer_conn *pc, const struct hb_msg *m_)
{
	struct mig *m = mig_of(v);
	char err[256];
	int rc;

	if (!m || m->pc != pc)
		return;
	switch (m_->type) {
	case HB_MSG_MIGRATE_READY:
		if (m->role == MIG_DEST && m->phase == MIG_D_HOOK_WAIT) {
			/* the source's RX and TX are on the standby: libvirt may go on */
			hook_answer(m, 1, "coordinated", "the source moved RX and TX to the standby");
			mig_enter(m, MIG_D_INCOMING);
			break;
		}
		if (m->role != MIG_SOURCE || m->phase != MIG_S_DEST_PREPARE)
			break;
		(void)snprintf(m->uri, sizeof(m->uri), "%s", m_->u.migrate_ready.uri);
		mig_enter(m, MIG_S_STEER_STANDBY);
		break;
	case HB_MSG_ERROR:
		if (m->role == MIG_DEST && m->phase == MIG_D_HOOK_WAIT) {
			(void)snprintf(err, sizeof(err), "the source refused: %s",
				       m_->u.error.text ? m_->u.error.text : "?");
			hook_uncoordinated(m, err);
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
		 * One sendto() on the socket opened before (launch_done); nothing before it. */
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
			hook_uncoordinated(m, err);
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
		hook_uncoordinated(m, "the source daemon closed the peer channel");
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

static const struct peer_ops mig_peer_ops = { .on_msg = peer_msg_cb, .on_closed = peer_closed_cb };

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
	m = mig_new(v, MIG_SOURCE, peer);
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

/* The MAC to the standby port from the start, the announce socket ready, the standby
 * tap's queue sized (QMP and libvirt destinations alike).  0 or mig_fail()ed. */
static int dest_standby_first(struct mig *m)
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

	if (dest_standby_first(m))
		return;
	if (!v->hv && vm_attach(v, err, sizeof(err))) {
		mig_fail(m, "%s", err);
		return;
	}
	if (!m->external) {
		mig_enter(m, MIG_D_INCOMING);
		return;
	}
	if (!v->d->cfg.libvirt_coordinate) {
		hook_uncoordinated(m, "libvirt_coordinate = 0 in hostd.conf");
		return;
	}
	pcfg = config_peer(&v->d->cfg, m->peer);
	if (!pcfg) {
		(void)snprintf(err, sizeof(err), "no [peer %s] in hostd.conf", m->peer);
		hook_uncoordinated(m, err);
		return;
	}
	m->pc = peer_connect_to(v->d->l, v->d->tls, pcfg, &mig_peer_ops, v, &rc);
	if (!m->pc) {
		(void)snprintf(err, sizeof(err), "peer %s unreachable: %s", m->peer, strerror(-rc));
		hook_uncoordinated(m, err);
		return;
	}
	hb_msg_init(&r, HB_MSG_MIGRATE_INCOMING, 0);
	r.u.migrate_incoming.vm = v->cfg.name;
	memcpy(r.u.migrate_incoming.mac, v->mac, 6);
	r.u.migrate_incoming.dest = v->d->cfg.host;
	if (peer_send(m->pc, &r)) {
		hook_uncoordinated(m, "cannot send MIGRATE_INCOMING");
		return;
	}
	mig_enter(m, MIG_D_HOOK_WAIT);
}

/* Launcher output: lines "qmp=PATH", "agent=PATH", optionally "uri=URI". */
static void launch_done(struct mig *m, int status)
{
	struct vm *v = m->v;
	char *save = NULL, *line, err[512], *qdir;
	int rc;

	if (status != 0) {
		mig_fail(m, "launcher exited with status %d", status);
		return;
	}
	if (m->lv) {
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
	if (dest_standby_first(m))
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
	m = mig_new(v, MIG_DEST, p->source);
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
	m = mig_new(v, MIG_SOURCE, p->dest);
	if (!m)
		return -ENOMEM;
	m->external = 1;
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
static void mig_start_reactive(struct vm *v, const char *why)
{
	struct mig *m = mig_new(v, MIG_SOURCE, "?");

	if (!m)
		return;
	m->external = 1;
	m->reactive = 1;
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
	plain_rx_to_standby(m);
	mig_enter(m, MIG_S_SWITCH_TX);
}

/* Destination without a hook: the incoming domain resumed here and nobody told us.
 * RX to the standby (the new VF is not up yet), then as after any RESUME. */
static void mig_start_dest_unannounced(struct vm *v)
{
	struct mig *m = mig_new(v, MIG_DEST, "?");

	if (!m)
		return;
	m->external = 1;
	m->reactive = 1;
	hlog(HLOG_WARN, "vm %s: the domain resumed here without notice (no hybond hook in "
	     "this host's libvirt?): taking it to the fast path", v->cfg.name);
	(void)snprintf(m->note, sizeof(m->note), "unannounced: no hook told this host");
	(void)snprintf(v->vf_id, sizeof(v->vf_id), "%s", v->cfg.vf_id);
	mig_journal_init(m, "?", v->d->cfg.host);
	if (dest_standby_first(m))
		return;
	vm_gc_restart(v);       /* the agent's socket is there now: no back-off wait */
	mig_enter(m, MIG_D_RESUMED);
}

/* Destination: the qemu hook's `migrate begin` (libvirt's Prepare, before memory
 * moves).  0: the hook gets its answer later (hook_answer); <0: answer now with err. */
int mig_hook_incoming(struct vm *v, const struct op_sink *hook, const char *source, char **xml,
		      char *err, size_t errlen, int *answered)
{
	struct mig *m = mig_of(v);

	*answered = 0;
	if (m && m->role == MIG_DEST && !m->external) {
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
	m = mig_new(v, MIG_DEST, source && source[0] ? source : "?");
	if (!m)
		return -ENOMEM;
	m->external = 1;
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

/* ---- recovery ---------------------------------------------------------------------- */
/* The VM's QEMU does not answer here. */
static void recover_no_qemu(struct mig *m, const char *why)
{
	struct vm *v = m->v;
	int j = m->rec_phase;

	if (m->role == MIG_DEST) {
		/* an incoming QEMU that is gone failed its migration; one that ran the VM
		 * died with it: either way nothing runs here, clean up */
		(void)snprintf(m->err, sizeof(m->err), "recovery from %s: the VM's QEMU on %s "
			       "does not answer (%s): cleaned up", mig_phase_names[j],
			       v->d->cfg.host, why);
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
static void rec_decide(struct mig *m, int running)
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
		(void)snprintf(m->err, sizeof(m->err), "daemon restarted in %s: migration "
			       "cancelled", mig_phase_names[j]);
		mig_enter(m, MIG_S_CANCEL);
	} else {
		if (ms[0] && strcmp(ms, "none") != 0)
			m->migrate_sent = 1;
		m->mig_ended = 1;
		(void)snprintf(m->err, sizeof(m->err), "daemon restarted in %s (QEMU: migration "
			       "%s): rolled back", mig_phase_names[j], ms[0] ? ms : "none");
		mig_enter(m, MIG_S_ROLLBACK);
	}
}

/*
 * Recovery at start (journal left by a previous daemon): the facts come from the
 * journal, where the VM runs from QEMU.  S_RECOVER / D_RECOVER wait for the QMP
 * session and decide (rec_decide); the table is in docs/host-agent.md.
 */
void mig_recover(struct vm *v, const struct jrnl_op *op)
{
	struct mig *m;
	int i, phase = -1;
	const char *s;

	for (i = 0; i < MIG_N_PHASES; i++)
		if (!strcmp(op->phase, mig_phase_names[i]))
			phase = i;
	if (v->op)
		return;         /* already recovering (hostd.c's pass at start, then the VM's) */
	if (phase < 0 || phase == MIG_S_RECOVER || phase == MIG_D_RECOVER) {
		hlog(HLOG_WARN, "vm %s: journal phase %s not recoverable: check by hand",
		     v->cfg.name, op->phase);
		return;
	}
	m = mig_new(v, phase >= MIG_D_LAUNCH ? MIG_DEST : MIG_SOURCE,
		    phase >= MIG_D_LAUNCH ? op->source : op->dest);
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

static const struct op_ops mig_op_ops = {
	.what = "migration", .places_vm = 1,
	.on_hv_event = mig_on_hv_event, .on_hv_closed = mig_on_hv_closed,
	.on_hv_ready = mig_on_hv_ready, .on_guest = mig_on_guest,
	.on_guest_answer = mig_on_guest_answer, .on_peer_msg = mig_on_peer_msg,
	.on_peer_closed = mig_on_peer_closed, .sink_gone = mig_sink_gone,
	.json_key = "migration", .to_json = mig_to_json, .free = mig_free,
};
