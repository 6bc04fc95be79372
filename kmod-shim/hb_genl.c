// SPDX-License-Identifier: GPL-2.0
/*
 * hybond_shim: the "hybond" generic netlink family.
 *
 * Requests are validated strictly against hb_genl_policy (every command is
 * at or after resv_start_op) and need CAP_NET_ADMIN.  Events go to the
 * "events" multicast group of the netns the device lives in; joining that
 * group needs CAP_NET_ADMIN as well.
 */

#include <linux/rtnetlink.h>
#include <net/genetlink.h>

#include "hb_shim.h"

static struct genl_family hb_genl_family;

enum hb_mcgrp {
	HB_MCGRP_EVENTS,
};

static const struct genl_multicast_group hb_mcgrps[] = {
	[HB_MCGRP_EVENTS] = {
		.name = HYBOND_GENL_MCGRP_EVENTS,
		.flags = GENL_MCAST_CAP_NET_ADMIN,
	},
};

static const struct nla_policy hb_genl_policy[HYBOND_A_MAX + 1] = {
	[HYBOND_A_MASTER_IFINDEX] = NLA_POLICY_MIN(NLA_U32, 1),
};

static int hb_fill_info(struct sk_buff *skb, const struct hb_info *info)
{
	if (nla_put_u32(skb, HYBOND_A_MASTER_IFINDEX, info->master) ||
	    nla_put_u8(skb, HYBOND_A_KIND, info->kind) ||
	    nla_put_u32(skb, HYBOND_A_FLAGS, info->flags) ||
	    nla_put_u32(skb, HYBOND_A_TX_IFINDEX, info->tx))
		return -EMSGSIZE;
	if (info->standby &&
	    nla_put_u32(skb, HYBOND_A_STANDBY_IFINDEX, info->standby))
		return -EMSGSIZE;
	if (info->primary &&
	    (nla_put_u32(skb, HYBOND_A_IFINDEX, info->primary) ||
	     nla_put(skb, HYBOND_A_MAC, ETH_ALEN, info->mac) ||
	     nla_put_u32(skb, HYBOND_A_CARRIER_UPS, info->carrier_ups)))
		return -EMSGSIZE;
	return 0;
}

/**
 * hb_listening - does anyone listen to the events group in @net?
 * @net: the netns of a pair's devices
 *
 * The unplug barrier waits for a RELEASE only when someone could send one.
 */
bool hb_listening(struct net *net)
{
	return genl_has_listeners(&hb_genl_family, net, HB_MCGRP_EVENTS) > 0;
}

/**
 * hb_event - multicast one event about a pair
 * @net: the netns of the pair's devices
 * @cmd: HYBOND_CMD_PRIMARY_ARRIVING, _CARRIER_UP, _UNPLUG_STARTING, _DRAINED
 * @info: what to say
 * @gfp: allocation context of the caller
 *
 * Cheap when nobody listens: nothing is built then.
 */
void hb_event(struct net *net, u8 cmd, const struct hb_info *info, gfp_t gfp)
{
	struct sk_buff *skb;
	void *hdr;

	if (!genl_has_listeners(&hb_genl_family, net, HB_MCGRP_EVENTS))
		return;
	skb = genlmsg_new(NLMSG_GOODSIZE, gfp);
	if (!skb)
		return;
	hdr = genlmsg_put(skb, 0, 0, &hb_genl_family, 0, cmd);
	if (!hdr)
		goto err;
	if (hb_fill_info(skb, info))
		goto err;
	if (cmd == HYBOND_CMD_DRAINED &&
	    (nla_put_u32(skb, HYBOND_A_DRAIN_US, info->drain_us) ||
	     nla_put_u32(skb, HYBOND_A_BACKLOG_PKTS, info->backlog_pkts) ||
	     nla_put_u32(skb, HYBOND_A_BACKLOG_BYTES, info->backlog_bytes) ||
	     ((info->flags & HYBOND_F_RELEASED) &&
	      nla_put_u32(skb, HYBOND_A_RELEASE_US, info->release_us))))
		goto err;
	genlmsg_end(skb, hdr);
	genlmsg_multicast_netns(&hb_genl_family, net, skb, 0, HB_MCGRP_EVENTS,
				gfp);
	return;
err:
	nlmsg_free(skb);
}

