/*
 * replicaset.c - see replicaset.h. Upstream's ReplicaSet controller
 * semantics, built from the API's documented behaviour.
 *
 * One sync: claim the namespace's active pods (adopt orphans that match the
 * selector, release owned pods that no longer match), then, only if every
 * create and delete of the previous sync has been seen by the pod informer
 * (expectations), create or delete the difference to spec.replicas, and
 * finally write the status. Without expectations a second sync that runs
 * before the informer delivered the new pods would count too few pods and
 * create them again.
 *
 * Creations go in slow-start batches (1, 2, 4, ...) so a template the API
 * server refuses costs one failed call, not spec.replicas. Deletions pick
 * the pods that matter least first (see rs_pods_to_delete). Pods being
 * deleted and finished pods are not counted: a ReplicaSet replaces them at
 * once, as upstream does.
 *
 * availableReplicas needs minReadySeconds of readiness; nothing changes in
 * the API when that time passes, so the sync asks to be requeued exactly
 * when the next ready pod becomes available.
 */
#include "control/controllers/replicaset.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "control/controllers/controllers.h"
#include "control/controllers/podutil.h"
#include "jsonx.h"
#include "log.h"
#include "selector.h"
#include "util.h"

#define RS_KIND "ReplicaSet"
#define RS_API_VERSION "apps/v1"

/* ---------------------------------------------------------------- deletion order */

struct ranked {
	const json_t *pod;
	int rank; /* pods of the set on the same node */
	int64_t now;
};

static int phase_order(const json_t *pod)
{
	const char *phase = jsonx_path_str(pod, "status.phase", "");

	if (strcmp(phase, "Running") == 0)
		return 2;
	if (strcmp(phase, "Unknown") == 0)
		return 1;
	return 0; /* Pending and anything unexpected */
}

static long long deletion_cost(const json_t *pod)
{
	const char *v =
		json_string_value(jsonx_getv(pod, "metadata", "annotations",
					     "controller.kubernetes.io/pod-deletion-cost", NULL));

	return v ? atoll(v) : 0;
}

/* floor(log2(seconds)) of a duration, so "ready 3 s" and "ready 2 s" tie. */
static int log_bucket(int64_t ns)
{
	int64_t s = ns / 1000000000ll;

	return s <= 0 ? -1 : (int)log2((double)s);
}

/* < 0 when a should be deleted before b. */
static int delete_cmp(const void *pa, const void *pb)
{
	const struct ranked *a = pa, *b = pb;
	bool a_sched = *jsonx_path_str(a->pod, "spec.nodeName", "") != '\0';
	bool b_sched = *jsonx_path_str(b->pod, "spec.nodeName", "") != '\0';
	int64_t ra, rb;
	long long ca, cb;
	int64_t ta, tb;

	if (a_sched != b_sched)
		return a_sched ? 1 : -1;
	if (phase_order(a->pod) != phase_order(b->pod))
		return phase_order(a->pod) - phase_order(b->pod);
	if (cm_pod_is_ready(a->pod) != cm_pod_is_ready(b->pod))
		return cm_pod_is_ready(a->pod) ? 1 : -1;
	ca = deletion_cost(a->pod);
	cb = deletion_cost(b->pod);
	if (ca != cb)
		return ca < cb ? -1 : 1;
	if (a->rank != b->rank)
		return b->rank - a->rank;
	if (cm_pod_is_ready(a->pod)) {
		ra = cm_pod_ready_since(a->pod);
		rb = cm_pod_ready_since(b->pod);
		if (ra && rb && log_bucket(a->now - ra) != log_bucket(b->now - rb))
			return log_bucket(a->now - ra) - log_bucket(b->now - rb);
	}
	ca = cm_pod_restarts(a->pod);
	cb = cm_pod_restarts(b->pod);
	if (ca != cb)
		return ca > cb ? -1 : 1;
	ta = cm_creation_ns(a->pod);
	tb = cm_creation_ns(b->pod);
	if (ta != tb)
		return ta > tb ? -1 : 1;
	return strcmp(jsonx_path_str(a->pod, "metadata.name", ""),
		      jsonx_path_str(b->pod, "metadata.name", ""));
}

