/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/guest/gc_reader.h — the part of the guest channel that touches the
 * guest's bytes: read the socket, the stream reader (resynchronisation, bounded checksum
 * work), the token bucket, the validating decoder. What comes out is a gc_in: a decoded
 * message, a dropped or malformed frame's header, the end of the stream, and counters.
 *
 * hybond-hostd runs it in its guest sentry (sentry.c: an unprivileged, sandboxed child;
 * the daemon only sees gc_in, checked); hybond-guestctl and the unit tests run it in the
 * channel itself (guestchan.c, direct mode).
 */
#ifndef HYBOND_GC_READER_H
#define HYBOND_GC_READER_H

#include <stdint.h>

#include <hybond/proto.h>

/* Reads per gc_rd_read call: bounds the work one guest gets per loop turn. */
#define GC_READS_PER_CALL    4
/* The largest payload a guest sends: a STATUS of 8 pairs is ~1 KiB; bigger frames are
 * dropped from their header, never checksummed (proto/stream.c's work budget). */
#define GC_GUEST_PAYLOAD_MAX 16384u
/* Counters alone are handed over at most this often (they ride on every other gc_in). */
#define GC_COUNTS_EVERY_MS   100u

enum gc_in_kind {
	GC_IN_MSG = 1,          /* msg: a valid message (hdr: its header) */
	GC_IN_BAD,              /* a checksum-valid header whose frame cannot be used: rc */
	GC_IN_MALFORMED,        /* a frame that failed to decode: rc, hdr */
	GC_IN_EOF,              /* the guest side closed (rc 0) or a read failed (rc errno) */
	GC_IN_COUNTS,           /* only the counters below */
	GC_IN_KIND_MAX_,
};

struct gc_in {
	uint16_t kind;          /* enum gc_in_kind */
	int16_t rc;             /* BAD, MALFORMED: enum hb_err; EOF: errno or 0 */
	struct hb_hdr hdr;      /* MSG, BAD, MALFORMED */
	/* since the previous gc_in of this channel */
	uint64_t rx_bytes;      /* bytes read */
	uint64_t garbage;       /* bytes skipped by resynchronisation */
	uint64_t rate_dropped;  /* frames over the token bucket, dropped before decoding */
	const struct hb_msg *msg;       /* MSG; strings valid during the emit call only */
};

/* Returns nonzero when the channel went away meanwhile: the reader stops at once. */
typedef int (*gc_emit_fn)(void *arg, const struct gc_in *in);

struct gc_rd {
	uint32_t rate_per_s, burst;
	uint64_t tokens_milli, refill_ms;       /* token bucket, thousandths of a frame */
	uint64_t rx_bytes, garbage, rate_dropped; /* not handed over yet */
	uint64_t counts_ms;                     /* when counters alone were last handed over */
	struct hb_stream rx;
};

void gc_rd_init(struct gc_rd *r, uint32_t rate_per_s, uint32_t burst, uint64_t now_ms);
/* Read at most GC_READS_PER_CALL times, emit what came: 0, or -ENOTCONN after GC_IN_EOF
 * or when emit said stop. */
int gc_rd_read(struct gc_rd *r, int fd, uint64_t now_ms, gc_emit_fn emit, void *arg);
/* Hand over the counters not handed over yet (GC_IN_COUNTS), if any. */
int gc_rd_flush(struct gc_rd *r, uint64_t now_ms, gc_emit_fn emit, void *arg);

#endif
