// SPDX-License-Identifier: LGPL-2.1-or-later
/* sys.c — ops of the agent on the live system (rtnetlink requests through
 * nlsock.c, sysfs, AF_PACKET, the host channel). */
#include <errno.h>
#include <glob.h>
#include <linux/gen_stats.h>
#include <linux/if_addr.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "announce.h"
#include "log.h"
#include "nlbuild.h"
#include "sys.h"

#define MTU_FOR_ESTIMATE 1514u    /* BQL counts bytes; QUEUED counts packets */

uint64_t gd_now_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000ull;
}

int gd_sys_open(struct gd_sys *s)
{
	memset(s, 0, sizeof(*s));
	s->chan_fd = -1;
	return gd_nls_open(&s->nl);
}

void gd_sys_close(struct gd_sys *s)
{
	gd_nls_close(&s->nl);
}

/* ---- ops ------------------------------------------------------------------ */

static int send_frame(void *ctx, const void *frame, size_t len)
{
	struct gd_sys *s = ctx;
	ssize_t n;

	if (s->chan_fd < 0)
		return -ENOTCONN;
	n = write(s->chan_fd, frame, len);
	if (n == (ssize_t)len)
		return 0;
	return n < 0 ? -errno : -EIO;
}

static int req(struct gd_sys *s, struct nlmsghdr *nlh, const char *what, int ok_errno)
{
	int rc = gd_nls_request(&s->nl, nlh);

	if (rc == -ok_errno)
		rc = 0;
	if (rc < 0)
		gd_warn("%s: %s", what, strerror(-rc));
	return rc;
}

static const char *ifname(const struct gd_agent *a, int ifindex)
{
	const struct gd_link *l = gd_table_get(&a->links, ifindex);

	return l ? l->name : "?";
}

static int accept_standby_rx(void *ctx, const struct gd_agent *a, const struct gd_pair *p)
{
	struct gd_sys *s = ctx;
	char buf[GD_NL_BUFSZ], what[96];
	int rc;

	if (s->no_rx_redirect) {
		/* debug: the standby keeps the kernel's own RX behaviour (measurement) */
		if (p->l.kind == GD_PAIR_BOND) {
			(void)snprintf(what, sizeof(what), "%s: all_slaves_active 0",
				       ifname(a, p->l.master));
			rc = req(s, gd_nl_bond_all_active(buf, 0, p->l.master, 0), what, 0);
		} else {
			(void)snprintf(what, sizeof(what), "%s: delete ingress redirect",
				       ifname(a, p->l.standby));
			rc = req(s, gd_nl_redirect_del(buf, 0, p->l.standby, GD_TC_INGRESS), what,
				 ENOENT);
			if (rc == -EINVAL)      /* no clsact on the standby: nothing to delete */
				rc = 0;
		}
		gd_warn("pair %u: --debug-no-rx-redirect: standby %s RX NOT accepted while a VF "
			"is registered (measurement only)", p->id, ifname(a, p->l.standby));
		return rc;
	}
	if (p->l.kind == GD_PAIR_BOND) {
		(void)snprintf(what, sizeof(what), "%s: all_slaves_active 1", ifname(a, p->l.master));
		rc = req(s, gd_nl_bond_all_active(buf, 0, p->l.master, 1), what, 0);
		(void)snprintf(what, sizeof(what), "%s: clear primary", ifname(a, p->l.master));
		return rc ? rc : req(s, gd_nl_bond_primary(buf, 0, p->l.master, 0), what, 0);
	}
	/* clsact on the master too: the TX pin is then a single filter add */
	(void)snprintf(what, sizeof(what), "%s: add clsact", ifname(a, p->l.master));
	rc = req(s, gd_nl_clsact_add(buf, 0, p->l.master), what, EEXIST);
	(void)snprintf(what, sizeof(what), "%s: add clsact", ifname(a, p->l.standby));
	rc = rc ? rc : req(s, gd_nl_clsact_add(buf, 0, p->l.standby), what, EEXIST);
	(void)snprintf(what, sizeof(what), "%s: ingress redirect to %s (needs cls_matchall, act_mirred)",
		       ifname(a, p->l.standby), ifname(a, p->l.master));
	rc = rc ? rc : req(s, gd_nl_redirect_add(buf, 0, p->l.standby, GD_TC_INGRESS,
						 GD_TC_INGRESS, p->l.master), what, EEXIST);
	if (!rc)
		gd_info("pair %u: standby %s RX accepted (tc ingress redirect to %s)", p->id,
			ifname(a, p->l.standby), ifname(a, p->l.master));
	return rc;
}

