/*
 * bench_scheduler - how fast capstan-scheduler places pods, next to kube-scheduler's own
 * performance threshold for the same shape of work.
 *
 * For each shape (nodes x pods) the benchmark starts a fresh capstan-apiserver (the real
 * binary, with --unsafe-no-fsync: the figure is the scheduler's, not the disk's), creates
 * the Node objects (with allocatable, as scheduler_perf's node-default template: 4 CPU,
 * 32Gi, 110 pods) and then every pending pod (scheduler_perf's pod-default: one container
 * requesting 100m and 500Mi), all before the scheduler runs. It opens a watch on pods, starts
 * capstan-scheduler, and measures from the scheduler's start to the last binding seen
 * through the watch:
 *
 *   pods/s        pods / (last binding - scheduler start): the headline, which includes the
 *                 scheduler listing every object before it can start;
 *   steady pods/s between the 10% and the 100% binding, the throughput once running;
 *   max per node  the most pods any node got, checked against what fits (no overcommit);
 *   CPU           the scheduler process's user+system time (from wait4).
 *
 * Upstream's reference is scheduler_perf's SchedulingBasic/5000Nodes_10000Pods, whose CI
 * threshold is 680 pods/s (measured while pods are being created, on CI machines); the
 * 5000x10000 shape here is the closest comparison. Everything is bounded (--timeout per
 * shape) and stays on 127.0.0.1; the data directories are removed.
 *
 * usage: bench_scheduler [--apiserver PATH] [--scheduler PATH] [--shapes 1000x10000,...]
 *                        [--timeout S] [--parallelism N] [--bind-workers N] [--dir DIR]
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "httpc.h"
#include "jsonx.h"
#include "util.h"

#define CREATORS 8
#define MAX_THREADS 256
#define MAX_SHAPES 8
/* scheduler_perf's node-default / pod-default: 4 CPU / 100m, 32Gi / 500Mi, 110 pods. */
#define PODS_PER_NODE_LIMIT 40
#define UPSTREAM_THRESHOLD 680

struct opts {
	const char *apiserver, *scheduler, *dir;
	int shapes[MAX_SHAPES][2];
	int nshapes;
	int timeout_s;
	const char *parallelism, *bind_workers;
};

struct result {
	int nodes, pods, bound;
	double create_s; /* creating nodes and pods, for the record */
	double first_s;	 /* scheduler start to first binding */
	double total_s;	 /* scheduler start to last binding */
	double tenth_s;	 /* scheduler start to the binding of 10% of the pods */
	double steady_rate;
	int max_per_node;
	double cpu_s;
	int retries;	   /* setup requests the API server refused and that were sent again */
	int bind_failures; /* "binding ... failed" lines in the scheduler's log */
};

static double now_s(void)
{
	return (double)now_mono_ns() / 1e9;
}

/* ---------------------------------------------------------------- processes */

/* Start prog with args, stderr to log. The pid, or -errno. */
static pid_t spawn(const char *log, char *const argv[])
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (!freopen(log, "w", stderr))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Wait for "listening on http://127.0.0.1:PORT" in log. The port, or 0. */
static int wait_port(const char *log)
{
	static const char needle[] = "listening on http://127.0.0.1:";
	char line[512];
	int port = 0;

	for (int i = 0; i < 400 && !port; i++) {
		FILE *f = fopen(log, "r");

		usleep(25 * 1000);
		while (f && fgets(line, sizeof(line), f))
			if (strstr(line, needle))
				port = atoi(strstr(line, needle) + strlen(needle));
		if (f)
			fclose(f);
	}
	return port;
}

