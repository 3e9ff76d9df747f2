/*
 * capstan-bench-datapath - what reaching a service costs a client, per
 * packet path, measured side by side in one run.
 *
 * One simulated node (topo.h): a client namespace, a forwarding node
 * namespace and a few pod namespaces running the benchmark's own server
 * (load.h). The same client reaches the same pods four ways, in every round
 * and for every service count (1, 1,000, 10,000 by default):
 *
 *   direct       to a pod address (the baseline every ratio is taken against);
 *   direct, cgroup  the same from inside the agent's cgroup (the socket hooks
 *                run, but find no service: what capstan costs other traffic);
 *   socket LB    to the ClusterIP through the real capstan-agent (agent.h);
 *   iptables     to the ClusterIP through kube-proxy-shaped rules in the node
 *                (kproxy.h), with the nf_tables backend and, when installed,
 *                iptables-legacy;
 *   NodePort     to the node's address at the measured service's NodePort,
 *                through the agent's tc programs, then its native XDP
 *                program, on the client's link (each with a direct baseline
 *                measured through the same programs).
 *
 * For each: connections per second, requests per second on kept
 * connections, latency of one request on a new connection; and the time
 * each path takes to program N services. The measured service is always the
 * last one added, the worst case for a linear rule list.
 *
 * The run owns everything it touches and undoes it on every exit path
 * (Ctrl-C included): it works in a private mount namespace (so its bpffs
 * mounts and netns bind mounts vanish with it even after a SIGKILL), every
 * child dies with it (PR_SET_PDEATHSIG), and what a SIGKILL could still
 * leave (empty cgroups, temp dirs) is removed by `--cleanup`.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "abi.h"
#include "agent.h"
#include "agent/lb/loader.h"
#include "flood.h"
#include "knft.h"
#include "kproxy.h"
#include "load.h"
#include "measure.h"
#include "plot.h"
#include "proc.h"
#include "report.h"
#include "topo.h"
#include "util.h"

#define NAME "capstan-bench-datapath"
#define AGENT_READY_TIMEOUT_S 300
#define MAX_CHANGES 21

struct opts {
	const char *agent;
	const char *results_dir; /* "-": write no results file */
	int counts[REPORT_MAX_COUNTS];
	int ncounts;
	/* integer knobs, all long so one table parses them (parse_opts) */
	long endpoints;
	long rounds;
	long threads;
	long concurrency;
	long server_threads;
	long conns;
	long requests;
	long latency_conns;
	long chunks;
	long req_size;
	long resp_size;
	double seconds;
	double restore_limit;
	long flood_packets;
	double flood_seconds;
	long flood_rate;
	long changes;
	long wrk; /* one-second wrk runs per figure; < 0: 3 when wrk is installed */
	bool want[PATH__MAX];
	bool keep_workdir;
};

struct bench {
	struct opts o;
	struct topo topo;
	struct agent agent;
	bool agent_live;
	bool agent_failed[REPORT_MAX_COUNTS]; /* do not retry a service count that failed */
	pid_t servers[TOPO_MAX_PODS];
	char workdir[256];
	struct measure_cfg mcfg;
	char static_path[REPORT_MAX_COUNTS][300];
	char static_change_path[REPORT_MAX_COUNTS][300];
	char rules_path[REPORT_MAX_COUNTS][300];
	char rules_change_path[REPORT_MAX_COUNTS][300];
	char rules_back_path[REPORT_MAX_COUNTS][300];
	char nft_path[REPORT_MAX_COUNTS][300];
	char nft_change_path[REPORT_MAX_COUNTS][300];
	char nft_back_path[REPORT_MAX_COUNTS][300];
	struct report rep;
};

static const char *const path_key[PATH__MAX] = {
	[PATH_DIRECT] = "direct",	  [PATH_DIRECT_CG] = "direct-cg",
	[PATH_SOCKLB] = "socklb",	  [PATH_IPT_NFT] = "iptables",
	[PATH_IPT_LEGACY] = "legacy",	  [PATH_NFT] = "nftables",
	[PATH_DIRECT_TC] = "direct-tc",	  [PATH_NP_TC] = "nodeport-tc",
	[PATH_DIRECT_XDP] = "direct-xdp", [PATH_NP_XDP] = "nodeport-xdp",
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " NAME " [options]\n"
		"       " NAME " --cleanup\n"
		"Measures direct, capstan socket LB, capstan NodePort (tc, XDP) and\n"
		"kube-proxy-shaped iptables paths side by side in network namespaces it creates\n"
		"(root). Options:\n"
		"  --agent PATH          capstan-agent binary (build/bin/capstan-agent)\n"
		"  --services LIST       service counts (1,1000,10000)\n"
		"  --endpoints N         endpoints per service = backend pods (4)\n"
		"  --rounds N            rounds, 1..%d (3)\n"
		"  --paths LIST          of direct-cg,socklb,iptables,legacy,nftables,\n"
		"                        nodeport-tc,nodeport-xdp (all; direct always)\n"
		"  --threads N           client threads (2)\n"
		"  --concurrency N       connections in flight per client thread (16)\n"
		"  --server-threads N    server threads per pod (2)\n"
		"  --conns N             connections per connection-rate measurement (20000)\n"
		"  --requests N          requests per kept-connection measurement (200000)\n"
		"  --latency-conns N     sequential connections for latency (2000)\n"
		"  --seconds S           time limit of each measurement (10)\n"
		"  --chunks N            slices per measurement, paths taking turns (10)\n"
		"  --restore-limit S     time limit of kube-proxy's iptables-restore call (60)\n"
		"  --changes N           endpoint changes per path, count and round, 1..%d:\n"
		"                        one endpoint leaves, comes back, leaves... (5)\n"
		"  --flood-packets N     64-byte UDP frames per forwarding measurement, 0 for "
		"none\n"
		"                        (1000000)\n"
		"  --flood-seconds S     time limit of each forwarding measurement (5)\n"
		"  --flood-rate N        frames per second offered, below every path's limit\n"
		"                        (250000)\n"
		"  --wrk N               cross-check direct and the ClusterIP paths with wrk:\n"
		"                        N one-second runs per figure, 0 for none (3 when wrk\n"
		"                        is installed)\n"
		"  --request-size B      (64)   --response-size B  (512)\n"
		"  --results-dir DIR     where datapath-DATE.md and its plots go (bench/results;\n"
		"                        - for none)\n"
		"  --keep-workdir        keep the temp dir (static file, rules, logs)\n"
		"  --cleanup             remove what a killed run left, then exit\n",
		REPORT_MAX_ROUNDS, MAX_CHANGES);
}

