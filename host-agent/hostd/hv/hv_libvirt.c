// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/hv/hv_libvirt.c — the hypervisor backend on the libvirt C API (see hv.h and
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

#include "host-agent/common/log.h"
#include "hv.h"
#include "hv_libvirt.h"
#include "lv_xml.h"
#include "host-agent/hostd/ops/snapshot.h"
#include "hv_libvirt_int.h"

static const char *const hvl_job_names[] = {
	[J_CONNECT] = "connect", [J_PROBE] = "domain lookup", [J_MIGRATE] = "migrate",
	[J_JOBINFO] = "job info", [J_CANCEL] = "migrate_cancel (abort job)",
	[J_QMIGRATE] = "query_migrate (job stats)", [J_QSTATUS] = "query_status (domain state)",
	[J_UNPLUG] = "vf_unplug", [J_PLUG] = "vf_plug", [J_QVF] = "query_vf",
	[J_CONT] = "cont (resume)", [J_QUIT] = "quit (destroy)", [J_NOOP] = "accept_incoming",
	[J_SNAPSHOT] = "snapshot_save (external memory snapshot)",
	[J_REPLUG] = "failover_replug (migrate exec:false)",
};

static const struct hv_cb hvl_no_cb;

struct hvl_state hvl_g = {
	.mu = PTHREAD_MUTEX_INITIALIZER, .work_cv = PTHREAD_COND_INITIALIZER,
	.efd = -1, .lc_id = -1, .mon_id = -1,
};

/* libvirt wants a callback for the timeout that wakes its event loop at hv_libvirt_fini */
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
	hvl_info_clear(&j->r.mig);
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

	pthread_mutex_lock(&hvl_g.mu);
	if (hvl_g.stopping) {
		rc = -ESHUTDOWN;
	} else {
		j->next = NULL;
		*hvl_g.work_tail = j;
		hvl_g.work_tail = &j->next;
		if (hvl_g.n_idle == 0 && hvl_g.n_workers < HVL_WORKERS_MAX) {
			if (pthread_create(&hvl_g.workers[hvl_g.n_workers], NULL, hvl_worker_main, NULL) == 0)
				hvl_g.n_workers++;
			else if (hvl_g.n_workers == 0) {    /* nobody would ever take it */
				hvl_g.work_head = NULL;
				hvl_g.work_tail = &hvl_g.work_head;
				rc = -EAGAIN;
			}
		}
		/* else (limit reached): a busy worker takes it when it is done */
		pthread_cond_signal(&hvl_g.work_cv);
	}
	pthread_mutex_unlock(&hvl_g.mu);
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
	if (!h->closed && hvl_g.up && h->cb->on_ready)
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
	hvl_info_clear(&r.mig);
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
		if (!hvl_g.have_mon)
			emit(h, HV_EV_STOP, "", m->ts_ms);
		break;
	case VIR_DOMAIN_EVENT_RESUMED:
		bind_ready(h, 0);
		if (!hvl_g.have_mon)
			emit(h, HV_EV_RESUME, "", m->ts_ms);
		break;
	case VIR_DOMAIN_EVENT_SHUTDOWN:
		if (!hvl_g.have_mon && m->detail == VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED && h->bound)
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
	unsigned long serial = ++hvl_g.serial;

	for (;;) {
		for (h = hvl_g.hvs; h; h = h->next)
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

	if (!hvl_g.up || hvl_g.connecting)
		return;
	hvl_g.up = 0;
	hvl_g.retry_logged = 0;
	hlog(HLOG_WARN, "libvirt: the connection to %s was lost (%s): VMs are not ready until "
	     "it is back; reconnecting", hvl_g.uri_default ? "the default URI" : hvl_g.uri,
	     reason >= 0 && reason < 4 ? why[reason] : "?");
	hvl_g.backoff_ms = HVL_RETRY_FIRST_MS;
	(void)loop_timer_arm(hvl_g.retry, hvl_g.backoff_ms);
}

static void retry_tick(void *arg)
{
	struct hvl_job *j;

	(void)arg;
	if (hvl_g.up || hvl_g.connecting)
		return;
	j = job_new(J_CONNECT, NULL, NULL, NULL);
	if (!j || job_submit(j)) {
		(void)loop_timer_arm(hvl_g.retry, hvl_g.backoff_ms);
		return;
	}
	hvl_g.connecting = 1;
}

