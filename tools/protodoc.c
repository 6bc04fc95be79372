/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tools/protodoc.c — hybond-protodoc: the generated part of
 * docs/protocol.md.
 *
 *   hybond-protodoc               print the tables (markdown)
 *   hybond-protodoc --check FILE  exit 1 if FILE's generated section differs
 *   hybond-protodoc --update FILE rewrite FILE's generated section
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protodoc.h"

static int write_file(const char *path, const char *text)
{
	char tmp[4096];
	FILE *f;
	size_t n = strlen(text);

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	if (fwrite(text, 1, n, f) != n) {
		(void)fclose(f);
		(void)remove(tmp);
		return -1;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		(void)remove(tmp);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char *gen, *doc, *res;
	int rc = 0;

	if (argc == 1)
		return hb_protodoc_write(stdout) < 0 ? 1 : 0;
	if (argc != 3 || (strcmp(argv[1], "--check") != 0 && strcmp(argv[1], "--update") != 0)) {
		(void)fprintf(stderr, "usage: %s [--check|--update FILE]\n", argv[0]);
		return 2;
	}
	gen = hb_protodoc_generate();
	doc = hb_protodoc_read_file(argv[2]);
	if (!gen || !doc) {
		(void)fprintf(stderr, "hybond-protodoc: cannot read %s\n", argv[2]);
		free(gen);
		free(doc);
		return 2;
	}
	res = hb_protodoc_splice(doc, gen);
	if (!res) {
		(void)fprintf(stderr, "hybond-protodoc: %s: no '%s' ... '%s' section\n",
			      argv[2], HB_PROTODOC_BEGIN, HB_PROTODOC_END);
		rc = 2;
	} else if (strcmp(argv[1], "--check") == 0) {
		if (strcmp(res, doc) != 0) {
			(void)fprintf(stderr, "hybond-protodoc: %s is out of date; "
				      "run 'make protodoc-update'\n", argv[2]);
			rc = 1;
		}
	} else if (strcmp(res, doc) != 0 && write_file(argv[2], res) < 0) {
		(void)fprintf(stderr, "hybond-protodoc: cannot write %s\n", argv[2]);
		rc = 2;
	}
	free(res);
	free(gen);
	free(doc);
	return rc;
}
