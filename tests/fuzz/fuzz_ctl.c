// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tests/fuzz/fuzz_ctl.c — libFuzzer target for the control socket's requests: the line
 * reader, JSON, ctl_dispatch() and each command's checks, in a daemon with one registered
 * VM (not running here) and one peer (unreachable), in a network namespace of its own.
 *
 * Input: byte 0 picks the client (bit 0: root, else a ctl_group member), the rest is what
 * it writes to the socket (a newline is added). Invariants: no crash, no leak, the daemon
 * answers every line with a JSON object, a ctl_group member never gets a root-only command
 * through. Not fuzzed here: what vm-add registers (its keys are config.c's parser,
 * fuzz_hostd_conf) — a registered VM connects to the QMP and agent sockets it names,
 * which on this machine could be anybody's; root's vm-add lines are skipped.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host-agent/hostd/ctl/ctl.h"
#include "tests/fuzz/fuzz_hostd.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_init("fuzz-ctl");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[1 << 20];
	size_t got = 0;
	int sv[2], root;
	ssize_t n;

	if (size < 1 || size > (size_t)CTL_LINE_MAX)
		return 0;
	root = data[0] & 1;
	if (root) {     /* root's vm-add is not fuzzed here (see the top), however spelt */
		json_t *req = json_loadb((const char *)data + 1, size - 1, JSON_DISABLE_EOF_CHECK,
					 NULL);
		const char *cmd = json_string_value(json_object_get(req, "cmd"));
		int skip = cmd && !strcmp(cmd, "vm-add");

		json_decref(req);
		if (skip)
			return 0;
	}
	fz_vm1();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (ctl_adopt(&fz_d, sv[0], root) < 0)
		abort();
	if (size > 1 && write(sv[1], data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	if (write(sv[1], "\n", 1) != 1)
		abort();
	fz_turns(4);
	while ((n = read(sv[1], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = 0;
	/* an answer unless the line had more than one newline in it or an operation runs */
	if (got) {
		char *last = buf, *nl;
		json_t *o;

		while ((nl = strchr(last, '\n')) && nl[1])
			last = nl + 1;
		o = json_loads(last, JSON_DISABLE_EOF_CHECK, NULL);
		if (!json_is_object(o))
			abort();        /* every line the daemon writes is a JSON object */
		if (!root && json_is_true(json_object_get(o, "ok"))) {
			const char *cmd = NULL;
			json_t *req = json_loadb((const char *)data + 1, size - 1,
						 JSON_DISABLE_EOF_CHECK, NULL);

			cmd = json_string_value(json_object_get(req, "cmd"));
			if (cmd && (!strcmp(cmd, "vm-add") || !strcmp(cmd, "vm-del") ||
				    !strcmp(cmd, "snapshot") || !strcmp(cmd, "libvirt-hook")))
				abort();        /* a root-only command let through */
			json_decref(req);
		}
		json_decref(o);
	}
	(void)close(sv[1]);
	fz_turns(2);
	return 0;
}
