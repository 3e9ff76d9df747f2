/*
 * kubeconfig.c - see kubeconfig.h.
 *
 * Loading is three passes over data that only ever shrinks in scope:
 *
 *  1. ydoc_parse() turns libyaml's event stream into a tree of scalars,
 *     sequences and mappings. It keeps an explicit stack of open collections
 *     (no recursion), capped at KUBECONFIG_MAX_DEPTH, and caps the number of
 *     nodes. Every node also lives in one flat array owned by the document,
 *     so an alias can simply point at its anchored node (no copying, hence
 *     no "billion laughs" expansion) and freeing needs no graph walk. An
 *     anchor becomes visible only once its node is complete, which makes a
 *     self-referencing alias an "unknown anchor" error and keeps the graph
 *     acyclic.
 *  2. kc_file_parse() reads clusters[], users[], contexts[] and
 *     current-context out of the tree with type checks and base64 decoding
 *     for every entry, as client-go does when it decodes the whole file.
 *  3. resolve() follows the chosen context to its cluster and user, applies
 *     client-go's validation rules, resolves relative paths against the
 *     kubeconfig's directory, reads tokenFile, and builds struct kubeconfig.
 *
 * Because aliases share nodes, a small file can still describe a mapping
 * whose "<<" merge keys fan out exponentially. Lookups therefore draw from a
 * per-load budget of key comparisons; running out fails the load instead of
 * spinning. A hash map per mapping was rejected: kubeconfig mappings have a
 * handful of keys and the budget bounds the hostile case anyway.
 *
 * kubeconfig_write() uses libyaml's emitter rather than printf so that any
 * character in a path or token comes out correctly quoted; every value is
 * double-quoted so that a token such as "null" or "true" stays a string.
 */
#include "kubeconfig.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* Collections, scalars and alias references per file; real files use ~20 per cluster. */
#define YDOC_MAX_REFS (1u << 20)
/* Anchors per file; lookups are linear, so this bounds alias resolution cost. */
#define YDOC_MAX_ANCHORS 256
/* Nested "<<" merges followed by one lookup. */
#define YDOC_MAX_MERGE_DEPTH 16
/* Key comparisons allowed across one load (a normal file needs a few thousand). */
#define YDOC_LOOKUP_BUDGET 20000000ul
/* Largest tokenFile read. */
#define TOKEN_FILE_MAX (1u << 20)

/* ---------------------------------------------------------------- YAML tree */

enum ynode_kind {
	YNODE_SCALAR,
	YNODE_SEQ,
	YNODE_MAP,
};

struct ynode {
	enum ynode_kind kind;
	size_t line, col; /* 1-based start of the node in the file */
	bool plain;	  /* unquoted scalar: null and booleans resolve only from these */
	char *str;	  /* scalar text, NUL-terminated (may also contain NUL bytes) */
	size_t len;
	struct ynode **kids; /* sequence items, or mapping key, value, key, value, ... */
	size_t nkids, cap;
};

struct yanchor {
	char *name;
	struct ynode *node;
};

struct ydoc {
	struct ynode **nodes; /* every node, for flat freeing */
	size_t nnodes, nodes_cap;
	size_t nrefs; /* attachments so far, aliases included */
	struct yanchor anchors[YDOC_MAX_ANCHORS];
	size_t nanchors;
	struct ynode *root;
	unsigned long budget;
	bool over_budget;
};

/* An open collection while parsing, with the anchor it registers when closed. */
struct yframe {
	struct ynode *node;
	char *anchor;
};

/* Everything one kubeconfig_load() call carries around. */
struct loader {
	const char *path;
	char *err;
	size_t errlen;
	struct ydoc doc;
};

__attribute__((format(printf, 5, 0))) static int vfail(struct loader *ld, size_t line, size_t col,
						       int rc, const char *fmt, va_list ap)
{
	char msg[512];

	/*
	 * Once the lookup budget is gone, lookups return "absent" and whatever
	 * check trips next would blame the wrong field; report the real cause.
	 */
	if (ld->doc.over_budget) {
		snprintf(msg, sizeof(msg), "too many alias and merge-key lookups (over %lu)",
			 YDOC_LOOKUP_BUDGET);
		rc = -EINVAL;
		line = 0;
	} else {
		vsnprintf(msg, sizeof(msg), fmt, ap);
	}
	if (!ld->err || !ld->errlen)
		return rc;
	if (line)
		snprintf(ld->err, ld->errlen, "%s:%zu:%zu: %s", ld->path, line, col, msg);
	else
		snprintf(ld->err, ld->errlen, "%s: %s", ld->path, msg);
	return rc;
}

/* Record an error located at node AT (NULL: the file as a whole); returns RC. */
__attribute__((format(printf, 4, 5))) static int fail(struct loader *ld, const struct ynode *at,
						      int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rc = vfail(ld, at ? at->line : 0, at ? at->col : 0, rc, fmt, ap);
	va_end(ap);
	return rc;
}

__attribute__((format(printf, 3, 4))) static int fail_mark(struct loader *ld, const yaml_mark_t *m,
							   const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail(ld, m->line + 1, m->column + 1, -EINVAL, fmt, ap);
	va_end(ap);
	return rc;
}

static struct ynode *ynode_new(struct ydoc *d, enum ynode_kind kind, const yaml_mark_t *m)
{
	struct ynode *n;

	if (d->nnodes == d->nodes_cap) {
		d->nodes_cap = d->nodes_cap ? d->nodes_cap * 2 : 64;
		d->nodes = xrealloc(d->nodes, d->nodes_cap * sizeof(*d->nodes));
	}
	n = xcalloc(1, sizeof(*n));
	n->kind = kind;
	n->line = m->line + 1;
	n->col = m->column + 1;
	d->nodes[d->nnodes++] = n;
	return n;
}

