/*
 * Unit tests for control/controllers/cm.c against the real API server run
 * in-process: configuration errors, informer fan-out to every registered
 * handler set, cached reads with namespace and selector filters, the API
 * helpers (create, update, three patch types, delete, raw requests, bad
 * arguments), Events with repeats counted, and stopping.
 */
#include "test.h"

#include <stdatomic.h>
#include <unistd.h>

#include "control/apiserver/server.h"
#include "control/controllers/cm.h"
#include "jsonx.h"
#include "kubeconfig.h"

struct rig {
	struct apiserver *srv;
	struct cm *cm;
	char kubeconfig[512];
};

static void rig_start(struct rig *r)
{
	struct apiserver_config cfg = { .listen = "127.0.0.1:0", .no_fsync = true };
	char dir[512], err[512];

	snprintf(dir, sizeof(dir), "%s/data", test_tmpdir());
	cfg.data_dir = dir;
	ASSERT_MSG(apiserver_start(&cfg, &r->srv, err, sizeof(err)) == 0, "start: %s", err);
	snprintf(r->kubeconfig, sizeof(r->kubeconfig), "%s/kubeconfig", test_tmpdir());
	ASSERT_OK(kubeconfig_write(r->kubeconfig, r->srv->url, NULL, NULL, NULL, NULL));
}

static void rig_cm(struct rig *r)
{
	struct cm_config cfg = { .kubeconfig = r->kubeconfig };
	char err[512];

	ASSERT_MSG(cm_new(&cfg, &r->cm, err, sizeof(err)) == 0, "cm_new: %s", err);
}

static void rig_stop(struct rig *r)
{
	cm_free(r->cm);
	apiserver_stop(r->srv);
}

static json_t *cm_obj(const char *ns, const char *name, const char *app)
{
	/* Freed by the caller, or by create_cm. */
	return json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:s}}", "apiVersion", "v1", "kind",
			 "ConfigMap", "metadata", "name", name, "namespace", ns, "labels", "app",
			 app, "data", "k", "v");
}

/* Create a ConfigMap, returning the status; the object is consumed. */
static int create_cm(struct cm *cm, json_t *obj, json_t **out)
{
	int rc = cm_create(cm, CM_CONFIGMAPS, obj, out);

	json_decref(obj);
	return rc;
}

TEST(cm_config_errors)
{
	struct cm_config cfg = { 0 };
	struct cm *cm = NULL;
	char err[512] = "", path[512];
	FILE *f;

	ASSERT_EQ(cm_new(&cfg, &cm, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "--kubeconfig") != NULL);
	snprintf(path, sizeof(path), "%s/missing", test_tmpdir());
	cfg.kubeconfig = path;
	ASSERT_EQ(cm_new(&cfg, &cm, err, sizeof(err)), -ENOENT);
	ASSERT(strstr(err, "missing") != NULL);
	snprintf(path, sizeof(path), "%s/bad", test_tmpdir());
	f = fopen(path, "w");
	fputs("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "
	      "\"ftp://x\"}}]\n"
	      "users: [{name: u, user: {}}]\ncontexts: [{name: c, context: {cluster: c, user: "
	      "u}}]\n"
	      "current-context: c\n",
	      f);
	fclose(f);
	ASSERT_EQ(cm_new(&cfg, &cm, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "server URL") != NULL);
	ASSERT_NULL(cm);
	/* Names and paths of the resource table. */
	ASSERT_STREQ(cm_resource_path(CM_DEPLOYMENTS), "/apis/apps/v1/deployments");
	ASSERT_STREQ(cm_resource_kind(CM_ENDPOINTSLICES), "EndpointSlice");
	ASSERT_STREQ(cm_resource_api_version(CM_LEASES), "coordination.k8s.io/v1");
	ASSERT_NULL(cm_resource_path(CM__RESOURCES));
}

struct counts {
	atomic_int add, update, del;
};

static void c_add(void *ctx, const json_t *obj)
{
	atomic_fetch_add(&((struct counts *)ctx)->add, 1);
}

static void c_update(void *ctx, const json_t *o, const json_t *n)
{
	atomic_fetch_add(&((struct counts *)ctx)->update, 1);
}

static void c_del(void *ctx, const json_t *obj)
{
	atomic_fetch_add(&((struct counts *)ctx)->del, 1);
}

static bool wait_count(atomic_int *v, int want)
{
	for (int i = 0; i < 500; i++) {
		if (atomic_load(v) >= want)
			return atomic_load(v) == want;
		usleep(10000);
	}
	return false;
}

