/*
 * Unit tests for agent/kubelet/pods_backoff.c (the restart schedule) and
 * for the runtime view helpers of pods_runtime.c: instance ranking and the
 * adoption decision at start.
 */
#include "test.h"
#include "test_kubelet_pods_fake.h"

#include <stdlib.h>
#include <string.h>

#include "agent/kubelet/pods.h"
#include "util.h"

#define SEC 1000000000LL

TEST(kubelet_pods_backoff_schedule)
{
	struct pods_backoff b = { 0 };
	int64_t t = 1000 * SEC;
	static const int64_t want[] = { 10, 20, 40, 80, 160, 300, 300 };

	/* No entry: the first failure is retried at once. */
	ASSERT(!pods_backoff_active(&b, t, t));
	ASSERT_EQ(pods_backoff_until(&b, t), 0);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		pods_backoff_next(&b, t);
		ASSERT_EQ(b.delay_ns, want[i] * SEC);
		/* The next failure right after waits the whole delay, not a nanosecond less. */
		t += SEC;
		ASSERT(pods_backoff_active(&b, t, t));
		ASSERT(pods_backoff_active(&b, t, t + want[i] * SEC - 1));
		ASSERT(!pods_backoff_active(&b, t, t + want[i] * SEC));
		ASSERT_EQ(pods_backoff_until(&b, t), t + want[i] * SEC);
		t += want[i] * SEC;
	}
}

TEST(kubelet_pods_backoff_resets_after_ten_quiet_minutes)
{
	struct pods_backoff b = { 0 };
	int64_t t = 1000 * SEC;

	pods_backoff_next(&b, t);
	pods_backoff_next(&b, t + 20 * SEC);
	ASSERT_EQ(b.delay_ns, 20 * SEC);
	/* Exactly 10 min after the last step still counts... */
	ASSERT(pods_backoff_active(&b, t + 620 * SEC, t + 621 * SEC));
	/* ...a failure later than that starts over: no wait, then 10 s. */
	ASSERT(!pods_backoff_active(&b, t + 621 * SEC, t + 621 * SEC));
	pods_backoff_next(&b, t + 621 * SEC);
	ASSERT_EQ(b.delay_ns, 10 * SEC);
}

TEST(kubelet_pods_backoff_string)
{
	char buf[32];

	pods_backoff_string(10 * SEC, buf, sizeof(buf));
	ASSERT_STREQ(buf, "10s");
	pods_backoff_string(160 * SEC, buf, sizeof(buf));
	ASSERT_STREQ(buf, "2m40s");
	pods_backoff_string(300 * SEC, buf, sizeof(buf));
	ASSERT_STREQ(buf, "5m0s");
	pods_backoff_string(3725 * SEC, buf, sizeof(buf));
	ASSERT_STREQ(buf, "1h2m5s");
	pods_backoff_string(0, buf, sizeof(buf));
	ASSERT_STREQ(buf, "0s");
}

static void add(struct pods_view *v, const char *id, const char *sb, const char *uid,
		const char *name, unsigned attempt, int64_t created)
{
	struct pods_ctr *c;

	v->ctr = xrealloc(v->ctr, (v->n_ctr + 1) * sizeof(*v->ctr));
	c = &v->ctr[v->n_ctr++];
	memset(c, 0, sizeof(*c));
	c->id = xstrdup(id);
	c->sandbox_id = xstrdup(sb);
	c->uid = xstrdup(uid);
	c->name = xstrdup(name);
	c->attempt = attempt;
	c->created_ns = created;
	c->reason = xstrdup("");
	c->message = xstrdup("");
	c->image = xstrdup("");
	c->image_ref = xstrdup("");
	c->log_path = xstrdup("");
	c->hash = xstrdup("");
}

static void add_sb(struct pods_view *v, const char *id, const char *uid, unsigned attempt,
		   bool ready, int64_t created)
{
	struct pods_sandbox *s;

	v->sb = xrealloc(v->sb, (v->n_sb + 1) * sizeof(*v->sb));
	s = &v->sb[v->n_sb++];
	memset(s, 0, sizeof(*s));
	s->id = xstrdup(id);
	s->uid = xstrdup(uid);
	s->name = xstrdup("");
	s->ns = xstrdup("");
	s->ip = xstrdup("");
	s->attempt = attempt;
	s->ready = ready;
	s->created_ns = created;
}

