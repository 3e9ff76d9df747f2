/*
 * store_sqlite.c - the embedded SQLite backend of store.h.
 *
 * Table. Every write appends one row to kv, as kine does: the row's id is
 * the write's revision; created/deleted mark a create or a delete;
 * create_revision is the revision that created the key and prev_revision
 * the row this write replaced (0 for a create of a key that never existed,
 * the tombstone's id for a create after a delete). value holds the new
 * value, or for a delete the deleted value, so that a DELETE event and a
 * replay can carry it; old_value holds the value an update replaced, because
 * compaction may remove the row it came from while the update is still in
 * the replayable history. The current value of a key is its row with the
 * highest id, found through the (name, id) index, which also serves prefix
 * lists as a range (name >= prefix AND name < store_prefix_end(prefix)).
 * id is AUTOINCREMENT so that a revision is never handed out twice, even
 * when compaction has removed the newest rows (a delete's tombstone):
 * sqlite_sequence remembers the last revision, and each batch reads the
 * revision to continue from there (store_current_rev answers from a copy
 * the writer updates after each commit). meta holds the compacted revision
 * and the schema version.
 *
 * Group commit. One writer thread owns the only write connection. A
 * caller of create/update/delete enqueues an op and sleeps on its own
 * condition variable; the writer takes up to max_batch queued ops and runs
 * them in one BEGIN IMMEDIATE ... COMMIT, so one fsync (synchronous=FULL
 * in WAL mode syncs the log at each commit) makes the whole batch durable.
 * No timer gathers batches: ops that arrive while a commit is syncing form
 * the next batch, so a lone write pays no latency and a burst shares syncs.
 * After the commit the writer calls the event function for each written op
 * in revision order, then wakes the callers: events are durable and seen
 * before any caller returns. A failed COMMIT rolls back and fails every op
 * of the batch with -EIO; their revisions were never seen by anyone, so
 * the next batch reusing them keeps revisions strictly increasing.
 *
 * Compare-and-swap. Each op reads the key's latest row inside the batch's
 * transaction (seeing the batch's earlier ops) and checks existence and the
 * expected revision in C; a failed check fails that op alone (-EEXIST,
 * -ENOENT, -ESTALE) and the batch goes on. Because the writer is the only
 * writer, the check cannot race; UNIQUE(name, prev_revision) is the safety
 * net that would refuse two writes replacing the same row should another
 * process ever write to the file.
 *
 * Reads run on a pool of separate connections (WAL lets them read a
 * snapshot while the writer commits). A list is one read transaction, so
 * the revision it reports (sqlite_sequence in that snapshot) and every
 * value it returns belong to the same moment; events_since checks the
 * compacted revision inside its snapshot for the same reason.
 *
 * Compaction deletes the rows with id <= rev that a newer row of the same
 * key supersedes, and tombstones with id <= rev (the rows they deleted are
 * superseded by them). The current row of a live key stays whatever its
 * revision. It runs on the writer thread in transactions of at most
 * COMPACT_CHUNK_ROWS rows, in ascending id order, alternating with write
 * batches, so writers wait at most one chunk. The first chunk records the
 * new compacted revision in the same transaction as its deletions, so no
 * snapshot ever misses history above the compacted revision it reads.
 * Ascending order keeps an invariant even across a crash: a key's newest
 * row is removed only after all its older rows, so a later create of that
 * key never collides with a leftover row on (name, prev_revision).
 *
 * Rejected: a connection per writer with SQLite's own locking (every
 * writer would fsync alone, and busy-waiting on the lock is coarse);
 * assigning revisions from a counter in memory (a second source of truth
 * that a failed commit would have to rewind; reading sqlite_sequence at
 * the start of each batch costs one lookup); one DELETE for a whole
 * compaction (holds the write lock for as long as the history is long);
 * LIKE for prefixes (no index use for arbitrary bytes, needs escaping);
 * VACUUM after compaction (rewrites the whole file and blocks writers;
 * freed pages are reused anyway).
 *
 * The event function runs on the writer thread: it must be quick and must
 * not write to the store (the write would wait for its own thread) nor
 * call store_set_event_fn (which waits for deliveries to end).
 */
#include "control/store/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "util.h"

#define DEFAULT_MAX_BATCH 256
/* Rows examined by one compaction transaction: the longest a writer waits. */
#define COMPACT_CHUNK_ROWS 512
#define BUSY_TIMEOUT_MS 5000
/* Idle read connections kept open; more are opened under load, then closed. */
#define READERS_IDLE_MAX 8
#define SCHEMA_VERSION 1
/*
 * A row holds a value and the value it replaced; SQLite refuses records
 * above SQLITE_MAX_LENGTH (1e9 bytes by default), so values stay well
 * below half of it. Kubernetes objects are limited to about 1.5 MiB.
 */
#define MAX_VALUE_LEN ((size_t)256 << 20)

