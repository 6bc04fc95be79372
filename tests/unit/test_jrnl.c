/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_jrnl.c — the operation journal: round trip, updates,
 * removal, and what a crash can leave behind (a temp file, a truncated file,
 * garbage, a wrong version or schema, a renamed file): each is reported,
 * moved to ops/bad/ and never loaded, and the valid operations still are.
 */
#include "tests/unit/cu_run.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host-agent/hostd/jrnl.h"

static char Dir[256];
static struct jrnl *J;

struct loaded {
	int n_ok, n_bad;
	struct jrnl_op ok[8];
	char bad[8][64], why[8][256], moved[8][512];
};
static struct loaded L;

static void cb_ok(void *arg, struct jrnl_op *op)
{
	(void)arg;
	if (L.n_ok < 8) {
		L.ok[L.n_ok] = *op;
		op->extra = NULL;       /* keep it */
		L.n_ok++;
	}
}

static void cb_bad(void *arg, const char *file, const char *why, const char *moved_to)
{
	(void)arg;
	if (L.n_bad < 8) {
		(void)snprintf(L.bad[L.n_bad], sizeof(L.bad[0]), "%s", file);
		(void)snprintf(L.why[L.n_bad], sizeof(L.why[0]), "%s", why);
		(void)snprintf(L.moved[L.n_bad], sizeof(L.moved[0]), "%s", moved_to);
		L.n_bad++;
	}
}

static const struct jrnl_load_cb CB = { cb_ok, cb_bad, NULL };

static void loaded_reset(void)
{
	int i;

	for (i = 0; i < L.n_ok; i++)
		jrnl_op_clear(&L.ok[i]);
	memset(&L, 0, sizeof(L));
}

static int rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char p[512];

	if (!d)
		return unlink(path);
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		(void)snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		(void)rm_tree(p);
	}
	(void)closedir(d);
	return rmdir(path);
}

static void setup(void)
{
	char msg[256];

	(void)snprintf(Dir, sizeof(Dir), "/tmp/hbesw-jrnl-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(Dir) != NULL);
	CU_ASSERT_FATAL(jrnl_open(Dir, &J, msg, sizeof(msg)) == 0);
	loaded_reset();
}

static void teardown(void)
{
	jrnl_close(J);
	J = NULL;
	(void)rm_tree(Dir);
	loaded_reset();
}

static void sample(struct jrnl_op *op, const char *vm)
{
	jrnl_op_init(op);
	(void)snprintf(op->vm, sizeof(op->vm), "%s", vm);
	op->kind = JRNL_MIGRATE;
	(void)snprintf(op->phase, sizeof(op->phase), "STEERED_STANDBY");
	(void)snprintf(op->source, sizeof(op->source), "hA");
	(void)snprintf(op->dest, sizeof(op->dest), "hB");
	op->pair_id = 7;
	(void)snprintf(op->mac, sizeof(op->mac), "52:54:00:18:00:10");
	op->vlan = 100;
	op->steer_src = JRNL_STEER_STANDBY;
	op->steer_dst = JRNL_STEER_STANDBY;
	(void)snprintf(op->vf_src, sizeof(op->vf_src), "hv-%s", vm);
	(void)snprintf(op->vf_dst, sizeof(op->vf_dst), "hv-%s", vm);
	(void)snprintf(op->standby_src, sizeof(op->standby_src), "hs-%s", vm);
	(void)snprintf(op->standby_dst, sizeof(op->standby_dst), "hs-%s", vm);
}

static void put_file(const char *name, const char *content)
{
	char p[512];
	FILE *f;

	(void)snprintf(p, sizeof(p), "%s/ops/%s", Dir, name);
	f = fopen(p, "w");
	CU_ASSERT_FATAL(f != NULL);
	(void)fputs(content, f);
	(void)fclose(f);
}

static int count_files(const char *sub)
{
	char p[512];
	DIR *d;
	struct dirent *e;
	int n = 0;

	(void)snprintf(p, sizeof(p), "%s/ops%s", Dir, sub);
	d = opendir(p);
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0))
			n += strcmp(e->d_name, "bad") != 0;
	(void)closedir(d);
	return n;
}

