/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/guest/sentry.h — the guest sentry: hybond-hostd's unprivileged,
 * sandboxed child that reads every guest channel (docs/security.md, "Privilege
 * separation").
 *
 * The daemon (root, CAP_NET_ADMIN, maybe SCHED_FIFO) connects each VM's org.hybond.0
 * socket and hands the connection to the sentry (SCM_RIGHTS over a SOCK_SEQPACKET
 * socketpair); it keeps writing to it itself. The sentry — the daemon's own executable
 * re-executed with SENTRY_ARG, so it holds none of the daemon's memory (TLS keys,
 * configuration) — drops to its own uid with no capabilities, SCHED_OTHER, no new
 * privileges, and a seccomp filter (libseccomp) that allows reading, sending to the
 * daemon, epoll, memory and exiting; anything else kills it. It runs gc_reader.c on
 * each channel and sends the daemon one message per gc_in: a fixed header and, for a
 * message, hb_msg_pack()'s hand-over, which the daemon checks with hb_msg_unpack()
 * before gc_input() acts on it. A sentry that sends anything that does not check out
 * is killed; a sentry that dies is restarted and every channel reconnects.
 */
#ifndef HYBOND_SENTRY_H
#define HYBOND_SENTRY_H

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <stdio.h>
#include <sys/stat.h>

#include <hybond/version.h>

#include "guestchan.h"

#define SENTRY_ARG "--guest-sentry"

/* daemon -> sentry */
enum { SENTRY_ADD = 1, SENTRY_DEL = 2 };
struct sentry_cmd {
	uint32_t op;            /* SENTRY_ADD (with the fd) or SENTRY_DEL */
	uint32_t id;            /* the daemon's name for the channel; never reused */
	uint32_t rate_per_s, burst;
};

/* One struct sentry_cmd with room for one fd (SCM_RIGHTS), ready for sendmsg/recvmsg. */
struct sentry_cmsg {
	struct sentry_cmd cmd;
	struct iovec iov;
	/* >= CMSG_SPACE(sizeof(int)), which is not a constant for clang; no union with
	 * struct cmsghdr (its flexible array would make this struct variable-sized) */
	_Alignas(struct cmsghdr) char ctl[32];
	struct msghdr mh;
};

static inline void sentry_cmsg_init(struct sentry_cmsg *m)
{
	memset(m, 0, sizeof(*m));
	m->iov.iov_base = &m->cmd;
	m->iov.iov_len = sizeof(m->cmd);
	m->mh.msg_iov = &m->iov;
	m->mh.msg_iovlen = 1;
	m->mh.msg_control = m->ctl;
	m->mh.msg_controllen = CMSG_SPACE(sizeof(int));
}

/* sentry -> daemon: the header, then (GC_IN_MSG) hb_msg_pack()'s hand-over */
struct sentry_ev {
	uint32_t id;
	uint32_t pad_;
	struct gc_in in;        /* in.msg is not sent (NULL) */
};
#define SENTRY_EV_MAX (sizeof(struct sentry_ev) + HB_PACK_MAX)

/* The sentry's life after exec (fd 3: its socket): argv after SENTRY_ARG are the uid and
 * gid to run as ("-" when the daemon is not root), the daemon's pid and its layout tag
 * (sentry_layout). Returns the exit status. */
int sentry_main(int argc, char **argv);
/* The sandbox alone (what sentry_main enters before reading): no return to privileges;
 * a system call outside the filter kills the process (SIGSYS); it exits when its parent
 * is not @ppid (any more). Exits on failure. */
void sentry_sandbox(const char *uid, const char *gid, const char *ppid);
/* This build's hand-over layout ("VERSION/sizes/DEV:INODE" of the executable: @exe is
 * its stat): the daemon passes its own, a sentry of another build — the binary replaced
 * since the daemon started, as a package upgrade does — exits with SENTRY_EXIT_LAYOUT
 * instead of talking to it. */
#define SENTRY_EXIT_LAYOUT 3
static inline void sentry_layout(char *out, size_t len, const struct stat *exe)
{
	(void)snprintf(out, len, "%s/%zu/%zu/%llx:%llx", HYBOND_VERSION, sizeof(struct hb_msg),
		       sizeof(struct sentry_ev), (unsigned long long)exe->st_dev,
		       (unsigned long long)exe->st_ino);
}

/* ---- the daemon's side (sentry_link.c) ---- */
struct loop;
struct sentry;

/* Start the sentry: @user the account it runs as when the daemon is root. NULL with a
 * message in @err when it cannot run. */
struct sentry *sentry_start(struct loop *l, const char *user, char *err, size_t errlen);
void sentry_stop(struct sentry *s);
pid_t sentry_pid(const struct sentry *s);
/* gc_set_reader(c, &sentry_reader_ops, s) */
extern const struct gc_reader_ops sentry_reader_ops;

#endif
