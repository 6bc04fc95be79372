// SPDX-License-Identifier: LGPL-2.1-or-later
/* probe_client.c — hybond-probe sender/receiver for the udp and icmp modes.
 *
 * One thread: the send schedule is absolute (packet k is due at
 * t0 + k / rate on CLOCK_MONOTONIC), the thread sleeps in ppoll() on the socket
 * until the next packet is due, and drains replies with recvmmsg() whenever the
 * socket is readable, so receiving never delays sending by more than one batch.
 * After falling behind (e.g. the process was descheduled) overdue packets go
 * out in bursts of at most HBP_CATCHUP_MAX with replies drained in between; a
 * lag over HBP_MAX_LAG_MS shifts the schedule instead and counts as a slip.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <linux/icmp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "probe_acct.h"
#include "probe_net.h"
#include "probe_report.h"
#include "probe_wire.h"

#define RX_BATCH   64
#define RX_BUFLEN  2048
#define SOCK_BUF   (4 * 1024 * 1024)
#define ICMP_HDR   8

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	if (g_stop < 2)
		g_stop++;
}

struct client {
	const struct hbp_client_opts *o;
	int fd;
	int raw;          /* icmp over SOCK_RAW (else SOCK_DGRAM "ping" socket) */
	uint16_t echo_id;
	uint64_t session;
	struct pa_acct acct;
	uint8_t tx[ICMP_HDR + HBP_MAX_LEN];
	size_t txlen;
	int have_final;
	uint64_t final_rx;
	int warned_send;
	struct mmsghdr msg[RX_BATCH];
	struct iovec iov[RX_BATCH];
	uint8_t buf[RX_BATCH][RX_BUFLEN];
	union {
		char c[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} ctrl[RX_BATCH];
};

static int64_t now_ns(clockid_t clk)
{
	struct timespec ts;
	(void)clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Offset of packet seq from the start of the schedule. */
static int64_t sched_off(uint64_t seq, uint64_t rate)
{
	return (int64_t)(seq * 1000000000ull / rate);
}

static uint16_t inet_csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint64_t random_u64(void)
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = (uint64_t)now_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 32);
	return v ? v : 1;
}

static void set_bufs(int fd)
{
	int sz = SOCK_BUF;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

static int open_socket(struct client *c)
{
	const struct hbp_client_opts *o = c->o;
	int on = 1;

	if (o->mode == HBP_MODE_UDP) {
		c->fd = socket(o->target.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (c->fd < 0) {
			(void)fprintf(stderr, "hybond-probe: udp socket: %s\n", strerror(errno));
			return -1;
		}
	} else {
		c->fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
		c->raw = 1;
		if (c->fd < 0 && (errno == EPERM || errno == EACCES)) {
			c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);
			c->raw = 0;
		}
		if (c->fd < 0) {
			(void)fprintf(stderr,
				      "hybond-probe: icmp socket: %s (needs CAP_NET_RAW, or the group in "
				      "net.ipv4.ping_group_range)\n",
				      strerror(errno));
			return -1;
		}
		if (c->raw) {
			/* ICMP_FILTER: a bit set drops that type; keep only echo replies. */
			uint32_t mask = ~(1u << ICMP_ECHOREPLY);
			(void)setsockopt(c->fd, SOL_RAW, ICMP_FILTER, &mask, sizeof(mask));
		}
	}
	set_bufs(c->fd);
	if (setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) < 0 && !o->quiet)
		(void)fprintf(stderr, "hybond-probe: SO_TIMESTAMPNS: %s (using clock_gettime)\n",
			      strerror(errno));
	return 0;
}

static int send_packet(struct client *c, uint8_t type, uint64_t seq, int64_t *send_rt)
{
	const struct hbp_client_opts *o = c->o;
	struct hbp_pkt p;
	memset(&p, 0, sizeof(p));
	p.type = type;
	p.session = c->session;
	p.seq = seq;
	p.send_ns = now_ns(CLOCK_REALTIME);
	*send_rt = p.send_ns;
	if (o->mode == HBP_MODE_ICMP) {
		hbp_encode(c->tx + ICMP_HDR, &p);
		c->tx[0] = ICMP_ECHO;
		c->tx[1] = 0;
		c->tx[2] = c->tx[3] = 0;
		c->tx[4] = (uint8_t)(c->echo_id >> 8);
		c->tx[5] = (uint8_t)c->echo_id;
		c->tx[6] = (uint8_t)(seq >> 8);
		c->tx[7] = (uint8_t)seq;
		uint16_t cs = inet_csum(c->tx, c->txlen);
		c->tx[2] = (uint8_t)(cs >> 8);
		c->tx[3] = (uint8_t)cs;
	} else {
		hbp_encode(c->tx, &p);
	}
	ssize_t n = sendto(c->fd, c->tx, c->txlen, 0, (const struct sockaddr *)&o->target.ss,
			   o->target.len);
	if (n == (ssize_t)c->txlen)
		return 0;
	if (!c->warned_send && !o->quiet) {
		(void)fprintf(stderr, "hybond-probe: send: %s (counted as sent and lost; further "
			      "errors not shown)\n", n < 0 ? strerror(errno) : "short write");
		c->warned_send = 1;
	}
	return -1;
}

