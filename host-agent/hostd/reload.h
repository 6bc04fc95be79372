/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/reload.h — SIGHUP: hostd.conf read again, applied where safe
 * (reload.c says what).
 */
#ifndef HYBOND_RELOAD_H
#define HYBOND_RELOAD_H

#include "hostd.h"

/* 0, or negative errno (the file did not parse: nothing changed; logged). */
int hostd_reload(struct hostd *d, const char *path);

#endif
