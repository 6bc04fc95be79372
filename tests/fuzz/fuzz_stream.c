/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/fuzz/fuzz_stream.c — libFuzzer target for the stream reader.
 *
 * The input is a byte stream, fed in chunks whose sizes come from a small
 * PRNG seeded by the input (so one input always takes the same path).
 * Invariants: every delivered frame is a valid frame (hb_frame_parse
 * agrees), every byte fed is accounted for as delivered, skipped or still
 * buffered, and the reader always accepts more bytes after it asked for
 * them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hybond/proto.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct hb_stream s;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seed = 2166136261u;
	uint64_t delivered = 0;
	size_t i, off = 0;

	for (i = 0; i < size && i < 16; i++)
		seed = (seed ^ data[i]) * 16777619u;
	hb_stream_init(&s);
	while (off < size) {
		size_t chunk, took;

		seed = seed * 1103515245u + 12345u;
		chunk = 1 + (seed >> 8) % ((seed & 1) ? 7 : 4096);
		if (chunk > size - off)
			chunk = size - off;
		took = hb_stream_feed(&s, data + off, chunk);
		if (took == 0)
			abort();        /* must always progress after next() == 0 */
		off += took;
		for (;;) {
			struct hb_frame f;
			struct hb_msg m;
			int rc = hb_stream_next(&s, &f, NULL);

			if (rc == 0)
				break;
			if (rc < 0) {
				if (f.payload)
					abort();
				continue;
			}
			if (hb_frame_parse(f.payload - HB_HDR_LEN,
					   HB_HDR_LEN + f.payload_len, &f) < 0)
				abort();
			delivered += HB_HDR_LEN + f.payload_len;
			(void)hb_msg_decode(&f, &m);
		}
	}
	if (delivered + s.skipped + (s.end - s.start) != size)
		abort();
	return 0;
}
