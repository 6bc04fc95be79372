/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_proto.c — CUnit tests of libhybond-proto: round trips,
 * one test per malformed-input error code, the encoder's limits, and the
 * stream reader (byte-wise feeding, garbage, fake magic, reconnects).
 */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/cu_run.h"

#include <hybond/proto.h>
#include <hybond/proto_desc.h>

#include "test_proto_samples.h"

#define ALL_TYPES(t) for ((t) = 1; (t) < (unsigned)HB_MSG_LAST_; (t)++)

static uint8_t fbuf[HB_FRAME_MAX];      /* frame under construction */
static const uint8_t magic[4] = { 'H', 'Y', 'B', 'N' };
static struct hb_stream stream;         /* 64 KiB: not on the stack */

/* A payload writer on fbuf, for hand-made (often invalid) payloads. */
static struct hb_wbuf payload_writer(void)
{
	struct hb_wbuf w = { fbuf + HB_HDR_LEN, HB_PAYLOAD_MAX, 0 };

	memset(fbuf, 0, sizeof(fbuf));
	return w;
}

/* Frame the payload in fbuf as @type and decode it: the decode result. */
static int decode_payload(uint16_t type, size_t len, struct hb_msg *m)
{
	int n = hb_frame_finish(fbuf, sizeof(fbuf), type, 0, 42, len);

	CU_ASSERT_EQUAL_FATAL(n, (int)(HB_HDR_LEN + len));
	return hb_decode(fbuf, (size_t)n, m);
}

static int encode_sample(uint16_t type, uint8_t *buf, size_t cap)
{
	struct hb_msg m;
	int n;

	hb_sample_msg(type, &m);
	n = hb_encode(buf, cap, &m);
	CU_ASSERT_TRUE_FATAL(n > 0);
	return n;
}

static void put_iface(struct hb_wbuf *w, uint16_t type, const char *name)
{
	size_t mark;

	CU_ASSERT_EQUAL(hb_nest_begin(w, type, &mark), 0);
	CU_ASSERT_EQUAL(hb_put_str(w, HB_A_IFACE_NAME, name), 0);
	CU_ASSERT_EQUAL(hb_put_u32(w, HB_A_IFACE_INDEX, 3), 0);
	CU_ASSERT_EQUAL(hb_put_u8(w, HB_A_IFACE_LINK, 1), 0);
	CU_ASSERT_EQUAL(hb_put_u8(w, HB_A_IFACE_CARRIER, 0), 0);
	CU_ASSERT_EQUAL(hb_nest_end(w, mark), 0);
}

/* A valid PAIR attribute; returns its mark so callers can add to it. */
static size_t begin_pair(struct hb_wbuf *w, uint32_t id)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	size_t mark = 0;

	CU_ASSERT_EQUAL(hb_nest_begin(w, HB_A_STATUS_PAIR, &mark), 0);
	CU_ASSERT_EQUAL(hb_put_u32(w, HB_A_PAIR_ID, id), 0);
	CU_ASSERT_EQUAL(hb_put_attr(w, HB_A_PAIR_MAC, mac, 6), 0);
	CU_ASSERT_EQUAL(hb_put_u8(w, HB_A_PAIR_ACTIVE, HB_PATH_STANDBY), 0);
	put_iface(w, HB_A_PAIR_MASTER, "eth0");
	put_iface(w, HB_A_PAIR_STANDBY, "eth1");
	return mark;
}

static void put_pair(struct hb_wbuf *w, uint32_t id)
{
	CU_ASSERT_EQUAL(hb_nest_end(w, begin_pair(w, id)), 0);
}

/* A valid PREPARE_SWITCH payload, without DEADLINE_MS if !deadline. */
static void put_prepare(struct hb_wbuf *w, int deadline)
{
	CU_ASSERT_EQUAL(hb_put_u32(w, HB_A_PREPARE_SWITCH_PAIR_ID, 1), 0);
	CU_ASSERT_EQUAL(hb_put_u8(w, HB_A_PREPARE_SWITCH_PATH, HB_PATH_STANDBY), 0);
	if (deadline)
		CU_ASSERT_EQUAL(hb_put_u32(w, HB_A_PREPARE_SWITCH_DEADLINE_MS, 100), 0);
}

/* ---- round trips --------------------------------------------------------- */

static void test_roundtrip_all(void)
{
	static uint8_t a[HB_FRAME_MAX], b[HB_FRAME_MAX];
	unsigned t;

	ALL_TYPES(t) {
		struct hb_msg in, out;
		int n, n2;

		hb_sample_msg(t, &in);
		n = hb_encode(a, sizeof(a), &in);
		CU_ASSERT_TRUE_FATAL(n > (int)HB_HDR_LEN);
		CU_ASSERT_EQUAL((n - HB_HDR_LEN) % 4, 0);
		CU_ASSERT_EQUAL(hb_decode(a, (size_t)n, &out), n);
		CU_ASSERT_EQUAL(out.type, t);
		CU_ASSERT_EQUAL(out.seq, in.seq);
		CU_ASSERT_EQUAL(out.flags, in.flags);
		CU_ASSERT_EQUAL(out.ver_major, HB_VERSION_MAJOR);
		CU_ASSERT_EQUAL(out.ver_minor, HB_VERSION_MINOR);
		/* Every field made it: the re-encoding is byte-identical. */
		n2 = hb_encode(b, sizeof(b), &out);
		CU_ASSERT_EQUAL(n2, n);
		CU_ASSERT_EQUAL(memcmp(a, b, (size_t)n), 0);
	}
}

static void test_roundtrip_fields(void)
{
	static uint8_t a[HB_FRAME_MAX];
	struct hb_msg in, out;
	const struct hb_pair *p;
	int n;

	hb_sample_msg(HB_MSG_STATUS, &in);
	n = hb_encode(a, sizeof(a), &in);
	CU_ASSERT_EQUAL_FATAL(hb_decode(a, (size_t)n, &out), n);
	CU_ASSERT_EQUAL_FATAL(out.u.status.n_pairs, 2);
	p = &out.u.status.pairs[0];
	CU_ASSERT_EQUAL(p->id, 1);
	CU_ASSERT_EQUAL(memcmp(p->mac, in.u.status.pairs[0].mac, 6), 0);
	CU_ASSERT_EQUAL(p->active, HB_PATH_FAST);
	CU_ASSERT_STRING_EQUAL(p->vf_pci, "0000:00:05.0");
	CU_ASSERT_STRING_EQUAL(p->master.name, "eth0");
	CU_ASSERT_STRING_EQUAL(p->standby.name, "eth0nsby");
	CU_ASSERT_STRING_EQUAL(p->vf.name, "enp0s5");
	CU_ASSERT_EQUAL(p->vf.carrier, 0);
	CU_ASSERT_EQUAL(p->master.tx_bytes, in.u.status.pairs[0].master.tx_bytes);
	CU_ASSERT_TRUE(HB_PRESENT(p, PAIR, VF));
	/* Strings point into the frame, right after their attribute header. */
	CU_ASSERT_TRUE((const uint8_t *)p->vf_pci > a && (const uint8_t *)p->vf_pci < a + n);
	p = &out.u.status.pairs[1];
	CU_ASSERT_EQUAL(p->id, 2);
	CU_ASSERT_FALSE(HB_PRESENT(p, PAIR, VF));
	CU_ASSERT_PTR_NULL(p->vf_pci);
	CU_ASSERT_PTR_NULL(p->vf.name);
	CU_ASSERT_TRUE(HB_PRESENT(&out.u.status, STATUS, PAIR_ID));
	CU_ASSERT_EQUAL(out.u.status.pair_id, 7);

	/* Minimal message: optional attributes absent stay absent. */
	hb_msg_init(&in, HB_MSG_EVENT, 9);
	in.u.event.pair_id = 3;
	in.u.event.kind = HB_EV_VF_VANISHED;
	n = hb_encode(a, sizeof(a), &in);
	CU_ASSERT_EQUAL(n, (int)(HB_HDR_LEN + 8 + 8));
	CU_ASSERT_EQUAL_FATAL(hb_decode(a, (size_t)n, &out), n);
	CU_ASSERT_EQUAL(out.u.event.kind, HB_EV_VF_VANISHED);
	CU_ASSERT_FALSE(HB_PRESENT(&out.u.event, EVENT, LINK));
	CU_ASSERT_PTR_NULL(out.u.event.ifname);

	/* Empty STATUS request. */
	hb_msg_init(&in, HB_MSG_STATUS, 10);
	n = hb_encode(a, sizeof(a), &in);
	CU_ASSERT_EQUAL(n, (int)HB_HDR_LEN);
	CU_ASSERT_EQUAL(hb_decode(a, (size_t)n, &out), n);
	CU_ASSERT_EQUAL(out.u.status.n_pairs, 0);
}

