// SPDX-License-Identifier: LGPL-2.1-or-later
/* probe_echo.c — hybond-probe udp-echo: the responder.
 *
 * Meant to run inside a minimal guest: no configuration, no files, libc only,
 * fixed memory (a session table and one batch of buffers). Every datagram is
 * validated (length, magic, version, type); anything else is ignored. Each
 * client session (random 64-bit id) gets its own counters: requests received and
 * replies sent, which go back in every reply so the client can tell in which
 * direction a packet was lost. Runs until killed.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe_net.h"
#include "probe_wire.h"

#define ECHO_BATCH    32
#define ECHO_SESSIONS 256
#define ECHO_BUFLEN   2048

struct session {
	uint64_t id;
	uint64_t rx;   /* requests received */
	uint64_t tx;   /* replies sent */
	uint64_t used; /* last use tick, 0 = free */
};

struct echo {
	struct session sess[ECHO_SESSIONS];
	uint64_t tick;
	struct mmsghdr in[ECHO_BATCH], out[ECHO_BATCH];
	struct iovec iov_in[ECHO_BATCH], iov_out[ECHO_BATCH];
	struct sockaddr_storage peer[ECHO_BATCH];
	uint8_t buf[ECHO_BATCH][ECHO_BUFLEN];
};

/* The session's entry; a new one replaces the least recently used. */
static struct session *session_get(struct echo *e, uint64_t id)
{
	struct session *lru = &e->sess[0];
	e->tick++;
	for (size_t i = 0; i < ECHO_SESSIONS; i++) {
		struct session *s = &e->sess[i];
		if (s->used && s->id == id) {
			s->used = e->tick;
			return s;
		}
		if (s->used < lru->used)
			lru = s;
	}
	lru->id = id;
	lru->rx = 0;
	lru->tx = 0;
	lru->used = e->tick;
	return lru;
}

static int open_listen(const struct hbp_addr *a, int quiet)
{
	int fd = -1;
	int sz = 4 * 1024 * 1024;

	if (a->ss.ss_family == AF_UNSPEC) {
		/* Wildcard: dual-stack if the kernel has IPv6, else IPv4. */
		uint16_t port = ((const struct sockaddr_in *)&a->ss)->sin_port;
		fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd >= 0) {
			int off = 0;
			struct sockaddr_in6 s6;
			memset(&s6, 0, sizeof(s6));
			s6.sin6_family = AF_INET6;
			s6.sin6_port = port;
			s6.sin6_addr = in6addr_any;
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
			if (bind(fd, (struct sockaddr *)&s6, sizeof(s6)) < 0) {
				(void)close(fd);
				fd = -1;
			}
		}
		if (fd < 0) {
			struct sockaddr_in s4;
			memset(&s4, 0, sizeof(s4));
			s4.sin_family = AF_INET;
			s4.sin_port = port;
			s4.sin_addr.s_addr = htonl(INADDR_ANY);
			fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			if (fd < 0 || bind(fd, (struct sockaddr *)&s4, sizeof(s4)) < 0) {
				(void)fprintf(stderr, "hybond-probe: udp-echo: --listen %s: %s\n",
					      a->text, strerror(errno));
				if (fd >= 0)
					(void)close(fd);
				return -1;
			}
		}
	} else {
		fd = socket(a->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
			(void)fprintf(stderr, "hybond-probe: udp-echo: --listen %s: %s\n", a->text,
				      strerror(errno));
			if (fd >= 0)
				(void)close(fd);
			return -1;
		}
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)) < 0 && !quiet)
		(void)fprintf(stderr, "hybond-probe: udp-echo: SO_RCVBUF: %s\n", strerror(errno));
	return fd;
}

int hbp_run_echo(const struct hbp_echo_opts *o)
{
	struct echo *e = calloc(1, sizeof(*e));
	if (!e) {
		(void)fprintf(stderr, "hybond-probe: udp-echo: out of memory\n");
		return HBP_EXIT_RUNTIME;
	}
	int fd = open_listen(&o->listen, o->quiet);
	if (fd < 0) {
		free(e);
		return HBP_EXIT_RUNTIME;
	}
	if (!o->quiet)
		(void)fprintf(stderr, "hybond-probe: udp-echo listening on %s\n", o->listen.text);

	for (;;) {
		for (int i = 0; i < ECHO_BATCH; i++) {
			e->iov_in[i].iov_base = e->buf[i];
			e->iov_in[i].iov_len = ECHO_BUFLEN;
			memset(&e->in[i], 0, sizeof(e->in[i]));
			e->in[i].msg_hdr.msg_iov = &e->iov_in[i];
			e->in[i].msg_hdr.msg_iovlen = 1;
			e->in[i].msg_hdr.msg_name = &e->peer[i];
			e->in[i].msg_hdr.msg_namelen = sizeof(e->peer[i]);
		}
		int n = recvmmsg(fd, e->in, ECHO_BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == ECONNREFUSED ||
			    errno == ENOBUFS || errno == ENOMEM)
				continue;
			(void)fprintf(stderr, "hybond-probe: udp-echo: recv: %s\n", strerror(errno));
			break;
		}
		int nout = 0;
		for (int i = 0; i < n; i++) {
			struct hbp_pkt p;
			size_t len = e->in[i].msg_len;
			if ((e->in[i].msg_hdr.msg_flags & MSG_TRUNC) ||
			    hbp_decode(e->buf[i], len, &p) < 0)
				continue;
			struct session *s;
			if (p.type == HBP_T_REQ) {
				s = session_get(e, p.session);
				s->rx++;
				s->tx++;
				hbp_make_reply(e->buf[i], HBP_T_REPLY, s->tx, s->rx);
			} else if (p.type == HBP_T_STATS_REQ) {
				s = session_get(e, p.session);
				hbp_make_reply(e->buf[i], HBP_T_STATS_REPLY, s->tx, s->rx);
			} else {
				continue;
			}
			e->iov_out[nout].iov_base = e->buf[i];
			e->iov_out[nout].iov_len = len;
			memset(&e->out[nout], 0, sizeof(e->out[nout]));
			e->out[nout].msg_hdr.msg_iov = &e->iov_out[nout];
			e->out[nout].msg_hdr.msg_iovlen = 1;
			e->out[nout].msg_hdr.msg_name = &e->peer[i];
			e->out[nout].msg_hdr.msg_namelen = e->in[i].msg_hdr.msg_namelen;
			nout++;
		}
		/* Best effort: a reply that cannot be sent is a reply lost from the guest. */
		for (int done = 0; done < nout;) {
			int m = sendmmsg(fd, e->out + done, (unsigned)(nout - done), 0);
			if (m <= 0) {
				if (m < 0 && errno == EINTR)
					continue;
				done++; /* skip the datagram that failed */
				continue;
			}
			done += m;
		}
	}
	(void)close(fd);
	free(e);
	return HBP_EXIT_RUNTIME;
}
