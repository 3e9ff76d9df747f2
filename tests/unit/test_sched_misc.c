/*
 * Unit tests for the scheduler's small parts: the command line, the string map, the
 * filter thread pool, and the Event / PodScheduled condition objects it sends.
 */
#include "test.h"
#include "test_sched_fixture.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "control/scheduler/config.h"
#include "control/scheduler/pool.h"
#include "control/scheduler/scheduler.h"
#include "control/scheduler/strmap.h"
#include "jsonx.h"
#include "log.h"

static int parse(struct sched_config *cfg, char *err, size_t len, const char *const *args)
{
	char *argv[16];
	int argc = 0;

	argv[argc++] = (char *)"capstan-scheduler";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	return sched_config_parse(cfg, argc, argv, err, len);
}

TEST(sched_config_defaults_and_flags)
{
	static const char *const min[] = { "--kubeconfig", "/k", NULL };
	static const char *const all[] = { "--kubeconfig=/k",
					   "--scheduler-name",
					   "mine",
					   "--parallelism",
					   "4",
					   "--bind-workers=3",
					   "--pod-initial-backoff",
					   "500ms",
					   "--pod-max-backoff",
					   "1m",
					   "--percentage-of-nodes-to-score",
					   "30",
					   "--v=4",
					   NULL };
	static const char *const help[] = { "--help", NULL };
	struct sched_config cfg;
	char err[256];

	ASSERT_OK(parse(&cfg, err, sizeof(err), min));
	ASSERT_STREQ(cfg.kubeconfig, "/k");
	ASSERT_STREQ(cfg.scheduler_name, "default-scheduler");
	ASSERT_EQ(cfg.parallelism, 2);
	ASSERT_EQ(cfg.percentage, 0);
	ASSERT_EQ(cfg.initial_backoff_ns, 1000000000ull);
	ASSERT_EQ(cfg.max_backoff_ns, 10000000000ull);
	ASSERT_OK(parse(&cfg, err, sizeof(err), all));
	ASSERT_STREQ(cfg.scheduler_name, "mine");
	ASSERT_EQ(cfg.parallelism, 4);
	ASSERT_EQ(cfg.bind_workers, 3);
	ASSERT_EQ(cfg.percentage, 30);
	ASSERT_EQ(cfg.initial_backoff_ns, 500000000ull);
	ASSERT_EQ(cfg.max_backoff_ns, 60000000000ull);
	ASSERT(log_enabled(LOG_LVL_DEBUG));
	ASSERT_OK(parse(&cfg, err, sizeof(err), help));
	ASSERT(cfg.help);
}

TEST(sched_config_rejects_bad_input)
{
	static const struct {
		const char *args[6];
		const char *msg;
	} cases[] = {
		{ { NULL }, "--kubeconfig FILE is required" },
		{ { "--kubeconfig", "/k", "--parallelism", "0", NULL }, "--parallelism" },
		{ { "--kubeconfig", "/k", "--parallelism", "2x", NULL }, "--parallelism" },
		{ { "--kubeconfig", "/k", "--bind-workers", "-1", NULL }, "--bind-workers" },
		{ { "--kubeconfig", "/k", "--pod-initial-backoff", "soon", NULL },
		  "--pod-initial-backoff: \"soon\" is not a positive duration" },
		{ { "--kubeconfig", "/k", "--pod-max-backoff", "0", NULL }, "--pod-max-backoff" },
		{ { "--kubeconfig", "/k", "--pod-initial-backoff", "20s", NULL },
		  "must not be below" },
		{ { "--kubeconfig", "/k", "--percentage-of-nodes-to-score", "101", NULL },
		  "--percentage-of-nodes-to-score" },
		{ { "--kubeconfig", "/k", "--scheduler-name=", NULL }, "must not be empty" },
		{ { "--kubeconfig", "/k", "--frobnicate", NULL }, "unknown option --frobnicate" },
		{ { "--kubeconfig", NULL }, "--kubeconfig needs a value" },
		{ { "--kubeconfig", "/k", "extra", NULL }, "unexpected argument \"extra\"" },
		{ { "--kubeconfig", "/k", "--log-level", "loud", NULL }, "--log-level" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct sched_config cfg;
		char err[256] = "";

		ASSERT_EQ(parse(&cfg, err, sizeof(err), cases[i].args), -EINVAL);
		ASSERT_MSG(strstr(err, cases[i].msg), "case %zu: \"%s\" lacks \"%s\"", i, err,
			   cases[i].msg);
	}
}

TEST(sched_strmap_put_get_delete)
{
	struct sched_map m = { 0 };
	static int vals[3000];
	char key[32];
	size_t n = 0;
	const char *k;
	void *v;

	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof(key), "ns/pod-%d", i);
		ASSERT_NULL(sched_map_put(&m, key, &vals[i]));
	}
	ASSERT_EQ(m.len, 3000);
	snprintf(key, sizeof(key), "ns/pod-%d", 7);
	ASSERT(sched_map_put(&m, key, &vals[7]) == &vals[7]);
	ASSERT_EQ(m.len, 3000);
	/* Delete every other key: the rest must stay reachable (backward-shift deletion). */
	for (int i = 0; i < 3000; i += 2) {
		snprintf(key, sizeof(key), "ns/pod-%d", i);
		ASSERT(sched_map_del(&m, key) == &vals[i]);
	}
	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof(key), "ns/pod-%d", i);
		ASSERT(sched_map_get(&m, key) == (i % 2 ? &vals[i] : NULL));
	}
	for (size_t it = 0; sched_map_next(&m, &it, &k, &v);)
		n++;
	ASSERT_EQ(n, 1500);
	ASSERT_NULL(sched_map_del(&m, "absent"));
	ASSERT_NULL(sched_map_get(&m, NULL));
	sched_map_free(&m);
	ASSERT_NULL(sched_map_get(&m, "ns/pod-1"));
}

