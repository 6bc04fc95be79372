// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_guest_msgs.c — the exact bytes of the rtnetlink requests hybond-guestd
 * sends, against what iproute2 sends for the same commands (captured with
 * strace on the Debian 12 host: tests/data/netlink/tc-iproute2-host.strace,
 * ip-bond-host.strace; ifindex mst0=2, sb0=3), the GARP / NA frames, and the
 * parsing of the kernel shim's generic netlink messages (hand-built with
 * libmnl as hybond_shim.ko / nlctrl build them). */
#include "tests/unit/cu_run.h"
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>

#include "guest-agent/announce.h"
#include "guest-agent/nlbuild.h"
#include "guest-agent/shim.h"
#include "kmod-shim/hybond_genl.h"

/* Compares a built message with the expected bytes, ignoring nlmsg_seq. */
static void check(const struct nlmsghdr *nlh, const uint8_t *want, size_t len)
{
	uint8_t got[GD_NL_BUFSZ];

	CU_ASSERT_EQUAL_FATAL(nlh->nlmsg_len, len);
	memcpy(got, nlh, len);
	memset(got + 8, 0, 4);                  /* seq */
	CU_ASSERT_EQUAL(memcmp(got, want, len), 0);
}

#define LE32(v) (v) & 0xff, ((v) >> 8) & 0xff, ((v) >> 16) & 0xff, ((unsigned)(v) >> 24) & 0xff

static void test_clsact(void)
{
	uint8_t buf[GD_NL_BUFSZ];
	/* tc qdisc add dev sb0 clsact */
	static const uint8_t want[48] = {
		48, 0, 0, 0, 36, 0, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0,   /* RTM_NEWQDISC, REQ|ACK|EXCL|CREATE */
		0, 0, 0, 0, LE32(3), LE32(0xffff0000u), LE32(0xfffffff1u), LE32(0),
		11, 0, 1, 0, 'c', 'l', 's', 'a', 'c', 't', 0, 0,
	};

	check(gd_nl_clsact_add(buf, 1, 3), want, sizeof(want));
}

/* The TCA_OPTIONS attribute of the strace (56 bytes), with eaction and ifindex. */
#define MIRRED_OPTS(eaction, ifindex) \
	60, 0, 2, 0, 0x38, 0, 2, 0, 0x34, 0, 1, 0, 0x0b, 0, 1, 0, 'm', 'i', 'r', 'r', 'e', 'd', 0, 0, \
	0x24, 0, 2, 0x80, 0x20, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, \
	LE32(eaction), LE32(ifindex)

static void test_redirects(void)
{
	uint8_t buf[GD_NL_BUFSZ];
	/* tc filter add dev sb0 ingress pref 1 handle 1 matchall action mirred ingress redirect dev mst0 */
	static const uint8_t ingress[112] = {
		112, 0, 0, 0, 44, 0, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0,  /* RTM_NEWTFILTER */
		0, 0, 0, 0, LE32(3), LE32(1), LE32(0xfffffff2u), LE32(66304),
		13, 0, 1, 0, 'm', 'a', 't', 'c', 'h', 'a', 'l', 'l', 0, 0, 0, 0,
		MIRRED_OPTS(3, 2),
	};
	/* tc filter add dev mst0 egress protocol all pref 1 handle 1 matchall action mirred egress redirect dev sb0 */
	static const uint8_t egress[112] = {
		112, 0, 0, 0, 44, 0, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, LE32(2), LE32(1), LE32(0xfffffff3u), LE32(66304),
		13, 0, 1, 0, 'm', 'a', 't', 'c', 'h', 'a', 'l', 'l', 0, 0, 0, 0,
		MIRRED_OPTS(1, 3),
	};
	/* tc filter del dev mst0 egress pref 1 handle 1 matchall */
	static const uint8_t del[52] = {
		52, 0, 0, 0, 45, 0, 0x05, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,   /* RTM_DELTFILTER, REQ|ACK */
		0, 0, 0, 0, LE32(2), LE32(1), LE32(0xfffffff3u), LE32(65536),
		13, 0, 1, 0, 'm', 'a', 't', 'c', 'h', 'a', 'l', 'l', 0, 0, 0, 0,
	};

	check(gd_nl_redirect_add(buf, 1, 3, GD_TC_INGRESS, GD_TC_INGRESS, 2), ingress, sizeof(ingress));
	check(gd_nl_redirect_add(buf, 1, 2, GD_TC_EGRESS, GD_TC_EGRESS, 3), egress, sizeof(egress));
	check(gd_nl_redirect_del(buf, 1, 2, GD_TC_EGRESS), del, sizeof(del));
}

