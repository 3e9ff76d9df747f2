/*
 * Unit tests for the EndpointSlice controller's computation
 * (control/controllers/eps_compute): slice contents and conditions, the
 * 100-endpoint limit, grouping by resolved ports, minimal writes,
 * placeholders, foreign slices, and the legacy Endpoints subsets.
 */
#include "test.h"

#include <stdlib.h>

#include "control/controllers/eps_compute.h"
#include "jsonx.h"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	ASSERT_MSG(j, "bad test JSON: %s: %s", e.text, text);
	return j;
}

static json_t *service(const char *ports)
{
	json_t *s =
		parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"ns\",\"uid\":\"svc-uid\","
		      "\"labels\":{\"team\":\"a\"}},\"spec\":{\"selector\":{\"app\":\"web\"},"
		      "\"clusterIP\":\"10.96.0.10\"}}");

	json_object_set_new(json_object_get(s, "spec"), "ports",
			    parse(ports ? ports
					: "[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\","
					  "\"targetPort\":8080}]"));
	return s;
}

enum { READY = 1, TERMINATING = 2, FAILED = 4, NO_IP = 8 };

static json_t *pod(const char *name, const char *ip, int flags)
{
	json_t *p = json_pack("{s:{s:s, s:s, s:s, s:{s:s}}, s:{s:s, s:[{s:s, s:[{s:s, s:i}]}]}, "
			      "s:{s:s, s:[{s:s, s:s}]}}",
			      "metadata", "name", name, "namespace", "ns", "uid", name, "labels",
			      "app", "web", "spec", "nodeName", "node-1", "containers", "name", "c",
			      "ports", "name", "http", "containerPort", 8080, "status", "phase",
			      flags & FAILED ? "Failed" : "Running", "conditions", "type", "Ready",
			      "status", flags & READY ? "True" : "False");

	if (!(flags & NO_IP)) {
		json_object_set_new(json_object_get(p, "status"), "podIP", json_string(ip));
		json_object_set_new(json_object_get(p, "status"), "podIPs",
				    json_pack("[{s:s}]", "ip", ip));
	}
	if (flags & TERMINATING)
		json_object_set_new(json_object_get(p, "metadata"), "deletionTimestamp",
				    json_string("2026-01-01T00:00:00Z"));
	return p;
}

static const char *zone_of(void *ctx, const char *node, char *buf, size_t len)
{
	(void)ctx;
	if (strcmp(node, "node-1") != 0)
		return NULL;
	snprintf(buf, len, "zone-a");
	return buf;
}

static void plan(const json_t *svc, const json_t *pods, const json_t *slices, unsigned max,
		 struct eps_plan *out)
{
	struct eps_input in = { .service = svc,
				.pods = pods,
				.slices = slices,
				.zone = zone_of,
				.max_per_slice = max };
	char err[256] = "";

	ASSERT_MSG(eps_plan_slices(&in, out, err, sizeof(err)) == 0, "plan: %s", err);
}

/* What the API server would hold after the plan: names for new slices, updates applied. */
static json_t *apply(const json_t *existing, const struct eps_plan *p)
{
	static int serial;
	json_t *out = json_array(), *s, *r;
	size_t i, j;

	json_array_foreach(existing, i, s) {
		const char *name = jsonx_path_str(s, "metadata.name", "");
		json_t *use = s;
		bool gone = false;

		json_array_foreach(p->remove, j, r)
			gone |= strcmp(jsonx_path_str(r, "metadata.name", ""), name) == 0;
		json_array_foreach(p->update, j, r)
			if (strcmp(jsonx_path_str(r, "metadata.name", ""), name) == 0)
				use = r;
		if (!gone)
			json_array_append_new(out, json_deep_copy(use));
	}
	json_array_foreach(p->create, i, s) {
		json_t *c = json_deep_copy(s);
		char name[32];

		snprintf(name, sizeof(name), "web-%d", ++serial);
		json_object_set_new(json_object_get(c, "metadata"), "name", json_string(name));
		json_array_append_new(out, c);
	}
	return out;
}

/* Endpoints in the i-th slice of slices. */
static size_t eps_at(const json_t *slices, size_t i)
{
	return json_array_size(jsonx_arr(json_array_get(slices, i), "endpoints"));
}

