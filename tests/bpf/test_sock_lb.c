/*
 * BPF tests for bpf/sock_lb.bpf.c: load the object through its skeleton, pin
 * its maps in a private bpffs, attach the socket hooks to a test cgroup and
 * check translation with real sockets (cgroup sock_addr hooks cannot be run
 * with BPF_PROG_TEST_RUN). The maps are written directly through the
 * skeleton, as the agent would write them.
 *
 * Every test runs its clients and backends in children that joined the test
 * cgroup and then a network namespace of their own (fixture.h): backends
 * listen on that namespace's loopback and the service range is unreachable
 * there, so an untranslated service packet fails with EHOSTUNREACH instead of
 * leaving. Children report through shared memory and their exit status (0 =
 * all their checks held; otherwise they print why on stderr). A child that
 * changes the maps mid-run (drain, affinity) uses the map fds it inherited.
 */
#include "test.h"
#include "fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "abi.h"
#include "sock_lb.skel.h"
#include "util.h"

#define VIP "10.96.0.10"
#define VIP_EMPTY "10.96.0.11"
#define VIP_NONE "10.96.0.12"	  /* in the service range, not a service */
#define VIP_EXTERNAL "10.96.0.13" /* in the VIP map, but not a ClusterIP */
#define VIP_BROKEN "10.96.0.14"	  /* service entries the agent left incomplete */
#define MAPPED(v4) "::ffff:" v4

#define RNAT_VIP 7
#define RNAT_EMPTY 8
#define RNAT_UDP 9

/* TCP backends 1..4 listen on 127.0.0.1:8081..8084 of the child's netns. */
#define TCP_BACKENDS 4
#define BE_PORT(id) (8080 + (id))
#define UDP_BE_ID 11
#define UDP_BE_PORT 5301
#define UDP_SVC_PORT 53
#define CONNECTS 40

/* ---------------------------------------------------------------- maps */

struct svc_spec {
	const char *vip;
	int port;
	__u8 proto;
	__u16 rev_nat_id;
	__u32 flags;
	__u32 affinity_timeout; /* seconds */
	const __u32 *ids;	/* backend ids for slots 1..count */
	int count;
};

static struct sock_lb *load(void)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = fixture_bpffs());
	struct sock_lb *skel = sock_lb__open_opts(&opts);

	ASSERT_MSG(skel != NULL, "open skeleton: %s", strerror(errno));
	ASSERT_OK(sock_lb__load(skel));
	return skel;
}

#define ATTACH(skel, prog)                                                                       \
	do {                                                                                     \
		(skel)->links.prog =                                                             \
			bpf_program__attach_cgroup((skel)->progs.prog, fixture_cgroup_fd());     \
		ASSERT_MSG((skel)->links.prog != NULL, "attach " #prog ": %s", strerror(errno)); \
	} while (0)

static void attach_all(struct sock_lb *skel)
{
	ATTACH(skel, capstan_connect4);
	ATTACH(skel, capstan_sendmsg4);
	ATTACH(skel, capstan_recvmsg4);
	ATTACH(skel, capstan_getpeername4);
	ATTACH(skel, capstan_connect6);
	ATTACH(skel, capstan_sendmsg6);
	ATTACH(skel, capstan_recvmsg6);
	ATTACH(skel, capstan_getpeername6);
}

static struct capstan_svc_key svc_key(const char *vip, int port, __u8 proto, __u16 slot)
{
	struct capstan_svc_key key;

	memset(&key, 0, sizeof(key));
	ASSERT_EQ(inet_pton(AF_INET, vip, &key.addr), 1);
	key.port = htons(port);
	key.proto = proto;
	key.slot = slot;
	return key;
}

static void put_slot(struct sock_lb *skel, const char *vip, int port, __u8 proto, __u16 slot,
		     __u32 backend_id)
{
	struct capstan_svc_key key = svc_key(vip, port, proto, slot);
	struct capstan_svc_val val = { .backend_id = backend_id };

	ASSERT_OK(bpf_map_update_elem(bpf_map__fd(skel->maps.capstan_svc_v2), &key, &val, BPF_ANY));
}

/* In the agent's order for a new service port: slots first, slot 0 last. */
static void put_service(struct sock_lb *skel, const struct svc_spec *s)
{
	struct capstan_svc_key key = svc_key(s->vip, s->port, s->proto, 0);
	struct capstan_svc_val val = { .count = s->count,
				       .rev_nat_id = s->rev_nat_id,
				       .flags = s->flags,
				       .affinity_timeout = s->affinity_timeout };

	for (int i = 0; i < s->count && s->ids; i++)
		put_slot(skel, s->vip, s->port, s->proto, i + 1, s->ids[i]);
	ASSERT_OK(bpf_map_update_elem(bpf_map__fd(skel->maps.capstan_svc_v2), &key, &val, BPF_ANY));
}

static void put_backend(struct sock_lb *skel, __u32 id, const char *addr, int port, __u8 proto)
{
	struct capstan_backend be = { .port = htons(port), .proto = proto };

	ASSERT_EQ(inet_pton(AF_INET, addr, &be.addr), 1);
	ASSERT_OK(bpf_map_update_elem(bpf_map__fd(skel->maps.capstan_be_v2), &id, &be, BPF_ANY));
}

/* 0 or -errno: also called from children, which cannot ASSERT. */
static int set_backend_state(int be_fd, __u32 id, __u8 state)
{
	struct capstan_backend be;

	if (bpf_map_lookup_elem(be_fd, &id, &be) != 0)
		return -errno;
	be.state = state;
	return bpf_map_update_elem(be_fd, &id, &be, BPF_EXIST) == 0 ? 0 : -errno;
}

static void put_vip(struct sock_lb *skel, const char *vip, __u32 flags)
{
	__be32 addr;

	ASSERT_EQ(inet_pton(AF_INET, vip, &addr), 1);
	ASSERT_OK(bpf_map_update_elem(bpf_map__fd(skel->maps.capstan_vip_v2), &addr, &flags,
				      BPF_ANY));
}

static void set_events(struct sock_lb *skel, bool on)
{
	struct capstan_config cfg = { .flags = on ? CAPSTAN_CFG_EVENTS : 0 };
	__u32 key = 0;

	ASSERT_OK(bpf_map_update_elem(bpf_map__fd(skel->maps.capstan_cfg_v2), &key, &cfg, BPF_ANY));
}

/* Sum each of n __u64 fields of a per-CPU value over all CPUs into out. */
static void percpu_sum(struct bpf_map *map, __u32 key, __u64 *out, size_t n)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;

	ASSERT(ncpu > 0);
	vals = calloc((size_t)ncpu * n, sizeof(*vals));
	ASSERT_NOT_NULL(vals);
	ASSERT_OK(bpf_map_lookup_elem(bpf_map__fd(map), &key, vals));
	memset(out, 0, n * sizeof(*out));
	for (int cpu = 0; cpu < ncpu; cpu++)
		for (size_t i = 0; i < n; i++)
			out[i] += vals[cpu * n + i];
	free(vals);
}

static struct capstan_svc_counters svc_counters(struct sock_lb *skel, __u16 rev_nat_id)
{
	struct capstan_svc_counters c;

	percpu_sum(skel->maps.capstan_scnt_v2, rev_nat_id, (__u64 *)&c, sizeof(c) / sizeof(__u64));
	return c;
}

