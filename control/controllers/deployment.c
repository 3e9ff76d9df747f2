/*
 * deployment.c - see deployment.h. Upstream's Deployment controller
 * semantics, built from the API's documented behaviour.
 *
 * A Deployment owns one ReplicaSet per pod template it has had. The one
 * whose template equals the Deployment's (ignoring the pod-template-hash
 * label) is the new ReplicaSet; the others are old. One sync:
 *
 *   1. claim ReplicaSets (adopt orphans the selector matches, release the
 *      ones it no longer matches);
 *   2. paused, or spec.replicas changed (a ReplicaSet's desired-replicas
 *      annotation disagrees): only scale, proportionally across the active
 *      ReplicaSets, and report;
 *   3. otherwise roll out. RollingUpdate scales the new ReplicaSet up while
 *      the total stays within replicas + maxSurge, and old ones down while
 *      the available pods stay at least replicas - maxUnavailable, counting
 *      only what the ReplicaSets' statuses say is available. Recreate
 *      scales every old ReplicaSet to 0, waits until none of their pods is
 *      left, then scales the new one up;
 *   4. delete old ReplicaSets beyond revisionHistoryLimit and write the
 *      status, with the Progressing and Available conditions.
 *
 * A sync makes at most one scaling step and then stops: the step changes a
 * ReplicaSet, whose informer event brings the Deployment back with fresh
 * numbers. Every write answers with the new object, which replaces the
 * local copy, so later writes of the same sync carry the right
 * resourceVersion.
 *
 * Rollback is not special: `kubectl rollout undo` writes an old
 * ReplicaSet's template back into the Deployment, the old ReplicaSet then
 * is the new one, gets the next revision number (its former one goes to the
 * revision-history annotation) and is scaled up like any new ReplicaSet.
 *
 * The Deployment's own revision annotation is written with a merge patch:
 * capstan's /status ignores metadata, unlike upstream's, where the
 * controller sets it through the status update.
 */
#include "control/controllers/deployment.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/controllers/controllers.h"
#include "control/controllers/podutil.h"
#include "jsonx.h"
#include "log.h"
#include "selector.h"
#include "util.h"

#define D_KIND "Deployment"
#define D_API_VERSION "apps/v1"
#define MAX_REV_HISTORY_CHARS 2000

/* Deployment annotations that are the controller's, not copied to ReplicaSets. */
static const char *const skip_annotations[] = {
	"kubectl.kubernetes.io/last-applied-configuration",
	DEPLOY_REVISION,
	DEPLOY_REVISION_HISTORY,
	DEPLOY_DESIRED_REPLICAS,
	DEPLOY_MAX_REPLICAS,
	"deprecated.deployment.rollback.to",
};

/* ---------------------------------------------------------------- small readers */

static int spec_replicas(const json_t *obj)
{
	return (int)jsonx_path_int(obj, "spec.replicas", 1);
}

static int status_int(const json_t *obj, const char *field)
{
	return (int)jsonx_int(jsonx_obj(obj, "status"), field, 0);
}

static const char *name_of(const json_t *obj)
{
	return jsonx_path_str(obj, "metadata.name", "");
}

static const char *annotation(const json_t *obj, const char *key)
{
	return json_string_value(jsonx_getv(obj, "metadata", "annotations", key, NULL));
}

/* An annotation holding a decimal integer; false when absent or not a number. */
static bool annotation_int(const json_t *obj, const char *key, long long *out)
{
	const char *v = annotation(obj, key);
	char *end;

	if (!v || !*v)
		return false;
	*out = strtoll(v, &end, 10);
	return *end == '\0';
}

static long long revision_of(const json_t *rs)
{
	long long r;

	return annotation_int(rs, DEPLOY_REVISION, &r) ? r : 0;
}

static bool is_rolling(const json_t *d)
{
	return strcmp(jsonx_path_str(d, "spec.strategy.type", "RollingUpdate"), "RollingUpdate") ==
	       0;
}

static bool has_progress_deadline(const json_t *d)
{
	json_t *v = jsonx_get_path(d, "spec.progressDeadlineSeconds");

	return json_is_integer(v) && json_integer_value(v) != INT_MAX;
}

/* Sum of a field over an array of ReplicaSets: spec.replicas or a status field. */
static int sum_spec(const json_t *rss)
{
	json_t *rs;
	size_t i;
	int n = 0;

	json_array_foreach(rss, i, rs)
		n += spec_replicas(rs);
	return n;
}

static int sum_status(const json_t *rss, const char *field)
{
	json_t *rs;
	size_t i;
	int n = 0;

	json_array_foreach(rss, i, rs)
		n += status_int(rs, field);
	return n;
}

/* Oldest first; equal times by name (upstream's ReplicaSetsByCreationTimestamp). */
static int by_creation(const void *pa, const void *pb)
{
	const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
	int64_t ta = cm_creation_ns(a), tb = cm_creation_ns(b);

	if (ta != tb)
		return ta < tb ? -1 : 1;
	return strcmp(name_of(a), name_of(b));
}

static int by_creation_newest(const void *pa, const void *pb)
{
	return by_creation(pb, pa);
}

/* By revision, then creation (cleanup order). */
static int by_revision(const void *pa, const void *pb)
{
	long long ra = revision_of(*(json_t *const *)pa), rb = revision_of(*(json_t *const *)pb);

	if (ra != rb)
		return ra < rb ? -1 : 1;
	return by_creation(pa, pb);
}

/* Larger first; ties newer first (scaling up) or older first (scaling down). */
static int by_size_newer(const void *pa, const void *pb)
{
	int a = spec_replicas(*(json_t *const *)pa), b = spec_replicas(*(json_t *const *)pb);

	return a != b ? b - a : by_creation(pb, pa);
}

static int by_size_older(const void *pa, const void *pb)
{
	int a = spec_replicas(*(json_t *const *)pa), b = spec_replicas(*(json_t *const *)pb);

	return a != b ? b - a : by_creation(pa, pb);
}

/* Sort a JSON array of objects in place. */
static void sort_array(json_t *arr, int (*cmp)(const void *, const void *))
{
	size_t n = json_array_size(arr), i;
	json_t **v = xcalloc(n ? n : 1, sizeof(*v));

	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(arr, i));
	qsort(v, n, sizeof(*v), cmp);
	json_array_clear(arr);
	for (i = 0; i < n; i++)
		json_array_append_new(arr, v[i]);
	free(v);
}

/* A new array of the ReplicaSets with spec.replicas > 0 (references). */
static json_t *active_of(const json_t *rss)
{
	json_t *out = json_array(), *rs;
	size_t i;

	json_array_foreach(rss, i, rs) {
		if (spec_replicas(rs) > 0)
			json_array_append(out, rs);
	}
	return out;
}

/* ---------------------------------------------------------------- rollout arithmetic */

