/*
 * Root tests for capstan-agent's datapath side: the loader (attach, pin,
 * swap programs into pinned links on restart, replace links that point at
 * another cgroup, clean up), the writer against the real maps, the safety
 * route, and the agent binary end to end with a --static file.
 *
 * Everything runs against a private bpffs and a test cgroup (fixture.h);
 * the agent binary and every client run in network namespaces of their own
 * (the agent's unreachable route lands there, not on the host), and
 * traffic only goes to 127.0.0.1 inside those namespaces.
 */
#include "test.h"
#include "fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>

#include "abi.h"
#include "agent/lb/loader.h"
#include "agent/lb/mapops.h"
#include "agent/lb/route.h"
#include "agent/lb/writer.h"
#include "util.h"

#define VIP "10.96.0.10"
#define VIP_PORT 80
#define BACKEND_PORT 18181

static const char *pin_dir(void)
{
	static char dir[600];

	snprintf(dir, sizeof(dir), "%s/capstan", fixture_bpffs());
	return dir;
}

static struct lb_loader *open_loader(const char *cgroup)
{
	struct lb_loader_config c = { .bpffs_dir = pin_dir(), .cgroup_path = cgroup };
	struct lb_loader *l = NULL;
	char err[512];

	ASSERT_MSG(lb_loader_open(&c, &l, err, sizeof(err)) == 0, "loader: %s", err);
	return l;
}

/* Programs attached to cgroup fd for one attach type. */
static int attached(int cg_fd, enum bpf_attach_type type, __u32 *ids, __u32 max)
{
	__u32 cnt = max, flags = 0;

	ASSERT_OK(bpf_prog_query(cg_fd, type, 0, &flags, ids, &cnt) ? -errno : 0);
	return (int)cnt;
}

/*
 * Programs attached after their links lost their last reference, waiting
 * up to 2 s for none: removing a link's pin frees the link when bpffs lets
 * go of the inode, which the kernel may do a moment later (RCU, dentry
 * reclaim), so "detached" is eventual, not immediate.
 */
static int attached_eventually(int cg_fd, enum bpf_attach_type type)
{
	__u32 ids[8];
	int n = 0;

	for (int i = 0; i < 200; i++) {
		n = attached(cg_fd, type, ids, 8);
		if (n == 0)
			break;
		usleep(10 * 1000);
	}
	return n;
}

/* Each program of the object is attached to cg exactly once, by its id. */
static void check_attached(struct lb_loader *l, int cg_fd)
{
	const struct lb_loader_program *p;
	size_t n = lb_loader_programs(l, &p);
	struct bpf_program *prog;
	size_t i = 0;

	ASSERT(n >= 1);
	bpf_object__for_each_program(prog, lb_loader_object(l)) {
		__u32 ids[8];

		ASSERT_EQ(attached(cg_fd, bpf_program__expected_attach_type(prog), ids, 8), 1);
		ASSERT_EQ(ids[0], p[i].prog_id);
		i++;
	}
	ASSERT_EQ(i, n);
}

/* One service VIP:80 -> 127.0.0.1:BACKEND_PORT, through the writer. */
static void program_service(struct lb_loader *l)
{
	struct lb_bpf_maps maps;
	struct lb_writer *w;
	struct capstan_backend be = { .port = htons(BACKEND_PORT), .proto = IPPROTO_TCP };
	struct lb_frontend f = {
		.port = htons(VIP_PORT), .proto = IPPROTO_TCP, .backends = &be, .n_active = 1
	};
	char err[256];

	ASSERT_MSG(lb_bpf_maps_init(&maps, lb_loader_object(l), err, sizeof(err)) == 0, "%s", err);
	ASSERT_STREQ(err, "");
	inet_pton(AF_INET, "127.0.0.1", &be.addr);
	inet_pton(AF_INET, VIP, &f.addr);
	w = lb_writer_new(&(struct lb_writer_config){ .ops = &lb_bpf_ops, .ops_ctx = &maps });
	ASSERT_OK(lb_writer_restore(w, NULL));
	lb_writer_begin(w, false);
	ASSERT_OK(lb_writer_set_service(w, "default/web", &f, 1, NULL));
	ASSERT_OK(lb_writer_commit(w, NULL));
	lb_writer_free(w);
}

