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
	int wrk_slices;	    /* measure_wrk_group: one-second wrk runs per figure and path */
};

/*
 * Measure paths[0..n-1] in turns; out[i] receives paths[i]'s figures.
 * 0 on success (a path whose operations failed has out[i].ok false and its
 * error counts set), -EINTR when interrupted, -errno when a client could
 * not be run.
 */
int measure_group(const struct measure_cfg *cfg, const enum bench_path *paths, int n,
		  struct measure *out);

#define MEASURE_WRK_MAX_SLICES 60

/*
 * The cross-check: wrk (HTTP/1.1 GETs, which the servers answer too; see
 * load.h) from the client namespace (and cgroup) to each path's target,
 * the same as our client's: the ClusterIP, or for direct the pods (a
 * script points wrk's threads at the pods in turn; measure_wrk_conns).
 * Two figures: requests each
 * on a new connection ("Connection: close", which the server answers by
 * closing first, as in our client's connection rate), and requests on kept
 * connections. Each is wrk_slices one-second runs, the paths taking turns
 * run by run (as measure_group's slices do), the median kept. Only the
 * ClusterIP paths and direct (measure_wrk_path); out[i] of other paths is
 * left not ok with no reason. 0 with out[] filled (ok false and why set
 * when wrk failed, or failed more than 1% of its requests), -EINTR, or
 * -errno when wrk could not be run.
 */
bool measure_wrk_path(enum bench_path p);
/*
 * wrk's connections, each with a thread of its own: the client's
 * connections, at most MEASURE_WRK_MAX_CONNS. wrk points all of a thread's
 * connections at one address; with several per thread, direct would put
 * each thread's connections on one pod while a service spreads them over
 * all, and on two cores the concentrated load alone ran 20-25% faster (wrk
 * then showed socket LB at 0.8x of direct on kept connections, which carry
 * no socket-LB cost at all). One connection per thread spreads both alike.
 */
#define MEASURE_WRK_MAX_CONNS 64
int measure_wrk_conns(const struct measure_cfg *cfg);
int measure_wrk_group(const struct measure_cfg *cfg, const enum bench_path *paths, int n,
		      struct wrk_measure *out);

/*
 * Set the calling process's network namespace's ephemeral port range to
 * the one path p's clients use (each kind of destination its own range; see
 * measure.c). 0 or -errno.
 */
int measure_port_range(enum bench_path p);

#endif
