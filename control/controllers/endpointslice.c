/*
 * endpointslice.c - the EndpointSlice controller (and the legacy Endpoints
 * one): keeps each selector Service's EndpointSlices and its Endpoints in
 * line with its pods. What to write is computed in eps_compute.c; this
 * file feeds it and applies the plan.
 *
 * Latency is the point: these objects feed capstan-agent's datapath, so a
 * pod turning unready must leave the ready set in milliseconds. Pod events
 * enqueue the Services that select the pod (old and new labels) straight
 * away, filtered to the changes that matter (eps_pod_changed), and a worker
 * syncs at once: no batching period, no periodic resync.
 *
 * Stale caches. After a write the informer shows the result a moment later.
 * A second sync in that window would see the old slices and write again
 * (create a duplicate, or fail on a stale resourceVersion). So every write
 * records what the cache must show before the Service may be synced again
 * (the slice with at least the resourceVersion answered, or its absence);
 * a sync that finds the cache behind re-queues itself a few milliseconds
 * later instead of acting. Upstream keeps the same kind of tracker. An
 * expectation older than EPS_EXPECT_TTL_MS is dropped, so an object deleted
 * behind our back cannot block a Service for ever.
 *
 * Slices are not deleted with their Service: they are owned by it, and the
 * garbage collector removes them (as upstream). The Endpoints object, which
 * has no owner, is deleted here.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "control/controllers/controllers.h"
#include "control/controllers/ctrl.h"
#include "control/controllers/eps_compute.h"
#include "jsonx.h"
#include "log.h"
#include "selector.h"
#include "util.h"

#define EPS_EXPECT_TTL_MS 5000
#define EPS_STALE_RETRY_MS 5

struct eps_ctrl {
	struct cm *cm;
	struct workqueue *q;
	struct cm_workers *workers;
	pthread_mutex_t lock; /* guards expect */
	/* service key -> {"at": mono ns, "s/<slice>": rv | null, "e": rv | null} */
	json_t *expect;
};

/* ---------------------------------------------------------------- handlers */

static void enqueue_obj(struct eps_ctrl *c, const json_t *obj)
{
	char key[512];

	if (informer_key(obj, key, sizeof(key)) == 0)
		wq_add(c->q, key);
}

static void svc_on_add(void *ctx, const json_t *obj)
{
	enqueue_obj(ctx, obj);
}

static void svc_on_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
	(void)old_obj;
	enqueue_obj(ctx, new_obj);
}

/* Enqueue every Service of the pod's namespace whose selector matches labels. */
static void enqueue_selecting(struct eps_ctrl *c, const json_t *pod, const json_t *labels,
			      json_t *done)
{
	const char *ns = jsonx_path_str(pod, "metadata.namespace", "");
	json_t *svcs = cm_list(c->cm, CM_SERVICES, ns, NULL), *svc;
	size_t i;

	json_array_foreach(svcs, i, svc) {
		const char *name = jsonx_path_str(svc, "metadata.name", "");
		struct selector *sel = NULL;

		if (!eps_service_managed(svc) || json_object_get(done, name))
			continue;
		if (selector_from_map(jsonx_get_path(svc, "spec.selector"), &sel, NULL, 0) == 0 &&
		    selector_matches(sel, labels)) {
			json_object_set_new(done, name, json_true());
			enqueue_obj(c, svc);
		}
		selector_free(sel);
	}
	json_decref(svcs);
}

static void pod_on_add(void *ctx, const json_t *pod)
{
	json_t *done = json_object();

	enqueue_selecting(ctx, pod, jsonx_get_path(pod, "metadata.labels"), done);
	json_decref(done);
}

static void pod_on_update(void *ctx, const json_t *old_pod, const json_t *new_pod)
{
	json_t *done;

	if (!eps_pod_changed(old_pod, new_pod))
		return;
	done = json_object();
	enqueue_selecting(ctx, new_pod, jsonx_get_path(new_pod, "metadata.labels"), done);
	enqueue_selecting(ctx, old_pod, jsonx_get_path(old_pod, "metadata.labels"), done);
	json_decref(done);
}

