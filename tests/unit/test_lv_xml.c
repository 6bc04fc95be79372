// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tests/unit/test_lv_xml.c — host-agent/lv_xml (libvirt domain / network XML) and the
 * hybond-libvirt-hook binary.
 *
 * lv_xml: realistic domains from tests/unit/data/libvirt (libvirt's teaming pair, a
 * VF pool interface, the lab's <qemu:commandline> VF, a bonding guest, a plain
 * <hostdev>, the lvlab domain with its JSON -device), broken / oversized / DTD and entity
 * input, limits, generated device XML parsed back, the VF rewrite, the metadata host
 * (lv_domain_set_host), pools, and the advice of lv_domain_check.
 *
 * The hook: the binary (LV_HOOK_BIN, or $HYBOND_HOOK_BIN) runs with the domain XML on
 * stdin against a fake hybond-hostd, a unix listener in this process driven by one
 * poll loop on the listener, the connection and a pipe the hook holds until it exits.
 */
#include "tests/unit/cu_run.h"
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "host-agent/hostd/hv/lv_xml.h"

#ifndef LV_TESTDATA
#define LV_TESTDATA "tests/unit/data/libvirt"
#endif
#ifndef LV_HOOK_BIN
#define LV_HOOK_BIN "build/bin/hybond-libvirt-hook"
#endif

static struct lv_domain D;
static char Err[512];

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = calloc(1, (size_t)n + 1)) && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	(void)fclose(f);
	return buf;
}

static char *data(const char *name)
{
	char path[512];

	(void)snprintf(path, sizeof(path), "%s/%s", LV_TESTDATA, name);
	return slurp(path);
}

static int parse_file(const char *name)
{
	char *x = data(name);
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	rc = lv_domain_parse(x, &D, Err, sizeof(Err));
	free(x);
	return rc;
}

/* never NULL: a missing issue is None (empty strings), which the tests assert against */
static const struct lv_issue None = { .code = (enum lv_problem)-1 };

static const struct lv_issue *find_issue(const struct lv_advice *a, enum lv_problem p)
{
	unsigned i;

	for (i = 0; i < a->n; i++)
		if (a->items[i].code == p)
			return &a->items[i];
	return &None;
}

static int has_issue(const struct lv_advice *a, enum lv_problem p)
{
	return find_issue(a, p) != &None;
}

static void pci_is(const struct lv_pci *p, const char *want)
{
	char s[13];

	lv_pci_format(p, s);
	CU_ASSERT_STRING_EQUAL(s, want);
}

/* ---- parsing ------------------------------------------------------------------------ */

static void test_teaming_hostdev(void)
{
	struct lv_advice a;

	CU_ASSERT_EQUAL_FATAL(parse_file("teaming-hostdev.xml"), 0);
	CU_ASSERT_STRING_EQUAL(D.name, "vm1");
	CU_ASSERT_STRING_EQUAL(D.uuid, "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
	CU_ASSERT_EQUAL_FATAL(D.n_ifaces, 3);
	CU_ASSERT_STRING_EQUAL(D.ifaces[0].type, "network");
	CU_ASSERT_STRING_EQUAL(D.ifaces[0].network, "mybridge");
	CU_ASSERT_STRING_EQUAL(D.ifaces[0].target_dev, "vnet3");
	CU_ASSERT_EQUAL(D.ifaces[0].teaming, LV_TEAM_PERSISTENT);
	CU_ASSERT_STRING_EQUAL(D.ifaces[1].type, "hostdev");
	CU_ASSERT(D.ifaces[1].has_pci && D.ifaces[1].managed);
	pci_is(&D.ifaces[1].pci, "0000:00:07.0");
	CU_ASSERT_EQUAL(D.ifaces[1].teaming, LV_TEAM_TRANSIENT);
	CU_ASSERT_STRING_EQUAL(D.ifaces[1].persistent, "ua-backup0");
	CU_ASSERT_STRING_EQUAL(D.ifaces[2].mac, "52:54:00:aa:bb:cc");   /* normalised */
	CU_ASSERT_STRING_EQUAL(D.ifaces[2].bridge, "br-mgmt");
	CU_ASSERT_STRING_EQUAL(D.ifaces[2].model, "e1000e");
	CU_ASSERT(D.has_channel);
	CU_ASSERT_STRING_EQUAL(D.channel_path, "/run/hybond/vm1/agent.sock");
	CU_ASSERT(D.has_metadata);
	CU_ASSERT_STRING_EQUAL(D.meta_host, "hA");
	CU_ASSERT(lv_domain_is_hybond(&D));
	CU_ASSERT_EQUAL_FATAL(D.n_pairs, 1);
	CU_ASSERT_EQUAL(D.pairs[0].kind, LV_VF_HOSTDEV);
	CU_ASSERT(D.pairs[0].vf_is_iface);
	CU_ASSERT_EQUAL(D.pairs[0].vf, 1);
	CU_ASSERT_EQUAL(D.pairs[0].standby, 0);
	CU_ASSERT_STRING_EQUAL(D.pairs[0].standby_alias, "ua-backup0");
	CU_ASSERT_STRING_EQUAL(D.pairs[0].standby_mac, "00:11:22:33:44:55");
	CU_ASSERT_STRING_EQUAL(D.pairs[0].standby_dev, "vnet3");
	CU_ASSERT_STRING_EQUAL(D.pairs[0].vf_mac, "00:11:22:33:44:55");
	pci_is(&D.pairs[0].pci, "0000:00:07.0");
	CU_ASSERT_EQUAL(lv_domain_check(&D, &a), 0);
	CU_ASSERT_EQUAL(a.n_errors, 0);
}

static void test_teaming_pool(void)
{
	struct lv_advice a;

	CU_ASSERT_EQUAL_FATAL(parse_file("teaming-pool.xml"), 0);
	CU_ASSERT(D.has_channel);
	CU_ASSERT_STRING_EQUAL(D.channel_path, "");     /* libvirt picks it */
	CU_ASSERT_STRING_EQUAL(D.meta_host, "hB");
	CU_ASSERT_STRING_EQUAL(D.meta_mode, "failover");
	CU_ASSERT_EQUAL_FATAL(D.n_pairs, 1);
	CU_ASSERT_EQUAL(D.pairs[0].kind, LV_VF_POOL);
	CU_ASSERT_STRING_EQUAL(D.pairs[0].pool, "hostdev-pool");
	CU_ASSERT_STRING_EQUAL(D.pairs[0].standby_alias, "ua-standby0");
	CU_ASSERT_EQUAL(lv_domain_check(&D, &a), 0);
}

static void test_lab_qemu(void)
{
	struct lv_advice a;

	CU_ASSERT_EQUAL_FATAL(parse_file("lab-qemu.xml"), 0);
	CU_ASSERT_EQUAL_FATAL(D.n_qemu_vfs, 1);
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].id, "vf0");
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].driver, "e1000e");
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].netdev, "nv");
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].tap, "hv-labvm");
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].bus, "ua-rp1");
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].mac, "52:54:00:18:00:10");
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].failover_pair_id, "ua-standby0");
	CU_ASSERT_STRING_EQUAL(D.ifaces[0].target_dev, "hs-labvm");
	CU_ASSERT_EQUAL_FATAL(D.n_pairs, 1);
	CU_ASSERT_EQUAL(D.pairs[0].kind, LV_VF_QEMU);
	CU_ASSERT_STRING_EQUAL(D.pairs[0].qemu_id, "vf0");
	CU_ASSERT_STRING_EQUAL(D.pairs[0].tap, "hv-labvm");
	CU_ASSERT_STRING_EQUAL(D.pairs[0].standby_dev, "hs-labvm");
	CU_ASSERT_EQUAL(lv_domain_check(&D, &a), 0);
}

