/*
 * Unit tests for agent/kubelet/podstatus.c: container states and reasons,
 * restart counts and last states, phases by restart policy, conditions
 * with their reasons, messages and transition times, addresses.
 */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include "agent/kubelet/podstatus.h"
#include "agent/kubelet/pods.h"
#include "jsonx.h"
#include "util.h"

#define T0 1700000000000000000LL /* 2023-11-14T22:13:20Z */
#define SEC 1000000000LL

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	ASSERT_MSG(j != NULL, "bad test JSON: %s: %s", e.text, text);
	return j;
}

static void add_sb(struct pods_view *v, const char *id, unsigned attempt, bool ready)
{
	struct pods_sandbox *sb;

	v->sb = xrealloc(v->sb, (v->n_sb + 1) * sizeof(*v->sb));
	sb = &v->sb[v->n_sb++];
	memset(sb, 0, sizeof(*sb));
	sb->id = xstrdup(id);
	sb->uid = xstrdup("u1");
	sb->name = xstrdup("p");
	sb->ns = xstrdup("default");
	sb->attempt = attempt;
	sb->ready = ready;
	sb->ip = xstrdup(ready ? "10.244.0.9" : "");
	sb->ips = json_array();
}

static struct pods_ctr *add_ctr(struct pods_view *v, const char *id, const char *name,
				unsigned attempt, enum pods_ctr_state state, int exit_code)
{
	struct pods_ctr *c;

	v->ctr = xrealloc(v->ctr, (v->n_ctr + 1) * sizeof(*v->ctr));
	c = &v->ctr[v->n_ctr++];
	memset(c, 0, sizeof(*c));
	c->id = xstrdup(id);
	c->sandbox_id = xstrdup("sb1");
	c->uid = xstrdup("u1");
	c->name = xstrdup(name);
	c->attempt = attempt;
	c->state = state;
	c->created_ns = T0 + attempt * SEC;
	c->started_ns = T0 + attempt * SEC;
	c->finished_ns = state == PODS_CTR_EXITED ? T0 + attempt * SEC + SEC / 2 : 0;
	c->exit_code = exit_code;
	c->reason = xstrdup("");
	c->message = xstrdup("");
	c->image = xstrdup("docker.io/library/busybox:1");
	c->image_ref = xstrdup("docker.io/library/busybox@sha256:abc");
	c->log_path = xstrdup("");
	c->hash = xstrdup("");
	return c;
}

static json_t *pod_with(const char *policy, const char *init_names, const char *names)
{
	char text[2048];
	struct buf ic = { 0 }, cc = { 0 };
	char *list, *save = NULL, *n;

	buf_append(&ic, "", 0);
	buf_append(&cc, "", 0);
	list = xstrdup(init_names);
	for (n = strtok_r(list, ",", &save); n; n = strtok_r(NULL, ",", &save))
		buf_appendf(&ic, "%s{\"name\":\"%s\",\"image\":\"busybox:1\"}", ic.len ? "," : "",
			    n);
	free(list);
	list = xstrdup(names);
	save = NULL;
	for (n = strtok_r(list, ",", &save); n; n = strtok_r(NULL, ",", &save))
		buf_appendf(&cc, "%s{\"name\":\"%s\",\"image\":\"busybox:1\"}", cc.len ? "," : "",
			    n);
	free(list);
	snprintf(text, sizeof(text),
		 "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"uid\":\"u1\"},"
		 "\"spec\":{\"restartPolicy\":\"%s\",\"initContainers\":[%s],\"containers\":[%s]},"
		 "\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\","
		 "\"status\":\"True\",\"lastProbeTime\":null,"
		 "\"lastTransitionTime\":\"2023-11-14T22:00:00Z\"}]}}",
		 policy, ic.data, cc.data);
	buf_free(&ic);
	buf_free(&cc);
	return J(text);
}

static json_t *compute(const json_t *pod, const struct pods_view *v,
		       const struct podstatus_ctr *init, const struct podstatus_ctr *ctrs)
{
	struct podstatus_input in = {
		.pod = pod,
		.view = v,
		.sandbox_ready = v->n_sb && v->sb[0].ready,
		.pod_ip = v->n_sb && v->sb[0].ready ? v->sb[0].ip : NULL,
		.host_ip = "192.168.1.5",
		.init = init,
		.ctrs = ctrs,
		.now_ns = T0 + 100 * SEC,
	};

	return podstatus_compute(&in);
}