/* In a child in the cgroup and its own netns: VIP:80 reaches the backend. */
static int child_translated(void *arg)
{
	struct sockaddr_in b = { .sin_family = AF_INET, .sin_port = htons(BACKEND_PORT) };
	struct sockaddr_in v = { .sin_family = AF_INET, .sin_port = htons(VIP_PORT) };
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, c, a;
	struct pollfd p = { .events = POLLIN };

	inet_pton(AF_INET, "127.0.0.1", &b.sin_addr);
	inet_pton(AF_INET, VIP, &v.sin_addr);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&b, sizeof(b)) < 0 || listen(l, 4) < 0)
		return 10;
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(c, (struct sockaddr *)&v, sizeof(v)) < 0) {
		fprintf(stderr, "child: connect " VIP ": %s\n", strerror(errno));
		return 11;
	}
	p.fd = l;
	if (poll(&p, 1, 2000) != 1)
		return 12;
	a = accept(l, NULL, NULL);
	if (a < 0)
		return 13;
	/* The application still sees the service as its peer. */
	if (getpeername(c, (struct sockaddr *)&peer, &plen) < 0 ||
	    peer.sin_addr.s_addr != v.sin_addr.s_addr || peer.sin_port != v.sin_port) {
		fprintf(stderr, "child: getpeername does not show the service\n");
		return 14;
	}
	close(a);
	close(c);
	close(l);
	return 0;
}

static bool pinned(const char *name)
{
	char path[1400];

	snprintf(path, sizeof(path), "%.600s/%.200s", pin_dir(), name);
	return access(path, F_OK) == 0;
}

static const char *agent_bin(void)
{
	static char path[512];
	const char *build = getenv("BUILD");

	snprintf(path, sizeof(path), "%s/bin/capstan-agent", build && *build ? build : "build");
	ASSERT_MSG(access(path, X_OK) == 0, "%s missing: build it first (make all)", path);
	return path;
}

/* Run capstan-agent with args in a new netns; returns its pid. Output to log. */
static pid_t spawn_agent(char *const *args, const char *log)
{
	char *argv[32] = { (char *)agent_bin() };
	int n = 1;
	pid_t pid;

	while (n < 31 && args[n - 1]) {
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;
	fflush(NULL);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		/* Its safety route goes into this private namespace. */
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || unshare(CLONE_NEWNET) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Exit status of pid within timeout_ms, or -1 (the process is then killed). */
static int wait_exit(pid_t pid, int timeout_ms)
{
	uint64_t deadline = now_mono_ns() + (uint64_t)timeout_ms * 1000000;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (now_mono_ns() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		usleep(10000);
	}
}

static void show_log(const char *log)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "tail -20 %s >&2", log);
	if (system(cmd) != 0)
		fprintf(stderr, "(no log)\n");
}

static int run_cleanup(const char *log)
{
	char *args[] = { "--cleanup", "--bpffs-dir", (char *)pin_dir(), NULL };

	return wait_exit(spawn_agent(args, log), 10000);
}