int deploy_resolve_fenceposts(const json_t *max_surge, const json_t *max_unavailable, int desired,
			      int *surge, int *unavailable)
{
	int s, u;

	if (cm_int_or_percent(max_surge, "25%", desired, true, &s) < 0 ||
	    cm_int_or_percent(max_unavailable, "25%", desired, false, &u) < 0)
		return -EINVAL;
	if (s == 0 && u == 0)
		u = 1;
	*surge = s;
	*unavailable = u;
	return 0;
}

/* Resolved fenceposts of d; a malformed value (refused by validation) counts as 0/1. */
static void fenceposts(const json_t *d, int *surge, int *unavailable)
{
	const json_t *ru = jsonx_get_path(d, "spec.strategy.rollingUpdate");

	if (deploy_resolve_fenceposts(jsonx_get_path(ru, "maxSurge"),
				      jsonx_get_path(ru, "maxUnavailable"), spec_replicas(d), surge,
				      unavailable) < 0) {
		*surge = 0;
		*unavailable = 1;
	}
}

int deploy_max_surge(const json_t *d)
{
	int s, u;

	if (!is_rolling(d))
		return 0;
	fenceposts(d, &s, &u);
	return s;
}

int deploy_max_unavailable(const json_t *d)
{
	int s, u;

	if (!is_rolling(d) || spec_replicas(d) == 0)
		return 0;
	fenceposts(d, &s, &u);
	return MIN(u, spec_replicas(d));
}

int deploy_new_rs_replicas(const json_t *d, const json_t *all_rs, const json_t *new_rs)
{
	int want = spec_replicas(d), cur_new = new_rs ? spec_replicas(new_rs) : 0;
	int current, max_total, up;
	bool counted = false;
	json_t *rs;
	size_t i;

	if (!is_rolling(d))
		return want;
	current = sum_spec(all_rs);
	json_array_foreach(all_rs, i, rs)
		counted |= rs == new_rs;
	if (new_rs && !counted)
		current += cur_new;
	max_total = want + deploy_max_surge(d);
	if (current >= max_total)
		return cur_new;
	up = MIN(max_total - current, want - cur_new);
	return cur_new + MAX(up, 0);
}

/* rs's size at the Deployment's new scale, minus its size now. */
static int rs_fraction(const json_t *rs, const json_t *d)
{
	long long annotated;
	int target;
	double size;

	if (spec_replicas(d) == 0)
		return -spec_replicas(rs);
	target = spec_replicas(d) + deploy_max_surge(d);
	if (!annotation_int(rs, DEPLOY_MAX_REPLICAS, &annotated))
		annotated = status_int(d, "replicas");
	if (annotated <= 0)
		return 0;
	size = (double)spec_replicas(rs) * target / (double)annotated;
	return (int)lround(size) - spec_replicas(rs);
}

int deploy_proportion(const json_t *rs, const json_t *d, int to_add, int added)
{
	int fraction, allowed;

	if (!rs || spec_replicas(rs) == 0 || to_add == 0 || to_add == added)
		return 0;
	fraction = rs_fraction(rs, d);
	allowed = to_add - added;
	return to_add > 0 ? MIN(fraction, allowed) : MAX(fraction, allowed);
}

/* A template without the hash label (and without an empty labels map). */
static json_t *template_without_hash(const json_t *tmpl)
{
	json_t *t = json_deep_copy(tmpl), *labels = jsonx_get_path(t, "metadata.labels");
	json_t *md = jsonx_obj(t, "metadata");

	json_object_del(labels, DEPLOY_HASH_LABEL);
	if (labels && json_object_size(labels) == 0)
		json_object_del(md, "labels");
	/* kubectl sends creationTimestamp: null in templates; it means nothing. */
	if (json_is_null(json_object_get(md, "creationTimestamp")))
		json_object_del(md, "creationTimestamp");
	return t;
}

bool deploy_template_equal(const json_t *a, const json_t *b)
{
	json_t *x, *y;
	bool eq;

	if (!a || !b)
		return a == b;
	x = template_without_hash(a);
	y = template_without_hash(b);
	eq = jsonx_equal(x, y);
	json_decref(x);
	json_decref(y);
	return eq;
}

/* ---------------------------------------------------------------- status */

json_t *deploy_calc_status(const json_t *d, const json_t *all_rs, const json_t *new_rs, int64_t now)
{
	int available = sum_status(all_rs, "availableReplicas");
	int unavailable = MAX(sum_spec(all_rs) - available, 0);
	json_t *st, *conds, *cc;

	st = json_pack("{s:I,s:i,s:i,s:i,s:i,s:i}", "observedGeneration",
		       (json_int_t)jsonx_path_int(d, "metadata.generation", 0), "replicas",
		       sum_status(all_rs, "replicas"), "updatedReplicas",
		       new_rs ? status_int(new_rs, "replicas") : 0, "readyReplicas",
		       sum_status(all_rs, "readyReplicas"), "availableReplicas", available,
		       "unavailableReplicas", unavailable);
	cc = jsonx_get_path(d, "status.collisionCount");
	if (json_is_integer(cc))
		json_object_set(st, "collisionCount", cc);
	conds = jsonx_get_path(d, "status.conditions");
	if (json_is_array(conds))
		json_object_set_new(st, "conditions", json_deep_copy(conds));
	if (available >= spec_replicas(d) - deploy_max_unavailable(d))
		cm_cond_set(st, cm_cond_new("Available", "True", "MinimumReplicasAvailable",
					    "Deployment has minimum availability.", now, true));
	else
		cm_cond_set(st, cm_cond_new("Available", "False", "MinimumReplicasUnavailable",
					    "Deployment does not have minimum availability.", now,
					    true));
	return st;
}

bool deploy_complete(const json_t *d, const json_t *st)
{
	int want = spec_replicas(d);

	return jsonx_int(st, "updatedReplicas", 0) == want &&
	       jsonx_int(st, "replicas", 0) == want &&
	       jsonx_int(st, "availableReplicas", 0) == want &&
	       jsonx_int(st, "observedGeneration", 0) >=
		       jsonx_path_int(d, "metadata.generation", 0);
}

bool deploy_progressing(const json_t *d, const json_t *st)
{
	const json_t *old = jsonx_obj(d, "status");
	long long old_old = jsonx_int(old, "replicas", 0) - jsonx_int(old, "updatedReplicas", 0);
	long long new_old = jsonx_int(st, "replicas", 0) - jsonx_int(st, "updatedReplicas", 0);

	return jsonx_int(st, "updatedReplicas", 0) > jsonx_int(old, "updatedReplicas", 0) ||
	       new_old < old_old ||
	       jsonx_int(st, "readyReplicas", 0) > jsonx_int(old, "readyReplicas", 0) ||
	       jsonx_int(st, "availableReplicas", 0) > jsonx_int(old, "availableReplicas", 0);
}

