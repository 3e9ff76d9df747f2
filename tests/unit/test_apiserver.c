/*
 * The API server in-process, over real HTTP on loopback: request handling
 * that the kubectl e2e test does not reach (error codes for bad input,
 * dry runs, status/main separation, watches with selectors and expired
 * history, binding, graceful deletion, finalizers, service allocation,
 * namespace termination, restarts). Runs under ASan too, so every handler
 * path here is also checked for leaks.
 */
#include "test.h"

#include <pthread.h>
#include <unistd.h>

#include "control/apiserver/server.h"
#include "httpc.h"
#include "jsonx.h"
#include "testsrv.h"

struct rig {
	struct apiserver *srv;
	struct httpc *c;
	char dir[512];
};

static void rig_start_at(struct rig *r, const char *dir, size_t history, size_t max_body)
{
	struct apiserver_config cfg = { .data_dir = dir, .listen = "127.0.0.1:0",
					.no_fsync = true, .history = history,
					.max_body = max_body };
	struct httpc_config hc = { 0 };
	char err[512];

	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	ASSERT_MSG(apiserver_start(&cfg, &r->srv, err, sizeof(err)) == 0, "start: %s", err);
	hc.server = r->srv->url;
	r->c = httpc_new(&hc);
	ASSERT_NOT_NULL(r->c);
}

static void rig_start(struct rig *r)
{
	char dir[512];

	snprintf(dir, sizeof(dir), "%s/data", test_tmpdir());
	rig_start_at(r, dir, 0, 0);
}

static void rig_stop(struct rig *r)
{
	httpc_free(r->c);
	apiserver_stop(r->srv);
}

/* One request; returns the status, *out the parsed body (may be NULL). */
static long call(struct rig *r, const char *method, const char *path, const char *ctype,
		 const char *body, json_t **out)
{
	struct httpc_request req = { .method = method, .path = path, .content_type = ctype,
				     .body = body, .body_len = body ? strlen(body) : 0 };
	struct httpc_response resp;
	long status;

	ASSERT_OK(httpc_do(r->c, &req, &resp));
	status = resp.status;
	if (out)
		*out = resp.body.len ? json_loadb(resp.body.data, resp.body.len, 0, NULL) : NULL;
	httpc_response_free(&resp);
	return status;
}

/* call() expecting a status; returns the body (caller frees). */
static json_t *expect(struct rig *r, long want, const char *method, const char *path,
		      const char *ctype, const char *body)
{
	json_t *out = NULL;
	long got = call(r, method, path, ctype, body, &out);

	if (got != want) {
		char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;

		test_fail(__FILE__, __LINE__, "%s %s: HTTP %ld, want %ld: %s", method, path, got,
			  want, text ? text : "(no body)");
	}
	return out;
}

#define CM(name, extra) \
	"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" name "\"" extra "},\"data\":{\"k\":\"v\"}}"

TEST(apiserver_health_version_and_discovery)
{
	struct rig r = { 0 };
	json_t *o;

	rig_start(&r);
	o = expect(&r, 200, "GET", "/version", NULL, NULL);
	ASSERT_STREQ(jsonx_str(o, "minor", ""), "32");
	json_decref(o);
	ASSERT_EQ(call(&r, "GET", "/healthz", NULL, NULL, NULL), 200);
	ASSERT_EQ(call(&r, "GET", "/readyz", NULL, NULL, NULL), 200);
	o = expect(&r, 200, "GET", "/apis", NULL, NULL);
	ASSERT_STREQ(jsonx_str(o, "kind", ""), "APIGroupList");
	ASSERT(json_array_size(json_object_get(o, "groups")) >= 3);
	json_decref(o);
	o = expect(&r, 200, "GET", "/apis/apps/v1", NULL, NULL);
	ASSERT_STREQ(jsonx_str(o, "groupVersion", ""), "apps/v1");
	json_decref(o);
	o = expect(&r, 200, "GET", "/openapi/v3", NULL, NULL);
	ASSERT_NOT_NULL(jsonx_getv(o, "paths", "apis/apps/v1", NULL));
	json_decref(o);
	o = expect(&r, 200, "GET", "/openapi/v3/apis/apps/v1", NULL, NULL);
	ASSERT_NOT_NULL(jsonx_getv(o, "components", "schemas", "io.k8s.api.apps.v1.Deployment",
				   NULL));
	json_decref(o);
	ASSERT_EQ(call(&r, "GET", "/apis/nope/v1", NULL, NULL, NULL), 404);
	ASSERT_EQ(call(&r, "GET", "/openapi/v2", NULL, NULL, NULL), 404);
	ASSERT_EQ(call(&r, "POST", "/version", "application/json", "{}", NULL), 405);
	rig_stop(&r);
}

