/*
 * Unit tests for the ReplicaSet controller's decisions (rs_sync against the
 * in-memory API of test_cm_fake): pods created to match spec.replicas with
 * owner references and generateName, expectations holding back a second
 * sync, slow-start batches on failures and the ReplicaFailure condition,
 * deletion order, adoption and release, status fields and the
 * minReadySeconds requeue.
 */
#include "test.h"

#include <unistd.h>

#include "control/controllers/podutil.h"
#include "control/controllers/replicaset.h"
#include "jsonx.h"
#include "ktime.h"
#include "test_cm_fake.h"

/* 2026-01-01T01:00:00Z */
#define NOW (1767229200ll * 1000000000ll)
#define SEC 1000000000ll

static json_t *make_rs(const char *name, int replicas)
{
	return json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:i},s:{s:i,s:{s:{s:s}},s:{s:{s:{s:s,s:s}},s:{s:["
			 "{s:s,s:s}]}}}}",
			 "apiVersion", "apps/v1", "kind", "ReplicaSet", "metadata", "name", name,
			 "namespace", "default", "uid", "rs-uid", "generation", 2, "spec",
			 "replicas", replicas, "selector", "matchLabels", "app", "web", "template",
			 "metadata", "labels", "app", "web", "tier", "fe", "spec", "containers",
			 "name", "c", "image", "busybox");
}

static void set_time(json_t *obj, const char *path, int64_t ns)
{
	char ts[KTIME_BUFSZ];

	ktime_format(ns, ts, sizeof(ts));
	jsonx_set_path(obj, path, json_string(ts));
}

/*
 * A pod of the default namespace labelled app=web,tier=fe, owned by
 * owner_uid (NULL: orphan), on node ("" unscheduled), in phase, Ready since
 * ready_since (0: not ready), created at created.
 */
static json_t *make_pod(const char *name, const char *owner_uid, const char *node,
			const char *phase, int64_t ready_since, int64_t created)
{
	json_t *pod = json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:{s:s,s:s}},s:{s:s},s:{s:s}}",
				"apiVersion", "v1", "kind", "Pod", "metadata", "name", name,
				"namespace", "default", "uid", name, "labels", "app", "web", "tier",
				"fe", "spec", "nodeName", node, "status", "phase", phase);

	if (owner_uid)
		jsonx_set_path(pod, "metadata.ownerReferences",
			       json_pack("[{s:s,s:s,s:s,s:s,s:b}]", "apiVersion", "apps/v1", "kind",
					 "ReplicaSet", "name", "web", "uid", owner_uid,
					 "controller", 1));
	set_time(pod, "metadata.creationTimestamp", created ? created : NOW - 3600 * SEC);
	if (ready_since) {
		json_t *c = json_pack("{s:s,s:s}", "type", "Ready", "status", "True");

		set_time(c, "lastTransitionTime", ready_since);
		jsonx_set_path(pod, "status.conditions", json_pack("[o]", c));
	}
	return pod;
}

struct rig {
	struct cm_fake f;
	struct cm_expectations *exp;
	struct rs_env env;
};

static void rig_init(struct rig *r)
{
	cm_fake_init(&r->f, "replicaset-controller");
	r->exp = cm_exp_new();
	r->env = (struct rs_env){ .api = &r->f.api, .exp = r->exp, .now = NOW };
}

static void rig_free(struct rig *r)
{
	cm_exp_free(r->exp);
	cm_fake_free(&r->f);
}

/* Sync the stored RS "web" against the stored pods, as the daemon does. */
static int sync_rs(struct rig *r, int64_t *requeue)
{
	json_t *rs = json_incref(cm_fake_get(&r->f, CM_REPLICASETS, "default", "web"));
	bool need = cm_exp_satisfied(r->exp, "default/web");
	json_t *pods = cm_fake_list(&r->f, CM_PODS);
	int rc = rs_sync(&r->env, "default/web", rs, pods, need, requeue);

	json_decref(pods);
	json_decref(rs);
	return rc;
}

static json_t *rs_status(struct rig *r)
{
	return jsonx_obj(cm_fake_get(&r->f, CM_REPLICASETS, "default", "web"), "status");
}

