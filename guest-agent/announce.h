/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* announce.h — gratuitous ARP and unsolicited IPv6 neighbour advertisements.
 *
 * Frame builders are pure (unit-tested); gd_announce_send() writes them out
 * of one interface through an AF_PACKET socket, so that the frames leave by
 * the path the switch must learn (the standby before migration, the VF after).
 */
#ifndef GD_ANNOUNCE_H
#define GD_ANNOUNCE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define GD_GARP_LEN 42   /* Ethernet + ARP */
#define GD_NA_LEN   86   /* Ethernet + IPv6 + NA + target link-layer option */

/* ARP request "who-has IP tell IP" from mac to broadcast (RFC 5227 announcement). */
size_t gd_build_garp(uint8_t *buf, const uint8_t mac[6], struct in_addr ip);
/* Unsolicited NA for ip to ff02::1, override flag, target link-layer address. */
size_t gd_build_na(uint8_t *buf, const uint8_t mac[6], const struct in6_addr *ip);

struct gd_addrs {
	struct in_addr v4[16];
	int n4;
	struct in6_addr v6[16];
	int n6;
};

/* Sends one GARP per IPv4 and one NA per IPv6 address out of ifindex.
 * Returns the number of frames sent, or -errno. */
int gd_announce_send(int ifindex, const uint8_t mac[6], const struct gd_addrs *ad);

#endif
