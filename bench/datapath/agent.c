/* agent.c - see agent.h. */
#include "agent.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "abi.h"
#include "agent/lb/loader.h"
#include "proc.h"
#include "topo.h"
#include "util.h"

/* The List, the measured (last) service with last_nep endpoints, the others nep. */
static int write_static(FILE *f, int nsvc, int nep, int last_nep)
{
	char addr[32], pod[32];

	if (nsvc < 1 || nep < 1 || nep > TOPO_MAX_PODS || last_nep < 1 || last_nep > nep)
		return -EINVAL;
	fputs("{\"apiVersion\":\"v1\",\"kind\":\"List\",\"metadata\":{},\"items\":[\n", f);
	for (int i = 0; i < nsvc; i++) {
		/* The measured one is also a NodePort (TOPO_NODEPORT), for the tc/XDP paths. */
		bool measured = i == nsvc - 1;
		char node_port[32] = "";

		if (measured)
			snprintf(node_port, sizeof(node_port), ",\"nodePort\":%d", TOPO_NODEPORT);
		topo_svc_addr(i, nsvc, addr, sizeof(addr));
		fprintf(f,
			"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
			"\"svc-%05d\",\"namespace\":\"bench\"},\"spec\":{\"type\":\"%s\","
			"\"clusterIP\":\"%s\",\"clusterIPs\":[\"%s\"],\"ipFamilies\":[\"IPv4\"],"
			"\"ipFamilyPolicy\":\"SingleStack\",\"sessionAffinity\":\"None\","
			"\"internalTrafficPolicy\":\"Cluster\",\"ports\":[{\"name\":\"http\","
			"\"protocol\":\"TCP\",\"port\":%d,\"targetPort\":%d%s}],\"selector\":"
			"{\"app\":\"svc-%05d\"}}},\n",
			i, measured ? "NodePort" : "ClusterIP", addr, addr, TOPO_SVC_PORT,
			TOPO_POD_PORT, node_port, i);
		fprintf(f,
			"{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\","
			"\"metadata\":{\"name\":\"svc-%05d-b0\",\"namespace\":\"bench\",\"labels\":"
			"{\"kubernetes.io/"
			"service-name\":\"svc-%05d\",\"endpointslice.kubernetes.io/"
			"managed-by\":\"endpointslice-controller.k8s.io\"}},\"addressType\":"
			"\"IPv4\","
			"\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":%d}],"
			"\"endpoints\":[",
			i, i, TOPO_POD_PORT);
		for (int e = 0; e < (i == nsvc - 1 ? last_nep : nep); e++) {
			topo_pod_addr(e, pod, sizeof(pod));
			fprintf(f,
				"%s{\"addresses\":[\"%s\"],\"conditions\":{\"ready\":true,"
				"\"serving\":true,\"terminating\":false},\"nodeName\":\"%s\"}",
				e ? "," : "", pod, TOPO_NODE_NAME);
		}
		fprintf(f, "]}%s\n", i < nsvc - 1 ? "," : "");
	}
	/*
	 * The packet-rate service (flood.h): UDP, a NodePort, its endpoints on
	 * "another node" so the NodePort path SNATs and redirects.
	 */
	fprintf(f,
		",{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"pps\","
		"\"namespace\":\"bench\"},\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"%s\","
		"\"clusterIPs\":[\"%s\"],\"ports\":[{\"name\":\"udp\",\"protocol\":\"UDP\","
		"\"port\":%d,\"targetPort\":%d,\"nodePort\":%d}],\"selector\":{\"app\":\"pps\"}}},"
		"\n"
		"{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":"
		"{\"name\":\"pps-b0\",\"namespace\":\"bench\",\"labels\":{\"kubernetes.io/"
		"service-name\":\"pps\"}},\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"udp\","
		"\"protocol\":\"UDP\",\"port\":%d}],\"endpoints\":[",
		TOPO_PPS_SVC_ADDR, TOPO_PPS_SVC_ADDR, TOPO_SVC_PORT, TOPO_POD_PORT,
		TOPO_PPS_NODEPORT, TOPO_POD_PORT);
	for (int e = 0; e < nep; e++) {
		topo_pod_addr(e, pod, sizeof(pod));
		fprintf(f,
			"%s{\"addresses\":[\"%s\"],\"conditions\":{\"ready\":true},"
			"\"nodeName\":\"other-node\"}",
			e ? "," : "", pod);
	}
	fputs("]}\n]}\n", f);
	return ferror(f) ? -EIO : 0;
}

