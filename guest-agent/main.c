// SPDX-License-Identifier: LGPL-2.1-or-later
/* main.c — hybond-guestd: options, the epoll loop, the host channel, capture.
 *
 *   hybond-guestd [--channel PATH] [--config PATH] [--foreground] [-v]
 *   hybond-guestd --status [-j]
 *   hybond-guestd --capture DIR     (debug: write every RTM_NEWLINK/DELLINK)
 *   hybond-guestd --debug-no-rx-redirect ...  (measurement: no standby RX redirect)
 *
 * One loop: rtnetlink monitor, the virtio-serial port, a timerfd for every
 * deadline (the agent says when it next needs to run), the control socket,
 * a signalfd for SIGTERM/SIGINT, and the kernel shim's generic netlink
 * socket (optional: hybond_shim.ko, docs/kmod-shim.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/genetlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "agent.h"
#include "ctl.h"
#include "kmod-shim/hybond_genl.h"
#include "log.h"
#include "nlbuild.h"
#include "nlsock.h"
#include "shim.h"
#include "sys.h"

#define DEFAULT_CHANNEL "/dev/virtio-ports/" HB_PORT_NAME
#define DEFAULT_CONFIG  "/etc/hybond/guest.conf"
#define CHANNEL_RETRY_US 1000000ull   /* port missing (module not loaded yet): reopen */

struct daemon {
	struct gd_sys sys;
	struct gd_agent agent;
	struct gd_config cfg;
	struct hb_stream stream;
	const char *channel;
	int epfd, tfd, sfd, cfd;
	uint64_t chan_retry_us;
	int resync;               /* netlink dropped notifications: dump again */
	int no_rx_redirect;       /* --debug-no-rx-redirect */
	int shim_absent_logged;   /* "kernel shim not loaded" said once */
};

static struct daemon *daemon_alloc(void)
{
	return calloc(1, sizeof(struct daemon));
}

/* ---- netlink --------------------------------------------------------------- */

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct daemon *d = data;

	if (nlh->nlmsg_type == RTM_NEWLINK || nlh->nlmsg_type == RTM_DELLINK)
		gd_agent_link_msg(&d->agent, nlh, gd_now_us());
	return MNL_CB_OK;
}

/* The dump's messages are kept and applied after it finished: the agent
 * sends requests on the same socket while it reacts to them. */
struct link_dump {
	uint8_t *buf;
	size_t len, cap;
};

static int collect_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_dump *ld = data;

	if (ld->len + nlh->nlmsg_len > ld->cap) {
		size_t cap = (ld->cap + nlh->nlmsg_len) * 2;
		uint8_t *nb = realloc(ld->buf, cap);

		if (!nb)
			return MNL_CB_ERROR;
		ld->buf = nb;
		ld->cap = cap;
	}
	memcpy(ld->buf + ld->len, nlh, nlh->nlmsg_len);
	ld->len += MNL_ALIGN(nlh->nlmsg_len);
	return MNL_CB_OK;
}

static int dump_links(struct daemon *d)
{
	char buf[GD_NL_BUFSZ];
	struct link_dump ld = { NULL, 0, 0 };
	size_t off;
	int rc = gd_nls_dump(&d->sys.nl, gd_nl_dump(buf, 0, RTM_GETLINK), collect_cb, &ld);

	for (off = 0; rc == 0 && off < ld.len;) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)(ld.buf + off);

		(void)link_cb(nlh, d);
		off += MNL_ALIGN(nlh->nlmsg_len);
	}
	free(ld.buf);
	return rc;
}

/* ---- the kernel shim (hybond_shim.ko), optional ------------------------------- */

#define SHIM_ABSENT "unannounced unplugs are seen only after the VF is gone"

static void shim_found(struct daemon *d, const struct gd_shim_family *f)
{
	int rc;

	d->sys.nl.shim_family = f->id;
	if (!f->events_grp || f->events_grp == d->sys.nl.shim_grp)
		return;
	rc = gd_nls_shim_join(&d->sys.nl, f->events_grp);
	if (rc < 0) {
		gd_warn("kernel shim: cannot join its \"%s\" group: %s (needs CAP_NET_ADMIN); "
			SHIM_ABSENT, HYBOND_GENL_MCGRP_EVENTS, strerror(-rc));
		return;
	}
	d->sys.nl.shim_grp = f->events_grp;
	gd_agent_shim(&d->agent, true);
	gd_info("kernel shim loaded: subscribed to its events (family %u, group %u)%s", f->id,
		f->events_grp, d->agent.session ? "; KMOD_SHIM announced from the next HELLO" : "");
}

