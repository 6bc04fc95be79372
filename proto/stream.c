/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * proto/stream.c — pull whole frames out of a byte stream.
 *
 * A virtio-serial port is a byte stream with no message boundaries, and
 * after a reconnect of the host chardev or a migration it can deliver the
 * tail or the head of a frame that will never be completed.  The reader
 * therefore never trusts its position in the stream: it looks for the
 * magic, accepts a header only if its checksum is right, and accepts a
 * frame only if its payload checksum is right.  Anything else is skipped
 * one byte at a time, so a real frame that starts inside garbage (or
 * inside the claimed payload of a dead frame) is still found.
 *
 * A dead frame whose header is valid but whose payload will never be
 * completed (the writer went away mid-frame, then a fresh writer started)
 * would make the reader wait for bytes that belong to later frames.  So
 * while a frame is incomplete, the reader also looks inside the bytes it
 * already has for a COMPLETE frame with valid header and payload
 * checksums; if there is one, the incomplete frame is abandoned in its
 * favour.  The look-ahead resumes where it stopped (s->scan), also after
 * bytes were discarded at the front (what it looked at stays as it was), so
 * feeding a frame one byte at a time stays linear.
 *
 * The input is untrusted (a guest, a peer): the payload checksums computed are
 * paid for by the bytes received (crc_credit, HB_STREAM_CRC_PER_BYTE per byte),
 * and a payload above the channel's max_len is dropped from its header alone.
 */
#include <string.h>

#include "internal.h"

static const uint8_t hb_magic_bytes[4] = { 'H', 'Y', 'B', 'N' };

_Static_assert(sizeof(((struct hb_stream *)0)->buf) >= HB_FRAME_MAX,
	       "the buffer holds the largest frame");

/* hb_stream_init - prepare an empty reader.  @s is about 64 KiB. */
void hb_stream_init(struct hb_stream *s)
{
	s->start = 0;
	s->end = 0;
	s->scan = 0;
	s->skipped = 0;
	s->frames = 0;
	s->dropped = 0;
	s->crc_skipped = 0;
	s->max_len = HB_PAYLOAD_MAX;
	s->crc_credit = HB_FRAME_MAX;
}

void hb_stream_set_max(struct hb_stream *s, size_t max_len)
{
	s->max_len = max_len && max_len < HB_PAYLOAD_MAX ? max_len : HB_PAYLOAD_MAX;
}

/* Credit for n bytes received, capped at two largest frames (no hoarding). */
static void earn(struct hb_stream *s, size_t n)
{
	s->crc_credit += (uint64_t)n * HB_STREAM_CRC_PER_BYTE;
	if (s->crc_credit > 2 * (uint64_t)HB_FRAME_MAX)
		s->crc_credit = 2 * (uint64_t)HB_FRAME_MAX;
}

/* The payload at p (len bytes) has checksum crc: 1 yes, 0 no or not paid for. */
static int payload_ok(struct hb_stream *s, const uint8_t *p, size_t len, uint32_t crc)
{
	if (len > s->crc_credit) {
		s->crc_skipped++;
		return 0;
	}
	s->crc_credit -= len;
	return hb_crc32(p, len) == crc;
}

/*
 * hb_stream_reset - drop buffered bytes (counted as skipped), e.g. when
 * the caller knows the peer reconnected.  Counters are kept.
 */
void hb_stream_reset(struct hb_stream *s)
{
	s->skipped += s->end - s->start;
	s->start = 0;
	s->end = 0;
	s->scan = 0;
}

/* Move the unconsumed bytes to the front of the buffer. */
static void compact(struct hb_stream *s)
{
	if (s->start == 0)
		return;
	memmove(s->buf, s->buf + s->start, s->end - s->start);
	s->end -= s->start;
	s->start = 0;
}

/*
 * hb_stream_wptr - where to read(2) new bytes directly, and how many fit.
 * Call hb_stream_commit() with the number of bytes written.  @room is 0
 * only while a complete frame is still waiting for hb_stream_next().
 */
uint8_t *hb_stream_wptr(struct hb_stream *s, size_t *room)
{
	compact(s);
	*room = sizeof(s->buf) - s->end;
	return s->buf + s->end;
}

/* hb_stream_commit - account for @n bytes written at hb_stream_wptr(). */
void hb_stream_commit(struct hb_stream *s, size_t n)
{
	if (n > sizeof(s->buf) - s->end)
		n = sizeof(s->buf) - s->end;
	s->end += n;
	earn(s, n);
}

/*
 * hb_stream_feed - copy bytes into the reader.
 * Returns how many bytes were taken: fewer than @len only when the buffer
 * is full, which cannot happen right after hb_stream_next() returned 0;
 * so the loop "feed, then call next until it returns 0" always progresses.
 */
size_t hb_stream_feed(struct hb_stream *s, const void *data, size_t len)
{
	size_t room;

	if (!s || !data)
		return 0;
	if (sizeof(s->buf) - s->end < len)
		compact(s);
	room = sizeof(s->buf) - s->end;
	if (len > room)
		len = room;
	if (len) {
		memcpy(s->buf + s->end, data, len);
		s->end += len;
		earn(s, len);
	}
	return len;
}

/* Discard @n bytes at the front as garbage.  What the look-ahead examined after them
 * stays examined: the bytes did not change. */
static void discard(struct hb_stream *s, size_t n)
{
	s->start += n;
	s->skipped += n;
	s->scan = s->scan > n ? s->scan - n : 0;
}

