/*
 * bench_pods - pod startup latency and kubelet memory, against a running
 * capstan-apiserver whose node runs capstan-kubelet (see run.sh).
 *
 * For each of N pods (image already present): the time from the create
 * request to the first watch event showing the pod Running with all
 * containers ready, measured on this client's monotonic clock. Pods are
 * created one after another with no pause; the watch is opened before the
 * first create, so no event is missed. Bounded: every pod must be Running
 * within --timeout seconds or the run fails.
 *
 * usage: bench_pods --server URL --node NAME [--pods 50] [--timeout 120]
 *                   [--kubelet-pid PID]
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httpc.h"
#include "jsonx.h"
#include "util.h"

#define MAX_PODS 1000

static double created_at[MAX_PODS], running_at[MAX_PODS];
static int npods, nrunning;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double now_s(void)
{
	return now_mono_ns() / 1e9;
}

static int pod_index(const char *name)
{
	int i;

	if (sscanf(name, "bench-%d", &i) != 1 || i < 0 || i >= npods)
		return -1;
	return i;
}

static bool all_ready(const json_t *pod)
{
	json_t *cs = jsonx_get_path(pod, "status.containerStatuses"), *c;
	size_t i;

	if (strcmp(jsonx_path_str(pod, "status.phase", ""), "Running") != 0 || !json_array_size(cs))
		return false;
	json_array_foreach(cs, i, c) {
		if (!jsonx_bool(c, "ready", false))
			return false;
	}
	return true;
}

static int on_line(void *ctx, const char *line, size_t len)
{
	json_t *ev = json_loadb(line, len, 0, NULL);
	json_t *pod = json_object_get(ev, "object");
	int i = pod_index(jsonx_path_str(pod, "metadata.name", ""));
	double t = now_s();
	int done;

	pthread_mutex_lock(&lock);
	if (i >= 0 && !running_at[i] && all_ready(pod)) {
		running_at[i] = t;
		nrunning++;
	}
	done = nrunning == npods;
	pthread_mutex_unlock(&lock);
	json_decref(ev);
	return done;
}

struct watcher {
	struct httpc *c;
	char path[256];
};

static void *watch_main(void *arg)
{
	struct watcher *w = arg;
	struct httpc_response resp;

	httpc_stream_lines(w->c, w->path, on_line, NULL, &resp);
	httpc_response_free(&resp);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "server", required_argument, NULL, 's' },
		{ "node", required_argument, NULL, 'n' },
		{ "pods", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "kubelet-pid", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *server = NULL, *node = NULL;
	int timeout = 120, kubelet_pid = 0, opt;
	struct httpc_config cfg = { 0 };
	struct watcher w;
	struct httpc *c;
	pthread_t th;
	double lat[MAX_PODS], start;
	char body[1024];
	long rss_before, rss_after;

	npods = 50;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 's':
			server = optarg;
			break;
		case 'n':
			node = optarg;
			break;
		case 'p':
			npods = atoi(optarg);
			break;
		case 't':
			timeout = atoi(optarg);
			break;
		case 'k':
			kubelet_pid = atoi(optarg);
			break;
		default:
			fprintf(opt == 'h' ? stdout : stderr,
				"usage: bench_pods --server URL --node NAME [--pods N] "
				"[--timeout S] [--kubelet-pid PID]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!server || !node || npods < 1 || npods > MAX_PODS || timeout < 1 || timeout > 3600) {
		fprintf(stderr, "bench_pods: --server and --node required; --pods 1..%d\n",
			MAX_PODS);
		return 2;
	}
	cfg.server = server;
	c = httpc_new(&cfg);
	w.c = httpc_new(&cfg);
	if (!c || !w.c) {
		fprintf(stderr, "bench_pods: bad --server\n");
		return 2;
	}
	rss_before = kubelet_pid ? proc_rss_kib(kubelet_pid) : -1;
	snprintf(w.path, sizeof(w.path),
		 "/api/v1/namespaces/default/pods?watch=1&timeoutSeconds=%d", timeout + 10);
	pthread_create(&th, NULL, watch_main, &w);
	usleep(300 * 1000);

	start = now_s();
	for (int i = 0; i < npods; i++) {
		json_t *out = NULL, *obj;
		int st;

		snprintf(body, sizeof(body),
			 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"bench-%"
			 "d\","
			 "\"labels\":{\"app\":\"bench\"}},\"spec\":{\"nodeName\":\"%s\","
			 "\"terminationGracePeriodSeconds\":1,\"containers\":[{\"name\":\"c\","
			 "\"image\":\"capstan.local/httpd:1\"}]}}",
			 i, node);
		created_at[i] = now_s();
		obj = json_loads(body, 0, NULL);
		st = httpc_json(c, "POST", "/api/v1/namespaces/default/pods", obj, &out);
		json_decref(obj);
		json_decref(out);
		if (st != 201) {
			fprintf(stderr, "bench_pods: create bench-%d: %d\n", i, st);
			return 1;
		}
	}
	while (now_s() - start < timeout) {
		pthread_mutex_lock(&lock);
		int n = nrunning;
		pthread_mutex_unlock(&lock);
		if (n == npods)
			break;
		usleep(100 * 1000);
	}
	httpc_cancel(w.c);
	pthread_join(th, NULL);
	if (nrunning < npods) {
		fprintf(stderr, "bench_pods: only %d of %d pods Running within %d s\n", nrunning,
			npods, timeout);
		return 1;
	}
	for (int i = 0; i < npods; i++)
		lat[i] = running_at[i] - created_at[i];
	qsort(lat, npods, sizeof(double), cmp);
	rss_after = kubelet_pid ? proc_rss_kib(kubelet_pid) : -1;

	printf("## Pod startup (capstan-kubelet on containerd, images present)\n\n");
	printf("| measure | value | reference |\n|---|---|---|\n");
	printf("| pods | %d, created back to back | |\n", npods);
	printf("| startup latency p50 (create -> Running+Ready seen by a watch) | %.2f s | |\n",
	       lat[npods / 2]);
	printf("| startup latency p99 | %.2f s | Kubernetes SLO: 5 s p99 |\n",
	       lat[(int)(0.99 * (npods - 1) + 0.5)]);
	double last = 0;
	for (int i = 0; i < npods; i++)
		last = MAX(last, running_at[i]);
	printf("| first create to last pod Running | %.2f s | |\n", last - created_at[0]);
	if (kubelet_pid)
		printf("| kubelet resident memory: before / with %d pods | %.1f / %.1f MiB | |\n",
		       npods, rss_before / 1024.0, rss_after / 1024.0);
	httpc_free(c);
	httpc_free(w.c);
	return 0;
}
