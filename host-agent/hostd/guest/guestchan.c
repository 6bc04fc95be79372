/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/guest/guestchan.c — the host end of the guest channel (see guestchan.h).
 *
 * Reading: gc_reader.c turns the guest's bytes into gc_in (a decoded message, a
 * dropped frame's header, the end, counters) — in the channel itself (direct mode), or
 * in hybond-hostd's guest sentry, an unprivileged sandboxed child that hands gc_in over
 * (gc_set_reader(), sentry.c); either way gc_input() below acts on them, and this file
 * never looks at a byte the guest sent.
 *
 * Writing: frames are encoded straight into a bounded output buffer and
 * flushed with non-blocking send(); a guest that stops reading fills it,
 * after which replies (ERROR, HELLO_ACK, PONG) are dropped and counted and
 * requests fail with -ENOBUFS.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "guestchan.h"

#include <hybond/version.h>

/* Guest-induced warnings logged per second before they are summarised. */
#define GC_LOGS_PER_S       10
/* A guest HELLO this soon after the previous one is a repeat: logged within the
 * guest-caused log budget, not every time. */
#define GC_HELLO_REPEAT_MS  10000u
#define GC_VER_MIN          HB_VERSION(HB_VERSION_MAJOR, 0)
#define GC_VER_MAX          HB_VERSION_CURRENT

struct gc_slot {
	struct gc_request r;
	int used;
};

struct gc_chan {
	struct gc_config cfg;
	struct gc_ops ops;
	void *arg;
	char name[64];
	char agent[64];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;
	int session;
	uint32_t seq;
	struct gc_peer peer;
	struct gc_stats st;
	struct gc_slot pend[GC_MAX_PENDING];
	unsigned consecutive_timeouts;

	uint64_t hello_at_ms;       /* when to send our HELLO (0: not scheduled) */
	uint64_t guest_hello_ms;    /* the guest's last HELLO (a storm is logged like garbage) */
	uint64_t reconnect_at_ms;   /* when to try connecting again (0: not scheduled) */
	uint32_t reconnect_delay_ms;

	/* reading elsewhere (the guest sentry): gc_set_reader() */
	struct gc_reader_ops rops;
	void *rarg;
	int attached;
	uint64_t io_now_ms;         /* the time of the gc_handle_io call reading (direct) */
	/* once-per-second summaries of what the guest made us drop */
	uint64_t summary_ms;
	uint64_t sum_rate_dropped, sum_garbage, sum_bad, sum_logs_suppressed;
	unsigned logs_this_second;
	uint64_t logs_second;

	size_t out_len;
	uint8_t out[GC_OUT_MAX];
	struct gc_rd rd;            /* direct mode's reader (64 KiB) */
};

/* ---- small helpers -------------------------------------------------------- */

/* gc_now_ms - CLOCK_MONOTONIC in milliseconds: the time every gc_* call takes. */
uint64_t gc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void gc_log(struct gc_chan *c, enum gc_log_prio prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void gc_log(struct gc_chan *c, enum gc_log_prio prio, const char *fmt, ...)
{
	char msg[448], line[448 + 64 + 16];
	va_list ap;

	if (!c->ops.on_log)
		return;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): false positive (va_start above) */
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)snprintf(line, sizeof(line), "guestchan %s: %s", c->name, msg);
	c->ops.on_log(c->arg, prio, line);
}

/* Warnings caused by the guest: at most GC_LOGS_PER_S a second, the rest counted. */
static int guest_log_allowed(struct gc_chan *c, uint64_t now_ms)
{
	if (now_ms / 1000u != c->logs_second) {
		c->logs_second = now_ms / 1000u;
		c->logs_this_second = 0;
	}
	if (c->logs_this_second >= GC_LOGS_PER_S) {
		c->sum_logs_suppressed++;
		return 0;
	}
	c->logs_this_second++;
	return 1;
}

static uint32_t cfg_rate(const struct gc_chan *c)
{
	return c->cfg.rate_per_s ? c->cfg.rate_per_s : GC_RATE_PER_S_DEF;
}

static uint32_t cfg_burst(const struct gc_chan *c)
{
	return c->cfg.burst ? c->cfg.burst : GC_BURST_DEF;
}

