/*
 * supervisor.c - the process that runs a local cluster (see cluster.h).
 *
 * Components are started in dependency order, each waited for (the API
 * server answering, containerd's socket) before what needs it. Then one
 * loop waits for signals: SIGCHLD reaps (the supervisor is a child
 * subreaper, so the runtime's orphaned shims are reaped here too) and a
 * component that died is started again after its back-off (1 s doubling to
 * 30 s, reset once it has run for a minute); SIGTERM or SIGINT stops
 * everything in reverse order and removes what the cluster made on the host.
 *
 * Every component's PID is written to DATA/pids/<name>.pid, so `capstan
 * down` can still stop them by PID if the supervisor itself was killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/kubelet/cri.h"
#include "cluster.h"
#include "httpc.h"
#include "log.h"
#include "util.h"

#define MAX_COMPONENTS (4 + 3 * CLUSTER_MAX_NODES)
#define MAX_ARGS 40
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define STABLE_NS (60ull * 1000000000ull)
#define NODE_DIR_MAX (PATH_MAX + 64)
#define NODE_PATH_MAX (PATH_MAX + 256)

struct component {
	char name[64]; /* "apiserver", "node2-kubelet" */
	char *argv[MAX_ARGS];
	int argc;
	char netns[64];	       /* "" = the host's */
	char cgroup[PATH_MAX]; /* cgroup v2 dir to join, "" = none */
	char log[PATH_MAX + 128];
	pid_t pid;
	unsigned backoff_ms;
	uint64_t started_ns, next_start_ns;
	unsigned restarts;
};

static struct component comps[MAX_COMPONENTS];
static int ncomps;
static const struct cluster *C;

static void arg(struct component *cp, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (cp->argc == MAX_ARGS - 1)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	cp->argv[cp->argc++] = s;
	cp->argv[cp->argc] = NULL;
}

static struct component *add(const char *name, const char *netns, const char *cgroup)
{
	struct component *cp = &comps[ncomps++];

	snprintf(cp->name, sizeof(cp->name), "%s", name);
	snprintf(cp->netns, sizeof(cp->netns), "%s", netns ? netns : "");
	snprintf(cp->cgroup, sizeof(cp->cgroup), "%s", cgroup ? cgroup : "");
	snprintf(cp->log, sizeof(cp->log), "%s/%s.log", C->data_dir, name);
	cp->backoff_ms = BACKOFF_MIN_MS;
	return cp;
}

static void pid_file(const struct component *cp, bool write)
{
	char path[PATH_MAX + 80];
	FILE *f;

	snprintf(path, sizeof(path), "%s/pids/%s.pid", C->data_dir, cp->name);
	if (!write) {
		unlink(path);
		return;
	}
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%d\n", (int)cp->pid);
		fclose(f);
	}
}

void cluster_redirect_stdio(const char *log)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		dup2(fd, 0);
}

/* In the child: cgroup, netns, log, then exec. Never returns. */
static void exec_component(const struct component *cp)
{
	int fd;

	if (cp->cgroup[0]) {
		char procs[PATH_MAX + 16];

		snprintf(procs, sizeof(procs), "%s/cgroup.procs", cp->cgroup);
		fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1) {
			fprintf(stderr, "%s: cannot join cgroup %s: %s\n", cp->name, cp->cgroup,
				strerror(errno));
			_exit(126);
		}
		close(fd);
	}
	if (cp->netns[0]) {
		char path[128];

		snprintf(path, sizeof(path), "/run/netns/%s", cp->netns);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
			fprintf(stderr, "%s: cannot enter netns %s: %s\n", cp->name, cp->netns,
				strerror(errno));
			_exit(126);
		}
		close(fd);
	}
	cluster_redirect_stdio(cp->log);
	execv(cp->argv[0], cp->argv);
	fprintf(stderr, "%s: exec %s: %s\n", cp->name, cp->argv[0], strerror(errno));
	_exit(127);
}

