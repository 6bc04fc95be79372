/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* probe_opts.h — hybond-probe argument parsers (pure, unit-tested). */
#ifndef HYBOND_PROBE_OPTS_H
#define HYBOND_PROBE_OPTS_H

#include <stdint.h>
#include <sys/socket.h>

#define HBP_RATE_MAX      100000u
#define HBP_DURATION_MAX  86400.0
#define HBP_GRACE_MS_MAX  600000u

struct hbp_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64]; /* normalised "IP", "IP:PORT" or "[IPv6]:PORT" */
};

/* Decimal integer in [min, max], nothing else. 0 or -1. */
int hbp_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Seconds: a finite decimal number in (0, max]. 0 or -1. */
int hbp_parse_seconds(const char *s, double max, double *out);

/* "IPv4:PORT" or "[IPv6]:PORT"; with host_optional also a bare "PORT" (wildcard
 * address, AF_UNSPEC in ss.ss_family so the caller may pick v6 or v4).
 * Port 1..65535. 0 or -1. */
int hbp_parse_hostport(const char *s, int host_optional, struct hbp_addr *out);

/* A literal IPv4 address (ICMP target). 0 or -1. */
int hbp_parse_ipv4(const char *s, struct hbp_addr *out);

#endif
