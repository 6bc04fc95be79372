/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/common/child.h — a command the daemon runs with its stdout read on the
 * event loop: the launcher and cleanup commands of a migration, the prober of a
 * drill.  The child runs with SCHED_OTHER (the daemon may be SCHED_FIFO: a launched
 * QEMU must not inherit a real-time class), no blocked signals, SIGPIPE default,
 * optionally in another network namespace and with stderr to /dev/null.
 */
#ifndef HYBOND_CHILD_H
#define HYBOND_CHILD_H

#include <stddef.h>
#include <sys/types.h>

struct loop;
struct child;

struct child_spec {
	char *const *argv;      /* argv[0] is looked up in $PATH; no shell */
	const char *netns;      /* a path such as /run/netns/NAME to setns() into; NULL: ours */
	int stderr_null;        /* stderr to /dev/null (else the daemon's) */
	int kill_on_free;       /* child_free() SIGKILLs and reaps it (else it runs on) */
	size_t out_max;         /* stdout kept: at most out_max - 1 bytes */
};

/* stdout closed and the command exited (one that closes its stdout and runs on is waited
 * for on the loop, never in a blocking waitpid): what it wrote (NUL terminated) and its
 * wait status (-1: not known).  The child is freed after this
 * returns: the owner forgets its pointer here. */
typedef void (*child_done_fn)(void *arg, const char *out, size_t len, int status);

/* NULL with *err (negative errno) when it could not be started. */
struct child *child_spawn(struct loop *l, const struct child_spec *spec, child_done_fn done,
			  void *arg, int *err);
/* Signal it (our own child, by pid): 0 or negative errno. */
int child_signal(struct child *c, int sig);
/* Stop reading it (and, with kill_on_free, kill and reap it); done is not called. */
void child_free(struct child *c);

#endif
