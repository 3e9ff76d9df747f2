/*
 * u64map.h - a hash table from 64-bit keys to pointers, for the agent's
 * in-memory mirror of the datapath maps.
 *
 * Every identity the load balancer tracks packs into 64 bits: a service
 * port is (address, port, protocol), a backend the same, a VIP its address.
 * A table specialised to that shape needs no key allocation and no compare
 * callback. Open addressing with linear probing and backward-shift deletion
 * (no tombstones), so a table that churns keeps its probe lengths short; the
 * table doubles at 70% load and never shrinks (the agent's working set only
 * grows to the cluster's size).
 *
 * Rejected: a jansson object keyed by a formatted string (a malloc and a
 * printf per lookup on the sync path) and a tree (ordered iteration is not
 * needed: callers sort what they must visit in order).
 */
#ifndef CAPSTAN_AGENT_LB_U64MAP_H
#define CAPSTAN_AGENT_LB_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct u64map {
	uint64_t *keys;
	void **vals; /* NULL marks an empty bucket: values are never NULL */
	size_t cap;  /* a power of two, or 0 before the first insert */
	size_t len;
};

/* The value stored for key, or NULL. */
void *u64map_get(const struct u64map *m, uint64_t key);
/* Store val (not NULL) for key, replacing any previous value. */
void u64map_put(struct u64map *m, uint64_t key, void *val);
/* Remove key; returns its value, or NULL when it was absent. */
void *u64map_del(struct u64map *m, uint64_t key);
/* Release the table (not the values). */
void u64map_free(struct u64map *m);

/*
 * Iterate: `for (size_t it = 0; u64map_next(m, &it, &k, &v);)`. The table
 * must not change during the walk, except u64map_del of the key just
 * returned, which may move a later entry before the cursor: collect the keys
 * first when deleting while iterating.
 */
bool u64map_next(const struct u64map *m, size_t *it, uint64_t *key, void **val);

#endif
