/* u64map.c - see u64map.h. */
#include "agent/lb/u64map.h"

#include <stdlib.h>

#include "util.h"

/* Packed (addr, port, proto) keys differ in few bits: mix64 spreads them. */
static size_t u64map_hash(uint64_t k)
{
	return (size_t)mix64(k);
}

static size_t u64map_find(const struct u64map *m, uint64_t key)
{
	size_t mask = m->cap - 1, i = u64map_hash(key) & mask;

	while (m->vals[i] && m->keys[i] != key)
		i = (i + 1) & mask;
	return i;
}

void *u64map_get(const struct u64map *m, uint64_t key)
{
	if (!m->cap)
		return NULL;
	return m->vals[u64map_find(m, key)];
}

static void u64map_grow(struct u64map *m)
{
	struct u64map bigger = { .cap = m->cap ? m->cap * 2 : 16 };

	bigger.keys = xcalloc(bigger.cap, sizeof(*bigger.keys));
	bigger.vals = xcalloc(bigger.cap, sizeof(*bigger.vals));
	for (size_t i = 0; i < m->cap; i++) {
		if (m->vals[i]) {
			size_t j = u64map_find(&bigger, m->keys[i]);

			bigger.keys[j] = m->keys[i];
			bigger.vals[j] = m->vals[i];
		}
	}
	bigger.len = m->len;
	u64map_free(m);
	*m = bigger;
}

void u64map_put(struct u64map *m, uint64_t key, void *val)
{
	size_t i;

	if ((m->len + 1) * 10 > m->cap * 7)
		u64map_grow(m);
	i = u64map_find(m, key);
	if (!m->vals[i])
		m->len++;
	m->keys[i] = key;
	m->vals[i] = val;
}

void *u64map_del(struct u64map *m, uint64_t key)
{
	size_t mask, i, j;
	void *old;

	if (!m->cap)
		return NULL;
	mask = m->cap - 1;
	i = u64map_find(m, key);
	old = m->vals[i];
	if (!old)
		return NULL;
	m->vals[i] = NULL;
	m->len--;
	/* Backward shift: pull every later entry of the probe run whose home
	 * bucket is not in (i, j] into the hole, so lookups never stop early. */
	for (j = (i + 1) & mask; m->vals[j]; j = (j + 1) & mask) {
		size_t home = u64map_hash(m->keys[j]) & mask;

		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		m->keys[i] = m->keys[j];
		m->vals[i] = m->vals[j];
		m->vals[j] = NULL;
		i = j;
	}
	return old;
}

void u64map_free(struct u64map *m)
{
	free(m->keys);
	free(m->vals);
	*m = (struct u64map){ 0 };
}

bool u64map_next(const struct u64map *m, size_t *it, uint64_t *key, void **val)
{
	while (*it < m->cap) {
		size_t i = (*it)++;

		if (m->vals[i]) {
			*key = m->keys[i];
			*val = m->vals[i];
			return true;
		}
	}
	return false;
}
