/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctl.h — the control socket (/run/hybond/guestd.sock) and `--status`.
 * The daemon answers every connection with one JSON document and closes it;
 * `hybond-guestd --status` prints it as JSON (-j) or as text, from the same
 * document. */
#ifndef GD_CTL_H
#define GD_CTL_H

#include "agent.h"

#define GD_CTL_DIR  "/run/hybond"
#define GD_CTL_PATH GD_CTL_DIR "/guestd.sock"

int gd_ctl_listen(const char *path);
/* Accepts one client on the listening fd and writes the status to it. */
void gd_ctl_serve(int lfd, struct gd_agent *a);
/* Client side: returns the process exit status. */
int gd_ctl_status(const char *path, int json);

#endif