static void shim_lost(struct daemon *d)
{
	if (!d->sys.nl.shim_family)
		return;
	/* the kernel dropped the membership with the family */
	d->sys.nl.shim_family = 0;
	d->sys.nl.shim_grp = 0;
	gd_agent_shim(&d->agent, false);
	gd_info("kernel shim unloaded: " SHIM_ABSENT);
}

static void shim_msg(const struct nlmsghdr *nlh, void *data)
{
	struct daemon *d = data;
	struct gd_shim_family f;
	struct gd_shim_ev ev;
	int rc;

	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
			return;
		if (d->sys.nl.shim_family && e->msg.nlmsg_type == d->sys.nl.shim_family) {
			/* the answer to a RELEASE (the only request of the family) */
			if (e->error == 0)
				gd_debug("kernel shim: RELEASE acknowledged");
			else if (e->error == -ENOENT)
				gd_debug("kernel shim: RELEASE: no unplug barrier was waiting "
					 "(it had ended)");
			else
				gd_warn("kernel shim: RELEASE refused: %s", strerror(-e->error));
			return;
		}
		if (e->error == 0)
			return;         /* the ACK of GETFAMILY */
		if (e->error == -ENOENT) {
			if (d->sys.nl.shim_family)
				shim_lost(d);   /* its DELFAMILY was among lost messages */
			else if (!d->shim_absent_logged)
				gd_info("kernel shim not loaded: " SHIM_ABSENT);
			d->shim_absent_logged = 1;
		} else {
			gd_warn("kernel shim: nlctrl answered %s", strerror(-e->error));
		}
		return;
	}
	if (nlh->nlmsg_type == GENL_ID_CTRL) {
		rc = gd_shim_parse_ctrl(nlh, &f);
		if (rc < 0)
			gd_warn("kernel shim: malformed nlctrl message ignored");
		if (rc <= 0)
			return;
		if (f.cmd == CTRL_CMD_DELFAMILY)
			shim_lost(d);
		else if (f.cmd == CTRL_CMD_NEWFAMILY || f.cmd == CTRL_CMD_NEWMCAST_GRP)
			shim_found(d, &f);
		return;
	}
	if (!d->sys.nl.shim_family || nlh->nlmsg_type != d->sys.nl.shim_family)
		return;
	rc = gd_shim_parse(nlh, &ev);
	if (rc < 0)
		gd_warn("kernel shim: malformed event ignored (%u bytes)", nlh->nlmsg_len);
	else if (rc > 0)
		gd_agent_shim_event(&d->agent, &ev, gd_now_us());
}

static void on_shim(struct daemon *d)
{
	int rc;

	if (!d->sys.nl.shim)
		return;
	rc = gd_nls_shim_read(&d->sys.nl, shim_msg, d);
	if (rc == -ENOBUFS) {
		gd_warn("kernel shim: events lost (socket overrun): asking for the family again");
		d->sys.nl.shim_grp = 0;    /* join again: a lost DELFAMILY/NEWFAMILY dropped it */
		if (gd_nls_shim_query(&d->sys.nl) == 0)
			(void)gd_nls_shim_read(&d->sys.nl, shim_msg, d);
	} else if (rc < 0) {
		gd_err("kernel shim socket: %s", strerror(-rc));
	}
}

static void on_netlink(struct daemon *d)
{
	int rc;

	/* The shim's UNPLUG_STARTING precedes the VF's removal in the kernel:
	 * read it first, so that VF_LEAVING goes out before VF_VANISHED. */
	on_shim(d);
	rc = gd_nls_monitor_read(&d->sys.nl, link_cb, d);

	if (rc == -ENOBUFS) {
		gd_warn("netlink notifications lost: re-reading all links");
		(void)dump_links(d);
	} else if (rc < 0) {
		gd_err("netlink monitor: %s", strerror(-rc));
	}
}

/* ---- the host channel ------------------------------------------------------- */

static void channel_close(struct daemon *d)
{
	if (d->sys.chan_fd < 0)
		return;
	(void)epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->sys.chan_fd, NULL);
	(void)close(d->sys.chan_fd);
	d->sys.chan_fd = -1;
	gd_agent_channel(&d->agent, false, gd_now_us());
}

