// SPDX-License-Identifier: LGPL-2.1-or-later
/* shim.c — nlctrl request/answers and the events of the "hybond" genetlink
 * family (hybond_shim.ko), parsed without touching the system.
 *
 * The kernel is trusted-ish, but every length is checked anyway: a message
 * shorter than its headers, or an attribute of the wrong size, rejects the
 * whole message (libmnl's validators, one walk per message).
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <string.h>

#include "kmod-shim/hybond_genl.h"
#include "shim.h"

#define GENL_CTRL_VERSION 1     /* nlctrl's own version (kernel: genl_ctrl.version) */

const char *gd_shim_cmd_name(uint8_t cmd)
{
	switch (cmd) {
	case HYBOND_CMD_PRIMARY_ARRIVING: return "PRIMARY_ARRIVING";
	case HYBOND_CMD_CARRIER_UP: return "CARRIER_UP";
	case HYBOND_CMD_UNPLUG_STARTING: return "UNPLUG_STARTING";
	case HYBOND_CMD_DRAINED: return "DRAINED";
	case HYBOND_CMD_STATUS: return "STATUS";
	case HYBOND_CMD_PIN: return "PIN";
	case HYBOND_CMD_UNPIN: return "UNPIN";
	case HYBOND_CMD_RELEASE: return "RELEASE";
	default: return "?";
	}
}

struct nlmsghdr *gd_shim_put_req(void *buf, uint16_t type, uint8_t cmd, uint8_t version,
				 uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

struct nlmsghdr *gd_shim_getfamily(void *buf, uint32_t seq)
{
	struct nlmsghdr *nlh = gd_shim_put_req(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY,
					       GENL_CTRL_VERSION, seq);

	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, HYBOND_GENL_NAME);
	return nlh;
}

struct nlmsghdr *gd_shim_release_msg(void *buf, uint16_t family, uint32_t seq, int master)
{
	struct nlmsghdr *nlh;

	if (!family || master < 1)
		return NULL;
	nlh = gd_shim_put_req(buf, family, HYBOND_CMD_RELEASE, HYBOND_GENL_VERSION, seq);
	mnl_attr_put_u32(nlh, HYBOND_A_MASTER_IFINDEX, (uint32_t)master);
	return nlh;
}

/* The genetlink header, or NULL if the message is too short to hold it. */
static const struct genlmsghdr *genl_hdr(const struct nlmsghdr *nlh)
{
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct genlmsghdr)))
		return NULL;
	return mnl_nlmsg_get_payload(nlh);
}

/* Do the attributes after the genetlink header fill the message exactly,
 * each within nlmsg_len?  (libmnl's walk measures from the aligned end of the
 * message and stops quietly at an attribute that claims more than is left;
 * such a message is cut or corrupt, and is rejected as a whole.) */
static bool attrs_fill(const struct nlmsghdr *nlh)
{
	const char *p = mnl_nlmsg_get_payload_offset(nlh, sizeof(struct genlmsghdr));
	const char *end = (const char *)nlh + nlh->nlmsg_len;

	while (p < end) {
		const struct nlattr *a = (const struct nlattr *)p;

		if ((size_t)(end - p) < sizeof(*a) || a->nla_len < sizeof(*a) ||
		    a->nla_len > (size_t)(end - p))
			return false;
		p += MNL_ALIGN(a->nla_len);
	}
	return true;
}

/* ---- nlctrl ------------------------------------------------------------------ */

struct ctrl_walk {
	struct gd_shim_family *f;
	const char *name;
};

static int ctrl_group_cb(const struct nlattr *a, void *data)
{
	struct gd_shim_family *f = data;
	const struct nlattr *g;
	const char *name = NULL;
	uint32_t id = 0;

	/* one CTRL_ATTR_MCAST_GRP_* nest per group: { NAME, ID } */
	mnl_attr_for_each_nested(g, a) {
		if (mnl_attr_get_type(g) == CTRL_ATTR_MCAST_GRP_NAME) {
			if (mnl_attr_validate(g, MNL_TYPE_NUL_STRING) < 0)
				return MNL_CB_ERROR;
			name = mnl_attr_get_str(g);
		} else if (mnl_attr_get_type(g) == CTRL_ATTR_MCAST_GRP_ID) {
			if (mnl_attr_validate(g, MNL_TYPE_U32) < 0)
				return MNL_CB_ERROR;
			id = mnl_attr_get_u32(g);
		}
	}
	if (name && strcmp(name, HYBOND_GENL_MCGRP_EVENTS) == 0)
		f->events_grp = id;
	return MNL_CB_OK;
}

