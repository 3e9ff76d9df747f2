/*
 * BPF tests for `capstan lb` (cli/lb*.c): pin maps of the abi.h layouts in a
 * private bpffs, fill them as the agent would, and check what the listing
 * code and the real build/bin/capstan binary print from them. The monitor is
 * fed by a tiny XDP program, run with BPF_PROG_TEST_RUN, that copies its
 * input packet (a struct capstan_event) into the pinned ring buffer, so no
 * traffic is sent at all. Two tests use the real datapath object instead:
 * its pinned maps must pass the CLI's layout checks, and a refused connect()
 * inside a test network namespace must reach `capstan lb monitor`.
 */
#include "test.h"
#include "fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "abi.h"
#include "cli/lb_format.h"
#include "cli/lb_snapshot.h"
#include "jsonx.h"
#include "ktime.h"
#include "sock_lb.skel.h"
#include "util.h"

#define EVT_SIZE ((int)sizeof(struct capstan_event))
_Static_assert(sizeof(struct capstan_event) % 8 == 0, "the event generator copies 8-byte words");

struct pins {
	int svc, be, rnat, scnt, bcnt, drop, cfg, evt;
};

static int pin_map(const char *dir, const char *name, enum bpf_map_type type, __u32 key_size,
		   __u32 value_size, __u32 max_entries)
{
	char path[600];
	int fd = bpf_map_create(type, name, key_size, value_size, max_entries, NULL);

	ASSERT_MSG(fd >= 0, "create %s: %s", name, strerror(errno));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ASSERT_MSG(bpf_obj_pin(fd, path) == 0, "pin %s: %s", path, strerror(errno));
	return fd;
}

/* Every map `capstan lb` reads, pinned under dir as capstan-agent pins them. */
static struct pins make_pins(const char *dir)
{
	struct pins p;

	p.svc = pin_map(dir, CAPSTAN_MAP_SVC, BPF_MAP_TYPE_HASH, sizeof(struct capstan_svc_key),
			sizeof(struct capstan_svc_val), 1024);
	p.be = pin_map(dir, CAPSTAN_MAP_BACKEND, BPF_MAP_TYPE_HASH, sizeof(__u32),
		       sizeof(struct capstan_backend), 1024);
	p.rnat = pin_map(dir, CAPSTAN_MAP_REVNAT, BPF_MAP_TYPE_HASH, sizeof(__u32),
			 sizeof(struct capstan_revnat), 1024);
	p.scnt = pin_map(dir, CAPSTAN_MAP_SVC_COUNTERS, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32),
			 sizeof(struct capstan_svc_counters), 1024);
	p.bcnt = pin_map(dir, CAPSTAN_MAP_BACKEND_COUNTERS, BPF_MAP_TYPE_PERCPU_ARRAY,
			 sizeof(__u32), sizeof(struct capstan_backend_counters), 1024);
	p.drop = pin_map(dir, CAPSTAN_MAP_DROPS, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32),
			 sizeof(__u64), CAPSTAN_DROP__MAX);
	p.cfg = pin_map(dir, CAPSTAN_MAP_CONFIG, BPF_MAP_TYPE_ARRAY, sizeof(__u32),
			sizeof(struct capstan_config), 1);
	p.evt = pin_map(dir, CAPSTAN_MAP_EVENTS, BPF_MAP_TYPE_RINGBUF, 0, 0, 1 << 16);
	return p;
}

static __be32 ip(const char *s)
{
	struct in_addr a;

	ASSERT(inet_pton(AF_INET, s, &a) == 1);
	return a.s_addr;
}

static void put_service(const struct pins *p, const char *addr, int port, int proto, __u16 rev,
			__u32 flags, __u32 affinity, const __u32 *ids, int n)
{
	struct capstan_svc_key k = { .addr = ip(addr), .port = htons(port), .proto = proto };
	struct capstan_svc_val v = {
		.count = n, .rev_nat_id = rev, .flags = flags, .affinity_timeout = affinity
	};
	struct capstan_revnat rn = { .addr = k.addr, .port = k.port, .proto = proto };
	__u32 rev_key = rev;

	/* The agent's order: slots first, then slot 0. */
	for (int i = 0; i < n; i++) {
		struct capstan_svc_val slot = { .backend_id = ids[i] };

		k.slot = i + 1;
		ASSERT_OK(bpf_map_update_elem(p->svc, &k, &slot, BPF_ANY));
	}
	k.slot = 0;
	ASSERT_OK(bpf_map_update_elem(p->svc, &k, &v, BPF_ANY));
	ASSERT_OK(bpf_map_update_elem(p->rnat, &rev_key, &rn, BPF_ANY));
}

static void put_backend(const struct pins *p, __u32 id, const char *addr, int port, int proto,
			int state)
{
	struct capstan_backend be = {
		.addr = ip(addr), .port = htons(port), .proto = proto, .state = state
	};

	ASSERT_OK(bpf_map_update_elem(p->be, &id, &be, BPF_ANY));
}