json_t *rs_pods_to_delete(const json_t *pods, int n, int64_t now)
{
	size_t count = json_array_size(pods);
	struct ranked *r;
	json_t *on_node = json_object(), *out = json_array(), *pod;
	size_t i;

	if (n <= 0 || count == 0) {
		json_decref(on_node);
		return out;
	}
	r = xcalloc(count, sizeof(*r));
	json_array_foreach(pods, i, pod) {
		const char *node = jsonx_path_str(pod, "spec.nodeName", "");

		json_object_set_new(on_node, node, json_integer(jsonx_int(on_node, node, 0) + 1));
	}
	json_array_foreach(pods, i, pod) {
		r[i].pod = pod;
		r[i].rank = (int)jsonx_int(on_node, jsonx_path_str(pod, "spec.nodeName", ""), 0);
		r[i].now = now;
	}
	qsort(r, count, sizeof(*r), delete_cmp);
	for (i = 0; i < count && (int)i < n; i++)
		json_array_append(out, (json_t *)r[i].pod);
	free(r);
	json_decref(on_node);
	return out;
}

/* ---------------------------------------------------------------- status */

/* Every label of the template is on the pod with the same value. */
static bool fully_labeled(const json_t *tmpl_labels, const json_t *pod)
{
	const json_t *labels = jsonx_get_path(pod, "metadata.labels");
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)tmpl_labels, k, v) {
		if (!jsonx_equal(v, json_object_get(labels, k)))
			return false;
	}
	return true;
}

json_t *rs_calc_status(const json_t *rs, const json_t *pods, const char *fail_reason,
		       const char *fail_msg, int64_t now, int64_t *wait_ns)
{
	const json_t *tmpl_labels = jsonx_get_path(rs, "spec.template.metadata.labels");
	long long min_ready = jsonx_path_int(rs, "spec.minReadySeconds", 0);
	int labeled = 0, ready = 0, available = 0;
	int64_t soonest = 0;
	json_t *status, *conds, *pod;
	size_t i;

	json_array_foreach(pods, i, pod) {
		int64_t wait;

		if (fully_labeled(tmpl_labels, pod))
			labeled++;
		if (cm_pod_is_ready(pod))
			ready++;
		if (cm_pod_is_available(pod, min_ready, now, &wait))
			available++;
		else if (wait && (!soonest || wait < soonest))
			soonest = wait;
	}
	status = json_pack("{s:i,s:i,s:i,s:i,s:I}", "replicas", (int)json_array_size(pods),
			   "fullyLabeledReplicas", labeled, "readyReplicas", ready,
			   "availableReplicas", available, "observedGeneration",
			   (json_int_t)jsonx_path_int(rs, "metadata.generation", 0));
	conds = jsonx_get_path(rs, "status.conditions");
	if (json_is_array(conds) && json_array_size(conds))
		json_object_set_new(status, "conditions", json_deep_copy(conds));
	if (fail_reason && !cm_cond_get(status, "ReplicaFailure"))
		cm_cond_set(status, cm_cond_new("ReplicaFailure", "True", fail_reason,
						fail_msg ? fail_msg : "", now, false));
	else if (!fail_reason)
		cm_cond_remove(status, "ReplicaFailure");
	if (json_array_size(jsonx_arr(status, "conditions")) == 0)
		json_object_del(status, "conditions");
	if (wait_ns)
		*wait_ns = soonest;
	return status;
}

/* ---------------------------------------------------------------- manage */

struct create_ctx {
	struct rs_env *env;
	const json_t *rs;
	pthread_mutex_t lock; /* guards err_msg */
	char err_msg[512];
};

/* The message of a Status answer, or a generic text. */
static void answer_message(const json_t *out, int rc, char *buf, size_t len)
{
	const char *m = jsonx_str(out, "message", NULL);

	if (m)
		snprintf(buf, len, "%s", m);
	else
		snprintf(buf, len, "%s", rc < 0 ? strerror(-rc) : "unexpected answer");
	if (rc > 0 && !m)
		snprintf(buf, len, "HTTP %d", rc);
}

