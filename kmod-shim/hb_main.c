// SPDX-License-Identifier: GPL-2.0
/*
 * hybond_shim: what the guest kernel does when a VF leaves unannounced.
 *
 * When a PCI device is about to be unbound from its driver (operator
 * device_del, QEMU's own failover unplug, sysfs unbind, SR-IOV disable) and
 * one of its netdevs is the primary of a pair, the unplug barrier
 *
 *   1. moves TX off it (net_failover: carrier off, right after 2., so that
 *      the event reaches the agent before the carrier change; bond: active
 *      slave, before 2.),
 *   2. multicasts HYBOND_CMD_UNPLUG_STARTING, so the host can steer RX to
 *      the standby while the VF still delivers,
 *   3. waits until the VF's TX backlog is empty, at most drain_ms (capped
 *      at HB_DRAIN_MS_MAX), polling: no event tells that a qdisc emptied,
 *   4. multicasts HYBOND_CMD_DRAINED, and lets the removal go on.
 *
 * Context: BUS_NOTIFY_UNBIND_DRIVER is sent by __device_release_driver()
 * through a blocking notifier chain, in process context, with the device
 * lock held (and the PCI rescan/remove lock on the hot-unplug path), never
 * with rtnl.  The barrier takes no rtnl for net_failover; for a bond it only
 * tries rtnl (rtnl_trylock) until the deadline, so it cannot deadlock with a
 * caller that would hold it.  Nothing is left to undo: the device is going.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/device.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/pci.h>
#include <linux/rtnetlink.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>

#include "hb_shim.h"

#define HB_DRAIN_MS_DEFAULT	20
#define HB_DRAIN_MS_MAX		200	/* hard cap, whatever drain_ms says */
#define HB_DRAIN_POLL_MIN_US	200
#define HB_DRAIN_POLL_MAX_US	500
#define HB_BARRIER_MAX_DEVS	4	/* netdevs of one PCI function */

static unsigned int drain_ms = HB_DRAIN_MS_DEFAULT;
module_param(drain_ms, uint, 0644);
MODULE_PARM_DESC(drain_ms,
		 "Longest wait for a leaving VF's TX backlog, in ms (default 20, capped at 200)");

struct hb_leaving {
	struct net_device *dev;
	netdevice_tracker tracker;
	struct net *net;	/* dev_net(dev), alive while dev is held */
	struct hb_info info;
	bool is_tx;		/* the pair transmitted on it */
};

static bool hb_is_pci_primary(struct net_device *dev, struct hb_pair *p)
{
	return hb_pair_of_slave(dev, p) && p->primary == dev;
}

/* Collect, with a reference each, the netdevs of @parent that are the
 * primary of a pair.
 */
static int hb_barrier_collect(struct device *parent, struct hb_leaving *lv)
{
	struct net_device *dev;
	struct hb_pair p;
	struct net *net;
	int n = 0;

	rcu_read_lock();
	for_each_net_rcu(net) {
		for_each_netdev_rcu(net, dev) {
			if (dev->dev.parent != parent || n == HB_BARRIER_MAX_DEVS)
				continue;
			if (!hb_is_pci_primary(dev, &p))
				continue;
			netdev_hold(dev, &lv[n].tracker, GFP_ATOMIC);
			lv[n].dev = dev;
			lv[n].net = net;
			lv[n].is_tx = hb_pair_tx_dev(&p) == dev;
			hb_pair_info(&p, &lv[n].info);
			n++;
		}
	}
	rcu_read_unlock();
	return n;
}

/* Bond: make the standby the active slave.  rtnl is only tried, so this
 * never waits on a lock the caller of the notifier might hold.
 */
static int hb_barrier_bond_switch(struct net_device *dev, ktime_t deadline)
{
	struct net_device *master, *standby;
	struct hb_pair p;
	int err;

	while (!rtnl_trylock()) {
		if (ktime_after(ktime_get(), deadline)) {
			pr_warn("%s: rtnl busy: bond TX not moved before unplug\n",
				netdev_name(dev));
			return -EBUSY;
		}
		usleep_range(HB_DRAIN_POLL_MIN_US, HB_DRAIN_POLL_MAX_US);
	}
	rcu_read_lock();
	if (!hb_is_pci_primary(dev, &p) || hb_pair_tx_dev(&p) != dev ||
	    !p.standby || !netif_carrier_ok(p.standby)) {
		rcu_read_unlock();
		rtnl_unlock();
		return -ENODEV;
	}
	master = p.master;
	standby = p.standby;
	rcu_read_unlock();
	/* rtnl keeps master and standby alive from here */
	err = hb_bond_set_active(master, standby);
	if (err)
		pr_warn("%s: could not make %s the active slave of %s: %d\n",
			netdev_name(dev), standby->name, master->name, err);
	rtnl_unlock();
	return err;
}