TEST(rs_creates_missing_pods_from_the_template)
{
	struct rig r;
	json_t *pods, *pod, *ref;
	size_t i;

	rig_init(&r);
	cm_fake_put(&r.f, CM_REPLICASETS, make_rs("web", 3));
	ASSERT_OK(sync_rs(&r, NULL));
	ASSERT_EQ(cm_fake_calls(&r.f, "POST pods"), 3);
	ASSERT_EQ(cm_fake_events(&r.f, "SuccessfulCreate"), 3);
	pods = cm_fake_list(&r.f, CM_PODS);
	json_array_foreach(pods, i, pod) {
		ASSERT(strncmp(jsonx_path_str(pod, "metadata.name", ""), "web-", 4) == 0);
		ASSERT_STREQ(jsonx_path_str(pod, "metadata.labels.tier", ""), "fe");
		ASSERT_STREQ(jsonx_path_str(pod, "spec.containers[0].image", ""), "busybox");
		ref = jsonx_get_path(pod, "metadata.ownerReferences[0]");
		ASSERT_STREQ(jsonx_str(ref, "kind", ""), "ReplicaSet");
		ASSERT_STREQ(jsonx_str(ref, "uid", ""), "rs-uid");
		ASSERT(jsonx_bool(ref, "controller", false));
		ASSERT(jsonx_bool(ref, "blockOwnerDeletion", false));
	}
	json_decref(pods);
	/* The informer has not delivered them yet: the status says 0, generation observed. */
	ASSERT_EQ(jsonx_int(rs_status(&r), "replicas", -1), 0);
	ASSERT_EQ(jsonx_int(rs_status(&r), "observedGeneration", 0), 2);
	rig_free(&r);
}

TEST(rs_expectations_hold_back_a_second_sync_until_creates_are_seen)
{
	struct rig r;
	json_t *rs = make_rs("web", 3), *none = json_array();

	rig_init(&r);
	cm_fake_put(&r.f, CM_REPLICASETS, json_incref(rs));
	ASSERT_OK(sync_rs(&r, NULL));
	ASSERT_EQ(cm_fake_calls(&r.f, "POST pods"), 3);
	ASSERT(!cm_exp_satisfied(r.exp, "default/web"));
	/* A sync whose pod list is stale (empty) must not create again. */
	ASSERT_OK(rs_sync(&r.env, "default/web",
			  cm_fake_get(&r.f, CM_REPLICASETS, "default", "web"), none,
			  cm_exp_satisfied(r.exp, "default/web"), NULL));
	ASSERT_EQ(cm_fake_calls(&r.f, "POST pods"), 3);
	cm_exp_creation_observed(r.exp, "default/web");
	cm_exp_creation_observed(r.exp, "default/web");
	ASSERT(!cm_exp_satisfied(r.exp, "default/web"));
	cm_exp_creation_observed(r.exp, "default/web");
	ASSERT(cm_exp_satisfied(r.exp, "default/web"));
	/* Seen: the count is right, nothing more to do. */
	cm_fake_reset_log(&r.f);
	ASSERT_OK(sync_rs(&r, NULL));
	ASSERT_EQ(cm_fake_calls(&r.f, "POST pods"), 0);
	ASSERT_EQ(jsonx_int(rs_status(&r), "replicas", -1), 3);
	json_decref(none);
	json_decref(rs);
	rig_free(&r);
}

TEST(rs_expectations_expire)
{
	struct rig r;

	rig_init(&r);
	cm_exp_set_ttl(r.exp, 20 * 1000000ull);
	cm_exp_expect(r.exp, "default/web", 2, NULL, 0);
	ASSERT(!cm_exp_satisfied(r.exp, "default/web"));
	usleep(30000);
	ASSERT(cm_exp_satisfied(r.exp, "default/web"));
	/* Deletions are tracked by UID: another pod's deletion does not count. */
	const char *uids[] = { "a", "b" };
	cm_exp_expect(r.exp, "default/web", 0, uids, 2);
	cm_exp_deletion_observed(r.exp, "default/web", "zzz");
	cm_exp_deletion_observed(r.exp, "default/web", "a");
	ASSERT(!cm_exp_satisfied(r.exp, "default/web"));
	cm_exp_deletion_observed(r.exp, "default/web", "b");
	ASSERT(cm_exp_satisfied(r.exp, "default/web"));
	cm_exp_forget(r.exp, "default/web");
	ASSERT(cm_exp_satisfied(r.exp, "default/web"));
	rig_free(&r);
}

