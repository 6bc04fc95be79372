// SPDX-License-Identifier: GPL-2.0
/*
 * hybond_shim: pairs, TX pin/unpin and the TX backlog of a device.
 *
 * A pair is a master over a standby (virtio-net) and a primary (a PCI
 * device, the VF).  Two kinds of master are understood:
 *
 *  - net_failover (IFF_FAILOVER): the master's private data is the public
 *    struct net_failover_info; net_failover_start_xmit() transmits on the
 *    primary while it is running with carrier, else on the standby.  So
 *    taking the primary's carrier away moves TX to the standby at once, and
 *    that is the only lever the kernel offers without a change to
 *    net_failover itself.
 *  - bonding in active-backup mode: the active slave is changed through the
 *    bond's own rtnl_link_ops->changelink with IFLA_BOND_ACTIVE_SLAVE, the
 *    very call an RTM_NEWLINK request makes, under rtnl.
 *
 * Nothing here holds a reference past the lock the caller holds.
 */

#include <linux/ethtool.h>
#include <linux/pci.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>
#include <net/bonding.h>
#include <net/net_failover.h>
#include <net/sch_generic.h>

#include "hb_shim.h"

/* A pin the shim holds on a pair; keyed by (netns, master ifindex), so a
 * master that goes away leaves nothing dangling.  Changed under rtnl and
 * hb_pins_lock; read under either.
 */
struct hb_pin {
	struct list_head list;
	possible_net_t net;
	int master;
	bool took_carrier;	/* failover: the primary's carrier is ours */
};

static LIST_HEAD(hb_pins);
static DEFINE_SPINLOCK(hb_pins_lock);

static bool hb_is_pci(const struct net_device *dev)
{
	return dev->dev.parent && dev_is_pci(dev->dev.parent);
}

static bool hb_xmit_ready(const struct net_device *dev)
{
	return dev && netif_running(dev) && netif_carrier_ok(dev);
}

bool hb_pair_of_master(struct net_device *master, struct hb_pair *p)
{
	memset(p, 0, sizeof(*p));
	p->master = master;

	if (netif_is_failover(master)) {
		struct net_failover_info *nfo = netdev_priv(master);

		p->kind = HYBOND_KIND_FAILOVER;
		p->primary = rcu_dereference(nfo->primary_dev);
		p->standby = rcu_dereference(nfo->standby_dev);
		return true;
	}

	if (netif_is_bond_master(master)) {
		struct bonding *bond = netdev_priv(master);
		struct list_head *iter;
		struct slave *slave;

		if (BOND_MODE(bond) != BOND_MODE_ACTIVEBACKUP)
			return false;
		p->kind = HYBOND_KIND_BOND;
		bond_for_each_slave_rcu(bond, slave, iter) {
			if (hb_is_pci(slave->dev)) {
				if (!p->primary)
					p->primary = slave->dev;
			} else if (!p->standby) {
				p->standby = slave->dev;
			}
		}
		return p->primary || p->standby;
	}

	return false;
}

bool hb_pair_of_slave(struct net_device *dev, struct hb_pair *p)
{
	struct net_device *master = netdev_master_upper_dev_get_rcu(dev);

	return master && hb_pair_of_master(master, p);
}

struct net_device *hb_pair_tx_dev(const struct hb_pair *p)
{
	if (p->kind == HYBOND_KIND_BOND) {
		struct bonding *bond = netdev_priv(p->master);
		struct slave *active = rcu_dereference(bond->curr_active_slave);

		return active ? active->dev : NULL;
	}
	/* the choice net_failover_start_xmit() makes */
	if (hb_xmit_ready(p->primary))
		return p->primary;
	return hb_xmit_ready(p->standby) ? p->standby : NULL;
}

void hb_pair_info(const struct hb_pair *p, struct hb_info *info)
{
	struct net_device *tx = hb_pair_tx_dev(p);

	memset(info, 0, sizeof(*info));
	info->kind = p->kind;
	info->master = p->master->ifindex;
	info->standby = p->standby ? p->standby->ifindex : 0;
	info->tx = tx ? tx->ifindex : 0;
	if (p->primary) {
		info->primary = p->primary->ifindex;
		ether_addr_copy(info->mac, p->primary->dev_addr);
		info->carrier_ups = atomic_read(&p->primary->carrier_up_count);
		if (netif_carrier_ok(p->primary))
			info->flags |= HYBOND_F_CARRIER;
	}
	if (hb_pinned(p->master))
		info->flags |= HYBOND_F_PINNED;
}

/**
 * hb_tx_backlog - what is still queued for transmission on @dev
 * @dev: the device
 * @bytes: set to the bytes the driver holds in flight (BQL)
 *
 * Returns the packets waiting in the device's qdiscs.  Both are zero once
 * everything handed to @dev has left it; a driver without BQL reports no
 * bytes in flight, so for it only the qdisc part is seen.
 */