static const char schema_sql[] =
	"BEGIN IMMEDIATE;"
	"CREATE TABLE IF NOT EXISTS kv ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  deleted INTEGER NOT NULL,"
	"  create_revision INTEGER NOT NULL,"
	"  prev_revision INTEGER NOT NULL,"
	"  value BLOB,"
	"  old_value BLOB,"
	"  UNIQUE (name, prev_revision));"
	"CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id);"
	"CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)"
	"  WITHOUT ROWID;"
	"INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', 1);"
	"COMMIT;";

/* Statements, prepared on first use per connection and kept. */
enum stmt_id {
	ST_BEGIN,
	ST_BEGIN_IMMEDIATE,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_LAST_REV,
	ST_COMPACTED_REV,
	ST_SCHEMA_VERSION,
	ST_LATEST,
	ST_LIST_RANGE,
	ST_LIST_FROM,
	ST_EVENTS,
	ST_INSERT,
	ST_SET_COMPACTED,
	ST_COMPACT_END,
	ST_COMPACT_DELETE,
	ST_COUNT
};

/* The latest row of each key whose name is in the range, in name order. */
#define LIST_SQL(range)                                                             \
	"SELECT a.name, a.value, a.id, a.create_revision FROM kv AS a WHERE " range \
	" AND a.deleted = 0 AND NOT EXISTS (SELECT 1 FROM kv AS b"                  \
	" WHERE b.name = a.name AND b.id > a.id) ORDER BY a.name"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN",
	[ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_LAST_REV] = "SELECT seq FROM sqlite_sequence WHERE name = 'kv'",
	[ST_COMPACTED_REV] = "SELECT value FROM meta WHERE key = 'compacted_rev'",
	[ST_SCHEMA_VERSION] = "SELECT value FROM meta WHERE key = 'schema_version'",
	[ST_LATEST] = "SELECT id, deleted, create_revision, value FROM kv WHERE name = ?1"
		      " ORDER BY id DESC LIMIT 1",
	[ST_LIST_RANGE] = LIST_SQL("a.name >= ?1 AND a.name < ?2"),
	[ST_LIST_FROM] = LIST_SQL("a.name >= ?1"),
	[ST_EVENTS] = "SELECT id, name, created, deleted, create_revision, prev_revision,"
		      " value, old_value FROM kv WHERE id > ?1 ORDER BY id",
	[ST_INSERT] = "INSERT INTO kv (id, name, created, deleted, create_revision,"
		      " prev_revision, value, old_value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[ST_SET_COMPACTED] = "INSERT INTO meta (key, value) VALUES ('compacted_rev', ?1)"
			     " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	[ST_COMPACT_END] = "SELECT id FROM kv WHERE id > ?1 AND id <= ?2 ORDER BY id"
			   " LIMIT 1 OFFSET ?3",
	[ST_COMPACT_DELETE] = "DELETE FROM kv WHERE id > ?1 AND id <= ?2 AND (deleted = 1"
			      " OR EXISTS (SELECT 1 FROM kv AS n WHERE n.name = kv.name"
			      " AND n.id > kv.id))",
};

struct conn {
	sqlite3 *db;
	const char *path; /* for messages; owned by the store */
	bool quiet;	  /* opening: errors go to the caller's buffer, not the log */
	sqlite3_stmt *st[ST_COUNT];
};

struct reader {
	struct conn c;
	struct reader *next;
};

enum write_kind {
	WRITE_CREATE,
	WRITE_UPDATE,
	WRITE_DELETE,
};

/* One queued write; lives on the caller's stack until done. */
struct write_op {
	enum write_kind kind;
	struct store_kv kv; /* key and new value, copied by the caller; DELETE: key only */
	int64_t expect_rev;
	void *hint;	   /* passed through to the event */
	/* Results, written by the writer before it sets done under the lock. */
	int err;
	int64_t rev;
	struct store_kv prev; /* UPDATE/DELETE: the value replaced */
	bool done;
	pthread_cond_t cond;
	struct write_op *next;
};

struct compact_req {
	int64_t rev;
	int64_t cursor; /* rows with id <= cursor have been examined */
	bool recorded;	/* meta.compacted_rev == rev is committed */
	int err;
	bool done;
	pthread_cond_t cond;
};

struct sqlite_store {
	struct store base;
	char *path;
	unsigned max_batch;

	struct conn wc; /* the write connection: the writer thread's alone once it runs */
	pthread_t writer;

	pthread_mutex_t lock;	    /* guards the fields down to stats */
	pthread_cond_t writer_cond; /* queued work or stopping */
	pthread_cond_t idle_cond;   /* stopping and the last waiting caller left */
	struct write_op *head, *tail;
	struct compact_req *compact;
	unsigned waiting; /* callers inside writer_submit or sq_compact */
	bool stopping;
	struct store_sqlite_stats stats;

	/* Held while events are delivered, so set_event_fn waits for them. */
	pthread_mutex_t event_lock;
	store_event_fn event_fn;
	void *event_ctx;

	pthread_mutex_t compact_lock; /* one compaction at a time */

	pthread_mutex_t readers_lock;
	struct reader *idle;
	unsigned nidle;

	_Atomic int64_t current_rev;
	_Atomic int64_t compacted_rev;
};

