/*
 * Unit tests for the scheduler's filter plugins, table-driven on in-memory nodes and pods:
 * resource fit (init containers, sidecars, overhead, extended resources, pod count),
 * taints and tolerations, NodeUnschedulable, node selector and affinity expressions,
 * host ports, inter-pod (anti-)affinity on topology keys, topology spread skew.
 */
#include "test.h"
#include "test_sched_fixture.h"

#include <string.h>

struct filter_case {
	const char *what;
	const char *pod;
	enum sched_code want;
	const char *reasons; /* '\n'-separated, exact; NULL when want is OK */
};

static void run_cases(const char *plugin, const struct filter_case *cases, size_t n,
		      const struct sched_node *node)
{
	for (size_t i = 0; i < n; i++) {
		struct sched_status st;
		enum sched_code got = fx_filter(plugin, fx_pod(cases[i].pod), node, &st);

		ASSERT_MSG(got == cases[i].want, "%s: %s: code %d, want %d (%s)", plugin,
			   cases[i].what, got, cases[i].want, st.reasons);
		if (cases[i].reasons)
			ASSERT_MSG(strcmp(st.reasons, cases[i].reasons) == 0,
				   "%s: %s: reasons \"%s\", want \"%s\"", plugin, cases[i].what,
				   st.reasons, cases[i].reasons);
	}
}

/* ---------------------------------------------------------------- NodeResourcesFit */

TEST(sched_fit_requests_table)
{
	/* 4 CPU, 8Gi, 3 pods, 10Gi disk, 2 GPUs; one pod already uses 1 CPU and 1Gi. */
	struct sched_node *n = fx_node(
		"{'metadata':{'name':'n1'},'status':{'allocatable':{'cpu':'4','memory':'8Gi',"
		"'pods':'3','ephemeral-storage':'10Gi','example.com/gpu':'2'}}}");
	static const struct filter_case cases[] = {
		{ "fits", "{'spec':{'containers':[{'resources':{'requests':{'cpu':'3'}}}]}}",
		  SCHED_OK, NULL },
		{ "cpu one milli too many",
		  "{'spec':{'containers':[{'resources':{'requests':{'cpu':'3001m'}}}]}}",
		  SCHED_UNSCHEDULABLE, "Insufficient cpu" },
		{ "containers add up",
		  "{'spec':{'containers':[{'resources':{'requests':{'cpu':'2'}}},"
		  "{'resources':{'requests':{'cpu':'1500m'}}}]}}",
		  SCHED_UNSCHEDULABLE, "Insufficient cpu" },
		{ "init container is a maximum, not a sum",
		  "{'spec':{'initContainers':[{'resources':{'requests':{'cpu':'3'}}}],"
		  "'containers':[{'resources':{'requests':{'cpu':'2'}}}]}}",
		  SCHED_OK, NULL },
		{ "init container larger than the node",
		  "{'spec':{'initContainers':[{'resources':{'requests':{'cpu':'3500m'}}}],"
		  "'containers':[{'resources':{'requests':{'cpu':'1'}}}]}}",
		  SCHED_UNSCHEDULABLE, "Insufficient cpu" },
		{ "sidecar stays: 1 app + 1 sidecar, init 2 + sidecar 1 = 3 fits",
		  "{'spec':{'initContainers':[{'restartPolicy':'Always','resources':{'requests':"
		  "{'cpu':'1'}}},{'resources':{'requests':{'cpu':'2'}}}],"
		  "'containers':[{'resources':{'requests':{'cpu':'1'}}}]}}",
		  SCHED_OK, NULL },
		{ "sidecar counts with the init container after it: 1 + 2.5 > 3",
		  "{'spec':{'initContainers':[{'restartPolicy':'Always','resources':{'requests':"
		  "{'cpu':'1'}}},{'resources':{'requests':{'cpu':'2500m'}}}],"
		  "'containers':[{'resources':{'requests':{'cpu':'500m'}}}]}}",
		  SCHED_UNSCHEDULABLE, "Insufficient cpu" },
		{ "overhead is added",
		  "{'spec':{'overhead':{'cpu':'500m'},'containers':[{'resources':{'requests':"
		  "{'cpu':'2600m'}}}]}}",
		  SCHED_UNSCHEDULABLE, "Insufficient cpu" },
		{ "memory and cpu both short: two reasons",
		  "{'spec':{'containers':[{'resources':{'requests':{'cpu':'4','memory':'7681Mi'}}}]"
		  "}}",
		  SCHED_UNSCHEDULABLE, "Insufficient cpu\nInsufficient memory" },
		{ "ephemeral storage",
		  "{'spec':{'containers':[{'resources':{'requests':{'ephemeral-storage':'11Gi'}}}]}"
		  "}",
		  SCHED_UNSCHEDULABLE, "Insufficient ephemeral-storage" },
		{ "extended resource fits",
		  "{'spec':{'containers':[{'resources':{'requests':{'example.com/gpu':'2'}}}]}}",
		  SCHED_OK, NULL },
		{ "extended resource short",
		  "{'spec':{'containers':[{'resources':{'requests':{'example.com/gpu':'3'}}}]}}",
		  SCHED_UNSCHEDULABLE, "Insufficient example.com/gpu" },
		{ "extended resource the node lacks",
		  "{'spec':{'containers':[{'resources':{'requests':{'example.com/fpga':'1'}}}]}}",
		  SCHED_UNSCHEDULABLE, "Insufficient example.com/fpga" },
		{ "best effort pod only needs a pod slot", "{'spec':{'containers':[{}]}}", SCHED_OK,
		  NULL },
	};

	fx_bound("n1",
		 "{'spec':{'containers':[{'resources':{'requests':{'cpu':'1','memory':'1Gi'}}}]}}");
	run_cases("NodeResourcesFit", cases, ARRAY_SIZE(cases), n);
}

