/*
 * Unit tests for the DaemonSet controller: taints and tolerations, node
 * selectors and required node affinity, the daemon tolerations, node
 * eligibility, the pinned pod, and ds_sync against the in-memory API of
 * test_cm_fake (one pod per eligible node, cleanup of extra, failed and
 * misplaced pods, rolling update within maxUnavailable, status).
 */
#include "test.h"

#include "control/controllers/daemonset.h"
#include "control/controllers/podutil.h"
#include "jsonx.h"
#include "ktime.h"
#include "test_cm_fake.h"

#define SEC 1000000000ll
#define NOW (1767229200ll * SEC)

static bool tol(const char *tol_json, const char *taint_json)
{
	json_t *t = json_loads(tol_json, 0, NULL), *x = json_loads(taint_json, 0, NULL);
	bool r;

	ASSERT_NOT_NULL(t);
	ASSERT_NOT_NULL(x);
	r = ds_tolerates(t, x);
	json_decref(t);
	json_decref(x);
	return r;
}

TEST(ds_tolerations_match_taints_as_upstream)
{
	const char *taint = "{\"key\":\"k\",\"value\":\"v\",\"effect\":\"NoSchedule\"}";

	ASSERT(tol(
		"{\"key\":\"k\",\"operator\":\"Equal\",\"value\":\"v\",\"effect\":\"NoSchedule\"}",
		taint));
	ASSERT(tol("{\"key\":\"k\",\"value\":\"v\"}", taint)); /* Equal by default, any effect */
	ASSERT(!tol("{\"key\":\"k\",\"value\":\"w\"}", taint));
	ASSERT(tol("{\"key\":\"k\",\"operator\":\"Exists\"}", taint));
	ASSERT(tol("{\"operator\":\"Exists\"}", taint)); /* tolerates everything */
	ASSERT(!tol("{\"operator\":\"Exists\",\"effect\":\"NoExecute\"}", taint));
	ASSERT(!tol("{\"key\":\"other\",\"operator\":\"Exists\"}", taint));
	ASSERT(!tol("{\"key\":\"k\",\"operator\":\"Bogus\",\"value\":\"v\"}", taint));
}

static json_t *node(const char *name, const char *labels, const char *taints)
{
	json_t *n = json_pack("{s:s,s:s,s:{s:s},s:{}}", "apiVersion", "v1", "kind", "Node",
			      "metadata", "name", name, "spec");

	jsonx_set_path(n, "metadata.labels", json_loads(labels ? labels : "{}", 0, NULL));
	if (taints)
		jsonx_set_path(n, "spec.taints", json_loads(taints, 0, NULL));
	return n;
}

TEST(ds_untolerated_taint_ignores_prefer_no_schedule)
{
	json_t *n = node("n", NULL,
			 "[{\"key\":\"a\",\"effect\":\"PreferNoSchedule\"},"
			 "{\"key\":\"b\",\"effect\":\"NoSchedule\"},"
			 "{\"key\":\"c\",\"effect\":\"NoExecute\"}]");
	json_t *tols = json_loads("[{\"key\":\"c\",\"operator\":\"Exists\"}]", 0, NULL);
	json_t *none = json_array();

	ASSERT_STREQ(jsonx_str(ds_untolerated_taint(n, none, false), "key", ""), "b");
	ASSERT_STREQ(jsonx_str(ds_untolerated_taint(n, none, true), "key", ""), "c");
	ASSERT_STREQ(jsonx_str(ds_untolerated_taint(n, tols, false), "key", ""), "b");
	ASSERT_NULL(ds_untolerated_taint(n, tols, true));
	json_decref(n);
	json_decref(tols);
	json_decref(none);
}

static bool matches(const char *spec_json, json_t *n)
{
	json_t *spec = json_loads(spec_json, 0, NULL);
	bool r;

	ASSERT_NOT_NULL(spec);
	r = ds_node_matches(spec, n);
	json_decref(spec);
	return r;
}

