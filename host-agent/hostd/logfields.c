// SPDX-License-Identifier: LGPL-2.1-or-later
/* host-agent/hostd/logfields.c — hlog() lines as journal entries with fields (logfields.h). */
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include <hybond/logstream.h>

#include "hostd.h"
#include "logfields.h"
#include "registry.h"
#include "vm.h"
#include "host-agent/hostd/ops/op.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"       /* sd-journal's, journald's */

static struct hostd *log_d;

/* The VM a line is about: NAME of a leading "vm NAME: " (a valid config name), 1; or 0. */
static int log_vm_of(const char *msg, char *vm, size_t len)
{
	const char *p;
	size_t n;

	if (strncmp(msg, "vm ", 3) != 0)
		return 0;
	p = msg + 3;
	n = strcspn(p, ": ");
	if (!n || n >= len || p[n] != ':')
		return 0;
	memcpy(vm, p, n);
	vm[n] = '\0';
	return config_valid_name(vm) ? 1 : 0;
}

static int journal_sink(enum hostd_prio prio, const char *msg)
{
	static const int sd_prio[] = { 7, 6, 4, 3 };   /* HLOG_DEBUG .. HLOG_ERR */
	static const char ident[] = "SYSLOG_IDENTIFIER=hybond-hostd";
	char f_msg[2100], f_prio[16], f_vm[96], f_op[96], f_id[48], vm[CFG_NAME_MAX + 1];
	struct iovec iov[6];
	int n = 0;

	/* sd_journal_sendv() drops the entry silently (returns 0) when the journal's
	 * socket is not there: then the line goes to stderr as without fields */
	if (access(JOURNAL_SOCKET, F_OK) < 0)
		return -1;
	(void)snprintf(f_msg, sizeof(f_msg), "MESSAGE=%s", msg);
	(void)snprintf(f_prio, sizeof(f_prio), "PRIORITY=%d", sd_prio[prio]);
	iov[n++] = (struct iovec){ f_msg, strlen(f_msg) };
	iov[n++] = (struct iovec){ f_prio, strlen(f_prio) };
	iov[n++] = (struct iovec){ (char *)ident, sizeof(ident) - 1 };
	if (log_vm_of(msg, vm, sizeof(vm))) {
		const struct vm *v = log_d ? hostd_vm(log_d, vm) : NULL;

		(void)snprintf(f_vm, sizeof(f_vm), "HYBOND_VM=%s", vm);
		iov[n++] = (struct iovec){ f_vm, strlen(f_vm) };
		if (v && v->op) {
			(void)snprintf(f_op, sizeof(f_op), "HYBOND_OP=%s", v->op->ops->what);
			(void)snprintf(f_id, sizeof(f_id), "HYBOND_OP_ID=%llu",
				       (unsigned long long)v->op->id);
			iov[n++] = (struct iovec){ f_op, strlen(f_op) };
			iov[n++] = (struct iovec){ f_id, strlen(f_id) };
		}
	}
	return sd_journal_sendv(iov, n) < 0 ? -1 : 0;
}

void hostd_log_fields_init(struct hostd *d)
{
	log_d = d;
	if (hb_stderr_is_journal())
		hlog_set_sink(journal_sink);
}