TEST(sched_fit_pod_count)
{
	struct sched_node *n = fx_simple_node("n1", "4", "8Gi", "2", NULL);
	struct sched_status st;

	fx_bound("n1", "{'spec':{'containers':[{}]}}");
	ASSERT_EQ(fx_filter("NodeResourcesFit", fx_pod("{}"), n, &st), SCHED_OK);
	fx_bound("n1", "{'spec':{'containers':[{}]}}");
	ASSERT_EQ(fx_filter("NodeResourcesFit", fx_pod("{}"), n, &st), SCHED_UNSCHEDULABLE);
	ASSERT_STREQ(st.reasons, "Too many pods");
	/* A node without allocatable pods takes none, as upstream. */
	n = fx_node("{'metadata':{'name':'n2'},'status':{'allocatable':{'cpu':'4'}}}");
	ASSERT_EQ(fx_filter("NodeResourcesFit", fx_pod("{}"), n, &st), SCHED_UNSCHEDULABLE);
}

TEST(sched_pod_requests_and_nonzero)
{
	struct sched_pod *p =
		fx_pod("{'spec':{'initContainers':[{'resources':{'requests':{'memory':'1Gi'}}}],"
		       "'containers':[{'resources':{'requests':{'cpu':'250m'}}},{},"
		       "{'resources':{'requests':{'cpu':'0','memory':'0'}}}]}}");

	ASSERT_EQ(p->req.milli_cpu, 250);
	ASSERT_EQ(p->req.memory, 1 << 30);
	/* Missing keys get the defaults (two containers lack memory, one lacks cpu); an
	 * explicit 0 stays 0; the init container's non-zero cpu default (100m) is below. */
	ASSERT_EQ(p->nz_milli_cpu, 250 + 100 + 0);
	ASSERT_EQ(p->nz_memory, MAX(2 * SCHED_DEFAULT_MEMORY, 1ll << 30));
	ASSERT(p->err == NULL);
	p = fx_pod("{'spec':{'containers':[{'resources':{'requests':{'cpu':'lots'}}}]}}");
	ASSERT_NOT_NULL(p->err);
	ASSERT_EQ(p->req.milli_cpu, 0);
}

/* ---------------------------------------------------------------- taints */

