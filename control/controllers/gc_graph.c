/*
 * gc_graph.c - see gc_graph.h.
 *
 * Nodes are JSON objects in a jansson object keyed by uid (the codebase's
 * hash table), which also makes a snapshot for an attempt one deep copy:
 *
 *   {"apiVersion", "kind", "namespace", "name", "uid",
 *    "observed": bool,            shown by an informer (false: virtual)
 *    "deletingDependents": bool,  deletionTimestamp + foregroundDeletion
 *    "orphaning": bool,           deletionTimestamp + orphan
 *    "beingDeleted": bool,        deletionTimestamp
 *    "owners": [ownerReference],
 *    "dependents": {uid: true}}
 *
 * Owners found absent are remembered in a small bounded set (upstream's
 * absentOwnerCache) so that the hundred pods of a deleted ReplicaSet cost
 * one GET of the ReplicaSet, not a hundred.
 */
#include "control/controllers/gc_graph.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "control/controllers/podutil.h"
#include "jsonx.h"
#include "log.h"
#include "util.h"

#define ABSENT_MAX 4096

struct gc_graph {
	pthread_mutex_t lock;
	json_t *nodes;	/* uid -> node */
	json_t *absent; /* absent_key -> true */
	gc_enqueue_fn enqueue;
	void *ctx;
};

struct gc_graph *gc_graph_new(gc_enqueue_fn enqueue, void *ctx)
{
	struct gc_graph *g = xcalloc(1, sizeof(*g));

	pthread_mutex_init(&g->lock, NULL);
	g->nodes = json_object();
	g->absent = json_object();
	g->enqueue = enqueue;
	g->ctx = ctx;
	return g;
}

void gc_graph_free(struct gc_graph *g)
{
	if (!g)
		return;
	json_decref(g->nodes);
	json_decref(g->absent);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

static void queue(struct gc_graph *g, enum gc_queue q, const char *uid)
{
	if (g->enqueue && uid && *uid)
		g->enqueue(g->ctx, q, uid);
}

static bool flag(const json_t *n, const char *key)
{
	return jsonx_bool(n, key, false);
}

static void set_flag(json_t *n, const char *key, bool v)
{
	json_object_set_new(n, key, json_boolean(v));
}

static bool has_finalizer(const json_t *obj, const char *f)
{
	json_t *v;
	size_t i;

	json_array_foreach(jsonx_get_path(obj, "metadata.finalizers"), i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), f) == 0)
			return true;
	return false;
}

static const json_t *find_ref(const json_t *refs, const char *uid)
{
	json_t *r;
	size_t i;

	json_array_foreach(refs, i, r)
		if (strcmp(jsonx_str(r, "uid", ""), uid) == 0)
			return r;
	return NULL;
}

static bool blocks(const json_t *ref)
{
	return jsonx_bool(ref, "blockOwnerDeletion", false);
}

/* The group of an apiVersion ("apps/v1" -> "apps", "v1" -> ""), into buf. */
static void group_of(const char *api_version, char *buf, size_t len)
{
	const char *slash = strchr(api_version, '/');
	size_t n = slash ? (size_t)(slash - api_version) : 0;

	snprintf(buf, len, "%.*s", (int)n, api_version);
}

/* Does ref name node's coordinates (group, kind, name; the version may differ)? */
static bool ref_matches(const json_t *ref, const json_t *node)
{
	char g1[128], g2[128];

	group_of(jsonx_str(ref, "apiVersion", ""), g1, sizeof(g1));
	group_of(jsonx_str(node, "apiVersion", ""), g2, sizeof(g2));
	return strcmp(g1, g2) == 0 &&
	       strcmp(jsonx_str(ref, "kind", ""), jsonx_str(node, "kind", "")) == 0 &&
	       strcmp(jsonx_str(ref, "name", ""), jsonx_str(node, "name", "")) == 0;
}

