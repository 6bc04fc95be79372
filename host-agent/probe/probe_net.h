/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* probe_net.h — hybond-probe sending/receiving loops. */
#ifndef HYBOND_PROBE_NET_H
#define HYBOND_PROBE_NET_H

#include <stdint.h>

#include "probe_opts.h"

#define HBP_EXIT_OK      0
#define HBP_EXIT_RUNTIME 1 /* socket or system error */
#define HBP_EXIT_USAGE   2

/* After falling behind its schedule (descheduled, slow system) the sender
 * catches up in bursts of at most HBP_CATCHUP_MAX packets, draining replies
 * between bursts. If it is more than HBP_MAX_LAG_MS behind, the schedule is
 * shifted instead (counted as a slip) so it never floods the path. */
#define HBP_CATCHUP_MAX  32
#define HBP_MAX_LAG_MS   100

enum hbp_mode { HBP_MODE_UDP, HBP_MODE_ICMP };

struct hbp_client_opts {
	enum hbp_mode mode;
	struct hbp_addr target;
	uint64_t rate;       /* packets per second */
	double duration;     /* seconds */
	uint64_t packets;    /* rate * duration, rounded */
	uint64_t grace_ms;
	uint64_t size;       /* payload bytes, >= HBP_HDR_LEN */
	int json;
	int quiet;
};

struct hbp_echo_opts {
	struct hbp_addr listen;
	int quiet;
};

/* Both return an exit status (HBP_EXIT_*), after printing any error. */
int hbp_run_client(const struct hbp_client_opts *o);
int hbp_run_echo(const struct hbp_echo_opts *o);

#endif
