/*
 * capstan-cni end to end, as root: the real build/bin/capstan-cni binary run
 * with a CNI environment and a configuration on stdin, the way containerd
 * runs it.
 *
 * Each test makes its own network namespaces (named cni<pid><role>): a "node"
 * namespace the plugin runs in, so host veths, /32 routes and the forwarding
 * sysctl never touch the machine's own namespace, and one namespace per pod.
 * Traffic flows only between these namespaces, inside 10.244.0.0/16; every
 * namespace also gets the unreachable route for the service range. Deleting
 * the namespaces at the end (test_defer, so also after a failed assertion)
 * removes every veth and route the plugin made; the data directory lives in
 * the test's scratch directory.
 */
#include "test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/cni/ipam.h"
#include "agent/cni/plugin.h"
#include "util.h"

#define MAX_NS 6

static char netns_names[MAX_NS][32];
static int n_netns;

/* ---------------------------------------------------------------- shell helpers */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The output of a shell command (trailing newline kept), into a static buffer. */
static const char *sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *sh_out(const char *fmt, ...)
{
	static char out[8192];
	char cmd[1024];
	size_t n;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	ASSERT_NOT_NULL(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	return out;
}

static void netns_cleanup(void)
{
	while (n_netns > 0)
		sh("ip netns del %s 2>/dev/null", netns_names[--n_netns]);
}

/* Create netns cni<pid><role>, lo up, service range unreachable; returns its name. */
static const char *netns_add(const char *role)
{
	char *name;

	ASSERT(n_netns < MAX_NS);
	if (n_netns == 0)
		test_defer(netns_cleanup);
	name = netns_names[n_netns];
	snprintf(name, sizeof(netns_names[0]), "cni%d%s", (int)getpid(), role);
	ASSERT_MSG(sh("ip netns add %s", name) == 0, "ip netns add %s failed", name);
	n_netns++;
	ASSERT_EQ(sh("ip -n %s route add unreachable 10.96.0.0/12", name), 0);
	return name;
}

/* Delete a namespace made by netns_add before the end of the test. */
static void netns_del(const char *name)
{
	ASSERT_EQ(sh("ip netns del %s", name), 0);
	for (int i = 0; i < n_netns; i++) {
		if (strcmp(netns_names[i], name) == 0) {
			memmove(netns_names[i], netns_names[i + 1],
				(size_t)(n_netns - i - 1) * sizeof(netns_names[0]));
			n_netns--;
			break;
		}
	}
}

static const char *netns_path(const char *name)
{
	static char bufs[4][64];
	static int n;
	char *p = bufs[n++ % 4];

	snprintf(p, sizeof(bufs[0]), "/run/netns/%s", name);
	return p;
}

static void enter_netns(const char *name)
{
	int fd = open(netns_path(name), O_RDONLY | O_CLOEXEC);

	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
		_exit(120);
	close(fd);
}

/* ---------------------------------------------------------------- running the plugin */

struct run {
	int status;	/* exit status, -1 when killed */
	char out[8192]; /* stdout */
	json_t *json;	/* stdout parsed, or NULL */
};

static const char *plugin_path(void)
{
	static char path[600];
	char self[512];
	ssize_t n;
	const char *env = getenv("CAPSTAN_CNI_BIN");

	if (env)
		return env;
	/* build/tests/root-tests -> build/bin/capstan-cni */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ASSERT(n > 0);
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(path, sizeof(path), "%s/../bin/capstan-cni", self);
	ASSERT_MSG(access(path, X_OK) == 0, "%s not built", path);
	return path;
}

/*
 * Run binary in the node namespace with CNI_COMMAND=cmd etc. (netns NULL:
 * no CNI_NETNS) and config on stdin. r->json is freed by run_free().
 */
static void run_plugin(struct run *r, const char *binary, const char *node, const char *cmd,
		       const char *id, const char *netns, const char *config)
{
	int in[2], out[2], st;
	char e_cmd[64], e_id[128], e_ns[128], errlog[600];
	size_t len = 0;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	ASSERT_OK(pipe2(in, O_CLOEXEC));
	ASSERT_OK(pipe2(out, O_CLOEXEC));
	snprintf(e_cmd, sizeof(e_cmd), "CNI_COMMAND=%s", cmd);
	snprintf(e_id, sizeof(e_id), "CNI_CONTAINERID=%s", id);
	snprintf(e_ns, sizeof(e_ns), "CNI_NETNS=%s", netns ? netns : "");
	snprintf(errlog, sizeof(errlog), "%s/plugin-stderr.log", test_tmpdir());
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
				 e_cmd,
				 e_id,
				 e_ns,
				 "CNI_IFNAME=eth0",
				 "CNI_PATH=/nonexistent",
				 "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=test;K8S_POD_NAME=p",
				 NULL };
		int errfd = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0644);

		enter_netns(node);
		dup2(in[0], 0);
		dup2(out[1], 1);
		if (errfd >= 0)
			dup2(errfd, 2);
		alarm(20);
		execle(binary, binary, (char *)NULL, envp);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (config && write(in[1], config, strlen(config)) != (ssize_t)strlen(config))
		test_fail(__FILE__, __LINE__, "write config: %s", strerror(errno));
	close(in[1]);
	for (;;) {
		ssize_t n = read(out[0], r->out + len, sizeof(r->out) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	r->out[len] = '\0';
	close(out[0]);
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	r->json = len ? json_loads(r->out, 0, NULL) : NULL;
}

static void run_free(struct run *r)
{
	json_decref(r->json);
	r->json = NULL;
}

/* A capstan-cni configuration: podCIDR, cniVersion, optional extra fields. */
static char *config(const char *version, const char *cidr, const char *extra)
{
	return xasprintf("{\"cniVersion\":\"%s\",\"name\":\"capstan\",\"type\":\"capstan-cni\","
			 "\"podCIDR\":\"%s\",\"dataDir\":\"%s/data\",\"mtu\":1400%s%s}",
			 version, cidr, test_tmpdir(), extra ? "," : "", extra ? extra : "");
}

static void expect_success(struct run *r, const char *what)
{
	ASSERT_MSG(r->status == 0, "%s: exit %d, stdout %s, stderr %s", what, r->status, r->out,
		   sh_out("tail -5 %s/plugin-stderr.log", test_tmpdir()));
}

static void expect_error(struct run *r, int code, const char *msg_part)
{
	const char *msg;

	ASSERT_MSG(r->status == 1, "exit %d, want 1; stdout %s", r->status, r->out);
	ASSERT_MSG(r->json != NULL, "stdout is not JSON: %s", r->out);
	ASSERT_MSG(json_integer_value(json_object_get(r->json, "code")) == code,
		   "code in %s, want %d", r->out, code);
	msg = json_string_value(json_object_get(r->json, "msg"));
	ASSERT_NOT_NULL(msg);
	ASSERT_MSG(!msg_part || strstr(msg, msg_part), "msg \"%s\" lacks \"%s\"", msg, msg_part);
	ASSERT_NOT_NULL(json_object_get(r->json, "cniVersion"));
	ASSERT_NOT_NULL(json_object_get(r->json, "details"));
}

/* The pod's address (without prefix) from an ADD result. */
static const char *result_addr(const json_t *res, char *buf)
{
	const char *a = json_string_value(
		json_object_get(json_array_get(json_object_get(res, "ips"), 0), "address"));
	uint32_t addr;
	unsigned prefix;

	ASSERT_NOT_NULL(a);
	ASSERT_OK(cni_ip4_cidr_parse(a, &addr, &prefix));
	ASSERT_EQ(prefix, 32);
	return cni_ip4_str(addr, buf);
}

static const char *host_if(const char *id)
{
	static char name[CNI_HOST_IFNAME_LEN + 1];

	cni_host_ifname(id, "eth0", name);
	return name;
}

static bool link_exists(const char *ns, const char *name)
{
	return sh("ip -n %s link show dev %s >/dev/null 2>&1", ns, name) == 0;
}

/* Wait up to 2 s for a link to disappear (netns teardown is asynchronous). */
static bool link_gone(const char *ns, const char *name)
{
	for (int i = 0; i < 40; i++) {
		if (!link_exists(ns, name))
			return true;
		usleep(50000);
	}
	return false;
}

static bool address_recorded(const char *cidr, const char *id)
{
	struct cni_ipam_conf c = { .network = "capstan" };
	char dir[600];
	uint32_t a;

	snprintf(dir, sizeof(dir), "%s/data", test_tmpdir());
	c.data_dir = dir;
	ASSERT_OK(cni_ip4_cidr_parse(cidr, &c.net.addr, &c.net.prefix));
	c.gateway = c.net.addr + 1;
	return cni_ipam_lookup(&c, id, "eth0", &a, NULL, 0) == 0;
}

/* ---------------------------------------------------------------- traffic */

#define PORT 18080

/*
 * One TCP round trip from client_ns to server_addr:PORT served in server_ns:
 * the server echoes "pong:" + what it got. Both ends are children bounded
 * by alarm(). true when the client got the right answer.
 */
static bool tcp_round_trip(const char *server_ns, const char *server_addr, const char *client_ns)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	int ready[2], st_s, st_c;
	pid_t server, client;
	char c;

	ASSERT_EQ(inet_pton(AF_INET, server_addr, &sa.sin_addr), 1);
	ASSERT_OK(pipe(ready));
	server = fork();
	ASSERT(server >= 0);
	if (server == 0) {
		char buf[64] = "pong:";
		int one = 1, fd, conn;
		ssize_t n;

		alarm(10);
		enter_netns(server_ns);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0)
			_exit(2);
		if (write(ready[1], "r", 1) != 1)
			_exit(3);
		conn = accept(fd, NULL, NULL);
		n = conn < 0 ? -1 : read(conn, buf + 5, sizeof(buf) - 6);
		if (n <= 0 || write(conn, buf, 5 + (size_t)n) != 5 + n)
			_exit(4);
		_exit(0);
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		waitpid(server, &st_s, 0);
		return false;
	}
	close(ready[0]);
	client = fork();
	ASSERT(client >= 0);
	if (client == 0) {
		char buf[64] = "";
		int fd;
		ssize_t n;

		alarm(5);
		enter_netns(client_ns);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(2);
		if (write(fd, "ping", 4) != 4)
			_exit(3);
		n = read(fd, buf, sizeof(buf) - 1);
		_exit(n == 9 && memcmp(buf, "pong:ping", 9) == 0 ? 0 : 4);
	}
	waitpid(client, &st_c, 0);
	if (!WIFEXITED(st_c) || WEXITSTATUS(st_c) != 0)
		kill(server, SIGKILL); /* the server would wait for its alarm */
	waitpid(server, &st_s, 0);
	return WIFEXITED(st_c) && WEXITSTATUS(st_c) == 0 && WIFEXITED(st_s) &&
	       WEXITSTATUS(st_s) == 0;
}

