/*
 * selector.h - Kubernetes label selectors (selector_*) and field selectors (fieldsel_*).
 *
 * Shared by the API server (?labelSelector= / ?fieldSelector= on lists and watches), the
 * controllers (ReplicaSet and Service selectors), the scheduler and the command-line client,
 * so every one of them agrees with a real API server about what a selector string means.
 * The behaviour follows k8s.io/apimachinery pkg/labels and pkg/fields, quirks included,
 * because clients written against Kubernetes send exactly those strings:
 *
 *   - `x in ()` is accepted and means `x in ("")`; `x in (a,)` adds the empty value;
 *   - requirements are printed sorted by key (stably), values sorted, so selector_string()
 *     is a canonical form two components can compare;
 *   - `!=` and `notin` match objects that do not carry the key at all, `=`, `in`, `>` and
 *     `<` require it; `>` / `<` compare as signed 64-bit integers and never match a label
 *     whose value is not one;
 *   - field selectors only know `=`, `==` and `!=`; values escape `\`, `,` and `=` with a
 *     backslash; empty terms (`a=b,,c=d`) are skipped, whitespace is data, not syntax.
 *
 * A selector is immutable once built (selector_add() aside) and holds no reference to its
 * input, so one parsed selector may be shared read-only between threads.
 */
#ifndef CAPSTAN_SELECTOR_H
#define CAPSTAN_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "util.h"

/* ------------------------------------------------------------------ label selectors */

enum selector_op {
	SELECTOR_OP_EQUALS,	    /* key=value */
	SELECTOR_OP_DOUBLE_EQUALS,  /* key==value: same match, printed back as "==" */
	SELECTOR_OP_NOT_EQUALS,	    /* key!=value, also true when the key is absent */
	SELECTOR_OP_IN,		    /* key in (a,b) */
	SELECTOR_OP_NOT_IN,	    /* key notin (a,b), also true when the key is absent */
	SELECTOR_OP_EXISTS,	    /* key */
	SELECTOR_OP_DOES_NOT_EXIST, /* !key */
	SELECTOR_OP_GT,		    /* key>N, N a decimal int64 (node affinity Gt) */
	SELECTOR_OP_LT,		    /* key<N */
};

struct selector;

/*
 * Parse the string form ("app=web,tier in (a,b),!canary"). NULL or "" gives a selector that
 * matches everything. Keys are qualified names (optional lowercase DNS-subdomain prefix of at
 * most 253 characters and '/', then a name of 1-63 characters [A-Za-z0-9-_.] starting and
 * ending alphanumeric); values are empty or follow the name rule. 0 on success and *out set;
 * -EINVAL on bad input with a message in err (e.g. "unable to parse requirement: ...") and
 * *out untouched. err may be NULL when errlen is 0.
 */
int selector_parse(const char *str, struct selector **out, char *err, size_t errlen);

/*
 * Build from a metav1.LabelSelector object {matchLabels: {k: v}, matchExpressions:
 * [{key, operator: In|NotIn|Exists|DoesNotExist, values: [...]}]}, as
 * metav1.LabelSelectorAsSelector does, with the API server's validation (In/NotIn need at
 * least one value, Exists/DoesNotExist none, keys and values valid):
 *
 *   - NULL or JSON null (the field is absent: a nil *LabelSelector) selects NOTHING;
 *   - {} or empty matchLabels and matchExpressions selects EVERYTHING.
 *
 * Resources give the nil case their own meaning (a NetworkPolicy podSelector of {} selects
 * every pod of the namespace; policy/v1 PodDisruptionBudget treats {} as all pods): callers
 * that need something else check for the absent field themselves. Unknown members are
 * ignored. 0 on success and *out set; -EINVAL with a message naming the offending field
 * ("matchExpressions[0].values: ...") otherwise, *out untouched.
 */
int selector_from_json(const json_t *label_selector, struct selector **out, char *err,
		       size_t errlen);

/*
 * Build key=value requirements from a plain map of strings (Service.spec.selector,
 * nodeSelector, a ReplicationController selector), as labels.ValidatedSelectorFromSet does:
 * NULL, null or {} select EVERYTHING (a Service without a selector is "not managed", which is
 * the endpoints controller's decision, not this function's). 0 on success and *out set;
 * -EINVAL with a message when the map is not an object of strings or a key/value is invalid.
 */
int selector_from_map(const json_t *map, struct selector **out, char *err, size_t errlen);

/* A selector matching every label set (no requirements), or none. Never NULL. */
struct selector *selector_everything(void);
struct selector *selector_nothing(void);