/* Length of the longest tail of @p that is a proper prefix of the magic. */
static size_t magic_prefix_tail(const uint8_t *p, size_t len)
{
	size_t k;

	for (k = len < 3 ? len : 3; k > 0; k--)
		if (memcmp(p + len - k, hb_magic_bytes, k) == 0)
			return k;
	return 0;
}

/* Whether a complete valid frame starts at @p (@avail bytes buffered). */
static int frame_complete_at(struct hb_stream *s, const uint8_t *p, size_t avail,
			     int *incomplete)
{
	struct hb_hdr h;

	*incomplete = 0;
	if (avail < HB_HDR_LEN) {
		*incomplete = 1;
		return 0;
	}
	if (hb_hdr_decode(p, avail, &h) < 0 || h.len > s->max_len)
		return 0;
	if (avail - HB_HDR_LEN < h.len) {
		*incomplete = 1;
		return 0;
	}
	return payload_ok(s, p + HB_HDR_LEN, h.len, h.payload_crc);
}

/*
 * find_embedded - look for a complete valid frame after the first byte of
 * the incomplete frame at s->start.  Returns its offset from s->start, or
 * 0 if there is none yet.  Stops at the first candidate that could still
 * complete, and records where to resume.
 */
static size_t find_embedded(struct hb_stream *s)
{
	const uint8_t *p = s->buf + s->start;
	size_t avail = s->end - s->start;
	size_t off = s->scan ? s->scan : 1;

	while (off + sizeof(hb_magic_bytes) <= avail) {
		const uint8_t *m = memmem(p + off, avail - off, hb_magic_bytes,
					  sizeof(hb_magic_bytes));
		int incomplete;

		if (!m) {
			off = avail - (sizeof(hb_magic_bytes) - 1);
			break;
		}
		off = (size_t)(m - p);
		if (frame_complete_at(s, m, avail - off, &incomplete)) {
			s->scan = off;
			return off;
		}
		if (incomplete)
			break;
		off++;
	}
	s->scan = off;
	return 0;
}

/*
 * hb_stream_next - take the next frame out of the reader.
 * @s: the reader
 * @f: on 1, the frame; f->payload points into the reader's buffer and is
 *     valid until the next call of any hb_stream_* function on @s.  On an
 *     error, f->hdr is the (checksum-valid) header of the dropped frame, so
 *     the caller can answer it with an ERROR; f->payload is NULL.
 * @skipped: if not NULL, receives the bytes discarded as garbage during
 *     this call (also added to s->skipped)
 *
 * Returns 1 (a frame), 0 (need more bytes), or a dropped frame's error:
 * HB_E_VERSION (unknown major), HB_E_OVERSIZE (length above the maximum)
 * or HB_E_PAYLOAD_CSUM (HB_E_INVAL if @s or @f is NULL).  After an error, call again: the reader has
 * already moved past the bad frame.
 */
int hb_stream_next(struct hb_stream *s, struct hb_frame *f, size_t *skipped)
{
	uint64_t skipped0;
	int rc = 0;

	if (skipped)
		*skipped = 0;
	if (!s || !f)
		return HB_E_INVAL;
	skipped0 = s->skipped;
	f->payload = NULL;
	f->payload_len = 0;
	for (;;) {
		const uint8_t *p = s->buf + s->start;
		size_t avail = s->end - s->start;
		const uint8_t *m;
		size_t need, q;

		m = memmem(p, avail, hb_magic_bytes, sizeof(hb_magic_bytes));
		if (!m) {
			/* Keep a tail that may be the start of a magic. */
			discard(s, avail - magic_prefix_tail(p, avail));
			break;
		}
		if (m != p) {
			discard(s, (size_t)(m - p));
			p = m;
			avail = s->end - s->start;
		}
		if (avail < HB_HDR_LEN)
			break;
		rc = hb_hdr_decode(p, avail, &f->hdr);
		if (rc == HB_E_HDR_CSUM) {
			/* A magic inside garbage: not a header. */
			discard(s, 1);
			rc = 0;
			continue;
		}
		if (rc < 0) {
			/* A genuine header we cannot use: drop the header;
			 * its payload is then skipped as garbage. */
			discard(s, HB_HDR_LEN);
			s->dropped++;
			break;
		}
		if (f->hdr.len > s->max_len) {
			/* larger than this channel's frames: its payload is skipped as
			 * garbage, never checksummed */
			discard(s, HB_HDR_LEN);
			s->dropped++;
			rc = HB_E_OVERSIZE;
			break;
		}
		need = HB_HDR_LEN + f->hdr.len;
		if (avail >= need) {
			if (!payload_ok(s, p + HB_HDR_LEN, f->hdr.len, f->hdr.payload_crc)) {
				/* Corrupted, or a dead frame's header followed
				 * by another frame: rescan after the header. */
				discard(s, HB_HDR_LEN);
				s->dropped++;
				rc = HB_E_PAYLOAD_CSUM;
				break;
			}
			f->payload = p + HB_HDR_LEN;
			f->payload_len = f->hdr.len;
			s->start += need;
			s->scan = 0;
			s->frames++;
			rc = 1;
			break;
		}
		q = find_embedded(s);
		if (!q)
			break;
		/* The incomplete frame is dead: a complete one follows it. */
		discard(s, q);
	}
	if (skipped)
		*skipped = (size_t)(s->skipped - skipped0);
	return rc;
}