TEST(sched_taint_toleration_table)
{
	struct sched_node *n = fx_node(
		"{'metadata':{'name':'n1'},'spec':{'taints':[{'key':'dedicated','value':'db',"
		"'effect':'NoSchedule'},{'key':'node.kubernetes.io/"
		"not-ready','effect':'NoExecute'},"
		"{'key':'soft','effect':'PreferNoSchedule'}]}}");
	static const struct filter_case cases[] = {
		{ "no tolerations: first untolerated taint named", "{}", SCHED_UNRESOLVABLE,
		  "node(s) had untolerated taint {dedicated: db}" },
		{ "Equal with the right value, not-ready left",
		  "{'spec':{'tolerations':[{'key':'dedicated','operator':'Equal','value':'db'}]}}",
		  SCHED_UNRESOLVABLE,
		  "node(s) had untolerated taint {node.kubernetes.io/not-ready: }" },
		{ "Equal is the default operator, Exists for not-ready",
		  "{'spec':{'tolerations':[{'key':'dedicated','value':'db'},"
		  "{'key':'node.kubernetes.io/not-ready','operator':'Exists'}]}}",
		  SCHED_OK, NULL },
		{ "wrong value",
		  "{'spec':{'tolerations':[{'key':'dedicated','value':'web'},"
		  "{'key':'node.kubernetes.io/not-ready','operator':'Exists'}]}}",
		  SCHED_UNRESOLVABLE, "node(s) had untolerated taint {dedicated: db}" },
		{ "effect must match when given",
		  "{'spec':{'tolerations':[{'key':'dedicated','operator':'Exists','effect':"
		  "'NoExecute'},{'key':'node.kubernetes.io/not-ready','operator':'Exists'}]}}",
		  SCHED_UNRESOLVABLE, "node(s) had untolerated taint {dedicated: db}" },
		{ "empty key with Exists tolerates everything",
		  "{'spec':{'tolerations':[{'operator':'Exists'}]}}", SCHED_OK, NULL },
		{ "empty key with Exists but one effect",
		  "{'spec':{'tolerations':[{'operator':'Exists','effect':'NoSchedule'}]}}",
		  SCHED_UNRESOLVABLE,
		  "node(s) had untolerated taint {node.kubernetes.io/not-ready: }" },
		{ "unknown operator tolerates nothing",
		  "{'spec':{'tolerations':[{'operator':'Lt'}]}}", SCHED_UNRESOLVABLE,
		  "node(s) had untolerated taint {dedicated: db}" },
	};

	run_cases("TaintToleration", cases, ARRAY_SIZE(cases), n);
}

TEST(sched_node_unschedulable)
{
	struct sched_node *cordoned =
		fx_node("{'metadata':{'name':'n1'},'spec':{'unschedulable':true}}");
	struct sched_node *open = fx_node("{'metadata':{'name':'n2'}}");
	static const struct filter_case cases[] = {
		{ "cordoned", "{}", SCHED_UNRESOLVABLE, "node(s) were unschedulable" },
		{ "tolerates the unschedulable taint",
		  "{'spec':{'tolerations':[{'key':'node.kubernetes.io/unschedulable','operator':"
		  "'Exists','effect':'NoSchedule'}]}}",
		  SCHED_OK, NULL },
	};
	struct sched_status st;

	run_cases("NodeUnschedulable", cases, ARRAY_SIZE(cases), cordoned);
	ASSERT_EQ(fx_filter("NodeUnschedulable", fx_pod("{}"), open, &st), SCHED_OK);
}

/* ---------------------------------------------------------------- node affinity */

