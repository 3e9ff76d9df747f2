/*
 * cache.c - see cache.h.
 *
 * Layout: one struct res per resource (the second segment of the key,
 * "/registry/<res>/..."), holding a sorted array of objects (binary search
 * for get, lower bound for a prefix list: a namespace's objects are
 * contiguous because keys are "/registry/<res>/<ns>/<name>") and a ring of
 * its last events, sorted by revision.
 *
 * One mutex guards everything and one condition variable wakes watchers.
 * Work under the lock is bounded and small (binary searches, pointer
 * copies, reference counts); encoding responses happens outside it, on the
 * shared immutable text of each object. A sorted array costs a memmove per
 * insert, which at 10,000 objects is a few microseconds: cheaper in code
 * and cache misses than a tree, and writes are serialised by the store's
 * group commit anyway.
 *
 * Watch positions: a watcher remembers the revision it has seen up to. The
 * ring of its resource holds every event after the resource's
 * `complete_since`; a position below that means events may have been
 * dropped, and the watcher must start over (-ESTALE, 410 Gone).
 */
#include "control/apiserver/cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"

struct ring {
	struct cache_event *ev;
	size_t cap, head, n;	/* oldest at head, n used */
};

struct res {
	char *name;
	struct cache_obj **objs;	/* sorted by key */
	size_t n, cap;
	struct ring hist;
	int64_t complete_since;	/* every event with rev > this is in hist */
	struct res *next;
};

struct cache {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct res *resources;
	size_t history;
	int64_t rev;
	int64_t loaded_rev;
	bool shutdown;
};

struct cache_watch {
	struct cache *c;
	char *prefix;
	size_t prefix_len;
	struct res *res;
	int64_t pos;
};

struct cache_obj *cache_obj_ref(struct cache_obj *o)
{
	if (o)
		atomic_fetch_add(&o->refs, 1);
	return o;
}

void cache_obj_unref(struct cache_obj *o)
{
	if (!o || atomic_fetch_sub(&o->refs, 1) != 1)
		return;
	json_decref(o->obj);
	free(o->text);
	free(o->key);
	free(o);
}

void cache_event_release(struct cache_event *ev)
{
	cache_obj_unref(ev->obj);
	cache_obj_unref(ev->prev);
	ev->obj = ev->prev = NULL;
}

struct cache *cache_new(size_t history)
{
	struct cache *c = xcalloc(1, sizeof(*c));
	pthread_condattr_t attr;

	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &attr);
	pthread_condattr_destroy(&attr);
	c->history = history ? history : 10000;
	return c;
}

static void res_free(struct res *r)
{
	for (size_t i = 0; i < r->n; i++)
		cache_obj_unref(r->objs[i]);
	for (size_t i = 0; i < r->hist.n; i++)
		cache_event_release(&r->hist.ev[(r->hist.head + i) % r->hist.cap]);
	free(r->hist.ev);
	free(r->objs);
	free(r->name);
	free(r);
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	while (c->resources) {
		struct res *r = c->resources;

		c->resources = r->next;
		res_free(r);
	}
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}

/* The resource segment of "/registry/<res>/..." into buf; false if malformed. */
static bool key_resource(const char *key, char *buf, size_t len)
{
	static const char pfx[] = "/registry/";
	const char *start, *end;

	if (strncmp(key, pfx, sizeof(pfx) - 1) != 0)
		return false;
	start = key + sizeof(pfx) - 1;
	end = strchr(start, '/');
	if (!end || end == start || (size_t)(end - start) >= len)
		return false;
	memcpy(buf, start, end - start);
	buf[end - start] = '\0';
	return true;
}

/* Find or create the resource of key. Lock held. NULL for a malformed key. */
static struct res *res_for(struct cache *c, const char *key, bool create)
{
	char name[128];
	struct res *r;

	if (!key_resource(key, name, sizeof(name)))
		return NULL;
	for (r = c->resources; r; r = r->next)
		if (strcmp(r->name, name) == 0)
			return r;
	if (!create)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->name = xstrdup(name);
	r->hist.cap = c->history;
	r->hist.ev = xcalloc(r->hist.cap, sizeof(*r->hist.ev));
	r->complete_since = c->loaded_rev;
	r->next = c->resources;
	c->resources = r;
	return r;
}