static void test_wire_layout(void)
{
	struct hb_msg m;
	int n;

	/* Byte-exact: the documented header layout and little-endian TLVs. */
	hb_msg_init(&m, HB_MSG_PING, 0x04030201u);
	m.u.ping.token = 0x1122334455667788ull;
	n = hb_encode(fbuf, sizeof(fbuf), &m);
	CU_ASSERT_EQUAL_FATAL(n, (int)HB_HDR_LEN + 12);
	CU_ASSERT_EQUAL(memcmp(fbuf, magic, 4), 0);
	CU_ASSERT_EQUAL(fbuf[4], HB_VERSION_MAJOR);
	CU_ASSERT_EQUAL(fbuf[5], HB_VERSION_MINOR);
	CU_ASSERT_EQUAL(fbuf[6], HB_MSG_PING);
	CU_ASSERT_EQUAL(fbuf[7], 0);
	CU_ASSERT_EQUAL(fbuf[8], 0);
	CU_ASSERT_EQUAL(fbuf[12], 0x01);
	CU_ASSERT_EQUAL(fbuf[15], 0x04);
	CU_ASSERT_EQUAL(fbuf[16], 12);
	CU_ASSERT_EQUAL(fbuf[28], 12);          /* attr len */
	CU_ASSERT_EQUAL(fbuf[29], 0);
	CU_ASSERT_EQUAL(fbuf[30], HB_A_PING_TOKEN);
	CU_ASSERT_EQUAL(fbuf[32], 0x88);
	CU_ASSERT_EQUAL(fbuf[39], 0x11);
	/* Check value of CRC-32/ISO-HDLC, as documented. */
	CU_ASSERT_EQUAL(hb_crc32("123456789", 9), 0xcbf43926u);
	CU_ASSERT_EQUAL(hb_crc32("", 0), 0);
}

/* ---- frame errors -------------------------------------------------------- */

static void test_trunc_hdr(void)
{
	struct hb_msg m;
	size_t k;
	int n = encode_sample(HB_MSG_PING, fbuf, sizeof(fbuf));

	CU_ASSERT_TRUE(n > 0);
	for (k = 0; k < HB_HDR_LEN; k++)
		CU_ASSERT_EQUAL(hb_decode(fbuf, k, &m), HB_E_TRUNC_HDR);
}

static void test_trunc_payload(void)
{
	struct hb_msg m;
	int n = encode_sample(HB_MSG_STATUS, fbuf, sizeof(fbuf)), k;

	for (k = HB_HDR_LEN; k < n; k++) {
		CU_ASSERT_EQUAL(hb_decode(fbuf, (size_t)k, &m), HB_E_TRUNC);
		CU_ASSERT_EQUAL(m.seq, 0x1000u + HB_MSG_STATUS);
	}
	CU_ASSERT_EQUAL(hb_decode(fbuf, (size_t)n, &m), n);
	/* Extra bytes after the frame are not part of it. */
	CU_ASSERT_EQUAL(hb_decode(fbuf, sizeof(fbuf), &m), n);
}

static void test_oversize(void)
{
	struct hb_hdr h = { .major = HB_VERSION_MAJOR, .type = HB_MSG_PING,
			    .seq = 5, .len = HB_PAYLOAD_MAX + 4 };
	struct hb_msg m;

	hb_hdr_encode(fbuf, &h);
	CU_ASSERT_EQUAL(hb_decode(fbuf, sizeof(fbuf), &m), HB_E_OVERSIZE);
	CU_ASSERT_EQUAL(m.seq, 5);
	h.len = 0xffffffffu;
	hb_hdr_encode(fbuf, &h);
	CU_ASSERT_EQUAL(hb_decode(fbuf, sizeof(fbuf), &m), HB_E_OVERSIZE);
	CU_ASSERT_EQUAL(hb_frame_finish(fbuf, sizeof(fbuf), HB_MSG_PING, 0, 1,
					HB_PAYLOAD_MAX + 1), HB_E_OVERSIZE);
	/* The largest payload is fine. */
	CU_ASSERT_EQUAL(hb_frame_finish(fbuf, sizeof(fbuf), 200, 0, 1, HB_PAYLOAD_MAX),
			(int)HB_FRAME_MAX);
}

static void test_bad_magic(void)
{
	struct hb_msg m;
	int n = encode_sample(HB_MSG_PING, fbuf, sizeof(fbuf)), i;

	for (i = 0; i < 4; i++) {
		fbuf[i] ^= 0x20;
		CU_ASSERT_EQUAL(hb_decode(fbuf, (size_t)n, &m), HB_E_BAD_MAGIC);
		fbuf[i] ^= 0x20;
	}
}

static void test_version(void)
{
	struct hb_hdr h = { .major = 2, .minor = 0, .type = HB_MSG_PING, .seq = 77 };
	struct hb_wbuf w = payload_writer();
	struct hb_msg m;

	CU_ASSERT_EQUAL(hb_put_u64(&w, HB_A_PING_TOKEN, 1), 0);
	h.len = (uint32_t)w.len;
	h.payload_crc = hb_crc32(fbuf + HB_HDR_LEN, w.len);
	hb_hdr_encode(fbuf, &h);
	CU_ASSERT_EQUAL(hb_decode(fbuf, HB_HDR_LEN + w.len, &m), HB_E_VERSION);
	CU_ASSERT_EQUAL(m.seq, 77);
	CU_ASSERT_EQUAL(m.ver_major, 2);
	h.major = 0;
	hb_hdr_encode(fbuf, &h);
	CU_ASSERT_EQUAL(hb_decode(fbuf, HB_HDR_LEN + w.len, &m), HB_E_VERSION);
	/* A higher minor is compatible. */
	h.major = HB_VERSION_MAJOR;
	h.minor = 200;
	hb_hdr_encode(fbuf, &h);
	CU_ASSERT_EQUAL(hb_decode(fbuf, HB_HDR_LEN + w.len, &m), (int)(HB_HDR_LEN + w.len));
	CU_ASSERT_EQUAL(m.ver_minor, 200);
	CU_ASSERT_EQUAL(m.u.ping.token, 1);
}

static void test_hdr_csum(void)
{
	struct hb_msg m;
	int n = encode_sample(HB_MSG_HELLO, fbuf, sizeof(fbuf));
	size_t i;

	/* Any bit of any byte after the magic, the checksum included. */
	for (i = 4; i < HB_HDR_LEN; i++) {
		fbuf[i] ^= 0x01;
		CU_ASSERT_EQUAL(hb_decode(fbuf, (size_t)n, &m), HB_E_HDR_CSUM);
		fbuf[i] ^= 0x81;
		CU_ASSERT_EQUAL(hb_decode(fbuf, (size_t)n, &m), HB_E_HDR_CSUM);
		fbuf[i] ^= 0x80;
	}
	CU_ASSERT_EQUAL(hb_decode(fbuf, (size_t)n, &m), n);
}

static void test_payload_csum(void)
{
	struct hb_msg m;
	int n = encode_sample(HB_MSG_HELLO, fbuf, sizeof(fbuf)), i;

	for (i = HB_HDR_LEN; i < n; i++) {
		fbuf[i] ^= 0x10;
		CU_ASSERT_EQUAL(hb_decode(fbuf, (size_t)n, &m), HB_E_PAYLOAD_CSUM);
		CU_ASSERT_EQUAL(m.type, HB_MSG_HELLO);
		fbuf[i] ^= 0x10;
	}
}

static void test_unknown_type(void)
{
	struct hb_wbuf w = payload_writer();
	struct hb_msg m;

	CU_ASSERT_EQUAL(hb_put_u32(&w, 1, 1), 0);
	CU_ASSERT_EQUAL(decode_payload(999, w.len, &m), HB_E_UNKNOWN_TYPE);
	CU_ASSERT_EQUAL(m.type, 999);
	CU_ASSERT_EQUAL(m.seq, 42);
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_NONE, w.len, &m), HB_E_UNKNOWN_TYPE);
}

