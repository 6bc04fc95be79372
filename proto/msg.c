/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * proto/msg.c — message tables expanded from hybond/msgs.def, and the
 * message-level encode/decode entry points.
 *
 * The policy tables below are the only description of the messages the
 * code uses: hb_set_parse()/hb_set_encode() (attr.c) are generic and are
 * driven by them, and so is the documentation generator.
 */
#include <stddef.h>
#include <string.h>

#include "internal.h"

/* NOLINTBEGIN(bugprone-macro-parentheses): X-macro expansions build
 * initialisers and declarations, where parentheses are not possible. */

/* Per-kind pieces of a policy entry (token-pasted from the KIND column). */
#define HB_NESTP_U8(n)     NULL
#define HB_NESTP_U16(n)    NULL
#define HB_NESTP_U32(n)    NULL
#define HB_NESTP_U64(n)    NULL
#define HB_NESTP_STR(n)    NULL
#define HB_NESTP_MAC(n)    NULL
#define HB_NESTP_NEST(n)   (&hb_desc_##n)
#define HB_NESTP_NESTN(n)  (&hb_desc_##n)
#define HB_CNTOFF_U8(s, f)    0
#define HB_CNTOFF_U16(s, f)   0
#define HB_CNTOFF_U32(s, f)   0
#define HB_CNTOFF_U64(s, f)   0
#define HB_CNTOFF_STR(s, f)   0
#define HB_CNTOFF_MAC(s, f)   0
#define HB_CNTOFF_NEST(s, f)  0
#define HB_CNTOFF_NESTN(s, f) offsetof(hb_##s##_t, n_##f)
#define HB_REQ_REQ 1
#define HB_REQ_OPT 0

