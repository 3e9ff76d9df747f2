/*
 * queue.h - the scheduling queue: pending pods in the order they are tried, with back-off.
 *
 * Upstream's three sub-queues, with the same rules:
 *
 *   active         a heap ordered by spec.priority (higher first), then creation time,
 *                  then arrival: the next pod to schedule;
 *   back-off       a heap ordered by the end of each pod's back-off; a pod moves to the
 *                  active heap when its back-off ends;
 *   unschedulable  pods that no node could take. They stay parked until a cluster event
 *                  that could help them (sched_queue_move), or for at most
 *                  SCHED_MAX_UNSCHEDULABLE_NS, then go to the back-off heap if their
 *                  back-off has not ended, else straight to the active heap.
 *
 * Back-off is initial * 2^(attempts-1), capped at max (1 s doubling to 10 s by default),
 * counted from the failed attempt. A pod that failed with an error (not "unschedulable")
 * goes to the back-off heap directly.
 *
 * Which events help a pod is decided by the plugins that rejected it: each failure records
 * a mask of plugins (bit i = sched_plugins[i]) and sched_queue_move() receives the mask of
 * plugins that care about the event, so a node label change does not wake a pod that only
 * lacked CPU, and a deleted pod does not wake one that no taint toleration will fix.
 *
 * A pod being scheduled is IN_FLIGHT (popped, not in any heap); after a successful cycle
 * it is BINDING until the watch shows it bound (sched_queue_delete) or the binding fails
 * (sched_queue_backoff). The queue is owned by the scheduling loop, like the cache; it
 * takes no locks.
 */
#ifndef CAPSTAN_SCHED_QUEUE_H
#define CAPSTAN_SCHED_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/scheduler/objects.h"
#include "control/scheduler/strmap.h"

#define SCHED_MAX_UNSCHEDULABLE_NS (300ull * 1000000000ull) /* 5 minutes, as upstream */

enum sched_qstate {
	SCHED_Q_ACTIVE,
	SCHED_Q_BACKOFF,
	SCHED_Q_UNSCHEDULABLE,
	SCHED_Q_IN_FLIGHT,
	SCHED_Q_BINDING,
};

struct sched_qpod {
	struct sched_pod *pod; /* a reference; replaced by updates */
	enum sched_qstate state;
	size_t heap_idx;
	uint64_t seq;		   /* arrival order, the last tie-break */
	unsigned attempts;	   /* scheduling attempts so far */
	uint64_t backoff_until_ns; /* monotonic */
	uint64_t unsched_since_ns;
	unsigned rejected_by; /* plugins that rejected it last time; 0 = any event helps */
	struct sched_qpod *prev, *next; /* unschedulable list */
};

struct sched_qheap {
	struct sched_qpod **items;
	size_t len, cap;
	bool (*less)(const struct sched_qpod *a, const struct sched_qpod *b);
};

struct sched_queue {
	struct sched_map pods; /* key -> qpod, every state */
	struct sched_qheap active, backoff;
	struct sched_qpod *unsched;	 /* list head: the newest */
	struct sched_qpod *unsched_tail; /* the oldest */
	size_t nunsched;
	uint64_t initial_backoff_ns, max_backoff_ns;
	uint64_t seq;
};

void sched_queue_init(struct sched_queue *q, uint64_t initial_backoff_ns, uint64_t max_backoff_ns);
void sched_queue_destroy(struct sched_queue *q);

/*
 * A pending pod was added or updated. New pods go to the active heap. An update replaces
 * the stored pod; a parked unschedulable pod whose spec, labels or annotations changed is
 * moved back (to back-off or active), since the change may be what it needed.
 */
void sched_queue_add(struct sched_queue *q, struct sched_pod *p, uint64_t now_ns);
/* Remove a pod in whatever state (bound by the watch, deleted, no longer ours). */
void sched_queue_delete(struct sched_queue *q, const char *key);
struct sched_qpod *sched_queue_get(const struct sched_queue *q, const char *key);

/*
 * The next pod to schedule, or NULL. First moves back-off pods whose time came and
 * unschedulable pods parked too long. The pod becomes IN_FLIGHT and its attempts grow.
 */
struct sched_qpod *sched_queue_pop(struct sched_queue *q, uint64_t now_ns);
/* An in-flight pod fit nowhere: park it, rejected by the plugins in mask. */
void sched_queue_unschedulable(struct sched_queue *q, struct sched_qpod *qp, unsigned mask,
			       uint64_t now_ns);
/* An in-flight or binding pod failed for another reason: retry after its back-off. */
void sched_queue_backoff(struct sched_queue *q, struct sched_qpod *qp, uint64_t now_ns);
/* An in-flight pod was assumed on a node and its binding started. */
void sched_queue_binding(struct sched_queue *q, struct sched_qpod *qp);
/*
 * A cluster event that could help pods rejected by any plugin in mask. Returns how many
 * pods left the unschedulable list.
 */
size_t sched_queue_move(struct sched_queue *q, unsigned mask, uint64_t now_ns);

/* Back-off after `attempts` failed attempts (attempts >= 1). */
uint64_t sched_queue_backoff_ns(const struct sched_queue *q, unsigned attempts);
/* Monotonic time of the next back-off expiry, or UINT64_MAX when none waits. */
uint64_t sched_queue_next_wakeup(const struct sched_queue *q);
size_t sched_queue_active_len(const struct sched_queue *q);
size_t sched_queue_backoff_len(const struct sched_queue *q);

#endif