static int start(struct component *cp)
{
	sigset_t all;

	cp->pid = fork();
	if (cp->pid < 0) {
		log_error("%s: fork: %s", cp->name, strerror(errno));
		return -1;
	}
	if (cp->pid == 0) {
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		exec_component(cp);
	}
	cp->started_ns = now_mono_ns();
	pid_file(cp, true);
	log_info("%s: started (pid %d)%s", cp->name, (int)cp->pid, cp->restarts ? " again" : "");
	return 0;
}

/* TERM, wait up to grace_ms, KILL. Reaps. */
static void stop(struct component *cp, int grace_ms)
{
	int st;

	if (cp->pid <= 0)
		return;
	kill(cp->pid, SIGTERM);
	for (int waited = 0; waited < grace_ms; waited += 50) {
		if (waitpid(cp->pid, &st, WNOHANG) == cp->pid)
			goto gone;
		usleep(50 * 1000);
	}
	log_warn("%s: did not stop in %d ms, killing it", cp->name, grace_ms);
	kill(cp->pid, SIGKILL);
	waitpid(cp->pid, &st, 0);
gone:
	pid_file(cp, false);
	cp->pid = 0;
}

static bool http_ok(const char *url, const char *path)
{
	struct httpc_config hc = { .server = url, .timeout_ms = 2000, .connect_timeout_ms = 1000 };
	struct httpc *h = httpc_new(&hc);
	struct httpc_request req = { .path = path };
	struct httpc_response resp;
	bool ok = false;

	if (h && httpc_do(h, &req, &resp) == 0)
		ok = resp.status == 200;
	if (h)
		httpc_response_free(&resp);
	httpc_free(h);
	return ok;
}

static bool wait_until(bool (*fn)(const void *), const void *ctx, int seconds)
{
	for (int i = 0; i < seconds * 10; i++) {
		if (fn(ctx))
			return true;
		usleep(100 * 1000);
	}
	return false;
}

static bool apiserver_ready(const void *ctx)
{
	char url[64];

	snprintf(url, sizeof(url), "http://%s:%d", CLUSTER_HOST_IP, CLUSTER_API_PORT);
	return http_ok(url, "/readyz");
}

static bool file_exists(const void *path)
{
	return access(path, F_OK) == 0;
}

/* ---------------------------------------------------------------- per node */

static void node_dir(int i, char *buf, size_t len) /* buf: NODE_DIR_MAX */
{
	snprintf(buf, len, "%s/nodes/node%d", C->data_dir, i);
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -EIO;
}

static int write_containerd_config(int i)
{
	char dir[NODE_DIR_MAX], path[NODE_PATH_MAX], *cfg;
	int rc;

	node_dir(i, dir, sizeof(dir));
	cluster_sh("mkdir -p '%s/containerd/net.d' '%s/containerd/hosts.d' '%s/containerd/opt'",
		   dir, dir, dir);
	cfg = xasprintf(
		"# Written by capstan up: containerd for %s (cgroupfs, no systemd).\n"
		"version = 2\n"
		"root = \"%s/containerd/root\"\n"
		"state = \"%s/containerd/state\"\n"
		"[grpc]\n  address = \"%s/containerd/containerd.sock\"\n"
		"[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"%s/containerd/opt\"\n"
		"[plugins.\"io.containerd.grpc.v1.cri\"]\n"
		"  sandbox_image = \"capstan.local/pause:1\"\n"
		"  restrict_oom_score_adj = true\n"
		"  [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
		"    snapshotter = \"overlayfs\"\n"
		"    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
		"      runtime_type = \"io.containerd.runc.v2\"\n"
		"      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n"
		"        SystemdCgroup = false\n"
		"  [plugins.\"io.containerd.grpc.v1.cri\".cni]\n"
		"    bin_dir = \"%s/cni/bin\"\n"
		"    conf_dir = \"%s/containerd/net.d\"\n"
		"  [plugins.\"io.containerd.grpc.v1.cri\".registry]\n"
		"    config_path = \"%s/containerd/hosts.d\"\n",
		dir, dir, dir, dir, dir, C->build_dir, dir, dir);
	snprintf(path, sizeof(path), "%s/containerd/config.toml", dir);
	rc = write_file(path, cfg);
	free(cfg);
	if (rc)
		return rc;
	/* Pulls of capstan.local images go to the cluster's registry, over plain HTTP. */
	return cluster_sh("'%s/capstan' registry hosts --config-path '%s/containerd/hosts.d' "
			  "--host capstan.local --server http://%s:%d >/dev/null",
			  C->bin_dir, dir, CLUSTER_HOST_IP, CLUSTER_REGISTRY_PORT) == 0
		       ? 0
		       : -EIO;
}

