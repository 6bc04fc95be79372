// SPDX-License-Identifier: LGPL-2.1-or-later
/* announce.c — GARP / unsolicited NA frames and their transmission. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "announce.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

size_t gd_build_garp(uint8_t *buf, const uint8_t mac[6], struct in_addr ip)
{
	uint8_t *arp = buf + 14;

	memset(buf, 0, GD_GARP_LEN);
	memset(buf, 0xff, 6);                  /* broadcast */
	memcpy(buf + 6, mac, 6);
	put16(buf + 12, ETHERTYPE_ARP);
	put16(arp, 1);                         /* Ethernet */
	put16(arp + 2, ETHERTYPE_IP);
	arp[4] = 6;
	arp[5] = 4;
	put16(arp + 6, 1);                     /* request */
	memcpy(arp + 8, mac, 6);
	memcpy(arp + 14, &ip, 4);
	/* target hardware address stays zero */
	memcpy(arp + 24, &ip, 4);
	return GD_GARP_LEN;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)(p[n - 1] << 8);
	return sum;
}

size_t gd_build_na(uint8_t *buf, const uint8_t mac[6], const struct in6_addr *ip)
{
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 0x01 };
	static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	uint8_t *ip6 = buf + 14, *icmp = ip6 + 40;
	const size_t plen = 32;                /* NA 24 + option 8 */
	uint32_t sum;
	uint8_t pseudo[8] = { 0 };

	memset(buf, 0, GD_NA_LEN);
	memcpy(buf, all_nodes_mac, 6);
	memcpy(buf + 6, mac, 6);
	put16(buf + 12, ETHERTYPE_IPV6);
	ip6[0] = 0x60;
	put16(ip6 + 4, (uint16_t)plen);
	ip6[6] = IPPROTO_ICMPV6;
	ip6[7] = 255;                          /* hop limit: RFC 4861 */
	memcpy(ip6 + 8, ip, 16);               /* source: the address itself */
	memcpy(ip6 + 24, all_nodes, 16);
	icmp[0] = 136;                         /* neighbour advertisement */
	icmp[4] = 0x20;                        /* override; not solicited */
	memcpy(icmp + 8, ip, 16);
	icmp[24] = 2;                          /* target link-layer address */
	icmp[25] = 1;
	memcpy(icmp + 26, mac, 6);
	pseudo[2] = (uint8_t)(plen >> 8);
	pseudo[3] = (uint8_t)plen;
	pseudo[7] = IPPROTO_ICMPV6;
	sum = csum_add(0, ip6 + 8, 32);        /* source + destination */
	sum = csum_add(sum, pseudo, sizeof(pseudo));
	sum = csum_add(sum, icmp, plen);
	put16(icmp + 2, csum_fold(sum));
	return GD_NA_LEN;
}

int gd_announce_send(int ifindex, const uint8_t mac[6], const struct gd_addrs *ad)
{
	uint8_t frame[GD_NA_LEN];
	struct sockaddr_ll sll;
	int fd, i, sent = 0;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = ifindex;
	sll.sll_halen = 6;
	for (i = 0; i < ad->n4; i++) {
		size_t n = gd_build_garp(frame, mac, ad->v4[i]);

		sll.sll_protocol = htons(ETH_P_ARP);
		memset(sll.sll_addr, 0xff, 6);
		if (sendto(fd, frame, n, 0, (struct sockaddr *)&sll, sizeof(sll)) == (ssize_t)n)
			sent++;
	}
	for (i = 0; i < ad->n6; i++) {
		size_t n = gd_build_na(frame, mac, &ad->v6[i]);

		sll.sll_protocol = htons(ETH_P_IPV6);
		memcpy(sll.sll_addr, frame, 6);
		if (sendto(fd, frame, n, 0, (struct sockaddr *)&sll, sizeof(sll)) == (ssize_t)n)
			sent++;
	}
	(void)close(fd);
	return sent;
}
