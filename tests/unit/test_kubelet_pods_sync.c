/*
 * Unit tests for the pod worker (agent/kubelet/pods_sync.c) against the
 * in-memory runtime and API server of test_kubelet_pods_fake.c: start,
 * restarts with back-off, restart policies, init containers, images,
 * configuration errors, probes, deletion, adoption after a restart.
 */
#include "test.h"
#include "test_kubelet_pods_fake.h"

#include <stdlib.h>
#include <string.h>

#include "agent/kubelet/pods.h"
#include "jsonx.h"
#include "util.h"

#define SEC 1000000000LL

static const char *const web_pod =
	"{\"metadata\":{\"name\":\"web\"},\"spec\":{\"containers\":[{\"name\":\"app\","
	"\"image\":\"busybox:1\",\"command\":[\"sh\",\"-c\",\"sleep 1000\"]}]}}";

static struct pod_worker *worker(struct kfake *f, const char *text)
{
	json_t *pod = kfake_pod(text);
	struct pod_worker *w = pods_worker_new(&f->env, pod);

	ASSERT_NOT_NULL(w);
	json_decref(pod);
	return w;
}

/* The status the worker last sent, at path. */
static const char *st(struct kfake *f, const char *path)
{
	return jsonx_path_str(f->status, path, "(none)");
}

