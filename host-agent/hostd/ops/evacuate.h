/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/ops/evacuate.h — `hybond evacuate --to DEST [--parallel K] [--force]`:
 * every VM that runs on this host migrates to DEST, at most K at a time, so the
 * host can be drained for maintenance.
 *
 * Two layers.  The scheduler (evac_core_*) decides which VM starts next, what a
 * refusal, an end or a stop means, and builds the per-VM figures and the
 * summary; it knows nothing of the daemon (a start function pointer, an emit
 * function pointer, the clock passed in), so the unit test drives it with
 * fakes.  The daemon side (evac_start, evac_query) refuses
 * before touching any VM when DEST is unknown or does not answer, starts each
 * migration through mig_start_source() with no CLI attached, learns its end
 * from the sink it passes (op.h) and streams the scheduler's lines to the CLI.
 */
#ifndef HYBOND_EVACUATE_H
#define HYBOND_EVACUATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "host-agent/hostd/config.h"
#include "bounds.h"
#include "op.h"


struct hostd;
struct vm;

/* ---- the scheduler ------------------------------------------------------------- */
enum evac_state {
	EVAC_WAITING,           /* not started yet */
	EVAC_RUNNING,           /* its migration runs */
	EVAC_OK,                /* runs on DEST now */
	EVAC_FAILED,            /* the migration started and failed (rolled back: still here) */
	EVAC_SKIPPED,           /* the migration refused to start (pre-flight): still here */
	EVAC_NOT_STARTED,       /* the evacuation was stopped before its turn: still here */
};

struct evac_item {
	char vm[CFG_NAME_MAX + 1];
	enum evac_state st;
	char reason[512];       /* failed, skipped, not started: why */
	json_t *result;         /* the migration's result object (migrate.c), owned */
	int64_t start_ms, end_ms;       /* since the evacuation began; -1: not yet */
};

struct evac_core_ops {
	/* Start VM's migration: 0 (its end comes through evac_core_ended(), possibly
	 * before start returns), or negative errno with err saying why it refused. */
	int (*start)(void *arg, const char *vm, char *err, size_t errlen);
	/* One line for the CLI: {"progress": {"event": …}} (stolen). */
	void (*emit)(void *arg, json_t *line);
};

struct evac_core {
	const struct evac_core_ops *ops;
	void *arg;
	struct evac_item *items;
	size_t n, next;         /* items[next] is the next to start */
	unsigned parallel, running;
	int stopped;
	struct evac_item *starting;     /* inside ops->start */
	int in_pump;
	uint64_t t0_ms;
};

/* VMs in the order they are to go; parallel 1..EVAC_PARALLEL_MAX.  0 or -EINVAL/-ENOMEM. */
int evac_core_init(struct evac_core *c, const char *const *vms, size_t n, unsigned parallel,
		   const struct evac_core_ops *ops, void *arg, uint64_t now_ms);
void evac_core_clear(struct evac_core *c);
/* Start VMs until K run or none waits; a refusal is reported and the next one tried. */
void evac_core_pump(struct evac_core *c, uint64_t now_ms);
/* A migration ended (result stolen, may be NULL).  1 if it was one of ours, else 0. */
int evac_core_ended(struct evac_core *c, const char *vm, int ok, json_t *result, uint64_t now_ms);
/* Start no more: the waiting VMs become NOT_STARTED.  1 if this stopped it, 0 if it was. */
int evac_core_stop(struct evac_core *c, const char *by, uint64_t now_ms);
/* Nothing runs and nothing waits. */
int evac_core_done(const struct evac_core *c);
/* The final answer: {"ok", "summary": {vms, ok, failed, skipped, not_started}, "vms": […]}. */
json_t *evac_core_result(const struct evac_core *c, uint64_t now_ms);
/* Where things stand: {"running": [names], "waiting": [names], "done": n, "stopped"}. */
json_t *evac_core_state(const struct evac_core *c);
const char *evac_state_name(enum evac_state st);

/* ---- the daemon ------------------------------------------------------------------ */
struct evac_req {
	char to[CFG_NAME_MAX + 1];
	int parallel;           /* checked: 1..EVAC_PARALLEL_MAX */
	int force;              /* each migration with --force (no guest agent needed) */
};

/*
 * Start evacuating every VM that runs here.  Refused (negative errno, err says why and
 * what to do) before any VM is touched when an evacuation already runs, K is out of
 * range, DEST is not a configured peer or its socket does not answer.  On success the
 * evacuation streams its lines on a duplicate of conn_fd (the caller lets its own copy
 * go without answering): it outlives the request, and the CLI may leave at any time.
 * A line {"cmd":"stop"} on that connection stops it as evac_query(stop) does.
 */
int evac_start(struct hostd *d, const struct evac_req *rq, int conn_fd, char *err, size_t errlen);
/* `hybond evacuate --status|--stop`: the running evacuation's state; stop: start no more
 * migrations (the running ones go on).  0 with *out set, or -ENOENT (none running). */
int evac_query(struct hostd *d, int stop, json_t **out, char *err, size_t errlen);

/* The sink of every migration an evacuation starts (its end reaches the scheduler). */
extern const struct op_sink evac_mig_sink;

#endif