static void ydoc_free(struct ydoc *d)
{
	for (size_t i = 0; i < d->nnodes; i++) {
		free(d->nodes[i]->str);
		free(d->nodes[i]->kids);
		free(d->nodes[i]);
	}
	free(d->nodes);
	for (size_t i = 0; i < d->nanchors; i++)
		free(d->anchors[i].name);
	memset(d, 0, sizeof(*d));
}

/* Hang N under the innermost open collection, or make it the document root. */
static int ydoc_attach(struct loader *ld, struct yframe *stack, int depth, struct ynode *n,
		       const yaml_mark_t *m)
{
	struct ydoc *d = &ld->doc;
	struct ynode *parent;

	if (++d->nrefs > YDOC_MAX_REFS)
		return fail_mark(ld, m, "more than %u YAML nodes", YDOC_MAX_REFS);
	if (depth == 0) {
		d->root = n;
		return 0;
	}
	parent = stack[depth - 1].node;
	if (parent->nkids == parent->cap) {
		parent->cap = parent->cap ? parent->cap * 2 : 8;
		parent->kids = xrealloc(parent->kids, parent->cap * sizeof(*parent->kids));
	}
	parent->kids[parent->nkids++] = n;
	return 0;
}

static int ydoc_anchor_add(struct loader *ld, const char *name, struct ynode *n,
			   const yaml_mark_t *m)
{
	struct ydoc *d = &ld->doc;

	if (d->nanchors == YDOC_MAX_ANCHORS)
		return fail_mark(ld, m, "more than %d YAML anchors", YDOC_MAX_ANCHORS);
	d->anchors[d->nanchors].name = xstrdup(name);
	d->anchors[d->nanchors].node = n;
	d->nanchors++;
	return 0;
}

static struct ynode *ydoc_anchor_find(struct ydoc *d, const char *name)
{
	/* From the end: YAML lets a later anchor of the same name replace an earlier one. */
	for (size_t i = d->nanchors; i-- > 0;)
		if (strcmp(d->anchors[i].name, name) == 0)
			return d->anchors[i].node;
	return NULL;
}

static bool ynode_is_merge_key(const struct ynode *k)
{
	return k->kind == YNODE_SCALAR && k->plain && strcmp(k->str, "<<") == 0;
}

static bool ynode_is_null(const struct ynode *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (!n)
		return true;
	if (n->kind != YNODE_SCALAR || !n->plain)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(nulls); i++)
		if (strcmp(n->str, nulls[i]) == 0)
			return true;
	return false;
}

/* A merge key's value must be a mapping or a sequence of mappings (checked once, at parse). */
static int ydoc_check_merges(struct loader *ld, const struct ynode *map)
{
	for (size_t i = 0; i + 1 < map->nkids; i += 2) {
		const struct ynode *v = map->kids[i + 1];

		if (!ynode_is_merge_key(map->kids[i]) || v->kind == YNODE_MAP)
			continue;
		if (v->kind == YNODE_SEQ) {
			for (size_t j = 0; j < v->nkids; j++)
				if (v->kids[j]->kind != YNODE_MAP)
					return fail(ld, v->kids[j], -EINVAL,
						    "a \"<<\" merge list may only hold mappings");
			continue;
		}
		return fail(ld, v, -EINVAL, "a \"<<\" merge value must be a mapping or a list");
	}
	return 0;
}

static int ydoc_parse_error(struct loader *ld, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "unknown error";

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return fail(ld, NULL, -ENOMEM, "out of memory parsing YAML");
	case YAML_READER_ERROR:
		return fail(ld, NULL, -EINVAL, "invalid YAML at byte %zu: %s", p->problem_offset,
			    problem);
	default:
		if (p->context)
			return fail_mark(ld, &p->problem_mark,
					 "invalid YAML: %s (%s started at line %zu column %zu)",
					 problem, p->context, p->context_mark.line + 1,
					 p->context_mark.column + 1);
		return fail_mark(ld, &p->problem_mark, "invalid YAML: %s", problem);
	}
}

