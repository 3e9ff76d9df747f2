/* Unit tests for lib/jsonx: getters, path lookups and edits, deep compare, dumps. */
#include "test.h"
#include "jsonx.h"

#include <stdlib.h>

static json_t *load(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);

	ASSERT_MSG(j != NULL, "bad test JSON at %d: %s", err.position, err.text);
	return j;
}

static const char *pod_json =
	"{\"metadata\": {\"name\": \"web\", \"labels\": {\"app.kubernetes.io/name\": \"web\","
	" \"tier\": \"front\", \"we\\\"ird\\\\key\": 1, \"\": \"empty\"}},"
	" \"spec\": {\"replicas\": 3, \"paused\": false, \"ratio\": 2.0, \"half\": 2.5,"
	"  \"template\": {\"spec\": {\"containers\": ["
	"   {\"name\": \"a\", \"image\": \"nginx:1\"},"
	"   {\"name\": \"b\", \"image\": \"busybox\", \"ports\": [80, 443]}]}}}}";

TEST(jsonx_typed_getters)
{
	json_t *pod = load(pod_json);
	json_t *spec = jsonx_obj(pod, "spec");

	ASSERT_NOT_NULL(spec);
	ASSERT_STREQ(jsonx_str(jsonx_obj(pod, "metadata"), "name", "x"), "web");
	ASSERT_STREQ(jsonx_str(spec, "missing", "dflt"), "dflt");
	ASSERT_STREQ(jsonx_str(spec, "replicas", "notastring"), "notastring");
	ASSERT_NULL(jsonx_str(spec, "missing", NULL));
	ASSERT_EQ(jsonx_int(spec, "replicas", -1), 3);
	ASSERT_EQ(jsonx_int(spec, "ratio", -1), 2);	/* integral real accepted */
	ASSERT_EQ(jsonx_int(spec, "half", -1), -1);	/* 2.5 is not an integer */
	ASSERT_EQ(jsonx_int(spec, "paused", -1), -1);	/* bool is not an integer */
	ASSERT_EQ(jsonx_int(spec, "template", -7), -7); /* object */
	ASSERT(!jsonx_bool(spec, "paused", true));
	ASSERT(jsonx_bool(spec, "missing", true));
	ASSERT(!jsonx_bool(spec, "replicas", false)); /* 3 is not a bool */
	ASSERT(jsonx_bool(spec, "replicas", true));
	ASSERT_NOT_NULL(jsonx_obj(spec, "template"));
	ASSERT_NULL(jsonx_obj(spec, "replicas"));
	ASSERT_NULL(jsonx_arr(spec, "template"));
	ASSERT_NULL(jsonx_obj(spec, "nope"));
	ASSERT_NOT_NULL(jsonx_arr(jsonx_get_path(pod, "spec.template.spec"), "containers"));
	/* NULL or non-object containers give the default. */
	ASSERT_STREQ(jsonx_str(NULL, "name", "d"), "d");
	ASSERT_EQ(jsonx_int(jsonx_obj(spec, "replicas"), "x", 5), 5);
	ASSERT_NULL(jsonx_obj(NULL, "x"));
	ASSERT_NULL(jsonx_arr(NULL, "x"));
	ASSERT_STREQ(jsonx_str(spec, NULL, "d"), "d");
	json_decref(pod);
}

TEST(jsonx_int_accepts_only_exact_integral_reals)
{
	json_t *o = load("{\"big\": 9223372036854775807, \"neg\": -9223372036854775808,"
			 " \"r_big\": 9.3e18, \"r_min\": -9223372036854775808.0, \"r_neg\": -4.0,"
			 " \"r_frac\": 0.5, \"r_exp\": 1e3}");

	ASSERT_EQ(jsonx_int(o, "big", 0), 9223372036854775807LL);
	ASSERT_EQ(jsonx_int(o, "neg", 0), -9223372036854775807LL - 1);
	ASSERT_EQ(jsonx_int(o, "r_big", 42), 42); /* does not fit a long long */
	ASSERT_EQ(jsonx_int(o, "r_min", 42), -9223372036854775807LL - 1);
	ASSERT_EQ(jsonx_int(o, "r_neg", 42), -4);
	ASSERT_EQ(jsonx_int(o, "r_frac", 42), 42);
	ASSERT_EQ(jsonx_int(o, "r_exp", 42), 1000);
	json_decref(o);
}