TEST(cm_informers_fan_out_to_every_handler_and_cache_reads)
{
	static const struct informer_handlers h = { c_add, c_update, c_del };
	struct counts a = { 0 }, b = { 0 };
	struct rig r = { 0 };
	json_t *out = NULL, *list, *sel;

	rig_start(&r);
	rig_cm(&r);
	cm_watch(r.cm, CM_CONFIGMAPS, &h, &a);
	cm_watch(r.cm, CM_CONFIGMAPS, &h, &b);
	cm_watch(r.cm, CM_NAMESPACES, NULL, NULL); /* cache only */
	ASSERT_OK(cm_start(r.cm, 10000));
	ASSERT_EQ(cm_start(r.cm, 10000), -EALREADY);
	out = cm_get(r.cm, CM_NAMESPACES, NULL, "default");
	ASSERT_NOT_NULL(out);
	json_decref(out);

	ASSERT_EQ(create_cm(r.cm, cm_obj("default", "one", "web"), &out), 201);
	json_decref(out);
	ASSERT_EQ(create_cm(r.cm, cm_obj("kube-system", "two", "db"), NULL), 201);
	ASSERT(wait_count(&a.add, 2));
	ASSERT(wait_count(&b.add, 2));

	/* Cache reads: by name, by namespace, by selector. */
	out = cm_get(r.cm, CM_CONFIGMAPS, "default", "one");
	ASSERT_STREQ(jsonx_path_str(out, "data.k", ""), "v");
	json_decref(out);
	ASSERT_NULL(cm_get(r.cm, CM_CONFIGMAPS, "default", "two"));
	ASSERT_NULL(cm_get(r.cm, CM_PODS, "default", "one")); /* not watched */
	list = cm_list(r.cm, CM_CONFIGMAPS, "kube-system", NULL);
	ASSERT_EQ(json_array_size(list), 1);
	json_decref(list);
	sel = json_pack("{s:{s:s}}", "matchLabels", "app", "web");
	list = cm_list(r.cm, CM_CONFIGMAPS, NULL, sel);
	ASSERT_EQ(json_array_size(list), 1);
	ASSERT_STREQ(jsonx_path_str(json_array_get(list, 0), "metadata.name", ""), "one");
	json_decref(list);
	json_decref(sel);
	/* A bad selector selects nothing rather than everything. */
	sel = json_pack("{s:[{s:s,s:s}]}", "matchExpressions", "key", "app", "operator", "In");
	list = cm_list(r.cm, CM_CONFIGMAPS, NULL, sel);
	ASSERT_EQ(json_array_size(list), 0);
	json_decref(list);
	json_decref(sel);

	/* Patches of each type, an update, a delete: every handler set sees them. */
	sel = json_pack("{s:{s:s}}", "data", "k", "merged");
	ASSERT_EQ(cm_patch(r.cm, CM_CONFIGMAPS, "default", "one", NULL, "merge", sel, NULL), 200);
	json_decref(sel);
	sel = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "tier", "x");
	ASSERT_EQ(cm_patch(r.cm, CM_CONFIGMAPS, "default", "one", NULL, "strategic", sel, &out),
		  200);
	ASSERT_STREQ(jsonx_path_str(out, "metadata.labels.app", ""), "web");
	ASSERT_STREQ(jsonx_path_str(out, "metadata.labels.tier", ""), "x");
	json_decref(sel);
	sel = json_pack("[{s:s,s:s,s:s}]", "op", "replace", "path", "/data/k", "value", "json");
	json_object_set_new(json_object_get(out, "data"), "k", json_string("stale"));
	ASSERT_EQ(cm_patch(r.cm, CM_CONFIGMAPS, "default", "one", NULL, "json", sel, NULL), 200);
	json_decref(sel);
	/* An update with the old resourceVersion conflicts. */
	ASSERT_EQ(cm_update(r.cm, CM_CONFIGMAPS, out, NULL, NULL), 409);
	json_decref(out);
	ASSERT(wait_count(&a.update, 3));
	ASSERT(wait_count(&b.update, 3));
	ASSERT_EQ(cm_delete(r.cm, CM_CONFIGMAPS, "default", "one", NULL, NULL), 200);
	ASSERT_EQ(cm_delete(r.cm, CM_CONFIGMAPS, "default", "one", NULL, NULL), 404);
	ASSERT(wait_count(&a.del, 1));
	ASSERT(wait_count(&b.del, 1));
	rig_stop(&r);
}