static void slice_changed(struct eps_ctrl *c, const json_t *slice)
{
	const char *svc =
		json_string_value(jsonx_getv(slice, "metadata", "labels", EPS_LABEL_SERVICE, NULL));
	const char *by = json_string_value(
		jsonx_getv(slice, "metadata", "labels", EPS_LABEL_MANAGED_BY, NULL));
	char *key;

	if (!svc || !by || strcmp(by, EPS_MANAGED_BY) != 0)
		return;
	key = xasprintf("%s/%s", jsonx_path_str(slice, "metadata.namespace", ""), svc);
	wq_add(c->q, key);
	free(key);
}

static void slice_on_add(void *ctx, const json_t *obj)
{
	slice_changed(ctx, obj);
}

static void slice_on_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
	(void)old_obj;
	slice_changed(ctx, new_obj);
}

/* An Endpoints object deleted behind our back is written again. */
static void endpoints_on_delete(void *ctx, const json_t *obj)
{
	enqueue_obj(ctx, obj);
}

/* A node's zone is in its endpoints: a zone change resyncs every Service. */
static void node_on_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
	struct eps_ctrl *c = ctx;
	json_t *svcs, *svc;
	size_t i;

	if (jsonx_equal(jsonx_getv(old_obj, "metadata", "labels", EPS_LABEL_ZONE, NULL),
			jsonx_getv(new_obj, "metadata", "labels", EPS_LABEL_ZONE, NULL)))
		return;
	svcs = cm_list(c->cm, CM_SERVICES, NULL, NULL);
	json_array_foreach(svcs, i, svc)
		enqueue_obj(c, svc);
	json_decref(svcs);
}

/* ---------------------------------------------------------------- expectations */

/*
 * True when the cache holds at least what we wrote. resourceVersions are
 * opaque to clients in general; capstan's are the store's revision, so a
 * numeric comparison is exact here, and anything else must simply match.
 */
static bool rv_reached(const char *have, const char *want)
{
	char *e1, *e2;
	unsigned long long h = strtoull(have, &e1, 10), w = strtoull(want, &e2, 10);

	if (*have && *want && !*e1 && !*e2)
		return h >= w;
	return strcmp(have, want) == 0;
}

static bool cache_shows(struct eps_ctrl *c, const char *ns, const char *svc, const char *what,
			const json_t *want)
{
	json_t *obj = strcmp(what, "e") == 0 ? cm_get(c->cm, CM_ENDPOINTS, ns, svc)
					     : cm_get(c->cm, CM_ENDPOINTSLICES, ns, what + 2);
	bool ok;

	if (json_is_null(want))
		ok = obj == NULL;
	else
		ok = obj && rv_reached(jsonx_path_str(obj, "metadata.resourceVersion", ""),
				       json_string_value(want));
	json_decref(obj);
	return ok;
}

/* True when the cache still lags behind our last writes for key. */
static bool cache_stale(struct eps_ctrl *c, const char *key, const char *ns, const char *svc)
{
	json_t *exp, *v;
	const char *what;
	bool stale = false;

	pthread_mutex_lock(&c->lock);
	exp = json_incref(json_object_get(c->expect, key));
	pthread_mutex_unlock(&c->lock);
	if (!exp)
		return false;
	if ((long long)now_mono_ns() - jsonx_int(exp, "at", 0) < EPS_EXPECT_TTL_MS * 1000000ll) {
		json_object_foreach(exp, what, v) {
			if (strcmp(what, "at") != 0 && !cache_shows(c, ns, svc, what, v)) {
				stale = true;
				break;
			}
		}
	}
	if (!stale) {
		pthread_mutex_lock(&c->lock);
		if (json_object_get(c->expect, key) == exp)
			json_object_del(c->expect, key);
		pthread_mutex_unlock(&c->lock);
	}
	json_decref(exp);
	return stale;
}

static void expect(json_t *exp, const char *what, const json_t *answer)
{
	const char *rv = jsonx_path_str(answer, "metadata.resourceVersion", NULL);

	json_object_set_new(exp, what, answer && rv ? json_string(rv) : json_null());
}

/* ---------------------------------------------------------------- sync */

static const char *zone_of(void *ctx, const char *node, char *buf, size_t len)
{
	json_t *n = cm_get(ctx, CM_NODES, NULL, node);
	const char *z =
		json_string_value(jsonx_getv(n, "metadata", "labels", EPS_LABEL_ZONE, NULL));

	if (z)
		snprintf(buf, len, "%s", z);
	json_decref(n);
	return z ? buf : NULL;
}