bool deploy_timed_out(const json_t *d, const json_t *st, int64_t now)
{
	const json_t *c = cm_cond_get(st, "Progressing");
	const char *reason = jsonx_str(c, "reason", "");
	int64_t from;

	if (!has_progress_deadline(d) || !c || strcmp(reason, "NewReplicaSetAvailable") == 0)
		return false;
	if (strcmp(reason, "ProgressDeadlineExceeded") == 0)
		return true;
	from = cm_time_ns(c, "lastUpdateTime");
	return from + jsonx_path_int(d, "spec.progressDeadlineSeconds", 0) * 1000000000ll < now;
}

int deploy_rollout_status(const json_t *d, char *msg, size_t len)
{
	const json_t *st = jsonx_obj(d, "status");
	const char *name = name_of(d);
	long long updated = jsonx_int(st, "updatedReplicas", 0);
	long long replicas = jsonx_int(st, "replicas", 0);
	long long available = jsonx_int(st, "availableReplicas", 0);

	if (jsonx_path_int(d, "metadata.generation", 0) > jsonx_int(st, "observedGeneration", 0)) {
		snprintf(msg, len, "Waiting for deployment spec update to be observed...");
		return 0;
	}
	if (strcmp(jsonx_str(cm_cond_get(st, "Progressing"), "reason", ""),
		   "ProgressDeadlineExceeded") == 0) {
		snprintf(msg, len, "deployment \"%s\" exceeded its progress deadline", name);
		return -ETIMEDOUT;
	}
	if (jsonx_get_path(d, "spec.replicas") && updated < spec_replicas(d)) {
		snprintf(msg, len,
			 "Waiting for deployment \"%s\" rollout to finish: %lld out of %d new "
			 "replicas have been updated...",
			 name, updated, spec_replicas(d));
		return 0;
	}
	if (replicas > updated) {
		snprintf(msg, len,
			 "Waiting for deployment \"%s\" rollout to finish: %lld old replicas are "
			 "pending termination...",
			 name, replicas - updated);
		return 0;
	}
	if (available < updated) {
		snprintf(msg, len,
			 "Waiting for deployment \"%s\" rollout to finish: %lld of %lld updated "
			 "replicas are available...",
			 name, available, updated);
		return 0;
	}
	snprintf(msg, len, "deployment \"%s\" successfully rolled out", name);
	return 1;
}

/* ---------------------------------------------------------------- one sync */

struct dsync {
	struct deploy_env *env;
	const struct cm_api *api;
	json_t *d;	     /* our copy, replaced after each write */
	json_t *rss;	     /* owned ReplicaSets (copies), oldest first */
	const json_t *cache; /* every ReplicaSet of the namespace */
	const json_t *pods;
	int64_t requeue_ns;
};

static void event(struct dsync *s, const char *type, const char *reason, const char *msg)
{
	cm_api_event(s->api, s->d, D_KIND, D_API_VERSION, type, reason, "%s", msg);
}

/* Replace obj's members by those of fresh (an API answer), keeping obj's identity. */
static void refresh(json_t *obj, json_t *fresh)
{
	if (!json_is_object(fresh))
		return;
	json_object_clear(obj);
	json_object_update(obj, fresh);
}

static int write_failed(struct dsync *s, const char *what, int rc)
{
	log_debug("deployment %s/%s: %s: %d", jsonx_path_str(s->d, "metadata.namespace", ""),
		  name_of(s->d), what, rc);
	return rc < 0 ? rc : -EAGAIN;
}

/* PUT s->d with status st (borrowed); s->d becomes the answer. */
static int update_status(struct dsync *s, const json_t *st)
{
	json_t *out = NULL;
	int rc = cm_api_update_status(s->api, CM_DEPLOYMENTS, s->d, st, &out);

	if (rc == 200)
		refresh(s->d, out);
	json_decref(out);
	return rc == 200 ? 0 : write_failed(s, "status update", rc);
}

/* Set a string annotation on obj; true when it changed. */
static bool set_annotation(json_t *obj, const char *key, const char *value)
{
	json_t *md = json_object_get(obj, "metadata"), *ann = jsonx_obj(md, "annotations");

	if (!ann) {
		ann = json_object();
		json_object_set_new(md, "annotations", ann);
	}
	if (strcmp(jsonx_str(ann, key, "\x01"), value) == 0)
		return false;
	json_object_set_new(ann, key, json_string(value));
	return true;
}

/* desired-replicas / max-replicas on rs; true when they changed. */
static bool set_replicas_annotations(json_t *rs, int desired, int max)
{
	char a[16], b[16];
	bool changed;

	snprintf(a, sizeof(a), "%d", desired);
	snprintf(b, sizeof(b), "%d", max);
	changed = set_annotation(rs, DEPLOY_DESIRED_REPLICAS, a);
	changed |= set_annotation(rs, DEPLOY_MAX_REPLICAS, b);
	return changed;
}

static bool replicas_annotations_differ(const json_t *rs, int desired, int max)
{
	long long a, b;

	return !annotation_int(rs, DEPLOY_DESIRED_REPLICAS, &a) || a != desired ||
	       !annotation_int(rs, DEPLOY_MAX_REPLICAS, &b) || b != max;
}

/*
 * Scale rs (an element of s->rss) to size, refreshing the replicas
 * annotations. 1 when the size changed, 0 when not, -errno on failure.
 */
static int scale_rs(struct dsync *s, json_t *rs, int size)
{
	int want = spec_replicas(s->d), max = want + deploy_max_surge(s->d);
	int old = spec_replicas(rs);
	json_t *copy, *out = NULL;
	char msg[512];
	int rc;

	if (old == size && !replicas_annotations_differ(rs, want, max))
		return 0;
	copy = json_deep_copy(rs);
	jsonx_set_path(copy, "spec.replicas", json_integer(size));
	set_replicas_annotations(copy, want, max);
	rc = s->api->update(s->api->ctx, CM_REPLICASETS, copy, NULL, &out);
	json_decref(copy);
	if (rc != 200) {
		json_decref(out);
		return write_failed(s, "scaling a ReplicaSet", rc);
	}
	refresh(rs, out);
	json_decref(out);
	if (old == size)
		return 0;
	snprintf(msg, sizeof(msg), "Scaled %s replica set %s from %d to %d",
		 old < size ? "up" : "down", name_of(rs), old, size);
	event(s, "Normal", "ScalingReplicaSet", msg);
	return 1;
}

/* scale_rs, but nothing at all when the size is already right. */
static int scale_and_record(struct dsync *s, json_t *rs, int size)
{
	return spec_replicas(rs) == size ? 0 : scale_rs(s, rs, size);
}

/* Copy the Deployment's own annotations to rs; true when one changed. */
static bool copy_annotations(const json_t *d, json_t *rs)
{
	const json_t *ann = jsonx_get_path(d, "metadata.annotations");
	bool changed = false;
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)ann, k, v) {
		bool skip = false;

		for (size_t i = 0; i < ARRAY_SIZE(skip_annotations); i++)
			skip |= strcmp(k, skip_annotations[i]) == 0;
		if (!skip && json_is_string(v))
			changed |= set_annotation(rs, k, json_string_value(v));
	}
	return changed;
}

