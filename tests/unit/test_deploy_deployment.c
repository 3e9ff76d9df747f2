/*
 * Unit tests for the Deployment controller: the rollout arithmetic
 * (maxSurge/maxUnavailable rounding, new ReplicaSet size, proportions),
 * and deploy_sync driven against the in-memory API of test_cm_fake with a
 * small simulation of the ReplicaSet controller and kubelet: rolling
 * updates checked against surge and availability bounds after every step,
 * Recreate, revisions and rollback, history cleanup, pause, proportional
 * scaling, conditions, the progress deadline, and the predicates
 * `kubectl rollout status` uses.
 */
#include "test.h"

#include <limits.h>

#include "control/controllers/deployment.h"
#include "control/controllers/podutil.h"
#include "jsonx.h"
#include "ktime.h"
#include "test_cm_fake.h"

#define SEC 1000000000ll
/* 2026-01-01T02:00:00Z */
#define T0 (1767232800ll * SEC)

/* ---------------------------------------------------------------- arithmetic */

static int fence(json_t *surge, json_t *unavail, int desired, int *s, int *u)
{
	int rc = deploy_resolve_fenceposts(surge, unavail, desired, s, u);

	json_decref(surge);
	json_decref(unavail);
	return rc;
}

TEST(deploy_fenceposts_round_surge_up_and_unavailable_down)
{
	int s = -1, u = -1;

	ASSERT_OK(fence(json_string("25%"), json_string("25%"), 10, &s, &u));
	ASSERT_EQ(s, 3);
	ASSERT_EQ(u, 2);
	ASSERT_OK(fence(NULL, NULL, 10, &s, &u)); /* defaults are 25% */
	ASSERT_EQ(s, 3);
	ASSERT_EQ(u, 2);
	ASSERT_OK(fence(json_string("50%"), json_string("50%"), 1, &s, &u));
	ASSERT_EQ(s, 1);
	ASSERT_EQ(u, 0);
	ASSERT_OK(fence(json_string("200%"), json_string("33%"), 3, &s, &u));
	ASSERT_EQ(s, 6);
	ASSERT_EQ(u, 0);
	/* Both zero would block the rollout: unavailable becomes 1. */
	ASSERT_OK(fence(json_integer(0), json_integer(0), 5, &s, &u));
	ASSERT_EQ(s, 0);
	ASSERT_EQ(u, 1);
	ASSERT_OK(fence(json_string("0%"), json_string("10%"), 5, &s, &u));
	ASSERT_EQ(s, 0);
	ASSERT_EQ(u, 1);
	ASSERT_OK(fence(json_integer(2), json_integer(0), 0, &s, &u));
	ASSERT_EQ(s, 2);
	ASSERT_EQ(u, 0);
	/* Malformed values. */
	ASSERT_EQ(fence(json_string("abc"), NULL, 4, &s, &u), -EINVAL);
	ASSERT_EQ(fence(json_string("10"), NULL, 4, &s, &u), -EINVAL);
	ASSERT_EQ(fence(json_string("-5%"), NULL, 4, &s, &u), -EINVAL);
	ASSERT_EQ(fence(NULL, json_integer(-1), 4, &s, &u), -EINVAL);
	ASSERT_EQ(fence(NULL, json_real(1.5), 4, &s, &u), -EINVAL);
	ASSERT_EQ(fence(NULL, json_string("5.5%"), 4, &s, &u), -EINVAL);
	ASSERT_EQ(fence(json_string(""), NULL, 4, &s, &u), -EINVAL);
}

static json_t *make_deploy(int replicas, const char *surge, const char *unavail)
{
	json_t *d = json_pack(
		"{s:s,s:s,s:{s:s,s:s,s:s,s:i},s:{s:i,s:{s:{s:s}},s:{s:{s:{s:s}},s:{s:[{s:s,s:s}]}},"
		"s:{s:s},s:i,s:i}}",
		"apiVersion", "apps/v1", "kind", "Deployment", "metadata", "name", "web",
		"namespace", "default", "uid", "d-uid", "generation", 1, "spec", "replicas",
		replicas, "selector", "matchLabels", "app", "web", "template", "metadata", "labels",
		"app", "web", "spec", "containers", "name", "c", "image", "nginx:1", "strategy",
		"type", "RollingUpdate", "revisionHistoryLimit", 10, "progressDeadlineSeconds",
		600);

	if (surge || unavail) {
		json_t *ru = json_object();

		if (surge)
			json_object_set_new(ru, "maxSurge",
					    strchr(surge, '%') ? json_string(surge)
							       : json_integer(atoi(surge)));
		if (unavail)
			json_object_set_new(ru, "maxUnavailable",
					    strchr(unavail, '%') ? json_string(unavail)
								 : json_integer(atoi(unavail)));
		jsonx_set_path(d, "spec.strategy.rollingUpdate", ru);
	}
	return d;
}

TEST(deploy_max_unavailable_is_clamped_and_zero_for_recreate)
{
	json_t *d = make_deploy(3, "1", "10");

	ASSERT_EQ(deploy_max_unavailable(d), 3);
	ASSERT_EQ(deploy_max_surge(d), 1);
	jsonx_set_path(d, "spec.replicas", json_integer(0));
	ASSERT_EQ(deploy_max_unavailable(d), 0);
	jsonx_set_path(d, "spec.replicas", json_integer(3));
	jsonx_set_path(d, "spec.strategy", json_pack("{s:s}", "type", "Recreate"));
	ASSERT_EQ(deploy_max_unavailable(d), 0);
	ASSERT_EQ(deploy_max_surge(d), 0);
	json_decref(d);
}

