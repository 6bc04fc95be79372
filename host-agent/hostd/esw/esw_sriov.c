/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/esw/esw_sriov.c — a real PF in legacy SR-IOV mode as the eswitch.
 *
 * VFs are found through sysfs (ROOT/class/net/PF/device/sriov_numvfs and the
 * virtfnN links to each VF's PCI function, whose net/ directory names the
 * VF's netdev when a host driver is bound); ROOT is configurable so tests
 * run on a fake tree (tests/data/sysfs-sriov).
 *
 * VF settings are one RTM_NEWLINK on the PF carrying IFLA_VFINFO_LIST ->
 * IFLA_VF_INFO -> IFLA_VF_MAC / IFLA_VF_VLAN (IFLA_VF_VLAN_LIST for 802.1ad) /
 * IFLA_VF_SPOOFCHK / IFLA_VF_TRUST / IFLA_VF_LINK_STATE, exactly as
 * `ip link set dev PF vf N …` sends it (tests/data/netlink-iproute2/vf-*.strace;
 * iproute2 sets no NLA_F_NESTED on these nests).
 *
 * Steering on a legacy NIC (docs/host-agent.md has the per-driver detail):
 *   to VF       the VF's MAC filter = the VM's MAC: the NIC delivers to the VF.
 *   to standby  the VF's MAC filter cleared (00:…:00): frames for the MAC no
 *               longer match the VF and take the PF's path (the PF in
 *               promiscuous mode on a bridge with the standby's tap, or — with
 *               pf_uc_filter — an explicit NTF_SELF entry in the PF's unicast
 *               filter); optionally the VF's link is forced down.
 * Unlike the bridge, this is two filter operations on the NIC: the order
 * (add the new path first, then remove the old) keeps the window to what the
 * NIC's own filter update costs.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esw.h"

#define SRIOV_MAX_VFS 256

struct sriov_priv {
	char root[PATH_MAX / 2];
	char pf[IF_NAMESIZE];
	int pf_ifindex;
	int numvfs;
	bool pf_uc_filter, vf_link_disable;
};

/* ---- message builder ------------------------------------------------------ */

struct nlmsghdr *esw_msg_vf(void *buf, uint32_t seq, int pf_ifindex, int vf,
			    const struct esw_vf_cfg *cfg)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	struct nlattr *list, *info;
	uint32_t v = (uint32_t)vf;

	memset(buf, 0, ESW_NL_BUFSZ);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = pf_ifindex;
	/* iproute2's addattr_nest() sets no NLA_F_NESTED: keep its bytes */
	list = mnl_attr_nest_start(nlh, IFLA_VFINFO_LIST);
	list->nla_type = IFLA_VFINFO_LIST;
	info = mnl_attr_nest_start(nlh, IFLA_VF_INFO);
	info->nla_type = IFLA_VF_INFO;
	if (cfg->set_mac) {
		struct ifla_vf_mac m = { .vf = v };

		memcpy(m.mac, cfg->mac, 6);
		mnl_attr_put(nlh, IFLA_VF_MAC, sizeof(m), &m);
	}
	if (cfg->set_vlan) {
		if (cfg->vlan_proto && cfg->vlan_proto != ETH_P_8021Q) {
			struct ifla_vf_vlan_info vi;
			struct nlattr *vl = mnl_attr_nest_start(nlh, IFLA_VF_VLAN_LIST);

			memset(&vi, 0, sizeof(vi));     /* tail padding goes on the wire */
			vi.vf = v;
			vi.vlan = cfg->vlan;
			vi.qos = cfg->qos;
			vi.vlan_proto = htons(cfg->vlan_proto);

			vl->nla_type = IFLA_VF_VLAN_LIST;
			mnl_attr_put(nlh, IFLA_VF_VLAN_INFO, sizeof(vi), &vi);
			mnl_attr_nest_end(nlh, vl);
		} else {
			struct ifla_vf_vlan vv = { .vf = v, .vlan = cfg->vlan, .qos = cfg->qos };

			mnl_attr_put(nlh, IFLA_VF_VLAN, sizeof(vv), &vv);
		}
	}
	if (cfg->spoofchk != ESW_LEAVE) {
		struct ifla_vf_spoofchk s = { .vf = v, .setting = cfg->spoofchk ? 1 : 0 };

		mnl_attr_put(nlh, IFLA_VF_SPOOFCHK, sizeof(s), &s);
	}
	if (cfg->trust != ESW_LEAVE) {
		struct ifla_vf_trust t = { .vf = v, .setting = cfg->trust ? 1 : 0 };

		mnl_attr_put(nlh, IFLA_VF_TRUST, sizeof(t), &t);
	}
	if (cfg->link_state != ESW_LEAVE) {
		struct ifla_vf_link_state ls = { .vf = v, .link_state = (uint32_t)cfg->link_state };

		mnl_attr_put(nlh, IFLA_VF_LINK_STATE, sizeof(ls), &ls);
	}
	mnl_attr_nest_end(nlh, info);
	mnl_attr_nest_end(nlh, list);
	return nlh;
}

