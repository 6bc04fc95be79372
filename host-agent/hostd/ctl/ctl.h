/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/ctl/ctl.h — the control socket the `hybond` CLI talks to: unix
 * stream, one JSON object per line each way (bounded), peers checked with
 * SO_PEERCRED (root, or the configured ctl_group).  Requests:
 *   {"cmd":"status"} {"cmd":"vm-list"} {"cmd":"vm-add","vm":{…}} {"cmd":"vm-del","vm":N}
 *   {"cmd":"migrate","vm":N,"to":PEER,"force":false} {"cmd":"cancel","vm":N}
 * Answers: zero or more {"progress":{…}} lines, then one {"ok":true|false,…}.
 */
#ifndef HYBOND_CTL_H
#define HYBOND_CTL_H

#include <jansson.h>

#include "host-agent/hostd/hostd.h"

#define CTL_LINE_MAX (256u * 1024u)   /* a libvirt hook sends the domain XML */

struct ctl_conn;

int ctl_listen(struct hostd *d, char *err, size_t errlen);
/* Stop listening (tests; the daemon's exit unlinks the socket itself). */
void ctl_close(struct hostd *d);
/* Send one JSON object (stolen) as a line. */
void ctl_send(struct ctl_conn *cc, json_t *o);
/* Final answer (stolen): sent, then the connection closes once flushed. */
void ctl_finish(struct ctl_conn *cc, json_t *o);
/* Serve a connected client whose credentials were checked (root: 1, a ctl_group
 * member: 0); the daemon owns @fd from now on. 0 or -errno (fd closed). Used by the
 * listener, and by tests and the fuzzer (tests/fuzz/fuzz_ctl.c) on a socketpair. */
int ctl_adopt(struct hostd *d, int fd, int root);
/* Handle one decoded request (exposed for tests). */
void ctl_dispatch(struct hostd *d, struct ctl_conn *cc, json_t *req);

#endif
