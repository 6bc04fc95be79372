// SPDX-License-Identifier: LGPL-2.1-or-later
/* host-agent/hostd/ctl/ctl.c — the control socket (see ctl.h). */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "host-agent/common/jsonl.h"
#include "host-agent/hostd/hv/lv_xml.h"
#include "host-agent/hostd/ops/drill.h"
#include "host-agent/hostd/ops/evacuate.h"
#include "host-agent/hostd/ops/migrate.h"
#include "host-agent/hostd/peer/peer_check.h"
#include "host-agent/hostd/registry.h"
#include "host-agent/hostd/vm.h"

#define CTL_OUT_MAX (1u << 20)
#define NGROUPS_MAX_PEER 1024   /* supplementary groups of a client looked at */

struct ctl_conn {
	struct hostd *d;
	int fd;
	char in[CTL_LINE_MAX];
	size_t in_len;
	struct jsonl_out out;           /* answer lines not sent yet (CTL_OUT_MAX) */
	int closing, dead, busy;        /* busy: an operation reports to us */
	int root;                       /* the client is root (else a ctl_group member) */
};

static struct hostd *ctl_d;
static int ctl_lfd = -1;
static gid_t ctl_gid = (gid_t)-1;

static void cc_free(struct ctl_conn *cc)
{
	size_t i;

	for (i = 0; i < CFG_MAX_VMS; i++) {
		struct vm *v = cc->d->vms[i];

		if (v && v->op && v->op->ops->sink_gone)
			v->op->ops->sink_gone(v, cc);
	}
	pcheck_sink_gone(cc);
	loop_del_fd(cc->d->l, cc->fd);
	(void)close(cc->fd);
	jsonl_clear(&cc->out);
	free(cc);
}

static void cc_flush(struct ctl_conn *cc)
{
	long left = jsonl_flush(&cc->out, cc->fd);

	if (left < 0 || (!left && cc->closing))
		cc->dead = 1;
	else
		(void)loop_mod_fd(cc->d->l, cc->fd, EPOLLIN | (left ? EPOLLOUT : 0));
}

/* A line the client reads too slowly to take (CTL_OUT_MAX queued) is dropped. */
void ctl_send(struct ctl_conn *cc, json_t *o)
{
	if (!o)
		return;
	(void)jsonl_queue(&cc->out, o);
	cc_flush(cc);
}

void ctl_finish(struct ctl_conn *cc, json_t *o)
{
	cc->closing = 1;
	cc->busy = 0;
	ctl_send(cc, o);
}

static void reply_err(struct ctl_conn *cc, const char *msg)
{
	ctl_finish(cc, json_pack("{s:b, s:s}", "ok", 0, "error", msg));
}

/* ---- sinks: operations and checks report to the connection that started them ---- */
static void sink_progress(void *arg, json_t *line)
{
	ctl_send(arg, line);
}

static void sink_finish(void *arg, int ok, json_t *result)
{
	(void)ok;       /* the result says it ("ok") */
	ctl_finish(arg, result);
}

static const struct op_sink_ops cc_sink_ops = { .progress = sink_progress,
						 .finish = sink_finish };

/* The answer to hybond-libvirt-hook: {"ok":true,"mode":MODE,"msg":MSG[,"xml":XML]} or
 * {"ok":false,"error":MSG}; XML is the domain XML libvirt takes (ok only; may be NULL). */
static json_t *hook_reply(int ok, const char *mode, const char *msg, const char *xml)
{
	/* "refuse": the daemon's hard refusal, the only answer on which the hook makes
	 * libvirt abort the migration (any other error lets it go on in plain QEMU order) */
	json_t *o = ok ? json_pack("{s:b, s:s, s:s}", "ok", 1, "mode", mode, "msg", msg)
		       : json_pack("{s:b, s:s, s:b}", "ok", 0, "error", msg, "refuse", 1);

	if (o && ok && xml)
		(void)json_object_set_new(o, "xml", json_string(xml));
	return o;
}

