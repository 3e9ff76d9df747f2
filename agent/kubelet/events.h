/*
 * events.h - the kubelet's Event recorder (core/v1 Events: Pulled, Created,
 * Started, Killing, BackOff, NodeReady, ...).
 *
 * Recording must never slow down a pod worker, so kl_event() only builds
 * the Event's parts and appends them to a bounded queue; one sender thread
 * talks to the API server. When the queue is full the event is dropped and
 * counted (capstan_kubelet_events_dropped_total): Events are best effort
 * upstream too, and a kubelet that blocks on a slow API server to report
 * that it is slow helps nobody.
 *
 * Repeats are folded as upstream's event correlator does: an Event with the
 * same involved object (uid and fieldPath), type, reason and message as one
 * sent less than 10 minutes earlier becomes a PATCH of that Event's count,
 * lastTimestamp and message, instead of a new object. The sender remembers
 * the last EVENTS_CACHE_SIZE distinct events (least recently seen evicted).
 * A PATCH that finds the Event gone (it expired) creates it again with the
 * running count.
 *
 * The API calls go through a sink (create, patch), so the folding logic is
 * tested against a fake; events_start() wires the real one (httpc).
 */
#ifndef CAPSTAN_KUBELET_EVENTS_H
#define CAPSTAN_KUBELET_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/kubelet/kubelet.h"

#define EVENTS_QUEUE_SIZE 1000
#define EVENTS_CACHE_SIZE 4096
/* Repeats within this window are folded into one Event. */
#define EVENTS_FOLD_WINDOW_NS (600ll * 1000000000ll)

struct events_sink {
	/*
	 * POST ev to /api/v1/namespaces/<ns>/events. 0 on success, -EAGAIN
	 * for a failure worth retrying (transport, 5xx, 429), another -errno
	 * for a refusal (the Event is dropped).
	 */
	int (*create)(void *ctx, const char *ns, const json_t *ev);
	/* Patch the named Event; as create, plus -ENOENT when it is gone. */
	int (*patch)(void *ctx, const char *ns, const char *name, const json_t *patch);
	/* Optional: end a call in flight at once (from another thread). */
	void (*cancel)(void *ctx);
	/* Optional: release ctx when the recorder is freed. */
	void (*release)(void *ctx);
	void *ctx;
};

struct events_options {
	const char *component;	 /* source.component, reportingComponent: "kubelet" */
	const char *host;	 /* source.host, reportingInstance: the node name */
	unsigned queue_size;	 /* 0 = EVENTS_QUEUE_SIZE */
	unsigned cache_size;	 /* 0 = EVENTS_CACHE_SIZE */
	unsigned retry_delay_ms; /* first retry delay after -EAGAIN; 0 = 500 (doubled, 3 tries) */
	int64_t (*now_ns)(void); /* wall clock; NULL = the real one (tests freeze it) */
	struct events_sink sink;
};

struct events;

/* A recorder with its sender thread running. NULL on bad options (no sink, no host). */
struct events *events_new(const struct events_options *o);
/*
 * Send what is queued (up to timeout_ms), then cancel a call still in
 * flight, stop the sender and free everything (the sink's ctx through its
 * release). NULL is fine.
 */
void events_free(struct events *e, int timeout_ms);

/*
 * Queue an Event about obj (borrowed; a Pod or a Node, as the informer
 * gives it: kind and apiVersion are filled in when missing) with an
 * optional fieldPath ("spec.containers{name}", NULL for the object
 * itself). Never blocks on the API server; drops (and counts) when the
 * queue is full.
 */
void events_record(struct events *e, const json_t *obj, const char *field_path, const char *type,
		   const char *reason, const char *message);

/* Wait until the queue is empty and nothing is in flight. 0 or -ETIMEDOUT. */
int events_flush(struct events *e, int timeout_ms);

struct events_stats {
	unsigned long created; /* Events POSTed */
	unsigned long patched; /* repeats folded into a count */
	unsigned long dropped; /* queue full */
	unsigned long failed;  /* refused or out of retries */
};
void events_get_stats(struct events *e, struct events_stats *out);

/* kl_event_at() is declared in kubelet.h. */

#endif
