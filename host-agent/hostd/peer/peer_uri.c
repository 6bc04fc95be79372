// SPDX-License-Identifier: LGPL-2.1-or-later
/* host-agent/hostd/peer/peer_uri.c — the migration URI from a peer's offer (peer_uri.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "host-agent/common/escape.h"
#include "peer_uri.h"

#define OFFER_SHOWN 64          /* of an offer quoted in an error, escaped */

/* PORT: 1..65535, decimal digits only. */
static int parse_port(const char *s, unsigned *port)
{
	unsigned long v = 0;
	size_t i;

	if (!s[0] || strlen(s) > 5)
		return -1;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

/* "IPv4" or "[IPv6]" literal (as QEMU's tcp: wants it); host names are refused. */
static int ip_literal(const char *h, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 2];
	unsigned char a[sizeof(struct in6_addr)];

	if (len == 0 || len >= sizeof(buf))
		return 0;
	if (h[0] == '[') {
		if (len < 3 || h[len - 1] != ']')
			return 0;
		(void)snprintf(buf, sizeof(buf), "%.*s", (int)(len - 2), h + 1);
		return inet_pton(AF_INET6, buf, a) == 1;
	}
	(void)snprintf(buf, sizeof(buf), "%.*s", (int)len, h);
	return inet_pton(AF_INET, buf, a) == 1;
}

/* An absolute unix socket path of plain characters that fits sun_path. */
static int plain_path(const char *s)
{
	const char *c;

	if (s[0] != '/' || strlen(s) >= sizeof(((struct sockaddr_un *)0)->sun_path) ||
	    strstr(s, "/../") || (strlen(s) >= 3 && !strcmp(s + strlen(s) - 3, "/..")))
		return 0;
	for (c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || strchr("/._-+@", *c)))
			return 0;
	return 1;
}

static int refuse(const struct peer_config *p, const char *offer, const char *why,
		  char *err, size_t errlen)
{
	char s[OFFER_SHOWN * 4 + 4];
	size_t n = str_escape(s, sizeof(s) - 3, offer, OFFER_SHOWN);

	if (strlen(offer) > OFFER_SHOWN)
		(void)snprintf(s + n, sizeof(s) - n, "...");
	(void)snprintf(err, errlen, "peer %s offered the migration URI \"%s\": %s; accepted: "
		       "tcp:PORT on the peer's configured address%s (nothing was run; check "
		       "the peer's launcher, or whether it is the host it claims to be)",
		       p->name, s, why, p->address[0] ? "" : ", tcp:IP:PORT or unix:/PATH from "
		       "a local peer");
	return -EPERM;
}

int peer_migration_uri(const struct peer_config *p, const char *offer, char *out,
		       size_t outlen, char *err, size_t errlen)
{
	const char *rest, *colon;
	unsigned port;
	int local = !p->address[0];

	if (!offer)
		return refuse(p, "", "empty", err, errlen);
	if (!strncmp(offer, "unix:", 5)) {
		if (!local)
			return refuse(p, offer, "unix: only from a peer on this machine", err,
				      errlen);
		if (!plain_path(offer + 5))
			return refuse(p, offer, "not an absolute path of plain characters", err,
				      errlen);
		(void)snprintf(out, outlen, "%s", offer);
		return 0;
	}
	if (strncmp(offer, "tcp:", 4) != 0)
		return refuse(p, offer, "not tcp: (exec:, file:, fd: and the others are never "
			      "taken from a peer)", err, errlen);
	rest = offer + 4;
	colon = strrchr(rest, ':');
	if (!colon || parse_port(colon + 1, &port))
		return refuse(p, offer, "no port 1..65535 after the last ':'", err, errlen);
	if (local) {
		if (!ip_literal(rest, (size_t)(colon - rest)))
			return refuse(p, offer, "the host is not an IP literal", err, errlen);
		(void)snprintf(out, outlen, "tcp:%.*s:%u", (int)(colon - rest), rest, port);
		return 0;
	}
	/* the host of the address this daemon reaches the peer at, never the peer's word */
	colon = strrchr(p->address, ':');
	if (!colon || colon == p->address)
		return refuse(p, offer, "the peer's configured address has no host", err, errlen);
	(void)snprintf(out, outlen, "tcp:%.*s:%u", (int)(colon - p->address), p->address, port);
	return 0;
}
