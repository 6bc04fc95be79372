/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/peer/peer_check.h — is the peer channel to a configured peer up?
 * Connect (unix, or TCP + mutual TLS), PING, wait for the PONG, report the
 * channel ("ok, TLS1.3, AES-256-GCM, peer cert CN=hb-b (3 ms)") or why not
 * (the TLS error text).  No VM is involved.
 *
 *   control socket: {"cmd":"peer-check","peer":"B"} (pcheck_start)
 *     -> {"ok":true,"peer":"B","transport":"tls","where":"198.19.250.2:16515",
 *         "tls":"TLS1.3, …","ms":3,"text":"ok, TLS1.3, … (3 ms)"}
 *     or {"ok":false,"peer":"B","error":"TLS handshake with B (…): …"}
 *   hybond-hostd -c FILE --peer-check B   (the same, printed; no daemon needed)
 */
#ifndef HYBOND_PEER_CHECK_H
#define HYBOND_PEER_CHECK_H

#include <stddef.h>

#define PCHECK_TIMEOUT_MS 15000u  /* > PEER_HANDSHAKE_TIMEOUT_MS: that error comes first */

#include "host-agent/hostd/ops/op.h"

struct hostd;

/* Check PEER; the verdict (the JSON above) goes to sink's finish(), now or later. */
void pcheck_start(struct hostd *d, const char *peer, const struct op_sink *sink);
/* The listener behind arg went away: its pending checks end without answering. */
void pcheck_sink_gone(const void *arg);
/* Run one check on d->l until it is answered: 0 ok, or negative errno; text in out. */
int pcheck_run(struct hostd *d, const char *peer, char *out, size_t outlen);

#endif