static void hb_unplug_barrier(struct device *parent)
{
	struct hb_leaving lv[HB_BARRIER_MAX_DEVS];
	unsigned int cap_ms = min_t(unsigned int, READ_ONCE(drain_ms),
				    HB_DRAIN_MS_MAX);
	ktime_t start = ktime_get();
	ktime_t deadline = ktime_add_ms(start, cap_ms);
	u32 pkts = 0, bytes = 0;
	int i, n;

	n = hb_barrier_collect(parent, lv);
	if (!n)
		return;

	/* 1. TX off the leaving primaries (bond: now; net_failover: right
	 * after the event, see 2.)
	 */
	for (i = 0; i < n; i++) {
		struct hb_info *info = &lv[i].info;

		if (!lv[i].is_tx)
			continue;
		if (info->kind == HYBOND_KIND_FAILOVER)
			info->flags &= ~HYBOND_F_CARRIER;
		else if (hb_barrier_bond_switch(lv[i].dev, deadline))
			continue;
		info->tx = info->standby;
	}
	/* 2. tell the agent at once.  The failover carrier goes off only after
	 * the event is out: carrier off queues a linkwatch change whose
	 * rtnetlink message could otherwise reach the agent first.
	 */
	for (i = 0; i < n; i++) {
		hb_event(lv[i].net, HYBOND_CMD_UNPLUG_STARTING, &lv[i].info,
			 GFP_KERNEL);
		if (lv[i].is_tx && lv[i].info.kind == HYBOND_KIND_FAILOVER)
			netif_carrier_off(lv[i].dev);
	}

	/* 3. let what was queued leave, within the cap */
	for (i = 0; i < n; i++) {
		struct hb_info *info = &lv[i].info;

		for (;;) {
			pkts = 0;
			bytes = 0;
			if (netif_running(lv[i].dev))
				pkts = hb_tx_backlog(lv[i].dev, &bytes);
			if ((!pkts && !bytes) ||
			    ktime_after(ktime_get(), deadline))
				break;
			usleep_range(HB_DRAIN_POLL_MIN_US, HB_DRAIN_POLL_MAX_US);
		}
		info->drain_us = ktime_us_delta(ktime_get(), start);
		info->backlog_pkts = pkts;
		info->backlog_bytes = bytes;
		if (pkts || bytes)
			info->flags |= HYBOND_F_TIMED_OUT;
		/* 4. and say so */
		hb_event(lv[i].net, HYBOND_CMD_DRAINED, info, GFP_KERNEL);
		pr_info("%s: unplug barrier: TX %s, drained in %u us%s\n",
			netdev_name(lv[i].dev),
			lv[i].is_tx ? "moved to the standby" : "already off",
			info->drain_us, (pkts || bytes) ? " (cap reached)" : "");
	}

	for (i = 0; i < n; i++)
		netdev_put(lv[i].dev, &lv[i].tracker);
}

static int hb_bus_event(struct notifier_block *nb, unsigned long action,
			void *data)
{
	if (action != BUS_NOTIFY_UNBIND_DRIVER)
		return NOTIFY_DONE;
	might_sleep();
	hb_unplug_barrier(data);
	return NOTIFY_OK;
}

static struct notifier_block hb_bus_nb = {
	.notifier_call = hb_bus_event,
};

/* --- netdev events --------------------------------------------------------- */

/* A PCI netdev registered, not enslaved: does it carry the MAC of a pair's
 * master (what failover and a bond-building agent pair by)?
 */
