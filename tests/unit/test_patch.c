/*
 * Unit tests for control/apiserver/patch: RFC 7386 merge patch, RFC 6902 JSON
 * patch and Kubernetes strategic merge patch, each as a table of JSON
 * literals {document, patch, expected result or error}. Every case also checks
 * that neither input was modified (deep compare with a copy taken before,
 * and the top-level reference counts).
 *
 * JSON in the tables is written with ' for " so it stays readable; \\' in a
 * literal gives an escaped quote inside a JSON string.
 */
#include "test.h"
#include "jsonx.h"
#include "util.h"
#include "control/apiserver/patch.h"

#include <stdlib.h>

static json_t *J(const char *text)
{
	char *s = xstrdup(text);
	json_error_t e;
	json_t *j;

	for (char *c = s; *c; c++)
		if (*c == '\'')
			*c = '"';
	j = json_loads(s, JSON_DECODE_ANY, &e);
	ASSERT_MSG(j != NULL, "bad test JSON (%s) at %d: %s", e.text, e.position, s);
	free(s);
	return j;
}

enum fmt { FMT_MERGE, FMT_JSON, FMT_SMP };

struct patch_case {
	const char *name;
	const char *kind; /* strategic merge only */
	const char *doc;
	const char *patch;
	const char *want; /* the result when rc is 0 */
	int rc;
	const char *msg; /* a substring of the error message when rc is not 0 */
};

/* clang-format off */
#define OK(name, doc, patch, want)		{ name, NULL, doc, patch, want, 0, NULL }
#define FAIL(name, doc, patch, rc, msg)		{ name, NULL, doc, patch, NULL, rc, msg }
#define KOK(name, kind, doc, patch, want)	{ name, kind, doc, patch, want, 0, NULL }
#define KFAIL(name, kind, doc, patch, rc, msg)	{ name, kind, doc, patch, NULL, rc, msg }
/* clang-format on */

static int apply(enum fmt f, const char *kind, const json_t *doc, const json_t *patch, json_t **out,
		 char *err, size_t len)
{
	switch (f) {
	case FMT_MERGE:
		return patch_merge(doc, patch, out, err, len);
	case FMT_JSON:
		return patch_json(doc, patch, out, err, len);
	case FMT_SMP:
		return patch_strategic(kind, doc, patch, out, err, len);
	}
	return -EINVAL;
}

static size_t refcount(const json_t *j)
{
	return json_is_object(j) || json_is_array(j) ? j->refcount : 1;
}

/* Runs one patch and checks the inputs survived; returns the result (or NULL). */
static json_t *run(enum fmt f, const char *name, const char *kind, json_t *doc, json_t *patch,
		   int want_rc, const char *msg)
{
	json_t *doc0 = json_deep_copy(doc), *patch0 = json_deep_copy(patch);
	json_t sentinel, *out = &sentinel;
	char err[512] = "";
	int rc = apply(f, kind, doc, patch, &out, err, sizeof(err));

	ASSERT_MSG(rc == want_rc, "%s: returned %d (%s), want %d", name, rc, err, want_rc);
	if (rc) {
		ASSERT_MSG(out == &sentinel, "%s: *out set on failure", name);
		out = NULL;
		ASSERT_MSG(err[0], "%s: no error message", name);
		ASSERT_MSG(!msg || strstr(err, msg), "%s: message \"%s\" lacks \"%s\"", name, err,
			   msg);
	}
	ASSERT_MSG(jsonx_equal(doc, doc0), "%s: the document was modified", name);
	ASSERT_MSG(jsonx_equal(patch, patch0), "%s: the patch was modified", name);
	ASSERT_MSG(refcount(doc) == 1 && refcount(patch) == 1, "%s: inputs still referenced", name);
	json_decref(doc0);
	json_decref(patch0);
	return out;
}

static void run_cases(enum fmt f, const struct patch_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++, c++) {
		json_t *doc = J(c->doc), *patch = J(c->patch);
		json_t *out = run(f, c->name, c->kind, doc, patch, c->rc, c->msg);

		if (!c->rc) {
			json_t *want = J(c->want);
			char *got_s = jsonx_dumps_compact(out), *want_s = jsonx_dumps_compact(want);

			ASSERT_MSG(jsonx_equal(out, want), "%s:\n  got  %s\n  want %s", c->name,
				   got_s, want_s);
			free(got_s);
			free(want_s);
			json_decref(want);
		}
		json_decref(out);
		json_decref(doc);
		json_decref(patch);
	}
}

/* "{'a':{'a':...{}...}}" nested depth levels deep. */
static char *nested(int depth)
{
	struct buf b = { 0 };

	for (int i = 0; i < depth; i++)
		buf_appendf(&b, "{'a':");
	buf_appendf(&b, "{}");
	for (int i = 0; i < depth; i++)
		buf_appendf(&b, "}");
	return b.data;
}

/* ------------------------------------------------------------ RFC 7386 */

static const struct patch_case merge_cases[] = {
	/* RFC 7386 appendix A, in order. */
	OK("A1 replace member", "{'a':'b'}", "{'a':'c'}", "{'a':'c'}"),
	OK("A2 add member", "{'a':'b'}", "{'b':'c'}", "{'a':'b','b':'c'}"),
	OK("A3 null removes", "{'a':'b'}", "{'a':null}", "{}"),
	OK("A4 null removes one", "{'a':'b','b':'c'}", "{'a':null}", "{'b':'c'}"),
	OK("A5 array to scalar", "{'a':['b']}", "{'a':'c'}", "{'a':'c'}"),
	OK("A6 scalar to array", "{'a':'c'}", "{'a':['b']}", "{'a':['b']}"),
	OK("A7 nested merge", "{'a':{'b':'c'}}", "{'a':{'b':'d','c':null}}", "{'a':{'b':'d'}}"),
	OK("A8 arrays replace", "{'a':[{'b':'c'}]}", "{'a':[1]}", "{'a':[1]}"),
	/* A9-A12 patch with a non-object: the RFC replaces the document, Kubernetes refuses. */
	FAIL("A9 array patch", "['a','b']", "['c','d']", -EINVAL, "JSON object"),
	FAIL("A10 array patch on object", "{'a':'b'}", "['c']", -EINVAL, NULL),
	FAIL("A11 null patch", "{'a':'foo'}", "null", -EINVAL, NULL),
	FAIL("A12 string patch", "{'a':'foo'}", "'bar'", -EINVAL, NULL),
	OK("A13 existing null kept", "{'e':null}", "{'a':1}", "{'e':null,'a':1}"),
	OK("A14 non-object target", "[1,2]", "{'a':'b','c':null}", "{'a':'b'}"),
	OK("A15 nulls in new object", "{}", "{'a':{'bb':{'ccc':null}}}", "{'a':{'bb':{}}}"),
	/* RFC 7386 section 3. */
	OK("RFC example",
	   "{'title':'Goodbye!','author':{'givenName':'John','familyName':'Doe'},"
	   "'tags':['example','sample'],'content':'This will be unchanged'}",
	   "{'title':'Hello!','phoneNumber':'+01-123-456-7890','author':{'familyName':null},"
	   "'tags':['example']}",
	   "{'title':'Hello!','author':{'givenName':'John'},'tags':['example'],"
	   "'content':'This will be unchanged','phoneNumber':'+01-123-456-7890'}"),
	/* What kubectl sends. */
	OK("kubectl label", "{'metadata':{'name':'p','labels':{'app':'web'}}}",
	   "{'metadata':{'labels':{'tier':'front'}}}",
	   "{'metadata':{'name':'p','labels':{'app':'web','tier':'front'}}}"),
	OK("kubectl label app-", "{'metadata':{'name':'p','labels':{'app':'web'}}}",
	   "{'metadata':{'labels':{'app':null}}}", "{'metadata':{'name':'p','labels':{}}}"),
	OK("kubectl label on no labels", "{'metadata':{'name':'p'}}",
	   "{'metadata':{'labels':{'app':'web'}}}",
	   "{'metadata':{'name':'p','labels':{'app':'web'}}}"),
	OK("kubectl annotate --overwrite and remove",
	   "{'metadata':{'annotations':{'a':'1','b':'2','example.com/c':'3'}}}",
	   "{'metadata':{'annotations':{'a':'9','example.com/c':null}}}",
	   "{'metadata':{'annotations':{'a':'9','b':'2'}}}"),
	OK("kubectl scale",
	   "{'kind':'Scale','spec':{'replicas':1},'status':{'replicas':1,'selector':'app=web'}}",
	   "{'spec':{'replicas':3}}",
	   "{'kind':'Scale','spec':{'replicas':3},'status':{'replicas':1,'selector':'app=web'}}"),
	OK("null for a missing key", "{'a':1}", "{'b':null}", "{'a':1}"),
	OK("empty patch", "{'a':[1,{'b':2}]}", "{}", "{'a':[1,{'b':2}]}"),
	OK("arrays are verbatim, nulls kept", "{'a':[1]}", "{'a':[{'b':null},null]}",
	   "{'a':[{'b':null},null]}"),
	OK("object replaces scalar", "{'a':5}", "{'a':{'b':1,'c':null}}", "{'a':{'b':1}}"),
	OK("scalar replaces object", "{'a':{'b':1}}", "{'a':true}", "{'a':true}"),
	OK("keys with dots and slashes", "{'a.b/c':1}", "{'a.b/c':null,'~0':2}", "{'~0':2}"),
};