/* Writes in a plan. */
static size_t writes(const struct eps_plan *p)
{
	return json_array_size(p->create) + json_array_size(p->update) + json_array_size(p->remove);
}

static size_t total_endpoints(const json_t *slices)
{
	size_t i, n = 0;
	json_t *s;

	json_array_foreach(slices, i, s)
		n += json_array_size(jsonx_arr(s, "endpoints"));
	return n;
}

static const json_t *endpoint_for(const json_t *slices, const char *podname)
{
	json_t *s, *ep;
	size_t i, j;

	json_array_foreach(slices, i, s)
		json_array_foreach(jsonx_arr(s, "endpoints"), j, ep)
			if (strcmp(jsonx_path_str(ep, "targetRef.name", ""), podname) == 0)
				return ep;
	return NULL;
}

TEST(eps_slice_contents_and_conditions)
{
	json_t *svc = service(NULL), *pods = json_array(), *none = json_array(), *s;
	const json_t *ep;
	struct eps_plan p;

	json_array_append_new(pods, pod("a", "10.244.1.1", READY));
	json_array_append_new(pods, pod("b", "10.244.1.2", 0));
	json_array_append_new(pods, pod("c", "10.244.1.3", READY | TERMINATING));
	json_array_append_new(pods, pod("d", "10.244.1.4", READY | FAILED));
	json_array_append_new(pods, pod("e", NULL, READY | NO_IP));
	/* Garbage the API server let through: skipped, not a slice the API server refuses. */
	json_array_append_new(pods, pod("f", "10.244.1.300", READY));
	json_array_append_new(pods, pod("g", "fd00::1", READY));
	plan(svc, pods, none, 0, &p);
	ASSERT_EQ(json_array_size(p.create), 1);
	ASSERT_EQ(json_array_size(p.update) + json_array_size(p.remove), 0);
	s = json_array_get(p.create, 0);
	ASSERT_STREQ(jsonx_str(s, "addressType", ""), "IPv4");
	ASSERT_STREQ(jsonx_path_str(s, "metadata.generateName", ""), "web-");
	ASSERT_STREQ(jsonx_path_str(s, "metadata.namespace", ""), "ns");
	ASSERT_STREQ(jsonx_path_str(s, "metadata.labels[\"kubernetes.io/service-name\"]", ""),
		     "web");
	ASSERT_STREQ(jsonx_path_str(
			     s, "metadata.labels[\"endpointslice.kubernetes.io/managed-by\"]", ""),
		     "endpointslice-controller.k8s.io");
	ASSERT_STREQ(jsonx_path_str(s, "metadata.labels.team", ""), "a");
	ASSERT_NULL(jsonx_get_path(s, "metadata.labels[\"service.kubernetes.io/headless\"]"));
	ASSERT_STREQ(jsonx_path_str(s, "metadata.ownerReferences[0].uid", ""), "svc-uid");
	ASSERT(jsonx_path_bool(s, "metadata.ownerReferences[0].controller", false));
	ASSERT(jsonx_path_bool(s, "metadata.ownerReferences[0].blockOwnerDeletion", false));
	ASSERT_STREQ(jsonx_path_str(s, "ports[0].name", ""), "http");
	ASSERT_EQ(jsonx_path_int(s, "ports[0].port", 0), 8080);
	ASSERT_STREQ(jsonx_path_str(s, "ports[0].protocol", ""), "TCP");
	ASSERT_EQ(json_array_size(jsonx_arr(s, "endpoints")), 3);

	ep = endpoint_for(p.create, "a");
	ASSERT_STREQ(jsonx_path_str(ep, "addresses[0]", ""), "10.244.1.1");
	ASSERT(jsonx_path_bool(ep, "conditions.ready", false));
	ASSERT(jsonx_path_bool(ep, "conditions.serving", false));
	ASSERT(!jsonx_path_bool(ep, "conditions.terminating", true));
	ASSERT_STREQ(jsonx_str(ep, "nodeName", ""), "node-1");
	ASSERT_STREQ(jsonx_str(ep, "zone", ""), "zone-a");
	ASSERT_STREQ(jsonx_path_str(ep, "targetRef.kind", ""), "Pod");
	ASSERT_STREQ(jsonx_path_str(ep, "targetRef.uid", ""), "a");
	ep = endpoint_for(p.create, "b");
	ASSERT(!jsonx_path_bool(ep, "conditions.ready", true));
	ASSERT(!jsonx_path_bool(ep, "conditions.serving", true));
	/* Terminating: not ready, still serving. */
	ep = endpoint_for(p.create, "c");
	ASSERT(!jsonx_path_bool(ep, "conditions.ready", true));
	ASSERT(jsonx_path_bool(ep, "conditions.serving", false));
	ASSERT(jsonx_path_bool(ep, "conditions.terminating", false));
	ASSERT_NULL(endpoint_for(p.create, "d"));
	ASSERT_NULL(endpoint_for(p.create, "e"));
	ASSERT_NULL(endpoint_for(p.create, "f"));
	ASSERT_NULL(endpoint_for(p.create, "g")); /* IPv6 only: not in an IPv4 slice */
	eps_plan_free(&p);

	/* publishNotReadyAddresses: every included pod is ready. */
	json_object_set_new(json_object_get(svc, "spec"), "publishNotReadyAddresses", json_true());
	plan(svc, pods, none, 0, &p);
	ASSERT(jsonx_path_bool(endpoint_for(p.create, "b"), "conditions.ready", false));
	ASSERT(jsonx_path_bool(endpoint_for(p.create, "c"), "conditions.ready", false));
	eps_plan_free(&p);
	json_decref(svc);
	json_decref(pods);
	json_decref(none);
}