/* Once a second: one line for everything the guest made us drop. */
static void flush_summary(struct gc_chan *c, uint64_t now_ms, int force)
{
	if (!force && now_ms < c->summary_ms + 1000u)
		return;
	if (c->sum_rate_dropped || c->sum_garbage || c->sum_bad || c->sum_logs_suppressed)
		gc_log(c, GC_LOG_WARN,
		       "from the guest in the last %.1f s: %llu frames over the rate limit "
		       "(%u/s) dropped, %llu garbage bytes skipped, %llu bad frames dropped, "
		       "%llu log lines suppressed",
		       (double)(now_ms - c->summary_ms) / 1000.0,
		       (unsigned long long)c->sum_rate_dropped, cfg_rate(c),
		       (unsigned long long)c->sum_garbage, (unsigned long long)c->sum_bad,
		       (unsigned long long)c->sum_logs_suppressed);
	c->sum_rate_dropped = c->sum_garbage = c->sum_bad = c->sum_logs_suppressed = 0;
	c->summary_ms = now_ms;
}

/* ---- construction ------------------------------------------------------------ */

/*
 * gc_new - a disconnected channel.  @cfg strings are copied; @ops is
 * copied; @arg is passed to every callback.  Returns NULL on ENOMEM or
 * EINVAL (path too long).
 */
struct gc_chan *gc_new(const struct gc_config *cfg, const struct gc_ops *ops, void *arg)
{
	struct gc_chan *c;

	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (cfg)
		c->cfg = *cfg;
	if (ops)
		c->ops = *ops;
	c->arg = arg;
	c->fd = -1;
	(void)snprintf(c->name, sizeof(c->name), "%s", c->cfg.name ? c->cfg.name : "-");
	(void)snprintf(c->agent, sizeof(c->agent), "%s",
		       c->cfg.agent ? c->cfg.agent : "hybond-host " HYBOND_VERSION);
	c->cfg.name = c->name;
	c->cfg.agent = c->agent;
	c->cfg.path = NULL;
	if (cfg && cfg->path && gc_set_path(c, cfg->path) < 0) {
		free(c);
		errno = EINVAL;
		return NULL;
	}
	c->reconnect_delay_ms = GC_RECONNECT_MIN_MS;
	gc_rd_init(&c->rd, cfg_rate(c), cfg_burst(c), 0);
	return c;
}

static void abandon_all(struct gc_chan *c, int keep_hello);

/* The connection ends here: its reader forgets it, the caller's poll set lets go of it
 * (the sentry may hold the same socket), then it is closed. */
static void close_fd(struct gc_chan *c)
{
	if (c->attached && c->rops.detach)
		c->rops.detach(c->rarg, c);
	c->attached = 0;
	if (c->ops.on_close_fd)
		c->ops.on_close_fd(c->arg, c->fd);
	(void)close(c->fd);
	c->fd = -1;
}

/* gc_free - close the fd; outstanding requests are reported GC_ABANDONED. */
void gc_free(struct gc_chan *c)
{
	if (!c)
		return;
	abandon_all(c, 0);
	if (c->fd >= 0)
		close_fd(c);
	free(c);
}

/* gc_set_path - the chardev socket to (re)connect to, e.g. after a migration. */
int gc_set_path(struct gc_chan *c, const char *path)
{
	if (!path || strlen(path) >= sizeof(c->path))
		return -EINVAL;
	memcpy(c->path, path, strlen(path) + 1);
	c->cfg.path = c->path;
	return 0;
}

const char *gc_answer_failure(const struct hb_msg *ans, int res)
{
	if (res == GC_TIMEOUT)
		return "timed out";
	if (res == GC_ABANDONED)
		return "abandoned";
	if (ans && ans->type == HB_MSG_ERROR)
		return ans->u.error.text ? ans->u.error.text : hb_error_code_name(ans->u.error.code);
	return NULL;
}

int gc_fd(const struct gc_chan *c)
{
	return c->fd;
}

int gc_connected(const struct gc_chan *c)
{
	return c->fd >= 0;
}

int gc_session_up(const struct gc_chan *c)
{
	return c->session;
}

const struct gc_peer *gc_peer(const struct gc_chan *c)
{
	return c->session ? &c->peer : NULL;
}

const struct gc_stats *gc_stats(const struct gc_chan *c)
{
	return &c->st;
}

int gc_want_write(const struct gc_chan *c)
{
	return c->fd >= 0 && c->out_len > 0;
}

