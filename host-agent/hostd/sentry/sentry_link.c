// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/sentry/sentry_link.c — the daemon's side of a sentry (see sentry.h):
 * start it, hand it connections, check and route what it sends, restart it. The guest
 * sentry's links are guest channels (gc_input); the peer sentry's are callbacks
 * (sentry_attach: peer/peer.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host-agent/common/log.h"
#include "host-agent/common/loop.h"
#include "sentry.h"

/* messages taken per loop turn: one busy sentry does not starve the rest of the loop */
#define SENTRY_EVS_PER_TURN 64
/* restarts in a row faster than this count towards the back-off */
#define SENTRY_RESTART_MS   1000u

struct link {
	uint32_t id;
	struct gc_chan *c;      /* a guest channel, or: */
	sentry_fn fn;
	void *arg;
};

struct sentry {
	struct loop *l;
	struct loop_timer *restart;
	struct loop_timer *replace;     /* it missed a DEL: replaced on the next turn */
	char exe[PATH_MAX];
	int exe_fd;                     /* that file, opened at start: a sentry is always
					 * started from the daemon's own build, also after a
					 * package upgrade replaced the file at exe */
	char uid[16], gid[16], ppid[16], layout[96];
	enum sentry_role role;
	const char *who;                /* "guest sentry", "peer sentry": for the journal */
	const char *down;               /* what its absence means, for the journal */
	int rt_prio;                    /* the peer sentry of a SCHED_FIFO daemon: its priority */
	int replaced;                   /* its executable is another build: not restarted */
	pid_t pid;
	int sock;
	uint32_t next_id;
	uint64_t started_ms;
	unsigned quick_deaths;
	size_t n, cap;
	struct link *links;
};

static _Alignas(16) uint8_t rxbuf[SENTRY_EV_MAX];

static void sentry_io(void *arg, unsigned events);

pid_t sentry_pid(const struct sentry *s)
{
	return s ? s->pid : -1;
}

static int spawn(struct sentry *s)
{
	char *argv[] = { s->exe, (char *)SENTRY_ARG, s->uid, s->gid, s->ppid, s->layout,
			 (char *)(s->role == SENTRY_PEERS ? "peers" : "guests"), NULL };
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = errno;

		(void)close(sv[0]);
		(void)close(sv[1]);
		return -err;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		(void)signal(SIGPIPE, SIG_DFL);
		/* the executable's fd to 4 (close-on-exec) by way of a free fd: it may
		 * be 3 or 4 itself */
		int efd = fcntl(s->exe_fd, F_DUPFD_CLOEXEC, 16);

		if (efd < 0 || dup2(sv[1], 3) < 0 || dup3(efd, 4, O_CLOEXEC) < 0)
			_exit(127);
		if (sv[1] == 3)         /* dup2 onto itself keeps SOCK_CLOEXEC */
			(void)fcntl(3, F_SETFD, 0);
		if (s->rt_prio) {       /* the daemon's RESET_ON_FORK made us SCHED_OTHER */
			struct sched_param sp = { .sched_priority = s->rt_prio };

			(void)sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp);
		}
		(void)close_range(5, ~0u, 0);
		execveat(4, "", argv, environ, AT_EMPTY_PATH);
		_exit(127);
	}
	(void)close(sv[1]);
	if (loop_add_fd(s->l, sv[0], EPOLLIN, sentry_io, s) < 0) {
		(void)close(sv[0]);
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		return -ENOMEM;
	}
	s->sock = sv[0];
	s->pid = pid;
	s->started_ms = loop_now_ms();
	hlog(HLOG_INFO, "%s started (pid %d, uid %s): %s are read there", s->who, (int)pid,
	     s->uid, s->role == SENTRY_PEERS ? "peer daemons' frames" : "guest channels");
	return 0;
}

static void restart_cb(void *arg)
{
	struct sentry *s = arg;
	int rc = spawn(s);

	if (rc < 0) {
		hlog(HLOG_ERR, "%s: cannot start it again: %s; retrying in 1 s (%s meanwhile)",
		     s->who, strerror(-rc), s->down);
		(void)loop_timer_arm(s->restart, 1000);
	}
}

