/* Unit tests for lib/util's small numeric helpers: cmp_double, sort_median. */
#include "test.h"
#include "util.h"

#include <stdlib.h>

TEST(util_cmp_double_orders)
{
	double a = 1.5, b = 2.5, c = 1.5;

	ASSERT(cmp_double(&a, &b) < 0);
	ASSERT(cmp_double(&b, &a) > 0);
	ASSERT(cmp_double(&a, &c) == 0);
}

TEST(util_sort_median_odd_even_empty)
{
	double odd[] = { 9, 1, 5, 3, 7 }, even[] = { 4, 1, 3, 2 }, one[] = { 42 };

	ASSERT(sort_median(odd, 5) == 5);
	/* Sorted in place, as documented. */
	for (size_t i = 1; i < 5; i++)
		ASSERT(odd[i - 1] <= odd[i]);
	ASSERT(sort_median(even, 4) == 2.5);
	ASSERT(sort_median(one, 1) == 42);
	ASSERT(sort_median(NULL, 0) == 0);
}

TEST(util_sort_median_ignores_outliers)
{
	/* The first of a run of timings may be far off; the median is not moved by it. */
	double v[] = { 834e-6, 78e-6, 72e-6, 58e-6, 60e-6 };

	ASSERT(sort_median(v, 5) == 72e-6);
}