#define AFF(terms)                                                                             \
	"{\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":" \
	"{\"nodeSelectorTerms\":" terms "}}}}"

TEST(ds_node_selector_and_required_affinity)
{
	json_t *n = node("n1", "{\"zone\":\"a\",\"gpu\":\"2\",\"ssd\":\"\"}", NULL);

	ASSERT(matches("{}", n));
	ASSERT(matches("{\"nodeSelector\":{\"zone\":\"a\"}}", n));
	ASSERT(!matches("{\"nodeSelector\":{\"zone\":\"b\"}}", n));
	ASSERT(!matches("{\"nodeSelector\":{\"rack\":\"1\"}}", n));
	ASSERT(matches(AFF("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\","
			   "\"values\":[\"a\",\"b\"]}]}]"),
		       n));
	ASSERT(!matches(AFF("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"NotIn\","
			    "\"values\":[\"a\"]}]}]"),
			n));
	ASSERT(matches(AFF("[{\"matchExpressions\":[{\"key\":\"ssd\",\"operator\":\"Exists\"}]}]"),
		       n));
	ASSERT(matches(
		AFF("[{\"matchExpressions\":[{\"key\":\"hdd\",\"operator\":\"DoesNotExist\"}]}]"),
		n));
	ASSERT(matches(AFF("[{\"matchExpressions\":[{\"key\":\"gpu\",\"operator\":\"Gt\","
			   "\"values\":[\"1\"]}]}]"),
		       n));
	ASSERT(!matches(AFF("[{\"matchExpressions\":[{\"key\":\"gpu\",\"operator\":\"Lt\","
			    "\"values\":[\"2\"]}]}]"),
			n));
	/* Terms are ORed, requirements within a term ANDed. */
	ASSERT(matches(AFF("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\","
			   "\"values\":[\"z\"]}]},"
			   "{\"matchExpressions\":[{\"key\":\"gpu\",\"operator\":\"Exists\"}]}]"),
		       n));
	ASSERT(!matches(AFF("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\","
			    "\"values\":[\"a\"]},"
			    "{\"key\":\"gpu\",\"operator\":\"DoesNotExist\"}]}]"),
			n));
	/* matchFields on the node name. */
	ASSERT(matches(AFF("[{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\","
			   "\"values\":[\"n1\"]}]}]"),
		       n));
	ASSERT(!matches(AFF("[{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"NotIn\","
			    "\"values\":[\"n1\"]}]}]"),
			n));
	ASSERT(!matches(AFF("[{\"matchFields\":[{\"key\":\"spec.podCIDR\",\"operator\":\"In\","
			    "\"values\":[\"n1\"]}]}]"),
			n));
	/* An empty term, no terms, a bad operator or a bad value match nothing. */
	ASSERT(!matches(AFF("[{}]"), n));
	ASSERT(!matches(AFF("[]"), n));
	ASSERT(!matches(AFF("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"Near\","
			    "\"values\":[\"a\"]}]}]"),
			n));
	ASSERT(!matches(AFF("[{\"matchExpressions\":[{\"key\":\"gpu\",\"operator\":\"Gt\","
			    "\"values\":[\"x\"]}]}]"),
			n));
	ASSERT(!matches(AFF("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\","
			    "\"values\":[]}]}]"),
			n));
	json_decref(n);
}

TEST(ds_daemon_tolerations_are_added_once)
{
	json_t *spec = json_loads("{\"tolerations\":[{\"key\":\"node.kubernetes.io/not-ready\","
				  "\"operator\":\"Exists\",\"effect\":\"NoExecute\"}]}",
				  0, NULL);
	json_t *t;
	size_t i;
	bool unreachable = false;

	ds_add_daemon_tolerations(spec);
	ds_add_daemon_tolerations(spec);
	ASSERT_EQ(json_array_size(jsonx_arr(spec, "tolerations")), 6);
	json_array_foreach(jsonx_arr(spec, "tolerations"), i, t) {
		if (strcmp(jsonx_str(t, "key", ""), "node.kubernetes.io/unreachable") == 0)
			unreachable = strcmp(jsonx_str(t, "effect", ""), "NoExecute") == 0;
		ASSERT(strcmp(jsonx_str(t, "key", ""), "node.kubernetes.io/network-unavailable") !=
		       0);
	}
	ASSERT(unreachable);
	json_object_set_new(spec, "hostNetwork", json_true());
	ds_add_daemon_tolerations(spec);
	ASSERT_EQ(json_array_size(jsonx_arr(spec, "tolerations")), 7);
	json_decref(spec);
}

static json_t *make_ds(const char *extra_spec)
{
	json_t *ds = json_pack(
		"{s:s,s:s,s:{s:s,s:s,s:s,s:i},s:{s:{s:{s:s}},s:{s:{s:{s:s}},s:{s:[{s:s,s:s}]}}}}",
		"apiVersion", "apps/v1", "kind", "DaemonSet", "metadata", "name", "agent",
		"namespace", "kube-system", "uid", "ds-uid", "generation", 1, "spec", "selector",
		"matchLabels", "app", "agent", "template", "metadata", "labels", "app", "agent",
		"spec", "containers", "name", "a", "image", "agent:1");

	if (extra_spec) {
		json_t *extra = json_loads(extra_spec, 0, NULL);

		ASSERT_NOT_NULL(extra);
		json_object_update(jsonx_get_path(ds, "spec.template.spec"), extra);
		json_decref(extra);
	}
	return ds;
}

static void should_run(json_t *ds, json_t *n, bool want_run, bool want_keep)
{
	bool run, keep;

	ds_node_should_run(ds, n, &run, &keep);
	ASSERT_EQ(run, want_run);
	ASSERT_EQ(keep, want_keep);
	json_decref(n);
}

TEST(ds_node_eligibility)
{
	json_t *ds = make_ds("{\"nodeSelector\":{\"role\":\"worker\"}}");
	const char *w = "{\"role\":\"worker\"}";

	should_run(ds, node("a", w, NULL), true, true);
	should_run(ds, node("b", "{\"role\":\"db\"}", NULL), false, false);
	/* The daemon tolerations cover these. */
	should_run(ds,
		   node("c", w,
			"[{\"key\":\"node.kubernetes.io/not-ready\",\"effect\":\"NoExecute\"}]"),
		   true, true);
	should_run(
		ds,
		node("d", w,
		     "[{\"key\":\"node.kubernetes.io/unschedulable\",\"effect\":\"NoSchedule\"}]"),
		true, true);
	should_run(
		ds,
		node("e", w,
		     "[{\"key\":\"node.kubernetes.io/disk-pressure\",\"effect\":\"NoSchedule\"}]"),
		true, true);
	/* Someone else's taints: NoSchedule keeps what runs, NoExecute does not. */
	should_run(
		ds,
		node("f", w, "[{\"key\":\"dedicated\",\"value\":\"x\",\"effect\":\"NoSchedule\"}]"),
		false, true);
	should_run(
		ds,
		node("g", w, "[{\"key\":\"dedicated\",\"value\":\"x\",\"effect\":\"NoExecute\"}]"),
		false, false);
	should_run(
		ds,
		node("h", w,
		     "[{\"key\":\"dedicated\",\"value\":\"x\",\"effect\":\"PreferNoSchedule\"}]"),
		true, true);
	/* network-unavailable only for hostNetwork pods. */
	should_run(ds,
		   node("i", w,
			"[{\"key\":\"node.kubernetes.io/"
			"network-unavailable\",\"effect\":\"NoSchedule\"}]"),
		   false, true);
	json_decref(ds);
	ds = make_ds("{\"hostNetwork\":true,\"tolerations\":[{\"key\":\"dedicated\",\"operator\":"
		     "\"Exists\"}]}");
	should_run(ds,
		   node("i", NULL,
			"[{\"key\":\"node.kubernetes.io/"
			"network-unavailable\",\"effect\":\"NoSchedule\"}]"),
		   true, true);
	should_run(ds,
		   node("g", NULL,
			"[{\"key\":\"dedicated\",\"value\":\"x\",\"effect\":\"NoExecute\"}]"),
		   true, true);
	json_decref(ds);
	/* A template pinned by nodeName runs only there. */
	ds = make_ds("{\"nodeName\":\"a\"}");
	should_run(ds, node("a", NULL, NULL), true, true);
	should_run(ds, node("b", NULL, NULL), false, false);
	json_decref(ds);
}

TEST(ds_pod_is_pinned_with_node_affinity)
{
	json_t *ds = make_ds(
		AFF("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"Exists\"}]}]"));
	json_t *pod, *terms;

	pod = ds_new_pod(ds, "n7", "hhh");
	ASSERT_STREQ(jsonx_path_str(pod, "metadata.labels." DS_HASH_LABEL, ""), "hhh");
	ASSERT_STREQ(jsonx_path_str(pod, "metadata.labels.app", ""), "agent");
	ASSERT_STREQ(jsonx_path_str(pod, "metadata.generateName", ""), "agent-");
	ASSERT_STREQ(jsonx_path_str(pod, "metadata.namespace", ""), "kube-system");
	ASSERT_STREQ(jsonx_path_str(pod, "metadata.ownerReferences[0].kind", ""), "DaemonSet");
	ASSERT_STREQ(jsonx_path_str(pod, "spec.nodeName", ""), "");
	terms = jsonx_get_path(pod,
			       "spec.affinity.nodeAffinity."
			       "requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms");
	/* The eligibility terms were checked already: the pin replaces them. */
	ASSERT_EQ(json_array_size(terms), 1);
	ASSERT_STREQ(jsonx_path_str(terms, "[0].matchFields[0].key", ""), "metadata.name");
	ASSERT_STREQ(jsonx_path_str(terms, "[0].matchFields[0].values[0]", ""), "n7");
	ASSERT_STREQ(ds_pod_node(pod), "n7");
	ASSERT_EQ(json_array_size(jsonx_get_path(pod, "spec.tolerations")), 6);
	jsonx_set_path(pod, "spec.nodeName", json_string("n8"));
	ASSERT_STREQ(ds_pod_node(pod), "n8");
	json_decref(pod);
	pod = json_pack("{s:{}}", "spec");
	ASSERT_NULL(ds_pod_node(pod));
	json_decref(pod);
	json_decref(ds);
}

/* ---------------------------------------------------------------- sync */

struct rig {
	struct cm_fake f;
	struct cm_expectations *exp;
	struct ds_env env;
	json_t *nodes;
};

static void rig_init(struct rig *r, json_t *ds)
{
	cm_fake_init(&r->f, "daemonset-controller");
	r->exp = cm_exp_new();
	r->env = (struct ds_env){ .api = &r->f.api, .exp = r->exp, .now = NOW };
	r->nodes = json_array();
	cm_fake_put(&r->f, CM_DAEMONSETS, ds);
}

static void rig_free(struct rig *r)
{
	json_decref(r->nodes);
	cm_exp_free(r->exp);
	cm_fake_free(&r->f);
}

static json_t *the_ds(struct rig *r)
{
	return cm_fake_get(&r->f, CM_DAEMONSETS, "kube-system", "agent");
}

static int sync_ds(struct rig *r, bool need, int64_t *requeue)
{
	json_t *ds = json_incref(the_ds(r)), *pods = cm_fake_list(&r->f, CM_PODS);
	int rc = ds_sync(&r->env, "kube-system/agent", ds, r->nodes, pods, need, requeue);

	json_decref(pods);
	json_decref(ds);
	return rc;
}

/* The kubelet and scheduler: bind every pod to its node, make it ready at `at`. */
static void run_pods(struct rig *r, int64_t at)
{
	json_t *pod;
	const char *k;
	char ts[KTIME_BUFSZ];

	ktime_format(at, ts, sizeof(ts));
	json_object_foreach(r->f.objs[CM_PODS], k, pod) {
		if (jsonx_path_str(pod, "status.phase", NULL))
			continue;
		jsonx_set_path(pod, "spec.nodeName", json_string(ds_pod_node(pod)));
		jsonx_set_path(pod, "status",
			       json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "phase", "Running",
					 "conditions", "type", "Ready", "status", "True",
					 "lastTransitionTime", ts));
	}
}

