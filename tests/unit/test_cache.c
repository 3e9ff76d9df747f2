/* Unit tests for the API server's watch cache (control/apiserver/cache.c). */
#include "test.h"
#include "control/apiserver/cache.h"

#include <pthread.h>
#include <unistd.h>

#include "jsonx.h"
#include "util.h"

/* Feed one write as the store would. */
static void feed(struct cache *c, enum store_event_type type, int64_t rev, const char *key,
		 const char *value)
{
	struct store_event ev = {
		.type = type,
		.rev = rev,
		.kv = { .key = (char *)key, .value = (char *)value, .len = strlen(value),
			.mod_rev = rev },
	};

	cache_apply(c, &ev);
}

static const char *rv_of(const struct cache_obj *o)
{
	return jsonx_path_str(o->obj, "metadata.resourceVersion", "");
}

TEST(cache_load_get_and_resource_version)
{
	struct cache *c = cache_new(0);
	struct store_kv kv = { .key = "/registry/pods/ns1/a",
			       .value = "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}}",
			       .mod_rev = 7 };
	struct cache_obj *o;

	kv.len = strlen(kv.value);
	ASSERT_OK(cache_load_kv(c, &kv));
	cache_loaded(c, 9);
	ASSERT_EQ(cache_rev(c), 9);
	o = cache_get(c, "/registry/pods/ns1/a");
	ASSERT_NOT_NULL(o);
	ASSERT_STREQ(rv_of(o), "7");
	ASSERT_EQ(o->rev, 7);
	/* The text is the object, resourceVersion included. */
	ASSERT(strstr(o->text, "\"resourceVersion\":\"7\"") != NULL);
	ASSERT_EQ(o->len, strlen(o->text));
	cache_obj_unref(o);
	ASSERT_NULL(cache_get(c, "/registry/pods/ns1/b"));
	ASSERT_NULL(cache_get(c, "/registry/services/ns1/a"));
	ASSERT_NULL(cache_get(c, "garbage"));
	cache_free(c);
}

TEST(cache_apply_create_update_delete)
{
	struct cache *c = cache_new(0);
	struct cache_obj *o;

	cache_loaded(c, 0);
	feed(c, STORE_EV_CREATE, 1, "/registry/configmaps/d/x", "{\"data\":{\"v\":\"1\"}}");
	feed(c, STORE_EV_UPDATE, 2, "/registry/configmaps/d/x", "{\"data\":{\"v\":\"2\"}}");
	o = cache_get(c, "/registry/configmaps/d/x");
	ASSERT_STREQ(jsonx_path_str(o->obj, "data.v", ""), "2");
	ASSERT_STREQ(rv_of(o), "2");
	cache_obj_unref(o);
	feed(c, STORE_EV_DELETE, 3, "/registry/configmaps/d/x", "{\"data\":{\"v\":\"2\"}}");
	ASSERT_NULL(cache_get(c, "/registry/configmaps/d/x"));
	ASSERT_EQ(cache_rev(c), 3);
	/* A value that is not JSON is skipped, the revision still advances. */
	feed(c, STORE_EV_CREATE, 4, "/registry/configmaps/d/bad", "not json");
	ASSERT_NULL(cache_get(c, "/registry/configmaps/d/bad"));
	ASSERT_EQ(cache_rev(c), 4);
	cache_free(c);
}

static bool only_even(void *ctx, const struct cache_obj *o)
{
	return jsonx_int(o->obj, "n", 1) % 2 == 0;
}

