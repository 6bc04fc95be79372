/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* probe_acct.h — hybond-probe accounting: sequence bookkeeping, loss per
 * direction, duplicates, reordering, outage intervals and RTT percentiles.
 *
 * Pure logic, no I/O and no clocks: the caller feeds send and reply events with
 * their timestamps (CLOCK_REALTIME nanoseconds) and asks for a result at the end.
 *
 * Loss per direction. Every reply carries the responder's count of requests it
 * has received for the session (this one included). For a run of consecutive
 * requests without a reply, bounded by the received replies p (before) and n
 * (after), the responder got rx(n) - rx(p) - 1 of them: those replies were lost
 * on the way back ("from guest"), the rest never reached the responder ("to
 * guest"). A run at the very start uses rx = 0 for p; a run at the very end uses
 * the responder's final count (a stats query after the run) when known, else
 * its packets are "unattributed".
 */
#ifndef HYBOND_PROBE_ACCT_H
#define HYBOND_PROBE_ACCT_H

#include <stddef.h>
#include <stdint.h>

#define PA_MAX_PACKETS 10000000ull
#define PA_NO_TIME     INT64_MIN

struct pa_slot {
	int64_t send_ns;   /* realtime the request was handed to the kernel */
	int64_t rtt_ns;    /* first reply only */
	uint64_t rx_count; /* responder's counter from the first reply */
	uint16_t nrecv;    /* replies seen (saturating) */
	uint8_t send_err;  /* the send call failed */
};

struct pa_acct {
	struct pa_slot *slot;
	uint64_t cap;
	uint64_t sent;
	uint64_t received;     /* distinct sequence numbers answered */
	uint64_t duplicates;   /* extra replies for an already answered sequence */
	uint64_t reordered;    /* first replies arriving after a higher sequence's */
	uint64_t late;         /* first replies arriving after late_after_ns */
	uint64_t bogus;        /* replies that match no request sent */
	uint64_t send_errors;
	uint64_t highest;      /* highest answered sequence + 1 (0: none yet) */
	int64_t interval_ns;   /* nominal packet spacing */
	int64_t late_after_ns; /* end of the send schedule; INT64_MAX until known */
	int64_t start_ns, end_ns;
	uint64_t final_rx;     /* responder's final request count ... */
	int have_final_rx;     /* ... if it answered the stats query */
	int directional;       /* 1: replies carry responder counters (udp mode) */
};

enum pa_verdict { PA_NEW, PA_REORDERED, PA_DUP, PA_BOGUS };

struct pa_outage {
	int64_t start_ns;   /* send time of the first lost packet */
	int64_t end_ns;     /* send time of the last lost packet */
	double duration_ms; /* first lost send -> next delivered send (or end + 1 interval) */
	/* Send times of the delivered packets around the run (PA_NO_TIME if none):
	 * the fault began in (prev_ok_ns, start_ns] and ended in [end_ns, next_ok_ns). */
	int64_t prev_ok_ns, next_ok_ns;
	uint64_t lost;
	uint64_t lost_to;   /* to guest: never reached the responder */
	uint64_t lost_from; /* from guest: reply lost on the way back */
	uint64_t unattributed;
};

struct pa_result {
	int directional;
	uint64_t sent, received, lost_total, lost_to, lost_from, unattributed;
	uint64_t duplicates, reordered, late, send_errors;
	int have_rtt;
	double rtt_min_ms, rtt_mean_ms, rtt_median_ms, rtt_p99_ms, rtt_max_ms;
	double longest_outage_ms;
	struct pa_outage *outages;
	size_t n_outages;
	int64_t start_ns, end_ns;
};

/* capacity: packets the run will send (1..PA_MAX_PACKETS). 0 or -1 (ENOMEM/EINVAL). */
int pa_init(struct pa_acct *a, uint64_t capacity, int64_t interval_ns, int directional);
void pa_free(struct pa_acct *a);

/* Sequence numbers must be fed in order 0, 1, 2, ...; returns -1 otherwise. */
int pa_on_send(struct pa_acct *a, uint64_t seq, int64_t send_ns, int send_ok);

/* A reply for seq. send_ns is the send time carried in the reply payload; it
 * must match the recorded one or the reply is treated as bogus. rx_count is
 * ignored unless the accounting is directional. */
enum pa_verdict pa_on_reply(struct pa_acct *a, uint64_t seq, int64_t send_ns,
			    int64_t rx_ns, uint64_t rx_count);

void pa_set_late_after(struct pa_acct *a, int64_t ns);
void pa_set_final_rx(struct pa_acct *a, uint64_t rx_count);
void pa_set_times(struct pa_acct *a, int64_t start_ns, int64_t end_ns);

/* Computes the result (allocates r->outages). 0 or -1 (ENOMEM). */
int pa_finish(const struct pa_acct *a, struct pa_result *r);
void pa_result_free(struct pa_result *r);

/* Nearest-rank percentile (0 < p <= 100) of n sorted values; 0 if n == 0. */
int64_t pa_percentile(const int64_t *sorted, size_t n, double p);

#endif
