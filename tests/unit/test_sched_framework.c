/*
 * Unit tests for one scheduling cycle: the failure message aggregation (upstream's
 * wording and ordering), how many nodes are filtered (percentageOfNodesToScore) and where
 * the next cycle starts, scoring picks the best node, random tie-breaks, parallel
 * filtering, and the burst case: pods assumed one after the other never overcommit.
 */
#include "test.h"
#include "test_sched_fixture.h"

#include <stdlib.h>
#include <string.h>

#include "control/scheduler/pool.h"

/* One framework per test (each test runs in its own process), freed when it ends. */
static struct sched_framework fw;

static void destroy_framework(void)
{
	sched_framework_destroy(&fw);
}

static void init(struct sched_framework *f, struct sched_pool *pool, uint64_t seed)
{
	sched_framework_init(f, pool, 0, seed);
	test_defer(destroy_framework);
}

static int cycle(struct sched_framework *f, const struct sched_pod *p, struct sched_result *res)
{
	return sched_schedule(f, fx_cache(), p, res);
}

TEST(sched_fit_error_message_upstream_wording)
{
	struct sched_result res;
	unsigned want_mask = (1u << sched_plugin_index("TaintToleration")) |
			     (1u << sched_plugin_index("NodeResourcesFit"));

	init(&fw, NULL, 1);
	fx_node("{'metadata':{'name':'n1'},'spec':{'taints':[{'key':'node.kubernetes.io/not-ready',"
		"'effect':'NoSchedule'}]},'status':{'allocatable':{'cpu':'8','pods':'110'}}}");
	fx_simple_node("n2", "1", "1Gi", "110", NULL);
	fx_simple_node("n3", "1", "1Gi", "110", NULL);
	ASSERT_EQ(cycle(&fw,
			fx_pod("{'spec':{'containers':[{'resources':{'requests':{'cpu':'2'}}}]}}"),
			&res),
		  -ENOSPC);
	ASSERT_EQ(res.code, SCHED_UNSCHEDULABLE);
	ASSERT_STREQ(res.message, "0/3 nodes are available: 1 node(s) had untolerated taint "
				  "{node.kubernetes.io/not-ready: }, 2 Insufficient cpu.");
	ASSERT_EQ(res.rejected_by, want_mask);
	ASSERT_EQ(res.evaluated, 3);
	ASSERT(res.node == NULL);
	sched_result_free(&res);
}

TEST(sched_fit_message_counts_every_reason_and_sorts_as_strings)
{
	struct sched_status st[12];
	const struct sched_status *ptr[12];
	char *msg;

	for (size_t i = 0; i < 12; i++) {
		st[i] = (struct sched_status){ .plugin = 0 };
		if (i < 10)
			sched_reject(&st[i], SCHED_UNSCHEDULABLE, "Insufficient memory");
		else
			sched_reject(&st[i], SCHED_UNSCHEDULABLE, "Too many pods");
		if (i < 2)
			sched_reject(&st[i], SCHED_UNSCHEDULABLE, "Insufficient cpu");
		ptr[i] = &st[i];
	}
	msg = sched_fit_message(12, ptr, 12);
	/* "10 ..." sorts before "2 ..." as upstream's sort.Strings does. */
	ASSERT_STREQ(msg, "0/12 nodes are available: 10 Insufficient memory, 2 Insufficient cpu, "
			  "2 Too many pods.");
	free(msg);
	msg = sched_fit_message(0, ptr, 0);
	ASSERT_STREQ(msg, "0/0 nodes are available:");
	free(msg);
}

TEST(sched_no_nodes)
{
	struct sched_result res;

	init(&fw, NULL, 1);
	ASSERT_EQ(cycle(&fw, fx_pod("{}"), &res), -ENOSPC);
	ASSERT_STREQ(res.message, "no nodes available to schedule pods");
	sched_result_free(&res);
}

