/*
 * namespace.c - the namespace controller: empties a Terminating namespace
 * and then releases it.
 *
 * A namespace with a deletionTimestamp and the "kubernetes" finalizer in
 * spec.finalizers is handled in passes. A pass discovers the namespaced
 * resources (nsc_content.c; cached for NSC_DISCOVERY_TTL_S), lists each
 * one in the namespace, deletes the collection where anything is left
 * (propagationPolicy Background, as upstream), lists again, and reports in
 * status.conditions what remains. While anything remains (pods finishing
 * their grace period, objects waiting on finalizers) the namespace is
 * looked at again when something in it is deleted (any resource the
 * controller manager knows), and at the latest after nsc_requeue_seconds.
 * When nothing remains,
 * PUT namespaces/<name>/finalize drops "kubernetes" from spec.finalizers,
 * and the API server deletes the namespace once no finalizer is left.
 *
 * Lists go to the API server, not to informer caches: the controller
 * manager only watches the resources its controllers need, and the answer
 * "is it empty" must be current.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "control/controllers/controllers.h"
#include "control/controllers/ctrl.h"
#include "control/controllers/nsc_content.h"
#include "control/controllers/podutil.h"
#include "jsonx.h"
#include "ktime.h"
#include "log.h"
#include "util.h"

#define NSC_DISCOVERY_TTL_S 30

struct nsc_ctrl {
	struct cm *cm;
	struct workqueue *q;
	struct cm_workers *workers;
	pthread_mutex_t lock; /* guards the discovery cache */
	json_t *resources;    /* from nsc_resources_from_discovery, or NULL */
	uint64_t discovered_ns;
};

static void ns_on_add(void *ctx, const json_t *ns)
{
	struct nsc_ctrl *c = ctx;

	if (cm_is_deleting(ns))
		wq_add(c->q, jsonx_path_str(ns, "metadata.name", ""));
}

static void ns_on_update(void *ctx, const json_t *old_ns, const json_t *new_ns)
{
	(void)old_ns;
	ns_on_add(ctx, new_ns);
}

/*
 * Something in a Terminating namespace went away: look again now rather
 * than at the next estimate, so a namespace is released as soon as its
 * last pod has finished or its last finalizer was removed.
 */
static void content_on_delete(void *ctx, const json_t *obj)
{
	struct nsc_ctrl *c = ctx;
	const char *name = jsonx_path_str(obj, "metadata.namespace", "");
	json_t *ns = *name ? cm_get(c->cm, CM_NAMESPACES, NULL, name) : NULL;

	if (cm_is_deleting(ns))
		wq_add(c->q, name);
	json_decref(ns);
}

/* GET path into *out (200 only). 0 or the status / -errno as a negative code. */
static int get_json(struct nsc_ctrl *c, const char *path, json_t **out)
{
	int rc = cm_request(c->cm, "GET", path, NULL, out);

	if (rc == 200)
		return 0;
	json_decref(*out);
	*out = NULL;
	return rc < 0 ? rc : -EIO;
}

/*
 * The namespaced resources, from discovery (cached). A new reference, or
 * NULL with the failing group versions in *why (to free).
 */
