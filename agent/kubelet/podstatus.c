/*
 * podstatus.c - the Pod's status from the runtime view (see podstatus.h).
 *
 * The rules are upstream's (generateAPIPodStatus and its helpers):
 *
 *   - a container's state is its newest instance's (running, terminated
 *     with CRI's reason or Completed/Error), its lastState the instance
 *     before; its restartCount the newest instance's attempt;
 *   - a container that would be (re)started and has a recorded reason
 *     (ErrImagePull, CrashLoopBackOff, CreateContainerConfigError, ...) is
 *     shown waiting with that reason, its terminated state moving to
 *     lastState; one with no instance waits as ContainerCreating, or
 *     PodInitializing when the pod has init containers;
 *   - the phase is getPhase over those statuses, and never leaves
 *     Succeeded or Failed;
 *   - conditions PodReadyToStartContainers, Initialized, Ready and
 *     ContainersReady with upstream's reasons and messages, a
 *     lastTransitionTime that changes only with the status; PodScheduled
 *     and any other condition someone else owns are carried over.
 */
#include "agent/kubelet/podstatus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/kubelet/containers.h"
#include "jsonx.h"
#include "ktime.h"
#include "util.h"

static const char *const owned_keys[] = {
	"phase",
	"conditions",
	"hostIP",
	"hostIPs",
	"podIP",
	"podIPs",
	"startTime",
	"initContainerStatuses",
	"containerStatuses",
	"qosClass",
};

json_t *podstatus_owned(const json_t *status)
{
	json_t *o = json_object();

	for (size_t i = 0; i < ARRAY_SIZE(owned_keys); i++) {
		json_t *v = json_object_get(status, owned_keys[i]);

		if (v)
			json_object_set_new(o, owned_keys[i], json_deep_copy(v));
	}
	return o;
}

static json_t *time_json(int64_t ns)
{
	char buf[KTIME_BUFSZ];

	if (ktime_format(ns, buf, sizeof(buf)) < 0)
		return json_null();
	return json_string(buf);
}

bool podstatus_phase_is_terminal(const char *phase)
{
	return phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
}

bool podstatus_should_restart(const json_t *pod, const struct pods_ctr *last, bool init)
{
	const char *policy = jsonx_path_str(pod, "spec.restartPolicy", "Always");

	if (jsonx_path_str(pod, "metadata.deletionTimestamp", NULL))
		return false;
	if (!last)
		return true;
	if (last->state == PODS_CTR_RUNNING)
		return false;
	if (last->state == PODS_CTR_CREATED || last->state == PODS_CTR_UNKNOWN)
		return true;
	if (init && last->exit_code == 0)
		return false;
	if (!strcmp(policy, "Never"))
		return false;
	if (!strcmp(policy, "OnFailure") && last->exit_code == 0)
		return false;
	return true;
}

static json_t *terminated_json(const struct pods_ctr *c)
{
	const char *reason =
		c->reason && *c->reason ? c->reason : (c->exit_code == 0 ? "Completed" : "Error");
	json_t *t = json_object();
	char *cid = xasprintf("containerd://%s", c->id);

	json_object_set_new(t, "exitCode", json_integer(c->exit_code));
	json_object_set_new(t, "reason", json_string(reason));
	if (c->message && *c->message)
		json_object_set_new(t, "message", json_string(c->message));
	json_object_set_new(t, "startedAt", time_json(c->started_ns));
	json_object_set_new(t, "finishedAt", time_json(c->finished_ns));
	json_object_set_new(t, "containerID", json_string(cid));
	free(cid);
	return json_pack("{s:o}", "terminated", t);
}

static json_t *state_json(const struct pods_ctr *c)
{
	switch (c->state) {
	case PODS_CTR_RUNNING:
		return json_pack("{s:{s:o}}", "running", "startedAt", time_json(c->started_ns));
	case PODS_CTR_EXITED:
		return terminated_json(c);
	case PODS_CTR_CREATED:
		return json_pack("{s:{s:s}}", "waiting", "reason", "ContainerCreating");
	default:
		return json_pack("{s:{s:I,s:s,s:s}}", "terminated", "exitCode", (json_int_t)137,
				 "reason", "ContainerStatusUnknown", "message",
				 "The container could not be located when the pod was terminated");
	}
}

static const json_t *old_container_status(const json_t *pod, const char *key, const char *name)
{
	const json_t *s;
	size_t i;

	json_array_foreach(jsonx_arr(jsonx_obj(pod, "status"), key), i, s)
		if (!strcmp(jsonx_str(s, "name", ""), name))
			return s;
	return NULL;
}

