/*
 * schema.c - strict field checking and OpenAPI v3 components from one table.
 *
 * The table (schema_types.c) is a list of strings, one Go-like field list per
 * type, because in that form it can be read against upstream's structs line by
 * line; a table of C initialisers with one enum constant per type was the
 * alternative, and it spread each type over two places (enum and table) and
 * read far less like the upstream source it has to be checked against.
 * The strings are parsed once (pthread_once) into `struct stype` records with
 * every reference resolved to a pointer and every field list sorted for
 * binary search; the parsed form lives until the process exits. A malformed
 * table is a programming error caught by the unit tests, so the parser aborts
 * with a message rather than returning one.
 *
 * Checking walks the body and the type side by side. Only fields that are
 * objects of a known type are descended into; values of free-form fields
 * (labels' values are still type-checked, FieldsV1 is not) and unknown fields
 * are not walked, so the recursion depth is bounded by the type graph (which
 * has no cycles; a test checks that) and never by the body. A depth limit
 * stays anyway, as a guard that turns a future recursive type into one
 * reported problem instead of a stack overflow.
 *
 * Scalars fail where upstream's decoder fails (a string for an int32, an
 * int32 out of range, bad base64 in []byte, a quantity or time that does not
 * parse), with two leniencies: an integral real counts as an integer, since
 * some clients write every number as a float, and MicroTime takes any RFC 3339
 * time rather than exactly six fraction digits.
 *
 * Paths are written as upstream's strict decoder writes them: dotted field
 * names, "[N]" for list elements, and "[key]" for map entries, as
 * field.Path.Key does.
 *
 * The OpenAPI output uses plain {"$ref": ...} where upstream wraps references
 * in allOf to attach descriptions; there are no descriptions here, and the
 * clients that read these documents (kubectl's strategic-merge patch meta and
 * explain) resolve either form.
 */
#include "control/apiserver/schema.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ktime.h"
#include "quantity.h"
#include "util.h"

/* The table, in schema_types.c. */
extern const char *const schema_type_src[][2];
extern const size_t schema_type_src_count;
extern const char *const schema_kind_src[][4];
extern const size_t schema_kind_src_count;
extern const char *const schema_doc_extra_src[][3];
extern const size_t schema_doc_extra_src_count;

/* Deeper than any path through the types (about 20 levels for a Deployment). */
#define SCHEMA_MAX_DEPTH 64
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

#define COMPONENT_PREFIX "#/components/schemas/"

enum prim {
	P_STRING,
	P_INT32,
	P_INT64,
	P_BOOL,
	P_DOUBLE,
	P_BYTES,
	P_QUANTITY,
	P_INTSTR,
	P_TIME,
	P_MICROTIME,
	P_FIELDSV1,
	P_OBJECT, /* an object of a declared type */
	P_COUNT,
};

/*
 * Per primitive: its spelling in the table, the "expected" word of a type
 * problem, and how OpenAPI documents it: a reference to the upstream
 * component that describes it, or an inline type and format.
 */
static const struct prim_info {
	const char *word;
	const char *expected;
	const char *component;
	const char *type, *format;
} prims[P_COUNT] = {
	[P_STRING] = { "string", "string", NULL, "string", NULL },
	[P_INT32] = { "int32", "integer", NULL, "integer", "int32" },
	[P_INT64] = { "int64", "integer", NULL, "integer", "int64" },
	[P_BOOL] = { "bool", "boolean", NULL, "boolean", NULL },
	[P_DOUBLE] = { "double", "number", NULL, "number", "double" },
	[P_BYTES] = { "bytes", "base64 string", NULL, "string", "byte" },
	[P_QUANTITY] = { "quantity", "quantity", "io.k8s.apimachinery.pkg.api.resource.Quantity",
			 NULL, NULL },
	[P_INTSTR] = { "intstr", "int-or-string",
		       "io.k8s.apimachinery.pkg.util.intstr.IntOrString", NULL, NULL },
	[P_TIME] = { "time", "date-time", "io.k8s.apimachinery.pkg.apis.meta.v1.Time", NULL, NULL },
	[P_MICROTIME] = { "microtime", "date-time",
			  "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime", NULL, NULL },
	[P_FIELDSV1] = { "fieldsv1", "object", "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
			 NULL, NULL },
	[P_OBJECT] = { NULL, "object", NULL, NULL, NULL },
};

