/*
 * Unit tests for agent/kubelet/node against a fake API server: registration
 * (create, or take over an existing Node), status pushes and their
 * conditions, learning the pod CIDR from spec.podCIDR (then the CNI file
 * and network-ready), the Lease (create, renew, conflicts), pokes, and Node
 * events.
 */
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/kubelet/events.h"
#include "agent/kubelet/node.h"
#include "jsonx.h"
#include "testsrv.h"
#include "util.h"

#define NODE_PATH "/api/v1/nodes/node-1"
#define LEASE_COLL "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
#define LEASE_PATH LEASE_COLL "/node-1"

/* ---------------------------------------------------------------- the fake API server */

static struct {
	pthread_mutex_t lock;
	json_t *node, *lease;
	long rv;
	int node_posts, label_patches, status_patches, node_gets;
	int lease_posts, lease_puts, lease_conflicts_to_inject;
	char status_ct[128], label_ct[128];
	json_t *event_reasons; /* array */
} api = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void set_rv(json_t *obj)
{
	char rv[32];

	snprintf(rv, sizeof(rv), "%ld", ++api.rv);
	jsonx_set_path(obj, "metadata.resourceVersion", json_string(rv));
}

static enum MHD_Result answer(const struct testsrv_request *req, unsigned status, const json_t *obj)
{
	char *text =
		obj ? json_dumps(obj, JSON_COMPACT)
		    : xasprintf("{\"kind\":\"Status\",\"code\":%u,\"message\":\"fake\"}", status);
	enum MHD_Result r = testsrv_reply(req->conn, status, "application/json", text);

	free(text);
	return r;
}

static const char *ctype(const struct testsrv_request *req)
{
	const char *ct = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Type");

	return ct ? ct : "";
}

static enum MHD_Result handle(void *ctx, const struct testsrv_request *req)
{
	json_t *body = req->body_len ? json_loads(req->body, 0, NULL) : NULL;
	unsigned status = 404;
	json_t *out = NULL;
	const char *m = req->method, *u = req->url;

	pthread_mutex_lock(&api.lock);
	if (!strcmp(m, "POST") && !strcmp(u, "/api/v1/nodes")) {
		api.node_posts++;
		if (api.node) {
			status = 409;
		} else {
			api.node = json_deep_copy(body);
			jsonx_set_path(api.node, "metadata.uid", json_string("uid-node-1"));
			set_rv(api.node);
			status = 201;
			out = api.node;
		}
	} else if (!strcmp(m, "GET") && !strcmp(u, NODE_PATH)) {
		api.node_gets++;
		if (api.node) {
			status = 200;
			out = api.node;
		}
	} else if (!strcmp(m, "PATCH") && !strcmp(u, NODE_PATH) && api.node) {
		api.label_patches++;
		snprintf(api.label_ct, sizeof(api.label_ct), "%s", ctype(req));
		json_object_update(jsonx_get_path(api.node, "metadata.labels"),
				   jsonx_get_path(body, "metadata.labels"));
		set_rv(api.node);
		status = 200;
		out = api.node;
	} else if (!strcmp(m, "PATCH") && !strcmp(u, NODE_PATH "/status") && api.node) {
		api.status_patches++;
		snprintf(api.status_ct, sizeof(api.status_ct), "%s", ctype(req));
		json_object_set(api.node, "status", jsonx_obj(body, "status"));
		set_rv(api.node);
		status = 200;
		out = api.node;
	} else if (!strcmp(m, "GET") && !strcmp(u, LEASE_PATH)) {
		if (api.lease) {
			status = 200;
			out = api.lease;
		}
	} else if (!strcmp(m, "POST") && !strcmp(u, LEASE_COLL)) {
		api.lease_posts++;
		if (api.lease) {
			status = 409;
		} else {
			api.lease = json_deep_copy(body);
			set_rv(api.lease);
			status = 201;
			out = api.lease;
		}
	} else if (!strcmp(m, "PUT") && !strcmp(u, LEASE_PATH) && api.lease) {
		api.lease_puts++;
		if (api.lease_conflicts_to_inject > 0) {
			api.lease_conflicts_to_inject--;
			set_rv(api.lease); /* someone else wrote it */
			status = 409;
		} else if (strcmp(jsonx_path_str(body, "metadata.resourceVersion", ""),
				  jsonx_path_str(api.lease, "metadata.resourceVersion", "?"))) {
			status = 409;
		} else {
			json_decref(api.lease);
			api.lease = json_deep_copy(body);
			set_rv(api.lease);
			status = 200;
			out = api.lease;
		}
	} else if (!strcmp(m, "POST") && strstr(u, "/events")) {
		if (!api.event_reasons)
			api.event_reasons = json_array();
		json_array_append_new(api.event_reasons,
				      json_string(jsonx_str(body, "reason", "")));
		status = 201;
		out = body;
	}
	enum MHD_Result r = answer(req, status, out);