/* ---------------------------------------------------------------- options */

static int parse_counts(const char *s, struct opts *o)
{
	char *end;

	o->ncounts = 0;
	while (*s) {
		long v = strtol(s, &end, 10);

		if (end == s || v < 1 || v > 60000 || o->ncounts == REPORT_MAX_COUNTS ||
		    (*end && *end != ','))
			return -EINVAL;
		o->counts[o->ncounts++] = (int)v;
		s = *end ? end + 1 : end;
	}
	return o->ncounts ? 0 : -EINVAL;
}

static int parse_paths(const char *s, struct opts *o)
{
	char *copy = xstrdup(s), *save;
	int err = 0;

	memset(o->want, 0, sizeof(o->want));
	o->want[PATH_DIRECT] = true; /* the baseline of every ratio */
	for (char *w = strtok_r(copy, ",", &save); w && !err; w = strtok_r(NULL, ",", &save)) {
		int p;

		for (p = 0; p < PATH__MAX && strcmp(w, path_key[p]); p++)
			;
		if (p == PATH__MAX)
			err = -EINVAL;
		else
			o->want[p] = true;
	}
	free(copy);
	return err;
}

static long parse_long(const char *s, long min, long max)
{
	char *end;
	long v = strtol(s, &end, 10);

	return end != s && !*end && v >= min && v <= max ? v : -1;
}

enum {
	OPT_AGENT = 0x100,
	OPT_SERVICES,
	OPT_ENDPOINTS,
	OPT_ROUNDS,
	OPT_PATHS,
	OPT_THREADS,
	OPT_CONCURRENCY,
	OPT_SERVER_THREADS,
	OPT_CONNS,
	OPT_REQUESTS,
	OPT_LATENCY_CONNS,
	OPT_SECONDS,
	OPT_CHUNKS,
	OPT_RESTORE_LIMIT,
	OPT_FLOOD_PACKETS,
	OPT_FLOOD_SECONDS,
	OPT_CHANGES,
	OPT_FLOOD_RATE,
	OPT_REQ_SIZE,
	OPT_RESP_SIZE,
	OPT_WRK,
	OPT_RESULTS_DIR,
	OPT_KEEP,
	OPT_CLEANUP,
};

/* Where an integer option goes and its range. */
struct int_opt {
	int id;
	long *dst;
	long min, max;
};

static const char *opt_name(const struct option *lo, int id)
{
	for (; lo->name; lo++)
		if (lo->val == id)
			return lo->name;
	return "?";
}

/* A time limit in seconds, more than 0 and at most max; -1 when bad. */
static double parse_seconds(const char *s, double max)
{
	char *end;
	double v = strtod(s, &end);

	return end != s && !*end && v > 0 && v <= max ? v : -1;
}

/* 0 to run, 1 to run --cleanup, 2 for --help, -EINVAL (message printed) for bad options. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "agent", required_argument, NULL, OPT_AGENT },
		{ "services", required_argument, NULL, OPT_SERVICES },
		{ "endpoints", required_argument, NULL, OPT_ENDPOINTS },
		{ "rounds", required_argument, NULL, OPT_ROUNDS },
		{ "paths", required_argument, NULL, OPT_PATHS },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "concurrency", required_argument, NULL, OPT_CONCURRENCY },
		{ "server-threads", required_argument, NULL, OPT_SERVER_THREADS },
		{ "conns", required_argument, NULL, OPT_CONNS },
		{ "requests", required_argument, NULL, OPT_REQUESTS },
		{ "latency-conns", required_argument, NULL, OPT_LATENCY_CONNS },
		{ "seconds", required_argument, NULL, OPT_SECONDS },
		{ "chunks", required_argument, NULL, OPT_CHUNKS },
		{ "restore-limit", required_argument, NULL, OPT_RESTORE_LIMIT },
		{ "flood-packets", required_argument, NULL, OPT_FLOOD_PACKETS },
		{ "flood-seconds", required_argument, NULL, OPT_FLOOD_SECONDS },
		{ "changes", required_argument, NULL, OPT_CHANGES },
		{ "flood-rate", required_argument, NULL, OPT_FLOOD_RATE },
		{ "request-size", required_argument, NULL, OPT_REQ_SIZE },
		{ "response-size", required_argument, NULL, OPT_RESP_SIZE },
		{ "wrk", required_argument, NULL, OPT_WRK },
		{ "results-dir", required_argument, NULL, OPT_RESULTS_DIR },
		{ "keep-workdir", no_argument, NULL, OPT_KEEP },
		{ "cleanup", no_argument, NULL, OPT_CLEANUP },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const struct int_opt ints[] = {
		{ OPT_ENDPOINTS, &o->endpoints, 1, TOPO_MAX_PODS },
		{ OPT_ROUNDS, &o->rounds, 1, REPORT_MAX_ROUNDS },
		{ OPT_THREADS, &o->threads, 1, 64 },
		{ OPT_CONCURRENCY, &o->concurrency, 1, 1024 },
		{ OPT_SERVER_THREADS, &o->server_threads, 1, 64 },
		{ OPT_CONNS, &o->conns, 1, 10000000 },
		{ OPT_REQUESTS, &o->requests, 1, 100000000 },
		{ OPT_LATENCY_CONNS, &o->latency_conns, 1, 1000000 },
		{ OPT_CHUNKS, &o->chunks, 1, 100 },
		{ OPT_REQ_SIZE, &o->req_size, 1, LOAD_MAX_MSG },
		{ OPT_RESP_SIZE, &o->resp_size, 1, LOAD_MAX_MSG },
		{ OPT_FLOOD_PACKETS, &o->flood_packets, 0, 100000000 },
		{ OPT_CHANGES, &o->changes, 1, MAX_CHANGES },
		{ OPT_FLOOD_RATE, &o->flood_rate, 1000, 100000000 },
		{ OPT_WRK, &o->wrk, 0, MEASURE_WRK_MAX_SLICES },
	};
	static char bad_buf[128];
	const char *bad = NULL;
	int opt, cleanup = 0;

	*o = (struct opts){ .agent = "build/bin/capstan-agent",
			    .results_dir = "bench/results",
			    .endpoints = 4,
			    .rounds = 3,
			    .threads = 2,
			    .concurrency = 16,
			    .server_threads = 2,
			    .conns = 20000,
			    .requests = 200000,
			    .latency_conns = 2000,
			    .chunks = 10,
			    .req_size = 64,
			    .resp_size = 512,
			    .seconds = 10,
			    .restore_limit = 60,
			    .flood_packets = 1000000,
			    .flood_seconds = 5,
			    .flood_rate = 250000,
			    .changes = 5,
			    .wrk = -1 };
	parse_counts("1,1000,10000", o);
	for (int p = 0; p < PATH__MAX; p++)
		o->want[p] = true;
	while (!bad && (opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(ints) && ints[i].id != opt; i++)
			;
		if (i < ARRAY_SIZE(ints)) {
			*ints[i].dst = parse_long(optarg, ints[i].min, ints[i].max);
			if (*ints[i].dst < 0) {
				snprintf(bad_buf, sizeof(bad_buf), "--%s: %ld..%ld",
					 opt_name(lo, opt), ints[i].min, ints[i].max);
				bad = bad_buf;
			}
			continue;
		}
		switch (opt) {
		case OPT_AGENT:
			o->agent = optarg;
			break;
		case OPT_SERVICES:
			if (parse_counts(optarg, o) < 0)
				bad = "--services: a comma list of counts 1..60000 (at most 8)";
			break;
		case OPT_PATHS:
			if (parse_paths(optarg, o) < 0)
				bad = "--paths: a comma list of direct, direct-cg, socklb, "
				      "iptables, legacy, nftables, nodeport-tc, nodeport-xdp";
			break;
		case OPT_SECONDS:
			if ((o->seconds = parse_seconds(optarg, 120)) < 0)
				bad = "--seconds: more than 0, at most 120";
			break;
		case OPT_FLOOD_SECONDS:
			if ((o->flood_seconds = parse_seconds(optarg, 60)) < 0)
				bad = "--flood-seconds: more than 0, at most 60";
			break;
		case OPT_RESTORE_LIMIT:
			if ((o->restore_limit = parse_seconds(optarg, 3600)) < 0)
				bad = "--restore-limit: more than 0, at most 3600";
			break;
		case OPT_RESULTS_DIR:
			o->results_dir = optarg;
			break;
		case OPT_KEEP:
			o->keep_workdir = true;
			break;
		case OPT_CLEANUP:
			cleanup = 1;
			break;
		case 'h':
			usage(stdout);
			return 2;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (!bad && optind < argc)
		bad = "unexpected arguments";
	for (int c = 0; !bad && c < o->ncounts; c++)
		/* Every service port takes 1 + endpoints entries of the services map. */
		if ((o->want[PATH_SOCKLB] || o->want[PATH_DIRECT_CG]) &&
		    (long)o->counts[c] * (o->endpoints + 1) > CAPSTAN_SVC_MAX)
			bad = "services x (endpoints + 1) must fit the services map "
			      "(CAPSTAN_SVC_MAX entries, abi.h)";
	if (bad) {
		fprintf(stderr, NAME ": %s\n", bad);
		return -EINVAL;
	}
	return cleanup;
}

