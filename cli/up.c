/*
 * up.c - `capstan up`, `capstan down`, `capstan status` (see cluster.h).
 *
 * `up` is idempotent: with a supervisor already running for the data
 * directory it only reports. Otherwise it forks the supervisor into its own
 * session (logging to DATA/supervisor.log) and waits, bounded, until the
 * cluster works end to end: the API server ready, every node Ready, and
 * the kubernetes Service answering through the eBPF datapath from a node.
 * Only then does it print how to use the cluster.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/lb/loader.h"
#include "cluster.h"
#include "httpc.h"
#include "jsonx.h"
#include "kubeconfig.h"
#include "log.h"
#include "preflight.h"
#include "util.h"

struct up_opts {
	const char *data_dir;
	int nodes;
	unsigned grace_s;
	unsigned timeout_s;
	bool foreground;
	bool purge;
};

static void up_usage(FILE *out)
{
	fprintf(out,
		"usage: capstan up [--data-dir DIR] [--nodes N] [--node-grace-period SECONDS]\n"
		"                  [--timeout SECONDS] [--foreground]\n"
		"       capstan down [--data-dir DIR] [--purge]\n"
		"       capstan status [--data-dir DIR]\n"
		"\n"
		"up starts a local cluster (API server, controller manager, scheduler, and per\n"
		"node containerd, kubelet and agent) supervised in the background, and waits\n"
		"until it works. --nodes N > 1 simulates N nodes in network namespaces.\n"
		"down stops it and removes what it made on the host (the data directory is\n"
		"kept unless --purge). Both need root.\n");
}

static int parse(int argc, char **argv, const char *default_dir, struct up_opts *o)
{
	static const struct option lo[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "nodes", required_argument, NULL, 'n' },
		{ "node-grace-period", required_argument, NULL, 'g' },
		{ "timeout", required_argument, NULL, 't' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "purge", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		LOG_LONG_OPTIONS,
		{ 0 },
	};
	int opt;

	*o = (struct up_opts){
		.data_dir = default_dir, .nodes = 1, .grace_s = 40, .timeout_s = 300
	};
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		int r = log_handle_option(opt, optarg);
		char *end;

		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		switch (opt) {
		case 'd':
			o->data_dir = optarg;
			break;
		case 'n':
			o->nodes = (int)strtol(optarg, &end, 10);
			if (*end || o->nodes < 1 || o->nodes > CLUSTER_MAX_NODES) {
				fprintf(stderr, "capstan: --nodes wants 1..%d, not '%s'\n",
					CLUSTER_MAX_NODES, optarg);
				return 2;
			}
			break;
		case 'g':
		case 't': {
			long v = strtol(optarg, &end, 10);

			if ((*end && strcmp(end, "s")) || v < 1 || v > 3600) {
				fprintf(stderr, "capstan: --%s wants seconds 1..3600, not '%s'\n",
					opt == 'g' ? "node-grace-period" : "timeout", optarg);
				return 2;
			}
			if (opt == 'g')
				o->grace_s = (unsigned)v;
			else
				o->timeout_s = (unsigned)v;
			break;
		}
		case 'f':
			o->foreground = true;
			break;
		case 'p':
			o->purge = true;
			break;
		case 'h':
			up_usage(stdout);
			return -1;
		default:
			up_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "capstan: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return 0;
}

/* Fill c from the options and this binary's location. 0 or -1 (message printed). */
static int cluster_init(struct cluster *c, const struct up_opts *o, bool create)
{
	char exe[PATH_MAX];
	ssize_t n;

	memset(c, 0, sizeof(*c));
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0) {
		perror("capstan: /proc/self/exe");
		return -1;
	}
	exe[n] = '\0';
	snprintf(c->bin_dir, sizeof(c->bin_dir), "%s", dirname(exe));
	snprintf(exe, sizeof(exe), "%s", c->bin_dir);
	snprintf(c->build_dir, sizeof(c->build_dir), "%s", dirname(exe));
	if (create && cluster_sh("mkdir -p '%s'", o->data_dir) != 0) {
		fprintf(stderr, "capstan: cannot create %s\n", o->data_dir);
		return -1;
	}
	if (!realpath(o->data_dir, c->data_dir)) {
		fprintf(stderr, "capstan: %s: %s\n", o->data_dir, strerror(errno));
		return -1;
	}
	if (lb_loader_find_cgroup2(c->cgroup2, sizeof(c->cgroup2)) < 0) {
		fprintf(stderr, "capstan: no cgroup v2 hierarchy is mounted\n");
		return -1;
	}
	c->nodes = o->nodes;
	c->multi = o->nodes > 1;
	c->node_grace_s = o->grace_s;
	return 0;
}