static json_t *discover(struct nsc_ctrl *c, char **why)
{
	json_t *lists = json_array(), *doc = NULL, *groups = NULL, *g, *v, *res;
	struct buf fail = { 0 };
	size_t i, j;

	*why = NULL;
	pthread_mutex_lock(&c->lock);
	if (c->resources &&
	    now_mono_ns() - c->discovered_ns < NSC_DISCOVERY_TTL_S * 1000000000ull) {
		res = json_incref(c->resources);
		pthread_mutex_unlock(&c->lock);
		json_decref(lists);
		return res;
	}
	pthread_mutex_unlock(&c->lock);

	if (get_json(c, "/api/v1", &doc) == 0)
		json_array_append_new(lists, doc);
	else
		buf_appendf(&fail, "v1 ");
	if (get_json(c, "/apis", &groups) < 0)
		buf_appendf(&fail, "/apis ");
	json_array_foreach(jsonx_arr(groups, "groups"), i, g) {
		/* The preferred version first: it wins where versions overlap. */
		const char *pref = jsonx_path_str(g, "preferredVersion.groupVersion", "");
		char *path;

		if (*pref) {
			path = xasprintf("/apis/%s", pref);
			if (get_json(c, path, &doc) == 0)
				json_array_append_new(lists, doc);
			else
				buf_appendf(&fail, "%s ", pref);
			free(path);
		}
		json_array_foreach(jsonx_arr(g, "versions"), j, v) {
			const char *gv = jsonx_str(v, "groupVersion", "");

			if (!*gv || strcmp(gv, pref) == 0)
				continue;
			path = xasprintf("/apis/%s", gv);
			if (get_json(c, path, &doc) == 0)
				json_array_append_new(lists, doc);
			else
				buf_appendf(&fail, "%s ", gv);
			free(path);
		}
	}
	json_decref(groups);
	res = nsc_resources_from_discovery(lists);
	json_decref(lists);
	if (fail.len) {
		*why = fail.data;
		return res; /* partial: delete what we know of, but do not finalize */
	}
	buf_free(&fail);
	pthread_mutex_lock(&c->lock);
	json_decref(c->resources);
	c->resources = json_incref(res);
	c->discovered_ns = now_mono_ns();
	pthread_mutex_unlock(&c->lock);
	return res;
}

/* "pods" or "deployments.apps", as upstream's GroupResource prints. */
static char *group_resource(const json_t *r)
{
	const char *g = jsonx_str(r, "group", "");

	return *g ? xasprintf("%s.%s", jsonx_str(r, "resource", ""), g)
		  : xstrdup(jsonx_str(r, "resource", ""));
}

static void count(json_t *counts, const char *key)
{
	json_object_set_new(counts, key, json_integer(jsonx_int(counts, key, 0) + 1));
}

struct pass {
	json_t *remaining;  /* group resource -> count */
	json_t *finalizers; /* finalizer -> count */
	json_t *pods;	    /* remaining pods (for the wait estimate) */
	struct buf errors;
};

/* Empty one resource of namespace ns; note what is left in p. */
static void empty_resource(struct nsc_ctrl *c, const char *ns, const json_t *r, struct pass *p)
{
	char *path = xasprintf("%s/namespaces/%s/%s", jsonx_str(r, "prefix", ""), ns,
			       jsonx_str(r, "resource", ""));
	char *gr = group_resource(r);
	json_t *list = NULL, *opts, *item, *f;
	size_t i, j;
	int rc;

	if (get_json(c, path, &list) < 0) {
		buf_appendf(&p->errors, "%s%s: list failed", p->errors.len ? ", " : "", gr);
		goto out;
	}
	if (json_array_size(jsonx_arr(list, "items"))) {
		opts = json_pack("{s:s, s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1",
				 "propagationPolicy", "Background");
		rc = cm_request(c->cm, "DELETE", path, opts, NULL);
		json_decref(opts);
		if (rc != 200 && rc != 404)
			buf_appendf(&p->errors, "%s%s: delete answered %d",
				    p->errors.len ? ", " : "", gr, rc);
		json_decref(list);
		list = NULL;
		if (get_json(c, path, &list) < 0) {
			buf_appendf(&p->errors, "%s%s: list failed", p->errors.len ? ", " : "", gr);
			goto out;
		}
	}
	json_array_foreach(jsonx_arr(list, "items"), i, item) {
		count(p->remaining, gr);
		json_array_foreach(jsonx_get_path(item, "metadata.finalizers"), j, f)
			if (json_is_string(f))
				count(p->finalizers, json_string_value(f));
		if (strcmp(gr, "pods") == 0)
			json_array_append(p->pods, item);
	}
out:
	json_decref(list);
	free(gr);
	free(path);
}

/* Write the conditions when they change; returns the namespace as it now is (new reference). */
static json_t *report(struct nsc_ctrl *c, json_t *ns, const struct nsc_report *r)
{
	char now[KTIME_BUFSZ];
	json_t *conds, *put, *out = NULL;
	int rc;

	ktime_format((int64_t)now_real_ns(), now, sizeof(now));
	conds = nsc_conditions(ns, r, now);
	if (!conds)
		return json_incref(ns);
	put = json_deep_copy(ns);
	jsonx_set_path(put, "status.conditions", conds);
	rc = cm_update(c->cm, CM_NAMESPACES, put, "status", &out);
	json_decref(put);
	if (rc == 200 && json_is_object(out))
		return out;
	log_debug("namespace %s: status: %d", jsonx_path_str(ns, "metadata.name", ""), rc);
	json_decref(out);
	return json_incref(ns);
}

