/*
 * daemonset.c - see daemonset.h. Upstream's DaemonSet controller
 * semantics, built from the API's documented behaviour.
 *
 * Pods are pinned to their node the way upstream does it: the pod gets a
 * required node affinity term matchFields metadata.name In [node] and is
 * left to the scheduler, so resource fit, ports and preemption are the
 * scheduler's business as for every other pod; spec.nodeName is never set
 * by the controller.
 *
 * One sync groups the DaemonSet's pods by target node and, unless earlier
 * creates/deletes are still expected, creates a pod where one should run
 * and none exists (a terminating one counts as existing: the replacement
 * waits until it is gone, so two daemons never share a node's ports),
 * deletes extra pods (all but the oldest), finished ones, those on nodes
 * the DaemonSet no longer fits, and unscheduled ones for nodes that are
 * gone. Then a rolling update deletes old-template pods while the
 * unavailable nodes stay within maxUnavailable; the next syncs create their
 * replacements. Finally the status.
 *
 * The revision of a pod is the hash of the template it was made from, in
 * the controller-revision-hash label (capstan serves no ControllerRevision
 * objects, so the hash is computed from the template itself).
 * Rejected: maxSurge > 0 (two pods per node during an update); it is
 * treated as 0.
 */
#include "control/controllers/daemonset.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "control/controllers/controllers.h"
#include "control/controllers/podutil.h"
#include "jsonx.h"
#include "log.h"
#include "selector.h"
#include "util.h"

#define DS_KIND "DaemonSet"
#define DS_API_VERSION "apps/v1"
#define GEN_LABEL "pod-template-generation"
#define GEN_ANNOTATION "deprecated.daemonset.template.generation"

/* ---------------------------------------------------------------- node eligibility */

bool ds_tolerates(const json_t *tol, const json_t *taint)
{
	const char *effect = jsonx_str(tol, "effect", ""), *key = jsonx_str(tol, "key", "");
	const char *op = jsonx_str(tol, "operator", "");

	if (*effect && strcmp(effect, jsonx_str(taint, "effect", "")) != 0)
		return false;
	if (*key && strcmp(key, jsonx_str(taint, "key", "")) != 0)
		return false;
	if (strcmp(op, "Exists") == 0)
		return true;
	if (*op && strcmp(op, "Equal") != 0)
		return false;
	return strcmp(jsonx_str(tol, "value", ""), jsonx_str(taint, "value", "")) == 0;
}

const json_t *ds_untolerated_taint(const json_t *node, const json_t *tolerations,
				   bool no_execute_only)
{
	json_t *taint, *tol;
	size_t i, j;

	json_array_foreach(jsonx_get_path(node, "spec.taints"), i, taint) {
		const char *effect = jsonx_str(taint, "effect", "");
		bool tolerated = false;

		if (strcmp(effect, "NoExecute") != 0 &&
		    (no_execute_only || strcmp(effect, "NoSchedule") != 0))
			continue;
		json_array_foreach(tolerations, j, tol)
			tolerated |= ds_tolerates(tol, taint);
		if (!tolerated)
			return taint;
	}
	return NULL;
}

static const struct {
	enum selector_op op;
	const char *name;
} node_ops[] = {
	{ SELECTOR_OP_IN, "In" },	  { SELECTOR_OP_NOT_IN, "NotIn" },
	{ SELECTOR_OP_EXISTS, "Exists" }, { SELECTOR_OP_DOES_NOT_EXIST, "DoesNotExist" },
	{ SELECTOR_OP_GT, "Gt" },	  { SELECTOR_OP_LT, "Lt" },
};

