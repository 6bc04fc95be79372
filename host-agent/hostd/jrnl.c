/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/jrnl.c — crash-safe operation journal (see jrnl.h).
 *
 * Durability: the new content goes to a temp file in the same directory
 * (".VM.KIND.json.tmp"), is fsync'ed, renamed over the real name (atomic on
 * POSIX file systems) and the directory is fsync'ed so the rename itself
 * survives a power cut.  A crash before the rename leaves only the temp file,
 * which jrnl_load reports and moves aside: the previous version stays valid.
 *
 * Validation on load: size bound, JSON object, "hybond_journal" version,
 * known kind, every fact with the right type and bounds, and the file name
 * must match the VM and kind inside (a copied or renamed file is not trusted).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jrnl.h"

struct jrnl {
	char dir[4096 - 64];    /* STATE_DIR/ops */
	char bad[4096];         /* STATE_DIR/ops/bad */
};

static const char *const kind_names[] = { "migrate", "snapshot", "drill" };
static const char *const steer_names[] = { "unknown", "vf", "standby", "none" };

const char *jrnl_kind_name(enum jrnl_kind k)
{
	return (unsigned)k < 3 ? kind_names[k] : "?";
}

const char *jrnl_steer_name(enum jrnl_steer s)
{
	return (unsigned)s < 4 ? steer_names[s] : "?";
}

const char *jrnl_dir(const struct jrnl *j)
{
	return j->dir;
}

static int64_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int valid_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > JRNL_NAME_MAX || s[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return 0;
	return 1;
}

