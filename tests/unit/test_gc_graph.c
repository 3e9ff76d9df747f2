/*
 * Unit tests for the garbage collector's graph and decisions
 * (control/controllers/gc_graph) against a fake API: background cascade,
 * foreground with blockOwnerDeletion, recursive foreground, orphaning,
 * dangling references, informer lag, solid owners, unknown kinds.
 */
#include "test.h"

#include <stdlib.h>

#include "control/controllers/gc_graph.h"
#include "jsonx.h"
#include "util.h"

/* The fake API server: objects by "kind/ns/name", plus a log of the writes. */
struct fake {
	struct gc_graph *g; /* the graph under test */
	json_t *objs;
	json_t *queued; /* "D:uid" / "O:uid" in order */
	struct buf log;
	int gets;
	int fail_gets; /* next N GETs fail with -EIO */
};

static struct fake F;

static void fake_init(void)
{
	F.objs = json_object();
	F.queued = json_array();
	memset(&F.log, 0, sizeof(F.log));
	F.gets = F.fail_gets = 0;
}

static void fake_fini(void)
{
	gc_graph_free(F.g);
	json_decref(F.objs);
	json_decref(F.queued);
	buf_free(&F.log);
	memset(&F, 0, sizeof(F));
}

static void on_queue(void *ctx, enum gc_queue q, const char *uid);

/* A fresh fake API and graph (ending the previous ones), released at the end of the test. */
static struct gc_graph *start(void)
{
	static bool deferred;

	if (!deferred)
		test_defer(fake_fini);
	deferred = true;
	fake_fini();
	fake_init();
	F.g = gc_graph_new(on_queue, NULL);
	return F.g;
}

/* Test objects live until the end of the test. */
static json_t *pool;

static void pool_free(void)
{
	json_decref(pool);
	pool = NULL;
}

static void on_queue(void *ctx, enum gc_queue q, const char *uid)
{
	(void)ctx;
	json_array_append_new(F.queued,
			      json_sprintf("%s:%s", q == GC_QUEUE_DELETE ? "D" : "O", uid));
}

static bool queued(const char *what)
{
	json_t *v;
	size_t i;

	json_array_foreach(F.queued, i, v)
		if (strcmp(json_string_value(v), what) == 0)
			return true;
	return false;
}

static char *key_of(const char *kind, const char *ns, const char *name)
{
	/* Nodes and namespaces are cluster-scoped. */
	if (strcmp(kind, "Node") == 0 || strcmp(kind, "Namespace") == 0)
		ns = "";
	return xasprintf("%s/%s/%s", kind, ns, name);
}

static int fake_get(void *ctx, const char *av, const char *kind, const char *ns, const char *name,
		    json_t **out)
{
	char *k;
	json_t *o;

	(void)ctx;
	(void)av;
	F.gets++;
	if (F.fail_gets > 0) {
		F.fail_gets--;
		return -EIO;
	}
	if (strcmp(kind, "Widget") == 0)
		return -EOPNOTSUPP;
	k = key_of(kind, ns, name);
	o = json_object_get(F.objs, k);
	free(k);
	if (!o)
		return -ENOENT;
	*out = json_deep_copy(o);
	return 0;
}

static int fake_remove(void *ctx, const struct gc_ident *id, const char *policy)
{
	char *k = key_of(id->kind, id->ns, id->name);
	json_t *o = json_object_get(F.objs, k);

	(void)ctx;
	if (o && strcmp(jsonx_path_str(o, "metadata.uid", ""), id->uid) == 0) {
		buf_appendf(&F.log, "delete %s %s;", id->name, policy);
		json_object_del(F.objs, k);
	}
	free(k);
	return 0;
}

static json_t *stored(const json_t *obj)
{
	char *k = key_of(jsonx_str(obj, "kind", ""), jsonx_path_str(obj, "metadata.namespace", ""),
			 jsonx_path_str(obj, "metadata.name", ""));
	json_t *o = json_object_get(F.objs, k);

	free(k);
	return o;
}

