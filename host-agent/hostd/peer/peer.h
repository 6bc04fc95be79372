/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/peer/peer.h — the channel between two hybond-hostd (source and
 * destination of a migration) carrying libhybond-proto frames (MIGRATE_*
 * messages, docs/protocol.md): a unix stream socket in the lab, TCP with
 * mutual TLS (GnuTLS) between hosts (docs/peer-tls.md).  Everything
 * received goes through hb_stream + hb_msg_decode; a frame that does not
 * decode is answered ERROR MALFORMED and counted; the other side is
 * validated like a guest.
 *
 * TLS: both sides present a certificate signed by tls_ca and verify the
 * other's.  The client checks that the server certificate names the [peer]'s
 * tls_name; the server accepts a client only if its certificate names the
 * tls_name of a configured [peer], and records which (peer_conn_peer()).
 * Connect and handshake are non-blocking, in the daemon's one loop, bounded
 * by PEER_HANDSHAKE_TIMEOUT_MS; frames sent before the handshake completes
 * are queued.  A failed connect or handshake ends in on_closed(-errno) with
 * the reason in peer_conn_error().
 */
#ifndef HYBOND_PEER_H
#define HYBOND_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <hybond/proto.h>

#include "host-agent/common/loop.h"

#define PEER_OUT_MAX (64u * 1024u)
#define PEER_HANDSHAKE_TIMEOUT_MS 10000u  /* TCP connect + TLS handshake */
#define PEER_MAX_CONNS 16u                /* TLS connections open at once (both ways) */
#define PEER_MAX_HANDSHAKES 4u            /* accepted connections still in their handshake */
#define PEER_MAX_HANDSHAKES_PER_IP 2u     /* ... from one address */
#define PEER_ERR_MAX 512
#define PEER_INFO_MAX 256
/* Through the peer sentry (peer_tls_set_sentry): frames a connection may send per second
 * and in a burst (a migration exchanges ~10, an evacuation ~10 per VM), and the decrypted
 * bytes the sentry may fall behind by before the connection is closed as a flood. */
#define PEER_RATE_PER_S 5000u
#define PEER_BURST 1024u
#define PEER_SENTRY_BACKLOG 262144u       /* 256 KiB asked (SO_SNDBUF; the kernel doubles
					   * it for its bookkeeping) */
/* A connection whose stream ended waits this long for the peer sentry's last frames. */
#define PEER_END_MS 5000u

struct peer_conn;
struct peer_tls;
struct peer_listener;
struct hostd_config;
struct peer_config;
struct sentry;

struct peer_ops {
	/* one valid message; strings valid during the call */
	void (*on_msg)(void *arg, struct peer_conn *pc, const struct hb_msg *m);
	/* the connection is gone (freed right after this returns); the reason of a
	 * failed connect / handshake / TLS session is in peer_conn_error() */
	void (*on_closed)(void *arg, struct peer_conn *pc, int err);
	/* optional: the TLS handshake completed and the peer is authenticated.  With
	 * TLS 1.3 the server's verdict on OUR certificate can still come after this
	 * (as an alert: on_closed). */
	void (*on_ready)(void *arg, struct peer_conn *pc);
	/* optional, listeners: a connection refused before it had a peer_conn */
	void (*on_log)(void *arg, const char *msg);
};

/* Accepted or connected unix socket; takes the fd. */
struct peer_conn *peer_conn_new(struct loop *l, int fd, const struct peer_ops *ops, void *arg,
				const char *name);
/* Connect (blocking connect on a local unix socket: it answers or refuses at once). */
struct peer_conn *peer_connect(struct loop *l, const char *path, const struct peer_ops *ops,
			       void *arg, const char *name, int *err);
/*
 * Connect to a configured peer: its unix socket, or TCP + TLS (t from
 * peer_tls_new(); may be NULL when no peer uses TLS).  NULL with *err when it
 * fails at once; a TLS connection is returned while it connects and its
 * failure comes later through on_closed.
 */
struct peer_conn *peer_connect_to(struct loop *l, struct peer_tls *t, const struct peer_config *p,
				  const struct peer_ops *ops, void *arg, int *err);
