/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * proto/frame.c — the fixed frame header: encode, decode, checksums.
 *
 * Layout (all little-endian, see docs/protocol.md):
 *
 *   0  u32 magic 'H' 'Y' 'B' 'N'      12  u32 seq
 *   4  u8  major                      16  u32 payload length
 *   5  u8  minor                      20  u32 CRC-32 of the payload
 *   6  u16 type                       24  u32 CRC-32 of bytes 0..23
 *   8  u16 flags
 *  10  u16 reserved (0)
 *
 * The header has its own checksum so that a reader resynchronising on a
 * byte stream can tell a real header from garbage that merely contains the
 * magic, before it trusts the length field: otherwise a fake magic followed
 * by a large bogus length would make it wait for bytes that never come.
 */
#include <string.h>
#include <zlib.h>

#include "internal.h"

#define OFF_MAGIC	0
#define OFF_MAJOR	4
#define OFF_MINOR	5
#define OFF_TYPE	6
#define OFF_FLAGS	8
#define OFF_RESERVED	10
#define OFF_SEQ		12
#define OFF_LEN		16
#define OFF_PCRC	20
#define OFF_HCRC	24

_Static_assert(OFF_HCRC + 4 == HB_HDR_LEN, "header layout");
_Static_assert(HB_PAYLOAD_MAX % 4 == 0, "payload max keeps attributes aligned");

/*
 * hb_crc32 - CRC-32 (IEEE 802.3, as zlib's crc32()) of a buffer.
 * Returns 0 for an empty buffer, which is the payload CRC of an empty
 * payload.  Lengths here never exceed HB_FRAME_MAX, so zlib's uInt is safe.
 */
uint32_t hb_crc32(const void *data, size_t len)
{
	uLong c = crc32(0L, Z_NULL, 0);

	if (len)
		c = crc32(c, (const Bytef *)data, (uInt)len);
	return (uint32_t)c;
}

/*
 * hb_hdr_encode - write a complete header, computing the header CRC.
 * @out: HB_HDR_LEN bytes
 * @h: field values, written as given (major/minor/len are NOT checked, so
 *     that tests and tools can produce deliberately invalid headers)
 */
void hb_hdr_encode(uint8_t out[HB_HDR_LEN], const struct hb_hdr *h)
{
	hb_put_le32(out + OFF_MAGIC, HB_MAGIC);
	out[OFF_MAJOR] = h->major;
	out[OFF_MINOR] = h->minor;
	hb_put_le16(out + OFF_TYPE, h->type);
	hb_put_le16(out + OFF_FLAGS, h->flags);
	hb_put_le16(out + OFF_RESERVED, 0);
	hb_put_le32(out + OFF_SEQ, h->seq);
	hb_put_le32(out + OFF_LEN, h->len);
	hb_put_le32(out + OFF_PCRC, h->payload_crc);
	hb_put_le32(out + OFF_HCRC, hb_crc32(out, OFF_HCRC));
}

/*
 * hb_hdr_decode - decode and validate a frame header.
 * @buf, @len: bytes starting where a frame is expected
 * @h: filled in when the header checksum is valid, even when the function
 *     then fails with HB_E_VERSION or HB_E_OVERSIZE, so that the receiver
 *     can still answer the request's seq with an ERROR.
 *
 * Checks run in an order where each check only trusts what was verified
 * before: magic, header CRC (now all fields are what the sender wrote),
 * major version (a different major may mean a different payload format),
 * then the length bound.
 *
 * Returns 0, HB_E_INVAL, HB_E_TRUNC_HDR, HB_E_BAD_MAGIC, HB_E_HDR_CSUM,
 * HB_E_VERSION or HB_E_OVERSIZE.
 */
int hb_hdr_decode(const void *buf, size_t len, struct hb_hdr *h)
{
	const uint8_t *p = buf;

	if (!buf || !h)
		return HB_E_INVAL;
	if (len < HB_HDR_LEN)
		return HB_E_TRUNC_HDR;
	if (hb_get_le32(p + OFF_MAGIC) != HB_MAGIC)
		return HB_E_BAD_MAGIC;
	if (hb_get_le32(p + OFF_HCRC) != hb_crc32(p, OFF_HCRC))
		return HB_E_HDR_CSUM;

	h->major = p[OFF_MAJOR];
	h->minor = p[OFF_MINOR];
	h->type = hb_get_le16(p + OFF_TYPE);
	h->flags = hb_get_le16(p + OFF_FLAGS);
	h->seq = hb_get_le32(p + OFF_SEQ);
	h->len = hb_get_le32(p + OFF_LEN);
	h->payload_crc = hb_get_le32(p + OFF_PCRC);

	/* Higher minor versions are compatible by definition; majors are not. */
	if (h->major != HB_VERSION_MAJOR)
		return HB_E_VERSION;
	if (h->len > HB_PAYLOAD_MAX)
		return HB_E_OVERSIZE;
	return 0;
}

/*
 * hb_frame_parse - validate one complete frame at the start of a buffer.
 * @buf, @len: the buffer; bytes past the frame are ignored
 * @f: filled on success; f->payload points into @buf.  On HB_E_TRUNC and
 *     HB_E_PAYLOAD_CSUM f->hdr is valid too (payload NULL).
 *
 * Returns the frame length (header + payload) or a negative enum hb_err:
 * those of hb_hdr_decode(), HB_E_TRUNC or HB_E_PAYLOAD_CSUM.
 */
int hb_frame_parse(const void *buf, size_t len, struct hb_frame *f)
{
	const uint8_t *p = buf;
	int rc;

	if (!f)
		return HB_E_INVAL;
	f->payload = NULL;
	f->payload_len = 0;
	rc = hb_hdr_decode(buf, len, &f->hdr);
	if (rc < 0)
		return rc;
	if (len - HB_HDR_LEN < f->hdr.len)
		return HB_E_TRUNC;
	if (hb_crc32(p + HB_HDR_LEN, f->hdr.len) != f->hdr.payload_crc)
		return HB_E_PAYLOAD_CSUM;
	f->payload = p + HB_HDR_LEN;
	f->payload_len = f->hdr.len;
	return (int)(HB_HDR_LEN + f->hdr.len);
}

/*
 * hb_frame_finish - turn a payload already written at frame + HB_HDR_LEN
 * into a frame by writing the header (current protocol version).
 * @frame, @cap: the frame buffer and its size
 * @type, @flags, @seq: header fields
 * @payload_len: bytes of payload at frame + HB_HDR_LEN
 *
 * Returns the frame length, HB_E_INVAL, HB_E_OVERSIZE or HB_E_NOSPC.
 */
int hb_frame_finish(void *frame, size_t cap, uint16_t type, uint16_t flags,
		    uint32_t seq, size_t payload_len)
{
	uint8_t *p = frame;
	struct hb_hdr h;

	if (!frame)
		return HB_E_INVAL;
	if (payload_len > HB_PAYLOAD_MAX)
		return HB_E_OVERSIZE;
	if (cap < HB_HDR_LEN || cap - HB_HDR_LEN < payload_len)
		return HB_E_NOSPC;
	memset(&h, 0, sizeof(h));
	h.major = HB_VERSION_MAJOR;
	h.minor = HB_VERSION_MINOR;
	h.type = type;
	h.flags = flags;
	h.seq = seq;
	h.len = (uint32_t)payload_len;
	h.payload_crc = hb_crc32(p + HB_HDR_LEN, payload_len);
	hb_hdr_encode(p, &h);
	return (int)(HB_HDR_LEN + payload_len);
}