TEST(patch_merge_table)
{
	run_cases(FMT_MERGE, merge_cases, ARRAY_SIZE(merge_cases));
}

TEST(patch_merge_depth_limit)
{
	char *ok = nested(100), *deep = nested(600);
	json_t *doc = J("{}"), *patch = J(ok), *out;

	out = run(FMT_MERGE, "depth 100", NULL, doc, patch, 0, NULL);
	ASSERT(jsonx_equal(out, patch));
	json_decref(out);
	json_decref(patch);
	patch = J(deep);
	out = run(FMT_MERGE, "depth 600", NULL, doc, patch, -EINVAL, "deeper");
	json_decref(patch);
	json_decref(doc);
	free(ok);
	free(deep);
}

/* ------------------------------------------------------------ RFC 6902 */

#define RFC6901_DOC                                                                       \
	"{'foo':['bar','baz'],'':0,'a/b':1,'c%d':2,'e^f':3,'g|h':4,'i\\\\j':5,'k\\'l':6," \
	"' ':7,'m~n':8}"

static const struct patch_case json_cases[] = {
	/* RFC 6902 appendix A (A.13, a duplicate "op" member, cannot reach a json_t). */
	OK("A1 add member", "{'foo':'bar'}", "[{'op':'add','path':'/baz','value':'qux'}]",
	   "{'baz':'qux','foo':'bar'}"),
	OK("A2 add array element", "{'foo':['bar','baz']}",
	   "[{'op':'add','path':'/foo/1','value':'qux'}]", "{'foo':['bar','qux','baz']}"),
	OK("A3 remove member", "{'baz':'qux','foo':'bar'}", "[{'op':'remove','path':'/baz'}]",
	   "{'foo':'bar'}"),
	OK("A4 remove array element", "{'foo':['bar','qux','baz']}",
	   "[{'op':'remove','path':'/foo/1'}]", "{'foo':['bar','baz']}"),
	OK("A5 replace", "{'baz':'qux','foo':'bar'}",
	   "[{'op':'replace','path':'/baz','value':'boo'}]", "{'baz':'boo','foo':'bar'}"),
	OK("A6 move member", "{'foo':{'bar':'baz','waldo':'fred'},'qux':{'corge':'grault'}}",
	   "[{'op':'move','from':'/foo/waldo','path':'/qux/thud'}]",
	   "{'foo':{'bar':'baz'},'qux':{'corge':'grault','thud':'fred'}}"),
	OK("A7 move array element", "{'foo':['all','grass','cows','eat']}",
	   "[{'op':'move','from':'/foo/1','path':'/foo/3'}]",
	   "{'foo':['all','cows','eat','grass']}"),
	OK("A8 test success", "{'baz':'qux','foo':['a',2,'c']}",
	   "[{'op':'test','path':'/baz','value':'qux'},{'op':'test','path':'/foo/1','value':2}]",
	   "{'baz':'qux','foo':['a',2,'c']}"),
	FAIL("A9 test failure", "{'baz':'qux'}", "[{'op':'test','path':'/baz','value':'bar'}]",
	     -ECANCELED, "/baz"),
	OK("A10 add nested object", "{'foo':'bar'}",
	   "[{'op':'add','path':'/child','value':{'grandchild':{}}}]",
	   "{'foo':'bar','child':{'grandchild':{}}}"),
	OK("A11 unknown members ignored", "{'foo':'bar'}",
	   "[{'op':'add','path':'/baz','value':'qux','xyz':123}]", "{'foo':'bar','baz':'qux'}"),
	FAIL("A12 add to missing parent", "{'foo':'bar'}",
	     "[{'op':'add','path':'/baz/bat','value':'qux'}]", -ENOENT, "/baz/bat"),
	OK("A14 escape ordering", "{'/':9,'~1':10}", "[{'op':'test','path':'/~01','value':10}]",
	   "{'/':9,'~1':10}"),
	FAIL("A15 string is not number", "{'/':9,'~1':10}",
	     "[{'op':'test','path':'/~01','value':'10'}]", -ECANCELED, NULL),
	OK("A16 add array value", "{'foo':['bar']}",
	   "[{'op':'add','path':'/foo/-','value':['abc','def']}]", "{'foo':['bar',['abc','def']]}"),
	/* RFC 6901 section 5: every pointer of the example resolves. */
	OK("RFC 6901 pointers", RFC6901_DOC,
	   "[{'op':'test','path':'','value':" RFC6901_DOC "},"
	   "{'op':'test','path':'/foo','value':['bar','baz']},"
	   "{'op':'test','path':'/foo/0','value':'bar'},{'op':'test','path':'/','value':0},"
	   "{'op':'test','path':'/a~1b','value':1},{'op':'test','path':'/c%d','value':2},"
	   "{'op':'test','path':'/e^f','value':3},{'op':'test','path':'/g|h','value':4},"
	   "{'op':'test','path':'/i\\\\j','value':5},{'op':'test','path':'/k\\'l','value':6},"
	   "{'op':'test','path':'/ ','value':7},{'op':'test','path':'/m~0n','value':8}]",
	   RFC6901_DOC),
	/* Operations in detail. */
	OK("add null value", "{}", "[{'op':'add','path':'/a','value':null}]", "{'a':null}"),
	OK("add replaces member", "{'a':1}", "[{'op':'add','path':'/a','value':2}]", "{'a':2}"),
	OK("add at index == size", "{'a':[1,2]}", "[{'op':'add','path':'/a/2','value':3}]",
	   "{'a':[1,2,3]}"),
	OK("add at index 0", "{'a':[1,2]}", "[{'op':'add','path':'/a/0','value':0}]",
	   "{'a':[0,1,2]}"),
	OK("add '-' is a key in objects", "{'a':{}}", "[{'op':'add','path':'/a/-','value':1}]",
	   "{'a':{'-':1}}"),
	OK("add empty key", "{}", "[{'op':'add','path':'/','value':1}]", "{'':1}"),
	OK("add whole document", "{'a':1}", "[{'op':'add','path':'','value':[1]}]", "[1]"),
	OK("replace whole document", "{'a':1}", "[{'op':'replace','path':'','value':{'b':2}}]",
	   "{'b':2}"),
	OK("replace array element", "[1,2,3]", "[{'op':'replace','path':'/1','value':9}]",
	   "[1,9,3]"),
	OK("move to same path", "{'a':{'b':1}}", "[{'op':'move','from':'/a','path':'/a'}]",
	   "{'a':{'b':1}}"),
	OK("move to sibling with common prefix", "{'a':1}",
	   "[{'op':'move','from':'/a','path':'/ab'}]", "{'ab':1}"),
	OK("move to end", "{'a':[1,2,3]}", "[{'op':'move','from':'/a/0','path':'/a/-'}]",
	   "{'a':[2,3,1]}"),
	OK("move replaces target", "{'a':1,'b':2}", "[{'op':'move','from':'/a','path':'/b'}]",
	   "{'b':1}"),
	OK("copy is deep", "{'a':{'x':1}}",
	   "[{'op':'copy','from':'/a','path':'/b'},{'op':'add','path':'/b/y','value':2}]",
	   "{'a':{'x':1},'b':{'x':1,'y':2}}"),
	OK("copy into array", "{'a':[1,2],'v':'x'}", "[{'op':'copy','from':'/v','path':'/a/1'}]",
	   "{'a':[1,'x',2],'v':'x'}"),
	OK("test 1 == 1.0", "{'a':1}", "[{'op':'test','path':'/a','value':1.0}]", "{'a':1}"),
	OK("test objects ignore key order", "{'a':{'x':1,'y':[1,2]}}",
	   "[{'op':'test','path':'/a','value':{'y':[1,2],'x':1}}]", "{'a':{'x':1,'y':[1,2]}}"),
	FAIL("test arrays are ordered", "{'a':[1,2]}", "[{'op':'test','path':'/a','value':[2,1]}]",
	     -ECANCELED, NULL),
	OK("test null", "{'a':null}", "[{'op':'test','path':'/a','value':null}]", "{'a':null}"),
	OK("empty patch", "{'a':1}", "[]", "{'a':1}"),
	/* kubectl patch --type=json. */
	OK("kubectl scale by json patch", "{'spec':{'replicas':1}}",
	   "[{'op':'replace','path':'/spec/replicas','value':3}]", "{'spec':{'replicas':3}}"),
	OK("kubectl label with slash", "{'metadata':{'labels':{}}}",
	   "[{'op':'add','path':'/metadata/labels/app.kubernetes.io~1name','value':'web'}]",
	   "{'metadata':{'labels':{'app.kubernetes.io/name':'web'}}}"),
	OK("kubectl remove env var",
	   "{'spec':{'containers':[{'name':'c','env':[{'name':'A'},{'name':'B'}]}]}}",
	   "[{'op':'remove','path':'/spec/containers/0/env/1'}]",
	   "{'spec':{'containers':[{'name':'c','env':[{'name':'A'}]}]}}"),
	/* All or nothing: a failing operation leaves no trace (the runner checks the input). */
	FAIL("atomic", "{'a':1}",
	     "[{'op':'add','path':'/b','value':2},{'op':'remove','path':'/nope'}]", -ENOENT,
	     "operation 1 (remove)"),
	/* Malformed patches. */
	FAIL("not a list", "{}", "{'op':'add','path':'/a','value':1}", -EINVAL, NULL),
	FAIL("operation not an object", "{}", "[1]", -EINVAL, "operation 0"),
	FAIL("unknown op", "{}", "[{'op':'frob','path':'/a'}]", -EINVAL, "frob"),
	FAIL("op not a string", "{}", "[{'op':1,'path':'/a'}]", -EINVAL, NULL),
	FAIL("missing path", "{}", "[{'op':'add','value':1}]", -EINVAL, "path"),
	FAIL("path not a string", "{}", "[{'op':'add','path':1,'value':1}]", -EINVAL, NULL),
	FAIL("missing value", "{}", "[{'op':'add','path':'/a'}]", -EINVAL, "value"),
	FAIL("replace missing value", "{'a':1}", "[{'op':'replace','path':'/a'}]", -EINVAL, NULL),
	FAIL("test missing value", "{'a':1}", "[{'op':'test','path':'/a'}]", -EINVAL, NULL),
	FAIL("move missing from", "{'a':1}", "[{'op':'move','path':'/b'}]", -EINVAL, "from"),
	FAIL("copy missing from", "{'a':1}", "[{'op':'copy','path':'/b'}]", -EINVAL, NULL),
	FAIL("pointer without slash", "{'a':1}", "[{'op':'remove','path':'a'}]", -EINVAL,
	     "pointer"),
	FAIL("bad escape ~2", "{'a':1}", "[{'op':'remove','path':'/a~2'}]", -EINVAL, NULL),
	FAIL("bad escape ~ at end", "{'a~':1}", "[{'op':'remove','path':'/a~'}]", -EINVAL, NULL),
	FAIL("bad from pointer", "{'a':1}", "[{'op':'copy','from':'a','path':'/b'}]", -EINVAL,
	     NULL),
	/* Array indices. */
	FAIL("leading zero", "{'a':[1,2]}", "[{'op':'add','path':'/a/01','value':0}]", -EINVAL,
	     "array index"),
	FAIL("negative index", "{'a':[1,2]}", "[{'op':'remove','path':'/a/-1'}]", -EINVAL, NULL),
	FAIL("exponent index", "{'a':[1,2]}", "[{'op':'remove','path':'/a/1e0'}]", -EINVAL, NULL),
	FAIL("empty index", "{'a':[1,2]}", "[{'op':'remove','path':'/a/'}]", -EINVAL, NULL),
	FAIL("index inside path", "{'a':[{'b':1}]}", "[{'op':'remove','path':'/a/x/b'}]", -EINVAL,
	     NULL),
	FAIL("add past size", "{'a':[1,2]}", "[{'op':'add','path':'/a/3','value':0}]", -ENOENT,
	     NULL),
	FAIL("remove at size", "{'a':[1,2]}", "[{'op':'remove','path':'/a/2'}]", -ENOENT, NULL),
	FAIL("remove '-'", "{'a':[1,2]}", "[{'op':'remove','path':'/a/-'}]", -ENOENT, NULL),
	FAIL("replace '-'", "{'a':[1]}", "[{'op':'replace','path':'/a/-','value':0}]", -ENOENT,
	     NULL),
	FAIL("test '-'", "{'a':[1]}", "[{'op':'test','path':'/a/-','value':1}]", -ENOENT, NULL),
	FAIL("huge index", "{'a':[1]}",
	     "[{'op':'add','path':'/a/99999999999999999999999999','value':0}]", -ENOENT, NULL),
	/* Missing targets. */
	FAIL("remove missing member", "{'a':1}", "[{'op':'remove','path':'/b'}]", -ENOENT,
	     "\"/b\" does not exist"),
	FAIL("replace missing member", "{'a':1}", "[{'op':'replace','path':'/b','value':1}]",
	     -ENOENT, NULL),
	FAIL("test missing member", "{'a':1}", "[{'op':'test','path':'/b','value':1}]", -ENOENT,
	     NULL),
	FAIL("move missing from", "{'a':1}", "[{'op':'move','from':'/b','path':'/c'}]", -ENOENT,
	     "\"/b\""),
	FAIL("move to missing parent", "{'a':1}", "[{'op':'move','from':'/a','path':'/x/y'}]",
	     -ENOENT, "\"/x/y\""),
	FAIL("move same missing path", "{'a':1}", "[{'op':'move','from':'/b','path':'/b'}]",
	     -ENOENT, NULL),
	FAIL("copy missing from", "{'a':1}", "[{'op':'copy','from':'/b','path':'/c'}]", -ENOENT,
	     NULL),
	FAIL("through a scalar", "{'a':'s'}", "[{'op':'add','path':'/a/b','value':1}]", -ENOENT,
	     NULL),
	FAIL("remove through a scalar", "{'a':5}", "[{'op':'remove','path':'/a/0'}]", -ENOENT,
	     NULL),
	FAIL("add into a scalar document", "5", "[{'op':'add','path':'/a','value':1}]", -ENOENT,
	     NULL),
	/* Structural errors. */
	FAIL("move into own child", "{'a':{'b':1}}", "[{'op':'move','from':'/a','path':'/a/b/c'}]",
	     -EINVAL, "into itself"),
	FAIL("move root into child", "{'a':1}", "[{'op':'move','from':'','path':'/a'}]", -EINVAL,
	     NULL),
	FAIL("remove whole document", "{'a':1}", "[{'op':'remove','path':''}]", -EINVAL,
	     "whole document"),
};

