// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_guestchan.c — CUnit tests of host-agent/guestchan: a socketpair plays the
 * guest (frames built and read with libhybond-proto), time is passed in by hand so
 * deadlines and the rate limit are tested without sleeping. */
#include "tests/unit/cu_run.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host-agent/hostd/guest/guestchan.h"

#define T0 1000000u     /* arbitrary monotonic start, ms */
#define MAXRX 64

static const uint8_t MAGIC[4] = { 'H', 'Y', 'B', 'N' };

/* What the callbacks saw. */
struct seen {
	int session_up, session_changes;
	int answers, timeouts, abandoned;
	uint16_t last_ans_type;
	uint32_t last_ans_seq;
	void *last_cookie;
	void *cookies[16];
	int messages;
	uint16_t last_msg_type;
	int logs, warn_logs;
	char last_log[512];
};

/* The guest end. */
struct guest {
	int fd;
	uint32_t seq;
	struct hb_stream rx;
	struct hb_msg msgs[MAXRX];
	int n;
};

static struct seen S;
static struct guest G;
static struct gc_chan *C;

static void cb_message(void *arg, const struct hb_msg *m)
{
	(void)arg;
	S.messages++;
	S.last_msg_type = m->type;
}

static void cb_answer(void *arg, const struct gc_request *r, const struct hb_msg *ans,
		      enum gc_result res)
{
	(void)arg;
	if (res == GC_ANSWERED) {
		if (S.answers < 16)
			S.cookies[S.answers] = r->cookie;
		S.answers++;
		S.last_ans_type = ans->type;
		S.last_ans_seq = ans->seq;
	} else if (res == GC_TIMEOUT) {
		S.timeouts++;
	} else {
		S.abandoned++;
	}
	S.last_cookie = r->cookie;
}

static void cb_session(void *arg, int up)
{
	(void)arg;
	S.session_up = up;
	S.session_changes++;
}

static void cb_log(void *arg, enum gc_log_prio prio, const char *line)
{
	(void)arg;
	S.logs++;
	if (prio >= GC_LOG_WARN)
		S.warn_logs++;
	(void)snprintf(S.last_log, sizeof(S.last_log), "%s", line);
}

static const struct gc_ops OPS = { .on_message = cb_message, .on_answer = cb_answer,
				   .on_session = cb_session, .on_log = cb_log };

static void setup(uint32_t rate, uint32_t burst)
{
	struct gc_config cfg;
	int sv[2];

	memset(&S, 0, sizeof(S));
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = "test";
	cfg.caps = 0;
	cfg.rate_per_s = rate;
	cfg.burst = burst;
	cfg.hello_wait_ms = 300;
	C = gc_new(&cfg, &OPS, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(C);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	CU_ASSERT_EQUAL_FATAL(gc_attach_fd(C, sv[0], T0), 0);
	memset(&G, 0, sizeof(G));
	G.fd = sv[1];
	(void)fcntl(G.fd, F_SETFL, fcntl(G.fd, F_GETFL) | O_NONBLOCK);
	hb_stream_init(&G.rx);
}

static void teardown(void)
{
	gc_free(C);
	C = NULL;
	if (G.fd >= 0)
		(void)close(G.fd);
	G.fd = -1;
}

/* Guest writes raw bytes. */
static void graw(const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len) {
		ssize_t n = write(G.fd, b, len);

		if (n < 0 && errno == EAGAIN) {
			/* let the host drain */
			(void)gc_handle_io(C, POLLIN, T0);
			continue;
		}
		CU_ASSERT_FATAL(n > 0);
		b += n;
		len -= (size_t)n;
	}
}

static void gsend(struct hb_msg *m)
{
	uint8_t buf[4096];
	int n = hb_encode(buf, sizeof(buf), m);

	CU_ASSERT_FATAL(n > 0);
	graw(buf, (size_t)n);
}

static void gsend_req(struct hb_msg *m, uint16_t type)
{
	hb_msg_init(m, type, hb_seq_next(&G.seq));
}