/* Index of the first object whose key is >= key. */
static size_t lower_bound(const struct res *r, const char *key)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(r->objs[mid]->key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct cache_obj *index_get(const struct res *r, const char *key)
{
	size_t i = lower_bound(r, key);

	return i < r->n && strcmp(r->objs[i]->key, key) == 0 ? r->objs[i] : NULL;
}

/* Insert or replace; takes the caller's reference to o. */
static void index_put(struct res *r, struct cache_obj *o)
{
	size_t i = lower_bound(r, o->key);

	if (i < r->n && strcmp(r->objs[i]->key, o->key) == 0) {
		cache_obj_unref(r->objs[i]);
		r->objs[i] = o;
		return;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->objs = xrealloc(r->objs, r->cap * sizeof(*r->objs));
	}
	memmove(&r->objs[i + 1], &r->objs[i], (r->n - i) * sizeof(*r->objs));
	r->objs[i] = o;
	r->n++;
}

static void index_del(struct res *r, const char *key)
{
	size_t i = lower_bound(r, key);

	if (i < r->n && strcmp(r->objs[i]->key, key) == 0) {
		cache_obj_unref(r->objs[i]);
		memmove(&r->objs[i], &r->objs[i + 1], (r->n - i - 1) * sizeof(*r->objs));
		r->n--;
	}
}

/* Append an event (takes its references); drop the oldest when full. */
static void ring_push(struct res *r, struct cache_event *ev)
{
	struct ring *h = &r->hist;

	if (h->n == h->cap) {
		struct cache_event *old = &h->ev[h->head];

		r->complete_since = old->rev;
		cache_event_release(old);
		h->head = (h->head + 1) % h->cap;
		h->n--;
	}
	h->ev[(h->head + h->n) % h->cap] = *ev;
	h->n++;
}

static struct cache_event *ring_at(struct ring *h, size_t i)
{
	return &h->ev[(h->head + i) % h->cap];
}

/* Logical index of the first event with rev > after. */
static size_t ring_after(struct ring *h, int64_t after)
{
	size_t lo = 0, hi = h->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ring_at(h, mid)->rev <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The stored text with "resourceVersion":"<rv>" added as the first member of
 * the top-level "metadata" object, or NULL when the text has no such
 * object or already carries a resourceVersion there. Encoding a pod with
 * jansson costs as much as the rest of a create; the stored text is the
 * same JSON minus this one member, so it is spliced in instead. The scan
 * tracks strings and nesting, so a "metadata" key deeper down (a pod
 * template's) or inside a string is never taken for the top-level one.
 */
static char *text_with_rv(const char *text, size_t len, const char *rv)
{
	static const char key[] = "\"metadata\"";
	int depth = 0;
	bool in_str = false;
	size_t i, at = 0;

	for (i = 0; i < len && !at; i++) {
		char ch = text[i];

		if (in_str) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_str = false;
			continue;
		}
		if (ch == '"') {
			if (depth == 1 && len - i > sizeof(key) &&
			    memcmp(text + i, key, sizeof(key) - 1) == 0) {
				size_t j = i + sizeof(key) - 1;

				while (j < len && (text[j] == ' ' || text[j] == ':'))
					j++;
				if (j < len && text[j] == '{' && text[j - 1] == ':')
					at = j + 1;
			}
			in_str = true;
		} else if (ch == '{' || ch == '[') {
			depth++;
		} else if (ch == '}' || ch == ']') {
			depth--;
		}
	}
	if (!at)
		return NULL;
	/* Writers strip resourceVersion; a text that has one is not ours to splice. */
	if (memmem(text + at, len - at, "\"resourceVersion\"", 17))
		return NULL;

	size_t rvlen = strlen(rv), n = len + rvlen + 22;
	bool empty = at < len && text[at] == '}';
	char *out = xmalloc(n + 1);
	int w = snprintf(out, n + 1, "%.*s\"resourceVersion\":\"%s\"%s%.*s", (int)at, text, rv,
			 empty ? "" : ",", (int)(len - at), text + at);

	if (w < 0 || (size_t)w > n) {
		free(out);
		return NULL;
	}
	return out;
}

/*
 * Build a cache object from a stored value, with resourceVersion = rev.
 * hint, when the writer passed its decoded object along (store.h), is
 * adopted instead of parsing value: the writer does not touch it again.
 */
static struct cache_obj *obj_from_value(const char *key, const char *value, size_t len,
					int64_t rev, void *hint)
{
	json_error_t jerr;
	json_t *obj = json_is_object((json_t *)hint) ? json_incref(hint)
						     : json_loadb(value, len, 0, &jerr);
	json_t *meta;
	struct cache_obj *o;
	char rv[32];

	if (!json_is_object(obj)) {
		log_error("cache: %s rev %lld holds no JSON object (%s)", key, (long long)rev,
			  jerr.text);
		json_decref(obj);
		return NULL;
	}
	meta = json_object_get(obj, "metadata");
	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(obj, "metadata", meta);
	}
	snprintf(rv, sizeof(rv), "%lld", (long long)rev);
	json_object_set_new(meta, "resourceVersion", json_string(rv));

	o = xcalloc(1, sizeof(*o));
	atomic_init(&o->refs, 1);
	o->key = xstrdup(key);
	o->obj = obj;
	o->text = text_with_rv(value, len, rv);
	if (!o->text) {
		/* The stored text is not what the API server writes: encode afresh. */
		o->text = json_dumps(obj, JSON_COMPACT);
		if (!o->text)
			abort();
	}
	o->len = strlen(o->text);
	o->rev = rev;
	return o;
}

int cache_load_kv(void *cache, const struct store_kv *kv)
{
	struct cache *c = cache;
	struct cache_obj *o = obj_from_value(kv->key, kv->value, kv->len, kv->mod_rev, NULL);
	struct res *r;

	if (!o)
		return 0;	/* logged; keep loading the rest */
	pthread_mutex_lock(&c->lock);
	r = res_for(c, kv->key, true);
	if (r)
		index_put(r, o);
	else
		cache_obj_unref(o);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void cache_loaded(struct cache *c, int64_t rev)
{
	pthread_mutex_lock(&c->lock);
	c->rev = rev;
	c->loaded_rev = rev;
	for (struct res *r = c->resources; r; r = r->next)
		r->complete_since = rev;
	pthread_mutex_unlock(&c->lock);
}

void cache_apply(void *cache, const struct store_event *ev)
{
	struct cache *c = cache;
	struct cache_obj *o = obj_from_value(ev->kv.key, ev->kv.value, ev->kv.len, ev->rev,
					     ev->hint);
	struct cache_event cev = { .rev = ev->rev };
	struct res *r;

	pthread_mutex_lock(&c->lock);
	c->rev = ev->rev;
	r = o ? res_for(c, ev->kv.key, true) : NULL;
	if (!r) {
		cache_obj_unref(o);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	cev.prev = cache_obj_ref(index_get(r, ev->kv.key));
	cev.obj = o;
	if (ev->type == STORE_EV_DELETE) {
		cev.type = CACHE_DELETED;
		index_del(r, ev->kv.key);
	} else {
		cev.type = cev.prev ? CACHE_MODIFIED : CACHE_ADDED;
		index_put(r, cache_obj_ref(o));
	}
	ring_push(r, &cev);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

int64_t cache_rev(struct cache *c)
{
	int64_t rev;

	pthread_mutex_lock(&c->lock);
	rev = c->rev;
	pthread_mutex_unlock(&c->lock);
	return rev;
}

size_t cache_count(struct cache *c, const char *prefix)
{
	struct res *r;
	size_t n = 0, len = strlen(prefix);

	pthread_mutex_lock(&c->lock);
	r = res_for(c, prefix, false);
	if (r)
		for (size_t i = lower_bound(r, prefix);
		     i < r->n && strncmp(r->objs[i]->key, prefix, len) == 0; i++)
			n++;
	pthread_mutex_unlock(&c->lock);
	return n;
}

struct cache_obj *cache_get(struct cache *c, const char *key)
{
	struct cache_obj *o = NULL;
	struct res *r;

	pthread_mutex_lock(&c->lock);
	r = res_for(c, key, false);
	if (r)
		o = cache_obj_ref(index_get(r, key));
	pthread_mutex_unlock(&c->lock);
	return o;
}

void cache_list(struct cache *c, const char *prefix, const char *after, size_t limit,
		cache_filter_fn filter, void *fctx, struct cache_list *out)
{
	size_t plen = strlen(prefix), cap = 0;
	struct res *r;

	*out = (struct cache_list){ 0 };
	pthread_mutex_lock(&c->lock);
	out->rev = c->rev;
	r = res_for(c, prefix, false);
	if (!r)
		goto unlock;
	size_t i = lower_bound(r, prefix);
	if (after && strcmp(after, prefix) >= 0) {
		i = lower_bound(r, after);
		if (i < r->n && strcmp(r->objs[i]->key, after) == 0)
			i++;
	}
	for (; i < r->n && strncmp(r->objs[i]->key, prefix, plen) == 0; i++) {
		struct cache_obj *o = r->objs[i];

		if (filter && !filter(fctx, o))
			continue;
		if (limit && out->n == limit) {
			out->more = true;
			break;
		}
		if (out->n == cap) {
			cap = cap ? cap * 2 : 64;
			out->items = xrealloc(out->items, cap * sizeof(*out->items));
		}
		out->items[out->n++] = cache_obj_ref(o);
	}
unlock:
	pthread_mutex_unlock(&c->lock);
}

void cache_list_release(struct cache_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		cache_obj_unref(l->items[i]);
	free(l->items);
	*l = (struct cache_list){ 0 };
}

int cache_watch_start(struct cache *c, const char *prefix, int64_t from,
		      struct cache_watch **out)
{
	struct cache_watch *w;
	struct res *r;

	pthread_mutex_lock(&c->lock);
	r = res_for(c, prefix, true);
	if (!r || from < r->complete_since) {
		pthread_mutex_unlock(&c->lock);
		return r ? -ESTALE : -EINVAL;
	}
	pthread_mutex_unlock(&c->lock);
	w = xcalloc(1, sizeof(*w));
	w->c = c;
	w->prefix = xstrdup(prefix);
	w->prefix_len = strlen(prefix);
	w->res = r;
	w->pos = from;
	*out = w;
	return 0;
}

int cache_watch_next(struct cache_watch *w, struct cache_event *ev, int timeout_ms)
{
	struct cache *c = w->c;
	struct res *r = w->res;
	struct timespec deadline;
	int err = 0;

	deadline_after_ms(&deadline, CLOCK_MONOTONIC, timeout_ms);
	pthread_mutex_lock(&c->lock);
	for (;;) {
		if (c->shutdown) {
			err = -ECANCELED;
			break;
		}
		if (w->pos < r->complete_since) {
			err = -ESTALE;
			break;
		}
		size_t i = ring_after(&r->hist, w->pos);
		for (; i < r->hist.n; i++) {
			struct cache_event *e = ring_at(&r->hist, i);

			w->pos = e->rev;
			if (strncmp(e->obj->key, w->prefix, w->prefix_len) == 0) {
				ev->type = e->type;
				ev->rev = e->rev;
				ev->obj = cache_obj_ref(e->obj);
				ev->prev = cache_obj_ref(e->prev);
				goto unlock;
			}
		}
		/* Nothing for us up to the cache's revision. */
		if (c->rev > w->pos)
			w->pos = c->rev;
		if (pthread_cond_timedwait(&c->cond, &c->lock, &deadline) == ETIMEDOUT) {
			err = -ETIMEDOUT;
			break;
		}
	}
unlock:
	pthread_mutex_unlock(&c->lock);
	return err;
}

int64_t cache_watch_rev(struct cache_watch *w)
{
	int64_t pos;

	pthread_mutex_lock(&w->c->lock);
	pos = w->pos;
	pthread_mutex_unlock(&w->c->lock);
	return pos;
}

void cache_watch_stop(struct cache_watch *w)
{
	if (!w)
		return;
	free(w->prefix);
	free(w);
}

void cache_shutdown(struct cache *c)
{
	pthread_mutex_lock(&c->lock);
	c->shutdown = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}
