/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* nlbuild.h — the rtnetlink requests hybond-guestd sends, built into a buffer.
 *
 * Pure functions (no socket): the unit tests compare their bytes with the
 * layout iproute2 sends for the same command (tests/data/netlink/, the .strace files).
 * Each returns the nlmsghdr it built in buf (at least GD_NL_BUFSZ bytes).
 */
#ifndef GD_NLBUILD_H
#define GD_NLBUILD_H

#include <stdint.h>

struct nlmsghdr;

#define GD_NL_BUFSZ 512

/* Filter priority and handle of hybond's filters (tc "pref 1 handle 1"). */
#define GD_TC_PRIO   1u
#define GD_TC_HANDLE 1u

enum gd_tc_dir { GD_TC_INGRESS, GD_TC_EGRESS };

/* tc qdisc add dev IFINDEX clsact */
struct nlmsghdr *gd_nl_clsact_add(void *buf, uint32_t seq, int ifindex);
/* tc filter add dev IFINDEX {ingress|egress} protocol all pref 1 handle 1 matchall
 *    action mirred {ingress|egress} redirect dev TO   (action stolen) */
struct nlmsghdr *gd_nl_redirect_add(void *buf, uint32_t seq, int ifindex, enum gd_tc_dir hook,
				    enum gd_tc_dir to_dir, int to_ifindex);
/* tc filter del dev IFINDEX {ingress|egress} pref 1 handle 1 matchall */
struct nlmsghdr *gd_nl_redirect_del(void *buf, uint32_t seq, int ifindex, enum gd_tc_dir hook);
/* tc filter show dev IFINDEX {ingress|egress} (dump) */
struct nlmsghdr *gd_nl_filter_dump(void *buf, uint32_t seq, int ifindex, enum gd_tc_dir hook);
/* ip link set dev BOND type bond active_slave SLAVE (0: clear) */
struct nlmsghdr *gd_nl_bond_active(void *buf, uint32_t seq, int bond, int slave);
/* ip link set dev BOND type bond primary SLAVE (0: clear) */
struct nlmsghdr *gd_nl_bond_primary(void *buf, uint32_t seq, int bond, int slave);
/* ip link set dev BOND type bond all_slaves_active V */
struct nlmsghdr *gd_nl_bond_all_active(void *buf, uint32_t seq, int bond, uint8_t v);
/* ip link add NAME type bond mode active-backup miimon MIIMON */
struct nlmsghdr *gd_nl_bond_create(void *buf, uint32_t seq, const char *name, uint32_t miimon);
/* ip link set dev IFINDEX master MASTER (0: nomaster) */
struct nlmsghdr *gd_nl_set_master(void *buf, uint32_t seq, int ifindex, int master);
/* ip link set dev IFINDEX up|down */
struct nlmsghdr *gd_nl_set_up(void *buf, uint32_t seq, int ifindex, int up);
/* Address / route carry-over (a bond the agent creates takes over the standby's
 * IP configuration).  From a dumped RTM_NEWADDR: an RTM_NEWADDR (type
 * RTM_NEWADDR, create) or RTM_DELADDR for TO_IFINDEX with the same prefix,
 * flags, scope and lifetimes (IFA_LABEL dropped: it names the old link).
 * Returns NULL if the message is not an address. */
struct nlmsghdr *gd_nl_addr_copy(void *buf, uint32_t seq, const struct nlmsghdr *dumped,
				 uint16_t type, int to_ifindex);
/* From a dumped RTM_NEWROUTE whose RTA_OIF is the old link: RTM_NEWROUTE
 * (create, excl) with RTA_OIF = TO_IFINDEX, everything else kept but
 * RTA_CACHEINFO.  NULL if not a route or it has no RTA_OIF / multipath. */
struct nlmsghdr *gd_nl_route_copy(void *buf, uint32_t seq, const struct nlmsghdr *dumped,
				  int to_ifindex);
/* Which dumped addresses / routes of IFINDEX are configuration to carry over:
 * addresses of scope universe/site (not link-local, which every link has);
 * routes of the main (or another non-local) table through IFINDEX that the
 * kernel did not make itself (proto kernel: prefix routes of an address). */
int gd_nl_addr_carried(const struct nlmsghdr *nlh, int ifindex);
int gd_nl_route_carried(const struct nlmsghdr *nlh, int ifindex);
/* dump of routes (family AF_UNSPEC) */
struct nlmsghdr *gd_nl_route_dump(void *buf, uint32_t seq);
/* dumps: links, addresses (family AF_UNSPEC), qdiscs */
struct nlmsghdr *gd_nl_dump(void *buf, uint32_t seq, uint16_t type);

#endif
