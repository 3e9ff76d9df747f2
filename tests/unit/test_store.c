/*
 * Unit tests for control/store: the backend-independent helpers and the
 * SQLite backend. Each test opens a fresh store in its scratch directory,
 * without fsync except where durability is what is tested.
 */
#include "test.h"
#include "control/store/store.h"
#include "log.h"
#include "util.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

static char db_path[512];

static struct store *open_store_opts(const struct store_sqlite_options *opts)
{
	struct store *s = NULL;
	char err[256] = "";
	int r;

	if (!db_path[0])
		snprintf(db_path, sizeof(db_path), "%s/store.db", test_tmpdir());
	r = store_sqlite_open(db_path, opts, &s, err, sizeof(err));
	ASSERT_MSG(r == 0, "store_sqlite_open: %d: %s", r, err);
	ASSERT_NOT_NULL(s);
	return s;
}

static struct store *open_store(bool durable)
{
	struct store_sqlite_options opts = { .no_fsync = !durable };

	return open_store_opts(&opts);
}

static int64_t create_str(struct store *s, const char *key, const char *value)
{
	int64_t rev = -1;

	ASSERT_OK(store_create(s, key, value, strlen(value), NULL, &rev));
	ASSERT(rev > 0);
	return rev;
}

static int64_t update_str(struct store *s, const char *key, int64_t expect, const char *value)
{
	int64_t rev = -1;

	ASSERT_OK(store_update(s, key, expect, value, strlen(value), NULL, &rev));
	ASSERT(rev > 0);
	return rev;
}

/* Assert key's current value and revisions. */
static void expect_kv(struct store *s, const char *key, const char *value, int64_t mod_rev,
		      int64_t create_rev)
{
	struct store_kv kv = { 0 };

	ASSERT_OK(store_get(s, key, &kv));
	ASSERT_STREQ(kv.key, key);
	ASSERT_STREQ(kv.value, value);
	ASSERT_EQ(kv.len, strlen(value));
	ASSERT_EQ(kv.mod_rev, mod_rev);
	ASSERT_EQ(kv.create_rev, create_rev);
	store_kv_free(&kv);
}

/* Assert key's current value (bytes); returns its mod_rev. */
static int64_t expect_bytes(struct store *s, const char *key, const void *value, size_t len)
{
	struct store_kv kv = { 0 };
	int64_t rev;

	ASSERT_OK(store_get(s, key, &kv));
	ASSERT_EQ(kv.len, len);
	ASSERT_MSG(memcmp(kv.value, value, len) == 0, "%s: wrong value", key);
	rev = kv.mod_rev;
	store_kv_free(&kv);
	return rev;
}