/*
 * Per-CPU values that only sum right when every CPU is read: CPU i adds
 * i + 1 connections to rev-NAT 3 and backend 7, two datagrams and one
 * refusal to rev-NAT 4, one no_backend drop.
 */
static void put_counters(const struct pins *p)
{
	int ncpu = libbpf_num_possible_cpus();
	struct capstan_svc_counters *sc = xcalloc(ncpu, sizeof(*sc));
	struct capstan_backend_counters *bc = xcalloc(ncpu, sizeof(*bc));
	__u64 *drops = xcalloc(ncpu, sizeof(*drops));
	__u32 key;

	ASSERT(ncpu > 0);
	for (int i = 0; i < ncpu; i++) {
		sc[i].connects = i + 1;
		bc[i].connects = i + 1;
		drops[i] = 1;
	}
	key = 3;
	ASSERT_OK(bpf_map_update_elem(p->scnt, &key, sc, BPF_ANY));
	key = 7;
	ASSERT_OK(bpf_map_update_elem(p->bcnt, &key, bc, BPF_ANY));
	for (int i = 0; i < ncpu; i++)
		sc[i] = (struct capstan_svc_counters){ .udp_msgs = 2, .refused = 1 };
	key = 4;
	ASSERT_OK(bpf_map_update_elem(p->scnt, &key, sc, BPF_ANY));
	key = CAPSTAN_DROP_NO_BACKEND;
	ASSERT_OK(bpf_map_update_elem(p->drop, &key, drops, BPF_ANY));
	free(sc);
	free(bc);
	free(drops);
}

/* A small cluster: one service with two backends, one with none, one draining backend. */
static struct pins make_cluster(const char *dir)
{
	struct pins p = make_pins(dir);

	put_backend(&p, 7, "10.244.1.5", 8080, IPPROTO_TCP, CAPSTAN_BE_ACTIVE);
	put_backend(&p, 9, "10.244.2.9", 8080, IPPROTO_TCP, CAPSTAN_BE_ACTIVE);
	put_backend(&p, 8, "10.244.1.6", 8080, IPPROTO_TCP, CAPSTAN_BE_TERMINATING);
	put_service(&p, "10.96.0.10", 80, IPPROTO_TCP, 3, CAPSTAN_SVC_F_AFFINITY, 10800,
		    (__u32[]){ 7, 9 }, 2);
	put_service(&p, "10.96.0.11", 53, IPPROTO_UDP, 4, 0, 0, NULL, 0);
	put_counters(&p);
	return p;
}

static const char cluster_text[] =
	"10.96.0.10:80/TCP (rev-nat 3) [affinity 10800s]\n"
	"  slot 1 -> 10.244.1.5:8080/TCP (backend 7)\n"
	"  slot 2 -> 10.244.2.9:8080/TCP (backend 9)\n"
	"10.96.0.11:53/UDP (rev-nat 4)\n"
	"  (no ready backend: connections are refused)\n"
	"\n"
	"terminating backends (draining: kept for existing connections and affinity):\n"
	"  10.244.1.6:8080/TCP (backend 8)\n";

/* ---------------------------------------------------------------- the binary */

static pid_t child = -1;

static void kill_child(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = -1;
	}
}

static void defer_kill_child(void)
{
	static bool deferred;

	if (!deferred)
		test_defer(kill_child);
	deferred = true;
}

static const char *capstan_bin(void)
{
	static char path[512];
	const char *build = getenv("BUILD");

	snprintf(path, sizeof(path), "%s/bin/capstan", build && *build ? build : "build");
	ASSERT_MSG(access(path, X_OK) == 0, "%s missing: build it first (make all)", path);
	return path;
}

