/*
 * Unit tests for the scheduling queue: priority then creation order, back-off durations,
 * unschedulable pods parked until an event that concerns the plugins that rejected them,
 * the five-minute flush, updates, deletes and the binding state.
 */
#include "test.h"
#include "test_sched_fixture.h"

#include <stdlib.h>
#include <string.h>

#include "control/scheduler/queue.h"

#define SEC 1000000000ull

static struct sched_queue q;

static void destroy(void)
{
	sched_queue_destroy(&q);
}

static void setup(void)
{
	sched_queue_init(&q, 1 * SEC, 10 * SEC);
	test_defer(destroy);
}

static struct sched_pod *pod(const char *name, int prio, const char *created)
{
	char *text = xasprintf("{'metadata':{'name':'%s','creationTimestamp':'%s'},"
			       "'spec':{'priority':%d}}",
			       name, created, prio);
	struct sched_pod *p = fx_pod(text);

	free(text);
	return p;
}

static const char *pop_name(uint64_t now)
{
	struct sched_qpod *qp = sched_queue_pop(&q, now);

	return qp ? qp->pod->name : "(none)";
}

TEST(sched_queue_priority_then_creation_order)
{
	setup();
	sched_queue_add(&q, pod("late-low", 0, "2026-01-01T00:00:09Z"), 0);
	sched_queue_add(&q, pod("early-low", 0, "2026-01-01T00:00:01Z"), 0);
	sched_queue_add(&q, pod("high", 100, "2026-01-01T00:00:05Z"), 0);
	sched_queue_add(&q, pod("same-time-a", 0, "2026-01-01T00:00:03Z"), 0);
	sched_queue_add(&q, pod("same-time-b", 0, "2026-01-01T00:00:03Z"), 0);
	sched_queue_add(&q, pod("negative", -5, "2026-01-01T00:00:00Z"), 0);
	ASSERT_STREQ(pop_name(0), "high");
	ASSERT_STREQ(pop_name(0), "early-low");
	ASSERT_STREQ(pop_name(0), "same-time-a"); /* arrival breaks the tie */
	ASSERT_STREQ(pop_name(0), "same-time-b");
	ASSERT_STREQ(pop_name(0), "late-low");
	ASSERT_STREQ(pop_name(0), "negative");
	ASSERT_STREQ(pop_name(0), "(none)");
}

TEST(sched_queue_backoff_doubles_to_the_cap)
{
	static const uint64_t want[] = { 1, 1, 2, 4, 8, 10, 10 };

	setup();
	for (unsigned a = 0; a < ARRAY_SIZE(want); a++)
		ASSERT_EQ(sched_queue_backoff_ns(&q, a), want[a] * SEC);
}

TEST(sched_queue_unschedulable_waits_for_a_relevant_event)
{
	unsigned fit = 1u << sched_plugin_index("NodeResourcesFit");
	unsigned taint = 1u << sched_plugin_index("TaintToleration");
	struct sched_qpod *qp;

	setup();
	sched_queue_add(&q, pod("p", 0, "2026-01-01T00:00:00Z"), 0);
	qp = sched_queue_pop(&q, 0);
	ASSERT_EQ(qp->attempts, 1);
	sched_queue_unschedulable(&q, qp, fit, 0);
	ASSERT_EQ(qp->state, SCHED_Q_UNSCHEDULABLE);
	/* Back-off over, but no event: it stays parked. */
	ASSERT_STREQ(pop_name(5 * SEC), "(none)");
	/* An event only taint changes could help with: still parked. */
	ASSERT_EQ(sched_queue_move(&q, taint, 5 * SEC), 0);
	ASSERT_STREQ(pop_name(5 * SEC), "(none)");
	/* A pod deletion frees resources: back to active (its 1 s back-off is over). */
	ASSERT_EQ(sched_queue_move(&q, sched_plugins_for_events(SCHED_EV_POD_DELETE), 5 * SEC), 1);
	ASSERT_EQ(qp->state, SCHED_Q_ACTIVE);
	qp = sched_queue_pop(&q, 5 * SEC);
	ASSERT_EQ(qp->attempts, 2);
	/* Second failure: 2 s back-off; an event during it goes through the back-off heap. */
	sched_queue_unschedulable(&q, qp, fit, 10 * SEC);
	ASSERT_EQ(sched_queue_move(&q, sched_plugins_for_events(SCHED_EV_NODE_ADD), 11 * SEC), 1);
	ASSERT_EQ(qp->state, SCHED_Q_BACKOFF);
	ASSERT_EQ(sched_queue_next_wakeup(&q), 12 * SEC);
	ASSERT_STREQ(pop_name(11 * SEC), "(none)");
	ASSERT_STREQ(pop_name(12 * SEC), "p");
}