static long long count_rows(const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long n = -1;

	ASSERT_EQ(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* ---------------------------------------------------------------- collectors */

/* Events as received, deep-copied. */
struct ev_log {
	pthread_mutex_t lock;
	struct store_event *ev;
	size_t n, cap;
	int sleep_us; /* per event: makes the writer slow so that batches form */
};

static void ev_log_fn(void *ctx, const struct store_event *ev)
{
	struct ev_log *l = ctx;
	struct store_event *c;

	pthread_mutex_lock(&l->lock);
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->ev = xrealloc(l->ev, l->cap * sizeof(*l->ev));
	}
	c = &l->ev[l->n++];
	*c = *ev;
	store_kv_fill(&c->kv, ev->kv.key, ev->kv.value, ev->kv.len, ev->kv.mod_rev,
		      ev->kv.create_rev);
	memset(&c->prev, 0, sizeof(c->prev));
	if (ev->prev.key)
		store_kv_fill(&c->prev, ev->prev.key, ev->prev.value, ev->prev.len,
			      ev->prev.mod_rev, ev->prev.create_rev);
	pthread_mutex_unlock(&l->lock);
	if (l->sleep_us)
		usleep(l->sleep_us);
}

static void ev_log_init(struct ev_log *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
}

static void ev_log_free(struct ev_log *l)
{
	for (size_t i = 0; i < l->n; i++) {
		store_kv_free(&l->ev[i].kv);
		store_kv_free(&l->ev[i].prev);
	}
	free(l->ev);
	pthread_mutex_destroy(&l->lock);
}

static void expect_event(const struct store_event *ev, enum store_event_type type, int64_t rev,
			 const char *key, const char *value, int64_t create_rev,
			 const char *prev_value, int64_t prev_rev)
{
	ASSERT_EQ(ev->type, type);
	ASSERT_EQ(ev->rev, rev);
	ASSERT_STREQ(ev->kv.key, key);
	ASSERT_STREQ(ev->kv.value, value);
	ASSERT_EQ(ev->kv.mod_rev, rev);
	ASSERT_EQ(ev->kv.create_rev, create_rev);
	if (!prev_value) {
		ASSERT_NULL(ev->prev.key);
		ASSERT_EQ(ev->prev.mod_rev, 0);
		return;
	}
	ASSERT_STREQ(ev->prev.key, key);
	ASSERT_STREQ(ev->prev.value, prev_value);
	ASSERT_EQ(ev->prev.mod_rev, prev_rev);
	ASSERT_EQ(ev->prev.create_rev, create_rev);
}

/* Keys and values of a list, joined as "key=value;". */
struct list_out {
	struct buf b;
	int n, stop_after;
	int64_t max_mod_rev;
};

static int list_fn(void *ctx, const struct store_kv *kv)
{
	struct list_out *o = ctx;

	buf_appendf(&o->b, "%s=%s;", kv->key, kv->value);
	o->max_mod_rev = MAX(o->max_mod_rev, kv->mod_rev);
	return ++o->n == o->stop_after;
}

static char *list_str(struct store *s, const char *prefix, int64_t *rev)
{
	struct list_out o = { 0 };

	ASSERT_OK(store_list(s, prefix, rev, list_fn, &o));
	buf_append(&o.b, "", 0);
	return o.b.data;
}

/* Assert the "key=value;" list of prefix. */
static void expect_list(struct store *s, const char *prefix, const char *want)
{
	char *l = list_str(s, prefix, NULL);

	ASSERT_STREQ(l, want);
	free(l);
}

/* ---------------------------------------------------------------- helpers */

TEST(store_prefix_end_bounds_every_key_of_the_prefix)
{
	char *e;

	ASSERT_NULL(store_prefix_end(""));
	ASSERT_NULL(store_prefix_end("\xff\xff"));
	e = store_prefix_end("/registry/pods/");
	ASSERT_STREQ(e, "/registry/pods0");
	free(e);
	e = store_prefix_end("a\xff\xff");
	ASSERT_STREQ(e, "b");
	free(e);
	e = store_prefix_end("a\xfe");
	ASSERT_STREQ(e, "a\xff");
	free(e);
	ASSERT(store_key_is_valid("/k"));
	ASSERT(!store_key_is_valid(""));
	ASSERT(!store_key_is_valid(NULL));
	store_kv_free(NULL);
}

/* ---------------------------------------------------------------- basic writes */

TEST(store_create_get_and_exists)
{
	struct store *s = open_store(false);
	static const char bin[] = { 'a', 0, 'b', 0, (char)0xff };
	struct store_kv kv = { 0 };

	ASSERT_EQ(store_current_rev(s), 0);
	ASSERT_EQ(create_str(s, "/registry/pods/default/a", "{\"x\":1}"), 1);
	expect_kv(s, "/registry/pods/default/a", "{\"x\":1}", 1, 1);
	ASSERT_EQ(store_create(s, "/registry/pods/default/a", "y", 1, NULL, NULL), -EEXIST);
	expect_kv(s, "/registry/pods/default/a", "{\"x\":1}", 1, 1);
	ASSERT_EQ(store_current_rev(s), 1);
	ASSERT_EQ(store_get(s, "/registry/pods/default/b", &kv), -ENOENT);
	ASSERT_NULL(kv.key);

	/* Values are bytes: embedded NULs survive, a NUL follows them. */
	ASSERT_OK(store_create(s, "/bin", bin, sizeof(bin), NULL, NULL));
	ASSERT_OK(store_get(s, "/bin", &kv));
	ASSERT_EQ(kv.len, sizeof(bin));
	ASSERT(memcmp(kv.value, bin, sizeof(bin)) == 0);
	ASSERT_EQ(kv.value[kv.len], '\0');
	store_kv_free(&kv);
	/* An empty value is a value, not a missing key. */
	ASSERT_OK(store_create(s, "/empty", NULL, 0, NULL, NULL));
	expect_kv(s, "/empty", "", 3, 3);
	/* Keys are any NUL-free bytes. */
	create_str(s, "/odd/\x01\xfe\xff", "odd");
	expect_kv(s, "/odd/\x01\xfe\xff", "odd", 4, 4);
	store_close(s);
}

TEST(store_update_compare_and_swap)
{
	struct store *s = open_store(false);
	int64_t rev;

	create_str(s, "/k", "v1");
	ASSERT_EQ(update_str(s, "/k", 1, "v2"), 2);
	expect_kv(s, "/k", "v2", 2, 1);
	/* Stale: the caller read revision 1, the key is at 2. */
	rev = -1;
	ASSERT_EQ(store_update(s, "/k", 1, "v3", 2, NULL, &rev), -ESTALE);
	ASSERT_EQ(rev, -1);
	expect_kv(s, "/k", "v2", 2, 1);
	ASSERT_EQ(store_update(s, "/k", 99, "v3", 2, NULL, NULL), -ESTALE);
	/* Unconditional. */
	ASSERT_EQ(update_str(s, "/k", 0, "v3"), 3);
	expect_kv(s, "/k", "v3", 3, 1);
	ASSERT_EQ(store_update(s, "/missing", 0, "x", 1, NULL, NULL), -ENOENT);
	ASSERT_EQ(store_update(s, "/missing", 3, "x", 1, NULL, NULL), -ENOENT);
	/* Failed writes use no revision. */
	ASSERT_EQ(store_current_rev(s), 3);
	store_close(s);
}

TEST(store_delete_conditional_and_unconditional)
{
	struct store *s = open_store(false);
	struct store_kv prev = { 0 };
	int64_t rev = 0;

	create_str(s, "/a", "va");
	create_str(s, "/b", "vb");
	ASSERT_EQ(store_delete(s, "/a", 2, &rev, &prev), -ESTALE);
	ASSERT_NULL(prev.key);
	expect_kv(s, "/a", "va", 1, 1);
	ASSERT_OK(store_delete(s, "/a", 1, &rev, &prev));
	ASSERT_EQ(rev, 3);
	ASSERT_STREQ(prev.key, "/a");
	ASSERT_STREQ(prev.value, "va");
	ASSERT_EQ(prev.mod_rev, 1);
	ASSERT_EQ(prev.create_rev, 1);
	store_kv_free(&prev);
	ASSERT_EQ(store_get(s, "/a", &prev), -ENOENT);
	ASSERT_EQ(store_delete(s, "/a", 0, NULL, NULL), -ENOENT);
	ASSERT_EQ(store_delete(s, "/a", 1, NULL, NULL), -ENOENT);
	ASSERT_EQ(store_update(s, "/a", 0, "x", 1, NULL, NULL), -ENOENT);
	ASSERT_OK(store_delete(s, "/b", 0, &rev, NULL));
	ASSERT_EQ(rev, 4);
	ASSERT_EQ(store_delete(s, "/never", 0, NULL, NULL), -ENOENT);
	ASSERT_EQ(store_current_rev(s), 4);
	store_close(s);
}

TEST(store_recreate_after_delete)
{
	struct store *s = open_store(false);
	int64_t rev = 0;

	create_str(s, "/k", "one");
	ASSERT_OK(store_delete(s, "/k", 0, &rev, NULL));
	ASSERT_EQ(create_str(s, "/k", "two"), 3);
	expect_kv(s, "/k", "two", 3, 3);
	/* A revision of the old incarnation does not match the new one. */
	ASSERT_EQ(store_update(s, "/k", 1, "x", 1, NULL, NULL), -ESTALE);
	/* Many incarnations: each create replaces a different tombstone. */
	for (int i = 0; i < 5; i++) {
		ASSERT_OK(store_delete(s, "/k", 0, &rev, NULL));
		ASSERT_EQ(create_str(s, "/k", "again"), rev + 1);
	}
	expect_kv(s, "/k", "again", 13, 13);
	store_close(s);
}

/* ---------------------------------------------------------------- lists */

TEST(store_list_prefix_in_key_order_at_one_revision)
{
	static const char *keys[] = {
		"/registry/pods/ab", "/registry/podsx",	 "/registry/pods/a/x", "/registry/pods/b",
		"/registry/pods",    "/registry/pods/a", "/registry/pods/a0",  "/registry/pods/c",
	};
	struct store *s = open_store(false);
	struct list_out o = { .stop_after = 2 };
	int64_t rev = -1;
	char *l;

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		create_str(s, keys[i], keys[i] + 10);
	ASSERT_OK(store_delete(s, "/registry/pods/c", 0, NULL, NULL));

	l = list_str(s, "/registry/pods/", &rev);
	ASSERT_STREQ(l, "/registry/pods/a=pods/a;/registry/pods/a/x=pods/a/x;"
			"/registry/pods/a0=pods/a0;/registry/pods/ab=pods/ab;"
			"/registry/pods/b=pods/b;");
	ASSERT_EQ(rev, 9);
	free(l);
	/* A prefix that is a whole key and a prefix of others. */
	expect_list(s, "/registry/pods/a",
		    "/registry/pods/a=pods/a;/registry/pods/a/x=pods/a/x;"
		    "/registry/pods/a0=pods/a0;/registry/pods/ab=pods/ab;");
	expect_list(s, "/registry/pods/ab", "/registry/pods/ab=pods/ab;");
	expect_list(s, "/registry/pods/c", "");
	l = list_str(s, "/nothing/", &rev);
	ASSERT_STREQ(l, "");
	ASSERT_EQ(rev, 9);
	free(l);

	/* The callback stops the list; still a success with the revision. */
	rev = -1;
	ASSERT_OK(store_list(s, "/registry/", &rev, list_fn, &o));
	ASSERT_EQ(o.n, 2);
	ASSERT_EQ(rev, 9);
	ASSERT_STREQ(o.b.data, "/registry/pods=pods;/registry/pods/a=pods/a;");
	buf_free(&o.b);
	store_close(s);
}

TEST(store_list_empty_and_0xff_prefixes)
{
	struct store *s = open_store(false);

	create_str(s, "\xff\xff", "ff");
	create_str(s, "\xff\xff\x01", "ff1");
	create_str(s, "\xff\xfe", "fe");
	create_str(s, "/a", "a");
	/* No upper bound exists for these: the range must be open. */
	expect_list(s, "\xff\xff", "\xff\xff=ff;\xff\xff\x01=ff1;");
	expect_list(s, "\xff", "\xff\xfe=fe;\xff\xff=ff;\xff\xff\x01=ff1;");
	expect_list(s, "", "/a=a;\xff\xfe=fe;\xff\xff=ff;\xff\xff\x01=ff1;");
	store_close(s);
}

/* A thread writing to the store; fields beyond s and id are per test. */
struct worker {
	struct store *s;
	int id; /* 0 .. n-1 */
	int n;	/* writes to do */
	int err;
	int conflicts;
	pthread_t thread;
};

static void workers_start(struct worker *w, int n, struct store *s, int writes, void *(*fn)(void *))
{
	for (int i = 0; i < n; i++) {
		w[i] = (struct worker){ .s = s, .id = i, .n = writes, .err = 1 };
		ASSERT_OK(-pthread_create(&w[i].thread, NULL, fn, &w[i]));
	}
}

static void workers_join(struct worker *w, int n)
{
	for (int i = 0; i < n; i++)
		pthread_join(w[i].thread, NULL);
}

struct pair_writer {
	struct store *s;
	int rounds;
	atomic_bool done;
};

/* Sets /c/a then /c/b to the same number, round after round. */
static void *pair_writer_main(void *arg)
{
	struct pair_writer *w = arg;
	char v[32];

	for (int i = 1; i <= w->rounds; i++) {
		snprintf(v, sizeof(v), "%d", i);
		update_str(w->s, "/c/a", 0, v);
		update_str(w->s, "/c/b", 0, v);
	}
	atomic_store(&w->done, true);
	return NULL;
}

struct pair_seen {
	long a, b;
	int64_t a_rev, b_rev;
};

static int pair_fn(void *ctx, const struct store_kv *kv)
{
	struct pair_seen *p = ctx;

	if (strcmp(kv->key, "/c/a") == 0) {
		p->a = atol(kv->value);
		p->a_rev = kv->mod_rev;
	} else {
		p->b = atol(kv->value);
		p->b_rev = kv->mod_rev;
	}
	return 0;
}

TEST(store_list_is_one_snapshot_under_concurrent_writes)
{
	struct pair_writer w = { .rounds = 400 };
	pthread_t t;
	int lists = 0;

	w.s = open_store(false);
	create_str(w.s, "/c/a", "0");
	create_str(w.s, "/c/b", "0");
	ASSERT_OK(-pthread_create(&t, NULL, pair_writer_main, &w));
	while (!atomic_load(&w.done)) {
		struct pair_seen p = { 0 };
		int64_t rev = 0;

		ASSERT_OK(store_list(w.s, "/c/", &rev, pair_fn, &p));
		lists++;
		/* Every write goes to a or b: the newer of them is the snapshot. */
		ASSERT_EQ(MAX(p.a_rev, p.b_rev), rev);
		if (p.a_rev > p.b_rev)
			ASSERT_EQ(p.a, p.b + 1);
		else
			ASSERT_EQ(p.a, p.b);
	}
	pthread_join(t, NULL);
	ASSERT(lists > 0);
	expect_kv(w.s, "/c/b", "400", 802, 2);
	store_close(w.s);
}

/* ---------------------------------------------------------------- events */

/* create a, update a, create b, delete a, create a: revisions 1..5. */
static void write_history(struct store *s)
{
	create_str(s, "/a", "a1");
	update_str(s, "/a", 1, "a2");
	create_str(s, "/b", "b1");
	ASSERT_OK(store_delete(s, "/a", 2, NULL, NULL));
	create_str(s, "/a", "a3");
}

static void expect_history(const struct store_event *ev, int from)
{
	/* Indexed by revision - 1; from is the first revision present. */
	ev -= from - 1;
	if (from <= 1)
		expect_event(&ev[0], STORE_EV_CREATE, 1, "/a", "a1", 1, NULL, 0);
	if (from <= 2)
		expect_event(&ev[1], STORE_EV_UPDATE, 2, "/a", "a2", 1, "a1", 1);
	if (from <= 3)
		expect_event(&ev[2], STORE_EV_CREATE, 3, "/b", "b1", 3, NULL, 0);
	/* A delete carries the last value, at the deletion's revision. */
	if (from <= 4)
		expect_event(&ev[3], STORE_EV_DELETE, 4, "/a", "a2", 1, "a2", 2);
	expect_event(&ev[4], STORE_EV_CREATE, 5, "/a", "a3", 5, NULL, 0);
}

TEST(store_events_delivered_in_order_before_the_write_returns)
{
	struct store *s = open_store(false);
	struct ev_log l;
	int64_t rev;

	ev_log_init(&l);
	store_set_event_fn(s, ev_log_fn, &l);
	ASSERT_OK(store_create(s, "/a", "a1", 2, NULL, &rev));
	/* Delivered before the call returned: a reader of the cache sees it. */
	ASSERT_EQ(l.n, 1);
	update_str(s, "/a", 1, "a2");
	ASSERT_EQ(l.n, 2);
	/* Failed writes make no events. */
	ASSERT_EQ(store_update(s, "/a", 1, "x", 1, NULL, NULL), -ESTALE);
	ASSERT_EQ(store_create(s, "/a", "x", 1, NULL, NULL), -EEXIST);
	ASSERT_EQ(store_delete(s, "/zz", 0, NULL, NULL), -ENOENT);
	ASSERT_EQ(l.n, 2);
	create_str(s, "/b", "b1");
	ASSERT_OK(store_delete(s, "/a", 2, NULL, NULL));
	create_str(s, "/a", "a3");
	ASSERT_EQ(l.n, 5);
	expect_history(l.ev, 1);
	/* Unregistered: no more calls. */
	store_set_event_fn(s, NULL, NULL);
	update_str(s, "/b", 0, "b2");
	ASSERT_EQ(l.n, 5);
	store_close(s);
	ev_log_free(&l);
}

TEST(store_events_since_replays_history)
{
	struct store *s = open_store(false);
	struct ev_log l;

	write_history(s);
	ev_log_init(&l);
	ASSERT_OK(store_events_since(s, 0, ev_log_fn, &l));
	ASSERT_EQ(l.n, 5);
	expect_history(l.ev, 1);
	ev_log_free(&l);

	ev_log_init(&l);
	ASSERT_OK(store_events_since(s, 3, ev_log_fn, &l));
	ASSERT_EQ(l.n, 2);
	expect_history(l.ev, 4);
	ev_log_free(&l);

	ev_log_init(&l);
	ASSERT_OK(store_events_since(s, 5, ev_log_fn, &l));
	ASSERT_OK(store_events_since(s, 100, ev_log_fn, &l));
	ASSERT_EQ(l.n, 0);
	ev_log_free(&l);
	store_close(s);
}

/* ---------------------------------------------------------------- compaction */

TEST(store_compact_drops_history_keeps_live_values)
{
	struct store *s = open_store(false);
	struct ev_log l;

	create_str(s, "/k1", "1a");			  /* 1 */
	update_str(s, "/k1", 0, "1b");			  /* 2 */
	create_str(s, "/k2", "2a");			  /* 3 */
	ASSERT_OK(store_delete(s, "/k2", 0, NULL, NULL)); /* 4 */
	create_str(s, "/k3", "3a");			  /* 5: live, old after compaction */
	update_str(s, "/k1", 0, "1c");			  /* 6 */
	create_str(s, "/k4", "4a");			  /* 7 */
	ASSERT_EQ(count_rows("SELECT count(*) FROM kv"), 7);

	ASSERT_EQ(store_compact(s, 8), -EINVAL);
	ASSERT_EQ(store_compact(s, -1), -EINVAL);
	ASSERT_EQ(store_compacted_rev(s), 0);
	ASSERT_OK(store_compact(s, 5));
	ASSERT_EQ(store_compacted_rev(s), 5);
	/* Left: k1@6, k3@5, k4@7. History of k1 and all of k2 are gone. */
	ASSERT_EQ(count_rows("SELECT count(*) FROM kv"), 3);
	ASSERT_EQ(count_rows("SELECT value FROM meta WHERE key = 'compacted_rev'"), 5);
	expect_kv(s, "/k1", "1c", 6, 1);
	expect_kv(s, "/k3", "3a", 5, 5);
	ASSERT_EQ(store_get(s, "/k2", &(struct store_kv){ 0 }), -ENOENT);
	expect_list(s, "/", "/k1=1c;/k3=3a;/k4=4a;");

	ev_log_init(&l);
	ASSERT_EQ(store_events_since(s, 4, ev_log_fn, &l), -ESTALE);
	ASSERT_EQ(store_events_since(s, 0, ev_log_fn, &l), -ESTALE);
	ASSERT_EQ(l.n, 0);
	/* From the compacted revision on, history is complete, prev included. */
	ASSERT_OK(store_events_since(s, 5, ev_log_fn, &l));
	ASSERT_EQ(l.n, 2);
	expect_event(&l.ev[0], STORE_EV_UPDATE, 6, "/k1", "1c", 1, "1b", 2);
	expect_event(&l.ev[1], STORE_EV_CREATE, 7, "/k4", "4a", 7, NULL, 0);
	ev_log_free(&l);

	/* Older or equal compactions are no-ops, never a step back. */
	ASSERT_OK(store_compact(s, 3));
	ASSERT_OK(store_compact(s, 5));
	ASSERT_EQ(store_compacted_rev(s), 5);
	/* A key whose whole history was compacted can be created again. */
	ASSERT_EQ(create_str(s, "/k2", "2b"), 8);
	expect_kv(s, "/k2", "2b", 8, 8);
	/* Compacting to the newest revision keeps exactly the live keys. */
	ASSERT_OK(store_delete(s, "/k4", 0, NULL, NULL));
	ASSERT_OK(store_compact(s, store_current_rev(s)));
	ASSERT_EQ(count_rows("SELECT count(*) FROM kv"), 3);
	expect_list(s, "/", "/k1=1c;/k2=2b;/k3=3a;");
	store_close(s);
}

static void *history_writer_main(void *arg)
{
	struct worker *w = arg;
	char key[32];

	snprintf(key, sizeof(key), "/h/%d", w->id);
	for (int i = 0; i < w->n; i++)
		update_str(w->s, key, 0, "history");
	return NULL;
}

struct compactor {
	struct store *s;
	int64_t rev;
	int err;
	atomic_bool done;
};

static void *compactor_main(void *arg)
{
	struct compactor *c = arg;

	c->err = store_compact(c->s, c->rev);
	atomic_store(&c->done, true);
	return NULL;
}

TEST(store_compaction_runs_in_chunks_between_writes)
{
	struct store *s = open_store(false);
	struct worker w[4];
	struct compactor c = { 0 };
	struct store_sqlite_stats st;
	struct store_kv kv = { 0 };
	pthread_t ct;
	int during = 0, i;
	char v[32];

	for (i = 0; i < 4; i++) {
		snprintf(v, sizeof(v), "/h/%d", i);
		create_str(s, v, "first");
	}
	workers_start(w, 4, s, 2500, history_writer_main);
	workers_join(w, 4);
	create_str(s, "/live", "0");
	c.s = s;
	c.rev = store_current_rev(s);
	ASSERT_EQ(c.rev, 10005);

	/*
	 * Write while compaction runs: every write that returns after the
	 * first chunk recorded the compacted revision and before the last
	 * chunk committed went between two chunks.
	 */
	ASSERT_OK(-pthread_create(&ct, NULL, compactor_main, &c));
	for (i = 1; !atomic_load(&c.done); i++) {
		snprintf(v, sizeof(v), "%d", i);
		update_str(s, "/live", 0, v);
		if (store_compacted_rev(s) == c.rev && !atomic_load(&c.done))
			during++;
	}
	pthread_join(ct, NULL);
	ASSERT_OK(c.err);
	ASSERT_OK(store_sqlite_stats(s, &st));
	ASSERT_MSG(st.compact_chunks >= 10000 / 512, "%llu chunks",
		   (unsigned long long)st.compact_chunks);
	ASSERT_MSG(during >= 3, "only %d writes between compaction chunks", during);
	/*
	 * Left: the newest row of each /h/ key, and the /live updates after
	 * c.rev (they superseded /live's row at c.rev, so that one went too).
	 */
	ASSERT_EQ(count_rows("SELECT count(*) FROM kv"), 4 + store_current_rev(s) - c.rev);
	ASSERT_OK(store_get(s, "/h/3", &kv));
	ASSERT_STREQ(kv.value, "history");
	ASSERT_EQ(kv.create_rev, 4);
	store_kv_free(&kv);
	store_close(s);
}

/* ---------------------------------------------------------------- concurrency */

#define CAS_THREADS 8
#define CAS_INCREMENTS 200

static void *cas_worker_main(void *arg)
{
	struct worker *w = arg;

	for (int done = 0; done < w->n;) {
		struct store_kv kv = { 0 };
		char v[32];
		int r;

		ASSERT_OK(store_get(w->s, "/counter", &kv));
		snprintf(v, sizeof(v), "%ld", atol(kv.value) + 1);
		r = store_update(w->s, "/counter", kv.mod_rev, v, strlen(v), NULL, NULL);
		store_kv_free(&kv);
		if (r == 0)
			done++;
		else if (r == -ESTALE)
			w->conflicts++;
		else
			ASSERT_OK(r);
	}
	return NULL;
}

TEST(store_concurrent_cas_never_loses_an_update)
{
	struct store *s = open_store(false);
	struct worker w[CAS_THREADS];
	struct store_sqlite_stats st;
	struct store_kv kv = { 0 };
	struct ev_log l;
	char want[32];

	ev_log_init(&l);
	store_set_event_fn(s, ev_log_fn, &l);
	create_str(s, "/counter", "0");
	workers_start(w, CAS_THREADS, s, CAS_INCREMENTS, cas_worker_main);
	workers_join(w, CAS_THREADS);

	snprintf(want, sizeof(want), "%d", CAS_THREADS * CAS_INCREMENTS);
	ASSERT_OK(store_get(s, "/counter", &kv));
	ASSERT_STREQ(kv.value, want);
	ASSERT_EQ(kv.mod_rev, 1 + CAS_THREADS * CAS_INCREMENTS);
	store_kv_free(&kv);
	/* One event per successful write, revisions consecutive, each update
	 * replacing exactly the value before it. */
	ASSERT_EQ(l.n, 1 + CAS_THREADS * CAS_INCREMENTS);
	for (size_t i = 1; i < l.n; i++) {
		ASSERT_EQ(l.ev[i].rev, l.ev[i - 1].rev + 1);
		ASSERT_EQ(l.ev[i].prev.mod_rev, l.ev[i - 1].rev);
		ASSERT_EQ(atol(l.ev[i].kv.value), atol(l.ev[i].prev.value) + 1);
	}
	ASSERT_OK(store_sqlite_stats(s, &st));
	ASSERT_EQ(st.writes, 1 + CAS_THREADS * CAS_INCREMENTS);
	ASSERT_EQ(st.failed_batches, 0);
	store_close(s);
	ev_log_free(&l);
}

#define BATCH_THREADS 8
#define BATCH_WRITES 50

static void *create_worker_main(void *arg)
{
	struct worker *w = arg;
	char key[64];

	for (int i = 0; i < w->n; i++) {
		snprintf(key, sizeof(key), "/batch/%d/%03d", w->id, i);
		create_str(w->s, key, key);
	}
	return NULL;
}

TEST(store_concurrent_writes_share_commits)
{
	struct store_sqlite_options opts = { .max_batch = 4 };
	struct store *s = open_store_opts(&opts);
	struct worker w[BATCH_THREADS];
	struct store_sqlite_stats st;
	struct ev_log l;
	char *list;
	int n = 0;

	/* A slow event consumer holds the writer, so writes queue up behind it. */
	ev_log_init(&l);
	l.sleep_us = 500;
	store_set_event_fn(s, ev_log_fn, &l);
	workers_start(w, BATCH_THREADS, s, BATCH_WRITES, create_worker_main);
	workers_join(w, BATCH_THREADS);

	ASSERT_OK(store_sqlite_stats(s, &st));
	ASSERT_EQ(st.writes, BATCH_THREADS * BATCH_WRITES);
	ASSERT_MSG(st.commits < st.writes, "%llu commits for %llu writes",
		   (unsigned long long)st.commits, (unsigned long long)st.writes);
	ASSERT(st.max_batch > 1);
	ASSERT(st.max_batch <= 4);
	ASSERT_EQ(l.n, BATCH_THREADS * BATCH_WRITES);
	for (size_t i = 1; i < l.n; i++)
		ASSERT_EQ(l.ev[i].rev, l.ev[i - 1].rev + 1);
	list = list_str(s, "/batch/", NULL);
	for (char *p = list; (p = strchr(p, ';')); p++)
		n++;
	ASSERT_EQ(n, BATCH_THREADS * BATCH_WRITES);
	free(list);
	store_close(s);
	ev_log_free(&l);
}

/* Holds the writer inside event delivery until opened. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool entered, open;
};

static void gate_event_fn(void *ctx, const struct store_event *ev)
{
	struct gate *g = ctx;

	pthread_mutex_lock(&g->lock);
	g->entered = true;
	pthread_cond_broadcast(&g->cond);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

static void *queued_writer_main(void *arg)
{
	struct worker *w = arg;
	char key[32];

	snprintf(key, sizeof(key), "/q/%d", w->id);
	w->err = store_create(w->s, key, key, strlen(key), NULL, NULL);
	return NULL;
}

static void *closer_main(void *arg)
{
	store_close(arg);
	return NULL;
}

TEST(store_close_finishes_queued_writes)
{
	struct store_sqlite_options opts = { .no_fsync = true, .max_batch = 1 };
	struct store *s = open_store_opts(&opts);
	struct gate g = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct worker w[5];
	struct store_sqlite_stats st = { 0 };
	pthread_t closer;

	store_set_event_fn(s, gate_event_fn, &g);
	workers_start(w, 5, s, 1, queued_writer_main);
	/* One write is held in delivery, the four others wait in the queue. */
	pthread_mutex_lock(&g.lock);
	while (!g.entered)
		pthread_cond_wait(&g.cond, &g.lock);
	pthread_mutex_unlock(&g.lock);
	while (st.queued != 4) {
		usleep(1000);
		ASSERT_OK(store_sqlite_stats(s, &st));
	}
	ASSERT_OK(-pthread_create(&closer, NULL, closer_main, s));
	usleep(50 * 1000);
	pthread_mutex_lock(&g.lock);
	g.open = true;
	pthread_cond_broadcast(&g.cond);
	pthread_mutex_unlock(&g.lock);
	pthread_join(closer, NULL);
	workers_join(w, 5);
	for (int i = 0; i < 5; i++)
		ASSERT_OK(w[i].err);

	s = open_store(false);
	ASSERT_EQ(store_current_rev(s), 5);
	expect_list(s, "/q/", "/q/0=/q/0;/q/1=/q/1;/q/2=/q/2;/q/3=/q/3;/q/4=/q/4;");
	store_close(s);
}

