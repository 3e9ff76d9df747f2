/*
 * jsonx.c - see jsonx.h.
 *
 * Paths are parsed on the fly by one tokenizer (path_next) that unescapes
 * each key into a caller-provided scratch buffer as long as the path itself,
 * so a lookup needs one allocation and no intermediate list of segments.
 * jsonx_set_path runs the same walk twice, first as a dry run that checks
 * every segment against the existing tree, then for real, which is what
 * makes it leave the tree untouched on failure without an undo log.
 *
 * The deep compare is one recursive function used both by jsonx_equal (no
 * path wanted: objects are checked key by key in jansson's order) and by
 * jsonx_diff_path (keys are sorted first so "the first difference" does not
 * depend on hash order). Recursion depth is bounded by jansson's own parse
 * depth limit (2048) for trees that came from text.
 */
#include "jsonx.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum seg_kind {
	SEG_KEY,
	SEG_INDEX,
};

struct seg {
	enum seg_kind kind;
	size_t index;	 /* SEG_INDEX */
	const char *key; /* SEG_KEY: NUL-terminated, in the scratch buffer */
};

static int parse_bare_key(const char **pp, char *out)
{
	const char *p = *pp;
	char *o = out;

	while (*p && *p != '.' && *p != '[') {
		if (*p == ']')
			return -EINVAL;
		if (*p == '\\') {
			p++;
			if (!*p)
				return -EINVAL;
		}
		*o++ = *p++;
	}
	if (o == out)
		return -EINVAL;
	*o = '\0';
	*pp = p;
	return 0;
}

/* After '[': either "quoted key"] or digits]. */
static int parse_bracket(const char **pp, char *out, struct seg *seg)
{
	const char *p = *pp;

	if (*p == '"') {
		char *o = out;

		for (p++; *p != '"'; p++) {
			if (!*p)
				return -EINVAL;
			if (*p == '\\') {
				p++;
				if (*p != '"' && *p != '\\')
					return -EINVAL;
			}
			*o++ = *p;
		}
		*o = '\0';
		p++;
		seg->kind = SEG_KEY;
		seg->key = out;
	} else {
		size_t v = 0;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (v > (SIZE_MAX - 9) / 10)
				return -EINVAL;
			v = v * 10 + (size_t)(*p - '0');
		}
		seg->kind = SEG_INDEX;
		seg->index = v;
	}
	if (*p != ']')
		return -EINVAL;
	*pp = p + 1;
	return 0;
}

/*
 * Reads the next segment of a path into seg, unescaping a key into scratch
 * (which must hold strlen(path) + 1 bytes). Returns 1 when a segment was
 * read, 0 at the end of the path, -EINVAL when it is malformed.
 */
static int path_next(const char **pp, bool first, char *scratch, struct seg *seg)
{
	const char *p = *pp;
	int err;

	if (*p == '[') {
		p++;
		err = parse_bracket(&p, scratch, seg);
	} else {
		if (!first) {
			if (*p == '\0')
				return 0;
			if (*p != '.')
				return -EINVAL;
			p++;
		}
		seg->kind = SEG_KEY;
		seg->key = scratch;
		err = parse_bare_key(&p, scratch);
	}
	if (err)
		return err;
	*pp = p;
	return 1;
}

static json_t *seg_lookup(const json_t *cur, const struct seg *seg)
{
	if (seg->kind == SEG_KEY)
		return json_is_object(cur) ? json_object_get(cur, seg->key) : NULL;
	return json_is_array(cur) ? json_array_get(cur, seg->index) : NULL;
}

json_t *jsonx_get_path(const json_t *root, const char *path)
{
	json_t *cur = (json_t *)root;
	const char *p = path;
	char *scratch = NULL;
	struct seg seg;
	bool first = true;
	int r;

	if (!root || !path)
		return NULL;
	scratch = xmalloc(strlen(path) + 1);
	while ((r = path_next(&p, first, scratch, &seg)) == 1) {
		first = false;
		cur = seg_lookup(cur, &seg);
		if (!cur)
			break;
	}
	/* r == 0 only when the whole path was consumed, which an empty one is not. */
	if (r != 0 || first)
		cur = NULL;
	free(scratch);
	return cur;
}

/* True when r is a whole number that a long long holds exactly. */
static bool real_as_int(double r, long long *out)
{
	/* -2^63 is exact in a double; 2^63 is the first value that no longer fits. */
	if (!(r >= -9223372036854775808.0 && r < 9223372036854775808.0))
		return false;
	if ((double)(long long)r != r)
		return false;
	*out = (long long)r;
	return true;
}

static const char *value_str(const json_t *v, const char *def)
{
	return json_is_string(v) ? json_string_value(v) : def;
}

static long long value_int(const json_t *v, long long def)
{
	long long out;

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v) && real_as_int(json_real_value(v), &out))
		return out;
	return def;
}

static bool value_bool(const json_t *v, bool def)
{
	return json_is_boolean(v) ? json_is_true(v) : def;
}

