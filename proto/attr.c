/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * proto/attr.c — TLV attributes: the writer and the ONE validating parser.
 *
 * Attributes follow the netlink layout (cf. libmnl attr.c):
 *
 *   u16 length   header included, padding excluded
 *   u16 type     bit 15 (HB_ATTR_F_NESTED) set when the value is itself
 *                a sequence of attributes
 *   value        length - 4 bytes, then zero padding to a multiple of 4
 *
 * hb_set_parse() walks a sequence of attributes once, validating each one
 * against the policy of its set (kind, length, limit, count) and storing it
 * in the decoded struct, the way mnl_attr_parse() + mnl_attr_validate() or
 * the kernel's nla_parse() with a policy do.  Unknown types are skipped so
 * that a peer with a higher minor version can add attributes; they must
 * still be well-formed, and unknown nested ones are walked (bounded by
 * HB_MAX_NEST_DEPTH) so that garbage cannot hide inside them.
 */
#include <string.h>

#include "internal.h"

/* The presence bitmap and the per-type counters below hold types 0..31. */
#define HB_MAX_ATTR_TYPES 32

/*
 * attr_next - check the attribute header at @p against the @len bytes left
 * in its parent.  Sets *raw_type, *plen (value length) and *step (bytes to
 * the next attribute, padding included).
 */
static int attr_next(const uint8_t *p, size_t len, uint16_t *raw_type,
		     size_t *plen, size_t *step)
{
	size_t alen;

	if (len < HB_ATTR_HDRLEN)
		return HB_E_ATTR_MALFORMED;     /* 1-3 stray bytes */
	alen = hb_get_le16(p);
	if (alen < HB_ATTR_HDRLEN)
		return HB_E_ATTR_MALFORMED;     /* would never advance */
	/* The padding belongs to the attribute: senders always write it. */
	if (alen > len || HB_ATTR_ALIGN(alen) > len)
		return HB_E_ATTR_OVERRUN;
	*raw_type = hb_get_le16(p + 2);
	*plen = alen - HB_ATTR_HDRLEN;
	*step = HB_ATTR_ALIGN(alen);
	return 0;
}

/*
 * walk_opaque - structural check of the contents of an unknown nested
 * attribute at nesting level @depth.  Nothing is stored.
 */
static int walk_opaque(const uint8_t *p, size_t len, unsigned depth)
{
	if (depth > HB_MAX_NEST_DEPTH)
		return HB_E_NEST_DEPTH;
	while (len > 0) {
		uint16_t raw;
		size_t plen, step;
		int rc = attr_next(p, len, &raw, &plen, &step);

		if (rc < 0)
			return rc;
		if (raw & HB_ATTR_F_NESTED) {
			rc = walk_opaque(p + HB_ATTR_HDRLEN, plen, depth + 1);
			if (rc < 0)
				return rc;
		}
		p += step;
		len -= step;
	}
	return 0;
}

/* Exact value sizes of the fixed-size kinds; 0 for the others. */
static size_t kind_size(unsigned kind)
{
	switch (kind) {
	case HB_K_U8:  return 1;
	case HB_K_U16: return 2;
	case HB_K_U32: return 4;
	case HB_K_U64: return 8;
	case HB_K_MAC: return 6;
	default:       return 0;
	}
}

/*
 * parse_one - validate one known attribute and store it.
 * @pol: its policy; @v, @plen: its value; @base: the set's struct;
 * @seen: how many of this type were already stored; @depth: level of the
 * set that contains it.
 */
static int parse_one(const struct hb_attr_policy *pol, const uint8_t *v,
		     size_t plen, uint8_t *base, unsigned seen, unsigned depth)
{
	uint8_t *field = base + pol->off;
	size_t fixed = kind_size(pol->kind);
	uint64_t val = 0;

	if (seen >= pol->max_count)
		return pol->max_count == 1 ? HB_E_ATTR_DUP : HB_E_ATTR_COUNT;
	if (fixed && plen != fixed)
		return HB_E_ATTR_LEN;

	switch (pol->kind) {
	case HB_K_U8:
		val = v[0];
		break;
	case HB_K_U16:
		val = hb_get_le16(v);
		break;
	case HB_K_U32:
		val = hb_get_le32(v);
		break;
	case HB_K_U64:
		val = hb_get_le64(v);
		break;
	case HB_K_MAC:
		memcpy(field, v, 6);
		return 0;
	case HB_K_STR: {
		const char *s = (const char *)v;

		if (plen == 0 || (pol->limit && plen > pol->limit))
			return HB_E_ATTR_LEN;
		/* Exactly one NUL, at the end: the pointer is then safe to
		 * hand to str*() functions without a length. */
		if (memchr(v, 0, plen) != v + plen - 1)
			return HB_E_ATTR_STR;
		memcpy(field, &s, sizeof(s));
		return 0;
	}
	case HB_K_NEST:
	case HB_K_NESTN: {
		uint8_t *elem = field;

		if (depth + 1 > HB_MAX_NEST_DEPTH)
			return HB_E_NEST_DEPTH;
		if (pol->kind == HB_K_NESTN) {
			elem += (size_t)seen * pol->nest->size;
			base[pol->count_off] = (uint8_t)(seen + 1);
		}
		return hb_set_parse(pol->nest, v, plen, elem, depth + 1);
	}
	default:
		return HB_E_INVAL;      /* a broken policy table, not input */
	}

	if (pol->limit && val > pol->limit)
		return HB_E_ATTR_VALUE;
	switch (pol->kind) {
	case HB_K_U8: {
		uint8_t x = (uint8_t)val;

		memcpy(field, &x, sizeof(x));
		break;
	}
	case HB_K_U16: {
		uint16_t x = (uint16_t)val;

		memcpy(field, &x, sizeof(x));
		break;
	}
	case HB_K_U32: {
		uint32_t x = (uint32_t)val;

		memcpy(field, &x, sizeof(x));
		break;
	}
	default:
		memcpy(field, &val, sizeof(val));
		break;
	}
	return 0;
}

