/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/peer/peer_int.h — what peer.c (connections, framing, sockets) and
 * peer_tls.c (GnuTLS credentials, sessions, certificate checks) share.
 * Not for other modules: they use peer.h.
 */
#ifndef HYBOND_PEER_INT_H
#define HYBOND_PEER_INT_H

#include <gnutls/gnutls.h>
#include <sys/types.h>

#include "host-agent/hostd/config.h"
#include "peer.h"

#define PTLS_NAMES_MAX 160

enum pc_state {
	PC_OPEN,                /* frames flow (unix: from the start) */
	PC_CONNECTING,          /* TCP connect in progress */
	PC_HANDSHAKE,           /* TLS handshake in progress */
};

struct peer_conn {
	struct loop *l;
	int fd;
	const struct peer_ops *ops;
	void *arg;
	char name[CFG_NAME_MAX + 1];
	uint32_t seq;
	struct hb_stream in;
	uint8_t out[PEER_OUT_MAX];
	size_t out_len;
	int dead;               /* fd closed, no more callbacks */
	int in_cb;              /* entry points on the stack: free is deferred */
	int pend_err;           /* a send failed outside an entry point: closed at the next one */
	/* TCP + TLS (t == NULL: a unix socket) */
	enum pc_state state;
	unsigned hs_events;     /* what the handshake waits for (EPOLLIN / EPOLLOUT) */
	int verr;               /* the certificate check's verdict (negative errno) */
	int server;
	struct peer_tls *t;
	gnutls_session_t s;
	gnutls_certificate_credentials_t cred;  /* the session's: retired ones outlive it */
	size_t inflight;        /* bytes of out[] given to gnutls_record_send, which said AGAIN */
	uint64_t deadline_ms;   /* end of connect + handshake; 0 once open */
	char where[CFG_ADDR_MAX];          /* the other end's IP:PORT */
	char tls_name[CFG_DNS_MAX + 1];    /* client: the identity expected in the server cert */
	char peer[CFG_NAME_MAX + 1];       /* the configured [peer] it authenticated as */
	char err[PEER_ERR_MAX];
	char cert_names[PTLS_NAMES_MAX];   /* "CN=…, DNS:…, IP:…" of the peer's certificate */
	char info[PEER_INFO_MAX];
	struct peer_conn *next, **pprev;   /* in t->conns */
	/* read by the peer sentry (sid != 0): the plaintext goes into sp, the sentry's
	 * results come back to pc_from_sentry() */
	struct sentry *sn;
	uint32_t sid;
	int sp;
	int rd_end;             /* the stream ended (its error), but the sentry still hands
				 * back what came before: closed at its GC_IN_EOF */
};

/* peer_tls.c, for peer.c */
int ptls_attach(struct peer_tls *t, struct peer_conn *pc, struct loop *l);
void ptls_detach(struct peer_conn *pc);
int ptls_session_start(struct peer_conn *pc);
int ptls_handshake(struct peer_conn *pc, unsigned *events);
ssize_t ptls_recv(struct peer_conn *pc, void *buf, size_t len);
ssize_t ptls_send(struct peer_conn *pc, const void *buf, size_t len);
int ptls_pending(struct peer_conn *pc);
void ptls_bye(struct peer_conn *pc);
struct sentry *ptls_sentry(const struct peer_tls *t);
/* "B (198.19.250.2:16515)", or only the address before the peer is known */
void pc_label(const struct peer_conn *pc, char *buf, size_t len);

/* peer.c, for peer_tls.c */
void pc_close(struct peer_conn *pc, int err);
void pc_errf(struct peer_conn *pc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pc_enter(struct peer_conn *pc);
void pc_leave(struct peer_conn *pc);

#endif
