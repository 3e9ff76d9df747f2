/*
 * patch.c - see patch.h.
 *
 * Every entry point deep-copies the document once and then edits that private
 * copy in place. The inputs are never touched, not even their reference
 * counts (values taken from the patch are deep copies, never shared), the
 * caller may edit the result freely, and a failure half-way simply drops the
 * copy: that is what makes a JSON patch all or nothing without an undo log.
 *
 * The strategic merge patch follows k8s.io/apimachinery's strategicpatch as
 * the API server runs it (parallel lists merged, unmatched nulls ignored).
 * The patch metadata upstream reads from Go struct tags (patchStrategy,
 * patchMergeKey) is written here as one table per kind of dotted paths, "[]"
 * standing for any element of a list, with shared tables for ObjectMeta, the
 * pod spec and containers mounted where those types appear (a Pod's "spec",
 * a Deployment's "spec.template.spec", ...). List order after a merge
 * follows upstream's algorithm (see order_list), including its surprising
 * part: an element the patch adds without $setElementOrder goes before the
 * original elements that come after it in the patch, so a lone new element
 * lands first.
 *
 * Deliberate differences from upstream, all on input kubectl never sends:
 * a patch value with nothing to merge into is cleaned the same way whatever
 * its shape (nulls dropped, directives applied), where upstream copies some
 * of them verbatim and relies on the typed decode to drop the leftovers;
 * "$patch: merge" in a map is accepted as the default it names, where
 * upstream refuses it; any other key starting with '$' is an error rather
 * than an unknown field.
 *
 * Rejected: decoding into typed structs as upstream does (the tags are all
 * the merge needs from the types) and a schema built from OpenAPI (capstan
 * serves a fixed set of kinds). Recursion follows the patch and is bounded by
 * PATCH_MAX_DEPTH, the cost of matching list elements by PATCH_MAX_LIST and
 * PATCH_MAX_WORK.
 */
#include "control/apiserver/patch.h"
#include "jsonx.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Far deeper than any Kubernetes object; bounds the stack the walk uses. */
#define PATCH_MAX_DEPTH 512
/*
 * Matching list elements is quadratic, as upstream's is: a strategic merge
 * takes lists of at most PATCH_MAX_LIST elements, and a whole patch at most
 * PATCH_MAX_WORK element comparisons (some 0.4 s of CPU), so a body full of
 * long lists is refused instead of ground through. Real lists (env, ports,
 * conditions, finalizers) are far shorter.
 */
#define PATCH_MAX_LIST 2048
#define PATCH_MAX_WORK (1ULL << 24)

/* jansson's object iterator takes a non-const object but only reads it. */
#define const_object_foreach(obj, key, value) json_object_foreach((json_t *)(obj), key, value)

/* For the argument checks every entry point starts with. */
static int bad_input(char *err, size_t errlen, const char *why)
{
	errbuf_setf(err, errlen, "%s", why);
	return -EINVAL;
}

static bool is_primitive(const json_t *v)
{
	return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

/* ------------------------------------------------------------ RFC 7386 */

/* Merges patch (an object) into dst, a private object, in place. */
static int merge_into(json_t *dst, const json_t *patch, int depth, char *err, size_t errlen)
{
	const char *key;
	json_t *pv;
	int rc;

	if (depth > PATCH_MAX_DEPTH) {
		errbuf_setf(err, errlen, "merge patch nested deeper than %d levels",
			    PATCH_MAX_DEPTH);
		return -EINVAL;
	}
	const_object_foreach(patch, key, pv)
	{
		json_t *cur = json_object_get(dst, key), *nv;

		if (json_is_null(pv)) {
			json_object_del(dst, key);
			continue;
		}
		if (json_is_object(pv) && json_is_object(cur)) {
			rc = merge_into(cur, pv, depth + 1, err, errlen);
			if (rc)
				return rc;
			continue;
		}
		if (json_is_object(pv)) {
			/* A target that is not an object is replaced by {} first. */
			nv = json_object();
			rc = nv ? merge_into(nv, pv, depth + 1, err, errlen) : -ENOMEM;
			if (rc) {
				json_decref(nv);
				return rc;
			}
		} else {
			nv = json_deep_copy(pv);
		}
		if (json_object_set_new(dst, key, nv))
			return -ENOMEM;
	}
	return 0;
}

int patch_merge(const json_t *doc, const json_t *patch, json_t **out, char *err, size_t errlen)
{
	json_t *res = NULL;
	int rc;

	if (!doc || !out)
		return bad_input(err, errlen, "no document to patch");
	/* Kubernetes refuses the RFC's non-object patches, which would replace the object. */
	if (!json_is_object(patch))
		return bad_input(err, errlen, "a merge patch must be a JSON object");
	res = json_is_object(doc) ? json_deep_copy(doc) : json_object();
	rc = res ? merge_into(res, patch, 1, err, errlen) : -ENOMEM;
	if (rc)
		goto out;
	*out = res;
	res = NULL;
out:
	json_decref(res);
	return rc;
}

/* ------------------------------------------------------------ RFC 6902 */

/* An RFC 6901 pointer split into unescaped tokens; no tokens is the whole document. */
struct jptr {
	char **tok;
	size_t n;
};

static void jptr_free(struct jptr *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->tok[i]);
	free(p->tok);
	p->tok = NULL;
	p->n = 0;
}

/* 0, or -EINVAL when s is not a pointer (no leading '/', '~' not followed by 0 or 1). */
static int jptr_parse(const char *s, struct jptr *p)
{
	size_t slashes = 0;

	p->tok = NULL;
	p->n = 0;
	if (!*s)
		return 0;
	if (*s != '/')
		return -EINVAL;
	for (const char *c = s; *c; c++)
		slashes += *c == '/';
	p->tok = xcalloc(slashes, sizeof(*p->tok));
	while (*s == '/') {
		const char *end = strchrnul(s + 1, '/');
		char *t = xmalloc((size_t)(end - s)), *o = t;

		p->tok[p->n++] = t;
		for (const char *c = s + 1; c < end; c++) {
			if (*c != '~') {
				*o++ = *c;
				continue;
			}
			c++;
			if (c == end || (*c != '0' && *c != '1')) {
				jptr_free(p);
				return -EINVAL;
			}
			*o++ = *c == '0' ? '~' : '/';
		}
		*o = '\0';
		s = end;
	}
	return 0;
}

