// SPDX-License-Identifier: LGPL-2.1-or-later
/* log.c — levelled log lines on stderr ("hybond-guestd: LEVEL: text"; under journald
 * "<N>text", hybond/logstream.h). */
#include <stdarg.h>
#include <stdio.h>

#include <hybond/logstream.h>

#include "log.h"

int gd_log_level = GD_LOG_INFO;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void gd_log(int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (level > gd_log_level)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): false positive, va_start above */
	va_end(ap);
	static const char *const sd[] = { HB_LOG_ERR, HB_LOG_WARNING, HB_LOG_INFO, HB_LOG_DEBUG };
	static int journal = -1;
	int l = level < 0 ? 0 : level > 3 ? 3 : level;

	if (journal < 0)
		journal = hb_stderr_is_journal();
	if (journal)
		(void)fprintf(stderr, "%s%s\n", sd[l], line);
	else
		(void)fprintf(stderr, "hybond-guestd: %s: %s\n", level_names[l], line);
}
