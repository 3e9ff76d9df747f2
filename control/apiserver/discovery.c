/*
 * discovery.c - /version, API discovery and the OpenAPI documents.
 *
 * kubectl finds resources through discovery: /api and /apis list the group
 * versions, /api/v1 and /apis/<g>/<v> list each resource with its verbs,
 * scope, kind, short names and categories (`kubectl get all` is the "all"
 * category). Everything here is generated from the registry table.
 *
 * The OpenAPI v3 documents exist for `kubectl apply`: kubectl looks up the
 * PATCH operation of each kind (by its x-kubernetes-group-version-kind) to
 * learn that the server does field validation, and reads the schemas for
 * strategic merge patch metadata.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/apiserver/handlers.h"
#include "control/apiserver/schema.h"
#include "control/apiserver/server.h"
#include "control/apiserver/status.h"
#include "log.h"

#define SERVER_MINOR "32"
#define SERVER_GIT_VERSION "v1.32.0-capstan"

static const char *const all_verbs[] = { "create", "delete", "deletecollection", "get",
					 "list",   "patch",  "update",	"watch",
					 NULL };

static json_t *string_array(const char *const *v)
{
	json_t *a = json_array();

	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

/* Distinct group names of the registry, core ("") excluded, in table order. */
static size_t groups(const char **out, size_t max)
{
	size_t n = 0;

	for (const struct resource *r = registry_resources; r->name; r++) {
		bool seen = false;

		if (!r->group[0])
			continue;
		for (size_t i = 0; i < n; i++)
			seen |= strcmp(out[i], r->group) == 0;
		if (!seen && n < max)
			out[n++] = r->group;
	}
	return n;
}

static const char *group_version_of(const char *group)
{
	for (const struct resource *r = registry_resources; r->name; r++)
		if (strcmp(r->group, group) == 0)
			return r->version;
	return NULL;
}

/* The APIGroup of a group the registry serves (version non-NULL). */
static json_t *api_group(const char *group)
{
	const char *version = group_version_of(group);
	char gv[128];

	if (!version)
		return NULL;
	snprintf(gv, sizeof(gv), "%s/%s", group, version);
	return json_pack("{s:s,s:s,s:s,s:[{s:s,s:s}],s:{s:s,s:s}}", "kind", "APIGroup",
			 "apiVersion", "v1", "name", group, "versions", "groupVersion", gv,
			 "version", version, "preferredVersion", "groupVersion", gv, "version",
			 version);
}

static json_t *subresource(const struct resource *r, const char *sub, const char *group,
			   const char *version, const char *kind, const char *const *verbs)
{
	char name[96];
	json_t *o;

	snprintf(name, sizeof(name), "%s/%s", r->name, sub);
	o = json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", name, "singularName", "", "namespaced",
		      r->namespaced, "kind", kind, "verbs", string_array(verbs));
	if (group) {
		json_object_set_new(o, "group", json_string(group));
		json_object_set_new(o, "version", json_string(version));
	}
	return o;
}

