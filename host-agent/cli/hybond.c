// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/cli/hybond.c — the hybond CLI: talks to hybond-hostd's control
 * socket (one JSON request line, answer lines until the final one).
 *
 *   hybond [-j] [-s SOCK] migrate VM --to HOST [--force]
 *   hybond [-j] [-s SOCK] status
 *   hybond [-j] [-s SOCK] drill VM [--cycles N] [--unplug] [PROBE]
 *   hybond [-j] [-s SOCK] snapshot VM FILE [PROBE]
 *     PROBE: --target IP:PORT (udp echo) | --icmp IP, [--rate PPS] [--probe-netns NS]
 *   hybond [-j] [-s SOCK] vm list | vm add NAME KEY VALUE… | vm del NAME
 *
 * Text and JSON come from the same objects through print_obj(): -j prints
 * each line as it came, text mode flattens it.  See hybond.8.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define HYBOND_DEFAULT_SOCK "/run/hybond/hostd.sock"
#define CLI_LINE_MAX (1u << 20)

static int json_out;

static void usage(FILE *f)
{
	(void)fprintf(f, "usage: hybond [-j] [-s SOCKET] OBJECT COMMAND\n"
		"  migrate VM --to HOST [--force]\n"
		"  status\n"
		"  drill VM [--cycles N] [--unplug] [PROBE]\n"
		"  snapshot VM FILE [PROBE]\n"
		"    PROBE: --target IP:PORT | --icmp IP, [--rate PPS] [--probe-netns NS]\n"
		"  vm list | vm add NAME KEY VALUE... | vm del NAME\n"
		"(VM keys: qmp agent mac mode standby_port vf_port eswitch eswitch_bridge\n"
		" eswitch_pf eswitch_netns vf_driver vf_id vf_bus vf_netdev launcher cleanup)\n");
}

/* text mode: "key value" pairs, nested objects as key.sub */
static void print_flat(const char *prefix, json_t *o)
{
	const char *k;
	json_t *v;
	char key[256];

	json_object_foreach(o, k, v) {
		(void)snprintf(key, sizeof(key), "%s%s%s", prefix, prefix[0] ? "." : "", k);
		if (json_is_object(v)) {
			print_flat(key, v);
		} else if (json_is_array(v)) {
			size_t i;
			json_t *e;

			json_array_foreach(v, i, e) {
				char ik[300];

				(void)snprintf(ik, sizeof(ik), "%s[%zu]", key, i);
				if (json_is_object(e))
					print_flat(ik, e);
				else {
					char *s = json_dumps(e, JSON_ENCODE_ANY);

					(void)printf("  %-32s %s\n", ik, s ? s : "?");
					free(s);
				}
			}
		} else {
			char *s = json_dumps(v, JSON_ENCODE_ANY);

			(void)printf("  %-32s %s\n", key, s ? s : "?");
			free(s);
		}
	}
}