TEST(rs_slow_start_stops_after_the_first_failing_batch)
{
	struct rig r;
	json_t *cond;

	rig_init(&r);
	cm_fake_put(&r.f, CM_REPLICASETS, make_rs("web", 10));
	/* Batches 1 and 2 succeed (3 pods), the batch of 4 fails: 7 calls, not 10. */
	r.f.fail_create = 403;
	r.f.creates_before_failing = 3;
	ASSERT_EQ(sync_rs(&r, NULL), -EIO);
	ASSERT_EQ(cm_fake_calls(&r.f, "POST pods"), 7);
	ASSERT_EQ(cm_fake_count(&r.f, CM_PODS), 3);
	ASSERT_EQ(cm_fake_events(&r.f, "SuccessfulCreate"), 3);
	ASSERT_EQ(cm_fake_events(&r.f, "FailedCreate"), 4);
	ASSERT_STREQ(cm_fake_event_message(&r.f, "FailedCreate"),
		     "Error creating: injected failure");
	cond = cm_cond_get(rs_status(&r), "ReplicaFailure");
	ASSERT_NOT_NULL(cond);
	ASSERT_STREQ(jsonx_str(cond, "status", ""), "True");
	ASSERT_STREQ(jsonx_str(cond, "reason", ""), "FailedCreate");
	ASSERT_STREQ(jsonx_str(cond, "message", ""), "injected failure");
	/* Only the 3 real pods are still expected. */
	for (int i = 0; i < 3; i++) {
		ASSERT(!cm_exp_satisfied(r.exp, "default/web"));
		cm_exp_creation_observed(r.exp, "default/web");
	}
	ASSERT(cm_exp_satisfied(r.exp, "default/web"));

	/* Every create fails: exactly one attempt. */
	cm_fake_reset_log(&r.f);
	r.f.creates_before_failing = 0;
	ASSERT_EQ(sync_rs(&r, NULL), -EIO);
	ASSERT_EQ(cm_fake_calls(&r.f, "POST pods"), 1);

	/* Creates work again: the condition goes away. */
	r.f.fail_create = 0;
	cm_exp_creation_observed(r.exp, "default/web");
	ASSERT_OK(sync_rs(&r, NULL));
	ASSERT_EQ(cm_fake_count(&r.f, CM_PODS), 10);
	cm_exp_forget(r.exp, "default/web");
	ASSERT_OK(sync_rs(&r, NULL));
	ASSERT_NULL(cm_cond_get(rs_status(&r), "ReplicaFailure"));
	ASSERT_EQ(jsonx_int(rs_status(&r), "replicas", 0), 10);
	rig_free(&r);
}

TEST(rs_slow_start_batches_are_powers_of_two)
{
	struct rig r;

	rig_init(&r);
	cm_fake_put(&r.f, CM_REPLICASETS, make_rs("web", 100));
	r.f.fail_create = 500;
	r.f.creates_before_failing = 1 + 2 + 4 + 8 + 16; /* the batch of 32 fails */
	ASSERT_EQ(sync_rs(&r, NULL), -EIO);
	ASSERT_EQ(cm_fake_calls(&r.f, "POST pods"), 63);
	ASSERT_EQ(cm_fake_count(&r.f, CM_PODS), 31);
	rig_free(&r);
}