static const char *S(const json_t *st, const char *path)
{
	return jsonx_path_str(st, path, "(none)");
}

static const json_t *cond(const json_t *st, const char *type)
{
	const json_t *c;
	size_t i;

	json_array_foreach(jsonx_arr(st, "conditions"), i, c)
		if (!strcmp(jsonx_str(c, "type", ""), type))
			return c;
	return NULL;
}

TEST(kubelet_status_running_and_ready)
{
	json_t *pod = pod_with("Always", "", "a");
	struct pods_view v = { 0 };
	struct podstatus_ctr x[1] = { { .ready = true, .started = true } };
	json_t *st;

	add_sb(&v, "sb1", 0, true);
	add_ctr(&v, "c1", "a", 0, PODS_CTR_RUNNING, 0);
	st = compute(pod, &v, NULL, x);
	ASSERT_STREQ(S(st, "phase"), "Running");
	ASSERT_STREQ(S(st, "podIP"), "10.244.0.9");
	ASSERT_STREQ(S(st, "podIPs[0].ip"), "10.244.0.9");
	ASSERT_STREQ(S(st, "hostIP"), "192.168.1.5");
	ASSERT_STREQ(S(st, "hostIPs[0].ip"), "192.168.1.5");
	ASSERT_STREQ(S(st, "qosClass"), "BestEffort");
	ASSERT_STREQ(S(st, "startTime"), "2023-11-14T22:15:00Z");
	ASSERT_STREQ(S(st, "containerStatuses[0].name"), "a");
	ASSERT_STREQ(S(st, "containerStatuses[0].state.running.startedAt"), "2023-11-14T22:13:20Z");
	ASSERT(json_object_size(jsonx_get_path(st, "containerStatuses[0].lastState")) == 0);
	ASSERT_STREQ(S(st, "containerStatuses[0].containerID"), "containerd://c1");
	ASSERT_STREQ(S(st, "containerStatuses[0].image"), "docker.io/library/busybox:1");
	ASSERT_STREQ(S(st, "containerStatuses[0].imageID"), "docker.io/library/busybox@sha256:abc");
	ASSERT(jsonx_path_bool(st, "containerStatuses[0].ready", false));
	ASSERT(jsonx_path_bool(st, "containerStatuses[0].started", false));
	ASSERT_EQ(jsonx_path_int(st, "containerStatuses[0].restartCount", -1), 0);
	ASSERT_NULL(jsonx_get_path(st, "initContainerStatuses"));
	/* Upstream's order, and PodScheduled carried over untouched. */
	ASSERT_STREQ(S(st, "conditions[0].type"), "PodReadyToStartContainers");
	ASSERT_STREQ(S(st, "conditions[1].type"), "Initialized");
	ASSERT_STREQ(S(st, "conditions[2].type"), "Ready");
	ASSERT_STREQ(S(st, "conditions[3].type"), "ContainersReady");
	ASSERT_STREQ(S(st, "conditions[4].type"), "PodScheduled");
	ASSERT_STREQ(S(st, "conditions[4].lastTransitionTime"), "2023-11-14T22:00:00Z");
	for (int i = 0; i < 4; i++) {
		char p[64];

		snprintf(p, sizeof(p), "conditions[%d].status", i);
		ASSERT_STREQ(S(st, p), "True");
		snprintf(p, sizeof(p), "conditions[%d].lastTransitionTime", i);
		ASSERT_STREQ(S(st, p), "2023-11-14T22:15:00Z");
	}
	ASSERT(json_is_null(jsonx_get_path(st, "conditions[2].lastProbeTime")));
	json_decref(st);
	json_decref(pod);
	pods_view_free(&v);
}