static long long jint(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* drill / snapshot: loss and outage per window, per direction */
static void print_windows(json_t *o)
{
	json_t *w, *p = json_object_get(o, "probe"), *s = json_object_get(o, "snapshot");
	size_t i;

	(void)printf("%s %s (%s): %s, %lld ms\n", json_string_value(json_object_get(o, "op")),
		     json_string_value(json_object_get(o, "vm")),
		     json_string_value(json_object_get(o, "mode")),
		     json_is_true(json_object_get(o, "ok")) ? "ok" : "FAILED", jint(o, "total_ms"));
	if (json_object_get(o, "error"))
		(void)printf("  error: %s\n", json_string_value(json_object_get(o, "error")));
	if (s)
		(void)printf("  file %s, %lld bytes, QEMU downtime %lld ms, paused %lld ms\n",
			     json_string_value(json_object_get(s, "file")), jint(s, "bytes"),
			     jint(s, "qemu_downtime_ms"), jint(s, "paused_ms"));
	if (!p) {
		(void)printf("  (no prober: --target IP:PORT or --icmp IP for loss figures)\n");
		return;
	}
	(void)printf("  probe %s %s at %lld pps: sent %lld, lost %lld to / %lld from the guest, "
		     "worst RTT %.1f ms; lost at the switch steps: %lld\n",
		     json_string_value(json_object_get(p, "kind")),
		     json_string_value(json_object_get(p, "target")), jint(p, "rate_pps"),
		     jint(p, "sent"), jint(p, "lost_to_guest"), jint(p, "lost_from_guest"),
		     json_number_value(json_object_get(p, "rtt_max_ms")), jint(o, "switch_lost"));
	(void)printf("  %5s  %-20s %9s %9s %9s %7s %10s %10s\n", "cycle", "phase", "start_ms",
		     "lost_to", "lost_from", "outages", "outage_ms", "longest_ms");
	json_array_foreach(json_object_get(o, "windows"), i, w)
		(void)printf("  %5lld  %-20s %9.1f %9lld %9lld %7lld %10.1f %10.1f\n",
			     jint(w, "cycle"), json_string_value(json_object_get(w, "phase")),
			     json_number_value(json_object_get(w, "start_ms")), jint(w, "lost_to_guest"),
			     jint(w, "lost_from_guest"), jint(w, "outages"),
			     json_number_value(json_object_get(w, "outage_ms")),
			     json_number_value(json_object_get(w, "longest_outage_ms")));
}

static void print_obj(json_t *o)
{
	json_t *p = json_object_get(o, "progress");

	if (json_out) {
		char *s = json_dumps(o, JSON_COMPACT);

		(void)printf("%s\n", s ? s : "{}");
		free(s);
	} else if (p) {
		json_t *rem = json_object_get(p, "ram_remaining");

		(void)printf("%8lld ms  %-18s", (long long)json_integer_value(json_object_get(p, "t_ms")),
		       json_string_value(json_object_get(p, "phase")));
		if (rem)
			(void)printf("  %s, RAM remaining %.1f MiB, %.0f Mbit/s, expected downtime %lld ms",
			       json_string_value(json_object_get(p, "status")),
			       (double)json_integer_value(rem) / 1048576.0,
			       json_number_value(json_object_get(p, "mbps")),
			       (long long)json_integer_value(json_object_get(p, "expected_downtime_ms")));
		(void)printf("\n");
	} else {
		int ok = json_is_true(json_object_get(o, "ok"));

		if (json_object_get(o, "windows") || json_object_get(o, "final_phase"))
			print_windows(o);
		else if (!ok)
			(void)printf("error: %s\n", json_string_value(json_object_get(o, "error")));
		else {
			json_t *c = json_deep_copy(o);

			(void)json_object_del(c, "ok");
			print_flat("", c);
			json_decref(c);
		}
	}
	(void)fflush(stdout);
}

static int talk(const char *sock, json_t *req)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *line = json_dumps(req, JSON_COMPACT), *buf = malloc(CLI_LINE_MAX);
	size_t len = 0;
	int fd, rc = 1, done = 0;

	json_decref(req);
	if (!line || !buf || strlen(sock) >= sizeof(sa.sun_path))
		goto out;
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		(void)fprintf(stderr, "hybond: %s: %s (is hybond-hostd running?)\n", sock, strerror(errno));
		if (fd >= 0)
			(void)close(fd);
		goto out;
	}
	if (dprintf(fd, "%s\n", line) < 0) {
		(void)close(fd);
		goto out;
	}
	while (!done) {
		ssize_t n = read(fd, buf + len, CLI_LINE_MAX - len);
		char *nl;

		if (n <= 0)
			break;
		len += (size_t)n;
		while (!done && (nl = memchr(buf, '\n', len))) {
			json_error_t je;
			json_t *o = json_loadb(buf, (size_t)(nl - buf), 0, &je);

			if (o) {
				print_obj(o);
				if (!json_object_get(o, "progress")) {
					done = 1;
					rc = json_is_true(json_object_get(o, "ok")) ? 0 : 1;
				}
				json_decref(o);
			}
			len -= (size_t)(nl + 1 - buf);
			(void)memmove(buf, nl + 1, len);
		}
		if (len == CLI_LINE_MAX)
			break;
	}
	if (!done)
		(void)fprintf(stderr, "hybond: the daemon closed the connection without an answer\n");
	(void)close(fd);
out:
	free(line);
	free(buf);
	return rc;
}

