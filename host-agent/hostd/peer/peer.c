// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/peer/peer.c — daemon <-> daemon channel (see peer.h): connections,
 * framing, unix and TCP sockets.  The TLS parts (credentials, sessions,
 * certificate checks) are in peer_tls.c.
 *
 * Lifetime: the loop calls in through pc_io() and the TLS ticker; both
 * bracket their work with pc_enter()/pc_leave(), so a peer_conn_free() from
 * a callback only marks the connection dead and the outermost pc_leave()
 * frees it.  A send that fails outside those entry points (peer_send() from
 * the owner) is remembered in pend_err and ends the connection at the next
 * entry point, never inside the owner's call.
 *
 * Frames: a TLS connection of a daemon with a peer sentry (peer_tls_set_sentry) never
 * has its frames parsed here: the plaintext GnuTLS returns is written into a socketpair
 * the sentry reads (pc_forward), and what the sentry made of it comes back checked to
 * pc_from_sentry(), the third entry point. The unix peer socket (root-only, the tests')
 * and a daemon without sentry parse in pc_dispatch().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "host-agent/hostd/sentry/sentry.h"
#include "peer_int.h"

struct peer_listener {
	struct loop *l;
	int fd;
	const struct peer_ops *ops;
	void *arg;
	struct peer_tls *t;     /* NULL: unix socket */
	/* refusals are logged at most once a second, the rest counted into that line */
	uint64_t refused_s;     /* loop second of the last refusal line */
	unsigned refused_quiet; /* refusals not logged since */
};

/* ---- lifetime ------------------------------------------------------------------ */
static void pc_destroy(struct peer_conn *pc)
{
	if (pc->t)
		ptls_detach(pc);
	free(pc);
}

static void pc_teardown(struct peer_conn *pc)
{
	uint8_t sink[4096];
	int i;

	pc->dead = 1;
	if (pc->sid)                    /* the sentry closes its copy; nothing more comes */
		sentry_detach(pc->sn, pc->sid);
	pc->sid = 0;
	if (pc->sp >= 0) {
		(void)close(pc->sp);
		pc->sp = -1;
	}
	if (pc->fd >= 0) {
		loop_del_fd(pc->l, pc->fd);
		/* unread bytes make close() reset TCP, and the reset can destroy the alert
		 * just sent (e.g. "bad certificate") before the peer reads it */
		for (i = 0; pc->t && i < 16 && recv(pc->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
			;
		(void)close(pc->fd);
		pc->fd = -1;
	}
}

void pc_enter(struct peer_conn *pc)
{
	pc->in_cb++;
}

void pc_leave(struct peer_conn *pc)
{
	if (--pc->in_cb == 0 && pc->dead)
		pc_destroy(pc);
}

/* The first reason is kept: it is the one the operator needs. */
void pc_errf(struct peer_conn *pc, const char *fmt, ...)
{
	va_list ap;

	if (pc->err[0])
		return;
	va_start(ap, fmt);
	(void)vsnprintf(pc->err, sizeof(pc->err), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): va_start above */
	va_end(ap);
}

void pc_label(const struct peer_conn *pc, char *buf, size_t len)
{
	if (!pc->t)
		(void)snprintf(buf, len, "%s", pc->name);
	else if (pc->server && !pc->peer[0])
		(void)snprintf(buf, len, "%s", pc->where);
	else
		(void)snprintf(buf, len, "%s (%s)", pc->server ? pc->peer : pc->name, pc->where);
}

/* End the connection and tell the owner; only inside an entry point. */
void pc_close(struct peer_conn *pc, int err)
{
	if (pc->dead)
		return;
	pc_teardown(pc);
	if (pc->ops->on_closed)
		pc->ops->on_closed(pc->arg, pc, err);
}

/* ---- I/O ------------------------------------------------------------------------- */
static void pc_want(struct peer_conn *pc)
{
	unsigned ev = EPOLLIN;

	if (pc->dead || pc->rd_end)     /* rd_end: the fd is out of the loop */
		return;
	if (pc->state == PC_CONNECTING)
		ev = EPOLLOUT;
	else if (pc->state == PC_HANDSHAKE)
		ev = pc->hs_events;
	else if ((pc->out_len && !pc->pend_err) || (pc->pend_err && !pc->sid))
		ev |= EPOLLOUT;         /* (pend_err: to get to the next entry point) */
	(void)loop_mod_fd(pc->l, pc->fd, ev);
}

static ssize_t pc_write(struct peer_conn *pc, const void *buf, size_t len)
{
	char who[CFG_NAME_MAX + CFG_ADDR_MAX + 8];
	ssize_t n;

	if (pc->t)
		return ptls_send(pc, buf, len);
	n = send(pc->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EINTR)
		return -EAGAIN;
	pc_label(pc, who, sizeof(who));
	pc_errf(pc, "send to %s: %s", who, strerror(errno));
	return -errno;
}

static ssize_t pc_read(struct peer_conn *pc, void *buf, size_t len)
{
	char who[CFG_NAME_MAX + CFG_ADDR_MAX + 8];
	ssize_t n;

	if (pc->t)
		return ptls_recv(pc, buf, len);
	n = recv(pc->fd, buf, len, MSG_DONTWAIT);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EINTR)
		return -EAGAIN;
	pc_label(pc, who, sizeof(who));
	pc_errf(pc, "receive from %s: %s", who, strerror(errno));
	return -errno;
}

/* Write what the socket takes; a hard error is kept for the next entry point. */
static void pc_flush(struct peer_conn *pc)
{
	while (pc->out_len && !pc->pend_err && !pc->dead && pc->state == PC_OPEN) {
		ssize_t n = pc_write(pc, pc->out, pc->out_len);

		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			pc->pend_err = n < 0 ? (int)n : -EPIPE;
			/* read by the sentry, it is read on to its end (pc_send_failed), but
			 * not for longer than PEER_END_MS, also when this came from the
			 * owner outside an entry point (only a field: safe here) */
			if (pc->sid && !pc->deadline_ms)
				pc->deadline_ms = loop_now_ms() + PEER_END_MS;
			break;
		}
		(void)memmove(pc->out, pc->out + n, pc->out_len - (size_t)n);
		pc->out_len -= (size_t)n;
	}
	pc_want(pc);
}

int peer_send(struct peer_conn *pc, struct hb_msg *m)
{
	int n;

	if (pc->dead)
		return -ENOTCONN;
	if (pc->pend_err)
		return pc->pend_err;
	if (!m->seq)
		m->seq = hb_seq_next(&pc->seq);
	n = hb_encode(pc->out + pc->out_len, sizeof(pc->out) - pc->out_len, m);
	if (n < 0)
		return n == HB_E_NOSPC ? -ENOBUFS : -EINVAL;
	pc->out_len += (size_t)n;
	if (pc->state == PC_OPEN)       /* else queued until the handshake completes */
		pc_flush(pc);
	return pc->pend_err;
}

/* A frame that did not decode: a request is answered ERROR MALFORMED (a reply or an
 * ERROR never is: no answer loops). */
static void pc_reply_error(struct peer_conn *pc, const struct hb_hdr *h, int herr)
{
	uint8_t buf[512];
	int n;

	if ((h->flags & HB_F_REPLY) || h->type == HB_MSG_ERROR)
		return;
	n = hb_encode_error(buf, sizeof(buf), h, HB_ERR_MALFORMED, herr, hb_strerror(herr));
	if (n > 0 && pc->out_len + (size_t)n <= sizeof(pc->out)) {
		memcpy(pc->out + pc->out_len, buf, (size_t)n);
		pc->out_len += (size_t)n;
	}
}

/* Every complete frame in the stream: decoded and delivered, or answered MALFORMED. */
static void pc_dispatch(struct peer_conn *pc)
{
	struct hb_frame f;
	struct hb_msg m;
	size_t skipped;

	while (!pc->dead) {
		int rc = hb_stream_next(&pc->in, &f, &skipped);

		if (rc == 0)
			break;
		if (rc < 0)
			continue;       /* bad frame: the stream skipped it */
		rc = hb_msg_decode(&f, &m);
		if (rc < 0) {
			pc_reply_error(pc, &f.hdr, rc);
			continue;
		}
		pc->ops->on_msg(pc->arg, pc, &m);
	}
}

/* The end of a connection read by the peer sentry (the TLS stream ended, or a send
 * failed: @err): the frames that came before are still in the sentry; it reads them,
 * then the end (GC_IN_EOF), and the connection closes after the last one (a
 * MIGRATE_FINISHED and the close behind it must not swap places). A sentry that does not
 * get there within PEER_END_MS is not waited for (peer_tls_tick). */
static void pc_end_after_sentry(struct peer_conn *pc, int err)
{
	if (pc->rd_end)
		return;
	pc->rd_end = err;
	(void)shutdown(pc->sp, SHUT_WR);
	loop_del_fd(pc->l, pc->fd);
	if (!pc->deadline_ms)           /* a failed send may have started the clock */
		pc->deadline_ms = loop_now_ms() + PEER_END_MS;
}

/* A send failed (pend_err). Read by the sentry: what the peer sent before it went still
 * comes first, so the socket is read on to its end (then pc_end_after_sentry), within
 * PEER_END_MS (peer_tls_tick; pc_flush armed it). */
static void pc_send_failed(struct peer_conn *pc)
{
	if (!pc->sid)
		pc_close(pc, pc->pend_err);
}

/* The third entry point: what the peer sentry made of this connection's bytes, in
 * order; its messages checked (hb_msg_unpack) by sentry_link.c. */
static void pc_from_sentry(void *arg, const struct gc_in *in)
{
	struct peer_conn *pc = arg;
	char who[CFG_NAME_MAX + CFG_ADDR_MAX + 8];
	/* an errno from a sentry that lies is still an errno */
	int rc = in->rc > 0 && in->rc < 4096 ? in->rc : in->rc ? ECONNRESET : 0;

	if (pc->dead)
		return;
	pc_enter(pc);
	if (in->rate_dropped) {
		/* a reliable stream that lost frames is no use to an operation: say so
		 * (also when the count comes with the end: this is the reason then) */
		if (in->kind == GC_IN_EOF)
			pc->sid = 0;
		pc_label(pc, who, sizeof(who));
		pc->err[0] = 0;
		pc_errf(pc, "%s sent more than %u frames a second (burst %u): %llu dropped, "
			"connection closed", who, PEER_RATE_PER_S, PEER_BURST,
			(unsigned long long)in->rate_dropped);
		pc_close(pc, -EPROTO);
		pc_leave(pc);
		return;
	}
	switch (in->kind) {
	case GC_IN_MSG:
		pc->ops->on_msg(pc->arg, pc, in->msg);
		break;
	case GC_IN_MALFORMED:           /* answered as in pc_dispatch() */
		pc_reply_error(pc, &in->hdr, in->rc);
		break;
	case GC_IN_EOF:                 /* it closed its copy, or it died: the link is over */
		pc->sid = 0;
		if (pc->rd_end && rc != ECONNABORTED) {         /* every frame is through */
			pc_close(pc, pc->rd_end);
			break;
		}
		pc_label(pc, who, sizeof(who));
		if (rc == ECONNABORTED)
			pc_errf(pc, "the peer sentry reading %s died (see the journal): "
				"connection closed; the next use connects again", who);
		else
			pc_errf(pc, "the peer sentry stopped reading %s (%s): connection "
				"closed; the next use connects again", who,
				rc ? strerror(rc) : "the stream ended");
		pc_close(pc, -(rc ? rc : ECONNRESET));
		break;
	default:                        /* BAD (skipped, as pc_dispatch does), COUNTS */
		break;
	}
	if (!pc->dead && pc->out_len && !pc->rd_end)
		pc_flush(pc);
	if (!pc->dead && pc->pend_err)
		pc_send_failed(pc);
	pc_leave(pc);
}

/* A TLS connection from now on read by the peer sentry, if the daemon has one: 0, or a
 * negative errno (the sentry could not take it: the connection must not be read here). */
static int pc_use_sentry(struct peer_conn *pc)
{
	struct sentry *sn = pc->t ? ptls_sentry(pc->t) : NULL;
	int sv[2], sz = (int)PEER_SENTRY_BACKLOG, rc;

	if (!sn)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	/* what the sentry may fall behind by (an AF_UNIX stream counts queued bytes against
	 * the sender's buffer); past it the connection is a flood (pc_forward) */
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	rc = sentry_attach(sn, sv[1], PEER_RATE_PER_S, PEER_BURST, HB_PAYLOAD_MAX,
			   pc_from_sentry, pc, &pc->sid);
	(void)close(sv[1]);             /* the sentry has its own copy */
	if (rc < 0) {
		(void)close(sv[0]);
		pc->sid = 0;
		return rc;
	}
	pc->sn = sn;
	pc->sp = sv[0];
	return 0;
}

/* Decrypted bytes to the peer sentry, all of them or the connection closes. */
static int pc_forward(struct peer_conn *pc, const uint8_t *buf, size_t len)
{
	char who[CFG_NAME_MAX + CFG_ADDR_MAX + 8];
	ssize_t n = send(pc->sp, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	int rc;

	if (n == (ssize_t)len)
		return 0;
	rc = n >= 0 || errno == EAGAIN ? -ENOBUFS : -errno;
	pc_label(pc, who, sizeof(who));
	if (rc == -ENOBUFS)
		pc_errf(pc, "%s sends faster than the peer sentry reads (its buffer of about "
			"%u KiB is full): connection closed", who, PEER_SENTRY_BACKLOG / 1024u);
	else
		pc_errf(pc, "handing %s's frames to the peer sentry: %s: connection closed", who,
			strerror(-rc));
	pc_close(pc, rc);
	return rc;
}

static void pc_read_frames(struct peer_conn *pc)
{
	char who[CFG_NAME_MAX + CFG_ADDR_MAX + 8];

	/* GnuTLS may hold decrypted bytes the socket no longer signals: drain them */
	do {
		uint8_t plain[16384];   /* through the sentry: it never enters pc->in */
		size_t room = sizeof(plain);
		uint8_t *w = pc->sid ? plain : hb_stream_wptr(&pc->in, &room);
		ssize_t n;

		if (!room)
			break;
		n = pc_read(pc, w, room);
		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			pc_label(pc, who, sizeof(who));
			pc_errf(pc, "%s closed the connection", who);
			if (pc->sid) {  /* what came before the end is in the sentry */
				pc_end_after_sentry(pc, n < 0 ? (int)n : -ECONNRESET);
				return;
			}
			pc_close(pc, n < 0 ? (int)n : -ECONNRESET);
			return;
		}
		if (pc->sid) {
			if (pc_forward(pc, w, (size_t)n) < 0)
				return;
			continue;
		}
		hb_stream_commit(&pc->in, (size_t)n);
		pc_dispatch(pc);
	} while (!pc->dead && pc->t && ptls_pending(pc));
	if (!pc->dead && pc->out_len)
		pc_flush(pc);
}

/* ---- connect and handshake -------------------------------------------------------- */
static void pc_connected(struct peer_conn *pc)
{
	char who[CFG_NAME_MAX + CFG_ADDR_MAX + 8];
	socklen_t len = sizeof(int);
	int e = 0;

	if (getsockopt(pc->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		e = errno;
	if (e) {
		pc_label(pc, who, sizeof(who));
		pc_errf(pc, "connect to %s: %s (is hybond-hostd listening there: peer_listen?)",
			who, strerror(e));
		pc_close(pc, -e);
		return;
	}
	pc->state = PC_HANDSHAKE;
	pc->hs_events = EPOLLIN | EPOLLOUT;
}

static void pc_handshake(struct peer_conn *pc)
{
	unsigned ev = 0;
	int rc = ptls_handshake(pc, &ev);

	if (rc == -EAGAIN) {
		pc->hs_events = ev;
		pc_want(pc);
		return;
	}
	if (rc < 0) {
		pc_close(pc, rc);
		return;
	}
	pc->state = PC_OPEN;
	pc->deadline_ms = 0;
	if (pc->server)
		(void)snprintf(pc->name, sizeof(pc->name), "%s", pc->peer);
	rc = pc_use_sentry(pc);
	if (rc < 0) {
		char who[CFG_NAME_MAX + CFG_ADDR_MAX + 8];

		pc_label(pc, who, sizeof(who));
		pc_errf(pc, "the peer sentry cannot take the connection with %s: %s (it is being "
			"restarted? see the journal; the next use connects again)", who,
			strerror(-rc));
		pc_close(pc, rc);
		return;
	}
	if (pc->ops->on_ready)
		pc->ops->on_ready(pc->arg, pc);
	if (!pc->dead)
		pc_flush(pc);           /* what was queued during the handshake */
	if (!pc->dead)
		pc_read_frames(pc);     /* data that came with the last handshake flight */
}

static void pc_io(void *arg, unsigned events)
{
	struct peer_conn *pc = arg;

	pc_enter(pc);
	if (pc->state == PC_CONNECTING)
		pc_connected(pc);
	if (!pc->dead && pc->state == PC_HANDSHAKE) {
		pc_handshake(pc);
	} else if (!pc->dead) {
		if (events & EPOLLOUT)
			pc_flush(pc);
		if (!pc->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
			pc_read_frames(pc);
	}
	if (!pc->dead && pc->pend_err)
		pc_send_failed(pc);
	pc_leave(pc);
}

/* ---- constructors ------------------------------------------------------------------ */
struct peer_conn *peer_conn_new(struct loop *l, int fd, const struct peer_ops *ops, void *arg,
				const char *name)
{
	struct peer_conn *pc = calloc(1, sizeof(*pc));

	if (!pc) {
		(void)close(fd);
		return NULL;
	}
	pc->l = l;
	pc->fd = fd;
	pc->ops = ops;
	pc->arg = arg;
	pc->state = PC_OPEN;
	pc->sp = -1;
	(void)snprintf(pc->name, sizeof(pc->name), "%s", name);
	hb_stream_init(&pc->in);
	if (loop_add_fd(l, fd, EPOLLIN, pc_io, pc) < 0) {
		(void)close(fd);
		free(pc);
		return NULL;
	}
	return pc;
}

struct peer_conn *peer_connect(struct loop *l, const char *path, const struct peer_ops *ops,
			       void *arg, const char *name, int *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct peer_conn *pc;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		*err = -ENAMETOOLONG;
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		*err = -errno;
		if (fd >= 0)
			(void)close(fd);
		return NULL;
	}
	pc = peer_conn_new(l, fd, ops, arg, name);
	*err = pc ? 0 : -ENOMEM;
	return pc;
}

/* A TLS connection on fd (connected, or connecting when st is PC_CONNECTING). */
static struct peer_conn *pc_new_tls(struct loop *l, struct peer_tls *t, int fd, int server,
				    const struct peer_config *p, const char *where,
				    enum pc_state st, const struct peer_ops *ops, void *arg,
				    int *err)
{
	struct peer_conn *pc = calloc(1, sizeof(*pc));
	int rc = -ENOMEM;

	if (!pc)
		goto fail_fd;
	pc->l = l;
	pc->fd = fd;
	pc->ops = ops;
	pc->arg = arg;
	pc->server = server;
	pc->state = st;
	pc->sp = -1;
	pc->hs_events = EPOLLIN | EPOLLOUT;
	(void)snprintf(pc->where, sizeof(pc->where), "%s", where);
	(void)snprintf(pc->name, sizeof(pc->name), "%s", p ? p->name : where);
	if (p)
		(void)snprintf(pc->tls_name, sizeof(pc->tls_name), "%s", p->tls_name);
	hb_stream_init(&pc->in);
	pc->deadline_ms = loop_now_ms() + PEER_HANDSHAKE_TIMEOUT_MS;
	rc = ptls_attach(t, pc, l);
	if (rc)
		goto fail_pc;
	pc->t = t;
	rc = ptls_session_start(pc);
	if (rc)
		goto fail_pc;
	rc = loop_add_fd(l, fd, st == PC_CONNECTING ? EPOLLOUT : EPOLLIN | EPOLLOUT, pc_io, pc);
	if (rc)
		goto fail_pc;
	*err = 0;
	return pc;
fail_pc:
	pc_destroy(pc);
fail_fd:
	(void)close(fd);
	*err = rc;
	return NULL;
}

struct peer_conn *peer_tls_client(struct loop *l, struct peer_tls *t, int fd,
				  const struct peer_config *p, const char *where,
				  const struct peer_ops *ops, void *arg, int *err)
{
	return pc_new_tls(l, t, fd, 0, p, where, PC_HANDSHAKE, ops, arg, err);
}

struct peer_conn *peer_tls_server(struct loop *l, struct peer_tls *t, int fd, const char *where,
				  const struct peer_ops *ops, void *arg, int *err)
{
	return pc_new_tls(l, t, fd, 1, NULL, where, PC_HANDSHAKE, ops, arg, err);
}

static void tcp_nodelay(int fd)
{
	int one = 1;

	/* MIGRATE_STOPPED is on the STOP -> announce path: no Nagle delay */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

struct peer_conn *peer_connect_to(struct loop *l, struct peer_tls *t, const struct peer_config *p,
				  const struct peer_ops *ops, void *arg, int *err)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	char why[160];
	int fd, rc;

	if (!config_peer_tls(p))
		return peer_connect(l, p->socket, ops, arg, p->name, err);
	if (!t) {
		*err = -ENOPKG;         /* the daemon loads the credentials when a peer uses TLS */
		return NULL;
	}
	if (config_parse_hostport(p->address, &sa, &salen, NULL, 0, why, sizeof(why))) {
		*err = -EINVAL;
		return NULL;
	}
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	tcp_nodelay(fd);
	rc = connect(fd, (struct sockaddr *)&sa, salen);
	if (rc < 0 && errno != EINPROGRESS) {
		*err = -errno;
		(void)close(fd);
		return NULL;
	}
	return pc_new_tls(l, t, fd, 0, p, p->address, rc == 0 ? PC_HANDSHAKE : PC_CONNECTING,
			  ops, arg, err);
}

/* Closing from a callback is deferred: the outermost entry point frees. */
void peer_conn_free(struct peer_conn *pc)
{
	if (!pc)
		return;
	if (!pc->dead) {
		if (pc->t && pc->state == PC_OPEN)
			ptls_bye(pc);
		pc_teardown(pc);
	}
	if (!pc->in_cb)
		pc_destroy(pc);
}

/* ---- accessors ------------------------------------------------------------------- */
void peer_conn_set_arg(struct peer_conn *pc, void *arg)
{
	pc->arg = arg;
}

const char *peer_conn_name(const struct peer_conn *pc)
{
	return pc->name;
}

const char *peer_conn_peer(const struct peer_conn *pc)
{
	return pc->t && pc->state == PC_OPEN && pc->peer[0] ? pc->peer : NULL;
}

const char *peer_conn_error(const struct peer_conn *pc)
{
	return pc->err;
}

const char *peer_conn_tls_info(const struct peer_conn *pc)
{
	return pc->t && pc->state == PC_OPEN ? pc->info : "";
}

int peer_check_source(const struct peer_conn *pc, uint16_t type, const char *source, char *err,
		      size_t errlen)
{
	const char *who = peer_conn_peer(pc);

	if (!pc->t)
		return 0;       /* unix socket: root-only path, no identity to compare */
	if (who && !strcmp(who, source))
		return 0;
	(void)snprintf(err, errlen, "%s from %s names %s host '%.64s', but its TLS certificate "
		       "authenticates peer %s", hb_msg_name(type), pc->where,
		       type == HB_MSG_MIGRATE_INCOMING ? "destination" : "source", source,
		       who ? who : "(none)");
	return -EPERM;
}

/* ---- listeners ----------------------------------------------------------------------- */
static void pl_log(struct peer_listener *pl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void pl_log(struct peer_listener *pl, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!pl->ops->on_log)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): va_start above */
	va_end(ap);
	pl->ops->on_log(pl->arg, msg);
}

static void sa_text(const struct sockaddr_storage *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;

		(void)inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		(void)snprintf(buf, len, "[%s]:%u", ip, ntohs(a->sin6_port));
	} else if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;

		(void)inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		(void)snprintf(buf, len, "%s:%u", ip, ntohs(a->sin_port));
	} else {
		(void)snprintf(buf, len, "?");
	}
}