TEST(rs_scale_down_deletes_the_least_useful_pods_first)
{
	struct rig r;
	json_t *gone;

	rig_init(&r);
	cm_fake_put(&r.f, CM_REPLICASETS, make_rs("web", 2));
	cm_fake_put(&r.f, CM_PODS,
		    make_pod("ready-old", "rs-uid", "n1", "Running", NOW - 600 * SEC, 0));
	cm_fake_put(&r.f, CM_PODS,
		    make_pod("ready-new", "rs-uid", "n2", "Running", NOW - 5 * SEC, 0));
	cm_fake_put(&r.f, CM_PODS, make_pod("unscheduled", "rs-uid", "", "Pending", 0, 0));
	cm_fake_put(&r.f, CM_PODS, make_pod("pending", "rs-uid", "n3", "Pending", 0, 0));
	cm_fake_put(&r.f, CM_PODS, make_pod("notready", "rs-uid", "n4", "Running", 0, 0));
	ASSERT_OK(sync_rs(&r, NULL));
	ASSERT_EQ(cm_fake_calls(&r.f, "DELETE pods"), 3);
	ASSERT_EQ(cm_fake_calls(&r.f, "DELETE pods default/unscheduled"), 1);
	ASSERT_EQ(cm_fake_calls(&r.f, "DELETE pods default/pending"), 1);
	ASSERT_EQ(cm_fake_calls(&r.f, "DELETE pods default/notready"), 1);
	ASSERT_EQ(cm_fake_events(&r.f, "SuccessfulDelete"), 3);
	ASSERT(!cm_exp_satisfied(r.exp, "default/web"));
	cm_exp_deletion_observed(r.exp, "default/web", "unscheduled");
	cm_exp_deletion_observed(r.exp, "default/web", "pending");
	ASSERT(!cm_exp_satisfied(r.exp, "default/web"));
	cm_exp_deletion_observed(r.exp, "default/web", "notready");
	ASSERT(cm_exp_satisfied(r.exp, "default/web"));

	/* One more: the pod ready for less time goes. */
	json_object_set_new(
		json_object_get(cm_fake_get(&r.f, CM_REPLICASETS, "default", "web"), "spec"),
		"replicas", json_integer(1));
	ASSERT_OK(sync_rs(&r, NULL));
	gone = cm_fake_get(&r.f, CM_PODS, "default", "ready-new");
	ASSERT_NULL(gone);
	ASSERT_NOT_NULL(cm_fake_get(&r.f, CM_PODS, "default", "ready-old"));
	rig_free(&r);
}

static const char *first_victim(json_t *pods)
{
	json_t *v = rs_pods_to_delete(pods, 1, NOW);
	static char name[64];

	snprintf(name, sizeof(name), "%s",
		 jsonx_path_str(json_array_get(v, 0), "metadata.name", ""));
	json_decref(v);
	json_decref(pods);
	return name;
}

TEST(rs_deletion_order_tie_breakers)
{
	json_t *a, *b, *v;

	/* Unknown before Running. */
	ASSERT_STREQ(first_victim(json_pack("[oo]", make_pod("run", "u", "n1", "Running", 0, 0),
					    make_pod("unk", "u", "n1", "Unknown", 0, 0))),
		     "unk");
	/* Lower pod-deletion-cost first, even if it is older and ready longer. */
	a = make_pod("cheap", "u", "n1", "Running", NOW - 3600 * SEC, NOW - 7200 * SEC);
	b = make_pod("dear", "u", "n2", "Running", NOW - 10 * SEC, NOW - 20 * SEC);
	jsonx_set_path(a, "metadata.annotations",
		       json_pack("{s:s}", "controller.kubernetes.io/pod-deletion-cost", "-5"));
	ASSERT_STREQ(first_victim(json_pack("[oo]", a, b)), "cheap");
	/* Doubled-up node first. */
	ASSERT_STREQ(
		first_victim(json_pack(
			"[ooo]",
			make_pod("alone", "u", "n1", "Running", NOW - 10 * SEC, NOW - 10 * SEC),
			make_pod("pair1", "u", "n2", "Running", NOW - 3000 * SEC, NOW - 3000 * SEC),
			make_pod("pair2", "u", "n2", "Running", NOW - 3000 * SEC,
				 NOW - 3000 * SEC))),
		"pair1");
	/* Ready 3 s and 2 s are one bucket: more restarts decide. */
	a = make_pod("r3", "u", "n1", "Running", NOW - 3 * SEC, 0);
	b = make_pod("r2", "u", "n2", "Running", NOW - 2 * SEC, 0);
	jsonx_set_path(a, "status.containerStatuses", json_pack("[{s:i}]", "restartCount", 4));
	ASSERT_STREQ(first_victim(json_pack("[oo]", b, a)), "r3");
	/* Otherwise the newer pod. */
	ASSERT_STREQ(first_victim(json_pack(
			     "[oo]", make_pod("old", "u", "n1", "Running", 0, NOW - 100 * SEC),
			     make_pod("new", "u", "n2", "Running", 0, NOW - 50 * SEC))),
		     "new");
	/* n <= 0 or no pods: nothing. */
	v = rs_pods_to_delete(NULL, 3, NOW);
	ASSERT_EQ(json_array_size(v), 0);
	json_decref(v);
	a = json_pack("[o]", make_pod("x", "u", "", "Pending", 0, 0));
	v = rs_pods_to_delete(a, 0, NOW);
	ASSERT_EQ(json_array_size(v), 0);
	json_decref(v);
	v = rs_pods_to_delete(a, 5, NOW);
	ASSERT_EQ(json_array_size(v), 1);
	json_decref(v);
	json_decref(a);
}