static void test_qemu_keyval(void)
{
	static const char x[] =
		"<domain xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>q</name>"
		"<devices><interface type='ethernet'><mac address='52:54:00:00:00:09'/>"
		"<model type='virtio'/><alias name='ua-s'/><teaming type='persistent'/>"
		"</interface></devices><qemu:commandline>"
		"<qemu:arg value='-device'/><qemu:arg value='driver=igb,id=v,,1,netdev=n1,"
		"failover_pair_id=ua-s'/>"
		"<qemu:arg value='-device'/><qemu:arg value='virtio-rng-pci,id=rng0'/>"
		"<qemu:arg value='-netdev'/><qemu:arg value='user,id=n1'/>"
		"<qemu:arg value='-device'/><qemu:arg value='{\"driver\":\"e1000e\"}'/>"
		"</qemu:commandline></domain>";

	CU_ASSERT_EQUAL_FATAL(lv_domain_parse(x, &D, Err, sizeof(Err)), 0);
	/* the rng and the JSON e1000e have no netdev: not NICs */
	CU_ASSERT_EQUAL_FATAL(D.n_qemu_vfs, 1);
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].driver, "igb");
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].id, "v,1");
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].tap, "");  /* a user netdev, not a tap */
	CU_ASSERT_EQUAL(D.n_pairs, 1);
}

/* the domain tests/lab/lvlab defines: the "VF" as a JSON -device (QEMU 7.2 creates
 * key=value -device options before JSON ones, libvirt's included) */
static void test_lab_lvlab(void)
{
	struct lv_advice a;
	unsigned i;

	CU_ASSERT_EQUAL_FATAL(parse_file("lab-lvlab.xml"), 0);
	CU_ASSERT_STRING_EQUAL(D.name, "lv1");
	CU_ASSERT_EQUAL_FATAL(D.n_qemu_vfs, 1);        /* -chardev / -mon are not NICs */
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].id, "vf0");
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].driver, "e1000e");
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].netdev, "nv");
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].bus, "ua-rp1");
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].mac, "52:54:00:18:00:10");
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].failover_pair_id, "ua-standby0");
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].tap, "hv-lv1");
	CU_ASSERT_EQUAL_FATAL(D.n_pairs, 1);
	CU_ASSERT_EQUAL(D.pairs[0].kind, LV_VF_QEMU);
	CU_ASSERT_STRING_EQUAL(D.pairs[0].qemu_id, "vf0");
	CU_ASSERT_STRING_EQUAL(D.pairs[0].tap, "hv-lv1");
	CU_ASSERT_STRING_EQUAL(D.pairs[0].vf_mac, "52:54:00:18:00:10");
	CU_ASSERT_STRING_EQUAL(D.pairs[0].standby_alias, "ua-standby0");
	CU_ASSERT_STRING_EQUAL(D.pairs[0].standby_mac, "52:54:00:18:00:10");
	CU_ASSERT_STRING_EQUAL(D.pairs[0].standby_dev, "hs-lv1");
	/* the guest channel, not the lab's exec / log channels */
	CU_ASSERT(D.has_channel);
	CU_ASSERT_STRING_EQUAL(D.channel_path, "/run/libvirt/hbl-vms/lv1/agent.sock");
	CU_ASSERT(D.has_metadata);
	CU_ASSERT_STRING_EQUAL(D.meta_host, "hA");
	CU_ASSERT_STRING_EQUAL(D.meta_mode, "");
	CU_ASSERT(lv_domain_is_hybond(&D));
	/* ready: notes at most */
	CU_ASSERT_EQUAL(lv_domain_check(&D, &a), 0);
	CU_ASSERT_EQUAL(a.n_errors, 0);
	for (i = 0; i < a.n; i++)
		CU_ASSERT_EQUAL(a.items[i].severity, LV_SEV_NOTE);
}

/* <domain> with a virtio standby ua-s and the <qemu:arg>s ARGS */
static int parse_qemu_args(const char *args)
{
	static const char head[] =
		"<domain xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>q</name>"
		"<devices><interface type='ethernet'><mac address='52:54:00:00:00:09'/>"
		"<model type='virtio'/><alias name='ua-s'/><teaming type='persistent'/>"
		"</interface></devices><qemu:commandline>";
	static const char tail[] = "</qemu:commandline></domain>";
	size_t n = sizeof(head) + strlen(args) + sizeof(tail);
	char *x = malloc(n);
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	(void)snprintf(x, n, "%s%s%s", head, args, tail);
	rc = lv_domain_parse(x, &D, Err, sizeof(Err));
	free(x);
	return rc;
}

#define QARG(v) "<qemu:arg value='" v "'/>"

static void test_qemu_json(void)
{
	static char big[16384], deep[16384];
	size_t i;

	/* JSON -netdev too, JSON escapes, values hybond does not read may be anything */
	CU_ASSERT_EQUAL_FATAL(parse_qemu_args(
		QARG("-netdev") QARG("{\"type\":\"tap\",\"id\":\"n1\",\"ifname\":\"tap\\u002d1\","
				     "\"vhost\":false}")
		QARG("-device") QARG("{\"driver\":\"igb\",\"netdev\":\"n1\",\"id\":\"v,1\","
				     "\"mac\":\"52:54:00:00:00:0A\",\"failover_pair_id\":\"ua-s\","
				     "\"addr\":3,\"x-opts\":{\"a\":[1,2]}}")
		QARG("-device") QARG("{\"driver\":\"virtio-rng-pci\",\"id\":\"rng0\"}")),
		0);
	CU_ASSERT_EQUAL_FATAL(D.n_qemu_vfs, 1);
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].driver, "igb");
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].id, "v,1");
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].mac, "52:54:00:00:00:0a");
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].tap, "tap-1");
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].bus, "");
	CU_ASSERT_EQUAL_FATAL(D.n_pairs, 1);
	CU_ASSERT_STRING_EQUAL(D.pairs[0].standby_alias, "ua-s");

	/* broken JSON: the option, and what is wrong */
	CU_ASSERT_EQUAL(parse_qemu_args(QARG("-device") QARG("{\"driver\":\"e1000e\",")),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "-device"));
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "not valid JSON"));
	CU_ASSERT_EQUAL(parse_qemu_args(QARG("-device") QARG("{\"netdev\":\"a\"} x")), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "not valid JSON"));
	CU_ASSERT_EQUAL(parse_qemu_args(QARG("-netdev") QARG("{\"type\":\"tap\",\"id\":\"a\","
							     "\"id\":\"b\"}")), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "-netdev"));
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "duplicate"));
	CU_ASSERT_EQUAL(parse_qemu_args(QARG("-device") QARG("{\"netdev\":\"a\\u0000b\"}")),
			-EINVAL);
	CU_ASSERT_EQUAL(parse_qemu_args(QARG("-device") QARG("{[1]")), -EINVAL);
	/* a value hybond reads that is not a string, too long, or not a MAC */
	CU_ASSERT_EQUAL(parse_qemu_args(QARG("-device") QARG("{\"netdev\":\"a\",\"mac\":5}")),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "mac is not a string"));
	CU_ASSERT_EQUAL(parse_qemu_args(QARG("-device") QARG("{\"netdev\":[\"a\"]}")), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "netdev is not a string"));
	CU_ASSERT_EQUAL(parse_qemu_args(QARG("-device") QARG("{\"netdev\":\"a\",\"mac\":"
							     "\"52:54:00:00:00:0g\"}")), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "bad mac"));
	CU_ASSERT_EQUAL(parse_qemu_args(QARG("-netdev") QARG("{\"type\":\"tap\",\"id\":\"a\","
							     "\"ifname\":\"0123456789abcdef\"}")),
			-ENAMETOOLONG);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "ifname is longer than 15 bytes"));

	/* bounded: a huge or deeply nested JSON is refused with a message, no crash */
	i = (size_t)snprintf(big, sizeof(big), QARG("-device") "<qemu:arg value='{\"netdev\":\"");
	memset(big + i, 'n', 9000);
	(void)snprintf(big + i + 9000, sizeof(big) - i - 9000, "\"}'/>");
	CU_ASSERT_EQUAL(parse_qemu_args(big), -E2BIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "limit 8192"));
	i = (size_t)snprintf(deep, sizeof(deep), QARG("-device") "<qemu:arg value='{\"x\":");
	memset(deep + i, '[', 3000);
	memset(deep + i + 3000, ']', 3000);
	(void)snprintf(deep + i + 6000, sizeof(deep) - i - 6000, ",\"netdev\":\"n\"}'/>");
	CU_ASSERT_EQUAL(parse_qemu_args(deep), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "not valid JSON"));
}