/* One entry of containerStatuses / initContainerStatuses. */
static json_t *container_status(const struct podstatus_input *in, const json_t *spec_c,
				const struct podstatus_ctr *x, bool init,
				const char *default_reason)
{
	const char *name = jsonx_str(spec_c, "name", "");
	const struct pods_ctr *last = pods_view_instance(in->view, name, NULL, 0);
	const struct pods_ctr *prev = pods_view_instance(in->view, name, NULL, 1);
	const json_t *old = old_container_status(
		in->pod, init ? "initContainerStatuses" : "containerStatuses", name);
	json_t *st = json_object(), *state, *last_state;
	bool running = last && last->state == PODS_CTR_RUNNING;

	json_object_set_new(st, "name", json_string(name));
	if (last) {
		state = state_json(last);
		last_state = prev && prev->state == PODS_CTR_EXITED ? terminated_json(prev)
								    : json_object();
	} else {
		/* CRI forgot it (a new sandbox): keep what the status said last. */
		state = json_pack("{s:{s:s}}", "waiting", "reason", default_reason);
		last_state = json_object_get(old, "lastState")
				     ? json_deep_copy(json_object_get(old, "lastState"))
				     : json_object();
	}
	if (x && x->reason && *x->reason && podstatus_should_restart(in->pod, last, init)) {
		json_t *w = json_pack("{s:s}", "reason", x->reason);

		if (x->message && *x->message)
			json_object_set_new(w, "message", json_string(x->message));
		if (json_object_get(state, "terminated")) {
			json_decref(last_state);
			last_state = state;
		} else {
			json_decref(state);
		}
		state = json_pack("{s:o}", "waiting", w);
	}
	json_object_set_new(st, "state", state);
	json_object_set_new(st, "lastState", last_state);
	if (init)
		json_object_set_new(st, "ready",
				    json_boolean(last && last->state == PODS_CTR_EXITED &&
						 last->exit_code == 0));
	else
		json_object_set_new(st, "ready", json_boolean(running && x && x->ready));
	json_object_set_new(st, "restartCount",
			    json_integer(last ? (json_int_t)last->attempt
					      : (json_int_t)jsonx_int(old, "restartCount", 0)));
	json_object_set_new(st, "image",
			    json_string(last && last->image && *last->image &&
							strncmp(last->image, "sha256:", 7)
						? last->image
						: jsonx_str(spec_c, "image", "")));
	json_object_set_new(st, "imageID",
			    json_string(last && last->image_ref ? last->image_ref : ""));
	if (last) {
		char *cid = xasprintf("containerd://%s", last->id);

		json_object_set_new(st, "containerID", json_string(cid));
		free(cid);
	}
	/* Init containers have no probes: running is started. */
	json_object_set_new(st, "started", json_boolean(running && (init || (x && x->started))));
	return st;
}

static json_t *statuses(const struct podstatus_input *in, const char *list,
			const struct podstatus_ctr *extra, bool init, const char *default_reason)
{
	const json_t *c;
	json_t *arr = json_array();
	size_t i;

	json_array_foreach(jsonx_arr(jsonx_obj(in->pod, "spec"), list), i, c)
		json_array_append_new(arr, container_status(in, c, extra ? &extra[i] : NULL, init,
							    default_reason));
	return arr;
}

static const json_t *status_by_name(const json_t *arr, const char *name)
{
	const json_t *s;
	size_t i;

	json_array_foreach(arr, i, s)
		if (!strcmp(jsonx_str(s, "name", ""), name))
			return s;
	return NULL;
}

static bool has(const json_t *st, const char *state)
{
	return json_is_object(jsonx_getv(st, "state", state, NULL));
}

static bool last_terminated(const json_t *st)
{
	return json_is_object(jsonx_getv(st, "lastState", "terminated", NULL));
}

static long long exit_code(const json_t *st, const char *which)
{
	return jsonx_int(jsonx_getv(st, which, "terminated", NULL), "exitCode", 0);
}

