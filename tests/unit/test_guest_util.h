/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test_guest_util.h — helpers of the hybond-guestd unit tests: captured
 * rtnetlink messages from tests/data/netlink/<scenario>/NNNN-*.bin. */
#ifndef TEST_GUEST_UTIL_H
#define TEST_GUEST_UTIL_H

#include <stddef.h>

struct nlmsghdr;

#define TG_MAX_MSGS 64

struct tg_capture {
	int n;
	char *names[TG_MAX_MSGS];
	struct nlmsghdr *msgs[TG_MAX_MSGS];
};

/* Loads every .bin file of GD_DATA_DIR/scenario in name order.  Returns the count. */
int tg_load(struct tg_capture *c, const char *scenario);
void tg_free(struct tg_capture *c);

#endif