/* The supervisor's PID if one is running for this data dir, else 0. */
static pid_t supervisor_pid(const struct cluster *c)
{
	char path[PATH_MAX + 32], cmd[256];
	FILE *f;
	int pid = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/supervisor.pid", c->data_dir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 0 || kill(pid, 0) != 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY);
	n = fd >= 0 ? read(fd, cmd, sizeof(cmd) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	cmd[n] = '\0';
	return strstr(cmd, "capstan") ? pid : 0;
}

/* PID files of components whose supervisor is gone (killed, machine crash). */
static bool left_over(const struct cluster *c)
{
	char pattern[PATH_MAX + 32];
	glob_t g = { 0 };
	bool any;

	snprintf(pattern, sizeof(pattern), "%s/pids/*.pid", c->data_dir);
	any = glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0;
	globfree(&g);
	return any;
}

static int read_cluster_nodes(const struct cluster *c)
{
	char path[PATH_MAX + 32];
	json_t *j;
	int n;

	snprintf(path, sizeof(path), "%s/cluster.json", c->data_dir);
	j = json_load_file(path, 0, NULL);
	n = (int)jsonx_int(j, "nodes", 1);
	json_decref(j);
	return n >= 1 && n <= CLUSTER_MAX_NODES ? n : 1;
}

static struct httpc *api_client(void)
{
	char url[64];
	struct httpc_config hc = { .server = url, .timeout_ms = 3000, .connect_timeout_ms = 1000 };

	snprintf(url, sizeof(url), "http://%s:%d", CLUSTER_HOST_IP, CLUSTER_API_PORT);
	return httpc_new(&hc);
}

/* Nodes whose Ready condition is True. */
static int ready_nodes(struct httpc *h)
{
	json_t *list = NULL, *node;
	size_t i;
	int ready = 0;

	if (httpc_json(h, "GET", "/api/v1/nodes", NULL, &list) == 200) {
		json_array_foreach(json_object_get(list, "items"), i, node) {
			json_t *cond;
			size_t k;

			json_array_foreach(jsonx_get_path(node, "status.conditions"), k, cond) {
				if (strcmp(jsonx_str(cond, "type", ""), "Ready") == 0 &&
				    strcmp(jsonx_str(cond, "status", ""), "True") == 0)
					ready++;
			}
		}
	}
	json_decref(list);
	return ready;
}

/*
 * The kubernetes Service (10.96.0.1:443) answers /version, asked from node 1
 * (the host itself in a one-node cluster; else a child in node1's cgroup and
 * network namespace), so the datapath is in the path.
 */
static bool service_answers(const struct cluster *c)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return false;
	if (pid == 0) {
		struct httpc_config hc = { .server = "http://10.96.0.1:443",
					   .timeout_ms = 2000,
					   .connect_timeout_ms = 1000 };
		struct httpc_request req = { .path = "/version" };
		struct httpc_response resp;
		struct httpc *h;

		if (c->multi) {
			char procs[PATH_MAX + 32];
			int fd;

			snprintf(procs, sizeof(procs), "%s/capstan-node1/cgroup.procs", c->cgroup2);
			fd = open(procs, O_WRONLY);

			if (fd < 0 || write(fd, "0", 1) != 1)
				_exit(2);
			close(fd);
			fd = open("/run/netns/capstan-node1", O_RDONLY);
			if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
				_exit(2);
			close(fd);
		}
		h = httpc_new(&hc);
		_exit(h && httpc_do(h, &req, &resp) == 0 && resp.status == 200 ? 0 : 1);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void print_tail(const char *path)
{
	cluster_sh("tail -n 15 '%s' >&2", path);
}

static int wait_ready(const struct cluster *c, pid_t sup, unsigned timeout_s)
{
	struct httpc *h = api_client();
	uint64_t deadline = now_mono_ns() + (uint64_t)timeout_s * 1000000000ull;
	const char *phase = "the API server";
	char log[PATH_MAX + 32];
	int rc = -1;

	snprintf(log, sizeof(log), "%s/supervisor.log", c->data_dir);
	while (now_mono_ns() < deadline) {
		int st;

		if (sup > 0 && waitpid(sup, &st, WNOHANG) == sup) {
			fprintf(stderr, "capstan up: the supervisor stopped; its log ends with:\n");
			print_tail(log);
			goto out;
		}
		if (strcmp(phase, "the API server") == 0) {
			json_t *v = NULL;

			if (httpc_json(h, "GET", "/readyz", NULL, &v) == 200)
				phase = "the nodes";
			json_decref(v);
		} else if (strcmp(phase, "the nodes") == 0) {
			if (ready_nodes(h) >= c->nodes)
				phase = "the kubernetes Service";
		} else if (service_answers(c)) {
			rc = 0;
			goto out;
		}
		usleep(500 * 1000);
	}
	fprintf(stderr, "capstan up: still waiting for %s after %u s; see %s/*.log\n", phase,
		timeout_s, c->data_dir);
out:
	httpc_free(h);
	return rc;
}

/* clang-format off: the lines as the user sees them */
static void print_usage_hint(const struct cluster *c)
{
	printf("\ncapstan is up: %d node%s, data and logs in %s\n\n"
	       "  export KUBECONFIG=%s/kubeconfig\n"
	       "  kubectl get nodes\n\n",
	       c->nodes, c->nodes > 1 ? "s" : "", c->data_dir, c->data_dir);
	if (c->multi) {
		printf("Try it (service traffic is translated on the nodes: run clients in a "
		       "pod):\n"
		       "  kubectl create deployment web --image=capstan.local/httpd:1 "
		       "--replicas=3\n"
		       "  kubectl expose deployment web --port=80\n"
		       "  kubectl rollout status deployment/web\n"
		       "  kubectl run client --image=capstan.local/busybox:1 --restart=Never -- "
		       "\\\n"
		       "    sh -c 'for i in 1 2 3 4 5 6; do wget -qO- http://$WEB_SERVICE_HOST; "
		       "done'\n"
		       "  kubectl logs client\n"
		       "  %s/capstan lb list --bpffs-dir /sys/fs/bpf/capstan-node1\n\n",
		       c->bin_dir);
	} else {
		printf("Try it:\n"
		       "  kubectl create deployment web --image=capstan.local/httpd:1 "
		       "--replicas=3\n"
		       "  kubectl expose deployment web --port=80\n"
		       "  kubectl rollout status deployment/web\n"
		       "  IP=$(kubectl get service web -o jsonpath='{.spec.clusterIP}')\n"
		       "  for i in 1 2 3 4 5 6; do curl -s http://$IP/; done\n"
		       "  %s/capstan lb list\n\n",
		       c->bin_dir);
	}
	printf("Stop it with `make down` (or %s/capstan down --data-dir %s).\n", c->bin_dir,
	       c->data_dir);
}
/* clang-format on */

int cluster_up_main(int argc, char **argv, const char *default_data_dir)
{
	struct up_opts o;
	struct cluster c;
	char path[PATH_MAX + 32];
	pid_t pid;
	int rc = parse(argc, argv, default_data_dir, &o);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (geteuid() != 0) {
		fprintf(stderr, "capstan up: needs root (network namespaces, cgroups, eBPF)\n");
		return 1;
	}
	if (cluster_init(&c, &o, true) < 0)
		return 1;
	pid = supervisor_pid(&c);
	if (pid) {
		int running = read_cluster_nodes(&c);

		if (running != c.nodes) {
			fprintf(stderr,
				"capstan up: a %d-node cluster already runs in %s (supervisor %d); "
				"capstan down first\n",
				running, c.data_dir, (int)pid);
			return 1;
		}
		printf("capstan: already running (supervisor %d)\n", (int)pid);
		c.nodes = running;
		print_usage_hint(&c);
		return 0;
	}
	if (left_over(&c)) {
		struct cluster old = c;

		old.nodes = read_cluster_nodes(&c);
		old.multi = old.nodes > 1;
		printf("capstan up: a previous cluster in %s was not stopped; cleaning up first\n",
		       c.data_dir);
		supervisor_cleanup(&old);
	}
	if (preflight_run(stdout) > 0) {
		fprintf(stderr, "capstan up: fix the failed preflight checks first\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/cluster.json", c.data_dir);
	json_t *cj =
		json_pack("{s:i,s:i}", "nodes", c.nodes, "nodeGraceSeconds", (int)c.node_grace_s);
	json_dump_file(cj, path, JSON_INDENT(2));
	json_decref(cj);
	snprintf(path, sizeof(path), "%s/kubeconfig", c.data_dir);
	char server[64];
	snprintf(server, sizeof(server), "http://%s:%d", CLUSTER_HOST_IP, CLUSTER_API_PORT);
	if (kubeconfig_write(path, server, NULL, NULL, NULL, NULL) < 0) {
		fprintf(stderr, "capstan up: cannot write %s\n", path);
		return 1;
	}
	if (o.foreground)
		return supervisor_run(&c);

	printf("starting a %d-node cluster in %s (logs: %s/*.log)\n", c.nodes, c.data_dir,
	       c.data_dir);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("capstan up: fork");
		return 1;
	}
	if (pid == 0) {
		setsid();
		snprintf(path, sizeof(path), "%s/supervisor.log", c.data_dir);
		cluster_redirect_stdio(path);
		log_init("capstan-supervisor");
		_exit(supervisor_run(&c));
	}
	if (wait_ready(&c, pid, o.timeout_s) < 0) {
		fprintf(stderr, "capstan up: the cluster is not working; `capstan down` stops "
				"what was started\n");
		return 1;
	}
	print_usage_hint(&c);
	return 0;
}

/*
 * down and status: options, root, and the cluster of an existing data
 * directory. true with *c filled; else false with the exit code in *exit
 * (*none set when there is no data directory, which is printed).
 */
static bool existing_cluster(int argc, char **argv, const char *default_data_dir, const char *cmd,
			     struct up_opts *o, struct cluster *c, int *exit, bool *none)
{
	int rc = parse(argc, argv, default_data_dir, o);

	*none = false;
	*exit = rc < 0 ? 0 : rc;
	if (rc)
		return false;
	*exit = 1;
	if (geteuid() != 0) {
		fprintf(stderr, "capstan %s: needs root\n", cmd);
		return false;
	}
	if (access(o->data_dir, F_OK) != 0) {
		printf("capstan %s: no cluster in %s\n", cmd, o->data_dir);
		*none = true;
		return false;
	}
	o->nodes = 1;
	if (cluster_init(c, o, false) < 0)
		return false;
	c->nodes = read_cluster_nodes(c);
	c->multi = c->nodes > 1;
	return true;
}

int cluster_down_main(int argc, char **argv, const char *default_data_dir)
{
	struct up_opts o;
	struct cluster c;
	pid_t pid;
	bool none;
	int rc;

	if (!existing_cluster(argc, argv, default_data_dir, "down", &o, &c, &rc, &none))
		return none ? 0 : rc;
	pid = supervisor_pid(&c);
	if (pid) {
		printf("capstan down: stopping the cluster (supervisor %d)\n", (int)pid);
		fflush(stdout);
		kill(pid, SIGTERM);
		for (int i = 0; i < 1800 && kill(pid, 0) == 0; i++)
			usleep(100 * 1000);
		if (kill(pid, 0) == 0) {
			fprintf(stderr, "capstan down: the supervisor did not stop in 180 s\n");
			return 1;
		}
	} else {
		printf("capstan down: no supervisor running; cleaning up what is left\n");
		supervisor_cleanup(&c);
	}
	if (o.purge) {
		char marker[PATH_MAX + 32];

		/* Only ever remove a directory that `capstan up` made its own. */
		snprintf(marker, sizeof(marker), "%s/cluster.json", c.data_dir);
		if (access(marker, F_OK) != 0 || strcmp(c.data_dir, "/") == 0) {
			fprintf(stderr,
				"capstan down: %s is not a capstan data directory; "
				"not removing it\n",
				c.data_dir);
			return 1;
		}
		cluster_sh("rm -rf '%s'", c.data_dir);
		printf("capstan down: removed %s\n", c.data_dir);
	} else {
		printf("capstan down: stopped; data kept in %s (--purge removes it)\n", c.data_dir);
	}
	return 0;
}

int cluster_status_main(int argc, char **argv, const char *default_data_dir)
{
	struct up_opts o;
	struct cluster c;
	pid_t pid;
	bool none;
	int rc;

	if (!existing_cluster(argc, argv, default_data_dir, "status", &o, &c, &rc, &none))
		return rc;
	pid = supervisor_pid(&c);
	if (!pid) {
		printf("no cluster running in %s\n", c.data_dir);
		return 1;
	}
	printf("supervisor %d, data %s\n", (int)pid, c.data_dir);
	fflush(stdout);
	cluster_sh("cd '%s/pids' 2>/dev/null && for f in *.pid; do printf '  %%-22s pid %%s\\n' "
		   "\"${f%%.pid}\" \"$(cat $f)\"; done",
		   c.data_dir);
	return 0;
}
