/* node.c - the kubelet's Node; see node.h for the design. */
#include "agent/kubelet/node.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "agent/kubelet/config.h"
#include "agent/lb/route.h"
#include "jsonx.h"
#include "ktime.h"
#include "log.h"
#include "quantity.h"
#include "util.h"

#define NODE_CHECK_MS 10000
#define NODE_CIDR_POLL_MS 1000
#define NODE_RETRY_MIN_MS 500
#define NODE_RETRY_MAX_MS 30000

/* ---------------------------------------------------------------- machine facts */

/* The first line of a small file, trimmed. 0 or -errno; buf is "" on failure. */
static int read_line(const char *host_root, const char *path, char *buf, size_t len)
{
	char full[PATH_MAX];
	FILE *f;
	size_t n;

	buf[0] = '\0';
	snprintf(full, sizeof(full), "%s%s", host_root, path);
	f = fopen(full, "re");
	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	n = strlen(buf);
	while (n && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	return 0;
}

static FILE *open_at(const char *host_root, const char *path)
{
	char full[PATH_MAX];

	snprintf(full, sizeof(full), "%s%s", host_root, path);
	return fopen(full, "re");
}

static int read_meminfo(const char *host_root, struct node_facts *f)
{
	FILE *fp = open_at(host_root, "/proc/meminfo");
	char line[256];
	int err;

	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		unsigned long long kib;

		if (sscanf(line, "MemTotal: %llu kB", &kib) == 1)
			f->mem_total = kib * 1024;
		else if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
			f->mem_available = kib * 1024;
	}
	err = f->mem_total ? 0 : -EINVAL;
	fclose(fp);
	return err;
}

/* "0-3,8,10-11" -> 7. 0 when the list does not parse. */
static unsigned count_cpu_list(const char *s)
{
	unsigned n = 0;

	while (*s) {
		char *end;
		unsigned long a = strtoul(s, &end, 10), b = a;

		if (end == s)
			return 0;
		if (*end == '-') {
			s = end + 1;
			b = strtoul(s, &end, 10);
			if (end == s || b < a)
				return 0;
		}
		n += (unsigned)(b - a + 1);
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			return 0;
	}
	return n;
}

/* PRETTY_NAME from os-release, unquoted. */
static void read_os_image(const char *host_root, char *buf, size_t len)
{
	static const char *const files[] = { "/etc/os-release", "/usr/lib/os-release" };
	char line[512];

	snprintf(buf, len, "Linux");
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		FILE *fp = open_at(host_root, files[i]);

		if (!fp)
			continue;
		while (fgets(line, sizeof(line), fp)) {
			char *v, *end;

			if (strncmp(line, "PRETTY_NAME=", 12) != 0)
				continue;
			v = line + 12;
			v[strcspn(v, "\r\n")] = '\0';
			end = v + strlen(v);
			if ((*v == '"' || *v == '\'') && end > v + 1 && end[-1] == *v) {
				end[-1] = '\0';
				v++;
			}
			if (*v)
				snprintf(buf, len, "%.*s", (int)len - 1, v);
			break;
		}
		fclose(fp);
		return;
	}
}