TEST(patch_json_table)
{
	run_cases(FMT_JSON, json_cases, ARRAY_SIZE(json_cases));
}

/* Values from earlier operations are private: moving a deep value and testing it. */
TEST(patch_json_deep_values)
{
	json_t *doc = J("{'x':{'a':{'a':{'a':{'b':1}}}}}"), *out;
	json_t *patch = J("[{'op':'test','path':'/x/a/a/a/b','value':1},"
			  "{'op':'move','from':'/x/a/a','path':'/y'},"
			  "{'op':'test','path':'/y/a/b','value':1},"
			  "{'op':'copy','from':'/y','path':'/x/a/z'},"
			  "{'op':'replace','path':'/y/a/b','value':2}]");
	json_t *want = J("{'x':{'a':{'z':{'a':{'b':1}}}},'y':{'a':{'b':2}}}");

	out = run(FMT_JSON, "deep values", NULL, doc, patch, 0, NULL);
	ASSERT(jsonx_equal(out, want));
	json_decref(out);
	json_decref(want);
	json_decref(patch);
	json_decref(doc);
}

/* ------------------------------------------------- strategic merge patch */

/* A pod spec inside a Pod, and inside a workload's template. */
#define POD(spec) "{'kind':'Pod','metadata':{'name':'p'},'spec':" spec "}"
#define TPL(spec) \
	"{'spec':{'replicas':2,'template':{'metadata':{'labels':{'app':'w'}},'spec':" spec "}}}"

/* Every list of a pod spec that merges, and two that replace (args, tolerations). */
/* clang-format off */
#define PODSPEC_DOC \
	"{'initContainers':[{'name':'init','image':'a'," \
	"  'volumeMounts':[{'name':'v','mountPath':'/a'}]}]," \
	" 'ephemeralContainers':[{'name':'dbg','image':'busybox'," \
	"  'env':[{'name':'X','value':'1'}]}]," \
	" 'containers':[{'name':'c','image':'i','args':['a','b']," \
	"  'volumeMounts':[{'name':'v','mountPath':'/data','readOnly':true}]," \
	"  'volumeDevices':[{'name':'d','devicePath':'/dev/xvda'}]}]," \
	" 'imagePullSecrets':[{'name':'r1'}]," \
	" 'hostAliases':[{'ip':'1.1.1.1','hostnames':['x']}]," \
	" 'tolerations':[{'key':'a','operator':'Exists'}]," \
	" 'topologySpreadConstraints':[{'topologyKey':'zone','maxSkew':1," \
	"  'whenUnsatisfiable':'DoNotSchedule'}]," \
	" 'schedulingGates':[{'name':'g1'},{'name':'g2'}]," \
	" 'volumes':[{'name':'v','emptyDir':{}},{'name':'w','emptyDir':{}}]}"
#define PODSPEC_PATCH \
	"{'initContainers':[{'name':'init','volumeMounts':[{'mountPath':'/a','readOnly':true}]}]," \
	" 'ephemeralContainers':[{'name':'dbg','env':[{'name':'X','value':'2'}]}]," \
	" 'containers':[{'name':'c','args':['z']," \
	"  'volumeMounts':[{'mountPath':'/data','readOnly':false}]," \
	"  'volumeDevices':[{'devicePath':'/dev/xvda','name':'d2'}]}]," \
	" 'imagePullSecrets':[{'name':'r1'}]," \
	" 'hostAliases':[{'ip':'1.1.1.1','hostnames':['y']}]," \
	" 'tolerations':[{'key':'b','operator':'Exists'}]," \
	" 'topologySpreadConstraints':[{'topologyKey':'zone','maxSkew':2}]," \
	" 'schedulingGates':[{'$patch':'delete','name':'g1'}]," \
	" 'volumes':[{'name':'w','emptyDir':{'medium':'Memory'}}]}"
