/*
 * nodelc_policy.h - the decisions of the node lifecycle controller, free of
 * I/O and of the clock, so every rule is unit-tested with made-up objects
 * and a fake "now".
 *
 * Health. A node is heard from when its Lease in kube-node-lease is renewed
 * (spec.renewTime changes) or its Ready condition's lastHeartbeatTime
 * changes. As upstream does, the controller never compares those
 * timestamps with its own clock (the kubelet's clock may be off): it notes
 * on its own monotonic clock *when it saw them change*, and a node not
 * heard from for the grace period (--node-monitor-grace-period, 40 s) gets
 * Ready, MemoryPressure, DiskPressure and PIDPressure set to Unknown
 * ("NodeStatusUnknown", "Kubelet stopped posting node status.").
 *
 * Taints follow the conditions: Ready False -> node.kubernetes.io/not-ready,
 * Unknown -> node.kubernetes.io/unreachable, each as NoSchedule and as
 * NoExecute (with timeAdded); memory, disk, PID pressure, network
 * unavailable and spec.unschedulable map to their NoSchedule taints. Only
 * these taints are ever added or removed; every other taint is kept as is.
 * When every node of the cluster is not Ready, NoExecute taints are not
 * added and those there are removed ("master disruption mode" upstream):
 * that pattern means the control plane lost the nodes, not that all nodes
 * died, and evicting everything would make it worse.
 *
 * Eviction (upstream's NoExecute taint manager): a pod must tolerate every
 * NoExecute taint of its node or it is deleted at once; if it tolerates
 * them all, the smallest tolerationSeconds among the tolerations used says
 * how long it may stay (none: for ever). A pod with no toleration at all
 * for the two lifecycle taints gets --pod-eviction-timeout (300 s) for
 * them, the API server's DefaultTolerationSeconds value, so pods created
 * before that admission default (or around it) are not evicted at once.
 */
#ifndef CAPSTAN_CONTROLLERS_NODELC_POLICY_H
#define CAPSTAN_CONTROLLERS_NODELC_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "ktime.h"

#define NODELC_TAINT_NOT_READY "node.kubernetes.io/not-ready"
#define NODELC_TAINT_UNREACHABLE "node.kubernetes.io/unreachable"
#define NODELC_REASON_UNKNOWN "NodeStatusUnknown"
#define NODELC_MSG_UNKNOWN "Kubelet stopped posting node status."

/* What the controller remembers of one node between observations. */
struct nodelc_health {
	bool seen;
	char lease_renew[KTIME_BUFSZ]; /* last spec.renewTime seen ("" none) */
	char heartbeat[KTIME_BUFSZ];   /* last Ready lastHeartbeatTime seen */
	int64_t probe_ns;	       /* our clock when either last changed */
};

/*
 * Fold the node and its Lease (NULL when there is none) into h at now_ns.
 * The first observation counts as hearing from the node. Returns true when
 * the node has not been heard from for more than grace_ns.
 */
bool nodelc_health_observe(struct nodelc_health *h, const json_t *node, const json_t *lease,
			   int64_t now_ns, int64_t grace_ns);

/* The node's Ready condition status: "True", "False" or "Unknown"; NULL without one. */
const char *nodelc_ready_status(const json_t *node);

/* Ready is Unknown because this controller found the node silent (NodeStatusUnknown). */
bool nodelc_silenced(const json_t *node);

/*
 * The status.conditions array a silent node gets: Ready and the three
 * pressure conditions Unknown (lastTransitionTime now, lastHeartbeatTime
 * kept); a missing one is added ("NodeStatusNeverUpdated", "Kubelet never
 * posted node status.", heartbeat = creationTimestamp); other conditions
 * unchanged. A new array, or NULL when nothing would change.
 */
json_t *nodelc_conditions_unknown(const json_t *node, const char *now);

/*
 * The spec.taints the node should carry (see the header comment); noexec
 * false means NoExecute lifecycle taints are not wanted. Taints added now
 * get timeAdded = now when NoExecute. A new array, or NULL when the node's
 * taints are right already.
 */
json_t *nodelc_taints_want(const json_t *node, bool noexec, const char *now);

/* True when nodes (an array) holds at least one node and none is Ready=True. */
bool nodelc_all_disrupted(const json_t *nodes);

/* Does toleration tolerate taint (effect, key, operator Exists / Equal + value)? */
bool nodelc_tolerates(const json_t *toleration, const json_t *taint);

/*
 * How long a pod with these tolerations may stay on a node with these
 * taints (both arrays, may be NULL): -1 for ever (no NoExecute taint, or all
 * tolerated without a limit), 0 evict now, else seconds. default_s stands
 * in for a missing toleration of the two lifecycle taints.
 */
long long nodelc_eviction_delay(const json_t *taints, const json_t *tolerations,
				long long default_s);

/*
 * The pod with its Ready condition set to False (lastTransitionTime now),
 * for a PUT of pods/status; NULL when the pod has no Ready=True condition.
 */
json_t *nodelc_pod_not_ready(const json_t *pod, const char *now);

#endif