/* ---------------------------------------------------------------- leftovers */

/* Whether a name "capstan-bench-<pid>-..." or "...-<pid>.XXXX" belongs to a dead run. */
static bool is_stale(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	long pid;

	if (strncmp(name, prefix, n))
		return false;
	pid = strtol(name + n, NULL, 10);
	return pid > 0 && pid != getpid() && kill(pid, 0) < 0 && errno == ESRCH;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* Remove dir and everything below it, never crossing into a mount. */
static void rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/*
 * What a run killed with SIGKILL leaves behind: its processes and mounts
 * died with it, but an empty file per netns name in /run/netns, its empty
 * cgroups and its temp dir remain. Only names of runs whose PID is gone.
 */
static int cleanup_stale(void)
{
	char cgroot[400] = "/nonexistent";
	const char *const dirs[] = { "/run/netns", cgroot, "/tmp" };
	int removed = 0;

	lb_loader_find_cgroup2(cgroot, sizeof(cgroot));
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *de;

		while (d && (de = readdir(d))) {
			char *path = xasprintf("%s/%s", dirs[i], de->d_name);

			if (i == 0 && is_stale(de->d_name, "capstan-bench-")) {
				proc_runl(true, NULL, "ip", "netns", "del", de->d_name, NULL);
				removed++;
			} else if (i == 1 && is_stale(de->d_name, "capstan-bench-")) {
				removed += rmdir(path) == 0;
			} else if (i == 2 && is_stale(de->d_name, NAME "-")) {
				rm_tree(path);
				removed++;
			}
			free(path);
		}
		if (d)
			closedir(d);
	}
	printf(NAME ": removed %d leftovers of killed runs\n", removed);
	return 0;
}

/* ---------------------------------------------------------------- setup */

static void machine_info(struct report *r)
{
	struct utsname u;
	time_t now = time(NULL);
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	strftime(r->date, sizeof(r->date), "%Y-%m-%d", localtime(&now));
	if (uname(&u) == 0)
		snprintf(r->kernel, sizeof(r->kernel), "%s %s %s", u.sysname, u.release, u.machine);
	r->cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(r->cpu, sizeof(r->cpu), "unknown CPU");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && colon) {
			colon[strcspn(colon, "\n")] = '\0';
			snprintf(r->cpu, sizeof(r->cpu), "%s", colon + 2);
			break;
		}
	}
	if (f)
		fclose(f);
}

/* Write a generated file with gen(f, nsvc, nep). 0 or -errno. */
static int write_file(const char *path, int (*gen)(FILE *, int, int), int nsvc, int nep)
{
	FILE *f = fopen(path, "w");
	int err;

	if (!f)
		return -errno;
	err = gen(f, nsvc, nep);
	if (fclose(f) != 0 && !err)
		err = -EIO;
	return err;
}

static int start_servers(struct bench *b)
{
	int pfd[2], got = 0, err = 0;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	for (int i = 0; i < b->topo.npods && !err; i++) {
		struct proc_opts o = { .netns = b->topo.pod[i] };
		pid_t pid = proc_fork(&o);

		if (pid < 0) {
			err = pid;
			break;
		}
		if (pid == 0) {
			/* Ended by the benchmark's SIGTERM, not by a Ctrl-C handler of ours. */
			signal(SIGINT, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			signal(SIGHUP, SIG_DFL);
			close(pfd[0]);
			err = load_server(TOPO_POD_PORT, b->o.server_threads, b->o.req_size,
					  b->o.resp_size, pfd[1]);
			fprintf(stderr, NAME ": server in %s: %s\n", b->topo.pod[i],
				strerror(-err));
			_exit(1);
		}
		b->servers[i] = pid;
	}
	close(pfd[1]);
	while (!err && got < b->topo.npods) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		char c;

		if (poll(&p, 1, 10000) <= 0 || read(pfd[0], &c, 1) != 1)
			err = proc_interrupted ? -EINTR : -ETIMEDOUT;
		else
			got++;
	}
	close(pfd[0]);
	return err;
}