/*
 * The index tok names in an array of n elements. "-" names the end, which,
 * like the index n, exists only for add (past_end). -EINVAL when tok is not
 * an index ("0" or digits without a leading zero), -ENOENT when it is out of
 * range.
 */
static int jptr_index(const char *tok, size_t n, bool past_end, size_t *idx)
{
	size_t v = 0;

	if (!strcmp(tok, "-")) {
		*idx = n;
		return past_end ? 0 : -ENOENT;
	}
	if (!*tok || (tok[0] == '0' && tok[1]))
		return -EINVAL;
	for (const char *c = tok; *c; c++) {
		if (*c < '0' || *c > '9')
			return -EINVAL;
		/* Past n already: stop growing (no overflow) but keep checking the syntax. */
		if (v <= n)
			v = v * 10 + (size_t)(*c - '0');
	}
	if (v > n || (v == n && !past_end))
		return -ENOENT;
	*idx = v;
	return 0;
}

/* The value the first n tokens of p name under root (borrowed). */
static int jptr_get(json_t *root, const struct jptr *p, size_t n, json_t **out)
{
	json_t *cur = root;
	size_t idx;
	int rc;

	for (size_t i = 0; i < n; i++) {
		if (json_is_object(cur)) {
			cur = json_object_get(cur, p->tok[i]);
			if (!cur)
				return -ENOENT;
		} else if (json_is_array(cur)) {
			rc = jptr_index(p->tok[i], json_array_size(cur), false, &idx);
			if (rc)
				return rc;
			cur = json_array_get(cur, idx);
		} else {
			return -ENOENT;
		}
	}
	*out = cur;
	return 0;
}

/* Adds value (stolen, also on failure) at p. */
static int jp_add(json_t **root, const struct jptr *p, json_t *value)
{
	json_t *parent;
	size_t idx;
	int rc;

	if (!value)
		return -ENOMEM;
	if (!p->n) {
		json_decref(*root);
		*root = value;
		return 0;
	}
	rc = jptr_get(*root, p, p->n - 1, &parent);
	if (rc)
		goto fail;
	if (json_is_object(parent))
		return json_object_set_new(parent, p->tok[p->n - 1], value) ? -ENOMEM : 0;
	rc = -ENOENT;
	if (json_is_array(parent)) {
		rc = jptr_index(p->tok[p->n - 1], json_array_size(parent), true, &idx);
		if (!rc)
			return json_array_insert_new(parent, idx, value) ? -ENOMEM : 0;
	}
fail:
	json_decref(value);
	return rc;
}

/*
 * Removes the value at p, or with value set replaces it (stolen, also on
 * failure); the old value goes to *old (a new reference) when old is set.
 */
static int jp_take(json_t **root, const struct jptr *p, json_t *value, json_t **old)
{
	json_t *parent, *cur;
	size_t idx = 0;
	int rc;

	if (!p->n) {
		if (!value)
			return -EINVAL;
		if (old)
			*old = json_incref(*root);
		json_decref(*root);
		*root = value;
		return 0;
	}
	rc = jptr_get(*root, p, p->n, &cur);
	if (rc)
		goto fail;
	if (old)
		*old = json_incref(cur);
	jptr_get(*root, p, p->n - 1, &parent);
	if (json_is_object(parent)) {
		if (value)
			return json_object_set_new(parent, p->tok[p->n - 1], value) ? -ENOMEM : 0;
		json_object_del(parent, p->tok[p->n - 1]);
		return 0;
	}
	jptr_index(p->tok[p->n - 1], json_array_size(parent), false, &idx);
	if (value)
		return json_array_set_new(parent, idx, value) ? -ENOMEM : 0;
	json_array_remove(parent, idx);
	return 0;
fail:
	json_decref(value);
	return rc;
}

enum jp_kind { JP_ADD, JP_REMOVE, JP_REPLACE, JP_MOVE, JP_COPY, JP_TEST };

static const struct {
	const char *name;
	bool value; /* needs "value" */
	bool from;  /* needs "from" */
} jp_ops[] = {
	[JP_ADD] = { "add", true, false },	   [JP_REMOVE] = { "remove", false, false },
	[JP_REPLACE] = { "replace", true, false }, [JP_MOVE] = { "move", false, true },
	[JP_COPY] = { "copy", false, true },	   [JP_TEST] = { "test", true, false },
};