TEST(eps_slice_limit_and_minimal_growth)
{
	json_t *svc = service(NULL), *pods = json_array(), *none = json_array(), *cur, *next;
	struct eps_plan p;
	char name[16], ip[32];
	size_t i;

	for (i = 0; i < 250; i++) {
		snprintf(name, sizeof(name), "p%03zu", i);
		snprintf(ip, sizeof(ip), "10.244.%zu.%zu", i / 200, i % 200 + 1);
		json_array_append_new(pods, pod(name, ip, READY));
	}
	plan(svc, pods, none, 0, &p);
	ASSERT_EQ(json_array_size(p.create), 3);
	ASSERT_EQ(eps_at(p.create, 0), 100);
	ASSERT_EQ(eps_at(p.create, 1), 100);
	ASSERT_EQ(eps_at(p.create, 2), 50);
	cur = apply(none, &p);
	eps_plan_free(&p);

	/* Unchanged input: nothing to write. */
	plan(svc, pods, cur, 0, &p);
	ASSERT_EQ(writes(&p), 0);
	eps_plan_free(&p);

	/* One more pod fills the slice with room instead of creating one. */
	json_array_append_new(pods, pod("p999", "10.244.9.9", READY));
	plan(svc, pods, cur, 0, &p);
	ASSERT_EQ(json_array_size(p.create), 0);
	ASSERT_EQ(json_array_size(p.remove), 0);
	ASSERT_EQ(json_array_size(p.update), 1);
	ASSERT_EQ(eps_at(p.update, 0), 51);
	next = apply(cur, &p);
	ASSERT_EQ(total_endpoints(next), 251);
	eps_plan_free(&p);
	json_decref(next);
	json_decref(cur);
	json_decref(svc);
	json_decref(pods);
	json_decref(none);
}