static struct capstan_backend_counters be_counters(struct sock_lb *skel, __u32 id)
{
	struct capstan_backend_counters c;

	percpu_sum(skel->maps.capstan_bcnt_v2, id, (__u64 *)&c, sizeof(c) / sizeof(__u64));
	return c;
}

static __u64 drops(struct sock_lb *skel, enum capstan_drop_reason reason)
{
	__u64 n;

	percpu_sum(skel->maps.capstan_drop_v2, reason, &n, 1);
	return n;
}

/* Every drop counter but `except` (and none) is zero. */
static void assert_no_other_drops(struct sock_lb *skel, enum capstan_drop_reason except)
{
	for (int r = CAPSTAN_DROP_NONE + 1; r < CAPSTAN_DROP__MAX; r++)
		if (r != (int)except)
			ASSERT_MSG(drops(skel, r) == 0, "drop reason %d counted", r);
}

/* ---------------------------------------------------------------- sockets */

#define CHILD_CHECK(cond, ...)                                        \
	do {                                                          \
		if (!(cond)) {                                        \
			fprintf(stderr, "child line %d: ", __LINE__); \
			fprintf(stderr, __VA_ARGS__);                 \
			fputc('\n', stderr);                          \
			return 1;                                     \
		}                                                     \
	} while (0)

static socklen_t make_addr(int family, const char *addr, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &a->sin6_addr);
		return sizeof(*a);
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;

	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	inet_pton(AF_INET, addr, &a->sin_addr);
	return sizeof(*a);
}

/* Does ss hold addr (in its family's text form) and port? */
static bool addr_is(const struct sockaddr_storage *ss, const char *addr, int port)
{
	char text[INET6_ADDRSTRLEN] = "";
	int got_port;

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
		got_port = ntohs(a->sin6_port);
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
		got_port = ntohs(a->sin_port);
	}
	if (strcmp(text, addr) != 0 || got_port != port) {
		fprintf(stderr, "address %s:%d, want %s:%d\n", text, got_port, addr, port);
		return false;
	}
	return true;
}

static bool peer_is(int fd, const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0) {
		fprintf(stderr, "getpeername: %s\n", strerror(errno));
		return false;
	}
	return addr_is(&ss, addr, port);
}

static int bound_socket(int family, int type, const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(family, addr, port, &ss);
	int fd = socket(family, type | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 128) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int listen_on(int port)
{
	return bound_socket(AF_INET, SOCK_STREAM, "127.0.0.1", port);
}

/* Listeners for TCP backends 1..n, fds[id - 1]; false if one failed. */
static bool listen_backends(int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		fds[i] = listen_on(BE_PORT(i + 1));
		if (fds[i] < 0) {
			fprintf(stderr, "listen %d: %s\n", BE_PORT(i + 1), strerror(errno));
			return false;
		}
	}
	return true;
}

/* connect() a new socket of family/type to addr:port; the fd or -errno. */
static int connect_sock(int family, int type, const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(family, addr, port, &ss);
	int fd = socket(family, type | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len) == 0)
		return fd;
	err = -errno;
	close(fd);
	return err;
}

static int connect_to(const char *addr, int port)
{
	return connect_sock(AF_INET, SOCK_STREAM, addr, port);
}

/*
 * Which listener of fds[0..n) has a pending connection: its index, or -1
 * after 2 s. The accepted socket goes to *conn, or is closed.
 */
static int accept_which(const int *fds, int n, int *conn)
{
	struct pollfd p[TCP_BACKENDS];

	for (int i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	if (poll(p, n, 2000) <= 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (p[i].revents & POLLIN) {
			int c = accept4(fds[i], NULL, NULL, SOCK_CLOEXEC);

			if (c < 0)
				return -1;
			if (conn)
				*conn = c;
			else
				close(c);
			return i;
		}
	}
	return -1;
}

/* Connect to addr:port and return the backend id that accepted (or < 0). */
static int connect_hit(const char *addr, int port, const int *fds, int n)
{
	int fd = connect_to(addr, port), which;

	if (fd < 0) {
		fprintf(stderr, "connect %s:%d: %s\n", addr, port, strerror(-fd));
		return -1;
	}
	which = accept_which(fds, n, NULL);
	close(fd);
	return which < 0 ? -1 : which + 1;
}

/* sendto addr:port; 0 or -errno. */
static int send_to(int fd, const char *msg, const char *addr, int port)
{
	struct sockaddr_storage ss;
	int family;
	socklen_t len;

	family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	len = make_addr(family, addr, port, &ss);
	if (sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&ss, len) < 0)
		return -errno;
	return 0;
}

/* Receive one datagram (1 s at most) equal to want; its source in *from. */
static bool recv_is(int fd, const char *want, struct sockaddr_storage *from)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	socklen_t len = sizeof(*from);
	char buf[64];
	ssize_t n;

	if (poll(&p, 1, 1000) != 1) {
		fprintf(stderr, "no datagram within 1 s\n");
		return false;
	}
	n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)from, &len);
	if (n < 0) {
		fprintf(stderr, "recvfrom: %s\n", strerror(errno));
		return false;
	}
	buf[n] = '\0';
	if (strcmp(buf, want) != 0) {
		fprintf(stderr, "datagram \"%s\", want \"%s\"\n", buf, want);
		return false;
	}
	return true;
}

/*
 * One request and reply through the UDP service: cl sends "ping" to dst
 * (addr:UDP_SVC_PORT, or on its connected socket when dst is NULL), the
 * backend socket be answers "pong" to whoever sent it, and the reply must
 * appear to come from the service, src:UDP_SVC_PORT. The client's address as
 * the backend saw it goes to *client.
 */
static bool udp_round_trip(int cl, const char *dst, int be, const char *src,
			   struct sockaddr_storage *client)
{
	struct sockaddr_storage from;
	int err = dst ? send_to(cl, "ping", dst, UDP_SVC_PORT)
		      : (send(cl, "ping", 4, 0) == 4 ? 0 : -errno);

	if (err) {
		fprintf(stderr, "send: %s\n", strerror(-err));
		return false;
	}
	if (!recv_is(be, "ping", client))
		return false;
	if (sendto(be, "pong", 4, 0, (struct sockaddr *)client, sizeof(struct sockaddr_in)) != 4) {
		fprintf(stderr, "reply: %s\n", strerror(errno));
		return false;
	}
	return recv_is(cl, "pong", &from) && addr_is(&from, src, UDP_SVC_PORT);
}

static __u64 sockopt_u64(int fd, int opt)
{
	__u64 cookie = 0;
	socklen_t len = sizeof(cookie);

	if (getsockopt(fd, SOL_SOCKET, opt, &cookie, &len) != 0)
		return 0;
	return cookie;
}