/* Host processes what the guest wrote. */
static void host_io(uint64_t now)
{
	for (int i = 0; i < 8 && gc_fd(C) >= 0; i++) {
		struct pollfd p = { gc_fd(C), POLLIN, 0 };

		if (poll(&p, 1, 0) <= 0)
			break;
		(void)gc_handle_io(C, (unsigned)p.revents, now);
	}
}

/* Guest reads everything the host sent; decoded messages in G.msgs[0..G.n). */
static int grecv(void)
{
	G.n = 0;
	for (;;) {
		size_t room;
		uint8_t *p = hb_stream_wptr(&G.rx, &room);
		ssize_t n = read(G.fd, p, room);
		struct hb_frame f;
		int rc;

		if (n <= 0)
			break;
		hb_stream_commit(&G.rx, (size_t)n);
		while ((rc = hb_stream_next(&G.rx, &f, NULL)) != 0) {
			CU_ASSERT_EQUAL(rc, 1);
			if (rc == 1 && G.n < MAXRX) {
				CU_ASSERT_EQUAL(hb_msg_decode(&f, &G.msgs[G.n]), 0);
				G.n++;
			}
		}
	}
	return G.n;
}

static void guest_hello(uint64_t now)
{
	struct hb_msg m;

	gsend_req(&m, HB_MSG_HELLO);
	m.u.hello.ver_min = HB_VERSION(1, 0);
	m.u.hello.ver_max = HB_VERSION(1, 3);
	m.u.hello.caps = HB_CAP_NET_FAILOVER | (1u << 20);
	m.u.hello.agent = "hybond-guestd 0.1\x01";
	gsend(&m);
	host_io(now);
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_hello(void)
{
	const struct gc_peer *p;

	setup(0, 0);
	CU_ASSERT_FALSE(gc_session_up(C));
	CU_ASSERT_PTR_NULL(gc_peer(C));
	guest_hello(T0 + 10);
	CU_ASSERT_TRUE(gc_session_up(C));
	CU_ASSERT_EQUAL(S.session_up, 1);
	CU_ASSERT_EQUAL_FATAL(grecv(), 1);
	CU_ASSERT_EQUAL(G.msgs[0].type, HB_MSG_HELLO_ACK);
	CU_ASSERT_EQUAL(G.msgs[0].flags, HB_F_REPLY);
	CU_ASSERT_EQUAL(G.msgs[0].seq, G.seq);
	CU_ASSERT_EQUAL(G.msgs[0].u.hello_ack.ver_use, HB_VERSION_CURRENT);
	CU_ASSERT_EQUAL(G.msgs[0].u.hello_ack.ver_min, HB_VERSION(1, 0));
	CU_ASSERT_EQUAL(G.msgs[0].u.hello_ack.ver_max, HB_VERSION_CURRENT);
	p = gc_peer(C);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	if (!p)
		return;
	CU_ASSERT_EQUAL(p->caps, HB_CAP_NET_FAILOVER | (1u << 20));
	CU_ASSERT_EQUAL(p->ver_max, HB_VERSION(1, 3));
	/* the agent string is escaped: the guest is untrusted */
	CU_ASSERT_STRING_EQUAL(p->agent, "hybond-guestd 0.1\\x01");
	CU_ASSERT_EQUAL(S.last_msg_type, HB_MSG_HELLO);
	/* no host HELLO once the guest said hello */
	gc_tick(C, T0 + 5000);
	CU_ASSERT_EQUAL(grecv(), 0);
	/* a HELLO with no common version: ERROR, no session */
	{
		struct hb_msg m;

		gsend_req(&m, HB_MSG_HELLO);
		m.u.hello.ver_min = HB_VERSION(2, 0);
		m.u.hello.ver_max = HB_VERSION(2, 1);
		m.u.hello.agent = "future";
		gsend(&m);
		host_io(T0 + 5001);
		CU_ASSERT_FALSE(gc_session_up(C));
		CU_ASSERT_EQUAL_FATAL(grecv(), 1);
		CU_ASSERT_EQUAL(G.msgs[0].type, HB_MSG_ERROR);
		CU_ASSERT_EQUAL(G.msgs[0].u.error.code, HB_ERR_UNSUPPORTED_VERSION);
	}
	teardown();
}

/* A guest that sends HELLO after HELLO: each one answered and counted, but the log
 * sees the first and then at most the guest-caused budget per second. */
static void test_hello_storm(void)
{
	int logs0;

	setup(1000, 1000);
	guest_hello(T0 + 10);
	logs0 = S.logs;
	for (int i = 0; i < 100; i++)
		guest_hello(T0 + 20);
	CU_ASSERT_TRUE(gc_session_up(C));
	CU_ASSERT_EQUAL(gc_stats(C)->hellos, 101);
	CU_ASSERT_TRUE(S.logs - logs0 <= 10);
	teardown();
}

static void test_host_hello(void)
{
	struct hb_msg m;

	setup(0, 0);
	CU_ASSERT_EQUAL(gc_timeout_ms(C, T0), 300);
	gc_tick(C, T0 + 299);
	CU_ASSERT_EQUAL(grecv(), 0);
	gc_tick(C, T0 + 300);
	CU_ASSERT_EQUAL_FATAL(grecv(), 1);
	CU_ASSERT_EQUAL(G.msgs[0].type, HB_MSG_HELLO);
	CU_ASSERT_EQUAL(G.msgs[0].flags, 0);
	/* unanswered: retried after its 1 s timeout, with a new seq */
	gc_tick(C, T0 + 1300);
	CU_ASSERT_EQUAL_FATAL(grecv(), 1);
	CU_ASSERT_EQUAL(G.msgs[0].type, HB_MSG_HELLO);
	CU_ASSERT_EQUAL(S.timeouts, 0);         /* HELLO timeouts are internal */
	hb_msg_init_reply(&m, HB_MSG_HELLO_ACK, &G.msgs[0]);
	m.u.hello_ack.ver_min = HB_VERSION(1, 0);
	m.u.hello_ack.ver_max = HB_VERSION(1, 0);
	m.u.hello_ack.ver_use = HB_VERSION(1, 0);
	m.u.hello_ack.caps = HB_CAP_BONDING;
	m.u.hello_ack.agent = "g";
	gsend(&m);
	host_io(T0 + 1400);
	CU_ASSERT_TRUE(gc_session_up(C));
	CU_ASSERT_EQUAL(gc_peer(C)->caps, HB_CAP_BONDING);
	CU_ASSERT_EQUAL(gc_pending(C), 0);
	teardown();
}

static void test_matching(void)
{
	int c1, c2;
	struct hb_msg m, prep, ping;

	setup(0, 0);
	guest_hello(T0);
	(void)grecv();
	CU_ASSERT_EQUAL(gc_prepare_switch(C, 1, HB_PATH_STANDBY, 2000, &c1, T0), 0);
	CU_ASSERT_EQUAL(gc_ping(C, 0x1122, &c2, T0), 0);
	CU_ASSERT_EQUAL(gc_pending(C), 2);
	CU_ASSERT_EQUAL_FATAL(grecv(), 2);
	prep = G.msgs[0];
	ping = G.msgs[1];
	CU_ASSERT_EQUAL(prep.type, HB_MSG_PREPARE_SWITCH);
	CU_ASSERT_EQUAL(prep.u.prepare_switch.pair_id, 1);
	CU_ASSERT_EQUAL(prep.u.prepare_switch.deadline_ms, 2000);
	CU_ASSERT_EQUAL(ping.type, HB_MSG_PING);
	CU_ASSERT_NOT_EQUAL(prep.seq, ping.seq);

	/* an answer for an unknown seq, and one of the wrong type: ignored */
	hb_msg_init_reply(&m, HB_MSG_PONG, &ping);
	m.seq = ping.seq + 100;
	gsend(&m);
	hb_msg_init_reply(&m, HB_MSG_FAST_PATH_UP, &prep);
	m.u.fast_path_up.pair_id = 1;
	gsend(&m);
	host_io(T0 + 5);
	CU_ASSERT_EQUAL(S.answers, 0);
	CU_ASSERT_EQUAL(gc_stats(C)->rx_unmatched, 2);
	CU_ASSERT_EQUAL(grecv(), 0);            /* answers are never answered */

	/* out of order: the PONG first */
	hb_msg_init_reply(&m, HB_MSG_PONG, &ping);
	m.u.pong.token = 0x1122;
	gsend(&m);
	host_io(T0 + 6);
	CU_ASSERT_EQUAL(S.answers, 1);
	CU_ASSERT_PTR_EQUAL(S.cookies[0], &c2);
	CU_ASSERT_EQUAL(S.last_ans_type, HB_MSG_PONG);
	hb_msg_init_reply(&m, HB_MSG_SWITCH_DONE, &prep);
	m.u.switch_done.pair_id = 1;
	m.u.switch_done.elapsed_us = 1234;
	gsend(&m);
	/* a duplicate of the same answer: ignored */
	gsend(&m);
	host_io(T0 + 7);
	CU_ASSERT_EQUAL(S.answers, 2);
	CU_ASSERT_PTR_EQUAL(S.cookies[1], &c1);
	CU_ASSERT_EQUAL(S.last_ans_type, HB_MSG_SWITCH_DONE);
	CU_ASSERT_EQUAL(S.last_ans_seq, prep.seq);
	CU_ASSERT_EQUAL(gc_stats(C)->rx_unmatched, 3);
	CU_ASSERT_EQUAL(gc_pending(C), 0);

	/* an ERROR answer is an answer */
	CU_ASSERT_EQUAL(gc_resume_fast_path(C, 9, 100, &c1, T0 + 10), 0);
	CU_ASSERT_EQUAL_FATAL(grecv(), 1);
	CU_ASSERT_EQUAL(G.msgs[0].u.resume_fast_path.pair_id, 9);
	{
		uint8_t buf[512];
		struct hb_hdr h = { .type = G.msgs[0].type, .seq = G.msgs[0].seq };
		int n = hb_encode_error(buf, sizeof(buf), &h, HB_ERR_UNKNOWN_PAIR, 0, "no pair 9");

		CU_ASSERT_FATAL(n > 0);
		graw(buf, (size_t)n);
	}
	host_io(T0 + 11);
	CU_ASSERT_EQUAL(S.answers, 3);
	CU_ASSERT_EQUAL(S.last_ans_type, HB_MSG_ERROR);

	/* guest EVENT and unsolicited STATUS reach on_message, unanswered */
	gsend_req(&m, HB_MSG_EVENT);
	m.u.event.pair_id = 1;
	m.u.event.kind = HB_EV_VF_APPEARED;
	gsend(&m);
	host_io(T0 + 12);
	CU_ASSERT_EQUAL(S.last_msg_type, HB_MSG_EVENT);
	CU_ASSERT_EQUAL(grecv(), 0);
	/* guest PING is answered */
	gsend_req(&m, HB_MSG_PING);
	m.u.ping.token = 77;
	gsend(&m);
	host_io(T0 + 13);
	CU_ASSERT_EQUAL_FATAL(grecv(), 1);
	CU_ASSERT_EQUAL(G.msgs[0].type, HB_MSG_PONG);
	CU_ASSERT_EQUAL(G.msgs[0].u.pong.token, 77);
	CU_ASSERT_EQUAL(G.msgs[0].seq, G.seq);
	/* a host-only request from the guest: ERROR UNEXPECTED */
	gsend_req(&m, HB_MSG_PREPARE_SWITCH);
	m.u.prepare_switch.pair_id = 1;
	gsend(&m);
	host_io(T0 + 14);
	CU_ASSERT_EQUAL_FATAL(grecv(), 1);
	CU_ASSERT_EQUAL(G.msgs[0].type, HB_MSG_ERROR);
	CU_ASSERT_EQUAL(G.msgs[0].u.error.code, HB_ERR_UNEXPECTED);
	CU_ASSERT_EQUAL(G.msgs[0].u.error.req_type, HB_MSG_PREPARE_SWITCH);
	teardown();
}

static void test_deadlines(void)
{
	int c1;
	struct hb_msg m, req;

	setup(0, 0);
	guest_hello(T0);
	(void)grecv();
	CU_ASSERT_EQUAL(gc_timeout_ms(C, T0), -1);
	CU_ASSERT_EQUAL(gc_prepare_switch(C, 1, HB_PATH_STANDBY, 100, &c1, T0), 0);
	CU_ASSERT_EQUAL(gc_timeout_ms(C, T0), 100 + GC_TRANSPORT_MS);
	CU_ASSERT_EQUAL(gc_timeout_ms(C, T0 + 1000), 100);
	CU_ASSERT_EQUAL_FATAL(grecv(), 1);
	req = G.msgs[0];
	gc_tick(C, T0 + 1099);
	CU_ASSERT_EQUAL(S.timeouts, 0);
	gc_tick(C, T0 + 1100);
	CU_ASSERT_EQUAL(S.timeouts, 1);
	CU_ASSERT_PTR_EQUAL(S.last_cookie, &c1);
	CU_ASSERT_EQUAL(gc_pending(C), 0);
	/* the late answer is ignored */
	hb_msg_init_reply(&m, HB_MSG_SWITCH_DONE, &req);
	m.u.switch_done.pair_id = 1;
	gsend(&m);
	host_io(T0 + 1200);
	CU_ASSERT_EQUAL(S.answers, 0);
	CU_ASSERT_EQUAL(gc_stats(C)->rx_unmatched, 1);
	/* three timeouts in a row: the session is lost, HELLO again */
	CU_ASSERT_EQUAL(gc_ping(C, 1, NULL, T0 + 2000), 0);
	CU_ASSERT_EQUAL(gc_ping(C, 2, NULL, T0 + 2000), 0);
	gc_tick(C, T0 + 3000);
	CU_ASSERT_EQUAL(S.timeouts, 3);
	CU_ASSERT_FALSE(gc_session_up(C));
	CU_ASSERT_EQUAL(S.session_up, 0);
	(void)grecv();
	CU_ASSERT_EQUAL(G.n, 3);                /* the two PINGs and our HELLO */
	CU_ASSERT_EQUAL(G.msgs[G.n - 1].type, HB_MSG_HELLO);
	teardown();
}

static void test_garbage(void)
{
	uint8_t buf[HB_HDR_LEN + 64];
	struct hb_hdr h;
	struct hb_msg m;
	uint8_t junk[3000];
	int n;

	setup(100000, 100000);
	guest_hello(T0);
	(void)grecv();
	/* garbage, with magics sprinkled in */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131u + 7u);
	memcpy(junk + 100, MAGIC, 4);
	memcpy(junk + 2000, MAGIC, 3);
	graw(junk, sizeof(junk));
	/* a valid header claiming an oversize payload */
	memset(&h, 0, sizeof(h));
	h.major = HB_VERSION_MAJOR;
	h.type = HB_MSG_PING;
	h.seq = 5;
	h.len = HB_PAYLOAD_MAX + 1000;
	hb_hdr_encode(buf, &h);
	graw(buf, HB_HDR_LEN);
	/* an unknown major version: ERROR UNSUPPORTED_VERSION */
	h.major = 7;
	h.len = 0;
	h.payload_crc = 0;
	hb_hdr_encode(buf, &h);
	graw(buf, HB_HDR_LEN);
	/* a PING without its TOKEN: ERROR MALFORMED, DETAIL ATTR_MISSING */
	n = hb_frame_finish(buf, sizeof(buf), HB_MSG_PING, 0, 6, 0);
	CU_ASSERT_FATAL(n > 0);
	graw(buf, (size_t)n);
	/* an unknown type: ERROR UNKNOWN_MESSAGE */
	n = hb_frame_finish(buf, sizeof(buf), 99, 0, 7, 0);
	graw(buf, (size_t)n);
	/* a malformed answer: dropped, never answered */
	n = hb_frame_finish(buf, sizeof(buf), HB_MSG_PONG, HB_F_REPLY, 8, 0);
	graw(buf, (size_t)n);
	/* a bad payload checksum: ERROR MALFORMED, DETAIL PAYLOAD_CSUM */
	hb_msg_init(&m, HB_MSG_PING, 9);
	m.u.ping.token = 1;
	n = hb_encode(buf, sizeof(buf), &m);
	buf[n - 1] ^= 0xff;
	graw(buf, (size_t)n);
	/* and still served: a good PING */
	hb_msg_init(&m, HB_MSG_PING, 10);
	m.u.ping.token = 42;
	gsend(&m);
	host_io(T0 + 1);
	CU_ASSERT_TRUE(gc_connected(C));
	CU_ASSERT_EQUAL_FATAL(grecv(), 5);
	CU_ASSERT_EQUAL(G.msgs[0].type, HB_MSG_ERROR);
	CU_ASSERT_EQUAL(G.msgs[0].u.error.code, HB_ERR_UNSUPPORTED_VERSION);
	CU_ASSERT_EQUAL(G.msgs[1].u.error.code, HB_ERR_MALFORMED);
	CU_ASSERT_EQUAL(G.msgs[1].u.error.detail, (uint32_t)-HB_E_ATTR_MISSING);
	CU_ASSERT_EQUAL(G.msgs[1].seq, 6);
	CU_ASSERT_EQUAL(G.msgs[2].u.error.code, HB_ERR_UNKNOWN_MESSAGE);
	CU_ASSERT_EQUAL(G.msgs[3].u.error.code, HB_ERR_MALFORMED);
	CU_ASSERT_EQUAL(G.msgs[3].u.error.detail, (uint32_t)-HB_E_PAYLOAD_CSUM);
	CU_ASSERT_EQUAL(G.msgs[3].seq, 9);
	CU_ASSERT_EQUAL(G.msgs[4].type, HB_MSG_PONG);
	CU_ASSERT_EQUAL(G.msgs[4].u.pong.token, 42);
	CU_ASSERT(gc_stats(C)->rx_garbage_bytes > 2000);
	CU_ASSERT_EQUAL(gc_stats(C)->rx_malformed, 3);
	CU_ASSERT(gc_stats(C)->rx_bad_frames >= 3);
	CU_ASSERT(S.warn_logs > 0);
	/* the once-a-second summary mentions the garbage */
	gc_tick(C, T0 + 2000);
	CU_ASSERT_PTR_NOT_NULL(strstr(S.last_log, "garbage bytes skipped"));

	/* a lot of garbage (far more than the 64 KiB reader) still leaves it serving */
	{
		static uint8_t big[256 * 1024];

		for (size_t i = 0; i < sizeof(big); i++)
			big[i] = (uint8_t)(i * 7u ^ (i >> 9));
		for (size_t off = 0; off < sizeof(big); off += 8192) {
			graw(big + off, 8192);
			host_io(T0 + 3000);
		}
	}
	hb_msg_init(&m, HB_MSG_PING, 11);
	m.u.ping.token = 43;
	gsend(&m);
	host_io(T0 + 3001);
	CU_ASSERT_TRUE(gc_connected(C));
	CU_ASSERT_EQUAL_FATAL(grecv(), 1);
	CU_ASSERT_EQUAL(G.msgs[0].u.pong.token, 43);
	teardown();
}

