/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/hostd.h — hybond-hostd's daemon context: configuration, the one
 * event loop, the journal and the registered VMs.  See docs/host-agent.md.
 */
#ifndef HYBOND_HOSTD_H
#define HYBOND_HOSTD_H

#include <stdarg.h>

#include "config.h"
#include "jrnl.h"
#include "host-agent/common/loop.h"

#define HOSTD_VERSION "hybond-hostd 0.1.0"

enum hostd_prio { HLOG_DEBUG, HLOG_INFO, HLOG_WARN, HLOG_ERR };

struct vm;
struct peer_conn;
struct peer_tls;
struct hb_msg;

struct hostd {
	struct hostd_config cfg;
	struct loop *l;
	struct jrnl *j;
	struct peer_tls *tls;           /* TLS credentials, when a peer or peer_listen uses TLS */
	struct vm *vms[CFG_MAX_VMS];
	int verbose;
	int libvirt_up;                 /* hv_libvirt_init() done (a libvirt VM was added) */
};

void hlog(enum hostd_prio prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct vm *hostd_vm(struct hostd *d, const char *name);
int hostd_vm_add(struct hostd *d, const struct vm_config *vc, char *err, size_t errlen);
int hostd_vm_del(struct hostd *d, const char *name, char *err, size_t errlen);
void hostd_peer_msg(struct hostd *d, struct peer_conn *pc, const struct hb_msg *m);

#endif
