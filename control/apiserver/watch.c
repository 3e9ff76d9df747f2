/*
 * watch.c - GET ...?watch=1: a chunked stream of watch events.
 *
 * Without a resourceVersion (or with "0") the stream starts with the
 * current state as ADDED events, then continues with changes; with one, it
 * sends only what happened after it (410 Expired as an ERROR event when
 * the history no longer reaches back that far). With a selector, an object
 * that starts matching arrives as ADDED and one that stops matching as
 * DELETED (its previous content, the new resourceVersion), so a watcher's
 * view is always the set of matching objects: the kubelet's
 * spec.nodeName watch relies on this.
 *
 * The stream's reader callback runs in the connection's own thread and
 * blocks on the cache in one-second slices, checking between slices
 * whether the client hung up, so a watch that sees no events still ends
 * when its client goes.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "control/apiserver/encode.h"
#include "control/apiserver/handlers.h"
#include "control/apiserver/server.h"
#include "control/apiserver/status.h"
#include "jsonx.h"
#include "log.h"

#define BOOKMARK_INTERVAL_NS (30ull * 1000000000ull)

struct watch_stream {
	struct api_req *req_ref;	/* only for the connection fd */
	int client_fd;
	const struct resource *r;
	struct cache_watch *w;
	struct list_filter f;
	struct out_format fmt;
	bool bookmarks;
	bool columns_sent;
	bool ended;
	uint64_t deadline_ns;
	uint64_t next_bookmark_ns;
	struct cache_list initial;	/* current state to send first */
	size_t next_initial;
	char *pending;			/* encoded bytes not yet handed out */
	size_t pending_len, off;
};

/* A copy of o with another resourceVersion (a DELETED for "stopped matching"). */
static struct cache_obj *with_rv(const struct cache_obj *o, int64_t rev)
{
	struct cache_obj *c = xcalloc(1, sizeof(*c));
	char rv[32];

	atomic_init(&c->refs, 1);
	c->key = xstrdup(o->key);
	c->obj = json_deep_copy(o->obj);
	snprintf(rv, sizeof(rv), "%lld", (long long)rev);
	json_object_set_new(obj_meta(c->obj), "resourceVersion", json_string(rv));
	c->text = json_dumps(c->obj, JSON_COMPACT);
	if (!c->text)
		abort();
	c->len = strlen(c->text);
	c->rev = rev;
	return c;
}

static void queue_event(struct watch_stream *ws, const char *type, const struct cache_obj *o)
{
	free(ws->pending);
	ws->pending = encode_watch_event(ws->r, type, o, &ws->fmt, !ws->columns_sent);
	ws->pending_len = strlen(ws->pending);
	ws->off = 0;
	ws->columns_sent = true;
}

static void queue_raw(struct watch_stream *ws, char *text)
{
	free(ws->pending);
	ws->pending = text;
	ws->pending_len = strlen(text);
	ws->off = 0;
}

static void queue_bookmark(struct watch_stream *ws)
{
	char api_version[96];

	registry_api_version(ws->r, api_version, sizeof(api_version));
	queue_raw(ws, xasprintf("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"%s\","
				"\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":"
				"\"%lld\"}}}\n",
				ws->r->kind, api_version, (long long)cache_watch_rev(ws->w)));
}

static void queue_expired(struct watch_stream *ws, const char *why)
{
	json_t *st = status_failure(REASON_EXPIRED, NULL, NULL, NULL, "%s", why);
	json_t *ev = json_pack("{s:s,s:o}", "type", "ERROR", "object", st);
	char *text = json_dumps(ev, JSON_COMPACT);

	json_decref(ev);
	queue_raw(ws, xasprintf("%s\n", text));
	free(text);
	ws->ended = true;
}

/* Translate a cache event through the selectors; queue what the client sees. */
static void translate(struct watch_stream *ws, struct cache_event *ev)
{
	bool now = list_filter_match(&ws->f, ev->obj->obj);
	bool before = ev->prev && list_filter_match(&ws->f, ev->prev->obj);

	switch (ev->type) {
	case CACHE_ADDED:
		if (now)
			queue_event(ws, "ADDED", ev->obj);
		break;
	case CACHE_DELETED:
		if (now)
			queue_event(ws, "DELETED", ev->obj);
		break;
	case CACHE_MODIFIED:
		if (now && before) {
			queue_event(ws, "MODIFIED", ev->obj);
		} else if (now) {
			queue_event(ws, "ADDED", ev->obj);
		} else if (before) {
			struct cache_obj *gone = with_rv(ev->prev, ev->rev);

			queue_event(ws, "DELETED", gone);
			cache_obj_unref(gone);
		}
		break;
	}
}

