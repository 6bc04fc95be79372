/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/jrnl.h — crash-safe journal of in-flight operations.
 *
 * One JSON file per operation under STATE_DIR/ops/ (default /var/lib/hybond),
 * named VM.KIND.json.  Every update is write(temp) -> fsync -> rename ->
 * fsync(dir), so after a crash a file is either the previous or the new
 * version, never a mix.  On start jrnl_load() validates every file; corrupt,
 * half-written or foreign files are reported and moved to STATE_DIR/ops/bad/,
 * never trusted and never fatal.  A completed operation's file is removed.
 *
 * The journal stores the phase as the state machine's enum NAME (the state
 * machine owns the enum), plus the facts needed to finish or roll back.
 */
#ifndef HYBOND_JRNL_H
#define HYBOND_JRNL_H

#include <jansson.h>
#include <stdint.h>

#define JRNL_VERSION     1
#define JRNL_DEFAULT_DIR "/var/lib/hybond"
#define JRNL_FILE_MAX    (64u * 1024u)  /* bigger files are not ours */
#define JRNL_NAME_MAX    64             /* VM names: [A-Za-z0-9_.-], not starting with '.' */

enum jrnl_kind { JRNL_MIGRATE = 0, JRNL_SNAPSHOT, JRNL_DRILL };

enum jrnl_steer { JRNL_STEER_UNKNOWN = 0, JRNL_STEER_VF, JRNL_STEER_STANDBY, JRNL_STEER_NONE };

struct jrnl_op {
	char vm[JRNL_NAME_MAX + 1];
	enum jrnl_kind kind;
	char phase[48];         /* the state machine's phase name, e.g. "STEERED_STANDBY" */
	int64_t started_ms;     /* CLOCK_REALTIME ms */
	int64_t updated_ms;     /* set by jrnl_write */
	uint64_t seq;           /* bumped by jrnl_write: which write a file is */
	/* facts to finish or roll back */
	char source[64], dest[64];      /* host names / URIs */
	uint32_t pair_id;
	char mac[18];                   /* "52:54:00:18:00:10" or "" */
	uint16_t vlan;
	enum jrnl_steer steer_src, steer_dst;   /* where each host's eswitch points the MAC */
	char vf_src[64], vf_dst[64];            /* VF ports ("hv-vm1", "vf3", PCI address) */
	char standby_src[64], standby_dst[64];
	json_t *extra;                  /* optional object, owned (jrnl_op_clear frees it) */
};

struct jrnl;

/* Create STATE_DIR/ops (and bad/) if needed; NULL dir = JRNL_DEFAULT_DIR.
 * 0 or negative errno; msg (may be NULL) says what failed. */
int jrnl_open(const char *state_dir, struct jrnl **out, char *msg, size_t msglen);
void jrnl_close(struct jrnl *j);

void jrnl_op_init(struct jrnl_op *op);
void jrnl_op_clear(struct jrnl_op *op);

/* Write (create or replace) op's file durably; bumps op->seq and updated_ms. */
int jrnl_write(struct jrnl *j, struct jrnl_op *op);
/* Remove the operation's file (done); -ENOENT if there was none. */
int jrnl_remove(struct jrnl *j, const char *vm, enum jrnl_kind kind);

/* jrnl_load callbacks: ok gets each valid op (borrowed: copy what you keep;
 * op->extra is freed after the call unless the callback takes it and sets it NULL);
 * bad gets each file moved aside: its name, why, and where it went ("" if
 * it could not be moved). */
struct jrnl_load_cb {
	void (*ok)(void *arg, struct jrnl_op *op);
	void (*bad)(void *arg, const char *file, const char *why, const char *moved_to);
	void *arg;
};

/* Load every operation; returns the number of valid ones or a negative errno
 * (only when the directory itself cannot be read). */
int jrnl_load(struct jrnl *j, const struct jrnl_load_cb *cb);

const char *jrnl_kind_name(enum jrnl_kind k);
const char *jrnl_steer_name(enum jrnl_steer s);
/* A fact from op->extra: a boolean or integer (0 when absent), a string ("" when absent). */
int jrnl_extra_int(const struct jrnl_op *op, const char *key);
const char *jrnl_extra_str(const struct jrnl_op *op, const char *key);
const char *jrnl_dir(const struct jrnl *j);     /* STATE_DIR/ops */

/* Encode / decode (exposed for tests). decode: 0 or -EINVAL with why set. */
json_t *jrnl_op_to_json(const struct jrnl_op *op);
int jrnl_op_from_json(json_t *o, struct jrnl_op *op, char *why, size_t whylen);

#endif
