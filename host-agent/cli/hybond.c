// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/cli/hybond.c — the hybond CLI: talks to hybond-hostd's control
 * socket (one JSON request line, answer lines until the final one).
 *
 *   hybond [-j] [-s SOCK] migrate VM --to HOST [--force]
 *       (first Ctrl-C: cancel the migration; second: leave, the migration goes on)
 *   hybond [-j] [-s SOCK] cancel VM
 *   hybond [-j] [-s SOCK] status
 *   hybond [-j] [-s SOCK] drill VM [--cycles N] [--unplug] [PROBE]
 *   hybond [-j] [-s SOCK] snapshot VM FILE [PROBE]
 *     PROBE: --target IP:PORT (udp echo) | --icmp IP, [--rate PPS] [--probe-netns NS]
 *   hybond [-j] [-s SOCK] vm list | vm add NAME KEY VALUE… | vm del NAME
 *   hybond [-j] [-s SOCK] evacuate --to HOST [--parallel K] [--force] | --status | --stop
 *   hybond [-j] libvirt check DOMAIN [--uri URI] [--inactive] | libvirt check --file XML
 *   hybond [-j] libvirt xml vf --mac MAC (--pci ADDR | --pool NET) --pair ALIAS [--alias A]
 *       (libvirt: read-only connection, or no libvirt at all; docs/libvirt.md)
 *
 * Text and JSON come from the same objects through print_obj(): -j prints
 * each line as it came, text mode flattens it.  See hybond.8.
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "host-agent/hostd/hv/lv_xml.h"
#include "host-agent/hostd/ops/bounds.h"
#include <hybond/version.h>

#define HYBOND_DEFAULT_SOCK "/run/hybond/hostd.sock"
#define CLI_LINE_MAX (1u << 20)

static int json_out;
/* hybond migrate: the VM a first SIGINT cancels (a second one leaves the CLI) */
static const char *cancel_vm;

static void usage(FILE *f)
{
	(void)fprintf(f, "usage: hybond [-j] [-s SOCKET] OBJECT COMMAND\n"
		"  migrate VM --to HOST [--force]   (Ctrl-C: cancel; twice: leave it running)\n"
		"  cancel VM\n"
		"  status\n"
		"  peer-check PEER   (connect to a configured peer daemon: TLS identity, round trip)\n"
		"  drill VM [--cycles N] [--unplug] [PROBE]\n"
		"  snapshot VM FILE [PROBE]\n"
		"    PROBE: --target IP:PORT | --icmp IP, [--rate PPS] [--probe-netns NS]\n"
		"  vm list | vm add NAME KEY VALUE... | vm del NAME\n"
		"  evacuate --to HOST [--parallel K] [--force] | evacuate --status | --stop\n"
		"  libvirt check DOMAIN [--uri URI] [--inactive] | libvirt check --file XML\n"
		"  libvirt xml vf --mac MAC (--pci DDDD:BB:SS.F | --pool NETWORK) --pair ALIAS [--alias A]\n"
		"(VM keys: qmp agent mac mode standby_port vf_port eswitch eswitch_bridge\n"
		" eswitch_pf eswitch_netns vf_driver vf_id vf_bus vf_netdev launcher cleanup\n"
		" hv domain vf_pci)\n");
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
		const char *warn = json_string_value(json_object_get(o, "warning"));

		if (json_object_get(o, "windows") || json_object_get(o, "final_phase"))
			print_windows(o);
		else if (!ok)
			(void)printf("error: %s\n", json_string_value(json_object_get(o, "error")));
		if (warn)       /* a degraded result says so in text too, not only in JSON */
			(void)printf("warning: %s\n", warn);
		if (ok && !json_object_get(o, "windows") && !json_object_get(o, "final_phase")) {
			json_t *c = json_deep_copy(o);

			(void)json_object_del(c, "ok");
			(void)json_object_del(c, "warning");
			print_flat("", c);
			json_decref(c);
		}
	}
	(void)fflush(stdout);
}

