/*
 * Unit tests for the node lifecycle controller's decisions
 * (control/controllers/nodelc_policy): lease health with a fake clock,
 * Unknown conditions, taints, NoExecute eviction delays, pod readiness.
 */
#include "test.h"

#include "control/controllers/nodelc_policy.h"
#include "jsonx.h"

#define S(n) ((int64_t)(n)*1000000000ll)
#define NOW "2026-01-01T00:00:10Z"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	ASSERT_MSG(j, "bad test JSON: %s: %s", e.text, text);
	return j;
}

static json_t *node_with(const char *ready, const char *heartbeat)
{
	json_t *n = parse("{\"metadata\":{\"name\":\"n1\",\"creationTimestamp\":"
			  "\"2026-01-01T00:00:00Z\"},\"spec\":{},\"status\":{\"conditions\":[]}}");

	if (ready)
		json_array_append_new(jsonx_get_path(n, "status.conditions"),
				      json_pack("{s:s,s:s,s:s,s:s}", "type", "Ready", "status",
						ready, "lastHeartbeatTime", heartbeat,
						"lastTransitionTime", "2026-01-01T00:00:01Z"));
	return n;
}

static json_t *lease_at(const char *renew)
{
	return json_pack("{s:{s:s}}", "spec", "renewTime", renew);
}

TEST(nodelc_health_lease_renewals_keep_node_alive)
{
	struct nodelc_health h = { 0 };
	json_t *node = node_with("True", "2026-01-01T00:00:01Z");
	json_t *l1 = lease_at("2026-01-01T00:00:01.000000Z");
	json_t *l2 = lease_at("2026-01-01T00:00:11.000000Z");

	/* First sight counts as heard; silence up to the grace is fine. */
	ASSERT(!nodelc_health_observe(&h, node, l1, S(100), S(40)));
	ASSERT(!nodelc_health_observe(&h, node, l1, S(140), S(40)));
	ASSERT(nodelc_health_observe(&h, node, l1, S(141), S(40)));
	/* A renewal is noted at our clock's time, whatever renewTime says. */
	ASSERT(!nodelc_health_observe(&h, node, l2, S(150), S(40)));
	ASSERT(!nodelc_health_observe(&h, node, l2, S(190), S(40)));
	ASSERT(nodelc_health_observe(&h, node, l2, S(191), S(40)));
	json_decref(node);
	json_decref(l1);
	json_decref(l2);
}

TEST(nodelc_health_heartbeat_without_lease)
{
	struct nodelc_health h = { 0 };
	json_t *a = node_with("True", "2026-01-01T00:00:01Z");
	json_t *b = node_with("True", "2026-01-01T00:00:30Z");

	ASSERT(!nodelc_health_observe(&h, a, NULL, S(0), S(5)));
	ASSERT(nodelc_health_observe(&h, a, NULL, S(6), S(5)));
	ASSERT(!nodelc_health_observe(&h, b, NULL, S(7), S(5)));
	/* Our own Unknown write keeps lastHeartbeatTime: it is no sign of life. */
	json_object_set_new(json_array_get(jsonx_get_path(b, "status.conditions"), 0), "status",
			    json_string("Unknown"));
	ASSERT(nodelc_health_observe(&h, b, NULL, S(13), S(5)));
	json_decref(a);
	json_decref(b);
}

TEST(nodelc_conditions_go_unknown_once)
{
	json_t *node = node_with("True", "2026-01-01T00:00:01Z"), *conds, *c;

	conds = nodelc_conditions_unknown(node, NOW);
	ASSERT_NOT_NULL(conds);
	ASSERT_EQ(json_array_size(conds), 4);
	c = json_array_get(conds, 0);
	ASSERT_STREQ(jsonx_str(c, "type", ""), "Ready");
	ASSERT_STREQ(jsonx_str(c, "status", ""), "Unknown");
	ASSERT_STREQ(jsonx_str(c, "reason", ""), "NodeStatusUnknown");
	ASSERT_STREQ(jsonx_str(c, "message", ""), "Kubelet stopped posting node status.");
	ASSERT_STREQ(jsonx_str(c, "lastTransitionTime", ""), NOW);
	ASSERT_STREQ(jsonx_str(c, "lastHeartbeatTime", ""), "2026-01-01T00:00:01Z");
	ASSERT(!nodelc_silenced(node));
	/* Missing pressure conditions are added as never updated. */
	c = json_array_get(conds, 1);
	ASSERT_STREQ(jsonx_str(c, "type", ""), "MemoryPressure");
	ASSERT_STREQ(jsonx_str(c, "reason", ""), "NodeStatusNeverUpdated");
	ASSERT_STREQ(jsonx_str(c, "lastHeartbeatTime", ""), "2026-01-01T00:00:00Z");
	/* Applied, a second call has nothing to change. */
	json_object_set_new(json_object_get(node, "status"), "conditions", conds);
	ASSERT(nodelc_silenced(node));
	ASSERT_NULL(nodelc_conditions_unknown(node, NOW));
	/* A kubelet's own Unknown is not ours. */
	json_object_set_new(json_array_get(conds, 0), "reason", json_string("KubeletUnsure"));
	ASSERT(!nodelc_silenced(node));
	json_decref(node);
}