int agent_write_static(FILE *f, int nsvc, int nep)
{
	return write_static(f, nsvc, nep, nep);
}

int agent_write_static_change(FILE *f, int nsvc, int nep)
{
	return nep < 2 ? -EINVAL : write_static(f, nsvc, nep, nep - 1);
}

static int make_bpffs(struct agent *a, const char *workdir, const char *tag)
{
	snprintf(a->bpffs, sizeof(a->bpffs), "%s/bpffs-%s", workdir, tag);
	if (mkdir(a->bpffs, 0700) < 0)
		return -errno;
	if (mount("bpf", a->bpffs, "bpf", 0, "mode=0700") < 0) {
		int err = -errno;

		rmdir(a->bpffs);
		return err;
	}
	a->bpffs_mounted = true;
	return 0;
}

static int make_cgroup(struct agent *a, const char *tag)
{
	char root[400];
	int err = lb_loader_find_cgroup2(root, sizeof(root));

	if (err < 0)
		return err;
	snprintf(a->cgroup, sizeof(a->cgroup), "%s/capstan-bench-%d-%s", root, (int)getpid(), tag);
	if (mkdir(a->cgroup, 0755) < 0)
		return -errno;
	a->cgroup_made = true;
	return 0;
}

/* In the agent's child, in its netns: a port nobody listens on, from bind(0). */
static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, len) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

int agent_start(struct agent *a, const char *binary, const char *static_path, const char *netns,
		const char *workdir, const char *tag, const char *const *extra, char *err,
		size_t errlen)
{
	struct proc_opts o = { .netns = netns };
	int pfd[2] = { -1, -1 }, rc;
	ssize_t n;

	memset(a, 0, sizeof(*a));
	snprintf(a->netns, sizeof(a->netns), "%s", netns);
	snprintf(a->log, sizeof(a->log), "%s/agent-%s.log", workdir, tag);
	o.output_path = a->log;
	rc = make_bpffs(a, workdir, tag);
	if (rc < 0) {
		snprintf(err, errlen, "mount bpffs %s: %s", a->bpffs, strerror(-rc));
		goto out;
	}
	rc = make_cgroup(a, tag);
	if (rc < 0) {
		snprintf(err, errlen, "make cgroup %s: %s", a->cgroup, strerror(-rc));
		goto out;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		rc = -errno;
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto out;
	}
	a->started = proc_now();
	a->pid = proc_fork(&o);
	if (a->pid < 0) {
		rc = a->pid;
		a->pid = 0;
		snprintf(err, errlen, "fork: %s", strerror(-rc));
		goto out;
	}
	if (a->pid == 0) {
		char listen[32];
		const char *argv[32] = { binary,	"--static",	    static_path,
					 "--bpffs-dir", a->bpffs,	    "--cgroup-path",
					 a->cgroup,	"--metrics-listen", listen };
		int port = free_port(), argc = 9;

		if (port < 0 || write(pfd[1], &port, sizeof(port)) != sizeof(port))
			_exit(126);
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
		for (; extra && *extra && argc < 31; extra++)
			argv[argc++] = *extra;
		argv[argc] = NULL;
		/* The PDEATHSIG set by proc_fork survives exec: the agent dies with us. */
		execv(binary, (char *const *)argv);
		fprintf(stderr, "capstan-bench-datapath: exec %s: %s\n", binary, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	pfd[1] = -1;
	n = read(pfd[0], &a->port, sizeof(a->port));
	if (n != sizeof(a->port)) {
		rc = -EIO;
		snprintf(err, errlen, "the agent's child could not find a free port");
		goto out;
	}
	rc = 0;
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	return rc;
}

/* GET /healthz on 127.0.0.1:port (this thread's netns): the HTTP status, or -errno. */
static int healthz(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 1 };
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				  "Connection: close\r\n\r\n";
	char resp[64] = "";
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), status = -EIO;
	size_t got = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
		status = -errno;
		goto out;
	}
	while (got < sizeof(resp) - 1 && (n = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
		got += n;
	resp[got] = '\0';
	if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
		status = -EPROTO;
out:
	close(fd);
	return status;
}

/* The pinned services map: DIR/capstan_svc_v2, or below DIR (depth 3). -errno when absent. */
static int find_svc_map(const char *dir, int depth)
{
	char *path = xasprintf("%s/%s", dir, CAPSTAN_MAP_SVC);
	int fd = bpf_obj_get(path);
	struct dirent *de;
	DIR *d;

	free(path);
	if (fd >= 0 || depth == 0)
		return fd >= 0 ? fd : -ENOENT;
	d = opendir(dir);
	if (!d)
		return -ENOENT;
	while (fd < 0 && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		fd = find_svc_map(path, depth - 1);
		free(path);
	}
	closedir(d);
	return fd >= 0 ? fd : -ENOENT;
}

/* The measured service (and, with nodeport, its NodePort's external view) has nep backends. */
static bool measured_programmed(int map_fd, int nep, bool nodeport)
{
	struct capstan_svc_key key;
	struct capstan_svc_val val;

	memset(&key, 0, sizeof(key)); /* the key is compared as bytes, padding included */
	inet_pton(AF_INET, TOPO_SVC_ADDR, &key.addr);
	key.port = htons(TOPO_SVC_PORT);
	key.proto = IPPROTO_TCP;
	if (bpf_map_lookup_elem(map_fd, &key, &val) != 0 || val.count != nep)
		return false;
	if (!nodeport)
		return true;
	inet_pton(AF_INET, TOPO_NODE_ADDR, &key.addr);
	key.port = htons(TOPO_NODEPORT);
	key.scope = CAPSTAN_SCOPE_EXTERNAL;
	return bpf_map_lookup_elem(map_fd, &key, &val) == 0 && val.count == nep;
}

/* Service ports in the map: its slot-0 entries. */
static long count_services(int map_fd)
{
	struct capstan_svc_key key, next;
	long n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(map_fd, prev, &next) == 0) {
		if (next.slot == 0)
			n++;
		key = next;
		prev = &key;
	}
	return n;
}

