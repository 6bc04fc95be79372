// SPDX-License-Identifier: GPL-2.0
/*
 * hybond-shimctl — talk to hybond_shim.ko's "hybond" generic netlink family.
 *
 *   hybond-shimctl monitor [-n COUNT]   print every event of the "events" group
 *   hybond-shimctl status [IFINDEX]     one line per pair
 *   hybond-shimctl pin IFINDEX          pin the pair of that master to its standby
 *   hybond-shimctl unpin IFINDEX
 *   hybond-shimctl release IFINDEX      let that master's unplug barrier end
 *                                       (RX moved; what hybond-guestd sends)
 *
 * A test and diagnosis tool for the lab guest (packed into its initramfs);
 * it shares guest-agent/shim.c's request builder and nlctrl parser with
 * hybond-guestd.  Exit status:
 * 0 ok, 1 the kernel refused (its reason is printed), 2 usage, 3 no module.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>

#include "guest-agent/shim.h"
#include "kmod-shim/hybond_genl.h"

/* MNL_SOCKET_BUFFER_SIZE is a run-time value (a VLA); genetlink answers fit here */
#define SHIMCTL_BUF_SIZE 16384

struct shim {
	struct mnl_socket *nl;
	uint16_t family;
	uint32_t mcgrp;
	unsigned int seq;
};

/* --- family resolution (nlctrl): guest-agent/shim.c's parser --------------- */

static int ctrl_cb(const struct nlmsghdr *nlh, void *data)
{
	struct shim *s = data;
	struct gd_shim_family f;
	int rc = gd_shim_parse_ctrl(nlh, &f);

	if (rc < 0)
		return MNL_CB_ERROR;
	if (rc == 1) {
		s->family = f.id;
		s->mcgrp = f.events_grp;
	}
	return MNL_CB_OK;
}

/* Sends one request and runs cb on every answer until the ACK. */
static int transact(struct shim *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[SHIMCTL_BUF_SIZE];
	unsigned int portid = mnl_socket_get_portid(s->nl);
	ssize_t n;
	int ret;

	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(s->nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, cb, data);
	} while (ret > 0);
	return ret < 0 ? -errno : 0;
}

static int shim_open(struct shim *s)
{
	char buf[SHIMCTL_BUF_SIZE];
	struct nlmsghdr *nlh;
	int err;

	memset(s, 0, sizeof(*s));
	s->seq = (unsigned int)time(NULL);
	s->nl = mnl_socket_open(NETLINK_GENERIC);
	if (!s->nl || mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("hybond-shimctl: netlink");
		return -1;
	}
	nlh = gd_shim_getfamily(buf, ++s->seq);
	err = transact(s, nlh, ctrl_cb, s);
	if (err || !s->family) {
		(void)fprintf(stderr, "hybond-shimctl: no \"%s\" genetlink family (hybond_shim.ko not loaded?)\n",
			HYBOND_GENL_NAME);
		return -1;
	}
	return 0;
}

/* --- printing ---------------------------------------------------------------- */

static int pair_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, HYBOND_A_MAX) > 0)
		tb[type] = a;
	return MNL_CB_OK;
}

static uint32_t u32_of(const struct nlattr *a)
{
	return a && mnl_attr_validate(a, MNL_TYPE_U32) == 0 ? mnl_attr_get_u32(a) : 0;
}