/* ---------------------------------------------------------------- durability */

TEST(store_restart_keeps_data_and_revisions)
{
	struct store *s = open_store(true);
	struct ev_log l;

	write_history(s);				 /* a@5 live, b@3 live */
	update_str(s, "/b", 0, "b2");			 /* 6 */
	ASSERT_OK(store_delete(s, "/b", 0, NULL, NULL)); /* 7: the newest row is a tombstone */
	store_close(s);

	s = open_store(true);
	ASSERT_EQ(store_current_rev(s), 7);
	expect_kv(s, "/a", "a3", 5, 5);
	ASSERT_EQ(store_get(s, "/b", &(struct store_kv){ 0 }), -ENOENT);
	ev_log_init(&l);
	ASSERT_OK(store_events_since(s, 0, ev_log_fn, &l));
	ASSERT_EQ(l.n, 7);
	expect_history(l.ev, 1);
	ev_log_free(&l);
	/* Compaction removes the rows of revisions 6 and 7 ... */
	ASSERT_OK(store_compact(s, 7));
	ASSERT_EQ(count_rows("SELECT max(id) FROM kv"), 5);
	store_close(s);

	/* ... yet revisions never go back, and the compaction is remembered. */
	s = open_store(true);
	ASSERT_EQ(store_current_rev(s), 7);
	ASSERT_EQ(store_compacted_rev(s), 7);
	ASSERT_EQ(create_str(s, "/b", "b3"), 8);
	ev_log_init(&l);
	ASSERT_EQ(store_events_since(s, 6, ev_log_fn, &l), -ESTALE);
	ASSERT_OK(store_events_since(s, 7, ev_log_fn, &l));
	ASSERT_EQ(l.n, 1);
	expect_event(&l.ev[0], STORE_EV_CREATE, 8, "/b", "b3", 8, NULL, 0);
	ev_log_free(&l);
	store_close(s);
}

