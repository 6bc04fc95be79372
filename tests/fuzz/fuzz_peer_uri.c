/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/fuzz/fuzz_peer_uri.c — libFuzzer target for the migration URI the source builds
 * from a peer's offer (host-agent/hostd/peer/peer_uri.c).  The first byte picks the peer
 * (TCP v4, TCP v6, local); the rest is the offer.  Invariants: an accepted URI is tcp: or
 * unix: of plain characters only; for a TCP peer its host is the configured one; a
 * refusal says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host-agent/hostd/peer/peer_uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct peer_config peers[] = {
	{ .name = "B", .address = "198.19.254.2:16515" },
	{ .name = "C", .address = "[2001:db8::2]:16515" },
	{ .name = "L", .socket = "/run/hybond/peer.sock" },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct peer_config *p;
	char *offer, out[CFG_PATH_MAX], err[512];
	const char *c;

	if (size < 1)
		return 0;
	p = &peers[data[0] % 3];
	offer = malloc(size);
	if (!offer)
		return 0;
	memcpy(offer, data + 1, size - 1);
	offer[size - 1] = 0;
	if (peer_migration_uri(p, offer, out, sizeof(out), err, sizeof(err)) == 0) {
		if (strncmp(out, "tcp:", 4) != 0 && strncmp(out, "unix:", 5) != 0)
			abort();
		for (c = out; *c; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			      (*c >= '0' && *c <= '9') || strchr(":/._-+@[]", *c)))
				abort();
		if (p->address[0] && !strncmp(out, "unix:", 5))
			abort();
		if (p == &peers[0] && strncmp(out, "tcp:198.19.254.2:", 17) != 0)
			abort();
		if (p == &peers[1] && strncmp(out, "tcp:[2001:db8::2]:", 18) != 0)
			abort();
	} else if (!err[0]) {
		abort();
	}
	free(offer);
	return 0;
}