/*
 * Annotations of the new ReplicaSet: the Deployment's, the revision
 * (moving a former revision to the history when it was rolled back to),
 * and for a ReplicaSet about to be created the replicas annotations.
 */
static bool set_new_rs_annotations(const json_t *d, json_t *rs, long long revision, bool exists)
{
	const char *old = annotation(rs, DEPLOY_REVISION);
	bool changed = copy_annotations(d, rs);
	long long old_rev = 0;
	char buf[32];

	if (old && *old) {
		char *end;

		old_rev = strtoll(old, &end, 10);
		if (*end)
			return changed; /* not ours to interpret */
	}
	if (old_rev < revision) {
		char *old_copy = old ? xstrdup(old) : NULL;

		snprintf(buf, sizeof(buf), "%lld", revision);
		set_annotation(rs, DEPLOY_REVISION, buf);
		changed = true;
		if (old_copy && *old_copy) {
			const char *hist = annotation(rs, DEPLOY_REVISION_HISTORY);
			struct buf h = { 0 };

			if (hist && *hist) {
				/* Drop the oldest entries until it fits. */
				while (hist && strlen(hist) + strlen(old_copy) + 1 >
						       MAX_REV_HISTORY_CHARS) {
					hist = strchr(hist, ',');
					hist = hist ? hist + 1 : NULL;
				}
				if (hist && *hist)
					buf_appendf(&h, "%s,", hist);
			}
			buf_appendf(&h, "%s", old_copy);
			set_annotation(rs, DEPLOY_REVISION_HISTORY, h.data);
			buf_free(&h);
		}
		free(old_copy);
	}
	if (!exists)
		changed |= set_replicas_annotations(rs, spec_replicas(d),
						    spec_replicas(d) + deploy_max_surge(d));
	return changed;
}

/* The Deployment's revision annotation, through a merge patch. */
static int set_deployment_revision(struct dsync *s, const char *revision)
{
	json_t *patch, *out = NULL;
	int rc;

	if (!revision || strcmp(annotation(s->d, DEPLOY_REVISION) ?: "", revision) == 0)
		return 0;
	patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", DEPLOY_REVISION, revision);
	rc = s->api->patch(s->api->ctx, CM_DEPLOYMENTS,
			   jsonx_path_str(s->d, "metadata.namespace", ""), name_of(s->d), NULL,
			   "merge", patch, &out);
	json_decref(patch);
	if (rc == 200)
		refresh(s->d, out);
	json_decref(out);
	return rc == 200 ? 0 : write_failed(s, "revision annotation", rc);
}

/* The owned ReplicaSet whose template is the Deployment's (borrowed), or NULL. */
static json_t *find_new(struct dsync *s)
{
	json_t *rs;
	size_t i;

	json_array_foreach(s->rss, i, rs) {
		if (deploy_template_equal(jsonx_get_path(rs, "spec.template"),
					  jsonx_get_path(s->d, "spec.template")))
			return rs;
	}
	return NULL;
}

/* A new array of the owned ReplicaSets other than new_rs. */
static json_t *olds_of(struct dsync *s, const json_t *new_rs)
{
	json_t *out = json_array(), *rs;
	size_t i;

	json_array_foreach(s->rss, i, rs) {
		if (rs != new_rs)
			json_array_append(out, rs);
	}
	return out;
}

/* Set a Progressing condition on s->d and write the status. */
static int set_progressing(struct dsync *s, const char *status, const char *reason, const char *msg)
{
	json_t *st = json_deep_copy(jsonx_obj(s->d, "status"));
	int rc;

	if (!st)
		st = json_object();
	cm_cond_set(st, cm_cond_new("Progressing", status, reason, msg, s->env->now, true));
	rc = cm_status_equal(st, jsonx_obj(s->d, "status")) ? 0 : update_status(s, st);
	json_decref(st);
	return rc;
}

/* Create the new ReplicaSet; *out is the element appended to s->rss. */
static int create_new(struct dsync *s, const json_t *olds, json_t **out)
{
	const json_t *d = s->d;
	long long collisions = jsonx_path_int(d, "status.collisionCount", -1);
	json_t *tmpl = json_deep_copy(jsonx_get_path(d, "spec.template"));
	json_t *sel = json_deep_copy(jsonx_get_path(d, "spec.selector"));
	json_t *rs, *answer = NULL, *existing = NULL, *x;
	char hash[16], name[320], msg[512];
	long long revision = 0;
	int rc, replicas;
	size_t i;

	cm_template_hash(jsonx_get_path(d, "spec.template"), collisions, hash, sizeof(hash));
	snprintf(name, sizeof(name), "%s-%s", name_of(d), hash);
	if (!tmpl)
		tmpl = json_object();
	jsonx_set_path(tmpl, "metadata.labels." DEPLOY_HASH_LABEL, json_string(hash));
	jsonx_set_path(sel, "matchLabels." DEPLOY_HASH_LABEL, json_string(hash));
	rs = json_pack("{s:s,s:s,s:{s:s,s:s,s:O,s:[o]},s:{s:i,s:I,s:o,s:o}}", "apiVersion",
		       D_API_VERSION, "kind", "ReplicaSet", "metadata", "name", name, "namespace",
		       jsonx_path_str(d, "metadata.namespace", ""), "labels",
		       jsonx_get_path(tmpl, "metadata.labels"), "ownerReferences",
		       cm_owner_ref(d, D_KIND, D_API_VERSION), "spec", "replicas", 0,
		       "minReadySeconds", (json_int_t)jsonx_path_int(d, "spec.minReadySeconds", 0),
		       "selector", sel, "template", tmpl);
	json_array_foreach(olds, i, x)
		revision = MAX(revision, revision_of(x));
	set_new_rs_annotations(d, rs, revision + 1, false);
	replicas = deploy_new_rs_replicas(d, olds, rs);
	jsonx_set_path(rs, "spec.replicas", json_integer(replicas));

	rc = s->api->create(s->api->ctx, CM_REPLICASETS, rs, &answer);
	if (rc == 409) {
		/* Ours already (the informer is behind), or a hash collision. */
		json_array_foreach(s->cache, i, x) {
			if (strcmp(name_of(x), name) == 0)
				existing = x;
		}
		if (existing && cm_is_controlled_by(existing, d) &&
		    deploy_template_equal(jsonx_get_path(existing, "spec.template"),
					  jsonx_get_path(d, "spec.template"))) {
			json_decref(answer);
			answer = json_deep_copy(existing);
			rc = 201;
			replicas = 0;
		} else if (existing) {
			json_t *st = json_deep_copy(jsonx_obj(d, "status"));

			if (!st)
				st = json_object();
			json_object_set_new(st, "collisionCount",
					    json_integer(MAX(collisions, 0) + 1));
			log_info("deployment %s: hash collision with ReplicaSet %s", name_of(d),
				 name);
			update_status(s, st);
			json_decref(st);
			rc = -EEXIST;
		} else {
			rc = -EAGAIN;
		}
	}
	json_decref(rs);
	if (rc != 201) {
		json_decref(answer);
		return rc < 0 ? rc : write_failed(s, "creating the ReplicaSet", rc);
	}
	json_array_append_new(s->rss, answer);
	*out = answer;
	if (replicas > 0) {
		snprintf(msg, sizeof(msg), "Scaled up replica set %s from 0 to %d", name, replicas);
		event(s, "Normal", "ScalingReplicaSet", msg);
	}
	rc = set_deployment_revision(s, annotation(answer, DEPLOY_REVISION));
	if (rc == 0 && has_progress_deadline(s->d)) {
		snprintf(msg, sizeof(msg), "Created new replica set \"%s\"", name);
		rc = set_progressing(s, "True", "NewReplicaSetCreated", msg);
	}
	return rc;
}