/* migrate.c answers the hook with {"mode", "msg"[, "xml"]} (migrate.h) */
static void hook_finish(void *arg, int ok, json_t *a)
{
	ctl_finish(arg, hook_reply(ok, json_string_value(json_object_get(a, "mode")),
				   json_string_value(json_object_get(a, "msg")),
				   json_string_value(json_object_get(a, "xml"))));
	json_decref(a);
}

static const struct op_sink_ops hook_sink_ops = { .finish = hook_finish };

static json_t *status_json(struct hostd *d)
{
	json_t *vms = json_array();
	size_t i;

	for (i = 0; i < CFG_MAX_VMS; i++)
		if (d->vms[i])
			(void)json_array_append_new(vms, vm_to_json(d->vms[i]));
	return json_pack("{s:b, s:s, s:s, s:o}", "ok", 1, "host", d->cfg.host, "version",
			 HOSTD_VERSION, "vms", vms);
}

static void do_vm_add(struct hostd *d, struct ctl_conn *cc, json_t *req)
{
	json_t *o = json_object_get(req, "vm"), *val;
	const char *name = json_string_value(json_object_get(o, "name")), *key;
	struct vm_config vc;
	char err[512];

	if (!json_is_object(o) || !name) {
		reply_err(cc, "vm-add: want {\"vm\": {\"name\": …, key: value…}}");
		return;
	}
	vm_config_defaults(&vc, name);
	json_object_foreach(o, key, val) {
		if (!strcmp(key, "name"))
			continue;
		if (!json_is_string(val)) {
			(void)snprintf(err, sizeof(err), "vm-add: %s must be a string", key);
			reply_err(cc, err);
			return;
		}
		if (vm_config_set(&vc, key, json_string_value(val), err, sizeof(err))) {
			reply_err(cc, err);
			return;
		}
	}
	if (hostd_vm_add(d, &vc, err, sizeof(err))) {
		reply_err(cc, err);
		return;
	}
	ctl_finish(cc, json_pack("{s:b, s:o}", "ok", 1, "vm", vm_to_json(hostd_vm(d, name))));
}

static int req_str(json_t *o, const char *key, char *dst, size_t len)
{
	json_t *s = json_object_get(o, key);

	if (!s)
		return 0;
	if (!json_is_string(s) || json_string_length(s) >= len)
		return -1;
	(void)snprintf(dst, len, "%s", json_string_value(s));
	return 0;
}

/* The VM a request names, or NULL after answering that there is none. */
static struct vm *req_vm(struct hostd *d, struct ctl_conn *cc, const char *name)
{
	struct vm *v = hostd_vm(d, name);
	char err[CFG_NAME_MAX + 64];

	if (!v) {
		(void)snprintf(err, sizeof(err), "no VM '%.*s' (hybond vm list)", CFG_NAME_MAX, name);
		reply_err(cc, err);
	}
	return v;
}

/* A JSON integer as an unsigned: negative 0, too large UINT_MAX (the operation refuses
 * both with its own bounds). */
static unsigned req_unsigned(const json_t *n)
{
	json_int_t i = json_integer_value(n);

	return i < 0 ? 0u : i > (json_int_t)UINT_MAX ? UINT_MAX : (unsigned)i;
}

/* {"cmd":"drill","vm":N,"cycles":1,"unplug":false,
 *  "probe":{"kind":"udp","target":"IP:PORT","rate":1000,"netns":"NAME"}}
 * {"cmd":"snapshot","vm":N,"file":"/abs/path","probe":{…}} */