static int fake_set_refs(void *ctx, const json_t *obj, const json_t *refs)
{
	json_t *o = stored(obj);

	(void)ctx;
	if (!o)
		return -ENOENT;
	buf_appendf(&F.log, "refs %s %zu;", jsonx_path_str(obj, "metadata.name", ""),
		    json_array_size(refs));
	json_object_set_new(json_object_get(o, "metadata"), "ownerReferences",
			    json_deep_copy(refs));
	return 0;
}

static int fake_remove_finalizer(void *ctx, const json_t *obj, const char *f)
{
	json_t *o = stored(obj), *fin, *keep = json_array(), *v;
	size_t i;

	(void)ctx;
	if (!o) {
		json_decref(keep);
		return -ENOENT;
	}
	buf_appendf(&F.log, "unfinalize %s %s;", jsonx_path_str(obj, "metadata.name", ""), f);
	fin = jsonx_get_path(o, "metadata.finalizers");
	json_array_foreach(fin, i, v)
		if (strcmp(json_string_value(v), f) != 0)
			json_array_append(keep, v);
	json_object_set_new(json_object_get(o, "metadata"), "finalizers", keep);
	return 0;
}

static const struct gc_ops ops = {
	.get = fake_get,
	.remove = fake_remove,
	.set_owner_refs = fake_set_refs,
	.remove_finalizer = fake_remove_finalizer,
};

static json_t *obj(const char *kind, const char *name, const char *uid)
{
	const char *av = strcmp(kind, "ReplicaSet") == 0 || strcmp(kind, "Deployment") == 0
				 ? "apps/v1"
				 : "v1";

	json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:[]}}", "apiVersion", av, "kind", kind,
			      "metadata", "name", name, "namespace", "ns", "uid", uid,
			      "ownerReferences");

	if (!pool) {
		pool = json_array();
		test_defer(pool_free);
	}
	json_array_append_new(pool, o);
	return o;
}

static void own(json_t *dep, const json_t *owner, bool block)
{
	json_array_append_new(jsonx_get_path(dep, "metadata.ownerReferences"),
			      json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "apiVersion",
					jsonx_str(owner, "apiVersion", ""), "kind",
					jsonx_str(owner, "kind", ""), "name",
					jsonx_path_str(owner, "metadata.name", ""), "uid",
					jsonx_path_str(owner, "metadata.uid", ""), "controller", 1,
					"blockOwnerDeletion", block));
}

/* Store obj in the fake API and show it to the graph. */
static void put(struct gc_graph *g, const json_t *o)
{
	char *k = key_of(jsonx_str(o, "kind", ""), jsonx_path_str(o, "metadata.namespace", ""),
			 jsonx_path_str(o, "metadata.name", ""));

	json_object_set_new(F.objs, k, json_deep_copy(o));
	free(k);
	gc_graph_observe(g, jsonx_str(o, "apiVersion", ""), jsonx_str(o, "kind", ""), o);
}

/* The object vanished from the API; the informer says so. */
static void gone(struct gc_graph *g, const json_t *o)
{
	json_t *s = stored(o);

	if (s) {
		char *k = key_of(jsonx_str(o, "kind", ""),
				 jsonx_path_str(o, "metadata.namespace", ""),
				 jsonx_path_str(o, "metadata.name", ""));

		json_object_del(F.objs, k);
		free(k);
	}
	gc_graph_remove(g, o);
}

static void mark_deleting(json_t *o, const char *finalizer)
{
	json_object_set_new(json_object_get(o, "metadata"), "deletionTimestamp",
			    json_string("2026-01-01T00:00:00Z"));
	json_object_set_new(json_object_get(o, "metadata"), "finalizers",
			    json_pack("[s]", finalizer));
}

static bool logged(const char *what)
{
	return F.log.data && strstr(F.log.data, what);
}

