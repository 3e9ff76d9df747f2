/*
 * Unit tests for the scheduler cache: assume / confirm / forget / expire accounting, node
 * events (what counts as a change), placeholder nodes for pods whose node is unknown or
 * deleted, and namespaces.
 */
#include "test.h"
#include "test_sched_fixture.h"

#include <string.h>

#define SEC 1000000000ull

static const char *const cpu_pod = "{'metadata':{'name':'p'},'spec':{'containers':"
				   "[{'resources':{'requests':{'cpu':'500m','memory':'1Gi'}}},"
				   "{'ports':[{'hostPort':80}]}]}}";

TEST(sched_cache_assume_confirm_forget)
{
	struct sched_cache *c = fx_cache();
	struct sched_node *n1 = fx_simple_node("n1", "2", "4Gi", "10", NULL);
	struct sched_node *n2 = fx_simple_node("n2", "2", "4Gi", "10", NULL);
	struct sched_pod *p = fx_pod(cpu_pod), *bound;

	ASSERT_OK(sched_cache_assume(c, p, n1));
	ASSERT(p->assumed);
	ASSERT_EQ(n1->requested.milli_cpu, 500);
	ASSERT_EQ(n1->requested.memory, 1 << 30);
	ASSERT_EQ(n1->npods, 1);
	ASSERT_EQ(n1->n_ports, 1);
	ASSERT_EQ(n1->nz_milli_cpu, 600); /* the port-only container counts 100m */
	ASSERT_EQ(sched_cache_assume(c, p, n1), -EEXIST);
	ASSERT_EQ(c->assumed.len, 1);

	/* The watch shows it bound where assumed: counted once, no longer assumed, and an
	 * add for the queue (pods waiting for an affinity partner wake up). */
	{
		struct sched_pod *b;
		char err[128];

		ASSERT_OK(sched_pod_parse(
			fx_json("{'metadata':{'name':'p','namespace':'default'},"
				"'spec':{'nodeName':'n1','containers':[{'resources':"
				"{'requests':{'cpu':'500m','memory':'1Gi'}}},"
				"{'ports':[{'hostPort':80}]}]}}"),
			&b, err, sizeof(err)));
		ASSERT_EQ(sched_cache_add_pod(c, b), SCHED_EV_POD_ADD);
		bound = b;
		sched_pod_put(b); /* the cache holds its own reference */
	}
	ASSERT_EQ(n1->requested.milli_cpu, 500);
	ASSERT_EQ(n1->npods, 1);
	ASSERT(!sched_cache_pod(c, "default/p")->assumed);
	ASSERT(sched_cache_pod(c, "default/p") == bound);
	ASSERT_EQ(c->assumed.len, 0);
	ASSERT_EQ(sched_cache_forget(c, "default/p"), -ENOENT);

	ASSERT(sched_cache_remove_pod(c, "default/p"));
	ASSERT_EQ(n1->requested.milli_cpu, 0);
	ASSERT_EQ(n1->nz_milli_cpu, 0);
	ASSERT_EQ(n1->npods, 0);
	ASSERT_EQ(n1->n_ports, 0);
	ASSERT(!sched_cache_remove_pod(c, "default/p"));

	/* Forget after a failed binding releases the resources. */
	p = fx_pod("{'metadata':{'name':'q'},'spec':{'containers':[{'resources':{'requests':"
		   "{'cpu':'1'}}}]}}");
	ASSERT_OK(sched_cache_assume(c, p, n2));
	ASSERT_EQ(n2->requested.milli_cpu, 1000);
	ASSERT_OK(sched_cache_forget(c, "default/q"));
	ASSERT_EQ(n2->requested.milli_cpu, 0);
	ASSERT_NULL(sched_cache_pod(c, "default/q"));
}