static int create_one(void *arg, int i)
{
	struct create_ctx *c = arg;
	const struct cm_api *api = c->env->api;
	json_t *pod, *out = NULL;
	char msg[512];
	int rc;

	pod = cm_pod_from_template(jsonx_get_path(c->rs, "spec.template"), c->rs, RS_KIND,
				   RS_API_VERSION);
	rc = api->create(api->ctx, CM_PODS, pod, &out);
	json_decref(pod);
	if (rc == 201) {
		cm_api_event(api, c->rs, RS_KIND, RS_API_VERSION, "Normal", "SuccessfulCreate",
			     "Created pod: %s", jsonx_path_str(out, "metadata.name", ""));
		json_decref(out);
		return 0;
	}
	answer_message(out, rc, msg, sizeof(msg));
	json_decref(out);
	cm_api_event(api, c->rs, RS_KIND, RS_API_VERSION, "Warning", "FailedCreate",
		     "Error creating: %s", msg);
	pthread_mutex_lock(&c->lock);
	if (!c->err_msg[0])
		snprintf(c->err_msg, sizeof(c->err_msg), "%s", msg);
	pthread_mutex_unlock(&c->lock);
	return rc < 0 ? rc : -EIO;
}

/*
 * Create or delete the difference to spec.replicas. 0, or -EIO with the
 * failure's condition reason and message.
 */
static int manage(struct rs_env *env, const char *key, const json_t *rs, const json_t *pods,
		  const char **fail_reason, char *fail_msg, size_t msglen)
{
	const struct cm_api *api = env->api;
	int burst = env->burst > 0 ? env->burst : RS_BURST;
	int want = (int)jsonx_path_int(rs, "spec.replicas", 1);
	int diff = (int)json_array_size(pods) - want;
	int rc = 0;

	if (diff < 0) {
		struct create_ctx c = { .env = env, .rs = rs };
		int n = MIN(-diff, burst), made;

		pthread_mutex_init(&c.lock, NULL);
		/* Expect them all before the first create: the informer may be faster. */
		cm_exp_expect(env->exp, key, n, NULL, 0);
		made = cm_slow_start(n, create_one, &c);
		for (int i = made; i < n; i++)
			cm_exp_creation_observed(env->exp, key);
		pthread_mutex_destroy(&c.lock);
		if (made < n) {
			*fail_reason = "FailedCreate";
			snprintf(fail_msg, msglen, "%s", c.err_msg);
			rc = -EIO;
		}
	} else if (diff > 0) {
		json_t *victims = rs_pods_to_delete(pods, MIN(diff, burst), env->now), *pod;
		size_t n = json_array_size(victims), i;
		const char **uids = xcalloc(n ? n : 1, sizeof(*uids));

		json_array_foreach(victims, i, pod)
			uids[i] = jsonx_path_str(pod, "metadata.uid", "");
		cm_exp_expect(env->exp, key, 0, uids, n);
		json_array_foreach(victims, i, pod) {
			const char *name = jsonx_path_str(pod, "metadata.name", "");
			json_t *out = NULL;
			int d = api->del(api->ctx, CM_PODS,
					 jsonx_path_str(pod, "metadata.namespace", ""), name, NULL,
					 &out);

			if (d == 200 || d == 202) {
				cm_api_event(api, rs, RS_KIND, RS_API_VERSION, "Normal",
					     "SuccessfulDelete", "Deleted pod: %s", name);
			} else {
				/* Not going to be seen deleted because of us. */
				cm_exp_deletion_observed(env->exp, key, uids[i]);
				if (d != 404) {
					char msg[512];

					answer_message(out, d, msg, sizeof(msg));
					cm_api_event(api, rs, RS_KIND, RS_API_VERSION, "Warning",
						     "FailedDelete", "Error deleting: %s", msg);
					*fail_reason = "FailedDelete";
					snprintf(fail_msg, msglen, "%s", msg);
					rc = -EIO;
				}
			}
			json_decref(out);
		}
		free(uids);
		json_decref(victims);
	}
	return rc;
}

