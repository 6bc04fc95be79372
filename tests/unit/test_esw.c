/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_esw.c — the eswitch backends' netlink requests compared
 * byte for byte (except nlmsg_seq and nlmsg_pid) with what iproute2 sends for
 * the same command (the .strace files in tests/data/netlink-iproute2, see README there),
 * and the sriov-legacy backend run against a fake sysfs tree
 * (tests/data/sysfs-sriov) with requests captured instead of sent.
 */
#include "tests/unit/cu_run.h"
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-agent/hostd/esw/esw.h"

#ifndef HB_TESTDATA
#define HB_TESTDATA "tests/data"
#endif

static const uint8_t MAC[6] = { 0x52, 0x54, 0x00, 0x18, 0x00, 0x10 };

/* The last request of a capture (the hex dump after its last sendmsg line). */
static size_t load_capture(const char *name, uint8_t *out, size_t cap)
{
	char path[512], line[512];
	size_t n = 0;
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/netlink-iproute2/%s.strace", HB_TESTDATA, name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		const char *p;
		int i;

		if (!strncmp(line, "sendmsg(", 8)) {
			n = 0;          /* a later request replaces an earlier one */
			continue;
		}
		if (strncmp(line, " | ", 3) != 0 || strlen(line) < 60)
			continue;
		line[59] = '\0';        /* hex columns only, not the ASCII column */
		p = line + 10;
		for (i = 0; i < 16; i++) {
			unsigned int b;

			while (*p == ' ')
				p++;
			if (sscanf(p, "%2x", &b) != 1)
				break;
			if (n < cap)
				out[n++] = (uint8_t)b;
			p += 2;
		}
	}
	(void)fclose(f);
	return n;
}

/* Equal to iproute2's bytes, ignoring nlmsg_seq (8..11) and nlmsg_pid (12..15). */
static int same_as_iproute2(const char *name, const struct nlmsghdr *nlh)
{
	uint8_t want[1024];
	const uint8_t *got = (const uint8_t *)nlh;
	size_t n = load_capture(name, want, sizeof(want)), i;
	int ok = 1;

	if (n == 0) {
		(void)fprintf(stderr, "\n%s: no capture found\n", name);
		return 0;
	}
	if (n != nlh->nlmsg_len) {
		(void)fprintf(stderr, "\n%s: length %u, iproute2 %zu\n", name, nlh->nlmsg_len, n);
		return 0;
	}
	for (i = 0; i < n; i++)
		if ((i < 8 || i >= 16) && got[i] != want[i]) {
			(void)fprintf(stderr, "\n%s: byte %zu is %02x, iproute2 %02x\n", name, i, got[i], want[i]);
			ok = 0;
		}
	return ok;
}

static void test_bridge_messages(void)
{
	uint8_t buf[ESW_NL_BUFSZ];

	/* ifindex 4 = p1, 6 = p2 in the capture namespace */
	CU_ASSERT_TRUE(same_as_iproute2("fdb-replace-sticky", esw_msg_fdb_sticky(buf, 1, 4, MAC, 0)));
	CU_ASSERT_TRUE(same_as_iproute2("fdb-replace-sticky-vlan",
					esw_msg_fdb_sticky(buf, 1, 4, MAC, 100)));
	CU_ASSERT_TRUE(same_as_iproute2("fdb-del", esw_msg_fdb_del(buf, 1, 4, MAC, 0)));
	CU_ASSERT_TRUE(same_as_iproute2("fdb-del-vlan", esw_msg_fdb_del(buf, 1, 4, MAC, 100)));
	CU_ASSERT_TRUE(same_as_iproute2("link-learning-off", esw_msg_learning(buf, 1, 4, false)));
	CU_ASSERT_TRUE(same_as_iproute2("link-learning-on", esw_msg_learning(buf, 1, 6, true)));
	CU_ASSERT_TRUE(same_as_iproute2("pf-fdb-add-self", esw_msg_fdb_self(buf, 1, 4, MAC, true)));
	CU_ASSERT_TRUE(same_as_iproute2("pf-fdb-del-self", esw_msg_fdb_self(buf, 1, 4, MAC, false)));
}