#define PODSPEC_WANT \
	"{'initContainers':[{'name':'init','image':'a'," \
	"  'volumeMounts':[{'name':'v','mountPath':'/a','readOnly':true}]}]," \
	" 'ephemeralContainers':[{'name':'dbg','image':'busybox'," \
	"  'env':[{'name':'X','value':'2'}]}]," \
	" 'containers':[{'name':'c','image':'i','args':['z']," \
	"  'volumeMounts':[{'name':'v','mountPath':'/data','readOnly':false}]," \
	"  'volumeDevices':[{'name':'d2','devicePath':'/dev/xvda'}]}]," \
	" 'imagePullSecrets':[{'name':'r1'}]," \
	" 'hostAliases':[{'ip':'1.1.1.1','hostnames':['y']}]," \
	" 'tolerations':[{'key':'b','operator':'Exists'}]," \
	" 'topologySpreadConstraints':[{'topologyKey':'zone','maxSkew':2," \
	"  'whenUnsatisfiable':'DoNotSchedule'}]," \
	" 'schedulingGates':[{'name':'g2'}]," \
	" 'volumes':[{'name':'v','emptyDir':{}},{'name':'w','emptyDir':{'medium':'Memory'}}]}"

/* kubectl apply of a changed Deployment: new image, env B removed and C added, a new container. */
#define APPLY_DOC \
	"{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web','annotations':{" \
	"  'kubectl.kubernetes.io/last-applied-configuration':'{}'," \
	"  'deployment.kubernetes.io/revision':'1'}}," \
	" 'spec':{'replicas':2," \
	"  'strategy':{'type':'RollingUpdate','rollingUpdate':{'maxSurge':'25%'}}," \
	"  'template':{'metadata':{'labels':{'app':'web'}},'spec':{'containers':[" \
	"   {'name':'web','image':'nginx:1.25','ports':[{'containerPort':80,'protocol':'TCP'}]," \
	"    'env':[{'name':'A','value':'1'},{'name':'B','value':'2'}]}," \
	"   {'name':'side','image':'busybox','command':['sleep','3600']}]}}}," \
	" 'status':{'replicas':2}}"
#define APPLY_PATCH \
	"{'metadata':{'annotations':{'kubectl.kubernetes.io/last-applied-configuration':" \
	"  '{\\'kind\\':\\'Deployment\\'}\\n'}}," \
	" 'spec':{'template':{'spec':{" \
	"  '$setElementOrder/containers':[{'name':'web'},{'name':'log'},{'name':'side'}]," \
	"  'containers':[{'$setElementOrder/env':[{'name':'A'},{'name':'C'}]," \
	"   'env':[{'name':'C','value':'3'},{'$patch':'delete','name':'B'}]," \
	"   'image':'nginx:1.26','name':'web'}," \
	"   {'image':'fluentd','name':'log'}]}}}}"
#define APPLY_WANT \
	"{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web','annotations':{" \
	"  'kubectl.kubernetes.io/last-applied-configuration':'{\\'kind\\':\\'Deployment\\'}\\n'," \
	"  'deployment.kubernetes.io/revision':'1'}}," \
	" 'spec':{'replicas':2," \
	"  'strategy':{'type':'RollingUpdate','rollingUpdate':{'maxSurge':'25%'}}," \
	"  'template':{'metadata':{'labels':{'app':'web'}},'spec':{'containers':[" \
	"   {'name':'web','image':'nginx:1.26','ports':[{'containerPort':80,'protocol':'TCP'}]," \
	"    'env':[{'name':'A','value':'1'},{'name':'C','value':'3'}]}," \
	"   {'name':'log','image':'fluentd'}," \
	"   {'name':'side','image':'busybox','command':['sleep','3600']}]}}}," \
	" 'status':{'replicas':2}}"
/* clang-format on */

#define C2 "{'containers':[{'name':'web','image':'nginx:1.25'},{'name':'side','image':'busybox'}]}"
#define ENV(list) POD("{'containers':[{'name':'c','env':" list "}]}")
#define PORTS(list) POD("{'containers':[{'name':'c','ports':" list "}]}")
#define NAMES(list) POD("{'containers':" list "}")
#define FINALIZERS(list) "{'metadata':{'name':'x','finalizers':" list "}}"