/* Runs operation i on *root; -errno with the message written on failure. */
static int jp_apply(json_t **root, const json_t *op, size_t i, char *err, size_t errlen)
{
	struct jptr path = { 0 }, from = { 0 };
	const char *name = jsonx_str(op, "op", NULL), *path_s = jsonx_str(op, "path", NULL);
	const char *from_s = jsonx_str(op, "from", NULL), *bad = path_s;
	const json_t *value = json_object_get(op, "value");
	json_t *found, *moved; /* borrowed from *root; a reference taken out of it */
	size_t k, len;
	int rc = -EINVAL;

	if (!json_is_object(op)) {
		errbuf_setf(err, errlen, "operation %zu is not an object", i);
		return -EINVAL;
	}
	for (k = 0; k < ARRAY_SIZE(jp_ops); k++)
		if (name && !strcmp(name, jp_ops[k].name))
			break;
	if (k == ARRAY_SIZE(jp_ops)) {
		errbuf_setf(err, errlen, "operation %zu: unknown op \"%s\"", i, name ? name : "");
		return -EINVAL;
	}
	if (!path_s || (jp_ops[k].value && !value) || (jp_ops[k].from && !from_s)) {
		errbuf_setf(err, errlen, "operation %zu (%s): missing \"%s\"", i, name,
			    !path_s	      ? "path"
			    : jp_ops[k].value ? "value"
					      : "from");
		return -EINVAL;
	}
	if (jptr_parse(path_s, &path) || (from_s && jptr_parse(from_s, &from))) {
		errbuf_setf(err, errlen, "operation %zu (%s): invalid JSON pointer", i, name);
		goto out;
	}
	switch ((enum jp_kind)k) {
	case JP_ADD:
		rc = jp_add(root, &path, json_deep_copy(value));
		break;
	case JP_REMOVE:
		rc = jp_take(root, &path, NULL, NULL);
		break;
	case JP_REPLACE:
		moved = json_deep_copy(value);
		rc = moved ? jp_take(root, &path, moved, NULL) : -ENOMEM;
		break;
	case JP_MOVE:
		bad = from_s;
		if (!strcmp(from_s, path_s)) {
			rc = jptr_get(*root, &from, from.n, &found);
			break;
		}
		/* Tokens have one encoding each, so a textual prefix is a location prefix. */
		len = strlen(from_s);
		if (!strncmp(path_s, from_s, len) && path_s[len] == '/') {
			errbuf_setf(err, errlen,
				    "operation %zu (move): cannot move \"%s\" into itself", i,
				    from_s);
			rc = -EINVAL;
			goto out;
		}
		rc = jp_take(root, &from, NULL, &moved);
		if (!rc) {
			bad = path_s;
			rc = jp_add(root, &path, moved);
		}
		break;
	case JP_COPY:
		bad = from_s;
		rc = jptr_get(*root, &from, from.n, &found);
		if (!rc) {
			bad = path_s;
			rc = jp_add(root, &path, json_deep_copy(found));
		}
		break;
	case JP_TEST:
		rc = jptr_get(*root, &path, path.n, &found);
		if (!rc && !jsonx_equal(found, value))
			rc = -ECANCELED;
		break;
	}
	if (rc == -ENOENT)
		errbuf_setf(err, errlen, "operation %zu (%s): path \"%s\" does not exist", i, name,
			    bad);
	else if (rc == -ECANCELED)
		errbuf_setf(err, errlen, "operation %zu (test): the value at \"%s\" differs", i,
			    bad);
	else if (rc == -EINVAL)
		errbuf_setf(err, errlen, "operation %zu (%s): \"%s\" %s", i, name, bad,
			    bad[0] ? "has a token that is not an array index"
				   : "cannot be removed (it is the whole document)");
	else if (rc)
		errbuf_setf(err, errlen, "operation %zu (%s): %s", i, name, strerror(-rc));
out:
	jptr_free(&path);
	jptr_free(&from);
	return rc;
}

int patch_json(const json_t *doc, const json_t *ops, json_t **out, char *err, size_t errlen)
{
	json_t *root = NULL, *op;
	size_t i;
	int rc = 0;

	if (!doc || !out)
		return bad_input(err, errlen, "no document to patch");
	if (!json_is_array(ops))
		return bad_input(err, errlen, "a JSON patch must be a list of operations");
	root = json_deep_copy(doc);
	if (!root)
		return -ENOMEM;
	json_array_foreach(ops, i, op) {
		rc = jp_apply(&root, op, i, err, errlen);
		if (rc)
			goto out;
	}
	*out = root;
	root = NULL;
out:
	json_decref(root);
	return rc;
}

/* ------------------------------------------------- strategic merge: schema */

enum {
	PM_MERGE = 1 << 0,	 /* patchStrategy merge: by merge_key, or a set of primitives */
	PM_RETAIN_KEYS = 1 << 1, /* patchStrategy retainKeys: kubectl sends $retainKeys */
};

/*
 * One patchStrategy/patchMergeKey tag, or (mount set) a table of them rooted
 * at path. PM_RETAIN_KEYS records where upstream has the tag; like upstream's
 * server, the merge honours $retainKeys wherever a patch carries it, since
 * only kubectl's diff consults the strategy.
 */
struct patch_field {
	const char *path;
	const char *merge_key;
	unsigned strategy;
	const struct patch_field *mount;
};

/* clang-format off */
#define LIST(p, key)		{ .path = p, .merge_key = key, .strategy = PM_MERGE }
#define LIST_RETAIN(p, key)	{ .path = p, .merge_key = key, \
				  .strategy = PM_MERGE | PM_RETAIN_KEYS }
#define PRIMITIVES(p)		{ .path = p, .strategy = PM_MERGE }
#define RETAIN_KEYS(p)		{ .path = p, .strategy = PM_RETAIN_KEYS }
#define MOUNT(p, table)		{ .path = p, .mount = table }
#define END			{ .path = NULL }
/* clang-format on */

/* The patch metadata of k8s.io/api v1.32 for the kinds capstan serves. */

static const struct patch_field object_meta_fields[] = {
	PRIMITIVES("finalizers"),
	LIST("ownerReferences", "uid"),
	END,
};

static const struct patch_field container_fields[] = {
	LIST("ports", "containerPort"),
	LIST("env", "name"),
	LIST("volumeMounts", "mountPath"),
	LIST("volumeDevices", "devicePath"),
	END,
};

static const struct patch_field pod_spec_fields[] = {
	LIST("containers", "name"),
	MOUNT("containers[]", container_fields),
	LIST("initContainers", "name"),
	MOUNT("initContainers[]", container_fields),
	LIST("ephemeralContainers", "name"),
	MOUNT("ephemeralContainers[]", container_fields),
	LIST_RETAIN("volumes", "name"),
	LIST("imagePullSecrets", "name"),
	LIST("hostAliases", "ip"),
	LIST("topologySpreadConstraints", "topologyKey"),
	LIST("schedulingGates", "name"),
	LIST_RETAIN("resourceClaims", "name"),
	END,
};

static const struct patch_field pod_template_fields[] = {
	MOUNT("metadata", object_meta_fields),
	MOUNT("spec", pod_spec_fields),
	END,
};

