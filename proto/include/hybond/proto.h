/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hybond/proto.h — libhybond-proto: the host daemon <-> guest agent wire
 * protocol carried on the virtio-serial port "org.hybond.0".
 *
 * The protocol itself is specified in docs/protocol.md; every message and
 * attribute is defined once in hybond/msgs.def.  This header gives:
 *
 *   - frames:   hb_frame_parse(), hb_hdr_decode(), hb_hdr_encode(),
 *               hb_frame_finish()
 *   - messages: struct hb_msg, hb_msg_init(), hb_msg_init_reply(), hb_msg_init_answer(),
 *               hb_encode(), hb_decode(), hb_msg_decode(), hb_msg_is_answer()
 *   - stream:   struct hb_stream, hb_stream_init(), hb_stream_feed(),
 *               hb_stream_wptr()/hb_stream_commit(), hb_stream_next()
 *   - raw TLV writer for tools and tests: struct hb_wbuf, hb_put_*()
 *   - errors:   enum hb_err, hb_strerror()
 *
 * Nothing here allocates memory, aborts, or reads outside the buffers it
 * is given.  Functions return a non-negative value on success and a
 * negative enum hb_err on failure.
 */
#ifndef HYBOND_PROTO_H
#define HYBOND_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <hybond/msgs.def>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- constants ---------------------------------------------------------- */

/* Name of the virtio-serial port (guest: /dev/virtio-ports/org.hybond.0). */
#define HB_PORT_NAME        "org.hybond.0"

#define HB_VERSION_MAJOR    1
#define HB_VERSION_MINOR    3
/* A version as carried in HELLO: major in the high byte. */
#define HB_VERSION(maj, min) ((uint16_t)(((maj) << 8) | (min)))
#define HB_VERSION_CURRENT  HB_VERSION(HB_VERSION_MAJOR, HB_VERSION_MINOR)

/* Frame magic: the bytes 'H' 'Y' 'B' 'N' (0x4e425948 read little-endian). */
#define HB_MAGIC            0x4e425948u
#define HB_HDR_LEN          28u
/* Largest frame, header included, and hence largest payload. */
#define HB_FRAME_MAX        65536u
#define HB_PAYLOAD_MAX      (HB_FRAME_MAX - HB_HDR_LEN)

/* Header flags.  Undefined bits must be sent as 0 and are ignored. */
#define HB_F_REPLY          0x0001u   /* this message answers the request with the same seq */

/* TLV attributes: header is u16 length (header included), u16 type. */
#define HB_ATTR_HDRLEN      4u
#define HB_ATTR_ALIGN(len)  (((len) + 3u) & ~(size_t)3u)
#define HB_ATTR_F_NESTED    0x8000u   /* set on attributes that contain attributes */
#define HB_ATTR_TYPE_MASK   0x7fffu
/* Levels of nested attributes below the payload (STATUS > PAIR > IFACE uses 2). */
#define HB_MAX_NEST_DEPTH   3
/* Largest number of PAIR attributes in one STATUS. */
#define HB_MAX_PAIRS        8

/* ---- enums generated from msgs.def -------------------------------------- */

#define HB_ENUM_E_(name, val, text) HB_E_##name = (val),
/* Protocol errors: every function of this library returns one of these. */
enum hb_err {
	HB_OK = 0,
	HB_ERRORS(HB_ENUM_E_)
};
#undef HB_ENUM_E_

#define HB_ENUM_C_(name, val, text) HB_ERR_##name = (val),
/* CODE attribute values of the ERROR message. */
enum hb_error_code {
	HB_ERROR_CODES(HB_ENUM_C_)
};
#undef HB_ENUM_C_

#define HB_ENUM_CAP_(name, bit, text) HB_CAP_##name = (1u << (bit)),
/* Capability bits (HELLO CAPS). */
enum hb_cap {
	HB_CAPS(HB_ENUM_CAP_)
};
#undef HB_ENUM_CAP_

#define HB_ENUM_V_(name, val, text) HB_PATH_##name = (val),
enum hb_path {
	HB_PATHS(HB_ENUM_V_)
};
#undef HB_ENUM_V_

#define HB_ENUM_K_(name, val, text) HB_EV_##name = (val),
enum hb_event_kind {
	HB_EVENT_KINDS(HB_ENUM_K_)
};
#undef HB_ENUM_K_

#define HB_ENUM_M_(name, id, set, field, sender, answer, text) HB_MSG_##name = (id),
enum hb_msg_type {
	HB_MSG_NONE = 0,
	HB_MESSAGES(HB_ENUM_M_)
	HB_MSG_LAST_
};
#undef HB_ENUM_M_

