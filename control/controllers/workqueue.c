/*
 * workqueue.c - see workqueue.h.
 *
 * One mutex guards everything; a condition variable on CLOCK_MONOTONIC
 * wakes workers. The three sets of Kubernetes' queue are jansson objects
 * used as hash tables, as the informer's cache is: `dirty` (keys that need
 * processing), `processing` (keys a worker holds) and `failures` (key ->
 * back-off count). The FIFO holds each dirty key that is not being
 * processed exactly once, so a key added twice is processed once, and a key
 * added while a worker holds it is queued again by wq_done().
 *
 * Delayed adds live in a binary min-heap ordered by due time, with a
 * `waiting` map key -> earliest due time so a key delayed twice fires once,
 * at the earlier time (later heap entries for it are discarded when they
 * surface). There is no timer thread: every operation that takes the lock
 * first moves due entries into the FIFO, and a waiting worker sleeps no
 * longer than the earliest due time. A heap entry costs O(log n); keys are
 * owned by the entries that hold them.
 *
 * Rejected: a timer thread per queue (one more thread per controller for
 * what a bounded timed wait does), and a sorted list for delayed keys
 * (O(n) inserts when a controller requeues thousands of objects).
 */
#include "control/controllers/workqueue.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "util.h"

#define WQ_DEFAULT_BASE_MS 5u
#define WQ_DEFAULT_MAX_MS 1000000u

struct wq_delayed {
	uint64_t due_ns; /* CLOCK_MONOTONIC */
	char *key;
};

struct workqueue {
	char *name;
	uint64_t base_ns, max_ns;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool shutting_down;

	/* FIFO of keys ready for a worker: a ring of owned strings. */
	char **fifo;
	size_t head, len, cap;

	json_t *dirty;	    /* key -> true */
	json_t *processing; /* key -> true */
	json_t *failures;   /* key -> integer */

	struct wq_delayed *heap;
	size_t nheap, heap_cap;
	json_t *waiting; /* key -> earliest due (ns, integer) */
};

struct workqueue *wq_new(const char *name, unsigned base_ms, unsigned max_ms)
{
	struct workqueue *q = xcalloc(1, sizeof(*q));
	pthread_condattr_t attr;

