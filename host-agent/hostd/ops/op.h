/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/ops/op.h — the seams between the daemon core and its operations.
 *
 * An operation (a migration in either role, a drill, a snapshot) owns one VM's
 * datapath while it runs.  Two seams keep the calls pointing downwards:
 *
 *  - struct op_sink: where an operation reports.  Whoever starts it (the control
 *    socket for a CLI or the libvirt hook, evacuate for its migrations) passes a
 *    sink; the operation calls progress() any number of times, then finish() once.
 *    No operation includes ctl.h or evacuate.h.
 *
 *  - struct op_ops: what the VM routes to its running operation (v->op).  vm.c
 *    calls v->op->ops->X for the operation, then the VM's background handler
 *    (ops/idle.c: the VF watch, migrations nobody announced) sees the same input,
 *    as net/core/failover.c calls its ops.  Each operation embeds struct vm_op
 *    first and sets v->op while it runs.
 */
#ifndef HYBOND_OP_H
#define HYBOND_OP_H

#include <jansson.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <hybond/proto.h>

#include "host-agent/hostd/hv/hv.h"

struct vm;
struct peer_conn;

/* ---- reporting --------------------------------------------------------------------- */
struct op_sink_ops {
	/* One line of progress, {"progress": {…}} (stolen). */
	void (*progress)(void *arg, json_t *line);
	/* The result (stolen); the last call the sink gets. */
	void (*finish)(void *arg, int ok, json_t *result);
};

struct op_sink {
	const struct op_sink_ops *ops;  /* NULL: nobody listens */
	void *arg;
};

static inline void op_progress(struct op_sink *s, json_t *line)
{
	if (s->ops && s->ops->progress)
		s->ops->progress(s->arg, line);
	else
		json_decref(line);
}

/* finish() once, then the sink is empty. */
static inline void op_finish(struct op_sink *s, int ok, json_t *result)
{
	const struct op_sink_ops *o = s->ops;

	s->ops = NULL;
	if (o && o->finish)
		o->finish(s->arg, ok, result);
	else
		json_decref(result);
}

static inline int op_sink_listens(const struct op_sink *s)
{
	return s->ops != NULL;
}

/* The listener behind arg went away (a CLI that disconnected): report to nobody. */
static inline void op_sink_forget(struct op_sink *s, const void *arg)
{
	if (s->ops && s->arg == arg)
		s->ops = NULL;
}

/* ---- errors ------------------------------------------------------------------------ */
/* Every failure of an operation, in order, with the phase it happened in and, where a
 * call failed, its errno: the result's "errors" (its "error" stays the first one, and
 * "errno" the first errno known).  Nothing is cut: a later failure never hides behind
 * the first one's text. */
struct op_errors {
	json_t *list;                   /* [{"phase", "error"[, "errno"]}], owned */
	int first_rc;                   /* the first negative errno recorded, 0: none */
};

/* How a failure's text goes into the result's "error": only if it is the first, in place
 * of what is there, or after it ("; "). */
enum op_err_how { OP_ERR_FIRST, OP_ERR_REPLACE, OP_ERR_APPEND };

static inline void op_error_into(char *err, size_t len, enum op_err_how how, const char *text)
{
	size_t n = strlen(err);

	if (how == OP_ERR_REPLACE || (how == OP_ERR_FIRST && !n))
		(void)snprintf(err, len, "%s", text);
	else if (how == OP_ERR_APPEND)
		(void)snprintf(err + n, len - n, "%s%s", n ? "; " : "", text);
}

/* A failure's text: fmt, then ": strerror" when a call failed (rc < 0). */
static inline void op_error_vformat(char *text, size_t len, int rc, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

static inline void op_error_vformat(char *text, size_t len, int rc, const char *fmt, va_list ap)
{
	size_t n;

	(void)vsnprintf(text, len, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): the callers' va_start */
	n = strlen(text);
	if (rc < 0)
		(void)snprintf(text + n, len - n, ": %s", strerror(-rc));
}

static inline void op_error_add(struct op_errors *e, const char *phase, int rc,
				const char *text)
{
	json_t *o = json_pack("{s:s, s:s}", "phase", phase, "error", text);

	if (!o)
		return;
	if (rc < 0)
		(void)json_object_set_new(o, "errno", json_string(strerrorname_np(-rc) ?
								     strerrorname_np(-rc) : "?"));
	if (rc < 0 && !e->first_rc)
		e->first_rc = rc;
	if (!e->list)
		e->list = json_array();
	if (json_array_append_new(e->list, o))
		json_decref(o);
}

/* Into the result o: "errno" and "errors" (when there were any). */
static inline void op_errors_json(const struct op_errors *e, json_t *o)
{
	if (e->first_rc)
		(void)json_object_set_new(o, "errno", json_string(strerrorname_np(-e->first_rc) ?
								  strerrorname_np(-e->first_rc) :
								  "?"));
	if (e->list && json_array_size(e->list))
		(void)json_object_set_new(o, "errors", json_incref(e->list));
}

static inline void op_errors_clear(struct op_errors *e)
{
	json_decref(e->list);
	e->list = NULL;
	e->first_rc = 0;
}

/* ---- routing ----------------------------------------------------------------------- */
struct op_ops {
	const char *what;               /* "migration", "drill or snapshot": busy messages */
	int places_vm;                  /* a migration: it decides where the VM runs (v->here) */
	/* Inputs, each optional.  on_guest: the guest's view changed (STATUS, EVENT,
	 * session up or down); on_guest_answer: the answer to the operation's request. */
	void (*on_hv_event)(struct vm *v, enum hv_ev ev, const char *detail, uint64_t ts_ms);
	void (*on_hv_closed)(struct vm *v, int err);
	void (*on_hv_ready)(struct vm *v);
	void (*on_guest)(struct vm *v);
	void (*on_guest_answer)(struct vm *v, uint16_t req_type, const struct hb_msg *ans,
				int res);
	void (*on_peer_msg)(struct vm *v, struct peer_conn *pc, const struct hb_msg *m);
	void (*on_peer_closed)(struct vm *v, struct peer_conn *pc, int err);
	/* The listener behind a sink's arg is gone (op_sink_forget on the op's sinks). */
	void (*sink_gone)(struct vm *v, const void *arg);
	/* status: the key it appears under in the VM's JSON, and its object. */
	const char *json_key;
	json_t *(*to_json)(const struct vm *v);
	/* Free it without ending it (the VM is deleted, the daemon exits). */
	void (*free)(struct vm *v);
};

/* First member of every operation's state: v->op points here while it runs. */
struct vm_op {
	const struct op_ops *ops;
	uint64_t id;                    /* set by vm_op_begin: one per operation (logs) */
};

/* What runs when no operation does, and also sees every input after the operation. */
struct vm_bg_ops {
	int (*init)(struct vm *v);
	void (*fini)(struct vm *v);
	/* The first loop turn after the VM was registered: journal recovery. */
	void (*recover)(struct vm *v);
	void (*on_hv_event)(struct vm *v, enum hv_ev ev, const char *detail, uint64_t ts_ms);
	void (*on_hv_ready)(struct vm *v);
	void (*on_status)(struct vm *v);                        /* STATUS, session */
	void (*on_event)(struct vm *v, const struct hb_event *e);
	/* An answer to one of the background's own requests (cookie its own): 1 taken. */
	int (*on_answer)(struct vm *v, void *cookie, uint16_t req_type, const struct hb_msg *ans,
			 int res);
	void (*to_json)(const struct vm *v, json_t *o);
};

#endif
