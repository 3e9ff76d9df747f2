/*
 * bench_api - what the API server costs, measured against what its storage
 * could do at best, in one run on one machine.
 *
 *   1. Durable creates per second through the whole API (HTTP, decode,
 *      defaults, validation, store with fsync, cache, response) with 1, 8
 *      and 64 concurrent clients, next to the durable insert rate of the
 *      same rows into a bare SQLite table on the same disk (WAL,
 *      synchronous=FULL, one insert per transaction: what a naive
 *      store would do), measured in the same run.
 *   2. Latency of listing 10,000 pods (full JSON list).
 *   3. Watch fan-out delay: 100 watchers, time from a create's response to
 *      each watcher receiving the event.
 *   4. Resident memory of the API server holding 10,000 pods.
 *
 * The API server runs as its own process (the real binary, fsync on), so
 * the client's work does not count against it. Everything is bounded in
 * count and time; traffic stays on 127.0.0.1.
 *
 * usage: bench_api [--apiserver PATH] [--pods N] [--seconds S] [--dir DIR]
 */
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "httpc.h"
#include "util.h"

#define MAX_CLIENTS 64
#define WATCHERS 100
#define REPS 3

struct opts {
	const char *apiserver;
	const char *dir;
	int pods;
	double seconds;
};

static char pod_body[4096];

/* A realistic pod: labels, two containers, ports, env, resources, probes. */
static void make_pod(char *buf, size_t len, const char *name)
{
	snprintf(buf, len,
		 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
		 "\"labels\":{\"app\":\"bench\",\"tier\":\"web\",\"pod-template-hash\":"
		 "\"5d4f8c7b9\"},\"annotations\":{\"bench.capstan.io/run\":\"1\"}},"
		 "\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"capstan.local/httpd:1\","
		 "\"ports\":[{\"name\":\"http\",\"containerPort\":8080}],\"env\":[{\"name\":"
		 "\"MODE\",\"value\":\"bench\"},{\"name\":\"POD\",\"valueFrom\":{\"fieldRef\":"
		 "{\"fieldPath\":\"metadata.name\"}}}],\"resources\":{\"requests\":{\"cpu\":"
		 "\"100m\",\"memory\":\"64Mi\"},\"limits\":{\"cpu\":\"500m\",\"memory\":"
		 "\"128Mi\"}},\"readinessProbe\":{\"httpGet\":{\"path\":\"/healthz\",\"port\":"
		 "8080}}},{\"name\":\"sidecar\",\"image\":\"capstan.local/busybox:1\","
		 "\"command\":[\"sleep\",\"3600\"]}]}}",
		 name);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static double now_s(void)
{
	return now_mono_ns() / 1e9;
}

static double median3(const double *v)
{
	double a = v[0], b = v[1], c = v[2];

	return a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
}

static double min3(const double *v)
{
	return MIN(v[0], MIN(v[1], v[2]));
}

static double max3(const double *v)
{
	return MAX(v[0], MAX(v[1], v[2]));
}

static double pct(double *v, size_t n, double p)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return v[(size_t)(p * (n - 1) + 0.5)];
}

/* ---------------------------------------------------------------- raw SQLite */

/*
 * The baseline: the same row shape (key, value, revision columns) inserted
 * one durable transaction at a time. Returns inserts per second.
 */
static double sqlite_baseline(const char *dir, double seconds, int max_rows)
{
	char path[1024], name[64], key[128];
	sqlite3 *db;
	sqlite3_stmt *st;
	double start, elapsed;
	int n = 0;

	snprintf(path, sizeof(path), "%s/raw.db", dir);
	unlink(path);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return 0;
	sqlite3_exec(db,
		     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
		     "CREATE TABLE kv (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT,"
		     " created INTEGER, deleted INTEGER, create_revision INTEGER,"
		     " prev_revision INTEGER, value BLOB, old_value BLOB,"
		     " UNIQUE(name, prev_revision));",
		     NULL, NULL, NULL);
	sqlite3_prepare_v2(db,
			   "INSERT INTO kv(name,created,deleted,create_revision,prev_revision,"
			   "value) VALUES(?,1,0,0,0,?)",
			   -1, &st, NULL);
	start = now_s();
	while (n < max_rows && now_s() - start < seconds) {
		snprintf(name, sizeof(name), "raw-%d", n);
		snprintf(key, sizeof(key), "/registry/pods/bench/%s", name);
		make_pod(pod_body, sizeof(pod_body), name);
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, pod_body, (int)strlen(pod_body), SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			break;
		sqlite3_reset(st);
		n++;
	}
	elapsed = now_s() - start;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return elapsed > 0 ? n / elapsed : 0;
}

