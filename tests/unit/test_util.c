/* Unit tests for lib/util's small helpers: cmp_double, sort_median, proc_rss_kib. */
#include "test.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

TEST(util_proc_rss_kib_grows_with_touched_memory)
{
	size_t len = 64u << 20;
	long before = proc_rss_kib(getpid()), after;
	char *p = xmalloc(len);

	ASSERT(before > 0);
	memset(p, 1, len); /* touched pages count, allocated ones do not */
	after = proc_rss_kib(getpid());
	free(p);
	ASSERT_MSG(after - before >= 60 * 1024, "RSS %ld KiB, then %ld KiB", before, after);
	ASSERT_EQ(proc_rss_kib(-1), -1);
}
