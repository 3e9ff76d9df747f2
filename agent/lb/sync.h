/*
 * sync.h - from Service and EndpointSlice events to map writes: the
 * agent's control loop, without threads or BPF of its own.
 *
 * Event side (any thread, typically informer callbacks): each event is
 * reduced to a digest (model.h) and recorded in one of two change trackers,
 * services and slices; when something is now pending, the on_change
 * callback fires (the daemon pokes its runner with it).
 *
 * Sync side (one thread, lb_sync_run): drain both trackers, apply the
 * changes to the sync's own store of digests (services by "ns/name",
 * slices by "ns/name" plus an index from service to its slices), work out
 * which services are affected (a changed slice affects the service its
 * label names, before and after the change), rebuild only those through
 * the model and hand them to the writer, which writes only the difference.
 * A full run rebuilds every service: the writer's full round then also
 * removes whatever no service claims, which is the periodic reconcile and
 * the first sync after a restart. Services whose write failed are retried
 * by the next run even if nothing changed.
 *
 * The health check ports (externalTrafficPolicy: Local LoadBalancers) are
 * kept per service beside the digests and handed to the health check
 * server as a whole after any run that changed one of them.
 *
 * Deleted services are handed to the writer before the others, so when one
 * service disappears and another takes its address in the same sync, the
 * address is free by the time the new one claims it.
 */
#ifndef CAPSTAN_AGENT_LB_SYNC_H
#define CAPSTAN_AGENT_LB_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/lb/healthcheck.h"
#include "agent/lb/metrics.h"
#include "agent/lb/writer.h"

struct lb_sync_config {
	const char *node;	      /* this node's name (internalTrafficPolicy: Local) */
	struct lb_writer *writer;     /* borrowed */
	void (*on_change)(void *ctx); /* a change is pending; may be NULL */
	void *ctx;
	struct lb_hist *event_to_map; /* seconds from event to map write; may be NULL */
	__be32 node_ip;		      /* NodePort frontends on this address; 0: none */
	struct lb_hc *hc;	      /* healthCheckNodePort server; may be NULL */
};

struct lb_sync_result {
	bool full;
	size_t changes;	 /* tracker entries drained */
	size_t services; /* services rebuilt */
	size_t total_services, frontends, backends;
	struct lb_write_stats writes;
	uint64_t duration_ns;
};

struct lb_sync;

/* Copies cfg (and the node name). NULL when cfg->writer is NULL. */
struct lb_sync *lb_sync_new(const struct lb_sync_config *cfg);
void lb_sync_free(struct lb_sync *s);

/*
 * Record a Service or EndpointSlice event: old and cur are the objects
 * before and after (NULL for add / delete). Objects without a name are
 * ignored. Safe from any thread.
 */
void lb_sync_service_event(struct lb_sync *s, const json_t *old, const json_t *cur);
void lb_sync_slice_event(struct lb_sync *s, const json_t *old, const json_t *cur);

/* Changes waiting for the next run. */
size_t lb_sync_pending(struct lb_sync *s);

/*
 * One sync: apply the pending changes (all services when want_full or when
 * the writer requires it). 0 when everything was written, else the first
 * -errno (the failed services are retried by the next run). res may be NULL.
 * Not thread-safe: one thread runs syncs.
 */
int lb_sync_run(struct lb_sync *s, bool want_full, struct lb_sync_result *res);

#endif