static int sync_ns(void *ctx, const char *name)
{
	struct nsc_ctrl *c = ctx;
	json_t *ns = cm_get(c->cm, CM_NAMESPACES, NULL, name), *res = NULL, *body, *r;
	struct pass p = { .remaining = json_object(),
			  .finalizers = json_object(),
			  .pods = json_array() };
	struct nsc_report rep = { 0 };
	char *why = NULL, *path;
	size_t i;
	int rc = 0;

	if (!ns || !cm_is_deleting(ns) || !(body = nsc_finalize_body(ns)))
		goto out; /* not ours (yet, or any more) */
	json_decref(body);
	res = discover(c, &why);
	json_array_foreach(res, i, r)
		empty_resource(c, name, r, &p);
	rep = (struct nsc_report){ .discovery_error = why,
				   .content_error = p.errors.len ? p.errors.data : NULL,
				   .remaining = p.remaining,
				   .finalizers = p.finalizers };
	/* The finalize below is pinned to the resourceVersion this write answers. */
	body = report(c, ns, &rep);
	json_decref(ns);
	ns = body;
	if (why || p.errors.len) {
		log_warn("namespace %s: %s%s", name, why ? "discovery failed: " : "",
			 why ? why : p.errors.data);
		rc = -EIO;
		goto out;
	}
	if (json_object_size(p.remaining)) {
		long long s = nsc_requeue_seconds(p.pods, (int64_t)now_real_ns());

		log_debug("namespace %s: content remains, again in %lld s", name, s);
		wq_add_after(c->q, name, (unsigned)(s * 1000));
		goto out;
	}
	/* Empty: let the namespace go. */
	body = nsc_finalize_body(ns);
	path = xasprintf("/api/v1/namespaces/%s/finalize", name);
	rc = cm_request(c->cm, "PUT", path, body, NULL);
	free(path);
	json_decref(body);
	if (rc == 200 || rc == 404) {
		log_info("namespace %s: empty, finalized", name);
		rc = 0;
	} else {
		log_debug("namespace %s: finalize answered %d", name, rc);
		rc = -EIO; /* 409: changed meanwhile, look again */
	}
out:
	free(why);
	buf_free(&p.errors);
	json_decref(p.remaining);
	json_decref(p.finalizers);
	json_decref(p.pods);
	json_decref(res);
	json_decref(ns);
	return rc;
}

static int nsc_init(struct cm *cm, void **state)
{
	static const struct informer_handlers ns_h = { ns_on_add, ns_on_update, NULL };
	static const struct informer_handlers content_h = { NULL, NULL, content_on_delete };
	struct nsc_ctrl *c = xcalloc(1, sizeof(*c));

	c->cm = cm;
	c->q = wq_new("namespace", 0, 0);
	pthread_mutex_init(&c->lock, NULL);
	cm_watch(cm, CM_NAMESPACES, &ns_h, c);
	for (int r = 0; r < CM__RESOURCES; r++)
		if (r != CM_NAMESPACES && r != CM_NODES && r != CM_EVENTS)
			cm_watch(cm, (enum cm_resource)r, &content_h, c);
	*state = c;
	return 0;
}

static int nsc_start(struct cm *cm, void *state)
{
	struct nsc_ctrl *c = state;

	c->workers = cm_workers_start("namespace", c->q, cm_config(cm)->workers, sync_ns, c);
	return c->workers ? 0 : -EAGAIN;
}

static void nsc_stop(struct cm *cm, void *state)
{
	struct nsc_ctrl *c = state;

	(void)cm;
	if (!c)
		return;
	cm_workers_stop(c->workers);
	wq_free(c->q);
	json_decref(c->resources);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

const struct controller namespace_controller = {
	.name = "namespace",
	.init = nsc_init,
	.start = nsc_start,
	.stop = nsc_stop,
};
