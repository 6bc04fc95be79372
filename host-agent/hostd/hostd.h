/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/hostd.h — hybond-hostd's daemon context: configuration, the one
 * event loop, the journal and the registered VMs (registry.h).  See docs/host-agent.md.
 */
#ifndef HYBOND_HOSTD_H
#define HYBOND_HOSTD_H

#include <stdarg.h>

#include "config.h"
#include "jrnl.h"
#include "host-agent/common/log.h"
#include "host-agent/common/loop.h"
#include <hybond/version.h>

#define HOSTD_VERSION "hybond-hostd " HYBOND_VERSION

struct vm;
struct peer_tls;
struct sentry;

struct hostd {
	struct hostd_config cfg;
	struct loop *l;
	struct jrnl *j;
	struct peer_tls *tls;           /* TLS credentials, when a peer or peer_listen uses TLS */
	struct vm *vms[CFG_MAX_VMS];
	int verbose;
	int libvirt_up;                 /* hv_libvirt_init() done (a libvirt VM was added) */
	struct sentry *sentry;          /* reads every guest channel (sentry/sentry.h); NULL: off */
	struct sentry *peer_sentry;     /* reads every TLS peer's frames; NULL: off, no TLS */
};

#endif