TEST(eps_slice_readiness_change_rewrites_one_slice)
{
	json_t *svc = service(NULL), *pods = json_array(), *none = json_array(), *cur, *u;
	struct eps_plan p;
	char name[16], ip[32];
	size_t i;

	for (i = 0; i < 150; i++) {
		snprintf(name, sizeof(name), "p%03zu", i);
		snprintf(ip, sizeof(ip), "10.244.0.%zu", i + 1);
		json_array_append_new(pods, pod(name, ip, READY));
	}
	plan(svc, pods, none, 3, &p);
	ASSERT_EQ(json_array_size(p.create), 50);
	cur = apply(none, &p);
	eps_plan_free(&p);

	/* Pod p120 turns not ready: only its slice is written, with only that change. */
	json_object_set_new(
		json_array_get(jsonx_get_path(json_array_get(pods, 120), "status.conditions"), 0),
		"status", json_string("False"));
	plan(svc, pods, cur, 3, &p);
	ASSERT_EQ(json_array_size(p.create) + json_array_size(p.remove), 0);
	ASSERT_EQ(json_array_size(p.update), 1);
	u = json_array_get(p.update, 0);
	ASSERT_EQ(json_array_size(jsonx_arr(u, "endpoints")), 3);
	ASSERT(!jsonx_path_bool(endpoint_for(p.update, "p120"), "conditions.ready", true));
	ASSERT(jsonx_path_bool(endpoint_for(p.update, "p121"), "conditions.ready", false));
	eps_plan_free(&p);

	/* Pod p000 goes away: its slice shrinks; the rest stays. */
	json_array_remove(pods, 0);
	plan(svc, pods, cur, 3, &p);
	ASSERT_EQ(json_array_size(p.create) + json_array_size(p.remove), 0);
	ASSERT_EQ(json_array_size(p.update), 2); /* p120's slice and p000's */
	ASSERT_NULL(endpoint_for(p.update, "p000"));
	eps_plan_free(&p);
	json_decref(cur);
	json_decref(svc);
	json_decref(pods);
	json_decref(none);
}

TEST(eps_slice_named_ports_split_by_resolution)
{
	json_t *svc = service("[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\","
			      "\"targetPort\":\"http\"}]");
	json_t *pods = json_array(), *none = json_array(), *odd;
	struct eps_plan p;
	size_t i;
	json_t *s;
	int p8080 = 0, p9090 = 0, portless = 0;

	json_array_append_new(pods, pod("a", "10.244.0.1", READY));
	odd = pod("b", "10.244.0.2", READY);
	json_object_set_new(json_array_get(jsonx_get_path(odd, "spec.containers[0].ports"), 0),
			    "containerPort", json_integer(9090));
	json_array_append_new(pods, odd);
	json_array_append_new(pods, pod("c", "10.244.0.3", READY));
	odd = pod("d", "10.244.0.4", READY);
	json_object_set_new(json_array_get(jsonx_get_path(odd, "spec.containers[0].ports"), 0),
			    "name", json_string("other"));
	json_array_append_new(pods, odd);
	plan(svc, pods, none, 0, &p);
	ASSERT_EQ(json_array_size(p.create), 3);
	json_array_foreach(p.create, i, s) {
		long long port = jsonx_path_int(s, "ports[0].port", -1);
		size_t n = json_array_size(jsonx_arr(s, "endpoints"));

		if (port == 8080 && n == 2)
			p8080++;
		else if (port == 9090 && n == 1)
			p9090++;
		else if (port == -1 && n == 1 && endpoint_for(p.create, "d"))
			portless++; /* the name does not resolve: upstream keeps it, portless */
	}
	ASSERT_EQ(p8080, 1);
	ASSERT_EQ(p9090, 1);
	ASSERT_EQ(portless, 1);
	eps_plan_free(&p);
	json_decref(svc);
	json_decref(pods);
	json_decref(none);
}

TEST(eps_slice_placeholder_kept_then_replaced)
{
	json_t *svc = service(NULL), *pods = json_array(), *none = json_array(), *cur;
	struct eps_plan p;

	plan(svc, pods, none, 0, &p);
	ASSERT_EQ(json_array_size(p.create), 1);
	ASSERT_EQ(eps_at(p.create, 0), 0);
	ASSERT_EQ(json_array_size(jsonx_arr(json_array_get(p.create, 0), "ports")), 0);
	cur = apply(none, &p);
	eps_plan_free(&p);
	/* The placeholder is not deleted and re-created on every sync. */
	plan(svc, pods, cur, 0, &p);
	ASSERT_EQ(writes(&p), 0);
	eps_plan_free(&p);
	/* A pod arrives: a real slice, the placeholder goes. */
	json_array_append_new(pods, pod("a", "10.244.0.1", READY));
	plan(svc, pods, cur, 0, &p);
	ASSERT_EQ(json_array_size(p.create), 1);
	ASSERT_EQ(json_array_size(p.remove), 1);
	ASSERT_EQ(eps_at(p.create, 0), 1);
	eps_plan_free(&p);
	json_decref(cur);
	json_decref(svc);
	json_decref(pods);
	json_decref(none);
}