unsigned gc_poll_events(const struct gc_chan *c)
{
	if (c->fd < 0)
		return 0;
	return (c->rops.attach ? 0 : POLLIN) | (c->out_len ? POLLOUT : 0);
}

void gc_set_reader(struct gc_chan *c, const struct gc_reader_ops *ops, void *arg)
{
	if (ops)
		c->rops = *ops;
	else
		memset(&c->rops, 0, sizeof(c->rops));
	c->rarg = arg;
}

size_t gc_pending(const struct gc_chan *c)
{
	size_t n = 0;

	for (size_t i = 0; i < GC_MAX_PENDING; i++)
		n += c->pend[i].used != 0;
	return n;
}

/* ---- connection --------------------------------------------------------------- */

static void on_connected(struct gc_chan *c, int fd, uint64_t now_ms)
{
	c->fd = fd;
	c->st.connects++;
	c->out_len = 0;
	gc_rd_init(&c->rd, cfg_rate(c), cfg_burst(c), now_ms);
	c->session = 0;
	c->consecutive_timeouts = 0;
	c->reconnect_at_ms = 0;
	c->reconnect_delay_ms = GC_RECONNECT_MIN_MS;
	/* the guest sends HELLO when it sees us; if it does not, we ask */
	c->hello_at_ms = now_ms + (c->cfg.hello_wait_ms ? c->cfg.hello_wait_ms
							: GC_HELLO_WAIT_MS_DEF);
	c->summary_ms = now_ms;
}

/* Reading elsewhere: hand the connection over; 0, or -errno (not connected then). */
static int attach_reader(struct gc_chan *c, uint64_t now_ms)
{
	int rc;

	if (!c->rops.attach)
		return 0;
	rc = c->rops.attach(c->rarg, c, c->fd, cfg_rate(c), cfg_burst(c));
	if (rc < 0) {
		gc_log(c, GC_LOG_ERR, "cannot hand the channel to its reader (the guest sentry): "
		       "%s; retrying", strerror(-rc));
		gc_disconnect(c, now_ms);
		return rc;
	}
	c->attached = 1;
	return 0;
}

/*
 * gc_attach_fd - use an already connected stream socket (tests: one end of
 * a socketpair).  The channel owns @fd from now on and makes it
 * non-blocking.  Returns 0 or -errno.
 */
int gc_attach_fd(struct gc_chan *c, int fd, uint64_t now_ms)
{
	int fl;

	if (fd < 0)
		return -EBADF;
	if (c->fd >= 0)
		gc_disconnect(c, now_ms);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	on_connected(c, fd, now_ms);
	gc_log(c, GC_LOG_DEBUG, "attached fd %d", fd);
	return attach_reader(c, now_ms);
}

/*
 * gc_connect - connect to the configured chardev socket.  Returns 0,
 * -EINVAL (no path), or -errno of socket()/connect() (ENOENT,
 * ECONNREFUSED: QEMU not there yet); on failure a retry is scheduled
 * unless no_reconnect is set.
 */
int gc_connect(struct gc_chan *c, uint64_t now_ms)
{
	struct sockaddr_un sa;
	int fd, err;

	if (!c->cfg.path)
		return -EINVAL;
	if (c->fd >= 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		err = errno;
		(void)close(fd);
		if (!c->cfg.no_reconnect) {
			c->reconnect_at_ms = now_ms + c->reconnect_delay_ms;
			c->reconnect_delay_ms = c->reconnect_delay_ms * 2 > GC_RECONNECT_MAX_MS
						? GC_RECONNECT_MAX_MS : c->reconnect_delay_ms * 2;
		}
		return -err;
	}
	on_connected(c, fd, now_ms);
	gc_log(c, GC_LOG_INFO, "connected to %s", c->path);
	return attach_reader(c, now_ms);
}

/* Report every outstanding request (but our HELLO if @keep_hello) as abandoned. */
static void abandon_all(struct gc_chan *c, int keep_hello)
{
	for (size_t i = 0; i < GC_MAX_PENDING; i++) {
		struct gc_slot *s = &c->pend[i];

		if (!s->used || (keep_hello && s->r.type == HB_MSG_HELLO))
			continue;
		s->used = 0;
		if (s->r.type != HB_MSG_HELLO && c->ops.on_answer)
			c->ops.on_answer(c->arg, &s->r, NULL, GC_ABANDONED);
	}
}

