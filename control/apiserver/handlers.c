/*
 * handlers.c - routing of resource requests to verbs, and the verbs that
 * read (get, list) and write (create, update, patch) objects.
 *
 * Every write follows one path: decode and check the body, compute the new
 * object (defaults, server-owned metadata, strategy rules such as "status
 * only through /status"), validate it, reserve service addresses, write it
 * to the store with compare-and-swap on the revision it was computed from,
 * and answer with the object as the cache now holds it (resourceVersion
 * included). A conflict on an update the client did not pin to a
 * resourceVersion (PATCH, PUT without one) is retried on fresh state, as
 * upstream's GuaranteedUpdate does; a pinned one is a 409.
 */
#include "control/apiserver/handlers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "control/apiserver/encode.h"
#include "control/apiserver/patch.h"
#include "control/apiserver/pbjson.h"
#include "control/apiserver/schema.h"
#include "control/apiserver/server.h"
#include "control/apiserver/services.h"
#include "control/apiserver/status.h"
#include "control/apiserver/validate.h"
#include "jsonx.h"
#include "ktime.h"
#include "log.h"
#include "selector.h"

#define UPDATE_RETRIES 5
#define GENERATE_NAME_RETRIES 8

/* ---------------------------------------------------------------- helpers */

void req_key(const struct api_req *req, const struct resource *r, char *buf, size_t len)
{
	registry_key(r, req->route.ns, req->route.name, buf, len);
}

json_t *obj_meta(json_t *obj)
{
	json_t *m = json_object_get(obj, "metadata");

	if (!json_is_object(m)) {
		m = json_object();
		json_object_set_new(obj, "metadata", m);
	}
	return m;
}

const char *obj_name(const json_t *obj)
{
	return jsonx_path_str(obj, "metadata.name", "");
}

const char *obj_rv(const json_t *obj)
{
	return jsonx_path_str(obj, "metadata.resourceVersion", "");
}

void now_rfc3339(char *buf, size_t len)
{
	ktime_format((int64_t)now_real_ns(), buf, len);
}

static void new_uid(char *buf, size_t len)
{
	uint8_t b[16];

	if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
		uint64_t t = now_real_ns() ^ now_mono_ns();

		memcpy(b, &t, 8);
		memcpy(b + 8, &t, 8);
	}
	b[6] = (b[6] & 0x0f) | 0x40;	/* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	snprintf(buf, len,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
		 b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
		 b[14], b[15]);
}

/* generateName suffix: 5 characters from upstream's alphabet (no vowels, no 0/1/3). */
static void name_suffix(char *buf)
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	uint8_t r[5];

	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		memset(r, (int)now_mono_ns(), sizeof(r));
	for (int i = 0; i < 5; i++)
		buf[i] = alphabet[r[i] % (sizeof(alphabet) - 1)];
	buf[5] = '\0';
}

int req_dry_run(struct api_req *req, bool *dry)
{
	const char *d = api_query(req, "dryRun");

	*dry = false;
	if (!d || !*d)
		return 0;
	if (strcmp(d, "All") == 0) {
		*dry = true;
		return 0;
	}
	api_reply_status(req, status_failure(REASON_BAD_REQUEST, NULL, NULL, NULL,
					     "Invalid dry run value: %s (supported: All)", d));
	return -1;
}

static bool media_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	return ct && strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';');
}

int req_decode_body(struct api_req *req, json_t **out)
{
	const char *ct = api_header(req, "Content-Type");
	char err[512];
	json_error_t jerr;
	json_t *obj;

	*out = NULL;
	if (media_is(ct, "application/vnd.kubernetes.protobuf")) {
		int e = pbjson_decode(req->body.data, req->body.len, &obj, err, sizeof(err));

		if (e) {
			api_reply_status(req, status_failure(e == -ENOTSUP
								     ? REASON_UNSUPPORTED_MEDIA_TYPE
								     : REASON_BAD_REQUEST,
							     NULL, NULL, NULL, "%s", err));
			return -1;
		}
	} else if (!ct || media_is(ct, "application/json") || media_is(ct, "*/*") ||
		   media_is(ct, "application/merge-patch+json") ||
		   media_is(ct, "application/json-patch+json") ||
		   media_is(ct, "application/strategic-merge-patch+json")) {
		obj = json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES, &jerr);
		if (!obj) {
			api_reply_status(req, status_failure(REASON_BAD_REQUEST, NULL, NULL, NULL,
							     "error decoding request body: %s (line "
							     "%d, column %d)",
							     jerr.text, jerr.line, jerr.column));
			return -1;
		}
	} else {
		api_reply_status(req, status_failure(REASON_UNSUPPORTED_MEDIA_TYPE, NULL, NULL,
						     NULL,
						     "the body of the request was in an unknown "
						     "format - accepted media types include: "
						     "application/json, "
						     "application/vnd.kubernetes.protobuf"));
		return -1;
	}
	*out = obj;
	return 0;
}