static json_t *rs_of(const char *name, int spec, int available, int max_replicas)
{
	json_t *rs = json_pack("{s:{s:s,s:s},s:{s:i},s:{s:i,s:i}}", "metadata", "name", name,
			       "namespace", "default", "spec", "replicas", spec, "status",
			       "replicas", spec, "availableReplicas", available);
	char buf[16];

	if (max_replicas >= 0) {
		snprintf(buf, sizeof(buf), "%d", max_replicas);
		jsonx_set_path(rs, "metadata.annotations",
			       json_pack("{s:s}", DEPLOY_MAX_REPLICAS, buf));
	}
	return rs;
}

TEST(deploy_new_rs_replicas_respects_surge)
{
	json_t *d = make_deploy(10, "3", "2");
	json_t *old = rs_of("old", 10, 10, -1), *new_rs = rs_of("new", 0, 0, -1);
	json_t *all = json_pack("[OO]", old, new_rs);

	ASSERT_EQ(deploy_new_rs_replicas(d, all, new_rs), 3);
	/* new_rs not in the list counts all the same. */
	json_array_remove(all, 1);
	ASSERT_EQ(deploy_new_rs_replicas(d, all, new_rs), 3);
	/* At the surge limit: no change. */
	jsonx_set_path(new_rs, "spec.replicas", json_integer(3));
	json_array_append(all, new_rs);
	ASSERT_EQ(deploy_new_rs_replicas(d, all, new_rs), 3);
	/* Old scaled down: room for the rest, never past spec.replicas. */
	jsonx_set_path(old, "spec.replicas", json_integer(1));
	ASSERT_EQ(deploy_new_rs_replicas(d, all, new_rs), 10);
	/* Recreate: everything at once. */
	jsonx_set_path(d, "spec.strategy", json_pack("{s:s}", "type", "Recreate"));
	jsonx_set_path(old, "spec.replicas", json_integer(10));
	ASSERT_EQ(deploy_new_rs_replicas(d, all, new_rs), 10);
	json_decref(all);
	json_decref(old);
	json_decref(new_rs);
	json_decref(d);
}

TEST(deploy_proportions_follow_the_max_replicas_annotation)
{
	/* Scaled from 10 to 15 mid-rollout (maxSurge 25%: 13 -> 19 allowed). */
	json_t *d = make_deploy(15, "25%", "25%");
	json_t *old = rs_of("old", 8, 8, 13), *new_rs = rs_of("new", 5, 0, 13);

	ASSERT_EQ(deploy_proportion(old, d, 6, 0), 4);	  /* round(8*19/13) - 8 */
	ASSERT_EQ(deploy_proportion(new_rs, d, 6, 4), 2); /* round(5*19/13) - 5, capped */
	ASSERT_EQ(deploy_proportion(new_rs, d, 6, 6), 0);
	/* Scaling down: the share is negative and bounded by what is left. */
	jsonx_set_path(d, "spec.replicas", json_integer(5)); /* 5+2 = 7 allowed */
	ASSERT_EQ(deploy_proportion(old, d, -6, 0), -4);     /* round(8*7/13) - 8 */
	ASSERT_EQ(deploy_proportion(new_rs, d, -6, -4), -2);
	/* Scaled to zero: everything goes. */
	jsonx_set_path(d, "spec.replicas", json_integer(0));
	ASSERT_EQ(deploy_proportion(old, d, -13, 0), -8);
	/* An empty ReplicaSet gets nothing. */
	jsonx_set_path(old, "spec.replicas", json_integer(0));
	ASSERT_EQ(deploy_proportion(old, d, 5, 0), 0);
	ASSERT_EQ(deploy_proportion(NULL, d, 5, 0), 0);
	json_decref(old);
	json_decref(new_rs);
	json_decref(d);
}

TEST(deploy_template_equality_ignores_the_hash_label)
{
	json_t *a = json_pack("{s:{s:{s:s},s:n},s:{s:[{s:s}]}}", "metadata", "labels", "app", "web",
			      "creationTimestamp", "spec", "containers", "image", "x");
	json_t *b = json_deep_copy(a);
	char h1[16], h2[16], h3[16];

	jsonx_set_path(b, "metadata.labels." DEPLOY_HASH_LABEL, json_string("abc"));
	json_object_del(json_object_get(b, "metadata"), "creationTimestamp");
	ASSERT(deploy_template_equal(a, b));
	jsonx_set_path(b, "spec.containers[0].image", json_string("y"));
	ASSERT(!deploy_template_equal(a, b));
	ASSERT(!deploy_template_equal(a, NULL));
	/* Hashes: stable, different for different templates and collision counts. */
	cm_template_hash(a, -1, h1, sizeof(h1));
	cm_template_hash(a, -1, h2, sizeof(h2));
	ASSERT_STREQ(h1, h2);
	cm_template_hash(b, -1, h2, sizeof(h2));
	ASSERT(strcmp(h1, h2) != 0);
	cm_template_hash(a, 1, h3, sizeof(h3));
	ASSERT(strcmp(h1, h3) != 0);
	ASSERT(strlen(h1) > 0 && strlen(h1) <= 10);
	ASSERT(strspn(h1, "bcdfghjklmnpqrstvwxz2456789") == strlen(h1));
	json_decref(a);
	json_decref(b);
}