/* ---- attribute errors ---------------------------------------------------- */

static void test_attr_overrun(void)
{
	struct hb_wbuf w = payload_writer();
	struct hb_msg m;
	size_t mark;

	/* A top-level attribute claiming more than the payload. */
	put_prepare(&w, 1);
	fbuf[HB_HDR_LEN] = 200;
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_PREPARE_SWITCH, w.len, &m), HB_E_ATTR_OVERRUN);

	/* An attribute inside PAIR claiming more than PAIR holds, though the
	 * payload would have the bytes. */
	w = payload_writer();
	mark = begin_pair(&w, 1);
	CU_ASSERT_EQUAL(hb_nest_end(&w, mark), 0);
	put_pair(&w, 2);
	/* PAIR's first attribute claims as much as the whole PAIR. */
	memcpy(fbuf + HB_HDR_LEN + mark + HB_ATTR_HDRLEN, fbuf + HB_HDR_LEN + mark, 2);
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_STATUS, w.len, &m), HB_E_ATTR_OVERRUN);

	/* The last attribute without its padding. */
	w = payload_writer();
	CU_ASSERT_EQUAL(hb_put_u32(&w, HB_A_ERROR_CODE, 1), 0);
	CU_ASSERT_EQUAL(hb_put_str(&w, HB_A_ERROR_TEXT, "ab"), 0);   /* 7 -> 8 */
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_ERROR, w.len - 1, &m), HB_E_ATTR_OVERRUN);
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_ERROR, w.len, &m), (int)(HB_HDR_LEN + w.len));
}

static void test_attr_malformed(void)
{
	struct hb_wbuf w = payload_writer();
	struct hb_msg m;

	/* Length below the header size would loop forever in a naive parser. */
	put_prepare(&w, 1);
	fbuf[HB_HDR_LEN] = 3;
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_PREPARE_SWITCH, w.len, &m), HB_E_ATTR_MALFORMED);
	fbuf[HB_HDR_LEN] = 0;
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_PREPARE_SWITCH, w.len, &m), HB_E_ATTR_MALFORMED);

	/* 1 to 3 stray bytes after the last attribute. */
	w = payload_writer();
	put_prepare(&w, 1);
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_PREPARE_SWITCH, w.len + 2, &m), HB_E_ATTR_MALFORMED);
}

static void test_attr_missing(void)
{
	struct hb_wbuf w = payload_writer();
	struct hb_msg m;
	size_t mark, imark;

	put_prepare(&w, 0);
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_PREPARE_SWITCH, w.len, &m), HB_E_ATTR_MISSING);

	/* Inside a nest: IFACE without NAME. */
	w = payload_writer();
	mark = begin_pair(&w, 1);
	CU_ASSERT_EQUAL(hb_nest_begin(&w, HB_A_PAIR_VF, &imark), 0);
	CU_ASSERT_EQUAL(hb_put_u32(&w, HB_A_IFACE_INDEX, 3), 0);
	CU_ASSERT_EQUAL(hb_put_u8(&w, HB_A_IFACE_LINK, 1), 0);
	CU_ASSERT_EQUAL(hb_put_u8(&w, HB_A_IFACE_CARRIER, 1), 0);
	CU_ASSERT_EQUAL(hb_nest_end(&w, imark), 0);
	CU_ASSERT_EQUAL(hb_nest_end(&w, mark), 0);
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_STATUS, w.len, &m), HB_E_ATTR_MISSING);

	/* Empty payload of a message with required attributes. */
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_PING, 0, &m), HB_E_ATTR_MISSING);
}

static void test_attr_len(void)
{
	static const uint8_t mac5[5] = { 1, 2, 3, 4, 5 };
	struct hb_wbuf w = payload_writer();
	struct hb_msg m;
	size_t mark;

	CU_ASSERT_EQUAL(hb_put_u16(&w, HB_A_PREPARE_SWITCH_PAIR_ID, 1), 0);
	put_prepare(&w, 1);
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_PREPARE_SWITCH, w.len, &m), HB_E_ATTR_LEN);

	w = payload_writer();
	CU_ASSERT_EQUAL(hb_put_u32(&w, HB_A_PING_TOKEN, 1), 0);     /* u64 wanted */
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_PING, w.len, &m), HB_E_ATTR_LEN);

	/* MAC of 5 bytes inside a PAIR. */
	w = payload_writer();
	mark = begin_pair(&w, 1);
	CU_ASSERT_EQUAL(hb_put_attr(&w, HB_A_PAIR_MAC, mac5, 5), 0);
	CU_ASSERT_EQUAL(hb_nest_end(&w, mark), 0);
	/* That second MAC is a duplicate: the count is checked first. */
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_STATUS, w.len, &m), HB_E_ATTR_DUP);

	/* String longer than its limit (IFNAMSIZ) and empty string value. */
	w = payload_writer();
	CU_ASSERT_EQUAL(hb_put_u32(&w, HB_A_EVENT_PAIR_ID, 1), 0);
	CU_ASSERT_EQUAL(hb_put_u8(&w, HB_A_EVENT_KIND, 1), 0);
	CU_ASSERT_EQUAL(hb_put_str(&w, HB_A_EVENT_IFNAME, "0123456789abcdef"), 0);
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_EVENT, w.len, &m), HB_E_ATTR_LEN);
	w = payload_writer();
	CU_ASSERT_EQUAL(hb_put_u32(&w, HB_A_EVENT_PAIR_ID, 1), 0);
	CU_ASSERT_EQUAL(hb_put_u8(&w, HB_A_EVENT_KIND, 1), 0);
	CU_ASSERT_EQUAL(hb_put_attr(&w, HB_A_EVENT_IFNAME, NULL, 0), 0);
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_EVENT, w.len, &m), HB_E_ATTR_LEN);
	/* 15 characters is the most an ifname can have. */
	w = payload_writer();
	CU_ASSERT_EQUAL(hb_put_u32(&w, HB_A_EVENT_PAIR_ID, 1), 0);
	CU_ASSERT_EQUAL(hb_put_u8(&w, HB_A_EVENT_KIND, 1), 0);
	CU_ASSERT_EQUAL(hb_put_str(&w, HB_A_EVENT_IFNAME, "0123456789abcde"), 0);
	CU_ASSERT_TRUE(decode_payload(HB_MSG_EVENT, w.len, &m) > 0);
	CU_ASSERT_STRING_EQUAL(m.u.event.ifname, "0123456789abcde");
}

static void test_attr_len_mac(void)
{
	static const uint8_t mac7[7] = { 1, 2, 3, 4, 5, 6, 7 };
	struct hb_wbuf w = payload_writer();
	struct hb_msg m;
	size_t mark = 0;

	/* A PAIR whose only MAC has 7 bytes. */
	CU_ASSERT_EQUAL(hb_nest_begin(&w, HB_A_STATUS_PAIR, &mark), 0);
	CU_ASSERT_EQUAL(hb_put_u32(&w, HB_A_PAIR_ID, 1), 0);
	CU_ASSERT_EQUAL(hb_put_attr(&w, HB_A_PAIR_MAC, mac7, 7), 0);
	CU_ASSERT_EQUAL(hb_nest_end(&w, mark), 0);
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_STATUS, w.len, &m), HB_E_ATTR_LEN);
}

static void test_attr_str(void)
{
	struct hb_wbuf w = payload_writer();
	struct hb_msg m;

	CU_ASSERT_EQUAL(hb_put_u32(&w, HB_A_ERROR_CODE, 1), 0);
	CU_ASSERT_EQUAL(hb_put_attr(&w, HB_A_ERROR_TEXT, "abc", 3), 0);
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_ERROR, w.len, &m), HB_E_ATTR_STR);

	w = payload_writer();
	CU_ASSERT_EQUAL(hb_put_u32(&w, HB_A_ERROR_CODE, 1), 0);
	CU_ASSERT_EQUAL(hb_put_attr(&w, HB_A_ERROR_TEXT, "ab\0cd", 6), 0);
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_ERROR, w.len, &m), HB_E_ATTR_STR);
}

