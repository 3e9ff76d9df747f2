/* pool.c - see pool.h. */
#include "control/scheduler/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util.h"

/* Indices claimed at once: big enough to amortise the atomic, small enough to balance. */
#define CHUNK 8

struct sched_pool {
	unsigned nhelpers;
	pthread_t *helpers;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* helpers: a new loop, or stop */
	pthread_cond_t done; /* caller: the last helper left the loop */
	unsigned long gen;   /* loop number, guarded by lock */
	unsigned busy;	     /* helpers still in the current loop */
	bool stop;

	/* the current loop */
	size_t n;
	void (*fn)(void *ctx, size_t i);
	void *ctx;
	atomic_size_t next;
};

static void work(struct sched_pool *p)
{
	for (;;) {
		size_t start = atomic_fetch_add(&p->next, CHUNK);

		if (start >= p->n)
			return;
		for (size_t i = start; i < p->n && i < start + CHUNK; i++)
			p->fn(p->ctx, i);
	}
}

static void *helper(void *arg)
{
	struct sched_pool *p = arg;
	unsigned long seen = 0;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stop && p->gen == seen)
			pthread_cond_wait(&p->wake, &p->lock);
		if (p->stop)
			break;
		seen = p->gen;
		pthread_mutex_unlock(&p->lock);
		work(p);
		pthread_mutex_lock(&p->lock);
		if (--p->busy == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct sched_pool *sched_pool_new(unsigned threads)
{
	struct sched_pool *p = xcalloc(1, sizeof(*p));

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->done, NULL);
	p->helpers = xcalloc(threads ? threads : 1, sizeof(*p->helpers));
	for (unsigned i = 0; i + 1 < threads; i++) {
		if (pthread_create(&p->helpers[i], NULL, helper, p) != 0) {
			sched_pool_free(p);
			return NULL;
		}
		p->nhelpers++;
	}
	return p;
}

void sched_pool_free(struct sched_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nhelpers; i++)
		pthread_join(p->helpers[i], NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	pthread_cond_destroy(&p->done);
	free(p->helpers);
	free(p);
}

void sched_pool_run(struct sched_pool *p, size_t n, void (*fn)(void *ctx, size_t i), void *ctx)
{
	if (!p) {
		for (size_t i = 0; i < n; i++)
			fn(ctx, i);
		return;
	}
	p->n = n;
	p->fn = fn;
	p->ctx = ctx;
	atomic_store(&p->next, 0);
	/* Waking helpers for a loop one chunk long costs more than it saves. */
	if (!p->nhelpers || n <= CHUNK) {
		work(p);
		return;
	}
	pthread_mutex_lock(&p->lock);
	p->busy = p->nhelpers;
	p->gen++;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	work(p);
	pthread_mutex_lock(&p->lock);
	while (p->busy)
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
}
