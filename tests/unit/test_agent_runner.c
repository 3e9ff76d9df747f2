/*
 * Unit tests for agent/lb/runner: the min/max interval decisions on a
 * made-up clock, then the thread on the real one with wide margins.
 */
#include "test.h"

#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "agent/lb/runner.h"
#include "util.h"

#define S(x) ((uint64_t)((x)*1e9))

TEST(agent_sched_first_trigger_runs_at_once_and_is_full)
{
	struct lb_sched s;

	lb_sched_init(&s, S(1), S(10));
	ASSERT_EQ(lb_sched_due(&s), UINT64_MAX); /* nothing to do yet */
	lb_sched_trigger(&s);
	ASSERT_EQ(lb_sched_due(&s), 0);
	ASSERT(lb_sched_start(&s, S(100)));
	lb_sched_done(&s, true);
}

TEST(agent_sched_burst_is_coalesced_to_min_interval)
{
	struct lb_sched s;

	lb_sched_init(&s, S(1), S(10));
	lb_sched_trigger(&s);
	lb_sched_start(&s, S(100));
	lb_sched_done(&s, true);
	/* Many triggers right after a run: one run, min after the last. */
	for (int i = 0; i < 50; i++)
		lb_sched_trigger(&s);
	ASSERT_EQ(lb_sched_due(&s), S(101));
	ASSERT(!lb_sched_start(&s, S(101)));
	lb_sched_done(&s, true);
	/* Nothing pending: the next run is the periodic one, max later. */
	ASSERT_EQ(lb_sched_due(&s), S(111));
}

TEST(agent_sched_trigger_after_idle_period_runs_immediately)
{
	struct lb_sched s;

	lb_sched_init(&s, S(1), S(10));
	lb_sched_trigger(&s);
	lb_sched_start(&s, S(100));
	lb_sched_done(&s, true);
	lb_sched_trigger(&s); /* at 105: due 101, already past */
	ASSERT(lb_sched_due(&s) <= S(105));
	ASSERT(!lb_sched_start(&s, S(105)));
}

TEST(agent_sched_periodic_runs_are_full)
{
	struct lb_sched s;

	lb_sched_init(&s, S(1), S(10));
	lb_sched_trigger(&s);
	lb_sched_start(&s, S(100));
	lb_sched_done(&s, true);
	ASSERT_EQ(lb_sched_due(&s), S(110));
	ASSERT(lb_sched_start(&s, S(110)));
	lb_sched_done(&s, true);
	ASSERT_EQ(lb_sched_due(&s), S(120));
}

TEST(agent_sched_full_reconcile_happens_under_constant_triggers)
{
	struct lb_sched s;
	int fulls = 0;

	lb_sched_init(&s, S(1), S(10));
	lb_sched_trigger(&s);
	lb_sched_start(&s, S(0.5));
	lb_sched_done(&s, true);
	/* A change every second for 30 s: runs every second, one in ten full. */
	for (int t = 1; t <= 30; t++) {
		lb_sched_trigger(&s);
		ASSERT(lb_sched_due(&s) <= S(t + 0.5));
		fulls += lb_sched_start(&s, S(t + 0.5));
		lb_sched_done(&s, true);
	}
	ASSERT_EQ(fulls, 3);
}

TEST(agent_sched_failures_back_off_and_retry_full)
{
	struct lb_sched s;

	lb_sched_init(&s, S(1), S(5));
	lb_sched_trigger(&s);
	ASSERT(lb_sched_start(&s, S(100)));
	lb_sched_done(&s, false);
	ASSERT_EQ(lb_sched_due(&s), S(101));
	/* The retry of a failed full run is full again. */
	ASSERT(lb_sched_start(&s, S(101)));
	lb_sched_done(&s, false);
	ASSERT_EQ(lb_sched_due(&s), S(103));
	lb_sched_start(&s, S(103));
	lb_sched_done(&s, false);
	ASSERT_EQ(lb_sched_due(&s), S(107));
	lb_sched_start(&s, S(107));
	lb_sched_done(&s, false);
	ASSERT_EQ(lb_sched_due(&s), S(112)); /* capped at max */
	lb_sched_start(&s, S(112));
	lb_sched_done(&s, true);
	ASSERT_EQ(lb_sched_due(&s), S(117)); /* back to normal, nothing pending */
	lb_sched_trigger(&s);
	ASSERT_EQ(lb_sched_due(&s), S(113));
}

TEST(agent_sched_zero_min_interval_does_not_spin_on_failure)
{
	struct lb_sched s;

	lb_sched_init(&s, 0, S(5));
	lb_sched_trigger(&s);
	lb_sched_start(&s, S(100));
	lb_sched_done(&s, true);
	lb_sched_trigger(&s);
	ASSERT_EQ(lb_sched_due(&s), S(100));
	lb_sched_start(&s, S(100));
	lb_sched_done(&s, false);
	ASSERT(lb_sched_due(&s) > S(100));
}

struct counter {
	int runs, fulls;
	uint64_t first_ns;
};

static int count_run(void *ctx, bool full)
{
	struct counter *c = ctx;

	if (c->runs++ == 0)
		c->first_ns = now_mono_ns();
	c->fulls += full;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

TEST(agent_runner_thread_coalesces_and_runs_periodically)
{
	struct counter c = { 0 };
	struct lb_runner *r = lb_runner_new(S(0.2), S(0.6), count_run, &c);
	uint64_t t0;
	int runs;

	ASSERT_NOT_NULL(r);
	ASSERT_OK(lb_runner_start(r));
	sleep_ms(50);
	ASSERT_EQ(lb_runner_runs(r), 0); /* no trigger, no run */
	t0 = now_mono_ns();
	lb_runner_trigger(r);
	sleep_ms(50);
	ASSERT_EQ(lb_runner_runs(r), 1);
	ASSERT(c.first_ns - t0 < S(0.04)); /* at once */
	/* 20 triggers within ~40 ms: one more run, 200 ms after the first. */
	for (int i = 0; i < 20; i++) {
		lb_runner_trigger(r);
		sleep_ms(1);
	}
	sleep_ms(180);
	runs = (int)lb_runner_runs(r);
	ASSERT_MSG(runs == 2, "%d runs after a burst", runs);
	/* Without triggers it still runs every 600 ms, full. */
	sleep_ms(1400);
	runs = (int)lb_runner_runs(r);
	ASSERT_MSG(runs >= 3 && runs <= 5, "%d runs", runs);
	lb_runner_stop(r);
	lb_runner_stop(r);
	ASSERT(c.fulls >= 2);
	lb_runner_free(r);
}

TEST(agent_runner_rejects_bad_intervals)
{
	struct counter c;

	ASSERT_NULL(lb_runner_new(S(2), S(1), count_run, &c));
	ASSERT_NULL(lb_runner_new(0, 0, count_run, &c));
	ASSERT_NULL(lb_runner_new(0, S(1), NULL, &c));
	lb_runner_free(NULL);
}
