/*
 * store.h - the key-value store behind capstan-apiserver.
 *
 * The API server is the only process that touches the store. Two backends
 * implement this interface: the embedded SQLite store (store_sqlite.c, the
 * default) and, later, etcd v3. The API server never knows which one runs.
 *
 * Model (the one etcd and kine expose):
 *   - keys are strings, "/registry/<resource>/<namespace>/<name>" or
 *     "/registry/<resource>/<name>" for cluster-scoped objects;
 *   - values are opaque bytes (the API server stores compact JSON without
 *     metadata.resourceVersion, which it derives from mod_rev);
 *   - every write (create, update, delete) gets the next revision of the
 *     whole store, an int64 starting at 1 and strictly increasing. A value's
 *     resourceVersion is the revision of the write that produced it
 *     (mod_rev); create_rev is the revision that created the key;
 *   - updates and deletes can be conditional on the current mod_rev
 *     (compare-and-swap), which is how 409 Conflict is implemented;
 *   - history: every write is kept until compaction, so a watcher can
 *     replay the events after a revision; asking for history older than the
 *     compacted revision is an error (-ESTALE, which the API serves as 410).
 *
 * Durability: a write call returns only after the write is durable on disk
 * (fsync'd), so the API server answers 2xx only for writes that survive
 * kill -9 or power loss. Concurrent writes share one transaction and one
 * fsync (group commit), so durability costs one fsync per batch, not per
 * write.
 *
 * Events: the backend calls the registered event function for every
 * committed write, in revision order, from one thread, after the write is
 * durable and before the write call returns to its caller. The API server's
 * watch cache is fed this way, so a client that got 201 reads its own write
 * from the cache immediately. The event function must not write to the
 * store (the write would wait for the thread that is calling it).
 *
 * Threads: every function may be called from any thread concurrently.
 *
 * Bad arguments (a NULL or empty key, a NULL prefix or callback, a NULL
 * value with len > 0, a negative revision) return -EINVAL from every
 * function that takes them; a value larger than the backend can keep
 * returns -E2BIG. An empty prefix lists every key.
 */
#ifndef CAPSTAN_STORE_H
#define CAPSTAN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_kv {
	char *key;		/* NUL-terminated */
	char *value;		/* value bytes, with a NUL appended (not counted in len) */
	size_t len;
	int64_t mod_rev;	/* revision of the write that produced this value */
	int64_t create_rev;	/* revision that created the key */
};

enum store_event_type {
	STORE_EV_CREATE,
	STORE_EV_UPDATE,
	STORE_EV_DELETE,
};

struct store_event {
	enum store_event_type type;
	int64_t rev;		/* revision of this write */
	/*
	 * CREATE/UPDATE: the new value (kv.mod_rev == rev).
	 * DELETE: the value the key had when deleted, with kv.mod_rev == rev
	 * (so a DELETED watch event carries the deletion's resourceVersion).
	 */
	struct store_kv kv;
	/* UPDATE/DELETE: the previous value (prev.mod_rev < rev). CREATE: all zero. */
	struct store_kv prev;
	/*
	 * CREATE/UPDATE: the hint the writer passed with this write, unchanged
	 * (NULL if none, and always NULL for writes replayed by
	 * events_since or seen through another process). The API server
	 * passes its decoded object so its cache need not parse the value
	 * it just encoded.
	 */
	void *hint;
};

/* Called for each committed write; ev and its strings are valid for the call only. */
typedef void (*store_event_fn)(void *ctx, const struct store_event *ev);
/* Called for each key of a list; kv is valid for the call only. Non-zero stops. */
typedef int (*store_kv_fn)(void *ctx, const struct store_kv *kv);

struct store;

struct store_ops {
	int (*get)(struct store *s, const char *key, struct store_kv *out);
	int (*list)(struct store *s, const char *prefix, int64_t *rev, store_kv_fn fn, void *ctx);
	int (*create)(struct store *s, const char *key, const void *value, size_t len,
		      void *hint, int64_t *rev);
	int (*update)(struct store *s, const char *key, int64_t expect_rev, const void *value,
		      size_t len, void *hint, int64_t *rev);
	int (*del)(struct store *s, const char *key, int64_t expect_rev, int64_t *rev,
		   struct store_kv *prev);
	int (*events_since)(struct store *s, int64_t after_rev, store_event_fn fn, void *ctx);
	int64_t (*current_rev)(struct store *s);
	int64_t (*compacted_rev)(struct store *s);
	int (*compact)(struct store *s, int64_t rev);
	void (*set_event_fn)(struct store *s, store_event_fn fn, void *ctx);
	void (*close)(struct store *s);
};

/* Every backend embeds this first. */
struct store {
	const struct store_ops *ops;
};

/*
 * The current value of key. 0 on success (fill *out, release it with
 * store_kv_free), -ENOENT if the key does not exist (or was deleted),
 * -EIO on a storage error.
 */
static inline int store_get(struct store *s, const char *key, struct store_kv *out)
{
	return s->ops->get(s, key, out);
}

/*
 * Call fn for every live key that starts with prefix, in byte order of the
 * keys, all as of one consistent revision, written to *rev (may be NULL).
 * 0 on success (also when fn stopped early), -EIO on a storage error.
 */
