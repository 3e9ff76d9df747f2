/* events.c - the Event recorder; see events.h for the design. */
#include "agent/kubelet/events.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonx.h"
#include "ktime.h"
#include "log.h"
#include "util.h"

/* Longer messages are cut: an Event is a notice, not a log. */
#define EVENTS_MAX_MESSAGE 4096
#define EVENTS_TRIES 3

/* One queued occurrence. */
struct ev_item {
	struct ev_item *next;
	json_t *involved; /* involvedObject */
	char *ns;	  /* the Event's namespace */
	char *type, *reason, *message;
	int64_t ts_ns;
};

/* One Event already sent, for folding repeats (sender thread only). */
struct fold {
	struct fold *prev, *next; /* most recently seen first */
	char *key;
	char *ns;
	json_t *event; /* as last sent, so it can be created again */
	long count;
	int64_t last_ns;
};

struct events {
	struct events_options o;
	char *component, *host;

	pthread_mutex_t lock;
	pthread_cond_t work; /* queue not empty, or stop */
	pthread_cond_t idle; /* queue empty and nothing in flight */
	struct ev_item *head, *tail;
	unsigned queued;
	bool busy, stop;
	struct events_stats stats;
	pthread_t thread;

	struct fold *lru, *lru_tail;
	unsigned nfold;
};

static int64_t real_now(void)
{
	return (int64_t)now_real_ns();
}

static void item_free(struct ev_item *it)
{
	json_decref(it->involved);
	free(it->ns);
	free(it->type);
	free(it->reason);
	free(it->message);
	free(it);
}

static void fold_unlink(struct events *e, struct fold *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		e->lru = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		e->lru_tail = f->prev;
	f->prev = f->next = NULL;
	e->nfold--;
}

static void fold_push_front(struct events *e, struct fold *f)
{
	f->next = e->lru;
	f->prev = NULL;
	if (e->lru)
		e->lru->prev = f;
	else
		e->lru_tail = f;
	e->lru = f;
	e->nfold++;
}

static void fold_free(struct fold *f)
{
	free(f->key);
	free(f->ns);
	json_decref(f->event);
	free(f);
}

static struct fold *fold_find(struct events *e, const char *key)
{
	for (struct fold *f = e->lru; f; f = f->next)
		if (strcmp(f->key, key) == 0)
			return f;
	return NULL;
}

/* ---------------------------------------------------------------- building */

static json_t *involved_object(const json_t *obj, const char *field_path)
{
	const json_t *md = jsonx_obj(obj, "metadata");
	const char *ns = jsonx_str(md, "namespace", NULL);
	const char *name = jsonx_str(md, "name", "");
	/*
	 * Informer list items carry no kind; the kubelet only reports on Pods
	 * (namespaced) and its Node (cluster-scoped). A Node without a uid is
	 * referred to by name, as upstream's node reference does.
	 */
	json_t *ref = json_pack("{s:s, s:s, s:s, s:s}", "kind",
				jsonx_str(obj, "kind", ns ? "Pod" : "Node"), "name", name, "uid",
				jsonx_str(md, "uid", name), "apiVersion",
				jsonx_str(obj, "apiVersion", "v1"));
	const char *rv = jsonx_str(md, "resourceVersion", NULL);

	if (ns)
		json_object_set_new(ref, "namespace", json_string(ns));
	if (rv)
		json_object_set_new(ref, "resourceVersion", json_string(rv));
	if (field_path && *field_path)
		json_object_set_new(ref, "fieldPath", json_string(field_path));
	return ref;
}

static char *fold_key(const struct ev_item *it)
{
	const json_t *ref = it->involved;

	/* Fields joined by the unit separator, which no name, kind or reason contains. */
	return xasprintf("%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s", it->ns,
			 jsonx_str(ref, "kind", ""), jsonx_str(ref, "name", ""),
			 jsonx_str(ref, "uid", ""), jsonx_str(ref, "fieldPath", ""), it->type,
			 it->reason, it->message);
}