static void test_bond(void)
{
	uint8_t buf[GD_NL_BUFSZ];
	/* ip link set dev mst0 type bond active_slave sb0 */
	static const uint8_t active[56] = {
		56, 0, 0, 0, 16, 0, 0x05, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,  /* RTM_NEWLINK, REQ|ACK */
		0, 0, 0, 0, LE32(2), LE32(0), LE32(0),
		24, 0, 18, 0, 8, 0, 1, 0, 'b', 'o', 'n', 'd', 12, 0, 2, 0,
		8, 0, 2, 0, LE32(3),                                      /* IFLA_BOND_ACTIVE_SLAVE 3 */
	};
	/* ip link set dev mst0 type bond all_slaves_active 1 */
	static const uint8_t all_active[56] = {
		56, 0, 0, 0, 16, 0, 0x05, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, LE32(2), LE32(0), LE32(0),
		24, 0, 18, 0, 8, 0, 1, 0, 'b', 'o', 'n', 'd', 12, 0, 2, 0,
		5, 0, 17, 0, 1, 0, 0, 0,                                  /* IFLA_BOND_ALL_SLAVES_ACTIVE */
	};
	/* ip link set dev sb0 master mst0 */
	static const uint8_t master[40] = {
		40, 0, 0, 0, 16, 0, 0x05, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, LE32(3), LE32(0), LE32(0),
		8, 0, 10, 0, LE32(2),
	};

	check(gd_nl_bond_active(buf, 1, 2, 3), active, sizeof(active));
	check(gd_nl_bond_all_active(buf, 1, 2, 1), all_active, sizeof(all_active));
	check(gd_nl_set_master(buf, 1, 3, 2), master, sizeof(master));
}

static void test_garp_na(void)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x18, 0x00, 0x10 };
	uint8_t f[GD_NA_LEN];
	struct in_addr ip4;
	struct in6_addr ip6;

	CU_ASSERT_EQUAL(inet_pton(AF_INET, "198.18.0.10", &ip4), 1);
	CU_ASSERT_EQUAL(gd_build_garp(f, mac, ip4), 42);
	CU_ASSERT_EQUAL(memcmp(f, "\xff\xff\xff\xff\xff\xff\x52\x54\x00\x18\x00\x10\x08\x06", 14), 0);
	CU_ASSERT_EQUAL(memcmp(f + 14, "\x00\x01\x08\x00\x06\x04\x00\x01", 8), 0);
	CU_ASSERT_EQUAL(memcmp(f + 28, &ip4, 4), 0);      /* sender IP */
	CU_ASSERT_EQUAL(memcmp(f + 38, &ip4, 4), 0);      /* target IP: the same */

	CU_ASSERT_EQUAL(inet_pton(AF_INET6, "fe80::5054:ff:fe18:10", &ip6), 1);
	CU_ASSERT_EQUAL(gd_build_na(f, mac, &ip6), 86);
	CU_ASSERT_EQUAL(memcmp(f, "\x33\x33\x00\x00\x00\x01", 6), 0);
	CU_ASSERT_EQUAL(f[14 + 6], 58);                    /* ICMPv6 */
	CU_ASSERT_EQUAL(f[14 + 7], 255);
	CU_ASSERT_EQUAL(f[54], 136);                       /* NA */
	CU_ASSERT_EQUAL(f[58], 0x20);                      /* override */
	/* checksum computed independently (Python, RFC 4443 pseudo-header) */
	CU_ASSERT_EQUAL(f[56] << 8 | f[57], 0x6829);
}