/* Attribute types: HB_A_<SET>_<ATTR>, e.g. HB_A_PAIR_MAC. */
#define HB_ENUM_A_(set, attr, id, ...) HB_A_##set##_##attr = (id),
#define HB_ENUM_SET_(set, lname, text) enum { HB_SET_##set(HB_ENUM_A_) };
HB_SETS(HB_ENUM_SET_)
#undef HB_ENUM_SET_
#undef HB_ENUM_A_

/* ---- decoded structs generated from msgs.def ---------------------------- */

/*
 * One struct per attribute set: struct hb_iface, struct hb_pair,
 * struct hb_hello, ... (typedef'd as hb_<SET>_t for the generators).
 * `present` has bit (1 << attribute type) set for every attribute that was
 * decoded; on encode, optional numeric/MAC/NEST attributes are emitted only
 * when their bit is set (use HB_MARK), strings when the pointer is non-NULL
 * and repeated nests according to their n_<field> count.  Required
 * attributes are always emitted.  Strings point into the decoded frame.
 */
/* NOLINTBEGIN(bugprone-macro-parentheses): these expand to declarations */
#define HB_FIELD_U8(f, nest, max)    uint8_t f;
#define HB_FIELD_U16(f, nest, max)   uint16_t f;
#define HB_FIELD_U32(f, nest, max)   uint32_t f;
#define HB_FIELD_U64(f, nest, max)   uint64_t f;
#define HB_FIELD_STR(f, nest, max)   const char *f;
#define HB_FIELD_MAC(f, nest, max)   uint8_t f[6];
#define HB_FIELD_NEST(f, nest, max)  hb_##nest##_t f;
#define HB_FIELD_NESTN(f, nest, max) hb_##nest##_t f[max]; uint8_t n_##f;
#define HB_FIELD_(set, attr, id, kind, f, req, lim, nest, max, text) HB_FIELD_##kind(f, nest, max)
#define HB_STRUCT_(set, lname, text) \
	typedef struct hb_##lname { uint32_t present; HB_SET_##set(HB_FIELD_) } hb_##set##_t;
HB_SETS(HB_STRUCT_)
#undef HB_STRUCT_
#undef HB_FIELD_
/* NOLINTEND(bugprone-macro-parentheses) */

/* Mark / test an optional attribute as present: HB_MARK(&m.u.event, EVENT, LINK). */
#define HB_MARK(obj, set, attr)    ((obj)->present |= (uint32_t)1 << HB_A_##set##_##attr)
#define HB_PRESENT(obj, set, attr) (((obj)->present >> HB_A_##set##_##attr) & 1u)

/* A decoded message, or one to encode.  No pointers to owned memory. */
struct hb_msg {
	uint16_t type;          /* enum hb_msg_type */
	uint16_t flags;         /* HB_F_* */
	uint32_t seq;
	uint8_t ver_major;      /* decode: the sender's version; encode: ignored */
	uint8_t ver_minor;
	union {
#define HB_UNION_(name, id, set, field, sender, answer, text) hb_##set##_t field;
		HB_MESSAGES(HB_UNION_)
#undef HB_UNION_
	} u;
};

/* ---- frames -------------------------------------------------------------- */

/* The fixed header, decoded (see docs/protocol.md "Frame layout"). */
struct hb_hdr {
	uint8_t major;
	uint8_t minor;
	uint16_t type;
	uint16_t flags;
	uint32_t seq;
	uint32_t len;           /* payload length */
	uint32_t payload_crc;
};

/* A validated frame; payload points into the caller's (or stream's) buffer. */
struct hb_frame {
	struct hb_hdr hdr;
	const uint8_t *payload;
	size_t payload_len;
};

int hb_hdr_decode(const void *buf, size_t len, struct hb_hdr *h);
void hb_hdr_encode(uint8_t out[HB_HDR_LEN], const struct hb_hdr *h);
int hb_frame_parse(const void *buf, size_t len, struct hb_frame *f);
int hb_frame_finish(void *frame, size_t cap, uint16_t type, uint16_t flags,
		    uint32_t seq, size_t payload_len);
uint32_t hb_crc32(const void *data, size_t len);

/* ---- messages ------------------------------------------------------------ */

void hb_msg_init(struct hb_msg *m, uint16_t type, uint32_t seq);
void hb_msg_init_reply(struct hb_msg *m, uint16_t type, const struct hb_msg *req);
void hb_msg_init_answer(struct hb_msg *m, uint16_t type, uint32_t req_seq);
int hb_encode(void *buf, size_t cap, const struct hb_msg *m);
int hb_encode_error(void *buf, size_t cap, const struct hb_hdr *req,
		    uint32_t code, int detail, const char *text);