static void channel_open(struct daemon *d)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.fd = -2 };
	int fd = open(d->channel, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		if (!d->chan_retry_us)
			gd_warn("cannot open %s: %s (retrying every second)", d->channel,
				strerror(errno));
		d->chan_retry_us = gd_now_us() + CHANNEL_RETRY_US;
		return;
	}
	d->chan_retry_us = 0;
	d->sys.chan_fd = fd;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		gd_err("epoll: %s", strerror(errno));
	gd_info("channel %s open", d->channel);
}

/* Edge-triggered: read everything, then look at whether the host is there
 * (virtio_console reports POLLHUP while no host side is connected, and wakes
 * us when it connects). */
static void on_channel(struct daemon *d)
{
	struct pollfd pfd = { .fd = d->sys.chan_fd, .events = POLLIN | POLLOUT };
	uint64_t now;

	for (;;) {
		size_t room;
		uint8_t *w = hb_stream_wptr(&d->stream, &room);
		ssize_t n = room ? read(d->sys.chan_fd, w, room) : 0;
		struct hb_frame f;
		int rc;

		if (n > 0)
			hb_stream_commit(&d->stream, (size_t)n);
		now = gd_now_us();
		while ((rc = hb_stream_next(&d->stream, &f, NULL)) != 0)
			gd_agent_frame(&d->agent, rc, &f, now);
		if (n <= 0)
			break;
	}
	if (poll(&pfd, 1, 0) < 0)
		return;
	if (pfd.revents & POLLHUP) {
		if (d->agent.connected)
			hb_stream_reset(&d->stream);
		gd_agent_channel(&d->agent, false, gd_now_us());
	} else {
		if (!d->agent.connected)
			hb_stream_reset(&d->stream);   /* a new peer: nothing before counts */
		gd_agent_channel(&d->agent, true, gd_now_us());
	}
}

/* ---- timers ------------------------------------------------------------------ */

static void arm_timer(struct daemon *d)
{
	uint64_t next = gd_agent_next_us(&d->agent), now = gd_now_us();
	struct itimerspec its;

	if (d->chan_retry_us && (!next || d->chan_retry_us < next))
		next = d->chan_retry_us;
	memset(&its, 0, sizeof(its));
	if (next) {
		/* TFD_TIMER_ABSTIME on CLOCK_MONOTONIC; never 0 (that disarms) */
		if (next <= now)
			next = now + 1;
		its.it_value.tv_sec = (time_t)(next / 1000000ull);
		its.it_value.tv_nsec = (long)(next % 1000000ull) * 1000;
	}
	(void)timerfd_settime(d->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void on_timer(struct daemon *d)
{
	uint64_t exp, now = gd_now_us();

	if (read(d->tfd, &exp, sizeof(exp)) < 0 && errno != EAGAIN)
		gd_debug("timerfd: %s", strerror(errno));
	if (d->chan_retry_us && now >= d->chan_retry_us)
		channel_open(d);
	gd_agent_tick(&d->agent, now);
}

/* ---- setup and loop -------------------------------------------------------------- */

static int add_fd(struct daemon *d, int fd, int tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = tag };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
}

enum { TAG_NL = 1, TAG_TIMER, TAG_SIGNAL, TAG_CTL, TAG_SHIM, TAG_CHAN = -2 };

/* "0".."86400" into *out: 0, or -1 (not a whole number in range) */
static int parse_seconds(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 86400)
		return -1;
	*out = (int)v;
	return 0;
}