static void test_rate_limit(void)
{
	struct hb_msg m;

	setup(10, 5);
	for (int i = 0; i < 20; i++) {
		hb_msg_init(&m, HB_MSG_PING, (uint32_t)i + 1);
		m.u.ping.token = (uint64_t)i;
		gsend(&m);
	}
	host_io(T0);
	CU_ASSERT_EQUAL(grecv(), 5);            /* the burst */
	CU_ASSERT_EQUAL(gc_stats(C)->rx_rate_dropped, 15);
	CU_ASSERT_EQUAL(gc_stats(C)->rx_frames, 5);
	/* logged once a second, not once per frame */
	CU_ASSERT_EQUAL(S.warn_logs, 0);
	/* the summary timer (or the HELLO timer, earlier) is pending */
	CU_ASSERT(gc_timeout_ms(C, T0 + 10) > 0 && gc_timeout_ms(C, T0 + 10) <= 990);
	gc_tick(C, T0 + 1000);
	CU_ASSERT_EQUAL(S.warn_logs, 1);
	(void)grecv();          /* our HELLO (the guest never sent one) */
	CU_ASSERT_PTR_NOT_NULL(strstr(S.last_log, "15 frames over the rate limit"));
	/* 500 ms later: 5 more tokens (10/s) */
	for (int i = 0; i < 10; i++) {
		hb_msg_init(&m, HB_MSG_PING, 100 + (uint32_t)i);
		m.u.ping.token = (uint64_t)i;
		gsend(&m);
	}
	host_io(T0 + 1500);
	CU_ASSERT_EQUAL(grecv(), 5);
	CU_ASSERT_EQUAL(gc_stats(C)->rx_rate_dropped, 20);
	teardown();
}