/* Apply fieldValidation to schema problems; replies and returns -1 on rejection. */
static int check_fields(struct api_req *req, const char *group, const char *version,
			const char *kind, const json_t *obj)
{
	const char *mode = api_query(req, "fieldValidation");
	json_t *problems = json_array(), *p;
	struct buf unknown = { 0 }, invalid = { 0 };
	size_t i;
	int ret = 0;

	if (mode && strcmp(mode, "Strict") && strcmp(mode, "Warn") && strcmp(mode, "Ignore")) {
		api_reply_status(req, status_failure(REASON_BAD_REQUEST, NULL, NULL, NULL,
						     "fieldValidation parameter unsupported: %s",
						     mode));
		json_decref(problems);
		return -1;
	}
	schema_check(group, version, kind, obj, problems);
	json_array_foreach(problems, i, p) {
		const char *field = jsonx_str(p, "field", "");

		if (strcmp(jsonx_str(p, "type", ""), "unknown") == 0) {
			buf_appendf(&unknown, "%sunknown field \"%s\"", unknown.len ? ", " : "",
				    field);
			if (!mode || strcmp(mode, "Warn") == 0)
				api_warn(req, "unknown field \"%s\"", field);
		} else {
			buf_appendf(&invalid, "%s%s: expected %s, got %s", invalid.len ? ", " : "",
				    field, jsonx_str(p, "expected", "?"), jsonx_str(p, "got", "?"));
		}
	}
	if (invalid.len) {
		api_reply_status(req, status_failure(REASON_BAD_REQUEST, NULL, NULL, NULL,
						     "%s in version \"%s\" cannot be handled as a "
						     "%s: %s",
						     kind, version, kind, invalid.data));
		ret = -1;
	} else if (unknown.len && mode && strcmp(mode, "Strict") == 0) {
		api_reply_status(req, status_failure(REASON_BAD_REQUEST, NULL, NULL, NULL,
						     "%s in version \"%s\" cannot be handled as a "
						     "%s: strict decoding error: %s",
						     kind, version, kind, unknown.data));
		ret = -1;
	}
	buf_free(&unknown);
	buf_free(&invalid);
	json_decref(problems);
	return ret;
}

int req_decode_object(struct api_req *req, const struct resource *r, const char *api_version,
		      const char *kind, json_t **out)
{
	char want_av[96], group[96] = "", version[96];
	const char *av, *k;
	json_t *obj;

	if (req_decode_body(req, &obj) < 0)
		return -1;
	if (!json_is_object(obj)) {
		api_reply_status(req, status_failure(REASON_BAD_REQUEST, NULL, NULL, NULL,
						     "the request body must be a JSON object"));
		json_decref(obj);
		return -1;
	}
	if (!api_version)
		registry_api_version(r, want_av, sizeof(want_av));
	else
		snprintf(want_av, sizeof(want_av), "%s", api_version);
	if (!kind)
		kind = r->kind;
	av = jsonx_str(obj, "apiVersion", "");
	k = jsonx_str(obj, "kind", "");
	if (*k && strcmp(k, kind) != 0) {
		api_reply_status(req, status_failure(REASON_BAD_REQUEST, r, NULL, NULL,
						     "%s in version \"%s\" cannot be handled as a "
						     "%s: the kind in the body does not match",
						     k, av, kind));
		json_decref(obj);
		return -1;
	}
	if (*av && strcmp(av, want_av) != 0) {
		api_reply_status(req, status_failure(REASON_BAD_REQUEST, r, NULL, NULL,
						     "the API version in the data (%s) does not "
						     "match the expected API version (%s)",
						     av, want_av));
		json_decref(obj);
		return -1;
	}
	json_object_set_new(obj, "apiVersion", json_string(want_av));
	json_object_set_new(obj, "kind", json_string(kind));
	const char *slash = strchr(want_av, '/');
	if (slash) {
		snprintf(group, sizeof(group), "%.*s", (int)(slash - want_av), want_av);
		snprintf(version, sizeof(version), "%s", slash + 1);
	} else {
		snprintf(version, sizeof(version), "%s", want_av);
	}
	if (check_fields(req, group, version, kind, obj) < 0) {
		json_decref(obj);
		return -1;
	}
	*out = obj;
	return 0;
}

/* The namespace of the URL must exist and not be terminating. */
static int check_namespace(struct api_req *req, const struct resource *r)
{
	char key[512];
	struct cache_obj *ns;
	const struct resource *nsr = registry_find("", "v1", "namespaces");
	int ret = 0;

	if (!r->namespaced)
		return 0;
	registry_key(nsr, NULL, req->route.ns, key, sizeof(key));
	ns = cache_get(req->srv->cache, key);
	if (!ns) {
		api_reply_status(req, status_from_errno(-ENOENT, nsr, req->route.ns));
		return -1;
	}
	if (jsonx_get_path(ns->obj, "metadata.deletionTimestamp")) {
		api_reply_status(req, status_failure(REASON_FORBIDDEN, r, NULL, NULL,
						     "unable to create new content in namespace %s "
						     "because it is being terminated",
						     req->route.ns));
		ret = -1;
	}
	cache_obj_unref(ns);
	return ret;
}