/*
 * hb_set_parse - validate a sequence of attributes and decode it.
 * @set: policy of the set
 * @p, @len: the attributes (a payload, or the value of a nested attribute)
 * @obj: the set's struct (hb_<SET>_t), zeroed by the caller
 * @depth: nesting level of this sequence, 0 for a payload
 *
 * The whole sequence is rejected on the first malformed attribute; the
 * return value says what was wrong (see enum hb_err).  Returns 0 or a
 * negative enum hb_err.
 */
int hb_set_parse(const struct hb_set_desc *set, const uint8_t *p, size_t len,
		 void *obj, unsigned depth)
{
	uint8_t seen[HB_MAX_ATTR_TYPES] = { 0 };
	uint8_t *base = obj;
	uint32_t present = 0;
	size_t i;

	if (set->n_attrs > HB_MAX_ATTR_TYPES)
		return HB_E_INVAL;
	while (len > 0) {
		uint16_t raw, type;
		size_t plen, step;
		int rc = attr_next(p, len, &raw, &plen, &step);

		if (rc < 0)
			return rc;
		type = raw & HB_ATTR_TYPE_MASK;
		if (type < set->n_attrs && set->attrs[type].kind != HB_K_NONE) {
			rc = parse_one(&set->attrs[type], p + HB_ATTR_HDRLEN, plen,
				       base, seen[type], depth);
			seen[type]++;
			present |= (uint32_t)1 << type;
		} else if (raw & HB_ATTR_F_NESTED) {
			rc = walk_opaque(p + HB_ATTR_HDRLEN, plen, depth + 1);
		}
		if (rc < 0)
			return rc;
		p += step;
		len -= step;
	}
	for (i = 0; i < set->n_attrs; i++)
		if (set->attrs[i].required && !seen[i])
			return HB_E_ATTR_MISSING;
	memcpy(base, &present, sizeof(present));
	return 0;
}

/* ---- writer ------------------------------------------------------------ */

/*
 * hb_put_attr - append one attribute (header, value, zero padding).
 * @w: the buffer; w->len advances by the aligned size
 * @type: attribute type, with HB_ATTR_F_NESTED if the value is attributes
 * @data, @len: the value
 *
 * Returns 0, HB_E_INVAL (value longer than a u16 length allows) or
 * HB_E_NOSPC (w is left unchanged).
 */
int hb_put_attr(struct hb_wbuf *w, uint16_t type, const void *data, size_t len)
{
	size_t total;
	uint8_t *p;

	if (!w || (!data && len))
		return HB_E_INVAL;
	if (len > 0xffffu - HB_ATTR_HDRLEN)
		return HB_E_INVAL;
	total = HB_ATTR_ALIGN(HB_ATTR_HDRLEN + len);
	if (w->len > w->cap || w->cap - w->len < total)
		return HB_E_NOSPC;
	p = w->data + w->len;
	hb_put_le16(p, (uint16_t)(HB_ATTR_HDRLEN + len));
	hb_put_le16(p + 2, type);
	if (len)
		memcpy(p + HB_ATTR_HDRLEN, data, len);
	memset(p + HB_ATTR_HDRLEN + len, 0, total - HB_ATTR_HDRLEN - len);
	w->len += total;
	return 0;
}

/* hb_put_u8 - append a u8 attribute.  Returns as hb_put_attr(). */
int hb_put_u8(struct hb_wbuf *w, uint16_t type, uint8_t v)
{
	return hb_put_attr(w, type, &v, 1);
}

/* hb_put_u16 - append a little-endian u16 attribute. */
int hb_put_u16(struct hb_wbuf *w, uint16_t type, uint16_t v)
{
	uint8_t b[2];

	hb_put_le16(b, v);
	return hb_put_attr(w, type, b, sizeof(b));
}

/* hb_put_u32 - append a little-endian u32 attribute. */
int hb_put_u32(struct hb_wbuf *w, uint16_t type, uint32_t v)
{
	uint8_t b[4];

	hb_put_le32(b, v);
	return hb_put_attr(w, type, b, sizeof(b));
}

