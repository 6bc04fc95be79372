/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* link.h — one network interface as rtnetlink describes it (RTM_NEWLINK).
 *
 * gd_link_parse() turns an RTM_NEWLINK/RTM_DELLINK message into a struct
 * gd_link without touching the system, so that captured kernel messages
 * (tests/data/netlink/) drive the unit tests exactly as the live socket does.
 */
#ifndef GD_LINK_H
#define GD_LINK_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

struct nlmsghdr;

/* What a link is to hybond, from its parent bus and link kind. */
enum gd_link_role {
	GD_ROLE_OTHER = 0,
	GD_ROLE_VIRTIO,   /* parent on the virtio bus: a standby, or a net_failover master */
	GD_ROLE_PCI,      /* parent on the pci bus: a VF candidate */
	GD_ROLE_BOND,     /* IFLA_INFO_KIND "bond" */
};

struct gd_link {
	int ifindex;
	char name[IFNAMSIZ];
	uint8_t mac[6];
	uint8_t perm_mac[6];      /* IFLA_PERM_ADDRESS; zero when the driver has none */
	unsigned int flags;       /* ifi_flags (IFF_UP, IFF_LOWER_UP, ...) */
	uint8_t carrier;          /* IFLA_CARRIER, else IFF_LOWER_UP */
	int master;               /* IFLA_MASTER ifindex, 0 = none */
	char kind[16];            /* IFLA_INFO_KIND ("bond"), "" when none */
	char slave_kind[16];      /* IFLA_INFO_SLAVE_KIND ("bond") */
	char parent_bus[16];      /* IFLA_PARENT_DEV_BUS_NAME: "virtio", "pci" */
	char parent_dev[32];      /* IFLA_PARENT_DEV_NAME: "virtio0", "0000:01:00.0" */
	uint32_t num_tx_queues;
	/* bond masters (IFLA_INFO_DATA) */
	uint8_t bond_mode;        /* BOND_MODE_*; 1 = active-backup */
	int bond_active;          /* IFLA_BOND_ACTIVE_SLAVE ifindex */
	int bond_primary;         /* IFLA_BOND_PRIMARY ifindex */
	uint8_t bond_all_active;  /* IFLA_BOND_ALL_SLAVES_ACTIVE */
	/* counters (IFLA_STATS64) */
	uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes, drops;
};

/*
 * Parses one RTM_NEWLINK or RTM_DELLINK message.  Returns 1 for NEWLINK,
 * 0 for DELLINK (only ifindex and name are meaningful then), or -EINVAL when
 * the message is not a well-formed link message.
 */
int gd_link_parse(const struct nlmsghdr *nlh, struct gd_link *l);

enum gd_link_role gd_link_role(const struct gd_link *l);
bool gd_link_is_up(const struct gd_link *l);      /* IFF_UP and carrier */
/* The MAC that identifies the link: the permanent one when known. */
const uint8_t *gd_link_id_mac(const struct gd_link *l);

#endif