TEST(jsonx_get_path_lookups)
{
	json_t *pod = load(pod_json);

	ASSERT_STREQ(jsonx_path_str(pod, "spec.template.spec.containers[0].image", NULL),
		     "nginx:1");
	ASSERT_STREQ(jsonx_path_str(pod, "spec.template.spec.containers[1].name", NULL), "b");
	ASSERT_EQ(jsonx_path_int(pod, "spec.template.spec.containers[1].ports[1]", 0), 443);
	ASSERT_EQ(jsonx_path_int(pod, "spec.replicas", 0), 3);
	ASSERT(!jsonx_path_bool(pod, "spec.paused", true));
	ASSERT(jsonx_path_bool(pod, "spec.missing", true));
	ASSERT_EQ(jsonx_get_path(pod, "spec"), jsonx_obj(pod, "spec"));
	/* Missing keys, indices past the end, wrong container types. */
	ASSERT_NULL(jsonx_get_path(pod, "spec.template.spec.containers[2]"));
	ASSERT_NULL(jsonx_get_path(pod, "spec.template.spec.containers.name"));
	ASSERT_NULL(jsonx_get_path(pod, "spec[0]"));
	ASSERT_NULL(jsonx_get_path(pod, "spec.replicas.value"));
	ASSERT_NULL(jsonx_get_path(pod, "status.phase"));
	ASSERT_STREQ(jsonx_path_str(pod, "spec.replicas", "dflt"), "dflt");
	ASSERT_EQ(jsonx_path_int(pod, "spec.template", 9), 9);
	ASSERT_NULL(jsonx_get_path(NULL, "spec"));
	ASSERT_NULL(jsonx_get_path(pod, NULL));
	json_decref(pod);
}

TEST(jsonx_get_path_root_array_and_index_forms)
{
	json_t *arr = load("[[1, 2], {\"k\": [true]}]");

	ASSERT_EQ(jsonx_path_int(arr, "[0][1]", 0), 2);
	ASSERT(jsonx_path_bool(arr, "[1].k[0]", false));
	ASSERT(jsonx_path_bool(arr, "[1][\"k\"][0]", false));
	ASSERT_NULL(jsonx_get_path(arr, "k"));
	ASSERT_NULL(jsonx_get_path(arr, "[99999999999999999999999]")); /* overflow */
	ASSERT_NULL(jsonx_get_path(arr, "[2]"));
	json_decref(arr);
}

TEST(jsonx_get_path_keys_with_dots)
{
	json_t *pod = load(pod_json);

	ASSERT_STREQ(jsonx_path_str(pod, "metadata.labels[\"app.kubernetes.io/name\"]", NULL),
		     "web");
	ASSERT_STREQ(jsonx_path_str(pod, "metadata.labels.app\\.kubernetes\\.io/name", NULL),
		     "web");
	ASSERT_STREQ(jsonx_path_str(pod, "[\"metadata\"][\"labels\"].tier", NULL), "front");
	/* Quoted keys unescape \" and \\; bare keys take any escaped character. */
	ASSERT_EQ(jsonx_path_int(pod, "metadata.labels[\"we\\\"ird\\\\key\"]", 0), 1);
	ASSERT_EQ(jsonx_path_int(pod, "metadata.labels.we\"ird\\\\key", 0), 1);
	ASSERT_STREQ(jsonx_path_str(pod, "metadata.labels[\"\"]", NULL), "empty");
	/* Without escaping, the dots split the key. */
	ASSERT_NULL(jsonx_get_path(pod, "metadata.labels.app.kubernetes.io/name"));
	json_decref(pod);
}

TEST(jsonx_get_path_rejects_malformed_paths)
{
	static const char *const bad[] = {
		"",
		".",
		"spec.",
		".spec",
		"spec..replicas",
		"spec.[0]",
		"spec[",
		"spec[]",
		"spec[0",
		"spec[-1]",
		"spec[+1]",
		"spec[ 1]",
		"spec[1x]",
		"spec[0]x",
		"spec]",
		"spec]x",
		"spec\\",
		"metadata.labels[\"tier]",
		"metadata.labels[\"tier\"",
		"metadata.labels[\"tier\"]]",
		"metadata.labels[\"ti\\er\"]",
		"metadata.labels[tier]",
		"metadata.labels[\"tier\"]tier",
	};
	json_t *pod = load(pod_json);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_MSG(jsonx_get_path(pod, bad[i]) == NULL, "path \"%s\" accepted", bad[i]);
		ASSERT_EQ(jsonx_set_path(pod, bad[i], json_true()), -EINVAL);
	}
	/* Nothing was created by the rejected edits. */
	ASSERT_EQ(json_object_size(pod), 2);
	ASSERT_NULL(jsonx_get_path(pod, "spec.replicas.x"));
	json_decref(pod);
}