/* drill VM [--cycles N] [--unplug] [PROBE] | snapshot VM FILE [PROBE] */
static int cmd_drill(const char *sock, int argc, char **argv)
{
	int snap = !strcmp(argv[0], "snapshot"), k = snap ? 3 : 2, rate = -1, cycles = 1, unplug = 0;
	const char *target = NULL, *netns = NULL, *kind = "udp";
	char file[4096];
	json_t *req, *probe;

	if (snap) {
		if (argc < 3) {
			(void)fprintf(stderr, "hybond snapshot VM FILE [PROBE]\n");
			return 2;
		}
		if (argv[2][0] == '/') {
			(void)snprintf(file, sizeof(file), "%s", argv[2]);
		} else {
			char cwd[2048];

			if (!getcwd(cwd, sizeof(cwd)))
				return 1;
			(void)snprintf(file, sizeof(file), "%s/%s", cwd, argv[2]);
		}
	}
	for (; k < argc; k++) {
		if (!strcmp(argv[k], "--cycles") && k + 1 < argc && !snap)
			cycles = atoi(argv[++k]);
		else if (!strcmp(argv[k], "--unplug") && !snap)
			unplug = 1;
		else if (!strcmp(argv[k], "--rate") && k + 1 < argc)
			rate = atoi(argv[++k]);
		else if (!strcmp(argv[k], "--target") && k + 1 < argc)
			target = argv[++k];
		else if (!strcmp(argv[k], "--icmp") && k + 1 < argc) {
			target = argv[++k];
			kind = "icmp";
		} else if (!strcmp(argv[k], "--probe-netns") && k + 1 < argc)
			netns = argv[++k];
		else if (!strcmp(argv[k], "-j"))
			json_out = 1;
		else {
			(void)fprintf(stderr, "hybond %s: unknown argument '%s'\n", argv[0], argv[k]);
			return 2;
		}
	}
	req = json_pack("{s:s, s:s}", "cmd", argv[0], "vm", argv[1]);
	if (snap)
		(void)json_object_set_new(req, "file", json_string(file));
	else
		(void)json_object_set_new(req, "cycles", json_integer(cycles));
	if (unplug)
		(void)json_object_set_new(req, "unplug", json_true());
	if (target) {
		probe = json_pack("{s:s, s:s, s:i}", "kind", kind, "target", target, "rate",
				  rate > 0 ? rate : 1000);
		if (netns)
			(void)json_object_set_new(probe, "netns", json_string(netns));
		(void)json_object_set_new(req, "probe", probe);
	}
	return talk(sock, req);
}

int main(int argc, char **argv)
{
	const char *sock = getenv("HYBOND_SOCKET") ? getenv("HYBOND_SOCKET") : HYBOND_DEFAULT_SOCK;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
			json_out = 1;
		else if ((!strcmp(argv[i], "-s") || !strcmp(argv[i], "--socket")) && i + 1 < argc)
			sock = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[i], "status") && i + 1 == argc)
		return talk(sock, json_pack("{s:s}", "cmd", "status"));
	if (!strcmp(argv[i], "migrate") && i + 1 < argc) {
		const char *vm = argv[i + 1], *to = NULL;
		int force = 0, k;

		for (k = i + 2; k < argc; k++) {
			if (!strcmp(argv[k], "--to") && k + 1 < argc)
				to = argv[++k];
			else if (!strcmp(argv[k], "--force"))
				force = 1;
			else if (!strcmp(argv[k], "-j"))
				json_out = 1;
			else {
				(void)fprintf(stderr, "hybond migrate: unknown argument '%s'\n", argv[k]);
				return 2;
			}
		}
		if (!to) {
			(void)fprintf(stderr, "hybond migrate VM --to HOST\n");
			return 2;
		}
		return talk(sock, json_pack("{s:s, s:s, s:s, s:b}", "cmd", "migrate", "vm", vm,
					    "to", to, "force", force));
	}
	if ((!strcmp(argv[i], "drill") || !strcmp(argv[i], "snapshot")) && i + 1 < argc)
		return cmd_drill(sock, argc - i, argv + i);
	if (!strcmp(argv[i], "vm") && i + 1 < argc) {
		const char *op = argv[i + 1];

		if (!strcmp(op, "list") && i + 2 == argc)
			return talk(sock, json_pack("{s:s}", "cmd", "vm-list"));
		if (!strcmp(op, "del") && i + 3 == argc)
			return talk(sock, json_pack("{s:s, s:s}", "cmd", "vm-del", "vm", argv[i + 2]));
		if (!strcmp(op, "add") && i + 2 < argc && (argc - i - 3) % 2 == 0) {
			json_t *vm = json_pack("{s:s}", "name", argv[i + 2]);
			int k;

			for (k = i + 3; k + 1 < argc; k += 2)
				(void)json_object_set_new(vm, argv[k], json_string(argv[k + 1]));
			return talk(sock, json_pack("{s:s, s:o}", "cmd", "vm-add", "vm", vm));
		}
	}
	usage(stderr);
	return 2;
}
