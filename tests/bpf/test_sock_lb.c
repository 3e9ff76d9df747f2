/*
 * BPF tests for bpf/sock_lb.bpf.c: load the object through its skeleton, pin
 * its maps in a private bpffs, attach the connect4 hook to a test cgroup and
 * check translation with real sockets (cgroup sock_addr hooks cannot be run
 * with BPF_PROG_TEST_RUN). All traffic stays on the loopback of network
 * namespaces the test creates; the service range is unreachable there.
 */
#include "test.h"
#include "fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "abi.h"
#include "sock_lb.skel.h"

#define VIP "10.96.0.10"
#define VIP_EMPTY "10.96.0.11"
#define VIP_NONE "10.96.0.12" /* in the service range, not a service */
#define BACKEND_PORT_A 8081
#define BACKEND_PORT_B 8082
#define CONNECTS 40

static struct sock_lb *load(void)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = fixture_bpffs());
	struct sock_lb *skel = sock_lb__open_opts(&opts);

	ASSERT_MSG(skel != NULL, "open skeleton: %s", strerror(errno));
	ASSERT_OK(sock_lb__load(skel));
	return skel;
}

static void put_service(struct sock_lb *skel, const char *vip, int port, __u16 rev_nat_id,
			const __u32 *backend_ids, int count)
{
	struct capstan_svc_key key = { .port = htons(port), .proto = IPPROTO_TCP };
	struct capstan_svc_val val = { .count = count, .rev_nat_id = rev_nat_id };
	int fd = bpf_map__fd(skel->maps.capstan_svc_v1);

	inet_pton(AF_INET, vip, &key.addr);
	ASSERT_OK(bpf_map_update_elem(fd, &key, &val, BPF_ANY));
	for (int i = 0; i < count; i++) {
		struct capstan_svc_val slot = { .backend_id = backend_ids[i] };

		key.slot = i + 1;
		ASSERT_OK(bpf_map_update_elem(fd, &key, &slot, BPF_ANY));
	}
}

static void put_backend(struct sock_lb *skel, __u32 id, const char *addr, int port)
{
	struct capstan_backend be = { .port = htons(port), .proto = IPPROTO_TCP };

	inet_pton(AF_INET, addr, &be.addr);
	ASSERT_OK(bpf_map_update_elem(bpf_map__fd(skel->maps.capstan_be_v1), &id, &be, BPF_ANY));
}

/* Sum a per-CPU counter (the first __u64 field at `offset` of each CPU's value). */
static __u64 percpu_sum(struct bpf_map *map, __u32 key, size_t value_size, size_t offset)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t stride = (value_size + 7) & ~(size_t)7;
	char *vals = calloc(ncpu, stride);
	__u64 sum = 0;

	ASSERT_NOT_NULL(vals);
	ASSERT_OK(bpf_map_lookup_elem(bpf_map__fd(map), &key, vals));
	for (int i = 0; i < ncpu; i++)
		sum += *(__u64 *)(vals + i * stride + offset);
	free(vals);
	return sum;
}