/* Carry-over of the standby's IP configuration to a bond the agent created. */
static void test_carry_over(void)
{
	static uint8_t in[GD_NL_BUFSZ], out[GD_NL_BUFSZ];
	struct nlmsghdr *d, *m;
	struct ifaddrmsg *ifa;
	struct rtmsg *rt;
	const struct nlattr *at;
	uint32_t ip = htonl(0xc612000a), gw = htonl(0xc6120001);
	int label = 0, local = 0, oif = 0, gway = 0;

	/* a dumped address of eth0 (ifindex 2): 198.18.0.10/24, label eth0 */
	memset(in, 0, sizeof(in));
	d = mnl_nlmsg_put_header(in);
	d->nlmsg_type = RTM_NEWADDR;
	ifa = mnl_nlmsg_put_extra_header(d, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = 24;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = 2;
	mnl_attr_put_u32(d, IFA_ADDRESS, ip);
	mnl_attr_put_u32(d, IFA_LOCAL, ip);
	mnl_attr_put_strz(d, IFA_LABEL, "eth0");
	CU_ASSERT_TRUE(gd_nl_addr_carried(d, 2));
	CU_ASSERT_FALSE(gd_nl_addr_carried(d, 3));
	m = gd_nl_addr_copy(out, 9, d, RTM_NEWADDR, 5);
	CU_ASSERT_PTR_NOT_NULL(m);
	if (!m)
		return;
	CU_ASSERT_EQUAL(m->nlmsg_type, RTM_NEWADDR);
	CU_ASSERT_EQUAL(m->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
	ifa = mnl_nlmsg_get_payload(m);
	CU_ASSERT_EQUAL(ifa->ifa_index, 5);
	CU_ASSERT_EQUAL(ifa->ifa_prefixlen, 24);
	mnl_attr_for_each(at, m, sizeof(*ifa)) {
		label += mnl_attr_get_type(at) == IFA_LABEL;
		local += mnl_attr_get_type(at) == IFA_LOCAL && mnl_attr_get_u32(at) == ip;
	}
	CU_ASSERT_EQUAL(label, 0);
	CU_ASSERT_EQUAL(local, 1);
	ifa = mnl_nlmsg_get_payload(d);
	ifa->ifa_scope = RT_SCOPE_LINK;         /* link-local: not carried */
	CU_ASSERT_FALSE(gd_nl_addr_carried(d, 2));

	/* a dumped default route via 198.18.0.1 dev eth0, static */
	memset(in, 0, sizeof(in));
	d = mnl_nlmsg_put_header(in);
	d->nlmsg_type = RTM_NEWROUTE;
	rt = mnl_nlmsg_put_extra_header(d, sizeof(*rt));
	rt->rtm_family = AF_INET;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_BOOT;
	rt->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(d, RTA_TABLE, RT_TABLE_MAIN);
	mnl_attr_put_u32(d, RTA_GATEWAY, gw);
	mnl_attr_put_u32(d, RTA_OIF, 2);
	CU_ASSERT_TRUE(gd_nl_route_carried(d, 2));
	m = gd_nl_route_copy(out, 9, d, 5);
	CU_ASSERT_PTR_NOT_NULL(m);
	if (!m)
		return;
	mnl_attr_for_each(at, m, sizeof(*rt)) {
		oif += mnl_attr_get_type(at) == RTA_OIF && mnl_attr_get_u32(at) == 5;
		gway += mnl_attr_get_type(at) == RTA_GATEWAY && mnl_attr_get_u32(at) == gw;
	}
	CU_ASSERT_EQUAL(oif, 1);
	CU_ASSERT_EQUAL(gway, 1);
	rt->rtm_protocol = RTPROT_KERNEL;       /* the prefix route of an address */
	CU_ASSERT_FALSE(gd_nl_route_carried(d, 2));
}

/* ---- kernel shim (generic netlink) ------------------------------------------- */

/* CUnit's _FATAL longjmps, which the analyzer cannot see: return instead. */
#define REQUIRE(p) do { CU_ASSERT_PTR_NOT_NULL(p); if (!(p)) return; } while (0)

#define SHIM_FAMILY 0x1a        /* whatever nlctrl assigned */

static struct nlmsghdr *genl_start(void *buf, uint16_t type, uint8_t cmd)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));

	nlh->nlmsg_type = type;
	g->cmd = cmd;
	g->version = HYBOND_GENL_VERSION;
	return nlh;
}

