/*
 * Unit tests for lib/informer against a live fake API server.
 *
 * The fake serves one collection (/api/v1/namespaces/default/configmaps) the
 * way the Kubernetes API server does: paged lists with continue tokens and a
 * resourceVersion, and watch streams that replay the event log after a given
 * resourceVersion, then block for new events. The test can end watches
 * cleanly (timeout), break them (connection cut mid-stream), compact the log
 * (410 as an ERROR event or as an HTTP status) and stop answering.
 */
#include "test.h"
#include "informer.h"
#include "testsrv.h"

#include <pthread.h>
#include <unistd.h>

#define COLL "/api/v1/namespaces/default/configmaps"

struct fake {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	long rv;	       /* current resourceVersion */
	long compacted;	       /* watches from below this get 410 */
	json_t *objects;       /* name -> object */
	json_t *log;	       /* [{type, object}] in rv order */
	int watch_gen;	       /* bump to end open watches cleanly */
	int break_gen;	       /* bump to cut open watches */
	bool expire_as_status; /* 410 as HTTP status instead of ERROR event */
	bool hold;	       /* open watches send nothing while set */
	int lists, watches;
	char last_list_query[256];
	char last_watch_query[256];
	bool stopping;
};

static struct fake *fake_new(void)
{
	struct fake *f = xcalloc(1, sizeof(*f));

	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->rv = 100;
	f->objects = json_object();
	f->log = json_array();
	return f;
}

static void fake_free(struct fake *f)
{
	json_decref(f->objects);
	json_decref(f->log);
	free(f);
}

static void fake_event_locked(struct fake *f, const char *type, json_t *obj)
{
	json_array_append_new(f->log, json_pack("{s:s,s:O}", "type", type, "object", obj));
	pthread_cond_broadcast(&f->cond);
}

static void fake_put(struct fake *f, const char *name, const char *value)
{
	char rv[32];
	json_t *obj;
	bool exists;

	pthread_mutex_lock(&f->lock);
	snprintf(rv, sizeof(rv), "%ld", ++f->rv);
	exists = json_object_get(f->objects, name) != NULL;
	obj = json_pack("{s:s,s:s,s:{s:s,s:s,s:s},s:{s:s}}", "kind", "ConfigMap", "apiVersion",
			"v1", "metadata", "name", name, "namespace", "default", "resourceVersion",
			rv, "data", "v", value);
	json_object_set(f->objects, name, obj);
	fake_event_locked(f, exists ? "MODIFIED" : "ADDED", obj);
	json_decref(obj);
	pthread_mutex_unlock(&f->lock);
}

static void fake_delete(struct fake *f, const char *name)
{
	json_t *obj;
	char rv[32];

	pthread_mutex_lock(&f->lock);
	obj = json_deep_copy(json_object_get(f->objects, name));
	ASSERT_NOT_NULL(obj);
	snprintf(rv, sizeof(rv), "%ld", ++f->rv);
	json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string(rv));
	json_object_del(f->objects, name);
	fake_event_locked(f, "DELETED", obj);
	json_decref(obj);
	pthread_mutex_unlock(&f->lock);
}