/* Start capstan with args (NULL-terminated), stdout and stderr to files. */
static void spawn(const char *out, const char *err, char **args)
{
	char *argv[32] = { (char *)capstan_bin() };
	int n = 1;

	while (n < 31 && args[n - 1])
		argv[n] = args[n - 1], n++;
	argv[n] = NULL;
	defer_kill_child();
	fflush(NULL);
	child = fork();
	ASSERT(child >= 0);
	if (child == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
}

/* Exit status of the spawned capstan; fails the test after timeout_ms. */
static int wait_child(int timeout_ms)
{
	uint64_t deadline = now_mono_ns() + (uint64_t)timeout_ms * 1000000;
	int status;

	for (;;) {
		pid_t r = waitpid(child, &status, WNOHANG);

		ASSERT(r >= 0);
		if (r == child)
			break;
		if (now_mono_ns() > deadline)
			test_fail(__FILE__, __LINE__, "capstan still running after %d ms",
				  timeout_ms);
		usleep(10000);
	}
	child = -1;
	ASSERT_MSG(WIFEXITED(status), "capstan killed by signal %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}

static char *slurp(const char *path)
{
	struct buf b = { 0 };
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ASSERT_MSG(fd >= 0, "open %s: %s", path, strerror(errno));
	buf_append(&b, "", 0);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_append(&b, chunk, n);
	close(fd);
	return b.data;
}

struct run {
	int status;
	char *out, *err;
};

/* Run capstan to completion (at most 20 s) and collect its output. */
static struct run run_capstan(char **args)
{
	char out[600], err[600];
	struct run r;

	snprintf(out, sizeof(out), "%s/out", test_tmpdir());
	snprintf(err, sizeof(err), "%s/err", test_tmpdir());
	spawn(out, err, args);
	r.status = wait_child(20000);
	r.out = slurp(out);
	r.err = slurp(err);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static json_t *parse_json(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DISABLE_EOF_CHECK, &e);

	ASSERT_MSG(j != NULL, "not JSON (%s): %s", e.text, text);
	return j;
}

/* ---------------------------------------------------------------- list and stats */

TEST(cli_lb_bpf_list_reads_pinned_maps)
{
	const char *dir;
	struct cli_lb_snapshot s;
	struct buf b = { 0 };
	char err[512];

	fixture_require_bpf();
	dir = fixture_bpffs();
	make_cluster(dir);
	ASSERT_OK(cli_lb_snapshot_read(dir, CLI_LB_READ_SERVICES | CLI_LB_READ_BACKENDS, &s, err,
				       sizeof(err)));
	ASSERT_EQ(s.n_svc, 4); /* two slot 0 entries, two slots */
	ASSERT_EQ(s.n_backends, 3);
	ASSERT_EQ(s.n_revnat, 0); /* not asked for */
	ASSERT(!s.have_counters);
	ASSERT_OK(cli_lb_format_list(&s, CLI_LB_VIEW_SERVICES, CLI_LB_OUT_TEXT, &b));
	ASSERT_STREQ(b.data, cluster_text);
	buf_free(&b);
	cli_lb_snapshot_free(&s);
}

TEST(cli_lb_bpf_stats_sum_every_cpu)
{
	long long n = libbpf_num_possible_cpus();
	struct cli_lb_snapshot s;
	struct buf b = { 0 };
	const char *dir;
	char err[512];
	json_t *j;

	fixture_require_bpf();
	dir = fixture_bpffs();
	make_cluster(dir);
	ASSERT_OK(cli_lb_snapshot_read(dir,
				       CLI_LB_READ_SERVICES | CLI_LB_READ_BACKENDS |
					       CLI_LB_READ_REVNAT | CLI_LB_READ_COUNTERS,
				       &s, err, sizeof(err)));
	ASSERT(s.have_counters);
	ASSERT_EQ(s.n_revnat, 2);
	ASSERT_EQ(cli_lb_snapshot_svc_count(&s, 3)->c.connects, n * (n + 1) / 2);
	ASSERT_EQ(cli_lb_snapshot_svc_count(&s, 4)->c.udp_msgs, 2 * n);
	ASSERT_EQ(cli_lb_snapshot_svc_count(&s, 4)->c.refused, n);
	ASSERT_EQ(cli_lb_snapshot_backend_count(&s, 7)->c.connects, n * (n + 1) / 2);
	ASSERT_EQ(cli_lb_snapshot_backend_count(&s, 9)->c.connects, 0);
	ASSERT_EQ(s.drops[CAPSTAN_DROP_NO_BACKEND], n);
	ASSERT_EQ(s.drops[CAPSTAN_DROP_NO_SLOT], 0);
	ASSERT_OK(cli_lb_format_stats(&s, NULL, 0, 0, CLI_LB_OUT_JSON, &b));
	j = parse_json(b.data);
	ASSERT_EQ(jsonx_path_int(j, "totals.connections", -1), n * (n + 1) / 2);
	ASSERT_EQ(jsonx_path_int(j, "totals.udp_msgs", -1), 2 * n);
	ASSERT_EQ(jsonx_path_int(j, "totals.refused", -1), n);
	ASSERT_EQ(jsonx_path_int(j, "totals.drops", -1), n);
	ASSERT_EQ(jsonx_path_int(j, "drops.no_backend", -1), n);
	json_decref(j);
	buf_free(&b);
	cli_lb_snapshot_free(&s);
}

TEST(cli_lb_bpf_rejects_maps_of_another_layout)
{
	char dir[600], err[512];
	struct cli_lb_snapshot s;
	int fd;

	fixture_require_bpf();
	snprintf(dir, sizeof(dir), "%s/old", fixture_bpffs());
	ASSERT_OK(mkdir(dir, 0700));
	/* A services map whose value is 8 bytes: an agent of another ABI. */
	pin_map(dir, CAPSTAN_MAP_SVC, BPF_MAP_TYPE_HASH, sizeof(struct capstan_svc_key), 8, 16);
	ASSERT_EQ(cli_lb_snapshot_read(dir, CLI_LB_READ_SERVICES, &s, err, sizeof(err)), -EPROTO);
	ASSERT_MSG(strstr(err, "value 8 bytes") && strstr(err, "disagree on the ABI"), "%s", err);
	ASSERT_NULL(s.svc);
	/* Right sizes, wrong type: a plain array read as per-CPU would sum garbage. */
	pin_map(dir, CAPSTAN_MAP_DROPS, BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(__u64),
		CAPSTAN_DROP__MAX);
	fd = cli_lb_map_open(dir, CAPSTAN_MAP_DROPS, true, err, sizeof(err));
	ASSERT_EQ(fd, -EPROTO);
	/* With the services map present, a missing map is named, not "is the agent running". */
	fd = cli_lb_map_open(dir, CAPSTAN_MAP_REVNAT, true, err, sizeof(err));
	ASSERT_EQ(fd, -ENOENT);
	ASSERT_MSG(strstr(err, "capstan_rnat_v1 is not pinned"), "%s", err);
}

TEST(cli_lb_bpf_binary_list_views)
{
	char *list[] = { "lb", "list", "--bpffs-dir", NULL, NULL };
	char *backends[] = { "lb", "list", "--backends", "--bpffs-dir", NULL, NULL };
	char *revnat[] = { "lb", "list", "--revnat", "-o", "json", "--bpffs-dir", NULL, NULL };
	char *json[] = { "lb", "list", "-o", "json", "--bpffs-dir", NULL, NULL };
	struct run r;
	json_t *j;

	fixture_require_bpf();
	list[3] = backends[4] = revnat[6] = json[5] = (char *)fixture_bpffs();
	make_cluster(fixture_bpffs());

	r = run_capstan(list);
	ASSERT_EQ(r.status, 0);
	ASSERT_STREQ(r.out, cluster_text);
	ASSERT_STREQ(r.err, "");
	run_free(&r);

	r = run_capstan(backends);
	ASSERT_EQ(r.status, 0);
	ASSERT_STREQ(r.out, "ID      BACKEND                  STATE\n"
			    "7       10.244.1.5:8080/TCP      active\n"
			    "8       10.244.1.6:8080/TCP      terminating\n"
			    "9       10.244.2.9:8080/TCP      active\n");
	run_free(&r);

	r = run_capstan(revnat);
	ASSERT_EQ(r.status, 0);
	j = parse_json(r.out);
	ASSERT_EQ(json_array_size(jsonx_arr(j, "revnat")), 2);
	ASSERT_EQ(jsonx_path_int(j, "revnat[1].rev_nat_id", 0), 4);
	ASSERT_STREQ(jsonx_path_str(j, "revnat[1].address", ""), "10.96.0.11");
	ASSERT_EQ(jsonx_path_int(j, "revnat[1].port", 0), 53);
	ASSERT_STREQ(jsonx_path_str(j, "revnat[1].protocol", ""), "UDP");
	json_decref(j);
	run_free(&r);

	r = run_capstan(json);
	ASSERT_EQ(r.status, 0);
	j = parse_json(r.out);
	ASSERT_EQ(jsonx_path_int(j, "services[0].slots[1].backend_id", 0), 9);
	ASSERT(jsonx_path_bool(j, "services[1].no_ready_backend", false));
	ASSERT_EQ(jsonx_path_int(j, "terminating_backends[0].backend_id", 0), 8);
	json_decref(j);
	run_free(&r);
}

TEST(cli_lb_bpf_binary_stats_and_watch)
{
	long long n = libbpf_num_possible_cpus();
	char *stats[] = { "lb", "stats", "--bpffs-dir", NULL, NULL };
	char *watch[] = { "lb", "stats", "--watch", "2", "-o", "json", "--bpffs-dir", NULL, NULL };
	uint64_t start;
	struct run r;
	char total[160], *line2;
	json_t *j;

	fixture_require_bpf();
	stats[3] = watch[7] = (char *)fixture_bpffs();
	make_cluster(fixture_bpffs());

	r = run_capstan(stats);
	ASSERT_EQ(r.status, 0);
	snprintf(total, sizeof(total),
		 "\ntotal: %lld connections, %lld udp messages, %lld refused, %lld drops\n",
		 n * (n + 1) / 2, 2 * n, n, n);
	ASSERT_MSG(strstr(r.out, total), "no '%s' in:\n%s", total + 1, r.out);
	ASSERT(strstr(r.out, "SERVICE                  REV-NAT  CONNECTIONS"));
	run_free(&r);

	/* Two turns, one second apart, one JSON object a line, with rates. */
	start = now_mono_ns();
	r = run_capstan(watch);
	ASSERT_EQ(r.status, 0);
	ASSERT_MSG(now_mono_ns() - start >= 1900000000ull, "two turns took under 2 s");
	line2 = strchr(r.out, '\n');
	ASSERT_NOT_NULL(line2);
	ASSERT_STREQ(strchr(line2 + 1, '\n'), "\n"); /* exactly two lines */
	j = parse_json(line2 + 1);
	ASSERT(json_real_value(jsonx_get_path(j, "interval_s")) > 0.5);
	ASSERT(json_real_value(jsonx_get_path(j, "interval_s")) < 3.0);
	ASSERT_NOT_NULL(jsonx_get_path(j, "time"));
	ASSERT_EQ(jsonx_path_int(j, "totals.connections", -1), n * (n + 1) / 2);
	ASSERT(json_real_value(jsonx_get_path(j, "totals.rates.connections")) == 0.0);
	json_decref(j);
	run_free(&r);
}

TEST(cli_lb_bpf_binary_missing_pins)
{
	char empty[600];
	char *list[] = { "lb", "list", "--bpffs-dir", empty, NULL };
	char *stats[] = { "lb", "stats", "--bpffs-dir", "/nonexistent/capstan", NULL };
	char *monitor[] = { "lb", "monitor", "--bpffs-dir", empty, NULL };
	char *usage[] = { "lb", "stats", "--watch", "0", NULL };
	struct run r;

	fixture_require_bpf();
	snprintf(empty, sizeof(empty), "%s/empty", fixture_bpffs());
	ASSERT_OK(mkdir(empty, 0700));

	r = run_capstan(list);
	ASSERT_EQ(r.status, 1);
	ASSERT_STREQ(r.out, "");
	ASSERT_MSG(strstr(r.err, "capstan lb list: no capstan maps under ") &&
			   strstr(r.err, "/empty (is capstan-agent running? --bpffs-dir?)\n"),
		   "%s", r.err);
	run_free(&r);
	r = run_capstan(stats);
	ASSERT_EQ(r.status, 1);
	ASSERT_STREQ(r.err, "capstan lb stats: no capstan maps under /nonexistent/capstan (is "
			    "capstan-agent running? --bpffs-dir?)\n");
	run_free(&r);
	r = run_capstan(monitor);
	ASSERT_EQ(r.status, 1);
	ASSERT(strstr(r.err, "capstan lb monitor: no capstan maps under"));
	run_free(&r);
	r = run_capstan(usage);
	ASSERT_EQ(r.status, 2);
	ASSERT(strstr(r.err, "--watch wants a count from 1 to 3600"));
	run_free(&r);
}

/* ---------------------------------------------------------------- monitor */

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

/*
 * An XDP program that copies the first EVT_SIZE bytes of its packet to the stack
 * and from there into the ring buffer: test_run's input packet becomes an
 * event record, exactly as the datapath would write one.
 */
static int load_event_generator(int ringbuf_fd)
{
	struct bpf_insn insns[48];
	int n = 0, jump_at, fd;
	char log[4096] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log, .log_size = sizeof(log),
		    .log_level = 1);

	insns[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0);
	insns[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, 2, 6, offsetof(struct xdp_md, data), 0);
	insns[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, 3, 6, offsetof(struct xdp_md, data_end), 0);
	insns[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 4, 2, 0, 0);
	insns[n++] = INSN(BPF_ALU64 | BPF_ADD | BPF_K, 4, 0, 0, EVT_SIZE);
	jump_at = n++; /* if r4 > r3 goto out */
	for (int i = 0; i < EVT_SIZE / 8; i++) {
		insns[n++] = INSN(BPF_LDX | BPF_MEM | BPF_DW, 5, 2, 8 * i, 0);
		insns[n++] = INSN(BPF_STX | BPF_MEM | BPF_DW, 10, 5, -EVT_SIZE + 8 * i, 0);
	}
	insns[n++] = INSN(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, ringbuf_fd);
	insns[n++] = INSN(0, 0, 0, 0, 0);
	insns[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0);
	insns[n++] = INSN(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -EVT_SIZE);
	insns[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, EVT_SIZE);
	insns[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 4, 0, 0, 0);
	insns[n++] = INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_ringbuf_output);
	insns[jump_at] = INSN(BPF_JMP | BPF_JGT | BPF_X, 4, 3, n - jump_at - 1, 0);
	insns[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, XDP_PASS);
	insns[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "capstan_evt_gen", "GPL", insns, n, &opts);
	ASSERT_MSG(fd >= 0, "load event generator: %s\n%s", strerror(errno), log);
	return fd;
}

static void emit(int prog_fd, const struct capstan_event *ev)
{
	LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = ev, .data_size_in = sizeof(*ev),
		    .repeat = 1);

	ASSERT_OK(bpf_prog_test_run_opts(prog_fd, &topts));
	ASSERT_EQ(topts.retval, XDP_PASS);
}

