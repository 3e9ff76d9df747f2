/*
 * Unit tests for the scheduler's score plugins: raw formulas and normalization to 0..100
 * for LeastAllocated, BalancedAllocation, TaintToleration (PreferNoSchedule), preferred
 * node affinity, preferred inter-pod (anti-)affinity, PodTopologySpread ScheduleAnyway and
 * the system default spreading of one owner's pods.
 */
#include "test.h"
#include "test_sched_fixture.h"

static void expect_scores(const char *plugin, const struct sched_pod *pod, const int64_t *want,
			  size_t n)
{
	int64_t got[16] = { 0 };

	ASSERT_EQ(fx_cache()->nlive, n);
	ASSERT_EQ(fx_scores(plugin, pod, got), SCHED_OK);
	for (size_t i = 0; i < n; i++)
		ASSERT_MSG(got[i] == want[i], "%s: node %s scored %lld, want %lld", plugin,
			   fx_cache()->live[i]->name, (long long)got[i], (long long)want[i]);
}

TEST(sched_score_least_allocated)
{
	static const int64_t want[] = { 50, 75, 62 };

	fx_simple_node("n1", "4", "8Gi", "110", NULL);
	fx_simple_node("n2", "4", "8Gi", "110", NULL);
	fx_simple_node("n3", "4", "8Gi", "110", NULL);
	fx_bound("n1",
		 "{'spec':{'containers':[{'resources':{'requests':{'cpu':'1','memory':'2Gi'}}}]}}");
	/* Five pods without requests weigh 5 x (100m, 200Mi) for LeastAllocated. */
	fx_bound("n3", "{'spec':{'containers':[{}]}}");
	fx_bound("n3", "{'spec':{'containers':[{}]}}");
	fx_bound("n3", "{'spec':{'containers':[{}]}}");
	fx_bound("n3", "{'spec':{'containers':[{}]}}");
	fx_bound("n3", "{'spec':{'containers':[{}]}}");
	/* n1: cpu (4-2)/4, mem (8-4)/8 -> 50. n2: 75. n3: cpu (4-1.5)/4=62, mem (8-2-1000Mi)/8=62
	 */
	expect_scores("NodeResourcesFit",
		      fx_pod("{'spec':{'containers':[{'resources':{'requests':{'cpu':'1','memory':"
			     "'2Gi'}}}]}}"),
		      want, 3);
}

TEST(sched_score_balanced_allocation)
{
	static const int64_t want[] = { 93, 81 };

	fx_simple_node("n1", "4", "8Gi", "110", NULL);
	fx_simple_node("n2", "2", "8Gi", "110", NULL);
	fx_bound("n1",
		 "{'spec':{'containers':[{'resources':{'requests':{'cpu':'1','memory':'2Gi'}}}]}}");
	/* n1: cpu 2/4=0.5, mem 3/8=0.375: 1-0.0625. n2: cpu 1/2, mem 1/8: 1-0.1875. */
	expect_scores("NodeResourcesBalancedAllocation",
		      fx_pod("{'spec':{'containers':[{'resources':{'requests':{'cpu':'1','memory':"
			     "'1Gi'}}}]}}"),
		      want, 2);
	{
		int64_t s[2];

		ASSERT_EQ(fx_scores("NodeResourcesBalancedAllocation",
				    fx_pod("{'spec':{'containers':[{}]}}"), s),
			  SCHED_SKIP);
	}
}

TEST(sched_score_taints_prefer_no_schedule)
{
	static const int64_t none[] = { 100, 50, 0 };
	static const int64_t tolerated[] = { 100, 100, 0 };

	fx_node("{'metadata':{'name':'clean'}}");
	fx_node("{'metadata':{'name':'one'},'spec':{'taints':[{'key':'a','effect':'"
		"PreferNoSchedule'},"
		"{'key':'x','effect':'NoExecute'}]}}");
	fx_node("{'metadata':{'name':'two'},'spec':{'taints':[{'key':'a','effect':'"
		"PreferNoSchedule'},"
		"{'key':'b','effect':'PreferNoSchedule'}]}}");
	expect_scores("TaintToleration", fx_pod("{}"), none, 3);
	expect_scores("TaintToleration",
		      fx_pod("{'spec':{'tolerations':[{'key':'a','operator':'Exists'}]}}"),
		      tolerated, 3);
	/* A NoSchedule toleration does not cover a PreferNoSchedule taint. */
	expect_scores("TaintToleration",
		      fx_pod("{'spec':{'tolerations':[{'key':'a','operator':'Exists','effect':"
			     "'NoSchedule'}]}}"),
		      none, 3);
}