/* ---- sysfs ------------------------------------------------------------------- */

static int read_int(const char *path, int *out)
{
	char buf[32], *end;
	FILE *f = fopen(path, "re");
	long v;

	if (!f)
		return -errno;
	if (!fgets(buf, sizeof(buf), f)) {
		(void)fclose(f);
		return -EIO;
	}
	(void)fclose(f);
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || v < 0 || v > INT_MAX)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* VF n's PCI address and (if a host driver is bound) netdev name. */
static int vf_info(const struct sriov_priv *p, int vf, char pci[16], char name[IF_NAMESIZE])
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *base;
	struct dirent *d;
	ssize_t n;
	DIR *dir;

	pci[0] = name[0] = '\0';
	(void)snprintf(path, sizeof(path), "%s/class/net/%s/device/virtfn%d", p->root, p->pf, vf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) >= 16)
		return -EINVAL;
	memcpy(pci, base, strlen(base) + 1);
	(void)snprintf(path, sizeof(path), "%s/class/net/%s/device/virtfn%d/net", p->root, p->pf, vf);
	dir = opendir(path);
	if (!dir)
		return 0;       /* bound to vfio-pci (or no driver): no netdev */
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.' || strlen(d->d_name) >= IF_NAMESIZE)
			continue;
		memcpy(name, d->d_name, strlen(d->d_name) + 1);
		break;
	}
	(void)closedir(dir);
	return 0;
}

static int sr_open(struct esw *e, const struct esw_config *cfg)
{
	struct sriov_priv *p;
	char path[PATH_MAX];
	int err;

	if (!cfg->pf || !*cfg->pf || strlen(cfg->pf) >= IF_NAMESIZE || strchr(cfg->pf, '/'))
		return esw_fail(e, -EINVAL, "sriov-legacy eswitch: no (valid) PF name given");
	if (cfg->netns && *cfg->netns)
		return esw_fail(e, -EINVAL, "sriov-legacy works in the PF's own (the host's) network "
				"namespace: leave netns unset");
	p = calloc(1, sizeof(*p));
	if (!p)
		return esw_fail(e, -ENOMEM, "sriov-legacy: out of memory");
	e->priv = p;
	(void)snprintf(p->root, sizeof(p->root), "%s", cfg->sysfs_root ? cfg->sysfs_root : "/sys");
	(void)snprintf(p->pf, sizeof(p->pf), "%s", cfg->pf);
	p->pf_uc_filter = cfg->pf_uc_filter;
	p->vf_link_disable = cfg->vf_link_disable;
	(void)snprintf(path, sizeof(path), "%s/class/net/%s/ifindex", p->root, p->pf);
	err = read_int(path, &p->pf_ifindex);
	if (err < 0)
		return esw_fail(e, err, "PF %s: cannot read %s: %s (is it a network device?)",
				p->pf, path, strerror(-err));
	(void)snprintf(path, sizeof(path), "%s/class/net/%s/device/sriov_numvfs", p->root, p->pf);
	err = read_int(path, &p->numvfs);
	if (err < 0)
		return esw_fail(e, err, "PF %s: cannot read %s: %s (not an SR-IOV capable PCI function?)",
				p->pf, path, strerror(-err));
	if (p->numvfs == 0)
		return esw_fail(e, -ENODEV, "PF %s has no VFs: create them first "
				"(echo N > %s/class/net/%s/device/sriov_numvfs)", p->pf, p->root, p->pf);
	if (p->numvfs > SRIOV_MAX_VFS)
		return esw_fail(e, -EINVAL, "PF %s: sriov_numvfs %d is implausible", p->pf, p->numvfs);
	return 0;
}

static void sr_close(struct esw *e)
{
	free(e->priv);
	e->priv = NULL;
}

static int sr_port_lookup(struct esw *e, const char *name, enum esw_port_kind kind,
			  struct esw_port *out)
{
	struct sriov_priv *p = e->priv;
	char pci[16], ifname[IF_NAMESIZE], *end = NULL;
	long n = -1;
	int vf;

	out->kind = kind;
	out->ifindex = p->pf_ifindex;
	out->vf = -1;
	if (kind == ESW_PORT_STANDBY) {
		if (strcmp(name, p->pf) != 0)
			return esw_fail(e, -EINVAL, "the standby port of sriov-legacy is the PF %s, "
					"not '%s'", p->pf, name);
		(void)snprintf(out->name, sizeof(out->name), "%s", p->pf);
		return 0;
	}
	if (!strncmp(name, "vf", 2) && name[2] >= '0' && name[2] <= '9')
		n = strtol(name + 2, &end, 10);
	else if (name[0] >= '0' && name[0] <= '9' && !strchr(name, ':'))
		n = strtol(name, &end, 10);
	if (n >= 0 && end && *end)
		n = -1;
	for (vf = 0; vf < p->numvfs; vf++) {
		if (vf_info(p, vf, pci, ifname) < 0)
			continue;
		if (vf == n || !strcmp(name, pci) || (ifname[0] && !strcmp(name, ifname))) {
			out->vf = vf;
			memcpy(out->pci, pci, sizeof(pci));
			memcpy(out->name, ifname, sizeof(ifname));
			return 0;
		}
	}
	return esw_fail(e, -ENODEV, "PF %s has no VF '%s' (%d VFs: use vfN, N, the VF's netdev "
			"or PCI address)", p->pf, name, p->numvfs);
}