static bool client_hung_up(const struct watch_stream *ws)
{
	struct pollfd p = { .fd = ws->client_fd, .events = POLLRDHUP };

	if (ws->client_fd < 0)
		return false;
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Fill ws->pending with the next thing to send; false when the stream is over. */
static bool next_chunk(struct watch_stream *ws)
{
	while (!ws->pending) {
		uint64_t now = now_mono_ns();
		struct cache_event ev;
		int err, slice;

		if (ws->next_initial < ws->initial.n) {
			queue_event(ws, "ADDED", ws->initial.items[ws->next_initial++]);
			break;
		}
		if (ws->ended || now >= ws->deadline_ns || client_hung_up(ws))
			return false;
		slice = (int)MIN((ws->deadline_ns - now) / 1000000ull, 1000ull);
		err = cache_watch_next(ws->w, &ev, slice);
		if (err == 0) {
			translate(ws, &ev);
			cache_event_release(&ev);
		} else if (err == -ETIMEDOUT) {
			if (ws->bookmarks && now_mono_ns() >= ws->next_bookmark_ns) {
				queue_bookmark(ws);
				ws->next_bookmark_ns = now_mono_ns() + BOOKMARK_INTERVAL_NS;
			}
		} else if (err == -ESTALE) {
			queue_expired(ws, "The resourceVersion for the provided watch is too old.");
		} else {
			return false;	/* shutting down */
		}
	}
	return true;
}

static ssize_t watch_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct watch_stream *ws = cls;
	size_t n;

	if (!next_chunk(ws))
		return MHD_CONTENT_READER_END_OF_STREAM;
	n = MIN(max, ws->pending_len - ws->off);
	memcpy(buf, ws->pending + ws->off, n);
	ws->off += n;
	if (ws->off == ws->pending_len) {
		free(ws->pending);
		ws->pending = NULL;
	}
	return (ssize_t)n;
}

static void watch_free(void *cls)
{
	struct watch_stream *ws = cls;

	cache_watch_stop(ws->w);
	cache_list_release(&ws->initial);
	list_filter_free(&ws->f);
	free(ws->pending);
	free(ws);
}

static bool initial_filter(void *ctx, const struct cache_obj *o)
{
	return list_filter_match(ctx, o->obj);
}

void handle_watch(struct api_req *req, const struct resource *r)
{
	const char *rv_s = api_query(req, "resourceVersion");
	const char *timeout_s = api_query(req, "timeoutSeconds");
	const char *bm = api_query(req, "allowWatchBookmarks");
	const union MHD_ConnectionInfo *ci;
	struct watch_stream *ws = xcalloc(1, sizeof(*ws));
	char prefix[600];
	int64_t from = 0;
	long long timeout = 0;
	uint32_t rnd = 0;
	int err;

	if (rv_s && *rv_s) {
		char *end;

		from = strtoll(rv_s, &end, 10);
		if (*end || from < 0) {
			api_reply_status(req, status_failure(REASON_BAD_REQUEST, NULL, NULL, NULL,
							     "invalid resource version: %s", rv_s));
			free(ws);
			return;
		}
	}
	if (timeout_s && *timeout_s) {
		char *end;

		timeout = strtoll(timeout_s, &end, 10);
		if (*end || timeout < 0) {
			api_reply_status(req, status_failure(REASON_BAD_REQUEST, NULL, NULL, NULL,
							     "invalid timeoutSeconds: %s",
							     timeout_s));
			free(ws);
			return;
		}
	}
	if (!timeout) {
		/* Upstream's default: somewhere between 30 and 60 minutes. */
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint32_t)now_mono_ns();
		timeout = 1800 + rnd % 1800;
	}
	if (list_filter_init(req, r, &ws->f) < 0) {
		free(ws);
		return;
	}
	ws->r = r;
	ws->bookmarks = bm && strcmp(bm, "true") == 0;
	encode_format(req, &ws->fmt);
	ws->deadline_ns = now_mono_ns() + (uint64_t)timeout * 1000000000ull;
	ws->next_bookmark_ns = now_mono_ns() + BOOKMARK_INTERVAL_NS;
	ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	ws->client_fd = ci ? ci->connect_fd : -1;
	registry_key(r, req->route.ns, NULL, prefix, sizeof(prefix));

	if (from == 0) {
		/* Current state first, then changes after the state's revision. */
		cache_list(req->srv->cache, prefix, NULL, 0, initial_filter, &ws->f, &ws->initial);
		from = ws->initial.rev;
	}
	err = cache_watch_start(req->srv->cache, prefix, from, &ws->w);
	if (err == -ESTALE) {
		char why[128];

		snprintf(why, sizeof(why), "too old resource version: %lld (%lld)",
			 (long long)from, (long long)cache_rev(req->srv->cache));
		queue_expired(ws, why);
		err = cache_watch_start(req->srv->cache, prefix, cache_rev(req->srv->cache),
					&ws->w);
	}
	if (err) {
		api_reply_status(req, status_failure(REASON_INTERNAL_ERROR, NULL, NULL, NULL,
						     "cannot watch %s", prefix));
		watch_free(ws);
		return;
	}
	api_stream(req, 200, "application/json", watch_read, ws, watch_free);
}
