/* Unit tests for lib/quantity: grammar, exact values, Kubernetes canonical form, arithmetic. */
#include "test.h"
#include "quantity.h"

#include <stdint.h>

static struct quantity parse_ok(const char *s)
{
	struct quantity q;
	int r = quantity_parse(s, &q);

	ASSERT_MSG(r == 0, "quantity_parse(\"%s\") = %d", s, r);
	return q;
}

static const char *fmt(const struct quantity *q)
{
	static char buf[QUANTITY_BUFSZ];

	ASSERT_OK(quantity_format(q, buf, sizeof(buf)));
	return buf;
}

/* Exact value as units + nanos, to check parsing without going through format. */
static void expect_nano(const char *s, long long units, long long nanos)
{
	struct quantity q = parse_ok(s);
	__int128 want = (__int128)units * 1000000000 + nanos;

	ASSERT_MSG(q.nano == want, "%s: got %lld units + %lld nano", s,
		   (long long)(q.nano / 1000000000), (long long)(q.nano % 1000000000));
}

TEST(quantity_parse_values)
{
	expect_nano("100m", 0, 100000000);
	expect_nano("64Mi", 67108864, 0);
	expect_nano("1.5Gi", 1610612736, 0);
	expect_nano("2", 2, 0);
	expect_nano("0.5", 0, 500000000);
	expect_nano("1e3", 1000, 0);
	expect_nano("1E6", 1000000, 0);
	expect_nano("1E", 1000000000000000000LL, 0); /* lone E is exa */
	expect_nano("128974848", 128974848, 0);
	expect_nano("+1k", 1000, 0);
	expect_nano("12e-3", 0, 12000000);
	expect_nano("1e+3", 1000, 0);
	expect_nano("-100m", 0, -100000000);
	expect_nano("1n", 0, 1);
	expect_nano("1u", 0, 1000);
	expect_nano("3M", 3000000, 0);
	expect_nano("2G", 2000000000, 0);
	expect_nano("1T", 1000000000000LL, 0);
	expect_nano("1P", 1000000000000000LL, 0);
	expect_nano("1Ki", 1024, 0);
	expect_nano("1Ti", 1099511627776LL, 0);
	expect_nano("1Pi", 1125899906842624LL, 0);
	expect_nano("1Ei", 1152921504606846976LL, 0);
	/* Number forms of the grammar: "5.", ".5", "1.G"; leading zeros. */
	expect_nano("5.", 5, 0);
	expect_nano(".5", 0, 500000000);
	expect_nano("1.G", 1000000000, 0);
	expect_nano("007", 7, 0);
	expect_nano("0.000000001", 0, 1);
	expect_nano("12.345k", 12345, 0);
	/* Zero in all spellings. */
	expect_nano("0", 0, 0);
	expect_nano("-0", 0, 0);
	expect_nano("+0.000", 0, 0);
	expect_nano("0Mi", 0, 0);
	expect_nano("0e99999999999999999999", 0, 0);
	expect_nano("000.000e-5", 0, 0);
}

TEST(quantity_parse_rounds_up_below_nano)
{
	expect_nano("0.9n", 0, 1);
	expect_nano("0.1n", 0, 1);
	expect_nano("-0.1n", 0, -1);
	expect_nano("1.0000000001", 1, 1);
	expect_nano("1.0000000000", 1, 0);
	expect_nano("12e-12", 0, 1);
	expect_nano("1e-999999999999", 0, 1);
	/* Rounding happens after the binary multiplication: 1e-10 * 1024 = 102.4n. */
	expect_nano("0.0000000001Ki", 0, 103);
	/* 0.5n * 2^10 = 512n exactly: no rounding. */
	expect_nano("0.0000000005Ki", 0, 512);
	expect_nano("0.00000000015Ki", 0, 154);	      /* 153.6n */
	expect_nano("0.0000000000009765625Ki", 0, 1); /* 2^-10 n * 2^10, exact */
	expect_nano("0.0000000000009765626Ki", 0, 2);
	/* 1 + 2^-60 Ei is exactly 2^60 + 1 units; one more digit far out must round up. */
	expect_nano("1.0000000000000000008673617379884035472059622406959533691406250Ei",
		    1152921504606846977LL, 0);
	expect_nano("1.00000000000000000086736173798840354720596224069595336914062501Ei",
		    1152921504606846977LL, 1);
	expect_nano("1.00000000000000000000000000000000000000000000000000000000000000000000001Ei",
		    1152921504606846976LL, 1);
	/* Exponents too large for int64 still saturate in the right direction. */
	expect_nano("1e-9223372036854775808", 0, 1);
	expect_nano("1e-99999999999999999999999", 0, 1);
	/* Far past the 63 kept fraction digits the sticky digit still rounds up. */
	expect_nano("0.0000000000000000000000000000000000000000000000000000000000000000000000001Ei",
		    0, 1);
	expect_nano("1.0000000000000000000000000000000000000000000000000000000000000000000000001",
		    1, 1);
}