static const struct patch_field pod_fields[] = {
	MOUNT("metadata", object_meta_fields),
	MOUNT("spec", pod_spec_fields),
	LIST("status.conditions", "type"),
	LIST("status.podIPs", "ip"),
	LIST("status.hostIPs", "ip"),
	LIST_RETAIN("status.resourceClaimStatuses", "name"),
	END,
};

static const struct patch_field deployment_fields[] = {
	MOUNT("metadata", object_meta_fields),
	MOUNT("spec.template", pod_template_fields),
	RETAIN_KEYS("spec.strategy"),
	LIST("status.conditions", "type"),
	END,
};

/* ReplicaSet and DaemonSet (whose updateStrategy has no retainKeys tag). */
static const struct patch_field workload_fields[] = {
	MOUNT("metadata", object_meta_fields),
	MOUNT("spec.template", pod_template_fields),
	LIST("status.conditions", "type"),
	END,
};

static const struct patch_field service_fields[] = {
	MOUNT("metadata", object_meta_fields),
	LIST("spec.ports", "port"),
	LIST("status.conditions", "type"),
	END,
};

/* Node spec.taints and status.images carry no strategy: they replace. */
static const struct patch_field node_fields[] = {
	MOUNT("metadata", object_meta_fields),
	PRIMITIVES("spec.podCIDRs"),
	LIST("status.conditions", "type"),
	LIST("status.addresses", "type"),
	END,
};

/* spec.finalizers has no strategy (it replaces), unlike metadata.finalizers. */
static const struct patch_field namespace_fields[] = {
	MOUNT("metadata", object_meta_fields),
	LIST("status.conditions", "type"),
	END,
};

/* imagePullSecrets of a ServiceAccount has no strategy, unlike a pod's. */
static const struct patch_field service_account_fields[] = {
	MOUNT("metadata", object_meta_fields),
	LIST("secrets", "name"),
	END,
};

/* ConfigMap, Secret, Endpoints, EndpointSlice, Event, Lease: lists all replace. */
static const struct patch_field meta_only_fields[] = {
	MOUNT("metadata", object_meta_fields),
	END,
};

static const struct {
	const char *kind;
	const struct patch_field *fields;
} patch_kinds[] = {
	{ "Pod", pod_fields },
	{ "Deployment", deployment_fields },
	{ "ReplicaSet", workload_fields },
	{ "DaemonSet", workload_fields },
	{ "Service", service_fields },
	{ "Node", node_fields },
	{ "Namespace", namespace_fields },
	{ "ServiceAccount", service_account_fields },
	{ "ConfigMap", meta_only_fields },
	{ "Secret", meta_only_fields },
	{ "Endpoints", meta_only_fields },
	{ "EndpointSlice", meta_only_fields },
	{ "Event", meta_only_fields },
	{ "Lease", meta_only_fields },
};

/* Where the walk is: object keys, and list elements (key NULL) by index. */
struct seg {
	const char *key;
	size_t index;
};

/* How many segments pat matches as a prefix of seg[0..n), or -1. */
static int path_prefix(const char *pat, const struct seg *seg, int n)
{
	int i = 0;

	while (*pat) {
		if (i == n)
			return -1;
		if (pat[0] == '[' && pat[1] == ']') {
			if (seg[i].key)
				return -1;
			pat += 2;
		} else {
			size_t len = strcspn(pat, ".[");

			if (!seg[i].key || strlen(seg[i].key) != len ||
			    memcmp(seg[i].key, pat, len))
				return -1;
			pat += len;
		}
		i++;
		if (*pat == '.')
			pat++;
	}
	return i;
}

static const struct patch_field *field_find(const struct patch_field *t, const struct seg *seg,
					    int n)
{
	for (; t && t->path; t++) {
		int m = path_prefix(t->path, seg, n);
		const struct patch_field *f;

		if (m < 0)
			continue;
		if (!t->mount && m == n)
			return t;
		if (t->mount && (f = field_find(t->mount, seg + m, n - m)))
			return f;
	}
	return NULL;
}

/* --------------------------------------------------- strategic merge: merge */

#define SET_ORDER "$setElementOrder/"
#define DELETE_PRIMITIVES "$deleteFromPrimitiveList/"

struct smp {
	const struct patch_field *fields; /* NULL for kinds without metadata */
	struct seg path[PATCH_MAX_DEPTH];
	int depth;
	unsigned long long work; /* element comparisons charged so far */
	char *err;
	size_t errlen;
};

enum directive { DIR_NONE, DIR_REPLACE, DIR_MERGE, DIR_DELETE };

/* How much of a path an error message shows. */
#define SMP_PATH_SHOWN 160