/* Valid ownerReferences of obj (objects with a uid), as a new array. */
static json_t *owner_refs(const json_t *obj)
{
	json_t *out = json_array(), *r;
	size_t i;

	json_array_foreach(jsonx_get_path(obj, "metadata.ownerReferences"), i, r)
		if (json_is_object(r) && *jsonx_str(r, "uid", "") &&
		    !find_ref(out, jsonx_str(r, "uid", "")))
			json_array_append_new(out, json_deep_copy(r));
	return out;
}

static json_t *new_node(const char *api_version, const char *kind, const char *ns, const char *name,
			const char *uid, bool observed)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:[], s:{}}", "apiVersion",
			 api_version, "kind", kind, "namespace", ns, "name", name, "uid", uid,
			 "observed", observed, "deletingDependents", 0, "orphaning", 0,
			 "beingDeleted", 0, "owners", "dependents");
}

/* Drop a virtual node nobody refers to any more. */
static void prune_virtual(struct gc_graph *g, const char *uid)
{
	json_t *n = json_object_get(g->nodes, uid);

	if (n && !flag(n, "observed") && !json_object_size(json_object_get(n, "dependents")))
		json_object_del(g->nodes, uid);
}

/* Called with the lock held: add uid as a dependent of ref's owner. */
static void link_owner(struct gc_graph *g, const json_t *ref, const json_t *dep, const char *uid)
{
	const char *ouid = jsonx_str(ref, "uid", ""), *ns = jsonx_str(dep, "namespace", "");
	json_t *o = json_object_get(g->nodes, ouid);
	const char *ons;

	if (!o) {
		/* Not seen yet: a virtual node, verified by a GET at once. */
		o = new_node(jsonx_str(ref, "apiVersion", ""), jsonx_str(ref, "kind", ""), ns,
			     jsonx_str(ref, "name", ""), ouid, false);
		json_object_set_new(g->nodes, ouid, o);
		json_object_set_new(json_object_get(o, "dependents"), uid, json_true());
		queue(g, GC_QUEUE_DELETE, ouid);
		return;
	}
	json_object_set_new(json_object_get(o, "dependents"), uid, json_true());
	ons = jsonx_str(o, "namespace", "");
	/* A reference that disagrees with the owner it names is checked live. */
	if (flag(o, "observed") && (!ref_matches(ref, o) || (*ons && strcmp(ons, ns) != 0)))
		queue(g, GC_QUEUE_DELETE, uid);
	/* A new dependent of an owner waiting in foreground deletion goes too. */
	else if (flag(o, "deletingDependents"))
		queue(g, GC_QUEUE_DELETE, uid);
}

static void unlink_owner(struct gc_graph *g, const char *ouid, const char *uid)
{
	json_t *o = json_object_get(g->nodes, ouid);

	if (!o)
		return;
	json_object_del(json_object_get(o, "dependents"), uid);
	/* The owner may have been waiting for exactly this dependent. */
	if (flag(o, "deletingDependents"))
		queue(g, GC_QUEUE_DELETE, ouid);
	prune_virtual(g, ouid);
}