/* ---------------------------------------------------------------- measuring */

/* Keep a path's figures for the report; say what went wrong; show progress. */
static void record(struct bench *b, enum bench_path p, int c, int round, const struct measure *m)
{
	b->rep.m[p][c][round] = *m;
	if (m->errors)
		report_note(&b->rep,
			    "round %d, %d services, %s: %ld of %ld operations failed "
			    "(first: %s)%s",
			    round + 1, b->o.counts[c], report_path_title[p], m->errors,
			    m->errors + m->done, strerror(m->first_errno),
			    m->ok ? "" : "; figures dropped");
	fprintf(stderr, "  %-50s %7.0f conn/s %7.0f req/s  p50 %5.0f us  p99 %5.0f us%s\n",
		report_path_title[p], m->cps, m->rps, m->p50_us, m->p99_us,
		m->ok ? "" : "  (failed)");
}

/*
 * The agent's resident memory once it stops changing (after a re-read it
 * frees the previous parse while the change is being applied): read every
 * 100 ms until a second of readings agree within 1 MiB, at most 5 s. KiB,
 * 0 when unreadable.
 */
static long settled_rss_kib(pid_t pid)
{
	long last = proc_rss_kib(pid), now;
	int same = 0;

	for (int i = 0; i < 50 && last > 0 && same < 10 && !proc_interrupted; i++) {
		usleep(100 * 1000);
		now = proc_rss_kib(pid);
		if (now < 0)
			break;
		same = labs(now - last) < 1024 ? same + 1 : 0;
		last = now;
	}
	return MAX(0, last);
}

/* wrk's figures for the group's paths (measure_wrk_group), kept for the report. */
static int cross_check(struct bench *b, const enum bench_path *paths, int n, int c, int round)
{
	struct wrk_measure out[PATH__MAX];
	int err = measure_wrk_group(&b->mcfg, paths, n, out);

	if (err == -EINTR)
		return err;
	for (int i = 0; i < n; i++) {
		enum bench_path p = paths[i];
		struct wrk_measure *w = &b->rep.wrk[p][c][round];

		if (!measure_wrk_path(p))
			continue;
		*w = out[i];
		if (err < 0)
			snprintf(w->why, sizeof(w->why), "wrk could not be run: %s",
				 strerror(-err));
		if (w->ok)
			fprintf(stderr, "  %-50s %7.0f conn/s %7.0f req/s  (wrk)\n",
				report_path_title[p], w->cps, w->rps);
		else
			report_note(&b->rep, "round %d, %d services, %s: no wrk figures: %s",
				    round + 1, b->o.counts[c], report_path_title[p], w->why);
	}
	return 0;
}

/* Measure paths in turns (measure.h) and record them for count c, round. */
static int run_group(struct bench *b, const enum bench_path *paths, int n, int c, int round)
{
	struct measure out[PATH__MAX];
	int err;

	err = measure_group(&b->mcfg, paths, n, out);
	for (int i = 0; !err && i < n; i++)
		record(b, paths[i], c, round, &out[i]);
	if (!err && b->mcfg.wrk_slices > 0)
		err = cross_check(b, paths, n, c, round);
	return err;
}

/* ---------------------------------------------------------------- the paths */

/*
 * Endpoint changes with N services programmed: change k (0-based) takes
 * the measured service's last endpoint away when k is even and puts it back
 * when k is odd. A round's figure is the median of its --changes changes.
 */
static bool change_back(int k)
{
	return k % 2 == 1;
}

/* Keep a round's change times: their median, and the first one when first >= 0. */
static void keep_changes(struct bench *b, int prog, int first, int c, int round, double *v, int n)
{
	if (!n)
		return;
	if (first >= 0)
		b->rep.prog_s[first][c][round] = v[0];
	b->rep.prog_s[prog][c][round] = sort_median(v, (size_t)n);
}

/*
 * capstan-agent: each change is a rewritten --static file put in place of
 * the agent's, which re-reads it (SIGHUP) and writes only the difference.
 * The original file is back in place for the next round.
 */
static int agent_changes(struct bench *b, int c, int round)
{
	double sync[MAX_CHANGES], e2e[MAX_CHANGES];
	int n = 0, err = 0, nep = (int)b->o.endpoints;
	char why[256];

	for (int k = 0; k < b->o.changes; k++) {
		bool back = change_back(k);

		err = write_file(b->static_change_path[c],
				 back ? agent_write_static : agent_write_static_change,
				 b->o.counts[c], nep);
		if (!err && rename(b->static_change_path[c], b->static_path[c]) < 0)
			err = -errno;
		if (!err)
			err = agent_apply_change(&b->agent, back ? nep : nep - 1, 60, &e2e[n],
						 &sync[n], why, sizeof(why));
		if (err == -EINTR)
			return err;
		if (err < 0) {
			report_note(&b->rep,
				    "%d services: capstan-agent did not apply change %d: %s",
				    b->o.counts[c], k + 1,
				    err == -EIO || err == -ETIMEDOUT ? why : strerror(-err));
			break;
		}
		fprintf(stderr,
			"  capstan-agent: one endpoint %s, applied by a %.3f ms sync (%.1f ms from "
			"SIGHUP)\n",
			back ? "back" : "removed", sync[n] * 1e3, e2e[n] * 1e3);
		n++;
	}
	keep_changes(b, PROG_AGENT_CHANGE_SYNC, PROG_AGENT_CHANGE_FIRST, c, round, sync, n);
	keep_changes(b, PROG_AGENT_CHANGE_E2E, -1, c, round, e2e, n);
	return write_file(b->static_path[c], agent_write_static, b->o.counts[c], nep);
}

/*
 * kube-proxy's side: each change is its partial sync (iptables-restore
 * --noflush with tool) or its nft transaction (tool "nft") on the loaded
 * rules, alternately removing and putting back the endpoint.
 */