/* Table package aliases and the OpenAPI name prefixes they stand for. */
static const char *const pkg_alias[][2] = {
	{ "core", "io.k8s.api.core.v1" },
	{ "meta", "io.k8s.apimachinery.pkg.apis.meta.v1" },
	{ "apps", "io.k8s.api.apps.v1" },
	{ "autoscaling", "io.k8s.api.autoscaling.v1" },
	{ "policy", "io.k8s.api.policy.v1" },
	{ "discovery", "io.k8s.api.discovery.v1" },
	{ "coordination", "io.k8s.api.coordination.v1" },
};

enum container { C_NONE, C_LIST, C_MAP };

struct stype;

struct sfield {
	char *name;
	enum container cont;
	enum prim prim;
	char *ref;	       /* P_OBJECT: full type name, resolved into type */
	struct stype *type;    /* P_OBJECT */
	const char *strategy;  /* x-kubernetes-patch-strategy, or NULL */
	char *merge_key;       /* x-kubernetes-patch-merge-key, or NULL */
	const char *list_type; /* x-kubernetes-list-type, or NULL */
	char *list_keys;       /* x-kubernetes-list-map-keys, comma separated */
};

struct stype {
	char *name; /* upstream component name, "io.k8s.api.core.v1.Pod" */
	const char *src;
	struct sfield *fields; /* sorted by name */
	size_t nfields;
	int state; /* 0 unparsed, 1 being parsed (cycle check for "@"), 2 parsed */
};

struct skind {
	const char *group, *version, *kind;
	struct stype *type;
};

static struct stype *types; /* sorted by name */
static size_t ntypes;
static struct skind *kinds;
static size_t nkinds;
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;

/* The table is part of the program: a mistake in it is a bug, not input. */
static void __attribute__((noreturn, format(printf, 1, 2))) table_bug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("schema: bad type table: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

static int type_cmp(const void *a, const void *b)
{
	return strcmp(((const struct stype *)a)->name, ((const struct stype *)b)->name);
}

static int field_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sfield *)a)->name, ((const struct sfield *)b)->name);
}

static struct stype *type_find(const char *name)
{
	struct stype key = { .name = (char *)name };

	return bsearch(&key, types, ntypes, sizeof(*types), type_cmp);
}

static const struct sfield *field_find(const struct stype *t, const char *name)
{
	struct sfield key = { .name = (char *)name };

	return bsearch(&key, t->fields, t->nfields, sizeof(*t->fields), field_cmp);
}

/*
 * "core.Pod" -> "io.k8s.api.core.v1.Pod"; "Pod" declared in a type named
 * "io.k8s.api.core.v1.X" -> "io.k8s.api.core.v1.Pod".
 */
static char *expand_name(const char *word, const char *context)
{
	const char *dot = strchr(word, '.');

	if (!dot) {
		const char *last = strrchr(context, '.');

		return xasprintf("%.*s.%s", (int)(last - context), context, word);
	}
	for (size_t i = 0; i < ARRAY_SIZE(pkg_alias); i++) {
		if (strlen(pkg_alias[i][0]) == (size_t)(dot - word) &&
		    !strncmp(word, pkg_alias[i][0], dot - word))
			return xasprintf("%s%s", pkg_alias[i][1], dot);
	}
	table_bug("unknown package in \"%s\"", word);
}

static void field_add(struct stype *t, size_t *cap, const struct sfield *f)
{
	if (t->nfields == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		t->fields = xrealloc(t->fields, *cap * sizeof(*t->fields));
	}
	t->fields[t->nfields++] = *f;
}

/* "name(a,b)" -> "a,b" (new string); NULL when word does not start with name "(". */
static char *attr_arg(const char *word, const char *name)
{
	size_t n = strlen(name), len = strlen(word);

	if (strncmp(word, name, n) || word[n] != '(' || len < n + 3 || word[len - 1] != ')')
		return NULL;
	return xstrndup(word + n + 1, len - n - 2);
}

static void parse_attr(struct stype *t, struct sfield *f, const char *word)
{
	char *arg;

	if (!strcmp(word, "atomic") || !strcmp(word, "set")) {
		f->list_type = !strcmp(word, "atomic") ? "atomic" : "set";
	} else if ((arg = attr_arg(word, "map"))) {
		f->list_type = "map";
		f->list_keys = arg;
	} else if (!strcmp(word, "merge")) {
		f->strategy = "merge";
	} else if ((arg = attr_arg(word, "merge"))) {
		f->strategy = "merge";
		f->merge_key = arg;
	} else if ((arg = attr_arg(word, "merge+retain"))) {
		f->strategy = "merge,retainKeys";
		f->merge_key = arg;
	} else {
		table_bug("%s.%s: unknown attribute \"%s\"", t->name, f->name, word);
	}
	if (f->list_type && f->cont != C_LIST)
		table_bug("%s.%s: list attribute on a non-list", t->name, f->name);
}