TEST(agent_loader_attaches_restarts_into_pinned_links_and_cleans_up)
{
	const struct lb_loader_program *p;
	unsigned link_ids[LB_LOADER_MAX_PROGS], prog_ids[LB_LOADER_MAX_PROGS];
	struct capstan_svc_key key = { .port = htons(VIP_PORT), .proto = IPPROTO_TCP };
	struct capstan_svc_val val;
	struct lb_restore_stats rs;
	struct lb_bpf_maps maps;
	struct lb_writer *w;
	struct lb_loader *l;
	char path[1400], log[600], err[256];
	size_t n;
	int fd;

	fixture_require_bpf();
	l = open_loader(fixture_cgroup());
	n = lb_loader_programs(l, &p);
	ASSERT(n >= 1);
	for (size_t i = 0; i < n; i++) {
		ASSERT_EQ(p[i].action, LB_ATTACH_NEW);
		link_ids[i] = p[i].link_id;
		prog_ids[i] = p[i].prog_id;
		snprintf(path, sizeof(path), "links/%s", p[i].name);
		ASSERT_MSG(pinned(path), "%s not pinned", path);
	}
	ASSERT(pinned(CAPSTAN_MAP_SVC));
	check_attached(l, fixture_cgroup_fd());
	program_service(l);
	ASSERT_EQ(fixture_run_child(true, child_translated, NULL), 0);

	/* The agent goes away: links and maps stay, translation goes on. */
	lb_loader_close(l);
	ASSERT_EQ(fixture_run_child(true, child_translated, NULL), 0);

	/* Restart: the same links carry new programs; the maps kept everything. */
	l = open_loader(fixture_cgroup());
	ASSERT_EQ(lb_loader_programs(l, &p), n);
	for (size_t i = 0; i < n; i++) {
		ASSERT_EQ(p[i].action, LB_ATTACH_UPDATED);
		ASSERT_EQ(p[i].link_id, link_ids[i]);
		ASSERT_NE(p[i].prog_id, prog_ids[i]);
	}
	check_attached(l, fixture_cgroup_fd());
	ASSERT_OK(lb_bpf_maps_init(&maps, lb_loader_object(l), err, sizeof(err)));
	inet_pton(AF_INET, VIP, &key.addr);
	ASSERT_OK(bpf_map_lookup_elem(maps.fd[LB_MAP_SVC], &key, &val) ? -errno : 0);
	ASSERT_EQ(val.count, 1);
	ASSERT_EQ(val.rev_nat_id, 1);
	w = lb_writer_new(&(struct lb_writer_config){ .ops = &lb_bpf_ops, .ops_ctx = &maps });
	ASSERT_OK(lb_writer_restore(w, &rs));
	ASSERT_EQ(rs.frontends, 1);
	ASSERT_EQ(rs.backends, 1);
	ASSERT_EQ(rs.stale, 0);
	lb_writer_free(w);
	ASSERT_EQ(fixture_run_child(true, child_translated, NULL), 0);
	lb_loader_close(l);

	/* capstan-agent --cleanup: nothing pinned, nothing attached. */
	snprintf(log, sizeof(log), "%s/cleanup.log", test_tmpdir());
	if (run_cleanup(log) != 0) {
		show_log(log);
		ASSERT_MSG(false, "capstan-agent --cleanup failed");
	}
	ASSERT_MSG(access(pin_dir(), F_OK) != 0, "%s still exists", pin_dir());
	fd = fixture_cgroup_fd();
	ASSERT_EQ(attached_eventually(fd, BPF_CGROUP_INET4_CONNECT), 0);
	ASSERT_EQ(attached_eventually(fd, BPF_CGROUP_UDP4_SENDMSG), 0);
	/* Cleaning up twice is fine. */
	ASSERT_EQ(run_cleanup(log), 0);
}

static char sub_cgroup[1400];

static void remove_sub_cgroup(void)
{
	if (sub_cgroup[0])
		rmdir(sub_cgroup);
}