TEST(sched_node_affinity_table)
{
	struct sched_node *n = fx_node(
		"{'metadata':{'name':'n1','labels':{'zone':'a','disk':'ssd','cores':'16'}}}");
#define REQ(terms)                                                                               \
	"{'spec':{'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':" \
	"{'nodeSelectorTerms':" terms "}}}}}"
	static const struct filter_case cases[] = {
		{ "nodeSelector matches", "{'spec':{'nodeSelector':{'zone':'a'}}}", SCHED_OK,
		  NULL },
		{ "nodeSelector differs", "{'spec':{'nodeSelector':{'zone':'a','disk':'hdd'}}}",
		  SCHED_UNRESOLVABLE, "node(s) didn't match Pod's node affinity/selector" },
		{ "In",
		  REQ("[{'matchExpressions':[{'key':'zone','operator':'In','values':['b','a']}]}]"),
		  SCHED_OK, NULL },
		{ "NotIn",
		  REQ("[{'matchExpressions':[{'key':'zone','operator':'NotIn','values':['a']}]}]"),
		  SCHED_UNRESOLVABLE, NULL },
		{ "NotIn on a missing label holds",
		  REQ("[{'matchExpressions':[{'key':'gpu','operator':'NotIn','values':['x']}]}]"),
		  SCHED_OK, NULL },
		{ "Exists", REQ("[{'matchExpressions':[{'key':'disk','operator':'Exists'}]}]"),
		  SCHED_OK, NULL },
		{ "DoesNotExist",
		  REQ("[{'matchExpressions':[{'key':'disk','operator':'DoesNotExist'}]}]"),
		  SCHED_UNRESOLVABLE, NULL },
		{ "Gt",
		  REQ("[{'matchExpressions':[{'key':'cores','operator':'Gt','values':['8']}]}]"),
		  SCHED_OK, NULL },
		{ "Lt",
		  REQ("[{'matchExpressions':[{'key':'cores','operator':'Lt','values':['16']}]}]"),
		  SCHED_UNRESOLVABLE, NULL },
		{ "expressions of a term are ANDed",
		  REQ("[{'matchExpressions':[{'key':'zone','operator':'In','values':['a']},"
		      "{'key':'disk','operator':'In','values':['hdd']}]}]"),
		  SCHED_UNRESOLVABLE, NULL },
		{ "terms are ORed",
		  REQ("[{'matchExpressions':[{'key':'zone','operator':'In','values':['z']}]},"
		      "{'matchExpressions':[{'key':'disk','operator':'In','values':['ssd']}]}]"),
		  SCHED_OK, NULL },
		{ "matchFields metadata.name In",
		  REQ("[{'matchFields':[{'key':'metadata.name','operator':'In','values':['n1']}]}"
		      "]"),
		  SCHED_OK, NULL },
		{ "matchFields metadata.name NotIn",
		  REQ("[{'matchFields':[{'key':'metadata.name','operator':'NotIn','values':['n1']}]"
		      "}]"),
		  SCHED_UNRESOLVABLE, NULL },
		{ "an empty term matches nothing", REQ("[{}]"), SCHED_UNRESOLVABLE, NULL },
		{ "a bad operator makes the term match nothing",
		  REQ("[{'matchExpressions':[{'key':'zone','operator':'Near','values':['a']}]}]"),
		  SCHED_UNRESOLVABLE, NULL },
		{ "selector and affinity both required",
		  "{'spec':{'nodeSelector':{'zone':'b'},'affinity':{'nodeAffinity':{"
		  "'requiredDuringSchedulingIgnoredDuringExecution':{'nodeSelectorTerms':"
		  "[{'matchExpressions':[{'key':'disk','operator':'Exists'}]}]}}}}}",
		  SCHED_UNRESOLVABLE, NULL },
	};
#undef REQ
	struct sched_status st;

	run_cases("NodeAffinity", cases, ARRAY_SIZE(cases), n);
	/* No selector and no affinity: the plugin skips the pod. */
	ASSERT_EQ(fx_filter("NodeAffinity", fx_pod("{}"), n, &st), SCHED_SKIP);
}

/* ---------------------------------------------------------------- host ports */

TEST(sched_node_ports_table)
{
	struct sched_node *n = fx_simple_node("n1", "4", "8Gi", "110", NULL);
#define PORT(p) "{'spec':{'containers':[{'ports':[" p "]}]}}"
	static const struct filter_case cases[] = {
		{ "same port, TCP default, any IP", PORT("{'hostPort':8080}"), SCHED_UNSCHEDULABLE,
		  "node(s) didn't have free ports for the requested pod ports" },
		{ "same port over UDP", PORT("{'hostPort':8080,'protocol':'UDP'}"), SCHED_OK,
		  NULL },
		{ "other port", PORT("{'hostPort':8081}"), SCHED_OK, NULL },
		{ "specific IP against 0.0.0.0", PORT("{'hostPort':8080,'hostIP':'10.0.0.1'}"),
		  SCHED_UNSCHEDULABLE, NULL },
		{ "specific IPs differ", PORT("{'hostPort':9090,'hostIP':'10.0.0.2'}"), SCHED_OK,
		  NULL },
		{ "same specific IP", PORT("{'hostPort':9090,'hostIP':'10.0.0.1'}"),
		  SCHED_UNSCHEDULABLE, NULL },
		{ "0.0.0.0 against a specific IP", PORT("{'hostPort':9090}"), SCHED_UNSCHEDULABLE,
		  NULL },
		{ "containerPort only is no host port", PORT("{'containerPort':8080}"), SCHED_SKIP,
		  NULL },
	};
#undef PORT

	fx_bound("n1", "{'spec':{'containers':[{'ports':[{'containerPort':80,'hostPort':8080}]},"
		       "{'ports':[{'containerPort':90,'hostPort':9090,'hostIP':'10.0.0.1'}]}]}}");
	run_cases("NodePorts", cases, ARRAY_SIZE(cases), n);
}