/* A NodeSelectorRequirement on labels; an invalid one matches nothing. */
static bool label_requirement_matches(const json_t *req, const json_t *labels)
{
	const json_t *vals = jsonx_arr(req, "values");
	const char *op = jsonx_str(req, "operator", "");
	struct selector *sel = selector_everything();
	const char **v = xcalloc(json_array_size(vals) + 1, sizeof(*v));
	size_t n = 0, i;
	json_t *x;
	bool ok = false;

	json_array_foreach(vals, i, x)
		if (json_is_string(x))
			v[n++] = json_string_value(x);
	for (i = 0; i < ARRAY_SIZE(node_ops); i++) {
		if (strcmp(op, node_ops[i].name) == 0) {
			ok = selector_add(sel, jsonx_str(req, "key", ""), node_ops[i].op, v, n,
					  NULL, 0) == 0 &&
			     selector_matches(sel, labels);
			break;
		}
	}
	free(v);
	selector_free(sel);
	return ok;
}

/* matchFields: only metadata.name exists, with In and NotIn. */
static bool field_requirement_matches(const json_t *req, const json_t *node)
{
	const char *op = jsonx_str(req, "operator", ""),
		   *name = jsonx_path_str(node, "metadata.name", "");
	bool in = false;
	json_t *x;
	size_t i;

	if (strcmp(jsonx_str(req, "key", ""), "metadata.name") != 0)
		return false;
	json_array_foreach(jsonx_arr(req, "values"), i, x)
		in |= strcmp(json_string_value(x) ?: "", name) == 0;
	if (strcmp(op, "In") == 0)
		return in;
	if (strcmp(op, "NotIn") == 0)
		return !in;
	return false;
}

/* A NodeSelectorTerm: every requirement holds; an empty term matches nothing. */
static bool term_matches(const json_t *term, const json_t *node)
{
	const json_t *exprs = jsonx_arr(term, "matchExpressions"),
		     *fields = jsonx_arr(term, "matchFields");
	const json_t *labels = jsonx_get_path(node, "metadata.labels");
	json_t *req;
	size_t i;

	if (json_array_size(exprs) == 0 && json_array_size(fields) == 0)
		return false;
	json_array_foreach(exprs, i, req)
		if (!label_requirement_matches(req, labels))
			return false;
	json_array_foreach(fields, i, req)
		if (!field_requirement_matches(req, node))
			return false;
	return true;
}

bool ds_node_matches(const json_t *pod_spec, const json_t *node)
{
	const json_t *ns = jsonx_obj(pod_spec, "nodeSelector");
	const json_t *labels = jsonx_get_path(node, "metadata.labels");
	const json_t *required = jsonx_get_path(
		pod_spec, "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution");
	const char *k;
	json_t *v, *term;
	size_t i;

	json_object_foreach((json_t *)ns, k, v) {
		if (!jsonx_equal(v, json_object_get(labels, k)))
			return false;
	}
	if (!required)
		return true;
	json_array_foreach(jsonx_arr(required, "nodeSelectorTerms"), i, term)
		if (term_matches(term, node))
			return true;
	return false;
}

static bool same_toleration(const json_t *a, const json_t *b)
{
	static const char *const fields[] = { "key", "operator", "value", "effect" };

	for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
		if (strcmp(jsonx_str(a, fields[i], ""), jsonx_str(b, fields[i], "")) != 0)
			return false;
	return true;
}

void ds_add_daemon_tolerations(json_t *spec)
{
	static const struct {
		const char *key, *effect;
	} daemon[] = {
		{ "node.kubernetes.io/not-ready", "NoExecute" },
		{ "node.kubernetes.io/unreachable", "NoExecute" },
		{ "node.kubernetes.io/disk-pressure", "NoSchedule" },
		{ "node.kubernetes.io/memory-pressure", "NoSchedule" },
		{ "node.kubernetes.io/pid-pressure", "NoSchedule" },
		{ "node.kubernetes.io/unschedulable", "NoSchedule" },
		{ "node.kubernetes.io/network-unavailable", "NoSchedule" }, /* hostNetwork only */
	};
	json_t *tols = jsonx_arr(spec, "tolerations");
	size_t n = ARRAY_SIZE(daemon);

	if (!jsonx_bool(spec, "hostNetwork", false))
		n--;
	if (!tols) {
		tols = json_array();
		json_object_set_new(spec, "tolerations", tols);
	}
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_pack("{s:s,s:s,s:s}", "key", daemon[i].key, "operator", "Exists",
				      "effect", daemon[i].effect),
		       *x;
		bool have = false;
		size_t j;

		json_array_foreach(tols, j, x)
			have |= same_toleration(x, t);
		if (have)
			json_decref(t);
		else
			json_array_append_new(tols, t);
	}
}