static int apply_pin(void *ctx, const struct gd_agent *a, const struct gd_pair *p)
{
	struct gd_sys *s = ctx;
	char buf[GD_NL_BUFSZ], what[96];
	int rc;

	if (p->l.kind == GD_PAIR_FAILOVER) {
		(void)snprintf(what, sizeof(what), "%s: %s egress redirect to %s",
			       ifname(a, p->l.master), p->pinned ? "add" : "delete",
			       ifname(a, p->l.standby));
		if (p->pinned)
			return req(s, gd_nl_redirect_add(buf, 0, p->l.master, GD_TC_EGRESS,
							  GD_TC_EGRESS, p->l.standby), what, EEXIST);
		return req(s, gd_nl_redirect_del(buf, 0, p->l.master, GD_TC_EGRESS), what, ENOENT);
	}
	/* bond: the slave TX goes to is made the primary as well, active slave
	 * first.  Clearing the primary is not enough: a bond without one
	 * reselects (on any slave link event or option change, with
	 * primary_reselect=always) the first slave with link in enslave order,
	 * often the VF (kernel's bond_choose_primary_or_current(), 6.1 and 6.12);
	 * seen as TX flapping back to a leaving VF (docs/kmod-shim.md). */
	if (p->pinned) {
		(void)snprintf(what, sizeof(what), "%s: active_slave and primary %s",
			       ifname(a, p->l.master), ifname(a, p->l.standby));
		rc = req(s, gd_nl_bond_active(buf, 0, p->l.master, p->l.standby), what, 0);
		return rc ? rc : req(s, gd_nl_bond_primary(buf, 0, p->l.master, p->l.standby),
				     what, 0);
	}
	if (!p->l.vf)
		return 0;
	(void)snprintf(what, sizeof(what), "%s: active_slave and primary %s", ifname(a, p->l.master),
		       ifname(a, p->l.vf));
	rc = req(s, gd_nl_bond_active(buf, 0, p->l.master, p->l.vf), what, 0);
	return rc ? rc : req(s, gd_nl_bond_primary(buf, 0, p->l.master, p->l.vf), what, 0);
}

static int enslave_to(struct gd_sys *s, int master, int ifindex, const char *name)
{
	char buf[GD_NL_BUFSZ], what[64];
	int rc;

	(void)snprintf(what, sizeof(what), "%s: set down", name);
	rc = req(s, gd_nl_set_up(buf, 0, ifindex, 0), what, 0);
	(void)snprintf(what, sizeof(what), "%s: enslave", name);
	rc = rc ? rc : req(s, gd_nl_set_master(buf, 0, ifindex, master), what, 0);
	return rc;
}

static int enslave(void *ctx, const struct gd_agent *a, const struct gd_pair *p, int ifindex)
{
	return enslave_to(ctx, p->l.master, ifindex, ifname(a, ifindex));
}

/* ---- carry-over of the standby's IP configuration to a bond we create ------ */

struct carry_ctx {
	int ifindex;
	uint8_t *buf;             /* the kept messages, MNL_ALIGNed one after another */
	size_t len, cap;
	int n;
	int (*keep)(const struct nlmsghdr *nlh, int ifindex);
};

static int carry_cb(const struct nlmsghdr *nlh, void *data)
{
	struct carry_ctx *c = data;
	size_t need = MNL_ALIGN(nlh->nlmsg_len);

	if (!c->keep(nlh, c->ifindex) || nlh->nlmsg_len > GD_NL_BUFSZ)
		return MNL_CB_OK;
	if (c->len + need > c->cap) {
		size_t cap = (c->cap + need) * 2;
		uint8_t *nb = realloc(c->buf, cap);

		if (!nb)
			return MNL_CB_ERROR;
		c->buf = nb;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, nlh, nlh->nlmsg_len);
	c->len += need;
	c->n++;
	return MNL_CB_OK;
}

/* The kept message at *off, advancing *off; NULL at the end. */
static const struct nlmsghdr *carry_next(const struct carry_ctx *c, size_t *off)
{
	const struct nlmsghdr *nlh;

	if (*off >= c->len)
		return NULL;
	nlh = (const struct nlmsghdr *)(c->buf + *off);
	*off += MNL_ALIGN(nlh->nlmsg_len);
	return nlh;
}

/* Moves the addresses of FROM to TO (delete, then add: the link FROM is down by
 * then), then the routes that went through FROM (the kernel flushed them when
 * FROM went down; read before).  Every step is logged; failures do not stop
 * the others (the guest's IP configuration must survive as far as possible). */