void gc_graph_observe(struct gc_graph *g, const char *api_version, const char *kind,
		      const json_t *obj)
{
	const char *uid = jsonx_path_str(obj, "metadata.uid", "");
	json_t *n, *refs, *old, *r, *dep;
	bool deleting, fg, orph, was_fg, was_orph;
	const char *duid;
	size_t i;

	if (!*uid)
		return;
	pthread_mutex_lock(&g->lock);
	n = json_object_get(g->nodes, uid);
	if (!n) {
		n = new_node("", "", "", "", uid, true);
		json_object_set_new(g->nodes, uid, n);
	}
	json_object_set_new(n, "apiVersion", json_string(api_version));
	json_object_set_new(n, "kind", json_string(kind));
	json_object_set_new(n, "namespace",
			    json_string(jsonx_path_str(obj, "metadata.namespace", "")));
	json_object_set_new(n, "name", json_string(jsonx_path_str(obj, "metadata.name", "")));
	if (!flag(n, "observed")) {
		/* A virtual node turns real: dependents that named it otherwise are checked. */
		set_flag(n, "observed", true);
		json_object_foreach(json_object_get(n, "dependents"), duid, dep) {
			json_t *d = json_object_get(g->nodes, duid);
			const json_t *ref = find_ref(json_object_get(d, "owners"), uid);

			if (ref && !ref_matches(ref, n))
				queue(g, GC_QUEUE_DELETE, duid);
		}
	}

	refs = owner_refs(obj);
	old = json_incref(json_object_get(n, "owners"));
	json_object_set(n, "owners", refs);
	json_array_foreach(refs, i, r) {
		const json_t *was = find_ref(old, jsonx_str(r, "uid", ""));
		json_t *o;

		if (!was) {
			link_owner(g, r, n, uid);
			continue;
		}
		/* blockOwnerDeletion dropped: a foreground owner may be free now. */
		o = json_object_get(g->nodes, jsonx_str(r, "uid", ""));
		if (blocks(was) && !blocks(r) && flag(o, "deletingDependents"))
			queue(g, GC_QUEUE_DELETE, jsonx_str(r, "uid", ""));
	}
	json_array_foreach(old, i, r)
		if (!find_ref(refs, jsonx_str(r, "uid", "")))
			unlink_owner(g, jsonx_str(r, "uid", ""), uid);
	json_decref(old);
	json_decref(refs);

	deleting = cm_is_deleting(obj);
	fg = deleting && has_finalizer(obj, GC_FINALIZER_FOREGROUND);
	orph = deleting && has_finalizer(obj, GC_FINALIZER_ORPHAN);
	was_fg = flag(n, "deletingDependents");
	was_orph = flag(n, "orphaning");
	set_flag(n, "beingDeleted", deleting);
	set_flag(n, "deletingDependents", fg);
	set_flag(n, "orphaning", orph);
	if (fg && !was_fg) {
		json_object_foreach(json_object_get(n, "dependents"), duid, dep)
			queue(g, GC_QUEUE_DELETE, duid);
		queue(g, GC_QUEUE_DELETE, uid);
	}
	if (orph && !was_orph)
		queue(g, GC_QUEUE_ORPHAN, uid);
	pthread_mutex_unlock(&g->lock);
}

static char *absent_key(const char *api_version, const char *kind, const char *ns, const char *name,
			const char *uid)
{
	char group[128];

	group_of(api_version, group, sizeof(group));
	return xasprintf("%s|%s|%s|%s|%s", group, kind, ns, name, uid);
}

/* Lock held. */
static void absent_add(struct gc_graph *g, char *key)
{
	if (json_object_size(g->absent) >= ABSENT_MAX)
		json_object_clear(g->absent);
	json_object_set_new(g->absent, key, json_true());
	free(key);
}

/* Lock held: remove a node, queue its dependents, tell its owners. */
static void remove_node(struct gc_graph *g, const char *uid)
{
	json_t *n = json_object_get(g->nodes, uid), *dep, *r;
	const char *duid;
	size_t i;

	if (!n)
		return;
	json_incref(n);
	json_object_del(g->nodes, uid);
	if (json_object_size(json_object_get(n, "dependents")))
		absent_add(g, absent_key(jsonx_str(n, "apiVersion", ""), jsonx_str(n, "kind", ""),
					 jsonx_str(n, "namespace", ""), jsonx_str(n, "name", ""),
					 uid));
	json_object_foreach(json_object_get(n, "dependents"), duid, dep)
		queue(g, GC_QUEUE_DELETE, duid);
	json_array_foreach(json_object_get(n, "owners"), i, r)
		unlink_owner(g, jsonx_str(r, "uid", ""), uid);
	json_decref(n);
}