static void print_pair(const char *what, const struct nlattr *const *tb)
{
	const uint8_t *mac = NULL;
	uint8_t kind = 0;

	if (tb[HYBOND_A_MAC] && mnl_attr_get_payload_len(tb[HYBOND_A_MAC]) == 6)
		mac = mnl_attr_get_payload(tb[HYBOND_A_MAC]);
	if (tb[HYBOND_A_KIND] && mnl_attr_validate(tb[HYBOND_A_KIND], MNL_TYPE_U8) == 0)
		kind = mnl_attr_get_u8(tb[HYBOND_A_KIND]);
	printf("%s kind=%s master=%u standby=%u primary=%u tx=%u flags=%#x carrier_ups=%u",
	       what, kind == HYBOND_KIND_FAILOVER ? "failover" : kind == HYBOND_KIND_BOND ? "bond" : "?",
	       u32_of(tb[HYBOND_A_MASTER_IFINDEX]), u32_of(tb[HYBOND_A_STANDBY_IFINDEX]),
	       u32_of(tb[HYBOND_A_IFINDEX]), u32_of(tb[HYBOND_A_TX_IFINDEX]),
	       u32_of(tb[HYBOND_A_FLAGS]), u32_of(tb[HYBOND_A_CARRIER_UPS]));
	if (mac)
		printf(" mac=%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		       mac[4], mac[5]);
	if (tb[HYBOND_A_DRAIN_US])
		printf(" drain_us=%u backlog_pkts=%u backlog_bytes=%u",
		       u32_of(tb[HYBOND_A_DRAIN_US]), u32_of(tb[HYBOND_A_BACKLOG_PKTS]),
		       u32_of(tb[HYBOND_A_BACKLOG_BYTES]));
	if (tb[HYBOND_A_RELEASE_US])
		printf(" release_us=%u", u32_of(tb[HYBOND_A_RELEASE_US]));
	printf("\n");
}

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[HYBOND_A_MAX + 1] = { 0 };
	const struct nlattr *a;
	struct timespec ts;
	char what[64];

	(void)data;
	if (g->cmd == HYBOND_CMD_STATUS) {
		mnl_attr_for_each(a, nlh, sizeof(*g)) {
			const struct nlattr *ptb[HYBOND_A_MAX + 1] = { 0 };

			if (mnl_attr_get_type(a) != HYBOND_A_PAIR)
				continue;
			mnl_attr_parse_nested(a, pair_attr_cb, ptb);
			print_pair("pair", ptb);
		}
		return MNL_CB_OK;
	}
	mnl_attr_parse(nlh, sizeof(*g), pair_attr_cb, tb);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	(void)snprintf(what, sizeof(what), "%lld.%06ld %s", (long long)ts.tv_sec, ts.tv_nsec / 1000,
		 gd_shim_cmd_name(g->cmd));
	print_pair(what, tb);
	(void)fflush(stdout);
	return MNL_CB_OK;
}

/* --- commands ------------------------------------------------------------------ */

static int do_monitor(struct shim *s, long count)
{
	char buf[SHIMCTL_BUF_SIZE];
	unsigned int grp = s->mcgrp;
	ssize_t n;

	if (!grp || mnl_socket_setsockopt(s->nl, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) < 0) {
		perror("hybond-shimctl: join events");
		return 1;
	}
	printf("monitoring hybond events\n");
	(void)fflush(stdout);
	while (count != 0) {
		n = mnl_socket_recvfrom(s->nl, buf, sizeof(buf));
		if (n < 0) {
			perror("hybond-shimctl: recv");
			return 1;
		}
		if (mnl_cb_run(buf, (size_t)n, 0, 0, event_cb, NULL) < 0)
			return 1;
		if (count > 0)
			count--;
	}
	return 0;
}

static int do_request(struct shim *s, uint8_t cmd, long ifindex)
{
	char buf[SHIMCTL_BUF_SIZE];
	struct nlmsghdr *nlh = gd_shim_put_req(buf, s->family, cmd, HYBOND_GENL_VERSION, ++s->seq);
	int err;

	if (ifindex > 0)
		mnl_attr_put_u32(nlh, HYBOND_A_MASTER_IFINDEX, (uint32_t)ifindex);
	err = transact(s, nlh, event_cb, NULL);
	if (err) {
		(void)fprintf(stderr, "hybond-shimctl: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}

static int usage(void)
{
	(void)fprintf(stderr, "usage: hybond-shimctl monitor [-n COUNT] | status [IFINDEX] | "
		"pin IFINDEX | unpin IFINDEX | release IFINDEX\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct shim s;
	long arg = 0;
	int rc;

	if (argc < 2)
		return usage();
	if (argc > 2)
		arg = strtol(argv[argc - 1], NULL, 10);
	if (shim_open(&s))
		return 3;
	if (strcmp(argv[1], "monitor") == 0)
		rc = do_monitor(&s, argc == 4 && strcmp(argv[2], "-n") == 0 ? arg : -1);
	else if (strcmp(argv[1], "status") == 0)
		rc = do_request(&s, HYBOND_CMD_STATUS, arg);
	else if (strcmp(argv[1], "pin") == 0 && arg > 0)
		rc = do_request(&s, HYBOND_CMD_PIN, arg);
	else if (strcmp(argv[1], "unpin") == 0 && arg > 0)
		rc = do_request(&s, HYBOND_CMD_UNPIN, arg);
	else if (strcmp(argv[1], "release") == 0 && arg > 0)
		rc = do_request(&s, HYBOND_CMD_RELEASE, arg);
	else
		rc = usage();
	mnl_socket_close(s.nl);
	return rc;
}
