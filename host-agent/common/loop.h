/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/common/loop.h — hybond-hostd's one event loop: epoll over fds, one-shot
 * timers on timerfds, and "tickers" (objects such as the QMP client and the
 * guest channel that keep their own deadlines: asked each turn for their
 * next deadline and ticked when it is due).  Nothing in the daemon sleeps.
 */
#ifndef HYBOND_LOOP_H
#define HYBOND_LOOP_H

#include <stdint.h>

struct loop;
struct loop_timer;

typedef void (*loop_fd_fn)(void *arg, unsigned events);
typedef void (*loop_timer_fn)(void *arg);
/* Returns ms until the object's next deadline, -1 for none; called every turn. */
typedef int (*loop_tick_fn)(void *arg, uint64_t now_ms);

struct loop *loop_new(void);
void loop_free(struct loop *l);

int loop_add_fd(struct loop *l, int fd, unsigned events, loop_fd_fn cb, void *arg);
int loop_mod_fd(struct loop *l, int fd, unsigned events);
void loop_del_fd(struct loop *l, int fd);

/* One-shot timer; loop_timer_arm re-arms (0 ms: next turn), disarm stops it. */
struct loop_timer *loop_timer_new(struct loop *l, loop_timer_fn cb, void *arg);
int loop_timer_arm(struct loop_timer *t, uint64_t after_ms);
void loop_timer_disarm(struct loop_timer *t);
void loop_timer_free(struct loop_timer *t);

int loop_add_ticker(struct loop *l, loop_tick_fn fn, void *arg);
void loop_del_ticker(struct loop *l, void *arg);

/* Run until loop_quit() (called from a callback); 0 or negative errno. */
int loop_run(struct loop *l);
void loop_quit(struct loop *l);
uint64_t loop_now_ms(void);

#endif
