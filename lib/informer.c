/*
 * informer.c - see informer.h.
 *
 * The cache is a jansson object used as a hash table: key "ns/name", value
 * the object. That gives O(1) lookups without a second hash table
 * implementation, and a re-list can build the new table beside the old one
 * and diff the two before swapping them under the lock.
 *
 * Rejected: re-watching from the last resourceVersion after a broken stream
 * (what client-go does). A broken stream here usually means the API server
 * restarted, and listing again is the one path that is always consistent;
 * the cost is one list per outage.
 */
#include "informer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"

struct informer {
	struct httpc_config http; /* owned copies of the strings */
	char *path;
	char *label_selector; /* escaped for the query, or NULL */
	char *field_selector; /* escaped, or NULL */
	unsigned page_size;
	unsigned watch_timeout_s;
	unsigned backoff_min_ms, backoff_max_ms;
	struct informer_handlers h;
	void *ctx;

	struct httpc *client;
	pthread_t thread;
	bool started;
	atomic_bool stopping;

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t cond;  /* synced, or stopping */
	json_t *cache;	      /* key -> object */
	char rv[64];
	bool synced;
	struct informer_stats stats;
	unsigned rand_state;
};

/* Why a watch ended. */
enum watch_end {
	WATCH_TIMEOUT, /* clean end: watch again from rv */
	WATCH_EXPIRED, /* 410: list again now */
	WATCH_BROKEN,  /* error: back off, list again */
	WATCH_STOPPED,
};

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static char *escape_or_null(const char *s)
{
	return s && *s ? httpc_escape(s) : NULL;
}

int informer_key(const json_t *obj, char *buf, size_t len)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	int n;

	if (!name || !*name)
		return -EINVAL;
	if (ns && *ns)
		n = snprintf(buf, len, "%s/%s", ns, name);
	else
		n = snprintf(buf, len, "%s", name);
	return n < 0 || (size_t)n >= len ? -EINVAL : 0;
}

static const char *object_rv(const json_t *obj)
{
	const char *rv = json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));

	return rv ? rv : "";
}

struct informer *informer_new(const struct informer_config *cfg)
{
	struct informer *inf;

	if (!cfg->path || cfg->path[0] != '/')
		return NULL;
	inf = xcalloc(1, sizeof(*inf));
	inf->http = cfg->http;
	inf->http.server = dup_or_null(cfg->http.server);
	inf->http.ca_file = dup_or_null(cfg->http.ca_file);
	inf->http.ca_pem = dup_or_null(cfg->http.ca_pem);
	inf->http.cert_file = dup_or_null(cfg->http.cert_file);
	inf->http.cert_pem = dup_or_null(cfg->http.cert_pem);
	inf->http.key_file = dup_or_null(cfg->http.key_file);
	inf->http.key_pem = dup_or_null(cfg->http.key_pem);
	inf->http.token = dup_or_null(cfg->http.token);
	inf->http.user_agent = dup_or_null(cfg->http.user_agent);
	inf->path = xstrdup(cfg->path);
	inf->label_selector = escape_or_null(cfg->label_selector);
	inf->field_selector = escape_or_null(cfg->field_selector);
	inf->page_size = cfg->page_size ? cfg->page_size : 500;
	inf->watch_timeout_s = cfg->watch_timeout_s;
	inf->backoff_min_ms = cfg->backoff_min_ms ? cfg->backoff_min_ms : 200;
	inf->backoff_max_ms = cfg->backoff_max_ms ? cfg->backoff_max_ms : 10000;
	inf->h = cfg->handlers;
	inf->ctx = cfg->ctx;
	inf->cache = json_object();
	inf->rand_state = (unsigned)now_mono_ns();
	pthread_mutex_init(&inf->lock, NULL);
	/* Timed waits use CLOCK_MONOTONIC: wall-clock jumps must not stretch them. */
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&inf->cond, &attr);
	pthread_condattr_destroy(&attr);

	inf->client = httpc_new(&inf->http);
	if (!inf->client) {
		informer_free(inf);
		return NULL;
	}
	return inf;
}

/* Query prefix shared by list and watch: selectors. */
static void append_selectors(struct informer *inf, struct buf *url)
{
	if (inf->label_selector)
		buf_appendf(url, "&labelSelector=%s", inf->label_selector);
	if (inf->field_selector)
		buf_appendf(url, "&fieldSelector=%s", inf->field_selector);
}

static char sep_for(const char *path)
{
	return strchr(path, '?') ? '&' : '?';
}