static double stop(pid_t pid)
{
	struct rusage ru = { 0 };
	int status;

	if (pid <= 0)
		return 0;
	kill(pid, SIGTERM);
	if (wait4(pid, &status, 0, &ru) < 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Lines of path containing needle. */
static int count_lines(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int n = 0;

	while (f && fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	if (f)
		fclose(f);
	return n;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* ---------------------------------------------------------------- creating objects */

static long node_req(int i, int step, const char **method, char *path, size_t plen, char *body,
		     size_t blen)
{
	if (step == 0) {
		*method = "POST";
		snprintf(path, plen, "/api/v1/nodes");
		snprintf(body, blen,
			 "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":"
			 "\"node-%d\",\"labels\":{\"kubernetes.io/hostname\":\"node-%d\","
			 "\"topology.kubernetes.io/zone\":\"zone-%d\"}}}",
			 i, i, i % 3);
		return 201;
	}
	*method = "PATCH";
	snprintf(path, plen, "/api/v1/nodes/node-%d/status", i);
	snprintf(body, blen,
		 "{\"status\":{\"capacity\":{\"pods\":\"110\",\"cpu\":\"4\",\"memory\":\"32Gi\"},"
		 "\"allocatable\":{\"pods\":\"110\",\"cpu\":\"4\",\"memory\":\"32Gi\"},"
		 "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],\"phase\":\"Running\"}"
		 "}");
	return 200;
}

static long pod_req(int i, int step, const char **method, char *path, size_t plen, char *body,
		    size_t blen)
{
	*method = "POST";
	snprintf(path, plen, "/api/v1/namespaces/default/pods");
	snprintf(body, blen,
		 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"pod-%d\"},"
		 "\"spec\":{\"containers\":[{\"name\":\"pause\",\"image\":"
		 "\"registry.k8s.io/pause:3.10\",\"ports\":[{\"containerPort\":80}],"
		 "\"resources\":{\"limits\":{\"cpu\":\"100m\",\"memory\":\"500Mi\"},"
		 "\"requests\":{\"cpu\":\"100m\",\"memory\":\"500Mi\"}}}]}}",
		 i);
	return 201;
}

/*
 * The baseline: a scheduler that thinks for no time. Pod i goes to node i % nodes with the
 * same two writes capstan-scheduler makes per pod (the binding and a Scheduled event),
 * from as many connections as it has binders.
 */
static int bind_nodes = 1;

static long bind_req(int i, int step, const char **method, char *path, size_t plen, char *body,
		     size_t blen)
{
	*method = "POST";
	if (step == 0) {
		snprintf(path, plen, "/api/v1/namespaces/default/pods/pod-%d/binding", i);
		snprintf(body, blen,
			 "{\"apiVersion\":\"v1\",\"kind\":\"Binding\",\"metadata\":{\"name\":"
			 "\"pod-%d\"},\"target\":{\"apiVersion\":\"v1\",\"kind\":\"Node\","
			 "\"name\":\"node-%d\"}}",
			 i, i % bind_nodes);
		return 201;
	}
	snprintf(path, plen, "/api/v1/namespaces/default/events");
	snprintf(body, blen,
		 "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"name\":"
		 "\"pod-%d.bench\"},\"involvedObject\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
		 "\"name\":\"pod-%d\",\"namespace\":\"default\"},\"reason\":\"Scheduled\","
		 "\"message\":\"Successfully assigned default/pod-%d to node-%d\",\"source\":"
		 "{\"component\":\"bench\"},\"type\":\"Normal\",\"count\":1}",
		 i, i, i, i % bind_nodes);
	return 201;
}

struct creator {
	const char *url;
	int count, steps;
	long (*req)(int i, int step, const char **method, char *path, size_t plen, char *body,
		    size_t blen);
	atomic_int next, failed, retries;
};

static void *creator_main(void *arg)
{
	struct creator *cr = arg;
	struct httpc_config cfg = { .server = cr->url };
	struct httpc *c = httpc_new(&cfg);
	char path[256], body[2048];
	int i;

	while (c && (i = atomic_fetch_add(&cr->next, 1)) < cr->count) {
		for (int step = 0; step < cr->steps; step++) {
			struct httpc_response resp;
			struct httpc_request req = {
				.path = path,
				.body = body,
			};
			long want = cr->req(i, step, &req.method, path, sizeof(path), body,
					    sizeof(body));
			long got = 0;

			if (strcmp(req.method, "PATCH") == 0)
				req.content_type = "application/merge-patch+json";

			req.body_len = strlen(body);
			/* A refused request is sent again a few times and counted (the API server
			 * under load can refuse a valid one); a create or binding that did land
			 * before answers 409 then. */
			for (int attempt = 0; attempt < 20; attempt++) {
				if (attempt)
					usleep(1000 * attempt);
				got = httpc_do(c, &req, &resp) < 0 ? -1 : resp.status;
				if (attempt && got == 409 && want == 201)
					got = want;
				if (got == want)
					break;
				atomic_fetch_add(&cr->retries, 1);
				httpc_response_free(&resp);
			}
			if (got != want && atomic_fetch_add(&cr->failed, 1) == 0)
				fprintf(stderr, "bench_scheduler: %s %s: %ld %.200s\n", req.method,
					path, got,
					resp.body.data ? resp.body.data : httpc_error(c));
			httpc_response_free(&resp);
		}
	}
	httpc_free(c);
	return NULL;
}

/*
 * Send the requests for objects 0..count-1 from `threads` keep-alive clients. 0, or -EIO
 * when any failed; *retries counts refused requests that were sent again.
 */
static int create_all(const char *url, int count, int steps,
		      long (*req)(int, int, const char **, char *, size_t, char *, size_t),
		      int threads, int *retries)
{
	struct creator cr = { .url = url, .count = count, .steps = steps, .req = req };
	pthread_t th[MAX_THREADS];

	threads = MAX(1, MIN(threads, MAX_THREADS));
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, creator_main, &cr);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	*retries += atomic_load(&cr.retries);
	return atomic_load(&cr.failed) ? -EIO : 0;
}

/* ---------------------------------------------------------------- watching bindings */

struct watch {
	int pods, nodes;
	unsigned char *seen; /* by pod index */
	int *per_node;	     /* by node index */
	int bound, tenth;
	double t_first, t_tenth, t_last;
};

static int on_line(void *ctx, const char *line, size_t len)
{
	struct watch *w = ctx;
	json_t *ev = json_loadb(line, len, 0, NULL);
	const char *name = jsonx_path_str(ev, "object.metadata.name", "");
	const char *node = jsonx_path_str(ev, "object.spec.nodeName", "");
	int i = strncmp(name, "pod-", 4) == 0 ? atoi(name + 4) : -1;
	int n = strncmp(node, "node-", 5) == 0 ? atoi(node + 5) : -1;

	if (i >= 0 && i < w->pods && n >= 0 && n < w->nodes && !w->seen[i]) {
		double t = now_s();

		int bound = __atomic_add_fetch(&w->bound, 1, __ATOMIC_RELAXED);

		w->seen[i] = 1;
		w->per_node[n]++;
		if (bound == 1)
			w->t_first = t;
		if (bound == w->tenth)
			w->t_tenth = t;
		w->t_last = t;
	}
	json_decref(ev);
	return w->bound == w->pods; /* stop the stream when every pod is bound */
}

struct watcher {
	struct httpc *c;
	char path[256];
	struct watch *w;
	pthread_t th;
};

static void *watcher_main(void *arg)
{
	struct watcher *wt = arg;
	struct httpc_response resp;

	httpc_stream_lines(wt->c, wt->path, on_line, wt->w, &resp);
	httpc_response_free(&resp);
	return NULL;
}

static int resource_version(const char *url, char *rv, size_t len)
{
	struct httpc_config cfg = { .server = url };
	struct httpc *c = httpc_new(&cfg);
	json_t *list = NULL;
	int st = c ? httpc_json(c, "GET", "/api/v1/pods?limit=1", NULL, &list) : -EINVAL;

	snprintf(rv, len, "%s", jsonx_path_str(list, "metadata.resourceVersion", ""));
	json_decref(list);
	httpc_free(c);
	return st == 200 && *rv ? 0 : -EIO;
}

/* ---------------------------------------------------------------- one shape */

/* After a timeout: which pods does the API server still show unbound, and why. */
static void report_unbound(const char *url, const struct watch *w)
{
	struct httpc_config cfg = { .server = url };
	struct httpc *c = httpc_new(&cfg);
	json_t *list = NULL, *pod;
	size_t i, shown = 0;

	if (c &&
	    httpc_json(c, "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3D", NULL, &list) == 200)
		json_array_foreach(json_object_get(list, "items"), i, pod)
			if (shown++ < 5)
				fprintf(stderr, "  unbound: %s %s\n",
					jsonx_path_str(pod, "metadata.name", "?"),
					jsonx_path_str(pod, "status.conditions[0].message", ""));
	fprintf(stderr, "  %zu pods unbound on the server, %d bindings seen by the watch\n",
		json_array_size(json_object_get(list, "items")), w->bound);
	json_decref(list);
	httpc_free(c);
}

/* Measure capstan-scheduler, or with baseline the zero-think binder, on a fresh server. */
static int run_shape(const struct opts *o, int nodes, int pods, bool baseline, struct result *r)
{
	char dir[1024], data[1100], log[1100], slog[1100], kc[1100], url[64], rv[64];
	char *api_argv[] = { (char *)o->apiserver, "--data-dir",	data, "--listen",
			     "127.0.0.1:0",	   "--unsafe-no-fsync", NULL };
	char *sched_argv[] = { (char *)o->scheduler,
			       "--kubeconfig",
			       kc,
			       "--parallelism",
			       (char *)o->parallelism,
			       "--bind-workers",
			       (char *)o->bind_workers,
			       NULL };
	struct watch w = { .pods = pods, .nodes = nodes, .tenth = pods / 10 ? pods / 10 : 1 };
	struct httpc_config hc = { .server = url };
	struct watcher wt = { .w = &w };
	pid_t api = -1, sched = -1;
	double t0, deadline;
	int port, ret = -EIO;
	FILE *f;

	*r = (struct result){ .nodes = nodes, .pods = pods };
	snprintf(dir, sizeof(dir), "%s/%s-%dx%d", o->dir, baseline ? "baseline" : "scheduler",
		 nodes, pods);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(log, sizeof(log), "%s/apiserver.log", dir);
	snprintf(slog, sizeof(slog), "%s/scheduler.log", dir);
	snprintf(kc, sizeof(kc), "%s/kubeconfig", dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	api = spawn(log, api_argv);
	port = api > 0 ? wait_port(log) : 0;
	if (!port) {
		fprintf(stderr, "bench_scheduler: the API server did not start (see %s)\n", log);
		goto out;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	f = fopen(kc, "w");
	if (!f)
		goto out;
	fprintf(f,
		"apiVersion: v1\nkind: Config\nclusters:\n- name: b\n  cluster: {server: \"%s\"}\n"
		"users:\n- name: b\n  user: {}\ncontexts:\n- name: b\n  context: {cluster: b, "
		"user: b}\n"
		"current-context: b\n",
		url);
	fclose(f);

	t0 = now_s();
	if (create_all(url, nodes, 2, node_req, CREATORS, &r->retries) < 0 ||
	    create_all(url, pods, 1, pod_req, CREATORS, &r->retries) < 0) {
		fprintf(stderr, "bench_scheduler: creating nodes or pods failed\n");
		goto out;
	}
	r->create_s = now_s() - t0;
	if (resource_version(url, rv, sizeof(rv)) < 0)
		goto out;
	w.seen = xcalloc((size_t)pods, 1);
	w.per_node = xcalloc((size_t)nodes, sizeof(*w.per_node));
	wt.c = httpc_new(&hc);
	snprintf(wt.path, sizeof(wt.path), "/api/v1/pods?watch=true&resourceVersion=%s", rv);
	pthread_create(&wt.th, NULL, watcher_main, &wt);

	t0 = now_s();
	deadline = t0 + o->timeout_s;
	if (baseline) {
		bind_nodes = nodes;
		if (create_all(url, pods, 2, bind_req, atoi(o->bind_workers), &r->bind_failures) <
		    0)
			fprintf(stderr, "bench_scheduler: baseline bindings failed\n");
	} else {
		sched = spawn(slog, sched_argv);
	}
	while (now_s() < deadline && __atomic_load_n(&w.bound, __ATOMIC_RELAXED) < pods)
		usleep(20 * 1000);
	httpc_cancel(wt.c);
	pthread_join(wt.th, NULL);
	httpc_free(wt.c);
	if (!baseline) {
		r->cpu_s = stop(sched);
		sched = -1;
		r->bind_failures = count_lines(slog, "failed (");
	}

	r->bound = w.bound;
	r->first_s = w.bound ? w.t_first - t0 : 0;
	r->total_s = w.bound ? w.t_last - t0 : 0;
	r->tenth_s = w.t_tenth ? w.t_tenth - t0 : 0;
	if (w.bound == pods && w.t_last > w.t_tenth)
		r->steady_rate = (double)(pods - w.tenth) / (w.t_last - w.t_tenth);
	for (int n = 0; n < nodes; n++)
		r->max_per_node = MAX(r->max_per_node, w.per_node[n]);
	ret = w.bound == pods ? 0 : -ETIMEDOUT;
	if (ret < 0)
		report_unbound(url, &w);
out:
	stop(sched);
	stop(api);
	free(w.seen);
	free(w.per_node);
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return ret;
}

/* ---------------------------------------------------------------- main */

static int parse_shapes(struct opts *o, const char *s)
{
	char *copy = xstrdup(s), *save = NULL;

	o->nshapes = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int n, p;

		if (o->nshapes == MAX_SHAPES || sscanf(t, "%dx%d", &n, &p) != 2 || n < 1 || p < 1 ||
		    n > 100000 || p > 1000000) {
			free(copy);
			return -EINVAL;
		}
		o->shapes[o->nshapes][0] = n;
		o->shapes[o->nshapes++][1] = p;
	}
	free(copy);
	return o->nshapes ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "apiserver", required_argument, NULL, 'a' },
		{ "scheduler", required_argument, NULL, 's' },
		{ "shapes", required_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 't' },
		{ "parallelism", required_argument, NULL, 'p' },
		{ "bind-workers", required_argument, NULL, 'b' },
		{ "dir", required_argument, NULL, 'd' },
		{ 0 },
	};
	struct opts o = {
		.apiserver = "build/bin/capstan-apiserver",
		.scheduler = "build/bin/capstan-scheduler",
		.timeout_s = 120,
		.parallelism = "2",
		.bind_workers = "16",
	};
	char tmpl[] = "/tmp/capstan-bench-scheduler.XXXXXX";
	struct result res[MAX_SHAPES], base[MAX_SHAPES];
	int opt, failed = 0;

	parse_shapes(&o, "1000x10000,5000x10000");
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			o.apiserver = optarg;
			break;
		case 's':
			o.scheduler = optarg;
			break;
		case 'S':
			if (parse_shapes(&o, optarg) < 0) {
				fprintf(stderr,
					"bench_scheduler: --shapes wants NODESxPODS[,...]\n");
				return 2;
			}
			break;
		case 't':
			o.timeout_s = atoi(optarg);
			if (o.timeout_s < 1 || o.timeout_s > 3600) {
				fprintf(stderr,
					"bench_scheduler: --timeout wants 1..3600 seconds\n");
				return 2;
			}
			break;
		case 'p':
			o.parallelism = optarg;
			break;
		case 'b':
			o.bind_workers = optarg;
			break;
		case 'd':
			o.dir = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: %s [--apiserver PATH] [--scheduler PATH] "
				"[--shapes 1000x10000,...] [--timeout S] [--parallelism N] "
				"[--bind-workers N] [--dir DIR]\n",
				argv[0]);
			return 2;
		}
	}
	if (!o.dir && !(o.dir = mkdtemp(tmpl))) {
		perror("mkdtemp");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < o.nshapes; i++) {
		for (int mode = 0; mode < 2; mode++) {
			struct result *r = mode ? &res[i] : &base[i];
			int err = run_shape(&o, o.shapes[i][0], o.shapes[i][1], !mode, r);

			if (err < 0) {
				failed++;
				fprintf(stderr, "bench_scheduler: %s %dx%d: %s (%d of %d bound)\n",
					mode ? "scheduler" : "baseline", o.shapes[i][0],
					o.shapes[i][1], strerror(-err), r->bound, o.shapes[i][1]);
			}
			fprintf(stderr,
				"  %s, %d nodes, %d pods: created in %.1f s; bindings: first %.2f "
				"s, "
				"10%% %.2f s, last %.2f s\n",
				mode ? "capstan-scheduler" : "zero-think binder", r->nodes, r->pods,
				r->create_s, r->first_s, r->tenth_s, r->total_s);
		}
	}
	if (o.dir == tmpl)
		rmdir(tmpl);

	printf("| nodes | pending pods | first binding | last binding | pods/s | vs upstream "
	       "threshold (%d/s) | steady pods/s | zero-think binder, steady | scheduler / binder "
	       "| max pods on a node | scheduler CPU | refused requests (setup / bindings) |\n",
	       UPSTREAM_THRESHOLD);
	printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < o.nshapes; i++) {
		struct result *r = &res[i], *b = &base[i];
		double rate = r->total_s > 0 ? r->bound / r->total_s : 0;

		printf("| %d | %d | %.2f s | %.2f s | %.0f | %.2fx | %.0f | %.0f | %.2fx | %d%s | "
		       "%.1f s | %d / %d |\n",
		       r->nodes, r->pods, r->first_s, r->total_s, rate, rate / UPSTREAM_THRESHOLD,
		       r->steady_rate, b->steady_rate,
		       b->steady_rate > 0 ? r->steady_rate / b->steady_rate : 0, r->max_per_node,
		       r->max_per_node > PODS_PER_NODE_LIMIT ? " (OVERCOMMIT)" : "", r->cpu_s,
		       r->retries + b->retries, r->bind_failures + b->bind_failures);
		failed += r->max_per_node > PODS_PER_NODE_LIMIT;
	}
	return failed ? 1 : 0;
}
