// SPDX-License-Identifier: LGPL-2.1-or-later
/* host-agent/peer.c — daemon <-> daemon channel (see peer.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "peer.h"

struct peer_conn {
	struct loop *l;
	int fd;
	const struct peer_ops *ops;
	void *arg;
	char name[64];
	uint32_t seq;
	struct hb_stream in;
	uint8_t out[PEER_OUT_MAX];
	size_t out_len;
	int dead;
	int in_cb;
};

struct peer_listener {
	struct loop *l;
	int fd;
	const struct peer_ops *ops;
	void *arg;
};

static void pc_close(struct peer_conn *pc, int err)
{
	if (pc->dead)
		return;
	pc->dead = 1;
	loop_del_fd(pc->l, pc->fd);
	(void)close(pc->fd);
	pc->fd = -1;
	if (pc->ops->on_closed)
		pc->ops->on_closed(pc->arg, pc, err);
}

static void pc_flush(struct peer_conn *pc)
{
	while (pc->out_len) {
		ssize_t n = send(pc->fd, pc->out, pc->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			pc_close(pc, -errno);
			return;
		}
		(void)memmove(pc->out, pc->out + n, pc->out_len - (size_t)n);
		pc->out_len -= (size_t)n;
	}
	(void)loop_mod_fd(pc->l, pc->fd, EPOLLIN | (pc->out_len ? EPOLLOUT : 0));
}

int peer_send(struct peer_conn *pc, struct hb_msg *m)
{
	int n;

	if (pc->dead)
		return -ENOTCONN;
	if (!m->seq)
		m->seq = hb_seq_next(&pc->seq);
	n = hb_encode(pc->out + pc->out_len, sizeof(pc->out) - pc->out_len, m);
	if (n < 0)
		return n == HB_E_NOSPC ? -ENOBUFS : -EINVAL;
	pc->out_len += (size_t)n;
	pc_flush(pc);
	return 0;
}

static void pc_reply_error(struct peer_conn *pc, const struct hb_frame *f, int herr)
{
	uint8_t buf[512];
	int n = hb_encode_error(buf, sizeof(buf), &f->hdr, HB_ERR_MALFORMED, herr,
				hb_strerror(herr));

	if (n > 0 && pc->out_len + (size_t)n <= sizeof(pc->out)) {
		memcpy(pc->out + pc->out_len, buf, (size_t)n);
		pc->out_len += (size_t)n;
	}
}

static void pc_io(void *arg, unsigned events)
{
	struct peer_conn *pc = arg;
	struct hb_frame f;
	struct hb_msg m;
	size_t room, skipped;
	uint8_t *w;
	ssize_t n;

	if (events & EPOLLOUT)
		pc_flush(pc);
	if (pc->dead || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		goto out;
	w = hb_stream_wptr(&pc->in, &room);
	n = room ? recv(pc->fd, w, room, MSG_DONTWAIT) : 0;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		goto out;
	if (n <= 0 && room) {
		pc_close(pc, n < 0 ? -errno : -ECONNRESET);
		goto out;
	}
	hb_stream_commit(&pc->in, (size_t)n);
	pc->in_cb = 1;
	while (!pc->dead) {
		int rc = hb_stream_next(&pc->in, &f, &skipped);

		if (rc == 0)
			break;
		if (rc < 0)
			continue;       /* bad frame: the stream skipped it */
		rc = hb_msg_decode(&f, &m);
		if (rc < 0) {
			if (!(f.hdr.flags & HB_F_REPLY) && f.hdr.type != HB_MSG_ERROR)
				pc_reply_error(pc, &f, rc);
			continue;
		}
		pc->ops->on_msg(pc->arg, pc, &m);
	}
	pc->in_cb = 0;
	if (!pc->dead && pc->out_len)
		pc_flush(pc);
out:
	if (pc->dead && !pc->in_cb)
		free(pc);
}

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
	*err = 0;
	return peer_conn_new(l, fd, ops, arg, name);
}

/* Closing from a callback is deferred: pc_io frees after the dispatch loop. */
void peer_conn_free(struct peer_conn *pc)
{
	if (!pc)
		return;
	if (!pc->dead) {
		pc->dead = 1;
		loop_del_fd(pc->l, pc->fd);
		(void)close(pc->fd);
	}
	if (!pc->in_cb)
		free(pc);
}

void peer_conn_set_arg(struct peer_conn *pc, void *arg)
{
	pc->arg = arg;
}

const char *peer_conn_name(const struct peer_conn *pc)
{
	return pc->name;
}

static void pl_accept(void *arg, unsigned events)
{
	struct peer_listener *pl = arg;
	int fd = accept4(pl->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	(void)events;
	if (fd >= 0)
		peer_conn_new(pl->l, fd, pl->ops, pl->arg, "peer");
}

int peer_listen(struct loop *l, const char *path, const struct peer_ops *ops, void *arg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct peer_listener *pl;
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
	pl = calloc(1, sizeof(*pl));
	if (!pl) {
		(void)close(fd);
		return -ENOMEM;
	}
	pl->l = l;
	pl->fd = fd;
	pl->ops = ops;
	pl->arg = arg;
	rc = loop_add_fd(l, fd, EPOLLIN, pl_accept, pl);
	if (rc) {
		(void)close(fd);
		free(pl);
	}
	return rc;   /* the listener lives as long as the daemon */
}