static void connect_done(struct hvl_job *j)
{
	struct hv *h;

	hvl_g.connecting = 0;
	if (j->err) {
		if (!hvl_g.retry_logged)
			hlog(HLOG_WARN, "libvirt: reconnecting to %s failed: %s; retrying every "
			     "%u ms at most (check that libvirtd runs)", hvl_g.uri_default ?
			     "the default URI" : hvl_g.uri, j->msg, HVL_RETRY_MAX_MS);
		hvl_g.retry_logged = 1;
		hvl_g.backoff_ms = hvl_g.backoff_ms * 2 > HVL_RETRY_MAX_MS ? HVL_RETRY_MAX_MS :
								     hvl_g.backoff_ms * 2;
		(void)loop_timer_arm(hvl_g.retry, hvl_g.backoff_ms);
		return;
	}
	hvl_g.up = 1;
	hvl_g.have_mon = j->active;
	hlog(HLOG_INFO, "libvirt: connected to %s again", hvl_g.uri_default ? "the default URI" :
	     hvl_g.uri);
	for (h = hvl_g.hvs; h; h = h->next)
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

	pthread_mutex_lock(&hvl_g.mu);
	m = hvl_g.msg_head;
	hvl_g.msg_head = NULL;
	hvl_g.msg_tail = &hvl_g.msg_head;
	pthread_mutex_unlock(&hvl_g.mu);
	return m;
}

