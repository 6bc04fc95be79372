// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/hv/hv_libvirt_worker.c — the libvirt backend's worker and event threads (see
 * hv_libvirt.c for the thread rules): each job's blocking libvirt calls, run on a worker
 * with copies of its inputs, and libvirt's callbacks, which copy what they got into a
 * struct hvl_msg for the loop.  Nothing here touches a struct hv.
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
#include <unistd.h>

#include "host-agent/common/log.h"
#include "hv.h"
#include "hv_libvirt.h"
#include "host-agent/hostd/ops/snapshot.h"
#include "hv_libvirt_int.h"

/* ==== worker side ======================================================================== */

/* Queue m for the loop thread and wake it (any thread). */
void hvl_post(struct hvl_msg *m)
{
	uint64_t one = 1;

	m->next = NULL;
	pthread_mutex_lock(&hvl_g.mu);
	*hvl_g.msg_tail = m;
	hvl_g.msg_tail = &m->next;
	if (hvl_g.efd >= 0 && write(hvl_g.efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, the loop is woken anyway */
	}
	pthread_mutex_unlock(&hvl_g.mu);
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

	pthread_mutex_lock(&hvl_g.mu);
	c = hvl_g.conn;
	if (c && virConnectRef(c) < 0)
		c = NULL;
	pthread_mutex_unlock(&hvl_g.mu);
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
		hvl_post(m);
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
	hvl_post(m);
}

static void lv_close_cb(virConnectPtr c, int reason, void *opaque)
{
	struct hvl_msg *m = msg_for(NULL, M_CONN_CLOSED);

	(void)c;
	(void)opaque;
	if (m) {
		m->detail = reason;
		hvl_post(m);
	}
}

/* ---- the jobs ---- */

/* Forget the connection: callbacks off, our reference dropped (any thread but the
 * event thread; libvirt calls). */
void hvl_conn_drop(void)
{
	virConnectPtr c;
	int lc, mon, ccb;

	pthread_mutex_lock(&hvl_g.mu);
	c = hvl_g.conn;
	lc = hvl_g.lc_id;
	mon = hvl_g.mon_id;
	ccb = hvl_g.close_cb;
	hvl_g.conn = NULL;
	hvl_g.lc_id = hvl_g.mon_id = -1;
	hvl_g.close_cb = 0;
	pthread_mutex_unlock(&hvl_g.mu);
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

void hvl_run_connect(struct hvl_job *j)
{
	virConnectPtr c;
	int lc, mon, ccb;

	hvl_conn_drop();
	c = virConnectOpen(hvl_g.uri_default ? NULL : hvl_g.uri);
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
	pthread_mutex_lock(&hvl_g.mu);
	hvl_g.conn = c;
	hvl_g.lc_id = lc;
	hvl_g.mon_id = mon;
	hvl_g.close_cb = ccb;
	pthread_mutex_unlock(&hvl_g.mu);
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

void hvl_info_clear(struct qmp_migrate_info *mi)
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

	hvl_info_clear(mi);
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
	hvl_info_clear(&j->r.mig);
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
		hvl_info_clear(&j->r.mig);
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
		hvl_info_clear(&j->r.mig);
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
		j->r.present = qmp_pci_has_qdev(ret, j->a) ||
			       (j->b[0] && qmp_pci_bridge_used(ret, j->b));
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
		hvl_info_clear(&j->r.mig);
		j->r.mig.total_time_ms = (int64_t)(loop_now_ms() - t0);
	}
	(void)snprintf(j->r.mig.status, sizeof(j->r.mig.status), "completed");
}

static void job_run(struct hvl_job *j)
{
	virConnectPtr c = NULL;
	virDomainPtr d = NULL;

	if (j->kind == J_CONNECT) {
		hvl_run_connect(j);
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

void *hvl_worker_main(void *unused)
{
	struct hvl_job *j;

	(void)unused;
	pthread_mutex_lock(&hvl_g.mu);
	for (;;) {
		while (!hvl_g.work_head && !hvl_g.stopping) {
			hvl_g.n_idle++;
			pthread_cond_wait(&hvl_g.work_cv, &hvl_g.mu);
			hvl_g.n_idle--;
		}
		j = hvl_g.work_head;
		if (!j)
			break;          /* stopping, nothing left */
		hvl_g.work_head = j->next;
		if (!hvl_g.work_head)
			hvl_g.work_tail = &hvl_g.work_head;
		pthread_mutex_unlock(&hvl_g.mu);
		job_run(j);
		j->done.kind = M_JOB;
		j->done.job = j;
		hvl_post(&j->done);
		pthread_mutex_lock(&hvl_g.mu);
	}
	pthread_mutex_unlock(&hvl_g.mu);
	return NULL;
}

void *hvl_event_main(void *unused)
{
	(void)unused;
	while (!atomic_load(&hvl_g.ev_stop))
		if (virEventRunDefaultImpl() < 0)
			break;
	return NULL;
}