static json_t *resource_list(const char *group, const char *version)
{
	static const char *const get_patch_update[] = { "get", "patch", "update", NULL };
	static const char *const create_only[] = { "create", NULL };
	static const char *const get_only[] = { "get", NULL };
	static const char *const update_only[] = { "update", NULL };
	json_t *list = json_array();
	char gv[128];
	bool any = false;

	for (const struct resource *r = registry_resources; r->name; r++) {
		json_t *o;

		if (strcmp(r->group, group) != 0 || strcmp(r->version, version) != 0)
			continue;
		any = true;
		o = json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", r->name, "singularName",
			      r->singular, "namespaced", r->namespaced, "kind", r->kind, "verbs",
			      string_array(all_verbs));
		if (r->short_names[0])
			json_object_set_new(o, "shortNames", string_array(r->short_names));
		if (r->category_all)
			json_object_set_new(o, "categories", json_pack("[s]", "all"));
		json_array_append_new(list, o);
		if (r->subresources & RES_SUB_STATUS)
			json_array_append_new(list, subresource(r, "status", NULL, NULL, r->kind,
								get_patch_update));
		if (r->subresources & RES_SUB_SCALE)
			json_array_append_new(list, subresource(r, "scale", "autoscaling", "v1",
								"Scale", get_patch_update));
		if (r->subresources & RES_SUB_BINDING)
			json_array_append_new(list, subresource(r, "binding", NULL, NULL, "Binding",
								create_only));
		if (r->subresources & RES_SUB_EVICTION)
			json_array_append_new(list, subresource(r, "eviction", "policy", "v1",
								"Eviction", create_only));
		if (r->subresources & RES_SUB_LOG)
			json_array_append_new(list, subresource(r, "log", NULL, NULL, "Pod",
								get_only));
		if (r->subresources & RES_SUB_FINALIZE)
			json_array_append_new(list, subresource(r, "finalize", NULL, NULL,
								r->kind, update_only));
	}
	if (!any) {
		json_decref(list);
		return NULL;
	}
	if (!group[0])
		json_array_append_new(list, json_pack("{s:s,s:s,s:b,s:s,s:[s]}", "name",
						      "bindings", "singularName", "binding",
						      "namespaced", 1, "kind", "Binding", "verbs",
						      "create"));
	if (group[0])
		snprintf(gv, sizeof(gv), "%s/%s", group, version);
	else
		snprintf(gv, sizeof(gv), "%s", version);
	return json_pack("{s:s,s:s,s:s,s:o}", "kind", "APIResourceList", "apiVersion", "v1",
			 "groupVersion", gv, "resources", list);
}

/* ------------------------------------------------------- aggregated discovery */

/*
 * kubectl asks /api and /apis for apidiscovery.k8s.io/v2 first; answering it
 * gives every resource of every group in one response, so kubectl skips one
 * request per group version.
 */