static struct capstan_event event(int hook, int proto, const char *svc, int port, int drop,
				  __u32 backend_id)
{
	struct capstan_event ev = {
		.ts_ns = now_mono_ns(),
		.cookie = 1234,
		.netns = 4026531840ull,
		.hook = hook,
		.proto = proto,
		.drop = drop,
		.rev_nat_id = 3,
		.backend_id = backend_id,
		.svc_addr = ip(svc),
		.svc_port = htons(port),
	};

	if (!drop) {
		ev.be_addr = ip("10.244.1.5");
		ev.be_port = htons(8080);
	}
	return ev;
}

static void emit_event(int prog_fd, int hook, int proto, const char *svc, int port, int drop,
		       __u32 backend_id)
{
	struct capstan_event ev = event(hook, proto, svc, port, drop, backend_id);

	emit(prog_fd, &ev);
}

static __u32 config_flags(const struct pins *p)
{
	struct capstan_config c;
	__u32 key = 0;

	ASSERT_OK(bpf_map_lookup_elem(p->cfg, &key, &c));
	return c.flags;
}

static void set_config_flags(const struct pins *p, __u32 flags)
{
	struct capstan_config c = { .flags = flags };
	__u32 key = 0;

	ASSERT_OK(bpf_map_update_elem(p->cfg, &key, &c, BPF_ANY));
}