void gc_graph_remove(struct gc_graph *g, const json_t *obj)
{
	pthread_mutex_lock(&g->lock);
	remove_node(g, jsonx_path_str(obj, "metadata.uid", ""));
	pthread_mutex_unlock(&g->lock);
}

size_t gc_graph_len(struct gc_graph *g)
{
	size_t n;

	pthread_mutex_lock(&g->lock);
	n = json_object_size(g->nodes);
	pthread_mutex_unlock(&g->lock);
	return n;
}

size_t gc_graph_dependents(struct gc_graph *g, const char *uid)
{
	size_t n;

	pthread_mutex_lock(&g->lock);
	n = json_object_size(json_object_get(json_object_get(g->nodes, uid), "dependents"));
	pthread_mutex_unlock(&g->lock);
	return n;
}

bool gc_graph_observed(struct gc_graph *g, const char *uid)
{
	bool seen;

	pthread_mutex_lock(&g->lock);
	seen = flag(json_object_get(g->nodes, uid), "observed");
	pthread_mutex_unlock(&g->lock);
	return seen;
}

/* A deep copy of uid's node, or NULL. */
static json_t *snapshot(struct gc_graph *g, const char *uid)
{
	json_t *n;

	pthread_mutex_lock(&g->lock);
	n = json_deep_copy(json_object_get(g->nodes, uid));
	pthread_mutex_unlock(&g->lock);
	return n;
}

static struct gc_ident ident_of(const json_t *node)
{
	return (struct gc_ident){ .api_version = jsonx_str(node, "apiVersion", ""),
				  .kind = jsonx_str(node, "kind", ""),
				  .ns = jsonx_str(node, "namespace", ""),
				  .name = jsonx_str(node, "name", ""),
				  .uid = jsonx_str(node, "uid", "") };
}

/* GET what node names. 0 with *out (the same uid), -ENOENT when gone or replaced, -errno. */
static int get_live(const struct gc_ops *ops, void *ctx, const json_t *node, json_t **out)
{
	struct gc_ident id = ident_of(node);
	int rc = ops->get(ctx, id.api_version, id.kind, id.ns, id.name, out);

	if (rc == 0 && strcmp(jsonx_path_str(*out, "metadata.uid", ""), id.uid) != 0) {
		json_decref(*out);
		*out = NULL;
		rc = -ENOENT;
	}
	return rc;
}

/* Foreground owner: free it when no blocking dependent is left, else push them. */
static enum gc_result deleting_dependents(struct gc_graph *g, const json_t *snap,
					  const json_t *latest, const struct gc_ops *ops, void *ctx)
{
	const char *uid = jsonx_str(snap, "uid", ""), *duid;
	json_t *push = json_array(), *dep, *v;
	size_t blocking = 0, i;

	pthread_mutex_lock(&g->lock);
	json_object_foreach(json_object_get(snap, "dependents"), duid, dep) {
		json_t *d = json_object_get(g->nodes, duid);

		if (!d || !blocks(find_ref(json_object_get(d, "owners"), uid)))
			continue;
		blocking++;
		if (!flag(d, "deletingDependents"))
			json_array_append_new(push, json_string(duid));
	}
	pthread_mutex_unlock(&g->lock);
	if (!blocking) {
		json_decref(push);
		if (!has_finalizer(latest, GC_FINALIZER_FOREGROUND))
			return GC_DONE;
		return ops->remove_finalizer(ctx, latest, GC_FINALIZER_FOREGROUND) < 0 ? GC_RETRY
										       : GC_DONE;
	}
	json_array_foreach(push, i, v)
		queue(g, GC_QUEUE_DELETE, json_string_value(v));
	json_decref(push);
	return GC_DONE;
}

enum ref_state { REF_SOLID, REF_DANGLING, REF_WAITING };

