/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log.h — hybond-guestd logging: one line per message on stderr, with a level. */
#ifndef GD_LOG_H
#define GD_LOG_H

enum gd_log_level { GD_LOG_ERR = 0, GD_LOG_WARN, GD_LOG_INFO, GD_LOG_DEBUG };

/* Messages above this level are dropped (default GD_LOG_INFO; -v raises it). */
extern int gd_log_level;

void gd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define gd_err(...)   gd_log(GD_LOG_ERR, __VA_ARGS__)
#define gd_warn(...)  gd_log(GD_LOG_WARN, __VA_ARGS__)
#define gd_info(...)  gd_log(GD_LOG_INFO, __VA_ARGS__)
#define gd_debug(...) gd_log(GD_LOG_DEBUG, __VA_ARGS__)

#endif
