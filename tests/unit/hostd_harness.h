// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tests/unit/hostd_harness.h — the surroundings of one hybond-hostd VM without QEMU, shared
 * by the unit tests that drive the daemon's objects on a real loop (test_migrate,
 * test_vfwatch).  hostd_harness.c provides:
 *   - H, a fake hypervisor (fake_hv, struct hv_ops): records every call; the test answers
 *     them (answer*) and sends QEMU's events (hv_event, or H.cb directly);
 *   - struct tsock, the test's side of a unix socket carrying libhybond-proto frames;
 *   - G, the guest agent on the VM's guest channel socket: HELLO, STATUS with the pair
 *     PAIR_ID (MAC_S), SWITCH_DONE, FAST_PATH_UP, EVENT VF_VANISHED;
 *   - P, the peer daemon "B" on a unix socket (MIGRATE_PREPARE -> MIGRATE_READY, ...);
 *   - D and V, the daemon and its VM "vm1" with the sriov-legacy eswitch on the fake sysfs
 *     tree (HB_TESTDATA), a journal in a fresh directory dir; setup()/teardown() per test,
 *     pump() runs the loop and serves G and P, until() waits for a migration phase.
 * Each test provides g_hooks (its additions to the guest fake, members may be NULL); and
 * links tests/unit/hlog_stub.c (main.c is not linked).
 */
#ifndef HB_TEST_HOSTD_HARNESS_H
#define HB_TEST_HOSTD_HARNESS_H

#include <stdint.h>

#include "host-agent/hostd/hostd.h"
#include "host-agent/hostd/hv/hv.h"
#include "host-agent/hostd/vm.h"
#include "hybond/proto.h"

#define MAC_S "52:54:00:18:00:10"
#define PAIR_ID 7u

/* ---- the fake hypervisor ---- */
struct fcall {
	char name[32], id[64];          /* the QMP command; the URI or device id, or "" */
	hv_done_fn fn;
	void *arg;
	int done;                       /* answered */
};

struct fake_hv_state {
	int ready;                      /* what hv_ops.ready answers */
	const struct hv_cb *cb;         /* the VM's callbacks, set by hv_ops.open */
	void *arg;
	struct fcall calls[256];
	int n;
	/* the next call named fail_call is not sent: it returns fail_rc (negative errno) */
	char fail_call[32];
	int fail_rc;
	/* pump() answers query-pci (query_vf) itself: 0 no (the test does), 1 the VF is in
	 * the VM, 2 it is not */
	int vf_query_auto;
};

extern struct fake_hv_state H;
extern const struct hv_ops fake_hv;

/* How many calls NAME were made. */
int called(const char *name);
/* Answer every call NAME pending now (not those the answers make) with r; how many. */
int answer(const char *name, const struct hv_result *r);
/* query-migrate: status, total and downtime (5 ms, -1 without a total). */
int answer_migrate(const char *status, int64_t total_ms);
/* query-status: running and QEMU's status string. */
int answer_status(int running, const char *status);
/* NAME succeeded, nothing more to say. */
int answer_ok(const char *name);
/* QEMU sends event ev (detail, e.g. a MIGRATION status or a device id). */
void hv_event(enum hv_ev ev, const char *detail);

/* ---- the test's side of sockets ---- */
struct tsock {
	int lfd, fd;
	uint32_t seq;
	struct hb_stream rx;
};

/* Send m on t's connection (asserts). */
void tsend(struct tsock *t, const struct hb_msg *m);
/* Listen on path; 0 or -1. */
int tlisten(struct tsock *t, const char *path);
void tclose(struct tsock *t);
/* Accept a pending connection (fn(NULL)); decode what arrived, call fn for each message. */
void tpoll(struct tsock *t, void (*fn)(const struct hb_msg *m));

/* ---- the guest agent ---- */
struct guest_fake {
	struct tsock s;
	int vf_present, vf_up;          /* the VF in STATUS, and its link */
	int answer_resume;              /* answer RESUME_FAST_PATH (setup(): 1) */
	uint8_t active;                 /* HB_PATH_* reported */
	int n_prepare, n_resume;        /* PREPARE_SWITCH, RESUME_FAST_PATH received */
};

extern struct guest_fake G;

/* What a test adds to the guest fake: defined by each test; either member may be NULL. */
struct g_hooks {
	/* setup(): the test's own guest settings back to their defaults */
	void (*reset)(void);
	/* a request from the daemon before G answers it: 1 if the hook answered it (G then
	 * does nothing more, counters included), 0 to let G answer as usual */
	int (*request)(const struct hb_msg *req);
};

extern const struct g_hooks g_hooks;

/* The pair as the agent reports it (G's state). */
void g_pair(struct hb_pair *p);
/* STATUS: the answer to a request (req != NULL) or unsolicited, as the agent sends it. */
void g_status(const struct hb_msg *req);
/* FAST_PATH_UP on path for req, then the STATUS that follows a change. */
void g_fast_path_up(const struct hb_msg *req, uint8_t path);
/* EVENT VF_VANISHED: the VF is gone, TX pinned to the standby. */
void g_vf_vanished(void);
/* G's side of the guest channel (tpoll's fn). */
void g_msg(const struct hb_msg *req);

/* ---- the peer daemon ---- */
struct peer_fake {
	struct tsock s;
	uint16_t types[64];             /* the types of the messages received */
	int n, result_ok[8], n_results, finished_path;
	char finished_text[128];
	int refuse_incoming;            /* answer MIGRATE_INCOMING with ERROR */
	char ready_uri[64];             /* the URI of the last MIGRATE_READY received */
	const char *offer_uri;          /* what it answers MIGRATE_PREPARE with (NULL: a
					 * unix: socket) */
};

extern struct peer_fake P;

/* How many messages of type the peer received. */
int p_got(uint16_t type);
void p_msg(const struct hb_msg *m);
/* The peer (destination) says the VM stopped there / finished on the fast path. */
void p_stopped(void);
void p_finished(void);

/* ---- the daemon around it ---- */
extern struct hostd D;
extern struct vm *V;
extern int setup_lv;                    /* the next setup() registers a libvirt domain */
extern char dir[64];                    /* the journal's directory, removed by teardown() */
extern char path_agent[128], path_peer[128];

/* Run the daemon's loop ms, then serve the guest and the peer. */
void pump(unsigned ms);
/* V's migration phase, "none" without one. */
const char *phase(void);
/* Pump until now() answers want (what: its name in the message); 0 or -1 after max_ms. */
int until_is(const char *(*now)(void), const char *what, const char *want, unsigned max_ms);
/* Pump until the phase is p (or the migration ended, p "none"); 0 or -1 after max_ms. */
int until(const char *p, unsigned max_ms);
/* The daemon with V in mode; here: V runs on this host, attached, guest up, VF up. */
void setup(enum vm_mode mode, int here);
void teardown(void);

#endif