static const struct patch_case smp_cases[] = {
	/* What kubectl sends. */
	KOK("kubectl set image", "Deployment", TPL(C2),
	    TPL("{'containers':[{'image':'busybox:1.36','name':'side'}]}"),
	    TPL("{'containers':[{'name':'web','image':'nginx:1.25'},"
		"{'name':'side','image':'busybox:1.36'}]}")),
	KOK("kubectl set image first", "Deployment", TPL(C2),
	    TPL("{'containers':[{'image':'nginx:1.26','name':'web'}]}"),
	    TPL("{'containers':[{'name':'web','image':'nginx:1.26'},"
		"{'name':'side','image':'busybox'}]}")),
	KOK("kubectl rollout restart", "Deployment",
	    "{'spec':{'template':{'metadata':{'annotations':{'a':'1'}},'spec':" C2 "}}}",
	    "{'spec':{'template':{'metadata':{'annotations':"
	    "{'kubectl.kubernetes.io/restartedAt':'2025-01-01T00:00:00Z'}}}}}",
	    "{'spec':{'template':{'metadata':{'annotations':{'a':'1',"
	    "'kubectl.kubernetes.io/restartedAt':'2025-01-01T00:00:00Z'}},'spec':" C2 "}}}"),
	KOK("kubectl cordon", "Node", "{'kind':'Node','spec':{'podCIDR':'10.0.0.0/24'}}",
	    "{'spec':{'unschedulable':true}}",
	    "{'kind':'Node','spec':{'podCIDR':'10.0.0.0/24','unschedulable':true}}"),
	KOK("kubectl uncordon", "Node", "{'spec':{'podCIDR':'10.0.0.0/24','unschedulable':true}}",
	    "{'spec':{'unschedulable':null}}", "{'spec':{'podCIDR':'10.0.0.0/24'}}"),
	KOK("kubectl apply", "Deployment", APPLY_DOC, APPLY_PATCH, APPLY_WANT),
	KOK("kubectl apply removes a container", "Deployment", TPL(C2),
	    TPL("{'$setElementOrder/containers':[{'name':'web'}],"
		"'containers':[{'$patch':'delete','name':'side'}]}"),
	    TPL("{'containers':[{'name':'web','image':'nginx:1.25'}]}")),
	KOK("kubectl apply switches strategy", "Deployment",
	    "{'spec':{'strategy':{'type':'RollingUpdate','rollingUpdate':{'maxSurge':1}}}}",
	    "{'spec':{'strategy':{'$retainKeys':['type'],'rollingUpdate':null,'type':'Recreate'}}}",
	    "{'spec':{'strategy':{'type':'Recreate'}}}"),
	KOK("kubectl apply switches a volume source", "Deployment",
	    TPL("{'volumes':[{'name':'data','emptyDir':{}},{'name':'cfg','configMap':{'name':'o'}}]"
		"}"),
	    TPL("{'$setElementOrder/volumes':[{'name':'data'},{'name':'cfg'}],"
		"'volumes':[{'$retainKeys':['name','secret'],'emptyDir':null,'name':'data',"
		"'secret':{'secretName':'s'}}]}"),
	    TPL("{'volumes':[{'name':'data','secret':{'secretName':'s'}},"
		"{'name':'cfg','configMap':{'name':'o'}}]}")),
	KOK("$retainKeys drops fields not listed", "Pod",
	    POD("{'volumes':[{'name':'data','emptyDir':{},'hostPath':{'path':'/x'}}]}"),
	    POD("{'volumes':[{'$retainKeys':['configMap','name'],'configMap':{'name':'cm'},"
		"'name':'data'}]}"),
	    POD("{'volumes':[{'name':'data','configMap':{'name':'cm'}}]}")),
	KOK("kubectl apply finalizers", "ConfigMap", FINALIZERS("['a','b']"),
	    "{'metadata':{'$setElementOrder/finalizers':['a','c'],"
	    "'$deleteFromPrimitiveList/finalizers':['b'],'finalizers':['c']}}",
	    FINALIZERS("['a','c']")),
	/* Lists merged by key. */
	KOK("env added: upstream puts it first", "Pod",
	    ENV("[{'name':'A','value':'1'},{'name':'B','value':'2'}]"),
	    ENV("[{'name':'C','value':'3'}]"),
	    ENV("[{'name':'C','value':'3'},{'name':'A','value':'1'},{'name':'B','value':'2'}]")),
	KOK("env added with $setElementOrder", "Pod",
	    ENV("[{'name':'A','value':'1'},{'name':'B','value':'2'}]"),
	    POD("{'containers':[{'name':'c','$setElementOrder/env':[{'name':'A'},{'name':'B'},"
		"{'name':'C'}],'env':[{'name':'C','value':'3'}]}]}"),
	    ENV("[{'name':'A','value':'1'},{'name':'B','value':'2'},{'name':'C','value':'3'}]")),
	KOK("env changed in place", "Pod",
	    ENV("[{'name':'A','value':'1'},{'name':'B','value':'2'}]"),
	    ENV("[{'name':'B','value':'9'}]"),
	    ENV("[{'name':'A','value':'1'},{'name':'B','value':'9'}]")),
	KOK("env removed by name", "Pod",
	    ENV("[{'name':'A','value':'1'},{'name':'B','value':'2'}]"),
	    ENV("[{'$patch':'delete','name':'A'}]"), ENV("[{'name':'B','value':'2'}]")),
	KOK("env valueFrom replaced by value", "Pod",
	    ENV("[{'name':'A','valueFrom':{'fieldRef':{'fieldPath':'metadata.name'}}}]"),
	    ENV("[{'name':'A','value':'x','valueFrom':null}]"), ENV("[{'name':'A','value':'x'}]")),
	KOK("ports by containerPort", "Pod",
	    PORTS("[{'containerPort':80,'name':'http'},{'containerPort':9090,'name':'metrics'}]"),
	    PORTS("[{'containerPort':80,'protocol':'TCP'},{'containerPort':443,'name':'https'}]"),
	    PORTS("[{'containerPort':80,'name':'http','protocol':'TCP'},"
		  "{'containerPort':443,'name':'https'},{'containerPort':9090,'name':'metrics'}]")),
	KOK("merge keys compare numbers by value", "Pod", PORTS("[{'containerPort':80}]"),
	    PORTS("[{'containerPort':80.0,'name':'web'}]"),
	    PORTS("[{'containerPort':80,'name':'web'}]")),
	KOK("service ports by port", "Service",
	    "{'spec':{'selector':{'app':'w'},'ports':[{'name':'http','port':80,'targetPort':8080},"
	    "{'name':'https','port':443,'targetPort':8443}]}}",
	    "{'spec':{'ports':[{'port':443,'targetPort':9443}]}}",
	    "{'spec':{'selector':{'app':'w'},'ports':[{'name':'http','port':80,'targetPort':8080},"
	    "{'name':'https','port':443,'targetPort':9443}]}}"),
	KOK("delete a container", "Pod", POD(C2),
	    POD("{'containers':[{'$patch':'delete','name':'web'}]}"),
	    POD("{'containers':[{'name':'side','image':'busybox'}]}")),
	KOK("delete a missing element", "Pod", POD(C2),
	    POD("{'containers':[{'$patch':'delete','name':'nope'}]}"), POD(C2)),
	KOK("replace the containers list", "Pod", POD(C2),
	    POD("{'containers':[{'$patch':'replace'},{'name':'only','image':'x'}]}"),
	    POD("{'containers':[{'name':'only','image':'x'}]}")),
	KOK("delete then re-add", "Pod", NAMES("[{'name':'a','image':'old','args':['x']}]"),
	    NAMES("[{'name':'a','image':'new'},{'$patch':'delete','name':'a'}]"),
	    NAMES("[{'name':'a','image':'new'}]")),
	KOK("the same new key twice merges", "Pod", NAMES("[{'name':'c'}]"),
	    NAMES("[{'name':'n','image':'a'},{'name':'n','args':['x']}]"),
	    NAMES("[{'name':'n','image':'a','args':['x']},{'name':'c'}]")),
	KOK("ownerReferences by uid", "ReplicaSet",
	    "{'metadata':{'ownerReferences':[{'uid':'u1','kind':'Deployment','name':'a'}]}}",
	    "{'metadata':{'ownerReferences':[{'uid':'u1','controller':true},"
	    "{'uid':'u2','kind':'Deployment','name':'b'}]}}",
	    "{'metadata':{'ownerReferences':[{'uid':'u1','kind':'Deployment','name':'a',"
	    "'controller':true},{'uid':'u2','kind':'Deployment','name':'b'}]}}"),
	KOK("ownerReferences delete by uid", "Pod",
	    "{'metadata':{'ownerReferences':[{'uid':'u1','name':'a'},{'uid':'u2','name':'b'}]}}",
	    "{'metadata':{'ownerReferences':[{'$patch':'delete','uid':'u1'}]}}",
	    "{'metadata':{'ownerReferences':[{'uid':'u2','name':'b'}]}}"),
	KOK("pod spec lists (Pod)", "Pod", POD(PODSPEC_DOC), POD(PODSPEC_PATCH), POD(PODSPEC_WANT)),
	KOK("pod spec lists (Deployment)", "Deployment", TPL(PODSPEC_DOC), TPL(PODSPEC_PATCH),
	    TPL(PODSPEC_WANT)),
	KOK("pod spec lists (ReplicaSet)", "ReplicaSet", TPL(PODSPEC_DOC), TPL(PODSPEC_PATCH),
	    TPL(PODSPEC_WANT)),
	KOK("pod spec lists (DaemonSet)", "DaemonSet", TPL(PODSPEC_DOC), TPL(PODSPEC_PATCH),
	    TPL(PODSPEC_WANT)),
	KOK("template finalizers merge", "Deployment",
	    "{'spec':{'template':{'metadata':{'finalizers':['a']}}}}",
	    "{'spec':{'template':{'metadata':{'finalizers':['b']}}}}",
	    "{'spec':{'template':{'metadata':{'finalizers':['b','a']}}}}"),
	/* Conditions by type. */
	KOK("pod conditions", "Pod",
	    "{'status':{'conditions':[{'type':'PodScheduled','status':'True'},"
	    "{'type':'Ready','status':'False'}],'podIPs':[{'ip':'10.0.0.5'}]}}",
	    "{'status':{'conditions':[{'type':'Ready','status':'True'}],"
	    "'podIPs':[{'ip':'fd00::5'}],'hostIPs':[{'ip':'192.168.1.1'}]}}",
	    "{'status':{'conditions':[{'type':'PodScheduled','status':'True'},"
	    "{'type':'Ready','status':'True'}],'podIPs':[{'ip':'fd00::5'},{'ip':'10.0.0.5'}],"
	    "'hostIPs':[{'ip':'192.168.1.1'}]}}"),
	KOK("deployment conditions: a new one goes first", "Deployment",
	    "{'status':{'conditions':[{'type':'Available','status':'True'}]}}",
	    "{'status':{'conditions':[{'type':'Progressing','status':'True'}]}}",
	    "{'status':{'conditions':[{'type':'Progressing','status':'True'},"
	    "{'type':'Available','status':'True'}]}}"),
	KOK("replicaset conditions", "ReplicaSet",
	    "{'status':{'conditions':[{'type':'ReplicaFailure','status':'True','reason':'x'}]}}",
	    "{'status':{'conditions':[{'type':'ReplicaFailure','status':'False'}]}}",
	    "{'status':{'conditions':[{'type':'ReplicaFailure','status':'False','reason':'x'}]}}"),
	KOK("daemonset conditions", "DaemonSet", "{'status':{'conditions':[{'type':'A','x':1}]}}",
	    "{'status':{'conditions':[{'type':'A','y':2}]}}",
	    "{'status':{'conditions':[{'type':'A','x':1,'y':2}]}}"),
	KOK("namespace conditions, spec.finalizers replace", "Namespace",
	    "{'spec':{'finalizers':['kubernetes']},'status':{'conditions':[{'type':'A','x':1}]}}",
	    "{'spec':{'finalizers':['other']},'status':{'conditions':[{'type':'A','y':2}]}}",
	    "{'spec':{'finalizers':['other']},'status':{'conditions':[{'type':'A','x':1,'y':2}]}}"),
	KOK("service conditions", "Service", "{'status':{'conditions':[{'type':'A','x':1}]}}",
	    "{'status':{'conditions':[{'type':'A','y':2}]}}",
	    "{'status':{'conditions':[{'type':'A','x':1,'y':2}]}}"),
	KOK("node lists", "Node",
	    "{'spec':{'podCIDRs':['10.0.0.0/24'],'taints':[{'key':'a','effect':'NoSchedule'}]},"
	    "'status':{'conditions':[{'type':'Ready','status':'False','reason':'x'}],"
	    "'addresses':[{'type':'InternalIP','address':'10.0.0.1'},"
	    "{'type':'Hostname','address':'n1'}],'images':[{'names':['a'],'sizeBytes':1}]}}",
	    "{'spec':{'podCIDRs':['fd00::/64'],'taints':[{'key':'b','effect':'NoExecute'}]},"
	    "'status':{'conditions':[{'type':'Ready','status':'True'}],"
	    "'addresses':[{'type':'InternalIP','address':'10.0.0.2'}],"
	    "'images':[{'names':['b']}]}}",
	    "{'spec':{'podCIDRs':['fd00::/64','10.0.0.0/24'],"
	    "'taints':[{'key':'b','effect':'NoExecute'}]},"
	    "'status':{'conditions':[{'type':'Ready','status':'True','reason':'x'}],"
	    "'addresses':[{'type':'InternalIP','address':'10.0.0.2'},"
	    "{'type':'Hostname','address':'n1'}],'images':[{'names':['b']}]}}"),
	KOK("serviceaccount secrets merge, imagePullSecrets replace", "ServiceAccount",
	    "{'secrets':[{'name':'a'}],'imagePullSecrets':[{'name':'a'}]}",
	    "{'secrets':[{'name':'b'}],'imagePullSecrets':[{'name':'b'}]}",
	    "{'secrets':[{'name':'b'},{'name':'a'}],'imagePullSecrets':[{'name':'b'}]}"),
	/* Primitive lists. */
	KOK("finalizers: a new one goes first", "Pod", FINALIZERS("['a','b']"), FINALIZERS("['c']"),
	    FINALIZERS("['c','a','b']")),
	KOK("finalizers: patch order kept", "Pod", FINALIZERS("['a','b']"), FINALIZERS("['b','c']"),
	    FINALIZERS("['a','b','c']")),
	KOK("finalizers: duplicates collapse", "Pod", FINALIZERS("['a','b']"), FINALIZERS("['a']"),
	    FINALIZERS("['a','b']")),
	KOK("$deleteFromPrimitiveList", "Secret", FINALIZERS("['a','b','c']"),
	    "{'metadata':{'$deleteFromPrimitiveList/finalizers':['b','zz']}}",
	    FINALIZERS("['a','c']")),
	KOK("$deleteFromPrimitiveList of a missing list", "Secret", "{'metadata':{}}",
	    "{'metadata':{'$deleteFromPrimitiveList/finalizers':['b']}}", "{'metadata':{}}"),
	KOK("$deleteFromPrimitiveList after adding", "Lease", FINALIZERS("['a']"),
	    "{'metadata':{'finalizers':['b','c'],'$deleteFromPrimitiveList/finalizers':['a','c']}}",
	    FINALIZERS("['b']")),
	KOK("podCIDRs element types", "Node", "{'spec':{'podCIDRs':[]}}",
	    "{'spec':{'podCIDRs':['10.0.0.0/24']}}", "{'spec':{'podCIDRs':['10.0.0.0/24']}}"),
	/* Order: upstream's interleaving, and $setElementOrder. */
	KOK("upstream order example", "Pod", NAMES("[{'name':'1'},{'name':'2','image':'2'}]"),
	    POD("{'$setElementOrder/containers':[{'name':'4'},{'name':'1'},{'name':'2'},"
		"{'name':'3'}],'containers':[{'name':'4','image':'4'},{'name':'3','image':'3'}]}"),
	    NAMES("[{'name':'4','image':'4'},{'name':'1'},{'name':'2','image':'2'},"
		  "{'name':'3','image':'3'}]")),
	KOK("new before changed, without order", "Pod",
	    NAMES("[{'name':'apple'},{'name':'banana','image':'2'}]"),
	    NAMES("[{'name':'grape'},{'name':'banana','image':'4'}]"),
	    NAMES("[{'name':'grape'},{'name':'apple'},{'name':'banana','image':'4'}]")),
	KOK("changed before new keeps place", "Pod",
	    NAMES("[{'name':'a'},{'name':'b'},{'name':'c'}]"),
	    NAMES("[{'name':'b','image':'x'},{'name':'d'}]"),
	    NAMES("[{'name':'a'},{'name':'b','image':'x'},{'name':'d'},{'name':'c'}]")),
	KOK("$setElementOrder alone reorders", "Pod",
	    NAMES("[{'name':'a'},{'name':'b'},{'name':'c'}]"),
	    POD("{'$setElementOrder/containers':[{'name':'c'},{'name':'b'},{'name':'a'}]}"),
	    NAMES("[{'name':'c'},{'name':'b'},{'name':'a'}]")),
	KOK("$setElementOrder naming some elements", "Pod",
	    NAMES("[{'name':'a'},{'name':'b'},{'name':'c'}]"),
	    POD("{'$setElementOrder/containers':[{'name':'c'},{'name':'a'}]}"),
	    NAMES("[{'name':'b'},{'name':'c'},{'name':'a'}]")),
	KOK("$setElementOrder of primitives", "Pod", FINALIZERS("['a','b','c']"),
	    "{'metadata':{'$setElementOrder/finalizers':['c','b','a']}}",
	    FINALIZERS("['c','b','a']")),
	KOK("$setElementOrder of a new list", "Pod", POD("{}"),
	    POD("{'$setElementOrder/containers':[{'name':'b'},{'name':'a'}],"
		"'containers':[{'name':'b'},{'name':'a'}]}"),
	    NAMES("[{'name':'b'},{'name':'a'}]")),
	KOK("$setElementOrder of no list", "Pod", POD("{}"),
	    POD("{'$setElementOrder/containers':[{'name':'b'}]}"), POD("{}")),
	/* Lists without a merge key, and kinds without metadata, replace. */
	KOK("args replace", "Pod", NAMES("[{'name':'c','args':['a','b']}]"),
	    NAMES("[{'name':'c','args':['z']}]"), NAMES("[{'name':'c','args':['z']}]")),
	KOK("unknown kind: lists replace", "Widget", NAMES("[{'name':'a','image':'x'}]"),
	    NAMES("[{'name':'a','args':['y']}]"), NAMES("[{'name':'a','args':['y']}]")),
	KOK("unknown kind: finalizers replace", "Widget", FINALIZERS("['a']"), FINALIZERS("['b']"),
	    FINALIZERS("['b']")),
	KOK("no kind", NULL, FINALIZERS("['a']"), FINALIZERS("['b']"), FINALIZERS("['b']")),
	KOK("configmap data", "ConfigMap", "{'data':{'a':'1','b':'2'}}",
	    "{'data':{'a':null,'c':'3'}}", "{'data':{'b':'2','c':'3'}}"),
	KOK("endpoints subsets replace", "Endpoints",
	    "{'subsets':[{'addresses':[{'ip':'10.0.0.1'}]}]}",
	    "{'subsets':[{'addresses':[{'ip':'10.0.0.2'}]}]}",
	    "{'subsets':[{'addresses':[{'ip':'10.0.0.2'}]}]}"),
	KOK("endpointslice endpoints replace", "EndpointSlice",
	    "{'endpoints':[{'addresses':['10.0.0.1']}],'ports':[{'port':80}]}",
	    "{'endpoints':[{'addresses':['10.0.0.2']}]}",
	    "{'endpoints':[{'addresses':['10.0.0.2']}],'ports':[{'port':80}]}"),
	KOK("event count", "Event", "{'count':1,'message':'m'}", "{'count':2}",
	    "{'count':2,'message':'m'}"),
	/* Maps and nulls. */
	KOK("$patch: replace on a map", "Pod", "{'metadata':{'labels':{'a':'1','b':'2'}}}",
	    "{'metadata':{'labels':{'$patch':'replace','new':'1'}}}",
	    "{'metadata':{'labels':{'new':'1'}}}"),
	KOK("$patch: delete on a map", "Pod", "{'metadata':{'labels':{'a':'1'}}}",
	    "{'metadata':{'labels':{'$patch':'delete'}}}", "{'metadata':{'labels':{}}}"),
	KOK("$patch: delete on a missing map", "Pod", "{'metadata':{}}",
	    "{'metadata':{'labels':{'$patch':'delete'}}}", "{'metadata':{}}"),
	KOK("$patch: merge on a map", "Pod", "{'metadata':{'labels':{'a':'1'}}}",
	    "{'metadata':{'labels':{'$patch':'merge','b':'2'}}}",
	    "{'metadata':{'labels':{'a':'1','b':'2'}}}"),
	KOK("$patch: replace at the root", "Pod", "{'a':1,'b':{'c':2}}",
	    "{'$patch':'replace','b':{'d':3}}", "{'b':{'d':3}}"),
	KOK("empty merging list is a no-op", "Pod", POD(C2), POD("{'containers':[]}"), POD(C2)),
	KOK("null removes a merging list", "Pod", POD(C2), POD("{'containers':null}"), POD("{}")),
	KOK("new values are cleaned", "Pod", POD("{}"),
	    POD("{'securityContext':{'runAsUser':1,'fsGroup':null},'containers':[{'name':'c',"
		"'env':[{'name':'A'},{'$patch':'delete','name':'B'}],"
		"'ports':[{'containerPort':80,'hostPort':null}]}]}"),
	    POD("{'securityContext':{'runAsUser':1},'containers':[{'name':'c',"
		"'env':[{'name':'A'}],'ports':[{'containerPort':80}]}]}")),
	KOK("replacing lists are cleaned", "Pod", POD("{'tolerations':[{'key':'a'}]}"),
	    POD("{'tolerations':[{'key':'b','value':null},{'$patch':'delete','key':'c'}]}"),
	    POD("{'tolerations':[{'key':'b'}]}")),
	/* Changes of type take the patch's value. */
	KOK("list over map", "Pod", POD("{'containers':{'name':'x'}}"), NAMES("[{'name':'c'}]"),
	    NAMES("[{'name':'c'}]")),
	KOK("map over list", "Pod", POD(C2), POD("{'containers':{'name':'y','a':null}}"),
	    POD("{'containers':{'name':'y'}}")),
	KOK("list over scalar", "Pod", POD("{'containers':'x'}"), NAMES("[{'name':'c'}]"),
	    NAMES("[{'name':'c'}]")),
	KOK("scalar over list", "Pod", POD(C2), POD("{'containers':7}"), POD("{'containers':7}")),
	KOK("map over null", "Pod", POD("{'securityContext':null}"),
	    POD("{'securityContext':{'runAsUser':1}}"), POD("{'securityContext':{'runAsUser':1}}")),
	/* Errors. */
	KFAIL("patch not an object", "Pod", "{}", "[1]", -EINVAL, "JSON object"),
	KFAIL("document not an object", "Pod", "[1]", "{}", -EINVAL, "not a JSON object"),
	KFAIL("unknown directive", "Pod", "{}", "{'metadata':{'$frob':1}}", -EINVAL,
	      "metadata: unknown directive \"$frob\""),
	KFAIL("unknown $patch", "Pod", "{'metadata':{'labels':{}}}",
	      "{'metadata':{'labels':{'$patch':'frob'}}}", -EINVAL, "\"frob\""),
	KFAIL("$patch not a string", "Pod", "{}", "{'$patch':1}", -EINVAL, "not a string"),
	KFAIL("$patch: merge in a list", "Pod", POD(C2),
	      POD("{'containers':[{'$patch':'merge','name':'web'}]}"), -EINVAL,
	      "spec.containers[0]: $patch: merge"),
	KFAIL("$patch: merge in a new list", "Pod", POD("{}"),
	      POD("{'containers':[{'$patch':'merge','name':'web'}]}"), -EINVAL, "merge"),
	KFAIL("$patch: delete without merge key", "Pod", POD(C2),
	      POD("{'containers':[{'$patch':'delete','image':'x'}]}"), -EINVAL,
	      "needs the merge key \"name\""),
	KFAIL("element without merge key", "Deployment", TPL(C2),
	      TPL("{'containers':[{'image':'x'}]}"), -EINVAL,
	      "spec.template.spec.containers[0]: element has no merge key \"name\""),
	KFAIL("document element without merge key", "Pod", NAMES("[{'image':'x'}]"),
	      NAMES("[{'name':'a'}]"), -EINVAL, "no merge key"),
	KFAIL("$setElementOrder not a list", "Pod", POD(C2),
	      POD("{'$setElementOrder/containers':{'name':'web'}}"), -EINVAL, "$setElementOrder"),
	KFAIL("$setElementOrder of nothing", "Pod", POD(C2), POD("{'$setElementOrder/':[]}"),
	      -EINVAL, "names no list"),
	KFAIL("$setElementOrder on a map", "Pod", "{'metadata':{'labels':{'a':'1'}}}",
	      "{'metadata':{'$setElementOrder/labels':['a']}}", -EINVAL, "not one"),
	KFAIL("$setElementOrder out of order", "Pod", POD(C2),
	      POD("{'$setElementOrder/containers':[{'name':'web'},{'name':'side'}],"
		  "'containers':[{'name':'side','image':'x'},{'name':'web','image':'y'}]}"),
	      -EINVAL, "order"),
	KFAIL("$setElementOrder missing an element", "Pod", POD(C2),
	      POD("{'$setElementOrder/containers':[{'name':'web'}],"
		  "'containers':[{'name':'new'}]}"),
	      -EINVAL, "order"),
	KFAIL("$setElementOrder without merge key", "Pod", POD(C2),
	      POD("{'$setElementOrder/containers':[{'image':'x'}],'containers':[{'name':'web'}]}"),
	      -EINVAL, "merge key"),
	KFAIL("$setElementOrder with a null list", "Pod", POD(C2),
	      POD("{'$setElementOrder/containers':[],'containers':null}"), -EINVAL, "not one"),
	KFAIL("$retainKeys not a list", "Deployment", "{'spec':{'strategy':{'type':'A'}}}",
	      "{'spec':{'strategy':{'$retainKeys':'type'}}}", -EINVAL, "spec.strategy"),
	KFAIL("$retainKeys not strings", "Deployment", "{'spec':{'strategy':{'type':'A'}}}",
	      "{'spec':{'strategy':{'$retainKeys':['type',1]}}}", -EINVAL, "$retainKeys"),
	KFAIL("field outside $retainKeys", "Deployment", "{'spec':{'strategy':{'type':'A'}}}",
	      "{'spec':{'strategy':{'$retainKeys':['type'],'type':'Recreate',"
	      "'rollingUpdate':{'maxSurge':1}}}}",
	      -EINVAL, "\"rollingUpdate\" is set but not listed"),
	KFAIL("$deleteFromPrimitiveList not a list", "Pod", FINALIZERS("['a']"),
	      "{'metadata':{'$deleteFromPrimitiveList/finalizers':'a'}}", -EINVAL, "list"),
	KFAIL("$deleteFromPrimitiveList of objects", "Pod", FINALIZERS("['a']"),
	      "{'metadata':{'$deleteFromPrimitiveList/finalizers':[{'a':1}]}}", -EINVAL,
	      "strings, numbers and booleans"),
	KFAIL("$deleteFromPrimitiveList of nothing", "Pod", FINALIZERS("['a']"),
	      "{'metadata':{'$deleteFromPrimitiveList/':['a']}}", -EINVAL, "names no list"),
	KFAIL("mixed primitive types", "Pod", FINALIZERS("['a']"), FINALIZERS("['b',1]"), -EINVAL,
	      "same type"),
	KFAIL("list of lists", "Pod", FINALIZERS("['a']"), FINALIZERS("[['b']]"), -EINVAL,
	      "lists of lists"),
	KFAIL("null element", "Pod", FINALIZERS("['a']"), FINALIZERS("[null]"), -EINVAL, "null"),
	KFAIL("primitives where objects are", "Pod", POD(C2), NAMES("['web']"), -EINVAL,
	      "same type"),
	KFAIL("objects in a primitive merge list", "Pod", FINALIZERS("[{'a':1}]"),
	      FINALIZERS("[{'b':1}]"), -EINVAL, "without a merge key"),
};

