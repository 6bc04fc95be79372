/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/common/jsonl.h — JSON lines out of a non-blocking stream socket: one
 * object per line, queued up to a bound, written as the socket takes it.  The control
 * socket's connections and the evacuation's CLI connection use it.
 */
#ifndef HYBOND_JSONL_H
#define HYBOND_JSONL_H

#include <jansson.h>
#include <stddef.h>

struct jsonl_out {
	char *buf;              /* owned */
	size_t len;
	size_t max;             /* what may wait unsent; a line past it is dropped */
};

/* Queue o (stolen) as one compact line.  0, -EMSGSIZE (dropped: the peer reads too
 * slowly), -ENOMEM. */
int jsonl_queue(struct jsonl_out *q, json_t *o);
/* Write what the socket takes now: the bytes still queued (0: all written), or
 * negative errno when the connection is broken. */
long jsonl_flush(struct jsonl_out *q, int fd);
void jsonl_clear(struct jsonl_out *q);

#endif