TEST(quantity_parse_rejects_bad_syntax)
{
	static const char *const bad[] = {
		"",	" ",	"1 ",  " 1",	"1 Mi",	 "\t1",	 "1Kb",		 "1mi", "1K",
		"1KiB", "1Ki ", "abc", "1e",	"1e+",	 "1e-",	 "e3",		 ".",	"+",
		"-",	"-.",	"+Mi", "1..2",	"1.2.3", "--1",	 "+-1",		 "1,5", "0x10",
		"1i",	"1Ei3", "1E+", "1e3.5", "1e3k",	 "1kk",	 "1mm",		 "Mi",	"1Zi",
		"1Y",	"1Gb",	"1g",  "1gi",	"1 e3",	 "1e 3", "\xef\xbc\x91", "1\n", "1m1",
		"1.5.",
	};
	struct quantity q = { 42, QUANTITY_BINARY_SI };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = quantity_parse(bad[i], &q);

		ASSERT_MSG(r == -EINVAL, "\"%s\": %d", bad[i], r);
	}
	/* *out untouched on failure. */
	ASSERT(q.nano == 42 && q.format == QUANTITY_BINARY_SI);
	ASSERT_EQ(quantity_parse(NULL, &q), -EINVAL);
	ASSERT_EQ(quantity_parse("1", NULL), -EINVAL);
}

TEST(quantity_parse_range_limits)
{
	struct quantity q = { 42, QUANTITY_DECIMAL_SI };

	/* 10^21 units is the limit, in every spelling. */
	ASSERT(parse_ok("1000E").nano == (__int128)1000000000000000LL * 1000000000000000LL);
	ASSERT(parse_ok("-1e21").nano == -parse_ok("1000E").nano);
	ASSERT(parse_ok("867Ei").nano > 0);
	ASSERT_EQ(quantity_parse("1001E", &q), -ERANGE);
	ASSERT_EQ(quantity_parse("-1001E", &q), -ERANGE);
	ASSERT_EQ(quantity_parse("868Ei", &q), -ERANGE);
	ASSERT_EQ(quantity_parse("1e22", &q), -ERANGE);
	ASSERT_EQ(quantity_parse("1000000000000000000000.000000001", &q), -ERANGE);
	ASSERT_EQ(quantity_parse("1000000000000000000000.0000000001", &q), -ERANGE);
	ASSERT_EQ(quantity_parse("99999999999999999999999999", &q), -ERANGE);
	ASSERT_EQ(quantity_parse("1e999999999999999999999", &q), -ERANGE);
	ASSERT_EQ(quantity_parse("1e9223372036854775808", &q), -ERANGE);
	ASSERT_EQ(quantity_parse("999999999999999999999999999999999999999999999999Ei", &q),
		  -ERANGE);
	ASSERT(q.nano == 42);
	/* Memory sizes of several EiB and large CPU counts fit comfortably. */
	q = parse_ok("7Ei");
	ASSERT_EQ(quantity_value(&q), 7LL * 1152921504606846976LL);
	q = parse_ok("500000000000000");
	ASSERT_EQ(quantity_milli(&q), 500000000000000000LL);
	ASSERT_OK(quantity_parse("0.000000000000000000000000000000000000000000001e66", &q));
	ASSERT(q.nano == (__int128)1000000000000000LL * 1000000000000000LL);
}

