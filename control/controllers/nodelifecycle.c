/*
 * nodelifecycle.c - the node lifecycle controller: node health from Leases
 * and heartbeats, condition and taint upkeep, and NoExecute eviction (the
 * taint manager). The rules are in nodelc_policy.c; this file runs them.
 *
 * Two queues. Node names go through the health queue: every node is
 * queued every monitor period (grace / 8, between 100 ms and 5 s, so
 * --node-monitor-grace-period=40s checks every 5 s as upstream) and by its
 * own events, so a condition the kubelet posts turns into taints at once.
 * The monitor pass itself is a key of that queue (NODELC_MONITOR_KEY, not a
 * valid node name) that re-adds itself with a delay: no timer thread, and
 * the queue never runs two passes at once. Pod keys go through the eviction queue whenever a pod
 * lands on a node with NoExecute taints or a node's NoExecute taints change; a pod allowed to stay
 * for a while is re-queued for exactly the moment its toleration runs out.
 *
 * Eviction timers start when the controller first sees the pod on a
 * tainted node, as upstream's taint manager does, and survive taint
 * changes that keep the pod evictable; they are cancelled (with an Event)
 * when the taints go or become tolerated for ever. A restart starts the
 * timers again: the controller errs on the side of keeping pods.
 *
 * "Full disruption": when every node is not Ready, NoExecute taints are
 * neither added nor kept (see nodelc_policy.h). Each node sync decides it
 * from the node cache, with the node's own fresh status.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "control/controllers/controllers.h"
#include "control/controllers/ctrl.h"
#include "control/controllers/nodelc_policy.h"
#include "jsonx.h"
#include "ktime.h"
#include "log.h"
#include "util.h"

#define LEASE_NAMESPACE "kube-node-lease"
#define NODELC_MONITOR_KEY "#monitor"

struct nodelc_ctrl {
	struct cm *cm;
	struct cm_api node_events;  /* "node-controller" */
	struct cm_api evict_events; /* "taint-eviction-controller" */
	struct workqueue *nodes_q, *evict_q;
	struct cm_workers *node_workers, *evict_workers;
	int64_t grace_ns;
	unsigned period_ms;
	long long default_toleration_s;

	bool disrupted;	      /* last state logged (monitor pass only) */
	pthread_mutex_t lock; /* guards health, evictions */
	json_t *health;	      /* node -> {"renew", "hb", "probe"} */
	json_t *evictions;    /* pod key -> {"uid", "start": mono ns} */
};

static void now_rfc3339(char *buf, size_t len)
{
	ktime_format((int64_t)now_real_ns(), buf, len);
}

static const char *name_of(const json_t *o)
{
	return jsonx_path_str(o, "metadata.name", "");
}

static bool has_no_execute(const json_t *node)
{
	json_t *t;
	size_t i;

	json_array_foreach(jsonx_get_path(node, "spec.taints"), i, t)
		if (strcmp(jsonx_str(t, "effect", ""), "NoExecute") == 0)
			return true;
	return false;
}

/* The NoExecute taints of a node, as a new array (for comparing two versions). */
static json_t *no_execute_taints(const json_t *node)
{
	json_t *out = json_array(), *t;
	size_t i;

	json_array_foreach(jsonx_get_path(node, "spec.taints"), i, t)
		if (strcmp(jsonx_str(t, "effect", ""), "NoExecute") == 0)
			json_array_append(out, t);
	return out;
}

/* Pods bound to node, a new array. */
static json_t *pods_on(struct cm *cm, const char *node)
{
	json_t *all = cm_list(cm, CM_PODS, NULL, NULL), *out = json_array(), *p;
	size_t i;

	json_array_foreach(all, i, p)
		if (strcmp(jsonx_path_str(p, "spec.nodeName", ""), node) == 0)
			json_array_append(out, p);
	json_decref(all);
	return out;
}

/* ---------------------------------------------------------------- handlers */

static void enqueue_pods_of(struct nodelc_ctrl *c, const char *node)
{
	json_t *pods = pods_on(c->cm, node), *p;
	char key[512];
	size_t i;

	json_array_foreach(pods, i, p)
		if (informer_key(p, key, sizeof(key)) == 0)
			wq_add(c->evict_q, key);
	json_decref(pods);
}

static void node_on_add(void *ctx, const json_t *node)
{
	struct nodelc_ctrl *c = ctx;

	wq_add(c->nodes_q, name_of(node));
	if (has_no_execute(node))
		enqueue_pods_of(c, name_of(node));
}