#define KILL_THREADS 4
#define KILL_AFTER_ACKS 300

struct ack_writer {
	struct store *s;
	int id, fd;
};

static void ack_value(const char *key, char *v, size_t len)
{
	snprintf(v, len, "value of %s", key);
}

/* In the child: create keys forever, reporting each acknowledged one. */
static void *ack_writer_main(void *arg)
{
	struct ack_writer *w = arg;
	char key[64], line[80], v[96];

	for (int i = 0;; i++) {
		int n;

		snprintf(key, sizeof(key), "/ack/%d/%06d", w->id, i);
		ack_value(key, v, sizeof(v));
		if (store_create(w->s, key, v, strlen(v), NULL, NULL) != 0)
			_exit(3);
		/* One write() below PIPE_BUF: lines of several threads never mix. */
		n = snprintf(line, sizeof(line), "%s\n", key);
		if (write(w->fd, line, n) != n)
			_exit(4);
	}
	return NULL;
}

static void ack_child(int fd)
{
	struct store_sqlite_options opts = { 0 };
	struct ack_writer w[KILL_THREADS];
	pthread_t t[KILL_THREADS];
	struct store *s;
	char err[256];

	if (store_sqlite_open(db_path, &opts, &s, err, sizeof(err)) != 0)
		_exit(2);
	for (int i = 0; i < KILL_THREADS; i++) {
		w[i] = (struct ack_writer){ .s = s, .id = i, .fd = fd };
		if (pthread_create(&t[i], NULL, ack_writer_main, &w[i]) != 0)
			_exit(2);
	}
	for (;;)
		pause();
}