/* ---------------------------------------------------------------- inter-pod affinity */

/* fx_zones() with one "web" pod on host a1. */
static void two_zones(void)
{
	fx_zones();
	fx_bound("a1", "{'metadata':{'name':'web-0','labels':{'app':'web'}}}");
}

#define ANTI(key)                                                                      \
	"{'metadata':{'labels':{'app':'web'}},'spec':{'affinity':{'podAntiAffinity':{" \
	"'requiredDuringSchedulingIgnoredDuringExecution':[{'labelSelector':{"         \
	"'matchLabels':{'app':'web'}},'topologyKey':'" key "'}]}}}}"
#define AFF(key, extra)                                                                         \
	"{'spec':{'affinity':{'podAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':" \
	"[{'labelSelector':{'matchLabels':{'app':'web'}},'topologyKey':'" key "'" extra "}]}}}}"

static enum sched_code interpod(const char *pod, const char *node)
{
	struct sched_status st;

	return fx_filter("InterPodAffinity", fx_pod(pod), sched_cache_node(fx_cache(), node), &st);
}

TEST(sched_interpod_anti_affinity_topology)
{
	struct sched_status st;

	two_zones();
	/* Hostname: only the host holding web-0 is refused. */
	ASSERT_EQ(interpod(ANTI("kubernetes.io/hostname"), "a1"), SCHED_UNSCHEDULABLE);
	ASSERT_EQ(interpod(ANTI("kubernetes.io/hostname"), "a2"), SCHED_OK);
	/* Zone: the whole zone a is refused; b2 has no zone label and is fine. */
	ASSERT_EQ(interpod(ANTI("topology.kubernetes.io/zone"), "a2"), SCHED_UNSCHEDULABLE);
	ASSERT_EQ(interpod(ANTI("topology.kubernetes.io/zone"), "b1"), SCHED_OK);
	ASSERT_EQ(interpod(ANTI("topology.kubernetes.io/zone"), "b2"), SCHED_OK);
	ASSERT_EQ(fx_filter("InterPodAffinity", fx_pod(ANTI("kubernetes.io/hostname")),
			    sched_cache_node(fx_cache(), "a1"), &st),
		  SCHED_UNSCHEDULABLE);
	ASSERT_STREQ(st.reasons, "node(s) didn't match pod anti-affinity rules");
	/* Another namespace is not selected by default. */
	ASSERT_EQ(
		interpod(
			"{'metadata':{'namespace':'other'},'spec':{'affinity':{'podAntiAffinity':{"
			"'requiredDuringSchedulingIgnoredDuringExecution':[{'labelSelector':{"
			"'matchLabels':{'app':'web'}},'topologyKey':'kubernetes.io/hostname'}]}}}}",
			"a1"),
		SCHED_OK);
	/* ... unless listed, or with an empty namespaceSelector (all namespaces). */
	ASSERT_EQ(
		interpod("{'metadata':{'namespace':'other'},'spec':{'affinity':{'podAntiAffinity':{"
			 "'requiredDuringSchedulingIgnoredDuringExecution':[{'labelSelector':{"
			 "'matchLabels':{'app':'web'}},'namespaces':['default'],"
			 "'topologyKey':'kubernetes.io/hostname'}]}}}}",
			 "a1"),
		SCHED_UNSCHEDULABLE);
	ASSERT_EQ(
		interpod("{'metadata':{'namespace':'other'},'spec':{'affinity':{'podAntiAffinity':{"
			 "'requiredDuringSchedulingIgnoredDuringExecution':[{'labelSelector':{"
			 "'matchLabels':{'app':'web'}},'namespaceSelector':{},"
			 "'topologyKey':'kubernetes.io/hostname'}]}}}}",
			 "a1"),
		SCHED_UNSCHEDULABLE);
}

