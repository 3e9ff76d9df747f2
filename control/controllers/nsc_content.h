/*
 * nsc_content.h - the namespace controller's pure parts: which resources a
 * namespace can hold (from discovery), how its deletion is reported
 * (status.conditions, as upstream words them), how long to wait before
 * looking again, and the body that clears the "kubernetes" finalizer.
 *
 * Resources come from discovery (/api/v1 and each /apis/<group>/<version>)
 * rather than a fixed list, so a resource the API server learns to serve
 * is emptied with no change here. A resource counts when it is namespaced,
 * is not a subresource ("pods/status") and can be listed and deleted.
 */
#ifndef CAPSTAN_CONTROLLERS_NSC_CONTENT_H
#define CAPSTAN_CONTROLLERS_NSC_CONTENT_H

#include <stdint.h>

#include <jansson.h>

#define NSC_FINALIZER "kubernetes"

/*
 * From an array of APIResourceList documents (their groupVersion and
 * resources), the resources to empty: a new array of {"prefix":
 * "/api/v1" | "/apis/<group>/<version>", "resource": plural, "group":
 * group}, sorted by group then resource, each group/resource once (the
 * first version listed wins). Malformed entries are skipped.
 */
json_t *nsc_resources_from_discovery(const json_t *lists);

/* What one pass over a namespace found. */
struct nsc_report {
	const char *discovery_error; /* NULL: every group discovered */
	const char *content_error;   /* NULL: every delete call succeeded */
	const json_t *remaining;     /* {"pods": 2, "deployments.apps": 1} (may be NULL) */
	const json_t *finalizers;    /* {"example.com/x": 1} (may be NULL) */
};

/*
 * The namespace's status.conditions after this pass: the five deletion
 * conditions (NamespaceDeletionDiscoveryFailure, ...GroupVersionParsing
 * Failure, ...ContentFailure, NamespaceContentRemaining,
 * NamespaceFinalizersRemaining) with upstream's reasons and messages;
 * lastTransitionTime is now when the status flips and kept otherwise;
 * other conditions are kept. A new array, or NULL when nothing changes.
 */
json_t *nsc_conditions(const json_t *ns, const struct nsc_report *r, const char *now);

/*
 * Seconds to wait before looking again at a namespace whose content is not
 * gone yet: half the longest graceful termination left among pods (those
 * with a deletionTimestamp, at now_ns) plus one, as upstream does; 1 when
 * no pod is terminating.
 */
long long nsc_requeue_seconds(const json_t *pods, int64_t now_ns);

/*
 * The body for PUT namespaces/<name>/finalize: the namespace with
 * "kubernetes" removed from spec.finalizers. A new object, or NULL when
 * that finalizer is not there (nothing to do).
 */
json_t *nsc_finalize_body(const json_t *ns);

#endif
