// SPDX-License-Identifier: LGPL-2.1-or-later
/* nlsock.c — hybond-guestd's netlink sockets: rtnetlink requests, dumps and the
 * link monitor, and the kernel shim's generic netlink socket (see nlsock.h). */
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "nlbuild.h"
#include "nlsock.h"
#include "shim.h"

/* one recv of a dump; libmnl >= 1.0.5 calls it MNL_SOCKET_DUMP_SIZE (Debian 12 has 1.0.4) */
#define GD_NL_RXBUF 32768

int gd_nls_open(struct gd_nls *nl)
{
	memset(nl, 0, sizeof(*nl));
	nl->seq = (uint32_t)time(NULL);
	nl->req = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	nl->mon = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!nl->req || !nl->mon || mnl_socket_bind(nl->req, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_bind(nl->mon, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;

		gd_nls_close(nl);
		return -e;
	}
	return 0;
}

void gd_nls_close(struct gd_nls *nl)
{
	if (nl->req)
		(void)mnl_socket_close(nl->req);
	if (nl->mon)
		(void)mnl_socket_close(nl->mon);
	if (nl->shim)
		(void)mnl_socket_close(nl->shim);
	nl->req = nl->mon = nl->shim = NULL;
}

/* ---- the kernel shim's generic netlink family ------------------------------ */

int gd_nls_shim_query(struct gd_nls *nl)
{
	char buf[GD_NL_BUFSZ];
	struct nlmsghdr *nlh = gd_shim_getfamily(buf, ++nl->seq);

	if (mnl_socket_sendto(nl->shim, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return 0;
}

int gd_nls_shim_open(struct gd_nls *nl)
{
	/* nlctrl's one group, "notify", has the id GENL_ID_CTRL (kernel:
	 * genl_validate_assign_mc_groups(); iproute2's "genl monitor" relies on it) */
	unsigned int notify = GENL_ID_CTRL;
	int e;

	nl->shim = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!nl->shim || mnl_socket_bind(nl->shim, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_setsockopt(nl->shim, NETLINK_ADD_MEMBERSHIP, &notify, sizeof(notify)) < 0)
		goto fail;
	if (gd_nls_shim_query(nl) < 0)
		goto fail;
	return 0;
fail:
	e = errno;
	if (nl->shim)
		(void)mnl_socket_close(nl->shim);
	nl->shim = NULL;
	return -e;
}

int gd_nls_shim_join(struct gd_nls *nl, uint32_t grp)
{
	unsigned int g = grp;

	if (mnl_socket_setsockopt(nl->shim, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) < 0)
		return -errno;
	return 0;
}

int gd_nls_shim_release(struct gd_nls *nl, int master)
{
	char buf[GD_NL_BUFSZ];
	struct nlmsghdr *nlh;

	if (!nl->shim || !nl->shim_family)
		return -ENOENT;
	nlh = gd_shim_release_msg(buf, nl->shim_family, ++nl->seq, master);
	if (!nlh)
		return -EINVAL;
	if (mnl_socket_sendto(nl->shim, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return 0;
}

int gd_nls_shim_read(struct gd_nls *nl, void (*cb)(const struct nlmsghdr *nlh, void *data),
		     void *data)
{
	char buf[GD_NL_RXBUF];

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->shim, buf, sizeof(buf));
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int len = (int)n;

		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		/* every message, NLMSG_ERROR included (mnl_cb_run would stop there) */
		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			cb(nlh, data);
	}
}

/* Reads the request socket until the answer to seq is complete: mnl_cb_run()
 * says MNL_CB_STOP at the ACK or NLMSG_DONE, and turns an error ACK into
 * -1 with errno set to the kernel's error. */
static int run_until_done(struct gd_nls *nl, uint32_t seq, mnl_cb_t cb, void *data)
{
	char buf[GD_NL_RXBUF];
	uint32_t portid = mnl_socket_get_portid(nl->req);
	int rc;

	do {
		ssize_t n = mnl_socket_recvfrom(nl->req, buf, sizeof(buf));

		if (n < 0)
			return -errno;
		rc = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
	} while (rc > MNL_CB_STOP);
	return rc < 0 ? -errno : 0;
}

int gd_nls_dump(struct gd_nls *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	nlh->nlmsg_seq = ++nl->seq;
	if (mnl_socket_sendto(nl->req, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return run_until_done(nl, nlh->nlmsg_seq, cb, data);
}

int gd_nls_request(struct gd_nls *nl, struct nlmsghdr *nlh)
{
	/* the same exchange without data messages: it ends at the ACK */
	return gd_nls_dump(nl, nlh, NULL, NULL);
}

int gd_nls_monitor_read(struct gd_nls *nl, mnl_cb_t cb, void *data)
{
	char buf[GD_NL_RXBUF];

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->mon, buf, sizeof(buf));

		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (mnl_cb_run(buf, (size_t)n, 0, 0, cb, data) < 0 && errno != ESRCH)
			gd_debug("monitor message: %s", strerror(errno));
	}
}