TEST(store_kill9_loses_no_acknowledged_write)
{
	char **acked = NULL, *line = NULL;
	size_t nacked = 0, cap = 0, n = 0;
	int64_t last = 0;
	int fds[2], status;
	struct store *s;
	FILE *in;
	pid_t pid;

	snprintf(db_path, sizeof(db_path), "%s/store.db", test_tmpdir());
	ASSERT_OK(pipe(fds));
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		ack_child(fds[1]);
	}
	close(fds[1]);
	in = fdopen(fds[0], "r");
	ASSERT_NOT_NULL(in);
	/* Kill in the middle of the burst, then read what was acknowledged before. */
	while (getline(&line, &n, in) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if (nacked == cap) {
			cap = cap ? 2 * cap : 256;
			acked = xrealloc(acked, cap * sizeof(*acked));
		}
		acked[nacked++] = xstrdup(line);
		if (nacked == KILL_AFTER_ACKS)
			ASSERT_OK(kill(pid, SIGKILL));
	}
	free(line);
	fclose(in);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		   "child ended otherwise (status %#x) after %zu acks", status, nacked);
	ASSERT(nacked >= KILL_AFTER_ACKS);

	s = open_store(true);
	for (size_t i = 0; i < nacked; i++) {
		char v[96];

		ack_value(acked[i], v, sizeof(v));
		last = MAX(last, expect_bytes(s, acked[i], v, strlen(v)));
		free(acked[i]);
	}
	free(acked);
	/* Revisions continue after the last write that made it. */
	ASSERT(store_current_rev(s) >= last);
	ASSERT(create_str(s, "/after", "x") > last);
	store_close(s);
}