static void parse_shape(struct stype *t, struct sfield *f, const char *word)
{
	if (!strncmp(word, "[]", 2)) {
		f->cont = C_LIST;
		word += 2;
	} else if (!strncmp(word, "map[]", 5)) {
		f->cont = C_MAP;
		word += 5;
	}
	for (int p = 0; p < P_OBJECT; p++) {
		if (!strcmp(word, prims[p].word)) {
			f->prim = p;
			return;
		}
	}
	if (word[0] < 'A' || word[0] > 'Z') {
		if (!strchr(word, '.'))
			table_bug("%s.%s: unknown shape \"%s\"", t->name, f->name, word);
	}
	f->prim = P_OBJECT;
	f->ref = expand_name(word, t->name);
}

static void parse_type(struct stype *t);

/* "@Name": every field of Name, as Go's inlined structs give them. */
static void include_fields(struct stype *t, size_t *cap, const char *word)
{
	char *full = expand_name(word, t->name);
	struct stype *from = type_find(full);

	if (!from)
		table_bug("%s: included type %s is not declared", t->name, full);
	free(full);
	parse_type(from);
	for (size_t i = 0; i < from->nfields; i++)
		field_add(t, cap, &from->fields[i]);
}

static void parse_entry(struct stype *t, size_t *cap, char *entry)
{
	char *save = NULL, *word;
	struct sfield f = { 0 };

	word = strtok_r(entry, " \t\n", &save);
	if (!word)
		return; /* empty entry, e.g. a trailing ';' */
	if (word[0] == '@') {
		include_fields(t, cap, word + 1);
		if (strtok_r(NULL, " \t\n", &save))
			table_bug("%s: junk after %s", t->name, word);
		return;
	}
	f.name = xstrdup(word);
	word = strtok_r(NULL, " \t\n", &save);
	if (!word)
		table_bug("%s.%s: no shape", t->name, f.name);
	parse_shape(t, &f, word);
	while ((word = strtok_r(NULL, " \t\n", &save)))
		parse_attr(t, &f, word);
	field_add(t, cap, &f);
}

static void parse_type(struct stype *t)
{
	size_t cap = 0;
	char *copy, *save = NULL, *entry;

	if (t->state == 2)
		return;
	if (t->state == 1)
		table_bug("%s includes itself", t->name);
	t->state = 1;
	copy = xstrdup(t->src);
	for (entry = strtok_r(copy, ";", &save); entry; entry = strtok_r(NULL, ";", &save))
		parse_entry(t, &cap, entry);
	free(copy);
	qsort(t->fields, t->nfields, sizeof(*t->fields), field_cmp);
	for (size_t i = 1; i < t->nfields; i++) {
		if (!strcmp(t->fields[i - 1].name, t->fields[i].name))
			table_bug("%s.%s is declared twice", t->name, t->fields[i].name);
	}
	t->state = 2;
}

static void registry_build(void)
{
	ntypes = schema_type_src_count;
	types = xcalloc(ntypes, sizeof(*types));
	for (size_t i = 0; i < ntypes; i++) {
		types[i].name = expand_name(schema_type_src[i][0], "");
		types[i].src = schema_type_src[i][1];
	}
	qsort(types, ntypes, sizeof(*types), type_cmp);
	for (size_t i = 1; i < ntypes; i++) {
		if (!strcmp(types[i - 1].name, types[i].name))
			table_bug("%s is declared twice", types[i].name);
	}
	for (size_t i = 0; i < ntypes; i++)
		parse_type(&types[i]);
	for (size_t i = 0; i < ntypes; i++) {
		for (size_t j = 0; j < types[i].nfields; j++) {
			struct sfield *f = &types[i].fields[j];

			if (f->prim != P_OBJECT)
				continue;
			f->type = type_find(f->ref);
			if (!f->type)
				table_bug("%s.%s: type %s is not declared", types[i].name, f->name,
					  f->ref);
		}
	}

	nkinds = schema_kind_src_count;
	kinds = xcalloc(nkinds, sizeof(*kinds));
	for (size_t i = 0; i < nkinds; i++) {
		char *full = expand_name(schema_kind_src[i][3], "");

		kinds[i].group = schema_kind_src[i][0];
		kinds[i].version = schema_kind_src[i][1];
		kinds[i].kind = schema_kind_src[i][2];
		kinds[i].type = type_find(full);
		if (!kinds[i].type)
			table_bug("kind %s: type %s is not declared", kinds[i].kind, full);
		free(full);
	}
}

