/*
 * Unit tests for control/apiserver/validate (validate.c, defaults.c): per kind, a valid
 * defaulted object and table-driven mutations of it, each expecting one cause with an
 * exact field path, reason and message prefix (and the exact number of causes, so
 * over-reporting fails too); immutable fields on update; status subresource rules;
 * defaulting compared as whole objects; and hostile input (every node of every base
 * object replaced by values of every JSON type, huge strings, deep nesting).
 */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "control/apiserver/validate.h"
#include "jsonx.h"
#include "util.h"

/* ------------------------------------------------------------------ helpers */

/* JSON from a literal in which ' stands for " (keeps the tables readable). */
static json_t *J(const char *text)
{
	char *s = xstrdup(text);
	json_error_t err;
	json_t *j;

	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	j = json_loads(s, JSON_DECODE_ANY, &err);
	free(s);
	ASSERT_MSG(j != NULL, "bad test JSON (%s): %s", err.text, text);
	return j;
}

static char *dump(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER);

	return s ? s : xstrdup("(null)");
}

/* Replace the value at path (value NULL deletes the last key of path). */
static void mutate(json_t *obj, const char *path, const char *value)
{
	char *parent, *dot;

	if (!path)
		return;
	if (value) {
		ASSERT_MSG(!jsonx_set_path(obj, path, J(value)), "cannot set %s", path);
		return;
	}
	parent = xstrdup(path);
	dot = strrchr(parent, '.');
	if (!dot) {
		json_object_del(obj, path);
	} else {
		*dot = '\0';
		json_object_del(jsonx_get_path(obj, parent), dot + 1);
	}
	free(parent);
}

static bool cause_is(const json_t *c, const char *field, const char *reason, const char *msg)
{
	return !strcmp(jsonx_str(c, "field", ""), field ? field : "") &&
	       !strcmp(jsonx_str(c, "reason", ""), reason) &&
	       !strncmp(jsonx_str(c, "message", ""), msg, strlen(msg));
}

static void expect(const char *what, const json_t *causes, int got, int n, const char *field,
		   const char *reason, const char *msg)
{
	json_t *c;
	size_t i;
	bool found = !field && !reason;
	char *s;

	json_array_foreach(causes, i, c)
		found |= reason && cause_is(c, field, reason, msg);
	if (found && got == (int)json_array_size(causes) && (n < 0 || got == n))
		return;
	s = dump(causes);
	test_fail(__FILE__, __LINE__, "%s: want %d cause(s) incl. %s %s \"%s...\", got %d: %s",
		  what, n, field ? field : "", reason ? reason : "-", msg ? msg : "", got, s);
}

/* Validate obj (against old when not NULL) and check the causes. */
static void check(const char *what, const char *kind, const json_t *obj, const json_t *old, int n,
		  const char *field, const char *reason, const char *msg)
{
	json_t *causes = json_array();
	int got = validate_object(kind, obj, old, causes);

	expect(what, causes, got, n, field, reason, msg);
	json_decref(causes);
}

static void check_status(const char *what, const char *kind, const json_t *obj, const json_t *old,
			 int n, const char *field, const char *reason, const char *msg)
{
	json_t *causes = json_array();
	int got = validate_status(kind, obj, old, causes);

	expect(what, causes, got, n, field, reason, msg);
	json_decref(causes);
}

struct vcase {
	const char *name;
	const char *path, *value;   /* first change (value NULL deletes) */
	const char *path2, *value2; /* optional second change */
	int n;			    /* expected number of causes */
	const char *field, *reason, *msg;
};

#define REQ "FieldValueRequired"
#define INV "FieldValueInvalid"
#define UNS "FieldValueNotSupported"
#define DUP "FieldValueDuplicate"
#define FOR "FieldValueForbidden"
#define LONG "FieldValueTooLong"
#define TYPE "FieldValueTypeInvalid"
#define NF "FieldValueNotFound"

static json_t *base_of(const char *kind, const char *text)
{
	json_t *base = J(text);

	defaults_apply(kind, base);
	check("defaulted base object", kind, base, NULL, 0, NULL, NULL, NULL);
	return base;
}

/* Each case: the defaulted base object, changed, validated on create. */
static void run_cases(const char *kind, const char *text, const struct vcase *cases, size_t n)
{
	json_t *base = base_of(kind, text);

	for (size_t i = 0; i < n; i++) {
		json_t *obj = json_deep_copy(base);

		mutate(obj, cases[i].path, cases[i].value);
		mutate(obj, cases[i].path2, cases[i].value2);
		check(cases[i].name, kind, obj, NULL, cases[i].n, cases[i].field, cases[i].reason,
		      cases[i].msg);
		json_decref(obj);
	}
	json_decref(base);
}

/* Each case: the base object is the old one, the changed copy the update. */
static void run_updates(const char *kind, const char *text, const struct vcase *cases, size_t n,
			bool status)
{
	json_t *base = base_of(kind, text);

	for (size_t i = 0; i < n; i++) {
		json_t *obj = json_deep_copy(base);

		mutate(obj, cases[i].path, cases[i].value);
		mutate(obj, cases[i].path2, cases[i].value2);
		if (status)
			check_status(cases[i].name, kind, obj, base, cases[i].n, cases[i].field,
				     cases[i].reason, cases[i].msg);
		else
			check(cases[i].name, kind, obj, base, cases[i].n, cases[i].field,
			      cases[i].reason, cases[i].msg);
		json_decref(obj);
	}
	json_decref(base);
}

/* ------------------------------------------------------------------ base objects */

static const char *const pod_text =
	"{'apiVersion':'v1','kind':'Pod','metadata':{'name':'web','namespace':'default',"
	"'labels':{'app':'web','app.kubernetes.io/name':'web'}},"
	"'spec':{'containers':[{'name':'app','image':'nginx:1.25',"
	"'ports':[{'name':'http','containerPort':80}],"
	"'env':[{'name':'A','value':'b'},{'name':'POD','valueFrom':{'fieldRef':"
	"{'fieldPath':'metadata.name'}}}],"
	"'resources':{'requests':{'cpu':'100m','memory':'64Mi'},"
	"'limits':{'cpu':'1','memory':'128Mi'}},"
	"'volumeMounts':[{'name':'data','mountPath':'/data'}],"
	"'livenessProbe':{'httpGet':{'port':80}},'readinessProbe':{'tcpSocket':{'port':'http'}}}],"
	"'volumes':[{'name':'data','emptyDir':{}},{'name':'cfg','configMap':{'name':'cfg'}}]}}";

static const char *const deploy_text =
	"{'apiVersion':'apps/"
	"v1','kind':'Deployment','metadata':{'name':'web','namespace':'default'},"
	"'spec':{'selector':{'matchLabels':{'app':'web'}},'template':{'metadata':{'labels':"
	"{'app':'web'}},'spec':{'containers':[{'name':'app','image':'nginx'}]}}}}";

static const char *const svc_text =
	"{'apiVersion':'v1','kind':'Service','metadata':{'name':'web','namespace':'default'},"
	"'spec':{'selector':{'app':'web'},'ports':[{'port':80,'targetPort':8080}]}}";

/* ------------------------------------------------------------------ DNS helpers */

TEST(validate_dns1123_helpers)
{
	ASSERT_OK(validate_dns1123_label("my-name"));
	ASSERT_OK(validate_dns1123_label("123-abc"));
	ASSERT_EQ(validate_dns1123_label("My-name"), -EINVAL);
	ASSERT_EQ(validate_dns1123_label("a.b"), -EINVAL);
	ASSERT_EQ(validate_dns1123_label("-a"), -EINVAL);
	ASSERT_EQ(validate_dns1123_label(""), -EINVAL);
	ASSERT_EQ(validate_dns1123_label(NULL), -EINVAL);
	ASSERT_OK(validate_dns1123_label(
		"a123456789012345678901234567890123456789012345678901234567890bc"));
	ASSERT_EQ(validate_dns1123_label(
			  "a123456789012345678901234567890123456789012345678901234567890bcd"),
		  -EINVAL);
	ASSERT_OK(validate_dns1123_subdomain("example.com"));
	ASSERT_OK(validate_dns1123_subdomain("a"));
	ASSERT_EQ(validate_dns1123_subdomain("a..b"), -EINVAL);
	ASSERT_EQ(validate_dns1123_subdomain("a.b-"), -EINVAL);
	ASSERT_EQ(validate_dns1123_subdomain("a_b"), -EINVAL);
	ASSERT_EQ(validate_dns1123_subdomain(NULL), -EINVAL);
}

TEST(validate_dns1123_subdomain_length)
{
	char name[300];

	memset(name, 'a', sizeof(name));
	name[253] = '\0';
	ASSERT_OK(validate_dns1123_subdomain(name));
	name[253] = 'a';
	name[254] = '\0';
	ASSERT_EQ(validate_dns1123_subdomain(name), -EINVAL);
}

/* ------------------------------------------------------------------ metadata */

TEST(validate_metadata_rules)
{
	static const struct vcase cases[] = {
		{ "name missing", "metadata.name", NULL, NULL, NULL, 1, "metadata.name", REQ,
		  "Required value: name or generateName is required" },
		{ "name upper case", "metadata.name", "'Web_1'", NULL, NULL, 1, "metadata.name",
		  INV, "Invalid value: \"Web_1\": a lowercase RFC 1123 subdomain must consist of" },
		{ "generateName only", "metadata.name", NULL, "metadata.generateName", "'web-'", 0,
		  NULL, NULL, NULL },
		{ "generateName bad", "metadata.name", NULL, "metadata.generateName", "'Web-'", 1,
		  "metadata.generateName", INV, "Invalid value: \"Web-\": a lowercase RFC 1123" },
		{ "namespace missing", "metadata.namespace", NULL, NULL, NULL, 1,
		  "metadata.namespace", REQ, "Required value" },
		{ "namespace a subdomain", "metadata.namespace", "'a.b'", NULL, NULL, 1,
		  "metadata.namespace", INV, "Invalid value: \"a.b\": must not contain dots" },
		{ "label key", "metadata.labels", "{'a/b/c':'x'}", NULL, NULL, 1, "metadata.labels",
		  INV, "Invalid value: \"a/b/c\": a qualified name must consist of" },
		{ "label key prefix", "metadata.labels", "{'Example.com/x':'x'}", NULL, NULL, 1,
		  "metadata.labels", INV,
		  "Invalid value: \"Example.com/x\": prefix part a lowercase" },
		{ "label value long", "metadata.labels.app",
		  "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'", NULL, NULL,
		  1, "metadata.labels", INV, "Invalid value: \"aaaa" },
		{ "label value chars", "metadata.labels.app", "'-x'", NULL, NULL, 1,
		  "metadata.labels", INV,
		  "Invalid value: \"-x\": a valid label must be an empty string or consist" },
		{ "empty label value", "metadata.labels.app", "''", NULL, NULL, 0, NULL, NULL,
		  NULL },
		{ "label value type", "metadata.labels.app", "7", NULL, NULL, 1,
		  "metadata.labels[app]", TYPE,
		  "Invalid value: \"integer\": must be of type string" },
		{ "annotation key", "metadata.annotations", "{'a b':'x'}", NULL, NULL, 1,
		  "metadata.annotations", INV,
		  "Invalid value: \"a b\": name part must consist of" },
		{ "annotation key case-insensitive", "metadata.annotations",
		  "{'Example.COM/X':'y'}", NULL, NULL, 0, NULL, NULL, NULL },
		{ "owner reference", "metadata.ownerReferences",
		  "[{'apiVersion':'apps/v1','kind':'ReplicaSet','name':'rs'}]", NULL, NULL, 1,
		  "metadata.ownerReferences.uid", INV, "Invalid value: \"\": must not be empty" },
		{ "owner reference version", "metadata.ownerReferences",
		  "[{'apiVersion':'apps/','kind':'ReplicaSet','name':'rs','uid':'u'}]", NULL, NULL,
		  1, "metadata.ownerReferences.apiVersion", INV,
		  "Invalid value: \"apps/\": version must not be empty" },
		{ "event owner", "metadata.ownerReferences",
		  "[{'apiVersion':'v1','kind':'Event','name':'e','uid':'u'}]", NULL, NULL, 1,
		  "metadata.ownerReferences", INV, "Invalid value: {" },
		{ "two controllers", "metadata.ownerReferences",
		  "[{'apiVersion':'v1','kind':'A','name':'a','uid':'1','controller':true},"
		  "{'apiVersion':'v1','kind':'B','name':'b','uid':'2','controller':true}]",
		  NULL, NULL, 1, "metadata.ownerReferences", INV, "Invalid value: [" },
		{ "finalizer unqualified", "metadata.finalizers", "['custom']", NULL, NULL, 1,
		  "metadata.finalizers[0]", INV,
		  "Invalid value: \"custom\": name is neither a standard finalizer name" },
		{ "finalizer qualified", "metadata.finalizers", "['example.com/x','kubernetes']",
		  NULL, NULL, 0, NULL, NULL, NULL },
		{ "finalizers orphan and foreground", "metadata.finalizers",
		  "['orphan','foregroundDeletion']", NULL, NULL, 1, "metadata.finalizers", INV,
		  "Invalid value: [\"orphan\",\"foregroundDeletion\"]: finalizer orphan and" },
		{ "generation negative", "metadata.generation", "-1", NULL, NULL, 1,
		  "metadata.generation", INV,
		  "Invalid value: -1: must be greater than or equal to 0" },
		{ "managed fields", "metadata.managedFields", "[{'operation':'Patch'}]", NULL, NULL,
		  1, "metadata.managedFields[0].operation", INV,
		  "Invalid value: \"Patch\": must be `Apply`" },
		{ "metadata not an object", "metadata", "[]", NULL, NULL, 1, "metadata", TYPE,
		  "Invalid value: \"array\": must be of type object" },
	};

	run_cases("ConfigMap",
		  "{'metadata':{'name':'c','namespace':'default','labels':{'app':'x'}}}", cases,
		  ARRAY_SIZE(cases));
}

TEST(validate_annotations_total_size)
{
	json_t *cm = J("{'metadata':{'name':'c','namespace':'d','annotations':{}}}");
	char *big = xmalloc(256 * 1024 + 2);

	memset(big, 'v', 256 * 1024 - 1);
	big[256 * 1024 - 1] = '\0';
	/* key "k" (1) + value (256 KiB - 1) is exactly the limit. */
	jsonx_set_path(cm, "metadata.annotations.k", json_string(big));
	check("at the limit", "ConfigMap", cm, NULL, 0, NULL, NULL, NULL);
	big[256 * 1024 - 1] = 'v';
	big[256 * 1024] = '\0';
	jsonx_set_path(cm, "metadata.annotations.k", json_string(big));
	check("one byte over", "ConfigMap", cm, NULL, 1, "metadata.annotations", LONG,
	      "Too long: may not be more than 262144 bytes");
	free(big);
	json_decref(cm);
}

