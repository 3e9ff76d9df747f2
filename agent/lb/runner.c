/* runner.c - see runner.h. */
#include "agent/lb/runner.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "util.h"

void lb_sched_init(struct lb_sched *s, uint64_t min_ns, uint64_t max_ns)
{
	*s = (struct lb_sched){ .min_ns = min_ns, .max_ns = max_ns };
}

void lb_sched_trigger(struct lb_sched *s)
{
	s->pending = true;
}

uint64_t lb_sched_due(const struct lb_sched *s)
{
	uint64_t gap;

	if (!s->ran)
		return s->pending ? 0 : UINT64_MAX;
	if (s->backoff_ns)
		return s->last_run + s->backoff_ns;
	gap = s->pending ? s->min_ns : s->max_ns;
	return s->last_run + gap;
}

bool lb_sched_start(struct lb_sched *s, uint64_t now)
{
	bool full = !s->ran_full || now - s->last_full >= s->max_ns;

	s->pending = false;
	s->ran = true;
	s->last_run = now;
	if (full) {
		s->ran_full = true;
		s->last_full = now;
	}
	s->running_full = full;
	return full;
}

void lb_sched_done(struct lb_sched *s, bool ok)
{
	if (ok) {
		s->backoff_ns = 0;
		return;
	}
	s->pending = true;
	/* A failed full run leaves stale entries: the retry is full again. */
	if (s->running_full)
		s->ran_full = false;
	s->backoff_ns = s->backoff_ns ? MIN(s->backoff_ns * 2, s->max_ns) : s->min_ns;
	if (s->backoff_ns == 0)
		s->backoff_ns = MIN(1000000ull, s->max_ns); /* min 0: still do not spin */
}

struct lb_runner {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool started, stop;
	struct lb_sched sched;
	lb_runner_fn fn;
	void *ctx;
	uint64_t runs;
};

struct lb_runner *lb_runner_new(uint64_t min_ns, uint64_t max_ns, lb_runner_fn fn, void *ctx)
{
	struct lb_runner *r;
	pthread_condattr_t ca;

	if (!fn || max_ns == 0 || min_ns > max_ns)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	lb_sched_init(&r->sched, min_ns, max_ns);
	r->fn = fn;
	r->ctx = ctx;
	return r;
}

static void *runner_main(void *arg)
{
	struct lb_runner *r = arg;

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		uint64_t due = lb_sched_due(&r->sched), now = now_mono_ns();
		bool full;
		int rc;

		if (now < due) {
			if (due == UINT64_MAX) {
				pthread_cond_wait(&r->cv, &r->mu);
			} else {
				struct timespec ts = { .tv_sec = (time_t)(due / 1000000000ull),
						       .tv_nsec = (long)(due % 1000000000ull) };

				pthread_cond_timedwait(&r->cv, &r->mu, &ts);
			}
			continue;
		}
		full = lb_sched_start(&r->sched, now);
		pthread_mutex_unlock(&r->mu);
		rc = r->fn(r->ctx, full);
		pthread_mutex_lock(&r->mu);
		lb_sched_done(&r->sched, rc == 0);
		r->runs++;
		pthread_cond_broadcast(&r->cv);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int lb_runner_start(struct lb_runner *r)
{
	int err = pthread_create(&r->thread, NULL, runner_main, r);

	if (err)
		return -err;
	r->started = true;
	return 0;
}

void lb_runner_trigger(struct lb_runner *r)
{
	pthread_mutex_lock(&r->mu);
	lb_sched_trigger(&r->sched);
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

void lb_runner_stop(struct lb_runner *r)
{
	if (!r || !r->started)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	r->started = false;
}

void lb_runner_free(struct lb_runner *r)
{
	if (!r)
		return;
	lb_runner_stop(r);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

uint64_t lb_runner_runs(struct lb_runner *r)
{
	uint64_t n;

	pthread_mutex_lock(&r->mu);
	n = r->runs;
	pthread_mutex_unlock(&r->mu);
	return n;
}
