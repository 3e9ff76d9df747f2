/* Unit tests for lib/ktime: RFC 3339 parsing, the three Kubernetes output forms, range. */
#include "test.h"
#include "ktime.h"

#include <stdint.h>
#include <time.h>

#define NS 1000000000LL

static int64_t parse_ok(const char *s)
{
	int64_t ns = 0;
	int r = ktime_parse(s, &ns);

	ASSERT_MSG(r == 0, "ktime_parse(\"%s\") = %d", s, r);
	return ns;
}

static void expect_ns(const char *s, int64_t want)
{
	int64_t got = parse_ok(s);

	ASSERT_MSG(got == want, "%s: got %lld, want %lld", s, (long long)got, (long long)want);
}

TEST(ktime_parse_utc)
{
	expect_ns("2024-01-02T03:04:05Z", 1704164645 * NS);
	expect_ns("1970-01-01T00:00:00Z", 0);
	expect_ns("1970-01-01T00:00:01Z", NS);
	expect_ns("2038-01-19T03:14:08Z", 2147483648LL * NS); /* past 32-bit time_t */
	expect_ns("2200-12-31T23:59:59Z", 7289654399LL * NS);
	expect_ns("1969-07-20T20:17:40Z", -14182940LL * NS); /* before 1970 */
	expect_ns("1900-03-01T00:00:00Z", -2203891200LL * NS);
	expect_ns("1969-12-31T23:59:59.999999999Z", -1);
	expect_ns("2000-02-29T12:00:00Z", 951825600LL * NS); /* 2000 is a leap year */
	expect_ns("2024-02-29T00:00:00Z", parse_ok("2024-03-01T00:00:00Z") - 86400 * NS);
	/* RFC 3339 allows lower-case separators. */
	expect_ns("2024-01-02t03:04:05z", 1704164645 * NS);
}

TEST(ktime_parse_fractions)
{
	int64_t base = 1704164645 * NS;

	expect_ns("2024-01-02T03:04:05.1Z", base + 100000000);
	expect_ns("2024-01-02T03:04:05.12Z", base + 120000000);
	expect_ns("2024-01-02T03:04:05.123456Z", base + 123456000);
	expect_ns("2024-01-02T03:04:05.000000001Z", base + 1);
	expect_ns("2024-01-02T03:04:05.999999999Z", base + 999999999);
	expect_ns("2024-01-02T03:04:05.000Z", base);
	expect_ns("1969-12-31T23:59:59.5Z", -NS / 2);
}

TEST(ktime_parse_offsets)
{
	int64_t want = 1704164645 * NS;

	expect_ns("2024-01-02T05:04:05+02:00", want);
	expect_ns("2024-01-02T01:04:05-02:00", want);
	expect_ns("2024-01-01T21:34:05-05:30", want);
	expect_ns("2024-01-02T08:49:05.5+05:45", want + NS / 2);
	expect_ns("2024-01-02T03:04:05+00:00", want);
	expect_ns("2024-01-02T03:04:05-00:00", want);
	expect_ns("2024-01-02T03:04:05.25+00:00", want + NS / 4);
	expect_ns("2024-01-03T02:03:05+22:59", want);
	/* Offsets move the instant across a leap day and a year. */
	expect_ns("2024-03-01T01:00:00+02:00", parse_ok("2024-02-29T23:00:00Z"));
	expect_ns("2023-12-31T23:30:00-01:00", parse_ok("2024-01-01T00:30:00Z"));
}

TEST(ktime_parse_rejects)
{
	static const char *const bad[] = {
		"",
		"2024",
		"2024-01-02",
		"2024-01-02T03:04:05",	    /* no offset */
		"2024-01-02T03:04:05-0530", /* not RFC 3339 */
		"2024-01-02T03:04:05+0530",
		"2024-01-02T03:04:05+05",
		"2024-01-02T03:04:05+5:30",
		"2024-01-02T03:04:05+05:3",
		"2024-01-02T03:04:05+24:00",
		"2024-01-02T03:04:05+02:60",
		"2024-01-02T03:04:05 Z",
		"2024-01-02 03:04:05Z", /* space separator */
		"2024-01-02X03:04:05Z",
		" 2024-01-02T03:04:05Z",
		"2024-01-02T03:04:05Z ",
		"2024-01-02T03:04:05Zjunk",
		"2024-01-02T03:04:05ZZ",
		"2024-01-02T03:04:05UTC",
		"2024-01-02T03:04:05.Z",	   /* dot without digits */
		"2024-01-02T03:04:05.1234567890Z", /* 10 fraction digits */
		"2024-01-02T03:04:05,5Z",
		"2024-1-02T03:04:05Z",
		"2024-01-2T03:04:05Z",
		"24-01-02T03:04:05Z",
		"12024-01-02T03:04:05Z",
		"+2024-01-02T03:04:05Z",
		"2024/01/02T03:04:05Z",
		"2024-01-02T3:04:05Z",
		"2024-01-02T03:4:05Z",
		"2024-01-02T03:04:5Z",
		"2024-01-02T03-04-05Z",
		"2024-00-10T00:00:00Z", /* month 0 */
		"2024-13-10T00:00:00Z", /* month 13 */
		"2024-01-00T00:00:00Z",
		"2024-01-32T00:00:00Z",
		"2024-04-31T00:00:00Z",
		"2023-02-29T00:00:00Z", /* not a leap year */
		"1900-02-29T00:00:00Z", /* century, not leap */
		"2100-02-29T00:00:00Z",
		"2024-02-30T00:00:00Z",
		"2024-01-02T24:00:00Z", /* hour 24 */
		"2024-01-02T23:60:00Z",
		"2024-12-31T23:59:60Z", /* leap second: Go rejects it too */
		"2024-01-02T03:04:05.1e3Z",
		"2024-01-02T0a:04:05Z",
		"\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x94-01-02T03:04:05Z",
	};
	int64_t ns = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = ktime_parse(bad[i], &ns);

		ASSERT_MSG(r == -EINVAL, "\"%s\": %d", bad[i], r);
	}
	ASSERT_EQ(ns, 42); /* untouched on failure */
	ASSERT_EQ(ktime_parse(NULL, &ns), -EINVAL);
	ASSERT_EQ(ktime_parse("2024-01-02T03:04:05Z", NULL), -EINVAL);
}