/* ---------------------------------------------------------------- rollout status */

static int rollout(json_t *d, int generation, int observed, int updated, int replicas,
		   int available, const char *progressing_reason)
{
	char msg[256];
	int rc;

	jsonx_set_path(d, "metadata.generation", json_integer(generation));
	jsonx_set_path(d, "status",
		       json_pack("{s:i,s:i,s:i,s:i}", "observedGeneration", observed,
				 "updatedReplicas", updated, "replicas", replicas,
				 "availableReplicas", available));
	if (progressing_reason)
		jsonx_set_path(d, "status.conditions",
			       json_pack("[{s:s,s:s,s:s}]", "type", "Progressing", "status", "True",
					 "reason", progressing_reason));
	rc = deploy_rollout_status(d, msg, sizeof(msg));
	ASSERT(msg[0] != '\0');
	return rc;
}

TEST(deploy_rollout_status_predicates_match_kubectl)
{
	json_t *d = make_deploy(3, NULL, NULL);
	char msg[256];

	ASSERT_EQ(rollout(d, 2, 1, 3, 3, 3, NULL), 0); /* spec not observed */
	ASSERT_EQ(rollout(d, 2, 2, 2, 3, 3, NULL), 0); /* 2 of 3 updated */
	ASSERT_EQ(rollout(d, 2, 2, 3, 4, 3, NULL), 0); /* an old pod left */
	ASSERT_EQ(rollout(d, 2, 2, 3, 3, 2, NULL), 0); /* 2 of 3 available */
	ASSERT_EQ(rollout(d, 2, 2, 3, 3, 3, "ReplicaSetUpdated"), 1);
	ASSERT_EQ(rollout(d, 2, 3, 3, 3, 3, NULL), 1);
	ASSERT_EQ(rollout(d, 2, 2, 1, 3, 1, "ProgressDeadlineExceeded"), -ETIMEDOUT);
	deploy_rollout_status(d, msg, sizeof(msg));
	ASSERT_STREQ(msg, "deployment \"web\" exceeded its progress deadline");
	rollout(d, 2, 2, 3, 4, 3, NULL);
	deploy_rollout_status(d, msg, sizeof(msg));
	ASSERT_STREQ(msg, "Waiting for deployment \"web\" rollout to finish: 1 old replicas are "
			  "pending termination...");
	json_decref(d);
}

/* ---------------------------------------------------------------- simulation */

struct sim {
	struct cm_fake f;
	struct deploy_env env;
	int rate; /* pods that become available per tick, per ReplicaSet */
};

static void sim_init(struct sim *s, json_t *d)
{
	cm_fake_init(&s->f, "deployment-controller");
	s->env = (struct deploy_env){ .api = &s->f.api, .now = T0 };
	s->rate = 1;
	cm_fake_put(&s->f, CM_DEPLOYMENTS, d);
}

static json_t *sim_d(struct sim *s)
{
	return cm_fake_get(&s->f, CM_DEPLOYMENTS, "default", "web");
}

static int sim_sync(struct sim *s, int64_t *requeue)
{
	json_t *d = json_incref(sim_d(s)), *rss = cm_fake_list(&s->f, CM_REPLICASETS);
	int rc = deploy_sync(&s->env, d, rss, NULL, requeue);

	json_decref(rss);
	json_decref(d);
	return rc;
}

/*
 * The ReplicaSet controller and kubelet in one step: pods follow
 * spec.replicas at once, deletions drop availability at once, and up to
 * rate pods per ReplicaSet become available per tick.
 */
static void sim_pods(struct sim *s, bool grow)
{
	json_t *rs;
	const char *k;

	json_object_foreach(s->f.objs[CM_REPLICASETS], k, rs) {
		int spec = (int)jsonx_path_int(rs, "spec.replicas", 0);
		int avail = (int)jsonx_path_int(rs, "status.availableReplicas", 0);

		avail = MIN(avail, spec);
		if (grow)
			avail = MIN(spec, avail + s->rate);
		jsonx_set_path(rs, "status",
			       json_pack("{s:i,s:i,s:i,s:I}", "replicas", spec, "readyReplicas",
					 avail, "availableReplicas", avail, "observedGeneration",
					 (json_int_t)jsonx_path_int(rs, "metadata.generation", 0)));
	}
}

static int sum_rs(struct sim *s, const char *path)
{
	json_t *rs;
	const char *k;
	int n = 0;

	json_object_foreach(s->f.objs[CM_REPLICASETS], k, rs)
		n += (int)jsonx_path_int(rs, path, 0);
	return n;
}

/* Change the Deployment's spec through the API (generation moves). */
static void sim_set(struct sim *s, const char *path, json_t *value)
{
	json_t *d = json_deep_copy(sim_d(s));

	jsonx_set_path(d, path, value);
	ASSERT_EQ(s->f.api.update(s->f.api.ctx, CM_DEPLOYMENTS, d, NULL, NULL), 200);
	json_decref(d);
}

