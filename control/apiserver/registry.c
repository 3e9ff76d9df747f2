/*
 * registry.c - see registry.h.
 *
 * Field labels follow upstream's per-kind field selector sets (the labels a
 * `fieldSelector` may name); their values are looked up by path, with the
 * few non-path labels (events' "source") handled by name.
 */
#include "control/apiserver/registry.h"

#include <stdio.h>
#include <string.h>

#include "jsonx.h"

static const char *const pod_fields[] = {
	"spec.nodeName",   "spec.restartPolicy", "spec.schedulerName",
	"spec.serviceAccountName", "spec.hostNetwork", "status.phase",
	"status.podIP",    "status.nominatedNodeName", NULL,
};
static const char *const event_fields[] = {
	"involvedObject.kind",	     "involvedObject.namespace", "involvedObject.name",
	"involvedObject.uid",	     "involvedObject.apiVersion",
	"involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
	"reportingComponent",	     "source", "type", NULL,
};
static const char *const node_fields[] = { "spec.unschedulable", NULL };
static const char *const namespace_fields[] = { "status.phase", NULL };
static const char *const secret_fields[] = { "type", NULL };
static const char *const replicaset_fields[] = { "status.replicas", NULL };
static const char *const service_fields[] = { "spec.clusterIP", "spec.type", NULL };

const struct resource registry_resources[] = {
	{ .group = "", .version = "v1", .name = "namespaces", .singular = "namespace",
	  .kind = "Namespace", .short_names = { "ns" },
	  .subresources = RES_SUB_STATUS | RES_SUB_FINALIZE, .field_labels = namespace_fields,
	  .status_apart = true },
	{ .group = "", .version = "v1", .name = "pods", .singular = "pod", .kind = "Pod",
	  .namespaced = true, .short_names = { "po" }, .category_all = true,
	  .subresources = RES_SUB_STATUS | RES_SUB_BINDING | RES_SUB_LOG | RES_SUB_EVICTION,
	  .field_labels = pod_fields, .status_apart = true, .graceful_delete = true },
	{ .group = "", .version = "v1", .name = "services", .singular = "service",
	  .kind = "Service", .namespaced = true, .short_names = { "svc" }, .category_all = true,
	  .subresources = RES_SUB_STATUS, .field_labels = service_fields, .status_apart = true },
	{ .group = "", .version = "v1", .name = "endpoints", .singular = "endpoints",
	  .kind = "Endpoints", .namespaced = true, .short_names = { "ep" },
	  .create_on_update = true },
	{ .group = "", .version = "v1", .name = "nodes", .singular = "node", .kind = "Node",
	  .short_names = { "no" }, .subresources = RES_SUB_STATUS, .field_labels = node_fields,
	  .status_apart = true },
	{ .group = "", .version = "v1", .name = "events", .singular = "event", .kind = "Event",
	  .namespaced = true, .short_names = { "ev" }, .field_labels = event_fields,
	  .create_on_update = true },
	{ .group = "", .version = "v1", .name = "configmaps", .singular = "configmap",
	  .kind = "ConfigMap", .namespaced = true, .short_names = { "cm" } },
	{ .group = "", .version = "v1", .name = "secrets", .singular = "secret",
	  .kind = "Secret", .namespaced = true, .field_labels = secret_fields },
	{ .group = "", .version = "v1", .name = "serviceaccounts", .singular = "serviceaccount",
	  .kind = "ServiceAccount", .namespaced = true, .short_names = { "sa" } },
	{ .group = "apps", .version = "v1", .name = "deployments", .singular = "deployment",
	  .kind = "Deployment", .namespaced = true, .short_names = { "deploy" },
	  .category_all = true, .subresources = RES_SUB_STATUS | RES_SUB_SCALE,
	  .status_apart = true, .generation = true },
	{ .group = "apps", .version = "v1", .name = "replicasets", .singular = "replicaset",
	  .kind = "ReplicaSet", .namespaced = true, .short_names = { "rs" },
	  .category_all = true, .subresources = RES_SUB_STATUS | RES_SUB_SCALE,
	  .field_labels = replicaset_fields, .status_apart = true, .generation = true },
	{ .group = "apps", .version = "v1", .name = "daemonsets", .singular = "daemonset",
	  .kind = "DaemonSet", .namespaced = true, .short_names = { "ds" },
	  .category_all = true, .subresources = RES_SUB_STATUS, .status_apart = true,
	  .generation = true },
	{ .group = "discovery.k8s.io", .version = "v1", .name = "endpointslices",
	  .singular = "endpointslice", .kind = "EndpointSlice", .namespaced = true },
	{ .group = "coordination.k8s.io", .version = "v1", .name = "leases", .singular = "lease",
	  .kind = "Lease", .namespaced = true, .create_on_update = true },
	{ 0 },
};

