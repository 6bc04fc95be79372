// SPDX-License-Identifier: LGPL-2.1-or-later
/* nlbuild.c — rtnetlink requests for tc (clsact + matchall/mirred) and bonding.
 *
 * The layouts follow what iproute2 sends for the same commands, byte for byte
 * (captured with strace: tests/data/netlink/tc-iproute2-host.strace and
 * ip-bond-host.strace), including its habit of not setting NLA_F_NESTED on
 * TCA_OPTIONS, TCA_MATCHALL_ACT, the action slot, IFLA_LINKINFO and
 * IFLA_INFO_DATA (the kernel parses them as nests either way).
 */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>

#include "nlbuild.h"

/* tc's clsact parent handles (include/uapi/linux/pkt_sched.h). */
#define CLSACT_HANDLE  TC_H_MAKE(TC_H_CLSACT, 0)
#define HOOK_PARENT(h) TC_H_MAKE(TC_H_CLSACT, (h) == GD_TC_INGRESS ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS)
#define BOND_MODE_ACTIVEBACKUP 1

static struct nlmsghdr *msg_start(void *buf, uint32_t seq, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh;

	memset(buf, 0, GD_NL_BUFSZ);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = seq;
	return nlh;
}

/* A nest without NLA_F_NESTED, as iproute2's addattr_nest() makes it. */
static struct nlattr *nest_plain(struct nlmsghdr *nlh, uint16_t type)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, type);

	n->nla_type = type;
	return n;
}

static struct tcmsg *tc_start(struct nlmsghdr *nlh, int ifindex, uint32_t handle,
			      uint32_t parent, uint32_t info)
{
	struct tcmsg *t = mnl_nlmsg_put_extra_header(nlh, sizeof(*t));

	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = ifindex;
	t->tcm_handle = handle;
	t->tcm_parent = parent;
	t->tcm_info = info;
	return t;
}

struct nlmsghdr *gd_nl_clsact_add(void *buf, uint32_t seq, int ifindex)
{
	struct nlmsghdr *nlh = msg_start(buf, seq, RTM_NEWQDISC,
					 NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE);

	tc_start(nlh, ifindex, CLSACT_HANDLE, TC_H_CLSACT, 0);
	mnl_attr_put_strz(nlh, TCA_KIND, "clsact");
	return nlh;
}

struct nlmsghdr *gd_nl_redirect_add(void *buf, uint32_t seq, int ifindex, enum gd_tc_dir hook,
				    enum gd_tc_dir to_dir, int to_ifindex)
{
	struct nlmsghdr *nlh = msg_start(buf, seq, RTM_NEWTFILTER,
					 NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE);
	struct nlattr *opts, *acts, *act, *aopts;
	struct tc_mirred parms;

	tc_start(nlh, ifindex, GD_TC_HANDLE, HOOK_PARENT(hook),
		 TC_H_MAKE(GD_TC_PRIO << 16, htons(ETH_P_ALL)));
	mnl_attr_put_strz(nlh, TCA_KIND, "matchall");
	opts = nest_plain(nlh, TCA_OPTIONS);
	acts = nest_plain(nlh, TCA_MATCHALL_ACT);
	act = nest_plain(nlh, 1);       /* action order 1 */
	mnl_attr_put_strz(nlh, TCA_ACT_KIND, "mirred");
	aopts = mnl_attr_nest_start(nlh, TCA_ACT_OPTIONS);
	memset(&parms, 0, sizeof(parms));
	parms.action = TC_ACT_STOLEN;   /* redirect consumes the packet */
	parms.eaction = to_dir == GD_TC_INGRESS ? TCA_INGRESS_REDIR : TCA_EGRESS_REDIR;
	parms.ifindex = (uint32_t)to_ifindex;
	mnl_attr_put(nlh, TCA_MIRRED_PARMS, sizeof(parms), &parms);
	mnl_attr_nest_end(nlh, aopts);
	mnl_attr_nest_end(nlh, act);
	mnl_attr_nest_end(nlh, acts);
	mnl_attr_nest_end(nlh, opts);
	return nlh;
}

struct nlmsghdr *gd_nl_redirect_del(void *buf, uint32_t seq, int ifindex, enum gd_tc_dir hook)
{
	struct nlmsghdr *nlh = msg_start(buf, seq, RTM_DELTFILTER, NLM_F_REQUEST | NLM_F_ACK);

	tc_start(nlh, ifindex, GD_TC_HANDLE, HOOK_PARENT(hook), TC_H_MAKE(GD_TC_PRIO << 16, 0));
	mnl_attr_put_strz(nlh, TCA_KIND, "matchall");
	return nlh;
}