/*
 * Run syncs until `kubectl rollout status` says done, checking the
 * fenceposts after every step. Returns the number of steps.
 */
static int sim_rollout(struct sim *s, int replicas, int surge, int unavail)
{
	char msg[256];
	int steps = 0;
	/* Scaling up cannot make pods available at once: the floor is what there was. */
	int floor = MIN(replicas - unavail, sum_rs(s, "status.availableReplicas"));

	for (; steps < 400; steps++) {
		ASSERT_OK(sim_sync(s, NULL));
		sim_pods(s, false);
		ASSERT_MSG(sum_rs(s, "spec.replicas") <= replicas + surge,
			   "step %d: %d pods > %d + %d", steps, sum_rs(s, "spec.replicas"),
			   replicas, surge);
		ASSERT_MSG(sum_rs(s, "status.availableReplicas") >= floor,
			   "step %d: %d available < %d (%d - %d)", steps,
			   sum_rs(s, "status.availableReplicas"), floor, replicas, unavail);
		if (deploy_rollout_status(sim_d(s), msg, sizeof(msg)) == 1)
			return steps;
		sim_pods(s, true);
		s->env.now += SEC;
	}
	test_fail(__FILE__, __LINE__, "rollout did not finish: %s", msg);
}

static json_t *only_rs_with_image(struct sim *s, const char *image)
{
	json_t *rs, *found = NULL;
	const char *k;

	json_object_foreach(s->f.objs[CM_REPLICASETS], k, rs) {
		if (strcmp(jsonx_path_str(rs, "spec.template.spec.containers[0].image", ""),
			   image) == 0) {
			ASSERT_NULL(found);
			found = rs;
		}
	}
	ASSERT_NOT_NULL(found);
	return found;
}

static const char *annot(const json_t *obj, const char *key)
{
	return json_string_value(jsonx_getv(obj, "metadata", "annotations", key, NULL));
}

TEST(deploy_first_sync_creates_a_hashed_replicaset)
{
	struct sim s;
	json_t *rs;
	char hash[16], name[64];

	sim_init(&s, make_deploy(3, NULL, NULL));
	ASSERT_OK(sim_sync(&s, NULL));
	ASSERT_EQ(cm_fake_count(&s.f, CM_REPLICASETS), 1);
	rs = only_rs_with_image(&s, "nginx:1");
	cm_template_hash(jsonx_get_path(sim_d(&s), "spec.template"), -1, hash, sizeof(hash));
	snprintf(name, sizeof(name), "web-%s", hash);
	ASSERT_STREQ(jsonx_path_str(rs, "metadata.name", ""), name);
	ASSERT_STREQ(jsonx_path_str(rs, "metadata.labels." DEPLOY_HASH_LABEL, ""), hash);
	ASSERT_STREQ(jsonx_path_str(rs, "spec.selector.matchLabels." DEPLOY_HASH_LABEL, ""), hash);
	ASSERT_STREQ(jsonx_path_str(rs, "spec.template.metadata.labels." DEPLOY_HASH_LABEL, ""),
		     hash);
	ASSERT_STREQ(jsonx_path_str(rs, "spec.template.metadata.labels.app", ""), "web");
	ASSERT_EQ(jsonx_path_int(rs, "spec.replicas", 0), 3);
	ASSERT_STREQ(annot(rs, DEPLOY_REVISION), "1");
	ASSERT_STREQ(annot(rs, DEPLOY_DESIRED_REPLICAS), "3");
	ASSERT_STREQ(annot(rs, DEPLOY_MAX_REPLICAS), "4");
	ASSERT_STREQ(annot(sim_d(&s), DEPLOY_REVISION), "1");
	ASSERT(cm_is_controlled_by(rs, sim_d(&s)));
	snprintf(name, sizeof(name), "Scaled up replica set web-%s from 0 to 3", hash);
	ASSERT_STREQ(cm_fake_event_message(&s.f, "ScalingReplicaSet"), name);
	ASSERT_STREQ(
		jsonx_str(cm_cond_get(jsonx_obj(sim_d(&s), "status"), "Progressing"), "reason", ""),
		"NewReplicaSetCreated");
	ASSERT_STREQ(
		jsonx_str(cm_cond_get(jsonx_obj(sim_d(&s), "status"), "Available"), "status", ""),
		"False");
	/* Pods appear: progress. */
	sim_pods(&s, true);
	s.env.now += SEC;
	ASSERT_OK(sim_sync(&s, NULL));
	ASSERT_STREQ(
		jsonx_str(cm_cond_get(jsonx_obj(sim_d(&s), "status"), "Progressing"), "reason", ""),
		"ReplicaSetUpdated");
	/* Pods come up: complete, NewReplicaSetAvailable, Available. */
	s.rate = 3;
	sim_rollout(&s, 3, 1, 0);
	ASSERT_OK(sim_sync(&s, NULL));
	ASSERT_STREQ(
		jsonx_str(cm_cond_get(jsonx_obj(sim_d(&s), "status"), "Progressing"), "reason", ""),
		"NewReplicaSetAvailable");
	ASSERT_STREQ(
		jsonx_str(cm_cond_get(jsonx_obj(sim_d(&s), "status"), "Available"), "reason", ""),
		"MinimumReplicasAvailable");
	cm_fake_free(&s.f);
}

