/*
 * daemonset.h - the DaemonSet controller: one pod of the DaemonSet's
 * template on every node it may run on, replaced node by node (rolling
 * update, maxUnavailable) when the template changes.
 *
 * ds_sync() is one reconcile with its inputs passed in (tests drive it
 * with a recording struct cm_api); the node eligibility rules are public
 * so they can be checked on their own.
 */
#ifndef CAPSTAN_CONTROLLERS_DAEMONSET_H
#define CAPSTAN_CONTROLLERS_DAEMONSET_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "control/controllers/ctrl.h"

#define DS_HASH_LABEL "controller-revision-hash"
/* Most creates or deletes of one sync (upstream's burstReplicas). */
#define DS_BURST 250

struct ds_env {
	const struct cm_api *api;
	struct cm_expectations *exp;
	int64_t now; /* ns since the epoch */
	int burst;   /* 0 = DS_BURST */
};

/*
 * Reconcile ds (borrowed) with nodes (every Node) and pods (every pod of
 * its namespace): claim pods, create the missing daemon pods, delete extra,
 * failed and misplaced ones, replace old pods within maxUnavailable, and
 * write the status. need_sync is cm_exp_satisfied(env->exp, key) asked
 * before pods were listed; without it only the status is written (and
 * observedGeneration is not raised). 0 when done, -errno to retry.
 * *requeue_ns (may be NULL) gets when a ready pod becomes available, or 0.
 */
int ds_sync(struct ds_env *env, const char *key, const json_t *ds, const json_t *nodes,
	    const json_t *pods, bool need_sync, int64_t *requeue_ns);

/* ---------------------------------------------------------------- node eligibility */

/* A toleration (object) tolerates a taint (object), as upstream's ToleratesTaint. */
bool ds_tolerates(const json_t *toleration, const json_t *taint);
/*
 * The first taint of node with effect NoSchedule or NoExecute (only
 * NoExecute when no_execute_only) that no toleration in tolerations
 * (array) tolerates (borrowed), or NULL.
 */
const json_t *ds_untolerated_taint(const json_t *node, const json_t *tolerations,
				   bool no_execute_only);
/* node satisfies pod_spec's nodeSelector and required node affinity. */
bool ds_node_matches(const json_t *pod_spec, const json_t *node);
/*
 * Add the tolerations every daemon pod gets (not-ready and unreachable
 * NoExecute; disk-, memory-, pid-pressure and unschedulable NoSchedule;
 * network-unavailable for hostNetwork pods) to pod_spec, unless an equal
 * toleration is there.
 */
void ds_add_daemon_tolerations(json_t *pod_spec);
/*
 * Whether ds should run a pod on node (*run), and whether a pod already
 * there may stay (*keep: a taint it does not tolerate is only NoSchedule).
 */
void ds_node_should_run(const json_t *ds, const json_t *node, bool *run, bool *keep);
/* The node a daemon pod is for: spec.nodeName, else its matchFields metadata.name. */
const char *ds_pod_node(const json_t *pod);

/* The pod ds runs on node: template, daemon tolerations, hash label, node affinity. */
json_t *ds_new_pod(const json_t *ds, const char *node, const char *hash);

/*
 * `kubectl rollout status` for a DaemonSet: 1 when rolled out, 0 when
 * waiting (msg says why), -EINVAL for a strategy it cannot follow.
 */
int ds_rollout_status(const json_t *ds, char *msg, size_t len);

#endif