static int ydoc_parse(struct loader *ld, const char *data, size_t len)
{
	struct ydoc *d = &ld->doc;
	struct yframe stack[KUBECONFIG_MAX_DEPTH];
	yaml_parser_t parser;
	yaml_event_t ev;
	int depth = 0, ndocs = 0, rc = 0;
	bool done = false;

	d->budget = YDOC_LOOKUP_BUDGET;
	if (!yaml_parser_initialize(&parser))
		return fail(ld, NULL, -ENOMEM, "out of memory starting the YAML parser");
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);

	while (!done && !rc) {
		struct ynode *n;
		const char *anchor;

		if (!yaml_parser_parse(&parser, &ev)) {
			rc = ydoc_parse_error(ld, &parser);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++ndocs > 1)
				rc = fail_mark(ld, &ev.start_mark,
					       "more than one YAML document in a kubeconfig");
			break;
		case YAML_SCALAR_EVENT:
			n = ynode_new(d, YNODE_SCALAR, &ev.start_mark);
			n->len = ev.data.scalar.length;
			n->str = xmalloc(n->len + 1);
			if (n->len)
				memcpy(n->str, ev.data.scalar.value, n->len);
			n->str[n->len] = '\0';
			n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			rc = ydoc_attach(ld, stack, depth, n, &ev.start_mark);
			anchor = (const char *)ev.data.scalar.anchor;
			if (!rc && anchor)
				rc = ydoc_anchor_add(ld, anchor, n, &ev.start_mark);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (depth == KUBECONFIG_MAX_DEPTH) {
				rc = fail_mark(ld, &ev.start_mark,
					       "YAML nested deeper than %d levels",
					       KUBECONFIG_MAX_DEPTH);
				break;
			}
			if (ev.type == YAML_SEQUENCE_START_EVENT) {
				n = ynode_new(d, YNODE_SEQ, &ev.start_mark);
				anchor = (const char *)ev.data.sequence_start.anchor;
			} else {
				n = ynode_new(d, YNODE_MAP, &ev.start_mark);
				anchor = (const char *)ev.data.mapping_start.anchor;
			}
			rc = ydoc_attach(ld, stack, depth, n, &ev.start_mark);
			stack[depth].node = n;
			stack[depth].anchor = anchor ? xstrdup(anchor) : NULL;
			depth++;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			/* libyaml only emits an end for a start it emitted, so depth > 0. */
			depth--;
			n = stack[depth].node;
			if (n->kind == YNODE_MAP)
				rc = ydoc_check_merges(ld, n);
			if (!rc && stack[depth].anchor)
				rc = ydoc_anchor_add(ld, stack[depth].anchor, n, &ev.start_mark);
			free(stack[depth].anchor);
			break;
		case YAML_ALIAS_EVENT:
			n = ydoc_anchor_find(d, (const char *)ev.data.alias.anchor);
			if (!n)
				rc = fail_mark(
					ld, &ev.start_mark,
					"alias *%s refers to an unknown anchor (or to a node "
					"that contains it)",
					(const char *)ev.data.alias.anchor);
			else
				rc = ydoc_attach(ld, stack, depth, n, &ev.start_mark);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	while (depth > 0)
		free(stack[--depth].anchor);
	yaml_parser_delete(&parser);
	return rc;
}

static bool ydoc_spend(struct ydoc *d)
{
	if (d->budget == 0) {
		d->over_budget = true;
		return false;
	}
	d->budget--;
	return true;
}

/*
 * Value of KEY in MAP, or NULL. Explicit keys win over merged ones, the last
 * of duplicate explicit keys wins (as with a JSON decode), and among "<<"
 * sources the first listed wins, as in YAML's merge-key rules.
 */
static const struct ynode *ymap_get_depth(struct ydoc *d, const struct ynode *map, const char *key,
					  int merge_depth)
{
	const struct ynode *found = NULL;
	bool has_merge = false;

	if (!map || map->kind != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < map->nkids; i += 2) {
		const struct ynode *k = map->kids[i];

		if (!ydoc_spend(d))
			return NULL;
		if (ynode_is_merge_key(k))
			has_merge = true;
		else if (k->kind == YNODE_SCALAR && strcmp(k->str, key) == 0)
			found = map->kids[i + 1];
	}
	if (found || !has_merge || merge_depth >= YDOC_MAX_MERGE_DEPTH)
		return found;
	for (size_t i = 0; i + 1 < map->nkids && !found; i += 2) {
		const struct ynode *v = map->kids[i + 1];

		if (!ynode_is_merge_key(map->kids[i]))
			continue;
		if (v->kind == YNODE_MAP) {
			found = ymap_get_depth(d, v, key, merge_depth + 1);
			continue;
		}
		for (size_t j = 0; j < v->nkids && !found; j++)
			found = ymap_get_depth(d, v->kids[j], key, merge_depth + 1);
	}
	return found;
}

static const struct ynode *ymap_get(struct ydoc *d, const struct ynode *map, const char *key)
{
	return ymap_get_depth(d, map, key, 0);
}

/* ---------------------------------------------------------------- typed fields */

/* Standard base64 with padding; CR and LF are skipped, as Go's decoder does. */
static int base64_decode(const char *s, size_t n, char **out, size_t *outlen)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *clean = xmalloc(n + 1), *res = NULL;
	size_t m = 0, o = 0;
	int rc = -EINVAL;

	for (size_t i = 0; i < n; i++)
		if (s[i] != '\r' && s[i] != '\n')
			clean[m++] = s[i];
	if (m % 4)
		goto out;
	res = xmalloc(m / 4 * 3 + 1);
	for (size_t i = 0; i < m; i += 4) {
		unsigned int v[4], npad = 0;
		bool last = i + 4 == m;

		for (int j = 0; j < 4; j++) {
			const char *p;

			if (clean[i + j] == '=') {
				/* Padding only at the very end, and only in the last two slots. */
				if (!last || j < 2)
					goto out;
				npad++;
				v[j] = 0;
				continue;
			}
			p = clean[i + j] ? strchr(alphabet, clean[i + j]) : NULL;
			if (!p || npad)
				goto out;
			v[j] = (unsigned int)(p - alphabet);
		}
		res[o++] = (char)(v[0] << 2 | v[1] >> 4);
		if (npad < 2)
			res[o++] = (char)((v[1] & 0xf) << 4 | v[2] >> 2);
		if (npad < 1)
			res[o++] = (char)((v[2] & 0x3) << 6 | v[3]);
	}
	res[o] = '\0';
	*out = res;
	*outlen = o;
	res = NULL;
	rc = 0;
out:
	free(res);
	free(clean);
	return rc;
}

/*
 * A string field of MAP. 0 with *out NULL when the key is absent, null or
 * empty (Go's zero value means "unset" to client-go as well); -EINVAL when
 * the value is a collection or holds a NUL byte.
 */