TEST(apiserver_crud_conflict_and_noop_update)
{
	struct rig r = { 0 };
	const char *coll = "/api/v1/namespaces/default/configmaps";
	char body[512], rv1[32], rv2[32];
	json_t *o;

	rig_start(&r);
	o = expect(&r, 201, "POST", coll, NULL, CM("a", ""));
	ASSERT(strlen(jsonx_path_str(o, "metadata.uid", "")) == 36);
	ASSERT(*jsonx_path_str(o, "metadata.creationTimestamp", ""));
	snprintf(rv1, sizeof(rv1), "%s", jsonx_path_str(o, "metadata.resourceVersion", ""));
	ASSERT(*rv1);
	json_decref(o);

	/* Stale resourceVersion: 409 Conflict. */
	snprintf(body, sizeof(body), CM("a", ",\"resourceVersion\":\"1\""));
	o = expect(&r, 409, "PUT", "/api/v1/namespaces/default/configmaps/a", NULL, body);
	ASSERT_STREQ(jsonx_str(o, "reason", ""), "Conflict");
	json_decref(o);
	/* No-op update: nothing written, same resourceVersion. */
	snprintf(body, sizeof(body), CM("a", ",\"resourceVersion\":\"%s\""), rv1);
	o = expect(&r, 200, "PUT", "/api/v1/namespaces/default/configmaps/a", NULL, body);
	ASSERT_STREQ(jsonx_path_str(o, "metadata.resourceVersion", ""), rv1);
	json_decref(o);
	/* A real change gets a new resourceVersion. */
	o = expect(&r, 200, "PATCH", "/api/v1/namespaces/default/configmaps/a",
		   "application/merge-patch+json", "{\"data\":{\"k\":\"w\"}}");
	snprintf(rv2, sizeof(rv2), "%s", jsonx_path_str(o, "metadata.resourceVersion", ""));
	ASSERT(atoll(rv2) > atoll(rv1));
	json_decref(o);
	/* Name in body and URL must agree. */
	o = expect(&r, 400, "PUT", "/api/v1/namespaces/default/configmaps/a", NULL, CM("b", ""));
	json_decref(o);
	/* Namespace in body and URL must agree. */
	o = expect(&r, 400, "POST", coll, NULL, CM("c", ",\"namespace\":\"kube-system\""));
	json_decref(o);
	o = expect(&r, 409, "POST", coll, NULL, CM("a", ""));
	ASSERT_STREQ(jsonx_str(o, "reason", ""), "AlreadyExists");
	json_decref(o);
	o = expect(&r, 200, "DELETE", "/api/v1/namespaces/default/configmaps/a", NULL, NULL);
	json_decref(o);
	o = expect(&r, 404, "GET", "/api/v1/namespaces/default/configmaps/a", NULL, NULL);
	ASSERT_STREQ(jsonx_str(o, "message", ""), "configmaps \"a\" not found");
	json_decref(o);
	rig_stop(&r);
}

TEST(apiserver_generate_name_and_dry_run)
{
	struct rig r = { 0 };
	const char *coll = "/api/v1/namespaces/default/configmaps";
	json_t *o;
	char path[256];

	rig_start(&r);
	o = expect(&r, 201, "POST", coll, NULL,
		   "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"generateName\":"
		   "\"gen-\"}}");
	ASSERT_EQ(strlen(jsonx_path_str(o, "metadata.name", "")), 9);
	ASSERT(strncmp(jsonx_path_str(o, "metadata.name", ""), "gen-", 4) == 0);
	json_decref(o);

	o = expect(&r, 201, "POST", "/api/v1/namespaces/default/configmaps?dryRun=All", NULL,
		   CM("dry", ""));
	ASSERT_STREQ(jsonx_path_str(o, "metadata.name", ""), "dry");
	json_decref(o);
	ASSERT_EQ(call(&r, "GET", "/api/v1/namespaces/default/configmaps/dry", NULL, NULL, NULL),
		  404);
	o = expect(&r, 400, "POST", "/api/v1/namespaces/default/configmaps?dryRun=Some", NULL,
		   CM("dry", ""));
	json_decref(o);
	json_decref(expect(&r, 201, "POST", coll, NULL, CM("keep", "")));
	snprintf(path, sizeof(path), "%s/keep?dryRun=All", coll);
	json_decref(expect(&r, 200, "DELETE", path, NULL, NULL));
	ASSERT_EQ(call(&r, "GET", "/api/v1/namespaces/default/configmaps/keep", NULL, NULL, NULL),
		  200);
	rig_stop(&r);
}

static const char deployment[] =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},"
	"\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
	"\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":"
	"[{\"name\":\"c\",\"image\":\"img:1\"}]}}},\"status\":{\"replicas\":9}}";

