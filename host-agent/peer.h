/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/peer.h — the channel between two hybond-hostd (source and
 * destination of a migration): a unix stream socket carrying libhybond-proto
 * frames (MIGRATE_* messages, docs/protocol.md).  Everything received goes
 * through hb_stream + hb_msg_decode; a frame that does not decode is answered
 * ERROR MALFORMED and counted; the other side is validated like a guest.
 * (TCP + mutual TLS between real hosts is not implemented yet.)
 */
#ifndef HYBOND_PEER_H
#define HYBOND_PEER_H

#include <stddef.h>
#include <stdint.h>

#include <hybond/proto.h>

#include "loop.h"

#define PEER_OUT_MAX (64u * 1024u)

struct peer_conn;

struct peer_ops {
	/* one valid message; strings valid during the call */
	void (*on_msg)(void *arg, struct peer_conn *pc, const struct hb_msg *m);
	/* the connection is gone (freed right after this returns) */
	void (*on_closed)(void *arg, struct peer_conn *pc, int err);
};

/* Accepted or connected; takes the fd. */
struct peer_conn *peer_conn_new(struct loop *l, int fd, const struct peer_ops *ops, void *arg,
				const char *name);
/* Connect (blocking connect on a local unix socket: it answers or refuses at once). */
struct peer_conn *peer_connect(struct loop *l, const char *path, const struct peer_ops *ops,
			       void *arg, const char *name, int *err);
void peer_conn_free(struct peer_conn *pc);
/* Encode and queue; m->seq 0 gets the next sequence number.  0 or negative errno. */
int peer_send(struct peer_conn *pc, struct hb_msg *m);
void peer_conn_set_arg(struct peer_conn *pc, void *arg);
const char *peer_conn_name(const struct peer_conn *pc);

/* Listening socket: accepted connections get ops/arg. */
int peer_listen(struct loop *l, const char *path, const struct peer_ops *ops, void *arg);

#endif
