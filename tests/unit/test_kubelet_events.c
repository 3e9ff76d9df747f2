/*
 * Unit tests for agent/kubelet/events: the Event's fields, folding of
 * repeats into counts (window, cache eviction, expired Events), retries,
 * the bounded queue, and the real HTTP sink against a fake API server.
 */
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "agent/kubelet/events.h"
#include "jsonx.h"
#include "testsrv.h"
#include "util.h"

/* ---------------------------------------------------------------- fake sink */

struct call {
	char op; /* 'C'reate or 'P'atch */
	char ns[64], name[128];
	json_t *body;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct call calls[64];
	int n;
	int fail_next; /* calls to fail with fail_rc */
	int fail_rc;
	bool hold;    /* block create until released */
	int entered;  /* sink calls begun */
	int patch_rc; /* returned by patch when not 0 */
} fake = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static int64_t fake_now = 1704164645000000000ll; /* 2024-01-02T03:04:05Z */

static int64_t clock_now(void)
{
	return __atomic_load_n(&fake_now, __ATOMIC_SEQ_CST);
}

static int record(char op, const char *ns, const char *name, const json_t *body)
{
	int rc = 0;

	pthread_mutex_lock(&fake.lock);
	fake.entered++;
	while (fake.hold)
		pthread_cond_wait(&fake.cond, &fake.lock);
	if (fake.fail_next > 0) {
		fake.fail_next--;
		rc = fake.fail_rc;
	} else if (op == 'P' && fake.patch_rc) {
		rc = fake.patch_rc;
		fake.patch_rc = 0;
	}
	if (fake.n < (int)ARRAY_SIZE(fake.calls)) {
		struct call *c = &fake.calls[fake.n++];

		c->op = op;
		snprintf(c->ns, sizeof(c->ns), "%s", ns);
		snprintf(c->name, sizeof(c->name), "%s", name ? name : "");
		c->body = json_deep_copy(body);
	}
	pthread_mutex_unlock(&fake.lock);
	return rc;
}

static int fake_create(void *ctx, const char *ns, const json_t *ev)
{
	return record('C', ns, NULL, ev);
}

static int fake_patch(void *ctx, const char *ns, const char *name, const json_t *patch)
{
	return record('P', ns, name, patch);
}

static void fake_reset(void)
{
	for (int i = 0; i < fake.n; i++)
		json_decref(fake.calls[i].body);
	fake.n = 0;
}

static struct events *new_recorder(unsigned queue, unsigned cache)
{
	struct events_options o = {
		.host = "node-1",
		.queue_size = queue,
		.cache_size = cache,
		.retry_delay_ms = 1,
		.now_ns = clock_now,
		.sink = { .create = fake_create, .patch = fake_patch },
	};
	struct events *e = events_new(&o);

	ASSERT_NOT_NULL(e);
	test_defer(fake_reset);
	return e;
}

static json_t *pod(const char *name)
{
	return json_pack("{s:{s:s, s:s, s:s, s:s}}", "metadata", "name", name, "namespace", "web",
			 "uid", "uid-1", "resourceVersion", "42");
}

/* Record and wait until sent. */
static void rec(struct events *e, const json_t *obj, const char *field, const char *reason,
		const char *msg)
{
	events_record(e, obj, field, "Normal", reason, msg);
	ASSERT_OK(events_flush(e, 2000));
}