/* Classify one owner reference of an item in namespace ns. 0 or -errno (retry). */
static int classify(struct gc_graph *g, const json_t *ref, const char *ns, const struct gc_ops *ops,
		    void *ctx, enum ref_state *st)
{
	const char *av = jsonx_str(ref, "apiVersion", ""), *kind = jsonx_str(ref, "kind", "");
	const char *name = jsonx_str(ref, "name", ""), *uid = jsonx_str(ref, "uid", "");
	char *key = absent_key(av, kind, ns, name, uid);
	json_t *owner = NULL;
	bool known_absent;
	int rc;

	pthread_mutex_lock(&g->lock);
	known_absent = json_object_get(g->absent, key) != NULL;
	pthread_mutex_unlock(&g->lock);
	if (known_absent) {
		free(key);
		*st = REF_DANGLING;
		return 0;
	}
	rc = ops->get(ctx, av, kind, ns, name, &owner);
	if (rc == -EOPNOTSUPP || rc == -EINVAL) {
		/* An owner we cannot look up is never taken for gone. */
		*st = REF_SOLID;
		rc = 0;
	} else if (rc == -ENOENT ||
		   (rc == 0 && strcmp(jsonx_path_str(owner, "metadata.uid", ""), uid) != 0)) {
		pthread_mutex_lock(&g->lock);
		absent_add(g, key);
		key = NULL;
		pthread_mutex_unlock(&g->lock);
		*st = REF_DANGLING;
		rc = 0;
	} else if (rc == 0) {
		*st = cm_is_deleting(owner) && has_finalizer(owner, GC_FINALIZER_FOREGROUND)
			      ? REF_WAITING
			      : REF_SOLID;
	}
	free(key);
	json_decref(owner);
	return rc;
}

/* Decide about an item that exists (latest) and is not a foreground owner. */
static enum gc_result decide(struct gc_graph *g, const json_t *snap, const json_t *latest,
			     const struct gc_ops *ops, void *ctx)
{
	const char *ns = jsonx_path_str(latest, "metadata.namespace", "");
	json_t *refs = jsonx_get_path(latest, "metadata.ownerReferences"), *r, *keep;
	size_t i, solid = 0, dangling = 0, waiting = 0;
	struct gc_ident id = ident_of(snap);
	enum gc_result res = GC_DONE;
	const char *policy;

	if (!json_array_size(refs))
		return GC_DONE;
	keep = json_array();
	json_array_foreach(refs, i, r) {
		enum ref_state st = REF_SOLID;

		if (classify(g, r, ns, ops, ctx, &st) < 0) {
			json_decref(keep);
			return GC_RETRY;
		}
		solid += st == REF_SOLID;
		dangling += st == REF_DANGLING;
		waiting += st == REF_WAITING;
		if (st == REF_SOLID)
			json_array_append(keep, r);
	}
	if (solid) {
		/* It stays; references to gone or waiting owners are dropped. */
		if (dangling + waiting && ops->set_owner_refs(ctx, latest, keep) < 0)
			res = GC_RETRY;
		json_decref(keep);
		return res;
	}
	json_decref(keep);
	if (waiting && json_object_size(json_object_get(snap, "dependents"))) {
		json_t *dep;
		const char *duid;
		bool cycle = false;

		pthread_mutex_lock(&g->lock);
		json_object_foreach(json_object_get(snap, "dependents"), duid, dep)
			cycle |= flag(json_object_get(g->nodes, duid), "deletingDependents");
		pthread_mutex_unlock(&g->lock);
		if (cycle) {
			/* A dependent also waits on its dependents: stop blocking our owners. */
			json_t *unblocked = json_deep_copy(refs);

			json_array_foreach(unblocked, i, r)
				if (blocks(r))
					json_object_set_new(r, "blockOwnerDeletion", json_false());
			if (ops->set_owner_refs(ctx, latest, unblocked) < 0)
				res = GC_RETRY;
			json_decref(unblocked);
			if (res == GC_RETRY)
				return res;
		}
		policy = "Foreground";
	} else if (has_finalizer(latest, GC_FINALIZER_ORPHAN)) {
		policy = "Orphan";
	} else if (has_finalizer(latest, GC_FINALIZER_FOREGROUND)) {
		policy = "Foreground";
	} else {
		policy = "Background";
	}
	log_debug("gc: deleting %s %s/%s (%s): no owner left", id.kind, id.ns, id.name, policy);
	return ops->remove(ctx, &id, policy) < 0 ? GC_RETRY : GC_DONE;
}