TEST(sched_interpod_existing_anti_affinity_is_symmetric)
{
	struct sched_status st;

	two_zones();
	/* A pod with zone anti-affinity against "db" pods sits in zone a. */
	fx_bound("a2",
		 "{'metadata':{'name':'guard'},'spec':{'affinity':{'podAntiAffinity':{"
		 "'requiredDuringSchedulingIgnoredDuringExecution':[{'labelSelector':{"
		 "'matchLabels':{'app':'db'}},'topologyKey':'topology.kubernetes.io/zone'}]}}}}");
	ASSERT_EQ(fx_filter("InterPodAffinity", fx_pod("{'metadata':{'labels':{'app':'db'}}}"),
			    sched_cache_node(fx_cache(), "a1"), &st),
		  SCHED_UNSCHEDULABLE);
	ASSERT_STREQ(st.reasons, "node(s) didn't satisfy existing pods anti-affinity rules");
	ASSERT_EQ(interpod("{'metadata':{'labels':{'app':'db'}}}", "b1"), SCHED_OK);
	ASSERT_EQ(interpod("{'metadata':{'labels':{'app':'cache'}}}", "a1"), SCHED_SKIP);
}

TEST(sched_interpod_affinity)
{
	struct sched_status st;

	two_zones();
	ASSERT_EQ(interpod(AFF("topology.kubernetes.io/zone", ""), "a2"), SCHED_OK);
	ASSERT_EQ(fx_filter("InterPodAffinity", fx_pod(AFF("topology.kubernetes.io/zone", "")),
			    sched_cache_node(fx_cache(), "b1"), &st),
		  SCHED_UNRESOLVABLE);
	ASSERT_STREQ(st.reasons, "node(s) didn't match pod affinity rules");
	/* The node must carry the key. */
	ASSERT_EQ(interpod(AFF("topology.kubernetes.io/zone", ""), "b2"), SCHED_UNRESOLVABLE);
	/* Nothing matches "db" anywhere and the pod is not a db itself: refused. */
	ASSERT_EQ(
		interpod("{'spec':{'affinity':{'podAffinity':{"
			 "'requiredDuringSchedulingIgnoredDuringExecution':[{'labelSelector':{"
			 "'matchLabels':{'app':'db'}},'topologyKey':'kubernetes.io/hostname'}]}}}}",
			 "b1"),
		SCHED_UNRESOLVABLE);
	/* The first db with affinity to dbs may go anywhere with the key. */
	ASSERT_EQ(
		interpod("{'metadata':{'labels':{'app':'db'}},'spec':{'affinity':{'podAffinity':{"
			 "'requiredDuringSchedulingIgnoredDuringExecution':[{'labelSelector':{"
			 "'matchLabels':{'app':'db'}},'topologyKey':'kubernetes.io/hostname'}]}}}}",
			 "b1"),
		SCHED_OK);
}

/* ---------------------------------------------------------------- topology spread */

#define SPREAD(skew, key, extra)                                                                  \
	"{'metadata':{'labels':{'app':'web'}},'spec':{'topologySpreadConstraints':[{'maxSkew'"    \
	":" skew ",'topologyKey':'" key "','whenUnsatisfiable':'DoNotSchedule','labelSelector':{" \
	"'matchLabels':{'app':'web'}}" extra "}]}}"

static enum sched_code spread(const char *pod, const char *node, struct sched_status *st)
{
	return fx_filter("PodTopologySpread", fx_pod(pod), sched_cache_node(fx_cache(), node), st);
}