static void count_calls(void *ctx, size_t i)
{
	atomic_int *calls = ctx;

	atomic_fetch_add(&calls[i], 1);
}

TEST(sched_pool_runs_every_index_once)
{
	static atomic_int calls[1000];
	struct sched_pool *pool = sched_pool_new(3);

	ASSERT_NOT_NULL(pool);
	for (int round = 0; round < 20; round++) {
		size_t n = (size_t)round * 50;

		for (size_t i = 0; i < 1000; i++)
			atomic_store(&calls[i], 0);
		sched_pool_run(pool, n, count_calls, calls);
		for (size_t i = 0; i < 1000; i++)
			ASSERT_EQ(atomic_load(&calls[i]), i < n ? 1 : 0);
	}
	sched_pool_free(pool);
	atomic_store(&calls[4], 0);
	sched_pool_run(NULL, 5, count_calls, calls);
	ASSERT_EQ(atomic_load(&calls[4]), 1);
}

TEST(sched_event_object)
{
	json_t *pod = fx_json("{'metadata':{'name':'web','namespace':'prod','uid':'u1',"
			      "'resourceVersion':'42'}}");
	json_t *ev = sched_event_new(pod, "default-scheduler", "Normal", "Scheduled",
				     "Successfully assigned prod/web to n1", 1764520935123456789ll);

	ASSERT_STREQ(jsonx_path_str(ev, "metadata.name", ""), "web.187cd67110c61315");
	ASSERT_STREQ(jsonx_path_str(ev, "metadata.namespace", ""), "prod");
	ASSERT_STREQ(jsonx_path_str(ev, "involvedObject.kind", ""), "Pod");
	ASSERT_STREQ(jsonx_path_str(ev, "involvedObject.uid", ""), "u1");
	ASSERT_STREQ(jsonx_path_str(ev, "involvedObject.resourceVersion", ""), "42");
	ASSERT_STREQ(jsonx_path_str(ev, "source.component", ""), "default-scheduler");
	ASSERT_STREQ(jsonx_path_str(ev, "reportingComponent", ""), "default-scheduler");
	ASSERT_STREQ(jsonx_path_str(ev, "firstTimestamp", ""), "2025-11-30T16:42:15Z");
	ASSERT_EQ(jsonx_path_int(ev, "count", 0), 1);
	ASSERT_STREQ(jsonx_path_str(ev, "type", ""), "Normal");
	ASSERT_STREQ(jsonx_path_str(ev, "message", ""), "Successfully assigned prod/web to n1");
	json_decref(ev);
}

TEST(sched_condition_patch_only_when_changed)
{
	json_t *fresh = fx_json("{'metadata':{'name':'p'}}");
	json_t *same = fx_json("{'status':{'conditions':[{'type':'PodScheduled','status':'False',"
			       "'reason':'Unschedulable','message':'m1','lastTransitionTime':"
			       "'2026-01-01T00:00:00Z'}]}}");
	json_t *patch;

	patch = sched_condition_patch(fresh, "Unschedulable", "m1", 1764520935000000000ll);
	ASSERT_STREQ(jsonx_path_str(patch, "status.conditions[0].type", ""), "PodScheduled");
	ASSERT_STREQ(jsonx_path_str(patch, "status.conditions[0].status", ""), "False");
	ASSERT_STREQ(jsonx_path_str(patch, "status.conditions[0].reason", ""), "Unschedulable");
	ASSERT_STREQ(jsonx_path_str(patch, "status.conditions[0].message", ""), "m1");
	ASSERT_STREQ(jsonx_path_str(patch, "status.conditions[0].lastTransitionTime", ""),
		     "2025-11-30T16:42:15Z");
	ASSERT(json_is_null(jsonx_get_path(patch, "status.conditions[0].lastProbeTime")));
	json_decref(patch);
	ASSERT_NULL(sched_condition_patch(same, "Unschedulable", "m1", 0));
	/* A new message keeps the transition time: the status did not change. */
	patch = sched_condition_patch(same, "Unschedulable", "m2", 1764520935000000000ll);
	ASSERT_STREQ(jsonx_path_str(patch, "status.conditions[0].lastTransitionTime", ""),
		     "2026-01-01T00:00:00Z");
	json_decref(patch);
}
