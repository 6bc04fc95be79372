// SPDX-License-Identifier: LGPL-2.1-or-later
/* probe_acct.c — hybond-probe accounting (see probe_acct.h). */
#include "probe_acct.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int pa_init(struct pa_acct *a, uint64_t capacity, int64_t interval_ns, int directional)
{
	memset(a, 0, sizeof(*a));
	if (capacity == 0 || capacity > PA_MAX_PACKETS || interval_ns <= 0) {
		errno = EINVAL;
		return -1;
	}
	a->slot = calloc((size_t)capacity, sizeof(*a->slot));
	if (!a->slot)
		return -1;
	a->cap = capacity;
	a->interval_ns = interval_ns;
	a->late_after_ns = INT64_MAX;
	a->directional = directional;
	return 0;
}

void pa_free(struct pa_acct *a)
{
	free(a->slot);
	a->slot = NULL;
	a->cap = 0;
}

int pa_on_send(struct pa_acct *a, uint64_t seq, int64_t send_ns, int send_ok)
{
	if (seq != a->sent || seq >= a->cap)
		return -1;
	a->slot[seq].send_ns = send_ns;
	a->slot[seq].send_err = send_ok ? 0 : 1;
	if (!send_ok)
		a->send_errors++;
	a->sent++;
	return 0;
}

enum pa_verdict pa_on_reply(struct pa_acct *a, uint64_t seq, int64_t send_ns,
			    int64_t rx_ns, uint64_t rx_count)
{
	if (seq >= a->sent || a->slot[seq].send_ns != send_ns) {
		a->bogus++;
		return PA_BOGUS;
	}
	struct pa_slot *s = &a->slot[seq];
	if (s->nrecv > 0) {
		if (s->nrecv < UINT16_MAX)
			s->nrecv++;
		a->duplicates++;
		return PA_DUP;
	}
	s->nrecv = 1;
	s->rtt_ns = rx_ns > send_ns ? rx_ns - send_ns : 0;
	s->rx_count = rx_count;
	a->received++;
	if (rx_ns > a->late_after_ns)
		a->late++;
	if (seq + 1 < a->highest) {
		a->reordered++;
		return PA_REORDERED;
	}
	a->highest = seq + 1;
	return PA_NEW;
}

void pa_set_late_after(struct pa_acct *a, int64_t ns)
{
	a->late_after_ns = ns;
}

void pa_set_final_rx(struct pa_acct *a, uint64_t rx_count)
{
	a->final_rx = rx_count;
	a->have_final_rx = 1;
}

void pa_set_times(struct pa_acct *a, int64_t start_ns, int64_t end_ns)
{
	a->start_ns = start_ns;
	a->end_ns = end_ns;
}

int64_t pa_percentile(const int64_t *sorted, size_t n, double p)
{
	if (n == 0)
		return 0;
	double rank = ceil(p / 100.0 * (double)n);
	size_t idx = rank < 1.0 ? 0 : (size_t)rank - 1;
	if (idx >= n)
		idx = n - 1;
	return sorted[idx];
}

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return (a > b) - (a < b);
}

/* Splits a lost run [first, last] into to/from/unattributed counts. */
static void attribute(const struct pa_acct *a, uint64_t first, uint64_t last,
		      struct pa_outage *o)
{
	uint64_t len = last - first + 1;
	o->lost = len;
	if (!a->directional)
		return;
	uint64_t prev = first > 0 ? a->slot[first - 1].rx_count : 0;
	int64_t reached;
	if (last + 1 < a->sent) {
		reached = (int64_t)(a->slot[last + 1].rx_count - prev) - 1;
	} else if (a->have_final_rx) {
		reached = (int64_t)(a->final_rx - prev);
	} else {
		o->unattributed = len;
		return;
	}
	if (reached < 0)
		reached = 0;
	if ((uint64_t)reached > len)
		reached = (int64_t)len;
	o->lost_from = (uint64_t)reached;
	o->lost_to = len - (uint64_t)reached;
}

int pa_finish(const struct pa_acct *a, struct pa_result *r)
{
	memset(r, 0, sizeof(*r));
	r->directional = a->directional;
	r->sent = a->sent;
	r->received = a->received;
	r->duplicates = a->duplicates;
	r->reordered = a->reordered;
	r->late = a->late;
	r->send_errors = a->send_errors;
	r->start_ns = a->start_ns;
	r->end_ns = a->end_ns;

	/* Outages: maximal runs of unanswered sequence numbers. */
	size_t cap_o = 0;
	for (uint64_t i = 0; i < a->sent;) {
		if (a->slot[i].nrecv > 0) {
			i++;
			continue;
		}
		uint64_t j = i;
		while (j + 1 < a->sent && a->slot[j + 1].nrecv == 0)
			j++;
		if (r->n_outages == cap_o) {
			size_t ncap = cap_o ? cap_o * 2 : 16;
			struct pa_outage *no = realloc(r->outages, ncap * sizeof(*no));
			if (!no) {
				pa_result_free(r);
				return -1;
			}
			r->outages = no;
			cap_o = ncap;
		}
		struct pa_outage *o = &r->outages[r->n_outages++];
		memset(o, 0, sizeof(*o));
		o->start_ns = a->slot[i].send_ns;
		o->end_ns = a->slot[j].send_ns;
		o->prev_ok_ns = i > 0 ? a->slot[i - 1].send_ns : PA_NO_TIME;
		o->next_ok_ns = j + 1 < a->sent ? a->slot[j + 1].send_ns : PA_NO_TIME;
		int64_t until = j + 1 < a->sent ? a->slot[j + 1].send_ns : o->end_ns + a->interval_ns;
		o->duration_ms = (double)(until - o->start_ns) / 1e6;
		attribute(a, i, j, o);
		r->lost_total += o->lost;
		r->lost_to += o->lost_to;
		r->lost_from += o->lost_from;
		r->unattributed += o->unattributed;
		if (o->duration_ms > r->longest_outage_ms)
			r->longest_outage_ms = o->duration_ms;
		i = j + 1;
	}

	/* Round-trip delay of every first reply. */
	if (a->received > 0) {
		int64_t *v = malloc((size_t)a->received * sizeof(*v));
		if (!v) {
			pa_result_free(r);
			return -1;
		}
		size_t n = 0;
		double sum = 0;
		for (uint64_t i = 0; i < a->sent && n < a->received; i++) {
			if (a->slot[i].nrecv > 0) {
				v[n++] = a->slot[i].rtt_ns;
				sum += (double)a->slot[i].rtt_ns;
			}
		}
		qsort(v, n, sizeof(*v), cmp_i64);
		r->have_rtt = n > 0;
		r->rtt_min_ms = (double)v[0] / 1e6;
		r->rtt_mean_ms = sum / (double)n / 1e6;
		r->rtt_median_ms = (double)pa_percentile(v, n, 50) / 1e6;
		r->rtt_p99_ms = (double)pa_percentile(v, n, 99) / 1e6;
		r->rtt_max_ms = (double)v[n - 1] / 1e6;
		free(v);
	}
	return 0;
}

void pa_result_free(struct pa_result *r)
{
	free(r->outages);
	r->outages = NULL;
	r->n_outages = 0;
}