static void do_drill(struct hostd *d, struct ctl_conn *cc, json_t *req, int snap)
{
	const char *vmn = json_string_value(json_object_get(req, "vm"));
	json_t *pr = json_object_get(req, "probe"), *cy = json_object_get(req, "cycles");
	json_t *rate = json_object_get(pr, "rate");
	struct drill_req rq = { .kind = snap ? DRILL_KIND_SNAPSHOT : DRILL_KIND_DRILL,
				.cycles = 1, .rate_pps = 1000 };
	char err[512];
	struct vm *v;

	(void)snprintf(rq.probe_kind, sizeof(rq.probe_kind), "udp");
	if (!vmn || (cy && !json_is_integer(cy)) || (pr && !json_is_object(pr)) ||
	    (rate && !json_is_integer(rate)) || req_str(req, "file", rq.file, sizeof(rq.file)) ||
	    req_str(pr, "kind", rq.probe_kind, sizeof(rq.probe_kind)) ||
	    req_str(pr, "target", rq.probe_target, sizeof(rq.probe_target)) ||
	    req_str(pr, "netns", rq.probe_netns, sizeof(rq.probe_netns)) || (snap && !rq.file[0])) {
		reply_err(cc, snap ? "snapshot: want \"vm\", \"file\" [, \"probe\": {kind, target, rate, netns}]"
			  : "drill: want \"vm\" [, \"cycles\", \"unplug\", \"probe\": {kind, target, rate, netns}]");
		return;
	}
	/* the bounds are drill_start()'s (ops/bounds.h): here only what fits an unsigned */
	if (cy)
		rq.cycles = req_unsigned(cy);
	if (rate)
		rq.rate_pps = req_unsigned(rate);
	rq.unplug = json_is_true(json_object_get(req, "unplug"));
	v = req_vm(d, cc, vmn);
	if (!v)
		return;
	cc->busy = 1;
	if (drill_start(v, &rq, &(struct op_sink){ .ops = &cc_sink_ops, .arg = cc }, err,
			sizeof(err))) {
		cc->busy = 0;
		reply_err(cc, err);
	}
}

/* {"cmd":"evacuate","to":HOST,"parallel":K,"force":false}: evacuate.c takes the connection
 * over (a duplicate of its fd: the evacuation outlives this request and the CLI may leave)
 * and streams {"progress":…} lines and the final {"ok":…}; this ctl_conn goes quietly.
 * {"cmd":"evacuate","status":true} / {…,"stop":true}: the running evacuation, answered here. */
static void do_evacuate(struct hostd *d, struct ctl_conn *cc, json_t *req)
{
	json_t *to = json_object_get(req, "to"), *k = json_object_get(req, "parallel"), *st;
	struct evac_req rq = { .parallel = 1, .force = json_is_true(json_object_get(req, "force")) };
	int stop = json_is_true(json_object_get(req, "stop"));
	char err[512];

	if (stop || json_is_true(json_object_get(req, "status"))) {
		if (evac_query(d, stop, &st, err, sizeof(err)))
			reply_err(cc, err);
		else
			ctl_finish(cc, st);
		return;
	}
	if (!json_is_string(to) || json_string_length(to) >= sizeof(rq.to) ||
	    (k && !json_is_integer(k))) {
		reply_err(cc, "evacuate: want \"to\" [, \"parallel\": K, \"force\": true], "
			  "or \"status\" / \"stop\": true");
		return;
	}
	(void)snprintf(rq.to, sizeof(rq.to), "%s", json_string_value(to));
	if (k)  /* the bounds are evac_start()'s; a number it can name (below -1: -1) */
		rq.parallel = json_integer_value(k) < -1 ? -1 : json_integer_value(k) > INT_MAX ?
			      INT_MAX : (int)json_integer_value(k);
	if (evac_start(d, &rq, cc->fd, err, sizeof(err)))
		reply_err(cc, err);
	else
		cc->dead = 1;
}

static struct vm *vm_by_domain(struct hostd *d, const char *dom)
{
	size_t i;

	for (i = 0; i < CFG_MAX_VMS; i++)
		if (d->vms[i] && vm_config_libvirt(&d->vms[i]->cfg) &&
		    !strcmp(vm_config_domain(&d->vms[i]->cfg), dom))
			return d->vms[i];
	return NULL;
}

/*
 * {"cmd":"libvirt-hook","domain":D,"op":OP,"sub":SUB,"uuid":U,"xml":X} from
 * hybond-libvirt-hook (libvirt's qemu hook; docs/libvirt.md).  Only `migrate begin`
 * matters (the destination's Prepare): the answer may come later, once the source
 * daemon moved RX and TX to the standby; the hook's own deadline bounds the wait.
 * Every other operation is acknowledged at once.
 */