const char *node_goarch(const char *machine)
{
	static const struct {
		const char *uname, *go;
	} map[] = {
		{ "x86_64", "amd64" },	  { "aarch64", "arm64" },   { "arm64", "arm64" },
		{ "i686", "386" },	  { "i386", "386" },	    { "armv7l", "arm" },
		{ "armv6l", "arm" },	  { "ppc64le", "ppc64le" }, { "s390x", "s390x" },
		{ "riscv64", "riscv64" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (strcmp(machine, map[i].uname) == 0)
			return map[i].go;
	return machine;
}

int node_facts_collect(const char *host_root, const char *root_dir, struct node_facts *out)
{
	struct node_facts f = { 0 };
	struct statvfs vfs;
	struct utsname u;
	char line[256];
	int err;

	err = read_meminfo(host_root, &f);
	if (read_line(host_root, "/sys/devices/system/cpu/online", line, sizeof(line)) == 0)
		f.cpus = count_cpu_list(line);
	if (!f.cpus) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		f.cpus = n > 0 ? (unsigned)n : 1;
	}
	if (statvfs(root_dir, &vfs) == 0) {
		f.disk_total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
		f.disk_available = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	}
	if (read_line(host_root, "/proc/sys/kernel/pid_max", line, sizeof(line)) == 0)
		f.pid_max = strtoull(line, NULL, 10);
	/* The fourth field of loadavg is running/total scheduling entities. */
	if (read_line(host_root, "/proc/loadavg", line, sizeof(line)) == 0) {
		unsigned long long running, total;

		if (sscanf(line, "%*s %*s %*s %llu/%llu", &running, &total) == 2)
			f.pids = total;
	}
	read_line(host_root, "/etc/machine-id", f.machine_id, sizeof(f.machine_id));
	read_line(host_root, "/sys/class/dmi/id/product_uuid", f.system_uuid,
		  sizeof(f.system_uuid));
	read_line(host_root, "/proc/sys/kernel/random/boot_id", f.boot_id, sizeof(f.boot_id));
	read_os_image(host_root, f.os_image, sizeof(f.os_image));
	uname(&u);
	if (read_line(host_root, "/proc/sys/kernel/osrelease", f.kernel_version,
		      sizeof(f.kernel_version)) < 0 ||
	    !f.kernel_version[0])
		snprintf(f.kernel_version, sizeof(f.kernel_version), "%s", u.release);
	snprintf(f.arch, sizeof(f.arch), "%.*s", (int)sizeof(f.arch) - 1, node_goarch(u.machine));
	*out = f;
	return err;
}

struct node_pressure node_pressure_of(const struct node_facts *f)
{
	struct node_pressure p = { 0 };

	p.memory = f->mem_total && f->mem_available < NODE_MEMORY_AVAILABLE_MIN;
	p.disk = f->disk_total &&
		 f->disk_available * 100 < f->disk_total * NODE_DISK_AVAILABLE_MIN_PCT;
	p.pid = f->pid_max && f->pids * 100 > f->pid_max * (100 - NODE_PID_AVAILABLE_MIN_PCT);
	return p;
}

/* ---------------------------------------------------------------- status */

static json_t *bytes_quantity(uint64_t bytes)
{
	struct quantity q =
		quantity_from_value((int64_t)MIN(bytes, (uint64_t)INT64_MAX), QUANTITY_BINARY_SI);
	char buf[QUANTITY_BUFSZ];

	quantity_format(&q, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *resources(const struct node_facts *f, bool allocatable)
{
	json_t *r = json_object();
	uint64_t mem = f->mem_total, disk = f->disk_total;

	if (allocatable) {
		/* Upstream: capacity minus the hard eviction thresholds. */
		mem = mem > NODE_MEMORY_AVAILABLE_MIN ? mem - NODE_MEMORY_AVAILABLE_MIN : 0;
		disk -= (uint64_t)((double)disk * NODE_DISK_AVAILABLE_MIN_PCT / 100.0);
	}
	json_object_set_new(r, "cpu", json_sprintf("%u", f->cpus));
	json_object_set_new(r, "memory", bytes_quantity(mem));
	if (f->disk_total)
		json_object_set_new(r, "ephemeral-storage", bytes_quantity(disk));
	json_object_set_new(r, "pods", json_sprintf("%d", NODE_MAX_PODS));
	return r;
}

static const json_t *find_condition(const json_t *conds, const char *type)
{
	size_t i;
	json_t *c;

	json_array_foreach(conds, i, c)
		if (strcmp(jsonx_str(c, "type", ""), type) == 0)
			return c;
	return NULL;
}

static void add_condition(json_t *conds, const json_t *prev_conds, const char *type, bool status,
			  const char *reason, const char *message, const char *now)
{
	const json_t *old = find_condition(prev_conds, type);
	const char *st = status ? "True" : "False";
	const char *since = now;

	if (old && strcmp(jsonx_str(old, "status", ""), st) == 0)
		since = jsonx_str(old, "lastTransitionTime", now);
	json_array_append_new(conds,
			      json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", type, "status",
					st, "lastHeartbeatTime", now, "lastTransitionTime", since,
					"reason", reason, "message", message));
}

json_t *node_status_build(const struct node_status_input *in, const json_t *prev_status)
{
	const struct node_facts *f = in->facts;
	const json_t *prev = jsonx_arr(prev_status, "conditions");
	struct node_pressure p = node_pressure_of(f);
	bool runtime_ok = !in->runtime_problem || !*in->runtime_problem;
	char now[KTIME_BUFSZ];
	json_t *st, *conds = json_array();

	ktime_format(in->now_ns, now, sizeof(now));
	add_condition(conds, prev, "MemoryPressure", p.memory,
		      p.memory ? "KubeletHasInsufficientMemory" : "KubeletHasSufficientMemory",
		      p.memory ? "kubelet has insufficient memory available"
			       : "kubelet has sufficient memory available",
		      now);
	add_condition(conds, prev, "DiskPressure", p.disk,
		      p.disk ? "KubeletHasDiskPressure" : "KubeletHasNoDiskPressure",
		      p.disk ? "kubelet has disk pressure" : "kubelet has no disk pressure", now);
	add_condition(conds, prev, "PIDPressure", p.pid,
		      p.pid ? "KubeletHasInsufficientPID" : "KubeletHasSufficientPID",
		      p.pid ? "kubelet has insufficient PID available"
			    : "kubelet has sufficient PID available",
		      now);
	if (runtime_ok && in->network_configured)
		add_condition(conds, prev, "Ready", true, "KubeletReady",
			      "kubelet is posting ready status", now);
	else
		add_condition(conds, prev, "Ready", false, "KubeletNotReady",
			      !runtime_ok ? in->runtime_problem
					  : "pod network not configured: waiting for the node's "
					    "pod CIDR",
			      now);

	st = json_pack("{s:o, s:o, s:o, s:[{s:s, s:s}, {s:s, s:s}], s:{s:{s:i}}, "
		       "s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}}",
		       "capacity", resources(f, false), "allocatable", resources(f, true),
		       "conditions", conds, "addresses", "type", "InternalIP", "address",
		       in->node_ip, "type", "Hostname", "address", in->node_name, "daemonEndpoints",
		       "kubeletEndpoint", "Port", in->port, "nodeInfo", "machineID", f->machine_id,
		       "systemUUID", f->system_uuid, "bootID", f->boot_id, "kernelVersion",
		       f->kernel_version, "osImage", f->os_image, "containerRuntimeVersion",
		       in->runtime_version ? in->runtime_version : "", "kubeletVersion",
		       KUBELET_VERSION, "kubeProxyVersion", "", "operatingSystem", "linux",
		       "architecture", f->arch);
	return st;
}

static json_t *without_heartbeats(const json_t *status)
{
	json_t *c = json_deep_copy(status), *cond;
	size_t i;

	json_array_foreach(jsonx_arr(c, "conditions"), i, cond)
		json_object_del(cond, "lastHeartbeatTime");
	return c;
}

bool node_status_differs(const json_t *a, const json_t *b)
{
	json_t *x, *y;
	bool differ;

	if (!a || !b)
		return a != b;
	x = without_heartbeats(a);
	y = without_heartbeats(b);
	differ = !jsonx_equal(x, y);
	json_decref(x);
	json_decref(y);
	return differ;
}

json_t *node_object_build(const char *name, const struct node_facts *f, const char *pod_cidr)
{
	json_t *node = json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s, s:s, s:s, s:s}}, s:{}}",
				 "apiVersion", "v1", "kind", "Node", "metadata", "name", name,
				 "labels", "kubernetes.io/hostname", name, "kubernetes.io/os",
				 "linux", "kubernetes.io/arch", f->arch, "beta.kubernetes.io/os",
				 "linux", "beta.kubernetes.io/arch", f->arch, "spec");

	if (pod_cidr && *pod_cidr) {
		json_t *spec = json_object_get(node, "spec");

		json_object_set_new(spec, "podCIDR", json_string(pod_cidr));
		json_object_set_new(spec, "podCIDRs", json_pack("[s]", pod_cidr));
	}
	return node;
}

