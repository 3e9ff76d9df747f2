/*
 * Unit tests for control/controllers/ctrl.c and podutil.c: worker threads
 * with retries, slow-start batches, int-or-percent values, condition
 * setting, status comparison, pod readiness and availability, owner
 * references and claim decisions, pods from templates.
 */
#include "test.h"

#include <stdatomic.h>
#include <unistd.h>

#include "control/controllers/podutil.h"
#include "jsonx.h"

struct flaky {
	struct workqueue *q;
	atomic_int calls;
	atomic_int failures_left;
};

static int flaky_sync(void *ctx, const char *key)
{
	struct flaky *f = ctx;

	atomic_fetch_add(&f->calls, 1);
	if (atomic_fetch_sub(&f->failures_left, 1) > 0)
		return -EAGAIN;
	return 0;
}

TEST(cm_workers_retry_failures_with_backoff_then_forget)
{
	struct flaky f = { .q = wq_new("t", 10, 1000) };
	struct cm_workers *w;

	atomic_init(&f.calls, 0);
	atomic_init(&f.failures_left, 3);
	w = cm_workers_start("t", f.q, 2, flaky_sync, &f);
	ASSERT_NOT_NULL(w);
	wq_add(f.q, "k");
	/* 3 failures (retried after 10, 20, 40 ms), then success. */
	for (int i = 0; i < 200 && atomic_load(&f.calls) < 4; i++)
		usleep(5000);
	usleep(100000);
	ASSERT_EQ(atomic_load(&f.calls), 4);
	ASSERT_EQ(wq_requeues(f.q, "k"), 0);
	cm_workers_stop(w);
	cm_workers_stop(NULL);
	wq_free(f.q);
}

struct batch_rec {
	atomic_int calls;
	int fail_from; /* calls with index >= this fail */
};

static int batch_fn(void *ctx, int i)
{
	struct batch_rec *b = ctx;

	atomic_fetch_add(&b->calls, 1);
	return i >= b->fail_from ? -EIO : 0;
}

TEST(cm_slow_start_batches)
{
	struct batch_rec b;

	atomic_init(&b.calls, 0);
	b.fail_from = 1000;
	ASSERT_EQ(cm_slow_start(20, batch_fn, &b), 20);
	ASSERT_EQ(atomic_load(&b.calls), 20);
	/* Index 5 fails: batches 0 | 1-2 | 3-6 -> the third batch fails, nothing after it. */
	atomic_store(&b.calls, 0);
	b.fail_from = 5;
	ASSERT_EQ(cm_slow_start(20, batch_fn, &b), 5);
	ASSERT_EQ(atomic_load(&b.calls), 7);
	atomic_store(&b.calls, 0);
	b.fail_from = 0;
	ASSERT_EQ(cm_slow_start(20, batch_fn, &b), 0);
	ASSERT_EQ(atomic_load(&b.calls), 1);
	ASSERT_EQ(cm_slow_start(0, batch_fn, &b), 0);
}