TEST(agent_loader_moves_links_to_a_new_cgroup)
{
	const struct lb_loader_program *p;
	struct lb_loader *l;
	char err[256];
	int sub_fd;

	fixture_require_bpf();
	l = open_loader(fixture_cgroup());
	lb_loader_close(l);
	snprintf(sub_cgroup, sizeof(sub_cgroup), "%s/moved", fixture_cgroup());
	ASSERT_OK(mkdir(sub_cgroup, 0755));
	test_defer(remove_sub_cgroup);

	/* --cgroup-path changed: new links on the new cgroup, old ones released. */
	l = open_loader(sub_cgroup);
	lb_loader_programs(l, &p);
	ASSERT_EQ(p[0].action, LB_ATTACH_REPLACED);
	sub_fd = open(sub_cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT(sub_fd >= 0);
	check_attached(l, sub_fd);
	ASSERT_EQ(attached_eventually(fixture_cgroup_fd(), BPF_CGROUP_INET4_CONNECT), 0);
	lb_loader_close(l);
	ASSERT_OK(lb_loader_cleanup(pin_dir(), err, sizeof(err)));
	ASSERT_EQ(attached_eventually(sub_fd, BPF_CGROUP_INET4_CONNECT), 0);
	close(sub_fd);
}

TEST(agent_loader_drops_pins_of_programs_that_no_longer_exist)
{
	struct lb_loader *l;
	char stale[1400], err[256];
	int fd;

	fixture_require_bpf();
	l = open_loader(fixture_cgroup());
	lb_loader_close(l);
	/* Something pinned under links/ that no program is named after. */
	snprintf(stale, sizeof(stale), "%s/links/capstan_retired4", pin_dir());
	ASSERT(access(stale, F_OK) != 0);
	{
		char map_pin[1400];

		snprintf(map_pin, sizeof(map_pin), "%s/%s", pin_dir(), CAPSTAN_MAP_SVC);
		fd = bpf_obj_get(map_pin);
		ASSERT(fd >= 0);
		ASSERT_OK(bpf_obj_pin(fd, stale) ? -errno : 0);
		close(fd);
	}
	l = open_loader(fixture_cgroup());
	ASSERT_MSG(access(stale, F_OK) != 0, "%s survived", stale);
	lb_loader_close(l);
	ASSERT_OK(lb_loader_cleanup(pin_dir(), err, sizeof(err)));
}

TEST(agent_loader_removes_maps_of_earlier_layouts)
{
	struct lb_loader *l;
	char old[1400], keep[1400], err[256];
	int fd;

	fixture_require_bpf();
	/* What an earlier agent left: the services map under its old name, and a map of no layout.
	 */
	snprintf(old, sizeof(old), "%s/capstan_svc_v1", pin_dir());
	snprintf(keep, sizeof(keep), "%s/someone_elses_map", pin_dir());
	ASSERT(mkdir(pin_dir(), 0700) == 0 || errno == EEXIST);
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "capstan_svc_v1", 4, 4, 16, NULL);
	ASSERT(fd >= 0);
	ASSERT_OK(bpf_obj_pin(fd, old) ? -errno : 0);
	ASSERT_OK(bpf_obj_pin(fd, keep) ? -errno : 0);
	close(fd);
	l = open_loader(fixture_cgroup());
	ASSERT_MSG(access(old, F_OK) != 0, "%s survived", old);
	ASSERT_MSG(access(keep, F_OK) == 0, "%s was removed", keep);
	lb_loader_close(l);
	ASSERT_OK(unlink(keep));
	ASSERT_OK(lb_loader_cleanup(pin_dir(), err, sizeof(err)));
}

TEST(agent_loader_rejects_bad_paths)
{
	struct lb_loader_config c = { .bpffs_dir = NULL, .cgroup_path = "/nonexistent/cgroup" };
	struct lb_loader *l = NULL;
	char dir[600], err[256];

	fixture_require_bpf();
	c.bpffs_dir = pin_dir();
	ASSERT_EQ(lb_loader_open(&c, &l, err, sizeof(err)), -ENOENT);
	ASSERT(strstr(err, "/nonexistent/cgroup") != NULL);
	ASSERT_NULL(l);
	/* A directory that is not on a bpffs. */
	snprintf(dir, sizeof(dir), "%s/plain", test_tmpdir());
	c.bpffs_dir = dir;
	c.cgroup_path = fixture_cgroup();
	ASSERT_EQ(lb_loader_open(&c, &l, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "not on a bpffs") != NULL);
	/* A cgroup path that is not cgroup v2. */
	c.bpffs_dir = pin_dir();
	c.cgroup_path = test_tmpdir();
	ASSERT_EQ(lb_loader_open(&c, &l, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "not a cgroup v2") != NULL);
	ASSERT_OK(lb_loader_cleanup(pin_dir(), err, sizeof(err)));
}