static void registry_init(void)
{
	pthread_once(&registry_once, registry_build);
}

static const struct skind *kind_find(const char *group, const char *version, const char *kind)
{
	if (!group || !version || !kind)
		return NULL;
	for (size_t i = 0; i < nkinds; i++) {
		if (!strcmp(kinds[i].group, group) && !strcmp(kinds[i].version, version) &&
		    !strcmp(kinds[i].kind, kind))
			return &kinds[i];
	}
	return NULL;
}

bool schema_has_kind(const char *group, const char *version, const char *kind)
{
	registry_init();
	return kind_find(group, version, kind) != NULL;
}

/* ---- checking ---- */

struct walk {
	json_t *problems; /* NULL or not an array: count only */
	int count;
	bool too_deep; /* the depth problem is reported once */
	struct buf path;
};

static const char *json_kind_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		break;
	}
	return "null";
}

static void report(struct walk *w, json_t *problem)
{
	w->count++;
	json_object_set_new(problem, "field", json_string(w->path.data ? w->path.data : ""));
	if (json_is_array(w->problems))
		json_array_append_new(w->problems, problem);
	else
		json_decref(problem);
}

static void report_unknown(struct walk *w)
{
	report(w, json_pack("{s:s}", "type", "unknown"));
}

static void report_invalid(struct walk *w, const char *expected, const char *got)
{
	report(w,
	       json_pack("{s:s, s:s, s:s}", "type", "invalid", "expected", expected, "got", got));
}

/* Append ".name" (or "name" at the root); returns the length to restore. */
static size_t path_push_field(struct walk *w, const char *name)
{
	size_t saved = w->path.len;

	if (saved)
		buf_append(&w->path, ".", 1);
	buf_append(&w->path, name, strlen(name));
	return saved;
}

static size_t path_push_index(struct walk *w, size_t i)
{
	size_t saved = w->path.len;

	buf_appendf(&w->path, "[%zu]", i);
	return saved;
}

static size_t path_push_key(struct walk *w, const char *key)
{
	size_t saved = w->path.len;

	buf_appendf(&w->path, "[%s]", key);
	return saved;
}

static void path_pop(struct walk *w, size_t saved)
{
	w->path.len = saved;
	if (w->path.data)
		w->path.data[saved] = '\0';
}

/* An integer, or a real with an integral value, within [min, max]. */
static bool integer_in(const json_t *v, long long min, long long max)
{
	if (json_is_integer(v)) {
		long long n = json_integer_value(v);

		return n >= min && n <= max;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);

		/* The bounds as doubles: max + 1 is exact for 2^31 and 2^63. */
		return d == (double)(long long)d && d >= (double)min && d < (double)max + 1.0;
	}
	return false;
}

/* Go's base64.StdEncoding: padded, and CR/LF anywhere are skipped. */
static bool base64_valid(const char *s)
{
	size_t n = 0, pad = 0;

	for (; *s; s++) {
		if (*s == '\r' || *s == '\n')
			continue;
		if (*s == '=') {
			pad++;
		} else if (pad || !(('A' <= *s && *s <= 'Z') || ('a' <= *s && *s <= 'z') ||
				    ('0' <= *s && *s <= '9') || *s == '+' || *s == '/')) {
			return false;
		}
		n++;
	}
	return n % 4 == 0 && pad <= 2;
}

