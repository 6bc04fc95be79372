// SPDX-License-Identifier: LGPL-2.1-or-later
/* host-agent/common/loop.c — see loop.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

#define LOOP_MAX_FDS     256
#define LOOP_MAX_TICKERS 64

struct loop_fd {
	int fd;
	loop_fd_fn cb;
	void *arg;
};

struct loop_ticker {
	loop_tick_fn fn;
	void *arg;
};

struct loop {
	int ep;
	int quit;
	struct loop_fd fds[LOOP_MAX_FDS];
	struct loop_ticker tickers[LOOP_MAX_TICKERS];
};

struct loop_timer {
	struct loop *l;
	int fd;
	loop_timer_fn cb;
	void *arg;
};

uint64_t loop_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));
	int i;

	if (!l)
		return NULL;
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0) {
		free(l);
		return NULL;
	}
	for (i = 0; i < LOOP_MAX_FDS; i++)
		l->fds[i].fd = -1;
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	(void)close(l->ep);
	free(l);
}

static struct loop_fd *slot_of(struct loop *l, int fd)
{
	int i;

	for (i = 0; i < LOOP_MAX_FDS; i++)
		if (l->fds[i].fd == fd)
			return &l->fds[i];
	return NULL;
}

int loop_add_fd(struct loop *l, int fd, unsigned events, loop_fd_fn cb, void *arg)
{
	struct loop_fd *s = slot_of(l, -1);
	struct epoll_event ev = { .events = events };

	if (fd < 0)
		return -EBADF;
	if (!s)
		return -ENOSPC;
	ev.data.ptr = s;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	s->fd = fd;
	s->cb = cb;
	s->arg = arg;
	return 0;
}

int loop_mod_fd(struct loop *l, int fd, unsigned events)
{
	struct loop_fd *s = slot_of(l, fd);
	struct epoll_event ev = { .events = events };

	if (!s)
		return -ENOENT;
	ev.data.ptr = s;
	return epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void loop_del_fd(struct loop *l, int fd)
{
	struct loop_fd *s = slot_of(l, fd);

	if (!s || fd < 0)
		return;
	(void)epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
	/* a later event for this slot in the same epoll batch is ignored */
	s->fd = -1;
	s->cb = NULL;
}

static void timer_fire(void *arg, unsigned events)
{
	struct loop_timer *t = arg;
	uint64_t n;

	(void)events;
	if (read(t->fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return;
	t->cb(t->arg);
}

struct loop_timer *loop_timer_new(struct loop *l, loop_timer_fn cb, void *arg)
{
	struct loop_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->fd < 0 || loop_add_fd(l, t->fd, EPOLLIN, timer_fire, t) < 0) {
		if (t->fd >= 0)
			(void)close(t->fd);
		free(t);
		return NULL;
	}
	t->l = l;
	t->cb = cb;
	t->arg = arg;
	return t;
}

int loop_timer_arm(struct loop_timer *t, uint64_t after_ms)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	if (after_ms == 0)
		after_ms = 1;   /* 0 would disarm */
	its.it_value.tv_sec = (time_t)(after_ms / 1000u);
	its.it_value.tv_nsec = (long)(after_ms % 1000u) * 1000000L;
	return timerfd_settime(t->fd, 0, &its, NULL) < 0 ? -errno : 0;
}

void loop_timer_disarm(struct loop_timer *t)
{
	struct itimerspec its;

	if (!t)
		return;
	memset(&its, 0, sizeof(its));
	(void)timerfd_settime(t->fd, 0, &its, NULL);
}

void loop_timer_free(struct loop_timer *t)
{
	if (!t)
		return;
	loop_del_fd(t->l, t->fd);
	(void)close(t->fd);
	free(t);
}

int loop_add_ticker(struct loop *l, loop_tick_fn fn, void *arg)
{
	int i;

	for (i = 0; i < LOOP_MAX_TICKERS; i++)
		if (!l->tickers[i].fn) {
			l->tickers[i].fn = fn;
			l->tickers[i].arg = arg;
			return 0;
		}
	return -ENOSPC;
}

void loop_del_ticker(struct loop *l, void *arg)
{
	int i;

	for (i = 0; i < LOOP_MAX_TICKERS; i++)
		if (l->tickers[i].arg == arg)
			l->tickers[i].fn = NULL;
}

void loop_quit(struct loop *l)
{
	l->quit = 1;
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[32];

	l->quit = 0;
	while (!l->quit) {
		uint64_t now = loop_now_ms();
		int timeout = -1, i, n;

		for (i = 0; i < LOOP_MAX_TICKERS; i++) {
			int t;

			if (!l->tickers[i].fn)
				continue;
			t = l->tickers[i].fn(l->tickers[i].arg, now);
			if (t >= 0 && (timeout < 0 || t < timeout))
				timeout = t;
		}
		n = epoll_wait(l->ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = 0; i < n && !l->quit; i++) {
			struct loop_fd *s = evs[i].data.ptr;

			if (s->fd >= 0 && s->cb)
				s->cb(s->arg, evs[i].events);
		}
	}
	return 0;
}
