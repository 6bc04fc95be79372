/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/ops/bounds.h — the bounds of what an operator may ask, written once:
 * the daemon refuses outside them (drill_start, evac_start) and the CLI checks the
 * same numbers before it asks.  No other includes: the CLI uses it as it is.
 */
#ifndef HYBOND_BOUNDS_H
#define HYBOND_BOUNDS_H

#define DRILL_MAX_CYCLES   100u         /* hybond drill --cycles N: 1..N */
#define DRILL_MAX_RATE_PPS 100000u      /* the drill's prober: 1..N packets per second */
#define EVAC_PARALLEL_MAX  8            /* migrations at once: each is a QEMU stream + a
					 * launcher on DEST */

#endif
