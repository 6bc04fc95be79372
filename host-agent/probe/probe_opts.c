// SPDX-License-Identifier: LGPL-2.1-or-later
/* probe_opts.c — hybond-probe argument parsers (see probe_opts.h). */
#include "probe_opts.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hbp_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!s || !*s)
		return -1;
	for (const char *p = s; *p; p++)
		if (!isdigit((unsigned char)*p))
			return -1;
	errno = 0;
	char *end = NULL;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || !end || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int hbp_parse_seconds(const char *s, double max, double *out)
{
	if (!s || !*s || isspace((unsigned char)*s))
		return -1;
	for (const char *p = s; *p; p++)
		if (!isdigit((unsigned char)*p) && *p != '.')
			return -1;
	errno = 0;
	char *end = NULL;
	double v = strtod(s, &end);
	if (errno != 0 || !end || *end != '\0' || !isfinite(v) || v <= 0.0 || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_port(const char *s, uint16_t *port)
{
	uint64_t v;
	if (hbp_parse_uint(s, 1, 65535, &v) < 0)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int hbp_parse_ipv4(const char *s, struct hbp_addr *out)
{
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	memset(out, 0, sizeof(*out));
	if (!s || inet_pton(AF_INET, s, &sin.sin_addr) != 1)
		return -1;
	sin.sin_family = AF_INET;
	memcpy(&out->ss, &sin, sizeof(sin));
	out->len = sizeof(sin);
	if (!inet_ntop(AF_INET, &sin.sin_addr, out->text, sizeof(out->text)))
		return -1;
	return 0;
}

int hbp_parse_hostport(const char *s, int host_optional, struct hbp_addr *out)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port_s;
	uint16_t port;
	int v6 = 0;

	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return -1;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -1;
		size_t hl = (size_t)(close - s - 1);
		if (hl == 0 || hl >= sizeof(host))
			return -1;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		port_s = close + 2;
		v6 = 1;
	} else {
		const char *colon = strrchr(s, ':');
		if (!colon) {
			if (!host_optional || parse_port(s, &port) < 0)
				return -1;
			out->ss.ss_family = AF_UNSPEC;
			((struct sockaddr_in *)&out->ss)->sin_port = htons(port);
			out->len = 0;
			(void)snprintf(out->text, sizeof(out->text), "*:%u", (unsigned)port);
			return 0;
		}
		if (strchr(s, ':') != colon) /* bare IPv6 without brackets */
			return -1;
		size_t hl = (size_t)(colon - s);
		if (hl == 0 || hl >= sizeof(host))
			return -1;
		memcpy(host, s, hl);
		host[hl] = '\0';
		port_s = colon + 1;
	}
	if (parse_port(port_s, &port) < 0)
		return -1;

	char txt[INET6_ADDRSTRLEN];
	if (v6) {
		struct sockaddr_in6 sin6;
		memset(&sin6, 0, sizeof(sin6));
		if (inet_pton(AF_INET6, host, &sin6.sin6_addr) != 1)
			return -1;
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(port);
		memcpy(&out->ss, &sin6, sizeof(sin6));
		out->len = sizeof(sin6);
		if (!inet_ntop(AF_INET6, &sin6.sin6_addr, txt, sizeof(txt)))
			return -1;
		(void)snprintf(out->text, sizeof(out->text), "[%s]:%u", txt, (unsigned)port);
	} else {
		struct sockaddr_in sin;
		memset(&sin, 0, sizeof(sin));
		if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
			return -1;
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		memcpy(&out->ss, &sin, sizeof(sin));
		out->len = sizeof(sin);
		if (!inet_ntop(AF_INET, &sin.sin_addr, txt, sizeof(txt)))
			return -1;
		(void)snprintf(out->text, sizeof(out->text), "%s:%u", txt, (unsigned)port);
	}
	return 0;
}