static bool wants_aggregated(const struct api_req *req)
{
	const char *accept = api_header(req, "Accept");

	return accept && strstr(accept, "g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
}

static json_t *agg_subresource(const char *sub, const char *group, const char *version,
			       const char *kind, const char *const *verbs)
{
	return json_pack("{s:s,s:{s:s,s:s,s:s},s:o}", "subresource", sub, "responseKind",
			 "group", group, "version", version, "kind", kind, "verbs",
			 string_array(verbs));
}

static json_t *agg_resources(const char *group, const char *version)
{
	static const char *const get_patch_update[] = { "get", "patch", "update", NULL };
	static const char *const create_only[] = { "create", NULL };
	static const char *const get_only[] = { "get", NULL };
	static const char *const update_only[] = { "update", NULL };
	json_t *list = json_array();

	for (const struct resource *r = registry_resources; r->name; r++) {
		json_t *o, *subs;

		if (strcmp(r->group, group) != 0 || strcmp(r->version, version) != 0)
			continue;
		subs = json_array();
		o = json_pack("{s:s,s:{s:s,s:s,s:s},s:s,s:s,s:o}", "resource", r->name,
			      "responseKind", "group", r->group, "version", r->version, "kind",
			      r->kind, "scope", r->namespaced ? "Namespaced" : "Cluster",
			      "singularResource", r->singular, "verbs", string_array(all_verbs));
		if (r->short_names[0])
			json_object_set_new(o, "shortNames", string_array(r->short_names));
		if (r->category_all)
			json_object_set_new(o, "categories", json_pack("[s]", "all"));
		if (r->subresources & RES_SUB_STATUS)
			json_array_append_new(subs, agg_subresource("status", r->group, r->version,
								    r->kind, get_patch_update));
		if (r->subresources & RES_SUB_SCALE)
			json_array_append_new(subs, agg_subresource("scale", "autoscaling", "v1",
								    "Scale", get_patch_update));
		if (r->subresources & RES_SUB_BINDING)
			json_array_append_new(subs, agg_subresource("binding", "", "v1", "Binding",
								    create_only));
		if (r->subresources & RES_SUB_EVICTION)
			json_array_append_new(subs, agg_subresource("eviction", "policy", "v1",
								    "Eviction", create_only));
		if (r->subresources & RES_SUB_LOG)
			json_array_append_new(subs, agg_subresource("log", "", "v1", "Pod", get_only));
		if (r->subresources & RES_SUB_FINALIZE)
			json_array_append_new(subs, agg_subresource("finalize", r->group,
								    r->version, r->kind,
								    update_only));
		if (json_array_size(subs))
			json_object_set_new(o, "subresources", subs);
		else
			json_decref(subs);
		json_array_append_new(list, o);
	}
	return list;
}

static json_t *agg_group(const char *group, const char *version)
{
	return json_pack("{s:{s:s},s:[{s:s,s:o,s:s}]}", "metadata", "name", group, "versions",
			 "version", version, "resources", agg_resources(group, version),
			 "freshness", "Current");
}

static void reply_aggregated(struct api_req *req)
{
	json_t *items = json_array(), *out;
	const char *names[16];
	size_t n;
	char *text;

	if (req->route.kind == ROUTE_API) {
		json_array_append_new(items, agg_group("", "v1"));
	} else {
		n = groups(names, 16);
		for (size_t i = 0; i < n; i++)
			json_array_append_new(items, agg_group(names[i],
							       group_version_of(names[i])));
	}
	out = json_pack("{s:s,s:s,s:{},s:o}", "kind", "APIGroupDiscoveryList", "apiVersion",
			"apidiscovery.k8s.io/v2", "metadata", "items", items);
	text = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	if (!text)
		abort();
	api_reply_raw(req, 200,
		      "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", text,
		      strlen(text));
}

void handle_discovery(struct api_req *req)
{
	const struct route *rt = &req->route;
	const char *names[16];
	size_t n;
	json_t *out = NULL;

	if (strcmp(req->method, "GET") != 0) {
		api_reply_status(req, status_failure(REASON_METHOD_NOT_ALLOWED, NULL, NULL, NULL,
						     "discovery supports GET only"));
		return;
	}
	if ((rt->kind == ROUTE_API || rt->kind == ROUTE_APIS) && wants_aggregated(req)) {
		reply_aggregated(req);
		return;
	}
	switch (rt->kind) {
	case ROUTE_VERSION:
		out = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "major", "1", "minor",
				SERVER_MINOR, "gitVersion", SERVER_GIT_VERSION, "gitCommit",
				"capstan", "gitTreeState", "clean", "buildDate",
				"2026-01-01T00:00:00Z", "goVersion", "none (C)", "compiler", "gcc",
				"platform", "linux/amd64");
		break;
	case ROUTE_API: {
		char addr[128];

		snprintf(addr, sizeof(addr), "%s:%u", req->srv->listen_host, req->srv->port);
		out = json_pack("{s:s,s:[s],s:[{s:s,s:s}]}", "kind", "APIVersions", "versions",
				"v1", "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0",
				"serverAddress", addr);
		break;
	}
	case ROUTE_APIS: {
		json_t *list = json_array();

		n = groups(names, 16);
		for (size_t i = 0; i < n; i++) {
			json_t *g = api_group(names[i]);

			json_object_del(g, "kind");
			json_object_del(g, "apiVersion");
			json_array_append_new(list, g);
		}
		out = json_pack("{s:s,s:s,s:o}", "kind", "APIGroupList", "apiVersion", "v1",
				"groups", list);
		break;
	}
	case ROUTE_GROUP:
		out = api_group(rt->group);
		break;
	case ROUTE_GROUP_VERSION:
		out = resource_list(rt->group, rt->version);
		break;
	default:
		break;
	}
	if (!out) {
		api_reply_status(req, status_failure(REASON_NOT_FOUND, NULL, NULL, NULL,
						     "the server could not find the requested "
						     "resource"));
		return;
	}
	api_reply_json(req, 200, out);
}

/* ---------------------------------------------------------------- OpenAPI v3 */