static void test_round_trip(void)
{
	struct jrnl_op op, *r;
	json_error_t err;

	setup();
	sample(&op, "vm1");
	op.extra = json_loads("{\"probe\": {\"rate\": 200}}", 0, &err);
	CU_ASSERT_EQUAL(jrnl_write(J, &op), 0);
	CU_ASSERT_EQUAL(op.seq, 1);
	CU_ASSERT(op.started_ms > 0 && op.updated_ms >= op.started_ms);
	(void)snprintf(op.phase, sizeof(op.phase), "MIGRATING");
	op.steer_src = JRNL_STEER_NONE;
	CU_ASSERT_EQUAL(jrnl_write(J, &op), 0);     /* update replaces */
	CU_ASSERT_EQUAL(op.seq, 2);
	CU_ASSERT_EQUAL(count_files(""), 1);
	CU_ASSERT_EQUAL(jrnl_load(J, &CB), 1);
	CU_ASSERT_EQUAL(L.n_bad, 0);
	r = &L.ok[0];
	CU_ASSERT_STRING_EQUAL(r->vm, "vm1");
	CU_ASSERT_EQUAL(r->kind, JRNL_MIGRATE);
	CU_ASSERT_STRING_EQUAL(r->phase, "MIGRATING");
	CU_ASSERT_EQUAL(r->seq, 2);
	CU_ASSERT_EQUAL(r->started_ms, op.started_ms);
	CU_ASSERT_EQUAL(r->updated_ms, op.updated_ms);
	CU_ASSERT_STRING_EQUAL(r->source, "hA");
	CU_ASSERT_STRING_EQUAL(r->dest, "hB");
	CU_ASSERT_EQUAL(r->pair_id, 7);
	CU_ASSERT_STRING_EQUAL(r->mac, "52:54:00:18:00:10");
	CU_ASSERT_EQUAL(r->vlan, 100);
	CU_ASSERT_EQUAL(r->steer_src, JRNL_STEER_NONE);
	CU_ASSERT_EQUAL(r->steer_dst, JRNL_STEER_STANDBY);
	CU_ASSERT_STRING_EQUAL(r->vf_src, "hv-vm1");
	CU_ASSERT_STRING_EQUAL(r->standby_dst, "hs-vm1");
	CU_ASSERT_TRUE(json_equal(r->extra, op.extra));
	/* a snapshot of the same VM is a separate operation */
	op.kind = JRNL_SNAPSHOT;
	CU_ASSERT_EQUAL(jrnl_write(J, &op), 0);
	CU_ASSERT_EQUAL(count_files(""), 2);
	CU_ASSERT_EQUAL(jrnl_remove(J, "vm1", JRNL_MIGRATE), 0);
	CU_ASSERT_EQUAL(jrnl_remove(J, "vm1", JRNL_MIGRATE), -ENOENT);
	loaded_reset();
	CU_ASSERT_EQUAL(jrnl_load(J, &CB), 1);
	CU_ASSERT_EQUAL(L.ok[0].kind, JRNL_SNAPSHOT);
	jrnl_op_clear(&op);
	teardown();
}

static void test_bad_input(void)
{
	struct jrnl_op op;
	struct jrnl *j2;
	char msg[256];

	setup();
	sample(&op, "../etc");
	CU_ASSERT_EQUAL(jrnl_write(J, &op), -EINVAL);
	sample(&op, ".hidden");
	CU_ASSERT_EQUAL(jrnl_write(J, &op), -EINVAL);
	sample(&op, "vm1");
	op.phase[0] = '\0';
	CU_ASSERT_EQUAL(jrnl_write(J, &op), -EINVAL);
	CU_ASSERT_EQUAL(jrnl_remove(J, "a/b", JRNL_DRILL), -EINVAL);
	CU_ASSERT_EQUAL(count_files(""), 0);
	CU_ASSERT_EQUAL(jrnl_open("/proc/hbesw-no", &j2, msg, sizeof(msg)) < 0, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "cannot create"));
	teardown();
}

