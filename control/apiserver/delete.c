/*
 * delete.c - DELETE of objects and collections, and namespaces/finalize.
 *
 * An object is removed from the store only when nothing waits on it:
 *   - a pod bound to a node is first marked (deletionTimestamp = now +
 *     grace period) so its kubelet can stop the containers; the kubelet
 *     then deletes it with a grace period of 0;
 *   - an object with finalizers (its own, or "foregroundDeletion" /
 *     "orphan" added for the propagationPolicy) is marked and answered
 *     with 202; whoever owns each finalizer removes it, and the update that
 *     removes the last one deletes the object (handlers.c);
 *   - a namespace is marked Terminating until the namespace controller has
 *     emptied it and cleared spec.finalizers through /finalize.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/apiserver/encode.h"
#include "control/apiserver/handlers.h"
#include "control/apiserver/server.h"
#include "control/apiserver/services.h"
#include "control/apiserver/status.h"
#include "jsonx.h"
#include "ktime.h"

enum propagation { PROP_DEFAULT, PROP_BACKGROUND, PROP_FOREGROUND, PROP_ORPHAN };

static bool has_string(const json_t *arr, const char *s)
{
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	}
	return false;
}

static void add_finalizer(json_t *obj, const char *f)
{
	json_t *meta = obj_meta(obj), *fin = json_object_get(meta, "finalizers");

	if (!json_is_array(fin)) {
		fin = json_array();
		json_object_set_new(meta, "finalizers", fin);
	}
	if (!has_string(fin, f))
		json_array_append_new(fin, json_string(f));
}

static int parse_propagation(const json_t *opts, enum propagation *p, json_t **err)
{
	const char *pol = jsonx_str(opts, "propagationPolicy", NULL);
	json_t *orphan = json_object_get(opts, "orphanDependents");

	*p = PROP_DEFAULT;
	if (pol && orphan && !json_is_null(orphan)) {
		*err = status_failure(REASON_INVALID, NULL, NULL, NULL,
				      "DeleteOptions: orphanDependents and propagationPolicy cannot "
				      "be both set");
		return -1;
	}
	if (json_is_true(orphan))
		*p = PROP_ORPHAN;
	else if (json_is_false(orphan))
		*p = PROP_BACKGROUND;
	if (!pol)
		return 0;
	if (strcmp(pol, "Background") == 0)
		*p = PROP_BACKGROUND;
	else if (strcmp(pol, "Foreground") == 0)
		*p = PROP_FOREGROUND;
	else if (strcmp(pol, "Orphan") == 0)
		*p = PROP_ORPHAN;
	else {
		*err = status_failure(REASON_INVALID, NULL, NULL, NULL,
				      "DeleteOptions.propagationPolicy: Unsupported value: \"%s\": "
				      "supported values: \"Foreground\", \"Background\", \"Orphan\"",
				      pol);
		return -1;
	}
	return 0;
}

/* Grace period for a pod: options, then the pod's own, then 30 s; 0 when it never ran. */
static long long pod_grace(const json_t *pod, const json_t *opts)
{
	const char *phase = jsonx_path_str(pod, "status.phase", "");
	json_t *g = json_object_get(opts, "gracePeriodSeconds");

	if (!*jsonx_path_str(pod, "spec.nodeName", "") || strcmp(phase, "Succeeded") == 0 ||
	    strcmp(phase, "Failed") == 0)
		return 0;
	if (json_is_integer(g))
		return json_integer_value(g) < 0 ? 0 : json_integer_value(g);
	return jsonx_path_int(pod, "spec.terminationGracePeriodSeconds", 30);
}

static int check_preconditions(const json_t *cur, const json_t *opts, const struct resource *r,
			       const char *name, json_t **err)
{
	const json_t *pre = json_object_get(opts, "preconditions");
	const char *uid = jsonx_str(pre, "uid", NULL), *rv = jsonx_str(pre, "resourceVersion", NULL);
	const char *cur_uid = jsonx_path_str(cur, "metadata.uid", "");
	const char *cur_rv = jsonx_path_str(cur, "metadata.resourceVersion", "");

	if (uid && strcmp(uid, cur_uid) != 0) {
		*err = status_failure(REASON_CONFLICT, r, name, NULL,
				      "Precondition failed: UID in precondition: %s, UID in object "
				      "meta: %s",
				      uid, cur_uid);
		return -1;
	}
	if (rv && strcmp(rv, cur_rv) != 0) {
		*err = status_failure(REASON_CONFLICT, r, name, NULL,
				      "Precondition failed: ResourceVersion in precondition: %s, "
				      "ResourceVersion in object meta: %s",
				      rv, cur_rv);
		return -1;
	}
	return 0;
}