/*
 * Add one requirement with Kubernetes' NewRequirement rules: In/NotIn need >= 1 value,
 * =/==/!= exactly one, Exists/DoesNotExist none, Gt/Lt exactly one decimal int64; the key and
 * every value must be valid. values are copied and kept sorted (duplicates are kept, as
 * Kubernetes does for requirements it did not parse). Adding to a "nothing" selector leaves
 * it matching nothing. 0 on success; -EINVAL with a message and sel unchanged otherwise.
 */
int selector_add(struct selector *sel, const char *key, enum selector_op op,
		 const char *const *values, size_t nvalues, char *err, size_t errlen);

/*
 * True when every requirement holds for labels, a JSON object of string values (the
 * metadata.labels member). NULL, JSON null or a non-object mean "no labels"; a member whose
 * value is not a string is treated as absent. A "nothing" selector (or NULL sel) never
 * matches.
 */
bool selector_matches(const struct selector *sel, const json_t *labels);

/* True when the selector has no requirements (matches everything); false for "nothing". */
bool selector_empty(const struct selector *sel);

/* True for the selector built from an absent LabelSelector (selector_nothing()). */
bool selector_is_nothing(const struct selector *sel);

/*
 * Append the canonical string form to out ("app=web,tier in (a,b)": requirements stably
 * sorted by key, values sorted; "" for an empty or a "nothing" selector, as Kubernetes
 * prints both). Returns out->data, never NULL.
 */
const char *selector_string(const struct selector *sel, struct buf *out);

/*
 * The value the selector pins key to, as labels.Selector.RequiresExactMatch does: the first
 * requirement on key (in sorted order) decides, and it must be =, == or an `in` with exactly
 * one value. NULL otherwise. The string belongs to sel.
 */
const char *selector_get_eq(const struct selector *sel, const char *key);

/* Number of requirements (0 for everything and nothing). */
size_t selector_len(const struct selector *sel);

void selector_free(struct selector *sel);

/*
 * Validation shared with object validation (metadata.labels). 0 when valid; -EINVAL and a
 * reason without the value itself ("name part must be no more than 63 characters") in why.
 */
int selector_validate_key(const char *key, char *why, size_t whylen);
int selector_validate_value(const char *value, char *why, size_t whylen);

/* ------------------------------------------------------------------ field selectors */

struct fieldsel;

/*
 * Parse "metadata.name=web,spec.nodeName!=n1,status.phase==Running". NULL or "" selects
 * everything. Terms are split on commas not escaped by a backslash and sorted; empty terms
 * are skipped; each term splits at the first "!=", "==" or "=" (the field itself has no
 * escaping); in the value "\\", "\," and "\=" stand for \ , = and any other backslash
 * sequence or a bare ',' / '=' is an error. A term with both sides empty ("=") is dropped.
 * A term with an empty field ("=b") parses; fieldsel_check_fields() rejects it, exactly as
 * the API server answers 400 for it. 0 on success and *out set; -EINVAL with a message
 * ("invalid selector: 'a'; can't understand 'a'") otherwise, *out untouched.
 */
int fieldsel_parse(const char *str, struct fieldsel **out, char *err, size_t errlen);

/*
 * Field lookup for fieldsel_matches: the value of field for the object in ctx, or NULL when
 * the resource does not support that field.
 */
typedef const char *(*fieldsel_get_fn)(void *ctx, const char *field);

/*
 * True when every term holds. A NULL from get counts as the empty string, which is what
 * Kubernetes' field sets do (a missing entry reads as ""), so run fieldsel_check_fields()
 * first to reject fields the resource does not have. A NULL sel matches everything.
 */
bool fieldsel_matches(const struct fieldsel *sel, fieldsel_get_fn get, void *ctx);

/*
 * Check every field the selector uses against allowed, a NULL-terminated list. 0 when all
 * are supported; -EINVAL and "field label not supported: spec.foo" (the API server's 400
 * message) for the first one that is not.
 */
int fieldsel_check_fields(const struct fieldsel *sel, const char *const *allowed, char *err,
			  size_t errlen);

/*
 * The value the selector pins field to with = or == (the first such term, in sorted order),
 * so a watch on metadata.name=x can be served from one key. NULL otherwise. Belongs to sel.
 */
const char *fieldsel_get_eq(const struct fieldsel *sel, const char *field);

/* True when the selector has no terms. */
bool fieldsel_empty(const struct fieldsel *sel);

/* Append the canonical form ("a=b,c!=d", values escaped) to out; returns out->data. */
const char *fieldsel_string(const struct fieldsel *sel, struct buf *out);

/* Append value escaped for use in a field selector (\ , = get a backslash). */
void fieldsel_escape_value(const char *value, struct buf *out);

void fieldsel_free(struct fieldsel *sel);

#endif