/* An event as hb_genl.c fills it (pair attributes at the top level). */
static struct nlmsghdr *shim_event(void *buf, uint8_t cmd, uint32_t master, uint32_t vf)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x18, 0, 0x10 };
	struct nlmsghdr *nlh = genl_start(buf, SHIM_FAMILY, cmd);

	mnl_attr_put_u32(nlh, HYBOND_A_MASTER_IFINDEX, master);
	if (vf)
		mnl_attr_put_u32(nlh, HYBOND_A_IFINDEX, vf);
	mnl_attr_put_u32(nlh, HYBOND_A_STANDBY_IFINDEX, 3);
	mnl_attr_put(nlh, HYBOND_A_MAC, sizeof(mac), mac);
	mnl_attr_put_u8(nlh, HYBOND_A_KIND, HYBOND_KIND_FAILOVER);
	mnl_attr_put_u32(nlh, HYBOND_A_FLAGS, 0);
	mnl_attr_put_u32(nlh, HYBOND_A_TX_IFINDEX, 3);
	mnl_attr_put_u32(nlh, HYBOND_A_CARRIER_UPS, 1);
	return nlh;
}

static void test_shim_events(void)
{
	uint8_t buf[GD_NL_BUFSZ];
	struct gd_shim_ev ev;
	struct nlmsghdr *nlh;

	nlh = shim_event(buf, HYBOND_CMD_UNPLUG_STARTING, 2, 4);
	CU_ASSERT_EQUAL(gd_shim_parse(nlh, &ev), 1);
	CU_ASSERT_EQUAL(ev.cmd, HYBOND_CMD_UNPLUG_STARTING);
	CU_ASSERT_EQUAL(ev.master, 2);
	CU_ASSERT_EQUAL(ev.vf, 4);
	CU_ASSERT_EQUAL(ev.standby, 3);
	CU_ASSERT_EQUAL(ev.tx, 3);
	CU_ASSERT_EQUAL(ev.kind, HYBOND_KIND_FAILOVER);
	CU_ASSERT_FALSE(ev.has_drain);

	nlh = shim_event(buf, HYBOND_CMD_DRAINED, 2, 4);
	mnl_attr_put_u32(nlh, HYBOND_A_DRAIN_US, 706);
	mnl_attr_put_u32(nlh, HYBOND_A_BACKLOG_PKTS, 1);
	mnl_attr_put_u32(nlh, HYBOND_A_BACKLOG_BYTES, 1514);
	CU_ASSERT_EQUAL(gd_shim_parse(nlh, &ev), 1);
	CU_ASSERT_TRUE(ev.has_drain);
	CU_ASSERT_EQUAL(ev.drain_us, 706);
	CU_ASSERT_EQUAL(ev.backlog_pkts, 1);
	CU_ASSERT_EQUAL(ev.backlog_bytes, 1514);
	CU_ASSERT_FALSE(ev.has_release);

	/* DRAINED after a RELEASE: flag and time */
	nlh = shim_event(buf, HYBOND_CMD_DRAINED, 2, 4);
	mnl_attr_put_u32(nlh, HYBOND_A_DRAIN_US, 650);
	mnl_attr_put_u32(nlh, HYBOND_A_BACKLOG_PKTS, 0);
	mnl_attr_put_u32(nlh, HYBOND_A_BACKLOG_BYTES, 0);
	mnl_attr_put_u32(nlh, HYBOND_A_RELEASE_US, 41234);
	CU_ASSERT_EQUAL(gd_shim_parse(nlh, &ev), 1);
	CU_ASSERT_TRUE(ev.has_release);
	CU_ASSERT_EQUAL(ev.release_us, 41234);
	CU_ASSERT_EQUAL(ev.drain_us, 650);
	/* ... of the wrong size: the whole message is rejected */
	nlh = shim_event(buf, HYBOND_CMD_DRAINED, 2, 4);
	mnl_attr_put_u16(nlh, HYBOND_A_RELEASE_US, 7);
	CU_ASSERT_EQUAL(gd_shim_parse(nlh, &ev), -EINVAL);
	CU_ASSERT_FALSE(ev.has_release);

	/* RELEASE is a request, not an event */
	nlh = genl_start(buf, SHIM_FAMILY, HYBOND_CMD_RELEASE);
	mnl_attr_put_u32(nlh, HYBOND_A_MASTER_IFINDEX, 2);
	CU_ASSERT_EQUAL(gd_shim_parse(nlh, &ev), 0);

	/* a newer module's attribute (beyond HYBOND_A_MAX) is skipped */
	nlh = shim_event(buf, HYBOND_CMD_CARRIER_UP, 2, 5);
	mnl_attr_put_u64(nlh, HYBOND_A_MAX + 1, 42);
	CU_ASSERT_EQUAL(gd_shim_parse(nlh, &ev), 1);
	CU_ASSERT_EQUAL(ev.vf, 5);

	/* STATUS (a reply, not an event): not for the agent */
	nlh = genl_start(buf, SHIM_FAMILY, HYBOND_CMD_STATUS);
	CU_ASSERT_EQUAL(gd_shim_parse(nlh, &ev), 0);
}