/* The payload of a datagram, or NULL if it is not an echo reply of ours. */
static const uint8_t *icmp_payload(const struct client *c, const uint8_t *b, size_t len,
				   size_t *plen)
{
	if (c->raw) {
		if (len < 20 || (b[0] >> 4) != 4)
			return NULL;
		size_t ihl = (size_t)(b[0] & 0x0f) * 4;
		if (ihl < 20 || len < ihl + ICMP_HDR)
			return NULL;
		b += ihl;
		len -= ihl;
		if (((uint16_t)(b[4] << 8 | b[5])) != c->echo_id)
			return NULL;
	} else if (len < ICMP_HDR) {
		return NULL;
	}
	if (b[0] != ICMP_ECHOREPLY || b[1] != 0)
		return NULL;
	*plen = len - ICMP_HDR;
	return b + ICMP_HDR;
}

static void handle_datagram(struct client *c, const uint8_t *b, size_t len, int64_t rx_ns)
{
	struct hbp_pkt p;
	if (c->o->mode == HBP_MODE_ICMP) {
		b = icmp_payload(c, b, len, &len);
		if (!b)
			return;
	}
	if (hbp_decode(b, len, &p) < 0 || p.session != c->session)
		return;
	if (c->o->mode == HBP_MODE_ICMP && p.type == HBP_T_REQ) {
		(void)pa_on_reply(&c->acct, p.seq, p.send_ns, rx_ns, 0);
	} else if (c->o->mode == HBP_MODE_UDP && p.type == HBP_T_REPLY) {
		(void)pa_on_reply(&c->acct, p.seq, p.send_ns, rx_ns, p.rx_count);
	} else if (c->o->mode == HBP_MODE_UDP && p.type == HBP_T_STATS_REPLY) {
		c->have_final = 1;
		c->final_rx = p.rx_count;
	}
}

static int64_t rx_timestamp(struct msghdr *mh, int64_t fallback)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;
			memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
			return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		}
	}
	return fallback;
}

/* Reads what is queued, at most a few batches so sending is not held up. */
static void drain(struct client *c)
{
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < RX_BATCH; i++) {
			c->iov[i].iov_base = c->buf[i];
			c->iov[i].iov_len = RX_BUFLEN;
			memset(&c->msg[i], 0, sizeof(c->msg[i]));
			c->msg[i].msg_hdr.msg_iov = &c->iov[i];
			c->msg[i].msg_hdr.msg_iovlen = 1;
			c->msg[i].msg_hdr.msg_control = c->ctrl[i].c;
			c->msg[i].msg_hdr.msg_controllen = sizeof(c->ctrl[i].c);
		}
		int n = recvmmsg(c->fd, c->msg, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		int64_t fallback = now_ns(CLOCK_REALTIME);
		for (int i = 0; i < n; i++)
			handle_datagram(c, c->buf[i], c->msg[i].msg_len,
					rx_timestamp(&c->msg[i].msg_hdr, fallback));
		if (n < RX_BATCH)
			return;
	}
}

/* Waits for replies until the monotonic deadline (or nothing is due any more). */
static void wait_until(struct client *c, int64_t deadline_mono)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int64_t left = deadline_mono - now_ns(CLOCK_MONOTONIC);
	if (left < 0)
		left = 0;
	struct timespec ts = { .tv_sec = (time_t)(left / 1000000000), .tv_nsec = (long)(left % 1000000000) };
	int n = ppoll(&pfd, 1, &ts, NULL);
	if (n > 0 && (pfd.revents & (POLLIN | POLLERR)))
		drain(c);
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
}