static void do_libvirt_hook(struct hostd *d, struct ctl_conn *cc, json_t *req)
{
	const char *dom = json_string_value(json_object_get(req, "domain"));
	const char *op = json_string_value(json_object_get(req, "op"));
	const char *sub = json_string_value(json_object_get(req, "sub"));
	const char *xml = json_string_value(json_object_get(req, "xml"));
	struct lv_domain *ld;
	char err[512], *newxml = NULL;
	struct vm *v;
	int answered = 0, rc;

	if (!dom || !op || !sub) {
		reply_err(cc, "libvirt-hook: want \"domain\", \"op\" and \"sub\"");
		return;
	}
	v = vm_by_domain(d, dom);
	hlog(HLOG_INFO, "libvirt hook: domain %.64s %.16s %.16s%s", dom, op, sub,
	     v ? "" : " (not a hybond VM here)");
	if (!v || strcmp(op, "migrate") != 0 || strcmp(sub, "begin") != 0) {
		ctl_finish(cc, json_pack("{s:b, s:s}", "ok", 1, "mode", v ? "none" : "unknown"));
		return;
	}
	ld = calloc(1, sizeof(*ld));    /* (large: fixed-size arrays of interfaces) */
	if (!ld || !xml || lv_domain_parse(xml, ld, err, sizeof(err))) {
		/* the migration must not fail for us: QEMU's order, the source reacts */
		hlog(HLOG_WARN, "libvirt hook: domain %s: %s: not coordinated", dom,
		     !ld ? "out of memory" : xml ? err : "no XML");
		free(ld);
		ctl_finish(cc, json_pack("{s:b, s:s}", "ok", 1, "mode", "reactive"));
		return;
	}
	/* the answer's XML names this host: the next `virsh migrate` asks us */
	if (lv_domain_set_host(xml, d->cfg.host, &newxml, err, sizeof(err)))
		hlog(HLOG_WARN, "libvirt hook: domain %s: %s (its metadata keeps host '%s')", dom,
		     err, ld->meta_host);
	/* and takes this host's VF: the source's VF address means nothing here */
	if (newxml && v->cfg.vf_pci[0]) {
		char *vfxml = NULL;
		unsigned i;

		for (i = 0; i < ld->n_pairs && ld->pairs[i].kind != LV_VF_HOSTDEV; i++)
			;
		if (i < ld->n_pairs && lv_domain_rewrite_vf(newxml, ld->pairs[i].standby_alias,
							   v->cfg.vf_pci, &vfxml, err,
							   sizeof(err)) == 0) {
			hlog(HLOG_INFO, "libvirt hook: domain %s: its VF here is %s", dom,
			     v->cfg.vf_pci);
			free(newxml);
			newxml = vfxml;
		} else if (i < ld->n_pairs) {
			hlog(HLOG_WARN, "libvirt hook: domain %s: VF %s not set: %s", dom,
			     v->cfg.vf_pci, err);
		}
	}
	cc->busy = 1;
	rc = mig_hook_incoming(v, &(struct op_sink){ .ops = &hook_sink_ops, .arg = cc },
			       ld->meta_host, &newxml, err, sizeof(err), &answered);
	free(ld);
	if (rc) {               /* busy, running here already: a refusal (the hook exits 1) */
		cc->busy = 0;
		ctl_finish(cc, hook_reply(0, NULL, err, NULL));
	} else if (answered) {
		cc->busy = 0;
		ctl_finish(cc, hook_reply(1, "hybond", err, newxml));
	}
	free(newxml);
}

/*
 * What only root may ask: requests that define a command the daemon runs, a socket or a
 * namespace it opens, an eswitch port it steers (vm-add: launcher, cleanup, qmp, agent,
 * eswitch_netns, ports; vm-del), a file QEMU writes as its user (snapshot), and the
 * libvirt hook's request (libvirtd runs hooks as root; it starts the VM's launcher).  A
 * ctl_group member operates the VMs root defined: status, migrate, cancel, drill,
 * evacuate, peer-check (docs/security.md).
 */