/* Everything a crash, a bug or an operator can leave in ops/. */
static void test_crash_leftovers(void)
{
	struct jrnl_op op;
	char *good_text;
	json_t *o;
	int i;

	setup();
	sample(&op, "vm1");
	CU_ASSERT_EQUAL(jrnl_write(J, &op), 0);
	o = jrnl_op_to_json(&op);
	good_text = json_dumps(o, 0);
	json_decref(o);
	/* 1. a crash between write and rename: the temp file (and the old version) */
	put_file(".vm1.migrate.json.tmp", "{\"hybond_journal\": 1, \"vm\": \"vm1\", \"ki");
	/* 2. a truncated file (a file system that lost the tail) */
	good_text[strlen(good_text) / 2] = '\0';
	put_file("vm2.migrate.json", good_text);
	free(good_text);
	/* 3. garbage */
	put_file("vm3.drill.json", "\x01\x02garbage\xff");
	/* 4. a future version */
	put_file("vm4.migrate.json", "{\"hybond_journal\": 2, \"vm\": \"vm4\"}");
	/* 5. right version, wrong schema (vlan out of range) */
	o = jrnl_op_to_json(&op);
	(void)json_object_set_new(o, "vm", json_string("vm5"));
	(void)json_object_set_new(json_object_get(o, "facts"), "vlan", json_integer(5000));
	good_text = json_dumps(o, 0);
	put_file("vm5.migrate.json", good_text);
	free(good_text);
	/* 6. a valid operation under another name (copied by hand) */
	(void)json_object_set_new(json_object_get(o, "facts"), "vlan", json_integer(5));
	good_text = json_dumps(o, 0);
	put_file("vm6.migrate.json", good_text);
	free(good_text);
	json_decref(o);
	/* 7. unknown kind, 8. something else */
	put_file("vm7.teleport.json", "{\"hybond_journal\": 1, \"vm\": \"vm7\", \"kind\": \"teleport\"}");
	put_file("notes.txt", "hello");

	CU_ASSERT_EQUAL(jrnl_load(J, &CB), 1);
	CU_ASSERT_EQUAL(L.n_ok, 1);
	CU_ASSERT_STRING_EQUAL(L.ok[0].vm, "vm1");
	CU_ASSERT_EQUAL(L.n_bad, 8);
	for (i = 0; i < L.n_bad; i++) {
		CU_ASSERT(L.moved[i][0] != '\0');
		CU_ASSERT_PTR_NOT_NULL(strstr(L.moved[i], "/ops/bad/"));
	}
	/* names are sorted: temp file first */
	CU_ASSERT_STRING_EQUAL(L.bad[0], ".vm1.migrate.json.tmp");
	CU_ASSERT_PTR_NOT_NULL(strstr(L.why[0], "half-written"));
	CU_ASSERT_STRING_EQUAL(L.bad[1], "notes.txt");
	CU_ASSERT_PTR_NOT_NULL(strstr(L.why[2], "not valid JSON"));         /* vm2 */
	CU_ASSERT_PTR_NOT_NULL(strstr(L.why[3], "not valid JSON"));         /* vm3 */
	CU_ASSERT_PTR_NOT_NULL(strstr(L.why[4], "version 2"));              /* vm4 */
	CU_ASSERT_PTR_NOT_NULL(strstr(L.why[5], "'vlan' out of range"));    /* vm5 */
	CU_ASSERT_PTR_NOT_NULL(strstr(L.why[6], "does not match"));         /* vm6 */
	CU_ASSERT_PTR_NOT_NULL(strstr(L.why[7], "'kind'"));                 /* vm7 */
	CU_ASSERT_EQUAL(count_files(""), 1);
	CU_ASSERT_EQUAL(count_files("/bad"), 8);
	/* a second start finds only the valid one: recovery listing is stable */
	loaded_reset();
	CU_ASSERT_EQUAL(jrnl_load(J, &CB), 1);
	CU_ASSERT_EQUAL(L.n_bad, 0);
	teardown();
}

static void test_decode_types(void)
{
	struct jrnl_op op;
	char why[256];
	json_t *o;
	static const char *const bad[] = {
		"[]",
		"{\"hybond_journal\": \"1\"}",
		"{\"hybond_journal\": 1, \"vm\": 5, \"kind\": \"migrate\", \"phase\": \"X\"}",
		"{\"hybond_journal\": 1, \"vm\": \"v\", \"kind\": \"migrate\", \"phase\": \"\"}",
		"{\"hybond_journal\": 1, \"vm\": \"v\", \"kind\": \"migrate\", \"phase\": \"X\", "
		"\"started_ms\": -1, \"updated_ms\": 0, \"seq\": 0}",
		"{\"hybond_journal\": 1, \"vm\": \"v\", \"kind\": \"migrate\", \"phase\": \"X\", "
		"\"started_ms\": 1, \"updated_ms\": 1, \"seq\": 1, \"facts\": []}",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = json_loads(bad[i], 0, NULL);
		CU_ASSERT_PTR_NOT_NULL(o);
		why[0] = '\0';
		CU_ASSERT_EQUAL(jrnl_op_from_json(o, &op, why, sizeof(why)), -EINVAL);
		CU_ASSERT(why[0] != '\0');
		jrnl_op_clear(&op);
		json_decref(o);
	}
	CU_ASSERT_STRING_EQUAL(jrnl_kind_name(JRNL_DRILL), "drill");
	CU_ASSERT_STRING_EQUAL(jrnl_steer_name(JRNL_STEER_VF), "vf");
}

static CU_TestInfo tests[] = {
	{ "round trip, update, remove", test_round_trip },
	{ "bad input refused", test_bad_input },
	{ "crash leftovers moved aside", test_crash_leftovers },
	{ "decoder type checks", test_decode_types },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_SuiteInfo suites[] = {
		{ "jrnl", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return hb_cu_run(suites);
}