static void test_plain_hostdev(void)
{
	struct lv_advice a;

	CU_ASSERT_EQUAL_FATAL(parse_file("plain-hostdev.xml"), 0);
	CU_ASSERT_EQUAL_FATAL(D.n_hostdevs, 1);        /* the USB one is not ours */
	pci_is(&D.hostdevs[0].pci, "0000:81:02.5");
	CU_ASSERT(D.hostdevs[0].managed);
	CU_ASSERT_EQUAL_FATAL(D.n_pairs, 1);
	CU_ASSERT_EQUAL(D.pairs[0].kind, LV_VF_HOSTDEV);
	CU_ASSERT_FALSE(D.pairs[0].vf_is_iface);
	pci_is(&D.pairs[0].pci, "0000:81:02.5");
	/* the standby is an e1000e: not ready */
	CU_ASSERT_EQUAL(lv_domain_check(&D, &a), 1);
	CU_ASSERT_EQUAL(a.n_errors, 1);
	CU_ASSERT_FATAL(has_issue(&a, LV_P_STANDBY_MODEL));
	CU_ASSERT_PTR_NOT_NULL(strstr(find_issue(&a, LV_P_STANDBY_MODEL)->xml, "virtio"));
}

static void test_bond_guest(void)
{
	struct lv_advice a;
	const struct lv_issue *it;

	CU_ASSERT_EQUAL_FATAL(parse_file("bond-guest.xml"), 0);
	CU_ASSERT_EQUAL(D.n_pairs, 0);
	CU_ASSERT_FALSE(lv_domain_is_hybond(&D));
	CU_ASSERT_EQUAL(lv_domain_check(&D, &a), 1);
	it = find_issue(&a, LV_P_NO_CHANNEL);
	CU_ASSERT_FATAL(it != &None);
	CU_ASSERT_PTR_NOT_NULL(strstr(it->xml, "/run/hybond/bondvm/agent.sock"));
	CU_ASSERT_PTR_NOT_NULL(strstr(it->xml, "org.hybond.0"));
	CU_ASSERT_STRING_EQUAL(it->where, "<devices>");
	it = find_issue(&a, LV_P_NO_METADATA);
	CU_ASSERT_FATAL(it != &None);
	CU_ASSERT_PTR_NOT_NULL(strstr(it->xml, LV_HYBOND_NS));
	it = find_issue(&a, LV_P_BOND_GUEST);
	CU_ASSERT_FATAL(it != &None);
	CU_ASSERT_EQUAL(it->severity, LV_SEV_ERROR);   /* failover or bond? the operator says */
	CU_ASSERT_PTR_NOT_NULL(strstr(it->what, "hybond migrate"));
	CU_ASSERT_PTR_NOT_NULL(strstr(it->xml, "ua-standby0"));
	CU_ASSERT(has_issue(&a, LV_P_STANDBY_TEAMING));

	/* declared a bonding guest, with a channel: ready, with a note */
	D.has_channel = D.has_metadata = 1;
	(void)snprintf(D.meta_mode, sizeof(D.meta_mode), "bond");
	CU_ASSERT_EQUAL(lv_domain_check(&D, &a), 0);
	it = find_issue(&a, LV_P_BOND_GUEST);
	CU_ASSERT_FATAL(it != &None);
	CU_ASSERT_EQUAL(it->severity, LV_SEV_NOTE);
	CU_ASSERT_PTR_NOT_NULL(strstr(it->what, "virsh migrate"));
}