TEST(cm_int_or_percent_values)
{
	json_t *v;
	int out = -1;

	ASSERT_OK(cm_int_or_percent(NULL, "25%", 10, true, &out));
	ASSERT_EQ(out, 3);
	ASSERT_OK(cm_int_or_percent(NULL, "25%", 10, false, &out));
	ASSERT_EQ(out, 2);
	ASSERT_OK(cm_int_or_percent(NULL, "1", 10, false, &out));
	ASSERT_EQ(out, 1);
	ASSERT_EQ(cm_int_or_percent(NULL, NULL, 10, false, &out), -EINVAL);
	v = json_integer(7);
	ASSERT_OK(cm_int_or_percent(v, "25%", 10, false, &out));
	ASSERT_EQ(out, 7);
	json_decref(v);
	v = json_string("100%");
	ASSERT_OK(cm_int_or_percent(v, NULL, 3, false, &out));
	ASSERT_EQ(out, 3);
	json_decref(v);
	v = json_string("1%");
	ASSERT_OK(cm_int_or_percent(v, NULL, 1, true, &out));
	ASSERT_EQ(out, 1);
	ASSERT_OK(cm_int_or_percent(v, NULL, 1, false, &out));
	ASSERT_EQ(out, 0);
	json_decref(v);
	v = json_null();
	ASSERT_OK(cm_int_or_percent(v, "2", 1, false, &out));
	ASSERT_EQ(out, 2);
	json_decref(v);
	const char *bad[] = { "", "%", "10", "x%", "-1%", "+1%", " 1%", "1%%", "99999999999%" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		v = json_string(bad[i]);
		ASSERT_MSG(cm_int_or_percent(v, NULL, 10, true, &out) == -EINVAL, "'%s'", bad[i]);
		json_decref(v);
	}
	v = json_true();
	ASSERT_EQ(cm_int_or_percent(v, NULL, 10, true, &out), -EINVAL);
	json_decref(v);
	v = json_integer(-3);
	ASSERT_EQ(cm_int_or_percent(v, NULL, 10, true, &out), -EINVAL);
	json_decref(v);
}

TEST(cm_conditions_keep_transition_time_when_status_holds)
{
	json_t *st = json_object(), *c;

	cm_cond_set(st, cm_cond_new("Progressing", "True", "A", "m1", 1000ll * 1000000000ll, true));
	cm_cond_set(st, cm_cond_new("Available", "False", "X", "m", 1000ll * 1000000000ll, true));
	/* Same status and reason: no change at all (message and times stay). */
	cm_cond_set(st, cm_cond_new("Progressing", "True", "A", "m2", 2000ll * 1000000000ll, true));
	c = cm_cond_get(st, "Progressing");
	ASSERT_STREQ(jsonx_str(c, "message", ""), "m1");
	ASSERT_STREQ(jsonx_str(c, "lastUpdateTime", ""), "1970-01-01T00:16:40Z");
	/* New reason, same status: transition time kept, moved to the end. */
	cm_cond_set(st, cm_cond_new("Progressing", "True", "B", "m3", 3000ll * 1000000000ll, true));
	c = cm_cond_get(st, "Progressing");
	ASSERT_STREQ(jsonx_str(c, "lastTransitionTime", ""), "1970-01-01T00:16:40Z");
	ASSERT_STREQ(jsonx_str(c, "lastUpdateTime", ""), "1970-01-01T00:50:00Z");
	ASSERT_STREQ(jsonx_path_str(st, "conditions[1].type", ""), "Progressing");
	/* New status: new transition time. */
	cm_cond_set(st,
		    cm_cond_new("Progressing", "False", "C", "m4", 4000ll * 1000000000ll, false));
	c = cm_cond_get(st, "Progressing");
	ASSERT_STREQ(jsonx_str(c, "lastTransitionTime", ""), "1970-01-01T01:06:40Z");
	ASSERT_NULL(json_object_get(c, "lastUpdateTime"));
	cm_cond_remove(st, "Progressing");
	ASSERT_NULL(cm_cond_get(st, "Progressing"));
	ASSERT_EQ(json_array_size(jsonx_arr(st, "conditions")), 1);
	cm_cond_remove(st, "Nope");
	json_decref(st);
}

TEST(cm_status_equal_treats_zero_as_absent)
{
	json_t *a = json_pack("{s:i,s:i,s:[]}", "replicas", 3, "readyReplicas", 0, "conditions");
	json_t *b = json_pack("{s:i}", "replicas", 3);

	ASSERT(cm_status_equal(a, b));
	ASSERT(cm_status_equal(b, a));
	ASSERT(cm_status_equal(NULL, json_object_get(a, "nope")));
	json_object_set_new(b, "readyReplicas", json_integer(1));
	ASSERT(!cm_status_equal(a, b));
	ASSERT(!cm_status_equal(NULL, b));
	json_decref(a);
	json_decref(b);
}