TEST(apiserver_status_and_spec_are_kept_apart)
{
	struct rig r = { 0 };
	const char *item = "/apis/apps/v1/namespaces/default/deployments/web";
	json_t *o;

	rig_start(&r);
	o = expect(&r, 201, "POST", "/apis/apps/v1/namespaces/default/deployments", NULL,
		   deployment);
	ASSERT_EQ(jsonx_path_int(o, "status.replicas", -1), -1);	/* create ignores status */
	ASSERT_EQ(jsonx_path_int(o, "metadata.generation", 0), 1);
	ASSERT_STREQ(jsonx_path_str(o, "spec.strategy.type", ""), "RollingUpdate");	/* defaulted */
	json_decref(o);

	/* The main resource ignores status. */
	o = expect(&r, 200, "PATCH", item, "application/merge-patch+json",
		   "{\"status\":{\"replicas\":5},\"metadata\":{\"labels\":{\"x\":\"y\"}}}");
	ASSERT_EQ(jsonx_path_int(o, "status.replicas", -1), -1);
	ASSERT_EQ(jsonx_path_int(o, "metadata.generation", 0), 1);	/* no spec change */
	json_decref(o);
	/* /status ignores everything else. */
	o = expect(&r, 200, "PATCH", "/apis/apps/v1/namespaces/default/deployments/web/status",
		   "application/merge-patch+json",
		   "{\"status\":{\"replicas\":5},\"spec\":{\"replicas\":7}}");
	ASSERT_EQ(jsonx_path_int(o, "status.replicas", -1), 5);
	ASSERT_EQ(jsonx_path_int(o, "spec.replicas", -1), 2);
	json_decref(o);
	/* A spec change bumps the generation. */
	o = expect(&r, 200, "PATCH", item, "application/strategic-merge-patch+json",
		   "{\"spec\":{\"replicas\":3}}");
	ASSERT_EQ(jsonx_path_int(o, "metadata.generation", 0), 2);
	ASSERT_EQ(jsonx_path_int(o, "status.replicas", -1), 5);
	json_decref(o);
	/* Scale subresource. */
	o = expect(&r, 200, "GET", "/apis/apps/v1/namespaces/default/deployments/web/scale", NULL,
		   NULL);
	ASSERT_STREQ(jsonx_str(o, "kind", ""), "Scale");
	ASSERT_EQ(jsonx_path_int(o, "spec.replicas", 0), 3);
	ASSERT_STREQ(jsonx_path_str(o, "status.selector", ""), "app=web");
	json_decref(o);
	o = expect(&r, 200, "PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale",
		   "application/merge-patch+json", "{\"spec\":{\"replicas\":6}}");
	ASSERT_EQ(jsonx_path_int(o, "spec.replicas", 0), 6);
	json_decref(o);
	o = expect(&r, 422, "PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale",
		   "application/merge-patch+json", "{\"spec\":{\"replicas\":-1}}");
	json_decref(o);
	rig_stop(&r);
}

TEST(apiserver_bad_input_gets_the_right_status)
{
	struct rig r = { 0 };
	char dir[512], *big;
	json_t *o;

	snprintf(dir, sizeof(dir), "%s/data", test_tmpdir());
	rig_start_at(&r, dir, 0, 64 * 1024);
	o = expect(&r, 404, "GET", "/api/v1/namespaces/default/widgets", NULL, NULL);
	ASSERT_STREQ(jsonx_str(o, "reason", ""), "NotFound");
	json_decref(o);
	json_decref(expect(&r, 404, "GET", "/not/an/api", NULL, NULL));
	json_decref(expect(&r, 405, "PUT", "/api/v1/namespaces/default/configmaps",
			   "application/json", "{}"));
	json_decref(expect(&r, 405, "POST", "/api/v1/pods", "application/json", "{}"));
	o = expect(&r, 400, "POST", "/api/v1/namespaces/default/configmaps", NULL, "{\"a\":");
	ASSERT_STREQ(jsonx_str(o, "reason", ""), "BadRequest");
	json_decref(o);
	json_decref(expect(&r, 400, "POST", "/api/v1/namespaces/default/configmaps", NULL, "[]"));
	json_decref(expect(&r, 400, "POST", "/api/v1/namespaces/default/configmaps",
			   "application/vnd.kubernetes.protobuf", "garbage"));
	json_decref(expect(&r, 415, "POST", "/api/v1/namespaces/default/configmaps",
			   "text/plain", CM("x", "")));
	json_decref(expect(&r, 415, "PATCH", "/api/v1/namespaces/default/configmaps/x",
			   "application/json", "{}"));
	json_decref(expect(&r, 400, "POST", "/api/v1/namespaces/default/configmaps", NULL,
			   "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"p\"}}"));
	/* Too large: refused with 413 before the body is read. */
	big = xmalloc(200 * 1024);
	memset(big, ' ', 200 * 1024 - 1);
	big[200 * 1024 - 1] = '\0';
	big[0] = '{';
	big[200 * 1024 - 2] = '}';
	o = expect(&r, 413, "POST", "/api/v1/namespaces/default/configmaps", NULL, big);
	ASSERT_STREQ(jsonx_str(o, "reason", ""), "RequestEntityTooLarge");
	json_decref(o);
	free(big);
	/* Invalid object: 422 with causes. */
	o = expect(&r, 422, "POST", "/api/v1/namespaces/default/configmaps", NULL,
		   CM("Bad_Name", ""));
	ASSERT_STREQ(jsonx_str(o, "reason", ""), "Invalid");
	ASSERT_STREQ(jsonx_str(json_array_get(jsonx_get_path(o, "details.causes"), 0), "field",
			       ""),
		     "metadata.name");
	json_decref(o);
	/* Wrong JSON type: 400; unknown field with Strict: 400; with Warn: created. */
	json_decref(expect(&r, 400, "POST", "/apis/apps/v1/namespaces/default/deployments", NULL,
			   "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"replicas\":\"two\"}}"));
	json_decref(expect(&r, 400, "POST",
			   "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", NULL,
			   CM("s", ",\"colour\":\"red\"")));
	json_decref(expect(&r, 201, "POST",
			   "/api/v1/namespaces/default/configmaps?fieldValidation=Warn", NULL,
			   CM("s", ",\"colour\":\"red\"")));
	json_decref(expect(&r, 400, "POST",
			   "/api/v1/namespaces/default/configmaps?fieldValidation=Loud", NULL,
			   CM("t", "")));
	/* Missing namespace. */
	o = expect(&r, 404, "POST", "/api/v1/namespaces/nowhere/configmaps", NULL, CM("x", ""));
	ASSERT_STREQ(jsonx_str(o, "message", ""), "namespaces \"nowhere\" not found");
	json_decref(o);
	/* Selectors. */
	json_decref(expect(&r, 400, "GET", "/api/v1/pods?labelSelector=a%20in%20(", NULL, NULL));
	json_decref(expect(&r, 400, "GET", "/api/v1/pods?fieldSelector=spec.bogus%3Dx", NULL,
			   NULL));
	json_decref(expect(&r, 400, "GET", "/api/v1/pods?limit=-1", NULL, NULL));
	json_decref(expect(&r, 400, "GET", "/api/v1/pods?continue=%21%21", NULL, NULL));
	rig_stop(&r);
}

