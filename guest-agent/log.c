/* log.c — levelled log lines on stderr ("hybond-guestd: LEVEL: text"). */
#include <stdarg.h>
#include <stdio.h>

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
	(void)fprintf(stderr, "hybond-guestd: %s: %s\n",
		      level_names[level < 0 ? 0 : level > 3 ? 3 : level], line);
}
