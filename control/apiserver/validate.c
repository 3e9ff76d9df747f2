/*
 * validate.c - validation of the built-in kinds, check for check as the upstream API
 * server's pkg/apis/{core,apps,discovery,coordination}/validation packages do it.
 *
 * Design. The validator walks the v1 JSON directly instead of decoding into structs: a
 * manifest is a loosely typed tree, and a struct decoder would have to invent its own
 * error for every wrong type before any real check ran. So every read goes through a
 * getter that knows the field path it is at and reports a value of the wrong JSON type
 * as one FieldValueTypeInvalid cause, treating the field as absent afterwards; a bad
 * `spec` therefore yields one cause, not a cascade. The current field path is one
 * growable buffer that each level extends and truncates back (p_child / p_index /
 * p_key and p_restore), so paths are spelt exactly as field.Path prints them:
 * "spec.containers[0].ports[1].hostPort", "data[key]", ".../labels" for map entries.
 *
 * Messages are built by field.ErrorBody()'s rules ("Required value: detail",
 * "Invalid value: \"x\": detail", "Unsupported value: \"x\": supported values: ...")
 * with upstream's detail strings, because clients and people grep for them. Where
 * upstream reports at an odd path (taints under metadata, a volume's downwardAPI items
 * without index, "allocateLoadBalancerNodePorts" without "spec") the odd path is kept:
 * matching the real server matters more than tidiness. Label keys and values go
 * through lib/selector so the selector parser and object validation never disagree.
 *
 * What is left to other layers, as upstream leaves it outside validation:
 * resourceVersion preconditions (the store), node-port and cluster-IP ranges (the
 * allocators), name generation, and the copying of uid, creationTimestamp, generation
 * and allocated IPs from the old object into an update (rest.BeforeUpdate); an update
 * that omits uid or creationTimestamp is therefore accepted here.
 *
 * Rejected: a table-driven schema (path -> type -> rule) was considered; the rules are
 * too conditional (headless services, restartable init containers, percent-or-int)
 * for a table to stay readable, and upstream's own code is imperative.
 */
#include "control/apiserver/validate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "quantity.h"
#include "selector.h"
#include "util.h"

/* ------------------------------------------------------------------ context, paths, causes */

struct vctx {
	json_t *causes;	 /* array the causes go to (borrowed) */
	int n;		 /* causes appended */
	struct buf path; /* current field path */
};

static size_t p_child(struct vctx *v, const char *name)
{
	size_t old = v->path.len;

	/* A child that is itself an index or key ("[0]") attaches without a dot. */
	if (old && name[0] != '[')
		buf_append(&v->path, ".", 1);
	buf_append(&v->path, name, strlen(name));
	return old;
}

static size_t p_index(struct vctx *v, size_t i)
{
	size_t old = v->path.len;

	buf_appendf(&v->path, "[%zu]", i);
	return old;
}

static size_t p_key(struct vctx *v, const char *key)
{
	size_t old = v->path.len;

	buf_append(&v->path, "[", 1);
	buf_append(&v->path, key, strlen(key));
	buf_append(&v->path, "]", 1);
	return old;
}

static void buf_truncate(struct buf *b, size_t len)
{
	b->len = len;
	if (b->data)
		b->data[len] = '\0';
}

static void p_restore(struct vctx *v, size_t len)
{
	buf_truncate(&v->path, len);
}