u32 hb_tx_backlog(struct net_device *dev, u32 *bytes)
{
	u32 pkts = 0, inflight = 0;
	unsigned int i;

	rcu_read_lock();
	for (i = 0; i < dev->real_num_tx_queues; i++) {
		struct netdev_queue *txq = netdev_get_tx_queue(dev, i);
		struct Qdisc *q = rcu_dereference(txq->qdisc);

		if (q)
			pkts += qdisc_qlen_sum(q);
#ifdef CONFIG_BQL
		inflight += READ_ONCE(txq->dql.num_queued) -
			    READ_ONCE(txq->dql.num_completed);
#endif
	}
	rcu_read_unlock();
	*bytes = inflight;
	return pkts;
}

/* --- pins ---------------------------------------------------------------- */

static struct hb_pin *hb_pin_find(const struct net *net, int master)
{
	struct hb_pin *pin;

	list_for_each_entry(pin, &hb_pins, list)
		if (pin->master == master && net_eq(read_pnet(&pin->net), net))
			return pin;
	return NULL;
}

bool hb_pinned(struct net_device *master)
{
	bool found;

	spin_lock_bh(&hb_pins_lock);
	found = hb_pin_find(dev_net(master), master->ifindex);
	spin_unlock_bh(&hb_pins_lock);
	return found;
}

struct hb_u32_attr {
	struct nlattr nla;
	u32 val;
};

static void hb_u32_attr_init(struct hb_u32_attr *a, int type, u32 val)
{
	a->nla.nla_len = nla_attr_size(sizeof(u32));
	a->nla.nla_type = type;
	a->val = val;
}

/* Change a bond's primary (@primary >= 0; 0 clears it) and/or active slave
 * (@active > 0) as RTM_NEWLINK would: through the bond's changelink.
 */
static int hb_bond_changelink(struct net_device *bond, int primary, int active,
			      struct netlink_ext_ack *extack)
{
	struct hb_u32_attr a_primary, a_active;
	struct nlattr **tb, **data;
	int err;

	ASSERT_RTNL();
	if (!bond->rtnl_link_ops || !bond->rtnl_link_ops->changelink)
		return -EOPNOTSUPP;

	tb = kcalloc(IFLA_MAX + 1 + IFLA_BOND_MAX + 1, sizeof(*tb), GFP_KERNEL);
	if (!tb)
		return -ENOMEM;
	data = tb + IFLA_MAX + 1;
	if (primary >= 0) {
		hb_u32_attr_init(&a_primary, IFLA_BOND_PRIMARY, primary);
		data[IFLA_BOND_PRIMARY] = &a_primary.nla;
	}
	if (active > 0) {
		hb_u32_attr_init(&a_active, IFLA_BOND_ACTIVE_SLAVE, active);
		data[IFLA_BOND_ACTIVE_SLAVE] = &a_active.nla;
	}
	err = bond->rtnl_link_ops->changelink(bond, tb, data, extack);
	kfree(tb);
	return err;
}

/* TX to @standby (PIN, the unplug barrier) and make it the bond's primary
 * as well.  Neither keeping the VF as the primary nor clearing the primary
 * holds: the bond reselects on its own (slave link events, option changes)
 * and, with primary_reselect=always (the default), picks the primary if it
 * is up, or with no primary the first slave with link in enslave order
 * (bond_choose_primary_or_current(), 6.1 and 6.12: the per-slave prio
 * logic) — the VF whenever it was enslaved before the standby.  Seen in the
 * lab as the guest's TX flapping between VF and standby during the barrier,
 * and up to 95 replies lost on the VF as it went.  rtnl held.
 */
int hb_bond_to_standby(struct net_device *bond, struct net_device *standby,
		       struct netlink_ext_ack *extack)
{
	return hb_bond_changelink(bond, standby->ifindex, standby->ifindex,
				  extack);
}

static int hb_pin_apply(struct hb_pin *pin, const struct hb_pair *p,
			struct netlink_ext_ack *extack)
{
	if (p->kind == HYBOND_KIND_FAILOVER) {
		if (p->primary && netif_carrier_ok(p->primary)) {
			netif_carrier_off(p->primary);
			pin->took_carrier = true;
		}
		return 0;
	}
	/* bond: the standby as primary too, so the bond does not reselect
	 * the VF (hb_bond_to_standby())
	 */
	return hb_bond_to_standby(p->master, p->standby, extack);
}

/* Give TX back to the primary.  For net_failover the carrier is returned
 * only if the driver itself says the link is up (its own get_link, not the
 * generic one that just reads the carrier); otherwise the driver's next
 * link event does it.
 */