json_t *node_lease_build(const json_t *existing, const char *node, const char *node_uid,
			 int duration_s, int64_t now_ns)
{
	char now[KTIME_BUFSZ];
	json_t *l, *md, *spec;

	l = existing ? json_deep_copy(existing) : json_object();
	json_object_set_new(l, "apiVersion", json_string("coordination.k8s.io/v1"));
	json_object_set_new(l, "kind", json_string("Lease"));
	md = jsonx_obj(l, "metadata");
	if (!md) {
		md = json_object();
		json_object_set_new(l, "metadata", md);
	}
	json_object_set_new(md, "name", json_string(node));
	json_object_set_new(md, "namespace", json_string(NODE_LEASE_NAMESPACE));
	if (node_uid && *node_uid && !jsonx_arr(md, "ownerReferences"))
		json_object_set_new(md, "ownerReferences",
				    json_pack("[{s:s, s:s, s:s, s:s}]", "apiVersion", "v1", "kind",
					      "Node", "name", node, "uid", node_uid));
	spec = jsonx_obj(l, "spec");
	if (!spec) {
		spec = json_object();
		json_object_set_new(l, "spec", spec);
	}
	ktime_format_micro(now_ns, now, sizeof(now));
	json_object_set_new(spec, "holderIdentity", json_string(node));
	json_object_set_new(spec, "leaseDurationSeconds", json_integer(duration_s));
	json_object_set_new(spec, "renewTime", json_string(now));
	return l;
}

static const Runtime__V1__RuntimeCondition *runtime_condition(const Runtime__V1__StatusResponse *r,
							      const char *type)
{
	if (!r->status)
		return NULL;
	for (size_t i = 0; i < r->status->n_conditions; i++)
		if (r->status->conditions[i]->type &&
		    strcmp(r->status->conditions[i]->type, type) == 0)
			return r->status->conditions[i];
	return NULL;
}

void node_runtime_problem(const Runtime__V1__StatusResponse *resp, char *buf, size_t len)
{
	static const struct {
		const char *type, *what;
	} need[] = { { "RuntimeReady", "container runtime not ready" },
		     { "NetworkReady", "container runtime network not ready" } };

	buf[0] = '\0';
	if (!resp->status) {
		snprintf(buf, len, "container runtime status check may not have completed yet");
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
		const Runtime__V1__RuntimeCondition *c = runtime_condition(resp, need[i].type);

		if (!c) {
			snprintf(buf, len, "%s: %s condition missing", need[i].what, need[i].type);
			return;
		}
		if (!c->status) {
			snprintf(buf, len, "%s: %s=false reason:%s message:%s", need[i].what,
				 need[i].type, c->reason ? c->reason : "",
				 c->message ? c->message : "");
			return;
		}
	}
}

