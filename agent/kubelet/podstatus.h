/*
 * podstatus.h - a Pod's status computed from what CRI reports and what
 * only the kubelet knows (why a container waits, what its probes say).
 *
 * Pure: the same inputs give the same JSON, with times taken from the
 * input (CRI timestamps, now_ns) and carried over from the pod's current
 * status where upstream keeps them (startTime, a condition's
 * lastTransitionTime while its status does not change, the restart count
 * and last state of a container CRI no longer knows). That is what keeps
 * the status stable, and unchanged, across a kubelet restart.
 */
#ifndef CAPSTAN_KUBELET_PODSTATUS_H
#define CAPSTAN_KUBELET_PODSTATUS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/kubelet/pods.h"

/* The kubelet's knowledge of one container of the spec. */
struct podstatus_ctr {
	const char *reason;  /* why it waits (ErrImagePull, CrashLoopBackOff, ...) or NULL */
	const char *message; /* its message, or NULL */
	bool ready;	     /* probes: the running instance is ready */
	bool started;	     /* probes: the running instance passed its startup probe */
};

struct podstatus_input {
	const json_t *pod; /* spec, metadata and the current status */
	const struct pods_view *view;
	bool sandbox_ready;    /* a ready sandbox exists (PodReadyToStartContainers) */
	const char *pod_ip;    /* NULL or "": keep the current status' IPs */
	const json_t *pod_ips; /* array of strings, or NULL for [pod_ip] */
	const char *host_ip;
	/* Parallel to spec.initContainers and spec.containers; NULL = all defaults. */
	const struct podstatus_ctr *init;
	const struct podstatus_ctr *ctrs;
	int64_t now_ns;
};

/*
 * The status object the kubelet owns: phase, conditions (PodScheduled and
 * other foreign conditions carried over), hostIP(s), podIP(s), startTime,
 * initContainerStatuses, containerStatuses, qosClass. A new reference.
 */
json_t *podstatus_compute(const struct podstatus_input *in);

/*
 * Upstream's getPhase over computed container statuses (arrays as in the
 * status). Never leaves Succeeded or Failed once the pod's status has it.
 */
const char *podstatus_phase(const json_t *pod, const json_t *init_statuses, const json_t *statuses);

/* Succeeded or Failed. */
bool podstatus_phase_is_terminal(const char *phase);

/*
 * Would upstream restart this container (latest instance last, NULL when
 * none)? False once the pod is being deleted, for a running instance, for
 * a successful init container, and as restartPolicy says.
 */
bool podstatus_should_restart(const json_t *pod, const struct pods_ctr *last, bool init);

/* The keys of status that podstatus_compute owns, copied (a new object). */
json_t *podstatus_owned(const json_t *status);

#endif