/* Pod QoS class, computed at create as upstream's PrepareForCreate does. */
static const char *pod_qos(const json_t *pod)
{
	bool any = false, guaranteed = true;
	static const char *const lists[] = { "spec.containers", "spec.initContainers" };
	static const char *const res[] = { "cpu", "memory" };

	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		json_t *c;
		size_t i;

		json_array_foreach(jsonx_get_path(pod, lists[l]), i, c) {
			json_t *req = jsonx_getv(c, "resources", "requests", NULL);
			json_t *lim = jsonx_getv(c, "resources", "limits", NULL);

			if (json_object_size(req) || json_object_size(lim))
				any = true;
			for (size_t k = 0; k < ARRAY_SIZE(res); k++) {
				const char *rq = json_string_value(json_object_get(req, res[k]));
				const char *lm = json_string_value(json_object_get(lim, res[k]));

				if (!lm || (rq && strcmp(rq, lm) != 0))
					guaranteed = false;
			}
		}
	}
	if (!any)
		return "BestEffort";
	return guaranteed ? "Guaranteed" : "Burstable";
}

void object_prepare_create(const struct resource *r, json_t *obj)
{
	json_t *meta = obj_meta(obj);
	char uid[40], now[KTIME_BUFSZ];
	static const char *const server_owned[] = {
		"uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
		"deletionGracePeriodSeconds", "generation", "selfLink",
	};

	for (size_t i = 0; i < ARRAY_SIZE(server_owned); i++)
		json_object_del(meta, server_owned[i]);
	new_uid(uid, sizeof(uid));
	now_rfc3339(now, sizeof(now));
	json_object_set_new(meta, "uid", json_string(uid));
	json_object_set_new(meta, "creationTimestamp", json_string(now));
	if (r->generation)
		json_object_set_new(meta, "generation", json_integer(1));

	if (strcmp(r->kind, "Namespace") == 0) {
		/* Every namespace carries its own name as a label (selectable). */
		json_t *labels = json_object_get(meta, "labels");

		if (!json_is_object(labels)) {
			labels = json_object();
			json_object_set_new(meta, "labels", labels);
		}
		json_object_set(labels, "kubernetes.io/metadata.name",
				json_object_get(meta, "name"));
	}
	if (strcmp(r->kind, "Pod") == 0) {
		json_object_set_new(obj, "status", json_pack("{s:s,s:s}", "phase", "Pending",
							     "qosClass", pod_qos(obj)));
	} else if (strcmp(r->kind, "Namespace") == 0) {
		json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Active"));
	} else if (strcmp(r->kind, "Service") == 0) {
		json_object_set_new(obj, "status", json_pack("{s:{}}", "loadBalancer"));
	} else if (r->status_apart && strcmp(r->kind, "Node") != 0) {
		/* Controllers own the status of workloads; a create cannot set it. */
		json_object_set_new(obj, "status", json_object());
	}
}

/*
 * The object also travels to the cache as the write's hint (store.h): the
 * cache keeps it (with resourceVersion set) instead of parsing the text.
 * So after a successful write the caller must treat obj as read-only.
 */
char *object_storage_text(json_t *obj, size_t *len)
{
	json_t *meta = obj_meta(obj);
	json_t *rv = json_incref(json_object_get(meta, "resourceVersion"));
	char *text;

	json_object_del(meta, "resourceVersion");
	text = json_dumps(obj, JSON_COMPACT);
	if (rv)
		json_object_set_new(meta, "resourceVersion", rv);
	if (!text)
		abort();
	*len = strlen(text);
	return text;
}

/* Reply with validation causes (stolen) as 422, or return 0 if there are none. */
static int reply_invalid(struct api_req *req, const struct resource *r, const char *name,
			 json_t *causes)
{
	if (json_array_size(causes) == 0) {
		json_decref(causes);
		return 0;
	}
	api_reply_status(req, status_invalid(r, name, causes));
	return -1;
}

/* ---------------------------------------------------------------- get / list */

static void handle_get(struct api_req *req, const struct resource *r)
{
	struct out_format fmt;
	struct cache_obj *o;
	char key[600];

	req_key(req, r, key, sizeof(key));
	o = cache_get(req->srv->cache, key);
	if (!o) {
		api_reply_status(req, status_from_errno(-ENOENT, r, req->route.name));
		return;
	}
	encode_format(req, &fmt);
	encode_object(req, 200, r, o, &fmt);
	cache_obj_unref(o);
}

static const char *filter_field_get(void *ctx, const char *field)
{
	const json_t **pair = ctx;
	static __thread char scratch[32];
	const struct list_filter *f = (const struct list_filter *)pair[0];

	return registry_field_value(f->r, pair[1], field, scratch, sizeof(scratch));
}

static bool filter_matches(const struct list_filter *f, const json_t *obj)
{
	if (!obj)
		return false;
	if (f->labels && !selector_matches(f->labels, jsonx_get_path(obj, "metadata.labels")))
		return false;
	if (f->fields) {
		const void *pair[2] = { f, obj };

		if (!fieldsel_matches(f->fields, filter_field_get, pair))
			return false;
	}
	return true;
}

static bool list_filter_fn(void *ctx, const struct cache_obj *o)
{
	return filter_matches(ctx, o->obj);
}

