/*
 * deployment.h - the Deployment controller: rolls a Deployment's pod
 * template out through ReplicaSets (one per template, named and labelled
 * with the template's hash) and reports the rollout in its status.
 *
 * deploy_sync() is one reconcile of one Deployment with its inputs passed
 * in (tests drive it with a recording struct cm_api); the rollout
 * arithmetic is public so it can be checked on its own.
 */
#ifndef CAPSTAN_CONTROLLERS_DEPLOYMENT_H
#define CAPSTAN_CONTROLLERS_DEPLOYMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "control/controllers/ctrl.h"

#define DEPLOY_HASH_LABEL "pod-template-hash"
#define DEPLOY_REVISION "deployment.kubernetes.io/revision"
#define DEPLOY_REVISION_HISTORY "deployment.kubernetes.io/revision-history"
#define DEPLOY_DESIRED_REPLICAS "deployment.kubernetes.io/desired-replicas"
#define DEPLOY_MAX_REPLICAS "deployment.kubernetes.io/max-replicas"

struct deploy_env {
	const struct cm_api *api;
	int64_t now; /* ns since the epoch */
};

/*
 * Reconcile d (borrowed) with rs_list, every ReplicaSet of its namespace,
 * and pods, the pods its selector matches (only read for the Recreate
 * strategy; may be NULL otherwise). Adopts and releases ReplicaSets,
 * creates the new one, scales new and old ones by the strategy, cleans up
 * old revisions and writes the status. 0 when done, -errno to retry with
 * back-off. *requeue_ns (may be NULL) gets the time after which the
 * progress deadline must be checked again, or 0.
 */
int deploy_sync(struct deploy_env *env, const json_t *d, const json_t *rs_list, const json_t *pods,
		int64_t *requeue_ns);

/* ---------------------------------------------------------------- rollout arithmetic */

/*
 * maxSurge rounded up and maxUnavailable rounded down from their int or
 * percent forms (NULL: 25%) against desired; both 0 gives unavailable 1,
 * so a rollout can always move. 0, or -EINVAL for a malformed value.
 */
int deploy_resolve_fenceposts(const json_t *max_surge, const json_t *max_unavailable, int desired,
			      int *surge, int *unavailable);
/* Resolved maxSurge of d (0 unless RollingUpdate). */
int deploy_max_surge(const json_t *d);
/* Resolved maxUnavailable of d, at most spec.replicas (0 unless RollingUpdate). */
int deploy_max_unavailable(const json_t *d);
/* The replicas the new ReplicaSet may have now (all_rs may or may not hold new_rs). */
int deploy_new_rs_replicas(const json_t *d, const json_t *all_rs, const json_t *new_rs);
/*
 * The size to add to rs when the ReplicaSets of d must grow (to_add > 0)
 * or shrink (< 0) by to_add in total, added of which is already handed
 * out: rs's share in proportion to its size against the max-replicas
 * annotation it was last scaled for.
 */
int deploy_proportion(const json_t *rs, const json_t *d, int to_add, int added);

/* Pod templates equal once the pod-template-hash label is ignored. */
bool deploy_template_equal(const json_t *a, const json_t *b);

/* ---------------------------------------------------------------- status */

/* The status d should have with these ReplicaSets (new_rs may be NULL). */
json_t *deploy_calc_status(const json_t *d, const json_t *all_rs, const json_t *new_rs,
			   int64_t now);
/* Every replica updated and available, none old, generation observed. */
bool deploy_complete(const json_t *d, const json_t *status);
/* status shows progress against d's current status. */
bool deploy_progressing(const json_t *d, const json_t *status);
/* The Progressing condition of status is older than progressDeadlineSeconds. */
bool deploy_timed_out(const json_t *d, const json_t *status, int64_t now);

/*
 * What `kubectl rollout status` concludes from d: 1 when rolled out, 0 when
 * still waiting (msg says why, in kubectl's words), -ETIMEDOUT when the
 * progress deadline was exceeded.
 */
int deploy_rollout_status(const json_t *d, char *msg, size_t len);

#endif