TEST(events_create_has_upstream_fields)
{
	struct events *e = new_recorder(0, 0);
	json_t *p = pod("api-7"), *ev;

	rec(e, p, "spec.containers{app}", "Pulled", "Container image \"busybox\" already present");
	ASSERT_EQ(fake.n, 1);
	ASSERT_EQ(fake.calls[0].op, 'C');
	ASSERT_STREQ(fake.calls[0].ns, "web");
	ev = fake.calls[0].body;
	ASSERT_STREQ(jsonx_str(ev, "apiVersion", ""), "v1");
	ASSERT_STREQ(jsonx_str(ev, "kind", ""), "Event");
	/* <object name>.<unix nanoseconds in hex> */
	ASSERT_STREQ(jsonx_path_str(ev, "metadata.name", ""), "api-7.17a668b730013200");
	ASSERT_STREQ(jsonx_path_str(ev, "metadata.namespace", ""), "web");
	ASSERT_STREQ(jsonx_path_str(ev, "involvedObject.kind", ""), "Pod");
	ASSERT_STREQ(jsonx_path_str(ev, "involvedObject.apiVersion", ""), "v1");
	ASSERT_STREQ(jsonx_path_str(ev, "involvedObject.name", ""), "api-7");
	ASSERT_STREQ(jsonx_path_str(ev, "involvedObject.namespace", ""), "web");
	ASSERT_STREQ(jsonx_path_str(ev, "involvedObject.uid", ""), "uid-1");
	ASSERT_STREQ(jsonx_path_str(ev, "involvedObject.resourceVersion", ""), "42");
	ASSERT_STREQ(jsonx_path_str(ev, "involvedObject.fieldPath", ""), "spec.containers{app}");
	ASSERT_STREQ(jsonx_str(ev, "reason", ""), "Pulled");
	ASSERT_STREQ(jsonx_str(ev, "message", ""), "Container image \"busybox\" already present");
	ASSERT_STREQ(jsonx_str(ev, "type", ""), "Normal");
	ASSERT_STREQ(jsonx_path_str(ev, "source.component", ""), "kubelet");
	ASSERT_STREQ(jsonx_path_str(ev, "source.host", ""), "node-1");
	ASSERT_STREQ(jsonx_str(ev, "reportingComponent", ""), "kubelet");
	ASSERT_STREQ(jsonx_str(ev, "reportingInstance", ""), "node-1");
	ASSERT_STREQ(jsonx_str(ev, "firstTimestamp", ""), "2024-01-02T03:04:05Z");
	ASSERT_STREQ(jsonx_str(ev, "lastTimestamp", ""), "2024-01-02T03:04:05Z");
	ASSERT_EQ(jsonx_int(ev, "count", 0), 1);
	json_decref(p);
	events_free(e, 0);
}

TEST(events_node_objects_go_to_default)
{
	struct events *e = new_recorder(0, 0);
	json_t *node = json_pack("{s:{s:s}}", "metadata", "name", "node-1");
	json_t *ev;

	events_record(e, node, NULL, "Warning", "Rebooted", "node rebooted");
	ASSERT_OK(events_flush(e, 2000));
	ASSERT_EQ(fake.n, 1);
	ev = fake.calls[0].body;
	ASSERT_STREQ(fake.calls[0].ns, "default");
	ASSERT_STREQ(jsonx_path_str(ev, "involvedObject.kind", ""), "Node");
	/* Without a uid the node is referred to by name, as upstream's node reference. */
	ASSERT_STREQ(jsonx_path_str(ev, "involvedObject.uid", ""), "node-1");
	ASSERT_NULL(jsonx_get_path(ev, "involvedObject.namespace"));
	ASSERT_NULL(jsonx_get_path(ev, "involvedObject.fieldPath"));
	ASSERT_STREQ(jsonx_str(ev, "type", ""), "Warning");
	json_decref(node);
	events_free(e, 0);
}

TEST(events_repeats_become_counts)
{
	struct events *e = new_recorder(0, 0);
	json_t *p = pod("api-7");

	rec(e, p, "spec.containers{app}", "BackOff", "Back-off restarting failed container");
	__atomic_add_fetch(&fake_now, 30 * 1000000000ll, __ATOMIC_SEQ_CST);
	rec(e, p, "spec.containers{app}", "BackOff", "Back-off restarting failed container");
	__atomic_add_fetch(&fake_now, 30 * 1000000000ll, __ATOMIC_SEQ_CST);
	rec(e, p, "spec.containers{app}", "BackOff", "Back-off restarting failed container");
	ASSERT_EQ(fake.n, 3);
	ASSERT_EQ(fake.calls[1].op, 'P');
	ASSERT_STREQ(fake.calls[1].name, jsonx_path_str(fake.calls[0].body, "metadata.name", "?"));
	ASSERT_STREQ(fake.calls[1].ns, "web");
	ASSERT_EQ(jsonx_int(fake.calls[1].body, "count", 0), 2);
	ASSERT_STREQ(jsonx_str(fake.calls[1].body, "lastTimestamp", ""), "2024-01-02T03:04:35Z");
	ASSERT_EQ(jsonx_int(fake.calls[2].body, "count", 0), 3);
	ASSERT_STREQ(jsonx_str(fake.calls[2].body, "lastTimestamp", ""), "2024-01-02T03:05:05Z");

	/* Another message, another container or another reason: new Events. */
	rec(e, p, "spec.containers{app}", "BackOff", "something else");
	rec(e, p, "spec.containers{sidecar}", "BackOff", "Back-off restarting failed container");
	rec(e, p, "spec.containers{app}", "Failed", "Back-off restarting failed container");
	ASSERT_EQ(fake.n, 6);
	for (int i = 3; i < 6; i++)
		ASSERT_EQ(fake.calls[i].op, 'C');

	struct events_stats st;

	events_get_stats(e, &st);
	ASSERT_EQ(st.created, 4);
	ASSERT_EQ(st.patched, 2);
	ASSERT_EQ(st.dropped, 0);
	ASSERT_EQ(st.failed, 0);
	json_decref(p);
	events_free(e, 0);
}