/* Bring a Deployment to a finished rollout of nginx:1. */
static void sim_settle(struct sim *s)
{
	s->rate = 1000;
	sim_rollout(s, (int)jsonx_path_int(sim_d(s), "spec.replicas", 1), 1000, 1000);
	ASSERT_OK(sim_sync(s, NULL));
	s->rate = 1;
	cm_fake_reset_log(&s->f);
}

static void rolling_case(int replicas, const char *surge, const char *unavail, int want_surge,
			 int want_unavail)
{
	struct sim s;
	json_t *new_rs, *old_rs;
	int steps;

	sim_init(&s, make_deploy(replicas, surge, unavail));
	sim_settle(&s);
	ASSERT_EQ(deploy_max_surge(sim_d(&s)), want_surge);
	ASSERT_EQ(deploy_max_unavailable(sim_d(&s)), want_unavail);
	sim_set(&s, "spec.template.spec.containers[0].image", json_string("nginx:2"));
	steps = sim_rollout(&s, replicas, want_surge, want_unavail);
	ASSERT(steps > 0);
	new_rs = only_rs_with_image(&s, "nginx:2");
	old_rs = only_rs_with_image(&s, "nginx:1");
	ASSERT_EQ(jsonx_path_int(new_rs, "spec.replicas", -1), replicas);
	ASSERT_EQ(jsonx_path_int(old_rs, "spec.replicas", -1), 0);
	ASSERT_STREQ(annot(new_rs, DEPLOY_REVISION), "2");
	ASSERT_STREQ(annot(sim_d(&s), DEPLOY_REVISION), "2");
	ASSERT(cm_fake_events(&s.f, "ScalingReplicaSet") >= 2);
	cm_fake_free(&s.f);
}

TEST(deploy_rolling_update_keeps_surge_and_availability_bounds)
{
	rolling_case(3, "1", "0", 1, 0);
	rolling_case(10, "25%", "25%", 3, 2);
	rolling_case(5, "0", "1", 0, 1);
	rolling_case(4, "2", "2", 2, 2);
	rolling_case(1, "0", "1", 0, 1);
	rolling_case(7, "30%", "0%", 3, 0);
	rolling_case(2, "0%", "0%", 0, 1);
}

TEST(deploy_rollout_status_is_not_done_before_old_pods_go)
{
	struct sim s;
	char msg[256];
	bool saw_old_pending = false;

	sim_init(&s, make_deploy(3, "1", "0"));
	sim_settle(&s);
	sim_set(&s, "spec.template.spec.containers[0].image", json_string("nginx:2"));
	/* Not observed yet: waiting. */
	ASSERT_EQ(deploy_rollout_status(sim_d(&s), msg, sizeof(msg)), 0);
	ASSERT_STREQ(msg, "Waiting for deployment spec update to be observed...");
	for (int i = 0; i < 100; i++) {
		json_t *new_rs;
		int rc;

		ASSERT_OK(sim_sync(&s, NULL));
		/* The status was computed from the ReplicaSets as they are now. */
		rc = deploy_rollout_status(sim_d(&s), msg, sizeof(msg));
		new_rs = only_rs_with_image(&s, "nginx:2");
		if (rc == 1) {
			/* Done means: no old pod left, every new one available. */
			ASSERT_EQ(sum_rs(&s, "status.replicas"),
				  jsonx_path_int(new_rs, "status.replicas", 0));
			ASSERT_EQ(jsonx_path_int(new_rs, "status.availableReplicas", 0), 3);
			ASSERT_EQ(jsonx_path_int(new_rs, "status.replicas", 0), 3);
			break;
		}
		saw_old_pending |= strstr(msg, "old replicas are pending termination") != NULL;
		sim_pods(&s, false);
		sim_pods(&s, true);
		s.env.now += SEC;
	}
	ASSERT_EQ(deploy_rollout_status(sim_d(&s), msg, sizeof(msg)), 1);
	ASSERT(saw_old_pending);
	cm_fake_free(&s.f);
}

TEST(deploy_recreate_scales_old_down_before_creating_new)
{
	struct sim s;
	json_t *d = make_deploy(3, NULL, NULL), *new_rs;

	jsonx_set_path(d, "spec.strategy", json_pack("{s:s}", "type", "Recreate"));
	sim_init(&s, d);
	sim_settle(&s);
	sim_set(&s, "spec.template.spec.containers[0].image", json_string("nginx:2"));
	ASSERT_OK(sim_sync(&s, NULL));
	/* Old scaled to zero, no new ReplicaSet yet. */
	ASSERT_EQ(cm_fake_count(&s.f, CM_REPLICASETS), 1);
	ASSERT_EQ(jsonx_path_int(only_rs_with_image(&s, "nginx:1"), "spec.replicas", -1), 0);
	/* Its pods still report: wait. */
	ASSERT_OK(sim_sync(&s, NULL));
	ASSERT_EQ(cm_fake_count(&s.f, CM_REPLICASETS), 1);
	sim_pods(&s, false);
	ASSERT_OK(sim_sync(&s, NULL));
	ASSERT_EQ(cm_fake_count(&s.f, CM_REPLICASETS), 2);
	new_rs = only_rs_with_image(&s, "nginx:2");
	ASSERT_EQ(jsonx_path_int(new_rs, "spec.replicas", -1), 3);
	sim_rollout(&s, 3, 0, 3);
	cm_fake_free(&s.f);
}

