/*
 * jsonx.h - small helpers over jansson shared by every capstan component.
 *
 * Kubernetes objects are deep, loosely typed JSON trees, and every component
 * (API server, controllers, kubelet, agent) reads a handful of fields out of
 * them. Doing that with raw jansson calls means a NULL or type check at every
 * level, so this module offers three things:
 *
 *   - typed getters with a default (jsonx_str, jsonx_int, ...) that never fail:
 *     a missing key, a NULL object or a value of the wrong type all give the
 *     default, because for manifests "absent" and "wrong type" are rejected by
 *     validation, not by every reader;
 *   - path lookups ("spec.template.spec.containers[0].image") for reading and
 *     for building objects (jsonx_set_path);
 *   - a deep compare that treats numbers by value (1 == 1.0) and ignores key
 *     order, plus a variant that names the first difference, for controllers
 *     that react to spec changes and for tests.
 *
 * Path syntax. A path is a sequence of segments:
 *
 *   key            a bare object key: any characters except '.', '[', ']'
 *                  and '\'; a backslash makes the next character literal,
 *                  so "app\.kubernetes\.io/name" is one key
 *   [N]            an array index, decimal digits only
 *   ["key"]        a quoted object key; inside the quotes only \" and \\ are
 *                  escapes, every other character (dots included) is literal
 *
 * The first segment is a bare key, [N] or ["key"]; every later segment is
 * ".key", "[N]" or "["key"]". So these name the same value:
 *
 *   metadata.labels["app.kubernetes.io/name"]
 *   metadata.labels.app\.kubernetes\.io/name
 *
 * An empty path, an empty bare key ("a..b", "a."), an unterminated bracket or
 * quote, a sign or other junk inside [N], or a stray ']' make the path
 * malformed: lookups give NULL (or the default) and jsonx_set_path -EINVAL.
 * jsonx_diff_path writes paths in this same syntax, quoting keys that need it,
 * so its output can be fed back to jsonx_get_path.
 *
 * Rejected: JSON Pointer (RFC 6901) was considered, but Kubernetes users and
 * kubectl's jsonpath write dotted paths, and "~1" escapes read badly in code.
 */
#ifndef CAPSTAN_JSONX_H
#define CAPSTAN_JSONX_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/*
 * Typed getters on one object. obj may be NULL or not an object; in that case,
 * and when key is missing or holds another type, the default is returned.
 */

/* The string at key (borrowed from obj, valid while obj holds it), or def. */
const char *jsonx_str(const json_t *obj, const char *key, const char *def);
/*
 * The integer at key, or def. A real with an integral value that fits in a
 * long long (3.0) is accepted too, because some clients write every number
 * as a float; 3.5 gives def.
 */
long long jsonx_int(const json_t *obj, const char *key, long long def);
/* true/false at key, or def. Numbers and strings are not booleans. */
bool jsonx_bool(const json_t *obj, const char *key, bool def);
/* The object / array at key (borrowed), or NULL when missing or of another type. */
json_t *jsonx_obj(const json_t *obj, const char *key);
json_t *jsonx_arr(const json_t *obj, const char *key);

/*
 * The value at path (see the syntax above) under root, borrowed from root;
 * NULL when root is NULL, the path is malformed, a key or index is missing,
 * or a segment meets a value of the wrong type (a key on an array, ...).
 */
json_t *jsonx_get_path(const json_t *root, const char *path);
/* Typed variants of jsonx_get_path with the same rules as jsonx_str/int/bool. */
const char *jsonx_path_str(const json_t *root, const char *path, const char *def);
long long jsonx_path_int(const json_t *root, const char *path, long long def);
bool jsonx_path_bool(const json_t *root, const char *path, bool def);

/*
 * Follows raw object keys (no path syntax, so dots and brackets are ordinary
 * characters) from root; the list ends with NULL:
 *
 *   jsonx_getv(pod, "metadata", "labels", "app.kubernetes.io/name", NULL)
 *
 * Returns the value (borrowed) or NULL when a key is missing or a value on the
 * way is not an object. With no keys it returns root itself.
 */
json_t *jsonx_getv(const json_t *root, ...) __attribute__((sentinel));

/*
 * Stores value at path under root, creating missing containers on the way: an
 * object when the next segment is a key, an empty array when it is an index.
 * An index segment replaces an existing element or, when it equals the array
 * size, appends; larger indices are out of range.
 *
 * The reference to value is always stolen, also on failure (like
 * json_object_set_new), so jsonx_set_path(o, "a.b", json_integer(1)) never
 * leaks. On failure root is left unchanged: the whole path is checked before
 * anything is created.
 *
 * 0 on success; -EINVAL when root or value is NULL, the path is malformed or
 * a key is not valid UTF-8; -ENOTDIR when an existing value on the way (or
 * root) is not the container the next segment needs; -ERANGE when an index
 * is past the end of its array; -ENOMEM when jansson cannot allocate.
 */
int jsonx_set_path(json_t *root, const char *path, json_t *value);

/*
 * Deep equality by JSON value: object key order does not matter, and numbers
 * compare by value across jansson's integer/real split (1 == 1.0, but
 * 1 != 1.5 and 2^53+1 != 2^53 as a real). Two NULLs are equal; NULL and a
 * value are not.
 */
bool jsonx_equal(const json_t *a, const json_t *b);

/*
 * Like !jsonx_equal(a, b), and also writes into buf the path of the first
 * difference, in jsonx_get_path syntax: "spec.replicas",
 * "spec.containers[1].image", "metadata.labels[\"app.kubernetes.io/name\"]",
 * or "" when the roots themselves differ (type, scalar value). "First" is
 * deterministic: object keys are visited in strcmp order (a key present on
 * only one side is a difference at that key) and array elements by index (for
 * arrays of different lengths whose common part is equal, the path names the
 * first index only one side has).
 *
 * Returns true when a and b differ. buf may be NULL when len is 0; otherwise
 * it is always NUL-terminated (the path is truncated to fit, and is "" when
 * there is no difference).
 */
bool jsonx_diff_path(const json_t *a, const json_t *b, char *buf, size_t len);

/*
 * Compact JSON with sorted keys (JSON_COMPACT | JSON_SORT_KEYS), so equal
 * objects always give equal strings; any value, not only objects or arrays,
 * may be dumped. The caller frees the result with free(). NULL when json is
 * NULL or jansson fails.
 */
char *jsonx_dumps_compact(const json_t *json);

#endif