static void test_check_advice(void)
{
	struct lv_advice a;
	const struct lv_issue *it;

	CU_ASSERT_EQUAL_FATAL(parse_file("plain.xml"), 0);
	CU_ASSERT_FALSE(lv_domain_is_hybond(&D));
	CU_ASSERT_EQUAL(lv_domain_check(&D, &a), 1);
	CU_ASSERT(has_issue(&a, LV_P_NO_CHANNEL));
	CU_ASSERT(has_issue(&a, LV_P_NO_METADATA));
	it = find_issue(&a, LV_P_STANDBY_TEAMING);
	CU_ASSERT_FATAL(it != &None);
	CU_ASSERT_PTR_NOT_NULL(strstr(it->xml, "persistent"));
	CU_ASSERT_PTR_NOT_NULL(strstr(it->what, "ua-standby0"));
	CU_ASSERT_STRING_EQUAL(lv_problem_name(LV_P_NO_CHANNEL), "no-channel");

	/* a standby with no VF, a transient naming nobody, a MAC mismatch */
	CU_ASSERT_EQUAL_FATAL(parse_file("teaming-hostdev.xml"), 0);
	(void)snprintf(D.ifaces[1].mac, sizeof(D.ifaces[1].mac), "02:00:00:00:00:01");
	D.pairs[0].vf_mac[0] = '\0';
	CU_ASSERT_EQUAL(lv_domain_check(&D, &a), 1);
	CU_ASSERT(has_issue(&a, LV_P_MAC_MISMATCH));
	(void)snprintf(D.ifaces[1].persistent, sizeof(D.ifaces[1].persistent), "ua-nobody");
	D.n_pairs = 0;
	CU_ASSERT_EQUAL(lv_domain_check(&D, &a), 1);
	CU_ASSERT(has_issue(&a, LV_P_VF_DANGLING));
	it = find_issue(&a, LV_P_NO_VF);
	CU_ASSERT_FATAL(it != &None);
	CU_ASSERT_PTR_NOT_NULL(strstr(it->xml, "persistent=\"ua-backup0\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(it->xml, "00:11:22:33:44:55"));
	/* a channel path suggestion for a name that cannot be a directory */
	CU_ASSERT_EQUAL_FATAL(parse_file("plain.xml"), 0);
	(void)snprintf(D.name, sizeof(D.name), "a/b");
	(void)lv_domain_check(&D, &a);
	CU_ASSERT_PTR_NOT_NULL(strstr(find_issue(&a, LV_P_NO_CHANNEL)->xml,
				      "/run/hybond/33333333-4444-4555-8666-777777777777/agent.sock"));
}

static void test_broken(void)
{
	CU_ASSERT_EQUAL(parse_file("broken.xml"), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "not well-formed"));
	CU_ASSERT_EQUAL(lv_domain_parse("", &D, Err, sizeof(Err)), -EINVAL);
	CU_ASSERT_EQUAL(lv_domain_parse(NULL, &D, Err, sizeof(Err)), -EINVAL);
	CU_ASSERT_EQUAL(lv_domain_parse("<network><name>n</name></network>", &D, Err,
					sizeof(Err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "not a libvirt domain"));
	CU_ASSERT_EQUAL(lv_domain_parse("<domain><uuid>x</uuid></domain>", &D, Err,
					sizeof(Err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "<name>"));
	/* err may be NULL */
	CU_ASSERT_EQUAL(lv_domain_parse("<domain>", &D, NULL, 0), -EINVAL);
}

static void test_entities(void)
{
	CU_ASSERT_EQUAL(parse_file("entity-laughs.xml"), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "DOCTYPE"));
	CU_ASSERT_EQUAL(parse_file("entity-xxe.xml"), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "DOCTYPE"));
	/* an entity reference with no declaration is not expanded: not well-formed */
	CU_ASSERT_EQUAL(lv_domain_parse("<domain><name>&xxe;</name></domain>", &D, Err,
					sizeof(Err)), -EINVAL);
	/* predefined and character references are plain XML */
	CU_ASSERT_EQUAL(lv_domain_parse("<domain><name>a&amp;b&#x41;</name></domain>", &D, Err,
					sizeof(Err)), 0);
	CU_ASSERT_STRING_EQUAL(D.name, "a&bA");
}

static void test_oversized(void)
{
	static const char head[] = "<domain><name>big</name><!-- ";
	size_t n = LV_XML_MAX + 16;
	char *x = malloc(n + 1);

	if (!x) {
		CU_FAIL("out of memory");
		return;
	}
	memset(x, 'x', n);
	memcpy(x, head, sizeof(head) - 1);
	memcpy(x + n - 14, " --></domain>", 13);
	x[n - 1] = '\n';
	x[n] = '\0';
	CU_ASSERT_EQUAL(lv_domain_parse(x, &D, Err, sizeof(Err)), -EFBIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "limit"));
	free(x);
}

#define XCAP ((size_t)64 * 1024)

static void test_limits(void)
{
	char *x = malloc(XCAP), alias[400];
	size_t len = 0;
	int i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	len += (size_t)snprintf(x + len, XCAP - len, "<domain><name>many</name><devices>");
	for (i = 0; i <= LV_IFACES_MAX; i++)
		len += (size_t)snprintf(x + len, XCAP - len,
					"<interface type='network'><source network='n'/></interface>");
	(void)snprintf(x + len, XCAP - len, "</devices></domain>");
	CU_ASSERT_EQUAL(lv_domain_parse(x, &D, Err, sizeof(Err)), -E2BIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "more than 32 interfaces"));

	memset(alias, 'a', sizeof(alias) - 1);
	alias[sizeof(alias) - 1] = '\0';
	(void)snprintf(x, XCAP, "<domain><name>a</name><devices><interface type='network'>"
		       "<alias name='%s'/></interface></devices></domain>", alias);
	CU_ASSERT_EQUAL(lv_domain_parse(x, &D, Err, sizeof(Err)), -ENAMETOOLONG);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "interface 1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "alias"));

	CU_ASSERT_EQUAL(lv_domain_parse("<domain><name>a</name><devices><interface type='network'>"
					"<mac address='52:54:00:zz:00:01'/></interface></devices>"
					"</domain>", &D, Err, sizeof(Err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "MAC"));
	CU_ASSERT_EQUAL(lv_domain_parse("<domain><name>a</name><devices><interface type='hostdev'>"
					"<source><address type='pci' domain='0' bus='1' "
					"slot='0x20' function='0'/></source></interface></devices>"
					"</domain>", &D, Err, sizeof(Err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "slot"));
	CU_ASSERT_EQUAL(lv_domain_parse("<domain><name>a</name><devices><interface type='network'>"
					"<teaming type='sometimes'/></interface></devices></domain>",
					&D, Err, sizeof(Err)), -EINVAL);
	free(x);
}

/* ---- generated XML, rewrite, pools -------------------------------------------------- */

static void test_pci(void)
{
	struct lv_pci p;

	CU_ASSERT_EQUAL(lv_pci_parse("0000:3b:02.1", &p), 0);
	pci_is(&p, "0000:3b:02.1");
	CU_ASSERT_EQUAL(lv_pci_parse("ffff:ff:1f.7", &p), 0);
	pci_is(&p, "ffff:ff:1f.7");
	CU_ASSERT_EQUAL(lv_pci_parse("0000:3b:20.1", &p), -EINVAL);    /* slot > 0x1f */
	CU_ASSERT_EQUAL(lv_pci_parse("0000:3b:02.8", &p), -EINVAL);
	CU_ASSERT_EQUAL(lv_pci_parse("3b:02.1", &p), -EINVAL);
	CU_ASSERT_EQUAL(lv_pci_parse("0000:3b:02.1x", &p), -EINVAL);
	CU_ASSERT_EQUAL(lv_pci_parse(NULL, &p), -EINVAL);
}

/* the device XML inside a domain with its standby, parsed back */
static int parse_with_standby(const char *dev)
{
	char x[4096];

	(void)snprintf(x, sizeof(x), "<domain><name>g</name><devices><interface type='bridge'>"
		       "<mac address='52:54:00:18:00:10'/><source bridge='br0'/>"
		       "<model type='virtio'/><teaming type='persistent'/>"
		       "<alias name='ua-standby0'/></interface>%s</devices></domain>", dev);
	return lv_domain_parse(x, &D, Err, sizeof(Err));
}

static void test_iface_xml(void)
{
	char *x = NULL;

	CU_ASSERT_EQUAL_FATAL(lv_hostdev_iface_xml("52:54:00:18:00:10", "0000:3b:02.1",
						   "ua-vf0", "ua-standby0", &x), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "<interface type=\"hostdev\" managed=\"yes\">"));
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "<teaming type=\"transient\" persistent=\"ua-standby0\"/>"));
	CU_ASSERT_EQUAL_FATAL(parse_with_standby(x), 0);
	CU_ASSERT_EQUAL_FATAL(D.n_pairs, 1);
	CU_ASSERT_EQUAL(D.pairs[0].kind, LV_VF_HOSTDEV);
	pci_is(&D.pairs[0].pci, "0000:3b:02.1");
	CU_ASSERT_STRING_EQUAL(D.ifaces[1].alias, "ua-vf0");
	CU_ASSERT(D.ifaces[1].managed);
	free(x);

	CU_ASSERT_EQUAL_FATAL(lv_pool_iface_xml("52:54:00:18:00:10", "hostdev-pool", NULL,
						"ua-standby0", &x), 0);
	CU_ASSERT_EQUAL_FATAL(parse_with_standby(x), 0);
	CU_ASSERT_EQUAL_FATAL(D.n_pairs, 1);
	CU_ASSERT_EQUAL(D.pairs[0].kind, LV_VF_POOL);
	CU_ASSERT_STRING_EQUAL(D.pairs[0].pool, "hostdev-pool");
	free(x);

	/* a pool name is escaped, not injected */
	CU_ASSERT_EQUAL_FATAL(lv_pool_iface_xml("52:54:00:18:00:10", "p'\"<&>", NULL,
						"ua-standby0", &x), 0);
	CU_ASSERT_EQUAL_FATAL(parse_with_standby(x), 0);
	CU_ASSERT_STRING_EQUAL(D.pairs[0].pool, "p'\"<&>");
	free(x);

	CU_ASSERT_EQUAL(lv_hostdev_iface_xml("52:54:00:18:00", "0000:3b:02.1", NULL, "ua-s", &x),
			-EINVAL);
	CU_ASSERT_PTR_NULL(x);
	CU_ASSERT_EQUAL(lv_hostdev_iface_xml("52:54:00:18:00:10", "3b:02.1", NULL, "ua-s", &x),
			-EINVAL);
	CU_ASSERT_EQUAL(lv_hostdev_iface_xml("52:54:00:18:00:10", "0000:3b:02.1", NULL,
					     "ua-'s", &x), -EINVAL);
	CU_ASSERT_EQUAL(lv_hostdev_iface_xml("52:54:00:18:00:10", "0000:3b:02.1", "a b",
					     "ua-s", &x), -EINVAL);
	CU_ASSERT_EQUAL(lv_pool_iface_xml("52:54:00:18:00:10", "", NULL, "ua-s", &x), -EINVAL);
}