TEST(apiserver_list_selectors_and_pages)
{
	struct rig r = { 0 };
	char body[512], path[512];
	json_t *o;

	rig_start(&r);
	for (int i = 0; i < 5; i++) {
		snprintf(body, sizeof(body),
			 "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"c%d\","
			 "\"labels\":{\"i\":\"%d\",\"even\":\"%s\"}}}",
			 i, i, i % 2 ? "no" : "yes");
		json_decref(expect(&r, 201, "POST", "/api/v1/namespaces/default/configmaps", NULL,
				   body));
	}
	o = expect(&r, 200, "GET", "/api/v1/namespaces/default/configmaps?labelSelector=even%3Dyes",
		   NULL, NULL);
	ASSERT_EQ(json_array_size(json_object_get(o, "items")), 3);
	ASSERT_STREQ(jsonx_str(o, "kind", ""), "ConfigMapList");
	json_decref(o);
	o = expect(&r, 200, "GET", "/api/v1/configmaps?fieldSelector=metadata.name%3Dc3", NULL,
		   NULL);
	ASSERT_EQ(json_array_size(json_object_get(o, "items")), 1);
	json_decref(o);
	/* Pages of two: c0 c1 | c2 c3 | c4. */
	o = expect(&r, 200, "GET", "/api/v1/namespaces/default/configmaps?limit=2", NULL, NULL);
	ASSERT_EQ(json_array_size(json_object_get(o, "items")), 2);
	const char *rv = jsonx_path_str(o, "metadata.resourceVersion", "");
	char first_rv[32];
	snprintf(first_rv, sizeof(first_rv), "%s", rv);
	snprintf(path, sizeof(path), "/api/v1/namespaces/default/configmaps?limit=2&continue=%s",
		 jsonx_path_str(o, "metadata.continue", ""));
	json_decref(o);
	o = expect(&r, 200, "GET", path, NULL, NULL);
	ASSERT_STREQ(jsonx_str(json_array_get(json_object_get(o, "items"), 0), "kind", ""),
		     "ConfigMap");
	ASSERT_STREQ(jsonx_path_str(json_array_get(json_object_get(o, "items"), 0),
				    "metadata.name", ""),
		     "c2");
	ASSERT_STREQ(jsonx_path_str(o, "metadata.resourceVersion", ""), first_rv);
	snprintf(path, sizeof(path), "/api/v1/namespaces/default/configmaps?limit=2&continue=%s",
		 jsonx_path_str(o, "metadata.continue", ""));
	json_decref(o);
	o = expect(&r, 200, "GET", path, NULL, NULL);
	ASSERT_EQ(json_array_size(json_object_get(o, "items")), 1);
	ASSERT_NULL(jsonx_get_path(o, "metadata.continue"));
	json_decref(o);
	/* Table form. */
	struct httpc_request req = { .path = "/api/v1/namespaces/default/configmaps",
				     .accept = "application/json;as=Table;v=v1;g=meta.k8s.io" };
	struct httpc_response resp;
	ASSERT_OK(httpc_do(r.c, &req, &resp));
	o = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	httpc_response_free(&resp);
	ASSERT_STREQ(jsonx_str(o, "kind", ""), "Table");
	ASSERT_EQ(json_array_size(json_object_get(o, "rows")), 5);
	ASSERT_STREQ(jsonx_str(json_array_get(json_object_get(o, "columnDefinitions"), 1), "name",
			       ""),
		     "Data");
	json_decref(o);
	rig_stop(&r);
}

/* Read watch events from a stream into an array, until `want` arrived. */
struct watch_reader {
	json_t *events;
	size_t want;
};

static int on_event(void *ctx, const char *line, size_t len)
{
	struct watch_reader *w = ctx;

	json_array_append_new(w->events, json_loadb(line, len, 0, NULL));
	return json_array_size(w->events) >= w->want;
}

static json_t *watch_events(struct rig *r, const char *path, size_t want)
{
	struct watch_reader w = { json_array(), want };
	struct httpc_config hc = { .server = r->srv->url };
	struct httpc *c = httpc_new(&hc);
	struct httpc_response resp;

	httpc_stream_lines(c, path, on_event, &w, &resp);
	httpc_response_free(&resp);
	httpc_free(c);
	return w.events;
}

static const char *ev_type(json_t *evs, size_t i)
{
	return jsonx_str(json_array_get(evs, i), "type", "?");
}

static const char *ev_name(json_t *evs, size_t i)
{
	return jsonx_path_str(json_array_get(evs, i), "object.metadata.name", "?");
}

