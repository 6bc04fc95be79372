/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hybond/version.h — hybond's version, from one place: the top-level Makefile's
 * HYBOND_VERSION (passed as -DHYBOND_VERSION). Every program's --version, the guest
 * channel's AGENT strings and `hybond status` show it. A build outside the Makefile (a
 * linter) gets the fallback below.
 */
#ifndef HYBOND_VERSION_H
#define HYBOND_VERSION_H

#ifndef HYBOND_VERSION
#define HYBOND_VERSION "0.0-unknown"
#endif

#endif