static __u64 now_ns(void)
{
	struct timespec ts;

	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* What a child hands back to the test. */
struct child_out {
	int hits[TCP_BACKENDS + 1]; /* connections per backend id */
	int backend;		    /* the backend id a single connection reached */
	int sent;		    /* datagrams sent successfully */
	__u64 netns;		    /* SO_NETNS_COOKIE of the child's sockets */
	__u64 cookie;		    /* SO_COOKIE of the client socket */
	__u64 t_before, t_after;    /* CLOCK_MONOTONIC around the operation */
};

struct child_arg {
	struct sock_lb *skel; /* map fds, inherited by the child */
	struct child_out *out;
};

/* ---------------------------------------------------------------- setup */

static const __u32 two_ids[] = { 1, 2 };
static const __u32 three_ids[] = { 1, 2, 3 };

/* Loaded and attached, with TCP backends 1..4 and UDP backend 11. */
static struct sock_lb *setup(void)
{
	struct sock_lb *skel;

	fixture_require_bpf();
	skel = load();
	for (__u32 id = 1; id <= TCP_BACKENDS; id++)
		put_backend(skel, id, "127.0.0.1", BE_PORT(id), IPPROTO_TCP);
	put_backend(skel, UDP_BE_ID, "127.0.0.1", UDP_BE_PORT, IPPROTO_UDP);
	attach_all(skel);
	return skel;
}

/* VIP:80 over backends 1 and 2, VIP_EMPTY:80 with no backend. */
static struct sock_lb *setup_services(void)
{
	struct sock_lb *skel = setup();

	put_service(skel, &(struct svc_spec){ .vip = VIP,
					      .port = 80,
					      .proto = IPPROTO_TCP,
					      .rev_nat_id = RNAT_VIP,
					      .ids = two_ids,
					      .count = 2 });
	put_service(skel, &(struct svc_spec){ .vip = VIP_EMPTY,
					      .port = 80,
					      .proto = IPPROTO_TCP,
					      .rev_nat_id = RNAT_EMPTY });
	return skel;
}

static void put_udp_service(struct sock_lb *skel)
{
	static const __u32 ids[] = { UDP_BE_ID };

	put_service(skel, &(struct svc_spec){ .vip = VIP,
					      .port = UDP_SVC_PORT,
					      .proto = IPPROTO_UDP,
					      .rev_nat_id = RNAT_UDP,
					      .ids = ids,
					      .count = 1 });
}

/* ---------------------------------------------------------------- TCP */

/* In the child: connections to the VIP land on both backends. */
static int child_balances(void *arg)
{
	int fds[2];
	int hits[3] = { 0 };

	CHILD_CHECK(listen_backends(fds, 2), "listen");
	for (int i = 0; i < CONNECTS; i++) {
		int id = connect_hit(VIP, 80, fds, 2);

		CHILD_CHECK(id > 0, "connection %d reached no backend", i);
		hits[id]++;
	}
	/* Uniform choice: all 40 on one backend has probability 2^-39. */
	CHILD_CHECK(hits[1] > 0 && hits[2] > 0, "unbalanced %d/%d", hits[1], hits[2]);
	return 0;
}

TEST(sock_lb_connect4_balances_over_backends)
{
	struct sock_lb *skel = setup_services();

	ASSERT_EQ(fixture_run_child(true, child_balances, NULL), 0);
	/* Every connection was counted against the service and a backend. */
	ASSERT_EQ(svc_counters(skel, RNAT_VIP).connects, CONNECTS);
	__u64 a = be_counters(skel, 1).connects, b = be_counters(skel, 2).connects;
	ASSERT_EQ(a + b, CONNECTS);
	ASSERT(a > 0 && b > 0);
	assert_no_other_drops(skel, CAPSTAN_DROP_NONE);
	sock_lb__destroy(skel);
}

#define SPREAD_CONNECTS 300

static int child_spreads(void *arg)
{
	struct child_out *out = ((struct child_arg *)arg)->out;
	int fds[3];

	CHILD_CHECK(listen_backends(fds, 3), "listen");
	for (int i = 0; i < SPREAD_CONNECTS; i++) {
		int id = connect_hit(VIP, 80, fds, 3);

		CHILD_CHECK(id > 0, "connection %d reached no backend", i);
		out->hits[id]++;
	}
	return 0;
}

TEST(sock_lb_tcp_spreads_over_three_backends)
{
	struct sock_lb *skel = setup();
	struct child_out *out = fixture_shared(sizeof(*out));

	put_service(skel, &(struct svc_spec){ .vip = VIP,
					      .port = 80,
					      .proto = IPPROTO_TCP,
					      .rev_nat_id = RNAT_VIP,
					      .ids = three_ids,
					      .count = 3 });
	ASSERT_EQ(fixture_run_child(true, child_spreads, &(struct child_arg){ skel, out }), 0);
	ASSERT_EQ(out->hits[1] + out->hits[2] + out->hits[3], SPREAD_CONNECTS);
	for (int id = 1; id <= 3; id++) {
		/* 100 expected, standard deviation 8.2: below 50 is a 6-sigma event. */
		ASSERT_MSG(out->hits[id] >= 50, "backend %d got %d of %d", id, out->hits[id],
			   SPREAD_CONNECTS);
		ASSERT_EQ(be_counters(skel, id).connects, out->hits[id]);
		ASSERT_EQ(be_counters(skel, id).udp_msgs, 0);
	}
	ASSERT_EQ(be_counters(skel, 4).connects, 0);
	ASSERT_EQ(svc_counters(skel, RNAT_VIP).connects, SPREAD_CONNECTS);
	ASSERT_EQ(svc_counters(skel, RNAT_VIP).refused, 0);
	assert_no_other_drops(skel, CAPSTAN_DROP_NONE);
	sock_lb__destroy(skel);
}

static int child_refused_and_unreachable(void *arg)
{
	int fd = connect_to(VIP_EMPTY, 80);

	CHILD_CHECK(fd == -ECONNREFUSED, "service without backends: %s, want ECONNREFUSED",
		    fd < 0 ? strerror(-fd) : "connected");
	/* Not a service: untranslated, and the unreachable route stops it. */
	fd = connect_to(VIP_NONE, 80);
	CHILD_CHECK(fd == -EHOSTUNREACH, "non-service address: %s, want EHOSTUNREACH",
		    fd < 0 ? strerror(-fd) : "connected");
	/* An address missing from the VIP map is not refused on other ports. */
	fd = connect_to(VIP, 81);
	CHILD_CHECK(fd == -EHOSTUNREACH, "unknown service port: %s, want EHOSTUNREACH",
		    fd < 0 ? strerror(-fd) : "connected");
	return 0;
}

TEST(sock_lb_connect4_refuses_empty_service)
{
	struct sock_lb *skel = setup_services();

	ASSERT_EQ(fixture_run_child(true, child_refused_and_unreachable, NULL), 0);
	ASSERT_EQ(svc_counters(skel, RNAT_EMPTY).refused, 1);
	ASSERT_EQ(svc_counters(skel, RNAT_EMPTY).connects, 0);
	ASSERT_EQ(drops(skel, CAPSTAN_DROP_NO_BACKEND), 1);
	assert_no_other_drops(skel, CAPSTAN_DROP_NO_BACKEND);
	sock_lb__destroy(skel);
}

/* Outside the cgroup the hook does not apply: the VIP is just unreachable. */
static int child_outside_cgroup(void *arg)
{
	int fd = connect_to(VIP, 80);

	CHILD_CHECK(fd == -EHOSTUNREACH, "outside the cgroup: %s, want EHOSTUNREACH",
		    fd < 0 ? strerror(-fd) : "connected");
	return 0;
}

TEST(sock_lb_applies_only_inside_its_cgroup)
{
	struct sock_lb *skel = setup_services();

	ASSERT_EQ(fixture_run_child(false, child_outside_cgroup, NULL), 0);
	ASSERT_EQ(svc_counters(skel, RNAT_VIP).connects, 0);
	sock_lb__destroy(skel);
}

TEST(sock_lb_maps_survive_a_reload_through_pins)
{
	static const __u32 ids[] = { 5 };
	struct capstan_svc_key key = svc_key(VIP, 443, IPPROTO_TCP, 0);
	struct capstan_svc_val val;
	struct sock_lb *skel;
	char pin[600];

	fixture_require_bpf();
	skel = load();
	put_backend(skel, 5, "10.244.1.5", 8443, IPPROTO_TCP);
	put_service(skel, &(struct svc_spec){ .vip = VIP,
					      .port = 443,
					      .proto = IPPROTO_TCP,
					      .rev_nat_id = 3,
					      .ids = ids,
					      .count = 1 });
	set_events(skel, true);
	static const char *const names[] = {
		CAPSTAN_MAP_SVC,	  CAPSTAN_MAP_BACKEND,		CAPSTAN_MAP_REVNAT,
		CAPSTAN_MAP_VIP,	  CAPSTAN_MAP_SOCK_REVNAT,	CAPSTAN_MAP_AFFINITY,
		CAPSTAN_MAP_SVC_COUNTERS, CAPSTAN_MAP_BACKEND_COUNTERS, CAPSTAN_MAP_DROPS,
		CAPSTAN_MAP_CONFIG,	  CAPSTAN_MAP_EVENTS,
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(pin, sizeof(pin), "%s/%s", fixture_bpffs(), names[i]);
		ASSERT_MSG(access(pin, F_OK) == 0, "%s not pinned", pin);
	}
	/* The agent exits: programs go, pinned maps stay. */
	sock_lb__destroy(skel);

	skel = load();
	ASSERT_OK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.capstan_svc_v2), &key, &val));
	ASSERT_EQ(val.count, 1);
	ASSERT_EQ(val.rev_nat_id, 3);
	key.slot = 1;
	ASSERT_OK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.capstan_svc_v2), &key, &val));
	ASSERT_EQ(val.backend_id, 5);
	struct capstan_config cfg;
	__u32 zero = 0;
	ASSERT_OK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.capstan_cfg_v2), &zero, &cfg));
	ASSERT_EQ(cfg.flags, CAPSTAN_CFG_EVENTS);
	sock_lb__destroy(skel);
}