struct nlmsghdr *gd_nl_filter_dump(void *buf, uint32_t seq, int ifindex, enum gd_tc_dir hook)
{
	struct nlmsghdr *nlh = msg_start(buf, seq, RTM_GETTFILTER, NLM_F_REQUEST | NLM_F_DUMP);

	tc_start(nlh, ifindex, 0, HOOK_PARENT(hook), 0);
	return nlh;
}

static struct nlmsghdr *link_start(void *buf, uint32_t seq, int ifindex, uint16_t flags)
{
	struct nlmsghdr *nlh = msg_start(buf, seq, RTM_NEWLINK, flags);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return nlh;
}

/* IFLA_LINKINFO { IFLA_INFO_KIND "bond", IFLA_INFO_DATA { <one attribute> } } */
static struct nlmsghdr *bond_opt(void *buf, uint32_t seq, int bond, uint16_t type,
				 const void *val, size_t len)
{
	struct nlmsghdr *nlh = link_start(buf, seq, bond, NLM_F_REQUEST | NLM_F_ACK);
	struct nlattr *li = nest_plain(nlh, IFLA_LINKINFO);
	struct nlattr *data;

	mnl_attr_put(nlh, IFLA_INFO_KIND, 4, "bond"); /* iproute2: no NUL */
	data = nest_plain(nlh, IFLA_INFO_DATA);
	mnl_attr_put(nlh, type, len, val);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, li);
	return nlh;
}

struct nlmsghdr *gd_nl_bond_active(void *buf, uint32_t seq, int bond, int slave)
{
	uint32_t v = (uint32_t)slave;

	return bond_opt(buf, seq, bond, IFLA_BOND_ACTIVE_SLAVE, &v, sizeof(v));
}

struct nlmsghdr *gd_nl_bond_primary(void *buf, uint32_t seq, int bond, int slave)
{
	uint32_t v = (uint32_t)slave;

	return bond_opt(buf, seq, bond, IFLA_BOND_PRIMARY, &v, sizeof(v));
}

struct nlmsghdr *gd_nl_bond_all_active(void *buf, uint32_t seq, int bond, uint8_t v)
{
	return bond_opt(buf, seq, bond, IFLA_BOND_ALL_SLAVES_ACTIVE, &v, sizeof(v));
}

struct nlmsghdr *gd_nl_bond_create(void *buf, uint32_t seq, const char *name, uint32_t miimon)
{
	struct nlmsghdr *nlh = link_start(buf, seq, 0,
					  NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
	struct nlattr *li, *data;

	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	li = nest_plain(nlh, IFLA_LINKINFO);
	mnl_attr_put(nlh, IFLA_INFO_KIND, 4, "bond");
	data = nest_plain(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u8(nlh, IFLA_BOND_MODE, BOND_MODE_ACTIVEBACKUP);
	mnl_attr_put_u32(nlh, IFLA_BOND_MIIMON, miimon);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, li);
	return nlh;
}

struct nlmsghdr *gd_nl_set_master(void *buf, uint32_t seq, int ifindex, int master)
{
	struct nlmsghdr *nlh = link_start(buf, seq, ifindex, NLM_F_REQUEST | NLM_F_ACK);

	mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
	return nlh;
}

struct nlmsghdr *gd_nl_set_up(void *buf, uint32_t seq, int ifindex, int up)
{
	struct nlmsghdr *nlh = link_start(buf, seq, ifindex, NLM_F_REQUEST | NLM_F_ACK);
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	return nlh;
}

struct nlmsghdr *gd_nl_dump(void *buf, uint32_t seq, uint16_t type)
{
	struct nlmsghdr *nlh = msg_start(buf, seq, type, NLM_F_REQUEST | NLM_F_DUMP);

