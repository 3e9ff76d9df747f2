/*
 * podutil.c - see podutil.h.
 *
 * Claiming follows upstream's ControllerRefManager: an object belongs to
 * the owner its controller reference names by UID (a name alone could be a
 * deleted owner's successor); an owner being deleted neither adopts nor
 * releases, so the garbage collector sees a stable picture; objects being
 * deleted are not adopted. The patches pin the object's UID, so an object
 * deleted and re-created under the same name in between is not touched.
 *
 * Slow start runs each batch on short-lived threads (at most 8): creating
 * pods one by one would pay one API round trip (and one fsync on the
 * server) per pod, while a batch shares the server's group commits.
 */
#include "control/controllers/podutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "jsonx.h"
#include "log.h"
#include "util.h"

/* ---------------------------------------------------------------- pods */

bool cm_is_deleting(const json_t *obj)
{
	return jsonx_path_str(obj, "metadata.deletionTimestamp", NULL) != NULL;
}

bool cm_pod_is_active(const json_t *pod)
{
	const char *phase = jsonx_path_str(pod, "status.phase", "");

	return strcmp(phase, "Succeeded") != 0 && strcmp(phase, "Failed") != 0 &&
	       !cm_is_deleting(pod);
}

static const json_t *ready_condition(const json_t *pod)
{
	return cm_cond_get(jsonx_obj(pod, "status"), "Ready");
}

bool cm_pod_is_ready(const json_t *pod)
{
	return strcmp(jsonx_str(ready_condition(pod), "status", ""), "True") == 0;
}

int64_t cm_pod_ready_since(const json_t *pod)
{
	if (!cm_pod_is_ready(pod))
		return 0;
	return cm_time_ns(ready_condition(pod), "lastTransitionTime");
}

bool cm_pod_is_available(const json_t *pod, long long min_ready_s, int64_t now, int64_t *wait_ns)
{
	int64_t since, until;

	if (wait_ns)
		*wait_ns = 0;
	if (!cm_pod_is_ready(pod))
		return false;
	if (min_ready_s <= 0)
		return true;
	since = cm_pod_ready_since(pod);
	/* Ready without a transition time: treat as ready long enough, as upstream does. */
	if (!since)
		return true;
	until = since + min_ready_s * 1000000000ll;
	if (until <= now)
		return true;
	if (wait_ns)
		*wait_ns = until - now;
	return false;
}

long long cm_pod_restarts(const json_t *pod)
{
	long long n = 0;
	json_t *cs;
	size_t i;

	json_array_foreach(jsonx_get_path(pod, "status.containerStatuses"), i, cs)
		n += jsonx_int(cs, "restartCount", 0);
	return n;
}

/* ---------------------------------------------------------------- owners */

const json_t *cm_controller_ref(const json_t *obj)
{
	json_t *ref;
	size_t i;

	json_array_foreach(jsonx_get_path(obj, "metadata.ownerReferences"), i, ref) {
		if (jsonx_bool(ref, "controller", false))
			return ref;
	}
	return NULL;
}

bool cm_is_controlled_by(const json_t *obj, const json_t *owner)
{
	const char *uid = jsonx_path_str(owner, "metadata.uid", NULL);

	return uid && strcmp(jsonx_str(cm_controller_ref(obj), "uid", ""), uid) == 0;
}

json_t *cm_owner_ref(const json_t *owner, const char *kind, const char *api_version)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:b,s:b}", "apiVersion", api_version, "kind", kind,
			 "name", jsonx_path_str(owner, "metadata.name", ""), "uid",
			 jsonx_path_str(owner, "metadata.uid", ""), "controller", 1,
			 "blockOwnerDeletion", 1);
}

enum cm_claim cm_claim_decide(const json_t *owner, const struct selector *sel, const json_t *obj)
{
	const json_t *ref = cm_controller_ref(obj);
	bool matches = selector_matches(sel, jsonx_get_path(obj, "metadata.labels"));