static void add_node_components(int i)
{
	char name[64], dir[NODE_DIR_MAX], ns[64], ip[32], cidr[32], cg[PATH_MAX],
		sock[NODE_PATH_MAX];
	struct component *cp;

	node_dir(i, dir, sizeof(dir));
	cluster_node_netns(C, i, ns, sizeof(ns));
	cluster_node_ip(C, i, ip, sizeof(ip));
	cluster_node_cidr(i, cidr, sizeof(cidr));
	cluster_node_cgroup(C, i, cg, sizeof(cg));
	snprintf(sock, sizeof(sock), "%s/containerd/containerd.sock", dir);

	snprintf(name, sizeof(name), "node%d-containerd", i);
	cp = add(name, ns, cg);
	arg(cp, "/usr/bin/containerd");
	arg(cp, "--config");
	arg(cp, "%s/containerd/config.toml", dir);

	snprintf(name, sizeof(name), "node%d-kubelet", i);
	cp = add(name, ns, cg);
	arg(cp, "%s/capstan-kubelet", C->bin_dir);
	arg(cp, "--kubeconfig=%s/kubeconfig", C->data_dir);
	arg(cp, "--node-name=node%d", i);
	arg(cp, "--container-runtime-endpoint=unix://%s", sock);
	arg(cp, "--root-dir=%s/kubelet", dir);
	arg(cp, "--port=10250");
	arg(cp, "--node-ip=%s", ip);
	arg(cp, "--pod-cidr=%s", cidr);
	arg(cp, "--cni-bin-dir=%s/cni/bin", C->build_dir);
	arg(cp, "--cni-conf-dir=%s/containerd/net.d", dir);
	if (C->multi)
		arg(cp, "--cgroup-root=/capstan-node%d", i);

	snprintf(name, sizeof(name), "node%d-agent", i);
	cp = add(name, ns, cg);
	arg(cp, "%s/capstan-agent", C->bin_dir);
	arg(cp, "--kubeconfig=%s/kubeconfig", C->data_dir);
	arg(cp, "--node-name=node%d", i);
	arg(cp, "--service-cidr=%s", CLUSTER_SERVICE_CIDR);
	/* NodePorts on the node address, translated where packets enter the node. */
	arg(cp, "--node-ip=%s", ip);
	arg(cp, "--devices=%s", C->multi ? "eth0" : CLUSTER_BRIDGE);
	if (C->multi) {
		arg(cp, "--cgroup-path=%s", cg);
		arg(cp, "--bpffs-dir=/sys/fs/bpf/capstan-node%d", i);
		arg(cp, "--metrics-listen=127.0.0.1:9963");
	} else {
		arg(cp, "--bpffs-dir=/sys/fs/bpf/capstan");
		arg(cp, "--metrics-listen=%s:9963", CLUSTER_HOST_IP);
	}
}