static bool ok_status(int rc)
{
	return rc >= 200 && rc < 300;
}

/* Apply the slice plan: creates first, then updates, then deletes, as upstream does. */
static int apply_slices(struct eps_ctrl *c, const struct eps_plan *p, json_t *exp)
{
	json_t *s, *out;
	size_t i;
	int rc, err = 0;

	json_array_foreach(p->create, i, s) {
		rc = cm_create(c->cm, CM_ENDPOINTSLICES, s, &out);
		if (rc == 201) {
			char *what = xasprintf("s/%s", jsonx_path_str(out, "metadata.name", ""));

			expect(exp, what, out);
			free(what);
		} else {
			log_warn("create endpointslice for %s/%s: %d",
				 jsonx_path_str(s, "metadata.namespace", ""),
				 jsonx_path_str(s, "metadata.generateName", ""), rc);
			err = -EIO;
		}
		json_decref(out);
	}
	json_array_foreach(p->update, i, s) {
		char *what = xasprintf("s/%s", jsonx_path_str(s, "metadata.name", ""));

		rc = cm_update(c->cm, CM_ENDPOINTSLICES, s, "", &out);
		if (rc == 200)
			expect(exp, what, out);
		else
			err = -EIO; /* 409: our cache was behind someone else's write */
		free(what);
		json_decref(out);
	}
	json_array_foreach(p->remove, i, s) {
		const char *name = jsonx_path_str(s, "metadata.name", "");
		char *what = xasprintf("s/%s", name);
		json_t *opts = json_pack("{s:{s:s}}", "preconditions", "uid",
					 jsonx_path_str(s, "metadata.uid", ""));

		rc = cm_delete(c->cm, CM_ENDPOINTSLICES,
			       jsonx_path_str(s, "metadata.namespace", ""), name, opts, NULL);
		if (ok_status(rc) || rc == 404)
			expect(exp, what, NULL);
		else
			err = -EIO;
		free(what);
		json_decref(opts);
	}
	return err;
}

static int sync_endpoints(struct eps_ctrl *c, const json_t *svc, const json_t *pods, const char *ns,
			  const char *name, json_t *exp)
{
	json_t *want = eps_endpoints_build(svc, pods), *cur, *out = NULL, *put;
	int rc, err = 0;

	if (!want)
		return 0;
	cur = cm_get(c->cm, CM_ENDPOINTS, ns, name);
	if (!cur) {
		rc = cm_create(c->cm, CM_ENDPOINTS, want, &out);
		if (rc == 201)
			expect(exp, "e", out);
		else
			err = -EIO; /* 409: it exists, the cache will show it */
	} else if (!eps_endpoints_equal(cur, want)) {
		put = json_deep_copy(cur);
		json_object_set(json_object_get(put, "metadata"), "labels",
				jsonx_get_path(want, "metadata.labels"));
		json_object_set(put, "subsets", json_object_get(want, "subsets"));
		rc = cm_update(c->cm, CM_ENDPOINTS, put, "", &out);
		if (rc == 200)
			expect(exp, "e", out);
		else
			err = -EIO;
		json_decref(put);
	}
	json_decref(out);
	json_decref(cur);
	json_decref(want);
	return err;
}

static int sync_gone(struct eps_ctrl *c, const char *key, const char *ns, const char *name)
{
	json_t *ep = cm_get(c->cm, CM_ENDPOINTS, ns, name);
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	json_object_del(c->expect, key);
	pthread_mutex_unlock(&c->lock);
	if (ep) {
		rc = cm_delete(c->cm, CM_ENDPOINTS, ns, name, NULL, NULL);
		rc = ok_status(rc) || rc == 404 ? 0 : -EIO;
	}
	json_decref(ep);
	return rc;
}