/* ---------------------------------------------------------------- CNI configuration */

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Is the file at path exactly data? */
static bool file_equals(const char *path, const char *data, size_t len)
{
	char *cur = xmalloc(len + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, cur, len + 1);
	bool same = n == (ssize_t)len && memcmp(cur, data, len) == 0;

	if (fd >= 0)
		close(fd);
	free(cur);
	return same;
}

int node_write_cni_conf(const char *conf_dir, const char *root_dir, const char *pod_cidr, char *err,
			size_t errlen)
{
	char path[PATH_MAX], tmp[PATH_MAX], why[160];
	char *data_dir = NULL, *text = NULL;
	json_t *conf = NULL;
	unsigned prefix;
	__be32 net;
	int fd = -1, dfd = -1, rc;
	size_t len;

	if (lb_parse_cidr(pod_cidr, &net, &prefix, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "pod CIDR: %s", why);
		return -EINVAL;
	}
	data_dir = xasprintf("%s/cni", root_dir);
	conf = json_pack("{s:s, s:s, s:[{s:s, s:s, s:s}]}", "cniVersion", "1.0.0", "name",
			 "capstan", "plugins", "type", "capstan-cni", "podCIDR", pod_cidr,
			 "dataDir", data_dir);
	text = json_dumps(conf, JSON_INDENT(2));
	len = strlen(text);
	text = xrealloc(text, len + 2);
	text[len++] = '\n';
	text[len] = '\0';
	snprintf(path, sizeof(path), "%s/%s", conf_dir, NODE_CNI_CONF_FILE);
	rc = mkdir_p(conf_dir, 0755);
	if (rc < 0) {
		snprintf(err, errlen, "creating %s: %s", conf_dir, strerror(-rc));
		goto out;
	}
	if (file_equals(path, text, len))
		goto out;
	/* A dot name with a random tail: the runtime only loads *.conf, *.conflist, *.json. */
	snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", conf_dir, NODE_CNI_CONF_FILE);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "creating a file in %s: %s", conf_dir, strerror(-rc));
		goto out;
	}
	if (write(fd, text, len) != (ssize_t)len || fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
		rc = errno ? -errno : -EIO;
		snprintf(err, errlen, "writing %s: %s", tmp, strerror(-rc));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) < 0) {
		rc = -errno;
		snprintf(err, errlen, "renaming %s to %s: %s", tmp, path, strerror(-rc));
		unlink(tmp);
		goto out;
	}
	/* The rename itself is durable only once the directory is synced. */
	dfd = open(conf_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	json_decref(conf);
	free(text);
	free(data_dir);
	return rc;
}

/* ---------------------------------------------------------------- node IP */

int node_default_route_iface(const char *route_file, char *iface, size_t len)
{
	FILE *fp = fopen(route_file, "re");
	char line[512], best[IFNAMSIZ + 1] = "";
	long best_metric = -1;

	if (!fp)
		return -errno;
	/* Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT (hex) */
	while (fgets(line, sizeof(line), fp)) {
		char name[IFNAMSIZ + 1];
		unsigned long dest, flags, mask;
		long metric;

		if (sscanf(line, "%16s %lx %*x %lx %*d %*d %ld %lx", name, &dest, &flags, &metric,
			   &mask) != 5)
			continue; /* the header */
		if (dest || mask || !(flags & 0x1 /* RTF_UP */))
			continue;
		if (best_metric < 0 || metric < best_metric) {
			best_metric = metric;
			snprintf(best, sizeof(best), "%s", name);
		}
	}
	fclose(fp);
	if (best_metric < 0)
		return -ENOENT;
	snprintf(iface, len, "%s", best);
	return 0;
}

static bool is_usable_ipv4(const struct ifaddrs *a)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)a->ifa_addr;

	return sin && sin->sin_family == AF_INET && (ntohl(sin->sin_addr.s_addr) >> 24) != 127;
}

static int format_ipv4(const struct ifaddrs *a, char *buf, size_t len)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)a->ifa_addr;

	return inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)len) ? 0 : -ENOSPC;
}

int node_pick_ipv4(const struct ifaddrs *list, const char *iface, char *buf, size_t len)
{
	const struct ifaddrs *a;

	for (a = list; iface && a; a = a->ifa_next)
		if (is_usable_ipv4(a) && strcmp(a->ifa_name, iface) == 0)
			return format_ipv4(a, buf, len);
	for (a = list; a; a = a->ifa_next)
		if (is_usable_ipv4(a) && (a->ifa_flags & IFF_UP) && !(a->ifa_flags & IFF_LOOPBACK))
			return format_ipv4(a, buf, len);
	return -ENOENT;
}

