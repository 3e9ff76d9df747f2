/* strmap.c - see strmap.h. */
#include "control/scheduler/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static uint64_t hash_str(const char *s)
{
	/* FNV-1a: short keys, good enough spread, no seed needed (keys are not hostile:
	 * the API server already validated every name). */
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static size_t find_slot(const struct sched_map *m, const char *key)
{
	size_t mask = m->cap - 1, i = (size_t)hash_str(key) & mask;

	while (m->vals[i] && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & mask;
	return i;
}

static void grow(struct sched_map *m)
{
	struct sched_map n = { 0 };

	n.cap = m->cap ? m->cap * 2 : 16;
	n.keys = xcalloc(n.cap, sizeof(*n.keys));
	n.vals = xcalloc(n.cap, sizeof(*n.vals));
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->vals[i])
			continue;
		size_t j = find_slot(&n, m->keys[i]);

		n.keys[j] = m->keys[i];
		n.vals[j] = m->vals[i];
	}
	n.len = m->len;
	free(m->keys);
	free(m->vals);
	*m = n;
}

void *sched_map_get(const struct sched_map *m, const char *key)
{
	if (!m->cap || !key)
		return NULL;
	return m->vals[find_slot(m, key)];
}

void *sched_map_put(struct sched_map *m, const char *key, void *val)
{
	size_t i;
	void *old;

	if ((m->len + 1) * 10 > m->cap * 7)
		grow(m);
	i = find_slot(m, key);
	old = m->vals[i];
	if (!old) {
		m->keys[i] = xstrdup(key);
		m->len++;
	}
	m->vals[i] = val;
	return old;
}

void *sched_map_del(struct sched_map *m, const char *key)
{
	size_t mask, i, j;
	void *old;

	if (!m->cap || !key)
		return NULL;
	mask = m->cap - 1;
	i = find_slot(m, key);
	old = m->vals[i];
	if (!old)
		return NULL;
	free(m->keys[i]);
	m->keys[i] = NULL;
	m->vals[i] = NULL;
	m->len--;
	/* Backward shift: pull later members of the probe run into the hole when their home
	 * slot is not between the hole and their current slot (cyclically). */
	for (j = (i + 1) & mask; m->vals[j]; j = (j + 1) & mask) {
		size_t home = (size_t)hash_str(m->keys[j]) & mask;

		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			m->keys[i] = m->keys[j];
			m->vals[i] = m->vals[j];
			m->keys[j] = NULL;
			m->vals[j] = NULL;
			i = j;
		}
	}
	return old;
}

void sched_map_free(struct sched_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->vals[i])
			free(m->keys[i]);
	free(m->keys);
	free(m->vals);
	*m = (struct sched_map){ 0 };
}

bool sched_map_next(const struct sched_map *m, size_t *it, const char **key, void **val)
{
	for (; *it < m->cap; (*it)++) {
		if (m->vals[*it]) {
			if (key)
				*key = m->keys[*it];
			if (val)
				*val = m->vals[*it];
			(*it)++;
			return true;
		}
	}
	return false;
}
