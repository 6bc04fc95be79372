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
 *   3. waits until the VF's TX backlog is empty, at most drain_ms, polling:
 *      no event tells that a qdisc emptied,
 *   4. waits until the host has moved RX off the VF: a HYBOND_CMD_RELEASE
 *      for the pair's master (sent by the agent once the host said so), at
 *      most rx_wait_ms, and only if someone listens to the events group
 *      (else nobody could send it),
 *   5. multicasts HYBOND_CMD_DRAINED, and lets the removal go on.
 *
 * All of it within HB_DRAIN_MS_MAX of the start, whatever the parameters.
 *
 * Context: BUS_NOTIFY_UNBIND_DRIVER is sent by __device_release_driver()
 * through a blocking notifier chain, in process context, with the device
 * lock held (and the PCI rescan/remove lock on the hot-unplug path), never
 * with rtnl.  The barrier takes no rtnl for net_failover; for a bond it only
 * tries rtnl (rtnl_trylock) until the deadline, so it cannot deadlock with a
 * caller that would hold it.  RELEASE takes only hb_waits_lock.  Nothing is
 * left to undo: the device is going.
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
#define HB_RX_WAIT_MS_DEFAULT	100
#define HB_DRAIN_MS_MAX		200	/* hard cap of the whole barrier */
#define HB_DRAIN_POLL_MIN_US	200
#define HB_DRAIN_POLL_MAX_US	500
#define HB_BARRIER_MAX_DEVS	4	/* netdevs of one PCI function */

static unsigned int drain_ms = HB_DRAIN_MS_DEFAULT;
module_param(drain_ms, uint, 0644);
MODULE_PARM_DESC(drain_ms,
		 "Longest wait for a leaving VF's TX backlog, in ms (default 20, capped at 200)");

static unsigned int rx_wait_ms = HB_RX_WAIT_MS_DEFAULT;
module_param(rx_wait_ms, uint, 0644);
MODULE_PARM_DESC(rx_wait_ms,
		 "Longest wait for the host to move a leaving VF's RX (HYBOND_CMD_RELEASE), in ms from the barrier start (default 100, capped at 200)");

/* A barrier waiting for RELEASE, keyed by (netns, master ifindex).  It lives
 * on the barrier's stack and is on hb_waits from before UNPLUG_STARTING until
 * the barrier stops waiting; hb_release() touches it only under
 * hb_waits_lock, so it never sees a record that is gone.  net is only
 * compared, never dereferenced by hb_release().
 */
struct hb_wait {
	struct list_head list;
	struct net *net;
	int master;
	bool released;		/* written under hb_waits_lock */
	ktime_t released_at;
};

static LIST_HEAD(hb_waits);
static DEFINE_SPINLOCK(hb_waits_lock);
static DECLARE_WAIT_QUEUE_HEAD(hb_release_wq);