TEST(sched_score_preferred_node_affinity)
{
	static const int64_t want[] = { 100, 66, 0 };
	int64_t s[3];

	fx_simple_node("n1", "1", "1Gi", "10", "{'zone':'a','disk':'ssd'}");
	fx_simple_node("n2", "1", "1Gi", "10", "{'zone':'a'}");
	fx_simple_node("n3", "1", "1Gi", "10", "{'zone':'b'}");
	expect_scores("NodeAffinity",
		      fx_pod("{'spec':{'affinity':{'nodeAffinity':{"
			     "'preferredDuringSchedulingIgnoredDuringExecution':["
			     "{'weight':10,'preference':{'matchExpressions':[{'key':'zone',"
			     "'operator':'In','values':['a']}]}},"
			     "{'weight':5,'preference':{'matchExpressions':[{'key':'disk',"
			     "'operator':'In','values':['ssd']}]}}]}}}}"),
		      want, 3);
	ASSERT_EQ(fx_scores("NodeAffinity", fx_pod("{}"), s), SCHED_SKIP);
}

TEST(sched_score_preferred_interpod)
{
	static const int64_t anti[] = { 0, 100, 100, 100 };
	static const int64_t affine[] = { 100, 100, 0, 0 };
	static const int64_t hard[] = { 0, 0, 100, 0 };
	int64_t s[4];

	fx_zones();
	fx_bound("a1", "{'metadata':{'name':'web-0','labels':{'app':'web'}}}");
	expect_scores("InterPodAffinity",
		      fx_pod("{'spec':{'affinity':{'podAntiAffinity':{"
			     "'preferredDuringSchedulingIgnoredDuringExecution':[{'weight':100,"
			     "'podAffinityTerm':{'labelSelector':{'matchLabels':{'app':'web'}},"
			     "'topologyKey':'kubernetes.io/hostname'}}]}}}}"),
		      anti, 4);
	expect_scores("InterPodAffinity",
		      fx_pod("{'spec':{'affinity':{'podAffinity':{"
			     "'preferredDuringSchedulingIgnoredDuringExecution':[{'weight':50,"
			     "'podAffinityTerm':{'labelSelector':{'matchLabels':{'app':'web'}},"
			     "'topologyKey':'topology.kubernetes.io/zone'}}]}}}}"),
		      affine, 4);
	/* Nothing with terms anywhere: skipped. */
	ASSERT_EQ(fx_scores("InterPodAffinity", fx_pod("{}"), s), SCHED_SKIP);
	/* An existing pod's required affinity to "db" pulls a db towards it (weight 1). */
	fx_bound("b1", "{'metadata':{'name':'client'},'spec':{'affinity':{'podAffinity':{"
		       "'requiredDuringSchedulingIgnoredDuringExecution':[{'labelSelector':{"
		       "'matchLabels':{'app':'db'}},'topologyKey':'kubernetes.io/hostname'}]}}}}");
	expect_scores("InterPodAffinity", fx_pod("{'metadata':{'labels':{'app':'db'}}}"), hard, 4);
}

TEST(sched_score_topology_spread_soft)
{
	static const int64_t want[] = { 0, 0, 100, 0 };

	fx_zones();
	fx_bound("a1", "{'metadata':{'name':'web-0','labels':{'app':'web'}}}");
	/* zone a holds 1, zone b 0, b2 has no zone and is ignored (0). */
	expect_scores("PodTopologySpread",
		      fx_pod("{'metadata':{'labels':{'app':'web'}},'spec':{"
			     "'topologySpreadConstraints':[{'maxSkew':1,'topologyKey':"
			     "'topology.kubernetes.io/zone','whenUnsatisfiable':'ScheduleAnyway',"
			     "'labelSelector':{'matchLabels':{'app':'web'}}}]}}"),
		      want, 4);
}

TEST(sched_score_default_spreading_by_owner)
{
	static const int64_t want[] = { 15, 46, 69, 100 };
	int64_t s[4];

	fx_zones();
	fx_bound("a1",
		 "{'metadata':{'name':'r1','ownerReferences':[{'uid':'rs1','controller':true}]}}");
	fx_bound("a1",
		 "{'metadata':{'name':'r2','ownerReferences':[{'uid':'rs1','controller':true}]}}");
	fx_bound("b1",
		 "{'metadata':{'name':'x','ownerReferences':[{'uid':'rs2','controller':true}]}}");
	/*
	 * hostname (maxSkew 3, 4 hosts: weight ln 6) and zone (maxSkew 5, domains a, b and
	 * "" for b2: weight ln 5). a1: 2*1.79+2 + 2*1.61+4 = 12.8; a2: 2 + 7.2; b1: 2 + 4;
	 * b2 (no zone): 2. Normalized 100*(13+2-s)/13.
	 */
	expect_scores("PodTopologySpread",
		      fx_pod("{'metadata':{'ownerReferences':[{'uid':'rs1','controller':true}]}}"),
		      want, 4);
	ASSERT_EQ(fx_scores("PodTopologySpread", fx_pod("{}"), s), SCHED_SKIP);
}
