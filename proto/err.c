/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * proto/err.c — names and descriptions of errors, from hybond/msgs.def.
 */
#include "internal.h"

/*
 * hb_strerror - description of a negative enum hb_err.  Never NULL; an
 * unknown value gives "unknown error" (HB_OK gives "success").
 */
const char *hb_strerror(int err)
{
	switch (err) {
	case HB_OK:
		return "success";
#define HB_CASE_(name, val, text) case (val): return text;
	HB_ERRORS(HB_CASE_)
#undef HB_CASE_
	default:
		return "unknown error";
	}
}

/* hb_err_name - "HB_E_TRUNC", ... for logs; "HB_E_?" if unknown. */
const char *hb_err_name(int err)
{
	switch (err) {
	case HB_OK:
		return "HB_OK";
#define HB_CASE_(name, val, text) case (val): return "HB_E_" #name;
	HB_ERRORS(HB_CASE_)
#undef HB_CASE_
	default:
		return "HB_E_?";
	}
}

/* hb_error_code_name - name of an ERROR CODE value, "UNKNOWN" if unknown. */
const char *hb_error_code_name(uint32_t code)
{
	switch (code) {
#define HB_CASE_(name, val, text) case (val): return #name;
	HB_ERROR_CODES(HB_CASE_)
#undef HB_CASE_
	default:
		return "UNKNOWN";
	}
}