TEST(cm_pod_readiness_and_availability)
{
	json_t *pod =
		json_loads("{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":"
			   "\"Ready\",\"status\":\"True\",\"lastTransitionTime\":"
			   "\"1970-01-01T00:01:40Z\"}],\"containerStatuses\":[{\"restartCount\":2},"
			   "{\"restartCount\":3}]}}",
			   0, NULL);
	int64_t wait = -1, s = 1000000000ll;

	ASSERT(cm_pod_is_ready(pod));
	ASSERT(cm_pod_is_active(pod));
	ASSERT_EQ(cm_pod_ready_since(pod), 100 * s);
	ASSERT_EQ(cm_pod_restarts(pod), 5);
	ASSERT(cm_pod_is_available(pod, 0, 0, &wait));
	ASSERT_EQ(wait, 0);
	ASSERT(!cm_pod_is_available(pod, 30, 110 * s, &wait));
	ASSERT_EQ(wait, 20 * s);
	ASSERT(cm_pod_is_available(pod, 30, 130 * s, &wait));
	ASSERT_EQ(wait, 0);
	jsonx_set_path(pod, "status.conditions[0].status", json_string("False"));
	ASSERT(!cm_pod_is_ready(pod));
	ASSERT_EQ(cm_pod_ready_since(pod), 0);
	ASSERT(!cm_pod_is_available(pod, 0, 0, &wait));
	ASSERT_EQ(wait, 0);
	jsonx_set_path(pod, "status.phase", json_string("Succeeded"));
	ASSERT(!cm_pod_is_active(pod));
	jsonx_set_path(pod, "status.phase", json_string("Running"));
	jsonx_set_path(pod, "metadata.deletionTimestamp", json_string("2026-01-01T00:00:00Z"));
	ASSERT(!cm_pod_is_active(pod));
	ASSERT(cm_is_deleting(pod));
	ASSERT(!cm_pod_is_ready(NULL));
	json_decref(pod);
}

TEST(cm_claim_decisions)
{
	json_t *owner = json_loads("{\"metadata\":{\"name\":\"o\",\"uid\":\"U\"}}", 0, NULL);
	json_t *mine = json_loads("{\"metadata\":{\"labels\":{\"app\":\"a\"},\"ownerReferences\":"
				  "[{\"uid\":\"U\",\"controller\":true}]}}",
				  0, NULL);
	json_t *theirs = json_loads("{\"metadata\":{\"labels\":{\"app\":\"a\"},\"ownerReferences\":"
				    "[{\"uid\":\"V\",\"controller\":true},{\"uid\":\"U\"}]}}",
				    0, NULL);
	json_t *orphan = json_loads("{\"metadata\":{\"labels\":{\"app\":\"a\"},\"ownerReferences\":"
				    "[{\"uid\":\"U\"}]}}",
				    0, NULL);
	json_t *ref;
	struct selector *sel;

	ASSERT_OK(selector_parse("app=a", &sel, NULL, 0));
	ASSERT_EQ(cm_claim_decide(owner, sel, mine), CM_CLAIM_OWNED);
	ASSERT_EQ(cm_claim_decide(owner, sel, theirs), CM_CLAIM_IGNORE);
	/* A non-controller reference does not make an owner. */
	ASSERT_EQ(cm_claim_decide(owner, sel, orphan), CM_CLAIM_ADOPT);
	jsonx_set_path(mine, "metadata.labels.app", json_string("b"));
	jsonx_set_path(orphan, "metadata.labels.app", json_string("b"));
	ASSERT_EQ(cm_claim_decide(owner, sel, mine), CM_CLAIM_RELEASE);
	ASSERT_EQ(cm_claim_decide(owner, sel, orphan), CM_CLAIM_IGNORE);
	/* An owner being deleted neither adopts nor releases. */
	jsonx_set_path(owner, "metadata.deletionTimestamp", json_string("2026-01-01T00:00:00Z"));
	ASSERT_EQ(cm_claim_decide(owner, sel, mine), CM_CLAIM_IGNORE);
	jsonx_set_path(orphan, "metadata.labels.app", json_string("a"));
	ASSERT_EQ(cm_claim_decide(owner, sel, orphan), CM_CLAIM_IGNORE);
	ref = cm_owner_ref(owner, "ReplicaSet", "apps/v1");
	ASSERT_STREQ(jsonx_str(ref, "uid", ""), "U");
	ASSERT_STREQ(jsonx_str(ref, "kind", ""), "ReplicaSet");
	ASSERT(jsonx_bool(ref, "controller", false) &&
	       jsonx_bool(ref, "blockOwnerDeletion", false));
	json_decref(ref);
	selector_free(sel);
	json_decref(owner);
	json_decref(mine);
	json_decref(theirs);
	json_decref(orphan);
}

