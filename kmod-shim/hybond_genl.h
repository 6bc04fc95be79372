/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The "hybond" generic netlink family of hybond_shim.ko
 *
 * User space (hybond-guestd) includes this file as it is; the kernel module
 * includes it too, so the numbers below are the ABI.  Add at the end only.
 *
 * Commands (requests; all need CAP_NET_ADMIN):
 *   HYBOND_CMD_PIN     HYBOND_A_MASTER_IFINDEX: transmit on the standby only
 *   HYBOND_CMD_UNPIN   HYBOND_A_MASTER_IFINDEX: give TX back to the primary
 *   HYBOND_CMD_STATUS  [HYBOND_A_MASTER_IFINDEX]: reply with one
 *                      HYBOND_A_PAIR nest per pair the shim sees
 *   HYBOND_CMD_RELEASE HYBOND_A_MASTER_IFINDEX: the host has moved RX of
 *                      this pair's leaving primary to the standby (or
 *                      nobody will): the unplug barrier may let the
 *                      removal go on; -ENOENT if no barrier waits for it
 *
 * Events (multicast group HYBOND_GENL_MCGRP_EVENTS, same attributes as a
 * HYBOND_A_PAIR nest, at the top level):
 *   HYBOND_CMD_PRIMARY_ARRIVING  a VF joined a master (or registered with
 *                                a pair's MAC, not enslaved yet)
 *   HYBOND_CMD_CARRIER_UP        a primary reports carrier
 *   HYBOND_CMD_UNPLUG_STARTING   a primary is being unbound from its
 *                                driver; TX is already off it
 *   HYBOND_CMD_DRAINED           its TX backlog is empty (or the drain cap
 *                                expired: HYBOND_F_TIMED_OUT) and RX is
 *                                off it (HYBOND_F_RELEASED, or
 *                                HYBOND_F_RX_TIMED_OUT); the removal goes
 *                                on right after this event
 */
#ifndef _UAPI_LINUX_HYBOND_GENL_H
#define _UAPI_LINUX_HYBOND_GENL_H

#define HYBOND_GENL_NAME		"hybond"
#define HYBOND_GENL_VERSION		1
#define HYBOND_GENL_MCGRP_EVENTS	"events"

enum hybond_cmd {
	HYBOND_CMD_UNSPEC,
	HYBOND_CMD_PIN,
	HYBOND_CMD_UNPIN,
	HYBOND_CMD_STATUS,
	HYBOND_CMD_PRIMARY_ARRIVING,
	HYBOND_CMD_CARRIER_UP,
	HYBOND_CMD_UNPLUG_STARTING,
	HYBOND_CMD_DRAINED,
	HYBOND_CMD_RELEASE,

	__HYBOND_CMD_MAX,
	HYBOND_CMD_MAX = __HYBOND_CMD_MAX - 1
};

/* HYBOND_A_KIND */
enum hybond_kind {
	HYBOND_KIND_FAILOVER = 1,	/* net_failover master */
	HYBOND_KIND_BOND = 2,		/* bonding, mode active-backup */
};

/* HYBOND_A_FLAGS, a bit mask */
enum hybond_flags {
	HYBOND_F_PINNED = 1 << 0,	/* TX pinned to the standby by the shim */
	HYBOND_F_CARRIER = 1 << 1,	/* the primary has carrier */
	HYBOND_F_TIMED_OUT = 1 << 2,	/* DRAINED: the cap expired first */
	HYBOND_F_NOT_ENSLAVED = 1 << 3,	/* PRIMARY_ARRIVING: MAC match only */
	HYBOND_F_RELEASED = 1 << 4,	/* DRAINED: RELEASE came (RX moved) */
	HYBOND_F_RX_TIMED_OUT = 1 << 5,	/* DRAINED: no RELEASE in rx_wait_ms */
};

enum hybond_attr {
	HYBOND_A_UNSPEC,
	HYBOND_A_MASTER_IFINDEX,	/* u32: net_failover master or bond */
	HYBOND_A_IFINDEX,		/* u32: the primary (VF) */
	HYBOND_A_STANDBY_IFINDEX,	/* u32: the virtio standby */
	HYBOND_A_MAC,			/* binary, ETH_ALEN: the primary's MAC */
	HYBOND_A_KIND,			/* u8: enum hybond_kind */
	HYBOND_A_FLAGS,			/* u32: HYBOND_F_* */
	HYBOND_A_TX_IFINDEX,		/* u32: the slave TX goes to, 0 if none */
	HYBOND_A_PAIR,			/* nest: STATUS reply, one per pair */
	HYBOND_A_DRAIN_US,		/* u32: DRAINED: time spent draining */
	HYBOND_A_BACKLOG_PKTS,		/* u32: packets still queued (qdisc) */
	HYBOND_A_BACKLOG_BYTES,		/* u32: bytes in the driver (BQL) */
	HYBOND_A_CARRIER_UPS,		/* u32: the primary's carrier_up_count */
	HYBOND_A_RELEASE_US,		/* u32: DRAINED: barrier start to RELEASE */

	__HYBOND_A_MAX,
	HYBOND_A_MAX = __HYBOND_A_MAX - 1
};

#endif /* _UAPI_LINUX_HYBOND_GENL_H */
