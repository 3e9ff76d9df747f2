/* test_cm_fake.c - see test_cm_fake.h. */
#include "test_cm_fake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/apiserver/patch.h"
#include "jsonx.h"
#include "ktime.h"
#include "util.h"

static const char *plural(enum cm_resource r)
{
	const char *p = cm_resource_path(r);

	return strrchr(p, '/') + 1;
}

static void record(struct cm_fake *f, const char *verb, enum cm_resource r, const char *ns,
		   const char *name, const char *sub)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s %s %s%s%s%s%s", verb, plural(r), ns ? ns : "",
		 ns && *ns ? "/" : "", name ? name : "", sub && *sub ? "/" : "", sub ? sub : "");
	json_array_append_new(f->calls, json_string(buf));
}

static void key_of(const char *ns, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", ns ? ns : "", name ? name : "");
}

static bool is_apps(enum cm_resource r)
{
	return r == CM_DEPLOYMENTS || r == CM_REPLICASETS || r == CM_DAEMONSETS;
}

static void stamp(struct cm_fake *f, enum cm_resource r, json_t *obj)
{
	json_t *md = json_object_get(obj, "metadata");
	char ts[KTIME_BUFSZ], buf[64];

	f->seq++;
	if (!jsonx_str(md, "uid", NULL)) {
		snprintf(buf, sizeof(buf), "uid-%ld", f->seq);
		json_object_set_new(md, "uid", json_string(buf));
	}
	if (!jsonx_str(md, "creationTimestamp", NULL)) {
		ktime_format(f->clock, ts, sizeof(ts));
		json_object_set_new(md, "creationTimestamp", json_string(ts));
		f->clock += 1000000000ll;
	}
	if (is_apps(r) && !jsonx_int(md, "generation", 0))
		json_object_set_new(md, "generation", json_integer(1));
	snprintf(buf, sizeof(buf), "%ld", f->seq);
	json_object_set_new(md, "resourceVersion", json_string(buf));
	if (!json_object_get(obj, "kind"))
		json_object_set_new(obj, "kind", json_string(cm_resource_kind(r)));
	if (!json_object_get(obj, "apiVersion"))
		json_object_set_new(obj, "apiVersion", json_string(cm_resource_api_version(r)));
}

static json_t *status_obj(int code, const char *msg)
{
	return json_pack("{s:s,s:s,s:i,s:s}", "kind", "Status", "status", "Failure", "code", code,
			 "message", msg);
}

static int f_create(void *ctx, enum cm_resource r, const json_t *obj, json_t **out)
{
	struct cm_fake *f = ctx;
	json_t *o = json_deep_copy(obj), *md;
	const char *ns, *name;
	char key[512], buf[300];
	int rc = 201;

	if (out)
		*out = NULL;
	pthread_mutex_lock(&f->lock);
	md = json_object_get(o, "metadata");
	if (!jsonx_str(md, "name", NULL) && jsonx_str(md, "generateName", NULL)) {
		snprintf(buf, sizeof(buf), "%sx%ld", jsonx_str(md, "generateName", ""), f->seq + 1);
		json_object_set_new(md, "name", json_string(buf));
	}
	ns = jsonx_str(md, "namespace", "");
	name = jsonx_str(md, "name", "");
	record(f, "POST", r, ns, name, NULL);
	key_of(ns, name, key, sizeof(key));
	if (f->fail_create && f->creates_before_failing-- <= 0) {
		rc = f->fail_create;
		if (out)
			*out = status_obj(rc, "injected failure");
	} else if (json_object_get(f->objs[r], key)) {
		rc = 409;
		if (out)
			*out = status_obj(rc, "already exists");
	} else {
		json_object_del(o, "status");
		stamp(f, r, o);
		json_object_set(f->objs[r], key, o);
		if (out)
			*out = json_deep_copy(o);
	}
	pthread_mutex_unlock(&f->lock);
	json_decref(o);
	return rc;
}

