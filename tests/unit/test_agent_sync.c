/*
 * Unit tests for agent/lb/tracker and agent/lb/sync: changes recorded per
 * key with flapping cancelled, and the sync turning them into the minimum
 * of map writes (against the fake maps of test_agent_fake.c).
 */
#include "test.h"
#include "test_agent_fake.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>

#include "agent/lb/sync.h"
#include "agent/lb/tracker.h"
#include "agent/lb/writer.h"
#include "jsonx.h"

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	ASSERT_MSG(j != NULL, "bad test JSON: %s: %s", e.text, text);
	return j;
}

/* ---------------------------------------------------------------- tracker */

TEST(agent_tracker_add_update_delete)
{
	struct tracker *t = tracker_new();
	json_t *a = J("{\"v\":1}"), *b = J("{\"v\":2}");
	struct tracker_changes c;

	ASSERT(tracker_update(t, "ns/x", NULL, a, 100));
	ASSERT(tracker_update(t, "ns/y", a, b, 200));
	ASSERT(tracker_update(t, "ns/z", b, NULL, 300));
	ASSERT_EQ(tracker_pending(t), 3);
	tracker_drain(t, &c);
	ASSERT_EQ(tracker_pending(t), 0);
	ASSERT_EQ(c.n, 3);
	ASSERT_STREQ(c.v[0].key, "ns/x");
	ASSERT_NULL(c.v[0].prev);
	ASSERT(jsonx_equal(c.v[0].cur, a));
	ASSERT_EQ(c.v[0].since_ns, 100);
	ASSERT(jsonx_equal(c.v[1].prev, a) && jsonx_equal(c.v[1].cur, b));
	ASSERT_NULL(c.v[2].cur);
	tracker_changes_free(&c);
	json_decref(a);
	json_decref(b);
	tracker_free(t);
}

TEST(agent_tracker_coalesces_updates_keeping_first_previous_and_time)
{
	struct tracker *t = tracker_new();
	json_t *v[4];
	struct tracker_changes c;

	for (int i = 0; i < 4; i++)
		v[i] = json_pack("{si}", "v", i);
	ASSERT(tracker_update(t, "k", v[0], v[1], 10));
	ASSERT(tracker_update(t, "k", v[1], v[2], 20));
	ASSERT(tracker_update(t, "k", v[2], v[3], 30));
	tracker_drain(t, &c);
	ASSERT_EQ(c.n, 1);
	ASSERT(jsonx_equal(c.v[0].prev, v[0]));
	ASSERT(jsonx_equal(c.v[0].cur, v[3]));
	ASSERT_EQ(c.v[0].since_ns, 10);
	tracker_changes_free(&c);
	for (int i = 0; i < 4; i++)
		json_decref(v[i]);
	tracker_free(t);
}

TEST(agent_tracker_flaps_cancel_out)
{
	struct tracker *t = tracker_new();
	json_t *ready = J("{\"ready\":true,\"n\":1}"), *not_ready = J("{\"ready\":false,\"n\":1}");
	json_t *same_other_order = J("{\"n\":1.0,\"ready\":true}");

	/* ready -> not ready -> ready: nothing to do. */
	ASSERT(tracker_update(t, "a", ready, not_ready, 1));
	ASSERT(!tracker_update(t, "a", not_ready, ready, 2));
	ASSERT_EQ(tracker_pending(t), 0);
	/* add then delete: nothing. */
	ASSERT(tracker_update(t, "b", NULL, ready, 3));
	ASSERT(!tracker_update(t, "b", ready, NULL, 4));
	/* An update to an equal value (key order, 1 vs 1.0) is no change. */
	ASSERT(!tracker_update(t, "c", ready, same_other_order, 5));
	ASSERT(!tracker_update(t, "d", NULL, NULL, 6));
	ASSERT(!tracker_update(t, NULL, NULL, ready, 7));
	ASSERT(!tracker_update(t, "", NULL, ready, 8));
	ASSERT_EQ(tracker_pending(t), 0);
	/* A flap after a real change leaves the real change. */
	ASSERT(tracker_update(t, "e", NULL, ready, 9));
	ASSERT(tracker_update(t, "e", ready, not_ready, 10));
	ASSERT(tracker_update(t, "e", not_ready, ready, 11));
	ASSERT_EQ(tracker_pending(t), 1);
	json_decref(ready);
	json_decref(not_ready);
	json_decref(same_other_order);
	tracker_free(t);
}

struct tracker_thread_arg {
	struct tracker *t;
	int base;
};