static inline int store_list(struct store *s, const char *prefix, int64_t *rev, store_kv_fn fn,
			     void *ctx)
{
	return s->ops->list(s, prefix, rev, fn, ctx);
}

/*
 * Create key. 0 on success with *rev (may be NULL) set to the new revision;
 * -EEXIST if the key exists, -EIO on a storage error. Durable on return.
 * hint (may be NULL) reaches the event function as ev->hint.
 */
static inline int store_create(struct store *s, const char *key, const void *value, size_t len,
			       void *hint, int64_t *rev)
{
	return s->ops->create(s, key, value, len, hint, rev);
}

/*
 * Replace the value of an existing key. expect_rev > 0: only if the key's
 * current mod_rev equals it, else -ESTALE (a conflict); expect_rev == 0:
 * unconditionally. 0 on success with *rev set; -ENOENT if the key does not
 * exist; -EIO on a storage error. Durable on return.
 */
static inline int store_update(struct store *s, const char *key, int64_t expect_rev,
			       const void *value, size_t len, void *hint, int64_t *rev)
{
	return s->ops->update(s, key, expect_rev, value, len, hint, rev);
}

/*
 * Delete key, conditionally as store_update. 0 on success with *rev set to
 * the deletion's revision and *prev (may be NULL) to the deleted value;
 * -ENOENT, -ESTALE, -EIO as store_update. Durable on return.
 */
static inline int store_delete(struct store *s, const char *key, int64_t expect_rev,
			       int64_t *rev, struct store_kv *prev)
{
	return s->ops->del(s, key, expect_rev, rev, prev);
}

/*
 * Replay, in revision order, every write with revision > after_rev up to
 * the current revision. 0 on success; -ESTALE if after_rev is older than
 * the compacted revision (history is gone); -EIO on a storage error.
 */
static inline int store_events_since(struct store *s, int64_t after_rev, store_event_fn fn,
				     void *ctx)
{
	return s->ops->events_since(s, after_rev, fn, ctx);
}

/* Revision of the last committed write (0 for an empty store). */
static inline int64_t store_current_rev(struct store *s)
{
	return s->ops->current_rev(s);
}

/* History at or below this revision is gone (0 = nothing compacted). */
static inline int64_t store_compacted_rev(struct store *s)
{
	return s->ops->compacted_rev(s);
}

/*
 * Drop history up to and including rev: superseded values and deletion
 * records with revision <= rev. Current values of live keys are kept
 * whatever their revision. 0 on success, -EINVAL if rev > current
 * revision, -EIO on a storage error.
 */
static inline int store_compact(struct store *s, int64_t rev)
{
	return s->ops->compact(s, rev);
}

/* Register the function that receives every committed write (one at a time). */
static inline void store_set_event_fn(struct store *s, store_event_fn fn, void *ctx)
{
	s->ops->set_event_fn(s, fn, ctx);
}

/*
 * Finish pending writes (callers already waiting for a write get its
 * result), close. s is freed: no call may start during or after this.
 */
static inline void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

/* Free what kv holds and zero it (kv itself is not freed; NULL is fine). */
void store_kv_free(struct store_kv *kv);

/* Helpers shared by the backends (store.c). */

/* A usable key: non-NULL and non-empty. */
bool store_key_is_valid(const char *key);

/*
 * Fill kv with copies of key and of the len bytes at value (a NUL appended).
 * kv's previous contents are not freed.
 */
void store_kv_fill(struct store_kv *kv, const char *key, const void *value, size_t len,
		   int64_t mod_rev, int64_t create_rev);

/*
 * The end of the key range of a prefix (etcd's range_end): the smallest
 * string greater than every string that starts with prefix, i.e. prefix cut
 * after its last byte below 0xff, that byte incremented. A new string (free
 * it), or NULL when there is no bound (empty prefix or only 0xff bytes): the
 * range is open-ended.
 */
char *store_prefix_end(const char *prefix);

struct store_sqlite_options {
	/* Most writes committed in one transaction (0 = 256). */
	unsigned max_batch;
	/* false: synchronous=FULL (durable against power loss); true: NORMAL,
	 * for tests and benchmarks only. */
	bool no_fsync;
};

/*
 * Open (creating if needed) the SQLite store at path. 0 on success with
 * *out set; -errno with a message in err otherwise.
 */
int store_sqlite_open(const char *path, const struct store_sqlite_options *opts,
		      struct store **out, char *err, size_t errlen);

/* Counters of the SQLite backend, for tests and benchmarks. */
struct store_sqlite_stats {
	uint64_t writes;	 /* writes committed */
	uint64_t commits;	 /* transactions that committed writes: one fsync each */
	uint64_t max_batch;	 /* most writes committed by one transaction */
	uint64_t failed_batches; /* transactions that failed, every write in them -EIO */
	uint64_t compact_chunks; /* transactions run by compaction */
	uint64_t queued;	 /* writes waiting for the writer now (not a counter) */
};

/*
 * Copy the counters of s into *out. 0 on success, -EINVAL if s is not a
 * store opened by store_sqlite_open.
 */
int store_sqlite_stats(struct store *s, struct store_sqlite_stats *out);

#endif
