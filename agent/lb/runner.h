/*
 * runner.h - runs the sync function often enough and never too often
 * (Kubernetes' BoundedFrequencyRunner, in C).
 *
 * Rules, with min and max the two intervals:
 *   - a trigger after an idle period (the last run is more than min ago)
 *     runs at once: a lone change reaches the maps without delay;
 *   - triggers within min of the last run are coalesced into one run at
 *     last run + min: a burst of events costs one sync per min interval;
 *   - without triggers the function still runs every max interval, and a
 *     run is "full" when the last full one is max or more ago (or there was
 *     none): the periodic reconcile, even under a constant trickle of
 *     triggers;
 *   - a failed run (the function returns nonzero) is retried after min,
 *     doubling up to max while it keeps failing; the retry of a failed
 *     full run is full.
 *
 * The decision logic is the pure struct lb_sched (time is passed in, so
 * tests drive it with made-up clocks); struct lb_runner wraps it in a
 * thread with a condition variable on CLOCK_MONOTONIC.
 */
#ifndef CAPSTAN_AGENT_LB_RUNNER_H
#define CAPSTAN_AGENT_LB_RUNNER_H

#include <stdbool.h>
#include <stdint.h>

struct lb_sched {
	uint64_t min_ns, max_ns;
	uint64_t last_run, last_full; /* monotonic ns of the last (full) run */
	uint64_t backoff_ns;	      /* current retry delay, 0 when the last run worked */
	bool ran, ran_full;
	bool running_full; /* the run in progress is full */
	bool pending;
};

/* min <= max, max > 0. */
void lb_sched_init(struct lb_sched *s, uint64_t min_ns, uint64_t max_ns);
/* A change is pending. */
void lb_sched_trigger(struct lb_sched *s);
/* When the next run is due (monotonic ns); UINT64_MAX before the first trigger. */
uint64_t lb_sched_due(const struct lb_sched *s);
/* Record a run starting at now; returns whether it is a full run. */
bool lb_sched_start(struct lb_sched *s, uint64_t now);
/* Record the outcome of the run that started at lb_sched_start. */
void lb_sched_done(struct lb_sched *s, bool ok);

typedef int (*lb_runner_fn)(void *ctx, bool full);

struct lb_runner;

/* NULL when min > max or max is 0. */
struct lb_runner *lb_runner_new(uint64_t min_ns, uint64_t max_ns, lb_runner_fn fn, void *ctx);
/* Start the thread. 0 or -errno. */
int lb_runner_start(struct lb_runner *r);
/* Ask for a run (any thread, cheap, never blocks on a running sync). */
void lb_runner_trigger(struct lb_runner *r);
/* Let a running function finish, then end the thread. Safe twice. */
void lb_runner_stop(struct lb_runner *r);
void lb_runner_free(struct lb_runner *r);
/* Runs completed so far. */
uint64_t lb_runner_runs(struct lb_runner *r);

#endif
