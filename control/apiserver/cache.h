/*
 * cache.h - the watch cache: every stored object in memory, and the recent
 * history of changes per resource, serving all lists, gets and watches.
 *
 * The store feeds the cache with every committed write, in revision order,
 * before the write's caller gets its answer (store.h), so a client always
 * reads its own writes. Objects are kept twice, as a jansson tree (for
 * selectors and handlers) and as compact JSON text with the
 * resourceVersion filled in (so a list of 10,000 pods or an event sent to
 * 100 watchers is concatenated, not re-encoded). Both are immutable once
 * published and shared by reference count between the index, the history
 * and readers.
 *
 * History: each resource keeps its last N events in a ring. A watch from
 * revision R replays the events after R from the ring; if events after R
 * were already dropped from the ring the watch is refused with -ESTALE,
 * which the API serves as 410 Gone so the client lists again. A watcher
 * too slow to keep up with the ring is ended the same way.
 */
#ifndef CAPSTAN_APISERVER_CACHE_H
#define CAPSTAN_APISERVER_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "control/store/store.h"

struct cache_obj {
	atomic_int refs;
	char *key;
	json_t *obj;	/* with metadata.resourceVersion; never modified */
	char *text;	/* compact JSON of obj */
	size_t len;
	int64_t rev;	/* revision of the write that produced this state */
};

struct cache_obj *cache_obj_ref(struct cache_obj *o);
void cache_obj_unref(struct cache_obj *o);

enum cache_ev_type {
	CACHE_ADDED,
	CACHE_MODIFIED,
	CACHE_DELETED,
};

struct cache_event {
	enum cache_ev_type type;
	int64_t rev;
	struct cache_obj *obj;	/* new state; DELETED: last state, with the deletion's RV */
	struct cache_obj *prev;	/* MODIFIED/DELETED: the state before; ADDED: NULL */
};

void cache_event_release(struct cache_event *ev);

struct cache;

/* history: events kept per resource (0 = 10000). */
struct cache *cache_new(size_t history);
void cache_free(struct cache *c);

/* Initial fill from a store list (store_kv_fn signature). 0 or -EINVAL. */
int cache_load_kv(void *cache, const struct store_kv *kv);
/* The initial list was taken at rev; history starts there. */
void cache_loaded(struct cache *c, int64_t rev);
/* Apply one committed write (store_event_fn signature). */
void cache_apply(void *cache, const struct store_event *ev);

int64_t cache_rev(struct cache *c);
/* Objects in the cache under a resource prefix ("/registry/pods/"). */
size_t cache_count(struct cache *c, const char *prefix);

/* A reference to key's current state, or NULL. */
struct cache_obj *cache_get(struct cache *c, const char *key);

typedef bool (*cache_filter_fn)(void *ctx, const struct cache_obj *o);

struct cache_list {
	struct cache_obj **items;	/* references, in key order */
	size_t n;
	bool more;			/* more matching objects after the last */
	int64_t rev;			/* cache revision the list reflects */
};

/*
 * Objects whose key starts with prefix and sorts after `after` (NULL: from
 * the start), that pass filter (NULL: all), at most limit (0: no limit).
 * Always succeeds; release with cache_list_release.
 */
void cache_list(struct cache *c, const char *prefix, const char *after, size_t limit,
		cache_filter_fn filter, void *fctx, struct cache_list *out);
void cache_list_release(struct cache_list *l);

struct cache_watch;

/*
 * Watch keys under prefix for events with revision > from. 0 with *out set;
 * -ESTALE when the history no longer holds every such event (410).
 */
int cache_watch_start(struct cache *c, const char *prefix, int64_t from,
		      struct cache_watch **out);
/*
 * The next event, waiting up to timeout_ms. 0 with *ev filled (release it
 * with cache_event_release); -ETIMEDOUT; -ESTALE when the watcher fell
 * behind the history; -ECANCELED after cache_shutdown().
 */
int cache_watch_next(struct cache_watch *w, struct cache_event *ev, int timeout_ms);
/* The revision the watcher has seen up to (for bookmarks). */
int64_t cache_watch_rev(struct cache_watch *w);
void cache_watch_stop(struct cache_watch *w);

/* Wake every watcher with -ECANCELED (server shutdown). */
void cache_shutdown(struct cache *c);

#endif
