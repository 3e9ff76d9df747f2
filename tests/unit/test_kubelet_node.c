/*
 * Unit tests for agent/kubelet/node's pure parts: machine facts from a fake
 * /proc, /sys and /etc, the NodeStatus builder and its condition transition
 * semantics, pressure thresholds, the Node and Lease objects, the runtime's
 * readiness, the CNI configuration writer and the node IP choice.
 */
#include "test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/kubelet/node.h"
#include "jsonx.h"
#include "util.h"

static void put(const char *root, const char *rel, const char *text)
{
	char path[4096], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	for (slash = strchr(path + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	f = fopen(path, "w");
	ASSERT_NOT_NULL(f);
	fputs(text, f);
	ASSERT_OK(fclose(f));
}

static const char *fake_host(void)
{
	static char root[4096];

	snprintf(root, sizeof(root), "%s/host", test_tmpdir());
	mkdir(root, 0755);
	put(root, "/proc/meminfo",
	    "MemTotal:        8388608 kB\n"
	    "MemFree:          100000 kB\n"
	    "MemAvailable:    4194304 kB\n"
	    "Buffers:           12345 kB\n");
	put(root, "/proc/loadavg", "0.50 0.40 0.30 3/812 12345\n");
	put(root, "/proc/sys/kernel/pid_max", "4194304\n");
	put(root, "/proc/sys/kernel/random/boot_id", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\n");
	put(root, "/proc/sys/kernel/osrelease", "6.18.0-capstan\n");
	put(root, "/etc/machine-id", "0123456789abcdef0123456789abcdef\n");
	put(root, "/etc/os-release",
	    "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 "
	    "(bookworm)\"\nID=debian\n");
	put(root, "/sys/class/dmi/id/product_uuid", "4c4c4544-0000-1000-8000-000000000001\n");
	put(root, "/sys/devices/system/cpu/online", "0-3,6,8-9\n");
	return root;
}

TEST(node_facts_from_a_fake_host)
{
	struct node_facts f;

	ASSERT_OK(node_facts_collect(fake_host(), test_tmpdir(), &f));
	ASSERT_EQ(f.cpus, 7);
	ASSERT_EQ(f.mem_total, 8388608ull * 1024);
	ASSERT_EQ(f.mem_available, 4194304ull * 1024);
	ASSERT(f.disk_total > 0 && f.disk_available <= f.disk_total);
	ASSERT_EQ(f.pid_max, 4194304);
	ASSERT_EQ(f.pids, 812);
	ASSERT_STREQ(f.machine_id, "0123456789abcdef0123456789abcdef");
	ASSERT_STREQ(f.system_uuid, "4c4c4544-0000-1000-8000-000000000001");
	ASSERT_STREQ(f.boot_id, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
	ASSERT_STREQ(f.kernel_version, "6.18.0-capstan");
	ASSERT_STREQ(f.os_image, "Debian GNU/Linux 12 (bookworm)");
	ASSERT(f.arch[0] != '\0');
}

TEST(node_facts_missing_files)
{
	char root[4096];
	struct node_facts f;

	snprintf(root, sizeof(root), "%s/empty", test_tmpdir());
	mkdir(root, 0755);
	/* No meminfo: the one hard failure; everything else falls back. */
	ASSERT_EQ(node_facts_collect(root, "/nonexistent/dir", &f), -ENOENT);
	ASSERT(f.cpus >= 1); /* sysconf */
	ASSERT_EQ(f.disk_total, 0);
	ASSERT_EQ(f.pid_max, 0);
	ASSERT_STREQ(f.machine_id, "");
	ASSERT_STREQ(f.os_image, "Linux");
	ASSERT(f.kernel_version[0] != '\0'); /* uname */

	/* os-release from /usr/lib, single quotes; a meminfo without MemTotal is bad. */
	put(root, "/usr/lib/os-release", "PRETTY_NAME='Alpine Linux v3.20'\n");
	put(root, "/proc/meminfo", "MemFree: 1 kB\n");
	put(root, "/sys/devices/system/cpu/online", "garbage\n");
	ASSERT_EQ(node_facts_collect(root, test_tmpdir(), &f), -EINVAL);
	ASSERT_STREQ(f.os_image, "Alpine Linux v3.20");
	ASSERT(f.cpus >= 1);
}

TEST(node_goarch_names)
{
	ASSERT_STREQ(node_goarch("x86_64"), "amd64");
	ASSERT_STREQ(node_goarch("aarch64"), "arm64");
	ASSERT_STREQ(node_goarch("armv7l"), "arm");
	ASSERT_STREQ(node_goarch("s390x"), "s390x");
	ASSERT_STREQ(node_goarch("mips"), "mips");
}

TEST(node_pressure_thresholds)
{
	struct node_facts f = {
		.mem_total = 1ull << 30,
		.mem_available = 100ull << 20,
		.disk_total = 1000,
		.disk_available = 100,
		.pid_max = 1000,
		.pids = 900,
	};
	struct node_pressure p = node_pressure_of(&f);

	/* Exactly at the thresholds: no pressure yet. */
	ASSERT(!p.memory && !p.disk && !p.pid);
	f.mem_available--;
	f.disk_available--;
	f.pids++;
	p = node_pressure_of(&f);
	ASSERT(p.memory && p.disk && p.pid);
	/* Unknown facts never claim pressure. */
	f = (struct node_facts){ 0 };
	p = node_pressure_of(&f);
	ASSERT(!p.memory && !p.disk && !p.pid);
}

static struct node_facts sample_facts(void)
{
	struct node_facts f = {
		.cpus = 4,
		.mem_total = 8ull << 30,
		.mem_available = 4ull << 30,
		.disk_total = 100ull << 30,
		.disk_available = 50ull << 30,
		.pid_max = 32768,
		.pids = 100,
	};

	snprintf(f.machine_id, sizeof(f.machine_id), "mid");
	snprintf(f.system_uuid, sizeof(f.system_uuid), "suuid");
	snprintf(f.boot_id, sizeof(f.boot_id), "bid");
	snprintf(f.kernel_version, sizeof(f.kernel_version), "6.18.0");
	snprintf(f.os_image, sizeof(f.os_image), "Debian GNU/Linux 12 (bookworm)");
	snprintf(f.arch, sizeof(f.arch), "amd64");
	return f;
}

static const int64_t T0 = 1704164645000000000ll; /* 2024-01-02T03:04:05Z */
#define SEC 1000000000ll

static struct node_status_input sample_input(const struct node_facts *f, int64_t now)
{
	return (struct node_status_input){
		.facts = f,
		.node_name = "node-1",
		.node_ip = "10.0.0.7",
		.port = 10250,
		.runtime_version = "containerd://1.6.20",
		.runtime_problem = "",
		.network_configured = true,
		.now_ns = now,
	};
}

static const json_t *cond(const json_t *st, const char *type)
{
	size_t i;
	json_t *c;

	json_array_foreach(jsonx_arr(st, "conditions"), i, c)
		if (strcmp(jsonx_str(c, "type", ""), type) == 0)
			return c;
	return NULL;
}

TEST(node_status_fields)
{
	struct node_facts f = sample_facts();
	struct node_status_input in = sample_input(&f, T0);
	json_t *st = node_status_build(&in, NULL);
	static const char *const order[] = { "MemoryPressure", "DiskPressure", "PIDPressure",
					     "Ready" };

	ASSERT_STREQ(jsonx_path_str(st, "capacity.cpu", ""), "4");
	ASSERT_STREQ(jsonx_path_str(st, "capacity.memory", ""), "8Gi");
	ASSERT_STREQ(jsonx_path_str(st, "capacity.ephemeral-storage", ""), "100Gi");
	ASSERT_STREQ(jsonx_path_str(st, "capacity.pods", ""), "110");
	/* Allocatable: capacity minus the hard eviction thresholds. */
	ASSERT_STREQ(jsonx_path_str(st, "allocatable.cpu", ""), "4");
	ASSERT_STREQ(jsonx_path_str(st, "allocatable.memory", ""), "8092Mi");
	ASSERT_STREQ(jsonx_path_str(st, "allocatable.ephemeral-storage", ""), "90Gi");
	ASSERT_STREQ(jsonx_path_str(st, "allocatable.pods", ""), "110");
	ASSERT_STREQ(jsonx_path_str(st, "addresses[0].type", ""), "InternalIP");
	ASSERT_STREQ(jsonx_path_str(st, "addresses[0].address", ""), "10.0.0.7");
	ASSERT_STREQ(jsonx_path_str(st, "addresses[1].type", ""), "Hostname");
	ASSERT_STREQ(jsonx_path_str(st, "addresses[1].address", ""), "node-1");
	ASSERT_EQ(jsonx_path_int(st, "daemonEndpoints.kubeletEndpoint.Port", 0), 10250);
	ASSERT_STREQ(jsonx_path_str(st, "nodeInfo.machineID", ""), "mid");
	ASSERT_STREQ(jsonx_path_str(st, "nodeInfo.systemUUID", ""), "suuid");
	ASSERT_STREQ(jsonx_path_str(st, "nodeInfo.bootID", ""), "bid");
	ASSERT_STREQ(jsonx_path_str(st, "nodeInfo.kernelVersion", ""), "6.18.0");
	ASSERT_STREQ(jsonx_path_str(st, "nodeInfo.osImage", ""), "Debian GNU/Linux 12 (bookworm)");
	ASSERT_STREQ(jsonx_path_str(st, "nodeInfo.containerRuntimeVersion", ""),
		     "containerd://1.6.20");
	ASSERT_STREQ(jsonx_path_str(st, "nodeInfo.kubeletVersion", ""), KUBELET_VERSION);
	ASSERT_STREQ(jsonx_path_str(st, "nodeInfo.kubeProxyVersion", "x"), "");
	ASSERT_STREQ(jsonx_path_str(st, "nodeInfo.operatingSystem", ""), "linux");
	ASSERT_STREQ(jsonx_path_str(st, "nodeInfo.architecture", ""), "amd64");
	ASSERT_EQ(json_array_size(jsonx_arr(st, "conditions")), 4);
	for (size_t i = 0; i < 4; i++) {
		const json_t *c = json_array_get(jsonx_arr(st, "conditions"), i);

		ASSERT_STREQ(jsonx_str(c, "type", ""), order[i]);
		ASSERT_STREQ(jsonx_str(c, "lastHeartbeatTime", ""), "2024-01-02T03:04:05Z");
		ASSERT_STREQ(jsonx_str(c, "lastTransitionTime", ""), "2024-01-02T03:04:05Z");
	}
	ASSERT_STREQ(jsonx_str(cond(st, "MemoryPressure"), "status", ""), "False");
	ASSERT_STREQ(jsonx_str(cond(st, "MemoryPressure"), "reason", ""),
		     "KubeletHasSufficientMemory");
	ASSERT_STREQ(jsonx_str(cond(st, "DiskPressure"), "reason", ""), "KubeletHasNoDiskPressure");
	ASSERT_STREQ(jsonx_str(cond(st, "PIDPressure"), "reason", ""), "KubeletHasSufficientPID");
	ASSERT_STREQ(jsonx_str(cond(st, "PIDPressure"), "message", ""),
		     "kubelet has sufficient PID available");
	ASSERT_STREQ(jsonx_str(cond(st, "Ready"), "status", ""), "True");
	ASSERT_STREQ(jsonx_str(cond(st, "Ready"), "reason", ""), "KubeletReady");
	ASSERT_STREQ(jsonx_str(cond(st, "Ready"), "message", ""),
		     "kubelet is posting ready status");
	json_decref(st);

	/* Upstream's allocatable storage: capacity - int64(capacity * 0.1), not always Ki. */
	f.disk_total = 1000000001ull * 1024;
	st = node_status_build(&in, NULL);
	ASSERT_STREQ(jsonx_path_str(st, "capacity.ephemeral-storage", ""), "1000000001Ki");
	ASSERT_STREQ(jsonx_path_str(st, "allocatable.ephemeral-storage", ""), "921600000922");
	json_decref(st);
	/* Without a disk figure, no ephemeral-storage at all. */
	f.disk_total = 0;
	st = node_status_build(&in, NULL);
	ASSERT_NULL(jsonx_get_path(st, "capacity.ephemeral-storage"));
	json_decref(st);
}

TEST(node_status_not_ready_reasons)
{
	struct node_facts f = sample_facts();
	struct node_status_input in = sample_input(&f, T0);
	json_t *st;

	in.network_configured = false;
	st = node_status_build(&in, NULL);
	ASSERT_STREQ(jsonx_str(cond(st, "Ready"), "status", ""), "False");
	ASSERT_STREQ(jsonx_str(cond(st, "Ready"), "reason", ""), "KubeletNotReady");
	ASSERT(strstr(jsonx_str(cond(st, "Ready"), "message", ""), "pod CIDR") != NULL);
	json_decref(st);

	/* The runtime's problem is reported first. */
	in.runtime_problem = "container runtime is down: connection refused";
	st = node_status_build(&in, NULL);
	ASSERT_STREQ(jsonx_str(cond(st, "Ready"), "message", ""),
		     "container runtime is down: connection refused");
	json_decref(st);

	/* Pressure flips the conditions and their reasons. */
	in.runtime_problem = NULL;
	in.network_configured = true;
	f.mem_available = 1 << 20;
	f.disk_available = 1;
	f.pids = f.pid_max;
	st = node_status_build(&in, NULL);
	ASSERT_STREQ(jsonx_str(cond(st, "MemoryPressure"), "status", ""), "True");
	ASSERT_STREQ(jsonx_str(cond(st, "MemoryPressure"), "reason", ""),
		     "KubeletHasInsufficientMemory");
	ASSERT_STREQ(jsonx_str(cond(st, "DiskPressure"), "reason", ""), "KubeletHasDiskPressure");
	ASSERT_STREQ(jsonx_str(cond(st, "PIDPressure"), "reason", ""), "KubeletHasInsufficientPID");
	ASSERT_STREQ(jsonx_str(cond(st, "Ready"), "status", ""), "True");
	json_decref(st);
}

TEST(node_condition_transition_times)
{
	struct node_facts f = sample_facts();
	struct node_status_input in = sample_input(&f, T0);
	json_t *s0, *s1, *s2, *s3;

	in.network_configured = false;
	s0 = node_status_build(&in, NULL);
	/* +10 s: network ready. Ready flips (new transition); the rest keep T0. */
	in.network_configured = true;
	in.now_ns = T0 + 10 * SEC;
	s1 = node_status_build(&in, s0);
	ASSERT_STREQ(jsonx_str(cond(s1, "Ready"), "lastTransitionTime", ""),
		     "2024-01-02T03:04:15Z");
	ASSERT_STREQ(jsonx_str(cond(s1, "Ready"), "lastHeartbeatTime", ""), "2024-01-02T03:04:15Z");
	ASSERT_STREQ(jsonx_str(cond(s1, "MemoryPressure"), "lastTransitionTime", ""),
		     "2024-01-02T03:04:05Z");
	ASSERT_STREQ(jsonx_str(cond(s1, "MemoryPressure"), "lastHeartbeatTime", ""),
		     "2024-01-02T03:04:15Z");
	/* +70 s: nothing changed; only heartbeats move. */
	in.now_ns = T0 + 70 * SEC;
	s2 = node_status_build(&in, s1);
	ASSERT_STREQ(jsonx_str(cond(s2, "Ready"), "lastTransitionTime", ""),
		     "2024-01-02T03:04:15Z");
	ASSERT_STREQ(jsonx_str(cond(s2, "Ready"), "lastHeartbeatTime", ""), "2024-01-02T03:05:15Z");
	ASSERT(!node_status_differs(s1, s2));
	ASSERT(node_status_differs(s0, s1));
	/* A changed message with the same status keeps the transition time but differs. */
	in.network_configured = false;
	in.runtime_problem = "x";
	s3 = node_status_build(&in, s0);
	ASSERT_STREQ(jsonx_str(cond(s3, "Ready"), "lastTransitionTime", ""),
		     "2024-01-02T03:04:05Z");
	ASSERT(node_status_differs(s0, s3));
	ASSERT(node_status_differs(s0, NULL));
	ASSERT(!node_status_differs(NULL, NULL));
	json_decref(s0);
	json_decref(s1);
	json_decref(s2);
	json_decref(s3);
}

TEST(node_object_labels_and_cidr)
{
	struct node_facts f = sample_facts();
	json_t *n = node_object_build("node-1", &f, NULL);

	ASSERT_STREQ(jsonx_str(n, "kind", ""), "Node");
	ASSERT_STREQ(jsonx_path_str(n, "metadata.name", ""), "node-1");
	ASSERT_STREQ(jsonx_path_str(n, "metadata.labels[\"kubernetes.io/hostname\"]", ""),
		     "node-1");
	ASSERT_STREQ(jsonx_path_str(n, "metadata.labels[\"kubernetes.io/os\"]", ""), "linux");
	ASSERT_STREQ(jsonx_path_str(n, "metadata.labels[\"kubernetes.io/arch\"]", ""), "amd64");
	ASSERT_STREQ(jsonx_path_str(n, "metadata.labels[\"beta.kubernetes.io/os\"]", ""), "linux");
	ASSERT_STREQ(jsonx_path_str(n, "metadata.labels[\"beta.kubernetes.io/arch\"]", ""),
		     "amd64");
	ASSERT_NULL(jsonx_get_path(n, "spec.podCIDR"));
	json_decref(n);
	n = node_object_build("node-1", &f, "10.244.1.0/24");
	ASSERT_STREQ(jsonx_path_str(n, "spec.podCIDR", ""), "10.244.1.0/24");
	ASSERT_STREQ(jsonx_path_str(n, "spec.podCIDRs[0]", ""), "10.244.1.0/24");
	json_decref(n);
}

TEST(node_lease_objects)
{
	json_t *l = node_lease_build(NULL, "node-1", "uid-9", 40, T0 + 5000), *m, *existing;

	ASSERT_STREQ(jsonx_str(l, "apiVersion", ""), "coordination.k8s.io/v1");
	ASSERT_STREQ(jsonx_str(l, "kind", ""), "Lease");
	ASSERT_STREQ(jsonx_path_str(l, "metadata.name", ""), "node-1");
	ASSERT_STREQ(jsonx_path_str(l, "metadata.namespace", ""), "kube-node-lease");
	ASSERT_STREQ(jsonx_path_str(l, "metadata.ownerReferences[0].kind", ""), "Node");
	ASSERT_STREQ(jsonx_path_str(l, "metadata.ownerReferences[0].uid", ""), "uid-9");
	ASSERT_STREQ(jsonx_path_str(l, "spec.holderIdentity", ""), "node-1");
	ASSERT_EQ(jsonx_path_int(l, "spec.leaseDurationSeconds", 0), 40);
	ASSERT_STREQ(jsonx_path_str(l, "spec.renewTime", ""), "2024-01-02T03:04:05.000005Z");

	/* An update keeps what the server had (resourceVersion), renews the time. */
	existing = json_pack("{s:{s:s, s:s, s:s}, s:{s:s, s:i, s:s}}", "metadata", "name", "node-1",
			     "namespace", "kube-node-lease", "resourceVersion", "77", "spec",
			     "holderIdentity", "someone", "leaseDurationSeconds", 15, "renewTime",
			     "2020-01-01T00:00:00.000000Z");
	m = node_lease_build(existing, "node-1", NULL, 40, T0 + 10 * SEC);
	ASSERT_STREQ(jsonx_path_str(m, "metadata.resourceVersion", ""), "77");
	ASSERT_STREQ(jsonx_path_str(m, "spec.holderIdentity", ""), "node-1");
	ASSERT_EQ(jsonx_path_int(m, "spec.leaseDurationSeconds", 0), 40);
	ASSERT_STREQ(jsonx_path_str(m, "spec.renewTime", ""), "2024-01-02T03:04:15.000000Z");
	ASSERT_NULL(jsonx_get_path(m, "metadata.ownerReferences"));
	/* The input is not modified. */
	ASSERT_STREQ(jsonx_path_str(existing, "spec.holderIdentity", ""), "someone");
	json_decref(l);
	json_decref(m);
	json_decref(existing);
}

TEST(node_runtime_readiness)
{
	Runtime__V1__RuntimeCondition rt = RUNTIME__V1__RUNTIME_CONDITION__INIT,
				      net = RUNTIME__V1__RUNTIME_CONDITION__INIT;
	Runtime__V1__RuntimeCondition *conds[] = { &rt, &net };
	Runtime__V1__RuntimeStatus status = RUNTIME__V1__RUNTIME_STATUS__INIT;
	Runtime__V1__StatusResponse resp = RUNTIME__V1__STATUS_RESPONSE__INIT;
	char buf[512];

	node_runtime_problem(&resp, buf, sizeof(buf));
	ASSERT(strstr(buf, "status check") != NULL);
	resp.status = &status;
	status.conditions = conds;
	status.n_conditions = 2;
	rt.type = "RuntimeReady";
	rt.status = 1;
	net.type = "NetworkReady";
	net.status = 0;
	net.reason = "NetworkPluginNotReady";
	net.message = "Network plugin returns error: cni plugin not initialized";
	node_runtime_problem(&resp, buf, sizeof(buf));
	ASSERT_STREQ(buf, "container runtime network not ready: NetworkReady=false "
			  "reason:NetworkPluginNotReady message:Network plugin returns error: cni "
			  "plugin not initialized");
	net.status = 1;
	node_runtime_problem(&resp, buf, sizeof(buf));
	ASSERT_STREQ(buf, "");
	rt.status = 0;
	rt.reason = "Down";
	rt.message = "m";
	node_runtime_problem(&resp, buf, sizeof(buf));
	ASSERT_STREQ(buf, "container runtime not ready: RuntimeReady=false reason:Down message:m");
	status.n_conditions = 0;
	node_runtime_problem(&resp, buf, sizeof(buf));
	ASSERT(strstr(buf, "RuntimeReady condition missing") != NULL);
}

/* ---------------------------------------------------------------- CNI configuration */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	struct buf b = { 0 };
	char chunk[512];
	size_t n;

	ASSERT_NOT_NULL(f);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	return b.data;
}

static int count_entries(const char *dir)
{
	char cmd[4200];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	p = popen(cmd, "r");
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

TEST(node_cni_conflist_written_atomically)
{
	char dir[4096], path[4200], err[256];
	struct stat st1, st2;
	json_t *conf, *plugin;
	char *text;

	snprintf(dir, sizeof(dir), "%s/etc/cni/net.d", test_tmpdir());
	snprintf(path, sizeof(path), "%s/10-capstan.conflist", dir);
	ASSERT_OK(node_write_cni_conf(dir, "/var/lib/kl", "10.244.1.0/24", err, sizeof(err)));
	text = slurp(path);
	conf = json_loads(text, 0, NULL);
	ASSERT_NOT_NULL(conf);
	ASSERT_STREQ(jsonx_str(conf, "cniVersion", ""), "1.0.0");
	ASSERT_STREQ(jsonx_str(conf, "name", ""), "capstan");
	ASSERT_EQ(json_array_size(jsonx_arr(conf, "plugins")), 1);
	plugin = json_array_get(jsonx_arr(conf, "plugins"), 0);
	ASSERT_STREQ(jsonx_str(plugin, "type", ""), "capstan-cni");
	ASSERT_STREQ(jsonx_str(plugin, "podCIDR", ""), "10.244.1.0/24");
	ASSERT_STREQ(jsonx_str(plugin, "dataDir", ""), "/var/lib/kl/cni");
	ASSERT_EQ(json_object_size(plugin), 3);
	ASSERT_EQ(text[strlen(text) - 1], '\n');
	json_decref(conf);
	free(text);
	ASSERT_OK(stat(path, &st1));
	ASSERT_EQ(st1.st_mode & 0777, 0644);
	ASSERT_EQ(count_entries(dir), 1); /* no temporary file left behind */

	/* The same content again: the file is left alone. */
	ASSERT_OK(node_write_cni_conf(dir, "/var/lib/kl", "10.244.1.0/24", err, sizeof(err)));
	ASSERT_OK(stat(path, &st2));
	ASSERT_EQ(st1.st_ino, st2.st_ino);
	/* New content replaces the file by rename (a new inode, never a half-written file). */
	ASSERT_OK(node_write_cni_conf(dir, "/var/lib/kl", "10.244.2.0/24", err, sizeof(err)));
	ASSERT_OK(stat(path, &st2));
	ASSERT_NE(st1.st_ino, st2.st_ino);
	text = slurp(path);
	ASSERT(strstr(text, "10.244.2.0/24") != NULL);
	free(text);
	ASSERT_EQ(count_entries(dir), 1);
}

TEST(node_cni_conflist_errors)
{
	char dir[4096], err[256];

	snprintf(dir, sizeof(dir), "%s/conf", test_tmpdir());
	err[0] = '\0';
	ASSERT_EQ(node_write_cni_conf(dir, "/r", "10.244.1.1/24", err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "host bits") != NULL);
	ASSERT_EQ(node_write_cni_conf(dir, "/r", "nonsense", err, sizeof(err)), -EINVAL);
	/* A file where the directory should be. */
	put(test_tmpdir(), "/blocker", "x");
	snprintf(dir, sizeof(dir), "%s/blocker/net.d", test_tmpdir());
	err[0] = '\0';
	ASSERT(node_write_cni_conf(dir, "/r", "10.244.1.0/24", err, sizeof(err)) < 0);
	ASSERT(strstr(err, "blocker") != NULL);
}

/* ---------------------------------------------------------------- node IP */

TEST(node_default_route_interface)
{
	char path[4096], iface[IFNAMSIZ + 1] = "";

	snprintf(path, sizeof(path), "%s/route", test_tmpdir());
	put(test_tmpdir(), "/route",
	    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
	    "eth9\t0000FEA9\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
	    "wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
	    "eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
	    "down0\t00000000\t0100000A\t0002\t0\t0\t1\t00000000\t0\t0\t0\n"
	    "eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");
	ASSERT_OK(node_default_route_iface(path, iface, sizeof(iface)));
	ASSERT_STREQ(iface, "eth0"); /* lowest metric among the up default routes */
	put(test_tmpdir(), "/route",
	    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
	    "eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");
	ASSERT_EQ(node_default_route_iface(path, iface, sizeof(iface)), -ENOENT);
	ASSERT_EQ(node_default_route_iface("/nonexistent", iface, sizeof(iface)), -ENOENT);
}

static void v4(struct ifaddrs *a, struct sockaddr_in *sin, const char *name, const char *ip,
	       unsigned flags, struct ifaddrs *next)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sin->sin_addr);
	memset(a, 0, sizeof(*a));
	a->ifa_name = (char *)name;
	a->ifa_flags = flags;
	a->ifa_addr = (struct sockaddr *)sin;
	a->ifa_next = next;
}

TEST(node_pick_ipv4_address)
{
	struct ifaddrs lo, eth0, eth1, v6, nul;
	struct sockaddr_in s_lo, s0, s1;
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	char ip[64];

	/* lo, eth1 (IPv6 only), a NULL address, eth0 down, eth1 up. */
	v4(&eth1, &s1, "eth1", "192.168.1.5", IFF_UP, NULL);
	v4(&eth0, &s0, "eth0", "10.0.0.1", 0, &eth1);
	memset(&nul, 0, sizeof(nul));
	nul.ifa_name = "tun0";
	nul.ifa_flags = IFF_UP;
	nul.ifa_next = &eth0;
	memset(&v6, 0, sizeof(v6));
	v6.ifa_name = "eth1";
	v6.ifa_flags = IFF_UP;
	v6.ifa_addr = (struct sockaddr *)&s6;
	v6.ifa_next = &nul;
	v4(&lo, &s_lo, "lo", "127.0.0.1", IFF_UP | IFF_LOOPBACK, &v6);

	ASSERT_OK(node_pick_ipv4(&lo, "eth0", ip, sizeof(ip)));
	ASSERT_STREQ(ip, "10.0.0.1"); /* the default route's interface, even if flagged down */
	ASSERT_OK(node_pick_ipv4(&lo, NULL, ip, sizeof(ip)));
	ASSERT_STREQ(ip, "192.168.1.5");
	ASSERT_OK(node_pick_ipv4(&lo, "wlan7", ip, sizeof(ip)));
	ASSERT_STREQ(ip, "192.168.1.5");
	eth1.ifa_flags = 0;
	ASSERT_EQ(node_pick_ipv4(&lo, NULL, ip, sizeof(ip)), -ENOENT);
	ASSERT_EQ(node_pick_ipv4(NULL, NULL, ip, sizeof(ip)), -ENOENT);
}