/* lv_vf_iface_xml: what hv_libvirt's vf_plug sends (no teaming, no MAC, a ROM) */
static void test_vf_iface_xml(void)
{
	struct lv_vf_spec v = { .mac = "52:54:00:18:00:10", .pci = "0000:3b:02.1",
				.alias = "ua-vf0", .persistent_alias = "ua-standby0",
				.romfile = "" };
	char *x = NULL;

	CU_ASSERT_EQUAL_FATAL(lv_vf_iface_xml(&v, &x), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "<rom enabled=\"no\"/>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "<alias name=\"ua-vf0\"/>"));
	CU_ASSERT_EQUAL_FATAL(parse_with_standby(x), 0);
	CU_ASSERT_EQUAL_FATAL(D.n_pairs, 1);
	pci_is(&D.pairs[0].pci, "0000:3b:02.1");
	CU_ASSERT_STRING_EQUAL(D.pairs[0].vf_mac, "52:54:00:18:00:10");
	free(x);

	/* a bonding guest's VF: no teaming, no MAC; a ROM file (escaped) */
	v.persistent_alias = NULL;
	v.mac = NULL;
	v.romfile = "/usr/share/r'om.bin";
	CU_ASSERT_EQUAL_FATAL(lv_vf_iface_xml(&v, &x), 0);
	CU_ASSERT_PTR_NULL(strstr(x, "teaming"));
	CU_ASSERT_PTR_NULL(strstr(x, "<mac"));
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "<rom file=\"/usr/share/r'om.bin\"/>"));
	CU_ASSERT_EQUAL_FATAL(parse_with_standby(x), 0);
	CU_ASSERT_EQUAL(D.n_pairs, 0);
	CU_ASSERT_EQUAL(D.ifaces[1].teaming, LV_TEAM_NONE);
	CU_ASSERT(D.ifaces[1].has_pci);
	free(x);
	v.romfile = NULL;               /* QEMU's default ROM: no <rom> */
	CU_ASSERT_EQUAL_FATAL(lv_vf_iface_xml(&v, &x), 0);
	CU_ASSERT_PTR_NULL(strstr(x, "<rom"));
	free(x);

	/* exactly one of pci and pool; values checked */
	v.pool = "pool0";
	CU_ASSERT_EQUAL(lv_vf_iface_xml(&v, &x), -EINVAL);
	CU_ASSERT_PTR_NULL(x);
	v.pci = NULL;
	CU_ASSERT_EQUAL_FATAL(lv_vf_iface_xml(&v, &x), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "<interface type=\"network\">"));
	free(x);
	v.pool = NULL;
	CU_ASSERT_EQUAL(lv_vf_iface_xml(&v, &x), -EINVAL);
	v.pci = "0000:3b:20.1";
	CU_ASSERT_EQUAL(lv_vf_iface_xml(&v, &x), -EINVAL);
	v.pci = "0000:3b:02.1";
	v.persistent_alias = "";
	CU_ASSERT_EQUAL(lv_vf_iface_xml(&v, &x), -EINVAL);
	v.persistent_alias = NULL;
	v.mac = "52:54:00:18:00";
	CU_ASSERT_EQUAL(lv_vf_iface_xml(&v, &x), -EINVAL);
	CU_ASSERT_EQUAL(lv_vf_iface_xml(NULL, &x), -EINVAL);
	CU_ASSERT_EQUAL(lv_vf_iface_xml(&v, NULL), -EINVAL);
	/* the old entry points still want a MAC and the pair */
	CU_ASSERT_EQUAL(lv_hostdev_iface_xml(NULL, "0000:3b:02.1", NULL, "ua-s", &x), -EINVAL);
	CU_ASSERT_EQUAL(lv_hostdev_iface_xml("52:54:00:18:00:10", "0000:3b:02.1", NULL, NULL,
					     &x), -EINVAL);
	CU_ASSERT_EQUAL(lv_pool_iface_xml("52:54:00:18:00:10", NULL, NULL, "ua-s", &x), -EINVAL);
	CU_ASSERT_PTR_NULL(x);
}

/* lv_domain_set_host(xml, host) parsed back: 0 and d->meta_host == host */
static int set_host_back(const char *xml, const char *host, char **out)
{
	int rc = lv_domain_set_host(xml, host, out, Err, sizeof(Err));

	if (rc < 0)
		return rc;
	CU_ASSERT_PTR_NOT_NULL_FATAL(*out);
	rc = lv_domain_parse(*out, &D, Err, sizeof(Err));
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(D.has_metadata);
	CU_ASSERT_STRING_EQUAL(D.meta_host, host);
	return rc;
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (; (hay = strstr(hay, needle)); hay++)
		n++;
	return n;
}