static int rule_changes(struct bench *b, const char *tool, const char *log, int prog, int c,
			int round)
{
	bool nft = strcmp(tool, "nft") == 0;
	double secs[MAX_CHANGES];
	int n = 0, err = 0;

	for (int k = 0; k < b->o.changes; k++) {
		bool back = change_back(k);
		const char *file = nft ? (back ? b->nft_back_path[c] : b->nft_change_path[c])
				       : (back ? b->rules_back_path[c] : b->rules_change_path[c]);

		err = nft ? knft_load(b->topo.node, file, log, b->o.restore_limit, &secs[n])
			  : kproxy_restore(tool, b->topo.node, file, log, true, b->o.restore_limit,
					   &secs[n]);
		if (err == -EINTR || proc_interrupted)
			return -EINTR;
		if (err < 0) {
			report_note(&b->rep, "%d services: %s did not apply change %d (%s)",
				    b->o.counts[c], tool, k + 1, strerror(-err));
			break;
		}
		fprintf(stderr, "  %s: one endpoint %s in %.3f s\n", tool,
			back ? "back" : "removed", secs[n]);
		n++;
	}
	keep_changes(b, prog, -1, c, round, secs, n);
	return 0;
}

/* Agent up for this count and round: socket-LB paths and direct, then agent down. */
static int run_agent_group(struct bench *b, int c, int round)
{
	bool want = b->o.want[PATH_SOCKLB] || b->o.want[PATH_DIRECT_CG];
	bool ready = false;
	enum bench_path paths[3];
	char tag[32], why[512], tail[256];
	double hz, maps;
	int err, n = 0;

	snprintf(tag, sizeof(tag), "r%d-n%d", round + 1, b->o.counts[c]);
	if (want && !b->agent_failed[c]) {
		b->agent_live = true;
		err = agent_start(&b->agent, b->o.agent, b->static_path[c], b->topo.agent,
				  b->workdir, tag,
				  (const char *const[]){ "--nodeport=false", "--node-name",
							 TOPO_NODE_NAME, NULL },
				  why, sizeof(why));
		if (!err)
			err = agent_wait_programmed(&b->agent, b->o.counts[c], b->o.endpoints,
						    AGENT_READY_TIMEOUT_S, &hz, &maps, why,
						    sizeof(why));
		if (err == -EINTR)
			return err;
		if (err < 0) {
			proc_file_tail(b->agent.log, tail, sizeof(tail));
			b->agent_failed[c] = true;
			snprintf(b->rep.skipped[PATH_SOCKLB], sizeof(b->rep.skipped[0]), "%s%s%s",
				 why, tail[0] ? "; its log ends: " : "", tail);
			report_note(&b->rep, "%d services: %s", b->o.counts[c],
				    b->rep.skipped[PATH_SOCKLB]);
			fprintf(stderr, "  capstan-agent: %s\n", b->rep.skipped[PATH_SOCKLB]);
			agent_stop(&b->agent);
			b->agent_live = false;
		} else {
			ready = true;
			b->rep.prog_s[PROG_AGENT_HEALTHZ][c][round] = hz;
			b->rep.prog_s[PROG_AGENT_MAPS][c][round] = maps;
			b->rep.agent_rss_kib[0][c][round] = settled_rss_kib(b->agent.pid);
			fprintf(stderr,
				"  capstan-agent: /healthz 200 after %.3f s, %d services "
				"in the map after %.3f s\n",
				hz, b->o.counts[c], maps);
		}
	}
	paths[n++] = PATH_DIRECT;
	if (ready && b->o.want[PATH_DIRECT_CG])
		paths[n++] = PATH_DIRECT_CG;
	if (ready && b->o.want[PATH_SOCKLB])
		paths[n++] = PATH_SOCKLB;
	err = run_group(b, paths, n, c, round);
	if (!err && ready && b->o.endpoints > 1) {
		err = agent_changes(b, c, round);
		if (!err)
			b->rep.agent_rss_kib[1][c][round] = settled_rss_kib(b->agent.pid);
	}
	if (b->agent_live) {
		agent_stop(&b->agent);
		b->agent_live = false;
	}
	return err;
}

/* Forwarding packets per second per core through path p (flood.h), kept for the report. */
static int flood(struct bench *b, enum bench_path p, const char *daddr, int dport, int c, int round)
{
	struct flood_result fr;
	char why[256];
	int err;

	if (!b->o.flood_packets)
		return 0;
	err = flood_run(&b->topo, daddr, dport, b->o.flood_packets, b->o.flood_seconds,
			b->o.flood_rate, &fr, why, sizeof(why));
	if (err == -EINTR)
		return err;
	if (err < 0) {
		report_note(&b->rep, "round %d, %d services, %s: forwarding not measured: %s",
			    round + 1, b->o.counts[c], report_path_title[p], why);
		return 0;
	}
	b->rep.flood[p][c][round].pps = fr.pps;
	b->rep.flood[p][c][round].pps_node_core = fr.pps_node_core;
	b->rep.flood[p][c][round].sent = fr.sent;
	b->rep.flood[p][c][round].delivered = fr.delivered;
	fprintf(stderr,
		"  %-50s forwarding: %ld of %ld frames delivered, %.0f pps, %.0f per node core\n",
		report_path_title[p], fr.delivered, fr.sent, fr.pps, fr.pps_node_core);
	return 0;
}

/*
 * Load kube-proxy's rules into a fresh node with tool, measure, throw the
 * node away. kube-proxy's own call (--noflush) is timed under a limit: with
 * iptables-nft it grows much faster than the rule count. When it hits the
 * limit, the same rules go into empty tables (the same result on a fresh
 * node), so the packet path is still measured, and later rounds skip the
 * attempt.
 */