void ds_node_should_run(const json_t *ds, const json_t *node, bool *run, bool *keep)
{
	const json_t *tspec = jsonx_get_path(ds, "spec.template.spec");
	const char *pinned = jsonx_str(tspec, "nodeName", "");
	json_t *spec;

	*run = *keep = false;
	if (*pinned && strcmp(pinned, jsonx_path_str(node, "metadata.name", "")) != 0)
		return;
	if (!ds_node_matches(tspec, node))
		return;
	spec = tspec ? json_deep_copy(tspec) : json_object();
	ds_add_daemon_tolerations(spec);
	if (!ds_untolerated_taint(node, jsonx_arr(spec, "tolerations"), false)) {
		*run = *keep = true;
	} else {
		/* Only NoSchedule is untolerated: a pod already there stays. */
		*keep = !ds_untolerated_taint(node, jsonx_arr(spec, "tolerations"), true);
	}
	json_decref(spec);
}

const char *ds_pod_node(const json_t *pod)
{
	const char *node = jsonx_path_str(pod, "spec.nodeName", "");
	json_t *term, *req;
	size_t i, j;

	if (*node)
		return node;
	json_array_foreach(jsonx_get_path(pod, "spec.affinity.nodeAffinity."
					       "requiredDuringSchedulingIgnoredDuringExecution."
					       "nodeSelectorTerms"),
			   i, term) {
		json_array_foreach(jsonx_arr(term, "matchFields"), j, req) {
			if (strcmp(jsonx_str(req, "key", ""), "metadata.name") == 0 &&
			    strcmp(jsonx_str(req, "operator", ""), "In") == 0 &&
			    json_array_size(jsonx_arr(req, "values")) == 1)
				return json_string_value(
					json_array_get(jsonx_arr(req, "values"), 0));
		}
	}
	return NULL;
}

json_t *ds_new_pod(const json_t *ds, const char *node, const char *hash)
{
	json_t *pod = cm_pod_from_template(jsonx_get_path(ds, "spec.template"), ds, DS_KIND,
					   DS_API_VERSION);
	json_t *spec = json_object_get(pod, "spec");
	const char *gen =
		json_string_value(jsonx_getv(ds, "metadata", "annotations", GEN_ANNOTATION, NULL));
	json_t *term = json_pack("[{s:[{s:s,s:s,s:[s]}]}]", "matchFields", "key", "metadata.name",
				 "operator", "In", "values", node);

	jsonx_set_path(pod, "metadata.labels." DS_HASH_LABEL, json_string(hash));
	if (gen)
		jsonx_set_path(pod, "metadata.labels." GEN_LABEL, json_string(gen));
	ds_add_daemon_tolerations(spec);
	/* Upstream's pinning: the required terms become exactly this node. */
	jsonx_set_path(spec,
		       "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
		       "nodeSelectorTerms",
		       term);
	return pod;
}

static bool pod_is_updated(const json_t *ds, const json_t *pod, const char *hash)
{
	const char *gen =
		json_string_value(jsonx_getv(ds, "metadata", "annotations", GEN_ANNOTATION, NULL));
	const char *ph =
		json_string_value(jsonx_getv(pod, "metadata", "labels", DS_HASH_LABEL, NULL));
	const char *pg = json_string_value(jsonx_getv(pod, "metadata", "labels", GEN_LABEL, NULL));

	return (ph && strcmp(ph, hash) == 0) || (gen && pg && strcmp(gen, pg) == 0);
}

