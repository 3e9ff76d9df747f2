/* Unit tests for API server pieces: routes, allocators, Status messages. */
#include "test.h"

#include "control/apiserver/alloc.h"
#include "control/apiserver/http.h"
#include "control/apiserver/registry.h"
#include "control/apiserver/status.h"
#include "jsonx.h"
#include "util.h"

TEST(route_parse_api_paths)
{
	struct route rt;

	ASSERT(route_parse("/version", &rt) && rt.kind == ROUTE_VERSION);
	ASSERT(route_parse("/readyz/ping", &rt) && rt.kind == ROUTE_HEALTH);
	ASSERT(route_parse("/api", &rt) && rt.kind == ROUTE_API);
	ASSERT(route_parse("/apis/", &rt) && rt.kind == ROUTE_APIS);
	ASSERT(route_parse("/apis/apps", &rt) && rt.kind == ROUTE_GROUP);
	ASSERT_STREQ(rt.group, "apps");
	ASSERT(route_parse("/api/v1", &rt) && rt.kind == ROUTE_GROUP_VERSION);
	ASSERT_STREQ(rt.version, "v1");
	ASSERT(route_parse("/openapi/v3/apis/apps/v1", &rt) && rt.kind == ROUTE_OPENAPI_V3_GV);
	ASSERT_STREQ(rt.group, "apps");

	ASSERT(route_parse("/api/v1/namespaces/ns1/pods/p1/status", &rt));
	ASSERT_EQ(rt.kind, ROUTE_RESOURCE);
	ASSERT_STREQ(rt.ns, "ns1");
	ASSERT_STREQ(rt.resource, "pods");
	ASSERT_STREQ(rt.name, "p1");
	ASSERT_STREQ(rt.sub, "status");
	ASSERT_NOT_NULL(rt.res);
	ASSERT_STREQ(rt.res->kind, "Pod");

	/* namespaces/NAME/status is the namespace's own subresource. */
	ASSERT(route_parse("/api/v1/namespaces/ns1/status", &rt));
	ASSERT_STREQ(rt.resource, "namespaces");
	ASSERT_STREQ(rt.name, "ns1");
	ASSERT_STREQ(rt.sub, "status");
	ASSERT_STREQ(rt.ns, "");
	ASSERT(route_parse("/api/v1/namespaces/ns1", &rt));
	ASSERT_STREQ(rt.resource, "namespaces");
	ASSERT_STREQ(rt.name, "ns1");
	ASSERT(route_parse("/api/v1/namespaces/ns1/pods", &rt));
	ASSERT_STREQ(rt.resource, "pods");
	ASSERT_STREQ(rt.name, "");

	ASSERT(route_parse("/apis/apps/v1/namespaces/d/deployments/web/scale", &rt));
	ASSERT_STREQ(rt.res->name, "deployments");
	ASSERT_STREQ(rt.sub, "scale");
	ASSERT(route_parse("/apis/apps/v1/deployments", &rt));
	ASSERT_STREQ(rt.ns, "");

	/* Unknown resources parse with res == NULL (404 later). */
	ASSERT(route_parse("/apis/apps/v1/namespaces/d/widgets", &rt));
	ASSERT_NULL(rt.res);
	ASSERT(route_parse("/api/v2/pods", &rt));
	ASSERT_NULL(rt.res);

	/* Not API paths at all. */
	ASSERT(!route_parse("/", &rt));
	ASSERT(!route_parse("/metrics", &rt));
	ASSERT(!route_parse("/api/v1/namespaces/a/pods/b/c/d", &rt));
	char longp[2048];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	ASSERT(!route_parse(longp, &rt));
}

