/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/fuzz/fuzz_decode.c — libFuzzer target for the frame and message
 * decoder.
 *
 * The input is a frame.  It is decoded as is (exercising the header
 * checks), then again with its checksums repaired, so that mutations reach
 * the attribute validator instead of dying at the CRC.  Whatever decodes
 * must re-encode, and the re-encoding must decode to the same bytes again
 * (decode and encode agree on the format).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hybond/proto.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t work[HB_FRAME_MAX + 64];
static uint8_t enc1[HB_FRAME_MAX], enc2[HB_FRAME_MAX];

static void check_roundtrip(const struct hb_msg *m)
{
	struct hb_msg m2;
	int n1, n2;

	n1 = hb_encode(enc1, sizeof(enc1), m);
	if (n1 < 0)
		abort();        /* the decoder accepted what the encoder refuses */
	if (hb_decode(enc1, (size_t)n1, &m2) != n1)
		abort();
	n2 = hb_encode(enc2, sizeof(enc2), &m2);
	if (n2 != n1 || memcmp(enc1, enc2, (size_t)n1) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hb_msg m;
	struct hb_hdr h;
	size_t plen;

	if (hb_decode(data, size, &m) > 0)
		check_roundtrip(&m);

	/* Repair the checksums (and a bad major) and decode again. */
	if (size < HB_HDR_LEN || size > sizeof(work))
		return 0;
	memcpy(work, data, size);
	memcpy(work, "HYBN", 4);
	plen = size - HB_HDR_LEN;
	memset(&h, 0, sizeof(h));
	h.major = HB_VERSION_MAJOR;
	h.minor = work[5];
	h.type = (uint16_t)(work[6] | work[7] << 8);
	h.flags = (uint16_t)(work[8] | work[9] << 8);
	h.seq = (uint32_t)work[12] | (uint32_t)work[13] << 8;
	h.len = (uint32_t)(work[16] | work[17] << 8);
	if (h.len > plen)
		h.len = (uint32_t)plen;
	h.payload_crc = hb_crc32(work + HB_HDR_LEN, h.len);
	hb_hdr_encode(work, &h);
	if (hb_decode(work, size, &m) > 0)
		check_roundtrip(&m);
	return 0;
}