int ds_rollout_status(const json_t *ds, char *msg, size_t len)
{
	const json_t *st = jsonx_obj(ds, "status");
	const char *name = jsonx_path_str(ds, "metadata.name", "");
	long long desired = jsonx_int(st, "desiredNumberScheduled", 0);

	if (strcmp(jsonx_path_str(ds, "spec.updateStrategy.type", "RollingUpdate"),
		   "RollingUpdate") != 0) {
		snprintf(msg, len,
			 "rollout status is only available for RollingUpdate strategy type");
		return -EINVAL;
	}
	if (jsonx_path_int(ds, "metadata.generation", 0) > jsonx_int(st, "observedGeneration", 0)) {
		snprintf(msg, len, "Waiting for daemon set spec update to be observed...");
		return 0;
	}
	if (jsonx_int(st, "updatedNumberScheduled", 0) < desired) {
		snprintf(msg, len,
			 "Waiting for daemon set \"%s\" rollout to finish: %lld out of %lld new "
			 "pods "
			 "have been updated...",
			 name, jsonx_int(st, "updatedNumberScheduled", 0), desired);
		return 0;
	}
	if (jsonx_int(st, "numberAvailable", 0) < desired) {
		snprintf(msg, len,
			 "Waiting for daemon set \"%s\" rollout to finish: %lld of %lld updated "
			 "pods "
			 "are available...",
			 name, jsonx_int(st, "numberAvailable", 0), desired);
		return 0;
	}
	snprintf(msg, len, "daemon set \"%s\" successfully rolled out", name);
	return 1;
}

/* ---------------------------------------------------------------- one sync */

struct dssync {
	struct ds_env *env;
	const struct cm_api *api;
	const char *key;
	const json_t *ds;
	const json_t *nodes;
	json_t *by_node; /* node name -> array of owned pods (oldest, scheduled first) */
	char hash[16];
	json_t *create; /* node names needing a pod */
	json_t *del;	/* pods to delete */
	pthread_mutex_t lock;
	char err[512];
};

/* Scheduled first, then oldest, then by name (upstream's podByCreationTimestampAndPhase). */
static int pod_order(const void *pa, const void *pb)
{
	const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
	bool sa = *jsonx_path_str(a, "spec.nodeName", ""),
	     sb = *jsonx_path_str(b, "spec.nodeName", "");
	int64_t ta = cm_creation_ns(a), tb = cm_creation_ns(b);

	if (sa != sb)
		return sa ? -1 : 1;
	if (ta != tb)
		return ta < tb ? -1 : 1;
	return strcmp(jsonx_path_str(a, "metadata.name", ""),
		      jsonx_path_str(b, "metadata.name", ""));
}

static void group_by_node(struct dssync *s, const json_t *owned)
{
	const char *k;
	json_t *pod, *arr;
	size_t i;

	json_array_foreach(owned, i, pod) {
		const char *node = ds_pod_node(pod);

		if (!node)
			continue;
		arr = json_object_get(s->by_node, node);
		if (!arr) {
			arr = json_array();
			json_object_set_new(s->by_node, node, arr);
		}
		json_array_append(arr, pod);
	}
	json_object_foreach(s->by_node, k, arr) {
		size_t n = json_array_size(arr);
		json_t **v = xcalloc(n, sizeof(*v));

		for (i = 0; i < n; i++)
			v[i] = json_incref(json_array_get(arr, i));
		qsort(v, n, sizeof(*v), pod_order);
		json_array_clear(arr);
		for (i = 0; i < n; i++)
			json_array_append_new(arr, v[i]);
		free(v);
	}
}

static void delete_later(struct dssync *s, const json_t *pod)
{
	json_t *x;
	size_t i;

	json_array_foreach(s->del, i, x) {
		if (x == pod)
			return;
	}
	json_array_append(s->del, (json_t *)pod);
}