TEST(events_fold_window_is_ten_minutes)
{
	struct events *e = new_recorder(0, 0);
	json_t *p = pod("api-7");

	rec(e, p, NULL, "Unhealthy", "probe failed");
	__atomic_add_fetch(&fake_now, 599 * 1000000000ll, __ATOMIC_SEQ_CST);
	rec(e, p, NULL, "Unhealthy", "probe failed"); /* within 10 min of the last */
	__atomic_add_fetch(&fake_now, 599 * 1000000000ll, __ATOMIC_SEQ_CST);
	rec(e, p, NULL, "Unhealthy", "probe failed"); /* within 10 min of the last again */
	__atomic_add_fetch(&fake_now, 601 * 1000000000ll, __ATOMIC_SEQ_CST);
	rec(e, p, NULL, "Unhealthy", "probe failed"); /* quiet for over 10 min: new */
	ASSERT_EQ(fake.n, 4);
	ASSERT_EQ(fake.calls[0].op, 'C');
	ASSERT_EQ(fake.calls[1].op, 'P');
	ASSERT_EQ(fake.calls[2].op, 'P');
	ASSERT_EQ(fake.calls[3].op, 'C');
	ASSERT_EQ(jsonx_int(fake.calls[3].body, "count", 0), 1);
	json_decref(p);
	events_free(e, 0);
}

TEST(events_expired_event_is_created_again)
{
	struct events *e = new_recorder(0, 0);
	json_t *p = pod("api-7");

	rec(e, p, NULL, "Killing", "Stopping container app");
	rec(e, p, NULL, "Killing", "Stopping container app");
	fake.patch_rc = -ENOENT;
	rec(e, p, NULL, "Killing", "Stopping container app");
	ASSERT_EQ(fake.n, 4);
	ASSERT_EQ(fake.calls[2].op, 'P');
	ASSERT_EQ(fake.calls[3].op, 'C');
	/* The new copy carries the running count and the original first time. */
	ASSERT_EQ(jsonx_int(fake.calls[3].body, "count", 0), 3);
	ASSERT_STREQ(jsonx_str(fake.calls[3].body, "firstTimestamp", ""),
		     jsonx_str(fake.calls[0].body, "firstTimestamp", "?"));
	json_decref(p);
	events_free(e, 0);
}

TEST(events_retry_then_give_up)
{
	struct events *e = new_recorder(0, 0);
	json_t *p = pod("api-7");
	struct events_stats st;

	fake.fail_next = 2;
	fake.fail_rc = -EAGAIN;
	rec(e, p, NULL, "Pulling", "Pulling image");
	ASSERT_EQ(fake.n, 3); /* two failures, then success */
	events_get_stats(e, &st);
	ASSERT_EQ(st.created, 1);
	ASSERT_EQ(st.failed, 0);

	fake.fail_next = 3;
	rec(e, p, NULL, "Pulled", "Pulled image");
	ASSERT_EQ(fake.n, 6); /* three tries, all failed */
	events_get_stats(e, &st);
	ASSERT_EQ(st.failed, 1);
	/* A failed create is not remembered: the repeat is a create, not a patch. */
	rec(e, p, NULL, "Pulled", "Pulled image");
	ASSERT_EQ(fake.calls[6].op, 'C');

	/* A refusal is not retried. */
	fake.fail_next = 1;
	fake.fail_rc = -EINVAL;
	rec(e, p, NULL, "Other", "x");
	ASSERT_EQ(fake.n, 8);
	events_get_stats(e, &st);
	ASSERT_EQ(st.failed, 2);
	json_decref(p);
	events_free(e, 0);
}

TEST(events_cache_evicts_least_recently_seen)
{
	struct events *e = new_recorder(0, 2);
	json_t *p = pod("api-7");

	rec(e, p, NULL, "A", "a");
	rec(e, p, NULL, "B", "b");
	rec(e, p, NULL, "A", "a"); /* patch; A is now the most recent */
	rec(e, p, NULL, "C", "c"); /* evicts B */
	rec(e, p, NULL, "A", "a"); /* still cached: patch */
	rec(e, p, NULL, "B", "b"); /* forgotten: create */
	ASSERT_EQ(fake.n, 6);
	ASSERT_EQ(fake.calls[2].op, 'P');
	ASSERT_EQ(fake.calls[4].op, 'P');
	ASSERT_EQ(jsonx_int(fake.calls[4].body, "count", 0), 3);
	ASSERT_EQ(fake.calls[5].op, 'C');
	json_decref(p);
	events_free(e, 0);
}