TEST(registry_keys_and_field_values)
{
	const struct resource *pods = registry_find("", "v1", "pods");
	const struct resource *nodes = registry_find("", "v1", "nodes");
	json_t *pod = json_pack("{s:{s:s},s:{s:s},s:{s:s}}", "metadata", "name", "p", "spec",
				"nodeName", "n1", "status", "phase", "Running");
	char key[128], scratch[32];

	ASSERT_NOT_NULL(pods);
	ASSERT_NULL(registry_find("", "v1", "deployments"));
	ASSERT_NOT_NULL(registry_find_kind("apps", "Deployment"));
	registry_key(pods, "ns", "p", key, sizeof(key));
	ASSERT_STREQ(key, "/registry/pods/ns/p");
	registry_key(pods, NULL, NULL, key, sizeof(key));
	ASSERT_STREQ(key, "/registry/pods/");
	registry_key(nodes, "ignored", "n1", key, sizeof(key));
	ASSERT_STREQ(key, "/registry/nodes/n1");

	ASSERT_STREQ(registry_field_value(pods, pod, "spec.nodeName", scratch, sizeof(scratch)),
		     "n1");
	ASSERT_STREQ(registry_field_value(pods, pod, "status.phase", scratch, sizeof(scratch)),
		     "Running");
	ASSERT_STREQ(registry_field_value(pods, pod, "spec.hostNetwork", scratch,
					  sizeof(scratch)),
		     "false");
	ASSERT_STREQ(registry_field_value(pods, pod, "spec.restartPolicy", scratch,
					  sizeof(scratch)),
		     "");
	ASSERT_NULL(registry_field_value(pods, pod, "spec.bogus", scratch, sizeof(scratch)));
	ASSERT_NULL(registry_field_value(nodes, pod, "metadata.namespace", scratch,
					 sizeof(scratch)));
	json_decref(pod);
}

TEST(ipalloc_ranges_and_errors)
{
	struct ipalloc a;
	char ip[32], first[32];
	int n = 0;

	ASSERT_EQ(ipalloc_init(&a, "10.96.0.0"), -EINVAL);
	ASSERT_EQ(ipalloc_init(&a, "10.96.0.0/7"), -EINVAL);
	ASSERT_EQ(ipalloc_init(&a, "10.96.0.0/30"), -EINVAL);
	ASSERT_EQ(ipalloc_init(&a, "nope/24"), -EINVAL);
	ASSERT_OK(ipalloc_init(&a, "10.96.0.5/28"));	/* host bits are dropped */
	ASSERT_STREQ(a.cidr, "10.96.0.0/28");
	ipalloc_first(&a, first, sizeof(first));
	ASSERT_STREQ(first, "10.96.0.1");
	ASSERT_EQ(ipalloc_take(&a, "10.96.0.0"), -ERANGE);	/* network */
	ASSERT_EQ(ipalloc_take(&a, "10.96.0.15"), -ERANGE);	/* broadcast */
	ASSERT_EQ(ipalloc_take(&a, "10.96.0.16"), -ERANGE);
	ASSERT_EQ(ipalloc_take(&a, "10.96.0.x"), -EINVAL);
	ASSERT_OK(ipalloc_take(&a, "10.96.0.1"));
	ASSERT_EQ(ipalloc_take(&a, "10.96.0.1"), -EEXIST);
	/* 16 addresses, 2 reserved, 1 taken: 13 more, all distinct, then full. */
	while (ipalloc_next(&a, ip, sizeof(ip)) == 0) {
		ASSERT(strncmp(ip, "10.96.0.", 8) == 0);
		ASSERT(strcmp(ip, "10.96.0.0") && strcmp(ip, "10.96.0.15") && strcmp(ip, first));
		n++;
	}
	ASSERT_EQ(n, 13);
	ipalloc_release(&a, "10.96.0.7");
	ASSERT_OK(ipalloc_next(&a, ip, sizeof(ip)));
	ASSERT_STREQ(ip, "10.96.0.7");
	ipalloc_destroy(&a);
}

TEST(ipalloc_prefers_the_upper_band)
{
	struct ipalloc a;
	char ip[32];

	ASSERT_OK(ipalloc_init(&a, "10.96.0.0/24"));	/* band: 16 addresses */
	for (int i = 0; i < 200; i++) {
		unsigned last;

		ASSERT_OK(ipalloc_next(&a, ip, sizeof(ip)));
		ASSERT_EQ(sscanf(ip, "10.96.0.%u", &last), 1);
		ASSERT_MSG(last >= 16, "dynamic allocation %s in the static band", ip);
	}
	ipalloc_destroy(&a);
}

