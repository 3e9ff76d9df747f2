/*
 * measure.h - one round's figures for a group of paths, taken in turns.
 *
 * A shared two-core machine drifts by 10-20% within seconds, more than the
 * differences worth seeing between direct and socket-LB connections. So a
 * group of paths that can coexist on one node (direct, direct from the
 * agent's cgroup, socket LB) is measured in slices: every measurement is
 * cut into `chunks` parts and the paths take turns part by part (in a
 * rotating order). Drift then falls on every path alike, and each path's
 * rate is the median of its parts' rates, so a part hit by a burst of
 * someone else's work does not count.
 *
 * Each part is a fresh client process in the client namespace (and, for
 * the socket-LB paths, the agent's cgroup, joined first) running the three
 * load measurements of load.h; the latency samples of all parts are merged
 * before the percentiles are taken.
 */
#ifndef CAPSTAN_BENCH_MEASURE_H
#define CAPSTAN_BENCH_MEASURE_H

#include "report.h"
#include "topo.h"

struct measure_cfg {
	const struct topo *topo;
	const char *cgroup; /* the agent's cgroup, for PATH_DIRECT_CG and PATH_SOCKLB */
	int threads;
	int concurrency;
	int chunks;
	long conns; /* per measurement, over all its parts */
	long requests;
	long latency_conns;
	double seconds; /* time limit of one measurement, over all its parts */
	int req_size;
	int resp_size;
	double idle_target; /* wait for this idle share of the CPUs first (proc_settle) */
};

/*
 * Measure paths[0..n-1] in turns; out[i] receives paths[i]'s figures.
 * 0 on success (a path whose operations failed has out[i].ok false and its
 * error counts set), -EINTR when interrupted, -errno when a client could
 * not be run.
 */
int measure_group(const struct measure_cfg *cfg, const enum bench_path *paths, int n,
		  struct measure *out);

#endif