int hb_msg_decode(const struct hb_frame *f, struct hb_msg *m);
int hb_decode(const void *buf, size_t len, struct hb_msg *m);
int hb_msg_is_answer(const struct hb_msg *req, const struct hb_msg *ans);
uint16_t hb_msg_answer_type(uint16_t type);
uint32_t hb_seq_next(uint32_t *counter);

/* ---- stream reader ------------------------------------------------------- */

/*
 * Hand-over of a decoded message to another process of the same executable
 * (proto/pack.c): the struct with its strings in an arena behind it. hb_msg_unpack()
 * checks it against the policy tables (fixed sizes and bounds only) because the
 * process that packed it parsed untrusted bytes. Not a wire format.
 */
#define HB_PACK_MAX (sizeof(struct hb_msg) + HB_PAYLOAD_MAX)
int hb_msg_pack(void *buf, size_t cap, const struct hb_msg *m);
int hb_msg_unpack(const void *buf, size_t len, struct hb_msg *m);

/*
 * Pulls frames out of a byte stream.  Fully self-contained (no malloc):
 * embed it or allocate it once; it is about 64 KiB.  The counters may be
 * read (for logs and metrics); the other fields are private.
 *
 * Typical loop:
 *     hb_stream_init(&s);
 *     for (;;) {
 *         p = hb_stream_wptr(&s, &room);
 *         n = read(fd, p, room);  ...  hb_stream_commit(&s, n);
 *         while ((rc = hb_stream_next(&s, &f, &skipped)) != 0) {
 *             if (rc < 0) { maybe answer f.hdr with hb_encode_error(); continue; }
 *             rc = hb_msg_decode(&f, &m);  ...
 *         }
 *     }
 */
struct hb_stream {
	size_t start;           /* first unconsumed byte in buf */
	size_t end;             /* one past the last byte in buf */
	size_t scan;            /* look-ahead progress, relative to start */
	uint64_t skipped;       /* total bytes discarded as garbage */
	uint64_t frames;        /* total frames delivered */
	uint64_t dropped;       /* total frames with a valid header that were dropped */
	uint64_t crc_skipped;   /* payload checksums not computed: over the work budget */
	size_t max_len;         /* largest payload accepted (hb_stream_set_max) */
	uint64_t crc_credit;    /* payload bytes the reader may still checksum */
	uint8_t buf[HB_FRAME_MAX];
};

/*
 * The reader's work is bounded by what it receives: it checksums at most
 * HB_STREAM_CRC_PER_BYTE payload bytes per byte fed (plus one largest frame), and
 * looks at each possible header a bounded number of times, whatever the input.  A
 * sender that fills the stream with headers claiming payloads with wrong checksums
 * gets its frames dropped (crc_skipped, dropped) instead of costing the reader
 * ~1000x its own bytes.  A stream of valid frames never runs out: each frame brings
 * HB_STREAM_CRC_PER_BYTE times its own length.
 */
#define HB_STREAM_CRC_PER_BYTE 4u
/* Frames whose payload is above max_len (default HB_PAYLOAD_MAX) are dropped with
 * HB_E_OVERSIZE from their header alone: a channel whose legitimate frames are small
 * (a guest's) says so. */
void hb_stream_set_max(struct hb_stream *s, size_t max_len);

void hb_stream_init(struct hb_stream *s);
void hb_stream_reset(struct hb_stream *s);
size_t hb_stream_feed(struct hb_stream *s, const void *data, size_t len);
uint8_t *hb_stream_wptr(struct hb_stream *s, size_t *room);
void hb_stream_commit(struct hb_stream *s, size_t n);
int hb_stream_next(struct hb_stream *s, struct hb_frame *f, size_t *skipped);

/* ---- raw TLV writer (tools, tests, extensions) -------------------------- */

struct hb_wbuf {
	uint8_t *data;
	size_t cap;
	size_t len;
};

int hb_put_attr(struct hb_wbuf *w, uint16_t type, const void *data, size_t len);
int hb_put_u8(struct hb_wbuf *w, uint16_t type, uint8_t v);
int hb_put_u16(struct hb_wbuf *w, uint16_t type, uint16_t v);
int hb_put_u32(struct hb_wbuf *w, uint16_t type, uint32_t v);
int hb_put_u64(struct hb_wbuf *w, uint16_t type, uint64_t v);
int hb_put_str(struct hb_wbuf *w, uint16_t type, const char *s);
int hb_nest_begin(struct hb_wbuf *w, uint16_t type, size_t *mark);
int hb_nest_end(struct hb_wbuf *w, size_t mark);

/* ---- names --------------------------------------------------------------- */

const char *hb_strerror(int err);
const char *hb_err_name(int err);
const char *hb_msg_name(uint16_t type);
const char *hb_error_code_name(uint32_t code);

#ifdef __cplusplus
}
#endif

#endif /* HYBOND_PROTO_H */