TEST(ktime_parse_range)
{
	int64_t ns = 42;

	expect_ns("2262-04-11T23:47:16.854775807Z", INT64_MAX);
	expect_ns("1677-09-21T00:12:43.145224192Z", INT64_MIN);
	ASSERT_EQ(ktime_parse("2262-04-11T23:47:16.854775808Z", &ns), -ERANGE);
	ASSERT_EQ(ktime_parse("1677-09-21T00:12:43.145224191Z", &ns), -ERANGE);
	/* In range as local time, out of range once the offset is applied. */
	ASSERT_EQ(ktime_parse("2262-04-11T23:47:16-00:01", &ns), -ERANGE);
	ASSERT_EQ(ktime_parse("1677-09-21T00:13:43.145224192+00:01", &ns), 0);
	ASSERT_EQ(ns, INT64_MIN);
	ns = 42;
	ASSERT_EQ(ktime_parse("1677-09-21T00:12:43.145224192+00:01", &ns), -ERANGE);
	ASSERT_EQ(ktime_parse("0000-01-01T00:00:00Z", &ns), -ERANGE);
	ASSERT_EQ(ktime_parse("9999-12-31T23:59:59.999999999Z", &ns), -ERANGE);
	ASSERT_EQ(ktime_parse("1600-02-29T00:00:00Z", &ns), -ERANGE); /* valid date, too early */
	ASSERT_EQ(ns, 42);
}

static const char *fmt_with(int (*f)(int64_t, char *, size_t), int64_t ns)
{
	static char buf[KTIME_BUFSZ];

	ASSERT_OK(f(ns, buf, sizeof(buf)));
	return buf;
}

TEST(ktime_format_forms)
{
	int64_t t = 1704164645 * NS;

	ASSERT_STREQ(fmt_with(ktime_format, t), "2024-01-02T03:04:05Z");
	ASSERT_STREQ(fmt_with(ktime_format, t + 999999999), "2024-01-02T03:04:05Z"); /* truncated */
	ASSERT_STREQ(fmt_with(ktime_format_micro, t), "2024-01-02T03:04:05.000000Z");
	ASSERT_STREQ(fmt_with(ktime_format_micro, t + 123456789), "2024-01-02T03:04:05.123456Z");
	ASSERT_STREQ(fmt_with(ktime_format_micro, t + 999), "2024-01-02T03:04:05.000000Z");
	/* RFC3339Nano: trailing zeros trimmed, no fraction at all when zero. */
	ASSERT_STREQ(fmt_with(ktime_format_nano, t), "2024-01-02T03:04:05Z");
	ASSERT_STREQ(fmt_with(ktime_format_nano, t + 500000000), "2024-01-02T03:04:05.5Z");
	ASSERT_STREQ(fmt_with(ktime_format_nano, t + 120000000), "2024-01-02T03:04:05.12Z");
	ASSERT_STREQ(fmt_with(ktime_format_nano, t + 1000), "2024-01-02T03:04:05.000001Z");
	ASSERT_STREQ(fmt_with(ktime_format_nano, t + 1), "2024-01-02T03:04:05.000000001Z");
	ASSERT_STREQ(fmt_with(ktime_format_nano, t + 123456789), "2024-01-02T03:04:05.123456789Z");
	ASSERT_STREQ(fmt_with(ktime_format, 0), "1970-01-01T00:00:00Z");
	ASSERT_STREQ(fmt_with(ktime_format, 951825600LL * NS), "2000-02-29T12:00:00Z");
	ASSERT_STREQ(fmt_with(ktime_format, 2147483648LL * NS), "2038-01-19T03:14:08Z");
	ASSERT_STREQ(fmt_with(ktime_format, 7289654399LL * NS), "2200-12-31T23:59:59Z");
}