TEST(apiserver_watch_selector_transitions)
{
	struct rig r = { 0 };
	const char *item = "/api/v1/namespaces/default/configmaps/w";
	char path[256];
	json_t *o, *evs;
	long long rv;

	rig_start(&r);
	o = expect(&r, 201, "POST", "/api/v1/namespaces/default/configmaps", NULL,
		   CM("w", ",\"labels\":{\"app\":\"x\"}"));
	rv = atoll(jsonx_path_str(o, "metadata.resourceVersion", "0"));
	json_decref(o);
	/* Label changes move w in and out of the selected set. */
	json_decref(expect(&r, 200, "PATCH", item, "application/merge-patch+json",
			   "{\"metadata\":{\"labels\":{\"app\":\"web\"}}}"));
	json_decref(expect(&r, 200, "PATCH", item, "application/merge-patch+json",
			   "{\"data\":{\"k\":\"2\"}}"));
	json_decref(expect(&r, 200, "PATCH", item, "application/merge-patch+json",
			   "{\"metadata\":{\"labels\":{\"app\":\"other\"}}}"));
	json_decref(expect(&r, 200, "DELETE", item, NULL, NULL));

	snprintf(path, sizeof(path),
		 "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=%lld"
		 "&labelSelector=app%%3Dweb&timeoutSeconds=2",
		 rv);
	evs = watch_events(&r, path, 3);
	ASSERT_EQ(json_array_size(evs), 3);
	ASSERT_STREQ(ev_type(evs, 0), "ADDED");	/* started matching */
	ASSERT_STREQ(ev_type(evs, 1), "MODIFIED");
	ASSERT_STREQ(ev_type(evs, 2), "DELETED");	/* stopped matching */
	/* The DELETED carries the last matching content with the new version. */
	ASSERT_STREQ(jsonx_path_str(json_array_get(evs, 2), "object.metadata.labels.app", ""),
		     "web");
	ASSERT_STREQ(jsonx_path_str(json_array_get(evs, 2), "object.data.k", ""), "2");
	json_decref(evs);

	/* Unfiltered: create, 3 modifications, delete; no synthetic ADDED. */
	snprintf(path, sizeof(path),
		 "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=%lld"
		 "&timeoutSeconds=1",
		 rv);
	evs = watch_events(&r, path, 10);
	ASSERT_EQ(json_array_size(evs), 4);
	ASSERT_STREQ(ev_type(evs, 3), "DELETED");
	json_decref(evs);
	rig_stop(&r);
}

TEST(apiserver_watch_from_zero_and_expired_history)
{
	struct rig r = { 0 };
	char dir[512], body[256];
	json_t *evs;

	snprintf(dir, sizeof(dir), "%s/data", test_tmpdir());
	rig_start_at(&r, dir, 4, 0);
	for (int i = 0; i < 8; i++) {
		snprintf(body, sizeof(body), CM("e%d", ""), i);
		json_decref(expect(&r, 201, "POST", "/api/v1/namespaces/default/configmaps", NULL,
				   body));
	}
	/* resourceVersion=0: the current state as ADDED events first. */
	evs = watch_events(&r,
			   "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=0"
			   "&timeoutSeconds=1",
			   100);
	ASSERT_EQ(json_array_size(evs), 8);
	ASSERT_STREQ(ev_type(evs, 0), "ADDED");
	ASSERT_STREQ(ev_name(evs, 0), "e0");
	json_decref(evs);
	/* History keeps 4 events: revision 1 is long gone, 410 Expired. */
	evs = watch_events(&r, "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=1",
			   1);
	ASSERT_STREQ(ev_type(evs, 0), "ERROR");
	ASSERT_EQ(jsonx_path_int(json_array_get(evs, 0), "object.code", 0), 410);
	ASSERT_STREQ(jsonx_path_str(json_array_get(evs, 0), "object.reason", ""), "Expired");
	json_decref(evs);
	rig_stop(&r);
}

