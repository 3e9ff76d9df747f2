/* test_sched_fixture.c - see test_sched_fixture.h (helpers only, no tests). */
#include "test_sched_fixture.h"

#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "util.h"

static json_t *objs;		/* every JSON object handed out */
static struct sched_pod **pods; /* every pod handed out */
static size_t npods;
static struct sched_cache cache;
static bool armed, have_cache;

static void fx_reset(void)
{
	for (size_t i = 0; i < npods; i++)
		sched_pod_put(pods[i]);
	free(pods);
	pods = NULL;
	npods = 0;
	if (have_cache)
		sched_cache_destroy(&cache);
	have_cache = false;
	json_decref(objs);
	objs = NULL;
}

static void arm(void)
{
	if (armed)
		return;
	armed = true;
	test_defer(fx_reset);
	objs = json_array();
}

json_t *fx_json(const char *text)
{
	char *s = xstrdup(text);
	json_error_t e;
	json_t *j;

	arm();
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	j = json_loads(s, 0, &e);
	ASSERT_MSG(j, "bad fixture JSON (%s): %s", e.text, s);
	free(s);
	json_array_append_new(objs, j);
	return j;
}

static struct sched_pod *keep(struct sched_pod *p)
{
	pods = xrealloc(pods, (npods + 1) * sizeof(*pods));
	pods[npods++] = p;
	return p;
}

struct sched_pod *fx_pod(const char *text)
{
	json_t *j = fx_json(text), *meta = json_object_get(j, "metadata");
	struct sched_pod *p;
	char err[256];

	if (!meta) {
		meta = json_object();
		json_object_set_new(j, "metadata", meta);
	}
	if (!json_object_get(meta, "namespace"))
		json_object_set_new(meta, "namespace", json_string("default"));
	if (!json_object_get(meta, "name"))
		json_object_set_new(meta, "name", json_sprintf("pod%zu", npods));
	ASSERT_OK(sched_pod_parse(j, &p, err, sizeof(err)));
	return keep(p);
}

struct sched_cache *fx_cache(void)
{
	arm();
	if (!have_cache) {
		sched_cache_init(&cache);
		have_cache = true;
	}
	return &cache;
}

struct sched_node *fx_node(const char *text)
{
	json_t *j = fx_json(text);
	unsigned ev;
	char err[256];

	ASSERT_OK(sched_cache_set_node(fx_cache(), j, &ev, err, sizeof(err)));
	return sched_cache_node(fx_cache(), json_string_value(json_object_get(
						    json_object_get(j, "metadata"), "name")));
}

struct sched_node *fx_simple_node(const char *name, const char *cpu, const char *memory,
				  const char *pods_, const char *labels)
{
	char *text = xasprintf("{'metadata':{'name':'%s','labels':%s},'status':{'allocatable':"
			       "{'cpu':'%s','memory':'%s','pods':'%s'}}}",
			       name, labels ? labels : "{}", cpu, memory, pods_);
	struct sched_node *n = fx_node(text);

	free(text);
	return n;
}

void fx_zones(void)
{
	fx_simple_node("a1", "4", "8Gi", "110",
		       "{'kubernetes.io/hostname':'a1','topology.kubernetes.io/zone':'a'}");
	fx_simple_node("a2", "4", "8Gi", "110",
		       "{'kubernetes.io/hostname':'a2','topology.kubernetes.io/zone':'a'}");
	fx_simple_node("b1", "4", "8Gi", "110",
		       "{'kubernetes.io/hostname':'b1','topology.kubernetes.io/zone':'b'}");
	fx_simple_node("b2", "4", "8Gi", "110", "{'kubernetes.io/hostname':'b2'}");
}

struct sched_pod *fx_bound(const char *node, const char *text)
{
	struct sched_pod *p = fx_pod(text);
	json_t *spec = json_object_get(p->obj, "spec");
	struct sched_pod *bound;
	char err[256];

	/* Re-parse with spec.nodeName set, as the watch would deliver it. */
	if (!spec) {
		spec = json_object();
		json_object_set_new(p->obj, "spec", spec);
	}
	json_object_set_new(spec, "nodeName", json_string(node));
	ASSERT_OK(sched_pod_parse(p->obj, &bound, err, sizeof(err)));
	keep(bound);
	ASSERT(sched_cache_add_pod(fx_cache(), bound) >= 0);
	return bound;
}

enum sched_code fx_filter(const char *plugin, const struct sched_pod *pod,
			  const struct sched_node *n, struct sched_status *st)
{
	int i = sched_plugin_index(plugin);

	ASSERT_MSG(i >= 0, "no plugin %s", plugin);
	return sched_filter_one(fx_cache(), pod, i, n, st);
}

enum sched_code fx_scores(const char *plugin, const struct sched_pod *pod, int64_t *scores)
{
	int i = sched_plugin_index(plugin);
	struct sched_cache *c = fx_cache();

	ASSERT_MSG(i >= 0, "no plugin %s", plugin);
	return sched_score_one(c, pod, i, c->live, c->nlive, scores);
}