TEST(rs_adopts_orphans_and_releases_pods_that_stop_matching)
{
	struct rig r;
	json_t *pod, *released, *other, *refs;

	rig_init(&r);
	cm_fake_put(&r.f, CM_REPLICASETS, make_rs("web", 2));
	cm_fake_put(&r.f, CM_PODS, make_pod("orphan", NULL, "n1", "Running", 0, 0));
	pod = make_pod("strayed", "rs-uid", "n1", "Running", 0, 0);
	jsonx_set_path(pod, "metadata.labels.app", json_string("db"));
	cm_fake_put(&r.f, CM_PODS, pod);
	other = make_pod("theirs", "other-uid", "n1", "Running", 0, 0);
	cm_fake_put(&r.f, CM_PODS, other);
	cm_fake_put(&r.f, CM_PODS, make_pod("mine", "rs-uid", "n1", "Running", 0, 0));
	ASSERT_OK(sync_rs(&r, NULL));
	/* Adopted with the UID pinned; released with a $patch delete. */
	ASSERT_EQ(cm_fake_calls(&r.f, "PATCH pods default/orphan"), 1);
	ASSERT_EQ(cm_fake_calls(&r.f, "PATCH pods default/strayed"), 1);
	ASSERT_EQ(cm_fake_calls(&r.f, "PATCH pods default/theirs"), 0);
	refs = jsonx_get_path(cm_fake_get(&r.f, CM_PODS, "default", "orphan"),
			      "metadata.ownerReferences");
	ASSERT_EQ(json_array_size(refs), 1);
	ASSERT_STREQ(jsonx_path_str(refs, "[0].uid", ""), "rs-uid");
	released = cm_fake_get(&r.f, CM_PODS, "default", "strayed");
	ASSERT_EQ(json_array_size(jsonx_get_path(released, "metadata.ownerReferences")), 0);
	/* mine + orphan = 2: nothing to create or delete. */
	ASSERT_EQ(cm_fake_calls(&r.f, "POST pods"), 0);
	ASSERT_EQ(cm_fake_calls(&r.f, "DELETE pods"), 0);
	ASSERT_EQ(jsonx_int(rs_status(&r), "replicas", 0), 2);
	rig_free(&r);
}

TEST(rs_ignores_terminating_and_finished_pods)
{
	struct rig r;
	json_t *pod;

	rig_init(&r);
	cm_fake_put(&r.f, CM_REPLICASETS, make_rs("web", 2));
	pod = make_pod("going", "rs-uid", "n1", "Running", NOW - 60 * SEC, 0);
	set_time(pod, "metadata.deletionTimestamp", NOW);
	cm_fake_put(&r.f, CM_PODS, pod);
	cm_fake_put(&r.f, CM_PODS, make_pod("failed", "rs-uid", "n1", "Failed", 0, 0));
	cm_fake_put(&r.f, CM_PODS, make_pod("done", "rs-uid", "n1", "Succeeded", 0, 0));
	/* An orphan being deleted is not adopted either. */
	pod = make_pod("orphan-going", NULL, "n1", "Running", 0, 0);
	set_time(pod, "metadata.deletionTimestamp", NOW);
	cm_fake_put(&r.f, CM_PODS, pod);
	ASSERT_OK(sync_rs(&r, NULL));
	ASSERT_EQ(cm_fake_calls(&r.f, "POST pods"), 2);
	ASSERT_EQ(cm_fake_calls(&r.f, "PATCH pods"), 0);
	ASSERT_EQ(cm_fake_calls(&r.f, "DELETE pods"), 0);
	rig_free(&r);
}

TEST(rs_being_deleted_creates_nothing_and_keeps_its_pods)
{
	struct rig r;
	json_t *rs = make_rs("web", 3), *pod;

	rig_init(&r);
	set_time(rs, "metadata.deletionTimestamp", NOW);
	cm_fake_put(&r.f, CM_REPLICASETS, rs);
	pod = make_pod("strayed", "rs-uid", "n1", "Running", 0, 0);
	jsonx_set_path(pod, "metadata.labels.app", json_string("db"));
	cm_fake_put(&r.f, CM_PODS, pod);
	cm_fake_put(&r.f, CM_PODS, make_pod("orphan", NULL, "n1", "Running", 0, 0));
	ASSERT_OK(sync_rs(&r, NULL));
	ASSERT_EQ(cm_fake_calls(&r.f, "POST pods"), 0);
	ASSERT_EQ(cm_fake_calls(&r.f, "PATCH pods"), 0);
	rig_free(&r);
}