/* What to create and delete so every node has exactly the pod it should. */
static void plan(struct dssync *s)
{
	json_t *node, *pod, *pods;
	const char *name;
	size_t i, j;

	json_array_foreach(s->nodes, i, node) {
		bool run, keep;
		json_t *running = json_array();

		name = jsonx_path_str(node, "metadata.name", "");
		ds_node_should_run(s->ds, node, &run, &keep);
		pods = json_object_get(s->by_node, name);
		if (run && !pods) {
			json_array_append_new(s->create, json_string(name));
		} else if (keep) {
			json_array_foreach(pods, j, pod) {
				const char *phase = jsonx_path_str(pod, "status.phase", "");

				if (cm_is_deleting(pod))
					continue;
				if (strcmp(phase, "Failed") == 0) {
					cm_api_event(
						s->api, s->ds, DS_KIND, DS_API_VERSION, "Warning",
						"FailedDaemonPod",
						"Found failed daemon pod %s/%s on node %s, will "
						"try to kill it",
						jsonx_path_str(pod, "metadata.namespace", ""),
						jsonx_path_str(pod, "metadata.name", ""), name);
					delete_later(s, pod);
				} else if (strcmp(phase, "Succeeded") == 0) {
					delete_later(s, pod);
				} else {
					json_array_append(running, pod);
				}
			}
			/* One daemon per node: keep the oldest (already first). */
			for (j = 1; j < json_array_size(running); j++)
				delete_later(s, json_array_get(running, j));
		} else {
			json_array_foreach(pods, j, pod) {
				if (!cm_is_deleting(pod))
					delete_later(s, pod);
			}
		}
		json_decref(running);
	}
	/* Unscheduled pods for nodes that are gone: nobody else will remove them. */
	json_object_foreach(s->by_node, name, pods) {
		bool exists = false;

		json_array_foreach(s->nodes, i, node)
			exists |= strcmp(jsonx_path_str(node, "metadata.name", ""), name) == 0;
		if (exists)
			continue;
		json_array_foreach(pods, j, pod) {
			if (!*jsonx_path_str(pod, "spec.nodeName", "") && !cm_is_deleting(pod))
				delete_later(s, pod);
		}
	}
}

/* Old pods to delete for a rolling update, within maxUnavailable. */
static void plan_rolling(struct dssync *s)
{
	const json_t *ru = jsonx_get_path(s->ds, "spec.updateStrategy.rollingUpdate");
	long long min_ready = jsonx_path_int(s->ds, "spec.minReadySeconds", 0);
	json_t *candidates = json_array(), *node, *pods, *pod;
	int desired = 0, max_unavailable = 1, unavailable = 0;
	const char *name;
	size_t i, j;

	if (strcmp(jsonx_path_str(s->ds, "spec.updateStrategy.type", "RollingUpdate"),
		   "RollingUpdate") != 0) {
		json_decref(candidates);
		return;
	}
	json_array_foreach(s->nodes, i, node) {
		bool run, keep;

		ds_node_should_run(s->ds, node, &run, &keep);
		desired += run;
		/* A node that should have a pod and has none is an unavailable one. */
		if (run && !json_object_get(s->by_node, jsonx_path_str(node, "metadata.name", "")))
			unavailable++;
	}
	if (cm_int_or_percent(jsonx_get_path(ru, "maxUnavailable"), "1", desired, true,
			      &max_unavailable) < 0 ||
	    max_unavailable == 0)
		max_unavailable = 1;
	json_object_foreach(s->by_node, name, pods) {
		const json_t *new_pod = NULL, *old_pod = NULL;
		bool ambiguous = false;

		json_array_foreach(pods, j, pod) {
			const json_t **slot;

			if (cm_is_deleting(pod))
				continue;
			slot = pod_is_updated(s->ds, pod, s->hash) ? &new_pod : &old_pod;
			ambiguous |= *slot != NULL;
			*slot = pod;
		}
		/* Several pods, or none, or both kinds: the plan above deals with it. */
		if (ambiguous || (!new_pod && !old_pod) || (new_pod && old_pod)) {
			unavailable++;
		} else if (new_pod) {
			if (!cm_pod_is_available(new_pod, min_ready, s->env->now, NULL))
				unavailable++;
		} else if (!cm_pod_is_available(old_pod, min_ready, s->env->now, NULL)) {
			/* An unavailable old pod costs nothing to replace. */
			delete_later(s, old_pod);
		} else if (unavailable < max_unavailable) {
			json_array_append(candidates, (json_t *)old_pod);
		}
	}
	for (i = 0; i < json_array_size(candidates) && (int)i < max_unavailable - unavailable; i++)
		delete_later(s, json_array_get(candidates, i));
	json_decref(candidates);
}

