/*
 * plugins_node.c - plugins that look only at the node and the incoming pod.
 *
 *   NodeUnschedulable  spec.unschedulable rejects the pod unless it tolerates the
 *                      node.kubernetes.io/unschedulable:NoSchedule taint.
 *   NodeName           a pod that names its node fits only there.
 *   TaintToleration    every NoSchedule / NoExecute taint must be tolerated (the
 *                      node.kubernetes.io/not-ready and unreachable taints the node
 *                      lifecycle controller sets are ordinary taints here); the score
 *                      counts PreferNoSchedule taints the pod does not tolerate, fewer is
 *                      better.
 *   NodeAffinity       spec.nodeSelector and the required node affinity terms (ORed; each
 *                      term's expressions and fields ANDed); the score sums the weights of
 *                      the preferred terms the node matches.
 *   NodePorts          a host port (protocol, port) is taken when a pod on the node uses it
 *                      on the same host IP or either side binds 0.0.0.0.
 *
 * All rejections but NodePorts are "unresolvable": evicting pods would not change them.
 */
#include "control/scheduler/plugins.h"

#include <string.h>

#include "util.h"

static const struct sched_taint unschedulable_taint = {
	.key = "node.kubernetes.io/unschedulable",
	.value = "",
	.effect = "NoSchedule",
};

enum sched_code sched_unschedulable_filter(const struct sched_cycle *cy, const void *state,
					   const struct sched_node *n, struct sched_status *st)
{
	if (!n->unschedulable || sched_pod_tolerates(cy->pod, &unschedulable_taint))
		return SCHED_OK;
	return sched_reject(st, SCHED_UNRESOLVABLE, "node(s) were unschedulable");
}

enum sched_code sched_nodename_pre_filter(struct sched_cycle *cy, void **state,
					  struct sched_status *st)
{
	return *cy->pod->node_name ? SCHED_OK : SCHED_SKIP;
}

enum sched_code sched_nodename_filter(const struct sched_cycle *cy, const void *state,
				      const struct sched_node *n, struct sched_status *st)
{
	if (strcmp(cy->pod->node_name, n->name) == 0)
		return SCHED_OK;
	return sched_reject(st, SCHED_UNRESOLVABLE, "node(s) didn't match the requested node name");
}

/* ---------------------------------------------------------------- TaintToleration */

enum sched_code sched_taint_filter(const struct sched_cycle *cy, const void *state,
				   const struct sched_node *n, struct sched_status *st)
{
	for (size_t i = 0; i < n->ntaints; i++) {
		const struct sched_taint *t = &n->taints[i];

		if (strcmp(t->effect, "NoSchedule") != 0 && strcmp(t->effect, "NoExecute") != 0)
			continue;
		if (!sched_pod_tolerates(cy->pod, t))
			return sched_reject(st, SCHED_UNRESOLVABLE,
					    "node(s) had untolerated taint {%s: %s}", t->key,
					    t->value);
	}
	return SCHED_OK;
}

int64_t sched_taint_score(const struct sched_cycle *cy, const void *state,
			  const struct sched_node *n)
{
	int64_t count = 0;

	/* Only tolerations with an empty or PreferNoSchedule effect can match such a
	 * taint, which sched_toleration_matches already enforces. */
	for (size_t i = 0; i < n->ntaints; i++)
		count += strcmp(n->taints[i].effect, "PreferNoSchedule") == 0 &&
			 !sched_pod_tolerates(cy->pod, &n->taints[i]);
	return count;
}

void sched_taint_normalize(const struct sched_cycle *cy, const void *state,
			   struct sched_node *const *nodes, int64_t *scores, size_t n)
{
	sched_default_normalize(scores, n, true);
}

/* ---------------------------------------------------------------- NodeAffinity */

enum sched_code sched_nodeaffinity_pre_filter(struct sched_cycle *cy, void **state,
					      struct sched_status *st)
{
	return cy->pod->node_selector || cy->pod->has_node_req ? SCHED_OK : SCHED_SKIP;
}

enum sched_code sched_nodeaffinity_filter(const struct sched_cycle *cy, const void *state,
					  const struct sched_node *n, struct sched_status *st)
{
	if (sched_pod_matches_node_affinity(cy->pod, n))
		return SCHED_OK;
	return sched_reject(st, SCHED_UNRESOLVABLE,
			    "node(s) didn't match Pod's node affinity/selector");
}

enum sched_code sched_nodeaffinity_pre_score(struct sched_cycle *cy,
					     struct sched_node *const *nodes, size_t n,
					     void **state)
{
	return cy->pod->nnode_pref ? SCHED_OK : SCHED_SKIP;
}

int64_t sched_nodeaffinity_score(const struct sched_cycle *cy, const void *state,
				 const struct sched_node *n)
{
	int64_t sum = 0;

	for (size_t i = 0; i < cy->pod->nnode_pref; i++) {
		const struct sched_node_term *t = &cy->pod->node_pref[i];

		if (t->weight && sched_node_term_matches(t, n))
			sum += t->weight;
	}
	return sum;
}

void sched_nodeaffinity_normalize(const struct sched_cycle *cy, const void *state,
				  struct sched_node *const *nodes, int64_t *scores, size_t n)
{
	sched_default_normalize(scores, n, false);
}

/* ---------------------------------------------------------------- NodePorts */

enum sched_code sched_ports_pre_filter(struct sched_cycle *cy, void **state,
				       struct sched_status *st)
{
	return cy->pod->nports ? SCHED_OK : SCHED_SKIP;
}

static bool ports_conflict(const struct sched_port *a, const struct sched_port *b)
{
	return a->port == b->port && strcmp(a->proto, b->proto) == 0 &&
	       (strcmp(a->ip, b->ip) == 0 || strcmp(a->ip, "0.0.0.0") == 0 ||
		strcmp(b->ip, "0.0.0.0") == 0);
}

enum sched_code sched_ports_filter(const struct sched_cycle *cy, const void *state,
				   const struct sched_node *n, struct sched_status *st)
{
	const struct sched_pod *pod = cy->pod;

	if (!n->n_ports)
		return SCHED_OK;
	for (size_t i = 0; i < n->npods; i++) {
		const struct sched_pod *e = n->pods[i];

		for (size_t a = 0; a < e->nports; a++)
			for (size_t b = 0; b < pod->nports; b++)
				if (ports_conflict(&e->ports[a], &pod->ports[b]))
					return sched_reject(
						st, SCHED_UNSCHEDULABLE,
						"node(s) didn't have free ports for the "
						"requested pod ports");
	}
	return SCHED_OK;
}