static int listen_on(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* connect() to addr:port; returns the fd or -errno. */
static int connect_to(const char *addr, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	inet_pton(AF_INET, addr, &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
		return fd;
	err = -errno;
	close(fd);
	return err;
}

/* Which listener has a pending connection: 0 = A, 1 = B, -1 = none. */
static int accept_one(int la, int lb)
{
	struct pollfd p[2] = { { .fd = la, .events = POLLIN }, { .fd = lb, .events = POLLIN } };

	if (poll(p, 2, 2000) <= 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (p[i].revents & POLLIN) {
			int c = accept(p[i].fd, NULL, NULL);

			if (c >= 0)
				close(c);
			return i;
		}
	}
	return -1;
}

/* In the child: connections to the VIP land on both backends. */
static int child_balances(void *arg)
{
	int la = listen_on(BACKEND_PORT_A), lb = listen_on(BACKEND_PORT_B);
	int hits[2] = { 0, 0 };

	if (la < 0 || lb < 0) {
		fprintf(stderr, "child: listen failed\n");
		return 10;
	}
	for (int i = 0; i < CONNECTS; i++) {
		int fd = connect_to(VIP, 80), which;

		if (fd < 0) {
			fprintf(stderr, "child: connect %d to " VIP ":80: %s\n", i, strerror(-fd));
			return 11;
		}
		which = accept_one(la, lb);
		close(fd);
		if (which < 0) {
			fprintf(stderr, "child: connection %d reached no backend\n", i);
			return 12;
		}
		hits[which]++;
	}
	/* Uniform choice: all 40 on one backend has probability 2^-39. */
	if (hits[0] == 0 || hits[1] == 0) {
		fprintf(stderr, "child: unbalanced %d/%d\n", hits[0], hits[1]);
		return 13;
	}
	return 0;
}

static int child_refused_and_unreachable(void *arg)
{
	int fd = connect_to(VIP_EMPTY, 80);

	if (fd != -ECONNREFUSED) {
		fprintf(stderr, "child: service without backends: %s, want ECONNREFUSED\n",
			fd < 0 ? strerror(-fd) : "connected");
		return 20;
	}
	/* Not a service: untranslated, and the unreachable route stops it. */
	fd = connect_to(VIP_NONE, 80);
	if (fd != -EHOSTUNREACH) {
		fprintf(stderr, "child: non-service address: %s, want EHOSTUNREACH\n",
			fd < 0 ? strerror(-fd) : "connected");
		return 21;
	}
	/* A service port that is not configured is not translated either. */
	fd = connect_to(VIP, 81);
	if (fd != -EHOSTUNREACH) {
		fprintf(stderr, "child: unknown service port: %s, want EHOSTUNREACH\n",
			fd < 0 ? strerror(-fd) : "connected");
		return 22;
	}
	return 0;
}

/* Outside the cgroup the hook does not apply: the VIP is just unreachable. */
static int child_outside_cgroup(void *arg)
{
	int fd = connect_to(VIP, 80);

	if (fd != -EHOSTUNREACH) {
		fprintf(stderr, "child outside cgroup: %s, want EHOSTUNREACH\n",
			fd < 0 ? strerror(-fd) : "connected");
		return 30;
	}
	return 0;
}

static struct sock_lb *setup_services(void)
{
	static const __u32 ids[] = { 1, 2 };
	struct sock_lb *skel;

	fixture_require_bpf();
	skel = load();
	put_backend(skel, 1, "127.0.0.1", BACKEND_PORT_A);
	put_backend(skel, 2, "127.0.0.1", BACKEND_PORT_B);
	put_service(skel, VIP, 80, 7, ids, 2);
	put_service(skel, VIP_EMPTY, 80, 8, NULL, 0);
	skel->links.capstan_connect4 =
		bpf_program__attach_cgroup(skel->progs.capstan_connect4, fixture_cgroup_fd());
	ASSERT_MSG(skel->links.capstan_connect4 != NULL, "attach connect4: %s", strerror(errno));
	return skel;
}

TEST(sock_lb_connect4_balances_over_backends)
{
	struct sock_lb *skel = setup_services();

	ASSERT_EQ(fixture_run_child(true, child_balances, NULL), 0);
	/* Every connection was counted against the service and a backend. */
	ASSERT_EQ(percpu_sum(skel->maps.capstan_scnt_v1, 7, sizeof(struct capstan_svc_counters),
			     offsetof(struct capstan_svc_counters, connects)),
		  CONNECTS);
	__u64 a = percpu_sum(skel->maps.capstan_bcnt_v1, 1, sizeof(struct capstan_backend_counters),
			     0);
	__u64 b = percpu_sum(skel->maps.capstan_bcnt_v1, 2, sizeof(struct capstan_backend_counters),
			     0);
	ASSERT_EQ(a + b, CONNECTS);
	ASSERT(a > 0 && b > 0);
	sock_lb__destroy(skel);
}

TEST(sock_lb_connect4_refuses_empty_service)
{
	struct sock_lb *skel = setup_services();

	ASSERT_EQ(fixture_run_child(true, child_refused_and_unreachable, NULL), 0);
	ASSERT_EQ(percpu_sum(skel->maps.capstan_scnt_v1, 8, sizeof(struct capstan_svc_counters),
			     offsetof(struct capstan_svc_counters, refused)),
		  1);
	ASSERT_EQ(percpu_sum(skel->maps.capstan_drop_v1, CAPSTAN_DROP_NO_BACKEND, sizeof(__u64), 0),
		  1);
	sock_lb__destroy(skel);
}

TEST(sock_lb_applies_only_inside_its_cgroup)
{
	struct sock_lb *skel = setup_services();

	ASSERT_EQ(fixture_run_child(false, child_outside_cgroup, NULL), 0);
	ASSERT_EQ(percpu_sum(skel->maps.capstan_scnt_v1, 7, sizeof(struct capstan_svc_counters),
			     offsetof(struct capstan_svc_counters, connects)),
		  0);
	sock_lb__destroy(skel);
}

TEST(sock_lb_maps_survive_a_reload_through_pins)
{
	static const __u32 ids[] = { 5 };
	struct capstan_svc_key key = { .port = htons(443), .proto = IPPROTO_TCP };
	struct capstan_svc_val val;
	struct sock_lb *skel;
	char pin[600];

	fixture_require_bpf();
	skel = load();
	put_backend(skel, 5, "10.244.1.5", 8443);
	put_service(skel, VIP, 443, 3, ids, 1);
	snprintf(pin, sizeof(pin), "%s/%s", fixture_bpffs(), CAPSTAN_MAP_SVC);
	ASSERT_MSG(access(pin, F_OK) == 0, "%s not pinned", pin);
	/* The agent exits: programs go, pinned maps stay. */
	sock_lb__destroy(skel);

	skel = load();
	inet_pton(AF_INET, VIP, &key.addr);
	ASSERT_OK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.capstan_svc_v1), &key, &val));
	ASSERT_EQ(val.count, 1);
	ASSERT_EQ(val.rev_nat_id, 3);
	key.slot = 1;
	ASSERT_OK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.capstan_svc_v1), &key, &val));
	ASSERT_EQ(val.backend_id, 5);
	sock_lb__destroy(skel);
}