/* ---------------------------------------------------------------- tests */

/* What every test starts from: the binary, a node namespace, two pod namespaces. */
struct scene {
	const char *bin, *node, *pa, *pb;
};

static void scene_setup(struct scene *s)
{
	test_require_root();
	s->bin = plugin_path();
	s->node = netns_add("n");
	s->pa = netns_add("a");
	s->pb = netns_add("b");
}

TEST(cni_root_add_check_del_and_pod_traffic)
{
	struct scene sc;
	const char *bin, *node, *pa, *pb, *hif_a, *out;
	char *cfg = NULL, *check_cfg, *dumped, addr_a[CNI_IP4_STRLEN], addr_b[CNI_IP4_STRLEN];
	char hif_b[CNI_HOST_IFNAME_LEN + 1];
	struct run r, ra, rb;

	scene_setup(&sc);
	bin = sc.bin, node = sc.node, pa = sc.pa, pb = sc.pb;
	cfg = config("1.0.0", "10.244.1.0/24", NULL);

	run_plugin(&ra, bin, node, "ADD", "pod-a", netns_path(pa), cfg);
	expect_success(&ra, "ADD a");
	run_plugin(&rb, bin, node, "ADD", "pod-b", netns_path(pb), cfg);
	expect_success(&rb, "ADD b");
	ASSERT_STREQ(result_addr(ra.json, addr_a), "10.244.1.2");
	ASSERT_STREQ(result_addr(rb.json, addr_b), "10.244.1.3");

	/* The result: host end, eth0 in the sandbox, the address on eth0, the
	 * default route, no per-address "version" in 1.0.0. */
	json_t *ifs = json_object_get(ra.json, "interfaces");
	json_t *ip0 = json_array_get(json_object_get(ra.json, "ips"), 0);
	json_t *rt0 = json_array_get(json_object_get(ra.json, "routes"), 0);
	hif_a = host_if("pod-a");
	ASSERT_STREQ(json_string_value(json_object_get(ra.json, "cniVersion")), "1.0.0");
	ASSERT_STREQ(json_string_value(json_object_get(json_array_get(ifs, 0), "name")), hif_a);
	ASSERT_NULL(json_object_get(json_array_get(ifs, 0), "sandbox"));
	ASSERT_STREQ(json_string_value(json_object_get(json_array_get(ifs, 1), "name")), "eth0");
	ASSERT_STREQ(json_string_value(json_object_get(json_array_get(ifs, 1), "sandbox")),
		     netns_path(pa));
	ASSERT_EQ(strlen(json_string_value(json_object_get(json_array_get(ifs, 1), "mac"))), 17);
	ASSERT_EQ(json_integer_value(json_object_get(ip0, "interface")), 1);
	ASSERT_STREQ(json_string_value(json_object_get(ip0, "gateway")), "10.244.1.1");
	ASSERT_NULL(json_object_get(ip0, "version"));
	ASSERT_STREQ(json_string_value(json_object_get(rt0, "dst")), "0.0.0.0/0");
	ASSERT_STREQ(json_string_value(json_object_get(rt0, "gw")), "10.244.1.1");
	ASSERT(json_is_object(json_object_get(ra.json, "dns")));

	/* What the kernel has, seen with ip(8). */
	out = sh_out("ip -n %s -o addr show dev eth0", pa);
	ASSERT_MSG(strstr(out, "inet 10.244.1.2/32"), "eth0 in a: %s", out);
	out = sh_out("ip -n %s link show dev eth0", pa);
	ASSERT_MSG(strstr(out, "mtu 1400") && strstr(out, ",UP"), "eth0 in a: %s", out);
	out = sh_out("ip -n %s route show default", pa);
	ASSERT_MSG(strstr(out, "default via 10.244.1.1 dev eth0"), "routes in a: %s", out);
	out = sh_out("ip -n %s route show 10.244.1.2", node);
	ASSERT_MSG(strstr(out, hif_a) && strstr(out, "scope link"), "node route: %s", out);
	out = sh_out("ip -n %s -o addr show dev %s", node, hif_a);
	ASSERT_MSG(strstr(out, "inet 10.244.1.1/32"), "host end: %s", out);
	out = sh_out("ip -n %s -d link show dev %s", node, hif_a);
	ASSERT_MSG(strstr(out, "veth") && strstr(out, "alias capstan-cni pod-a eth0"),
		   "host end: %s", out);
	ASSERT_STREQ(sh_out("ip netns exec %s cat /proc/sys/net/ipv4/ip_forward", node), "1\n");

	/* Pod to pod, both ways; node to pod; pod to the node (the gateway). */
	ASSERT_MSG(tcp_round_trip(pa, "10.244.1.2", pb), "b cannot reach a");
	ASSERT_MSG(tcp_round_trip(pb, "10.244.1.3", pa), "a cannot reach b");
	ASSERT_MSG(tcp_round_trip(pa, "10.244.1.2", node), "the node cannot reach a");
	ASSERT_MSG(tcp_round_trip(node, "10.244.1.1", pb), "b cannot reach the node");

	/* CHECK with the ADD result as prevResult. */
	dumped = json_dumps(ra.json, JSON_COMPACT);
	check_cfg = config("1.0.0", "10.244.1.0/24", "\"prevResult\":");
	check_cfg = xrealloc(check_cfg, strlen(check_cfg) + strlen(dumped) + 2);
	check_cfg[strlen(check_cfg) - 1] = '\0'; /* drop the closing brace */
	strcat(check_cfg, dumped);
	strcat(check_cfg, "}");
	free(dumped);
	run_plugin(&r, bin, node, "CHECK", "pod-a", netns_path(pa), check_cfg);
	expect_success(&r, "CHECK a");
	ASSERT_STREQ(r.out, ""); /* CHECK prints nothing on success */
	run_free(&r);
	/* CHECK for another container with a's result: not its address. */
	run_plugin(&r, bin, node, "CHECK", "pod-b", netns_path(pa), check_cfg);
	expect_error(&r, 102, NULL);
	run_free(&r);
	/* CHECK without prevResult is a configuration error. */
	run_plugin(&r, bin, node, "CHECK", "pod-a", netns_path(pa), cfg);
	expect_error(&r, 7, "prevResult");
	run_free(&r);
	/* Break the pod's default route: CHECK must notice. */
	ASSERT_EQ(sh("ip -n %s route del default", pa), 0);
	run_plugin(&r, bin, node, "CHECK", "pod-a", netns_path(pa), check_cfg);
	expect_error(&r, 102, "0.0.0.0/0");
	run_free(&r);

	/* DEL twice, the second time without a netns, as containerd does. */
	run_plugin(&r, bin, node, "DEL", "pod-a", netns_path(pa), check_cfg);
	expect_success(&r, "DEL a");
	ASSERT_STREQ(r.out, "");
	ASSERT(!link_exists(node, hif_a));
	ASSERT(!link_exists(pa, "eth0"));
	ASSERT(!address_recorded("10.244.1.0/24", "pod-a"));
	ASSERT_STREQ(sh_out("ip -n %s route show 10.244.1.2", node), "");
	run_plugin(&r, bin, node, "DEL", "pod-a", NULL, cfg);
	expect_success(&r, "second DEL a");

	/* b is untouched by a's removal: the gateway address lives on b's end too. */
	ASSERT(address_recorded("10.244.1.0/24", "pod-b"));
	ASSERT_MSG(tcp_round_trip(node, "10.244.1.1", pb), "b lost the node after a's DEL");
	snprintf(hif_b, sizeof(hif_b), "%s", host_if("pod-b"));
	run_plugin(&r, bin, node, "DEL", "pod-b", netns_path(pb), cfg);
	expect_success(&r, "DEL b");
	ASSERT(!link_exists(node, hif_b));

	/* The log file sits in dataDir. */
	ASSERT(strstr(sh_out("cat %s/data/capstan-cni.log", test_tmpdir()), "ADD pod test/p"));
	run_free(&ra);
	run_free(&rb);
	free(check_cfg);
	free(cfg);
}