static void test_vf_messages(void)
{
	uint8_t buf[ESW_NL_BUFSZ];
	struct esw_vf_cfg c;

	esw_vf_cfg_init(&c);
	c.set_mac = true;
	memcpy(c.mac, MAC, 6);
	CU_ASSERT_TRUE(same_as_iproute2("vf-mac", esw_msg_vf(buf, 1, 4, 0, &c)));
	memset(c.mac, 0, 6);
	CU_ASSERT_TRUE(same_as_iproute2("vf-mac-clear", esw_msg_vf(buf, 1, 4, 3, &c)));

	esw_vf_cfg_init(&c);
	c.set_vlan = true;
	c.vlan = 100;
	CU_ASSERT_TRUE(same_as_iproute2("vf-vlan", esw_msg_vf(buf, 1, 4, 0, &c)));
	c.qos = 3;
	CU_ASSERT_TRUE(same_as_iproute2("vf-vlan-qos", esw_msg_vf(buf, 1, 4, 0, &c)));
	c.qos = 0;
	c.vlan_proto = ETH_P_8021AD;
	CU_ASSERT_TRUE(same_as_iproute2("vf-vlan-proto", esw_msg_vf(buf, 1, 4, 0, &c)));

	esw_vf_cfg_init(&c);
	c.spoofchk = 1;
	CU_ASSERT_TRUE(same_as_iproute2("vf-spoofchk-on", esw_msg_vf(buf, 1, 4, 0, &c)));
	esw_vf_cfg_init(&c);
	c.trust = 0;
	CU_ASSERT_TRUE(same_as_iproute2("vf-trust-off", esw_msg_vf(buf, 1, 4, 0, &c)));
	esw_vf_cfg_init(&c);
	c.link_state = IFLA_VF_LINK_STATE_AUTO;
	CU_ASSERT_TRUE(same_as_iproute2("vf-state-auto", esw_msg_vf(buf, 1, 4, 0, &c)));
	c.link_state = IFLA_VF_LINK_STATE_DISABLE;
	CU_ASSERT_TRUE(same_as_iproute2("vf-state-disable", esw_msg_vf(buf, 1, 4, 0, &c)));

	/* ip link set dev p1 vf 2 mac M vlan 100 spoofchk on trust off state enable */
	esw_vf_cfg_init(&c);
	c.set_mac = true;
	memcpy(c.mac, MAC, 6);
	c.set_vlan = true;
	c.vlan = 100;
	c.spoofchk = 1;
	c.trust = 0;
	c.link_state = IFLA_VF_LINK_STATE_ENABLE;
	CU_ASSERT_TRUE(same_as_iproute2("vf-all", esw_msg_vf(buf, 1, 4, 2, &c)));
}

/* ---- backends with requests captured instead of sent ------------------------ */
static struct {
	int n;
	uint8_t msg[8][ESW_NL_BUFSZ];
	int fail;               /* answer every request with this (0: ACK) */
} X;

static int xmit(void *arg, const struct nlmsghdr *nlh)
{
	(void)arg;
	if (X.n < 8 && nlh->nlmsg_len <= ESW_NL_BUFSZ)
		memcpy(X.msg[X.n++], nlh, nlh->nlmsg_len);
	return X.fail;
}

#define SENT(i) ((const struct nlmsghdr *)X.msg[i])

static struct esw *open_sriov(bool uc, bool linkdis)
{
	struct esw_config cfg = { .kind = "sriov-legacy", .pf = "enp3s0f0",
				  .sysfs_root = HB_TESTDATA "/sysfs-sriov", .xmit = xmit,
				  .pf_uc_filter = uc, .vf_link_disable = linkdis };
	struct esw *e;

	memset(&X, 0, sizeof(X));
	CU_ASSERT_EQUAL(esw_open(&cfg, &e), 0);
	return e;
}

