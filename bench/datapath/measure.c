/* measure.c - see measure.h. */
#include "measure.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load.h"
#include "proc.h"
#include "util.h"

#define MODES 3

static const enum load_mode modes[MODES] = { LOAD_CONN_RATE, LOAD_KEPT_RPS, LOAD_LATENCY };

/* One path's parts. */
struct acc {
	long done[MODES];
	double *rate[2]; /* per part: connections/s, requests/s */
	int nparts;
	long errors;
	int first_errno;
	double *lat_us; /* merged latency samples */
	long nlat;
	double cpu_s[MODES]; /* busy CPU seconds of the machine during each mode, summed */
};

static void set_target(struct sockaddr_in *a, const char *addr, int port)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	inet_pton(AF_INET, addr, &a->sin_addr);
}

static bool path_via_cluster_ip(enum bench_path p)
{
	return p == PATH_SOCKLB || p == PATH_IPT_NFT || p == PATH_IPT_LEGACY || p == PATH_NFT;
}

static bool path_via_nodeport(enum bench_path p)
{
	return p == PATH_NP_TC || p == PATH_NP_XDP;
}

static bool path_in_cgroup(enum bench_path p)
{
	return p == PATH_SOCKLB || p == PATH_DIRECT_CG;
}

/*
 * The client's ephemeral ports for path p. The servers close first, so they
 * hold TIME_WAIT for each (client port, pod) pair for 60 s, and accept a
 * new SYN on such a pair only if its TCP timestamp is newer (PAWS). The
 * client's timestamp offset is derived from the destination its connect()
 * saw: the pod for direct and socket-LB connections (the hook rewrites the
 * address first), the ClusterIP for iptables ones. Mixing the two on one
 * port range makes a share of SYNs fail PAWS and retry a second later,
 * which would be charged to whichever path came second. Disjoint ranges
 * keep each kind consistent with itself.
 */
static int set_port_range(enum bench_path p)
{
	bool cluster_ip = p == PATH_IPT_NFT || p == PATH_IPT_LEGACY || p == PATH_NFT;

	/* NodePort connections see the node address: a third kind. */
	return proc_write_file("/proc/sys/net/ipv4/ip_local_port_range",
			       path_via_nodeport(p) ? "50000 60999"
			       : cluster_ip	    ? "35000 49999"
						    : "10000 34999");
}

static long part_of(long total, int chunks)
{
	return MAX(1, (total + chunks - 1) / chunks);
}

/* In the client child: one part of the three measurements, results then samples to fd. */
static void __attribute__((noreturn))
client_child(const struct measure_cfg *cfg, enum bench_path p, int fd)
{
	const long totals[MODES] = { cfg->conns, cfg->requests, cfg->latency_conns };
	struct load_params lp = { .threads = cfg->threads,
				  .concurrency = cfg->concurrency,
				  .seconds = MAX(1.0, cfg->seconds / cfg->chunks),
				  .req_size = cfg->req_size,
				  .resp_size = cfg->resp_size };
	struct load_result res[MODES] = { 0 };
	double *lat = xcalloc(part_of(cfg->latency_conns, cfg->chunks), sizeof(double));
	char addr[32];
	size_t len;

	if (path_via_cluster_ip(p)) {
		set_target(&lp.targets[0], TOPO_SVC_ADDR, TOPO_SVC_PORT);
		lp.ntargets = 1;
	} else if (path_via_nodeport(p)) {
		set_target(&lp.targets[0], TOPO_NODE_ADDR, TOPO_NODEPORT);
		lp.ntargets = 1;
	} else {
		for (int i = 0; i < cfg->topo->npods; i++) {
			topo_pod_addr(i, addr, sizeof(addr));
			set_target(&lp.targets[i], addr, TOPO_POD_PORT);
		}
		lp.ntargets = cfg->topo->npods;
	}
	if (set_port_range(p) < 0)
		_exit(4);
	for (int m = 0; m < MODES; m++) {
		lp.mode = modes[m];
		lp.count = part_of(totals[m], cfg->chunks);
		double cpu0 = proc_cpu_busy_s();

		lp.lat_us = modes[m] == LOAD_LATENCY ? lat : NULL;
		if (load_client(&lp, &res[m]) < 0)
			_exit(2);
		res[m].cpu_s = cpu0 >= 0 ? proc_cpu_busy_s() - cpu0 : -1;
	}
	len = res[MODES - 1].done * sizeof(double);
	if (write(fd, res, sizeof(res)) != sizeof(res) || write(fd, lat, len) != (ssize_t)len)
		_exit(3);
	_exit(0);
}

