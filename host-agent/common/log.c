// SPDX-License-Identifier: LGPL-2.1-or-later
/* host-agent/common/log.c — hlog() (see log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include <hybond/logstream.h>

#include "log.h"

static int log_verbose;
static int journal = -1;        /* stderr is journald's stream (hybond/logstream.h) */
static int (*log_sink)(enum hostd_prio, const char *);

void hlog_set_sink(int (*sink)(enum hostd_prio prio, const char *msg))
{
	log_sink = sink;
}

void hlog_verbose(int on)
{
	log_verbose = on;
}

void hlog(enum hostd_prio prio, const char *fmt, ...)
{
	static const char *const tag[] = { "debug", "info", "warn", "error" };
	static const char *const sd[] = { HB_LOG_DEBUG, HB_LOG_INFO, HB_LOG_WARNING, HB_LOG_ERR };
	char msg[2048];
	struct timespec ts;
	va_list ap;

	if (prio == HLOG_DEBUG && !log_verbose)
		return;
	if (journal < 0)
		journal = hb_stderr_is_journal();
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): false positive, va_start above */
	va_end(ap);
	if (log_sink && log_sink(prio, msg) == 0)
		return;
	/* one fprintf, one write(): the guest sentry and launchers share stderr */
	if (journal) {
		(void)fprintf(stderr, "%s%s\n", sd[prio], msg);
	} else {
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		(void)fprintf(stderr, "%lld.%03ld hybond-hostd %s: %s\n", (long long)ts.tv_sec,
			      ts.tv_nsec / 1000000L, tag[prio], msg);
	}
}