static void test_attr_value(void)
{
	struct hb_wbuf w = payload_writer();
	struct hb_msg m;

	CU_ASSERT_EQUAL(hb_put_u32(&w, HB_A_PREPARE_SWITCH_PAIR_ID, 1), 0);
	CU_ASSERT_EQUAL(hb_put_u8(&w, HB_A_PREPARE_SWITCH_PATH, 2), 0);
	CU_ASSERT_EQUAL(hb_put_u32(&w, HB_A_PREPARE_SWITCH_DEADLINE_MS, 1), 0);
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_PREPARE_SWITCH, w.len, &m), HB_E_ATTR_VALUE);
	/* Unknown event kinds are the receiver's to ignore, not an error. */
	w = payload_writer();
	CU_ASSERT_EQUAL(hb_put_u32(&w, HB_A_EVENT_PAIR_ID, 1), 0);
	CU_ASSERT_EQUAL(hb_put_u8(&w, HB_A_EVENT_KIND, 200), 0);
	CU_ASSERT_TRUE(decode_payload(HB_MSG_EVENT, w.len, &m) > 0);
	CU_ASSERT_EQUAL(m.u.event.kind, 200);
}

/* Unknown nested attributes @levels deep inside a PAIR inside STATUS. */
static int decode_deep(unsigned levels)
{
	struct hb_wbuf w = payload_writer();
	struct hb_msg m;
	size_t marks[8];
	size_t pair = begin_pair(&w, 1);
	unsigned i;

	for (i = 0; i < levels; i++)
		CU_ASSERT_EQUAL(hb_nest_begin(&w, 20, &marks[i]), 0);
	CU_ASSERT_EQUAL(hb_put_u32(&w, 1, 5), 0);
	while (i-- > 0)
		CU_ASSERT_EQUAL(hb_nest_end(&w, marks[i]), 0);
	CU_ASSERT_EQUAL(hb_nest_end(&w, pair), 0);
	return decode_payload(HB_MSG_STATUS, w.len, &m);
}

static void test_nest_depth(void)
{
	/* PAIR is level 1: two more levels fit in HB_MAX_NEST_DEPTH (3). */
	CU_ASSERT_TRUE(decode_deep(HB_MAX_NEST_DEPTH - 1) > 0);
	CU_ASSERT_EQUAL(decode_deep(HB_MAX_NEST_DEPTH), HB_E_NEST_DEPTH);
	CU_ASSERT_EQUAL(decode_deep(6), HB_E_NEST_DEPTH);
}

static void test_attr_dup(void)
{
	struct hb_wbuf w = payload_writer();
	struct hb_msg m;

	put_prepare(&w, 1);
	CU_ASSERT_EQUAL(hb_put_u32(&w, HB_A_PREPARE_SWITCH_PAIR_ID, 2), 0);
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_PREPARE_SWITCH, w.len, &m), HB_E_ATTR_DUP);
}

static void test_attr_count(void)
{
	struct hb_wbuf w = payload_writer();
	struct hb_msg m;
	uint32_t i;

	for (i = 0; i < HB_MAX_PAIRS; i++)
		put_pair(&w, i);
	CU_ASSERT_TRUE(decode_payload(HB_MSG_STATUS, w.len, &m) > 0);
	CU_ASSERT_EQUAL(m.u.status.n_pairs, HB_MAX_PAIRS);
	CU_ASSERT_EQUAL(m.u.status.pairs[7].id, 7);
	CU_ASSERT_STRING_EQUAL(m.u.status.pairs[7].standby.name, "eth1");
	put_pair(&w, HB_MAX_PAIRS);
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_STATUS, w.len, &m), HB_E_ATTR_COUNT);
}

static void test_unknown_attrs(void)
{
	struct hb_wbuf w = payload_writer();
	struct hb_msg m;
	size_t mark;

	/* A newer peer's attributes, before and after the known ones. */
	CU_ASSERT_EQUAL(hb_put_u32(&w, 30, 0xdead), 0);
	CU_ASSERT_EQUAL(hb_put_str(&w, 0x7fff, "future"), 0);
	CU_ASSERT_EQUAL(hb_nest_begin(&w, 31, &mark), 0);
	CU_ASSERT_EQUAL(hb_put_u64(&w, 1, 1), 0);
	CU_ASSERT_EQUAL(hb_nest_end(&w, mark), 0);
	CU_ASSERT_EQUAL(hb_put_u16(&w, HB_A_HELLO_VER_MIN, 0x100), 0);
	CU_ASSERT_EQUAL(hb_put_u16(&w, HB_A_HELLO_VER_MAX, 0x105), 0);
	CU_ASSERT_EQUAL(hb_put_u32(&w, HB_A_HELLO_CAPS, 0x80000007u), 0);
	CU_ASSERT_EQUAL(hb_put_str(&w, HB_A_HELLO_AGENT, "g 9"), 0);
	CU_ASSERT_EQUAL(hb_put_attr(&w, 0, "x", 1), 0);  /* type 0: unknown too */
	CU_ASSERT_TRUE(decode_payload(HB_MSG_HELLO, w.len, &m) > 0);
	CU_ASSERT_EQUAL(m.u.hello.ver_max, 0x105);
	CU_ASSERT_EQUAL(m.u.hello.caps, 0x80000007u);
	CU_ASSERT_STRING_EQUAL(m.u.hello.agent, "g 9");

	/* Even unknown, a nested attribute must be well-formed. */
	fbuf[HB_HDR_LEN + 8 + 12 + 4] = 3;      /* inner attr of type-31 nest */
	CU_ASSERT_EQUAL(decode_payload(HB_MSG_HELLO, w.len, &m), HB_E_ATTR_MALFORMED);
}

/* ---- encoder ------------------------------------------------------------- */

static void test_encode_nospc(void)
{
	static uint8_t buf[HB_FRAME_MAX];
	unsigned t;

	ALL_TYPES(t) {
		struct hb_msg m;
		int n, cap;

		hb_sample_msg(t, &m);
		n = hb_encode(buf, sizeof(buf), &m);
		CU_ASSERT_TRUE_FATAL(n > 0);
		for (cap = 0; cap < n; cap++) {
			int i, clean = 1;

			memset(buf, 0xa5, sizeof(buf));
			CU_ASSERT_EQUAL(hb_encode(buf, (size_t)cap, &m), HB_E_NOSPC);
			for (i = cap; i < n; i++)
				clean &= buf[i] == 0xa5;
			CU_ASSERT_TRUE(clean);  /* nothing written past cap */
		}
		CU_ASSERT_EQUAL(hb_encode(buf, (size_t)n, &m), n);
	}
}

static void test_encode_inval(void)
{
	char longname[40];
	struct hb_msg m;

	hb_msg_init(&m, 77, 1);
	CU_ASSERT_EQUAL(hb_encode(NULL, 100, &m), HB_E_INVAL);
	CU_ASSERT_EQUAL(hb_encode(fbuf, sizeof(fbuf), &m), HB_E_UNKNOWN_TYPE);

	hb_sample_msg(HB_MSG_PREPARE_SWITCH, &m);
	m.u.prepare_switch.path = 2;
	CU_ASSERT_EQUAL(hb_encode(fbuf, sizeof(fbuf), &m), HB_E_INVAL);

	hb_sample_msg(HB_MSG_HELLO, &m);
	m.u.hello.agent = NULL;
	CU_ASSERT_EQUAL(hb_encode(fbuf, sizeof(fbuf), &m), HB_E_INVAL);

	hb_sample_msg(HB_MSG_STATUS, &m);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	m.u.status.pairs[1].master.name = longname;
	CU_ASSERT_EQUAL(hb_encode(fbuf, sizeof(fbuf), &m), HB_E_INVAL);
	longname[15] = '\0';
	CU_ASSERT_TRUE(hb_encode(fbuf, sizeof(fbuf), &m) > 0);
	m.u.status.n_pairs = HB_MAX_PAIRS + 1;
	CU_ASSERT_EQUAL(hb_encode(fbuf, sizeof(fbuf), &m), HB_E_INVAL);

	{
		struct hb_wbuf w = { fbuf, sizeof(fbuf), 0 };

		CU_ASSERT_EQUAL(hb_put_attr(&w, 1, fbuf, 0x10000), HB_E_INVAL);
		CU_ASSERT_EQUAL(hb_put_attr(&w, 1, NULL, 1), HB_E_INVAL);
		CU_ASSERT_EQUAL(hb_put_str(&w, 1, NULL), HB_E_INVAL);
		CU_ASSERT_EQUAL(hb_nest_end(&w, 0), HB_E_INVAL);
		w.cap = 3;
		CU_ASSERT_EQUAL(hb_put_u8(&w, 1, 1), HB_E_NOSPC);
		CU_ASSERT_EQUAL(w.len, 0);
	}
	CU_ASSERT_EQUAL(hb_hdr_decode(NULL, 100, NULL), HB_E_INVAL);
	CU_ASSERT_EQUAL(hb_frame_parse(fbuf, 100, NULL), HB_E_INVAL);
	CU_ASSERT_EQUAL(hb_decode(fbuf, 100, NULL), HB_E_INVAL);
}