static int run_daemon(struct daemon *d)
{
	sigset_t mask;
	int rc, running = 1;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGPIPE);
	(void)sigprocmask(SIG_BLOCK, &mask, NULL);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	sigdelset(&mask, SIGPIPE);
	d->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	rc = gd_sys_open(&d->sys);
	d->sys.no_rx_redirect = d->no_rx_redirect;
	if (d->epfd < 0 || d->tfd < 0 || d->sfd < 0 || rc < 0) {
		gd_err("setup: %s", strerror(rc < 0 ? -rc : errno));
		return 1;
	}
	d->cfd = gd_ctl_listen(GD_CTL_PATH);
	if (d->cfd < 0)
		gd_warn("control socket %s: %s (--status unavailable)", GD_CTL_PATH,
			strerror(-d->cfd));
	hb_stream_init(&d->stream);
	gd_agent_init(&d->agent, &d->cfg, &gd_sys_ops, &d->sys,
		      HB_CAP_NET_FAILOVER | HB_CAP_BONDING);
	if (add_fd(d, mnl_socket_get_fd(d->sys.nl.mon), TAG_NL) < 0 ||
	    add_fd(d, d->tfd, TAG_TIMER) < 0 || add_fd(d, d->sfd, TAG_SIGNAL) < 0 ||
	    (d->cfd >= 0 && add_fd(d, d->cfd, TAG_CTL) < 0)) {
		gd_err("epoll: %s", strerror(errno));
		return 1;
	}
	rc = dump_links(d);
	if (rc < 0)
		gd_err("reading links: %s", strerror(-rc));
	gd_agent_links_complete(&d->agent, gd_now_us());
	/* before the channel: the first HELLO already says whether the shim is
	 * there (nlctrl answers within the send, so the answer is queued now) */
	rc = gd_nls_shim_open(&d->sys.nl);
	if (rc < 0)
		gd_warn("generic netlink: %s: kernel shim not used; " SHIM_ABSENT, strerror(-rc));
	else if (add_fd(d, mnl_socket_get_fd(d->sys.nl.shim), TAG_SHIM) < 0)
		gd_err("epoll: %s", strerror(errno));
	on_shim(d);
	gd_info("%s running: %d pair(s)", GD_AGENT_NAME, d->agent.npairs);
	channel_open(d);
	if (d->sys.chan_fd >= 0)
		on_channel(d);
	rc = 0;
	while (running) {
		struct epoll_event evs[8];
		int n, i;

		gd_agent_tick(&d->agent, gd_now_us());
		arm_timer(d);
		n = epoll_wait(d->epfd, evs, 8, -1);
		if (n < 0 && errno != EINTR) {
			gd_err("epoll_wait: %s", strerror(errno));
			rc = 1;         /* a failure: the unit's Restart=on-failure starts it again */
			break;
		}
		for (i = 0; i < n; i++) {
			switch (evs[i].data.fd) {
			case TAG_SHIM: on_shim(d); break;
			case TAG_NL: on_netlink(d); break;
			case TAG_TIMER: on_timer(d); break;
			case TAG_CTL:
				(void)dump_links(d);   /* fresh counters */
				gd_ctl_serve(d->cfd, &d->agent);
				break;
			case TAG_CHAN: if (d->sys.chan_fd >= 0) on_channel(d); break;
			case TAG_SIGNAL: running = 0; break;
			default: break;
			}
		}
	}
	gd_info("exiting; TX pins and RX redirects stay as they are (paths keep working)");
	channel_close(d);
	if (d->cfd >= 0) {
		(void)close(d->cfd);
		(void)unlink(GD_CTL_PATH);
	}
	gd_sys_close(&d->sys);
	return rc;
}

/* ---- capture mode: raw link messages as files (tests/data/netlink/) -------------- */

struct capture {
	const char *dir;
	unsigned int n;
};

static int capture_cb(const struct nlmsghdr *nlh, void *data)
{
	struct capture *c = data;
	struct gd_link l;
	char path[512];
	FILE *f;
	int rc = gd_link_parse(nlh, &l);

	if (rc < 0)
		return MNL_CB_OK;
	(void)snprintf(path, sizeof(path), "%s/%04u-%s-%s.bin", c->dir, c->n++,
		       rc ? "new" : "del", l.name[0] ? l.name : "unnamed");
	f = fopen(path, "we");
	if (!f || fwrite(nlh, 1, nlh->nlmsg_len, f) != nlh->nlmsg_len)
		gd_err("%s: %s", path, strerror(errno));
	if (f)
		(void)fclose(f);
	gd_info("captured %s (%s %s, bus %s, master %d)", path, rc ? "NEWLINK" : "DELLINK",
		l.name, l.parent_bus, l.master);
	return MNL_CB_OK;
}