TEST(sched_queue_parked_pods_flush_after_five_minutes)
{
	struct sched_qpod *qp;

	setup();
	sched_queue_add(&q, pod("old", 0, "2026-01-01T00:00:00Z"), 0);
	sched_queue_add(&q, pod("young", 0, "2026-01-01T00:00:01Z"), 0);
	qp = sched_queue_pop(&q, 0);
	sched_queue_unschedulable(&q, qp, 1, 0);
	qp = sched_queue_pop(&q, 0);
	sched_queue_unschedulable(&q, qp, 1, 200 * SEC);
	ASSERT_STREQ(pop_name(299 * SEC), "(none)");
	ASSERT_STREQ(pop_name(300 * SEC), "old");
	ASSERT_STREQ(pop_name(300 * SEC), "(none)");
	ASSERT_STREQ(pop_name(500 * SEC), "young");
}

TEST(sched_queue_error_goes_to_backoff)
{
	struct sched_qpod *qp;

	setup();
	sched_queue_add(&q, pod("p", 0, "2026-01-01T00:00:00Z"), 0);
	qp = sched_queue_pop(&q, 0);
	sched_queue_binding(&q, qp);
	ASSERT_EQ(qp->state, SCHED_Q_BINDING);
	ASSERT_STREQ(pop_name(0), "(none)");
	sched_queue_backoff(&q, qp, 100);
	ASSERT_EQ(sched_queue_backoff_len(&q), 1);
	ASSERT_STREQ(pop_name(100 + SEC - 1), "(none)");
	ASSERT_STREQ(pop_name(100 + SEC), "p");
}

TEST(sched_queue_update_and_delete)
{
	struct sched_qpod *qp;
	struct sched_pod *v2;

	setup();
	sched_queue_add(&q, fx_pod("{'metadata':{'name':'p','labels':{'v':'1'}}}"), 0);
	qp = sched_queue_pop(&q, 0);
	sched_queue_unschedulable(&q, qp, 1, 0);
	/* A status-only update (our own condition patch) does not wake it. */
	sched_queue_add(&q,
			fx_pod("{'metadata':{'name':'p','labels':{'v':'1'}},'status':"
			       "{'conditions':[{'type':'PodScheduled','status':'False'}]}}"),
			SEC);
	ASSERT_EQ(qp->state, SCHED_Q_UNSCHEDULABLE);
	/* A label change does, after the back-off. */
	v2 = fx_pod("{'metadata':{'name':'p','labels':{'v':'2'}}}");
	sched_queue_add(&q, v2, 2 * SEC);
	ASSERT_EQ(qp->state, SCHED_Q_ACTIVE);
	ASSERT(sched_queue_get(&q, "default/p")->pod == v2);
	sched_queue_delete(&q, "default/p");
	ASSERT_NULL(sched_queue_get(&q, "default/p"));
	ASSERT_STREQ(pop_name(3 * SEC), "(none)");
	sched_queue_delete(&q, "default/never-there");
}

TEST(sched_queue_many_pods_stay_ordered)
{
	int last = 1 << 30;

	setup();
	for (int i = 0; i < 500; i++) {
		char name[16];

		snprintf(name, sizeof(name), "p%d", i);
		sched_queue_add(&q, pod(name, (i * 7919) % 1000, "2026-01-01T00:00:00Z"), 0);
	}
	for (int i = 0; i < 500; i++) {
		struct sched_qpod *qp = sched_queue_pop(&q, 0);

		ASSERT_NOT_NULL(qp);
		ASSERT(qp->pod->priority <= last);
		last = qp->pod->priority;
		if (i % 3 == 0)
			sched_queue_delete(&q, qp->pod->key);
	}
	ASSERT_EQ(sched_queue_active_len(&q), 0);
}