/* Finish deletions (the kubelet confirms). */
static void reap(struct rig *r)
{
	json_t *pod, *tmp;
	const char *k;

	json_object_foreach_safe(r->f.objs[CM_PODS], tmp, k, pod) {
		if (cm_is_deleting(pod))
			json_object_del(r->f.objs[CM_PODS], k);
	}
}

static int pods_on(struct rig *r, const char *node_name)
{
	json_t *pod;
	const char *k;
	int n = 0;

	json_object_foreach(r->f.objs[CM_PODS], k, pod)
		n += strcmp(ds_pod_node(pod) ?: "", node_name) == 0;
	return n;
}

static long long st(struct rig *r, const char *field)
{
	return jsonx_int(jsonx_obj(the_ds(r), "status"), field, -1);
}

TEST(ds_one_pod_per_eligible_node_and_status)
{
	struct rig r;

	rig_init(&r, make_ds("{\"nodeSelector\":{\"role\":\"worker\"}}"));
	json_array_append_new(r.nodes, node("w1", "{\"role\":\"worker\"}", NULL));
	json_array_append_new(r.nodes, node("w2", "{\"role\":\"worker\"}", NULL));
	json_array_append_new(r.nodes, node("db", "{\"role\":\"db\"}", NULL));
	json_array_append_new(r.nodes, node("t", "{\"role\":\"worker\"}",
					    "[{\"key\":\"x\",\"effect\":\"NoSchedule\"}]"));
	ASSERT_OK(sync_ds(&r, true, NULL));
	ASSERT_EQ(cm_fake_count(&r.f, CM_PODS), 2);
	ASSERT_EQ(pods_on(&r, "w1"), 1);
	ASSERT_EQ(pods_on(&r, "w2"), 1);
	ASSERT_EQ(cm_fake_events(&r.f, "SuccessfulCreate"), 2);
	ASSERT_EQ(st(&r, "desiredNumberScheduled"), 2);
	ASSERT_EQ(st(&r, "currentNumberScheduled"), 0);
	ASSERT_EQ(st(&r, "observedGeneration"), 1);
	/* Expectations hold the next sync back; status only, generation not raised. */
	ASSERT(!cm_exp_satisfied(r.exp, "kube-system/agent"));
	cm_exp_creation_observed(r.exp, "kube-system/agent");
	cm_exp_creation_observed(r.exp, "kube-system/agent");
	run_pods(&r, NOW - 60 * SEC);
	ASSERT_OK(sync_ds(&r, true, NULL));
	ASSERT_EQ(cm_fake_count(&r.f, CM_PODS), 2);
	ASSERT_EQ(st(&r, "currentNumberScheduled"), 2);
	ASSERT_EQ(st(&r, "numberReady"), 2);
	ASSERT_EQ(st(&r, "numberAvailable"), 2);
	ASSERT_EQ(st(&r, "updatedNumberScheduled"), 2);
	ASSERT_EQ(st(&r, "numberUnavailable"), 0);
	ASSERT_EQ(st(&r, "numberMisscheduled"), 0);

	/* A new node: one more pod. */
	json_array_append_new(r.nodes, node("w3", "{\"role\":\"worker\"}", NULL));
	ASSERT_OK(sync_ds(&r, cm_exp_satisfied(r.exp, "kube-system/agent"), NULL));
	ASSERT_EQ(pods_on(&r, "w3"), 1);
	ASSERT_EQ(st(&r, "desiredNumberScheduled"), 3);
	rig_free(&r);
}

