// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_probe.c — CUnit tests of hybond-probe's pure logic: accounting (gaps,
 * duplicates, reordering, per-direction loss, outage intervals, percentiles),
 * the wire format, the argument parsers and the JSON result. */
#include "tests/unit/cu_run.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "host-agent/probe/probe_acct.h"
#include "host-agent/probe/probe_opts.h"
#include "host-agent/probe/probe_report.h"
#include "host-agent/probe/probe_wire.h"

#define IV 1000000LL                 /* 1 ms spacing */
#define T0 1700000000000000000LL     /* realtime of packet 0 */
#define RTT 200000LL                 /* 0.2 ms */

static int64_t st(uint64_t seq)
{
	return T0 + (int64_t)seq * IV;
}

/* Sends n packets; then replies for every seq not in drop[], with the responder's
 * counter advanced for every seq not in lost_to[] (so drop \ lost_to are replies
 * lost on the way back). */
static void feed(struct pa_acct *a, uint64_t n, const int *drop, const int *lost_to)
{
	for (uint64_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL_FATAL(pa_on_send(a, i, st(i), 1), 0);
	uint64_t rx = 0;
	for (uint64_t i = 0; i < n; i++) {
		int dropped = drop && drop[i];
		int to = lost_to && lost_to[i];
		if (!to)
			rx++;
		if (!dropped)
			CU_ASSERT_EQUAL(pa_on_reply(a, i, st(i), st(i) + RTT, rx), PA_NEW);
	}
}

static void test_no_loss(void)
{
	struct pa_acct a;
	struct pa_result r;
	CU_ASSERT_EQUAL_FATAL(pa_init(&a, 100, IV, 1), 0);
	feed(&a, 100, NULL, NULL);
	CU_ASSERT_EQUAL_FATAL(pa_finish(&a, &r), 0);
	CU_ASSERT_EQUAL(r.sent, 100);
	CU_ASSERT_EQUAL(r.received, 100);
	CU_ASSERT_EQUAL(r.lost_total, 0);
	CU_ASSERT_EQUAL(r.n_outages, 0);
	CU_ASSERT_EQUAL(r.duplicates, 0);
	CU_ASSERT_EQUAL(r.reordered, 0);
	CU_ASSERT_TRUE(r.have_rtt);
	CU_ASSERT_DOUBLE_EQUAL(r.rtt_median_ms, 0.2, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(r.longest_outage_ms, 0.0, 1e-12);
	pa_result_free(&r);
	pa_free(&a);
}

static void test_gap_to_guest(void)
{
	int drop[10] = { 0, 0, 0, 1, 1, 1, 0, 0, 0, 0 };
	struct pa_acct a;
	struct pa_result r;
	CU_ASSERT_EQUAL_FATAL(pa_init(&a, 10, IV, 1), 0);
	feed(&a, 10, drop, drop);
	CU_ASSERT_EQUAL_FATAL(pa_finish(&a, &r), 0);
	CU_ASSERT_EQUAL(r.lost_total, 3);
	CU_ASSERT_EQUAL(r.lost_to, 3);
	CU_ASSERT_EQUAL(r.lost_from, 0);
	CU_ASSERT_EQUAL_FATAL(r.n_outages, 1);
	CU_ASSERT_EQUAL(r.outages[0].start_ns, st(3));
	CU_ASSERT_EQUAL(r.outages[0].end_ns, st(5));
	CU_ASSERT_DOUBLE_EQUAL(r.outages[0].duration_ms, 3.0, 1e-9);
	CU_ASSERT_EQUAL(r.outages[0].prev_ok_ns, st(2));
	CU_ASSERT_EQUAL(r.outages[0].next_ok_ns, st(6));
	CU_ASSERT_EQUAL(r.outages[0].lost_to, 3);
	CU_ASSERT_DOUBLE_EQUAL(r.longest_outage_ms, 3.0, 1e-9);
	pa_result_free(&r);
	pa_free(&a);
}

static void test_gap_from_guest(void)
{
	int drop[10] = { 0, 0, 1, 1, 1, 1, 0, 0, 0, 0 };
	struct pa_acct a;
	struct pa_result r;
	CU_ASSERT_EQUAL_FATAL(pa_init(&a, 10, IV, 1), 0);
	feed(&a, 10, drop, NULL);
	CU_ASSERT_EQUAL_FATAL(pa_finish(&a, &r), 0);
	CU_ASSERT_EQUAL(r.lost_total, 4);
	CU_ASSERT_EQUAL(r.lost_to, 0);
	CU_ASSERT_EQUAL(r.lost_from, 4);
	CU_ASSERT_EQUAL_FATAL(r.n_outages, 1);
	CU_ASSERT_EQUAL(r.outages[0].lost_from, 4);
	CU_ASSERT_EQUAL(r.outages[0].start_ns, st(2));
	CU_ASSERT_EQUAL(r.outages[0].end_ns, st(5));
	pa_result_free(&r);
	pa_free(&a);
}

static void test_mixed_and_multiple(void)
{
	/* outage A: 2..6, the responder got 2 of them; outage B: 10 lost to guest;
	 * outage C: 15..16 lost from guest. */
	int drop[20] = { 0 }, to[20] = { 0 };
	for (int i = 2; i <= 6; i++)
		drop[i] = 1;
	to[2] = to[3] = to[4] = 1;
	drop[10] = to[10] = 1;
	drop[15] = drop[16] = 1;
	struct pa_acct a;
	struct pa_result r;
	CU_ASSERT_EQUAL_FATAL(pa_init(&a, 20, IV, 1), 0);
	feed(&a, 20, drop, to);
	CU_ASSERT_EQUAL_FATAL(pa_finish(&a, &r), 0);
	CU_ASSERT_EQUAL(r.lost_total, 8);
	CU_ASSERT_EQUAL(r.lost_to, 4);
	CU_ASSERT_EQUAL(r.lost_from, 4);
	CU_ASSERT_EQUAL_FATAL(r.n_outages, 3);
	CU_ASSERT_EQUAL(r.outages[0].lost, 5);
	CU_ASSERT_EQUAL(r.outages[0].lost_to, 3);
	CU_ASSERT_EQUAL(r.outages[0].lost_from, 2);
	CU_ASSERT_EQUAL(r.outages[1].lost_to, 1);
	CU_ASSERT_EQUAL(r.outages[1].start_ns, st(10));
	CU_ASSERT_EQUAL(r.outages[1].end_ns, st(10));
	CU_ASSERT_DOUBLE_EQUAL(r.outages[1].duration_ms, 1.0, 1e-9);
	CU_ASSERT_EQUAL(r.outages[2].lost_from, 2);
	CU_ASSERT_DOUBLE_EQUAL(r.longest_outage_ms, 5.0, 1e-9);
	pa_result_free(&r);
	pa_free(&a);
}

static void test_leading_and_trailing(void)
{
	int drop[10] = { 1, 1, 0, 0, 0, 0, 0, 0, 1, 1 };
	int to[10] = { 1, 1, 0, 0, 0, 0, 0, 0, 0, 1 };
	struct pa_acct a;
	struct pa_result r;

	/* Trailing run without the responder's final count: unattributed. */
	CU_ASSERT_EQUAL_FATAL(pa_init(&a, 10, IV, 1), 0);
	feed(&a, 10, drop, to);
	CU_ASSERT_EQUAL_FATAL(pa_finish(&a, &r), 0);
	CU_ASSERT_EQUAL(r.lost_total, 4);
	CU_ASSERT_EQUAL(r.lost_to, 2);
	CU_ASSERT_EQUAL(r.lost_from, 0);
	CU_ASSERT_EQUAL(r.unattributed, 2);
	CU_ASSERT_EQUAL_FATAL(r.n_outages, 2);
	CU_ASSERT_EQUAL(r.outages[0].start_ns, st(0));
	CU_ASSERT_EQUAL(r.outages[0].prev_ok_ns, PA_NO_TIME);
	CU_ASSERT_EQUAL(r.outages[0].next_ok_ns, st(2));
	CU_ASSERT_EQUAL(r.outages[1].unattributed, 2);
	CU_ASSERT_EQUAL(r.outages[1].prev_ok_ns, st(7));
	CU_ASSERT_EQUAL(r.outages[1].next_ok_ns, PA_NO_TIME);
	/* runs to the end: one interval past the last lost send */
	CU_ASSERT_DOUBLE_EQUAL(r.outages[1].duration_ms, 2.0, 1e-9);
	pa_result_free(&r);

	/* With it: the responder got 7 (2..8), seq 9 never arrived. */
	pa_set_final_rx(&a, 7);
	CU_ASSERT_EQUAL_FATAL(pa_finish(&a, &r), 0);
	CU_ASSERT_EQUAL(r.unattributed, 0);
	CU_ASSERT_EQUAL(r.lost_to, 3);
	CU_ASSERT_EQUAL(r.lost_from, 1);
	pa_result_free(&r);
	pa_free(&a);
}

static void test_duplicates_reordering(void)
{
	struct pa_acct a;
	struct pa_result r;
	CU_ASSERT_EQUAL_FATAL(pa_init(&a, 6, IV, 1), 0);
	for (uint64_t i = 0; i < 6; i++)
		CU_ASSERT_EQUAL(pa_on_send(&a, i, st(i), 1), 0);
	CU_ASSERT_EQUAL(pa_on_reply(&a, 0, st(0), st(0) + RTT, 1), PA_NEW);
	CU_ASSERT_EQUAL(pa_on_reply(&a, 2, st(2), st(2) + RTT, 3), PA_NEW);
	CU_ASSERT_EQUAL(pa_on_reply(&a, 1, st(1), st(2) + RTT, 2), PA_REORDERED);
	CU_ASSERT_EQUAL(pa_on_reply(&a, 1, st(1), st(2) + RTT, 2), PA_DUP);
	CU_ASSERT_EQUAL(pa_on_reply(&a, 3, st(3), st(3) + RTT, 4), PA_NEW);
	CU_ASSERT_EQUAL(pa_on_reply(&a, 5, st(5), st(5) + RTT, 6), PA_NEW);
	CU_ASSERT_EQUAL(pa_on_reply(&a, 4, st(4), st(5) + RTT, 5), PA_REORDERED);
	CU_ASSERT_EQUAL(pa_on_reply(&a, 0, st(0), st(5) + RTT, 1), PA_DUP);
	/* not ours: unknown sequence, wrong send timestamp */
	CU_ASSERT_EQUAL(pa_on_reply(&a, 6, st(6), st(6), 7), PA_BOGUS);
	CU_ASSERT_EQUAL(pa_on_reply(&a, 2, st(2) + 1, st(6), 3), PA_BOGUS);
	CU_ASSERT_EQUAL_FATAL(pa_finish(&a, &r), 0);
	CU_ASSERT_EQUAL(r.received, 6);
	CU_ASSERT_EQUAL(r.lost_total, 0);
	CU_ASSERT_EQUAL(r.duplicates, 2);
	CU_ASSERT_EQUAL(r.reordered, 2);
	CU_ASSERT_EQUAL(a.bogus, 2);
	CU_ASSERT_DOUBLE_EQUAL(r.rtt_max_ms, 1.2, 1e-9);
	pa_result_free(&r);
	pa_free(&a);
}

static void test_late_and_send_errors(void)
{
	struct pa_acct a;
	struct pa_result r;
	CU_ASSERT_EQUAL_FATAL(pa_init(&a, 4, IV, 0), 0);
	CU_ASSERT_EQUAL(pa_on_send(&a, 0, st(0), 1), 0);
	CU_ASSERT_EQUAL(pa_on_send(&a, 2, st(2), 1), -1); /* out of order */
	CU_ASSERT_EQUAL(pa_on_send(&a, 1, st(1), 0), 0);  /* send error */
	CU_ASSERT_EQUAL(pa_on_send(&a, 2, st(2), 1), 0);
	CU_ASSERT_EQUAL(pa_on_send(&a, 3, st(3), 1), 0);
	CU_ASSERT_EQUAL(pa_on_send(&a, 4, st(4), 1), -1); /* over capacity */
	pa_set_late_after(&a, st(4));
	CU_ASSERT_EQUAL(pa_on_reply(&a, 0, st(0), st(0) + RTT, 0), PA_NEW);
	CU_ASSERT_EQUAL(pa_on_reply(&a, 2, st(2), st(4) + 500 * IV, 0), PA_NEW); /* delayed */
	CU_ASSERT_EQUAL(pa_on_reply(&a, 3, st(3), st(4) + 500 * IV, 0), PA_NEW);
	pa_set_times(&a, st(0), st(4) + 2000 * IV);
	CU_ASSERT_EQUAL_FATAL(pa_finish(&a, &r), 0);
	CU_ASSERT_EQUAL(r.directional, 0);
	CU_ASSERT_EQUAL(r.late, 2);
	CU_ASSERT_EQUAL(r.send_errors, 1);
	CU_ASSERT_EQUAL(r.lost_total, 1);
	CU_ASSERT_EQUAL(r.lost_to + r.lost_from + r.unattributed, 0); /* not directional */
	CU_ASSERT_EQUAL_FATAL(r.n_outages, 1);
	CU_ASSERT_EQUAL(r.outages[0].lost, 1);
	CU_ASSERT_EQUAL(r.start_ns, st(0));
	pa_result_free(&r);
	pa_free(&a);
}

static void test_inconsistent_counters(void)
{
	/* Counters that go backwards or jump too far are clamped, never negative. */
	struct pa_acct a;
	struct pa_result r;
	CU_ASSERT_EQUAL_FATAL(pa_init(&a, 6, IV, 1), 0);
	for (uint64_t i = 0; i < 6; i++)
		CU_ASSERT_EQUAL(pa_on_send(&a, i, st(i), 1), 0);
	CU_ASSERT_EQUAL(pa_on_reply(&a, 0, st(0), st(0) + RTT, 10), PA_NEW);
	CU_ASSERT_EQUAL(pa_on_reply(&a, 3, st(3), st(3) + RTT, 2), PA_NEW);   /* backwards */
	CU_ASSERT_EQUAL(pa_on_reply(&a, 5, st(5), st(5) + RTT, 100), PA_NEW); /* too far */
	CU_ASSERT_EQUAL_FATAL(pa_finish(&a, &r), 0);
	CU_ASSERT_EQUAL(r.lost_total, 3);
	CU_ASSERT_EQUAL(r.outages[0].lost_to, 2);
	CU_ASSERT_EQUAL(r.outages[0].lost_from, 0);
	CU_ASSERT_EQUAL(r.outages[1].lost_to, 0);
	CU_ASSERT_EQUAL(r.outages[1].lost_from, 1);
	CU_ASSERT_EQUAL(r.lost_to + r.lost_from, r.lost_total);
	pa_result_free(&r);
	pa_free(&a);
}

static void test_nothing_received(void)
{
	struct pa_acct a;
	struct pa_result r;
	CU_ASSERT_EQUAL_FATAL(pa_init(&a, 5, IV, 1), 0);
	for (uint64_t i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(pa_on_send(&a, i, st(i), 1), 0);
	pa_set_final_rx(&a, 0);
	CU_ASSERT_EQUAL_FATAL(pa_finish(&a, &r), 0);
	CU_ASSERT_FALSE(r.have_rtt);
	CU_ASSERT_EQUAL(r.lost_to, 5);
	CU_ASSERT_EQUAL(r.n_outages, 1);
	CU_ASSERT_DOUBLE_EQUAL(r.longest_outage_ms, 5.0, 1e-9);
	pa_result_free(&r);
	pa_free(&a);
}

static void test_init_args(void)
{
	struct pa_acct a;
	CU_ASSERT_EQUAL(pa_init(&a, 0, IV, 1), -1);
	CU_ASSERT_EQUAL(pa_init(&a, PA_MAX_PACKETS + 1, IV, 1), -1);
	CU_ASSERT_EQUAL(pa_init(&a, 10, 0, 1), -1);
}

static void test_percentiles(void)
{
	int64_t v[100];
	for (int i = 0; i < 100; i++)
		v[i] = i + 1;
	CU_ASSERT_EQUAL(pa_percentile(v, 100, 50), 50);
	CU_ASSERT_EQUAL(pa_percentile(v, 100, 99), 99);
	CU_ASSERT_EQUAL(pa_percentile(v, 100, 100), 100);
	CU_ASSERT_EQUAL(pa_percentile(v, 100, 0.001), 1);
	CU_ASSERT_EQUAL(pa_percentile(v, 1, 99), 1);
	CU_ASSERT_EQUAL(pa_percentile(v, 0, 50), 0);
	CU_ASSERT_EQUAL(pa_percentile(v, 3, 50), 2);
	CU_ASSERT_EQUAL(pa_percentile(v, 4, 50), 2);

	/* Through the accounting: RTTs 1..200 ms fed in scrambled order. */
	struct pa_acct a;
	struct pa_result r;
	CU_ASSERT_EQUAL_FATAL(pa_init(&a, 200, IV, 0), 0);
	for (uint64_t i = 0; i < 200; i++)
		CU_ASSERT_EQUAL(pa_on_send(&a, i, st(i), 1), 0);
	for (uint64_t i = 0; i < 200; i++) {
		uint64_t rtt_ms = (i * 37) % 200 + 1;
		(void)pa_on_reply(&a, i, st(i), st(i) + (int64_t)rtt_ms * 1000000, 0);
	}
	CU_ASSERT_EQUAL_FATAL(pa_finish(&a, &r), 0);
	CU_ASSERT_DOUBLE_EQUAL(r.rtt_median_ms, 100.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(r.rtt_p99_ms, 198.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(r.rtt_max_ms, 200.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(r.rtt_min_ms, 1.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(r.rtt_mean_ms, 100.5, 1e-9);
	pa_result_free(&r);
	pa_free(&a);
}

static void test_wire(void)
{
	uint8_t buf[HBP_MAX_LEN + 8];
	struct hbp_pkt p = { .type = HBP_T_REQ, .session = 0x0123456789abcdefull, .seq = 42,
			     .send_ns = T0, .reply_seq = 0, .rx_count = 0 };
	struct hbp_pkt q;
	memset(buf, 0xee, sizeof(buf));
	hbp_encode(buf, &p);
	CU_ASSERT_EQUAL(memcmp(buf, "HBPR", 4), 0);
	CU_ASSERT_EQUAL(hbp_decode(buf, 64, &q), 0);
	CU_ASSERT_EQUAL(q.session, p.session);
	CU_ASSERT_EQUAL(q.seq, 42);
	CU_ASSERT_EQUAL(q.send_ns, T0);
	hbp_make_reply(buf, HBP_T_REPLY, 7, 9);
	CU_ASSERT_EQUAL(hbp_decode(buf, HBP_HDR_LEN, &q), 0);
	CU_ASSERT_EQUAL(q.type, HBP_T_REPLY);
	CU_ASSERT_EQUAL(q.reply_seq, 7);
	CU_ASSERT_EQUAL(q.rx_count, 9);
	CU_ASSERT_EQUAL(q.seq, 42);
	CU_ASSERT_EQUAL(buf[HBP_HDR_LEN], 0xee); /* padding untouched */
	/* garbage */
	CU_ASSERT_EQUAL(hbp_decode(buf, HBP_HDR_LEN - 1, &q), -1);
	CU_ASSERT_EQUAL(hbp_decode(buf, HBP_MAX_LEN + 1, &q), -1);
	buf[0] = 'X';
	CU_ASSERT_EQUAL(hbp_decode(buf, HBP_HDR_LEN, &q), -1);
	buf[0] = 'H';
	buf[4] = 2;
	CU_ASSERT_EQUAL(hbp_decode(buf, HBP_HDR_LEN, &q), -1);
	buf[4] = HBP_VERSION;
	buf[5] = 0;
	CU_ASSERT_EQUAL(hbp_decode(buf, HBP_HDR_LEN, &q), -1);
	buf[5] = 5;
	CU_ASSERT_EQUAL(hbp_decode(buf, HBP_HDR_LEN, &q), -1);
	buf[5] = HBP_T_STATS_REQ;
	buf[7] = 1;
	CU_ASSERT_EQUAL(hbp_decode(buf, HBP_HDR_LEN, &q), -1);
	buf[7] = 0;
	CU_ASSERT_EQUAL(hbp_decode(buf, HBP_HDR_LEN, &q), 0);
}

static void test_opts(void)
{
	struct hbp_addr a;
	uint64_t u;
	double d;

	CU_ASSERT_EQUAL(hbp_parse_hostport("198.18.1.2:7000", 0, &a), 0);
	CU_ASSERT_STRING_EQUAL(a.text, "198.18.1.2:7000");
	CU_ASSERT_EQUAL(a.ss.ss_family, AF_INET);
	CU_ASSERT_EQUAL(ntohs(((struct sockaddr_in *)&a.ss)->sin_port), 7000);
	CU_ASSERT_EQUAL(hbp_parse_hostport("[2001:db8::1]:53", 0, &a), 0);
	CU_ASSERT_STRING_EQUAL(a.text, "[2001:db8::1]:53");
	CU_ASSERT_EQUAL(a.ss.ss_family, AF_INET6);
	CU_ASSERT_EQUAL(hbp_parse_hostport("7000", 1, &a), 0);
	CU_ASSERT_EQUAL(a.ss.ss_family, AF_UNSPEC);
	CU_ASSERT_EQUAL(hbp_parse_hostport("7000", 0, &a), -1);
	CU_ASSERT_EQUAL(hbp_parse_hostport("198.18.1.2", 0, &a), -1);
	CU_ASSERT_EQUAL(hbp_parse_hostport("198.18.1.2:0", 0, &a), -1);
	CU_ASSERT_EQUAL(hbp_parse_hostport("198.18.1.2:65536", 0, &a), -1);
	CU_ASSERT_EQUAL(hbp_parse_hostport("198.18.1.256:1", 0, &a), -1);
	CU_ASSERT_EQUAL(hbp_parse_hostport("host:1", 0, &a), -1);
	CU_ASSERT_EQUAL(hbp_parse_hostport("2001:db8::1:53", 0, &a), -1);
	CU_ASSERT_EQUAL(hbp_parse_hostport("[2001:db8::1]53", 0, &a), -1);
	CU_ASSERT_EQUAL(hbp_parse_hostport(":53", 0, &a), -1);
	CU_ASSERT_EQUAL(hbp_parse_hostport("", 1, &a), -1);
	CU_ASSERT_EQUAL(hbp_parse_ipv4("198.19.255.254", &a), 0);
	CU_ASSERT_STRING_EQUAL(a.text, "198.19.255.254");
	CU_ASSERT_EQUAL(hbp_parse_ipv4("198.19.255.254:1", &a), -1);
	CU_ASSERT_EQUAL(hbp_parse_ipv4("::1", &a), -1);

	CU_ASSERT_EQUAL(hbp_parse_uint("10000", 1, 100000, &u), 0);
	CU_ASSERT_EQUAL(u, 10000);
	CU_ASSERT_EQUAL(hbp_parse_uint("100001", 1, 100000, &u), -1);
	CU_ASSERT_EQUAL(hbp_parse_uint("0", 1, 100000, &u), -1);
	CU_ASSERT_EQUAL(hbp_parse_uint("-5", 1, 100000, &u), -1);
	CU_ASSERT_EQUAL(hbp_parse_uint("5x", 1, 100000, &u), -1);
	CU_ASSERT_EQUAL(hbp_parse_uint(" 5", 1, 100000, &u), -1);
	CU_ASSERT_EQUAL(hbp_parse_uint("99999999999999999999999", 1, UINT64_MAX, &u), -1);
	CU_ASSERT_EQUAL(hbp_parse_seconds("2.5", 86400, &d), 0);
	CU_ASSERT_DOUBLE_EQUAL(d, 2.5, 1e-12);
	CU_ASSERT_EQUAL(hbp_parse_seconds("0", 86400, &d), -1);
	CU_ASSERT_EQUAL(hbp_parse_seconds("86401", 86400, &d), -1);
	CU_ASSERT_EQUAL(hbp_parse_seconds("nan", 86400, &d), -1);
	CU_ASSERT_EQUAL(hbp_parse_seconds("1e3", 86400, &d), -1);
	CU_ASSERT_EQUAL(hbp_parse_seconds(".", 86400, &d), -1);
	CU_ASSERT_EQUAL(hbp_parse_seconds("-1", 86400, &d), -1);
}

static void check_keys(json_t *o, const char *const *keys)
{
	for (; *keys; keys++) {
		if (!json_object_get(o, *keys))
			CU_FAIL(*keys);
	}
}

static void test_json(void)
{
	static const char *const top[] = { "mode", "target", "rate_pps", "duration_s", "sent",
					   "received", "lost_to_guest", "lost_from_guest",
					   "lost_total", "duplicates", "reordered", "late",
					   "rtt_ms", "longest_outage_ms", "outages",
					   "start_realtime", "end_realtime", NULL };
	static const char *const rtt[] = { "median", "p99", "max", NULL };
	static const char *const out_udp[] = { "start_realtime", "end_realtime", "duration_ms",
						"lost_to_guest", "lost_from_guest", NULL };
	static const char *const out_icmp[] = { "start_realtime", "end_realtime", "duration_ms",
						 "lost", NULL };
	int drop[10] = { 0, 0, 0, 1, 1, 0, 0, 0, 0, 0 };
	struct hbp_run_info info = { .mode = "udp", .target = "198.18.1.2:7000", .rate_pps = 1000,
				     .duration_s = 0.01, .grace_ms = 2000, .size = 64,
				     .session = 0xabcdefull };
	struct pa_acct a;
	struct pa_result r;

	CU_ASSERT_EQUAL_FATAL(pa_init(&a, 10, IV, 1), 0);
	feed(&a, 10, drop, drop);
	pa_set_times(&a, st(0), st(12));
	CU_ASSERT_EQUAL_FATAL(pa_finish(&a, &r), 0);
	json_t *j = hbp_result_json(&info, &r);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	check_keys(j, top);
	check_keys(json_object_get(j, "rtt_ms"), rtt);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "mode")), "udp");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "lost_to_guest")), 2);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "lost_from_guest")), 0);
	json_t *outs = json_object_get(j, "outages");
	CU_ASSERT_EQUAL_FATAL(json_array_size(outs), 1);
	check_keys(json_array_get(outs, 0), out_udp);
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(json_array_get(outs, 0),
							       "start_realtime")),
			       (double)st(3) / 1e9, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(j, "longest_outage_ms")), 2.0, 1e-9);
	json_decref(j);
	pa_result_free(&r);
	pa_free(&a);

	/* icmp: no per-direction keys, outages carry "lost" */
	info.mode = "icmp";
	info.target = "198.18.1.2";
	CU_ASSERT_EQUAL_FATAL(pa_init(&a, 10, IV, 0), 0);
	feed(&a, 10, drop, NULL);
	CU_ASSERT_EQUAL_FATAL(pa_finish(&a, &r), 0);
	j = hbp_result_json(&info, &r);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_PTR_NULL(json_object_get(j, "lost_to_guest"));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "lost_total")), 2);
	outs = json_object_get(j, "outages");
	CU_ASSERT_EQUAL_FATAL(json_array_size(outs), 1);
	check_keys(json_array_get(outs, 0), out_icmp);
	json_decref(j);
	pa_result_free(&r);
	pa_free(&a);
}

static CU_TestInfo tests[] = {
	{ "no loss", test_no_loss },
	{ "gap to guest", test_gap_to_guest },
	{ "gap from guest", test_gap_from_guest },
	{ "mixed and multiple outages", test_mixed_and_multiple },
	{ "leading and trailing runs", test_leading_and_trailing },
	{ "duplicates and reordering", test_duplicates_reordering },
	{ "late replies and send errors", test_late_and_send_errors },
	{ "inconsistent counters", test_inconsistent_counters },
	{ "nothing received", test_nothing_received },
	{ "init arguments", test_init_args },
	{ "percentiles", test_percentiles },
	{ "wire format", test_wire },
	{ "option parsers", test_opts },
	{ "json result", test_json },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_SuiteInfo suites[] = {
		{ "probe", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return hb_cu_run(suites);
}