/* Writes "<path>: <message>" and returns -EINVAL. */
static int smp_fail(struct smp *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int smp_fail(struct smp *s, const char *fmt, ...)
{
	struct buf where = { 0 };
	const char *shown;
	char msg[256];
	va_list ap;

	if (!s->err || !s->errlen)
		return -EINVAL;
	for (int i = 0; i < s->depth; i++) {
		if (s->path[i].key)
			buf_appendf(&where, "%s%s", i ? "." : "", s->path[i].key);
		else
			buf_appendf(&where, "[%zu]", s->path[i].index);
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A hostile path can be long: keep its end, where the problem is, and the message. */
	shown = where.len > SMP_PATH_SHOWN ? where.data + where.len - SMP_PATH_SHOWN : where.data;
	if (where.len)
		errbuf_setf(s->err, s->errlen, "%s%s: %s", shown == where.data ? "" : "...", shown,
			    msg);
	else
		errbuf_setf(s->err, s->errlen, "%s", msg);
	buf_free(&where);
	return -EINVAL;
}

static int smp_push(struct smp *s, const char *key, size_t index)
{
	if (s->depth == PATCH_MAX_DEPTH)
		return smp_fail(s, "nested deeper than %d levels", PATCH_MAX_DEPTH);
	s->path[s->depth].key = key;
	s->path[s->depth].index = index;
	s->depth++;
	return 0;
}

static void smp_pop(struct smp *s)
{
	s->depth--;
}

/* Charges a * b element comparisons to the patch (see PATCH_MAX_WORK). */
static int smp_charge(struct smp *s, size_t a, size_t b)
{
	s->work += (unsigned long long)a * b;
	if (s->work > PATCH_MAX_WORK)
		return smp_fail(s, "the patch merges too many long lists (over %llu comparisons)",
				PATCH_MAX_WORK);
	return 0;
}

/* The merge rule of the list at the current path, NULL when the list replaces. */
static const struct patch_field *smp_list_field(const struct smp *s)
{
	const struct patch_field *f = field_find(s->fields, s->path, s->depth);

	return f && (f->strategy & PM_MERGE) ? f : NULL;
}

static int smp_directive(struct smp *s, const json_t *obj, enum directive *d)
{
	const json_t *v = json_object_get(obj, "$patch");
	const char *str = json_string_value(v);

	*d = DIR_NONE;
	if (!v)
		return 0;
	if (str && !strcmp(str, "replace"))
		*d = DIR_REPLACE;
	else if (str && !strcmp(str, "merge"))
		*d = DIR_MERGE;
	else if (str && !strcmp(str, "delete"))
		*d = DIR_DELETE;
	else
		return smp_fail(s, "unknown $patch directive %s%s%s", str ? "\"" : "",
				str ? str : "(not a string)", str ? "\"" : "");
	return 0;
}

static const char *strip_prefix(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(s, prefix, n) ? NULL : s + n;
}

static bool smp_is_directive(const char *key)
{
	return !strcmp(key, "$patch") || !strcmp(key, "$retainKeys") ||
	       strip_prefix(key, SET_ORDER) || strip_prefix(key, DELETE_PRIMITIVES);
}

/* What a list element is matched by: its merge key's value, or itself. */
static const json_t *elem_id(const json_t *e, const char *key)
{
	return key ? json_object_get(e, key) : e;
}

/*
 * The identities of a list's elements, computed once so that matching is a
 * tight loop of compares. NULL for an element that cannot be matched: a
 * $patch marker, or an object without the merge key. The values are
 * borrowed from lists that outlive the idlist, unless held is set.
 */
struct idlist {
	const json_t **id;
	size_t n, cap;
	bool held; /* a reference is held on every id */
};

static void idlist_push(struct idlist *l, const json_t *id)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->id = xrealloc(l->id, l->cap * sizeof(*l->id));
	}
	l->id[l->n++] = id;
}

static void idlist_of(struct idlist *l, const json_t *arr, const char *key)
{
	json_t *e;
	size_t i;

	json_array_foreach(arr, i, e)
		idlist_push(l, json_object_get(e, "$patch") ? NULL : elem_id(e, key));
}

/* Index of the first identity equal to id, or -1. */
static long idlist_find(const struct idlist *l, const json_t *id)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->id[i] && jsonx_equal(l->id[i], id))
			return (long)i;
	return -1;
}

/*
 * Takes a reference on every id: needed when the list they come from is
 * merged in place, which replaces (and frees) an element's merge key value.
 */
static void idlist_hold(struct idlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		json_incref((json_t *)l->id[i]);
	l->held = true;
}

static void idlist_free(struct idlist *l)
{
	for (size_t i = 0; l->held && i < l->n; i++)
		json_decref((json_t *)l->id[i]);
	free(l->id);
	*l = (struct idlist){ 0 };
}

struct slot {
	json_t *v;
	long order_pos, server_pos; /* -1: absent */
	size_t seq;
};

static int slot_cmp_pos(long a, long b, size_t sa, size_t sb)
{
	/* Absent sorts last; seq keeps the sort stable. */
	unsigned long ua = (unsigned long)a, ub = (unsigned long)b;

	if (ua != ub)
		return ua < ub ? -1 : 1;
	return sa < sb ? -1 : sa > sb;
}

static int slot_by_order(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;

	return slot_cmp_pos(x->order_pos, y->order_pos, x->seq, y->seq);
}

static int slot_by_server(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;

	return slot_cmp_pos(x->server_pos, y->server_pos, x->seq, y->seq);
}

/*
 * Upstream's order for a merged list (normalizeElementOrder): the elements
 * named in order (the patch list, or $setElementOrder) sorted by it, the
 * others ("server-only") sorted as in server (the document's list), then
 * the two interleaved: a server-only element goes first only while it comes
 * before the next ordered element in server, so an ordered element that is
 * not in server at all is placed as soon as it is reached. merged is
 * consumed.
 */
static int order_list(struct smp *s, json_t *merged, const struct idlist *order,
		      const struct idlist *server, const char *key, json_t **out)
{
	size_t n = json_array_size(merged), n_in = 0, n_rest = 0, i, j;
	struct slot *in = xcalloc(n, sizeof(*in)), *rest = xcalloc(n, sizeof(*rest));
	json_t *res = NULL, *e;
	int rc = 0;

	json_array_foreach(merged, i, e) {
		const json_t *id = elem_id(e, key);
		struct slot sl = { e, -1, -1, i };

		if (!id) {
			rc = smp_fail(s, "element %zu has no merge key \"%s\"", i, key);
			goto out;
		}
		sl.order_pos = idlist_find(order, id);
		sl.server_pos = idlist_find(server, id);
		if (sl.order_pos >= 0)
			in[n_in++] = sl;
		else
			rest[n_rest++] = sl;
	}
	qsort(in, n_in, sizeof(*in), slot_by_order);
	qsort(rest, n_rest, sizeof(*rest), slot_by_server);
	res = json_array();
	for (i = j = 0; res && (i < n_rest || j < n_in);) {
		bool left = j == n_in ||
			    (i < n_rest && rest[i].server_pos >= 0 && in[j].server_pos >= 0 &&
			     rest[i].server_pos < in[j].server_pos);

		if (json_array_append(res, left ? rest[i++].v : in[j++].v))
			rc = -ENOMEM;
	}
	if (!res)
		rc = -ENOMEM;
	if (rc)
		goto out;
	*out = res;
	res = NULL;
out:
	json_decref(res);
	json_decref(merged);
	free(in);
	free(rest);
	return rc;
}