/* The first Ctrl-C of `hybond migrate`: {"cmd":"cancel"} on a second connection. */
static void send_cancel(const char *sock, const char *vm)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	json_t *req = json_pack("{s:s, s:s}", "cmd", "cancel", "vm", vm), *o;
	char *line = json_dumps(req, JSON_COMPACT), buf[4096];
	size_t len = 0;
	int fd = -1;

	json_decref(req);
	(void)fprintf(stderr, "hybond: cancelling…\n");
	if (line && strlen(sock) < sizeof(sa.sun_path)) {
		memcpy(sa.sun_path, sock, strlen(sock) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	}
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    dprintf(fd, "%s\n", line) < 0) {
		(void)fprintf(stderr, "hybond: cancel: %s: %s (the migration goes on; try "
			      "hybond cancel %s)\n", sock, strerror(errno), vm);
		goto out;
	}
	while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	o = json_loadb(buf, len, JSON_DISABLE_EOF_CHECK, NULL);
	if (json_is_true(json_object_get(o, "ok")))
		(void)fprintf(stderr, "hybond: %s\n", json_string_value(json_object_get(o, "action")));
	else
		(void)fprintf(stderr, "hybond: cannot cancel: %s\n",
			      o ? json_string_value(json_object_get(o, "error")) : "no answer");
	json_decref(o);
out:
	if (fd >= 0)
		(void)close(fd);
	free(line);
}

/* How one exchange with the daemon prints its lines and what Ctrl-C does. */
struct talk_mode {
	void (*print)(json_t *o);
	/* The n-th Ctrl-C while waiting (fd: the request's connection); 1: leave (exit
	 * 130, the operation goes on in the daemon).  NULL: Ctrl-C is not caught. */
	int (*on_sigint)(int fd, const char *sock, int n);
};

static volatile sig_atomic_t talk_sigints;

static void talk_on_sigint(int sig)
{
	(void)sig;
	talk_sigints++;
}

/* Send req (stolen), print every answer line until the one without "progress".  With
 * tm->on_sigint, SIGINT is blocked except inside ppoll(): none is missed.  0 if the
 * final answer says ok, 130 if Ctrl-C left, else 1. */
