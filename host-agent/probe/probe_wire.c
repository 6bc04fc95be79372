// SPDX-License-Identifier: LGPL-2.1-or-later
/* probe_wire.c — encode/decode of the hybond-probe datagram (see probe_wire.h). */
#include "probe_wire.h"

static void put_u64(uint8_t *b, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		b[i] = (uint8_t)(v & 0xffu);
		v >>= 8;
	}
}

static uint64_t get_u64(const uint8_t *b)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | b[i];
	return v;
}

void hbp_encode(uint8_t *buf, const struct hbp_pkt *p)
{
	buf[0] = (uint8_t)(HBP_MAGIC >> 24);
	buf[1] = (uint8_t)(HBP_MAGIC >> 16);
	buf[2] = (uint8_t)(HBP_MAGIC >> 8);
	buf[3] = (uint8_t)HBP_MAGIC;
	buf[4] = HBP_VERSION;
	buf[5] = p->type;
	buf[6] = 0;
	buf[7] = 0;
	put_u64(buf + 8, p->session);
	put_u64(buf + 16, p->seq);
	put_u64(buf + 24, (uint64_t)p->send_ns);
	put_u64(buf + 32, p->reply_seq);
	put_u64(buf + 40, p->rx_count);
}

int hbp_decode(const uint8_t *buf, size_t len, struct hbp_pkt *p)
{
	if (len < HBP_HDR_LEN || len > HBP_MAX_LEN)
		return -1;
	uint32_t magic = ((uint32_t)buf[0] << 24) | ((uint32_t)buf[1] << 16) |
			 ((uint32_t)buf[2] << 8) | buf[3];
	if (magic != HBP_MAGIC || buf[4] != HBP_VERSION || buf[6] != 0 || buf[7] != 0)
		return -1;
	if (buf[5] < HBP_T_REQ || buf[5] > HBP_T_STATS_REPLY)
		return -1;
	p->type = buf[5];
	p->session = get_u64(buf + 8);
	p->seq = get_u64(buf + 16);
	p->send_ns = (int64_t)get_u64(buf + 24);
	p->reply_seq = get_u64(buf + 32);
	p->rx_count = get_u64(buf + 40);
	return 0;
}

void hbp_make_reply(uint8_t *buf, uint8_t type, uint64_t reply_seq, uint64_t rx_count)
{
	buf[5] = type;
	put_u64(buf + 32, reply_seq);
	put_u64(buf + 40, rx_count);
}