static void fake_bump(struct fake *f, int *gen)
{
	pthread_mutex_lock(&f->lock);
	(*gen)++;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

/* Forget history: watches from before now get 410. */
static void fake_compact(struct fake *f)
{
	pthread_mutex_lock(&f->lock);
	f->compacted = f->rv;
	json_array_clear(f->log);
	f->watch_gen++; /* open watches end; the re-watch is then too old */
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static int fake_count(struct fake *f, int *what)
{
	int n;

	pthread_mutex_lock(&f->lock);
	n = *what;
	pthread_mutex_unlock(&f->lock);
	return n;
}

static void query_string(const struct testsrv_request *req, char *buf, size_t len)
{
	const char *ls = testsrv_query(req, "labelSelector");
	const char *fs = testsrv_query(req, "fieldSelector");

	snprintf(buf, len, "labelSelector=%s fieldSelector=%s", ls ? ls : "-", fs ? fs : "-");
}

static enum MHD_Result serve_list(struct fake *f, const struct testsrv_request *req)
{
	const char *limit_s = testsrv_query(req, "limit");
	const char *cont = testsrv_query(req, "continue");
	long limit = limit_s ? atol(limit_s) : 0, start = cont ? atol(cont) : 0, i = 0;
	json_t *items = json_array(), *obj, *resp;
	const char *name;
	char rv[32], next[32] = "";
	char *text;
	enum MHD_Result ret;

	pthread_mutex_lock(&f->lock);
	f->lists += start == 0;
	query_string(req, f->last_list_query, sizeof(f->last_list_query));
	json_object_foreach(f->objects, name, obj) {
		if (i >= start && (!limit || i < start + limit))
			json_array_append(items, obj);
		i++;
	}
	if (limit && start + limit < i)
		snprintf(next, sizeof(next), "%ld", start + limit);
	snprintf(rv, sizeof(rv), "%ld", f->rv);
	pthread_mutex_unlock(&f->lock);

	resp = json_pack("{s:s,s:{s:s,s:s},s:o}", "kind", "ConfigMapList", "metadata",
			 "resourceVersion", rv, "continue", next, "items", items);
	text = json_dumps(resp, JSON_COMPACT);
	ret = testsrv_reply(req->conn, 200, "application/json", text);
	free(text);
	json_decref(resp);
	return ret;
}

/* One open watch: replays the log after `from`, then waits for more. */
struct watch {
	struct fake *f;
	long from;
	size_t next; /* index into f->log */
	int gen, brk;
	char *pending; /* bytes not yet handed to MHD */
	size_t off;
};

static ssize_t watch_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct watch *w = cls;
	struct fake *f = w->f;
	ssize_t n;

	pthread_mutex_lock(&f->lock);
	while (!w->pending) {
		json_t *ev;

		if (f->stopping || f->watch_gen != w->gen) {
			pthread_mutex_unlock(&f->lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (f->break_gen != w->brk) {
			pthread_mutex_unlock(&f->lock);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		ev = f->hold ? NULL : json_array_get(f->log, w->next);
		if (ev) {
			const char *rv = json_string_value(json_object_get(
				json_object_get(json_object_get(ev, "object"), "metadata"),
				"resourceVersion"));

			w->next++;
			if (atol(rv) <= w->from)
				continue;
			char *line = json_dumps(ev, JSON_COMPACT);
			w->pending = xasprintf("%s\n", line);
			free(line);
			w->off = 0;
			break;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&f->cond, &f->lock, &ts);
	}
	pthread_mutex_unlock(&f->lock);

	n = MIN(strlen(w->pending + w->off), max);
	memcpy(buf, w->pending + w->off, n);
	w->off += n;
	if (!w->pending[w->off]) {
		free(w->pending);
		w->pending = NULL;
	}
	return n;
}

static void watch_free(void *cls)
{
	struct watch *w = cls;

	free(w->pending);
	free(w);
}

static enum MHD_Result serve_watch(struct fake *f, const struct testsrv_request *req)
{
	const char *rv_s = testsrv_query(req, "resourceVersion");
	long from = rv_s ? atol(rv_s) : 0;
	struct watch *w;
	struct MHD_Response *r;
	enum MHD_Result ret;

	pthread_mutex_lock(&f->lock);
	f->watches++;
	query_string(req, f->last_watch_query, sizeof(f->last_watch_query));
	if (from < f->compacted) {
		bool as_status = f->expire_as_status;

		pthread_mutex_unlock(&f->lock);
		if (as_status)
			return testsrv_reply(
				req->conn, 410, "application/json",
				"{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}");
		return testsrv_reply(req->conn, 200, "application/json",
				     "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
				     "\"code\":410,\"reason\":\"Expired\"}}\n");
	}
	w = xcalloc(1, sizeof(*w));
	w->f = f;
	w->from = from;
	w->gen = f->watch_gen;
	w->brk = f->break_gen;
	pthread_mutex_unlock(&f->lock);

	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, watch_reader, w, watch_free);
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(req->conn, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result fake_handler(void *ctx, const struct testsrv_request *req)
{
	struct fake *f = ctx;
	const char *watch = testsrv_query(req, "watch");

	if (strcmp(req->url, COLL) != 0)
		return testsrv_reply(req->conn, 404, "application/json", "{\"kind\":\"Status\"}");
	if (watch && (strcmp(watch, "1") == 0 || strcmp(watch, "true") == 0))
		return serve_watch(f, req);
	return serve_list(f, req);
}

static void fake_stop(struct fake *f, struct testsrv *srv)
{
	pthread_mutex_lock(&f->lock);
	f->stopping = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	testsrv_stop(srv);
}

/* Handler side: a log of "add NAME VALUE", "update NAME OLD->NEW", "delete NAME". */
struct seen {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct informer *inf;
	char lines[64][96];
	int n;
};

static const char *val(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "data"), "v"));
}

static const char *name_of(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
}

static void record(struct seen *s, const char *what, const char *name, const char *detail)
{
	pthread_mutex_lock(&s->lock);
	if (s->n < 64)
		snprintf(s->lines[s->n++], 96, "%s %s%s%s", what, name, *detail ? " " : "", detail);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void on_add(void *ctx, const json_t *obj)
{
	struct seen *s = ctx;

	/* Handlers may read the cache, which already holds the object. */
	json_t *cached = informer_get(s->inf, "default", name_of(obj));
	ASSERT_MSG(cached != NULL, "cache does not hold %s during on_add", name_of(obj));
	json_decref(cached);
	record(s, "add", name_of(obj), val(obj));
}

static void on_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
	char detail[64];

	snprintf(detail, sizeof(detail), "%s->%s", val(old_obj), val(new_obj));
	record(ctx, "update", name_of(new_obj), detail);
}

static void on_delete(void *ctx, const json_t *obj)
{
	record(ctx, "delete", name_of(obj), "");
}

/* Wait until `n` callbacks were recorded (fails the test after 10 s). */
static void wait_seen(struct seen *s, int n)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&s->lock);
	while (s->n < n) {
		if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) == ETIMEDOUT) {
			int have = s->n;

			pthread_mutex_unlock(&s->lock);
			test_fail(__FILE__, __LINE__, "waited for %d callbacks, got %d (last: %s)",
				  n, have, have ? s->lines[have - 1] : "-");
		}
	}
	pthread_mutex_unlock(&s->lock);
}

