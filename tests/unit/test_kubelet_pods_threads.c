/*
 * Unit tests for agent/kubelet/pods.c: the pod informer (against a small
 * API server on 127.0.0.1), one worker thread per pod, the orphan sweep
 * after the first list, the running count and log paths, and a stop that
 * leaves containers running. The runtime is the fake of
 * test_kubelet_pods_fake.c.
 */
#include "test.h"
#include "test_kubelet_pods_fake.h"
#include "testsrv.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/kubelet/kubelet.h"
#include "agent/kubelet/pods.h"
#include "jsonx.h"

struct api {
	pthread_mutex_t mu;
	json_t *pods; /* the PodList items */
	char *event;  /* a watch event line to send once, or NULL */
	char selector[128];
	int lists;
};

static enum MHD_Result serve(void *ctx, const struct testsrv_request *req)
{
	struct api *a = ctx;
	const char *watch = testsrv_query(req, "watch"), *sel = testsrv_query(req, "fieldSelector");
	enum MHD_Result r;
	json_t *list;
	char *body;

	if (strcmp(req->url, "/api/v1/pods") != 0)
		return testsrv_reply(req->conn, 404, "application/json", "{}");
	pthread_mutex_lock(&a->mu);
	snprintf(a->selector, sizeof(a->selector), "%s", sel ? sel : "");
	pthread_mutex_unlock(&a->mu);
	if (watch && (!strcmp(watch, "1") || !strcmp(watch, "true"))) {
		/* A short watch: one pending event (if any), then a clean end. */
		usleep(100 * 1000);
		pthread_mutex_lock(&a->mu);
		body = a->event;
		a->event = NULL;
		pthread_mutex_unlock(&a->mu);
		r = testsrv_reply(req->conn, 200, "application/json", body ? body : "");
		free(body);
		return r;
	}
	pthread_mutex_lock(&a->mu);
	a->lists++;
	list = json_pack("{s:s,s:s,s:{s:s},s:O}", "kind", "PodList", "apiVersion", "v1", "metadata",
			 "resourceVersion", "10", "items", a->pods);
	body = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	pthread_mutex_unlock(&a->mu);
	r = testsrv_reply(req->conn, 200, "application/json", body);
	free(body);
	return r;
}

