/*
 * cache.h - what the scheduler knows about nodes and the pods placed on them.
 *
 * The cache holds every Node and every pod that is bound (spec.nodeName set) or assumed,
 * and keeps per-node sums the plugins read: requested resources (exact and "non-zero"),
 * the pod list, and counts of pods with host ports or pod (anti-)affinity terms, so a
 * plugin skips the nodes (or the whole pass) where nothing can conflict.
 *
 * Ownership and threads. The cache belongs to the scheduling loop: informer threads do
 * not touch it, they post their events to the loop, which applies them between
 * scheduling cycles. So plugins read a cache that cannot change under them and no lock is
 * taken per node; the price is that an event waits for the cycle in flight (a fraction of
 * a millisecond). Rejected: upstream's snapshot with generation numbers, which exists
 * because its informers write the cache concurrently with the scheduling goroutine.
 *
 * Assume / confirm / forget. When a cycle picks a node the pod is "assumed" there at once:
 * its requests count against the node before the binding request even leaves, so pods
 * scheduled in a burst never overcommit it. The assumption ends when the watch shows the
 * pod bound (sched_cache_add_pod replaces it with the real object, on whatever node the
 * API server says), when the binding fails (sched_cache_forget), or, once the binding
 * call returned, when the watch has not confirmed within the TTL (sched_cache_expire).
 *
 * Pods bound to a node the cache has no object for (not listed yet, or deleted while
 * pods remain) are kept on a placeholder node that is never a candidate, so their
 * resources count again when the node (re)appears.
 */
#ifndef CAPSTAN_SCHED_CACHE_H
#define CAPSTAN_SCHED_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "control/scheduler/objects.h"
#include "control/scheduler/strmap.h"

/* Cluster events, for moving unschedulable pods back to the active queue. */
#define SCHED_EV_NODE_ADD (1u << 0)
#define SCHED_EV_NODE_UPDATE (1u << 1) /* labels, taints, unschedulable or allocatable changed */
#define SCHED_EV_POD_ADD (1u << 2)     /* a pod was bound or assumed */
#define SCHED_EV_POD_UPDATE (1u << 3)  /* a bound pod's labels changed */
#define SCHED_EV_POD_DELETE (1u << 4)  /* a bound or assumed pod went away */
#define SCHED_EV_ALL 0x1fu

#define SCHED_ASSUME_TTL_NS (30ull * 1000000000ull)

struct sched_cache {
	struct sched_map nodes;	  /* name -> node, live and placeholders */
	struct sched_node **live; /* nodes with an object: the candidates, in a stable order */
	size_t nlive, livecap;
	struct sched_map pods;	    /* key -> pod, bound or assumed */
	struct sched_map assumed;   /* key -> pod, the assumed subset */
	struct sched_map ns_labels; /* namespace -> labels object (a reference) */
	uint64_t assume_ttl_ns;
	/* Pods in the cache with any pod (anti-)affinity term / with required anti-affinity:
	 * when zero, InterPodAffinity has nothing to look at for pods without terms. */
	size_t n_affinity, n_anti_req;
};

void sched_cache_init(struct sched_cache *c);
void sched_cache_destroy(struct sched_cache *c);

/*
 * Add or update a Node. 0 on success and *events set to SCHED_EV_NODE_ADD, _UPDATE or 0
 * (an update that changes nothing a plugin reads, such as a heartbeat); -EINVAL with a
 * message for an object without a name (nothing stored) or with a malformed allocatable
 * quantity (the node is stored all the same, with that resource as zero, and *events set).
 */
int sched_cache_set_node(struct sched_cache *c, json_t *obj, unsigned *events, char *err,
			 size_t errlen);
/* Remove a Node; its pods stay on a placeholder until they go. */
void sched_cache_delete_node(struct sched_cache *c, const char *name);
struct sched_node *sched_cache_node(const struct sched_cache *c, const char *name);

/*
 * Record a bound pod (p->node_name set), replacing an earlier version or an assumption of
 * the same key. Takes its own reference. Returns the events this amounts to:
 * SCHED_EV_POD_ADD for a pod new to the cache or one that was assumed (the watch confirms
 * the binding), SCHED_EV_POD_UPDATE when a bound pod's labels changed, 0 otherwise;
 * -EINVAL when p is not bound.
 */
int sched_cache_add_pod(struct sched_cache *c, struct sched_pod *p);
/* Forget a bound or assumed pod. True when it was there. */
bool sched_cache_remove_pod(struct sched_cache *c, const char *key);
struct sched_pod *sched_cache_pod(const struct sched_cache *c, const char *key);

/*
 * Assume pending pod p on node: its requests count there from now on. 0 on success;
 * -EEXIST when the key is already in the cache; -ENOENT when node is not a live node.
 */
int sched_cache_assume(struct sched_cache *c, struct sched_pod *p, struct sched_node *node);
/* The binding call returned OK: the assumption now expires TTL after now_ns unless confirmed. */
void sched_cache_finish_binding(struct sched_cache *c, const char *key, uint64_t now_ns);
/* Drop an assumption (binding failed). 0, or -ENOENT when key is not assumed. */
int sched_cache_forget(struct sched_cache *c, const char *key);
/* Drop assumptions whose deadline passed; returns how many. */
size_t sched_cache_expire(struct sched_cache *c, uint64_t now_ns);

/* Namespace labels, for namespaceSelector in pod affinity terms. labels NULL deletes. */
void sched_cache_set_namespace(struct sched_cache *c, const char *name, json_t *labels);
const json_t *sched_cache_ns_labels(const struct sched_cache *c, const char *ns);

#endif