/* A refused connection: one line a second at most (a flood must not flood the journal). */
static void pl_refused(struct peer_listener *pl, const char *where, const char *why)
{
	uint64_t s = loop_now_ms() / 1000u;

	if (s == pl->refused_s) {
		pl->refused_quiet++;
		return;
	}
	pl->refused_s = s;
	if (pl->refused_quiet)
		pl_log(pl, "refused a peer connection from %s: %s (and %u more since the last "
		       "such line)", where, why, pl->refused_quiet);
	else
		pl_log(pl, "refused a peer connection from %s: %s", where, why);
	pl->refused_quiet = 0;
}

static void pl_accept(void *arg, unsigned events)
{
	struct peer_listener *pl = arg;
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);
	char where[CFG_ADDR_MAX];
	int fd, err;

	(void)events;
	memset(&sa, 0, sizeof(sa));
	fd = accept4(pl->fd, (struct sockaddr *)&sa, &salen, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (!pl->t) {
		peer_conn_new(pl->l, fd, pl->ops, pl->arg, "peer");
		return;
	}
	sa_text(&sa, where, sizeof(where));
	if (peer_tls_admit(pl->t, &sa)) {
		/* nobody configured there: no TLS handshake to spend on it */
		(void)close(fd);
		pl_refused(pl, where, "not the address of a configured [peer] (hostd.conf)");
		return;
	}
	tcp_nodelay(fd);
	if (!peer_tls_server(pl->l, pl->t, fd, where, pl->ops, pl->arg, &err))
		pl_refused(pl, where, err == -EMFILE ? "too many peer connections open "
			   "(PEER_MAX_CONNS)" : err == -EBUSY ? "too many handshakes in progress "
			   "(PEER_MAX_HANDSHAKES, PEER_MAX_HANDSHAKES_PER_IP)" : strerror(-err));
}