static const struct store_ops sqlite_ops;

static struct sqlite_store *to_sqlite(struct store *s)
{
	return container_of(s, struct sqlite_store, base);
}

/* ---------------------------------------------------------------- connections */

/* Log a storage error once, with SQLite's message; the callers return -EIO. */
static int conn_fail(struct conn *c, const char *what)
{
	if (!c->quiet)
		log_error("store %s: %s: %s", c->path, what, sqlite3_errmsg(c->db));
	return -EIO;
}

static sqlite3_stmt *conn_stmt(struct conn *c, enum stmt_id id)
{
	if (!c->st[id] && sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					     &c->st[id], NULL) != SQLITE_OK) {
		conn_fail(c, "prepare");
		c->st[id] = NULL;
	}
	return c->st[id];
}

/*
 * The statement for the next step of a sequence, unless an earlier step
 * failed (*err set): NULL then, or when it cannot be prepared (*err = -EIO).
 */
static sqlite3_stmt *conn_next_stmt(struct conn *c, enum stmt_id id, int *err)
{
	sqlite3_stmt *st = *err ? NULL : conn_stmt(c, id);

	if (!st && !*err)
		*err = -EIO;
	return st;
}

/* Run a statement without parameters or results (BEGIN, COMMIT, ...). */
static int conn_exec(struct conn *c, enum stmt_id id)
{
	sqlite3_stmt *st = conn_stmt(c, id);
	int err = 0;

	if (!st)
		return -EIO;
	if (sqlite3_step(st) != SQLITE_DONE)
		err = conn_fail(c, stmt_sql[id]);
	sqlite3_reset(st);
	return err;
}

/* One integer from a statement without parameters; 0 when it has no row. */
static int conn_query_int(struct conn *c, enum stmt_id id, int64_t *out)
{
	sqlite3_stmt *st = conn_stmt(c, id);
	int rc, err = 0;

	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		*out = 0;
	else
		err = conn_fail(c, stmt_sql[id]);
	sqlite3_reset(st);
	return err;
}

/* End the transaction: commit when err is 0, else roll back; returns the outcome. */
static int conn_end(struct conn *c, int err)
{
	if (!err)
		err = conn_exec(c, ST_COMMIT);
	if (err && !sqlite3_get_autocommit(c->db))
		conn_exec(c, ST_ROLLBACK);
	return err;
}

static void conn_close(struct conn *c)
{
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(c->st[i]);
	sqlite3_close(c->db);
	memset(c->st, 0, sizeof(c->st));
	c->db = NULL;
}

/* A CANTOPEN usually has an OS reason worth returning (ENOENT, EACCES). */
static int open_errno(sqlite3 *db, int rc)
{
	int sys = db ? sqlite3_system_errno(db) : 0;

	if ((rc & 0xff) == SQLITE_CANTOPEN && sys > 0)
		return -sys;
	if ((rc & 0xff) == SQLITE_NOMEM)
		return -ENOMEM;
	return -EIO;
}