int node_resolve_ip(const char *host_root, char *buf, size_t len)
{
	char route[PATH_MAX], iface[IFNAMSIZ + 1] = "";
	struct ifaddrs *list;
	int rc;

	snprintf(route, sizeof(route), "%s/proc/net/route", host_root);
	node_default_route_iface(route, iface, sizeof(iface));
	if (getifaddrs(&list) < 0)
		return -errno;
	rc = node_pick_ipv4(list, iface[0] ? iface : NULL, buf, len);
	freeifaddrs(list);
	return rc;
}

/* ---------------------------------------------------------------- the daemon side */

struct node_state {
	struct kubelet *k;
	struct node_options o;
	struct httpc *hc, *lease_hc;
	pthread_t status_thread, lease_thread;
	bool status_started, lease_started;

	pthread_mutex_t lock;
	pthread_cond_t cond; /* stop, poke, registered */
	bool stop, poke;
	bool registered;
	char uid[128]; /* the Node's metadata.uid */

	/* Status thread only. */
	json_t *last_status;  /* as last sent (or found at registration) */
	int64_t last_push_ns; /* monotonic; 0: never */
	bool cidr_mismatch_logged;
};

/* Wait up to ms for stop (or a poke, when wanted). true when stopping. */
static bool node_wait(struct node_state *s, long ms, bool wake_on_poke)
{
	struct timespec ts;
	bool stop;

	deadline_after_ms(&ts, CLOCK_MONOTONIC, ms);
	pthread_mutex_lock(&s->lock);
	while (!s->stop && !(wake_on_poke && s->poke) &&
	       pthread_cond_timedwait(&s->cond, &s->lock, &ts) != ETIMEDOUT)
		;
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

/* One API call with a JSON body of a chosen type. The HTTP status or -errno; *out as httpc_json. */
static int api_call(struct httpc *hc, const char *method, const char *path,
		    const char *content_type, const json_t *body, json_t **out)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct httpc_request req = {
		.method = method,
		.path = path,
		.content_type = content_type,
		.body = text,
		.body_len = text ? strlen(text) : 0,
	};
	struct httpc_response resp;
	int rc;

	*out = NULL;
	rc = httpc_do(hc, &req, &resp);
	if (rc == 0) {
		rc = (int)resp.status;
		if (resp.body.len)
			*out = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	}
	httpc_response_free(&resp);
	free(text);
	return rc;
}

static const char *api_error(int rc, const json_t *answer, char *buf, size_t len)
{
	if (rc < 0)
		snprintf(buf, len, "%s", strerror(-rc));
	else
		snprintf(buf, len, "HTTP %d: %s", rc, jsonx_str(answer, "message", ""));
	return buf;
}

/*
 * Take the pod CIDR into use: write the CNI configuration, then announce
 * network ready. 1 when that happened now, 0 when the CIDR was in use
 * already, -errno when the file could not be written.
 */
static int use_pod_cidr(struct node_state *s, const char *cidr, const char *source)
{
	struct kubelet *k = s->k;
	char err[512];
	bool same;
	int rc;

	pthread_mutex_lock(&k->lock);
	same = k->network_ready && strcmp(k->pod_cidr, cidr) == 0;
	pthread_mutex_unlock(&k->lock);
	if (same)
		return 0;
	rc = node_write_cni_conf(k->cfg.cni_conf_dir, k->cfg.root_dir, cidr, err, sizeof(err));
	if (rc < 0) {
		log_error("pod CIDR %s: cannot write the CNI configuration: %s", cidr, err);
		return rc;
	}
	pthread_mutex_lock(&k->lock);
	if (k->pod_cidr[0] && strcmp(k->pod_cidr, cidr) != 0)
		log_warn("pod CIDR changed from %s to %s", k->pod_cidr, cidr);
	snprintf(k->pod_cidr, sizeof(k->pod_cidr), "%s", cidr);
	k->network_ready = true;
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
	log_info("pod CIDR %s (%s): wrote %s/%s", cidr, source, k->cfg.cni_conf_dir,
		 NODE_CNI_CONF_FILE);
	/* The runtime runs the plugin, not us; a missing one only shows at the first pod. */
	if (k->cfg.cni_bin_dir) {
		char plugin[PATH_MAX];

		snprintf(plugin, sizeof(plugin), "%s/capstan-cni", k->cfg.cni_bin_dir);
		if (access(plugin, X_OK) < 0)
			log_warn("%s: %s; pod sandboxes will fail until it is installed", plugin,
				 strerror(errno));
	}
	return 1;
}