static int run_capture(const char *dir, int seconds)
{
	uint64_t end_us = seconds > 0 ? gd_now_us() + (uint64_t)seconds * 1000000ull : 0;
	struct capture c = { .dir = dir, .n = 0 };
	struct gd_nls nl;
	char buf[GD_NL_BUFSZ];
	sigset_t mask;
	int sfd;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		gd_err("%s: %s", dir, strerror(errno));
		return 1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	(void)sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0 || gd_nls_open(&nl) < 0) {
		gd_err("setup: %s", strerror(errno));
		return 1;
	}
	(void)gd_nls_dump(&nl, gd_nl_dump(buf, 0, RTM_GETLINK), capture_cb, &c);
	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = mnl_socket_get_fd(nl.mon), .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
		};

		int wait_ms = -1;

		if (end_us) {
			uint64_t now = gd_now_us();

			if (now >= end_us)
				break;
			wait_ms = (int)((end_us - now) / 1000ull) + 1;
		}
		if (poll(fds, 2, wait_ms) < 0 && errno != EINTR)
			break;
		if (fds[1].revents)
			break;
		if (fds[0].revents)
			(void)gd_nls_monitor_read(&nl, capture_cb, &c);
	}
	gd_nls_close(&nl);
	(void)close(sfd);
	return 0;
}

/* ---- options ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
	(void)fputs(
		"usage: hybond-guestd [--channel PATH] [--config PATH] [--foreground] [-v]\n"
		"       hybond-guestd --status [-j]\n"
		"       hybond-guestd --capture DIR [--capture-seconds S]\n"
		"\n"
		"  -c, --channel PATH   virtio-serial port (default " DEFAULT_CHANNEL ")\n"
		"  -C, --config PATH    configuration (default " DEFAULT_CONFIG ")\n"
		"  -f, --foreground     stay in the foreground (default: daemonize)\n"
		"  -v, --verbose        debug log lines too\n"
		"      --version        print the version and exit\n"
		"  -s, --status         print the running daemon's pairs and paths\n"
		"  -j, --json           with --status: JSON\n"
		"      --capture DIR    write every RTM_NEWLINK/RTM_DELLINK as DIR/NNNN-*.bin\n"
		"                       until SIGTERM (for tests/data/netlink)\n"
		"      --capture-seconds S  stop capturing after S seconds\n"
		"      --debug-no-rx-redirect  measurement only: do not make the standby accept\n"
		"                       RX while a VF is registered (and remove a redirect left\n"
		"                       by a previous agent); frames on the standby are dropped\n"
		"                       by net_failover while a VF exists\n"
		"See hybond-guestd(8).\n",
		f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "channel", required_argument, NULL, 'c' },
		{ "config", required_argument, NULL, 'C' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "status", no_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "capture", required_argument, NULL, 'K' },
		{ "capture-seconds", required_argument, NULL, 'T' },
		{ "debug-no-rx-redirect", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = DEFAULT_CONFIG, *capture = NULL;
	int c, status = 0, json = 0, foreground = 0, capture_s = 0, rc;
	struct daemon *d;
	char err[256];

	d = daemon_alloc();
	if (!d)
		return 1;
	d->channel = DEFAULT_CHANNEL;
	while ((c = getopt_long(argc, argv, "c:C:fvsjh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': d->channel = optarg; break;
		case 'C': config = optarg; break;
		case 'f': foreground = 1; break;
		case 'v': gd_log_level++; break;
		case 's': status = 1; break;
		case 'j': json = 1; break;
		case 'K': capture = optarg; break;
		case 'T':
			if (parse_seconds(optarg, &capture_s)) {
				gd_err("--capture-seconds '%s': want a whole number of seconds, "
				       "0..86400", optarg);
				free(d);
				return 2;
			}
			break;
		case 'R': d->no_rx_redirect = 1; break;
		case 'h': usage(stdout); free(d); return 0;
		case 'V': (void)printf("%s\n", GD_AGENT_NAME); free(d); return 0;
		default: usage(stderr); free(d); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		free(d);
		return 2;
	}
	if (status) {
		free(d);
		return gd_ctl_status(GD_CTL_PATH, json);
	}
	if (capture) {
		free(d);
		return run_capture(capture, capture_s);
	}
	if (gd_config_load(&d->cfg, config, err, sizeof(err)) < 0) {
		gd_err("%s: %s", config, err);
		free(d);
		return 2;
	}
	if (!foreground && daemon(0, 1) < 0) {
		gd_err("daemon: %s", strerror(errno));
		free(d);
		return 1;
	}
	rc = run_daemon(d);
	free(d);
	return rc;
}