static void test_disconnect(void)
{
	int c1;

	setup(0, 0);
	guest_hello(T0);
	(void)grecv();
	CU_ASSERT_EQUAL(gc_prepare_switch(C, 1, HB_PATH_STANDBY, 2000, &c1, T0), 0);
	/* half a frame, then the guest goes away (a migration) */
	graw("HYBN\x01\x00", 6);
	(void)close(G.fd);
	G.fd = -1;
	CU_ASSERT_EQUAL(gc_handle_io(C, POLLIN | POLLHUP, T0 + 1), -ENOTCONN);
	CU_ASSERT_FALSE(gc_connected(C));
	CU_ASSERT_FALSE(gc_session_up(C));
	CU_ASSERT_EQUAL(S.abandoned, 1);
	CU_ASSERT_PTR_EQUAL(S.last_cookie, &c1);
	CU_ASSERT_EQUAL(gc_pending(C), 0);
	CU_ASSERT_EQUAL(gc_stats(C)->disconnects, 1);
	CU_ASSERT_EQUAL(gc_ping(C, 1, NULL, T0 + 2), -ENOTCONN);
	/* no path: nothing to reconnect to */
	CU_ASSERT_EQUAL(gc_timeout_ms(C, T0 + 2), -1);
	CU_ASSERT_EQUAL(gc_connect(C, T0 + 2), -EINVAL);
	/* a path that does not exist yet: retried with a backoff */
	CU_ASSERT_EQUAL(gc_set_path(C, "/nonexistent/hybond-test.sock"), 0);
	CU_ASSERT_EQUAL(gc_connect(C, T0 + 3), -ENOENT);
	CU_ASSERT_EQUAL(gc_timeout_ms(C, T0 + 3), GC_RECONNECT_MIN_MS);
	gc_tick(C, T0 + 3 + GC_RECONNECT_MIN_MS);
	CU_ASSERT_EQUAL(gc_timeout_ms(C, T0 + 3 + GC_RECONNECT_MIN_MS), 2 * GC_RECONNECT_MIN_MS);
	/* a new fd (the reconnect), new session */
	{
		int sv[2];

		CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		CU_ASSERT_EQUAL(gc_attach_fd(C, sv[0], T0 + 500), 0);
		G.fd = sv[1];
		(void)fcntl(G.fd, F_SETFL, fcntl(G.fd, F_GETFL) | O_NONBLOCK);
		hb_stream_init(&G.rx);
	}
	guest_hello(T0 + 600);
	CU_ASSERT_TRUE(gc_session_up(C));
	CU_ASSERT_EQUAL_FATAL(grecv(), 1);
	CU_ASSERT_EQUAL(G.msgs[0].type, HB_MSG_HELLO_ACK);
	/* a second guest HELLO abandons what the old session had outstanding */
	CU_ASSERT_EQUAL(gc_ping(C, 5, &c1, T0 + 700), 0);
	guest_hello(T0 + 701);
	CU_ASSERT_EQUAL(S.abandoned, 2);
	CU_ASSERT_EQUAL(gc_pending(C), 0);
	teardown();
}