/* ---------------------------------------------------------------- API server */

static pid_t server_pid;
static char server_url[128];

/* Start a fresh API server with its data in DIR/name. */
static int start_server(const struct opts *o, const char *name)
{
	char data[1024], log[1024], line[512];
	int port = 0;

	snprintf(data, sizeof(data), "%s/%s", o->dir, name);
	snprintf(log, sizeof(log), "%s/%s.log", o->dir, name);
	server_pid = fork();
	if (server_pid < 0)
		return -errno;
	if (server_pid == 0) {
		if (!freopen(log, "w", stderr))
			_exit(126);
		execl(o->apiserver, o->apiserver, "--data-dir", data, "--listen", "127.0.0.1:0",
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && !port; i++) {
		FILE *f = fopen(log, "r");

		usleep(50 * 1000);
		while (f && fgets(line, sizeof(line), f)) {
			char *p = strstr(line, "listening on http://127.0.0.1:");

			if (p)
				port = atoi(p + strlen("listening on http://127.0.0.1:"));
		}
		if (f)
			fclose(f);
	}
	if (!port)
		return -ETIMEDOUT;
	snprintf(server_url, sizeof(server_url), "http://127.0.0.1:%d", port);
	return 0;
}

static void stop_server(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = 0;
	}
}

static struct httpc *client(void)
{
	struct httpc_config cfg = { .server = server_url };

	return httpc_new(&cfg);
}

static long post(struct httpc *c, const char *path, const char *body)
{
	struct httpc_request req = {
		.method = "POST", .path = path, .body = body, .body_len = strlen(body)
	};
	struct httpc_response resp;
	long status = -1;

	if (httpc_do(c, &req, &resp) == 0)
		status = resp.status;
	httpc_response_free(&resp);
	return status;
}

struct creator {
	pthread_t th;
	int id;
	int quota;	 /* creates to do at most */
	double deadline; /* and stop at this time */
	const char *prefix;
	int done, failed;
};

static void *creator_main(void *arg)
{
	struct creator *cr = arg;
	struct httpc *c = client();
	char name[64], body[4096];

	while (cr->done < cr->quota && now_s() < cr->deadline) {
		snprintf(name, sizeof(name), "%s-%d-%d", cr->prefix, cr->id, cr->done);
		make_pod(body, sizeof(body), name);
		if (post(c, "/api/v1/namespaces/bench/pods", body) == 201)
			cr->done++;
		else if (++cr->failed > 100)
			break;
	}
	httpc_free(c);
	return NULL;
}