/* hb_put_u64 - append a little-endian u64 attribute. */
int hb_put_u64(struct hb_wbuf *w, uint16_t type, uint64_t v)
{
	uint8_t b[8];

	hb_put_le64(b, v);
	return hb_put_attr(w, type, b, sizeof(b));
}

/* hb_put_str - append a string attribute, its NUL included. */
int hb_put_str(struct hb_wbuf *w, uint16_t type, const char *s)
{
	if (!s)
		return HB_E_INVAL;
	return hb_put_attr(w, type, s, strlen(s) + 1);
}

/*
 * hb_nest_begin - open a nested attribute; its length is written by
 * hb_nest_end().  HB_ATTR_F_NESTED is added to @type.
 * @mark: receives the position to pass to hb_nest_end()
 */
int hb_nest_begin(struct hb_wbuf *w, uint16_t type, size_t *mark)
{
	size_t at;
	int rc;

	if (!w || !mark)
		return HB_E_INVAL;
	at = w->len;
	rc = hb_put_attr(w, type | HB_ATTR_F_NESTED, NULL, 0);
	if (rc < 0)
		return rc;
	*mark = at;
	return 0;
}

/*
 * hb_nest_end - close the nested attribute opened at @mark.
 * Returns 0, or HB_E_INVAL if the contents exceed a u16 length.
 */
int hb_nest_end(struct hb_wbuf *w, size_t mark)
{
	size_t len;

	if (!w || mark > w->len || w->len - mark < HB_ATTR_HDRLEN)
		return HB_E_INVAL;
	len = w->len - mark;
	if (len > 0xffffu)
		return HB_E_INVAL;
	hb_put_le16(w->data + mark, (uint16_t)len);
	return 0;
}

/* ---- encoder driven by the policy -------------------------------------- */

static int encode_nest(struct hb_wbuf *w, const struct hb_attr_policy *pol,
		       const uint8_t *obj)
{
	size_t mark;
	int rc = hb_nest_begin(w, pol->type, &mark);

	if (rc < 0)
		return rc;
	rc = hb_set_encode(w, pol->nest, obj);
	if (rc < 0)
		return rc;
	return hb_nest_end(w, mark);
}

/*
 * encode_one - append attribute @pol taken from the set's struct @base.
 * Refuses (HB_E_INVAL) what the parser would reject, so that an encoded
 * frame always decodes.
 */
static int encode_one(struct hb_wbuf *w, const struct hb_attr_policy *pol,
		      const uint8_t *base, int present)
{
	const uint8_t *field = base + pol->off;
	uint64_t val = hb_field_uint(pol->kind, field);

	switch (pol->kind) {
	case HB_K_U8:
	case HB_K_U16:
	case HB_K_U32:
	case HB_K_U64:
		break;
	case HB_K_MAC:
		return present ? hb_put_attr(w, pol->type, field, 6) : 0;
	case HB_K_STR: {
		const char *s;
		size_t max, n;

		memcpy(&s, field, sizeof(s));
		if (!s)
			return pol->required ? HB_E_INVAL : 0;
		max = pol->limit ? (size_t)pol->limit : 0xffffu - HB_ATTR_HDRLEN;
		n = strnlen(s, max);
		if (n >= max)
			return HB_E_INVAL;
		return hb_put_attr(w, pol->type, s, n + 1);
	}
	case HB_K_NEST:
		return present ? encode_nest(w, pol, field) : 0;
	case HB_K_NESTN: {
		unsigned n = base[pol->count_off], i;

		if (n > pol->max_count || (pol->required && n == 0))
			return HB_E_INVAL;
		for (i = 0; i < n; i++) {
			int rc = encode_nest(w, pol, field + (size_t)i * pol->nest->size);

			if (rc < 0)
				return rc;
		}
		return 0;
	}
	default:
		return HB_E_INVAL;
	}

	if (!present)
		return 0;
	if (pol->limit && val > pol->limit)
		return HB_E_INVAL;
	switch (pol->kind) {
	case HB_K_U8:
		return hb_put_u8(w, pol->type, (uint8_t)val);
	case HB_K_U16:
		return hb_put_u16(w, pol->type, (uint16_t)val);
	case HB_K_U32:
		return hb_put_u32(w, pol->type, (uint32_t)val);
	default:
		return hb_put_u64(w, pol->type, val);
	}
}

/*
 * hb_set_encode - append the attributes of a set's struct, in type order.
 * Required attributes are always written; optional ones as described in
 * hybond/proto.h (present bit, non-NULL string, n_<field> count).
 * Returns 0 or a negative enum hb_err.
 */
int hb_set_encode(struct hb_wbuf *w, const struct hb_set_desc *set, const void *obj)
{
	const uint8_t *base = obj;
	uint32_t present;
	size_t t;

	memcpy(&present, base, sizeof(present));
	for (t = 1; t < set->n_attrs && t < HB_MAX_ATTR_TYPES; t++) {
		const struct hb_attr_policy *pol = &set->attrs[t];
		int rc;

		if (pol->kind == HB_K_NONE)
			continue;
		rc = encode_one(w, pol, base,
				pol->required || ((present >> t) & 1u));
		if (rc < 0)
			return rc;
	}
	return 0;
}