static bool seen_has(struct seen *s, const char *line)
{
	bool found = false;

	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->n; i++)
		found |= strcmp(s->lines[i], line) == 0;
	pthread_mutex_unlock(&s->lock);
	return found;
}

struct rig {
	struct fake *f;
	struct testsrv *srv;
	struct seen seen;
	struct informer *inf;
};

static void rig_start(struct rig *r, const char *label_sel, const char *field_sel)
{
	struct informer_config cfg = {
		.path = COLL,
		.label_selector = label_sel,
		.field_selector = field_sel,
		.page_size = 3,
		.watch_timeout_s = 30,
		.backoff_min_ms = 20,
		.backoff_max_ms = 100,
		.handlers = { on_add, on_update, on_delete },
		.ctx = &r->seen,
	};

	pthread_mutex_init(&r->seen.lock, NULL);
	pthread_cond_init(&r->seen.cond, NULL);
	if (!r->srv) {
		r->srv = testsrv_start(fake_handler, r->f);
		ASSERT_NOT_NULL(r->srv);
	}
	cfg.http.server = testsrv_url(r->srv);
	r->inf = informer_new(&cfg);
	ASSERT_NOT_NULL(r->inf);
	r->seen.inf = r->inf;
	ASSERT_OK(informer_start(r->inf));
}

static void rig_stop(struct rig *r)
{
	informer_free(r->inf);
	fake_stop(r->f, r->srv);
	fake_free(r->f);
}

/* Wait until the informer has an open watch (the fake counted it). */
static void wait_watches(struct fake *f, int n)
{
	for (int i = 0; i < 1000 && fake_count(f, &f->watches) < n; i++)
		usleep(10 * 1000);
	ASSERT_MSG(fake_count(f, &f->watches) >= n, "watches %d, expected %d",
		   fake_count(f, &f->watches), n);
}

TEST(informer_lists_in_pages_then_syncs)
{
	struct rig r = { .f = fake_new() };
	char name[16], rv[64];
	struct informer_stats st;

	for (int i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "cm%d", i);
		fake_put(r.f, name, "a");
	}
	rig_start(&r, NULL, NULL);
	ASSERT_OK(informer_wait_synced(r.inf, 10000));
	ASSERT(informer_synced(r.inf));
	wait_seen(&r.seen, 7);
	ASSERT_EQ(informer_len(r.inf), 7);
	ASSERT(seen_has(&r.seen, "add cm0 a") && seen_has(&r.seen, "add cm6 a"));

	json_t *obj = informer_get(r.inf, "default", "cm3");
	ASSERT_NOT_NULL(obj);
	ASSERT_STREQ(val(obj), "a");
	json_decref(obj);
	ASSERT_NULL(informer_get(r.inf, "default", "nope"));
	ASSERT_NULL(informer_get(r.inf, "other", "cm3"));

	json_t *all = informer_list(r.inf);
	ASSERT_EQ(json_array_size(all), 7);
	json_decref(all);

	informer_resource_version(r.inf, rv, sizeof(rv));
	ASSERT_STREQ(rv, "107");
	informer_get_stats(r.inf, &st);
	ASSERT_EQ(st.lists, 1);
	ASSERT_EQ(fake_count(r.f, &r.f->lists), 1);
	rig_stop(&r);
}

