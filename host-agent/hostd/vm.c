// SPDX-License-Identifier: LGPL-2.1-or-later
/* host-agent/hostd/vm.c — one VM's connections and the guest's view (see vm.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>

#include "host-agent/hostd/sentry/sentry.h"
#include "vm.h"

/* The operation's input first, then the background's (it may start an operation). */
#define OP_CALL(v, fn, ...) do { \
		if ((v)->op && (v)->op->ops->fn) \
			(v)->op->ops->fn((v), __VA_ARGS__); \
	} while (0)
#define BG_CALL(v, fn, ...) do { \
		if ((v)->bg && (v)->bg->fn) \
			(v)->bg->fn((v), __VA_ARGS__); \
	} while (0)

/* A migration decides where the VM runs; nothing else moves it. */
static int vm_migrating(const struct vm *v)
{
	return v->op && v->op->ops->places_vm;
}

/* ---- hypervisor callbacks ------------------------------------------------ */
/* libvirt: the domain is active here; it runs here unless it is an incoming one. */
static void vm_here_done(void *arg, const struct hv_result *r)
{
	struct vm *v = arg;

	if (r->err || vm_migrating(v))
		return;
	v->here = strcmp(r->status, "inmigrate") != 0;
	hlog(HLOG_INFO, "vm %s: domain %s is %s here", v->cfg.name, vm_config_domain(&v->cfg),
	     r->status);
}

static void vm_hv_ready(void *arg)
{
	struct vm *v = arg;

	hlog(HLOG_INFO, "vm %s: %s connected", v->cfg.name, v->hvo->kind);
	if (vm_config_libvirt(&v->cfg) && !vm_migrating(v) && v->hv)
		(void)v->hvo->query_status(v->hv, vm_here_done, v);
	if (v->op && v->op->ops->on_hv_ready)
		v->op->ops->on_hv_ready(v);
	if (v->bg && v->bg->on_hv_ready)
		v->bg->on_hv_ready(v);
}

static void vm_hv_event(void *arg, enum hv_ev ev, const char *detail, uint64_t ts_ms)
{
	struct vm *v = arg;

	if (ev == HV_EV_DEVICE_DELETED || ev == HV_EV_UNPLUG_PRIMARY)
		vm_vf_forget(v);
	OP_CALL(v, on_hv_event, ev, detail, ts_ms);
	BG_CALL(v, on_hv_event, ev, detail, ts_ms);  /* after it: an operation may own it now */
}

static void vm_hv_closed(void *arg, int err)
{
	struct vm *v = arg;

	hlog(HLOG_INFO, "vm %s: QMP closed (%s)", v->cfg.name, strerror(-err));
	if (!vm_migrating(v) && vm_config_libvirt(&v->cfg))
		v->here = 0;    /* the domain stopped (or left) here */
	OP_CALL(v, on_hv_closed, err);
}

static const struct hv_cb vm_hv_cb = {
	.on_ready = vm_hv_ready, .on_event = vm_hv_event, .on_closed = vm_hv_closed,
};

/* ---- the guest's view ---------------------------------------------------- */
static void pair_from_status(struct vm *v, const struct hb_pair *p)
{
	struct vm_pair *q = &v->pair;

	q->valid = 1;
	q->id = p->id;
	q->active = p->active;
	(void)str_escape(q->master, sizeof(q->master), p->master.name, 16);
	(void)str_escape(q->standby, sizeof(q->standby), p->standby.name, 16);
	q->sb_link = p->standby.link;
	q->sb_carrier = p->standby.carrier;
	if (HB_PRESENT(p, PAIR, VF)) {
		(void)str_escape(q->vf, sizeof(q->vf), p->vf.name, 16);
		q->vf_present = 1;
		q->vf_link = p->vf.link;
		q->vf_carrier = p->vf.carrier;
	} else {
		q->vf[0] = 0;
		q->vf_present = q->vf_link = q->vf_carrier = 0;
	}
	if (vm_vf_up(v))
		q->vf_up_ms = loop_now_ms();
}

