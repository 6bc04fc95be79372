/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pair.h — the guest's links and the failover pairs found among them.
 *
 * A pair is a master (net_failover, or an active-backup bond) + a standby
 * (virtio_net) + at most one VF (any PCI netdev).  Everything here is pure:
 * it works on a table filled from rtnetlink messages, live or captured.
 */
#ifndef GD_PAIR_H
#define GD_PAIR_H

#include "config.h"
#include "link.h"

#define GD_MAX_LINKS 64

struct gd_table {
	struct gd_link links[GD_MAX_LINKS];
	int n;
};

/* What gd_table_apply() saw change (bit mask). */
enum {
	GD_CH_NEW     = 1 << 0,
	GD_CH_GONE    = 1 << 1,
	GD_CH_UP      = 1 << 2,  /* IFF_UP changed */
	GD_CH_CARRIER = 1 << 3,
	GD_CH_MASTER  = 1 << 4,
	GD_CH_NAME    = 1 << 5,
	GD_CH_BOND    = 1 << 6,  /* bond active slave / primary / all_slaves_active */
};

enum gd_pair_kind { GD_PAIR_FAILOVER = 1, GD_PAIR_BOND = 2 };

/* The links of one pair as the table shows them now (ifindex 0 = none). */
struct gd_pair_links {
	enum gd_pair_kind kind;
	uint8_t mac[6];           /* the standby's permanent MAC: the pair's identity */
	int master;
	int standby;
	int vf;                   /* the VF enslaved to master */
	int vf_candidate;         /* bond: a matching VF not enslaved yet */
	const struct gd_bond_conf *conf;  /* bond from guest.conf, or NULL */
};

void gd_table_init(struct gd_table *t);
const struct gd_link *gd_table_get(const struct gd_table *t, int ifindex);
const struct gd_link *gd_table_by_name(const struct gd_table *t, const char *name);
/* Applies one RTM_NEWLINK/RTM_DELLINK; returns the GD_CH_* mask (0: nothing
 * relevant, -EINVAL: not a link message, -ENOSPC: table full) and, when
 * non-NULL, the link before (zeroed if new) and after (as deleted if gone). */
int gd_table_apply(struct gd_table *t, const struct nlmsghdr *nlh, struct gd_link *before,
		   struct gd_link *after);

/* Finds the pairs in the table (at most max).  Returns their number. */
int gd_pairs_find(const struct gd_table *t, const struct gd_config *cfg,
		  struct gd_pair_links *out, int max);

#endif
