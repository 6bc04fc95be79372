// SPDX-License-Identifier: LGPL-2.1-or-later
/* probe_report.c — hybond-probe result as text or JSON (see probe_report.h). */
#include "probe_report.h"

#include <inttypes.h>
#include <time.h>

static json_t *ns_real(int64_t ns)
{
	return json_real((double)ns / 1e9);
}

static json_t *opt_real(int have, double v)
{
	return have ? json_real(v) : json_null();
}

static const char *outage_direction(const struct pa_outage *o)
{
	if (o->unattributed)
		return o->unattributed == o->lost ? "unknown" : "mixed";
	if (o->lost_to && o->lost_from)
		return "both";
	return o->lost_to ? "to_guest" : "from_guest";
}

json_t *hbp_result_json(const struct hbp_run_info *info, const struct pa_result *r)
{
	json_t *root = json_object();
	json_t *rtt = json_object();
	json_t *outs = json_array();
	int err = 0;
	char sess[20];

	if (!root || !rtt || !outs)
		goto fail;
	(void)snprintf(sess, sizeof(sess), "%016" PRIx64, info->session);

	err |= json_object_set_new(root, "mode", json_string(info->mode));
	err |= json_object_set_new(root, "target", json_string(info->target));
	err |= json_object_set_new(root, "rate_pps", json_integer((json_int_t)info->rate_pps));
	err |= json_object_set_new(root, "duration_s", json_real(info->duration_s));
	err |= json_object_set_new(root, "grace_ms", json_integer((json_int_t)info->grace_ms));
	err |= json_object_set_new(root, "size", json_integer((json_int_t)info->size));
	err |= json_object_set_new(root, "session", json_string(sess));
	err |= json_object_set_new(root, "sent", json_integer((json_int_t)r->sent));
	err |= json_object_set_new(root, "received", json_integer((json_int_t)r->received));
	if (r->directional) {
		err |= json_object_set_new(root, "lost_to_guest", json_integer((json_int_t)r->lost_to));
		err |= json_object_set_new(root, "lost_from_guest",
					   json_integer((json_int_t)r->lost_from));
		err |= json_object_set_new(root, "lost_unattributed",
					   json_integer((json_int_t)r->unattributed));
	}
	err |= json_object_set_new(root, "lost_total", json_integer((json_int_t)r->lost_total));
	err |= json_object_set_new(root, "duplicates", json_integer((json_int_t)r->duplicates));
	err |= json_object_set_new(root, "reordered", json_integer((json_int_t)r->reordered));
	err |= json_object_set_new(root, "late", json_integer((json_int_t)r->late));
	err |= json_object_set_new(root, "send_errors", json_integer((json_int_t)r->send_errors));
	err |= json_object_set_new(root, "schedule_slips",
				   json_integer((json_int_t)info->schedule_slips));
	if (r->directional)
		err |= json_object_set_new(root, "responder_received",
					   info->final_rx_known
						   ? json_integer((json_int_t)info->final_rx)
						   : json_null());

	err |= json_object_set_new(rtt, "median", opt_real(r->have_rtt, r->rtt_median_ms));
	err |= json_object_set_new(rtt, "p99", opt_real(r->have_rtt, r->rtt_p99_ms));
	err |= json_object_set_new(rtt, "max", opt_real(r->have_rtt, r->rtt_max_ms));
	err |= json_object_set_new(rtt, "min", opt_real(r->have_rtt, r->rtt_min_ms));
	err |= json_object_set_new(rtt, "mean", opt_real(r->have_rtt, r->rtt_mean_ms));
	err |= json_object_set(root, "rtt_ms", rtt);
	err |= json_object_set_new(root, "longest_outage_ms", json_real(r->longest_outage_ms));

	for (size_t i = 0; i < r->n_outages; i++) {
		const struct pa_outage *o = &r->outages[i];
		json_t *jo = json_object();
		if (!jo)
			goto fail;
		err |= json_object_set_new(jo, "start_realtime", ns_real(o->start_ns));
		err |= json_object_set_new(jo, "end_realtime", ns_real(o->end_ns));
		err |= json_object_set_new(jo, "duration_ms", json_real(o->duration_ms));
		err |= json_object_set_new(jo, "prev_ok_realtime", o->prev_ok_ns == PA_NO_TIME
						   ? json_null() : ns_real(o->prev_ok_ns));
		err |= json_object_set_new(jo, "next_ok_realtime", o->next_ok_ns == PA_NO_TIME
						   ? json_null() : ns_real(o->next_ok_ns));
		if (r->directional) {
			err |= json_object_set_new(jo, "lost_to_guest",
						   json_integer((json_int_t)o->lost_to));
			err |= json_object_set_new(jo, "lost_from_guest",
						   json_integer((json_int_t)o->lost_from));
			err |= json_object_set_new(jo, "lost_unattributed",
						   json_integer((json_int_t)o->unattributed));
			err |= json_object_set_new(jo, "direction",
						   json_string(outage_direction(o)));
		}
		err |= json_object_set_new(jo, "lost", json_integer((json_int_t)o->lost));
		err |= json_array_append_new(outs, jo);
	}
	err |= json_object_set(root, "outages", outs);
	err |= json_object_set_new(root, "start_realtime", ns_real(r->start_ns));
	err |= json_object_set_new(root, "end_realtime", ns_real(r->end_ns));
	err |= json_object_set_new(root, "interrupted", json_boolean(info->interrupted));
	json_decref(rtt);
	json_decref(outs);
	if (err) {
		json_decref(root);
		return NULL;
	}
	return root;
fail:
	json_decref(root);
	json_decref(rtt);
	json_decref(outs);
	return NULL;
}