TEST(jsonx_getv_raw_keys)
{
	json_t *pod = load(pod_json);

	ASSERT_STREQ(json_string_value(
			     jsonx_getv(pod, "metadata", "labels", "app.kubernetes.io/name", NULL)),
		     "web");
	ASSERT_EQ(json_integer_value(jsonx_getv(pod, "metadata", "labels", "we\"ird\\key", NULL)),
		  1);
	ASSERT_EQ(jsonx_getv(pod, NULL), pod);
	ASSERT_NULL(jsonx_getv(pod, "metadata", "nope", "x", NULL));
	ASSERT_NULL(jsonx_getv(pod, "spec", "replicas", "x", NULL));
	ASSERT_NULL(jsonx_getv(pod, "spec.replicas", NULL)); /* no path syntax */
	ASSERT_NULL(jsonx_getv(NULL, "spec", NULL));
	json_decref(pod);
}

TEST(jsonx_set_path_creates_and_replaces)
{
	json_t *o = json_object();
	json_t *a;

	ASSERT_OK(jsonx_set_path(o, "metadata.name", json_string("web")));
	ASSERT_OK(
		jsonx_set_path(o, "metadata.labels[\"app.kubernetes.io/name\"]", json_string("x")));
	ASSERT_OK(jsonx_set_path(o, "metadata.labels.tier\\.x", json_string("t")));
	ASSERT_OK(jsonx_set_path(o, "spec.replicas", json_integer(2)));
	ASSERT_OK(jsonx_set_path(o, "spec.replicas", json_integer(5))); /* replace */
	/* A missing container before an index is created as an array; index == size appends. */
	ASSERT_OK(jsonx_set_path(o, "spec.containers[0].name", json_string("a")));
	ASSERT_OK(jsonx_set_path(o, "spec.containers[1].name", json_string("b")));
	ASSERT_OK(jsonx_set_path(o, "spec.containers[0].image", json_string("nginx")));
	ASSERT_OK(jsonx_set_path(o, "spec.containers[1]", json_string("replaced")));

	a = load(
		"{\"metadata\": {\"name\": \"web\", \"labels\": {\"app.kubernetes.io/name\": \"x\","
		" \"tier.x\": \"t\"}}, \"spec\": {\"replicas\": 5,"
		" \"containers\": [{\"name\": \"a\", \"image\": \"nginx\"}, \"replaced\"]}}");
	ASSERT(jsonx_equal(o, a));
	json_decref(a);

	/* Root arrays work too. */
	a = json_array();
	ASSERT_OK(jsonx_set_path(a, "[0].x", json_true()));
	ASSERT(jsonx_path_bool(a, "[0].x", false));
	json_decref(a);
	json_decref(o);
}

TEST(jsonx_set_path_errors_leave_tree_unchanged)
{
	json_t *o = load("{\"a\": {\"s\": \"str\", \"list\": [1]}, \"n\": 1}");
	json_t *before = json_deep_copy(o);
	json_t *str = json_string("x");
	json_t *v = json_string("kept");

	ASSERT_EQ(jsonx_set_path(o, "a.s.x", json_true()), -ENOTDIR);
	ASSERT_EQ(jsonx_set_path(o, "a.list.x", json_true()), -ENOTDIR);
	ASSERT_EQ(jsonx_set_path(o, "a.list[0].x", json_true()), -ENOTDIR);
	ASSERT_EQ(jsonx_set_path(o, "n[0]", json_true()), -ENOTDIR);
	ASSERT_EQ(jsonx_set_path(o, "[0]", json_true()), -ENOTDIR);
	ASSERT_EQ(jsonx_set_path(o, "a.list[2]", json_true()), -ERANGE);
	/* These fail only after containers would have been created. */
	ASSERT_EQ(jsonx_set_path(o, "new.deep[1]", json_true()), -ERANGE);
	ASSERT_EQ(jsonx_set_path(o, "new.deep[0].x[3]", json_true()), -ERANGE);
	ASSERT_EQ(jsonx_set_path(o, "new.x\xff", json_true()), -EINVAL); /* not UTF-8 */
	ASSERT_EQ(jsonx_set_path(o, "new.a[0]b", json_true()), -EINVAL);
	ASSERT_MSG(jsonx_equal(o, before), "tree changed by a failed jsonx_set_path");
	ASSERT_EQ(json_object_size(o), 2);

	/* Root that is not a container; NULL arguments. */
	ASSERT_EQ(jsonx_set_path(str, "x", json_true()), -ENOTDIR);
	ASSERT_EQ(jsonx_set_path(NULL, "x", json_true()), -EINVAL);
	ASSERT_EQ(jsonx_set_path(o, NULL, json_true()), -EINVAL);
	ASSERT_EQ(jsonx_set_path(o, "x", NULL), -EINVAL);

	/* The reference is stolen on failure and on success alike. */
	json_incref(v);
	ASSERT_EQ(jsonx_set_path(o, "a.s.x", v), -ENOTDIR);
	ASSERT_EQ(v->refcount, 1);
	json_incref(v);
	ASSERT_OK(jsonx_set_path(o, "a.v", v));
	ASSERT_EQ(v->refcount, 2);
	ASSERT_EQ(jsonx_get_path(o, "a.v"), v);

	json_decref(v);
	json_decref(str);
	json_decref(o);
	json_decref(before);
}