static void session_set(struct gc_chan *c, int up)
{
	if (c->session == up)
		return;
	c->session = up;
	if (c->ops.on_session)
		c->ops.on_session(c->arg, up);
}

/*
 * gc_disconnect - close the connection (also called when the peer went
 * away).  Outstanding requests are abandoned; with a path and without
 * no_reconnect, a reconnect is scheduled.
 */
void gc_disconnect(struct gc_chan *c, uint64_t now_ms)
{
	if (c->fd < 0)
		return;
	close_fd(c);
	c->st.disconnects++;
	c->out_len = 0;
	c->hello_at_ms = 0;
	flush_summary(c, now_ms, 1);
	abandon_all(c, 0);
	session_set(c, 0);
	if (c->cfg.path && !c->cfg.no_reconnect)
		c->reconnect_at_ms = now_ms + c->reconnect_delay_ms;
}

/* ---- output --------------------------------------------------------------------- */

static int flush_out(struct gc_chan *c, uint64_t now_ms)
{
	while (c->fd >= 0 && c->out_len) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == ENOTSOCK)
			n = write(c->fd, c->out, c->out_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			gc_log(c, GC_LOG_INFO, "write: %s; disconnecting", strerror(errno));
			gc_disconnect(c, now_ms);
			return -ENOTCONN;
		}
		c->st.tx_bytes += (uint64_t)n;
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	return 0;
}

/* Encode @m into the output buffer and try to send.  -ENOBUFS when full. */
static int queue_msg(struct gc_chan *c, const struct hb_msg *m, uint64_t now_ms)
{
	int n;

	if (c->fd < 0)
		return -ENOTCONN;
	n = hb_encode(c->out + c->out_len, sizeof(c->out) - c->out_len, m);
	if (n == HB_E_NOSPC)
		return -ENOBUFS;
	if (n < 0) {
		gc_log(c, GC_LOG_ERR, "cannot encode %s: %s", hb_msg_name(m->type),
		       hb_strerror(n));
		return -EINVAL;
	}
	c->out_len += (size_t)n;
	return flush_out(c, now_ms);
}

/* Queue an ERROR answering @hdr (never for answers or ERRORs: no loops). */
static void reply_error(struct gc_chan *c, const struct hb_hdr *hdr, uint32_t code,
			int detail, const char *text, uint64_t now_ms)
{
	int n;

	if (c->fd < 0 || (hdr->flags & HB_F_REPLY) || hdr->type == HB_MSG_ERROR)
		return;
	n = hb_encode_error(c->out + c->out_len, sizeof(c->out) - c->out_len, hdr, code,
			    detail, text);
	if (n < 0) {
		c->st.tx_dropped++;
		return;
	}
	c->out_len += (size_t)n;
	(void)flush_out(c, now_ms);
}

static void queue_reply(struct gc_chan *c, const struct hb_msg *m, uint64_t now_ms)
{
	if (queue_msg(c, m, now_ms) == -ENOBUFS)
		c->st.tx_dropped++;
}

/* ---- requests ------------------------------------------------------------------------ */

/*
 * gc_request - send @m as a request: its seq is assigned here (and written
 * back into m->seq); the answer, a timeout after @timeout_ms or an abandon
 * is reported once through on_answer with @cookie.  Returns 0
 * or -ENOTCONN, -EBUSY (GC_MAX_PENDING in flight), -ENOBUFS, -EINVAL.
 */
int gc_request(struct gc_chan *c, struct hb_msg *m, uint32_t timeout_ms, void *cookie,
	       uint64_t now_ms)
{
	struct gc_slot *slot = NULL;
	int rc;

	if (!m || !hb_msg_answer_type(m->type))
		return -EINVAL;
	if (c->fd < 0)
		return -ENOTCONN;
	for (size_t i = 0; i < GC_MAX_PENDING && !slot; i++)
		if (!c->pend[i].used)
			slot = &c->pend[i];
	if (!slot)
		return -EBUSY;
	m->seq = hb_seq_next(&c->seq);
	m->flags = 0;
	rc = queue_msg(c, m, now_ms);
	if (rc < 0)
		return rc;
	if (c->fd < 0)          /* the write found the peer gone */
		return -ENOTCONN;
	slot->used = 1;
	slot->r.seq = m->seq;
	slot->r.type = m->type;
	slot->r.sent_ms = now_ms;
	slot->r.deadline_ms = now_ms + timeout_ms;
	slot->r.cookie = cookie;
	return 0;
}