TEST(portalloc_ranges_and_errors)
{
	struct portalloc p;
	int port, n = 0;

	ASSERT_EQ(portalloc_init(&p, "30000"), -EINVAL);
	ASSERT_EQ(portalloc_init(&p, "2-1"), -EINVAL);
	ASSERT_EQ(portalloc_init(&p, "0-10"), -EINVAL);
	ASSERT_EQ(portalloc_init(&p, "1-70000"), -EINVAL);
	ASSERT_OK(portalloc_init(&p, "30000-30019"));
	ASSERT_EQ(portalloc_take(&p, 29999), -ERANGE);
	ASSERT_EQ(portalloc_take(&p, 30020), -ERANGE);
	ASSERT_OK(portalloc_take(&p, 30000));
	ASSERT_EQ(portalloc_take(&p, 30000), -EEXIST);
	while (portalloc_next(&p, &port) == 0) {
		ASSERT(port > 30000 && port <= 30019);
		n++;
	}
	ASSERT_EQ(n, 19);
	portalloc_release(&p, 30005);
	ASSERT_OK(portalloc_next(&p, &port));
	ASSERT_EQ(port, 30005);
	portalloc_destroy(&p);
}

TEST(status_messages_match_upstream_shapes)
{
	const struct resource *deps = registry_find("apps", "v1", "deployments");
	const struct resource *pods = registry_find("", "v1", "pods");
	json_t *st;

	st = status_from_errno(-ENOENT, pods, "p1");
	ASSERT_STREQ(jsonx_str(st, "message", ""), "pods \"p1\" not found");
	ASSERT_STREQ(jsonx_str(st, "reason", ""), "NotFound");
	ASSERT_EQ(jsonx_int(st, "code", 0), 404);
	ASSERT_STREQ(jsonx_path_str(st, "details.kind", ""), "pods");
	ASSERT_STREQ(jsonx_str(st, "kind", ""), "Status");
	ASSERT_STREQ(jsonx_str(st, "status", ""), "Failure");
	json_decref(st);

	st = status_from_errno(-EEXIST, deps, "web");
	ASSERT_STREQ(jsonx_str(st, "message", ""), "deployments.apps \"web\" already exists");
	ASSERT_STREQ(jsonx_path_str(st, "details.group", ""), "apps");
	json_decref(st);

	st = status_from_errno(-ESTALE, deps, "web");
	ASSERT_EQ(jsonx_int(st, "code", 0), 409);
	ASSERT_STREQ(jsonx_str(st, "reason", ""), "Conflict");
	json_decref(st);

	st = status_invalid(deps, "web",
			    json_pack("[{s:s,s:s,s:s},{s:s,s:s,s:s}]", "reason",
				      "FieldValueRequired", "field", "spec.selector", "message",
				      "Required value", "reason", "FieldValueInvalid", "field",
				      "spec.replicas", "message",
				      "Invalid value: -1: must be greater than or equal to 0"));
	ASSERT_STREQ(jsonx_str(st, "message", ""),
		     "Deployment.apps \"web\" is invalid: [spec.selector: Required value, "
		     "spec.replicas: Invalid value: -1: must be greater than or equal to 0]");
	ASSERT_EQ(jsonx_int(st, "code", 0), 422);
	ASSERT_STREQ(jsonx_path_str(st, "details.kind", ""), "Deployment");
	ASSERT_EQ(json_array_size(jsonx_get_path(st, "details.causes")), 2);
	json_decref(st);

	st = status_success(pods, "p1", "u-1");
	ASSERT_STREQ(jsonx_str(st, "status", ""), "Success");
	ASSERT_STREQ(jsonx_path_str(st, "details.uid", ""), "u-1");
	json_decref(st);
}