TEST(ds_status_only_without_need_sync_keeps_observed_generation)
{
	struct rig r;
	json_t *ds = make_ds(NULL);

	jsonx_set_path(ds, "metadata.generation", json_integer(4));
	jsonx_set_path(ds, "status", json_pack("{s:i}", "observedGeneration", 3));
	rig_init(&r, ds);
	json_array_append_new(r.nodes, node("n1", NULL, NULL));
	ASSERT_OK(sync_ds(&r, false, NULL));
	ASSERT_EQ(cm_fake_calls(&r.f, "POST pods"), 0);
	ASSERT_EQ(st(&r, "observedGeneration"), 3);
	ASSERT_EQ(st(&r, "desiredNumberScheduled"), 1);
	rig_free(&r);
}

static void put_pod(struct rig *r, const char *name, const char *node_name, const char *hash,
		    const char *phase, int64_t created)
{
	json_t *pod = ds_new_pod(the_ds(r), node_name, hash);
	char ts[KTIME_BUFSZ];

	json_object_del(json_object_get(pod, "metadata"), "generateName");
	jsonx_set_path(pod, "metadata.name", json_string(name));
	ktime_format(created, ts, sizeof(ts));
	jsonx_set_path(pod, "metadata.creationTimestamp", json_string(ts));
	if (phase) {
		jsonx_set_path(pod, "spec.nodeName", json_string(node_name));
		jsonx_set_path(pod, "status",
			       json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "phase", phase, "conditions",
					 "type", "Ready", "status",
					 strcmp(phase, "Running") ? "False" : "True",
					 "lastTransitionTime", "2025-01-01T00:00:00Z"));
	}
	cm_fake_put(&r->f, CM_PODS, pod);
}

