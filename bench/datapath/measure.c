/* measure.c - see measure.h. */
#include "measure.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
int measure_port_range(enum bench_path p)
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
	if (measure_port_range(p) < 0)
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

/*
 * Fork a client for path p: in the client namespace (and the agent's
 * cgroup for the paths in it), a pipe from it. Returns its PID with the
 * read end in pfd[0], 0 in the child with the write end in pfd[1], or
 * -errno.
 */
static pid_t fork_client(const struct measure_cfg *cfg, enum bench_path p, int pfd[2])
{
	struct proc_opts o = { .netns = cfg->topo->client,
			       .cgroup = path_in_cgroup(p) ? cfg->cgroup : NULL };
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = proc_fork(&o);
	if (pid == 0) {
		close(pfd[0]);
		return 0;
	}
	close(pfd[1]);
	if (pid < 0)
		close(pfd[0]);
	return pid;
}

/* One part for path p, added to a. 0, -EINTR, or -errno. */
static int measure_part(const struct measure_cfg *cfg, enum bench_path p, struct acc *a)
{
	double deadline = proc_now() + MODES * (cfg->seconds / cfg->chunks + 10) + 10;
	struct load_result res[MODES];
	int pfd[2], status, err;
	pid_t pid = fork_client(cfg, p, pfd);

	if (pid == 0)
		client_child(cfg, p, pfd[1]);
	if (pid < 0)
		return pid;
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

/* ---------------------------------------------------------------- wrk */

/* A one-second wrk run gets this long to report (its --timeout is 2 s). */
#define WRK_LIMIT_S 20

bool measure_wrk_path(enum bench_path p)
{
	return p == PATH_DIRECT || path_via_cluster_ip(p);
}

int measure_wrk_conns(const struct measure_cfg *cfg)
{
	return MIN(cfg->threads * cfg->concurrency, MEASURE_WRK_MAX_CONNS);
}

/*
 * In the wrk child: stdout and stderr to out_fd, the path's port range,
 * and for direct a script (in a memfd, so nothing is left on disk) that
 * points each thread at the next pod. Then exec wrk.
 */
static void __attribute__((noreturn))
wrk_child(const struct measure_cfg *cfg, enum bench_path p, bool new_conns, int out_fd)
{
	char conns[16], url[64], script[48], addr[32];
	const char *argv[20];
	int n = 0;

	if (dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0 || measure_port_range(p) < 0)
		_exit(126);
	snprintf(conns, sizeof(conns), "%d", measure_wrk_conns(cfg));
	if (path_via_cluster_ip(p))
		snprintf(url, sizeof(url), "http://%s:%d/", TOPO_SVC_ADDR, TOPO_SVC_PORT);
	else {
		FILE *f;
		int fd = memfd_create("wrk-pods.lua", 0);

		if (fd < 0 || !(f = fdopen(dup(fd), "w")))
			_exit(126);
		fputs("local pods = {", f);
		for (int i = 0; i < cfg->topo->npods; i++) {
			topo_pod_addr(i, addr, sizeof(addr));
			fprintf(f, "%s\"%s\"", i ? ", " : " ", addr);
		}
		fprintf(f,
			" }\n"
			"local started = 0\n"
			"function setup(thread)\n"
			"  started = started + 1\n"
			"  thread.addr = wrk.lookup(pods[(started - 1) %% #pods + 1], \"%d\")[1]\n"
			"end\n",
			TOPO_POD_PORT);
		if (fclose(f) != 0)
			_exit(126);
		topo_pod_addr(0, addr, sizeof(addr));
		snprintf(url, sizeof(url), "http://%s:%d/", addr, TOPO_POD_PORT);
		snprintf(script, sizeof(script), "/proc/self/fd/%d", fd);
	}
	argv[n++] = "wrk";
	argv[n++] = "-t";
	argv[n++] = conns;
	argv[n++] = "-c";
	argv[n++] = conns;
	argv[n++] = "-d";
	argv[n++] = "1s";
	argv[n++] = "--timeout";
	argv[n++] = "2s";
	if (new_conns) {
		argv[n++] = "-H";
		argv[n++] = "Connection: close";
	}
	if (!path_via_cluster_ip(p)) {
		argv[n++] = "-s";
		argv[n++] = script;
	}
	argv[n++] = url;
	argv[n] = NULL;
	execvp("wrk", (char *const *)argv);
	fprintf(stderr, "cannot run wrk: %s\n", strerror(errno));
	_exit(127);
}

/* One wrk run: its requests per second, requests and failures (parsed from its report). */
static int wrk_once(const struct measure_cfg *cfg, enum bench_path p, bool new_conns, double *rate,
		    long *requests, long *errors, char *why, size_t whylen)
{
	double deadline = proc_now() + WRK_LIMIT_S;
	char out[8192], *line, *save = NULL;
	long connect = 0, rd = 0, wr = 0, timeout = 0, non2xx = 0;
	size_t got = 0;
	int pfd[2], status, err = 0;
	pid_t pid;

	*rate = 0;
	*requests = *errors = 0;
	pid = fork_client(cfg, p, pfd);
	if (pid == 0)
		wrk_child(cfg, p, new_conns, pfd[1]);
	if (pid < 0)
		return pid;
	/* Its whole report, until it closes its end (exits). */
	for (;;) {
		struct pollfd pl = { .fd = pfd[0], .events = POLLIN };
		double left = deadline - proc_now();
		ssize_t n;

		if (proc_interrupted) {
			err = -EINTR;
			break;
		}
		if (left <= 0) {
			err = -ETIMEDOUT;
			break;
		}
		if (poll(&pl, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		n = read(pfd[0], out + got, sizeof(out) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(out) - 1)
			break; /* more than a report: the parse below says what is wrong */
	}
	out[got] = '\0';
	close(pfd[0]);
	if (err < 0 || proc_wait(pid, 10, &status) < 0) {
		proc_stop(pid, 1);
		if (err == -EINTR)
			return err;
		snprintf(why, whylen, "wrk did not finish in %d s", WRK_LIMIT_S);
		return 0;
	}
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line += strspn(line, " ");
		if (sscanf(line, "%ld requests in", requests) == 1 ||
		    sscanf(line, "Socket errors: connect %ld, read %ld, write %ld, timeout %ld",
			   &connect, &rd, &wr, &timeout) == 4 ||
		    sscanf(line, "Non-2xx or 3xx responses: %ld", &non2xx) == 1 ||
		    sscanf(line, "Requests/sec: %lf", rate) == 1)
			continue;
		if (!why[0] && (!WIFEXITED(status) || WEXITSTATUS(status) != 0) &&
		    strncmp(line, "Running ", 8) != 0)
			snprintf(why, whylen, "wrk: %s", line); /* its first complaint */
	}
	*errors = connect + rd + wr + timeout + non2xx;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (!why[0])
			snprintf(why, whylen, "wrk exited with status %d",
				 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	} else if (*rate <= 0 || !*requests) {
		snprintf(why, whylen, "wrk reported no requests");
	}
	return 0;
}

int measure_wrk_group(const struct measure_cfg *cfg, const enum bench_path *paths, int n,
		      struct wrk_measure *out)
{
	int slices = MAX(1, MIN(cfg->wrk_slices, MEASURE_WRK_MAX_SLICES)), err = 0;
	double(*rate)[2][MEASURE_WRK_MAX_SLICES] = xcalloc(n, sizeof(*rate));

	for (int i = 0; i < n; i++)
		out[i] = (struct wrk_measure){ 0 };
	for (int k = 0; k < slices && !err; k++)
		/* Rotate who goes first, as measure_group does. */
		for (int j = 0; j < n && !err; j++) {
			int i = (j + k) % n;

			for (int kind = 0;
			     kind < 2 && measure_wrk_path(paths[i]) && !out[i].why[0] && !err;
			     kind++) {
				long req, errs;

				err = wrk_once(cfg, paths[i], kind == 0, &rate[i][kind][k], &req,
					       &errs, out[i].why, sizeof(out[i].why));
				out[i].requests += req;
				out[i].errors += errs;
			}
		}
	for (int i = 0; i < n && !err; i++) {
		struct wrk_measure *w = &out[i];

		if (!measure_wrk_path(paths[i]))
			continue;
		if (!w->why[0] && w->errors * 100 > w->requests)
			snprintf(w->why, sizeof(w->why), "%ld of %ld requests failed", w->errors,
				 w->errors + w->requests);
		w->ok = !w->why[0];
		if (w->ok) {
			w->cps = sort_median(rate[i][0], (size_t)slices);
			w->rps = sort_median(rate[i][1], (size_t)slices);
		}
	}
	free(rate);
	return err;
}
