/* ids.c - see ids.h. */
#include "agent/lb/ids.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "agent/lb/u64map.h"
#include "util.h"

struct lb_ids {
	uint32_t max;
	struct u64map by_key; /* key -> (void *)(uintptr_t)id */
	uint64_t *key_of;     /* [id] */
	bool *used;	      /* [id] */
	size_t count;
	/*
	 * FIFO of candidate ids. An adopted id stays in the queue and is
	 * skipped when popped; released again, it is queued a second time,
	 * so the ring holds at most two entries per id.
	 */
	uint32_t *ring;
	size_t ring_cap, head, len;
};

/*
 * Drop stale entries (ids in use) and repeats, keeping the order. Only
 * needed after repeated adopt/release cycles of the same id; afterwards the
 * ring holds each free id at most once.
 */
static void lb_ids_compact(struct lb_ids *ids)
{
	bool *seen = xcalloc(ids->max, sizeof(*seen));
	size_t n = 0;

	for (size_t i = 0; i < ids->len; i++) {
		uint32_t id = ids->ring[(ids->head + i) % ids->ring_cap];

		if (ids->used[id] || seen[id])
			continue;
		seen[id] = true;
		ids->ring[(ids->head + n) % ids->ring_cap] = id;
		n++;
	}
	ids->len = n;
	free(seen);
}

static void lb_ids_push(struct lb_ids *ids, uint32_t id)
{
	if (ids->len == ids->ring_cap)
		lb_ids_compact(ids);
	ids->ring[(ids->head + ids->len) % ids->ring_cap] = id;
	ids->len++;
}

struct lb_ids *lb_ids_new(uint32_t max)
{
	struct lb_ids *ids;

	if (max < 2 || max > 65536)
		return NULL;
	ids = xcalloc(1, sizeof(*ids));
	ids->max = max;
	ids->key_of = xcalloc(max, sizeof(*ids->key_of));
	ids->used = xcalloc(max, sizeof(*ids->used));
	ids->ring_cap = 2 * (size_t)max;
	ids->ring = xcalloc(ids->ring_cap, sizeof(*ids->ring));
	for (uint32_t id = 1; id < max; id++)
		lb_ids_push(ids, id);
	return ids;
}

void lb_ids_free(struct lb_ids *ids)
{
	if (!ids)
		return;
	u64map_free(&ids->by_key);
	free(ids->key_of);
	free(ids->used);
	free(ids->ring);
	free(ids);
}

uint32_t lb_ids_lookup(const struct lb_ids *ids, uint64_t key)
{
	return (uint32_t)(uintptr_t)u64map_get(&ids->by_key, key);
}

bool lb_ids_key(const struct lb_ids *ids, uint32_t id, uint64_t *key)
{
	if (id == 0 || id >= ids->max || !ids->used[id])
		return false;
	*key = ids->key_of[id];
	return true;
}

static void lb_ids_take(struct lb_ids *ids, uint64_t key, uint32_t id)
{
	ids->used[id] = true;
	ids->key_of[id] = key;
	u64map_put(&ids->by_key, key, (void *)(uintptr_t)id);
	ids->count++;
}

int lb_ids_alloc(struct lb_ids *ids, uint64_t key, uint32_t *id)
{
	uint32_t have = lb_ids_lookup(ids, key);

	if (have) {
		*id = have;
		return 0;
	}
	while (ids->len > 0) {
		uint32_t cand = ids->ring[ids->head];

		ids->head = (ids->head + 1) % ids->ring_cap;
		ids->len--;
		if (!ids->used[cand]) {
			lb_ids_take(ids, key, cand);
			*id = cand;
			return 0;
		}
	}
	return -ENOSPC;
}

int lb_ids_adopt(struct lb_ids *ids, uint64_t key, uint32_t id)
{
	if (id == 0 || id >= ids->max)
		return -ERANGE;
	if (ids->used[id] || lb_ids_lookup(ids, key))
		return -EEXIST;
	lb_ids_take(ids, key, id);
	return 0;
}

void lb_ids_release(struct lb_ids *ids, uint32_t id)
{
	if (id == 0 || id >= ids->max || !ids->used[id])
		return;
	u64map_del(&ids->by_key, ids->key_of[id]);
	ids->used[id] = false;
	ids->count--;
	lb_ids_push(ids, id);
}

size_t lb_ids_count(const struct lb_ids *ids)
{
	return ids->count;
}