/* Wait (at most 5 s) until the monitor has switched events on. */
static void wait_events_on(const struct pins *p)
{
	uint64_t deadline = now_mono_ns() + 5000000000ull;

	while (!(config_flags(p) & CAPSTAN_CFG_EVENTS)) {
		ASSERT_MSG(now_mono_ns() < deadline, "the monitor never switched events on");
		usleep(5000);
	}
}

static void spawn_monitor(char **args, char *out, size_t outlen, char *err, size_t errlen)
{
	snprintf(out, outlen, "%s/monitor.out", test_tmpdir());
	snprintf(err, errlen, "%s/monitor.err", test_tmpdir());
	spawn(out, err, args);
}

TEST(cli_lb_bpf_monitor_prints_events_and_restores_flag)
{
	char *args[] = { "lb", "monitor",     "--count", "2", "--duration",
			 "20", "--bpffs-dir", NULL,	 NULL };
	const char *first = "connect4 tcp 10.96.0.10:80 -> 10.244.1.5:8080 backend 7 netns "
			    "4026531840\n";
	char out[600], err[600], *text, *errtext, *line2;
	struct capstan_event stale;
	struct pins p;
	int prog;

	fixture_require_bpf();
	p = make_cluster(fixture_bpffs());
	args[7] = (char *)fixture_bpffs();
	prog = load_event_generator(p.evt);
	/* Left in the ring buffer before the monitor started: must not be printed. */
	stale = event(CAPSTAN_HOOK_CONNECT4, IPPROTO_TCP, "10.96.0.99", 80, 0, 99);
	emit(prog, &stale);
	usleep(2000);

	spawn_monitor(args, out, sizeof(out), err, sizeof(err));
	wait_events_on(&p);
	emit_event(prog, CAPSTAN_HOOK_CONNECT4, IPPROTO_TCP, "10.96.0.10", 80, 0, 7);
	emit_event(prog, CAPSTAN_HOOK_SENDMSG4, IPPROTO_UDP, "10.96.0.11", 53,
		   CAPSTAN_DROP_NO_BACKEND, 0);
	/* Beyond --count: consumed by nobody, never printed. */
	emit_event(prog, CAPSTAN_HOOK_CONNECT4, IPPROTO_TCP, "10.96.0.10", 80, 0, 9);
	ASSERT_EQ(wait_child(10000), 0);

	text = slurp(out);
	errtext = slurp(err);
	line2 = strchr(text, '\n');
	ASSERT_MSG(line2 && strchr(line2 + 1, '\n') && strchr(line2 + 1, '\n')[1] == '\0',
		   "want two lines:\n%s", text);
	/* "HH:MM:SS.uuuuuu " then the event */
	for (int i = 0; i < 2; i++) {
		const char *l = i ? line2 + 1 : text;

		ASSERT_MSG(l[2] == ':' && l[5] == ':' && l[8] == '.' && l[15] == ' ', "%s", l);
	}
	ASSERT_MSG(strncmp(text + 16, first, strlen(first)) == 0, "%s", text);
	ASSERT_STREQ(line2 + 17,
		     "sendmsg4 udp 10.96.0.11:53 refused: no_backend netns 4026531840\n");
	ASSERT(!strstr(text, "10.96.0.99"));
	ASSERT_MSG(strstr(errtext, "capstan lb monitor: 2 events printed, 0 lost"), "%s", errtext);
	ASSERT_EQ(config_flags(&p), 0);
	free(text);
	free(errtext);
	close(prog);
}