static const char *hash_of(struct rig *r)
{
	static char h[16];

	cm_template_hash(jsonx_get_path(the_ds(r), "spec.template"), -1, h, sizeof(h));
	return h;
}

TEST(ds_deletes_extra_failed_and_misplaced_pods)
{
	struct rig r;

	rig_init(&r, make_ds("{\"nodeSelector\":{\"role\":\"worker\"}}"));
	json_array_append_new(r.nodes, node("w1", "{\"role\":\"worker\"}", NULL));
	json_array_append_new(r.nodes, node("w2", "{\"role\":\"worker\"}", NULL));
	json_array_append_new(r.nodes, node("db", "{\"role\":\"db\"}", NULL));
	put_pod(&r, "old", "w1", hash_of(&r), "Running", NOW - 100 * SEC);
	put_pod(&r, "dup", "w1", hash_of(&r), "Running", NOW - 50 * SEC);
	put_pod(&r, "failed", "w2", hash_of(&r), "Failed", NOW - 50 * SEC);
	put_pod(&r, "wrong", "db", hash_of(&r), "Running", NOW - 50 * SEC);
	put_pod(&r, "ghost", "gone", hash_of(&r), NULL, NOW - 50 * SEC);
	ASSERT_OK(sync_ds(&r, true, NULL));
	ASSERT_EQ(cm_fake_calls(&r.f, "DELETE pods kube-system/dup"), 1);
	ASSERT_EQ(cm_fake_calls(&r.f, "DELETE pods kube-system/failed"), 1);
	ASSERT_EQ(cm_fake_calls(&r.f, "DELETE pods kube-system/wrong"), 1);
	ASSERT_EQ(cm_fake_calls(&r.f, "DELETE pods kube-system/ghost"), 1);
	ASSERT_EQ(cm_fake_calls(&r.f, "DELETE pods kube-system/old"), 0);
	ASSERT_EQ(cm_fake_events(&r.f, "FailedDaemonPod"), 1);
	/* w2's failed pod still existed during this sync: no create yet. */
	ASSERT_EQ(cm_fake_calls(&r.f, "POST pods"), 0);
	ASSERT_EQ(st(&r, "numberMisscheduled"), 1);
	cm_exp_forget(r.exp, "kube-system/agent");
	ASSERT_OK(sync_ds(&r, true, NULL));
	ASSERT_EQ(cm_fake_calls(&r.f, "POST pods"), 1);
	ASSERT_EQ(pods_on(&r, "w2"), 1);
	rig_free(&r);
}