/* Remove every pod sandbox of a node through CRI (CNI DEL included). */
static void remove_sandboxes(int i)
{
	char dir[NODE_DIR_MAX], ep[NODE_PATH_MAX], err[256];
	Runtime__V1__ListPodSandboxRequest lreq = RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__ListPodSandboxResponse *lresp = NULL;
	struct cri *cri = NULL;

	node_dir(i, dir, sizeof(dir));
	snprintf(ep, sizeof(ep), "unix://%s/containerd/containerd.sock", dir);
	if (access(ep + strlen("unix://"), F_OK) != 0)
		return; /* containerd is not running */
	if (cri_open(ep, &cri, err, sizeof(err)) < 0)
		return;
	if (cri_list_pod_sandbox(cri, &lreq, &lresp, err, sizeof(err)) == 0) {
		for (size_t k = 0; k < lresp->n_items; k++) {
			Runtime__V1__StopPodSandboxRequest sreq =
				RUNTIME__V1__STOP_POD_SANDBOX_REQUEST__INIT;
			Runtime__V1__RemovePodSandboxRequest rreq =
				RUNTIME__V1__REMOVE_POD_SANDBOX_REQUEST__INIT;
			Runtime__V1__StopPodSandboxResponse *sresp = NULL;
			Runtime__V1__RemovePodSandboxResponse *rresp = NULL;

			sreq.pod_sandbox_id = lresp->items[k]->id;
			rreq.pod_sandbox_id = lresp->items[k]->id;
			if (cri_stop_pod_sandbox(cri, &sreq, &sresp, err, sizeof(err)) != 0)
				log_warn("node%d: stop sandbox %s: %s", i, sreq.pod_sandbox_id,
					 err);
			if (cri_remove_pod_sandbox(cri, &rreq, &rresp, err, sizeof(err)) != 0)
				log_warn("node%d: remove sandbox %s: %s", i, rreq.pod_sandbox_id,
					 err);
			if (sresp)
				protobuf_c_message_free_unpacked(&sresp->base, NULL);
			if (rresp)
				protobuf_c_message_free_unpacked(&rresp->base, NULL);
		}
		log_info("node%d: removed %zu pod sandboxes", i, lresp->n_items);
		protobuf_c_message_free_unpacked(&lresp->base, NULL);
	} else {
		log_warn("node%d: listing sandboxes: %s", i, err);
	}
	cri_close(cri);
}

/* Unmount everything below dir (deepest first) and remove the cgroup roots. */
static void node_host_cleanup(int i)
{
	char dir[NODE_DIR_MAX];

	node_dir(i, dir, sizeof(dir));
	cluster_sh("awk -v d='%s/' 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | "
		   "sort -r | xargs -r -n1 umount -l 2>/dev/null",
		   dir);
	if (C->multi)
		cluster_sh(
			"for d in /sys/fs/cgroup/capstan-node%d /sys/fs/cgroup/*/capstan-node%d; "
			"do "
			"[ -d \"$d\" ] && find \"$d\" -depth -type d -exec rmdir {} + 2>/dev/null; "
			"done; true",
			i, i);
	else
		cluster_sh("for d in /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods; do [ -d "
			   "\"$d\" ] && "
			   "find \"$d\" -depth -type d -exec rmdir {} + 2>/dev/null; done; true");
	if (C->multi)
		cluster_sh("'%s/capstan-agent' --cleanup --bpffs-dir=/sys/fs/bpf/capstan-node%d "
			   ">/dev/null 2>&1",
			   C->bin_dir, i);
	else
		cluster_sh("'%s/capstan-agent' --cleanup --bpffs-dir=/sys/fs/bpf/capstan "
			   "--devices=" CLUSTER_BRIDGE " >/dev/null 2>&1",
			   C->bin_dir);
}

/* ---------------------------------------------------------------- lifecycle */

static struct component *find(const char *name)
{
	for (int i = 0; i < ncomps; i++)
		if (strcmp(comps[i].name, name) == 0)
			return &comps[i];
	return NULL;
}