static void fill_hello(struct gc_chan *c, hb_HELLO_t *h)
{
	h->ver_min = GC_VER_MIN;
	h->ver_max = GC_VER_MAX;
	h->caps = c->cfg.caps;
	h->agent = c->agent;
}

/* gc_send_hello - open (or reopen) the session from the host side. */
int gc_send_hello(struct gc_chan *c, uint64_t now_ms)
{
	struct hb_msg m;

	hb_msg_init(&m, HB_MSG_HELLO, 0);
	fill_hello(c, &m.u.hello);
	c->hello_at_ms = 0;
	return gc_request(c, &m, GC_HELLO_TIMEOUT_MS, NULL, now_ms);
}

/* gc_prepare_switch - PREPARE_SWITCH; timeout = @deadline_ms + GC_TRANSPORT_MS. */
int gc_prepare_switch(struct gc_chan *c, uint32_t pair, uint8_t path, uint32_t deadline_ms,
		      void *cookie, uint64_t now_ms)
{
	struct hb_msg m;

	hb_msg_init(&m, HB_MSG_PREPARE_SWITCH, 0);
	m.u.prepare_switch.pair_id = pair;
	m.u.prepare_switch.path = path;
	m.u.prepare_switch.deadline_ms = deadline_ms;
	return gc_request(c, &m, deadline_ms + GC_TRANSPORT_MS, cookie, now_ms);
}

/* gc_resume_fast_path - RESUME_FAST_PATH; timeout = @deadline_ms + GC_TRANSPORT_MS. */
int gc_resume_fast_path(struct gc_chan *c, uint32_t pair, uint32_t deadline_ms, void *cookie,
			uint64_t now_ms)
{
	struct hb_msg m;

	hb_msg_init(&m, HB_MSG_RESUME_FAST_PATH, 0);
	m.u.resume_fast_path.pair_id = pair;
	m.u.resume_fast_path.deadline_ms = deadline_ms;
	HB_MARK(&m.u.resume_fast_path, RESUME_FAST_PATH, DEADLINE_MS);
	return gc_request(c, &m, deadline_ms + GC_TRANSPORT_MS, cookie, now_ms);
}

int gc_ping(struct gc_chan *c, uint64_t token, void *cookie, uint64_t now_ms)
{
	struct hb_msg m;

	hb_msg_init(&m, HB_MSG_PING, 0);
	m.u.ping.token = token;
	return gc_request(c, &m, GC_TRANSPORT_MS, cookie, now_ms);
}

int gc_status(struct gc_chan *c, void *cookie, uint64_t now_ms)
{
	struct hb_msg m;

	hb_msg_init(&m, HB_MSG_STATUS, 0);
	return gc_request(c, &m, GC_TRANSPORT_MS, cookie, now_ms);
}

/* ---- input ------------------------------------------------------------------------------ */

static void record_peer(struct gc_chan *c, uint16_t vmin, uint16_t vmax, uint16_t vuse,
			uint32_t caps, const char *agent)
{
	c->peer.ver_min = vmin;
	c->peer.ver_max = vmax;
	c->peer.ver_use = vuse;
	c->peer.caps = caps;
	(void)str_escape(c->peer.agent, sizeof(c->peer.agent), agent, 64);
}