TEST(gc_background_owner_gone_deletes_dependents)
{
	struct gc_graph *g;
	json_t *rs = obj("ReplicaSet", "rs", "rs-uid"), *p1 = obj("Pod", "p1", "p1-uid");
	json_t *p2 = obj("Pod", "p2", "p2-uid");

	g = start();
	own(p1, rs, true);
	own(p2, rs, true);
	put(g, rs);
	put(g, p1);
	put(g, p2);
	ASSERT_EQ(gc_graph_dependents(g, "rs-uid"), 2);
	/* A live owner: nothing to do. */
	ASSERT_EQ(gc_attempt_delete(g, "p1-uid", &ops, NULL), GC_DONE);
	ASSERT(!logged("delete"));

	json_array_clear(F.queued);
	gone(g, rs);
	ASSERT(queued("D:p1-uid") && queued("D:p2-uid"));
	ASSERT_EQ(gc_attempt_delete(g, "p1-uid", &ops, NULL), GC_DONE);
	int gets = F.gets;
	ASSERT_EQ(gc_attempt_delete(g, "p2-uid", &ops, NULL), GC_DONE);
	/* The second pod did not GET the owner again: it is known absent. */
	ASSERT_EQ(F.gets - gets, 1);
	ASSERT(logged("delete p1 Background;"));
	ASSERT(logged("delete p2 Background;"));
}

TEST(gc_dangling_reference_to_an_owner_that_never_existed)
{
	struct gc_graph *g;
	json_t *ghost = obj("ReplicaSet", "ghost", "ghost-uid"), *p = obj("Pod", "p", "p-uid");
	json_t *other = obj("ReplicaSet", "same-name", "real-uid");
	json_t *q = obj("Pod", "q", "q-uid"), *imposter = obj("ReplicaSet", "same-name", "old-uid");

	g = start();
	own(p, ghost, false);
	put(g, p);
	/* The unknown owner became a virtual node, queued for a check. */
	ASSERT(queued("D:ghost-uid"));
	ASSERT(!gc_graph_observed(g, "ghost-uid"));
	ASSERT_EQ(gc_attempt_delete(g, "ghost-uid", &ops, NULL), GC_DONE);
	/* The GET said 404: the virtual node is gone and its dependent queued. */
	ASSERT_EQ(gc_graph_len(g), 1);
	ASSERT(queued("D:p-uid"));
	ASSERT_EQ(gc_attempt_delete(g, "p-uid", &ops, NULL), GC_DONE);
	ASSERT(logged("delete p Background;"));

	/* An owner of that name exists, but with another uid: dangling too. */
	put(g, other);
	own(q, imposter, false);
	put(g, q);
	ASSERT_EQ(gc_attempt_delete(g, "q-uid", &ops, NULL), GC_DONE);
	ASSERT(logged("delete q Background;"));
	ASSERT_NOT_NULL(stored(other));
}

TEST(gc_informer_lag_is_not_a_dangling_reference)
{
	struct gc_graph *g;
	json_t *rs = obj("ReplicaSet", "rs", "rs-uid"), *p = obj("Pod", "p", "p-uid");
	char *k;

	g = start();
	own(p, rs, true);
	/* The owner exists in the API, but its informer has not delivered it yet. */
	k = key_of("ReplicaSet", "ns", "rs");
	json_object_set_new(F.objs, k, json_deep_copy(rs));
	free(k);
	put(g, p);
	ASSERT_EQ(gc_attempt_delete(g, "rs-uid", &ops, NULL), GC_WAIT);
	ASSERT_EQ(gc_attempt_delete(g, "p-uid", &ops, NULL), GC_DONE);
	ASSERT(!logged("delete"));
	/* Once observed, the wait ends. */
	gc_graph_observe(g, "apps/v1", "ReplicaSet", rs);
	ASSERT(gc_graph_observed(g, "rs-uid"));
	ASSERT_EQ(gc_attempt_delete(g, "rs-uid", &ops, NULL), GC_DONE);
	/* A failing API means retry, never delete. */
	F.fail_gets = 1;
	ASSERT_EQ(gc_attempt_delete(g, "p-uid", &ops, NULL), GC_RETRY);
	F.fail_gets = 0;
	k = key_of("ReplicaSet", "ns", "rs");
	json_object_del(F.objs, k);
	free(k);
	F.fail_gets = 1;
	ASSERT_EQ(gc_attempt_delete(g, "p-uid", &ops, NULL), GC_RETRY);
	ASSERT(!logged("delete"));
}