/* Nodes n0..n{count-1}, each with a running pod of the current template. */
static void settled(struct rig *r, int count)
{
	char name[16], pname[16];

	for (int i = 0; i < count; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		snprintf(pname, sizeof(pname), "p%d", i);
		json_array_append_new(r->nodes, node(name, NULL, NULL));
		put_pod(r, pname, name, hash_of(r), "Running", NOW - 1000 * SEC + i * SEC);
	}
}

static void set_image(struct rig *r, const char *image)
{
	json_t *ds = json_deep_copy(the_ds(r));

	jsonx_set_path(ds, "spec.template.spec.containers[0].image", json_string(image));
	ASSERT_EQ(r->f.api.update(r->f.api.ctx, CM_DAEMONSETS, ds, NULL, NULL), 200);
	json_decref(ds);
}

static int count_image(struct rig *r, const char *image, bool ready_only)
{
	json_t *pod;
	const char *k;
	int n = 0;

	json_object_foreach(r->f.objs[CM_PODS], k, pod) {
		if (cm_is_deleting(pod) || (ready_only && !cm_pod_is_ready(pod)))
			continue;
		n += strcmp(jsonx_path_str(pod, "spec.containers[0].image", ""), image) == 0;
	}
	return n;
}

static void rolling(const char *max_unavailable, int nodes, int want_max_down)
{
	struct rig r;
	json_t *ds = make_ds(NULL);
	char msg[256];
	int steps = 0;

	if (max_unavailable)
		jsonx_set_path(ds, "spec.updateStrategy",
			       json_pack("{s:s,s:{s:o}}", "type", "RollingUpdate", "rollingUpdate",
					 "maxUnavailable",
					 strchr(max_unavailable, '%')
						 ? json_string(max_unavailable)
						 : json_integer(atoi(max_unavailable))));
	rig_init(&r, ds);
	settled(&r, nodes);
	set_image(&r, "agent:2");
	for (; steps < 100; steps++) {
		int down;

		ASSERT_OK(sync_ds(&r, true, NULL));
		cm_exp_forget(r.exp, "kube-system/agent");
		/* Ready pods (old or new) never drop below nodes - maxUnavailable. */
		down = nodes - count_image(&r, "agent:1", true) - count_image(&r, "agent:2", true);
		ASSERT_MSG(down <= want_max_down, "step %d: %d nodes without a ready pod", steps,
			   down);
		if (ds_rollout_status(the_ds(&r), msg, sizeof(msg)) == 1)
			break;
		reap(&r);
		run_pods(&r, NOW - 100 * SEC);
	}
	ASSERT_EQ(ds_rollout_status(the_ds(&r), msg, sizeof(msg)), 1);
	ASSERT_EQ(count_image(&r, "agent:2", true), nodes);
	ASSERT_EQ(count_image(&r, "agent:1", false), 0);
	ASSERT_EQ(st(&r, "updatedNumberScheduled"), nodes);
	ASSERT(steps >= nodes / want_max_down);
	rig_free(&r);
}