TEST(rs_status_counts_and_min_ready_seconds_requeue)
{
	struct rig r;
	json_t *rs = make_rs("web", 4), *pod, *st;
	int64_t requeue = 0;

	rig_init(&r);
	jsonx_set_path(rs, "spec.minReadySeconds", json_integer(10));
	cm_fake_put(&r.f, CM_REPLICASETS, rs);
	cm_fake_put(&r.f, CM_PODS, make_pod("a", "rs-uid", "n1", "Running", NOW - 60 * SEC, 0));
	cm_fake_put(&r.f, CM_PODS, make_pod("b", "rs-uid", "n1", "Running", NOW - 4 * SEC, 0));
	cm_fake_put(&r.f, CM_PODS, make_pod("c", "rs-uid", "n1", "Running", NOW - 7 * SEC, 0));
	pod = make_pod("d", "rs-uid", "n1", "Pending", 0, 0);
	json_object_del(jsonx_get_path(pod, "metadata.labels"), "tier");
	cm_fake_put(&r.f, CM_PODS, pod);
	ASSERT_OK(sync_rs(&r, &requeue));
	st = rs_status(&r);
	ASSERT_EQ(jsonx_int(st, "replicas", 0), 4);
	ASSERT_EQ(jsonx_int(st, "fullyLabeledReplicas", 0), 3);
	ASSERT_EQ(jsonx_int(st, "readyReplicas", 0), 3);
	ASSERT_EQ(jsonx_int(st, "availableReplicas", 0), 1);
	ASSERT_EQ(jsonx_int(st, "observedGeneration", 0), 2);
	/* c becomes available in 3 s, b in 6 s: come back in 3 s. */
	ASSERT_EQ(requeue, 3 * SEC);
	/* Later: everything ready long enough, no requeue. */
	r.env.now = NOW + 60 * SEC;
	ASSERT_OK(sync_rs(&r, &requeue));
	ASSERT_EQ(jsonx_int(rs_status(&r), "availableReplicas", 0), 3);
	ASSERT_EQ(requeue, 0);
	/* Unchanged status: no write. */
	cm_fake_reset_log(&r.f);
	ASSERT_OK(sync_rs(&r, &requeue));
	ASSERT_EQ(cm_fake_calls(&r.f, "PUT replicasets"), 0);
	rig_free(&r);
}

TEST(rs_status_conflict_is_retried_and_bad_selector_is_not)
{
	struct rig r;
	json_t *rs;

	rig_init(&r);
	cm_fake_put(&r.f, CM_REPLICASETS, make_rs("web", 0));
	r.f.fail_status = 409;
	ASSERT_EQ(sync_rs(&r, NULL), -EAGAIN);
	r.f.fail_status = 0;
	ASSERT_OK(sync_rs(&r, NULL));

	rs = make_rs("web", 3);
	jsonx_set_path(
		rs, "spec.selector",
		json_pack("{s:[{s:s,s:s}]}", "matchExpressions", "key", "app", "operator", "In"));
	cm_fake_put(&r.f, CM_REPLICASETS, rs);
	cm_fake_reset_log(&r.f);
	ASSERT_OK(sync_rs(&r, NULL));
	ASSERT_EQ(json_array_size(r.f.calls), 0);
	rig_free(&r);
}

TEST(rs_failed_deletes_are_reported_and_not_expected)
{
	struct rig r;

	rig_init(&r);
	cm_fake_put(&r.f, CM_REPLICASETS, make_rs("web", 0));
	cm_fake_put(&r.f, CM_PODS, make_pod("a", "rs-uid", "n1", "Running", 0, 0));
	r.f.fail_delete = 500;
	ASSERT_EQ(sync_rs(&r, NULL), -EIO);
	ASSERT(cm_exp_satisfied(r.exp, "default/web"));
	ASSERT_EQ(cm_fake_events(&r.f, "FailedDelete"), 1);
	ASSERT_STREQ(jsonx_str(cm_cond_get(rs_status(&r), "ReplicaFailure"), "reason", ""),
		     "FailedDelete");
	/* Already gone (404) is not an error. */
	r.f.fail_delete = 404;
	ASSERT_OK(sync_rs(&r, NULL));
	rig_free(&r);
}