/* Closing from a callback is deferred; no on_closed follows. */
void peer_conn_free(struct peer_conn *pc);
/* Encode and queue; m->seq 0 gets the next sequence number.  0 or negative errno. */
int peer_send(struct peer_conn *pc, struct hb_msg *m);
void peer_conn_set_arg(struct peer_conn *pc, void *arg);
/* The [peer] name (TLS server side: the address until the peer authenticated). */
const char *peer_conn_name(const struct peer_conn *pc);
/* The configured [peer] the TLS certificate authenticated; NULL on a unix socket
 * or before the handshake completed. */
const char *peer_conn_peer(const struct peer_conn *pc);
/* Why the connection failed or ended ("" if no reason is known). */
const char *peer_conn_error(const struct peer_conn *pc);
/* "TLS1.3, AES-256-GCM, peer cert CN=hb-b" once the handshake completed, else "". */
const char *peer_conn_tls_info(const struct peer_conn *pc);
/*
 * A MIGRATE_PREPARE's SOURCE must be the peer its certificate authenticated
 * (unix sockets: no identity, accepted).  0, or -EPERM with err set.
 */
int peer_check_source(const struct peer_conn *pc, uint16_t type, const char *source, char *err,
		      size_t errlen);

/* Listening unix socket: accepted connections get ops/arg. */
int peer_listen(struct loop *l, const char *path, const struct peer_ops *ops, void *arg);
/* Listening TCP socket, "IPv4:PORT" or "[IPv6]:PORT"; every connection is TLS.
 * 0 and *out (close it with peer_listener_free), or negative errno with err set. */
int peer_listen_tcp(struct loop *l, struct peer_tls *t, const char *addr,
		    const struct peer_ops *ops, void *arg, struct peer_listener **out,
		    char *err, size_t errlen);
void peer_listener_free(struct peer_listener *pl);
/* May a TCP connection from sa be accepted: the address of a configured peer?  0, or
 * -EPERM (nobody configured there: closed before any TLS). */
int peer_tls_admit(const struct peer_tls *t, const struct sockaddr_storage *sa);

/*
 * TLS credentials (tls_ca, tls_cert, tls_key, tls_crl, tls_priority) and the
 * identities of the configured TLS peers, once per daemon.  Checks that the
 * files are readable, that our certificate is signed by tls_ca, valid and
 * usable for TLS client and server.  0, or negative errno with err saying
 * what to fix; warn (may be set on success) e.g. for a group-readable key.
 */
int peer_tls_new(const struct hostd_config *c, struct peer_tls **out, char *err, size_t errlen,
		 char *warn, size_t warnlen);
/*
 * SIGHUP: tls_ca, tls_crl, tls_cert and tls_key (c's paths) read again and checked as
 * at start; new connections use them, connections already open keep theirs. On an
 * error (err) the credentials in force stay. -EBUSY after PTLS_MAX_RETIRED reloads
 * while connections older than all of them are still open.
 */
int peer_tls_reload(struct peer_tls *t, const struct hostd_config *c, char *err, size_t errlen,
		    char *warn, size_t warnlen);
/* Frees the connections still open (no callbacks), then the credentials. */
void peer_tls_free(struct peer_tls *t);
/* TLS connections that complete their handshake from now on are read by @s (a sentry of
 * role SENTRY_PEERS, sentry/sentry.h): the daemon decrypts and writes the plaintext into
 * a socketpair whose other end the sentry reads, decodes and hands back checked; no
 * frame is parsed in the daemon. NULL: the daemon parses them itself (the unix peer
 * socket always is). A connection the sentry cannot take is closed. */
void peer_tls_set_sentry(struct peer_tls *t, struct sentry *s);
/* Handshake deadlines: the loop calls it every turn (ms to the next, -1: none);
 * tests call it with their own clock. */
int peer_tls_tick(struct peer_tls *t, uint64_t now_ms);
/* A connected fd (tests: a socketpair) as the TLS client to p, or the server. */
struct peer_conn *peer_tls_client(struct loop *l, struct peer_tls *t, int fd,
				  const struct peer_config *p, const char *where,
				  const struct peer_ops *ops, void *arg, int *err);
struct peer_conn *peer_tls_server(struct loop *l, struct peer_tls *t, int fd, const char *where,
				  const struct peer_ops *ops, void *arg, int *err);

#endif
