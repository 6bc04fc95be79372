// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/ops/drill_plan.c — what drill.c's state machine is planned and
 * judged by, with no daemon state (unit-tested): the phase names, the way through
 * when nothing fails (drill_next), and the attribution of the prober's outages to the
 * drill's windows (drill_attribute).
 */
#include <string.h>

#include "drill.h"

#define DRILL_NAME_(n) #n,
static const char *const drill_names[] = { DRILL_PHASES(DRILL_NAME_) };
#undef DRILL_NAME_

const char *drill_phase_name(enum drill_phase p)
{
	return (unsigned)p < DRILL_N_PHASES ? drill_names[p] : "?";
}

int drill_phase_from_name(const char *name)
{
	int i;

	for (i = 0; i < DRILL_N_PHASES; i++)
		if (!strcmp(name, drill_names[i]))
			return i;
	return -1;
}

/* ---- the plan: the way through when nothing fails (unit-tested) ------------ */
enum drill_phase drill_next(const struct drill_plan *p, enum drill_phase cur)
{
	int snap = p->kind == DRILL_KIND_SNAPSHOT;

	switch (cur) {
	case DRILL_PREFLIGHT:
		return p->probe ? DRILL_PROBE_START : DRILL_STEER_STANDBY;
	case DRILL_PROBE_START:
		return DRILL_STEER_STANDBY;
	case DRILL_STEER_STANDBY:
		return DRILL_SWITCH_TX;
	case DRILL_SWITCH_TX:
		return DRILL_ON_STANDBY;
	case DRILL_ON_STANDBY:
		if (snap)       /* QEMU unplugs a failover primary it owns itself at SAVE */
			return p->bond || !p->qemu_primary ? DRILL_UNPLUG_VF : DRILL_SAVE;
		return p->unplug ? DRILL_UNPLUG_VF : DRILL_WAIT_VF;
	case DRILL_UNPLUG_VF:
		return snap ? DRILL_SAVE : DRILL_REPLUG_VF;
	case DRILL_SAVE:
		return DRILL_CONT;
	case DRILL_CONT:
		return DRILL_REPLUG_VF;
	case DRILL_REPLUG_VF:
		return DRILL_WAIT_VF;
	case DRILL_WAIT_VF:
		return DRILL_STEER_VF;
	case DRILL_STEER_VF:
		return DRILL_RESUME;
	case DRILL_RESUME:
		if (!snap && p->cycle < p->cycles)
			return DRILL_STEER_STANDBY;
		return p->probe ? DRILL_SETTLE : DRILL_DONE;
	case DRILL_SETTLE:
		return DRILL_REPORT;
	case DRILL_REPORT:
		return DRILL_DONE;
	case DRILL_ROLLBACK:
		return DRILL_RB_REPLUG;
	case DRILL_RB_REPLUG:
		return DRILL_RB_WAIT_VF;
	case DRILL_RB_WAIT_VF:
		return DRILL_RB_STEER_VF;
	case DRILL_RB_STEER_VF:
		return DRILL_RB_RESUME;
	case DRILL_RB_RESUME:
	case DRILL_FAILED:
		return DRILL_FAILED;
	case DRILL_DONE:
	case DRILL_N_PHASES:
		break;
	}
	return DRILL_DONE;
}

/* ---- attribution of the probe's outages (unit-tested) ---------------------- */
/* d rounded to 0.1 (ms figures; no libm) */
static double r1(double d)
{
	return (double)(long long)(d * 10 + (d >= 0 ? 0.5 : -0.5)) / 10;
}

static json_t *bucket_new(void)
{
	return json_pack("{s:i, s:i, s:i, s:i, s:f, s:f}", "lost_to_guest", 0, "lost_from_guest", 0,
			 "lost", 0, "outages", 0, "outage_ms", 0.0, "longest_outage_ms", 0.0);
}

static void bucket_add(json_t *b, json_t *o)
{
	static const char *const ints[] = { "lost_to_guest", "lost_from_guest", "lost" };
	double d = json_number_value(json_object_get(o, "duration_ms"));
	size_t i;

	for (i = 0; i < 3; i++)
		(void)json_object_set_new(b, ints[i], json_integer(
			json_integer_value(json_object_get(b, ints[i])) +
			json_integer_value(json_object_get(o, ints[i]))));
	(void)json_object_set_new(b, "outages", json_integer(
		json_integer_value(json_object_get(b, "outages")) + 1));
	(void)json_object_set_new(b, "outage_ms", json_real(
		r1(json_number_value(json_object_get(b, "outage_ms")) + d)));
	if (d > json_number_value(json_object_get(b, "longest_outage_ms")))
		(void)json_object_set_new(b, "longest_outage_ms", json_real(r1(d)));
}

json_t *drill_attribute(json_t *probe, const struct drill_win *w, size_t n)
{
	json_t *wins = json_array(), *before = bucket_new(), *outs = json_object_get(probe, "outages");
	json_t *o, *res;
	size_t i, k;

	for (i = 0; i < n; i++) {
		json_t *b = bucket_new();

		(void)json_object_set_new(b, "cycle", json_integer(w[i].cycle));
		(void)json_object_set_new(b, "phase", json_string(w[i].phase));
		(void)json_object_set_new(b, "start_ms", json_real(
			r1((w[i].start_s - w[0].start_s) * 1e3)));
		(void)json_array_append_new(wins, b);
	}
	json_array_foreach(outs, k, o) {
		double t = json_number_value(json_object_get(o, "start_realtime"));
		json_t *b = before;

		for (i = 0; i < n; i++)
			if (t >= w[i].start_s)
				b = json_array_get(wins, i);
		bucket_add(b, o);
	}
	res = json_pack("{s:o, s:o}", "windows", wins, "before", before);
	return res;
}

/* Sum the attributed windows per phase name: the short form kept for status. */
json_t *drill_per_phase(json_t *att)
{
	static const char *const ints[] = { "lost_to_guest", "lost_from_guest", "lost", "outages" };
	json_t *sum = json_object(), *w;
	size_t i, k;

	json_array_foreach(json_object_get(att, "windows"), i, w) {
		const char *ph = json_string_value(json_object_get(w, "phase"));
		json_t *b = json_object_get(sum, ph);
		double lo;

		if (!b) {
			b = bucket_new();
			(void)json_object_set_new(sum, ph, b);
		}
		for (k = 0; k < 4; k++)
			(void)json_object_set_new(b, ints[k], json_integer(
				json_integer_value(json_object_get(b, ints[k])) +
				json_integer_value(json_object_get(w, ints[k]))));
		(void)json_object_set_new(b, "outage_ms", json_real(r1(
			json_number_value(json_object_get(b, "outage_ms")) +
			json_number_value(json_object_get(w, "outage_ms")))));
		lo = json_number_value(json_object_get(w, "longest_outage_ms"));
		if (lo > json_number_value(json_object_get(b, "longest_outage_ms")))
			(void)json_object_set_new(b, "longest_outage_ms", json_real(lo));
	}
	return sum;
}