/*
 * The new ReplicaSet (borrowed from s->rss, NULL if none and !create) with
 * its annotations brought up to date, and *olds, a new array of the others.
 */
static int new_and_olds(struct dsync *s, bool create, json_t **new_rs, json_t **olds)
{
	long long revision = 0, mrs = jsonx_path_int(s->d, "spec.minReadySeconds", 0);
	json_t *rs = find_new(s), *x, *copy;
	bool changed;
	size_t i;
	int rc = 0;

	*olds = olds_of(s, rs);
	*new_rs = NULL;
	json_array_foreach(*olds, i, x)
		revision = MAX(revision, revision_of(x));
	if (!rs) {
		if (!create)
			return 0;
		return create_new(s, *olds, new_rs);
	}
	copy = json_deep_copy(rs);
	changed = set_new_rs_annotations(s->d, copy, revision + 1, true);
	if (changed || jsonx_path_int(copy, "spec.minReadySeconds", 0) != mrs) {
		json_t *out = NULL;

		jsonx_set_path(copy, "spec.minReadySeconds", json_integer(mrs));
		rc = s->api->update(s->api->ctx, CM_REPLICASETS, copy, NULL, &out);
		if (rc == 200)
			refresh(rs, out);
		json_decref(out);
		rc = rc == 200 ? 0 : write_failed(s, "updating the new ReplicaSet", rc);
	}
	json_decref(copy);
	if (rc == 0)
		rc = set_deployment_revision(s, annotation(rs, DEPLOY_REVISION));
	if (rc == 0 && has_progress_deadline(s->d) &&
	    !cm_cond_get(jsonx_obj(s->d, "status"), "Progressing")) {
		char msg[512];

		snprintf(msg, sizeof(msg), "Found new replica set \"%s\"", name_of(rs));
		rc = set_progressing(s, "True", "FoundNewReplicaSet", msg);
	}
	*new_rs = rs;
	return rc;
}

/* A new array: olds + new (when not NULL). */
static json_t *all_of(const json_t *olds, const json_t *new_rs)
{
	json_t *all = json_copy((json_t *)olds);

	if (new_rs)
		json_array_append(all, (json_t *)new_rs);
	return all;
}

/* Write the status computed from the ReplicaSets, if it changed. */
static int sync_deployment_status(struct dsync *s, const json_t *all, const json_t *new_rs)
{
	json_t *st = deploy_calc_status(s->d, all, new_rs, s->env->now);
	int rc = cm_status_equal(st, jsonx_obj(s->d, "status")) ? 0 : update_status(s, st);

	json_decref(st);
	return rc;
}

/* When a Progressing deployment must be looked at again for its deadline. */
static void requeue_stuck(struct dsync *s, const json_t *st)
{
	const json_t *c = cm_cond_get(st, "Progressing");
	const char *reason = jsonx_str(c, "reason", "");
	int64_t at;

	if (!has_progress_deadline(s->d) || !c || deploy_complete(s->d, st) ||
	    strcmp(reason, "ProgressDeadlineExceeded") == 0)
		return;
	at = cm_time_ns(c, "lastUpdateTime") +
	     jsonx_path_int(s->d, "spec.progressDeadlineSeconds", 0) * 1000000000ll;
	/* Timed out means strictly past the deadline: come back just after it. */
	s->requeue_ns = MAX(at - s->env->now, 0) + 1000000;
}

static int sync_rollout_status(struct dsync *s, const json_t *all, const json_t *new_rs)
{
	json_t *st = deploy_calc_status(s->d, all, new_rs, s->env->now), *cur, *rs;
	char msg[512];
	bool complete;
	size_t i;
	int rc = 0;

	if (!has_progress_deadline(s->d))
		cm_cond_remove(st, "Progressing");
	cur = cm_cond_get(st, "Progressing");
	complete = jsonx_int(st, "replicas", 0) == jsonx_int(st, "updatedReplicas", 0) && cur &&
		   strcmp(jsonx_str(cur, "reason", ""), "NewReplicaSetAvailable") == 0;
	if (has_progress_deadline(s->d) && !complete) {
		if (deploy_complete(s->d, st)) {
			if (new_rs)
				snprintf(msg, sizeof(msg),
					 "ReplicaSet \"%s\" has successfully progressed.",
					 name_of(new_rs));
			else
				snprintf(msg, sizeof(msg),
					 "Deployment \"%s\" has successfully progressed.",
					 name_of(s->d));
			cm_cond_set(st, cm_cond_new("Progressing", "True", "NewReplicaSetAvailable",
						    msg, s->env->now, true));
		} else if (deploy_progressing(s->d, st)) {
			json_t *c;

			if (new_rs)
				snprintf(msg, sizeof(msg), "ReplicaSet \"%s\" is progressing.",
					 name_of(new_rs));
			else
				snprintf(msg, sizeof(msg), "Deployment \"%s\" is progressing.",
					 name_of(s->d));
			c = cm_cond_new("Progressing", "True", "ReplicaSetUpdated", msg,
					s->env->now, true);
			/* Progress refreshes lastUpdateTime even with an unchanged reason. */
			if (cur && strcmp(jsonx_str(cur, "status", ""), "True") == 0)
				json_object_set(c, "lastTransitionTime",
						json_object_get(cur, "lastTransitionTime"));
			cm_cond_remove(st, "Progressing");
			cm_cond_set(st, c);
		} else if (deploy_timed_out(s->d, st, s->env->now)) {
			if (new_rs)
				snprintf(msg, sizeof(msg),
					 "ReplicaSet \"%s\" has timed out progressing.",
					 name_of(new_rs));
			else
				snprintf(msg, sizeof(msg),
					 "Deployment \"%s\" has timed out progressing.",
					 name_of(s->d));
			cm_cond_set(st,
				    cm_cond_new("Progressing", "False", "ProgressDeadlineExceeded",
						msg, s->env->now, true));
		}
	}
	/* A ReplicaSet's failure to create pods is the Deployment's too. */
	cur = new_rs ? cm_cond_get(jsonx_obj(new_rs, "status"), "ReplicaFailure") : NULL;
	json_array_foreach(all, i, rs) {
		if (!cur)
			cur = cm_cond_get(jsonx_obj(rs, "status"), "ReplicaFailure");
	}
	if (cur) {
		json_t *c = cm_cond_new("ReplicaFailure", jsonx_str(cur, "status", "True"),
					jsonx_str(cur, "reason", ""), jsonx_str(cur, "message", ""),
					s->env->now, true);

		cm_cond_set(st, c);
	} else {
		cm_cond_remove(st, "ReplicaFailure");
	}
	if (cm_status_equal(st, jsonx_obj(s->d, "status")))
		requeue_stuck(s, st);
	else
		rc = update_status(s, st);
	json_decref(st);
	return rc;
}

