/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/fuzz/fuzz_hostd_conf.c — libFuzzer target for hostd.conf (config_parse), the
 * keys `hybond vm add` sets (vm_config_set shares the parser) included.
 * Invariants: no crash, no leak; on success the counts stay within their arrays and every
 * string is NUL-terminated within its field.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host-agent/hostd/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct hostd_config c;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), err[512];
	size_t i;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	config_defaults(&c);
	if (config_parse(&c, text, "fuzz.conf", err, sizeof(err)) == 0) {
		if (c.n_vms > CFG_MAX_VMS || c.n_peers > CFG_MAX_PEERS)
			abort();
		for (i = 0; i < c.n_peers; i++)
			if (strnlen(c.peers[i].name, sizeof(c.peers[i].name)) ==
			    sizeof(c.peers[i].name) ||
			    strnlen(c.peers[i].address, sizeof(c.peers[i].address)) ==
			    sizeof(c.peers[i].address))
				abort();
		for (i = 0; i < c.n_vms; i++)
			if (strnlen(c.vms[i].launcher, sizeof(c.vms[i].launcher)) ==
			    sizeof(c.vms[i].launcher))
				abort();
	} else if (strnlen(err, sizeof(err)) == sizeof(err) || !err[0]) {
		abort();        /* a refusal always says why */
	}
	free(text);
	return 0;
}