static int talk_with(const char *sock, json_t *req, const struct talk_mode *tm)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *line = json_dumps(req, JSON_COMPACT), *buf = malloc(CLI_LINE_MAX);
	struct sigaction act = { .sa_handler = talk_on_sigint };
	sigset_t block, wait_mask;
	size_t len = 0;
	int fd = -1, rc = 1, done = 0, handled = 0;

	json_decref(req);
	if (!line || !buf) {
		(void)fprintf(stderr, "hybond: out of memory\n");
		goto out;
	}
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		(void)fprintf(stderr, "hybond: %s: longer than a unix socket path may be (%zu "
			      "bytes at most)\n", sock, sizeof(sa.sun_path) - 1);
		goto out;
	}
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		(void)fprintf(stderr, "hybond: %s: %s (is hybond-hostd running?)\n", sock, strerror(errno));
		goto out;
	}
	if (tm->on_sigint) {
		(void)sigemptyset(&block);
		(void)sigaddset(&block, SIGINT);
		(void)sigprocmask(SIG_BLOCK, &block, &wait_mask);
		(void)sigdelset(&wait_mask, SIGINT);
		(void)sigaction(SIGINT, &act, NULL);    /* no SA_RESTART: ppoll returns EINTR */
	}
	if (dprintf(fd, "%s\n", line) < 0)
		goto out;
	while (!done) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		char *nl;

		if (tm->on_sigint && talk_sigints > handled) {
			handled = talk_sigints;
			if (tm->on_sigint(fd, sock, handled)) {
				rc = 130;
				break;
			}
		}
		if (tm->on_sigint && ppoll(&pfd, 1, NULL, &wait_mask) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		n = read(fd, buf + len, CLI_LINE_MAX - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		while (!done && (nl = memchr(buf, '\n', len))) {
			json_error_t je;
			json_t *o = json_loadb(buf, (size_t)(nl - buf), 0, &je);

			if (o) {
				tm->print(o);
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
	if (!done && rc != 130)
		(void)fprintf(stderr, "hybond: the daemon closed the connection without an answer\n");
out:
	if (fd >= 0)
		(void)close(fd);
	free(line);
	free(buf);
	return rc;
}

/* `hybond migrate` in text mode: the first Ctrl-C cancels, the second leaves. */
static int mig_sigint(int fd, const char *sock, int n)
{
	(void)fd;
	if (n >= 2) {
		(void)fprintf(stderr, "hybond: left; the migration of %s goes on in hybond-hostd "
			      "(hybond status; hybond cancel %s)\n", cancel_vm, cancel_vm);
		return 1;
	}
	send_cancel(sock, cancel_vm);
	return 0;
}

static int talk(const char *sock, json_t *req)
{
	const struct talk_mode tm = { .print = print_obj,
				      .on_sigint = cancel_vm ? mig_sigint : NULL };

	return talk_with(sock, req, &tm);
}

/* A whole number 1..@max from the command line, or a message and nonzero (never a silent
 * default: "--rate abc" is an error, not 1000). */
static int parse_count(const char *cmd, const char *opt, const char *arg, unsigned max,
		       int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < 1 || v > (long)max) {
		(void)fprintf(stderr, "hybond %s: %s '%s': want a whole number from 1 to %u\n",
			      cmd, opt, arg, max);
		return -1;
	}
	*out = (int)v;
	return 0;
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

			if (!getcwd(cwd, sizeof(cwd))) {
				(void)fprintf(stderr, "hybond snapshot: the current directory: %s "
					      "(give FILE as an absolute path)\n", strerror(errno));
				return 1;
			}
			(void)snprintf(file, sizeof(file), "%s/%s", cwd, argv[2]);
		}
	}
	for (; k < argc; k++) {
		if (!strcmp(argv[k], "--cycles") && k + 1 < argc && !snap) {
			if (parse_count(argv[0], "--cycles", argv[++k], DRILL_MAX_CYCLES, &cycles))
				return 2;
		} else if (!strcmp(argv[k], "--unplug") && !snap)
			unplug = 1;
		else if (!strcmp(argv[k], "--rate") && k + 1 < argc) {
			if (parse_count(argv[0], "--rate", argv[++k], DRILL_MAX_RATE_PPS, &rate))
				return 2;
		}
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
	if (!target && (rate > 0 || netns)) {
		/* never a silent default: the probe options without a probe */
		(void)fprintf(stderr, "hybond %s: %s needs --target IP:PORT or --icmp IP (the "
			      "probe it configures)\n", argv[0], rate > 0 ? "--rate" : "--probe-netns");
		return 2;
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

/* ---- evacuate --------------------------------------------------------------------------
 * hybond evacuate --to HOST [--parallel K] [--force]: one line per VM as it starts and
 * ends, then the summary and a table.  Ctrl-C asks the daemon (on the same connection) to
 * start no more migrations; the running ones go on and are still reported.  A second
 * Ctrl-C leaves; the evacuation goes on in the daemon (hybond evacuate --status, --stop).
 */

static const char *jstr(json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : dflt;
}

static void evac_cell(json_t *o, const char *k)
{
	if (json_is_integer(json_object_get(o, k)))
		(void)printf(" %12lld", jint(o, k));
	else
		(void)printf(" %12s", "-");
}

static void evac_table(json_t *vms)
{
	size_t i;
	json_t *v;

	if (!json_array_size(vms))
		return;
	(void)printf("  %-16s %-12s %12s %12s  %-9s %s\n", "VM", "result", "downtime_ms",
		     "migration_ms", "dest_path", "reason");
	json_array_foreach(vms, i, v) {
		(void)printf("  %-16s %-12s", jstr(v, "vm", "?"), jstr(v, "status", "?"));
		evac_cell(v, "qemu_downtime_ms");
		evac_cell(v, "total_ms");
		(void)printf("  %-9s %s\n", jstr(v, "dest_path", "-"), jstr(v, "reason", ""));
	}
}

/* text mode: one event, the final answer, or --status/--stop's state */
static void evac_print(json_t *o)
{
	json_t *p = json_object_get(o, "progress"), *s = json_object_get(o, "summary");
	const char *ev = jstr(p, "event", ""), *vm = jstr(p, "vm", "?");
	double t = (double)jint(p, "t_ms") / 1000.0;

	if (!strcmp(ev, "begin")) {
		if (!json_array_size(json_object_get(p, "vms")))
			(void)printf("nothing to evacuate: no VM runs on %s\n", jstr(p, "from", "?"));
		else
			(void)printf("evacuating %zu VMs from %s to %s, at most %lld at a time%s\n",
				     json_array_size(json_object_get(p, "vms")), jstr(p, "from", "?"),
				     jstr(p, "to", "?"), jint(p, "parallel"),
				     json_is_true(json_object_get(p, "force")) ?
				     " (--force: VMs without a guest agent too, expect loss)" : "");
	} else if (!strcmp(ev, "started")) {
		(void)printf("%8.1f s  %-16s started (%lld running, %lld waiting)\n", t, vm,
			     jint(p, "running"), jint(p, "waiting"));
	} else if (!strcmp(ev, "finished") && !strcmp(jstr(p, "status", ""), "ok")) {
		(void)printf("%8.1f s  %-16s ok: %s path on the destination, QEMU downtime %lld ms, "
			     "migration %lld ms\n", t, vm, jstr(p, "dest_path", "unknown"),
			     jint(p, "qemu_downtime_ms"), jint(p, "total_ms"));
		if (json_object_get(p, "warning"))
			(void)printf("%8s    %-16s warning: %s\n", "", "", jstr(p, "warning", ""));
	} else if (!strcmp(ev, "finished") || !strcmp(ev, "skipped")) {
		(void)printf("%8.1f s  %-16s %s: %s\n", t, vm, !strcmp(ev, "skipped") ? "skipped" :
			     "FAILED", jstr(p, "reason", "?"));
	} else if (!strcmp(ev, "stopping")) {
		(void)printf("%8.1f s  stopping (%s): no new migration starts; %lld running go on, "
			     "%lld not started\n", t, jstr(p, "by", "?"), jint(p, "running"),
			     jint(p, "not_started"));
	} else if (s) {
		(void)printf("evacuation %s -> %s: %lld of %lld VMs moved, %lld failed, %lld skipped, "
			     "%lld not started (%.1f s)%s\n", jstr(o, "from", "?"), jstr(o, "to", "?"),
			     jint(s, "ok"), jint(s, "vms"), jint(s, "failed"), jint(s, "skipped"),
			     jint(s, "not_started"), (double)jint(o, "total_ms") / 1000.0,
			     json_is_true(json_object_get(o, "stopped")) ? ", stopped" : "");
		evac_table(json_object_get(o, "vms"));
	} else if (json_is_true(json_object_get(o, "ok")) && json_object_get(o, "vms")) {
		(void)printf("evacuation %s -> %s, at most %lld at a time, for %.1f s: %lld running, "
			     "%lld waiting%s\n", jstr(o, "from", "?"), jstr(o, "to", "?"),
			     jint(o, "parallel"), (double)jint(o, "t_ms") / 1000.0, jint(o, "running"),
			     jint(o, "waiting"), json_is_true(json_object_get(o, "stopped")) ?
			     ", stopped: no new migration starts" : "");
		evac_table(json_object_get(o, "vms"));
	} else {
		print_obj(o);
	}
	(void)fflush(stdout);
}

/* The first Ctrl-C stops new migrations, the second leaves. */
static int evac_sigint(int fd, const char *sock, int n)
{
	(void)sock;
	if (n >= 2) {
		(void)fprintf(stderr, "hybond: left; the evacuation goes on in hybond-hostd "
			      "(hybond evacuate --status, --stop)\n");
		return 1;
	}
	(void)send(fd, "{\"cmd\":\"stop\"}\n", 15, MSG_NOSIGNAL);
	(void)fprintf(stderr, "hybond: Ctrl-C: no new migration will start; the running ones go "
		      "on (Ctrl-C again to leave them without this CLI)\n");
	return 0;
}

static int evac_talk(const char *sock, json_t *req)
{
	const struct talk_mode tm = { .print = json_out ? print_obj : evac_print,
				      .on_sigint = evac_sigint };

	return talk_with(sock, req, &tm);
}

/* evacuate --to HOST [--parallel K] [--force] | evacuate --status | evacuate --stop */
static int cmd_evacuate(const char *sock, int argc, char **argv)
{
	const char *to = NULL, *query = NULL;
	long k = 1;
	int force = 0, i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--to") && i + 1 < argc) {
			to = argv[++i];
		} else if (!strcmp(argv[i], "--parallel") && i + 1 < argc) {
			char *end;

			errno = 0;
			k = strtol(argv[++i], &end, 10);
			if (errno || *end || end == argv[i] || k < 1 || k > EVAC_PARALLEL_MAX) {
				(void)fprintf(stderr, "hybond evacuate: --parallel %s: want 1 to %d "
					      "migrations at once\n", argv[i], EVAC_PARALLEL_MAX);
				return 2;
			}
		} else if (!strcmp(argv[i], "--force")) {
			force = 1;
		} else if (!strcmp(argv[i], "--status") || !strcmp(argv[i], "--stop")) {
			query = argv[i] + 2;
		} else if (!strcmp(argv[i], "-j")) {
			json_out = 1;
		} else {
			(void)fprintf(stderr, "hybond evacuate: unknown argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (query && (to || force || k != 1)) {
		(void)fprintf(stderr, "hybond evacuate --%s takes no other option\n", query);
		return 2;
	}
	if (query)
		return evac_talk(sock, json_pack("{s:s, s:b}", "cmd", "evacuate", query, 1));
	if (!to) {
		(void)fprintf(stderr, "hybond evacuate --to HOST [--parallel K] [--force]\n");
		return 2;
	}
	return evac_talk(sock, json_pack("{s:s, s:s, s:i, s:b}", "cmd", "evacuate", "to", to,
					 "parallel", (int)k, "force", force));
}

/* ---- libvirt ---------------------------------------------------------------------------
 * hybond libvirt check DOMAIN [--uri URI] [--inactive] | --file XML: what the domain XML
 * lacks for hybond, with the XML to add (lv_domain_check); exit 0 ready, 1 not, 2 could
 * not check.  A read-only libvirt connection, or none with --file.
 * hybond libvirt xml vf …: the transient VF interface to attach (lv_xml).
 * Not the daemon's control socket: these work with hybond-hostd down.
 */
#define LV_DEFAULT_URI "qemu:///system"

static void lv_quiet(void *data, virErrorPtr e)
{
	(void)data;
	(void)e;        /* reported once, with context, by the caller */
}

static char *lv_fetch_xml(const char *uri, const char *name, int inactive)
{
	virConnectPtr c;
	virDomainPtr d;
	char *x = NULL;

	virSetErrorFunc(NULL, lv_quiet);
	c = virConnectOpenReadOnly(uri);
	if (!c) {
		(void)fprintf(stderr, "hybond libvirt: cannot connect to %s: %s (is libvirtd "
			      "running? another hypervisor: --uri URI)\n", uri,
			      virGetLastErrorMessage());
		return NULL;
	}
	d = virDomainLookupByName(c, name);
	if (!d)
		d = virDomainLookupByUUIDString(c, name);
	if (!d)
		(void)fprintf(stderr, "hybond libvirt: no domain '%s' on %s (virsh -c %s list "
			      "--all)\n", name, uri, uri);
	else if (!(x = virDomainGetXMLDesc(d, inactive ? VIR_DOMAIN_XML_INACTIVE : 0)))
		(void)fprintf(stderr, "hybond libvirt: %s: cannot read its XML: %s\n", name,
			      virGetLastErrorMessage());
	if (d)
		(void)virDomainFree(d);
	(void)virConnectClose(c);
	return x;
}

static char *lv_read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *x = f ? calloc(1, LV_XML_MAX + 2) : NULL;
	size_t n = 0;

	if (x) {
		n = fread(x, 1, LV_XML_MAX + 1, f);
		if (ferror(f) || n > LV_XML_MAX) {
			free(x);
			x = NULL;
			errno = ferror(f) ? EIO : EFBIG;
		}
	}
	if (!x)
		(void)fprintf(stderr, "hybond libvirt: %s: %s\n", path, strerror(errno));
	if (f)
		(void)fclose(f);
	return x;
}

static const char *lv_vf_desc(const struct lv_pair *p, char *buf, size_t size)
{
	char pci[13];

	lv_pci_format(&p->pci, pci);
	if (p->kind == LV_VF_POOL)
		(void)snprintf(buf, size, "a VF of pool %s", p->pool);
	else if (p->kind == LV_VF_QEMU)
		(void)snprintf(buf, size, "qemu device %s (tap %s)", p->qemu_id,
			       p->tap[0] ? p->tap : "?");
	else
		(void)snprintf(buf, size, "%s %s", p->vf_is_iface ? "hostdev interface" : "hostdev",
			       pci);
	return buf;
}

/* the check's result, one object for -j and for text */
static json_t *lv_check_obj(const struct lv_domain *d, const struct lv_advice *a, int ready)
{
	json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:s, s:[], s:[]}", "domain", d->name,
			      "uuid", d->uuid, "ready", ready, "hybond", lv_domain_is_hybond(d),
			      "host", d->meta_host, "pairs", "problems");
	json_t *pairs = json_object_get(o, "pairs"), *probs = json_object_get(o, "problems");
	unsigned i;
	char vf[300];

	for (i = 0; o && i < d->n_pairs; i++)
		(void)json_array_append_new(pairs, json_pack("{s:s, s:s, s:s}", "standby",
				d->pairs[i].standby_alias, "mac", d->pairs[i].standby_mac, "vf",
				lv_vf_desc(&d->pairs[i], vf, sizeof(vf))));
	for (i = 0; o && i < a->n; i++)
		(void)json_array_append_new(probs, json_pack("{s:s, s:s, s:s, s:s, s:s}",
				"code", lv_problem_name(a->items[i].code), "severity",
				a->items[i].severity == LV_SEV_ERROR ? "error" : "note",
				"what", a->items[i].what, "where", a->items[i].where,
				"xml", a->items[i].xml));
	return o;
}