/* spec.podCIDR of a Node from the API server, when --pod-cidr did not fix it. */
static void learn_pod_cidr(struct node_state *s, const json_t *node)
{
	const char *cidr = jsonx_path_str(node, "spec.podCIDR", "");

	if (!*cidr)
		return;
	if (s->k->cfg.pod_cidr) {
		if (strcmp(cidr, s->k->cfg.pod_cidr) != 0 && !s->cidr_mismatch_logged) {
			log_warn("the Node's spec.podCIDR %s differs from --pod-cidr %s; using "
				 "--pod-cidr",
				 cidr, s->k->cfg.pod_cidr);
			s->cidr_mismatch_logged = true;
		}
		return;
	}
	/* Ready changes with it: report at once, not at the next check. */
	if (use_pod_cidr(s, cidr, "from the Node's spec.podCIDR") > 0)
		node_status_poke(s->k);
}

static bool pod_cidr_known(struct kubelet *k)
{
	bool known;

	pthread_mutex_lock(&k->lock);
	known = k->network_ready;
	pthread_mutex_unlock(&k->lock);
	return known;
}

static int register_node(struct node_state *s, const struct node_facts *f)
{
	struct kubelet *k = s->k;
	const char *name = k->cfg.node_name;
	json_t *obj = node_object_build(name, f, k->cfg.pod_cidr), *node = NULL, *patch;
	char path[512], err[512];
	int rc;

	rc = api_call(s->hc, "POST", "/api/v1/nodes", NULL, obj, &node);
	if (rc == 409) {
		/* Ours from an earlier run (or a stale one): take it over. */
		json_decref(node);
		snprintf(path, sizeof(path), "/api/v1/nodes/%s", name);
		patch = json_pack("{s:{s:O}}", "metadata", "labels",
				  jsonx_get_path(obj, "metadata.labels"));
		rc = api_call(s->hc, "PATCH", path, "application/merge-patch+json", patch, &node);
		json_decref(patch);
		if (rc == 200)
			log_info("node %s exists: taking it over", name);
	} else if (rc == 201 || rc == 200) {
		log_info("registered node %s", name);
	}
	if (rc != 200 && rc != 201) {
		log_warn("registering node %s: %s", name, api_error(rc, node, err, sizeof(err)));
		json_decref(node);
		json_decref(obj);
		return rc < 0 ? rc : -EIO;
	}
	json_decref(s->last_status);
	s->last_status = json_incref(jsonx_obj(node, "status"));
	s->last_push_ns = 0;
	learn_pod_cidr(s, node);
	pthread_mutex_lock(&s->lock);
	snprintf(s->uid, sizeof(s->uid), "%s", jsonx_path_str(node, "metadata.uid", ""));
	s->registered = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	json_decref(node);
	json_decref(obj);
	return 0;
}

static void default_runtime_problem(struct kubelet *k, char *buf, size_t len)
{
	Runtime__V1__StatusRequest req = RUNTIME__V1__STATUS_REQUEST__INIT;
	Runtime__V1__StatusResponse *resp = NULL;
	char err[256];
	int rc;

	if (!k->cri) {
		snprintf(buf, len, "container runtime is down: no runtime client");
		return;
	}
	rc = cri_status(k->cri, &req, &resp, err, sizeof(err));
	if (rc != 0) {
		snprintf(buf, len, "container runtime is down: %s", rc < 0 ? strerror(-rc) : err);
		return;
	}
	node_runtime_problem(resp, buf, len);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
}

/* Node events on condition changes, as upstream records them ("NodeReady", ...). */
static void condition_events(struct node_state *s, const json_t *old, const json_t *cur)
{
	static const struct {
		const char *type, *if_true, *if_false;
	} names[] = {
		{ "MemoryPressure", "NodeHasInsufficientMemory", "NodeHasSufficientMemory" },
		{ "DiskPressure", "NodeHasDiskPressure", "NodeHasNoDiskPressure" },
		{ "PIDPressure", "NodeHasInsufficientPID", "NodeHasSufficientPID" },
		{ "Ready", "NodeReady", "NodeNotReady" },
	};
	const char *name = s->k->cfg.node_name;
	json_t *ref = json_pack("{s:s, s:s, s:{s:s, s:s}}", "kind", "Node", "apiVersion", "v1",
				"metadata", "name", name, "uid", name);

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		const json_t *a = find_condition(jsonx_arr(old, "conditions"), names[i].type);
		const json_t *b = find_condition(jsonx_arr(cur, "conditions"), names[i].type);
		const char *st = jsonx_str(b, "status", "");

		if (!b || strcmp(jsonx_str(a, "status", ""), st) == 0)
			continue;
		kl_event(s->k, ref, "Normal",
			 strcmp(st, "True") == 0 ? names[i].if_true : names[i].if_false,
			 "Node %s status is now: %s", name,
			 strcmp(st, "True") == 0 ? names[i].if_true : names[i].if_false);
	}
	json_decref(ref);
}