static const json_t *taint_at(const json_t *taints, size_t i)
{
	return json_array_get(taints, i);
}

static bool has(const json_t *taints, const char *key, const char *effect)
{
	json_t *t;
	size_t i;

	json_array_foreach(taints, i, t)
		if (strcmp(jsonx_str(t, "key", ""), key) == 0 &&
		    strcmp(jsonx_str(t, "effect", ""), effect) == 0)
			return true;
	return false;
}

TEST(nodelc_taints_follow_ready)
{
	json_t *node = node_with("Unknown", "x"), *t;

	/* A user taint is kept; unreachable is added as NoSchedule and NoExecute. */
	json_object_set_new(json_object_get(node, "spec"), "taints",
			    parse("[{\"key\":\"dedicated\",\"value\":\"db\",\"effect\":"
				  "\"NoExecute\"}]"));
	t = nodelc_taints_want(node, true, NOW);
	ASSERT_NOT_NULL(t);
	ASSERT_EQ(json_array_size(t), 3);
	ASSERT_STREQ(jsonx_str(taint_at(t, 0), "key", ""), "dedicated");
	ASSERT(has(t, NODELC_TAINT_UNREACHABLE, "NoSchedule"));
	ASSERT(has(t, NODELC_TAINT_UNREACHABLE, "NoExecute"));
	ASSERT_STREQ(jsonx_str(taint_at(t, 2), "timeAdded", ""), NOW);
	ASSERT_NULL(jsonx_obj(taint_at(t, 1), "timeAdded"));
	json_object_set_new(json_object_get(node, "spec"), "taints", t);
	ASSERT_NULL(nodelc_taints_want(node, true, NOW));

	/* Ready=False swaps unreachable for not-ready. */
	json_object_set_new(json_array_get(jsonx_get_path(node, "status.conditions"), 0), "status",
			    json_string("False"));
	t = nodelc_taints_want(node, true, NOW);
	ASSERT_EQ(json_array_size(t), 3);
	ASSERT(!has(t, NODELC_TAINT_UNREACHABLE, "NoExecute"));
	ASSERT(has(t, NODELC_TAINT_NOT_READY, "NoExecute"));
	ASSERT(has(t, NODELC_TAINT_NOT_READY, "NoSchedule"));
	json_object_set_new(json_object_get(node, "spec"), "taints", t);

	/* Back to Ready: only the user's taint is left. */
	json_object_set_new(json_array_get(jsonx_get_path(node, "status.conditions"), 0), "status",
			    json_string("True"));
	t = nodelc_taints_want(node, true, NOW);
	ASSERT_EQ(json_array_size(t), 1);
	ASSERT_STREQ(jsonx_str(taint_at(t, 0), "key", ""), "dedicated");
	json_decref(t);
	json_decref(node);
}