/* Delete old ReplicaSets beyond revisionHistoryLimit that have nothing left. */
static int cleanup(struct dsync *s, const json_t *olds)
{
	json_t *limit_v = jsonx_get_path(s->d, "spec.revisionHistoryLimit");
	json_t *cands = json_array(), *rs;
	long long limit, diff;
	size_t i;
	int rc = 0;

	if (!json_is_integer(limit_v)) {
		json_decref(cands);
		return 0;
	}
	limit = json_integer_value(limit_v);
	json_array_foreach(olds, i, rs) {
		if (!cm_is_deleting(rs))
			json_array_append(cands, rs);
	}
	diff = (long long)json_array_size(cands) - limit;
	sort_array(cands, by_revision);
	for (i = 0; (long long)i < diff; i++) {
		const json_t *x = json_array_get(cands, i);
		int d;

		if (status_int(x, "replicas") != 0 || spec_replicas(x) != 0 ||
		    jsonx_path_int(x, "metadata.generation", 0) >
			    status_int(x, "observedGeneration"))
			continue;
		d = s->api->del(s->api->ctx, CM_REPLICASETS,
				jsonx_path_str(x, "metadata.namespace", ""), name_of(x), NULL,
				NULL);
		if (d != 200 && d != 202 && d != 404)
			rc = write_failed(s, "deleting an old ReplicaSet", d);
	}
	json_decref(cands);
	return rc;
}

/* The new ReplicaSet runs every replica, available, and knows it is meant to. */
static bool is_saturated(const json_t *d, const json_t *new_rs)
{
	long long desired;

	return new_rs && spec_replicas(new_rs) == spec_replicas(d) &&
	       annotation_int(new_rs, DEPLOY_DESIRED_REPLICAS, &desired) &&
	       desired == spec_replicas(d) &&
	       status_int(new_rs, "availableReplicas") == spec_replicas(d);
}

/* Proportional scaling (spec.replicas changed, or paused). */
static int scale(struct dsync *s, json_t *new_rs, json_t *olds)
{
	int want = spec_replicas(s->d), rc = 0;
	json_t *by_newest = json_copy(olds), *all, *active, *target = NULL;
	size_t i;

	sort_array(by_newest, by_creation_newest);
	all = all_of(by_newest, new_rs);
	active = active_of(all);
	if (json_array_size(active) == 0)
		target = new_rs ? new_rs : json_array_get(by_newest, 0);
	else if (json_array_size(active) == 1)
		target = json_array_get(active, 0);
	if (target || json_array_size(all) == 0) {
		if (target)
			rc = scale_rs(s, target, want);
		goto out;
	}
	if (is_saturated(s->d, new_rs)) {
		/* Saturated: the new ReplicaSet carries everything. */
		json_t *rs;

		json_array_foreach(olds, i, rs) {
			if (spec_replicas(rs) > 0 && rc >= 0)
				rc = scale_and_record(s, rs, 0);
		}
		goto out;
	}
	if (is_rolling(s->d)) {
		int allowed = want > 0 ? want + deploy_max_surge(s->d) : 0;
		int to_add = allowed - sum_spec(active), added = 0;
		size_t n = json_array_size(active);
		int *sizes = xcalloc(n ? n : 1, sizeof(*sizes));
		json_t *rs;

		sort_array(active, to_add > 0 ? by_size_newer : by_size_older);
		json_array_foreach(active, i, rs) {
			int p = to_add ? deploy_proportion(rs, s->d, to_add, added) : 0;

			sizes[i] = spec_replicas(rs) + p;
			added += p;
		}
		/* Leftovers of the rounding go to the largest. */
		if (to_add && n) {
			sizes[0] += to_add - added;
			if (sizes[0] < 0)
				sizes[0] = 0;
		}
		json_array_foreach(active, i, rs) {
			int r = scale_rs(s, rs, sizes[i]);

			if (r < 0 && rc >= 0)
				rc = r;
		}
		free(sizes);
	}
out:
	json_decref(by_newest);
	json_decref(all);
	json_decref(active);
	return rc < 0 ? rc : 0;
}

/* Paused or scaling: scale, clean up when paused, report. */
static int sync_scaling(struct dsync *s)
{
	json_t *new_rs, *olds, *all;
	int rc = new_and_olds(s, false, &new_rs, &olds);

	if (rc == 0)
		rc = scale(s, new_rs, olds);
	if (rc == 0 && jsonx_path_bool(s->d, "spec.paused", false))
		rc = cleanup(s, olds);
	all = all_of(olds, new_rs);
	if (rc == 0)
		rc = sync_deployment_status(s, all, new_rs);
	json_decref(all);
	json_decref(olds);
	return rc;
}

static bool is_scaling_event(struct dsync *s, int *rc)
{
	json_t *new_rs, *olds, *all, *rs;
	bool scaling = false;
	size_t i;

	*rc = new_and_olds(s, false, &new_rs, &olds);
	all = all_of(olds, new_rs);
	json_array_foreach(all, i, rs) {
		long long desired;

		if (spec_replicas(rs) > 0 &&
		    annotation_int(rs, DEPLOY_DESIRED_REPLICAS, &desired) &&
		    desired != spec_replicas(s->d))
			scaling = true;
	}
	json_decref(all);
	json_decref(olds);
	return scaling;
}

static int reconcile_new(struct dsync *s, const json_t *all, json_t *new_rs)
{
	int want = spec_replicas(s->d);

	if (spec_replicas(new_rs) == want)
		return 0;
	if (spec_replicas(new_rs) > want)
		return scale_and_record(s, new_rs, want);
	return scale_and_record(s, new_rs, deploy_new_rs_replicas(s->d, all, new_rs));
}

/* Scale down old ReplicaSets whose pods are not available, oldest first. */
static int cleanup_unhealthy(struct dsync *s, json_t *olds, int max_cleanup, int *cleaned)
{
	json_t *rs;
	size_t i;
	int rc;

	*cleaned = 0;
	sort_array(olds, by_creation);
	json_array_foreach(olds, i, rs) {
		int spec = spec_replicas(rs), avail = status_int(rs, "availableReplicas"), n;

		if (*cleaned >= max_cleanup)
			break;
		if (spec == 0 || spec == avail)
			continue;
		n = MIN(max_cleanup - *cleaned, spec - avail);
		if (n <= 0)
			continue;
		rc = scale_and_record(s, rs, spec - n);
		if (rc < 0)
			return rc;
		*cleaned += n;
	}
	return 0;
}