static const char *const root_only[] = { "vm-add", "vm-del", "snapshot", "libvirt-hook" };

static int allowed(const struct ctl_conn *cc, const char *cmd)
{
	size_t i;

	if (cc->root)
		return 1;
	for (i = 0; i < sizeof(root_only) / sizeof(root_only[0]); i++)
		if (!strcmp(cmd, root_only[i]))
			return 0;
	return 1;
}

void ctl_dispatch(struct hostd *d, struct ctl_conn *cc, json_t *req)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	const char *vmn = json_string_value(json_object_get(req, "vm"));
	char err[512];
	struct vm *v;

	if (!cmd) {
		reply_err(cc, "request without \"cmd\"");
	} else if (!allowed(cc, cmd)) {
		(void)snprintf(err, sizeof(err), "%s: root only (it defines commands, sockets, "
			       "ports or files the daemon uses as root); ctl_group members may "
			       "run status, migrate, cancel, drill, evacuate and peer-check", cmd);
		reply_err(cc, err);
	} else if (!strcmp(cmd, "status") || !strcmp(cmd, "vm-list")) {
		ctl_finish(cc, status_json(d));
	} else if (!strcmp(cmd, "vm-add")) {
		do_vm_add(d, cc, req);
	} else if (!strcmp(cmd, "vm-del")) {
		if (!vmn || hostd_vm_del(d, vmn, err, sizeof(err)))
			reply_err(cc, vmn ? err : "vm-del: want \"vm\"");
		else
			ctl_finish(cc, json_pack("{s:b}", "ok", 1));
	} else if (!strcmp(cmd, "migrate")) {
		const char *to = json_string_value(json_object_get(req, "to"));
		int force = json_is_true(json_object_get(req, "force"));

		if (!vmn || !to) {
			reply_err(cc, "migrate: want \"vm\" and \"to\"");
			return;
		}
		v = req_vm(d, cc, vmn);
		if (!v)
			return;
		cc->busy = 1;
		if (mig_start_source(v, to, force, &(struct op_sink){ .ops = &cc_sink_ops,
								      .arg = cc },
				     err, sizeof(err))) {
			cc->busy = 0;
			reply_err(cc, err);
		}
	} else if (!strcmp(cmd, "cancel")) {
		/* {"cmd":"cancel","vm":N}: the migrate request's CLI gets the final result */
		if (!vmn) {
			reply_err(cc, "cancel: want \"vm\"");
		} else if (!(v = req_vm(d, cc, vmn))) {
			/* answered */
		} else if (mig_cancel(v, err, sizeof(err))) {
			reply_err(cc, err);
		} else {
			ctl_finish(cc, json_pack("{s:b, s:s, s:s}", "ok", 1, "vm", vmn, "action", err));
		}
	} else if (!strcmp(cmd, "drill") || !strcmp(cmd, "snapshot")) {
		do_drill(d, cc, req, !strcmp(cmd, "snapshot"));
	} else if (!strcmp(cmd, "evacuate")) {
		do_evacuate(d, cc, req);
	} else if (!strcmp(cmd, "peer-check")) {
		const char *peer = json_string_value(json_object_get(req, "peer"));

		if (!peer)
			reply_err(cc, "peer-check: want \"peer\": NAME");
		else
			pcheck_start(d, peer, &(struct op_sink){ .ops = &cc_sink_ops, .arg = cc });
	} else if (!strcmp(cmd, "libvirt-hook")) {
		do_libvirt_hook(d, cc, req);
	} else {
		(void)snprintf(err, sizeof(err), "unknown command '%.64s'", cmd);
		reply_err(cc, err);
	}
}