	pthread_mutex_unlock(&api.lock);
	json_decref(body);
	return r;
}

static void api_reset(void)
{
	json_decref(api.node);
	json_decref(api.lease);
	json_decref(api.event_reasons);
	/* Each test runs in its own process: only the references need releasing. */
	api.node = api.lease = api.event_reasons = NULL;
}

/* ---------------------------------------------------------------- harness */

static struct testsrv *srv;
static struct kubelet kl;
static char conf_dir[4096], root_dir[4096];
static char runtime_problem_text[256];

static void fake_runtime(struct kubelet *k, char *problem, size_t len)
{
	pthread_mutex_lock(&api.lock);
	snprintf(problem, len, "%s", runtime_problem_text);
	pthread_mutex_unlock(&api.lock);
}

static void teardown(void)
{
	node_stop(&kl);
	events_stop(&kl);
	if (srv)
		testsrv_stop(srv);
	srv = NULL;
	pthread_cond_destroy(&kl.cond);
	pthread_mutex_destroy(&kl.lock);
	api_reset();
}

static void setup(const char *pod_cidr)
{
	pthread_condattr_t ca;

	srv = testsrv_start(handle, NULL);
	ASSERT_NOT_NULL(srv);
	memset(&kl, 0, sizeof(kl));
	pthread_mutex_init(&kl.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&kl.cond, &ca);
	pthread_condattr_destroy(&ca);
	test_defer(teardown);
	snprintf(conf_dir, sizeof(conf_dir), "%s/net.d", test_tmpdir());
	snprintf(root_dir, sizeof(root_dir), "%s/root", test_tmpdir());
	kl.cfg.node_name = "node-1";
	kl.cfg.root_dir = root_dir;
	kl.cfg.cni_conf_dir = conf_dir;
	kl.cfg.port = 10250;
	kl.cfg.pod_cidr = pod_cidr;
	kl.cfg.node_status_interval_s = 60;
	kl.cfg.lease_interval_s = 10;
	kl.http.server = testsrv_url(srv);
	snprintf(kl.node_ip, sizeof(kl.node_ip), "10.0.0.7");
	snprintf(kl.runtime_version, sizeof(kl.runtime_version), "containerd://1.6.20");
	runtime_problem_text[0] = '\0';
}