#define HB_POL_(S_, A_, ID_, K_, F_, R_, L_, N_, M_, T_)                 \
	[ID_] = {                                                        \
		.name = #A_, .doc = T_, .type = (ID_),                   \
		.kind = HB_K_##K_, .required = HB_REQ_##R_,             \
		.max_count = (M_), .limit = (L_),                        \
		.off = offsetof(hb_##S_##_t, F_),                        \
		.count_off = HB_CNTOFF_##K_(S_, F_),                     \
		.nest = HB_NESTP_##K_(N_),                               \
	},

/* Compile-time checks of every row: types fit the presence bitmap. */
#define HB_CHECK_(set, attr, id, ...) \
	_Static_assert((id) > 0 && (id) < 32, #set "." #attr ": type must be 1..31");

/* The struct's `present` word is read generically at offset 0. */
#define HB_DESC_(S_, L_, T_)                                                 \
	HB_SET_##S_(HB_CHECK_)                                               \
	_Static_assert(offsetof(hb_##S_##_t, present) == 0, #S_);            \
	static const struct hb_attr_policy hb_pol_##S_[] = { HB_SET_##S_(HB_POL_) }; \
	static const struct hb_set_desc hb_desc_##S_ = {                     \
		.name = #S_, .doc = T_, .attrs = hb_pol_##S_,                \
		.n_attrs = sizeof(hb_pol_##S_) / sizeof(hb_pol_##S_[0]),     \
		.size = sizeof(hb_##S_##_t),                                 \
	};
HB_SETS(HB_DESC_)

#define HB_SETP_(set, lname, text) &hb_desc_##set,
static const struct hb_set_desc *const hb_sets[] = { HB_SETS(HB_SETP_) NULL };

#define HB_MDESC_(N_, ID_, S_, F_, W_, A_, T_)                              \
	[ID_] = {                                                            \
		.type = (ID_), .answer = HB_MSG_##A_, .name = #N_,           \
		.sender = W_, .doc = T_, .set = &hb_desc_##S_,               \
		.off = offsetof(struct hb_msg, u.F_),                        \
	},
static const struct hb_msg_desc hb_msgs[] = { HB_MESSAGES(HB_MDESC_) };
/* NOLINTEND(bugprone-macro-parentheses) */

#define HB_ENT_(name, val, text) { #name, (val), text },
const struct hb_enum_entry hb_err_table[] = { HB_ERRORS(HB_ENT_) { NULL, 0, NULL } };
const struct hb_enum_entry hb_error_code_table[] = { HB_ERROR_CODES(HB_ENT_) { NULL, 0, NULL } };
const struct hb_enum_entry hb_cap_table[] = { HB_CAPS(HB_ENT_) { NULL, 0, NULL } };
const struct hb_enum_entry hb_path_table[] = { HB_PATHS(HB_ENT_) { NULL, 0, NULL } };
const struct hb_enum_entry hb_event_kind_table[] = { HB_EVENT_KINDS(HB_ENT_) { NULL, 0, NULL } };

/* hb_msg_desc - descriptor of message @type, or NULL if unknown. */
const struct hb_msg_desc *hb_msg_desc(uint16_t type)
{
	if (type >= sizeof(hb_msgs) / sizeof(hb_msgs[0]) || !hb_msgs[type].name)
		return NULL;
	return &hb_msgs[type];
}

/* hb_set_desc_at - the @i-th attribute set of msgs.def, NULL past the end. */
const struct hb_set_desc *hb_set_desc_at(size_t i)
{
	if (i >= sizeof(hb_sets) / sizeof(hb_sets[0]))
		return NULL;
	return hb_sets[i];
}

/* hb_kind_name - wire type name of an attribute kind, as in the docs. */
const char *hb_kind_name(unsigned kind)
{
	static const char *const names[] = {
		[HB_K_NONE] = "none", [HB_K_U8] = "u8", [HB_K_U16] = "u16",
		[HB_K_U32] = "u32", [HB_K_U64] = "u64", [HB_K_STR] = "string",
		[HB_K_MAC] = "mac", [HB_K_NEST] = "nested", [HB_K_NESTN] = "nested",
	};

	return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

/* hb_msg_name - "HELLO", ...; "UNKNOWN" for a type not in msgs.def. */
const char *hb_msg_name(uint16_t type)
{
	const struct hb_msg_desc *d = hb_msg_desc(type);

	return d ? d->name : "UNKNOWN";
}

/* hb_msg_answer_type - type of the successful answer to @type, 0 if none. */
uint16_t hb_msg_answer_type(uint16_t type)
{
	const struct hb_msg_desc *d = hb_msg_desc(type);

	return d ? d->answer : 0;
}

/*
 * hb_msg_init - zero @m and set its type and seq, for a request or an
 * unsolicited message.  Get @seq from hb_seq_next().
 */
void hb_msg_init(struct hb_msg *m, uint16_t type, uint32_t seq)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->seq = seq;
}

/*
 * hb_msg_init_reply - zero @m as the answer of type @type to @req: the
 * answer carries the request's seq and the REPLY flag.
 */
void hb_msg_init_reply(struct hb_msg *m, uint16_t type, const struct hb_msg *req)
{
	hb_msg_init_answer(m, type, req->seq);
}

/*
 * hb_msg_init_answer - zero @m as the answer of type @type to the request
 * whose sequence number was @req_seq (a request answered later, after the
 * request itself is gone): @req_seq and the REPLY flag.
 */
void hb_msg_init_answer(struct hb_msg *m, uint16_t type, uint32_t req_seq)
{
	hb_msg_init(m, type, req_seq);
	m->flags = HB_F_REPLY;
}

/*
 * hb_seq_next - next sequence number of a sender: increments *@counter
 * and never returns 0, which is left free to mean "no request" in logs.
 */
uint32_t hb_seq_next(uint32_t *counter)
{
	if (++*counter == 0)
		*counter = 1;
	return *counter;
}

/*
 * hb_msg_is_answer - whether @ans answers @req: REPLY flag, same seq, and
 * either the answer type of @req's type or ERROR.  Returns 1 or 0.
 */
int hb_msg_is_answer(const struct hb_msg *req, const struct hb_msg *ans)
{
	uint16_t want = hb_msg_answer_type(req->type);

	if (!(ans->flags & HB_F_REPLY) || ans->seq != req->seq || !want)
		return 0;
	return ans->type == want || ans->type == HB_MSG_ERROR;
}

/*
 * hb_encode - encode @m as one frame into @buf.
 * @buf, @cap: output buffer; HB_FRAME_MAX bytes always suffice
 * @m: the message; header version is always the library's own
 *
 * Returns the frame length, or HB_E_NOSPC (buffer too small), HB_E_OVERSIZE
 * (the message would not fit in a frame), HB_E_UNKNOWN_TYPE, HB_E_INVAL
 * (a value the decoder would reject: missing required string, string too
 * long, value above its limit, too many pairs).
 */
int hb_encode(void *buf, size_t cap, const struct hb_msg *m)
{
	const struct hb_msg_desc *d;
	struct hb_wbuf w;
	int rc;

	if (!buf || !m)
		return HB_E_INVAL;
	d = hb_msg_desc(m->type);
	if (!d)
		return HB_E_UNKNOWN_TYPE;
	if (cap < HB_HDR_LEN)
		return HB_E_NOSPC;
	w.data = (uint8_t *)buf + HB_HDR_LEN;
	w.cap = cap - HB_HDR_LEN;
	if (w.cap > HB_PAYLOAD_MAX)
		w.cap = HB_PAYLOAD_MAX;
	w.len = 0;
	rc = hb_set_encode(&w, d->set, (const uint8_t *)m + d->off);
	if (rc == HB_E_NOSPC && cap - HB_HDR_LEN > HB_PAYLOAD_MAX)
		return HB_E_OVERSIZE;
	if (rc < 0)
		return rc;
	return hb_frame_finish(buf, cap, m->type, m->flags, m->seq, w.len);
}

/*
 * hb_encode_error - encode an ERROR answering the request whose header is
 * @req (REPLY flag, the request's seq and type), or an unsolicited ERROR
 * with seq 0 when @req is NULL.
 * @code: enum hb_error_code; @detail: an enum hb_err (0: none), sent
 * negated in DETAIL; @text: optional, truncated to what TEXT allows.
 * Returns as hb_encode().
 */
int hb_encode_error(void *buf, size_t cap, const struct hb_hdr *req,
		    uint32_t code, int detail, const char *text)
{
	char tbuf[256];
	struct hb_msg m;

	hb_msg_init(&m, HB_MSG_ERROR, 0);
	if (req) {
		m.seq = req->seq;
		m.flags = HB_F_REPLY;
		m.u.error.req_type = req->type;
		HB_MARK(&m.u.error, ERROR, REQ_TYPE);
	}
	m.u.error.code = code;
	if (detail < 0) {
		m.u.error.detail = (uint32_t)-detail;
		HB_MARK(&m.u.error, ERROR, DETAIL);
	}
	if (text) {
		size_t n = strnlen(text, sizeof(tbuf) - 1);

		memcpy(tbuf, text, n);
		tbuf[n] = '\0';
		m.u.error.text = tbuf;
	}
	return hb_encode(buf, cap, &m);
}

/*
 * hb_msg_decode - validate the payload of a frame and decode it into @m.
 * @f: a frame from hb_frame_parse() or hb_stream_next()
 * @m: zeroed, then filled; strings point into f->payload, so @m is valid
 *     only as long as the frame's buffer is
 *
 * The header fields of @m (type, flags, seq, version) are set even on
 * failure, so that the receiver can answer with an ERROR.
 * Returns 0, HB_E_UNKNOWN_TYPE or an attribute error (enum hb_err).
 */
int hb_msg_decode(const struct hb_frame *f, struct hb_msg *m)
{
	const struct hb_msg_desc *d;

	if (!f || !m || (!f->payload && f->payload_len))
		return HB_E_INVAL;
	memset(m, 0, sizeof(*m));
	m->type = f->hdr.type;
	m->flags = f->hdr.flags;
	m->seq = f->hdr.seq;
	m->ver_major = f->hdr.major;
	m->ver_minor = f->hdr.minor;
	d = hb_msg_desc(f->hdr.type);
	if (!d)
		return HB_E_UNKNOWN_TYPE;
	return hb_set_parse(d->set, f->payload, f->payload_len,
			    (uint8_t *)m + d->off, 0);
}

/*
 * hb_decode - hb_frame_parse() + hb_msg_decode() of the frame at the start
 * of @buf.  Returns the frame length or a negative enum hb_err; on an
 * error after the header was validated, m's header fields are set.
 */
int hb_decode(const void *buf, size_t len, struct hb_msg *m)
{
	struct hb_frame f;
	int n, rc;

	if (!m)
		return HB_E_INVAL;
	memset(m, 0, sizeof(*m));
	memset(&f, 0, sizeof(f));
	n = hb_frame_parse(buf, len, &f);
	if (n < 0) {
		if (n != HB_E_INVAL && n != HB_E_TRUNC_HDR &&
		    n != HB_E_BAD_MAGIC && n != HB_E_HDR_CSUM) {
			m->type = f.hdr.type;
			m->flags = f.hdr.flags;
			m->seq = f.hdr.seq;
			m->ver_major = f.hdr.major;
			m->ver_minor = f.hdr.minor;
		}
		return n;
	}
	rc = hb_msg_decode(&f, m);
	return rc < 0 ? rc : n;
}