TEST(cni_root_del_after_the_netns_is_gone)
{
	struct scene sc;
	const char *bin, *node, *pc;
	char *cfg, addr[CNI_IP4_STRLEN], hif[CNI_HOST_IFNAME_LEN + 1];
	struct run r;

	scene_setup(&sc);
	bin = sc.bin, node = sc.node, pc = sc.pa;
	cfg = config("1.0.0", "10.244.1.0/24", NULL);
	snprintf(hif, sizeof(hif), "%s", host_if("pod-c"));

	run_plugin(&r, bin, node, "ADD", "pod-c", netns_path(pc), cfg);
	expect_success(&r, "ADD c");
	ASSERT_STREQ(result_addr(r.json, addr), "10.244.1.2");
	run_free(&r);
	ASSERT(link_exists(node, hif));
	char path[64];
	snprintf(path, sizeof(path), "%s", netns_path(pc));
	netns_del(pc);

	/* The netns path no longer exists: DEL still succeeds and cleans up. */
	run_plugin(&r, bin, node, "DEL", "pod-c", path, cfg);
	expect_success(&r, "DEL after netns deletion");
	ASSERT(link_gone(node, hif));
	ASSERT(!address_recorded("10.244.1.0/24", "pod-c"));
	ASSERT_STREQ(sh_out("ip -n %s route show 10.244.1.2", node), "");
	run_plugin(&r, bin, node, "DEL", "pod-c", NULL, cfg);
	expect_success(&r, "second DEL");
	free(cfg);
}