static void test_sriov_ports(void)
{
	struct esw *e = open_sriov(false, false);
	struct esw_port p;
	char d[512];

	CU_ASSERT_EQUAL(esw_port_lookup(e, "vf0", ESW_PORT_VF, &p), 0);
	CU_ASSERT(p.vf == 0 && p.ifindex == 4);
	CU_ASSERT_STRING_EQUAL(p.pci, "0000:03:10.0");
	CU_ASSERT_STRING_EQUAL(p.name, "enp3s0f0v0");
	CU_ASSERT_EQUAL(esw_port_lookup(e, "0000:03:10.2", ESW_PORT_VF, &p), 0);
	CU_ASSERT_EQUAL(p.vf, 1);
	CU_ASSERT_STRING_EQUAL(p.name, "");      /* vfio-pci: no netdev */
	CU_ASSERT_EQUAL(esw_port_lookup(e, "enp3s0f0v2", ESW_PORT_VF, &p), 0);
	CU_ASSERT_EQUAL(p.vf, 2);
	CU_ASSERT_EQUAL(esw_port_lookup(e, "2", ESW_PORT_VF, &p), 0);
	CU_ASSERT_EQUAL(p.vf, 2);
	CU_ASSERT_EQUAL(esw_port_lookup(e, "vf3", ESW_PORT_VF, &p), -ENODEV);
	CU_ASSERT_PTR_NOT_NULL(strstr(esw_errmsg(e), "has no VF 'vf3'"));
	CU_ASSERT_EQUAL(esw_port_lookup(e, "vf1x", ESW_PORT_VF, &p), -ENODEV);
	CU_ASSERT_EQUAL(esw_port_lookup(e, "enp3s0f0", ESW_PORT_STANDBY, &p), 0);
	CU_ASSERT(p.vf == -1 && p.ifindex == 4);
	CU_ASSERT_EQUAL(esw_port_lookup(e, "eth9", ESW_PORT_STANDBY, &p), -EINVAL);
	CU_ASSERT_EQUAL(esw_port_lookup(e, "", ESW_PORT_VF, &p), -EINVAL);
	CU_ASSERT_EQUAL(esw_describe(e, d, sizeof(d)), 0);
	CU_ASSERT_STRING_EQUAL(d, "sriov-legacy eswitch PF enp3s0f0 (ifindex 4), 3 VFs: "
			       "vf0=0000:03:10.0/enp3s0f0v0 vf1=0000:03:10.2 vf2=0000:03:10.4/enp3s0f0v2");
	CU_ASSERT_STRING_EQUAL(esw_kind(e), "sriov-legacy");
	CU_ASSERT_EQUAL(X.n, 0);
	esw_close(e);
}

static void test_sriov_steer(void)
{
	struct esw *e = open_sriov(false, false);
	struct esw_port vf, sb;
	struct esw_steer_req r = { .vf = &vf, .standby = &sb, .to = ESW_TO_VF };
	uint8_t buf[ESW_NL_BUFSZ];
	struct esw_vf_cfg c;

	memcpy(r.mac, MAC, 6);
	CU_ASSERT_EQUAL(esw_port_lookup(e, "vf0", ESW_PORT_VF, &vf), 0);
	CU_ASSERT_EQUAL(esw_port_lookup(e, "enp3s0f0", ESW_PORT_STANDBY, &sb), 0);
	/* to the VF: exactly `ip link set dev PF vf 0 mac M` */
	CU_ASSERT_EQUAL(esw_steer(e, &r), 0);
	CU_ASSERT_EQUAL(X.n, 1);
	CU_ASSERT_TRUE(same_as_iproute2("vf-mac", SENT(0)));
	/* to the standby: the VF's filter cleared */
	X.n = 0;
	r.to = ESW_TO_STANDBY;
	CU_ASSERT_EQUAL(esw_steer(e, &r), 0);
	CU_ASSERT_EQUAL(X.n, 1);
	esw_vf_cfg_init(&c);
	c.set_mac = true;
	CU_ASSERT_EQUAL(memcmp(X.msg[0] + 16, (uint8_t *)esw_msg_vf(buf, 0, 4, 0, &c) + 16,
			       SENT(0)->nlmsg_len - 16), 0);
	/* a driver that refuses: the error names the command and the reason */
	X.fail = -EOPNOTSUPP;
	CU_ASSERT_EQUAL(esw_steer(e, &r), -EOPNOTSUPP);
	CU_ASSERT_PTR_NOT_NULL(strstr(esw_errmsg(e), "ip link set dev enp3s0f0 vf 0"));
	CU_ASSERT_PTR_NOT_NULL(strstr(esw_errmsg(e), "does not support"));
	X.fail = 0;
	/* program_vf: the full set in one request, as iproute2 would for vf 2 */
	CU_ASSERT_EQUAL(esw_port_lookup(e, "vf2", ESW_PORT_VF, &vf), 0);
	esw_vf_cfg_init(&c);
	c.set_mac = true;
	memcpy(c.mac, MAC, 6);
	c.set_vlan = true;
	c.vlan = 100;
	c.spoofchk = 1;
	c.trust = 0;
	c.link_state = IFLA_VF_LINK_STATE_ENABLE;
	X.n = 0;
	CU_ASSERT_EQUAL(esw_program_vf(e, &vf, &c), 0);
	CU_ASSERT_TRUE(same_as_iproute2("vf-all", SENT(0)));
	c.learning = 0;
	CU_ASSERT_EQUAL(esw_program_vf(e, &vf, &c), -EOPNOTSUPP);
	c.learning = ESW_LEAVE;
	c.vlan = 4095;
	CU_ASSERT_EQUAL(esw_program_vf(e, &vf, &c), -EINVAL);
	CU_ASSERT_EQUAL(esw_program_vf(e, &sb, &c), -EINVAL);     /* not a VF */
	esw_close(e);
}