static void pair_from_event(struct vm *v, const struct hb_event *e)
{
	struct vm_pair *q = &v->pair;
	char ifn_esc[VM_IFNAME_MAX];
	const char *ifn = HB_PRESENT(e, EVENT, IFNAME) || e->ifname ? e->ifname : NULL;
	int was_up = vm_vf_up(v);

	if (ifn) {      /* compared with, and kept as, the escaped names */
		(void)str_escape(ifn_esc, sizeof(ifn_esc), ifn, 16);
		ifn = ifn_esc;
	}

	if (!q->valid || e->pair_id != q->id)
		return;
	if (HB_PRESENT(e, EVENT, ACTIVE))
		q->active = e->active;
	/* VF_LEAVING (kernel shim): the VF is being unbound, it is not usable any more */
	if (e->kind == HB_EV_VF_VANISHED || e->kind == HB_EV_VF_LEAVING) {
		q->vf_present = q->vf_link = q->vf_carrier = 0;
		return;
	}
	if (!ifn)
		return;
	if (!strcmp(ifn, q->standby)) {
		if (HB_PRESENT(e, EVENT, LINK))
			q->sb_link = e->link;
		if (HB_PRESENT(e, EVENT, CARRIER))
			q->sb_carrier = e->carrier;
		return;
	}
	if (!strcmp(ifn, q->master))
		return;
	/* anything else in the pair is its VF */
	if (strcmp(ifn, q->vf) != 0) {
		(void)snprintf(q->vf, sizeof(q->vf), "%s", ifn);
		q->vf_link = q->vf_carrier = 0;
	}
	q->vf_present = 1;
	if (HB_PRESENT(e, EVENT, LINK))
		q->vf_link = e->link;
	if (HB_PRESENT(e, EVENT, CARRIER))
		q->vf_carrier = e->carrier;
	if (!was_up && vm_vf_up(v))
		q->vf_up_ms = loop_now_ms();
}

int vm_vf_up(const struct vm *v)
{
	return v->pair.valid && v->pair.vf_present && v->pair.vf_link && v->pair.vf_carrier;
}

int vm_guest_ready(const struct vm *v)
{
	return v->session_up && v->pair.valid;
}

void vm_vf_forget(struct vm *v)
{
	v->pair.vf_present = v->pair.vf_link = v->pair.vf_carrier = 0;
	v->pair.vf[0] = 0;
}

static void vm_gc_message(void *arg, const struct hb_msg *m)
{
	struct vm *v = arg;
	size_t i;

	if (m->type == HB_MSG_STATUS) {
		for (i = 0; i < m->u.status.n_pairs; i++)
			if (!memcmp(m->u.status.pairs[i].mac, v->mac, 6)) {
				pair_from_status(v, &m->u.status.pairs[i]);
				break;
			}
		if (v->op && v->op->ops->on_guest)
			v->op->ops->on_guest(v);
		if (v->bg && v->bg->on_status)
			v->bg->on_status(v);
	} else if (m->type == HB_MSG_EVENT) {
		pair_from_event(v, &m->u.event);
		if (v->op && v->op->ops->on_guest)
			v->op->ops->on_guest(v);
		BG_CALL(v, on_event, &m->u.event);
	}
}

static void vm_gc_answer(void *arg, const struct gc_request *req, const struct hb_msg *ans,
			 enum gc_result res)
{
	struct vm *v = arg;

	if (req->type == HB_MSG_STATUS)
		return;         /* on_message saw it */
	if (req->cookie && v->bg && v->bg->on_answer &&
	    v->bg->on_answer(v, req->cookie, req->type, ans, (int)res))
		return;         /* the background's own request (the watch's RESUME_FAST_PATH) */
	OP_CALL(v, on_guest_answer, req->type, ans, (int)res);
}

static void vm_gc_session(void *arg, int up)
{
	struct vm *v = arg;

	v->session_up = up;
	hlog(HLOG_INFO, "vm %s: guest agent session %s", v->cfg.name, up ? "up" : "down");
	if (up)
		(void)gc_status(v->gc, NULL, gc_now_ms());
	if (v->op && v->op->ops->on_guest)
		v->op->ops->on_guest(v);
	if (v->bg && v->bg->on_status)
		v->bg->on_status(v);
}

static void vm_gc_log(void *arg, enum gc_log_prio prio, const char *line)
{
	struct vm *v = arg;

	hlog(prio == GC_LOG_ERR ? HLOG_ERR : prio == GC_LOG_WARN ? HLOG_WARN :
	     prio == GC_LOG_INFO ? HLOG_INFO : HLOG_DEBUG, "vm %s: guest channel: %s",
	     v->cfg.name, line);
}

/* before the channel closes its fd: out of the loop while the fd is still ours */
static void vm_gc_close_fd(void *arg, int fd)
{
	struct vm *v = arg;

	if (v->gc_fd == fd) {
		loop_del_fd(v->d->l, fd);
		v->gc_fd = -1;
		v->gc_watched = 0;
	}
}