	if (ref) {
		if (!cm_is_controlled_by(obj, owner))
			return CM_CLAIM_IGNORE;
		if (matches)
			return CM_CLAIM_OWNED;
		/* An owner being deleted keeps what it has; the GC decides. */
		return cm_is_deleting(owner) ? CM_CLAIM_IGNORE : CM_CLAIM_RELEASE;
	}
	if (!matches || cm_is_deleting(owner) || cm_is_deleting(obj))
		return CM_CLAIM_IGNORE;
	return CM_CLAIM_ADOPT;
}

json_t *cm_claim(const struct cm_api *api, enum cm_resource r, const json_t *owner,
		 const char *kind, const char *api_version, const struct selector *sel,
		 const json_t *objs)
{
	json_t *owned = json_array(), *obj;
	size_t i;

	json_array_foreach(objs, i, obj) {
		const char *ns = jsonx_path_str(obj, "metadata.namespace", NULL);
		const char *name = jsonx_path_str(obj, "metadata.name", "");
		const char *uid = jsonx_path_str(obj, "metadata.uid", "");
		enum cm_claim what = cm_claim_decide(owner, sel, obj);
		json_t *patch, *out = NULL;
		int rc;

		if (what == CM_CLAIM_OWNED)
			json_array_append(owned, obj);
		if (what != CM_CLAIM_ADOPT && what != CM_CLAIM_RELEASE)
			continue;
		if (what == CM_CLAIM_ADOPT)
			patch = json_pack("{s:{s:[o],s:s}}", "metadata", "ownerReferences",
					  cm_owner_ref(owner, kind, api_version), "uid", uid);
		else
			patch = json_pack("{s:{s:[{s:s,s:s}],s:s}}", "metadata", "ownerReferences",
					  "$patch", "delete", "uid",
					  jsonx_path_str(owner, "metadata.uid", ""), "uid", uid);
		rc = api->patch(api->ctx, r, ns, name, NULL, "strategic", patch, &out);
		json_decref(patch);
		if (rc == 200 && what == CM_CLAIM_ADOPT) {
			log_info("%s %s/%s adopted %s", kind,
				 jsonx_path_str(owner, "metadata.namespace", ""),
				 jsonx_path_str(owner, "metadata.name", ""), name);
			json_array_append(owned, out ? out : obj);
		} else if (rc != 200 && rc != 404) {
			/* 404: gone meanwhile, nothing to claim. Anything else: next sync. */
			log_warn("%s %s/%s: %s %s: HTTP %d", kind,
				 jsonx_path_str(owner, "metadata.namespace", ""),
				 jsonx_path_str(owner, "metadata.name", ""),
				 what == CM_CLAIM_ADOPT ? "adopting" : "releasing", name, rc);
		}
		json_decref(out);
	}
	return owned;
}

json_t *cm_pod_from_template(const json_t *tmpl, const json_t *owner, const char *kind,
			     const char *api_version)
{
	const json_t *meta = jsonx_obj(tmpl, "metadata");
	json_t *pod, *md, *v;
	char *prefix;

	prefix = xasprintf("%s-", jsonx_path_str(owner, "metadata.name", "pod"));
	pod = json_pack("{s:s,s:s,s:{s:s,s:s,s:[o]}}", "apiVersion", "v1", "kind", "Pod",
			"metadata", "generateName", prefix, "namespace",
			jsonx_path_str(owner, "metadata.namespace", "default"), "ownerReferences",
			cm_owner_ref(owner, kind, api_version));
	free(prefix);
	md = json_object_get(pod, "metadata");
	if ((v = jsonx_obj(meta, "labels")) && json_object_size(v))
		json_object_set_new(md, "labels", json_deep_copy(v));
	if ((v = jsonx_obj(meta, "annotations")) && json_object_size(v))
		json_object_set_new(md, "annotations", json_deep_copy(v));
	if ((v = jsonx_arr(meta, "finalizers")) && json_array_size(v))
		json_object_set_new(md, "finalizers", json_deep_copy(v));
	v = jsonx_obj(tmpl, "spec");
	json_object_set_new(pod, "spec", v ? json_deep_copy(v) : json_object());
	return pod;
}