TEST(eps_slice_foreign_owner_labels_and_ports_change)
{
	json_t *svc = service(NULL), *pods = json_array(), *none = json_array(), *cur, *old;
	struct eps_plan p;

	json_array_append_new(pods, pod("a", "10.244.0.1", READY));
	plan(svc, pods, none, 0, &p);
	cur = apply(none, &p);
	eps_plan_free(&p);

	/* A slice left by an earlier Service of the same name is deleted. */
	old = json_deep_copy(json_array_get(cur, 0));
	json_object_set_new(json_object_get(old, "metadata"), "name", json_string("web-old"));
	json_object_set_new(json_array_get(jsonx_get_path(old, "metadata.ownerReferences"), 0),
			    "uid", json_string("older-uid"));
	json_array_append_new(cur, old);
	plan(svc, pods, cur, 0, &p);
	ASSERT_EQ(json_array_size(p.remove), 1);
	ASSERT_STREQ(jsonx_path_str(json_array_get(p.remove, 0), "metadata.name", ""), "web-old");
	ASSERT_EQ(json_array_size(p.create) + json_array_size(p.update), 0);
	eps_plan_free(&p);
	json_array_remove(cur, 1);

	/* New Service labels reach the slice; headless adds its label. */
	json_object_set_new(jsonx_get_path(svc, "metadata.labels"), "team", json_string("b"));
	json_object_set_new(json_object_get(svc, "spec"), "clusterIP", json_string("None"));
	plan(svc, pods, cur, 0, &p);
	ASSERT_EQ(json_array_size(p.update), 1);
	ASSERT_STREQ(jsonx_path_str(json_array_get(p.update, 0), "metadata.labels.team", ""), "b");
	ASSERT_NOT_NULL(jsonx_get_path(json_array_get(p.update, 0),
				       "metadata.labels[\"service.kubernetes.io/headless\"]"));
	eps_plan_free(&p);

	/* A new target port: the old port list's slice goes, a new one comes. */
	json_object_set_new(json_array_get(jsonx_get_path(svc, "spec.ports"), 0), "targetPort",
			    json_integer(8081));
	plan(svc, pods, cur, 0, &p);
	ASSERT_EQ(json_array_size(p.create), 1);
	ASSERT_EQ(json_array_size(p.remove), 1);
	ASSERT_EQ(jsonx_path_int(json_array_get(p.create, 0), "ports[0].port", 0), 8081);
	eps_plan_free(&p);
	json_decref(cur);
	json_decref(svc);
	json_decref(pods);
	json_decref(none);
}