static const struct gc_ops vm_gc_ops = {
	.on_message = vm_gc_message, .on_answer = vm_gc_answer,
	.on_session = vm_gc_session, .on_log = vm_gc_log, .on_close_fd = vm_gc_close_fd,
};

static void vm_gc_io(void *arg, unsigned events)
{
	struct vm *v = arg;

	if (v->gc)
		gc_handle_io(v->gc, events, gc_now_ms());
}

/* every turn: the channel's deadlines, and its fd (it changes on reconnect) */
static int vm_tick(void *arg, uint64_t now)
{
	struct vm *v = arg;
	unsigned want, pe;
	int fd;

	if (!v->gc)
		return -1;
	gc_tick(v->gc, now);
	fd = gc_fd(v->gc);
	/* the guest sentry reads the channel: watched only while output waits */
	pe = gc_poll_events(v->gc);
	want = (pe & POLLIN ? EPOLLIN : 0) | (pe & POLLOUT ? EPOLLOUT : 0);
	if (fd != v->gc_fd || !want) {
		if (v->gc_fd >= 0)
			loop_del_fd(v->d->l, v->gc_fd);
		v->gc_fd = -1;
		v->gc_watched = 0;
	}
	if (fd >= 0 && want) {
		if (v->gc_fd < 0 && loop_add_fd(v->d->l, fd, want, vm_gc_io, v) == 0) {
			v->gc_fd = fd;
			v->gc_watched = want;
		} else if (v->gc_fd >= 0 && want != v->gc_watched &&
			   loop_mod_fd(v->d->l, v->gc_fd, want) == 0) {
			v->gc_watched = want;
		}
	}
	return gc_timeout_ms(v->gc, now);
}

/* ---- life ------------------------------------------------------------------ */
/* First loop turn after the VM was registered: what a previous daemon left in the
 * journal for it (a VM added by `hybond vm add` after a restart too). */
static void vm_recover(void *arg)
{
	struct vm *v = arg;

	if (v->bg && v->bg->recover)
		v->bg->recover(v);
}

struct vm *vm_new(struct hostd *d, const struct vm_config *cfg, const struct vm_bg_ops *bg)
{
	struct vm *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->d = d;
	v->cfg = *cfg;
	v->hvo = vm_config_libvirt(cfg) ? &hv_libvirt_ops : &hv_qmp_ops;
	v->gc_fd = -1;
	esw_parse_mac(cfg->mac, v->mac);
	(void)snprintf(v->vf_id, sizeof(v->vf_id), "%s", cfg->vf_id);
	/* libvirt: known once the domain is seen active here (vm_hv_ready) */
	v->here = !vm_config_libvirt(cfg) && cfg->qmp[0] != 0;
	v->rx_steer = -1;
	v->bg = bg;
	v->recover_timer = loop_timer_new(d->l, vm_recover, v);
	if (!v->recover_timer || (bg && bg->init && bg->init(v)) ||
	    loop_add_ticker(d->l, vm_tick, v) < 0) {
		loop_timer_free(v->recover_timer);
		if (bg && bg->fini)
			bg->fini(v);
		free(v);
		return NULL;
	}
	(void)loop_timer_arm(v->recover_timer, 0);
	return v;
}

int vm_attach(struct vm *v, char *err, size_t errlen)
{
	struct gc_config gcc = { .name = v->cfg.name, .path = v->cfg.agent,
				 .agent = HOSTD_VERSION };
	int rc;

	if (!v->hv) {
		const char *target = vm_config_libvirt(&v->cfg) ? vm_config_domain(&v->cfg) :
				     v->cfg.qmp;

		v->hv = v->hvo->open(v->d->l, target, &vm_hv_cb, v, v->cfg.name, &rc);
		if (!v->hv) {
			(void)snprintf(err, errlen, "vm %s: %s %s: %s", v->cfg.name, v->hvo->kind,
				       target, strerror(-rc));
			return rc;
		}
	}
	if (!v->gc && v->cfg.agent[0]) {
		v->gc = gc_new(&gcc, &vm_gc_ops, v);
		if (!v->gc) {
			(void)snprintf(err, errlen, "vm %s: guest channel: out of memory", v->cfg.name);
			return -ENOMEM;
		}
		if (v->d->sentry)
			gc_set_reader(v->gc, &sentry_reader_ops, v->d->sentry);
		/* a refused connect is retried by the channel itself (backoff) */
		(void)gc_connect(v->gc, gc_now_ms());
	}
	return 0;
}