/* ---------------------------------------------------------------- event routing */

void cm_enqueue(struct workqueue *q, const json_t *obj)
{
	char key[512];

	if (informer_key(obj, key, sizeof(key)) == 0)
		wq_add(q, key);
}

json_t *cm_controller_of(struct cm *cm, enum cm_resource r, const char *kind, const json_t *obj,
			 char *key, size_t len)
{
	const json_t *ref = cm_controller_ref(obj);
	const char *ns = jsonx_path_str(obj, "metadata.namespace", "");
	json_t *owner;

	if (!ref || strcmp(jsonx_str(ref, "kind", ""), kind) != 0)
		return NULL;
	owner = cm_get(cm, r, ns, jsonx_str(ref, "name", ""));
	if (owner && !cm_is_controlled_by(obj, owner)) {
		json_decref(owner);
		return NULL;
	}
	if (owner && key)
		snprintf(key, len, "%s/%s", ns, jsonx_str(ref, "name", ""));
	return owner;
}

void cm_enqueue_selecting(struct cm *cm, enum cm_resource r, struct workqueue *q, const json_t *obj)
{
	json_t *all = cm_list(cm, r, jsonx_path_str(obj, "metadata.namespace", ""), NULL), *o;
	size_t i;

	json_array_foreach(all, i, o) {
		struct selector *sel;

		if (selector_from_json(jsonx_get_path(o, "spec.selector"), &sel, NULL, 0) < 0)
			continue;
		/* An empty selector would take everything: upstream never lets it adopt. */
		if (!selector_empty(sel) &&
		    selector_matches(sel, jsonx_get_path(obj, "metadata.labels")))
			cm_enqueue(q, o);
		selector_free(sel);
	}
	json_decref(all);
}

static void owner_pod_add(void *ctx, const json_t *pod)
{
	struct cm_pod_owner *c = ctx;
	char key[512];
	json_t *owner = cm_controller_of(c->cm, c->r, c->kind, pod, key, sizeof(key));

	if (owner) {
		/* A pod that arrives already deleting (a re-list) counts as deleted. */
		if (cm_is_deleting(pod))
			cm_exp_deletion_observed(c->exp, key,
						 jsonx_path_str(pod, "metadata.uid", ""));
		else
			cm_exp_creation_observed(c->exp, key);
		wq_add(c->q, key);
		json_decref(owner);
	} else if (!cm_controller_ref(pod) && !cm_is_deleting(pod)) {
		cm_enqueue_selecting(c->cm, c->r, c->q, pod);
	}
}

static void owner_pod_update(void *ctx, const json_t *old_pod, const json_t *new_pod)
{
	struct cm_pod_owner *c = ctx;
	char key[512], old_key[512];
	json_t *owner, *old_owner;
	bool labels_changed = !jsonx_equal(jsonx_get_path(old_pod, "metadata.labels"),
					   jsonx_get_path(new_pod, "metadata.labels"));

	if (jsonx_equal(jsonx_get_path(old_pod, "metadata.resourceVersion"),
			jsonx_get_path(new_pod, "metadata.resourceVersion")))
		return;
	owner = cm_controller_of(c->cm, c->r, c->kind, new_pod, key, sizeof(key));
	old_owner = cm_controller_of(c->cm, c->r, c->kind, old_pod, old_key, sizeof(old_key));
	/* A pod whose deletion started is as good as deleted for the counts. */
	if (owner && cm_is_deleting(new_pod))
		cm_exp_deletion_observed(c->exp, key, jsonx_path_str(new_pod, "metadata.uid", ""));
	if (old_owner && (!owner || strcmp(key, old_key) != 0))
		wq_add(c->q, old_key);
	if (owner) {
		long long min_ready = jsonx_path_int(owner, "spec.minReadySeconds", 0);

		wq_add(c->q, key);
		/* Ready now, available later, and nothing will happen then to wake us. */
		if (min_ready > 0 && !cm_pod_is_ready(old_pod) && cm_pod_is_ready(new_pod))
			wq_add_after(c->q, key, (unsigned)(min_ready * 1000 + 1000));
	} else if (!cm_controller_ref(new_pod) && (labels_changed || cm_controller_ref(old_pod))) {
		cm_enqueue_selecting(c->cm, c->r, c->q, new_pod);
	}
	json_decref(owner);
	json_decref(old_owner);
}