/* ---------------------------------------------------------------- bad files, bad input */

static void write_file(const char *path, off_t off, int byte, size_t len)
{
	char *junk = xmalloc(len);
	int fd = open(path, O_WRONLY | O_CREAT, 0600);

	ASSERT(fd >= 0);
	memset(junk, byte, len);
	ASSERT_EQ(pwrite(fd, junk, len, off), (ssize_t)len);
	close(fd);
	free(junk);
}

TEST(store_corrupt_file_is_an_error_not_a_crash)
{
	struct store *s = NULL;
	char err[256] = "";
	int r;

	snprintf(db_path, sizeof(db_path), "%s/garbage.db", test_tmpdir());
	write_file(db_path, 0, 'x', 8192);
	r = store_sqlite_open(db_path, NULL, &s, err, sizeof(err));
	ASSERT_EQ(r, -EIO);
	ASSERT_NULL(s);
	ASSERT_MSG(strstr(err, "garbage.db") && strstr(err, "not a database"), "err: %s", err);

	/* A good header over ruined pages. */
	snprintf(db_path, sizeof(db_path), "%s/ruined.db", test_tmpdir());
	s = open_store(false);
	for (int i = 0; i < 50; i++) {
		char key[32];

		snprintf(key, sizeof(key), "/k/%d", i);
		create_str(s, key, "some value that fills pages some value that fills pages");
	}
	store_close(s);
	s = NULL;
	write_file(db_path, 4096, 0xa5, 64 * 1024);
	err[0] = '\0';
	r = store_sqlite_open(db_path, NULL, &s, err, sizeof(err));
	ASSERT_EQ(r, -EIO);
	ASSERT_NULL(s);
	ASSERT_MSG(strstr(err, "malformed"), "err: %s", err);
}