static void lv_check_print(json_t *o)
{
	json_t *p;
	size_t i;

	if (json_out) {
		print_obj(o);
		return;
	}
	(void)printf("%s: %s for hybond\n", jstr(o, "domain", "?"),
		     json_is_true(json_object_get(o, "ready")) ? "ready" : "NOT ready");
	json_array_foreach(json_object_get(o, "pairs"), i, p)
		(void)printf("  pair: standby %s (%s) <-> %s\n", jstr(p, "standby", "?"),
			     jstr(p, "mac", "?"), jstr(p, "vf", "?"));
	json_array_foreach(json_object_get(o, "problems"), i, p) {
		const char *x = jstr(p, "xml", ""), *nl;

		(void)printf("  %s %s: %s\n", jstr(p, "severity", "?"), jstr(p, "code", "?"),
			     jstr(p, "what", ""));
		if (!x[0])
			continue;
		(void)printf("    add in %s:\n", jstr(p, "where", "?"));
		for (; *x; x = nl + 1) {        /* the snippet, indented */
			nl = strchr(x, '\n');
			(void)printf("      %.*s\n", nl ? (int)(nl - x) : (int)strlen(x), x);
			if (!nl)
				break;
		}
	}
	(void)fflush(stdout);
}

static int lv_cmd_check(int argc, char **argv)
{
	const char *uri = getenv("LIBVIRT_DEFAULT_URI"), *name = NULL, *file = NULL;
	struct lv_domain *d = calloc(1, sizeof(*d));
	struct lv_advice *a = calloc(1, sizeof(*a));
	char *xml = NULL, err[256];
	int i, inactive = 0, rc = 2;
	json_t *o;

	if (!uri || !uri[0])
		uri = LV_DEFAULT_URI;
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--uri") && i + 1 < argc) {
			uri = argv[++i];
		} else if (!strcmp(argv[i], "--file") && i + 1 < argc) {
			file = argv[++i];
		} else if (!strcmp(argv[i], "--inactive")) {
			inactive = 1;
		} else if (!strcmp(argv[i], "-j")) {
			json_out = 1;
		} else if (argv[i][0] != '-' && !name) {
			name = argv[i];
		} else {
			(void)fprintf(stderr, "hybond libvirt check: unknown argument '%s'\n", argv[i]);
			goto out;
		}
	}
	if (!d || !a || (!name) == (!file)) {
		(void)fprintf(stderr, "hybond libvirt check DOMAIN [--uri URI] [--inactive] | "
			      "hybond libvirt check --file DOMAIN.xml\n");
		goto out;
	}
	xml = file ? lv_read_file(file) : lv_fetch_xml(uri, name, inactive);
	if (!xml)
		goto out;
	if (lv_domain_parse(xml, d, err, sizeof(err)) < 0) {
		(void)fprintf(stderr, "hybond libvirt check: %s: %s\n", file ? file : name, err);
		goto out;
	}
	rc = lv_domain_check(d, a) ? 1 : 0;
	o = lv_check_obj(d, a, rc == 0);
	if (o)
		lv_check_print(o);
	json_decref(o);