static void test_shim_malformed(void)
{
	uint8_t buf[GD_NL_BUFSZ];
	struct gd_shim_ev ev;
	struct nlmsghdr *nlh;
	struct nlattr *at;

	/* shorter than nlmsghdr + genlmsghdr */
	nlh = shim_event(buf, HYBOND_CMD_UNPLUG_STARTING, 2, 4);
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 2;
	CU_ASSERT_EQUAL(gd_shim_parse(nlh, &ev), -EINVAL);
	/* no MASTER_IFINDEX */
	nlh = genl_start(buf, SHIM_FAMILY, HYBOND_CMD_UNPLUG_STARTING);
	mnl_attr_put_u32(nlh, HYBOND_A_IFINDEX, 4);
	CU_ASSERT_EQUAL(gd_shim_parse(nlh, &ev), -EINVAL);
	/* MASTER_IFINDEX 0 */
	nlh = shim_event(buf, HYBOND_CMD_UNPLUG_STARTING, 0, 4);
	CU_ASSERT_EQUAL(gd_shim_parse(nlh, &ev), -EINVAL);
	/* an ifindex of 2 bytes instead of 4 */
	nlh = genl_start(buf, SHIM_FAMILY, HYBOND_CMD_UNPLUG_STARTING);
	mnl_attr_put_u32(nlh, HYBOND_A_MASTER_IFINDEX, 2);
	mnl_attr_put_u16(nlh, HYBOND_A_IFINDEX, 4);
	CU_ASSERT_EQUAL(gd_shim_parse(nlh, &ev), -EINVAL);
	/* a MAC of 4 bytes */
	nlh = genl_start(buf, SHIM_FAMILY, HYBOND_CMD_UNPLUG_STARTING);
	mnl_attr_put_u32(nlh, HYBOND_A_MASTER_IFINDEX, 2);
	mnl_attr_put_u32(nlh, HYBOND_A_MAC, 0x00545200);
	CU_ASSERT_EQUAL(gd_shim_parse(nlh, &ev), -EINVAL);
	/* the message ends inside MASTER_IFINDEX: that attribute is not seen */
	nlh = genl_start(buf, SHIM_FAMILY, HYBOND_CMD_UNPLUG_STARTING);
	at = mnl_nlmsg_get_payload_tail(nlh);
	mnl_attr_put_u32(nlh, HYBOND_A_MASTER_IFINDEX, 2);
	nlh->nlmsg_len -= 2;
	CU_ASSERT_EQUAL(at->nla_len, 8);
	CU_ASSERT_EQUAL(gd_shim_parse(nlh, &ev), -EINVAL);
	/* an attribute claiming more than the message holds */
	nlh = shim_event(buf, HYBOND_CMD_UNPLUG_STARTING, 2, 4);
	at = mnl_nlmsg_get_payload_tail(nlh);
	mnl_attr_put_u32(nlh, HYBOND_A_DRAIN_US, 1);
	at->nla_len = 200;
	CU_ASSERT_EQUAL(gd_shim_parse(nlh, &ev), -EINVAL);
	/* ... or cut in the middle of the last one */
	nlh = shim_event(buf, HYBOND_CMD_UNPLUG_STARTING, 2, 4);
	nlh->nlmsg_len -= 2;
	CU_ASSERT_EQUAL(gd_shim_parse(nlh, &ev), -EINVAL);
	CU_ASSERT_EQUAL(ev.master, 0);          /* nothing of a rejected message */
}

