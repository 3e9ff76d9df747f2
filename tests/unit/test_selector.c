/*
 * Unit tests for lib/selector: the label selector grammar (including Kubernetes' quirks with
 * empty list elements), key and value validation at and over the limits, the structured
 * LabelSelector form, matching truth tables, and field selectors with escaping.
 */
#include "test.h"
#include "selector.h"

#include <jansson.h>
#include <stdlib.h>

static char sentinel;
#define SENTINEL ((void *)&sentinel)

static struct selector *parse_ok(const char *s)
{
	struct selector *sel = NULL;
	char err[512] = "";
	int ret = selector_parse(s, &sel, err, sizeof(err));

	ASSERT_MSG(ret == 0, "selector_parse(\"%s\") = %d: %s", s, ret, err);
	ASSERT_NOT_NULL(sel);
	return sel;
}

/* Parse s and compare its canonical string with want. */
static void expect_canon(const char *s, const char *want)
{
	struct selector *sel = parse_ok(s);
	struct buf b = { 0 };

	selector_string(sel, &b);
	ASSERT_MSG(strcmp(b.data, want) == 0, "\"%s\" printed as \"%s\", want \"%s\"", s, b.data,
		   want);
	buf_free(&b);
	selector_free(sel);
}

/* s must be rejected with -EINVAL, a message containing want, and *out left alone. */
static void expect_bad(const char *s, const char *want)
{
	struct selector *sel = SENTINEL;
	char err[1024] = "";
	int ret = selector_parse(s, &sel, err, sizeof(err));

	ASSERT_MSG(ret == -EINVAL, "selector_parse(\"%s\") = %d, want -EINVAL", s, ret);
	ASSERT(sel == SENTINEL);
	ASSERT_MSG(strstr(err, want) != NULL, "\"%s\": error \"%s\" lacks \"%s\"", s, err, want);
}

static json_t *labels_of(const char *js)
{
	json_t *j;

	if (!js)
		return NULL;
	j = json_loads(js, JSON_DECODE_ANY, NULL);
	ASSERT_MSG(j != NULL, "bad test JSON %s", js);
	return j;
}

static json_t *json_of(const char *js)
{
	return labels_of(js);
}

/* ------------------------------------------------------------------ label selector syntax */

TEST(selector_parse_empty_selects_everything)
{
	const char *inputs[] = { "", "   ", " \t\r\n", NULL };
	struct buf b = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(inputs); i++) {
		struct selector *sel = parse_ok(inputs[i]);
		json_t *l = json_of("{\"a\":\"b\"}");

		ASSERT(selector_empty(sel));
		ASSERT(!selector_is_nothing(sel));
		ASSERT_EQ(selector_len(sel), 0);
		ASSERT(selector_matches(sel, NULL));
		ASSERT(selector_matches(sel, l));
		buf_reset(&b);
		ASSERT_STREQ(selector_string(sel, &b), "");
		json_decref(l);
		selector_free(sel);
	}
	buf_free(&b);
}

TEST(selector_parse_canonical_forms)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "x=a", "x=a" },
		{ "x==a", "x==a" },
		{ "x!=a", "x!=a" },
		{ "x in (b,a)", "x in (a,b)" },
		{ "x notin (b, a)", "x notin (a,b)" },
		{ "x", "x" },
		{ "!x", "!x" },
		{ "! x", "!x" },
		{ "x>1", "x>1" },
		{ "x<7", "x<7" },
		{ "x>007", "x>007" },
		{ "tier in (a,b),app=web", "app=web,tier in (a,b)" },
		{ "  x  =  a  ,  y  ", "x=a,y" },
		{ "\rx", "x" },
		{ "foo  in\t (abc)", "foo in (abc)" },
		{ "x notin\n (abc)", "x notin (abc)" },
		{ "x in(a)", "x in (a)" },
		{ "x=a,y!=b,z in (h,i,j)", "x=a,y!=b,z in (h,i,j)" },
		{ "this-is-a-dns.domain.com/key-with-dash",
		  "this-is-a-dns.domain.com/key-with-dash" },
		{ "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
		  "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)" },
		{ "example.com/App_Name.v2=Web-1", "example.com/App_Name.v2=Web-1" },
		/* empty values */
		{ "x=", "x=" },
		{ "x= ", "x=" },
		{ "x=,z= ", "x=,z=" },
		{ "x!=", "x!=" },
		{ "x in (abc,)", "x in (,abc)" },
		{ "x in (,abc)", "x in (,abc)" },
		{ "x in ()", "x in ()" },
		{ "x notin ( )", "x notin ()" },
		{ "x in (,)", "x in ()" },
		{ "x notin (, a)", "x notin (,a)" },
		{ "x in (a,,b)", "x in (,a,b)" },
		{ "x in (,,a)", "x in (,a)" },
		{ "x in (a,,,)", "x in (,a)" },
		{ "x in (a,,,b)", "x in (,a,b)" },
		{ "x notin (abc,,def),bar,z in (),w", "bar,w,x notin (,abc,def),z in ()" },
		/* keywords are identifiers outside operator position */
		{ "a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)" },
		{ "in in (in)", "in in (in)" },
		{ "notin notin (notin)", "notin notin (notin)" },
		{ "in", "in" },
		{ "!notin", "!notin" },
		{ "x=in", "x=in" },
		/* duplicate values collapse, duplicate keys keep their order */
		{ "x in (a,a,b)", "x in (a,b)" },
		{ "b=1,a=2,b=3", "a=2,b=1,b=3" },
		{ "b=3,a=2,b=1", "a=2,b=3,b=1" },
		{ "x,!x", "x,!x" },
		{ "!x,x", "!x,x" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		expect_canon(cases[i].in, cases[i].out);
}