static void carry_apply(struct gd_sys *s, struct carry_ctx *addrs, struct carry_ctx *routes,
			int to, const char *from_name, const char *to_name)
{
	char buf[GD_NL_BUFSZ], what[96];
	const struct nlmsghdr *nlh;
	size_t off;
	int moved = 0, routed = 0;

	off = 0;
	while ((nlh = carry_next(addrs, &off)) != NULL) {
		struct nlmsghdr *m = gd_nl_addr_copy(buf, 0, nlh, RTM_DELADDR,
						     addrs->ifindex);

		(void)snprintf(what, sizeof(what), "%s: delete address", from_name);
		if (m)
			(void)req(s, m, what, EADDRNOTAVAIL);
		m = gd_nl_addr_copy(buf, 0, nlh, RTM_NEWADDR, to);
		(void)snprintf(what, sizeof(what), "%s: add address of %s", to_name, from_name);
		if (m && req(s, m, what, EEXIST) == 0)
			moved++;
	}
	off = 0;
	while ((nlh = carry_next(routes, &off)) != NULL) {
		struct nlmsghdr *m = gd_nl_route_copy(buf, 0, nlh, to);

		(void)snprintf(what, sizeof(what), "%s: add route of %s", to_name, from_name);
		if (m && req(s, m, what, EEXIST) == 0)
			routed++;
	}
	gd_info("%s took over the IP configuration of %s: %d/%d address(es), %d/%d route(s)",
		to_name, from_name, moved, addrs->n, routed, routes->n);
}

static int enslave_standby(void *ctx, int bond, int ifindex)
{
	struct gd_sys *s = ctx;
	char name[IF_NAMESIZE] = "", bname[IF_NAMESIZE] = "", buf[GD_NL_BUFSZ];
	struct carry_ctx addrs = { .ifindex = ifindex, .keep = gd_nl_addr_carried };
	struct carry_ctx routes = { .ifindex = ifindex, .keep = gd_nl_route_carried };
	int rc;

	(void)if_indextoname((unsigned int)ifindex, name);
	(void)if_indextoname((unsigned int)bond, bname);
	/* what the distribution configured on the standby, before the enslave
	 * (setting it down flushes its routes, and IPv6 its addresses) */
	if (gd_nls_dump(&s->nl, gd_nl_dump(buf, 0, RTM_GETADDR), carry_cb, &addrs) < 0 ||
	    gd_nls_dump(&s->nl, gd_nl_route_dump(buf, 0), carry_cb, &routes) < 0)
		gd_warn("%s: cannot read its addresses/routes: they are not carried over", name);
	rc = enslave_to(s, bond, ifindex, name);
	if (rc == 0 && (addrs.n || routes.n))
		carry_apply(s, &addrs, &routes, bond, name, bname);
	free(addrs.buf);
	free(routes.buf);
	return rc;
}

static int create_bond(void *ctx, const struct gd_bond_conf *b)
{
	struct gd_sys *s = ctx;
	char buf[GD_NL_BUFSZ], what[64];
	unsigned int idx;
	int rc;

	(void)snprintf(what, sizeof(what), "create bond %s", b->name);
	rc = req(s, gd_nl_bond_create(buf, 0, b->name, b->miimon_ms), what, EEXIST);
	idx = if_nametoindex(b->name);
	if (rc || !idx)
		return rc ? rc : -ENODEV;
	(void)snprintf(what, sizeof(what), "%s: set up", b->name);
	return req(s, gd_nl_set_up(buf, 0, (int)idx, 1), what, 0);
}

/* ---- queued packets: root qdisc qlen + BQL inflight ------------------------ */

struct qlen_ctx {
	int ifindex;
	uint32_t qlen;
};

static int stats2_cb(const struct nlattr *a, void *data)
{
	struct qlen_ctx *q = data;
	struct gnet_stats_queue gq;

	if (mnl_attr_get_type(a) == TCA_STATS_QUEUE && mnl_attr_get_payload_len(a) >= sizeof(gq)) {
		memcpy(&gq, mnl_attr_get_payload(a), sizeof(gq));
		q->qlen += gq.qlen;
	}
	return MNL_CB_OK;
}

static int qdisc_attr_cb(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == TCA_STATS2)
		(void)mnl_attr_parse_nested(a, stats2_cb, data);
	return MNL_CB_OK;
}