const char *podstatus_phase(const json_t *pod, const json_t *init_statuses,
			    const json_t *ctr_statuses)
{
	const json_t *spec = jsonx_obj(pod, "spec"), *c;
	const char *policy = jsonx_str(spec, "restartPolicy", "Always");
	const char *old = jsonx_path_str(pod, "status.phase", "");
	int pending_init = 0, failed_init = 0;
	int unknown = 0, running = 0, waiting = 0, stopped = 0, succeeded = 0;
	bool any_started = false;
	size_t i;

	if (podstatus_phase_is_terminal(old))
		return !strcmp(old, "Succeeded") ? "Succeeded" : "Failed";
	json_array_foreach(jsonx_arr(spec, "initContainers"), i, c) {
		const json_t *st = status_by_name(init_statuses, jsonx_str(c, "name", ""));

		if (!st || has(st, "running"))
			pending_init++;
		else if (has(st, "terminated"))
			failed_init += exit_code(st, "state") != 0;
		else if (has(st, "waiting") && last_terminated(st))
			failed_init += exit_code(st, "lastState") != 0;
		else
			pending_init++;
	}
	json_array_foreach(jsonx_arr(spec, "containers"), i, c) {
		const json_t *st = status_by_name(ctr_statuses, jsonx_str(c, "name", ""));

		if (!st) {
			unknown++;
		} else if (has(st, "running")) {
			running++;
			any_started = true;
		} else if (has(st, "terminated")) {
			stopped++;
			succeeded += exit_code(st, "state") == 0;
			any_started = true;
		} else if (has(st, "waiting")) {
			if (last_terminated(st)) {
				stopped++;
				any_started = true;
			} else {
				waiting++;
			}
		} else {
			unknown++;
		}
	}
	if (failed_init > 0 && !strcmp(policy, "Never"))
		return "Failed";
	if ((pending_init > 0 && !any_started) || waiting > 0)
		return "Pending";
	if (running > 0 && unknown == 0)
		return "Running";
	if (running == 0 && stopped > 0 && unknown == 0) {
		if (!strcmp(policy, "Always"))
			return "Running";
		if (stopped == succeeded)
			return "Succeeded";
		if (!strcmp(policy, "Never"))
			return "Failed";
		return "Running";
	}
	return "Pending";
}

/* ---------------------------------------------------------------- conditions */

static json_t *condition(const json_t *old_conds, const char *type, bool status, const char *reason,
			 const char *message, int64_t now_ns)
{
	const char *s = status ? "True" : "False";
	json_t *c = json_pack("{s:s,s:s,s:n}", "type", type, "status", s, "lastProbeTime");
	const json_t *o, *prev = NULL;
	size_t i;

	json_array_foreach(old_conds, i, o)
		if (!strcmp(jsonx_str(o, "type", ""), type))
			prev = o;
	if (prev && !strcmp(jsonx_str(prev, "status", ""), s) &&
	    json_is_string(json_object_get(prev, "lastTransitionTime")))
		json_object_set(c, "lastTransitionTime",
				json_object_get(prev, "lastTransitionTime"));
	else
		json_object_set_new(c, "lastTransitionTime", time_json(now_ns));
	if (reason)
		json_object_set_new(c, "reason", json_string(reason));
	if (message)
		json_object_set_new(c, "message", json_string(message));
	return c;
}

/* "containers with unready status: [a b]" over the statuses matching want. */
static char *names_message(const char *what, const json_t *arr, bool (*want)(const json_t *))
{
	struct buf b = { 0 };
	const json_t *s;
	bool any = false;
	size_t i;

	json_array_foreach(arr, i, s) {
		if (!want(s))
			continue;
		buf_appendf(&b, "%s%s", any ? " " : "", jsonx_str(s, "name", ""));
		any = true;
	}
	if (!any)
		return NULL;
	{
		char *m = xasprintf("containers with %s status: [%s]", what, b.data);

		buf_free(&b);
		return m;
	}
}

static bool is_unready(const json_t *s)
{
	return !jsonx_bool(s, "ready", false);
}

static bool is_incomplete(const json_t *s)
{
	return !has(s, "terminated") || exit_code(s, "state") != 0;
}

/* Readiness gates: NULL when all are True, else upstream's message. */
static char *gates_message(const json_t *pod)
{
	const json_t *g, *conds = jsonx_arr(jsonx_obj(pod, "status"), "conditions");
	size_t i;

	json_array_foreach(jsonx_arr(jsonx_obj(pod, "spec"), "readinessGates"), i, g) {
		const char *t = jsonx_str(g, "conditionType", "");
		const json_t *c = NULL, *e;
		size_t j;

		json_array_foreach(conds, j, e)
			if (!strcmp(jsonx_str(e, "type", ""), t))
				c = e;
		if (!c)
			return xasprintf(
				"corresponding condition of pod readiness gate \"%s\" does "
				"not exist.",
				t);
		if (strcmp(jsonx_str(c, "status", ""), "True"))
			return xasprintf("the status of pod readiness gate \"%s\" is not \"True\", "
					 "but %s",
					 t, jsonx_str(c, "status", ""));
	}
	return NULL;
}