TEST(nodelc_taints_pressure_unschedulable_and_disruption_mode)
{
	json_t *node = node_with("Unknown", "x"), *t;

	json_array_append_new(jsonx_get_path(node, "status.conditions"),
			      parse("{\"type\":\"DiskPressure\",\"status\":\"True\"}"));
	json_array_append_new(jsonx_get_path(node, "status.conditions"),
			      parse("{\"type\":\"MemoryPressure\",\"status\":\"False\"}"));
	json_object_set_new(json_object_get(node, "spec"), "unschedulable", json_true());
	/* In disruption mode there is no NoExecute taint, and an old one goes. */
	json_object_set_new(json_object_get(node, "spec"), "taints",
			    parse("[{\"key\":\"node.kubernetes.io/unreachable\",\"effect\":"
				  "\"NoExecute\",\"timeAdded\":\"2026-01-01T00:00:00Z\"}]"));
	t = nodelc_taints_want(node, false, NOW);
	ASSERT_EQ(json_array_size(t), 3);
	ASSERT(has(t, NODELC_TAINT_UNREACHABLE, "NoSchedule"));
	ASSERT(has(t, "node.kubernetes.io/disk-pressure", "NoSchedule"));
	ASSERT(has(t, "node.kubernetes.io/unschedulable", "NoSchedule"));
	ASSERT(!has(t, "node.kubernetes.io/memory-pressure", "NoSchedule"));
	ASSERT(!has(t, NODELC_TAINT_UNREACHABLE, "NoExecute"));
	json_decref(t);
	json_decref(node);

	/* No Ready condition yet: NoExecute taints are left alone. */
	node = node_with(NULL, NULL);
	json_object_set_new(json_object_get(node, "spec"), "taints",
			    parse("[{\"key\":\"node.kubernetes.io/not-ready\",\"effect\":"
				  "\"NoExecute\"},{\"key\":\"node.kubernetes.io/not-ready\","
				  "\"effect\":\"NoSchedule\"}]"));
	t = nodelc_taints_want(node, true, NOW);
	ASSERT_EQ(json_array_size(t), 1);
	ASSERT(has(t, NODELC_TAINT_NOT_READY, "NoExecute"));
	json_decref(t);
	json_decref(node);
}

TEST(nodelc_all_disrupted_needs_every_node_down)
{
	json_t *nodes = json_array();

	ASSERT(!nodelc_all_disrupted(nodes));
	json_array_append_new(nodes, node_with("Unknown", "x"));
	json_array_append_new(nodes, node_with(NULL, NULL));
	ASSERT(nodelc_all_disrupted(nodes));
	json_array_append_new(nodes, node_with("True", "x"));
	ASSERT(!nodelc_all_disrupted(nodes));
	json_decref(nodes);
}

TEST(nodelc_toleration_matching)
{
	json_t *taint = parse("{\"key\":\"k\",\"value\":\"v\",\"effect\":\"NoExecute\"}");
	struct {
		const char *tol;
		bool want;
	} cases[] = {
		{ "{\"key\":\"k\",\"value\":\"v\"}", true },
		{ "{\"key\":\"k\",\"operator\":\"Equal\",\"value\":\"v\",\"effect\":\"NoExecute\"}",
		  true },
		{ "{\"key\":\"k\",\"value\":\"w\"}", false },
		{ "{\"key\":\"k\",\"operator\":\"Exists\"}", true },
		{ "{\"operator\":\"Exists\"}", true },
		{ "{\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}", false },
		{ "{\"key\":\"other\",\"operator\":\"Exists\"}", false },
		{ "{\"key\":\"k\",\"operator\":\"Bogus\",\"value\":\"v\"}", false },
		{ "{}", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *tol = parse(cases[i].tol);

		ASSERT_MSG(nodelc_tolerates(tol, taint) == cases[i].want, "case %zu: %s", i,
			   cases[i].tol);
		json_decref(tol);
	}
	json_decref(taint);
}

TEST(nodelc_eviction_delays)
{
	json_t *unreach = parse("[{\"key\":\"node.kubernetes.io/unreachable\",\"effect\":"
				"\"NoExecute\"},{\"key\":\"x\",\"effect\":\"NoSchedule\"}]");
	json_t *custom = parse("[{\"key\":\"dedicated\",\"effect\":\"NoExecute\"}]");
	json_t *none = parse("[{\"key\":\"x\",\"effect\":\"NoSchedule\"}]");
	json_t *short_tol = parse("[{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":"
				  "\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":3}]");
	json_t *forever = parse("[{\"operator\":\"Exists\"}]");
	json_t *zero = parse("[{\"operator\":\"Exists\",\"tolerationSeconds\":0}]");
	json_t *both = json_deep_copy(unreach);

	ASSERT_EQ(nodelc_eviction_delay(none, NULL, 300), -1);
	ASSERT_EQ(nodelc_eviction_delay(NULL, NULL, 300), -1);
	/* A lifecycle taint without toleration waits the default. */
	ASSERT_EQ(nodelc_eviction_delay(unreach, NULL, 300), 300);
	ASSERT_EQ(nodelc_eviction_delay(unreach, short_tol, 300), 3);
	ASSERT_EQ(nodelc_eviction_delay(unreach, forever, 300), -1);
	ASSERT_EQ(nodelc_eviction_delay(unreach, zero, 300), 0);
	/* Any other NoExecute taint not tolerated: at once. */
	ASSERT_EQ(nodelc_eviction_delay(custom, short_tol, 300), 0);
	ASSERT_EQ(nodelc_eviction_delay(custom, forever, 300), -1);
	/* Two taints: every one must be tolerated, the smallest limit wins. */
	json_array_extend(both, custom);
	ASSERT_EQ(nodelc_eviction_delay(both, short_tol, 300), 0);
	json_array_append_new(short_tol, parse("{\"key\":\"dedicated\",\"operator\":\"Exists\","
					       "\"tolerationSeconds\":2}"));
	ASSERT_EQ(nodelc_eviction_delay(both, short_tol, 300), 2);
	json_decref(unreach);
	json_decref(custom);
	json_decref(none);
	json_decref(short_tol);
	json_decref(forever);
	json_decref(zero);
	json_decref(both);
}