TEST(cni_root_add_is_idempotent_and_speaks_0_4_0)
{
	struct scene sc;
	const char *bin, *node, *pa;
	char *cfg, a1[CNI_IP4_STRLEN], a2[CNI_IP4_STRLEN];
	json_t *ip0;
	struct run r;

	scene_setup(&sc);
	bin = sc.bin, node = sc.node, pa = sc.pa;
	cfg = config("0.4.0", "10.244.3.0/24", "\"gateway\":\"10.244.3.254\"");

	run_plugin(&r, bin, node, "ADD", "pod-a", netns_path(pa), cfg);
	expect_success(&r, "ADD");
	ASSERT_STREQ(json_string_value(json_object_get(r.json, "cniVersion")), "0.4.0");
	ip0 = json_array_get(json_object_get(r.json, "ips"), 0);
	ASSERT_STREQ(json_string_value(json_object_get(ip0, "version")), "4");
	ASSERT_STREQ(json_string_value(json_object_get(ip0, "gateway")), "10.244.3.254");
	ASSERT_STREQ(result_addr(r.json, a1), "10.244.3.1"); /* .1 is free with this gateway */
	run_free(&r);
	ASSERT(strstr(sh_out("ip -n %s route show default", pa), "via 10.244.3.254"));

	/* ADD again (a runtime retrying after a crash): same address, one veth. */
	run_plugin(&r, bin, node, "ADD", "pod-a", netns_path(pa), cfg);
	expect_success(&r, "second ADD");
	ASSERT_STREQ(result_addr(r.json, a2), a1);
	run_free(&r);
	ASSERT_STREQ(sh_out("ip -n %s -o link show type veth | wc -l", node), "1\n");
	ASSERT(strstr(sh_out("ip -n %s -o addr show dev eth0", pa), "inet 10.244.3.1/32"));

	/* CHECK is not defined before 0.4.0. */
	free(cfg);
	cfg = config("0.3.1", "10.244.3.0/24", "\"gateway\":\"10.244.3.254\"");
	run_plugin(&r, bin, node, "CHECK", "pod-a", netns_path(pa), cfg);
	expect_error(&r, 1, "CHECK");
	run_free(&r);
	run_plugin(&r, bin, node, "DEL", "pod-a", netns_path(pa), cfg);
	expect_success(&r, "DEL");
	free(cfg);
}