TEST(jsonx_equal_semantics)
{
	static const struct {
		const char *a, *b;
		bool equal;
	} cases[] = {
		{ "1", "1.0", true },
		{ "1.0", "1", true },
		{ "-0.0", "0", true },
		{ "1", "1.5", false },
		{ "2", "3", false },
		{ "2.5", "2.5", true },
		{ "9007199254740993", "9007199254740992.0", false }, /* 2^53+1 vs 2^53 */
		{ "9223372036854775807", "9223372036854775808.0", false },
		{ "1", "\"1\"", false },
		{ "1", "true", false },
		{ "true", "true", true },
		{ "true", "false", false },
		{ "null", "null", true },
		{ "null", "false", false },
		{ "\"a\"", "\"a\"", true },
		{ "\"a\"", "\"a\\u0000\"", false },
		{ "\"a\\u0000b\"", "\"a\\u0000c\"", false },
		{ "{\"a\":1,\"b\":[1,2]}", "{\"b\":[1.0,2],\"a\":1.0}", true },
		{ "{\"a\":1}", "{\"a\":1,\"b\":null}", false },
		{ "{\"a\":1,\"b\":null}", "{\"a\":1}", false },
		{ "{\"a\":1}", "{\"b\":1}", false },
		{ "[1,2]", "[2,1]", false },
		{ "[1,2]", "[1,2,3]", false },
		{ "[]", "{}", false },
		{ "{}", "{}", true },
		{ "[[{\"x\":[1]}]]", "[[{\"x\":[1.0]}]]", true },
		{ "[[{\"x\":[1]}]]", "[[{\"x\":[2]}]]", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *a = load(cases[i].a), *b = load(cases[i].b);
		char path[64];

		ASSERT_MSG(jsonx_equal(a, b) == cases[i].equal, "%s vs %s", cases[i].a, cases[i].b);
		ASSERT_MSG(jsonx_equal(b, a) == cases[i].equal, "%s vs %s", cases[i].b, cases[i].a);
		/* jsonx_diff_path must agree with jsonx_equal. */
		ASSERT_EQ(jsonx_diff_path(a, b, path, sizeof(path)), !cases[i].equal);
		json_decref(a);
		json_decref(b);
	}
	ASSERT(jsonx_equal(NULL, NULL));
	ASSERT(!jsonx_equal(NULL, json_null()));
	ASSERT(!jsonx_equal(json_null(), NULL));
}

static void expect_diff(const char *a_text, const char *b_text, const char *want)
{
	json_t *a = load(a_text), *b = load(b_text);
	char path[128];

	ASSERT_MSG(jsonx_diff_path(a, b, path, sizeof(path)), "%s vs %s: no difference", a_text,
		   b_text);
	ASSERT_STREQ(path, want);
	/* The path is symmetric and usable with jsonx_get_path (unless it is the root). */
	ASSERT(jsonx_diff_path(b, a, path, sizeof(path)));
	ASSERT_STREQ(path, want);
	if (want[0]) {
		json_t *va = jsonx_get_path(a, want), *vb = jsonx_get_path(b, want);

		ASSERT_MSG(va || vb, "path %s names nothing", want);
		ASSERT(!jsonx_equal(va, vb));
	}
	json_decref(a);
	json_decref(b);
}

TEST(jsonx_diff_path_names_first_difference)
{
	expect_diff("{\"spec\":{\"replicas\":1}}", "{\"spec\":{\"replicas\":2}}", "spec.replicas");
	expect_diff("{\"spec\":{\"containers\":[{\"image\":\"a\"},{\"image\":\"b\"}]}}",
		    "{\"spec\":{\"containers\":[{\"image\":\"a\"},{\"image\":\"c\"}]}}",
		    "spec.containers[1].image");
	/* Keys are visited in sorted order, whatever the insertion order. */
	expect_diff("{\"z\":1,\"b\":1,\"a\":{\"y\":1,\"x\":1}}",
		    "{\"a\":{\"x\":2,\"y\":2},\"b\":2,\"z\":2}", "a.x");
	/* A key on one side only. */
	expect_diff("{\"a\":1,\"c\":1}", "{\"a\":1,\"b\":1,\"c\":1}", "b");
	expect_diff("{\"m\":{}}", "{\"m\":{\"k\":null}}", "m.k");
	/* Arrays of different length: first index that one side lacks. */
	expect_diff("{\"l\":[1,2]}", "{\"l\":[1,2,3]}", "l[2]");
	expect_diff("{\"l\":[1,2]}", "{\"l\":[1,5,3]}", "l[1]");
	/* Type changes below the root. */
	expect_diff("{\"a\":{\"b\":\"1\"}}", "{\"a\":{\"b\":1}}", "a.b");
	expect_diff("{\"a\":[]}", "{\"a\":{}}", "a");
	/* Keys that need quoting are written in bracket form, escapes included. */
	expect_diff("{\"metadata\":{\"labels\":{\"app.kubernetes.io/name\":\"a\"}}}",
		    "{\"metadata\":{\"labels\":{\"app.kubernetes.io/name\":\"b\"}}}",
		    "metadata.labels[\"app.kubernetes.io/name\"]");
	expect_diff("{\"q\\\"k\\\\\":1}", "{\"q\\\"k\\\\\":2}", "[\"q\\\"k\\\\\"]");
	expect_diff("{\"\":1}", "{\"\":2}", "[\"\"]");
	expect_diff("{\"a[0]\":{\"b\":1}}", "{\"a[0]\":{\"b\":2}}", "[\"a[0]\"].b");
	expect_diff("[[1],[2]]", "[[1],[3]]", "[1][0]");
	/* Different roots: the empty path. */
	expect_diff("1", "2", "");
	expect_diff("[]", "{}", "");
}

TEST(jsonx_diff_path_buffer_handling)
{
	json_t *a = load("{\"spec\":{\"template\":{\"image\":\"a\"}}}");
	json_t *b = load("{\"spec\":{\"template\":{\"image\":\"b\"}}}");
	char path[8];

	memset(path, 'X', sizeof(path));
	ASSERT(jsonx_diff_path(a, b, path, sizeof(path)));
	ASSERT_STREQ(path, "spec.te"); /* truncated, NUL-terminated */
	ASSERT(jsonx_diff_path(a, b, NULL, 0));
	ASSERT(!jsonx_diff_path(a, a, path, sizeof(path)));
	ASSERT_STREQ(path, "");
	ASSERT(jsonx_diff_path(a, NULL, path, sizeof(path)));
	ASSERT_STREQ(path, "");
	json_decref(a);
	json_decref(b);
}

TEST(jsonx_dumps_compact_is_stable)
{
	json_t *a = load("{\"b\": [1, {\"y\": 2, \"x\": 1}], \"a\": \"s\"}");
	json_t *b = json_object();
	char *sa, *sb, *s;

	/* Same content, different insertion order. */
	json_object_set_new(b, "a", json_string("s"));
	json_object_set_new(b, "b", load("[1, {\"x\": 1, \"y\": 2}]"));
	sa = jsonx_dumps_compact(a);
	sb = jsonx_dumps_compact(b);
	ASSERT_STREQ(sa, "{\"a\":\"s\",\"b\":[1,{\"x\":1,\"y\":2}]}");
	ASSERT_STREQ(sa, sb);
	s = jsonx_dumps_compact(json_true());
	ASSERT_STREQ(s, "true"); /* scalars are allowed */
	ASSERT_NULL(jsonx_dumps_compact(NULL));
	free(sa);
	free(sb);
	free(s);
	json_decref(a);
	json_decref(b);
}