/*
 * In a private mount namespace (nothing leaks to the host): with no bpffs at
 * /sys/fs/bpf, preparing a directory below it mounts one there.
 */
static int child_mounts_bpffs(void)
{
	struct statfs sfs;
	char err[256];

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return 30;
	while (statfs(LB_BPFFS_ROOT, &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC)
		if (umount2(LB_BPFFS_ROOT, MNT_DETACH) < 0)
			return 31;
	if (lb_loader_prepare_bpffs(LB_BPFFS_ROOT "/capstan-test", err, sizeof(err)) < 0) {
		fprintf(stderr, "child: %s\n", err);
		return 32;
	}
	if (statfs(LB_BPFFS_ROOT "/capstan-test/links", &sfs) < 0 || sfs.f_type != BPF_FS_MAGIC)
		return 33;
	/* Already mounted: nothing to do, still fine. */
	if (lb_loader_prepare_bpffs(LB_BPFFS_ROOT "/capstan-test", err, sizeof(err)) < 0)
		return 34;
	return 0;
}

TEST(agent_loader_mounts_bpffs_under_sys_fs_bpf_when_missing)
{
	pid_t pid;
	int status;

	fixture_require_bpf();
	fflush(NULL);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0)
		_exit(child_mounts_bpffs());
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), 0);
}

/* In a fresh netns (the fixture put `unreachable 10.96.0.0/12` there). */
static int child_route(void *arg)
{
	enum lb_route_action act;
	char old[32] = "", err[256];
	FILE *f;
	char line[256] = "";

	if (lb_route_ensure_unreachable("10.96.0.0/12", &act, old, sizeof(old), err, sizeof(err)) ||
	    act != LB_ROUTE_PRESENT)
		return 20;
	if (system("ip route del 10.96.0.0/12") != 0)
		return 21;
	if (lb_route_ensure_unreachable("10.96.0.0/12", &act, old, sizeof(old), err, sizeof(err)) ||
	    act != LB_ROUTE_ADDED)
		return 22;
	if (system("ip route replace blackhole 10.96.0.0/12") != 0)
		return 23;
	if (lb_route_ensure_unreachable("10.96.0.0/12", &act, old, sizeof(old), err, sizeof(err)) ||
	    act != LB_ROUTE_REPLACED || strcmp(old, "blackhole") != 0) {
		fprintf(stderr, "child: replace: act %d old %s err %s\n", act, old, err);
		return 24;
	}
	f = popen("ip -4 route show 10.96.0.0/12", "r");
	if (!f || !fgets(line, sizeof(line), f) || strncmp(line, "unreachable 10.96.0.0/12", 24)) {
		fprintf(stderr, "child: route is now: %s\n", line);
		return 25;
	}
	pclose(f);
	/* Only one route for the prefix. */
	if (system("test $(ip -4 route show 10.96.0.0/12 | wc -l) = 1") != 0)
		return 26;
	/* A more specific route is someone else's business: left alone. */
	if (system("ip route add blackhole 10.96.5.0/24") != 0 ||
	    lb_route_ensure_unreachable("10.96.0.0/12", &act, old, sizeof(old), err, sizeof(err)) ||
	    act != LB_ROUTE_PRESENT ||
	    system("ip route show 10.96.5.0/24 | grep -q blackhole") != 0)
		return 27;
	if (lb_route_ensure_unreachable("10.96.0.1/12", &act, old, sizeof(old), err, sizeof(err)) !=
	    -EINVAL)
		return 28;
	return 0;
}

TEST(agent_route_unreachable_is_idempotent_and_replaces_other_types)
{
	fixture_require_bpf();
	ASSERT_EQ(fixture_run_child(false, child_route, NULL), 0);
}

