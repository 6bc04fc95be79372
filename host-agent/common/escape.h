/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/common/escape.h — an untrusted string made safe for a log line or a status
 * field: a guest's interface names and agent string, a peer's offered URI.
 */
#ifndef HYBOND_ESCAPE_H
#define HYBOND_ESCAPE_H

#include <stddef.h>

/* Copy at most max_in bytes of the untrusted string src into dst as printable ASCII
 * (other bytes as \xNN, backslash and quote escaped), always NUL-terminated.  Returns
 * the length written. */
size_t str_escape(char *dst, size_t cap, const char *src, size_t max_in);

#endif