TEST(cli_lb_bpf_monitor_restores_only_the_events_bit)
{
	char *args[] = { "lb", "monitor", "--duration", "0.3", "--bpffs-dir", NULL, NULL };
	struct pins p;
	struct run r;

	fixture_require_bpf();
	p = make_pins(fixture_bpffs());
	args[5] = (char *)fixture_bpffs();

	/* Found on (another monitor runs): left on, other bits untouched. */
	set_config_flags(&p, CAPSTAN_CFG_EVENTS | 0x80);
	r = run_capstan(args);
	ASSERT_EQ(r.status, 0);
	ASSERT_STREQ(r.out, "");
	ASSERT(strstr(r.err, "0 events printed"));
	ASSERT_EQ(config_flags(&p), CAPSTAN_CFG_EVENTS | 0x80);
	run_free(&r);

	/* Found off: switched on while running, off again after, 0x80 kept. */
	set_config_flags(&p, 0x80);
	r = run_capstan(args);
	ASSERT_EQ(r.status, 0);
	ASSERT_EQ(config_flags(&p), 0x80);
	run_free(&r);

	/* The agent's part of the entry (the north-south programs need it) survives. */
	{
		struct capstan_config cfg = { .flags = 0,
					      .maglev_m = 16381,
					      .node_ip = 0x0b00a8c0 };
		struct capstan_config after;
		__u32 key = 0;

		ASSERT_OK(bpf_map_update_elem(p.cfg, &key, &cfg, BPF_ANY));
		r = run_capstan(args);
		ASSERT_EQ(r.status, 0);
		ASSERT_OK(bpf_map_lookup_elem(p.cfg, &key, &after));
		ASSERT_EQ(after.node_ip, cfg.node_ip);
		ASSERT_EQ(after.maglev_m, 16381);
		ASSERT_EQ(after.flags, 0);
		run_free(&r);
	}
}

