// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/reload.c — SIGHUP: read hostd.conf again and apply what can change
 * under a running daemon without touching an operation in flight (hybond-hostd(8),
 * "SIGNALS"):
 *   - a file that does not parse changes nothing (the error is logged);
 *   - the tunables (txqueuelen, uplink, timeouts, vf_watch, libvirt_coordinate,
 *     hook_wait_ms) apply to what starts next;
 *   - [peer] sections are read at start only (the TLS identities and admission are
 *     built from them then): a change is logged, like the listeners;
 *   - [vm] sections are compared with the file read before: a new one is registered, a
 *     removed one unregistered, a changed one registered again — each only while that VM
 *     has no operation (else: logged, kept). VMs added with `hybond vm add` are not the
 *     file's and stay;
 *   - the TLS certificate, key, CA and CRL files (at the paths the new file names) are
 *     read again when the daemon uses TLS: new peer connections use them, open ones keep
 *     theirs; files that do not load or check change nothing (the error is logged);
 *   - listeners, sockets, tls_priority, state_dir, the sentries (guest_sentry,
 *     peer_sentry, sentry_user), sched_fifo and host are read at start only: a change
 *     is logged ("takes effect at restart").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostd.h"
#include "host-agent/hostd/peer/peer.h"
#include "registry.h"
#include "reload.h"
#include "vm.h"

/* The [peer] sections, but where they stand in the file. */
static int peers_same(const struct hostd_config *a, const struct hostd_config *b)
{
	if (a->n_peers != b->n_peers)
		return 0;
	for (size_t i = 0; i < a->n_peers; i++) {
		const struct peer_config *p = &a->peers[i], *q = &b->peers[i];

#define D(f) (strcmp(p->f, q->f) != 0)
		if (D(name) || D(socket) || D(address) || D(tls_name) || D(libvirt_uri) ||
		    D(migrate_uri))
			return 0;
#undef D
	}
	return 1;
}

/* Field by field (memcmp would also compare padding and the bytes after each string's
 * NUL). A new field of struct vm_config must be added here (config.h says so). */
static int vm_same(const struct vm_config *a, const struct vm_config *b)
{
#define S(f) (strcmp(a->f, b->f) == 0)
	return S(name) && S(qmp) && S(agent) && S(mac) && a->mode == b->mode &&
	       S(standby_port) && S(vf_port) && S(esw_kind) && S(esw_bridge) && S(esw_pf) &&
	       S(esw_netns) && S(vf_driver) && S(vf_id) && S(vf_bus) && S(vf_netdev) &&
	       S(launcher) && S(hv) && S(domain) && S(vf_pci) && S(cleanup);
#undef S
}

static const struct vm_config *find_vm(const struct hostd_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_vms; i++)
		if (!strcmp(c->vms[i].name, name))
			return &c->vms[i];
	return NULL;
}

/* The file's VM @name is gone or changed: unregister it unless it is busy; 1 when done. */
static int vm_drop(struct hostd *d, const char *name, const char *why)
{
	struct vm *v = hostd_vm(d, name);
	char err[256];

	if (!v)
		return 1;
	if (v->op) {
		hlog(HLOG_WARN, "reload: vm %s %s, but an operation runs on it: kept as it was "
		     "(send SIGHUP again when it is over)", name, why);
		return 0;
	}
	if (hostd_vm_del(d, name, err, sizeof(err))) {
		hlog(HLOG_WARN, "reload: vm %s %s: %s", name, why, err);
		return 0;
	}
	return 1;
}

static void restart_only(const char *key, int changed)
{
	if (changed)
		hlog(HLOG_WARN, "reload: %s changed: takes effect when the daemon restarts "
		     "(systemctl restart hybond-hostd; a migration in flight is journalled and "
		     "recovered)", key);
}

/* The TLS files again (renewed certificates, a new CRL), from nc's paths. A daemon
 * started without TLS gets none from a reload (the listener is set up at start). */
static void reload_tls(struct hostd *d, struct hostd_config *nc)
{
	char err[PEER_ERR_MAX], warn[PEER_ERR_MAX];

	if (!d->tls) {
		restart_only("TLS (peer_listen or a [peer] with an address)", config_uses_tls(nc));
		return;
	}
	if (!config_uses_tls(nc)) {
		restart_only("TLS (no peer_listen and no [peer] with an address now)", 1);
		return;
	}
	if (peer_tls_reload(d->tls, nc, err, sizeof(err), warn, sizeof(warn))) {
		hlog(HLOG_ERR, "reload: peer TLS: %s; the certificates loaded before stay in use",
		     err);
		return;
	}
	if (warn[0])
		hlog(HLOG_WARN, "reload: peer TLS: %s", warn);
	memcpy(d->cfg.tls_ca, nc->tls_ca, sizeof(d->cfg.tls_ca));
	memcpy(d->cfg.tls_cert, nc->tls_cert, sizeof(d->cfg.tls_cert));
	memcpy(d->cfg.tls_key, nc->tls_key, sizeof(d->cfg.tls_key));
	memcpy(d->cfg.tls_crl, nc->tls_crl, sizeof(d->cfg.tls_crl));
	hlog(HLOG_INFO, "reload: peer TLS: %s, %s, %s%s%s read again: new peer connections "
	     "use them", nc->tls_cert, nc->tls_key, nc->tls_ca, nc->tls_crl[0] ? ", " : "",
	     nc->tls_crl);
}