static void test_output_full(void)
{
	struct hb_msg m;
	int sndbuf = 4096;

	setup(1000000, 1000000);
	CU_ASSERT_EQUAL(setsockopt(gc_fd(C), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	/* the guest never reads: PONGs pile up, then are dropped */
	for (uint32_t i = 1; i <= 3000; i++) {
		hb_msg_init(&m, HB_MSG_PING, i);
		m.u.ping.token = i;
		gsend(&m);
		if (i % 50 == 0)
			host_io(T0);
	}
	host_io(T0);
	CU_ASSERT_TRUE(gc_connected(C));
	CU_ASSERT(gc_stats(C)->tx_dropped > 0);
	CU_ASSERT_TRUE(gc_want_write(C));
	CU_ASSERT_EQUAL(gc_ping(C, 1, NULL, T0), -ENOBUFS);
	/* once the guest reads, the queue drains */
	while (grecv() > 0 || gc_want_write(C))
		(void)gc_handle_io(C, POLLOUT, T0);
	CU_ASSERT_FALSE(gc_want_write(C));
	CU_ASSERT_EQUAL(gc_ping(C, 1, NULL, T0), 0);
	teardown();
}

static void test_escape(void)
{
	char out[16];

	CU_ASSERT_EQUAL(str_escape(out, sizeof(out), "ab\"c\n", 64), 11);
	CU_ASSERT_STRING_EQUAL(out, "ab\\x22c\\x0a");
	CU_ASSERT_EQUAL(str_escape(out, 5, "abcdefgh", 64), 4);
	CU_ASSERT_STRING_EQUAL(out, "abcd");
	CU_ASSERT_EQUAL(str_escape(out, sizeof(out), "abcdefgh", 3), 3);
	CU_ASSERT_EQUAL(str_escape(out, sizeof(out), NULL, 3), 0);
	CU_ASSERT_STRING_EQUAL(out, "");
}

static void test_answer_failure(void)
{
	struct hb_msg ok, err;

	memset(&ok, 0, sizeof(ok));
	ok.type = HB_MSG_SWITCH_DONE;
	memset(&err, 0, sizeof(err));
	err.type = HB_MSG_ERROR;
	err.u.error.code = HB_ERR_INTERNAL;
	CU_ASSERT_PTR_NULL(gc_answer_failure(&ok, GC_ANSWERED));
	CU_ASSERT_STRING_EQUAL(gc_answer_failure(NULL, GC_TIMEOUT), "timed out");
	CU_ASSERT_STRING_EQUAL(gc_answer_failure(NULL, GC_ABANDONED), "abandoned");
	CU_ASSERT_STRING_EQUAL(gc_answer_failure(&err, GC_ANSWERED),
			       hb_error_code_name(HB_ERR_INTERNAL));
	err.u.error.text = "standby has no carrier";
	CU_ASSERT_STRING_EQUAL(gc_answer_failure(&err, GC_ANSWERED), "standby has no carrier");
}

static CU_TestInfo tests[] = {
	{ "guest HELLO -> HELLO_ACK", test_hello },
{ "a HELLO storm: answered, counted, logged within the budget", test_hello_storm },
		{ "host HELLO when the guest is silent", test_host_hello },
	{ "request/answer matching", test_matching },
	{ "deadlines", test_deadlines },
	{ "garbage and oversize input", test_garbage },
	{ "rate limit", test_rate_limit },
	{ "disconnect and reconnect", test_disconnect },
	{ "output buffer full", test_output_full },
	{ "escaping guest strings", test_escape },
	{ "why a request failed", test_answer_failure },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_SuiteInfo suites[] = {
		{ "guestchan", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return hb_cu_run(suites);
}