TEST(cache_list_prefix_order_paging_and_filter)
{
	struct cache *c = cache_new(0);
	static const char *const keys[] = {
		"/registry/pods/b/p3", "/registry/pods/a/p2", "/registry/pods/ab/p1",
		"/registry/pods/a/p1", "/registry/pods/b/p1", "/registry/services/a/s1",
	};
	struct cache_list l;
	char val[32];

	cache_loaded(c, 0);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		snprintf(val, sizeof(val), "{\"n\":%zu}", i);
		feed(c, STORE_EV_CREATE, (int64_t)i + 1, keys[i], val);
	}
	/* Namespace a only: not ab (prefix of a longer namespace). */
	cache_list(c, "/registry/pods/a/", NULL, 0, NULL, NULL, &l);
	ASSERT_EQ(l.n, 2);
	ASSERT_STREQ(l.items[0]->key, "/registry/pods/a/p1");
	ASSERT_STREQ(l.items[1]->key, "/registry/pods/a/p2");
	ASSERT(!l.more);
	ASSERT_EQ(l.rev, 6);
	cache_list_release(&l);

	/* All namespaces, in key order, two per page. */
	cache_list(c, "/registry/pods/", NULL, 2, NULL, NULL, &l);
	ASSERT_EQ(l.n, 2);
	ASSERT(l.more);
	ASSERT_STREQ(l.items[1]->key, "/registry/pods/a/p2");
	char after[64];
	snprintf(after, sizeof(after), "%s", l.items[1]->key);
	cache_list_release(&l);
	cache_list(c, "/registry/pods/", after, 2, NULL, NULL, &l);
	ASSERT_EQ(l.n, 2);
	ASSERT_STREQ(l.items[0]->key, "/registry/pods/ab/p1");
	ASSERT_STREQ(l.items[1]->key, "/registry/pods/b/p1");
	ASSERT(l.more);
	snprintf(after, sizeof(after), "%s", l.items[1]->key);
	cache_list_release(&l);
	cache_list(c, "/registry/pods/", after, 2, NULL, NULL, &l);
	ASSERT_EQ(l.n, 1);
	ASSERT(!l.more);
	cache_list_release(&l);

	/* The filter applies before the limit. */
	cache_list(c, "/registry/pods/", NULL, 1, only_even, NULL, &l);
	ASSERT_EQ(l.n, 1);
	ASSERT_STREQ(l.items[0]->key, "/registry/pods/ab/p1");	/* n = 2, the first even */
	ASSERT(l.more);
	cache_list_release(&l);
	ASSERT_EQ(cache_count(c, "/registry/pods/"), 5);
	ASSERT_EQ(cache_count(c, "/registry/pods/b/"), 2);
	ASSERT_EQ(cache_count(c, "/registry/nodes/"), 0);

	cache_list(c, "/registry/nodes/", NULL, 0, NULL, NULL, &l);
	ASSERT_EQ(l.n, 0);
	ASSERT_EQ(l.rev, 6);
	cache_list_release(&l);
	cache_free(c);
}

TEST(cache_watch_replays_history_with_prev)
{
	struct cache *c = cache_new(0);
	struct cache_watch *w;
	struct cache_event ev;

	cache_loaded(c, 10);
	feed(c, STORE_EV_CREATE, 11, "/registry/pods/a/x", "{\"v\":1}");
	feed(c, STORE_EV_CREATE, 12, "/registry/pods/b/y", "{\"v\":1}");
	feed(c, STORE_EV_UPDATE, 13, "/registry/pods/a/x", "{\"v\":2}");
	feed(c, STORE_EV_DELETE, 14, "/registry/pods/a/x", "{\"v\":2}");

	ASSERT_OK(cache_watch_start(c, "/registry/pods/a/", 11, &w));
	ASSERT_OK(cache_watch_next(w, &ev, 0));
	ASSERT_EQ(ev.type, CACHE_MODIFIED);
	ASSERT_EQ(ev.rev, 13);
	ASSERT_EQ(jsonx_int(ev.obj->obj, "v", 0), 2);
	ASSERT_EQ(jsonx_int(ev.prev->obj, "v", 0), 1);
	ASSERT_STREQ(rv_of(ev.prev), "11");
	cache_event_release(&ev);
	ASSERT_OK(cache_watch_next(w, &ev, 0));
	ASSERT_EQ(ev.type, CACHE_DELETED);
	ASSERT_STREQ(rv_of(ev.obj), "14");	/* the deletion's revision */
	ASSERT_STREQ(rv_of(ev.prev), "13");
	cache_event_release(&ev);
	ASSERT_EQ(cache_watch_next(w, &ev, 10), -ETIMEDOUT);
	ASSERT_EQ(cache_watch_rev(w), 14);
	cache_watch_stop(w);

	/* From the load revision: everything, ADDED first. */
	ASSERT_OK(cache_watch_start(c, "/registry/pods/", 10, &w));
	ASSERT_OK(cache_watch_next(w, &ev, 0));
	ASSERT_EQ(ev.type, CACHE_ADDED);
	ASSERT_NULL(ev.prev);
	cache_event_release(&ev);
	cache_watch_stop(w);

	/* Before the load revision: the history cannot tell, 410. */
	ASSERT_EQ(cache_watch_start(c, "/registry/pods/", 9, &w), -ESTALE);
	cache_free(c);
}

struct feeder {
	struct cache *c;
	int n;
};

static void *feed_later(void *arg)
{
	struct feeder *f = arg;
	char key[64];

	for (int i = 0; i < f->n; i++) {
		usleep(2000);
		snprintf(key, sizeof(key), "/registry/leases/n/l%d", i);
		feed(f->c, STORE_EV_CREATE, 100 + i, key, "{}");
	}
	return NULL;
}