out:
	free(xml);      /* libvirt's string: free() is its documented release */
	free(d);
	free(a);
	return rc;
}

static int lv_cmd_xml(int argc, char **argv)
{
	const char *mac = NULL, *pci = NULL, *pool = NULL, *pair = NULL, *alias = NULL;
	char *x = NULL;
	int i, rc;

	if (argc < 3 || strcmp(argv[2], "vf") != 0)
		goto usage;
	for (i = 3; i < argc; i++) {
		const char **dst = !strcmp(argv[i], "--mac") ? &mac : !strcmp(argv[i], "--pci") ?
				   &pci : !strcmp(argv[i], "--pool") ? &pool :
				   !strcmp(argv[i], "--pair") ? &pair :
				   !strcmp(argv[i], "--alias") ? &alias : NULL;

		if (!strcmp(argv[i], "-j"))
			json_out = 1;
		else if (dst && i + 1 < argc)
			*dst = argv[++i];
		else
			goto usage;
	}
	if (!mac || !pair || (!pci) == (!pool))
		goto usage;
	rc = pci ? lv_hostdev_iface_xml(mac, pci, alias, pair, &x) :
		   lv_pool_iface_xml(mac, pool, alias, pair, &x);
	if (rc < 0) {
		(void)fprintf(stderr, "hybond libvirt xml vf: %s (MAC aa:bb:cc:dd:ee:ff, PCI "
			      "dddd:bb:ss.f, aliases of [A-Za-z0-9_.-], user aliases start with "
			      "ua-)\n", strerror(-rc));
		return 2;
	}
	if (json_out) {
		json_t *o = json_pack("{s:s}", "xml", x);

		if (o)
			print_obj(o);
		json_decref(o);
	} else {
		(void)printf("%s\n", x);
	}
	free(x);
	return 0;
usage:
	(void)fprintf(stderr, "hybond libvirt xml vf --mac MAC (--pci DDDD:BB:SS.F | --pool "
		      "NETWORK) --pair STANDBY_ALIAS [--alias ALIAS]\n");
	return 2;
}