/* ---- helpers: errors, answers, names ---------------------------------- */

static void test_error_and_matching(void)
{
	struct hb_msg req, ans, err;
	struct hb_hdr h;
	uint32_t seq = 0xfffffffeu;
	int n;

	CU_ASSERT_EQUAL(hb_seq_next(&seq), 0xffffffffu);
	CU_ASSERT_EQUAL(hb_seq_next(&seq), 1);          /* 0 is skipped */

	hb_sample_msg(HB_MSG_PREPARE_SWITCH, &req);
	hb_msg_init_reply(&ans, HB_MSG_SWITCH_DONE, &req);
	CU_ASSERT_EQUAL(ans.seq, req.seq);
	CU_ASSERT_EQUAL(ans.flags, HB_F_REPLY);
	CU_ASSERT_TRUE(hb_msg_is_answer(&req, &ans));
	ans.seq++;
	CU_ASSERT_FALSE(hb_msg_is_answer(&req, &ans));
	ans.seq--;
	ans.flags = 0;
	CU_ASSERT_FALSE(hb_msg_is_answer(&req, &ans));
	ans.flags = HB_F_REPLY;
	ans.type = HB_MSG_PONG;
	CU_ASSERT_FALSE(hb_msg_is_answer(&req, &ans));
	/* answered later, from the request's seq alone: the same answer */
	hb_msg_init_answer(&ans, HB_MSG_SWITCH_DONE, req.seq);
	CU_ASSERT_EQUAL(ans.seq, req.seq);
	CU_ASSERT_EQUAL(ans.flags, HB_F_REPLY);
	CU_ASSERT_EQUAL(ans.type, HB_MSG_SWITCH_DONE);
	CU_ASSERT_TRUE(hb_msg_is_answer(&req, &ans));
	CU_ASSERT_EQUAL(hb_msg_answer_type(HB_MSG_PING), HB_MSG_PONG);
	CU_ASSERT_EQUAL(hb_msg_answer_type(HB_MSG_EVENT), 0);
	CU_ASSERT_EQUAL(hb_msg_answer_type(500), 0);

	/* An ERROR answering a request that failed validation. */
	memset(&h, 0, sizeof(h));
	h.type = HB_MSG_PREPARE_SWITCH;
	h.seq = req.seq;
	n = hb_encode_error(fbuf, sizeof(fbuf), &h, HB_ERR_MALFORMED,
			    HB_E_ATTR_MISSING, "PREPARE_SWITCH without DEADLINE_MS");
	CU_ASSERT_TRUE_FATAL(n > 0);
	CU_ASSERT_EQUAL(hb_decode(fbuf, (size_t)n, &err), n);
	CU_ASSERT_TRUE(hb_msg_is_answer(&req, &err));
	CU_ASSERT_EQUAL(err.u.error.code, HB_ERR_MALFORMED);
	CU_ASSERT_EQUAL(err.u.error.detail, (uint32_t)-HB_E_ATTR_MISSING);
	CU_ASSERT_EQUAL(err.u.error.req_type, HB_MSG_PREPARE_SWITCH);
	CU_ASSERT_STRING_EQUAL(err.u.error.text, "PREPARE_SWITCH without DEADLINE_MS");

	/* Unsolicited, with a text too long for TEXT: truncated, not refused. */
	{
		char big[600];

		memset(big, 'e', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		n = hb_encode_error(fbuf, sizeof(fbuf), NULL, HB_ERR_INTERNAL, 0, big);
		CU_ASSERT_TRUE_FATAL(n > 0);
		CU_ASSERT_EQUAL(hb_decode(fbuf, (size_t)n, &err), n);
		CU_ASSERT_EQUAL(err.flags, 0);
		CU_ASSERT_EQUAL(strlen(err.u.error.text), 255);
		CU_ASSERT_FALSE(HB_PRESENT(&err.u.error, ERROR, DETAIL));
	}
}

static void test_names(void)
{
	const struct hb_enum_entry *e, *e2;
	unsigned t;

	for (e = hb_err_table; e->name; e++) {
		CU_ASSERT_TRUE(e->value < 0);
		CU_ASSERT_STRING_EQUAL(hb_strerror((int)e->value), e->text);
		CU_ASSERT_NOT_EQUAL(strcmp(hb_err_name((int)e->value), "HB_E_?"), 0);
		for (e2 = e + 1; e2->name; e2++)
			CU_ASSERT_NOT_EQUAL(e->value, e2->value);
	}
	CU_ASSERT_STRING_EQUAL(hb_strerror(0), "success");
	CU_ASSERT_STRING_EQUAL(hb_strerror(-9999), "unknown error");
	CU_ASSERT_STRING_EQUAL(hb_err_name(HB_E_TRUNC), "HB_E_TRUNC");
	CU_ASSERT_STRING_EQUAL(hb_error_code_name(HB_ERR_BUSY), "BUSY");
	CU_ASSERT_STRING_EQUAL(hb_error_code_name(0), "UNKNOWN");
	ALL_TYPES(t)
		CU_ASSERT_NOT_EQUAL(strcmp(hb_msg_name(t), "UNKNOWN"), 0);
	CU_ASSERT_STRING_EQUAL(hb_msg_name(HB_MSG_SWITCH_DONE), "SWITCH_DONE");
	CU_ASSERT_STRING_EQUAL(hb_msg_name(0), "UNKNOWN");
	CU_ASSERT_STRING_EQUAL(hb_kind_name(HB_K_NESTN), "nested");
	CU_ASSERT_STRING_EQUAL(hb_kind_name(99), "?");
}

/* ---- stream reader ------------------------------------------------------- */

struct collected {
	int frames;
	uint16_t types[64];
	int errors[64];
	int n_errors;
	size_t skipped;
};

/* Take every available frame out of the stream, decoding each one. */
static void drain(struct collected *c)
{
	for (;;) {
		struct hb_frame f;
		size_t sk = 0;
		int rc = hb_stream_next(&stream, &f, &sk);

		c->skipped += sk;
		if (rc == 0)
			return;
		if (rc < 0) {
			if (c->n_errors < 64)
				c->errors[c->n_errors] = rc;
			c->n_errors++;
			CU_ASSERT_PTR_NULL(f.payload);
			continue;
		}
		{
			struct hb_msg m;

			CU_ASSERT_EQUAL(hb_msg_decode(&f, &m), 0);
			if (c->frames < 64)
				c->types[c->frames] = m.type;
			c->frames++;
		}
	}
}

/* Feed @len bytes in chunks of @chunk (0: all at once), draining after each. */
static void feed(const uint8_t *p, size_t len, size_t chunk, struct collected *c)
{
	if (!chunk)
		chunk = len;
	while (len > 0) {
		size_t n = len < chunk ? len : chunk;
		size_t took = hb_stream_feed(&stream, p, n);

		CU_ASSERT_TRUE_FATAL(took > 0);
		p += took;
		len -= took;
		drain(c);
	}
}

static void start(struct collected *c)
{
	memset(c, 0, sizeof(*c));
	hb_stream_init(&stream);
}

static size_t all_samples(uint8_t *buf, size_t cap, uint16_t *types)
{
	size_t len = 0;
	unsigned t;

	ALL_TYPES(t) {
		int n = encode_sample(t, buf + len, cap - len);

		types[t - 1] = t;
		len += (size_t)n;
	}
	return len;
}

static void test_stream_bytewise(void)
{
	static uint8_t buf[HB_FRAME_MAX];
	uint16_t types[HB_MSG_LAST_];
	size_t len = all_samples(buf, sizeof(buf), types), chunk;
	struct collected c;

	for (chunk = 0; chunk < 8; chunk++) {
		start(&c);
		feed(buf, len, chunk, &c);
		CU_ASSERT_EQUAL(c.frames, HB_MSG_LAST_ - 1);
		CU_ASSERT_EQUAL(memcmp(c.types, types, sizeof(uint16_t) * (HB_MSG_LAST_ - 1)), 0);
		CU_ASSERT_EQUAL(c.skipped, 0);
		CU_ASSERT_EQUAL(c.n_errors, 0);
		CU_ASSERT_EQUAL(stream.frames, (uint64_t)HB_MSG_LAST_ - 1);
	}
}

static void test_stream_two_in_one(void)
{
	static uint8_t buf[1024];
	struct collected c;
	int a = encode_sample(HB_MSG_PING, buf, sizeof(buf));
	int b = encode_sample(HB_MSG_EVENT, buf + a, sizeof(buf) - (size_t)a);
	struct hb_frame f;

	start(&c);
	CU_ASSERT_EQUAL(hb_stream_feed(&stream, buf, (size_t)(a + b)), (size_t)(a + b));
	CU_ASSERT_EQUAL(hb_stream_next(&stream, &f, NULL), 1);
	CU_ASSERT_EQUAL(f.hdr.type, HB_MSG_PING);
	CU_ASSERT_EQUAL(hb_stream_next(&stream, &f, NULL), 1);
	CU_ASSERT_EQUAL(f.hdr.type, HB_MSG_EVENT);
	CU_ASSERT_EQUAL(hb_stream_next(&stream, &f, NULL), 0);
	CU_ASSERT_EQUAL(stream.skipped, 0);
}

/* Deterministic garbage without the magic in it. */
static void garbage(uint8_t *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
		if (p[i] == 'H')
			p[i] = 'h';
	}
}

