// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/guest/gc_reader.c — the guest's bytes to gc_in (see gc_reader.h).
 *
 * Every frame the stream reader yields costs one token of the guest's bucket before it
 * is even decoded, so a guest that floods the port costs a bounded amount of work per
 * second; the stream reader bounds its checksum work by the bytes received. Decoding is
 * hb_msg_decode()'s validating walk; nothing here looks at a byte it did not check.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "gc_reader.h"

void gc_rd_init(struct gc_rd *r, uint32_t rate_per_s, uint32_t burst, uint64_t now_ms)
{
	r->rate_per_s = rate_per_s;
	r->burst = burst;
	r->tokens_milli = (uint64_t)burst * 1000u;
	r->refill_ms = now_ms;
	r->counts_ms = now_ms;
	r->rx_bytes = r->garbage = r->rate_dropped = 0;
	hb_stream_init(&r->rx);
	hb_stream_set_max(&r->rx, GC_GUEST_PAYLOAD_MAX);
}

/* Take one token for a guest frame; 0 when the bucket is empty. */
static int rate_take(struct gc_rd *r, uint64_t now_ms)
{
	uint64_t cap = (uint64_t)r->burst * 1000u;

	if (now_ms > r->refill_ms) {
		r->tokens_milli += (now_ms - r->refill_ms) * r->rate_per_s;
		if (r->tokens_milli > cap)
			r->tokens_milli = cap;
	}
	r->refill_ms = now_ms;
	if (r->tokens_milli < 1000u)
		return 0;
	r->tokens_milli -= 1000u;
	return 1;
}

/* Hand @in over with the counters gathered since the last one. */
static int emit_in(struct gc_rd *r, struct gc_in *in, uint64_t now_ms, gc_emit_fn emit,
		   void *arg)
{
	in->rx_bytes = r->rx_bytes;
	in->garbage = r->garbage;
	in->rate_dropped = r->rate_dropped;
	r->rx_bytes = r->garbage = r->rate_dropped = 0;
	r->counts_ms = now_ms;
	return emit(arg, in);
}

int gc_rd_flush(struct gc_rd *r, uint64_t now_ms, gc_emit_fn emit, void *arg)
{
	struct gc_in in = { .kind = GC_IN_COUNTS };

	if (r->rx_bytes || r->garbage || r->rate_dropped)
		return emit_in(r, &in, now_ms, emit, arg);
	return 0;
}

/* One frame (or dropped frame, @rc < 0) out of the stream reader. */
static int one_frame(struct gc_rd *r, int rc, const struct hb_frame *f, uint64_t now_ms,
		     gc_emit_fn emit, void *arg)
{
	struct gc_in in = { .hdr = f->hdr };
	struct hb_msg m;
	int drc;

	if (!rate_take(r, now_ms)) {
		r->rate_dropped++;
		return 0;
	}
	if (rc < 0) {
		in.kind = GC_IN_BAD;
		in.rc = (int16_t)rc;
		return emit_in(r, &in, now_ms, emit, arg);
	}
	drc = hb_msg_decode(f, &m);
	if (drc < 0) {
		in.kind = GC_IN_MALFORMED;
		in.rc = (int16_t)drc;
	} else {
		in.kind = GC_IN_MSG;
		in.msg = &m;
	}
	return emit_in(r, &in, now_ms, emit, arg);
}

/* Every frame in the buffer; nonzero when emit said stop. */
static int drain(struct gc_rd *r, uint64_t now_ms, gc_emit_fn emit, void *arg)
{
	struct hb_frame f;

	for (;;) {
		size_t skipped = 0;
		int rc = hb_stream_next(&r->rx, &f, &skipped);

		r->garbage += skipped;
		if (rc == 0)
			return 0;
		if (one_frame(r, rc, &f, now_ms, emit, arg))
			return 1;
	}
}

int gc_rd_read(struct gc_rd *r, int fd, uint64_t now_ms, gc_emit_fn emit, void *arg)
{
	for (int i = 0; i < GC_READS_PER_CALL; i++) {
		size_t room;
		uint8_t *p = hb_stream_wptr(&r->rx, &room);
		ssize_t n;

		if (!room) {
			if (drain(r, now_ms, emit, arg))
				return -ENOTCONN;
			continue;
		}
		n = read(fd, p, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			struct gc_in in = { .kind = GC_IN_EOF, .rc = (int16_t)(n < 0 ? errno : 0) };

			(void)emit_in(r, &in, now_ms, emit, arg);
			return -ENOTCONN;
		}
		r->rx_bytes += (uint64_t)n;
		hb_stream_commit(&r->rx, (size_t)n);
		if (drain(r, now_ms, emit, arg))
			return -ENOTCONN;
	}
	if (now_ms >= r->counts_ms + GC_COUNTS_EVERY_MS &&
	    gc_rd_flush(r, now_ms, emit, arg))
		return -ENOTCONN;
	return 0;
}