void vm_gc_restart(struct vm *v)
{
	char err[256];

	if (v->gc_fd >= 0)
		loop_del_fd(v->d->l, v->gc_fd);
	v->gc_fd = -1;
	v->gc_watched = 0;
	gc_free(v->gc);
	v->gc = NULL;
	v->session_up = 0;
	memset(&v->pair, 0, sizeof(v->pair));
	if (vm_attach(v, err, sizeof(err)))
		hlog(HLOG_WARN, "%s", err);
}

void vm_detach(struct vm *v)
{
	if (v->gc_fd >= 0)
		loop_del_fd(v->d->l, v->gc_fd);
	v->gc_fd = -1;
	gc_free(v->gc);
	v->gc = NULL;
	v->session_up = 0;
	if (v->hv)
		v->hvo->close(v->hv);
	v->hv = NULL;
	memset(&v->pair, 0, sizeof(v->pair));
}

void vm_free(struct vm *v)
{
	if (!v)
		return;
	if (v->op && v->op->ops->free)
		v->op->ops->free(v);
	if (v->bg && v->bg->fini)
		v->bg->fini(v);
	loop_timer_free(v->recover_timer);
	json_decref(v->last_op);
	vm_detach(v);
	loop_del_ticker(v->d->l, v);
	esw_close(v->esw);
	free(v);
}

int vm_esw_ready(struct vm *v, char *err, size_t errlen)
{
	struct esw_config ec = {
		.kind = v->cfg.esw_kind,
		.netns = v->cfg.esw_netns[0] ? v->cfg.esw_netns : NULL,
		.bridge = v->cfg.esw_bridge, .pf = v->cfg.esw_pf,
	};
	int rc;

	if (!v->esw) {
		rc = esw_open(&ec, &v->esw);
		if (rc) {
			(void)snprintf(err, errlen, "vm %s: eswitch %s: %s", v->cfg.name, v->cfg.esw_kind,
				 v->esw ? esw_errmsg(v->esw) : strerror(-rc));
			esw_close(v->esw);
			v->esw = NULL;
			return rc;
		}
	}
	if (v->ports_ok)
		return 0;
	rc = esw_port_lookup(v->esw, v->cfg.vf_port, ESW_PORT_VF, &v->vf_port);
	if (!rc)
		rc = esw_port_lookup(v->esw, v->cfg.standby_port, ESW_PORT_STANDBY, &v->sb_port);
	if (rc) {
		(void)snprintf(err, errlen, "vm %s: %s", v->cfg.name, esw_errmsg(v->esw));
		return rc;
	}
	v->ports_ok = 1;
	return 0;
}

int vm_steer(struct vm *v, enum esw_target to, char *err, size_t errlen)
{
	struct esw_steer_req r = { .vf = &v->vf_port, .standby = &v->sb_port, .to = to };
	int rc = vm_esw_ready(v, err, errlen);

	if (rc)
		return rc;
	memcpy(r.mac, v->mac, 6);
	rc = esw_steer(v->esw, &r);
	if (!rc) {
		v->rx_steer = (int)to;
		if (to == ESW_TO_VF)
			v->cnt.steer_vf++;
		else if (to == ESW_TO_STANDBY)
			v->cnt.steer_standby++;
	} else {
		v->cnt.steer_errors++;
	}
	if (rc)
		(void)snprintf(err, errlen, "vm %s: steer to %s: %s", v->cfg.name,
			 to == ESW_TO_VF ? "VF" : to == ESW_TO_STANDBY ? "standby" : "none",
			 esw_errmsg(v->esw));
	return rc;
}

const char *vm_next_vf_id(struct vm *v)
{
	(void)snprintf(v->vf_id, sizeof(v->vf_id), "hb-vf%u", ++v->vf_seq);
	return v->vf_id;
}

/* A port's counters from sysfs (the daemon's netns); NULL when it has none
 * (a VF bound to vfio-pci has no host netdev). */
static json_t *port_counters(const char *port)
{
	static const char *const names[] = { "rx_packets", "tx_packets", "rx_dropped", "tx_dropped" };
	json_t *o = json_object();
	char path[160];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		unsigned long long n;
		FILE *f;

		(void)snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", port, names[i]);
		f = fopen(path, "re");
		if (!f)
			break;
		if (fscanf(f, "%llu", &n) == 1)
			(void)json_object_set_new(o, names[i], json_integer((json_int_t)n));
		(void)fclose(f);
	}
	if (!json_object_size(o)) {
		json_decref(o);
		return json_null();
	}
	return o;
}