TEST(kubelet_pods_view_ranks_instances)
{
	struct pods_view v = { 0 };

	add(&v, "c1", "s1", "u", "a", 0, 1);
	add(&v, "c3", "s2", "u", "a", 2, 3);
	add(&v, "c2", "s1", "u", "a", 1, 2);
	add(&v, "c4", "s2", "u", "b", 0, 4);
	ASSERT_STREQ(pods_view_instance(&v, "a", NULL, 0)->id, "c3");
	ASSERT_STREQ(pods_view_instance(&v, "a", NULL, 1)->id, "c2");
	ASSERT_STREQ(pods_view_instance(&v, "a", NULL, 2)->id, "c1");
	ASSERT_NULL(pods_view_instance(&v, "a", NULL, 3));
	ASSERT_STREQ(pods_view_instance(&v, "a", "s1", 0)->id, "c2");
	ASSERT_NULL(pods_view_instance(&v, "b", "s1", 0));
	ASSERT_NULL(pods_view_instance(&v, "zz", NULL, 0));
	ASSERT_STREQ(pods_view_find(&v, "c4")->name, "b");
	ASSERT_NULL(pods_view_find(&v, "c9"));

	ASSERT_NULL(pods_view_current_sandbox(&v));
	add_sb(&v, "s1", "u", 0, true, 10);
	add_sb(&v, "s2", "u", 1, false, 20);
	add_sb(&v, "s3", "u", 1, true, 30);
	ASSERT_STREQ(pods_view_current_sandbox(&v)->id, "s3");
	pods_view_free(&v);
	ASSERT_EQ(v.n_ctr + v.n_sb, 0);
}

static bool known(void *ctx, const char *uid)
{
	return strstr((const char *)ctx, uid) != NULL;
}

TEST(kubelet_pods_adopt_plan_removes_only_unknown_pods)
{
	struct pods_view v = { 0 };
	const char **sbs, **ctrs;

	add_sb(&v, "s-keep", "u-keep", 0, true, 1);
	add_sb(&v, "s-orphan", "u-gone", 0, true, 2);
	add_sb(&v, "s-foreign", "", 0, true, 3); /* not labelled: not ours */
	add(&v, "c-keep", "s-keep", "u-keep", "a", 0, 1);
	add(&v, "c-orphan", "s-orphan", "u-gone", "a", 0, 2);
	add(&v, "c-lost", "s-missing", "u-lost", "a", 0, 3);
	add(&v, "c-foreign", "s-foreign", "", "a", 0, 4);
	ASSERT_EQ(pods_adopt_plan(&v, known, "u-keep u-other", &sbs, &ctrs), 3);
	ASSERT_STREQ(sbs[0], "s-orphan");
	ASSERT_NULL(sbs[1]);
	ASSERT_STREQ(ctrs[0], "c-orphan");
	ASSERT_STREQ(ctrs[1], "c-lost");
	ASSERT_NULL(ctrs[2]);
	free(sbs);
	free(ctrs);
	/* Everything known: nothing to do. */
	ASSERT_EQ(pods_adopt_plan(&v, known, "u-keep u-gone u-lost", &sbs, &ctrs), 0);
	ASSERT_NULL(sbs[0]);
	ASSERT_NULL(ctrs[0]);
	free(sbs);
	free(ctrs);
	pods_view_free(&v);
}

TEST(kubelet_pods_view_load_from_runtime)
{
	struct kfake f;
	struct pods_view v;
	char err[128];
	json_t *pod;
	struct pod_worker *w;

	kfake_init(&f);
	pod = kfake_pod("{\"metadata\":{\"name\":\"a\"},\"spec\":{\"containers\":[{\"name\":\"c\","
			"\"image\":\"busybox:1\"}]}}");
	w = pods_worker_new(&f.env, pod);
	pods_worker_sync(w);
	json_decref(pod);
	pod = kfake_pod("{\"metadata\":{\"name\":\"b\"},\"spec\":{\"containers\":[{\"name\":\"c\","
			"\"image\":\"busybox:1\"}]}}");
	pods_worker_free(w);
	w = pods_worker_new(&f.env, pod);
	pods_worker_sync(w);
	pods_worker_free(w);
	json_decref(pod);

	ASSERT_OK(pods_view_load(&f.env, "uid-a", true, &v, err, sizeof(err)));
	ASSERT_EQ(v.n_sb, 1);
	ASSERT_EQ(v.n_ctr, 1);
	ASSERT_STREQ(v.sb[0].name, "a");
	ASSERT_STREQ(v.sb[0].ip, f.sb[0].ip);
	ASSERT_EQ(json_array_size(v.sb[0].ips), 1);
	ASSERT_EQ(v.ctr[0].state, PODS_CTR_RUNNING);
	ASSERT_EQ(v.ctr[0].started_ns, f.now);
	ASSERT(strstr(v.ctr[0].log_path, "/default_a_uid-a/c/0.log") != NULL);
	ASSERT_STREQ(v.ctr[0].image_ref, "docker.io/library/busybox@sha256:feed");
	pods_view_free(&v);

	/* Without a uid: every labelled object, no details. */
	ASSERT_OK(pods_view_load(&f.env, NULL, false, &v, err, sizeof(err)));
	ASSERT_EQ(v.n_sb, 2);
	ASSERT_EQ(v.n_ctr, 2);
	ASSERT_STREQ(v.sb[1].ip, "");
	pods_view_free(&v);
	kfake_free(&f);
}