struct waiter {
	struct agent *a;
	int nsvc, nep;
	double deadline;
	double healthz_s, maps_s;
	int err;
	char why[256];
};

static bool agent_exited(pid_t pid)
{
	siginfo_t si = { 0 };

	/* WNOWAIT: look, but leave the zombie for agent_stop to reap. */
	return waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	char path[96]; /* "/run/netns/" and a netns name of at most 63 bytes */
	int nsfd, map_fd = -1;

	/* setns() moves only this thread: the benchmark's other threads stay where they are. */
	snprintf(path, sizeof(path), "/run/netns/%s", w->a->netns);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0) {
		w->err = -errno;
		snprintf(w->why, sizeof(w->why), "enter %s: %s", path, strerror(errno));
		goto out;
	}
	while (w->healthz_s < 0 || w->maps_s < 0) {
		struct timespec pause = { .tv_nsec = 5 * 1000 * 1000 };
		double now = proc_now();

		if (proc_interrupted) {
			w->err = -EINTR;
			snprintf(w->why, sizeof(w->why), "interrupted");
			break;
		}
		if (agent_exited(w->a->pid)) {
			w->err = -ESRCH;
			snprintf(w->why, sizeof(w->why),
				 "capstan-agent exited before it was ready");
			break;
		}
		if (now > w->deadline) {
			w->err = -ETIMEDOUT;
			snprintf(w->why, sizeof(w->why),
				 "not ready after %.0f s (/healthz 200: %s, services map full: %s)",
				 now - w->a->started, w->healthz_s < 0 ? "no" : "yes",
				 w->maps_s < 0 ? "no" : "yes");
			break;
		}
		if (w->healthz_s < 0 && healthz(w->a->port) == 200)
			w->healthz_s = proc_now() - w->a->started;
		if (map_fd < 0)
			map_fd = find_svc_map(w->a->bpffs, 3);
		if (w->maps_s < 0 && map_fd >= 0 &&
		    measured_programmed(map_fd, w->nep, w->a->want_nodeport) &&
		    count_services(map_fd) >= w->nsvc)
			w->maps_s = proc_now() - w->a->started;
		nanosleep(&pause, NULL);
	}