const struct resource *registry_find(const char *group, const char *version, const char *name)
{
	for (const struct resource *r = registry_resources; r->name; r++) {
		if (strcmp(r->group, group) == 0 && strcmp(r->version, version) == 0 &&
		    strcmp(r->name, name) == 0)
			return r;
	}
	return NULL;
}

const struct resource *registry_find_kind(const char *group, const char *kind)
{
	for (const struct resource *r = registry_resources; r->name; r++) {
		if (strcmp(r->group, group) == 0 && strcmp(r->kind, kind) == 0)
			return r;
	}
	return NULL;
}

void registry_api_version(const struct resource *r, char *buf, size_t len)
{
	if (r->group[0])
		snprintf(buf, len, "%s/%s", r->group, r->version);
	else
		snprintf(buf, len, "%s", r->version);
}

void registry_key(const struct resource *r, const char *ns, const char *name, char *buf,
		  size_t len)
{
	bool with_ns = r->namespaced && ns && *ns;

	if (name)
		snprintf(buf, len, "/registry/%s/%s%s%s", r->name, with_ns ? ns : "",
			 with_ns ? "/" : "", name);
	else
		snprintf(buf, len, "/registry/%s/%s%s", r->name, with_ns ? ns : "",
			 with_ns ? "/" : "");
}

static bool label_supported(const struct resource *r, const char *label)
{
	if (strcmp(label, "metadata.name") == 0 ||
	    (r->namespaced && strcmp(label, "metadata.namespace") == 0))
		return true;
	for (const char *const *f = r->field_labels; f && *f; f++)
		if (strcmp(*f, label) == 0)
			return true;
	return false;
}

const char *registry_field_value(const struct resource *r, const json_t *obj, const char *label,
				 char *scratch, size_t len)
{
	const json_t *v;

	if (!label_supported(r, label))
		return NULL;
	if (strcmp(r->name, "events") == 0 && strcmp(label, "source") == 0)
		v = jsonx_get_path(obj, "source.component");
	else
		v = jsonx_get_path(obj, label);
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_boolean(v) || (!v && (strcmp(label, "spec.hostNetwork") == 0 ||
					  strcmp(label, "spec.unschedulable") == 0)))
		return json_is_true(v) ? "true" : "false";
	if (json_is_integer(v)) {
		snprintf(scratch, len, "%lld", (long long)json_integer_value(v));
		return scratch;
	}
	if (!v && strcmp(label, "status.replicas") == 0)
		return "0";
	return "";
}

void registry_field_labels(const struct resource *r, const char **out, size_t max)
{
	size_t n = 0;

	if (max == 0)
		return;
	if (n + 1 < max)
		out[n++] = "metadata.name";
	if (r->namespaced && n + 1 < max)
		out[n++] = "metadata.namespace";
	for (const char *const *f = r->field_labels; f && *f && n + 1 < max; f++)
		out[n++] = *f;
	out[n] = NULL;
}