/* The guest opened (or reopened) the session. */
static void on_hello(struct gc_chan *c, const struct hb_msg *m, const struct hb_hdr *hdr,
		     uint64_t now_ms)
{
	const hb_HELLO_t *h = &m->u.hello;
	uint16_t lo = h->ver_min > GC_VER_MIN ? h->ver_min : GC_VER_MIN;
	uint16_t hi = h->ver_max < GC_VER_MAX ? h->ver_max : GC_VER_MAX;
	struct hb_msg a;
	int repeat = c->guest_hello_ms && now_ms - c->guest_hello_ms < GC_HELLO_REPEAT_MS;

	c->guest_hello_ms = now_ms;
	c->st.hellos++;
	if (repeat && !guest_log_allowed(c, now_ms))
		repeat = -1;    /* counted in the summary, not logged */
	if (lo > hi) {
		if (repeat >= 0)
			gc_log(c, GC_LOG_WARN, "guest speaks versions %#x..%#x, we %#x..%#x: no "
			       "session", h->ver_min, h->ver_max, GC_VER_MIN, GC_VER_MAX);
		reply_error(c, hdr, HB_ERR_UNSUPPORTED_VERSION, 0, "no common version", now_ms);
		session_set(c, 0);
		return;
	}
	/* a new HELLO: the guest dropped the previous session's requests */
	abandon_all(c, 1);
	record_peer(c, h->ver_min, h->ver_max, hi, h->caps, h->agent);
	hb_msg_init_reply(&a, HB_MSG_HELLO_ACK, m);
	a.u.hello_ack.ver_min = GC_VER_MIN;
	a.u.hello_ack.ver_max = GC_VER_MAX;
	a.u.hello_ack.caps = c->cfg.caps;
	a.u.hello_ack.agent = c->agent;
	a.u.hello_ack.ver_use = hi;
	queue_reply(c, &a, now_ms);
	c->hello_at_ms = 0;
	c->consecutive_timeouts = 0;
	if (repeat >= 0)
		gc_log(c, repeat ? GC_LOG_WARN : GC_LOG_INFO, "session %s: guest \"%s\" caps %#x "
		       "version %u.%u", repeat ? "reset by another HELLO" : "up", c->peer.agent,
		       c->peer.caps, (unsigned)(hi >> 8), (unsigned)(hi & 0xff));
	session_set(c, 1);
}

/* Our HELLO was answered with HELLO_ACK. */
static void on_hello_ack(struct gc_chan *c, const struct hb_msg *m)
{
	const hb_HELLO_ACK_t *h = &m->u.hello_ack;

	if (h->ver_use < GC_VER_MIN || h->ver_use > GC_VER_MAX || h->ver_use < h->ver_min ||
	    h->ver_use > h->ver_max) {
		gc_log(c, GC_LOG_WARN, "guest chose version %#x outside our range: no session",
		       h->ver_use);
		return;
	}
	record_peer(c, h->ver_min, h->ver_max, h->ver_use, h->caps, h->agent);
	c->consecutive_timeouts = 0;
	gc_log(c, GC_LOG_INFO, "session up (our HELLO): guest \"%s\" caps %#x", c->peer.agent,
	       c->peer.caps);
	session_set(c, 1);
}

static struct gc_slot *find_pending(struct gc_chan *c, const struct hb_msg *ans)
{
	for (size_t i = 0; i < GC_MAX_PENDING; i++) {
		struct gc_slot *s = &c->pend[i];
		struct hb_msg req;

		if (!s->used || s->r.seq != ans->seq)
			continue;
		req.type = s->r.type;
		req.seq = s->r.seq;
		if (hb_msg_is_answer(&req, ans))
			return s;
	}
	return NULL;
}

static void on_answer_msg(struct gc_chan *c, const struct hb_msg *m, uint64_t now_ms)
{
	struct gc_slot *s = find_pending(c, m);
	struct gc_request r;

	if (!s) {
		c->st.rx_unmatched++;
		if (guest_log_allowed(c, now_ms))
			gc_log(c, GC_LOG_DEBUG, "ignored %s seq %u: no such request outstanding",
			       hb_msg_name(m->type), m->seq);
		return;
	}
	r = s->r;
	s->used = 0;
	c->consecutive_timeouts = 0;
	if (r.type == HB_MSG_HELLO) {
		if (m->type == HB_MSG_HELLO_ACK)
			on_hello_ack(c, m);
		else
			gc_log(c, GC_LOG_WARN, "guest refused our HELLO: %s",
			       hb_error_code_name(m->u.error.code));
		return;
	}
	if (c->ops.on_answer)
		c->ops.on_answer(c->arg, &r, m, GC_ANSWERED);
}