static json_t *build_event(struct events *e, const struct ev_item *it)
{
	char stamp[KTIME_BUFSZ];
	char *name;
	json_t *ev;

	ktime_format(it->ts_ns, stamp, sizeof(stamp));
	/* Upstream's name: the object's name and the time in hexadecimal nanoseconds. */
	name = xasprintf("%s.%" PRIx64, jsonx_str(it->involved, "name", "unknown"),
			 (uint64_t)it->ts_ns);
	ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:O, s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:i, "
		       "s:s, s:s, s:s}",
		       "apiVersion", "v1", "kind", "Event", "metadata", "name", name, "namespace",
		       it->ns, "involvedObject", it->involved, "reason", it->reason, "message",
		       it->message, "source", "component", e->component, "host", e->host,
		       "firstTimestamp", stamp, "lastTimestamp", stamp, "count", 1, "type",
		       it->type, "reportingComponent", e->component, "reportingInstance", e->host);
	free(name);
	return ev;
}

/* ---------------------------------------------------------------- sending */

/* Wait up to ms unless stopping; lock held. true when stopping. */
static bool wait_or_stop(struct events *e, long ms)
{
	struct timespec ts;

	deadline_after_ms(&ts, CLOCK_MONOTONIC, ms);
	while (!e->stop && pthread_cond_timedwait(&e->work, &e->lock, &ts) != ETIMEDOUT)
		;
	return e->stop;
}

/* Run one sink call with retries on -EAGAIN; called without the lock. */
static int with_retries(struct events *e, const char *ns, const char *name, const json_t *body)
{
	long delay = e->o.retry_delay_ms ? e->o.retry_delay_ms : 500;
	int rc = -EAGAIN;

	for (int i = 0; i < EVENTS_TRIES && rc == -EAGAIN; i++) {
		if (i) {
			bool stop;

			pthread_mutex_lock(&e->lock);
			stop = wait_or_stop(e, delay);
			pthread_mutex_unlock(&e->lock);
			if (stop)
				break;
			delay *= 2;
		}
		rc = name ? e->o.sink.patch(e->o.sink.ctx, ns, name, body)
			  : e->o.sink.create(e->o.sink.ctx, ns, body);
	}
	return rc;
}

static void count_result(struct events *e, int rc, unsigned long *ok)
{
	pthread_mutex_lock(&e->lock);
	if (rc == 0)
		(*ok)++;
	else
		e->stats.failed++;
	pthread_mutex_unlock(&e->lock);
}

/* A repeat: bump the count of the Event f refers to. */
static void send_repeat(struct events *e, struct fold *f, const struct ev_item *it)
{
	char stamp[KTIME_BUFSZ];
	const char *name = jsonx_path_str(f->event, "metadata.name", "");
	json_t *patch;
	int rc;

	f->count++;
	f->last_ns = it->ts_ns;
	ktime_format(it->ts_ns, stamp, sizeof(stamp));
	patch = json_pack("{s:I, s:s, s:s}", "count", (json_int_t)f->count, "lastTimestamp", stamp,
			  "message", it->message);
	/* Keep the full Event current, in case it has to be created again. */
	json_object_update(f->event, patch);
	rc = with_retries(e, f->ns, name, patch);
	if (rc == -ENOENT) {
		/* Expired on the server (Events have a TTL): create it again. */
		json_object_del(jsonx_obj(f->event, "metadata"), "resourceVersion");
		rc = with_retries(e, f->ns, NULL, f->event);
	}
	if (rc < 0)
		log_debug("event %s/%s (%s): %s", f->ns, name, it->reason, strerror(-rc));
	count_result(e, rc, &e->stats.patched);
	json_decref(patch);
}

static void send_item(struct events *e, struct ev_item *it)
{
	char *key = fold_key(it);
	struct fold *f = fold_find(e, key);
	json_t *ev;
	int rc;

	if (f && it->ts_ns - f->last_ns < EVENTS_FOLD_WINDOW_NS) {
		fold_unlink(e, f);
		fold_push_front(e, f);
		send_repeat(e, f, it);
		free(key);
		return;
	}
	if (f) {
		fold_unlink(e, f);
		fold_free(f);
	}
	ev = build_event(e, it);
	rc = with_retries(e, it->ns, NULL, ev);
	count_result(e, rc, &e->stats.created);
	if (rc < 0) {
		log_debug("event %s %s/%s: %s", it->reason, it->ns,
			  jsonx_str(it->involved, "name", ""), strerror(-rc));
		json_decref(ev);
		free(key);
		return;
	}
	f = xcalloc(1, sizeof(*f));
	f->key = key;
	f->ns = xstrdup(it->ns);
	f->event = ev;
	f->count = 1;
	f->last_ns = it->ts_ns;
	fold_push_front(e, f);
	if (e->nfold > (e->o.cache_size ? e->o.cache_size : EVENTS_CACHE_SIZE)) {
		struct fold *old = e->lru_tail;

		fold_unlink(e, old);
		fold_free(old);
	}
}