static json_t *object_get(const json_t *obj, const char *key)
{
	return json_is_object(obj) && key ? json_object_get(obj, key) : NULL;
}

const char *jsonx_str(const json_t *obj, const char *key, const char *def)
{
	return value_str(object_get(obj, key), def);
}

long long jsonx_int(const json_t *obj, const char *key, long long def)
{
	return value_int(object_get(obj, key), def);
}

bool jsonx_bool(const json_t *obj, const char *key, bool def)
{
	return value_bool(object_get(obj, key), def);
}

json_t *jsonx_obj(const json_t *obj, const char *key)
{
	json_t *v = object_get(obj, key);

	return json_is_object(v) ? v : NULL;
}

json_t *jsonx_arr(const json_t *obj, const char *key)
{
	json_t *v = object_get(obj, key);

	return json_is_array(v) ? v : NULL;
}

const char *jsonx_path_str(const json_t *root, const char *path, const char *def)
{
	return value_str(jsonx_get_path(root, path), def);
}

long long jsonx_path_int(const json_t *root, const char *path, long long def)
{
	return value_int(jsonx_get_path(root, path), def);
}

bool jsonx_path_bool(const json_t *root, const char *path, bool def)
{
	return value_bool(jsonx_get_path(root, path), def);
}

json_t *jsonx_getv(const json_t *root, ...)
{
	json_t *cur = (json_t *)root;
	const char *key;
	va_list ap;

	va_start(ap, root);
	while (cur && (key = va_arg(ap, const char *)) != NULL) {
		if (!json_is_object(cur))
			cur = NULL;
		else
			cur = json_object_get(cur, key);
	}
	va_end(ap);
	return cur;
}

/* jansson rejects keys that are not UTF-8; check before touching the tree. */
static bool key_is_utf8(const char *key)
{
	json_t *probe = json_string(key);

	if (!probe)
		return false;
	json_decref(probe);
	return true;
}

static bool fits_kind(const json_t *v, enum seg_kind kind)
{
	return kind == SEG_KEY ? json_is_object(v) : json_is_array(v);
}

/*
 * Stores child in container at seg (a new key, a replaced element or an
 * appended one). The dry run has already checked the index; child is stolen.
 */
static int seg_store(json_t *container, const struct seg *seg, json_t *child)
{
	int r;

	if (seg->kind == SEG_KEY)
		r = json_object_set_new(container, seg->key, child);
	else if (seg->index == json_array_size(container))
		r = json_array_append_new(container, child);
	else
		r = json_array_set_new(container, seg->index, child);
	return r ? -ENOMEM : 0;
}

/*
 * One pass of jsonx_set_path. With apply false nothing is modified: the pass
 * only proves that the real one will succeed (short of allocation failure).
 * A NULL container in the dry run stands for one that would be created, so
 * it is empty: any key is missing and only index 0 can be appended.
 */
static int set_walk(json_t *root, const char *path, json_t *value, bool apply, char *scratch)
{
	char *scr_cur = scratch, *scr_next = scratch + strlen(path) + 1, *tmp;
	struct seg cur, next;
	json_t *container = root, *child;
	const char *p = path;
	int r, err;

	r = path_next(&p, true, scr_cur, &cur);
	if (r < 0)
		return r;
	if (r == 0)
		return -EINVAL;
	if (!fits_kind(root, cur.kind))
		return -ENOTDIR;
	for (;;) {
		size_t size = 0;

		if (!apply && cur.kind == SEG_KEY && !key_is_utf8(cur.key))
			return -EINVAL;
		if (container && cur.kind == SEG_INDEX)
			size = json_array_size(container);
		if (cur.kind == SEG_INDEX && cur.index > size)
			return -ERANGE;

		r = path_next(&p, false, scr_next, &next);
		if (r < 0)
			return r;
		if (r == 0)
			break;

		child = container ? seg_lookup(container, &cur) : NULL;
		if (child && !fits_kind(child, next.kind))
			return -ENOTDIR;
		if (!child && apply) {
			child = next.kind == SEG_KEY ? json_object() : json_array();
			if (!child)
				return -ENOMEM;
			/* Stored before descending, so a later failure cannot leak it. */
			err = seg_store(container, &cur, child);
			if (err)
				return err;
		}
		container = child;
		cur = next;
		tmp = scr_cur;
		scr_cur = scr_next;
		scr_next = tmp;
	}
	if (!apply)
		return 0;
	return seg_store(container, &cur, json_incref(value));
}

/* Syntax only, so a malformed path is -EINVAL whatever the tree holds. */
static int path_validate(const char *path, char *scratch)
{
	struct seg seg;
	bool first = true;
	int r;

	while ((r = path_next(&path, first, scratch, &seg)) == 1)
		first = false;
	return r;
}

