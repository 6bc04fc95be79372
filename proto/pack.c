// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * proto/pack.c — a decoded message handed from one process to another process of the
 * SAME binary (hybond-hostd's guest sentry to the daemon, docs/security.md).
 *
 * The sentry runs the validating decoder on what a guest sent; the daemon must not run
 * that parser again on bytes the sentry could forge if it were compromised. So the
 * hand-over is the decoded struct itself: struct hb_msg as laid out in memory, each
 * string pointer replaced by its offset (+1, 0 for NULL) into an arena of strings that
 * follows the struct. Checking such a message is a walk over the same policy tables,
 * with fixed sizes and bounds only: the message type is known, every string lies inside
 * the arena and ends with its NUL within the attribute's limit, every value is within
 * its limit, repeated nests within their count, present bits only for defined
 * attributes and set for every required one. No length-prefixed walk, no checksum, no
 * resynchronisation — none of the code a guest's bytes can reach in the sentry.
 *
 * Not a wire format: the struct's layout is this build's (both ends are one
 * executable, the daemon re-executes itself as the sentry).
 */
#include <stdint.h>
#include <string.h>

#include "internal.h"

struct arena {
	uint8_t *p;
	size_t cap, len;
};

static int pack_set(const struct hb_set_desc *set, uint8_t *obj, struct arena *a,
		    unsigned depth);

static int pack_str(const struct hb_attr_policy *pol, uint8_t *field, struct arena *a)
{
	const char *s;
	uintptr_t v = 0;

	memcpy(&s, field, sizeof(s));
	if (s) {
		size_t n = strlen(s) + 1;

		if (pol->limit && n > pol->limit)
			return HB_E_INVAL;
		if (n > a->cap - a->len)
			return HB_E_NOSPC;
		memcpy(a->p + a->len, s, n);
		v = (uintptr_t)a->len + 1u;
		a->len += n;
	}
	memcpy(field, &v, sizeof(v));
	return 0;
}

static int pack_set(const struct hb_set_desc *set, uint8_t *obj, struct arena *a,
		    unsigned depth)
{
	if (depth > HB_MAX_NEST_DEPTH)
		return HB_E_NEST_DEPTH;
	for (size_t t = 1; t < set->n_attrs; t++) {
		const struct hb_attr_policy *pol = &set->attrs[t];
		int rc = 0;

		if (pol->kind == HB_K_STR) {
			rc = pack_str(pol, obj + pol->off, a);
		} else if (pol->kind == HB_K_NEST) {
			rc = pack_set(pol->nest, obj + pol->off, a, depth + 1);
		} else if (pol->kind == HB_K_NESTN) {
			unsigned n = obj[pol->count_off];

			if (n > pol->max_count)
				return HB_E_ATTR_COUNT;
			for (unsigned i = 0; i < n && rc == 0; i++)
				rc = pack_set(pol->nest, obj + pol->off + (size_t)i * pol->nest->size,
					      a, depth + 1);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * hb_msg_pack - @m (a decoded message) as one hand-over buffer for hb_msg_unpack() in
 * another process of this executable.
 * @buf, @cap: output; HB_PACK_MAX bytes always suffice
 * Returns the length, or HB_E_UNKNOWN_TYPE, HB_E_NOSPC, HB_E_INVAL (a string over its
 * limit), HB_E_ATTR_COUNT.
 */
int hb_msg_pack(void *buf, size_t cap, const struct hb_msg *m)
{
	const struct hb_msg_desc *d;
	struct arena a;
	uint8_t *out = buf;
	int rc;

	if (!buf || !m)
		return HB_E_INVAL;
	d = hb_msg_desc(m->type);
	if (!d)
		return HB_E_UNKNOWN_TYPE;
	if (cap < sizeof(*m))
		return HB_E_NOSPC;
	memcpy(out, m, sizeof(*m));
	a.p = out + sizeof(*m);
	a.cap = cap - sizeof(*m);
	a.len = 0;
	rc = pack_set(d->set, out + d->off, &a, 0);
	if (rc < 0)
		return rc;
	if (sizeof(*m) + a.len > (size_t)INT32_MAX)
		return HB_E_NOSPC;
	return (int)(sizeof(*m) + a.len);
}

static int check_set(const struct hb_set_desc *set, uint8_t *obj, const char *arena,
		     size_t alen, unsigned depth);

/* A string offset from the other process: inside the arena, NUL within the limit. */
static int check_str(const struct hb_attr_policy *pol, uint8_t *field, int present,
		     const char *arena, size_t alen)
{
	const char *s = NULL, *nul;
	uintptr_t v;

	memcpy(&v, field, sizeof(v));
	if (!v != !present)
		return HB_E_INVAL;
	if (v) {
		size_t off = (size_t)(v - 1u), room;

		if (v - 1u >= alen)
			return HB_E_ATTR_LEN;
		room = alen - off;
		if (pol->limit && room > pol->limit)
			room = (size_t)pol->limit;
		nul = memchr(arena + off, 0, room);
		if (!nul)
			return HB_E_ATTR_STR;
		s = arena + off;
	}
	memcpy(field, &s, sizeof(s));
	return 0;
}

static int check_value(const struct hb_attr_policy *pol, const uint8_t *field)
{
	uint64_t val = hb_field_uint(pol->kind, field);

	return pol->limit && val > pol->limit ? HB_E_ATTR_VALUE : 0;
}

static int check_set(const struct hb_set_desc *set, uint8_t *obj, const char *arena,
		     size_t alen, unsigned depth)
{
	uint32_t present, defined = 0;

	if (depth > HB_MAX_NEST_DEPTH)
		return HB_E_NEST_DEPTH;
	memcpy(&present, obj, sizeof(present));
	for (size_t t = 1; t < set->n_attrs && t < 32; t++) {
		const struct hb_attr_policy *pol = &set->attrs[t];
		uint8_t *field = obj + pol->off;
		int has = (present >> t) & 1u, rc = 0;

		if (pol->kind == HB_K_NONE)
			continue;
		defined |= (uint32_t)1 << t;
		if (pol->required && !has)
			return HB_E_ATTR_MISSING;
		switch (pol->kind) {
		case HB_K_STR:
			rc = check_str(pol, field, has, arena, alen);
			break;
		case HB_K_NEST:
			rc = has ? check_set(pol->nest, field, arena, alen, depth + 1) : 0;
			if (!has)
				memset(field, 0, pol->nest->size);
			break;
		case HB_K_NESTN: {
			unsigned n = obj[pol->count_off];

			if (n > pol->max_count || !has != !n)
				return HB_E_ATTR_COUNT;
			for (unsigned i = 0; i < n && rc == 0; i++)
				rc = check_set(pol->nest, field + (size_t)i * pol->nest->size,
					       arena, alen, depth + 1);
			/* the unused elements hold nothing anyone may follow */
			memset(field + (size_t)n * pol->nest->size, 0,
			       (size_t)(pol->max_count - n) * pol->nest->size);
			break;
		}
		default:
			rc = check_value(pol, field);
			break;
		}
		if (rc < 0)
			return rc;
	}
	if (present & ~defined)
		return HB_E_INVAL;
	return 0;
}

/*
 * hb_msg_unpack - check a buffer made by hb_msg_pack() in another process of this
 * executable, which may have been compromised, and rebuild the message.
 * @m: filled; its strings point into @buf, so @m is valid as long as @buf is
 * Returns 0, or a negative enum hb_err (the buffer is not a message; @m is zeroed).
 */
int hb_msg_unpack(const void *buf, size_t len, struct hb_msg *m)
{
	const struct hb_msg_desc *d;
	const char *arena;
	size_t alen;
	int rc;

	if (!buf || !m)
		return HB_E_INVAL;
	memset(m, 0, sizeof(*m));
	if (len < sizeof(*m))
		return HB_E_TRUNC;
	memcpy(m, buf, offsetof(struct hb_msg, u));
	d = hb_msg_desc(m->type);
	if (!d) {
		memset(m, 0, sizeof(*m));
		return HB_E_UNKNOWN_TYPE;
	}
	memcpy((uint8_t *)m + d->off, (const uint8_t *)buf + d->off, d->set->size);
	arena = (const char *)buf + sizeof(*m);
	alen = len - sizeof(*m);
	rc = check_set(d->set, (uint8_t *)m + d->off, arena, alen, 0);
	if (rc < 0)
		memset(m, 0, sizeof(*m));
	return rc;
}