TEST(ds_rolling_update_respects_max_unavailable)
{
	rolling(NULL, 4, 1);
	rolling("2", 5, 2);
	rolling("50%", 5, 3); /* DaemonSets round maxUnavailable up */
	rolling("0%", 3, 1);
}

TEST(ds_rolling_update_replaces_unavailable_old_pods_at_no_cost)
{
	struct rig r;

	rig_init(&r, make_ds(NULL));
	settled(&r, 3);
	/* p1 is not ready: replacing it uses none of maxUnavailable (1). */
	jsonx_set_path(cm_fake_get(&r.f, CM_PODS, "kube-system", "p1"),
		       "status.conditions[0].status", json_string("False"));
	set_image(&r, "agent:2");
	ASSERT_OK(sync_ds(&r, true, NULL));
	ASSERT_EQ(cm_fake_calls(&r.f, "DELETE pods kube-system/p1"), 1);
	ASSERT_EQ(cm_fake_calls(&r.f, "DELETE pods"), 2);
	ASSERT_EQ(cm_fake_calls(&r.f, "POST pods"), 0);
	rig_free(&r);
}

TEST(ds_replacement_waits_for_the_terminating_pod)
{
	struct rig r;

	rig_init(&r, make_ds(NULL));
	json_array_append_new(r.nodes, node("n0", NULL, NULL));
	json_array_append_new(r.nodes, node("n1", NULL, NULL));
	json_array_append_new(r.nodes, node("n2", NULL, NULL));
	put_pod(&r, "going", "n0", "oldhash", "Running", NOW - 100 * SEC);
	jsonx_set_path(cm_fake_get(&r.f, CM_PODS, "kube-system", "going"),
		       "metadata.deletionTimestamp", json_string("2026-01-01T00:00:00Z"));
	put_pod(&r, "old2", "n2", "oldhash", "Running", NOW - 100 * SEC);
	ASSERT_OK(sync_ds(&r, true, NULL));
	/* n1 gets its pod; n0 waits; no rolling deletion in the same sync. */
	ASSERT_EQ(cm_fake_calls(&r.f, "POST pods"), 1);
	ASSERT_EQ(pods_on(&r, "n1"), 1);
	ASSERT_EQ(pods_on(&r, "n0"), 1);
	ASSERT_EQ(cm_fake_calls(&r.f, "DELETE pods"), 0);
	/* The terminating pod counts as unavailable: old2 is not replaced yet either. */
	run_pods(&r, NOW - 100 * SEC);
	cm_exp_forget(r.exp, "kube-system/agent");
	ASSERT_OK(sync_ds(&r, true, NULL));
	ASSERT_EQ(cm_fake_calls(&r.f, "DELETE pods"), 0);
	/* Gone: n0 gets the new pod. */
	reap(&r);
	ASSERT_OK(sync_ds(&r, true, NULL));
	ASSERT_EQ(pods_on(&r, "n0"), 1);
	ASSERT_EQ(cm_fake_calls(&r.f, "POST pods"), 2);
	rig_free(&r);
}

