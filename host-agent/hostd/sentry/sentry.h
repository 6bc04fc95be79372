/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/sentry/sentry.h — the sentries: hybond-hostd's unprivileged, sandboxed
 * children that parse every untrusted byte stream the daemon reads (docs/security.md,
 * "Privilege separation").
 *
 * The daemon (root, CAP_NET_ADMIN, maybe SCHED_FIFO) hands each stream to a sentry
 * (SCM_RIGHTS over a SOCK_SEQPACKET socketpair): a VM's org.hybond.0 connection to the
 * guest sentry (it keeps writing to it itself), a socketpair carrying a peer daemon's
 * decrypted TLS stream to the peer sentry (peer/peer.c; TLS and its keys stay in the
 * daemon). A sentry — the daemon's own executable re-executed with SENTRY_ARG, so it
 * holds none of the daemon's memory (TLS keys, configuration) — drops to its own uid
 * with no capabilities, SCHED_OTHER (the peer sentry of a sched_fifo daemon: SCHED_FIFO,
 * bounded by RLIMIT_RTTIME), no new privileges, and a seccomp filter
 * (libseccomp) that allows reading, sending to the daemon, epoll, memory and exiting;
 * anything else kills it. It runs guest/gc_reader.c on each stream and sends the daemon
 * one message per gc_in: a fixed header and, for a message, hb_msg_pack()'s hand-over,
 * which the daemon checks with hb_msg_unpack() before acting on it (gc_input(), or the
 * link's callback). A sentry that sends anything that does not check out is killed; a
 * sentry that dies is restarted, every guest channel reconnects and every peer
 * connection it read closes.
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

#include "host-agent/hostd/guest/guestchan.h"

#define SENTRY_ARG "--guest-sentry"

/* Two instances run, each its own process: one reads every guest channel, the other
 * every peer daemon's decrypted stream (peer/peer.c hands it a socketpair per TLS
 * connection). A guest that gets its sentry killed does not cut the peer connections,
 * and a migration in flight with them. */
enum sentry_role {
	SENTRY_GUESTS,          /* nice SENTRY_NICE: a guest's flood costs it, not the VMs */
	SENTRY_PEERS,           /* the daemon's scheduling (SCHED_FIFO under sched_fifo, with
				 * RLIMIT_RTTIME): MIGRATE_STOPPED passes through it */
};
/* the peer sentry's CPU time at real-time priority without sleeping before SIGXCPU */
#define SENTRY_RTTIME_US 200000ul

/* daemon -> sentry */
enum { SENTRY_ADD = 1, SENTRY_DEL = 2 };
struct sentry_cmd {
	uint32_t op;            /* SENTRY_ADD (with the fd) or SENTRY_DEL */
	uint32_t id;            /* the daemon's name for the channel; never reused */
	uint32_t rate_per_s, burst;
	uint32_t max_payload;   /* frames above it are dropped from their header; 0: a
				 * guest's GC_GUEST_PAYLOAD_MAX */
	uint32_t pad_;
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
 * gid to run as ("-" when the daemon is not root), the daemon's pid, its layout tag
 * (sentry_layout) and the role ("guests" or "peers"). Returns the exit status. */
int sentry_main(int argc, char **argv);
/* The sandbox alone (what sentry_main enters before reading): no return to privileges;
 * a system call outside the filter kills the process (SIGSYS); it exits when its parent
 * is not @ppid (any more). Exits on failure. */
void sentry_sandbox(const char *uid, const char *gid, const char *ppid, enum sentry_role role);
/* This build's hand-over layout ("VERSION/sizes/DEV:INODE" of the executable: @exe is
 * its stat): the daemon passes its own, a sentry of another build — the binary replaced
 * since the daemon started, as a package upgrade does — exits with SENTRY_EXIT_LAYOUT
 * instead of talking to it. */
#define SENTRY_EXIT_LAYOUT 3
static inline void sentry_layout(char *out, size_t len, const struct stat *exe)
{
	(void)snprintf(out, len, "%s/%zu/%zu/%zu/%llx:%llx", HYBOND_VERSION,
		       sizeof(struct hb_msg), sizeof(struct sentry_ev), sizeof(struct sentry_cmd),
		       (unsigned long long)exe->st_dev,
		       (unsigned long long)exe->st_ino);
}

/* ---- the daemon's side (sentry_link.c) ---- */
struct loop;
struct sentry;

/* Start a sentry: @user the account it runs as when the daemon is root. NULL with a
 * message in @err when it cannot run. */
struct sentry *sentry_start(struct loop *l, const char *user, enum sentry_role role, char *err,
			    size_t errlen);
void sentry_stop(struct sentry *s);
pid_t sentry_pid(const struct sentry *s);
/* gc_set_reader(c, &sentry_reader_ops, s) */
extern const struct gc_reader_ops sentry_reader_ops;

/* A stream the sentry reads for a caller that is not a guest channel (the peer channel):
 * the sentry gets its own copy of @fd; what it makes of the bytes comes to @fn (a
 * GC_IN_MSG's msg valid during the call only), in order. A GC_IN_EOF ends the stream:
 * the sentry closed it (the other end closed, or it refused the stream: rc ENOSPC,
 * EMFILE), or the sentry died (rc ECONNABORTED) — the link is gone then, a
 * sentry_detach() of it is a no-op. 0 and the link's id in @id, or a negative errno
 * (-EAGAIN: the sentry is being restarted). */
typedef void (*sentry_fn)(void *arg, const struct gc_in *in);
int sentry_attach(struct sentry *s, int fd, uint32_t rate_per_s, uint32_t burst,
		  uint32_t max_payload, sentry_fn fn, void *arg, uint32_t *id);
/* The sentry closes its copy; nothing more comes to the link's fn. */
void sentry_detach(struct sentry *s, uint32_t id);

#endif