TEST(cache_watch_wakes_on_new_events)
{
	struct cache *c = cache_new(0);
	struct feeder f = { c, 20 };
	struct cache_watch *w;
	struct cache_event ev;
	pthread_t th;

	cache_loaded(c, 99);
	ASSERT_OK(cache_watch_start(c, "/registry/leases/", 99, &w));
	ASSERT_OK(pthread_create(&th, NULL, feed_later, &f));
	for (int i = 0; i < f.n; i++) {
		ASSERT_OK(cache_watch_next(w, &ev, 5000));
		ASSERT_EQ(ev.rev, 100 + i);
		cache_event_release(&ev);
	}
	pthread_join(th, NULL);
	cache_watch_stop(w);
	cache_free(c);
}

TEST(cache_history_overflow_gives_stale)
{
	struct cache *c = cache_new(4);
	struct cache_watch *w, *slow;
	struct cache_event ev;
	char key[64];

	cache_loaded(c, 0);
	ASSERT_OK(cache_watch_start(c, "/registry/pods/", 0, &slow));
	for (int i = 1; i <= 6; i++) {
		snprintf(key, sizeof(key), "/registry/pods/n/p%d", i);
		feed(c, STORE_EV_CREATE, i, key, "{}");
	}
	/* Ring holds revisions 3..6: from 2 is fine, from 1 is gone. */
	ASSERT_OK(cache_watch_start(c, "/registry/pods/", 2, &w));
	ASSERT_OK(cache_watch_next(w, &ev, 0));
	ASSERT_EQ(ev.rev, 3);
	cache_event_release(&ev);
	cache_watch_stop(w);
	ASSERT_EQ(cache_watch_start(c, "/registry/pods/", 1, &w), -ESTALE);
	/* A watcher that fell behind is told so. */
	ASSERT_EQ(cache_watch_next(slow, &ev, 0), -ESTALE);
	cache_watch_stop(slow);
	/* Events of another resource do not evict pods' history. */
	for (int i = 7; i <= 20; i++) {
		snprintf(key, sizeof(key), "/registry/nodes/n%d", i);
		feed(c, STORE_EV_CREATE, i, key, "{}");
	}
	ASSERT_OK(cache_watch_start(c, "/registry/pods/", 2, &w));
	cache_watch_stop(w);
	cache_free(c);
}

static void *shutdown_later(void *arg)
{
	usleep(50 * 1000);
	cache_shutdown(arg);
	return NULL;
}

TEST(cache_shutdown_wakes_watchers)
{
	struct cache *c = cache_new(0);
	struct cache_watch *w;
	struct cache_event ev;
	pthread_t th;

	cache_loaded(c, 0);
	ASSERT_OK(cache_watch_start(c, "/registry/pods/", 0, &w));
	ASSERT_OK(pthread_create(&th, NULL, shutdown_later, c));
	ASSERT_EQ(cache_watch_next(w, &ev, 10000), -ECANCELED);
	pthread_join(th, NULL);
	cache_watch_stop(w);
	cache_free(c);
}

/* The cached text gets resourceVersion in the top-level metadata only. */
TEST(cache_text_carries_the_resource_version_where_it_belongs)
{
	static const char *const values[] = {
		"{\"spec\":{\"template\":{\"metadata\":{\"labels\":{\"a\":\"b\"}}}},"
		"\"metadata\":{\"name\":\"x\"}}",
		"{\"note\":\"\\\"metadata\\\":{ fake\",\"metadata\":{}}",
		"{\"metadata\" : {\"name\":\"y\"}}",
		"{\"kind\":\"Event\",\"metadata\":{\"name\":\"e\"},\"involvedObject\":"
		"{\"resourceVersion\":\"3\"}}",
		"{\"nometa\":1}",
	};
	struct cache *c = cache_new(0);
	char key[64];

	cache_loaded(c, 0);
	for (size_t i = 0; i < ARRAY_SIZE(values); i++) {
		struct cache_obj *o;
		json_t *back;

		snprintf(key, sizeof(key), "/registry/things/ns/t%zu", i);
		feed(c, STORE_EV_CREATE, (int64_t)i + 1, key, values[i]);
		o = cache_get(c, key);
		ASSERT_NOT_NULL(o);
		back = json_loads(o->text, 0, NULL);
		ASSERT_MSG(back != NULL, "case %zu: text is not JSON: %s", i, o->text);
		ASSERT_EQ(atoi(jsonx_path_str(back, "metadata.resourceVersion", "0")), i + 1);
		ASSERT_MSG(jsonx_equal(back, o->obj), "case %zu: text and object differ", i);
		ASSERT_NULL(jsonx_path_str(back, "spec.template.metadata.resourceVersion", NULL));
		json_decref(back);
		cache_obj_unref(o);
	}
	cache_free(c);
}