TEST(nodelc_pod_marked_not_ready)
{
	json_t *pod = parse("{\"metadata\":{\"name\":\"p\"},\"status\":{\"conditions\":["
			    "{\"type\":\"PodScheduled\",\"status\":\"True\"},"
			    "{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":"
			    "\"2026-01-01T00:00:00Z\"}]}}");
	json_t *out = nodelc_pod_not_ready(pod, NOW), *c;

	ASSERT_NOT_NULL(out);
	c = json_array_get(jsonx_get_path(out, "status.conditions"), 1);
	ASSERT_STREQ(jsonx_str(c, "status", ""), "False");
	ASSERT_STREQ(jsonx_str(c, "lastTransitionTime", ""), NOW);
	/* The input is untouched, and a pod already not ready needs nothing. */
	ASSERT_STREQ(jsonx_path_str(pod, "status.conditions[1].status", ""), "True");
	ASSERT_NULL(nodelc_pod_not_ready(out, NOW));
	json_decref(out);
	json_decref(pod);
	pod = parse("{\"status\":{}}");
	ASSERT_NULL(nodelc_pod_not_ready(pod, NOW));
	ASSERT_NULL(nodelc_pod_not_ready(NULL, NOW));
	json_decref(pod);
}

TEST(nodelc_bad_input_is_harmless)
{
	struct nodelc_health h = { 0 };
	json_t *junk =
		parse("[1, \"x\", null, {\"effect\":7}, {\"key\":\"k\",\"effect\":\"NoExecute\"}]");
	json_t *node = parse("{\"spec\":{\"taints\":\"nope\"},\"status\":{\"conditions\":{}}}");
	json_t *t, *tol;

	/* No node, no lease: first sight, then silence. */
	ASSERT(!nodelc_health_observe(&h, NULL, NULL, S(0), S(1)));
	ASSERT(nodelc_health_observe(&h, NULL, NULL, S(2), S(1)));
	ASSERT_NULL(nodelc_ready_status(NULL));
	ASSERT_NULL(nodelc_ready_status(node));
	ASSERT(!nodelc_silenced(NULL));
	/* A taint list of the wrong type reads as none; junk entries count as nothing. */
	ASSERT_NULL(nodelc_taints_want(node, true, NOW));
	t = nodelc_conditions_unknown(node, NOW);
	ASSERT_EQ(json_array_size(t), 4);
	json_decref(t);
	tol = parse("[5, \"x\", null]");
	ASSERT_EQ(nodelc_eviction_delay(junk, tol, 300), 0); /* k:NoExecute, not tolerated */
	ASSERT(!nodelc_tolerates(json_array_get(tol, 0), json_array_get(junk, 4)));
	json_array_remove(junk, 4);
	ASSERT_EQ(nodelc_eviction_delay(junk, tol, 300), -1); /* no NoExecute taint left */
	json_decref(tol);
	json_decref(junk);
	json_decref(node);
}