static int child_getpeername(void *arg)
{
	struct sockaddr_in local;
	socklen_t len = sizeof(local);
	int fds[2], fd, conn = -1, which;

	CHILD_CHECK(listen_backends(fds, 2), "listen");
	fd = connect_to(VIP, 80);
	CHILD_CHECK(fd >= 0, "connect: %s", strerror(-fd));
	which = accept_which(fds, 2, &conn);
	CHILD_CHECK(which >= 0, "no backend accepted");
	/* The client sees the service; the backend's own view is untouched. */
	CHILD_CHECK(peer_is(fd, VIP, 80), "translated socket's peer");
	CHILD_CHECK(getsockname(fd, (struct sockaddr *)&local, &len) == 0, "getsockname");
	CHILD_CHECK(peer_is(conn, "127.0.0.1", ntohs(local.sin_port)), "backend's peer");
	close(conn);
	close(fd);

	/* A socket connected straight to a backend reports the backend. */
	fd = connect_to("127.0.0.1", BE_PORT(1));
	CHILD_CHECK(fd >= 0, "direct connect: %s", strerror(-fd));
	CHILD_CHECK(accept_which(fds, 2, NULL) == 0, "direct connection not on backend 1");
	CHILD_CHECK(peer_is(fd, "127.0.0.1", BE_PORT(1)), "direct socket's peer");
	close(fd);
	return 0;
}

TEST(sock_lb_getpeername_shows_the_service)
{
	struct sock_lb *skel = setup_services();

	ASSERT_EQ(fixture_run_child(true, child_getpeername, NULL), 0);
	ASSERT_EQ(svc_counters(skel, RNAT_VIP).connects, 1);
	sock_lb__destroy(skel);
}

/* ---------------------------------------------------------------- UDP */

#define UDP_MSGS 3

static int child_udp_unconnected(void *arg)
{
	int be = bound_socket(AF_INET, SOCK_DGRAM, "127.0.0.1", UDP_BE_PORT);
	int other = bound_socket(AF_INET, SOCK_DGRAM, "127.0.0.1", UDP_BE_PORT + 1);
	int cl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_storage from, client;

	CHILD_CHECK(be >= 0 && other >= 0 && cl >= 0, "sockets: %s", strerror(errno));
	for (int i = 0; i < UDP_MSGS; i++) {
		CHILD_CHECK(udp_round_trip(cl, VIP, be, VIP, &client), "round trip %d", i);
		/* The backend sees the client's real address. */
		CHILD_CHECK(((struct sockaddr_in *)&client)->sin_addr.s_addr ==
				    htonl(INADDR_LOOPBACK),
			    "backend saw a rewritten client address");
	}
	/* A datagram from an address the client never sent to is left alone. */
	CHILD_CHECK(sendto(other, "hi", 2, 0, (struct sockaddr *)&client,
			   sizeof(struct sockaddr_in)) == 2,
		    "stray: %s", strerror(errno));
	CHILD_CHECK(recv_is(cl, "hi", &from), "stray receive");
	CHILD_CHECK(addr_is(&from, "127.0.0.1", UDP_BE_PORT + 1), "stray source");
	return 0;
}

TEST(sock_lb_udp_unconnected_replies_come_from_the_service)
{
	struct sock_lb *skel = setup();

	put_udp_service(skel);
	ASSERT_EQ(fixture_run_child(true, child_udp_unconnected, NULL), 0);
	ASSERT_EQ(svc_counters(skel, RNAT_UDP).udp_msgs, UDP_MSGS);
	ASSERT_EQ(svc_counters(skel, RNAT_UDP).connects, 0);
	ASSERT_EQ(be_counters(skel, UDP_BE_ID).udp_msgs, UDP_MSGS);
	ASSERT_EQ(be_counters(skel, UDP_BE_ID).connects, 0);
	assert_no_other_drops(skel, CAPSTAN_DROP_NONE);
	sock_lb__destroy(skel);
}

static int child_udp_connected(void *arg)
{
	int be = bound_socket(AF_INET, SOCK_DGRAM, "127.0.0.1", UDP_BE_PORT);
	int cl = connect_sock(AF_INET, SOCK_DGRAM, VIP, UDP_SVC_PORT);
	struct sockaddr_storage client;
	char buf[8];

	CHILD_CHECK(be >= 0, "bind: %s", strerror(errno));
	CHILD_CHECK(cl >= 0, "connect VIP: %s", strerror(-cl));
	CHILD_CHECK(peer_is(cl, VIP, UDP_SVC_PORT), "connected peer");
	CHILD_CHECK(udp_round_trip(cl, NULL, be, VIP, &client), "round trip");
	/* A plain recv() on the connected socket works as well. */
	CHILD_CHECK(sendto(be, "again", 5, 0, (struct sockaddr *)&client,
			   sizeof(struct sockaddr_in)) == 5,
		    "reply: %s", strerror(errno));
	CHILD_CHECK(recv(cl, buf, sizeof(buf), 0) == 5, "recv: %s", strerror(errno));
	return 0;
}