/* Read exactly len bytes within deadline (proc_now()). 0 or -errno. */
static int read_full(int fd, void *buf, size_t len, double deadline)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		double left = deadline - proc_now();
		ssize_t n;

		if (proc_interrupted)
			return -EINTR;
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
			continue; /* EINTR or timeout: the checks above decide */
		n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		got += n;
	}
	return 0;
}

/* One part for path p, added to a. 0, -EINTR, or -errno. */
static int measure_part(const struct measure_cfg *cfg, enum bench_path p, struct acc *a)
{
	struct proc_opts o = { .netns = cfg->topo->client,
			       .cgroup = path_in_cgroup(p) ? cfg->cgroup : NULL };
	double deadline = proc_now() + MODES * (cfg->seconds / cfg->chunks + 10) + 10;
	struct load_result res[MODES];
	int pfd[2], status, err;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = proc_fork(&o);
	if (pid == 0) {
		close(pfd[0]);
		client_child(cfg, p, pfd[1]);
	}
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		return pid;
	}
	err = read_full(pfd[0], res, sizeof(res), deadline);
	if (!err && res[MODES - 1].done > part_of(cfg->latency_conns, cfg->chunks))
		err = -EPROTO;
	if (!err) {
		a->lat_us = xrealloc(a->lat_us, (a->nlat + res[MODES - 1].done) * sizeof(double));
		err = read_full(pfd[0], a->lat_us + a->nlat, res[MODES - 1].done * sizeof(double),
				deadline);
	}
	close(pfd[0]);
	if (err < 0 || proc_wait(pid, 10, &status) < 0)
		proc_stop(pid, 1);
	if (err < 0)
		return err;
	a->nlat += res[MODES - 1].done;
	a->rate[0][a->nparts] = res[0].rate;
	a->rate[1][a->nparts] = res[1].rate;
	a->nparts++;
	for (int m = 0; m < MODES; m++) {
		if (res[m].cpu_s >= 0)
			a->cpu_s[m] += res[m].cpu_s;
		a->done[m] += res[m].done;
		a->errors += res[m].errors;
		if (!a->first_errno)
			a->first_errno = res[m].first_errno;
	}
	return 0;
}

/*
 * A path's rates are the median of its parts' rates: a part that a burst of
 * someone else's work hit does not move it, where a sum would.
 */
static void finish(struct acc *a, struct measure *m)
{
	*m = (struct measure){ .errors = a->errors, .first_errno = a->first_errno };
	for (int i = 0; i < MODES; i++)
		m->done += a->done[i];
	m->cps = sort_median(a->rate[0], (size_t)a->nparts);
	m->rps = sort_median(a->rate[1], (size_t)a->nparts);
	m->cpu_us_conn = a->done[0] ? a->cpu_s[0] / (double)a->done[0] * 1e6 : 0;
	m->cpu_us_req = a->done[1] ? a->cpu_s[1] / (double)a->done[1] * 1e6 : 0;
	if (a->nlat) {
		qsort(a->lat_us, a->nlat, sizeof(double), cmp_double);
		m->p50_us = a->lat_us[(a->nlat - 1) / 2];
		m->p99_us = a->lat_us[(long)((a->nlat - 1) * 0.99)];
	}
	/* A path that fails more than 1% of its operations is broken, not slow. */
	m->ok = a->done[0] && a->done[1] && a->done[2] && m->errors * 100 <= m->done;
}

int measure_group(const struct measure_cfg *cfg, const enum bench_path *paths, int n,
		  struct measure *out)
{
	struct acc *acc = xcalloc(n, sizeof(*acc));
	int err = 0;

	for (int i = 0; i < n; i++) {
		acc[i].rate[0] = xcalloc(cfg->chunks, sizeof(double));
		acc[i].rate[1] = xcalloc(cfg->chunks, sizeof(double));
	}
	/*
	 * The kernel tears a deleted namespace down asynchronously (its
	 * conntrack table, thousands of chains): let that finish before any
	 * path is charged for it.
	 */
	if (proc_settle(cfg->idle_target, 10) == -EINTR)
		err = -EINTR;
	for (int k = 0; k < cfg->chunks && !err; k++)
		/* Rotate who goes first, so no path always follows the same one. */
		for (int j = 0; j < n && !err; j++)
			err = measure_part(cfg, paths[(j + k) % n], &acc[(j + k) % n]);
	for (int i = 0; i < n; i++) {
		if (!err)
			finish(&acc[i], &out[i]);
		free(acc[i].lat_us);
		free(acc[i].rate[0]);
		free(acc[i].rate[1]);
	}
	free(acc);
	return err;
}