TEST(gc_foreground_waits_for_blocking_dependents)
{
	struct gc_graph *g;
	json_t *rs = obj("ReplicaSet", "rs", "rs-uid"), *p1 = obj("Pod", "p1", "p1-uid");
	json_t *p2 = obj("Pod", "p2", "p2-uid");

	g = start();
	own(p1, rs, true);
	own(p2, rs, false);
	put(g, rs);
	put(g, p1);
	put(g, p2);
	json_array_clear(F.queued);
	mark_deleting(rs, GC_FINALIZER_FOREGROUND);
	put(g, rs);
	ASSERT(queued("D:p1-uid") && queued("D:p2-uid") && queued("D:rs-uid"));
	/* The owner waits: p1 blocks it. */
	ASSERT_EQ(gc_attempt_delete(g, "rs-uid", &ops, NULL), GC_DONE);
	ASSERT(!logged("unfinalize"));
	/* Its dependents see a waiting owner and go, in the background (no dependents). */
	ASSERT_EQ(gc_attempt_delete(g, "p1-uid", &ops, NULL), GC_DONE);
	ASSERT(logged("delete p1 Background;"));
	ASSERT_EQ(gc_attempt_delete(g, "p2-uid", &ops, NULL), GC_DONE);
	ASSERT(logged("delete p2 Background;"));
	/* p2 does not block: once p1 is gone, the finalizer comes off. */
	json_array_clear(F.queued);
	gone(g, p1);
	ASSERT(queued("D:rs-uid"));
	ASSERT_EQ(gc_attempt_delete(g, "rs-uid", &ops, NULL), GC_DONE);
	ASSERT(logged("unfinalize rs foregroundDeletion;"));
	ASSERT_EQ(json_array_size(jsonx_get_path(stored(rs), "metadata.finalizers")), 0);
}

TEST(gc_foreground_is_recursive)
{
	struct gc_graph *g;
	json_t *d = obj("Deployment", "d", "d-uid"), *rs = obj("ReplicaSet", "rs", "rs-uid");
	json_t *p = obj("Pod", "p", "p-uid");

	g = start();
	own(rs, d, true);
	own(p, rs, true);
	put(g, d);
	put(g, rs);
	put(g, p);
	mark_deleting(d, GC_FINALIZER_FOREGROUND);
	put(g, d);
	/* The ReplicaSet has dependents: it is deleted in foreground as well. */
	ASSERT_EQ(gc_attempt_delete(g, "rs-uid", &ops, NULL), GC_DONE);
	ASSERT(logged("delete rs Foreground;"));
	/* (The fake deletes at once; the real API server would mark it.) */
	mark_deleting(rs, GC_FINALIZER_FOREGROUND);
	put(g, rs);
	ASSERT(queued("D:p-uid"));
	ASSERT_EQ(gc_attempt_delete(g, "p-uid", &ops, NULL), GC_DONE);
	ASSERT(logged("delete p Background;"));
	gone(g, p);
	ASSERT_EQ(gc_attempt_delete(g, "rs-uid", &ops, NULL), GC_DONE);
	ASSERT(logged("unfinalize rs foregroundDeletion;"));
	/* The Deployment still waits for the ReplicaSet, then goes. */
	ASSERT_EQ(gc_attempt_delete(g, "d-uid", &ops, NULL), GC_DONE);
	ASSERT(!logged("unfinalize d"));
	gone(g, rs);
	ASSERT_EQ(gc_attempt_delete(g, "d-uid", &ops, NULL), GC_DONE);
	ASSERT(logged("unfinalize d foregroundDeletion;"));
}

TEST(gc_orphan_removes_references_then_finalizer)
{
	struct gc_graph *g;
	json_t *rs = obj("ReplicaSet", "rs", "rs-uid"), *other = obj("ConfigMap", "cm", "cm-uid");
	json_t *p1 = obj("Pod", "p1", "p1-uid"), *p2 = obj("Pod", "p2", "p2-uid");

	g = start();
	own(p1, rs, true);
	own(p2, rs, true);
	own(p2, other, false);
	put(g, rs);
	put(g, other);
	put(g, p1);
	put(g, p2);
	mark_deleting(rs, GC_FINALIZER_ORPHAN);
	put(g, rs);
	ASSERT(queued("O:rs-uid"));
	ASSERT_EQ(gc_attempt_orphan(g, "rs-uid", &ops, NULL), GC_DONE);
	ASSERT(logged("refs p1 0;"));
	ASSERT(logged("refs p2 1;"));
	ASSERT_STREQ(jsonx_path_str(stored(p2), "metadata.ownerReferences[0].uid", ""), "cm-uid");
	ASSERT(logged("unfinalize rs orphan;"));
	ASSERT(!logged("delete"));
	/* A failed dependent write keeps the finalizer for the retry. */

	g = start();
	put(g, rs);
	put(g, p1);
	F.fail_gets = 1;
	ASSERT_EQ(gc_attempt_orphan(g, "rs-uid", &ops, NULL), GC_RETRY);
	ASSERT(!logged("unfinalize"));
}