/* status: paths (TX as the guest reports it, RX where the eswitch steers),
 * counters, the operation in progress and the last one. */
static void vm_status_extra(const struct vm *v, json_t *o)
{
	const char *rx = v->rx_steer == ESW_TO_VF ? "vf" : v->rx_steer == ESW_TO_STANDBY ?
			 "standby" : v->rx_steer == ESW_TO_NONE ? "none" : "unknown";
	const char *tx = !v->pair.valid ? "unknown" :
			 v->pair.active == HB_PATH_FAST ? "vf" : "standby";

	(void)json_object_set_new(o, "paths", json_pack(
		"{s:s, s:s, s:s, s:b}", "tx", tx, "rx_steer", rx, "vf_id", v->vf_id,
		"fast_path", !strcmp(tx, "vf") && !strcmp(rx, "vf")));
	(void)json_object_set_new(o, "counters", json_pack(
		"{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:o, s:o}",
		"drills", (int)v->cnt.drills, "drills_failed", (int)v->cnt.drills_failed,
		"snapshots", (int)v->cnt.snapshots, "snapshots_failed", (int)v->cnt.snapshots_failed,
		"steer_vf", (int)v->cnt.steer_vf, "steer_standby", (int)v->cnt.steer_standby,
		"steer_errors", (int)v->cnt.steer_errors,
		"standby_port", port_counters(v->cfg.standby_port),
		"vf_port", port_counters(v->cfg.vf_port)));
	if (v->bg && v->bg->to_json)
		v->bg->to_json(v, o);
	(void)json_object_set_new(o, "last_op", v->last_op ? json_incref(v->last_op) : json_null());
}

json_t *vm_to_json(const struct vm *v)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:b, s:b}",
			      "name", v->cfg.name, "mode", vm_mode_name(v->cfg.mode),
			      "mac", v->cfg.mac, "here", v->here, "qmp", v->cfg.qmp,
			      "agent", v->cfg.agent, "standby_port", v->cfg.standby_port,
			      "vf_port", v->cfg.vf_port,
			      "qmp_connected", v->hv && v->hvo->ready(v->hv),
			      "agent_session", v->session_up);

	/* hv: the backend; hv_connected: QMP session up, or (libvirt) the domain active */
	if (o) {
		(void)json_object_set_new(o, "hv", json_string(v->hvo->kind));
		(void)json_object_set_new(o, "hv_connected", json_boolean(v->hv &&
									 v->hvo->ready(v->hv)));
	}
	if (o && vm_config_libvirt(&v->cfg))
		(void)json_object_set_new(o, "domain", json_string(vm_config_domain(&v->cfg)));
	if (o && v->pair.valid)
		(void)json_object_set_new(o, "pair", json_pack(
			"{s:i, s:s, s:{s:s, s:b, s:b}, s:{s:s, s:b, s:b, s:b}}",
			"id", (json_int_t)v->pair.id,
			"active", v->pair.active == HB_PATH_FAST ? "fast" : "standby",
			"standby", "name", v->pair.standby, "link", v->pair.sb_link,
			"carrier", v->pair.sb_carrier,
			"vf", "name", v->pair.vf, "present", v->pair.vf_present,
			"link", v->pair.vf_link, "carrier", v->pair.vf_carrier));
	if (o && v->op && v->op->ops->to_json)
		(void)json_object_set_new(o, v->op->ops->json_key, v->op->ops->to_json(v));
	if (o)
		vm_status_extra(v, o);
	return o;
}

void vm_set_last_op(struct vm *v, json_t *o)
{
	json_decref(v->last_op);
	v->last_op = o;
}

void vm_op_begin(struct vm *v, struct vm_op *op)
{
	/* the daemon's operations numbered from its start time in ms: no two of one run
	 * share an id, and across restarts only if the clock went back; the journal's
	 * HYBOND_OP_ID=… picks one out */
	static uint64_t next;

	if (!next) {
		struct timespec ts;

		(void)clock_gettime(CLOCK_REALTIME, &ts);
		next = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	}
	op->id = next++;
	v->op = op;
}

void vm_op_end(struct vm *v, const struct vm_op *op)
{
	if (v->op == op)
		v->op = NULL;
}

int vm_op_busy(const struct vm *v, char *err, size_t errlen)
{
	if (!v->op)
		return 0;
	(void)snprintf(err, errlen, "vm %s: busy with another %s", v->cfg.name, v->op->ops->what);
	return -EBUSY;
}
