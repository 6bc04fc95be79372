/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hybond_shim internals: what the three files of the module share.
 *
 *   hb_main.c  module init/exit, parameters, the PCI bus notifier (the
 *              unplug barrier) and the netdev notifier (events, re-pin)
 *   hb_pair.c  pairs (net_failover or active-backup bond over a standby and
 *              a PCI primary), TX pin/unpin, the TX backlog of a device
 *   hb_genl.c  the "hybond" generic netlink family: commands and events
 */
#ifndef _HB_SHIM_H
#define _HB_SHIM_H

#include <linux/etherdevice.h>
#include <linux/netdevice.h>
#include <linux/netlink.h>

#include "hybond_genl.h"

/* A pair as seen at one instant.  No references are held: the pointers are
 * valid under the RCU read lock or rtnl that the caller held for the lookup.
 */
struct hb_pair {
	enum hybond_kind kind;
	struct net_device *master;
	struct net_device *standby;	/* NULL if none */
	struct net_device *primary;	/* NULL if none */
};

/* What an event or a STATUS entry says about a pair: plain values, so it can
 * be sent after the RCU section that produced it.
 */
struct hb_info {
	u8 kind;
	int master;
	int primary;
	int standby;
	int tx;
	u8 mac[ETH_ALEN];
	u32 flags;
	u32 carrier_ups;
	/* DRAINED only */
	u32 drain_us;
	u32 backlog_pkts;
	u32 backlog_bytes;
	u32 release_us;		/* with HYBOND_F_RELEASED */
};

/* hb_pair.c; callers hold rcu_read_lock() (and may hold rtnl as well) */
bool hb_pair_of_master(struct net_device *master, struct hb_pair *p);
bool hb_pair_of_slave(struct net_device *dev, struct hb_pair *p);
struct net_device *hb_pair_tx_dev(const struct hb_pair *p);
void hb_pair_info(const struct hb_pair *p, struct hb_info *info);
u32 hb_tx_backlog(struct net_device *dev, u32 *bytes);

/* hb_pair.c; callers hold rtnl */
int hb_pin(struct net *net, int master_ifindex, struct netlink_ext_ack *extack);
int hb_unpin(struct net *net, int master_ifindex, struct netlink_ext_ack *extack);
bool hb_pinned(struct net_device *master);
void hb_pin_forget(struct net_device *master);
bool hb_pin_reassert(const struct hb_pair *p);
void hb_unpin_all(void);
int hb_bond_to_standby(struct net_device *bond, struct net_device *standby,
		       struct netlink_ext_ack *extack);

/* hb_main.c: HYBOND_CMD_RELEASE; any context that may take a spinlock */
int hb_release(struct net *net, int master_ifindex);

/* hb_genl.c */
bool hb_listening(struct net *net);
int hb_genl_init(void);
void hb_genl_exit(void);
void hb_event(struct net *net, u8 cmd, const struct hb_info *info, gfp_t gfp);

#endif /* _HB_SHIM_H */