int jsonx_set_path(json_t *root, const char *path, json_t *value)
{
	char *scratch = NULL;
	int err;

	if (!root || !path || !value) {
		err = -EINVAL;
		goto out;
	}
	/* Two key buffers: the walk looks one segment ahead. */
	scratch = xmalloc(2 * (strlen(path) + 1));
	err = path_validate(path, scratch);
	if (err)
		goto out;
	err = set_walk(root, path, value, false, scratch);
	if (err)
		goto out;
	err = set_walk(root, path, value, true, scratch);
out:
	free(scratch);
	json_decref(value);
	return err;
}

static bool numbers_equal(const json_t *a, const json_t *b)
{
	long long i;

	if (json_is_integer(a) && json_is_integer(b))
		return json_integer_value(a) == json_integer_value(b);
	if (json_is_real(a) && json_is_real(b))
		return json_real_value(a) == json_real_value(b);
	/* Mixed: compare as integers, never through a lossy double conversion. */
	if (json_is_integer(b)) {
		const json_t *t = a;

		a = b;
		b = t;
	}
	return real_as_int(json_real_value(b), &i) && i == json_integer_value(a);
}

/* Appends one path segment for an object key, quoting it when needed. */
static void path_push_key(struct buf *path, const char *key)
{
	bool plain = key[0] != '\0' && !strpbrk(key, ".[]\\\"");

	if (plain) {
		if (path->len)
			buf_append(path, ".", 1);
		buf_append(path, key, strlen(key));
		return;
	}
	buf_append(path, "[\"", 2);
	for (; *key; key++) {
		if (*key == '"' || *key == '\\')
			buf_append(path, "\\", 1);
		buf_append(path, key, 1);
	}
	buf_append(path, "\"]", 2);
}

static void path_truncate(struct buf *path, size_t len)
{
	path->len = len;
	if (path->data)
		path->data[len] = '\0';
}

static int cmp_keys(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static bool differ(const json_t *a, const json_t *b, struct buf *path);

/*
 * Objects for jsonx_diff_path: the sorted union of both key sets, so the
 * reported key does not depend on hash order.
 */
static bool objects_differ_sorted(const json_t *a, const json_t *b, struct buf *path)
{
	size_t n = 0, i, saved = path->len;
	const char **keys;
	const char *key;
	json_t *v;
	bool found = false;

	keys = xmalloc((json_object_size(a) + json_object_size(b)) * sizeof(*keys));
	json_object_foreach((json_t *)a, key, v)
		keys[n++] = key;
	json_object_foreach((json_t *)b, key, v) {
		if (!json_object_get(a, key))
			keys[n++] = key;
	}
	qsort(keys, n, sizeof(*keys), cmp_keys);
	for (i = 0; i < n && !found; i++) {
		json_t *va = json_object_get(a, keys[i]), *vb = json_object_get(b, keys[i]);

		path_push_key(path, keys[i]);
		found = !va || !vb || differ(va, vb, path);
		if (!found)
			path_truncate(path, saved);
	}
	free(keys);
	return found;
}

/*
 * The one deep compare. With path NULL it only answers the question; with a
 * path it leaves the location of the first difference appended to it.
 */
static bool differ(const json_t *a, const json_t *b, struct buf *path)
{
	size_t i, na, nb, saved;
	const char *key;
	json_t *v;

	if (a == b)
		return false;
	if (!a || !b)
		return true;
	if (json_is_number(a) && json_is_number(b))
		return !numbers_equal(a, b);
	if (json_typeof(a) != json_typeof(b))
		return true;

	switch (json_typeof(a)) {
	case JSON_STRING:
		return json_string_length(a) != json_string_length(b) ||
		       memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) !=
			       0;
	case JSON_ARRAY:
		na = json_array_size(a);
		nb = json_array_size(b);
		saved = path ? path->len : 0;
		for (i = 0; i < na && i < nb; i++) {
			if (path)
				buf_appendf(path, "[%zu]", i);
			if (differ(json_array_get(a, i), json_array_get(b, i), path))
				return true;
			if (path)
				path_truncate(path, saved);
		}
		if (na == nb)
			return false;
		if (path)
			buf_appendf(path, "[%zu]", i);
		return true;
	case JSON_OBJECT:
		if (path)
			return objects_differ_sorted(a, b, path);
		if (json_object_size(a) != json_object_size(b))
			return true;
		json_object_foreach((json_t *)a, key, v) {
			if (differ(v, json_object_get(b, key), NULL))
				return true;
		}
		return false;
	default:
		/* true, false, null: the type is the value. */
		return false;
	}
}

bool jsonx_equal(const json_t *a, const json_t *b)
{
	return !differ(a, b, NULL);
}

bool jsonx_diff_path(const json_t *a, const json_t *b, char *buf, size_t len)
{
	struct buf path = { 0 };
	bool differs;

	differs = differ(a, b, &path);
	if (len)
		snprintf(buf, len, "%s", differs && path.data ? path.data : "");
	buf_free(&path);
	return differs;
}

char *jsonx_dumps_compact(const json_t *json)
{
	if (!json)
		return NULL;
	return json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}