/* The pinned service map holds VIP:80 (the agent's first sync is done). */
static bool service_programmed(void)
{
	struct capstan_svc_key key = { .port = htons(VIP_PORT), .proto = IPPROTO_TCP };
	struct capstan_svc_val val;
	char path[1400];
	int fd;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", pin_dir(), CAPSTAN_MAP_SVC);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	inet_pton(AF_INET, VIP, &key.addr);
	ok = bpf_map_lookup_elem(fd, &key, &val) == 0 && val.count == 1;
	close(fd);
	return ok;
}

TEST(agent_binary_static_file_end_to_end)
{
	char file[600], log[600], cg[600];
	char *args[] = { "--static",
			 file,
			 "--bpffs-dir",
			 (char *)pin_dir(),
			 "--cgroup-path",
			 cg,
			 "--metrics-listen",
			 "127.0.0.1:0",
			 "--node-name",
			 "n1",
			 "--sync-min-interval",
			 "10ms",
			 NULL };
	FILE *f;
	pid_t pid;
	int i, rc;

	fixture_require_bpf();
	snprintf(cg, sizeof(cg), "%s", fixture_cgroup());
	snprintf(file, sizeof(file), "%s/services.json", test_tmpdir());
	snprintf(log, sizeof(log), "%s/agent.log", test_tmpdir());
	f = fopen(file, "w");
	ASSERT_NOT_NULL(f);
	fprintf(f,
		"{\"kind\":\"List\",\"items\":["
		"{\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},"
		"\"spec\":{\"clusterIP\":\"" VIP "\",\"ports\":[{\"name\":\"http\",\"port\":%d,"
		"\"targetPort\":\"http\"}]}},"
		"{\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"web-1\",\"namespace\":"
		"\"default\",\"labels\":{\"kubernetes.io/service-name\":\"web\"}},"
		"\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"http\",\"port\":%d}],"
		"\"endpoints\":[{\"addresses\":[\"127.0.0.1\"],\"conditions\":{\"ready\":true}}]}]"
		"}",
		VIP_PORT, BACKEND_PORT);
	fclose(f);

	pid = spawn_agent(args, log);
	for (i = 0; i < 500 && !service_programmed(); i++) {
		if (waitpid(pid, &rc, WNOHANG) == pid) {
			show_log(log);
			ASSERT_MSG(false, "capstan-agent exited early");
		}
		usleep(20000);
	}
	if (!service_programmed()) {
		kill(pid, SIGKILL);
		waitpid(pid, &rc, 0);
		show_log(log);
		ASSERT_MSG(false, "the agent did not program the service within 10 s");
	}
	ASSERT_EQ(fixture_run_child(true, child_translated, NULL), 0);

	/* SIGTERM: a clean exit that leaves the datapath running. */
	kill(pid, SIGTERM);
	rc = wait_exit(pid, 10000);
	if (rc != 0)
		show_log(log);
	ASSERT_EQ(rc, 0);
	ASSERT(pinned("links/capstan_connect4"));
	ASSERT_EQ(fixture_run_child(true, child_translated, NULL), 0);

	/* A restart reuses everything: its first sync writes nothing. */
	pid = spawn_agent(args, log);
	for (i = 0; i < 500; i++) {
		char cmd[800];

		snprintf(cmd, sizeof(cmd), "grep -q 'sync (full).* 0 writes, 0 deletes' %s", log);
		if (system(cmd) == 0)
			break;
		usleep(20000);
	}
	kill(pid, SIGTERM);
	rc = wait_exit(pid, 10000);
	if (i == 500 || rc != 0)
		show_log(log);
	ASSERT_MSG(i < 500, "the restarted agent rewrote entries or never synced");
	ASSERT_EQ(rc, 0);
	ASSERT_EQ(run_cleanup(log), 0);
	ASSERT(!pinned(CAPSTAN_MAP_SVC));
}
