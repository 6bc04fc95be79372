/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/esw/esw.c — the generic part of the eswitch backends (see esw.h):
 * backend selection, the rtnetlink socket (opened inside the requested
 * network namespace), request/ACK, link lookup, errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "esw.h"

static const struct esw_ops *const backends[] = { &esw_bridge_ops, &esw_sriov_ops };

int esw_fail(struct esw *e, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): false positive (va_start above) */
	(void)vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
	return err;
}

const char *esw_errmsg(const struct esw *e)
{
	return e ? e->err : "out of memory";
}

const char *esw_kind(const struct esw *e)
{
	return e && e->ops ? e->ops->kind : "?";
}

const char *esw_mac_str(const uint8_t mac[6], char buf[18])
{
	(void)snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
		       mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

int esw_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;
	int i;

	if (!s || strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		if (s[(size_t)i * 3] == ' ' || s[(size_t)i * 3] == '+' || s[(size_t)i * 3] == '-')
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	if (mac[0] & 1)         /* multicast or broadcast */
		return -EINVAL;
	for (i = 0; i < 6; i++)
		if (mac[i])
			return 0;
	return -EINVAL;         /* all zero */
}

void esw_vf_cfg_init(struct esw_vf_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->spoofchk = ESW_LEAVE;
	cfg->trust = ESW_LEAVE;
	cfg->link_state = ESW_LEAVE;
	cfg->learning = ESW_LEAVE;
}

/*
 * Open the rtnetlink socket in the namespace: a socket stays in the
 * namespace it was created in, so switching this thread there and back
 * around socket() is enough (and works whether or not other threads exist).
 */
static int nl_open(struct esw *e, const char *netns)
{
	char path[192];
	int self = -1, target = -1, err = 0;

	if (netns && *netns) {
		if (netns[0] == '/')
			(void)snprintf(path, sizeof(path), "%s", netns);
		else if (strchr(netns, '/') || strlen(netns) > 100)
			return esw_fail(e, -EINVAL, "invalid netns name '%s'", netns);
		else
			(void)snprintf(path, sizeof(path), "/run/netns/%s", netns);
		(void)snprintf(e->netns, sizeof(e->netns), "%s", netns);
		self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (self < 0)
			return esw_fail(e, -errno, "open /proc/self/ns/net: %s", strerror(errno));
		target = open(path, O_RDONLY | O_CLOEXEC);
		if (target < 0) {
			err = esw_fail(e, -errno, "network namespace %s: %s (does 'ip netns list' show it?)",
				       path, strerror(errno));
			goto out;
		}
		if (setns(target, CLONE_NEWNET) < 0) {
			err = esw_fail(e, -errno, "setns %s: %s (needs CAP_SYS_ADMIN)", path, strerror(errno));
			goto out;
		}
	}
	e->nl = mnl_socket_open(NETLINK_ROUTE);
	if (!e->nl)
		err = esw_fail(e, -errno, "rtnetlink socket: %s", strerror(errno));
	else if (mnl_socket_bind(e->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		err = esw_fail(e, -errno, "rtnetlink bind: %s", strerror(errno));
	else
		e->portid = mnl_socket_get_portid(e->nl);
	if (self >= 0 && setns(self, CLONE_NEWNET) < 0) {
		/* We would now act on the wrong namespace: refuse to go on. */
		err = esw_fail(e, -errno, "could not return to the daemon's network namespace: %s",
			       strerror(errno));
	}
out:
	if (target >= 0)
		(void)close(target);
	if (self >= 0)
		(void)close(self);
	return err;
}

int esw_open(const struct esw_config *cfg, struct esw **out)
{
	struct esw *e;
	size_t i;
	int err;

	*out = NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	*out = e;
	e->seq = (uint32_t)time(NULL);
	for (i = 0; cfg && cfg->kind && i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->kind, cfg->kind) == 0)
			e->ops = backends[i];
	if (!e->ops)
		return esw_fail(e, -EINVAL, "unknown eswitch kind '%s' (bridge, sriov-legacy)",
				cfg && cfg->kind ? cfg->kind : "(none)");
	if (cfg->xmit) {
		e->xmit = cfg->xmit;
		e->xmit_arg = cfg->xmit_arg;
	} else {
		err = nl_open(e, cfg->netns);
		if (err < 0)
			return err;
	}
	err = e->ops->open(e, cfg);
	return err < 0 ? err : 0;
}

void esw_close(struct esw *e)
{
	if (!e)
		return;
	if (e->ops && e->ops->close)
		e->ops->close(e);
	if (e->nl)
		mnl_socket_close(e->nl);
	free(e);
}

int esw_port_lookup(struct esw *e, const char *name, enum esw_port_kind kind,
		    struct esw_port *out)
{
	memset(out, 0, sizeof(*out));
	out->vf = -1;
	if (!name || !*name)
		return esw_fail(e, -EINVAL, "no port name given");
	if (kind != ESW_PORT_VF && kind != ESW_PORT_STANDBY)
		return esw_fail(e, -EINVAL, "port kind must be vf or standby");
	return e->ops->port_lookup(e, name, kind, out);
}

int esw_steer(struct esw *e, const struct esw_steer_req *req)
{
	uint8_t zero[6] = { 0 };

	if (!req || !req->vf)
		return esw_fail(e, -EINVAL, "steer: the VM's VF port is required");
	if (req->to < ESW_TO_VF || req->to > ESW_TO_NONE)
		return esw_fail(e, -EINVAL, "steer: invalid target %d", (int)req->to);
	if ((req->mac[0] & 1) || memcmp(req->mac, zero, 6) == 0)
		return esw_fail(e, -EINVAL, "steer: the MAC must be a unicast, non-zero address");
	if (req->vlan >= 4095)
		return esw_fail(e, -EINVAL, "steer: VLAN %u out of range (0-4094)", req->vlan);
	return e->ops->steer(e, req);
}

int esw_program_vf(struct esw *e, const struct esw_port *vf, const struct esw_vf_cfg *cfg)
{
	if (!vf || !cfg || vf->kind != ESW_PORT_VF)
		return esw_fail(e, -EINVAL, "program_vf needs a VF port (esw_port_lookup with kind vf)");
	if (cfg->set_vlan && (cfg->vlan >= 4095 || cfg->qos > 7))
		return esw_fail(e, -EINVAL, "VF VLAN %u / qos %u out of range (0-4094, 0-7)",
				cfg->vlan, cfg->qos);
	if (cfg->set_mac && (cfg->mac[0] & 1))
		return esw_fail(e, -EINVAL, "a VF MAC must be unicast (or all zero to clear it)");
	return e->ops->program_vf(e, vf, cfg);
}

int esw_describe(struct esw *e, char *buf, size_t len)
{
	if (!buf || !len)
		return -EINVAL;
	return e->ops->describe(e, buf, len);
}

/* ---- netlink request / ACK ------------------------------------------------ */

int esw_nl_talk(struct esw *e, struct nlmsghdr *nlh,
		int (*cb)(const struct nlmsghdr *nlh, void *data), void *data)
{
	char buf[8192];         /* MNL_SOCKET_BUFFER_SIZE is a sysconf() expression */
	uint32_t seq;
	ssize_t n;
	int ret;

	nlh->nlmsg_flags |= NLM_F_ACK;
	seq = ++e->seq;
	nlh->nlmsg_seq = seq;
	if (e->xmit)
		return e->xmit(e->xmit_arg, nlh);
	if (!e->nl)
		return -ENOTCONN;
	if (mnl_socket_sendto(e->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(e->nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)n, seq, e->portid, cb, data);
		if (ret < 0)
			return errno ? -errno : -EPROTO;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

static int link_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, IFLA_MAX) < 0)
		return MNL_CB_OK;
	if ((type == IFLA_MASTER && mnl_attr_validate(a, MNL_TYPE_U32) < 0) ||
	    (type == IFLA_LINKINFO && mnl_attr_validate(a, MNL_TYPE_NESTED) < 0))
		return MNL_CB_OK;
	tb[type] = a;
	return MNL_CB_OK;
}

static int info_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(a, IFLA_INFO_MAX) < 0)
		return MNL_CB_OK;
	if (mnl_attr_get_type(a) == IFLA_INFO_KIND && mnl_attr_validate(a, MNL_TYPE_STRING) < 0)
		return MNL_CB_OK;
	tb[mnl_attr_get_type(a)] = a;
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct esw_link *l = data;
	const struct nlattr *tb[IFLA_MAX + 1] = { 0 }, *info[IFLA_INFO_MAX + 1] = { 0 };
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifm)))
		return MNL_CB_OK;
	l->ifindex = ifm->ifi_index;
	if (mnl_attr_parse(nlh, sizeof(*ifm), link_attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	if (tb[IFLA_MASTER])
		l->master = (int)mnl_attr_get_u32(tb[IFLA_MASTER]);
	if (tb[IFLA_LINKINFO] && mnl_attr_parse_nested(tb[IFLA_LINKINFO], info_attr_cb, info) >= 0 &&
	    info[IFLA_INFO_KIND])
		(void)snprintf(l->kind, sizeof(l->kind), "%s", mnl_attr_get_str(info[IFLA_INFO_KIND]));
	return MNL_CB_OK;
}

int esw_link_get(struct esw *e, const char *name, struct esw_link *out)
{
	char buf[ESW_NL_BUFSZ];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	int err;

	memset(out, 0, sizeof(*out));
	if (!name || !*name || strlen(name) >= IF_NAMESIZE)
		return -EINVAL;
	if (e->xmit)
		return -EOPNOTSUPP;     /* no kernel to ask in test mode */
	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	err = esw_nl_talk(e, nlh, link_cb, out);
	if (err == -ENODEV || (err == 0 && out->ifindex <= 0))
		return -ENODEV;
	return err;
}