static int vf_apply(struct esw *e, const struct esw_port *vf, const struct esw_vf_cfg *cfg)
{
	struct sriov_priv *p = e->priv;
	char buf[ESW_NL_BUFSZ];
	int err = esw_nl_talk(e, esw_msg_vf(buf, 0, p->pf_ifindex, vf->vf, cfg), NULL, NULL);

	if (err < 0)
		return esw_fail(e, err, "ip link set dev %s vf %d …: %s%s", p->pf, vf->vf, strerror(-err),
				err == -EOPNOTSUPP ? " (the PF driver does not support this VF setting)" :
				err == -EPERM ? " (needs CAP_NET_ADMIN)" : "");
	return 0;
}

static int pf_filter(struct esw *e, const uint8_t mac[6], bool add)
{
	struct sriov_priv *p = e->priv;
	char buf[ESW_NL_BUFSZ], m[18];
	int err = esw_nl_talk(e, esw_msg_fdb_self(buf, 0, p->pf_ifindex, mac, add), NULL, NULL);

	if (err == (add ? -EEXIST : -ENOENT))
		return 0;
	if (err < 0)
		return esw_fail(e, err, "bridge fdb %s %s dev %s self: %s", add ? "add" : "del",
				esw_mac_str(mac, m), p->pf, strerror(-err));
	return 0;
}

static int sr_steer(struct esw *e, const struct esw_steer_req *req)
{
	struct sriov_priv *p = e->priv;
	struct esw_vf_cfg cfg;
	int err;

	if (req->vf->vf < 0 || req->vf->vf >= p->numvfs)
		return esw_fail(e, -EINVAL, "steer: '%s' is not a VF of %s", req->vf->name, p->pf);
	esw_vf_cfg_init(&cfg);
	cfg.set_mac = true;
	if (req->to == ESW_TO_VF) {
		memcpy(cfg.mac, req->mac, 6);
		cfg.set_vlan = req->vlan != 0;
		cfg.vlan = req->vlan;
		if (p->vf_link_disable)
			cfg.link_state = IFLA_VF_LINK_STATE_AUTO;
		err = vf_apply(e, req->vf, &cfg);
		if (err == 0 && p->pf_uc_filter)
			err = pf_filter(e, req->mac, false);
		return err;
	}
	/* standby / none: the new path first (PF filter), then drop the VF's */
	if (req->to == ESW_TO_STANDBY && p->pf_uc_filter) {
		err = pf_filter(e, req->mac, true);
		if (err < 0)
			return err;
	}
	if (p->vf_link_disable)
		cfg.link_state = IFLA_VF_LINK_STATE_DISABLE;
	err = vf_apply(e, req->vf, &cfg);       /* cfg.mac is all zero: clears the filter */
	if (err == 0 && req->to == ESW_TO_NONE && p->pf_uc_filter)
		err = pf_filter(e, req->mac, false);
	return err;
}

static int sr_program_vf(struct esw *e, const struct esw_port *vf, const struct esw_vf_cfg *cfg)
{
	struct sriov_priv *p = e->priv;

	if (vf->vf < 0 || vf->vf >= p->numvfs)
		return esw_fail(e, -EINVAL, "'%s' is not a VF of %s", vf->name, p->pf);
	if (cfg->learning != ESW_LEAVE)
		return esw_fail(e, -EOPNOTSUPP, "learning is a bridge setting: a legacy NIC filters "
				"by the VF's MAC");
	if (!cfg->set_mac && !cfg->set_vlan && cfg->spoofchk == ESW_LEAVE &&
	    cfg->trust == ESW_LEAVE && cfg->link_state == ESW_LEAVE)
		return 0;
	return vf_apply(e, vf, cfg);
}

static int sr_describe(struct esw *e, char *buf, size_t len)
{
	struct sriov_priv *p = e->priv;
	char pci[16], name[IF_NAMESIZE];
	size_t off;
	int vf, n;

	n = snprintf(buf, len, "sriov-legacy eswitch PF %s (ifindex %d), %d VFs:", p->pf,
		     p->pf_ifindex, p->numvfs);
	off = n < 0 ? 0 : (size_t)n;
	for (vf = 0; vf < p->numvfs && off < len; vf++) {
		if (vf_info(p, vf, pci, name) < 0)
			(void)snprintf(pci, sizeof(pci), "?");
		n = snprintf(buf + off, len - off, " vf%d=%s%s%s", vf, pci, name[0] ? "/" : "", name);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	return off >= len ? -ENOSPC : 0;
}

const struct esw_ops esw_sriov_ops = {
	.kind = "sriov-legacy",
	.open = sr_open,
	.port_lookup = sr_port_lookup,
	.steer = sr_steer,
	.program_vf = sr_program_vf,
	.describe = sr_describe,
	.close = sr_close,
};