/* nlctrl: the answer to GETFAMILY and the NEWFAMILY/DELFAMILY notifications
 * carry the same attributes (ctrl_fill_info()). */
static struct nlmsghdr *ctrl_family(void *buf, uint8_t cmd, const char *name, uint16_t id,
				    const char *grp, uint32_t grp_id)
{
	struct nlmsghdr *nlh = genl_start(buf, GENL_ID_CTRL, cmd);
	struct nlattr *groups, *g;

	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, name);
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, id);
	mnl_attr_put_u32(nlh, CTRL_ATTR_VERSION, 1);
	if (grp) {
		groups = mnl_attr_nest_start(nlh, CTRL_ATTR_MCAST_GROUPS);
		g = mnl_attr_nest_start(nlh, 1);
		mnl_attr_put_u32(nlh, CTRL_ATTR_MCAST_GRP_ID, grp_id);
		mnl_attr_put_strz(nlh, CTRL_ATTR_MCAST_GRP_NAME, grp);
		mnl_attr_nest_end(nlh, g);
		mnl_attr_nest_end(nlh, groups);
	}
	return nlh;
}

static void test_shim_ctrl(void)
{
	uint8_t buf[GD_NL_BUFSZ];
	struct gd_shim_family f;
	struct nlmsghdr *nlh;
	const struct genlmsghdr *g;

	/* the request: GETFAMILY "hybond", answered with an ACK */
	nlh = gd_shim_getfamily(buf, 9);
	g = mnl_nlmsg_get_payload(nlh);
	CU_ASSERT_EQUAL(nlh->nlmsg_type, GENL_ID_CTRL);
	CU_ASSERT_EQUAL(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	CU_ASSERT_EQUAL(nlh->nlmsg_seq, 9);
	CU_ASSERT_EQUAL(g->cmd, CTRL_CMD_GETFAMILY);
	CU_ASSERT_EQUAL(nlh->nlmsg_len, MNL_NLMSG_HDRLEN + 4 + MNL_ALIGN(4 + sizeof("hybond")));
	CU_ASSERT_STRING_EQUAL((const char *)mnl_nlmsg_get_payload_offset(nlh, 4) + 4, "hybond");

	nlh = ctrl_family(buf, CTRL_CMD_NEWFAMILY, "hybond", SHIM_FAMILY, "events", 9);
	CU_ASSERT_EQUAL(gd_shim_parse_ctrl(nlh, &f), 1);
	CU_ASSERT_EQUAL(f.cmd, CTRL_CMD_NEWFAMILY);
	CU_ASSERT_EQUAL(f.id, SHIM_FAMILY);
	CU_ASSERT_EQUAL(f.events_grp, 9);
	/* another group name: no events group */
	nlh = ctrl_family(buf, CTRL_CMD_NEWFAMILY, "hybond", SHIM_FAMILY, "other", 9);
	CU_ASSERT_EQUAL(gd_shim_parse_ctrl(nlh, &f), 1);
	CU_ASSERT_EQUAL(f.events_grp, 0);
	/* DELFAMILY, no groups */
	nlh = ctrl_family(buf, CTRL_CMD_DELFAMILY, "hybond", SHIM_FAMILY, NULL, 0);
	CU_ASSERT_EQUAL(gd_shim_parse_ctrl(nlh, &f), 1);
	CU_ASSERT_EQUAL(f.cmd, CTRL_CMD_DELFAMILY);
	/* another family's notification */
	nlh = ctrl_family(buf, CTRL_CMD_NEWFAMILY, "hybondx", 0x20, "events", 10);
	CU_ASSERT_EQUAL(gd_shim_parse_ctrl(nlh, &f), 0);
	/* malformed: a 1-byte family id, a group id of 2 bytes, too short */
	nlh = genl_start(buf, GENL_ID_CTRL, CTRL_CMD_NEWFAMILY);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, "hybond");
	mnl_attr_put_u8(nlh, CTRL_ATTR_FAMILY_ID, 1);
	CU_ASSERT_EQUAL(gd_shim_parse_ctrl(nlh, &f), -EINVAL);
	nlh = ctrl_family(buf, CTRL_CMD_NEWFAMILY, "hybond", SHIM_FAMILY, NULL, 0);
	{
		struct nlattr *groups = mnl_attr_nest_start(nlh, CTRL_ATTR_MCAST_GROUPS);
		struct nlattr *gr = mnl_attr_nest_start(nlh, 1);

		mnl_attr_put_u16(nlh, CTRL_ATTR_MCAST_GRP_ID, 9);
		mnl_attr_nest_end(nlh, gr);
		mnl_attr_nest_end(nlh, groups);
	}
	CU_ASSERT_EQUAL(gd_shim_parse_ctrl(nlh, &f), -EINVAL);
	nlh = ctrl_family(buf, CTRL_CMD_NEWFAMILY, "hybond", SHIM_FAMILY, "events", 9);
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 3;
	CU_ASSERT_EQUAL(gd_shim_parse_ctrl(nlh, &f), -EINVAL);
	/* no family id at all */
	nlh = genl_start(buf, GENL_ID_CTRL, CTRL_CMD_NEWFAMILY);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, "hybond");
	CU_ASSERT_EQUAL(gd_shim_parse_ctrl(nlh, &f), -EINVAL);
}

