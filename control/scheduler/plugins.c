/*
 * plugins.c - the plugin table and the helpers plugins share.
 *
 * Order is upstream's default filter order (cheap node-local checks first, the ones that
 * look at other pods last), because a node is rejected by the first plugin that fails and
 * only that plugin's reason reaches the FailedScheduling message. Weights are upstream's
 * defaults (TaintToleration 3, NodeAffinity 2, PodTopologySpread 2, InterPodAffinity 2,
 * NodeResourcesFit 1, BalancedAllocation 1). Not implemented: volume plugins, ImageLocality,
 * DynamicResources, preemption.
 */
#include "control/scheduler/plugins.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define NODE_EVENTS (SCHED_EV_NODE_ADD | SCHED_EV_NODE_UPDATE)
#define POD_EVENTS (SCHED_EV_POD_ADD | SCHED_EV_POD_UPDATE | SCHED_EV_POD_DELETE)

const struct sched_plugin sched_plugins[] = {
	{
		.name = "NodeUnschedulable",
		.events = NODE_EVENTS,
		.filter = sched_unschedulable_filter,
	},
	{
		.name = "NodeName",
		.events = SCHED_EV_NODE_ADD,
		.pre_filter = sched_nodename_pre_filter,
		.filter = sched_nodename_filter,
	},
	{
		.name = "TaintToleration",
		.weight = 3,
		.events = NODE_EVENTS,
		.filter = sched_taint_filter,
		.score = sched_taint_score,
		.normalize = sched_taint_normalize,
	},
	{
		.name = "NodeAffinity",
		.weight = 2,
		.events = NODE_EVENTS,
		.pre_filter = sched_nodeaffinity_pre_filter,
		.filter = sched_nodeaffinity_filter,
		.pre_score = sched_nodeaffinity_pre_score,
		.score = sched_nodeaffinity_score,
		.normalize = sched_nodeaffinity_normalize,
	},
	{
		.name = "NodePorts",
		.events = SCHED_EV_NODE_ADD | SCHED_EV_POD_DELETE,
		.pre_filter = sched_ports_pre_filter,
		.filter = sched_ports_filter,
	},
	{
		.name = "NodeResourcesFit",
		.weight = 1,
		.events = NODE_EVENTS | SCHED_EV_POD_DELETE,
		.filter = sched_fit_filter,
		.score = sched_fit_score,
	},
	{
		.name = "PodTopologySpread",
		.weight = 2,
		.events = NODE_EVENTS | POD_EVENTS,
		.pre_filter = sched_spread_pre_filter,
		.filter = sched_spread_filter,
		.pre_score = sched_spread_pre_score,
		.score = sched_spread_score,
		.normalize = sched_spread_normalize,
		.free_state = sched_spread_free,
	},
	{
		.name = "InterPodAffinity",
		.weight = 2,
		.events = NODE_EVENTS | POD_EVENTS,
		.pre_filter = sched_interpod_pre_filter,
		.filter = sched_interpod_filter,
		.pre_score = sched_interpod_pre_score,
		.score = sched_interpod_score,
		.normalize = sched_interpod_normalize,
		.free_state = sched_interpod_free,
	},
	{
		.name = "NodeResourcesBalancedAllocation",
		.weight = 1,
		.pre_score = sched_balanced_pre_score,
		.score = sched_balanced_score,
	},
};

const size_t sched_nplugins = ARRAY_SIZE(sched_plugins);

_Static_assert(ARRAY_SIZE(sched_plugins) <= SCHED_MAX_PLUGINS, "raise SCHED_MAX_PLUGINS");

int sched_plugin_index(const char *name)
{
	for (size_t i = 0; i < sched_nplugins; i++)
		if (strcmp(sched_plugins[i].name, name) == 0)
			return (int)i;
	return -1;
}

unsigned sched_plugins_for_events(unsigned events)
{
	unsigned mask = 0;

	for (size_t i = 0; i < sched_nplugins; i++)
		if (sched_plugins[i].events & events)
			mask |= 1u << i;
	return mask;
}

/* ---------------------------------------------------------------- counts */

static void pair_key(char *buf, size_t len, const char *key, const char *value)
{
	snprintf(buf, len, "%s=%s", key, value);
}

void sched_counts_add(struct sched_counts *c, const char *key, const char *value, int64_t d)
{
	char k[512];
	int64_t *v;

	pair_key(k, sizeof(k), key, value);
	v = sched_map_get(&c->m, k);
	if (!v) {
		v = xcalloc(1, sizeof(*v));
		sched_map_put(&c->m, k, v);
	}
	*v += d;
}

int64_t sched_counts_get(const struct sched_counts *c, const char *key, const char *value,
			 bool *found)
{
	char k[512];
	const int64_t *v;

	pair_key(k, sizeof(k), key, value);
	v = sched_map_get(&c->m, k);
	if (found)
		*found = v != NULL;
	return v ? *v : 0;
}

void sched_counts_free(struct sched_counts *c)
{
	const char *k;
	void *v;

	for (size_t it = 0; sched_map_next(&c->m, &it, &k, &v);)
		free(v);
	sched_map_free(&c->m);
}

void sched_default_normalize(int64_t *scores, size_t n, bool reverse)
{
	int64_t max = 0;

	for (size_t i = 0; i < n; i++)
		max = MAX(max, scores[i]);
	for (size_t i = 0; i < n; i++) {
		int64_t s = max ? SCHED_MAX_NODE_SCORE * scores[i] / max : 0;

		scores[i] = reverse ? SCHED_MAX_NODE_SCORE - s : s;
	}
}