TEST(sock_lb_udp_connected_talks_to_the_service)
{
	struct sock_lb *skel = setup();

	put_udp_service(skel);
	ASSERT_EQ(fixture_run_child(true, child_udp_connected, NULL), 0);
	/* Translated once, at connect(): send() on a connected socket has no hook. */
	ASSERT_EQ(svc_counters(skel, RNAT_UDP).connects, 1);
	ASSERT_EQ(svc_counters(skel, RNAT_UDP).udp_msgs, 0);
	ASSERT_EQ(be_counters(skel, UDP_BE_ID).connects, 1);
	assert_no_other_drops(skel, CAPSTAN_DROP_NONE);
	sock_lb__destroy(skel);
}

/* ---------------------------------------------------------------- affinity */

#define AFFINITY_CONNECTS 50

static int affinity_get(int aff_fd, __u64 netns, struct capstan_affinity_val *val)
{
	struct capstan_affinity_key key = { .client = netns, .rev_nat_id = RNAT_VIP };

	return bpf_map_lookup_elem(aff_fd, &key, val) == 0 ? 0 : -errno;
}

static int affinity_put(int aff_fd, __u64 netns, __u32 backend_id, __u64 last_used_ns)
{
	struct capstan_affinity_key key = { .client = netns, .rev_nat_id = RNAT_VIP };
	struct capstan_affinity_val val = { .backend_id = backend_id,
					    .last_used_ns = last_used_ns };

	return bpf_map_update_elem(aff_fd, &key, &val, BPF_ANY) == 0 ? 0 : -errno;
}

/* 50 connections from this netns all reach one backend; it goes to out. */
static int affinity_sticks(const int *fds, struct child_out *out)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	out->netns = sockopt_u64(fd, SO_NETNS_COOKIE);
	close(fd);
	CHILD_CHECK(out->netns != 0, "SO_NETNS_COOKIE: %s", strerror(errno));
	for (int i = 0; i < AFFINITY_CONNECTS; i++) {
		int id = connect_hit(VIP, 80, fds, TCP_BACKENDS);

		CHILD_CHECK(id > 0, "connection %d reached no backend", i);
		CHILD_CHECK(i == 0 || id == out->backend, "connection %d: backend %d, then %d", i,
			    out->backend, id);
		out->backend = id;
		out->hits[id]++;
	}
	CHILD_CHECK(out->backend >= 1 && out->backend <= 3, "backend %d is in no slot",
		    out->backend);
	return 0;
}

/*
 * Backend 4 is ACTIVE but in no slot: an affinity entry naming it is the
 * only way to reach it, which makes "the entry was honoured" observable.
 */
static int child_affinity(void *arg)
{
	struct child_arg *a = arg;
	struct child_out *out = a->out;
	int aff = bpf_map__fd(a->skel->maps.capstan_aff_v1);
	int be = bpf_map__fd(a->skel->maps.capstan_be_v2);
	struct capstan_affinity_val val;
	int fds[TCP_BACKENDS], id, err;

	CHILD_CHECK(listen_backends(fds, TCP_BACKENDS), "listen");
	if (affinity_sticks(fds, out) != 0)
		return 1;
	CHILD_CHECK(affinity_get(aff, out->netns, &val) == 0, "no affinity entry");
	CHILD_CHECK(val.backend_id == (__u32)out->backend, "entry names %u, connections went to %d",
		    val.backend_id, out->backend);

	/* An entry younger than the timeout is reused, and each use restamps it. */
	out->t_before = now_ns();
	err = affinity_put(aff, out->netns, 4, out->t_before - 500 * 1000000ULL);
	CHILD_CHECK(err == 0, "put entry: %s", strerror(-err));
	id = connect_hit(VIP, 80, fds, TCP_BACKENDS);
	CHILD_CHECK(id == 4, "fresh entry for backend 4 not honoured (got %d)", id);
	CHILD_CHECK(affinity_get(aff, out->netns, &val) == 0 && val.backend_id == 4, "entry");
	CHILD_CHECK(val.last_used_ns >= out->t_before, "entry not restamped on use");
	out->t_before = val.last_used_ns;

	/* Past the 1 s timeout a new choice is made among the slots. */
	usleep(1100 * 1000);
	id = connect_hit(VIP, 80, fds, TCP_BACKENDS);
	CHILD_CHECK(id >= 1 && id <= 3, "expired entry still honoured (got %d)", id);
	CHILD_CHECK(affinity_get(aff, out->netns, &val) == 0 && val.backend_id == (__u32)id,
		    "new choice not remembered");
	CHILD_CHECK(val.last_used_ns > out->t_before + 1000000000ULL, "entry not restamped");

	/* A TERMINATING backend named by a fresh entry is not reused. */
	err = set_backend_state(be, 4, CAPSTAN_BE_TERMINATING);
	CHILD_CHECK(err == 0, "terminate backend 4: %s", strerror(-err));
	err = affinity_put(aff, out->netns, 4, now_ns());
	CHILD_CHECK(err == 0, "put entry: %s", strerror(-err));
	id = connect_hit(VIP, 80, fds, TCP_BACKENDS);
	CHILD_CHECK(id >= 1 && id <= 3, "terminating backend reused (got %d)", id);
	CHILD_CHECK(affinity_get(aff, out->netns, &val) == 0 && val.backend_id == (__u32)id,
		    "entry not replaced");

	/* Nor is a backend that no longer exists: no refusal either. */
	err = affinity_put(aff, out->netns, 99, now_ns());
	CHILD_CHECK(err == 0, "put entry: %s", strerror(-err));
	id = connect_hit(VIP, 80, fds, TCP_BACKENDS);
	CHILD_CHECK(id >= 1 && id <= 3, "deleted backend: got %d", id);
	return 0;
}

static int child_affinity_second(void *arg)
{
	int fds[TCP_BACKENDS];

	CHILD_CHECK(listen_backends(fds, TCP_BACKENDS), "listen");
	return affinity_sticks(fds, ((struct child_arg *)arg)->out);
}

TEST(sock_lb_affinity_sticks_per_netns_until_timeout)
{
	struct sock_lb *skel = setup();
	struct child_out *out = fixture_shared(2 * sizeof(*out));
	int aff = bpf_map__fd(skel->maps.capstan_aff_v1);
	struct capstan_affinity_val val;

	put_service(skel, &(struct svc_spec){ .vip = VIP,
					      .port = 80,
					      .proto = IPPROTO_TCP,
					      .rev_nat_id = RNAT_VIP,
					      .flags = CAPSTAN_SVC_F_AFFINITY,
					      .affinity_timeout = 1,
					      .ids = three_ids,
					      .count = 3 });
	ASSERT_EQ(fixture_run_child(true, child_affinity, &(struct child_arg){ skel, &out[0] }), 0);
	ASSERT_EQ(fixture_run_child(true, child_affinity_second,
				    &(struct child_arg){ skel, &out[1] }),
		  0);
	/* One entry per client namespace; the second may well differ. */
	ASSERT_NE(out[0].netns, out[1].netns);
	ASSERT_OK(affinity_get(aff, out[1].netns, &val));
	ASSERT_EQ(val.backend_id, out[1].backend);
	ASSERT_OK(affinity_get(aff, out[0].netns, &val));
	ASSERT(val.backend_id >= 1 && val.backend_id <= 3);
	/* 50 + 4 connections, then 50. */
	ASSERT_EQ(svc_counters(skel, RNAT_VIP).connects, 2 * AFFINITY_CONNECTS + 4);
	ASSERT_EQ(be_counters(skel, 4).connects, 1);
	assert_no_other_drops(skel, CAPSTAN_DROP_NONE);
	sock_lb__destroy(skel);
}

