/*
 * load.h - the benchmark's own TCP load generator and server.
 *
 * The protocol is the smallest one that still makes a request/response
 * service: the client sends a fixed-size request whose first byte says
 * whether to keep the connection ('K') or close it after the answer ('C');
 * the server answers every whole request with a fixed-size response and,
 * for 'C', closes right after writing it. The server closing first puts
 * TIME_WAIT on the server side, so a client making tens of thousands of
 * connections never runs out of ephemeral ports (which a client-side close
 * would, and which SO_LINGER's reset would hide by not closing properly).
 *
 * The server also answers HTTP/1.1 GETs, for wrk (wrk.h): a connection that
 * starts with 'G' gets, for each request header, "200 OK" with a body of
 * the response size, and is closed after the answer when the request said
 * "Connection: close" (the server closing first, as above).
 *
 * Three measurements, each bounded by an operation count and a time limit:
 *   LOAD_CONN_RATE  connect + request + response + close, `concurrency`
 *                   connections in flight per thread: connections per second;
 *   LOAD_KEPT_RPS   request/response ping-pong on `concurrency` kept
 *                   connections per thread: requests per second;
 *   LOAD_LATENCY    one connection at a time on one thread: p50/p99 from
 *                   connect() to the last response byte.
 * New connections go to the targets in turn, so "direct to the pods" spreads
 * its load as evenly as a service's backend choice does.
 *
 * Client threads and server threads use epoll (level-triggered, non-blocking
 * sockets); the server has one SO_REUSEPORT listener per thread so the kernel
 * spreads connections without a shared accept queue.
 */
#ifndef CAPSTAN_BENCH_LOAD_H
#define CAPSTAN_BENCH_LOAD_H

#include <netinet/in.h>
#include <stdint.h>

#define LOAD_MAX_TARGETS 16
#define LOAD_MAX_MSG 65536 /* largest request or response, bytes */

enum load_mode {
	LOAD_CONN_RATE,
	LOAD_KEPT_RPS,
	LOAD_LATENCY,
};

struct load_params {
	enum load_mode mode;
	struct sockaddr_in targets[LOAD_MAX_TARGETS]; /* new connections go to each in turn */
	int ntargets;
	int threads;	 /* client threads (LOAD_LATENCY uses one) */
	int concurrency; /* connections in flight per thread (not LOAD_LATENCY) */
	long count;	 /* operations to complete at most, over all threads */
	double seconds;	 /* start no new operation after this long */
	int req_size;	 /* bytes, 1..LOAD_MAX_MSG */
	int resp_size;	 /* bytes, 1..LOAD_MAX_MSG */
	double *lat_us;	 /* LOAD_LATENCY: when not NULL, room for count samples (us), filled */
};

struct load_result {
	long done;	  /* operations completed (connections, requests or samples) */
	long errors;	  /* operations that failed */
	int first_errno;  /* errno of the first failure; EPROTO = short response */
	double elapsed_s; /* from the first start to the last completion */
	double rate;	  /* done / elapsed_s */
	double p50_us;	  /* LOAD_LATENCY: median, microseconds */
	double p99_us;	  /* LOAD_LATENCY: 99th percentile, microseconds */
	double cpu_s;	  /* busy CPU seconds of the whole machine meanwhile (set by the
			   * caller: proc_cpu_busy_s before and after) */
};

/*
 * Run one measurement from the calling process (its network namespace and
 * cgroup). 0 on success (even with failed operations: see errors), -EINVAL
 * for bad parameters; sets *out only on success.
 */
int load_client(const struct load_params *p, struct load_result *out);

/*
 * Serve on 0.0.0.0:port with `threads` threads until the process is killed.
 * Writes one byte to ready_fd (when >= 0) once every listener is up. Returns
 * only on failure: -EINVAL for bad parameters, or -errno from the listeners.
 */
int load_server(uint16_t port, int threads, int req_size, int resp_size, int ready_fd);

#endif
