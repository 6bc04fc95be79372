/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/logfields.h — hybond-hostd's log lines as journal entries with fields.
 *
 * Under systemd (stderr is journald's stream, $JOURNAL_STREAM) each hlog() line goes to
 * the journal through libsystemd's sd_journal_sendv() with MESSAGE, PRIORITY,
 * SYSLOG_IDENTIFIER=hybond-hostd and, for a line about a VM ("vm NAME: …", the daemon's
 * convention), HYBOND_VM=NAME and, while an operation runs on it, HYBOND_OP (its kind)
 * and HYBOND_OP_ID (one number per operation, the same on every line of it): so
 * `journalctl HYBOND_VM=vm1` or `journalctl HYBOND_OP_ID=…` picks them out. If the
 * journal socket cannot be reached, the line goes to stderr with its priority as before.
 */
#ifndef HYBOND_LOGFIELDS_H
#define HYBOND_LOGFIELDS_H

struct hostd;

/* Sends hlog() lines to the journal when stderr is journald's stream; no-op otherwise. */
void hostd_log_fields_init(struct hostd *d);

#endif
