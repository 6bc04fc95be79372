/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/guest/guestchan.h — the host end of the guest channel (virtio-serial
 * port org.hybond.0, a QEMU chardev socket the host connects to).
 *
 * A non-blocking client meant to sit in an epoll loop.  The caller owns the
 * loop and the clock; the channel owns one fd:
 *
 *     c = gc_new(&cfg, &ops, arg);
 *     gc_connect(c, now);                  or gc_attach_fd(c, fd, now)
 *     loop:
 *         poll gc_fd(c) for POLLIN (| POLLOUT if gc_want_write(c)),
 *         at most gc_timeout_ms(c, now) ms (-1: no timer pending);
 *         gc_handle_io(c, revents, now);   then gc_tick(c, now);
 *
 * Time is the caller's CLOCK_MONOTONIC in milliseconds (gc_now_ms()), so
 * tests drive deadlines without sleeping.  Everything the guest sends goes
 * through gc_reader.c (libhybond-proto's stream reader and validating decoder);
 * the guest is untrusted: buffers are bounded, guest frames are rate-limited
 * (token bucket; excess dropped, counted, logged once per second), and a
 * malformed frame is logged with its context and answered with an ERROR.
 *
 * Reading elsewhere (hybond-hostd: the guest sentry, an unprivileged sandboxed child):
 * gc_set_reader() before connecting. The channel then hands each new connection to
 * ops->attach and never reads it (gc_poll_events() asks for POLLOUT only, while output
 * waits); the reader's findings come back through gc_input(). The channel still writes
 * to the fd and owns it: gc_disconnect() calls ops->detach, then closes it.
 *
 * Session: the guest sends HELLO on connect; the channel answers HELLO_ACK
 * (version range, capabilities, agent) and records the guest's.  If no
 * HELLO arrives within hello_wait_ms the host sends its own HELLO (and
 * retries, 1 s timeouts).  Three consecutive request timeouts end the
 * session: HELLO again.  When the peer disconnects (a migration, a QEMU
 * restart) outstanding requests are abandoned and, if a socket path is set,
 * the channel reconnects with a backoff.
 *
 * Requests: gc_request() assigns the sequence number and a deadline; the
 * answer (REPLY flag, same seq, the request's answer type or ERROR) is
 * delivered by ops->on_answer once; unknown or late answers are ignored and
 * counted.  Level-triggered: a handle_io call reads a bounded amount.
 */
#ifndef HYBOND_GUESTCHAN_H
#define HYBOND_GUESTCHAN_H

#include "host-agent/common/escape.h"
#include <stddef.h>
#include <stdint.h>

#include <hybond/proto.h>

#include "gc_reader.h"

/* Outstanding requests per channel (the protocol wants ~1 per pair). */
#define GC_MAX_PENDING       16
/* Bytes of output queued while the guest does not read (replies dropped beyond). */
#define GC_OUT_MAX           (16u * 1024u)
/* Defaults of struct gc_config fields left 0. */
#define GC_RATE_PER_S_DEF    100u
#define GC_BURST_DEF         200u
#define GC_HELLO_WAIT_MS_DEF 500u
#define GC_HELLO_TIMEOUT_MS  1000u
#define GC_RECONNECT_MIN_MS  100u
#define GC_RECONNECT_MAX_MS  2000u
#define GC_SESSION_TIMEOUTS  3      /* consecutive timeouts that end a session */

enum gc_log_prio { GC_LOG_DEBUG, GC_LOG_INFO, GC_LOG_WARN, GC_LOG_ERR };

/* Why on_answer was called. */
enum gc_result {
	GC_ANSWERED = 0,        /* ans is the answer (its type may be ERROR) */
	GC_TIMEOUT = 1,         /* the deadline passed; ans is NULL */
	GC_ABANDONED = 2,       /* disconnect, new guest HELLO, or gc_free; ans is NULL */
};

/*
 * Why a request did not succeed, for log lines and operator errors: "timed out",
 * "abandoned", the guest's ERROR text (or its code's name), or NULL when ANS is a
 * real answer.  The text points into ANS or is static.
 */
const char *gc_answer_failure(const struct hb_msg *ans, int res);

struct gc_config {
	const char *name;       /* for log lines, e.g. the VM name (may be NULL) */
	const char *path;       /* chardev socket; NULL: only gc_attach_fd() */
	const char *agent;      /* our AGENT string (NULL: "hybond-host VERSION") */
	uint32_t caps;          /* our CAPS */
	uint32_t rate_per_s;    /* guest frames accepted per second (0: default) */
	uint32_t burst;         /* token bucket size (0: default) */
	uint32_t hello_wait_ms; /* wait for the guest's HELLO before sending ours (0: default) */
	int no_reconnect;       /* 1: after a disconnect, stay down */
};

/* What the guest told us in its HELLO (or HELLO_ACK). */
struct gc_peer {
	uint16_t ver_min, ver_max, ver_use;
	uint32_t caps;
	char agent[64 * 4 + 1]; /* escaped (printable ASCII, \xNN otherwise) */
};

struct gc_stats {
	uint64_t rx_bytes, tx_bytes;
	uint64_t rx_frames;         /* frames with valid checksums */
	uint64_t rx_garbage_bytes;  /* skipped by resynchronisation */
	uint64_t rx_bad_frames;     /* dropped by the stream reader (csum, version, oversize) */
	uint64_t rx_malformed;      /* failed to decode (unknown type, attributes) */
	uint64_t rx_rate_dropped;   /* dropped by the rate limit */
	uint64_t rx_unmatched;      /* answers matching no outstanding request */
	uint64_t rx_unexpected;     /* requests the host does not serve */
	uint64_t tx_dropped;        /* replies dropped: output buffer full */
	uint64_t timeouts;
	uint64_t connects, disconnects;
	uint64_t hellos;            /* the guest's HELLOs (each one resets the session) */
};

/* A request in flight, as shown to on_answer. */
struct gc_request {
	uint32_t seq;
	uint16_t type;
	uint64_t sent_ms;
	uint64_t deadline_ms;
	void *cookie;           /* the caller's, from gc_request() */
};

struct gc_chan;

struct gc_ops {
	/* Every valid message from the guest, after the channel's own handling
	 * (answers included).  Strings in @m are valid only during the call. */
	void (*on_message)(void *arg, const struct hb_msg *m);
	/* Once per request: answered, timed out or abandoned. */
	void (*on_answer)(void *arg, const struct gc_request *req, const struct hb_msg *ans,
			  enum gc_result res);
	/* Session up (HELLO exchanged: gc_peer() is valid) or down. */
	void (*on_session)(void *arg, int up);
	/* One log line, without newline; guest strings already escaped. */
	void (*on_log)(void *arg, enum gc_log_prio prio, const char *line);
	/* gc_fd() is about to be closed: take it out of the caller's poll set first (another
	 * process — the guest sentry — may hold the same socket, so close() alone would
	 * leave an epoll registration behind). Optional. */
	void (*on_close_fd)(void *arg, int fd);
};

struct gc_chan *gc_new(const struct gc_config *cfg, const struct gc_ops *ops, void *arg);

/* Who reads the channel's connections when the channel does not (see the top). */
struct gc_reader_ops {
	/* A new connection @fd (the channel keeps it and writes to it): read it from now on
	 * with this token bucket; 0, or -errno (the channel disconnects and retries). */
	int (*attach)(void *arg, struct gc_chan *c, int fd, uint32_t rate_per_s, uint32_t burst);
	/* The connection is closed: forget it (what was read but not handed over is lost). */
	void (*detach)(void *arg, struct gc_chan *c);
};
void gc_set_reader(struct gc_chan *c, const struct gc_reader_ops *ops, void *arg);
int gc_input(struct gc_chan *c, const struct gc_in *in, uint64_t now_ms);
/* POLLIN/POLLOUT the caller's loop should wait for on gc_fd() (0: do not watch it). */
unsigned gc_poll_events(const struct gc_chan *c);
void gc_free(struct gc_chan *c);

int gc_connect(struct gc_chan *c, uint64_t now_ms);
int gc_attach_fd(struct gc_chan *c, int fd, uint64_t now_ms);
int gc_set_path(struct gc_chan *c, const char *path);
void gc_disconnect(struct gc_chan *c, uint64_t now_ms);

int gc_fd(const struct gc_chan *c);
int gc_want_write(const struct gc_chan *c);
int gc_handle_io(struct gc_chan *c, unsigned revents, uint64_t now_ms);
void gc_tick(struct gc_chan *c, uint64_t now_ms);
int gc_timeout_ms(const struct gc_chan *c, uint64_t now_ms);

int gc_request(struct gc_chan *c, struct hb_msg *m, uint32_t timeout_ms, void *cookie,
	       uint64_t now_ms);
int gc_send_hello(struct gc_chan *c, uint64_t now_ms);
int gc_prepare_switch(struct gc_chan *c, uint32_t pair, uint8_t path, uint32_t deadline_ms,
		      void *cookie, uint64_t now_ms);
int gc_resume_fast_path(struct gc_chan *c, uint32_t pair, uint32_t deadline_ms, void *cookie,
			uint64_t now_ms);
int gc_ping(struct gc_chan *c, uint64_t token, void *cookie, uint64_t now_ms);
int gc_status(struct gc_chan *c, void *cookie, uint64_t now_ms);

int gc_connected(const struct gc_chan *c);
int gc_session_up(const struct gc_chan *c);
const struct gc_peer *gc_peer(const struct gc_chan *c);
const struct gc_stats *gc_stats(const struct gc_chan *c);
size_t gc_pending(const struct gc_chan *c);

uint64_t gc_now_ms(void);

/* Time the guest gets for transport on top of a request's own deadline. */
#define GC_TRANSPORT_MS      1000u

#endif /* HYBOND_GUESTCHAN_H */
