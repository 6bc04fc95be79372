/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_proto_samples.h — a fully populated sample of every
 * message type, shared by the unit tests and the fuzz corpus generator.
 */
#ifndef HB_TEST_PROTO_SAMPLES_H
#define HB_TEST_PROTO_SAMPLES_H

#include <hybond/proto.h>

/* Fill @m with message @type, every attribute (optional ones too) set. */
void hb_sample_msg(uint16_t type, struct hb_msg *m);

#endif
