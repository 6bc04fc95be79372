/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* shim.h — the "hybond" generic netlink family of hybond_shim.ko, seen from
 * the agent (docs/kmod-shim.md; the ABI is kmod-shim/hybond_genl.h).
 *
 * Pure: builds the nlctrl request and parses nlctrl answers/notifications and
 * the family's events into small structs, so that hand-built messages drive
 * the unit tests exactly as the live socket does.  The socket is in nlsock.c,
 * the dispatch in main.c, what an event means in agent.c
 * (gd_agent_shim_event()).
 */
#ifndef GD_SHIM_H
#define GD_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nlmsghdr;

/* One event of the "events" multicast group. */
struct gd_shim_ev {
	uint8_t cmd;              /* HYBOND_CMD_PRIMARY_ARRIVING .. HYBOND_CMD_DRAINED */
	int master;               /* HYBOND_A_MASTER_IFINDEX, always >= 1 */
	int vf;                   /* HYBOND_A_IFINDEX, 0 when absent */
	int standby;              /* HYBOND_A_STANDBY_IFINDEX, 0 when absent */
	int tx;                   /* HYBOND_A_TX_IFINDEX, 0 when absent */
	uint8_t kind;             /* HYBOND_KIND_*, 0 when absent */
	uint32_t flags;           /* HYBOND_F_* */
	bool has_drain;           /* DRAINED: the three below are meaningful */
	uint32_t drain_us, backlog_pkts, backlog_bytes;
	bool has_release;         /* DRAINED with HYBOND_A_RELEASE_US */
	uint32_t release_us;      /* barrier start to the RELEASE that ended it */
};

/* What nlctrl says about the family (answer to GETFAMILY, or a notification). */
struct gd_shim_family {
	uint8_t cmd;              /* CTRL_CMD_NEWFAMILY, _DELFAMILY, _NEWMCAST_GRP, ... */
	uint16_t id;              /* CTRL_ATTR_FAMILY_ID, 0 when absent */
	uint32_t events_grp;      /* id of the "events" group, 0 when not listed */
};

/* Puts a genetlink request header (NLM_F_REQUEST | NLM_F_ACK, cmd, version) for
 * family id type into buf; the caller adds the attributes.  hybond-shimctl too. */
struct nlmsghdr *gd_shim_put_req(void *buf, uint16_t type, uint8_t cmd, uint8_t version,
				 uint32_t seq);

/* Builds CTRL_CMD_GETFAMILY "hybond" (with NLM_F_ACK) into buf (GD_NL_BUFSZ). */
struct nlmsghdr *gd_shim_getfamily(void *buf, uint32_t seq);

/* Builds HYBOND_CMD_RELEASE for that master (family id from nlctrl, with
 * NLM_F_ACK: the answer says whether a barrier was waiting) into buf
 * (GD_NL_BUFSZ).  Returns NULL when family or master is 0. */
struct nlmsghdr *gd_shim_release_msg(void *buf, uint16_t family, uint32_t seq, int master);

/*
 * Parses one nlctrl message (nlmsg_type GENL_ID_CTRL).  Returns 1 when it is
 * about the "hybond" family (f filled), 0 when it is about another family,
 * -EINVAL when it is malformed (too short, attribute of the wrong size).
 */
int gd_shim_parse_ctrl(const struct nlmsghdr *nlh, struct gd_shim_family *f);

/*
 * Parses one message of the family (nlmsg_type == the resolved id).  Returns
 * 1 for an event (ev filled), 0 for a command the agent does not handle,
 * -EINVAL when it is malformed: shorter than its headers, an attribute of
 * the wrong size, or no MASTER_IFINDEX >= 1.  Nothing of a rejected message
 * may be used.
 */
int gd_shim_parse(const struct nlmsghdr *nlh, struct gd_shim_ev *ev);

const char *gd_shim_cmd_name(uint8_t cmd);

#endif
