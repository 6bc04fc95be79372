// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/peer_route.c — a peer daemon's message to the operation it belongs to:
 * on the connection of a running migration, to that VM's operation; a MIGRATE_PREPARE
 * (or, libvirt, MIGRATE_INCOMING) from a peer that is who it claims, to a new operation
 * of the registered VM it names; a PING (peer-check) answered; anything else refused
 * with an ERROR. The peer channel (peer/) has decoded and validated the frame.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host-agent/hostd/ops/migrate.h"
#include "host-agent/hostd/peer/peer.h"
#include "host-agent/hostd/peer/peer_check.h"
#include "peer_route.h"
#include "registry.h"
#include "vm.h"

static struct hostd *g_d;

void peer_route_init(struct hostd *d)
{
	g_d = d;
}

static void reply_error(struct peer_conn *pc, const struct hb_msg *req, uint32_t code,
			const char *text)
{
	struct hb_msg e;

	hb_msg_init_reply(&e, HB_MSG_ERROR, req);
	e.u.error.code = code;
	e.u.error.text = text;
	e.u.error.req_type = req->type;
	HB_MARK(&e.u.error, ERROR, REQ_TYPE);
	peer_send(pc, &e);
}

static void hd_peer_msg(void *arg, struct peer_conn *pc, const struct hb_msg *m)
{
	struct vm *v = arg;
	char err[PEER_ERR_MAX];

	if (m->type == HB_MSG_PING && !(m->flags & HB_F_REPLY)) {      /* peer-check */
		struct hb_msg r;

		hb_msg_init_reply(&r, HB_MSG_PONG, m);
		r.u.pong.token = m->u.ping.token;
		(void)peer_send(pc, &r);
		return;
	}
	if (v) {        /* the connection of the VM's migration */
		if (v->op && v->op->ops->on_peer_msg)
			v->op->ops->on_peer_msg(v, pc, m);
		return;
	}
	if (m->type == HB_MSG_MIGRATE_INCOMING) {
		/* libvirt: the destination's qemu hook runs at Prepare; we are the source */
		if (peer_check_source(pc, m->type, m->u.migrate_incoming.dest, err, sizeof(err))) {
			hlog(HLOG_WARN, "refused: %s", err);
			reply_error(pc, m, HB_ERR_UNEXPECTED, err);
			return;
		}
		v = hostd_vm(g_d, m->u.migrate_incoming.vm);
		if (!v) {
			(void)snprintf(err, sizeof(err), "no VM '%s' registered on %s",
				       m->u.migrate_incoming.vm, g_d->cfg.host);
			reply_error(pc, m, HB_ERR_UNKNOWN_PAIR, err);
			return;
		}
		if (mig_start_source_incoming(v, pc, m, err, sizeof(err))) {
			hlog(HLOG_WARN, "refused MIGRATE_INCOMING from %s: %s",
			     m->u.migrate_incoming.dest, err);
			reply_error(pc, m, HB_ERR_BUSY, err);
		}
		return;
	}
	if (m->type != HB_MSG_MIGRATE_PREPARE) {
		if (!(m->flags & HB_F_REPLY) && m->type != HB_MSG_ERROR)
			reply_error(pc, m, HB_ERR_UNEXPECTED, "MIGRATE_PREPARE first");
		return;
	}
	/* TLS: the certificate says who the peer is; SOURCE must not claim another host */
	if (peer_check_source(pc, m->type, m->u.migrate_prepare.source, err, sizeof(err))) {
		hlog(HLOG_WARN, "refused: %s", err);
		reply_error(pc, m, HB_ERR_UNEXPECTED, err);
		return;
	}
	v = hostd_vm(g_d, m->u.migrate_prepare.vm);
	if (!v) {
		(void)snprintf(err, sizeof(err), "no VM '%s' registered on %s", m->u.migrate_prepare.vm,
			 g_d->cfg.host);
		reply_error(pc, m, HB_ERR_UNKNOWN_PAIR, err);
		return;
	}
	if (mig_start_dest(v, pc, m, err, sizeof(err))) {
		hlog(HLOG_WARN, "refused MIGRATE_PREPARE from %s: %s", m->u.migrate_prepare.source, err);
		reply_error(pc, m, HB_ERR_BUSY, err);
	}
}

static void hd_peer_closed(void *arg, struct peer_conn *pc, int err)
{
	struct vm *v = arg;
	const char *who = peer_conn_peer(pc), *why = peer_conn_error(pc);

	if (v) {        /* the connection of the VM's migration (if it still runs) */
		if (v->op && v->op->ops->on_peer_closed)
			v->op->ops->on_peer_closed(v, pc, err);
	} else if (!who && why[0])        /* never authenticated: connect / TLS refused */
		hlog(HLOG_WARN, "peer channel: %s", why);
	else
		hlog(HLOG_DEBUG, "peer %s: connection closed (%s)", peer_conn_name(pc),
		     why[0] ? why : strerror(err < 0 ? -err : 0));
}

static void hd_peer_ready(void *arg, struct peer_conn *pc)
{
	(void)arg;
	hlog(HLOG_INFO, "peer %s authenticated: %s", peer_conn_name(pc), peer_conn_tls_info(pc));
}

static void hd_peer_log(void *arg, const char *msg)
{
	(void)arg;
	hlog(HLOG_WARN, "peer channel: %s", msg);
}

const struct peer_ops hostd_peer_ops = { .on_msg = hd_peer_msg, .on_closed = hd_peer_closed,
					.on_ready = hd_peer_ready, .on_log = hd_peer_log };