static void *sender(void *arg)
{
	struct events *e = arg;

	pthread_mutex_lock(&e->lock);
	for (;;) {
		struct ev_item *it;

		while (!e->head && !e->stop)
			pthread_cond_wait(&e->work, &e->lock);
		if (e->stop)
			break;
		it = e->head;
		e->head = it->next;
		if (!e->head)
			e->tail = NULL;
		e->queued--;
		e->busy = true;
		pthread_mutex_unlock(&e->lock);
		send_item(e, it);
		item_free(it);
		pthread_mutex_lock(&e->lock);
		e->busy = false;
		if (!e->head)
			pthread_cond_broadcast(&e->idle);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

/* ---------------------------------------------------------------- API */

struct events *events_new(const struct events_options *o)
{
	struct events *e;
	pthread_condattr_t ca;

	if (!o || !o->sink.create || !o->sink.patch || !o->host || !*o->host)
		return NULL;
	e = xcalloc(1, sizeof(*e));
	e->o = *o;
	e->component = xstrdup(o->component ? o->component : "kubelet");
	e->host = xstrdup(o->host);
	if (!e->o.now_ns)
		e->o.now_ns = real_now;
	pthread_mutex_init(&e->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->work, &ca);
	pthread_cond_init(&e->idle, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&e->thread, NULL, sender, e) != 0) {
		pthread_cond_destroy(&e->work);
		pthread_cond_destroy(&e->idle);
		pthread_mutex_destroy(&e->lock);
		free(e->component);
		free(e->host);
		free(e);
		return NULL;
	}
	return e;
}

int events_flush(struct events *e, int timeout_ms)
{
	struct timespec ts;
	int rc = 0;

	deadline_after_ms(&ts, CLOCK_MONOTONIC, timeout_ms);
	pthread_mutex_lock(&e->lock);
	while ((e->head || e->busy) && rc == 0)
		if (pthread_cond_timedwait(&e->idle, &e->lock, &ts) == ETIMEDOUT)
			rc = -ETIMEDOUT;
	if (!e->head && !e->busy)
		rc = 0;
	pthread_mutex_unlock(&e->lock);
	return rc;
}

void events_free(struct events *e, int timeout_ms)
{
	struct ev_item *it;

	if (!e)
		return;
	if (timeout_ms > 0)
		events_flush(e, timeout_ms);
	pthread_mutex_lock(&e->lock);
	e->stop = true;
	pthread_cond_broadcast(&e->work);
	pthread_mutex_unlock(&e->lock);
	if (e->o.sink.cancel)
		e->o.sink.cancel(e->o.sink.ctx);
	pthread_join(e->thread, NULL);
	while ((it = e->head)) {
		e->head = it->next;
		item_free(it);
	}
	while (e->lru) {
		struct fold *f = e->lru;

		fold_unlink(e, f);
		fold_free(f);
	}
	pthread_cond_destroy(&e->work);
	pthread_cond_destroy(&e->idle);
	pthread_mutex_destroy(&e->lock);
	if (e->o.sink.release)
		e->o.sink.release(e->o.sink.ctx);
	free(e->component);
	free(e->host);
	free(e);
}

void events_record(struct events *e, const json_t *obj, const char *field_path, const char *type,
		   const char *reason, const char *message)
{
	unsigned cap = e->o.queue_size ? e->o.queue_size : EVENTS_QUEUE_SIZE;
	const char *ns = jsonx_path_str(obj, "metadata.namespace", NULL);
	struct ev_item *it;

	pthread_mutex_lock(&e->lock);
	if (e->queued >= cap || e->stop) {
		e->stats.dropped++;
		pthread_mutex_unlock(&e->lock);
		return;
	}
	e->queued++; /* reserve the slot; built outside the lock */
	pthread_mutex_unlock(&e->lock);

	it = xcalloc(1, sizeof(*it));
	it->involved = involved_object(obj, field_path);
	/* Events about cluster-scoped objects live in "default", as upstream puts them. */
	it->ns = xstrdup(ns && *ns ? ns : "default");
	it->type = xstrdup(type ? type : "Normal");
	it->reason = xstrdup(reason ? reason : "");
	it->message = xstrndup(message ? message : "", EVENTS_MAX_MESSAGE);
	it->ts_ns = e->o.now_ns();

	pthread_mutex_lock(&e->lock);
	if (e->tail)
		e->tail->next = it;
	else
		e->head = it;
	e->tail = it;
	pthread_cond_signal(&e->work);
	pthread_mutex_unlock(&e->lock);
}

void events_get_stats(struct events *e, struct events_stats *out)
{
	pthread_mutex_lock(&e->lock);
	*out = e->stats;
	pthread_mutex_unlock(&e->lock);
}

/* ---------------------------------------------------------------- the kubelet's sink */

struct http_sink {
	struct httpc *hc;
};

static int http_result(int rc, long status)
{
	if (rc == -ECANCELED)
		return rc;
	if (rc < 0 || status >= 500 || status == 429)
		return -EAGAIN;
	if (status >= 200 && status < 300)
		return 0;
	if (status == 404)
		return -ENOENT;
	/* 409: an Event of that name exists already (a resend); nothing to do. */
	return status == 409 ? 0 : -EINVAL;
}

static int http_create(void *ctx, const char *ns, const json_t *ev)
{
	struct http_sink *s = ctx;
	char path[320];
	int rc;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ns);
	rc = httpc_json(s->hc, "POST", path, ev, NULL);
	return http_result(rc < 0 ? rc : 0, rc);
}

