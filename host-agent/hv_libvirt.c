// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hv_libvirt.c — the hypervisor backend on the libvirt C API (see hv.h and
 * hv_libvirt.h).  Same contract as hv_qmp.c; where libvirt cannot behave like a bare
 * QEMU, the comment at the function says what differs.
 *
 * Threads.  Three kinds, and one rule: struct hv is touched on the loop thread only.
 *   - the loop thread (the daemon's): ops, every hv_cb and hv_done_fn;
 *   - the event thread: virEventRunDefaultImpl().  libvirt's callbacks (lifecycle,
 *     QEMU monitor events, connection closed) copy what they got into a struct hvl_msg
 *     and queue it for the loop, which an eventfd wakes;
 *   - workers: one blocking libvirt call per job (struct hvl_job), started on demand up
 *     to HVL_WORKERS_MAX.  A job carries copies of its inputs and room for its results;
 *     the worker queues it back like an event and the loop finishes it.  A migration
 *     keeps its worker for its whole duration; the other workers go on serving.
 * Messages reach the loop in the order they were queued, so a job's answer and the
 * events around it keep their order as far as libvirt gives it.
 *
 * Closing.  close() marks the hv closed and drops the caller's reference; each job in
 * flight holds one more.  The loop drops a closed hv's answers (no hv_done_fn after
 * close) and frees the hv with its last job.  Workers and the event thread never hold
 * a struct hv pointer they dereference.
 *
 * Events.  One lifecycle callback and one QEMU monitor event callback for the whole
 * connection (every domain, also those defined later: a migration's destination);
 * the loop hands them to the hv whose target matches the domain's name or UUID.
 * When the driver has no QEMU monitor events (libvirt's test driver), STOP and RESUME
 * are made from SUSPENDED and RESUMED lifecycle events instead (never both: the choice
 * is made per connection).
 */
#include <errno.h>
#include <jansson.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hostd.h"
#include "hv.h"
#include "hv_libvirt.h"
#include "lv_xml.h"
#include "snapshot.h"

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

static const char *const hvl_job_names[] = {
	[J_CONNECT] = "connect", [J_PROBE] = "domain lookup", [J_MIGRATE] = "migrate",
	[J_JOBINFO] = "job info", [J_CANCEL] = "migrate_cancel (abort job)",
	[J_QMIGRATE] = "query_migrate (job stats)", [J_QSTATUS] = "query_status (domain state)",
	[J_UNPLUG] = "vf_unplug", [J_PLUG] = "vf_plug", [J_QVF] = "query_vf",
	[J_CONT] = "cont (resume)", [J_QUIT] = "quit (destroy)", [J_NOOP] = "accept_incoming",
	[J_SNAPSHOT] = "snapshot_save (external memory snapshot)",
	[J_REPLUG] = "failover_replug (migrate exec:false)",
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
	struct hv *next;                /* G.hvs */
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

static struct {
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
} G = {
	.mu = PTHREAD_MUTEX_INITIALIZER, .work_cv = PTHREAD_COND_INITIALIZER,
	.efd = -1, .lc_id = -1, .mon_id = -1,
};

static const struct hv_cb hvl_no_cb;

/* ==== worker side ======================================================================== */

/* Queue m for the loop thread and wake it (any thread). */
static void post(struct hvl_msg *m)
{
	uint64_t one = 1;

	m->next = NULL;
	pthread_mutex_lock(&G.mu);
	*G.msg_tail = m;
	G.msg_tail = &m->next;
	if (G.efd >= 0 && write(G.efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, the loop is woken anyway */
	}
	pthread_mutex_unlock(&G.mu);
}

static int lv_errno(int code)
{
	switch (code) {
	case VIR_ERR_NO_DOMAIN:
		return -ENOENT;
	case VIR_ERR_NO_SUPPORT:
	case VIR_ERR_OPERATION_UNSUPPORTED:
	case VIR_ERR_ARGUMENT_UNSUPPORTED:
		return -EOPNOTSUPP;
	case VIR_ERR_OPERATION_INVALID:
	case VIR_ERR_INVALID_ARG:
	case VIR_ERR_XML_ERROR:
	case VIR_ERR_XML_DETAIL:
		return -EINVAL;
	case VIR_ERR_OPERATION_TIMEOUT:
	case VIR_ERR_AGENT_UNRESPONSIVE:
		return -ETIMEDOUT;
	case VIR_ERR_OPERATION_ABORTED:
		return -ECANCELED;
	case VIR_ERR_NO_CONNECT:
	case VIR_ERR_INVALID_CONN:
	case VIR_ERR_RPC:
		return -ECONNRESET;
	case VIR_ERR_AUTH_FAILED:
	case VIR_ERR_AUTH_CANCELLED:
	case VIR_ERR_AUTH_UNAVAILABLE:
	case VIR_ERR_ACCESS_DENIED:
		return -EACCES;
	case VIR_ERR_OPERATION_DENIED:
	case VIR_ERR_MIGRATE_UNSAFE:
		return -EPERM;
	case VIR_ERR_DEVICE_MISSING:
		return -ENODEV;
	default:
		return -EIO;
	}
}

/* The job failed in libvirt: keep libvirt's message and code.  Returns the errno. */
static int job_lverr(struct hvl_job *j, const char *what)
{
	int code = virGetLastErrorCode();

	j->err = lv_errno(code ? code : VIR_ERR_INTERNAL_ERROR);
	(void)snprintf(j->msg, sizeof(j->msg), "%s: %s", what, virGetLastErrorMessage());
	virResetLastError();
	return j->err;
}

static int job_err(struct hvl_job *j, int err, const char *msg)
{
	j->err = err;
	(void)snprintf(j->msg, sizeof(j->msg), "%s", msg);
	return err;
}

static int is_uuid(const char *s)
{
	size_t i;

	if (strlen(s) != VIR_UUID_STRING_BUFLEN - 1)
		return 0;
	for (i = 0; s[i]; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' :
		    !strchr("0123456789abcdefABCDEF", s[i]))
			return 0;
	return 1;
}

static virConnectPtr conn_get(void)
{
	virConnectPtr c;

	pthread_mutex_lock(&G.mu);
	c = G.conn;
	if (c && virConnectRef(c) < 0)
		c = NULL;
	pthread_mutex_unlock(&G.mu);
	return c;
}

/* The job's domain (a reference), or NULL with j->err set (-ENOENT: no such domain). */
static virDomainPtr job_domain(struct hvl_job *j, virConnectPtr *cp)
{
	virConnectPtr c = conn_get();
	virDomainPtr d;

	*cp = c;
	if (!c) {
		job_err(j, -ENOTCONN, "the libvirt connection is down (reconnecting)");
		return NULL;
	}
	d = is_uuid(j->target) ? virDomainLookupByUUIDString(c, j->target) :
				 virDomainLookupByName(c, j->target);
	if (!d)
		(void)job_lverr(j, "domain lookup");
	return d;
}

/* ---- libvirt callbacks (event thread) ---- */
static struct hvl_msg *msg_for(virDomainPtr dom, enum hvl_msg_kind kind)
{
	struct hvl_msg *m = calloc(1, sizeof(*m));
	const char *name = dom ? virDomainGetName(dom) : NULL;

	if (!m)
		return NULL;
	m->kind = kind;
	m->ts_ms = hv_realtime_ms();
	(void)snprintf(m->name, sizeof(m->name), "%s", name ? name : "");
	if (dom && virDomainGetUUIDString(dom, m->uuid) < 0)
		m->uuid[0] = 0;
	return m;
}

static int lv_lifecycle_cb(virConnectPtr c, virDomainPtr dom, int event, int detail,
			   void *opaque)
{
	struct hvl_msg *m = msg_for(dom, M_LIFECYCLE);

	(void)c;
	(void)opaque;
	if (m) {
		m->event = event;
		m->detail = detail;
		post(m);
	}
	return 0;
}

static void lv_monitor_cb(virConnectPtr c, virDomainPtr dom, const char *event,
			  long long seconds, unsigned int micros, const char *details,
			  void *opaque)
{
	struct hvl_msg *m = msg_for(dom, M_MONITOR);

	(void)c;
	(void)opaque;
	if (!m)
		return;
	(void)snprintf(m->ev, sizeof(m->ev), "%s", event ? event : "");
	if (seconds >= 0)
		m->ts_ms = (uint64_t)seconds * 1000u + micros / 1000u;
	m->data = details ? strdup(details) : NULL;
	post(m);
}

static void lv_close_cb(virConnectPtr c, int reason, void *opaque)
{
	struct hvl_msg *m = msg_for(NULL, M_CONN_CLOSED);

	(void)c;
	(void)opaque;
	if (m) {
		m->detail = reason;
		post(m);
	}
}

/* ---- the jobs ---- */

/* Forget the connection: callbacks off, our reference dropped (any thread but the
 * event thread; libvirt calls). */
static void conn_drop(void)
{
	virConnectPtr c;
	int lc, mon, ccb;

	pthread_mutex_lock(&G.mu);
	c = G.conn;
	lc = G.lc_id;
	mon = G.mon_id;
	ccb = G.close_cb;
	G.conn = NULL;
	G.lc_id = G.mon_id = -1;
	G.close_cb = 0;
	pthread_mutex_unlock(&G.mu);
	if (!c)
		return;
	/* a dead connection refuses these: nothing to undo then */
	if (lc >= 0)
		(void)virConnectDomainEventDeregisterAny(c, lc);
	if (mon >= 0)
		(void)virConnectDomainQemuMonitorEventDeregister(c, mon);
	if (ccb)
		(void)virConnectUnregisterCloseCallback(c, lv_close_cb);
	(void)virConnectClose(c);
	virResetLastError();
}

static void run_connect(struct hvl_job *j)
{
	virConnectPtr c;
	int lc, mon, ccb;

	conn_drop();
	c = virConnectOpen(G.uri_default ? NULL : G.uri);
	if (!c) {
		(void)job_lverr(j, "connect");
		return;
	}
	/* a remote libvirtd that stops answering counts as gone (the test driver has none) */
	if (virConnectSetKeepAlive(c, HVL_KEEPALIVE_S, HVL_KEEPALIVE_COUNT) < 0)
		virResetLastError();
	lc = virConnectDomainEventRegisterAny(c, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
					      VIR_DOMAIN_EVENT_CALLBACK(lv_lifecycle_cb), NULL,
					      NULL);
	if (lc < 0) {
		(void)job_lverr(j, "lifecycle events");
		(void)virConnectClose(c);
		return;
	}
	mon = virConnectDomainQemuMonitorEventRegister(
		c, NULL, HVL_MON_EVENTS, lv_monitor_cb, NULL, NULL,
		VIR_CONNECT_DOMAIN_QEMU_MONITOR_EVENT_REGISTER_REGEX);
	j->active = mon >= 0;
	if (mon < 0) {
		(void)snprintf(j->note, sizeof(j->note), "%s", virGetLastErrorMessage());
		virResetLastError();
	}
	ccb = virConnectRegisterCloseCallback(c, lv_close_cb, NULL, NULL) == 0;
	if (!ccb) {
		(void)snprintf(j->msg, sizeof(j->msg), "%s", virGetLastErrorMessage());
		virResetLastError();
	}
	pthread_mutex_lock(&G.mu);
	G.conn = c;
	G.lc_id = lc;
	G.mon_id = mon;
	G.close_cb = ccb;
	pthread_mutex_unlock(&G.mu);
}

static void run_probe(struct hvl_job *j, virDomainPtr d)
{
	int rc;

	if (!d) {
		if (j->err == -ENOENT)
			j->err = 0;     /* not defined (yet): not running */
		return;
	}
	rc = virDomainIsActive(d);
	if (rc < 0)
		(void)job_lverr(j, "domain state");
	j->active = rc == 1;
}

static void info_clear(struct qmp_migrate_info *mi)
{
	memset(mi, 0, sizeof(*mi));
	mi->total_time_ms = mi->downtime_ms = mi->setup_time_ms = mi->expected_downtime_ms = -1;
	mi->ram_transferred = mi->ram_remaining = mi->ram_total = -1;
	mi->mbps = -1;
}

static const char *job_status(int type)
{
	switch (type) {
	case VIR_DOMAIN_JOB_BOUNDED:
	case VIR_DOMAIN_JOB_UNBOUNDED:
		return "active";
	case VIR_DOMAIN_JOB_COMPLETED:
		return "completed";
	case VIR_DOMAIN_JOB_FAILED:
		return "failed";
	case VIR_DOMAIN_JOB_CANCELLED:
		return "cancelled";
	default:
		return "";
	}
}

static int64_t param_ll(virTypedParameterPtr p, int n, const char *name)
{
	unsigned long long v;

	return virTypedParamsGetULLong(p, n, name, &v) == 1 ? (int64_t)v : -1;
}

/* libvirt's job statistics as QMP's query-migrate says them. */
static void info_from_stats(struct qmp_migrate_info *mi, int type, virTypedParameterPtr p, int n)
{
	int64_t down = param_ll(p, n, VIR_DOMAIN_JOB_DOWNTIME), bps;

	info_clear(mi);
	(void)snprintf(mi->status, sizeof(mi->status), "%s", job_status(type));
	mi->total_time_ms = param_ll(p, n, VIR_DOMAIN_JOB_TIME_ELAPSED);
	mi->setup_time_ms = param_ll(p, n, VIR_DOMAIN_JOB_SETUP_TIME);
	/* libvirt's "downtime" is the expected one while the job runs */
	if (type == VIR_DOMAIN_JOB_BOUNDED || type == VIR_DOMAIN_JOB_UNBOUNDED)
		mi->expected_downtime_ms = down;
	else
		mi->downtime_ms = down;
	mi->ram_transferred = param_ll(p, n, VIR_DOMAIN_JOB_MEMORY_PROCESSED);
	mi->ram_remaining = param_ll(p, n, VIR_DOMAIN_JOB_MEMORY_REMAINING);
	mi->ram_total = param_ll(p, n, VIR_DOMAIN_JOB_MEMORY_TOTAL);
	bps = param_ll(p, n, VIR_DOMAIN_JOB_MEMORY_BPS);
	if (bps >= 0)
		mi->mbps = (double)bps * 8.0 / 1e6;
}

/* virDomainGetJobStats (flags), virDomainGetJobInfo when the driver has no stats. */
static int job_stats(struct hvl_job *j, virDomainPtr d, unsigned flags)
{
	virTypedParameterPtr p = NULL;
	virDomainJobInfo ji;
	int type = VIR_DOMAIN_JOB_NONE, n = 0;

	if (virDomainGetJobStats(d, &type, &p, &n, flags) == 0) {
		info_from_stats(&j->r.mig, type, p, n);
		virTypedParamsFree(p, n);
		return type;
	}
	if (virGetLastErrorCode() != VIR_ERR_NO_SUPPORT || flags)
		return job_lverr(j, "job statistics");
	virResetLastError();
	if (virDomainGetJobInfo(d, &ji) < 0)
		return job_lverr(j, "job statistics");
	info_clear(&j->r.mig);
	(void)snprintf(j->r.mig.status, sizeof(j->r.mig.status), "%s", job_status(ji.type));
	j->r.mig.total_time_ms = (int64_t)ji.timeElapsed;
	j->r.mig.ram_transferred = (int64_t)ji.memProcessed;
	j->r.mig.ram_remaining = (int64_t)ji.memRemaining;
	j->r.mig.ram_total = (int64_t)ji.memTotal;
	return ji.type;
}

static void run_migrate(struct hvl_job *j, virDomainPtr d)
{
	virTypedParameterPtr p = NULL;
	int np = 0, maxp = 0;
	uint64_t t0 = loop_now_ms();
	unsigned flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER;

	if (j->b[0] && virTypedParamsAddString(&p, &np, &maxp, VIR_MIGRATE_PARAM_URI, j->b) < 0) {
		(void)job_lverr(j, "migrate");
		return;
	}
	/* what operators type: virsh migrate --live --p2p --persistent --undefinesource
	 * (a transient domain stays transient) */
	if (virDomainIsPersistent(d) == 1)
		flags |= VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;
	if (virDomainMigrateToURI3(d, j->a, p, (unsigned)np, flags) < 0) {
		(void)job_lverr(j, "migrate");
		virTypedParamsFree(p, np);
		return;
	}
	virTypedParamsFree(p, np);
	/* query_migrate's answer once the domain is gone (a transient one): libvirt's
	 * statistics while it keeps them, else our own clock */
	if (job_stats(j, d, VIR_DOMAIN_JOB_STATS_COMPLETED) != VIR_DOMAIN_JOB_COMPLETED) {
		j->err = 0;
		j->msg[0] = 0;
		info_clear(&j->r.mig);
		(void)snprintf(j->r.mig.status, sizeof(j->r.mig.status), "completed");
		j->r.mig.total_time_ms = (int64_t)(loop_now_ms() - t0);
	}
}

static void run_qmigrate(struct hvl_job *j, virDomainPtr d)
{
	struct qmp_migrate_info cache = j->r.mig;
	int type;

	if (!d) {
		if (j->err == -ENOENT && j->flag) {     /* migrated away, transient: the cache */
			j->err = 0;
			j->r.mig = cache;
		}
		return;
	}
	type = job_stats(j, d, 0);
	if (type > 0 || (type < 0 && type != -EINVAL))
		return;         /* a job runs; or an error other than "not running" */
	/* no job now (or no QEMU): the last one's end, as QEMU keeps its last status */
	j->err = 0;
	j->msg[0] = 0;
	type = job_stats(j, d, VIR_DOMAIN_JOB_STATS_COMPLETED);
	if (type <= 0) {        /* none kept (or not supported): QMP's {} */
		j->err = 0;
		j->msg[0] = 0;
		info_clear(&j->r.mig);
		if (j->flag)
			j->r.mig = cache;
	}
}

/* libvirt's state and reason as QMP's query-status says them. */
static const char *state_name(int state, int reason, const struct hvl_job *j, int *running)
{
	*running = state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_BLOCKED;
	switch (state) {
	case VIR_DOMAIN_RUNNING:
	case VIR_DOMAIN_BLOCKED:
		return "running";
	case VIR_DOMAIN_PAUSED:
		switch (reason) {
		/* source in stop-and-copy, or a destination waiting for the stream */
		case VIR_DOMAIN_PAUSED_MIGRATION: return j->flag ? "finish-migrate" : "inmigrate";
		case VIR_DOMAIN_PAUSED_POSTCOPY: return "postmigrate";
		case VIR_DOMAIN_PAUSED_SAVE:
		case VIR_DOMAIN_PAUSED_SNAPSHOT: return "save-vm";
		case VIR_DOMAIN_PAUSED_FROM_SNAPSHOT: return "restore-vm";
		case VIR_DOMAIN_PAUSED_IOERROR: return "io-error";
		case VIR_DOMAIN_PAUSED_WATCHDOG: return "watchdog";
		case VIR_DOMAIN_PAUSED_SHUTTING_DOWN: return "shutdown";
		case VIR_DOMAIN_PAUSED_CRASHED: return "guest-panicked";
		case VIR_DOMAIN_PAUSED_STARTING_UP: return "prelaunch";
		default: return "paused";
		}
	case VIR_DOMAIN_SHUTOFF:
		return reason == VIR_DOMAIN_SHUTOFF_MIGRATED || j->migrated ? "postmigrate" :
									    "shutdown";
	case VIR_DOMAIN_SHUTDOWN:
		return "shutdown";
	case VIR_DOMAIN_CRASHED:
		return "guest-panicked";
	case VIR_DOMAIN_PMSUSPENDED:
		return "suspended";
	default:
		return "debug";
	}
}

static void run_qstatus(struct hvl_job *j, virDomainPtr d)
{
	int state, reason;

	if (!d) {
		if (j->err == -ENOENT && j->migrated) {
			j->err = 0;     /* a transient domain that migrated away */
			(void)snprintf(j->r.status, sizeof(j->r.status), "postmigrate");
		}
		return;
	}
	if (virDomainGetState(d, &state, &reason, 0) < 0) {
		(void)job_lverr(j, "domain state");
		return;
	}
	(void)snprintf(j->r.status, sizeof(j->r.status), "%s",
		       state_name(state, reason, j, &j->r.running));
}

/* libvirt formats every alias as <alias name='ID'/>. */
static int has_alias(struct hvl_job *j, virDomainPtr d, const char *id)
{
	char pat[HVL_ARG_MAX + 32];
	char *xml = virDomainGetXMLDesc(d, 0);
	int found;

	if (!xml)
		return job_lverr(j, "domain XML");
	(void)snprintf(pat, sizeof(pat), "<alias name='%s'/>", id);
	found = strstr(xml, pat) != NULL;
	free(xml);
	return found;
}

/* The job's QMP command through libvirt's monitor passthrough; QEMU's "return" in *ret. */
static int qmp_passthrough(struct hvl_job *j, virDomainPtr d, const char *what, json_t **ret)
{
	char *reply = NULL, buf[HVL_MSG_MAX];
	json_t *o, *e;
	const char *desc;

	if (virDomainQemuMonitorCommand(d, j->payload, &reply, 0) < 0) {
		(void)snprintf(buf, sizeof(buf), "%s through libvirt's QMP passthrough", what);
		return job_lverr(j, buf);
	}
	o = json_loads(reply, 0, NULL);
	free(reply);
	if (!o)
		return job_err(j, -EIO, "unreadable QMP reply through libvirt");
	e = json_object_get(o, "error");
	if (e) {
		desc = json_string_value(json_object_get(e, "desc"));
		j->err = !strcmp(json_string_value(json_object_get(e, "class")) ?
				 json_string_value(json_object_get(e, "class")) : "",
				 "DeviceNotFound") ? -ENODEV : -EIO;
		(void)snprintf(j->msg, sizeof(j->msg), "%s: %s", what, desc ? desc : "QEMU error");
	} else if (ret) {
		*ret = json_incref(json_object_get(o, "return"));
	}
	json_decref(o);
	return j->err;
}

static void run_unplug(struct hvl_job *j, virDomainPtr d)
{
	int known = has_alias(j, d, j->a);
	char what[HVL_ARG_MAX + 64];

	if (known < 0)
		return;
	if (known) {
		if (virDomainDetachDeviceAlias(d, j->a, VIR_DOMAIN_AFFECT_LIVE) < 0)
			(void)job_lverr(j, "detach device");
		return;
	}
	/* not in libvirt's XML (a <qemu:commandline> device): QEMU's device_del */
	(void)snprintf(what, sizeof(what), "device_del %s (no libvirt device has that alias)",
		       j->a);
	(void)qmp_passthrough(j, d, what, NULL);
}

static void run_plug(struct hvl_job *j, virDomainPtr d)
{
	if (!j->flag) {
		(void)qmp_passthrough(j, d, "device_add", NULL);
		return;
	}
	if (virDomainAttachDeviceFlags(d, j->payload, VIR_DOMAIN_AFFECT_LIVE) < 0)
		(void)job_lverr(j, "attach device");
}

static void run_qvf(struct hvl_job *j, virDomainPtr d)
{
	int known = has_alias(j, d, j->a);
	json_t *ret = NULL;

	if (known < 0)
		return;
	if (known) {
		j->r.present = 1;
		return;
	}
	if (qmp_passthrough(j, d, "query-pci", &ret) == 0)
		j->r.present = qmp_pci_has_qdev(ret, j->a);
	json_decref(ret);
}

static void run_quit(struct hvl_job *j, virDomainPtr d)
{
	int code;

	if (!d) {
		if (j->err == -ENOENT)
			j->err = 0;     /* gone already (a migration source: libvirt ended it) */
		return;
	}
	if (virDomainDestroy(d) == 0)
		return;
	code = virGetLastErrorCode();
	if (code == VIR_ERR_NO_DOMAIN || code == VIR_ERR_OPERATION_INVALID)
		virResetLastError();    /* not running */
	else
		(void)job_lverr(j, "destroy");
}

/*
 * The snapshot's XML: QEMU's state to FILE (libvirt's save image format), and every disk
 * of the domain left alone (snapshot='no'): for a memory snapshot libvirt would otherwise
 * put each disk on a new external overlay.  As hv_qmp's snapshot: memory and devices,
 * no disks.  The disks' targets from libvirt's own formatting of the live XML
 * ("<disk ...> ... <target dev='vda' .../> ... </disk>", as has_alias() reads aliases).
 * 0, or the job's error.
 */
static int snapshot_xml(struct hvl_job *j, virDomainPtr d, char **out)
{
	static const char head[] = "<domainsnapshot><description>hybond snapshot</description>"
				   "<memory snapshot='external' file='%s'/><disks>";
	char *xml = virDomainGetXMLDesc(d, 0), *buf, *p, *end, *t, *q;
	size_t len, used, n;

	if (!xml)
		return job_lverr(j, "domain XML");
	/* a <disk name='T' snapshot='no'/> per <disk> ... <target dev='T'/> ... </disk> */
	len = sizeof(head) + strlen(j->a) + 2 * strlen(xml) + 64;
	buf = malloc(len);
	if (!buf) {
		free(xml);
		return job_err(j, -ENOMEM, "out of memory");
	}
	used = (size_t)snprintf(buf, len, head, j->a);
	for (p = strstr(xml, "<disk "); p; p = strstr(end, "<disk ")) {
		end = strstr(p, "</disk>");
		t = strstr(p, "<target dev='");
		if (!end || !t || t > end)
			break;
		t += strlen("<target dev='");
		q = strchr(t, '\'');
		n = q ? (size_t)(q - t) : 0;
		if (!n || n > 64 || strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789_-") < n)
			break;
		used += (size_t)snprintf(buf + used, len - used, "<disk name='%.*s' snapshot='no'/>",
					 (int)n, t);
	}
	free(xml);
	if (p) {
		free(buf);
		return job_err(j, -EINVAL, "snapshot: a <disk> in the domain XML without a "
			       "readable <target dev=...>");
	}
	(void)snprintf(buf + used, len - used, "</disks></domainsnapshot>");
	*out = buf;
	return 0;
}

/*
 * snapshot_save: virDomainSnapshotCreateXML, live, external memory, NO_METADATA: libvirt
 * refuses to migrate a domain that has snapshot metadata ("cannot migrate domain with 1
 * snapshots", qemuMigrationSrcIsAllowed), and libvirt 9.0 cannot revert to an external
 * snapshot anyway ("revert to external snapshot not supported yet"); the file is a save
 * image that `virsh restore` takes.  libvirt migrates QEMU to it (failover: QEMU unplugs
 * its primary first), pauses for the last copy and resumes before returning.
 */
static void run_snapshot(struct hvl_job *j, virDomainPtr d)
{
	virDomainSnapshotPtr s;
	char *xml = NULL;
	uint64_t t0 = loop_now_ms();

	if (snapshot_xml(j, d, &xml))
		return;
	s = virDomainSnapshotCreateXML(d, xml, VIR_DOMAIN_SNAPSHOT_CREATE_LIVE |
				       VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA);
	free(xml);
	if (!s) {
		(void)job_lverr(j, "snapshot");
		return;
	}
	(void)virDomainSnapshotFree(s);
	/* libvirt keeps the snapshot job's statistics (downtime, elapsed) as "completed" */
	if (job_stats(j, d, VIR_DOMAIN_JOB_STATS_COMPLETED) != VIR_DOMAIN_JOB_COMPLETED) {
		j->err = 0;
		j->msg[0] = 0;
		info_clear(&j->r.mig);
		j->r.mig.total_time_ms = (int64_t)(loop_now_ms() - t0);
	}
	(void)snprintf(j->r.mig.status, sizeof(j->r.mig.status), "completed");
}

static void job_run(struct hvl_job *j)
{
	virConnectPtr c = NULL;
	virDomainPtr d = NULL;

	if (j->kind == J_CONNECT) {
		run_connect(j);
		return;
	}
	if (j->kind == J_NOOP)
		return;
	d = job_domain(j, &c);
	if (c && (d || j->kind == J_PROBE || j->kind == J_QMIGRATE || j->kind == J_QSTATUS ||
		  j->kind == J_QUIT)) {
		switch (j->kind) {
		case J_PROBE: run_probe(j, d); break;
		case J_MIGRATE: run_migrate(j, d); break;
		case J_JOBINFO: {
			virDomainJobInfo ji;

			if (virDomainGetJobInfo(d, &ji) < 0)
				(void)job_lverr(j, "job info");
			else
				j->active = ji.type != VIR_DOMAIN_JOB_NONE;
			break;
		}
		case J_CANCEL:
			if (virDomainAbortJob(d) < 0)
				(void)job_lverr(j, "abort job");
			break;
		case J_QMIGRATE: run_qmigrate(j, d); break;
		case J_QSTATUS: run_qstatus(j, d); break;
		case J_UNPLUG: run_unplug(j, d); break;
		case J_PLUG: run_plug(j, d); break;
		case J_QVF: run_qvf(j, d); break;
		case J_CONT:
			if (virDomainResume(d) < 0)
				(void)job_lverr(j, "resume");
			break;
		case J_QUIT: run_quit(j, d); break;
		case J_SNAPSHOT: run_snapshot(j, d); break;
		case J_REPLUG:
			(void)qmp_passthrough(j, d, "migrate " SNAP_REPLUG_URI " (failover re-plug)",
					      NULL);
			break;
		default: break;
		}
	}
	if (d)
		(void)virDomainFree(d);
	if (c)
		(void)virConnectClose(c);
	virResetLastError();
}

static void *worker_main(void *unused)
{
	struct hvl_job *j;

	(void)unused;
	pthread_mutex_lock(&G.mu);
	for (;;) {
		while (!G.work_head && !G.stopping) {
			G.n_idle++;
			pthread_cond_wait(&G.work_cv, &G.mu);
			G.n_idle--;
		}
		j = G.work_head;
		if (!j)
			break;          /* stopping, nothing left */
		G.work_head = j->next;
		if (!G.work_head)
			G.work_tail = &G.work_head;
		pthread_mutex_unlock(&G.mu);
		job_run(j);
		j->done.kind = M_JOB;
		j->done.job = j;
		post(&j->done);
		pthread_mutex_lock(&G.mu);
	}
	pthread_mutex_unlock(&G.mu);
	return NULL;
}

static void *event_main(void *unused)
{
	(void)unused;
	while (!atomic_load(&G.ev_stop))
		if (virEventRunDefaultImpl() < 0)
			break;
	return NULL;
}

static void event_wake(int timer, void *opaque)
{
	(void)timer;
	(void)opaque;
}

/* ==== loop side ========================================================================== */

static void hv_ref(struct hv *h)
{
	h->refs++;
}

static void hv_unref(struct hv *h)
{
	if (h && --h->refs == 0) {
		loop_timer_free(h->accept_timer);
		free(h);
	}
}

static struct hvl_job *job_new(enum hvl_job_kind kind, struct hv *h, hv_done_fn fn, void *arg)
{
	struct hvl_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->kind = kind;
	j->fn = fn;
	j->arg = arg;
	info_clear(&j->r.mig);
	if (h) {
		j->h = h;
		hv_ref(h);
		(void)snprintf(j->target, sizeof(j->target), "%s", h->target);
	}
	return j;
}

static void job_free(struct hvl_job *j)
{
	if (!j)
		return;
	hv_unref(j->h);
	free(j->payload);
	free(j);
}

/* Hand j to a worker (starting one if none is idle).  0 or negative errno; on failure
 * the job is freed. */
static int job_submit(struct hvl_job *j)
{
	int rc = 0;

	pthread_mutex_lock(&G.mu);
	if (G.stopping) {
		rc = -ESHUTDOWN;
	} else {
		j->next = NULL;
		*G.work_tail = j;
		G.work_tail = &j->next;
		if (G.n_idle == 0 && G.n_workers < HVL_WORKERS_MAX) {
			if (pthread_create(&G.workers[G.n_workers], NULL, worker_main, NULL) == 0)
				G.n_workers++;
			else if (G.n_workers == 0) {    /* nobody would ever take it */
				G.work_head = NULL;
				G.work_tail = &G.work_head;
				rc = -EAGAIN;
			}
		}
		/* else (limit reached): a busy worker takes it when it is done */
		pthread_cond_signal(&G.work_cv);
	}
	pthread_mutex_unlock(&G.mu);
	if (rc)
		job_free(j);
	return rc;
}

static void emit(struct hv *h, enum hv_ev ev, const char *detail, uint64_t ts_ms)
{
	if (!h->closed && h->cb->on_event)
		h->cb->on_event(h->arg, ev, detail ? detail : "", ts_ms);
}

static void bind_ready(struct hv *h, int again)
{
	if (h->bound && !again)
		return;
	h->bound = 1;
	if (!h->closed && G.up && h->cb->on_ready)
		h->cb->on_ready(h->arg);
}

/* The domain's QEMU is gone: like hv_qmp's closed monitor. */
static void unbind(struct hv *h, int err)
{
	if (!h->bound)
		return;
	h->bound = 0;
	h->migrated = 0;
	if (!h->closed && h->cb->on_closed)
		h->cb->on_closed(h->arg, err);
}

static void probe(struct hv *h, int after_reconnect)
{
	struct hvl_job *j = job_new(J_PROBE, h, NULL, NULL);
	int rc = j ? 0 : -ENOMEM;

	if (j) {
		j->seq = h->lc_seq;
		j->flag = after_reconnect;
		rc = job_submit(j);
	}
	if (rc)
		hlog(HLOG_ERR, "vm %s: libvirt: cannot look up domain %s: %s", h->name, h->target,
		     strerror(-rc));
}

/* migrate_out's caller learns that the migration started (hv_qmp: QEMU took `migrate`). */
static void mig_accept(struct hv *h, int err, const char *msg)
{
	struct hv_result r;

	if (h->mig_accepted)
		return;
	h->mig_accepted = 1;
	loop_timer_disarm(h->accept_timer);
	memset(&r, 0, sizeof(r));
	info_clear(&r.mig);
	r.err = err;
	r.msg = err ? msg : NULL;
	if (!h->closed && h->mig_fn)
		h->mig_fn(h->mig_arg, &r);
}

static void probe_done(struct hv *h, struct hvl_job *j)
{
	if (j->err) {
		hlog(HLOG_WARN, "vm %s: libvirt: %s (retried when libvirt reports the domain)",
		     h->name, j->msg);
		return;
	}
	if (h->lc_seq != j->seq) {      /* events came meanwhile: ask again */
		probe(h, j->flag);
		return;
	}
	if (j->active) {
		bind_ready(h, j->flag);
	} else if (h->bound && !h->migrated) {
		unbind(h, -ECONNRESET);         /* it ended while we were not connected */
	} else if (!h->bound && !j->flag) {
		hlog(HLOG_INFO, "vm %s: libvirt domain %s is not running (yet): waiting for it "
		     "to start", h->name, h->target);
	}
}

static void mig_done(struct hv *h, struct hvl_job *j)
{
	int was_accepted = h->mig_accepted;

	h->mig_running = 0;
	loop_timer_disarm(h->accept_timer);
	if (j->err) {
		(void)snprintf(h->last_err, sizeof(h->last_err), "%s", j->msg);
		hlog(HLOG_WARN, "vm %s: libvirt %s (libvirt keeps or resumes the VM on this host; "
		     "check the destination URI and that its libvirtd answers)", h->name, j->msg);
		mig_accept(h, j->err, h->last_err);
		/* a QEMU "completed" held back (libvirt's finish failed) becomes "failed" */
		if (was_accepted && h->bound && !h->mig_qemu_ended)
			emit(h, HV_EV_MIGRATION, "failed", hv_realtime_ms());
		return;
	}
	h->migrated = 1;                /* libvirt ends the source QEMU on success */
	h->mig_cache = j->r.mig;
	h->mig_cache_valid = 1;
	mig_accept(h, 0, NULL);
	if (h->bound)
		emit(h, HV_EV_MIGRATION, "completed",
		     h->mig_qemu_completed ? h->mig_completed_ts : hv_realtime_ms());
}

static void jobinfo_done(struct hv *h, struct hvl_job *j)
{
	h->jobinfo_pending = 0;
	if (!h->mig_running || h->mig_accepted)
		return;
	/* a job runs, or the driver cannot tell (then the call itself is the answer) */
	if (j->active || j->err) {
		mig_accept(h, 0, NULL);
	} else if (loop_now_ms() - h->mig_t0 >= HVL_ACCEPT_TIMEOUT_MS) {
		(void)snprintf(h->last_err, sizeof(h->last_err), "libvirt did not start the "
			       "migration job within %u ms", HVL_ACCEPT_TIMEOUT_MS);
		mig_accept(h, -ETIMEDOUT, h->last_err);
	} else {
		(void)loop_timer_arm(h->accept_timer, HVL_ACCEPT_POLL_MS);
	}
}

static void connect_done(struct hvl_job *j);

static void job_done(struct hvl_job *j)
{
	struct hv *h = j->h;

	j->r.err = j->err;
	j->r.msg = j->err ? j->msg : NULL;
	if (!h) {
		connect_done(j);
		return;
	}
	if (h->closed)
		return;         /* closed: no callback */
	if (j->err && j->kind != J_PROBE && j->kind != J_MIGRATE && j->kind != J_JOBINFO) {
		(void)snprintf(h->last_err, sizeof(h->last_err), "%s", j->msg);
		hlog(HLOG_WARN, "vm %s: libvirt %s failed: %s", h->name, hvl_job_names[j->kind],
		     j->msg);
	}
	switch (j->kind) {
	case J_PROBE: probe_done(h, j); return;
	case J_MIGRATE: mig_done(h, j); return;
	case J_JOBINFO: jobinfo_done(h, j); return;
	default: break;
	}
	if (j->fn)
		j->fn(j->arg, &j->r);
	/* QEMU is gone after quit: like QMP's socket closing after its answer */
	if (j->kind == J_QUIT && !j->err && !h->closed)
		unbind(h, -ECONNRESET);
}

static int hv_matches(const struct hv *h, const struct hvl_msg *m)
{
	return !h->closed && (!strcmp(h->target, m->name) ||
			      (m->uuid[0] && !strcasecmp(h->target, m->uuid)));
}

static void lifecycle(struct hv *h, const struct hvl_msg *m)
{
	h->lc_seq++;
	switch (m->event) {
	case VIR_DOMAIN_EVENT_STARTED:
		h->migrated = 0;
		bind_ready(h, 0);
		break;
	case VIR_DOMAIN_EVENT_SUSPENDED:
		bind_ready(h, 0);
		if (!G.have_mon)
			emit(h, HV_EV_STOP, "", m->ts_ms);
		break;
	case VIR_DOMAIN_EVENT_RESUMED:
		bind_ready(h, 0);
		if (!G.have_mon)
			emit(h, HV_EV_RESUME, "", m->ts_ms);
		break;
	case VIR_DOMAIN_EVENT_SHUTDOWN:
		if (!G.have_mon && m->detail == VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED && h->bound)
			emit(h, HV_EV_SHUTDOWN, "", m->ts_ms);
		break;
	case VIR_DOMAIN_EVENT_STOPPED:
		if (m->detail == VIR_DOMAIN_EVENT_STOPPED_MIGRATED && h->bound) {
			/* the source after a migration: a postmigrate QEMU until quit() */
			h->migrated = 1;
			break;
		}
		unbind(h, m->detail == VIR_DOMAIN_EVENT_STOPPED_FAILED ||
			  m->detail == VIR_DOMAIN_EVENT_STOPPED_CRASHED ? -EIO : -ECONNRESET);
		break;
	case VIR_DOMAIN_EVENT_CRASHED:
		unbind(h, -EIO);
		break;
	case VIR_DOMAIN_EVENT_UNDEFINED:       /* a running domain may just become transient */
		if (h->bound && !h->migrated)
			probe(h, 0);
		break;
	default:
		break;
	}
}

static void monitor(struct hv *h, const struct hvl_msg *m)
{
	json_t *data = m->data ? json_loads(m->data, 0, NULL) : NULL;
	const char *detail = NULL, *key = NULL;
	enum hv_ev k;

	if (!h->bound)
		goto out;       /* not (or no longer) a running domain for us */
	switch (qmp_event_kind_of(m->ev)) {
	case QMP_EV_STOP: k = HV_EV_STOP; break;
	case QMP_EV_RESUME: k = HV_EV_RESUME; break;
	case QMP_EV_MIGRATION: k = HV_EV_MIGRATION; key = "status"; break;
	case QMP_EV_UNPLUG_PRIMARY: k = HV_EV_UNPLUG_PRIMARY; key = "device-id"; break;
	case QMP_EV_FAILOVER_NEGOTIATED: k = HV_EV_FAILOVER_NEGOTIATED; key = "device-id"; break;
	case QMP_EV_DEVICE_DELETED: k = HV_EV_DEVICE_DELETED; key = "device"; break;
	case QMP_EV_SHUTDOWN: k = HV_EV_SHUTDOWN; break;
	default: goto out;
	}
	if (key)
		detail = json_string_value(json_object_get(data, key));
	if (!detail)
		detail = "";
	if (h->mig_running && (k == HV_EV_MIGRATION || k == HV_EV_STOP))
		mig_accept(h, 0, NULL);         /* QEMU migrates: libvirt's job runs */
	if (k == HV_EV_MIGRATION && h->mig_running) {
		if (!strcmp(detail, "completed")) {
			/* held back until libvirt's migration returns (mig_done) */
			h->mig_qemu_completed = 1;
			h->mig_completed_ts = m->ts_ms;
			goto out;
		}
		if (!strcmp(detail, "failed") || !strcmp(detail, "cancelled"))
			h->mig_qemu_ended = 1;
	}
	emit(h, k, detail, m->ts_ms);
out:
	json_decref(data);
}

/* Deliver m to every matching hv, each once even when callbacks close hvs. */
static void deliver(const struct hvl_msg *m)
{
	struct hv *h;
	unsigned long serial = ++G.serial;

	for (;;) {
		for (h = G.hvs; h; h = h->next)
			if (h->msg_serial != serial && hv_matches(h, m))
				break;
		if (!h)
			return;
		h->msg_serial = serial;
		hv_ref(h);
		if (m->kind == M_LIFECYCLE)
			lifecycle(h, m);
		else
			monitor(h, m);
		hv_unref(h);
	}
}

static void conn_lost(int reason)
{
	static const char *const why[] = { "libvirtd closed it", "end of file", "keepalive timeout",
					   "closed by us" };

	if (!G.up || G.connecting)
		return;
	G.up = 0;
	G.retry_logged = 0;
	hlog(HLOG_WARN, "libvirt: the connection to %s was lost (%s): VMs are not ready until "
	     "it is back; reconnecting", G.uri_default ? "the default URI" : G.uri,
	     reason >= 0 && reason < 4 ? why[reason] : "?");
	G.backoff_ms = HVL_RETRY_FIRST_MS;
	(void)loop_timer_arm(G.retry, G.backoff_ms);
}

static void retry_tick(void *arg)
{
	struct hvl_job *j;

	(void)arg;
	if (G.up || G.connecting)
		return;
	j = job_new(J_CONNECT, NULL, NULL, NULL);
	if (!j || job_submit(j)) {
		(void)loop_timer_arm(G.retry, G.backoff_ms);
		return;
	}
	G.connecting = 1;
}

static void connect_done(struct hvl_job *j)
{
	struct hv *h;

	G.connecting = 0;
	if (j->err) {
		if (!G.retry_logged)
			hlog(HLOG_WARN, "libvirt: reconnecting to %s failed: %s; retrying every "
			     "%u ms at most (check that libvirtd runs)", G.uri_default ?
			     "the default URI" : G.uri, j->msg, HVL_RETRY_MAX_MS);
		G.retry_logged = 1;
		G.backoff_ms = G.backoff_ms * 2 > HVL_RETRY_MAX_MS ? HVL_RETRY_MAX_MS :
								     G.backoff_ms * 2;
		(void)loop_timer_arm(G.retry, G.backoff_ms);
		return;
	}
	G.up = 1;
	G.have_mon = j->active;
	hlog(HLOG_INFO, "libvirt: connected to %s again", G.uri_default ? "the default URI" :
	     G.uri);
	for (h = G.hvs; h; h = h->next)
		probe(h, 1);
}

static void msg_handle(struct hvl_msg *m)
{
	switch (m->kind) {
	case M_JOB:
		job_done(m->job);
		job_free(m->job);       /* m is inside the job */
		return;
	case M_LIFECYCLE:
	case M_MONITOR:
		deliver(m);
		break;
	case M_CONN_CLOSED:
		conn_lost(m->detail);
		break;
	}
	free(m->data);
	free(m);
}

static struct hvl_msg *msgs_take(void)
{
	struct hvl_msg *m;

	pthread_mutex_lock(&G.mu);
	m = G.msg_head;
	G.msg_head = NULL;
	G.msg_tail = &G.msg_head;
	pthread_mutex_unlock(&G.mu);
	return m;
}

static void efd_ready(void *arg, unsigned events)
{
	uint64_t n;
	struct hvl_msg *m, *next;

	(void)arg;
	(void)events;
	if (read(G.efd, &n, sizeof(n)) < 0) {
		/* EAGAIN: drained by an earlier turn */
	}
	for (m = msgs_take(); m; m = next) {
		next = m->next;
		msg_handle(m);
	}
}

static void accept_tick(void *arg)
{
	struct hv *h = arg;
	struct hvl_job *j;

	if (!h->mig_running || h->mig_accepted || h->jobinfo_pending)
		return;
	j = job_new(J_JOBINFO, h, NULL, NULL);
	if (j && job_submit(j) == 0)
		h->jobinfo_pending = 1;
	else
		(void)loop_timer_arm(h->accept_timer, HVL_ACCEPT_POLL_MS);
}

/* ==== setup ============================================================================== */
static pthread_once_t lv_once = PTHREAD_ONCE_INIT;
static int lv_once_rc;

static void lv_quiet(void *u, virErrorPtr e)
{
	(void)u;
	(void)e;        /* every error is logged by the loop thread, with context */
}

static void lv_global_init(void)
{
	/* libvirt: once per process, before any thread uses it */
	lv_once_rc = virInitialize() < 0 || virEventRegisterDefaultImpl() < 0 ? -EIO : 0;
	virSetErrorFunc(NULL, lv_quiet);
}

int hv_libvirt_connected(void)
{
	return G.inited && G.up;
}

void hv_libvirt_reconnect(void)
{
	if (G.inited)
		conn_lost(3);
}

int hv_libvirt_init(struct loop *l, const char *uri, char *err, size_t errlen)
{
	struct hvl_job *j;
	int rc;

	if (G.inited) {
		(void)snprintf(err, errlen, "libvirt: already set up");
		return -EALREADY;
	}
	if (pthread_once(&lv_once, lv_global_init) != 0 || lv_once_rc) {
		(void)snprintf(err, errlen, "libvirt: cannot set up its event loop: %s",
			       virGetLastErrorMessage());
		return -EIO;
	}
	G.l = l;
	G.uri_default = !uri || !uri[0];
	(void)snprintf(G.uri, sizeof(G.uri), "%s", G.uri_default ? "" : uri);
	G.work_head = NULL;
	G.work_tail = &G.work_head;
	G.msg_head = NULL;
	G.msg_tail = &G.msg_head;
	G.stopping = 0;
	G.n_workers = G.n_idle = 0;
	G.backoff_ms = HVL_RETRY_FIRST_MS;
	atomic_store(&G.ev_stop, 0);
	G.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	G.retry = G.efd >= 0 ? loop_timer_new(l, retry_tick, NULL) : NULL;
	if (!G.retry) {
		(void)snprintf(err, errlen, "libvirt: cannot set up: %s", strerror(errno));
		rc = -ENOMEM;
		goto fail;
	}
	rc = loop_add_fd(l, G.efd, EPOLLIN, efd_ready, NULL);
	if (rc) {
		(void)snprintf(err, errlen, "libvirt: cannot watch the wake-up fd: %s",
			       strerror(-rc));
		goto fail;
	}
	if (pthread_create(&G.ev_thread, NULL, event_main, NULL) != 0) {
		(void)snprintf(err, errlen, "libvirt: cannot start the event thread");
		rc = -EAGAIN;
		goto fail;
	}
	G.ev_started = 1;
	/* the first connection on this thread: a wrong URI fails the daemon's start */
	j = job_new(J_CONNECT, NULL, NULL, NULL);
	if (!j) {
		rc = -ENOMEM;
		(void)snprintf(err, errlen, "libvirt: out of memory");
		goto fail;
	}
	run_connect(j);
	rc = j->err;
	if (rc) {
		(void)snprintf(err, errlen, "libvirt %s (URI %s): is libvirtd running, is the URI "
			       "right?", j->msg, G.uri_default ? "default" : G.uri);
		rc = rc == -EIO ? -ECONNREFUSED : rc;
		job_free(j);
		goto fail;
	}
	G.have_mon = j->active;
	if (!G.have_mon)
		hlog(HLOG_INFO, "libvirt: no QEMU monitor events on %s (%s): STOP/RESUME come "
		     "from lifecycle events", G.uri_default ? "the default URI" : G.uri, j->note);
	if (j->msg[0])
		hlog(HLOG_WARN, "libvirt: no close callback (%s): a libvirtd restart is only "
		     "noticed when calls fail", j->msg);
	job_free(j);
	G.up = 1;
	G.inited = 1;
	return 0;
fail:
	G.inited = 1;   /* fini undoes what was done */
	hv_libvirt_fini();
	return rc;
}

void hv_libvirt_fini(void)
{
	struct hvl_msg *m, *next;
	struct hv *h;
	int i, t;

	if (!G.inited)
		return;
	if (G.efd >= 0)
		loop_del_fd(G.l, G.efd);
	loop_timer_free(G.retry);
	G.retry = NULL;
	/* the workers finish what is queued and end */
	pthread_mutex_lock(&G.mu);
	G.stopping = 1;
	pthread_cond_broadcast(&G.work_cv);
	pthread_mutex_unlock(&G.mu);
	for (i = 0; i < G.n_workers; i++)
		(void)pthread_join(G.workers[i], NULL);
	G.n_workers = 0;
	conn_drop();
	if (G.ev_started) {
		atomic_store(&G.ev_stop, 1);
		t = virEventAddTimeout(0, event_wake, NULL, NULL);
		(void)pthread_join(G.ev_thread, NULL);
		if (t >= 0)
			(void)virEventRemoveTimeout(t);
		G.ev_started = 0;
	}
	/* what is left to the loop: dropped without callbacks */
	for (h = G.hvs; h; h = h->next) {
		hlog(HLOG_WARN, "vm %s: libvirt backend shut down with the VM still open",
		     h->name);
		h->closed = 1;
	}
	for (m = msgs_take(); m; m = next) {
		next = m->next;
		if (m->kind == M_JOB) {
			job_free(m->job);
			continue;
		}
		free(m->data);
		free(m);
	}
	while (G.hvs) {
		h = G.hvs;
		G.hvs = h->next;
		hv_unref(h);
	}
	if (G.efd >= 0)
		(void)close(G.efd);
	G.efd = -1;
	G.up = G.inited = G.connecting = 0;
}

/* ==== the ops ============================================================================ */

static struct hv *lv_open(struct loop *l, const char *target, const struct hv_cb *cb, void *arg,
			  const char *name, int *err)
{
	struct hv *h;

	(void)l;        /* the loop given to hv_libvirt_init() */
	if (!G.inited) {
		hlog(HLOG_ERR, "vm %s: libvirt backend not set up (hv_libvirt_init)",
		     name ? name : target);
		*err = -ENOTCONN;
		return NULL;
	}
	if (!target || !target[0] || strlen(target) >= HVL_NAME_MAX) {
		*err = -EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		*err = -ENOMEM;
		return NULL;
	}
	(void)snprintf(h->target, sizeof(h->target), "%s", target);
	(void)snprintf(h->name, sizeof(h->name), "%s", name ? name : target);
	h->cb = cb ? cb : &hvl_no_cb;
	h->arg = arg;
	h->refs = 1;
	h->accept_timer = loop_timer_new(G.l, accept_tick, h);
	if (!h->accept_timer) {
		free(h);
		*err = -ENOMEM;
		return NULL;
	}
	h->next = G.hvs;
	G.hvs = h;
	if (G.up)
		probe(h, 0);    /* else the reconnect looks it up */
	*err = 0;
	return h;
}

/* Jobs in flight keep h; their answers are dropped (no hv_done_fn after close). */
static void lv_close(struct hv *h)
{
	struct hv **pp;

	if (!h)
		return;
	for (pp = &G.hvs; *pp; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	h->closed = 1;
	h->cb = &hvl_no_cb;
	loop_timer_free(h->accept_timer);
	h->accept_timer = NULL;
	hv_unref(h);
}

static int lv_ready(const struct hv *h)
{
	return h && h->bound && G.up;
}

static const char *lv_last_error(const struct hv *h)
{
	return h ? h->last_err : "";
}

static int simple(struct hv *h, enum hvl_job_kind kind, hv_done_fn fn, void *arg)
{
	struct hvl_job *j = job_new(kind, h, fn, arg);

	return j ? job_submit(j) : -ENOMEM;
}

/*
 * migrate_out: uri is "DCONNURI" or "DCONNURI MIGRATEURI".  libvirt runs the whole
 * migration (peer-to-peer, live) in one blocking call on a worker.  fn gets 0 as soon
 * as libvirt's job runs (asked every HVL_ACCEPT_POLL_MS, or QEMU's first MIGRATION/STOP
 * event), like hv_qmp's accepted `migrate`; or the error when the call failed first.
 * The end comes as HV_EV_MIGRATION: "failed" with libvirt's reason in last_error()
 * unless QEMU already said failed/cancelled; and "completed" only when libvirt's call
 * returned (QEMU's own "completed" is held back until then: libvirt may still fail in
 * its finish phase and resume the source).
 */
static int lv_migrate_out(struct hv *h, const char *uri, hv_done_fn fn, void *arg)
{
	struct hvl_job *j;
	const char *sp;
	size_t n;
	int rc;

	if (!uri)
		return -EINVAL;
	while (*uri == ' ')
		uri++;
	sp = strchr(uri, ' ');
	n = sp ? (size_t)(sp - uri) : strlen(uri);
	if (!n || n >= HVL_ARG_MAX)
		return -EINVAL;
	if (h->mig_running)
		return -EBUSY;
	j = job_new(J_MIGRATE, h, NULL, NULL);
	if (!j)
		return -ENOMEM;
	memcpy(j->a, uri, n);
	if (sp) {
		while (*sp == ' ')
			sp++;
		if (strlen(sp) >= HVL_ARG_MAX) {
			job_free(j);
			return -EINVAL;
		}
		(void)snprintf(j->b, sizeof(j->b), "%s", sp);
	}
	rc = job_submit(j);
	if (rc)
		return rc;
	h->mig_running = 1;
	h->mig_accepted = h->mig_qemu_ended = h->mig_qemu_completed = 0;
	h->mig_fn = fn;
	h->mig_arg = arg;
	h->mig_t0 = loop_now_ms();
	h->last_err[0] = 0;
	(void)loop_timer_arm(h->accept_timer, HVL_ACCEPT_POLL_MS);
	return 0;
}

/* libvirt prepares and runs the incoming side itself (the source's migrate_out): done. */
static int lv_accept_incoming(struct hv *h, const char *uri, hv_done_fn fn, void *arg)
{
	struct hvl_job *j = job_new(J_NOOP, h, fn, arg);

	(void)uri;
	if (!j)
		return -ENOMEM;
	j->done.kind = M_JOB;
	j->done.job = j;
	post(&j->done);         /* answered from the loop, never from inside this call */
	return 0;
}

static int lv_migrate_cancel(struct hv *h, hv_done_fn fn, void *arg)
{
	return simple(h, J_CANCEL, fn, arg);
}

static int lv_query_migrate(struct hv *h, hv_done_fn fn, void *arg)
{
	struct hvl_job *j = job_new(J_QMIGRATE, h, fn, arg);

	if (!j)
		return -ENOMEM;
	if (h->mig_cache_valid) {
		j->flag = 1;
		j->r.mig = h->mig_cache;
	}
	return job_submit(j);
}

static int lv_query_status(struct hv *h, hv_done_fn fn, void *arg)
{
	struct hvl_job *j = job_new(J_QSTATUS, h, fn, arg);

	if (!j)
		return -ENOMEM;
	j->flag = h->mig_running;
	j->migrated = h->migrated;
	return job_submit(j);
}

static int id_ok(const char *id)
{
	return id && id[0] && strlen(id) < HVL_ARG_MAX - 32 && !strpbrk(id, "'\"<>&");
}

static int lv_vf_unplug(struct hv *h, const char *id, hv_done_fn fn, void *arg)
{
	struct hvl_job *j;
	json_t *cmd;

	if (!id_ok(id))
		return -EINVAL;
	j = job_new(J_UNPLUG, h, fn, arg);
	if (!j)
		return -ENOMEM;
	(void)snprintf(j->a, sizeof(j->a), "%s", id);
	cmd = json_pack("{s:s, s:{s:s}}", "execute", "device_del", "arguments", "id", id);
	j->payload = cmd ? json_dumps(cmd, JSON_COMPACT) : NULL;
	json_decref(cmd);
	if (!j->payload) {
		job_free(j);
		return -ENOMEM;
	}
	return job_submit(j);
}

/* dddd:bb:ss.f in shape (lv_xml checks the ranges) */
static int is_pci_addr(const char *s)
{
	static const char shape[] = "xxxx:xx:xx.x";
	size_t i;

	if (!s || strlen(s) != sizeof(shape) - 1)
		return 0;
	for (i = 0; shape[i]; i++)
		if (shape[i] == 'x' ? !strchr("0123456789abcdefABCDEF", s[i]) : s[i] != shape[i])
			return 0;
	return 1;
}

/*
 * The VF as a libvirt <interface type='hostdev' managed='yes'>, built by lv_xml.c (one
 * writer of libvirt XML).  libvirt passes a user alias ("ua-...") to QEMU as the device
 * id, so DEVICE_DELETED and vf_unplug/query_vf see vf->id.  <teaming type='transient'
 * persistent=…/> when the VF has a failover pair; romfile "" is <rom enabled='no'/>, as
 * hv_qmp's romfile="".  0, -EINVAL (a value the XML cannot take), -ENOMEM.
 */
static int hostdev_xml(const struct hv_vf *vf, char **out)
{
	const struct lv_vf_spec s = {
		.mac = vf->mac, .pci = vf->host, .alias = vf->id, .romfile = vf->romfile,
		.persistent_alias = vf->failover_pair_id && vf->failover_pair_id[0] ?
				    vf->failover_pair_id : NULL,
	};

	return lv_vf_iface_xml(&s, out);
}

/*
 * vf_plug: a host PCI address (dddd:bb:ss.f) -> libvirt attaches an <interface
 * type='hostdev'> (vf->id must be a libvirt user alias, "ua-..."; driver, bus and
 * netdev are libvirt's business then); anything else -> QMP device_add through libvirt
 * with hv_qmp's arguments.
 */
static int lv_vf_plug(struct hv *h, const struct hv_vf *vf, hv_done_fn fn, void *arg)
{
	const char *vals[] = { vf->driver, vf->bus, vf->mac, vf->netdev, vf->failover_pair_id,
			       vf->romfile, vf->host };
	const char *keys[] = { "driver", "bus", "mac", "netdev", "failover_pair_id",
			       "romfile", "host" };
	struct hvl_job *j;
	json_t *args, *cmd;
	size_t i;
	int rc;

	if (!id_ok(vf->id))
		return -EINVAL;
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		if (vals[i] && (strlen(vals[i]) >= HVL_ARG_MAX - 64 || strpbrk(vals[i], "'\"<>&")))
			return -EINVAL;
	j = job_new(J_PLUG, h, fn, arg);
	if (!j)
		return -ENOMEM;
	if (is_pci_addr(vf->host)) {
		if (strncmp(vf->id, "ua-", 3) != 0) {
			hlog(HLOG_ERR, "vm %s: VF id %s: libvirt needs a user alias: name it "
			     "ua-%s (vf_id in hostd.conf)", h->name, vf->id, vf->id);
			job_free(j);
			return -EINVAL;
		}
		j->flag = 1;
		rc = hostdev_xml(vf, &j->payload);
		if (rc == -EINVAL)
			hlog(HLOG_ERR, "vm %s: VF %s: host %s, mac %s or failover_pair_id %s does "
			     "not fit a libvirt <interface type='hostdev'>", h->name, vf->id,
			     vf->host, vf->mac ? vf->mac : "-",
			     vf->failover_pair_id ? vf->failover_pair_id : "-");
		if (rc < 0) {
			job_free(j);
			return rc;
		}
	} else {
		if (!vf->driver) {
			job_free(j);
			return -EINVAL;
		}
		args = json_pack("{s:s}", "id", vf->id);
		for (i = 0; args && i < sizeof(vals) / sizeof(vals[0]); i++)
			if (vals[i] && json_object_set_new(args, keys[i], json_string(vals[i])) < 0) {
				json_decref(args);
				args = NULL;
			}
		cmd = args ? json_pack("{s:s, s:o}", "execute", "device_add", "arguments", args) :
			     NULL;
		j->payload = cmd ? json_dumps(cmd, JSON_COMPACT) : NULL;
		json_decref(cmd);
	}
	if (!j->payload) {
		job_free(j);
		return -ENOMEM;
	}
	(void)snprintf(j->a, sizeof(j->a), "%s", vf->id);
	return job_submit(j);
}

static int lv_query_vf(struct hv *h, const char *id, hv_done_fn fn, void *arg)
{
	struct hvl_job *j;

	if (!id_ok(id))
		return -EINVAL;
	j = job_new(J_QVF, h, fn, arg);
	if (!j)
		return -ENOMEM;
	(void)snprintf(j->a, sizeof(j->a), "%s", id);
	j->payload = strdup("{\"execute\":\"query-pci\"}");
	if (!j->payload) {
		job_free(j);
		return -ENOMEM;
	}
	return job_submit(j);
}

static int lv_cont(struct hv *h, hv_done_fn fn, void *arg)
{
	return simple(h, J_CONT, fn, arg);
}

/*
 * quit: virDomainDestroy.  A domain that is gone or not running counts as quit (a
 * migration source: libvirt ended its QEMU already).  on_closed follows the answer.
 */
static int lv_quit(struct hv *h, hv_done_fn fn, void *arg)
{
	return simple(h, J_QUIT, fn, arg);
}

/* FILE: absolute, and nothing the snapshot XML's attribute would have to escape. */
static int lv_snapshot_save(struct hv *h, const char *file, hv_done_fn fn, void *arg)
{
	struct hvl_job *j;

	if (!file || file[0] != '/' || strlen(file) >= HVL_ARG_MAX || strpbrk(file, "'\"<>&"))
		return -EINVAL;
	j = job_new(J_SNAPSHOT, h, fn, arg);
	if (!j)
		return -ENOMEM;
	(void)snprintf(j->a, sizeof(j->a), "%s", file);
	return job_submit(j);
}

/*
 * failover_replug: QMP migrate to "exec:false" through libvirt's passthrough, which
 * fails at once; QEMU then re-plugs the failover primary it hid (snapshot.h).  libvirt
 * runs no job of its own for it: it ignores the MIGRATION events and the domain stays
 * running (measured with libvirt 9.0).  fn: QEMU took the command.
 */
static int lv_failover_replug(struct hv *h, hv_done_fn fn, void *arg)
{
	struct hvl_job *j = job_new(J_REPLUG, h, fn, arg);

	if (!j)
		return -ENOMEM;
	j->payload = strdup("{\"execute\":\"migrate\",\"arguments\":{\"uri\":\""
			    SNAP_REPLUG_URI "\"}}");
	if (!j->payload) {
		job_free(j);
		return -ENOMEM;
	}
	return job_submit(j);
}

const struct hv_ops hv_libvirt_ops = {
	.kind = "libvirt",
	.open = lv_open,
	.close = lv_close,
	.ready = lv_ready,
	.migrate_out = lv_migrate_out,
	.accept_incoming = lv_accept_incoming,
	.migrate_cancel = lv_migrate_cancel,
	.query_migrate = lv_query_migrate,
	.query_status = lv_query_status,
	.vf_unplug = lv_vf_unplug,
	.vf_plug = lv_vf_plug,
	.query_vf = lv_query_vf,
	.cont = lv_cont,
	.quit = lv_quit,
	.last_error = lv_last_error,
	.snapshot_save = lv_snapshot_save,
	.failover_replug = lv_failover_replug,
};
