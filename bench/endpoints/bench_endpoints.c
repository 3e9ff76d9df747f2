/*
 * bench_endpoints - how long a pod's readiness takes to reach its Service's
 * EndpointSlice, the input of the datapath.
 *
 * Starts the real capstan-apiserver (fsync on) and capstan-controller-manager
 * as their own processes on 127.0.0.1, creates a Service and N pods bound to
 * a Node and Running but not Ready, then, one pod at a time, marks the pod
 * Ready through pods/status and measures from that request's 200 to the
 * watch event that shows the pod's address ready in an EndpointSlice; then
 * the same for the way back (not ready). p50/p99 of both, bounded in count
 * and time.
 *
 * usage: bench_endpoints [--bin DIR] [--pods N] [--timeout S]
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "httpc.h"
#include "jsonx.h"
#include "util.h"

#define MAX_PODS 2000

struct proc {
	pid_t pid;
	char log[512];
};

static char server_url[96];
static int npods = 200;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
/* Per pod: the readiness last seen in a slice (-1 unseen), and when it changed. */
static int seen_ready[MAX_PODS];
static double seen_at[MAX_PODS];

static double now_s(void)
{
	return now_mono_ns() / 1e9;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static int start(struct proc *p, const char *bin, char *const argv[], const char *dir,
		 const char *name)
{
	snprintf(p->log, sizeof(p->log), "%s/%s.log", dir, name);
	p->pid = fork();
	if (p->pid < 0)
		return -errno;
	if (p->pid == 0) {
		if (!freopen(p->log, "w", stderr))
			_exit(126);
		execv(bin, argv);
		_exit(127);
	}
	return 0;
}

static void stop(struct proc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
	}
}

static int wait_listening(const char *log)
{
	char line[512];
	int port = 0;

	for (int i = 0; i < 200 && !port; i++) {
		FILE *f = fopen(log, "r");

		usleep(50 * 1000);
		while (f && fgets(line, sizeof(line), f)) {
			char *s = strstr(line, "listening on http://127.0.0.1:");

			if (s)
				port = atoi(s + strlen("listening on http://127.0.0.1:"));
		}
		if (f)
			fclose(f);
	}
	return port;
}

static struct httpc *client(void)
{
	struct httpc_config cfg = { .server = server_url };

	return httpc_new(&cfg);
}

static int call(struct httpc *c, const char *method, const char *path, const char *ctype,
		const char *body)
{
	struct httpc_request req = { .method = method, .path = path, .content_type = ctype,
				     .body = body, .body_len = body ? strlen(body) : 0 };
	struct httpc_response resp;
	int st = -1;

	if (httpc_do(c, &req, &resp) == 0)
		st = (int)resp.status;
	httpc_response_free(&resp);
	return st;
}

static int index_of_ip(const char *ip)
{
	int a, b;

	if (sscanf(ip, "10.244.%d.%d", &a, &b) != 2)
		return -1;
	int i = (a - 100) * 250 + (b - 1);
	return i >= 0 && i < npods ? i : -1;
}

static int on_slice(void *ctx, const char *line, size_t len)
{
	json_t *ev = json_loadb(line, len, 0, NULL);
	json_t *eps = jsonx_get_path(ev, "object.endpoints"), *e;
	double t = now_s();
	size_t i;

	pthread_mutex_lock(&lock);
	json_array_foreach(eps, i, e) {
		int idx = index_of_ip(json_string_value(json_array_get(json_object_get(e,
										       "addresses"),
								       0)) ?: "");
		int ready = jsonx_path_bool(e, "conditions.ready", false);

		if (idx >= 0 && seen_ready[idx] != ready) {
			seen_ready[idx] = ready;
			seen_at[idx] = t;
		}
	}
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	json_decref(ev);
	return 0;
}

struct watcher {
	struct httpc *c;
};

static void *watch_main(void *arg)
{
	struct watcher *w = arg;
	struct httpc_response resp;

	httpc_stream_lines(w->c,
			   "/apis/discovery.k8s.io/v1/namespaces/bench/endpointslices?watch=1"
			   "&timeoutSeconds=600",
			   on_slice, NULL, &resp);
	httpc_response_free(&resp);
	return NULL;
}

