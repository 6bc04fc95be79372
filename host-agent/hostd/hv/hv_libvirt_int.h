/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/hv/hv_libvirt_int.h — what the two halves of the libvirt backend share:
 * hv_libvirt.c (the loop side: the hv ops, the messages the loop handles, connect and
 * reconnect) and hv_libvirt_worker.c (the worker and event threads: the blocking
 * libvirt calls of each job, libvirt's callbacks).  Not for other files.  The thread
 * rules are in hv_libvirt.c's head comment.
 */
#ifndef HYBOND_HV_LIBVIRT_INT_H
#define HYBOND_HV_LIBVIRT_INT_H

#include <libvirt/libvirt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "hv.h"
#include "qmp.h"

#define HVL_WORKERS_MAX       16     /* concurrent blocking libvirt calls */
#define HVL_RETRY_FIRST_MS    500u   /* reconnect back-off: 0.5 s doubling ... */
#define HVL_RETRY_MAX_MS      5000u  /* ... to 5 s */
#define HVL_ACCEPT_POLL_MS    20u    /* migrate_out: how often to ask whether the job runs */
#define HVL_ACCEPT_TIMEOUT_MS 30000u /* ... and for how long (hv_qmp's migrate timeout) */
#define HVL_KEEPALIVE_S       5      /* libvirt keepalive: interval, ... */
#define HVL_KEEPALIVE_COUNT   3u     /* ... unanswered probes until the connection is dead */
#define HVL_NAME_MAX          256
#define HVL_ARG_MAX           512
#define HVL_MSG_MAX           512
/* the QEMU events hybond acts on (monitor event registration, a regex) */
#define HVL_MON_EVENTS \
	"^(STOP|RESUME|MIGRATION|UNPLUG_PRIMARY|FAILOVER_NEGOTIATED|DEVICE_DELETED|SHUTDOWN)$"

enum hvl_job_kind {
	J_CONNECT, J_PROBE, J_MIGRATE, J_JOBINFO, J_CANCEL, J_QMIGRATE, J_QSTATUS,
	J_UNPLUG, J_PLUG, J_QVF, J_CONT, J_QUIT, J_NOOP, J_SNAPSHOT, J_REPLUG,
};

enum hvl_msg_kind { M_JOB, M_LIFECYCLE, M_MONITOR, M_CONN_CLOSED };

struct hvl_job;

/* Something for the loop thread: a finished job or a libvirt callback's copy. */
struct hvl_msg {
	struct hvl_msg *next;
	enum hvl_msg_kind kind;
	struct hvl_job *job;            /* M_JOB */
	char name[HVL_NAME_MAX];        /* the domain */
	char uuid[VIR_UUID_STRING_BUFLEN];
	int event, detail;              /* M_LIFECYCLE; M_CONN_CLOSED: detail = reason */
	char ev[32];                    /* M_MONITOR: QEMU's event name */
	char *data;                     /* M_MONITOR: its "data" as JSON, or NULL */
	uint64_t ts_ms;                 /* CLOCK_REALTIME */
};

struct hvl_job {
	struct hvl_job *next;           /* the workers' queue */
	struct hvl_msg done;            /* queued to the loop when finished */
	enum hvl_job_kind kind;
	struct hv *h;                   /* loop thread only (a reference); NULL: J_CONNECT */
	hv_done_fn fn;
	void *arg;
	unsigned seq;                   /* J_PROBE: h->lc_seq when asked */
	int flag;                       /* J_PROBE: after a reconnect; J_PLUG: XML (1) or QMP;
					 * J_QSTATUS: a migrate_out runs; J_QMIGRATE: a cache */
	int migrated;                   /* J_QSTATUS: the domain migrated away from here */
	char target[HVL_NAME_MAX];      /* domain name or UUID */
	char a[HVL_ARG_MAX], b[HVL_ARG_MAX]; /* dconnuri + migrateuri; device id */
	char *payload;                  /* XML or a QMP command (malloc) */
	/* results */
	int err;
	char msg[HVL_MSG_MAX];
	struct hv_result r;
	int active;                     /* J_PROBE: runs; J_JOBINFO: a job; J_CONNECT: mon events */
	char note[HVL_MSG_MAX];         /* J_CONNECT: why there are no monitor events */
};

struct hv {
	struct hv *next;                /* hvl_g.hvs */
	char target[HVL_NAME_MAX];
	char name[64];                  /* for log lines (the VM's name) */
	const struct hv_cb *cb;
	void *arg;
	unsigned refs;
	int closed;
	int bound;                      /* the domain runs; on_ready given, on_closed not yet */
	int migrated;                   /* the domain migrated away (a postmigrate shell) */
	unsigned lc_seq;                /* lifecycle events seen (J_PROBE staleness) */
	unsigned long msg_serial;       /* the last message delivered (see deliver()) */
	char last_err[HVL_MSG_MAX];
	/* the migrate_out in flight */
	int mig_running, mig_accepted, mig_qemu_ended, mig_qemu_completed, jobinfo_pending;
	hv_done_fn mig_fn;
	void *mig_arg;
	uint64_t mig_t0, mig_completed_ts;
	struct loop_timer *accept_timer;
	struct qmp_migrate_info mig_cache;  /* the last completed migrate_out's statistics */
	int mig_cache_valid;
};

/* Process-wide state (hv_libvirt.c defines it). */
struct hvl_state {
	pthread_mutex_t mu;
	pthread_cond_t work_cv;
	/* under mu */
	struct hvl_job *work_head, **work_tail;
	struct hvl_msg *msg_head, **msg_tail;
	pthread_t workers[HVL_WORKERS_MAX];
	int n_workers, n_idle, stopping;
	virConnectPtr conn;
	int lc_id, mon_id, close_cb;
	int efd;
	/* set at init, read-only after */
	char uri[HVL_NAME_MAX];
	int uri_default;
	/* event thread */
	pthread_t ev_thread;
	int ev_started;
	atomic_int ev_stop;
	/* loop thread only */
	struct loop *l;
	int inited, up, have_mon, connecting, retry_logged;
	unsigned backoff_ms;
	unsigned long serial;
	struct loop_timer *retry;
	struct hv *hvs;
};

extern struct hvl_state hvl_g;

/* ---- hv_libvirt_worker.c: any thread ---- */
/* Queue m for the loop thread and wake it. */
void hvl_post(struct hvl_msg *m);
/* Clear a migration statistics record (no figures known). */
void hvl_info_clear(struct qmp_migrate_info *mi);
/* Open the connection and register the callbacks (a J_CONNECT job; blocking). */
void hvl_run_connect(struct hvl_job *j);
/* Forget the connection: callbacks off, our reference dropped (not the event thread). */
void hvl_conn_drop(void);
/* The worker thread's body: runs queued jobs until hvl_g.stopping. */
void *hvl_worker_main(void *unused);
/* The event thread's body: virEventRunDefaultImpl() until hvl_g.ev_stop. */
void *hvl_event_main(void *unused);

#endif /* HYBOND_HV_LIBVIRT_INT_H */