static void owner_pod_delete(void *ctx, const json_t *pod)
{
	struct cm_pod_owner *c = ctx;
	char key[512];
	json_t *owner = cm_controller_of(c->cm, c->r, c->kind, pod, key, sizeof(key));

	if (!owner)
		return;
	cm_exp_deletion_observed(c->exp, key, jsonx_path_str(pod, "metadata.uid", ""));
	wq_add(c->q, key);
	json_decref(owner);
}

const struct informer_handlers cm_pod_owner_handlers = {
	.on_add = owner_pod_add,
	.on_update = owner_pod_update,
	.on_delete = owner_pod_delete,
};

static void self_add(void *ctx, const json_t *obj)
{
	cm_enqueue(((struct cm_pod_ctrl *)ctx)->pods.q, obj);
}

static void self_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
	cm_enqueue(((struct cm_pod_ctrl *)ctx)->pods.q, new_obj);
}

/* A deleted owner is enqueued too: its sync finds it gone and forgets its expectations. */
const struct informer_handlers cm_pod_ctrl_self_handlers = {
	.on_add = self_add,
	.on_update = self_update,
	.on_delete = self_add,
};

void cm_pod_ctrl_init(struct cm_pod_ctrl *c, struct cm *cm, enum cm_resource r, const char *kind,
		      const char *name, const char *component)
{
	c->pods = (struct cm_pod_owner){
		.cm = cm, .r = r, .kind = kind, .q = wq_new(name, 0, 0), .exp = cm_exp_new()
	};
	cm_api_init(&c->api, cm, component);
	cm_watch(cm, r, &cm_pod_ctrl_self_handlers, c);
	cm_watch(cm, CM_PODS, &cm_pod_owner_handlers, &c->pods);
}

int cm_pod_ctrl_start(struct cm_pod_ctrl *c, const char *name, cm_sync_fn fn, void *ctx)
{
	c->workers = cm_workers_start(name, c->pods.q, cm_config(c->pods.cm)->workers, fn, ctx);
	return c->workers ? 0 : -EAGAIN;
}

void cm_pod_ctrl_stop(struct cm_pod_ctrl *c)
{
	cm_workers_stop(c->workers);
	wq_free(c->pods.q);
	cm_exp_free(c->pods.exp);
}

/* ---------------------------------------------------------------- batches */

struct batch {
	int (*fn)(void *ctx, int i);
	void *ctx;
	atomic_int next; /* next index to run */
	int end;
	atomic_int ok, failed;
};

static void *batch_main(void *arg)
{
	struct batch *b = arg;
	int i;

	while ((i = atomic_fetch_add(&b->next, 1)) < b->end) {
		if (b->fn(b->ctx, i) < 0)
			atomic_fetch_add(&b->failed, 1);
		else
			atomic_fetch_add(&b->ok, 1);
	}
	return NULL;
}

int cm_slow_start(int count, int (*fn)(void *ctx, int i), void *ctx)
{
	int done = 0, size = 1, successes = 0;

	while (done < count) {
		struct batch b = { .fn = fn, .ctx = ctx, .end = done + MIN(size, count - done) };
		pthread_t th[8];
		int nth = MIN(b.end - done, (int)ARRAY_SIZE(th)), started = 0;

		atomic_init(&b.next, done);
		atomic_init(&b.ok, 0);
		atomic_init(&b.failed, 0);
		for (int t = 1; t < nth; t++) {
			if (pthread_create(&th[started], NULL, batch_main, &b) != 0)
				break;
			started++;
		}
		batch_main(&b); /* this thread works too */
		for (int t = 0; t < started; t++)
			pthread_join(th[t], NULL);
		successes += atomic_load(&b.ok);
		if (atomic_load(&b.failed))
			break;
		done = b.end;
		size *= 2;
	}
	return successes;
}