static void cc_io(void *arg, unsigned events)
{
	struct ctl_conn *cc = arg;
	char *nl;
	ssize_t n;

	if (events & EPOLLOUT)
		cc_flush(cc);
	if (!cc->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		n = recv(cc->fd, cc->in + cc->in_len, sizeof(cc->in) - cc->in_len, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			cc->dead = 1;
		} else if (n > 0 && !cc->busy && !cc->closing) {
			cc->in_len += (size_t)n;
			nl = memchr(cc->in, '\n', cc->in_len);
			if (nl) {
				json_error_t je;
				json_t *req = json_loadb(cc->in, (size_t)(nl - cc->in), 0, &je);

				cc->in_len = 0;
				if (!json_is_object(req))
					reply_err(cc, "request is not a JSON object");
				else
					ctl_dispatch(cc->d, cc, req);
				json_decref(req);
			} else if (cc->in_len == sizeof(cc->in)) {
				reply_err(cc, "request line too long");
			}
		}
	}
	if (cc->dead)
		cc_free(cc);
}

/* A member of ctl_group: its primary or one of its supplementary groups, as they were
 * when it connected (SO_PEERGROUPS, Linux >= 4.13). */
static int in_ctl_group(int fd, gid_t primary)
{
	gid_t groups[NGROUPS_MAX_PEER];
	socklen_t len = sizeof(groups);
	size_t i;

	if (ctl_gid == (gid_t)-1)
		return 0;
	if (primary == ctl_gid)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return 0;       /* ERANGE: more groups than we look at; refused */
	for (i = 0; i < len / sizeof(groups[0]); i++)
		if (groups[i] == ctl_gid)
			return 1;
	return 0;
}

/* 1 root, 0 a member of ctl_group, -1 neither */
static int cred_of(int fd)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -1;
	if (uc.uid == 0)
		return 1;
	return in_ctl_group(fd, uc.gid) ? 0 : -1;
}

static void ctl_accept(void *arg, unsigned events)
{
	struct hostd *d = arg;
	int fd = accept4(ctl_lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), root;

	(void)events;
	if (fd < 0)
		return;
	root = cred_of(fd);
	if (root < 0) {
		static const char deny[] = "{\"ok\":false,\"error\":\"permission denied (root or ctl_group)\"}\n";

		(void)!send(fd, deny, sizeof(deny) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)close(fd);
		hlog(HLOG_WARN, "control: refused a client that is neither root nor in ctl_group");
		return;
	}
	(void)ctl_adopt(d, fd, root);
}

int ctl_adopt(struct hostd *d, int fd, int root)
{
	struct ctl_conn *cc = calloc(1, sizeof(*cc));
	int rc;

	if (!cc) {
		(void)close(fd);
		return -ENOMEM;
	}
	cc->d = d;
	cc->fd = fd;
	cc->root = root;
	cc->out.max = CTL_OUT_MAX;
	rc = loop_add_fd(d->l, fd, EPOLLIN, cc_io, cc);
	if (rc) {
		(void)close(fd);
		free(cc);
	}
	return rc;
}

void ctl_close(struct hostd *d)
{
	if (ctl_lfd < 0)
		return;
	loop_del_fd(d->l, ctl_lfd);
	(void)close(ctl_lfd);
	ctl_lfd = -1;
}

int ctl_listen(struct hostd *d, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = d->cfg.ctl_socket;
	int rc;

	ctl_d = d;
	ctl_gid = (gid_t)-1;
	if (d->cfg.ctl_group[0]) {
		struct group *g = getgrnam(d->cfg.ctl_group);

		if (!g) {
			(void)snprintf(err, errlen, "ctl_group '%s': no such group", d->cfg.ctl_group);
			return -ENOENT;
		}
		ctl_gid = g->gr_gid;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		(void)snprintf(err, errlen, "ctl_socket %s: path too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ctl_lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ctl_lfd < 0)
		return -errno;
	(void)unlink(path);
	if (bind(ctl_lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, ctl_gid != (gid_t)-1 ? 0660 : 0600) < 0 ||
	    (ctl_gid != (gid_t)-1 && chown(path, 0, ctl_gid) < 0) || listen(ctl_lfd, 8) < 0) {
		rc = -errno;
		(void)snprintf(err, errlen, "ctl_socket %s: %s", path, strerror(errno));
		(void)close(ctl_lfd);
		ctl_lfd = -1;
		return rc;
	}
	return loop_add_fd(d->l, ctl_lfd, EPOLLIN, ctl_accept, d);
}
