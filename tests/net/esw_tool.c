/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/net/esw_tool.c — a debug CLI over the eswitch backends (esw.h), used by
 * tests/net/test_esw_bridge.sh and by hand on a real PF:
 *
 *   esw-tool [-n NETNS] [--sysfs ROOT] [--pf-uc-filter] [--vf-link-disable]
 *            bridge BRIDGE | sriov PF   COMMAND ...
 *   COMMAND:
 *     describe
 *     lookup PORT [vf|standby]
 *     steer MAC --vf PORT [--standby PORT] --to vf|standby|none [--vlan N]
 *     vf PORT [--mac MAC] [--vlan N [--qos Q]] [--spoofchk on|off] [--trust on|off]
 *             [--state auto|enable|disable] [--learning on|off]
 *
 * Exit 0 on success, 1 when the operation failed (the backend's message and
 * the errno on stderr), 2 on a usage error.
 */
#include <errno.h>
#include <linux/if_link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-agent/hostd/esw/esw.h"

static int usage(const char *why)
{
	(void)fprintf(stderr, "esw-tool: %s\n"
		"usage: esw-tool [-n NETNS] [--sysfs ROOT] [--pf-uc-filter] [--vf-link-disable]\n"
		"                bridge BRIDGE|sriov PF describe | lookup PORT [vf|standby] |\n"
		"                steer MAC --vf PORT [--standby PORT] --to vf|standby|none [--vlan N] |\n"
		"                vf PORT [--mac MAC] [--vlan N [--qos Q]] [--spoofchk on|off]\n"
		"                   [--trust on|off] [--state auto|enable|disable] [--learning on|off]\n",
		why);
	return 2;
}

static int onoff(const char *s)
{
	if (s && !strcmp(s, "on"))
		return 1;
	if (s && !strcmp(s, "off"))
		return 0;
	return -1;
}

static int num(const char *s, long lo, long hi, long *out)
{
	char *end;

	if (!s || !*s)
		return -1;
	errno = 0;
	*out = strtol(s, &end, 10);
	return (errno || *end || *out < lo || *out > hi) ? -1 : 0;
}

static int fail(struct esw *e, int err)
{
	(void)fprintf(stderr, "esw-tool: %s (%s)\n", esw_errmsg(e), strerror(-err));
	return 1;
}

static int cmd_steer(struct esw *e, int argc, char **argv)
{
	struct esw_port vf, sb;
	struct esw_steer_req r = { .vf = &vf };
	const char *vfn = NULL, *sbn = NULL, *to = NULL;
	long v = 0;
	int i, err;

	if (argc < 1 || esw_parse_mac(argv[0], r.mac) < 0)
		return usage(argc < 1 ? "steer: MAC missing" : "steer: invalid MAC (a unicast xx:xx:xx:xx:xx:xx)");
	for (i = 1; i < argc; i += 2) {
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!val)
			return usage("option without a value");
		if (!strcmp(argv[i], "--vf"))
			vfn = val;
		else if (!strcmp(argv[i], "--standby"))
			sbn = val;
		else if (!strcmp(argv[i], "--to"))
			to = val;
		else if (!strcmp(argv[i], "--vlan")) {
			if (num(val, 0, 4094, &v) < 0)
				return usage("--vlan: 0-4094");
		} else
			return usage("steer: unknown option");
	}
	if (!vfn || !to)
		return usage("steer needs --vf and --to");
	r.vlan = (uint16_t)v;
	r.to = !strcmp(to, "vf") ? ESW_TO_VF : !strcmp(to, "standby") ? ESW_TO_STANDBY :
	       !strcmp(to, "none") ? ESW_TO_NONE : 0;
	if (!r.to)
		return usage("--to: vf, standby or none");
	err = esw_port_lookup(e, vfn, ESW_PORT_VF, &vf);
	if (err < 0)
		return fail(e, err);
	if (sbn) {
		err = esw_port_lookup(e, sbn, ESW_PORT_STANDBY, &sb);
		if (err < 0)
			return fail(e, err);
		r.standby = &sb;
	}
	err = esw_steer(e, &r);
	return err < 0 ? fail(e, err) : 0;
}

