/*
 * probes.h - liveness, readiness and startup probes (probe_).
 *
 * Two halves. The state machine (struct probe_set, one per container) is
 * pure: it is told the time, which container instance runs since when, and
 * each raw probe result, and answers which probe is due, what the visible
 * results are, and whether the container must be killed. The runner
 * (probe_run) performs one probe: exec through a callback (CRI ExecSync in
 * the kubelet), httpGet with a small HTTP/1.1 client, tcpSocket with a
 * connect, each bounded by timeoutSeconds.
 *
 * Semantics follow upstream's prober workers:
 *   - initial results: liveness success, readiness failure, startup unknown;
 *     a new container instance starts over from them;
 *   - a probe first runs initialDelaySeconds after the container started,
 *     then every periodSeconds;
 *   - the visible result changes only after successThreshold consecutive
 *     successes or failureThreshold consecutive failures;
 *   - while a startup probe has not succeeded, liveness and readiness do not
 *     run; once it has, it stops;
 *   - a liveness or startup failure holds the probe until the next instance
 *     (the container is being killed; probing it would only race the kill).
 */
#ifndef CAPSTAN_KUBELET_PROBES_H
#define CAPSTAN_KUBELET_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum probe_kind {
	PROBE_LIVENESS = 0,
	PROBE_READINESS,
	PROBE_STARTUP,
	PROBE__MAX,
};

enum probe_result {
	PROBE_UNKNOWN = 0,
	PROBE_SUCCESS,
	PROBE_FAILURE,
};

/* "Liveness", "Readiness", "Startup" (as in upstream's Unhealthy events). */
const char *probe_kind_name(enum probe_kind kind);

struct probe_state {
	bool configured;
	int initial_delay_s, period_s, timeout_s, success_threshold, failure_threshold;
	enum probe_result result; /* visible */
	enum probe_result last;	  /* last raw result */
	int run;		  /* consecutive raw results equal to last */
	int64_t next_ns;	  /* due time */
	bool on_hold;		  /* no more runs for this instance */
};

struct probe_set {
	struct probe_state p[PROBE__MAX];
	char cid[128];	    /* the running instance probed, "" when none */
	int64_t started_ns; /* its start time */
};

/*
 * Configure from a container spec (livenessProbe, readinessProbe,
 * startupProbe; defaults as the API server applies them for missing
 * numbers, and thresholds/periods below 1 taken as 1). No instance yet.
 */
void probe_set_init(struct probe_set *s, const json_t *container);

/*
 * Follow the container: cid is the running instance (NULL or "" when none
 * runs), started_ns its start time. A different instance resets counters
 * and results and schedules the first runs at started + initialDelay (not
 * before now).
 */
void probe_set_track(struct probe_set *s, const char *cid, int64_t started_ns, int64_t now_ns);

/* The probe to run now, or PROBE__MAX when none is due (startup gates the others). */
enum probe_kind probe_set_due(const struct probe_set *s, int64_t now_ns);

/* The earliest time a probe that may run becomes due; INT64_MAX when none. */
int64_t probe_set_next(const struct probe_set *s);

/*
 * Record one raw result of kind at now_ns (and schedule the next run).
 * Returns true when the visible result changed.
 */
bool probe_set_record(struct probe_set *s, enum probe_kind kind, enum probe_result r,
		      int64_t now_ns);

/* Startup probe succeeded, or there is none (and an instance runs). */
bool probe_set_started(const struct probe_set *s);
/* Started, and the readiness probe succeeded or there is none. */
bool probe_set_ready(const struct probe_set *s);
/*
 * A liveness or startup failure means the instance must be killed: true
 * with *why set to that probe.
 */
bool probe_set_failed(const struct probe_set *s, enum probe_kind *why);

/*
 * Exec callback: run argv[0..argc) in container cid, at most timeout_s.
 * 0 with *exit_code and the combined output in out; -ETIMEDOUT; other
 * -errno with a message in out.
 */
typedef int (*probe_exec_fn)(void *ctx, const char *cid, const char *const *argv, size_t argc,
			     int timeout_s, int *exit_code, char *out, size_t outlen);

struct probe_target {
	const char *cid;	 /* the container instance */
	const char *pod_ip;	 /* default host of httpGet / tcpSocket */
	const json_t *container; /* for named ports */
	probe_exec_fn exec;
	void *exec_ctx;
};

/*
 * Run the probe (a livenessProbe/readinessProbe/startupProbe object) once.
 * PROBE_SUCCESS or PROBE_FAILURE, with output or the reason for the
 * failure in out (for the Unhealthy event). A probe that cannot run (no
 * handler, unknown named port, gRPC) is a failure with the reason.
 */
enum probe_result probe_run(const json_t *probe, const struct probe_target *t, char *out,
			    size_t outlen);

/*
 * Resolve a port (number, numeric string or the name of one of the
 * container's ports). The port or -EINVAL / -ENOENT.
 */
int probe_port(const json_t *port, const json_t *container);

#endif
