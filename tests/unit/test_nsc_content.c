/*
 * Unit tests for the namespace controller's pure parts
 * (control/controllers/nsc_content): resources from discovery, deletion
 * conditions, requeue delays, the finalize body.
 */
#include "test.h"

#include <stdlib.h>

#include "control/controllers/nsc_content.h"
#include "jsonx.h"
#include "ktime.h"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	ASSERT_MSG(j, "bad test JSON: %s: %s", e.text, text);
	return j;
}

TEST(nsc_resources_from_discovery_filters_and_sorts)
{
	json_t *lists = parse(
		"[{\"groupVersion\":\"v1\",\"resources\":["
		"{\"name\":\"pods\",\"namespaced\":true,\"verbs\":[\"list\",\"delete\"]},"
		"{\"name\":\"pods/status\",\"namespaced\":true,\"verbs\":[\"get\",\"patch\"]},"
		"{\"name\":\"nodes\",\"namespaced\":false,\"verbs\":[\"list\",\"delete\"]},"
		"{\"name\":\"bindings\",\"namespaced\":true,\"verbs\":[\"create\"]},"
		"{\"name\":\"configmaps\",\"namespaced\":true,\"verbs\":[\"list\","
		"\"deletecollection\"]}]},"
		"{\"groupVersion\":\"apps/v1\",\"resources\":["
		"{\"name\":\"deployments\",\"namespaced\":true,\"verbs\":[\"list\",\"delete\"]}]},"
		"{\"groupVersion\":\"apps/v1beta1\",\"resources\":["
		"{\"name\":\"deployments\",\"namespaced\":true,\"verbs\":[\"list\",\"delete\"]}]},"
		"{\"resources\":[{\"name\":\"x\",\"namespaced\":true,\"verbs\":[\"list\","
		"\"delete\"]}]}, 7, {\"groupVersion\":\"g/v\",\"resources\":[3,{}]}]");
	json_t *r = nsc_resources_from_discovery(lists);

	ASSERT_EQ(json_array_size(r), 3);
	ASSERT_STREQ(jsonx_path_str(r, "[0].resource", ""), "configmaps");
	ASSERT_STREQ(jsonx_path_str(r, "[0].prefix", ""), "/api/v1");
	ASSERT_STREQ(jsonx_path_str(r, "[1].resource", ""), "pods");
	ASSERT_STREQ(jsonx_path_str(r, "[2].resource", ""), "deployments");
	ASSERT_STREQ(jsonx_path_str(r, "[2].group", ""), "apps");
	ASSERT_STREQ(jsonx_path_str(r, "[2].prefix", ""), "/apis/apps/v1");
	json_decref(r);
	json_decref(lists);
	r = nsc_resources_from_discovery(NULL);
	ASSERT_EQ(json_array_size(r), 0);
	json_decref(r);
}

static const json_t *cond(const json_t *conds, const char *type)
{
	json_t *c;
	size_t i;

	json_array_foreach(conds, i, c)
		if (strcmp(jsonx_str(c, "type", ""), type) == 0)
			return c;
	return NULL;
}