static void lost(struct sentry *s, const char *why);

/* Every link ends: a guest channel disconnects (its detach() drops the link), a callback
 * link hears GC_IN_EOF with ECONNABORTED. */
static void drop_links(struct sentry *s)
{
	while (s->n) {
		struct link k = s->links[s->n - 1];
		struct gc_in eof = { .kind = GC_IN_EOF, .rc = ECONNABORTED };

		if (k.c) {
			gc_disconnect(k.c, gc_now_ms());
			continue;
		}
		s->n--;
		k.fn(k.arg, &eof);
	}
}

static void replace_cb(void *arg)
{
	struct sentry *s = arg;

	if (s->sock >= 0)
		lost(s, "could not be told to close a channel (its queue is full), so it was "
		     "killed");
}

/* The sentry is gone (it died, or it lied and was killed): reap it, every channel
 * reconnects (a callback link hears GC_IN_EOF, ECONNABORTED), start another one. */
static void lost(struct sentry *s, const char *why)
{
	const char *then = s->role == SENTRY_PEERS ? "every peer connection it read closes" :
			   "every guest channel reconnects";
	int st = 0;
	pid_t pid = s->pid;
	uint64_t delay;

	if (s->sock >= 0) {
		loop_del_fd(s->l, s->sock);
		(void)close(s->sock);
		s->sock = -1;
	}
	if (pid > 0) {
		(void)kill(pid, SIGKILL);
		/* SIGKILLed our own child: it is reaped at once */
		(void)waitpid(pid, &st, 0);
	}
	s->pid = -1;
	loop_timer_disarm(s->replace);
	if (WIFEXITED(st) && WEXITSTATUS(st) == SENTRY_EXIT_LAYOUT) {
		hlog(HLOG_ERR, "%s: %s is not the build this daemon runs (replaced since it "
		     "started?): restart hybond-hostd; %s until then", s->who, s->exe, s->down);
		s->replaced = 1;
	} else if (WIFSIGNALED(st))
		hlog(HLOG_ERR, "%s (pid %d) %s: killed by signal %d%s; %s", s->who, (int)pid,
		     why, WTERMSIG(st), WTERMSIG(st) == SIGSYS ? " (a system call outside its "
		     "seccomp filter: report it)" : WTERMSIG(st) == SIGXCPU ? " (it ran "
		     "real-time 200 ms without sleeping: a flood it could not keep up with, or "
		     "a bug)" : "", then);
	else
		hlog(HLOG_ERR, "%s (pid %d) %s: exit status %d; %s", s->who, (int)pid, why,
		     WIFEXITED(st) ? WEXITSTATUS(st) : -1, then);
	/* the channels' connections were the sentry's too: each closes (and a guest
	 * channel reconnects); the bytes it held cannot be replayed */
	drop_links(s);
	if (s->replaced)
		return;
	s->quick_deaths = loop_now_ms() - s->started_ms < SENTRY_RESTART_MS ?
			  s->quick_deaths + 1 : 0;
	delay = s->quick_deaths ? (s->quick_deaths > 5 ? 5000u : 200u * s->quick_deaths) : 0;
	(void)loop_timer_arm(s->restart, delay);
}

static struct link *find(struct sentry *s, uint32_t id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->links[i].id == id)
			return &s->links[i];
	return NULL;
}

/* One message from the sentry: checked, then gc_input(); 0, or -EPROTO (it lied). */
static int one_ev(struct sentry *s, size_t len)
{
	struct sentry_ev ev;
	struct hb_msg m;
	struct link *k;
	int rc;

	if (len < sizeof(ev))
		return -EPROTO;
	memcpy(&ev, rxbuf, sizeof(ev));
	if (ev.in.kind < GC_IN_MSG || ev.in.kind >= GC_IN_KIND_MAX_)
		return -EPROTO;
	ev.in.msg = NULL;
	if (ev.in.kind == GC_IN_MSG) {
		rc = hb_msg_unpack(rxbuf + sizeof(ev), len - sizeof(ev), &m);
		if (rc < 0) {
			hlog(HLOG_ERR, "%s: a message for channel %u does not check out: %s",
			     s->who, ev.id, hb_err_name(rc));
			return -EPROTO;
		}
		ev.in.msg = &m;
	} else if (len != sizeof(ev)) {
		return -EPROTO;
	}
	k = find(s, ev.id);
	if (!k)                         /* a channel closed meanwhile */
		return 0;
	if (k->c) {
		(void)gc_input(k->c, &ev.in, gc_now_ms());
	} else {
		struct link cb = *k;

		if (ev.in.kind == GC_IN_EOF)    /* the sentry closed it: the link is over */
			*k = s->links[--s->n];
		cb.fn(cb.arg, &ev.in);
	}
	return 0;
}

