/*
 * replicaset.h - the ReplicaSet controller: keeps spec.replicas pods of a
 * ReplicaSet's template running and reports them in its status.
 *
 * rs_sync() is one reconcile of one ReplicaSet with its inputs passed in,
 * so tests drive it with objects built in memory and a recording struct
 * cm_api; replicaset_controller (controllers.h) wires it to the informers.
 */
#ifndef CAPSTAN_CONTROLLERS_REPLICASET_H
#define CAPSTAN_CONTROLLERS_REPLICASET_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "control/controllers/ctrl.h"

/* Most creates or deletes of one sync (upstream's burstReplicas). */
#define RS_BURST 500

struct rs_env {
	const struct cm_api *api;
	struct cm_expectations *exp;
	int64_t now; /* ns since the epoch */
	int burst;   /* 0 = RS_BURST */
};

/*
 * Reconcile rs (borrowed) against pods, every pod of its namespace
 * (borrowed): claim matching orphans and release pods that stopped
 * matching, create or delete pods when need_sync, and write the status.
 * need_sync is cm_exp_satisfied(env->exp, key) asked BEFORE pods were
 * listed (a pod that arrives in between must not count as seen while
 * missing from the list). key is "namespace/name". 0 when done;
 * -errno when something failed and the key should be retried with back-off.
 * *requeue_ns (may be NULL) gets the time after which a pod becomes
 * available (minReadySeconds), or 0.
 */
int rs_sync(struct rs_env *env, const char *key, const json_t *rs, const json_t *pods,
	    bool need_sync, int64_t *requeue_ns);

/*
 * The n pods of pods (active, owned) to delete first, as a new array:
 * unscheduled before scheduled, Pending before Unknown before Running, not
 * ready before ready, lower pod-deletion-cost first, more pods of the set
 * on the same node first, ready for less time first (in power-of-two
 * buckets), more restarts first, newer first.
 */
json_t *rs_pods_to_delete(const json_t *pods, int n, int64_t now);

/*
 * The status rs should have with these owned active pods: replicas,
 * fullyLabeledReplicas, readyReplicas, availableReplicas,
 * observedGeneration, and the ReplicaFailure condition (set with
 * fail_reason/fail_msg when not NULL, dropped otherwise). *wait_ns (may be
 * NULL) gets the shortest time until a ready pod becomes available, or 0.
 */
json_t *rs_calc_status(const json_t *rs, const json_t *pods, const char *fail_reason,
		       const char *fail_msg, int64_t now, int64_t *wait_ns);

#endif