/* Poll cond (a check of the fake under its lock) for up to 10 s. */
#define WAIT_FOR(f, cond)                                                                   \
	do {                                                                                \
		bool ok_ = false;                                                           \
		for (int i_ = 0; i_ < 1000 && !ok_; i_++) {                                 \
			pthread_mutex_lock(&(f)->mu);                                       \
			ok_ = (cond);                                                       \
			pthread_mutex_unlock(&(f)->mu);                                     \
			if (!ok_)                                                           \
				usleep(10 * 1000);                                          \
		}                                                                           \
		ASSERT_MSG(ok_, "timed out waiting for %s; log:\n%s", #cond, kfake_log(f)); \
	} while (0)

static bool logged(struct kfake *f, const char *s)
{
	return f->log.data && strstr(f->log.data, s);
}

TEST(kubelet_pods_threads_start_adopt_sweep_and_stop)
{
	struct api a = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct kubelet k;
	struct testsrv *srv;
	struct kfake f;
	json_t *pod, *orphan;
	struct pod_worker *w;
	char path[512], dir[600];
	struct stat st;

	kfake_init(&f);
	/* Left by a previous kubelet: a sandbox and container of a pod that no longer exists. */
	orphan = kfake_pod("{\"metadata\":{\"name\":\"old\"},\"spec\":{\"containers\":"
			   "[{\"name\":\"gone\",\"image\":\"busybox:1\"}]}}");
	w = pods_worker_new(&f.env, orphan);
	pods_worker_sync(w);
	pods_worker_free(w);
	json_decref(orphan);
	snprintf(dir, sizeof(dir), "%s/pods/uid-old", test_tmpdir());
	mkdir(dir, 0755);
	kfake_reset(&f);

	pod = kfake_pod("{\"metadata\":{\"name\":\"web\",\"resourceVersion\":\"5\"},\"spec\":"
			"{\"containers\":[{\"name\":\"app\",\"image\":\"busybox:1\"}]}}");
	a.pods = json_pack("[O]", pod);
	srv = testsrv_start(serve, &a);
	ASSERT_NOT_NULL(srv);

	memset(&k, 0, sizeof(k));
	k.cfg.node_name = "node1";
	k.cfg.root_dir = test_tmpdir();
	k.http.server = testsrv_url(srv);
	pthread_mutex_init(&k.lock, NULL);
	ASSERT_OK(pods_start_env(&k, &f.env));
	ASSERT_NOT_NULL(k.pods);

	WAIT_FOR(&f, logged(&f, "StartContainer app 0"));
	WAIT_FOR(&f, logged(&f, "RemovePodSandbox old 0"));
	ASSERT(strstr(kfake_log(&f), "StopPodSandbox old 0\nRemovePodSandbox old 0") != NULL);
	ASSERT(stat(dir, &st) < 0); /* the orphan's pod directory went too */
	pthread_mutex_lock(&a.mu);
	ASSERT_STREQ(a.selector, "spec.nodeName=node1");
	pthread_mutex_unlock(&a.mu);
	for (int i = 0; i < 500 && pods_running_count(&k) != 1; i++)
		usleep(10 * 1000);
	ASSERT_EQ(pods_running_count(&k), 1);
	ASSERT_OK(pods_container_log_path(&k, "default", "web", "app", false, path, sizeof(path)));
	ASSERT(strstr(path, "/pod-logs/default_web_uid-web/app/0.log") != NULL);
	ASSERT_EQ(pods_container_log_path(&k, "default", "web", "app", true, path, sizeof(path)),
		  -ENOENT);
	ASSERT_EQ(pods_container_log_path(&k, "default", "nope", "app", false, path, sizeof(path)),
		  -ENOENT);
	ASSERT_EQ(pods_container_log_path(&k, "default", "web", "nope", false, path, sizeof(path)),
		  -ENOENT);

	/* The pod is deleted through the watch: its worker cleans up and ends. */
	pthread_mutex_lock(&a.mu);
	{
		json_t *ev = json_pack("{s:s,s:O}", "type", "DELETED", "object", pod);

		jsonx_set_path(json_object_get(ev, "object"), "metadata.resourceVersion",
			       json_string("11"));
		a.event = json_dumps(ev, JSON_COMPACT);
		json_decref(ev);
		json_array_clear(a.pods);
	}
	pthread_mutex_unlock(&a.mu);
	WAIT_FOR(&f, logged(&f, "RemovePodSandbox web 0"));
	for (int i = 0; i < 500 && pods_running_count(&k) != 0; i++)
		usleep(10 * 1000);
	ASSERT_EQ(pods_running_count(&k), 0);
	ASSERT_EQ(pods_container_log_path(&k, "default", "web", "app", false, path, sizeof(path)),
		  -ENOENT);

	pods_stop(&k);
	ASSERT_NULL(k.pods);
	pods_stop(&k); /* twice is fine */
	testsrv_stop(srv);
	json_decref(pod);
	json_decref(a.pods);
	free(a.event);
	pthread_mutex_destroy(&k.lock);
	kfake_free(&f);
}

TEST(kubelet_pods_threads_stop_keeps_containers_running)
{
	struct api a = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct kubelet k;
	struct testsrv *srv;
	struct kfake f;
	json_t *pod;

	kfake_init(&f);
	pod = kfake_pod("{\"metadata\":{\"name\":\"web\",\"resourceVersion\":\"5\"},\"spec\":"
			"{\"containers\":[{\"name\":\"app\",\"image\":\"busybox:1\"}]}}");
	a.pods = json_pack("[O]", pod);
	srv = testsrv_start(serve, &a);
	memset(&k, 0, sizeof(k));
	k.cfg.node_name = "node1";
	k.cfg.root_dir = test_tmpdir();
	k.http.server = testsrv_url(srv);
	ASSERT_OK(pods_start_env(&k, &f.env));
	WAIT_FOR(&f, logged(&f, "StartContainer app 0"));
	pods_stop(&k);
	ASSERT(!logged(&f, "StopContainer"));
	ASSERT(!logged(&f, "StopPodSandbox"));
	ASSERT_EQ(kfake_ctr(&f, "app")->state, RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING);
	testsrv_stop(srv);
	json_decref(pod);
	json_decref(a.pods);
	kfake_free(&f);
}

TEST(kubelet_pods_start_rejects_bad_config)
{
	struct kubelet k;
	struct kfake f;

	kfake_init(&f);
	memset(&k, 0, sizeof(k));
	ASSERT_EQ(pods_start_env(&k, &f.env), -EINVAL); /* no node name */
	k.cfg.node_name = "n";
	k.cfg.root_dir = "/tmp";
	ASSERT_EQ(pods_start(&k), -EINVAL); /* no CRI */
	k.http.server = "not a url";
	ASSERT_EQ(pods_start_env(&k, &f.env), -EINVAL);
	ASSERT_NULL(k.pods);
	ASSERT_EQ(pods_running_count(&k), 0);
	ASSERT_EQ(pods_container_log_path(&k, "a", "b", "c", false, NULL, 0), -ENOENT);
	pods_stop(NULL);
	kfake_free(&f);
}