/* Scale down old ReplicaSets as far as the available pods allow, oldest first. */
static int scale_down_olds(struct dsync *s, const json_t *all, json_t *olds, int *scaled)
{
	int min_available = spec_replicas(s->d) - deploy_max_unavailable(s->d);
	int available = sum_status(all, "availableReplicas"), total;
	json_t *rs;
	size_t i;
	int rc;

	*scaled = 0;
	if (available <= min_available)
		return 0;
	total = available - min_available;
	sort_array(olds, by_creation);
	json_array_foreach(olds, i, rs) {
		int spec = spec_replicas(rs), n;

		if (*scaled >= total)
			break;
		if (spec == 0)
			continue;
		n = MIN(spec, total - *scaled);
		rc = scale_and_record(s, rs, spec - n);
		if (rc < 0)
			return rc;
		*scaled += n;
	}
	return 0;
}

/* 1 when old ReplicaSets were scaled down, 0 when not, -errno. */
static int reconcile_olds(struct dsync *s, const json_t *all, json_t *olds, const json_t *new_rs)
{
	int min_available = spec_replicas(s->d) - deploy_max_unavailable(s->d);
	int new_unavailable = spec_replicas(new_rs) - status_int(new_rs, "availableReplicas");
	int max_down, cleaned, scaled, rc;

	if (sum_spec(olds) == 0)
		return 0;
	/* Pods of the new ReplicaSet that are not available yet count against the budget. */
	max_down = sum_spec(all) - min_available - new_unavailable;
	if (max_down <= 0)
		return 0;
	rc = cleanup_unhealthy(s, olds, max_down, &cleaned);
	if (rc < 0)
		return rc;
	rc = scale_down_olds(s, all, olds, &scaled);
	if (rc < 0)
		return rc;
	return cleaned + scaled > 0;
}

static int rollout_rolling(struct dsync *s)
{
	json_t *new_rs, *olds, *all = NULL, *active = NULL;
	int rc = new_and_olds(s, true, &new_rs, &olds);

	if (rc < 0 || !new_rs)
		goto out;
	all = all_of(olds, new_rs);
	rc = reconcile_new(s, all, new_rs);
	if (rc != 0)
		goto status;
	active = active_of(olds);
	rc = reconcile_olds(s, all, active, new_rs);
	if (rc != 0)
		goto status;
	if (deploy_complete(s->d, jsonx_obj(s->d, "status")))
		rc = cleanup(s, olds);
status:
	if (rc >= 0)
		rc = sync_rollout_status(s, all, new_rs);
out:
	json_decref(all);
	json_decref(active);
	json_decref(olds);
	return rc < 0 ? rc : 0;
}

/* Any pod of an old ReplicaSet that has not finished (terminating ones count). */
static bool old_pods_running(struct dsync *s, const json_t *new_rs, const json_t *olds)
{
	json_t *pod, *rs;
	size_t i, j;

	if (sum_status(olds, "replicas") > 0)
		return true;
	json_array_foreach(s->pods, i, pod) {
		const char *phase = jsonx_path_str(pod, "status.phase", "");

		if (new_rs && cm_is_controlled_by(pod, new_rs))
			continue;
		if (strcmp(phase, "Failed") == 0 || strcmp(phase, "Succeeded") == 0)
			continue;
		json_array_foreach(olds, j, rs) {
			if (cm_is_controlled_by(pod, rs))
				return true;
		}
	}
	return false;
}

static int rollout_recreate(struct dsync *s)
{
	json_t *new_rs, *olds, *all = NULL, *rs;
	int rc = new_and_olds(s, false, &new_rs, &olds), scaled = 0;
	size_t i;

	if (rc < 0)
		goto out;
	all = all_of(olds, new_rs);
	json_array_foreach(olds, i, rs) {
		if (spec_replicas(rs) > 0) {
			rc = scale_and_record(s, rs, 0);
			if (rc < 0)
				goto out;
			scaled |= rc;
		}
	}
	if (scaled || old_pods_running(s, new_rs, olds)) {
		rc = sync_rollout_status(s, all, new_rs);
		goto out;
	}
	if (!new_rs) {
		json_decref(olds);
		rc = new_and_olds(s, true, &new_rs, &olds);
		if (rc < 0 || !new_rs)
			goto out;
		json_decref(all);
		all = all_of(olds, new_rs);
	}
	rc = scale_and_record(s, new_rs, spec_replicas(s->d));
	if (rc < 0)
		goto out;
	rc = 0;
	if (deploy_complete(s->d, jsonx_obj(s->d, "status")))
		rc = cleanup(s, olds);
	if (rc == 0)
		rc = sync_rollout_status(s, all, new_rs);
out:
	json_decref(all);
	json_decref(olds);
	return rc < 0 ? rc : 0;
}

/* Paused and resumed Deployments say so in their Progressing condition. */
static int check_paused(struct dsync *s)
{
	const json_t *c = cm_cond_get(jsonx_obj(s->d, "status"), "Progressing");
	const char *reason = jsonx_str(c, "reason", "");
	bool paused = jsonx_path_bool(s->d, "spec.paused", false);
	bool marked = strcmp(reason, "DeploymentPaused") == 0;

	if (!has_progress_deadline(s->d) || strcmp(reason, "ProgressDeadlineExceeded") == 0)
		return 0;
	if (paused && !marked)
		return set_progressing(s, "Unknown", "DeploymentPaused", "Deployment is paused");
	if (!paused && marked)
		return set_progressing(s, "Unknown", "DeploymentResumed", "Deployment is resumed");
	return 0;
}