int hbp_print_json(FILE *f, const struct hbp_run_info *info, const struct pa_result *r)
{
	json_t *j = hbp_result_json(info, r);
	if (!j)
		return -1;
	int rc = json_dumpf(j, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(16));
	json_decref(j);
	if (rc < 0 || fputc('\n', f) == EOF || fflush(f) == EOF)
		return -1;
	return 0;
}

/* "2024-05-01T12:34:56.123456Z" */
static void fmt_rt(char *buf, size_t len, int64_t ns)
{
	time_t sec = (time_t)(ns / 1000000000);
	long usec = (long)((ns % 1000000000) / 1000);
	struct tm tm;
	if (!gmtime_r(&sec, &tm)) {
		(void)snprintf(buf, len, "%.6f", (double)ns / 1e9);
		return;
	}
	char base[32];
	if (strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		base[0] = '\0';
	(void)snprintf(buf, len, "%s.%06ldZ", base, usec);
}

int hbp_print_text(FILE *f, const struct hbp_run_info *info, const struct pa_result *r)
{
	int e = 0;
	char a[48], b[48];

	e |= fprintf(f, "hybond-probe %s %s  rate %" PRIu64 " pps  duration %g s  session %016" PRIx64 "%s\n",
		     info->mode, info->target, info->rate_pps, info->duration_s, info->session,
		     info->interrupted ? "  (interrupted)" : "") < 0;
	fmt_rt(a, sizeof(a), r->start_ns);
	fmt_rt(b, sizeof(b), r->end_ns);
	e |= fprintf(f, "  run          %s .. %s (%.6f .. %.6f)\n", a, b,
		     (double)r->start_ns / 1e9, (double)r->end_ns / 1e9) < 0;
	e |= fprintf(f, "  sent         %" PRIu64 "\n  received     %" PRIu64 "\n", r->sent,
		     r->received) < 0;
	if (r->directional)
		e |= fprintf(f, "  lost         %" PRIu64 "  (to guest %" PRIu64 ", from guest %" PRIu64
			     ", unattributed %" PRIu64 ")\n",
			     r->lost_total, r->lost_to, r->lost_from, r->unattributed) < 0;
	else
		e |= fprintf(f, "  lost         %" PRIu64 "\n", r->lost_total) < 0;
	e |= fprintf(f, "  duplicates   %" PRIu64 "\n  reordered    %" PRIu64 "\n  late         %" PRIu64
		     "\n", r->duplicates, r->reordered, r->late) < 0;
	if (r->send_errors || info->schedule_slips)
		e |= fprintf(f, "  send errors  %" PRIu64 "  schedule slips %" PRIu64 "\n",
			     r->send_errors, info->schedule_slips) < 0;
	if (r->have_rtt)
		e |= fprintf(f, "  rtt ms       median %.3f  p99 %.3f  max %.3f  (min %.3f, mean %.3f)\n",
			     r->rtt_median_ms, r->rtt_p99_ms, r->rtt_max_ms, r->rtt_min_ms,
			     r->rtt_mean_ms) < 0;
	else
		e |= fprintf(f, "  rtt ms       -\n") < 0;
	e |= fprintf(f, "  longest outage %.3f ms, %zu outage%s\n", r->longest_outage_ms,
		     r->n_outages, r->n_outages == 1 ? "" : "s") < 0;
	if (r->n_outages) {
		if (r->directional)
			e |= fprintf(f, "    %-17s  %-17s  %10s  %8s  %8s  %8s\n", "start_realtime",
				     "end_realtime", "ms", "to_guest", "from_gst", "unknown") < 0;
		else
			e |= fprintf(f, "    %-17s  %-17s  %10s  %8s\n", "start_realtime",
				     "end_realtime", "ms", "lost") < 0;
	}
	for (size_t i = 0; i < r->n_outages; i++) {
		const struct pa_outage *o = &r->outages[i];
		if (r->directional)
			e |= fprintf(f, "    %17.6f  %17.6f  %10.3f  %8" PRIu64 "  %8" PRIu64 "  %8" PRIu64 "\n",
				     (double)o->start_ns / 1e9, (double)o->end_ns / 1e9, o->duration_ms,
				     o->lost_to, o->lost_from, o->unattributed) < 0;
		else
			e |= fprintf(f, "    %17.6f  %17.6f  %10.3f  %8" PRIu64 "\n",
				     (double)o->start_ns / 1e9, (double)o->end_ns / 1e9, o->duration_ms,
				     o->lost) < 0;
	}
	if (fflush(f) == EOF)
		e = 1;
	return e ? -1 : 0;
}