static int f_update(void *ctx, enum cm_resource r, const json_t *obj, const char *sub, json_t **out)
{
	struct cm_fake *f = ctx;
	const char *ns = jsonx_path_str(obj, "metadata.namespace", "");
	const char *name = jsonx_path_str(obj, "metadata.name", "");
	bool status = sub && strcmp(sub, "status") == 0;
	char key[512];
	json_t *cur, *o;
	int rc = 200;

	if (out)
		*out = NULL;
	pthread_mutex_lock(&f->lock);
	record(f, "PUT", r, ns, name, sub);
	key_of(ns, name, key, sizeof(key));
	cur = json_object_get(f->objs[r], key);
	if ((status && f->fail_status) || (!status && f->fail_update)) {
		rc = status ? f->fail_status : f->fail_update;
		goto out;
	}
	if (!cur) {
		rc = 404;
		goto out;
	}
	if (jsonx_path_str(obj, "metadata.resourceVersion", NULL) &&
	    strcmp(jsonx_path_str(obj, "metadata.resourceVersion", ""),
		   jsonx_path_str(cur, "metadata.resourceVersion", "")) != 0) {
		rc = 409;
		goto out;
	}
	if (status) {
		o = json_deep_copy(cur);
		json_object_set_new(o, "status", json_deep_copy(jsonx_obj(obj, "status")));
	} else {
		o = json_deep_copy(obj);
		json_object_set_new(o, "status", json_deep_copy(jsonx_obj(cur, "status")));
		long long gen = jsonx_path_int(cur, "metadata.generation", 0);

		if (is_apps(r) && !jsonx_equal(jsonx_obj(obj, "spec"), jsonx_obj(cur, "spec")))
			gen++;
		json_object_set_new(json_object_get(o, "metadata"), "generation",
				    json_integer(gen));
	}
	if (!jsonx_obj(o, "status"))
		json_object_del(o, "status");
	stamp(f, r, o);
	json_object_set_new(f->objs[r], key, o);
	if (out)
		*out = json_deep_copy(o);
out:
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int f_patch(void *ctx, enum cm_resource r, const char *ns, const char *name, const char *sub,
		   const char *type, const json_t *patch, json_t **out)
{
	struct cm_fake *f = ctx;
	char key[512], err[256];
	json_t *cur, *o = NULL;
	int rc = 200, prc;

	if (out)
		*out = NULL;
	pthread_mutex_lock(&f->lock);
	record(f, "PATCH", r, ns, name, sub);
	key_of(ns, name, key, sizeof(key));
	cur = json_object_get(f->objs[r], key);
	if (!cur) {
		rc = 404;
		goto out;
	}
	if (strcmp(type, "merge") == 0)
		prc = patch_merge(cur, patch, &o, err, sizeof(err));
	else if (strcmp(type, "strategic") == 0)
		prc = patch_strategic(cm_resource_kind(r), cur, patch, &o, err, sizeof(err));
	else
		prc = patch_json(cur, patch, &o, err, sizeof(err));
	if (prc < 0) {
		rc = 422;
		goto out;
	}
	if (!sub || strcmp(sub, "status") != 0) {
		if (is_apps(r) && !jsonx_equal(jsonx_obj(o, "spec"), jsonx_obj(cur, "spec")))
			json_object_set_new(
				json_object_get(o, "metadata"), "generation",
				json_integer(jsonx_path_int(cur, "metadata.generation", 0) + 1));
	}
	stamp(f, r, o);
	json_object_set(f->objs[r], key, o);
	if (out)
		*out = json_deep_copy(o);
out:
	json_decref(o);
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int f_del(void *ctx, enum cm_resource r, const char *ns, const char *name,
		 const json_t *opts, json_t **out)
{
	struct cm_fake *f = ctx;
	char key[512];
	int rc = 200;

	if (out)
		*out = NULL;
	pthread_mutex_lock(&f->lock);
	record(f, "DELETE", r, ns, name, NULL);
	key_of(ns, name, key, sizeof(key));
	if (f->fail_delete)
		rc = f->fail_delete;
	else if (json_object_del(f->objs[r], key) != 0)
		rc = 404;
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static void f_event(void *ctx, const char *component, const json_t *obj, const char *type,
		    const char *reason, const char *message)
{
	struct cm_fake *f = ctx;

	pthread_mutex_lock(&f->lock);
	json_array_append_new(f->events, json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", type, "reason",
						   reason, "message", message, "name",
						   jsonx_path_str(obj, "metadata.name", ""), "kind",
						   jsonx_str(obj, "kind", "")));
	pthread_mutex_unlock(&f->lock);
}

void cm_fake_init(struct cm_fake *f, const char *component)
{
	memset(f, 0, sizeof(*f));
	f->api = (struct cm_api){ .create = f_create,
				  .update = f_update,
				  .patch = f_patch,
				  .del = f_del,
				  .event = f_event,
				  .ctx = f,
				  .component = component };
	pthread_mutex_init(&f->lock, NULL);
	for (int r = 0; r < CM__RESOURCES; r++)
		f->objs[r] = json_object();
	f->calls = json_array();
	f->events = json_array();
	/* 2026-01-01T00:00:00Z */
	f->clock = 1767225600ll * 1000000000ll;
}

void cm_fake_free(struct cm_fake *f)
{
	for (int r = 0; r < CM__RESOURCES; r++)
		json_decref(f->objs[r]);
	json_decref(f->calls);
	json_decref(f->events);
	pthread_mutex_destroy(&f->lock);
}

void cm_fake_put(struct cm_fake *f, enum cm_resource r, json_t *obj)
{
	char key[512];

	pthread_mutex_lock(&f->lock);
	stamp(f, r, obj);
	key_of(jsonx_path_str(obj, "metadata.namespace", ""),
	       jsonx_path_str(obj, "metadata.name", ""), key, sizeof(key));
	json_object_set_new(f->objs[r], key, obj);
	pthread_mutex_unlock(&f->lock);
}

json_t *cm_fake_get(struct cm_fake *f, enum cm_resource r, const char *ns, const char *name)
{
	char key[512];

	key_of(ns, name, key, sizeof(key));
	return json_object_get(f->objs[r], key);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(jsonx_path_str(*(json_t *const *)a, "metadata.name", ""),
		      jsonx_path_str(*(json_t *const *)b, "metadata.name", ""));
}

json_t *cm_fake_list(struct cm_fake *f, enum cm_resource r)
{
	size_t n = json_object_size(f->objs[r]), i = 0;
	json_t **v = xcalloc(n ? n : 1, sizeof(*v)), *out = json_array(), *o;
	const char *k;

	json_object_foreach(f->objs[r], k, o)
		v[i++] = o;
	qsort(v, n, sizeof(*v), by_name);
	for (i = 0; i < n; i++)
		json_array_append_new(out, json_deep_copy(v[i]));
	free(v);
	return out;
}

size_t cm_fake_count(struct cm_fake *f, enum cm_resource r)
{
	return json_object_size(f->objs[r]);
}

int cm_fake_calls(struct cm_fake *f, const char *prefix)
{
	json_t *c;
	size_t i;
	int n = 0;

	json_array_foreach(f->calls, i, c) {
		if (strncmp(json_string_value(c), prefix, strlen(prefix)) == 0)
			n++;
	}
	return n;
}

int cm_fake_events(struct cm_fake *f, const char *reason)
{
	json_t *e;
	size_t i;
	int n = 0;

	json_array_foreach(f->events, i, e) {
		if (strcmp(jsonx_str(e, "reason", ""), reason) == 0)
			n++;
	}
	return n;
}

const char *cm_fake_event_message(struct cm_fake *f, const char *reason)
{
	const char *m = NULL;
	json_t *e;
	size_t i;

	json_array_foreach(f->events, i, e) {
		if (strcmp(jsonx_str(e, "reason", ""), reason) == 0)
			m = jsonx_str(e, "message", NULL);
	}
	return m;
}

void cm_fake_reset_log(struct cm_fake *f)
{
	json_array_clear(f->calls);
	json_array_clear(f->events);
}
