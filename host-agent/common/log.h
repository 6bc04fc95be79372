/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/common/log.h — the daemon's one log: hlog(PRIO, fmt, …), a line on
 * stderr with a realtime stamp ("1700000000.123 hybond-hostd warn: …"), or, when stderr
 * is journald's stream, with its priority instead ("<4>…": hybond/logstream.h).  Unit
 * tests link tests/unit/hlog_stub.c instead (silent unless HB_TEST_VERBOSE).
 */
#ifndef HYBOND_LOG_H
#define HYBOND_LOG_H

enum hostd_prio { HLOG_DEBUG, HLOG_INFO, HLOG_WARN, HLOG_ERR };

void hlog(enum hostd_prio prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* HLOG_DEBUG lines are written only after hlog_verbose(1) (hybond-hostd -v). */
void hlog_verbose(int on);
/* A sink that takes each line before stderr does (hybond-hostd under systemd: journald
 * with fields, hostd/logfields.c): 0 when it took the line, else the line goes to stderr
 * as without one. NULL: none. */
void hlog_set_sink(int (*sink)(enum hostd_prio prio, const char *msg));

#endif