TEST(cni_root_exhaustion_and_bad_input_give_error_json)
{
	struct scene sc;
	const char *bin, *node, *pa, *pb;
	char *cfg, *bad;
	struct run r;

	scene_setup(&sc);
	bin = sc.bin, node = sc.node, pa = sc.pa, pb = sc.pb;

	/* A /30 has one pod address: the second pod gets code 101. */
	cfg = config("1.0.0", "10.244.2.0/30", NULL);
	run_plugin(&r, bin, node, "ADD", "pod-a", netns_path(pa), cfg);
	expect_success(&r, "ADD a");
	run_free(&r);
	run_plugin(&r, bin, node, "ADD", "pod-b", netns_path(pb), cfg);
	expect_error(&r, 101, "no free address in 10.244.2.0/30");
	run_free(&r);
	/* The failed ADD left nothing behind. */
	ASSERT(!link_exists(node, host_if("pod-b")));
	ASSERT(!link_exists(pb, "eth0"));

	/* eth0 already taken in the sandbox: the ADD fails after allocating,
	 * and gives the address back and removes its host end. */
	char *cfg4 = config("1.0.0", "10.244.4.0/24", NULL);
	ASSERT_EQ(sh("ip -n %s link add eth0 type veth peer name eth0peer", pb), 0);
	run_plugin(&r, bin, node, "ADD", "pod-y", netns_path(pb), cfg4);
	expect_error(&r, 100, "eth0 already exists");
	run_free(&r);
	ASSERT(!address_recorded("10.244.4.0/24", "pod-y"));
	ASSERT(!link_exists(node, host_if("pod-y")));
	ASSERT_EQ(sh("ip -n %s link del eth0", pb), 0);
	free(cfg4);

	/* The host name of pod-z already belongs to another container (a hash
	 * collision): ADD refuses with 103, DEL leaves that link alone. */
	char hz[CNI_HOST_IFNAME_LEN + 1];
	snprintf(hz, sizeof(hz), "%s", host_if("pod-z"));
	ASSERT_EQ(sh("ip -n %s link add %s type veth peer name %sp && "
		     "ip -n %s link set %s alias 'capstan-cni other eth0'",
		     node, hz, hz, node, hz),
		  0);
	cfg4 = config("1.0.0", "10.244.4.0/24", NULL);
	run_plugin(&r, bin, node, "ADD", "pod-z", netns_path(pb), cfg4);
	expect_error(&r, 103, hz);
	run_free(&r);
	ASSERT(!address_recorded("10.244.4.0/24", "pod-z"));
	run_plugin(&r, bin, node, "DEL", "pod-z", netns_path(pb), cfg4);
	expect_success(&r, "DEL of a colliding name");
	ASSERT(link_exists(node, hz));
	free(cfg4);

	/* An ADD into a netns that does not exist: an error, and no address kept. */
	run_plugin(&r, bin, node, "ADD", "pod-x", "/run/netns/capstan-no-such-netns", cfg);
	expect_error(&r, 100, "netns");
	run_free(&r);
	ASSERT(!address_recorded("10.244.2.0/30", "pod-x"));
	free(cfg);

	/* Bad configurations: exit 1 with the error object, nothing created. */
	bad = config("1.0.0", "10.244.1.0/33", NULL);
	run_plugin(&r, bin, node, "ADD", "pod-b", netns_path(pb), bad);
	expect_error(&r, 7, "podCIDR");
	run_free(&r);
	free(bad);
	run_plugin(&r, bin, node, "ADD", "pod-b", netns_path(pb), "{not json");
	expect_error(&r, 6, NULL);
	run_free(&r);
	run_plugin(&r, bin, node, "ADD", "pod-b", netns_path(pb),
		   "{\"cniVersion\":\"0.2.0\",\"name\":\"capstan\",\"type\":\"capstan-cni\"}");
	expect_error(&r, 1, "0.2.0");
	run_free(&r);
	bad = config("0.4.0", "10.244.1.0/24", "\"ipam\":{\"type\":\"host-local\"}");
	run_plugin(&r, bin, node, "ADD", "pod-b", netns_path(pb), bad);
	expect_error(&r, 2, "ipam");
	ASSERT_STREQ(json_string_value(json_object_get(r.json, "cniVersion")), "0.4.0");
	run_free(&r);
	free(bad);
	cfg = config("1.0.0", "10.244.1.0/24", NULL);
	run_plugin(&r, bin, node, "ADD", "pod-b", NULL, cfg); /* ADD without CNI_NETNS */
	expect_error(&r, 4, "CNI_NETNS");
	run_free(&r);
	run_plugin(&r, bin, node, "ADD", "-bad-id", netns_path(pb), cfg);
	expect_error(&r, 4, "CNI_CONTAINERID");
	run_free(&r);
	run_plugin(&r, bin, node, "GC", "pod-b", netns_path(pb), cfg);
	expect_error(&r, 4, "CNI_COMMAND");
	run_free(&r);
	ASSERT(!link_exists(pb, "eth0"));

	/* VERSION needs nothing but the command. */
	run_plugin(&r, bin, node, "VERSION", "", NULL, "{\"cniVersion\":\"1.0.0\"}");
	expect_success(&r, "VERSION");
	ASSERT_STREQ(r.out, "{\"cniVersion\":\"1.0.0\",\"supportedVersions\":"
			    "[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\"]}\n");
	run_free(&r);
	run_plugin(&r, bin, node, "DEL", "pod-a", NULL, cfg);
	expect_success(&r, "DEL a (other CIDR: the veth is removed all the same)");
	ASSERT(!link_exists(node, host_if("pod-a")));
	free(cfg);
}