TEST(validate_cluster_scoped_and_name_formats)
{
	json_t *ns = J("{'metadata':{'name':'a.b'}}");
	json_t *node = J("{'metadata':{'name':'node-1.example.com','namespace':'x'}}");
	json_t *svc =
		J("{'metadata':{'name':'1web','namespace':'d'},'spec':{'ports':[{'port':1,"
		  "'targetPort':1,'protocol':'TCP'}],'type':'ClusterIP','sessionAffinity':'None',"
		  "'internalTrafficPolicy':'Cluster'}}");

	check("namespace name is a label", "Namespace", ns, NULL, 1, "metadata.name", INV,
	      "Invalid value: \"a.b\": must not contain dots");
	check("node namespace forbidden", "Node", node, NULL, 1, "metadata.namespace", FOR,
	      "Forbidden: not allowed on this type");
	check("service name is a DNS-1035 label", "Service", svc, NULL, 1, "metadata.name", INV,
	      "Invalid value: \"1web\": a DNS-1035 label must consist of");
	json_decref(ns);
	json_decref(node);
	json_decref(svc);
}

TEST(validate_metadata_update_immutable)
{
	static const struct vcase cases[] = {
		{ "labels may change", "metadata.labels.x", "'y'", NULL, NULL, 0, NULL, NULL,
		  NULL },
		{ "name", "metadata.name", "'other'", NULL, NULL, 1, "metadata.name", INV,
		  "Invalid value: \"other\": field is immutable" },
		{ "namespace", "metadata.namespace", "'kube-system'", NULL, NULL, 1,
		  "metadata.namespace", INV, "Invalid value: \"kube-system\": field is immutable" },
		{ "uid", "metadata.uid", "'u-2'", NULL, NULL, 1, "metadata.uid", INV,
		  "Invalid value: \"u-2\": field is immutable" },
		{ "uid omitted (server copies it)", "metadata.uid", NULL, NULL, NULL, 0, NULL, NULL,
		  NULL },
		{ "creationTimestamp", "metadata.creationTimestamp", "'2030-01-01T00:00:00Z'", NULL,
		  NULL, 1, "metadata.creationTimestamp", INV,
		  "Invalid value: \"2030-01-01T00:00:00Z\": field is immutable" },
		{ "bad label on update", "metadata.labels.x", "'-'", NULL, NULL, 1,
		  "metadata.labels", INV, "Invalid value: \"-\": a valid label" },
	};

	run_updates("ConfigMap",
		    "{'metadata':{'name':'c','namespace':'default','uid':'u-1',"
		    "'creationTimestamp':'2024-01-01T00:00:00Z'}}",
		    cases, ARRAY_SIZE(cases), false);
}

TEST(validate_no_new_finalizers_while_deleting)
{
	json_t *old = J("{'metadata':{'name':'c','namespace':'d','finalizers':['example.com/a'],"
			"'deletionTimestamp':'2024-01-01T00:00:00Z'}}");
	json_t *obj = json_deep_copy(old);

	check("unchanged", "ConfigMap", obj, old, 0, NULL, NULL, NULL);
	json_array_append_new(jsonx_get_path(obj, "metadata.finalizers"),
			      json_string("example.com/b"));
	check("added", "ConfigMap", obj, old, 1, "metadata.finalizers", FOR,
	      "Forbidden: no new finalizers can be added if the object is being deleted, found "
	      "new finalizers []string{\"example.com/b\"}");
	json_decref(obj);
	json_decref(old);
}

/* ------------------------------------------------------------------ Pod */