static int hb_cmd_pin(struct sk_buff *skb, struct genl_info *info)
{
	int err;

	if (GENL_REQ_ATTR_CHECK(info, HYBOND_A_MASTER_IFINDEX))
		return -EINVAL;
	rtnl_lock();
	err = hb_pin(genl_info_net(info),
		     nla_get_u32(info->attrs[HYBOND_A_MASTER_IFINDEX]),
		     info->extack);
	rtnl_unlock();
	return err;
}

static int hb_cmd_unpin(struct sk_buff *skb, struct genl_info *info)
{
	int err;

	if (GENL_REQ_ATTR_CHECK(info, HYBOND_A_MASTER_IFINDEX))
		return -EINVAL;
	rtnl_lock();
	err = hb_unpin(genl_info_net(info),
		       nla_get_u32(info->attrs[HYBOND_A_MASTER_IFINDEX]),
		       info->extack);
	rtnl_unlock();
	return err;
}

/* The host moved RX of the pair's leaving primary: wake its barrier.  Only
 * a spinlock is taken (hb_release()), never rtnl: the barrier may hold the
 * device lock that an rtnl holder could be waiting for.
 */
static int hb_cmd_release(struct sk_buff *skb, struct genl_info *info)
{
	int err;

	if (GENL_REQ_ATTR_CHECK(info, HYBOND_A_MASTER_IFINDEX))
		return -EINVAL;
	err = hb_release(genl_info_net(info),
			 nla_get_u32(info->attrs[HYBOND_A_MASTER_IFINDEX]));
	if (err == -ENOENT)
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[HYBOND_A_MASTER_IFINDEX],
				    "no unplug barrier waits for this master");
	return err;
}

/* One HYBOND_A_PAIR nest per pair of the requester's netns (or only the one
 * of HYBOND_A_MASTER_IFINDEX).  A guest has a handful of pairs: one reply.
 */
static int hb_cmd_status(struct sk_buff *skb, struct genl_info *info)
{
	struct net *net = genl_info_net(info);
	int only = 0, err = -EMSGSIZE;
	struct net_device *dev;
	struct sk_buff *msg;
	struct hb_info pi;
	struct hb_pair p;
	struct nlattr *nest;
	void *hdr;

	if (info->attrs[HYBOND_A_MASTER_IFINDEX])
		only = nla_get_u32(info->attrs[HYBOND_A_MASTER_IFINDEX]);
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &hb_genl_family, 0, HYBOND_CMD_STATUS);
	if (!hdr)
		goto err;

	rcu_read_lock();
	for_each_netdev_rcu(net, dev) {
		if (only && dev->ifindex != only)
			continue;
		if (!hb_pair_of_master(dev, &p))
			continue;
		hb_pair_info(&p, &pi);
		nest = nla_nest_start(msg, HYBOND_A_PAIR);
		if (!nest || hb_fill_info(msg, &pi)) {
			rcu_read_unlock();
			goto err;
		}
		nla_nest_end(msg, nest);
	}
	rcu_read_unlock();

	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
err:
	nlmsg_free(msg);
	return err;
}

static const struct genl_small_ops hb_genl_ops[] = {
	{
		.cmd = HYBOND_CMD_PIN,
		.doit = hb_cmd_pin,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = HYBOND_CMD_UNPIN,
		.doit = hb_cmd_unpin,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = HYBOND_CMD_STATUS,
		.doit = hb_cmd_status,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = HYBOND_CMD_RELEASE,
		.doit = hb_cmd_release,
		.flags = GENL_ADMIN_PERM,
	},
};

static struct genl_family hb_genl_family __ro_after_init = {
	.name = HYBOND_GENL_NAME,
	.version = HYBOND_GENL_VERSION,
	.maxattr = HYBOND_A_MAX,
	.policy = hb_genl_policy,
	.netnsok = true,
	.module = THIS_MODULE,
	.small_ops = hb_genl_ops,
	.n_small_ops = ARRAY_SIZE(hb_genl_ops),
	/* 0: every command is strictly validated (reserved header field, flags, no
	 * unknown attributes), as new families should; PIN, UNPIN and STATUS were below
	 * the old value and escaped those checks
	 */
	.resv_start_op = 0,
	.mcgrps = hb_mcgrps,
	.n_mcgrps = ARRAY_SIZE(hb_mcgrps),
};

int hb_genl_init(void)
{
	return genl_register_family(&hb_genl_family);
}

void hb_genl_exit(void)
{
	genl_unregister_family(&hb_genl_family);
}