struct hb_leaving {
	struct net_device *dev;
	netdevice_tracker tracker;
	struct net *net;	/* dev_net(dev), alive while dev is held */
	struct hb_info info;
	bool is_tx;		/* the pair transmitted on it */
	bool wait_rx;		/* someone listens: wait for RELEASE */
	struct hb_wait wait;
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

/* Bond: make the standby the active slave and the primary
 * (hb_bond_to_standby()).  rtnl is only tried, so this never waits on a
 * lock the caller of the notifier might hold.
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
	err = hb_bond_to_standby(master, standby, NULL);
	if (err)
		pr_warn("%s: could not make %s the active slave of %s: %d\n",
			netdev_name(dev), standby->name, master->name, err);
	rtnl_unlock();
	return err;
}

/**
 * hb_release - the host has moved RX of a pair's leaving primary
 * @net: the requester's netns
 * @master_ifindex: the pair's master
 *
 * Wakes every barrier waiting for that master.  Return: 0, or -ENOENT if no
 * barrier waits for it (harmless: it ended, or there was none).
 */
int hb_release(struct net *net, int master_ifindex)
{
	ktime_t now = ktime_get();
	struct hb_wait *w;
	bool found = false;

	spin_lock(&hb_waits_lock);
	list_for_each_entry(w, &hb_waits, list) {
		if (w->master != master_ifindex || !net_eq(w->net, net))
			continue;
		found = true;
		if (w->released)
			continue;
		w->released_at = now;
		WRITE_ONCE(w->released, true);
	}
	spin_unlock(&hb_waits_lock);
	if (!found)
		return -ENOENT;
	wake_up_all(&hb_release_wq);
	return 0;
}

static void hb_wait_add(struct hb_leaving *lv)
{
	lv->wait.net = lv->net;
	lv->wait.master = lv->info.master;
	lv->wait.released = false;
	spin_lock(&hb_waits_lock);
	list_add_tail(&lv->wait.list, &hb_waits);
	spin_unlock(&hb_waits_lock);
}

/* Wait for RELEASE until @rx_deadline, then take the record off the list;
 * the result goes into lv->info.
 */
static void hb_wait_rx(struct hb_leaving *lv, ktime_t start, ktime_t rx_deadline)
{
	struct hb_info *info = &lv->info;
	ktime_t left = ktime_sub(rx_deadline, ktime_get());

	if (ktime_to_ns(left) > 0)
		wait_event_hrtimeout(hb_release_wq, READ_ONCE(lv->wait.released),
				     left);
	spin_lock(&hb_waits_lock);
	list_del(&lv->wait.list);
	spin_unlock(&hb_waits_lock);
	/* off the list: nobody writes the record any more */
	if (lv->wait.released) {
		info->flags |= HYBOND_F_RELEASED;
		info->release_us = ktime_us_delta(lv->wait.released_at, start);
	} else {
		info->flags |= HYBOND_F_RX_TIMED_OUT;
	}
}

/* Poll the TX backlog of @lv until it is empty or @deadline passes. */
static void hb_drain(struct hb_leaving *lv, ktime_t start, ktime_t deadline)
{
	struct hb_info *info = &lv->info;
	u32 pkts, bytes;

	for (;;) {
		pkts = 0;
		bytes = 0;
		if (netif_running(lv->dev))
			pkts = hb_tx_backlog(lv->dev, &bytes);
		if ((!pkts && !bytes) || ktime_after(ktime_get(), deadline))
			break;
		usleep_range(HB_DRAIN_POLL_MIN_US, HB_DRAIN_POLL_MAX_US);
	}
	info->drain_us = ktime_us_delta(ktime_get(), start);
	info->backlog_pkts = pkts;
	info->backlog_bytes = bytes;
	if (pkts || bytes)
		info->flags |= HYBOND_F_TIMED_OUT;
}

static void hb_barrier_log(const struct hb_leaving *lv, unsigned int rx_ms)
{
	const struct hb_info *info = &lv->info;
	const char *tx = lv->is_tx ? "moved to the standby" : "already off";
	const char *cap = (info->flags & HYBOND_F_TIMED_OUT) ? " (cap reached)" : "";

	if (info->flags & HYBOND_F_RELEASED)
		pr_info("%s: unplug barrier: TX %s, drained in %u us%s, host moved RX after %u us\n",
			netdev_name(lv->dev), tx, info->drain_us, cap,
			info->release_us);
	else if (lv->wait_rx)
		pr_info("%s: unplug barrier: TX %s, drained in %u us%s, host did not confirm RX within %u ms (rx_wait_ms)\n",
			netdev_name(lv->dev), tx, info->drain_us, cap, rx_ms);
	else
		pr_info("%s: unplug barrier: TX %s, drained in %u us%s, no listener: not waiting for RX\n",
			netdev_name(lv->dev), tx, info->drain_us, cap);
}

static void hb_unplug_barrier(struct device *parent)
{
	struct hb_leaving lv[HB_BARRIER_MAX_DEVS];
	unsigned int cap_ms = min_t(unsigned int, READ_ONCE(drain_ms),
				    HB_DRAIN_MS_MAX);
	unsigned int rx_ms = min_t(unsigned int, READ_ONCE(rx_wait_ms),
				   HB_DRAIN_MS_MAX);
	ktime_t start = ktime_get();
	ktime_t deadline = ktime_add_ms(start, cap_ms);
	ktime_t rx_deadline = ktime_add_ms(start, rx_ms);
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
	/* 2. tell the agent at once.  A RELEASE may follow before the
	 * multicast call even returns, so the barrier is findable first.  The
	 * failover carrier goes off only after the event is out: carrier off
	 * queues a linkwatch change whose rtnetlink message could otherwise
	 * reach the agent first.
	 */
	for (i = 0; i < n; i++) {
		lv[i].wait_rx = rx_ms && hb_listening(lv[i].net);
		if (lv[i].wait_rx)
			hb_wait_add(&lv[i]);
		hb_event(lv[i].net, HYBOND_CMD_UNPLUG_STARTING, &lv[i].info,
			 GFP_KERNEL);
		if (lv[i].is_tx && lv[i].info.kind == HYBOND_KIND_FAILOVER)
			netif_carrier_off(lv[i].dev);
	}

	for (i = 0; i < n; i++) {
		/* 3. let what was queued leave, within the cap */
		hb_drain(&lv[i], start, deadline);
		/* 4. the VF still delivers RX until the host moved it */
		if (lv[i].wait_rx)
			hb_wait_rx(&lv[i], start, rx_deadline);
		/* 5. and say so */
		hb_event(lv[i].net, HYBOND_CMD_DRAINED, &lv[i].info, GFP_KERNEL);
		hb_barrier_log(&lv[i], rx_ms);
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
	pr_info("loaded: unplug barrier on, drain_ms=%u rx_wait_ms=%u (cap %u)\n",
		drain_ms, rx_wait_ms, HB_DRAIN_MS_MAX);
	return 0;

err_netdev:
	unregister_netdevice_notifier(&hb_netdev_nb);
err_genl:
	hb_genl_exit();
	return err;
}

/* The bus notifier chain's rwsem makes unregistering wait for a barrier in
 * progress (at most the cap), so hb_waits is empty after it;
 * genl_unregister_family() waits for requests in progress (a RELEASE
 * included), so no pin can be added after it; the pins are given back
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