static void test_stream_garbage(void)
{
	static uint8_t buf[4096];
	struct hb_hdr h = { .major = HB_VERSION_MAJOR, .type = HB_MSG_PING,
			    .len = 60000 };
	size_t g, chunk;
	int n;

	/* Garbage, a partial magic, a fake magic + header with a broken
	 * checksum claiming 60000 bytes, then a real frame. */
	garbage(buf, 1000, 1);
	memcpy(buf + 1000, magic, 3);
	hb_hdr_encode(buf + 1003, &h);
	buf[1003 + 20] ^= 1;                    /* header CRC no longer matches */
	memcpy(buf + 1003 + HB_HDR_LEN, magic, 2);
	g = 1003 + HB_HDR_LEN + 2;
	n = encode_sample(HB_MSG_STATUS, buf + g, sizeof(buf) - g);
	for (chunk = 0; chunk < 3; chunk++) {
		struct collected c;

		start(&c);
		feed(buf, g + (size_t)n, chunk, &c);
		CU_ASSERT_EQUAL(c.frames, 1);
		CU_ASSERT_EQUAL(c.types[0], HB_MSG_STATUS);
		CU_ASSERT_EQUAL(c.skipped, g);
		CU_ASSERT_EQUAL(c.n_errors, 0);
	}
}

static void test_stream_only_garbage(void)
{
	static uint8_t buf[200000];
	struct collected c;

	/* More garbage than the buffer holds: it never fills up. */
	garbage(buf, sizeof(buf), 7);
	memcpy(buf + sizeof(buf) - 3, magic, 3);
	start(&c);
	feed(buf, sizeof(buf), 70000, &c);
	CU_ASSERT_EQUAL(c.frames, 0);
	CU_ASSERT_EQUAL(c.skipped, sizeof(buf) - 3);   /* "HYB" may be a start */
	hb_stream_reset(&stream);
	CU_ASSERT_EQUAL(stream.skipped, sizeof(buf));
}

/* A frame cut after @k bytes (the writer went away), then a fresh frame. */
static void reconnect_case(const uint8_t *dead, size_t k, const uint8_t *fresh,
			   size_t n, size_t chunk)
{
	static uint8_t buf[2 * HB_FRAME_MAX];
	struct collected c;
	int i;

	memcpy(buf, dead, k);
	memcpy(buf + k, fresh, n);
	start(&c);
	feed(buf, k + n, chunk, &c);
	CU_ASSERT_EQUAL(c.frames, 1);
	CU_ASSERT_EQUAL(c.types[0], HB_MSG_HELLO);
	CU_ASSERT_EQUAL(c.skipped, k);
	/* Only possible complaint: the dead frame "completed" with bytes of
	 * the fresh one, so its payload checksum failed. */
	for (i = 0; i < c.n_errors && i < 64; i++)
		CU_ASSERT_EQUAL(c.errors[i], HB_E_PAYLOAD_CSUM);
	CU_ASSERT_TRUE(c.n_errors <= 1);
}

static void test_stream_reconnect(void)
{
	static uint8_t dead[HB_FRAME_MAX], fresh[1024];
	int d = encode_sample(HB_MSG_STATUS, dead, sizeof(dead));
	int n = encode_sample(HB_MSG_HELLO, fresh, sizeof(fresh));
	int k;

	for (k = 1; k < d; k++) {
		reconnect_case(dead, (size_t)k, fresh, (size_t)n, 0);
		if (k < 40 || k % 17 == 0 || k > d - 4)
			reconnect_case(dead, (size_t)k, fresh, (size_t)n, 1);
	}
}

static void test_stream_reconnect_big(void)
{
	static uint8_t dead[HB_FRAME_MAX], fresh[1024];
	struct hb_wbuf w = { dead + HB_HDR_LEN, HB_PAYLOAD_MAX, 0 };
	static uint8_t blob[60000];
	int d, n = encode_sample(HB_MSG_HELLO, fresh, sizeof(fresh));

	/* A dead 60 KB frame: without the look-ahead the reader would wait
	 * for 60 KB that never come while the peer waits for HELLO_ACK. */
	memset(blob, 0x5a, sizeof(blob));
	CU_ASSERT_EQUAL(hb_put_u64(&w, HB_A_PING_TOKEN, 1), 0);
	CU_ASSERT_EQUAL(hb_put_attr(&w, 25, blob, sizeof(blob)), 0);
	d = hb_frame_finish(dead, sizeof(dead), HB_MSG_PING, 0, 1, w.len);
	CU_ASSERT_TRUE_FATAL(d > 60000);
	reconnect_case(dead, 1000, fresh, (size_t)n, 0);
	reconnect_case(dead, 1000, fresh, (size_t)n, 1);
	reconnect_case(dead, (size_t)d - 100, fresh, (size_t)n, 3);
}

static void test_stream_max_frame(void)
{
	static uint8_t frame[HB_FRAME_MAX];
	struct hb_wbuf w = { frame + HB_HDR_LEN, HB_PAYLOAD_MAX, 0 };
	static uint8_t blob[HB_PAYLOAD_MAX];
	struct collected c;
	int d;

	/* The largest frame fits the reader's buffer, fed byte by byte. */
	memset(blob, 0x11, sizeof(blob));
	CU_ASSERT_EQUAL(hb_put_u64(&w, HB_A_PING_TOKEN, 3), 0);
	CU_ASSERT_EQUAL(hb_put_attr(&w, 25, blob, HB_PAYLOAD_MAX - 16), 0);
	CU_ASSERT_EQUAL(w.len, HB_PAYLOAD_MAX);
	d = hb_frame_finish(frame, sizeof(frame), HB_MSG_PING, 0, 1, w.len);
	CU_ASSERT_EQUAL_FATAL(d, (int)HB_FRAME_MAX);
	start(&c);
	feed(frame, (size_t)d, 1, &c);
	feed(frame, (size_t)d, 4000, &c);
	CU_ASSERT_EQUAL(c.frames, 2);
	CU_ASSERT_EQUAL(c.skipped, 0);
}