static int smp_map(struct smp *s, json_t *orig, const json_t *patch, json_t **out);

static int smp_new_list(struct smp *s, const json_t *list, json_t **out);

/*
 * A patch value with nothing in the document to merge into. *out is NULL
 * when the value deletes itself ({"$patch": "delete"}).
 */
static int smp_new_value(struct smp *s, const json_t *pv, json_t **out)
{
	enum directive d;
	int rc;

	*out = NULL;
	if (json_is_object(pv)) {
		rc = smp_directive(s, pv, &d);
		if (rc || d == DIR_DELETE)
			return rc;
		return smp_map(s, NULL, pv, out);
	}
	if (json_is_array(pv))
		return smp_new_list(s, pv, out);
	*out = json_deep_copy(pv);
	return *out ? 0 : -ENOMEM;
}

/*
 * A patch list taken as it is: one that replaces, or one with nothing to
 * merge into. Elements are cleaned like new values; the marker elements
 * ($patch: delete / replace) are dropped.
 */
static int smp_new_list(struct smp *s, const json_t *list, json_t **out)
{
	json_t *res = json_array(), *e, *nv;
	enum directive d;
	size_t i;
	int rc = res ? 0 : -ENOMEM;

	json_array_foreach(list, i, e) {
		if (rc || (rc = smp_push(s, NULL, i)))
			break;
		d = DIR_NONE;
		if (json_is_object(e))
			rc = smp_directive(s, e, &d);
		if (!rc && d == DIR_MERGE)
			rc = smp_fail(s, "$patch: merge is not supported in a list");
		if (!rc && d == DIR_NONE) {
			rc = smp_new_value(s, e, &nv);
			if (!rc && json_array_append_new(res, nv))
				rc = -ENOMEM;
		}
		smp_pop(s);
	}
	if (rc) {
		json_decref(res);
		return rc;
	}
	*out = res;
	return 0;
}

/* Element kinds of a merging list: all objects, or all primitives of one JSON type. */
static int smp_list_kind(struct smp *s, const json_t *a, const json_t *b, bool *objects)
{
	const json_t *lists[] = { a, b };
	int kind = -1, t;
	json_t *e;
	size_t i;

	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		json_array_foreach(lists[l], i, e) {
			t = json_is_number(e)	 ? JSON_INTEGER
			    : json_is_boolean(e) ? JSON_TRUE
						 : json_typeof(e);
			if (t == JSON_ARRAY || t == JSON_NULL)
				return smp_fail(s, "lists of lists or of nulls cannot be merged");
			if (kind >= 0 && kind != t)
				return smp_fail(s, "list elements are not all of the same type");
			kind = t;
		}
	}
	*objects = kind == JSON_OBJECT;
	return 0;
}

/* A set of primitives: the document's, then the patch's new values. */
static int smp_merge_primitives(struct smp *s, const json_t *ol, const json_t *pl, json_t **out)
{
	const json_t *lists[] = { ol, pl };
	struct idlist seen = { 0 }, order = { 0 }, server = { 0 };
	json_t *merged = json_array(), *e;
	size_t i;
	int rc = merged ? 0 : -ENOMEM;

	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		json_array_foreach(lists[l], i, e) {
			if (rc || idlist_find(&seen, e) >= 0)
				continue;
			idlist_push(&seen, e);
			if (json_array_append_new(merged, json_deep_copy(e)))
				rc = -ENOMEM;
		}
	}
	idlist_of(&order, pl, NULL);
	idlist_of(&server, ol, NULL);
	if (!rc)
		rc = order_list(s, json_incref(merged), &order, &server, NULL, out);
	json_decref(merged);
	idlist_free(&seen);
	idlist_free(&order);
	idlist_free(&server);
	return rc;
}

/*
 * Objects merged by key: $patch elements first (delete matching elements,
 * or replace the whole list), then each element merged into its match or
 * appended, then upstream's order.
 */
static int smp_merge_objects(struct smp *s, const json_t *ol, const json_t *pl, const char *key,
			     json_t **out)
{
	struct idlist deleted = { 0 }, work_ids = { 0 }, order = { 0 }, server = { 0 };
	json_t *work = json_array(), *e, *nv;
	const json_t *id;
	bool replace = false;
	enum directive d = DIR_NONE;
	size_t i;
	long pos;
	int rc = work ? 0 : -ENOMEM;

	json_array_foreach(pl, i, e) {
		if (rc || (rc = smp_push(s, NULL, i)))
			break;
		rc = smp_directive(s, e, &d);
		id = json_object_get(e, key);
		replace |= !rc && d == DIR_REPLACE;
		if (!rc && d == DIR_MERGE)
			rc = smp_fail(s, "$patch: merge is not supported in a list");
		else if (!rc && d == DIR_DELETE && !id)
			rc = smp_fail(s, "$patch: delete needs the merge key \"%s\"", key);
		else if (!rc && d == DIR_DELETE)
			idlist_push(&deleted, id);
		smp_pop(s);
	}
	if (rc)
		goto out;
	if (replace) {
		rc = smp_new_list(s, pl, out);
		goto out;
	}
	/* The document's list without the deleted elements: the "server" order. */
	json_array_foreach(ol, i, e) {
		id = elem_id(e, key);
		if (id && idlist_find(&deleted, id) >= 0)
			continue;
		idlist_push(&server, id);
		if (json_array_append(work, e))
			rc = -ENOMEM;
	}
	/* Identities of work as it changes; merged elements are named by the patch's key. */
	idlist_hold(&server);
	for (i = 0; i < server.n; i++)
		idlist_push(&work_ids, server.id[i]);
	json_array_foreach(pl, i, e) {
		if (rc || json_object_get(e, "$patch"))
			continue;
		if ((rc = smp_push(s, NULL, i)))
			break;
		id = json_object_get(e, key);
		pos = id ? idlist_find(&work_ids, id) : -1;
		if (!id)
			rc = smp_fail(s, "element has no merge key \"%s\"", key);
		else if (pos >= 0)
			rc = smp_map(s, json_incref(json_array_get(work, (size_t)pos)), e, &nv);
		else
			rc = smp_map(s, NULL, e, &nv);
		if (!rc && pos >= 0) {
			work_ids.id[pos] = id;
			rc = json_array_set_new(work, (size_t)pos, nv) ? -ENOMEM : 0;
		} else if (!rc) {
			idlist_push(&work_ids, id);
			rc = json_array_append_new(work, nv) ? -ENOMEM : 0;
		}
		smp_pop(s);
	}
	idlist_of(&order, pl, key);
	if (!rc)
		rc = order_list(s, json_incref(work), &order, &server, key, out);
out:
	idlist_free(&deleted);
	idlist_free(&work_ids);
	idlist_free(&order);
	idlist_free(&server);
	json_decref(work);
	return rc;
}

