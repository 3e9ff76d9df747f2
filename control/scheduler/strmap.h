/*
 * strmap.h - a hash table from strings to pointers for the scheduler's cache and queue.
 *
 * The scheduler keys everything by name: nodes by "name", pods by "namespace/name",
 * namespaces by name. Lookups happen on every watch event and every scheduling cycle, so
 * the table is open addressing with linear probing and backward-shift deletion (no
 * tombstones, so a queue that churns through tens of thousands of pods keeps short probe
 * sequences); it doubles at 70% load. Keys are copied; values are never NULL (NULL marks
 * an empty bucket) and are not owned.
 *
 * Rejected: a jansson object as the table (what lib/informer does): it needs a json_t per
 * value, and the scheduler's values are C structs.
 */
#ifndef CAPSTAN_SCHED_STRMAP_H
#define CAPSTAN_SCHED_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

struct sched_map {
	char **keys;
	void **vals;
	size_t cap; /* a power of two, or 0 before the first insert */
	size_t len;
};

/* The value stored for key, or NULL. */
void *sched_map_get(const struct sched_map *m, const char *key);
/* Store val (not NULL) for key, replacing and returning any previous value (else NULL). */
void *sched_map_put(struct sched_map *m, const char *key, void *val);
/* Remove key; returns its value, or NULL when it was absent. */
void *sched_map_del(struct sched_map *m, const char *key);
/* Release the table and its key copies (not the values). */
void sched_map_free(struct sched_map *m);
/*
 * Iterate: `for (size_t it = 0; sched_map_next(m, &it, &k, &v);)`. The table must not
 * change during the walk: collect keys first to delete while iterating.
 */
bool sched_map_next(const struct sched_map *m, size_t *it, const char **key, void **val);

#endif