TEST(deploy_recreate_waits_for_terminating_pods)
{
	struct sim s;
	json_t *d = make_deploy(2, NULL, NULL), *rss, *pods, *pod;

	jsonx_set_path(d, "spec.strategy", json_pack("{s:s}", "type", "Recreate"));
	sim_init(&s, d);
	sim_settle(&s);
	sim_set(&s, "spec.template.spec.containers[0].image", json_string("nginx:2"));
	ASSERT_OK(sim_sync(&s, NULL));
	sim_pods(&s, false);
	/* A pod of the old ReplicaSet is still terminating. */
	pod = json_pack("{s:{s:s,s:s,s:s,s:[{s:s,s:s,s:s,s:b}]},s:{s:s}}", "metadata", "name", "p",
			"namespace", "default", "deletionTimestamp", "2026-01-01T00:00:00Z",
			"ownerReferences", "kind", "ReplicaSet", "name", "x", "uid",
			jsonx_path_str(only_rs_with_image(&s, "nginx:1"), "metadata.uid", ""),
			"controller", 1, "status", "phase", "Running");
	pods = json_pack("[o]", pod);
	rss = cm_fake_list(&s.f, CM_REPLICASETS);
	ASSERT_OK(deploy_sync(&s.env, sim_d(&s), rss, pods, NULL));
	ASSERT_EQ(cm_fake_count(&s.f, CM_REPLICASETS), 1);
	/* Gone: now the new ReplicaSet comes. */
	jsonx_set_path(pod, "status.phase", json_string("Succeeded"));
	ASSERT_OK(deploy_sync(&s.env, sim_d(&s), rss, pods, NULL));
	ASSERT_EQ(cm_fake_count(&s.f, CM_REPLICASETS), 2);
	json_decref(rss);
	json_decref(pods);
	cm_fake_free(&s.f);
}

TEST(deploy_rollback_reuses_the_old_replicaset_with_a_new_revision)
{
	struct sim s;
	json_t *first;
	char first_name[128];

	sim_init(&s, make_deploy(2, "1", "0"));
	sim_settle(&s);
	first = only_rs_with_image(&s, "nginx:1");
	snprintf(first_name, sizeof(first_name), "%s", jsonx_path_str(first, "metadata.name", ""));
	sim_set(&s, "metadata.annotations",
		json_pack("{s:s,s:s}", "kubernetes.io/change-cause", "to v2", DEPLOY_REVISION,
			  "1"));
	sim_set(&s, "spec.template.spec.containers[0].image", json_string("nginx:2"));
	sim_rollout(&s, 2, 1, 0);
	ASSERT_STREQ(annot(only_rs_with_image(&s, "nginx:2"), "kubernetes.io/change-cause"),
		     "to v2");
	ASSERT_STREQ(annot(sim_d(&s), DEPLOY_REVISION), "2");
	/* kubectl rollout undo: the old template comes back (with the hash label removed). */
	sim_set(&s, "spec.template.spec.containers[0].image", json_string("nginx:1"));
	sim_rollout(&s, 2, 1, 0);
	ASSERT_EQ(cm_fake_count(&s.f, CM_REPLICASETS), 2);
	first = only_rs_with_image(&s, "nginx:1");
	ASSERT_STREQ(jsonx_path_str(first, "metadata.name", ""), first_name);
	ASSERT_STREQ(annot(first, DEPLOY_REVISION), "3");
	ASSERT_STREQ(annot(first, DEPLOY_REVISION_HISTORY), "1");
	ASSERT_EQ(jsonx_path_int(first, "spec.replicas", 0), 2);
	ASSERT_EQ(jsonx_path_int(only_rs_with_image(&s, "nginx:2"), "spec.replicas", -1), 0);
	ASSERT_STREQ(annot(sim_d(&s), DEPLOY_REVISION), "3");
	/* And forward again: history grows. */
	sim_set(&s, "spec.template.spec.containers[0].image", json_string("nginx:2"));
	sim_rollout(&s, 2, 1, 0);
	ASSERT_STREQ(annot(only_rs_with_image(&s, "nginx:2"), DEPLOY_REVISION), "4");
	ASSERT_STREQ(annot(only_rs_with_image(&s, "nginx:2"), DEPLOY_REVISION_HISTORY), "2");
	sim_set(&s, "spec.template.spec.containers[0].image", json_string("nginx:1"));
	sim_rollout(&s, 2, 1, 0);
	ASSERT_STREQ(annot(only_rs_with_image(&s, "nginx:1"), DEPLOY_REVISION_HISTORY), "1,3");
	cm_fake_free(&s.f);
}

TEST(deploy_revision_history_limit_deletes_drained_old_replicasets)
{
	struct sim s;
	const char *images[] = { "nginx:2", "nginx:3", "nginx:4" };

	sim_init(&s, make_deploy(1, "1", "0"));
	sim_set(&s, "spec.revisionHistoryLimit", json_integer(1));
	sim_settle(&s);
	for (size_t i = 0; i < ARRAY_SIZE(images); i++) {
		sim_set(&s, "spec.template.spec.containers[0].image", json_string(images[i]));
		sim_rollout(&s, 1, 1, 0);
		/* One more sync sees the finished rollout and cleans up. */
		ASSERT_OK(sim_sync(&s, NULL));
		ASSERT_EQ(cm_fake_count(&s.f, CM_REPLICASETS), 2);
	}
	only_rs_with_image(&s, "nginx:4");
	only_rs_with_image(&s, "nginx:3");
	ASSERT(cm_fake_calls(&s.f, "DELETE replicasets") >= 2);
	cm_fake_free(&s.f);
}