static int log_pipe[2];

static const char *captured_log(void)
{
	static char buf[8192];
	ssize_t n;

	close(log_pipe[1]);
	n = read(log_pipe[0], buf, sizeof(buf) - 1);
	ASSERT(n >= 0);
	buf[n] = '\0';
	close(log_pipe[0]);
	log_set_fd(2);
	return buf;
}

TEST(store_disk_full_fails_the_write_with_eio_and_recovers)
{
	struct store *s = open_store(false);
	struct rlimit old, lim;
	struct store_sqlite_stats st;
	size_t big_len = 64 * 1024;
	char *big = xmalloc(big_len), key[32];
	int64_t rev = 0, last_ok = 0;
	const char *log;
	int r = 0, i;

	memset(big, 'v', big_len);
	create_str(s, "/small", "ok");
	ASSERT_OK(pipe(log_pipe));
	log_set_fd(log_pipe[1]);
	/* A file size limit makes writes fail with EFBIG, as a full disk would. */
	signal(SIGXFSZ, SIG_IGN);
	ASSERT_OK(getrlimit(RLIMIT_FSIZE, &old));
	lim = (struct rlimit){ .rlim_cur = 512 * 1024, .rlim_max = old.rlim_max };
	ASSERT_OK(setrlimit(RLIMIT_FSIZE, &lim));
	for (i = 0; i < 64; i++) {
		snprintf(key, sizeof(key), "/big/%d", i);
		r = store_create(s, key, big, big_len, NULL, &rev);
		if (r)
			break;
		last_ok = rev;
	}
	ASSERT_OK(setrlimit(RLIMIT_FSIZE, &old));
	ASSERT_EQ(r, -EIO);
	ASSERT(i > 0);
	log = captured_log();
	ASSERT_MSG(strstr(log, "store.db") && (strstr(log, "full") || strstr(log, "I/O")),
		   "log: %s", log);
	ASSERT_MSG(!strchr(strchr(log, '\n') + 1, '\n'), "logged more than once: %s", log);

	/* The failed write is not there; what was acknowledged is; writing works again. */
	ASSERT_EQ(store_get(s, key, &(struct store_kv){ 0 }), -ENOENT);
	ASSERT_EQ(store_current_rev(s), last_ok);
	expect_kv(s, "/small", "ok", 1, 1);
	ASSERT_EQ(create_str(s, key, "retry"), last_ok + 1);
	ASSERT_OK(store_sqlite_stats(s, &st));
	ASSERT_EQ(st.failed_batches, 1);
	store_close(s);

	s = open_store(false);
	expect_bytes(s, "/big/0", big, big_len);
	expect_kv(s, key, "retry", last_ok + 1, last_ok + 1);
	store_close(s);
	free(big);
}