static int conn_open(struct conn *c, const char *path, int flags, char *err, size_t errlen)
{
	int rc;

	c->path = path;
	rc = sqlite3_open_v2(path, &c->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		int ret = open_errno(c->db, rc);

		snprintf(err, errlen, "%s: %s", path,
			 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		sqlite3_close(c->db);
		c->db = NULL;
		return ret;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	return 0;
}

static int conn_exec_sql(struct conn *c, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);

	if (rc == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s: %s", c->path, msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	return -EIO;
}

/* ---------------------------------------------------------------- readers */

static int reader_get(struct sqlite_store *s, struct reader **out)
{
	struct reader *r;
	char msg[256];
	int err;

	pthread_mutex_lock(&s->readers_lock);
	r = s->idle;
	if (r) {
		s->idle = r->next;
		s->nidle--;
	}
	pthread_mutex_unlock(&s->readers_lock);
	if (r) {
		*out = r;
		return 0;
	}
	r = xcalloc(1, sizeof(*r));
	err = conn_open(&r->c, s->path, SQLITE_OPEN_READWRITE, msg, sizeof(msg));
	/* Read connections never write, whatever a bug might ask of them. */
	if (!err)
		err = conn_exec_sql(&r->c, "PRAGMA query_only = 1", msg, sizeof(msg));
	if (err) {
		log_error("store: opening a read connection: %s", msg);
		conn_close(&r->c);
		free(r);
		return -EIO;
	}
	*out = r;
	return 0;
}

static void reader_put(struct sqlite_store *s, struct reader *r)
{
	/* A connection left inside a transaction would pin an old snapshot. */
	bool reuse = sqlite3_get_autocommit(r->c.db);

	pthread_mutex_lock(&s->readers_lock);
	if (reuse && s->nidle < READERS_IDLE_MAX) {
		r->next = s->idle;
		s->idle = r;
		s->nidle++;
		r = NULL;
	}
	pthread_mutex_unlock(&s->readers_lock);
	if (r) {
		conn_close(&r->c);
		free(r);
	}
}

/* A reader inside a read transaction: everything it reads is one snapshot. */
static int read_begin(struct sqlite_store *s, struct reader **out)
{
	struct reader *r;
	int err = reader_get(s, &r);

	if (err)
		return err;
	err = conn_exec(&r->c, ST_BEGIN);
	if (err) {
		reader_put(s, r);
		return err;
	}
	*out = r;
	return 0;
}

/* End read_begin's transaction and return the reader to the pool. */
static int read_end(struct sqlite_store *s, struct reader *r, int err)
{
	err = conn_end(&r->c, err);
	reader_put(s, r);
	return err;
}

/* ---------------------------------------------------------------- reads */

/* SQLite memory as a store_kv for a callback: valid until the next step. */
static struct store_kv column_kv(sqlite3_stmt *st, const char *key, int value_col, int64_t mod_rev,
				 int64_t create_rev)
{
	/* column_text (not _blob) so the bytes are NUL-terminated as store_kv promises. */
	const char *value = (const char *)sqlite3_column_text(st, value_col);

	return (struct store_kv){
		.key = (char *)key,
		.value = (char *)(value ? value : ""),
		.len = (size_t)sqlite3_column_bytes(st, value_col),
		.mod_rev = mod_rev,
		.create_rev = create_rev,
	};
}

static int sq_get(struct store *base, const char *key, struct store_kv *out)
{
	struct sqlite_store *s = to_sqlite(base);
	struct reader *r;
	sqlite3_stmt *st;
	int rc, err;

	if (!store_key_is_valid(key) || !out)
		return -EINVAL;
	err = reader_get(s, &r);
	if (err)
		return err;
	st = conn_stmt(&r->c, ST_LATEST);
	if (!st) {
		err = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && !sqlite3_column_int(st, 1)) {
		struct store_kv kv = column_kv(st, key, 3, sqlite3_column_int64(st, 0),
					       sqlite3_column_int64(st, 2));

		store_kv_fill(out, key, kv.value, kv.len, kv.mod_rev, kv.create_rev);
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		err = -ENOENT;
	} else {
		err = conn_fail(&r->c, "get");
	}
	sqlite3_reset(st);
out:
	reader_put(s, r);
	return err;
}

static int sq_list(struct store *base, const char *prefix, int64_t *rev, store_kv_fn fn, void *ctx)
{
	struct sqlite_store *s = to_sqlite(base);
	char *end = NULL;
	struct reader *r;
	sqlite3_stmt *st;
	int64_t snap_rev = 0;
	int rc, err;

	if (!prefix || !fn)
		return -EINVAL;
	end = store_prefix_end(prefix);
	/* The revision and the rows come from one snapshot. */
	err = read_begin(s, &r);
	if (err)
		goto out;
	err = conn_query_int(&r->c, ST_LAST_REV, &snap_rev);
	st = conn_next_stmt(&r->c, end ? ST_LIST_RANGE : ST_LIST_FROM, &err);
	if (st) {
		sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
		if (end)
			sqlite3_bind_text(st, 2, end, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			struct store_kv kv =
				column_kv(st, (const char *)sqlite3_column_text(st, 0), 1,
					  sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3));

			if (fn(ctx, &kv))
				break;
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			err = conn_fail(&r->c, "list");
		sqlite3_reset(st);
	}
	err = read_end(s, r, err);
	if (!err && rev)
		*rev = snap_rev;
out:
	free(end);
	return err;
}

/* The event a kv row describes (see the table at the top). */
static struct store_event row_event(sqlite3_stmt *st)
{
	const char *name = (const char *)sqlite3_column_text(st, 1);
	int64_t id = sqlite3_column_int64(st, 0);
	int64_t create_rev = sqlite3_column_int64(st, 4);
	int64_t prev_rev = sqlite3_column_int64(st, 5);
	struct store_event ev = { .rev = id };

	ev.kv = column_kv(st, name, 6, id, create_rev);
	if (sqlite3_column_int(st, 3)) {
		ev.type = STORE_EV_DELETE;
		ev.prev = ev.kv;
		ev.prev.mod_rev = prev_rev;
	} else if (sqlite3_column_int(st, 2)) {
		ev.type = STORE_EV_CREATE;
	} else {
		ev.type = STORE_EV_UPDATE;
		ev.prev = column_kv(st, name, 7, prev_rev, create_rev);
	}
	return ev;
}

static int sq_events_since(struct store *base, int64_t after_rev, store_event_fn fn, void *ctx)
{
	struct sqlite_store *s = to_sqlite(base);
	struct reader *r;
	sqlite3_stmt *st;
	int64_t compacted;
	int rc, err;

	if (after_rev < 0 || !fn)
		return -EINVAL;
	err = read_begin(s, &r);
	if (err)
		return err;
	/*
	 * Compaction could run between a check outside the snapshot and the
	 * read; inside it, either the history is all there or the check fails.
	 */
	err = conn_query_int(&r->c, ST_COMPACTED_REV, &compacted);
	if (!err && after_rev < compacted)
		err = -ESTALE;
	st = conn_next_stmt(&r->c, ST_EVENTS, &err);
	if (st) {
		sqlite3_bind_int64(st, 1, after_rev);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			struct store_event ev = row_event(st);

			fn(ctx, &ev);
		}
		if (rc != SQLITE_DONE)
			err = conn_fail(&r->c, "events");
		sqlite3_reset(st);
	}
	return read_end(s, r, err);
}

static int64_t sq_current_rev(struct store *base)
{
	return atomic_load(&to_sqlite(base)->current_rev);
}

static int64_t sq_compacted_rev(struct store *base)
{
	return atomic_load(&to_sqlite(base)->compacted_rev);
}

/* ---------------------------------------------------------------- writer */

static int bind_value(sqlite3_stmt *st, int col, const void *value, size_t len)
{
	/* A NULL pointer would bind SQL NULL; an empty value is a zero-length blob. */
	return sqlite3_bind_blob64(st, col, value ? value : "", len, SQLITE_STATIC);
}

/*
 * Apply op as revision rev inside the batch's transaction. 0 with op->err
 * set to the op's own outcome; -EIO when the batch must fail.
 */
static int writer_apply(struct sqlite_store *s, struct write_op *op, int64_t rev)
{
	struct conn *c = &s->wc;
	sqlite3_stmt *latest = conn_stmt(c, ST_LATEST), *ins = conn_stmt(c, ST_INSERT);
	int64_t latest_id = 0, create_rev = rev;
	bool live = false;
	const struct store_kv *val = &op->kv;
	int rc;

	if (!latest || !ins)
		return -EIO;
	sqlite3_bind_text(latest, 1, op->kv.key, -1, SQLITE_STATIC);
	rc = sqlite3_step(latest);
	if (rc == SQLITE_ROW) {
		latest_id = sqlite3_column_int64(latest, 0);
		live = !sqlite3_column_int(latest, 1);
		if (live && op->kind != WRITE_CREATE) {
			struct store_kv kv = column_kv(latest, op->kv.key, 3, latest_id,
						       sqlite3_column_int64(latest, 2));

			store_kv_fill(&op->prev, kv.key, kv.value, kv.len, kv.mod_rev,
				      kv.create_rev);
		}
	} else if (rc != SQLITE_DONE) {
		rc = conn_fail(c, "reading the latest row");
		sqlite3_reset(latest);
		return rc;
	}
	sqlite3_reset(latest);

	if (op->kind == WRITE_CREATE && live)
		op->err = -EEXIST;
	else if (op->kind != WRITE_CREATE && !live)
		op->err = -ENOENT;
	else if (op->kind != WRITE_CREATE && op->expect_rev && op->expect_rev != latest_id)
		op->err = -ESTALE;
	else
		op->err = 0;
	if (op->err) {
		store_kv_free(&op->prev);
		return 0;
	}
	if (op->kind != WRITE_CREATE)
		create_rev = op->prev.create_rev;
	if (op->kind == WRITE_DELETE)
		val = &op->prev;

	sqlite3_bind_int64(ins, 1, rev);
	sqlite3_bind_text(ins, 2, op->kv.key, -1, SQLITE_STATIC);
	sqlite3_bind_int(ins, 3, op->kind == WRITE_CREATE);
	sqlite3_bind_int(ins, 4, op->kind == WRITE_DELETE);
	sqlite3_bind_int64(ins, 5, create_rev);
	sqlite3_bind_int64(ins, 6, latest_id);
	rc = bind_value(ins, 7, val->value, val->len);
	if (rc == SQLITE_OK && op->kind == WRITE_UPDATE)
		rc = bind_value(ins, 8, op->prev.value, op->prev.len);
	else if (rc == SQLITE_OK)
		rc = sqlite3_bind_null(ins, 8);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(ins);
	if (rc == SQLITE_DONE) {
		op->rev = rev;
		op->kv.mod_rev = rev;
		op->kv.create_rev = create_rev;
	} else if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		/* Only another process writing the file could get here: a conflict. */
		log_warn("store %s: %s: %s", c->path, op->kv.key, sqlite3_errmsg(c->db));
		op->err = op->kind == WRITE_CREATE ? -EEXIST : -ESTALE;
		store_kv_free(&op->prev);
	} else {
		rc = conn_fail(c, "insert");
		sqlite3_reset(ins);
		return rc;
	}
	sqlite3_reset(ins);
	return 0;
}

