/* queue.c - see queue.h. */
#include "control/scheduler/queue.h"

#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "util.h"

/* ---------------------------------------------------------------- heaps */

static bool active_less(const struct sched_qpod *a, const struct sched_qpod *b)
{
	if (a->pod->priority != b->pod->priority)
		return a->pod->priority > b->pod->priority;
	if (a->pod->created_ns != b->pod->created_ns)
		return a->pod->created_ns < b->pod->created_ns;
	return a->seq < b->seq;
}

static bool backoff_less(const struct sched_qpod *a, const struct sched_qpod *b)
{
	if (a->backoff_until_ns != b->backoff_until_ns)
		return a->backoff_until_ns < b->backoff_until_ns;
	return a->seq < b->seq;
}

static void heap_set(struct sched_qheap *h, size_t i, struct sched_qpod *qp)
{
	h->items[i] = qp;
	qp->heap_idx = i;
}

static void heap_up(struct sched_qheap *h, size_t i)
{
	struct sched_qpod *qp = h->items[i];

	while (i > 0 && h->less(qp, h->items[(i - 1) / 2])) {
		heap_set(h, i, h->items[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(h, i, qp);
}

static void heap_down(struct sched_qheap *h, size_t i)
{
	struct sched_qpod *qp = h->items[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->len)
			break;
		if (c + 1 < h->len && h->less(h->items[c + 1], h->items[c]))
			c++;
		if (!h->less(h->items[c], qp))
			break;
		heap_set(h, i, h->items[c]);
		i = c;
	}
	heap_set(h, i, qp);
}

static void heap_push(struct sched_qheap *h, struct sched_qpod *qp)
{
	if (h->len == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		h->items = xrealloc(h->items, h->cap * sizeof(*h->items));
	}
	h->items[h->len++] = qp;
	heap_up(h, h->len - 1);
}

static void heap_remove(struct sched_qheap *h, size_t i)
{
	struct sched_qpod *last = h->items[--h->len];

	if (i == h->len)
		return;
	heap_set(h, i, last);
	heap_down(h, i);
	heap_up(h, last->heap_idx);
}

/* ---------------------------------------------------------------- states */

static void unsched_link(struct sched_queue *q, struct sched_qpod *qp)
{
	qp->prev = NULL;
	qp->next = q->unsched;
	if (q->unsched)
		q->unsched->prev = qp;
	else
		q->unsched_tail = qp;
	q->unsched = qp;
	q->nunsched++;
}

static void unsched_unlink(struct sched_queue *q, struct sched_qpod *qp)
{
	if (qp->prev)
		qp->prev->next = qp->next;
	else
		q->unsched = qp->next;
	if (qp->next)
		qp->next->prev = qp->prev;
	else
		q->unsched_tail = qp->prev;
	qp->prev = qp->next = NULL;
	q->nunsched--;
}

/* Take qp out of whatever structure its state puts it in. */
static void detach(struct sched_queue *q, struct sched_qpod *qp)
{
	switch (qp->state) {
	case SCHED_Q_ACTIVE:
		heap_remove(&q->active, qp->heap_idx);
		break;
	case SCHED_Q_BACKOFF:
		heap_remove(&q->backoff, qp->heap_idx);
		break;
	case SCHED_Q_UNSCHEDULABLE:
		unsched_unlink(q, qp);
		break;
	default:
		break;
	}
}

static void enter(struct sched_queue *q, struct sched_qpod *qp, enum sched_qstate st)
{
	qp->state = st;
	if (st == SCHED_Q_ACTIVE)
		heap_push(&q->active, qp);
	else if (st == SCHED_Q_BACKOFF)
		heap_push(&q->backoff, qp);
	else if (st == SCHED_Q_UNSCHEDULABLE)
		unsched_link(q, qp);
}

/* Leave the unschedulable list: active when the back-off is over, else back-off. */
static void requeue(struct sched_queue *q, struct sched_qpod *qp, uint64_t now_ns)
{
	detach(q, qp);
	enter(q, qp, qp->backoff_until_ns > now_ns ? SCHED_Q_BACKOFF : SCHED_Q_ACTIVE);
}

/* ---------------------------------------------------------------- API */

void sched_queue_init(struct sched_queue *q, uint64_t initial_backoff_ns, uint64_t max_backoff_ns)
{
	*q = (struct sched_queue){
		.active = { .less = active_less },
		.backoff = { .less = backoff_less },
		.initial_backoff_ns = initial_backoff_ns,
		.max_backoff_ns = max_backoff_ns,
	};
}

void sched_queue_destroy(struct sched_queue *q)
{
	const char *k;
	void *v;

	for (size_t it = 0; sched_map_next(&q->pods, &it, &k, &v);) {
		struct sched_qpod *qp = v;

		sched_pod_put(qp->pod);
		free(qp);
	}
	sched_map_free(&q->pods);
	free(q->active.items);
	free(q->backoff.items);
	*q = (struct sched_queue){ 0 };
}

uint64_t sched_queue_backoff_ns(const struct sched_queue *q, unsigned attempts)
{
	uint64_t d = q->initial_backoff_ns;

	for (unsigned i = 1; i < attempts && d < q->max_backoff_ns; i++)
		d *= 2;
	return MIN(d, q->max_backoff_ns);
}

static bool spec_changed(const struct sched_pod *a, const struct sched_pod *b)
{
	static const char *const paths[] = { "spec", "metadata.labels", "metadata.annotations" };

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		if (!jsonx_equal(jsonx_get_path(a->obj, paths[i]),
				 jsonx_get_path(b->obj, paths[i])))
			return true;
	return false;
}

void sched_queue_add(struct sched_queue *q, struct sched_pod *p, uint64_t now_ns)
{
	struct sched_qpod *qp = sched_map_get(&q->pods, p->key);
	bool changed;

	if (!qp) {
		qp = xcalloc(1, sizeof(*qp));
		qp->pod = sched_pod_get(p);
		qp->seq = q->seq++;
		sched_map_put(&q->pods, p->key, qp);
		enter(q, qp, SCHED_Q_ACTIVE);
		return;
	}
	changed = spec_changed(qp->pod, p);
	/* The active heap orders by priority and creation time, which an update cannot
	 * change (both are immutable), so the heap stays valid under the new pointer. */
	sched_pod_put(qp->pod);
	qp->pod = sched_pod_get(p);
	if (qp->state == SCHED_Q_UNSCHEDULABLE && changed)
		requeue(q, qp, now_ns);
}

void sched_queue_delete(struct sched_queue *q, const char *key)
{
	struct sched_qpod *qp = sched_map_get(&q->pods, key);

	if (!qp)
		return;
	detach(q, qp);
	sched_map_del(&q->pods, key);
	sched_pod_put(qp->pod);
	free(qp);
}

struct sched_qpod *sched_queue_get(const struct sched_queue *q, const char *key)
{
	return sched_map_get(&q->pods, key);
}

struct sched_qpod *sched_queue_pop(struct sched_queue *q, uint64_t now_ns)
{
	struct sched_qpod *qp;

	while (q->backoff.len && q->backoff.items[0]->backoff_until_ns <= now_ns) {
		qp = q->backoff.items[0];
		heap_remove(&q->backoff, 0);
		enter(q, qp, SCHED_Q_ACTIVE);
	}
	/* Parked too long: try again even without an event (events can be missed, e.g. a
	 * change no plugin's mask foresaw). Pods enter at the head, so the tail is the
	 * oldest and the walk stops at the first one still young. */
	while ((qp = q->unsched_tail) &&
	       now_ns - qp->unsched_since_ns >= SCHED_MAX_UNSCHEDULABLE_NS)
		requeue(q, qp, now_ns);
	if (!q->active.len)
		return NULL;
	qp = q->active.items[0];
	heap_remove(&q->active, 0);
	qp->state = SCHED_Q_IN_FLIGHT;
	qp->attempts++;
	return qp;
}

void sched_queue_unschedulable(struct sched_queue *q, struct sched_qpod *qp, unsigned mask,
			       uint64_t now_ns)
{
	detach(q, qp);
	qp->rejected_by = mask;
	qp->unsched_since_ns = now_ns;
	qp->backoff_until_ns = now_ns + sched_queue_backoff_ns(q, MAX(qp->attempts, 1u));
	enter(q, qp, SCHED_Q_UNSCHEDULABLE);
}

void sched_queue_backoff(struct sched_queue *q, struct sched_qpod *qp, uint64_t now_ns)
{
	detach(q, qp);
	qp->backoff_until_ns = now_ns + sched_queue_backoff_ns(q, MAX(qp->attempts, 1u));
	enter(q, qp, SCHED_Q_BACKOFF);
}

void sched_queue_binding(struct sched_queue *q, struct sched_qpod *qp)
{
	detach(q, qp);
	qp->state = SCHED_Q_BINDING;
}

size_t sched_queue_move(struct sched_queue *q, unsigned mask, uint64_t now_ns)
{
	struct sched_qpod *qp, *next;
	size_t moved = 0;

	for (qp = q->unsched; qp; qp = next) {
		next = qp->next;
		if (qp->rejected_by && !(qp->rejected_by & mask))
			continue;
		requeue(q, qp, now_ns);
		moved++;
	}
	return moved;
}

uint64_t sched_queue_next_wakeup(const struct sched_queue *q)
{
	return q->backoff.len ? q->backoff.items[0]->backoff_until_ns : UINT64_MAX;
}

size_t sched_queue_active_len(const struct sched_queue *q)
{
	return q->active.len;
}

size_t sched_queue_backoff_len(const struct sched_queue *q)
{
	return q->backoff.len;
}