TEST(nsc_conditions_report_remaining_content)
{
	json_t *ns = parse("{\"metadata\":{\"name\":\"x\"},\"status\":{\"phase\":\"Terminating\","
			   "\"conditions\":[{\"type\":\"Other\",\"status\":\"True\"}]}}");
	json_t *remaining = parse("{\"pods\":2,\"deployments.apps\":1}");
	json_t *fins = parse("{\"example.com/keep\":1}");
	struct nsc_report r = { .remaining = remaining, .finalizers = fins };
	json_t *c;

	c = nsc_conditions(ns, &r, "2026-01-01T00:00:01Z");
	ASSERT_NOT_NULL(c);
	ASSERT_EQ(json_array_size(c), 6);
	ASSERT_STREQ(jsonx_path_str(c, "[0].type", ""), "Other");
	ASSERT_STREQ(jsonx_str(cond(c, "NamespaceContentRemaining"), "message", ""),
		     "Some resources are remaining: deployments.apps has 1 resource instances, "
		     "pods has 2 resource instances");
	ASSERT_STREQ(jsonx_str(cond(c, "NamespaceContentRemaining"), "reason", ""),
		     "SomeResourcesRemain");
	ASSERT_STREQ(jsonx_str(cond(c, "NamespaceFinalizersRemaining"), "message", ""),
		     "Some content in the namespace has finalizers remaining: example.com/keep in "
		     "1 resource instances");
	ASSERT_STREQ(jsonx_str(cond(c, "NamespaceDeletionContentFailure"), "status", ""), "False");
	ASSERT_STREQ(jsonx_str(cond(c, "NamespaceDeletionContentFailure"), "reason", ""),
		     "ContentDeleted");
	ASSERT_STREQ(jsonx_str(cond(c, "NamespaceDeletionDiscoveryFailure"), "reason", ""),
		     "ResourcesDiscovered");
	/* Applied, the same report changes nothing, even later. */
	json_object_set_new(json_object_get(ns, "status"), "conditions", c);
	ASSERT_NULL(nsc_conditions(ns, &r, "2026-01-01T00:00:09Z"));

	/* Content gone, a delete failed: flips keep order, times move only on flips. */
	r.remaining = NULL;
	r.finalizers = NULL;
	r.content_error = "pods: 500";
	c = nsc_conditions(ns, &r, "2026-01-01T00:00:05Z");
	ASSERT_NOT_NULL(c);
	ASSERT_STREQ(jsonx_path_str(c, "[4].type", ""), "NamespaceContentRemaining");
	ASSERT_STREQ(jsonx_str(cond(c, "NamespaceContentRemaining"), "reason", ""),
		     "ContentRemoved");
	ASSERT_STREQ(jsonx_str(cond(c, "NamespaceContentRemaining"), "lastTransitionTime", ""),
		     "2026-01-01T00:00:05Z");
	ASSERT_STREQ(jsonx_str(cond(c, "NamespaceDeletionContentFailure"), "status", ""), "True");
	ASSERT_STREQ(jsonx_str(cond(c, "NamespaceDeletionContentFailure"), "message", ""),
		     "Failed to delete all resource types: pods: 500");
	ASSERT_STREQ(
		jsonx_str(cond(c, "NamespaceDeletionDiscoveryFailure"), "lastTransitionTime", ""),
		"2026-01-01T00:00:01Z");
	json_decref(c);
	json_decref(ns);
	json_decref(remaining);
	json_decref(fins);
}

TEST(nsc_requeue_follows_graceful_termination)
{
	/* now = 2026-01-01T00:00:00Z */
	int64_t now = 0;
	json_t *pods = parse("[{\"metadata\":{\"name\":\"a\",\"deletionTimestamp\":"
			     "\"2026-01-01T00:00:30Z\"}},{\"metadata\":{\"name\":\"b\","
			     "\"deletionTimestamp\":\"2026-01-01T00:00:10Z\"}},"
			     "{\"metadata\":{\"name\":\"c\"}},{\"metadata\":{\"name\":\"d\","
			     "\"deletionTimestamp\":\"garbage\"}}]");

	ASSERT_OK(ktime_parse("2026-01-01T00:00:00Z", &now));
	ASSERT_EQ(nsc_requeue_seconds(pods, now), 16);
	/* Past deadlines and no pods: look again in a second. */
	ASSERT_EQ(nsc_requeue_seconds(pods, now + 60ll * 1000000000ll), 1);
	ASSERT_EQ(nsc_requeue_seconds(NULL, now), 1);
	json_decref(pods);
}

TEST(nsc_finalize_body_drops_only_kubernetes)
{
	json_t *ns = parse("{\"metadata\":{\"name\":\"x\",\"resourceVersion\":\"7\"},"
			   "\"spec\":{\"finalizers\":[\"example.com/a\",\"kubernetes\"]}}");
	json_t *body = nsc_finalize_body(ns);

	ASSERT_NOT_NULL(body);
	ASSERT_EQ(json_array_size(jsonx_get_path(body, "spec.finalizers")), 1);
	ASSERT_STREQ(jsonx_path_str(body, "spec.finalizers[0]", ""), "example.com/a");
	ASSERT_STREQ(jsonx_path_str(body, "metadata.resourceVersion", ""), "7");
	/* The input is untouched, and without the finalizer there is nothing to do. */
	ASSERT_EQ(json_array_size(jsonx_get_path(ns, "spec.finalizers")), 2);
	ASSERT_NULL(nsc_finalize_body(body));
	ASSERT_NULL(nsc_finalize_body(NULL));
	json_decref(body);
	json_decref(ns);
}