static void remember_error(struct dssync *s, const json_t *out, int rc)
{
	pthread_mutex_lock(&s->lock);
	if (!s->err[0])
		snprintf(s->err, sizeof(s->err), "%s",
			 jsonx_str(out, "message", rc < 0 ? strerror(-rc) : "API error"));
	pthread_mutex_unlock(&s->lock);
}

static int create_one(void *ctx, int i)
{
	struct dssync *s = ctx;
	const char *node = json_string_value(json_array_get(s->create, (size_t)i));
	json_t *pod = ds_new_pod(s->ds, node, s->hash), *out = NULL;
	int rc = s->api->create(s->api->ctx, CM_PODS, pod, &out);

	json_decref(pod);
	if (rc == 201) {
		cm_api_event(s->api, s->ds, DS_KIND, DS_API_VERSION, "Normal", "SuccessfulCreate",
			     "Created pod: %s", jsonx_path_str(out, "metadata.name", ""));
		json_decref(out);
		return 0;
	}
	cm_api_event(s->api, s->ds, DS_KIND, DS_API_VERSION, "Warning", "FailedCreate",
		     "Error creating: %s", jsonx_str(out, "message", "API error"));
	remember_error(s, out, rc);
	json_decref(out);
	return rc < 0 ? rc : -EIO;
}

/* Carry out the plan with expectations. 0 or -EIO. */
static int execute(struct dssync *s)
{
	int burst = s->env->burst > 0 ? s->env->burst : DS_BURST;
	int ncreate = MIN((int)json_array_size(s->create), burst);
	int ndel = MIN((int)json_array_size(s->del), burst), made, rc = 0;
	const char **uids = xcalloc((size_t)ndel + 1, sizeof(*uids));

	for (int i = 0; i < ndel; i++)
		uids[i] = jsonx_path_str(json_array_get(s->del, (size_t)i), "metadata.uid", "");
	cm_exp_expect(s->env->exp, s->key, ncreate, uids, (size_t)ndel);
	made = cm_slow_start(ncreate, create_one, s);
	for (int i = made; i < ncreate; i++)
		cm_exp_creation_observed(s->env->exp, s->key);
	if (made < ncreate)
		rc = -EIO;
	for (int i = 0; i < ndel; i++) {
		const json_t *pod = json_array_get(s->del, (size_t)i);
		const char *name = jsonx_path_str(pod, "metadata.name", "");
		json_t *out = NULL;
		int d = s->api->del(s->api->ctx, CM_PODS,
				    jsonx_path_str(pod, "metadata.namespace", ""), name, NULL,
				    &out);

		if (d == 200 || d == 202) {
			cm_api_event(s->api, s->ds, DS_KIND, DS_API_VERSION, "Normal",
				     "SuccessfulDelete", "Deleted pod: %s", name);
		} else {
			cm_exp_deletion_observed(s->env->exp, s->key, uids[i]);
			if (d != 404) {
				remember_error(s, out, d);
				rc = -EIO;
			}
		}
		json_decref(out);
	}
	free(uids);
	return rc;
}