static void start(unsigned check_ms)
{
	struct node_options o = {
		.runtime_problem = fake_runtime,
		.check_interval_ms = check_ms,
		.cidr_poll_ms = 30,
		.lease_interval_ms = 50,
		.retry_max_ms = 100,
	};

	ASSERT_OK(node_start_opts(&kl, &o));
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Wait (up to 5 s) until cond holds, evaluated under the fake's lock. */
#define WAIT_FOR(cond)                                              \
	do {                                                        \
		bool ok_ = false;                                   \
		for (int i_ = 0; i_ < 500 && !ok_; i_++) {          \
			pthread_mutex_lock(&api.lock);              \
			ok_ = (cond);                               \
			pthread_mutex_unlock(&api.lock);            \
			if (!ok_)                                   \
				sleep_ms(10);                       \
		}                                                   \
		ASSERT_MSG(ok_, "timed out waiting for %s", #cond); \
	} while (0)

static const char *ready(const char *field)
{
	size_t i;
	json_t *c;

	json_array_foreach(jsonx_get_path(api.node, "status.conditions"), i, c)
		if (strcmp(jsonx_str(c, "type", ""), "Ready") == 0)
			return jsonx_str(c, field, "");
	return "";
}

static bool has_event(const char *reason)
{
	size_t i;
	json_t *r;

	json_array_foreach(api.event_reasons, i, r)
		if (json_is_string(r) && strcmp(json_string_value(r), reason) == 0)
			return true;
	return false;
}

/* ---------------------------------------------------------------- tests */

TEST(node_api_registers_and_learns_the_pod_cidr)
{
	char path[4200];
	struct stat st;

	setup(NULL);
	ASSERT_OK(events_start(&kl));
	start(50);
	WAIT_FOR(api.node && api.status_patches >= 1);
	pthread_mutex_lock(&api.lock);
	ASSERT_EQ(api.node_posts, 1);
	ASSERT_STREQ(jsonx_path_str(api.node, "metadata.labels[\"kubernetes.io/hostname\"]", ""),
		     "node-1");
	ASSERT_STREQ(api.status_ct, "application/strategic-merge-patch+json");
	ASSERT_STREQ(ready("status"), "False");
	ASSERT(strstr(ready("message"), "pod CIDR") != NULL);
	ASSERT_STREQ(jsonx_path_str(api.node, "status.addresses[0].address", ""), "10.0.0.7");
	ASSERT_EQ(jsonx_path_int(api.node, "status.daemonEndpoints.kubeletEndpoint.Port", 0),
		  10250);
	ASSERT_STREQ(jsonx_path_str(api.node, "status.nodeInfo.containerRuntimeVersion", ""),
		     "containerd://1.6.20");
	pthread_mutex_unlock(&api.lock);
	ASSERT(!kl_wait_network_ready(&kl, 50));
	snprintf(path, sizeof(path), "%s/10-capstan.conflist", conf_dir);
	ASSERT(stat(path, &st) < 0);

	/* The controller manager allocates the range. */
	pthread_mutex_lock(&api.lock);
	jsonx_set_path(api.node, "spec.podCIDR", json_string("10.244.5.0/24"));
	pthread_mutex_unlock(&api.lock);
	ASSERT(kl_wait_network_ready(&kl, 5000));
	ASSERT_OK(stat(path, &st));
	pthread_mutex_lock(&kl.lock);
	ASSERT_STREQ(kl.pod_cidr, "10.244.5.0/24");
	pthread_mutex_unlock(&kl.lock);
	WAIT_FOR(strcmp(ready("status"), "True") == 0);
	pthread_mutex_lock(&api.lock);
	ASSERT_STREQ(ready("reason"), "KubeletReady");
	int pushes = api.status_patches;
	pthread_mutex_unlock(&api.lock);
	/* Settled: the answers carry spec.podCIDR, which must not trigger more pushes. */
	sleep_ms(300);
	pthread_mutex_lock(&api.lock);
	ASSERT_MSG(api.status_patches <= pushes + 1, "%d status pushes in 300 ms",
		   api.status_patches - pushes);
	pthread_mutex_unlock(&api.lock);

	/* The Lease is created, owned by the Node, and renewed. */
	WAIT_FOR(api.lease && api.lease_puts >= 2);
	pthread_mutex_lock(&api.lock);
	ASSERT_EQ(api.lease_posts, 1);
	ASSERT_STREQ(jsonx_path_str(api.lease, "spec.holderIdentity", ""), "node-1");
	ASSERT_EQ(jsonx_path_int(api.lease, "spec.leaseDurationSeconds", 0), 40);
	ASSERT_STREQ(jsonx_path_str(api.lease, "metadata.ownerReferences[0].uid", ""),
		     "uid-node-1");
	pthread_mutex_unlock(&api.lock);

	/* Node events for the transitions. */
	events_flush(kl.events, 2000);
	WAIT_FOR(has_event("NodeReady") && has_event("NodeNotReady") &&
		 has_event("NodeHasSufficientMemory"));
}

TEST(node_api_takes_over_an_existing_node)
{
	json_t *old = json_pack(
		"{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}, s:{}, s:{s:[{s:s, s:s, s:s, s:s}]}}",
		"apiVersion", "v1", "kind", "Node", "metadata", "name", "node-1", "uid", "uid-old",
		"labels", "team", "blue", "kubernetes.io/arch", "wrong", "spec", "status",
		"conditions", "type", "Ready", "status", "True", "lastTransitionTime",
		"2020-01-01T00:00:00Z", "lastHeartbeatTime", "2020-01-01T00:00:00Z");
	char path[4200];
	struct stat st;

	setup("10.244.9.0/24");
	api.node = old;
	start(50);
	/* --pod-cidr: the CNI configuration is there before anything else. */
	ASSERT(kl_wait_network_ready(&kl, 0));
	snprintf(path, sizeof(path), "%s/10-capstan.conflist", conf_dir);
	ASSERT_OK(stat(path, &st));
	WAIT_FOR(api.status_patches >= 1);
	pthread_mutex_lock(&api.lock);
	ASSERT_EQ(api.node_posts, 1);
	ASSERT_EQ(api.label_patches, 1);
	ASSERT_STREQ(api.label_ct, "application/merge-patch+json");
	ASSERT_STREQ(jsonx_path_str(api.node, "metadata.labels.team", ""), "blue");
	ASSERT_STREQ(jsonx_path_str(api.node, "metadata.labels[\"kubernetes.io/arch\"]", ""),
		     jsonx_path_str(api.node, "status.nodeInfo.architecture", "?"));
	/* Still Ready: the transition time survives the takeover. */
	ASSERT_STREQ(ready("status"), "True");
	ASSERT_STREQ(ready("lastTransitionTime"), "2020-01-01T00:00:00Z");
	ASSERT(strcmp(ready("lastHeartbeatTime"), "2020-01-01T00:00:00Z") != 0);
	pthread_mutex_unlock(&api.lock);
}

TEST(node_api_lease_conflict_rereads)
{
	setup("10.244.9.0/24");
	start(50);
	WAIT_FOR(api.lease && api.lease_puts >= 1);
	pthread_mutex_lock(&api.lock);
	api.lease_conflicts_to_inject = 2;
	int puts = api.lease_puts;
	pthread_mutex_unlock(&api.lock);
	/* Two conflicts, then renewals continue on the fresh copy. */
	WAIT_FOR(api.lease_conflicts_to_inject == 0 && api.lease_puts >= puts + 4);
	pthread_mutex_lock(&api.lock);
	ASSERT_EQ(api.lease_posts, 1);
	pthread_mutex_unlock(&api.lock);
}

TEST(node_api_pushes_on_change_poke_and_interval_only)
{
	int n;

	setup("10.244.9.0/24");
	start(30);
	WAIT_FOR(api.status_patches >= 1);
	/* Unchanged status: no push for a while (interval is 60 s). */
	sleep_ms(200);
	pthread_mutex_lock(&api.lock);
	n = api.status_patches;
	pthread_mutex_unlock(&api.lock);
	ASSERT_EQ(n, 1);
	/* A poke pushes at once. */
	node_status_poke(&kl);
	WAIT_FOR(api.status_patches == 2);
	/* A change (the runtime goes away) pushes too, with the reason. */
	pthread_mutex_lock(&api.lock);
	snprintf(runtime_problem_text, sizeof(runtime_problem_text),
		 "container runtime is down: connection refused");
	pthread_mutex_unlock(&api.lock);
	WAIT_FOR(api.status_patches == 3 && strcmp(ready("status"), "False") == 0);
	pthread_mutex_lock(&api.lock);
	ASSERT_STREQ(ready("message"), "container runtime is down: connection refused");
	pthread_mutex_unlock(&api.lock);
}

TEST(node_api_reregisters_a_deleted_node)
{
	setup("10.244.9.0/24");
	start(30);
	WAIT_FOR(api.status_patches >= 1);
	pthread_mutex_lock(&api.lock);
	json_decref(api.node);
	api.node = NULL;
	pthread_mutex_unlock(&api.lock);
	node_status_poke(&kl);
	WAIT_FOR(api.node_posts == 2 && api.node && api.status_patches >= 2);
}

TEST(node_api_retries_registration_and_stops_promptly)
{
	uint64_t t0;

	setup(NULL);
	kl.http.server = "http://127.0.0.1:1"; /* nothing listens there */
	start(30);
	sleep_ms(300);
	t0 = now_mono_ns();
	node_stop(&kl);
	ASSERT(now_mono_ns() - t0 < 2000000000ull);
	ASSERT_NULL(kl.node);
}

TEST(node_api_wait_network_ready_ends_when_stopping)
{
	uint64_t t0;

	setup(NULL);
	t0 = now_mono_ns();
	ASSERT(!kl_wait_network_ready(&kl, 100));
	ASSERT(now_mono_ns() - t0 >= 90000000ull);
	pthread_mutex_lock(&kl.lock);
	atomic_store(&kl.stopping, true);
	pthread_cond_broadcast(&kl.cond);
	pthread_mutex_unlock(&kl.lock);
	t0 = now_mono_ns();
	ASSERT(!kl_wait_network_ready(&kl, 5000));
	ASSERT(now_mono_ns() - t0 < 1000000000ull);
}