/* pf_uc_filter: the new path first, then the old one removed. */
static void test_sriov_pf_filter(void)
{
	struct esw *e = open_sriov(true, true);
	struct esw_port vf, sb;
	struct esw_steer_req r = { .vf = &vf, .standby = &sb, .to = ESW_TO_STANDBY };
	const struct nlattr *a;

	memcpy(r.mac, MAC, 6);
	CU_ASSERT_EQUAL(esw_port_lookup(e, "vf0", ESW_PORT_VF, &vf), 0);
	CU_ASSERT_EQUAL(esw_port_lookup(e, "enp3s0f0", ESW_PORT_STANDBY, &sb), 0);
	CU_ASSERT_EQUAL(esw_steer(e, &r), 0);
	CU_ASSERT_EQUAL(X.n, 2);
	CU_ASSERT_TRUE(same_as_iproute2("pf-fdb-add-self", SENT(0)));
	/* then the VF: MAC cleared and link forced down, in one request */
	CU_ASSERT_EQUAL(SENT(1)->nlmsg_len, 32 + 4 + 4 + 40 + 12);
	a = (const struct nlattr *)(X.msg[1] + 32 + 4 + 4 + 40);
	CU_ASSERT_EQUAL(a->nla_type, IFLA_VF_LINK_STATE);
	CU_ASSERT_EQUAL(((const struct ifla_vf_link_state *)(a + 1))->link_state,
			IFLA_VF_LINK_STATE_DISABLE);
	X.n = 0;
	r.to = ESW_TO_VF;
	CU_ASSERT_EQUAL(esw_steer(e, &r), 0);
	CU_ASSERT_EQUAL(X.n, 2);
	CU_ASSERT_TRUE(same_as_iproute2("pf-fdb-del-self", SENT(1)));
	esw_close(e);
}

static void test_bridge_backend(void)
{
	struct esw_config cfg = { .kind = "bridge", .bridge = "brx", .xmit = xmit };
	struct esw_port vf = { .kind = ESW_PORT_VF, .ifindex = 4, .vf = -1, .name = "p1" };
	struct esw_port sb = { .kind = ESW_PORT_STANDBY, .ifindex = 6, .vf = -1, .name = "p2" };
	struct esw_steer_req r = { .vf = &vf, .standby = &sb, .to = ESW_TO_VF };
	struct esw_vf_cfg c;
	struct esw *e;
	uint8_t buf[ESW_NL_BUFSZ];

	memset(&X, 0, sizeof(X));
	memcpy(r.mac, MAC, 6);
	CU_ASSERT_EQUAL_FATAL(esw_open(&cfg, &e), 0);
	CU_ASSERT_EQUAL(esw_steer(e, &r), 0);
	CU_ASSERT_TRUE(same_as_iproute2("fdb-replace-sticky", SENT(0)));
	/* the move to the standby is ONE replace naming the other port */
	r.to = ESW_TO_STANDBY;
	X.n = 0;
	CU_ASSERT_EQUAL(esw_steer(e, &r), 0);
	CU_ASSERT_EQUAL(X.n, 1);
	CU_ASSERT_EQUAL(memcmp(X.msg[0], esw_msg_fdb_sticky(buf, SENT(0)->nlmsg_seq, 6, MAC, 0),
			       SENT(0)->nlmsg_len), 0);
	/* none: delete wherever it is (ENOENT on the other port is fine) */
	r.to = ESW_TO_NONE;
	X.n = 0;
	X.fail = -ENOENT;
	CU_ASSERT_EQUAL(esw_steer(e, &r), 0);
	CU_ASSERT_EQUAL(X.n, 2);
	CU_ASSERT_TRUE(same_as_iproute2("fdb-del", SENT(0)));
	X.fail = -EPERM;
	CU_ASSERT_EQUAL(esw_steer(e, &r), -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(esw_errmsg(e), "bridge fdb del 52:54:00:18:00:10 dev p1"));
	X.fail = 0;
	/* program the VF port: learning off + the MAC's sticky entry */
	esw_vf_cfg_init(&c);
	c.learning = 0;
	c.set_mac = true;
	memcpy(c.mac, MAC, 6);
	X.n = 0;
	CU_ASSERT_EQUAL(esw_program_vf(e, &vf, &c), 0);
	CU_ASSERT_EQUAL(X.n, 2);
	CU_ASSERT_TRUE(same_as_iproute2("link-learning-off", SENT(0)));
	CU_ASSERT_TRUE(same_as_iproute2("fdb-replace-sticky", SENT(1)));
	c.spoofchk = 1;
	CU_ASSERT_EQUAL(esw_program_vf(e, &vf, &c), -EOPNOTSUPP);
	/* validation before any request */
	X.n = 0;
	r.to = ESW_TO_VF;
	r.mac[0] = 0x01;
	CU_ASSERT_EQUAL(esw_steer(e, &r), -EINVAL);
	r.mac[0] = 0x52;
	r.vlan = 4095;
	CU_ASSERT_EQUAL(esw_steer(e, &r), -EINVAL);
	r.vlan = 0;
	r.vf = NULL;
	CU_ASSERT_EQUAL(esw_steer(e, &r), -EINVAL);
	CU_ASSERT_EQUAL(X.n, 0);
	esw_close(e);
}