TEST(selector_parse_syntax_errors)
{
	static const struct {
		const char *in, *msg;
	} cases[] = {
		/* the value "a||y" is validated before the next token is looked at */
		{ "x=a||y=b", "unable to parse requirement: values[0]: Invalid value: \"a||y\"" },
		{ "x=a y=b", "found 'y', expected: ',' or 'end of string'" },
		{ "x==a==b", "found '==', expected: ',' or 'end of string'" },
		{ "!x=a", "found '=', expected: ',' or 'end of string'" },
		{ "x = a b", "found 'b', expected: ',' or 'end of string'" },
		{ "x,,y", "found ',', expected: identifier after ','" },
		{ "x,", "found '', expected: identifier after ','" },
		{ "a in (xyz),", "found '', expected: identifier after ','" },
		{ ",x,y", "found ',', expected: !, identifier, or 'end of string'" },
		{ ",", "found ',', expected: !, identifier, or 'end of string'" },
		{ "=a", "found '=', expected: !, identifier, or 'end of string'" },
		{ "(", "found '(', expected: !, identifier, or 'end of string'" },
		{ ")", "found ')', expected: !, identifier, or 'end of string'" },
		{ "x nott in (y)", "unable to parse requirement: found 'nott', expected: in, "
				   "notin, =, ==, !=, gt, lt" },
		{ "a (", "found '(', expected: in, notin, =, ==, !=, gt, lt" },
		{ "x!a", "found '!', expected: in, notin" },
		{ "!", "unable to parse requirement: found '', expected: identifier" },
		{ "!!x", "found '!', expected: identifier" },
		{ "!,x", "found ',', expected: identifier" },
		{ "x=!a", "found '!', expected: identifier" },
		{ "x=(a)", "found '(', expected: identifier" },
		{ "x<=5", "found '=', expected: identifier" },
		/* in / notin without a parenthesised list */
		{ "x in", "found '' expected: '('" },
		{ "x in a", "found 'a' expected: '('" },
		{ "x notin a,b", "found 'a' expected: '('" },
		{ "x in a)", "found 'a' expected: '('" },
		/* unbalanced or malformed lists */
		{ "a notin(", "found '', expected: ',', ')' or identifier" },
		{ "x in (a", "found '', expected: ',' or ')'" },
		{ "x in (a,", "found '', expected: ',', or identifier" },
		{ "x in (a))", "found ')', expected: ',' or 'end of string'" },
		{ "x in ((a))", "found '(', expected: ',', ')' or identifier" },
		{ "x in (a (b))", "found '(', expected: ',' or ')'" },
		{ "a in (xyz abc)", "found 'abc', expected: ',' or ')'" },
		{ "a in (xyz)b notin ()", "found 'b', expected: ',' or 'end of string'" },
		{ "x in (a,=)", "found '=', expected: ',', or identifier" },
		/* Kubernetes' quirk: an even run of commas before ')' is an error */
		{ "x in (a,,)", "found ')', expected: ',', or identifier" },
		{ "x in (,,)", "found ')', expected: ',', or identifier" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		expect_bad(cases[i].in, cases[i].msg);
}

TEST(selector_parse_key_limits_and_prefix)
{
	char key[600], sel[700];

	/* name part: 63 is fine, 64 is not */
	memset(key, 'n', 63);
	key[63] = '\0';
	snprintf(sel, sizeof(sel), "%s=v", key);
	expect_canon(sel, sel);
	memset(key, 'n', 64);
	key[64] = '\0';
	snprintf(sel, sizeof(sel), "%s=v", key);
	expect_bad(sel, "name part must be no more than 63 characters");

	/* prefix: 253 is fine (dot-separated labels), 254 is not */
	for (int i = 0; i < 253; i++)
		key[i] = (i % 2) ? '.' : 'a';
	key[252] = 'b';
	snprintf(key + 253, sizeof(key) - 253, "/name");
	snprintf(sel, sizeof(sel), "%s", key);
	expect_canon(sel, sel);
	memmove(key + 1, key, strlen(key) + 1);
	key[0] = 'z';
	key[1] = 'z';
	ASSERT_EQ(strchr(key, '/') - key, 254);
	expect_bad(key, "prefix part must be no more than 253 characters");

	/* 253-character prefix and a 63-character name together */
	memset(key, 'p', 253);
	key[253] = '/';
	memset(key + 254, 'n', 63);
	key[317] = '\0';
	snprintf(sel, sizeof(sel), "!%s", key);
	expect_canon(sel, sel);
}

TEST(selector_parse_bad_keys)
{
	static const struct {
		const char *in, *msg;
	} cases[] = {
		{ "/x", "prefix part must be non-empty" },
		{ "a/", "name part must be non-empty" },
		{ "a/=b", "name part must be non-empty" },
		{ "a/b/c", "a qualified name must consist of" },
		{ "Example.com/x", "prefix part a lowercase RFC 1123 subdomain" },
		{ "a..b/x", "prefix part a lowercase RFC 1123 subdomain" },
		{ "-a.com/x", "prefix part a lowercase RFC 1123 subdomain" },
		{ "a-.com/x", "prefix part a lowercase RFC 1123 subdomain" },
		{ "a_b.com/x", "prefix part a lowercase RFC 1123 subdomain" },
		{ "-x", "name part must consist of alphanumeric characters" },
		{ "x-", "name part must consist of alphanumeric characters" },
		{ ".x=a", "name part must consist of alphanumeric characters" },
		{ "x_ in (a)", "name part must consist of alphanumeric characters" },
		{ "!-x", "name part must consist of alphanumeric characters" },
		{ "a:b=c", "name part must consist of alphanumeric characters" },
		{ "x\v=a", "Invalid value: \"x\\x0b\"" },
		{ "\xd0\xba=v", "Invalid value: \"\\xd0\\xba\"" },
		{ "a\"b", "Invalid value: \"a\\\"b\"" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		expect_bad(cases[i].in, cases[i].msg);

	/* The whole message has the API server's shape, and every problem is listed. */
	expect_bad("-x=a", "unable to parse requirement: Invalid value: \"-x\": name part must");
	expect_bad("a/", "name part must be non-empty; name part must consist of");
	expect_bad("UPPER.com/-x",
		   "prefix part a lowercase RFC 1123 subdomain must consist of lower "
		   "case alphanumeric characters, '-' or '.', and must start and "
		   "end with an alphanumeric character; name part must consist");
}

TEST(selector_parse_value_limits_and_charset)
{
	char v[80], sel[100];

	memset(v, 'v', 63);
	v[63] = '\0';
	snprintf(sel, sizeof(sel), "k=%s", v);
	expect_canon(sel, sel);
	snprintf(sel, sizeof(sel), "k in (a,%s)", v);
	expect_canon(sel, sel);
	memset(v, 'v', 64);
	v[64] = '\0';
	snprintf(sel, sizeof(sel), "k!=%s", v);
	expect_bad(sel, "must be no more than 63 characters");
	snprintf(sel, sizeof(sel), "k notin (a,%s)", v);
	expect_bad(sel, "values[1]: Invalid value: \"vvvv");

	expect_canon("k=a.b-c_D9", "k=a.b-c_D9");
	expect_canon("k=0", "k=0");
	expect_bad("k=-a", "unable to parse requirement: values[0]: Invalid value: \"-a\": a valid "
			   "label must be an empty string or consist of alphanumeric characters");
	expect_bad("k=a_", "a valid label must be an empty string");
	expect_bad("k=a/b", "Invalid value: \"a/b\"");
	expect_bad("k==.a", "Invalid value: \".a\"");
	/* values are sorted before validation, so the index is that of the sorted set */
	expect_bad("k in (ok,-bad)", "values[0]: Invalid value: \"-bad\"");
	expect_bad("k in (ok,zz-)", "values[1]: Invalid value: \"zz-\"");
}

TEST(selector_parse_numeric_operators)
{
	expect_canon("x>0", "x>0");
	expect_canon("x<9223372036854775807", "x<9223372036854775807");
	expect_canon("x>1,x<5", "x>1,x<5");
	expect_bad("x>9223372036854775808", "the value must be an integer");
	expect_bad("x>a", "values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value "
			  "must be an integer");
	expect_bad("x<", "the value must be an integer");
	expect_bad("x>,y", "the value must be an integer");
	expect_bad("x>1.5", "the value must be an integer");
	expect_bad("x>1e3", "the value must be an integer");
	expect_bad("x<0x10", "the value must be an integer");
	/* an integer, but a label value cannot start with a sign */
	expect_bad("x>-1", "Invalid value: \"-1\": a valid label must");
	expect_bad("x<+1", "Invalid value: \"+1\": a valid label must");
	expect_bad("x>>1", "found '>', expected: identifier");
	expect_bad("x > (1)", "found '(', expected: identifier");
}

/* ------------------------------------------------------------------ matching */

/* Columns of the truth tables below. */
static const char *const label_sets[] = {
	NULL, /* no labels at all */
	"{}",
	"{\"x\":\"a\"}",
	"{\"x\":\"b\"}",
	"{\"x\":\"\"}",	 /* present but empty */
	"{\"y\":\"a\"}", /* x absent, another label present */
};

static void check_table_row(const char *selstr, const char *want)
{
	struct selector *sel = parse_ok(selstr);

	ASSERT_EQ(strlen(want), ARRAY_SIZE(label_sets));
	for (size_t i = 0; i < ARRAY_SIZE(label_sets); i++) {
		json_t *l = labels_of(label_sets[i]);
		bool got = selector_matches(sel, l);

		ASSERT_MSG(got == (want[i] == '1'), "\"%s\" on %s: got %d, want %c", selstr,
			   label_sets[i] ? label_sets[i] : "(no labels)", got, want[i]);
		json_decref(l);
	}
	selector_free(sel);
}

TEST(selector_match_truth_table)
{
	/* clang-format off */
	static const struct {
		const char *sel, *want; /* one digit per label_sets column */
	} rows[] = {
		/* columns: no labels, {}, x=a, x=b, x="", y=a */
		{ "",                     "111111" },
		{ "x=a",                  "001000" },
		{ "x==a",                 "001000" },
		{ "x!=a",                 "110111" },
		{ "x in (a,b)",           "001100" },
		{ "x notin (a,b)",        "110011" },
		{ "x",                    "001110" },
		{ "!x",                   "110001" },
		{ "x=",                   "000010" },
		{ "x!=",                  "111101" },
		{ "x in ()",              "000010" },
		{ "x notin ()",           "111101" },
		{ "x in (a,)",            "001010" },
		{ "x notin (a,)",         "110101" },
		{ "x,y",                  "000000" },
		{ "x=a,!y",               "001000" },
		{ "!x,!y",                "110000" },
		{ "y in (a),x notin (a)", "000001" },
		{ "x>1",                  "000000" },
		{ "x<1",                  "000000" },
		{ "x,!x",                 "000000" },
		{ "x=a,x=b",              "000000" },
	};
	/* clang-format on */

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		check_table_row(rows[i].sel, rows[i].want);
}

TEST(selector_match_numeric_truth_table)
{
	static const char *const values[] = {
		"6", "5", "-10", "abc", "", "+7", "007", "9223372036854775808", " 6", NULL,
	};
	static const struct {
		const char *sel, *want;
	} rows[] = {
		{ "x>5", "1000011000" },
		{ "x<6", "0110000000" },
		{ "x>0,x<7", "1100000000" },
		{ "x<9223372036854775807", "1110011000" },
	};

	for (size_t r = 0; r < ARRAY_SIZE(rows); r++) {
		struct selector *sel = parse_ok(rows[r].sel);

		for (size_t i = 0; i < ARRAY_SIZE(values); i++) {
			json_t *l = json_object();
			bool got;

			if (values[i])
				json_object_set_new(l, "x", json_string(values[i]));
			got = selector_matches(sel, l);
			ASSERT_MSG(got == (rows[r].want[i] == '1'), "\"%s\" on x=\"%s\": got %d",
				   rows[r].sel, values[i] ? values[i] : "(absent)", got);
			json_decref(l);
		}
		selector_free(sel);
	}
}

TEST(selector_match_odd_label_objects)
{
	struct selector *exists = parse_ok("x"), *absent = parse_ok("!x");
	struct selector *eq = parse_ok("x=a"), *neq = parse_ok("x!=a"), *gt = parse_ok("x>1");
	json_t *arr = json_of("[\"x\"]"), *num = json_of("{\"x\":6}"), *nul = json_null();
	json_t *embedded = json_object();

	/* not an object: no labels */
	ASSERT(!selector_matches(exists, arr));
	ASSERT(selector_matches(absent, arr));
	ASSERT(selector_matches(absent, nul));
	/* a non-string value counts as absent */
	ASSERT(!selector_matches(exists, num));
	ASSERT(selector_matches(absent, num));
	ASSERT(selector_matches(neq, num));
	ASSERT(!selector_matches(gt, num));
	/* "a\0b" is present but equals neither "a" nor any number */
	json_object_set_new(embedded, "x", json_stringn("a\0b", 3));
	ASSERT(selector_matches(exists, embedded));
	ASSERT(!selector_matches(eq, embedded));
	ASSERT(selector_matches(neq, embedded));
	json_object_set_new(embedded, "x", json_stringn("7\0", 2));
	ASSERT(!selector_matches(gt, embedded));

	json_decref(arr);
	json_decref(num);
	json_decref(nul);
	json_decref(embedded);
	selector_free(exists);
	selector_free(absent);
	selector_free(eq);
	selector_free(neq);
	selector_free(gt);
}

TEST(selector_match_realistic_pod)
{
	struct selector *sel = parse_ok("app=web, tier in (frontend,backend), !canary, "
					"example.com/team notin (blue)");
	json_t *pod = json_of("{\"app\":\"web\",\"tier\":\"frontend\","
			      "\"example.com/team\":\"red\",\"pod-template-hash\":\"abc\"}");

	ASSERT(selector_matches(sel, pod));
	json_object_set_new(pod, "canary", json_string(""));
	ASSERT(!selector_matches(sel, pod));
	json_object_del(pod, "canary");
	json_object_set_new(pod, "example.com/team", json_string("blue"));
	ASSERT(!selector_matches(sel, pod));
	json_object_del(pod, "example.com/team");
	ASSERT(selector_matches(sel, pod));
	json_object_set_new(pod, "tier", json_string("cache"));
	ASSERT(!selector_matches(sel, pod));
	json_decref(pod);
	selector_free(sel);
}

/* ------------------------------------------------------------------ structured forms */

static struct selector *from_json_ok(const char *js)
{
	struct selector *sel = NULL;
	json_t *j = json_of(js);
	char err[512] = "";
	int ret = selector_from_json(j, &sel, err, sizeof(err));

	ASSERT_MSG(ret == 0, "selector_from_json(%s) = %d: %s", js, ret, err);
	json_decref(j);
	return sel;
}

static void from_json_bad(const char *js, const char *want)
{
	struct selector *sel = SENTINEL;
	json_t *j = json_of(js);
	char err[512] = "";
	int ret = selector_from_json(j, &sel, err, sizeof(err));

	ASSERT_MSG(ret == -EINVAL, "selector_from_json(%s) = %d, want -EINVAL", js, ret);
	ASSERT(sel == SENTINEL);
	ASSERT_MSG(strstr(err, want) != NULL, "%s: error \"%s\" lacks \"%s\"", js, err, want);
	json_decref(j);
}

TEST(selector_from_json_nil_is_nothing_empty_is_everything)
{
	struct selector *sel = NULL;
	json_t *nul = json_null(), *none = json_object(), *pod = json_of("{\"a\":\"b\"}");
	struct buf b = { 0 };

	ASSERT_OK(selector_from_json(NULL, &sel, NULL, 0));
	ASSERT(selector_is_nothing(sel));
	ASSERT(!selector_empty(sel));
	ASSERT(!selector_matches(sel, NULL));
	ASSERT(!selector_matches(sel, none));
	ASSERT(!selector_matches(sel, pod));
	ASSERT_STREQ(selector_string(sel, &b), "");
	ASSERT_NULL(selector_get_eq(sel, "a"));
	selector_free(sel);

	ASSERT_OK(selector_from_json(nul, &sel, NULL, 0));
	ASSERT(selector_is_nothing(sel));
	ASSERT(!selector_matches(sel, pod));
	selector_free(sel);

	sel = from_json_ok("{}");
	ASSERT(selector_empty(sel));
	ASSERT(selector_matches(sel, NULL));
	ASSERT(selector_matches(sel, pod));
	selector_free(sel);

	sel = from_json_ok("{\"matchLabels\":{},\"matchExpressions\":[]}");
	ASSERT(selector_empty(sel));
	ASSERT(selector_matches(sel, pod));
	selector_free(sel);

	sel = from_json_ok("{\"matchLabels\":null,\"matchExpressions\":null,\"other\":1}");
	ASSERT(selector_empty(sel));
	selector_free(sel);

	buf_free(&b);
	json_decref(nul);
	json_decref(none);
	json_decref(pod);
}

TEST(selector_from_json_builds_and_matches)
{
	struct selector *sel =
		from_json_ok("{\"matchLabels\":{\"b\":\"2\",\"a\":\"1\"},"
			     " \"matchExpressions\":["
			     "  {\"key\":\"a\",\"operator\":\"In\",\"values\":[\"y\",\"x\",\"1\"]},"
			     "  {\"key\":\"c\",\"operator\":\"DoesNotExist\"},"
			     "  {\"key\":\"d\",\"operator\":\"Exists\",\"values\":[]},"
			     "  {\"key\":\"e\",\"operator\":\"NotIn\",\"values\":[\"bad\"]}]}");
	json_t *l = json_of("{\"a\":\"1\",\"b\":\"2\",\"d\":\"\"}");
	struct buf b = { 0 };

	ASSERT_STREQ(selector_string(sel, &b), "a=1,a in (1,x,y),b=2,!c,d,e notin (bad)");
	ASSERT_EQ(selector_len(sel), 6);
	ASSERT(selector_matches(sel, l));
	json_object_set_new(l, "e", json_string("bad"));
	ASSERT(!selector_matches(sel, l));
	json_object_set_new(l, "e", json_string("good"));
	ASSERT(selector_matches(sel, l));
	json_object_set_new(l, "c", json_string("x"));
	ASSERT(!selector_matches(sel, l));
	json_object_del(l, "c");
	json_object_del(l, "d");
	ASSERT(!selector_matches(sel, l));
	/* matchLabels pin a; the first requirement on the key decides */
	ASSERT_STREQ(selector_get_eq(sel, "a"), "1");
	ASSERT_STREQ(selector_get_eq(sel, "b"), "2");
	ASSERT_NULL(selector_get_eq(sel, "c"));
	json_decref(l);
	buf_free(&b);
	selector_free(sel);
}

TEST(selector_from_json_validation_errors)
{
	static const struct {
		const char *js, *msg;
	} cases[] = {
		{ "\"app=web\"", "label selector must be an object" },
		{ "[]", "label selector must be an object" },
		{ "{\"matchLabels\":[]}", "matchLabels: Invalid value: must be an object" },
		{ "{\"matchLabels\":{\"a\":1}}", "matchLabels: Invalid value: \"a\": label values "
						 "must be strings" },
		{ "{\"matchLabels\":{\"-a\":\"x\"}}",
		  "matchLabels: Invalid value: \"-a\": name part" },
		{ "{\"matchLabels\":{\"a\":\"x y\"}}",
		  "matchLabels: Invalid value: \"x y\": a valid "
		  "label must" },
		{ "{\"matchExpressions\":{}}", "matchExpressions: Invalid value: must be a list" },
		{ "{\"matchExpressions\":[1]}",
		  "matchExpressions[0]: Invalid value: must be an object" },
		{ "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\"}]}",
		  "matchExpressions[0].values: Required value: must be specified when `operator` "
		  "is "
		  "'In' or 'NotIn'" },
		{ "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"NotIn\",\"values\":[]}]}",
		  "matchExpressions[0].values: Required value" },
		{ "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\"},"
		  "{\"key\":\"b\",\"operator\":\"DoesNotExist\",\"values\":[\"x\"]}]}",
		  "matchExpressions[1].values: Forbidden: may not be specified when `operator` is "
		  "'Exists' or 'DoesNotExist'" },
		{ "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"in\",\"values\":[\"x\"]}]}",
		  "matchExpressions[0].operator: Invalid value: \"in\": not a valid selector "
		  "operator" },
		{ "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Gt\",\"values\":[\"1\"]}]}",
		  "Invalid value: \"Gt\": not a valid selector operator" },
		{ "{\"matchExpressions\":[{\"key\":\"a\"}]}",
		  "matchExpressions[0].operator: Invalid value: \"\"" },
		{ "{\"matchExpressions\":[{\"operator\":\"Exists\"}]}",
		  "matchExpressions[0].key: Required value" },
		{ "{\"matchExpressions\":[{\"key\":\"a/b/c\",\"operator\":\"Exists\"}]}",
		  "matchExpressions[0].key: Invalid value: \"a/b/c\": a qualified name" },
		{ "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[\"x\",\"-"
		  "b\"]}]}",
		  "matchExpressions[0].values[1]: Invalid value: \"-b\"" },
		{ "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[\"x\",1]}]"
		  "}",
		  "matchExpressions[0].values[1]: Invalid value: must be a string" },
		{ "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":\"x\"}]}",
		  "matchExpressions[0].values: Invalid value: must be a list" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		from_json_bad(cases[i].js, cases[i].msg);
}

TEST(selector_from_map_is_equality_and_empty_is_everything)
{
	struct selector *sel = NULL;
	json_t *map = json_of("{\"tier\":\"fe\",\"app\":\"web\"}"), *bad = json_of("{\"a\":1}");
	json_t *badkey = json_of("{\"a b\":\"c\"}"), *empty = json_object();
	json_t *pod = json_of("{\"app\":\"web\",\"tier\":\"fe\",\"x\":\"y\"}");
	struct buf b = { 0 };
	char err[256] = "";

	ASSERT_OK(selector_from_map(map, &sel, err, sizeof(err)));
	ASSERT_STREQ(selector_string(sel, &b), "app=web,tier=fe");
	ASSERT(selector_matches(sel, pod));
	json_object_set_new(pod, "tier", json_string("be"));
	ASSERT(!selector_matches(sel, pod));
	selector_free(sel);

	ASSERT_OK(selector_from_map(NULL, &sel, NULL, 0));
	ASSERT(selector_empty(sel));
	ASSERT(selector_matches(sel, pod));
	selector_free(sel);
	ASSERT_OK(selector_from_map(empty, &sel, NULL, 0));
	ASSERT(selector_empty(sel));
	selector_free(sel);

	sel = SENTINEL;
	ASSERT_EQ(selector_from_map(bad, &sel, err, sizeof(err)), -EINVAL);
	ASSERT(sel == SENTINEL);
	ASSERT(strstr(err, "label values must be strings") != NULL);
	ASSERT_EQ(selector_from_map(badkey, &sel, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "Invalid value: \"a b\": name part must consist") != NULL);
	json_decref(bad);
	bad = json_of("[\"app\"]");
	ASSERT_EQ(selector_from_map(bad, &sel, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "must be an object of strings") != NULL);
	ASSERT(sel == SENTINEL);

	buf_free(&b);
	json_decref(map);
	json_decref(bad);
	json_decref(badkey);
	json_decref(empty);
	json_decref(pod);
}

TEST(selector_add_builder_rules)
{
	struct selector *sel = selector_everything(), *none = selector_nothing();
	const char *two[] = { "b", "a" }, *three[] = { "b", "a", "b" }, *ten[] = { "10" };
	const char *nan[] = { "ten" }, *holes[] = { "a", NULL };
	json_t *l = json_of("{\"zone\":\"b\",\"cpu\":\"16\"}");
	struct buf b = { 0 };
	char err[256] = "";

	ASSERT_OK(selector_add(sel, "zone", SELECTOR_OP_IN, three, 3, err, sizeof(err)));
	ASSERT_OK(selector_add(sel, "cpu", SELECTOR_OP_GT, ten, 1, err, sizeof(err)));
	/* duplicates are kept for structured requirements, as Kubernetes prints them */
	ASSERT_STREQ(selector_string(sel, &b), "cpu>10,zone in (a,b,b)");
	ASSERT(selector_matches(sel, l));

	ASSERT_EQ(selector_add(sel, "x", SELECTOR_OP_IN, NULL, 0, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "values set can't be empty") != NULL);
	ASSERT_EQ(selector_add(sel, "x", SELECTOR_OP_EQUALS, two, 2, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "exact-match compatibility requires one single value") != NULL);
	ASSERT_EQ(selector_add(sel, "x", SELECTOR_OP_EXISTS, two, 1, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "values set must be empty") != NULL);
	ASSERT_EQ(selector_add(sel, "x", SELECTOR_OP_LT, two, 2, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "exactly one value is required") != NULL);
	ASSERT_EQ(selector_add(sel, "x", SELECTOR_OP_GT, nan, 1, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "must be an integer") != NULL);
	ASSERT_EQ(selector_add(sel, "x", (enum selector_op)99, NULL, 0, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "operator: Unsupported value") != NULL);
	ASSERT_EQ(selector_add(sel, "-x", SELECTOR_OP_EXISTS, NULL, 0, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "key: Invalid value: \"-x\"") != NULL);
	ASSERT_EQ(selector_add(sel, "x", SELECTOR_OP_IN, holes, 2, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(selector_add(NULL, "x", SELECTOR_OP_EXISTS, NULL, 0, NULL, 0), -EINVAL);
	/* failures left the selector as it was */
	ASSERT_EQ(selector_len(sel), 2);
	buf_reset(&b);
	ASSERT_STREQ(selector_string(sel, &b), "cpu>10,zone in (a,b,b)");

	/* adding keeps the key order */
	ASSERT_OK(selector_add(sel, "app", SELECTOR_OP_DOES_NOT_EXIST, NULL, 0, NULL, 0));
	buf_reset(&b);
	ASSERT_STREQ(selector_string(sel, &b), "!app,cpu>10,zone in (a,b,b)");

	/* Nothing plus a requirement is still nothing */
	ASSERT_OK(selector_add(none, "x", SELECTOR_OP_EXISTS, NULL, 0, NULL, 0));
	ASSERT(selector_is_nothing(none));
	ASSERT_EQ(selector_len(none), 0);
	ASSERT(!selector_matches(none, l));

	json_decref(l);
	buf_free(&b);
	selector_free(sel);
	selector_free(none);
}

TEST(selector_get_eq_exact_match_rules)
{
	static const struct {
		const char *sel, *key, *want;
	} cases[] = {
		{ "app=web", "app", "web" },
		{ "app==web", "app", "web" },
		{ "app in (web)", "app", "web" },
		{ "app in (web,web)", "app", "web" },
		{ "app=", "app", "" },
		{ "app in (a,b)", "app", NULL },
		{ "app!=web", "app", NULL },
		{ "app", "app", NULL },
		{ "!app", "app", NULL },
		{ "app=web", "tier", NULL },
		{ "", "app", NULL },
		/* the first requirement on the key decides, even when a later one would pin it */
		{ "app in (a,b),app=web", "app", NULL },
		{ "app=web,app in (a,b)", "app", "web" },
		{ "z=1,app=web", "app", "web" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct selector *sel = parse_ok(cases[i].sel);
		const char *got = selector_get_eq(sel, cases[i].key);

		if (cases[i].want)
			ASSERT_MSG(got && !strcmp(got, cases[i].want), "\"%s\" [%s]: got %s",
				   cases[i].sel, cases[i].key, got ? got : "NULL");
		else
			ASSERT_MSG(!got, "\"%s\" [%s]: got %s, want NULL", cases[i].sel,
				   cases[i].key, got);
		selector_free(sel);
	}
}

TEST(selector_validate_helpers_and_string_appends)
{
	struct selector *sel = parse_ok("b,a=1");
	struct buf b = { 0 };
	char why[256];

	ASSERT_OK(selector_validate_key("kubernetes.io/hostname", why, sizeof(why)));
	ASSERT_OK(selector_validate_value("", why, sizeof(why)));
	ASSERT_EQ(selector_validate_key("", why, sizeof(why)), -EINVAL);
	ASSERT(strstr(why, "name part must be non-empty") != NULL);
	ASSERT_EQ(selector_validate_value("a b", why, sizeof(why)), -EINVAL);
	ASSERT(strstr(why, "a valid label must be an empty string") != NULL);

	buf_append(&b, "?labelSelector=", 15);
	ASSERT_STREQ(selector_string(sel, &b), "?labelSelector=a=1,b");
	selector_free(sel);
	buf_free(&b);

	/* a NULL selector matches nothing and frees quietly */
	ASSERT(!selector_matches(NULL, NULL));
	ASSERT(!selector_empty(NULL));
	selector_free(NULL);
}

TEST(selector_error_buffer_is_bounded)
{
	struct selector *sel = SENTINEL;
	char small[8];

	memset(small, 'Z', sizeof(small));
	ASSERT_EQ(selector_parse("x in (", &sel, small, sizeof(small)), -EINVAL);
	ASSERT_EQ(strlen(small), sizeof(small) - 1);
	ASSERT_EQ(selector_parse("x in (", &sel, NULL, 0), -EINVAL);
	ASSERT(sel == SENTINEL);
}

/* A small deterministic generator, so a failure can be replayed. */
static unsigned long long rng_state = 0x9e3779b97f4a7c15ull;

static unsigned rng(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)(rng_state >> 33);
}

TEST(selector_random_input_never_crashes_and_round_trips)
{
	static const char alphabet[] = "ab1=!(),<> -./_in";
	struct buf first = { 0 }, second = { 0 };
	char in[40], err[512];
	int parsed = 0;

	for (int n = 0; n < 20000; n++) {
		struct selector *sel = NULL, *again = NULL;
		size_t len = rng() % (sizeof(in) - 1);

		for (size_t i = 0; i < len; i++)
			in[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
		in[len] = '\0';
		if (selector_parse(in, &sel, err, sizeof(err)) != 0) {
			ASSERT_MSG(err[0] != '\0', "no message for \"%s\"", in);
			continue;
		}
		parsed++;
		/* the canonical form parses back to itself */
		buf_reset(&first);
		buf_reset(&second);
		selector_string(sel, &first);
		ASSERT_MSG(selector_parse(first.data, &again, err, sizeof(err)) == 0,
			   "\"%s\" -> \"%s\" does not parse: %s", in, first.data, err);
		selector_string(again, &second);
		ASSERT_MSG(!strcmp(first.data, second.data), "\"%s\" -> \"%s\" -> \"%s\"", in,
			   first.data, second.data);
		selector_free(sel);
		selector_free(again);
	}
	ASSERT(parsed > 100); /* the generator does reach the interesting paths */
	buf_free(&first);
	buf_free(&second);
}

TEST(selector_long_input)
{
	size_t n = 20000, len = n * 4;
	char *s = malloc(len + 1);
	struct selector *sel = NULL;
	struct buf b = { 0 };

	ASSERT_NOT_NULL(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * 4, i % 2 ? "b=1," : "a!=,", 4);
	s[len - 1] = '\0';
	ASSERT_OK(selector_parse(s, &sel, NULL, 0));
	ASSERT_EQ(selector_len(sel), n);
	selector_string(sel, &b);
	ASSERT(!strncmp(b.data, "a!=,a!=,", 8));
	selector_free(sel);
	buf_free(&b);

	memset(s, '(', len);
	ASSERT_EQ(selector_parse(s, &sel, NULL, 0), -EINVAL);
	free(s);
}

/* ------------------------------------------------------------------ field selectors */

static struct fieldsel *fparse_ok(const char *s)
{
	struct fieldsel *sel = NULL;
	char err[512] = "";
	int ret = fieldsel_parse(s, &sel, err, sizeof(err));

	ASSERT_MSG(ret == 0, "fieldsel_parse(\"%s\") = %d: %s", s, ret, err);
	ASSERT_NOT_NULL(sel);
	return sel;
}

static void fexpect_canon(const char *s, const char *want)
{
	struct fieldsel *sel = fparse_ok(s);
	struct buf b = { 0 };

	fieldsel_string(sel, &b);
	ASSERT_MSG(!strcmp(b.data, want), "\"%s\" printed as \"%s\", want \"%s\"", s, b.data, want);
	buf_free(&b);
	fieldsel_free(sel);
}

static void fexpect_bad(const char *s, const char *want)
{
	struct fieldsel *sel = SENTINEL;
	char err[512] = "";
	int ret = fieldsel_parse(s, &sel, err, sizeof(err));

	ASSERT_MSG(ret == -EINVAL, "fieldsel_parse(\"%s\") = %d, want -EINVAL", s, ret);
	ASSERT(sel == SENTINEL);
	ASSERT_MSG(strstr(err, want) != NULL, "\"%s\": error \"%s\" lacks \"%s\"", s, err, want);
}

TEST(fieldsel_parse_canonical_forms)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" },
		{ "metadata.name=web", "metadata.name=web" },
		{ "metadata.name==web", "metadata.name=web" },
		{ "spec.nodeName!=", "spec.nodeName!=" },
		{ "b==x,a=y", "a=y,b=x" },
		{ "status.phase!=Running,metadata.name=a",
		  "metadata.name=a,status.phase!=Running" },
		/* empty terms are skipped; a term with both sides empty is dropped */
		{ ",", "" },
		{ "a=b,", "a=b" },
		{ ",a=b", "a=b" },
		{ "a=b,,c=d", "a=b,c=d" },
		{ "=", "" },
		{ "==", "" },
		{ "!=", "" },
		{ "=,a=b", "a=b" },
		/* an empty field survives parsing (fieldsel_check_fields rejects it) */
		{ "=b", "=b" },
		/* the first operator splits; whitespace is data */
		{ "a=!b", "a=!b" },
		{ "a = b", "a = b" },
		{ "x=a b", "x=a b" },
		/* raw terms are sorted before parsing, as Kubernetes does */
		{ "a=b,a==z", "a=z,a=b" },
		{ "a=1,a=1", "a=1,a=1" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		fexpect_canon(cases[i].in, cases[i].out);

	struct fieldsel *sel = fparse_ok(NULL);

	ASSERT(fieldsel_empty(sel));
	fieldsel_free(sel);
	sel = fparse_ok("a=b,,");
	ASSERT(!fieldsel_empty(sel));
	fieldsel_free(sel);
	sel = fparse_ok("=");
	ASSERT(fieldsel_empty(sel));
	fieldsel_free(sel);
}

TEST(fieldsel_parse_errors)
{
	fexpect_bad("a", "invalid selector: 'a'; can't understand 'a'");
	fexpect_bad("a,b=c", "invalid selector: 'a,b=c'; can't understand 'a'");
	fexpect_bad("a=b,c", "can't understand 'c'");
	fexpect_bad("a<b", "can't understand 'a<b'");
	fexpect_bad("a>b", "can't understand 'a>b'");
	fexpect_bad("a!b", "can't understand 'a!b'");
	fexpect_bad("a in (b)", "can't understand 'a in (b)'");
	fexpect_bad("a\x01", "can't understand 'a\\x01'");
	fexpect_bad("a=b=c", "invalid field selector: unescaped character in value: '='");
	fexpect_bad("a===b", "unescaped character in value: '='");
	fexpect_bad("a!==b", "unescaped character in value: '='");
	fexpect_bad("a=b\\x", "invalid field selector: invalid escape sequence: \\x");
	fexpect_bad("a=\\ b", "invalid escape sequence: \\ ");
	fexpect_bad("a=b\\", "invalid escape sequence: \\");
	fexpect_bad("a=b\\\\\\", "invalid escape sequence: \\");
}

TEST(fieldsel_escaped_values)
{
	static const struct {
		const char *in, *field, *value;
	} cases[] = {
		{ "a=x\\,y", "a", "x,y" },
		{ "a=x\\=y", "a", "x=y" },
		{ "a=x\\\\y", "a", "x\\y" },
		{ "a=\\\\\\,\\=", "a", "\\,=" },
		{ "a==\\=", "a", "=" },
		{ "a!=\\,", "a", NULL }, /* != does not pin the field */
		/* an escaped backslash does not escape the comma after it */
		{ "a=x\\\\,b=c", "a", "x\\" },
		{ "a=x\\\\,b=c", "b", "c" },
		/* the field has no escaping: the first '=' splits */
		{ "a\\=b", "a\\", "b" },
	};
	struct buf b = { 0 }, esc = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fieldsel *sel = fparse_ok(cases[i].in);
		const char *got = fieldsel_get_eq(sel, cases[i].field);

		if (cases[i].value)
			ASSERT_MSG(got && !strcmp(got, cases[i].value), "\"%s\" [%s] = \"%s\"",
				   cases[i].in, cases[i].field, got ? got : "NULL");
		else
			ASSERT_NULL(got);
		fieldsel_free(sel);
	}

	fexpect_canon("a=x\\,y", "a=x\\,y");
	fexpect_canon("a=x\\=y,b!=\\\\", "a=x\\=y,b!=\\\\");

	/* escape + parse gives back any value */
	const char *tricky = "v=1,w\\x==,\\";

	fieldsel_escape_value(tricky, &esc);
	ASSERT_STREQ(esc.data, "v\\=1\\,w\\\\x\\=\\=\\,\\\\");
	buf_appendf(&b, "metadata.name=%s", esc.data);
	struct fieldsel *sel = fparse_ok(b.data);

	ASSERT_STREQ(fieldsel_get_eq(sel, "metadata.name"), tricky);
	buf_reset(&b);
	fieldsel_string(sel, &b);
	ASSERT_STREQ(b.data + strlen("metadata.name="), esc.data);
	fieldsel_free(sel);
	buf_free(&b);
	buf_free(&esc);
}

/* A pod with a few field values; anything else is a field pods do not support. */
static const char *pod_field(void *ctx, const char *field)
{
	static const char *const fields[][2] = {
		{ "metadata.name", "web-0" },	   { "metadata.namespace", "default" },
		{ "spec.nodeName", "" },	   { "status.phase", "Running" },
		{ "spec.restartPolicy", "a,b=c" },
	};
	int *calls = ctx;

	(*calls)++;
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		if (!strcmp(fields[i][0], field))
			return fields[i][1];
	}
	return NULL;
}

TEST(fieldsel_match_truth_table)
{
	static const struct {
		const char *sel;
		bool want;
	} rows[] = {
		{ "", true },
		{ "metadata.name=web-0", true },
		{ "metadata.name==web-0", true },
		{ "metadata.name!=web-0", false },
		{ "metadata.name=web-1", false },
		{ "metadata.name!=web-1", true },
		{ "spec.nodeName=", true },
		{ "spec.nodeName!=", false },
		{ "spec.nodeName!=,status.phase=Running", false },
		{ "status.phase=Running,metadata.namespace=default", true },
		{ "status.phase=Running,metadata.namespace!=default", false },
		{ "spec.restartPolicy=a\\,b\\=c", true },
		/* an unsupported field reads as "" (check_fields is the gate) */
		{ "spec.unknown=", true },
		{ "spec.unknown!=x", true },
		{ "spec.unknown=x", false },
		/* whitespace is part of the field and the value */
		{ "metadata.name= web-0", false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct fieldsel *sel = fparse_ok(rows[i].sel);
		int calls = 0;
		bool got = fieldsel_matches(sel, pod_field, &calls);

		ASSERT_MSG(got == rows[i].want, "\"%s\": got %d", rows[i].sel, got);
		ASSERT(calls >= 1 || fieldsel_empty(sel));
		fieldsel_free(sel);
	}
	ASSERT(fieldsel_matches(NULL, pod_field, NULL));
}

TEST(fieldsel_check_fields_rejects_unsupported)
{
	static const char *const pod_fields[] = { "metadata.name", "metadata.namespace",
						  "spec.nodeName", NULL };
	struct fieldsel *sel;
	char err[256] = "";

	sel = fparse_ok("metadata.name=a,spec.nodeName!=");
	ASSERT_OK(fieldsel_check_fields(sel, pod_fields, err, sizeof(err)));
	ASSERT_EQ(fieldsel_check_fields(sel, NULL, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "field label not supported: metadata.name");
	fieldsel_free(sel);

	sel = fparse_ok("z.z=1,spec.foo=a,metadata.name=x");
	ASSERT_EQ(fieldsel_check_fields(sel, pod_fields, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "field label not supported: spec.foo");
	fieldsel_free(sel);

	sel = fparse_ok("=b");
	ASSERT_EQ(fieldsel_check_fields(sel, pod_fields, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "field label not supported: ");
	fieldsel_free(sel);

	sel = fparse_ok("metadata.name =a");
	ASSERT_EQ(fieldsel_check_fields(sel, pod_fields, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "field label not supported: metadata.name ");
	fieldsel_free(sel);

	sel = fparse_ok("");
	ASSERT_OK(fieldsel_check_fields(sel, NULL, err, sizeof(err)));
	fieldsel_free(sel);
}

TEST(fieldsel_get_eq_pins)
{
	struct fieldsel *sel;

	sel = fparse_ok("metadata.name=web,metadata.namespace=default");
	ASSERT_STREQ(fieldsel_get_eq(sel, "metadata.name"), "web");
	ASSERT_STREQ(fieldsel_get_eq(sel, "metadata.namespace"), "default");
	ASSERT_NULL(fieldsel_get_eq(sel, "spec.nodeName"));
	ASSERT_NULL(fieldsel_get_eq(sel, NULL));
	fieldsel_free(sel);

	sel = fparse_ok("metadata.name!=web");
	ASSERT_NULL(fieldsel_get_eq(sel, "metadata.name"));
	fieldsel_free(sel);

	/* the first = term in sorted order wins, past a != on the same field */
	sel = fparse_ok("metadata.name=b,metadata.name=a,metadata.name!=a");
	ASSERT_STREQ(fieldsel_get_eq(sel, "metadata.name"), "a");
	fieldsel_free(sel);

	sel = fparse_ok("metadata.name=");
	ASSERT_STREQ(fieldsel_get_eq(sel, "metadata.name"), "");
	fieldsel_free(sel);

	ASSERT_NULL(fieldsel_get_eq(NULL, "metadata.name"));
	ASSERT(fieldsel_empty(NULL));
	fieldsel_free(NULL);
}

TEST(fieldsel_random_input_never_crashes_and_round_trips)
{
	static const char alphabet[] = "ab=!,\\ .";
	struct buf s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
	char in[24], err[256];
	int parsed = 0;

	for (int n = 0; n < 20000; n++) {
		struct fieldsel *a = NULL, *b = NULL, *c = NULL;
		size_t len = rng() % (sizeof(in) - 1);

		for (size_t i = 0; i < len; i++)
			in[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
		in[len] = '\0';
		if (fieldsel_parse(in, &a, err, sizeof(err)) != 0) {
			ASSERT_MSG(err[0] != '\0', "no message for \"%s\"", in);
			continue;
		}
		parsed++;
		buf_reset(&s1);
		buf_reset(&s2);
		buf_reset(&s3);
		fieldsel_string(a, &s1);
		/*
		 * Printing turns "==" into "=", which can change the raw sort order once;
		 * from the second print on the form is fixed.
		 */
		ASSERT_MSG(fieldsel_parse(s1.data, &b, err, sizeof(err)) == 0,
			   "\"%s\" -> \"%s\": %s", in, s1.data, err);
		fieldsel_string(b, &s2);
		ASSERT_OK(fieldsel_parse(s2.data, &c, err, sizeof(err)));
		fieldsel_string(c, &s3);
		ASSERT_MSG(!strcmp(s2.data, s3.data), "\"%s\" -> \"%s\" -> \"%s\"", in, s2.data,
			   s3.data);
		ASSERT_EQ(strlen(s1.data), strlen(s2.data));
		fieldsel_free(a);
		fieldsel_free(b);
		fieldsel_free(c);
	}
	ASSERT(parsed > 100);
	buf_free(&s1);
	buf_free(&s2);
	buf_free(&s3);
}
