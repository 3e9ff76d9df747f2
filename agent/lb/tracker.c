/*
 * tracker.c - see tracker.h.
 *
 * Pending entries live in a jansson object (a hash table keyed by string):
 * key -> [previous, current, since_ns], with JSON null for "absent". Digests
 * are JSON already, so nothing is converted on the way in or out.
 */
#include "agent/lb/tracker.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "util.h"

struct tracker {
	pthread_mutex_t mu;
	json_t *items;
};

struct tracker *tracker_new(void)
{
	struct tracker *t = xcalloc(1, sizeof(*t));

	pthread_mutex_init(&t->mu, NULL);
	t->items = json_object();
	return t;
}

void tracker_free(struct tracker *t)
{
	if (!t)
		return;
	json_decref(t->items);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

static json_t *or_null(const json_t *v)
{
	return v ? json_incref((json_t *)v) : json_null();
}

static json_t *from_null(json_t *v)
{
	return json_is_null(v) ? NULL : v;
}

bool tracker_update(struct tracker *t, const char *key, const json_t *prev, const json_t *cur,
		    uint64_t now_ns)
{
	json_t *entry;
	bool pending;

	if (!key || !*key)
		return false;
	pthread_mutex_lock(&t->mu);
	entry = json_object_get(t->items, key);
	if (!entry) {
		entry = json_pack("[ooI]", or_null(prev), or_null(cur), (json_int_t)now_ns);
		json_object_set_new(t->items, key, entry);
	} else {
		/* The previous state stays the one the last sync saw. */
		json_array_set_new(entry, 1, or_null(cur));
	}
	pending = !jsonx_equal(from_null(json_array_get(entry, 0)),
			       from_null(json_array_get(entry, 1)));
	if (!pending)
		json_object_del(t->items, key);
	pthread_mutex_unlock(&t->mu);
	return pending;
}

size_t tracker_pending(struct tracker *t)
{
	size_t n;

	pthread_mutex_lock(&t->mu);
	n = json_object_size(t->items);
	pthread_mutex_unlock(&t->mu);
	return n;
}

static int change_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tracker_change *)a)->key,
		      ((const struct tracker_change *)b)->key);
}

void tracker_drain(struct tracker *t, struct tracker_changes *out)
{
	const char *key;
	json_t *items, *entry;
	size_t i = 0;

	pthread_mutex_lock(&t->mu);
	items = t->items;
	t->items = json_object();
	pthread_mutex_unlock(&t->mu);

	out->n = json_object_size(items);
	out->v = xcalloc(out->n ? out->n : 1, sizeof(*out->v));
	json_object_foreach(items, key, entry) {
		struct tracker_change *c = &out->v[i++];
		json_t *p = from_null(json_array_get(entry, 0)),
		       *n = from_null(json_array_get(entry, 1));

		c->key = xstrdup(key);
		c->prev = p ? json_incref(p) : NULL;
		c->cur = n ? json_incref(n) : NULL;
		c->since_ns = (uint64_t)json_integer_value(json_array_get(entry, 2));
	}
	json_decref(items);
	qsort(out->v, out->n, sizeof(*out->v), change_cmp);
}

void tracker_changes_free(struct tracker_changes *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].key);
		json_decref(c->v[i].prev);
		json_decref(c->v[i].cur);
	}
	free(c->v);
	c->v = NULL;
	c->n = 0;
}