out:
	if (map_fd >= 0)
		close(map_fd);
	if (nsfd >= 0)
		close(nsfd);
	return NULL;
}

int agent_wait_programmed(struct agent *a, int nsvc, int nep, double timeout_s, double *healthz_s,
			  double *maps_s, char *err, size_t errlen)
{
	struct waiter w = { .a = a,
			    .nsvc = nsvc,
			    .nep = nep,
			    .deadline = a->started + timeout_s,
			    .healthz_s = -1,
			    .maps_s = -1 };
	pthread_t th;
	int rc;

	rc = pthread_create(&th, NULL, waiter_main, &w);
	if (rc) {
		snprintf(err, errlen, "pthread_create: %s", strerror(rc));
		return -rc;
	}
	pthread_join(th, NULL);
	if (w.err) {
		snprintf(err, errlen, "%s", w.why);
		return w.err;
	}
	*healthz_s = w.healthz_s;
	*maps_s = w.maps_s;
	return 0;
}

/* The measured service's slot-0 count, or -1. */
static int measured_count(int map_fd)
{
	struct capstan_svc_key key;
	struct capstan_svc_val val;

	memset(&key, 0, sizeof(key));
	inet_pton(AF_INET, TOPO_SVC_ADDR, &key.addr);
	key.port = htons(TOPO_SVC_PORT);
	key.proto = IPPROTO_TCP;
	return bpf_map_lookup_elem(map_fd, &key, &val) == 0 ? val.count : -1;
}

/* The duration of the last "sync (...)" line after offset in the log, in seconds, or -1. */
static double last_sync_s(const char *log, long offset)
{
	FILE *f = fopen(log, "r");
	char line[1024];
	double ms = -1, v;

	if (!f)
		return -1;
	fseek(f, offset, SEEK_SET);
	while (fgets(line, sizeof(line), f)) {
		const char *in = strstr(line, " errors in ");

		if (strstr(line, "sync (") && in && sscanf(in, " errors in %lf ms", &v) == 1)
			ms = v;
	}
	fclose(f);
	return ms < 0 ? -1 : ms / 1e3;
}

int agent_apply_change(struct agent *a, int want, double timeout_s, double *e2e_s, double *sync_s,
		       char *err, size_t errlen)
{
	int fd = find_svc_map(a->bpffs, 3), rc = 0;
	struct stat st;
	long offset = stat(a->log, &st) == 0 ? (long)st.st_size : 0;
	double t0, deadline;

	if (fd < 0) {
		snprintf(err, errlen, "no services map under %s", a->bpffs);
		return fd;
	}
	t0 = proc_now();
	deadline = t0 + timeout_s;
	kill(a->pid, SIGHUP);
	while (measured_count(fd) != want) {
		if (proc_interrupted || proc_now() > deadline) {
			rc = proc_interrupted ? -EINTR : -ETIMEDOUT;
			snprintf(err, errlen, "the change was not applied within %.0f s",
				 timeout_s);
			goto out;
		}
		usleep(50);
	}
	*e2e_s = proc_now() - t0;
	/* The sync's own line follows its last map write. */
	for (int i = 0; i < 200 && (*sync_s = last_sync_s(a->log, offset)) < 0; i++)
		usleep(5000);
	if (*sync_s < 0) {
		rc = -EIO;
		snprintf(err, errlen, "no sync line in %s after the change", a->log);
	}
out:
	close(fd);
	return rc;
}

void agent_stop(struct agent *a)
{
	proc_stop(a->pid, 5);
	a->pid = 0;
	if (a->bpffs_mounted) {
		/* Unmounting drops every pin, and with the pinned links the programs. */
		umount2(a->bpffs, MNT_DETACH);
		rmdir(a->bpffs);
		a->bpffs_mounted = false;
	}
	if (a->cgroup_made) {
		/* A client that just exited may take a moment to leave the cgroup. */
		for (int i = 0; i < 100 && rmdir(a->cgroup) < 0 && errno == EBUSY; i++)
			usleep(10 * 1000);
		a->cgroup_made = false;
	}
}