static json_t *conditions(const struct podstatus_input *in, const char *phase,
			  const json_t *init_st, const json_t *ctr_st)
{
	const json_t *old = jsonx_arr(jsonx_obj(in->pod, "status"), "conditions"), *o;
	bool succeeded = !strcmp(phase, "Succeeded"), initialized, ready;
	char *init_msg = names_message("incomplete", init_st, is_incomplete);
	char *unready = names_message("unready", ctr_st, is_unready), *gates = NULL;
	json_t *out = json_array(), *s;
	size_t i;

	/* Once a regular container has run, the pod stays initialized (upstream). */
	initialized = !init_msg;
	json_array_foreach(ctr_st, i, s)
		if (has(s, "running") || has(s, "terminated") || last_terminated(s))
			initialized = true;
	json_array_append_new(out, condition(old, "PodReadyToStartContainers", in->sandbox_ready,
					     NULL, NULL, in->now_ns));
	if (initialized)
		json_array_append_new(out, condition(old, "Initialized", true,
						     succeeded && init_msg ? "PodCompleted" : NULL,
						     NULL, in->now_ns));
	else
		json_array_append_new(out,
				      condition(old, "Initialized", false,
						"ContainersNotInitialized", init_msg, in->now_ns));
	ready = !unready && !succeeded;
	if (ready)
		gates = gates_message(in->pod);
	if (succeeded) {
		json_array_append_new(
			out, condition(old, "Ready", false, "PodCompleted", NULL, in->now_ns));
		json_array_append_new(out, condition(old, "ContainersReady", false, "PodCompleted",
						     NULL, in->now_ns));
	} else {
		json_array_append_new(out, condition(old, "Ready", ready && !gates,
						     !ready  ? "ContainersNotReady"
						     : gates ? "ReadinessGatesNotReady"
							     : NULL,
						     !ready ? unready : gates, in->now_ns));
		json_array_append_new(out, condition(old, "ContainersReady", ready,
						     ready ? NULL : "ContainersNotReady", unready,
						     in->now_ns));
	}
	/* Conditions owned by others (PodScheduled, DisruptionTarget, gates) stay. */
	json_array_foreach(old, i, o) {
		const char *t = jsonx_str(o, "type", "");

		if (strcmp(t, "PodReadyToStartContainers") && strcmp(t, "Initialized") &&
		    strcmp(t, "Ready") && strcmp(t, "ContainersReady"))
			json_array_append_new(out, json_deep_copy(o));
	}
	free(init_msg);
	free(unready);
	free(gates);
	return out;
}

/* ---------------------------------------------------------------- the status */

static json_t *ip_list(const char *first, const json_t *ips)
{
	json_t *arr = json_array(), *ip;
	size_t i;

	if (json_array_size(ips)) {
		json_array_foreach(ips, i, ip)
			if (json_is_string(ip) && *json_string_value(ip))
				json_array_append_new(arr, json_pack("{s:O}", "ip", ip));
	} else if (first && *first) {
		json_array_append_new(arr, json_pack("{s:s}", "ip", first));
	}
	return arr;
}

json_t *podstatus_compute(const struct podstatus_input *in)
{
	const json_t *spec = jsonx_obj(in->pod, "spec"), *old = jsonx_obj(in->pod, "status");
	bool has_init = json_array_size(jsonx_arr(spec, "initContainers")) > 0;
	const char *dflt = has_init ? "PodInitializing" : "ContainerCreating", *phase;
	json_t *st = json_object(), *init_st, *ctr_st;

	init_st = statuses(in, "initContainers", in->init, true, dflt);
	ctr_st = statuses(in, "containers", in->ctrs, false, dflt);
	phase = podstatus_phase(in->pod, init_st, ctr_st);

	json_object_set_new(st, "phase", json_string(phase));
	json_object_set_new(st, "conditions", conditions(in, phase, init_st, ctr_st));
	if (in->host_ip && *in->host_ip) {
		json_object_set_new(st, "hostIP", json_string(in->host_ip));
		json_object_set_new(st, "hostIPs", ip_list(in->host_ip, NULL));
	}
	if (in->pod_ip && *in->pod_ip) {
		json_object_set_new(st, "podIP", json_string(in->pod_ip));
		json_object_set_new(st, "podIPs", ip_list(in->pod_ip, in->pod_ips));
	} else if (json_is_string(json_object_get(old, "podIP"))) {
		/* A stopped sandbox has no address; the pod keeps the one it had. */
		json_object_set(st, "podIP", json_object_get(old, "podIP"));
		if (json_object_get(old, "podIPs"))
			json_object_set_new(st, "podIPs",
					    json_deep_copy(json_object_get(old, "podIPs")));
	}
	if (json_is_string(json_object_get(old, "startTime")))
		json_object_set(st, "startTime", json_object_get(old, "startTime"));
	else
		json_object_set_new(st, "startTime", time_json(in->now_ns));
	if (has_init)
		json_object_set_new(st, "initContainerStatuses", init_st);
	else
		json_decref(init_st);
	json_object_set_new(st, "containerStatuses", ctr_st);
	json_object_set_new(st, "qosClass", json_string(kcg_qos_name(pods_pod_qos(in->pod))));
	return st;
}