int hostd_reload(struct hostd *d, const char *path)
{
	struct hostd_config *nc = calloc(1, sizeof(*nc)), *oc = &d->cfg;
	struct vm_config *vms;
	char err[512];
	unsigned added = 0, removed = 0, changed = 0, kept = 0;
	size_t n_vms = 0;
	int rc;

	if (!nc)
		return -ENOMEM;
	config_defaults(nc);
	rc = config_load(nc, path, err, sizeof(err));
	if (rc) {
		hlog(HLOG_ERR, "reload: %s; still running with the configuration read before",
		     err);
		free(nc);
		return rc;
	}
#define STR_ONLY(f) restart_only(#f, strcmp(nc->f, oc->f) != 0)
#define NUM_ONLY(f) restart_only(#f, nc->f != oc->f)
	STR_ONLY(host);
	STR_ONLY(ctl_socket);
	STR_ONLY(ctl_group);
	STR_ONLY(peer_socket);
	STR_ONLY(peer_listen);
	STR_ONLY(tls_priority);
	STR_ONLY(state_dir);
	STR_ONLY(libvirt_uri);
	STR_ONLY(sentry_user);
	NUM_ONLY(guest_sentry);
	NUM_ONLY(peer_sentry);
	NUM_ONLY(sched_fifo);
#undef STR_ONLY
#undef NUM_ONLY
	reload_tls(d, nc);
	/* for what starts next */
	memcpy(oc->uplink, nc->uplink, sizeof(oc->uplink));
	oc->txqueuelen = nc->txqueuelen;
	oc->vf_up_timeout_ms = nc->vf_up_timeout_ms;
	oc->prepare_deadline_ms = nc->prepare_deadline_ms;
	oc->resume_deadline_ms = nc->resume_deadline_ms;
	oc->vf_watch = nc->vf_watch;
	oc->hook_wait_ms = nc->hook_wait_ms;
	oc->libvirt_coordinate = nc->libvirt_coordinate;
	restart_only("[peer] sections", !peers_same(nc, oc));
	/* the file's VMs: what left it or changed in it, then what is new in it. What stays
	 * as it was (busy) keeps its old entry in the file's list, so that the next SIGHUP
	 * sees the difference again. */
	vms = calloc(CFG_MAX_VMS, sizeof(*vms));
	if (!vms) {
		free(nc);
		return -ENOMEM;
	}
	for (size_t i = 0; i < oc->n_vms; i++) {
		const struct vm_config *o = &oc->vms[i], *n = find_vm(nc, o->name);

		if (!n) {
			if (vm_drop(d, o->name, "left hostd.conf")) {
				removed++;
			} else {
				vms[n_vms++] = *o;
				kept++;
			}
		} else if (!vm_same(n, o)) {
			if (!vm_drop(d, o->name, "changed in hostd.conf")) {
				vms[n_vms++] = *o;
				kept++;
			} else if (hostd_vm_add(d, n, err, sizeof(err))) {
				/* not recorded: the next SIGHUP tries it as new */
				hlog(HLOG_ERR, "reload: %s", err);
			} else {
				vms[n_vms++] = *n;
				changed++;
			}
		} else {
			vms[n_vms++] = *o;
		}
	}
	for (size_t i = 0; i < nc->n_vms; i++) {
		if (find_vm(oc, nc->vms[i].name) || n_vms == CFG_MAX_VMS)
			continue;
		if (hostd_vm(d, nc->vms[i].name)) {
			/* registered with hybond vm add: that one stays, and stays not the file's */
			hlog(HLOG_WARN, "reload: vm %s is in hostd.conf now but was added with "
			     "hybond vm add: kept as it is (hybond vm del it, then SIGHUP)",
			     nc->vms[i].name);
			continue;
		}
		/* recorded only once registered: a failure is tried again at the next SIGHUP */
		if (hostd_vm_add(d, &nc->vms[i], err, sizeof(err))) {
			hlog(HLOG_ERR, "reload: %s", err);
		} else {
			vms[n_vms++] = nc->vms[i];
			added++;
		}
	}
	memcpy(oc->vms, vms, sizeof(oc->vms[0]) * n_vms);
	oc->n_vms = n_vms;
	free(vms);
	hlog(HLOG_INFO, "reload: %s read: %u VMs added, %u removed, %u changed, %u kept as "
	     "they were (busy)", path, added, removed, changed, kept);
	free(nc);
	return 0;
}