static void sentry_io(void *arg, unsigned events)
{
	struct sentry *s = arg;

	(void)events;
	for (int i = 0; i < SENTRY_EVS_PER_TURN && s->sock >= 0; i++) {
		ssize_t n = recv(s->sock, rxbuf, sizeof(rxbuf), MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n <= 0) {
			lost(s, n == 0 ? "ended" : "cannot be read");
			return;
		}
		if ((size_t)n > sizeof(rxbuf) || one_ev(s, (size_t)n) < 0) {
			lost(s, "sent a message that does not check out, so it was killed");
			return;
		}
	}
}

/* Hand @fd to the sentry as a new link (c, or fn + arg). */
static int link_add(struct sentry *s, int fd, const struct sentry_cmd *cmd, struct link k)
{
	struct sentry_cmsg m;
	struct cmsghdr *cm;

	if (s->sock < 0)
		return -EAGAIN;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct link *nl = realloc(s->links, cap * sizeof(*nl));

		if (!nl)
			return -ENOMEM;
		s->links = nl;
		s->cap = cap;
	}
	sentry_cmsg_init(&m);
	m.cmd = *cmd;
	m.cmd.op = SENTRY_ADD;
	m.cmd.id = ++s->next_id;
	cm = CMSG_FIRSTHDR(&m.mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
	if (sendmsg(s->sock, &m.mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return -errno;
	k.id = m.cmd.id;
	s->links[s->n++] = k;
	return 0;
}

/* Tell the sentry to close links[i]'s copy, and forget the link. */
static void link_del(struct sentry *s, size_t i)
{
	struct sentry_cmd cmd = { .op = SENTRY_DEL, .id = s->links[i].id };

	/* a sentry that keeps a connection QEMU's chardev thinks is ours blocks the
	 * reconnect: if it cannot be told, it is replaced (its fds close with it) */
	if (s->sock >= 0 && send(s->sock, &cmd, sizeof(cmd), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		(void)loop_timer_arm(s->replace, 0);
	s->links[i] = s->links[--s->n];
}

static int attach(void *arg, struct gc_chan *c, int fd, uint32_t rate_per_s, uint32_t burst)
{
	struct sentry_cmd cmd = { .rate_per_s = rate_per_s, .burst = burst };

	return link_add(arg, fd, &cmd, (struct link){ .c = c });
}

static void detach(void *arg, struct gc_chan *c)
{
	struct sentry *s = arg;

	for (size_t i = 0; i < s->n; i++)
		if (s->links[i].c == c) {
			link_del(s, i);
			return;
		}
}

int sentry_attach(struct sentry *s, int fd, uint32_t rate_per_s, uint32_t burst,
		  uint32_t max_payload, sentry_fn fn, void *arg, uint32_t *id)
{
	struct sentry_cmd cmd = { .rate_per_s = rate_per_s, .burst = burst,
				  .max_payload = max_payload };
	int rc;

	if (!s || !fn || !burst)
		return -EINVAL;
	rc = link_add(s, fd, &cmd, (struct link){ .fn = fn, .arg = arg });
	if (!rc)
		*id = s->links[s->n - 1].id;
	return rc;
}

void sentry_detach(struct sentry *s, uint32_t id)
{
	struct link *k = s ? find(s, id) : NULL;

	if (k)
		link_del(s, (size_t)(k - s->links));
}

const struct gc_reader_ops sentry_reader_ops = { .attach = attach, .detach = detach };

struct sentry *sentry_start(struct loop *l, const char *user, enum sentry_role role, char *err,
			    size_t errlen)
{
	struct sentry *s = calloc(1, sizeof(*s));
	ssize_t n;
	int rc;

	if (!s) {
		(void)snprintf(err, errlen, "sentry: out of memory");
		return NULL;
	}
	s->l = l;
	s->sock = -1;
	s->pid = -1;
	s->exe_fd = -1;
	s->role = role;
	s->who = role == SENTRY_PEERS ? "peer sentry" : "guest sentry";
	s->down = role == SENTRY_PEERS ? "peer connections are refused" :
		  "guest channels are down";
	if (role == SENTRY_PEERS && (sched_getscheduler(0) & ~SCHED_RESET_ON_FORK) == SCHED_FIFO) {
		struct sched_param sp;

		if (sched_getparam(0, &sp) == 0)
			s->rt_prio = sp.sched_priority;
	}
	/* our own executable, by the path the kernel knows (not /proc/self/exe at exec
	 * time: under valgrind that is valgrind) */
	n = readlink("/proc/self/exe", s->exe, sizeof(s->exe) - 1);
	if (n <= 0) {
		(void)snprintf(err, errlen, "%s: /proc/self/exe: %s", s->who, strerror(errno));
		free(s);
		return NULL;
	}
	s->exe[n] = 0;
	(void)snprintf(s->uid, sizeof(s->uid), "-");
	(void)snprintf(s->gid, sizeof(s->gid), "-");
	(void)snprintf(s->ppid, sizeof(s->ppid), "%d", (int)getpid());
	{
		struct stat exe;

		/* the file the daemon runs from, kept open: every sentry is executed from it
		 * (execveat), and its tag names that file, so a sentry of another build
		 * refuses the daemon */
		s->exe_fd = open(s->exe, O_PATH | O_CLOEXEC);
		if (s->exe_fd < 0 || fstat(s->exe_fd, &exe) < 0) {
			(void)snprintf(err, errlen, "%s: %s: %s", s->who, s->exe, strerror(errno));
			if (s->exe_fd >= 0)
				(void)close(s->exe_fd);
			free(s);
			return NULL;
		}
		sentry_layout(s->layout, sizeof(s->layout), &exe);
	}
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam(user);

		if (!pw || pw->pw_uid == 0 || pw->pw_gid == 0) {
			(void)snprintf(err, errlen, "%s: user \"%s\" %s (create it, e.g. "
				       "useradd --system --no-create-home --shell /usr/sbin/nologin "
				       "%s, or set sentry_user in hostd.conf)", s->who, user,
				       pw ? "is root or in group root" : "does not exist", user);
			(void)close(s->exe_fd);
			free(s);
			return NULL;
		}
		(void)snprintf(s->uid, sizeof(s->uid), "%u", (unsigned)pw->pw_uid);
		(void)snprintf(s->gid, sizeof(s->gid), "%u", (unsigned)pw->pw_gid);
	}
	s->restart = loop_timer_new(l, restart_cb, s);
	s->replace = loop_timer_new(l, replace_cb, s);
	rc = s->restart && s->replace ? spawn(s) : -ENOMEM;
	if (rc < 0) {
		(void)snprintf(err, errlen, "%s: cannot start %s: %s", s->who, s->exe,
			       strerror(-rc));
		loop_timer_free(s->restart);
		loop_timer_free(s->replace);
		(void)close(s->exe_fd);
		free(s);
		return NULL;
	}
	return s;
}

void sentry_stop(struct sentry *s)
{
	if (!s)
		return;
	drop_links(s);
	if (s->sock >= 0) {
		loop_del_fd(s->l, s->sock);
		(void)close(s->sock);   /* the sentry exits on EOF */
	}
	if (s->pid > 0) {
		(void)kill(s->pid, SIGKILL);
		(void)waitpid(s->pid, NULL, 0);
	}
	loop_timer_free(s->restart);
	loop_timer_free(s->replace);
	if (s->exe_fd >= 0)
		(void)close(s->exe_fd);
	free(s->links);
	free(s);
}
