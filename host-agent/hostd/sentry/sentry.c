// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/sentry/sentry.c — a sentry's own life (see sentry.h): drop everything,
 * then read the streams the daemon hands it and hand what gc_reader.c made of them over.
 */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <hybond/logstream.h>

#include "host-agent/hostd/sentry/sentry.h"

#define SENTRY_SOCK 3
/* the guest sentry's nice value (SCHED_OTHER) */
#define SENTRY_NICE 10
/* channels the sentry reads at once (the daemon's VM table is smaller) */
#define SENTRY_MAX_CHANS 1024

struct schan {
	uint32_t id;
	int fd;
	struct gc_rd rd;        /* 64 KiB: allocated per channel */
};

static struct schan *chans[SENTRY_MAX_CHANS];
static int ep = -1;
static const char *who = "guest sentry";       /* or "peer sentry" (its role) */
static _Alignas(16) uint8_t evbuf[SENTRY_EV_MAX];

static void die(const char *what, int err)
{
	(void)fprintf(stderr, "%shybond-hostd %s: %s: %s\n",
		      hb_stderr_is_journal() ? HB_LOG_ERR : "", who, what, strerror(err));
	_exit(1);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the sandbox --------------------------------------------------------------- */

static void drop_privileges(const char *uid_s, const char *gid_s, const char *ppid_s,
			    enum sentry_role role)
{
	struct sched_param sp = { 0 };
	char *end;
	long uid, gid, ppid;

	if (role == SENTRY_PEERS && (sched_getscheduler(0) & ~SCHED_RESET_ON_FORK) == SCHED_FIFO) {
		/* the peer sentry of a sched_fifo daemon: started SCHED_FIFO at the daemon's
		 * priority (sentry_link.c), since MIGRATE_STOPPED passes through it on the way
		 * from QEMU's STOP to the announce. Bounded: 200 ms on the CPU without
		 * sleeping and the kernel stops it (SIGXCPU; 400 ms: SIGKILL) and the daemon
		 * starts another; a message takes microseconds. */
		struct rlimit rt = { .rlim_cur = SENTRY_RTTIME_US, .rlim_max = 2 * SENTRY_RTTIME_US };

		if (setrlimit(RLIMIT_RTTIME, &rt) < 0)
			die("setrlimit(RLIMIT_RTTIME)", errno);
	} else {
		/* never real-time otherwise, and the guest sentry behind the VMs' own
		 * threads: a guest's flood costs the sentry, not the vCPUs or the daemon's
		 * loop (only ever nicer: a daemon already above SENTRY_NICE stays where it
		 * is). The peer sentry keeps the daemon's nice value. */
		if (sched_setscheduler(0, SCHED_OTHER, &sp) < 0)
			die("sched_setscheduler(SCHED_OTHER)", errno);
		errno = 0;
		if (role == SENTRY_GUESTS && getpriority(PRIO_PROCESS, 0) < SENTRY_NICE && !errno)
			(void)setpriority(PRIO_PROCESS, 0, SENTRY_NICE);
	}
	ppid = strtol(ppid_s, &end, 10);
	if (*end || ppid <= 0)
		die("daemon pid", EINVAL);
	if (strcmp(uid_s, "-") != 0) {
		uid = strtol(uid_s, &end, 10);
		if (*end || uid <= 0)
			die("uid", EINVAL);
		gid = strtol(gid_s, &end, 10);
		if (*end || gid <= 0)
			die("gid", EINVAL);
		/* no capability can come back, not even through exec (which the filter
		 * refuses anyway) */
		for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
				die("PR_CAPBSET_DROP", errno);
		if (setgroups(0, NULL) < 0)
			die("setgroups", errno);
		if (setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0)
			die("setresgid", errno);
		if (setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0)
			die("setresuid", errno);
		if (setuid(0) == 0)
			die("root could be regained", EPERM);
	} else {
		/* a daemon that is not root may still hold ambient capabilities */
		(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	}
	/* after the uid change (which clears it): gone with the daemon */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		die("PR_SET_PDEATHSIG", errno);
	if (getppid() != (pid_t)ppid)
		_exit(0);               /* the daemon is already gone */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("PR_SET_NO_NEW_PRIVS", errno);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* Reading (guest sockets), sending to and receiving from the daemon (fd 3 only), writing
 * to stderr (fd 2 only), epoll, memory, the clock, exiting: nothing else. The fd rules
 * keep a sentry taken over through one guest from writing to another guest's socket. */
static void enter_filter(void)
{
	static const int on_sock[] = {
		SCMP_SYS(sendto), SCMP_SYS(sendmsg), SCMP_SYS(recvfrom), SCMP_SYS(recvmsg),
	};
	static const int allowed[] = {
		SCMP_SYS(read), SCMP_SYS(close),
		SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
		SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
		SCMP_SYS(madvise), SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep),
		SCMP_SYS(restart_syscall), SCMP_SYS(rt_sigreturn), SCMP_SYS(exit),
		SCMP_SYS(exit_group), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
		SCMP_SYS(getrandom), SCMP_SYS(futex),
		/* harmless, and what ASan/UBSan builds call (sigaltstack at exit) */
		SCMP_SYS(sigaltstack), SCMP_SYS(getpid), SCMP_SYS(gettid),
	};
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int rc;

	if (!f)
		die("seccomp_init", ENOMEM);
	for (size_t i = 0; i < sizeof(on_sock) / sizeof(on_sock[0]); i++) {
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, on_sock[i], 1,
				      SCMP_A0(SCMP_CMP_EQ, SENTRY_SOCK, 0));
		if (rc < 0)
			die("seccomp_rule_add", -rc);
	}
	rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, 2, 0));
	if (rc < 0)
		die("seccomp_rule_add", -rc);
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, allowed[i], 0);
		if (rc < 0)
			die("seccomp_rule_add", -rc);
	}
	rc = seccomp_load(f);
	if (rc < 0)
		die("seccomp_load", -rc);
	seccomp_release(f);
}