static void test_stream_dropped(void)
{
	static uint8_t buf[4096];
	struct hb_hdr h = { .major = 3, .type = HB_MSG_PING, .seq = 11, .len = 12 };
	struct hb_frame f;
	size_t len = 0, sk;
	int n;

	/* unknown major, then oversize, then a corrupted payload, then good */
	hb_hdr_encode(buf, &h);
	memset(buf + HB_HDR_LEN, 0, 12);
	len = HB_HDR_LEN + 12;
	h.major = HB_VERSION_MAJOR;
	h.seq = 12;
	h.len = HB_FRAME_MAX;
	hb_hdr_encode(buf + len, &h);
	len += HB_HDR_LEN;
	n = encode_sample(HB_MSG_PING, buf + len, sizeof(buf) - len);
	buf[len + (size_t)n - 1] ^= 0xff;
	len += (size_t)n;
	n = encode_sample(HB_MSG_PONG, buf + len, sizeof(buf) - len);
	len += (size_t)n;

	hb_stream_init(&stream);
	CU_ASSERT_EQUAL(hb_stream_feed(&stream, buf, len), len);
	CU_ASSERT_EQUAL(hb_stream_next(&stream, &f, &sk), HB_E_VERSION);
	CU_ASSERT_EQUAL(f.hdr.seq, 11);
	CU_ASSERT_EQUAL(f.hdr.major, 3);
	CU_ASSERT_EQUAL(hb_stream_next(&stream, &f, &sk), HB_E_OVERSIZE);
	CU_ASSERT_EQUAL(f.hdr.seq, 12);
	CU_ASSERT_EQUAL(sk, HB_HDR_LEN + 12);
	CU_ASSERT_EQUAL(hb_stream_next(&stream, &f, &sk), HB_E_PAYLOAD_CSUM);
	CU_ASSERT_EQUAL(f.hdr.type, HB_MSG_PING);
	CU_ASSERT_EQUAL(hb_stream_next(&stream, &f, &sk), 1);
	CU_ASSERT_EQUAL(f.hdr.type, HB_MSG_PONG);
	CU_ASSERT_EQUAL(hb_stream_next(&stream, &f, &sk), 0);
	CU_ASSERT_EQUAL(stream.dropped, 3);
	CU_ASSERT_EQUAL(stream.frames, 1);
	CU_ASSERT_EQUAL(stream.skipped, len - (size_t)n);
}

static void test_stream_wptr(void)
{
	static uint8_t buf[1024];
	struct hb_frame f;
	struct hb_msg m;
	size_t room;
	uint8_t *p;
	int n = encode_sample(HB_MSG_FAST_PATH_UP, buf, sizeof(buf));

	hb_stream_init(&stream);
	p = hb_stream_wptr(&stream, &room);
	CU_ASSERT_EQUAL(room, HB_FRAME_MAX);
	memcpy(p, buf, 10);
	hb_stream_commit(&stream, 10);
	CU_ASSERT_EQUAL(hb_stream_next(&stream, &f, NULL), 0);
	p = hb_stream_wptr(&stream, &room);
	CU_ASSERT_EQUAL(room, HB_FRAME_MAX - 10);
	memcpy(p, buf + 10, (size_t)n - 10);
	hb_stream_commit(&stream, (size_t)n - 10);
	CU_ASSERT_EQUAL(hb_stream_next(&stream, &f, NULL), 1);
	CU_ASSERT_EQUAL(hb_msg_decode(&f, &m), 0);
	CU_ASSERT_EQUAL(m.u.fast_path_up.elapsed_us, 250000);
	p = hb_stream_wptr(&stream, &room);
	CU_ASSERT_PTR_EQUAL(p, stream.buf);
	CU_ASSERT_EQUAL(room, HB_FRAME_MAX);
	CU_ASSERT_EQUAL(hb_stream_feed(&stream, NULL, 5), 0);
}

/* Every byte zlib's crc32() looks at (the binary is linked with --wrap=crc32). */
static uint64_t crc_bytes;
unsigned long __real_crc32(unsigned long crc, const unsigned char *buf, unsigned len);
unsigned long __wrap_crc32(unsigned long crc, const unsigned char *buf, unsigned len);

unsigned long __wrap_crc32(unsigned long crc, const unsigned char *buf, unsigned len)
{
	if (buf)
		crc_bytes += len;
	return __real_crc32(crc, buf, len);
}

/* A hostile sender: a valid header every 28 bytes, each claiming the rest of a 64 KiB
 * block as its payload with a wrong checksum.  Checked one after the other, that is
 * ~1000x the bytes sent; the reader's work stays a small multiple of them, and a valid
 * frame after the attack still comes through. */
static void test_stream_crc_budget(void)
{
	static uint8_t blk[HB_FRAME_MAX], good[256];
	const size_t rounds = 16, chunk = 4096;
	struct hb_hdr h = { .major = HB_VERSION_MAJOR, .type = HB_MSG_PING };
	struct hb_frame f;
	size_t off, r, fed = 0, got = 0;
	int n, rc;

	for (off = 0; off + HB_HDR_LEN <= sizeof(blk); off += HB_HDR_LEN) {
		h.seq = (uint32_t)off;
		h.len = (uint32_t)(sizeof(blk) - off - HB_HDR_LEN);
		h.payload_crc = 0xdeadbeef;
		hb_hdr_encode(blk + off, &h);
	}
	hb_stream_init(&stream);
	crc_bytes = 0;
	for (r = 0; r < rounds; r++) {
		for (off = 0; off < sizeof(blk); off += chunk) {
			size_t room;
			uint8_t *p = hb_stream_wptr(&stream, &room);
			size_t len = chunk < room ? chunk : room;

			memcpy(p, blk + off, len);
			hb_stream_commit(&stream, len);
			fed += len;
			while ((rc = hb_stream_next(&stream, &f, NULL)) != 0)
				CU_ASSERT_TRUE(rc < 0);
		}
	}
	CU_ASSERT_TRUE(fed >= rounds * sizeof(blk) / 2);
	/* header checksums (24 of every 28 bytes, looked at from the front and by the
	 * look-ahead) plus HB_STREAM_CRC_PER_BYTE per byte of payload checks, plus a start */
	CU_ASSERT_TRUE(crc_bytes <= (uint64_t)fed * (2 + HB_STREAM_CRC_PER_BYTE) + 4 * (uint64_t)HB_FRAME_MAX);
	CU_ASSERT_TRUE(stream.crc_skipped > 0);
	/* the attack stops: a valid frame is delivered */
	n = encode_sample(HB_MSG_PONG, good, sizeof(good));
	for (r = 0; r < 4 && !got; r++) {
		CU_ASSERT_EQUAL(hb_stream_feed(&stream, good, (size_t)n), (size_t)n);
		while ((rc = hb_stream_next(&stream, &f, NULL)) != 0)
			got += rc == 1 && f.hdr.type == HB_MSG_PONG;
	}
	CU_ASSERT_TRUE(got > 0);
}

/* A channel whose frames are small: a header claiming more is dropped at once, its
 * payload never waited for nor checksummed. */
static void test_stream_max_len(void)
{
	static uint8_t buf[64];
	struct hb_hdr h = { .major = HB_VERSION_MAJOR, .type = HB_MSG_STATUS, .seq = 7,
			    .len = 20000 };
	struct hb_frame f;

	hb_stream_init(&stream);
	hb_stream_set_max(&stream, 16384);
	hb_hdr_encode(buf, &h);
	CU_ASSERT_EQUAL(hb_stream_feed(&stream, buf, HB_HDR_LEN), HB_HDR_LEN);
	CU_ASSERT_EQUAL(hb_stream_next(&stream, &f, NULL), HB_E_OVERSIZE);
	CU_ASSERT_EQUAL(f.hdr.seq, 7);
	CU_ASSERT_EQUAL(stream.dropped, 1);
}

/* ---- hand-over between processes (pack.c) ---------------------------------- */

static _Alignas(16) uint8_t pbuf[HB_PACK_MAX];

/* Every sample: decode, pack, wipe the frame, unpack: encodes to the same bytes. */
static void test_pack_roundtrip(void)
{
	static uint8_t a[HB_FRAME_MAX], b[HB_FRAME_MAX];
	unsigned t;

	ALL_TYPES(t) {
		struct hb_msg m, u;
		int n = encode_sample((uint16_t)t, a, sizeof(a)), k, len;

		CU_ASSERT_EQUAL_FATAL(hb_decode(a, (size_t)n, &m), n);
		len = hb_msg_pack(pbuf, sizeof(pbuf), &m);
		CU_ASSERT_TRUE_FATAL(len >= (int)sizeof(struct hb_msg));
		memset(a, 0xa5, (size_t)n);            /* nothing may point into the frame */
		CU_ASSERT_EQUAL_FATAL(hb_msg_unpack(pbuf, (size_t)len, &u), 0);
		k = hb_encode(b, sizeof(b), &u);
		CU_ASSERT_EQUAL(k, n);
		(void)encode_sample((uint16_t)t, a, sizeof(a));
		CU_ASSERT_EQUAL(memcmp(a, b, (size_t)n), 0);
	}
	CU_ASSERT_EQUAL(hb_msg_pack(pbuf, sizeof(struct hb_msg) - 1, &(struct hb_msg){
		.type = HB_MSG_PING }), HB_E_NOSPC);
}