enum gc_result gc_attempt_delete(struct gc_graph *g, const char *uid, const struct gc_ops *ops,
				 void *ctx)
{
	json_t *snap = snapshot(g, uid), *latest = NULL, *n;
	enum gc_result res;
	int rc;

	if (!snap)
		return GC_DONE;
	if (flag(snap, "beingDeleted") && !flag(snap, "deletingDependents")) {
		res = GC_DONE; /* someone is deleting it already */
		goto out;
	}
	rc = get_live(ops, ctx, snap, &latest);
	if (rc == -ENOENT) {
		/* Gone (or never was, for a virtual node): its dependents follow. */
		pthread_mutex_lock(&g->lock);
		remove_node(g, uid);
		pthread_mutex_unlock(&g->lock);
		res = GC_DONE;
		goto out;
	}
	if (rc == -EOPNOTSUPP || rc == -EINVAL) {
		res = GC_DONE;
		goto out;
	}
	if (rc < 0) {
		res = GC_RETRY;
		goto out;
	}
	if (flag(snap, "deletingDependents"))
		res = deleting_dependents(g, snap, latest, ops, ctx);
	else
		res = decide(g, snap, latest, ops, ctx);
	if (res == GC_DONE && !flag(snap, "observed")) {
		/* Exists, but its informer has not shown it: look again until it does. */
		pthread_mutex_lock(&g->lock);
		n = json_object_get(g->nodes, uid);
		if (n && !flag(n, "observed"))
			res = GC_WAIT;
		pthread_mutex_unlock(&g->lock);
	}
out:
	json_decref(latest);
	json_decref(snap);
	return res;
}

enum gc_result gc_attempt_orphan(struct gc_graph *g, const char *uid, const struct gc_ops *ops,
				 void *ctx)
{
	json_t *snap = snapshot(g, uid), *dep, *latest = NULL;
	enum gc_result res = GC_DONE;
	const char *duid;
	int rc;

	if (!snap)
		return GC_DONE;
	json_object_foreach(json_object_get(snap, "dependents"), duid, dep) {
		json_t *d = snapshot(g, duid), *refs, *keep, *r;
		size_t i;

		if (!d)
			continue;
		rc = get_live(ops, ctx, d, &latest);
		json_decref(d);
		if (rc == -ENOENT || rc == -EOPNOTSUPP || rc == -EINVAL)
			continue;
		if (rc < 0) {
			res = GC_RETRY;
			continue;
		}
		refs = jsonx_get_path(latest, "metadata.ownerReferences");
		keep = json_array();
		json_array_foreach(refs, i, r)
			if (strcmp(jsonx_str(r, "uid", ""), uid) != 0)
				json_array_append(keep, r);
		if (json_array_size(keep) != json_array_size(refs) &&
		    ops->set_owner_refs(ctx, latest, keep) < 0)
			res = GC_RETRY;
		json_decref(keep);
		json_decref(latest);
		latest = NULL;
	}
	if (res == GC_RETRY)
		goto out;
	/* Every dependent let go: the owner may go too. */
	rc = get_live(ops, ctx, snap, &latest);
	if (rc == 0 && has_finalizer(latest, GC_FINALIZER_ORPHAN) &&
	    ops->remove_finalizer(ctx, latest, GC_FINALIZER_ORPHAN) < 0)
		res = GC_RETRY;
	else if (rc < 0 && rc != -ENOENT && rc != -EOPNOTSUPP && rc != -EINVAL)
		res = GC_RETRY;
out:
	json_decref(latest);
	json_decref(snap);
	return res;
}