TEST(sched_cache_confirm_on_another_node_moves_the_pod)
{
	struct sched_cache *c = fx_cache();
	struct sched_node *n1 = fx_simple_node("n1", "2", "4Gi", "10", NULL);
	struct sched_node *n2 = fx_simple_node("n2", "2", "4Gi", "10", NULL);
	struct sched_pod *p = fx_pod(cpu_pod);

	ASSERT_OK(sched_cache_assume(c, p, n1));
	fx_bound("n2", cpu_pod); /* bound elsewhere (another scheduler won the race) */
	ASSERT_EQ(n1->requested.milli_cpu, 0);
	ASSERT_EQ(n2->requested.milli_cpu, 500);
	ASSERT_EQ(c->assumed.len, 0);
}

TEST(sched_cache_events_of_pod_changes)
{
	struct sched_cache *c = fx_cache();
	struct sched_pod *p;

	fx_simple_node("n1", "2", "4Gi", "10", NULL);
	p = fx_pod("{'metadata':{'name':'a','labels':{'v':'1'}},'spec':{'nodeName':'n1'}}");
	ASSERT_EQ(sched_cache_add_pod(c, p), SCHED_EV_POD_ADD);
	ASSERT_EQ(sched_cache_add_pod(c, p), 0);
	p = fx_pod("{'metadata':{'name':'a','labels':{'v':'2'}},'spec':{'nodeName':'n1'}}");
	ASSERT_EQ(sched_cache_add_pod(c, p), SCHED_EV_POD_UPDATE);
	ASSERT_EQ(sched_cache_add_pod(c, fx_pod("{'metadata':{'name':'b'}}")), -EINVAL);
}

TEST(sched_cache_expire_unconfirmed_assumptions)
{
	struct sched_cache *c = fx_cache();
	struct sched_node *n1 = fx_simple_node("n1", "2", "4Gi", "10", NULL);
	struct sched_pod *a = fx_pod("{'metadata':{'name':'a'}}");
	struct sched_pod *b = fx_pod("{'metadata':{'name':'b'}}");

	ASSERT_OK(sched_cache_assume(c, a, n1));
	ASSERT_OK(sched_cache_assume(c, b, n1));
	/* Only a's binding returned; b's request is still in flight and never expires. */
	sched_cache_finish_binding(c, "default/a", 10 * SEC);
	ASSERT_EQ(sched_cache_expire(c, 10 * SEC + SCHED_ASSUME_TTL_NS - 1), 0);
	ASSERT_EQ(sched_cache_expire(c, 10 * SEC + SCHED_ASSUME_TTL_NS), 1);
	ASSERT_NULL(sched_cache_pod(c, "default/a"));
	ASSERT_NOT_NULL(sched_cache_pod(c, "default/b"));
	ASSERT_EQ(sched_cache_expire(c, 1000 * SEC), 0);
	ASSERT_EQ(n1->npods, 1);
}

TEST(sched_cache_node_events)
{
	struct sched_cache *c = fx_cache();
	unsigned ev;
	char err[128];

	ASSERT_OK(sched_cache_set_node(c,
				       fx_json("{'metadata':{'name':'n1','labels':{'a':'1'}},"
					       "'status':{'allocatable':{'cpu':'1'}}}"),
				       &ev, err, sizeof(err)));
	ASSERT_EQ(ev, SCHED_EV_NODE_ADD);
	/* A heartbeat: conditions and resourceVersion change, nothing a plugin reads. */
	ASSERT_OK(sched_cache_set_node(c,
				       fx_json("{'metadata':{'name':'n1','labels':{'a':'1'},"
					       "'resourceVersion':'9'},'status':{'allocatable':"
					       "{'cpu':'1'},'conditions':[{'type':'Ready'}]}}"),
				       &ev, err, sizeof(err)));
	ASSERT_EQ(ev, 0);
	ASSERT_OK(sched_cache_set_node(
		c,
		fx_json("{'metadata':{'name':'n1','labels':{'a':'1'}},"
			"'spec':{'taints':[{'key':'k','effect':'NoSchedule'}]},"
			"'status':{'allocatable':{'cpu':'1'}}}"),
		&ev, err, sizeof(err)));
	ASSERT_EQ(ev, SCHED_EV_NODE_UPDATE);
	ASSERT_EQ(sched_cache_node(c, "n1")->ntaints, 1);
	ASSERT_OK(sched_cache_set_node(
		c,
		fx_json("{'metadata':{'name':'n1','labels':{'a':'1'}},"
			"'spec':{'taints':[{'key':'k','effect':'NoSchedule'}]},"
			"'status':{'allocatable':{'cpu':'2'}}}"),
		&ev, err, sizeof(err)));
	ASSERT_EQ(ev, SCHED_EV_NODE_UPDATE);
	ASSERT_EQ(sched_cache_node(c, "n1")->alloc.milli_cpu, 2000);
	/* Bad input. */
	ASSERT_EQ(sched_cache_set_node(c, fx_json("{'metadata':{}}"), &ev, err, sizeof(err)),
		  -EINVAL);
	ASSERT(strstr(err, "metadata.name") != NULL);
	ASSERT_EQ(sched_cache_set_node(c,
				       fx_json("{'metadata':{'name':'n2'},'status':"
					       "{'allocatable':{'cpu':'two','memory':'1Gi'}}}"),
				       &ev, err, sizeof(err)),
		  -EINVAL);
	ASSERT_EQ(ev, SCHED_EV_NODE_ADD);
	ASSERT_EQ(sched_cache_node(c, "n2")->alloc.memory, 1 << 30);
	ASSERT_EQ(c->nlive, 2);
}

