/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* probe_wire.h — hybond-probe datagram format (UDP payload and ICMP echo data).
 *
 * All fields are big-endian. A request and its reply have the same length; the
 * responder copies any padding after the header unchanged.
 *
 *   off len field
 *    0   4  magic "HBPR" (0x48425052)
 *    4   1  version (1)
 *    5   1  type (HBP_T_*)
 *    6   2  reserved, 0
 *    8   8  session id (chosen at random by the client)
 *   16   8  request sequence number (0, 1, 2, ... per session)
 *   24   8  request send time, CLOCK_REALTIME nanoseconds
 *   32   8  responder's reply sequence number for the session (replies only)
 *   40   8  requests the responder has received for the session so far,
 *           this one included (replies only)
 */
#ifndef HYBOND_PROBE_WIRE_H
#define HYBOND_PROBE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define HBP_MAGIC    0x48425052u
#define HBP_VERSION  1u
#define HBP_HDR_LEN  48u
#define HBP_MAX_LEN  1472u   /* fits an Ethernet MTU in one IPv4 datagram */

enum hbp_type {
	HBP_T_REQ = 1,        /* request, counted by the responder */
	HBP_T_REPLY = 2,      /* reply to a request */
	HBP_T_STATS_REQ = 3,  /* "how many requests of my session did you get?" (not counted) */
	HBP_T_STATS_REPLY = 4,
};

struct hbp_pkt {
	uint8_t type;
	uint64_t session;
	uint64_t seq;
	int64_t send_ns;
	uint64_t reply_seq;
	uint64_t rx_count;
};

/* Writes the 48-byte header into buf (len >= HBP_HDR_LEN). */
void hbp_encode(uint8_t *buf, const struct hbp_pkt *p);

/* Parses and validates a datagram: length within [HBP_HDR_LEN, HBP_MAX_LEN],
 * magic, version, reserved bits and a known type. Returns 0 or -1. */
int hbp_decode(const uint8_t *buf, size_t len, struct hbp_pkt *p);

/* Responder side: turns a valid request in place into its reply. */
void hbp_make_reply(uint8_t *buf, uint8_t type, uint64_t reply_seq, uint64_t rx_count);

#endif