/* A valid message from the guest. */
static void dispatch(struct gc_chan *c, const struct hb_msg *m, const struct hb_hdr *hdr,
		     uint64_t now_ms)
{
	if (m->flags & HB_F_REPLY) {
		on_answer_msg(c, m, now_ms);
	} else {
		switch (m->type) {
		case HB_MSG_HELLO:
			on_hello(c, m, hdr, now_ms);
			break;
		case HB_MSG_PING: {
			struct hb_msg a;

			hb_msg_init_reply(&a, HB_MSG_PONG, m);
			a.u.pong.token = m->u.ping.token;
			queue_reply(c, &a, now_ms);
			break;
		}
		case HB_MSG_STATUS:     /* unsolicited report */
		case HB_MSG_EVENT:
			break;
		case HB_MSG_ERROR:
			if (guest_log_allowed(c, now_ms)) {
				char t[256 * 4 + 1];

				(void)str_escape(t, sizeof(t), m->u.error.text, 256);
				gc_log(c, GC_LOG_WARN, "guest reports error %s: %s",
				       hb_error_code_name(m->u.error.code), t);
			}
			break;
		default:
			/* host-only requests, or answer types without REPLY */
			c->st.rx_unexpected++;
			if (guest_log_allowed(c, now_ms))
				gc_log(c, GC_LOG_WARN, "unexpected %s (seq %u) from the guest",
				       hb_msg_name(m->type), m->seq);
			reply_error(c, hdr, HB_ERR_UNEXPECTED, 0,
				    "the host does not serve this request", now_ms);
			break;
		}
	}
	if (c->ops.on_message)
		c->ops.on_message(c->arg, m);
}

/*
 * gc_input - what the reader made of the guest's bytes (gc_reader.h): in direct mode from
 * gc_handle_io, with the guest sentry from its hand-over (already checked there). Returns
 * nonzero when the channel is no longer connected afterwards.
 */
int gc_input(struct gc_chan *c, const struct gc_in *in, uint64_t now_ms)
{
	if (c->fd < 0)
		return 1;
	c->st.rx_bytes += in->rx_bytes;
	c->st.rx_garbage_bytes += in->garbage;
	c->sum_garbage += in->garbage;
	c->st.rx_rate_dropped += in->rate_dropped;
	c->sum_rate_dropped += in->rate_dropped;
	switch (in->kind) {
	case GC_IN_MSG:
		c->st.rx_frames++;
		dispatch(c, in->msg, &in->hdr, now_ms);
		break;
	case GC_IN_BAD:
		/* a checksum-valid header whose frame cannot be used */
		c->st.rx_bad_frames++;
		c->sum_bad++;
		if (guest_log_allowed(c, now_ms))
			gc_log(c, GC_LOG_WARN, "dropped frame from the guest: type %u seq %u "
			       "version %u.%u length %u: %s", in->hdr.type, in->hdr.seq,
			       in->hdr.major, in->hdr.minor, in->hdr.len, hb_err_name(in->rc));
		if (in->rc == HB_E_VERSION)
			reply_error(c, &in->hdr, HB_ERR_UNSUPPORTED_VERSION, in->rc,
				    "unsupported major version", now_ms);
		else if (in->rc == HB_E_PAYLOAD_CSUM)
			reply_error(c, &in->hdr, HB_ERR_MALFORMED, in->rc, "payload checksum",
				    now_ms);
		break;
	case GC_IN_MALFORMED:
		c->st.rx_frames++;
		c->st.rx_malformed++;
		if (guest_log_allowed(c, now_ms))
			gc_log(c, GC_LOG_WARN, "malformed %s (type %u) seq %u flags %#x length %u "
			       "from the guest: %s", hb_msg_name(in->hdr.type), in->hdr.type,
			       in->hdr.seq, in->hdr.flags, in->hdr.len, hb_strerror(in->rc));
		reply_error(c, &in->hdr,
			    in->rc == HB_E_UNKNOWN_TYPE ? HB_ERR_UNKNOWN_MESSAGE : HB_ERR_MALFORMED,
			    in->rc, hb_err_name(in->rc), now_ms);
		break;
	case GC_IN_EOF:
		gc_log(c, GC_LOG_INFO, "peer closed the channel%s%s", in->rc ? ": " : "",
		       in->rc ? strerror(in->rc) : "");
		gc_disconnect(c, now_ms);
		break;
	default:                /* GC_IN_COUNTS */
		break;
	}
	return c->fd < 0;
}

static int direct_emit(void *arg, const struct gc_in *in)
{
	struct gc_chan *c = arg;

	return gc_input(c, in, c->io_now_ms);
}