static bool contains(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

#define ASSERT_HAS(hay, needle) \
	ASSERT_MSG(contains((hay), (needle)), "\"%s\" not in:\n%s", (needle), (hay))
#define ASSERT_HASNT(hay, needle) \
	ASSERT_MSG(!contains((hay), (needle)), "\"%s\" unexpected in:\n%s", (needle), (hay))

TEST(kubelet_pods_start_runs_sandbox_and_container)
{
	struct kfake f;
	struct pod_worker *w;
	struct kfake_container *c;

	kfake_init(&f);
	w = worker(&f, web_pod);
	pods_worker_sync(w);
	ASSERT_STREQ(kfake_log(&f), "RunPodSandbox web 0\n"
				    "ImageStatus busybox:1\n"
				    "CreateContainer app 0\n"
				    "StartContainer app 0\n"
				    "PATCH status\n");
	ASSERT_EQ(kfake_sandboxes(&f, true), 1);
	ASSERT_STREQ(f.sb[0].cgroup_parent, "/kubepods/besteffort/poduid-web");
	ASSERT_STREQ(f.sb[0].hostname, "web");
	c = kfake_ctr(&f, "app");
	ASSERT_STREQ(c->image, "sha256:busybox1");
	ASSERT_STREQ(c->cfg->log_path, "app/0.log");
	ASSERT_HAS(kfake_events(&f),
		   "Normal Pulled: Container image \"busybox:1\" already present");
	ASSERT_HAS(kfake_events(&f), "Normal Created: Created container app");
	ASSERT_HAS(kfake_events(&f), "Normal Started: Started container app");
	ASSERT_HAS(f.event_paths.data, "Started spec.containers{app}\n");
	ASSERT_STREQ(st(&f, "phase"), "Running");
	ASSERT_STREQ(st(&f, "podIP"), f.sb[0].ip);
	ASSERT_STREQ(st(&f, "hostIP"), "192.168.56.10");
	ASSERT_STREQ(st(&f, "qosClass"), "BestEffort");
	ASSERT(jsonx_path_bool(f.status, "containerStatuses[0].ready", false));
	ASSERT_STREQ(st(&f, "containerStatuses[0].containerID"), "containerd://c2");
	ASSERT(jsonx_get_path(f.status, "containerStatuses[0].state.running.startedAt"));
	ASSERT_STREQ(st(&f, "conditions[2].type"), "Ready");
	ASSERT_STREQ(st(&f, "conditions[2].status"), "True");
	ASSERT(pods_worker_running(w));

	/* Nothing changed: the next sync only looks. */
	kfake_reset(&f);
	f.now += 5 * SEC;
	pods_worker_sync(w);
	ASSERT_STREQ(kfake_log(&f), "");
	pods_worker_free(w);
	kfake_free(&f);
}

TEST(kubelet_pods_crash_backoff_and_previous_instance)
{
	struct kfake f;
	struct pod_worker *w;
	char path[512];
	int64_t next;

	kfake_init(&f);
	w = worker(&f, web_pod);
	pods_worker_sync(w);

	/* First crash: restarted at once, as attempt 1. */
	f.now += 30 * SEC;
	kfake_exit(&f, "app", 1);
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_HAS(kfake_log(&f), "CreateContainer app 1\nStartContainer app 1\n");
	ASSERT_EQ(jsonx_path_int(f.status, "containerStatuses[0].restartCount", -1), 1);
	ASSERT_EQ(
		jsonx_path_int(f.status, "containerStatuses[0].lastState.terminated.exitCode", -1),
		1);
	ASSERT_STREQ(st(&f, "containerStatuses[0].lastState.terminated.reason"), "Error");
	ASSERT_OK(pods_worker_log_path(w, "app", false, path, sizeof(path)));
	ASSERT_HAS(path, "/app/1.log");
	ASSERT_OK(pods_worker_log_path(w, "app", true, path, sizeof(path)));
	ASSERT_HAS(path, "/app/0.log");
	ASSERT_EQ(pods_worker_log_path(w, "nope", false, path, sizeof(path)), -ENOENT);

	/* Second crash: 10 s back-off. */
	f.now += 1 * SEC;
	kfake_exit(&f, "app", 2);
	kfake_reset(&f);
	next = pods_worker_sync(w);
	ASSERT_HASNT(kfake_log(&f), "CreateContainer");
	ASSERT(next <= f.now + 10 * SEC);
	ASSERT_STREQ(st(&f, "containerStatuses[0].state.waiting.reason"), "CrashLoopBackOff");
	ASSERT_STREQ(st(&f, "containerStatuses[0].state.waiting.message"),
		     "back-off 10s restarting failed container=app pod=web_default(uid-web)");
	ASSERT_EQ(
		jsonx_path_int(f.status, "containerStatuses[0].lastState.terminated.exitCode", -1),
		2);
	ASSERT_STREQ(st(&f, "phase"), "Running");
	ASSERT_HAS(kfake_events(&f), "Warning BackOff: Back-off restarting failed container app in "
				     "pod web_default(uid-web)");
	/* While it waits, "current" and "previous" both show the crashed instance. */
	ASSERT_OK(pods_worker_log_path(w, "app", true, path, sizeof(path)));
	ASSERT_HAS(path, "/app/1.log");

	/* Still waiting a moment before the 10 s are over; BackOff is not repeated every pass. */
	f.now += 2 * SEC;
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_HASNT(kfake_events(&f), "BackOff");
	f.now += 7 * SEC;
	pods_worker_sync(w);
	ASSERT_HASNT(kfake_log(&f), "CreateContainer");

	/* Back-off over: attempt 2 starts; attempt 0 goes, attempt 1 stays as previous. */
	f.now += 1 * SEC;
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_HAS(kfake_log(&f), "StartContainer app 2\nRemoveContainer app 0\n");
	ASSERT_EQ(kfake_count(&f, "app"), 2);
	ASSERT_NOT_NULL(jsonx_get_path(f.status, "containerStatuses[0].state.running.startedAt"));
	ASSERT_EQ(jsonx_path_int(f.status, "containerStatuses[0].restartCount", -1), 2);

	/* Third crash right away: 20 s. */
	f.now += 1 * SEC;
	kfake_exit(&f, "app", 1);
	pods_worker_sync(w);
	ASSERT_HAS(st(&f, "containerStatuses[0].state.waiting.message"), "back-off 20s");
	pods_worker_free(w);
	kfake_free(&f);
}

TEST(kubelet_pods_backoff_resets_after_ten_minutes_of_running)
{
	struct kfake f;
	struct pod_worker *w;

	kfake_init(&f);
	w = worker(&f, web_pod);
	pods_worker_sync(w);
	f.now += SEC;
	kfake_exit(&f, "app", 1);
	pods_worker_sync(w); /* attempt 1 at once */
	f.now += SEC;
	kfake_exit(&f, "app", 1);
	pods_worker_sync(w); /* waits 10 s */
	f.now += 10 * SEC;
	pods_worker_sync(w); /* attempt 2 */
	ASSERT_EQ(kfake_ctr(&f, "app")->attempt, 2);
	/* Runs 11 minutes, then fails: restarted at once again. */
	f.now += 660 * SEC;
	kfake_exit(&f, "app", 1);
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_HAS(kfake_log(&f), "StartContainer app 3");
	pods_worker_free(w);
	kfake_free(&f);
}

TEST(kubelet_pods_restart_policy_never_succeeds_and_stops_sandbox)
{
	struct kfake f;
	struct pod_worker *w;

	kfake_init(&f);
	w = worker(&f, "{\"metadata\":{\"name\":\"job\"},\"spec\":{\"restartPolicy\":\"Never\","
		       "\"containers\":[{\"name\":\"a\",\"image\":\"busybox:1\"},"
		       "{\"name\":\"b\",\"image\":\"busybox:1\"}]}}");
	pods_worker_sync(w);
	f.now += SEC;
	kfake_exit(&f, "a", 0);
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_HASNT(kfake_log(&f), "CreateContainer");
	ASSERT_STREQ(st(&f, "phase"), "Running");
	ASSERT_STREQ(st(&f, "containerStatuses[0].state.terminated.reason"), "Completed");
	kfake_exit(&f, "b", 0);
	kfake_reset(&f);
	pods_worker_sync(w);
	pods_worker_sync(w);
	ASSERT_STREQ(st(&f, "phase"), "Succeeded");
	ASSERT_HAS(kfake_log(&f), "StopPodSandbox job 0");
	ASSERT_HASNT(kfake_log(&f), "RemoveContainer");
	ASSERT_EQ(kfake_count(&f, "a") + kfake_count(&f, "b"), 2);
	ASSERT_STREQ(st(&f, "conditions[2].reason"), "PodCompleted");
	ASSERT(!pods_worker_running(w));
	/* Terminal stays terminal: no new sandbox. */
	kfake_reset(&f);
	f.now += 60 * SEC;
	pods_worker_sync(w);
	ASSERT_HASNT(kfake_log(&f), "RunPodSandbox");
	pods_worker_free(w);
	kfake_free(&f);
}

TEST(kubelet_pods_restart_policy_never_fails_and_onfailure_retries)
{
	struct kfake f;
	struct pod_worker *w;

	kfake_init(&f);
	w = worker(&f, "{\"metadata\":{\"name\":\"n\"},\"spec\":{\"restartPolicy\":\"Never\","
		       "\"containers\":[{\"name\":\"a\",\"image\":\"busybox:1\"}]}}");
	pods_worker_sync(w);
	kfake_exit(&f, "a", 3);
	pods_worker_sync(w);
	ASSERT_STREQ(st(&f, "phase"), "Failed");
	ASSERT_EQ(jsonx_path_int(f.status, "containerStatuses[0].state.terminated.exitCode", 0), 3);
	pods_worker_free(w);
	kfake_free(&f);

	kfake_init(&f);
	w = worker(&f, "{\"metadata\":{\"name\":\"o\"},\"spec\":{\"restartPolicy\":\"OnFailure\","
		       "\"containers\":[{\"name\":\"a\",\"image\":\"busybox:1\"}]}}");
	pods_worker_sync(w);
	kfake_exit(&f, "a", 3);
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_HAS(kfake_log(&f), "StartContainer a 1");
	ASSERT_STREQ(st(&f, "phase"), "Running");
	kfake_exit(&f, "a", 0);
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_HASNT(kfake_log(&f), "CreateContainer");
	ASSERT_STREQ(st(&f, "phase"), "Succeeded");
	pods_worker_free(w);
	kfake_free(&f);
}

static const char *const init_pod =
	"{\"metadata\":{\"name\":\"i\"},\"spec\":{\"restartPolicy\":\"%s\","
	"\"initContainers\":[{\"name\":\"i1\",\"image\":\"busybox:1\"},"
	"{\"name\":\"i2\",\"image\":\"busybox:1\"}],"
	"\"containers\":[{\"name\":\"app\",\"image\":\"busybox:1\"}]}}";

static struct pod_worker *init_worker(struct kfake *f, const char *policy)
{
	char text[1024];

	snprintf(text, sizeof(text), init_pod, policy);
	return worker(f, text);
}

TEST(kubelet_pods_init_containers_run_in_order)
{
	struct kfake f;
	struct pod_worker *w;

	kfake_init(&f);
	w = init_worker(&f, "Always");
	pods_worker_sync(w);
	ASSERT_HAS(kfake_log(&f), "StartContainer i1 0");
	ASSERT_HASNT(kfake_log(&f), "i2");
	ASSERT_HAS(f.event_paths.data, "Started spec.initContainers{i1}\n");
	ASSERT_STREQ(st(&f, "phase"), "Pending");
	ASSERT_STREQ(st(&f, "containerStatuses[0].state.waiting.reason"), "PodInitializing");
	ASSERT_STREQ(st(&f, "conditions[1].type"), "Initialized");
	ASSERT_STREQ(st(&f, "conditions[1].status"), "False");
	ASSERT_STREQ(st(&f, "conditions[1].message"), "containers with incomplete status: [i1 i2]");

	f.now += SEC;
	kfake_exit(&f, "i1", 0);
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_STREQ(kfake_log(&f), "ImageStatus busybox:1\nCreateContainer i2 0\n"
				    "StartContainer i2 0\nPATCH status\n");
	ASSERT(jsonx_path_bool(f.status, "initContainerStatuses[0].ready", false));

	/* i2 fails: restarted (Always), then back-off as CrashLoopBackOff. */
	kfake_exit(&f, "i2", 1);
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_HAS(kfake_log(&f), "StartContainer i2 1");
	kfake_exit(&f, "i2", 1);
	pods_worker_sync(w);
	ASSERT_STREQ(st(&f, "initContainerStatuses[1].state.waiting.reason"), "CrashLoopBackOff");
	ASSERT_STREQ(st(&f, "phase"), "Pending");
	f.now += 10 * SEC;
	pods_worker_sync(w);
	kfake_exit(&f, "i2", 0);
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_HAS(kfake_log(&f), "StartContainer app 0");
	ASSERT_STREQ(st(&f, "phase"), "Running");
	ASSERT_STREQ(st(&f, "conditions[1].status"), "True");
	pods_worker_free(w);
	kfake_free(&f);
}

TEST(kubelet_pods_init_failure_with_never_fails_the_pod)
{
	struct kfake f;
	struct pod_worker *w;

	kfake_init(&f);
	w = init_worker(&f, "Never");
	pods_worker_sync(w);
	kfake_exit(&f, "i1", 2);
	kfake_reset(&f);
	pods_worker_sync(w);
	pods_worker_sync(w);
	ASSERT_HASNT(kfake_log(&f), "CreateContainer");
	ASSERT_STREQ(st(&f, "phase"), "Failed");
	ASSERT_STREQ(st(&f, "initContainerStatuses[0].state.terminated.reason"), "Error");
	ASSERT_HAS(kfake_log(&f), "StopPodSandbox");
	pods_worker_free(w);
	kfake_free(&f);
}

TEST(kubelet_pods_image_pull_policies)
{
	struct kfake f;
	struct pod_worker *w;
	int64_t next;

	/* Never, and absent. */
	kfake_init(&f);
	w = worker(&f, "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"a\","
		       "\"image\":\"other:2\",\"imagePullPolicy\":\"Never\"}]}}");
	pods_worker_sync(w);
	ASSERT_HASNT(kfake_log(&f), "PullImage");
	ASSERT_STREQ(st(&f, "containerStatuses[0].state.waiting.reason"), "ErrImageNeverPull");
	ASSERT_STREQ(st(&f, "containerStatuses[0].state.waiting.message"),
		     "Container image \"other:2\" is not present with pull policy of Never");
	ASSERT_STREQ(st(&f, "phase"), "Pending");
	pods_worker_free(w);
	kfake_free(&f);

	/* Always pulls even when present. */
	kfake_init(&f);
	w = worker(&f, "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"a\","
		       "\"image\":\"busybox:1\",\"imagePullPolicy\":\"Always\"}]}}");
	pods_worker_sync(w);
	ASSERT_HAS(kfake_log(&f), "PullImage busybox:1\n");
	ASSERT_HAS(kfake_events(&f), "Normal Pulling: Pulling image \"busybox:1\"");
	ASSERT_HAS(kfake_events(&f), "Normal Pulled: Successfully pulled image \"busybox:1\" in ");
	pods_worker_free(w);
	kfake_free(&f);

	/* IfNotPresent and absent: pull; failures back off. */
	kfake_init(&f);
	snprintf(f.pull_error, sizeof(f.pull_error), "failed to resolve reference");
	w = worker(&f, "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"a\","
		       "\"image\":\"other:2\"}]}}");
	next = pods_worker_sync(w);
	ASSERT_HAS(kfake_log(&f), "PullImage other:2");
	ASSERT_STREQ(st(&f, "containerStatuses[0].state.waiting.reason"), "ErrImagePull");
	ASSERT_STREQ(st(&f, "containerStatuses[0].state.waiting.message"),
		     "failed to resolve reference");
	ASSERT_HAS(kfake_events(&f), "Warning Failed: Failed to pull image \"other:2\": failed to "
				     "resolve reference");
	ASSERT(next <= f.now + 10 * SEC);
	kfake_reset(&f);
	f.now += 2 * SEC;
	pods_worker_sync(w);
	ASSERT_HASNT(kfake_log(&f), "PullImage");
	ASSERT_STREQ(st(&f, "containerStatuses[0].state.waiting.reason"), "ImagePullBackOff");
	ASSERT_HAS(kfake_events(&f), "Normal BackOff: Back-off pulling image \"other:2\"");
	f.pull_error[0] = '\0';
	f.now += 8 * SEC;
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_HAS(kfake_log(&f), "PullImage other:2\nImageStatus other:2\nCreateContainer a 0\n");
	ASSERT_STREQ(kfake_ctr(&f, "a")->image, "sha256:other:2");
	ASSERT_STREQ(st(&f, "phase"), "Running");
	pods_worker_free(w);
	kfake_free(&f);
}

TEST(kubelet_pods_missing_configmap_is_a_config_error_until_created)
{
	struct kfake f;
	struct pod_worker *w;
	Runtime__V1__ContainerConfig *cfg;

	kfake_init(&f);
	w = worker(&f, "{\"metadata\":{\"name\":\"e\"},\"spec\":{\"containers\":[{\"name\":\"a\","
		       "\"image\":\"busybox:1\",\"env\":[{\"name\":\"K\",\"valueFrom\":"
		       "{\"configMapKeyRef\":{\"name\":\"cm\",\"key\":\"k\"}}}]}]}}");
	pods_worker_sync(w);
	ASSERT_HASNT(kfake_log(&f), "CreateContainer");
	ASSERT_STREQ(st(&f, "containerStatuses[0].state.waiting.reason"),
		     "CreateContainerConfigError");
	ASSERT_STREQ(st(&f, "containerStatuses[0].state.waiting.message"),
		     "configmap \"cm\" not found");
	ASSERT_HAS(kfake_events(&f), "Warning Failed: Error: configmap \"cm\" not found");

	json_object_set_new(f.objects, "/api/v1/namespaces/default/configmaps/cm",
			    json_pack("{s:{s:s}}", "data", "k", "v1"));
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_HAS(kfake_log(&f), "StartContainer a 0");
	cfg = kfake_ctr(&f, "a")->cfg;
	ASSERT_EQ(cfg->n_envs, 1);
	ASSERT_STREQ(cfg->envs[0]->key, "K");
	ASSERT_STREQ(cfg->envs[0]->value, "v1");
	ASSERT_STREQ(st(&f, "phase"), "Running");
	pods_worker_free(w);
	kfake_free(&f);
}

TEST(kubelet_pods_liveness_failure_restarts_container)
{
	struct kfake f;
	struct pod_worker *w;

	kfake_init(&f);
	w = worker(&f,
		   "{\"metadata\":{\"name\":\"l\"},\"spec\":{"
		   "\"terminationGracePeriodSeconds\":5,\"containers\":[{\"name\":\"a\","
		   "\"image\":\"busybox:1\",\"livenessProbe\":{\"exec\":{\"command\":[\"true\"]},"
		   "\"initialDelaySeconds\":5,\"periodSeconds\":2,\"failureThreshold\":2}}]}}");
	pods_worker_sync(w);
	ASSERT_HASNT(kfake_log(&f), "ExecSync"); /* initial delay */
	f.now += 5 * SEC;
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_HAS(kfake_log(&f), "ExecSync a 0");
	f.exec_exit = 1;
	snprintf(f.exec_out, sizeof(f.exec_out), "not healthy");
	f.now += 2 * SEC;
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_HAS(kfake_events(&f), "Warning Unhealthy: Liveness probe failed: not healthy");
	ASSERT_HASNT(kfake_log(&f), "StopContainer");
	f.now += 2 * SEC;
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_HAS(kfake_log(&f), "StopContainer a 0 t=5\n");
	ASSERT_HAS(kfake_events(&f),
		   "Normal Killing: Container a failed liveness probe, will be restarted");
	ASSERT_HAS(kfake_log(&f), "StartContainer a 1");
	ASSERT_EQ(jsonx_path_int(f.status, "containerStatuses[0].restartCount", -1), 1);
	pods_worker_free(w);
	kfake_free(&f);
}

TEST(kubelet_pods_readiness_flips_ready_condition)
{
	struct kfake f;
	struct pod_worker *w;

	kfake_init(&f);
	w = worker(&f, "{\"metadata\":{\"name\":\"r\"},\"spec\":{\"containers\":[{\"name\":\"a\","
		       "\"image\":\"busybox:1\",\"readinessProbe\":{\"exec\":{\"command\":[\"x\"]},"
		       "\"periodSeconds\":1,\"failureThreshold\":1}}]}}");
	f.exec_exit = 1;
	pods_worker_sync(w);
	ASSERT(!jsonx_path_bool(f.status, "containerStatuses[0].ready", true));
	ASSERT_STREQ(st(&f, "conditions[2].status"), "False");
	ASSERT_STREQ(st(&f, "conditions[2].message"), "containers with unready status: [a]");
	f.exec_exit = 0;
	f.now += SEC;
	pods_worker_sync(w);
	ASSERT(jsonx_path_bool(f.status, "containerStatuses[0].ready", false));
	ASSERT_STREQ(st(&f, "conditions[2].status"), "True");
	ASSERT_STREQ(st(&f, "conditions[3].status"), "True");
	f.exec_exit = 1;
	f.now += SEC;
	pods_worker_sync(w);
	ASSERT_STREQ(st(&f, "conditions[2].status"), "False");
	ASSERT_STREQ(st(&f, "phase"), "Running");
	pods_worker_free(w);
	kfake_free(&f);
}

TEST(kubelet_pods_deletion_stops_removes_and_deletes)
{
	struct kfake f;
	struct pod_worker *w;
	json_t *pod;

	kfake_init(&f);
	w = worker(&f, web_pod);
	pods_worker_sync(w);
	pod = kfake_pod(web_pod);
	jsonx_set_path(pod, "metadata.deletionTimestamp", json_string("2001-09-09T01:47:00Z"));
	jsonx_set_path(pod, "metadata.deletionGracePeriodSeconds", json_integer(7));
	pods_worker_set_pod(w, pod);
	json_decref(pod);
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_STREQ(kfake_log(&f), "StopContainer app 0 t=7\n"
				    "StopPodSandbox web 0\n"
				    "RemoveContainer app 0\n"
				    "RemovePodSandbox web 0\n"
				    "DELETE pods/web\n");
	ASSERT_HAS(kfake_events(&f), "Normal Killing: Stopping container app");
	ASSERT_EQ(jsonx_path_int(f.deleted, "gracePeriodSeconds", -1), 0);
	ASSERT_STREQ(jsonx_path_str(f.deleted, "preconditions.uid", ""), "uid-web");
	ASSERT(!pods_worker_done(w));
	/* The watch reports the deletion: the worker is finished. */
	pods_worker_set_pod(w, NULL);
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_STREQ(kfake_log(&f), "");
	ASSERT(pods_worker_done(w));
	pods_worker_free(w);
	kfake_free(&f);
}

TEST(kubelet_pods_gone_from_watch_cleans_up_without_delete)
{
	struct kfake f;
	struct pod_worker *w;

	kfake_init(&f);
	w = worker(&f, web_pod);
	pods_worker_sync(w);
	pods_worker_set_pod(w, NULL);
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_HAS(kfake_log(&f), "StopContainer app 0 t=30\n");
	ASSERT_HAS(kfake_log(&f), "RemovePodSandbox web 0\n");
	ASSERT_HASNT(kfake_log(&f), "DELETE");
	ASSERT(pods_worker_done(w));
	ASSERT_EQ(kfake_sandboxes(&f, false), 0);
	pods_worker_free(w);
	kfake_free(&f);
}

TEST(kubelet_pods_restarted_kubelet_adopts_running_pod)
{
	struct kfake f;
	struct pod_worker *w;
	json_t *pod;

	kfake_init(&f);
	w = worker(&f, web_pod);
	pods_worker_sync(w);
	/* The API now holds what the first kubelet sent. */
	pod = kfake_pod(web_pod);
	json_object_set(pod, "status", f.status);
	pods_worker_free(w);

	f.now += 100 * SEC;
	kfake_reset(&f);
	w = pods_worker_new(&f.env, pod);
	pods_worker_sync(w);
	ASSERT_STREQ(kfake_log(&f), ""); /* no new sandbox, no restart, same status */
	ASSERT(pods_worker_running(w));
	json_decref(pod);
	pods_worker_free(w);
	kfake_free(&f);
}

TEST(kubelet_pods_dead_sandbox_is_recreated_with_next_attempt)
{
	struct kfake f;
	struct pod_worker *w;

	kfake_init(&f);
	w = worker(&f, web_pod);
	pods_worker_sync(w);
	/* The sandbox dies under the pod (e.g. its pause process was killed). */
	f.sb[0].ready = false;
	kfake_exit(&f, "app", 137);
	kfake_reset(&f);
	pods_worker_sync(w);
	/* The dead sandbox is stopped (CNI DEL) before the new one runs. */
	ASSERT_HAS(kfake_log(&f), "StopPodSandbox web 0\nRunPodSandbox web 1\n");
	ASSERT_HAS(kfake_log(&f), "StartContainer app 1\n");
	ASSERT_HAS(kfake_events(&f), "SandboxChanged");
	ASSERT_EQ(jsonx_path_int(f.status, "containerStatuses[0].restartCount", -1), 1);
	ASSERT_EQ(
		jsonx_path_int(f.status, "containerStatuses[0].lastState.terminated.exitCode", -1),
		137);
	/* The old sandbox stays while it holds the previous instance... */
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_HASNT(kfake_log(&f), "RemovePodSandbox");
	/* ...and goes once a newer restart supersedes it. */
	f.now += SEC;
	kfake_exit(&f, "app", 1);
	pods_worker_sync(w); /* back-off: the sandbox change counted as the first restart */
	f.now += 10 * SEC;
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_HAS(kfake_log(&f), "StartContainer app 2\nRemoveContainer app 0\n");
	ASSERT_HAS(kfake_log(&f), "RemovePodSandbox web 0\n");
	ASSERT_EQ(kfake_sandboxes(&f, false), 1);
	pods_worker_free(w);
	kfake_free(&f);
}

TEST(kubelet_pods_waits_for_network_unless_host_network)
{
	struct kfake f;
	struct pod_worker *w;

	kfake_init(&f);
	f.network_ready = false;
	w = worker(&f, web_pod);
	pods_worker_sync(w);
	ASSERT_HASNT(kfake_log(&f), "RunPodSandbox");
	ASSERT_STREQ(st(&f, "containerStatuses[0].state.waiting.reason"), "ContainerCreating");
	pods_worker_free(w);

	kfake_reset(&f);
	w = worker(&f, "{\"metadata\":{\"name\":\"h\"},\"spec\":{\"hostNetwork\":true,"
		       "\"containers\":[{\"name\":\"a\",\"image\":\"busybox:1\"}]}}");
	pods_worker_sync(w);
	ASSERT_HAS(kfake_log(&f), "RunPodSandbox h 0");
	ASSERT_EQ(f.sb[0].net_mode, RUNTIME__V1__NAMESPACE_MODE__NODE);
	ASSERT_STREQ(st(&f, "podIP"), "192.168.56.10");
	pods_worker_free(w);
	kfake_free(&f);
}

TEST(kubelet_pods_changed_image_restarts_container)
{
	struct kfake f;
	struct pod_worker *w;
	json_t *pod;

	kfake_init(&f);
	w = worker(&f, web_pod);
	pods_worker_sync(w);
	json_object_set_new(f.images, "busybox:2", json_string("sha256:busybox2"));
	pod = kfake_pod(web_pod);
	jsonx_set_path(pod, "spec.containers[0].image", json_string("busybox:2"));
	pods_worker_set_pod(w, pod);
	json_decref(pod);
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_HAS(kfake_events(&f), "Container app definition changed, will be restarted");
	ASSERT_HAS(kfake_log(&f), "StartContainer app 1");
	ASSERT_STREQ(kfake_ctr(&f, "app")->image, "sha256:busybox2");
	pods_worker_free(w);
	kfake_free(&f);
}

TEST(kubelet_pods_status_patch_failure_is_retried)
{
	struct kfake f;
	struct pod_worker *w;

	kfake_init(&f);
	f.patch_status = 500;
	w = worker(&f, web_pod);
	pods_worker_sync(w);
	f.patch_status = 200;
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_STREQ(kfake_log(&f), "PATCH status\n");
	kfake_reset(&f);
	pods_worker_sync(w);
	ASSERT_STREQ(kfake_log(&f), "");
	pods_worker_free(w);
	kfake_free(&f);
}

TEST(kubelet_pods_worker_rejects_pod_without_identity)
{
	struct kfake f;
	json_t *pod = json_pack("{s:{s:s}}", "metadata", "name", "x");

	kfake_init(&f);
	ASSERT_NULL(pods_worker_new(&f.env, pod));
	json_decref(pod);
	kfake_free(&f);
}

TEST(kubelet_pods_start_failure_is_run_container_error_then_backoff)
{
	struct kfake f;
	struct pod_worker *w;

	kfake_init(&f);
	w = worker(&f, "{\"metadata\":{\"name\":\"s\"},\"spec\":{\"containers\":[{\"name\":\"a\","
		       "\"image\":\"busybox:1\",\"command\":[\"fail-start\"]}]}}");
	pods_worker_sync(w);
	ASSERT_HAS(kfake_events(&f), "Warning Failed: Error: failed to start");
	/* Attempt 0 failed to start (exit 128, StartError) and was retried at once as 1. */
	ASSERT_HAS(kfake_log(&f), "StartContainer a 0\n");
	ASSERT_HAS(kfake_log(&f), "StartContainer a 1\n");
	ASSERT_STREQ(st(&f, "containerStatuses[0].state.waiting.reason"), "CrashLoopBackOff");
	ASSERT_STREQ(st(&f, "containerStatuses[0].lastState.terminated.reason"), "StartError");
	ASSERT_EQ(
		jsonx_path_int(f.status, "containerStatuses[0].lastState.terminated.exitCode", -1),
		128);
	ASSERT_STREQ(st(&f, "phase"), "Running");
	ASSERT(pods_worker_is(w, "default", "s"));
	ASSERT(!pods_worker_is(w, "default", "t"));
	ASSERT_STREQ(pods_worker_uid(w), "uid-s");
	pods_worker_free(w);
	kfake_free(&f);
}

TEST(kubelet_pods_startup_probe_gates_readiness)
{
	struct kfake f;
	struct pod_worker *w;

	kfake_init(&f);
	w = worker(&f, "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"a\","
		       "\"image\":\"busybox:1\",\"startupProbe\":{\"exec\":{\"command\":[\"x\"]},"
		       "\"periodSeconds\":1,\"failureThreshold\":3}}]}}");
	f.exec_exit = 1;
	pods_worker_sync(w);
	ASSERT(!jsonx_path_bool(f.status, "containerStatuses[0].started", true));
	ASSERT(!jsonx_path_bool(f.status, "containerStatuses[0].ready", true));
	ASSERT_HAS(kfake_events(&f), "Warning Unhealthy: Startup probe failed");
	f.exec_exit = 0;
	f.now += SEC;
	pods_worker_sync(w);
	ASSERT(jsonx_path_bool(f.status, "containerStatuses[0].started", false));
	ASSERT(jsonx_path_bool(f.status, "containerStatuses[0].ready", false));
	/* Done for this instance: no more startup probes. */
	kfake_reset(&f);
	f.now += 5 * SEC;
	pods_worker_sync(w);
	ASSERT_HASNT(kfake_log(&f), "ExecSync");
	pods_worker_free(w);
	kfake_free(&f);
}

TEST(kubelet_pods_tolerates_malformed_spec)
{
	static const char *const pods[] = {
		"{\"metadata\":{\"name\":\"m1\"},\"spec\":{\"containers\":{}}}",
		"{\"metadata\":{\"name\":\"m2\"},\"spec\":{\"containers\":[7,{\"name\":3},"
		"{\"name\":\"a\",\"image\":5,\"env\":{\"x\":1},\"command\":\"sh\","
		"\"resources\":{\"limits\":{\"cpu\":\"lots\",\"memory\":[]}},"
		"\"livenessProbe\":{\"periodSeconds\":\"x\"},"
		"\"ports\":[{\"hostPort\":\"80\"}]}]}}",
		"{\"metadata\":{\"name\":\"m3\"},\"spec\":{\"initContainers\":[{}],"
		"\"containers\":[{\"name\":\"a\",\"image\":\"busybox:1\",\"envFrom\":[{}],"
		"\"env\":[{\"name\":\"X\",\"valueFrom\":{}},{\"value\":\"no name\"}],"
		"\"volumeMounts\":[{}]}],\"volumes\":7,\"restartPolicy\":9}}",
	};

	for (size_t i = 0; i < ARRAY_SIZE(pods); i++) {
		struct kfake f;
		struct pod_worker *w;

		kfake_init(&f);
		w = worker(&f, pods[i]);
		for (int k = 0; k < 3; k++) {
			pods_worker_sync(w);
			f.now += 11 * SEC;
		}
		ASSERT_NOT_NULL(f.status);
		ASSERT_NOT_NULL(jsonx_get_path(f.status, "phase"));
		pods_worker_set_pod(w, NULL);
		pods_worker_sync(w);
		ASSERT(pods_worker_done(w));
		pods_worker_free(w);
		kfake_free(&f);
	}
}