static void writer_emit_events(struct sqlite_store *s, struct write_op *batch)
{
	pthread_mutex_lock(&s->event_lock);
	for (struct write_op *op = batch; s->event_fn && op; op = op->next) {
		struct store_event ev = { .rev = op->rev, .kv = op->kv, .prev = op->prev,
					  .hint = op->hint };

		if (op->err)
			continue;
		if (op->kind == WRITE_CREATE) {
			ev.type = STORE_EV_CREATE;
		} else if (op->kind == WRITE_UPDATE) {
			ev.type = STORE_EV_UPDATE;
		} else {
			/* A DELETED event carries the last value at the deletion's revision. */
			ev.type = STORE_EV_DELETE;
			ev.hint = NULL;
			ev.kv = op->prev;
			ev.kv.mod_rev = op->rev;
		}
		s->event_fn(s->event_ctx, &ev);
	}
	pthread_mutex_unlock(&s->event_lock);
}

/*
 * Run one batch in one transaction. 0 with *written set to the number of
 * writes committed, or -EIO when the batch failed (every op then -EIO).
 */
static int writer_run_batch(struct sqlite_store *s, struct write_op *batch, unsigned *written)
{
	struct conn *c = &s->wc;
	int64_t rev = 0;
	int err;

	*written = 0;

	err = conn_exec(c, ST_BEGIN_IMMEDIATE);
	if (!err)
		err = conn_query_int(c, ST_LAST_REV, &rev);
	for (struct write_op *op = batch; !err && op; op = op->next) {
		err = writer_apply(s, op, rev + 1);
		if (!err && !op->err) {
			rev++;
			(*written)++;
		}
	}
	/* This COMMIT is the batch's one fsync. */
	err = conn_end(c, err);
	if (err) {
		/* Earlier ops' checks saw rows that are now rolled back: fail all. */
		for (struct write_op *op = batch; op; op = op->next)
			op->err = -EIO;
		*written = 0;
		return err;
	}
	if (*written) {
		atomic_store(&s->current_rev, rev);
		writer_emit_events(s, batch);
	}
	return 0;
}

