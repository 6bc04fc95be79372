/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/esw/esw_bridge.c — a Linux bridge as the NIC's embedded switch.
 *
 * The hardware-faithful model of the lab (docs/lab.md): the VM's MAC has a
 * static sticky FDB entry on the port RX must go to, and the VF's tap port
 * does not learn.  `sticky` matters: without it the kernel would let the
 * guest's frames on the other port silently move a static entry.
 *
 * Steering is ONE RTM_NEWNEIGH with NLM_F_CREATE|NLM_F_REPLACE naming the
 * other port: br_fdb_add() rewrites the existing entry's destination in
 * place under the FDB lock, so there is no instant without an entry (a
 * delete + add would flood the MAC's frames, or drop them on a NIC).
 *
 * The message layouts are iproute2's, byte for byte (tests/data/netlink-iproute2,
 * files *.strace): note the odd ndm_state NUD_NOARP|NUD_REACHABLE iproute2
 * sends for `static` (the bridge only tests NUD_NOARP/NUD_PERMANENT) and the
 * NLA_F_NESTED it sets on IFLA_PROTINFO.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esw.h"

#ifndef NTF_STICKY
#define NTF_STICKY (1 << 6)
#endif

struct br_priv {
	char bridge[IF_NAMESIZE];
	int ifindex;
};

static struct nlmsghdr *neigh_start(void *buf, uint32_t seq, uint16_t type, uint16_t flags,
				    int ifindex, uint16_t state, uint8_t ntf)
{
	struct nlmsghdr *nlh;
	struct ndmsg *ndm;

	memset(buf, 0, ESW_NL_BUFSZ);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = seq;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = AF_BRIDGE;
	ndm->ndm_ifindex = ifindex;
	ndm->ndm_state = state;
	ndm->ndm_flags = ntf;
	return nlh;
}

static void neigh_addr(struct nlmsghdr *nlh, const uint8_t mac[6], uint16_t vlan)
{
	mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
	if (vlan)
		mnl_attr_put_u16(nlh, NDA_VLAN, vlan);
}

struct nlmsghdr *esw_msg_fdb_sticky(void *buf, uint32_t seq, int ifindex,
				    const uint8_t mac[6], uint16_t vlan)
{
	struct nlmsghdr *nlh = neigh_start(buf, seq, RTM_NEWNEIGH,
					   NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
					   ifindex, NUD_NOARP | NUD_REACHABLE,
					   NTF_MASTER | NTF_STICKY);

	neigh_addr(nlh, mac, vlan);
	return nlh;
}

struct nlmsghdr *esw_msg_fdb_del(void *buf, uint32_t seq, int ifindex,
				 const uint8_t mac[6], uint16_t vlan)
{
	struct nlmsghdr *nlh = neigh_start(buf, seq, RTM_DELNEIGH, NLM_F_REQUEST | NLM_F_ACK,
					   ifindex, NUD_NOARP | NUD_PERMANENT, NTF_MASTER);

	neigh_addr(nlh, mac, vlan);
	return nlh;
}

struct nlmsghdr *esw_msg_fdb_self(void *buf, uint32_t seq, int ifindex,
				  const uint8_t mac[6], bool add)
{
	struct nlmsghdr *nlh = neigh_start(buf, seq, add ? RTM_NEWNEIGH : RTM_DELNEIGH,
					   add ? NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
					       : NLM_F_REQUEST | NLM_F_ACK,
					   ifindex, NUD_NOARP | NUD_PERMANENT, NTF_SELF);

	neigh_addr(nlh, mac, 0);
	return nlh;
}

struct nlmsghdr *esw_msg_learning(void *buf, uint32_t seq, int ifindex, bool on)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	struct nlattr *nest;

	memset(buf, 0, ESW_NL_BUFSZ);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_SETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_BRIDGE;
	ifm->ifi_index = ifindex;
	nest = mnl_attr_nest_start(nlh, IFLA_PROTINFO);   /* sets NLA_F_NESTED, like iproute2 */
	mnl_attr_put_u8(nlh, IFLA_BRPORT_LEARNING, on ? 1 : 0);
	mnl_attr_nest_end(nlh, nest);
	return nlh;
}

/* ---- the backend ------------------------------------------------------------ */

static int br_open(struct esw *e, const struct esw_config *cfg)
{
	struct br_priv *p;
	struct esw_link l;
	int err;

	if (!cfg->bridge || !*cfg->bridge || strlen(cfg->bridge) >= IF_NAMESIZE)
		return esw_fail(e, -EINVAL, "bridge eswitch: no (valid) bridge name given");
	p = calloc(1, sizeof(*p));
	if (!p)
		return esw_fail(e, -ENOMEM, "bridge eswitch: out of memory");
	e->priv = p;
	(void)snprintf(p->bridge, sizeof(p->bridge), "%s", cfg->bridge);
	if (e->xmit)
		return 0;       /* tests: no kernel */
	err = esw_link_get(e, cfg->bridge, &l);
	if (err < 0)
		return esw_fail(e, err, "bridge %s%s%s: %s", cfg->bridge, e->netns[0] ? " in netns " : "",
				e->netns, err == -ENODEV ? "no such link" : strerror(-err));
	if (strcmp(l.kind, "bridge") != 0)
		return esw_fail(e, -EINVAL, "%s is a '%s' link, not a bridge", cfg->bridge,
				l.kind[0] ? l.kind : "plain");
	p->ifindex = l.ifindex;
	return 0;
}