TEST(cli_lb_bpf_monitor_sigint_json_and_restore)
{
	char *args[] = { "lb", "monitor",     "-o", "json", "--duration",
			 "60", "--bpffs-dir", NULL, NULL };
	char out[600], err[600], *text;
	uint64_t deadline;
	struct pins p;
	int64_t when;
	int prog;
	json_t *j;

	fixture_require_bpf();
	p = make_pins(fixture_bpffs());
	args[7] = (char *)fixture_bpffs();
	prog = load_event_generator(p.evt);
	spawn_monitor(args, out, sizeof(out), err, sizeof(err));
	wait_events_on(&p);
	emit_event(prog, CAPSTAN_HOOK_CONNECT4, IPPROTO_TCP, "10.96.0.10", 80, 0, 7);
	/* Wait (at most 5 s) for the line, so SIGINT does not race the event. */
	deadline = now_mono_ns() + 5000000000ull;
	for (;;) {
		text = slurp(out);
		if (strchr(text, '\n'))
			break;
		free(text);
		ASSERT_MSG(now_mono_ns() < deadline, "no event line");
		usleep(10000);
	}
	free(text);
	ASSERT_OK(kill(child, SIGINT));
	ASSERT_EQ(wait_child(5000), 0);
	ASSERT_EQ(config_flags(&p), 0);

	text = slurp(out);
	j = parse_json(text);
	ASSERT_STREQ(jsonx_str(j, "hook", ""), "connect4");
	ASSERT_STREQ(jsonx_str(j, "verdict", ""), "translated");
	ASSERT_EQ(jsonx_int(j, "backend_id", 0), 7);
	ASSERT_EQ(jsonx_int(j, "cookie", 0), 1234);
	/* The monotonic event time was turned into the wall-clock time of now. */
	ASSERT_OK(ktime_parse(jsonx_str(j, "time", ""), &when));
	ASSERT_MSG(llabs(when - (int64_t)now_real_ns()) < 10000000000ll, "time %s",
		   jsonx_str(j, "time", ""));
	json_decref(j);
	free(text);
	close(prog);
}

