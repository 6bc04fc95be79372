/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/peer_route.h — where a peer daemon's messages go (peer_route.c): the
 * peer_ops of every peer connection the daemon accepts or opens for a listener.
 */
#ifndef HYBOND_PEER_ROUTE_H
#define HYBOND_PEER_ROUTE_H

#include "hostd.h"
#include "host-agent/hostd/peer/peer.h"

/* The daemon whose VMs the routed messages name (before listening). */
void peer_route_init(struct hostd *d);
extern const struct peer_ops hostd_peer_ops;

#endif