int deploy_sync(struct deploy_env *env, const json_t *d, const json_t *rs_list, const json_t *pods,
		int64_t *requeue_ns)
{
	struct dsync s = { .env = env, .api = env->api, .cache = rs_list, .pods = pods };
	struct selector *sel = NULL;
	json_t *owned = NULL, *rs, *empty = json_array();
	char err[256];
	size_t i;
	int rc = 0;

	if (requeue_ns)
		*requeue_ns = 0;
	if (!s.pods)
		s.pods = empty;
	s.d = json_deep_copy(d);
	if (selector_from_json(jsonx_get_path(d, "spec.selector"), &sel, err, sizeof(err)) < 0) {
		log_warn("deployment %s: %s", name_of(d), err);
		goto out;
	}
	if (selector_empty(sel)) {
		event(&s, "Warning", "SelectingAll",
		      "This deployment is selecting all pods. A non-empty selector is required.");
		if (jsonx_path_int(d, "status.observedGeneration", 0) <
		    jsonx_path_int(d, "metadata.generation", 0)) {
			json_t *st = json_deep_copy(jsonx_obj(d, "status"));

			if (!st)
				st = json_object();
			json_object_set_new(
				st, "observedGeneration",
				json_integer(jsonx_path_int(d, "metadata.generation", 0)));
			rc = update_status(&s, st);
			json_decref(st);
		}
		goto out;
	}
	owned = cm_claim(s.api, CM_REPLICASETS, d, D_KIND, D_API_VERSION, sel, rs_list);
	s.rss = json_array();
	json_array_foreach(owned, i, rs)
		json_array_append_new(s.rss, json_deep_copy(rs));
	sort_array(s.rss, by_creation);

	if (cm_is_deleting(d)) {
		json_t *new_rs, *olds, *all;

		rc = new_and_olds(&s, false, &new_rs, &olds);
		all = all_of(olds, new_rs);
		if (rc == 0)
			rc = sync_deployment_status(&s, all, new_rs);
		json_decref(all);
		json_decref(olds);
		goto out;
	}
	rc = check_paused(&s);
	if (rc < 0)
		goto out;
	if (jsonx_path_bool(s.d, "spec.paused", false)) {
		rc = sync_scaling(&s);
		goto out;
	}
	if (is_scaling_event(&s, &rc) && rc == 0) {
		rc = sync_scaling(&s);
		goto out;
	}
	if (rc < 0)
		goto out;
	if (is_rolling(s.d))
		rc = rollout_rolling(&s);
	else
		rc = rollout_recreate(&s);
out:
	if (requeue_ns)
		*requeue_ns = s.requeue_ns;
	selector_free(sel);
	json_decref(owned);
	json_decref(s.rss);
	json_decref(s.d);
	json_decref(empty);
	return rc;
}

/* ---------------------------------------------------------------- controller */

struct deploy_ctrl {
	struct cm *cm;
	struct cm_api api;
	struct workqueue *q;
	struct cm_workers *workers;
};

static void d_on_add(void *ctx, const json_t *obj)
{
	cm_enqueue(((struct deploy_ctrl *)ctx)->q, obj);
}

static void d_on_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
	cm_enqueue(((struct deploy_ctrl *)ctx)->q, new_obj);
}

static json_t *owner_of(struct deploy_ctrl *c, const json_t *rs)
{
	return cm_controller_of(c->cm, CM_DEPLOYMENTS, D_KIND, rs, NULL, 0);
}

static void rs_on_add(void *ctx, const json_t *rs)
{
	struct deploy_ctrl *c = ctx;
	json_t *d = owner_of(c, rs);

	if (d)
		cm_enqueue(c->q, d);
	else if (!cm_controller_ref(rs) && !cm_is_deleting(rs))
		cm_enqueue_selecting(c->cm, CM_DEPLOYMENTS, c->q, rs);
	json_decref(d);
}

static void rs_on_update(void *ctx, const json_t *old_rs, const json_t *new_rs)
{
	struct deploy_ctrl *c = ctx;
	json_t *d = owner_of(c, new_rs), *old_d = owner_of(c, old_rs);

	if (old_d && (!d || !jsonx_equal(jsonx_get_path(d, "metadata.uid"),
					 jsonx_get_path(old_d, "metadata.uid"))))
		cm_enqueue(c->q, old_d);
	if (d)
		cm_enqueue(c->q, d);
	else if (!cm_controller_ref(new_rs) &&
		 (!jsonx_equal(jsonx_get_path(old_rs, "metadata.labels"),
			       jsonx_get_path(new_rs, "metadata.labels")) ||
		  cm_controller_ref(old_rs)))
		cm_enqueue_selecting(c->cm, CM_DEPLOYMENTS, c->q, new_rs);
	json_decref(d);
	json_decref(old_d);
}

static void rs_on_delete(void *ctx, const json_t *rs)
{
	struct deploy_ctrl *c = ctx;
	json_t *d = owner_of(c, rs);

	if (d)
		cm_enqueue(c->q, d);
	json_decref(d);
}

/* Recreate waits for old pods to be gone: their deletion may unblock it. */
static void pod_on_delete(void *ctx, const json_t *pod)
{
	struct deploy_ctrl *c = ctx;
	json_t *rs = cm_controller_of(c->cm, CM_REPLICASETS, "ReplicaSet", pod, NULL, 0);
	json_t *d = rs ? owner_of(c, rs) : NULL;

	if (d && !is_rolling(d))
		cm_enqueue(c->q, d);
	json_decref(d);
	json_decref(rs);
}

static int sync_key(void *ctx, const char *key)
{
	struct deploy_ctrl *c = ctx;
	struct deploy_env env = { .api = &c->api, .now = (int64_t)now_real_ns() };
	const char *name;
	json_t *d, *rss, *pods = NULL;
	int64_t requeue = 0;
	char ns[256];
	int rc;

	if (cm_split_key(key, ns, sizeof(ns), &name) < 0)
		return 0;
	d = cm_get(c->cm, CM_DEPLOYMENTS, ns, name);
	if (!d)
		return 0;
	rss = cm_list(c->cm, CM_REPLICASETS, ns, NULL);
	if (!is_rolling(d))
		pods = cm_list(c->cm, CM_PODS, ns, jsonx_get_path(d, "spec.selector"));
	rc = deploy_sync(&env, d, rss, pods, &requeue);
	if (requeue > 0)
		wq_add_after(c->q, key, (unsigned)MIN(requeue / 1000000 + 1, (int64_t)UINT_MAX));
	json_decref(pods);
	json_decref(rss);
	json_decref(d);
	return rc;
}

static int d_init(struct cm *cm, void **state)
{
	static const struct informer_handlers d_h = { d_on_add, d_on_update, d_on_add };
	static const struct informer_handlers rs_h = { rs_on_add, rs_on_update, rs_on_delete };
	static const struct informer_handlers pod_h = { NULL, NULL, pod_on_delete };
	struct deploy_ctrl *c = xcalloc(1, sizeof(*c));

	c->cm = cm;
	cm_api_init(&c->api, cm, "deployment-controller");
	c->q = wq_new("deployment", 0, 0);
	cm_watch(cm, CM_DEPLOYMENTS, &d_h, c);
	cm_watch(cm, CM_REPLICASETS, &rs_h, c);
	cm_watch(cm, CM_PODS, &pod_h, c);
	*state = c;
	return 0;
}

static int d_start(struct cm *cm, void *state)
{
	struct deploy_ctrl *c = state;

	c->workers = cm_workers_start("deployment", c->q, cm_config(cm)->workers, sync_key, c);
	return c->workers ? 0 : -EAGAIN;
}

static void d_stop(struct cm *cm, void *state)
{
	struct deploy_ctrl *c = state;

	if (!c)
		return;
	cm_workers_stop(c->workers);
	wq_free(c->q);
	free(c);
}

const struct controller deployment_controller = {
	.name = "deployment",
	.init = d_init,
	.start = d_start,
	.stop = d_stop,
};