static int mkdir_p(const char *path)
{
	char tmp[4096];
	char *p;

	if (strlen(path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, strlen(path) + 1);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int jrnl_open(const char *state_dir, struct jrnl **out, char *msg, size_t msglen)
{
	struct jrnl *j;
	int err;

	*out = NULL;
	if (!state_dir)
		state_dir = JRNL_DEFAULT_DIR;
	if (!*state_dir || strlen(state_dir) > 3000) {
		if (msg)
			(void)snprintf(msg, msglen, "invalid state directory");
		return -EINVAL;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	(void)snprintf(j->dir, sizeof(j->dir), "%s/ops", state_dir);
	(void)snprintf(j->bad, sizeof(j->bad), "%s/bad", j->dir);
	err = mkdir_p(j->bad);
	if (err < 0) {
		if (msg)
			(void)snprintf(msg, msglen, "cannot create %s: %s (set the state directory "
				       "to a writable place)", j->bad, strerror(-err));
		free(j);
		return err;
	}
	*out = j;
	return 0;
}

void jrnl_close(struct jrnl *j)
{
	free(j);
}

void jrnl_op_init(struct jrnl_op *op)
{
	memset(op, 0, sizeof(*op));
}

void jrnl_op_clear(struct jrnl_op *op)
{
	json_decref(op->extra);
	memset(op, 0, sizeof(*op));
}

/* ---- encoding ----------------------------------------------------------------- */

json_t *jrnl_op_to_json(const struct jrnl_op *op)
{
	json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:I, s:I, s:I, s:{s:s, s:s, s:I, s:s, s:i, "
			      "s:s, s:s, s:s, s:s, s:s, s:s}}",
			      "hybond_journal", JRNL_VERSION, "vm", op->vm,
			      "kind", jrnl_kind_name(op->kind), "phase", op->phase,
			      "started_ms", (json_int_t)op->started_ms,
			      "updated_ms", (json_int_t)op->updated_ms, "seq", (json_int_t)op->seq,
			      "facts", "source", op->source, "dest", op->dest,
			      "pair_id", (json_int_t)op->pair_id, "mac", op->mac, "vlan", (int)op->vlan,
			      "steer_src", jrnl_steer_name(op->steer_src),
			      "steer_dst", jrnl_steer_name(op->steer_dst),
			      "vf_src", op->vf_src, "vf_dst", op->vf_dst,
			      "standby_src", op->standby_src, "standby_dst", op->standby_dst);

	if (o && op->extra && json_object_set(o, "extra", op->extra) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

#define WHY(...) ((void)snprintf(why, whylen, __VA_ARGS__), -EINVAL)

static int get_str(json_t *o, const char *key, char *dst, size_t len, char *why, size_t whylen)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		return WHY("'%s' missing or not a string", key);
	if (json_string_length(v) >= len || strlen(json_string_value(v)) != json_string_length(v))
		return WHY("'%s' too long or contains NUL", key);
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int get_int(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out,
		   char *why, size_t whylen)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return WHY("'%s' missing or not an integer", key);
	if (json_integer_value(v) < lo || json_integer_value(v) > hi)
		return WHY("'%s' out of range", key);
	*out = json_integer_value(v);
	return 0;
}

static int get_enum(json_t *o, const char *key, const char *const *names, int n, int *out,
		    char *why, size_t whylen)
{
	const char *s = json_string_value(json_object_get(o, key));
	int i;

	for (i = 0; s && i < n; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	return WHY("'%s' is not one of the known values", key);
}

static int valid_mac(const char *s)
{
	unsigned int b[6];
	char tail;

	return !*s || (strlen(s) == 17 &&
		       sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
			      &tail) == 6);
}

int jrnl_op_from_json(json_t *o, struct jrnl_op *op, char *why, size_t whylen)
{
	json_t *f = json_object_get(o, "facts"), *extra = json_object_get(o, "extra");
	int64_t v = 0;
	int e = 0, k = 0, s1 = 0, s2 = 0;
	size_t i;
	static const struct { const char *key; size_t off, len; } strs[] = {
		{ "source", offsetof(struct jrnl_op, source), sizeof(((struct jrnl_op *)0)->source) },
		{ "dest", offsetof(struct jrnl_op, dest), sizeof(((struct jrnl_op *)0)->dest) },
		{ "mac", offsetof(struct jrnl_op, mac), sizeof(((struct jrnl_op *)0)->mac) },
		{ "vf_src", offsetof(struct jrnl_op, vf_src), sizeof(((struct jrnl_op *)0)->vf_src) },
		{ "vf_dst", offsetof(struct jrnl_op, vf_dst), sizeof(((struct jrnl_op *)0)->vf_dst) },
		{ "standby_src", offsetof(struct jrnl_op, standby_src),
		  sizeof(((struct jrnl_op *)0)->standby_src) },
		{ "standby_dst", offsetof(struct jrnl_op, standby_dst),
		  sizeof(((struct jrnl_op *)0)->standby_dst) },
	};

	jrnl_op_init(op);
	if (!json_is_object(o))
		return WHY("not a JSON object");
	if (get_int(o, "hybond_journal", 0, INT32_MAX, &v, why, whylen) < 0)
		return -EINVAL;
	if (v != JRNL_VERSION)
		return WHY("journal version %lld, this hybond reads %d", (long long)v, JRNL_VERSION);
	if (get_str(o, "vm", op->vm, sizeof(op->vm), why, whylen) < 0 ||
	    get_enum(o, "kind", kind_names, 3, &k, why, whylen) < 0 ||
	    get_str(o, "phase", op->phase, sizeof(op->phase), why, whylen) < 0)
		return -EINVAL;
	op->kind = (enum jrnl_kind)k;
	if (!valid_name(op->vm))
		return WHY("invalid VM name");
	if (!op->phase[0])
		return WHY("empty phase");
	e |= get_int(o, "started_ms", 0, INT64_MAX, &op->started_ms, why, whylen);
	e |= get_int(o, "updated_ms", 0, INT64_MAX, &op->updated_ms, why, whylen);
	e |= get_int(o, "seq", 0, INT64_MAX, &v, why, whylen);
	if (e)
		return -EINVAL;
	op->seq = (uint64_t)v;
	if (!json_is_object(f))
		return WHY("'facts' missing or not an object");
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (get_str(f, strs[i].key, (char *)op + strs[i].off, strs[i].len, why, whylen) < 0)
			return -EINVAL;
	if (!valid_mac(op->mac))
		return WHY("'mac' is not a MAC address");
	if (get_int(f, "pair_id", 0, UINT32_MAX, &v, why, whylen) < 0)
		return -EINVAL;
	op->pair_id = (uint32_t)v;
	if (get_int(f, "vlan", 0, 4094, &v, why, whylen) < 0)
		return -EINVAL;
	op->vlan = (uint16_t)v;
	if (get_enum(f, "steer_src", steer_names, 4, &s1, why, whylen) < 0 ||
	    get_enum(f, "steer_dst", steer_names, 4, &s2, why, whylen) < 0)
		return -EINVAL;
	op->steer_src = (enum jrnl_steer)s1;
	op->steer_dst = (enum jrnl_steer)s2;
	if (extra && !json_is_object(extra))
		return WHY("'extra' is not an object");
	op->extra = json_incref(extra);
	return 0;
}

/* ---- files -------------------------------------------------------------------- */

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		err = -errno;
	(void)close(fd);
	return err;
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int jrnl_write(struct jrnl *j, struct jrnl_op *op)
{
	char path[4200], tmp[4200], *text = NULL;
	json_t *o = NULL;
	int fd = -1, err;

	if (!valid_name(op->vm) || (unsigned)op->kind > JRNL_DRILL || !op->phase[0])
		return -EINVAL;
	op->seq++;
	op->updated_ms = realtime_ms();
	if (!op->started_ms)
		op->started_ms = op->updated_ms;
	o = jrnl_op_to_json(op);
	text = o ? json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
	if (!text) {
		err = -ENOMEM;
		goto out;
	}
	(void)snprintf(path, sizeof(path), "%s/%s.%s.json", j->dir, op->vm, jrnl_kind_name(op->kind));
	(void)snprintf(tmp, sizeof(tmp), "%s/.%s.%s.json.tmp", j->dir, op->vm, jrnl_kind_name(op->kind));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	err = write_all(fd, text, strlen(text));
	if (err == 0)
		err = write_all(fd, "\n", 1);
	if (err == 0 && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && err == 0)
		err = -errno;
	if (err == 0 && rename(tmp, path) < 0)
		err = -errno;
	if (err == 0)
		err = fsync_dir(j->dir);
	else
		(void)unlink(tmp);
out:
	free(text);
	json_decref(o);
	return err;
}

int jrnl_remove(struct jrnl *j, const char *vm, enum jrnl_kind kind)
{
	char path[4200];

	if (!vm || !valid_name(vm) || (unsigned)kind > JRNL_DRILL)
		return -EINVAL;
	(void)snprintf(path, sizeof(path), "%s/%s.%s.json", j->dir, vm, jrnl_kind_name(kind));
	if (unlink(path) < 0)
		return -errno;
	return fsync_dir(j->dir);
}

/* Move a file the journal cannot use to bad/, with a timestamp suffix. */
static void move_aside(struct jrnl *j, const struct jrnl_load_cb *cb, const char *name,
		       const char *why)
{
	char from[4200], to[4300];

	(void)snprintf(from, sizeof(from), "%s/%s", j->dir, name);
	(void)snprintf(to, sizeof(to), "%s/%s.%lld", j->bad, name[0] == '.' ? name + 1 : name,
		       (long long)realtime_ms());
	if (rename(from, to) < 0)
		to[0] = '\0';
	else
		(void)fsync_dir(j->dir);
	if (cb && cb->bad)
		cb->bad(cb->arg, name, why, to);
}

static int read_file(int dfd, const char *name, char **out, size_t *len, char *why, size_t whylen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return (void)snprintf(why, whylen, "cannot open: %s", strerror(errno)), -EIO;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)JRNL_FILE_MAX) {
		(void)close(fd);
		return WHY("not a regular file of at most %u bytes", JRNL_FILE_MAX);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		(void)close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, (size_t)st.st_size);
	(void)close(fd);
	if (n != (ssize_t)st.st_size) {
		free(buf);
		return WHY("short read");
	}
	buf[n] = '\0';
	*out = buf;
	*len = (size_t)n;
	return 0;
}

static void load_one(struct jrnl *j, int dfd, const char *name, const struct jrnl_load_cb *cb,
		     int *nok)
{
	char why[256] = "", expect[JRNL_NAME_MAX + 32], *text = NULL;
	struct jrnl_op op;
	json_error_t jerr;
	json_t *o = NULL;
	size_t len = 0;

	if (read_file(dfd, name, &text, &len, why, sizeof(why)) < 0) {
		move_aside(j, cb, name, why);
		return;
	}
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!o) {
		(void)snprintf(why, sizeof(why), "not valid JSON (truncated or garbage): %s, line %d",
			       jerr.text, jerr.line);
		move_aside(j, cb, name, why);
		return;
	}
	if (jrnl_op_from_json(o, &op, why, sizeof(why)) < 0) {
		json_decref(o);
		jrnl_op_clear(&op);
		move_aside(j, cb, name, why);
		return;
	}
	json_decref(o);
	(void)snprintf(expect, sizeof(expect), "%s.%s.json", op.vm, jrnl_kind_name(op.kind));
	if (strcmp(expect, name) != 0) {
		(void)snprintf(why, sizeof(why), "file name does not match its content (%s)", expect);
		jrnl_op_clear(&op);
		move_aside(j, cb, name, why);
		return;
	}
	(*nok)++;
	if (cb && cb->ok)
		cb->ok(cb->arg, &op);
	jrnl_op_clear(&op);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int jrnl_load(struct jrnl *j, const struct jrnl_load_cb *cb)
{
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *d;
	int nok = 0, dfd;
	DIR *dir = opendir(j->dir);

	if (!dir)
		return -errno;
	dfd = dirfd(dir);
	/* Collect first: moving files aside while iterating would confuse readdir. */
	while ((d = readdir(dir)) != NULL) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..") || !strcmp(d->d_name, "bad"))
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap ? cap * 2 : 16) * sizeof(*names));

			if (!nn)
				break;
			names = nn;
			cap = cap ? cap * 2 : 16;
		}
		names[n] = strdup(d->d_name);
		if (names[n])
			n++;
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		size_t l = strlen(names[i]);

		if (names[i][0] == '.' && l > 4 && !strcmp(names[i] + l - 4, ".tmp"))
			move_aside(j, cb, names[i], "half-written update (crash before rename); "
				   "the previous version, if any, is still in place");
		else if (l <= 5 || strcmp(names[i] + l - 5, ".json") != 0)
			move_aside(j, cb, names[i], "not a journal file");
		else
			load_one(j, dfd, names[i], cb, &nok);
		free(names[i]);
	}
	free(names);
	(void)closedir(dir);
	return nok;
}

int jrnl_extra_int(const struct jrnl_op *op, const char *key)
{
	json_t *e = json_object_get(op->extra, key);

	return json_is_boolean(e) ? json_is_true(e) : (int)json_integer_value(e);
}

const char *jrnl_extra_str(const struct jrnl_op *op, const char *key)
{
	const char *s = json_string_value(json_object_get(op->extra, key));

	return s ? s : "";
}