static int get_str(struct loader *ld, const struct ynode *map, const char *key, const char *what,
		   const char **out)
{
	const struct ynode *v = ymap_get(&ld->doc, map, key);

	*out = NULL;
	if (ynode_is_null(v))
		return 0;
	if (v->kind != YNODE_SCALAR)
		return fail(ld, v, -EINVAL, "%s: %s must be a string", what, key);
	if (strlen(v->str) != v->len)
		return fail(ld, v, -EINVAL, "%s: %s contains a NUL byte", what, key);
	if (v->len)
		*out = v->str;
	return 0;
}

/* The YAML 1.1 booleans that go-yaml (and so kubectl) accepts; quoted values are strings. */
static int get_bool(struct loader *ld, const struct ynode *map, const char *key, const char *what,
		    bool *out)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES",
					   "on",   "On",   "ON",   "y",	  "Y" };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO",
					  "off",   "Off",   "OFF",   "n",  "N" };
	const struct ynode *v = ymap_get(&ld->doc, map, key);

	*out = false;
	if (ynode_is_null(v))
		return 0;
	if (v->kind == YNODE_SCALAR && v->plain) {
		for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
			if (strcmp(v->str, yes[i]) == 0) {
				*out = true;
				return 0;
			}
		for (size_t i = 0; i < ARRAY_SIZE(no); i++)
			if (strcmp(v->str, no[i]) == 0)
				return 0;
	}
	return fail(ld, v, -EINVAL, "%s: %s must be true or false", what, key);
}

/* A base64 field: *out is the decoded bytes (NUL-terminated), or NULL when unset. */
static int get_b64(struct loader *ld, const struct ynode *map, const char *key, const char *what,
		   char **out, size_t *outlen)
{
	const char *s;
	int rc;

	*out = NULL;
	*outlen = 0;
	rc = get_str(ld, map, key, what, &s);
	if (rc || !s)
		return rc;
	if (base64_decode(s, strlen(s), out, outlen))
		return fail(ld, ymap_get(&ld->doc, map, key), -EINVAL, "%s: %s is not valid base64",
			    what, key);
	if (*outlen == 0) {
		free(*out);
		*out = NULL;
	}
	return 0;
}

/* ---------------------------------------------------------------- the file's entries */

/* What every list entry starts with: where it is in the file and its name. */
struct kc_entry {
	const struct ynode *at;
	const char *name;
};

struct kc_cluster {
	struct kc_entry head;
	const char *server, *ca_file, *tls_server_name;
	char *ca_data;
	size_t ca_data_len;
	bool insecure;
};

struct kc_user {
	struct kc_entry head;
	const char *cert_file, *key_file, *token, *token_file, *username, *password;
	char *cert_data, *key_data;
	size_t cert_data_len, key_data_len;
	bool has_exec, has_auth_provider;
};

struct kc_context {
	struct kc_entry head;
	const char *cluster, *user, *namespace;
};

struct kc_file {
	struct kc_cluster *clusters;
	struct kc_user *users;
	struct kc_context *contexts;
	size_t nclusters, nusers, ncontexts;
	const char *current_context;
};

static void kc_file_free(struct kc_file *f)
{
	for (size_t i = 0; i < f->nclusters; i++)
		free(f->clusters[i].ca_data);
	for (size_t i = 0; i < f->nusers; i++) {
		free(f->users[i].cert_data);
		free(f->users[i].key_data);
	}
	free(f->clusters);
	free(f->users);
	free(f->contexts);
}

static int parse_cluster(struct loader *ld, const struct ynode *body, const char *what,
			 struct kc_cluster *c)
{
	int rc;

	if ((rc = get_str(ld, body, "server", what, &c->server)) ||
	    (rc = get_str(ld, body, "certificate-authority", what, &c->ca_file)) ||
	    (rc = get_str(ld, body, "tls-server-name", what, &c->tls_server_name)) ||
	    (rc = get_bool(ld, body, "insecure-skip-tls-verify", what, &c->insecure)))
		return rc;
	return get_b64(ld, body, "certificate-authority-data", what, &c->ca_data, &c->ca_data_len);
}

static int parse_user(struct loader *ld, const struct ynode *body, const char *what,
		      struct kc_user *u)
{
	int rc;

	if ((rc = get_str(ld, body, "client-certificate", what, &u->cert_file)) ||
	    (rc = get_str(ld, body, "client-key", what, &u->key_file)) ||
	    (rc = get_str(ld, body, "token", what, &u->token)) ||
	    (rc = get_str(ld, body, "tokenFile", what, &u->token_file)) ||
	    (rc = get_str(ld, body, "username", what, &u->username)) ||
	    (rc = get_str(ld, body, "password", what, &u->password)) ||
	    (rc = get_b64(ld, body, "client-certificate-data", what, &u->cert_data,
			  &u->cert_data_len)) ||
	    (rc = get_b64(ld, body, "client-key-data", what, &u->key_data, &u->key_data_len)))
		return rc;
	u->has_exec = !ynode_is_null(ymap_get(&ld->doc, body, "exec"));
	u->has_auth_provider = !ynode_is_null(ymap_get(&ld->doc, body, "auth-provider"));
	return 0;
}

static int parse_context(struct loader *ld, const struct ynode *body, const char *what,
			 struct kc_context *c)
{
	int rc;

	if ((rc = get_str(ld, body, "cluster", what, &c->cluster)) ||
	    (rc = get_str(ld, body, "user", what, &c->user)))
		return rc;
	return get_str(ld, body, "namespace", what, &c->namespace);
}

enum kc_kind {
	KC_CLUSTER,
	KC_USER,
	KC_CONTEXT,
};

