/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tools/protodoc_gen.c — print the message, attribute, enum and limit
 * tables of docs/protocol.md from the library's own tables (which are
 * expanded from proto/include/hybond/msgs.def).  Used by hybond-protodoc
 * and by the unit test that fails when the document drifts from the code.
 */
#include <stdlib.h>
#include <string.h>

#include <hybond/proto_desc.h>

#include "protodoc.h"

struct gen {
	FILE *out;
	int err;
};

/* printf to the output, remembering any failure for the caller. */
#define out(g, ...)                                         \
	do {                                                \
		if (fprintf((g)->out, __VA_ARGS__) < 0)     \
			(g)->err = 1;                       \
	} while (0)

/* Table cell text: '|' would end the cell, so escape it. */
static void cell(struct gen *g, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			out(g, "\\|");
		else if (fputc(*s, g->out) == EOF)
			g->err = 1;
	}
}

/* Lower-case anchor of an attribute set heading "Set NAME". */
static void anchor(struct gen *g, const char *set)
{
	out(g, "set-");
	for (; *set; set++) {
		char c = *set;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		out(g, "%c", c);
	}
}

static void set_link(struct gen *g, const char *set)
{
	out(g, "[`%s`](#", set);
	anchor(g, set);
	out(g, ")");
}

static void messages(struct gen *g)
{
	unsigned t;

	out(g, "### Message types\n\n");
	out(g, "| Type | Name | Sent by | Successful answer | Payload | Meaning |\n");
	out(g, "|-----:|------|---------|-------------------|---------|---------|\n");
	for (t = 0; t < HB_MSG_LAST_; t++) {
		const struct hb_msg_desc *d = hb_msg_desc((uint16_t)t);

		if (!d)
			continue;
		out(g, "| %u | `%s` | %s | ", d->type, d->name, d->sender);
		if (d->answer)
			out(g, "`%s` (or `ERROR`)", hb_msg_name(d->answer));
		else
			out(g, "none");
		out(g, " | ");
		set_link(g, d->set->name);
		out(g, " | ");
		cell(g, d->doc);
		out(g, " |\n");
	}
	out(g, "\n");
}

static void attr_row(struct gen *g, const struct hb_attr_policy *a)
{
	out(g, "| %u | `%s` | ", a->type, a->name);
	switch (a->kind) {
	case HB_K_NEST:
	case HB_K_NESTN:
		out(g, "nested ");
		set_link(g, a->nest->name);
		out(g, " | any");
		break;
	case HB_K_STR:
		out(g, "string | 1..%llu", (unsigned long long)a->limit);
		break;
	case HB_K_MAC:
		out(g, "mac | 6");
		break;
	default: {
		static const unsigned sizes[] = { 0, 1, 2, 4, 8 };

		out(g, "%s | %u", hb_kind_name(a->kind), sizes[a->kind]);
		break;
	}
	}
	out(g, " | %s | %u | ", a->required ? "yes" : "no", a->max_count);
	if (a->kind == HB_K_STR)
		out(g, "NUL-terminated, no other NUL");
	else if (a->kind <= HB_K_U64 && a->limit)
		out(g, "0..%llu", (unsigned long long)a->limit);
	else
		out(g, "-");
	out(g, " | ");
	cell(g, a->doc);
	out(g, " |\n");
}

static void sets(struct gen *g)
{
	const struct hb_set_desc *s;
	size_t i, t;

	out(g, "### Attribute sets\n\n");
	out(g, "Length is the value length in bytes (the attribute header and the\n"
	       "padding are not counted; string lengths include the NUL). Max count\n"
	       "above 1 means the attribute may be repeated up to that many times.\n\n");
	for (i = 0; (s = hb_set_desc_at(i)) != NULL; i++) {
		out(g, "#### Set %s\n\n", s->name);
		cell(g, s->doc);
		out(g, "\n\n");
		out(g, "| Type | Name | Wire type | Length | Required | Max count | Valid values | Meaning |\n");
		out(g, "|-----:|------|-----------|--------|----------|----------:|--------------|---------|\n");
		for (t = 0; t < s->n_attrs; t++)
			if (s->attrs[t].kind != HB_K_NONE)
				attr_row(g, &s->attrs[t]);
		out(g, "\n");
	}
}