static int run_iptables(struct bench *b, enum bench_path p, const char *tool, int prog,
			int prog_empty, int prog_change, int c, int round)
{
	char log[300];
	bool loaded = false;
	double secs;
	int err = 0, reset;

	if (!b->o.want[p] || b->rep.skipped[p][0])
		return 0;
	snprintf(log, sizeof(log), "%s/%s.log", b->workdir, tool);
	if (!b->rep.prog_limit_s[prog][c]) {
		err = kproxy_restore(tool, b->topo.node, b->rules_path[c], log, true,
				     b->o.restore_limit, &secs);
		if (!err) {
			loaded = true;
			b->rep.prog_s[prog][c][round] = secs;
			fprintf(stderr, "  %s --noflush: %d services in %.3f s\n", tool,
				b->o.counts[c], secs);
		} else if (err == -ETIMEDOUT) {
			b->rep.prog_limit_s[prog][c] = b->o.restore_limit;
			report_note(
				&b->rep,
				"%d services: %s --noflush --counters (kube-proxy's full sync) "
				"did not finish within %.0f s (--restore-limit); the same rules "
				"were loaded into empty tables instead",
				b->o.counts[c], tool, b->o.restore_limit);
			fprintf(stderr, "  %s --noflush: stopped after %.0f s\n", tool,
				b->o.restore_limit);
			err = topo_reset_node(&b->topo);
		}
	}
	if (!err && !loaded) {
		err = kproxy_restore(tool, b->topo.node, b->rules_path[c], log, false, 600, &secs);
		if (!err) {
			loaded = true;
			b->rep.prog_s[prog_empty][c][round] = secs;
			fprintf(stderr, "  %s into empty tables: %d services in %.3f s\n", tool,
				b->o.counts[c], secs);
		}
	}
	/* A Ctrl-C reaches iptables-restore too: its death is ours to report, not a failure. */
	if (err == -EINTR || proc_interrupted)
		return -EINTR;
	if (loaded) {
		err = run_group(b, &p, 1, c, round);
		if (!err)
			err = flood(b, p, TOPO_PPS_SVC_ADDR, TOPO_SVC_PORT, c, round);
		/* kube-proxy's partial syncs for endpoint changes, on the loaded rules. */
		if (!err && b->o.endpoints > 1)
			err = rule_changes(b, tool, log, prog_change, c, round);
	} else if (err < 0) {
		char tail[256];

		proc_file_tail(log, tail, sizeof(tail));
		snprintf(b->rep.skipped[p], sizeof(b->rep.skipped[p]),
			 "%s failed on %d services (%s)%s%s", tool, b->o.counts[c], strerror(-err),
			 tail[0] ? "; its output ends: " : "", tail);
		fprintf(stderr, "  %s\n", b->rep.skipped[p]);
		err = 0;
	}
	if (err == -EINTR)
		return err;
	/* Tables and conntrack live as long as the namespace: start the next path clean. */
	reset = topo_reset_node(&b->topo);
	return err < 0 ? err : reset;
}

/*
 * kube-proxy's nftables mode: its rules into a fresh node with nft -f (its
 * first sync), measure, apply one endpoint change (its next transaction),
 * throw the node away.
 */
static int run_nftables(struct bench *b, int c, int round)
{
	static const enum bench_path nft = PATH_NFT;
	char log[300];
	double secs;
	int err, reset;

	if (!b->o.want[PATH_NFT] || b->rep.skipped[PATH_NFT][0] || b->rep.prog_limit_s[PROG_NFT][c])
		return 0;
	snprintf(log, sizeof(log), "%s/nft.log", b->workdir);
	err = knft_load(b->topo.node, b->nft_path[c], log, b->o.restore_limit, &secs);
	if (err == -EINTR || proc_interrupted)
		return -EINTR;
	if (err == -ETIMEDOUT) {
		/* Too slow at this count: the path is not measured here, nor in later rounds. */
		b->rep.prog_limit_s[PROG_NFT][c] = b->o.restore_limit;
		report_note(&b->rep,
			    "%d services: nft -f (kube-proxy nftables mode's first sync) did not "
			    "finish within %.0f s (--restore-limit); the path is not measured at "
			    "this count",
			    b->o.counts[c], b->o.restore_limit);
		fprintf(stderr, "  nft -f: stopped after %.0f s\n", b->o.restore_limit);
		return topo_reset_node(&b->topo);
	}
	if (err < 0) {
		char tail[256];

		proc_file_tail(log, tail, sizeof(tail));
		snprintf(b->rep.skipped[PATH_NFT], sizeof(b->rep.skipped[0]),
			 "nft -f failed on %d services (%s)%s%s", b->o.counts[c], strerror(-err),
			 tail[0] ? "; its output ends: " : "", tail);
		fprintf(stderr, "  %s\n", b->rep.skipped[PATH_NFT]);
		return topo_reset_node(&b->topo);
	}
	b->rep.prog_s[PROG_NFT][c][round] = secs;
	fprintf(stderr, "  nft -f: %d services in %.3f s\n", b->o.counts[c], secs);
	err = run_group(b, &nft, 1, c, round);
	if (!err)
		err = flood(b, PATH_NFT, TOPO_PPS_SVC_ADDR, TOPO_SVC_PORT, c, round);
	if (!err && b->o.endpoints > 1)
		err = rule_changes(b, "nft", log, PROG_NFT_CHANGE, c, round);
	if (err == -EINTR)
		return err;
	reset = topo_reset_node(&b->topo);
	return err < 0 ? err : reset;
}

/* ethtool -K eth0 tx on|off in the client: XDP's checksum arithmetic needs complete sums. */
static int client_tx_offload(struct bench *b, bool on)
{
	/* Quiet: ethtool lists the features it could not change along with the ones it did. */
	int rc = proc_runl(true, b->topo.client, "ethtool", "-K", "eth0", "tx", on ? "on" : "off",
			   NULL);

	return rc == 0 ? 0 : rc < 0 ? rc : -EIO;
}

/*
 * A NodePort path: the agent runs in the node's namespace with its tc
 * programs (and, for XDP, its native XDP program) on the client's link and
 * the node's address; the measured service's NodePort is reached on it.
 * Direct is measured again in the same group, through the same programs
 * (which pass it untouched) and with the same offloads: the NodePort
 * path's ratio is taken against that. The node is thrown away after: the
 * programs stay on its link when the agent stops, by design.
 */