/* A packed STATUS (two pairs, strings) to tamper with: its length. */
static int packed_status(void)
{
	static uint8_t a[HB_FRAME_MAX];
	struct hb_msg m;
	int n = encode_sample(HB_MSG_STATUS, a, sizeof(a)), len;

	CU_ASSERT_EQUAL_FATAL(hb_decode(a, (size_t)n, &m), n);
	len = hb_msg_pack(pbuf, sizeof(pbuf), &m);
	CU_ASSERT_TRUE_FATAL(len > (int)sizeof(struct hb_msg));
	return len;
}

static struct hb_msg packed_get(void)
{
	struct hb_msg m;

	memcpy(&m, pbuf, sizeof(m));
	return m;
}

static void packed_put(const struct hb_msg *m)
{
	memcpy(pbuf, m, sizeof(*m));
}

/* A compromised packer: each lie is refused, and nothing is left to follow. */
static void test_pack_hostile(void)
{
	struct hb_msg m, u;
	uintptr_t v;
	int len = packed_status();
	size_t alen = (size_t)len - sizeof(struct hb_msg);

	CU_ASSERT_EQUAL(hb_msg_unpack(pbuf, (size_t)len, &u), 0);
	/* too short for the struct */
	CU_ASSERT_EQUAL(hb_msg_unpack(pbuf, sizeof(struct hb_msg) - 1, &u), HB_E_TRUNC);
	/* unknown type */
	m = packed_get();
	m.type = 999;
	packed_put(&m);
	CU_ASSERT_EQUAL(hb_msg_unpack(pbuf, (size_t)len, &u), HB_E_UNKNOWN_TYPE);
	CU_ASSERT_EQUAL(u.type, 0);
	/* a string offset past the arena */
	len = packed_status();
	m = packed_get();
	v = alen + 1;
	memcpy(&m.u.status.pairs[0].master.name, &v, sizeof(v));
	packed_put(&m);
	CU_ASSERT_EQUAL(hb_msg_unpack(pbuf, (size_t)len, &u), HB_E_ATTR_LEN);
	CU_ASSERT_PTR_NULL(u.u.status.pairs[0].master.name);
	/* the arena cut before a string's NUL */
	len = packed_status();
	CU_ASSERT_EQUAL(hb_msg_unpack(pbuf, (size_t)len - 1, &u), HB_E_ATTR_STR);
	/* a string longer than its limit (IFACE NAME: 16 with the NUL) */
	len = packed_status();
	m = packed_get();
	memcpy(&v, &m.u.status.pairs[0].master.name, sizeof(v));
	memset(pbuf + sizeof(struct hb_msg), 'A', alen - 1);
	pbuf[len - 1] = 0;
	v = 1;
	memcpy(&m.u.status.pairs[0].master.name, &v, sizeof(v));
	packed_put(&m);
	CU_ASSERT_EQUAL(hb_msg_unpack(pbuf, (size_t)len, &u), alen > 16 ? HB_E_ATTR_STR : 0);
	/* a value over its limit (PAIR ACTIVE is a path: at most 1) */
	len = packed_status();
	m = packed_get();
	m.u.status.pairs[1].active = 7;
	packed_put(&m);
	CU_ASSERT_EQUAL(hb_msg_unpack(pbuf, (size_t)len, &u), HB_E_ATTR_VALUE);
	/* more pairs than the set allows, or a count without its present bit */
	len = packed_status();
	m = packed_get();
	m.u.status.n_pairs = HB_MAX_PAIRS + 1;
	packed_put(&m);
	CU_ASSERT_EQUAL(hb_msg_unpack(pbuf, (size_t)len, &u), HB_E_ATTR_COUNT);
	m.u.status.n_pairs = 1;
	m.u.status.present = 0;
	packed_put(&m);
	CU_ASSERT_EQUAL(hb_msg_unpack(pbuf, (size_t)len, &u), HB_E_ATTR_COUNT);
	/* a required attribute not marked present; a present bit nothing defines */
	len = packed_status();
	m = packed_get();
	m.u.status.pairs[0].present &= ~(1u << HB_A_PAIR_MAC);
	packed_put(&m);
	CU_ASSERT_EQUAL(hb_msg_unpack(pbuf, (size_t)len, &u), HB_E_ATTR_MISSING);
	m.u.status.pairs[0].present |= 1u << HB_A_PAIR_MAC | 1u << 30;
	packed_put(&m);
	CU_ASSERT_EQUAL(hb_msg_unpack(pbuf, (size_t)len, &u), HB_E_INVAL);
	/* an optional string present without its bit (PAIR VF_PCI) */
	len = packed_status();
	m = packed_get();
	CU_ASSERT_TRUE(HB_PRESENT(&m.u.status.pairs[0], PAIR, VF_PCI));
	m.u.status.pairs[0].present &= ~(1u << HB_A_PAIR_VF_PCI);
	packed_put(&m);
	CU_ASSERT_EQUAL(hb_msg_unpack(pbuf, (size_t)len, &u), HB_E_INVAL);
	/* the unused pair slots are wiped, whatever the packer left there */
	len = packed_status();
	m = packed_get();
	memset(&m.u.status.pairs[5], 0x41, sizeof(m.u.status.pairs[5]));
	packed_put(&m);
	CU_ASSERT_EQUAL(hb_msg_unpack(pbuf, (size_t)len, &u), 0);
	CU_ASSERT_PTR_NULL(u.u.status.pairs[5].master.name);
	CU_ASSERT_EQUAL(u.u.status.pairs[5].id, 0);
}

/* ---- main ---------------------------------------------------------------- */

static CU_TestInfo frame_tests[] = {
	{ "round trip of every message", test_roundtrip_all },
	{ "round trip field values", test_roundtrip_fields },
	{ "wire layout", test_wire_layout },
	{ "truncated header", test_trunc_hdr },
	{ "length past the buffer", test_trunc_payload },
	{ "oversize frame", test_oversize },
	{ "bad magic", test_bad_magic },
	{ "unknown major, higher minor", test_version },
	{ "bad header checksum", test_hdr_csum },
	{ "bad payload checksum", test_payload_csum },
	{ "unknown message type", test_unknown_type },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo attr_tests[] = {
	{ "attribute overrunning its parent", test_attr_overrun },
	{ "malformed attribute header", test_attr_malformed },
	{ "missing required attribute", test_attr_missing },
	{ "wrong attribute length", test_attr_len },
	{ "wrong MAC length", test_attr_len_mac },
	{ "string without NUL", test_attr_str },
	{ "value out of range", test_attr_value },
	{ "nesting too deep", test_nest_depth },
	{ "duplicate attribute", test_attr_dup },
	{ "too many repeated pairs", test_attr_count },
	{ "unknown attributes skipped", test_unknown_attrs },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo api_tests[] = {
	{ "encoder: buffer too small", test_encode_nospc },
	{ "encoder: invalid values", test_encode_inval },
	{ "ERROR and answer matching", test_error_and_matching },
	{ "names and strerror", test_names },
	{ "hand-over: every message packed and unpacked", test_pack_roundtrip },
	{ "hand-over: a compromised packer's lies refused", test_pack_hostile },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo stream_tests[] = {
	{ "one byte at a time", test_stream_bytewise },
	{ "two frames in one chunk", test_stream_two_in_one },
	{ "garbage and fake magic in front", test_stream_garbage },
	{ "garbage only", test_stream_only_garbage },
	{ "half frame then fresh frame", test_stream_reconnect },
	{ "dead 60 KB frame then fresh frame", test_stream_reconnect_big },
	{ "largest frame", test_stream_max_frame },
	{ "dropped frames are reported", test_stream_dropped },
	{ "wptr/commit", test_stream_wptr },
	{ "hostile headers: work bounded by the bytes received", test_stream_crc_budget },
	{ "a channel's max payload: dropped from the header", test_stream_max_len },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_SuiteInfo suites[] = {
		{ "frame", NULL, NULL, NULL, NULL, frame_tests },
		{ "attributes", NULL, NULL, NULL, NULL, attr_tests },
		{ "api", NULL, NULL, NULL, NULL, api_tests },
		{ "stream", NULL, NULL, NULL, NULL, stream_tests },
		CU_SUITE_INFO_NULL,
	};

	return hb_cu_run(suites);
}