TEST(ktime_format_before_1970_floors)
{
	ASSERT_STREQ(fmt_with(ktime_format, -1), "1969-12-31T23:59:59Z");
	ASSERT_STREQ(fmt_with(ktime_format_micro, -1), "1969-12-31T23:59:59.999999Z");
	ASSERT_STREQ(fmt_with(ktime_format_nano, -1), "1969-12-31T23:59:59.999999999Z");
	ASSERT_STREQ(fmt_with(ktime_format_nano, -NS), "1969-12-31T23:59:59Z");
	ASSERT_STREQ(fmt_with(ktime_format_nano, -NS / 2), "1969-12-31T23:59:59.5Z");
	ASSERT_STREQ(fmt_with(ktime_format, -86400 * NS), "1969-12-31T00:00:00Z");
	ASSERT_STREQ(fmt_with(ktime_format, -86400 * NS - 1), "1969-12-30T23:59:59Z");
	ASSERT_STREQ(fmt_with(ktime_format, -2203891200LL * NS), "1900-03-01T00:00:00Z");
	ASSERT_STREQ(fmt_with(ktime_format, -2203891200LL * NS - 1), "1900-02-28T23:59:59Z");
	ASSERT_STREQ(fmt_with(ktime_format_nano, INT64_MIN), "1677-09-21T00:12:43.145224192Z");
	ASSERT_STREQ(fmt_with(ktime_format_nano, INT64_MAX), "2262-04-11T23:47:16.854775807Z");
}

TEST(ktime_format_buffer_too_small)
{
	char buf[KTIME_BUFSZ];

	memset(buf, 'X', sizeof(buf));
	ASSERT_EQ(ktime_format(0, buf, 20), -ENOSPC); /* 20 characters need 21 bytes */
	ASSERT_STREQ(buf, "");
	ASSERT_OK(ktime_format(0, buf, 21));
	ASSERT_STREQ(buf, "1970-01-01T00:00:00Z");
	ASSERT_EQ(ktime_format_micro(0, buf, 27), -ENOSPC);
	ASSERT_OK(ktime_format_micro(0, buf, 28));
	ASSERT_EQ(ktime_format_nano(INT64_MIN, buf, 30), -ENOSPC);
	ASSERT_OK(ktime_format_nano(INT64_MIN, buf, 31));
	ASSERT_EQ(ktime_format(0, NULL, 0), -ENOSPC);
}

TEST(ktime_round_trips)
{
	static const char *const inputs[] = {
		"2024-01-02T03:04:05Z",		  "2024-01-02T03:04:05.5Z",
		"1969-12-31T23:59:59.999999999Z", "1677-09-21T00:12:43.145224192Z",
		"2262-04-11T23:47:16.854775807Z", "2000-02-29T00:00:00.000000001Z",
		"2100-03-01T00:00:00Z",		  "1804-02-29T12:34:56.78Z",
	};
	char buf[KTIME_BUFSZ];

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		int64_t ns = parse_ok(inputs[i]), mod, back;

		/* Inputs are already in RFC3339Nano form, so the text must come back. */
		ASSERT_OK(ktime_format_nano(ns, buf, sizeof(buf)));
		ASSERT_STREQ(buf, inputs[i]);
		ASSERT_EQ(parse_ok(buf), ns);
		/*
		 * The micro form keeps the instant to the microsecond below it,
		 * which for INT64_MIN is itself before the representable range.
		 */
		ASSERT_OK(ktime_format_micro(ns, buf, sizeof(buf)));
		mod = ((ns % 1000) + 1000) % 1000;
		if (ns < INT64_MIN + mod)
			ASSERT_EQ(ktime_parse(buf, &back), -ERANGE);
		else
			ASSERT_EQ(parse_ok(buf), ns - mod);
	}
	/* With an offset, the canonical output is UTC. */
	ASSERT_OK(ktime_format_nano(parse_ok("2024-01-01T21:34:05.25-05:30"), buf, sizeof(buf)));
	ASSERT_STREQ(buf, "2024-01-02T03:04:05.25Z");
}

/*
 * Every day of the representable range, at a varying time of day, against
 * glibc's gmtime_r (64-bit time_t, proleptic Gregorian): an independent check
 * of the calendar arithmetic in both directions.
 */
TEST(ktime_matches_gmtime_over_whole_range)
{
	int64_t first = INT64_MIN / NS + 86400, last = INT64_MAX / NS - 86400;
	char want[64], got[KTIME_BUFSZ];
	int64_t sec, step = 0;

	for (sec = first; sec < last; sec += 86400 + 7) {
		time_t t = (time_t)sec;
		struct tm tm;

		ASSERT_NOT_NULL(gmtime_r(&t, &tm));
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
		ASSERT_OK(ktime_format(sec * NS, got, sizeof(got)));
		ASSERT_MSG(strcmp(got, want) == 0, "%lld: %s, gmtime says %s", (long long)sec, got,
			   want);
		ASSERT_EQ(parse_ok(want), sec * NS);
		step++;
	}
	ASSERT(step > 200000);
}