static int run_nodeport_group(struct bench *b, enum bench_path np, int c, int round)
{
	bool xdp = np == PATH_NP_XDP;
	enum bench_path paths[2] = { xdp ? PATH_DIRECT_XDP : PATH_DIRECT_TC, np };
	const char *extra[] = { "--node-name", TOPO_NODE_NAME,
				"--node-ip",   TOPO_NODE_ADDR,
				"--devices",   TOPO_NODE_CLIENT_IF,
				"--xdp",       xdp ? "native" : "off",
				NULL };
	char tag[48], why[512], tail[256];
	double hz, maps;
	int err, reset;

	if (!b->o.want[np] || b->rep.skipped[np][0] || b->agent_failed[c])
		return 0;
	snprintf(tag, sizeof(tag), "r%d-n%d-%s", round + 1, b->o.counts[c], xdp ? "xdp" : "tc");
	err = xdp ? client_tx_offload(b, false) : 0;
	b->agent_live = true;
	if (!err)
		err = agent_start(&b->agent, b->o.agent, b->static_path[c], b->topo.node,
				  b->workdir, tag, extra, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "ethtool -K eth0 tx off in the client failed");
	b->agent.want_nodeport = true;
	if (!err)
		err = agent_wait_programmed(&b->agent, b->o.counts[c], b->o.endpoints,
					    AGENT_READY_TIMEOUT_S, &hz, &maps, why, sizeof(why));
	if (err == -EINTR)
		return err;
	if (err < 0) {
		proc_file_tail(b->agent.log, tail, sizeof(tail));
		snprintf(b->rep.skipped[np], sizeof(b->rep.skipped[0]), "%s%s%s", why,
			 tail[0] ? "; the agent's log ends: " : "", tail);
		report_note(&b->rep, "%d services, %s: %s", b->o.counts[c], report_path_title[np],
			    b->rep.skipped[np]);
		fprintf(stderr, "  capstan-agent (%s): %s\n", path_key[np], b->rep.skipped[np]);
		err = 0;
	} else {
		fprintf(stderr, "  capstan-agent on the node (%s): ready after %.3f s\n",
			path_key[np], maps);
		err = run_group(b, paths, 2, c, round);
		if (!err)
			err = flood(b, np, TOPO_NODE_ADDR, TOPO_PPS_NODEPORT, c, round);
	}
	agent_stop(&b->agent);
	b->agent_live = false;
	if (xdp)
		client_tx_offload(b, true);
	if (err == -EINTR)
		return err;
	reset = topo_reset_node(&b->topo);
	return err < 0 ? err : reset;
}

/* One direct measurement whose figures are thrown away: caches, ARP, page faults. */
static int warm_up(struct bench *b)
{
	static const enum bench_path direct = PATH_DIRECT;
	struct measure scratch;

	fprintf(stderr, NAME ": warm-up\n");
	return measure_group(&b->mcfg, &direct, 1, &scratch);
}

static int run(struct bench *b)
{
	struct report *r = &b->rep;
	int err = 0;

	for (int round = 0; round < b->o.rounds && !err; round++)
		for (int c = 0; c < b->o.ncounts && !err; c++) {
			fprintf(stderr, NAME ": round %d/%ld, %d services\n", round + 1,
				b->o.rounds, b->o.counts[c]);
			err = run_agent_group(b, c, round);
			if (!err)
				err = run_iptables(b, PATH_IPT_NFT, "iptables-nft-restore",
						   PROG_IPT_NFT, PROG_IPT_NFT_EMPTY,
						   PROG_IPT_NFT_CHANGE, c, round);
			if (!err)
				err = run_iptables(b, PATH_IPT_LEGACY, "iptables-legacy-restore",
						   PROG_IPT_LEGACY, PROG_IPT_LEGACY_EMPTY,
						   PROG_IPT_LEGACY_CHANGE, c, round);
			if (!err)
				err = run_nftables(b, c, round);
			if (!err)
				err = run_nodeport_group(b, PATH_NP_TC, c, round);
			if (!err)
				err = run_nodeport_group(b, PATH_NP_XDP, c, round);
			if (!err && proc_interrupted)
				err = -EINTR;
		}
	r->interrupted = err == -EINTR;
	return err;
}

/* Decide which paths can run on this machine; say why the others cannot. */
static void check_paths(struct bench *b)
{
	static const struct {
		enum bench_path path;
		const char *tool;
	} tools[] = {
		{ PATH_IPT_NFT, "iptables-nft-restore" },
		{ PATH_IPT_LEGACY, "iptables-legacy-restore" },
	};
	bool have_wrk;

	if ((b->o.want[PATH_SOCKLB] || b->o.want[PATH_DIRECT_CG]) &&
	    access(b->o.agent, X_OK) != 0) {
		snprintf(b->rep.skipped[PATH_SOCKLB], sizeof(b->rep.skipped[0]),
			 "no capstan-agent at %s (--agent)", b->o.agent);
		for (int c = 0; c < b->o.ncounts; c++)
			b->agent_failed[c] = true;
	}
	for (size_t i = 0; i < ARRAY_SIZE(tools); i++)
		if (b->o.want[tools[i].path] && !kproxy_tool_present(tools[i].tool))
			snprintf(b->rep.skipped[tools[i].path], sizeof(b->rep.skipped[0]),
				 "%s is not installed (Debian package iptables)", tools[i].tool);
	if (b->o.want[PATH_NFT] && !kproxy_tool_present("nft"))
		snprintf(b->rep.skipped[PATH_NFT], sizeof(b->rep.skipped[0]),
			 "nft is not installed (Debian package nftables)");
	have_wrk = kproxy_tool_present("wrk");
	if (!have_wrk)
		b->o.wrk = 0;
	else if (b->o.wrk < 0)
		b->o.wrk = 3;
	if (!b->o.wrk)
		report_note(&b->rep, "no cross-check with wrk: %s",
			    have_wrk ? "--wrk 0" : "wrk is not installed (Debian package wrk)");
	if (b->o.want[PATH_NP_XDP] && !kproxy_tool_present("ethtool"))
		snprintf(b->rep.skipped[PATH_NP_XDP], sizeof(b->rep.skipped[0]),
			 "ethtool is not installed (Debian package ethtool; make deps)");
}

static int prepare(struct bench *b)
{
	char prefix[48];
	int err = 0;

	snprintf(b->workdir, sizeof(b->workdir), "/tmp/" NAME "-%d.XXXXXX", (int)getpid());
	if (!mkdtemp(b->workdir)) {
		err = -errno;
		b->workdir[0] = '\0';
		fprintf(stderr, NAME ": mkdtemp: %s\n", strerror(-err));
		return err;
	}
	{
		/*
		 * Per service count: a file NAME-<count>WHAT.EXT in the work dir,
		 * written by gen now (gen NULL: written per change later);
		 * changes need two endpoints.
		 */
		const struct {
			char (*path)[300];
			const char *name, *what, *ext;
			int (*gen)(FILE *, int, int);
			bool change;
		} inputs[] = {
			{ b->static_path, "static", "", "json", agent_write_static, false },
			{ b->static_change_path, "static", "-change", "json", NULL, true },
			{ b->rules_path, "rules", "", "txt", kproxy_write_rules, false },
			{ b->rules_change_path, "rules", "-change", "txt", kproxy_write_change,
			  true },
			{ b->rules_back_path, "rules", "-back", "txt", kproxy_write_back, true },
			{ b->nft_path, "nft", "", "nft", knft_write_rules, false },
			{ b->nft_change_path, "nft", "-change", "nft", knft_write_change, true },
			{ b->nft_back_path, "nft", "-back", "nft", knft_write_back, true },
		};

		for (int c = 0; c < b->o.ncounts && !err; c++)
			for (size_t i = 0; i < ARRAY_SIZE(inputs) && !err; i++) {
				char *path = inputs[i].path[c];

				snprintf(path, sizeof(*inputs[i].path), "%s/%s-%d%s.%s", b->workdir,
					 inputs[i].name, b->o.counts[c], inputs[i].what,
					 inputs[i].ext);
				if (inputs[i].gen && (!inputs[i].change || b->o.endpoints > 1))
					err = write_file(path, inputs[i].gen, b->o.counts[c],
							 b->o.endpoints);
			}
	}
	if (err < 0) {
		fprintf(stderr, NAME ": writing the inputs: %s\n", strerror(-err));
		return err;
	}
	snprintf(prefix, sizeof(prefix), "capstan-bench-%d", (int)getpid());
	err = topo_create(&b->topo, prefix, b->o.endpoints);
	if (err < 0) {
		fprintf(stderr, NAME ": making the namespaces: %s\n", strerror(-err));
		return err;
	}
	err = start_servers(b);
	if (err < 0)
		fprintf(stderr, NAME ": starting the servers: %s\n", strerror(-err));
	return err;
}

