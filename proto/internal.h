/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * proto/internal.h — helpers shared by the libhybond-proto sources only.
 *
 * All multi-byte integers on the wire are little-endian and are read and
 * written byte by byte here, never by casting a buffer to a struct: the
 * buffers come from a byte stream and have no alignment guarantee, and
 * the host and guest may not share an endianness.
 */
#ifndef HB_PROTO_INTERNAL_H
#define HB_PROTO_INTERNAL_H

#include <string.h>

#include <hybond/proto.h>
#include <hybond/proto_desc.h>

static inline uint16_t hb_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t hb_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t hb_get_le64(const uint8_t *p)
{
	return (uint64_t)hb_get_le32(p) | (uint64_t)hb_get_le32(p + 4) << 32;
}

static inline void hb_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void hb_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void hb_put_le64(uint8_t *p, uint64_t v)
{
	hb_put_le32(p, (uint32_t)v);
	hb_put_le32(p + 4, (uint32_t)(v >> 32));
}

/* The value of an integer field (U8..U64) of a decoded struct; 0 for other kinds. */
static inline uint64_t hb_field_uint(unsigned kind, const uint8_t *field)
{
	uint64_t val = 0;

	switch (kind) {
	case HB_K_U8:
		val = field[0];
		break;
	case HB_K_U16: {
		uint16_t x;

		memcpy(&x, field, sizeof(x));
		val = x;
		break;
	}
	case HB_K_U32: {
		uint32_t x;

		memcpy(&x, field, sizeof(x));
		val = x;
		break;
	}
	case HB_K_U64:
		memcpy(&val, field, sizeof(val));
		break;
	default:
		break;
	}
	return val;
}

/* attr.c: the validating parser and the encoder of one attribute set. */
int hb_set_parse(const struct hb_set_desc *set, const uint8_t *p, size_t len,
		 void *obj, unsigned depth);
int hb_set_encode(struct hb_wbuf *w, const struct hb_set_desc *set, const void *obj);

#endif /* HB_PROTO_INTERNAL_H */
