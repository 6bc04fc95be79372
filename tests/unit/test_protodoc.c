/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_protodoc.c — fails when the generated section of
 * docs/protocol.md differs from what hybond-protodoc prints for the
 * current hybond/msgs.def, so the spec cannot drift from the code.
 * Fix a failure with `make protodoc-update`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/cu_run.h"

#include <hybond/proto_desc.h>

#include "tools/protodoc.h"

/* $HB_PROTOCOL_MD, else the source tree's file (path set by unit.mk),
 * else docs/protocol.md relative to where the test runs. */
static const char *doc_path(void)
{
	const char *p = getenv("HB_PROTOCOL_MD");

	if (p && *p)
		return p;
#ifdef HB_DOC_PATH
	if (access(HB_DOC_PATH, R_OK) == 0)
		return HB_DOC_PATH;
#endif
	return "docs/protocol.md";
}

static void test_doc_in_sync(void)
{
	char *gen = hb_protodoc_generate();
	char *doc = hb_protodoc_read_file(doc_path());
	char *res = NULL;

	CU_ASSERT_PTR_NOT_NULL(gen);
	CU_ASSERT_PTR_NOT_NULL(doc);
	if (gen && doc) {
		res = hb_protodoc_splice(doc, gen);
		CU_ASSERT_PTR_NOT_NULL(res);
		if (res && strcmp(res, doc) != 0) {
			(void)fprintf(stderr, "\n%s is out of date with msgs.def: "
				      "run 'make protodoc-update'\n", doc_path());
			CU_FAIL("docs/protocol.md generated section differs");
		}
	}
	free(res);
	free(doc);
	free(gen);
}

static void test_doc_mentions_everything(void)
{
	char *gen = hb_protodoc_generate();
	const struct hb_set_desc *s;
	size_t i, t;

	CU_ASSERT_PTR_NOT_NULL_FATAL(gen);
	if (!gen)
		return;
	for (t = 1; t < HB_MSG_LAST_; t++) {
		char want[64];

		(void)snprintf(want, sizeof(want), "| `%s` |", hb_msg_name((uint16_t)t));
		CU_ASSERT_PTR_NOT_NULL(strstr(gen, want));
	}
	for (i = 0; (s = hb_set_desc_at(i)) != NULL; i++) {
		char want[64];

		(void)snprintf(want, sizeof(want), "#### Set %s\n", s->name);
		CU_ASSERT_PTR_NOT_NULL(strstr(gen, want));
	}
	free(gen);
}

static CU_TestInfo tests[] = {
	{ "docs/protocol.md matches msgs.def", test_doc_in_sync },
	{ "tables cover every message and set", test_doc_mentions_everything },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_SuiteInfo suites[] = {
		{ "protodoc", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return hb_cu_run(suites);
}
