// SPDX-License-Identifier: LGPL-2.1-or-later
/* host-agent/hostd/ops/snapshot.c — the snapshot's QEMU URIs and file checks (see snapshot.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "snapshot.h"

int snap_check_file(const char *file, char *err, size_t errlen)
{
	struct stat st;
	size_t i, n = strlen(file);

	if (n == 0 || n > 200 || file[0] != '/') {
		(void)snprintf(err, errlen, "snapshot file '%s': want an absolute path (≤ 200 chars)",
			       file);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		char c = file[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '+' || c == '/' || c == '-')) {
			(void)snprintf(err, errlen, "snapshot file '%s': only [A-Za-z0-9_.+/-] (QEMU "
				       "hands exec: URIs to /bin/sh)", file);
			return -EINVAL;
		}
	}
	if (strstr(file, "/../") || (n >= 3 && !strcmp(file + n - 3, "/.."))) {
		(void)snprintf(err, errlen, "snapshot file '%s': no '..'", file);
		return -EINVAL;
	}
	if (file[n - 1] == '/') {
		(void)snprintf(err, errlen, "snapshot file '%s' is a directory", file);
		return -EISDIR;
	}
	if (stat(file, &st) == 0) {
		(void)snprintf(err, errlen, "snapshot file '%s' exists (not overwritten)", file);
		return -EEXIST;
	}
	return 0;
}

int snap_save_uri(const char *file, char *uri, size_t len)
{
	int n = snprintf(uri, len, "exec:cat > %s", file);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int snap_restore_uri(const char *file, char *uri, size_t len)
{
	int n = snprintf(uri, len, "exec:cat %s", file);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