static void *tracker_writer_thread(void *p)
{
	struct tracker_thread_arg *a = p;

	for (int i = 0; i < 500; i++) {
		char key[32];
		json_t *v = json_integer(i);

		snprintf(key, sizeof(key), "k%d", a->base + i);
		tracker_update(a->t, key, NULL, v, 1);
		json_decref(v);
	}
	return NULL;
}

TEST(agent_tracker_is_thread_safe)
{
	struct tracker *t = tracker_new();
	struct tracker_thread_arg args[4];
	pthread_t th[4];
	struct tracker_changes c;

	for (int i = 0; i < 4; i++) {
		args[i] = (struct tracker_thread_arg){ t, i * 1000 };
		ASSERT_OK(pthread_create(&th[i], NULL, tracker_writer_thread, &args[i]));
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	tracker_drain(t, &c);
	ASSERT_EQ(c.n, 2000);
	for (size_t i = 1; i < c.n; i++)
		ASSERT(strcmp(c.v[i - 1].key, c.v[i].key) < 0);
	tracker_changes_free(&c);
	tracker_free(t);
}

/* ---------------------------------------------------------------- sync */

static struct fake_maps fm;
static struct lb_writer *w;
static struct lb_sync *s;
static struct lb_hist lat;
static int changes_signalled;

static void count_change(void *ctx)
{
	changes_signalled++;
}

static void setup(void)
{
	struct lb_writer_config wc = { .ops = &fake_ops, .ops_ctx = &fm };
	struct lb_sync_config sc = { .node = "n1",
				     .on_change = count_change,
				     .event_to_map = &lat };

	fake_init(&fm);
	w = lb_writer_new(&wc);
	sc.writer = w;
	s = lb_sync_new(&sc);
	ASSERT_NOT_NULL(s);
	ASSERT_OK(lb_hist_init(&lat, lb_latency_buckets, lb_latency_nbuckets));
	changes_signalled = 0;
}

static void teardown(void)
{
	lb_sync_free(s);
	lb_writer_free(w);
	lb_hist_destroy(&lat);
	fake_free(&fm);
}

static json_t *service(const char *name, const char *ip, int port)
{
	return json_pack("{s{ssss}s{sss[{sisi}]}}", "metadata", "name", name, "namespace", "prod",
			 "spec", "clusterIP", ip, "ports", "port", port, "targetPort", 8080);
}

/* A slice for service svc with endpoints "addr" (ready) or "addr!" (not ready). */
static json_t *slice(const char *name, const char *svc, const char *const *eps)
{
	json_t *o = json_pack("{s{sssss{ss}}s[{si}]s[]}", "metadata", "name", name, "namespace",
			      "prod", "labels", "kubernetes.io/service-name", svc, "ports", "port",
			      8080, "endpoints");
	json_t *arr = jsonx_arr(o, "endpoints");

	for (; eps && *eps; eps++) {
		char addr[32];
		size_t n = strlen(*eps);
		bool ready = (*eps)[n - 1] != '!';

		snprintf(addr, sizeof(addr), "%.*s", (int)(ready ? n : n - 1), *eps);
		json_array_append_new(arr, json_pack("{s[s]s{sb}}", "addresses", addr, "conditions",
						     "ready", ready));
	}
	return o;
}

static unsigned slot_count(const char *vip, unsigned port)
{
	struct capstan_svc_val v;

	if (!fake_svc(&fm, vip, port, IPPROTO_TCP, 0, &v))
		return 9999;
	return v.count;
}

static void run(bool full, struct lb_sync_result *res)
{
	struct lb_sync_result local;

	ASSERT_OK(lb_sync_run(s, full, res ? res : &local));
}

TEST(agent_sync_programs_services_from_events)
{
	json_t *svc = service("web", "10.96.0.10", 80);
	json_t *sl = slice("web-1", "web", (const char *[]){ "10.244.1.1", "10.244.1.2", NULL });
	struct lb_sync_result res;

	setup();
	lb_sync_service_event(s, NULL, svc);
	lb_sync_slice_event(s, NULL, sl);
	ASSERT_EQ(changes_signalled, 2);
	ASSERT_EQ(lb_sync_pending(s), 2);
	run(false, &res);
	ASSERT(res.full == false);
	ASSERT_EQ(res.changes, 2);
	ASSERT_EQ(res.services, 1);
	ASSERT_EQ(res.total_services, 1);
	ASSERT_EQ(res.frontends, 1);
	ASSERT_EQ(res.backends, 2);
	ASSERT_EQ(slot_count("10.96.0.10", 80), 2);
	/* One latency sample for the service those two events changed. */
	ASSERT_EQ(lat.count, 1);
	json_decref(svc);
	json_decref(sl);
	teardown();
}

TEST(agent_sync_flapping_endpoint_writes_nothing)
{
	json_t *svc = service("web", "10.96.0.10", 80);
	json_t *up = slice("web-1", "web", (const char *[]){ "10.244.1.1", "10.244.1.2", NULL });
	json_t *down = slice("web-1", "web", (const char *[]){ "10.244.1.1", "10.244.1.2!", NULL });
	struct lb_sync_result res;

	setup();
	lb_sync_service_event(s, NULL, svc);
	lb_sync_slice_event(s, NULL, up);
	run(false, NULL);
	fake_log_reset(&fm);
	lb_sync_slice_event(s, up, down);
	lb_sync_slice_event(s, down, up);
	ASSERT_EQ(lb_sync_pending(s), 0);
	run(false, &res);
	ASSERT_EQ(res.changes, 0);
	ASSERT_EQ(res.services, 0);
	ASSERT_STREQ(fake_log(&fm), "");
	/* A real change goes through. */
	lb_sync_slice_event(s, up, down);
	run(false, NULL);
	ASSERT_EQ(slot_count("10.96.0.10", 80), 1);
	json_decref(svc);
	json_decref(up);
	json_decref(down);
	teardown();
}

TEST(agent_sync_irrelevant_update_is_no_change)
{
	json_t *svc = service("web", "10.96.0.10", 80), *svc2 = json_deep_copy(svc);

	setup();
	lb_sync_service_event(s, NULL, svc);
	run(false, NULL);
	jsonx_set_path(svc2, "metadata.resourceVersion", json_string("42"));
	jsonx_set_path(svc2, "status.loadBalancer", json_object());
	changes_signalled = 0;
	lb_sync_service_event(s, svc, svc2);
	ASSERT_EQ(changes_signalled, 0);
	ASSERT_EQ(lb_sync_pending(s), 0);
	json_decref(svc);
	json_decref(svc2);
	teardown();
}

TEST(agent_sync_slice_before_its_service)
{
	json_t *svc = service("web", "10.96.0.10", 80);
	json_t *sl = slice("web-1", "web", (const char *[]){ "10.244.1.1", NULL });

	setup();
	lb_sync_slice_event(s, NULL, sl);
	run(false, NULL);
	ASSERT_EQ(fm.n, 0);
	lb_sync_service_event(s, NULL, svc);
	run(false, NULL);
	ASSERT_EQ(slot_count("10.96.0.10", 80), 1);
	json_decref(svc);
	json_decref(sl);
	teardown();
}

TEST(agent_sync_relabelled_slice_moves_between_services)
{
	json_t *a = service("a", "10.96.0.10", 80), *b = service("b", "10.96.0.20", 80);
	json_t *sa = slice("s", "a", (const char *[]){ "10.244.1.1", NULL });
	json_t *sb = slice("s", "b", (const char *[]){ "10.244.1.1", NULL });
	struct lb_sync_result res;

	setup();
	lb_sync_service_event(s, NULL, a);
	lb_sync_service_event(s, NULL, b);
	lb_sync_slice_event(s, NULL, sa);
	run(false, NULL);
	ASSERT_EQ(slot_count("10.96.0.10", 80), 1);
	ASSERT_EQ(slot_count("10.96.0.20", 80), 0);
	lb_sync_slice_event(s, sa, sb);
	run(false, &res);
	ASSERT_EQ(res.services, 2); /* both, not everything */
	ASSERT_EQ(slot_count("10.96.0.10", 80), 0);
	ASSERT_EQ(slot_count("10.96.0.20", 80), 1);
	/* Deleting the slice empties b. */
	lb_sync_slice_event(s, sb, NULL);
	run(false, NULL);
	ASSERT_EQ(slot_count("10.96.0.20", 80), 0);
	ASSERT_EQ(fake_count(&fm, LB_MAP_BACKEND), 0);
	json_decref(a);
	json_decref(b);
	json_decref(sa);
	json_decref(sb);
	teardown();
}

TEST(agent_sync_address_moves_from_deleted_to_new_service_in_one_run)
{
	/* "zzz" sorts after "aaa": the deletion must still go first. */
	json_t *old = service("zzz", "10.96.0.10", 80), *new = service("aaa", "10.96.0.10", 80);
	json_t *sl = slice("aaa-1", "aaa", (const char *[]){ "10.244.1.7", NULL });
	struct lb_snapshot snap;

	setup();
	lb_sync_service_event(s, NULL, old);
	run(false, NULL);
	lb_sync_service_event(s, old, NULL);
	lb_sync_service_event(s, NULL, new);
	lb_sync_slice_event(s, NULL, sl);
	run(false, NULL);
	ASSERT_EQ(slot_count("10.96.0.10", 80), 1);
	lb_writer_snapshot(w, &snap);
	ASSERT_EQ(snap.nfe, 1);
	ASSERT_STREQ(snap.fe[0].owner, "prod/aaa");
	lb_snapshot_free(&snap);
	json_decref(old);
	json_decref(new);
	json_decref(sl);
	teardown();
}

TEST(agent_sync_first_run_after_restore_is_full_and_keeps_ids)
{
	json_t *svc = service("web", "10.96.0.10", 80);
	json_t *sl = slice("web-1", "web", (const char *[]){ "10.244.1.1", NULL });
	struct capstan_svc_key k = fake_svc_key("10.96.0.99", 80, IPPROTO_TCP, 0);
	struct capstan_svc_val v = { .count = 0, .rev_nat_id = 3 };
	struct lb_sync_result res;

	setup();
	lb_sync_service_event(s, NULL, svc);
	lb_sync_slice_event(s, NULL, sl);
	run(false, NULL);
	/* Another agent's leftovers appear; this one restarts (restore). */
	fake_put(&fm, LB_MAP_SVC, &k, &v);
	ASSERT_OK(lb_writer_restore(w, NULL));
	fake_log_reset(&fm);
	run(false, &res);
	ASSERT(res.full);
	ASSERT_EQ(res.services, 1);
	/* Its rev-NAT entry is deleted too, present or not. */
	ASSERT_STREQ(fake_log(&fm), "S- 10.96.0.99:80/6#0\nR- 3\n");
	ASSERT(fake_svc(&fm, "10.96.0.10", 80, IPPROTO_TCP, 0, &v));
	ASSERT_EQ(v.rev_nat_id, 1);
	json_decref(svc);
	json_decref(sl);
	teardown();
}

TEST(agent_sync_failed_service_is_retried_without_new_events)
{
	json_t *svc = service("web", "10.96.0.10", 80);
	json_t *sl = slice("web-1", "web", (const char *[]){ "10.244.1.1", NULL });
	struct lb_sync_result res;

	setup();
	lb_sync_service_event(s, NULL, svc);
	lb_sync_slice_event(s, NULL, sl);
	fm.fail_at = 5; /* Z B+ Z R+ S#1 -> slot 0 fails */
	ASSERT_EQ(lb_sync_run(s, false, &res), -EIO);
	ASSERT_EQ(res.writes.errors, 1);
	ASSERT_EQ(slot_count("10.96.0.10", 80), 9999);
	/* No latency sample for a failed write. */
	ASSERT_EQ(lat.count, 0);
	run(false, &res);
	ASSERT_EQ(res.changes, 0);
	ASSERT_EQ(res.services, 1);
	ASSERT_EQ(slot_count("10.96.0.10", 80), 1);
	json_decref(svc);
	json_decref(sl);
	teardown();
}

TEST(agent_sync_full_run_rebuilds_all_without_writes)
{
	json_t *a = service("a", "10.96.0.10", 80), *b = service("b", "10.96.0.20", 80);
	struct lb_sync_result res;

	setup();
	lb_sync_service_event(s, NULL, a);
	lb_sync_service_event(s, NULL, b);
	run(false, NULL);
	fake_log_reset(&fm);
	run(true, &res);
	ASSERT(res.full);
	ASSERT_EQ(res.services, 2);
	ASSERT_EQ(res.writes.updates + res.writes.deletes, 0);
	ASSERT_STREQ(fake_log(&fm), "");
	ASSERT_EQ(lat.count, 2); /* the first run's, one per service */
	json_decref(a);
	json_decref(b);
	teardown();
}

TEST(agent_sync_invalid_service_is_removed_not_fatal)
{
	json_t *good = service("web", "10.96.0.10", 80), *bad = service("web", "not-an-ip", 80);

	setup();
	lb_sync_service_event(s, NULL, good);
	run(false, NULL);
	ASSERT_EQ(slot_count("10.96.0.10", 80), 0);
	lb_sync_service_event(s, good, bad);
	run(false, NULL);
	ASSERT_EQ(fm.n, 0);
	json_decref(good);
	json_decref(bad);
	teardown();
}

TEST(agent_sync_rejects_missing_writer)
{
	struct lb_sync_config sc = { .node = "n1" };

	ASSERT_NULL(lb_sync_new(&sc));
}