TEST(sched_num_feasible_nodes_to_find)
{
	static const struct {
		size_t nodes;
		unsigned pct;
		size_t want;
	} cases[] = {
		{ 0, 0, 0 },	    { 50, 0, 50 },     { 99, 0, 99 },	    { 100, 0, 100 },
		{ 300, 0, 144 },    { 1000, 0, 420 },  { 5000, 0, 500 },    { 5625, 0, 281 },
		{ 10000, 0, 500 },  { 1000, 10, 100 }, { 1000, 100, 1000 }, { 200, 30, 100 },
		{ 5000, 30, 1500 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		ASSERT_MSG(sched_num_feasible_to_find(cases[i].nodes, cases[i].pct) ==
				   cases[i].want,
			   "%zu nodes at %u%%: %zu, want %zu", cases[i].nodes, cases[i].pct,
			   sched_num_feasible_to_find(cases[i].nodes, cases[i].pct), cases[i].want);
}

TEST(sched_filter_stops_early_and_rotates)
{
	struct sched_pool *pool = sched_pool_new(2);
	struct sched_result res;
	char name[16];

	ASSERT_NOT_NULL(pool);
	init(&fw, pool, 1);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "n%03d", i);
		fx_simple_node(name, "4", "8Gi", "110", NULL);
	}
	ASSERT_OK(cycle(&fw, fx_pod("{}"), &res));
	ASSERT_EQ(res.evaluated, 144);
	ASSERT_EQ(res.feasible, 144);
	ASSERT_EQ(fw.next_start, 144);
	sched_result_free(&res);
	ASSERT_OK(cycle(&fw, fx_pod("{}"), &res));
	ASSERT_EQ(fw.next_start, 288);
	sched_result_free(&res);
	/* When nothing fits every node is checked, in parallel, and all are counted. */
	ASSERT_EQ(cycle(&fw,
			fx_pod("{'spec':{'containers':[{'resources':{'requests':{'cpu':'5'}}}]}}"),
			&res),
		  -ENOSPC);
	ASSERT_EQ(res.evaluated, 300);
	ASSERT_STREQ(res.message, "0/300 nodes are available: 300 Insufficient cpu.");
	sched_result_free(&res);
	sched_pool_free(pool);
}

TEST(sched_picks_highest_score)
{
	struct sched_result res;

	init(&fw, NULL, 7);
	fx_simple_node("busy", "4", "8Gi", "110", NULL);
	fx_simple_node("idle", "4", "8Gi", "110", NULL);
	fx_simple_node("tainted", "4", "8Gi", "110", NULL);
	fx_node("{'metadata':{'name':'tainted'},'spec':{'taints':[{'key':'k','effect':"
		"'PreferNoSchedule'}]},'status':{'allocatable':{'cpu':'4','memory':'8Gi','pods':'"
		"110'}}}");
	fx_bound("busy",
		 "{'spec':{'containers':[{'resources':{'requests':{'cpu':'3','memory':'6Gi'}}}]}}");
	for (int i = 0; i < 20; i++) {
		ASSERT_OK(cycle(&fw,
				fx_pod("{'spec':{'containers':[{'resources':{'requests':{'cpu':"
				       "'100m','memory':'100Mi'}}}]}}"),
				&res));
		ASSERT_STREQ(res.node->name, "idle");
		ASSERT_EQ(res.feasible, 3);
		sched_result_free(&res);
	}
}

TEST(sched_ties_broken_at_random)
{
	struct sched_result res;
	int hits[4] = { 0 };
	char name[16];

	init(&fw, NULL, 42);
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		fx_simple_node(name, "4", "8Gi", "110", NULL);
	}
	for (int i = 0; i < 400; i++) {
		ASSERT_OK(cycle(&fw, fx_pod("{}"), &res));
		hits[res.node->name[1] - '0']++;
		sched_result_free(&res);
	}
	/* Uniform: about 100 each; missing one entirely has probability (3/4)^400. */
	for (int i = 0; i < 4; i++)
		ASSERT_MSG(hits[i] > 50 && hits[i] < 150, "node n%d picked %d times of 400", i,
			   hits[i]);
}

TEST(sched_burst_never_overcommits)
{
	struct sched_pool *pool = sched_pool_new(2);
	struct sched_cache *c = fx_cache();
	int placed = 0, refused = 0;

	init(&fw, pool, 3);
	fx_simple_node("n1", "1", "8Gi", "110", NULL);
	fx_simple_node("n2", "1", "8Gi", "110", NULL);
	fx_simple_node("n3", "1500m", "8Gi", "110", NULL);
	/* 50 pods of 100m arrive before any binding is confirmed: 10 + 10 + 15 fit. */
	for (int i = 0; i < 50; i++) {
		char *text = xasprintf("{'metadata':{'name':'p%d'},'spec':{'containers':"
				       "[{'resources':{'requests':{'cpu':'100m'}}}]}}",
				       i);
		struct sched_pod *p = fx_pod(text);
		struct sched_result res;

		free(text);
		if (cycle(&fw, p, &res) == 0) {
			ASSERT_OK(sched_cache_assume(c, p, res.node));
			placed++;
		} else {
			ASSERT_EQ(res.code, SCHED_UNSCHEDULABLE);
			refused++;
		}
		sched_result_free(&res);
	}
	ASSERT_EQ(placed, 35);
	ASSERT_EQ(refused, 15);
	ASSERT_EQ(sched_cache_node(c, "n1")->requested.milli_cpu, 1000);
	ASSERT_EQ(sched_cache_node(c, "n2")->requested.milli_cpu, 1000);
	ASSERT_EQ(sched_cache_node(c, "n3")->requested.milli_cpu, 1500);
	sched_pool_free(pool);
}
