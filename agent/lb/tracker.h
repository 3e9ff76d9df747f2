/*
 * tracker.h - Kubernetes' change tracker, in C: what changed in a
 * collection since the last sync, with flapping cancelled out.
 *
 * Informer callbacks arrive one by one and much faster than the datapath
 * should be rewritten. Per key the tracker keeps {previous, current}:
 * previous is the state the last sync saw (the first update's old value),
 * current the latest. Later updates only move current; when current comes
 * back to previous (a readiness flap, an update that was reverted, an add
 * then delete of the same object) the entry is dropped, so the sync never
 * sees it. A sync drains the pending entries in one step under the
 * tracker's lock and works on them without it.
 *
 * Values are JSON "digests": the part of an object the datapath depends on
 * (see lb_model_*_digest), so a status-only or resourceVersion-only update
 * compares equal and cancels at once. NULL stands for "absent". Equality is
 * jsonx_equal (key order and 1 vs 1.0 do not matter).
 *
 * Each entry also remembers when its first change arrived (monotonic ns);
 * the sync turns that into the event-to-map latency.
 */
#ifndef CAPSTAN_AGENT_LB_TRACKER_H
#define CAPSTAN_AGENT_LB_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct tracker;

struct tracker *tracker_new(void);
void tracker_free(struct tracker *t);

/*
 * Record that key went from prev to cur (either may be NULL: added or
 * deleted); both are borrowed (the tracker takes its own references). now_ns
 * is the callback's time. Returns true when key has a pending change after
 * the call, false when there is none (nothing changed, or the change
 * cancelled an earlier one). -EINVAL is not possible: a NULL or empty key
 * is ignored and reported as false.
 */
bool tracker_update(struct tracker *t, const char *key, const json_t *prev, const json_t *cur,
		    uint64_t now_ns);

/* Keys with a pending change. */
size_t tracker_pending(struct tracker *t);

/*
 * One drained change; prev and cur are owned by the tracker_changes array
 * and may be NULL.
 */
struct tracker_change {
	char *key;
	json_t *prev;
	json_t *cur;
	uint64_t since_ns; /* time of the first update of this change */
};

struct tracker_changes {
	struct tracker_change *v; /* sorted by key */
	size_t n;
};

/* Move every pending change into *out (sorted by key) and empty the tracker. */
void tracker_drain(struct tracker *t, struct tracker_changes *out);
void tracker_changes_free(struct tracker_changes *c);

#endif