TEST(quantity_milli_and_value)
{
	static const struct {
		const char *s;
		int64_t milli, value;
	} cases[] = {
		{ "100m", 100, 1 },
		{ "1.5", 1500, 2 },
		{ "2", 2000, 2 },
		{ "0.5", 500, 1 },
		{ "1n", 1, 1 },
		{ "-1n", -1, -1 },
		{ "-100m", -100, -1 },
		{ "-1.5", -1500, -2 },
		{ "1000m", 1000, 1 },
		{ "1001m", 1001, 2 },
		{ "64Mi", 67108864000LL, 67108864 },
		{ "0", 0, 0 },
		{ "12e-3", 12, 1 },
		{ "1.0001m", 2, 1 },
		{ "9223372036854775807", INT64_MAX, INT64_MAX },
		{ "8Ei", INT64_MAX, INT64_MAX }, /* 2^63: saturates */
		{ "-8Ei", INT64_MIN, INT64_MIN },
		{ "1000E", INT64_MAX, INT64_MAX },
		{ "9223372036854775.807", INT64_MAX, 9223372036854776LL },
		{ "9223372036854775.808", INT64_MAX, 9223372036854776LL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct quantity q = parse_ok(cases[i].s);

		ASSERT_MSG(quantity_milli(&q) == cases[i].milli, "%s: milli %lld", cases[i].s,
			   (long long)quantity_milli(&q));
		ASSERT_MSG(quantity_value(&q) == cases[i].value, "%s: value %lld", cases[i].s,
			   (long long)quantity_value(&q));
	}
}

TEST(quantity_format_canonical)
{
	/* Expected strings are what Kubernetes' Quantity.String() prints. */
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "1.5Gi", "1536Mi" },
		{ "0.5", "500m" },
		{ "1000m", "1" },
		{ "1024Ki", "1Mi" },
		{ "1e3", "1e3" },
		{ "100m", "100m" },
		{ "1E6", "1e6" },
		{ "+1k", "1k" },
		{ "12e-3", "12e-3" },
		{ "128974848", "128974848" },
		{ "1.5", "1500m" },
		{ "1.2345", "1234500u" },
		{ "1e4", "10e3" },
		{ "0", "0" },
		{ "0Mi", "0" },
		{ "-0.0", "0" },
		{ "1Ki", "1Ki" },
		{ "1.5Ki", "1536" },
		{ "0.9765625Ki", "1k" },
		{ "1023.5Ki", "1048064" },
		{ "0.5Ki", "512" },
		{ "1.1Ki", "1126400m" },
		{ "1023Ki", "1023Ki" },
		{ "1536Ki", "1536Ki" },
		{ "2000Mi", "2000Mi" },
		{ "8Mi", "8Mi" },
		{ "1024Mi", "1Gi" },
		{ "-1Mi", "-1Mi" },
		{ "-1.5Ki", "-1536" },
		{ "1023", "1023" },
		{ "1000", "1k" },
		{ "1000k", "1M" },
		{ "1500k", "1500k" },
		{ "100k", "100k" },
		{ "1.G", "1G" },
		{ ".5", "500m" },
		{ "5.", "5" },
		{ "0.9n", "1n" },
		{ "0.0000000001Ki", "103n" },
		{ "1000E", "1e21" },
		{ "1E", "1E" },
		{ "2P", "2P" },
		{ "-100m", "-100m" },
		{ "1e-100", "1e-9" },
		{ "1e0", "1" },
		{ "10e-1", "1" },
		{ "100e-2", "1" },
		{ "0.1e1", "1" },
		{ "25e-2", "250e-3" },
		{ "7Ei", "7Ei" },
		{ "8Ei", "8Ei" },
		{ "512Ei", "512Ei" },
		{ "1Ei", "1Ei" },
		{ "0100", "100" },
		{ "1000000001n", "1000000001n" },
		{ "100000000000000000000000000001n", "100000000000000000000000000001n" },
		{ "-1000E", "-1e21" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct quantity q = parse_ok(cases[i].in);

		ASSERT_MSG(strcmp(fmt(&q), cases[i].out) == 0, "%s formats as %s, want %s",
			   cases[i].in, fmt(&q), cases[i].out);
	}
}

TEST(quantity_format_buffer_too_small)
{
	struct quantity q = parse_ok("1536Mi");
	char buf[7];

	memset(buf, 'X', sizeof(buf));
	ASSERT_EQ(quantity_format(&q, buf, 6), -ENOSPC);
	ASSERT_STREQ(buf, "");
	ASSERT_OK(quantity_format(&q, buf, 7));
	ASSERT_STREQ(buf, "1536Mi");
	ASSERT_EQ(quantity_format(&q, NULL, 0), -ENOSPC);
	q = parse_ok("0");
	ASSERT_EQ(quantity_format(&q, buf, 1), -ENOSPC);
	ASSERT_OK(quantity_format(&q, buf, 2));
	ASSERT_STREQ(buf, "0");
}

