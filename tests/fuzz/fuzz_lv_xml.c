/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/fuzz/fuzz_lv_xml.c — libFuzzer target for the domain XML parser the libvirt hook
 * and the daemon use (host-agent/hostd/hv/lv_xml.c); the XML may have been written on
 * another host.  Invariants: no crash, no leak; a parsed domain's checks run too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host-agent/hostd/hv/lv_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lv_domain *d = calloc(1, sizeof(*d));
	struct lv_advice *a = calloc(1, sizeof(*a));
	char *xml = malloc(size + 1), err[512];

	if (d && a && xml) {
		memcpy(xml, data, size);
		xml[size] = 0;
		if (lv_domain_parse(xml, d, err, sizeof(err)) == 0) {
			(void)lv_domain_is_hybond(d);
			(void)lv_domain_check(d, a);
		}
	}
	free(xml);
	free(a);
	free(d);
	return 0;
}