static void put_str(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s, 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* Go's %q: printable text as is, quotes and backslashes escaped, control bytes spelt. */
static void put_quoted(struct buf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	buf_append(b, "\"", 1);
	while (*s) {
		size_t n = utf8_len(s);

		if (*s == '"' || *s == '\\') {
			buf_appendf(b, "\\%c", *s);
		} else if (*s >= 0x20 && *s < 0x7f) {
			buf_append(b, s, 1);
		} else if (*s == '\n') {
			put_str(b, "\\n");
		} else if (*s == '\t') {
			put_str(b, "\\t");
		} else if (*s == '\r') {
			put_str(b, "\\r");
		} else if (*s >= 0x80 && n) {
			buf_append(b, s, n);
			s += n;
			continue;
		} else {
			buf_appendf(b, "\\x%02x", *s);
		}
		s++;
	}
	buf_append(b, "\"", 1);
}

/* A bad value as field.ErrorBody prints it: strings quoted, numbers bare, the rest JSON. */
static void put_value(struct buf *b, const json_t *j)
{
	char *s;

	switch (j ? json_typeof(j) : JSON_NULL) {
	case JSON_STRING:
		put_quoted(b, json_string_value(j));
		break;
	case JSON_INTEGER:
		buf_appendf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		break;
	case JSON_REAL:
		buf_appendf(b, "%g", json_real_value(j));
		break;
	case JSON_TRUE:
		put_str(b, "true");
		break;
	case JSON_FALSE:
		put_str(b, "false");
		break;
	case JSON_NULL:
		put_str(b, "null");
		break;
	default:
		s = jsonx_dumps_compact(j);
		put_str(b, s ? s : "null");
		free(s);
	}
}

/* jansson refuses invalid UTF-8; a key that slipped through still yields a cause. */
static json_t *json_text(const char *s)
{
	json_t *j = json_string(s);

	return j ? j : json_string("<invalid UTF-8>");
}

/* Append one cause at the current path (plus child) and take msg's contents. */
static void v_emit(struct vctx *v, const char *child, const char *reason, struct buf *msg)
{
	size_t mark = v->path.len;
	json_t *cause = json_object();

	if (child)
		p_child(v, child);
	json_object_set_new(cause, "reason", json_string(reason));
	json_object_set_new(cause, "message", json_text(msg->data ? msg->data : ""));
	if (v->path.len)
		json_object_set_new(cause, "field", json_text(v->path.data));
	json_array_append_new(v->causes, cause);
	v->n++;
	p_restore(v, mark);
	buf_free(msg);
}

static void put_detail(struct buf *b, const char *detail)
{
	if (detail && *detail)
		buf_appendf(b, ": %s", detail);
}

/* "<head>" plus ": detail" (Required, Forbidden, Too long). */
static void v_plain(struct vctx *v, const char *child, const char *reason, const char *head,
		    const char *detail)
{
	struct buf m = { 0 };

	put_str(&m, head);
	put_detail(&m, detail);
	v_emit(v, child, reason, &m);
}

/* "<head>: <value>" plus ": detail"; the value is one of jv, sv or iv. */
static void v_value(struct vctx *v, const char *child, const char *reason, const char *head,
		    const json_t *jv, const char *sv, const long long *iv, const char *detail)
{
	struct buf m = { 0 };

	put_str(&m, head);
	put_str(&m, ": ");
	if (sv)
		put_quoted(&m, sv);
	else if (iv)
		buf_appendf(&m, "%lld", *iv);
	else
		put_value(&m, jv);
	put_detail(&m, detail);
	v_emit(v, child, reason, &m);
}

static void v_required(struct vctx *v, const char *child, const char *detail)
{
	v_plain(v, child, "FieldValueRequired", "Required value", detail);
}

static void v_forbidden(struct vctx *v, const char *child, const char *detail)
{
	v_plain(v, child, "FieldValueForbidden", "Forbidden", detail);
}

static void v_too_long(struct vctx *v, const char *child, long long max)
{
	char d[64];

	snprintf(d, sizeof(d), "may not be more than %lld bytes", max);
	v_plain(v, child, "FieldValueTooLong", "Too long", d);
}

static void v_too_many(struct vctx *v, const char *child, long long n, long long max)
{
	char d[64];

	snprintf(d, sizeof(d), "must have at most %lld items", max);
	v_value(v, child, "FieldValueTooMany", "Too many", NULL, NULL, &n, d);
}

static void v_invalid_s(struct vctx *v, const char *child, const char *val, const char *detail)
{
	v_value(v, child, "FieldValueInvalid", "Invalid value", NULL, val, NULL, detail);
}

static void v_invalid_i(struct vctx *v, const char *child, long long val, const char *detail)
{
	v_value(v, child, "FieldValueInvalid", "Invalid value", NULL, NULL, &val, detail);
}

static void v_invalid_j(struct vctx *v, const char *child, const json_t *val, const char *detail)
{
	v_value(v, child, "FieldValueInvalid", "Invalid value", val, NULL, NULL, detail);
}

static void v_duplicate_s(struct vctx *v, const char *child, const char *val)
{
	v_value(v, child, "FieldValueDuplicate", "Duplicate value", NULL, val, NULL, NULL);
}

static void v_duplicate_j(struct vctx *v, const char *child, const json_t *val, const char *detail)
{
	v_value(v, child, "FieldValueDuplicate", "Duplicate value", val, NULL, NULL, detail);
}

static void v_not_found(struct vctx *v, const char *child, const char *val)
{
	v_value(v, child, "FieldValueNotFound", "Not found", NULL, val, NULL, NULL);
}

static void put_supported(struct buf *m, const char *const *ok)
{
	put_str(m, ": supported values: ");
	for (size_t i = 0; ok[i]; i++) {
		if (i)
			put_str(m, ", ");
		put_quoted(m, ok[i]);
	}
}

/* NotSupported with the value as a string (sv) or as JSON (jv); ok ends with NULL. */
static void v_unsupported(struct vctx *v, const char *child, const char *sv, const json_t *jv,
			  const char *const *ok)
{
	struct buf m = { 0 };

	put_str(&m, "Unsupported value: ");
	if (sv)
		put_quoted(&m, sv);
	else
		put_value(&m, jv);
	put_supported(&m, ok);
	v_emit(v, child, "FieldValueNotSupported", &m);
}

static const char *json_type_name(const json_t *j)
{
	switch (json_typeof(j)) {
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
	default:
		return "null";
	}
}

static void v_type(struct vctx *v, const char *child, const json_t *val, const char *want)
{
	char d[64];

	snprintf(d, sizeof(d), "must be of type %s", want);
	v_value(v, child, "FieldValueTypeInvalid", "Invalid value", NULL, json_type_name(val), NULL,
		d);
}

static bool str_in(const char *s, const char *const *set)
{
	for (size_t i = 0; set[i]; i++)
		if (!strcmp(s, set[i]))
			return true;
	return false;
}

/* ------------------------------------------------------------------ typed getters */

enum want { W_OBJECT, W_ARRAY, W_STRING, W_INT, W_BOOL };

static const char *const want_names[] = { "object", "array", "string", "integer", "boolean" };

static bool is_integral(const json_t *j)
{
	double d;

	if (json_is_integer(j))
		return true;
	if (!json_is_real(j))
		return false;
	d = json_real_value(j);
	return d == (double)(long long)d && d >= -9.2e18 && d <= 9.2e18;
}

static bool has_type(const json_t *j, enum want w)
{
	switch (w) {
	case W_OBJECT:
		return json_is_object(j);
	case W_ARRAY:
		return json_is_array(j);
	case W_STRING:
		return json_is_string(j);
	case W_INT:
		return is_integral(j);
	default:
		return json_is_boolean(j);
	}
}

/*
 * obj[key] when it has the wanted JSON type; NULL when obj is not an object, the key is
 * absent or null, or the value has another type, which is reported (and sets *bad).
 */
static json_t *get_member(struct vctx *v, const json_t *obj, const char *key, enum want w,
			  bool *bad)
{
	json_t *j;

	if (bad)
		*bad = false;
	if (!json_is_object(obj))
		return NULL;
	j = json_object_get(obj, key);
	if (!j || json_is_null(j))
		return NULL;
	if (has_type(j, w))
		return j;
	v_type(v, key, j, want_names[w]);
	if (bad)
		*bad = true;
	return NULL;
}

static json_t *g_obj(struct vctx *v, const json_t *obj, const char *key)
{
	return get_member(v, obj, key, W_OBJECT, NULL);
}

static json_t *g_arr(struct vctx *v, const json_t *obj, const char *key)
{
	return get_member(v, obj, key, W_ARRAY, NULL);
}

/* The string at key: "" when absent or null (Go's zero value), NULL when of another type. */
static const char *g_str(struct vctx *v, const json_t *obj, const char *key)
{
	bool bad;
	json_t *j = get_member(v, obj, key, W_STRING, &bad);

	if (bad)
		return NULL;
	return j ? json_string_value(j) : "";
}

static long long int_value(const json_t *j)
{
	return json_is_integer(j) ? (long long)json_integer_value(j)
				  : (long long)json_real_value(j);
}

/*
 * The integer at key: 1 and *out set when present, 0 and *out = 0 when absent or null,
 * -1 when of another type or (int32 fields) out of range, which is reported.
 */
static int g_int(struct vctx *v, const json_t *obj, const char *key, bool int32, long long *out)
{
	bool bad;
	json_t *j = get_member(v, obj, key, W_INT, &bad);
	long long val;

	*out = 0;
	if (bad)
		return -1;
	if (!j)
		return 0;
	val = int_value(j);
	if (int32 && (val < INT32_MIN || val > INT32_MAX)) {
		v_value(v, key, "FieldValueTypeInvalid", "Invalid value", NULL, NULL, &val,
			"must be of type int32");
		return -1;
	}
	*out = val;
	return 1;
}

/* true/false at key; def when absent, null or of another type (reported). */
static bool g_bool(struct vctx *v, const json_t *obj, const char *key, bool def)
{
	json_t *j = get_member(v, obj, key, W_BOOL, NULL);

	return j ? json_is_true(j) : def;
}

/* The element at the current path when it is an object; reports and returns NULL if not. */
static json_t *elem_obj(struct vctx *v, json_t *el)
{
	if (json_is_object(el))
		return el;
	v_type(v, NULL, el, "object");
	return NULL;
}

static const char *elem_str(struct vctx *v, json_t *el)
{
	if (json_is_string(el))
		return json_string_value(el);
	v_type(v, NULL, el, "string");
	return NULL;
}

/*
 * Walks the objects of the array obj[key] with the path at "<key>[i]" for each one;
 * elements of another type are reported and skipped. The walk ends with the path
 * restored, so a loop over it must run to the end (no break).
 */
struct iter {
	json_t *arr;
	size_t i;     /* index of the next element */
	size_t outer; /* path length before the key */
	size_t list;  /* path length at the key */
};

static struct iter iter_objs(struct vctx *v, const json_t *obj, const char *key)
{
	struct iter it = { .arr = g_arr(v, obj, key), .outer = v->path.len };

	p_child(v, key);
	it.list = v->path.len;
	return it;
}

static json_t *next_obj(struct vctx *v, struct iter *it)
{
	while (it->i < json_array_size(it->arr)) {
		json_t *el = json_array_get(it->arr, it->i);

		p_restore(v, it->list);
		p_index(v, it->i++);
		if (json_is_object(el))
			return el;
		v_type(v, NULL, el, "object");
	}
	p_restore(v, it->outer);
	return NULL;
}

/* Raw reads without reporting, for fields another check already type-checked. */
static const char *raw_str(const json_t *obj, const char *key)
{
	return jsonx_str(obj, key, "");
}

static bool present(const json_t *obj, const char *key)
{
	json_t *j = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return j && !json_is_null(j);
}

/* Non-empty object or array at key (Go: len(x) > 0). */
static bool nonempty(const json_t *obj, const char *key)
{
	json_t *j = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return (json_is_array(j) && json_array_size(j)) ||
	       (json_is_object(j) && json_object_size(j));
}

/* ------------------------------------------------------------------ format checks */

/*
 * Each check appends zero or more detail messages to a list kept in a struct buf,
 * one per line, in upstream's order; v_each reports every one as Invalid.
 */
static void m_add(struct buf *l, const char *msg)
{
	if (l->len)
		buf_append(l, "\n", 1);
	put_str(l, msg);
}

static int v_each(struct vctx *v, const char *child, const char *sv, const json_t *jv,
		  struct buf *l)
{
	int n = 0;
	char *line, *save = NULL;

	if (!l->len) {
		buf_free(l);
		return 0;
	}
	for (line = strtok_r(l->data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sv)
			v_invalid_s(v, child, sv, line);
		else
			v_invalid_j(v, child, jv, line);
		n++;
	}
	buf_free(l);
	return n;
}

#define RANGE_PORT "must be between 1 and 65535, inclusive"
#define NOT_NEGATIVE "must be greater than or equal to 0"
#define IMMUTABLE "field is immutable"
#define DNS_LABEL_MSG                                                                       \
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or " \
	"'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "  \
	"'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
#define DNS_SUBDOMAIN_MSG                                                                     \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, " \
	"'-' or '.', and must start and end with an alphanumeric character (e.g. "            \
	"'example.com', regex used for validation is "                                        \
	"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define DNS_SUBDOMAIN_US_MSG                                                                  \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, " \
	"'_', '-' or '.', and must start and end with an alphanumeric character (e.g. "       \
	"'example.com', regex used for validation is "                                        \
	"'_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*')"
#define DNS1035_MSG                                                                          \
	"a DNS-1035 label must consist of lower case alphanumeric characters or '-', start " \
	"with an alphabetic character, and end with an alphanumeric character (e.g. "        \
	"'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
#define CONFIG_KEY_MSG                                                                       \
	"a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. " \
	"'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "          \
	"'[-._a-zA-Z0-9]+')"
#define PERCENT_MSG                                                                        \
	"a valid percent string must be a numeric string followed by an ending '%' (e.g. " \
	"'1%',  or '93%', regex used for validation is '[0-9]+%')"
#define HEADER_MSG                                                                  \
	"a valid HTTP header must consist of alphanumeric characters or '-' (e.g. " \
	"'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')"
#define ENV_NAME_MSG                                                                         \
	"a valid environment variable name must consist only of printable ASCII characters " \
	"other than '='"
#define QUANTITY_MSG                                    \
	"quantities must match the regular expression " \
	"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One DNS label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, '_' too when underscore (leading '_' ok). */
static bool label_chars_ok(const char *s, size_t n, bool underscore, bool alpha_first)
{
	if (underscore && n && s[0] == '_') {
		s++;
		n--;
	}
	if (!n || !lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
		return false;
	if (alpha_first && !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!lower_alnum(s[i]) && s[i] != '-' && !(underscore && s[i] == '_'))
			return false;
	return true;
}

static bool subdomain_chars_ok(const char *s, bool underscore)
{
	const char *dot;

	for (;;) {
		dot = strchr(s, '.');
		if (!label_chars_ok(s, dot ? (size_t)(dot - s) : strlen(s), underscore, false))
			return false;
		if (!dot)
			return true;
		s = dot + 1;
	}
}

static void chk_dns_label(const char *s, struct buf *l)
{
	if (strlen(s) > 63)
		m_add(l, "must be no more than 63 characters");
	if (!label_chars_ok(s, strlen(s), false, false))
		m_add(l, subdomain_chars_ok(s, false) ? "must not contain dots" : DNS_LABEL_MSG);
}

static void chk_dns_subdomain(const char *s, struct buf *l)
{
	if (strlen(s) > 253)
		m_add(l, "must be no more than 253 characters");
	if (!subdomain_chars_ok(s, false))
		m_add(l, DNS_SUBDOMAIN_MSG);
}

static void chk_dns1035(const char *s, struct buf *l)
{
	if (strlen(s) > 63)
		m_add(l, "must be no more than 63 characters");
	if (!label_chars_ok(s, strlen(s), false, true))
		m_add(l, DNS1035_MSG);
}

/* Qualified name (label key) via lib/selector, whose "; "-joined reasons become lines. */
/* lib/selector joins its reasons with "; "; each becomes a line of l. */
static void add_reasons(struct buf *l, char *why)
{
	char *p, *start;

	for (start = why; (p = strstr(start, "; ")); start = p + 2) {
		*p = '\0';
		m_add(l, start);
	}
	m_add(l, start);
}

/* Qualified name (label key) via lib/selector, so selectors and objects agree. */
static void chk_qualified(const char *s, struct buf *l)
{
	char why[1024];

	if (selector_validate_key(s, why, sizeof(why)))
		add_reasons(l, why);
}

static void chk_label_value(const char *s, struct buf *l)
{
	char why[512];

	if (selector_validate_value(s, why, sizeof(why)))
		add_reasons(l, why);
}

/* IANA_SVC_NAME: <= 15 of [-a-z0-9], one letter at least, no "--", no hyphen at the ends. */
static void chk_port_name(const char *s, struct buf *l)
{
	size_t n = strlen(s);
	bool chars = n > 0, letter = false;

	if (n > 15)
		m_add(l, "must be no more than 15 characters");
	for (size_t i = 0; i < n; i++) {
		if (!lower_alnum(s[i]) && s[i] != '-')
			chars = false;
		if (s[i] >= 'a' && s[i] <= 'z')
			letter = true;
	}
	if (!chars)
		m_add(l, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
	if (!letter)
		m_add(l, "must contain at least one letter (a-z)");
	if (strstr(s, "--"))
		m_add(l, "must not contain consecutive hyphens");
	if (n && (s[0] == '-' || s[n - 1] == '-'))
		m_add(l, "must not begin or end with a hyphen");
}

static void chk_chdir_prefix(const char *s, struct buf *l)
{
	if (!strcmp(s, "."))
		m_add(l, "must not be '.'");
	else if (!strcmp(s, ".."))
		m_add(l, "must not be '..'");
	else if (!strncmp(s, "..", 2))
		m_add(l, "must not start with '..'");
}

static void chk_config_key(const char *s, struct buf *l)
{
	bool ok = *s != '\0';

	if (strlen(s) > 253)
		m_add(l, "must be no more than 253 characters");
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'))
			ok = false;
	if (!ok)
		m_add(l, CONFIG_KEY_MSG);
	chk_chdir_prefix(s, l);
}

/*
 * RelaxedEnvironmentVariableValidation is on by default upstream since 1.32: any
 * printable ASCII but '=' (the older C-identifier-like rule rejects "my.var" forms that
 * real workloads use).
 */
static void chk_env_name(const char *s, struct buf *l)
{
	if (!*s)
		m_add(l, "environment variable name must be non-empty");
	for (const char *p = s; *p; p++) {
		if (*p < 0x20 || *p > 0x7e || *p == '=') {
			m_add(l, ENV_NAME_MSG);
			break;
		}
	}
}

static bool percent_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || s[n - 1] != '%')
		return false;
	for (size_t i = 0; i + 1 < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool header_name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

enum name_kind { NAME_SUBDOMAIN, NAME_LABEL, NAME_1035, NAME_ANY };

/* apimachinery's NameIs* with prefix=true: a generateName may end in '-'. */
static void chk_name(enum name_kind k, const char *s, bool prefix, struct buf *l)
{
	char *copy = xstrdup(s);
	size_t n = strlen(copy);

	if (prefix && n && copy[n - 1] == '-')
		copy[n - 1] = 'a';
	switch (k) {
	case NAME_SUBDOMAIN:
		chk_dns_subdomain(copy, l);
		break;
	case NAME_LABEL:
		chk_dns_label(copy, l);
		break;
	case NAME_1035:
		chk_dns1035(copy, l);
		break;
	case NAME_ANY:
		break;
	}
	free(copy);
}

/* Report the messages of a name-like check of s at child. */
static void v_name(struct vctx *v, const char *child, const char *s, enum name_kind k)
{
	struct buf l = { 0 };

	chk_name(k, s, false, &l);
	v_each(v, child, s, NULL, &l);
}

static void v_qualified(struct vctx *v, const char *child, const char *s)
{
	struct buf l = { 0 };

	chk_qualified(s, &l);
	v_each(v, child, s, NULL, &l);
}

static void v_label_value(struct vctx *v, const char *child, const char *s)
{
	struct buf l = { 0 };

	chk_label_value(s, &l);
	v_each(v, child, s, NULL, &l);
}

int validate_dns1123_label(const char *s)
{
	struct buf l = { 0 };
	int ret;

	if (!s)
		return -EINVAL;
	chk_dns_label(s, &l);
	ret = l.len ? -EINVAL : 0;
	buf_free(&l);
	return ret;
}

int validate_dns1123_subdomain(const char *s)
{
	struct buf l = { 0 };
	int ret;

	if (!s)
		return -EINVAL;
	chk_dns_subdomain(s, &l);
	ret = l.len ? -EINVAL : 0;
	buf_free(&l);
	return ret;
}

/* ------------------------------------------------------------------ IP addresses */

/* An address as 16 bytes; IPv4 stored IPv4-mapped, as Go's net.IP does. */
struct ipaddr {
	unsigned char b[16];
};

/* Go's ParseIPSloppy for IPv4: four decimal parts <= 255, leading zeros allowed. */
static bool ip4_parse(const char *s, unsigned char out[4])
{
	for (int part = 0; part < 4; part++) {
		unsigned val = 0;
		int digits = 0;

		for (; *s >= '0' && *s <= '9'; s++, digits++) {
			val = val * 10 + (unsigned)(*s - '0');
			if (val > 255)
				return false;
		}
		if (!digits || (part < 3 && *s++ != '.'))
			return false;
		out[part] = (unsigned char)val;
	}
	return *s == '\0';
}

static bool ip_parse(const char *s, struct ipaddr *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (ip4_parse(s, ip->b + 12)) {
		ip->b[10] = ip->b[11] = 0xff;
		return true;
	}
	return strchr(s, ':') && inet_pton(AF_INET6, s, ip->b) == 1;
}

static bool ip_is4(const struct ipaddr *ip)
{
	static const unsigned char prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return !memcmp(ip->b, prefix, 12);
}

#define IP_MSG "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
#define CIDR_MSG "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"

/* IsValidIP: one cause when s is not an address; returns whether it is. */
static bool v_ip(struct vctx *v, const char *child, const char *s)
{
	struct ipaddr ip;

	if (ip_parse(s, &ip))
		return true;
	v_invalid_s(v, child, s, IP_MSG);
	return false;
}

static bool cidr_ok(const char *s)
{
	const char *slash = strchr(s, '/');
	char host[64];
	struct ipaddr ip;
	long bits;
	char *end;

	if (!slash || (size_t)(slash - s) >= sizeof(host) || !slash[1] || slash[1] == '+' ||
	    slash[1] == '-')
		return false;
	memcpy(host, s, (size_t)(slash - s));
	host[slash - s] = '\0';
	if (!ip_parse(host, &ip))
		return false;
	bits = strtol(slash + 1, &end, 10);
	if (*end || strlen(slash + 1) > 3)
		return false;
	return bits >= 0 && bits <= (strchr(host, ':') ? 128 : 32);
}

/*
 * ValidateNonSpecialIP: endpoints and external IPs may not be unspecified, loopback or
 * link-local, which are meaningless or node-local (metadata services).
 */
static void v_non_special_ip(struct vctx *v, const char *child, const char *s)
{
	struct ipaddr ip;
	const unsigned char *b = ip.b;
	char d[128];
	static const unsigned char zero[16], lo6[16] = { [15] = 1 };

	if (!ip_parse(s, &ip)) {
		v_invalid_s(v, child, s, "must be a valid IP address");
		return;
	}
	if ((ip_is4(&ip) && !b[12] && !b[13] && !b[14] && !b[15]) || !memcmp(b, zero, 16)) {
		snprintf(d, sizeof(d), "may not be unspecified (%.64s)", s);
		v_invalid_s(v, child, s, d);
	}
	if ((ip_is4(&ip) && b[12] == 127) || !memcmp(b, lo6, 16))
		v_invalid_s(v, child, s, "may not be in the loopback range (127.0.0.0/8, ::1/128)");
	if ((ip_is4(&ip) && b[12] == 169 && b[13] == 254) ||
	    (!ip_is4(&ip) && b[0] == 0xfe && (b[1] & 0xc0) == 0x80))
		v_invalid_s(v, child, s,
			    "may not be in the link-local range (169.254.0.0/16, fe80::/10)");
	if ((ip_is4(&ip) && b[12] == 224 && !b[13] && !b[14]) ||
	    (!ip_is4(&ip) && b[0] == 0xff && (b[1] & 0x0f) == 0x02))
		v_invalid_s(
			v, child, s,
			"may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)");
}

/* A list of up to two IPs (podIPs, clusterIPs, ...) must hold one of each family. */
static bool ips_dual_stack(const char *a, const char *b)
{
	struct ipaddr x, y;

	return ip_parse(a, &x) && ip_parse(b, &y) && ip_is4(&x) != ip_is4(&y);
}

/* ------------------------------------------------------------------ quantities */

static void q_string(const struct quantity *q, char *buf)
{
	if (quantity_format(q, buf, QUANTITY_BUFSZ))
		snprintf(buf, QUANTITY_BUFSZ, "?");
}

/* Parse the quantity j at the current path (plus child); reports a bad one. */
static bool v_quantity(struct vctx *v, const char *child, const json_t *j, struct quantity *q)
{
	int ret = quantity_parse_json(j, q);

	if (!ret)
		return true;
	if (json_is_string(j))
		v_invalid_s(v, child, json_string_value(j),
			    ret == -ERANGE ? "quantity is too large" : QUANTITY_MSG);
	else
		v_type(v, child, j, "string");
	return false;
}

/* ------------------------------------------------------------------ semantic equality */

/*
 * Equality as apiequality.Semantic compares decoded structs: an absent field equals its
 * zero value (null, "", 0, false, {} or []) because Go cannot tell them apart after
 * decoding. When they differ, the path of the first difference is appended to diff.
 */
static bool zeroish(const json_t *j)
{
	if (!j)
		return true;
	switch (json_typeof(j)) {
	case JSON_NULL:
	case JSON_FALSE:
		return true;
	case JSON_STRING:
		return !json_string_length(j);
	case JSON_INTEGER:
	case JSON_REAL:
		return json_number_value(j) == 0;
	case JSON_OBJECT:
		return !json_object_size(j);
	case JSON_ARRAY:
		return !json_array_size(j);
	default:
		return false;
	}
}

static bool sem_equal_depth(const json_t *a, const json_t *b, struct buf *diff, int depth)
{
	const char *key;
	json_t *val;
	size_t mark = diff ? diff->len : 0;

	if (zeroish(a) && zeroish(b))
		return true;
	/* Parsed input is at most 2048 deep; anything deeper only compares by identity. */
	if (depth > 4096)
		return a == b;
	if (!a || !b || json_typeof(a) != json_typeof(b))
		return false;
	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++) {
			if (diff)
				buf_appendf(diff, "[%zu]", i);
			if (!sem_equal_depth(json_array_get(a, i), json_array_get(b, i), diff,
					     depth + 1))
				return false;
			if (diff)
				buf_truncate(diff, mark);
		}
		return true;
	}
	if (!json_is_object(a))
		return jsonx_equal(a, b);
	json_object_foreach((json_t *)a, key, val) {
		if (diff)
			buf_appendf(diff, ".%s", key);
		if (!sem_equal_depth(val, json_object_get(b, key), diff, depth + 1))
			return false;
		if (diff)
			buf_truncate(diff, mark);
	}
	json_object_foreach((json_t *)b, key, val) {
		if (json_object_get(a, key))
			continue;
		if (diff)
			buf_appendf(diff, ".%s", key);
		if (!zeroish(val))
			return false;
		if (diff)
			buf_truncate(diff, mark);
	}
	return true;
}

static bool sem_equal(const json_t *a, const json_t *b, struct buf *diff)
{
	return sem_equal_depth(a, b, diff, 0);
}

/* ------------------------------------------------------------------ labels, selectors */

/* Each string of the array obj[key], at "<key>[i]". */
static void string_list(struct vctx *v, const json_t *obj, const char *key,
			void (*each)(struct vctx *, const char *))
{
	json_t *arr = g_arr(v, obj, key), *s;
	size_t i, m = p_child(v, key);

	json_array_foreach(arr, i, s) {
		size_t mi = p_index(v, i);

		if (elem_str(v, s))
			each(v, json_string_value(s));
		p_restore(v, mi);
	}
	p_restore(v, m);
}

static void each_label_value(struct vctx *v, const char *s)
{
	v_label_value(v, NULL, s);
}

/* A map of label keys to label values (labels, nodeSelector, matchLabels), at child. */
static void label_map(struct vctx *v, const json_t *map, const char *child)
{
	const char *k;
	json_t *val;
	size_t m;

	if (!json_is_object(map))
		return;
	m = p_child(v, child);
	json_object_foreach((json_t *)map, k, val) {
		if (!json_is_string(val)) {
			size_t mk = p_key(v, k);

			v_type(v, NULL, val, "string");
			p_restore(v, mk);
			continue;
		}
		/* Upstream reports both at the map's own path, not at [key]. */
		v_qualified(v, NULL, k);
		v_label_value(v, NULL, json_string_value(val));
	}
	p_restore(v, m);
}

/* label_map for obj[key], type-checked. */
static void label_map_at(struct vctx *v, const json_t *obj, const char *key)
{
	label_map(v, g_obj(v, obj, key), key);
}

/* metav1.LabelSelector {matchLabels, matchExpressions}, at the current path. */
static void label_selector(struct vctx *v, const json_t *sel)
{
	struct iter it;
	json_t *e;

	label_map_at(v, sel, "matchLabels");
	it = iter_objs(v, sel, "matchExpressions");
	while ((e = next_obj(v, &it))) {
		const char *op = g_str(v, e, "operator"), *key;
		json_t *vals = g_arr(v, e, "values");
		size_t n = json_array_size(vals);

		if (op && (!strcmp(op, "In") || !strcmp(op, "NotIn"))) {
			if (!n)
				v_required(v, "values",
					   "must be specified when `operator` is 'In' or 'NotIn'");
		} else if (op && (!strcmp(op, "Exists") || !strcmp(op, "DoesNotExist"))) {
			if (n)
				v_forbidden(v, "values",
					    "may not be specified when `operator` is "
					    "'Exists' or 'DoesNotExist'");
		} else if (op) {
			v_invalid_s(v, "operator", op, "not a valid selector operator");
		}
		key = g_str(v, e, "key");
		if (key)
			v_qualified(v, "key", key);
		string_list(v, e, "values", each_label_value);
	}
}

/* A selector with neither matchLabels nor matchExpressions entries. */
static bool selector_is_empty_json(const json_t *sel)
{
	return !nonempty(sel, "matchLabels") && !nonempty(sel, "matchExpressions");
}

/* ------------------------------------------------------------------ metadata */

enum ns_rule { NS_REQUIRED, NS_FORBIDDEN, NS_SKIP };

struct kind_info;

static const char *const std_finalizers[] = { "kubernetes", "orphan", "foregroundDeletion", NULL };

/*
 * Finalizer names (metadata.finalizers, Namespace spec.finalizers): qualified names,
 * and an unqualified one must be a standard finalizer. index_kube: upstream reports the
 * second rule at finalizers[i] for metadata but at the list for namespaces.
 */
static void finalizer_names(struct vctx *v, const json_t *arr, bool index_kube)
{
	bool orphan = false, fg = false;
	json_t *f;
	size_t i;

	json_array_foreach(arr, i, f) {
		const char *s;

		if (!json_is_string(f)) {
			size_t m = p_index(v, i);

			v_type(v, NULL, f, "string");
			p_restore(v, m);
			continue;
		}
		s = json_string_value(f);
		v_qualified(v, NULL, s);
		orphan |= !strcmp(s, "orphan");
		fg |= !strcmp(s, "foregroundDeletion");
		if (!index_kube && !strchr(s, '/') && !str_in(s, std_finalizers))
			v_invalid_s(v, NULL, s,
				    "name is neither a standard finalizer name nor is it fully "
				    "qualified");
	}
	if (orphan && fg)
		v_invalid_j(v, NULL, arr,
			    "finalizer orphan and foregroundDeletion cannot be both set");
	if (!index_kube)
		return;
	json_array_foreach(arr, i, f) {
		const char *s = json_string_value(f);

		if (s && !strchr(s, '/') && !str_in(s, std_finalizers)) {
			size_t m = p_index(v, i);

			v_invalid_s(v, NULL, s,
				    "name is neither a standard finalizer name nor is it fully "
				    "qualified");
			p_restore(v, m);
		}
	}
}

/* Annotation keys (qualified names, case-insensitively) and total size, at child. */
static void annotation_map(struct vctx *v, const json_t *map, const char *child)
{
	const char *k;
	json_t *val;
	size_t m, total = 0;

	if (!json_is_object(map))
		return;
	m = p_child(v, child);
	json_object_foreach((json_t *)map, k, val) {
		char *lower = xstrdup(k);
		struct buf l = { 0 };

		for (char *p = lower; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		chk_qualified(lower, &l);
		v_each(v, NULL, k, NULL, &l);
		free(lower);
		total += strlen(k);
		if (json_is_string(val)) {
			total += json_string_length(val);
		} else {
			size_t mk = p_key(v, k);

			v_type(v, NULL, val, "string");
			p_restore(v, mk);
		}
	}
	if (total > 256 * 1024)
		v_too_long(v, NULL, 256 * 1024);
	p_restore(v, m);
}

static void owner_references(struct vctx *v, const json_t *md)
{
	json_t *arr = g_arr(v, md, "ownerReferences"), *ref;
	struct buf first = { 0 };
	size_t i, m;

	if (!arr)
		return;
	/* Upstream validates each reference at the list's path, without an index. */
	m = p_child(v, "ownerReferences");
	json_array_foreach(arr, i, ref) {
		const char *av, *kind, *name, *uid, *slash, *version;

		if (!json_is_object(ref)) {
			size_t mi = p_index(v, i);

			v_type(v, NULL, ref, "object");
			p_restore(v, mi);
			continue;
		}
		av = g_str(v, ref, "apiVersion");
		kind = g_str(v, ref, "kind");
		name = g_str(v, ref, "name");
		uid = g_str(v, ref, "uid");
		if (av) {
			slash = strchr(av, '/');
			version = !slash ? av : strchr(slash + 1, '/') ? "" : slash + 1;
			if (!*version)
				v_invalid_s(v, "apiVersion", av, "version must not be empty");
		}
		if (kind && !*kind)
			v_invalid_s(v, "kind", kind, "must not be empty");
		if (name && !*name)
			v_invalid_s(v, "name", name, "must not be empty");
		if (uid && !*uid)
			v_invalid_s(v, "uid", uid, "must not be empty");
		if (av && kind && !strcmp(av, "v1") && !strcmp(kind, "Event"))
			v_invalid_j(v, NULL, ref,
				    "/v1, Kind=Event is disallowed from being an owner");
		if (jsonx_bool(ref, "controller", false)) {
			if (first.len) {
				char *d = xasprintf("Only one reference can have Controller set to "
						    "true. Found \"true\" in references for %s and "
						    "%s/%s",
						    first.data, raw_str(ref, "kind"),
						    raw_str(ref, "name"));

				v_invalid_j(v, NULL, arr, d);
				free(d);
			} else {
				buf_appendf(&first, "%s/%s", raw_str(ref, "kind"),
					    raw_str(ref, "name"));
			}
		}
	}
	buf_free(&first);
	p_restore(v, m);
}

static void managed_fields(struct vctx *v, const json_t *md)
{
	struct iter it = iter_objs(v, md, "managedFields");
	json_t *e;

	while ((e = next_obj(v, &it))) {
		const char *op = g_str(v, e, "operation"), *ft = g_str(v, e, "fieldsType");

		if (op && strcmp(op, "Apply") && strcmp(op, "Update"))
			v_invalid_s(v, "operation", op, "must be `Apply` or `Update`");
		if (ft && *ft && strcmp(ft, "FieldsV1"))
			v_invalid_s(v, "fieldsType", ft, "must be `FieldsV1`");
	}
}

/* The checks every write runs on metadata, create, update and status alike. */
static void meta_common(struct vctx *v, const json_t *md)
{
	long long gen;
	json_t *fin;

	if (g_int(v, md, "generation", false, &gen) == 1 && gen < 0)
		v_invalid_i(v, "generation", gen, NOT_NEGATIVE);
	label_map_at(v, md, "labels");
	annotation_map(v, g_obj(v, md, "annotations"), "annotations");
	owner_references(v, md);
	fin = g_arr(v, md, "finalizers");
	if (fin) {
		size_t m = p_child(v, "finalizers");

		finalizer_names(v, fin, true);
		p_restore(v, m);
	}
	managed_fields(v, md);
}

/* The metadata object, type-checked; *bad when it is not an object. */
static json_t *metadata_of(struct vctx *v, const json_t *obj, bool *bad)
{
	return get_member(v, obj, "metadata", W_OBJECT, bad);
}

/* name / generateName / namespace rules of a kind. */
static void meta_names(struct vctx *v, const json_t *md, enum name_kind nk, enum ns_rule ns)
{
	const char *name = g_str(v, md, "name"), *gen = g_str(v, md, "generateName");
	const char *nsv = g_str(v, md, "namespace");

	if (gen && *gen) {
		struct buf l = { 0 };

		chk_name(nk, gen, true, &l);
		v_each(v, "generateName", gen, NULL, &l);
	}
	/* The server generates the name from generateName after validation. */
	if (name && !*name && (!gen || !*gen))
		v_required(v, "name", "name or generateName is required");
	else if (name && *name)
		v_name(v, "name", name, nk);
	if (!nsv)
		return;
	if (ns == NS_REQUIRED && !*nsv)
		v_required(v, "namespace", "");
	else if (ns == NS_REQUIRED)
		v_name(v, "namespace", nsv, NAME_LABEL);
	else if (ns == NS_FORBIDDEN && *nsv)
		v_forbidden(v, "namespace", "not allowed on this type");
}

static void put_go_strings(struct buf *b, const json_t *list)
{
	json_t *s;
	size_t i;

	put_str(b, "[]string{");
	json_array_foreach(list, i, s) {
		if (i)
			put_str(b, ", ");
		put_quoted(b, json_string_value(s));
	}
	put_str(b, "}");
}

/*
 * Update rules (ValidateObjectMetaUpdate): identity fields may not change. uid,
 * creationTimestamp and the deletion fields are only compared when the new object
 * carries them, because upstream copies them from the old object before validating.
 */
static void meta_immutable(struct vctx *v, const json_t *md, const json_t *omd)
{
	static const char *const stamps[] = { "creationTimestamp", "deletionTimestamp",
					      "deletionGracePeriodSeconds", NULL };
	const char *n = raw_str(md, "name"), *o = raw_str(omd, "name");

	if (present(omd, "deletionTimestamp")) {
		json_t *nf = jsonx_arr(md, "finalizers");
		json_t *of = jsonx_arr(omd, "finalizers"), *extra = json_array(), *f;
		size_t i;

		json_array_foreach(nf, i, f) {
			bool found = false;
			size_t j;
			json_t *g;

			json_array_foreach(of, j, g)
				found |= jsonx_equal(f, g);
			if (!found && json_is_string(f))
				json_array_append(extra, f);
		}
		if (json_array_size(extra)) {
			struct buf d = { 0 };

			put_str(&d, "no new finalizers can be added if the object is being "
				    "deleted, found new finalizers ");
			put_go_strings(&d, extra);
			v_forbidden(v, "finalizers", d.data);
			buf_free(&d);
		}
		json_decref(extra);
	}
	if (strcmp(n, o))
		v_invalid_s(v, "name", n, IMMUTABLE);
	n = raw_str(md, "namespace");
	o = raw_str(omd, "namespace");
	if (strcmp(n, o))
		v_invalid_s(v, "namespace", n, IMMUTABLE);
	n = raw_str(md, "uid");
	if (*n && strcmp(n, raw_str(omd, "uid")))
		v_invalid_s(v, "uid", n, IMMUTABLE);
	for (size_t i = 0; stamps[i]; i++) {
		json_t *nv = json_object_get(md, stamps[i]);

		if (nv && !json_is_null(nv) && !jsonx_equal(nv, json_object_get(omd, stamps[i])))
			v_invalid_j(v, stamps[i], nv, IMMUTABLE);
	}
}

/* ------------------------------------------------------------------ pod: shared state */

/* What the checks of one pod spec need to know about the rest of it. */
struct podctx {
	bool is_pod;	     /* a Pod, not a template: stricter hostPort rule */
	bool host_users;     /* spec.hostUsers (default true) */
	bool have_grace;     /* terminationGracePeriodSeconds is set */
	long long grace;     /* its value, for lifecycle sleep actions */
	const char *restart; /* spec.restartPolicy */
	json_t *vols;	     /* valid volumes by name, for volumeMounts */
};

/* Detach the path below base (to report at an ancestor), and put it back. */
static char *p_cut(struct vctx *v, size_t base)
{
	char *tail = xstrdup(v->path.data ? v->path.data + base : "");

	p_restore(v, base);
	return tail;
}

static void p_paste(struct vctx *v, char *tail)
{
	put_str(&v->path, tail);
	free(tail);
}

#define FILE_MODE_MSG "must be a number between 0 and 0777 (octal), both inclusive"

static void file_mode(struct vctx *v, const json_t *obj, const char *key)
{
	long long mode;

	if (g_int(v, obj, key, true, &mode) == 1 && (mode < 0 || mode > 0777))
		v_invalid_i(v, key, mode, FILE_MODE_MSG);
}

static bool has_backsteps(const char *p)
{
	while (p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p = slash ? slash + 1 : NULL;
	}
	return false;
}

static void no_backsteps(struct vctx *v, const char *child, const char *p)
{
	if (has_backsteps(p))
		v_invalid_s(v, child, p, "must not contain '..'");
}

static void local_descending_path(struct vctx *v, const char *child, const char *p)
{
	if (p[0] == '/')
		v_invalid_s(v, child, p, "must be a relative path");
	no_backsteps(v, child, p);
}

static void local_non_reserved_path(struct vctx *v, const char *child, const char *p)
{
	local_descending_path(v, child, p);
	if (!strncmp(p, "..", 2) && strncmp(p, "../", 3))
		v_invalid_s(v, child, p, "must not start with '..'");
}

static void pull_policy(struct vctx *v, const json_t *obj, const char *key)
{
	static const char *const ok[] = { "Always", "IfNotPresent", "Never", NULL };
	const char *p = g_str(v, obj, key);

	if (p && !*p)
		v_required(v, key, "");
	else if (p && !str_in(p, ok))
		v_unsupported(v, key, p, NULL, ok);
}

/* src.items: KeyToPath entries of secret, configMap and projected sources. */
static void key_to_paths(struct vctx *v, const json_t *src, json_t *seen, size_t base,
			 const char *src_name)
{
	struct iter it = iter_objs(v, src, "items");
	json_t *e;

	while ((e = next_obj(v, &it))) {
		const char *k = g_str(v, e, "key"), *p = g_str(v, e, "path");

		if (k && !*k)
			v_required(v, "key", "");
		if (p && !*p)
			v_required(v, "path", "");
		if (p)
			local_non_reserved_path(v, "path", p);
		file_mode(v, e, "mode");
		/* Projected sources share one directory; upstream reports at the volume. */
		if (seen && p && *p && json_object_get(seen, p)) {
			char *tail = p_cut(v, base);

			v_invalid_s(v, NULL, src_name, "conflicting duplicate paths");
			p_paste(v, tail);
		} else if (seen && p && *p) {
			json_object_set_new(seen, p, json_true());
		}
	}
}

/* ------------------------------------------------------------------ downward API selectors */

static const char *const env_field_paths[] = { "metadata.name",
					       "metadata.namespace",
					       "metadata.uid",
					       "spec.nodeName",
					       "spec.serviceAccountName",
					       "status.hostIP",
					       "status.hostIPs",
					       "status.podIP",
					       "status.podIPs",
					       NULL };
static const char *const volume_field_paths[] = { "metadata.annotations", "metadata.labels",
						  "metadata.name",	  "metadata.namespace",
						  "metadata.uid",	  NULL };
static const char *const downward_labels[] = { "metadata.annotations",
					       "metadata.labels",
					       "metadata.name",
					       "metadata.namespace",
					       "metadata.uid",
					       "spec.nodeName",
					       "spec.restartPolicy",
					       "spec.serviceAccountName",
					       "spec.schedulerName",
					       "status.phase",
					       "status.hostIP",
					       "status.hostIPs",
					       "status.podIP",
					       "status.podIPs",
					       NULL };

/* fieldpath.SplitMaybeSubscriptedPath: "metadata.labels['k']" -> path and subscript. */
static bool split_subscript(const char *fp, char **path, char **sub)
{
	size_t n = strlen(fp);
	const char *open = strstr(fp, "['");

	if (n < 2 || strcmp(fp + n - 2, "']") || !open || open == fp || open + 2 > fp + n - 2)
		return false;
	*path = xstrndup(fp, (size_t)(open - fp));
	*sub = xstrndup(open + 2, (size_t)(fp + n - 2 - (open + 2)));
	return true;
}

/* ObjectFieldSelector (env valueFrom.fieldRef, downwardAPI items), at the selector. */
static void field_selector(struct vctx *v, const json_t *fs, const char *const *allowed)
{
	const char *av = g_str(v, fs, "apiVersion"), *fp = g_str(v, fs, "fieldPath");
	char *path = NULL, *sub = NULL, *d = NULL;

	if (!av || !fp)
		return;
	if (!*av) {
		v_required(v, "apiVersion", "");
		return;
	}
	if (!*fp) {
		v_required(v, "fieldPath", "");
		return;
	}
	if (strcmp(av, "v1")) {
		d = xasprintf("error converting fieldPath: unsupported pod version: %s", av);
	} else if (split_subscript(fp, &path, &sub)) {
		if (strcmp(path, "metadata.annotations") && strcmp(path, "metadata.labels"))
			d = xasprintf("error converting fieldPath: field label does not support "
				      "subscript: %s",
				      fp);
	} else if (!str_in(fp, downward_labels) && strcmp(fp, "spec.host")) {
		d = xasprintf("error converting fieldPath: field label not supported: %s", fp);
	}
	if (d) {
		v_invalid_s(v, "fieldPath", fp, d);
	} else if (sub && !strcmp(path, "metadata.annotations")) {
		for (char *p = sub; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		v_qualified(v, NULL, sub);
	} else if (sub) {
		v_qualified(v, NULL, sub);
	} else if (!str_in(strcmp(fp, "spec.host") ? fp : "spec.nodeName", allowed)) {
		v_unsupported(v, "fieldPath", fp, NULL, allowed);
	}
	free(d);
	free(path);
	free(sub);
}

/* ResourceFieldSelector; volume: downwardAPI files must name their container. */
static void resource_field_selector(struct vctx *v, const json_t *rs, bool volume)
{
	static const char *const ok[] = { "limits.cpu",
					  "limits.ephemeral-storage",
					  "limits.memory",
					  "requests.cpu",
					  "requests.ephemeral-storage",
					  "requests.memory",
					  NULL };
	static const char *const cpu_div[] = { "1m", "1", NULL };
	static const char *const mem_div[] = { "1",   "1k",  "1M",  "1G",  "1T",  "1P",	 "1E",
					       "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei", NULL };
	const char *cn = g_str(v, rs, "containerName"), *res = g_str(v, rs, "resource");
	json_t *div = json_object_get(rs, "divisor");
	struct quantity q;
	char qs[QUANTITY_BUFSZ];

	if (!cn || !res)
		return;
	if (volume && !*cn)
		v_required(v, "containerName", "");
	else if (!*res)
		v_required(v, "resource", "");
	else if (!str_in(res, ok) && strncmp(res, "requests.hugepages-", 19) &&
		 strncmp(res, "limits.hugepages-", 17))
		v_unsupported(v, "resource", res, NULL, ok);
	if (!div || json_is_null(div) || !v_quantity(v, "divisor", div, &q) || !q.nano)
		return;
	q_string(&q, qs);
	if ((!strcmp(res, "limits.cpu") || !strcmp(res, "requests.cpu")) && !str_in(qs, cpu_div))
		v_invalid_s(v, "divisor", res,
			    "only divisor's values 1m and 1 are supported with the cpu resource");
	if ((!strcmp(res, "limits.memory") || !strcmp(res, "requests.memory")) &&
	    !str_in(qs, mem_div))
		v_invalid_s(v, "divisor", res,
			    "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, "
			    "1Pi, 1Ei are supported with the memory resource");
}

/* One downwardAPI file; upstream validates them all at the source's path, unindexed. */
static void downward_file(struct vctx *v, const json_t *f)
{
	const char *p = g_str(v, f, "path");
	json_t *fr = g_obj(v, f, "fieldRef"), *rf = g_obj(v, f, "resourceFieldRef");
	size_t m;

	if (p && !*p)
		v_required(v, "path", "");
	if (p)
		local_non_reserved_path(v, "path", p);
	if (fr) {
		m = p_child(v, "fieldRef");
		field_selector(v, fr, volume_field_paths);
		p_restore(v, m);
		if (rf)
			v_invalid_s(v, NULL, "resource",
				    "fieldRef and resourceFieldRef can not be specified "
				    "simultaneously");
	} else if (rf) {
		m = p_child(v, "resourceFieldRef");
		resource_field_selector(v, rf, true);
		p_restore(v, m);
	} else {
		v_required(v, NULL, "one of fieldRef and resourceFieldRef is required");
	}
	file_mode(v, f, "mode");
}

static void downward_files(struct vctx *v, const json_t *src, json_t *seen, size_t base)
{
	json_t *items = g_arr(v, src, "items"), *f;
	size_t i;

	json_array_foreach(items, i, f) {
		const char *p = raw_str(f, "path");

		if (!json_is_object(f)) {
			size_t mi = p_child(v, "items");

			p_index(v, i);
			v_type(v, NULL, f, "object");
			p_restore(v, mi);
			continue;
		}
		downward_file(v, f);
		if (seen && *p && json_object_get(seen, p)) {
			char *tail = p_cut(v, base);

			v_invalid_s(v, NULL, p, "conflicting duplicate paths");
			p_paste(v, tail);
		} else if (seen && *p) {
			json_object_set_new(seen, p, json_true());
		}
	}
}

/* ------------------------------------------------------------------ pod: volumes */

static const char *const volume_sources[] = { "emptyDir",
					      "hostPath",
					      "gitRepo",
					      "gcePersistentDisk",
					      "awsElasticBlockStore",
					      "secret",
					      "nfs",
					      "iscsi",
					      "glusterfs",
					      "flocker",
					      "persistentVolumeClaim",
					      "rbd",
					      "cinder",
					      "cephfs",
					      "quobyte",
					      "downwardAPI",
					      "fc",
					      "flexVolume",
					      "configMap",
					      "azureFile",
					      "vsphereVolume",
					      "photonPersistentDisk",
					      "portworxVolume",
					      "azureDisk",
					      "storageos",
					      "projected",
					      "scaleIO",
					      "csi",
					      "ephemeral",
					      "image",
					      NULL };

/* Sources checked only for their required fields (upstream checks little more). */
static const struct {
	const char *src, *path, *req[3];
} simple_sources[] = {
	{ "gcePersistentDisk", "persistentDisk", { "pdName" } },
	{ "awsElasticBlockStore", NULL, { "volumeID" } },
	{ "iscsi", NULL, { "targetPortal", "iqn" } },
	{ "glusterfs", NULL, { "endpoints", "path" } },
	{ "rbd", NULL, { "monitors", "image" } },
	{ "cinder", NULL, { "volumeID" } },
	{ "cephfs", NULL, { "monitors" } },
	{ "quobyte", NULL, { "registry", "volume" } },
	{ "flexVolume", NULL, { "driver" } },
	{ "azureFile", NULL, { "secretName", "shareName" } },
	{ "vsphereVolume", NULL, { "volumePath" } },
	{ "photonPersistentDisk", NULL, { "pdID" } },
	{ "portworxVolume", NULL, { "volumeID" } },
	{ "azureDisk", NULL, { "diskName", "diskURI" } },
	{ "scaleIO", NULL, { "gateway", "system", "volumeName" } },
	{ "storageos", NULL, { "volumeName" } },
};

static void simple_source(struct vctx *v, const char *name, const json_t *src)
{
	for (size_t i = 0; i < ARRAY_SIZE(simple_sources); i++) {
		size_t m;

		if (strcmp(simple_sources[i].src, name))
			continue;
		m = p_child(v, simple_sources[i].path ? simple_sources[i].path : name);
		for (size_t r = 0; r < 3 && simple_sources[i].req[r]; r++)
			if (zeroish(json_object_get(src, simple_sources[i].req[r])))
				v_required(v, simple_sources[i].req[r], "");
		p_restore(v, m);
	}
}

static void source_host_path(struct vctx *v, const json_t *src)
{
	static const char *const types[] = {
		"",	"BlockDevice",	"CharDevice", "Directory", "DirectoryOrCreate",
		"File", "FileOrCreate", "Socket",     NULL
	};
	const char *p = g_str(v, src, "path"), *t;

	if (p && !*p) {
		v_required(v, "path", "");
		return;
	}
	if (p)
		no_backsteps(v, "path", p);
	t = g_str(v, src, "type");
	if (t && present(src, "type") && !str_in(t, types))
		v_unsupported(v, "type", t, NULL, types);
}

static void source_csi(struct vctx *v, const json_t *src)
{
	const char *drv = g_str(v, src, "driver");
	json_t *ref = g_obj(v, src, "nodePublishSecretRef");

	if (drv) {
		char *lower = xstrdup(drv);
		struct buf l = { 0 };

		if (!*drv)
			v_required(v, "driver", "");
		if (strlen(drv) > 63)
			v_too_long(v, "driver", 63);
		for (char *p = lower; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		chk_dns_subdomain(lower, &l);
		v_each(v, "driver", drv, NULL, &l);
		free(lower);
	}
	if (ref) {
		const char *n = g_str(v, ref, "name");

		if (n && !*n)
			v_required(v, "nodePublishSecretRef.name", "");
		else if (n)
			v_name(v, "name", n, NAME_SUBDOMAIN);
	}
}

static void projected_token(struct vctx *v, const json_t *tok, size_t base)
{
	const char *p = g_str(v, tok, "path");
	long long exp;
	char *tail;

	g_int(v, tok, "expirationSeconds", false, &exp);
	if (exp < 600)
		v_invalid_i(v, "expirationSeconds", exp,
			    "may not specify a duration less than 10 minutes");
	if (exp > (1LL << 32))
		v_invalid_i(v, "expirationSeconds", exp,
			    "may not specify a duration larger than 2^32 seconds");
	/* Upstream reports the token path at the volume's path. */
	tail = p_cut(v, base);
	if (p && !*p)
		v_required(v, "path", "");
	else if (p)
		local_non_reserved_path(v, "path", p);
	p_paste(v, tail);
}

static void source_projected(struct vctx *v, const json_t *src)
{
	static const char *const kinds[] = {
		"secret", "configMap", "downwardAPI", "serviceAccountToken", "clusterTrustBundle",
		NULL
	};
	json_t *s, *seen = json_object();
	size_t base = v->path.len;
	struct iter it;

	file_mode(v, src, "defaultMode");
	it = iter_objs(v, src, "sources");
	while ((s = next_obj(v, &it))) {
		int n = 0;

		for (size_t k = 0; kinds[k]; k++) {
			json_t *ps = g_obj(v, s, kinds[k]);
			const char *name;
			size_t mk;

			if (!ps)
				continue;
			n++;
			mk = p_child(v, kinds[k]);
			if (k <= 1) {
				name = g_str(v, ps, "name");
				if (name && !*name)
					v_required(v, "name", "");
				key_to_paths(v, ps, seen, base, name ? name : "");
			} else if (k == 2) {
				downward_files(v, ps, seen, base);
			} else if (k == 3) {
				projected_token(v, ps, base);
			}
			p_restore(v, mk);
		}
		if (n > 1)
			v_forbidden(v, NULL, "may not specify more than 1 volume type per source");
	}
	json_decref(seen);
}

static void volume_source_check(struct vctx *v, const char *name, const json_t *src,
				const struct podctx *pc)
{
	const char *s;
	struct quantity q;
	json_t *j;

	if (!strcmp(name, "emptyDir")) {
		j = json_object_get(src, "sizeLimit");
		if (j && !json_is_null(j) && v_quantity(v, "sizeLimit", j, &q) && q.nano < 0)
			v_forbidden(v, "sizeLimit",
				    "SizeLimit field must be a valid resource quantity");
	} else if (!strcmp(name, "hostPath")) {
		source_host_path(v, src);
	} else if (!strcmp(name, "gitRepo")) {
		s = g_str(v, src, "repository");
		if (s && !*s)
			v_required(v, "repository", "");
		s = g_str(v, src, "directory");
		if (s)
			local_descending_path(v, "directory", s);
	} else if (!strcmp(name, "secret") || !strcmp(name, "configMap")) {
		const char *key = name[0] == 's' ? "secretName" : "name";

		s = g_str(v, src, key);
		if (s && !*s)
			v_required(v, key, "");
		file_mode(v, src, "defaultMode");
		key_to_paths(v, src, NULL, 0, NULL);
	} else if (!strcmp(name, "nfs")) {
		s = g_str(v, src, "server");
		if (s && !*s)
			v_required(v, "server", "");
		s = g_str(v, src, "path");
		if (s && !*s)
			v_required(v, "path", "");
		if (s && s[0] != '/')
			v_invalid_s(v, "path", s, "must be an absolute path");
	} else if (!strcmp(name, "persistentVolumeClaim")) {
		s = g_str(v, src, "claimName");
		if (s && !*s)
			v_required(v, "claimName", "");
	} else if (!strcmp(name, "downwardAPI")) {
		file_mode(v, src, "defaultMode");
		downward_files(v, src, NULL, 0);
	} else if (!strcmp(name, "projected")) {
		source_projected(v, src);
	} else if (!strcmp(name, "csi")) {
		source_csi(v, src);
	} else if (!strcmp(name, "ephemeral")) {
		if (!g_obj(v, src, "volumeClaimTemplate"))
			v_required(v, "volumeClaimTemplate", "");
	} else if (!strcmp(name, "image")) {
		s = g_str(v, src, "reference");
		if (pc->is_pod && s && !*s)
			v_required(v, "reference", "");
		pull_policy(v, src, "pullPolicy");
	}
}

/* One volume's sources: exactly one, each checked at its own key. */
static void volume_source(struct vctx *v, const json_t *vol, const struct podctx *pc)
{
	int n = 0;

	for (size_t i = 0; volume_sources[i]; i++) {
		const char *name = volume_sources[i];
		bool bad;
		json_t *src = get_member(v, vol, name, W_OBJECT, &bad);
		size_t m;

		if (bad) {
			n++;
			continue;
		}
		if (!src)
			continue;
		if (n++) {
			/* Upstream's spellings of these two paths, typo included. */
			const char *p = !strcmp(name, "cephfs")	       ? "cephFS"
					: !strcmp(name, "downwardAPI") ? "downwarAPI"
								       : name;

			v_forbidden(v, p, "may not specify more than 1 volume type");
			continue;
		}
		simple_source(v, name, src);
		m = p_child(v, name);
		volume_source_check(v, name, src, pc);
		p_restore(v, m);
	}
	if (!n)
		v_required(v, NULL, "must specify a volume type");
}

/* spec.volumes; valid ones are recorded in pc->vols for the mounts that refer to them. */
static void pod_volumes(struct vctx *v, const json_t *spec, struct podctx *pc)
{
	struct iter it = iter_objs(v, spec, "volumes");
	json_t *vol;

	while ((vol = next_obj(v, &it))) {
		int before = v->n;
		const char *name = g_str(v, vol, "name");

		volume_source(v, vol, pc);
		if (name && !*name)
			v_required(v, "name", "");
		else if (name)
			v_name(v, "name", name, NAME_LABEL);
		if (name && json_object_get(pc->vols, name))
			v_duplicate_s(v, "name", name);
		if (name && v->n == before)
			json_object_set(pc->vols, name, vol);
	}
}

/* ------------------------------------------------------------------ pod: containers */

static void container_ports(struct vctx *v, const json_t *c)
{
	static const char *const protos[] = { "SCTP", "TCP", "UDP", NULL };
	struct iter it = iter_objs(v, c, "ports");
	json_t *p, *names = json_object();

	while ((p = next_obj(v, &it))) {
		const char *name = g_str(v, p, "name"), *proto = g_str(v, p, "protocol");
		long long cp, hp;
		int r;

		if (name && *name) {
			struct buf l = { 0 };

			chk_port_name(name, &l);
			if (l.len)
				v_each(v, "name", name, NULL, &l);
			else if (json_object_get(names, name))
				v_duplicate_s(v, "name", name);
			else
				json_object_set_new(names, name, json_true());
			buf_free(&l);
		}
		r = g_int(v, p, "containerPort", true, &cp);
		if (r >= 0 && !cp)
			v_required(v, "containerPort", "");
		else if (r == 1 && (cp < 1 || cp > 65535))
			v_invalid_i(v, "containerPort", cp, RANGE_PORT);
		if (g_int(v, p, "hostPort", true, &hp) == 1 && hp && (hp < 1 || hp > 65535))
			v_invalid_i(v, "hostPort", hp, RANGE_PORT);
		if (proto && !*proto)
			v_required(v, "protocol", "");
		else if (proto && !str_in(proto, protos))
			v_unsupported(v, "protocol", proto, NULL, protos);
	}
	json_decref(names);
}

/* configMapKeyRef / secretKeyRef of an env var. */
static void key_selector(struct vctx *v, const json_t *ks)
{
	const char *name = g_str(v, ks, "name"), *key = g_str(v, ks, "key");
	struct buf l = { 0 };

	if (name)
		v_name(v, "name", name, NAME_SUBDOMAIN);
	if (key && !*key) {
		v_required(v, "key", "");
	} else if (key) {
		chk_config_key(key, &l);
		v_each(v, "key", key, NULL, &l);
	}
}

static void env_value_from(struct vctx *v, const json_t *e)
{
	static const char *const srcs[] = { "fieldRef", "resourceFieldRef", "configMapKeyRef",
					    "secretKeyRef", NULL };
	json_t *vf = g_obj(v, e, "valueFrom");
	int n = 0;
	size_t m;

	if (!vf)
		return;
	m = p_child(v, "valueFrom");
	for (size_t i = 0; srcs[i]; i++) {
		json_t *s = g_obj(v, vf, srcs[i]);
		size_t ms;

		if (!s)
			continue;
		n++;
		ms = p_child(v, srcs[i]);
		if (i == 0)
			field_selector(v, s, env_field_paths);
		else if (i == 1)
			resource_field_selector(v, s, false);
		else
			key_selector(v, s);
		p_restore(v, ms);
	}
	if (!n)
		v_invalid_s(v, NULL, "",
			    "must specify one of: `fieldRef`, `resourceFieldRef`, "
			    "`configMapKeyRef` or `secretKeyRef`");
	else if (*raw_str(e, "value"))
		v_invalid_s(v, NULL, "", "may not be specified when `value` is not empty");
	else if (n > 1)
		v_invalid_s(v, NULL, "", "may not have more than one field specified at a time");
	p_restore(v, m);
}

static void container_env(struct vctx *v, const json_t *c)
{
	struct iter it = iter_objs(v, c, "env");
	json_t *e;

	while ((e = next_obj(v, &it))) {
		const char *name = g_str(v, e, "name");

		g_str(v, e, "value");
		if (name && !*name) {
			v_required(v, "name", "");
		} else if (name) {
			struct buf l = { 0 };

			chk_env_name(name, &l);
			v_each(v, "name", name, NULL, &l);
		}
		env_value_from(v, e);
	}
}

static void container_env_from(struct vctx *v, const json_t *c)
{
	struct iter it = iter_objs(v, c, "envFrom");
	json_t *e;

	while ((e = next_obj(v, &it))) {
		const char *prefix = g_str(v, e, "prefix");
		char *tail;
		int n = 0;

		if (prefix && *prefix) {
			struct buf l = { 0 };

			chk_env_name(prefix, &l);
			v_each(v, "prefix", prefix, NULL, &l);
		}
		for (int k = 0; k < 2; k++) {
			const char *key = k ? "secretRef" : "configMapRef";
			json_t *ref = g_obj(v, e, key);
			const char *name;
			struct buf l = { 0 };
			size_t mr;

			if (!ref)
				continue;
			n++;
			mr = p_child(v, key);
			name = g_str(v, ref, "name");
			if (name && !*name) {
				v_required(v, "name", "");
			} else if (name) {
				chk_name(NAME_SUBDOMAIN, name, true, &l);
				v_each(v, "name", name, NULL, &l);
			}
			p_restore(v, mr);
		}
		/* Upstream reports these two at the list, not at the entry. */
		tail = p_cut(v, it.list);
		if (!n)
			v_invalid_s(v, NULL, "",
				    "must specify one of: `configMapRef` or `secretRef`");
		else if (n > 1)
			v_invalid_s(v, NULL, "",
				    "may not have more than one field specified at a time");
		p_paste(v, tail);
	}
}

static void container_mounts(struct vctx *v, const json_t *c, const struct podctx *pc)
{
	static const char *const props[] = { "Bidirectional", "HostToContainer", "None", NULL };
	static const char *const rros[] = { "Disabled", "Enabled", "IfPossible", NULL };
	bool privileged = jsonx_path_bool(c, "securityContext.privileged", false);
	struct iter it = iter_objs(v, c, "volumeMounts");
	json_t *mnt, *paths = json_object();

	while ((mnt = next_obj(v, &it))) {
		const char *name = g_str(v, mnt, "name"), *mp = g_str(v, mnt, "mountPath");
		const char *sub = g_str(v, mnt, "subPath"), *expr = g_str(v, mnt, "subPathExpr");
		const char *prop = g_str(v, mnt, "mountPropagation");
		const char *rro = g_str(v, mnt, "recursiveReadOnly");
		json_t *vol = name ? json_object_get(pc->vols, name) : NULL;
		char *tail;

		if (name && !*name)
			v_required(v, "name", "");
		if (name && !vol)
			v_not_found(v, "name", name);
		if (mp && !*mp)
			v_required(v, "mountPath", "");
		if (mp && json_object_get(paths, mp))
			v_invalid_s(v, "mountPath", mp, "must be unique");
		else if (mp)
			json_object_set_new(paths, mp, json_true());
		if (vol && present(vol, "image") && sub && *sub)
			v_invalid_s(v, "subPath", sub, "not allowed in image volume sources");
		if (vol && present(vol, "image") && expr && *expr)
			v_invalid_s(v, "subPathExpr", expr, "not allowed in image volume sources");
		if (expr && *expr && sub && *sub)
			v_invalid_s(v, "subPathExpr", expr,
				    "subPathExpr and subPath are mutually exclusive");
		/* Upstream checks these at the list's path, without the index. */
		tail = p_cut(v, it.list);
		if (sub && *sub)
			local_descending_path(v, "subPath", sub);
		if (expr && *expr)
			local_descending_path(v, "subPathExpr", expr);
		if (prop && present(mnt, "mountPropagation")) {
			if (!str_in(prop, props))
				v_unsupported(v, "mountPropagation", prop, NULL, props);
			if (!strcmp(prop, "Bidirectional") && !privileged)
				v_forbidden(v, "mountPropagation",
					    "Bidirectional mount propagation is available only to "
					    "privileged containers");
		}
		if (rro && present(mnt, "recursiveReadOnly")) {
			if (!str_in(rro, rros))
				v_unsupported(v, "recursiveReadOnly", rro, NULL, rros);
			else if (strcmp(rro, "Disabled") && !jsonx_bool(mnt, "readOnly", false))
				v_forbidden(v, "recursiveReadOnly",
					    "may only be specified when readOnly is true");
			else if (strcmp(rro, "Disabled") && prop && *prop && strcmp(prop, "None"))
				v_forbidden(
					v, "recursiveReadOnly",
					"may only be specified when mountPropagation is None or "
					"not specified");
		}
		p_paste(v, tail);
	}
	json_decref(paths);
}

static void container_devices(struct vctx *v, const json_t *c, const struct podctx *pc)
{
	struct iter it = iter_objs(v, c, "volumeDevices");
	json_t *d, *names = json_object(), *paths = json_object();

	while ((d = next_obj(v, &it))) {
		const char *name = g_str(v, d, "name"), *dp = g_str(v, d, "devicePath");
		json_t *vol = name ? json_object_get(pc->vols, name) : NULL;

		if (name && !*name)
			v_required(v, "name", "");
		if (name && json_object_get(names, name))
			v_invalid_s(v, "name", name, "must be unique");
		if (vol && !present(vol, "persistentVolumeClaim") && !present(vol, "ephemeral"))
			v_invalid_s(v, "name", name,
				    "can only use volume source type of PersistentVolumeClaim or "
				    "Ephemeral for block mode");
		if (name && !vol)
			v_not_found(v, "name", name);
		if (dp && !*dp)
			v_required(v, "devicePath", "");
		if (dp && json_object_get(paths, dp))
			v_invalid_s(v, "devicePath", dp, "must be unique");
		if (dp && *dp && has_backsteps(dp))
			v_invalid_s(v, "devicePath", dp, "can not contain backsteps ('..')");
		else if (dp)
			json_object_set_new(paths, dp, json_true());
		if (name && *name)
			json_object_set_new(names, name, json_true());
	}
	json_decref(names);
	json_decref(paths);
}

/* ------------------------------------------------------------------ pod: resources */

static const char *const std_resources[] = { "cpu",
					     "memory",
					     "ephemeral-storage",
					     "requests.cpu",
					     "requests.memory",
					     "requests.ephemeral-storage",
					     "limits.cpu",
					     "limits.memory",
					     "limits.ephemeral-storage",
					     "pods",
					     "services",
					     "replicationcontrollers",
					     "resourcequotas",
					     "secrets",
					     "persistentvolumeclaims",
					     "configmaps",
					     "storage",
					     "requests.storage",
					     "services.nodeports",
					     "services.loadbalancers",
					     NULL };

static bool is_hugepages(const char *name)
{
	return !strncmp(name, "hugepages-", 10);
}

static bool is_native_resource(const char *name)
{
	return !strchr(name, '/') || strstr(name, "kubernetes.io/");
}

/* Extended resources ("example.com/gpu") must also work as "requests.<name>" quotas. */
static bool is_extended_resource(const char *name)
{
	struct buf l = { 0 };
	char *q;
	bool ok;

	if (is_native_resource(name) || !strncmp(name, "requests.", 9))
		return false;
	q = xasprintf("requests.%s", name);
	chk_qualified(q, &l);
	ok = !l.len;
	buf_free(&l);
	free(q);
	return ok;
}

static bool overcommit_allowed(const char *name)
{
	return is_native_resource(name) && !is_hugepages(name);
}

/* validateContainerResourceName, at the current (keyed) path. */
static void container_resource_name(struct vctx *v, const char *name)
{
	struct buf l = { 0 };
	bool plain = !strchr(name, '/');

	chk_qualified(name, &l);
	if (l.len) {
		v_each(v, NULL, name, NULL, &l);
	} else {
		buf_free(&l);
		if (plain && !str_in(name, std_resources) && !is_hugepages(name) &&
		    strncmp(name, "requests.hugepages-", 19) &&
		    strncmp(name, "limits.hugepages-", 17))
			v_invalid_s(v, NULL, name,
				    "must be a standard resource type or fully qualified");
	}
	if (plain && strcmp(name, "cpu") && strcmp(name, "memory") &&
	    strcmp(name, "ephemeral-storage") && !is_hugepages(name))
		v_invalid_s(v, NULL, name, "must be a standard resource for containers");
	else if (!plain && !is_native_resource(name) && !is_extended_resource(name))
		v_invalid_s(v, NULL, name, "doesn't follow extended resource name standard");
}

/* Quantity rules of one list entry; false when it did not parse. */
static bool resource_quantity(struct vctx *v, const char *name, const json_t *j, struct quantity *q)
{
	char s[QUANTITY_BUFSZ];

	if (!v_quantity(v, NULL, j, q))
		return false;
	q_string(q, s);
	if (q->nano < 0)
		v_invalid_s(v, NULL, s, NOT_NEGATIVE);
	if (is_extended_resource(name) && q->nano % 1000000000)
		v_invalid_s(v, NULL, s, "must be an integer");
	if (is_hugepages(name)) {
		struct quantity page;

		if (quantity_parse(name + 10, &page) || page.nano <= 0 || q->nano < 0 ||
		    quantity_value(q) % MAX(quantity_value(&page), 1)) {
			char *d = xasprintf("%s is not positive integer multiple of %s", s, name);

			v_invalid_s(v, NULL, s, d);
			free(d);
		}
	}
	return true;
}

/* ResourceRequirements {limits, requests}, at the requirements' path. */
static void resource_requirements(struct vctx *v, const json_t *r)
{
	json_t *lim = g_obj(v, r, "limits"), *req = g_obj(v, r, "requests"), *val;
	bool cm = false, hp = false;
	const char *k;
	size_t m;

	m = p_child(v, "limits");
	json_object_foreach(lim, k, val) {
		size_t mk = p_key(v, k);
		struct quantity q;

		container_resource_name(v, k);
		resource_quantity(v, k, val, &q);
		cm |= !strcmp(k, "cpu") || !strcmp(k, "memory");
		hp |= is_hugepages(k);
		p_restore(v, mk);
	}
	p_restore(v, m);
	json_object_foreach(req, k, val) {
		size_t mk;
		struct quantity q, lq;
		json_t *lv = lim ? json_object_get(lim, k) : NULL;
		bool ok;

		m = p_child(v, "requests");
		mk = p_key(v, k);
		container_resource_name(v, k);
		ok = resource_quantity(v, k, val, &q);
		p_restore(v, mk);
		/* Upstream reports the comparison at requests / limits, not at the key. */
		if (ok && lv && !quantity_parse_json(lv, &lq)) {
			char qs[QUANTITY_BUFSZ], ls[QUANTITY_BUFSZ], *d = NULL;
			int cmp = quantity_cmp(&q, &lq);

			q_string(&q, qs);
			q_string(&lq, ls);
			if (cmp && !overcommit_allowed(k))
				d = xasprintf("must be equal to %s limit of %s", k, ls);
			else if (cmp > 0)
				d = xasprintf("must be less than or equal to %s limit of %s", k,
					      ls);
			if (d)
				v_invalid_s(v, NULL, qs, d);
			free(d);
		} else if (ok && !lv && !overcommit_allowed(k)) {
			p_restore(v, m);
			v_required(v, "limits",
				   "Limit must be set for non overcommitable resources");
		}
		p_restore(v, m);
		cm |= !strcmp(k, "cpu") || !strcmp(k, "memory");
		hp |= is_hugepages(k);
	}
	if (hp && !cm)
		v_forbidden(v, NULL, "HugePages require cpu or memory");
}

static void container_resources(struct vctx *v, const json_t *c)
{
	json_t *r = g_obj(v, c, "resources");
	size_t m;

	if (!r)
		return;
	m = p_child(v, "resources");
	resource_requirements(v, r);
	p_restore(v, m);
}

static void resize_policy(struct vctx *v, const json_t *c, const struct podctx *pc)
{
	static const char *const names[] = { "cpu", "memory", NULL };
	static const char *const pols[] = { "NotRequired", "RestartContainer", NULL };
	json_t *arr = g_arr(v, c, "resizePolicy"), *p, *seen = json_object();
	size_t i, m = p_child(v, "resizePolicy");

	json_array_foreach(arr, i, p) {
		const char *rn = raw_str(p, "resourceName"), *rp = raw_str(p, "restartPolicy");

		if (json_object_get(seen, rn)) {
			size_t mi = p_index(v, i);

			v_duplicate_s(v, NULL, rn);
			p_restore(v, mi);
		}
		json_object_set_new(seen, rn, json_true());
		if (!*rn)
			v_required(v, NULL, "");
		else if (!str_in(rn, names))
			v_unsupported(v, NULL, rn, NULL, names);
		if (!*rp)
			v_required(v, NULL, "");
		else if (!str_in(rp, pols))
			v_unsupported(v, NULL, rp, NULL, pols);
		if (pc->restart && !strcmp(pc->restart, "Never") && strcmp(rp, "NotRequired"))
			v_invalid_s(v, NULL, rp,
				    "must be 'NotRequired' when `restartPolicy` is 'Never'");
	}
	p_restore(v, m);
	json_decref(seen);
}

/* ------------------------------------------------------------------ pod: security contexts */

static void id_range(struct vctx *v, const json_t *obj, const char *key)
{
	long long id;

	if (g_int(v, obj, key, false, &id) == 1 && (id < 0 || id > 4294967295LL))
		v_invalid_i(v, key, id, "must be between 0 and 4294967295, inclusive");
}

static void seccomp_profile(struct vctx *v, const json_t *sc)
{
	static const char *const types[] = { "Localhost", "RuntimeDefault", "Unconfined", NULL };
	json_t *sp = g_obj(v, sc, "seccompProfile");
	const char *t, *lp;
	size_t m;

	if (!sp)
		return;
	m = p_child(v, "seccompProfile");
	t = g_str(v, sp, "type");
	lp = g_str(v, sp, "localhostProfile");
	if (t && !*t)
		v_required(v, "type", "type is required when seccompProfile is set");
	else if (t && !str_in(t, types))
		v_unsupported(v, "type", t, NULL, types);
	if (t && !strcmp(t, "Localhost")) {
		if (!present(sp, "localhostProfile"))
			v_required(v, "localhostProfile",
				   "must be set when seccomp type is Localhost");
		else if (lp)
			local_descending_path(v, "localhostProfile", lp);
	} else if (present(sp, "localhostProfile")) {
		v_invalid_j(v, "localhostProfile", sp,
			    "can only be set when seccomp type is Localhost");
	}
	p_restore(v, m);
}

static void apparmor_profile(struct vctx *v, const json_t *sc)
{
	static const char *const types[] = { "Localhost", "RuntimeDefault", "Unconfined", NULL };
	json_t *ap = g_obj(v, sc, "appArmorProfile");
	const char *t, *lp;
	size_t m;

	if (!ap)
		return;
	m = p_child(v, "appArmorProfile");
	t = g_str(v, ap, "type");
	lp = g_str(v, ap, "localhostProfile");
	if (t && !strcmp(t, "Localhost")) {
		size_t n = lp ? strlen(lp) : 0;

		if (!present(ap, "localhostProfile") || (lp && !*lp))
			v_required(v, "localhostProfile",
				   "must be set when AppArmor type is Localhost");
		else if (lp && (lp[0] == ' ' || lp[0] == '\t' || lp[0] == '\n' ||
				lp[n - 1] == ' ' || lp[n - 1] == '\t' || lp[n - 1] == '\n'))
			v_invalid_s(v, "localhostProfile", lp,
				    "must not be padded with whitespace");
		if (n > 4095)
			v_too_long(v, "localhostProfile", 4095);
	} else if (t && (!strcmp(t, "RuntimeDefault") || !strcmp(t, "Unconfined"))) {
		if (present(ap, "localhostProfile"))
			v_invalid_j(v, "localhostProfile", json_object_get(ap, "localhostProfile"),
				    "can only be set when AppArmor type is Localhost");
	} else if (t && !*t) {
		v_required(v, "type", "type is required when appArmorProfile is set");
	} else if (t) {
		v_unsupported(v, "type", t, NULL, types);
	}
	p_restore(v, m);
}

static void container_security(struct vctx *v, const json_t *c, const struct podctx *pc)
{
	static const char *const mounts[] = { "Default", "Unmasked", NULL };
	json_t *sc = g_obj(v, c, "securityContext"), *caps, *cap;
	const char *pm;
	size_t m, i;

	if (!sc)
		return;
	m = p_child(v, "securityContext");
	id_range(v, sc, "runAsUser");
	id_range(v, sc, "runAsGroup");
	pm = g_str(v, sc, "procMount");
	if (pm && present(sc, "procMount")) {
		if (!str_in(pm, mounts))
			v_unsupported(v, "procMount", pm, NULL, mounts);
		if (pc->host_users && !strcmp(pm, "Unmasked"))
			v_invalid_s(v, "procMount", pm,
				    "`hostUsers` must be false to use `Unmasked`");
	}
	seccomp_profile(v, sc);
	if (present(sc, "allowPrivilegeEscalation") &&
	    !g_bool(v, sc, "allowPrivilegeEscalation", true)) {
		if (g_bool(v, sc, "privileged", false))
			v_invalid_j(
				v, NULL, sc,
				"cannot set `allowPrivilegeEscalation` to false and `privileged` "
				"to true");
		caps = jsonx_arr(jsonx_obj(sc, "capabilities"), "add");
		json_array_foreach(caps, i, cap)
			if (json_is_string(cap) && !strcmp(json_string_value(cap), "CAP_SYS_ADMIN"))
				v_invalid_j(v, NULL, sc,
					    "cannot set `allowPrivilegeEscalation` to false and "
					    "`capabilities.Add` CAP_SYS_ADMIN");
	}
	apparmor_profile(v, sc);
	p_restore(v, m);
}

#define SYSCTL_MSG                                          \
	"must have at most 253 characters and match regex " \
	"^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$"

static bool sysctl_name_ok(const char *s)
{
	size_t start = 0, n = strlen(s);

	if (n > 253 || !n)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.' && s[i] != '/') {
			if (!lower_alnum(s[i]) && s[i] != '-' && s[i] != '_')
				return false;
			continue;
		}
		if (i == start || !lower_alnum(s[start]) || !lower_alnum(s[i - 1]))
			return false;
		start = i + 1;
	}
	return true;
}

static void sysctls(struct vctx *v, const json_t *sc, const json_t *spec)
{
	bool hostnet = jsonx_bool(spec, "hostNetwork", false);
	bool hostipc = jsonx_bool(spec, "hostIPC", false);
	struct iter it = iter_objs(v, sc, "sysctls");
	json_t *s, *seen = json_object();

	while ((s = next_obj(v, &it))) {
		const char *name = g_str(v, s, "name");
		char *norm;

		if (!name)
			continue;
		if (!*name)
			v_required(v, "name", "");
		else if (!sysctl_name_ok(name))
			v_invalid_s(v, "name", name, SYSCTL_MSG);
		else if (json_object_get(seen, name))
			v_duplicate_s(v, "name", name);
		json_object_set_new(seen, name, json_true());
		norm = xstrdup(name);
		for (char *p = norm; *p; p++)
			if (*p == '/')
				*p = '.';
		if (hostnet && !strncmp(norm, "net.", 4))
			v_invalid_s(v, "name", name,
				    "may not be specified when 'hostNetwork' is true");
		else if (hostipc &&
			 (!strncmp(norm, "kernel.shm", 10) || !strncmp(norm, "kernel.msg", 10) ||
			  !strcmp(norm, "kernel.sem") || !strncmp(norm, "fs.mqueue.", 10)))
			v_invalid_s(v, "name", name, "may not be specified when 'hostIPC' is true");
		free(norm);
	}
	json_decref(seen);
}

/* spec.securityContext plus the host-namespace switches v1 keeps at spec level. */
static void pod_security(struct vctx *v, const json_t *spec)
{
	static const char *const fsg[] = { "Always", "OnRootMismatch", NULL };
	static const char *const sgp[] = { "Merge", "Strict", NULL };
	static const char *const selinux[] = { "MountOption", "Recursive", NULL };
	json_t *sc = g_obj(v, spec, "securityContext"), *groups, *gid;
	size_t m = p_child(v, "securityContext"), i;
	const char *s;

	id_range(v, sc, "fsGroup");
	id_range(v, sc, "runAsUser");
	id_range(v, sc, "runAsGroup");
	groups = g_arr(v, sc, "supplementalGroups");
	json_array_foreach(groups, i, gid) {
		size_t mi = p_child(v, "supplementalGroups");

		p_index(v, i);
		if (!is_integral(gid))
			v_type(v, NULL, gid, "integer");
		else if (int_value(gid) < 0 || int_value(gid) > 4294967295LL)
			v_invalid_i(v, NULL, int_value(gid),
				    "must be between 0 and 4294967295, inclusive");
		p_restore(v, mi);
	}
	if (jsonx_bool(spec, "shareProcessNamespace", false) && jsonx_bool(spec, "hostPID", false))
		v_invalid_j(v, "shareProcessNamespace", json_true(),
			    "ShareProcessNamespace and HostPID cannot both be enabled");
	sysctls(v, sc, spec);
	s = g_str(v, sc, "fsGroupChangePolicy");
	if (s && present(sc, "fsGroupChangePolicy") && !str_in(s, fsg))
		v_unsupported(v, "fsGroupChangePolicy", s, NULL, fsg);
	seccomp_profile(v, sc);
	apparmor_profile(v, sc);
	s = g_str(v, sc, "supplementalGroupsPolicy");
	if (s && present(sc, "supplementalGroupsPolicy") && !str_in(s, sgp))
		v_unsupported(v, "supplementalGroupsPolicy", s, NULL, sgp);
	s = g_str(v, sc, "seLinuxChangePolicy");
	if (s && present(sc, "seLinuxChangePolicy") && !str_in(s, selinux))
		v_unsupported(v, "seLinuxChangePolicy", s, NULL, selinux);
	p_restore(v, m);
}

/* ------------------------------------------------------------------ pod: probes, lifecycle */

static void port_num_or_name(struct vctx *v, const json_t *obj, const char *key)
{
	json_t *j = json_object_get(obj, key);
	struct buf l = { 0 };

	if (!j || json_is_null(j) || is_integral(j)) {
		long long p = j && !json_is_null(j) ? int_value(j) : 0;

		if (p < 1 || p > 65535)
			v_invalid_i(v, key, p, RANGE_PORT);
	} else if (json_is_string(j)) {
		chk_port_name(json_string_value(j), &l);
		v_each(v, key, json_string_value(j), NULL, &l);
	} else {
		v_type(v, key, j, "integer or string");
	}
}

enum handler_kind { H_PROBE, H_LIFECYCLE };

/* ProbeHandler / LifecycleHandler: exactly one action, each checked. */
static void handler(struct vctx *v, const json_t *h, enum handler_kind kind,
		    const struct podctx *pc)
{
	static const char *const schemes[] = { "HTTP", "HTTPS", NULL };
	static const char *const probe_keys[] = { "exec", "httpGet", "tcpSocket", "grpc", NULL };
	static const char *const life_keys[] = { "exec", "httpGet", "tcpSocket", "sleep", NULL };
	const char *const *keys = kind == H_PROBE ? probe_keys : life_keys;
	int n = 0;

	for (size_t i = 0; keys[i]; i++) {
		json_t *a = g_obj(v, h, keys[i]), *hdrs, *hd;
		const char *s;
		size_t m, j;
		long long secs;

		if (!a)
			continue;
		if (n++) {
			v_forbidden(v, keys[i], "may not specify more than 1 handler type");
			continue;
		}
		m = p_child(v, keys[i]);
		switch (keys[i][0]) {
		case 'e':
			if (!nonempty(a, "command"))
				v_required(v, "command", "");
			break;
		case 'h':
			s = g_str(v, a, "path");
			if (s && !*s)
				v_required(v, "path", "");
			port_num_or_name(v, a, "port");
			s = g_str(v, a, "scheme");
			if (s && !str_in(s, schemes))
				v_unsupported(v, "scheme", s, NULL, schemes);
			hdrs = g_arr(v, a, "httpHeaders");
			json_array_foreach(hdrs, j, hd) {
				const char *hn = raw_str(hd, "name");

				if (!header_name_ok(hn))
					v_invalid_s(v, "httpHeaders", hn, HEADER_MSG);
			}
			break;
		case 't':
			port_num_or_name(v, a, "port");
			break;
		case 'g':
			if (g_int(v, a, "port", true, &secs) >= 0 && (secs < 1 || secs > 65535))
				v_invalid_i(v, "port", secs, RANGE_PORT);
			break;
		case 's':
			if (g_int(v, a, "seconds", false, &secs) >= 0 && pc->have_grace &&
			    (secs < 0 || secs > pc->grace)) {
				char *d = xasprintf("must be non-negative and less than "
						    "terminationGracePeriodSeconds (%lld)",
						    pc->grace);

				v_invalid_i(v, NULL, secs, d);
				free(d);
			}
			break;
		}
		p_restore(v, m);
	}
	if (!n)
		v_required(v, NULL, "must specify a handler type");
}

enum probe_kind { P_LIVENESS, P_READINESS, P_STARTUP };

static void probe(struct vctx *v, const json_t *c, const char *key, enum probe_kind kind,
		  const struct podctx *pc)
{
	static const char *const timing[] = { "initialDelaySeconds", "timeoutSeconds",
					      "periodSeconds",	     "successThreshold",
					      "failureThreshold",    NULL };
	json_t *p = g_obj(v, c, key);
	long long val, succ = 0;
	size_t m;

	if (!p)
		return;
	m = p_child(v, key);
	handler(v, p, H_PROBE, pc);
	for (size_t i = 0; timing[i]; i++) {
		if (g_int(v, p, timing[i], true, &val) == 1 && val < 0)
			v_invalid_i(v, timing[i], val, NOT_NEGATIVE);
		if (i == 3)
			succ = val;
	}
	if (g_int(v, p, "terminationGracePeriodSeconds", false, &val) == 1 && val <= 0)
		v_invalid_i(v, "terminationGracePeriodSeconds", val, "must be greater than 0");
	if (kind != P_READINESS && succ != 1)
		v_invalid_i(v, "successThreshold", succ, "must be 1");
	if (kind == P_READINESS && present(p, "terminationGracePeriodSeconds"))
		v_invalid_j(v, "terminationGracePeriodSeconds",
			    json_object_get(p, "terminationGracePeriodSeconds"),
			    "must not be set for readinessProbes");
	p_restore(v, m);
}

static void lifecycle(struct vctx *v, const json_t *c, const struct podctx *pc)
{
	json_t *lc = g_obj(v, c, "lifecycle");
	size_t m;

	if (!lc)
		return;
	m = p_child(v, "lifecycle");
	for (int i = 0; i < 2; i++) {
		const char *key = i ? "preStop" : "postStart";
		json_t *h = g_obj(v, lc, key);
		size_t mh;

		if (!h)
			continue;
		mh = p_child(v, key);
		handler(v, h, H_LIFECYCLE, pc);
		p_restore(v, mh);
	}
	p_restore(v, m);
}

static void probes_and_lifecycle(struct vctx *v, const json_t *c, const struct podctx *pc)
{
	lifecycle(v, c, pc);
	probe(v, c, "livenessProbe", P_LIVENESS, pc);
	probe(v, c, "readinessProbe", P_READINESS, pc);
	probe(v, c, "startupProbe", P_STARTUP, pc);
}

/* ------------------------------------------------------------------ pod: container lists */

static void container_common(struct vctx *v, const json_t *c, const struct podctx *pc)
{
	static const char *const tmp[] = { "File", "FallbackToLogsOnError", NULL };
	const char *name = g_str(v, c, "name"), *image = g_str(v, c, "image");
	const char *policy = g_str(v, c, "terminationMessagePolicy");

	if (name && !*name)
		v_required(v, "name", "");
	else if (name)
		v_name(v, "name", name, NAME_LABEL);
	if (image && !*image)
		v_required(v, "image", "");
	if (policy && !*policy)
		v_required(v, "terminationMessagePolicy", "");
	else if (policy && !str_in(policy, tmp))
		v_unsupported(v, "terminationMessagePolicy", policy, NULL, tmp);
	container_ports(v, c);
	container_env(v, c);
	container_env_from(v, c);
	container_mounts(v, c, pc);
	container_devices(v, c, pc);
	pull_policy(v, c, "imagePullPolicy");
	container_resources(v, c);
	resize_policy(v, c, pc);
	container_security(v, c, pc);
}

/* hostPort collisions (protocol/hostIP/port) of container c, shown at index shown. */
static void host_ports(struct vctx *v, const json_t *c, size_t shown, json_t *seen)
{
	json_t *ports = jsonx_arr(c, "ports"), *p;
	size_t j;

	json_array_foreach(ports, j, p) {
		long long hp = jsonx_int(p, "hostPort", 0);
		char *key;

		if (!hp)
			continue;
		key = xasprintf("%s/%s/%lld", raw_str(p, "protocol"), raw_str(p, "hostIP"), hp);
		if (json_object_get(seen, key)) {
			size_t m = p_index(v, shown);
			char *child = xasprintf("ports[%zu].hostPort", j);

			v_duplicate_s(v, child, key);
			free(child);
			p_restore(v, m);
		} else {
			json_object_set_new(seen, key, json_true());
		}
		free(key);
	}
}

static void pod_containers(struct vctx *v, const json_t *spec, const struct podctx *pc)
{
	bool bad;
	json_t *arr = get_member(v, spec, "containers", W_ARRAY, &bad), *c, *names, *ports;
	struct iter it;
	size_t i, m;

	if (bad)
		return;
	if (!arr || !json_array_size(arr)) {
		v_required(v, "containers", "");
		return;
	}
	names = json_object();
	ports = json_object();
	it = iter_objs(v, spec, "containers");
	while ((c = next_obj(v, &it))) {
		const char *name = raw_str(c, "name");

		container_common(v, c, pc);
		if (json_object_get(names, name))
			v_duplicate_s(v, "name", name);
		json_object_set_new(names, name, json_true());
		probes_and_lifecycle(v, c, pc);
		if (present(c, "restartPolicy"))
			v_forbidden(v, "restartPolicy", "may not be set for non-init containers");
	}
	m = p_child(v, "containers");
	json_array_foreach(arr, i, c)
		host_ports(v, c, i, ports);
	p_restore(v, m);
	json_decref(names);
	json_decref(ports);
}

static void pod_init_containers(struct vctx *v, const json_t *spec, const struct podctx *pc)
{
	static const char *const always[] = { "Always", NULL };
	static const char *const sidecar_only[] = { "lifecycle", "livenessProbe", "readinessProbe",
						    "startupProbe", NULL };
	struct iter it;
	json_t *c, *names = json_object();
	size_t i;

	json_array_foreach(jsonx_arr(spec, "containers"), i, c)
		json_object_set_new(names, raw_str(c, "name"), json_true());
	it = iter_objs(v, spec, "initContainers");
	while ((c = next_obj(v, &it))) {
		const char *name = raw_str(c, "name"), *rp;
		json_t *ports = json_object();
		char *tail;

		container_common(v, c, pc);
		rp = g_str(v, c, "restartPolicy");
		if (rp && present(c, "restartPolicy") && strcmp(rp, "Always"))
			v_unsupported(v, "restartPolicy", rp, NULL, always);
		if (json_object_get(names, name))
			v_duplicate_s(v, "name", name);
		else if (*name)
			json_object_set_new(names, name, json_true());
		/* Init containers run one at a time; upstream checks each alone, as index 0. */
		tail = p_cut(v, it.list);
		host_ports(v, c, 0, ports);
		p_paste(v, tail);
		json_decref(ports);
		if (rp && !strcmp(rp, "Always")) {
			probes_and_lifecycle(v, c, pc);
			continue;
		}
		for (size_t k = 0; sidecar_only[k]; k++)
			if (present(c, sidecar_only[k]))
				v_forbidden(v, sidecar_only[k],
					    "may not be set for init containers without "
					    "restartPolicy=Always");
	}
	json_decref(names);
}

/* ------------------------------------------------------------------ pod: scheduling */

static const char *const taint_effects[] = { "NoSchedule", "PreferNoSchedule", "NoExecute", NULL };

/* Label-value messages joined by ';' as tolerations and taints report them. */
static char *label_value_joined(const char *s)
{
	struct buf l = { 0 };

	chk_label_value(s, &l);
	for (size_t i = 0; i < l.len; i++)
		if (l.data[i] == '\n')
			l.data[i] = ';';
	return l.data;
}

static void tolerations(struct vctx *v, const json_t *spec)
{
	static const char *const ops[] = { "Equal", "Exists", NULL };
	struct iter it = iter_objs(v, spec, "tolerations");
	json_t *t;

	while ((t = next_obj(v, &it))) {
		const char *key = g_str(v, t, "key"), *op = g_str(v, t, "operator");
		const char *val = g_str(v, t, "value"), *eff = g_str(v, t, "effect");
		long long secs;
		char *why;

		if (key && *key)
			v_qualified(v, "key", key);
		if (key && !*key && op && strcmp(op, "Exists"))
			v_invalid_s(v, "operator", op,
				    "operator must be Exists when `key` is empty, which means "
				    "\"match all values and all keys\"");
		if (g_int(v, t, "tolerationSeconds", false, &secs) == 1 && eff &&
		    strcmp(eff, "NoExecute"))
			v_invalid_s(v, "effect", eff,
				    "effect must be 'NoExecute' when `tolerationSeconds` is set");
		if (op && val && (!*op || !strcmp(op, "Equal"))) {
			why = label_value_joined(val);
			if (why)
				v_invalid_s(v, "operator", val, why);
			free(why);
		} else if (op && val && !strcmp(op, "Exists")) {
			if (*val)
				v_invalid_s(v, "operator", val,
					    "value must be empty when `operator` is 'Exists'");
		} else if (op && *op) {
			v_unsupported(v, "operator", op, NULL, ops);
		}
		if (eff && *eff && !str_in(eff, taint_effects))
			v_unsupported(v, "effect", eff, NULL, taint_effects);
	}
}

static void each_node_name(struct vctx *v, const char *s)
{
	v_name(v, NULL, s, NAME_SUBDOMAIN);
}

static void node_selector_req(struct vctx *v, const json_t *r, bool field, bool values_ok)
{
	const char *op = g_str(v, r, "operator"), *key = g_str(v, r, "key");
	json_t *vals = g_arr(v, r, "values");
	size_t n = vals ? json_array_size(vals) : 0;

	if (!op)
		return;
	if (field && (!strcmp(op, "In") || !strcmp(op, "NotIn"))) {
		if (n != 1)
			v_required(v, "values",
				   "must be only one value when `operator` is 'In' or 'NotIn' for "
				   "node "
				   "field selector");
	} else if (!field && (!strcmp(op, "In") || !strcmp(op, "NotIn"))) {
		if (!n)
			v_required(v, "values",
				   "must be specified when `operator` is 'In' or 'NotIn'");
	} else if (!field && (!strcmp(op, "Exists") || !strcmp(op, "DoesNotExist"))) {
		if (n)
			v_forbidden(v, "values",
				    "may not be specified when `operator` is 'Exists' or "
				    "'DoesNotExist'");
	} else if (!field && (!strcmp(op, "Gt") || !strcmp(op, "Lt"))) {
		if (n != 1)
			v_required(
				v, "values",
				"must be specified single value when `operator` is 'Lt' or 'Gt'");
	} else {
		v_invalid_s(v, "operator", op, "not a valid selector operator");
	}
	if (field && key && strcmp(key, "metadata.name"))
		v_invalid_s(v, "key", key, "not a valid field selector key");
	else if (field && key)
		string_list(v, r, "values", each_node_name);
	if (!field && key)
		v_qualified(v, "key", key);
	if (!field && !values_ok)
		string_list(v, r, "values", each_label_value);
}

/* A term of node or pod affinity; lax: a preferred term, whose values may be invalid. */
typedef void (*term_fn)(struct vctx *v, const json_t *term, bool lax);

static void node_selector_term(struct vctx *v, const json_t *term, bool lax)
{
	for (int f = 0; f < 2; f++) {
		struct iter it = iter_objs(v, term, f ? "matchFields" : "matchExpressions");
		json_t *r;

		while ((r = next_obj(v, &it)))
			node_selector_req(v, r, f, lax);
	}
}

static void weight(struct vctx *v, const json_t *t)
{
	long long w;

	if (g_int(v, t, "weight", true, &w) >= 0 && (w <= 0 || w > 100))
		v_invalid_i(v, "weight", w, "must be in the range 1-100");
}

static void required_terms(struct vctx *v, const json_t *obj, const char *key, term_fn fn)
{
	struct iter it = iter_objs(v, obj, key);
	json_t *t;

	while ((t = next_obj(v, &it)))
		fn(v, t, false);
}

/* preferredDuringSchedulingIgnoredDuringExecution: [{weight, <sub>: term}]. */
static void preferred_terms(struct vctx *v, const json_t *obj, const char *sub, term_fn fn)
{
	struct iter it = iter_objs(v, obj, "preferredDuringSchedulingIgnoredDuringExecution");
	json_t *t;

	while ((t = next_obj(v, &it))) {
		json_t *term = g_obj(v, t, sub);
		size_t m;

		weight(v, t);
		m = p_child(v, sub);
		/* Preferred terms may carry invalid values: they can still match a node. */
		fn(v, term, true);
		p_restore(v, m);
	}
}

static void node_affinity(struct vctx *v, const json_t *na)
{
	json_t *req = g_obj(v, na, "requiredDuringSchedulingIgnoredDuringExecution");

	if (req) {
		size_t m = p_child(v, "requiredDuringSchedulingIgnoredDuringExecution");

		if (!nonempty(req, "nodeSelectorTerms"))
			v_required(v, "nodeSelectorTerms",
				   "must have at least one node selector term");
		required_terms(v, req, "nodeSelectorTerms", node_selector_term);
		p_restore(v, m);
	}
	preferred_terms(v, na, "preference", node_selector_term);
}

static void label_selector_at(struct vctx *v, const json_t *obj, const char *key)
{
	json_t *sel = g_obj(v, obj, key);
	size_t m;

	if (!sel)
		return;
	m = p_child(v, key);
	label_selector(v, sel);
	p_restore(v, m);
}

static void each_qualified(struct vctx *v, const char *s)
{
	v_qualified(v, NULL, s);
}

static void pod_affinity_term(struct vctx *v, const json_t *t, bool lax)
{
	json_t *nss = g_arr(v, t, "namespaces"), *ns;
	const char *tk = g_str(v, t, "topologyKey");
	size_t i;

	label_selector_at(v, t, "labelSelector");
	label_selector_at(v, t, "namespaceSelector");
	json_array_foreach(nss, i, ns)
		if (json_is_string(ns))
			v_name(v, "namespace", json_string_value(ns), NAME_LABEL);
	for (int k = 0; k < 2; k++) {
		const char *key = k ? "mismatchLabelKeys" : "matchLabelKeys";

		if (!nonempty(t, key))
			continue;
		if (!present(t, "labelSelector"))
			v_forbidden(v, key, "must not be specified when labelSelector is not set");
		else
			string_list(v, t, key, each_qualified);
	}
	if (tk && !*tk)
		v_required(v, "topologyKey", "can not be empty");
	if (tk)
		v_qualified(v, "topologyKey", tk);
}

static void pod_affinity(struct vctx *v, const json_t *pa)
{
	required_terms(v, pa, "requiredDuringSchedulingIgnoredDuringExecution", pod_affinity_term);
	preferred_terms(v, pa, "podAffinityTerm", pod_affinity_term);
}

static void affinity(struct vctx *v, const json_t *spec)
{
	json_t *aff = g_obj(v, spec, "affinity"), *a;
	size_t m, ma;

	if (!aff)
		return;
	m = p_child(v, "affinity");
	if ((a = g_obj(v, aff, "nodeAffinity"))) {
		ma = p_child(v, "nodeAffinity");
		node_affinity(v, a);
		p_restore(v, ma);
	}
	for (int k = 0; k < 2; k++) {
		const char *key = k ? "podAntiAffinity" : "podAffinity";

		if ((a = g_obj(v, aff, key))) {
			ma = p_child(v, key);
			pod_affinity(v, a);
			p_restore(v, ma);
		}
	}
	p_restore(v, m);
}

static void dns_config(struct vctx *v, const json_t *spec)
{
	json_t *dc = g_obj(v, spec, "dnsConfig"), *arr, *s;
	const char *policy = raw_str(spec, "dnsPolicy");
	size_t i, m, total = 0;

	if (!strcmp(policy, "None")) {
		if (!dc) {
			v_required(v, "dnsConfig",
				   "must provide `dnsConfig` when `dnsPolicy` is None");
			return;
		}
		if (!nonempty(dc, "nameservers")) {
			v_required(v, "dnsConfig.nameservers",
				   "must provide at least one DNS nameserver when `dnsPolicy` is "
				   "None");
			return;
		}
	}
	if (!dc)
		return;
	m = p_child(v, "dnsConfig");
	arr = g_arr(v, dc, "nameservers");
	if (arr && json_array_size(arr) > 3)
		v_invalid_j(v, "nameservers", arr, "must not have more than 3 nameservers");
	json_array_foreach(arr, i, s) {
		size_t mi = p_child(v, "nameservers");

		p_index(v, i);
		if (elem_str(v, s))
			v_ip(v, NULL, json_string_value(s));
		p_restore(v, mi);
	}
	arr = g_arr(v, dc, "searches");
	json_array_foreach(arr, i, s)
		total += (json_is_string(s) ? json_string_length(s) : 0) + (i ? 1 : 0);
	if (arr && json_array_size(arr) > 32)
		v_invalid_j(v, "searches", arr, "must not have more than 32 search paths");
	if (total > 2048)
		v_invalid_j(v, "searches", arr,
			    "must not have more than 2048 characters (including spaces) in the "
			    "search list");
	json_array_foreach(arr, i, s) {
		size_t mi = p_child(v, "searches");
		const char *sv;

		p_index(v, i);
		/* RelaxedDNSSearchValidation (default on): "." and '_' are allowed. */
		if ((sv = elem_str(v, s)) && strcmp(sv, ".")) {
			char *t = xstrdup(sv);
			size_t n = strlen(t);

			if (n && t[n - 1] == '.')
				t[n - 1] = '\0';
			if (strlen(t) > 253)
				v_invalid_s(v, NULL, t, "must be no more than 253 characters");
			if (!subdomain_chars_ok(t, true))
				v_invalid_s(v, NULL, t, DNS_SUBDOMAIN_US_MSG);
			free(t);
		}
		p_restore(v, mi);
	}
	arr = g_arr(v, dc, "options");
	json_array_foreach(arr, i, s) {
		if (!*raw_str(s, "name")) {
			size_t mi = p_child(v, "options");

			p_index(v, i);
			v_required(v, NULL, "must not be empty");
			p_restore(v, mi);
		}
	}
	p_restore(v, m);
}

static void topology_spread(struct vctx *v, const json_t *spec)
{
	static const char *const when[] = { "DoNotSchedule", "ScheduleAnyway", NULL };
	static const char *const pol[] = { "Honor", "Ignore", NULL };
	struct iter it = iter_objs(v, spec, "topologySpreadConstraints");
	json_t *c;

	while ((c = next_obj(v, &it))) {
		const char *tk = g_str(v, c, "topologyKey"), *wu = g_str(v, c, "whenUnsatisfiable");
		long long val;
		json_t *o;
		size_t j;

		if (g_int(v, c, "maxSkew", true, &val) >= 0 && val <= 0)
			v_invalid_i(v, "maxSkew", val, "must be greater than zero");
		if (tk && !*tk)
			v_required(v, "topologyKey", "can not be empty");
		else if (tk)
			v_qualified(v, "topologyKey", tk);
		if (wu && !str_in(wu, when))
			v_unsupported(v, "whenUnsatisfiable", wu, NULL, when);
		if (g_int(v, c, "minDomains", true, &val) == 1) {
			if (val <= 0)
				v_invalid_i(v, "minDomains", val, "must be greater than 0");
			if (wu && strcmp(wu, "DoNotSchedule")) {
				char *d = xasprintf("can only use minDomains if "
						    "whenUnsatisfiable=DoNotSchedule, not %s",
						    wu);

				v_invalid_i(v, "minDomains", val, d);
				free(d);
			}
		}
		/* {topologyKey, whenUnsatisfiable} pairs are unique; reported once per pair. */
		json_array_foreach(it.arr, j, o) {
			char *dup;

			if (j < it.i || !tk || !wu || strcmp(raw_str(o, "topologyKey"), tk) ||
			    strcmp(raw_str(o, "whenUnsatisfiable"), wu))
				continue;
			dup = xasprintf("{%s, %s}", tk, wu);
			v_duplicate_s(v, "{topologyKey, whenUnsatisfiable}", dup);
			free(dup);
			break;
		}
		for (int k = 0; k < 2; k++) {
			const char *key = k ? "nodeTaintsPolicy" : "nodeAffinityPolicy";
			const char *s = g_str(v, c, key);

			if (s && present(c, key) && !str_in(s, pol))
				v_unsupported(v, key, s, NULL, pol);
		}
		label_selector_at(v, c, "labelSelector");
	}
}

/* ------------------------------------------------------------------ pod: spec */

static void opt_name(struct vctx *v, const json_t *spec, const char *key, enum name_kind k)
{
	const char *s = g_str(v, spec, key);

	if (s && *s)
		v_name(v, key, s, k);
}

static void pod_spec_misc(struct vctx *v, const json_t *spec)
{
	static const char *const preempt[] = { "PreemptLowerPriority", "Never", NULL };
	static const char *const oses[] = { "linux", "windows", NULL };
	json_t *arr, *e, *os, *oh;
	const char *s;
	long long ads;
	size_t i, m;

	arr = g_arr(v, spec, "imagePullSecrets");
	json_array_foreach(arr, i, e) {
		m = p_child(v, "imagePullSecrets");
		p_index(v, i);
		if (elem_obj(v, e))
			g_str(v, e, "name");
		p_restore(v, m);
	}
	affinity(v, spec);
	dns_config(v, spec);
	arr = g_arr(v, spec, "readinessGates");
	json_array_foreach(arr, i, e) {
		m = p_child(v, "readinessGates");
		p_index(v, i);
		v_qualified(v, "conditionType", raw_str(e, "conditionType"));
		p_restore(v, m);
	}
	arr = g_arr(v, spec, "schedulingGates");
	json_array_foreach(arr, i, e) {
		const char *name = raw_str(e, "name");
		json_t *o;
		size_t j;

		m = p_child(v, "schedulingGates");
		p_index(v, i);
		v_qualified(v, NULL, name);
		json_array_foreach(arr, j, o)
			if (j < i && !strcmp(raw_str(o, "name"), name)) {
				v_duplicate_s(v, NULL, name);
				break;
			}
		p_restore(v, m);
	}
	topology_spread(v, spec);
	if (!g_bool(v, spec, "hostUsers", true)) {
		if (jsonx_bool(spec, "hostNetwork", false))
			v_forbidden(v, "hostNetwork", "when `pod.Spec.HostUsers` is false");
		if (jsonx_bool(spec, "hostPID", false))
			v_forbidden(v, "HostPID", "when `pod.Spec.HostUsers` is false");
		if (jsonx_bool(spec, "hostIPC", false))
			v_forbidden(v, "HostIPC", "when `pod.Spec.HostUsers` is false");
	}
	opt_name(v, spec, "serviceAccountName", NAME_SUBDOMAIN);
	opt_name(v, spec, "nodeName", NAME_SUBDOMAIN);
	if (g_int(v, spec, "activeDeadlineSeconds", false, &ads) == 1 &&
	    (ads < 1 || ads > INT32_MAX))
		v_invalid_i(v, "activeDeadlineSeconds", ads,
			    "must be between 1 and 2147483647, inclusive");
	opt_name(v, spec, "hostname", NAME_LABEL);
	opt_name(v, spec, "subdomain", NAME_LABEL);
	tolerations(v, spec);
	arr = g_arr(v, spec, "hostAliases");
	json_array_foreach(arr, i, e) {
		json_t *hs = jsonx_arr(e, "hostnames"), *h;
		size_t j;

		m = p_child(v, "hostAliases");
		p_index(v, i);
		v_ip(v, "ip", raw_str(e, "ip"));
		json_array_foreach(hs, j, h) {
			char *child = xasprintf("hostnames[%zu]", j);

			v_name(v, child, json_is_string(h) ? json_string_value(h) : "",
			       NAME_SUBDOMAIN);
			free(child);
		}
		p_restore(v, m);
	}
	opt_name(v, spec, "priorityClassName", NAME_SUBDOMAIN);
	s = g_str(v, spec, "runtimeClassName");
	if (s && present(spec, "runtimeClassName"))
		v_name(v, "runtimeClassName", s, NAME_SUBDOMAIN);
	s = g_str(v, spec, "preemptionPolicy");
	if (s && present(spec, "preemptionPolicy") && !*s)
		v_required(v, "preemptionPolicy", "");
	else if (s && present(spec, "preemptionPolicy") && !str_in(s, preempt))
		v_unsupported(v, "preemptionPolicy", s, NULL, preempt);
	if ((oh = g_obj(v, spec, "overhead"))) {
		json_t *req = json_pack("{sO}", "limits", oh);

		m = p_child(v, "overhead");
		resource_requirements(v, req);
		p_restore(v, m);
		json_decref(req);
	}
	if ((os = g_obj(v, spec, "os"))) {
		s = g_str(v, os, "name");
		if (s && !*s)
			v_required(v, "os.name", "cannot be empty");
		else if (s && !str_in(s, oses))
			v_unsupported(v, "os", s, NULL, oses);
	}
}

/* ValidatePodSpec, at the spec's path (spec or spec.template.spec). */
static void pod_spec(struct vctx *v, const json_t *spec, bool is_pod)
{
	static const char *const restarts[] = { "Always", "OnFailure", "Never", NULL };
	static const char *const dns[] = { "ClusterFirstWithHostNet", "ClusterFirst", "Default",
					   "None", NULL };
	struct podctx pc = { .is_pod = is_pod };
	const char *s;
	json_t *c;
	size_t i;
	int r;

	r = g_int(v, spec, "terminationGracePeriodSeconds", false, &pc.grace);
	if (!r)
		v_required(v, "terminationGracePeriodSeconds", "");
	pc.have_grace = r == 1;
	pc.host_users = jsonx_bool(spec, "hostUsers", true);
	pc.restart = raw_str(spec, "restartPolicy");
	pc.vols = json_object();
	pod_volumes(v, spec, &pc);
	pod_containers(v, spec, &pc);
	pod_init_containers(v, spec, &pc);
	if (jsonx_bool(spec, "hostNetwork", false)) {
		json_array_foreach(jsonx_arr(spec, "containers"), i, c) {
			json_t *ports = jsonx_arr(c, "ports"), *p;
			size_t j;

			json_array_foreach(ports, j, p) {
				long long hp = jsonx_int(p, "hostPort", 0);
				long long cp = jsonx_int(p, "containerPort", 0);
				char *child;

				if ((!is_pod && !hp) || hp == cp)
					continue;
				child = xasprintf("containers[%zu].ports[%zu].hostPort", i, j);
				v_invalid_i(
					v, child, hp,
					"must match `containerPort` when `hostNetwork` is true");
				free(child);
			}
		}
	}
	s = g_str(v, spec, "restartPolicy");
	if (s && !*s)
		v_required(v, "restartPolicy", "");
	else if (s && !str_in(s, restarts))
		v_unsupported(v, "restartPolicy", s, NULL, restarts);
	s = g_str(v, spec, "dnsPolicy");
	if (s && !*s)
		v_required(v, "dnsPolicy", "");
	else if (s && !str_in(s, dns))
		v_unsupported(v, "dnsPolicy", s, NULL, dns);
	label_map_at(v, spec, "nodeSelector");
	pod_security(v, spec);
	pod_spec_misc(v, spec);
	json_decref(pc.vols);
}

/* Annotations with meaning for pods (ValidatePodSpecificAnnotations), at child. */
static void pod_annotations(struct vctx *v, const json_t *ann, const json_t *spec,
			    const char *child)
{
	const char *mirror = "kubernetes.io/config.mirror";
	const char *cost_key = "controller.kubernetes.io/pod-deletion-cost";
	const char *cost = jsonx_str(ann, cost_key, NULL);
	size_t m = p_child(v, child);

	if (jsonx_str(ann, mirror, NULL) && !*raw_str(spec, "nodeName")) {
		size_t mk = p_key(v, mirror);

		v_invalid_s(v, NULL, raw_str(ann, mirror),
			    "must set spec.nodeName if mirror pod annotation is set");
		p_restore(v, mk);
	}
	if (cost) {
		/* strconv.ParseInt(.., 10, 32) without '+' or leading zeros. */
		char *end;
		long long val = strtoll(cost, &end, 10);
		bool ok = *cost && !*end &&
			  (cost[0] == '-' || (cost[0] >= '1' && cost[0] <= '9') ||
			   !strcmp(cost, "0")) &&
			  !(cost[0] == '-' && cost[1] == '0') && val >= INT32_MIN &&
			  val <= INT32_MAX;

		if (!ok) {
			size_t mk = p_key(v, cost_key);

			v_invalid_s(v, NULL, cost, "must be a 32bit integer");
			p_restore(v, mk);
		}
	}
	p_restore(v, m);
}

/* ValidatePodTemplateSpec, at the template's path. */
static void pod_template(struct vctx *v, const json_t *tmpl)
{
	json_t *md, *spec, *ann;
	size_t m = p_child(v, "metadata");

	md = g_obj(v, tmpl, "metadata");
	p_restore(v, m);
	/* Upstream reports template labels and annotations without "metadata". */
	label_map(v, g_obj(v, md, "labels"), "labels");
	ann = g_obj(v, md, "annotations");
	annotation_map(v, ann, "annotations");
	spec = g_obj(v, tmpl, "spec");
	pod_annotations(v, ann, spec, "annotations");
	m = p_child(v, "spec");
	pod_spec(v, spec, false);
	p_restore(v, m);
	if (nonempty(spec, "ephemeralContainers"))
		v_forbidden(v, "spec.ephemeralContainers",
			    "ephemeral containers not allowed in pod template");
}

/* ------------------------------------------------------------------ Pod */

static void image_whitespace(struct vctx *v, const json_t *spec, const char *list)
{
	json_t *c;
	size_t i;

	json_array_foreach(jsonx_arr(spec, list), i, c) {
		const char *img = raw_str(c, "image");
		size_t n = strlen(img);

		if (n && (strchr(" \t\n\v\f\r", img[0]) || strchr(" \t\n\v\f\r", img[n - 1]))) {
			char *child = xasprintf("spec.%s[%zu].image", list, i);

			v_invalid_s(v, child, img, "must not have leading or trailing whitespace");
			free(child);
		}
	}
}

static const char *const pod_updatable =
	"pod updates may not change fields other than `spec.containers[*].image`,"
	"`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
	"additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
	"set to 1 if it was previously negative)";

/* Containers may not be added or removed; false ends the update checks, as upstream. */
static bool container_updates(struct vctx *v, const json_t *spec, const json_t *ospec,
			      const char *list)
{
	json_t *n = jsonx_arr(spec, list), *o = jsonx_arr(ospec, list), *c;
	size_t nn = n ? json_array_size(n) : 0, on = o ? json_array_size(o) : 0, i;
	char *child = xasprintf("spec.%s", list);

	if (nn != on) {
		v_forbidden(v, child, "pod updates may not add or remove containers");
		free(child);
		return false;
	}
	free(child);
	json_array_foreach(n, i, c) {
		if (!*raw_str(c, "image")) {
			char *ch = xasprintf("spec.%s[%zu].image", list, i);

			v_required(v, ch, "");
			free(ch);
		}
	}
	return true;
}

/* Tolerations may only be added; an existing one may change only tolerationSeconds. */
static void only_added_tolerations(struct vctx *v, const json_t *nt, const json_t *ot)
{
	json_t *o, *n;
	size_t i, j;

	json_array_foreach(ot, i, o) {
		bool found = false;

		json_array_foreach(nt, j, n) {
			json_t *a = json_deep_copy(o), *b = json_deep_copy(n);

			if (json_is_object(a) && json_is_object(b)) {
				json_object_del(a, "tolerationSeconds");
				json_object_del(b, "tolerationSeconds");
			}
			found = sem_equal(a, b, NULL);
			json_decref(a);
			json_decref(b);
			if (found)
				break;
		}
		if (!found) {
			v_forbidden(v, "spec.tolerations",
				    "existing toleration can not be modified except its "
				    "tolerationSeconds");
			return;
		}
	}
}

static void pod_update(struct vctx *v, const json_t *pod, const json_t *old)
{
	json_t *spec = jsonx_obj(pod, "spec"), *ospec = jsonx_obj(old, "spec");
	json_t *munged, *nc, *oc, *c, *ng, *og, *ann, *oann;
	const char *mirror = "kubernetes.io/config.mirror";
	long long nads, oads, otg;
	bool has_n, has_o;
	struct buf diff = { 0 };
	size_t i;

	ann = jsonx_obj(jsonx_obj(pod, "metadata"), "annotations");
	oann = jsonx_obj(jsonx_obj(old, "metadata"), "annotations");
	if (!jsonx_equal(json_object_get(ann, mirror), json_object_get(oann, mirror))) {
		char *child = xasprintf("metadata.annotations[%s]", mirror);

		v_forbidden(v, child,
			    !json_object_get(oann, mirror)
				    ? "may not add mirror pod annotation"
				    : "may not remove or update mirror pod annotation");
		free(child);
	}
	if (!container_updates(v, spec, ospec, "containers") ||
	    !container_updates(v, spec, ospec, "initContainers"))
		return;
	has_n = present(spec, "activeDeadlineSeconds");
	has_o = present(ospec, "activeDeadlineSeconds");
	nads = jsonx_int(spec, "activeDeadlineSeconds", 0);
	oads = jsonx_int(ospec, "activeDeadlineSeconds", 0);
	if (has_n && (nads < 0 || nads > INT32_MAX)) {
		v_invalid_i(v, "spec.activeDeadlineSeconds", nads,
			    "must be between 0 and 2147483647, inclusive");
		return;
	}
	if (has_n && has_o && oads < nads) {
		v_invalid_i(v, "spec.activeDeadlineSeconds", nads,
			    "must be less than or equal to previous value");
		return;
	}
	if (!has_n && has_o)
		v_invalid_j(v, "spec.activeDeadlineSeconds", NULL,
			    "must not update from a positive integer to nil value");
	only_added_tolerations(v, jsonx_arr(spec, "tolerations"), jsonx_arr(ospec, "tolerations"));
	ng = jsonx_arr(spec, "schedulingGates");
	og = jsonx_arr(ospec, "schedulingGates");
	json_array_foreach(ng, i, c) {
		const char *name = raw_str(c, "name");
		bool old_gate = false;
		json_t *g;
		size_t j;

		json_array_foreach(og, j, g)
			old_gate |= !strcmp(raw_str(g, "name"), name);
		if (!old_gate) {
			char *child = xasprintf("spec.schedulingGates[%zu].name", i);
			char *d = xasprintf("only deletion is allowed, but found new scheduling "
					    "gate '%s'",
					    name);

			v_forbidden(v, child, d);
			free(child);
			free(d);
		}
	}
	if (sem_equal(spec, ospec, NULL))
		return;
	/* Overwrite what may change with the old values, then nothing else may differ. */
	munged = json_is_object(spec) ? json_deep_copy(spec) : json_object();
	for (int l = 0; l < 2; l++) {
		const char *list = l ? "initContainers" : "containers";

		nc = jsonx_arr(munged, list);
		oc = jsonx_arr(ospec, list);
		json_array_foreach(nc, i, c) {
			json_t *img = json_object_get(json_array_get(oc, i), "image");

			if (json_is_object(c))
				json_object_set(c, "image", img ? img : json_null());
		}
	}
	json_object_del(munged, "activeDeadlineSeconds");
	if (has_o)
		json_object_set(munged, "activeDeadlineSeconds",
				json_object_get(ospec, "activeDeadlineSeconds"));
	json_object_del(munged, "schedulingGates");
	json_object_del(munged, "tolerations");
	if (og)
		json_object_set(munged, "schedulingGates", og);
	if (jsonx_arr(ospec, "tolerations"))
		json_object_set(munged, "tolerations", jsonx_arr(ospec, "tolerations"));
	otg = jsonx_int(ospec, "terminationGracePeriodSeconds", 0);
	if (otg < 0 && jsonx_int(munged, "terminationGracePeriodSeconds", 0) == 1)
		json_object_set(munged, "terminationGracePeriodSeconds",
				json_object_get(ospec, "terminationGracePeriodSeconds"));
	/* A gated pod may gain nodeSelector entries (never lose or change them). */
	if (og && json_array_size(og)) {
		json_t *ns = jsonx_obj(munged, "nodeSelector"),
		       *ons = jsonx_obj(ospec, "nodeSelector");
		const char *k;
		json_t *val;
		bool ok = true;

		json_object_foreach(ons, k, val)
			ok &= jsonx_equal(val, json_object_get(ns, k));
		if (!ok)
			v_invalid_j(
				v, "spec.nodeSelector", ns,
				"only additions to spec.nodeSelector are allowed (no mutations or "
				"deletions)");
		json_object_del(munged, "nodeSelector");
		if (ons)
			json_object_set(munged, "nodeSelector", ons);
	}
	put_str(&diff, "spec");
	if (!sem_equal(munged, ospec, &diff)) {
		char *d = xasprintf("%s\n  changed: %s", pod_updatable, diff.data);

		v_forbidden(v, "spec", d);
		free(d);
	}
	buf_free(&diff);
	json_decref(munged);
}

static void check_pod(struct vctx *v, const json_t *pod, const json_t *old)
{
	bool bad;
	json_t *spec = get_member(v, pod, "spec", W_OBJECT, &bad), *vol;
	json_t *md = jsonx_obj(pod, "metadata");
	size_t m, i;

	if (bad)
		return;
	pod_annotations(v, jsonx_obj(md, "annotations"), spec, "metadata.annotations");
	m = p_child(v, "spec");
	pod_spec(v, spec, true);
	p_restore(v, m);
	if (!*raw_str(spec, "serviceAccountName")) {
		json_array_foreach(jsonx_arr(spec, "volumes"), i, vol) {
			json_t *srcs = jsonx_arr(jsonx_obj(vol, "projected"), "sources"), *s;
			size_t j;

			json_array_foreach(srcs, j, s) {
				char *child;

				if (!present(s, "serviceAccountToken"))
					continue;
				child = xasprintf("spec.volumes[%zu].projected.sources[%zu]."
						  "serviceAccountToken",
						  i, j);
				v_forbidden(
					v, child,
					"must not be specified when serviceAccountName is not set");
				free(child);
			}
		}
	}
	image_whitespace(v, spec, "containers");
	image_whitespace(v, spec, "initContainers");
	if (old) {
		pod_update(v, pod, old);
		return;
	}
	if (nonempty(spec, "ephemeralContainers"))
		v_forbidden(v, "spec.ephemeralContainers", "cannot be set on create");
	if (*raw_str(spec, "nodeName") && nonempty(spec, "schedulingGates"))
		v_forbidden(v, "spec.nodeName",
			    "cannot be set until all schedulingGates have been cleared");
}

/* status.podIPs / status.hostIPs: valid, distinct, at most one per family. */
static void status_ips(struct vctx *v, const json_t *status, const char *key)
{
	json_t *arr = jsonx_arr(status, key), *e;
	size_t i, n = arr ? json_array_size(arr) : 0;
	size_t m = p_child(v, key);

	json_array_foreach(arr, i, e) {
		json_t *o;
		size_t j, mi = p_index(v, i);

		v_ip(v, NULL, raw_str(e, "ip"));
		json_array_foreach(arr, j, o)
			if (j < i && !strcmp(raw_str(o, "ip"), raw_str(e, "ip"))) {
				v_duplicate_j(v, NULL, e, NULL);
				break;
			}
		p_restore(v, mi);
	}
	if (n > 2 || (n == 2 && !ips_dual_stack(raw_str(json_array_get(arr, 0), "ip"),
						raw_str(json_array_get(arr, 1), "ip"))))
		v_invalid_j(v, NULL, arr, "may specify no more than one IP for each IP family");
	p_restore(v, m);
}

/* A terminated container of a pod that does not restart may not come back. */
static void state_transitions(struct vctx *v, const json_t *status, const json_t *ostatus,
			      const char *key, const char *restart)
{
	json_t *ns = jsonx_arr(status, key), *os = jsonx_arr(ostatus, key), *o, *n;
	size_t i, j;

	if (!strcmp(restart, "Always"))
		return;
	json_array_foreach(os, i, o) {
		json_t *term = jsonx_getv(o, "state", "terminated", NULL);

		if (!json_is_object(term) ||
		    (jsonx_int(term, "exitCode", 0) && !strcmp(restart, "OnFailure")))
			continue;
		json_array_foreach(ns, j, n) {
			if (strcmp(raw_str(n, "name"), raw_str(o, "name")) ||
			    json_is_object(jsonx_getv(n, "state", "terminated", NULL)))
				continue;
			char *child = xasprintf("%s[%zu].state", key, i);

			v_forbidden(v, child, "may not be transitioned to non-terminated state");
			free(child);
		}
	}
}

static void status_pod(struct vctx *v, const json_t *pod, const json_t *old)
{
	static const char *const sys[] = { "PodScheduled", "Ready", "Initialized", NULL };
	json_t *st = g_obj(v, pod, "status"), *ost = jsonx_obj(old, "status"), *c;
	const char *nn, *qos;
	size_t i;

	/* Upstream checks condition types under metadata; kept for fidelity. */
	json_array_foreach(jsonx_arr(st, "conditions"), i, c) {
		const char *t = raw_str(c, "type");
		char *child;

		if (str_in(t, sys))
			continue;
		child = xasprintf("metadata.conditions[%zu].Type", i);
		v_qualified(v, child, t);
		free(child);
	}
	if (old && strcmp(raw_str(jsonx_obj(pod, "spec"), "nodeName"),
			  raw_str(jsonx_obj(old, "spec"), "nodeName")))
		v_forbidden(v, "status.nodeName", "may not be changed directly");
	nn = raw_str(st, "nominatedNodeName");
	if (*nn && strcmp(nn, raw_str(ost, "nominatedNodeName")))
		v_name(v, "status.nominatedNodeName", nn, NAME_SUBDOMAIN);
	qos = raw_str(st, "qosClass");
	if (old && *qos && strcmp(qos, raw_str(ost, "qosClass")))
		v_invalid_s(v, "status.qosClass", qos, IMMUTABLE);
	if (old) {
		const char *restart = raw_str(jsonx_obj(old, "spec"), "restartPolicy");
		size_t m = p_child(v, "status");

		state_transitions(v, st, ost, "containerStatuses", restart);
		state_transitions(v, st, ost, "initContainerStatuses", restart);
		state_transitions(v, st, ost, "ephemeralContainerStatuses", "Never");
		p_restore(v, m);
	}
	if (st) {
		size_t m = p_child(v, "status");

		status_ips(v, st, "podIPs");
		if (nonempty(st, "hostIPs") &&
		    strcmp(raw_str(st, "hostIP"),
			   raw_str(json_array_get(jsonx_arr(st, "hostIPs"), 0), "ip")))
			v_invalid_s(v, "hostIPs[0].ip",
				    raw_str(json_array_get(jsonx_arr(st, "hostIPs"), 0), "ip"),
				    "must be equal to `hostIP`");
		status_ips(v, st, "hostIPs");
		p_restore(v, m);
	}
}

/* ------------------------------------------------------------------ Service */

static const char *const protocols[] = { "SCTP", "TCP", "UDP", NULL };

/* port (1-65535) and protocol of a Service or Endpoints port. */
static void port_and_protocol(struct vctx *v, const json_t *p)
{
	const char *proto = g_str(v, p, "protocol");
	long long port;

	if (g_int(v, p, "port", true, &port) >= 0 && (port < 1 || port > 65535))
		v_invalid_i(v, "port", port, RANGE_PORT);
	if (proto && !*proto)
		v_required(v, "protocol", "");
	else if (proto && !str_in(proto, protocols))
		v_unsupported(v, "protocol", proto, NULL, protocols);
}

/*
 * spec.clusterIPs as the service strategy leaves it before validation: a client that
 * only sets the singular clusterIP gets clusterIPs = [clusterIP]. A new reference.
 */
static json_t *cluster_ips(const json_t *spec)
{
	json_t *ips = jsonx_arr(spec, "clusterIPs");
	const char *ip = raw_str(spec, "clusterIP");

	if (ips && json_array_size(ips))
		return json_incref(ips);
	return *ip ? json_pack("[s]", ip) : json_array();
}

static const char *ip_at(const json_t *ips, size_t i)
{
	json_t *s = json_array_get(ips, i);

	return json_is_string(s) ? json_string_value(s) : "";
}

static bool ips_headless(const json_t *ips)
{
	return json_array_size(ips) == 1 && !strcmp(ip_at(ips, 0), "None");
}

static void service_port(struct vctx *v, const json_t *p, bool need_name, json_t *names)
{
	const char *name = g_str(v, p, "name"), *ap;
	long long np;

	if (need_name && name && !*name) {
		v_required(v, "name", "");
	} else if (name && *name) {
		v_name(v, "name", name, NAME_LABEL);
		if (json_object_get(names, name))
			v_duplicate_s(v, "name", name);
		else
			json_object_set_new(names, name, json_true());
	}
	port_and_protocol(v, p);
	port_num_or_name(v, p, "targetPort");
	ap = g_str(v, p, "appProtocol");
	if (ap && present(p, "appProtocol"))
		v_qualified(v, "appProtocol", ap);
	/* The node-port range is the allocator's; only nonsense is refused here. */
	if (g_int(v, p, "nodePort", true, &np) == 1 && (np < 0 || np > 65535))
		v_invalid_i(v, "nodePort", np, RANGE_PORT);
}

static void service_cluster_ips(struct vctx *v, const json_t *spec, const json_t *ips)
{
	static const char *const fams[] = { "IPv4", "IPv6", NULL };
	static const char *const pols[] = { "PreferDualStack", "RequireDualStack", "SingleStack",
					    NULL };
	json_t *explicit = jsonx_arr(spec, "clusterIPs"), *families = g_arr(v, spec, "ipFamilies");
	const char *ip = raw_str(spec, "clusterIP"), *pol;
	size_t n = json_array_size(ips), i;
	bool bad = false;
	json_t *f;

	if (*ip && explicit && json_array_size(explicit) && strcmp(ip_at(explicit, 0), ip))
		v_invalid_j(v, "clusterIPs", explicit, "first value must match `clusterIP`");
	else if (!*ip && explicit && json_array_size(explicit))
		v_invalid_j(v, "clusterIPs", explicit,
			    "must be empty when `clusterIP` is not specified");
	json_array_foreach(families, i, f) {
		const char *s = json_is_string(f) ? json_string_value(f) : "";
		char *child = xasprintf("ipFamilies[%zu]", i);
		json_t *g;
		size_t j;

		if (!str_in(s, fams))
			v_unsupported(v, child, NULL, f, fams);
		json_array_foreach(families, j, g)
			if (j < i && jsonx_equal(f, g)) {
				v_duplicate_j(v, child, f, NULL);
				break;
			}
		free(child);
	}
	pol = g_str(v, spec, "ipFamilyPolicy");
	if (pol && present(spec, "ipFamilyPolicy") && !str_in(pol, pols))
		v_unsupported(v, "ipFamilyPolicy", pol, NULL, pols);
	for (i = 0; i < n; i++) {
		char *child;

		if (!i && !strcmp(ip_at(ips, 0), "None")) {
			if (n > 1) {
				bad = true;
				v_invalid_j(v, "clusterIPs", ips,
					    "'None' must be the first and only value");
			}
			continue;
		}
		child = xasprintf("clusterIPs[%zu]", i);
		bad |= !v_ip(v, child, ip_at(ips, i));
		free(child);
	}
	if (n > 2)
		v_invalid_j(v, "clusterIPs", ips, "may only hold up to 2 values");
	if (bad)
		return;
	if (n > 1 && !ips_dual_stack(ip_at(ips, 0), ip_at(ips, 1)))
		v_invalid_j(v, "clusterIPs", ips,
			    "may specify no more than one IP for each IP family");
	if (ips_headless(ips))
		return;
	for (i = 0; i < n && i < json_array_size(families); i++) {
		struct ipaddr a;
		const char *fam = ip_at(families, i);
		bool v6 = ip_parse(ip_at(ips, i), &a) && !ip_is4(&a);
		char *child = xasprintf("clusterIPs[%zu]", i), *d = NULL;

		if (!strcmp(fam, "IPv4") && v6)
			d = xasprintf("expected an IPv4 value as indicated by `ipFamilies[%zu]`",
				      i);
		else if (!strcmp(fam, "IPv6") && !v6)
			d = xasprintf("expected an IPv6 value as indicated by `ipFamilies[%zu]`",
				      i);
		if (d)
			v_invalid_s(v, child, ip_at(ips, i), d);
		free(d);
		free(child);
	}
}

static bool svc_externally_accessible(const json_t *spec)
{
	const char *t = raw_str(spec, "type");

	return !strcmp(t, "LoadBalancer") || !strcmp(t, "NodePort") ||
	       (!strcmp(t, "ClusterIP") && nonempty(spec, "externalIPs"));
}

static bool svc_needs_health_check(const json_t *spec)
{
	return !strcmp(raw_str(spec, "type"), "LoadBalancer") &&
	       !strcmp(raw_str(spec, "externalTrafficPolicy"), "Local");
}

static void service_ports(struct vctx *v, const json_t *spec, const char *type)
{
	json_t *ports = g_arr(v, spec, "ports"), *p, *names = json_object();
	size_t n = ports ? json_array_size(ports) : 0, i, j, m = p_child(v, "ports");

	json_array_foreach(ports, i, p) {
		size_t mi = p_index(v, i);

		if (elem_obj(v, p))
			service_port(v, p, n > 1, names);
		p_restore(v, mi);
	}
	json_decref(names);
	json_array_foreach(ports, i, p) {
		long long np = jsonx_int(p, "nodePort", 0);
		json_t *o;
		char *child;

		if (np && !strcmp(type, "ClusterIP")) {
			child = xasprintf("[%zu].nodePort", i);
			v_forbidden(v, child, "may not be used when `type` is 'ClusterIP'");
			free(child);
		}
		json_array_foreach(ports, j, o) {
			if (j >= i || !np || jsonx_int(o, "nodePort", 0) != np ||
			    strcmp(raw_str(o, "protocol"), raw_str(p, "protocol")))
				continue;
			child = xasprintf("[%zu].nodePort", i);
			v_value(v, child, "FieldValueDuplicate", "Duplicate value", NULL, NULL, &np,
				NULL);
			free(child);
			break;
		}
	}
	json_array_foreach(ports, i, p) {
		json_t *o;

		json_array_foreach(ports, j, o) {
			json_t *key;
			char *child;

			if (j >= i || jsonx_int(o, "port", 0) != jsonx_int(p, "port", 0) ||
			    strcmp(raw_str(o, "protocol"), raw_str(p, "protocol")))
				continue;
			key = json_pack("{sIss}", "port", (json_int_t)jsonx_int(p, "port", 0),
					"protocol", raw_str(p, "protocol"));
			child = xasprintf("[%zu]", i);
			v_duplicate_j(v, child, key, NULL);
			free(child);
			json_decref(key);
			break;
		}
	}
	p_restore(v, m);
}

static void service_traffic(struct vctx *v, const json_t *spec, const char *type)
{
	static const char *const etps[] = { "Cluster", "Local", NULL };
	static const char *const itps[] = { "Cluster", "Local", NULL };
	static const char *const tds[] = { "PreferClose", NULL };
	const char *etp = g_str(v, spec, "externalTrafficPolicy"), *s;
	long long hc;
	int r;

	if (etp && !svc_externally_accessible(spec) && *etp)
		v_invalid_s(v, "externalTrafficPolicy", etp,
			    "may only be set for externally-accessible services");
	else if (etp && svc_externally_accessible(spec) && !*etp)
		v_required(v, "externalTrafficPolicy", "");
	else if (etp && svc_externally_accessible(spec) && !str_in(etp, etps))
		v_unsupported(v, "externalTrafficPolicy", etp, NULL, etps);
	r = g_int(v, spec, "healthCheckNodePort", true, &hc);
	if (!svc_needs_health_check(spec) && hc)
		v_invalid_i(v, "healthCheckNodePort", hc,
			    "may only be set when `type` is 'LoadBalancer' and "
			    "`externalTrafficPolicy` is 'Local'");
	else if (svc_needs_health_check(spec) && r == 1 && (hc < 1 || hc > 65535))
		v_invalid_i(v, "healthCheckNodePort", hc, RANGE_PORT);
	s = g_str(v, spec, "internalTrafficPolicy");
	if (s && !present(spec, "internalTrafficPolicy") &&
	    (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer") ||
	     !strcmp(type, "ClusterIP")))
		v_required(v, "internalTrafficPolicy", "");
	else if (s && present(spec, "internalTrafficPolicy") && !str_in(s, itps))
		v_unsupported(v, "internalTrafficPolicy", s, NULL, itps);
	s = g_str(v, spec, "trafficDistribution");
	if (s && present(spec, "trafficDistribution") && !str_in(s, tds))
		v_unsupported(v, "trafficDistribution", s, NULL, tds);
}

static void service_spec(struct vctx *v, const json_t *spec)
{
	static const char *const types[] = { "ClusterIP", "ExternalName", "LoadBalancer",
					     "NodePort", NULL };
	static const char *const affinities[] = { "ClientIP", "None", NULL };
	const char *type = g_str(v, spec, "type"), *s, *lbc;
	json_t *ips = cluster_ips(spec), *arr, *e, *sac;
	bool headless = ips_headless(ips), lb;
	long long timeout;
	size_t i;

	type = type ? type : "";
	lb = !strcmp(type, "LoadBalancer");
	if (!nonempty(spec, "ports") && !headless && strcmp(type, "ExternalName"))
		v_required(v, "ports", "");
	if ((lb || !strcmp(type, "NodePort")) && headless)
		v_invalid_s(v, "clusterIPs[0]", "None",
			    lb ? "may not be set to 'None' for LoadBalancer services"
			       : "may not be set to 'None' for NodePort services");
	if (!strcmp(type, "ExternalName")) {
		char *cname = xstrdup(raw_str(spec, "externalName"));
		size_t n = strlen(cname);

		if (json_array_size(ips))
			v_forbidden(v, "clusterIPs", "may not be set for ExternalName services");
		if (nonempty(spec, "ipFamilies"))
			v_forbidden(v, "ipFamilies", "may not be set for ExternalName services");
		if (present(spec, "ipFamilyPolicy"))
			v_forbidden(v, "ipFamilyPolicy",
				    "may not be set for ExternalName services");
		if (n && cname[n - 1] == '.')
			cname[n - 1] = '\0';
		if (*cname)
			v_name(v, "externalName", cname, NAME_SUBDOMAIN);
		else
			v_required(v, "externalName", "");
		free(cname);
	}
	service_ports(v, spec, type);
	label_map_at(v, spec, "selector");
	s = g_str(v, spec, "sessionAffinity");
	if (s && !*s)
		v_required(v, "sessionAffinity", "");
	else if (s && !str_in(s, affinities))
		v_unsupported(v, "sessionAffinity", s, NULL, affinities);
	sac = g_obj(v, spec, "sessionAffinityConfig");
	if (s && !strcmp(s, "ClientIP")) {
		json_t *cip = jsonx_obj(sac, "clientIP");
		const char *d = "when session affinity type is ClientIP";

		if (!sac)
			v_required(v, "sessionAffinityConfig", d);
		else if (!cip)
			v_required(v, "sessionAffinityConfig.clientIP", d);
		else if (g_int(v, cip, "timeoutSeconds", true, &timeout) == 0)
			v_required(v, "sessionAffinityConfig.clientIP.timeoutSeconds", d);
		else if (timeout <= 0 || timeout > 86400)
			v_invalid_i(v, "sessionAffinityConfig.clientIP.timeoutSeconds", timeout,
				    "must be greater than 0 and less than 86400");
	} else if (s && !strcmp(s, "None") && sac) {
		v_forbidden(v, "sessionAffinityConfig",
			    "must not be set when session affinity is None");
	}
	if (strcmp(type, "ExternalName"))
		service_cluster_ips(v, spec, ips);
	arr = g_arr(v, spec, "externalIPs");
	json_array_foreach(arr, i, e) {
		char *child = xasprintf("externalIPs[%zu]", i);
		const char *ip = json_is_string(e) ? json_string_value(e) : "";

		if (v_ip(v, child, ip))
			v_non_special_ip(v, child, ip);
		free(child);
	}
	if (!*type)
		v_required(v, "type", "");
	else if (!str_in(type, types))
		v_unsupported(v, "type", type, NULL, types);
	arr = g_arr(v, spec, "loadBalancerSourceRanges");
	if (arr && json_array_size(arr)) {
		/* Upstream's capital L, kept. */
		if (!lb)
			v_forbidden(v, "LoadBalancerSourceRanges",
				    "may only be used when `type` is 'LoadBalancer'");
		json_array_foreach(arr, i, e) {
			char *child = xasprintf("LoadBalancerSourceRanges[%zu]", i), *t;
			const char *r = json_is_string(e) ? json_string_value(e) : "";

			/* Historically space-padded values are tolerated. */
			while (*r == ' ')
				r++;
			t = xstrdup(r);
			for (size_t n = strlen(t); n && t[n - 1] == ' '; n--)
				t[n - 1] = '\0';
			if (!cidr_ok(t))
				v_invalid_s(v, child, t, CIDR_MSG);
			free(t);
			free(child);
		}
	}
	if (present(spec, "allocateLoadBalancerNodePorts") && !lb)
		v_forbidden(v, "allocateLoadBalancerNodePorts",
			    "may only be used when `type` is 'LoadBalancer'");
	if (lb && !present(spec, "allocateLoadBalancerNodePorts")) {
		/* Upstream reports this one outside "spec". */
		char *tail = p_cut(v, 0);

		v_required(v, "allocateLoadBalancerNodePorts", "");
		p_paste(v, tail);
	}
	lbc = g_str(v, spec, "loadBalancerClass");
	if (lbc && present(spec, "loadBalancerClass") && lb)
		v_qualified(v, "loadBalancerClass", lbc);
	else if (lbc && present(spec, "loadBalancerClass"))
		v_forbidden(v, "loadBalancerClass",
			    "may only be used when `type` is 'LoadBalancer'");
	service_traffic(v, spec, type);
	json_decref(ips);
}

static void service_update(struct vctx *v, const json_t *spec, const json_t *ospec)
{
	const char *t = raw_str(spec, "type"), *ot = raw_str(ospec, "type");
	json_t *ips = cluster_ips(spec), *oips = cluster_ips(ospec);
	json_t *fams = jsonx_arr(spec, "ipFamilies"), *ofams = jsonx_arr(ospec, "ipFamilies");
	size_t n = json_array_size(ips), on = json_array_size(oips);
	bool single = !strcmp(raw_str(spec, "ipFamilyPolicy"), "SingleStack");
	json_t *pol = json_object_get(spec, "ipFamilyPolicy");

	if (!strcmp(t, "ExternalName") || !strcmp(ot, "ExternalName"))
		goto lbclass;
	if (!(ips_headless(ips) && ips_headless(oips))) {
		if (n == on) {
			for (size_t i = 0; i < n; i++) {
				char *child = xasprintf("spec.clusterIPs[%zu]", i);

				if (strcmp(ip_at(ips, i), ip_at(oips, i)))
					v_invalid_j(v, child, ips, "may not change once set");
				free(child);
			}
		} else if (on > n) {
			if (!n)
				v_invalid_j(v, "spec.clusterIPs[0]", ips,
					    "primary clusterIP can not be unset");
			if (n && strcmp(ip_at(ips, 0), ip_at(oips, 0)))
				v_invalid_j(v, "spec.clusterIPs[0]", ips,
					    "may not change once set");
			if (n == 1 && !single)
				v_invalid_j(
					v, "spec.ipFamilyPolicy", pol,
					"must be set to 'SingleStack' when releasing the secondary "
					"clusterIP");
		} else if (on && strcmp(ip_at(ips, 0), ip_at(oips, 0))) {
			v_invalid_j(v, "spec.clusterIPs[0]", ips, "may not change once set");
		}
	}
	if (ips_headless(ips) == ips_headless(oips) && !ips_headless(ips)) {
		size_t fn = json_array_size(fams), ofn = json_array_size(ofams);

		if (fn == ofn) {
			for (size_t i = 0; i < fn; i++)
				if (!jsonx_equal(json_array_get(fams, i),
						 json_array_get(ofams, i))) {
					v_invalid_j(v, "spec.ipFamilies[0]", fams,
						    "may not change once set");
					break;
				}
		} else if (ofn > fn) {
			if (!n)
				v_invalid_j(v, "spec.ipFamilies[0]", fams,
					    "primary ipFamily can not be unset");
			if (fn && !jsonx_equal(json_array_get(fams, 0), json_array_get(ofams, 0)))
				v_invalid_j(v, "spec.ipFamilies[0]", ips,
					    "may not change once set");
			if (fn == 1 && !single)
				v_invalid_j(
					v, "spec.ipFamilyPolicy", pol,
					"must be set to 'SingleStack' when releasing the secondary "
					"ipFamily");
		} else if (ofn && fn &&
			   !jsonx_equal(json_array_get(fams, 0), json_array_get(ofams, 0))) {
			v_invalid_j(v, "spec.ipFamilies[0]", ips, "may not change once set");
		}
	}
lbclass:
	if (!strcmp(t, "LoadBalancer") && !strcmp(ot, "LoadBalancer") &&
	    !jsonx_equal(json_object_get(spec, "loadBalancerClass"),
			 json_object_get(ospec, "loadBalancerClass")))
		v_invalid_j(v, "spec.loadBalancerClass", json_object_get(spec, "loadBalancerClass"),
			    "may not change once set");
	if (svc_needs_health_check(spec) && svc_needs_health_check(ospec) &&
	    jsonx_int(spec, "healthCheckNodePort", 0) != jsonx_int(ospec, "healthCheckNodePort", 0))
		v_forbidden(v, "spec.healthCheckNodePort", IMMUTABLE);
	json_decref(ips);
	json_decref(oips);
}

static void check_service(struct vctx *v, const json_t *svc, const json_t *old)
{
	bool bad;
	json_t *spec = get_member(v, svc, "spec", W_OBJECT, &bad);
	size_t m;

	if (bad)
		return;
	if (old)
		service_update(v, spec, jsonx_obj(old, "spec"));
	m = p_child(v, "spec");
	service_spec(v, spec);
	p_restore(v, m);
}

static void status_service(struct vctx *v, const json_t *svc, const json_t *old)
{
	static const char *const modes[] = { "Proxy", "VIP", NULL };
	json_t *lb = jsonx_obj(jsonx_obj(svc, "status"), "loadBalancer"), *e;
	size_t m = p_child(v, "status.loadBalancer");
	struct iter it = iter_objs(v, lb, "ingress");

	while ((e = next_obj(v, &it))) {
		const char *ip = raw_str(e, "ip"), *host = raw_str(e, "hostname");
		const char *mode = raw_str(e, "ipMode");
		struct ipaddr a;

		if (*ip)
			v_ip(v, "ip", ip);
		if (*host) {
			v_name(v, "hostname", host, NAME_SUBDOMAIN);
			if (ip_parse(host, &a))
				v_invalid_s(v, "hostname", host,
					    "must be a DNS name, not an IP address");
		}
		if (present(e, "ipMode") && !*ip)
			v_forbidden(v, "ipMode", "may not be specified when `ip` is not");
		else if (!present(e, "ipMode") && *ip)
			v_required(v, "ipMode", "must be specified when `ip` is set");
		else if (present(e, "ipMode") && !str_in(mode, modes))
			v_unsupported(v, "ipMode", mode, NULL, modes);
	}
	p_restore(v, m);
}

/* ------------------------------------------------------------------ Endpoints, EndpointSlice */

static void endpoint_port(struct vctx *v, const json_t *p, bool need_name)
{
	const char *name = g_str(v, p, "name"), *ap;

	if (need_name && name && !*name)
		v_required(v, "name", "");
	else if (name && *name)
		v_name(v, "name", name, NAME_LABEL);
	port_and_protocol(v, p);
	ap = g_str(v, p, "appProtocol");
	if (ap && present(p, "appProtocol"))
		v_qualified(v, "appProtocol", ap);
}

static void endpoint_addresses(struct vctx *v, const json_t *ss, const char *key)
{
	struct iter it = iter_objs(v, ss, key);
	json_t *a;

	while ((a = next_obj(v, &it))) {
		const char *ip = g_str(v, a, "ip"), *host = g_str(v, a, "hostname");
		const char *node = g_str(v, a, "nodeName");

		if (ip)
			v_ip(v, "ip", ip);
		if (host && *host)
			v_name(v, "hostname", host, NAME_LABEL);
		if (node && present(a, "nodeName"))
			v_name(v, "nodeName", node, NAME_SUBDOMAIN);
		if (ip)
			v_non_special_ip(v, "ip", ip);
	}
}

static void check_endpoints(struct vctx *v, const json_t *ep, const json_t *old)
{
	struct iter it = iter_objs(v, ep, "subsets");
	json_t *ss;

	while ((ss = next_obj(v, &it))) {
		struct iter pit;
		json_t *p;

		if (!nonempty(ss, "addresses") && !nonempty(ss, "notReadyAddresses"))
			v_required(v, NULL, "must specify `addresses` or `notReadyAddresses`");
		endpoint_addresses(v, ss, "addresses");
		endpoint_addresses(v, ss, "notReadyAddresses");
		pit = iter_objs(v, ss, "ports");
		while ((p = next_obj(v, &pit)))
			endpoint_port(v, p, json_array_size(pit.arr) > 1);
	}
}

/* IsFullyQualifiedDomainName: a subdomain of two labels or more, trailing dot allowed. */
static void fqdn(struct vctx *v, const char *s)
{
	char *name = xstrdup(s), *label, *save = NULL, *dot;
	size_t n = strlen(name);
	struct buf l = { 0 };

	if (!n) {
		v_required(v, NULL, "");
		goto out;
	}
	if (name[n - 1] == '.')
		name[n - 1] = '\0';
	chk_dns_subdomain(name, &l);
	if (l.len) {
		for (size_t i = 0; i < l.len; i++)
			if (l.data[i] == '\n')
				l.data[i] = ',';
		v_invalid_s(v, NULL, name, l.data);
		goto out;
	}
	if (!strchr(name, '.')) {
		v_invalid_s(v, NULL, name,
			    "should be a domain with at least two segments separated by dots");
		goto out;
	}
	dot = xstrdup(name);
	for (label = strtok_r(dot, ".", &save); label; label = strtok_r(NULL, ".", &save)) {
		struct buf ll = { 0 };

		chk_dns_label(label, &ll);
		if (ll.len) {
			for (size_t i = 0; i < ll.len; i++)
				if (ll.data[i] == '\n')
					ll.data[i] = ',';
			v_invalid_s(v, NULL, label, ll.data);
			buf_free(&ll);
			break;
		}
	}
	free(dot);
out:
	buf_free(&l);
	free(name);
}

static void slice_endpoint(struct vctx *v, const json_t *e, const char *type)
{
	json_t *addrs = g_arr(v, e, "addresses"), *a, *hints, *zones, *z, *seen;
	const char *node = g_str(v, e, "nodeName"), *host = g_str(v, e, "hostname");
	size_t i, n = addrs ? json_array_size(addrs) : 0, m;

	if (!n)
		v_required(v, "addresses", "must contain at least 1 address");
	else if (n > 100)
		v_too_many(v, "addresses", (long long)n, 100);
	m = p_child(v, "addresses");
	json_array_foreach(addrs, i, a) {
		size_t mi = p_index(v, i);
		const char *s = elem_str(v, a);
		struct ipaddr ip;

		if (s && !strcmp(type, "IPv4")) {
			if (!ip_parse(s, &ip) || !ip_is4(&ip))
				v_invalid_s(v, NULL, s, "must be a valid IPv4 address");
			v_non_special_ip(v, NULL, s);
		} else if (s && !strcmp(type, "IPv6")) {
			if (!ip_parse(s, &ip) || ip_is4(&ip))
				v_invalid_s(v, NULL, s, "must be a valid IPv6 address");
			v_non_special_ip(v, NULL, s);
		} else if (s && !strcmp(type, "FQDN")) {
			fqdn(v, s);
		}
		p_restore(v, mi);
	}
	p_restore(v, m);
	if (node && present(e, "nodeName"))
		v_name(v, "nodeName", node, NAME_SUBDOMAIN);
	if (json_object_size(jsonx_obj(e, "deprecatedTopology")) > 16)
		v_too_many(v, "deprecatedTopology",
			   (long long)json_object_size(jsonx_obj(e, "deprecatedTopology")), 16);
	label_map_at(v, e, "deprecatedTopology");
	if (host && present(e, "hostname"))
		v_name(v, "hostname", host, NAME_LABEL);
	hints = g_obj(v, e, "hints");
	zones = jsonx_arr(hints, "forZones");
	if (json_array_size(zones) > 8) {
		v_too_many(v, "hints.forZones", (long long)json_array_size(zones), 8);
		return;
	}
	seen = json_object();
	json_array_foreach(zones, i, z) {
		const char *zn = raw_str(z, "name");
		char *child = xasprintf("hints.forZones[%zu].name", i);

		if (json_object_get(seen, zn))
			v_duplicate_s(v, child, zn);
		json_object_set_new(seen, zn, json_true());
		v_label_value(v, child, zn);
		free(child);
	}
	json_decref(seen);
}

static void slice_ports(struct vctx *v, const json_t *es)
{
	struct iter it = iter_objs(v, es, "ports");
	json_t *e, *names = json_object();

	while ((e = next_obj(v, &it))) {
		const char *name = g_str(v, e, "name"), *proto = g_str(v, e, "protocol");
		const char *ap = g_str(v, e, "appProtocol");

		name = name ? name : "";
		if (*name)
			v_name(v, "name", name, NAME_LABEL);
		/* Two unnamed ports collide too: "" is a name here. */
		if (json_object_get(names, name))
			v_duplicate_s(v, "name", name);
		json_object_set_new(names, name, json_true());
		if (proto && !present(e, "protocol"))
			v_required(v, "protocol", "");
		else if (proto && !str_in(proto, protocols))
			v_unsupported(v, "protocol", proto, NULL, protocols);
		if (ap && present(e, "appProtocol"))
			v_qualified(v, "appProtocol", ap);
	}
	json_decref(names);
}

static void check_endpointslice(struct vctx *v, const json_t *es, const json_t *old)
{
	static const char *const create_types[] = { "FQDN", "IPv4", "IPv6", NULL };
	static const char *const update_types[] = { "FQDN", "IP", "IPv4", "IPv6", NULL };
	const char *type = g_str(v, es, "addressType");
	size_t neps = json_array_size(jsonx_arr(es, "endpoints"));
	size_t nports = json_array_size(jsonx_arr(es, "ports"));
	struct iter it;
	json_t *e;

	if (type && !*type)
		v_required(v, "addressType", "");
	else if (type && !str_in(type, old ? update_types : create_types))
		v_unsupported(v, "addressType", type, NULL, old ? update_types : create_types);
	if (neps > 1000) {
		v_too_many(v, "endpoints", (long long)neps, 1000);
	} else {
		it = iter_objs(v, es, "endpoints");
		while ((e = next_obj(v, &it)))
			slice_endpoint(v, e, type ? type : "");
	}
	if (nports > 100)
		v_too_many(v, "ports", (long long)nports, 100);
	else
		slice_ports(v, es);
	if (old && strcmp(raw_str(es, "addressType"), raw_str(old, "addressType")))
		v_invalid_s(v, "addressType", raw_str(es, "addressType"), IMMUTABLE);
}

/* ------------------------------------------------------------------ Node, Namespace */

static void node_taints(struct vctx *v, const json_t *spec)
{
	json_t *t, *seen = json_object();
	struct iter it = iter_objs(v, spec, "taints");

	while ((t = next_obj(v, &it))) {
		const char *key = g_str(v, t, "key"), *val = g_str(v, t, "value");
		const char *eff = g_str(v, t, "effect");
		char *why, *k;

		if (key)
			v_qualified(v, "key", key);
		if (val && (why = label_value_joined(val))) {
			v_invalid_s(v, "value", val, why);
			free(why);
		}
		if (eff && !*eff)
			v_required(v, "effect", "");
		else if (eff && !str_in(eff, taint_effects))
			v_unsupported(v, "effect", eff, NULL, taint_effects);
		k = xasprintf("%s\n%s", raw_str(t, "effect"), raw_str(t, "key"));
		if (json_object_get(seen, k))
			v_duplicate_j(v, NULL, t, "taints must be unique by key and effect pair");
		json_object_set_new(seen, k, json_true());
		free(k);
	}
	json_decref(seen);
}

/* status.capacity / status.allocatable, at "status.<list>.<name>" as upstream spells it. */
static void node_resources(struct vctx *v, const json_t *node)
{
	json_t *st = jsonx_obj(node, "status");

	for (int l = 0; l < 2; l++) {
		const char *list = l ? "allocatable" : "capacity", *k;
		json_t *res = jsonx_obj(st, list), *val;

		json_object_foreach(res, k, val) {
			size_t m = p_child(v, "status");
			struct quantity q;
			char s[QUANTITY_BUFSZ];

			p_child(v, list);
			p_child(v, k);
			if (v_quantity(v, NULL, val, &q)) {
				q_string(&q, s);
				if (q.nano < 0)
					v_invalid_s(v, NULL, s, NOT_NEGATIVE);
				if (is_extended_resource(k) && q.nano % 1000000000)
					v_invalid_s(v, NULL, s, "must be an integer");
			}
			p_restore(v, m);
		}
	}
}

static void node_common(struct vctx *v, const json_t *node)
{
	size_t m = p_child(v, "metadata");

	/* Upstream validates spec.taints under the path metadata.taints. */
	node_taints(v, jsonx_obj(node, "spec"));
	p_restore(v, m);
	node_resources(v, node);
}

static void check_node(struct vctx *v, const json_t *node, const json_t *old)
{
	json_t *spec = g_obj(v, node, "spec"), *cidrs, *c, *oc;
	const char *old_pid;
	size_t i, j, n;

	node_common(v, node);
	cidrs = g_arr(v, spec, "podCIDRs");
	n = cidrs ? json_array_size(cidrs) : 0;
	if (old) {
		json_t *addrs = jsonx_arr(jsonx_obj(node, "status"), "addresses"), *a, *b;

		json_array_foreach(addrs, i, a)
			json_array_foreach(addrs, j, b)
				if (j < i && jsonx_equal(a, b)) {
					char *child = xasprintf("status.addresses[%zu]", i);

					v_duplicate_j(v, child, a, NULL);
					free(child);
					break;
				}
		oc = jsonx_arr(jsonx_obj(old, "spec"), "podCIDRs");
		if (json_array_size(oc) && !jsonx_equal(oc, cidrs ? cidrs : json_null())) {
			size_t on = json_array_size(oc);

			for (i = 0; i < (on == n ? on : 1); i++)
				if (on != n ||
				    !jsonx_equal(json_array_get(oc, i), json_array_get(cidrs, i)))
					v_forbidden(
						v, "spec.podCIDRs",
						"node updates may not change podCIDR except from "
						"\"\" to valid");
		}
		old_pid = raw_str(jsonx_obj(old, "spec"), "providerID");
		if (*old_pid && strcmp(old_pid, raw_str(spec, "providerID")))
			v_forbidden(
				v, "spec.providerID",
				"node updates may not change providerID except from \"\" to valid");
		if (strcmp(raw_str(spec, "externalID"),
			   raw_str(jsonx_obj(old, "spec"), "externalID")))
			v_forbidden(v, "spec.externalID", "may not be updated");
		return;
	}
	json_array_foreach(cidrs, i, c) {
		char *child = xasprintf("spec.podCIDRs[%zu]", i);
		const char *s = json_is_string(c) ? json_string_value(c) : "";
		json_t *o;

		if (!cidr_ok(s))
			v_invalid_s(v, child, s, CIDR_MSG);
		json_array_foreach(cidrs, j, o)
			if (n > 1 && j < i && jsonx_equal(o, c)) {
				v_duplicate_j(v, child, c, NULL);
				break;
			}
		free(child);
	}
	if (n > 2 || (n == 2 && cidr_ok(ip_at(cidrs, 0)) && cidr_ok(ip_at(cidrs, 1)) &&
		      !!strchr(ip_at(cidrs, 0), ':') == !!strchr(ip_at(cidrs, 1), ':')))
		v_invalid_j(v, "spec.podCIDRs", cidrs,
			    "may specify no more than one CIDR for each IP family");
}

static void status_node(struct vctx *v, const json_t *node, const json_t *old)
{
	check_node(v, node, old ? old : node);
}

static void check_namespace(struct vctx *v, const json_t *ns, const json_t *old)
{
	json_t *fin = g_arr(v, g_obj(v, ns, "spec"), "finalizers");
	size_t m;

	if (old)
		return; /* spec changes go through the finalize subresource */
	m = p_child(v, "spec.finalizers");
	finalizer_names(v, fin, false);
	p_restore(v, m);
}

static void status_namespace(struct vctx *v, const json_t *ns, const json_t *old)
{
	const char *phase = raw_str(jsonx_obj(ns, "status"), "phase");

	if (!present(jsonx_obj(ns, "metadata"), "deletionTimestamp")) {
		if (strcmp(phase, "Active"))
			v_invalid_s(v, "status.Phase", phase,
				    "may only be 'Active' if `deletionTimestamp` is empty");
	} else if (strcmp(phase, "Terminating")) {
		v_invalid_s(v, "status.Phase", phase,
			    "may only be 'Terminating' if `deletionTimestamp` is not empty");
	}
}

/* ------------------------------------------------------------------ ConfigMap, Secret */

#define MAX_DATA_SIZE (1024 * 1024)

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/*
 * Decoded size of s under base64.StdEncoding as encoding/json decodes []byte (padding
 * required, CR and LF ignored); -1 and *bad_at set (input offset, Go's error position)
 * when it is not valid base64.
 */
static long long b64_decoded_len(const char *s, size_t *bad_at)
{
	long long out = 0;
	size_t i = 0, q = 0, qstart = 0, pad = 0;

	for (; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r' || c == '\n')
			continue;
		if (pad) {
			/* After the first '=', only one more '=' (in place 3) may follow. */
			if (c != '=' || q != 3 || pad != 1) {
				*bad_at = i;
				return -1;
			}
			pad++;
			q = 0;
			continue;
		}
		if (!q)
			qstart = i;
		if (c == '=') {
			if (q < 2) {
				*bad_at = i;
				return -1;
			}
			out += q - 1;
			pad = 1;
			if (q == 3)
				q = 0, pad = 2;
			else
				q++;
			continue;
		}
		if (b64_value(c) < 0) {
			*bad_at = i;
			return -1;
		}
		if (++q == 4) {
			out += 3;
			q = 0;
		}
	}
	if (q || pad == 1) {
		*bad_at = pad == 1 ? i : qstart;
		return -1;
	}
	return out;
}

static bool data_is_immutable(const json_t *old)
{
	return jsonx_bool(old, "immutable", false);
}

static void immutable_data(struct vctx *v, const json_t *obj, const json_t *old,
			   const char *const *keys)
{
	const char *d = "field is immutable when `immutable` is set";

	if (!old || !data_is_immutable(old))
		return;
	if (!jsonx_bool(obj, "immutable", false))
		v_forbidden(v, "immutable", d);
	for (size_t i = 0; keys[i]; i++)
		if (!sem_equal(json_object_get(obj, keys[i]), json_object_get(old, keys[i]), NULL))
			v_forbidden(v, keys[i], d);
}

/*
 * The keys of a data map at child[key]; values are strings, base64 when b64. Returns
 * the total (decoded) size of the values.
 */
static long long data_keys(struct vctx *v, const json_t *map, const char *child, bool b64,
			   const json_t *other, const char *dup_msg)
{
	const char *k;
	json_t *val;
	long long total = 0;

	json_object_foreach((json_t *)map, k, val) {
		size_t m = p_child(v, child);
		struct buf l = { 0 };

		p_key(v, k);
		chk_config_key(k, &l);
		v_each(v, NULL, k, NULL, &l);
		if (other && json_object_get(other, k))
			v_invalid_s(v, NULL, k, dup_msg);
		if (!json_is_string(val)) {
			v_type(v, NULL, val, "string");
		} else if (b64) {
			size_t at = 0;
			long long n = b64_decoded_len(json_string_value(val), &at);

			if (n < 0) {
				char *d = xasprintf("illegal base64 data at input byte %zu", at);

				v_invalid_s(v, NULL, "<secret contents redacted>", d);
				free(d);
			} else {
				total += n;
			}
		} else {
			total += (long long)json_string_length(val);
		}
		p_restore(v, m);
	}
	return total;
}

static void check_configmap(struct vctx *v, const json_t *cm, const json_t *old)
{
	static const char *const keys[] = { "data", "binaryData", NULL };
	json_t *data = g_obj(v, cm, "data"), *bin = g_obj(v, cm, "binaryData");
	long long total;

	immutable_data(v, cm, old, keys);
	total = data_keys(v, data, "data", false, bin, "duplicate of key present in binaryData");
	total += data_keys(v, bin, "binaryData", true, NULL, NULL);
	if (total > MAX_DATA_SIZE)
		v_too_long(v, NULL, MAX_DATA_SIZE);
}

/* The secret value of key, from data (base64) or stringData; NULL when absent. */
static char *secret_value(const json_t *secret, const char *key, size_t *len)
{
	const char *s = jsonx_str(jsonx_obj(secret, "stringData"), key, NULL);
	size_t at, n, i, o = 0;
	long long dn;
	char *out;
	unsigned acc = 0;
	int bits = 0;

	if (s) {
		*len = strlen(s);
		return xstrdup(s);
	}
	s = jsonx_str(jsonx_obj(secret, "data"), key, NULL);
	if (!s || (dn = b64_decoded_len(s, &at)) < 0)
		return NULL;
	out = xmalloc((size_t)dn + 1);
	for (i = 0, n = strlen(s); i < n; i++) {
		int val = b64_value((unsigned char)s[i]);

		if (val < 0)
			continue;
		acc = (acc << 6) | (unsigned)val;
		bits += 6;
		if (bits >= 8 && o < (size_t)dn) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	*len = o;
	return out;
}

static bool secret_has(const json_t *secret, const char *key)
{
	return json_object_get(jsonx_obj(secret, "data"), key) ||
	       json_object_get(jsonx_obj(secret, "stringData"), key);
}

/* .dockercfg / .dockerconfigjson must hold a JSON object (json.Unmarshal into a map). */
static void secret_json(struct vctx *v, const json_t *secret, const char *key)
{
	size_t len = 0;
	char *raw = secret_value(secret, key, &len), *child = xasprintf("data[%s]", key);
	json_error_t err;
	json_t *j;

	if (!secret_has(secret, key)) {
		v_required(v, child, "");
	} else if (raw) {
		j = json_loadb(raw, len, JSON_DECODE_ANY, &err);
		if (!j) {
			char *d = xasprintf("invalid JSON: %s", err.text);

			v_invalid_s(v, child, "<secret contents redacted>", d);
			free(d);
		} else if (!json_is_object(j) && !json_is_null(j)) {
			const char *t = json_is_string(j)    ? "string"
					: json_is_array(j)   ? "array"
					: json_is_boolean(j) ? "bool"
							     : "number";
			char *d = xasprintf("json: cannot unmarshal %s into Go value of type "
					    "map[string]interface {}",
					    t);

			v_invalid_s(v, child, "<secret contents redacted>", d);
			free(d);
		}
		json_decref(j);
	}
	free(raw);
	free(child);
}

static void check_secret(struct vctx *v, const json_t *secret, const json_t *old)
{
	static const char *const keys[] = { "data", NULL };
	json_t *data = g_obj(v, secret, "data"), *sd = g_obj(v, secret, "stringData");
	const char *type = g_str(v, secret, "type");
	long long total;
	const char *k;
	json_t *val;

	if (old && strcmp(raw_str(secret, "type"), raw_str(old, "type")))
		v_invalid_s(v, "type", raw_str(secret, "type"), IMMUTABLE);
	immutable_data(v, secret, old, keys);
	total = data_keys(v, data, "data", true, NULL, NULL);
	/* stringData is merged into data before upstream validates; report it as data. */
	json_object_foreach(sd, k, val) {
		size_t m;
		struct buf l = { 0 };

		if (json_object_get(data, k) && json_is_string(val)) {
			total += (long long)json_string_length(val);
			continue;
		}
		m = p_child(v, "data");
		p_key(v, k);
		chk_config_key(k, &l);
		v_each(v, NULL, k, NULL, &l);
		if (json_is_string(val))
			total += (long long)json_string_length(val);
		else
			v_type(v, NULL, val, "string");
		p_restore(v, m);
	}
	if (total > MAX_DATA_SIZE)
		v_too_long(v, "data", MAX_DATA_SIZE);
	if (!type)
		return;
	if (!strcmp(type, "kubernetes.io/service-account-token")) {
		json_t *ann = jsonx_obj(jsonx_obj(secret, "metadata"), "annotations");

		if (!*jsonx_str(ann, "kubernetes.io/service-account.name", ""))
			v_required(v, "metadata.annotations[kubernetes.io/service-account.name]",
				   "");
	} else if (!strcmp(type, "kubernetes.io/dockercfg")) {
		secret_json(v, secret, ".dockercfg");
	} else if (!strcmp(type, "kubernetes.io/dockerconfigjson")) {
		secret_json(v, secret, ".dockerconfigjson");
	} else if (!strcmp(type, "kubernetes.io/basic-auth")) {
		if (!secret_has(secret, "username") && !secret_has(secret, "password")) {
			v_required(v, "data[username]", "");
			v_required(v, "data[password]", "");
		}
	} else if (!strcmp(type, "kubernetes.io/ssh-auth")) {
		size_t len = 0;
		char *key = secret_value(secret, "ssh-privatekey", &len);

		if (!len)
			v_required(v, "data[ssh-privatekey]", "");
		free(key);
	} else if (!strcmp(type, "kubernetes.io/tls")) {
		if (!secret_has(secret, "tls.crt"))
			v_required(v, "data[tls.crt]", "");
		if (!secret_has(secret, "tls.key"))
			v_required(v, "data[tls.key]", "");
	}
}

/* ------------------------------------------------------------------ Event, Lease, requests */

/*
 * core/v1 Events get upstream's legacy validation only (namespace agreement, and for
 * events with eventTime the reporting fields and lengths); the strict rules apply to
 * events.k8s.io, which capstan does not serve.
 */
static void check_event(struct vctx *v, const json_t *ev, const json_t *old)
{
	const char *ns = raw_str(jsonx_obj(ev, "metadata"), "namespace");
	json_t *io = g_obj(v, ev, "involvedObject");
	const char *ions = raw_str(io, "namespace"), *s;
	static const struct {
		const char *key;
		size_t max;
	} lens[] = { { "reportingInstance", 128 },
		     { "action", 128 },
		     { "reason", 128 },
		     { "message", 1024 } };

	if (!present(ev, "eventTime")) {
		if ((!*ions && *ns && strcmp(ns, "default")) || (*ions && strcmp(ns, ions)))
			v_invalid_s(v, "involvedObject.namespace", ions,
				    "does not match event.namespace");
	} else {
		if (!*ions && strcmp(ns, "default") && strcmp(ns, "kube-system"))
			v_invalid_s(v, "involvedObject.namespace", ions,
				    "does not match event.namespace");
		s = g_str(v, ev, "reportingComponent");
		if (s && !*s)
			v_required(v, "reportingController", "");
		if (s)
			v_qualified(v, "reportingController", s);
		for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
			char d[48];

			s = g_str(v, ev, lens[i].key);
			if (!s)
				continue;
			if (!*s && i < 3)
				v_required(v, lens[i].key, "");
			snprintf(d, sizeof(d), "can have at most %zu characters", lens[i].max);
			if (strlen(s) > lens[i].max)
				v_invalid_s(v, lens[i].key, "", d);
		}
	}
	v_name(v, "namespace", ns, NAME_SUBDOMAIN);
}

static void check_lease(struct vctx *v, const json_t *lease, const json_t *old)
{
	json_t *spec = g_obj(v, lease, "spec");
	const char *strategy, *ph;
	long long val;
	size_t m = p_child(v, "spec");

	if (g_int(v, spec, "leaseDurationSeconds", true, &val) == 1 && val <= 0)
		v_invalid_i(v, "leaseDurationSeconds", val, "must be greater than 0");
	if (g_int(v, spec, "leaseTransitions", true, &val) == 1 && val < 0)
		v_invalid_i(v, "leaseTransitions", val, NOT_NEGATIVE);
	strategy = g_str(v, spec, "strategy");
	if (strategy && present(spec, "strategy")) {
		static const char *const ok[] = { "OldestEmulationVersion", NULL };

		if (!strchr(strategy, '/') && !str_in(strategy, ok))
			v_unsupported(v, "strategy.strategy", strategy, NULL, ok);
		else if (strchr(strategy, '/'))
			v_qualified(v, "strategy.strategy", strategy);
	}
	ph = g_str(v, spec, "preferredHolder");
	if (ph && *ph && (!strategy || !*strategy))
		v_forbidden(v, "preferredHolder", "may only be specified if `strategy` is defined");
	g_str(v, spec, "holderIdentity");
	p_restore(v, m);
}

static void check_scale(struct vctx *v, const json_t *scale, const json_t *old)
{
	long long r;

	if (g_int(v, g_obj(v, scale, "spec"), "replicas", true, &r) == 1 && r < 0) {
		size_t m = p_child(v, "spec");

		v_invalid_i(v, "replicas", r, NOT_NEGATIVE);
		p_restore(v, m);
	}
}

static void check_binding(struct vctx *v, const json_t *b, const json_t *old)
{
	static const char *const kinds[] = { "Node", "<empty>", NULL };
	json_t *target = g_obj(v, b, "target");
	const char *kind, *name;
	size_t m = p_child(v, "target");

	kind = g_str(v, target, "kind");
	name = g_str(v, target, "name");
	if (kind && *kind && strcmp(kind, "Node"))
		v_unsupported(v, "kind", kind, NULL, kinds);
	if (name && !*name)
		v_required(v, "name", "");
	p_restore(v, m);
}

static void check_eviction(struct vctx *v, const json_t *ev, const json_t *old)
{
	static const char *const policies[] = { "Foreground", "Background", "Orphan", "nil", NULL };
	static const char *const dry[] = { "All", NULL };
	json_t *opts = g_obj(v, ev, "deleteOptions"), *dr, *d;
	const char *pp;
	size_t m, i;

	if (!*raw_str(jsonx_obj(ev, "metadata"), "name"))
		v_required(v, "metadata.name", "");
	if (!opts)
		return;
	m = p_child(v, "deleteOptions");
	pp = g_str(v, opts, "propagationPolicy");
	if (present(opts, "orphanDependents") && present(opts, "propagationPolicy"))
		v_invalid_j(v, "propagationPolicy", json_object_get(opts, "propagationPolicy"),
			    "orphanDependents and deletionPropagation cannot be both set");
	if (pp && present(opts, "propagationPolicy") && !str_in(pp, policies))
		v_unsupported(v, "propagationPolicy", pp, NULL, policies);
	dr = g_arr(v, opts, "dryRun");
	json_array_foreach(dr, i, d)
		if (!json_is_string(d) || strcmp(json_string_value(d), "All")) {
			v_unsupported(v, "dryRun", NULL, dr, dry);
			break;
		}
	p_restore(v, m);
}

/* ------------------------------------------------------------------ apps/v1 */

static void nonneg(struct vctx *v, const json_t *obj, const char *const *keys)
{
	for (size_t i = 0; keys[i]; i++) {
		long long val;

		if (g_int(v, obj, keys[i], false, &val) == 1 && val < 0)
			v_invalid_i(v, keys[i], val, NOT_NEGATIVE);
	}
}

/* Selector and pod template of a workload, at spec. */
static void workload_template(struct vctx *v, const json_t *spec, bool daemonset)
{
	static const char *const always[] = { "Always", NULL };
	bool bad;
	json_t *sel = get_member(v, spec, "selector", W_OBJECT, &bad);
	json_t *tmpl = g_obj(v, spec, "template");
	json_t *tspec = jsonx_obj(tmpl, "spec");
	json_t *labels = jsonx_obj(jsonx_obj(tmpl, "metadata"), "labels");
	struct selector *s = NULL;
	char err[256];
	size_t m;

	if (bad)
		return;
	if (!sel && !daemonset) {
		v_required(v, "selector", "");
	} else if (sel) {
		m = p_child(v, "selector");
		label_selector(v, sel);
		p_restore(v, m);
		if (selector_is_empty_json(sel))
			v_invalid_j(v, "selector", sel,
				    daemonset ? "empty selector is invalid for daemonset"
					      : "empty selector is invalid for deployment");
	}
	/* An absent selector selects nothing, so the template never matches it either. */
	if (selector_from_json(sel, &s, err, sizeof(err))) {
		if (!daemonset)
			v_invalid_j(v, "selector", sel, "invalid label selector");
	} else if ((daemonset || !selector_empty(s)) && !selector_matches(s, labels)) {
		v_invalid_j(v, "template.metadata.labels", labels,
			    "`selector` does not match template `labels`");
	}
	selector_free(s);
	m = p_child(v, "template");
	pod_template(v, tmpl);
	p_restore(v, m);
	if (strcmp(raw_str(tspec, "restartPolicy"), "Always"))
		v_unsupported(v, "template.spec.restartPolicy", raw_str(tspec, "restartPolicy"),
			      NULL, always);
	if (present(tspec, "activeDeadlineSeconds"))
		v_forbidden(v, "template.spec.activeDeadlineSeconds",
			    daemonset ? "activeDeadlineSeconds in DaemonSet is not Supported"
				      : "activeDeadlineSeconds in ReplicaSet is not Supported");
}

/* spec.selector of apps/v1 workloads may not change (their controllers own pods by it). */
static void selector_immutable(struct vctx *v, const json_t *obj, const json_t *old)
{
	json_t *sel = jsonx_getv(obj, "spec", "selector", NULL);

	if (old && !sem_equal(sel, jsonx_getv(old, "spec", "selector", NULL), NULL))
		v_invalid_j(v, "spec.selector", sel, IMMUTABLE);
}

/* IntOrString that is an int >= 0 or "N%"; its value (percent or int), 0 if bad. */
static long long int_or_percent(struct vctx *v, const json_t *obj, const char *key)
{
	json_t *j = json_object_get(obj, key);

	if (!j || json_is_null(j))
		return 0;
	if (is_integral(j)) {
		if (int_value(j) < 0)
			v_invalid_j(v, key, j, NOT_NEGATIVE);
		return int_value(j);
	}
	if (!json_is_string(j)) {
		v_type(v, key, j, "integer or string");
		return 0;
	}
	if (!percent_ok(json_string_value(j))) {
		v_invalid_j(v, key, j, PERCENT_MSG);
		return 0;
	}
	return atoll(json_string_value(j));
}

static bool over_100_percent(const json_t *obj, const char *key)
{
	const char *s = jsonx_str(obj, key, NULL);

	return s && percent_ok(s) && atoll(s) > 100;
}

static void deployment_strategy(struct vctx *v, const json_t *spec)
{
	static const char *const types[] = { "Recreate", "RollingUpdate", NULL };
	json_t *st = g_obj(v, spec, "strategy"), *ru;
	const char *type = raw_str(st, "type");
	size_t m = p_child(v, "strategy");

	ru = g_obj(v, st, "rollingUpdate");
	if (!strcmp(type, "Recreate")) {
		if (ru)
			v_forbidden(v, "rollingUpdate",
				    "may not be specified when strategy `type` is 'Recreate'");
	} else if (!strcmp(type, "RollingUpdate")) {
		if (!ru) {
			v_required(v, "rollingUpdate", "this should be defaulted and never be nil");
		} else {
			size_t mr = p_child(v, "rollingUpdate");
			long long mu = int_or_percent(v, ru, "maxUnavailable");
			long long ms = int_or_percent(v, ru, "maxSurge");

			if (!mu && !ms)
				v_invalid_j(v, "maxUnavailable",
					    json_object_get(ru, "maxUnavailable"),
					    "may not be 0 when `maxSurge` is 0");
			if (over_100_percent(ru, "maxUnavailable"))
				v_invalid_j(v, "maxUnavailable",
					    json_object_get(ru, "maxUnavailable"),
					    "must not be greater than 100%");
			p_restore(v, mr);
		}
	} else {
		v_unsupported(v, NULL, NULL, st ? st : json_object_get(spec, "strategy"), types);
	}
	p_restore(v, m);
}

static void deployment_spec(struct vctx *v, const json_t *spec)
{
	static const char *const counts[] = { "replicas", "minReadySeconds", NULL };
	long long pds, rhl;

	nonneg(v, spec, counts);
	workload_template(v, spec, false);
	deployment_strategy(v, spec);
	if (g_int(v, spec, "revisionHistoryLimit", true, &rhl) == 1 && rhl < 0)
		v_invalid_i(v, "revisionHistoryLimit", rhl, NOT_NEGATIVE);
	if (g_int(v, spec, "progressDeadlineSeconds", true, &pds) == 1) {
		if (pds < 0)
			v_invalid_i(v, "progressDeadlineSeconds", pds, NOT_NEGATIVE);
		if (pds <= jsonx_int(spec, "minReadySeconds", 0))
			v_invalid_i(v, "progressDeadlineSeconds", pds,
				    "must be greater than minReadySeconds");
	}
}

static void replicaset_spec(struct vctx *v, const json_t *spec)
{
	static const char *const counts[] = { "replicas", "minReadySeconds", NULL };

	nonneg(v, spec, counts);
	workload_template(v, spec, false);
}

static void daemonset_strategy(struct vctx *v, const json_t *spec)
{
	static const char *const types[] = { "RollingUpdate", "OnDelete", NULL };
	json_t *st = g_obj(v, spec, "updateStrategy"), *ru;
	const char *type = raw_str(st, "type");
	size_t m = p_child(v, "updateStrategy");

	if (!strcmp(type, "RollingUpdate")) {
		ru = g_obj(v, st, "rollingUpdate");
		if (!ru) {
			v_required(v, "rollingUpdate", "");
		} else {
			size_t mr = p_child(v, "rollingUpdate");
			long long mu = int_or_percent(v, ru, "maxUnavailable");
			long long ms = int_or_percent(v, ru, "maxSurge");

			if (over_100_percent(ru, "maxUnavailable"))
				v_invalid_j(v, "maxUnavailable",
					    json_object_get(ru, "maxUnavailable"),
					    "must not be greater than 100%");
			if (over_100_percent(ru, "maxSurge"))
				v_invalid_j(v, "maxSurge", json_object_get(ru, "maxSurge"),
					    "must not be greater than 100%");
			if (mu && ms)
				v_invalid_j(v, "maxSurge", json_object_get(ru, "maxSurge"),
					    "may not be set when maxUnavailable is non-zero");
			else if (!mu && !ms)
				v_required(v, "maxUnavailable", "cannot be 0 when maxSurge is 0");
			p_restore(v, mr);
		}
	} else if (strcmp(type, "OnDelete")) {
		v_unsupported(v, NULL, NULL, st, types);
	}
	p_restore(v, m);
}

static void daemonset_spec(struct vctx *v, const json_t *spec)
{
	static const char *const counts[] = { "minReadySeconds", "revisionHistoryLimit", NULL };

	workload_template(v, spec, true);
	nonneg(v, spec, counts);
	daemonset_strategy(v, spec);
}

/* An apps/v1 workload: its spec at "spec", then the immutable selector on update. */
static void check_workload(struct vctx *v, const json_t *obj, const json_t *old,
			   void (*spec_fn)(struct vctx *v, const json_t *spec))
{
	bool bad;
	json_t *spec = get_member(v, obj, "spec", W_OBJECT, &bad);
	size_t m;

	if (bad)
		return;
	m = p_child(v, "spec");
	spec_fn(v, spec);
	p_restore(v, m);
	selector_immutable(v, obj, old);
}

static void check_deployment(struct vctx *v, const json_t *d, const json_t *old)
{
	check_workload(v, d, old, deployment_spec);
}

static void check_replicaset(struct vctx *v, const json_t *rs, const json_t *old)
{
	check_workload(v, rs, old, replicaset_spec);
}

static void check_daemonset(struct vctx *v, const json_t *ds, const json_t *old)
{
	check_workload(v, ds, old, daemonset_spec);
}

/* status counters that may not exceed status.replicas (and available <= ready). */
static void replica_counts(struct vctx *v, const json_t *st, const char *const *le_replicas,
			   const char *ready_msg)
{
	long long replicas = jsonx_int(st, "replicas", 0);

	for (size_t i = 0; le_replicas[i]; i++) {
		long long val = jsonx_int(st, le_replicas[i], 0);

		if (val > replicas)
			v_invalid_i(v, le_replicas[i], val,
				    "cannot be greater than status.replicas");
	}
	if (jsonx_int(st, "availableReplicas", 0) > jsonx_int(st, "readyReplicas", 0))
		v_invalid_i(v, "availableReplicas", jsonx_int(st, "availableReplicas", 0),
			    ready_msg);
}

static void collision_count(struct vctx *v, const json_t *st, const json_t *old)
{
	json_t *n = json_object_get(st, "collisionCount");
	json_t *o = jsonx_getv(old, "status", "collisionCount", NULL);

	if (is_integral(o) && (!is_integral(n) || int_value(n) < int_value(o)))
		v_invalid_i(v, "collisionCount", is_integral(n) ? int_value(n) : 0,
			    "cannot be decremented");
}

static void status_deployment(struct vctx *v, const json_t *d, const json_t *old)
{
	static const char *const counts[] = { "observedGeneration", "replicas",
					      "updatedReplicas",    "readyReplicas",
					      "availableReplicas",  "unavailableReplicas",
					      "collisionCount",	    NULL };
	static const char *const le[] = { "updatedReplicas", "readyReplicas", "availableReplicas",
					  NULL };
	json_t *st = g_obj(v, d, "status");
	size_t m = p_child(v, "status");

	nonneg(v, st, counts);
	replica_counts(v, st, le, "cannot be greater than readyReplicas");
	collision_count(v, st, old);
	p_restore(v, m);
}

static void status_replicaset(struct vctx *v, const json_t *rs, const json_t *old)
{
	static const char *const counts[] = { "replicas",	    "fullyLabeledReplicas",
					      "readyReplicas",	    "availableReplicas",
					      "observedGeneration", NULL };
	static const char *const le[] = { "fullyLabeledReplicas", "readyReplicas",
					  "availableReplicas", NULL };
	json_t *st = g_obj(v, rs, "status");
	size_t m = p_child(v, "status");

	nonneg(v, st, counts);
	replica_counts(v, st, le, "cannot be greater than readyReplicas");
	p_restore(v, m);
}

static void status_daemonset(struct vctx *v, const json_t *ds, const json_t *old)
{
	static const char *const counts[] = { "currentNumberScheduled", "numberMisscheduled",
					      "desiredNumberScheduled", "numberReady",
					      "observedGeneration",	"updatedNumberScheduled",
					      "numberAvailable",	"numberUnavailable",
					      "collisionCount",		NULL };
	json_t *st = g_obj(v, ds, "status");
	size_t m = p_child(v, "status");

	nonneg(v, st, counts);
	collision_count(v, st, old);
	p_restore(v, m);
}

/* ------------------------------------------------------------------ dispatch */

typedef void (*check_fn)(struct vctx *v, const json_t *obj, const json_t *old);

struct kind_info {
	const char *kind;
	enum name_kind name;
	enum ns_rule ns;
	bool meta;	 /* a stored object with metadata (not a request body) */
	check_fn check;	 /* create and update; old is NULL on create */
	check_fn status; /* the status subresource */
};

static const struct kind_info kinds[] = {
	{ "Pod", NAME_SUBDOMAIN, NS_REQUIRED, true, check_pod, status_pod },
	{ "Service", NAME_1035, NS_REQUIRED, true, check_service, status_service },
	{ "Endpoints", NAME_SUBDOMAIN, NS_REQUIRED, true, check_endpoints, NULL },
	{ "Node", NAME_SUBDOMAIN, NS_FORBIDDEN, true, check_node, status_node },
	{ "Namespace", NAME_LABEL, NS_FORBIDDEN, true, check_namespace, status_namespace },
	{ "Event", NAME_ANY, NS_SKIP, true, check_event, NULL },
	{ "ConfigMap", NAME_SUBDOMAIN, NS_REQUIRED, true, check_configmap, NULL },
	{ "Secret", NAME_SUBDOMAIN, NS_REQUIRED, true, check_secret, NULL },
	{ "ServiceAccount", NAME_SUBDOMAIN, NS_REQUIRED, true, NULL, NULL },
	{ "Deployment", NAME_SUBDOMAIN, NS_REQUIRED, true, check_deployment, status_deployment },
	{ "ReplicaSet", NAME_SUBDOMAIN, NS_REQUIRED, true, check_replicaset, status_replicaset },
	{ "DaemonSet", NAME_SUBDOMAIN, NS_REQUIRED, true, check_daemonset, status_daemonset },
	{ "EndpointSlice", NAME_SUBDOMAIN, NS_REQUIRED, true, check_endpointslice, NULL },
	{ "Lease", NAME_SUBDOMAIN, NS_REQUIRED, true, check_lease, NULL },
	{ "Scale", NAME_SUBDOMAIN, NS_REQUIRED, true, check_scale, NULL },
	{ "Binding", NAME_ANY, NS_SKIP, false, check_binding, NULL },
	{ "Eviction", NAME_ANY, NS_SKIP, false, check_eviction, NULL },
};

/* Kinds we do not know get the generic metadata rules, without a namespace rule. */
static const struct kind_info generic_kind = { "", NAME_SUBDOMAIN, NS_SKIP, true, NULL, NULL };

static const struct kind_info *kind_lookup(const char *kind)
{
	for (size_t i = 0; kind && i < ARRAY_SIZE(kinds); i++)
		if (!strcmp(kinds[i].kind, kind))
			return &kinds[i];
	return &generic_kind;
}

/* Runs the metadata rules; false when metadata is unusable (not an object). */
static bool check_meta(struct vctx *v, const struct kind_info *k, const json_t *obj,
		       const json_t *old, bool names)
{
	bool bad;
	json_t *md = metadata_of(v, obj, &bad);
	size_t m;

	if (bad)
		return false;
	m = p_child(v, "metadata");
	if (old)
		meta_immutable(v, md, jsonx_obj(old, "metadata"));
	if (names)
		meta_names(v, md, k->name, k->ns);
	meta_common(v, md);
	p_restore(v, m);
	return true;
}

static int run(const char *kind, const json_t *obj, const json_t *old, json_t *causes, bool status)
{
	const struct kind_info *k = kind_lookup(kind);
	struct vctx v = { .causes = causes };
	check_fn fn = status ? k->status : k->check;

	if (!json_is_object(obj)) {
		v_type(&v, NULL, obj ? obj : json_null(), "object");
		goto out;
	}
	if (!json_is_object(old))
		old = NULL;
	if (k->meta && !check_meta(&v, k, obj, old, !status))
		goto out;
	if (fn)
		fn(&v, obj, old);
out:
	buf_free(&v.path);
	return v.n;
}

int validate_object(const char *kind, const json_t *obj, const json_t *old, json_t *causes)
{
	return run(kind, obj, old, causes, false);
}

int validate_status(const char *kind, const json_t *obj, const json_t *old, json_t *causes)
{
	return run(kind, obj, old, causes, true);
}