/* Merges the document's list ol with the patch's list pl under rule f. */
static int smp_merge_list(struct smp *s, const json_t *ol, const json_t *pl,
			  const struct patch_field *f, json_t **out)
{
	size_t n = json_array_size(ol) + json_array_size(pl);
	bool objects = false;
	int rc;

	if (json_array_size(ol) > PATCH_MAX_LIST || json_array_size(pl) > PATCH_MAX_LIST)
		return smp_fail(s, "lists longer than %d elements cannot be merged",
				PATCH_MAX_LIST);
	/* Each element is matched against the merged list, then placed in order. */
	rc = smp_charge(s, n, n);
	if (!rc)
		rc = smp_list_kind(s, ol, pl, &objects);
	if (rc)
		return rc;
	if (!objects)
		return smp_merge_primitives(s, ol, pl, out);
	if (!f->merge_key)
		return smp_fail(s, "a list of objects cannot be merged without a merge key");
	return smp_merge_objects(s, ol, pl, f->merge_key, out);
}

/*
 * $setElementOrder/<list>: kubectl apply's order for a list, which is merged
 * (or taken from the patch, or kept) and then ordered by it. The patch's
 * elements must appear in the same relative order in the directive.
 */
static int smp_ordered_list(struct smp *s, json_t *dst, const json_t *patch, const char *list,
			    const json_t *order)
{
	const json_t *pl = json_object_get(patch, list), *pe, *pid, *oid;
	json_t *ol = json_object_get(dst, list), *merged = NULL, *res;
	struct idlist order_ids = { 0 }, server_ids = { 0 };
	const struct patch_field *f;
	const char *key;
	size_t pi = 0, oi = 0;
	int rc;

	if (!*list)
		return smp_fail(s, "\"%s\" names no list", SET_ORDER);
	rc = smp_push(s, list, 0);
	if (rc)
		return rc;
	f = smp_list_field(s);
	key = f ? f->merge_key : NULL;
	if (!json_is_array(order) || json_array_size(order) > PATCH_MAX_LIST) {
		rc = smp_fail(s, "$setElementOrder must be a list of at most %d elements",
			      PATCH_MAX_LIST);
		goto out;
	}
	if ((ol && !json_is_array(ol)) || (pl && !json_is_array(pl))) {
		rc = smp_fail(s, "$setElementOrder orders a list, and this field is not one");
		goto out;
	}
	rc = smp_charge(s, json_array_size(ol) + json_array_size(pl),
			json_array_size(ol) + json_array_size(order));
	if (rc)
		goto out;
	while (pi < json_array_size(pl)) {
		pe = json_array_get(pl, pi);
		if (json_object_get(pe, "$patch")) {
			pi++;
			continue;
		}
		if (oi == json_array_size(order)) {
			rc = smp_fail(s, "the list is not in the order of its $setElementOrder");
			goto out;
		}
		pid = elem_id(pe, key);
		oid = elem_id(json_array_get(order, oi++), key);
		if (!pid || !oid) {
			rc = smp_fail(s, "$setElementOrder needs the merge key \"%s\"", key);
			goto out;
		}
		pi += jsonx_equal(pid, oid);
	}
	if (ol && pl)
		rc = f ? smp_merge_list(s, ol, pl, f, &merged) : smp_new_list(s, pl, &merged);
	else if (pl)
		rc = smp_new_list(s, pl, &merged);
	else if (ol)
		rc = (merged = json_copy(ol)) ? 0 : -ENOMEM;
	if (rc || !merged)
		goto out;
	idlist_of(&order_ids, order, key);
	idlist_of(&server_ids, ol, key);
	rc = order_list(s, merged, &order_ids, &server_ids, key, &res);
	if (!rc && json_object_set_new(dst, list, res))
		rc = -ENOMEM;
out:
	idlist_free(&order_ids);
	idlist_free(&server_ids);
	smp_pop(s);
	return rc;
}

/* $retainKeys: the map keeps only these fields, and the patch may set no others. */
static int smp_retain_keys(struct smp *s, json_t *dst, const json_t *patch)
{
	const json_t *keep = json_object_get(patch, "$retainKeys");
	json_t *set = NULL, *v;
	const char *key;
	void *tmp;
	size_t i;
	int rc = 0;

	if (!keep)
		return 0;
	set = json_object();
	if (!json_is_array(keep))
		rc = smp_fail(s, "$retainKeys must be a list of field names");
	json_array_foreach(keep, i, v) {
		if (rc)
			break;
		if (!json_is_string(v))
			rc = smp_fail(s, "$retainKeys must be a list of field names");
		else if (json_object_set_new(set, json_string_value(v), json_true()))
			rc = -ENOMEM;
	}
	const_object_foreach(patch, key, v)
	{
		if (rc)
			break;
		if (key[0] != '$' && !json_is_null(v) && !json_object_get(set, key))
			rc = smp_fail(s, "field \"%s\" is set but not listed in $retainKeys", key);
	}
	json_object_foreach_safe(dst, tmp, key, v) {
		if (!rc && !json_object_get(set, key))
			json_object_del(dst, key);
	}
	json_decref(set);
	return rc;
}

