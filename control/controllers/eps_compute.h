/*
 * eps_compute.h - what the EndpointSlice controller writes for a Service,
 * computed from the Service, its pods and the slices that exist, with no
 * I/O: the controller (endpointslice.c) feeds it from its caches and
 * applies the plan.
 *
 * Slices (upstream's reconciler, discovery.k8s.io/v1):
 *   - every pod that matches the selector, has an address of the family and
 *     is not terminal (Succeeded, Failed) is an endpoint: addresses [podIP],
 *     conditions ready (Ready and not terminating, or publishNotReady),
 *     serving (Ready, or publishNotReady), terminating (deletionTimestamp),
 *     nodeName, zone (the node's topology.kubernetes.io/zone), hostname
 *     (when spec.subdomain names the Service), targetRef to the pod;
 *   - a pod's ports are the Service's ports with each targetPort resolved
 *     against the pod's container ports; pods whose ports resolve alike
 *     share slices, pods that resolve a name to other numbers get slices of
 *     their own (one slice has one port list);
 *   - at most max_per_slice (100) endpoints per slice;
 *   - writes are minimal: an endpoint stays in the slice it is in; a slice
 *     is only written when one of its endpoints or its labels changed;
 *     new endpoints go first into slices being written anyway (fullest
 *     first), then into the unchanged slice they fit best, and only then
 *     into new slices; a slice left empty is deleted;
 *   - a Service with no endpoints of a family keeps one empty placeholder
 *     slice of it (no ports, no endpoints), as upstream does, so consumers
 *     can tell "no endpoints" from "not processed yet";
 *   - slices carry the Service's labels plus kubernetes.io/service-name,
 *     endpointslice.kubernetes.io/managed-by and, for headless Services,
 *     service.kubernetes.io/headless; they are named generateName <svc>-
 *     and owned by the Service (controller ownerReference), so the garbage
 *     collector removes them with it. Slices of an older Service of the
 *     same name (another uid) are deleted.
 *
 * Endpoints (v1, the legacy object named like the Service): the same pods,
 * but terminating ones only with publishNotReadyAddresses, ready ones in
 * addresses and the others in notReadyAddresses, packed as upstream's
 * RepackSubsets does (ports with the same address sets share a subset);
 * address and port order is canonical, so comparing two packed forms says
 * whether a write is needed.
 */
#ifndef CAPSTAN_CONTROLLERS_EPS_COMPUTE_H
#define CAPSTAN_CONTROLLERS_EPS_COMPUTE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define EPS_LABEL_SERVICE "kubernetes.io/service-name"
#define EPS_LABEL_MANAGED_BY "endpointslice.kubernetes.io/managed-by"
#define EPS_LABEL_HEADLESS "service.kubernetes.io/headless"
#define EPS_MANAGED_BY "endpointslice-controller.k8s.io"
#define EPS_LABEL_ZONE "topology.kubernetes.io/zone"
#define EPS_MAX_PER_SLICE 100

/*
 * The zone label of node into buf, or NULL when the node is unknown or has
 * none. The controller answers from its node cache.
 */
typedef const char *(*eps_zone_fn)(void *ctx, const char *node, char *buf, size_t len);

struct eps_input {
	const json_t *service;
	const json_t *pods;   /* array: the namespace's pods matching the selector */
	const json_t *slices; /* array: slices labelled with the Service and managed-by us */
	eps_zone_fn zone;     /* may be NULL: no zones */
	void *zone_ctx;
	unsigned max_per_slice; /* 0 = EPS_MAX_PER_SLICE */
};

/* The writes that bring the slices to the wanted state; arrays, never NULL. */
struct eps_plan {
	json_t *create; /* new slices to POST */
	json_t *update; /* existing slices, changed, to PUT (resourceVersion kept) */
	json_t *remove; /* existing slices to DELETE */
};

/* True when the controller manages the Service: it has a selector and is not ExternalName. */
bool eps_service_managed(const json_t *svc);

/*
 * Does pod belong in a Service's endpoints at all: not terminal, has an
 * address, and (unless include_terminating) no deletionTimestamp.
 */
bool eps_pod_included(const json_t *pod, bool include_terminating);

/*
 * The pod's port for a Service port: a numeric targetPort (or the port when
 * there is none) as is, a named one from the pod's container ports (and
 * sidecar init containers) of the same name and protocol. The port number,
 * or -ENOENT when the name does not resolve.
 */
int eps_find_port(const json_t *pod, const json_t *service_port);

/*
 * True when a pod update can change any Service's endpoints (labels,
 * addresses, readiness, phase, deletion, node, hostname).
 */
bool eps_pod_changed(const json_t *old_pod, const json_t *new_pod);

/*
 * Plan the slice writes for in->service. 0 and *plan filled (release with
 * eps_plan_free); -EINVAL with a message when the input is unusable (no
 * service, no name/uid, not managed). The plan's objects are new.
 */
int eps_plan_slices(const struct eps_input *in, struct eps_plan *plan, char *err, size_t errlen);
void eps_plan_free(struct eps_plan *plan);

/*
 * The Endpoints object the Service wants (metadata name, namespace, labels;
 * subsets packed). A new object; NULL when svc is not usable.
 */
json_t *eps_endpoints_build(const json_t *svc, const json_t *pods);

/* Canonical packed form of an Endpoints' subsets (a new array). */
json_t *eps_subsets_repack(const json_t *subsets);

/*
 * True when cur (the stored Endpoints) already says what want (from
 * eps_endpoints_build) says: same labels, same packed subsets.
 */
bool eps_endpoints_equal(const json_t *cur, const json_t *want);

#endif