TEST(patch_strategic_table)
{
	run_cases(FMT_SMP, smp_cases, ARRAY_SIZE(smp_cases));
}

TEST(patch_strategic_depth_limit)
{
	char *ok = nested(100), *deep = nested(600);
	json_t *doc = J("{'a':{}}"), *patch = J(ok), *out;

	out = run(FMT_SMP, "depth 100", "Pod", doc, patch, 0, NULL);
	ASSERT(jsonx_equal(out, patch));
	json_decref(out);
	json_decref(patch);
	patch = J(deep);
	out = run(FMT_SMP, "depth 600", "Pod", doc, patch, -EINVAL, "deeper than 512");
	json_decref(patch);
	json_decref(doc);
	free(ok);
	free(deep);
}

/* Matching by merge key is quadratic: long lists are refused, not ground through. */
TEST(patch_strategic_list_limit)
{
	json_t *doc = J("{'metadata':{'finalizers':[]}}"), *patch = J("{'metadata':{}}"), *out;
	json_t *fin = json_array();

	for (int i = 0; i < 2049; i++)
		json_array_append_new(fin, json_sprintf("f%d", i));
	json_object_set_new(json_object_get(patch, "metadata"), "finalizers", fin);
	out = run(FMT_SMP, "2049 finalizers", "Pod", doc, patch, -EINVAL, "longer than 2048");
	/* At the limit it works, and the new list keeps its order. */
	json_array_remove(fin, 2048);
	out = run(FMT_SMP, "2048 finalizers", "Pod", doc, patch, 0, NULL);
	ASSERT_EQ(json_array_size(json_object_get(json_object_get(out, "metadata"), "finalizers")),
		  2048);
	ASSERT(jsonx_equal(out, patch));
	json_decref(out);
	json_decref(patch);
	json_decref(doc);
}

