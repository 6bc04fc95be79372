// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_guest_pair.c — link parsing and pairing on netlink messages captured
 * in the lab guest (Debian 6.1 kernel) during a live migration:
 *   tests/data/netlink/failover-migrate  net_failover: eth0 master, eth1 standby, eth2 e1000e
 *   tests/data/netlink/bond-migrate      bond0 (active-backup): eth0 virtio, eth1 e1000e
 * (hybond-guestd --capture; README.capture in each directory lists them.) */
#include "tests/unit/cu_run.h"
#include <string.h>

#include "guest-agent/config.h"
#include "guest-agent/link.h"
#include "guest-agent/pair.h"
#include "test_guest_util.h"

static struct gd_config cfg;

/* Applies messages [from, to] of the capture. */
static void apply(struct gd_table *t, const struct tg_capture *c, int from, int to)
{
	int i;

	for (i = from; i <= to && i < c->n; i++)
		CU_ASSERT(gd_table_apply(t, c->msgs[i], NULL, NULL) >= 0);
}

static void test_link_parse(void)
{
	struct tg_capture c;
	struct gd_link l;

	CU_ASSERT_FATAL(tg_load(&c, "failover-migrate") >= 27);
	CU_ASSERT_EQUAL(gd_link_parse(c.msgs[1], &l), 1);
	CU_ASSERT_STRING_EQUAL(l.name, "eth0");
	CU_ASSERT_STRING_EQUAL(l.parent_bus, "virtio");
	CU_ASSERT_EQUAL(gd_link_role(&l), GD_ROLE_VIRTIO);
	CU_ASSERT_EQUAL(l.master, 0);
	CU_ASSERT_EQUAL(gd_link_parse(c.msgs[3], &l), 1);
	CU_ASSERT_STRING_EQUAL(l.name, "eth2");
	CU_ASSERT_EQUAL(gd_link_role(&l), GD_ROLE_PCI);
	CU_ASSERT_STRING_EQUAL(l.parent_dev, "0000:01:00.0");
	CU_ASSERT_EQUAL(l.master, 2);
	CU_ASSERT_EQUAL(memcmp(l.mac, "\x52\x54\x00\x18\x00\x10", 6), 0);
	CU_ASSERT_EQUAL(gd_link_parse(c.msgs[7], &l), 0);   /* DELLINK eth2 */
	CU_ASSERT_EQUAL(l.ifindex, 4);
	tg_free(&c);
}

static void test_failover_pairing(void)
{
	struct tg_capture c;
	struct gd_table t;
	struct gd_pair_links p[4];

	CU_ASSERT_FATAL(tg_load(&c, "failover-migrate") >= 27);
	gd_table_init(&t);
	apply(&t, &c, 0, 2);                    /* lo, master, standby: no VF yet */
	CU_ASSERT_EQUAL_FATAL(gd_pairs_find(&t, &cfg, p, 4), 1);
	CU_ASSERT_EQUAL(p[0].kind, GD_PAIR_FAILOVER);
	CU_ASSERT_EQUAL(p[0].master, 2);
	CU_ASSERT_EQUAL(p[0].standby, 3);
	CU_ASSERT_EQUAL(p[0].vf, 0);
	apply(&t, &c, 3, 6);                    /* VF registered */
	CU_ASSERT_EQUAL_FATAL(gd_pairs_find(&t, &cfg, p, 4), 1);
	CU_ASSERT_EQUAL(p[0].vf, 4);
	apply(&t, &c, 7, 7);                    /* QEMU unplugs the primary */
	CU_ASSERT_EQUAL_FATAL(gd_pairs_find(&t, &cfg, p, 4), 1);
	CU_ASSERT_EQUAL(p[0].vf, 0);
	apply(&t, &c, 8, c.n - 1);              /* destination re-plugs it */
	CU_ASSERT_EQUAL_FATAL(gd_pairs_find(&t, &cfg, p, 4), 1);
	CU_ASSERT_NOT_EQUAL(p[0].vf, 0);
	CU_ASSERT(gd_link_is_up(gd_table_get(&t, p[0].vf)));
	tg_free(&c);
}

static void test_bond_pairing(void)
{
	struct tg_capture c;
	struct gd_table t;
	struct gd_pair_links p[4];
	int i, saw_candidate = 0;

	CU_ASSERT_FATAL(tg_load(&c, "bond-migrate") >= 30);
	gd_table_init(&t);
	apply(&t, &c, 0, 3);
	CU_ASSERT_EQUAL_FATAL(gd_pairs_find(&t, &cfg, p, 4), 1);
	CU_ASSERT_EQUAL(p[0].kind, GD_PAIR_BOND);
	CU_ASSERT_STRING_EQUAL(gd_table_get(&t, p[0].master)->name, "bond0");
	CU_ASSERT_STRING_EQUAL(gd_table_get(&t, p[0].standby)->name, "eth0");
	CU_ASSERT_STRING_EQUAL(gd_table_get(&t, p[0].vf)->name, "eth1");
	CU_ASSERT_EQUAL(gd_table_get(&t, p[0].master)->bond_mode, 1);
	/* device_del, then device_add: the new e1000e shows up un-enslaved
	 * first (a VF candidate), then enslaved (by the agent, in the lab). */
	for (i = 4; i < c.n; i++) {
		apply(&t, &c, i, i);
		CU_ASSERT_EQUAL_FATAL(gd_pairs_find(&t, &cfg, p, 4), 1);
		if (p[0].vf_candidate) {
			saw_candidate = 1;
			CU_ASSERT_EQUAL(p[0].vf, 0);
		}
	}
	CU_ASSERT(saw_candidate);
	CU_ASSERT_NOT_EQUAL(p[0].vf, 0);
	tg_free(&c);
}

static void test_config(void)
{
	struct gd_config c;
	char err[128];

	CU_ASSERT_EQUAL(gd_config_parse(&c, "# x\n\nbond bond0 standby-mac 52:54:00:18:00:10 "
					"vf-pci 0000:01:00.0 miimon 50\nstatus-interval-ms 2000\n",
					err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.nbonds, 1);
	CU_ASSERT_STRING_EQUAL(c.bonds[0].vf_pci, "0000:01:00.0");
	CU_ASSERT_EQUAL(c.bonds[0].miimon_ms, 50);
	CU_ASSERT_EQUAL(c.status_interval_ms, 2000);
	CU_ASSERT_EQUAL(gd_config_parse(&c, "bond bond0 standby-mac 52:54:00:18:00:10\n", err,
					sizeof(err)), 0);
	CU_ASSERT(c.bonds[0].has_vf_mac);       /* defaults to the standby's MAC */
	CU_ASSERT_EQUAL(gd_config_parse(&c, "\nbond bond0 vf-mac zz\n", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "line 2: bad vf-mac");
	CU_ASSERT_EQUAL(gd_config_parse(&c, "frobnicate 1\n", err, sizeof(err)), -1);
}

static CU_TestInfo tests[] = {
	{ "link parse", test_link_parse },
	{ "failover pairing", test_failover_pairing },
	{ "bond pairing", test_bond_pairing },
	{ "config", test_config },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_SuiteInfo suites[] = {
		{ "guest_pair", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	gd_config_defaults(&cfg);

	return hb_cu_run(suites);
}