TEST(events_full_queue_drops_without_blocking)
{
	struct events *e = new_recorder(3, 0);
	json_t *p = pod("api-7");
	struct events_stats st;
	uint64_t t0;
	char msg[32];

	fake.hold = true;
	t0 = now_mono_ns();
	for (int i = 0; i < 10; i++) {
		snprintf(msg, sizeof(msg), "message %d", i);
		events_record(e, p, NULL, "Normal", "Test", msg);
		if (i == 0) {
			/* Let the sender take the first one and block in the sink. */
			for (int k = 0;
			     k < 400 && !__atomic_load_n(&fake.entered, __ATOMIC_SEQ_CST); k++) {
				struct timespec ts = { 0, 5000000 };

				nanosleep(&ts, NULL);
			}
			ASSERT_EQ(__atomic_load_n(&fake.entered, __ATOMIC_SEQ_CST), 1);
		}
	}
	ASSERT_MSG(now_mono_ns() - t0 < 3000000000ull, "recording blocked");
	events_get_stats(e, &st);
	/* One in the sink, three queued, six dropped. */
	ASSERT_EQ(st.dropped, 6);
	pthread_mutex_lock(&fake.lock);
	fake.hold = false;
	pthread_cond_broadcast(&fake.cond);
	pthread_mutex_unlock(&fake.lock);
	ASSERT_OK(events_flush(e, 2000));
	ASSERT_EQ(fake.n, 4);
	ASSERT_STREQ(jsonx_str(fake.calls[3].body, "message", ""), "message 3");
	json_decref(p);
	events_free(e, 0);
}

TEST(events_bad_options)
{
	struct events_options o = { .host = "n" };

	ASSERT_NULL(events_new(NULL));
	ASSERT_NULL(events_new(&o)); /* no sink */
	o.sink.create = fake_create;
	o.sink.patch = fake_patch;
	o.host = "";
	ASSERT_NULL(events_new(&o));
	events_free(NULL, 0);
}

/* ---------------------------------------------------------------- the HTTP sink */

struct api {
	pthread_mutex_t lock;
	char log[8][512];
	int n;
};

static enum MHD_Result api_handler(void *ctx, const struct testsrv_request *req)
{
	struct api *a = ctx;
	const char *ct = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Type");

	pthread_mutex_lock(&a->lock);
	if (a->n < 8)
		snprintf(a->log[a->n++], sizeof(a->log[0]), "%s %s %s %s", req->method, req->url,
			 ct ? ct : "-", req->body);
	pthread_mutex_unlock(&a->lock);
	if (strcmp(req->method, "POST") == 0)
		return testsrv_reply(req->conn, 201, "application/json", req->body);
	return testsrv_reply(req->conn, 200, "application/json", "{}");
}

TEST(events_http_sink_posts_then_patches)
{
	struct api a = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct testsrv *srv = testsrv_start(api_handler, &a);
	struct kubelet k = { 0 };
	json_t *p = pod("api-7");

	ASSERT_NOT_NULL(srv);
	k.cfg.node_name = "node-1";
	k.http.server = testsrv_url(srv);
	ASSERT_OK(events_start(&k));
	kl_event(&k, p, "Normal", "Started", "Started container %s", "app");
	kl_event(&k, p, "Normal", "Started", "Started container %s", "app");
	kl_event_at(&k, p, "spec.containers{app}", "Warning", "Failed", "Error: %d", 7);
	ASSERT_OK(events_flush(k.events, 5000));
	events_stop(&k);
	ASSERT_NULL(k.events);
	testsrv_stop(srv);
	ASSERT_EQ(a.n, 3);
	ASSERT(strncmp(a.log[0], "POST /api/v1/namespaces/web/events application/json {", 53) == 0);
	ASSERT(strstr(a.log[0], "\"message\":\"Started container app\"") != NULL);
	ASSERT(strncmp(a.log[1], "PATCH /api/v1/namespaces/web/events/api-7.", 42) == 0);
	ASSERT(strstr(a.log[1], "application/strategic-merge-patch+json {\"count\":2,") != NULL);
	ASSERT(strstr(a.log[2], "\"fieldPath\":\"spec.containers{app}\"") != NULL);
	ASSERT(strstr(a.log[2], "\"message\":\"Error: 7\"") != NULL);
	json_decref(p);
}

TEST(events_kl_event_without_recorder_is_harmless)
{
	struct kubelet k = { 0 };
	json_t *p = pod("x");

	kl_event(&k, p, "Normal", "Nothing", "no recorder %d", 1);
	events_stop(&k);
	json_decref(p);
}
