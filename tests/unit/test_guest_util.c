// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_guest_util.c — loading captured netlink messages for the tests. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_guest_util.h"

#ifndef GD_DATA_DIR                    /* set by guestd.mk */
#define GD_DATA_DIR "tests/data/netlink"
#endif

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_bin(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 4 && strcmp(d->d_name + n - 4, ".bin") == 0;
}

int tg_load(struct tg_capture *c, const char *scenario)
{
	char dir[512], path[1024];
	struct dirent **ents = NULL;
	int n, i;

	memset(c, 0, sizeof(*c));
	(void)snprintf(dir, sizeof(dir), "%s/%s", GD_DATA_DIR, scenario);
	n = scandir(dir, &ents, is_bin, by_name);
	for (i = 0; i < n; i++) {
		FILE *f;
		long len;

		(void)snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		f = fopen(path, "rb");
		if (f && c->n < TG_MAX_MSGS && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 &&
		    fseek(f, 0, SEEK_SET) == 0) {
			c->msgs[c->n] = malloc((size_t)len);
			if (c->msgs[c->n] && fread(c->msgs[c->n], 1, (size_t)len, f) == (size_t)len)
				c->names[c->n++] = strdup(ents[i]->d_name);
			else
				free(c->msgs[c->n]);
		}
		if (f)
			(void)fclose(f);
		free(ents[i]);
	}
	free(ents);
	return c->n;
}

void tg_free(struct tg_capture *c)
{
	int i;

	for (i = 0; i < c->n; i++) {
		free(c->msgs[i]);
		free(c->names[i]);
	}
	c->n = 0;
}
