/*
 * gc.c - the garbage collector: feeds every resource's informer into the
 * owner graph (gc_graph.c) and runs its attempts on two work queues keyed
 * by uid (delete, orphan), with the API calls the attempts need.
 *
 * Informer handlers only append the change to a FIFO; one graph thread
 * applies the changes in order. Handlers of different resources run on
 * different informer threads, and the graph must see one resource's events
 * in order, so a queue with one consumer keeps that without holding the
 * graph lock on informer threads. Events are not collected (upstream
 * ignores them too); every other resource the controller manager knows is.
 *
 * API calls: a GET of the exact object (never a cache: see gc_graph.h),
 * deletes with propagationPolicy and a uid precondition, and merge patches
 * pinned to the resourceVersion for ownerReferences and finalizers, so a
 * change made meanwhile is a 409 and a retry instead of a lost update.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "control/controllers/controllers.h"
#include "control/controllers/ctrl.h"
#include "control/controllers/gc_graph.h"
#include "jsonx.h"
#include "log.h"
#include "util.h"

struct gc_ctrl;

/* Handler context of one resource. */
struct gc_source {
	struct gc_ctrl *c;
	enum cm_resource r;
};

struct gc_ctrl {
	struct cm *cm;
	struct gc_graph *graph;
	struct workqueue *delete_q, *orphan_q;
	struct cm_workers *delete_workers, *orphan_workers;
	struct gc_source sources[CM__RESOURCES];

	pthread_t thread;
	bool running;
	pthread_mutex_t lock; /* guards changes, stopping */
	pthread_cond_t cond;
	json_t *changes; /* [{"r": resource, "obj": object, "gone": bool}] */
	bool stopping;
};

/* ---------------------------------------------------------------- changes */

static void push(struct gc_source *s, const json_t *obj, bool gone)
{
	struct gc_ctrl *c = s->c;

	pthread_mutex_lock(&c->lock);
	json_array_append_new(c->changes, json_pack("{s:i, s:O, s:b}", "r", (int)s->r, "obj",
						    (json_t *)obj, "gone", gone));
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void on_add(void *ctx, const json_t *obj)
{
	push(ctx, obj, false);
}

static void on_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
	(void)old_obj;
	push(ctx, new_obj, false);
}

static void on_delete(void *ctx, const json_t *obj)
{
	push(ctx, obj, true);
}