/*
 * Walk one named list such as clusters: [{name: ..., cluster: {...}}] into
 * the matching array of F. A null list is an empty one; a null body (an
 * entry with a name only) is an entry with every field unset.
 */
static int parse_list(struct loader *ld, const struct ynode *root, enum kc_kind kind,
		      struct kc_file *f)
{
	static const char *const lists[] = { "clusters", "users", "contexts" };
	static const char *const bodies[] = { "cluster", "user", "context" };
	const struct ynode *list = ymap_get(&ld->doc, root, lists[kind]);
	size_t n;
	int rc = 0;

	if (ynode_is_null(list))
		return 0;
	if (list->kind != YNODE_SEQ)
		return fail(ld, list, -EINVAL, "%s must be a list", lists[kind]);
	n = list->nkids;
	switch (kind) {
	case KC_CLUSTER:
		f->clusters = xcalloc(n, sizeof(*f->clusters));
		f->nclusters = n;
		break;
	case KC_USER:
		f->users = xcalloc(n, sizeof(*f->users));
		f->nusers = n;
		break;
	case KC_CONTEXT:
		f->contexts = xcalloc(n, sizeof(*f->contexts));
		f->ncontexts = n;
		break;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		const struct ynode *entry = list->kids[i], *body;
		const char *name;
		char what[160];

		snprintf(what, sizeof(what), "%s[%zu]", lists[kind], i);
		if (entry->kind != YNODE_MAP)
			return fail(ld, entry, -EINVAL, "%s must be a mapping", what);
		rc = get_str(ld, entry, "name", what, &name);
		if (rc)
			return rc;
		if (name)
			snprintf(what, sizeof(what), "%s \"%.100s\"", bodies[kind], name);
		body = ymap_get(&ld->doc, entry, bodies[kind]);
		if (ynode_is_null(body))
			body = NULL;
		else if (body->kind != YNODE_MAP)
			return fail(ld, body, -EINVAL, "%s: %s must be a mapping", what,
				    bodies[kind]);
		switch (kind) {
		case KC_CLUSTER:
			f->clusters[i].head = (struct kc_entry){ entry, name };
			rc = parse_cluster(ld, body, what, &f->clusters[i]);
			break;
		case KC_USER:
			f->users[i].head = (struct kc_entry){ entry, name };
			rc = parse_user(ld, body, what, &f->users[i]);
			break;
		case KC_CONTEXT:
			f->contexts[i].head = (struct kc_entry){ entry, name };
			rc = parse_context(ld, body, what, &f->contexts[i]);
			break;
		}
	}
	return rc;
}

static int kc_file_parse(struct loader *ld, struct kc_file *f)
{
	const struct ynode *root = ld->doc.root;
	int rc;

	if (ynode_is_null(root))
		return fail(ld, NULL, -EINVAL, "kubeconfig is empty");
	if (root->kind != YNODE_MAP)
		return fail(ld, root, -EINVAL, "a kubeconfig must be a mapping at the top level");
	if ((rc = parse_list(ld, root, KC_CLUSTER, f)) || (rc = parse_list(ld, root, KC_USER, f)) ||
	    (rc = parse_list(ld, root, KC_CONTEXT, f)))
		return rc;
	return get_str(ld, root, "current-context", "kubeconfig", &f->current_context);
}

/*
 * The entry named WANT in an array of N structs of SIZE bytes that each
 * start with a struct kc_entry. The last one wins, as in client-go's
 * list-to-map conversion.
 */
static const void *kc_find(const void *arr, size_t n, size_t size, const char *want)
{
	for (size_t i = n; i-- > 0;) {
		const struct kc_entry *e = (const void *)((const char *)arr + i * size);

		if (e->name && strcmp(e->name, want) == 0)
			return e;
	}
	return NULL;
}

/* ---------------------------------------------------------------- resolution */