TEST(cm_pod_from_template)
{
	json_t *owner = json_loads("{\"metadata\":{\"name\":\"web-abc\",\"namespace\":\"prod\","
				   "\"uid\":\"U\"}}",
				   0, NULL);
	json_t *tmpl = json_loads("{\"metadata\":{\"labels\":{\"app\":\"web\"},\"annotations\":"
				  "{\"a\":\"b\"},\"finalizers\":[\"f\"],\"name\":\"ignored\"},"
				  "\"spec\":{\"containers\":[{\"name\":\"c\"}]}}",
				  0, NULL);
	json_t *pod = cm_pod_from_template(tmpl, owner, "ReplicaSet", "apps/v1");

	ASSERT_STREQ(jsonx_path_str(pod, "metadata.generateName", ""), "web-abc-");
	ASSERT_NULL(jsonx_get_path(pod, "metadata.name"));
	ASSERT_STREQ(jsonx_path_str(pod, "metadata.namespace", ""), "prod");
	ASSERT_STREQ(jsonx_path_str(pod, "metadata.labels.app", ""), "web");
	ASSERT_STREQ(jsonx_path_str(pod, "metadata.annotations.a", ""), "b");
	ASSERT_STREQ(jsonx_path_str(pod, "metadata.finalizers[0]", ""), "f");
	ASSERT_STREQ(jsonx_path_str(pod, "metadata.ownerReferences[0].uid", ""), "U");
	ASSERT_STREQ(jsonx_path_str(pod, "spec.containers[0].name", ""), "c");
	ASSERT(cm_is_controlled_by(pod, owner));
	/* The template is copied, not shared. */
	jsonx_set_path(tmpl, "spec.containers[0].name", json_string("changed"));
	ASSERT_STREQ(jsonx_path_str(pod, "spec.containers[0].name", ""), "c");
	json_decref(pod);
	pod = cm_pod_from_template(NULL, owner, "ReplicaSet", "apps/v1");
	ASSERT(json_is_object(jsonx_obj(pod, "spec")));
	ASSERT_NULL(jsonx_get_path(pod, "metadata.labels"));
	json_decref(pod);
	json_decref(tmpl);
	json_decref(owner);
}

TEST(cm_split_key_checks_its_input)
{
	const char *name = NULL;
	char ns[8];

	ASSERT_OK(cm_split_key("default/web", ns, sizeof(ns), &name));
	ASSERT_STREQ(ns, "default");
	ASSERT_STREQ(name, "web");
	ASSERT_EQ(cm_split_key("web", ns, sizeof(ns), &name), -EINVAL);
	ASSERT_EQ(cm_split_key("/web", ns, sizeof(ns), &name), -EINVAL);
	ASSERT_EQ(cm_split_key("default/", ns, sizeof(ns), &name), -EINVAL);
	ASSERT_EQ(cm_split_key("namespace-too-long/web", ns, sizeof(ns), &name), -EINVAL);
	ASSERT_EQ(cm_split_key(NULL, ns, sizeof(ns), &name), -EINVAL);
}