/* Build the status; send it when it changed, was asked for, or is due. */
static void status_sync(struct node_state *s, bool poked)
{
	struct kubelet *k = s->k;
	char problem[1024] = "", path[512], err[512];
	struct node_facts f;
	struct node_status_input in;
	json_t *st, *body, *node = NULL;
	int64_t now = (int64_t)now_mono_ns();
	int rc;

	node_facts_collect(s->o.host_root, k->cfg.root_dir, &f);
	s->o.runtime_problem(k, problem, sizeof(problem));
	in = (struct node_status_input){
		.facts = &f,
		.node_name = k->cfg.node_name,
		.node_ip = k->node_ip,
		.port = k->cfg.port,
		.runtime_version = k->runtime_version,
		.runtime_problem = problem,
		.network_configured = pod_cidr_known(k),
		.now_ns = (int64_t)now_real_ns(),
	};
	st = node_status_build(&in, s->last_status);
	if (!poked && s->last_push_ns &&
	    now - s->last_push_ns < (int64_t)k->cfg.node_status_interval_s * 1000000000ll &&
	    !node_status_differs(st, s->last_status)) {
		json_decref(st);
		return;
	}
	snprintf(path, sizeof(path), "/api/v1/nodes/%s/status", k->cfg.node_name);
	body = json_pack("{s:O}", "status", st);
	rc = api_call(s->hc, "PATCH", path, "application/strategic-merge-patch+json", body, &node);
	if (rc == 200) {
		condition_events(s, s->last_status, st);
		json_decref(s->last_status);
		s->last_status = json_incref(st);
		s->last_push_ns = now;
		learn_pod_cidr(s, node);
	} else if (rc == 404) {
		log_warn("node %s is gone: registering it again", k->cfg.node_name);
		pthread_mutex_lock(&s->lock);
		s->registered = false;
		pthread_mutex_unlock(&s->lock);
	} else if (rc != -ECANCELED) {
		log_warn("updating node %s status: %s", k->cfg.node_name,
			 api_error(rc, node, err, sizeof(err)));
	}
	json_decref(node);
	json_decref(body);
	json_decref(st);
}

static void poll_pod_cidr(struct node_state *s)
{
	char path[512];
	json_t *node = NULL;

	snprintf(path, sizeof(path), "/api/v1/nodes/%s", s->k->cfg.node_name);
	if (api_call(s->hc, "GET", path, NULL, NULL, &node) == 200)
		learn_pod_cidr(s, node);
	json_decref(node);
}

static bool is_registered(struct node_state *s)
{
	bool r;

	pthread_mutex_lock(&s->lock);
	r = s->registered;
	pthread_mutex_unlock(&s->lock);
	return r;
}

static void *status_main(void *arg)
{
	struct node_state *s = arg;
	long backoff = NODE_RETRY_MIN_MS;

	for (;;) {
		struct node_facts f;
		bool poked;
		long wait;

		if (!is_registered(s)) {
			node_facts_collect(s->o.host_root, s->k->cfg.root_dir, &f);
			if (register_node(s, &f) < 0) {
				if (node_wait(s, backoff, false))
					break;
				backoff = MIN(backoff * 2, (long)s->o.retry_max_ms);
				continue;
			}
			backoff = NODE_RETRY_MIN_MS;
		}
		pthread_mutex_lock(&s->lock);
		poked = s->poke;
		s->poke = false;
		pthread_mutex_unlock(&s->lock);
		status_sync(s, poked);
		wait = s->o.check_interval_ms;
		if (!pod_cidr_known(s->k)) {
			poll_pod_cidr(s);
			wait = MIN(wait, (long)s->o.cidr_poll_ms);
		}
		if (node_wait(s, wait, true))
			break;
	}
	return NULL;
}

/* One renewal: read (or create) the Lease, then update it. 0 or -errno. */
static int lease_renew(struct node_state *s, json_t **lease, const char *uid)
{
	struct kubelet *k = s->k;
	const char *name = k->cfg.node_name;
	char coll[256], path[512], err[512];
	json_t *obj, *ans = NULL;
	int rc = -EIO;

	snprintf(coll, sizeof(coll), "/apis/coordination.k8s.io/v1/namespaces/%s/leases",
		 NODE_LEASE_NAMESPACE);
	snprintf(path, sizeof(path), "%s/%s", coll, name);
	for (int attempt = 0; attempt < 3; attempt++) {
		if (!*lease) {
			rc = api_call(s->lease_hc, "GET", path, NULL, NULL, &ans);
			if (rc == 200) {
				*lease = ans;
				ans = NULL;
			} else if (rc == 404) {
				json_decref(ans);
				obj = node_lease_build(NULL, name, uid, KL_LEASE_DURATION_S,
						       (int64_t)now_real_ns());
				rc = api_call(s->lease_hc, "POST", coll, NULL, obj, &ans);
				json_decref(obj);
				if (rc == 201 || rc == 200) {
					*lease = ans;
					return 0;
				}
				if (rc == 409) { /* created meanwhile: read it */
					json_decref(ans);
					ans = NULL;
					continue;
				}
				break;
			} else {
				break;
			}
		}
		obj = node_lease_build(*lease, name, uid, KL_LEASE_DURATION_S,
				       (int64_t)now_real_ns());
		rc = api_call(s->lease_hc, "PUT", path, NULL, obj, &ans);
		json_decref(obj);
		if (rc == 200) {
			json_decref(*lease);
			*lease = ans;
			return 0;
		}
		/* Conflict (someone else wrote it) or gone: read it again. */
		json_decref(*lease);
		*lease = NULL;
		if (rc != 409 && rc != 404)
			break;
		json_decref(ans);
		ans = NULL;
	}
	if (rc != -ECANCELED)
		log_warn("renewing lease %s/%s: %s", NODE_LEASE_NAMESPACE, name,
			 api_error(rc, ans, err, sizeof(err)));
	json_decref(ans);
	return rc < 0 ? rc : -EIO;
}