TEST(ds_rollout_status_and_on_delete)
{
	json_t *ds = make_ds(NULL);
	char msg[256];

	jsonx_set_path(ds, "status",
		       json_pack("{s:i,s:i,s:i,s:i}", "observedGeneration", 1,
				 "desiredNumberScheduled", 3, "updatedNumberScheduled", 2,
				 "numberAvailable", 3));
	ASSERT_EQ(ds_rollout_status(ds, msg, sizeof(msg)), 0);
	ASSERT_STREQ(msg, "Waiting for daemon set \"agent\" rollout to finish: 2 out of 3 new pods "
			  "have been updated...");
	jsonx_set_path(ds, "status.updatedNumberScheduled", json_integer(3));
	jsonx_set_path(ds, "status.numberAvailable", json_integer(2));
	ASSERT_EQ(ds_rollout_status(ds, msg, sizeof(msg)), 0);
	jsonx_set_path(ds, "status.numberAvailable", json_integer(3));
	ASSERT_EQ(ds_rollout_status(ds, msg, sizeof(msg)), 1);
	jsonx_set_path(ds, "metadata.generation", json_integer(2));
	ASSERT_EQ(ds_rollout_status(ds, msg, sizeof(msg)), 0);
	ASSERT_STREQ(msg, "Waiting for daemon set spec update to be observed...");
	jsonx_set_path(ds, "spec.updateStrategy", json_pack("{s:s}", "type", "OnDelete"));
	ASSERT_EQ(ds_rollout_status(ds, msg, sizeof(msg)), -EINVAL);
	json_decref(ds);
}

TEST(ds_on_delete_strategy_does_not_replace_pods)
{
	struct rig r;
	json_t *ds = make_ds(NULL);

	jsonx_set_path(ds, "spec.updateStrategy", json_pack("{s:s}", "type", "OnDelete"));
	rig_init(&r, ds);
	settled(&r, 2);
	set_image(&r, "agent:2");
	ASSERT_OK(sync_ds(&r, true, NULL));
	ASSERT_EQ(cm_fake_calls(&r.f, "DELETE pods"), 0);
	ASSERT_EQ(st(&r, "updatedNumberScheduled"), 0);
	ASSERT_EQ(st(&r, "currentNumberScheduled"), 2);
	rig_free(&r);
}