static void shutdown_all(void)
{
	char name[64];

	log_info("stopping the cluster");
	for (int i = C->nodes; i >= 1; i--) {
		snprintf(name, sizeof(name), "node%d-agent", i);
		stop(find(name), 10000);
		snprintf(name, sizeof(name), "node%d-kubelet", i);
		stop(find(name), 10000);
	}
	stop(find("scheduler"), 10000);
	stop(find("controller-manager"), 10000);
	for (int i = C->nodes; i >= 1; i--) {
		remove_sandboxes(i);
		snprintf(name, sizeof(name), "node%d-containerd", i);
		stop(find(name), 15000);
	}
	for (int i = C->nodes; i >= 1; i--)
		node_host_cleanup(i);
	stop(find("apiserver"), 15000);
	stop(find("registry"), 5000);
	hostnet_teardown(C);
	for (int i = 1; C->multi && i <= C->nodes; i++)
		cluster_sh("rmdir '%s/capstan-node%d' 2>/dev/null", C->cgroup2, i);
	log_info("cluster stopped; the data directory %s is kept", C->data_dir);
}

static int prepare(void)
{
	cluster_sh("mkdir -p '%s/pids' '%s/registry'", C->data_dir, C->data_dir);
	if (hostnet_setup(C) < 0)
		return -1;
	for (int i = 1; i <= C->nodes; i++) {
		if (write_containerd_config(i) < 0) {
			log_error("node%d: cannot write the containerd configuration", i);
			return -1;
		}
		if (C->multi)
			cluster_sh("mkdir -p '%s/capstan-node%d'", C->cgroup2, i);
	}
	/* The registry store: the images built with capstan (adding is idempotent). */
	if (cluster_sh("'%s/capstan' registry add --dir '%s/registry' '%s'/images/*.tar >/dev/null",
		       C->bin_dir, C->data_dir, C->build_dir) != 0) {
		log_error("cannot add the images to the registry store");
		return -1;
	}
	return 0;
}

static int start_all(void)
{
	struct component *cp;
	char name[64], sock[NODE_PATH_MAX];

	cp = add("registry", NULL, NULL);
	arg(cp, "%s/capstan", C->bin_dir);
	arg(cp, "registry");
	arg(cp, "serve");
	arg(cp, "--dir=%s/registry", C->data_dir);
	arg(cp, "--listen=%s:%d", CLUSTER_HOST_IP, CLUSTER_REGISTRY_PORT);

	cp = add("apiserver", NULL, NULL);
	arg(cp, "%s/capstan-apiserver", C->bin_dir);
	arg(cp, "--data-dir=%s/apiserver", C->data_dir);
	arg(cp, "--listen=%s:%d", CLUSTER_HOST_IP, CLUSTER_API_PORT);
	arg(cp, "--advertise-address=%s", CLUSTER_HOST_IP);
	arg(cp, "--service-cluster-ip-range=%s", CLUSTER_SERVICE_CIDR);

	cp = add("controller-manager", NULL, NULL);
	arg(cp, "%s/capstan-controller-manager", C->bin_dir);
	arg(cp, "--kubeconfig=%s/kubeconfig", C->data_dir);
	arg(cp, "--node-monitor-grace-period=%us", C->node_grace_s);

	cp = add("scheduler", NULL, NULL);
	arg(cp, "%s/capstan-scheduler", C->bin_dir);
	arg(cp, "--kubeconfig=%s/kubeconfig", C->data_dir);

	for (int i = 1; i <= C->nodes; i++)
		add_node_components(i);

	/* Control plane first, each waited for. */
	if (start(find("registry")) < 0 || start(find("apiserver")) < 0)
		return -1;
	if (!wait_until(apiserver_ready, NULL, 60)) {
		log_error("the API server did not become ready (see %s/apiserver.log)",
			  C->data_dir);
		return -1;
	}
	if (start(find("controller-manager")) < 0 || start(find("scheduler")) < 0)
		return -1;
	for (int i = 1; i <= C->nodes; i++) {
		char dir[NODE_DIR_MAX];

		node_dir(i, dir, sizeof(dir));
		snprintf(name, sizeof(name), "node%d-containerd", i);
		if (start(find(name)) < 0)
			return -1;
		snprintf(sock, sizeof(sock), "%s/containerd/containerd.sock", dir);
		if (!wait_until(file_exists, sock, 60)) {
			log_error("node%d: containerd did not start (see %s/%s.log)", i,
				  C->data_dir, name);
			return -1;
		}
		/* Images present from the start: pods need no pull. */
		if (cluster_sh("'%s/capstan' image load --address '%s' '%s'/images/*.tar "
			       ">>'%s/%s.log' 2>&1",
			       C->bin_dir, sock, C->build_dir, C->data_dir, name) != 0)
			log_warn("node%d: loading the images failed (pods will pull them)", i);
		snprintf(name, sizeof(name), "node%d-kubelet", i);
		if (start(find(name)) < 0)
			return -1;
		snprintf(name, sizeof(name), "node%d-agent", i);
		if (start(find(name)) < 0)
			return -1;
	}
	return 0;
}