TEST(eps_slice_bad_input)
{
	struct eps_input in = { 0 };
	struct eps_plan p;
	json_t *svc = service(NULL);
	char err[256];

	ASSERT_EQ(eps_plan_slices(&in, &p, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(eps_plan_slices(NULL, &p, err, sizeof(err)), -EINVAL);
	in.service = svc;
	json_object_del(json_object_get(svc, "metadata"), "uid");
	ASSERT_EQ(eps_plan_slices(&in, &p, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "uid"));
	json_object_set_new(json_object_get(svc, "metadata"), "uid", json_string("u"));
	json_object_del(json_object_get(svc, "spec"), "selector");
	ASSERT_EQ(eps_plan_slices(&in, &p, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "no selector"));
	ASSERT(!eps_service_managed(svc));
	json_object_set_new(json_object_get(svc, "spec"), "selector", json_object());
	ASSERT(eps_service_managed(svc));
	json_object_set_new(json_object_get(svc, "spec"), "type", json_string("ExternalName"));
	ASSERT(!eps_service_managed(svc));
	/* A pods array that holds garbage is skipped, not a crash. */
	json_object_del(json_object_get(svc, "spec"), "type");
	in.pods = parse("[1, \"x\", null, {}]");
	in.slices = parse("[2, {}]");
	ASSERT_OK(eps_plan_slices(&in, &p, err, sizeof(err)));
	ASSERT_EQ(json_array_size(p.create), 1); /* the placeholder */
	ASSERT_EQ(json_array_size(p.remove), 2); /* not ours: no owner reference */
	eps_plan_free(&p);
	json_decref((json_t *)in.pods);
	json_decref((json_t *)in.slices);
	json_decref(svc);
}

TEST(eps_find_port_rules)
{
	json_t *p = pod("a", "10.244.0.1", READY);
	json_t *sp;

	sp = parse("{\"port\":80,\"targetPort\":\"http\"}");
	ASSERT_EQ(eps_find_port(p, sp), 8080);
	json_decref(sp);
	sp = parse("{\"port\":80,\"targetPort\":\"http\",\"protocol\":\"UDP\"}");
	ASSERT_EQ(eps_find_port(p, sp), -ENOENT);
	json_decref(sp);
	sp = parse("{\"port\":80,\"targetPort\":\"nope\"}");
	ASSERT_EQ(eps_find_port(p, sp), -ENOENT);
	json_decref(sp);
	sp = parse("{\"port\":80,\"targetPort\":81}");
	ASSERT_EQ(eps_find_port(p, sp), 81);
	json_decref(sp);
	sp = parse("{\"port\":80}");
	ASSERT_EQ(eps_find_port(p, sp), 80);
	json_decref(sp);
	/* A sidecar (init container, restartPolicy Always) serves named ports; others do not. */
	json_object_set_new(json_object_get(p, "spec"), "initContainers",
			    parse("[{\"name\":\"i\",\"ports\":[{\"name\":\"metrics\","
				  "\"containerPort\":9100}]},{\"name\":\"s\",\"restartPolicy\":"
				  "\"Always\",\"ports\":[{\"name\":\"proxy\",\"containerPort\":"
				  "15001}]}]"));
	sp = parse("{\"port\":80,\"targetPort\":\"proxy\"}");
	ASSERT_EQ(eps_find_port(p, sp), 15001);
	json_decref(sp);
	sp = parse("{\"port\":80,\"targetPort\":\"metrics\"}");
	ASSERT_EQ(eps_find_port(p, sp), -ENOENT);
	json_decref(sp);
	json_decref(p);
}

TEST(eps_pod_changed_filters_noise)
{
	json_t *a = pod("a", "10.244.0.1", READY), *b = json_deep_copy(a);

	ASSERT(!eps_pod_changed(a, b));
	json_object_set_new(json_object_get(b, "metadata"), "resourceVersion", json_string("9"));
	json_object_set_new(json_object_get(b, "metadata"), "annotations", json_object());
	ASSERT(!eps_pod_changed(a, b));
	json_object_set_new(json_array_get(jsonx_get_path(b, "status.conditions"), 0), "status",
			    json_string("False"));
	ASSERT(eps_pod_changed(a, b));
	json_decref(b);
	b = json_deep_copy(a);
	json_object_set_new(jsonx_get_path(b, "metadata.labels"), "x", json_string("y"));
	ASSERT(eps_pod_changed(a, b));
	json_decref(b);
	b = json_deep_copy(a);
	json_object_set_new(json_object_get(b, "metadata"), "deletionTimestamp",
			    json_string("2026-01-01T00:00:00Z"));
	ASSERT(eps_pod_changed(a, b));
	json_decref(a);
	json_decref(b);
}

TEST(eps_endpoints_subsets)
{
	json_t *svc = service("[{\"name\":\"http\",\"port\":80,\"targetPort\":\"http\"},"
			      "{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\","
			      "\"targetPort\":53}]");
	json_t *pods = json_array(), *ep, *odd, *ss;

	json_array_append_new(pods, pod("b", "10.244.0.2", 0));
	json_array_append_new(pods, pod("a", "10.244.0.1", READY));
	json_array_append_new(pods, pod("c", "10.244.0.3", READY | TERMINATING));
	odd = pod("d", "10.244.0.4", READY);
	json_object_set_new(json_array_get(jsonx_get_path(odd, "spec.containers[0].ports"), 0),
			    "containerPort", json_integer(9090));
	json_array_append_new(pods, odd);
	ep = eps_endpoints_build(svc, pods);
	ASSERT_NOT_NULL(ep);
	ASSERT_STREQ(jsonx_path_str(ep, "metadata.name", ""), "web");
	ASSERT_STREQ(jsonx_path_str(ep, "metadata.labels.team", ""), "a");
	ss = jsonx_arr(ep, "subsets");
	/*
	 * dns:53 is served by a, b, d -> one subset; http is 8080 on a and b and
	 * 9090 on d, so those go in subsets of their own. c is terminating: out.
	 */
	ASSERT_EQ(json_array_size(ss), 3);
	char *dump = jsonx_dumps_compact(ss);
	ASSERT_MSG(!strstr(dump, "10.244.0.3"), "terminating pod listed: %s", dump);
	free(dump);
	json_t *s, *dns = NULL, *h8080 = NULL;
	size_t i;

	json_array_foreach(ss, i, s) {
		if (json_array_size(jsonx_arr(s, "ports")) == 1 &&
		    jsonx_path_int(s, "ports[0].port", 0) == 53)
			dns = s;
		if (jsonx_path_int(s, "ports[0].port", 0) == 8080)
			h8080 = s;
	}
	ASSERT_NOT_NULL(dns);
	ASSERT_EQ(json_array_size(jsonx_arr(dns, "addresses")), 2); /* a, d */
	ASSERT_STREQ(jsonx_path_str(dns, "addresses[0].ip", ""), "10.244.0.1");
	ASSERT_STREQ(jsonx_path_str(dns, "notReadyAddresses[0].ip", ""), "10.244.0.2");
	ASSERT_STREQ(jsonx_path_str(dns, "ports[0].protocol", ""), "UDP");
	ASSERT_NOT_NULL(h8080);
	ASSERT_STREQ(jsonx_path_str(h8080, "ports[0].name", ""), "http");
	ASSERT_STREQ(jsonx_path_str(h8080, "addresses[0].targetRef.name", ""), "a");
	ASSERT_STREQ(jsonx_path_str(h8080, "addresses[0].nodeName", ""), "node-1");

	/* The stored form in another order is still equal; a label change is not. */
	json_t *cur = json_deep_copy(ep), *rev = json_array();

	for (i = json_array_size(ss); i > 0; i--)
		json_array_append(rev, json_array_get(ss, i - 1));
	json_object_set_new(cur, "subsets", rev);
	json_object_set_new(json_object_get(cur, "metadata"), "resourceVersion", json_string("5"));
	ASSERT(eps_endpoints_equal(cur, ep));
	json_object_set_new(jsonx_get_path(cur, "metadata.labels"), "team", json_string("z"));
	ASSERT(!eps_endpoints_equal(cur, ep));
	ASSERT(!eps_endpoints_equal(NULL, ep));
	json_decref(cur);
	json_decref(ep);

	/* publishNotReadyAddresses: everyone ready, terminating included. */
	json_object_set_new(json_object_get(svc, "spec"), "publishNotReadyAddresses", json_true());
	ep = eps_endpoints_build(svc, pods);
	dump = jsonx_dumps_compact(ep);
	ASSERT_MSG(strstr(dump, "10.244.0.3") && !strstr(dump, "notReadyAddresses"), "%s", dump);
	free(dump);
	json_decref(ep);
	json_decref(svc);
	json_decref(pods);
}

TEST(eps_endpoints_headless_and_empty)
{
	json_t *svc = service("[]"), *pods = json_array(), *ep;

	json_object_set_new(json_object_get(svc, "spec"), "clusterIP", json_string("None"));
	json_array_append_new(pods, pod("a", "10.244.0.1", READY));
	ep = eps_endpoints_build(svc, pods);
	ASSERT_EQ(json_array_size(jsonx_arr(ep, "subsets")), 1);
	ASSERT_NULL(jsonx_get_path(ep, "subsets[0].ports"));
	ASSERT_STREQ(jsonx_path_str(ep, "subsets[0].addresses[0].ip", ""), "10.244.0.1");
	ASSERT_NOT_NULL(jsonx_get_path(ep, "metadata.labels[\"service.kubernetes.io/headless\"]"));
	json_decref(ep);
	/* A ClusterIP Service without ports lists nobody. */
	json_object_set_new(json_object_get(svc, "spec"), "clusterIP", json_string("10.96.0.5"));
	ep = eps_endpoints_build(svc, pods);
	ASSERT_EQ(json_array_size(jsonx_arr(ep, "subsets")), 0);
	json_decref(ep);
	json_object_del(json_object_get(svc, "metadata"), "name");
	ASSERT_NULL(eps_endpoints_build(svc, pods));
	json_decref(svc);
	json_decref(pods);
}