int delete_object(struct apiserver *s, const struct resource *r, const char *key,
		  const json_t *opts, bool dry, unsigned *status_out, json_t **out,
		  json_t **err_status)
{
	struct cache_obj *cur = cache_get(s->cache, key), *res = NULL;
	enum propagation prop;
	json_t *obj = NULL;
	char now[KTIME_BUFSZ];
	int err = 0;

	*out = NULL;
	*err_status = NULL;
	*status_out = 200;
	if (!cur)
		return -ENOENT;
	if (check_preconditions(cur->obj, opts, r, jsonx_path_str(cur->obj, "metadata.name", ""),
				err_status) < 0 ||
	    parse_propagation(opts, &prop, err_status) < 0) {
		err = -EINVAL;
		goto out;
	}
	obj = json_deep_copy(cur->obj);
	json_t *meta = obj_meta(obj);
	const json_t *dt = json_object_get(meta, "deletionTimestamp");
	bool marked = dt && !json_is_null(dt);

	if (prop == PROP_FOREGROUND)
		add_finalizer(obj, "foregroundDeletion");
	else if (prop == PROP_ORPHAN)
		add_finalizer(obj, "orphan");

	if (r->graceful_delete) {
		long long grace = pod_grace(cur->obj, opts);
		long long had = jsonx_int(meta, "deletionGracePeriodSeconds", -1);

		if (grace > 0 && (!marked || grace < had)) {
			ktime_format((int64_t)now_real_ns() + grace * 1000000000ll, now,
				     sizeof(now));
			json_object_set_new(meta, "deletionTimestamp", json_string(now));
			json_object_set_new(meta, "deletionGracePeriodSeconds",
					    json_integer(grace));
			goto write_marked;
		}
		if (grace > 0 && marked)
			goto unchanged;	/* already terminating with a shorter grace */
	}
	bool ns_wait = strcmp(r->kind, "Namespace") == 0 &&
		       json_array_size(jsonx_get_path(obj, "spec.finalizers")) > 0;
	if (json_array_size(json_object_get(meta, "finalizers")) > 0 || ns_wait) {
		if (!marked) {
			now_rfc3339(now, sizeof(now));
			json_object_set_new(meta, "deletionTimestamp", json_string(now));
			json_object_set_new(meta, "deletionGracePeriodSeconds", json_integer(0));
		}
		if (ns_wait)
			json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Terminating"));
		if (!ns_wait && (prop == PROP_FOREGROUND || prop == PROP_ORPHAN))
			*status_out = 202;
		goto write_marked;
	}

	/* Nothing waits: delete now, conditional on the state we looked at. */
	if (!dry) {
		err = store_delete(s->store, key, cur->rev, NULL, NULL);
		if (err)
			goto out;
		if (strcmp(r->kind, "Service") == 0)
			svc_release(s, cur->obj);
	}
	*out = json_incref(cur->obj);
	goto out;

write_marked:
	if (jsonx_equal(obj, cur->obj))
		goto unchanged;
	if (dry) {
		*out = json_incref(obj);
		goto out;
	}
	err = store_write_update(s, r, key, cur, obj, &res);
	if (!err)
		*out = res ? json_incref(res->obj) : json_incref(obj);
	goto out;
unchanged:
	*out = json_incref(cur->obj);
out:
	cache_obj_unref(res);
	cache_obj_unref(cur);
	json_decref(obj);
	return err;
}

/* DeleteOptions from the body (JSON or protobuf) and the query. NULL after replying. */
static json_t *delete_options(struct api_req *req)
{
	const char *grace = api_query(req, "gracePeriodSeconds");
	const char *pol = api_query(req, "propagationPolicy");
	const char *orphan = api_query(req, "orphanDependents");
	json_t *opts = NULL;

	if (req->body.len) {
		if (req_decode_body(req, &opts) < 0)
			return NULL;
		if (!json_is_object(opts)) {
			json_decref(opts);
			api_reply_status(req, status_failure(REASON_BAD_REQUEST, NULL, NULL, NULL,
							     "DeleteOptions must be a JSON object"));
			return NULL;
		}
	} else {
		opts = json_object();
	}
	if (grace && *grace) {
		char *end;
		long long g = strtoll(grace, &end, 10);

		if (*end) {
			json_decref(opts);
			api_reply_status(req, status_failure(REASON_BAD_REQUEST, NULL, NULL, NULL,
							     "invalid gracePeriodSeconds: %s",
							     grace));
			return NULL;
		}
		json_object_set_new(opts, "gracePeriodSeconds", json_integer(g));
	}
	if (pol && *pol)
		json_object_set_new(opts, "propagationPolicy", json_string(pol));
	if (orphan && *orphan)
		json_object_set_new(opts, "orphanDependents",
				    json_boolean(strcmp(orphan, "true") == 0));
	return opts;
}