static const char pod[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":"
	"{\"containers\":[{\"name\":\"c\",\"image\":\"img\"}]}}";

TEST(apiserver_binding_and_graceful_pod_deletion)
{
	struct rig r = { 0 };
	const char *item = "/api/v1/namespaces/default/pods/p";
	const char *bind = "{\"apiVersion\":\"v1\",\"kind\":\"Binding\",\"metadata\":{\"name\":"
			   "\"p\"},\"target\":{\"kind\":\"Node\",\"name\":\"n1\"}}";
	json_t *o;

	rig_start(&r);
	o = expect(&r, 201, "POST", "/api/v1/namespaces/default/pods", NULL, pod);
	ASSERT_STREQ(jsonx_path_str(o, "status.phase", ""), "Pending");
	ASSERT_STREQ(jsonx_path_str(o, "status.qosClass", ""), "BestEffort");
	ASSERT_STREQ(jsonx_path_str(o, "spec.schedulerName", ""), "default-scheduler");
	json_decref(o);
	/* spec.nodeName cannot be changed by an update... */
	json_decref(expect(&r, 422, "PATCH", item, "application/merge-patch+json",
			   "{\"spec\":{\"nodeName\":\"n9\"}}"));
	/* ...only by binding, once. */
	json_decref(expect(&r, 201, "POST", "/api/v1/namespaces/default/pods/p/binding", NULL,
			   bind));
	o = expect(&r, 200, "GET", item, NULL, NULL);
	ASSERT_STREQ(jsonx_path_str(o, "spec.nodeName", ""), "n1");
	ASSERT_STREQ(jsonx_path_str(json_array_get(jsonx_get_path(o, "status.conditions"), 0),
				    "type", ""),
		     "PodScheduled");
	json_decref(o);
	o = expect(&r, 409, "POST", "/api/v1/namespaces/default/pods/p/binding", NULL, bind);
	ASSERT(strstr(jsonx_str(o, "message", ""), "already assigned to node \"n1\""));
	json_decref(o);
	/* Bound pod: DELETE marks it (grace period), the kubelet's grace 0 removes it. */
	o = expect(&r, 200, "DELETE", item, NULL, NULL);
	ASSERT(*jsonx_path_str(o, "metadata.deletionTimestamp", ""));
	ASSERT_EQ(jsonx_path_int(o, "metadata.deletionGracePeriodSeconds", 0), 30);
	json_decref(o);
	ASSERT_EQ(call(&r, "GET", item, NULL, NULL, NULL), 200);
	json_decref(expect(&r, 409, "POST", "/api/v1/namespaces/default/pods/p/binding", NULL,
			   bind));
	json_decref(expect(&r, 200, "DELETE", item, "application/json",
			   "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\","
			   "\"gracePeriodSeconds\":0}"));
	ASSERT_EQ(call(&r, "GET", item, NULL, NULL, NULL), 404);
	/* Eviction of an unbound pod deletes it at once. */
	json_decref(expect(&r, 201, "POST", "/api/v1/namespaces/default/pods", NULL, pod));
	json_decref(expect(&r, 201, "POST", "/api/v1/namespaces/default/pods/p/eviction", NULL,
			   "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":"
			   "{\"name\":\"p\"}}"));
	ASSERT_EQ(call(&r, "GET", item, NULL, NULL, NULL), 404);
	rig_stop(&r);
}

TEST(apiserver_finalizers_and_propagation)
{
	struct rig r = { 0 };
	const char *item = "/api/v1/namespaces/default/configmaps/f";
	json_t *o;

	rig_start(&r);
	json_decref(expect(&r, 201, "POST", "/api/v1/namespaces/default/configmaps", NULL,
			   CM("f", ",\"finalizers\":[\"example.com/hold\"]")));
	o = expect(&r, 200, "DELETE", item, NULL, NULL);
	ASSERT(*jsonx_path_str(o, "metadata.deletionTimestamp", ""));
	json_decref(o);
	ASSERT_EQ(call(&r, "GET", item, NULL, NULL, NULL), 200);
	/* Removing the last finalizer deletes it. */
	json_decref(expect(&r, 200, "PATCH", item, "application/merge-patch+json",
			   "{\"metadata\":{\"finalizers\":null}}"));
	ASSERT_EQ(call(&r, "GET", item, NULL, NULL, NULL), 404);

	/* Foreground: 202 and the foregroundDeletion finalizer until GC is done. */
	json_decref(expect(&r, 201, "POST", "/api/v1/namespaces/default/configmaps", NULL,
			   CM("f", "")));
	o = expect(&r, 202, "DELETE", item, "application/json",
		   "{\"propagationPolicy\":\"Foreground\"}");
	ASSERT_STREQ(json_string_value(json_array_get(jsonx_get_path(o, "metadata.finalizers"),
						      0)),
		     "foregroundDeletion");
	json_decref(o);
	json_decref(expect(&r, 422, "DELETE", item, "application/json",
			   "{\"propagationPolicy\":\"Sideways\"}"));
	/* Preconditions. */
	json_decref(expect(&r, 409, "DELETE", item, "application/json",
			   "{\"preconditions\":{\"uid\":\"not-the-uid\"}}"));
	rig_stop(&r);
}

TEST(apiserver_service_addresses_and_ports)
{
	struct rig r = { 0 };
	const char *coll = "/api/v1/namespaces/default/services";
	json_t *o;

	rig_start(&r);
#define SVC(name, spec)                                                                      \
	"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"" name "\"},"    \
	"\"spec\":{" spec "}}"
	o = expect(&r, 201, "POST", coll, NULL,
		   SVC("a", "\"selector\":{\"app\":\"a\"},\"ports\":[{\"port\":80}]"));
	ASSERT(strncmp(jsonx_path_str(o, "spec.clusterIP", ""), "10.", 3) == 0);
	ASSERT_EQ(jsonx_path_int(o, "spec.ports[0].targetPort", 0), 80);
	json_decref(o);
	json_decref(expect(&r, 201, "POST", coll, NULL,
			   SVC("b", "\"clusterIP\":\"10.96.5.5\",\"ports\":[{\"port\":80}]")));
	o = expect(&r, 422, "POST", coll, NULL,
		   SVC("c", "\"clusterIP\":\"10.96.5.5\",\"ports\":[{\"port\":80}]"));
	ASSERT(strstr(jsonx_str(o, "message", ""), "provided IP is already allocated"));
	json_decref(o);
	o = expect(&r, 422, "POST", coll, NULL,
		   SVC("c", "\"clusterIP\":\"192.168.1.1\",\"ports\":[{\"port\":80}]"));
	ASSERT(strstr(jsonx_str(o, "message", ""), "not in the valid range"));
	json_decref(o);
	json_decref(expect(&r, 201, "POST", coll, NULL,
			   SVC("h", "\"clusterIP\":\"None\",\"ports\":[{\"port\":80}]")));
	o = expect(&r, 201, "POST", coll, NULL,
		   SVC("np", "\"type\":\"NodePort\",\"ports\":[{\"name\":\"a\",\"port\":80,\"nodePort\":30500},"
			     "{\"name\":\"b\",\"port\":81}],\"selector\":{\"a\":\"b\"}"));
	ASSERT_EQ(jsonx_path_int(o, "spec.ports[0].nodePort", 0), 30500);
	ASSERT(jsonx_path_int(o, "spec.ports[1].nodePort", 0) >= 30000);
	json_decref(o);
	json_decref(expect(&r, 422, "POST", coll, NULL,
			   SVC("np2", "\"type\":\"NodePort\",\"ports\":[{\"port\":80,"
				      "\"nodePort\":30500}]")));
	/* An update that leaves clusterIP and nodePort out keeps them. */
	o = expect(&r, 200, "GET", "/api/v1/namespaces/default/services/np", NULL, NULL);
	char ip[32];
	snprintf(ip, sizeof(ip), "%s", jsonx_path_str(o, "spec.clusterIP", ""));
	json_decref(o);
	o = expect(&r, 200, "PUT", "/api/v1/namespaces/default/services/np", NULL,
		   SVC("np", "\"type\":\"NodePort\",\"ports\":[{\"name\":\"a\",\"port\":80},{\"name\":\"b\","
			     "\"port\":81}],\"selector\":{\"a\":\"c\"}"));
	ASSERT_STREQ(jsonx_path_str(o, "spec.clusterIP", ""), ip);
	ASSERT_EQ(jsonx_path_int(o, "spec.ports[0].nodePort", 0), 30500);
	json_decref(o);
	/* Deleting releases: the port can be asked for again. */
	json_decref(expect(&r, 200, "DELETE", "/api/v1/namespaces/default/services/np", NULL,
			   NULL));
	json_decref(expect(&r, 201, "POST", coll, NULL,
			   SVC("np2", "\"type\":\"NodePort\",\"ports\":[{\"port\":80,"
				      "\"nodePort\":30500}]")));
	rig_stop(&r);
}

TEST(apiserver_namespace_termination)
{
	struct rig r = { 0 };
	json_t *o;

	rig_start(&r);
	o = expect(&r, 201, "POST", "/api/v1/namespaces", NULL,
		   "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"t\"}}");
	ASSERT_STREQ(jsonx_path_str(o, "metadata.labels.kubernetes\\.io/metadata\\.name", ""),
		     "t");
	json_decref(o);
	o = expect(&r, 200, "DELETE", "/api/v1/namespaces/t", NULL, NULL);
	ASSERT_STREQ(jsonx_path_str(o, "status.phase", ""), "Terminating");
	json_decref(o);
	o = expect(&r, 403, "POST", "/api/v1/namespaces/t/configmaps", NULL, CM("x", ""));
	ASSERT(strstr(jsonx_str(o, "message", ""), "because it is being terminated"));
	json_decref(o);
	/* The namespace controller's last step: clear spec.finalizers. */
	o = expect(&r, 200, "GET", "/api/v1/namespaces/t", NULL, NULL);
	json_object_set_new(json_object_get(o, "spec"), "finalizers", json_array());
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	json_decref(expect(&r, 200, "PUT", "/api/v1/namespaces/t/finalize", NULL, text));
	free(text);
	ASSERT_EQ(call(&r, "GET", "/api/v1/namespaces/t", NULL, NULL, NULL), 404);
	rig_stop(&r);
}

TEST(apiserver_restart_keeps_objects_and_revisions)
{
	struct rig r = { 0 };
	char dir[512], rv[32];
	json_t *o;

	snprintf(dir, sizeof(dir), "%s/data", test_tmpdir());
	rig_start_at(&r, dir, 0, 0);
	o = expect(&r, 201, "POST", "/api/v1/namespaces/default/configmaps", NULL, CM("keep", ""));
	snprintf(rv, sizeof(rv), "%s", jsonx_path_str(o, "metadata.resourceVersion", ""));
	json_decref(o);
	json_decref(expect(&r, 201, "POST", "/api/v1/namespaces/default/services", NULL,
			   SVC("s", "\"clusterIP\":\"10.96.7.7\",\"ports\":[{\"port\":80}]")));
	rig_stop(&r);

	rig_start_at(&r, dir, 0, 0);
	o = expect(&r, 200, "GET", "/api/v1/namespaces/default/configmaps/keep", NULL, NULL);
	ASSERT_STREQ(jsonx_path_str(o, "metadata.resourceVersion", ""), rv);
	json_decref(o);
	o = expect(&r, 201, "POST", "/api/v1/namespaces/default/configmaps", NULL, CM("new", ""));
	ASSERT(atoll(jsonx_path_str(o, "metadata.resourceVersion", "0")) > atoll(rv));
	json_decref(o);
	/* Allocations were rebuilt from the stored services. */
	json_decref(expect(&r, 422, "POST", "/api/v1/namespaces/default/services", NULL,
			   SVC("s2", "\"clusterIP\":\"10.96.7.7\",\"ports\":[{\"port\":80}]")));
	rig_stop(&r);
}

/* A kubelet stand-in: answers /containerLogs/NS/POD/C with a fixed text. */
static enum MHD_Result fake_kubelet(void *ctx, const struct testsrv_request *req)
{
	if (strcmp(req->url, "/containerLogs/default/p/c") == 0)
		return testsrv_reply(req->conn, 200, "text/plain", "line one\nline two\n");
	return testsrv_reply(req->conn, 404, "text/plain", "container not found");
}

TEST(apiserver_pod_logs_are_proxied_from_the_kubelet)
{
	struct rig r = { 0 };
	struct testsrv *kubelet = testsrv_start(fake_kubelet, NULL);
	struct httpc_request req = { .path = "/api/v1/namespaces/default/pods/p/log" };
	struct httpc_response resp;
	unsigned port;
	char node[512];

	ASSERT_NOT_NULL(kubelet);
	ASSERT_EQ(sscanf(testsrv_url(kubelet), "http://127.0.0.1:%u", &port), 1);
	rig_start(&r);
	snprintf(node, sizeof(node),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\"},"
		 "\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"127.0.0.1\"}],"
		 "\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":%u}}}}",
		 port);
	json_decref(expect(&r, 201, "POST", "/api/v1/nodes", NULL, node));
	/* Node status is set through /status, as the kubelet does. */
	json_decref(expect(&r, 200, "PUT", "/api/v1/nodes/n1/status", NULL, node));
	json_decref(expect(&r, 201, "POST", "/api/v1/namespaces/default/pods", NULL, pod));
	/* Not scheduled yet: 400. */
	ASSERT_OK(httpc_do(r.c, &req, &resp));
	ASSERT_EQ(resp.status, 400);
	httpc_response_free(&resp);
	json_decref(expect(&r, 201, "POST", "/api/v1/namespaces/default/pods/p/binding", NULL,
			   "{\"metadata\":{\"name\":\"p\"},\"target\":{\"name\":\"n1\"}}"));
	ASSERT_OK(httpc_do(r.c, &req, &resp));
	ASSERT_EQ(resp.status, 200);
	ASSERT_STREQ(resp.body.data, "line one\nline two\n");
	httpc_response_free(&resp);
	req.path = "/api/v1/namespaces/default/pods/p/log?container=other";
	ASSERT_OK(httpc_do(r.c, &req, &resp));
	ASSERT_EQ(resp.status, 404);
	httpc_response_free(&resp);
	rig_stop(&r);
	testsrv_stop(kubelet);
}

