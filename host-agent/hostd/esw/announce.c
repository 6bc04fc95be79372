// SPDX-License-Identifier: LGPL-2.1-or-later
/* host-agent/hostd/esw/announce.c — RARP announce and tap queue sizing (see announce.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "announce.h"

#define ETH_P_RARP_ 0x8035

void announce_build_rarp(uint8_t f[ANNOUNCE_FRAME_LEN], const uint8_t mac[6])
{
	memset(f, 0, ANNOUNCE_FRAME_LEN);
	memset(f, 0xff, 6);                     /* broadcast */
	memcpy(f + 6, mac, 6);
	f[12] = ETH_P_RARP_ >> 8;
	f[13] = ETH_P_RARP_ & 0xff;
	f[14] = 0; f[15] = 1;                   /* htype ethernet */
	f[16] = 0x08; f[17] = 0x00;             /* ptype IPv4 */
	f[18] = 6; f[19] = 4;                   /* hlen, plen */
	f[20] = 0; f[21] = 3;                   /* op: reverse request */
	memcpy(f + 22, mac, 6);                 /* sha; spa 0 */
	memcpy(f + 32, mac, 6);                 /* tha; tpa 0 */
}

int announce_rarp(const char *ifname, const uint8_t mac[6], unsigned count, char *err, size_t errlen)
{
	struct announcer a;
	int rc;

	announcer_init(&a);
	rc = announcer_open(&a, ifname, mac, err, errlen);
	if (rc)
		return rc;
	rc = announcer_send(&a, count);
	if (rc)
		(void)snprintf(err, errlen, "announce: send on %s: %s", ifname, strerror(-rc));
	announcer_close(&a);
	return rc;
}

void announcer_init(struct announcer *a)
{
	memset(a, 0, sizeof(*a));
	a->fd = -1;
}

int announcer_open(struct announcer *a, const char *ifname, const uint8_t mac[6],
		   char *err, size_t errlen)
{
	struct sockaddr_ll sll;
	unsigned idx = if_nametoindex(ifname);
	int rc;

	announcer_close(a);
	if (!idx) {
		(void)snprintf(err, errlen, "announce: no link '%s' in this namespace (uplink = …)", ifname);
		return -ENODEV;
	}
	/* protocol 0: a send-only socket, nothing is queued to it for reading */
	a->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (a->fd < 0) {
		rc = -errno;
		(void)snprintf(err, errlen, "announce: AF_PACKET socket: %s (needs CAP_NET_RAW)",
			 strerror(errno));
		return rc;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = (int)idx;
	if (bind(a->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		rc = -errno;
		(void)snprintf(err, errlen, "announce: bind to %s: %s", ifname, strerror(errno));
		announcer_close(a);
		return rc;
	}
	a->ifindex = (int)idx;
	announce_build_rarp(a->frame, mac);
	return 0;
}

int announcer_send(struct announcer *a, unsigned count)
{
	struct sockaddr_ll sll;
	unsigned i;

	if (a->fd < 0)
		return -EBADF;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = a->ifindex;
	sll.sll_halen = 6;
	memset(sll.sll_addr, 0xff, 6);
	for (i = 0; i < count; i++)
		if (sendto(a->fd, a->frame, sizeof(a->frame), 0, (struct sockaddr *)&sll,
			   sizeof(sll)) < 0)
			return -errno;
	return 0;
}

void announcer_close(struct announcer *a)
{
	if (a->fd >= 0)
		(void)close(a->fd);
	a->fd = -1;
}

int link_set_txqlen(const char *ifname, uint32_t txqlen, char *err, size_t errlen)
{
	char buf[8192];
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	unsigned idx = if_nametoindex(ifname);
	uint32_t seq = (uint32_t)time(NULL), portid;
	int rc = 0;
	ssize_t n;

	if (!idx) {
		(void)snprintf(err, errlen, "txqueuelen: no link '%s' here", ifname);
		return -ENODEV;
	}
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		(void)snprintf(err, errlen, "txqueuelen: rtnetlink: %s", strerror(errno));
		if (nl)
			mnl_socket_close(nl);
		return rc;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = (int)idx;
	mnl_attr_put_u32(nlh, IFLA_TXQLEN, txqlen);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
	} else {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0 || mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL) < 0)
			rc = -errno;
	}
	if (rc)
		(void)snprintf(err, errlen, "ip link set dev %s txqueuelen %u: %s", ifname, txqlen,
			 strerror(-rc));
	mnl_socket_close(nl);
	return rc;
}