static void efd_ready(void *arg, unsigned events)
{
	uint64_t n;
	struct hvl_msg *m, *next;

	(void)arg;
	(void)events;
	if (read(hvl_g.efd, &n, sizeof(n)) < 0) {
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
	return hvl_g.inited && hvl_g.up;
}

void hv_libvirt_reconnect(void)
{
	if (hvl_g.inited)
		conn_lost(3);
}

int hv_libvirt_init(struct loop *l, const char *uri, char *err, size_t errlen)
{
	struct hvl_job *j;
	int rc;

	if (hvl_g.inited) {
		(void)snprintf(err, errlen, "libvirt: already set up");
		return -EALREADY;
	}
	if (pthread_once(&lv_once, lv_global_init) != 0 || lv_once_rc) {
		(void)snprintf(err, errlen, "libvirt: cannot set up its event loop: %s",
			       virGetLastErrorMessage());
		return -EIO;
	}
	hvl_g.l = l;
	hvl_g.uri_default = !uri || !uri[0];
	(void)snprintf(hvl_g.uri, sizeof(hvl_g.uri), "%s", hvl_g.uri_default ? "" : uri);
	hvl_g.work_head = NULL;
	hvl_g.work_tail = &hvl_g.work_head;
	hvl_g.msg_head = NULL;
	hvl_g.msg_tail = &hvl_g.msg_head;
	hvl_g.stopping = 0;
	hvl_g.n_workers = hvl_g.n_idle = 0;
	hvl_g.backoff_ms = HVL_RETRY_FIRST_MS;
	atomic_store(&hvl_g.ev_stop, 0);
	hvl_g.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	hvl_g.retry = hvl_g.efd >= 0 ? loop_timer_new(l, retry_tick, NULL) : NULL;
	if (!hvl_g.retry) {
		(void)snprintf(err, errlen, "libvirt: cannot set up: %s", strerror(errno));
		rc = -ENOMEM;
		goto fail;
	}
	rc = loop_add_fd(l, hvl_g.efd, EPOLLIN, efd_ready, NULL);
	if (rc) {
		(void)snprintf(err, errlen, "libvirt: cannot watch the wake-up fd: %s",
			       strerror(-rc));
		goto fail;
	}
	if (pthread_create(&hvl_g.ev_thread, NULL, hvl_event_main, NULL) != 0) {
		(void)snprintf(err, errlen, "libvirt: cannot start the event thread");
		rc = -EAGAIN;
		goto fail;
	}
	hvl_g.ev_started = 1;
	/* the first connection on this thread: a wrong URI fails the daemon's start */
	j = job_new(J_CONNECT, NULL, NULL, NULL);
	if (!j) {
		rc = -ENOMEM;
		(void)snprintf(err, errlen, "libvirt: out of memory");
		goto fail;
	}
	hvl_run_connect(j);
	rc = j->err;
	if (rc) {
		(void)snprintf(err, errlen, "libvirt %s (URI %s): is libvirtd running, is the URI "
			       "right?", j->msg, hvl_g.uri_default ? "default" : hvl_g.uri);
		rc = rc == -EIO ? -ECONNREFUSED : rc;
		job_free(j);
		goto fail;
	}
	hvl_g.have_mon = j->active;
	if (!hvl_g.have_mon)
		hlog(HLOG_INFO, "libvirt: no QEMU monitor events on %s (%s): STOP/RESUME come "
		     "from lifecycle events", hvl_g.uri_default ? "the default URI" : hvl_g.uri, j->note);
	if (j->msg[0])
		hlog(HLOG_WARN, "libvirt: no close callback (%s): a libvirtd restart is only "
		     "noticed when calls fail", j->msg);
	job_free(j);
	hvl_g.up = 1;
	hvl_g.inited = 1;
	return 0;
fail:
	hvl_g.inited = 1;   /* fini undoes what was done */
	hv_libvirt_fini();
	return rc;
}

void hv_libvirt_fini(void)
{
	struct hvl_msg *m, *next;
	struct hv *h;
	int i, t;

	if (!hvl_g.inited)
		return;
	if (hvl_g.efd >= 0)
		loop_del_fd(hvl_g.l, hvl_g.efd);
	loop_timer_free(hvl_g.retry);
	hvl_g.retry = NULL;
	/* the workers finish what is queued and end */
	pthread_mutex_lock(&hvl_g.mu);
	hvl_g.stopping = 1;
	pthread_cond_broadcast(&hvl_g.work_cv);
	pthread_mutex_unlock(&hvl_g.mu);
	for (i = 0; i < hvl_g.n_workers; i++)
		(void)pthread_join(hvl_g.workers[i], NULL);
	hvl_g.n_workers = 0;
	hvl_conn_drop();
	if (hvl_g.ev_started) {
		atomic_store(&hvl_g.ev_stop, 1);
		t = virEventAddTimeout(0, event_wake, NULL, NULL);
		(void)pthread_join(hvl_g.ev_thread, NULL);
		if (t >= 0)
			(void)virEventRemoveTimeout(t);
		hvl_g.ev_started = 0;
	}
	/* what is left to the loop: dropped without callbacks */
	for (h = hvl_g.hvs; h; h = h->next) {
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
	while (hvl_g.hvs) {
		h = hvl_g.hvs;
		hvl_g.hvs = h->next;
		hv_unref(h);
	}
	if (hvl_g.efd >= 0)
		(void)close(hvl_g.efd);
	hvl_g.efd = -1;
	hvl_g.up = hvl_g.inited = hvl_g.connecting = 0;
}

/* ==== the ops ============================================================================ */

static struct hv *lv_open(struct loop *l, const char *target, const struct hv_cb *cb, void *arg,
			  const char *name, int *err)
{
	struct hv *h;

	(void)l;        /* the loop given to hv_libvirt_init() */
	if (!hvl_g.inited) {
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
	h->accept_timer = loop_timer_new(hvl_g.l, accept_tick, h);
	if (!h->accept_timer) {
		free(h);
		*err = -ENOMEM;
		return NULL;
	}
	h->next = hvl_g.hvs;
	hvl_g.hvs = h;
	if (hvl_g.up)
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
	for (pp = &hvl_g.hvs; *pp; pp = &(*pp)->next)
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
	return h && h->bound && hvl_g.up;
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
	hvl_post(&j->done);         /* answered from the loop, never from inside this call */
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

static int lv_query_vf(struct hv *h, const char *id, const char *bus, hv_done_fn fn,
		       void *arg)
{
	struct hvl_job *j;

	if (!id_ok(id) || (bus && bus[0] && !id_ok(bus)))
		return -EINVAL;
	j = job_new(J_QVF, h, fn, arg);
	if (!j)
		return -ENOMEM;
	(void)snprintf(j->a, sizeof(j->a), "%s", id);
	(void)snprintf(j->b, sizeof(j->b), "%s", bus ? bus : "");
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