/* Wait until pod i is seen with the given readiness; its delay after t0 or -1. */
static double wait_seen(int i, int ready, double t0, double timeout)
{
	double d = -1;
	struct timespec ts;

	pthread_mutex_lock(&lock);
	while (seen_ready[i] != ready && now_s() - t0 < timeout) {
		deadline_after_ms(&ts, CLOCK_REALTIME, 50);
		pthread_cond_timedwait(&cond, &lock, &ts);
	}
	if (seen_ready[i] == ready)
		d = seen_at[i] > t0 ? seen_at[i] - t0 : 0;
	pthread_mutex_unlock(&lock);
	return d;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void status_body(char *buf, size_t len, int i, bool ready)
{
	snprintf(buf, len,
		 "{\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.%d.%d\",\"podIPs\":[{\"ip\":"
		 "\"10.244.%d.%d\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"%s\"},{"
		 "\"type\":\"ContainersReady\",\"status\":\"%s\"}]}}",
		 100 + i / 250, 1 + i % 250, 100 + i / 250, 1 + i % 250, ready ? "True" : "False",
		 ready ? "True" : "False");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "bin", required_argument, NULL, 'b' },
		{ "pods", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *bin = "build/bin";
	char tmpl[] = "/tmp/capstan-bench-eps.XXXXXX", path[512], body[1024], apiserver[512],
	     cm[512], data[600], kubeconfig[600];
	double up[MAX_PODS], down[MAX_PODS], timeout = 10;
	struct proc api = { 0 }, ctrl = { 0 };
	struct watcher w;
	pthread_t th;
	struct httpc *c;
	int opt, port, rc = 1;

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'b':
			bin = optarg;
			break;
		case 'p':
			npods = atoi(optarg);
			break;
		case 't':
			timeout = atof(optarg);
			break;
		default:
			fprintf(opt == 'h' ? stdout : stderr,
				"usage: bench_endpoints [--bin DIR] [--pods N] [--timeout S]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (npods < 1 || npods > MAX_PODS || timeout <= 0 || timeout > 60) {
		fprintf(stderr, "bench_endpoints: --pods 1..%d, --timeout 0..60\n", MAX_PODS);
		return 2;
	}
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(apiserver, sizeof(apiserver), "%s/capstan-apiserver", bin);
	snprintf(cm, sizeof(cm), "%s/capstan-controller-manager", bin);
	snprintf(data, sizeof(data), "%s/data", tmpl);
	char *aargv[] = { apiserver, "--data-dir", data, "--listen", "127.0.0.1:0", NULL };
	if (start(&api, apiserver, aargv, tmpl, "apiserver") < 0 ||
	    !(port = wait_listening(api.log))) {
		fprintf(stderr, "bench_endpoints: %s did not start\n", apiserver);
		goto out;
	}
	snprintf(server_url, sizeof(server_url), "http://127.0.0.1:%d", port);
	snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", tmpl);
	FILE *kc = fopen(kubeconfig, "w");
	if (!kc)
		goto out;
	fprintf(kc,
		"apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"%s\"}}]\n"
		"users: [{name: u, user: {}}]\ncontexts: [{name: c, context: {cluster: c, user: "
		"u}}]\ncurrent-context: c\n",
		server_url);
	fclose(kc);
	char *cargv[] = { cm, "--kubeconfig", kubeconfig, "--controllers", "endpointslice", NULL };
	if (start(&ctrl, cm, cargv, tmpl, "controller-manager") < 0)
		goto out;

	c = client();
	call(c, "POST", "/api/v1/namespaces", NULL, "{\"metadata\":{\"name\":\"bench\"}}");
	call(c, "POST", "/api/v1/nodes", NULL, "{\"metadata\":{\"name\":\"n1\"}}");
	call(c, "POST", "/api/v1/namespaces/bench/services", NULL,
	     "{\"metadata\":{\"name\":\"svc\"},\"spec\":{\"selector\":{\"app\":\"ep\"},\"ports\":"
	     "[{\"port\":80,\"targetPort\":8080}]}}");
	for (int i = 0; i < npods; i++) {
		snprintf(body, sizeof(body),
			 "{\"metadata\":{\"name\":\"p%d\",\"labels\":{\"app\":\"ep\"}},\"spec\":{"
			 "\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\",\"image\":\"x\","
			 "\"ports\":[{\"containerPort\":8080}]}]}}",
			 i);
		if (call(c, "POST", "/api/v1/namespaces/bench/pods", NULL, body) != 201)
			goto out_client;
		snprintf(path, sizeof(path), "/api/v1/namespaces/bench/pods/p%d/status", i);
		status_body(body, sizeof(body), i, false);
		call(c, "PATCH", path, "application/merge-patch+json", body);
		seen_ready[i] = -1;
	}
	w.c = client();
	pthread_create(&th, NULL, watch_main, &w);
	/* Every pod known (not ready) before the clock starts. */
	for (int i = 0; i < npods; i++)
		if (wait_seen(i, 0, now_s(), 30) < 0) {
			fprintf(stderr, "bench_endpoints: pod %d never appeared in a slice\n", i);
			goto out_watch;
		}
	for (int i = 0; i < npods; i++) {
		double t0;

		snprintf(path, sizeof(path), "/api/v1/namespaces/bench/pods/p%d/status", i);
		status_body(body, sizeof(body), i, true);
		if (call(c, "PATCH", path, "application/merge-patch+json", body) != 200)
			goto out_watch;
		t0 = now_s();
		up[i] = wait_seen(i, 1, t0, timeout);
		status_body(body, sizeof(body), i, false);
		call(c, "PATCH", path, "application/merge-patch+json", body);
		t0 = now_s();
		down[i] = wait_seen(i, 0, t0, timeout);
		if (up[i] < 0 || down[i] < 0) {
			fprintf(stderr, "bench_endpoints: pod %d: no slice update within %.0f s\n",
				i, timeout);
			goto out_watch;
		}
	}
	qsort(up, npods, sizeof(double), cmp);
	qsort(down, npods, sizeof(double), cmp);
	printf("## Pod readiness to EndpointSlice (capstan-controller-manager, fsync on)\n\n");
	printf("| change | p50 | p99 | max |\n|---|---|---|---|\n");
	printf("| pod Ready -> address ready in the slice (%d pods) | %.1f ms | %.1f ms | %.1f ms |\n",
	       npods, up[npods / 2] * 1e3, up[(int)(0.99 * (npods - 1) + 0.5)] * 1e3,
	       up[npods - 1] * 1e3);
	printf("| pod not Ready -> address not ready in the slice | %.1f ms | %.1f ms | %.1f ms |\n",
	       down[npods / 2] * 1e3, down[(int)(0.99 * (npods - 1) + 0.5)] * 1e3,
	       down[npods - 1] * 1e3);
	printf("\nmeasured from the pods/status 200 to the slice's watch event; %ld cores\n",
	       sysconf(_SC_NPROCESSORS_ONLN));
	rc = 0;
out_watch:
	httpc_cancel(w.c);
	pthread_join(th, NULL);
	httpc_free(w.c);
out_client:
	httpc_free(c);
out:
	stop(&ctrl);
	stop(&api);
	nftw(tmpl, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