	if (type == RTM_GETADDR) {
		struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

		ifa->ifa_family = AF_UNSPEC;
	} else if (type == RTM_GETQDISC) {
		(void)mnl_nlmsg_put_extra_header(nlh, sizeof(struct tcmsg));
	} else {
		struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

		ifi->ifi_family = AF_UNSPEC;
	}
	return nlh;
}

/* ---- address / route carry-over -------------------------------------------- */

/* Copies the attributes of a dumped message after its family header into nlh,
 * skipping SKIP1/SKIP2 and replacing the u32 attribute REPL (if >= 0) by val. */
static void copy_attrs(struct nlmsghdr *nlh, const struct nlmsghdr *src, size_t hdrlen,
		       int skip1, int skip2, int repl, uint32_t val)
{
	const struct nlattr *at;

	mnl_attr_for_each(at, src, hdrlen) {
		uint16_t t = mnl_attr_get_type(at);

		if (t == skip1 || t == skip2)
			continue;
		if ((int)t == repl) {
			mnl_attr_put_u32(nlh, t, val);
			continue;
		}
		if (nlh->nlmsg_len + MNL_ALIGN(at->nla_len) > GD_NL_BUFSZ)
			break;
		mnl_attr_put(nlh, at->nla_type, mnl_attr_get_payload_len(at),
			     mnl_attr_get_payload(at));
	}
}

struct nlmsghdr *gd_nl_addr_copy(void *buf, uint32_t seq, const struct nlmsghdr *dumped,
				 uint16_t type, int to_ifindex)
{
	const struct ifaddrmsg *src = mnl_nlmsg_get_payload(dumped);
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;

	if (dumped->nlmsg_type != RTM_NEWADDR ||
	    dumped->nlmsg_len < NLMSG_LENGTH(sizeof(*src)) ||
	    dumped->nlmsg_len > GD_NL_BUFSZ)
		return NULL;
	nlh = msg_start(buf, seq, type, type == RTM_NEWADDR ?
			NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL :
			NLM_F_REQUEST | NLM_F_ACK);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	*ifa = *src;
	ifa->ifa_index = (uint32_t)to_ifindex;
	/* lifetimes (IFA_CACHEINFO) only matter when adding */
	copy_attrs(nlh, dumped, sizeof(*src), IFA_LABEL,
		   type == RTM_NEWADDR ? -1 : IFA_CACHEINFO, -1, 0);
	return nlh;
}

static const struct nlattr *find_attr(const struct nlmsghdr *nlh, size_t hdrlen, uint16_t type)
{
	const struct nlattr *at;

	mnl_attr_for_each(at, nlh, hdrlen)
		if (mnl_attr_get_type(at) == type)
			return at;
	return NULL;
}

struct nlmsghdr *gd_nl_route_copy(void *buf, uint32_t seq, const struct nlmsghdr *dumped,
				  int to_ifindex)
{
	const struct rtmsg *src = mnl_nlmsg_get_payload(dumped);
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	if (dumped->nlmsg_type != RTM_NEWROUTE ||
	    dumped->nlmsg_len < NLMSG_LENGTH(sizeof(*src)) ||
	    dumped->nlmsg_len > GD_NL_BUFSZ ||
	    !find_attr(dumped, sizeof(*src), RTA_OIF) ||
	    find_attr(dumped, sizeof(*src), RTA_MULTIPATH))
		return NULL;
	nlh = msg_start(buf, seq, RTM_NEWROUTE,
			NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	*rtm = *src;
	rtm->rtm_flags &= ~(unsigned int)(RTNH_F_LINKDOWN | RTNH_F_DEAD);
	copy_attrs(nlh, dumped, sizeof(*src), RTA_CACHEINFO, -1, RTA_OIF, (uint32_t)to_ifindex);
	return nlh;
}

int gd_nl_addr_carried(const struct nlmsghdr *nlh, int ifindex)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);

	return nlh->nlmsg_type == RTM_NEWADDR && nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(*ifa)) &&
	       (int)ifa->ifa_index == ifindex &&
	       (ifa->ifa_family == AF_INET || ifa->ifa_family == AF_INET6) &&
	       ifa->ifa_scope < RT_SCOPE_LINK;
}

int gd_nl_route_carried(const struct nlmsghdr *nlh, int ifindex)
{
	const struct rtmsg *r = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *oif, *tab;
	uint32_t table;

	if (nlh->nlmsg_type != RTM_NEWROUTE || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*r)))
		return 0;
	oif = find_attr(nlh, sizeof(*r), RTA_OIF);
	tab = find_attr(nlh, sizeof(*r), RTA_TABLE);
	table = tab ? mnl_attr_get_u32(tab) : r->rtm_table;
	return oif && (int)mnl_attr_get_u32(oif) == ifindex &&
	       (r->rtm_family == AF_INET || r->rtm_family == AF_INET6) &&
	       table != RT_TABLE_LOCAL && r->rtm_type == RTN_UNICAST &&
	       r->rtm_protocol != RTPROT_KERNEL && !(r->rtm_flags & RTM_F_CLONED);
}

struct nlmsghdr *gd_nl_route_dump(void *buf, uint32_t seq)
{
	struct nlmsghdr *nlh = msg_start(buf, seq, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

	rtm->rtm_family = AF_UNSPEC;
	return nlh;
}