static void test_open_errors(void)
{
	struct esw_config cfg = { .kind = "sriov-legacy", .pf = "eth9",
				  .sysfs_root = HB_TESTDATA "/sysfs-sriov", .xmit = xmit };
	struct esw *e;

	CU_ASSERT_EQUAL(esw_open(&cfg, &e), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(esw_errmsg(e), "SR-IOV"));
	esw_close(e);
	cfg.pf = "nosuch0";
	CU_ASSERT_EQUAL(esw_open(&cfg, &e), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(esw_errmsg(e), "nosuch0"));
	esw_close(e);
	cfg.pf = "enp3s0f0";
	cfg.netns = "hbesw-x";
	CU_ASSERT_EQUAL(esw_open(&cfg, &e), -EINVAL);
	esw_close(e);
	cfg.kind = "openflow";
	CU_ASSERT_EQUAL(esw_open(&cfg, &e), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(esw_errmsg(e), "unknown eswitch kind 'openflow'"));
	esw_close(e);
	cfg.kind = "bridge";
	cfg.bridge = NULL;
	CU_ASSERT_EQUAL(esw_open(&cfg, &e), -EINVAL);
	esw_close(e);
}

static void test_parse_mac(void)
{
	uint8_t m[6];

	CU_ASSERT_EQUAL(esw_parse_mac("52:54:00:18:00:10", m), 0);
	CU_ASSERT_EQUAL(memcmp(m, MAC, 6), 0);
	CU_ASSERT_EQUAL(esw_parse_mac("52:54:00:18:00:1", m), -EINVAL);
	CU_ASSERT_EQUAL(esw_parse_mac("52:54:00:18:00:10:", m), -EINVAL);
	CU_ASSERT_EQUAL(esw_parse_mac("52:54:00:18:00:zz", m), -EINVAL);
	CU_ASSERT_EQUAL(esw_parse_mac("01:00:5e:00:00:01", m), -EINVAL);   /* multicast */
	CU_ASSERT_EQUAL(esw_parse_mac("ff:ff:ff:ff:ff:ff", m), -EINVAL);
	CU_ASSERT_EQUAL(esw_parse_mac("00:00:00:00:00:00", m), -EINVAL);
	CU_ASSERT_EQUAL(esw_parse_mac(" 2:54:00:18:00:10", m), -EINVAL);
	CU_ASSERT_EQUAL(esw_parse_mac(NULL, m), -EINVAL);
}

static CU_TestInfo tests[] = {
	{ "bridge requests = iproute2's bytes", test_bridge_messages },
	{ "VF requests = iproute2's bytes", test_vf_messages },
	{ "sriov-legacy: VFs from sysfs", test_sriov_ports },
	{ "sriov-legacy: steer and program", test_sriov_steer },
	{ "sriov-legacy: PF unicast filter order", test_sriov_pf_filter },
	{ "bridge backend requests", test_bridge_backend },
	{ "open errors", test_open_errors },
	{ "MAC parsing", test_parse_mac },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_SuiteInfo suites[] = {
		{ "esw", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return hb_cu_run(suites);
}
