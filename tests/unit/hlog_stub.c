// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tests/unit/hlog_stub.c — common/log.c's hlog() for unit tests that link the daemon's
 * objects without log.c: silent, or to stderr with HB_TEST_VERBOSE set.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "host-agent/common/log.h"

void hlog(enum hostd_prio prio, const char *fmt, ...)
{
	va_list ap;

	if (!getenv("HB_TEST_VERBOSE"))
		return;
	va_start(ap, fmt);
	(void)fprintf(stderr, "[%d] ", (int)prio);
	(void)vfprintf(stderr, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): va_start above */
	(void)fputc('\n', stderr);
	va_end(ap);
}