static bool opts_dry_run(struct api_req *req, const json_t *opts, bool *dry)
{
	json_t *d = json_object_get(opts, "dryRun"), *v;
	size_t i;

	if (req_dry_run(req, dry) < 0)
		return false;
	json_array_foreach(d, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), "All") == 0)
			*dry = true;
	}
	return true;
}

void handle_delete(struct api_req *req, const struct resource *r)
{
	struct out_format fmt;
	json_t *opts = delete_options(req), *out = NULL, *err_status = NULL;
	unsigned status;
	char key[600];
	bool dry;
	int err;

	if (!opts || !opts_dry_run(req, opts, &dry))
		goto done;
	req_key(req, r, key, sizeof(key));
	for (int attempt = 0; attempt < 5; attempt++) {
		err = delete_object(req->srv, r, key, opts, dry, &status, &out, &err_status);
		if (err != -ESTALE)
			break;	/* -ESTALE: changed under us, look again */
	}
	if (err_status)
		api_reply_status(req, err_status);
	else if (err)
		api_reply_status(req, status_from_errno(err, r, req->route.name));
	else {
		encode_format(req, &fmt);
		fmt.table = false;
		encode_json_object(req, status, r, out, &fmt);
	}
done:
	json_decref(out);
	json_decref(opts);
}

void handle_delete_collection(struct api_req *req, const struct resource *r)
{
	json_t *opts = delete_options(req);
	struct list_filter f;
	struct cache_list l;
	char prefix[600];
	bool dry;

	if (!opts || !opts_dry_run(req, opts, &dry) || list_filter_init(req, r, &f) < 0) {
		json_decref(opts);
		return;
	}
	registry_key(r, req->route.ns, NULL, prefix, sizeof(prefix));
	cache_list(req->srv->cache, prefix, NULL, 0, NULL, NULL, &l);
	for (size_t i = 0; i < l.n; i++) {
		json_t *out = NULL, *err_status = NULL;
		unsigned status;

		if (!list_filter_match(&f, l.items[i]->obj))
			continue;
		for (int attempt = 0; attempt < 5; attempt++) {
			int err = delete_object(req->srv, r, l.items[i]->key, opts, dry, &status,
						&out, &err_status);

			if (err != -ESTALE)
				break;
		}
		json_decref(out);
		json_decref(err_status);
	}
	cache_list_release(&l);
	list_filter_free(&f);
	json_decref(opts);
	api_reply_json(req, 200, status_success(r, NULL, NULL));
}

/* PUT namespaces/NAME/finalize: only spec.finalizers changes. */
static int build_finalize(struct api_req *req, void *ctx, const json_t *cur, json_t **want)
{
	json_t *body = ctx, *fin = jsonx_get_path(body, "spec.finalizers");
	json_t *next = json_deep_copy(cur);
	json_t *spec = json_object_get(next, "spec");

	if (!json_is_object(spec)) {
		spec = json_object();
		json_object_set_new(next, "spec", spec);
	}
	if (json_is_array(fin))
		json_object_set(spec, "finalizers", fin);
	else
		json_object_del(spec, "finalizers");
	if (*obj_rv(body))
		json_object_set_new(obj_meta(next), "resourceVersion", json_string(obj_rv(body)));
	*want = next;
	return 0;
}

void handle_finalize(struct api_req *req, const struct resource *r)
{
	json_t *body;

	if (strcmp(req->method, "PUT") != 0) {
		api_reply_status(req, status_failure(REASON_METHOD_NOT_ALLOWED, NULL, NULL, NULL,
						     "finalize supports PUT only"));
		return;
	}
	if (req_decode_object(req, r, NULL, NULL, &body) < 0)
		return;
	do_update(req, r, "", build_finalize, body, true);
	json_decref(body);
}
