// SPDX-License-Identifier: LGPL-2.1-or-later
/* host-agent/common/jsonl.c — JSON lines out of a non-blocking socket (see jsonl.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "jsonl.h"

int jsonl_queue(struct jsonl_out *q, json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL, *nb;
	size_t n;
	int rc = 0;

	json_decref(o);
	if (!s)
		return -ENOMEM;
	n = strlen(s);
	if (q->len + n + 1 > q->max) {
		rc = -EMSGSIZE;
	} else if (!(nb = realloc(q->buf, q->len + n + 1))) {
		rc = -ENOMEM;
	} else {
		q->buf = nb;
		memcpy(q->buf + q->len, s, n);
		q->buf[q->len + n] = '\n';
		q->len += n + 1;
	}
	free(s);
	return rc;
}

long jsonl_flush(struct jsonl_out *q, int fd)
{
	while (q->len) {
		ssize_t n = send(fd, q->buf, q->len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -errno;
		}
		(void)memmove(q->buf, q->buf + n, q->len - (size_t)n);
		q->len -= (size_t)n;
	}
	return (long)q->len;
}

void jsonl_clear(struct jsonl_out *q)
{
	free(q->buf);
	q->buf = NULL;
	q->len = 0;
}