/* The status from the pods as grouped; *wait_ns: when the next ready pod becomes available. */
static json_t *calc_status(struct dssync *s, bool observed, int64_t *wait_ns)
{
	long long min_ready = jsonx_path_int(s->ds, "spec.minReadySeconds", 0);
	int desired = 0, current = 0, mis = 0, ready = 0, available = 0, updated = 0;
	const json_t *old = jsonx_obj(s->ds, "status");
	json_t *node, *st, *v;
	size_t i;

	*wait_ns = 0;
	json_array_foreach(s->nodes, i, node) {
		json_t *pods =
			json_object_get(s->by_node, jsonx_path_str(node, "metadata.name", ""));
		const json_t *pod = json_array_get(pods, 0);
		bool run, keep;
		int64_t wait;

		ds_node_should_run(s->ds, node, &run, &keep);
		if (!run) {
			mis += pod != NULL;
			continue;
		}
		desired++;
		if (!pod)
			continue;
		current++;
		if (cm_pod_is_ready(pod)) {
			ready++;
			if (cm_pod_is_available(pod, min_ready, s->env->now, &wait))
				available++;
			else if (wait && (!*wait_ns || wait < *wait_ns))
				*wait_ns = wait;
		}
		updated += pod_is_updated(s->ds, pod, s->hash);
	}
	st = json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:I}", "desiredNumberScheduled", desired,
		       "currentNumberScheduled", current, "numberMisscheduled", mis, "numberReady",
		       ready, "numberAvailable", available, "updatedNumberScheduled", updated,
		       "numberUnavailable", desired - available, "observedGeneration",
		       (json_int_t)(observed ? jsonx_path_int(s->ds, "metadata.generation", 0)
					     : jsonx_int(old, "observedGeneration", 0)));
	if ((v = jsonx_get_path(old, "collisionCount")))
		json_object_set(st, "collisionCount", v);
	if ((v = jsonx_get_path(old, "conditions")))
		json_object_set(st, "conditions", v);
	return st;
}

int ds_sync(struct ds_env *env, const char *key, const json_t *ds, const json_t *nodes,
	    const json_t *pods, bool need_sync, int64_t *requeue_ns)
{
	struct dssync s = { .env = env, .api = env->api, .key = key, .ds = ds, .nodes = nodes };
	struct selector *sel = NULL;
	json_t *owned = NULL, *st = NULL;
	char err[256];
	int64_t wait = 0;
	int rc = 0, u;

	if (requeue_ns)
		*requeue_ns = 0;
	if (selector_from_json(jsonx_get_path(ds, "spec.selector"), &sel, err, sizeof(err)) < 0) {
		log_warn("daemonset %s: %s", key, err);
		return 0;
	}
	if (selector_empty(sel)) {
		cm_api_event(env->api, ds, DS_KIND, DS_API_VERSION, "Warning", "SelectingAll",
			     "This daemon set is selecting all pods. A non-empty selector is "
			     "required.");
		selector_free(sel);
		return 0;
	}
	pthread_mutex_init(&s.lock, NULL);
	s.by_node = json_object();
	s.create = json_array();
	s.del = json_array();
	cm_template_hash(jsonx_get_path(ds, "spec.template"),
			 jsonx_path_int(ds, "status.collisionCount", -1), s.hash, sizeof(s.hash));
	owned = cm_claim(env->api, CM_PODS, ds, DS_KIND, DS_API_VERSION, sel, pods);
	group_by_node(&s, owned);
	if (need_sync && !cm_is_deleting(ds)) {
		plan(&s);
		/*
		 * Old pods are replaced only when the node-level plan has nothing
		 * to do (upstream: once expectations are met after manage): a pod
		 * just created is not in the cache yet, and its node must not look
		 * like it has none.
		 */
		if (json_array_size(s.create) == 0 && json_array_size(s.del) == 0)
			plan_rolling(&s);
		rc = execute(&s);
		if (rc < 0)
			log_warn("daemonset %s: %s", key, s.err);
	}
	st = calc_status(&s, need_sync, &wait);
	if (!cm_status_equal(st, jsonx_obj(ds, "status"))) {
		u = cm_api_update_status(env->api, CM_DAEMONSETS, ds, st, NULL);
		if (u != 200 && u != 404 && rc == 0)
			rc = u < 0 ? u : -EAGAIN;
	}
	if (rc == 0 && wait > 0 && requeue_ns)
		*requeue_ns = wait;
	json_decref(st);
	json_decref(owned);
	json_decref(s.by_node);
	json_decref(s.create);
	json_decref(s.del);
	selector_free(sel);
	pthread_mutex_destroy(&s.lock);
	return rc;
}

