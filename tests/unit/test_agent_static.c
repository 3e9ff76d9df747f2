/*
 * Unit tests for agent/lb/staticsrc: reading `kubectl get
 * svc,endpointslices -A -o json` output and feeding a reload's difference
 * to the sync.
 */
#include "test.h"
#include "test_agent_fake.h"

#include <stdio.h>
#include <stdlib.h>

#include "agent/lb/staticsrc.h"
#include "agent/lb/sync.h"
#include "agent/lb/writer.h"

static const char *write_file(const char *name, const char *text)
{
	static char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", test_tmpdir(), name);
	f = fopen(path, "w");
	ASSERT_NOT_NULL(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* A Service as kubectl prints it (abridged). */
static char *svc_item(const char *name, const char *ip)
{
	return xasprintf(
		"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"%s\","
		"\"namespace\":\"default\",\"resourceVersion\":\"7\"},\"spec\":{"
		"\"clusterIP\":\"%s\",\"ports\":[{\"port\":80,\"protocol\":\"TCP\","
		"\"targetPort\":8080}]}}",
		name, ip);
}

/* An EndpointSlice of svc with one ready endpoint. */
static char *slice_item(const char *name, const char *svc, const char *addr)
{
	return xasprintf("{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\","
			 "\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\",\"labels\":{"
			 "\"kubernetes.io/service-name\":\"%s\"}},\"addressType\":\"IPv4\","
			 "\"ports\":[{\"port\":8080}],\"endpoints\":[{\"addresses\":[\"%s\"],"
			 "\"conditions\":{\"ready\":true}}]}",
			 name, svc, addr);
}

/* Write {"kind":"List","items":[items...]} (items are freed). */
static const char *write_list(const char *name, char **items)
{
	struct buf b = { 0 };
	const char *path;

	buf_appendf(&b, "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[");
	for (size_t i = 0; items[i]; i++) {
		buf_appendf(&b, "%s%s", i ? "," : "", items[i]);
		free(items[i]);
	}
	buf_appendf(&b, "]}");
	path = write_file(name, b.data);
	buf_free(&b);
	return path;
}

TEST(agent_static_reads_a_kubectl_list)
{
	char *items[] = { svc_item("web", "10.96.0.10"), slice_item("web-abc", "web", "10.244.1.1"),
			  xstrdup("{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}"), NULL };
	const char *path = write_list("l.json", items);
	struct lb_static_objects o;
	char err[256];

	ASSERT_OK(lb_static_load(path, &o, err, sizeof(err)));
	ASSERT_EQ(json_object_size(o.services), 1);
	ASSERT_EQ(json_object_size(o.slices), 1);
	ASSERT_NOT_NULL(json_object_get(o.services, "default/web"));
	ASSERT_NOT_NULL(json_object_get(o.slices, "default/web-abc"));
	lb_static_objects_free(&o);
}

TEST(agent_static_reads_typed_lists_and_single_objects)
{
	const char *path =
		write_file("t.json", "{\"kind\":\"ServiceList\",\"items\":["
				     "{\"metadata\":{\"name\":\"a\",\"namespace\":\"x\"}},"
				     "{\"metadata\":{\"name\":\"b\"}}]}");
	struct lb_static_objects o;
	char err[256], *one;

	ASSERT_OK(lb_static_load(path, &o, err, sizeof(err)));
	ASSERT_EQ(json_object_size(o.services), 2);
	ASSERT_NOT_NULL(json_object_get(o.services, "x/a"));
	ASSERT_NOT_NULL(json_object_get(o.services, "default/b"));
	lb_static_objects_free(&o);
	one = slice_item("one", "web", "10.244.1.1");
	path = write_file("s.json", one);
	free(one);
	ASSERT_OK(lb_static_load(path, &o, err, sizeof(err)));
	ASSERT_EQ(json_object_size(o.services), 0);
	ASSERT_EQ(json_object_size(o.slices), 1);
	lb_static_objects_free(&o);
	path = write_file("e.json", "{\"kind\":\"List\",\"items\":[]}");
	ASSERT_OK(lb_static_load(path, &o, err, sizeof(err)));
	ASSERT_EQ(json_object_size(o.services) + json_object_size(o.slices), 0);
	lb_static_objects_free(&o);
}

static void expect_error(const char *path, int code, const char *msg_part)
{
	struct lb_static_objects o = { 0 };
	char err[512] = "";

	ASSERT_EQ(lb_static_load(path, &o, err, sizeof(err)), code);
	ASSERT_MSG(strstr(err, msg_part) != NULL, "error \"%s\" lacks \"%s\"", err, msg_part);
	ASSERT_MSG(strstr(err, path) != NULL, "error \"%s\" does not name the file", err);
	ASSERT_NULL(o.services);
}

TEST(agent_static_rejects_bad_files)
{
	char *seven[] = { svc_item("a", "10.96.0.1"), xstrdup("7"), NULL };
	char *twice[] = { svc_item("a", "10.96.0.1"), svc_item("a", "10.96.0.2"), NULL };
	char *nameless[] = { xstrdup("{\"kind\":\"Service\",\"metadata\":{}}"), NULL };

	expect_error(write_file("bad.json", "{\"kind\":\"List\",\"items\":[\n{]}"), -EINVAL,
		     "bad.json:2:");
	expect_error(write_file("arr.json", "[1,2]"), -EINVAL, "not a List");
	expect_error(write_file("pod.json", "{\"kind\":\"Pod\"}"), -EINVAL, "not a List");
	expect_error(write_list("seven.json", seven), -EINVAL, "items[1] is not an object");
	expect_error(write_list("nameless.json", nameless), -EINVAL, "no metadata.name");
	expect_error(write_list("twice.json", twice), -EINVAL, "Service default/a is listed twice");
	expect_error("/nonexistent/capstan.json", -ENOENT, "No such file");
}

TEST(agent_static_reload_feeds_only_the_difference)
{
	char *first[] = { svc_item("web", "10.96.0.10"), svc_item("api", "10.96.0.11"),
			  svc_item("old", "10.96.0.12"), slice_item("web-1", "web", "10.244.1.1"),
			  NULL };
	/* web unchanged, api gets a backend, old is gone, new appears. */
	char *second[] = { svc_item("web", "10.96.0.10"),
			   svc_item("api", "10.96.0.11"),
			   svc_item("new", "10.96.0.13"),
			   slice_item("web-1", "web", "10.244.1.1"),
			   slice_item("api-1", "api", "10.244.2.1"),
			   NULL };
	struct fake_maps fm;
	struct lb_writer_config wc = { .ops = &fake_ops, .ops_ctx = &fm };
	struct lb_writer *w;
	struct lb_sync *s;
	struct lb_static_objects a, b;
	struct lb_sync_result res;
	struct capstan_svc_val v;
	char err[256];

	fake_init(&fm);
	w = lb_writer_new(&wc);
	s = lb_sync_new(&(struct lb_sync_config){ .node = "n", .writer = w });
	ASSERT_OK(lb_static_load(write_list("1.json", first), &a, err, sizeof(err)));
	lb_static_feed(s, NULL, &a);
	ASSERT_EQ(lb_sync_pending(s), 4);
	ASSERT_OK(lb_sync_run(s, false, NULL));
	ASSERT(fake_svc(&fm, "10.96.0.12", 80, 6, 0, NULL));

	ASSERT_OK(lb_static_load(write_list("2.json", second), &b, err, sizeof(err)));
	lb_static_feed(s, &a, &b);
	ASSERT_EQ(lb_sync_pending(s), 3);
	ASSERT_OK(lb_sync_run(s, false, &res));
	ASSERT_EQ(res.services, 3);
	ASSERT(!fake_svc(&fm, "10.96.0.12", 80, 6, 0, NULL));
	ASSERT(fake_svc(&fm, "10.96.0.13", 80, 6, 0, NULL));
	ASSERT(fake_svc(&fm, "10.96.0.11", 80, 6, 0, &v));
	ASSERT_EQ(v.count, 1);
	lb_static_objects_free(&a);
	lb_static_objects_free(&b);
	lb_sync_free(s);
	lb_writer_free(w);
	fake_free(&fm);
}