/* Creates per second with n concurrent clients, at most quota in total; adds to *total. */
static double create_rate(int n, int quota, double seconds, const char *prefix, int *total)
{
	struct creator cr[MAX_CLIENTS];
	double start = now_s(), elapsed;
	int done = 0;

	for (int i = 0; i < n; i++) {
		cr[i] = (struct creator){ .id = i,
					  .quota = quota / n + 1,
					  .deadline = start + seconds,
					  .prefix = prefix };
		pthread_create(&cr[i].th, NULL, creator_main, &cr[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(cr[i].th, NULL);
		done += cr[i].done;
	}
	elapsed = now_s() - start;
	*total += done;
	return elapsed > 0 ? done / elapsed : 0;
}

/* ---------------------------------------------------------------- watch fan-out */

struct watcher {
	pthread_t th;
	struct httpc *c;
	char rv[32];
	pthread_mutex_t *lock;
	double *seen; /* per event index: arrival time (0 = not yet) */
	int nevents;
	int got;
};

static int watcher_line(void *ctx, const char *line, size_t len)
{
	struct watcher *w = ctx;
	const char *p = memmem(line, len, "\"fanout-", 8);
	double t = now_s();

	if (p) {
		int idx = atoi(p + 8);

		if (idx >= 0 && idx < w->nevents && !w->seen[idx])
			w->seen[idx] = t;
		w->got++;
	}
	return w->got >= w->nevents;
}

static void *watcher_main(void *arg)
{
	struct watcher *w = arg;
	struct httpc_response resp;
	char path[256];

	snprintf(path, sizeof(path),
		 "/api/v1/namespaces/fanout/configmaps?watch=1&resourceVersion=%s"
		 "&timeoutSeconds=60",
		 w->rv);
	httpc_stream_lines(w->c, path, watcher_line, w, &resp);
	httpc_response_free(&resp);
	return NULL;
}

static void watch_fanout(int nevents, double *median_ms, double *p99_ms)
{
	struct watcher *ws = xcalloc(WATCHERS, sizeof(*ws));
	struct httpc *c = client();
	double *sent = xcalloc(nevents, sizeof(double));
	double *delays = xcalloc((size_t)nevents * WATCHERS, sizeof(double));
	struct httpc_request req = { .path = "/api/v1/namespaces/fanout/configmaps?limit=1" };
	struct httpc_response resp;
	char rv[32] = "0", body[256];
	size_t nd = 0;

	post(c, "/api/v1/namespaces", "{\"metadata\":{\"name\":\"fanout\"}}");
	if (httpc_do(c, &req, &resp) == 0 && resp.body.data) {
		const char *p = strstr(resp.body.data, "\"resourceVersion\":\"");

		if (p)
			snprintf(rv, sizeof(rv), "%.*s", (int)strcspn(p + 19, "\""), p + 19);
	}
	httpc_response_free(&resp);
	for (int i = 0; i < WATCHERS; i++) {
		ws[i].c = client();
		snprintf(ws[i].rv, sizeof(ws[i].rv), "%s", rv);
		ws[i].seen = xcalloc(nevents, sizeof(double));
		ws[i].nevents = nevents;
		pthread_create(&ws[i].th, NULL, watcher_main, &ws[i]);
	}
	usleep(500 * 1000); /* let every watch connect */
	for (int e = 0; e < nevents; e++) {
		snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"fanout-%d\"}}", e);
		post(c, "/api/v1/namespaces/fanout/configmaps", body);
		sent[e] = now_s(); /* the create was acknowledged */
		usleep(20 * 1000);
	}
	for (int i = 0; i < WATCHERS; i++) {
		/* Bounded: watches time out after 60 s anyway; cancel stragglers at 5 s. */
		for (int t = 0; t < 50 && ws[i].got < nevents; t++)
			usleep(100 * 1000);
		httpc_cancel(ws[i].c);
		pthread_join(ws[i].th, NULL);
		for (int e = 0; e < nevents; e++)
			if (ws[i].seen[e])
				delays[nd++] = ws[i].seen[e] > sent[e]
						       ? (ws[i].seen[e] - sent[e]) * 1e3
						       : 0;
		httpc_free(ws[i].c);
		free(ws[i].seen);
	}
	*median_ms = pct(delays, nd, 0.5);
	*p99_ms = pct(delays, nd, 0.99);
	if (nd < (size_t)nevents * WATCHERS)
		fprintf(stderr, "bench: %zu of %d watch deliveries arrived\n", nd,
			nevents * WATCHERS);
	free(delays);
	free(sent);
	free(ws);
	httpc_free(c);
}

static void list_latency(int reps, double *median_ms, double *p99_ms, size_t *items_bytes)
{
	struct httpc *c = client();
	double *lat = xcalloc(reps, sizeof(double));
	struct httpc_request req = { .path = "/api/v1/namespaces/bench/pods" };
	int n = 0;

	for (int i = 0; i < reps; i++) {
		struct httpc_response resp;
		double t = now_s();

		if (httpc_do(c, &req, &resp) == 0 && resp.status == 200) {
			lat[n++] = (now_s() - t) * 1e3;
			*items_bytes = resp.body.len;
		}
		httpc_response_free(&resp);
	}
	*median_ms = pct(lat, n, 0.5);
	*p99_ms = pct(lat, n, 0.99);
	free(lat);
	httpc_free(c);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "apiserver", required_argument, NULL, 'a' },
		{ "pods", required_argument, NULL, 'p' },
		{ "seconds", required_argument, NULL, 's' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct opts o = { .apiserver = "build/bin/capstan-apiserver", .pods = 10000, .seconds = 5 };
	char tmpl[] = "/tmp/capstan-bench-api.XXXXXX";
	static const int clients[] = { 1, 8, 64 };
	double raw[REPS], rates[3][REPS], ratios[3][REPS], lmed, lp99, wmed, wp99;
	long rss_empty, rss_full, rss_lists;
	int filled;
	size_t list_bytes = 0;
	int opt, created = 0;
	bool own_dir = false;

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'a':
			o.apiserver = optarg;
			break;
		case 'p':
			o.pods = atoi(optarg);
			break;
		case 's':
			o.seconds = atof(optarg);
			break;
		case 'd':
			o.dir = optarg;
			break;
		default:
			fprintf(opt == 'h' ? stdout : stderr,
				"usage: bench_api [--apiserver PATH] [--pods N] [--seconds S] "
				"[--dir DIR]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (o.pods < 100 || o.pods > 100000 || o.seconds <= 0 || o.seconds > 120) {
		fprintf(stderr, "bench_api: --pods 100..100000, --seconds 0..120\n");
		return 2;
	}
	if (!o.dir) {
		if (!(o.dir = mkdtemp(tmpl))) {
			perror("mkdtemp");
			return 1;
		}
		own_dir = true;
	}
	signal(SIGPIPE, SIG_IGN);

	/* Server A: create rates. */
	if (start_server(&o, "rates") < 0) {
		fprintf(stderr, "bench_api: %s did not start (log in %s)\n", o.apiserver, o.dir);
		return 1;
	}
	struct httpc *c = client();
	post(c, "/api/v1/namespaces", "{\"metadata\":{\"name\":\"bench\"}}");
	httpc_free(c);
	/*
	 * Side by side and repeated: the disk's fsync latency drifts, so each
	 * round measures the baseline right before the API figures and the
	 * ratios are taken within a round.
	 */
	for (int rep = 0; rep < REPS; rep++) {
		raw[rep] = sqlite_baseline(o.dir, o.seconds, 1000000);
		for (int i = 0; i < 3; i++) {
			char prefix[32];

			snprintf(prefix, sizeof(prefix), "r%dc%d", rep, clients[i]);
			rates[i][rep] =
				create_rate(clients[i], 1000000, o.seconds, prefix, &created);
			ratios[i][rep] = raw[rep] > 0 ? rates[i][rep] / raw[rep] : 0;
		}
	}
	stop_server();

	/* Server B: exactly o.pods pods for list latency, memory and fan-out. */
	if (start_server(&o, "list") < 0) {
		fprintf(stderr, "bench_api: %s did not start (log in %s)\n", o.apiserver, o.dir);
		return 1;
	}
	c = client();
	post(c, "/api/v1/namespaces", "{\"metadata\":{\"name\":\"bench\"}}");
	httpc_free(c);
	rss_empty = proc_rss_kib(server_pid);
	filled = 0;
	create_rate(64, o.pods, 300, "fill", &filled);
	rss_full = proc_rss_kib(server_pid);
	list_latency(20, &lmed, &lp99, &list_bytes);
	rss_lists = proc_rss_kib(server_pid);
	watch_fanout(50, &wmed, &wp99);
	stop_server();

	printf("## API server (capstan-apiserver, fsync on)\n\n");
	printf("%d rounds of %.0f s; in each round the raw SQLite baseline runs right before "
	       "the API figures, and the ratio is taken within the round.\n\n",
	       REPS, o.seconds);
	printf("| measure | median | ratio to raw SQLite: min / median / max |\n|---|---|---|\n");
	printf("| raw SQLite durable inserts (one per transaction) | %.0f /s | 1.00x |\n",
	       median3(raw));
	for (int i = 0; i < 3; i++)
		printf("| API durable creates, %d client%s | %.0f /s | %.2fx / %.2fx / %.2fx |\n",
		       clients[i], clients[i] > 1 ? "s" : "", median3(rates[i]), min3(ratios[i]),
		       median3(ratios[i]), max3(ratios[i]));
	printf("| list of %d pods (%.1f MB JSON): median / p99 | %.1f ms / %.1f ms | |\n", filled,
	       list_bytes / 1e6, lmed, lp99);
	printf("| watch fan-out to %d watchers: median / p99 delay after the create's 201 "
	       "| %.2f ms / %.2f ms | |\n",
	       WATCHERS, wmed, wp99);
	printf("| resident memory: empty / %d pods / after 20 full lists | %.1f / %.1f / %.1f MiB "
	       "| |\n",
	       filled, rss_empty / 1024.0, rss_full / 1024.0, rss_lists / 1024.0);
	printf("\nmachine: %ld cores; %d pods created for the rates\n",
	       sysconf(_SC_NPROCESSORS_ONLN), created);
	if (own_dir)
		nftw(o.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