/* hybond libvirt check … | hybond libvirt xml vf … */
static int cmd_libvirt(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "check"))
		return lv_cmd_check(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "xml"))
		return lv_cmd_xml(argc, argv);
	(void)fprintf(stderr, "hybond libvirt check DOMAIN [--uri URI] [--inactive] | check "
		      "--file XML | xml vf --mac MAC (--pci ADDR | --pool NET) --pair ALIAS\n");
	return 2;
}

int main(int argc, char **argv)
{
	/* HYBOND_CTL_SOCKET as the libvirt hook reads it; HYBOND_SOCKET, the older name */
	const char *sock = getenv("HYBOND_CTL_SOCKET") ? getenv("HYBOND_CTL_SOCKET") :
			   getenv("HYBOND_SOCKET") ? getenv("HYBOND_SOCKET") : HYBOND_DEFAULT_SOCK;
	int i = 1, n = 1;

	/* -j and -s SOCKET anywhere on the line (`hybond status -j` as `hybond -j status`) */
	for (int k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "-j") || !strcmp(argv[k], "--json")) {
			json_out = 1;
		} else if ((!strcmp(argv[k], "-s") || !strcmp(argv[k], "--socket")) && k > 1 &&
			   k + 1 < argc) {
			sock = argv[++k];
		} else {
			argv[n++] = argv[k];
		}
	}
	argc = n;
	argv[argc] = NULL;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
			json_out = 1;
		else if ((!strcmp(argv[i], "-s") || !strcmp(argv[i], "--socket")) && i + 1 < argc)
			sock = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			(void)printf("hybond %s\n", HYBOND_VERSION);
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
		cancel_vm = vm;
		return talk(sock, json_pack("{s:s, s:s, s:s, s:b}", "cmd", "migrate", "vm", vm,
					    "to", to, "force", force));
	}
	if (!strcmp(argv[i], "cancel") && i + 2 == argc)
		return talk(sock, json_pack("{s:s, s:s}", "cmd", "cancel", "vm", argv[i + 1]));
	if (!strcmp(argv[i], "peer-check") && i + 2 == argc)
		return talk(sock, json_pack("{s:s, s:s}", "cmd", "peer-check", "peer", argv[i + 1]));
	if ((!strcmp(argv[i], "drill") || !strcmp(argv[i], "snapshot")) && i + 1 < argc)
		return cmd_drill(sock, argc - i, argv + i);
	if (!strcmp(argv[i], "evacuate"))
		return cmd_evacuate(sock, argc - i, argv + i);
	if (!strcmp(argv[i], "libvirt"))
		return cmd_libvirt(argc - i, argv + i);
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