static void test_set_host(void)
{
	static const char keep[] =
		"<domain type='kvm'><name>g</name><metadata>"
		"<app:x xmlns:app='urn:example:app' v='1'/>"
		"<hybond:vm xmlns:hybond='" LV_HYBOND_NS "' host='hA' mode='bond' extra='e'/>"
		"</metadata><devices/></domain>";
	static const char other[] =
		"<domain><name>g</name><metadata><app:x xmlns:app='urn:example:app'>t</app:x>"
		"</metadata></domain>";
	char *in, *out = NULL, host[LV_NAME_MAX + 1], untouched[] = "untouched";

	/* present: host replaced, the other attributes and elements kept, no second vm */
	CU_ASSERT_EQUAL_FATAL(set_host_back(keep, "hB", &out), 0);
	CU_ASSERT_STRING_EQUAL(D.meta_mode, "bond");
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "extra=\"e\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "urn:example:app"));
	CU_ASSERT_PTR_NULL(strstr(out, "hA"));
	CU_ASSERT_EQUAL(count(out, "vm "), 1);
	CU_ASSERT_EQUAL(count(out, "<metadata>"), 1);
	free(out);

	/* the lab's domain: everything else parses back the same */
	in = data("lab-lvlab.xml");
	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	CU_ASSERT_EQUAL_FATAL(set_host_back(in, "hB", &out), 0);
	CU_ASSERT_EQUAL(D.n_pairs, 1);
	CU_ASSERT(D.has_channel);
	CU_ASSERT_STRING_EQUAL(D.qemu_vfs[0].failover_pair_id, "ua-standby0");
	free(out);
	free(in);

	/* no <metadata>: created, with the hybond namespace */
	in = data("plain.xml");
	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	CU_ASSERT_PTR_NULL(strstr(in, "<metadata"));
	CU_ASSERT_EQUAL_FATAL(set_host_back(in, "hB", &out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "<metadata>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "xmlns:hybond=\"" LV_HYBOND_NS "\""));
	CU_ASSERT_STRING_EQUAL(D.name, "web01");
	CU_ASSERT_EQUAL(D.n_ifaces, 1);
	CU_ASSERT_STRING_EQUAL(D.meta_mode, "");
	free(out);
	free(in);

	/* <metadata> of another application only: hybond:vm added next to it */
	CU_ASSERT_EQUAL_FATAL(set_host_back(other, "hC", &out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "<app:x xmlns:app=\"urn:example:app\">t</app:x>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, LV_HYBOND_NS));
	CU_ASSERT_EQUAL(count(out, "<metadata>"), 1);
	free(out);

	/* a host name is escaped, not injected */
	CU_ASSERT_EQUAL_FATAL(set_host_back(other, "h'\"<&>", &out), 0);
	free(out);

	/* bad input: an error with a message, no output */
	memset(host, 'h', LV_NAME_MAX);
	host[LV_NAME_MAX] = '\0';
	out = untouched;
	CU_ASSERT_EQUAL(lv_domain_set_host(NULL, "hB", &out, Err, sizeof(Err)), -EINVAL);
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_EQUAL(lv_domain_set_host(keep, NULL, &out, Err, sizeof(Err)), -EINVAL);
	CU_ASSERT_EQUAL(lv_domain_set_host(keep, "", &out, Err, sizeof(Err)), -EINVAL);
	CU_ASSERT_EQUAL(lv_domain_set_host(keep, host, &out, Err, sizeof(Err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "set host"));
	CU_ASSERT_EQUAL(lv_domain_set_host(keep, "hB", NULL, Err, sizeof(Err)), -EINVAL);
	CU_ASSERT_EQUAL(lv_domain_set_host("<domain><name>g", "hB", &out, Err, sizeof(Err)),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "not well-formed"));
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_EQUAL(lv_domain_set_host("<network><name>n</name></network>", "hB", &out, Err,
					   sizeof(Err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "not a libvirt domain"));
	CU_ASSERT_PTR_NULL(out);
	in = data("entity-laughs.xml");
	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	CU_ASSERT_EQUAL(lv_domain_set_host(in, "hB", &out, Err, sizeof(Err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "DOCTYPE"));
	CU_ASSERT_PTR_NULL(out);
	free(in);
	CU_ASSERT_EQUAL(lv_domain_set_host("", "hB", &out, NULL, 0), -EINVAL);
}

static void test_rewrite(void)
{
	char *in = data("teaming-hostdev.xml"), *out = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	/* by the standby alias its teaming names */
	CU_ASSERT_EQUAL_FATAL(lv_domain_rewrite_vf(in, "ua-backup0", "0000:3b:02.1", &out, Err,
						   sizeof(Err)), 0);
	CU_ASSERT_EQUAL_FATAL(lv_domain_parse(out, &D, Err, sizeof(Err)), 0);
	CU_ASSERT_STRING_EQUAL(D.name, "vm1");
	CU_ASSERT_EQUAL(D.n_ifaces, 3);
	CU_ASSERT_STRING_EQUAL(D.ifaces[2].bridge, "br-mgmt");
	CU_ASSERT(D.has_metadata && D.has_channel);
	CU_ASSERT_EQUAL_FATAL(D.n_pairs, 1);
	pci_is(&D.pairs[0].pci, "0000:3b:02.1");
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "<!-- the failover pair"));   /* the rest is kept */
	free(out);
	/* by its own alias */
	CU_ASSERT_EQUAL_FATAL(lv_domain_rewrite_vf(in, "hostdev0", "0001:02:03.4", &out, Err,
						   sizeof(Err)), 0);
	CU_ASSERT_EQUAL_FATAL(lv_domain_parse(out, &D, Err, sizeof(Err)), 0);
	pci_is(&D.pairs[0].pci, "0001:02:03.4");
	free(out);
	CU_ASSERT_EQUAL(lv_domain_rewrite_vf(in, "ua-nobody", "0000:3b:02.1", &out, Err,
					     sizeof(Err)), -ENOENT);
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_EQUAL(lv_domain_rewrite_vf(in, "ua-backup0", "nonsense", &out, Err,
					     sizeof(Err)), -EINVAL);
	free(in);

	in = data("teaming-pool.xml");
	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	CU_ASSERT_EQUAL(lv_domain_rewrite_vf(in, "ua-standby0", "0000:3b:02.1", &out, Err,
					     sizeof(Err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "pool hostdev-pool"));
	free(in);

	in = data("plain-hostdev.xml");
	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	CU_ASSERT_EQUAL_FATAL(lv_domain_rewrite_vf(in, "ua-sb", "0000:81:02.6", &out, Err,
						   sizeof(Err)), 0);
	CU_ASSERT_EQUAL_FATAL(lv_domain_parse(out, &D, Err, sizeof(Err)), 0);
	pci_is(&D.hostdevs[0].pci, "0000:81:02.6");
	free(out);
	free(in);
}

static void test_pools(void)
{
	struct lv_pool p;
	struct lv_pci got, used[3];
	char *x = data("pool-pf.xml");

	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	CU_ASSERT_EQUAL_FATAL(lv_network_pool_parse(x, &p, Err, sizeof(Err)), 0);
	free(x);
	CU_ASSERT_STRING_EQUAL(p.name, "hostdev-pool");
	CU_ASSERT(p.managed);
	CU_ASSERT_EQUAL(p.n_pfs, 1);
	CU_ASSERT_STRING_EQUAL(p.pfs[0], "enp59s0f0");
	CU_ASSERT_EQUAL(lv_pool_pick(&p, NULL, 0, &got), -ENOENT);  /* libvirt picks */

	x = data("pool-addr.xml");
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	CU_ASSERT_EQUAL_FATAL(lv_network_pool_parse(x, &p, Err, sizeof(Err)), 0);
	free(x);
	CU_ASSERT_EQUAL_FATAL(p.n_addrs, 3);
	pci_is(&p.addrs[1], "0000:03:10.2");                       /* decimal in the XML */
	CU_ASSERT_EQUAL(lv_pool_pick(&p, NULL, 0, &got), 0);
	pci_is(&got, "0000:03:10.0");
	used[0] = p.addrs[0];
	used[1] = p.addrs[2];
	CU_ASSERT_EQUAL(lv_pool_pick(&p, used, 2, &got), 0);
	pci_is(&got, "0000:03:10.2");
	used[2] = p.addrs[1];
	CU_ASSERT_EQUAL(lv_pool_pick(&p, used, 3, &got), -ENOSPC);

	CU_ASSERT_EQUAL(lv_network_pool_parse("<network><name>default</name><forward mode='nat'/>"
					      "</network>", &p, Err, sizeof(Err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(Err, "not a VF pool"));
	CU_ASSERT_EQUAL(lv_network_pool_parse("<network><name>e</name><forward mode='hostdev'/>"
					      "</network>", &p, Err, sizeof(Err)), -EINVAL);
	CU_ASSERT_EQUAL(lv_network_pool_parse("<domain/>", &p, Err, sizeof(Err)), -EINVAL);
	CU_ASSERT_EQUAL(lv_network_pool_parse("<!DOCTYPE network [<!ENTITY x 'y'>]><network/>",
					      &p, Err, sizeof(Err)), -EINVAL);
}

/* ---- the hook against a fake hybond-hostd ------------------------------------------- */

enum daemon { NO_DAEMON, ANSWER_XML, ANSWER_OK, REFUSE, SLOW, GARBAGE, PROGRESS_XML,
	      OTHER_DOMAIN, SILENT_READ, ERROR_ONLY };

struct run {
	int status;             /* exit status, -1 killed / not exited */
	long ms;                /* fork to exit */
	int connections;
	json_t *req;            /* the request line the daemon got */
	char out[8192], err[8192];
};

static char Dir[128];

static long mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void file_into(const char *path, char *buf, size_t size)
{
	char *s = slurp(path);

	(void)snprintf(buf, size, "%s", s ? s : "");
	free(s);
}

static const char *path_in(const char *name)
{
	static char p[4][256];
	static int k;

	k = (k + 1) % 4;
	(void)snprintf(p[k], sizeof(p[k]), "%s/%s", Dir, name);
	return p[k];
}

static void answer(int fd, enum daemon how, const char *xml_answer)
{
	json_t *o = NULL;
	char *s;

	if (how == GARBAGE) {
		(void)send(fd, "this is not json\n", 17, MSG_NOSIGNAL);
		return;
	}
	if (how == PROGRESS_XML)
		(void)send(fd, "{\"progress\":{\"phase\":\"x\"}}\n", 27, MSG_NOSIGNAL);
	if (how == ANSWER_XML || how == PROGRESS_XML || how == OTHER_DOMAIN)
		o = json_pack("{s:b, s:s}", "ok", 1, "xml", xml_answer);
	else if (how == ANSWER_OK)
		o = json_pack("{s:b}", "ok", 1);
	else if (how == REFUSE)
		o = json_pack("{s:b, s:s, s:b}", "ok", 0, "error", "no free VF in pool hostdev-pool",
			      "refuse", 1);
	else if (how == ERROR_ONLY)     /* an error that is not a refusal */
		o = json_pack("{s:b, s:s}", "ok", 0, "error", "request line too long");
	if (!o)
		return;
	s = json_dumps(o, JSON_COMPACT);
	if (s) {
		(void)send(fd, s, strlen(s), MSG_NOSIGNAL);
		(void)send(fd, "\n", 1, MSG_NOSIGNAL);
	}
	free(s);
	json_decref(o);
}

/* Run the hook (op, sub) on the XML file `in` with a daemon behaving as `how`. */
static void run_hook(const char *in, const char *op, const char *sub, enum daemon how,
		     const char *xml_answer, struct run *r)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[1 << 16];
	size_t req_len = 0;
	int lfd = -1, cfd = -1, death[2], exitfd, st, exited = 0;
	long t0 = mono_ms();
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path_in("ctl.sock"));
	(void)unlink(sa.sun_path);
	if (how != NO_DAEMON) {
		lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		CU_ASSERT_FATAL(lfd >= 0);
		CU_ASSERT_FATAL(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
		CU_ASSERT_FATAL(listen(lfd, 4) == 0);
	}
	/* the hook holds fd 3 (the write end) until it exits: EOF here is its exit, an
	 * event valgrind knows (it has no pidfd_open) */
	CU_ASSERT_FATAL(pipe2(death, O_CLOEXEC) == 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		int i0 = open(in, O_RDONLY), o1 = open(path_in("out"), O_WRONLY | O_CREAT | O_TRUNC,
						       0600),
		    e2 = open(path_in("err"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		const char *bin = getenv("HYBOND_HOOK_BIN");

		if (!bin || !bin[0])
			bin = LV_HOOK_BIN;
		if (i0 < 0 || o1 < 0 || e2 < 0 || dup2(i0, 0) < 0 || dup2(o1, 1) < 0 ||
		    dup2(e2, 2) < 0 || dup2(death[1], 3) < 0)
			_exit(97);
		if (setenv("HYBOND_CTL_SOCKET", sa.sun_path, 1) < 0 ||
		    setenv("HYBOND_HOOK_CONF", path_in("hook.conf"), 1) < 0)
			_exit(97);
		(void)execl(bin, "hybond", "vm1", op, sub, "-", (char *)NULL);
		_exit(98);
	}
	(void)close(death[1]);
	exitfd = death[0];
	for (;;) {
		struct pollfd p[3] = { { .fd = exited ? -1 : exitfd, .events = POLLIN },
				       { .fd = lfd, .events = POLLIN },
				       { .fd = cfd, .events = POLLIN } };
		/* once the hook has exited, only what it left behind is read */
		int n = poll(p, 3, exited ? 0 : 5000);

		if (n == 0 && exited)
			break;
		if (n <= 0) {                   /* the hook hangs: a failure */
			(void)kill(pid, SIGKILL);
			(void)waitpid(pid, &st, 0);
			CU_FAIL("the hook did not exit within 5 s");
			break;
		}
		if (p[0].revents) {
			if (waitpid(pid, &st, 0) == pid && WIFEXITED(st))
				r->status = WEXITSTATUS(st);
			r->ms = mono_ms() - t0;
			exited = 1;
		}
		if (p[1].revents && cfd < 0) {
			cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (cfd >= 0)
				r->connections++;
		}
		if (cfd >= 0 && p[2].revents) {
			ssize_t k = recv(cfd, req + req_len, sizeof(req) - 1 - req_len, 0);
			char *nl;

			if (k <= 0) {
				(void)close(cfd);
				cfd = -1;
				continue;
			}
			req_len += (size_t)k;
			req[req_len] = '\0';
			if ((nl = strchr(req, '\n')) && !r->req) {
				r->req = json_loadb(req, (size_t)(nl - req), 0, NULL);
				if (how != SLOW && how != SILENT_READ)
					answer(cfd, how, xml_answer);
			}
		}
	}
	if (cfd >= 0)
		(void)close(cfd);
	if (lfd >= 0)
		(void)close(lfd);
	(void)close(exitfd);
	file_into(path_in("out"), r->out, sizeof(r->out));
	file_into(path_in("err"), r->err, sizeof(r->err));
}

static int hook_setup(void)
{
	FILE *f;

	(void)snprintf(Dir, sizeof(Dir), "/tmp/hb-lvhook.XXXXXX");
	if (!mkdtemp(Dir))
		return -1;
	f = fopen(path_in("hook.conf"), "we");
	if (!f)
		return -1;
	(void)fprintf(f, "# test\nmigrate_timeout_ms = 400\nctl_socket=/nonexistent/ignored.sock\n"
		      "bogus line\n");
	return fclose(f) ? -1 : 0;
}

static int hook_teardown(void)
{
	static const char *const names[] = { "ctl.sock", "out", "err", "hook.conf", "in.xml" };
	unsigned i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		(void)unlink(path_in(names[i]));
	(void)rmdir(Dir);
	return 0;
}

static const char *vm1(void)
{
	static char p[512];

	(void)snprintf(p, sizeof(p), "%s/teaming-hostdev.xml", LV_TESTDATA);
	return p;
}

/* Heap blocks live across fork() look lost to valgrind when the child execs: the
 * daemon's answers and the expected request live in static buffers instead. */
static char In[8192], Ans[8192];

static void test_hook_answer_xml(void)
{
	char *h = data("teaming-hostdev.xml"), *rw = NULL, *in = In, *x = Ans;
	struct run r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(lv_domain_rewrite_vf(h, "ua-backup0", "0000:3b:02.1", &rw, Err,
					     sizeof(Err)), 0);
	(void)snprintf(In, sizeof(In), "%s", h);
	(void)snprintf(Ans, sizeof(Ans), "%s", rw ? rw : "");
	free(h);
	free(rw);
	run_hook(vm1(), "migrate", "begin", ANSWER_XML, x, &r);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_EQUAL(r.connections, 1);
	CU_ASSERT_STRING_EQUAL(r.out, x);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.req);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.req, "cmd")), "libvirt-hook");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.req, "domain")), "vm1");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.req, "op")), "migrate");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.req, "sub")), "begin");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.req, "uuid")),
			       "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.req, "xml")), in);
	/* the unknown key and the bad line of hook.conf are warnings, nothing more */
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "hybond-hook: vm1 migrate:"));
	json_decref(r.req);

	run_hook(vm1(), "migrate", "begin", PROGRESS_XML, x, &r);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.out, x);
	json_decref(r.req);
}