TEST(deploy_paused_scales_but_does_not_roll_out)
{
	struct sim s;
	json_t *c;

	sim_init(&s, make_deploy(2, "1", "0"));
	sim_settle(&s);
	sim_set(&s, "spec.paused", json_true());
	sim_set(&s, "spec.template.spec.containers[0].image", json_string("nginx:2"));
	ASSERT_OK(sim_sync(&s, NULL));
	ASSERT_EQ(cm_fake_count(&s.f, CM_REPLICASETS), 1);
	c = cm_cond_get(jsonx_obj(sim_d(&s), "status"), "Progressing");
	ASSERT_STREQ(jsonx_str(c, "reason", ""), "DeploymentPaused");
	ASSERT_STREQ(jsonx_str(c, "status", ""), "Unknown");
	/* Scaling still works while paused. */
	sim_set(&s, "spec.replicas", json_integer(4));
	ASSERT_OK(sim_sync(&s, NULL));
	ASSERT_EQ(jsonx_path_int(only_rs_with_image(&s, "nginx:1"), "spec.replicas", 0), 4);
	ASSERT_STREQ(annot(only_rs_with_image(&s, "nginx:1"), DEPLOY_DESIRED_REPLICAS), "4");
	sim_pods(&s, true);
	sim_pods(&s, true);
	sim_pods(&s, true);
	/* Resumed: the rollout proceeds. */
	sim_set(&s, "spec.paused", json_false());
	ASSERT_OK(sim_sync(&s, NULL));
	c = cm_cond_get(jsonx_obj(sim_d(&s), "status"), "Progressing");
	ASSERT(strcmp(jsonx_str(c, "reason", ""), "DeploymentPaused") != 0);
	sim_rollout(&s, 4, 1, 0);
	ASSERT_EQ(jsonx_path_int(only_rs_with_image(&s, "nginx:2"), "spec.replicas", 0), 4);
	cm_fake_free(&s.f);
}

TEST(deploy_scaling_mid_rollout_is_proportional)
{
	struct sim s;
	json_t *old_rs, *new_rs;

	sim_init(&s, make_deploy(10, "3", "2"));
	sim_settle(&s);
	sim_set(&s, "spec.template.spec.containers[0].image", json_string("nginx:2"));
	/* Two steps in: new has some pods, old has been scaled down some. */
	for (int i = 0; i < 2; i++) {
		ASSERT_OK(sim_sync(&s, NULL));
		sim_pods(&s, true);
	}
	old_rs = only_rs_with_image(&s, "nginx:1");
	new_rs = only_rs_with_image(&s, "nginx:2");
	int old_before = (int)jsonx_path_int(old_rs, "spec.replicas", 0);
	int new_before = (int)jsonx_path_int(new_rs, "spec.replicas", 0);
	ASSERT(old_before > 0 && new_before > 0);
	ASSERT_EQ(old_before + new_before, 13);
	/* Scale to 20 (maxSurge 3 stays an absolute 3): 23 allowed, 10 to add. */
	sim_set(&s, "spec.replicas", json_integer(20));
	cm_fake_reset_log(&s.f);
	ASSERT_OK(sim_sync(&s, NULL));
	int old_after = (int)jsonx_path_int(only_rs_with_image(&s, "nginx:1"), "spec.replicas", 0);
	int new_after = (int)jsonx_path_int(only_rs_with_image(&s, "nginx:2"), "spec.replicas", 0);
	ASSERT_EQ(old_after + new_after, 23);
	/* Each grew by its share (rounded), not all to one. */
	ASSERT(old_after > old_before && new_after > new_before);
	ASSERT(abs((old_after - old_before) * 13 - old_before * 10) <= 13);
	ASSERT_STREQ(annot(only_rs_with_image(&s, "nginx:1"), DEPLOY_DESIRED_REPLICAS), "20");
	ASSERT_STREQ(annot(only_rs_with_image(&s, "nginx:2"), DEPLOY_MAX_REPLICAS), "23");
	/* Then the rollout finishes at the new size. */
	sim_rollout(&s, 20, 3, 2);
	ASSERT_EQ(jsonx_path_int(only_rs_with_image(&s, "nginx:2"), "spec.replicas", 0), 20);
	cm_fake_free(&s.f);
}