static void enum_table(struct gen *g, const char *title, const char *col,
		       const char *prefix, const struct hb_enum_entry *e, int bits)
{
	out(g, "### %s\n\n| %s | Name | Meaning |\n|-----:|------|---------|\n",
	    title, col);
	for (; e->name; e++) {
		if (bits)
			out(g, "| %ld (0x%lx) | `%s%s` | ", e->value, 1ul << e->value,
			    prefix, e->name);
		else
			out(g, "| %ld | `%s%s` | ", e->value, prefix, e->name);
		cell(g, e->text);
		out(g, " |\n");
	}
	out(g, "\n");
}

static void limits(struct gen *g)
{
	out(g, "### Limits and constants\n\n| Constant | Value | Meaning |\n"
	       "|----------|------:|---------|\n");
	out(g, "| `HB_PORT_NAME` | `%s` | virtio-serial port name |\n", HB_PORT_NAME);
	out(g, "| `HB_MAGIC` | 0x%08x | bytes `H` `Y` `B` `N` |\n", HB_MAGIC);
	out(g, "| `HB_VERSION_MAJOR` | %d | protocol major version |\n", HB_VERSION_MAJOR);
	out(g, "| `HB_VERSION_MINOR` | %d | protocol minor version |\n", HB_VERSION_MINOR);
	out(g, "| `HB_HDR_LEN` | %u | frame header length |\n", HB_HDR_LEN);
	out(g, "| `HB_FRAME_MAX` | %u | largest frame, header included |\n", HB_FRAME_MAX);
	out(g, "| `HB_PAYLOAD_MAX` | %u | largest payload |\n", HB_PAYLOAD_MAX);
	out(g, "| `HB_F_REPLY` | 0x%04x | header flag: answer to the request with the same seq |\n", HB_F_REPLY);
	out(g, "| `HB_ATTR_F_NESTED` | 0x%04x | attribute type flag: value is attributes |\n", HB_ATTR_F_NESTED);
	out(g, "| `HB_MAX_NEST_DEPTH` | %d | levels of nested attributes below the payload |\n", HB_MAX_NEST_DEPTH);
	out(g, "| `HB_MAX_PAIRS` | %d | PAIR attributes in one STATUS |\n", HB_MAX_PAIRS);
	out(g, "\n");
}

/*
 * hb_protodoc_write - print every generated table.
 * Returns 0, or -1 if writing failed.
 */
int hb_protodoc_write(FILE *o)
{
	struct gen g = { o, 0 };

	messages(&g);
	sets(&g);
	enum_table(&g, "Capability bits (HELLO `CAPS`)", "Bit", "HB_CAP_", hb_cap_table, 1);
	enum_table(&g, "Paths (`enum hb_path`)", "Value", "HB_PATH_", hb_path_table, 0);
	enum_table(&g, "Event kinds (`enum hb_event_kind`)", "Value", "HB_EV_", hb_event_kind_table, 0);
	enum_table(&g, "ERROR codes (`enum hb_error_code`)", "Code", "HB_ERR_", hb_error_code_table, 0);
	enum_table(&g, "Protocol errors (`enum hb_err`)", "Value", "HB_E_", hb_err_table, 0);
	limits(&g);
	return g.err ? -1 : 0;
}

/* hb_protodoc_generate - the tables as a malloc'ed string, or NULL. */
char *hb_protodoc_generate(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (!f)
		return NULL;
	rc = hb_protodoc_write(f);
	if (fclose(f) != 0 || rc < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * hb_protodoc_splice - @doc with the text between its BEGIN marker line and
 * its END marker line replaced by @gen.  Returns a malloc'ed string, or
 * NULL if a marker is missing (or out of memory).
 */
char *hb_protodoc_splice(const char *doc, const char *gen)
{
	const char *b = strstr(doc, HB_PROTODOC_BEGIN);
	const char *e, *body;
	size_t head, glen, tail;
	char *res;

	if (!b)
		return NULL;
	body = strchr(b, '\n');
	if (!body)
		return NULL;
	body++;
	e = strstr(body, HB_PROTODOC_END);
	if (!e)
		return NULL;
	head = (size_t)(body - doc);
	glen = strlen(gen);
	tail = strlen(e);
	res = malloc(head + glen + tail + 1);
	if (!res)
		return NULL;
	memcpy(res, doc, head);
	memcpy(res + head, gen, glen);
	memcpy(res + head + glen, e, tail + 1);
	return res;
}

/* hb_protodoc_read_file - a whole file as a malloc'ed string, or NULL. */
char *hb_protodoc_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f)
		return NULL;
	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);

			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (buf && ferror(f)) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[len] = '\0';
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