static json_t *openapi_operation(const struct resource *r, const char *action, bool body)
{
	json_t *op = json_pack("{s:{s:s,s:s,s:s},s:s,s:[],s:{s:{s:s}}}",
			       "x-kubernetes-group-version-kind", "group", r->group, "version",
			       r->version, "kind", r->kind, "x-kubernetes-action", action,
			       "parameters", "responses", "200", "description", "OK");
	json_t *params = json_object_get(op, "parameters");

	json_array_append_new(params, json_pack("{s:s,s:s,s:{s:s}}", "name", "dryRun", "in",
						"query", "schema", "type", "string"));
	if (body) {
		json_array_append_new(params,
				      json_pack("{s:s,s:s,s:s,s:{s:s}}", "name", "fieldValidation",
						"in", "query", "description",
						"Strict, Warn or Ignore: what to do with unknown or "
						"duplicate fields",
						"schema", "type", "string"));
		json_array_append_new(params, json_pack("{s:s,s:s,s:{s:s}}", "name",
							"fieldManager", "in", "query", "schema",
							"type", "string"));
	}
	return op;
}

static void add_paths(json_t *paths, const char *group, const char *version)
{
	for (const struct resource *r = registry_resources; r->name; r++) {
		char base[256], coll[320], item[384];

		if (strcmp(r->group, group) != 0 || strcmp(r->version, version) != 0)
			continue;
		if (group[0])
			snprintf(base, sizeof(base), "/apis/%s/%s", group, version);
		else
			snprintf(base, sizeof(base), "/api/%s", version);
		snprintf(coll, sizeof(coll), "%s%s/%s", base,
			 r->namespaced ? "/namespaces/{namespace}" : "", r->name);
		snprintf(item, sizeof(item), "%s/{name}", coll);
		json_object_set_new(paths, coll,
				    json_pack("{s:o,s:o,s:o}", "get",
					      openapi_operation(r, "list", false), "post",
					      openapi_operation(r, "post", true), "delete",
					      openapi_operation(r, "deletecollection", false)));
		json_object_set_new(paths, item,
				    json_pack("{s:o,s:o,s:o,s:o}", "get",
					      openapi_operation(r, "get", false), "put",
					      openapi_operation(r, "put", true), "patch",
					      openapi_operation(r, "patch", true), "delete",
					      openapi_operation(r, "delete", false)));
		if (r->subresources & RES_SUB_STATUS) {
			char st[400];

			snprintf(st, sizeof(st), "%s/status", item);
			json_object_set_new(paths, st,
					    json_pack("{s:o,s:o,s:o}", "get",
						      openapi_operation(r, "get", false), "put",
						      openapi_operation(r, "put", true), "patch",
						      openapi_operation(r, "patch", true)));
		}
	}
}

void handle_openapi(struct api_req *req)
{
	const struct route *rt = &req->route;
	json_t *out;

	if (rt->kind == ROUTE_OPENAPI_V2) {
		/* kubectl falls back to v3; a v2 document is not served. */
		api_reply_status(req, status_failure(REASON_NOT_FOUND, NULL, NULL, NULL,
						     "the server could not find the requested "
						     "resource"));
		return;
	}
	if (rt->kind == ROUTE_OPENAPI_V3) {
		json_t *paths = json_object();
		const char *names[16];
		size_t n = groups(names, 16);

		json_object_set_new(paths, "api/v1",
				    json_pack("{s:s}", "serverRelativeURL",
					      "/openapi/v3/api/v1?hash=capstan1"));
		for (size_t i = 0; i < n; i++) {
			char key[128], url[160];

			const char *v = group_version_of(names[i]);

			snprintf(key, sizeof(key), "apis/%s/%s", names[i], v ? v : "");
			snprintf(url, sizeof(url), "/openapi/v3/%s?hash=capstan1", key);
			json_object_set_new(paths, key, json_pack("{s:s}", "serverRelativeURL", url));
		}
		api_reply_json(req, 200, json_pack("{s:o}", "paths", paths));
		return;
	}
	out = resource_list(rt->group, rt->version);
	if (!out) {
		api_reply_status(req, status_failure(REASON_NOT_FOUND, NULL, NULL, NULL,
						     "the server could not find the requested "
						     "resource"));
		return;
	}
	json_decref(out);
	out = json_pack("{s:s,s:{s:s,s:s},s:o,s:{s:o}}", "openapi", "3.0.0", "info", "title",
			"Kubernetes", "version", SERVER_GIT_VERSION, "paths", json_object(),
			"components", "schemas",
			schema_openapi_components(rt->group, rt->version));
	add_paths(json_object_get(out, "paths"), rt->group, rt->version);
	api_reply_json(req, 200, out);
}