static void test_hook_ok_refuse(void)
{
	char *other = data("teaming-pool.xml");
	struct run r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	(void)snprintf(Ans, sizeof(Ans), "%s", other);
	free(other);

	run_hook(vm1(), "migrate", "begin", ANSWER_OK, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.out, "");
	json_decref(r.req);

	run_hook(vm1(), "migrate", "begin", REFUSE, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 1);
	CU_ASSERT_STRING_EQUAL(r.out, "");
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "no free VF in pool hostdev-pool"));
	json_decref(r.req);

	/* only an explicit refusal aborts the operator's migration */
	run_hook(vm1(), "migrate", "begin", ERROR_ONLY, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.out, "");
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "plain QEMU order"));
	json_decref(r.req);

	run_hook(vm1(), "migrate", "begin", GARBAGE, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.out, "");
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "not a JSON object"));
	json_decref(r.req);

	/* the XML of another domain is not passed on to libvirt */
	run_hook(vm1(), "migrate", "begin", OTHER_DOMAIN, Ans, &r);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.out, "");
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "another domain"));
	json_decref(r.req);
}

static void test_hook_no_daemon_slow(void)
{
	struct run r;

	run_hook(vm1(), "migrate", "begin", NO_DAEMON, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.out, "");
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "hybond-hook:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "plain QEMU order"));

	/* migrate_timeout_ms = 400 in hook.conf */
	run_hook(vm1(), "migrate", "begin", SLOW, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_EQUAL(r.connections, 1);
	CU_ASSERT_STRING_EQUAL(r.out, "");
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "no answer in time"));
	CU_ASSERT(r.ms >= 350);
	CU_ASSERT(r.ms < 3000);
	json_decref(r.req);
}