static void teardown(struct bench *b)
{
	if (b->agent_live)
		agent_stop(&b->agent);
	for (int i = 0; i < TOPO_MAX_PODS; i++)
		proc_stop(b->servers[i], 2);
	topo_destroy(&b->topo);
	if (b->workdir[0] && !b->o.keep_workdir)
		rm_tree(b->workdir);
	else if (b->workdir[0])
		fprintf(stderr, NAME ": kept %s\n", b->workdir);
}

static int write_results(const struct bench *b)
{
	char *path;
	FILE *f;
	int err = 0;

	if (!strcmp(b->o.results_dir, "-"))
		return 0;
	mkdir(b->o.results_dir, 0755);
	path = xasprintf("%s/datapath-%s.md", b->o.results_dir, b->rep.date);
	f = fopen(path, "w");
	if (!f) {
		err = -errno;
		fprintf(stderr, NAME ": %s: %s\n", path, strerror(errno));
	} else {
		report_print(f, &b->rep);
		if (fclose(f) != 0)
			err = -EIO;
		else
			fprintf(stderr, NAME ": results written to %s\n", path);
	}
	free(path);
	if (!err) {
		char stem[48], why[512];
		int rc;

		snprintf(stem, sizeof(stem), "datapath-%s", b->rep.date);
		rc = plot_write(&b->rep, b->o.results_dir, stem, why, sizeof(why));
		if (rc == 0)
			fprintf(stderr, NAME ": plots written to %s/%s-*.png\n", b->o.results_dir,
				stem);
		else
			fprintf(stderr, NAME ": plots: %s\n", why);
	}
	return err;
}

/* A mount namespace of our own: bpffs and netns mounts go when the run goes. */
static int private_mounts(void)
{
	if (unshare(CLONE_NEWNS) < 0)
		return -errno;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	struct bench *b = xcalloc(1, sizeof(*b));
	const char *path = getenv("PATH");
	char *full_path;
	int rc = 1, err;

	err = parse_opts(argc, argv, &b->o);
	if (err < 0 || err == 2) {
		free(b);
		return err < 0 ? 2 : 0;
	}
	if (geteuid() != 0) {
		fprintf(stderr, NAME ": needs root (namespaces, cgroups, bpffs, iptables)\n");
		free(b);
		return 1;
	}
	/* ip and iptables live in sbin, which a user's PATH may lack. */
	full_path = xasprintf("%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
	setenv("PATH", full_path, 1);
	free(full_path);
	proc_install_signals();
	if (err == 1) {
		free(b);
		return cleanup_stale();
	}
	err = private_mounts();
	if (err < 0) {
		fprintf(stderr, NAME ": private mount namespace: %s\n", strerror(-err));
		free(b);
		return 1;
	}
	report_init(&b->rep);
	machine_info(&b->rep);
	b->rep.rounds = b->o.rounds;
	b->rep.ncounts = b->o.ncounts;
	memcpy(b->rep.counts, b->o.counts, sizeof(b->o.counts));
	b->rep.pods = b->o.endpoints;
	b->rep.threads = b->o.threads;
	b->rep.concurrency = b->o.concurrency;
	b->rep.conns = b->o.conns;
	b->rep.requests = b->o.requests;
	b->rep.latency_conns = b->o.latency_conns;
	b->rep.seconds = b->o.seconds;
	b->rep.chunks = b->o.chunks;
	b->rep.req_size = b->o.req_size;
	b->rep.flood_packets = b->o.flood_packets;
	b->rep.flood_seconds = b->o.flood_seconds;
	b->rep.flood_rate = b->o.flood_rate;
	b->rep.resp_size = b->o.resp_size;
	check_paths(b);
	b->rep.wrk_slices = (int)b->o.wrk;
	/* Others may share the machine: settle for a bit less idle than it has now. */
	b->mcfg = (struct measure_cfg){ .topo = &b->topo,
					.cgroup = b->agent.cgroup,
					.threads = b->o.threads,
					.concurrency = b->o.concurrency,
					.chunks = b->o.chunks,
					.conns = b->o.conns,
					.requests = b->o.requests,
					.latency_conns = b->o.latency_conns,
					.seconds = b->o.seconds,
					.req_size = b->o.req_size,
					.resp_size = b->o.resp_size,
					.wrk_slices = (int)b->o.wrk };
	b->rep.wrk_conns = measure_wrk_conns(&b->mcfg);
	b->mcfg.idle_target = MAX(0.3, proc_cpu_idle(1.0) - 0.1);
	fprintf(stderr, NAME ": the CPUs are %.0f%% idle; each group of paths waits for %.0f%%\n",
		100 * (b->mcfg.idle_target + 0.1), 100 * b->mcfg.idle_target);
	err = prepare(b);
	if (!err)
		err = warm_up(b);
	if (!err)
		err = run(b);
	if (!err || err == -EINTR) {
		report_print(stdout, &b->rep);
		fflush(stdout);
	}
	if (!err) {
		rc = write_results(b) < 0;
	} else if (err == -EINTR) {
		fprintf(stderr, NAME ": interrupted; cleaning up\n");
		rc = 130;
	} else {
		fprintf(stderr, NAME ": stopped: %s\n", strerror(-err));
	}
	teardown(b);
	free(b);
	return rc;
}