TEST(deploy_progress_deadline_exceeded)
{
	struct sim s;
	json_t *c;
	int64_t requeue = 0;
	char msg[256];

	sim_init(&s, make_deploy(2, "1", "0"));
	sim_set(&s, "spec.progressDeadlineSeconds", json_integer(30));
	sim_settle(&s);
	sim_set(&s, "spec.template.spec.containers[0].image", json_string("nginx:bad"));
	ASSERT_OK(sim_sync(&s, &requeue));
	sim_pods(&s, false); /* pods appear but never become available */
	s.env.now += SEC;
	ASSERT_OK(sim_sync(&s, &requeue));
	ASSERT_STREQ(
		jsonx_str(cm_cond_get(jsonx_obj(sim_d(&s), "status"), "Progressing"), "reason", ""),
		"ReplicaSetUpdated");
	/* Nothing changes any more: come back just after the deadline. */
	ASSERT_OK(sim_sync(&s, &requeue));
	ASSERT_MSG(requeue > 29 * SEC && requeue <= 31 * SEC, "requeue %lld", (long long)requeue);
	s.env.now += 10 * SEC;
	ASSERT_OK(sim_sync(&s, &requeue));
	ASSERT_MSG(requeue > 19 * SEC && requeue <= 21 * SEC, "requeue %lld", (long long)requeue);
	ASSERT_EQ(deploy_rollout_status(sim_d(&s), msg, sizeof(msg)), 0);
	s.env.now += 21 * SEC;
	ASSERT_OK(sim_sync(&s, &requeue));
	c = cm_cond_get(jsonx_obj(sim_d(&s), "status"), "Progressing");
	ASSERT_STREQ(jsonx_str(c, "reason", ""), "ProgressDeadlineExceeded");
	ASSERT_STREQ(jsonx_str(c, "status", ""), "False");
	ASSERT_EQ(deploy_rollout_status(sim_d(&s), msg, sizeof(msg)), -ETIMEDOUT);
	ASSERT_OK(sim_sync(&s, &requeue));
	ASSERT_EQ(requeue, 0);
	/* Progress after the deadline: Progressing again, as upstream. */
	sim_pods(&s, true);
	ASSERT_OK(sim_sync(&s, &requeue));
	c = cm_cond_get(jsonx_obj(sim_d(&s), "status"), "Progressing");
	ASSERT_STREQ(jsonx_str(c, "reason", ""), "ReplicaSetUpdated");
	ASSERT_STREQ(jsonx_str(c, "status", ""), "True");
	cm_fake_free(&s.f);
}

TEST(deploy_adopts_orphan_replicaset_and_warns_on_select_all)
{
	struct sim s;
	json_t *d = make_deploy(2, NULL, NULL), *orphan;
	char hash[16], name[64];

	cm_template_hash(jsonx_get_path(d, "spec.template"), -1, hash, sizeof(hash));
	snprintf(name, sizeof(name), "web-%s", hash);
	sim_init(&s, d);
	orphan = json_pack("{s:{s:s,s:s,s:{s:s,s:s}},s:{s:i,s:{s:{s:s,s:s}},s:O}}", "metadata",
			   "name", name, "namespace", "default", "labels", "app", "web",
			   DEPLOY_HASH_LABEL, hash, "spec", "replicas", 2, "selector",
			   "matchLabels", "app", "web", DEPLOY_HASH_LABEL, hash, "template",
			   jsonx_get_path(sim_d(&s), "spec.template"));
	jsonx_set_path(orphan, "spec.template.metadata.labels." DEPLOY_HASH_LABEL,
		       json_string(hash));
	cm_fake_put(&s.f, CM_REPLICASETS, orphan);
	ASSERT_OK(sim_sync(&s, NULL));
	ASSERT_EQ(cm_fake_calls(&s.f, "PATCH replicasets"), 1);
	ASSERT_EQ(cm_fake_count(&s.f, CM_REPLICASETS), 1);
	ASSERT(cm_is_controlled_by(cm_fake_get(&s.f, CM_REPLICASETS, "default", name), sim_d(&s)));

	sim_set(&s, "spec.selector", json_object());
	cm_fake_reset_log(&s.f);
	ASSERT_OK(sim_sync(&s, NULL));
	ASSERT_EQ(cm_fake_events(&s.f, "SelectingAll"), 1);
	ASSERT_EQ(jsonx_path_int(sim_d(&s), "status.observedGeneration", 0),
		  jsonx_path_int(sim_d(&s), "metadata.generation", -1));
	ASSERT_EQ(cm_fake_calls(&s.f, "PUT replicasets"), 0);
	cm_fake_free(&s.f);
}

TEST(deploy_hash_collision_bumps_collision_count)
{
	struct sim s;
	json_t *d = make_deploy(2, NULL, NULL), *squatter;
	char hash[16], name[64];

	cm_template_hash(jsonx_get_path(d, "spec.template"), -1, hash, sizeof(hash));
	snprintf(name, sizeof(name), "web-%s", hash);
	sim_init(&s, d);
	/* Someone else's ReplicaSet holds the name. */
	squatter = json_pack("{s:{s:s,s:s,s:{s:s}},s:{s:i,s:{s:{s:s}},s:{s:{s:{s:s}}}}}",
			     "metadata", "name", name, "namespace", "default", "labels", "app",
			     "other", "spec", "replicas", 1, "selector", "matchLabels", "app",
			     "other", "template", "metadata", "labels", "app", "other");
	cm_fake_put(&s.f, CM_REPLICASETS, squatter);
	ASSERT(sim_sync(&s, NULL) < 0);
	ASSERT_EQ(jsonx_path_int(sim_d(&s), "status.collisionCount", 0), 1);
	/* The next name is different and works. */
	ASSERT_OK(sim_sync(&s, NULL));
	ASSERT_EQ(cm_fake_count(&s.f, CM_REPLICASETS), 2);
	cm_fake_free(&s.f);
}