static int qdisc_cb(const struct nlmsghdr *nlh, void *data)
{
	struct qlen_ctx *q = data;
	const struct tcmsg *t = mnl_nlmsg_get_payload(nlh);

	/* only the root: mq's root already sums its children */
	if (nlh->nlmsg_type == RTM_NEWQDISC && t->tcm_ifindex == q->ifindex &&
	    t->tcm_parent == TC_H_ROOT)
		(void)mnl_attr_parse(nlh, sizeof(*t), qdisc_attr_cb, q);
	return MNL_CB_OK;
}

static uint64_t bql_inflight(const char *dev)
{
	char pat[128];
	glob_t g;
	uint64_t sum = 0;
	size_t i;

	(void)snprintf(pat, sizeof(pat), "/sys/class/net/%s/queues/tx-*/byte_queue_limits/inflight",
		       dev);
	if (glob(pat, 0, NULL, &g) != 0)
		return 0;
	for (i = 0; i < g.gl_pathc; i++) {
		FILE *f = fopen(g.gl_pathv[i], "re");
		unsigned long long v = 0;

		if (!f)
			continue;
		if (fscanf(f, "%llu", &v) == 1)
			sum += v;
		(void)fclose(f);
	}
	globfree(&g);
	return sum;
}

static int queued(void *ctx, const struct gd_agent *a, const struct gd_pair *p, uint32_t *pkts)
{
	struct gd_sys *s = ctx;
	char buf[GD_NL_BUFSZ];
	struct qlen_ctx q = { .ifindex = p->l.vf, .qlen = 0 };
	uint64_t bytes;
	int rc = gd_nls_dump(&s->nl, gd_nl_dump(buf, 0, RTM_GETQDISC), qdisc_cb, &q);

	if (rc < 0)
		return rc;
	bytes = bql_inflight(ifname(a, p->l.vf));
	*pkts = q.qlen + (uint32_t)((bytes + MTU_FOR_ESTIMATE - 1) / MTU_FOR_ESTIMATE);
	gd_debug("pair %u: VF qdisc qlen %u, BQL inflight %llu bytes", p->id, q.qlen,
		 (unsigned long long)bytes);
	return q.qlen || bytes ? 1 : 0;
}

/* ---- announcements -------------------------------------------------------- */

struct addr_ctx {
	int ifindex;
	struct gd_addrs ad;
};

static int addr_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_get_type(a) == IFA_ADDRESS || mnl_attr_get_type(a) == IFA_LOCAL)
		tb[mnl_attr_get_type(a)] = a;
	return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_ctx *c = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFA_MAX + 1] = { NULL };
	const struct nlattr *at;

	if ((int)ifa->ifa_index != c->ifindex)
		return MNL_CB_OK;
	(void)mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, tb);
	at = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!at)
		return MNL_CB_OK;
	if (ifa->ifa_family == AF_INET && c->ad.n4 < 16 && mnl_attr_get_payload_len(at) == 4)
		memcpy(&c->ad.v4[c->ad.n4++], mnl_attr_get_payload(at), 4);
	else if (ifa->ifa_family == AF_INET6 && c->ad.n6 < 16 && mnl_attr_get_payload_len(at) == 16)
		memcpy(&c->ad.v6[c->ad.n6++], mnl_attr_get_payload(at), 16);
	return MNL_CB_OK;
}

static int announce(void *ctx, const struct gd_agent *a, const struct gd_pair *p, int ifindex)
{
	struct gd_sys *s = ctx;
	char buf[GD_NL_BUFSZ];
	struct addr_ctx c;
	const struct gd_link *m = gd_table_get(&a->links, p->l.master);
	int rc;

	memset(&c, 0, sizeof(c));
	c.ifindex = p->l.master;
	rc = gd_nls_dump(&s->nl, gd_nl_dump(buf, 0, RTM_GETADDR), addr_cb, &c);
	if (rc < 0 || !m)
		return rc;
	rc = gd_announce_send(ifindex, m->mac, &c.ad);
	gd_info("pair %u: announced %d IPv4 + %d IPv6 address(es) out of %s (%d frames)", p->id,
		c.ad.n4, c.ad.n6, ifname(a, ifindex), rc);
	return rc < 0 ? rc : 0;
}

/* ---- kernel shim ---------------------------------------------------------- */

static int shim_release(void *ctx, int master)
{
	struct gd_sys *s = ctx;

	return gd_nls_shim_release(&s->nl, master);
}

const struct gd_ops gd_sys_ops = {
	.send = send_frame,
	.accept_standby_rx = accept_standby_rx,
	.apply_pin = apply_pin,
	.enslave = enslave,
	.create_bond = create_bond,
	.enslave_standby = enslave_standby,
	.queued = queued,
	.announce = announce,
	.shim_release = shim_release,
	.now_us = gd_now_us,
};