/*
 * One transaction of compaction: at most COMPACT_CHUNK_ROWS rows after
 * req->cursor. Returns true when the request is finished (req->err set).
 */
static bool compact_step(struct sqlite_store *s, struct compact_req *req)
{
	struct conn *c = &s->wc;
	int64_t end = req->rev, compacted = 0;
	sqlite3_stmt *st;
	int rc, err;

	err = conn_exec(c, ST_BEGIN_IMMEDIATE);
	if (!err && !req->recorded) {
		err = conn_query_int(c, ST_COMPACTED_REV, &compacted);
		if (!err && compacted >= req->rev) {
			/* A concurrent caller got there first: nothing to do. */
			req->err = conn_end(c, 0);
			return true;
		}
		st = conn_next_stmt(c, ST_SET_COMPACTED, &err);
		if (st) {
			sqlite3_bind_int64(st, 1, req->rev);
			if (sqlite3_step(st) != SQLITE_DONE)
				err = conn_fail(c, "recording the compacted revision");
			sqlite3_reset(st);
		}
	}
	/* This chunk ends at the COMPACT_CHUNK_ROWS-th row after the cursor. */
	st = conn_next_stmt(c, ST_COMPACT_END, &err);
	if (st) {
		sqlite3_bind_int64(st, 1, req->cursor);
		sqlite3_bind_int64(st, 2, req->rev);
		sqlite3_bind_int64(st, 3, COMPACT_CHUNK_ROWS - 1);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			end = sqlite3_column_int64(st, 0);
		else if (rc != SQLITE_DONE)
			err = conn_fail(c, "compaction range");
		sqlite3_reset(st);
	}
	st = conn_next_stmt(c, ST_COMPACT_DELETE, &err);
	if (st) {
		sqlite3_bind_int64(st, 1, req->cursor);
		sqlite3_bind_int64(st, 2, end);
		if (sqlite3_step(st) != SQLITE_DONE)
			err = conn_fail(c, "compaction");
		sqlite3_reset(st);
	}
	err = conn_end(c, err);
	if (err) {
		/*
		 * Chunks already committed stay done and the compacted revision
		 * stays recorded: history <= rev is partly gone either way.
		 */
		req->err = err;
		return true;
	}
	if (!req->recorded) {
		req->recorded = true;
		atomic_store(&s->compacted_rev, req->rev);
	}
	req->cursor = end;
	req->err = 0;
	return end >= req->rev;
}