TEST(cni_root_loopback_mode)
{
	struct scene sc;
	const char *bin, *node, *pa;
	char lo_bin[600], target[PATH_MAX];
	const char *lo_cfg = "{\"cniVersion\":\"1.0.0\",\"name\":\"cni-loopback\","
			     "\"type\":\"loopback\"}";
	json_t *ip0;
	struct run r;

	scene_setup(&sc);
	bin = sc.bin, node = sc.node, pa = sc.pa;
	/* containerd finds the plugin by its type: a link named "loopback". */
	snprintf(lo_bin, sizeof(lo_bin), "%s/loopback", test_tmpdir());
	ASSERT_NOT_NULL(realpath(bin, target));
	ASSERT_OK(symlink(target, lo_bin));
	ASSERT_EQ(sh("ip -n %s link set lo down", pa), 0);

	/* CHECK notices lo is down. */
	run_plugin(&r, lo_bin, node, "CHECK", "pod-a", netns_path(pa), lo_cfg);
	expect_error(&r, 102, "lo");
	run_free(&r);

	run_plugin(&r, lo_bin, node, "ADD", "pod-a", netns_path(pa), lo_cfg);
	expect_success(&r, "loopback ADD");
	ASSERT_STREQ(json_string_value(json_object_get(
			     json_array_get(json_object_get(r.json, "interfaces"), 0), "name")),
		     "lo");
	ip0 = json_array_get(json_object_get(r.json, "ips"), 0);
	ASSERT_STREQ(json_string_value(json_object_get(ip0, "address")), "127.0.0.1/8");
	ASSERT_EQ(json_integer_value(json_object_get(ip0, "interface")), 0);
	run_free(&r);
	ASSERT(strstr(sh_out("ip -n %s link show lo", pa), ",UP"));
	ASSERT(tcp_round_trip(pa, "127.0.0.1", pa));

	run_plugin(&r, lo_bin, node, "CHECK", "pod-a", netns_path(pa), lo_cfg);
	expect_success(&r, "loopback CHECK");
	run_free(&r);
	run_plugin(&r, lo_bin, node, "DEL", "pod-a", netns_path(pa), lo_cfg);
	expect_success(&r, "loopback DEL");
	run_free(&r);
	run_plugin(&r, lo_bin, node, "DEL", "pod-a", NULL, lo_cfg);
	expect_success(&r, "loopback DEL without netns");
	run_free(&r);
	/* ADD without a netns is an environment error in loopback mode too. */
	run_plugin(&r, lo_bin, node, "ADD", "pod-a", NULL, lo_cfg);
	expect_error(&r, 4, "CNI_NETNS");
	run_free(&r);
	/* Nothing was created in the node namespace. */
	ASSERT_STREQ(sh_out("ip -n %s -o link show type veth | wc -l", node), "0\n");
}
