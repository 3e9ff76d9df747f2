/*
 * informer.h - list + watch one collection of the API server into a local cache.
 *
 * The pattern every Kubernetes controller uses: list the collection (in pages
 * of `limit` items, following `continue` tokens), remember the list's
 * resourceVersion, then watch from it. Each watch event updates the cache and
 * calls the add/update/delete handler. When the server ends a watch normally
 * (its timeoutSeconds ran out) the informer watches again from the last
 * resourceVersion it saw, losing nothing. When the resourceVersion is too old
 * (410 Gone / Expired, as an HTTP status or as an ERROR event) or the stream
 * breaks (transport error, garbage on the wire), it lists again after a
 * back-off and reconciles: objects that vanished get a delete callback,
 * changed ones an update, new ones an add. Objects whose resourceVersion did
 * not change across a re-list produce no callback.
 *
 * Threads: one thread per informer runs the loop and calls the handlers. The
 * cache is updated before a handler runs, and handlers run without the cache
 * lock held, so they may call informer_get()/informer_list(). Objects passed
 * to handlers are borrowed for the call; objects in the cache are shared and
 * must be treated as read-only (copy with json_deep_copy to modify).
 */
#ifndef CAPSTAN_INFORMER_H
#define CAPSTAN_INFORMER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "httpc.h"

struct informer_handlers {
	void (*on_add)(void *ctx, const json_t *obj);
	void (*on_update)(void *ctx, const json_t *old_obj, const json_t *new_obj);
	/* obj is the last state the informer knew (the watch's final state, or
	 * the cached one when a re-list found the object gone). */
	void (*on_delete)(void *ctx, const json_t *obj);
};

struct informer_config {
	struct httpc_config http;   /* copied, with its strings, by informer_new */
	const char *path;	    /* collection, e.g. "/api/v1/pods" */
	const char *label_selector; /* NULL or "" for all */
	const char *field_selector; /* NULL or "" for all */
	unsigned page_size;	    /* list `limit`; 0 = 500 */
	unsigned watch_timeout_s;   /* `timeoutSeconds`; 0 = random in 300..600 */
	unsigned backoff_min_ms;    /* first retry delay; 0 = 200 */
	unsigned backoff_max_ms;    /* retry delay cap; 0 = 10000 */
	struct informer_handlers handlers;
	void *ctx;
};

struct informer_stats {
	unsigned long lists;   /* complete lists (each may be several pages) */
	unsigned long watches; /* watch requests started */
	unsigned long events;  /* watch events applied */
	unsigned long errors;  /* failed requests and broken streams */
};

struct informer;

/* NULL when the configuration is unusable (no path, bad server URL). */
struct informer *informer_new(const struct informer_config *cfg);
/* Start the informer thread. 0 on success, -errno on failure. */
int informer_start(struct informer *inf);
/* End the watch, wait for the thread. Safe to call twice or before start. */
void informer_stop(struct informer *inf);
/* Stop (if needed) and release everything. */
void informer_free(struct informer *inf);

/* True once the first complete list has been applied. */
bool informer_synced(struct informer *inf);
/* Wait for the first list. 0 when synced, -ETIMEDOUT, or -ECANCELED if stopped. */
int informer_wait_synced(struct informer *inf, int timeout_ms);

/* A new reference to the cached object, or NULL. ns is NULL/"" for cluster-scoped. */
json_t *informer_get(struct informer *inf, const char *ns, const char *name);
/* A new array holding (new references to) every cached object. */
json_t *informer_list(struct informer *inf);
size_t informer_len(struct informer *inf);
/* The last resourceVersion seen (list, event or bookmark) into buf. */
void informer_resource_version(struct informer *inf, char *buf, size_t len);
void informer_get_stats(struct informer *inf, struct informer_stats *out);

/* The cache key of an object: "namespace/name" or "name". 0 or -EINVAL. */
int informer_key(const json_t *obj, char *buf, size_t len);

#endif