static void *writer_main(void *arg)
{
	struct sqlite_store *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct write_op *batch, *op, *last = NULL, *next;
		struct compact_req *req;
		unsigned n = 0, written = 0;
		bool compact_done = false;
		int err = 0;

		while (!s->head && !s->compact && !s->stopping)
			pthread_cond_wait(&s->writer_cond, &s->lock);
		/* Stopping: leave only once the queued writes are done. */
		if (!s->head && !s->compact)
			break;
		batch = s->head;
		for (op = batch; op && n < s->max_batch; op = op->next, n++)
			last = op;
		if (last) {
			s->head = last->next;
			if (!s->head)
				s->tail = NULL;
			last->next = NULL;
			s->stats.queued -= n;
		}
		req = s->compact;
		pthread_mutex_unlock(&s->lock);

		/* Compaction advances one chunk per batch: writers wait one chunk at most. */
		if (batch)
			err = writer_run_batch(s, batch, &written);
		if (req)
			compact_done = compact_step(s, req);

		pthread_mutex_lock(&s->lock);
		if (err)
			s->stats.failed_batches++;
		if (written) {
			s->stats.writes += written;
			s->stats.commits++;
			s->stats.max_batch = MAX(s->stats.max_batch, written);
		}
		if (req)
			s->stats.compact_chunks++;
		/* The callers own the ops again as soon as we unlock: touch nothing after. */
		for (op = batch; op; op = next) {
			next = op->next;
			op->done = true;
			pthread_cond_signal(&op->cond);
		}
		if (compact_done) {
			req->done = true;
			s->compact = NULL;
			pthread_cond_signal(&req->cond);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/*
 * A caller starts waiting for the writer (under s->lock); false when the
 * store is closing. store_close frees s only once every waiter has left.
 */
static bool waiter_enter(struct sqlite_store *s)
{
	if (s->stopping)
		return false;
	s->waiting++;
	return true;
}

/* Under s->lock, the last thing a waiter does with s before unlocking. */
static void waiter_leave(struct sqlite_store *s)
{
	if (--s->waiting == 0 && s->stopping)
		pthread_cond_signal(&s->idle_cond);
}

/* Queue op for the writer and wait for its result. */
static int writer_submit(struct sqlite_store *s, struct write_op *op)
{
	int err = -ESHUTDOWN;

	pthread_cond_init(&op->cond, NULL);
	pthread_mutex_lock(&s->lock);
	if (waiter_enter(s)) {
		op->next = NULL;
		if (s->tail)
			s->tail->next = op;
		else
			s->head = op;
		s->tail = op;
		s->stats.queued++;
		pthread_cond_signal(&s->writer_cond);
		while (!op->done)
			pthread_cond_wait(&op->cond, &s->lock);
		err = op->err;
		waiter_leave(s);
	}
	pthread_mutex_unlock(&s->lock);
	pthread_cond_destroy(&op->cond);
	return err;
}

static int sq_write(struct store *base, enum write_kind kind, const char *key, int64_t expect_rev,
		    const void *value, size_t len, void *hint, int64_t *rev, struct store_kv *prev)
{
	struct write_op op = { .kind = kind, .expect_rev = expect_rev, .hint = hint };
	int err;

	if (!store_key_is_valid(key) || expect_rev < 0 || (!value && len))
		return -EINVAL;
	if (len > MAX_VALUE_LEN)
		return -E2BIG;
	/* Copied here, in the caller's thread, to keep the writer's work short. */
	store_kv_fill(&op.kv, key, value, len, 0, 0);
	err = writer_submit(to_sqlite(base), &op);
	if (!err && rev)
		*rev = op.rev;
	if (!err && prev) {
		*prev = op.prev;
		memset(&op.prev, 0, sizeof(op.prev));
	}
	store_kv_free(&op.kv);
	store_kv_free(&op.prev);
	return err;
}

static int sq_create(struct store *base, const char *key, const void *value, size_t len,
		     void *hint, int64_t *rev)
{
	return sq_write(base, WRITE_CREATE, key, 0, value, len, hint, rev, NULL);
}

static int sq_update(struct store *base, const char *key, int64_t expect_rev, const void *value,
		     size_t len, void *hint, int64_t *rev)
{
	return sq_write(base, WRITE_UPDATE, key, expect_rev, value, len, hint, rev, NULL);
}

static int sq_del(struct store *base, const char *key, int64_t expect_rev, int64_t *rev,
		  struct store_kv *prev)
{
	return sq_write(base, WRITE_DELETE, key, expect_rev, NULL, 0, NULL, rev, prev);
}

static int sq_compact(struct store *base, int64_t rev)
{
	struct sqlite_store *s = to_sqlite(base);
	struct compact_req req = { .rev = rev };
	int err;

	if (rev < 0 || rev > atomic_load(&s->current_rev))
		return -EINVAL;
	if (rev <= atomic_load(&s->compacted_rev))
		return 0;
	pthread_mutex_lock(&s->compact_lock);
	pthread_cond_init(&req.cond, NULL);
	pthread_mutex_lock(&s->lock);
	if (waiter_enter(s)) {
		s->compact = &req;
		pthread_cond_signal(&s->writer_cond);
		while (!req.done)
			pthread_cond_wait(&req.cond, &s->lock);
		err = req.err;
		waiter_leave(s);
	} else {
		err = -ESHUTDOWN;
	}
	pthread_mutex_unlock(&s->lock);
	pthread_cond_destroy(&req.cond);
	pthread_mutex_unlock(&s->compact_lock);
	return err;
}

static void sq_set_event_fn(struct store *base, store_event_fn fn, void *ctx)
{
	struct sqlite_store *s = to_sqlite(base);

	/* Waits for a delivery in progress: the old fn is not called after this. */
	pthread_mutex_lock(&s->event_lock);
	s->event_fn = fn;
	s->event_ctx = ctx;
	pthread_mutex_unlock(&s->event_lock);
}

/* ---------------------------------------------------------------- open, close */

static void sqlite_store_free(struct sqlite_store *s)
{
	while (s->idle) {
		struct reader *r = s->idle;

		s->idle = r->next;
		conn_close(&r->c);
		free(r);
	}
	/* The last connection to close checkpoints the WAL into the file. */
	conn_close(&s->wc);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->writer_cond);
	pthread_cond_destroy(&s->idle_cond);
	pthread_mutex_destroy(&s->event_lock);
	pthread_mutex_destroy(&s->compact_lock);
	pthread_mutex_destroy(&s->readers_lock);
	free(s->path);
	free(s);
}

static void sq_close(struct store *base)
{
	struct sqlite_store *s = to_sqlite(base);

	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_signal(&s->writer_cond);
	pthread_mutex_unlock(&s->lock);
	/* The writer drains the queue before it ends ... */
	pthread_join(s->writer, NULL);
	/* ... and its callers, woken, still need s->lock to leave. */
	pthread_mutex_lock(&s->lock);
	while (s->waiting)
		pthread_cond_wait(&s->idle_cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
	sqlite_store_free(s);
}

/* Pragmas, schema, and the revisions to start from, on the write connection. */
static int sqlite_store_init(struct sqlite_store *s, bool no_fsync, char *err, size_t errlen)
{
	struct conn *c = &s->wc;
	sqlite3_stmt *st = NULL;
	const char *mode;
	int64_t version = 0, rev = 0, compacted = 0;
	int ret;

	/* journal_mode answers with the mode it got (a file system may refuse WAL). */
	ret = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (ret == SQLITE_OK)
		ret = sqlite3_step(st);
	if (ret != SQLITE_ROW) {
		snprintf(err, errlen, "%s: %s", s->path, sqlite3_errmsg(c->db));
		sqlite3_finalize(st);
		return -EIO;
	}
	mode = (const char *)sqlite3_column_text(st, 0);
	if (!mode || strcmp(mode, "wal") != 0) {
		snprintf(err, errlen, "%s: cannot use WAL journal mode (got %s)", s->path,
			 mode ? mode : "nothing");
		sqlite3_finalize(st);
		return -EIO;
	}
	sqlite3_finalize(st);
	ret = conn_exec_sql(c,
			    no_fsync ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL",
			    err, errlen);
	if (!ret)
		ret = conn_exec_sql(c, schema_sql, err, errlen);
	if (ret)
		return ret;
	if (conn_query_int(c, ST_SCHEMA_VERSION, &version) ||
	    conn_query_int(c, ST_LAST_REV, &rev) ||
	    conn_query_int(c, ST_COMPACTED_REV, &compacted)) {
		snprintf(err, errlen, "%s: %s", s->path, sqlite3_errmsg(c->db));
		return -EIO;
	}
	if (version != SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: schema version %lld, this build knows %d", s->path,
			 (long long)version, SCHEMA_VERSION);
		return -ENOTSUP;
	}
	atomic_store(&s->current_rev, rev);
	atomic_store(&s->compacted_rev, compacted);
	return 0;
}

int store_sqlite_open(const char *path, const struct store_sqlite_options *opts, struct store **out,
		      char *err, size_t errlen)
{
	static const struct store_sqlite_options defaults;
	struct sqlite_store *s;
	int ret;

	if (!path || !*path || !out) {
		snprintf(err, errlen, "store: no database path");
		return -EINVAL;
	}
	if (!opts)
		opts = &defaults;
	if (!sqlite3_threadsafe()) {
		snprintf(err, errlen, "store: SQLite was built without thread support");
		return -ENOTSUP;
	}
	s = xcalloc(1, sizeof(*s));
	s->base.ops = &sqlite_ops;
	s->path = xstrdup(path);
	s->max_batch = opts->max_batch ? opts->max_batch : DEFAULT_MAX_BATCH;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->writer_cond, NULL);
	pthread_cond_init(&s->idle_cond, NULL);
	pthread_mutex_init(&s->event_lock, NULL);
	pthread_mutex_init(&s->compact_lock, NULL);
	pthread_mutex_init(&s->readers_lock, NULL);

	ret = conn_open(&s->wc, s->path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err, errlen);
	if (!ret) {
		s->wc.quiet = true;
		ret = sqlite_store_init(s, opts->no_fsync, err, errlen);
		s->wc.quiet = false;
	}
	if (!ret) {
		ret = -pthread_create(&s->writer, NULL, writer_main, s);
		if (ret)
			snprintf(err, errlen, "store: writer thread: %s", strerror(-ret));
	}
	if (ret) {
		sqlite_store_free(s);
		return ret;
	}
	*out = &s->base;
	return 0;
}

int store_sqlite_stats(struct store *base, struct store_sqlite_stats *out)
{
	struct sqlite_store *s;

	if (!base || base->ops != &sqlite_ops || !out)
		return -EINVAL;
	s = to_sqlite(base);
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static const struct store_ops sqlite_ops = {
	.get = sq_get,
	.list = sq_list,
	.create = sq_create,
	.update = sq_update,
	.del = sq_del,
	.events_since = sq_events_since,
	.current_rev = sq_current_rev,
	.compacted_rev = sq_compacted_rev,
	.compact = sq_compact,
	.set_event_fn = sq_set_event_fn,
	.close = sq_close,
};