/* Sleep up to ms, waking early on stop. Returns true if stopping. */
static bool sleep_or_stop(struct informer *inf, unsigned ms)
{
	struct timespec ts;

	deadline_after_ms(&ts, CLOCK_MONOTONIC, ms);
	pthread_mutex_lock(&inf->lock);
	while (!atomic_load(&inf->stopping)) {
		if (pthread_cond_timedwait(&inf->cond, &inf->lock, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&inf->lock);
	return atomic_load(&inf->stopping);
}

static void count_error(struct informer *inf)
{
	pthread_mutex_lock(&inf->lock);
	inf->stats.errors++;
	pthread_mutex_unlock(&inf->lock);
}

/* Replace the cache with `fresh` (key -> object) and dispatch the difference. */
static void apply_list(struct informer *inf, json_t *fresh, const char *rv)
{
	json_t *old, *added = json_array(), *updated = json_array(), *deleted = json_array();
	const char *key;
	json_t *obj;
	size_t i;

	pthread_mutex_lock(&inf->lock);
	old = inf->cache;
	inf->cache = fresh;
	snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
	inf->stats.lists++;
	json_object_foreach(fresh, key, obj) {
		json_t *prev = json_object_get(old, key);

		if (!prev)
			json_array_append(added, obj);
		else if (strcmp(object_rv(prev), object_rv(obj)) != 0)
			json_array_append_new(updated, json_pack("[OO]", prev, obj));
	}
	json_object_foreach(old, key, obj) {
		if (!json_object_get(fresh, key))
			json_array_append(deleted, obj);
	}
	pthread_mutex_unlock(&inf->lock);

	json_array_foreach(deleted, i, obj) {
		if (inf->h.on_delete)
			inf->h.on_delete(inf->ctx, obj);
	}
	json_array_foreach(added, i, obj) {
		if (inf->h.on_add)
			inf->h.on_add(inf->ctx, obj);
	}
	json_array_foreach(updated, i, obj) {
		if (inf->h.on_update)
			inf->h.on_update(inf->ctx, json_array_get(obj, 0), json_array_get(obj, 1));
	}
	json_decref(old);
	json_decref(added);
	json_decref(updated);
	json_decref(deleted);

	pthread_mutex_lock(&inf->lock);
	inf->synced = true;
	pthread_cond_broadcast(&inf->cond);
	pthread_mutex_unlock(&inf->lock);
}

/* List every page. 0 on success (cache replaced), -errno otherwise. */
static int list_all(struct informer *inf)
{
	json_t *fresh = json_object();
	char *cont = NULL;
	char rv[64] = "";
	int err = 0;

	for (;;) {
		struct buf url = { 0 };
		json_t *resp = NULL, *items, *meta, *item;
		const char *next;
		int status;
		size_t i;

		buf_appendf(&url, "%s%climit=%u", inf->path, sep_for(inf->path), inf->page_size);
		append_selectors(inf, &url);
		if (cont)
			buf_appendf(&url, "&continue=%s", cont);
		status = httpc_json(inf->client, "GET", url.data, NULL, &resp);
		if (status != 200) {
			if (status < 0)
				log_debug("list %s: %s", inf->path, httpc_error(inf->client));
			else
				log_warn("list %s: HTTP %d: %s", inf->path, status,
					 json_string_value(json_object_get(resp, "message")) ?: "");
			err = status < 0 ? status : (status == 410 ? -ESTALE : -EIO);
		}
		buf_free(&url);
		free(cont);
		cont = NULL;
		if (err) {
			json_decref(resp);
			break;
		}
		items = json_object_get(resp, "items");
		meta = json_object_get(resp, "metadata");
		if (!json_is_array(items) && !json_is_null(items) && items) {
			json_decref(resp);
			err = -EBADMSG;
			break;
		}
		json_array_foreach(items, i, item) {
			char key[512];

			if (informer_key(item, key, sizeof(key)) == 0)
				json_object_set(fresh, key, item);
		}
		snprintf(rv, sizeof(rv), "%s",
			 json_string_value(json_object_get(meta, "resourceVersion")) ?: "");
		next = json_string_value(json_object_get(meta, "continue"));
		if (next && *next)
			cont = httpc_escape(next);
		json_decref(resp);
		if (!cont)
			break;
	}
	if (err) {
		json_decref(fresh);
		return err;
	}
	apply_list(inf, fresh, rv);
	return 0;
}

struct watch_state {
	struct informer *inf;
	enum watch_end end;
	unsigned long events;
};

static void set_rv_locked(struct informer *inf, const json_t *obj)
{
	const char *rv = object_rv(obj);

	if (*rv)
		snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
}

/* Apply one watch event line; non-zero stops the stream. */
static int on_watch_line(void *ctx, const char *line, size_t len)
{
	struct watch_state *ws = ctx;
	struct informer *inf = ws->inf;
	json_t *ev = json_loadb(line, len, 0, NULL);
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *obj = json_object_get(ev, "object");
	json_t *prev = NULL;
	char key[512];
	int ret = 0;

	if (!type || !json_is_object(obj)) {
		log_warn("watch %s: malformed event, re-listing", inf->path);
		ws->end = WATCH_BROKEN;
		ret = 1;
		goto out;
	}
	if (strcmp(type, "ERROR") == 0) {
		json_int_t code = json_integer_value(json_object_get(obj, "code"));

		ws->end = code == 410 ? WATCH_EXPIRED : WATCH_BROKEN;
		log_debug("watch %s: error event %lld (%s)", inf->path, (long long)code,
			  json_string_value(json_object_get(obj, "reason")) ?: "");
		ret = 1;
		goto out;
	}
	if (strcmp(type, "BOOKMARK") == 0) {
		pthread_mutex_lock(&inf->lock);
		set_rv_locked(inf, obj);
		pthread_mutex_unlock(&inf->lock);
		goto out;
	}
	if (informer_key(obj, key, sizeof(key)) < 0) {
		log_warn("watch %s: %s event for an object without a name", inf->path, type);
		goto out;
	}

	pthread_mutex_lock(&inf->lock);
	prev = json_incref(json_object_get(inf->cache, key));
	set_rv_locked(inf, obj);
	inf->stats.events++;
	if (strcmp(type, "DELETED") == 0)
		json_object_del(inf->cache, key);
	else if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0)
		json_object_set(inf->cache, key, obj);
	else
		type = NULL;
	pthread_mutex_unlock(&inf->lock);
	ws->events++;

	if (!type)
		log_warn("watch %s: unknown event type ignored", inf->path);
	else if (strcmp(type, "DELETED") == 0) {
		if (prev && inf->h.on_delete)
			inf->h.on_delete(inf->ctx, obj);
	} else if (prev) {
		if (inf->h.on_update)
			inf->h.on_update(inf->ctx, prev, obj);
	} else if (inf->h.on_add) {
		inf->h.on_add(inf->ctx, obj);
	}
out:
	json_decref(prev);
	json_decref(ev);
	return ret;
}

static enum watch_end watch_once(struct informer *inf)
{
	struct watch_state ws = { .inf = inf, .end = WATCH_TIMEOUT };
	struct httpc_response resp;
	struct buf url = { 0 };
	unsigned timeout = inf->watch_timeout_s;
	char rv[64];
	int err;

	pthread_mutex_lock(&inf->lock);
	snprintf(rv, sizeof(rv), "%s", inf->rv);
	if (!timeout)
		timeout = 300 + rand_r(&inf->rand_state) % 301;
	inf->stats.watches++;
	pthread_mutex_unlock(&inf->lock);

	buf_appendf(&url, "%s%cwatch=1&allowWatchBookmarks=true&timeoutSeconds=%u", inf->path,
		    sep_for(inf->path), timeout);
	if (rv[0])
		buf_appendf(&url, "&resourceVersion=%s", rv);
	append_selectors(inf, &url);
	err = httpc_stream_lines(inf->client, url.data, on_watch_line, &ws, &resp);
	buf_free(&url);

	if (atomic_load(&inf->stopping))
		ws.end = WATCH_STOPPED;
	else if (err == -ECANCELED)
		; /* the line handler chose ws.end */
	else if (err) {
		log_debug("watch %s: %s", inf->path, httpc_error(inf->client));
		ws.end = WATCH_BROKEN;
	} else if (resp.status == 410) {
		ws.end = WATCH_EXPIRED;
	} else if (resp.status != 200) {
		log_warn("watch %s: HTTP %ld", inf->path, resp.status);
		ws.end = WATCH_BROKEN;
	}
	httpc_response_free(&resp);
	return ws.end;
}

static unsigned next_backoff(struct informer *inf, unsigned cur)
{
	unsigned next = cur ? cur * 2 : inf->backoff_min_ms;
	unsigned jitter;

	if (next > inf->backoff_max_ms)
		next = inf->backoff_max_ms;
	/* +-25% so that many informers do not retry in lockstep. */
	jitter = next / 2 ? (unsigned)rand_r(&inf->rand_state) % (next / 2) : 0;
	return next - next / 4 + jitter;
}

static void *informer_main(void *arg)
{
	struct informer *inf = arg;
	unsigned backoff = 0;

	while (!atomic_load(&inf->stopping)) {
		int err = list_all(inf);

		if (err) {
			if (atomic_load(&inf->stopping))
				break;
			count_error(inf);
			backoff = next_backoff(inf, backoff);
			log_debug("list %s failed (%s), retrying in %u ms", inf->path,
				  strerror(-err), backoff);
			sleep_or_stop(inf, backoff);
			continue;
		}
		backoff = 0;

		enum watch_end end;
		for (;;) {
			uint64_t start = now_mono_ns();
			unsigned long events = inf->stats.events;

			end = watch_once(inf);
			if (end != WATCH_TIMEOUT || atomic_load(&inf->stopping))
				break;
			/* A server that ends every watch at once must not make us spin. */
			if (now_mono_ns() - start < 1000000000ull && events == inf->stats.events &&
			    sleep_or_stop(inf, inf->backoff_min_ms))
				break;
		}

		if (end == WATCH_BROKEN) {
			count_error(inf);
			backoff = next_backoff(inf, backoff);
			sleep_or_stop(inf, backoff);
		} else if (end == WATCH_EXPIRED) {
			log_debug("watch %s: resourceVersion expired, re-listing", inf->path);
		}
	}
	return NULL;
}

int informer_start(struct informer *inf)
{
	int err;

	if (inf->started)
		return -EALREADY;
	err = -pthread_create(&inf->thread, NULL, informer_main, inf);
	if (!err)
		inf->started = true;
	return err;
}

void informer_stop(struct informer *inf)
{
	atomic_store(&inf->stopping, true);
	httpc_cancel(inf->client);
	pthread_mutex_lock(&inf->lock);
	pthread_cond_broadcast(&inf->cond);
	pthread_mutex_unlock(&inf->lock);
	if (inf->started) {
		pthread_join(inf->thread, NULL);
		inf->started = false;
	}
}

void informer_free(struct informer *inf)
{
	if (!inf)
		return;
	if (inf->client)
		informer_stop(inf);
	httpc_free(inf->client);
	json_decref(inf->cache);
	pthread_mutex_destroy(&inf->lock);
	pthread_cond_destroy(&inf->cond);
	free((char *)inf->http.server);
	free((char *)inf->http.ca_file);
	free((char *)inf->http.ca_pem);
	free((char *)inf->http.cert_file);
	free((char *)inf->http.cert_pem);
	free((char *)inf->http.key_file);
	free((char *)inf->http.key_pem);
	free((char *)inf->http.token);
	free((char *)inf->http.user_agent);
	free(inf->path);
	free(inf->label_selector);
	free(inf->field_selector);
	free(inf);
}

bool informer_synced(struct informer *inf)
{
	bool s;

	pthread_mutex_lock(&inf->lock);
	s = inf->synced;
	pthread_mutex_unlock(&inf->lock);
	return s;
}

int informer_wait_synced(struct informer *inf, int timeout_ms)
{
	struct timespec ts;
	int err = 0;

	deadline_after_ms(&ts, CLOCK_MONOTONIC, timeout_ms);
	pthread_mutex_lock(&inf->lock);
	while (!inf->synced && !atomic_load(&inf->stopping) && !err)
		err = pthread_cond_timedwait(&inf->cond, &inf->lock, &ts);
	if (inf->synced)
		err = 0;
	else if (atomic_load(&inf->stopping))
		err = -ECANCELED;
	else
		err = -ETIMEDOUT;
	pthread_mutex_unlock(&inf->lock);
	return err;
}

json_t *informer_get(struct informer *inf, const char *ns, const char *name)
{
	char key[512];
	json_t *obj;

	if (ns && *ns)
		snprintf(key, sizeof(key), "%s/%s", ns, name);
	else
		snprintf(key, sizeof(key), "%s", name);
	pthread_mutex_lock(&inf->lock);
	obj = json_incref(json_object_get(inf->cache, key));
	pthread_mutex_unlock(&inf->lock);
	return obj;
}

json_t *informer_list(struct informer *inf)
{
	json_t *arr = json_array(), *obj;
	const char *key;

	pthread_mutex_lock(&inf->lock);
	json_object_foreach(inf->cache, key, obj)
		json_array_append(arr, obj);
	pthread_mutex_unlock(&inf->lock);
	return arr;
}

size_t informer_len(struct informer *inf)
{
	size_t n;

	pthread_mutex_lock(&inf->lock);
	n = json_object_size(inf->cache);
	pthread_mutex_unlock(&inf->lock);
	return n;
}

void informer_resource_version(struct informer *inf, char *buf, size_t len)
{
	pthread_mutex_lock(&inf->lock);
	snprintf(buf, len, "%s", inf->rv);
	pthread_mutex_unlock(&inf->lock);
}

void informer_get_stats(struct informer *inf, struct informer_stats *out)
{
	pthread_mutex_lock(&inf->lock);
	*out = inf->stats;
	pthread_mutex_unlock(&inf->lock);
}
