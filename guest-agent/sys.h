/* sys.h — the real system behind the agent's ops: rtnetlink requests,
 * VF queue reading (qdisc stats + BQL), announcements, the host channel. */
#ifndef GD_SYS_H
#define GD_SYS_H

#include <libmnl/libmnl.h>
#include <stdint.h>

#include "agent.h"

struct gd_sys {
	struct mnl_socket *req;   /* requests and dumps, answered in order */
	struct mnl_socket *mon;   /* RTNLGRP_LINK notifications */
	uint32_t seq;
	int chan_fd;              /* the virtio-serial port, -1 when closed */
	/* NETLINK_GENERIC: nlctrl's "notify" group (the shim's family coming and
	 * going) and, while resolved, the shim's "events" group */
	struct mnl_socket *shim;
	uint16_t shim_family;     /* 0: hybond_shim.ko not loaded (or not yet known) */
	uint32_t shim_grp;        /* "events" group joined, 0 = none */
	/* debug (--debug-no-rx-redirect): do NOT make the standby accept RX;
	 * remove what a previous agent installed.  Only to measure its cost. */
	int no_rx_redirect;
};

extern const struct gd_ops gd_sys_ops;

int gd_sys_open(struct gd_sys *s);
void gd_sys_close(struct gd_sys *s);
/* Sends a request and waits for its ACK.  Returns 0 or -errno from the kernel. */
int gd_sys_request(struct gd_sys *s, struct nlmsghdr *nlh);
/* Sends a dump request and calls cb for every message.  Returns 0 or -errno. */
int gd_sys_dump(struct gd_sys *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);
/* Reads every pending monitor message into cb (non-blocking).  Returns 0,
 * -ENOBUFS when the kernel dropped notifications (re-dump!), or -errno. */
int gd_sys_monitor_read(struct gd_sys *s, mnl_cb_t cb, void *data);
/* Opens the NETLINK_GENERIC socket, joins nlctrl's notifications and asks
 * for the "hybond" family (the answer comes on the socket, like the
 * notifications).  Returns 0 or -errno. */
int gd_sys_shim_open(struct gd_sys *s);
/* Asks nlctrl for the "hybond" family again (after lost notifications). */
int gd_sys_shim_query(struct gd_sys *s);
/* Joins the family's "events" group (0 or -errno, e.g. -EPERM without CAP_NET_ADMIN). */
int gd_sys_shim_join(struct gd_sys *s, uint32_t grp);
/* Sends HYBOND_CMD_RELEASE for that master (its answer comes on the socket:
 * see gd_shim_release_msg()).  0, -ENOENT when the family is not known, or
 * -errno. */
int gd_sys_shim_release(struct gd_sys *s, int master);
/* Calls cb for every pending message of the socket (non-blocking).  Returns 0,
 * -ENOBUFS when the kernel dropped messages (ask again!), or -errno. */
int gd_sys_shim_read(struct gd_sys *s, void (*cb)(const struct nlmsghdr *nlh, void *data),
		     void *data);
/* Monotonic clock in microseconds. */
uint64_t gd_now_us(void);

#endif
