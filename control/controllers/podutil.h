/*
 * podutil.h - pods and owners as the workload controllers see them:
 * readiness and availability, controller references, claiming (adoption
 * of orphans, release of objects that stopped matching), pods built from a
 * template, and slow-start batches of creations.
 */
#ifndef CAPSTAN_CONTROLLERS_PODUTIL_H
#define CAPSTAN_CONTROLLERS_PODUTIL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "control/controllers/ctrl.h"
#include "selector.h"

/* ---------------------------------------------------------------- pods */

/* metadata.deletionTimestamp is set. */
bool cm_is_deleting(const json_t *obj);
/* Counts for a controller: not Succeeded/Failed and not being deleted. */
bool cm_pod_is_active(const json_t *pod);
/* The Ready condition is True. */
bool cm_pod_is_ready(const json_t *pod);
/* When the Ready condition last became True (ns), or 0 (not ready, or no time). */
int64_t cm_pod_ready_since(const json_t *pod);
/*
 * Ready for at least min_ready_s seconds at now. A ready pod that is not
 * available yet sets *wait_ns (may be NULL) to the time left; otherwise
 * *wait_ns is 0.
 */
bool cm_pod_is_available(const json_t *pod, long long min_ready_s, int64_t now, int64_t *wait_ns);
/* Sum of restartCount over the pod's containers. */
long long cm_pod_restarts(const json_t *pod);

/* ---------------------------------------------------------------- owners */

/* The ownerReferences entry with controller=true (borrowed), or NULL. */
const json_t *cm_controller_ref(const json_t *obj);
/* obj's controller reference names owner's UID. */
bool cm_is_controlled_by(const json_t *obj, const json_t *owner);
/* {apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true}. */
json_t *cm_owner_ref(const json_t *owner, const char *kind, const char *api_version);

enum cm_claim {
	CM_CLAIM_IGNORE,  /* someone else's, or not ours to take */
	CM_CLAIM_OWNED,	  /* ours and matching */
	CM_CLAIM_ADOPT,	  /* an orphan that matches: take it */
	CM_CLAIM_RELEASE, /* ours but no longer matching: let it go */
};

/* What owner (with label selector sel) should do about obj, as upstream's ClaimObject. */
enum cm_claim cm_claim_decide(const json_t *owner, const struct selector *sel, const json_t *obj);

/*
 * Claim objs (an array of resource r) for owner: adopt matching orphans and
 * release owned objects that stopped matching, each with a strategic merge
 * patch of ownerReferences that also pins the object's UID. Returns a new
 * array of the objects owner controls afterwards (patched copies for the
 * adopted). Failed patches are logged and leave the object out.
 */
json_t *cm_claim(const struct cm_api *api, enum cm_resource r, const json_t *owner,
		 const char *kind, const char *api_version, const struct selector *sel,
		 const json_t *objs);

/*
 * A pod for owner from a PodTemplateSpec: generateName "<owner>-", the
 * template's labels, annotations and finalizers, a controller reference,
 * and the template's spec. The caller adds anything else.
 */
json_t *cm_pod_from_template(const json_t *tmpl, const json_t *owner, const char *kind,
			     const char *api_version);

/* ---------------------------------------------------------------- event routing */

/* wq_add the informer key ("namespace/name") of obj. */
void cm_enqueue(struct workqueue *q, const json_t *obj);
/*
 * The object of resource r and kind that controls obj, looked up in the
 * cache and checked by UID (one re-created under the same name is not the
 * owner), as a new reference, or NULL. key (may be NULL) gets its
 * "namespace/name".
 */
json_t *cm_controller_of(struct cm *cm, enum cm_resource r, const char *kind, const json_t *obj,
			 char *key, size_t len);
/* wq_add every r of obj's namespace whose non-empty spec.selector matches obj's labels. */
void cm_enqueue_selecting(struct cm *cm, enum cm_resource r, struct workqueue *q,
			  const json_t *obj);

/*
 * Pod event handlers for a controller that owns pods through controller
 * references (ReplicaSet, DaemonSet); ctx is a struct cm_pod_owner. They
 * record observed creations and deletions in the expectations, enqueue the
 * owner (the old and the new one when the reference changed; after
 * minReadySeconds too when the pod just became ready), and enqueue every
 * owner that may adopt an orphan.
 */
struct cm_pod_owner {
	struct cm *cm;
	enum cm_resource r; /* CM_REPLICASETS, CM_DAEMONSETS */
	const char *kind;   /* "ReplicaSet", "DaemonSet" */
	struct workqueue *q;
	struct cm_expectations *exp;
};

extern const struct informer_handlers cm_pod_owner_handlers;

/* What every controller that owns pods holds: routing, API table, workers. */
struct cm_pod_ctrl {
	struct cm_pod_owner pods;
	struct cm_api api;
	struct cm_workers *workers;
};

/* Handlers for the owners' own resource (ctx a struct cm_pod_ctrl): enqueue the object. */
extern const struct informer_handlers cm_pod_ctrl_self_handlers;

/*
 * For a controller's init: a queue called name, expectations, Events from
 * component, cm_pod_owner_handlers registered for pods and
 * cm_pod_ctrl_self_handlers for r.
 */
void cm_pod_ctrl_init(struct cm_pod_ctrl *c, struct cm *cm, enum cm_resource r, const char *kind,
		      const char *name, const char *component);
/* For start: cm_config(cm)->workers threads running fn(ctx, key). 0 or -EAGAIN. */
int cm_pod_ctrl_start(struct cm_pod_ctrl *c, const char *name, cm_sync_fn fn, void *ctx);
/* For stop: stop the workers, free the queue and expectations (not c). */
void cm_pod_ctrl_stop(struct cm_pod_ctrl *c);

/* ---------------------------------------------------------------- batches */

/*
 * Call fn(ctx, i) for i in 0..count-1 in batches of 1, 2, 4, ... (each
 * batch in parallel, at most 8 threads), stopping after the first batch in
 * which a call failed (returned < 0): a controller that cannot create pods
 * (quota, admission) then makes a few failing calls instead of hundreds.
 * Returns the number of successful calls. fn must be thread-safe.
 */
int cm_slow_start(int count, int (*fn)(void *ctx, int i), void *ctx);

#endif