/* ---------------------------------------------------------------- controller */

static void enqueue_all(struct cm_pod_ctrl *c)
{
	json_t *all = cm_list(c->pods.cm, CM_DAEMONSETS, NULL, NULL), *ds;
	size_t i;

	json_array_foreach(all, i, ds)
		cm_enqueue(c->pods.q, ds);
	json_decref(all);
}

static void node_on_add(void *ctx, const json_t *node)
{
	enqueue_all(ctx);
}

/* Only what decides eligibility matters: labels, spec (taints), condition statuses. */
static bool node_changed(const json_t *a, const json_t *b)
{
	const json_t *ca = jsonx_get_path(a, "status.conditions");
	json_t *x;
	size_t i;

	if (!jsonx_equal(jsonx_get_path(a, "metadata.labels"),
			 jsonx_get_path(b, "metadata.labels")) ||
	    !jsonx_equal(jsonx_obj(a, "spec"), jsonx_obj(b, "spec")) ||
	    json_array_size(ca) != json_array_size(jsonx_get_path(b, "status.conditions")))
		return true;
	json_array_foreach(ca, i, x) {
		const json_t *y = cm_cond_get(jsonx_obj(b, "status"), jsonx_str(x, "type", ""));

		if (strcmp(jsonx_str(x, "status", ""), jsonx_str(y, "status", "")) != 0)
			return true;
	}
	return false;
}

static void node_on_update(void *ctx, const json_t *old_node, const json_t *new_node)
{
	if (node_changed(old_node, new_node))
		enqueue_all(ctx);
}

static int sync_key(void *ctx, const char *key)
{
	struct cm_pod_ctrl *c = ctx;
	struct ds_env env = { .api = &c->api, .exp = c->pods.exp, .now = (int64_t)now_real_ns() };
	const char *name;
	json_t *ds, *nodes, *pods;
	int64_t requeue = 0;
	bool need_sync;
	char ns[256];
	int rc;

	if (cm_split_key(key, ns, sizeof(ns), &name) < 0)
		return 0;
	ds = cm_get(c->pods.cm, CM_DAEMONSETS, ns, name);
	if (!ds) {
		cm_exp_forget(c->pods.exp, key);
		return 0;
	}
	need_sync = cm_exp_satisfied(c->pods.exp, key);
	nodes = cm_list(c->pods.cm, CM_NODES, NULL, NULL);
	pods = cm_list(c->pods.cm, CM_PODS, ns, NULL);
	rc = ds_sync(&env, key, ds, nodes, pods, need_sync, &requeue);
	if (requeue > 0)
		wq_add_after(c->pods.q, key,
			     (unsigned)MIN(requeue / 1000000 + 1, (int64_t)UINT_MAX));
	json_decref(pods);
	json_decref(nodes);
	json_decref(ds);
	return rc;
}

static int ds_init(struct cm *cm, void **state)
{
	static const struct informer_handlers node_h = { node_on_add, node_on_update, node_on_add };
	struct cm_pod_ctrl *c = xcalloc(1, sizeof(*c));

	cm_pod_ctrl_init(c, cm, CM_DAEMONSETS, DS_KIND, "daemonset", "daemonset-controller");
	cm_watch(cm, CM_NODES, &node_h, c);
	*state = c;
	return 0;
}

static int ds_start(struct cm *cm, void *state)
{
	return cm_pod_ctrl_start(state, "daemonset", sync_key, state);
}

static void ds_stop(struct cm *cm, void *state)
{
	if (state)
		cm_pod_ctrl_stop(state);
	free(state);
}

const struct controller daemonset_controller = {
	.name = "daemonset",
	.init = ds_init,
	.start = ds_start,
	.stop = ds_stop,
};
