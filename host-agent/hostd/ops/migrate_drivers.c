// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/ops/migrate_drivers.c — the variants of a migration as drivers (see
 * struct mig_driver in migrate_int.h): what S_MIGRATING and D_INCOMING do for each.
 *
 *   driver    S_MIGRATING                               D_INCOMING
 *   qmp       QMP migrate to the destination's URI      QMP migrate-incoming
 *   libvirt   libvirt peer-to-peer to the peer's        libvirt's Prepare starts the
 *             libvirt_uri [migrate_uri]                 domain: MIGRATE_READY at once
 *   virsh     libvirt's job migrates: MIGRATE_READY     the hook was answered: wait for
 *             to the hook's host, then follow QEMU      the domain to run
 *   reactive  QEMU migrates already: follow it          (as virsh: the domain runs)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host-agent/hostd/peer/peer_uri.h"
#include "migrate_int.h"

/* The migration is under way: bound it, and report its progress. */
static void migrating(struct mig *m, unsigned timeout_ms)
{
	loop_timer_arm(m->timer, timeout_ms);
	loop_timer_arm(m->progress, MIG_PROGRESS_MS);
}

/* QMP: the destination's QEMU listens where its launcher said; the URI QEMU connects to
 * is built here from the peer's configuration (peer_uri.h): never exec:/file: from a peer */
static int qmp_ready_uri(struct mig *m, const char *offer, char *err, size_t errlen)
{
	const struct peer_config *p = config_peer(&m->v->d->cfg, m->peer);

	if (!p) {
		(void)snprintf(err, errlen, "peer %s is not configured any more", m->peer);
		return -ENOENT;
	}
	return peer_migration_uri(p, offer, m->uri, sizeof(m->uri), err, errlen);
}

static void migrate_out(struct mig *m)
{
	struct vm *v = m->v;
	int rc = v->hvo->migrate_out(v->hv, m->uri, mig_hv_done, v);

	if (rc) {
		mig_fail_rc(m, rc, "migrate %s", m->uri);
		return;
	}
	m->migrate_sent = 1;
	migrating(m, MIG_MIGRATE_TIMEOUT_MS);
}

/* libvirt: peer-to-peer to the peer's libvirtd ("DCONNURI [MIGRATEURI]") */
static void libvirt_migrate_out(struct mig *m)
{
	const struct peer_config *p = config_peer(&m->v->d->cfg, m->peer);

	(void)snprintf(m->uri, sizeof(m->uri), "%s%s%s", p ? p->libvirt_uri : "",
		       p && p->migrate_uri[0] ? " " : "", p ? p->migrate_uri : "");
	migrate_out(m);
}

/* libvirt migrates (`virsh migrate`, or QEMU began on its own): we only answer the
 * hook's host, then follow QEMU's events like our own migration's */
static void follow_libvirt(struct mig *m)
{
	mig_send_incoming_ready(m);
	migrating(m, m->migrate_sent ? MIG_MIGRATE_TIMEOUT_MS : MIG_EXTERNAL_START_MS);
}

static void qmp_incoming(struct mig *m)
{
	struct vm *v = m->v;
	/* the QMP session may not be up yet: commands wait for the handshake */
	int rc = v->hvo->accept_incoming(v->hv, m->uri, mig_incoming_done, v);

	if (rc)
		mig_fail_rc(m, rc, "migrate-incoming");
}

/* libvirt runs the incoming side (its Prepare): the domain appears, runs or goes away */
static void libvirt_incoming(struct mig *m)
{
	struct hv_result ok;

	loop_timer_arm(m->timer, MIG_MIGRATE_TIMEOUT_MS);
	memset(&ok, 0, sizeof(ok));
	mig_incoming_done(m->v, &ok);   /* the source's libvirtd migrates once we answered */
}

/* `virsh migrate`: the hook was answered; libvirt goes on */
static void hook_incoming(struct mig *m)
{
	loop_timer_arm(m->timer, MIG_MIGRATE_TIMEOUT_MS);
}

const struct mig_driver mig_drv_qmp = {
	.driven_by = "hybond", .ready_uri = qmp_ready_uri, .migrate = migrate_out,
	.incoming = qmp_incoming,
};
const struct mig_driver mig_drv_libvirt = {
	.driven_by = "hybond", .libvirt = 1,
	.migrate = libvirt_migrate_out, .incoming = libvirt_incoming,
};
const struct mig_driver mig_drv_virsh = {
	.driven_by = "libvirt (virsh migrate)", .libvirt = 1, .external = 1,
	.migrate = follow_libvirt, .incoming = hook_incoming,
};
const struct mig_driver mig_drv_reactive = {
	.driven_by = "qemu (reactive: nobody warned this host)", .libvirt = 1, .external = 1,
	.reactive = 1, .migrate = follow_libvirt, .incoming = hook_incoming,
};

const struct mig_driver *mig_drv_hybond(const struct vm *v)
{
	return vm_config_libvirt(&v->cfg) ? &mig_drv_libvirt : &mig_drv_qmp;
}
