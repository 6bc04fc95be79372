/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hybond/logstream.h — is stderr the journal? Both daemons (hybond-hostd, hybond-guestd)
 * write one line per event on stderr. Under systemd, stderr is a stream to journald and
 * $JOURNAL_STREAM names it ("DEV:INODE"); a line then starts with its priority as
 * sd-daemon(3) defines it ("<3>" error .. "<7>" debug) and carries no timestamp of its
 * own (journald stamps it), so `journalctl -p warning` filters. Anywhere else (a
 * terminal, the lab's log files) the line keeps its stamp and a level word.
 * Written here rather than calling libsystemd: the guest agent runs where libsystemd may
 * be absent, and this is the whole of the protocol (systemd.exec(5), $JOURNAL_STREAM).
 */
#ifndef HYBOND_LOGSTREAM_H
#define HYBOND_LOGSTREAM_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* sd-daemon(3)'s prefixes */
#define HB_LOG_ERR      "<3>"
#define HB_LOG_WARNING  "<4>"
#define HB_LOG_INFO     "<6>"
#define HB_LOG_DEBUG    "<7>"

/* 1 when stderr is the stream $JOURNAL_STREAM names. */
static inline int hb_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

#endif