TEST(sched_cache_placeholder_nodes)
{
	struct sched_cache *c = fx_cache();
	struct sched_node *n;

	/* Bound before its node is known: kept aside, not a candidate. */
	fx_bound("later", "{'metadata':{'name':'early'},'spec':{'containers':[{'resources':"
			  "{'requests':{'cpu':'1'}}}]}}");
	n = sched_cache_node(c, "later");
	ASSERT_NOT_NULL(n);
	ASSERT_NULL(n->obj);
	ASSERT_EQ(c->nlive, 0);
	ASSERT_EQ(sched_cache_assume(c, fx_pod("{'metadata':{'name':'x'}}"), n), -ENOENT);
	/* The node appears: its pod already counts. */
	n = fx_simple_node("later", "4", "8Gi", "10", NULL);
	ASSERT_EQ(c->nlive, 1);
	ASSERT_EQ(n->requested.milli_cpu, 1000);
	/* Deleted with the pod still there: a placeholder again, then gone with the pod. */
	sched_cache_delete_node(c, "later");
	ASSERT_EQ(c->nlive, 0);
	ASSERT_NOT_NULL(sched_cache_node(c, "later"));
	ASSERT(sched_cache_remove_pod(c, "default/early"));
	ASSERT_NULL(sched_cache_node(c, "later"));
	sched_cache_delete_node(c, "never");
}

TEST(sched_cache_live_list_stays_consistent)
{
	struct sched_cache *c = fx_cache();
	char name[16];

	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		fx_simple_node(name, "1", "1Gi", "10", NULL);
	}
	for (int i = 0; i < 50; i += 3) {
		snprintf(name, sizeof(name), "n%d", i);
		sched_cache_delete_node(c, name);
	}
	ASSERT_EQ(c->nlive, 33);
	for (size_t i = 0; i < c->nlive; i++) {
		ASSERT_EQ(c->live[i]->index, i);
		ASSERT(atoi(c->live[i]->name + 1) % 3 != 0);
	}
}

TEST(sched_cache_namespaces)
{
	struct sched_cache *c = fx_cache();

	sched_cache_set_namespace(c, "prod", fx_json("{'env':'prod'}"));
	ASSERT_STREQ(json_string_value(json_object_get(sched_cache_ns_labels(c, "prod"), "env")),
		     "prod");
	sched_cache_set_namespace(c, "prod", fx_json("{'env':'p2'}"));
	ASSERT_STREQ(json_string_value(json_object_get(sched_cache_ns_labels(c, "prod"), "env")),
		     "p2");
	sched_cache_set_namespace(c, "prod", NULL);
	ASSERT_NULL(sched_cache_ns_labels(c, "prod"));
}