static int ctrl_attr_cb(const struct nlattr *a, void *data)
{
	struct ctrl_walk *w = data;

	switch (mnl_attr_get_type(a)) {
	case CTRL_ATTR_FAMILY_ID:
		if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
			return MNL_CB_ERROR;
		w->f->id = mnl_attr_get_u16(a);
		break;
	case CTRL_ATTR_FAMILY_NAME:
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
			return MNL_CB_ERROR;
		w->name = mnl_attr_get_str(a);
		break;
	case CTRL_ATTR_MCAST_GROUPS:
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0 ||
		    mnl_attr_parse_nested(a, ctrl_group_cb, w->f) < 0)
			return MNL_CB_ERROR;
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

int gd_shim_parse_ctrl(const struct nlmsghdr *nlh, struct gd_shim_family *f)
{
	const struct genlmsghdr *g = genl_hdr(nlh);
	struct ctrl_walk w = { .f = f, .name = NULL };

	memset(f, 0, sizeof(*f));
	if (!g || nlh->nlmsg_type != GENL_ID_CTRL)
		return -EINVAL;
	f->cmd = g->cmd;
	if (!attrs_fill(nlh) || mnl_attr_parse(nlh, sizeof(*g), ctrl_attr_cb, &w) < 0)
		return -EINVAL;
	if (!w.name || strcmp(w.name, HYBOND_GENL_NAME) != 0)
		return 0;
	return f->id ? 1 : -EINVAL;
}

/* ---- events of the family ------------------------------------------------------ */

/* Expected libmnl type of each attribute an event may carry (0: ignored). */
static const enum mnl_attr_data_type ev_policy[HYBOND_A_MAX + 1] = {
	[HYBOND_A_MASTER_IFINDEX] = MNL_TYPE_U32,
	[HYBOND_A_IFINDEX] = MNL_TYPE_U32,
	[HYBOND_A_STANDBY_IFINDEX] = MNL_TYPE_U32,
	[HYBOND_A_KIND] = MNL_TYPE_U8,
	[HYBOND_A_FLAGS] = MNL_TYPE_U32,
	[HYBOND_A_TX_IFINDEX] = MNL_TYPE_U32,
	[HYBOND_A_DRAIN_US] = MNL_TYPE_U32,
	[HYBOND_A_BACKLOG_PKTS] = MNL_TYPE_U32,
	[HYBOND_A_BACKLOG_BYTES] = MNL_TYPE_U32,
	[HYBOND_A_CARRIER_UPS] = MNL_TYPE_U32,
	[HYBOND_A_RELEASE_US] = MNL_TYPE_U32,
};

static int ev_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(a);

	if (type > HYBOND_A_MAX)
		return MNL_CB_OK;               /* newer module: attributes are added at the end */
	if (type == HYBOND_A_MAC) {
		if (mnl_attr_validate2(a, MNL_TYPE_BINARY, 6) < 0)
			return MNL_CB_ERROR;
	} else if (ev_policy[type] && mnl_attr_validate(a, ev_policy[type]) < 0) {
		return MNL_CB_ERROR;
	}
	tb[type] = a;
	return MNL_CB_OK;
}

/* An ifindex attribute as an int (0 when absent or out of range). */
static int ifindex_of(const struct nlattr *a)
{
	uint32_t v = a ? mnl_attr_get_u32(a) : 0;

	return v <= (uint32_t)INT32_MAX ? (int)v : 0;
}

int gd_shim_parse(const struct nlmsghdr *nlh, struct gd_shim_ev *ev)
{
	const struct genlmsghdr *g = genl_hdr(nlh);
	const struct nlattr *tb[HYBOND_A_MAX + 1] = { NULL };

	memset(ev, 0, sizeof(*ev));
	if (!g)
		return -EINVAL;
	switch (g->cmd) {
	case HYBOND_CMD_PRIMARY_ARRIVING:
	case HYBOND_CMD_CARRIER_UP:
	case HYBOND_CMD_UNPLUG_STARTING:
	case HYBOND_CMD_DRAINED:
		break;
	default:
		return 0;                       /* STATUS replies etc.: not for the agent */
	}
	if (!attrs_fill(nlh) || mnl_attr_parse(nlh, sizeof(*g), ev_attr_cb, tb) < 0)
		return -EINVAL;
	ev->cmd = g->cmd;
	ev->master = ifindex_of(tb[HYBOND_A_MASTER_IFINDEX]);
	if (ev->master < 1)
		return -EINVAL;
	ev->vf = ifindex_of(tb[HYBOND_A_IFINDEX]);
	ev->standby = ifindex_of(tb[HYBOND_A_STANDBY_IFINDEX]);
	ev->tx = ifindex_of(tb[HYBOND_A_TX_IFINDEX]);
	ev->kind = tb[HYBOND_A_KIND] ? mnl_attr_get_u8(tb[HYBOND_A_KIND]) : 0;
	ev->flags = tb[HYBOND_A_FLAGS] ? mnl_attr_get_u32(tb[HYBOND_A_FLAGS]) : 0;
	if (tb[HYBOND_A_DRAIN_US]) {
		ev->has_drain = true;
		ev->drain_us = mnl_attr_get_u32(tb[HYBOND_A_DRAIN_US]);
		ev->backlog_pkts = tb[HYBOND_A_BACKLOG_PKTS] ?
				   mnl_attr_get_u32(tb[HYBOND_A_BACKLOG_PKTS]) : 0;
		ev->backlog_bytes = tb[HYBOND_A_BACKLOG_BYTES] ?
				    mnl_attr_get_u32(tb[HYBOND_A_BACKLOG_BYTES]) : 0;
	}
	if (tb[HYBOND_A_RELEASE_US]) {
		ev->has_release = true;
		ev->release_us = mnl_attr_get_u32(tb[HYBOND_A_RELEASE_US]);
	}
	return 1;
}
