/*
 * cm.h - what capstan-controller-manager's controllers share: shared
 * informers, work queues with rate-limited retries, API calls and Events.
 *
 * Every controller is an informer (or several) plus a work queue, as in
 * Kubernetes: event handlers only enqueue keys ("namespace/name"); worker
 * threads take a key, read the current objects from the informers' caches,
 * make the API calls that move the world towards the desired state, and
 * either forget the key or requeue it with back-off on failure. A key is
 * never processed by two workers at once.
 *
 * Informers are shared: there is one list+watch per resource however many
 * controllers watch it. A controller registers its handlers with
 * cm_watch() before cm_start(); the handlers of all controllers are called
 * for every event of that resource.
 *
 * Module map (control/controllers/):
 *   main.c          flags, which controllers run, signals
 *   cm.c            shared informers, API helpers, Events (this header)
 *   workqueue.c     the rate-limited work queue (workqueue.h)
 *   replicaset.c, deployment.c, daemonset.c
 *   endpointslice.c, nodelifecycle.c, nodeipam.c, namespace.c, gc.c
 */
#ifndef CAPSTAN_CONTROLLERS_CM_H
#define CAPSTAN_CONTROLLERS_CM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "control/controllers/workqueue.h"
#include "httpc.h"
#include "informer.h"

struct cm_config {
	const char *kubeconfig;
	const char *cluster_cidr;		/* node IPAM, default 10.244.0.0/16 */
	unsigned node_cidr_mask;		/* default 24 */
	unsigned node_monitor_grace_s;		/* default 40 */
	unsigned pod_eviction_timeout_s;	/* default NoExecute toleration, 300 */
	unsigned workers;			/* workers per controller, default 2 */
	const char *controllers;		/* comma list or "*" (default all) */
};

struct cm;

/* Resources the shared informers can watch (the URL of each is fixed). */
enum cm_resource {
	CM_PODS,
	CM_NODES,
	CM_SERVICES,
	CM_ENDPOINTS,
	CM_ENDPOINTSLICES,
	CM_NAMESPACES,
	CM_DEPLOYMENTS,
	CM_REPLICASETS,
	CM_DAEMONSETS,
	CM_LEASES,
	CM_CONFIGMAPS,
	CM_SECRETS,
	CM_SERVICEACCOUNTS,
	CM_EVENTS,
	CM__RESOURCES,
};

/* Collection path and Kind of a resource ("/api/v1/pods", "Pod"). */
const char *cm_resource_path(enum cm_resource r);
const char *cm_resource_kind(enum cm_resource r);
const char *cm_resource_api_version(enum cm_resource r);

/* ---------------------------------------------------------------- lifecycle */

/* 0 with *out, or -errno with a message. */
int cm_new(const struct cm_config *cfg, struct cm **out, char *err, size_t errlen);
/*
 * Register handlers for a resource (before cm_start). Handlers run on the
 * informer's thread and must only enqueue work.
 */
void cm_watch(struct cm *cm, enum cm_resource r, const struct informer_handlers *h, void *ctx);
/* Start every informer that has handlers; wait until all have synced. */
int cm_start(struct cm *cm, int sync_timeout_ms);
void cm_stop(struct cm *cm);
void cm_free(struct cm *cm);
bool cm_stopping(struct cm *cm);
const struct cm_config *cm_config(struct cm *cm);

/* ---------------------------------------------------------------- caches */

/* A new reference to the cached object, or NULL. ns NULL/"" for cluster-scoped. */
json_t *cm_get(struct cm *cm, enum cm_resource r, const char *ns, const char *name);
/*
 * A new array of cached objects of r (new references), in namespace ns
 * (NULL for all), optionally only those whose labels match selector (a
 * metav1.LabelSelector JSON object; NULL for all; an invalid one matches
 * nothing). Empty when nobody watches r.
 */
json_t *cm_list(struct cm *cm, enum cm_resource r, const char *ns, const json_t *selector);

/* ---------------------------------------------------------------- API calls */

/*
 * Create obj (its metadata.namespace picks the namespace). Returns the HTTP
 * status (201 on success) or -errno; *out (may be NULL) gets the answer.
 */
int cm_create(struct cm *cm, enum cm_resource r, const json_t *obj, json_t **out);
/* PUT obj (its resourceVersion makes it conditional); sub "" or "status". */
int cm_update(struct cm *cm, enum cm_resource r, const json_t *obj, const char *sub,
	      json_t **out);
/* PATCH with a merge patch (type "merge"), strategic ("strategic") or JSON patch ("json"). */
int cm_patch(struct cm *cm, enum cm_resource r, const char *ns, const char *name,
	     const char *sub, const char *type, const json_t *patch, json_t **out);
/*
 * DELETE with DeleteOptions (may be NULL): e.g. {"propagationPolicy":
 * "Background"} or {"preconditions":{"uid":...}}. Returns the HTTP status.
 */
int cm_delete(struct cm *cm, enum cm_resource r, const char *ns, const char *name,
	      const json_t *opts, json_t **out);
/* Any request (e.g. pods/binding, namespaces/finalize). Returns the HTTP status. */
int cm_request(struct cm *cm, const char *method, const char *path, const json_t *body,
	       json_t **out);

/* ---------------------------------------------------------------- events */

/*
 * Record an Event about obj (borrowed), e.g. ("Normal", "ScalingReplicaSet",
 * "Scaled up replica set %s to %d"). Sent in the background; repeats become
 * a count. component names the source ("deployment-controller").
 */
void cm_event(struct cm *cm, const char *component, const json_t *obj, const char *type,
	      const char *reason, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* ---------------------------------------------------------------- controllers */

struct controller {
	const char *name;	/* "deployment", "replicaset", ... (--controllers) */
	/* Register handlers with cm_watch; allocate state. 0 or -errno. */
	int (*init)(struct cm *cm, void **state);
	/* Start workers (after the informers synced). 0 or -errno. */
	int (*start)(struct cm *cm, void *state);
	/* Stop workers, free state. */
	void (*stop)(struct cm *cm, void *state);
};

/*
 * Every controller, in start order, NULL terminated (main.c's table). An
 * array of pointers, not of structs: each controller defines its own
 * `const struct controller x_controller` in its file (controllers.h), and C
 * cannot initialise an array element from another file's object, only from
 * its address.
 */
extern const struct controller *const cm_controllers[];

#endif