/*
 * gc_handle_io - the fd is ready: @revents are poll/epoll bits (POLLIN,
 * POLLOUT, POLLHUP, POLLERR).  Reads at most a bounded amount, dispatches
 * what it decoded, flushes output.  Returns 0, or -ENOTCONN when the peer
 * went away (a reconnect is then scheduled; see gc_timeout_ms).
 */
int gc_handle_io(struct gc_chan *c, unsigned revents, uint64_t now_ms)
{
	int rc = 0;

	if (c->fd < 0)
		return -ENOTCONN;
	if (!c->rops.attach && (revents & (POLLIN | POLLHUP | POLLERR))) {
		c->io_now_ms = now_ms;
		if (gc_rd_read(&c->rd, c->fd, now_ms, direct_emit, c) == 0)
			(void)gc_rd_flush(&c->rd, now_ms, direct_emit, c);
		rc = c->fd >= 0 ? 0 : -ENOTCONN;
	}
	if (rc == 0 && c->fd >= 0 && c->out_len)
		rc = flush_out(c, now_ms);
	flush_summary(c, now_ms, 0);
	return c->fd >= 0 ? rc : -ENOTCONN;
}

/*
 * gc_tick - timers: request deadlines, our HELLO when the guest did not
 * send one, reconnects, the once-a-second drop summary.  Call after every
 * wait, whether it timed out or not.
 */
void gc_tick(struct gc_chan *c, uint64_t now_ms)
{
	if (c->fd < 0) {
		if (c->reconnect_at_ms && now_ms >= c->reconnect_at_ms && c->cfg.path) {
			c->reconnect_at_ms = 0;
			(void)gc_connect(c, now_ms);
		}
		return;
	}
	for (size_t i = 0; i < GC_MAX_PENDING; i++) {
		struct gc_slot *s = &c->pend[i];
		struct gc_request r;

		if (!s->used || now_ms < s->r.deadline_ms)
			continue;
		r = s->r;
		s->used = 0;
		c->st.timeouts++;
		c->consecutive_timeouts++;
		gc_log(c, GC_LOG_WARN, "%s seq %u: no answer within %llu ms", hb_msg_name(r.type),
		       r.seq, (unsigned long long)(r.deadline_ms - r.sent_ms));
		if (r.type == HB_MSG_HELLO)
			c->hello_at_ms = now_ms;        /* retry at once */
		else if (c->ops.on_answer)
			c->ops.on_answer(c->arg, &r, NULL, GC_TIMEOUT);
	}
	if (c->consecutive_timeouts >= GC_SESSION_TIMEOUTS && c->session) {
		gc_log(c, GC_LOG_WARN, "%u requests in a row unanswered: session lost, HELLO again",
		       c->consecutive_timeouts);
		c->consecutive_timeouts = 0;
		session_set(c, 0);
		c->hello_at_ms = now_ms;
	}
	if (c->hello_at_ms && now_ms >= c->hello_at_ms && !c->session) {
		int busy = 0;

		for (size_t i = 0; i < GC_MAX_PENDING; i++)
			busy |= c->pend[i].used && c->pend[i].r.type == HB_MSG_HELLO;
		c->hello_at_ms = 0;
		if (!busy)
			(void)gc_send_hello(c, now_ms);
	}
	if (c->fd >= 0 && c->out_len)
		(void)flush_out(c, now_ms);
	flush_summary(c, now_ms, 0);
}

static void earliest(uint64_t *t, uint64_t cand)
{
	if (cand && (!*t || cand < *t))
		*t = cand;
}

/*
 * gc_timeout_ms - milliseconds until gc_tick() has something to do (0: now),
 * or -1 when no timer is pending.
 */
int gc_timeout_ms(const struct gc_chan *c, uint64_t now_ms)
{
	uint64_t t = 0;

	if (c->fd < 0) {
		earliest(&t, c->reconnect_at_ms);
	} else {
		for (size_t i = 0; i < GC_MAX_PENDING; i++)
			if (c->pend[i].used)
				earliest(&t, c->pend[i].r.deadline_ms);
		if (!c->session)
			earliest(&t, c->hello_at_ms);
		if (c->sum_rate_dropped || c->sum_garbage || c->sum_bad ||
		    c->sum_logs_suppressed)
			earliest(&t, c->summary_ms + 1000u);
	}
	if (!t)
		return -1;
	if (t <= now_ms)
		return 0;
	return t - now_ms > 60000u ? 60000 : (int)(t - now_ms);
}