TEST(validate_pod_create)
{
	static const struct vcase cases[] = {
		{ "no containers", "spec.containers", "[]", NULL, NULL, 1, "spec.containers", REQ,
		  "Required value" },
		{ "container name", "spec.containers[0].name", "'App'", NULL, NULL, 1,
		  "spec.containers[0].name", INV,
		  "Invalid value: \"App\": a lowercase RFC 1123 label must consist of" },
		{ "image", "spec.containers[0].image", "''", NULL, NULL, 1,
		  "spec.containers[0].image", REQ, "Required value" },
		{ "image whitespace", "spec.containers[0].image", "'nginx '", NULL, NULL, 1,
		  "spec.containers[0].image", INV,
		  "Invalid value: \"nginx \": must not have leading" },
		{ "containerPort zero", "spec.containers[0].ports[0].containerPort", "0", NULL,
		  NULL, 1, "spec.containers[0].ports[0].containerPort", REQ, "Required value" },
		{ "containerPort range", "spec.containers[0].ports[0].containerPort", "70000", NULL,
		  NULL, 1, "spec.containers[0].ports[0].containerPort", INV,
		  "Invalid value: 70000: must be between 1 and 65535, inclusive" },
		{ "hostPort range", "spec.containers[0].ports[0].hostPort", "-1", NULL, NULL, 1,
		  "spec.containers[0].ports[0].hostPort", INV,
		  "Invalid value: -1: must be between 1" },
		{ "protocol", "spec.containers[0].ports[0].protocol", "'ICMP'", NULL, NULL, 1,
		  "spec.containers[0].ports[0].protocol", UNS,
		  "Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"" },
		{ "port name chars", "spec.containers[0].ports[0].name", "'http_1'", NULL, NULL, 1,
		  "spec.containers[0].ports[0].name", INV,
		  "Invalid value: \"http_1\": must contain only alpha-numeric characters" },
		{ "port name long", "spec.containers[0].ports[0].name", "'abcdefghijklmnop'", NULL,
		  NULL, 1, "spec.containers[0].ports[0].name", INV,
		  "Invalid value: \"abcdefghijklmnop\": must be no more than 15 characters" },
		{ "port name digits", "spec.containers[0].ports[0].name", "'8080'", NULL, NULL, 1,
		  "spec.containers[0].ports[0].name", INV,
		  "Invalid value: \"8080\": must contain at least" },
		{ "duplicate port name", "spec.containers[0].ports[1]",
		  "{'name':'http','containerPort':81,'protocol':'TCP'}", NULL, NULL, 1,
		  "spec.containers[0].ports[1].name", DUP, "Duplicate value: \"http\"" },
		{ "env name", "spec.containers[0].env[0].name", "'A=B'", NULL, NULL, 1,
		  "spec.containers[0].env[0].name", INV,
		  "Invalid value: \"A=B\": a valid environment variable name must consist only "
		  "of" },
		{ "env name relaxed", "spec.containers[0].env[0].name", "'my.var-1'", NULL, NULL, 0,
		  NULL, NULL, NULL },
		{ "env name missing", "spec.containers[0].env[0].name", "''", NULL, NULL, 1,
		  "spec.containers[0].env[0].name", REQ, "Required value" },
		{ "valueFrom empty", "spec.containers[0].env[1].valueFrom", "{}", NULL, NULL, 1,
		  "spec.containers[0].env[1].valueFrom", INV,
		  "Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`" },
		{ "valueFrom two sources", "spec.containers[0].env[1].valueFrom.secretKeyRef",
		  "{'name':'s','key':'k'}", NULL, NULL, 1, "spec.containers[0].env[1].valueFrom",
		  INV,
		  "Invalid value: \"\": may not have more than one field specified at a time" },
		{ "valueFrom with value", "spec.containers[0].env[1].value", "'x'", NULL, NULL, 1,
		  "spec.containers[0].env[1].valueFrom", INV,
		  "Invalid value: \"\": may not be specified when `value` is not empty" },
		{ "fieldRef unsupported", "spec.containers[0].env[1].valueFrom.fieldRef.fieldPath",
		  "'spec.bogus'", NULL, NULL, 1,
		  "spec.containers[0].env[1].valueFrom.fieldRef.fieldPath", INV,
		  "Invalid value: \"spec.bogus\": error converting fieldPath: field label not" },
		{ "fieldRef not for env", "spec.containers[0].env[1].valueFrom.fieldRef.fieldPath",
		  "'status.phase'", NULL, NULL, 1,
		  "spec.containers[0].env[1].valueFrom.fieldRef.fieldPath", UNS,
		  "Unsupported value: \"status.phase\": supported values: \"metadata.name\"" },
		{ "fieldRef label subscript",
		  "spec.containers[0].env[1].valueFrom.fieldRef.fieldPath",
		  "'metadata.labels[\\u0027app\\u0027]'", NULL, NULL, 0, NULL, NULL, NULL },
		{ "secretKeyRef key", "spec.containers[0].env[1].valueFrom",
		  "{'secretKeyRef':{'name':'s','key':'a b'}}", NULL, NULL, 1,
		  "spec.containers[0].env[1].valueFrom.secretKeyRef.key", INV,
		  "Invalid value: \"a b\": a valid config key must consist of" },
		{ "request above limit", "spec.containers[0].resources.requests.cpu", "'2'", NULL,
		  NULL, 1, "spec.containers[0].resources.requests", INV,
		  "Invalid value: \"2\": must be less than or equal to cpu limit of 1" },
		{ "bad quantity", "spec.containers[0].resources.limits.cpu", "'abc'", NULL, NULL, 1,
		  "spec.containers[0].resources.limits[cpu]", INV,
		  "Invalid value: \"abc\": quantities must match the regular expression" },
		{ "negative quantity", "spec.containers[0].resources.requests.memory", "'-1Mi'",
		  NULL, NULL, 1, "spec.containers[0].resources.requests[memory]", INV,
		  "Invalid value: \"-1Mi\": must be greater than or equal to 0" },
		{ "resource name", "spec.containers[0].resources.limits.foo", "'1'", NULL, NULL, 2,
		  "spec.containers[0].resources.limits[foo]", INV,
		  "Invalid value: \"foo\": must be a standard resource for containers" },
		{ "extended resource needs limit", "spec.containers[0].resources.requests",
		  "{'example.com/gpu':'1'}", NULL, NULL, 1, "spec.containers[0].resources.limits",
		  REQ, "Required value: Limit must be set for non overcommitable resources" },
		{ "extended resource integer", "spec.containers[0].resources.limits",
		  "{'example.com/gpu':'500m'}", NULL, NULL, 1,
		  "spec.containers[0].resources.limits[example.com/gpu]", INV,
		  "Invalid value: \"500m\": must be an integer" },
		{ "hugepages need cpu or memory", "spec.containers[0].resources",
		  "{'limits':{'hugepages-2Mi':'4Mi'}}", NULL, NULL, 1,
		  "spec.containers[0].resources", FOR,
		  "Forbidden: HugePages require cpu or memory" },
		{ "restartPolicy", "spec.restartPolicy", "'Sometimes'", NULL, NULL, 1,
		  "spec.restartPolicy", UNS,
		  "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", "
		  "\"Never\"" },
		{ "dnsPolicy", "spec.dnsPolicy", "'Foo'", NULL, NULL, 1, "spec.dnsPolicy", UNS,
		  "Unsupported value: \"Foo\": supported values: \"ClusterFirstWithHostNet\"" },
		{ "dnsPolicy None needs config", "spec.dnsPolicy", "'None'", NULL, NULL, 1,
		  "spec.dnsConfig", REQ, "Required value: must provide `dnsConfig` when" },
		{ "nameservers", "spec.dnsConfig", "{'nameservers':['1.2.3.4','nope']}", NULL, NULL,
		  1, "spec.dnsConfig.nameservers[1]", INV,
		  "Invalid value: \"nope\": must be a valid IP" },
		{ "two handlers", "spec.containers[0].livenessProbe.exec", "{'command':['true']}",
		  NULL, NULL, 1, "spec.containers[0].livenessProbe.httpGet", FOR,
		  "Forbidden: may not specify more than 1 handler type" },
		{ "no handler", "spec.containers[0].livenessProbe.httpGet", NULL, NULL, NULL, 1,
		  "spec.containers[0].livenessProbe", REQ,
		  "Required value: must specify a handler type" },
		{ "probe timing", "spec.containers[0].livenessProbe.timeoutSeconds", "-1", NULL,
		  NULL, 1, "spec.containers[0].livenessProbe.timeoutSeconds", INV,
		  "Invalid value: -1: must be greater than or equal to 0" },
		{ "liveness successThreshold", "spec.containers[0].livenessProbe.successThreshold",
		  "2", NULL, NULL, 1, "spec.containers[0].livenessProbe.successThreshold", INV,
		  "Invalid value: 2: must be 1" },
		{ "readiness successThreshold",
		  "spec.containers[0].readinessProbe.successThreshold", "2", NULL, NULL, 0, NULL,
		  NULL, NULL },
		{ "probe port name", "spec.containers[0].readinessProbe.tcpSocket.port", "'HTTP'",
		  NULL, NULL, 2, "spec.containers[0].readinessProbe.tcpSocket.port", INV,
		  "Invalid value: \"HTTP\": must contain only alpha-numeric" },
		{ "httpGet scheme", "spec.containers[0].livenessProbe.httpGet.scheme", "'FTP'",
		  NULL, NULL, 1, "spec.containers[0].livenessProbe.httpGet.scheme", UNS,
		  "Unsupported value: \"FTP\": supported values: \"HTTP\", \"HTTPS\"" },
		{ "lifecycle sleep too long", "spec.containers[0].lifecycle",
		  "{'preStop':{'sleep':{'seconds':31}}}", NULL, NULL, 1,
		  "spec.containers[0].lifecycle.preStop.sleep", INV,
		  "Invalid value: 31: must be non-negative and less than "
		  "terminationGracePeriodSeconds "
		  "(30)" },
		{ "duplicate volume", "spec.volumes[1].name", "'data'", NULL, NULL, 1,
		  "spec.volumes[1].name", DUP, "Duplicate value: \"data\"" },
		{ "volume name", "spec.volumes[1].name", "'Cfg'", NULL, NULL, 1,
		  "spec.volumes[1].name", INV,
		  "Invalid value: \"Cfg\": a lowercase RFC 1123 label" },
		{ "two volume sources", "spec.volumes[1].emptyDir", "{}", NULL, NULL, 1,
		  "spec.volumes[1].configMap", FOR,
		  "Forbidden: may not specify more than 1 volume type" },
		{ "no volume source", "spec.volumes[0].emptyDir", NULL, NULL, NULL, 2,
		  "spec.volumes[0]", REQ, "Required value: must specify a volume type" },
		{ "configMap name", "spec.volumes[1].configMap.name", "''", NULL, NULL, 1,
		  "spec.volumes[1].configMap.name", REQ, "Required value" },
		{ "defaultMode", "spec.volumes[1].configMap.defaultMode", "512", NULL, NULL, 1,
		  "spec.volumes[1].configMap.defaultMode", INV,
		  "Invalid value: 512: must be a number between 0 and 0777 (octal), both "
		  "inclusive" },
		{ "items path", "spec.volumes[1].configMap.items", "[{'key':'k','path':'../x'}]",
		  NULL, NULL, 1, "spec.volumes[1].configMap.items[0].path", INV,
		  "Invalid value: \"../x\": must not contain '..'" },
		{ "hostPath type", "spec.volumes[1]",
		  "{'name':'h','hostPath':{'path':'/x','type':'Dir'}}", NULL, NULL, 1,
		  "spec.volumes[1].hostPath.type", UNS,
		  "Unsupported value: \"Dir\": supported values: \"\", \"BlockDevice\"" },
		{ "nfs relative", "spec.volumes[1]", "{'name':'n','nfs':{'server':'s','path':'x'}}",
		  NULL, NULL, 1, "spec.volumes[1].nfs.path", INV,
		  "Invalid value: \"x\": must be an absolute" },
		{ "mount of unknown volume", "spec.containers[0].volumeMounts[0].name", "'nope'",
		  NULL, NULL, 1, "spec.containers[0].volumeMounts[0].name", NF,
		  "Not found: \"nope\"" },
		{ "mount path missing", "spec.containers[0].volumeMounts[0].mountPath", "''", NULL,
		  NULL, 1, "spec.containers[0].volumeMounts[0].mountPath", REQ, "Required value" },
		{ "mount subPath", "spec.containers[0].volumeMounts[0].subPath", "'/abs'", NULL,
		  NULL, 1, "spec.containers[0].volumeMounts.subPath", INV,
		  "Invalid value: \"/abs\": must be a relative path" },
		{ "nodeSelector", "spec.nodeSelector", "{'disk':'ssd ok'}", NULL, NULL, 1,
		  "spec.nodeSelector", INV, "Invalid value: \"ssd ok\": a valid label" },
		{ "toleration operator", "spec.tolerations", "[{'key':'k','operator':'Maybe'}]",
		  NULL, NULL, 1, "spec.tolerations[0].operator", UNS,
		  "Unsupported value: \"Maybe\": supported values: \"Equal\", \"Exists\"" },
		{ "toleration effect", "spec.tolerations", "[{'key':'k','effect':'Sometimes'}]",
		  NULL, NULL, 1, "spec.tolerations[0].effect", UNS,
		  "Unsupported value: \"Sometimes\": supported values: \"NoSchedule\"" },
		{ "toleration empty key", "spec.tolerations", "[{'operator':'Equal','value':'x'}]",
		  NULL, NULL, 1, "spec.tolerations[0].operator", INV,
		  "Invalid value: \"Equal\": operator must be Exists when `key` is empty" },
		{ "tolerationSeconds without NoExecute", "spec.tolerations",
		  "[{'key':'k','operator':'Exists','effect':'NoSchedule','tolerationSeconds':5}]",
		  NULL, NULL, 1, "spec.tolerations[0].effect", INV,
		  "Invalid value: \"NoSchedule\": effect must be 'NoExecute' when "
		  "`tolerationSeconds`" },
		{ "grace period missing", "spec.terminationGracePeriodSeconds", NULL, NULL, NULL, 1,
		  "spec.terminationGracePeriodSeconds", REQ, "Required value" },
		{ "negative grace period (upstream accepts)", "spec.terminationGracePeriodSeconds",
		  "-1", NULL, NULL, 0, NULL, NULL, NULL },
		{ "activeDeadlineSeconds", "spec.activeDeadlineSeconds", "0", NULL, NULL, 1,
		  "spec.activeDeadlineSeconds", INV,
		  "Invalid value: 0: must be between 1 and 2147483647, inclusive" },
		{ "runAsUser", "spec.securityContext.runAsUser", "-1", NULL, NULL, 1,
		  "spec.securityContext.runAsUser", INV,
		  "Invalid value: -1: must be between 0 and 4294967295, inclusive" },
		{ "sysctl", "spec.securityContext.sysctls", "[{'name':'Net.X','value':'1'}]", NULL,
		  NULL, 1, "spec.securityContext.sysctls[0].name", INV,
		  "Invalid value: \"Net.X\": must have at most 253 characters and match regex" },
		{ "escalation and privileged", "spec.containers[0].securityContext",
		  "{'privileged':true,'allowPrivilegeEscalation':false}", NULL, NULL, 1,
		  "spec.containers[0].securityContext", INV,
		  "Invalid value: {\"allowPrivilegeEscalation\":false,\"privileged\":true}: cannot "
		  "set" },
		{ "seccomp type", "spec.securityContext.seccompProfile", "{'type':'Strict'}", NULL,
		  NULL, 1, "spec.securityContext.seccompProfile.type", UNS,
		  "Unsupported value: \"Strict\": supported values: \"Localhost\"" },
		{ "init container name clash", "spec.initContainers",
		  "[{'name':'app','image':'busybox','imagePullPolicy':'IfNotPresent',"
		  "'terminationMessagePolicy':'File'}]",
		  NULL, NULL, 1, "spec.initContainers[0].name", DUP, "Duplicate value: \"app\"" },
		{ "init restartPolicy", "spec.initContainers",
		  "[{'name':'init','image':'busybox','imagePullPolicy':'IfNotPresent',"
		  "'terminationMessagePolicy':'File','restartPolicy':'Never'}]",
		  NULL, NULL, 1, "spec.initContainers[0].restartPolicy", UNS,
		  "Unsupported value: \"Never\": supported values: \"Always\"" },
		{ "init probe", "spec.initContainers",
		  "[{'name':'init','image':'busybox','imagePullPolicy':'IfNotPresent',"
		  "'terminationMessagePolicy':'File','readinessProbe':{'tcpSocket':{'port':1}}}]",
		  NULL, NULL, 1, "spec.initContainers[0].readinessProbe", FOR,
		  "Forbidden: may not be set for init containers without restartPolicy=Always" },
		{ "sidecar", "spec.initContainers",
		  "[{'name':'side','image':'busybox','imagePullPolicy':'IfNotPresent',"
		  "'terminationMessagePolicy':'File','restartPolicy':'Always',"
		  "'readinessProbe':{'tcpSocket':{'port':1},'timeoutSeconds':1,'periodSeconds':1,"
		  "'successThreshold':1,'failureThreshold':1}}]",
		  NULL, NULL, 0, NULL, NULL, NULL },
		{ "restartPolicy on container", "spec.containers[0].restartPolicy", "'Always'",
		  NULL, NULL, 1, "spec.containers[0].restartPolicy", FOR,
		  "Forbidden: may not be set for non-init containers" },
		{ "hostNetwork hostPort", "spec.hostNetwork", "true",
		  "spec.containers[0].ports[0].hostPort", "8080", 1,
		  "spec.containers[0].ports[0].hostPort", INV,
		  "Invalid value: 8080: must match `containerPort` when `hostNetwork` is true" },
		{ "hostPort conflict", "spec.containers[1]",
		  "{'name':'b','image':'x','imagePullPolicy':'Always','terminationMessagePolicy':'"
		  "File',"
		  "'ports':[{'containerPort':81,'hostPort':9000,'protocol':'TCP'}]}",
		  "spec.containers[0].ports[0].hostPort", "9000", 1,
		  "spec.containers[1].ports[0].hostPort", DUP, "Duplicate value: \"TCP//9000\"" },
		{ "ephemeral containers on create", "spec.ephemeralContainers",
		  "[{'name':'dbg','image':'busybox'}]", NULL, NULL, 1, "spec.ephemeralContainers",
		  FOR, "Forbidden: cannot be set on create" },
		{ "node affinity terms", "spec.affinity",
		  "{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':"
		  "{'nodeSelectorTerms':[]}}}",
		  NULL, NULL, 1,
		  "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
		  "nodeSelectorTerms",
		  REQ, "Required value: must have at least one node selector term" },
		{ "node affinity operator", "spec.affinity",
		  "{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':"
		  "{'nodeSelectorTerms':[{'matchExpressions':[{'key':'a','operator':'In'}]}]}}}",
		  NULL, NULL, 1,
		  "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
		  "nodeSelectorTerms[0].matchExpressions[0].values",
		  REQ, "Required value: must be specified when `operator` is 'In' or 'NotIn'" },
		{ "pod affinity topologyKey", "spec.affinity",
		  "{'podAntiAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':"
		  "[{'labelSelector':{'matchLabels':{'app':'web'}},'topologyKey':''}]}}",
		  NULL, NULL, -1,
		  "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]."
		  "topologyKey",
		  REQ, "Required value: can not be empty" },
		{ "topology spread skew", "spec.topologySpreadConstraints",
		  "[{'maxSkew':0,'topologyKey':'zone','whenUnsatisfiable':'DoNotSchedule'}]", NULL,
		  NULL, 1, "spec.topologySpreadConstraints[0].maxSkew", INV,
		  "Invalid value: 0: must be greater than zero" },
		{ "serviceAccountName", "spec.serviceAccountName", "'Bad'", "spec.serviceAccount",
		  "'Bad'", 1, "spec.serviceAccountName", INV,
		  "Invalid value: \"Bad\": a lowercase RFC 1123 sub" },
		{ "preemptionPolicy", "spec.preemptionPolicy", "'Sometimes'", NULL, NULL, 1,
		  "spec.preemptionPolicy", UNS,
		  "Unsupported value: \"Sometimes\": supported values: \"PreemptLowerPriority\"" },
		{ "deletion cost", "metadata.annotations",
		  "{'controller.kubernetes.io/pod-deletion-cost':'01'}", NULL, NULL, 1,
		  "metadata.annotations[controller.kubernetes.io/pod-deletion-cost]", INV,
		  "Invalid value: \"01\": must be a 32bit integer" },
		{ "mirror pod without node", "metadata.annotations",
		  "{'kubernetes.io/config.mirror':'x'}", NULL, NULL, 1,
		  "metadata.annotations[kubernetes.io/config.mirror]", INV,
		  "Invalid value: \"x\": must set spec.nodeName if mirror pod annotation is set" },
		{ "containers wrong type", "spec.containers", "'x'", NULL, NULL, 1,
		  "spec.containers", TYPE, "Invalid value: \"string\": must be of type array" },
		{ "container wrong type", "spec.containers[0]", "5", NULL, NULL, -1,
		  "spec.containers[0]", TYPE,
		  "Invalid value: \"integer\": must be of type object" },
		{ "spec wrong type", "spec", "[]", NULL, NULL, 1, "spec", TYPE,
		  "Invalid value: \"array\": must be of type object" },
		{ "int32 overflow", "spec.containers[0].ports[0].containerPort", "4294967296", NULL,
		  NULL, 1, "spec.containers[0].ports[0].containerPort", TYPE,
		  "Invalid value: 4294967296: must be of type int32" },
		{ "real number", "spec.containers[0].ports[0].containerPort", "80.5", NULL, NULL, 1,
		  "spec.containers[0].ports[0].containerPort", TYPE,
		  "Invalid value: \"number\": must be of type integer" },
		{ "integral real accepted", "spec.containers[0].ports[0].containerPort", "80.0",
		  NULL, NULL, 0, NULL, NULL, NULL },
	};

	run_cases("Pod", pod_text, cases, ARRAY_SIZE(cases));
}

TEST(validate_pod_update)
{
	static const struct vcase cases[] = {
		{ "image may change", "spec.containers[0].image", "'nginx:1.26'", NULL, NULL, 0,
		  NULL, NULL, NULL },
		{ "labels may change", "metadata.labels.app", "'v2'", NULL, NULL, 0, NULL, NULL,
		  NULL },
		{ "dnsPolicy may not", "spec.dnsPolicy", "'Default'", NULL, NULL, 1, "spec", FOR,
		  "Forbidden: pod updates may not change fields other than "
		  "`spec.containers[*].image`,"
		  "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
		  "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
		  "(allow it to be set to 1 if it was previously negative)\n" },
		{ "grace period may not", "spec.terminationGracePeriodSeconds", "10", NULL, NULL, 1,
		  "spec", FOR, "Forbidden: pod updates may not change fields other than" },
		{ "env may not", "spec.containers[0].env[0].value", "'c'", NULL, NULL, 1, "spec",
		  FOR, "Forbidden: pod updates may not change fields other than" },
		{ "container removed", "spec.containers", "[]", NULL, NULL, 2, "spec.containers",
		  FOR, "Forbidden: pod updates may not add or remove containers" },
		{ "image emptied", "spec.containers[0].image", "''", NULL, NULL, 2,
		  "spec.containers[0].image", REQ, "Required value" },
		{ "toleration added", "spec.tolerations[2]",
		  "{'key':'k','operator':'Exists','effect':'NoSchedule'}", NULL, NULL, 0, NULL,
		  NULL, NULL },
		{ "toleration seconds changed", "spec.tolerations[0].tolerationSeconds", "60", NULL,
		  NULL, 0, NULL, NULL, NULL },
		{ "toleration changed", "spec.tolerations[0].key", "'other'", NULL, NULL, 1,
		  "spec.tolerations", FOR,
		  "Forbidden: existing toleration can not be modified except its "
		  "tolerationSeconds" },
		{ "deadline set", "spec.activeDeadlineSeconds", "100", NULL, NULL, 0, NULL, NULL,
		  NULL },
		{ "name changed", "metadata.name", "'other'", NULL, NULL, 1, "metadata.name", INV,
		  "Invalid value: \"other\": field is immutable" },
		{ "empty defaults equal", "spec.hostname", "''", NULL, NULL, 0, NULL, NULL, NULL },
	};

	run_updates("Pod", pod_text, cases, ARRAY_SIZE(cases), false);
}

TEST(validate_pod_update_active_deadline)
{
	json_t *old = J(pod_text), *obj;

	defaults_apply("Pod", old);
	jsonx_set_path(old, "spec.activeDeadlineSeconds", json_integer(100));
	obj = json_deep_copy(old);
	jsonx_set_path(obj, "spec.activeDeadlineSeconds", json_integer(50));
	check("lower", "Pod", obj, old, 0, NULL, NULL, NULL);
	jsonx_set_path(obj, "spec.activeDeadlineSeconds", json_integer(200));
	check("higher", "Pod", obj, old, 1, "spec.activeDeadlineSeconds", INV,
	      "Invalid value: 200: must be less than or equal to previous value");
	json_object_del(jsonx_obj(obj, "spec"), "activeDeadlineSeconds");
	check("removed", "Pod", obj, old, 1, "spec.activeDeadlineSeconds", INV,
	      "Invalid value: null: must not update from a positive integer to nil value");
	json_decref(obj);
	json_decref(old);
}

TEST(validate_pod_status)
{
	static const struct vcase cases[] = {
		{ "phase and IPs", "status",
		  "{'phase':'Running','podIP':'10.0.0.5','podIPs':[{'ip':'10.0.0.5'},{'ip':'fd00::"
		  "5'}],"
		  "'hostIP':'192.168.1.2','hostIPs':[{'ip':'192.168.1.2'}]}",
		  NULL, NULL, 0, NULL, NULL, NULL },
		{ "bad pod IP", "status", "{'podIPs':[{'ip':'10.0.0.500'}]}", NULL, NULL, 1,
		  "status.podIPs[0]", INV,
		  "Invalid value: \"10.0.0.500\": must be a valid IP address" },
		{ "two IPv4 pod IPs", "status", "{'podIPs':[{'ip':'10.0.0.5'},{'ip':'10.0.0.6'}]}",
		  NULL, NULL, 1, "status.podIPs", INV,
		  "Invalid value: [{\"ip\":\"10.0.0.5\"},{\"ip\":\"10.0.0.6\"}]: may specify no "
		  "more" },
		{ "hostIPs mismatch", "status", "{'hostIP':'1.1.1.1','hostIPs':[{'ip':'2.2.2.2'}]}",
		  NULL, NULL, 1, "status.hostIPs[0].ip", INV,
		  "Invalid value: \"2.2.2.2\": must be equal to" },
		{ "condition type", "status",
		  "{'conditions':[{'type':'bad type','status':'True'}]}", NULL, NULL, 1,
		  "metadata.conditions[0].Type", INV, "Invalid value: \"bad type\"" },
		{ "nodeName via status", "spec.nodeName", "'n1'", NULL, NULL, 1, "status.nodeName",
		  FOR, "Forbidden: may not be changed directly" },
	};

	run_updates("Pod", pod_text, cases, ARRAY_SIZE(cases), true);
}

TEST(validate_pod_status_transitions)
{
	json_t *old = J(pod_text), *obj;

	defaults_apply("Pod", old);
	jsonx_set_path(old, "spec.restartPolicy", json_string("Never"));
	jsonx_set_path(old, "status",
		       J("{'qosClass':'Burstable','containerStatuses':[{'name':'app',"
			 "'state':{'terminated':{'exitCode':0}}}]}"));
	obj = json_deep_copy(old);
	check_status("unchanged", "Pod", obj, old, 0, NULL, NULL, NULL);
	jsonx_set_path(obj, "status.containerStatuses[0].state", J("{'running':{}}"));
	check_status("back to running", "Pod", obj, old, 1, "status.containerStatuses[0].state",
		     FOR, "Forbidden: may not be transitioned to non-terminated state");
	jsonx_set_path(obj, "status.containerStatuses[0].state",
		       J("{'terminated':{'exitCode':0}}"));
	jsonx_set_path(obj, "status.qosClass", json_string("Guaranteed"));
	check_status("qos changed", "Pod", obj, old, 1, "status.qosClass", INV,
		     "Invalid value: \"Guaranteed\": field is immutable");
	json_decref(obj);
	json_decref(old);
}

/* ------------------------------------------------------------------ apps/v1 */

TEST(validate_deployment)
{
	static const struct vcase cases[] = {
		{ "selector missing", "spec.selector", NULL, NULL, NULL, 2, "spec.selector", REQ,
		  "Required value" },
		{ "selector empty", "spec.selector", "{}", NULL, NULL, 1, "spec.selector", INV,
		  "Invalid value: {}: empty selector is invalid for deployment" },
		{ "selector mismatch", "spec.template.metadata.labels.app", "'api'", NULL, NULL, 1,
		  "spec.template.metadata.labels", INV,
		  "Invalid value: {\"app\":\"api\"}: `selector` does not match template `labels`" },
		{ "selector expression", "spec.selector",
		  "{'matchExpressions':[{'key':'app','operator':'In','values':['web','api']}]}",
		  NULL, NULL, 0, NULL, NULL, NULL },
		{ "selector operator", "spec.selector",
		  "{'matchLabels':{'app':'web'},'matchExpressions':[{'key':'x','operator':'Near'}]"
		  "}",
		  NULL, NULL, -1, "spec.selector.matchExpressions[0].operator", INV,
		  "Invalid value: \"Near\": not a valid selector operator" },
		{ "selector values", "spec.selector",
		  "{'matchLabels':{'app':'web'},'matchExpressions':[{'key':'x','operator':'Exists',"
		  "'values':['a']}]}",
		  NULL, NULL, -1, "spec.selector.matchExpressions[0].values", FOR,
		  "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'" },
		{ "replicas", "spec.replicas", "-1", NULL, NULL, 1, "spec.replicas", INV,
		  "Invalid value: -1: must be greater than or equal to 0" },
		{ "strategy type", "spec.strategy.type", "'Blue'", NULL, NULL, 1, "spec.strategy",
		  UNS, "Unsupported value: {" },
		{ "recreate with rollingUpdate", "spec.strategy.type", "'Recreate'", NULL, NULL, 1,
		  "spec.strategy.rollingUpdate", FOR,
		  "Forbidden: may not be specified when strategy `type` is 'Recreate'" },
		{ "recreate", "spec.strategy", "{'type':'Recreate'}", NULL, NULL, 0, NULL, NULL,
		  NULL },
		{ "both zero", "spec.strategy.rollingUpdate", "{'maxSurge':0,'maxUnavailable':0}",
		  NULL, NULL, 1, "spec.strategy.rollingUpdate.maxUnavailable", INV,
		  "Invalid value: 0: may not be 0 when `maxSurge` is 0" },
		{ "percent and int", "spec.strategy.rollingUpdate",
		  "{'maxSurge':2,'maxUnavailable':'0%'}", NULL, NULL, 0, NULL, NULL, NULL },
		{ "bad percent", "spec.strategy.rollingUpdate.maxSurge", "'abc'", NULL, NULL, 1,
		  "spec.strategy.rollingUpdate.maxSurge", INV,
		  "Invalid value: \"abc\": a valid percent string must be a numeric string" },
		{ "over 100%", "spec.strategy.rollingUpdate.maxUnavailable", "'150%'", NULL, NULL,
		  1, "spec.strategy.rollingUpdate.maxUnavailable", INV,
		  "Invalid value: \"150%\": must not be greater than 100%" },
		{ "negative surge", "spec.strategy.rollingUpdate.maxSurge", "-1", NULL, NULL, 1,
		  "spec.strategy.rollingUpdate.maxSurge", INV,
		  "Invalid value: -1: must be greater" },
		{ "revisionHistoryLimit", "spec.revisionHistoryLimit", "-1", NULL, NULL, 1,
		  "spec.revisionHistoryLimit", INV,
		  "Invalid value: -1: must be greater than or equal" },
		{ "progress deadline", "spec.minReadySeconds", "10", "spec.progressDeadlineSeconds",
		  "5", 1, "spec.progressDeadlineSeconds", INV,
		  "Invalid value: 5: must be greater than minReadySeconds" },
		{ "template restartPolicy", "spec.template.spec.restartPolicy", "'Never'", NULL,
		  NULL, 1, "spec.template.spec.restartPolicy", UNS,
		  "Unsupported value: \"Never\": supported values: \"Always\"" },
		{ "template image", "spec.template.spec.containers[0].image", NULL, NULL, NULL, 1,
		  "spec.template.spec.containers[0].image", REQ, "Required value" },
		{ "template deadline", "spec.template.spec.activeDeadlineSeconds", "10", NULL, NULL,
		  1, "spec.template.spec.activeDeadlineSeconds", FOR,
		  "Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported" },
		{ "template label key", "spec.template.metadata.labels.-x", "'y'", NULL, NULL, 1,
		  "spec.template.labels", INV, "Invalid value: \"-x\": name part must consist of" },
		{ "template ephemeral", "spec.template.spec.ephemeralContainers",
		  "[{'name':'d','image':'x'}]", NULL, NULL, 1,
		  "spec.template.spec.ephemeralContainers", FOR,
		  "Forbidden: ephemeral containers not allowed in pod template" },
		{ "template hostPort 0 with hostNetwork", "spec.template.spec.hostNetwork", "true",
		  "spec.template.spec.containers[0].ports",
		  "[{'containerPort':80,'protocol':'TCP'}]", 0, NULL, NULL, NULL },
		{ "replicas type", "spec.replicas", "'3'", NULL, NULL, 1, "spec.replicas", TYPE,
		  "Invalid value: \"string\": must be of type integer" },
	};

	run_cases("Deployment", deploy_text, cases, ARRAY_SIZE(cases));
}

TEST(validate_deployment_update_and_status)
{
	static const struct vcase updates[] = {
		{ "scale", "spec.replicas", "5", NULL, NULL, 0, NULL, NULL, NULL },
		{ "new image", "spec.template.spec.containers[0].image", "'nginx:2'", NULL, NULL, 0,
		  NULL, NULL, NULL },
		{ "selector changed", "spec.selector.matchLabels.tier", "'fe'",
		  "spec.template.metadata.labels.tier", "'fe'", 1, "spec.selector", INV,
		  "Invalid value: {\"matchLabels\":{\"app\":\"web\",\"tier\":\"fe\"}}: field is "
		  "immutable" },
	};
	static const struct vcase status[] = {
		{ "counts", "status", "{'replicas':3,'readyReplicas':3,'availableReplicas':2}",
		  NULL, NULL, 0, NULL, NULL, NULL },
		{ "ready above replicas", "status", "{'replicas':1,'readyReplicas':2}", NULL, NULL,
		  1, "status.readyReplicas", INV,
		  "Invalid value: 2: cannot be greater than status.replicas" },
		{ "available above ready", "status",
		  "{'replicas':3,'readyReplicas':1,'availableReplicas':2}", NULL, NULL, 1,
		  "status.availableReplicas", INV,
		  "Invalid value: 2: cannot be greater than readyReplicas" },
		{ "negative", "status", "{'replicas':-1}", NULL, NULL, 4, "status.replicas", INV,
		  "Invalid value: -1: must be greater than or equal to 0" },
		{ "spec is not checked", "spec.replicas", "-5", NULL, NULL, 0, NULL, NULL, NULL },
	};

	run_updates("Deployment", deploy_text, updates, ARRAY_SIZE(updates), false);
	run_updates("Deployment", deploy_text, status, ARRAY_SIZE(status), true);
}

TEST(validate_collision_count_decrement)
{
	json_t *old = J(deploy_text), *obj;

	defaults_apply("Deployment", old);
	jsonx_set_path(old, "status", J("{'collisionCount':3}"));
	obj = json_deep_copy(old);
	jsonx_set_path(obj, "status.collisionCount", json_integer(2));
	check_status("decremented", "Deployment", obj, old, 1, "status.collisionCount", INV,
		     "Invalid value: 2: cannot be decremented");
	json_decref(obj);
	json_decref(old);
}

TEST(validate_replicaset_and_daemonset)
{
	static const struct vcase rs[] = {
		{ "mismatch", "spec.template.metadata.labels", "{'x':'y'}", NULL, NULL, 1,
		  "spec.template.metadata.labels", INV,
		  "Invalid value: {\"x\":\"y\"}: `selector`" },
		{ "replicas", "spec.replicas", "-2", NULL, NULL, 1, "spec.replicas", INV,
		  "Invalid value: -2: must be greater than or equal to 0" },
	};
	static const struct vcase ds[] = {
		{ "strategy", "spec.updateStrategy.type", "'Sometimes'", NULL, NULL, 1,
		  "spec.updateStrategy", UNS, "Unsupported value: {" },
		{ "on delete", "spec.updateStrategy", "{'type':'OnDelete'}", NULL, NULL, 0, NULL,
		  NULL, NULL },
		{ "surge and unavailable", "spec.updateStrategy.rollingUpdate.maxSurge", "1", NULL,
		  NULL, 1, "spec.updateStrategy.rollingUpdate.maxSurge", INV,
		  "Invalid value: 1: may not be set when maxUnavailable is non-zero" },
		{ "surge only", "spec.updateStrategy.rollingUpdate",
		  "{'maxSurge':'10%','maxUnavailable':0}", NULL, NULL, 0, NULL, NULL, NULL },
		{ "both zero", "spec.updateStrategy.rollingUpdate.maxUnavailable", "0", NULL, NULL,
		  1, "spec.updateStrategy.rollingUpdate.maxUnavailable", REQ,
		  "Required value: cannot be 0 when maxSurge is 0" },
		{ "empty selector", "spec.selector", "{}", NULL, NULL, 1, "spec.selector", INV,
		  "Invalid value: {}: empty selector is invalid for daemonset" },
		{ "deadline", "spec.template.spec.activeDeadlineSeconds", "5", NULL, NULL, 1,
		  "spec.template.spec.activeDeadlineSeconds", FOR,
		  "Forbidden: activeDeadlineSeconds in DaemonSet is not Supported" },
	};
	const char *rs_text =
		"{'kind':'ReplicaSet','metadata':{'name':'r','namespace':'d'},'spec':{'selector':"
		"{'matchLabels':{'a':'b'}},'template':{'metadata':{'labels':{'a':'b'}},'spec':"
		"{'containers':[{'name':'c','image':'i'}]}}}}";
	const char *ds_text =
		"{'kind':'DaemonSet','metadata':{'name':'r','namespace':'d'},'spec':{'selector':"
		"{'matchLabels':{'a':'b'}},'template':{'metadata':{'labels':{'a':'b'}},'spec':"
		"{'containers':[{'name':'c','image':'i'}]}}}}";

	run_cases("ReplicaSet", rs_text, rs, ARRAY_SIZE(rs));
	run_cases("DaemonSet", ds_text, ds, ARRAY_SIZE(ds));
}

/* ------------------------------------------------------------------ Service */

TEST(validate_service)
{
	static const struct vcase cases[] = {
		{ "no ports", "spec.ports", "[]", NULL, NULL, 1, "spec.ports", REQ,
		  "Required value" },
		{ "port zero", "spec.ports[0].port", "0", NULL, NULL, 1, "spec.ports[0].port", INV,
		  "Invalid value: 0: must be between 1 and 65535, inclusive" },
		{ "unnamed ports", "spec.ports[1]", "{'port':81,'targetPort':81,'protocol':'TCP'}",
		  NULL, NULL, 2, "spec.ports[1].name", REQ, "Required value" },
		{ "duplicate names", "spec.ports",
		  "[{'name':'a','port':80,'targetPort':80,'protocol':'TCP'},"
		  "{'name':'a','port':81,'targetPort':81,'protocol':'TCP'}]",
		  NULL, NULL, 1, "spec.ports[1].name", DUP, "Duplicate value: \"a\"" },
		{ "duplicate port", "spec.ports",
		  "[{'name':'a','port':80,'targetPort':80,'protocol':'TCP'},"
		  "{'name':'b','port':80,'targetPort':81,'protocol':'TCP'}]",
		  NULL, NULL, 1, "spec.ports[1]", DUP, "Duplicate value: {" },
		{ "same port two protocols", "spec.ports",
		  "[{'name':'a','port':53,'targetPort':53,'protocol':'TCP'},"
		  "{'name':'b','port':53,'targetPort':53,'protocol':'UDP'}]",
		  NULL, NULL, 0, NULL, NULL, NULL },
		{ "targetPort name", "spec.ports[0].targetPort", "'HTTP'", NULL, NULL, 2,
		  "spec.ports[0].targetPort", INV, "Invalid value: \"HTTP\": must contain only" },
		{ "targetPort range", "spec.ports[0].targetPort", "70000", NULL, NULL, 1,
		  "spec.ports[0].targetPort", INV,
		  "Invalid value: 70000: must be between 1 and 65535" },
		{ "protocol", "spec.ports[0].protocol", "'ICMP'", NULL, NULL, 1,
		  "spec.ports[0].protocol", UNS, "Unsupported value: \"ICMP\"" },
		{ "type", "spec.type", "'Weird'", NULL, NULL, -1, "spec.type", UNS,
		  "Unsupported value: \"Weird\": supported values: \"ClusterIP\", "
		  "\"ExternalName\", "
		  "\"LoadBalancer\", \"NodePort\"" },
		{ "cluster IP", "spec.clusterIP", "'10.0.0.300'", "spec.clusterIPs", NULL, 1,
		  "spec.clusterIPs[0]", INV,
		  "Invalid value: \"10.0.0.300\": must be a valid IP address, (e.g. 10.9.8.7" },
		{ "cluster IPs mismatch", "spec.clusterIP", "'10.0.0.1'", "spec.clusterIPs",
		  "['10.0.0.2']", 1, "spec.clusterIPs", INV,
		  "Invalid value: [\"10.0.0.2\"]: first value must match" },
		{ "headless", "spec.clusterIP", "'None'", "spec.clusterIPs", NULL, 0, NULL, NULL,
		  NULL },
		{ "headless LoadBalancer", "spec.type", "'LoadBalancer'", "spec.clusterIPs",
		  "['None']", -1, "spec.clusterIPs[0]", INV,
		  "Invalid value: \"None\": may not be set to 'None' for LoadBalancer services" },
		{ "IP family", "spec.ipFamilies", "['IPv5']", NULL, NULL, 1, "spec.ipFamilies[0]",
		  UNS, "Unsupported value: \"IPv5\": supported values: \"IPv4\", \"IPv6\"" },
		{ "family mismatch", "spec.clusterIP", "'fd00::1'", "spec.clusterIPs",
		  "['fd00::1']", 1, "spec.clusterIPs[0]", INV,
		  "Invalid value: \"fd00::1\": expected an IPv4 value as indicated by "
		  "`ipFamilies[0]`" },
		{ "ipFamilyPolicy", "spec.ipFamilyPolicy", "'Triple'", NULL, NULL, 1,
		  "spec.ipFamilyPolicy", UNS,
		  "Unsupported value: \"Triple\": supported values: \"PreferDualStack\"" },
		{ "session affinity", "spec.sessionAffinity", "'Sticky'", NULL, NULL, 1,
		  "spec.sessionAffinity", UNS,
		  "Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\"" },
		{ "client IP timeout", "spec.sessionAffinity", "'ClientIP'",
		  "spec.sessionAffinityConfig", "{'clientIP':{'timeoutSeconds':0}}", 1,
		  "spec.sessionAffinityConfig.clientIP.timeoutSeconds", INV,
		  "Invalid value: 0: must be greater than 0 and less than 86400" },
		{ "client IP max", "spec.sessionAffinity", "'ClientIP'",
		  "spec.sessionAffinityConfig", "{'clientIP':{'timeoutSeconds':86400}}", 0, NULL,
		  NULL, NULL },
		{ "affinity config with None", "spec.sessionAffinityConfig",
		  "{'clientIP':{'timeoutSeconds':5}}", NULL, NULL, 1, "spec.sessionAffinityConfig",
		  FOR, "Forbidden: must not be set when session affinity is None" },
		{ "external policy on ClusterIP", "spec.externalTrafficPolicy", "'Local'", NULL,
		  NULL, 1, "spec.externalTrafficPolicy", INV,
		  "Invalid value: \"Local\": may only be set for externally-accessible services" },
		{ "nodePort on ClusterIP", "spec.ports[0].nodePort", "30080", NULL, NULL, 1,
		  "spec.ports[0].nodePort", FOR,
		  "Forbidden: may not be used when `type` is 'ClusterIP'" },
		{ "internal policy", "spec.internalTrafficPolicy", "'Everywhere'", NULL, NULL, 1,
		  "spec.internalTrafficPolicy", UNS,
		  "Unsupported value: \"Everywhere\": supported values: \"Cluster\", \"Local\"" },
		{ "internal policy missing", "spec.internalTrafficPolicy", NULL, NULL, NULL, 1,
		  "spec.internalTrafficPolicy", REQ, "Required value" },
		{ "selector value", "spec.selector.app", "'a b'", NULL, NULL, 1, "spec.selector",
		  INV, "Invalid value: \"a b\": a valid label must be" },
		{ "external IP", "spec.externalIPs", "['127.0.0.1']", "spec.externalTrafficPolicy",
		  "'Cluster'", 1, "spec.externalIPs[0]", INV,
		  "Invalid value: \"127.0.0.1\": may not be in the loopback range" },
		{ "source ranges", "spec.loadBalancerSourceRanges", "['10.0.0.0/8']", NULL, NULL, 1,
		  "spec.LoadBalancerSourceRanges", FOR,
		  "Forbidden: may only be used when `type` is 'LoadBalancer'" },
		{ "loadBalancerClass", "spec.loadBalancerClass", "'x'", NULL, NULL, 1,
		  "spec.loadBalancerClass", FOR, "Forbidden: may only be used when `type` is" },
	};

	run_cases("Service", svc_text, cases, ARRAY_SIZE(cases));
}

TEST(validate_service_types)
{
	json_t *s = J("{'metadata':{'name':'ext','namespace':'d'},'spec':{'type':'ExternalName',"
		      "'externalName':'example.com.'}}");

	defaults_apply("Service", s);
	check("external name", "Service", s, NULL, 0, NULL, NULL, NULL);
	jsonx_set_path(s, "spec.externalName", json_string("Bad_Name"));
	check("bad external name", "Service", s, NULL, 1, "spec.externalName", INV,
	      "Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain");
	jsonx_set_path(s, "spec.externalName", json_string(""));
	check("no external name", "Service", s, NULL, 1, "spec.externalName", REQ,
	      "Required value");
	jsonx_set_path(s, "spec.externalName", json_string("example.com"));
	jsonx_set_path(s, "spec.clusterIP", json_string("10.0.0.1"));
	check("external name with IP", "Service", s, NULL, 1, "spec.clusterIPs", FOR,
	      "Forbidden: may not be set for ExternalName services");
	json_decref(s);

	s = J("{'metadata':{'name':'lb','namespace':'d'},'spec':{'type':'LoadBalancer',"
	      "'selector':{'a':'b'},'ports':[{'port':80,'nodePort':30080}]}}");
	defaults_apply("Service", s);
	check("load balancer", "Service", s, NULL, 0, NULL, NULL, NULL);
	jsonx_set_path(s, "spec.externalTrafficPolicy", json_string("Nowhere"));
	check("external policy", "Service", s, NULL, 1, "spec.externalTrafficPolicy", UNS,
	      "Unsupported value: \"Nowhere\": supported values: \"Cluster\", \"Local\"");
	json_object_del(jsonx_obj(s, "spec"), "externalTrafficPolicy");
	check("external policy missing", "Service", s, NULL, 1, "spec.externalTrafficPolicy", REQ,
	      "Required value");
	jsonx_set_path(s, "spec.externalTrafficPolicy", json_string("Cluster"));
	json_object_del(jsonx_obj(s, "spec"), "allocateLoadBalancerNodePorts");
	check("allocate node ports missing", "Service", s, NULL, 1, "allocateLoadBalancerNodePorts",
	      REQ, "Required value");
	json_decref(s);
}

TEST(validate_service_update)
{
	static const struct vcase cases[] = {
		{ "ports may change", "spec.ports[0].port", "81", NULL, NULL, 0, NULL, NULL, NULL },
		{ "cluster IP changed", "spec.clusterIP", "'10.96.0.11'", "spec.clusterIPs",
		  "['10.96.0.11']", 1, "spec.clusterIPs[0]", INV,
		  "Invalid value: [\"10.96.0.11\"]: may not change once set" },
		{ "cluster IP dropped", "spec.clusterIP", NULL, "spec.clusterIPs", NULL, 1,
		  "spec.clusterIPs[0]", INV,
		  "Invalid value: []: primary clusterIP can not be unset" },
		{ "to ExternalName", "spec",
		  "{'type':'ExternalName','externalName':'example.com','sessionAffinity':'None'}",
		  NULL, NULL, 0, NULL, NULL, NULL },
		{ "families changed", "spec.ipFamilies", "['IPv6']", NULL, NULL, -1,
		  "spec.ipFamilies[0]", INV, "Invalid value: [\"IPv6\"]: may not change once set" },
	};
	const char *text = "{'metadata':{'name':'web','namespace':'default'},'spec':{'selector':"
			   "{'app':'web'},'clusterIP':'10.96.0.10','ports':[{'port':80}]}}";

	run_updates("Service", text, cases, ARRAY_SIZE(cases), false);
}

TEST(validate_service_status)
{
	static const struct vcase cases[] = {
		{ "ingress", "status",
		  "{'loadBalancer':{'ingress':[{'ip':'1.2.3.4','ipMode':'VIP'}]}}", NULL, NULL, 0,
		  NULL, NULL, NULL },
		{ "ingress IP", "status",
		  "{'loadBalancer':{'ingress':[{'ip':'x','ipMode':'VIP'}]}}", NULL, NULL, 1,
		  "status.loadBalancer.ingress[0].ip", INV, "Invalid value: \"x\"" },
		{ "ipMode missing", "status", "{'loadBalancer':{'ingress':[{'ip':'1.2.3.4'}]}}",
		  NULL, NULL, 1, "status.loadBalancer.ingress[0].ipMode", REQ,
		  "Required value: must be specified when `ip` is set" },
		{ "hostname is an IP", "status",
		  "{'loadBalancer':{'ingress':[{'hostname':'1.2.3.4'}]}}", NULL, NULL, 1,
		  "status.loadBalancer.ingress[0].hostname", INV,
		  "Invalid value: \"1.2.3.4\": must be a DNS name, not an IP address" },
	};

	run_updates("Service", svc_text, cases, ARRAY_SIZE(cases), true);
}

/* ------------------------------------------------------------------ other core kinds */

TEST(validate_namespace_and_node)
{
	static const struct vcase ns[] = {
		{ "finalizer", "spec.finalizers", "['custom']", NULL, NULL, 1, "spec.finalizers",
		  INV, "Invalid value: \"custom\": name is neither a standard finalizer name" },
		{ "finalizer qualified", "spec.finalizers", "['a b']", NULL, NULL, 2,
		  "spec.finalizers", INV, "Invalid value: \"a b\": name part must consist of" },
	};
	static const struct vcase node[] = {
		{ "taint effect", "spec.taints", "[{'key':'k','effect':'Often'}]", NULL, NULL, 1,
		  "metadata.taints[0].effect", UNS,
		  "Unsupported value: \"Often\": supported values:" },
		{ "taint effect missing", "spec.taints", "[{'key':'k'}]", NULL, NULL, 1,
		  "metadata.taints[0].effect", REQ, "Required value" },
		{ "taint duplicate", "spec.taints",
		  "[{'key':'k','effect':'NoSchedule'},{'key':'k','value':'v','effect':'NoSchedule'}"
		  "]",
		  NULL, NULL, 1, "metadata.taints[1]", DUP, "Duplicate value: {" },
		{ "capacity", "status.capacity.cpu", "'-1'", NULL, NULL, 1, "status.capacity.cpu",
		  INV, "Invalid value: \"-1\": must be greater than or equal to 0" },
		{ "pod CIDR", "spec.podCIDRs", "['10.0.0.0/33']", NULL, NULL, 1, "spec.podCIDRs[0]",
		  INV, "Invalid value: \"10.0.0.0/33\": must be a valid CIDR value" },
		{ "dual stack CIDRs", "spec.podCIDRs", "['10.0.0.0/24','fd00::/64']", NULL, NULL, 0,
		  NULL, NULL, NULL },
		{ "same family CIDRs", "spec.podCIDRs", "['10.0.0.0/24','10.1.0.0/24']", NULL, NULL,
		  1, "spec.podCIDRs", INV,
		  "Invalid value: [\"10.0.0.0/24\",\"10.1.0.0/24\"]: may specify" },
	};
	static const struct vcase node_updates[] = {
		{ "unschedulable", "spec.unschedulable", "true", NULL, NULL, 0, NULL, NULL, NULL },
		{ "CIDR changed", "spec.podCIDRs", "['10.9.0.0/24']", NULL, NULL, 1,
		  "spec.podCIDRs", FOR,
		  "Forbidden: node updates may not change podCIDR except from \"\" to valid" },
		{ "providerID changed", "spec.providerID", "'aws://2'", NULL, NULL, 1,
		  "spec.providerID", FOR, "Forbidden: node updates may not change providerID" },
		{ "duplicate address", "status.addresses",
		  "[{'type':'InternalIP','address':'1.1.1.1'},{'type':'InternalIP','address':'1.1."
		  "1.1'}]",
		  NULL, NULL, 1, "status.addresses[1]", DUP, "Duplicate value: {" },
	};
	static const struct vcase ns_status[] = {
		{ "terminating without deletion", "status.phase", "'Terminating'", NULL, NULL, 1,
		  "status.Phase", INV,
		  "Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is "
		  "empty" },
	};
	const char *node_text = "{'kind':'Node','metadata':{'name':'node-1'},'spec':{'podCIDRs':"
				"['10.244.1.0/24'],'providerID':'aws://1'},'status':{'capacity':"
				"{'cpu':'4','memory':'8Gi','pods':'110'}}}";

	run_cases("Namespace", "{'kind':'Namespace','metadata':{'name':'team-a'}}", ns,
		  ARRAY_SIZE(ns));
	run_cases("Node", node_text, node, ARRAY_SIZE(node));
	run_updates("Node", node_text, node_updates, ARRAY_SIZE(node_updates), false);
	run_updates("Namespace", "{'kind':'Namespace','metadata':{'name':'team-a'}}", ns_status,
		    ARRAY_SIZE(ns_status), true);
}

TEST(validate_configmap_and_secret)
{
	static const struct vcase cm[] = {
		{ "key chars", "data", "{'a b':'x'}", NULL, NULL, 1, "data[a b]", INV,
		  "Invalid value: \"a b\": a valid config key must consist of alphanumeric" },
		{ "key dot-dot", "data", "{'..':'x'}", NULL, NULL, 1, "data[..]", INV,
		  "Invalid value: \"..\": must not be '..'" },
		{ "key in both", "data", "{'k':'x'}", "binaryData", "{'k':'eA=='}", 1, "data[k]",
		  INV, "Invalid value: \"k\": duplicate of key present in binaryData" },
		{ "binary base64", "binaryData", "{'b':'e*=='}", NULL, NULL, 1, "binaryData[b]",
		  INV,
		  "Invalid value: \"<secret contents redacted>\": illegal base64 data at input "
		  "byte 1" },
		{ "value type", "data", "{'k':1}", NULL, NULL, 1, "data[k]", TYPE,
		  "Invalid value: \"integer\": must be of type string" },
	};
	static const struct vcase sec[] = {
		{ "base64", "data.k", "'abc'", NULL, NULL, 1, "data[k]", INV,
		  "Invalid value: \"<secret contents redacted>\": illegal base64 data at input "
		  "byte" },
		{ "base64 ok", "data.k", "'YWJj\\nZA=='", NULL, NULL, 0, NULL, NULL, NULL },
		{ "key", "data", "{'-_.ok':'eA==','/x':'eA=='}", NULL, NULL, 1, "data[/x]", INV,
		  "Invalid value: \"/x\": a valid config key" },
		{ "stringData key", "stringData", "{'b c':'x'}", NULL, NULL, 1, "data[b c]", INV,
		  "Invalid value: \"b c\": a valid config key" },
		{ "docker config missing", "type", "'kubernetes.io/dockerconfigjson'", NULL, NULL,
		  1, "data[.dockerconfigjson]", REQ, "Required value" },
		{ "docker config not an object", "type", "'kubernetes.io/dockerconfigjson'", "data",
		  "{'.dockerconfigjson':'WzFd'}", 1, "data[.dockerconfigjson]", INV,
		  "Invalid value: \"<secret contents redacted>\": json: cannot unmarshal array" },
		{ "docker config ok", "type", "'kubernetes.io/dockerconfigjson'", "stringData",
		  "{'.dockerconfigjson':'{}'}", 0, NULL, NULL, NULL },
		{ "tls", "type", "'kubernetes.io/tls'", "data", "{'tls.crt':'eA=='}", 1,
		  "data[tls.key]", REQ, "Required value" },
		{ "basic auth", "type", "'kubernetes.io/basic-auth'", NULL, NULL, 2,
		  "data[username]", REQ, "Required value" },
		{ "ssh", "type", "'kubernetes.io/ssh-auth'", "data", "{'ssh-privatekey':''}", 1,
		  "data[ssh-privatekey]", REQ, "Required value" },
		{ "token", "type", "'kubernetes.io/service-account-token'", NULL, NULL, 1,
		  "metadata.annotations[kubernetes.io/service-account.name]", REQ,
		  "Required value" },
		{ "custom type", "type", "'example.com/thing'", NULL, NULL, 0, NULL, NULL, NULL },
	};

	run_cases("ConfigMap", "{'metadata':{'name':'c','namespace':'d'},'data':{'k':'v'}}", cm,
		  ARRAY_SIZE(cm));
	run_cases("Secret", "{'metadata':{'name':'s','namespace':'d'},'data':{'k':'dg=='}}", sec,
		  ARRAY_SIZE(sec));
}

TEST(validate_data_size_limits)
{
	size_t n = 1024 * 1024;
	char *big = xmalloc(n + 2), *b64;
	json_t *cm = J("{'metadata':{'name':'c','namespace':'d'}}"), *s;

	memset(big, 'x', n);
	big[n] = '\0';
	jsonx_set_path(cm, "data.k", json_string(big));
	check("1 MiB exactly", "ConfigMap", cm, NULL, 0, NULL, NULL, NULL);
	big[n] = 'x';
	big[n + 1] = '\0';
	jsonx_set_path(cm, "data.k", json_string(big));
	check("over 1 MiB", "ConfigMap", cm, NULL, 1, NULL, LONG,
	      "Too long: may not be more than 1048576 bytes");
	/* 1 MiB + 3 bytes decoded, as base64. */
	b64 = xmalloc((n + 3) / 3 * 4 + 8);
	memset(b64, 'Q', (n + 3) / 3 * 4);
	b64[(n + 3) / 3 * 4] = '\0';
	s = J("{'metadata':{'name':'s','namespace':'d'}}");
	jsonx_set_path(s, "data.k", json_string(b64));
	check("secret over 1 MiB", "Secret", s, NULL, 1, "data", LONG,
	      "Too long: may not be more than 1048576 bytes");
	free(b64);
	free(big);
	json_decref(cm);
	json_decref(s);
}

TEST(validate_immutable_configmap_and_secret)
{
	static const struct vcase cm[] = {
		{ "unchanged", NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL },
		{ "data changed", "data.k", "'w'", NULL, NULL, 1, "data", FOR,
		  "Forbidden: field is immutable when `immutable` is set" },
		{ "flag dropped", "immutable", "false", NULL, NULL, 1, "immutable", FOR,
		  "Forbidden: field is immutable when `immutable` is set" },
	};
	static const struct vcase sec[] = {
		{ "type changed", "type", "'kubernetes.io/tls'", "data",
		  "{'tls.crt':'','tls.key':''}", 1, "type", INV,
		  "Invalid value: \"kubernetes.io/tls\": field is immutable" },
	};

	run_updates("ConfigMap",
		    "{'metadata':{'name':'c','namespace':'d'},'data':{'k':'v'},'immutable':true}",
		    cm, ARRAY_SIZE(cm), false);
	run_updates("Secret", "{'metadata':{'name':'s','namespace':'d'}}", sec, ARRAY_SIZE(sec),
		    false);
}

TEST(validate_endpoints_and_slices)
{
	static const struct vcase ep[] = {
		{ "no addresses", "subsets[0].addresses", NULL, NULL, NULL, 1, "subsets[0]", REQ,
		  "Required value: must specify `addresses` or `notReadyAddresses`" },
		{ "not ready only", "subsets[0].notReadyAddresses", "[{'ip':'10.0.0.9'}]",
		  "subsets[0].addresses", NULL, 0, NULL, NULL, NULL },
		{ "bad IP", "subsets[0].addresses[0].ip", "'10.0.0'", NULL, NULL, 2,
		  "subsets[0].addresses[0].ip", INV,
		  "Invalid value: \"10.0.0\": must be a valid IP" },
		{ "loopback", "subsets[0].addresses[0].ip", "'127.0.0.1'", NULL, NULL, 1,
		  "subsets[0].addresses[0].ip", INV,
		  "Invalid value: \"127.0.0.1\": may not be in the" },
		{ "link local v6", "subsets[0].addresses[0].ip", "'fe80::1'", NULL, NULL, 1,
		  "subsets[0].addresses[0].ip", INV,
		  "Invalid value: \"fe80::1\": may not be in the link" },
		{ "unspecified", "subsets[0].addresses[0].ip", "'0.0.0.0'", NULL, NULL, 1,
		  "subsets[0].addresses[0].ip", INV,
		  "Invalid value: \"0.0.0.0\": may not be unspecified" },
		{ "leading zeros (sloppy parse)", "subsets[0].addresses[0].ip", "'010.0.0.1'", NULL,
		  NULL, 0, NULL, NULL, NULL },
		{ "hostname", "subsets[0].addresses[0].hostname", "'a.b'", NULL, NULL, 1,
		  "subsets[0].addresses[0].hostname", INV,
		  "Invalid value: \"a.b\": must not contain" },
		{ "port names", "subsets[0].ports[1]", "{'port':81,'protocol':'TCP'}", NULL, NULL,
		  2, "subsets[0].ports[0].name", REQ, "Required value" },
		{ "port", "subsets[0].ports[0].port", "0", NULL, NULL, 1,
		  "subsets[0].ports[0].port", INV,
		  "Invalid value: 0: must be between 1 and 65535" },
	};
	static const struct vcase es[] = {
		{ "address type missing", "addressType", NULL, NULL, NULL, 1, "addressType", REQ,
		  "Required value" },
		{ "address type", "addressType", "'IPX'", NULL, NULL, 1, "addressType", UNS,
		  "Unsupported value: \"IPX\": supported values: \"FQDN\", \"IPv4\", \"IPv6\"" },
		{ "IPv6 in IPv4 slice", "endpoints[0].addresses[0]", "'fd00::1'", NULL, NULL, 1,
		  "endpoints[0].addresses[0]", INV,
		  "Invalid value: \"fd00::1\": must be a valid IPv4" },
		{ "no addresses", "endpoints[0].addresses", "[]", NULL, NULL, 1,
		  "endpoints[0].addresses", REQ,
		  "Required value: must contain at least 1 address" },
		{ "FQDN", "addressType", "'FQDN'", "endpoints[0].addresses[0]", "'localhost'", 1,
		  "endpoints[0].addresses[0]", INV,
		  "Invalid value: \"localhost\": should be a domain with at least two segments" },
		{ "FQDN ok", "addressType", "'FQDN'", "endpoints[0].addresses[0]",
		  "'db.example.com.'", 0, NULL, NULL, NULL },
		{ "port protocol", "ports[0].protocol", "'ICMP'", NULL, NULL, 1,
		  "ports[0].protocol", UNS, "Unsupported value: \"ICMP\"" },
		{ "unnamed ports collide", "ports",
		  "[{'port':80,'protocol':'TCP'},{'port':81,'protocol':'TCP'}]", NULL, NULL, 1,
		  "ports[1].name", DUP, "Duplicate value: \"\"" },
		{ "node name", "endpoints[0].nodeName", "'Node_1'", NULL, NULL, 1,
		  "endpoints[0].nodeName", INV,
		  "Invalid value: \"Node_1\": a lowercase RFC 1123 subdomain" },
	};
	static const struct vcase es_update[] = {
		{ "address type changed", "addressType", "'IPv6'", "endpoints[0].addresses[0]",
		  "'fd00::1'", 1, "addressType", INV,
		  "Invalid value: \"IPv6\": field is immutable" },
	};
	const char *es_text =
		"{'metadata':{'name':'web-abc','namespace':'d'},'addressType':'IPv4',"
		"'endpoints':[{'addresses':['10.0.0.5'],'conditions':{'ready':true}}],"
		"'ports':[{'name':'http','port':80}]}";

	run_cases("Endpoints",
		  "{'metadata':{'name':'web','namespace':'d'},'subsets':[{'addresses':[{'ip':"
		  "'10.0.0.5'}],'ports':[{'port':80}]}]}",
		  ep, ARRAY_SIZE(ep));
	run_cases("EndpointSlice", es_text, es, ARRAY_SIZE(es));
	run_updates("EndpointSlice", es_text, es_update, ARRAY_SIZE(es_update), false);
}

TEST(validate_event_lease_and_requests)
{
	static const struct vcase ev[] = {
		{ "namespace mismatch", "involvedObject.namespace", "'other'", NULL, NULL, 1,
		  "involvedObject.namespace", INV,
		  "Invalid value: \"other\": does not match event" },
		{ "new style missing fields", "eventTime", "'2024-01-01T00:00:00.000000Z'", NULL,
		  NULL, 5, "reportingController", REQ, "Required value" },
		{ "reason too long", "eventTime", "'2024-01-01T00:00:00.000000Z'", "reason",
		  "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'",
		  -1, "reason", INV, "Invalid value: \"\": can have at most 128 characters" },
		{ "name missing", "metadata.name", NULL, NULL, NULL, 1, "metadata.name", REQ,
		  "Required value: name or generateName is required" },
	};
	static const struct vcase lease[] = {
		{ "duration", "spec.leaseDurationSeconds", "0", NULL, NULL, 1,
		  "spec.leaseDurationSeconds", INV, "Invalid value: 0: must be greater than 0" },
		{ "transitions", "spec.leaseTransitions", "-1", NULL, NULL, 1,
		  "spec.leaseTransitions", INV,
		  "Invalid value: -1: must be greater than or equal to 0" },
		{ "preferred holder", "spec.preferredHolder", "'x'", NULL, NULL, 1,
		  "spec.preferredHolder", FOR, "Forbidden: may only be specified if `strategy`" },
	};
	static const struct vcase scale[] = {
		{ "replicas", "spec.replicas", "-1", NULL, NULL, 1, "spec.replicas", INV,
		  "Invalid value: -1: must be greater than or equal to 0" },
	};
	static const struct vcase binding[] = {
		{ "name", "target.name", "''", NULL, NULL, 1, "target.name", REQ,
		  "Required value" },
		{ "kind", "target.kind", "'Pod'", NULL, NULL, 1, "target.kind", UNS,
		  "Unsupported value: \"Pod\": supported values: \"Node\", \"<empty>\"" },
	};
	static const struct vcase eviction[] = {
		{ "policy", "deleteOptions.propagationPolicy", "'Sometimes'", NULL, NULL, 1,
		  "deleteOptions.propagationPolicy", UNS, "Unsupported value: \"Sometimes\"" },
		{ "dry run", "deleteOptions.dryRun", "['Some']", NULL, NULL, 1,
		  "deleteOptions.dryRun", UNS,
		  "Unsupported value: [\"Some\"]: supported values: \"All\"" },
	};

	run_cases("Event",
		  "{'metadata':{'name':'web.17a','namespace':'d'},'involvedObject':{'kind':'Pod',"
		  "'name':'web','namespace':'d'},'reason':'Started','message':'ok'}",
		  ev, ARRAY_SIZE(ev));
	run_cases("Lease",
		  "{'metadata':{'name':'node-1','namespace':'kube-node-lease'},'spec':{'"
		  "holderIdentity':"
		  "'node-1','leaseDurationSeconds':40}}",
		  lease, ARRAY_SIZE(lease));
	run_cases("Scale", "{'metadata':{'name':'web','namespace':'d'},'spec':{'replicas':3}}",
		  scale, ARRAY_SIZE(scale));
	run_cases(
		"Binding",
		"{'metadata':{'name':'web','namespace':'d'},'target':{'kind':'Node','name':'n1'}}",
		binding, ARRAY_SIZE(binding));
	run_cases("Eviction",
		  "{'metadata':{'name':'web','namespace':'d'},'deleteOptions':{'gracePeriodSeconds'"
		  ":0}}",
		  eviction, ARRAY_SIZE(eviction));
	run_cases("ServiceAccount", "{'metadata':{'name':'builder','namespace':'d'}}", NULL, 0);
}

/* ------------------------------------------------------------------ defaults */

static void expect_defaults(const char *kind, const char *in, const char *want)
{
	json_t *obj = J(in), *exp = J(want);
	char path[512];

	defaults_apply(kind, obj);
	if (jsonx_diff_path(obj, exp, path, sizeof(path))) {
		char *got = dump(obj);

		test_fail(__FILE__, __LINE__, "%s defaults differ at '%s': %s", kind, path, got);
	}
	/* Defaulting is idempotent: a stored object re-defaulted stays the same. */
	defaults_apply(kind, obj);
	ASSERT_MSG(jsonx_equal(obj, exp), "%s defaults are not idempotent", kind);
	json_decref(obj);
	json_decref(exp);
}

TEST(defaults_pod_minimal)
{
	expect_defaults(
		"Pod",
		"{'metadata':{'name':'p','namespace':'d'},'spec':{'containers':[{'name':'c',"
		"'image':'nginx'}]}}",
		"{'metadata':{'name':'p','namespace':'d'},'spec':{'containers':[{'name':'c',"
		"'image':'nginx','imagePullPolicy':'Always','terminationMessagePath':"
		"'/dev/"
		"termination-log','terminationMessagePolicy':'File'}],'dnsPolicy':'ClusterFirst',"
		"'restartPolicy':'Always','securityContext':{},'terminationGracePeriodSeconds':30,"
		"'schedulerName':'default-scheduler','enableServiceLinks':true,"
		"'serviceAccountName':'default','serviceAccount':'default','tolerations':["
		"{'key':'node.kubernetes.io/not-ready','operator':'Exists','effect':'NoExecute',"
		"'tolerationSeconds':300},{'key':'node.kubernetes.io/"
		"unreachable','operator':'Exists',"
		"'effect':'NoExecute','tolerationSeconds':300}],'priority':0,"
		"'preemptionPolicy':'PreemptLowerPriority'}}");
}

TEST(defaults_pod_full)
{
	expect_defaults(
		"Pod",
		"{'metadata':{'name':'p','namespace':'d'},'spec':{'hostNetwork':true,"
		"'priorityClassName':'system-node-critical','serviceAccountName':'sa',"
		"'tolerations':[{'operator':'Exists'}],"
		"'containers':[{'name':'c','image':'nginx:1.25','ports':[{'containerPort':80}],"
		"'env':[{'name':'N','valueFrom':{'fieldRef':{'fieldPath':'spec.nodeName'}}}],"
		"'resources':{'limits':{'cpu':'0.5','memory':'1Gi'},'requests':{'cpu':1e-4}},"
		"'livenessProbe':{'httpGet':{'port':80}},'readinessProbe':{'exec':{'command':['x']}"
		","
		"'periodSeconds':5},'lifecycle':{'preStop':{'httpGet':{'port':8080,'path':'/"
		"q'}}}}],"
		"'initContainers':[{'name':'i','image':'busybox@sha256:"
		"0000000000000000000000000000000000000000000000000000000000000000',"
		"'resources':{'limits':{'cpu':'1'}}}],"
		"'volumes':[{'name':'a'},{'name':'b','configMap':{'name':'cm'}},{'name':'c','"
		"secret':"
		"{'secretName':'s','defaultMode':256}},{'name':'d','hostPath':{'path':'/x'}},"
		"{'name':'e','downwardAPI':{'items':[{'path':'l','fieldRef':{'fieldPath':"
		"'metadata.labels'}}]}},{'name':'f','projected':{'sources':[{'serviceAccountToken':"
		"{'path':'t'}}]}}]}}",
		"{'metadata':{'name':'p','namespace':'d'},'spec':{'hostNetwork':true,"
		"'priorityClassName':'system-node-critical','serviceAccountName':'sa',"
		"'serviceAccount':'sa','tolerations':[{'operator':'Exists'}],'priority':2000001000,"
		"'preemptionPolicy':'PreemptLowerPriority','enableServiceLinks':true,"
		"'dnsPolicy':'ClusterFirst','restartPolicy':'Always','securityContext':{},"
		"'terminationGracePeriodSeconds':30,'schedulerName':'default-scheduler',"
		"'containers':[{'name':'c','image':'nginx:1.25','imagePullPolicy':'IfNotPresent',"
		"'terminationMessagePath':'/dev/termination-log','terminationMessagePolicy':'File',"
		"'ports':[{'containerPort':80,'hostPort':80,'protocol':'TCP'}],"
		"'env':[{'name':'N','valueFrom':{'fieldRef':{'fieldPath':'spec.nodeName',"
		"'apiVersion':'v1'}}}],"
		"'resources':{'limits':{'cpu':'500m','memory':'1Gi'},'requests':{'cpu':'1m',"
		"'memory':'1Gi'}},"
		"'livenessProbe':{'httpGet':{'port':80,'path':'/"
		"','scheme':'HTTP'},'timeoutSeconds':1,"
		"'periodSeconds':10,'successThreshold':1,'failureThreshold':3},"
		"'readinessProbe':{'exec':{'command':['x']},'periodSeconds':5,'timeoutSeconds':1,"
		"'successThreshold':1,'failureThreshold':3},"
		"'lifecycle':{'preStop':{'httpGet':{'port':8080,'path':'/q','scheme':'HTTP'}}}}],"
		"'initContainers':[{'name':'i','image':'busybox@sha256:"
		"0000000000000000000000000000000000000000000000000000000000000000',"
		"'imagePullPolicy':'IfNotPresent','terminationMessagePath':'/dev/termination-log',"
		"'terminationMessagePolicy':'File','resources':{'limits':{'cpu':'1'},"
		"'requests':{'cpu':'1'}}}],"
		"'volumes':[{'name':'a','emptyDir':{}},{'name':'b','configMap':{'name':'cm',"
		"'defaultMode':420}},{'name':'c','secret':{'secretName':'s','defaultMode':256}},"
		"{'name':'d','hostPath':{'path':'/"
		"x','type':''}},{'name':'e','downwardAPI':{'items':"
		"[{'path':'l','fieldRef':{'fieldPath':'metadata.labels','apiVersion':'v1'}}],"
		"'defaultMode':420}},{'name':'f','projected':{'sources':[{'serviceAccountToken':"
		"{'path':'t','expirationSeconds':3600}}],'defaultMode':420}}]}}");
}

TEST(defaults_image_pull_policy)
{
	static const struct {
		const char *image, *policy;
	} cases[] = {
		{ "nginx", "Always" },
		{ "nginx:latest", "Always" },
		{ "nginx:1.25", "IfNotPresent" },
		{ "library/nginx:stable", "IfNotPresent" },
		{ "registry.local:5000/team/app", "Always" },
		{ "registry.local:5000/team/app:v1", "IfNotPresent" },
		{ "localhost/app:latest", "Always" },
		{ "nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000",
		  "IfNotPresent" },
		{ "nginx:latest@sha256:"
		  "0000000000000000000000000000000000000000000000000000000000000000",
		  "Always" },
		{ "Nginx", "IfNotPresent" }, /* does not parse: repository must be lower case */
		{ "", "IfNotPresent" },
		{ "nginx:", "IfNotPresent" },
		{ "my__app_x-y.z:1", "IfNotPresent" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *pod = J("{'spec':{'containers':[{'name':'c'}]}}");
		const char *got;

		jsonx_set_path(pod, "spec.containers[0].image", json_string(cases[i].image));
		defaults_apply("Pod", pod);
		got = jsonx_path_str(pod, "spec.containers[0].imagePullPolicy", "");
		ASSERT_MSG(!strcmp(got, cases[i].policy), "%s: got %s, want %s", cases[i].image,
			   got, cases[i].policy);
		json_decref(pod);
	}
}

TEST(defaults_pod_admission_edges)
{
	/* Mirror pods keep their (empty) service account; existing taint tolerations count. */
	expect_defaults(
		"Pod",
		"{'metadata':{'name':'p','namespace':'d','annotations':{'kubernetes.io/"
		"config.mirror':"
		"'x'}},'spec':{'priority':5,'priorityClassName':'custom','tolerations':[{'key':"
		"'node.kubernetes.io/not-ready','operator':'Exists'}],'containers':[]}}",
		"{'metadata':{'name':'p','namespace':'d','annotations':{'kubernetes.io/"
		"config.mirror':"
		"'x'}},'spec':{'priority':5,'priorityClassName':'custom','tolerations':[{'key':"
		"'node.kubernetes.io/not-ready','operator':'Exists'},{'key':"
		"'node.kubernetes.io/unreachable','operator':'Exists','effect':'NoExecute',"
		"'tolerationSeconds':300}],'containers':[],'enableServiceLinks':true,"
		"'dnsPolicy':'ClusterFirst','restartPolicy':'Always','securityContext':{},"
		"'terminationGracePeriodSeconds':30,'schedulerName':'default-scheduler'}}");
}

TEST(defaults_workloads)
{
	const char *tmpl_in =
		"'template':{'metadata':{'labels':{'a':'b'}},'spec':{'serviceAccount':"
		"'old','containers':[{'name':'c','image':'i:1'}]}}";
	const char *tmpl_out =
		"'template':{'metadata':{'labels':{'a':'b'}},'spec':{'serviceAccount':'old',"
		"'serviceAccountName':'old','containers':[{'name':'c','image':'i:1',"
		"'imagePullPolicy':'IfNotPresent','terminationMessagePath':'/dev/termination-log',"
		"'terminationMessagePolicy':'File'}],'dnsPolicy':'ClusterFirst','restartPolicy':"
		"'Always','securityContext':{},'terminationGracePeriodSeconds':30,'schedulerName':"
		"'default-scheduler'}}";
	char *in, *out;

	in = xasprintf("{'spec':{%s}}", tmpl_in);
	out = xasprintf("{'spec':{'replicas':1,'strategy':{'type':'RollingUpdate','rollingUpdate':"
			"{'maxUnavailable':'25%%','maxSurge':'25%%'}},'revisionHistoryLimit':10,"
			"'progressDeadlineSeconds':600,%s}}",
			tmpl_out);
	expect_defaults("Deployment", in, out);
	free(out);
	out = xasprintf("{'spec':{'replicas':1,%s}}", tmpl_out);
	expect_defaults("ReplicaSet", in, out);
	free(out);
	out = xasprintf("{'spec':{'updateStrategy':{'type':'RollingUpdate','rollingUpdate':"
			"{'maxUnavailable':1,'maxSurge':0}},'revisionHistoryLimit':10,%s}}",
			tmpl_out);
	expect_defaults("DaemonSet", in, out);
	free(out);
	free(in);
	/* Explicit values win; Recreate gets no rollingUpdate; replicas 0 is kept. */
	expect_defaults(
		"Deployment",
		"{'spec':{'replicas':0,'strategy':{'type':'Recreate'},'revisionHistoryLimit':"
		"0,'progressDeadlineSeconds':60}}",
		"{'spec':{'replicas':0,'strategy':{'type':'Recreate'},'revisionHistoryLimit':"
		"0,'progressDeadlineSeconds':60}}");
	expect_defaults(
		"DaemonSet", "{'spec':{'updateStrategy':{'type':'OnDelete'}}}",
		"{'spec':{'updateStrategy':{'type':'OnDelete'},'revisionHistoryLimit':10}}");
}

TEST(defaults_service)
{
	expect_defaults("Service", "{'spec':{'selector':{'a':'b'},'ports':[{'port':80}]}}",
			"{'spec':{'selector':{'a':'b'},'ports':[{'port':80,'protocol':'TCP',"
			"'targetPort':80}],'sessionAffinity':'None','type':'ClusterIP',"
			"'internalTrafficPolicy':'Cluster','ipFamilyPolicy':'SingleStack',"
			"'ipFamilies':['IPv4']}}");
	expect_defaults(
		"Service",
		"{'spec':{'type':'NodePort','clusterIP':'fd00::10','ports':[{'port':80,"
		"'targetPort':'http','protocol':'UDP'}],'sessionAffinity':'ClientIP'}}",
		"{'spec':{'type':'NodePort','clusterIP':'fd00::10','clusterIPs':['fd00::10'],"
		"'ports':[{'port':80,'targetPort':'http','protocol':'UDP'}],'sessionAffinity':"
		"'ClientIP','sessionAffinityConfig':{'clientIP':{'timeoutSeconds':10800}},"
		"'externalTrafficPolicy':'Cluster','internalTrafficPolicy':'Cluster',"
		"'ipFamilyPolicy':'SingleStack','ipFamilies':['IPv6']}}");
	expect_defaults(
		"Service",
		"{'spec':{'type':'LoadBalancer','ports':[{'port':443}]},'status':"
		"{'loadBalancer':{'ingress':[{'ip':'1.2.3.4'},{'hostname':'lb.example.com'}]}}}",
		"{'spec':{'type':'LoadBalancer','ports':[{'port':443,'protocol':'TCP',"
		"'targetPort':443}],'sessionAffinity':'None','externalTrafficPolicy':'Cluster',"
		"'internalTrafficPolicy':'Cluster','allocateLoadBalancerNodePorts':true,"
		"'ipFamilyPolicy':'SingleStack','ipFamilies':['IPv4']},'status':{'loadBalancer':"
		"{'ingress':[{'ip':'1.2.3.4','ipMode':'VIP'},{'hostname':'lb.example.com'}]}}}");
	/* Headless without a selector lists both families (upstream does so on any cluster). */
	expect_defaults(
		"Service", "{'spec':{'clusterIP':'None'}}",
		"{'spec':{'clusterIP':'None','clusterIPs':['None'],'sessionAffinity':'None',"
		"'type':'ClusterIP','internalTrafficPolicy':'Cluster','ipFamilyPolicy':"
		"'RequireDualStack','ipFamilies':['IPv4','IPv6']}}");
	expect_defaults(
		"Service",
		"{'spec':{'clusterIP':'None','selector':{'a':'b'},'sessionAffinityConfig':"
		"{'clientIP':{'timeoutSeconds':5}}}}",
		"{'spec':{'clusterIP':'None','clusterIPs':['None'],'selector':{'a':'b'},"
		"'sessionAffinity':'None','type':'ClusterIP','internalTrafficPolicy':'Cluster',"
		"'ipFamilyPolicy':'SingleStack','ipFamilies':['IPv4']}}");
	expect_defaults("Service",
			"{'spec':{'type':'ExternalName','externalName':'x.example.com'}}",
			"{'spec':{'type':'ExternalName','externalName':'x.example.com',"
			"'sessionAffinity':'None'}}");
}

TEST(defaults_other_kinds)
{
	expect_defaults(
		"Namespace", "{'metadata':{'name':'team'}}",
		"{'metadata':{'name':'team','labels':{'kubernetes.io/metadata.name':'team'}},"
		"'spec':{'finalizers':['kubernetes']},'status':{'phase':'Active'}}");
	/* Being finalized: the kubernetes finalizer was removed on purpose. */
	expect_defaults("Namespace",
			"{'metadata':{'name':'team','deletionTimestamp':'2024-01-01T00:00:00Z'},"
			"'spec':{'finalizers':[]},'status':{'phase':'Terminating'}}",
			"{'metadata':{'name':'team','deletionTimestamp':'2024-01-01T00:00:00Z',"
			"'labels':{'kubernetes.io/metadata.name':'team'}},'spec':{'finalizers':[]},"
			"'status':{'phase':'Terminating'}}");
	expect_defaults("Secret", "{'data':{'a':'YQ=='},'stringData':{'a':'x','b':'hello'}}",
			"{'type':'Opaque','data':{'a':'eA==','b':'aGVsbG8='}}");
	expect_defaults("Secret", "{'type':'kubernetes.io/tls','stringData':{'k':1}}",
			"{'type':'kubernetes.io/tls','stringData':{'k':1}}");
	expect_defaults("Endpoints",
			"{'subsets':[{'ports':[{'port':1},{'port':2,'protocol':'UDP'}]}]}",
			"{'subsets':[{'ports':[{'port':1,'protocol':'TCP'},{'port':2,'protocol':"
			"'UDP'}]}]}");
	expect_defaults("EndpointSlice", "{'ports':[{'port':1},{'name':'x','protocol':'UDP'}]}",
			"{'ports':[{'port':1,'name':'','protocol':'TCP'},{'name':'x','protocol':"
			"'UDP'}]}");
	expect_defaults("Node", "{'status':{'capacity':{'cpu':4,'memory':'8Gi'}}}",
			"{'status':{'capacity':{'cpu':'4','memory':'8Gi'},'allocatable':{'cpu':'4',"
			"'memory':'8Gi'}}}");
	expect_defaults("ConfigMap", "{'data':{}}", "{'data':{}}");
	expect_defaults("Lease", "{'spec':{}}", "{'spec':{}}");
	expect_defaults("Whatever", "{'spec':{'replicas':null}}", "{'spec':{'replicas':null}}");
}

TEST(defaults_leave_wrong_types_alone)
{
	expect_defaults("Pod", "{'spec':'x'}", "{'spec':'x'}");
	expect_defaults("Deployment", "{'spec':{'strategy':7,'template':{'spec':[]}}}",
			"{'spec':{'replicas':1,'strategy':7,'revisionHistoryLimit':10,"
			"'progressDeadlineSeconds':600,'template':{'spec':[]}}}");
	expect_defaults(
		"Pod",
		"{'spec':{'containers':[5,{'name':'c','image':3,'ports':['x'],'resources':"
		"{'limits':{'cpu':'lots'}}}],'volumes':'v','tolerations':{}}}",
		"{'spec':{'containers':[5,{'name':'c','image':3,'ports':['x'],'resources':"
		"{'limits':{'cpu':'lots'},'requests':{'cpu':'lots'}},"
		"'terminationMessagePath':'/dev/termination-log','terminationMessagePolicy':"
		"'File'}],'volumes':'v','tolerations':{},'enableServiceLinks':true,'dnsPolicy':"
		"'ClusterFirst','restartPolicy':'Always','securityContext':{},"
		"'terminationGracePeriodSeconds':30,'schedulerName':'default-scheduler',"
		"'serviceAccountName':'default','serviceAccount':'default','priority':0,"
		"'preemptionPolicy':'PreemptLowerPriority'}}");
	defaults_apply(NULL, NULL);
	defaults_apply("Pod", NULL);
}

TEST(defaults_then_validate_is_clean)
{
	static const struct {
		const char *kind, *text;
	} objs[] = {
		{ "Pod",
		  "{'metadata':{'name':'p','namespace':'d'},'spec':{'containers':[{'name':'c',"
		  "'image':'nginx','livenessProbe':{'httpGet':{'port':8080}}}]}}" },
		{ "Service", "{'metadata':{'name':'s','namespace':'d'},'spec':{'ports':[{'port':53,"
			     "'protocol':'UDP'}]}}" },
		{ "Service",
		  "{'metadata':{'name':'h','namespace':'d'},'spec':{'clusterIP':'None'}}" },
		{ "Service",
		  "{'metadata':{'name':'n','namespace':'d'},'spec':{'type':'NodePort',"
		  "'selector':{'a':'b'},'ports':[{'port':80}],'sessionAffinity':'ClientIP'}}" },
		{ "Namespace", "{'metadata':{'name':'n'}}" },
		{ "Secret",
		  "{'metadata':{'name':'s','namespace':'d'},'stringData':{'password':'p'}}" },
		{ "EndpointSlice", "{'metadata':{'name':'e','namespace':'d'},'addressType':'IPv4',"
				   "'ports':[{'port':80}]}" },
		{ "Node", "{'metadata':{'name':'n'},'status':{'capacity':{'cpu':2}}}" },
		{ "DaemonSet",
		  "{'metadata':{'name':'d','namespace':'d'},'spec':{'selector':"
		  "{'matchLabels':{'a':'b'}},'template':{'metadata':{'labels':{'a':'b'}},"
		  "'spec':{'containers':[{'name':'c','image':'i'}]}}}}" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(objs); i++) {
		json_t *obj = J(objs[i].text);

		defaults_apply(objs[i].kind, obj);
		check(objs[i].text, objs[i].kind, obj, NULL, 0, NULL, NULL, NULL);
		json_decref(obj);
	}
}

/* ------------------------------------------------------------------ hostile input */

static const char *const all_kinds[] = {
	"Pod",		 "Service", "Endpoints",      "Node",	    "Namespace",  "Event",
	"ConfigMap",	 "Secret",  "ServiceAccount", "Deployment", "ReplicaSet", "DaemonSet",
	"EndpointSlice", "Lease",   "Scale",	      "Binding",    "Eviction",	  "Unknown"
};

static void causes_well_formed(const json_t *causes)
{
	json_t *c;
	size_t i;

	json_array_foreach(causes, i, c) {
		ASSERT(json_is_object(c));
		ASSERT(*jsonx_str(c, "reason", ""));
		ASSERT(*jsonx_str(c, "message", ""));
		ASSERT(!json_object_get(c, "field") || *jsonx_str(c, "field", ""));
	}
}

TEST(validate_non_objects)
{
	const char *values[] = { "[]", "'x'", "3", "null", "true" };

	for (size_t k = 0; k < ARRAY_SIZE(all_kinds); k++) {
		for (size_t i = 0; i < ARRAY_SIZE(values); i++) {
			json_t *v = J(values[i]), *causes = json_array();

			ASSERT_EQ(validate_object(all_kinds[k], v, NULL, causes), 1);
			ASSERT_EQ(validate_status(all_kinds[k], v, v, causes), 1);
			ASSERT_STREQ(jsonx_str(json_array_get(causes, 0), "reason", ""), TYPE);
			defaults_apply(all_kinds[k], v);
			json_decref(v);
			json_decref(causes);
		}
	}
	ASSERT_EQ(validate_object("Pod", NULL, NULL, NULL), 1);
	ASSERT_EQ(validate_object(NULL, NULL, NULL, NULL), 1);
}

static size_t hostile_runs;

/* Replace the node at `slot` (a member or element of parent) by each alien value in turn. */
static void poke_all(const char *kind, json_t *root, json_t *node)
{
	static const char *const aliens[] = { "42",	 "'x'",
					      "[]",	 "{}",
					      "null",	 "true",
					      "-1.5",	 "[{'a':[1,{}]}]",
					      "{'':''}", "-9223372036854775808" };
	const char *key;
	json_t *val;
	size_t i;

	if (json_is_object(node)) {
		void *tmp;

		json_object_foreach_safe(node, tmp, key, val) {
			json_t *saved = json_incref(val);

			for (size_t a = 0; a < ARRAY_SIZE(aliens); a++) {
				json_t *causes = json_array(), *copy;

				json_object_set_new(node, key, J(aliens[a]));
				validate_object(kind, root, NULL, causes);
				validate_object(kind, root, root, causes);
				validate_status(kind, root, root, causes);
				causes_well_formed(causes);
				copy = json_deep_copy(root);
				defaults_apply(kind, copy);
				validate_object(kind, copy, root, causes);
				json_decref(copy);
				json_decref(causes);
				hostile_runs++;
			}
			json_object_set_new(node, key, saved);
			poke_all(kind, root, json_object_get(node, key));
		}
	} else if (json_is_array(node)) {
		for (i = 0; i < json_array_size(node); i++) {
			json_t *saved = json_incref(json_array_get(node, i));

			for (size_t a = 0; a < ARRAY_SIZE(aliens); a++) {
				json_t *causes = json_array();

				json_array_set_new(node, i, J(aliens[a]));
				validate_object(kind, root, NULL, causes);
				validate_object(kind, root, root, causes);
				causes_well_formed(causes);
				json_decref(causes);
				hostile_runs++;
			}
			json_array_set_new(node, i, saved);
			poke_all(kind, root, json_array_get(node, i));
		}
	}
}

TEST(validate_hostile_types_everywhere)
{
	static const struct {
		const char *kind, *text;
	} objs[] = {
		{ "Pod", NULL },
		{ "Deployment", NULL },
		{ "Service", NULL },
		{ "Service",
		  "{'metadata':{'name':'s','namespace':'d'},'spec':{'type':'LoadBalancer',"
		  "'ports':[{'name':'a','port':1,'nodePort':30001},{'name':'b','port':2}],"
		  "'sessionAffinity':'ClientIP','externalIPs':['1.1.1.1']},'status':"
		  "{'loadBalancer':{'ingress':[{'ip':'1.2.3.4'}]}}}" },
		{ "Pod",
		  "{'metadata':{'name':'p','namespace':'d'},'spec':{'affinity':{'nodeAffinity':"
		  "{'requiredDuringSchedulingIgnoredDuringExecution':{'nodeSelectorTerms':[{"
		  "'matchExpressions':[{'key':'a','operator':'In','values':['b']}]}]}},"
		  "'podAffinity':{'preferredDuringSchedulingIgnoredDuringExecution':[{'weight':1,"
		  "'podAffinityTerm':{'topologyKey':'z','labelSelector':{'matchExpressions':[{"
		  "'key':'a','operator':'Exists'}]}}}]}},'dnsPolicy':'None','dnsConfig':{"
		  "'nameservers':['1.1.1.1'],'searches':['a.b'],'options':[{'name':'x'}]},"
		  "'securityContext':{'sysctls':[{'name':'net.x','value':'1'}],'seccompProfile':"
		  "{'type':'Localhost','localhostProfile':'p'}},'topologySpreadConstraints':[{"
		  "'maxSkew':1,'topologyKey':'z','whenUnsatisfiable':'DoNotSchedule'}],"
		  "'volumes':[{'name':'p','projected':{'sources':[{'downwardAPI':{'items':[{"
		  "'path':'x','resourceFieldRef':{'containerName':'c','resource':'limits.cpu',"
		  "'divisor':'1m'}}]}}]}}],'containers':[{'name':'c','image':'i','envFrom':[{"
		  "'configMapRef':{'name':'x'}}],'lifecycle':{'postStart':{'sleep':{'seconds':1}}},"
		  "'securityContext':{'capabilities':{'add':['CAP_SYS_ADMIN']},"
		  "'appArmorProfile':{'type':'Localhost','localhostProfile':'x'}},"
		  "'resizePolicy':[{'resourceName':'cpu','restartPolicy':'NotRequired'}]}]}}" },
		{ "Secret", "{'metadata':{'name':'s','namespace':'d'},'type':'kubernetes.io/tls',"
			    "'data':{'tls.crt':'eA==','tls.key':'eA=='},'stringData':{'x':'y'}}" },
		{ "Node",
		  "{'metadata':{'name':'n'},'spec':{'taints':[{'key':'k','effect':'NoSchedule'}],"
		  "'podCIDRs':['10.0.0.0/24']},'status':{'capacity':{'cpu':'1'},'addresses':"
		  "[{'type':'InternalIP','address':'1.1.1.1'}]}}" },
		{ "EndpointSlice",
		  "{'metadata':{'name':'e','namespace':'d'},'addressType':'IPv4',"
		  "'endpoints':[{'addresses':['10.0.0.1'],'hints':{'forZones':[{'name':"
		  "'a'}]}}],'ports':[{'name':'p','port':1,'protocol':'TCP'}]}" },
		{ "Endpoints", "{'metadata':{'name':'e','namespace':'d'},'subsets':[{'addresses':[{"
			       "'ip':'10.0.0.1','nodeName':'n'}],'ports':[{'port':1}]}]}" },
		{ "Event",
		  "{'metadata':{'name':'e','namespace':'d'},'eventTime':'x','involvedObject':"
		  "{'namespace':'d'},'reportingComponent':'c','reportingInstance':'i','action':"
		  "'a','reason':'r'}" },
		{ "Eviction", "{'metadata':{'name':'e'},'deleteOptions':{'dryRun':['All'],"
			      "'propagationPolicy':'Orphan'}}" },
		{ "Lease", "{'metadata':{'name':'l','namespace':'d'},'spec':{'strategy':'a/b',"
			   "'preferredHolder':'x'}}" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(objs); i++) {
		const char *text = objs[i].text			      ? objs[i].text
				   : !strcmp(objs[i].kind, "Pod")     ? pod_text
				   : !strcmp(objs[i].kind, "Service") ? svc_text
								      : deploy_text;
		json_t *obj = J(text);

		defaults_apply(objs[i].kind, obj);
		poke_all(objs[i].kind, obj, obj);
		json_decref(obj);
	}
	ASSERT_MSG(hostile_runs > 3000, "only %zu runs", hostile_runs);
}

TEST(validate_huge_strings)
{
	size_t n = 1 << 20;
	char *big = xmalloc(n + 1);
	json_t *pod = J(pod_text), *causes = json_array(), *msg;
	int got;

	memset(big, 'a', n);
	big[n] = '\0';
	defaults_apply("Pod", pod);
	jsonx_set_path(pod, "metadata.name", json_string(big));
	jsonx_set_path(pod, "spec.containers[0].name", json_string(big));
	jsonx_set_path(pod, "spec.containers[0].env[0].name", json_string(big));
	jsonx_set_path(pod, "metadata.labels", json_pack("{ss}", big, big));
	/* Long names are refused by length; the env name only needs printable ASCII. */
	got = validate_object("Pod", pod, NULL, causes);
	ASSERT_EQ(got, 4);
	msg = json_object_get(json_array_get(causes, 0), "message");
	ASSERT_STREQ(jsonx_str(json_array_get(causes, 0), "field", ""), "metadata.name");
	ASSERT(json_string_length(msg) > n);
	ASSERT(!strncmp(json_string_value(msg), "Invalid value: \"aaaa", 20));
	ASSERT(strstr(json_string_value(msg), "\": must be no more than 253 characters"));
	ASSERT_STREQ(jsonx_str(json_array_get(causes, 1), "field", ""), "metadata.labels");
	ASSERT_STREQ(jsonx_str(json_array_get(causes, 2), "field", ""), "metadata.labels");
	ASSERT_STREQ(jsonx_str(json_array_get(causes, 3), "field", ""), "spec.containers[0].name");
	free(big);
	json_decref(causes);
	json_decref(pod);
}

TEST(validate_many_bad_labels)
{
	json_t *cm = J("{'metadata':{'name':'c','namespace':'d','labels':{}}}"), *causes;
	json_t *labels = jsonx_get_path(cm, "metadata.labels");

	for (int i = 0; i < 5000; i++) {
		char key[32];

		snprintf(key, sizeof(key), "-bad%d", i);
		json_object_set_new(labels, key, json_string("-"));
	}
	causes = json_array();
	ASSERT_EQ(validate_object("ConfigMap", cm, NULL, causes), 10000);
	ASSERT_EQ(json_array_size(causes), 10000);
	json_decref(causes);
	json_decref(cm);
}

TEST(validate_control_and_unicode_in_messages)
{
	json_t *cm = J("{'metadata':{'name':'c','namespace':'d'}}"), *causes = json_array();

	jsonx_set_path(cm, "metadata.name", json_string("a\"b\\c\n\x01\xc3\xa9"));
	ASSERT_EQ(validate_object("ConfigMap", cm, NULL, causes), 1);
	ASSERT_STREQ(
		jsonx_str(json_array_get(causes, 0), "message", ""),
		"Invalid value: \"a\\\"b\\\\c\\n\\x01\xc3\xa9\": a lowercase RFC 1123 subdomain "
		"must consist of lower case alphanumeric characters, '-' or '.', and must start "
		"and end with an alphanumeric character (e.g. 'example.com', regex used for "
		"validation is "
		"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
	json_decref(causes);
	json_decref(cm);
}

static json_t *nest(int depth)
{
	json_t *j = json_string("leaf");

	for (int i = 0; i < depth; i++) {
		json_t *outer = i % 2 ? json_array() : json_object();

		if (i % 2)
			json_array_append_new(outer, j);
		else
			json_object_set_new(outer, "k", j);
		j = outer;
	}
	return j;
}

TEST(validate_deep_nesting)
{
	json_t *old = J(pod_text), *obj, *causes = json_array();
	char *text;
	json_error_t err;
	json_t *parsed;

	/* As deep as jansson's parser allows, inside a field validation reads. */
	defaults_apply("Pod", old);
	obj = json_deep_copy(old);
	jsonx_set_path(obj, "spec.containers[0].args", nest(2000));
	jsonx_set_path(obj, "spec.strategy", nest(2000));
	jsonx_set_path(obj, "metadata.labels.deep", nest(2000));
	ASSERT(validate_object("Pod", obj, old, causes) >= 2);
	causes_well_formed(causes);
	defaults_apply("Pod", obj);
	json_decref(obj);
	/* Deeper than any parsed input can be: the compare gives up instead of recursing. */
	obj = json_deep_copy(old);
	jsonx_set_path(obj, "spec.extra", nest(6000));
	jsonx_set_path(old, "spec.extra", nest(6000));
	json_array_clear(causes);
	ASSERT_EQ(validate_object("Pod", obj, old, causes), 1);
	ASSERT_STREQ(jsonx_str(json_array_get(causes, 0), "field", ""), "spec");
	json_decref(obj);
	/* The parser's own limit. */
	text = xmalloc(5000 * 2 + 1);
	memset(text, '[', 5000);
	memset(text + 5000, ']', 5000);
	text[10000] = '\0';
	parsed = json_loads(text, 0, &err);
	ASSERT_NULL(parsed);
	free(text);
	json_decref(causes);
	json_decref(old);
}

TEST(validate_causes_not_an_array)
{
	json_t *pod = J("{'metadata':{}}"), *obj = json_object();

	/* The count is still right when there is nowhere to put the causes. */
	ASSERT_EQ(validate_object("ConfigMap", pod, NULL, obj), 2);
	ASSERT_EQ(json_object_size(obj), 0);
	json_decref(pod);
	json_decref(obj);
}
