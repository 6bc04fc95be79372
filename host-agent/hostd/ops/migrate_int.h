/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/ops/migrate_int.h — what the files of the migration share (migrate.c
 * tells the story and keeps the core: journal, report, phases, inputs; migrate_source.c,
 * migrate_dest.c: each role's phases; migrate_libvirt.c: `virsh migrate`, its hook and the
 * migrations nobody announced; migrate_recover.c: after a daemon restart).  Not for
 * anything outside ops/migrate*.
 */
#ifndef HYBOND_MIGRATE_INT_H
#define HYBOND_MIGRATE_INT_H

#include <stdint.h>

#include "host-agent/common/child.h"
#include "host-agent/hostd/esw/announce.h"
#include "host-agent/hostd/peer/peer.h"
#include "host-agent/hostd/vm.h"
#include "fastpath.h"
#include "migrate.h"

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
extern const char *const mig_phase_names[MIG_N_PHASES];

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
	struct fastpath fp;     /* D_WAIT_VF..D_FAST_PATH, D_ON_STANDBY; S_RB_WAIT_VF..RB_FAST_PATH */
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
	char err[512];          /* the first failure: the result's "error" */
	struct op_errors errs;  /* every failure, in order, with errno where known */
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
	const struct mig_driver *drv;   /* who drives it, through what (migrate_drivers.c) */
	int ready_sent;                 /* libvirt source: MIGRATE_READY went to the hook's host */
	struct op_sink hook;            /* destination: the qemu hook waiting for its answer */
	char *hook_xml;                 /* its domain XML naming this host (owned) */
	char hook_mode[32];
	/* STOP -> announce: the socket is ready before STOP; CLOCK_REALTIME µs stamps */
	struct announcer ann;
	uint64_t tr_seen_us, tr_sent_us;        /* source: STOP read, MIGRATE_STOPPED sent */
	uint64_t tr_recv_us, tr_rarp_us;        /* dest: MIGRATE_STOPPED read, sendto() back */
};

/*
 * The variants of a migration (migrate_drivers.c): who drives it and through what.
 * hybond migrate over QMP; hybond migrate of a libvirt domain (libvirt's peer-to-peer
 * migration); `virsh migrate` coordinated by the hook (libvirt's job migrates, hybond
 * moves the datapath around it); reactive (nobody warned the source, or the
 * destination of an unannounced one).  Recovery knows only the first two (the journal
 * does not say who drove).
 */
struct mig_driver {
	const char *driven_by;          /* `hybond status` */
	int libvirt;                    /* a libvirt domain: libvirt starts the incoming domain
					 * and tears it down; the source domain's end confirms */
	int external;                   /* libvirt's job migrates: S follows QEMU's events */
	int reactive;                   /* nobody warned this host: no MIGRATE_READY to send */
	/* S_DEST_PREPARE: the destination's MIGRATE_READY offers a URI (untrusted): 0 with
	 * m->uri set, or negative errno with err (NULL: the URI is not the peer's to say) */
	int (*ready_uri)(struct mig *m, const char *offer, char *err, size_t errlen);
	void (*migrate)(struct mig *m); /* S_MIGRATING: start the migration, or follow it */
	void (*incoming)(struct mig *m);/* D_INCOMING: take it in */
};
extern const struct mig_driver mig_drv_qmp, mig_drv_libvirt, mig_drv_virsh, mig_drv_reactive;
/* The driver of `hybond migrate` for this VM: QMP or libvirt. */
const struct mig_driver *mig_drv_hybond(const struct vm *v);

extern const struct op_ops mig_op_ops;
extern const struct peer_ops mig_peer_ops;     /* the peer channel of a migration */

/* The VM's migration, if the operation it runs is one. */
static inline struct mig *mig_of(const struct vm *v)
{
	return v->op && v->op->ops == &mig_op_ops ? (struct mig *)v->op : NULL;
}

/* What entering each phase does, per role (NULL: nothing but the journal and the
 * report): migrate_source.c, migrate_dest.c. */
extern void (*const mig_source_enter[MIG_N_PHASES])(struct mig *m);
extern void (*const mig_dest_enter[MIG_N_PHASES])(struct mig *m);

/* migrate.c */
void mig_journal_init(struct mig *m, const char *src, const char *dst);
enum jrnl_steer *mig_steer(struct mig *m);
void mig_report(struct mig *m, json_t *progress);
struct mig *mig_new(struct vm *v, enum mig_role role, const char *peer,
		    const struct mig_driver *drv);
void mig_free(struct vm *v);
void mig_end(struct mig *m, int ok);
int mig_spawn(struct mig *m, const char *tmpl, void (*done)(struct mig *, int));
int mig_send_result(struct mig *m, int ok, const char *text);
void mig_send_finished(struct mig *m, uint8_t path, const char *text);
void mig_send_stopped(struct mig *m);
void mig_hv_done(void *arg, const struct hv_result *r);
int mig_status_active(const char *s);
void mig_cleanup_done(struct mig *m, int status);
void mig_enter(struct mig *m, enum mig_phase p);
void mig_fail(struct mig *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same, for a call that failed with rc (negative errno): ": strerror" and the errno
 * go with it. */
void mig_fail_rc(struct mig *m, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A failure that does not end the phase (recorded; the caller moves on): replaces the
 * result's "error" (mig_err) or adds to it after "; " (mig_err_more). */
void mig_err(struct mig *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mig_err_more(struct mig *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mig_on_hv_event(struct vm *v, enum hv_ev ev, const char *detail, uint64_t ts_ms);
void mig_on_hv_ready(struct vm *v);
void mig_on_guest_answer(struct vm *v, uint16_t req_type, const struct hb_msg *ans, int res);

/* migrate_source.c */
void mig_completed(struct mig *m);
void mig_stats_done(void *arg, const struct hv_result *r);
void mig_progress_tick(void *arg);
void mig_cancel_too_late(struct mig *m);
void mig_cancel_ended(struct mig *m, const char *status);
void mig_cancel_query_done(void *arg, const struct hv_result *r);
void mig_rb_plug(struct mig *m);
void mig_rx_to_standby(struct mig *m);
void mig_plain_rx_to_standby(struct mig *m);
void mig_rb_fast_path_done(struct mig *m, const struct fastpath_result *r);

/* migrate_dest.c */
/* D_INCOMING is done (QEMU's migrate-incoming answered, or libvirt's Prepare): MIGRATE_READY. */
void mig_incoming_done(void *arg, const struct hv_result *r);
int mig_dest_standby_first(struct mig *m);
void mig_launch_done(struct mig *m, int status);
void mig_dest_fast_path_done(struct mig *m, const struct fastpath_result *r);

/* migrate_libvirt.c */
void mig_hook_answer(struct mig *m, int ok, const char *mode, const char *msg);
void mig_send_incoming_ready(struct mig *m);
void mig_hook_uncoordinated(struct mig *m, const char *why);
void mig_start_reactive(struct vm *v, const char *why);
void mig_start_dest_unannounced(struct vm *v);

/* migrate_recover.c */
void mig_rec_query(struct mig *m);
void mig_enter_recover(struct mig *m);
void mig_recover_no_qemu(struct mig *m, const char *why);
void mig_rec_decide(struct mig *m, int running);
void mig_recover(struct vm *v, const struct jrnl_op *op);

#endif