TEST(quantity_round_trip)
{
	static const char *const inputs[] = {
		"100m",
		"64Mi",
		"1.5Gi",
		"2",
		"0.5",
		"1e3",
		"1E6",
		"128974848",
		"+1k",
		"12e-3",
		"1.1Ki",
		"0.9n",
		"-7.25",
		"1000E",
		"-1000E",
		"867Ei",
		"3.3e-7",
		"12345678901234567890.123456789",
		"0.0000000001Ki",
		"25e-2",
		"1.000000001Gi",
	};
	char once[QUANTITY_BUFSZ], twice[QUANTITY_BUFSZ];

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct quantity a = parse_ok(inputs[i]), b;

		ASSERT_OK(quantity_format(&a, once, sizeof(once)));
		b = parse_ok(once);
		ASSERT_MSG(quantity_cmp(&a, &b) == 0, "%s -> %s changed value", inputs[i], once);
		/* The canonical form is a fixed point. */
		ASSERT_OK(quantity_format(&b, twice, sizeof(twice)));
		ASSERT_STREQ(twice, once);
	}
}

TEST(quantity_cmp_orders_by_value)
{
	struct quantity a = parse_ok("1Gi"), b = parse_ok("1G"), c = parse_ok("1073741824");

	ASSERT(quantity_cmp(&a, &b) > 0);
	ASSERT(quantity_cmp(&b, &a) < 0);
	ASSERT_EQ(quantity_cmp(&a, &c), 0); /* formats differ, values do not */
	a = parse_ok("-1n");
	b = parse_ok("0");
	ASSERT(quantity_cmp(&a, &b) < 0);
	a = parse_ok("1000m");
	b = parse_ok("1");
	ASSERT_EQ(quantity_cmp(&a, &b), 0);
	a = parse_ok("1000E");
	b = parse_ok("999999999999999999999.999999999");
	ASSERT(quantity_cmp(&a, &b) > 0);
}

TEST(quantity_add_sub)
{
	struct quantity sum = { 0, QUANTITY_DECIMAL_SI }, x, y, before;
	static const char *const requests[] = { "100m", "250m", "1", "0.5" };

	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		x = parse_ok(requests[i]);
		ASSERT_OK(quantity_add(&sum, &x, &sum));
	}
	ASSERT_EQ(quantity_milli(&sum), 1850);
	ASSERT_STREQ(fmt(&sum), "1850m");

	/* A zero accumulator takes the first addend's format. */
	sum = (struct quantity){ 0, QUANTITY_DECIMAL_SI };
	x = parse_ok("1Gi");
	y = parse_ok("512Mi");
	ASSERT_OK(quantity_add(&sum, &x, &sum));
	ASSERT_OK(quantity_add(&sum, &y, &sum));
	ASSERT_STREQ(fmt(&sum), "1536Mi");
	/* Otherwise the left operand's format wins. */
	x = parse_ok("1k");
	y = parse_ok("1Ki");
	ASSERT_OK(quantity_add(&x, &y, &sum));
	ASSERT_STREQ(fmt(&sum), "2024");
	ASSERT_OK(quantity_add(&y, &x, &sum));
	ASSERT_STREQ(fmt(&sum), "2024");
	ASSERT_EQ(sum.format, QUANTITY_BINARY_SI);

	x = parse_ok("1");
	y = parse_ok("1500m");
	ASSERT_OK(quantity_sub(&x, &y, &sum));
	ASSERT_STREQ(fmt(&sum), "-500m");
	ASSERT_OK(quantity_sub(&x, &x, &sum));
	ASSERT_STREQ(fmt(&sum), "0");
	x = (struct quantity){ 0, QUANTITY_DECIMAL_SI };
	y = parse_ok("2Gi");
	ASSERT_OK(quantity_sub(&x, &y, &sum));
	ASSERT_STREQ(fmt(&sum), "-2Gi");

	/* Overflow: -ERANGE and the destination is left alone. */
	x = parse_ok("1000E");
	y = parse_ok("1n");
	before = sum;
	ASSERT_EQ(quantity_add(&x, &y, &sum), -ERANGE);
	ASSERT(sum.nano == before.nano && sum.format == before.format);
	y = parse_ok("-1000E");
	ASSERT_EQ(quantity_sub(&y, &x, &sum), -ERANGE);
	ASSERT_OK(quantity_add(&x, &y, &sum));
	ASSERT_STREQ(fmt(&sum), "0");
	ASSERT_OK(quantity_sub(&x, &x, &x)); /* aliasing */
	ASSERT(x.nano == 0);
}