static void br_close(struct esw *e)
{
	free(e->priv);
	e->priv = NULL;
}

static int br_port_lookup(struct esw *e, const char *name, enum esw_port_kind kind,
			  struct esw_port *out)
{
	struct br_priv *p = e->priv;
	struct esw_link l;
	int err;

	if (strlen(name) >= IF_NAMESIZE)
		return esw_fail(e, -EINVAL, "port name '%s' is too long", name);
	err = esw_link_get(e, name, &l);
	if (err == -ENODEV)
		return esw_fail(e, err, "no link named '%s'%s%s", name,
				e->netns[0] ? " in netns " : "", e->netns);
	if (err < 0)
		return esw_fail(e, err, "looking up port %s: %s", name, strerror(-err));
	if (l.master != p->ifindex)
		return esw_fail(e, -EINVAL, "%s is not a port of bridge %s (ip link set %s master %s)",
				name, p->bridge, name, p->bridge);
	out->kind = kind;
	out->ifindex = l.ifindex;
	out->vf = -1;
	(void)snprintf(out->name, sizeof(out->name), "%s", name);
	return 0;
}

static int fdb_replace(struct esw *e, const struct esw_port *port, const uint8_t mac[6],
		       uint16_t vlan)
{
	char buf[ESW_NL_BUFSZ], m[18], v[16] = "";
	int err = esw_nl_talk(e, esw_msg_fdb_sticky(buf, 0, port->ifindex, mac, vlan), NULL, NULL);

	if (vlan)
		(void)snprintf(v, sizeof(v), " vlan %u", vlan);
	if (err < 0)
		return esw_fail(e, err, "bridge fdb replace %s dev %s master static sticky%s: %s%s",
				esw_mac_str(mac, m), port->name, v, strerror(-err),
				err == -EINVAL && vlan ? " (is the VLAN configured on the port?)" : "");
	return 0;
}

static int fdb_delete(struct esw *e, const struct esw_port *port, const uint8_t mac[6],
		      uint16_t vlan)
{
	char buf[ESW_NL_BUFSZ];

	return esw_nl_talk(e, esw_msg_fdb_del(buf, 0, port->ifindex, mac, vlan), NULL, NULL);
}

static int br_steer(struct esw *e, const struct esw_steer_req *req)
{
	char m[18];
	int err, err2;

	if (req->to == ESW_TO_VF)
		return fdb_replace(e, req->vf, req->mac, req->vlan);
	if (!req->standby)
		return esw_fail(e, -EINVAL, "bridge steer: the standby port is required");
	if (req->to == ESW_TO_STANDBY)
		return fdb_replace(e, req->standby, req->mac, req->vlan);
	/* ESW_TO_NONE: the entry may sit on either port; absent on both is fine. */
	err = fdb_delete(e, req->vf, req->mac, req->vlan);
	err2 = fdb_delete(e, req->standby, req->mac, req->vlan);
	if (err < 0 && err != -ENOENT)
		return esw_fail(e, err, "bridge fdb del %s dev %s master: %s",
				esw_mac_str(req->mac, m), req->vf->name, strerror(-err));
	if (err2 < 0 && err2 != -ENOENT)
		return esw_fail(e, err2, "bridge fdb del %s dev %s master: %s",
				esw_mac_str(req->mac, m), req->standby->name, strerror(-err2));
	return 0;
}

/*
 * A bridge port has no VF settings: the MAC becomes the port's static sticky
 * entry (what a VF MAC filter does on a NIC), learning follows cfg (a VF port
 * must not learn).  spoofchk, trust, link_state and the port VLAN are not
 * modelled by the lab's bridge: asking to change them is an error, so a
 * caller never believes a setting took effect.
 */
static int br_program_vf(struct esw *e, const struct esw_port *vf, const struct esw_vf_cfg *cfg)
{
	char buf[ESW_NL_BUFSZ];
	uint8_t zero[6] = { 0 };
	int err;

	if (cfg->spoofchk != ESW_LEAVE || cfg->trust != ESW_LEAVE ||
	    cfg->link_state != ESW_LEAVE || cfg->set_vlan)
		return esw_fail(e, -EOPNOTSUPP, "the bridge eswitch models only the VF's MAC filter "
				"and learning; spoofchk/trust/state/vlan need sriov-legacy");
	if (cfg->learning != ESW_LEAVE) {
		err = esw_nl_talk(e, esw_msg_learning(buf, 0, vf->ifindex, cfg->learning != 0), NULL, NULL);
		if (err < 0)
			return esw_fail(e, err, "bridge link set dev %s learning %s: %s", vf->name,
					cfg->learning ? "on" : "off", strerror(-err));
	}
	if (cfg->set_mac && memcmp(cfg->mac, zero, 6) != 0)
		return fdb_replace(e, vf, cfg->mac, 0);
	return 0;
}

static int br_describe(struct esw *e, char *buf, size_t len)
{
	struct br_priv *p = e->priv;

	(void)snprintf(buf, len, "bridge eswitch %s (ifindex %d)%s%s", p->bridge, p->ifindex,
		       e->netns[0] ? " in netns " : "", e->netns);
	return 0;
}

const struct esw_ops esw_bridge_ops = {
	.kind = "bridge",
	.open = br_open,
	.port_lookup = br_port_lookup,
	.steer = br_steer,
	.program_vf = br_program_vf,
	.describe = br_describe,
	.close = br_close,
};