static bool hb_match_by_mac(struct net_device *dev, struct hb_info *info)
{
	struct net_device *m;
	struct hb_pair p;

	for_each_netdev_rcu(dev_net(dev), m) {
		if (m == dev || !ether_addr_equal(m->dev_addr, dev->dev_addr) ||
		    !hb_pair_of_master(m, &p))
			continue;
		hb_pair_info(&p, info);
		info->primary = dev->ifindex;
		ether_addr_copy(info->mac, dev->dev_addr);
		info->carrier_ups = atomic_read(&dev->carrier_up_count);
		info->flags |= HYBOND_F_NOT_ENSLAVED;
		return true;
	}
	return false;
}

static int hb_netdev_event(struct notifier_block *nb, unsigned long event,
			   void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);
	struct netdev_notifier_change_info *ci;
	struct hb_info info;
	struct hb_pair p;
	u8 cmd = 0;

	switch (event) {
	case NETDEV_UNREGISTER:
		if (netif_is_failover(dev) || netif_is_bond_master(dev))
			hb_pin_forget(dev);
		return NOTIFY_DONE;
	case NETDEV_REGISTER:
		if (!dev->dev.parent || !dev_is_pci(dev->dev.parent) ||
		    netdev_master_upper_dev_get(dev))
			return NOTIFY_DONE;
		rcu_read_lock();
		if (hb_match_by_mac(dev, &info))
			cmd = HYBOND_CMD_PRIMARY_ARRIVING;
		rcu_read_unlock();
		break;
	case NETDEV_JOIN:	/* net_failover: after the primary is set */
	case NETDEV_CHANGEUPPER:	/* bond: the slave is in the list */
		rcu_read_lock();
		if (hb_is_pci_primary(dev, &p)) {
			hb_pair_info(&p, &info);
			cmd = HYBOND_CMD_PRIMARY_ARRIVING;
		}
		rcu_read_unlock();
		break;
	case NETDEV_CHANGE:
		ci = ptr;
		if (ci->flags_changed)	/* flags, not link state */
			return NOTIFY_DONE;
		fallthrough;
	case NETDEV_UP:
		if (!netif_carrier_ok(dev))
			return NOTIFY_DONE;
		rcu_read_lock();
		if (hb_is_pci_primary(dev, &p)) {
			hb_pair_info(&p, &info);
			cmd = HYBOND_CMD_CARRIER_UP;
		}
		rcu_read_unlock();
		if (!cmd)
			return NOTIFY_DONE;
		/* rtnl held: p stays valid */
		hb_event(dev_net(dev), cmd, &info, GFP_KERNEL);
		if (hb_pin_reassert(&p))
			netdev_dbg(dev, "pinned pair: carrier taken again\n");
		return NOTIFY_DONE;
	default:
		return NOTIFY_DONE;
	}
	if (cmd) {
		netdev_dbg(dev, "event %u master %d standby %d flags %#x\n",
			   cmd, info.master, info.standby, info.flags);
		hb_event(dev_net(dev), cmd, &info, GFP_KERNEL);
	}
	return NOTIFY_DONE;
}

static struct notifier_block hb_netdev_nb = {
	.notifier_call = hb_netdev_event,
};

static int __init hb_init(void)
{
	int err;

	err = hb_genl_init();
	if (err)
		return err;
	err = register_netdevice_notifier(&hb_netdev_nb);
	if (err)
		goto err_genl;
	err = bus_register_notifier(&pci_bus_type, &hb_bus_nb);
	if (err)
		goto err_netdev;
	pr_info("loaded: unplug barrier on, drain_ms=%u (cap %u)\n",
		drain_ms, HB_DRAIN_MS_MAX);
	return 0;

err_netdev:
	unregister_netdevice_notifier(&hb_netdev_nb);
err_genl:
	hb_genl_exit();
	return err;
}

/* The bus notifier chain's rwsem makes unregistering wait for a barrier in
 * progress (at most the cap); genl_unregister_family() waits for requests
 * in progress, so no pin can be added after it; the pins are given back
 * while the netdev notifier still forgets those of vanishing masters.
 */
static void __exit hb_exit(void)
{
	bus_unregister_notifier(&pci_bus_type, &hb_bus_nb);
	hb_genl_exit();
	hb_unpin_all();
	unregister_netdevice_notifier(&hb_netdev_nb);
	pr_info("unloaded\n");
}

module_init(hb_init);
module_exit(hb_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("hybond");
MODULE_DESCRIPTION("hybond: unplug barrier and genetlink events for failover pairs");
MODULE_ALIAS_GENL_FAMILY(HYBOND_GENL_NAME);