/* Read a whole file of at most MAX bytes. 0 or -errno (-EFBIG when larger). */
static int read_file(const char *path, size_t max, char **out, size_t *outlen)
{
	size_t len = 0, cap = 4096;
	char *data = NULL;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	data = xmalloc(cap + 1);
	for (;;) {
		ssize_t r;

		if (len == cap) {
			if (cap > max) {
				rc = -EFBIG;
				goto out;
			}
			cap *= 2;
			data = xrealloc(data, cap + 1);
		}
		r = read(fd, data + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > max) {
		rc = -EFBIG;
		goto out;
	}
	data[len] = '\0';
	*out = data;
	*outlen = len;
	data = NULL;
out:
	free(data);
	close(fd);
	return rc;
}

/* Absolute directory of the kubeconfig at PATH: relative fields are resolved against it. */
static int kubeconfig_dir(const char *path, char **out)
{
	const char *slash = strrchr(path, '/');
	char *dir, cwd[PATH_MAX];

	if (slash == path)
		dir = xstrdup("/");
	else if (slash)
		dir = xstrndup(path, (size_t)(slash - path));
	else
		dir = xstrdup(".");
	if (dir[0] != '/') {
		char *abs;

		if (!getcwd(cwd, sizeof(cwd))) {
			int rc = -errno;

			free(dir);
			return rc;
		}
		abs = strcmp(dir, ".") == 0 ? xstrdup(cwd) : xasprintf("%s/%s", cwd, dir);
		free(dir);
		dir = abs;
	}
	*out = dir;
	return 0;
}

static char *resolve_path(const char *dir, const char *p)
{
	if (!p)
		return NULL;
	if (p[0] == '/')
		return xstrdup(p);
	return xasprintf("%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", p);
}

static char *memdup0(const char *p, size_t n)
{
	char *q;

	if (!p)
		return NULL;
	q = xmalloc(n + 1);
	memcpy(q, p, n);
	q[n] = '\0';
	return q;
}

/* client-go checks that referenced files are readable at load time; so do we. */
static int check_readable(struct loader *ld, const struct ynode *at, const char *path,
			  const char *field, const char *owner)
{
	int rc;

	if (!path || access(path, R_OK) == 0)
		return 0;
	rc = -errno;
	return fail(ld, at, rc, "cannot read %s %s for %s: %s", field, path, owner, strerror(-rc));
}

static int read_token_file(struct loader *ld, const struct kc_user *u, struct kubeconfig *kc)
{
	char *data = NULL, *start, *end;
	size_t len;
	int rc;

	rc = read_file(kc->token_file, TOKEN_FILE_MAX, &data, &len);
	if (rc)
		return fail(ld, u->head.at, rc, "cannot read tokenFile %s for user \"%s\": %s",
			    kc->token_file, u->head.name, strerror(-rc));
	/* Tokens are opaque but never contain whitespace; files usually end in '\n'. */
	start = data;
	end = data + strlen(data);
	while (start < end && strchr(" \t\r\n", *start))
		start++;
	while (end > start && strchr(" \t\r\n", end[-1]))
		end--;
	if (start == end)
		rc = fail(ld, u->head.at, -EINVAL, "tokenFile %s for user \"%s\" is empty",
			  kc->token_file, u->head.name);
	else
		kc->token = xstrndup(start, (size_t)(end - start));
	free(data);
	return rc;
}

/* client-go's rules for one user entry, before anything is copied. */
static int check_user(struct loader *ld, const struct kc_user *u)
{
	if (u->has_exec || u->has_auth_provider)
		return fail(ld, u->head.at, -EOPNOTSUPP,
			    "user \"%s\" uses %s, which capstan does not support; use a "
			    "client certificate or token",
			    u->head.name,
			    u->has_exec ? "an exec credential plugin" : "an auth-provider");
	if (u->cert_file && u->cert_data)
		return fail(ld, u->head.at, -EINVAL,
			    "user \"%s\" sets both client-certificate and client-certificate-data",
			    u->head.name);
	if (u->key_file && u->key_data)
		return fail(ld, u->head.at, -EINVAL,
			    "user \"%s\" sets both client-key and client-key-data", u->head.name);
	if ((u->cert_file || u->cert_data) != (u->key_file || u->key_data))
		return fail(ld, u->head.at, -EINVAL,
			    "user \"%s\" has a client %s without a client %s", u->head.name,
			    u->cert_file || u->cert_data ? "certificate" : "key",
			    u->cert_file || u->cert_data ? "key" : "certificate");
	if ((u->token || u->token_file) && (u->username || u->password))
		return fail(ld, u->head.at, -EINVAL,
			    "user \"%s\" sets both a token and a username/password; only one "
			    "authentication method is allowed",
			    u->head.name);
	return 0;
}

/*
 * Server URL as the client will use it. Without a scheme kubectl talks plain
 * http (observed with kubectl 1.32 even when a CA is set), so we do the same
 * rather than guess; trailing slashes go so paths can be appended.
 */
static char *normalize_server(const char *server)
{
	char *s = strstr(server, "://") ? xstrdup(server) : xasprintf("http://%s", server);
	size_t n = strlen(s), min = (size_t)(strstr(s, "://") - s) + 3;

	while (n > min && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

static int resolve(struct loader *ld, const struct kc_file *f, const char *override,
		   struct kubeconfig **out)
{
	const char *name = override && *override ? override : f->current_context;
	const struct kc_context *ctx;
	const struct kc_cluster *cl;
	const struct kc_user *u = NULL;
	struct kubeconfig *kc = NULL;
	char *dir = NULL, owner[160];
	int rc;

	if (!name)
		return fail(ld, NULL, -EINVAL,
			    "current-context is not set and no context was given");
	ctx = kc_find(f->contexts, f->ncontexts, sizeof(*f->contexts), name);
	if (!ctx)
		return fail(ld, NULL, -EINVAL, "%s \"%s\" does not exist",
			    name == override ? "context" : "current-context", name);
	if (!ctx->cluster)
		return fail(ld, ctx->head.at, -EINVAL, "context \"%s\" does not name a cluster",
			    name);
	cl = kc_find(f->clusters, f->nclusters, sizeof(*f->clusters), ctx->cluster);
	if (!cl)
		return fail(ld, ctx->head.at, -EINVAL,
			    "context \"%s\" refers to cluster \"%s\", which does not exist", name,
			    ctx->cluster);
	/* No user is allowed (anonymous access), a user that is not there is not. */
	if (ctx->user) {
		u = kc_find(f->users, f->nusers, sizeof(*f->users), ctx->user);
		if (!u)
			return fail(ld, ctx->head.at, -EINVAL,
				    "context \"%s\" refers to user \"%s\", which does not exist",
				    name, ctx->user);
		rc = check_user(ld, u);
		if (rc)
			return rc;
	}
	if (!cl->server)
		return fail(ld, cl->head.at, -EINVAL, "cluster \"%s\" has no server", ctx->cluster);
	if (cl->ca_file && cl->ca_data)
		return fail(ld, cl->head.at, -EINVAL,
			    "cluster \"%s\" sets both certificate-authority and "
			    "certificate-authority-data",
			    ctx->cluster);
	rc = kubeconfig_dir(ld->path, &dir);
	if (rc)
		return fail(ld, NULL, rc, "cannot resolve the kubeconfig directory: %s",
			    strerror(-rc));

	kc = xcalloc(1, sizeof(*kc));
	kc->context = xstrdup(name);
	kc->cluster = xstrdup(ctx->cluster);
	kc->server = normalize_server(cl->server);
	kc->namespace = xstrdup(ctx->namespace ? ctx->namespace : "default");
	kc->ca_file = resolve_path(dir, cl->ca_file);
	kc->ca_pem = memdup0(cl->ca_data, cl->ca_data_len);
	kc->ca_pem_len = cl->ca_data_len;
	kc->insecure_skip_tls_verify = cl->insecure;
	kc->tls_server_name = cl->tls_server_name ? xstrdup(cl->tls_server_name) : NULL;
	snprintf(owner, sizeof(owner), "cluster \"%.100s\"", ctx->cluster);
	rc = check_readable(ld, cl->head.at, kc->ca_file, "certificate-authority", owner);
	if (rc)
		goto out;
	if (u) {
		kc->user = xstrdup(ctx->user);
		kc->client_cert_file = resolve_path(dir, u->cert_file);
		kc->client_cert_pem = memdup0(u->cert_data, u->cert_data_len);
		kc->client_cert_pem_len = u->cert_data_len;
		kc->client_key_file = resolve_path(dir, u->key_file);
		kc->client_key_pem = memdup0(u->key_data, u->key_data_len);
		kc->client_key_pem_len = u->key_data_len;
		kc->token_file = resolve_path(dir, u->token_file);
		kc->username = u->username ? xstrdup(u->username) : NULL;
		kc->password = u->password ? xstrdup(u->password) : NULL;
		snprintf(owner, sizeof(owner), "user \"%.100s\"", ctx->user);
		rc = check_readable(ld, u->head.at, kc->client_cert_file, "client-certificate",
				    owner);
		if (!rc)
			rc = check_readable(ld, u->head.at, kc->client_key_file, "client-key",
					    owner);
		if (rc)
			goto out;
		/*
		 * As in client-go, an inline token is used as is and tokenFile is
		 * only read when there is none; the path is kept for re-reading.
		 */
		if (u->token)
			kc->token = xstrdup(u->token);
		else if (kc->token_file)
			rc = read_token_file(ld, u, kc);
		if (rc)
			goto out;
	}
	*out = kc;
	kc = NULL;
out:
	kubeconfig_free(kc);
	free(dir);
	return rc;
}

/* ---------------------------------------------------------------- public API */

int kubeconfig_load(const char *path, const char *context_override, struct kubeconfig **out,
		    char *err, size_t errlen)
{
	struct loader ld = { .path = path ? path : "(null)", .err = err, .errlen = errlen };
	struct kc_file f = { 0 };
	struct kubeconfig *kc = NULL;
	char *data = NULL;
	size_t len = 0;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!path || !*path || !out) {
		rc = fail(&ld, NULL, -EINVAL, "no kubeconfig path given");
		goto out;
	}
	rc = read_file(path, KUBECONFIG_MAX_SIZE, &data, &len);
	if (rc == -EFBIG) {
		rc = fail(&ld, NULL, rc, "kubeconfig is larger than %u bytes", KUBECONFIG_MAX_SIZE);
		goto out;
	}
	if (rc) {
		rc = fail(&ld, NULL, rc, "cannot read kubeconfig: %s", strerror(-rc));
		goto out;
	}
	rc = ydoc_parse(&ld, data, len);
	if (rc)
		goto out;
	rc = kc_file_parse(&ld, &f);
	if (rc)
		goto out;
	rc = resolve(&ld, &f, context_override, &kc);
	if (rc)
		goto out;
	if (ld.doc.over_budget) {
		rc = fail(&ld, NULL, -EINVAL, "over budget");
		goto out;
	}
	*out = kc;
	kc = NULL;
out:
	kubeconfig_free(kc);
	kc_file_free(&f);
	ydoc_free(&ld.doc);
	free(data);
	return rc;
}

struct kubeconfig *kubeconfig_from_server(const char *url)
{
	struct kubeconfig *kc;

	if (!url || !*url)
		return NULL;
	kc = xcalloc(1, sizeof(*kc));
	kc->server = normalize_server(url);
	kc->namespace = xstrdup("default");
	return kc;
}

void kubeconfig_free(struct kubeconfig *kc)
{
	if (!kc)
		return;
	free(kc->context);
	free(kc->cluster);
	free(kc->user);
	free(kc->server);
	free(kc->namespace);
	free(kc->ca_file);
	free(kc->ca_pem);
	free(kc->tls_server_name);
	free(kc->client_cert_file);
	free(kc->client_cert_pem);
	free(kc->client_key_file);
	free(kc->client_key_pem);
	free(kc->token);
	free(kc->token_file);
	free(kc->username);
	free(kc->password);
	free(kc);
}

char *kubeconfig_default_path(void)
{
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");

	/* client-go skips empty entries of the list, so "::a" means "a". */
	while (env && *env) {
		size_t n = strcspn(env, ":");

		if (n)
			return xstrndup(env, n);
		env++;
	}
	if (!home || !*home) {
		struct passwd *pw = getpwuid(getuid());

		home = pw ? pw->pw_dir : NULL;
	}
	if (!home || !*home)
		return NULL;
	return xasprintf("%s/.kube/config", home);
}

/* ---------------------------------------------------------------- writing */

static int emitter_write(void *data, unsigned char *buffer, size_t size)
{
	buf_append(data, buffer, size);
	return 1;
}

static int emit(yaml_emitter_t *em, yaml_event_t *ev, int ok)
{
	/* The emitter owns the event from here on, even when it fails. */
	if (!ok || !yaml_emitter_emit(em, ev))
		return -EINVAL;
	return 0;
}

/* Fixed words are written plain; caller-supplied VALUEs always double-quoted. */
static int emit_str(yaml_emitter_t *em, const char *s, bool value)
{
	yaml_event_t ev;
	size_t n = strlen(s);

	if (n > INT_MAX)
		return -EINVAL;
	return emit(em, &ev,
		    yaml_scalar_event_initialize(
			    &ev, NULL, NULL, (const yaml_char_t *)s, (int)n, 1, 1,
			    value ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_PLAIN_SCALAR_STYLE));
}

static int emit_map_start(yaml_emitter_t *em)
{
	yaml_event_t ev;

	return emit(
		em, &ev,
		yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE));
}

static int emit_map_end(yaml_emitter_t *em)
{
	yaml_event_t ev;

	return emit(em, &ev, yaml_mapping_end_event_initialize(&ev));
}

/* key: "value", skipped when VALUE is NULL. */
static int emit_field(yaml_emitter_t *em, const char *key, const char *value)
{
	int rc;

	if (!value)
		return 0;
	rc = emit_str(em, key, false);
	return rc ? rc : emit_str(em, value, true);
}

/*
 * LIST:
 * - name: capstan
 *   BODY:
 *     fields...
 */
static int emit_named_list(yaml_emitter_t *em, const char *list, const char *body,
			   const char *const *kv, size_t nkv)
{
	yaml_event_t ev;
	int rc;

	if ((rc = emit_str(em, list, false)) ||
	    (rc = emit(em, &ev,
		       yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
							    YAML_BLOCK_SEQUENCE_STYLE))) ||
	    (rc = emit_map_start(em)) || (rc = emit_str(em, "name", false)) ||
	    (rc = emit_str(em, "capstan", false)) || (rc = emit_str(em, body, false)) ||
	    (rc = emit_map_start(em)))
		return rc;
	for (size_t i = 0; i + 1 < nkv; i += 2)
		if ((rc = emit_field(em, kv[i], kv[i + 1])))
			return rc;
	if ((rc = emit_map_end(em)) || (rc = emit_map_end(em)))
		return rc;
	return emit(em, &ev, yaml_sequence_end_event_initialize(&ev));
}