static int cmd_vf(struct esw *e, int argc, char **argv)
{
	struct esw_vf_cfg c;
	struct esw_port vf;
	long v;
	int i, err;

	if (argc < 1)
		return usage("vf: PORT missing");
	esw_vf_cfg_init(&c);
	for (i = 1; i < argc; i += 2) {
		const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!val)
			return usage("option without a value");
		if (!strcmp(o, "--mac")) {
			c.set_mac = true;
			if (strcmp(val, "00:00:00:00:00:00") != 0 && esw_parse_mac(val, c.mac) < 0)
				return usage("--mac: a unicast MAC or 00:00:00:00:00:00 (clear)");
		} else if (!strcmp(o, "--vlan")) {
			if (num(val, 0, 4094, &v) < 0)
				return usage("--vlan: 0-4094");
			c.set_vlan = true;
			c.vlan = (uint16_t)v;
		} else if (!strcmp(o, "--qos")) {
			if (num(val, 0, 7, &v) < 0)
				return usage("--qos: 0-7");
			c.qos = (uint8_t)v;
		} else if (!strcmp(o, "--spoofchk") && onoff(val) >= 0) {
			c.spoofchk = onoff(val);
		} else if (!strcmp(o, "--trust") && onoff(val) >= 0) {
			c.trust = onoff(val);
		} else if (!strcmp(o, "--learning") && onoff(val) >= 0) {
			c.learning = onoff(val);
		} else if (!strcmp(o, "--state")) {
			c.link_state = !strcmp(val, "auto") ? IFLA_VF_LINK_STATE_AUTO :
				       !strcmp(val, "enable") ? IFLA_VF_LINK_STATE_ENABLE :
				       !strcmp(val, "disable") ? IFLA_VF_LINK_STATE_DISABLE : -2;
			if (c.link_state == -2)
				return usage("--state: auto, enable or disable");
		} else {
			return usage("vf: unknown option or value");
		}
	}
	err = esw_port_lookup(e, argv[0], ESW_PORT_VF, &vf);
	if (err == 0)
		err = esw_program_vf(e, &vf, &c);
	return err < 0 ? fail(e, err) : 0;
}

int main(int argc, char **argv)
{
	struct esw_config cfg = { 0 };
	struct esw_port p;
	struct esw *e;
	char d[2048];
	int i = 1, err, rc;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			cfg.netns = argv[++i];
		else if (!strcmp(argv[i], "--sysfs") && i + 1 < argc)
			cfg.sysfs_root = argv[++i];
		else if (!strcmp(argv[i], "--pf-uc-filter"))
			cfg.pf_uc_filter = true;
		else if (!strcmp(argv[i], "--vf-link-disable"))
			cfg.vf_link_disable = true;
		else
			return usage("unknown option");
	}
	if (argc - i < 3)
		return usage("backend, device and command required");
	if (!strcmp(argv[i], "bridge")) {
		cfg.kind = "bridge";
		cfg.bridge = argv[i + 1];
	} else if (!strcmp(argv[i], "sriov")) {
		cfg.kind = "sriov-legacy";
		cfg.pf = argv[i + 1];
	} else {
		return usage("backend: bridge or sriov");
	}
	err = esw_open(&cfg, &e);
	if (err < 0) {
		rc = e ? fail(e, err) : 1;
		esw_close(e);
		return rc;
	}
	i += 2;
	if (!strcmp(argv[i], "describe")) {
		err = esw_describe(e, d, sizeof(d));
		rc = err < 0 ? fail(e, err) : (printf("%s\n", d), 0);
	} else if (!strcmp(argv[i], "lookup") && i + 1 < argc) {
		enum esw_port_kind k = (i + 2 < argc && !strcmp(argv[i + 2], "standby")) ?
				       ESW_PORT_STANDBY : ESW_PORT_VF;

		err = esw_port_lookup(e, argv[i + 1], k, &p);
		rc = err < 0 ? fail(e, err) :
		     (printf("%s ifindex %d vf %d pci %s\n", p.name, p.ifindex, p.vf,
			     p.pci[0] ? p.pci : "-"), 0);
	} else if (!strcmp(argv[i], "steer")) {
		rc = cmd_steer(e, argc - i - 1, argv + i + 1);
	} else if (!strcmp(argv[i], "vf")) {
		rc = cmd_vf(e, argc - i - 1, argv + i + 1);
	} else {
		rc = usage("command: describe, lookup, steer or vf");
	}
	esw_close(e);
	return rc;
}
