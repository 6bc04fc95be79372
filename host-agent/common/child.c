// SPDX-License-Identifier: LGPL-2.1-or-later
/* host-agent/common/child.c — a command with its stdout on the loop (see child.h). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "loop.h"

#define CHILD_REAP_MS 50u

struct child {
	struct loop *l;
	pid_t pid;
	int fd, kill_on_free;
	int exit_fd;            /* stdout closed but the command still runs: its pidfd */
	struct loop_timer *reap;        /* ... or, without pidfd_open (valgrind, Linux < 5.3),
					 * a waitpid(WNOHANG) every CHILD_REAP_MS */
	char *out;
	size_t len, max;
	child_done_fn done;
	void *arg;
};

static void child_finish(struct child *c, int status)
{
	loop_timer_free(c->reap);
	c->reap = NULL;
	c->pid = -1;
	c->done(c->arg, c->out, c->len, status);
	free(c->out);
	free(c);
}

/* No pidfd: look again later. */
static void child_reap_tick(void *arg)
{
	struct child *c = arg;
	int status = -1;
	pid_t r = waitpid(c->pid, &status, WNOHANG);

	if (r == 0) {
		(void)loop_timer_arm(c->reap, CHILD_REAP_MS);
		return;
	}
	child_finish(c, r < 0 ? -1 : status);
}

/* The command exited (its pidfd is readable): reap it, never blocking. */
static void child_exited(void *arg, unsigned events)
{
	struct child *c = arg;
	int status = -1;

	(void)events;
	if (waitpid(c->pid, &status, WNOHANG) == 0)
		return;                 /* not yet (a spurious wakeup) */
	loop_del_fd(c->l, c->exit_fd);
	(void)close(c->exit_fd);
	c->exit_fd = -1;
	child_finish(c, status);
}

static void child_io(void *arg, unsigned events)
{
	struct child *c = arg;
	ssize_t n;
	int status = -1;
	pid_t r;

	(void)events;
	n = read(c->fd, c->out + c->len, c->max - 1 - c->len);
	if (n > 0) {
		c->len += (size_t)n;
		if (c->len < c->max - 1)
			return;
	} else if (n < 0 && errno == EINTR) {
		return;
	}
	/* stdout closed (or full): the command has finished, or closed it on purpose */
	c->out[c->len] = 0;
	loop_del_fd(c->l, c->fd);
	(void)close(c->fd);
	c->fd = -1;
	r = c->pid > 0 ? waitpid(c->pid, &status, WNOHANG) : -1;
	if (r == 0) {
		/* it still runs (closed its stdout, or wrote more than we keep): wait for its
		 * exit on the loop, never in a blocking waitpid (every VM would wait) */
		c->exit_fd = (int)syscall(SYS_pidfd_open, c->pid, 0);
		if (c->exit_fd >= 0 && loop_add_fd(c->l, c->exit_fd, EPOLLIN, child_exited, c) == 0)
			return;
		if (c->exit_fd >= 0)
			(void)close(c->exit_fd);
		c->exit_fd = -1;
		c->reap = loop_timer_new(c->l, child_reap_tick, c);
		if (c->reap && loop_timer_arm(c->reap, CHILD_REAP_MS) == 0)
			return;
		loop_timer_free(c->reap);
		c->reap = NULL;
		(void)kill(c->pid, SIGKILL);    /* out of memory: our own child, by pid */
		r = waitpid(c->pid, &status, 0);
	}
	if (r < 0)
		status = -1;
	child_finish(c, status);
}

/* In the child, before exec: nothing of the daemon's scheduling or signal state. */
static void child_exec(const struct child_spec *s, int out_fd, int nsfd)
{
	struct sched_param sp = { .sched_priority = 0 };
	sigset_t none;

	(void)sched_setscheduler(0, SCHED_OTHER, &sp);
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)signal(SIGPIPE, SIG_DFL);
	if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) < 0)
		_exit(126);
	(void)dup2(out_fd, 1);
	if (s->stderr_null) {
		int dn = open("/dev/null", O_WRONLY);

		if (dn >= 0)
			(void)dup2(dn, 2);
	}
	execvp(s->argv[0], s->argv);
	_exit(127);
}

struct child *child_spawn(struct loop *l, const struct child_spec *spec, child_done_fn done,
			  void *arg, int *err)
{
	struct child *c = calloc(1, sizeof(*c));
	int p[2] = { -1, -1 }, nsfd = -1;

	*err = -ENOMEM;
	if (!c || spec->out_max < 2 || !(c->out = malloc(spec->out_max)))
		goto fail;
	if (spec->netns && (nsfd = open(spec->netns, O_RDONLY | O_CLOEXEC)) < 0) {
		*err = -errno;
		goto fail;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		*err = -errno;
		goto fail;
	}
	c->pid = fork();
	if (c->pid < 0) {
		*err = -errno;
		goto fail;
	}
	if (c->pid == 0)
		child_exec(spec, p[1], nsfd);
	(void)close(p[1]);
	if (nsfd >= 0)
		(void)close(nsfd);
	c->l = l;
	c->fd = p[0];
	c->exit_fd = -1;
	c->max = spec->out_max;
	c->kill_on_free = spec->kill_on_free;
	c->done = done;
	c->arg = arg;
	*err = loop_add_fd(l, c->fd, EPOLLIN, child_io, c);
	if (*err) {
		child_free(c);
		return NULL;
	}
	return c;
fail:
	if (p[0] >= 0) {
		(void)close(p[0]);
		(void)close(p[1]);
	}
	if (nsfd >= 0)
		(void)close(nsfd);
	if (c)
		free(c->out);
	free(c);
	return NULL;
}

int child_signal(struct child *c, int sig)
{
	if (!c || c->pid <= 0)
		return -ESRCH;
	return kill(c->pid, sig) ? -errno : 0;
}

void child_free(struct child *c)
{
	int status;

	if (!c)
		return;
	if (c->fd >= 0) {
		loop_del_fd(c->l, c->fd);
		(void)close(c->fd);
	}
	if (c->exit_fd >= 0) {
		loop_del_fd(c->l, c->exit_fd);
		(void)close(c->exit_fd);
	}
	loop_timer_free(c->reap);
	if (c->kill_on_free && c->pid > 0) {
		(void)kill(c->pid, SIGKILL);   /* our own child, by pid */
		(void)waitpid(c->pid, &status, 0);
	}
	free(c->out);
	free(c);
}