/* `capstan lb monitor | head -1`: the closed pipe ends it, and the flag is restored. */
TEST(cli_lb_bpf_monitor_closed_output_restores_flag)
{
	char *argv[] = { (char *)capstan_bin(), "lb", "monitor", "--duration", "20",
			 "--bpffs-dir",		NULL, NULL };
	struct pins p;
	int prog, pfd[2];

	fixture_require_bpf();
	p = make_pins(fixture_bpffs());
	argv[6] = (char *)fixture_bpffs();
	prog = load_event_generator(p.evt);
	ASSERT_OK(pipe2(pfd, O_CLOEXEC));
	defer_kill_child();
	fflush(NULL);
	child = fork();
	ASSERT(child >= 0);
	if (child == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null < 0 || dup2(pfd[1], 1) < 0 || dup2(null, 2) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	close(pfd[0]); /* the reader is gone before anything is written */
	wait_events_on(&p);
	emit_event(prog, CAPSTAN_HOOK_CONNECT4, IPPROTO_TCP, "10.96.0.10", 80, 0, 7);
	ASSERT_EQ(wait_child(5000), 0);
	ASSERT_EQ(config_flags(&p), 0);
	close(prog);
}

/* ---------------------------------------------------------------- the real datapath */

static struct sock_lb *load_datapath(void)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = fixture_bpffs());
	struct sock_lb *skel = sock_lb__open_opts(&opts);

	ASSERT_MSG(skel != NULL, "open skeleton: %s", strerror(errno));
	ASSERT_OK(sock_lb__load(skel));
	return skel;
}

TEST(cli_lb_bpf_layouts_match_the_datapath_object)
{
	static const char *const names[] = {
		CAPSTAN_MAP_SVC,	  CAPSTAN_MAP_BACKEND,		CAPSTAN_MAP_REVNAT,
		CAPSTAN_MAP_SVC_COUNTERS, CAPSTAN_MAP_BACKEND_COUNTERS, CAPSTAN_MAP_DROPS,
		CAPSTAN_MAP_CONFIG,	  CAPSTAN_MAP_EVENTS,
	};
	struct cli_lb_snapshot s;
	struct sock_lb *skel;
	char err[512];

	fixture_require_bpf();
	skel = load_datapath();
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		int fd = cli_lb_map_open(fixture_bpffs(), names[i], false, err, sizeof(err));

		ASSERT_MSG(fd >= 0, "%s: %s", names[i], err);
		close(fd);
	}
	ASSERT_OK(cli_lb_snapshot_read(fixture_bpffs(),
				       CLI_LB_READ_SERVICES | CLI_LB_READ_BACKENDS |
					       CLI_LB_READ_REVNAT | CLI_LB_READ_COUNTERS,
				       &s, err, sizeof(err)));
	ASSERT_EQ(s.n_svc + s.n_backends + s.n_revnat, 0);
	cli_lb_snapshot_free(&s);
	sock_lb__destroy(skel);
}

/* In the test cgroup and a fresh netns: connect() to a service without backends. */
static int child_connect_refused(void *arg)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(80) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0 || inet_pton(AF_INET, "10.96.0.11", &a.sin_addr) != 1)
		return 2;
	ret = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ? 3 : 0;
	close(fd);
	return ret;
}

TEST(cli_lb_bpf_monitor_sees_a_refusal_by_the_datapath)
{
	char *args[] = { "lb", "monitor", "--count",	 "1",  "--duration", "20",
			 "-o", "json",	  "--bpffs-dir", NULL, NULL };
	struct capstan_svc_key k = { .port = htons(80), .proto = IPPROTO_TCP };
	struct capstan_svc_val v = { .count = 0, .rev_nat_id = 4 };
	char out[600], err[600], *text;
	struct pins p = { 0 };
	struct sock_lb *skel;
	json_t *j;

	fixture_require_bpf();
	skel = load_datapath();
	skel->links.capstan_connect4 =
		bpf_program__attach_cgroup(skel->progs.capstan_connect4, fixture_cgroup_fd());
	ASSERT_MSG(skel->links.capstan_connect4 != NULL, "attach: %s", strerror(errno));
	k.addr = ip("10.96.0.11");
	ASSERT_OK(bpf_map_update_elem(bpf_map__fd(skel->maps.capstan_svc_v2), &k, &v, BPF_ANY));
	p.cfg = bpf_map__fd(skel->maps.capstan_cfg_v2);
	args[9] = (char *)fixture_bpffs();

	spawn_monitor(args, out, sizeof(out), err, sizeof(err));
	wait_events_on(&p);
	ASSERT_EQ(fixture_run_child(true, child_connect_refused, NULL), 0);
	ASSERT_EQ(wait_child(10000), 0);
	ASSERT_EQ(config_flags(&p), 0);

	text = slurp(out);
	j = parse_json(text);
	ASSERT_STREQ(jsonx_str(j, "hook", ""), "connect4");
	ASSERT_STREQ(jsonx_str(j, "protocol", ""), "tcp");
	ASSERT_STREQ(jsonx_str(j, "verdict", ""), "refused");
	ASSERT_STREQ(jsonx_str(j, "drop", ""), "no_backend");
	ASSERT_STREQ(jsonx_str(j, "service_address", ""), "10.96.0.11");
	ASSERT_EQ(jsonx_int(j, "service_port", 0), 80);
	ASSERT_EQ(jsonx_int(j, "rev_nat_id", 0), 4);
	ASSERT_NE(jsonx_int(j, "netns", 0), 0);
	json_decref(j);
	free(text);
	sock_lb__destroy(skel);
}
