/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* nlsock.h — hybond-guestd's netlink sockets (libmnl): the rtnetlink request
 * socket (requests answered by an ACK, dumps), the RTNLGRP_LINK monitor, and
 * the NETLINK_GENERIC socket of the optional kernel shim.
 *
 * Only transport lives here: what to send is built by nlbuild.c and shim.c,
 * what the answers mean is decided by sys.c (the agent's ops), main.c and
 * agent.c.  Every function returns 0 or -errno (from the kernel or libc).
 */
#ifndef GD_NLSOCK_H
#define GD_NLSOCK_H

#include <libmnl/libmnl.h>
#include <stdint.h>

struct gd_nls {
	struct mnl_socket *req;   /* requests and dumps, answered in order */
	struct mnl_socket *mon;   /* RTNLGRP_LINK notifications */
	uint32_t seq;
	/* NETLINK_GENERIC: nlctrl's "notify" group (the shim's family coming and
	 * going) and, while resolved, the shim's "events" group */
	struct mnl_socket *shim;
	uint16_t shim_family;     /* 0: hybond_shim.ko not loaded (or not yet known) */
	uint32_t shim_grp;        /* "events" group joined, 0 = none */
};

/* Opens and binds the request and monitor sockets (*nl zeroed first). */
int gd_nls_open(struct gd_nls *nl);
/* Closes every socket that is open, the shim's included. */
void gd_nls_close(struct gd_nls *nl);
/* Sends a request and waits for its ACK.  Returns 0 or -errno from the kernel. */
int gd_nls_request(struct gd_nls *nl, struct nlmsghdr *nlh);
/* Sends a dump request and calls cb for every message.  Returns 0 or -errno. */
int gd_nls_dump(struct gd_nls *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);
/* Reads every pending monitor message into cb (non-blocking).  Returns 0,
 * -ENOBUFS when the kernel dropped notifications (re-dump!), or -errno. */
int gd_nls_monitor_read(struct gd_nls *nl, mnl_cb_t cb, void *data);
/* Opens the NETLINK_GENERIC socket, joins nlctrl's notifications and asks
 * for the "hybond" family (the answer comes on the socket, like the
 * notifications).  Returns 0 or -errno. */
int gd_nls_shim_open(struct gd_nls *nl);
/* Asks nlctrl for the "hybond" family again (after lost notifications). */
int gd_nls_shim_query(struct gd_nls *nl);
/* Joins the family's "events" group (0 or -errno, e.g. -EPERM without CAP_NET_ADMIN). */
int gd_nls_shim_join(struct gd_nls *nl, uint32_t grp);
/* Sends HYBOND_CMD_RELEASE for that master (its answer comes on the socket:
 * see gd_shim_release_msg()).  0, -ENOENT when the family is not known, or
 * -errno. */
int gd_nls_shim_release(struct gd_nls *nl, int master);
/* Calls cb for every pending message of the socket (non-blocking).  Returns 0,
 * -ENOBUFS when the kernel dropped messages (ask again!), or -errno. */
int gd_nls_shim_read(struct gd_nls *nl, void (*cb)(const struct nlmsghdr *nlh, void *data),
		     void *data);

#endif
