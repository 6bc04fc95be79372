// SPDX-License-Identifier: LGPL-2.1-or-later
/* host-agent/common/escape.c — untrusted strings for logs and status (see escape.h). */
#include "escape.h"

size_t str_escape(char *dst, size_t cap, const char *src, size_t max_in)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (!cap)
		return 0;
	for (size_t i = 0; src && i < max_in && src[i]; i++) {
		unsigned char ch = (unsigned char)src[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '"') {
			if (o + 1 >= cap)
				break;
			dst[o++] = (char)ch;
		} else {
			if (o + 4 >= cap)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[ch >> 4];
			dst[o++] = hex[ch & 15];
		}
	}
	dst[o] = '\0';
	return o;
}
