/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/cu_run.h — the one CUnit runner every unit test binary uses. */
#ifndef HB_CU_RUN_H
#define HB_CU_RUN_H

#include <CUnit/Basic.h>

/*
 * Register every suite of SUITES (a table ending in CU_SUITE_INFO_NULL, each with a
 * test table ending in CU_TEST_INFO_NULL), run them and print CUnit's summary, the
 * lines CI reads.  Exit status: 0 all passed, 1 an assertion or a test failed,
 * 2 CUnit itself failed (registry, registration, run).
 */
static inline int hb_cu_run(CU_SuiteInfo *suites)
{
	unsigned int failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (CU_register_suites(suites) != CUE_SUCCESS) {
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS) {
		CU_cleanup_registry();
		return 2;
	}
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

#endif