static int kubeconfig_render(struct buf *out, const char *server, const char *ca_path,
			     const char *cert_path, const char *key_path, const char *token)
{
	const char *const cluster[] = { "server", server, "certificate-authority", ca_path };
	const char *const user[] = {
		"client-certificate", cert_path, "client-key", key_path, "token", token
	};
	const char *const context[] = { "cluster", "capstan", "user", "capstan" };
	yaml_emitter_t em;
	yaml_event_t ev;
	int rc;

	if (!yaml_emitter_initialize(&em))
		return -ENOMEM;
	yaml_emitter_set_output(&em, emitter_write, out);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1); /* never fold a long token or path */
	if ((rc = emit(&em, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING))) ||
	    (rc = emit(&em, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1))) ||
	    (rc = emit_map_start(&em)) || (rc = emit_str(&em, "apiVersion", false)) ||
	    (rc = emit_str(&em, "v1", false)) || (rc = emit_str(&em, "kind", false)) ||
	    (rc = emit_str(&em, "Config", false)) ||
	    (rc = emit_named_list(&em, "clusters", "cluster", cluster, ARRAY_SIZE(cluster))) ||
	    (rc = emit_named_list(&em, "users", "user", user, ARRAY_SIZE(user))) ||
	    (rc = emit_named_list(&em, "contexts", "context", context, ARRAY_SIZE(context))) ||
	    (rc = emit_str(&em, "current-context", false)) ||
	    (rc = emit_str(&em, "capstan", false)) || (rc = emit_map_end(&em)) ||
	    (rc = emit(&em, &ev, yaml_document_end_event_initialize(&ev, 1))) ||
	    (rc = emit(&em, &ev, yaml_stream_end_event_initialize(&ev))))
		goto out;
	if (!yaml_emitter_flush(&em))
		rc = -EIO;