/* $deleteFromPrimitiveList/<list>: removes these values from the document's list. */
static int smp_delete_primitives(struct smp *s, json_t *dst, const char *list, const json_t *values)
{
	json_t *cur = json_object_get(dst, list), *res, *e;
	struct idlist gone = { 0 };
	size_t i;

	if (!*list)
		return smp_fail(s, "\"%s\" names no list", DELETE_PRIMITIVES);
	if (!json_is_array(values) || json_array_size(values) > PATCH_MAX_LIST)
		return smp_fail(s, "%s%s must be a list of at most %d values", DELETE_PRIMITIVES,
				list, PATCH_MAX_LIST);
	json_array_foreach(values, i, e) {
		if (!is_primitive(e))
			return smp_fail(s, "%s%s may only list strings, numbers and booleans",
					DELETE_PRIMITIVES, list);
	}
	if (!json_is_array(cur))
		return 0;
	if (smp_charge(s, json_array_size(cur), json_array_size(values)))
		return -EINVAL;
	idlist_of(&gone, values, NULL);
	res = json_array();
	json_array_foreach(cur, i, e) {
		if (res && idlist_find(&gone, e) < 0 && json_array_append(res, e)) {
			json_decref(res);
			res = NULL;
		}
	}
	idlist_free(&gone);
	return json_object_set_new(dst, list, res) ? -ENOMEM : 0;
}

/* One field of the patch merged into dst. */
static int smp_merge_field(struct smp *s, json_t *dst, const char *key, const json_t *pv)
{
	json_t *cur = json_object_get(dst, key), *nv = NULL;
	const struct patch_field *f;
	int rc;

	if (json_is_null(pv)) {
		json_object_del(dst, key);
		return 0;
	}
	rc = smp_push(s, key, 0);
	if (rc)
		return rc;
	if (json_is_object(cur) && json_is_object(pv))
		rc = smp_map(s, json_incref(cur), pv, &nv);
	else if (json_is_array(cur) && json_is_array(pv) && (f = smp_list_field(s)))
		rc = smp_merge_list(s, cur, pv, f, &nv);
	else
		/* Absent, a scalar, a list that replaces or a change of type: the patch wins. */
		rc = smp_new_value(s, pv, &nv);
	smp_pop(s);
	if (rc)
		return rc;
	if (!nv) {
		json_object_del(dst, key);
		return 0;
	}
	return json_object_set_new(dst, key, nv) ? -ENOMEM : 0;
}

static bool has_order_for(const json_t *patch, const char *key)
{
	char *name = xasprintf("%s%s", SET_ORDER, key);
	bool found = json_object_get(patch, name) != NULL;

	free(name);
	return found;
}

/*
 * Merges the patch map into orig (consumed; NULL is an empty map): $patch,
 * then $retainKeys, then the lists with $setElementOrder, then every other
 * field, then $deleteFromPrimitiveList, so a list merged above loses the
 * deleted values too.
 */
static int smp_map(struct smp *s, json_t *orig, const json_t *patch, json_t **out)
{
	const char *key, *list;
	enum directive d;
	json_t *pv;
	int rc;

	*out = NULL;
	rc = smp_directive(s, patch, &d);
	if (rc)
		goto out;
	if (d == DIR_REPLACE || d == DIR_DELETE || !orig) {
		json_decref(orig);
		orig = json_object();
		if (!orig)
			return -ENOMEM;
	}
	/* Upstream leaves an empty map where "$patch": "delete" was. */
	if (d == DIR_DELETE)
		goto done;
	rc = smp_retain_keys(s, orig, patch);
	if (rc)
		goto out;
	const_object_foreach(patch, key, pv)
	{
		list = strip_prefix(key, SET_ORDER);
		if (list && (rc = smp_ordered_list(s, orig, patch, list, pv)))
			goto out;
	}
	const_object_foreach(patch, key, pv)
	{
		if (key[0] == '$') {
			if (!smp_is_directive(key)) {
				rc = smp_fail(s, "unknown directive \"%s\"", key);
				goto out;
			}
			continue;
		}
		if (has_order_for(patch, key))
			continue;
		rc = smp_merge_field(s, orig, key, pv);
		if (rc)
			goto out;
	}
	const_object_foreach(patch, key, pv)
	{
		list = strip_prefix(key, DELETE_PRIMITIVES);
		if (list && (rc = smp_delete_primitives(s, orig, list, pv)))
			goto out;
	}
done:
	*out = orig;
	return 0;
out:
	json_decref(orig);
	return rc;
}

int patch_strategic(const char *kind, const json_t *doc, const json_t *patch, json_t **out,
		    char *err, size_t errlen)
{
	struct smp *s = NULL;
	json_t *copy, *res;
	int rc;

	if (!json_is_object(doc) || !out)
		return bad_input(err, errlen, "the document to patch is not a JSON object");
	if (!json_is_object(patch))
		return bad_input(err, errlen, "a strategic merge patch must be a JSON object");
	copy = json_deep_copy(doc);
	if (!copy)
		return -ENOMEM;
	/* The path stack is 8 KiB: off the caller's stack. */
	s = xcalloc(1, sizeof(*s));
	s->err = err;
	s->errlen = errlen;
	for (size_t i = 0; kind && i < ARRAY_SIZE(patch_kinds); i++)
		if (!strcmp(kind, patch_kinds[i].kind))
			s->fields = patch_kinds[i].fields;
	rc = smp_map(s, copy, patch, &res);
	if (!rc)
		*out = res;
	free(s);
	return rc;
}