int list_filter_init(struct api_req *req, const struct resource *r, struct list_filter *f)
{
	const char *ls = api_query(req, "labelSelector");
	const char *fs = api_query(req, "fieldSelector");
	const char *allowed[32];
	char err[512];

	memset(f, 0, sizeof(*f));
	f->r = r;
	if (ls && *ls && selector_parse(ls, &f->labels, err, sizeof(err)) < 0) {
		api_reply_status(req, status_failure(REASON_BAD_REQUEST, NULL, NULL, NULL,
						     "unable to parse requirement: %s", err));
		return -1;
	}
	if (fs && *fs) {
		if (fieldsel_parse(fs, &f->fields, err, sizeof(err)) < 0) {
			api_reply_status(req, status_failure(REASON_BAD_REQUEST, NULL, NULL, NULL,
							     "%s", err));
			selector_free(f->labels);
			return -1;
		}
		registry_field_labels(r, allowed, ARRAY_SIZE(allowed));
		if (fieldsel_check_fields(f->fields, allowed, err, sizeof(err)) < 0) {
			api_reply_status(req, status_failure(REASON_BAD_REQUEST, NULL, NULL, NULL,
							     "%s: %s", err, fs));
			selector_free(f->labels);
			fieldsel_free(f->fields);
			return -1;
		}
	}
	return 0;
}

void list_filter_free(struct list_filter *f)
{
	selector_free(f->labels);
	fieldsel_free(f->fields);
}

bool list_filter_match(const struct list_filter *f, const json_t *obj)
{
	return filter_matches(f, obj);
}

/* Continue tokens: base64url of {"rv":N,"after":"<key>"}. */
static char *continue_encode(int64_t rev, const char *after)
{
	json_t *j = json_pack("{s:I,s:s}", "rv", (json_int_t)rev, "after", after);
	char *text = json_dumps(j, JSON_COMPACT);
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = strlen(text), o = 0;
	char *out = xmalloc(n * 4 / 3 + 4);

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint8_t)text[i] << 16;

		if (i + 1 < n)
			v |= (uint8_t)text[i + 1] << 8;
		if (i + 2 < n)
			v |= (uint8_t)text[i + 2];
		out[o++] = tbl[v >> 18 & 63];
		out[o++] = tbl[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = tbl[v >> 6 & 63];
		if (i + 2 < n)
			out[o++] = tbl[v & 63];
	}
	out[o] = '\0';
	free(text);
	json_decref(j);
	return out;
}

static int b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-' || c == '+')
		return 62;
	if (c == '_' || c == '/')
		return 63;
	return -1;
}

/* 0 with *rev and after (malloc'd) set, or -EINVAL. */
static int continue_decode(const char *tok, int64_t *rev, char **after)
{
	size_t n = strlen(tok), o = 0;
	uint32_t acc = 0;
	int bits = 0;
	char *text;
	json_t *j;

	if (n == 0 || n > 4096)
		return -EINVAL;
	text = xmalloc(n);
	for (size_t i = 0; i < n && tok[i] != '='; i++) {
		int v = b64url_value(tok[i]);

		if (v < 0) {
			free(text);
			return -EINVAL;
		}
		acc = acc << 6 | v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			text[o++] = (char)(acc >> bits & 0xff);
		}
	}
	j = json_loadb(text, o, 0, NULL);
	free(text);
	if (!json_is_integer(json_object_get(j, "rv")) ||
	    !json_is_string(json_object_get(j, "after"))) {
		json_decref(j);
		return -EINVAL;
	}
	*rev = json_integer_value(json_object_get(j, "rv"));
	*after = xstrdup(json_string_value(json_object_get(j, "after")));
	json_decref(j);
	return 0;
}

static void handle_list(struct api_req *req, const struct resource *r)
{
	const char *limit_s = api_query(req, "limit"), *cont = api_query(req, "continue");
	struct list_filter f;
	struct out_format fmt;
	struct cache_list l;
	char prefix[600], *after = NULL, *next = NULL;
	long long limit = 0;
	int64_t rev = 0;

	if (limit_s && *limit_s) {
		char *end;

		limit = strtoll(limit_s, &end, 10);
		if (*end || limit < 0) {
			api_reply_status(req, status_failure(REASON_BAD_REQUEST, NULL, NULL, NULL,
							     "invalid limit: %s", limit_s));
			return;
		}
	}
	if (cont && *cont && continue_decode(cont, &rev, &after) < 0) {
		api_reply_status(req, status_failure(REASON_BAD_REQUEST, NULL, NULL, NULL,
						     "continue key is not valid: %s", cont));
		return;
	}
	if (list_filter_init(req, r, &f) < 0) {
		free(after);
		return;
	}
	registry_key(r, req->route.ns, NULL, prefix, sizeof(prefix));
	cache_list(req->srv->cache, prefix, after, (size_t)limit, list_filter_fn, &f, &l);
	if (!rev)
		rev = l.rev;
	if (l.more)
		next = continue_encode(rev, l.items[l.n - 1]->key);
	encode_format(req, &fmt);
	encode_list(req, r, l.items, l.n, rev, next, -1, &fmt);
	free(next);
	free(after);
	cache_list_release(&l);
	list_filter_free(&f);
}

/* ---------------------------------------------------------------- create */