static void node_on_update(void *ctx, const json_t *old_node, const json_t *new_node)
{
	struct nodelc_ctrl *c = ctx;
	json_t *a = no_execute_taints(old_node), *b = no_execute_taints(new_node);

	wq_add(c->nodes_q, name_of(new_node));
	if (!jsonx_equal(a, b))
		enqueue_pods_of(c, name_of(new_node));
	json_decref(a);
	json_decref(b);
}

static void node_on_delete(void *ctx, const json_t *node)
{
	struct nodelc_ctrl *c = ctx;

	wq_add(c->nodes_q, name_of(node));
}

static void pod_on_change(struct nodelc_ctrl *c, const json_t *pod)
{
	const char *node = jsonx_path_str(pod, "spec.nodeName", "");
	json_t *n;
	char key[512];
	bool timed;

	if (informer_key(pod, key, sizeof(key)) < 0)
		return;
	pthread_mutex_lock(&c->lock);
	timed = json_object_get(c->evictions, key) != NULL;
	pthread_mutex_unlock(&c->lock);
	n = *node ? cm_get(c->cm, CM_NODES, NULL, node) : NULL;
	if (timed || has_no_execute(n))
		wq_add(c->evict_q, key);
	json_decref(n);
}

static void pod_on_add(void *ctx, const json_t *pod)
{
	pod_on_change(ctx, pod);
}

static void pod_on_update(void *ctx, const json_t *old_pod, const json_t *new_pod)
{
	(void)old_pod;
	pod_on_change(ctx, new_pod);
}

/* ---------------------------------------------------------------- health */

static void health_load(const json_t *j, struct nodelc_health *h)
{
	memset(h, 0, sizeof(*h));
	if (!j)
		return;
	h->seen = true;
	snprintf(h->lease_renew, sizeof(h->lease_renew), "%s", jsonx_str(j, "renew", ""));
	snprintf(h->heartbeat, sizeof(h->heartbeat), "%s", jsonx_str(j, "hb", ""));
	h->probe_ns = jsonx_int(j, "probe", 0);
}

static json_t *health_store(const struct nodelc_health *h)
{
	return json_pack("{s:s, s:s, s:I}", "renew", h->lease_renew, "hb", h->heartbeat, "probe",
			 (json_int_t)h->probe_ns);
}

/* Mark the pods of a silent node not ready, as upstream's MarkPodsNotReady. */
static int mark_pods_not_ready(struct nodelc_ctrl *c, const char *node, const char *now)
{
	json_t *pods = pods_on(c->cm, node), *p;
	size_t i;
	int err = 0;

	json_array_foreach(pods, i, p) {
		json_t *upd = nodelc_pod_not_ready(p, now);
		int rc;

		if (!upd)
			continue;
		rc = cm_update(c->cm, CM_PODS, upd, "status", NULL);
		if (rc == 200)
			cm_api_event(&c->node_events, p, "Pod", "v1", "Warning", "NodeNotReady",
				     "Node is not ready");
		else if (rc != 404)
			err = -EIO;
		json_decref(upd);
	}
	json_decref(pods);
	return err;
}

/* May NoExecute taints be used, given this node's fresh state? */
static bool no_execute_allowed(struct nodelc_ctrl *c, const json_t *node)
{
	const char *ready = nodelc_ready_status(node);
	json_t *nodes, *n;
	bool all;
	size_t i;

	if (!ready || strcmp(ready, "True") == 0)
		return true;
	nodes = cm_list(c->cm, CM_NODES, NULL, NULL);
	json_array_foreach(nodes, i, n)
		if (strcmp(name_of(n), name_of(node)) == 0)
			json_array_set(nodes, i, (json_t *)node);
	all = nodelc_all_disrupted(nodes);
	json_decref(nodes);
	return !all;
}

/* Queue every node for a health check; say when full disruption starts or ends. */
static void monitor_pass(struct nodelc_ctrl *c)
{
	json_t *nodes = cm_list(c->cm, CM_NODES, NULL, NULL), *n;
	bool all = nodelc_all_disrupted(nodes);
	size_t i;

	json_array_foreach(nodes, i, n)
		wq_add(c->nodes_q, name_of(n));
	json_decref(nodes);
	if (all != c->disrupted)
		log_warn(all ? "no node is Ready: full disruption, NoExecute taints stop"
			     : "a node is Ready again: NoExecute taints resume");
	c->disrupted = all;
	wq_add_after(c->nodes_q, NODELC_MONITOR_KEY, c->period_ms);
}