static void *lease_main(void *arg)
{
	struct node_state *s = arg;
	long interval = s->o.lease_interval_ms ? (long)s->o.lease_interval_ms
					       : (long)s->k->cfg.lease_interval_s * 1000;
	json_t *lease = NULL;
	char uid[128];

	/* The Lease names the Node as its owner, so it waits for the registration. */
	pthread_mutex_lock(&s->lock);
	while (!s->stop && !s->registered)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
	for (;;) {
		pthread_mutex_lock(&s->lock);
		snprintf(uid, sizeof(uid), "%s", s->uid);
		pthread_mutex_unlock(&s->lock);
		/* A failed renewal is retried sooner, still well inside the lease duration. */
		if (node_wait(s, lease_renew(s, &lease, uid) == 0 ? interval : MIN(interval, 1000),
			      false))
			break;
	}
	json_decref(lease);
	return NULL;
}

int node_start_opts(struct kubelet *k, const struct node_options *o)
{
	struct node_state *s;
	pthread_condattr_t ca;
	int rc;

	s = xcalloc(1, sizeof(*s));
	s->k = k;
	s->o = *o;
	if (!s->o.host_root)
		s->o.host_root = "";
	if (!s->o.runtime_problem)
		s->o.runtime_problem = default_runtime_problem;
	if (!s->o.check_interval_ms)
		s->o.check_interval_ms = NODE_CHECK_MS;
	if (!s->o.cidr_poll_ms)
		s->o.cidr_poll_ms = NODE_CIDR_POLL_MS;
	if (!s->o.retry_max_ms)
		s->o.retry_max_ms = NODE_RETRY_MAX_MS;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	k->node = s;

	/* statvfs needs it, and the pods put their directories under it. */
	rc = mkdir_p(k->cfg.root_dir, 0755);
	if (rc < 0) {
		log_error("creating --root-dir %s: %s", k->cfg.root_dir, strerror(-rc));
		goto fail;
	}
	if (k->cfg.pod_cidr) {
		rc = use_pod_cidr(s, k->cfg.pod_cidr, "from --pod-cidr");
		if (rc < 0)
			goto fail;
	}
	s->hc = httpc_new(&k->http);
	s->lease_hc = httpc_new(&k->http);
	if (!s->hc || !s->lease_hc) {
		log_error("node: bad API server address %s", k->http.server ? k->http.server : "");
		rc = -EINVAL;
		goto fail;
	}
	rc = -pthread_create(&s->status_thread, NULL, status_main, s);
	if (rc < 0)
		goto fail;
	s->status_started = true;
	rc = -pthread_create(&s->lease_thread, NULL, lease_main, s);
	if (rc < 0)
		goto fail;
	s->lease_started = true;
	return 0;
fail:
	node_stop(k);
	return rc;
}

int node_start(struct kubelet *k)
{
	struct node_options o = { 0 };

	return node_start_opts(k, &o);
}

void node_stop(struct kubelet *k)
{
	struct node_state *s = k->node;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->hc)
		httpc_cancel(s->hc);
	if (s->lease_hc)
		httpc_cancel(s->lease_hc);
	if (s->status_started)
		pthread_join(s->status_thread, NULL);
	if (s->lease_started)
		pthread_join(s->lease_thread, NULL);
	httpc_free(s->hc);
	httpc_free(s->lease_hc);
	json_decref(s->last_status);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
	k->node = NULL;
}

void node_status_poke(struct kubelet *k)
{
	struct node_state *s = k->node;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->poke = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

bool kl_wait_network_ready(struct kubelet *k, int timeout_ms)
{
	struct timespec ts;
	bool ready;

	/* k->cond runs on CLOCK_MONOTONIC (set up by main). */
	deadline_after_ms(&ts, CLOCK_MONOTONIC, timeout_ms);
	pthread_mutex_lock(&k->lock);
	while (!k->network_ready && !atomic_load(&k->stopping) &&
	       pthread_cond_timedwait(&k->cond, &k->lock, &ts) != ETIMEDOUT)
		;
	ready = k->network_ready && !atomic_load(&k->stopping);
	pthread_mutex_unlock(&k->lock);
	return ready;
}