static int check_body_namespace(struct api_req *req, const struct resource *r, json_t *obj)
{
	json_t *meta = obj_meta(obj);
	const char *ns = jsonx_str(meta, "namespace", "");

	if (!r->namespaced) {
		json_object_del(meta, "namespace");
		return 0;
	}
	if (*ns && strcmp(ns, req->route.ns) != 0) {
		api_reply_status(req, status_failure(REASON_BAD_REQUEST, r, NULL, NULL,
						     "the namespace of the provided object does "
						     "not match the namespace sent on the request"));
		return -1;
	}
	json_object_set_new(meta, "namespace", json_string(req->route.ns));
	return 0;
}

/* Store a new object; on success *out is the cached result. */
static int create_object(struct api_req *req, const struct resource *r, json_t *obj,
			 bool dry, struct cache_obj **out, json_t **created)
{
	struct apiserver *s = req->srv;
	const char *gen = jsonx_path_str(obj, "metadata.generateName", "");
	bool generated = !*obj_name(obj) && *gen;
	struct svc_alloc_tx tx = { 0 };
	bool is_svc = strcmp(r->kind, "Service") == 0;
	json_t *causes;
	char key[600];
	int err = -EEXIST;

	*out = NULL;
	*created = NULL;
	defaults_apply(r->kind, obj);
	object_prepare_create(r, obj);
	for (int attempt = 0; attempt < GENERATE_NAME_RETRIES && err == -EEXIST; attempt++) {
		size_t len;
		char *text;

		if (generated) {
			char suffix[6], name[300];

			name_suffix(suffix);
			snprintf(name, sizeof(name), "%s%s", gen, suffix);
			json_object_set_new(obj_meta(obj), "name", json_string(name));
		}
		if (attempt == 0) {
			causes = json_array();
			validate_object(r->kind, obj, NULL, causes);
			if (!json_array_size(causes) && is_svc)
				svc_alloc_prepare(s, NULL, obj, &tx, causes);
			if (reply_invalid(req, r, obj_name(obj), causes) < 0)
				return -1;
		}
		if (dry) {
			*created = json_incref(obj);
			err = 0;
			break;
		}
		registry_key(r, req->route.ns, obj_name(obj), key, sizeof(key));
		text = object_storage_text(obj, &len);
		err = store_create(s->store, key, text, len, obj, NULL);
		free(text);
		if (!generated)
			break;
	}
	if (is_svc) {
		if (err || dry)
			svc_alloc_rollback(s, &tx);
		else
			svc_alloc_commit(s, &tx);
	}
	if (err) {
		api_reply_status(req, status_from_errno(err, r, obj_name(obj)));
		return -1;
	}
	if (!dry)
		*out = cache_get(s->cache, key);
	return 0;
}

static void handle_create(struct api_req *req, const struct resource *r)
{
	struct out_format fmt;
	struct cache_obj *o = NULL;
	json_t *obj = NULL, *dry_obj = NULL;
	bool dry;

	if (req_dry_run(req, &dry) < 0 || req_decode_object(req, r, NULL, NULL, &obj) < 0)
		return;
	if (check_body_namespace(req, r, obj) < 0 || check_namespace(req, r) < 0)
		goto out;
	if (!*obj_name(obj) && !*jsonx_path_str(obj, "metadata.generateName", "")) {
		api_reply_status(req, status_invalid(r, "",
						     json_pack("[{s:s,s:s,s:s}]", "reason",
							       "FieldValueRequired", "message",
							       "name or generateName is required",
							       "field", "metadata.name")));
		goto out;
	}
	if (create_object(req, r, obj, dry, &o, &dry_obj) < 0)
		goto out;
	encode_format(req, &fmt);
	if (o)
		encode_object(req, 201, r, o, &fmt);
	else if (dry_obj)
		encode_json_object(req, 201, r, dry_obj, &fmt);
	else	/* written, then deleted or replaced before we read it back */
		encode_json_object(req, 201, r, obj, &fmt);
out:
	cache_obj_unref(o);
	json_decref(dry_obj);
	json_decref(obj);
}

/* ---------------------------------------------------------------- update */

/*
 * Strategy for an update: keep what the client may not change through
 * this endpoint. sub is "" for the main resource or "status".
 */
static json_t *prepare_update(const struct resource *r, const char *sub, const json_t *cur,
			      const json_t *want)
{
	json_t *next;
	json_t *meta, *old_meta = json_object_get(cur, "metadata");
	static const char *const keep[] = {
		"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
		"generation", "namespace", "name",
	};

	if (strcmp(sub, "status") == 0) {
		next = json_deep_copy(cur);
		if (json_object_get(want, "status"))
			json_object_set(next, "status", json_object_get(want, "status"));
		else
			json_object_del(next, "status");
		return next;
	}
	next = json_deep_copy(want);
	meta = obj_meta(next);
	for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
		json_t *v = json_object_get(old_meta, keep[i]);

		if (v)
			json_object_set(meta, keep[i], v);
		else
			json_object_del(meta, keep[i]);
	}
	if (r->status_apart) {
		json_t *st = json_object_get(cur, "status");

		if (st)
			json_object_set(next, "status", st);
		else
			json_object_del(next, "status");
	}
	if (r->generation &&
	    !jsonx_equal(json_object_get(cur, "spec"), json_object_get(next, "spec")))
		json_object_set_new(meta, "generation",
				    json_integer(jsonx_path_int(cur, "metadata.generation", 0) + 1));
	return next;
}