TEST(quantity_constructors)
{
	struct quantity q = quantity_from_value(2048, QUANTITY_BINARY_SI);

	ASSERT_STREQ(fmt(&q), "2Ki");
	q = quantity_from_milli(1500, QUANTITY_DECIMAL_SI);
	ASSERT_STREQ(fmt(&q), "1500m");
	ASSERT_EQ(quantity_value(&q), 2);
	q = quantity_from_milli(INT64_MIN, QUANTITY_DECIMAL_SI);
	ASSERT_EQ(quantity_milli(&q), INT64_MIN);
	q = quantity_from_value(INT64_MAX, QUANTITY_DECIMAL_SI);
	ASSERT_EQ(quantity_value(&q), INT64_MAX);
	ASSERT_EQ(quantity_milli(&q), INT64_MAX);
	ASSERT_STREQ(fmt(&q), "9223372036854775807");
}

static int parse_json_text(const char *text, struct quantity *q)
{
	json_error_t err;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	int r;

	ASSERT_MSG(j != NULL, "bad test JSON %s: %s", text, err.text);
	r = quantity_parse_json(j, q);
	json_decref(j);
	return r;
}

TEST(quantity_parse_json_strings_and_numbers)
{
	struct quantity q = { 0, QUANTITY_DECIMAL_SI };

	ASSERT_OK(parse_json_text("\"100m\"", &q));
	ASSERT_STREQ(fmt(&q), "100m");
	ASSERT_OK(parse_json_text("\" 64Mi\\t\"", &q)); /* Kubernetes trims whitespace */
	ASSERT_STREQ(fmt(&q), "64Mi");
	ASSERT_OK(parse_json_text("2", &q));
	ASSERT_STREQ(fmt(&q), "2");
	ASSERT_OK(parse_json_text("-5", &q));
	ASSERT_EQ(quantity_value(&q), -5);
	ASSERT_OK(parse_json_text("9223372036854775807", &q));
	ASSERT_EQ(quantity_value(&q), INT64_MAX);
	ASSERT_OK(parse_json_text("0.5", &q));
	ASSERT_STREQ(fmt(&q), "500m");
	ASSERT_OK(parse_json_text("0.1", &q)); /* shortest form, not 0.1000000000000000055 */
	ASSERT_STREQ(fmt(&q), "100m");
	ASSERT_OK(parse_json_text("1.5e9", &q));
	ASSERT_STREQ(fmt(&q), "1500M");
	ASSERT_OK(parse_json_text("2.5e-7", &q));
	ASSERT_STREQ(fmt(&q), "250n");
	ASSERT_OK(parse_json_text("1e-300", &q));
	ASSERT(q.nano == 1);
	ASSERT_OK(parse_json_text("-0.0", &q));
	ASSERT_STREQ(fmt(&q), "0");
	ASSERT_OK(parse_json_text("123456789.123", &q));
	ASSERT_STREQ(fmt(&q), "123456789123m");
	q = parse_ok("5");
	ASSERT_OK(parse_json_text("null", &q));
	ASSERT(q.nano == 0);
}

TEST(quantity_parse_json_rejects)
{
	struct quantity q = { 42, QUANTITY_DECIMAL_SI };

	ASSERT_EQ(parse_json_text("true", &q), -EINVAL);
	ASSERT_EQ(parse_json_text("{}", &q), -EINVAL);
	ASSERT_EQ(parse_json_text("[\"1\"]", &q), -EINVAL);
	ASSERT_EQ(parse_json_text("\"\"", &q), -EINVAL);
	ASSERT_EQ(parse_json_text("\"   \"", &q), -EINVAL);
	ASSERT_EQ(parse_json_text("\"1Kb\"", &q), -EINVAL);
	ASSERT_EQ(parse_json_text("\"1 Mi\"", &q), -EINVAL);
	ASSERT_EQ(parse_json_text("\"1\\u0000Mi\"", &q), -EINVAL); /* embedded NUL */
	ASSERT_EQ(parse_json_text("\"1\\u0000\"", &q), -EINVAL);
	ASSERT_EQ(parse_json_text("1e300", &q), -ERANGE);
	ASSERT_EQ(parse_json_text("\"2000E\"", &q), -ERANGE);
	ASSERT(q.nano == 42);
	ASSERT_EQ(quantity_parse_json(NULL, &q), -ENOENT);
	ASSERT_EQ(quantity_parse_json(json_null(), NULL), -EINVAL);
}