TEST(apiserver_aggregated_discovery)
{
	struct rig r = { 0 };
	struct httpc_request req = {
		.path = "/apis",
		.accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
			  "application/json",
	};
	struct httpc_response resp;
	json_t *o, *g, *res;
	size_t i, j;
	bool found_scale = false;

	rig_start(&r);
	ASSERT_OK(httpc_do(r.c, &req, &resp));
	ASSERT_EQ(resp.status, 200);
	ASSERT(strstr(resp.content_type, "as=APIGroupDiscoveryList") != NULL);
	o = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	httpc_response_free(&resp);
	ASSERT_STREQ(jsonx_str(o, "apiVersion", ""), "apidiscovery.k8s.io/v2");
	json_array_foreach(json_object_get(o, "items"), i, g) {
		if (strcmp(jsonx_path_str(g, "metadata.name", ""), "apps") != 0)
			continue;
		json_array_foreach(jsonx_get_path(g, "versions[0].resources"), j, res) {
			if (strcmp(jsonx_str(res, "resource", ""), "deployments") == 0) {
				ASSERT_STREQ(jsonx_str(res, "scope", ""), "Namespaced");
				ASSERT_STREQ(jsonx_path_str(res, "subresources[1].responseKind.kind",
							    ""),
					     "Scale");
				found_scale = true;
			}
		}
	}
	ASSERT(found_scale);
	json_decref(o);
	/* Without the aggregated media type: the legacy APIGroupList. */
	o = expect(&r, 200, "GET", "/api", NULL, NULL);
	ASSERT_STREQ(jsonx_str(o, "kind", ""), "APIVersions");
	json_decref(o);
	rig_stop(&r);
}

TEST(apiserver_patch_with_a_uid_is_a_precondition)
{
	struct rig r = { 0 };
	const char *item = "/api/v1/namespaces/default/configmaps/u";
	char patch[256];
	json_t *o;

	rig_start(&r);
	o = expect(&r, 201, "POST", "/api/v1/namespaces/default/configmaps", NULL, CM("u", ""));
	snprintf(patch, sizeof(patch), "{\"metadata\":{\"uid\":\"%s\",\"labels\":{\"a\":\"b\"}}}",
		 jsonx_path_str(o, "metadata.uid", ""));
	json_decref(o);
	json_decref(expect(&r, 200, "PATCH", item, "application/merge-patch+json", patch));
	o = expect(&r, 409, "PATCH", item, "application/strategic-merge-patch+json",
		   "{\"metadata\":{\"uid\":\"00000000-0000-4000-8000-000000000000\"}}");
	ASSERT(strstr(jsonx_str(o, "message", ""), "Precondition failed: UID"));
	json_decref(o);
	rig_stop(&r);
}