out:
	yaml_emitter_delete(&em);
	return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

int kubeconfig_write(const char *path, const char *server, const char *ca_path,
		     const char *cert_path, const char *key_path, const char *token)
{
	struct buf yaml = { 0 };
	char *tmp = NULL, *dir = NULL;
	int fd = -1, dfd = -1, rc;

	ca_path = nonempty(ca_path);
	cert_path = nonempty(cert_path);
	key_path = nonempty(key_path);
	token = nonempty(token);
	if (!path || !*path || !nonempty(server) || !cert_path != !key_path)
		return -EINVAL;
	rc = kubeconfig_render(&yaml, server, ca_path, cert_path, key_path, token);
	if (rc)
		goto out;

	tmp = xasprintf("%s.tmp.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 from the start: it may hold a token */
	if (fd < 0) {
		rc = -errno;
		free(tmp);
		tmp = NULL;
		goto out;
	}
	if (fchmod(fd, 0600) < 0 || (rc = write_all(fd, yaml.data, yaml.len)) || fsync(fd) < 0) {
		rc = rc ? rc : -errno;
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto out;
	}
	free(tmp);
	tmp = NULL;
	/* Make the rename itself durable; failing to is not worth failing the write for. */
	if (kubeconfig_dir(path, &dir) == 0) {
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0)
			fsync(dfd);
	}
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (tmp)
		unlink(tmp);
	free(tmp);
	free(dir);
	buf_free(&yaml);
	return rc;
}