/* Pod with n containers, each with env vars <prefix>0 .. <prefix>(count - 1). */
static json_t *pod_with_env(int n, int count, const char *prefix)
{
	json_t *pod = J("{'spec':{'containers':[]}}");
	json_t *containers = json_object_get(json_object_get(pod, "spec"), "containers");

	for (int c = 0; c < n; c++) {
		json_t *env = json_array();

		for (int i = 0; i < count; i++)
			json_array_append_new(
				env, json_pack("{s:o}", "name", json_sprintf("%s%d", prefix, i)));
		json_array_append_new(containers, json_pack("{s:o,s:o}", "name",
							    json_sprintf("c%d", c), "env", env));
	}
	return pod;
}

/* The whole patch has a budget: several long lists pass, many do not. */
TEST(patch_strategic_work_budget)
{
	json_t *doc = pod_with_env(5, 1000, "OLD"), *patch = pod_with_env(4, 1000, "NEW"), *out;
	json_t *big = J("{'metadata':{'finalizers':[]}}"), *order;

	out = run(FMT_SMP, "4 long env lists", "Pod", doc, patch, 0, NULL);
	ASSERT_EQ(json_array_size(jsonx_get_path(out, "spec.containers[3].env")), 2000);
	json_decref(out);
	json_decref(patch);
	patch = pod_with_env(5, 1000, "NEW");
	out = run(FMT_SMP, "5 long env lists", "Pod", doc, patch, -EINVAL, "too many long lists");
	json_decref(patch);
	/* The document's lists count too: ordering a huge stored list is refused. */
	for (int i = 0; i < 20000; i++)
		json_array_append_new(jsonx_get_path(big, "metadata.finalizers"),
				      json_sprintf("f%d", i));
	patch = J("{'metadata':{'$setElementOrder/finalizers':['f1','f0']}}");
	out = run(FMT_SMP, "order a huge list", "Pod", big, patch, -EINVAL, "too many");
	json_decref(patch);
	patch = J("{'metadata':{'$deleteFromPrimitiveList/finalizers':['f1','f0']}}");
	out = run(FMT_SMP, "delete from a huge list", "Pod", big, patch, 0, NULL);
	ASSERT_EQ(json_array_size(jsonx_get_path(out, "metadata.finalizers")), 19998);
	json_decref(out);
	json_decref(patch);
	order = json_array();
	for (int i = 0; i < 2048; i++)
		json_array_append_new(order, json_sprintf("f%d", i));
	patch = json_pack("{s:{s:o}}", "metadata", "$deleteFromPrimitiveList/finalizers", order);
	out = run(FMT_SMP, "delete many from a huge list", "Pod", big, patch, -EINVAL, "too many");
	json_decref(patch);
	json_decref(big);
	json_decref(doc);
}

