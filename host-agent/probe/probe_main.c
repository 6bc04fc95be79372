// SPDX-License-Identifier: LGPL-2.1-or-later
/* probe_main.c — hybond-probe command line.
 *
 *   hybond-probe icmp --target IP --rate PPS --duration S [options]
 *   hybond-probe udp --target IP:PORT --rate PPS --duration S [options]
 *   hybond-probe udp-echo --listen [IP:]PORT [--quiet]
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "probe_acct.h"
#include "probe_net.h"
#include "probe_opts.h"
#include "probe_wire.h"

#include <hybond/version.h>

static void usage(FILE *f)
{
	(void)fputs(
		"usage: hybond-probe icmp --target IP --rate PPS --duration S [options]\n"
		"       hybond-probe udp --target IP:PORT --rate PPS --duration S [options]\n"
		"       hybond-probe udp-echo --listen [IP:]PORT [--quiet]\n"
		"\n"
		"client options (icmp, udp):\n"
		"  -t, --target ADDR     icmp: IPv4 address; udp: IPv4:PORT or [IPv6]:PORT\n"
		"  -r, --rate PPS        packets per second, 1..100000 (default 1000)\n"
		"  -d, --duration S      seconds of sending, e.g. 10 or 2.5 (default 10)\n"
		"  -g, --grace-ms MS     wait this long after the last send for late replies\n"
		"                        (default 2000); replies in it count as delayed, not lost\n"
		"  -s, --size BYTES      payload bytes per packet, 48..1472 (default 64)\n"
		"  -j, --json            print the result as JSON on stdout\n"
		"  -q, --quiet           no text result and no warnings (errors still shown)\n"
		"responder options (udp-echo):\n"
		"  -l, --listen ADDR     [IPv4:]PORT or [IPv6]:PORT to answer on\n"
		"\n"
		"Exit status: 0 when the run completed (loss is data), 1 on a socket or\n"
		"system error, 2 on a usage error. See hybond-probe(1).\n",
		f);
}

static int bad(const char *opt, const char *val, const char *want)
{
	(void)fprintf(stderr, "hybond-probe: %s: invalid value '%s' (%s)\n", opt, val ? val : "",
		      want);
	return HBP_EXIT_USAGE;
}

static int missing(const char *mode, const char *opt)
{
	(void)fprintf(stderr, "hybond-probe %s: %s is required (see --help)\n", mode, opt);
	return HBP_EXIT_USAGE;
}

static const struct option client_opts[] = {
	{ "target", required_argument, NULL, 't' },
	{ "rate", required_argument, NULL, 'r' },
	{ "duration", required_argument, NULL, 'd' },
	{ "grace-ms", required_argument, NULL, 'g' },
	{ "size", required_argument, NULL, 's' },
	{ "json", no_argument, NULL, 'j' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int main_client(enum hbp_mode mode, int argc, char **argv)
{
	const char *name = mode == HBP_MODE_UDP ? "udp" : "icmp";
	struct hbp_client_opts o;
	const char *target = NULL;
	int c;

	memset(&o, 0, sizeof(o));
	o.mode = mode;
	o.rate = 1000;
	o.duration = 10;
	o.grace_ms = 2000;
	o.size = 64;
	while ((c = getopt_long(argc, argv, "t:r:d:g:s:jqh", client_opts, NULL)) != -1) {
		switch (c) {
		case 't':
			target = optarg;
			break;
		case 'r':
			if (hbp_parse_uint(optarg, 1, HBP_RATE_MAX, &o.rate) < 0)
				return bad("--rate", optarg, "packets per second, 1..100000");
			break;
		case 'd':
			if (hbp_parse_seconds(optarg, HBP_DURATION_MAX, &o.duration) < 0)
				return bad("--duration", optarg, "seconds, > 0 and <= 86400");
			break;
		case 'g':
			if (hbp_parse_uint(optarg, 0, HBP_GRACE_MS_MAX, &o.grace_ms) < 0)
				return bad("--grace-ms", optarg, "milliseconds, 0..600000");
			break;
		case 's':
			if (hbp_parse_uint(optarg, HBP_HDR_LEN, HBP_MAX_LEN, &o.size) < 0)
				return bad("--size", optarg, "bytes, 48..1472");
			break;
		case 'j':
			o.json = 1;
			break;
		case 'q':
			o.quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return HBP_EXIT_OK;
		default:
			usage(stderr);
			return HBP_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		(void)fprintf(stderr, "hybond-probe %s: unexpected argument '%s'\n", name, argv[optind]);
		return HBP_EXIT_USAGE;
	}
	if (!target)
		return missing(name, "--target");
	if (mode == HBP_MODE_UDP) {
		if (hbp_parse_hostport(target, 0, &o.target) < 0)
			return bad("--target", target, "IPv4:PORT or [IPv6]:PORT, port 1..65535");
	} else if (hbp_parse_ipv4(target, &o.target) < 0) {
		return bad("--target", target, "an IPv4 address");
	}
	double n = round((double)o.rate * o.duration);
	if (n < 1) {
		(void)fprintf(stderr, "hybond-probe %s: --duration %g is too short for a single "
			      "packet at --rate %" PRIu64 "\n", name, o.duration, o.rate);
		return HBP_EXIT_USAGE;
	}
	if (n > (double)PA_MAX_PACKETS) {
		(void)fprintf(stderr,
			      "hybond-probe %s: --rate x --duration is %.0f packets, at most %llu\n",
			      name, n, (unsigned long long)PA_MAX_PACKETS);
		return HBP_EXIT_USAGE;
	}
	o.packets = (uint64_t)n;
	return hbp_run_client(&o);
}

static const struct option echo_opts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int main_echo(int argc, char **argv)
{
	struct hbp_echo_opts o;
	const char *listen = NULL;
	int c;

	memset(&o, 0, sizeof(o));
	while ((c = getopt_long(argc, argv, "l:qh", echo_opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen = optarg;
			break;
		case 'q':
			o.quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return HBP_EXIT_OK;
		default:
			usage(stderr);
			return HBP_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		(void)fprintf(stderr, "hybond-probe udp-echo: unexpected argument '%s'\n", argv[optind]);
		return HBP_EXIT_USAGE;
	}
	if (!listen)
		return missing("udp-echo", "--listen");
	if (hbp_parse_hostport(listen, 1, &o.listen) < 0)
		return bad("--listen", listen, "[IPv4:]PORT or [IPv6]:PORT, port 1..65535");
	return hbp_run_echo(&o);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return HBP_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return HBP_EXIT_OK;
	}
	if (!strcmp(cmd, "--version")) {
		(void)printf("hybond-probe %s\n", HYBOND_VERSION);
		return HBP_EXIT_OK;
	}
	/* Subcommand options start after the subcommand. */
	argc--;
	argv++;
	static char prog_udp[] = "hybond-probe udp", prog_icmp[] = "hybond-probe icmp",
		    prog_echo[] = "hybond-probe udp-echo";
	if (!strcmp(cmd, "udp"))
		argv[0] = prog_udp;
	else if (!strcmp(cmd, "icmp"))
		argv[0] = prog_icmp;
	else if (!strcmp(cmd, "udp-echo"))
		argv[0] = prog_echo;
	if (!strcmp(cmd, "udp"))
		return main_client(HBP_MODE_UDP, argc, argv);
	if (!strcmp(cmd, "icmp"))
		return main_client(HBP_MODE_ICMP, argc, argv);
	if (!strcmp(cmd, "udp-echo"))
		return main_echo(argc, argv);
	(void)fprintf(stderr, "hybond-probe: unknown command '%s' (icmp, udp, udp-echo)\n", cmd);
	usage(stderr);
	return HBP_EXIT_USAGE;
}