/* Same object apart from resourceVersion? (A no-op update writes nothing.) */
static bool same_object(const json_t *a, const json_t *b)
{
	json_t *ca = json_deep_copy(a), *cb = json_deep_copy(b);
	bool eq;

	json_object_del(obj_meta(ca), "resourceVersion");
	json_object_del(obj_meta(cb), "resourceVersion");
	eq = jsonx_equal(ca, cb);
	json_decref(ca);
	json_decref(cb);
	return eq;
}

static bool deleting_without_finalizers(const json_t *obj)
{
	const json_t *dt = jsonx_get_path(obj, "metadata.deletionTimestamp");

	/* A graceful deletion (grace > 0) waits for its kubelet, not for finalizers. */
	return dt && !json_is_null(dt) &&
	       jsonx_path_int(obj, "metadata.deletionGracePeriodSeconds", 0) == 0 &&
	       json_array_size(jsonx_get_path(obj, "metadata.finalizers")) == 0 &&
	       (strcmp(jsonx_str(obj, "kind", ""), "Namespace") != 0 ||
		json_array_size(jsonx_get_path(obj, "spec.finalizers")) == 0);
}

int store_write_update(struct apiserver *s, const struct resource *r, const char *key,
		       const struct cache_obj *cur, json_t *obj, struct cache_obj **out)
{
	size_t len;
	char *text;
	int err;

	*out = NULL;
	if (deleting_without_finalizers(obj)) {
		/* The last finalizer is gone: the object goes. */
		err = store_delete(s->store, key, cur->rev, NULL, NULL);
		if (!err && strcmp(r->kind, "Service") == 0)
			svc_release(s, cur->obj);
		return err;
	}
	text = object_storage_text(obj, &len);
	err = store_update(s->store, key, cur->rev, text, len, obj, NULL);
	free(text);
	if (!err)
		*out = cache_get(s->cache, key);
	return err;
}

void do_update(struct api_req *req, const struct resource *r, const char *sub,
	       update_build_fn build, void *ctx, bool pinned_rv_only)
{
	struct apiserver *s = req->srv;
	struct out_format fmt;
	char key[600];
	bool dry;
	int err = -ESTALE;

	if (req_dry_run(req, &dry) < 0)
		return;
	encode_format(req, &fmt);
	req_key(req, r, key, sizeof(key));
	for (int attempt = 0; attempt < UPDATE_RETRIES && err == -ESTALE; attempt++) {
		struct cache_obj *cur = cache_get(s->cache, key), *res = NULL;
		json_t *want = NULL, *next = NULL, *causes;
		struct svc_alloc_tx tx = { 0 };
		bool is_svc = strcmp(r->kind, "Service") == 0 && !*sub;
		const char *want_rv;

		if (!cur) {
			api_reply_status(req, status_from_errno(-ENOENT, r, req->route.name));
			return;
		}
		if (build(req, ctx, cur->obj, &want) < 0) {
			cache_obj_unref(cur);
			return;	/* replied */
		}
		want_rv = obj_rv(want);
		if (*want_rv && strcmp(want_rv, obj_rv(cur->obj)) != 0) {
			api_reply_status(req, status_from_errno(-ESTALE, r, req->route.name));
			goto next_attempt;
		}
		next = prepare_update(r, sub, cur->obj, want);
		if (!*sub)
			defaults_apply(r->kind, next);
		causes = json_array();
		/* Allocated addresses and ports carry over before validation, as
		 * upstream's patchAllocatedValues does: an update that leaves
		 * clusterIP empty keeps it rather than "unsetting" it. */
		if (is_svc)
			svc_alloc_prepare(s, cur->obj, next, &tx, causes);
		if (!json_array_size(causes)) {
			if (*sub)
				validate_status(r->kind, next, cur->obj, causes);
			else
				validate_object(r->kind, next, cur->obj, causes);
		}
		if (json_array_size(causes) && is_svc)
			svc_alloc_rollback(s, &tx);
		if (reply_invalid(req, r, req->route.name, causes) < 0)
			goto next_attempt;
		if (same_object(cur->obj, next) || dry) {
			if (is_svc)
				svc_alloc_rollback(s, &tx);
			if (dry)
				encode_json_object(req, 200, r, next, &fmt);
			else
				encode_object(req, 200, r, cur, &fmt);
			err = 0;
			goto next_attempt;
		}
		err = store_write_update(s, r, key, cur, next, &res);
		if (is_svc) {
			if (err)
				svc_alloc_rollback(s, &tx);
			else
				svc_alloc_commit(s, &tx);
		}
		if (err == -ESTALE && !(pinned_rv_only && *want_rv) && attempt + 1 < UPDATE_RETRIES)
			goto next_attempt;	/* retry on fresh state */
		if (err)
			api_reply_status(req, status_from_errno(err, r, req->route.name));
		else if (res)
			encode_object(req, 200, r, res, &fmt);
		else
			encode_json_object(req, 200, r, next, &fmt);
		err = 0;
	next_attempt:
		cache_obj_unref(res);
		cache_obj_unref(cur);
		json_decref(want);
		json_decref(next);
		if (req->status)
			return;
	}
	if (!req->status)
		api_reply_status(req, status_from_errno(-ESTALE, r, req->route.name));
}

