/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/peer/peer_uri.h — the migration URI the source's QEMU connects to,
 * built here from what the peer offers: the peer is untrusted (a destination that
 * answered `exec:sh -c …` would run a command on the source host through QEMU).
 */
#ifndef HYBOND_PEER_URI_H
#define HYBOND_PEER_URI_H

#include <stddef.h>

#include "host-agent/hostd/config.h"

/*
 * The URI for QMP `migrate` to peer p, from the peer's MIGRATE_READY offer:
 *   tcp:HOST:PORT   a peer reached over TCP (address set): only the PORT is taken
 *                   from the offer; HOST is the host of the peer's configured address
 *   tcp:IP:PORT     a local peer (socket set, the same machine): an IP literal
 *   unix:/PATH      a local peer only: an absolute path of plain characters
 * Anything else (exec:, file:, fd:, rdma:, a host name, a relative path, control
 * characters…) is refused.  0 with out set, or -EPERM with err saying what was
 * offered and what is accepted.
 */
int peer_migration_uri(const struct peer_config *p, const char *offer, char *out,
		       size_t outlen, char *err, size_t errlen);

#endif
