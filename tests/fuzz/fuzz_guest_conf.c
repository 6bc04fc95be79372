/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/fuzz/fuzz_guest_conf.c — libFuzzer target for guest.conf (gd_config_parse).
 * Invariants: no crash, no leak; a refusal says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest-agent/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gd_config c;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), err[512] = "";

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	gd_config_defaults(&c);
	if (gd_config_parse(&c, text, err, sizeof(err)) != 0 && !err[0])
		abort();
	free(text);
	return 0;
}