/* ---- channels ------------------------------------------------------------------ */

static void send_ev(const struct sentry_ev *ev, size_t len)
{
	ssize_t n;

	do
		n = send(SENTRY_SOCK, ev, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		_exit(errno == EPIPE || errno == ECONNRESET ? 0 : 1);
}

static int emit(void *arg, const struct gc_in *in)
{
	const struct schan *ch = arg;
	struct sentry_ev *ev = (struct sentry_ev *)evbuf;
	size_t len = sizeof(*ev);

	memset(ev, 0, sizeof(*ev));
	ev->id = ch->id;
	ev->in = *in;
	ev->in.msg = NULL;
	if (in->kind == GC_IN_MSG) {
		int n = hb_msg_pack(evbuf + sizeof(*ev), sizeof(evbuf) - sizeof(*ev), in->msg);

		if (n < 0) {            /* cannot happen for a decoded message */
			ev->in.kind = GC_IN_MALFORMED;
			ev->in.rc = (int16_t)n;
		} else {
			len += (size_t)n;
		}
	}
	send_ev(ev, len);
	return 0;
}

static void chan_del(unsigned slot)
{
	struct schan *ch = chans[slot];

	if (!ch)
		return;
	/* the daemon may still hold the socket: close() alone would leave it in the set */
	(void)epoll_ctl(ep, EPOLL_CTL_DEL, ch->fd, NULL);
	(void)close(ch->fd);
	free(ch);
	chans[slot] = NULL;
}

static int find(uint32_t id)
{
	for (int i = 0; i < SENTRY_MAX_CHANS; i++)
		if (chans[i] && chans[i]->id == id)
			return i;
	return -1;
}

/* The daemon hears of a channel it cannot have read as the channel's end (@err), and
 * reconnects. */
static void refuse_chan(uint32_t id, int err)
{
	struct schan tmp = { .id = id };
	struct gc_in in = { .kind = GC_IN_EOF, .rc = (int16_t)err };

	(void)emit(&tmp, &in);
}

static void chan_add(const struct sentry_cmd *cmd, int fd)
{
	struct epoll_event e = { .events = EPOLLIN };
	int slot = -1;

	for (int i = 0; i < SENTRY_MAX_CHANS && slot < 0; i++)
		if (!chans[i])
			slot = i;
	if (slot < 0 || find(cmd->id) >= 0 || cmd->burst == 0)
		goto refuse;
	chans[slot] = malloc(sizeof(*chans[slot]));
	if (!chans[slot])
		goto refuse;
	chans[slot]->id = cmd->id;
	chans[slot]->fd = fd;
	gc_rd_init(&chans[slot]->rd, cmd->rate_per_s, cmd->burst, now_ms());
	if (cmd->max_payload)
		hb_stream_set_max(&chans[slot]->rd.rx, cmd->max_payload < HB_PAYLOAD_MAX ?
				  cmd->max_payload : HB_PAYLOAD_MAX);
	e.data.u32 = (uint32_t)slot + 1u;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) == 0)
		return;
	free(chans[slot]);
	chans[slot] = NULL;