static int node_sync(void *ctx, const char *name)
{
	struct nodelc_ctrl *c = ctx;
	json_t *node, *lease, *conds, *taints, *out = NULL;
	struct nodelc_health h;
	char now[KTIME_BUFSZ];
	bool silent;
	int rc, err = 0;

	if (strcmp(name, NODELC_MONITOR_KEY) == 0) {
		monitor_pass(c);
		return 0;
	}
	node = cm_get(c->cm, CM_NODES, NULL, name);
	if (!node) {
		pthread_mutex_lock(&c->lock);
		json_object_del(c->health, name);
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	lease = cm_get(c->cm, CM_LEASES, LEASE_NAMESPACE, name);
	pthread_mutex_lock(&c->lock);
	health_load(json_object_get(c->health, name), &h);
	silent = nodelc_health_observe(&h, node, lease, (int64_t)now_mono_ns(), c->grace_ns);
	json_object_set_new(c->health, name, health_store(&h));
	pthread_mutex_unlock(&c->lock);
	json_decref(lease);
	now_rfc3339(now, sizeof(now));

	conds = silent ? nodelc_conditions_unknown(node, now) : NULL;
	if (conds) {
		json_t *put = json_deep_copy(node);
		const char *was = nodelc_ready_status(node);

		jsonx_set_path(put, "status.conditions", conds);
		rc = cm_update(c->cm, CM_NODES, put, "status", &out);
		json_decref(put);
		if (rc != 200) {
			log_warn("node %s: setting conditions Unknown: %d", name, rc);
			err = -EIO;
			goto out;
		}
		log_info("node %s: not heard from for %lld s: conditions Unknown", name,
			 (long long)(c->grace_ns / 1000000000ll));
		if (was && strcmp(was, "True") == 0)
			cm_api_event(&c->node_events, node, "Node", "v1", "Normal", "NodeNotReady",
				     "Node %s status is now: NodeNotReady", name);
		json_decref(node);
		node = out;
		out = NULL;
	}
	/* Pods of a node we found silent can no longer be trusted to serve. */
	if (nodelc_silenced(node) && mark_pods_not_ready(c, name, now) < 0)
		err = -EIO;

	taints = nodelc_taints_want(node, no_execute_allowed(c, node), now);
	if (taints) {
		json_t *patch;

		/* No taint left: null removes the field, as upstream leaves it. */
		if (!json_array_size(taints)) {
			json_decref(taints);
			taints = json_null();
		}
		patch = json_pack("{s:{s:s}, s:{s:o}}", "metadata", "resourceVersion",
				  jsonx_path_str(node, "metadata.resourceVersion", ""), "spec",
				  "taints", taints);

		rc = cm_patch(c->cm, CM_NODES, NULL, name, NULL, "merge", patch, NULL);
		json_decref(patch);
		if (rc != 200) {
			log_debug("node %s: taints: %d", name, rc); /* 409: look again */
			err = -EIO;
		}
	}
out:
	json_decref(node);
	return err;
}

/* ---------------------------------------------------------------- eviction */

static bool cancel_timer(struct nodelc_ctrl *c, const char *key)
{
	bool had;

	pthread_mutex_lock(&c->lock);
	had = json_object_get(c->evictions, key) != NULL;
	json_object_del(c->evictions, key);
	pthread_mutex_unlock(&c->lock);
	return had;
}

static int evict(struct nodelc_ctrl *c, const json_t *pod, const char *ns, const char *name,
		 const char *key)
{
	json_t *opts, *patch;
	char now[KTIME_BUFSZ];
	int rc;

	now_rfc3339(now, sizeof(now));
	cm_api_event(&c->evict_events, pod, "Pod", "v1", "Normal", "TaintManagerEviction",
		     "Marking for deletion Pod %s", key);
	/* Tell the pod why (upstream's DisruptionTarget); the delete matters, not this. */
	patch = json_pack("{s:{s:[{s:s, s:s, s:s, s:s, s:s}]}}", "status", "conditions", "type",
			  "DisruptionTarget", "status", "True", "reason", "DeletionByTaintManager",
			  "message", "Taint manager: deleting due to NoExecute taint",
			  "lastTransitionTime", now);
	cm_patch(c->cm, CM_PODS, ns, name, "status", "strategic", patch, NULL);
	json_decref(patch);
	opts = json_pack("{s:{s:s}}", "preconditions", "uid",
			 jsonx_path_str(pod, "metadata.uid", ""));
	rc = cm_delete(c->cm, CM_PODS, ns, name, opts, NULL);
	json_decref(opts);
	/* 409: the uid differs, another pod by that name: not ours to delete. */
	if ((rc >= 200 && rc < 300) || rc == 404 || rc == 409) {
		log_info("evicted pod %s (NoExecute taint)", key);
		cancel_timer(c, key);
		return 0;
	}
	return -EIO;
}

static int evict_sync(void *ctx, const char *key)
{
	struct nodelc_ctrl *c = ctx;
	const char *slash = strchr(key, '/');
	json_t *pod = NULL, *node = NULL, *timer;
	long long delay = -1;
	int64_t start, due, now = (int64_t)now_mono_ns();
	const char *uid;
	char ns[256];
	int rc = 0;

	if (!slash || (size_t)(slash - key) >= sizeof(ns))
		return 0;
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
	pod = cm_get(c->cm, CM_PODS, ns, slash + 1);
	if (pod && !jsonx_path_str(pod, "metadata.deletionTimestamp", NULL))
		node = cm_get(c->cm, CM_NODES, NULL, jsonx_path_str(pod, "spec.nodeName", ""));
	if (node)
		delay = nodelc_eviction_delay(jsonx_get_path(node, "spec.taints"),
					      jsonx_get_path(pod, "spec.tolerations"),
					      c->default_toleration_s);
	if (delay < 0) {
		if (cancel_timer(c, key) && pod)
			cm_api_event(&c->evict_events, pod, "Pod", "v1", "Normal",
				     "TaintManagerEviction", "Cancelling deletion of Pod %s", key);
		goto out;
	}
	uid = jsonx_path_str(pod, "metadata.uid", "");
	pthread_mutex_lock(&c->lock);
	timer = json_object_get(c->evictions, key);
	if (!timer || strcmp(jsonx_str(timer, "uid", ""), uid) != 0) {
		timer = json_pack("{s:s, s:I}", "uid", uid, "start", (json_int_t)now);
		json_object_set_new(c->evictions, key, timer);
	}
	start = jsonx_int(timer, "start", now);
	pthread_mutex_unlock(&c->lock);
	due = start + delay * 1000000000ll;
	if (now < due) {
		wq_add_after(c->evict_q, key, (unsigned)((due - now) / 1000000 + 1));
		goto out;
	}
	rc = evict(c, pod, ns, slash + 1, key);
out:
	json_decref(node);
	json_decref(pod);
	return rc;
}

/* ---------------------------------------------------------------- controller */

static int nodelc_init(struct cm *cm, void **state)
{
	static const struct informer_handlers node_h = { node_on_add, node_on_update,
							 node_on_delete };
	static const struct informer_handlers pod_h = { pod_on_add, pod_on_update, pod_on_add };
	const struct cm_config *cfg = cm_config(cm);
	struct nodelc_ctrl *c = xcalloc(1, sizeof(*c));
	unsigned grace_ms = cfg->node_monitor_grace_s * 1000u;

	c->cm = cm;
	cm_api_init(&c->node_events, cm, "node-controller");
	cm_api_init(&c->evict_events, cm, "taint-eviction-controller");
	c->grace_ns = (int64_t)cfg->node_monitor_grace_s * 1000000000ll;
	c->period_ms = MIN(MAX(grace_ms / 8, 100u), 5000u);
	c->default_toleration_s = cfg->pod_eviction_timeout_s;
	c->nodes_q = wq_new("nodelifecycle", 0, 0);
	c->evict_q = wq_new("taint-eviction", 0, 0);
	c->health = json_object();
	c->evictions = json_object();
	pthread_mutex_init(&c->lock, NULL);
	cm_watch(cm, CM_NODES, &node_h, c);
	cm_watch(cm, CM_PODS, &pod_h, c);
	cm_watch(cm, CM_LEASES, NULL, NULL); /* read from the cache only */
	*state = c;
	return 0;
}

static int nodelc_start(struct cm *cm, void *state)
{
	struct nodelc_ctrl *c = state;
	unsigned n = cm_config(cm)->workers;

	log_info("node lifecycle: grace %lld s, monitor every %u ms, default toleration %lld s",
		 (long long)(c->grace_ns / 1000000000ll), c->period_ms, c->default_toleration_s);
	wq_add(c->nodes_q, NODELC_MONITOR_KEY);
	c->node_workers = cm_workers_start("nodelifecycle", c->nodes_q, n, node_sync, c);
	c->evict_workers = cm_workers_start("taint-eviction", c->evict_q, n, evict_sync, c);
	return c->node_workers && c->evict_workers ? 0 : -EAGAIN;
}

static void nodelc_stop(struct cm *cm, void *state)
{
	struct nodelc_ctrl *c = state;

	(void)cm;
	if (!c)
		return;
	cm_workers_stop(c->node_workers);
	cm_workers_stop(c->evict_workers);
	wq_free(c->nodes_q);
	wq_free(c->evict_q);
	json_decref(c->health);
	json_decref(c->evictions);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

const struct controller nodelifecycle_controller = {
	.name = "nodelifecycle",
	.init = nodelc_init,
	.start = nodelc_start,
	.stop = nodelc_stop,
};
