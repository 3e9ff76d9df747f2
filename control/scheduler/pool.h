/*
 * pool.h - a fixed set of threads that run one parallel loop at a time.
 *
 * The scheduling cycle filters and scores nodes in parallel (--parallelism). The work per
 * node is small (microseconds), so a loop is split into chunks that threads claim with an
 * atomic counter, and the calling thread works too instead of sleeping: with N threads the
 * pool starts N-1 helpers. Helpers sleep on a condition variable between loops.
 *
 * Rejected: a thread per loop (thread creation costs more than filtering 100 nodes) and
 * OpenMP (one more runtime for one loop shape).
 */
#ifndef CAPSTAN_SCHED_POOL_H
#define CAPSTAN_SCHED_POOL_H

#include <stddef.h>

struct sched_pool;

/* A pool running loops on `threads` threads, the caller included (1 = no helpers). NULL
 * when a helper thread cannot be started. */
struct sched_pool *sched_pool_new(unsigned threads);
void sched_pool_free(struct sched_pool *p);
/*
 * Call fn(ctx, i) once for every i in [0, n), from the pool's threads and the caller, and
 * return when all calls returned. fn must be safe to run concurrently for different i.
 * One loop at a time: the pool is driven by one thread. A NULL pool runs the loop inline.
 */
void sched_pool_run(struct sched_pool *p, size_t n, void (*fn)(void *ctx, size_t i), void *ctx);

#endif