static void hb_pin_release(struct hb_pin *pin, const struct hb_pair *p)
{
	struct net_device *vf = p->primary;

	if (!vf)
		return;
	if (p->kind == HYBOND_KIND_FAILOVER) {
		const struct ethtool_ops *ops = vf->ethtool_ops;

		if (!pin->took_carrier || netif_carrier_ok(vf) ||
		    !netif_running(vf) || !netif_device_present(vf))
			return;
		if (ops && ops->get_link && ops->get_link != ethtool_op_get_link &&
		    ops->get_link(vf))
			netif_carrier_on(vf);
		return;
	}
	/* the VF as primary: TX on it whenever it has link */
	hb_bond_changelink(p->master, vf->ifindex,
			   hb_xmit_ready(vf) ? vf->ifindex : 0, NULL);
}

/* Give TX back for a pin taken off the list (UNPIN, module exit), if its
 * master is still a pair.  rtnl held.
 */
static void hb_pin_undo(struct net *net, struct hb_pin *pin)
{
	struct net_device *master = __dev_get_by_index(net, pin->master);
	struct hb_pair p;

	rcu_read_lock();
	if (master && hb_pair_of_master(master, &p)) {
		rcu_read_unlock();
		hb_pin_release(pin, &p);
	} else {
		rcu_read_unlock();
	}
}

int hb_pin(struct net *net, int master_ifindex, struct netlink_ext_ack *extack)
{
	struct net_device *master;
	struct hb_pin *pin;
	struct hb_pair p;
	int err;

	ASSERT_RTNL();
	master = __dev_get_by_index(net, master_ifindex);
	if (!master) {
		NL_SET_ERR_MSG(extack, "no such master");
		return -ENODEV;
	}
	rcu_read_lock();
	if (!hb_pair_of_master(master, &p)) {
		rcu_read_unlock();
		NL_SET_ERR_MSG(extack, "not a net_failover or active-backup bond master");
		return -EOPNOTSUPP;
	}
	rcu_read_unlock();
	if (!hb_xmit_ready(p.standby)) {
		NL_SET_ERR_MSG(extack, "standby missing or without carrier");
		return -ENETDOWN;
	}
	if (hb_pinned(master))
		return 0;

	pin = kzalloc(sizeof(*pin), GFP_KERNEL);
	if (!pin)
		return -ENOMEM;
	write_pnet(&pin->net, net);
	pin->master = master_ifindex;
	err = hb_pin_apply(pin, &p, extack);
	if (err) {
		kfree(pin);
		return err;
	}
	spin_lock_bh(&hb_pins_lock);
	list_add(&pin->list, &hb_pins);
	spin_unlock_bh(&hb_pins_lock);
	return 0;
}

int hb_unpin(struct net *net, int master_ifindex, struct netlink_ext_ack *extack)
{
	struct hb_pin *pin;

	ASSERT_RTNL();
	spin_lock_bh(&hb_pins_lock);
	pin = hb_pin_find(net, master_ifindex);
	if (pin)
		list_del(&pin->list);
	spin_unlock_bh(&hb_pins_lock);
	if (!pin) {
		NL_SET_ERR_MSG(extack, "pair not pinned");
		return -ENOENT;
	}
	hb_pin_undo(net, pin);
	kfree(pin);
	return 0;
}

/* The master is being unregistered: its pin goes with it. rtnl held. */
void hb_pin_forget(struct net_device *master)
{
	struct hb_pin *pin;

	spin_lock_bh(&hb_pins_lock);
	pin = hb_pin_find(dev_net(master), master->ifindex);
	if (pin)
		list_del(&pin->list);
	spin_unlock_bh(&hb_pins_lock);
	kfree(pin);
}

/* A primary of a pinned net_failover pair got carrier (its driver raised it,
 * or a new VF came up): take it again so TX stays on the standby.  Returns
 * true if it did.  rtnl held.
 */
bool hb_pin_reassert(const struct hb_pair *p)
{
	struct hb_pin *pin;
	bool took = false;

	if (p->kind != HYBOND_KIND_FAILOVER || !p->primary ||
	    !netif_carrier_ok(p->primary))
		return false;
	spin_lock_bh(&hb_pins_lock);
	pin = hb_pin_find(dev_net(p->master), p->master->ifindex);
	if (pin) {
		pin->took_carrier = true;
		took = true;
	}
	spin_unlock_bh(&hb_pins_lock);
	if (took)
		netif_carrier_off(p->primary);
	return took;
}

/* Module exit: every pin is released as UNPIN would. */
void hb_unpin_all(void)
{
	struct hb_pin *pin, *tmp;
	LIST_HEAD(all);

	rtnl_lock();
	spin_lock_bh(&hb_pins_lock);
	list_splice_init(&hb_pins, &all);
	spin_unlock_bh(&hb_pins_lock);
	list_for_each_entry_safe(pin, tmp, &all, list) {
		hb_pin_undo(read_pnet(&pin->net), pin);
		list_del(&pin->list);
		kfree(pin);
	}
	rtnl_unlock();
}