/* ---------------------------------------------------------------- drain */

#define DRAIN_CONNECTS 30

static int child_drain(void *arg)
{
	struct child_arg *a = arg;
	int svc_fd = bpf_map__fd(a->skel->maps.capstan_svc_v2);
	int be_fd = bpf_map__fd(a->skel->maps.capstan_be_v2);
	struct capstan_svc_key key = svc_key(VIP, 80, IPPROTO_TCP, 0);
	struct capstan_svc_val val;
	int fds[2], fd, conn = -1, which, gone, kept;
	char buf[8];

	CHILD_CHECK(listen_backends(fds, 2), "listen");
	fd = connect_to(VIP, 80);
	CHILD_CHECK(fd >= 0, "connect: %s", strerror(-fd));
	which = accept_which(fds, 2, &conn);
	CHILD_CHECK(which >= 0, "no backend accepted");
	gone = which + 1;
	kept = 3 - gone;
	a->out->backend = gone;

	/* The agent's shrink: slot 1 names the kept backend, then count 1 and
	 * slot 2 deleted; the removed backend turns TERMINATING. */
	val = (struct capstan_svc_val){ .backend_id = kept };
	key.slot = 1;
	CHILD_CHECK(bpf_map_update_elem(svc_fd, &key, &val, BPF_EXIST) == 0, "slot 1");
	key.slot = 0;
	CHILD_CHECK(bpf_map_lookup_elem(svc_fd, &key, &val) == 0, "slot 0");
	val.count = 1;
	CHILD_CHECK(bpf_map_update_elem(svc_fd, &key, &val, BPF_EXIST) == 0, "count");
	key.slot = 2;
	CHILD_CHECK(bpf_map_delete_elem(svc_fd, &key) == 0, "delete slot 2");
	CHILD_CHECK(set_backend_state(be_fd, gone, CAPSTAN_BE_TERMINATING) == 0, "terminate");

	for (int i = 0; i < DRAIN_CONNECTS; i++) {
		int id = connect_hit(VIP, 80, fds, 2);

		CHILD_CHECK(id == kept, "new connection %d went to backend %d", i, id);
	}
	/* The established connection to the removed backend still works. */
	CHILD_CHECK(write(fd, "hello", 5) == 5, "client write: %s", strerror(errno));
	CHILD_CHECK(read(conn, buf, sizeof(buf)) == 5 && !memcmp(buf, "hello", 5), "backend read");
	CHILD_CHECK(write(conn, "world", 5) == 5, "backend write: %s", strerror(errno));
	CHILD_CHECK(read(fd, buf, sizeof(buf)) == 5 && !memcmp(buf, "world", 5), "client read");
	CHILD_CHECK(peer_is(fd, VIP, 80), "old connection's peer");
	close(conn);
	close(fd);
	return 0;
}

TEST(sock_lb_removed_backend_drains)
{
	struct sock_lb *skel = setup_services();
	struct child_out *out = fixture_shared(sizeof(*out));
	int gone;

	ASSERT_EQ(fixture_run_child(true, child_drain, &(struct child_arg){ skel, out }), 0);
	gone = out->backend;
	ASSERT(gone == 1 || gone == 2);
	ASSERT_EQ(be_counters(skel, gone).connects, 1);
	ASSERT_EQ(be_counters(skel, 3 - gone).connects, DRAIN_CONNECTS);
	ASSERT_EQ(svc_counters(skel, RNAT_VIP).connects, DRAIN_CONNECTS + 1);
	assert_no_other_drops(skel, CAPSTAN_DROP_NONE);
	sock_lb__destroy(skel);
}

/* ---------------------------------------------------------------- refusals */

static int child_port_not_served(void *arg)
{
	int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), fds[2], fd, err;

	CHILD_CHECK(udp >= 0 && listen_backends(fds, 2), "sockets");
	fd = connect_to(VIP, 81);
	CHILD_CHECK(fd == -ECONNREFUSED, "TCP to an unserved port: %s, want ECONNREFUSED",
		    fd < 0 ? strerror(-fd) : "connected");
	err = send_to(udp, "x", VIP, 81);
	CHILD_CHECK(err == -ECONNREFUSED, "UDP to an unserved port: %s, want ECONNREFUSED",
		    strerror(-err));
	/* Port 80 is served for TCP only. */
	err = send_to(udp, "x", VIP, 80);
	CHILD_CHECK(err == -ECONNREFUSED, "UDP to a TCP port: %s, want ECONNREFUSED",
		    strerror(-err));
	/* A VIP map entry that is not a ClusterIP is not refused... */
	fd = connect_to(VIP_EXTERNAL, 81);
	CHILD_CHECK(fd == -EHOSTUNREACH, "external IP: %s, want EHOSTUNREACH",
		    fd < 0 ? strerror(-fd) : "connected");
	/* ...and the served port still works. */
	CHILD_CHECK(connect_hit(VIP, 80, fds, 2) > 0, "served port");
	return 0;
}

TEST(sock_lb_port_not_served_is_refused)
{
	struct sock_lb *skel = setup_services();

	put_vip(skel, VIP, CAPSTAN_VIP_F_CLUSTER_IP);
	put_vip(skel, VIP_EXTERNAL, 0);
	ASSERT_EQ(fixture_run_child(true, child_port_not_served, NULL), 0);
	ASSERT_EQ(drops(skel, CAPSTAN_DROP_PORT_NOT_SERVED), 3);
	assert_no_other_drops(skel, CAPSTAN_DROP_PORT_NOT_SERVED);
	ASSERT_EQ(svc_counters(skel, RNAT_VIP).connects, 1);
	ASSERT_EQ(svc_counters(skel, RNAT_VIP).refused, 0);
	sock_lb__destroy(skel);
}

static int child_fails_closed(void *arg)
{
	int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), fd, err;

	CHILD_CHECK(udp >= 0, "socket");
	fd = connect_to(VIP_BROKEN, 80);
	CHILD_CHECK(fd == -ECONNREFUSED, "missing slot: %s, want ECONNREFUSED",
		    fd < 0 ? strerror(-fd) : "connected");
	fd = connect_to(VIP_BROKEN, 81);
	CHILD_CHECK(fd == -ECONNREFUSED, "missing backend: %s, want ECONNREFUSED",
		    fd < 0 ? strerror(-fd) : "connected");
	err = send_to(udp, "x", VIP_BROKEN, 81);
	CHILD_CHECK(err == -ECONNREFUSED, "UDP, missing backend: %s, want ECONNREFUSED",
		    strerror(-err));
	return 0;
}