TEST(cm_api_helpers_refuse_bad_arguments)
{
	struct rig r = { 0 };
	json_t *obj = cm_obj("default", "x", "a"), *out = (json_t *)1;

	rig_start(&r);
	rig_cm(&r);
	ASSERT_EQ(cm_patch(r.cm, CM_CONFIGMAPS, "default", "x", NULL, "yaml", obj, &out), -EINVAL);
	ASSERT_NULL(out);
	ASSERT_EQ(cm_patch(r.cm, CM_CONFIGMAPS, "default", NULL, NULL, "merge", obj, NULL),
		  -EINVAL);
	ASSERT_EQ(cm_delete(r.cm, CM_CONFIGMAPS, NULL, "x", NULL, NULL), -EINVAL); /* namespaced */
	ASSERT_EQ(cm_delete(r.cm, CM_CONFIGMAPS, "default", "a/b", NULL, NULL), -EINVAL);
	ASSERT_EQ(cm_delete(r.cm, CM_CONFIGMAPS, "default", "a?b", NULL, NULL), -EINVAL);
	ASSERT_EQ(cm_delete(r.cm, CM__RESOURCES, "default", "x", NULL, NULL), -EINVAL);
	ASSERT_EQ(cm_create(r.cm, CM_CONFIGMAPS, NULL, NULL), -EINVAL);
	json_object_del(json_object_get(obj, "metadata"), "name");
	ASSERT_EQ(cm_update(r.cm, CM_CONFIGMAPS, obj, NULL, NULL), -EINVAL);
	ASSERT_EQ(cm_request(r.cm, "GET", "version", NULL, NULL), -EINVAL);
	ASSERT_EQ(cm_request(r.cm, "GET", "/version", NULL, &out), 200);
	ASSERT_STREQ(jsonx_str(out, "major", ""), "1");
	json_decref(out);
	/* Invalid objects come back as the server's status code. */
	ASSERT_EQ(cm_create(r.cm, CM_CONFIGMAPS, obj, &out), 422);
	ASSERT_STREQ(jsonx_str(out, "kind", ""), "Status");
	json_decref(out);
	json_decref(obj);
	/* Reads of a resource nobody watches are empty, not errors. */
	obj = cm_list(r.cm, CM_SECRETS, NULL, NULL);
	ASSERT_EQ(json_array_size(obj), 0);
	json_decref(obj);
	/* After stop, calls fail fast. */
	cm_stop(r.cm);
	ASSERT(cm_stopping(r.cm));
	ASSERT_EQ(cm_request(r.cm, "GET", "/version", NULL, NULL), -ECANCELED);
	rig_stop(&r);
}

static json_t *events_about(struct rig *r, const char *name)
{
	json_t *out = NULL, *items, *e, *found = json_array();
	size_t i;

	ASSERT_EQ(cm_request(r->cm, "GET", "/api/v1/namespaces/default/events", NULL, &out), 200);
	items = json_object_get(out, "items");
	json_array_foreach(items, i, e) {
		if (strcmp(jsonx_path_str(e, "involvedObject.name", ""), name) == 0)
			json_array_append(found, e);
	}
	json_decref(out);
	return found;
}

TEST(cm_events_are_sent_in_the_background_and_repeats_counted)
{
	struct rig r = { 0 };
	json_t *obj, *evs = NULL, *e;
	int i;

	rig_start(&r);
	rig_cm(&r);
	ASSERT_OK(cm_start(r.cm, 10000));
	ASSERT_EQ(create_cm(r.cm, cm_obj("default", "ev", "a"), &obj), 201);
	cm_event(r.cm, "test-controller", obj, "Normal", "Tested", "it works %d", 1);
	cm_event(r.cm, "test-controller", obj, "Normal", "Tested", "it works %d", 1);
	cm_event(r.cm, "test-controller", obj, "Normal", "Tested", "it works %d", 1);
	cm_event(r.cm, "test-controller", obj, "Warning", "Tested", "it works %d", 2);
	/* Bad input is dropped, not sent. */
	cm_event(r.cm, "test-controller", NULL, "Normal", "Tested", "x");
	cm_event(r.cm, "test-controller", obj, "Normal", NULL, "x");
	for (i = 0; i < 300; i++) {
		json_decref(evs);
		evs = events_about(&r, "ev");
		if (json_array_size(evs) == 2 &&
		    jsonx_int(json_array_get(evs, 0), "count", 0) +
				    jsonx_int(json_array_get(evs, 1), "count", 0) ==
			    4)
			break;
		usleep(10000);
	}
	ASSERT_EQ(json_array_size(evs), 2);
	json_array_foreach(evs, i, e) {
		bool warn = strcmp(jsonx_str(e, "type", ""), "Warning") == 0;

		ASSERT_EQ(jsonx_int(e, "count", 0), warn ? 1 : 3);
		ASSERT_STREQ(jsonx_str(e, "message", ""), warn ? "it works 2" : "it works 1");
		ASSERT_STREQ(jsonx_str(e, "reason", ""), "Tested");
		ASSERT_STREQ(jsonx_path_str(e, "source.component", ""), "test-controller");
		ASSERT_STREQ(jsonx_path_str(e, "involvedObject.kind", ""), "ConfigMap");
		ASSERT_STREQ(jsonx_path_str(e, "involvedObject.uid", ""),
			     jsonx_path_str(obj, "metadata.uid", "x"));
		ASSERT(jsonx_str(e, "firstTimestamp", NULL) != NULL);
	}
	json_decref(evs);
	json_decref(obj);
	rig_stop(&r);
}