static int run(struct client *c, struct hbp_run_info *info, struct pa_result *res)
{
	const struct hbp_client_opts *o = c->o;
	uint64_t seq = 0, slips = 0;
	uint64_t lag_max = o->rate * HBP_MAX_LAG_MS / 1000;
	if (lag_max < HBP_CATCHUP_MAX)
		lag_max = HBP_CATCHUP_MAX;
	int64_t send_rt;

	int64_t t0 = now_ns(CLOCK_MONOTONIC);
	int64_t start_rt = now_ns(CLOCK_REALTIME);
	while (seq < o->packets && !g_stop) {
		int64_t now = now_ns(CLOCK_MONOTONIC);
		int64_t due = t0 + sched_off(seq, o->rate);
		if (now < due) {
			wait_until(c, due);
			continue;
		}
		/* Packets due by now: seq .. last (inclusive). */
		uint64_t last = (uint64_t)(now - t0) * o->rate / 1000000000ull;
		if (last >= o->packets)
			last = o->packets - 1;
		if (last < seq)
			last = seq;
		if (last - seq + 1 > lag_max) {
			/* Too far behind: keep one burst's worth, shift the rest. */
			last = seq + HBP_CATCHUP_MAX - 1;
			t0 = now - sched_off(last, o->rate);
			slips++;
		}
		if (last - seq + 1 > HBP_CATCHUP_MAX)
			last = seq + HBP_CATCHUP_MAX - 1;
		for (; seq <= last; seq++) {
			int ok = send_packet(c, HBP_T_REQ, seq, &send_rt) == 0;
			(void)pa_on_send(&c->acct, seq, send_rt, ok);
		}
		drain(c);
	}

	/* The schedule's end in realtime: replies after it are "late". */
	int64_t now_m = now_ns(CLOCK_MONOTONIC);
	int64_t sched_end = t0 + sched_off(seq, o->rate);
	pa_set_late_after(&c->acct, now_ns(CLOCK_REALTIME) + (sched_end - now_m));

	int64_t deadline = (sched_end > now_m ? sched_end : now_m) + (int64_t)o->grace_ms * 1000000;
	while (g_stop < 2 && c->acct.received < c->acct.sent && now_ns(CLOCK_MONOTONIC) < deadline)
		wait_until(c, deadline);

	/* udp: ask the responder how many requests it got (resolves a trailing run). */
	if (o->mode == HBP_MODE_UDP) {
		for (int attempt = 0; attempt < 3 && !c->have_final && g_stop < 2; attempt++) {
			if (send_packet(c, HBP_T_STATS_REQ, 0, &send_rt) < 0)
				break;
			int64_t until = now_ns(CLOCK_MONOTONIC) + 100000000;
			while (!c->have_final && g_stop < 2 && now_ns(CLOCK_MONOTONIC) < until)
				wait_until(c, until);
		}
		if (c->have_final)
			pa_set_final_rx(&c->acct, c->final_rx);
	}
	pa_set_times(&c->acct, start_rt, now_ns(CLOCK_REALTIME));

	info->schedule_slips = slips;
	info->interrupted = g_stop != 0;
	info->final_rx_known = c->have_final;
	info->final_rx = c->final_rx;
	if (pa_finish(&c->acct, res) < 0) {
		(void)fprintf(stderr, "hybond-probe: out of memory\n");
		return -1;
	}
	return 0;
}

int hbp_run_client(const struct hbp_client_opts *o)
{
	struct client *c = calloc(1, sizeof(*c));
	struct pa_result res;
	int rc = HBP_EXIT_RUNTIME;

	memset(&res, 0, sizeof(res));
	if (!c) {
		(void)fprintf(stderr, "hybond-probe: out of memory\n");
		return HBP_EXIT_RUNTIME;
	}
	c->o = o;
	c->fd = -1;
	c->session = random_u64();
	c->echo_id = (uint16_t)(c->session >> 48);
	c->txlen = o->size + (o->mode == HBP_MODE_ICMP ? ICMP_HDR : 0);
	if (pa_init(&c->acct, o->packets, (int64_t)(1000000000ull / o->rate),
		    o->mode == HBP_MODE_UDP) < 0) {
		(void)fprintf(stderr, "hybond-probe: cannot allocate accounting for %" PRIu64
			      " packets: %s\n", o->packets, strerror(errno));
		free(c);
		return HBP_EXIT_RUNTIME;
	}
	if (open_socket(c) < 0)
		goto out;

	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	install_signals();

	struct hbp_run_info info;
	memset(&info, 0, sizeof(info));
	info.mode = o->mode == HBP_MODE_UDP ? "udp" : "icmp";
	info.target = o->target.text;
	info.rate_pps = o->rate;
	info.duration_s = o->duration;
	info.grace_ms = o->grace_ms;
	info.size = o->size;
	info.session = c->session;

	if (run(c, &info, &res) < 0)
		goto out;
	rc = HBP_EXIT_OK;
	if (o->json) {
		if (hbp_print_json(stdout, &info, &res) < 0) {
			(void)fprintf(stderr, "hybond-probe: cannot write the JSON result\n");
			rc = HBP_EXIT_RUNTIME;
		}
	} else if (!o->quiet) {
		if (hbp_print_text(stdout, &info, &res) < 0) {
			(void)fprintf(stderr, "hybond-probe: cannot write the result\n");
			rc = HBP_EXIT_RUNTIME;
		}
	}
out:
	pa_result_free(&res);
	pa_free(&c->acct);
	if (c->fd >= 0)
		(void)close(c->fd);
	free(c);
	return rc;
}
