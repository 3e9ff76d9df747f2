/*
 * test.h - the C test harness shared by the unit and bpf layers.
 *
 * Tests register themselves with TEST(name) and run one per forked child, so
 * a crash, a leak report (LeakSanitizer runs at the child's exit) or a hang in
 * one test is reported against that test and the others still run. The child
 * sends its failure messages or skip reason to the parent through a pipe; the
 * parent prints exactly one line per test and the closing `N passed, N failed`
 * line that every test layer ends with.
 *
 * ASSERT_* macros stop the test at the first failure (the child exits); that
 * keeps each test a straight line of checks without cleanup ladders. SKIP()
 * is only for a machine that truly lacks a feature (not root, no BTF, ...).
 */
#ifndef CAPSTAN_TEST_H
#define CAPSTAN_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>

typedef void (*test_fn)(void);

void test_register(const char *name, const char *file, test_fn fn);

/* Report a failure and end the test (never returns). */
void test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
/* End the test as skipped with a reason (never returns). */
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* A per-test scratch directory, created on first use, removed after the test. */
const char *test_tmpdir(void);
/*
 * Run fn at the end of the test, however it ends (pass, fail, skip), before
 * the scratch directory is removed; last registered runs first.
 */
void test_defer(void (*fn)(void));
/* Skip unless running as root. */
void test_require_root(void);

#define TEST(name)                                                          \
	static void test_##name(void);                                      \
	__attribute__((constructor)) static void test_register_##name(void) \
	{                                                                   \
		test_register(#name, __FILE__, test_##name);                \
	}                                                                   \
	static void test_##name(void)

#define ASSERT(cond)                                                                  \
	do {                                                                          \
		if (!(cond))                                                          \
			test_fail(__FILE__, __LINE__, "assertion failed: %s", #cond); \
	} while (0)

#define ASSERT_MSG(cond, ...)                                       \
	do {                                                        \
		if (!(cond))                                        \
			test_fail(__FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

#define ASSERT_EQ(a, b)                                                                          \
	do {                                                                                     \
		long long a_ = (long long)(a), b_ = (long long)(b);                              \
		if (a_ != b_)                                                                    \
			test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_); \
	} while (0)

#define ASSERT_NE(a, b)                                                                   \
	do {                                                                              \
		long long a_ = (long long)(a), b_ = (long long)(b);                       \
		if (a_ == b_)                                                             \
			test_fail(__FILE__, __LINE__, "%s != %s: both %lld", #a, #b, a_); \
	} while (0)

#define ASSERT_STREQ(a, b)                                                                  \
	do {                                                                                \
		const char *a_ = (a), *b_ = (b);                                            \
		if (!a_ || !b_ || strcmp(a_, b_) != 0)                                      \
			test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, \
				  a_ ? a_ : "(null)", b_ ? b_ : "(null)");                  \
	} while (0)

/* For calls that return 0 or -errno. */
#define ASSERT_OK(expr)                                                                    \
	do {                                                                               \
		long long r_ = (long long)(expr);                                          \
		if (r_ != 0)                                                               \
			test_fail(__FILE__, __LINE__, "%s: returned %lld (%s)", #expr, r_, \
				  r_ < 0 ? strerror((int)-r_) : "not 0");                  \
	} while (0)

#define ASSERT_NOT_NULL(p) ASSERT_MSG((p) != NULL, "%s is NULL", #p)
#define ASSERT_NULL(p) ASSERT_MSG((p) == NULL, "%s is not NULL", #p)

#define SKIP(...) test_skip(__VA_ARGS__)

#endif