TEST(informer_applies_watch_events)
{
	struct rig r = { .f = fake_new() };
	char rv[64];

	fake_put(r.f, "a", "1");
	rig_start(&r, NULL, NULL);
	wait_seen(&r.seen, 1);
	wait_watches(r.f, 1);

	fake_put(r.f, "b", "1");
	fake_put(r.f, "a", "2");
	fake_delete(r.f, "b");
	wait_seen(&r.seen, 4);
	ASSERT_STREQ(r.seen.lines[1], "add b 1");
	ASSERT_STREQ(r.seen.lines[2], "update a 1->2");
	ASSERT_STREQ(r.seen.lines[3], "delete b");
	ASSERT_EQ(informer_len(r.inf), 1);
	json_t *a = informer_get(r.inf, "default", "a");
	ASSERT_STREQ(val(a), "2");
	json_decref(a);
	informer_resource_version(r.inf, rv, sizeof(rv));
	ASSERT_STREQ(rv, "104");
	rig_stop(&r);
}

TEST(informer_rewatches_after_clean_end_without_relisting)
{
	struct rig r = { .f = fake_new() };
	struct informer_stats st;

	fake_put(r.f, "a", "1");
	rig_start(&r, NULL, NULL);
	wait_seen(&r.seen, 1);
	wait_watches(r.f, 1);

	/* End the watch (server timeout) and change things before the re-watch. */
	pthread_mutex_lock(&r.f->lock);
	r.f->watch_gen++;
	pthread_cond_broadcast(&r.f->cond);
	pthread_mutex_unlock(&r.f->lock);
	fake_put(r.f, "a", "2");
	fake_put(r.f, "c", "1");
	wait_seen(&r.seen, 3);
	wait_watches(r.f, 2);
	ASSERT(seen_has(&r.seen, "update a 1->2"));
	ASSERT(seen_has(&r.seen, "add c 1"));
	/* Nothing replayed twice, no second list. */
	usleep(100 * 1000);
	ASSERT_EQ(r.seen.n, 3);
	ASSERT_EQ(fake_count(r.f, &r.f->lists), 1);
	informer_get_stats(r.inf, &st);
	ASSERT_EQ(st.lists, 1);
	ASSERT(st.watches >= 2);
	rig_stop(&r);
}

