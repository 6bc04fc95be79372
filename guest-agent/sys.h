/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sys.h — the real system behind the agent's ops: rtnetlink requests (over
 * nlsock.c's sockets), VF queue reading (qdisc stats + BQL), announcements,
 * the host channel. */
#ifndef GD_SYS_H
#define GD_SYS_H

#include <stdint.h>

#include "agent.h"
#include "nlsock.h"

struct gd_sys {
	struct gd_nls nl;         /* rtnetlink + the kernel shim's genetlink socket */
	int chan_fd;              /* the virtio-serial port, -1 when closed */
	/* debug (--debug-no-rx-redirect): do NOT make the standby accept RX;
	 * remove what a previous agent installed.  Only to measure its cost. */
	int no_rx_redirect;
};

extern const struct gd_ops gd_sys_ops;

/* Opens the netlink sockets (s zeroed first, no channel).  0 or -errno. */
int gd_sys_open(struct gd_sys *s);
void gd_sys_close(struct gd_sys *s);
/* Monotonic clock in microseconds. */
uint64_t gd_now_us(void);

#endif