/* PUT: the body is the desired object. */
static int build_from_body(struct api_req *req, void *ctx, const json_t *cur, json_t **want)
{
	json_t *body = ctx;

	*want = json_incref(body);
	return 0;
}

static void handle_update(struct api_req *req, const struct resource *r, const char *sub)
{
	json_t *obj;
	char key[600];

	if (req_decode_object(req, r, NULL, NULL, &obj) < 0)
		return;
	if (check_body_namespace(req, r, obj) < 0)
		goto out;
	if (strcmp(obj_name(obj), req->route.name) != 0) {
		api_reply_status(req, status_failure(REASON_BAD_REQUEST, r, req->route.name, NULL,
						     "the name of the object (%s) does not match "
						     "the name on the URL (%s)",
						     obj_name(obj), req->route.name));
		goto out;
	}
	req_key(req, r, key, sizeof(key));
	if (r->create_on_update && !*sub) {
		struct cache_obj *cur = cache_get(req->srv->cache, key);

		if (!cur) {
			struct cache_obj *o = NULL;
			json_t *dry_obj = NULL;
			struct out_format fmt;
			bool dry;

			if (req_dry_run(req, &dry) == 0 && check_namespace(req, r) == 0 &&
			    create_object(req, r, obj, dry, &o, &dry_obj) == 0) {
				encode_format(req, &fmt);
				if (o)
					encode_object(req, 201, r, o, &fmt);
				else
					encode_json_object(req, 201, r, dry_obj ? dry_obj : obj,
							   &fmt);
			}
			cache_obj_unref(o);
			json_decref(dry_obj);
			goto out;
		}
		cache_obj_unref(cur);
	}
	do_update(req, r, sub, build_from_body, obj, true);
out:
	json_decref(obj);
}

/* PATCH: the desired object is the patch applied to the current one. */
struct patch_ctx {
	const struct resource *r;
	const char *type;	/* merge, json, strategic */
	json_t *patch;
};

static int build_from_patch(struct api_req *req, void *ctx, const json_t *cur, json_t **want)
{
	struct patch_ctx *pc = ctx;
	char err[512];
	int e;

	if (strcmp(pc->type, "json") == 0)
		e = patch_json(cur, pc->patch, want, err, sizeof(err));
	else if (strcmp(pc->type, "merge") == 0)
		e = patch_merge(cur, pc->patch, want, err, sizeof(err));
	else
		e = patch_strategic(jsonx_str(cur, "kind", ""), cur, pc->patch, want, err,
				    sizeof(err));
	if (e == -EINVAL) {
		api_reply_status(req, status_failure(REASON_BAD_REQUEST, NULL, NULL, NULL, "%s",
						     err));
		return -1;
	}
	if (e) {
		api_reply_status(req, status_failure(REASON_INVALID, NULL, NULL, NULL,
						     "the server rejected our request due to an "
						     "error in our request: %s",
						     err));
		return -1;
	}
	if (!json_is_object(*want)) {
		json_decref(*want);
		*want = NULL;
		api_reply_status(req, status_failure(REASON_BAD_REQUEST, NULL, NULL, NULL,
						     "the patch turned the object into something "
						     "that is not an object"));
		return -1;
	}
	/*
	 * A patch that names a uid is a precondition on it (upstream's patcher
	 * works so): controllers adopting or releasing an object by name must
	 * not touch a new object that took the old one's name.
	 */
	const char *want_uid = jsonx_path_str(*want, "metadata.uid", "");
	const char *cur_uid = jsonx_path_str(cur, "metadata.uid", "");
	if (*want_uid && strcmp(want_uid, cur_uid) != 0) {
		api_reply_status(req, status_failure(REASON_CONFLICT, pc->r, req->route.name, NULL,
						     "Precondition failed: UID in precondition: %s, "
						     "UID in object meta: %s",
						     want_uid, cur_uid));
		json_decref(*want);
		*want = NULL;
		return -1;
	}
	/* Strict decoding applies to the patched object, as upstream does it. */
	if (check_fields(req, pc->r->group, pc->r->version, pc->r->kind, *want) < 0) {
		json_decref(*want);
		*want = NULL;
		return -1;
	}
	return 0;
}

static void handle_patch(struct api_req *req, const struct resource *r, const char *sub)
{
	const char *ct = api_header(req, "Content-Type");
	struct patch_ctx pc = { .r = r };

	if (media_is(ct, "application/json-patch+json"))
		pc.type = "json";
	else if (media_is(ct, "application/merge-patch+json"))
		pc.type = "merge";
	else if (media_is(ct, "application/strategic-merge-patch+json"))
		pc.type = "strategic";
	else {
		api_reply_status(req, status_failure(REASON_UNSUPPORTED_MEDIA_TYPE, NULL, NULL,
						     NULL,
						     "the body of the request was in an unknown "
						     "format - accepted media types include: "
						     "application/json-patch+json, "
						     "application/merge-patch+json, "
						     "application/strategic-merge-patch+json"));
		return;
	}
	if (req_decode_body(req, &pc.patch) < 0)
		return;
	do_update(req, r, sub, build_from_patch, &pc, false);
	json_decref(pc.patch);
}

