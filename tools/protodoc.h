/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tools/protodoc.h — generator of the protocol tables in docs/protocol.md.
 */
#ifndef HB_PROTODOC_H
#define HB_PROTODOC_H

#include <stddef.h>
#include <stdio.h>

#define HB_PROTODOC_BEGIN "<!-- BEGIN hybond-protodoc"
#define HB_PROTODOC_END   "<!-- END hybond-protodoc -->"

int hb_protodoc_write(FILE *out);
char *hb_protodoc_generate(void);
char *hb_protodoc_splice(const char *doc, const char *gen);
char *hb_protodoc_read_file(const char *path);

#endif
