/*
 * gc_graph.h - the garbage collector's owner -> dependents graph and its
 * decisions, with the API calls behind a small ops table so that every
 * decision is unit-tested against a fake API.
 *
 * The graph holds one node per object uid: its coordinates (apiVersion,
 * kind, namespace, name), its ownerReferences and the uids of its
 * dependents. Objects are folded in from the informers of every resource
 * (gc_graph_observe / gc_graph_remove). An owner that a dependent names
 * but no informer has shown yet is a "virtual" node; it is queued at once
 * and a live GET settles whether it exists (the owner's informer may just
 * be behind) or never did (a dangling reference).
 *
 * The graph says what to look at; the attempts decide, always on live
 * state (a GET of the item and of each owner, never the caches, since a
 * cache that lags could make a live owner look gone):
 *
 *   gc_attempt_delete(uid): as upstream's attemptToDeleteItem:
 *     - an item being deleted (not foreground) is left alone;
 *     - an owner in foreground deletion (deletionTimestamp + the
 *       foregroundDeletion finalizer) waits for its dependents whose
 *       reference has blockOwnerDeletion=true: while any remains, they are
 *       queued for deletion; when none remains, the finalizer is removed
 *       and the API server deletes the owner;
 *     - otherwise each owner reference is "solid" (owner exists with that
 *       uid), "dangling" (no such object, or another uid: deleted, or never
 *       existed) or "waiting" (owner in foreground deletion). With a solid
 *       owner the item stays, and dangling/waiting references are removed
 *       from it; without one it is deleted: in foreground when an owner
 *       waits and the item has dependents of its own (so the wait covers
 *       the whole subtree), else with the policy its own finalizers ask for,
 *       Background by default. Deletes carry a uid precondition.
 *   gc_attempt_orphan(uid): an owner with the orphan finalizer: remove its
 *     reference from every dependent, then remove the finalizer.
 *
 * Owners of a kind the API server does not serve are never treated as
 * gone (upstream retries those for ever; here the item simply stays).
 *
 * Threads: every function locks the graph; API calls are made without
 * the lock, from a snapshot of the node.
 */
#ifndef CAPSTAN_CONTROLLERS_GC_GRAPH_H
#define CAPSTAN_CONTROLLERS_GC_GRAPH_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define GC_FINALIZER_FOREGROUND "foregroundDeletion"
#define GC_FINALIZER_ORPHAN "orphan"

enum gc_queue {
	GC_QUEUE_DELETE, /* gc_attempt_delete(uid) */
	GC_QUEUE_ORPHAN, /* gc_attempt_orphan(uid) */
};

/* Called (with the graph locked: it must only queue) for each uid that needs an attempt. */
typedef void (*gc_enqueue_fn)(void *ctx, enum gc_queue q, const char *uid);

/* Coordinates of an object, as an ownerReference names it. */
struct gc_ident {
	const char *api_version, *kind, *ns, *name, *uid;
};

/* The API calls the attempts make; ctx is the ops' own. */
struct gc_ops {
	/*
	 * GET the object. ns is the dependent's namespace; the implementation
	 * ignores it for cluster-scoped kinds. 0 and *out; -ENOENT when there
	 * is no such object; -EOPNOTSUPP for a kind that is not served;
	 * -EINVAL for a namespaced kind without a namespace; other -errno on
	 * failure (the attempt is retried).
	 */
	int (*get)(void *ctx, const char *api_version, const char *kind, const char *ns,
		   const char *name, json_t **out);
	/* DELETE with propagationPolicy policy and a uid precondition. 0 (also when gone) or
	 * -errno. */
	int (*remove)(void *ctx, const struct gc_ident *id, const char *policy);
	/* Write refs as obj's ownerReferences, conditional on its resourceVersion. 0 or -errno. */
	int (*set_owner_refs)(void *ctx, const json_t *obj, const json_t *refs);
	/* Remove finalizer from obj, conditional on its resourceVersion. 0 or -errno. */
	int (*remove_finalizer)(void *ctx, const json_t *obj, const char *finalizer);
};

enum gc_result {
	GC_DONE,  /* nothing more to do for now: forget the key */
	GC_RETRY, /* an API call failed: retry with back-off */
	GC_WAIT,  /* a virtual node exists live but no informer showed it yet: retry */
};

struct gc_graph;

/* enqueue may be NULL (nothing is queued). */
struct gc_graph *gc_graph_new(gc_enqueue_fn enqueue, void *ctx);
void gc_graph_free(struct gc_graph *g);

/*
 * Fold an added or updated object in. api_version and kind name its
 * resource (list items may lack them). Objects without a uid are ignored.
 */
void gc_graph_observe(struct gc_graph *g, const char *api_version, const char *kind,
		      const json_t *obj);
/* The object was deleted: its dependents are queued, its owners updated. */
void gc_graph_remove(struct gc_graph *g, const json_t *obj);

/* Nodes in the graph (observed and virtual), and dependents of uid. */
size_t gc_graph_len(struct gc_graph *g);
size_t gc_graph_dependents(struct gc_graph *g, const char *uid);
/* True when uid is in the graph and was shown by an informer. */
bool gc_graph_observed(struct gc_graph *g, const char *uid);

enum gc_result gc_attempt_delete(struct gc_graph *g, const char *uid, const struct gc_ops *ops,
				 void *ops_ctx);
enum gc_result gc_attempt_orphan(struct gc_graph *g, const char *uid, const struct gc_ops *ops,
				 void *ops_ctx);

#endif