TEST(sock_lb_fails_closed_on_missing_entries)
{
	static const __u32 missing[] = { 77 };
	struct sock_lb *skel = setup();

	struct capstan_svc_key key = svc_key(VIP_BROKEN, 80, IPPROTO_TCP, 0);
	struct capstan_svc_val val = { .count = 1, .rev_nat_id = 20 };
	struct svc_spec bad_backend = { .vip = VIP_BROKEN,
					.port = 81,
					.proto = IPPROTO_TCP,
					.rev_nat_id = 21,
					.ids = missing,
					.count = 1 };

	/* Slot 0 says one backend but slot 1 was never written. */
	ASSERT_OK(bpf_map_update_elem(bpf_map__fd(skel->maps.capstan_svc_v2), &key, &val, BPF_ANY));
	/* Slot 1 names a backend id the backends map does not have. */
	put_service(skel, &bad_backend);
	bad_backend.proto = IPPROTO_UDP;
	put_service(skel, &bad_backend);
	ASSERT_EQ(fixture_run_child(true, child_fails_closed, NULL), 0);
	ASSERT_EQ(drops(skel, CAPSTAN_DROP_NO_SLOT), 1);
	ASSERT_EQ(drops(skel, CAPSTAN_DROP_NO_BACKEND_ENTRY), 2);
	ASSERT_EQ(drops(skel, CAPSTAN_DROP_NO_BACKEND), 0);
	/* "refused" means no ready backend; these are counted as drops only. */
	ASSERT_EQ(svc_counters(skel, 20).refused, 0);
	ASSERT_EQ(svc_counters(skel, 21).refused, 0);
	ASSERT_EQ(svc_counters(skel, 21).connects + svc_counters(skel, 21).udp_msgs, 0);
	sock_lb__destroy(skel);
}

/* ---------------------------------------------------------------- IPv6 */

static int child_v6(void *arg)
{
	int fds[2], v6l = bound_socket(AF_INET6, SOCK_STREAM, "::1", 8090);
	int be = bound_socket(AF_INET, SOCK_DGRAM, "127.0.0.1", UDP_BE_PORT);
	int cl6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), fd;
	struct sockaddr_storage client;

	CHILD_CHECK(listen_backends(fds, 2), "listen");
	CHILD_CHECK(v6l >= 0, "listen [::1]:8090: %s", strerror(errno));
	CHILD_CHECK(be >= 0 && cl6 >= 0, "UDP sockets: %s", strerror(errno));

	/* A dual-stack socket reaches the IPv4 service through its mapped form. */
	fd = connect_sock(AF_INET6, SOCK_STREAM, MAPPED(VIP), 80);
	CHILD_CHECK(fd >= 0, "connect " MAPPED(VIP) ": %s", strerror(-fd));
	CHILD_CHECK(accept_which(fds, 2, NULL) >= 0, "no backend accepted");
	CHILD_CHECK(peer_is(fd, MAPPED(VIP), 80), "mapped peer");
	close(fd);
	fd = connect_sock(AF_INET6, SOCK_STREAM, MAPPED(VIP_EMPTY), 80);
	CHILD_CHECK(fd == -ECONNREFUSED, "mapped empty service: %s, want ECONNREFUSED",
		    fd < 0 ? strerror(-fd) : "connected");

	/* Plain IPv6 is none of our business, even with ::ffff: inside. */
	fd = connect_sock(AF_INET6, SOCK_STREAM, "1::ffff:" VIP, 80);
	CHILD_CHECK(fd == -ENETUNREACH, "1::ffff:" VIP ": %s, want ENETUNREACH",
		    fd < 0 ? strerror(-fd) : "connected");
	fd = connect_sock(AF_INET6, SOCK_STREAM, "::1", 8090);
	CHILD_CHECK(fd >= 0, "connect [::1]:8090: %s", strerror(-fd));
	CHILD_CHECK(accept_which(&v6l, 1, NULL) == 0, "[::1] listener got nothing");
	CHILD_CHECK(peer_is(fd, "::1", 8090), "plain IPv6 peer");
	close(fd);

	/* Unconnected UDP from a dual-stack socket, and the reply's source. */
	CHILD_CHECK(udp_round_trip(cl6, MAPPED(VIP), be, MAPPED(VIP), &client), "round trip");
	return 0;
}

TEST(sock_lb_v6_translates_only_mapped_addresses)
{
	struct sock_lb *skel = setup_services();

	put_udp_service(skel);
	ASSERT_EQ(fixture_run_child(true, child_v6, NULL), 0);
	ASSERT_EQ(svc_counters(skel, RNAT_VIP).connects, 1);
	ASSERT_EQ(svc_counters(skel, RNAT_EMPTY).refused, 1);
	ASSERT_EQ(svc_counters(skel, RNAT_UDP).udp_msgs, 1);
	ASSERT_EQ(be_counters(skel, 1).connects + be_counters(skel, 2).connects, 1);
	ASSERT_EQ(drops(skel, CAPSTAN_DROP_NO_BACKEND), 1);
	assert_no_other_drops(skel, CAPSTAN_DROP_NO_BACKEND);
	sock_lb__destroy(skel);
}

/* ---------------------------------------------------------------- events */

#define EVENTS_KEPT 8

struct events {
	int n;
	struct capstan_event ev[EVENTS_KEPT];
};

static int collect_event(void *ctx, void *data, size_t len)
{
	struct events *evs = ctx;

	if (len != sizeof(struct capstan_event))
		return -EINVAL;
	if (evs->n < EVENTS_KEPT)
		memcpy(&evs->ev[evs->n], data, len);
	evs->n++;
	return 0;
}

/* Everything in the ring buffer right now. */
static void read_events(struct sock_lb *skel, struct events *evs)
{
	struct ring_buffer *rb =
		ring_buffer__new(bpf_map__fd(skel->maps.capstan_evt_v2), collect_event, evs, NULL);
	int n;

	ASSERT_MSG(rb != NULL, "ring_buffer__new: %s", strerror(errno));
	memset(evs, 0, sizeof(*evs));
	n = ring_buffer__consume(rb);
	ring_buffer__free(rb);
	ASSERT_MSG(n >= 0, "ring_buffer__consume: %s", strerror(-n));
}

/* One translated connect, one refused. */
static int child_events(void *arg)
{
	struct child_out *out = ((struct child_arg *)arg)->out;
	int fds[2], fd;

	CHILD_CHECK(listen_backends(fds, 2), "listen");
	out->t_before = now_ns();
	fd = connect_to(VIP, 80);
	out->t_after = now_ns();
	CHILD_CHECK(fd >= 0, "connect: %s", strerror(-fd));
	out->cookie = sockopt_u64(fd, SO_COOKIE);
	out->netns = sockopt_u64(fd, SO_NETNS_COOKIE);
	out->backend = accept_which(fds, 2, NULL) + 1;
	CHILD_CHECK(out->backend > 0, "no backend accepted");
	close(fd);
	fd = connect_to(VIP_EMPTY, 80);
	CHILD_CHECK(fd == -ECONNREFUSED, "empty service: %s", fd < 0 ? strerror(-fd) : "connected");
	return 0;
}