/* A component died: schedule its restart. */
static void died(struct component *cp, int st)
{
	uint64_t now = now_mono_ns();

	if (WIFEXITED(st))
		log_warn("%s: exited with status %d", cp->name, WEXITSTATUS(st));
	else
		log_warn("%s: killed by signal %d", cp->name, WTERMSIG(st));
	if (now - cp->started_ns > STABLE_NS)
		cp->backoff_ms = BACKOFF_MIN_MS;
	cp->next_start_ns = now + (uint64_t)cp->backoff_ms * 1000000ull;
	log_info("%s: restarting in %u ms", cp->name, cp->backoff_ms);
	cp->backoff_ms = MIN(cp->backoff_ms * 2, (unsigned)BACKOFF_MAX_MS);
	cp->pid = 0;
	pid_file(cp, false);
}

/*
 * `capstan down` when the supervisor is gone (killed): stop what the PID
 * files in DATA/pids name, then remove what the cluster made on the host. Pod sandboxes
 * cannot be removed through a containerd that is gone; their network
 * namespaces are then left to the next `capstan up`'s kubelet sweep.
 */
void supervisor_cleanup(const struct cluster *c)
{
	char path[PATH_MAX + 32];

	C = c;
	for (int i = 1; i <= c->nodes; i++)
		remove_sandboxes(i);
	cluster_sh("for f in '%s'/pids/*.pid; do [ -f \"$f\" ] || continue; p=$(cat \"$f\"); "
		   "grep -qa -e capstan -e containerd /proc/$p/cmdline 2>/dev/null && "
		   "kill -TERM $p; rm -f \"$f\"; done; sleep 2",
		   c->data_dir);
	for (int i = 1; i <= c->nodes; i++)
		node_host_cleanup(i);
	hostnet_teardown(c);
	for (int i = 1; c->multi && i <= c->nodes; i++)
		cluster_sh("rmdir '%s/capstan-node%d' 2>/dev/null", C->cgroup2, i);
	snprintf(path, sizeof(path), "%s/supervisor.pid", c->data_dir);
	unlink(path);
}

int supervisor_run(const struct cluster *c)
{
	sigset_t set;
	char path[PATH_MAX + 32];
	FILE *f;
	int rc = 0;

	C = c;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	snprintf(path, sizeof(path), "%s/supervisor.pid", c->data_dir);
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
	log_info("supervising a %d-node cluster in %s", c->nodes, c->data_dir);
	if (prepare() < 0 || start_all() < 0) {
		rc = 1;
		goto out;
	}
	for (;;) {
		struct timespec ts = { .tv_nsec = 200 * 1000000 };
		siginfo_t si;
		int sig = sigtimedwait(&set, &si, &ts);
		pid_t pid;
		int st;

		if (sig == SIGTERM || sig == SIGINT)
			break;
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
			for (int i = 0; i < ncomps; i++)
				if (comps[i].pid == pid)
					died(&comps[i], st);
		}
		for (int i = 0; i < ncomps; i++) {
			struct component *cp = &comps[i];

			if (!cp->pid && cp->next_start_ns && now_mono_ns() >= cp->next_start_ns) {
				cp->restarts++;
				cp->next_start_ns = 0;
				start(cp);
			}
		}
	}
out:
	shutdown_all();
	unlink(path);
	return rc;
}