static int sync_key(void *ctx, const char *key)
{
	struct eps_ctrl *c = ctx;
	const char *slash = strchr(key, '/');
	char ns[256], err[256];
	const char *name;
	json_t *svc = NULL, *pods = NULL, *slices = NULL, *sel, *exp = NULL;
	struct eps_plan plan = { 0 };
	struct eps_input in = { 0 };
	uint64_t t0 = now_mono_ns();
	int rc = 0;

	if (!slash || (size_t)(slash - key) >= sizeof(ns))
		return 0;
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
	name = slash + 1;
	svc = cm_get(c->cm, CM_SERVICES, ns, name);
	if (!svc)
		return sync_gone(c, key, ns, name);
	if (!eps_service_managed(svc))
		goto out;
	if (cache_stale(c, key, ns, name)) {
		wq_add_after(c->q, key, EPS_STALE_RETRY_MS);
		goto out;
	}
	sel = json_pack("{s:O}", "matchLabels", jsonx_get_path(svc, "spec.selector"));
	pods = cm_list(c->cm, CM_PODS, ns, sel);
	json_decref(sel);
	sel = json_pack("{s:{s:s, s:s}}", "matchLabels", EPS_LABEL_SERVICE, name,
			EPS_LABEL_MANAGED_BY, EPS_MANAGED_BY);
	slices = cm_list(c->cm, CM_ENDPOINTSLICES, ns, sel);
	json_decref(sel);

	in = (struct eps_input){
		.service = svc, .pods = pods, .slices = slices, .zone = zone_of, .zone_ctx = c->cm
	};
	rc = eps_plan_slices(&in, &plan, err, sizeof(err));
	if (rc < 0) {
		log_warn("endpointslices for %s: %s", key, err);
		rc = 0; /* the input will not get better by retrying */
		goto out;
	}
	exp = json_pack("{s:I}", "at", (json_int_t)now_mono_ns());
	rc = apply_slices(c, &plan, exp);
	if (sync_endpoints(c, svc, pods, ns, name, exp) < 0)
		rc = -EIO;
	if (json_object_size(exp) > 1) {
		pthread_mutex_lock(&c->lock);
		json_object_set(c->expect, key, exp);
		pthread_mutex_unlock(&c->lock);
	}
	log_debug("endpointslices %s: %zu created, %zu updated, %zu deleted in %.1f ms", key,
		  json_array_size(plan.create), json_array_size(plan.update),
		  json_array_size(plan.remove), (double)(now_mono_ns() - t0) / 1e6);
out:
	eps_plan_free(&plan);
	json_decref(exp);
	json_decref(slices);
	json_decref(pods);
	json_decref(svc);
	return rc;
}

/* ---------------------------------------------------------------- controller */

static int eps_init(struct cm *cm, void **state)
{
	static const struct informer_handlers svc_h = { svc_on_add, svc_on_update, svc_on_add };
	static const struct informer_handlers pod_h = { pod_on_add, pod_on_update, pod_on_add };
	static const struct informer_handlers slice_h = { slice_on_add, slice_on_update,
							  slice_on_add };
	static const struct informer_handlers ep_h = { NULL, NULL, endpoints_on_delete };
	static const struct informer_handlers node_h = { NULL, node_on_update, NULL };
	struct eps_ctrl *c = xcalloc(1, sizeof(*c));

	c->cm = cm;
	c->q = wq_new("endpointslice", 0, 0);
	c->expect = json_object();
	pthread_mutex_init(&c->lock, NULL);
	cm_watch(cm, CM_SERVICES, &svc_h, c);
	cm_watch(cm, CM_PODS, &pod_h, c);
	cm_watch(cm, CM_ENDPOINTSLICES, &slice_h, c);
	cm_watch(cm, CM_ENDPOINTS, &ep_h, c);
	cm_watch(cm, CM_NODES, &node_h, c);
	*state = c;
	return 0;
}

static int eps_start(struct cm *cm, void *state)
{
	struct eps_ctrl *c = state;

	c->workers = cm_workers_start("endpointslice", c->q, cm_config(cm)->workers, sync_key, c);
	return c->workers ? 0 : -EAGAIN;
}

static void eps_stop(struct cm *cm, void *state)
{
	struct eps_ctrl *c = state;

	(void)cm;
	if (!c)
		return;
	cm_workers_stop(c->workers);
	wq_free(c->q);
	json_decref(c->expect);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

const struct controller endpointslice_controller = {
	.name = "endpointslice",
	.init = eps_init,
	.start = eps_start,
	.stop = eps_stop,
};