TEST(sock_lb_events_trace_each_connect)
{
	struct sock_lb *skel = setup_services();
	struct child_out *out = fixture_shared(sizeof(*out));
	struct events evs;
	const struct capstan_event *e = &evs.ev[0], *r = &evs.ev[1];
	__be32 vip, vip_empty;

	set_events(skel, true);
	ASSERT_EQ(fixture_run_child(true, child_events, &(struct child_arg){ skel, out }), 0);
	read_events(skel, &evs);
	ASSERT_EQ(evs.n, 2);
	inet_pton(AF_INET, VIP, &vip);
	inet_pton(AF_INET, VIP_EMPTY, &vip_empty);

	ASSERT_EQ(e->hook, CAPSTAN_HOOK_CONNECT4);
	ASSERT_EQ(e->proto, IPPROTO_TCP);
	ASSERT_EQ(e->drop, CAPSTAN_DROP_NONE);
	ASSERT_EQ(e->rev_nat_id, RNAT_VIP);
	ASSERT_EQ(e->backend_id, out->backend);
	ASSERT_EQ(e->svc_addr, vip);
	ASSERT_EQ(e->svc_port, htons(80));
	ASSERT_EQ(e->be_addr, htonl(INADDR_LOOPBACK));
	ASSERT_EQ(e->be_port, htons(BE_PORT(out->backend)));
	ASSERT_EQ(e->cookie, out->cookie);
	ASSERT_EQ(e->netns, out->netns);
	ASSERT(e->ts_ns >= out->t_before && e->ts_ns <= out->t_after);
	ASSERT_EQ(e->pad + e->pad2, 0);

	ASSERT_EQ(r->hook, CAPSTAN_HOOK_CONNECT4);
	ASSERT_EQ(r->drop, CAPSTAN_DROP_NO_BACKEND);
	ASSERT_EQ(r->rev_nat_id, RNAT_EMPTY);
	ASSERT_EQ(r->backend_id, 0);
	ASSERT_EQ(r->svc_addr, vip_empty);
	ASSERT_EQ(r->be_addr, 0);
	ASSERT_EQ(r->be_port, 0);
	ASSERT_EQ(r->netns, out->netns);
	ASSERT(r->ts_ns >= e->ts_ns);
	ASSERT_EQ(drops(skel, CAPSTAN_DROP_EVENT_LOST), 0);
	sock_lb__destroy(skel);
}

TEST(sock_lb_events_off_emit_nothing)
{
	struct sock_lb *skel = setup_services();
	struct child_out *out = fixture_shared(sizeof(*out));
	struct events evs;

	set_events(skel, false);
	ASSERT_EQ(fixture_run_child(true, child_events, &(struct child_arg){ skel, out }), 0);
	read_events(skel, &evs);
	ASSERT_EQ(evs.n, 0);
	/* The work was done all the same. */
	ASSERT_EQ(svc_counters(skel, RNAT_VIP).connects, 1);
	ASSERT_EQ(drops(skel, CAPSTAN_DROP_NO_BACKEND), 1);
	ASSERT_EQ(drops(skel, CAPSTAN_DROP_EVENT_LOST), 0);
	sock_lb__destroy(skel);
}

/* The hooks behind each step of a dual-stack UDP exchange and a getpeername. */
static int child_event_hooks(void *arg)
{
	int be = bound_socket(AF_INET, SOCK_DGRAM, "127.0.0.1", UDP_BE_PORT);
	int cl6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_storage client;
	int fds[2], fd;

	CHILD_CHECK(be >= 0 && cl6 >= 0 && listen_backends(fds, 2), "sockets");
	CHILD_CHECK(udp_round_trip(cl6, MAPPED(VIP), be, MAPPED(VIP), &client), "round trip");
	fd = connect_sock(AF_INET6, SOCK_STREAM, MAPPED(VIP), 80);
	CHILD_CHECK(fd >= 0, "connect6: %s", strerror(-fd));
	CHILD_CHECK(peer_is(fd, MAPPED(VIP), 80), "peer");
	return 0;
}

TEST(sock_lb_events_name_the_hook)
{
	struct sock_lb *skel = setup_services();
	struct events evs;

	put_udp_service(skel);
	set_events(skel, true);
	ASSERT_EQ(fixture_run_child(true, child_event_hooks, NULL), 0);
	read_events(skel, &evs);
	ASSERT_EQ(evs.n, 4);
	/* udpv6_sendmsg() hands a mapped destination to the IPv4 path. */
	ASSERT_EQ(evs.ev[0].hook, CAPSTAN_HOOK_SENDMSG4);
	ASSERT_EQ(evs.ev[0].proto, IPPROTO_UDP);
	ASSERT_EQ(evs.ev[0].backend_id, UDP_BE_ID);
	ASSERT_EQ(evs.ev[1].hook, CAPSTAN_HOOK_RECVMSG6);
	ASSERT_EQ(evs.ev[1].rev_nat_id, RNAT_UDP);
	ASSERT_EQ(evs.ev[1].be_port, htons(UDP_BE_PORT));
	ASSERT_EQ(evs.ev[1].svc_port, htons(UDP_SVC_PORT));
	/* The UDP socket is the same one on both ways. */
	ASSERT_EQ(evs.ev[1].cookie, evs.ev[0].cookie);
	ASSERT_EQ(evs.ev[2].hook, CAPSTAN_HOOK_CONNECT6);
	ASSERT_EQ(evs.ev[2].rev_nat_id, RNAT_VIP);
	ASSERT_EQ(evs.ev[3].hook, CAPSTAN_HOOK_GETPEERNAME6);
	ASSERT_EQ(evs.ev[3].cookie, evs.ev[2].cookie);
	ASSERT_EQ(evs.ev[3].be_port, evs.ev[2].be_port);
	sock_lb__destroy(skel);
}

/* More datagrams than the 1 MiB ring buffer has room for events. */
#define FLOOD_MSGS 20000

static int child_flood(void *arg)
{
	struct child_out *out = ((struct child_arg *)arg)->out;
	int be = bound_socket(AF_INET, SOCK_DGRAM, "127.0.0.1", UDP_BE_PORT);
	int cl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	/* The backend never reads: its queue fills and the kernel drops the
	 * rest, which is fine, only the sends matter. */
	CHILD_CHECK(be >= 0 && cl >= 0, "sockets");
	for (int i = 0; i < FLOOD_MSGS; i++) {
		int err = send_to(cl, "x", VIP, UDP_SVC_PORT);

		CHILD_CHECK(err == 0, "datagram %d: %s", i, strerror(-err));
		out->sent++;
	}
	return 0;
}

TEST(sock_lb_full_ring_buffer_loses_events_not_traffic)
{
	struct sock_lb *skel = setup();
	struct child_out *out = fixture_shared(sizeof(*out));
	struct events evs;
	__u64 lost;

	put_udp_service(skel);
	set_events(skel, true);
	ASSERT_EQ(fixture_run_child(true, child_flood, &(struct child_arg){ skel, out }), 0);
	ASSERT_EQ(out->sent, FLOOD_MSGS);
	ASSERT_EQ(svc_counters(skel, RNAT_UDP).udp_msgs, FLOOD_MSGS);
	read_events(skel, &evs);
	lost = drops(skel, CAPSTAN_DROP_EVENT_LOST);
	ASSERT_MSG(lost > 0, "%d events fit: the ring buffer was never full", evs.n);
	ASSERT_EQ(evs.n + lost, FLOOD_MSGS);
	assert_no_other_drops(skel, CAPSTAN_DROP_EVENT_LOST);
	sock_lb__destroy(skel);
}
