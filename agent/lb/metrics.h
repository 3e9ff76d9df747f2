/*
 * metrics.h - the agent's Prometheus metrics and the HTTP endpoint that
 * serves them (/metrics) with its health (/healthz).
 *
 * Counters are not kept in user space: the datapath counts in per-CPU
 * arrays indexed by rev-NAT id and backend id, and a scrape sums them over
 * CPUs (lb_map_ops.sum) and labels them from a snapshot of the writer's
 * mirror (which service port / backend an id is). Only what the agent
 * itself measures lives here: two histograms, sync duration and
 * event-to-map latency, with fixed buckets and a lock each.
 *
 * Output is the Prometheus text format 0.0.4: HELP and TYPE once per family,
 * label values escaped (backslash, double quote, newline), families in a
 * fixed order. A counter whose per-CPU read fails is left out of the scrape
 * rather than reported as 0 (a reset would confuse rate()).
 *
 * The HTTP server is libmicrohttpd with its own polling thread; requests
 * are tiny and rare, so one thread is plenty.
 */
#ifndef CAPSTAN_AGENT_LB_METRICS_H
#define CAPSTAN_AGENT_LB_METRICS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define LB_HIST_MAX_BUCKETS 24

struct lb_hist {
	pthread_mutex_t mu;
	const double *bounds; /* upper bounds, ascending; +Inf is implicit */
	size_t nbounds;
	uint64_t counts[LB_HIST_MAX_BUCKETS + 1]; /* per bucket, not cumulative */
	uint64_t count;
	double sum;
};

/* Buckets (seconds) for sync durations and for event-to-map latencies. */
extern const double lb_sync_buckets[];
extern const size_t lb_sync_nbuckets;
extern const double lb_latency_buckets[];
extern const size_t lb_latency_nbuckets;

/* 0, or -EINVAL when nbounds exceeds LB_HIST_MAX_BUCKETS or bounds are not ascending. */
int lb_hist_init(struct lb_hist *h, const double *bounds, size_t nbounds);
void lb_hist_destroy(struct lb_hist *h);
void lb_hist_observe(struct lb_hist *h, double v);
/* Append the family (HELP, TYPE, cumulative buckets, _sum, _count). */
void lb_hist_render(struct buf *out, const char *name, const char *help, struct lb_hist *h);

/* Append s to out with Prometheus label-value escaping. */
void lb_metrics_escape(struct buf *out, const char *s);

struct lb_writer;
struct lb_map_ops;

struct lb_metrics {
	struct lb_hist sync_seconds;
	struct lb_hist event_to_map_seconds;
	uint64_t syncs, sync_errors;  /* updated with __atomic builtins */
	struct lb_writer *writer;     /* for labels; borrowed */
	const struct lb_map_ops *ops; /* for the per-CPU counters */
	void *ops_ctx;
};

/* Set up both histograms; writer and ops are filled in by the caller. */
void lb_metrics_init(struct lb_metrics *m);
void lb_metrics_destroy(struct lb_metrics *m);

/* Append the whole scrape to out. */
void lb_metrics_render(struct lb_metrics *m, struct buf *out);

struct lb_httpd;

/*
 * Serve /metrics and /healthz on listen ("ADDR:PORT", IPv4, or "[ADDR]:PORT";
 * port 0 picks a free one). healthy() decides between 200 and 503 for
 * /healthz. 0 on success with *out set; -EINVAL for a bad address,
 * -errno when the socket cannot be bound (message in err).
 */
int lb_httpd_start(const char *listen, struct lb_metrics *m, bool (*healthy)(void *ctx), void *ctx,
		   struct lb_httpd **out, char *err, size_t errlen);
/* The bound port. */
unsigned lb_httpd_port(const struct lb_httpd *h);
void lb_httpd_stop(struct lb_httpd *h);

/*
 * Parse "ADDR:PORT" or "[ADDR]:PORT" into a sockaddr (sockaddr_in or
 * sockaddr_in6 in *ss). 0, or -EINVAL.
 */
struct sockaddr_storage;
int lb_parse_listen(const char *s, struct sockaddr_storage *ss);

#endif