TEST(gc_solid_owner_keeps_item_and_drops_dangling_refs)
{
	struct gc_graph *g;
	json_t *a = obj("ConfigMap", "a", "a-uid"), *b = obj("ConfigMap", "b", "b-uid");
	json_t *p = obj("Pod", "p", "p-uid"), *w = obj("Widget", "w", "w-uid");
	json_t *q = obj("Pod", "q", "q-uid");

	g = start();
	own(p, a, false);
	own(p, b, false);
	put(g, a);
	put(g, b);
	put(g, p);
	gone(g, b);
	ASSERT_EQ(gc_attempt_delete(g, "p-uid", &ops, NULL), GC_DONE);
	ASSERT(!logged("delete"));
	ASSERT(logged("refs p 1;"));
	ASSERT_STREQ(jsonx_path_str(stored(p), "metadata.ownerReferences[0].uid", ""), "a-uid");
	/* An owner of a kind that is not served never counts as gone. */
	own(q, w, false);
	put(g, q);
	ASSERT_EQ(gc_attempt_delete(g, "q-uid", &ops, NULL), GC_DONE);
	ASSERT(!logged("delete q"));
	/* An item someone is deleting in the background is left alone. */
	gone(g, a);
	mark_deleting(p, "example.com/keep");
	put(g, p);
	ASSERT_EQ(gc_attempt_delete(g, "p-uid", &ops, NULL), GC_DONE);
	ASSERT(!logged("delete p"));
	/* Unknown uids and objects without one are no-ops. */
	ASSERT_EQ(gc_attempt_delete(g, "nope", &ops, NULL), GC_DONE);
	ASSERT_EQ(gc_attempt_orphan(g, "nope", &ops, NULL), GC_DONE);
	size_t n = gc_graph_len(g);
	json_t *nouid = json_pack("{s:{s:s}}", "metadata", "name", "x");

	gc_graph_observe(g, "v1", "Pod", nouid);
	gc_graph_remove(g, nouid);
	ASSERT_EQ(gc_graph_len(g), n);
	json_decref(nouid);
}

TEST(gc_item_with_own_finalizers_keeps_its_policy)
{
	struct gc_graph *g;
	json_t *rs = obj("ReplicaSet", "rs", "rs-uid"), *p = obj("Pod", "p", "p-uid");

	g = start();
	own(p, rs, true);
	json_object_set_new(json_object_get(p, "metadata"), "finalizers",
			    json_pack("[s]", GC_FINALIZER_ORPHAN));
	put(g, rs);
	put(g, p);
	gone(g, rs);
	ASSERT_EQ(gc_attempt_delete(g, "p-uid", &ops, NULL), GC_DONE);
	ASSERT(logged("delete p Orphan;"));
	/* Dropping blockOwnerDeletion frees a waiting owner: it is queued. */

	g = start();
	p = obj("Pod", "p", "p-uid");
	own(p, rs, true);
	put(g, rs);
	put(g, p);
	mark_deleting(rs, GC_FINALIZER_FOREGROUND);
	put(g, rs);
	json_array_clear(F.queued);
	json_object_set_new(json_array_get(jsonx_get_path(p, "metadata.ownerReferences"), 0),
			    "blockOwnerDeletion", json_false());
	put(g, p);
	ASSERT(queued("D:rs-uid"));
	ASSERT_EQ(gc_attempt_delete(g, "rs-uid", &ops, NULL), GC_DONE);
	ASSERT(logged("unfinalize rs foregroundDeletion;"));
}
