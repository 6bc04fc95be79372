/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hybond/proto_desc.h — read-only introspection of the protocol tables
 * expanded from hybond/msgs.def.  Used by the validator itself, by the
 * documentation generator (hybond-protodoc) and by tests; agents normally
 * do not need it.
 */
#ifndef HYBOND_PROTO_DESC_H
#define HYBOND_PROTO_DESC_H

#include <hybond/proto.h>

#ifdef __cplusplus
extern "C" {
#endif

enum hb_kind {
	HB_K_NONE = 0,          /* hole in a policy table: type not defined */
	HB_K_U8,
	HB_K_U16,
	HB_K_U32,
	HB_K_U64,
	HB_K_STR,
	HB_K_MAC,
	HB_K_NEST,
	HB_K_NESTN,
};

struct hb_set_desc;

/* One attribute of a set: the validator policy and where it lives in the struct. */
struct hb_attr_policy {
	const char *name;               /* "MAC" */
	const char *doc;
	uint16_t type;
	uint8_t kind;                   /* enum hb_kind */
	uint8_t required;
	uint16_t max_count;             /* 1, or the bound of a repeated nest */
	uint64_t limit;                 /* largest value / largest string size incl. NUL; 0: none */
	size_t off;                     /* offset of the field in the set's struct */
	size_t count_off;               /* NESTN: offset of the uint8_t n_<field> */
	const struct hb_set_desc *nest; /* NEST/NESTN: the nested set */
};

/* A set: policy table indexed by attribute type (holes have kind HB_K_NONE). */
struct hb_set_desc {
	const char *name;               /* "PAIR" */
	const char *doc;
	const struct hb_attr_policy *attrs;
	size_t n_attrs;                 /* largest type + 1 */
	size_t size;                    /* sizeof the decoded struct */
};

struct hb_msg_desc {
	uint16_t type;
	uint16_t answer;                /* enum hb_msg_type of a successful answer, or 0 */
	const char *name;
	const char *sender;
	const char *doc;
	const struct hb_set_desc *set;
	size_t off;                     /* offset of the union member in struct hb_msg */
};

/* Descriptor of a message type, or NULL if the type is unknown. */
const struct hb_msg_desc *hb_msg_desc(uint16_t type);
/* The i-th attribute set in msgs.def order, or NULL past the end. */
const struct hb_set_desc *hb_set_desc_at(size_t i);
/* Name of an attribute kind ("u32", "string", ...). */
const char *hb_kind_name(unsigned kind);

/* Name/value/text tables of the enums, for documentation generators. */
struct hb_enum_entry {
	const char *name;
	long value;
	const char *text;
};
extern const struct hb_enum_entry hb_err_table[];
extern const struct hb_enum_entry hb_error_code_table[];
extern const struct hb_enum_entry hb_cap_table[];       /* value is the bit number */
extern const struct hb_enum_entry hb_path_table[];
extern const struct hb_enum_entry hb_event_kind_table[];
/* All tables end with an entry whose name is NULL. */

#ifdef __cplusplus
}
#endif

#endif /* HYBOND_PROTO_DESC_H */