static int pl_new(struct loop *l, int fd, struct peer_tls *t, const struct peer_ops *ops,
		  void *arg, struct peer_listener **out)
{
	struct peer_listener *pl = calloc(1, sizeof(*pl));
	int rc;

	if (!pl) {
		(void)close(fd);
		return -ENOMEM;
	}
	pl->l = l;
	pl->fd = fd;
	pl->ops = ops;
	pl->arg = arg;
	pl->t = t;
	rc = loop_add_fd(l, fd, EPOLLIN, pl_accept, pl);
	if (rc) {
		(void)close(fd);
		free(pl);
	} else if (out) {
		*out = pl;
	}
	return rc;   /* without out, the listener lives as long as the daemon */
}

void peer_listener_free(struct peer_listener *pl)
{
	if (!pl)
		return;
	loop_del_fd(pl->l, pl->fd);
	(void)close(pl->fd);
	free(pl);
}

int peer_listen(struct loop *l, const char *path, const struct peer_ops *ops, void *arg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	(void)unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 8) < 0) {
		rc = -errno;
		(void)close(fd);
		return rc;
	}
	return pl_new(l, fd, NULL, ops, arg, NULL);
}

int peer_listen_tcp(struct loop *l, struct peer_tls *t, const char *addr,
		    const struct peer_ops *ops, void *arg, struct peer_listener **out,
		    char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	char why[160];
	int fd, rc, one = 1;

	if (config_parse_hostport(addr, &sa, &salen, NULL, 0, why, sizeof(why))) {
		(void)snprintf(err, errlen, "peer_listen %s", why);
		return -EINVAL;
	}
	if (!t) {
		(void)snprintf(err, errlen, "peer_listen %s: no TLS credentials loaded", addr);
		return -EINVAL;
	}
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = -errno;
		(void)snprintf(err, errlen, "peer_listen %s: socket: %s", addr, strerror(-rc));
		return rc;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, salen) < 0 || listen(fd, 16) < 0) {
		rc = -errno;
		(void)snprintf(err, errlen, "peer_listen %s: %s (%s)", addr, strerror(-rc),
			       rc == -EADDRNOTAVAIL ? "not an address of this host"
			       : rc == -EADDRINUSE ? "another process listens there"
			       : "check the address and port");
		(void)close(fd);
		return rc;
	}
	rc = pl_new(l, fd, t, ops, arg, out);
	if (rc)
		(void)snprintf(err, errlen, "peer_listen %s: %s", addr, strerror(-rc));
	return rc;
}
