// SPDX-License-Identifier: LGPL-2.1-or-later
/* config.c — parser of /etc/hybond/guest.conf: one directive per line. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define DEFAULT_STATUS_INTERVAL_MS 5000u
#define DEFAULT_RESUME_DEADLINE_MS 10000u
#define DEFAULT_MIIMON_MS          100u
#define MAX_FILE_BYTES             65536

void gd_config_defaults(struct gd_config *c)
{
	memset(c, 0, sizeof(*c));
	c->status_interval_ms = DEFAULT_STATUS_INTERVAL_MS;
	c->resume_deadline_ms = DEFAULT_RESUME_DEADLINE_MS;
}

int gd_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;
	int i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return -1;
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static int parse_u32(const char *s, uint32_t *v)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno || end == s || *end || x > 3600000ul)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

/* "bond NAME key value ..." */
static const char *parse_bond(struct gd_config *c, char **tok, int ntok)
{
	struct gd_bond_conf *b;
	int i;

	if (ntok < 2 || strlen(tok[1]) >= IFNAMSIZ)
		return "bond needs an interface name (at most 15 characters)";
	if (c->nbonds >= GD_MAX_BONDS)
		return "too many bonds";
	b = &c->bonds[c->nbonds];
	memset(b, 0, sizeof(*b));
	memcpy(b->name, tok[1], strlen(tok[1]) + 1);
	b->miimon_ms = DEFAULT_MIIMON_MS;
	for (i = 2; i + 1 < ntok; i += 2) {
		if (strcmp(tok[i], "standby-mac") == 0) {
			if (gd_parse_mac(tok[i + 1], b->standby_mac))
				return "bad standby-mac";
		} else if (strcmp(tok[i], "vf-mac") == 0) {
			if (gd_parse_mac(tok[i + 1], b->vf_mac))
				return "bad vf-mac";
			b->has_vf_mac = 1;
		} else if (strcmp(tok[i], "vf-pci") == 0) {
			if (strlen(tok[i + 1]) >= sizeof(b->vf_pci))
				return "vf-pci too long";
			memcpy(b->vf_pci, tok[i + 1], strlen(tok[i + 1]) + 1);
		} else if (strcmp(tok[i], "miimon") == 0) {
			if (parse_u32(tok[i + 1], &b->miimon_ms))
				return "bad miimon";
		} else {
			return "unknown bond option";
		}
	}
	if (i != ntok)
		return "bond option without a value";
	if (!memcmp(b->standby_mac, "\0\0\0\0\0\0", 6))
		return "bond needs standby-mac";
	if (!b->has_vf_mac && !b->vf_pci[0]) {
		/* The VF usually has the standby's MAC (it is one NIC to the host). */
		memcpy(b->vf_mac, b->standby_mac, 6);
		b->has_vf_mac = 1;
	}
	c->nbonds++;
	return NULL;
}

static const char *parse_line(struct gd_config *c, char *line)
{
	char *tok[16], *save = NULL, *t;
	int ntok = 0;

	for (t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
		if (t[0] == '#')
			break;
		if (ntok == 16)
			return "too many words";
		tok[ntok++] = t;
	}
	if (ntok == 0)
		return NULL;
	if (strcmp(tok[0], "bond") == 0)
		return parse_bond(c, tok, ntok);
	if (strcmp(tok[0], "status-interval-ms") == 0)
		return ntok == 2 && !parse_u32(tok[1], &c->status_interval_ms) &&
		       c->status_interval_ms >= 100 ? NULL : "bad status-interval-ms (>= 100)";
	if (strcmp(tok[0], "resume-deadline-ms") == 0)
		return ntok == 2 && !parse_u32(tok[1], &c->resume_deadline_ms) ?
		       NULL : "bad resume-deadline-ms";
	return "unknown directive";
}

int gd_config_parse(struct gd_config *c, const char *text, char *err, size_t errlen)
{
	char *copy = strdup(text), *line, *save = NULL;
	int lineno = 0, rc = 0;

	if (!copy) {
		(void)snprintf(err, errlen, "out of memory");
		return -1;
	}
	gd_config_defaults(c);
	/* strtok_r on "\n" would skip empty lines: count them by hand. */
	for (line = copy; line; line = save) {
		const char *why;

		save = strchr(line, '\n');
		if (save)
			*save++ = '\0';
		lineno++;
		why = parse_line(c, line);
		if (why) {
			(void)snprintf(err, errlen, "line %d: %s", lineno, why);
			rc = -1;
			break;
		}
	}
	free(copy);
	return rc;
}

int gd_config_load(struct gd_config *c, const char *path, char *err, size_t errlen)
{
	char *text;
	size_t n;
	FILE *f = fopen(path, "re");
	int rc;

	gd_config_defaults(c);
	if (!f) {
		if (errno == ENOENT)
			return 0;
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	text = malloc(MAX_FILE_BYTES + 1);
	if (!text) {
		(void)fclose(f);
		(void)snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = fread(text, 1, MAX_FILE_BYTES, f);
	text[n] = '\0';
	(void)fclose(f);
	rc = gd_config_parse(c, text, err, errlen);
	free(text);
	return rc;
}