int rs_sync(struct rs_env *env, const char *key, const json_t *rs, const json_t *pods,
	    bool need_sync, int64_t *requeue_ns)
{
	const char *fail_reason = NULL;
	struct selector *sel = NULL;
	json_t *active = json_array(), *owned = NULL, *status = NULL, *pod;
	char err[256], fail_msg[512] = "";
	int64_t wait = 0;
	size_t i;
	int rc = 0, st;

	if (requeue_ns)
		*requeue_ns = 0;
	if (selector_from_json(jsonx_get_path(rs, "spec.selector"), &sel, err, sizeof(err)) < 0) {
		/* Invalid objects are the API server's to refuse; nothing to retry. */
		log_warn("replicaset %s: %s", key, err);
		goto out;
	}
	json_array_foreach(pods, i, pod) {
		if (cm_pod_is_active(pod))
			json_array_append(active, pod);
	}
	owned = cm_claim(env->api, CM_PODS, rs, RS_KIND, RS_API_VERSION, sel, active);
	if (need_sync && !cm_is_deleting(rs))
		rc = manage(env, key, rs, owned, &fail_reason, fail_msg, sizeof(fail_msg));

	status = rs_calc_status(rs, owned, fail_reason, fail_msg, env->now, &wait);
	if (!cm_status_equal(status, jsonx_obj(rs, "status"))) {
		st = cm_api_update_status(env->api, CM_REPLICASETS, rs, status, NULL);
		if (st != 200 && st != 404) {
			log_debug("replicaset %s: status update: %d", key, st);
			if (rc == 0)
				rc = st < 0 ? st : -EAGAIN;
		}
	}
	/* Ready pods waiting out minReadySeconds: come back when the first is available. */
	if (rc == 0 && wait > 0 && requeue_ns)
		*requeue_ns = wait;
out:
	selector_free(sel);
	json_decref(active);
	json_decref(owned);
	json_decref(status);
	return rc;
}

/* ---------------------------------------------------------------- controller */

static int sync_key(void *ctx, const char *key)
{
	struct cm_pod_ctrl *c = ctx;
	struct rs_env env = { .api = &c->api, .exp = c->pods.exp, .now = (int64_t)now_real_ns() };
	const char *name;
	json_t *rs, *pods;
	int64_t requeue = 0;
	bool need_sync;
	char ns[256];
	int rc;

	if (cm_split_key(key, ns, sizeof(ns), &name) < 0)
		return 0;
	rs = cm_get(c->pods.cm, CM_REPLICASETS, ns, name);
	if (!rs) {
		cm_exp_forget(c->pods.exp, key);
		return 0;
	}
	/* Before listing: a pod seen after the list must not satisfy them. */
	need_sync = cm_exp_satisfied(c->pods.exp, key);
	pods = cm_list(c->pods.cm, CM_PODS, ns, NULL);
	rc = rs_sync(&env, key, rs, pods, need_sync, &requeue);
	if (requeue > 0)
		wq_add_after(c->pods.q, key, (unsigned)(requeue / 1000000 + 1));
	json_decref(pods);
	json_decref(rs);
	return rc;
}

static int rs_init(struct cm *cm, void **state)
{
	struct cm_pod_ctrl *c = xcalloc(1, sizeof(*c));

	cm_pod_ctrl_init(c, cm, CM_REPLICASETS, RS_KIND, "replicaset", "replicaset-controller");
	*state = c;
	return 0;
}

static int rs_start(struct cm *cm, void *state)
{
	return cm_pod_ctrl_start(state, "replicaset", sync_key, state);
}

static void rs_stop(struct cm *cm, void *state)
{
	if (state)
		cm_pod_ctrl_stop(state);
	free(state);
}

const struct controller replicaset_controller = {
	.name = "replicaset",
	.init = rs_init,
	.start = rs_start,
	.stop = rs_stop,
};