TEST(kubelet_status_no_instance_waits)
{
	json_t *pod = pod_with("Always", "", "a,b"), *st;
	struct pods_view v = { 0 };

	st = compute(pod, &v, NULL, NULL);
	ASSERT_STREQ(S(st, "phase"), "Pending");
	ASSERT_STREQ(S(st, "containerStatuses[0].state.waiting.reason"), "ContainerCreating");
	ASSERT_STREQ(S(st, "containerStatuses[1].state.waiting.reason"), "ContainerCreating");
	ASSERT_STREQ(S(st, "containerStatuses[0].image"), "busybox:1");
	ASSERT_STREQ(S(st, "containerStatuses[0].imageID"), "");
	ASSERT_NULL(jsonx_get_path(st, "containerStatuses[0].containerID"));
	ASSERT_NULL(jsonx_get_path(st, "podIP"));
	ASSERT_STREQ(S(st, "conditions[0].status"), "False");
	ASSERT_STREQ(jsonx_str(cond(st, "Ready"), "reason", ""), "ContainersNotReady");
	ASSERT_STREQ(jsonx_str(cond(st, "Ready"), "message", ""),
		     "containers with unready status: [a b]");
	ASSERT_STREQ(jsonx_str(cond(st, "ContainersReady"), "message", ""),
		     "containers with unready status: [a b]");
	json_decref(st);
	json_decref(pod);

	/* With init containers every container waits as PodInitializing. */
	pod = pod_with("Always", "i", "a");
	st = compute(pod, &v, NULL, NULL);
	ASSERT_STREQ(S(st, "initContainerStatuses[0].state.waiting.reason"), "PodInitializing");
	ASSERT_STREQ(S(st, "containerStatuses[0].state.waiting.reason"), "PodInitializing");
	ASSERT_STREQ(jsonx_str(cond(st, "Initialized"), "status", ""), "False");
	ASSERT_STREQ(jsonx_str(cond(st, "Initialized"), "reason", ""), "ContainersNotInitialized");
	ASSERT_STREQ(jsonx_str(cond(st, "Initialized"), "message", ""),
		     "containers with incomplete status: [i]");
	json_decref(st);
	json_decref(pod);
}

TEST(kubelet_status_terminated_reasons)
{
	json_t *pod = pod_with("Never", "", "ok,bad,oom"), *st;
	struct pods_view v = { 0 };
	struct pods_ctr *c;

	add_ctr(&v, "c1", "ok", 0, PODS_CTR_EXITED, 0);
	add_ctr(&v, "c2", "bad", 0, PODS_CTR_EXITED, 2);
	c = add_ctr(&v, "c3", "oom", 0, PODS_CTR_EXITED, 137);
	free(c->reason);
	c->reason = xstrdup("OOMKilled");
	st = compute(pod, &v, NULL, NULL);
	ASSERT_STREQ(S(st, "containerStatuses[0].state.terminated.reason"), "Completed");
	ASSERT_EQ(jsonx_path_int(st, "containerStatuses[0].state.terminated.exitCode", -1), 0);
	ASSERT_STREQ(S(st, "containerStatuses[1].state.terminated.reason"), "Error");
	ASSERT_EQ(jsonx_path_int(st, "containerStatuses[1].state.terminated.exitCode", -1), 2);
	ASSERT_STREQ(S(st, "containerStatuses[2].state.terminated.reason"), "OOMKilled");
	ASSERT_STREQ(S(st, "containerStatuses[2].state.terminated.containerID"), "containerd://c3");
	ASSERT_STREQ(S(st, "containerStatuses[2].state.terminated.startedAt"),
		     "2023-11-14T22:13:20Z");
	ASSERT_STREQ(S(st, "containerStatuses[2].state.terminated.finishedAt"),
		     "2023-11-14T22:13:20Z");
	ASSERT(!jsonx_path_bool(st, "containerStatuses[0].ready", true));
	ASSERT_STREQ(S(st, "phase"), "Failed");
	json_decref(st);
	json_decref(pod);
	pods_view_free(&v);
}