static void fake_hold(struct fake *f, bool hold)
{
	pthread_mutex_lock(&f->lock);
	f->hold = hold;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

/*
 * Changes the informer cannot see as events: made while the open watch is
 * held, then either the history is compacted (the re-watch gets 410) or the
 * stream is cut. Either way the informer must list again and reconcile.
 */
static void offline_changes_case(bool compact, bool as_status)
{
	struct rig r = { .f = fake_new() };

	r.f->expire_as_status = as_status;
	fake_put(r.f, "keep", "1");
	fake_put(r.f, "change", "1");
	fake_put(r.f, "gone", "1");
	rig_start(&r, NULL, NULL);
	wait_seen(&r.seen, 3);
	wait_watches(r.f, 1);

	fake_hold(r.f, true);
	if (!compact)
		fake_bump(r.f, &r.f->break_gen);
	fake_put(r.f, "change", "2");
	fake_put(r.f, "new", "1");
	fake_delete(r.f, "gone");
	if (compact)
		fake_compact(r.f); /* also ends the open watch cleanly */
	fake_hold(r.f, false);

	wait_seen(&r.seen, 6);
	ASSERT(seen_has(&r.seen, "update change 1->2"));
	ASSERT(seen_has(&r.seen, "add new 1"));
	ASSERT(seen_has(&r.seen, "delete gone"));
	usleep(150 * 1000);
	ASSERT_EQ(r.seen.n, 6); /* "keep" unchanged: no callback, nothing twice */
	ASSERT_EQ(informer_len(r.inf), 3);
	ASSERT_EQ(fake_count(r.f, &r.f->lists), 2);
	rig_stop(&r);
}

TEST(informer_relists_on_410_error_event)
{
	offline_changes_case(true, false);
}

TEST(informer_relists_on_410_status)
{
	offline_changes_case(true, true);
}

TEST(informer_relists_on_broken_stream)
{
	offline_changes_case(false, false);
}

TEST(informer_sends_selectors_on_list_and_watch)
{
	struct rig r = { .f = fake_new() };
	const char *want = "labelSelector=app in (web,db),tier!=x fieldSelector=metadata.name=a";

	fake_put(r.f, "a", "1");
	rig_start(&r, "app in (web,db),tier!=x", "metadata.name=a");
	wait_seen(&r.seen, 1);
	wait_watches(r.f, 1);
	pthread_mutex_lock(&r.f->lock);
	ASSERT_STREQ(r.f->last_list_query, want);
	ASSERT_STREQ(r.f->last_watch_query, want);
	pthread_mutex_unlock(&r.f->lock);
	rig_stop(&r);
}

struct flaky {
	int calls;
	struct fake *f;
};

static enum MHD_Result unavailable_handler(void *ctx, const struct testsrv_request *req)
{
	struct flaky *fl = ctx;

	if (fl->calls++ < 3)
		return testsrv_reply(req->conn, 503, "application/json",
				     "{\"kind\":\"Status\",\"message\":\"starting\"}");
	return fake_handler(fl->f, req);
}

TEST(informer_retries_until_the_server_answers)
{
	struct flaky ctx = { 0, fake_new() };
	struct rig r = { .f = ctx.f };
	struct informer_stats st;

	fake_put(ctx.f, "a", "1");
	r.srv = testsrv_start(unavailable_handler, &ctx);
	ASSERT_NOT_NULL(r.srv);
	rig_start(&r, NULL, NULL);
	ASSERT_OK(informer_wait_synced(r.inf, 10000));
	wait_seen(&r.seen, 1);
	informer_get_stats(r.inf, &st);
	ASSERT_EQ(st.errors, 3);
	ASSERT_EQ(st.lists, 1);
	rig_stop(&r);
}

TEST(informer_stop_is_prompt_and_wait_reports_it)
{
	struct rig r = { .f = fake_new() };
	uint64_t start;

	rig_start(&r, NULL, NULL);
	ASSERT_OK(informer_wait_synced(r.inf, 10000));
	wait_watches(r.f, 1);
	start = now_mono_ns();
	informer_stop(r.inf);
	ASSERT_MSG(now_mono_ns() - start < 2000000000ull, "stop took %llu ms",
		   (unsigned long long)(now_mono_ns() - start) / 1000000);
	informer_stop(r.inf); /* twice is fine */
	rig_stop(&r);

	/* Never-synced informer: wait_synced times out, then reports the stop. */
	struct informer_config cfg = { .path = COLL, .http.server = "http://127.0.0.1:1" };
	struct informer *inf = informer_new(&cfg);
	ASSERT_NOT_NULL(inf);
	ASSERT_OK(informer_start(inf));
	ASSERT_EQ(informer_wait_synced(inf, 50), -ETIMEDOUT);
	informer_stop(inf);
	ASSERT_EQ(informer_wait_synced(inf, 50), -ECANCELED);
	informer_free(inf);
}

TEST(informer_rejects_bad_config_and_keys)
{
	struct informer_config cfg = { .path = "no-slash", .http.server = "http://127.0.0.1:1" };
	char key[16];

	ASSERT_NULL(informer_new(&cfg));
	cfg.path = "/api/v1/pods";
	cfg.http.server = "not a url";
	ASSERT_NULL(informer_new(&cfg));

	json_t *o = json_pack("{s:{s:s,s:s}}", "metadata", "name", "n", "namespace", "ns");
	ASSERT_OK(informer_key(o, key, sizeof(key)));
	ASSERT_STREQ(key, "ns/n");
	json_object_del(json_object_get(o, "metadata"), "namespace");
	ASSERT_OK(informer_key(o, key, sizeof(key)));
	ASSERT_STREQ(key, "n");
	json_object_del(json_object_get(o, "metadata"), "name");
	ASSERT_EQ(informer_key(o, key, sizeof(key)), -EINVAL);
	ASSERT_EQ(informer_key(json_null(), key, sizeof(key)), -EINVAL);
	json_decref(o);
}