static int http_patch(void *ctx, const char *ns, const char *name, const json_t *patch)
{
	struct http_sink *s = ctx;
	struct httpc_response resp;
	char path[640];
	char *body = json_dumps(patch, JSON_COMPACT);
	struct httpc_request req = {
		.method = "PATCH",
		.path = path,
		.content_type = "application/strategic-merge-patch+json",
		.body = body,
		.body_len = strlen(body),
	};
	int rc;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events/%s", ns, name);
	rc = httpc_do(s->hc, &req, &resp);
	rc = http_result(rc, resp.status);
	httpc_response_free(&resp);
	free(body);
	return rc;
}

static void http_cancel(void *ctx)
{
	httpc_cancel(((struct http_sink *)ctx)->hc);
}

static void http_release(void *ctx)
{
	struct http_sink *s = ctx;

	httpc_free(s->hc);
	free(s);
}

int events_start(struct kubelet *k)
{
	struct http_sink *s = xcalloc(1, sizeof(*s));
	struct events_options o = {
		.component = "kubelet",
		.host = k->cfg.node_name,
		.sink = { .create = http_create,
			  .patch = http_patch,
			  .cancel = http_cancel,
			  .release = http_release,
			  .ctx = s },
	};

	s->hc = httpc_new(&k->http);
	if (!s->hc) {
		free(s);
		return -EINVAL;
	}
	k->events = events_new(&o);
	if (!k->events) {
		http_release(s);
		return -ENOMEM;
	}
	return 0;
}

void events_stop(struct kubelet *k)
{
	struct events *e = k->events;

	/* Callers (pod workers) are stopped by now; the last events get 2 s. */
	k->events = NULL;
	events_free(e, 2000);
}

static void vevent(struct kubelet *k, const json_t *obj, const char *field_path, const char *type,
		   const char *reason, const char *fmt, va_list ap)
{
	char msg[EVENTS_MAX_MESSAGE + 1];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_debug("event %s %s %s: %s", type, reason, jsonx_path_str(obj, "metadata.name", ""),
		  msg);
	if (k->events)
		events_record(k->events, obj, field_path, type, reason, msg);
}

void kl_event(struct kubelet *k, const json_t *obj, const char *type, const char *reason,
	      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vevent(k, obj, NULL, type, reason, fmt, ap);
	va_end(ap);
}

void kl_event_at(struct kubelet *k, const json_t *obj, const char *field_path, const char *type,
		 const char *reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vevent(k, obj, field_path, type, reason, fmt, ap);
	va_end(ap);
}