/* ---------------------------------------------------------------- dispatch */

static void method_not_allowed(struct api_req *req)
{
	api_reply_status(req, status_failure(REASON_METHOD_NOT_ALLOWED, NULL, NULL, NULL,
					     "the server does not allow this method on the "
					     "requested resource"));
}

static void not_found(struct api_req *req)
{
	api_reply_status(req, status_failure(REASON_NOT_FOUND, NULL, NULL, NULL,
					     "the server could not find the requested resource"));
}

static bool is_watch(const struct api_req *req)
{
	const char *w = api_query(req, "watch");

	return w && (strcmp(w, "true") == 0 || strcmp(w, "1") == 0);
}

static void dispatch_subresource(struct api_req *req, const struct resource *r)
{
	const char *sub = req->route.sub, *m = req->method;

	if (strcmp(sub, "status") == 0 && (r->subresources & RES_SUB_STATUS)) {
		if (strcmp(m, "GET") == 0)
			handle_get(req, r);
		else if (strcmp(m, "PUT") == 0)
			handle_update(req, r, "status");
		else if (strcmp(m, "PATCH") == 0)
			handle_patch(req, r, "status");
		else
			method_not_allowed(req);
	} else if (strcmp(sub, "scale") == 0 && (r->subresources & RES_SUB_SCALE)) {
		handle_scale(req, r);
	} else if (strcmp(sub, "binding") == 0 && (r->subresources & RES_SUB_BINDING)) {
		handle_binding(req, r);
	} else if (strcmp(sub, "eviction") == 0 && (r->subresources & RES_SUB_EVICTION)) {
		handle_eviction(req, r);
	} else if (strcmp(sub, "log") == 0 && (r->subresources & RES_SUB_LOG)) {
		handle_log(req, r);
	} else if (strcmp(sub, "finalize") == 0 && (r->subresources & RES_SUB_FINALIZE)) {
		handle_finalize(req, r);
	} else {
		not_found(req);
	}
}

static void dispatch_resource(struct api_req *req)
{
	const struct route *rt = &req->route;
	const struct resource *r = rt->res;
	const char *m = req->method;

	/* POST /api/v1/namespaces/NS/bindings: the legacy form of pods/binding. */
	if (!r && strcmp(rt->resource, "bindings") == 0 && !*rt->name && *rt->ns &&
	    strcmp(rt->version, "v1") == 0 && !*rt->group) {
		if (strcmp(m, "POST") != 0) {
			method_not_allowed(req);
			return;
		}
		handle_binding(req, registry_find("", "v1", "pods"));
		return;
	}
	if (!r || (!r->namespaced && *rt->ns && strcmp(r->name, "namespaces") != 0)) {
		not_found(req);
		return;
	}
	if (r->namespaced && *rt->name && !*rt->ns) {
		not_found(req);
		return;
	}
	if (*rt->name && validate_dns1123_subdomain(rt->name) < 0 &&
	    strcmp(r->name, "events") != 0 && strcmp(r->name, "leases") != 0) {
		/* No object can have this name: a clear 404 rather than a lookup. */
		api_reply_status(req, status_from_errno(-ENOENT, r, rt->name));
		return;
	}
	if (*rt->sub) {
		dispatch_subresource(req, r);
		return;
	}
	if (!*rt->name) {
		if (strcmp(m, "GET") == 0)
			is_watch(req) ? handle_watch(req, r) : handle_list(req, r);
		else if (strcmp(m, "POST") == 0 && (!r->namespaced || *rt->ns))
			handle_create(req, r);
		else if (strcmp(m, "DELETE") == 0 && (!r->namespaced || *rt->ns))
			handle_delete_collection(req, r);
		else
			method_not_allowed(req);
		return;
	}
	if (strcmp(m, "GET") == 0)
		handle_get(req, r);
	else if (strcmp(m, "PUT") == 0)
		handle_update(req, r, "");
	else if (strcmp(m, "PATCH") == 0)
		handle_patch(req, r, "");
	else if (strcmp(m, "DELETE") == 0)
		handle_delete(req, r);
	else
		method_not_allowed(req);
}

void api_dispatch(struct api_req *req)
{
	switch (req->route.kind) {
	case ROUTE_RESOURCE:
		dispatch_resource(req);
		break;
	case ROUTE_HEALTH:
		api_reply_raw(req, 200, "text/plain; charset=utf-8", xstrdup("ok"), 2);
		break;
	case ROUTE_OPENAPI_V2:
	case ROUTE_OPENAPI_V3:
	case ROUTE_OPENAPI_V3_GV:
		handle_openapi(req);
		break;
	case ROUTE_VERSION:
	case ROUTE_API:
	case ROUTE_APIS:
	case ROUTE_GROUP:
	case ROUTE_GROUP_VERSION:
		handle_discovery(req);
		break;
	default:
		not_found(req);
	}
}