static void *graph_main(void *arg)
{
	struct gc_ctrl *c = arg;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		json_t *batch;
		json_t *ch;
		size_t i;

		while (!c->stopping && !json_array_size(c->changes))
			pthread_cond_wait(&c->cond, &c->lock);
		if (c->stopping)
			break;
		/* Take everything queued: handlers keep appending to a fresh array. */
		batch = c->changes;
		c->changes = json_array();
		pthread_mutex_unlock(&c->lock);
		json_array_foreach(batch, i, ch) {
			enum cm_resource r = (enum cm_resource)jsonx_int(ch, "r", 0);
			const json_t *obj = json_object_get(ch, "obj");

			if (jsonx_bool(ch, "gone", false))
				gc_graph_remove(c->graph, obj);
			else
				gc_graph_observe(c->graph, cm_resource_api_version(r),
						 cm_resource_kind(r), obj);
		}
		json_decref(batch);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static void enqueue(void *ctx, enum gc_queue q, const char *uid)
{
	struct gc_ctrl *c = ctx;

	wq_add(q == GC_QUEUE_ORPHAN ? c->orphan_q : c->delete_q, uid);
}

/* ---------------------------------------------------------------- API calls */

static bool cluster_scoped(enum cm_resource r)
{
	return r == CM_NODES || r == CM_NAMESPACES;
}

/* The resource serving (group of api_version, kind), or CM__RESOURCES. */
static enum cm_resource resource_of(const char *api_version, const char *kind)
{
	const char *slash = strchr(api_version, '/');
	size_t glen = slash ? (size_t)(slash - api_version) : 0;

	for (int r = 0; r < CM__RESOURCES; r++) {
		const char *av = cm_resource_api_version(r), *s = strchr(av, '/');
		size_t l = s ? (size_t)(s - av) : 0;

		/* Versions may differ (an owner named by an older version): groups must not. */
		if (strcmp(cm_resource_kind(r), kind) == 0 && l == glen &&
		    strncmp(av, api_version, l) == 0)
			return (enum cm_resource)r;
	}
	return CM__RESOURCES;
}

/* "/apis/apps/v1/namespaces/ns/replicasets/name", from the collection path. */
static char *object_path(enum cm_resource r, const char *ns, const char *name)
{
	const char *coll = cm_resource_path(r), *plural = strrchr(coll, '/');

	if (cluster_scoped(r))
		return xasprintf("%s/%s", coll, name);
	return xasprintf("%.*s/namespaces/%s%s/%s", (int)(plural - coll), coll, ns, plural, name);
}

static int op_get(void *ctx, const char *api_version, const char *kind, const char *ns,
		  const char *name, json_t **out)
{
	struct gc_ctrl *c = ctx;
	enum cm_resource r = resource_of(api_version, kind);
	char *path;
	int rc;

	*out = NULL;
	if (r == CM__RESOURCES)
		return -EOPNOTSUPP;
	if (!cluster_scoped(r) && (!ns || !*ns))
		return -EINVAL; /* a cluster-scoped object cannot have a namespaced owner */
	if (!*name || strpbrk(name, "/?#% ") || (ns && strpbrk(ns, "/?#% ")))
		return -ENOENT; /* no object can have that name */
	path = object_path(r, ns, name);
	rc = cm_request(c->cm, "GET", path, NULL, out);
	free(path);
	if (rc == 200 && json_is_object(*out)) {
		/* The patches below map the answer back to its resource. */
		json_object_set_new(*out, "kind", json_string(cm_resource_kind(r)));
		json_object_set_new(*out, "apiVersion", json_string(cm_resource_api_version(r)));
		return 0;
	}
	json_decref(*out);
	*out = NULL;
	return rc == 404 ? -ENOENT : rc < 0 ? rc : -EIO;
}

static int op_remove(void *ctx, const struct gc_ident *id, const char *policy)
{
	struct gc_ctrl *c = ctx;
	enum cm_resource r = resource_of(id->api_version, id->kind);
	json_t *opts;
	int rc;

	if (r == CM__RESOURCES)
		return 0;
	opts = json_pack("{s:s, s:{s:s}}", "propagationPolicy", policy, "preconditions", "uid",
			 id->uid);
	rc = cm_delete(c->cm, r, cluster_scoped(r) ? NULL : id->ns, id->name, opts, NULL);
	json_decref(opts);
	log_debug("gc: delete %s %s/%s (%s): %d", id->kind, id->ns, id->name, policy, rc);
	/* 404: gone already; 409: the uid precondition failed, another object now. */
	return (rc >= 200 && rc < 300) || rc == 404 || rc == 409 ? 0 : -EIO;
}

/* Merge patch of metadata member key, pinned to obj's resourceVersion. */
static int patch_meta(struct gc_ctrl *c, const json_t *obj, const char *key, json_t *value)
{
	enum cm_resource r =
		resource_of(jsonx_str(obj, "apiVersion", ""), jsonx_str(obj, "kind", ""));
	const char *ns = jsonx_path_str(obj, "metadata.namespace", NULL);
	json_t *patch;
	int rc;

	if (r == CM__RESOURCES) {
		json_decref(value);
		return 0;
	}
	/* An empty list is removed (null in a merge patch), as upstream leaves it. */
	if (json_is_array(value) && !json_array_size(value)) {
		json_decref(value);
		value = json_null();
	}
	patch = json_pack("{s:{s:s, s:o}}", "metadata", "resourceVersion",
			  jsonx_path_str(obj, "metadata.resourceVersion", ""), key, value);
	rc = cm_patch(c->cm, r, cluster_scoped(r) ? NULL : ns,
		      jsonx_path_str(obj, "metadata.name", ""), NULL, "merge", patch, NULL);
	json_decref(patch);
	log_debug("gc: %s %s %s: %d", key, cm_resource_kind(r),
		  jsonx_path_str(obj, "metadata.name", ""), rc);
	return rc == 200 || rc == 404 ? 0 : -EIO;
}

static int op_set_owner_refs(void *ctx, const json_t *obj, const json_t *refs)
{
	return patch_meta(ctx, obj, "ownerReferences", json_deep_copy(refs));
}

static int op_remove_finalizer(void *ctx, const json_t *obj, const char *finalizer)
{
	json_t *keep = json_array(), *f;
	size_t i;

	json_array_foreach(jsonx_get_path(obj, "metadata.finalizers"), i, f)
		if (!json_is_string(f) || strcmp(json_string_value(f), finalizer) != 0)
			json_array_append(keep, f);
	return patch_meta(ctx, obj, "finalizers", keep);
}

static const struct gc_ops ops = {
	.get = op_get,
	.remove = op_remove,
	.set_owner_refs = op_set_owner_refs,
	.remove_finalizer = op_remove_finalizer,
};

/* ---------------------------------------------------------------- workers */

static int result_code(enum gc_result res)
{
	/* GC_WAIT retries too: the item exists, its informer will show it. */
	return res == GC_DONE ? 0 : res == GC_RETRY ? -EIO : -EAGAIN;
}

static int delete_sync(void *ctx, const char *uid)
{
	struct gc_ctrl *c = ctx;

	return result_code(gc_attempt_delete(c->graph, uid, &ops, c));
}

static int orphan_sync(void *ctx, const char *uid)
{
	struct gc_ctrl *c = ctx;

	return result_code(gc_attempt_orphan(c->graph, uid, &ops, c));
}

/* ---------------------------------------------------------------- controller */

static int gc_init(struct cm *cm, void **state)
{
	static const struct informer_handlers h = { on_add, on_update, on_delete };
	struct gc_ctrl *c = xcalloc(1, sizeof(*c));

	c->cm = cm;
	c->delete_q = wq_new("gc-delete", 0, 0);
	c->orphan_q = wq_new("gc-orphan", 0, 0);
	c->graph = gc_graph_new(enqueue, c);
	c->changes = json_array();
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	for (int r = 0; r < CM__RESOURCES; r++) {
		c->sources[r] = (struct gc_source){ .c = c, .r = (enum cm_resource)r };
		if (r != CM_EVENTS)
			cm_watch(cm, (enum cm_resource)r, &h, &c->sources[r]);
	}
	*state = c;
	return 0;
}

static int gc_start(struct cm *cm, void *state)
{
	struct gc_ctrl *c = state;
	unsigned n = cm_config(cm)->workers;

	if (pthread_create(&c->thread, NULL, graph_main, c) != 0)
		return -EAGAIN;
	c->running = true;
	c->delete_workers = cm_workers_start("gc-delete", c->delete_q, n, delete_sync, c);
	c->orphan_workers = cm_workers_start("gc-orphan", c->orphan_q, n, orphan_sync, c);
	return c->delete_workers && c->orphan_workers ? 0 : -EAGAIN;
}

static void gc_stop(struct cm *cm, void *state)
{
	struct gc_ctrl *c = state;

	(void)cm;
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (c->running)
		pthread_join(c->thread, NULL);
	cm_workers_stop(c->delete_workers);
	cm_workers_stop(c->orphan_workers);
	gc_graph_free(c->graph);
	wq_free(c->delete_q);
	wq_free(c->orphan_q);
	json_decref(c->changes);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}

const struct controller gc_controller = {
	.name = "garbagecollector",
	.init = gc_init,
	.start = gc_start,
	.stop = gc_stop,
};