/* Values of every shape against every shape, in the places the schema knows about. */
static const char *const shapes[] = {
	"null",
	"1",
	"'s'",
	"true",
	"[]",
	"[1]",
	"['a','b']",
	"[{}]",
	"[{'name':'x'}]",
	"[{'name':'x','image':null,'env':[{'name':'E'}]}]",
	"[null]",
	"[[1]]",
	"{}",
	"{'name':'x'}",
	"{'$patch':'delete'}",
	"{'$patch':'replace','a':1}",
	"{'$patch':7}",
	"[{'$patch':'delete'}]",
	"[{'$patch':'delete','name':'x'}]",
	"[{'$patch':'replace'}]",
	"[{'$patch':'merge','name':'x'}]",
	"{'$retainKeys':5}",
	"{'$retainKeys':['a'],'b':1}",
	"{'$setElementOrder/a':5}",
	"{'$setElementOrder/a':[{'name':'x'}],'a':{'b':1}}",
	"{'$deleteFromPrimitiveList/a':[{}]}",
	"{'$x':1}",
};

/* Where the shapes go: before and after the value. */
static const struct {
	const char *pre, *post;
} places[] = {
	{ "{'spec':{'containers':", "}}" },
	{ "{'spec':{'template':{'spec':{'containers':[{'name':'x','env':", "}]}}}}" },
	{ "{'metadata':{'finalizers':", "}}" },
	{ "{'metadata':", "}" },
	{ "{'status':{'conditions':", "}}" },
	{ "{'spec':{'$setElementOrder/containers':", ",'containers':[{'name':'x'}]}}" },
	{ "{'metadata':{'$deleteFromPrimitiveList/finalizers':", ",'finalizers':['a']}}" },
};

static void sweep(enum fmt f, const char *kind)
{
	for (size_t p = 0; p < ARRAY_SIZE(places); p++) {
		for (size_t d = 0; d < ARRAY_SIZE(shapes); d++) {
			for (size_t q = 0; q < ARRAY_SIZE(shapes); q++) {
				char *ds = xasprintf("%s%s%s", places[p].pre, shapes[d],
						     places[p].post);
				char *ps = xasprintf("%s%s%s", places[p].pre, shapes[q],
						     places[p].post);
				json_t *doc = J(ds), *patch = J(ps), *doc0 = json_deep_copy(doc);
				json_t *patch0 = json_deep_copy(patch), *out = NULL;
				char err[128] = "";
				int rc = apply(f, kind, doc, patch, &out, err, sizeof(err));

				ASSERT_MSG(rc == 0 || rc == -EINVAL || rc == -ENOENT, "%s + %s: %d",
					   ds, ps, rc);
				ASSERT_MSG(!rc == (out != NULL), "%s + %s: rc %d, out %p", ds, ps,
					   rc, (void *)out);
				ASSERT_MSG(rc == 0 || err[0], "%s + %s: no message", ds, ps);
				ASSERT_MSG(jsonx_equal(doc, doc0) && jsonx_equal(patch, patch0) &&
						   refcount(doc) == 1 && refcount(patch) == 1,
					   "%s + %s: inputs modified", ds, ps);
				json_decref(out);
				json_decref(doc);
				json_decref(doc0);
				json_decref(patch);
				json_decref(patch0);
				free(ds);
				free(ps);
			}
		}
	}
}

TEST(patch_strategic_hostile_shapes)
{
	sweep(FMT_SMP, "Deployment");
	sweep(FMT_SMP, "Pod");
	sweep(FMT_SMP, "Node");
	sweep(FMT_SMP, "Widget");
}

TEST(patch_merge_hostile_shapes)
{
	sweep(FMT_MERGE, NULL);
}

/* JSON patch operations with paths and values of every shape. */
TEST(patch_json_hostile_shapes)
{
	static const char *const ops[] = {
		"add", "remove", "replace", "move", "copy", "test", "x"
	};
	static const char *const paths[] = {
		"''", "'/'", "'/a'", "'/a/0'", "'/a/-'", "'/a/b/c'", "'/~'", "'a'", "1", "null",
	};
	json_t *doc = J("{'a':[{'b':{'c':1}},2],'':{'x':[]}}"), *doc0 = json_deep_copy(doc);

	for (size_t o = 0; o < ARRAY_SIZE(ops); o++) {
		for (size_t p = 0; p < ARRAY_SIZE(paths); p++) {
			for (size_t v = 0; v < ARRAY_SIZE(shapes); v++) {
				char *ps = xasprintf("[{'op':'%s','path':%s,'from':%s,'value':%s}]",
						     ops[o], paths[p],
						     paths[(p + v) % ARRAY_SIZE(paths)], shapes[v]);
				json_t *patch = J(ps), *out;
				char err[128] = "";
				int rc = patch_json(doc, patch, &out, err, sizeof(err));

				ASSERT_MSG(rc == 0 || rc == -EINVAL || rc == -ENOENT ||
						   rc == -ECANCELED,
					   "%s: %d", ps, rc);
				ASSERT_MSG(rc == 0 || err[0], "%s: no message", ps);
				ASSERT(refcount(doc) == 1 && refcount(patch) == 1);
				if (!rc)
					json_decref(out);
				json_decref(patch);
				free(ps);
			}
		}
	}
	ASSERT(jsonx_equal(doc, doc0));
	json_decref(doc);
	json_decref(doc0);
}

/* The result is the caller's to edit: nothing in it is shared with the inputs. */
TEST(patch_results_do_not_share_with_inputs)
{
	static const char *const patches[] = {
		POD("{'containers':[{'name':'web','ports':[{'containerPort':80}]}]}"),
		"{'spec':{'containers':[{'name':'x','env':[{'name':'E'}]}]}}",
		"[{'op':'add','path':'/spec/extra','value':{'k':['v']}}]",
	};
	static const enum fmt fmts[] = { FMT_SMP, FMT_MERGE, FMT_JSON };
	json_t *doc = J(POD(C2)), *doc0 = json_deep_copy(doc);

	for (size_t i = 0; i < ARRAY_SIZE(patches); i++) {
		json_t *patch = J(patches[i]), *patch0 = json_deep_copy(patch), *out = NULL;
		json_t *spec, *c0;

		ASSERT_OK(apply(fmts[i], "Pod", doc, patch, &out, NULL, 0));
		/* Edit everything reachable: the spec, the first container and its lists. */
		spec = json_object_get(out, "spec");
		c0 = json_array_get(json_object_get(spec, "containers"), 0);
		ASSERT_NOT_NULL(c0);
		json_object_set_new(c0, "image", json_string("edited"));
		json_array_clear(json_object_get(c0, "ports"));
		json_array_clear(json_object_get(c0, "env"));
		json_array_clear(json_object_get(json_object_get(spec, "extra"), "k"));
		json_object_set_new(spec, "edited", json_true());
		ASSERT_MSG(jsonx_equal(doc, doc0), "patch %zu: the document changed", i);
		ASSERT_MSG(jsonx_equal(patch, patch0), "patch %zu: the patch changed", i);
		json_decref(out);
		json_decref(patch);
		json_decref(patch0);
	}
	json_decref(doc);
	json_decref(doc0);
}

TEST(patch_argument_errors)
{
	json_t *obj = J("{}"), *ops = J("[]"), *out = NULL;
	json_t *bad = J("[{'op':'remove','path':'/nope/x'}]");
	char err[8];

	ASSERT_EQ(patch_merge(NULL, obj, &out, NULL, 0), -EINVAL);
	ASSERT_EQ(patch_merge(obj, NULL, &out, NULL, 0), -EINVAL);
	ASSERT_EQ(patch_merge(obj, obj, NULL, NULL, 0), -EINVAL);
	ASSERT_EQ(patch_json(NULL, ops, &out, NULL, 0), -EINVAL);
	ASSERT_EQ(patch_json(obj, NULL, &out, NULL, 0), -EINVAL);
	ASSERT_EQ(patch_json(obj, ops, NULL, NULL, 0), -EINVAL);
	ASSERT_EQ(patch_strategic("Pod", NULL, obj, &out, NULL, 0), -EINVAL);
	ASSERT_EQ(patch_strategic("Pod", obj, NULL, &out, NULL, 0), -EINVAL);
	ASSERT_EQ(patch_strategic("Pod", obj, obj, NULL, NULL, 0), -EINVAL);
	ASSERT_NULL(out);
	/* A short buffer gets a truncated, terminated message. */
	memset(err, 'x', sizeof(err));
	ASSERT_EQ(patch_strategic("Pod", obj, ops, &out, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(strlen(err), sizeof(err) - 1);
	memset(err, 'x', sizeof(err));
	ASSERT_EQ(patch_json(obj, bad, &out, err, sizeof(err)), -ENOENT);
	ASSERT_EQ(strlen(err), sizeof(err) - 1);
	json_decref(obj);
	json_decref(ops);
	json_decref(bad);
}