static int never_called(void *ctx, const struct store_kv *kv)
{
	return 0;
}

static void never_called_ev(void *ctx, const struct store_event *ev)
{
}

TEST(store_bad_arguments_are_refused)
{
	struct store *s = open_store(false), *none = NULL;
	struct store_kv kv = { 0 };
	struct store_sqlite_stats st;
	char err[256] = "";
	static const struct store_ops other_ops;
	struct store other = { .ops = &other_ops };

	ASSERT_EQ(store_get(s, "", &kv), -EINVAL);
	ASSERT_EQ(store_get(s, NULL, &kv), -EINVAL);
	ASSERT_EQ(store_create(s, "", "v", 1, NULL, NULL), -EINVAL);
	ASSERT_EQ(store_create(s, NULL, "v", 1, NULL, NULL), -EINVAL);
	ASSERT_EQ(store_create(s, "/k", NULL, 3, NULL, NULL), -EINVAL);
	/* Checked before the bytes are touched: this pointer is not that big. */
	ASSERT_EQ(store_create(s, "/k", "v", (size_t)1 << 40, NULL, NULL), -E2BIG);
	ASSERT_EQ(store_update(s, "", 0, "v", 1, NULL, NULL), -EINVAL);
	ASSERT_EQ(store_update(s, "/k", -1, "v", 1, NULL, NULL), -EINVAL);
	ASSERT_EQ(store_delete(s, "", 0, NULL, NULL), -EINVAL);
	ASSERT_EQ(store_delete(s, "/k", -5, NULL, NULL), -EINVAL);
	ASSERT_EQ(store_list(s, NULL, NULL, never_called, NULL), -EINVAL);
	ASSERT_EQ(store_list(s, "/", NULL, NULL, NULL), -EINVAL);
	ASSERT_EQ(store_events_since(s, -1, never_called_ev, NULL), -EINVAL);
	ASSERT_EQ(store_events_since(s, 0, NULL, NULL), -EINVAL);
	ASSERT_EQ(store_compact(s, 1), -EINVAL);
	ASSERT_EQ(store_current_rev(s), 0);
	ASSERT_EQ(store_sqlite_stats(NULL, &st), -EINVAL);
	ASSERT_EQ(store_sqlite_stats(&other, &st), -EINVAL);
	ASSERT_EQ(store_sqlite_stats(s, NULL), -EINVAL);
	store_close(s);
	store_close(NULL);

	ASSERT_EQ(store_sqlite_open(NULL, NULL, &none, err, sizeof(err)), -EINVAL);
	ASSERT(err[0]);
	ASSERT_EQ(store_sqlite_open("", NULL, &none, err, sizeof(err)), -EINVAL);
	err[0] = '\0';
	ASSERT_EQ(store_sqlite_open("/nonexistent-dir/x/store.db", NULL, &none, err, sizeof(err)),
		  -ENOENT);
	ASSERT_MSG(strstr(err, "/nonexistent-dir/x/store.db"), "err: %s", err);
	ASSERT_NULL(none);
}