static void test_hook_events(void)
{
	struct run r;
	char in[512];

	/* started: the line is sent, no answer awaited, exit 0 */
	run_hook(vm1(), "started", "begin", SILENT_READ, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_EQUAL(r.connections, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.req);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.req, "op")), "started");
	CU_ASSERT(r.ms < 1500);
	CU_ASSERT_STRING_EQUAL(r.out, "");
	json_decref(r.req);

	run_hook(vm1(), "prepare", "begin", NO_DAEMON, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "hybond-hook:"));

	/* a domain without the hybond channel and metadata: nobody is contacted */
	(void)snprintf(in, sizeof(in), "%s/plain.xml", LV_TESTDATA);
	run_hook(in, "migrate", "begin", ANSWER_OK, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_EQUAL(r.connections, 0);
	CU_ASSERT_PTR_NULL(r.req);
	CU_ASSERT_STRING_EQUAL(r.out, "");
	CU_ASSERT(r.ms < 1000);

	/* a hybond domain whose XML is longer than the daemon's request line: not sent (the
	 * daemon would refuse the line), exit 0 */
	{
		char *x = data("teaming-hostdev.xml"), *end = x ? strstr(x, "</domain>") : NULL;
		FILE *f = fopen(path_in("in.xml"), "we");
		size_t i;

		CU_ASSERT_FATAL(x && end && f);
		(void)fwrite(x, 1, (size_t)(end - x), f);
		(void)fputs("<!-- ", f);
		for (i = 0; i < (size_t)300 * 1024; i++)
			(void)fputc('x', f);
		(void)fputs(" -->", f);
		(void)fputs(end, f);
		CU_ASSERT(fclose(f) == 0);
		free(x);
		run_hook(path_in("in.xml"), "migrate", "begin", ANSWER_OK, NULL, &r);
		CU_ASSERT_EQUAL(r.status, 0);
		CU_ASSERT_EQUAL(r.connections, 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "hybond-hostd takes"));
	}

	/* unparseable XML: a warning, exit 0, nobody contacted */
	(void)snprintf(in, sizeof(in), "%s/broken.xml", LV_TESTDATA);
	run_hook(in, "migrate", "begin", ANSWER_OK, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_EQUAL(r.connections, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "does not parse"));
}

static CU_TestInfo parse_tests[] = {
	{ "teaming pair (formatdomain example)", test_teaming_hostdev },
	{ "VF pool interface", test_teaming_pool },
	{ "lab qemu:commandline VF", test_lab_qemu },
	{ "qemu keyval escapes, non-NICs", test_qemu_keyval },
	{ "lab lvlab domain (JSON -device)", test_lab_lvlab },
	{ "qemu JSON -device / -netdev", test_qemu_json },
	{ "plain <hostdev> with teaming", test_plain_hostdev },
	{ "bonding guest", test_bond_guest },
	{ "check advice", test_check_advice },
	{ "broken XML", test_broken },
	{ "DTD and entity tricks", test_entities },
	{ "oversized XML", test_oversized },
	{ "limits", test_limits },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo gen_tests[] = {
	{ "PCI addresses", test_pci },
	{ "attach XML parsed back", test_iface_xml },
	{ "VF XML: no teaming, no MAC, ROM", test_vf_iface_xml },
	{ "set the metadata host", test_set_host },
	{ "rewrite the VF address", test_rewrite },
	{ "pools: parse and pick", test_pools },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo hook_tests[] = {
	{ "migrate: answer with XML", test_hook_answer_xml },
	{ "migrate: ok, refused, garbage", test_hook_ok_refuse },
	{ "migrate: no daemon, slow daemon", test_hook_no_daemon_slow },
	{ "other ops, non-hybond domain", test_hook_events },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_SuiteInfo suites[] = {
		{ "lv_xml parse", NULL, NULL, NULL, NULL, parse_tests },
		{ "lv_xml generate", NULL, NULL, NULL, NULL, gen_tests },
		{ "hybond-libvirt-hook", hook_setup, hook_teardown, NULL, NULL, hook_tests },
		CU_SUITE_INFO_NULL,
	};
	int rc;

	xmlInitParser();
	rc = hb_cu_run(suites);
	xmlCleanupParser();
	return rc;
}
