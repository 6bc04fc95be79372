/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* probe_report.h — hybond-probe result printing: one result, text or JSON. */
#ifndef HYBOND_PROBE_REPORT_H
#define HYBOND_PROBE_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "probe_acct.h"

struct hbp_run_info {
	const char *mode;    /* "udp" or "icmp" */
	const char *target;  /* "IP:PORT" or "IP" */
	uint64_t rate_pps;
	double duration_s;
	uint64_t grace_ms;
	uint64_t size;       /* payload bytes */
	uint64_t session;
	uint64_t schedule_slips; /* times the sender fell behind and skipped catch-up */
	int interrupted;     /* stopped early by a signal */
	int final_rx_known;  /* udp: responder answered the stats query */
	uint64_t final_rx;
};

/* The JSON document for a result (new reference, NULL on ENOMEM). */
json_t *hbp_result_json(const struct hbp_run_info *info, const struct pa_result *r);

/* 0 on success, -1 on a write or allocation error. */
int hbp_print_json(FILE *f, const struct hbp_run_info *info, const struct pa_result *r);
int hbp_print_text(FILE *f, const struct hbp_run_info *info, const struct pa_result *r);

#endif