TEST(kubelet_status_crashloop_waiting_with_last_state_and_restart_count)
{
	json_t *pod = pod_with("Always", "", "a"), *st;
	struct pods_view v = { 0 };
	struct podstatus_ctr x[1] = { { .reason = "CrashLoopBackOff",
					.message = "back-off 20s restarting failed container=a" } };

	add_sb(&v, "sb1", 0, true);
	add_ctr(&v, "c1", "a", 1, PODS_CTR_EXITED, 1);
	add_ctr(&v, "c2", "a", 2, PODS_CTR_EXITED, 3);
	st = compute(pod, &v, NULL, x);
	ASSERT_STREQ(S(st, "containerStatuses[0].state.waiting.reason"), "CrashLoopBackOff");
	ASSERT_STREQ(S(st, "containerStatuses[0].state.waiting.message"),
		     "back-off 20s restarting failed container=a");
	/* The newest instance moved to lastState. */
	ASSERT_EQ(jsonx_path_int(st, "containerStatuses[0].lastState.terminated.exitCode", -1), 3);
	ASSERT_EQ(jsonx_path_int(st, "containerStatuses[0].restartCount", -1), 2);
	ASSERT_STREQ(S(st, "containerStatuses[0].containerID"), "containerd://c2");
	ASSERT_STREQ(S(st, "phase"), "Running");
	json_decref(st);

	/* Without a recorded reason the newest shows terminated and the older one last. */
	st = compute(pod, &v, NULL, NULL);
	ASSERT_EQ(jsonx_path_int(st, "containerStatuses[0].state.terminated.exitCode", -1), 3);
	ASSERT_EQ(jsonx_path_int(st, "containerStatuses[0].lastState.terminated.exitCode", -1), 1);
	json_decref(st);

	/* A running restarted instance ignores a stale reason. */
	add_ctr(&v, "c3", "a", 3, PODS_CTR_RUNNING, 0);
	st = compute(pod, &v, NULL, x);
	ASSERT(jsonx_get_path(st, "containerStatuses[0].state.running") != NULL);
	ASSERT_EQ(jsonx_path_int(st, "containerStatuses[0].lastState.terminated.exitCode", -1), 3);
	ASSERT_EQ(jsonx_path_int(st, "containerStatuses[0].restartCount", -1), 3);
	/* Running but not ready: no probe result yet. */
	ASSERT(!jsonx_path_bool(st, "containerStatuses[0].ready", true));
	json_decref(st);
	json_decref(pod);
	pods_view_free(&v);
}