/* A valid scalar of prim, or the value a type problem is reported for. */
static bool prim_ok(enum prim p, const json_t *v)
{
	struct quantity q;
	int64_t ns;
	int err;

	switch (p) {
	case P_STRING:
		return json_is_string(v);
	case P_INT32:
		return integer_in(v, INT32_MIN, INT32_MAX);
	case P_INT64:
		return integer_in(v, INT64_MIN, INT64_MAX);
	case P_BOOL:
		return json_is_boolean(v);
	case P_DOUBLE:
		return json_is_number(v);
	case P_BYTES:
		return json_is_string(v) && base64_valid(json_string_value(v));
	case P_QUANTITY:
		/* Too large is not a decoding error upstream: it saturates. */
		err = quantity_parse_json(v, &q);
		return err == 0 || err == -ERANGE;
	case P_INTSTR:
		return json_is_string(v) || integer_in(v, INT32_MIN, INT32_MAX);
	case P_TIME:
	case P_MICROTIME:
		if (!json_is_string(v))
			return false;
		err = ktime_parse(json_string_value(v), &ns);
		return err == 0 || err == -ERANGE;
	case P_FIELDSV1:
	case P_OBJECT:
		return json_is_object(v);
	case P_COUNT:
		break;
	}
	return false;
}

static void check_object(struct walk *w, const struct stype *t, const json_t *obj, int depth);

static void check_scalar(struct walk *w, const struct sfield *f, const json_t *v, int depth)
{
	if (json_is_null(v))
		return;
	if (!prim_ok(f->prim, v)) {
		report_invalid(w, prims[f->prim].expected, json_kind_name(v));
		return;
	}
	if (f->prim == P_OBJECT)
		check_object(w, f->type, v, depth + 1);
}

static void check_field(struct walk *w, const struct sfield *f, const json_t *v, int depth)
{
	const char *key;
	json_t *elem;
	size_t i, saved;

	if (json_is_null(v))
		return;
	switch (f->cont) {
	case C_NONE:
		check_scalar(w, f, v, depth);
		return;
	case C_LIST:
		if (!json_is_array(v)) {
			report_invalid(w, "array", json_kind_name(v));
			return;
		}
		json_array_foreach(v, i, elem) {
			saved = path_push_index(w, i);
			check_scalar(w, f, elem, depth + 1);
			path_pop(w, saved);
		}
		return;
	case C_MAP:
		if (!json_is_object(v)) {
			report_invalid(w, "object", json_kind_name(v));
			return;
		}
		json_object_foreach((json_t *)v, key, elem) {
			saved = path_push_key(w, key);
			check_scalar(w, f, elem, depth + 1);
			path_pop(w, saved);
		}
		return;
	}
}

static void check_object(struct walk *w, const struct stype *t, const json_t *obj, int depth)
{
	const char *key;
	json_t *v;

	if (depth > SCHEMA_MAX_DEPTH) {
		if (!w->too_deep) {
			w->too_deep = true;
			report_invalid(w,
				       "at most " STRINGIFY(SCHEMA_MAX_DEPTH) " levels of nesting",
				       "deeper");
		}
		return;
	}
	json_object_foreach((json_t *)obj, key, v) {
		const struct sfield *f = field_find(t, key);
		size_t saved = path_push_field(w, key);

		if (f)
			check_field(w, f, v, depth);
		else
			report_unknown(w);
		path_pop(w, saved);
	}
}

int schema_check(const char *group, const char *version, const char *kind, const json_t *obj,
		 json_t *problems)
{
	const struct skind *k;
	struct walk w = { .problems = problems };

	registry_init();
	k = kind_find(group, version, kind);
	if (!k || !obj || json_is_null(obj))
		return 0;
	if (!json_is_object(obj))
		report_invalid(&w, "object", json_kind_name(obj));
	else
		check_object(&w, k->type, obj, 0);
	buf_free(&w.path);
	return w.count;
}

/* ---- OpenAPI ---- */

static json_t *ref_to(const char *component)
{
	return json_pack("{s:s+}", "$ref", COMPONENT_PREFIX, component);
}

static json_t *prim_schema(enum prim p, const struct stype *type)
{
	json_t *s;

	if (p == P_OBJECT)
		return ref_to(type->name);
	if (prims[p].component)
		return ref_to(prims[p].component);
	s = json_pack("{s:s}", "type", prims[p].type);
	if (prims[p].format)
		json_object_set_new(s, "format", json_string(prims[p].format));
	return s;
}

/* The components that document primitives, as upstream's v3 documents them. */
static json_t *prim_component(enum prim p)
{
	switch (p) {
	case P_QUANTITY:
		return json_pack("{s:[{s:s},{s:s}]}", "oneOf", "type", "string", "type", "number");
	case P_INTSTR:
		return json_pack("{s:s, s:[{s:s},{s:s}], s:b}", "format", "int-or-string", "oneOf",
				 "type", "integer", "type", "string", "x-kubernetes-int-or-string",
				 1);
	case P_TIME:
	case P_MICROTIME:
		return json_pack("{s:s, s:s}", "type", "string", "format", "date-time");
	case P_FIELDSV1:
		return json_pack("{s:s}", "type", "object");
	default:
		break;
	}
	return NULL;
}

