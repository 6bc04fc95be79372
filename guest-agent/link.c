// SPDX-License-Identifier: LGPL-2.1-or-later
/* link.c — RTM_NEWLINK / RTM_DELLINK into struct gd_link (pure: no syscalls). */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <string.h>

#include "link.h"

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000 /* linux/if.h; not in glibc's net/if.h */
#endif

static void copy_str(char *dst, size_t cap, const struct nlattr *a)
{
	const char *s = mnl_attr_get_str(a);
	size_t n = strnlen(s, mnl_attr_get_payload_len(a));

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static int bond_data_cb(const struct nlattr *a, void *data)
{
	struct gd_link *l = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_BOND_MODE:
		if (mnl_attr_validate(a, MNL_TYPE_U8) == 0)
			l->bond_mode = mnl_attr_get_u8(a);
		break;
	case IFLA_BOND_ACTIVE_SLAVE:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			l->bond_active = (int)mnl_attr_get_u32(a);
		break;
	case IFLA_BOND_PRIMARY:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			l->bond_primary = (int)mnl_attr_get_u32(a);
		break;
	case IFLA_BOND_ALL_SLAVES_ACTIVE:
		if (mnl_attr_validate(a, MNL_TYPE_U8) == 0)
			l->bond_all_active = mnl_attr_get_u8(a);
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

static int linkinfo_cb(const struct nlattr *a, void *data)
{
	struct gd_link *l = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_INFO_KIND:
		if (mnl_attr_validate(a, MNL_TYPE_STRING) == 0)
			copy_str(l->kind, sizeof(l->kind), a);
		break;
	case IFLA_INFO_SLAVE_KIND:
		if (mnl_attr_validate(a, MNL_TYPE_STRING) == 0)
			copy_str(l->slave_kind, sizeof(l->slave_kind), a);
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

/* IFLA_INFO_DATA is only meaningful once IFLA_INFO_KIND is known: second pass. */
static int linkinfo_data_cb(const struct nlattr *a, void *data)
{
	struct gd_link *l = data;

	if (mnl_attr_get_type(a) == IFLA_INFO_DATA && strcmp(l->kind, "bond") == 0)
		(void)mnl_attr_parse_nested(a, bond_data_cb, l);
	return MNL_CB_OK;
}

static void parse_stats(struct gd_link *l, const struct nlattr *a)
{
	struct rtnl_link_stats64 st;

	if (mnl_attr_get_payload_len(a) < sizeof(st))
		return;
	memcpy(&st, mnl_attr_get_payload(a), sizeof(st));
	l->rx_packets = st.rx_packets;
	l->tx_packets = st.tx_packets;
	l->rx_bytes = st.rx_bytes;
	l->tx_bytes = st.tx_bytes;
	l->drops = st.rx_dropped + st.tx_dropped;
}

static int link_attr_cb(const struct nlattr *a, void *data)
{
	struct gd_link *l = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(a, MNL_TYPE_STRING) == 0)
			copy_str(l->name, sizeof(l->name), a);
		break;
	case IFLA_ADDRESS:
		if (mnl_attr_get_payload_len(a) == 6)
			memcpy(l->mac, mnl_attr_get_payload(a), 6);
		break;
	case IFLA_PERM_ADDRESS:
		if (mnl_attr_get_payload_len(a) == 6)
			memcpy(l->perm_mac, mnl_attr_get_payload(a), 6);
		break;
	case IFLA_MASTER:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			l->master = (int)mnl_attr_get_u32(a);
		break;
	case IFLA_CARRIER:
		if (mnl_attr_validate(a, MNL_TYPE_U8) == 0)
			l->carrier = mnl_attr_get_u8(a) ? 1 : 0;
		break;
	case IFLA_NUM_TX_QUEUES:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			l->num_tx_queues = mnl_attr_get_u32(a);
		break;
	case IFLA_PARENT_DEV_NAME:
		if (mnl_attr_validate(a, MNL_TYPE_STRING) == 0)
			copy_str(l->parent_dev, sizeof(l->parent_dev), a);
		break;
	case IFLA_PARENT_DEV_BUS_NAME:
		if (mnl_attr_validate(a, MNL_TYPE_STRING) == 0)
			copy_str(l->parent_bus, sizeof(l->parent_bus), a);
		break;
	case IFLA_LINKINFO:
		if (mnl_attr_parse_nested(a, linkinfo_cb, l) == MNL_CB_OK)
			(void)mnl_attr_parse_nested(a, linkinfo_data_cb, l);
		break;
	case IFLA_STATS64:
		parse_stats(l, a);
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

int gd_link_parse(const struct nlmsghdr *nlh, struct gd_link *l)
{
	const struct ifinfomsg *ifi;

	memset(l, 0, sizeof(*l));
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifi)) ||
	    (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK))
		return -EINVAL;
	ifi = mnl_nlmsg_get_payload(nlh);
	if (ifi->ifi_index <= 0)
		return -EINVAL;
	l->ifindex = ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	l->carrier = (ifi->ifi_flags & IFF_LOWER_UP) ? 1 : 0;
	if (mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, l) != MNL_CB_OK)
		return -EINVAL;
	return nlh->nlmsg_type == RTM_NEWLINK ? 1 : 0;
}

enum gd_link_role gd_link_role(const struct gd_link *l)
{
	if (strcmp(l->kind, "bond") == 0)
		return GD_ROLE_BOND;
	if (strcmp(l->parent_bus, "virtio") == 0)
		return GD_ROLE_VIRTIO;
	if (strcmp(l->parent_bus, "pci") == 0)
		return GD_ROLE_PCI;
	return GD_ROLE_OTHER;
}

bool gd_link_is_up(const struct gd_link *l)
{
	return (l->flags & IFF_UP) && l->carrier;
}

const uint8_t *gd_link_id_mac(const struct gd_link *l)
{
	static const uint8_t zero[6];

	return memcmp(l->perm_mac, zero, 6) != 0 ? l->perm_mac : l->mac;
}