TEST(sched_spread_skew)
{
	struct sched_status st;

	two_zones(); /* zone a: 1 web pod, zone b: 0; b2 has no zone label */
	ASSERT_EQ(spread(SPREAD("1", "topology.kubernetes.io/zone", ""), "a2", &st),
		  SCHED_UNSCHEDULABLE);
	ASSERT_STREQ(st.reasons, "node(s) didn't match pod topology spread constraints");
	ASSERT_EQ(spread(SPREAD("1", "topology.kubernetes.io/zone", ""), "b1", &st), SCHED_OK);
	ASSERT_EQ(spread(SPREAD("2", "topology.kubernetes.io/zone", ""), "a2", &st), SCHED_OK);
	ASSERT_EQ(spread(SPREAD("1", "topology.kubernetes.io/zone", ""), "b2", &st),
		  SCHED_UNRESOLVABLE);
	ASSERT_STREQ(
		st.reasons,
		"node(s) didn't match pod topology spread constraints (missing required label)");
	/* A pod outside the selector adds no skew of its own. */
	ASSERT_EQ(spread("{'spec':{'topologySpreadConstraints':[{'maxSkew':1,'topologyKey':"
			 "'topology.kubernetes.io/zone','whenUnsatisfiable':'DoNotSchedule',"
			 "'labelSelector':{'matchLabels':{'app':'web'}}}]}}",
			 "a2", &st),
		  SCHED_OK);
	/* Hostname: a1 has one, the others none. */
	ASSERT_EQ(spread(SPREAD("1", "kubernetes.io/hostname", ""), "a1", &st),
		  SCHED_UNSCHEDULABLE);
	ASSERT_EQ(spread(SPREAD("1", "kubernetes.io/hostname", ""), "b2", &st), SCHED_OK);
	/* Nodes the pod's nodeSelector excludes are not domains (nodeAffinityPolicy Honor):
	 * with only zone a eligible, its count is the minimum, so a2 is fine now. */
	ASSERT_EQ(spread("{'metadata':{'labels':{'app':'web'}},'spec':{'nodeSelector':{"
			 "'topology.kubernetes.io/"
			 "zone':'a'},'topologySpreadConstraints':[{'maxSkew':1,"
			 "'topologyKey':'topology.kubernetes.io/zone','whenUnsatisfiable':"
			 "'DoNotSchedule','labelSelector':{'matchLabels':{'app':'web'}}}]}}",
			 "a2", &st),
		  SCHED_OK);
	/* ScheduleAnyway constraints do not filter. */
	ASSERT_EQ(spread("{'metadata':{'labels':{'app':'web'}},'spec':{'topologySpreadConstraints':"
			 "[{'maxSkew':1,'topologyKey':'topology.kubernetes.io/zone',"
			 "'whenUnsatisfiable':'ScheduleAnyway','labelSelector':{'matchLabels':"
			 "{'app':'web'}}}]}}",
			 "a2", &st),
		  SCHED_SKIP);
}

TEST(sched_spread_min_domains_and_terminating)
{
	struct sched_status st;

	two_zones();
	fx_bound("b1", "{'metadata':{'name':'web-1','labels':{'app':'web'}}}");
	/* One pod per zone: a third may go to either with maxSkew 1. */
	ASSERT_EQ(spread(SPREAD("1", "topology.kubernetes.io/zone", ""), "a2", &st), SCHED_OK);
	/* minDomains 3 with 2 zones: the global minimum counts as 0, so 1 + 1 - 0 > 1. */
	ASSERT_EQ(spread(SPREAD("1", "topology.kubernetes.io/zone", ",'minDomains':3"), "a2", &st),
		  SCHED_UNSCHEDULABLE);
	ASSERT_EQ(spread(SPREAD("2", "topology.kubernetes.io/zone", ",'minDomains':3"), "a2", &st),
		  SCHED_OK);
	/* A terminating pod does not count. */
	fx_bound("b1", "{'metadata':{'name':'web-2','labels':{'app':'web'},"
		       "'deletionTimestamp':'2026-01-01T00:00:00Z'}}");
	ASSERT_EQ(spread(SPREAD("1", "topology.kubernetes.io/zone", ""), "a2", &st), SCHED_OK);
}

TEST(sched_bad_affinity_marks_pod)
{
	struct sched_pod *p =
		fx_pod("{'spec':{'affinity':{'podAntiAffinity':{'"
		       "requiredDuringSchedulingIgnoredDuringExecution':"
		       "[{'labelSelector':{'matchExpressions':[{'key':'app','operator':'In'}]},"
		       "'topologyKey':'kubernetes.io/hostname'}]}}}}");
	struct sched_result res;

	ASSERT_NOT_NULL(p->err);
	ASSERT(strstr(p->err, "podAntiAffinity") != NULL);
	fx_simple_node("n1", "1", "1Gi", "10", NULL);
	ASSERT_EQ(sched_schedule(&(struct sched_framework){ 0 }, fx_cache(), p, &res), -EINVAL);
	ASSERT_EQ(res.code, SCHED_ERROR);
	sched_result_free(&res);
}