static json_t *split_keys(const char *keys)
{
	json_t *arr = json_array();
	const char *p = keys;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		json_array_append_new(arr, json_stringn(p, n));
		if (!comma)
			break;
		p = comma + 1;
	}
	return arr;
}

static json_t *field_schema(const struct sfield *f)
{
	json_t *elem = prim_schema(f->prim, f->type), *s;

	switch (f->cont) {
	case C_LIST:
		s = json_pack("{s:s, s:o}", "type", "array", "items", elem);
		break;
	case C_MAP:
		s = json_pack("{s:s, s:o}", "type", "object", "additionalProperties", elem);
		break;
	default:
		s = elem;
		break;
	}
	if (f->strategy)
		json_object_set_new(s, "x-kubernetes-patch-strategy", json_string(f->strategy));
	if (f->merge_key)
		json_object_set_new(s, "x-kubernetes-patch-merge-key", json_string(f->merge_key));
	if (f->list_type)
		json_object_set_new(s, "x-kubernetes-list-type", json_string(f->list_type));
	if (f->list_keys)
		json_object_set_new(s, "x-kubernetes-list-map-keys", split_keys(f->list_keys));
	return s;
}

static json_t *type_schema(const struct stype *t)
{
	json_t *props = json_object(), *gvks = json_array();

	for (size_t i = 0; i < t->nfields; i++)
		json_object_set_new(props, t->fields[i].name, field_schema(&t->fields[i]));
	for (size_t i = 0; i < nkinds; i++) {
		if (kinds[i].type == t)
			json_array_append_new(gvks, json_pack("{s:s, s:s, s:s}", "group",
							      kinds[i].group, "kind", kinds[i].kind,
							      "version", kinds[i].version));
	}
	if (json_array_size(gvks))
		return json_pack("{s:s, s:o, s:o}", "type", "object", "properties", props,
				 "x-kubernetes-group-version-kind", gvks);
	json_decref(gvks);
	return json_pack("{s:s, s:o}", "type", "object", "properties", props);
}

/* Mark t and every type and primitive component reachable from it. */
static void mark_reachable(const struct stype *t, bool *type_used, bool *prim_used)
{
	size_t idx = (size_t)(t - types);

	if (type_used[idx])
		return;
	type_used[idx] = true;
	for (size_t i = 0; i < t->nfields; i++) {
		const struct sfield *f = &t->fields[i];

		prim_used[f->prim] = true;
		if (f->prim == P_OBJECT)
			mark_reachable(f->type, type_used, prim_used);
	}
}

static void mark_root(const char *short_name, bool *type_used, bool *prim_used)
{
	char *full = expand_name(short_name, "");
	const struct stype *t = type_find(full);

	free(full);
	if (t)
		mark_reachable(t, type_used, prim_used);
}

json_t *schema_openapi_components(const char *group, const char *version)
{
	bool *type_used, prim_used[P_COUNT] = { false };
	bool served = false;
	json_t *out;

	registry_init();
	if (!group || !version)
		return NULL;
	type_used = xcalloc(ntypes, sizeof(*type_used));
	for (size_t i = 0; i < nkinds; i++) {
		if (strcmp(kinds[i].group, group) || strcmp(kinds[i].version, version))
			continue;
		served = true;
		mark_reachable(kinds[i].type, type_used, prim_used);
	}
	if (!served) {
		free(type_used);
		return NULL;
	}
	for (size_t i = 0; i < schema_doc_extra_src_count; i++) {
		if (!strcmp(schema_doc_extra_src[i][0], group) &&
		    !strcmp(schema_doc_extra_src[i][1], version))
			mark_root(schema_doc_extra_src[i][2], type_used, prim_used);
	}
	/* Every operation answers errors with a Status. */
	mark_root("meta.Status", type_used, prim_used);

	out = json_object();
	for (size_t i = 0; i < ntypes; i++) {
		if (type_used[i])
			json_object_set_new(out, types[i].name, type_schema(&types[i]));
	}
	for (int p = 0; p < P_COUNT; p++) {
		if (prim_used[p] && prims[p].component)
			json_object_set_new(out, prims[p].component, prim_component(p));
	}
	free(type_used);
	return out;
}