	q->name = xstrdup(name ? name : "");
	q->base_ns = (uint64_t)(base_ms ? base_ms : WQ_DEFAULT_BASE_MS) * 1000000ull;
	q->max_ns = (uint64_t)(max_ms ? max_ms : WQ_DEFAULT_MAX_MS) * 1000000ull;
	if (q->max_ns < q->base_ns)
		q->max_ns = q->base_ns;
	q->dirty = json_object();
	q->processing = json_object();
	q->failures = json_object();
	q->waiting = json_object();
	pthread_mutex_init(&q->lock, NULL);
	/* Monotonic waits: a wall-clock jump must not stretch a back-off. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &attr);
	pthread_condattr_destroy(&attr);
	return q;
}

void wq_free(struct workqueue *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->len; i++)
		free(q->fifo[(q->head + i) % q->cap]);
	free(q->fifo);
	for (size_t i = 0; i < q->nheap; i++)
		free(q->heap[i].key);
	free(q->heap);
	json_decref(q->dirty);
	json_decref(q->processing);
	json_decref(q->failures);
	json_decref(q->waiting);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	free(q->name);
	free(q);
}

/* ---------------------------------------------------------------- FIFO */

static void fifo_push(struct workqueue *q, const char *key)
{
	if (q->len == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 16;
		char **n = xmalloc(ncap * sizeof(*n));

		for (size_t i = 0; i < q->len; i++)
			n[i] = q->fifo[(q->head + i) % q->cap];
		free(q->fifo);
		q->fifo = n;
		q->cap = ncap;
		q->head = 0;
	}
	q->fifo[(q->head + q->len) % q->cap] = xstrdup(key);
	q->len++;
}

static char *fifo_pop(struct workqueue *q)
{
	char *key = q->fifo[q->head];

	q->head = (q->head + 1) % q->cap;
	q->len--;
	return key;
}

/* ---------------------------------------------------------------- heap */

static void heap_swap(struct workqueue *q, size_t a, size_t b)
{
	struct wq_delayed t = q->heap[a];

	q->heap[a] = q->heap[b];
	q->heap[b] = t;
}

static void heap_push(struct workqueue *q, uint64_t due, const char *key)
{
	size_t i;

	if (q->nheap == q->heap_cap) {
		q->heap_cap = q->heap_cap ? q->heap_cap * 2 : 16;
		q->heap = xrealloc(q->heap, q->heap_cap * sizeof(*q->heap));
	}
	i = q->nheap++;
	q->heap[i].due_ns = due;
	q->heap[i].key = xstrdup(key);
	while (i > 0 && q->heap[(i - 1) / 2].due_ns > q->heap[i].due_ns) {
		heap_swap(q, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

/* Remove the root; the caller owns the returned key. */
static struct wq_delayed heap_pop(struct workqueue *q)
{
	struct wq_delayed top = q->heap[0];
	size_t i = 0;

	q->heap[0] = q->heap[--q->nheap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < q->nheap && q->heap[l].due_ns < q->heap[m].due_ns)
			m = l;
		if (r < q->nheap && q->heap[r].due_ns < q->heap[m].due_ns)
			m = r;
		if (m == i)
			break;
		heap_swap(q, i, m);
		i = m;
	}
	return top;
}

/* ---------------------------------------------------------------- core */

/* The add path shared by every producer; lock held. */
static void add_locked(struct workqueue *q, const char *key)
{
	if (q->shutting_down || json_object_get(q->dirty, key))
		return;
	/* jansson refuses keys that are not UTF-8: such a key cannot be tracked. */
	if (json_object_set_new(q->dirty, key, json_true()) != 0)
		return;
	if (json_object_get(q->processing, key))
		return; /* wq_done() queues it again */
	fifo_push(q, key);
	pthread_cond_signal(&q->cond);
}

/* Move every delayed key whose time has come into the FIFO; lock held. */
static void promote_due(struct workqueue *q, uint64_t now)
{
	while (q->nheap && q->heap[0].due_ns <= now) {
		struct wq_delayed d = heap_pop(q);
		json_t *w = json_object_get(q->waiting, d.key);

		/* A stale entry: the key was re-delayed to an earlier time and fired. */
		if (w && (uint64_t)json_integer_value(w) == d.due_ns) {
			json_object_del(q->waiting, d.key);
			add_locked(q, d.key);
		}
		free(d.key);
	}
}

void wq_add(struct workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->lock);
	promote_due(q, now_mono_ns());
	add_locked(q, key);
	pthread_mutex_unlock(&q->lock);
}

/* Delay key by delay_ns from now; lock held. */
static void add_after_locked(struct workqueue *q, const char *key, uint64_t delay_ns)
{
	uint64_t now = now_mono_ns(), due = now + delay_ns;
	json_t *w;

	promote_due(q, now);
	if (q->shutting_down)
		return;
	if (delay_ns == 0) {
		add_locked(q, key);
		return;
	}
	w = json_object_get(q->waiting, key);
	if (w && (uint64_t)json_integer_value(w) <= due)
		return; /* already due earlier */
	if (json_object_set_new(q->waiting, key, json_integer((json_int_t)due)) != 0)
		return;
	heap_push(q, due, key);
	/* A worker may be sleeping until a later due time: let it recompute. */
	pthread_cond_broadcast(&q->cond);
}

void wq_add_after(struct workqueue *q, const char *key, unsigned ms)
{
	pthread_mutex_lock(&q->lock);
	add_after_locked(q, key, (uint64_t)ms * 1000000ull);
	pthread_mutex_unlock(&q->lock);
}

void wq_add_rate_limited(struct workqueue *q, const char *key)
{
	json_t *f;
	json_int_t n;
	uint64_t delay;

	pthread_mutex_lock(&q->lock);
	f = json_object_get(q->failures, key);
	n = f ? json_integer_value(f) : 0;
	/* base * 2^n, capped; doubling stops at the cap, so it cannot overflow. */
	delay = q->base_ns;
	for (json_int_t i = 0; i < n && delay < q->max_ns; i++)
		delay *= 2;
	if (delay > q->max_ns)
		delay = q->max_ns;
	json_object_set_new(q->failures, key, json_integer(n + 1));
	add_after_locked(q, key, delay);
	pthread_mutex_unlock(&q->lock);
}

void wq_forget(struct workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->lock);
	json_object_del(q->failures, key);
	pthread_mutex_unlock(&q->lock);
}

unsigned wq_requeues(struct workqueue *q, const char *key)
{
	unsigned n;

	pthread_mutex_lock(&q->lock);
	n = (unsigned)json_integer_value(json_object_get(q->failures, key));
	pthread_mutex_unlock(&q->lock);
	return n;
}

int wq_get(struct workqueue *q, char *buf, size_t len, int timeout_ms)
{
	struct timespec deadline;
	uint64_t end = 0;
	int err = 0;

	if (!buf || len == 0)
		return -EINVAL;
	if (timeout_ms >= 0)
		end = now_mono_ns() + (uint64_t)timeout_ms * 1000000ull;
	pthread_mutex_lock(&q->lock);
	for (;;) {
		uint64_t now = now_mono_ns(), wake;
		char *key;

		promote_due(q, now);
		if (q->shutting_down) {
			err = -ECANCELED;
			break;
		}
		if (q->len) {
			/* A key that does not fit stays queued rather than being cut. */
			if (strlen(q->fifo[q->head]) >= len) {
				err = -ENOSPC;
				break;
			}
			key = fifo_pop(q);
			json_object_del(q->dirty, key);
			json_object_set_new(q->processing, key, json_true());
			snprintf(buf, len, "%s", key);
			free(key);
			break;
		}
		if (timeout_ms >= 0 && now >= end) {
			err = -ETIMEDOUT;
			break;
		}
		wake = timeout_ms >= 0 ? end : UINT64_MAX;
		if (q->nheap && q->heap[0].due_ns < wake)
			wake = q->heap[0].due_ns;
		if (wake == UINT64_MAX) {
			pthread_cond_wait(&q->cond, &q->lock);
		} else {
			deadline.tv_sec = (time_t)(wake / 1000000000ull);
			deadline.tv_nsec = (long)(wake % 1000000000ull);
			pthread_cond_timedwait(&q->cond, &q->lock, &deadline);
		}
	}
	pthread_mutex_unlock(&q->lock);
	return err;
}

void wq_done(struct workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->lock);
	json_object_del(q->processing, key);
	/* Added while it was being processed: its turn comes again now. */
	if (json_object_get(q->dirty, key) && !q->shutting_down) {
		fifo_push(q, key);
		pthread_cond_signal(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
}

void wq_shutdown(struct workqueue *q)
{
	pthread_mutex_lock(&q->lock);
	q->shutting_down = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

size_t wq_len(struct workqueue *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	promote_due(q, now_mono_ns());
	n = q->len;
	pthread_mutex_unlock(&q->lock);
	return n;
}