TEST(kubelet_status_phase_rules)
{
	static const struct {
		const char *policy;
		int a, b; /* -1 running, >= 0 exit code, -2 no instance */
		const char *phase;
	} cases[] = {
		{ "Always", -1, -1, "Running" },   { "Always", 0, 0, "Running" },
		{ "Always", -1, -2, "Pending" },   { "Never", 0, 0, "Succeeded" },
		{ "Never", 0, 1, "Failed" },	   { "Never", -1, 1, "Running" },
		{ "OnFailure", 0, 1, "Running" },  { "OnFailure", 0, 0, "Succeeded" },
		{ "OnFailure", -1, 0, "Running" }, { "Never", -2, -2, "Pending" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *pod = pod_with(cases[i].policy, "", "a,b"), *st;
		struct pods_view v = { 0 };
		int codes[2] = { cases[i].a, cases[i].b };
		const char *names[2] = { "a", "b" };

		for (int k = 0; k < 2; k++) {
			char id[16];

			snprintf(id, sizeof(id), "c%d", k);
			if (codes[k] == -1)
				add_ctr(&v, id, names[k], 0, PODS_CTR_RUNNING, 0);
			else if (codes[k] >= 0)
				add_ctr(&v, id, names[k], 0, PODS_CTR_EXITED, codes[k]);
		}
		st = compute(pod, &v, NULL, NULL);
		ASSERT_MSG(!strcmp(S(st, "phase"), cases[i].phase), "case %zu: %s, want %s", i,
			   S(st, "phase"), cases[i].phase);
		json_decref(st);
		json_decref(pod);
		pods_view_free(&v);
	}
}

TEST(kubelet_status_init_phases)
{
	json_t *pod = pod_with("Never", "i1,i2", "a"), *st;
	struct pods_view v = { 0 };

	add_ctr(&v, "c1", "i1", 0, PODS_CTR_EXITED, 0);
	add_ctr(&v, "c2", "i2", 0, PODS_CTR_RUNNING, 0);
	st = compute(pod, &v, NULL, NULL);
	ASSERT_STREQ(S(st, "phase"), "Pending");
	ASSERT(jsonx_path_bool(st, "initContainerStatuses[0].ready", false));
	ASSERT(!jsonx_path_bool(st, "initContainerStatuses[1].ready", true));
	ASSERT(jsonx_path_bool(st, "initContainerStatuses[1].started", false));
	ASSERT(!jsonx_path_bool(st, "initContainerStatuses[0].started", true));
	ASSERT_STREQ(jsonx_str(cond(st, "Initialized"), "message", ""),
		     "containers with incomplete status: [i2]");
	json_decref(st);
	pods_view_free(&v);

	add_ctr(&v, "c1", "i1", 0, PODS_CTR_EXITED, 0);
	add_ctr(&v, "c2", "i2", 0, PODS_CTR_EXITED, 1);
	st = compute(pod, &v, NULL, NULL);
	ASSERT_STREQ(S(st, "phase"), "Failed");
	json_decref(st);
	json_decref(pod);

	/* With Always a failed init container is being restarted: Pending. */
	pod = pod_with("Always", "i1,i2", "a");
	st = compute(pod, &v, NULL, NULL);
	ASSERT_STREQ(S(st, "phase"), "Pending");
	json_decref(st);
	json_decref(pod);
	pods_view_free(&v);
}

TEST(kubelet_status_terminal_phase_sticks_and_addresses_are_kept)
{
	json_t *pod = pod_with("Always", "", "a"), *st;
	struct pods_view v = { 0 };

	jsonx_set_path(pod, "status.phase", json_string("Failed"));
	jsonx_set_path(pod, "status.podIP", json_string("10.244.0.3"));
	jsonx_set_path(pod, "status.podIPs", json_pack("[{s:s}]", "ip", "10.244.0.3"));
	jsonx_set_path(pod, "status.startTime", json_string("2023-01-01T00:00:00Z"));
	jsonx_set_path(pod, "status.qosClass", json_string("Guaranteed"));
	add_ctr(&v, "c1", "a", 0, PODS_CTR_RUNNING, 0);
	st = compute(pod, &v, NULL, NULL);
	ASSERT_STREQ(S(st, "phase"), "Failed");
	ASSERT_STREQ(S(st, "podIP"), "10.244.0.3");
	ASSERT_STREQ(S(st, "podIPs[0].ip"), "10.244.0.3");
	ASSERT_STREQ(S(st, "startTime"), "2023-01-01T00:00:00Z");
	/* Immutable once set: the API server's value wins over the computed one. */
	ASSERT_STREQ(S(st, "qosClass"), "Guaranteed");
	json_decref(st);
	json_decref(pod);
	pods_view_free(&v);
}

TEST(kubelet_status_transition_time_changes_only_with_status)
{
	json_t *pod = pod_with("Always", "", "a"), *st, *conds;
	struct pods_view v = { 0 };
	struct podstatus_ctr ready[1] = { { .ready = true, .started = true } };

	conds = jsonx_get_path(pod, "status.conditions");
	json_array_append_new(conds, J("{\"type\":\"Ready\",\"status\":\"False\","
				       "\"lastTransitionTime\":\"2023-11-14T22:14:00Z\"}"));
	json_array_append_new(conds, J("{\"type\":\"Initialized\",\"status\":\"True\","
				       "\"lastTransitionTime\":\"2023-11-14T22:14:00Z\"}"));
	json_array_append_new(conds, J("{\"type\":\"DisruptionTarget\",\"status\":\"True\"}"));
	add_sb(&v, "sb1", 0, true);
	add_ctr(&v, "c1", "a", 0, PODS_CTR_RUNNING, 0);
	st = compute(pod, &v, NULL, ready);
	ASSERT_STREQ(jsonx_str(cond(st, "Initialized"), "lastTransitionTime", ""),
		     "2023-11-14T22:14:00Z");
	ASSERT_STREQ(jsonx_str(cond(st, "Ready"), "status", ""), "True");
	ASSERT_STREQ(jsonx_str(cond(st, "Ready"), "lastTransitionTime", ""),
		     "2023-11-14T22:15:00Z");
	ASSERT_NOT_NULL(cond(st, "DisruptionTarget"));
	ASSERT_EQ(json_array_size(jsonx_arr(st, "conditions")), 6);
	json_decref(st);
	json_decref(pod);
	pods_view_free(&v);
}

TEST(kubelet_status_readiness_gates)
{
	json_t *pod = pod_with("Always", "", "a"), *st;
	struct pods_view v = { 0 };
	struct podstatus_ctr ready[1] = { { .ready = true, .started = true } };

	jsonx_set_path(pod, "spec.readinessGates", J("[{\"conditionType\":\"example.com/lb\"}]"));
	add_sb(&v, "sb1", 0, true);
	add_ctr(&v, "c1", "a", 0, PODS_CTR_RUNNING, 0);
	st = compute(pod, &v, NULL, ready);
	ASSERT_STREQ(jsonx_str(cond(st, "ContainersReady"), "status", ""), "True");
	ASSERT_STREQ(jsonx_str(cond(st, "Ready"), "status", ""), "False");
	ASSERT_STREQ(jsonx_str(cond(st, "Ready"), "reason", ""), "ReadinessGatesNotReady");
	ASSERT_STREQ(jsonx_str(cond(st, "Ready"), "message", ""),
		     "corresponding condition of pod readiness gate \"example.com/lb\" does not "
		     "exist.");
	json_decref(st);
	json_array_append_new(jsonx_get_path(pod, "status.conditions"),
			      J("{\"type\":\"example.com/lb\",\"status\":\"True\"}"));
	st = compute(pod, &v, NULL, ready);
	ASSERT_STREQ(jsonx_str(cond(st, "Ready"), "status", ""), "True");
	json_decref(st);
	json_decref(pod);
	pods_view_free(&v);
}

TEST(kubelet_status_forgotten_container_keeps_count_and_last_state)
{
	json_t *pod = pod_with("Always", "", "a"), *st;
	struct pods_view v = { 0 };

	jsonx_set_path(pod, "status.containerStatuses",
		       J("[{\"name\":\"a\",\"restartCount\":4,\"lastState\":{\"terminated\":"
			 "{\"exitCode\":9}}}]"));
	st = compute(pod, &v, NULL, NULL);
	ASSERT_EQ(jsonx_path_int(st, "containerStatuses[0].restartCount", -1), 4);
	ASSERT_EQ(jsonx_path_int(st, "containerStatuses[0].lastState.terminated.exitCode", -1), 9);
	json_decref(st);
	json_decref(pod);
}

TEST(kubelet_status_should_restart)
{
	json_t *always = pod_with("Always", "", "a"), *never = pod_with("Never", "", "a");
	json_t *onf = pod_with("OnFailure", "", "a");
	struct pods_ctr c = { .state = PODS_CTR_EXITED, .exit_code = 0 };

	ASSERT(podstatus_should_restart(never, NULL, false));
	ASSERT(podstatus_should_restart(always, &c, false));
	ASSERT(!podstatus_should_restart(always, &c, true)); /* a finished init container */
	ASSERT(!podstatus_should_restart(never, &c, false));
	ASSERT(!podstatus_should_restart(onf, &c, false));
	c.exit_code = 1;
	ASSERT(podstatus_should_restart(onf, &c, false));
	ASSERT(podstatus_should_restart(onf, &c, true));
	c.state = PODS_CTR_RUNNING;
	ASSERT(!podstatus_should_restart(always, &c, false));
	c.state = PODS_CTR_CREATED;
	ASSERT(podstatus_should_restart(never, &c, false));
	c.state = PODS_CTR_EXITED;
	jsonx_set_path(always, "metadata.deletionTimestamp", json_string("2023-01-01T00:00:00Z"));
	ASSERT(!podstatus_should_restart(always, &c, false));
	json_decref(always);
	json_decref(never);
	json_decref(onf);
}

TEST(kubelet_status_owned_keys)
{
	json_t *st = J("{\"phase\":\"Running\",\"nominatedNodeName\":\"x\",\"podIP\":\"1.2.3.4\","
		       "\"reason\":\"r\"}"),
	       *o = podstatus_owned(st);

	ASSERT_EQ(json_object_size(o), 2);
	ASSERT_STREQ(jsonx_str(o, "phase", ""), "Running");
	ASSERT_NULL(json_object_get(o, "nominatedNodeName"));
	json_decref(o);
	o = podstatus_owned(NULL);
	ASSERT_EQ(json_object_size(o), 0);
	json_decref(o);
	json_decref(st);
}