refuse:
	(void)close(fd);
	refuse_chan(cmd->id, ENOSPC);
}

/* One command from the daemon (with an fd for ADD). */
static void on_daemon(void)
{
	struct sentry_cmsg m;
	struct sentry_cmd cmd;
	struct cmsghdr *cm;
	ssize_t n;
	int fd = -1, slot;

	sentry_cmsg_init(&m);
	n = recvmsg(SENTRY_SOCK, &m.mh, MSG_CMSG_CLOEXEC);
	if (n == 0)
		_exit(0);               /* the daemon is gone */
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		_exit(1);
	}
	for (cm = CMSG_FIRSTHDR(&m.mh); cm; cm = CMSG_NXTHDR(&m.mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	cmd = m.cmd;
	if (n != (ssize_t)sizeof(cmd) || (m.mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		if (fd >= 0)
			(void)close(fd);
		return;
	}
	if (cmd.op == SENTRY_ADD && fd >= 0) {
		chan_add(&cmd, fd);
		return;
	}
	if (cmd.op == SENTRY_ADD) {     /* the fd did not come (MSG_CTRUNC, EMFILE): say so */
		refuse_chan(cmd.id, EMFILE);
		return;
	}
	if (fd >= 0)
		(void)close(fd);
	slot = find(cmd.id);
	if (cmd.op == SENTRY_DEL && slot >= 0)
		chan_del((unsigned)slot);
}

static int counts_pending(void)
{
	for (int i = 0; i < SENTRY_MAX_CHANS; i++)
		if (chans[i] && (chans[i]->rd.rx_bytes || chans[i]->rd.garbage ||
				 chans[i]->rd.rate_dropped))
			return 1;
	return 0;
}

void sentry_sandbox(const char *uid, const char *gid, const char *ppid, enum sentry_role role)
{
	who = role == SENTRY_PEERS ? "peer sentry" : "guest sentry";
	drop_privileges(uid, gid, ppid, role);
	enter_filter();
}

int sentry_main(int argc, char **argv)
{
	struct epoll_event e = { .events = EPOLLIN, .data.u32 = 0 };
	struct stat exe;
	char tag[96];

	enum sentry_role role;

	if (argc < 4)
		die("usage: " SENTRY_ARG " UID|- GID|- DAEMON_PID LAYOUT guests|peers", EINVAL);
	/* the daemon's binary may have been replaced since it started: the hand-over is this
	 * build's layout, so a different one must not talk to it */
	if (stat("/proc/self/exe", &exe) < 0)
		die("/proc/self/exe", errno);
	sentry_layout(tag, sizeof(tag), &exe);
	if (strcmp(argv[3], tag) != 0)
		_exit(SENTRY_EXIT_LAYOUT);
	if (argc < 5 || (strcmp(argv[4], "guests") != 0 && strcmp(argv[4], "peers") != 0))
		die("usage: " SENTRY_ARG " UID|- GID|- DAEMON_PID LAYOUT guests|peers", EINVAL);
	role = strcmp(argv[4], "peers") == 0 ? SENTRY_PEERS : SENTRY_GUESTS;
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, SENTRY_SOCK, &e) < 0)
		die("epoll", errno);
	sentry_sandbox(argv[0], argv[1], argv[2], role);
	for (;;) {
		struct epoll_event evs[32];
		int n = epoll_wait(ep, evs, 32, counts_pending() ? (int)GC_COUNTS_EVERY_MS : -1);
		uint64_t now = now_ms();

		if (n < 0 && errno != EINTR)
			_exit(1);
		for (int i = 0; i < n; i++) {
			uint32_t slot = evs[i].data.u32;

			if (slot == 0) {
				on_daemon();
				continue;
			}
			if (slot > SENTRY_MAX_CHANS || !chans[slot - 1])
				continue;
			if (gc_rd_read(&chans[slot - 1]->rd, chans[slot - 1]->fd, now, emit,
				       chans[slot - 1]) < 0)
				chan_del(slot - 1);
		}
		if (n == 0)
			for (int i = 0; i < SENTRY_MAX_CHANS; i++)
				if (chans[i])
					(void)gc_rd_flush(&chans[i]->rd, now, emit, chans[i]);
	}
}