/* HYBOND_CMD_RELEASE as hb_genl.c's policy wants it: one u32 MASTER_IFINDEX. */
static void test_shim_release_msg(void)
{
	uint8_t buf[GD_NL_BUFSZ];
	const struct genlmsghdr *g;
	const struct nlattr *a;
	struct nlmsghdr *nlh;
	int n = 0;

	nlh = gd_shim_release_msg(buf, SHIM_FAMILY, 17, 2);
	REQUIRE(nlh);
	g = mnl_nlmsg_get_payload(nlh);
	CU_ASSERT_EQUAL(nlh->nlmsg_type, SHIM_FAMILY);
	CU_ASSERT_EQUAL(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	CU_ASSERT_EQUAL(nlh->nlmsg_seq, 17);
	CU_ASSERT_EQUAL(g->cmd, HYBOND_CMD_RELEASE);
	CU_ASSERT_EQUAL(g->version, HYBOND_GENL_VERSION);
	CU_ASSERT_EQUAL(nlh->nlmsg_len, MNL_NLMSG_HDRLEN + 4 + 8);
	mnl_attr_for_each(a, nlh, sizeof(*g)) {
		CU_ASSERT_EQUAL(mnl_attr_get_type(a), HYBOND_A_MASTER_IFINDEX);
		CU_ASSERT_EQUAL(mnl_attr_validate(a, MNL_TYPE_U32), 0);
		CU_ASSERT_EQUAL(mnl_attr_get_u32(a), 2);
		n++;
	}
	CU_ASSERT_EQUAL(n, 1);
	/* family unknown (module not loaded) or no master: nothing to send */
	CU_ASSERT_PTR_NULL(gd_shim_release_msg(buf, 0, 18, 2));
	CU_ASSERT_PTR_NULL(gd_shim_release_msg(buf, SHIM_FAMILY, 18, 0));
	CU_ASSERT_PTR_NULL(gd_shim_release_msg(buf, SHIM_FAMILY, 18, -1));
	CU_ASSERT_STRING_EQUAL(gd_shim_cmd_name(HYBOND_CMD_RELEASE), "RELEASE");
}

static CU_TestInfo tests[] = {
	{ "clsact", test_clsact },
	{ "matchall mirred redirects", test_redirects },
	{ "bond", test_bond },
	{ "garp and na", test_garp_na },
	{ "address and route carry-over", test_carry_over },
	{ "kernel shim events", test_shim_events },
	{ "kernel shim: malformed events", test_shim_malformed },
	{ "kernel shim: nlctrl", test_shim_ctrl },
	{ "kernel shim: RELEASE request", test_shim_release_msg },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_SuiteInfo suites[] = {
		{ "guest_msgs", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return hb_cu_run(suites);
}
