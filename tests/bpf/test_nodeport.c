/*
 * BPF_PROG_TEST_RUN table tests for bpf/nodeport.bpf.c: the tc ingress,
 * tc egress and XDP programs of the north-south path.
 *
 * Each test runs in its own forked process (test.h), which moves into a new
 * network namespace and builds a small "node" there: a veth pair whose np0
 * end holds the node address, permanent neighbour entries for a client on
 * that link and for a router towards a remote node's pod range, and
 * forwarding on, so that the programs' FIB lookups resolve exactly as they
 * would on a node. Nothing is transmitted: BPF_PROG_TEST_RUN only returns
 * the verdict and the rewritten packet, which the test then checks field by
 * field, with every checksum recomputed here from scratch (never
 * incrementally, so a wrong incremental update cannot agree with itself).
 * The namespace disappears with the test process.
 *
 * Addresses (all inside the test's namespace):
 *   node      10.244.100.1 on np0        client  10.244.100.50 (on the link)
 *   router    10.244.100.2 (on the link), route to 10.244.2.0/24
 *   local backends 10.244.1.x (delivered by the stack: no route needed)
 *   remote backends 10.244.2.x (forwarded through the router, with SNAT)
 *   externalIP 10.244.250.1, LoadBalancer IP 10.244.250.2
 */
#include "test.h"
#include "fixture.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "abi.h"
#include "nodeport.skel.h"
#include "util.h"

#define NODE "10.244.100.1"
#define CLIENT "10.244.100.50"
#define CLIENT_IN_RANGE "10.244.100.5"
#define ROUTER "10.244.100.2"
#define LOCAL_BE "10.244.1.10"
#define LOCAL_UDP_BE "10.244.1.11"
#define REMOTE_BE "10.244.2.10"
#define REMOTE_BE2 "10.244.2.11"
#define EXT_IP "10.244.250.1"
#define LB_IP "10.244.250.2"

static const __u8 CLIENT_MAC[6] = { 0x02, 0, 0, 0, 0, 0x50 };
static const __u8 ROUTER_MAC[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const __u8 NODE_MAC[6] = { 0x02, 0, 0, 0, 0, 0x01 };

#define NP_LOCAL_PORT 30080  /* TCP, one local backend, rev 10 */
#define NP_REMOTE_PORT 30081 /* TCP, remote backends, rev 11 */
#define NP_UDP_PORT 30053    /* UDP, one local backend, rev 12 */
#define EXT_PORT 80	     /* externalIP without backends, rev 13 */
#define LB_PORT 443	     /* LoadBalancer IP with source ranges, rev 14 */
#define NP_AFF_PORT 30082    /* TCP, remote backends, ClientIP affinity, rev 15 */

#define BE_PORT 8080
#define UDP_BE_PORT 5353
#define MAGLEV_M 251

enum { REV_LOCAL = 10, REV_REMOTE, REV_UDP, REV_EXT, REV_LB, REV_AFF };
enum { BE_LOCAL = 1, BE_REMOTE, BE_UDP, BE_REMOTE2 };

/* ---------------------------------------------------------------- the node */

struct node {
	struct nodeport *skel;
	int ifindex;	  /* np0 */
	int in, out, xdp; /* program fds */
};

static void sh(const char *cmd)
{
	ASSERT_MSG(system(cmd) == 0, "command failed: %s", cmd);
}

static __be32 ip(const char *s)
{
	__be32 a;

	ASSERT_EQ(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static void net_setup(void)
{
	ASSERT_OK(unshare(CLONE_NEWNET));
	sh("ip link set lo up && ip route add unreachable 10.96.0.0/12");
	sh("ip link add np0 address 02:00:00:00:00:01 type veth peer name np1 && "
	   "ip link set np1 up && ip link set np0 up && "
	   "ip addr add " NODE "/24 dev np0 && "
	   "ip neigh add " CLIENT " lladdr 02:00:00:00:00:50 dev np0 nud permanent && "
	   "ip neigh add " CLIENT_IN_RANGE " lladdr 02:00:00:00:00:50 dev np0 nud permanent && "
	   "ip neigh add " ROUTER " lladdr 02:00:00:00:00:02 dev np0 nud permanent && "
	   "ip route add 10.244.2.0/24 via " ROUTER " && "
	   "echo 1 > /proc/sys/net/ipv4/conf/all/forwarding");
}

static int map_fd(struct bpf_map *m)
{
	return bpf_map__fd(m);
}

static void set_config(struct node *n, __u32 flags)
{
	struct capstan_config cfg = {
		.flags = flags,
		.maglev_m = MAGLEV_M,
		.maglev_seed = 42,
		.node_ip = ip(NODE),
		.snat_port_min = CAPSTAN_SNAT_PORT_MIN,
		.snat_port_max = CAPSTAN_SNAT_PORT_MAX,
	};
	__u32 key = 0;

	ASSERT_OK(bpf_map_update_elem(map_fd(n->skel->maps.capstan_cfg_v2), &key, &cfg, BPF_ANY));
}

static void put_backend(struct node *n, __u32 id, const char *addr, int port, __u8 proto,
			bool local)
{
	struct capstan_backend be = { .addr = ip(addr),
				      .port = htons(port),
				      .proto = proto,
				      .flags = local ? CAPSTAN_BE_F_LOCAL : 0 };

	ASSERT_OK(bpf_map_update_elem(map_fd(n->skel->maps.capstan_be_v2), &id, &be, BPF_ANY));
}

static struct capstan_svc_key svc_key(const char *addr, int port, __u8 proto, __u16 slot)
{
	struct capstan_svc_key k;

	memset(&k, 0, sizeof(k));
	k.addr = ip(addr);
	k.port = htons(port);
	k.proto = proto;
	k.slot = slot;
	k.scope = CAPSTAN_SCOPE_EXTERNAL;
	return k;
}

/* An external-view frontend with its slots, rev-NAT entry and Maglev table. */
static void put_frontend(struct node *n, const char *addr, int port, __u8 proto, __u16 rev,
			 __u32 flags, const __u32 *ids, int count)
{
	struct capstan_svc_key k;
	struct capstan_svc_val v;
	struct capstan_revnat rn = { .addr = ip(addr), .port = htons(port), .proto = proto };
	__u32 rkey = rev;

	for (int i = 0; i < count; i++) {
		k = svc_key(addr, port, proto, i + 1);
		memset(&v, 0, sizeof(v));
		v.backend_id = ids[i];
		ASSERT_OK(
			bpf_map_update_elem(map_fd(n->skel->maps.capstan_svc_v2), &k, &v, BPF_ANY));
	}
	k = svc_key(addr, port, proto, 0);
	memset(&v, 0, sizeof(v));
	v.count = count;
	v.rev_nat_id = rev;
	v.flags = flags;
	v.affinity_timeout = 60;
	ASSERT_OK(bpf_map_update_elem(map_fd(n->skel->maps.capstan_svc_v2), &k, &v, BPF_ANY));
	ASSERT_OK(bpf_map_update_elem(map_fd(n->skel->maps.capstan_rnat_v1), &rkey, &rn, BPF_ANY));
}

/* Frontend rev's Maglev table: entry i names ids[i % count]. */
static void put_maglev(struct node *n, __u16 rev, const __u32 *ids, int count)
{
	LIBBPF_OPTS(bpf_map_create_opts, mopts, .map_flags = BPF_F_INNER_MAP);
	int inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "mgl_test", 4, 4, MAGLEV_M, &mopts);
	__u32 key = rev;

	ASSERT_MSG(inner >= 0, "create inner map: %s", strerror(errno));
	for (__u32 i = 0; i < MAGLEV_M; i++)
		ASSERT_OK(bpf_map_update_elem(inner, &i, &ids[i % count], BPF_ANY));
	ASSERT_OK(bpf_map_update_elem(map_fd(n->skel->maps.capstan_mgl_v1), &key, &inner, BPF_ANY));
	close(inner);
}

static void put_vip(struct node *n, const char *addr, __u32 flags)
{
	__be32 a = ip(addr);

	ASSERT_OK(bpf_map_update_elem(map_fd(n->skel->maps.capstan_vip_v2), &a, &flags, BPF_ANY));
}

static void put_src_range(struct node *n, __u16 rev, const char *addr, int len)
{
	struct capstan_src_range_key k = { .prefixlen = 32 + len,
					   .rev_nat_id = htons(rev),
					   .addr = ip(addr) };
	__u8 one = 1;

	ASSERT_OK(bpf_map_update_elem(map_fd(n->skel->maps.capstan_srcr_v1), &k, &one, BPF_ANY));
}

static const __u32 ids_local[] = { BE_LOCAL };
static const __u32 ids_remote[] = { BE_REMOTE };
static const __u32 ids_udp[] = { BE_UDP };
static const __u32 ids_two_remote[] = { BE_REMOTE, BE_REMOTE2 };

static struct node setup(void)
{
	struct node n;

	fixture_require_bpf();
	net_setup();
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = fixture_bpffs());
	n.skel = nodeport__open_opts(&opts);
	ASSERT_MSG(n.skel != NULL, "open skeleton: %s", strerror(errno));
	ASSERT_OK(nodeport__load(n.skel));
	n.ifindex = (int)if_nametoindex("np0");
	ASSERT(n.ifindex > 0);
	n.in = bpf_program__fd(n.skel->progs.capstan_np_in);
	n.out = bpf_program__fd(n.skel->progs.capstan_np_out);
	n.xdp = bpf_program__fd(n.skel->progs.capstan_np_xdp);

	set_config(&n, 0);
	put_backend(&n, BE_LOCAL, LOCAL_BE, BE_PORT, IPPROTO_TCP, true);
	put_backend(&n, BE_REMOTE, REMOTE_BE, BE_PORT, IPPROTO_TCP, false);
	put_backend(&n, BE_UDP, LOCAL_UDP_BE, UDP_BE_PORT, IPPROTO_UDP, true);
	put_backend(&n, BE_REMOTE2, REMOTE_BE2, BE_PORT, IPPROTO_TCP, false);
	put_frontend(&n, NODE, NP_LOCAL_PORT, IPPROTO_TCP, REV_LOCAL, CAPSTAN_SVC_F_NODEPORT,
		     ids_local, 1);
	put_maglev(&n, REV_LOCAL, ids_local, 1);
	put_frontend(&n, NODE, NP_REMOTE_PORT, IPPROTO_TCP, REV_REMOTE, CAPSTAN_SVC_F_NODEPORT,
		     ids_remote, 1);
	put_maglev(&n, REV_REMOTE, ids_remote, 1);
	put_frontend(&n, NODE, NP_UDP_PORT, IPPROTO_UDP, REV_UDP, CAPSTAN_SVC_F_NODEPORT, ids_udp,
		     1);
	put_maglev(&n, REV_UDP, ids_udp, 1);
	put_frontend(&n, EXT_IP, EXT_PORT, IPPROTO_TCP, REV_EXT, CAPSTAN_SVC_F_EXTERNAL_IP, NULL,
		     0);
	put_vip(&n, EXT_IP, CAPSTAN_VIP_F_EXTERNAL);
	put_frontend(&n, LB_IP, LB_PORT, IPPROTO_TCP, REV_LB,
		     CAPSTAN_SVC_F_LOADBALANCER | CAPSTAN_SVC_F_SOURCE_RANGES, ids_local, 1);
	put_maglev(&n, REV_LB, ids_local, 1);
	put_vip(&n, LB_IP, CAPSTAN_VIP_F_EXTERNAL);
	put_src_range(&n, REV_LB, "10.244.100.0", 28);
	put_frontend(&n, NODE, NP_AFF_PORT, IPPROTO_TCP, REV_AFF,
		     CAPSTAN_SVC_F_NODEPORT | CAPSTAN_SVC_F_AFFINITY, ids_two_remote, 2);
	put_maglev(&n, REV_AFF, ids_two_remote, 2);
	return n;
}

/* ---------------------------------------------------------------- counters */

static void percpu_sum(struct bpf_map *map, __u32 key, __u64 *out, size_t nfields)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;

	ASSERT(ncpu > 0);
	vals = calloc((size_t)ncpu * nfields, sizeof(*vals));
	ASSERT_NOT_NULL(vals);
	ASSERT_OK(bpf_map_lookup_elem(bpf_map__fd(map), &key, vals));
	memset(out, 0, nfields * sizeof(*out));
	for (int cpu = 0; cpu < ncpu; cpu++)
		for (size_t i = 0; i < nfields; i++)
			out[i] += vals[cpu * nfields + i];
	free(vals);
}

static struct capstan_svc_counters svc_counters(struct node *n, __u16 rev)
{
	struct capstan_svc_counters c;

	percpu_sum(n->skel->maps.capstan_scnt_v2, rev, (__u64 *)&c, sizeof(c) / sizeof(__u64));
	return c;
}

static struct capstan_backend_counters be_counters(struct node *n, __u32 id)
{
	struct capstan_backend_counters c;

	percpu_sum(n->skel->maps.capstan_bcnt_v2, id, (__u64 *)&c, sizeof(c) / sizeof(__u64));
	return c;
}

static __u64 drops(struct node *n, enum capstan_drop_reason reason)
{
	__u64 v;

	percpu_sum(n->skel->maps.capstan_drop_v2, reason, &v, 1);
	return v;
}

/* Every drop counter is zero except `except` (CAPSTAN_DROP_NONE: all zero). */
static void assert_drops_only(struct node *n, enum capstan_drop_reason except, __u64 want)
{
	for (int r = CAPSTAN_DROP_NONE + 1; r < CAPSTAN_DROP__MAX; r++)
		ASSERT_MSG(drops(n, r) == (r == (int)except ? want : 0),
			   "drop reason %d counted %llu times", r, (unsigned long long)drops(n, r));
}

/* ---------------------------------------------------------------- packets */

#define PKT_MAX 512

struct pkt {
	__u8 b[PKT_MAX];
	__u32 len;
};

struct spec {
	const char *src, *dst;
	int sport, dport;
	__u8 proto;
	__u8 tcp_flags;
	__u32 seq;
	int payload;	/* bytes after the L4 header */
	__u16 frag_off; /* host order, flags and offset as in the header */
	__u16 id;
	bool no_udp_csum;
	const __u8 *dmac, *smac;
};

/* The Internet checksum of len bytes, with an initial 32-bit sum. */
static __u16 csum(const void *data, size_t len, __u32 sum)
{
	const __u8 *p = data;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (__u32)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (__u32)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* The pseudo-header sum of an IPv4 TCP/UDP segment (host-order words). */
static __u32 pseudo_sum(__be32 saddr, __be32 daddr, __u8 proto, __u32 l4len)
{
	__u32 s = ntohl(saddr), d = ntohl(daddr);

	return (s >> 16) + (s & 0xffff) + (d >> 16) + (d & 0xffff) + proto + l4len;
}

static struct iphdr *pkt_ip(struct pkt *p)
{
	return (struct iphdr *)(p->b + ETH_HLEN);
}

static __u8 *pkt_l4(struct pkt *p)
{
	return p->b + ETH_HLEN + pkt_ip(p)->ihl * 4;
}

static __u16 get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(__u8 *p, __u32 v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* An L4 header + payload at l4 for s, with its checksum over l4len bytes. */
static __u32 build_l4(const struct spec *s, __u8 *l4, __be32 saddr, __be32 daddr)
{
	__u32 hlen = s->proto == IPPROTO_TCP ? 20 : 8, l4len = hlen + s->payload;

	memset(l4, 0, l4len);
	put16(l4, s->sport);
	put16(l4 + 2, s->dport);
	for (int i = 0; i < s->payload; i++)
		l4[hlen + i] = (__u8)(0x41 + i % 26);
	if (s->proto == IPPROTO_TCP) {
		put32(l4 + 4, s->seq);
		put32(l4 + 8, s->tcp_flags & 0x10 ? 1000 : 0);
		l4[12] = 5 << 4;
		l4[13] = s->tcp_flags;
		put16(l4 + 14, 65535);
		put16(l4 + 16, csum(l4, l4len, pseudo_sum(saddr, daddr, IPPROTO_TCP, l4len)));
	} else {
		__u16 c;

		put16(l4 + 4, (__u16)l4len);
		c = csum(l4, l4len, pseudo_sum(saddr, daddr, IPPROTO_UDP, l4len));
		put16(l4 + 6, s->no_udp_csum ? 0 : (c ? c : 0xffff));
	}
	return l4len;
}

static void build_eth_ip(struct pkt *p, const struct spec *s, __u8 proto, __u32 l4len)
{
	struct iphdr *iph = pkt_ip(p);

	memcpy(p->b, s->dmac ? s->dmac : NODE_MAC, 6);
	memcpy(p->b + 6, s->smac ? s->smac : CLIENT_MAC, 6);
	put16(p->b + 12, ETH_P_IP);
	memset(iph, 0, sizeof(*iph));
	iph->version = 4;
	iph->ihl = 5;
	iph->tot_len = htons(20 + l4len);
	iph->id = htons(s->id ? s->id : 0x1234);
	iph->frag_off = htons(s->frag_off);
	iph->ttl = 64;
	iph->protocol = proto;
	iph->saddr = ip(s->src);
	iph->daddr = ip(s->dst);
	iph->check = htons(csum(iph, 20, 0));
	p->len = ETH_HLEN + 20 + l4len;
}

static struct pkt build(const struct spec *s)
{
	struct pkt p;
	__u32 l4len;

	memset(&p, 0, sizeof(p));
	l4len = build_l4(s, p.b + ETH_HLEN + 20, ip(s->src), ip(s->dst));
	build_eth_ip(&p, s, s->proto, l4len);
	return p;
}

/* An ICMP error (type, code) from src to dst quoting the IP datagram q. */
static struct pkt build_icmp_error(const char *src, const char *dst, __u8 type, __u8 code,
				   const struct pkt *q, __u32 quote_len, const __u8 *smac)
{
	struct spec s = { .src = src, .dst = dst, .smac = smac };
	struct pkt p;
	__u8 *icmp;

	memset(&p, 0, sizeof(p));
	icmp = p.b + ETH_HLEN + 20;
	icmp[0] = type;
	icmp[1] = code;
	if (type == 3 && code == 4)
		put16(icmp + 6, 1400); /* next-hop MTU */
	memcpy(icmp + 8, q->b + ETH_HLEN, quote_len);
	put16(icmp + 2, csum(icmp, 8 + quote_len, 0));
	build_eth_ip(&p, &s, IPPROTO_ICMP, 8 + quote_len);
	return p;
}

/* ---------------------------------------------------------------- checks */

static void check_ip_csum(struct pkt *p)
{
	struct iphdr *iph = pkt_ip(p);

	ASSERT_MSG(csum(iph, iph->ihl * 4, 0) == 0, "IPv4 header checksum is wrong");
}

/* The TCP/UDP checksum of an unfragmented packet, against its own addresses. */
static void check_l4_csum(struct pkt *p)
{
	struct iphdr *iph = pkt_ip(p);
	__u32 l4len = ntohs(iph->tot_len) - iph->ihl * 4;
	__u8 *l4 = pkt_l4(p);

	if (iph->protocol == IPPROTO_UDP && get16(l4 + 6) == 0)
		return; /* no checksum */
	ASSERT_MSG(csum(l4, l4len, pseudo_sum(iph->saddr, iph->daddr, iph->protocol, l4len)) == 0,
		   "L4 checksum is wrong (proto %d)", iph->protocol);
}

static void check_tuple(struct pkt *p, const char *src, int sport, const char *dst, int dport)
{
	struct iphdr *iph = pkt_ip(p);
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &iph->saddr, a, sizeof(a));
	inet_ntop(AF_INET, &iph->daddr, b, sizeof(b));
	ASSERT_STREQ(a, src);
	ASSERT_STREQ(b, dst);
	if (sport >= 0)
		ASSERT_EQ(get16(pkt_l4(p)), sport);
	if (dport >= 0)
		ASSERT_EQ(get16(pkt_l4(p) + 2), dport);
}

static void check_macs(struct pkt *p, const __u8 *dst, const __u8 *src)
{
	ASSERT_MSG(memcmp(p->b, dst, 6) == 0, "destination MAC %02x:..:%02x", p->b[0], p->b[5]);
	ASSERT_MSG(memcmp(p->b + 6, src, 6) == 0, "source MAC %02x:..:%02x", p->b[6], p->b[11]);
}

/* ---------------------------------------------------------------- running */

static int run_tc(struct node *n, int prog, struct pkt *in, struct pkt *out)
{
	struct __sk_buff ctx = { .ifindex = (__u32)n->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->b, .data_size_in = in->len,
		    .data_out = out->b, .data_size_out = sizeof(out->b), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	memset(out, 0, sizeof(*out));
	ASSERT_MSG(bpf_prog_test_run_opts(prog, &o) == 0, "test run: %s", strerror(errno));
	out->len = o.data_size_out;
	return (int)o.retval;
}

static int run_xdp(struct node *n, struct pkt *in, struct pkt *out)
{
	struct xdp_md ctx = { .data_end = in->len, .ingress_ifindex = (__u32)n->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->b, .data_size_in = in->len,
		    .data_out = out->b, .data_size_out = sizeof(out->b), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	memset(out, 0, sizeof(*out));
	ASSERT_MSG(bpf_prog_test_run_opts(n->xdp, &o) == 0, "XDP test run: %s", strerror(errno));
	out->len = o.data_size_out;
	return (int)o.retval;
}

/* A packet that must leave byte for byte as it came. */
static void check_untouched(struct pkt *in, struct pkt *out)
{
	ASSERT_EQ(out->len, in->len);
	ASSERT_MSG(memcmp(in->b, out->b, in->len) == 0, "packet was modified");
}

static struct capstan_ct_key ct_key(const char *saddr, int sport, const char *daddr, int dport,
				    __u8 proto, __u8 dir)
{
	struct capstan_ct_key k;

	memset(&k, 0, sizeof(k));
	k.saddr = ip(saddr);
	k.daddr = ip(daddr);
	k.sport = htons(sport);
	k.dport = htons(dport);
	k.proto = proto;
	k.dir = dir;
	return k;
}

static void ct_entry(struct node *n, const char *saddr, int sport, const char *daddr, int dport,
		     __u8 proto, __u8 dir, struct capstan_ct_entry *e, bool want)
{
	struct capstan_ct_key k = ct_key(saddr, sport, daddr, dport, proto, dir);
	int rc;

	rc = bpf_map_lookup_elem(map_fd(n->skel->maps.capstan_ct_v1), &k, e);
	ASSERT_MSG((rc == 0) == want, "conntrack %s %s:%d -> %s:%d: %s",
		   dir == CAPSTAN_CT_FORWARD ? "FORWARD" : "REPLY", saddr, sport, daddr, dport,
		   rc == 0 ? "present" : "missing");
}

/*
 * Make a client's FORWARD entry to a NodePort two seconds older, so its
 * next packet is due for the once-a-second refresh and REPLY check.
 */
static void age_forward(struct node *n, int sport, int dport, __u8 proto)
{
	struct capstan_ct_key k = ct_key(CLIENT, sport, NODE, dport, proto, CAPSTAN_CT_FORWARD);
	struct capstan_ct_entry e;
	int fd = map_fd(n->skel->maps.capstan_ct_v1);

	ASSERT_OK(bpf_map_lookup_elem(fd, &k, &e));
	e.last_seen_ns -= 2000000000ull;
	ASSERT_OK(bpf_map_update_elem(fd, &k, &e, BPF_EXIST));
}

/* ---------------------------------------------------------------- TCP */

TEST(nodeport_tcp_local_backend_dnat_and_reply)
{
	struct node n = setup();
	struct spec syn = { .src = CLIENT,
			    .dst = NODE,
			    .sport = 40000,
			    .dport = NP_LOCAL_PORT,
			    .proto = IPPROTO_TCP,
			    .tcp_flags = 0x02,
			    .seq = 7777 };
	struct spec data = syn;
	struct spec reply = { .src = LOCAL_BE,
			      .dst = CLIENT,
			      .sport = BE_PORT,
			      .dport = 40000,
			      .proto = IPPROTO_TCP,
			      .tcp_flags = 0x18,
			      .seq = 1,
			      .payload = 33,
			      .dmac = CLIENT_MAC,
			      .smac = NODE_MAC };
	struct capstan_ct_entry e;
	struct pkt in, out;

	in = build(&syn);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_UNSPEC);
	ASSERT_EQ(out.len, in.len);
	check_tuple(&out, CLIENT, 40000, LOCAL_BE, BE_PORT); /* client address kept */
	check_ip_csum(&out);
	check_l4_csum(&out);
	ASSERT_EQ(pkt_ip(&out)->ttl, 64); /* delivered, not routed */

	data.tcp_flags = 0x18;
	data.payload = 100;
	in = build(&data);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_UNSPEC);
	check_tuple(&out, CLIENT, 40000, LOCAL_BE, BE_PORT);
	check_ip_csum(&out);
	check_l4_csum(&out);

	ct_entry(&n, CLIENT, 40000, NODE, NP_LOCAL_PORT, IPPROTO_TCP, CAPSTAN_CT_FORWARD, &e, true);
	ASSERT_EQ(e.backend_id, BE_LOCAL);
	ASSERT_EQ(e.rev_nat_id, REV_LOCAL);
	ASSERT_EQ(e.flags & CAPSTAN_CT_F_SNAT, 0);
	ct_entry(&n, LOCAL_BE, BE_PORT, CLIENT, 40000, IPPROTO_TCP, CAPSTAN_CT_REPLY, &e, true);

	/* The backend's reply leaves the node from the NodePort. */
	in = build(&reply);
	ASSERT_EQ(run_tc(&n, n.out, &in, &out), TC_ACT_UNSPEC);
	check_tuple(&out, NODE, NP_LOCAL_PORT, CLIENT, 40000);
	check_ip_csum(&out);
	check_l4_csum(&out);

	ASSERT_EQ(svc_counters(&n, REV_LOCAL).flows, 1);
	ASSERT_EQ(svc_counters(&n, REV_LOCAL).packets, 3);
	ASSERT_EQ(svc_counters(&n, REV_LOCAL).bytes, 40 + 140 + 73);
	ASSERT_EQ(be_counters(&n, BE_LOCAL).flows, 1);
	assert_drops_only(&n, CAPSTAN_DROP_NONE, 0);
}

/* The SNAT port and packet of a SYN to the remote NodePort (tc). */
static int remote_syn(struct node *n, int sport, struct pkt *out)
{
	struct spec syn = { .src = CLIENT,
			    .dst = NODE,
			    .sport = sport,
			    .dport = NP_REMOTE_PORT,
			    .proto = IPPROTO_TCP,
			    .tcp_flags = 0x02,
			    .seq = 1 };
	struct pkt in = build(&syn);
	int port;

	ASSERT_EQ(run_tc(n, n->in, &in, out), TC_ACT_REDIRECT);
	port = get16(pkt_l4(out));
	ASSERT_MSG(port >= CAPSTAN_SNAT_PORT_MIN && port <= CAPSTAN_SNAT_PORT_MAX, "SNAT port %d",
		   port);
	return port;
}

TEST(nodeport_tcp_remote_backend_snat_and_reverse)
{
	struct node n = setup();
	struct spec reply = { .src = REMOTE_BE,
			      .dst = NODE,
			      .sport = BE_PORT,
			      .proto = IPPROTO_TCP,
			      .tcp_flags = 0x12,
			      .seq = 99,
			      .dmac = NODE_MAC,
			      .smac = ROUTER_MAC };
	struct capstan_ct_entry e;
	struct pkt in, out;
	int port;

	port = remote_syn(&n, 40001, &out);
	check_tuple(&out, NODE, port, REMOTE_BE, BE_PORT);
	check_macs(&out, ROUTER_MAC, NODE_MAC);
	ASSERT_EQ(pkt_ip(&out)->ttl, 63);
	check_ip_csum(&out);
	check_l4_csum(&out);
	ct_entry(&n, REMOTE_BE, BE_PORT, NODE, port, IPPROTO_TCP, CAPSTAN_CT_REPLY, &e, true);
	ASSERT(e.flags & CAPSTAN_CT_F_SNAT);
	ASSERT_EQ(e.client_addr, ip(CLIENT));
	ASSERT_EQ(e.client_port, htons(40001));

	/* The backend's SYN-ACK comes back to the node and goes on to the client. */
	reply.dport = port;
	in = build(&reply);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_REDIRECT);
	check_tuple(&out, NODE, NP_REMOTE_PORT, CLIENT, 40001);
	check_macs(&out, CLIENT_MAC, NODE_MAC);
	ASSERT_EQ(pkt_ip(&out)->ttl, 63);
	check_ip_csum(&out);
	check_l4_csum(&out);

	/* A second client flow gets another SNAT port. */
	ASSERT_NE(remote_syn(&n, 40002, &out), port);
	ASSERT_EQ(svc_counters(&n, REV_REMOTE).flows, 2);
	ASSERT_EQ(be_counters(&n, BE_REMOTE).flows, 2);
	assert_drops_only(&n, CAPSTAN_DROP_NONE, 0);
}

TEST(nodeport_tcp_rst_closes_and_syn_starts_a_new_flow)
{
	struct node n = setup();
	struct spec rst = { .src = CLIENT,
			    .dst = NODE,
			    .sport = 40003,
			    .dport = NP_LOCAL_PORT,
			    .proto = IPPROTO_TCP,
			    .tcp_flags = 0x14,
			    .seq = 2 };
	struct spec syn = rst;
	struct capstan_ct_entry e;
	struct pkt in, out;

	syn.tcp_flags = 0x02;
	in = build(&syn);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_UNSPEC);
	in = build(&rst);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_UNSPEC);
	check_tuple(&out, CLIENT, 40003, LOCAL_BE, BE_PORT); /* the RST itself is translated */
	ct_entry(&n, CLIENT, 40003, NODE, NP_LOCAL_PORT, IPPROTO_TCP, CAPSTAN_CT_FORWARD, &e, true);
	ASSERT(e.flags & CAPSTAN_CT_F_CLOSING);
	ct_entry(&n, LOCAL_BE, BE_PORT, CLIENT, 40003, IPPROTO_TCP, CAPSTAN_CT_REPLY, &e, true);
	ASSERT(e.flags & CAPSTAN_CT_F_CLOSING);
	ASSERT_EQ(svc_counters(&n, REV_LOCAL).flows, 1);

	/* A SYN on the closed tuple is a new flow. */
	in = build(&syn);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_UNSPEC);
	ASSERT_EQ(svc_counters(&n, REV_LOCAL).flows, 2);
	ct_entry(&n, CLIENT, 40003, NODE, NP_LOCAL_PORT, IPPROTO_TCP, CAPSTAN_CT_FORWARD, &e, true);
	ASSERT_EQ(e.flags & CAPSTAN_CT_F_CLOSING, 0);
}

TEST(nodeport_conntrack_pins_flows_while_maglev_picks_new_ones)
{
	struct node n = setup();
	const __u32 only2[] = { BE_REMOTE2 };
	struct pkt out;
	int hits[2] = { 0, 0 }, first_be[64];

	/* 64 flows over a table naming two backends: both are used. */
	put_frontend(&n, NODE, NP_REMOTE_PORT, IPPROTO_TCP, REV_REMOTE, CAPSTAN_SVC_F_NODEPORT,
		     ids_two_remote, 2);
	put_maglev(&n, REV_REMOTE, ids_two_remote, 2);
	for (int i = 0; i < 64; i++) {
		remote_syn(&n, 41000 + i, &out);
		first_be[i] = pkt_ip(&out)->daddr == ip(REMOTE_BE) ? 0 : 1;
		hits[first_be[i]]++;
	}
	ASSERT_MSG(hits[0] > 8 && hits[1] > 8, "split %d/%d", hits[0], hits[1]);

	/* The table now names only backend 2: old flows stay, new ones follow it. */
	put_maglev(&n, REV_REMOTE, only2, 1);
	for (int i = 0; i < 64; i++) {
		remote_syn(&n, 41000 + i, &out);
		ASSERT_EQ(pkt_ip(&out)->daddr, ip(first_be[i] ? REMOTE_BE2 : REMOTE_BE));
	}
	for (int i = 0; i < 16; i++) {
		remote_syn(&n, 42000 + i, &out);
		ASSERT_EQ(pkt_ip(&out)->daddr, ip(REMOTE_BE2));
	}
	ASSERT_EQ(svc_counters(&n, REV_REMOTE).flows, 64 + 16);
}

TEST(nodeport_affinity_keeps_a_client_on_one_backend)
{
	struct node n = setup();
	struct spec syn = { .src = CLIENT,
			    .dst = NODE,
			    .dport = NP_AFF_PORT,
			    .proto = IPPROTO_TCP,
			    .tcp_flags = 0x02,
			    .seq = 1 };
	__be32 first = 0;
	struct pkt in, out;

	for (int i = 0; i < 32; i++) {
		syn.sport = 43000 + i;
		in = build(&syn);
		ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_REDIRECT);
		if (i == 0)
			first = pkt_ip(&out)->daddr;
		ASSERT_EQ(pkt_ip(&out)->daddr, first);
	}
	ASSERT_EQ(svc_counters(&n, REV_AFF).flows, 32);
}

/* ---------------------------------------------------------------- UDP */

TEST(nodeport_udp_translated_with_and_without_checksum)
{
	struct node n = setup();
	struct spec dg = { .src = CLIENT,
			   .dst = NODE,
			   .sport = 5000,
			   .dport = NP_UDP_PORT,
			   .proto = IPPROTO_UDP,
			   .payload = 21 };
	struct spec reply = { .src = LOCAL_UDP_BE,
			      .dst = CLIENT,
			      .sport = UDP_BE_PORT,
			      .dport = 5000,
			      .proto = IPPROTO_UDP,
			      .payload = 9 };
	struct pkt in, out;

	in = build(&dg);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_UNSPEC);
	check_tuple(&out, CLIENT, 5000, LOCAL_UDP_BE, UDP_BE_PORT);
	ASSERT_NE(get16(pkt_l4(&out) + 6), 0);
	check_ip_csum(&out);
	check_l4_csum(&out);

	in = build(&reply);
	ASSERT_EQ(run_tc(&n, n.out, &in, &out), TC_ACT_UNSPEC);
	check_tuple(&out, NODE, NP_UDP_PORT, CLIENT, 5000);
	check_ip_csum(&out);
	check_l4_csum(&out);

	/* A datagram without a checksum keeps none. */
	dg.sport = 5001;
	dg.no_udp_csum = true;
	in = build(&dg);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_UNSPEC);
	check_tuple(&out, CLIENT, 5001, LOCAL_UDP_BE, UDP_BE_PORT);
	ASSERT_EQ(get16(pkt_l4(&out) + 6), 0);
	check_ip_csum(&out);
	ASSERT_EQ(svc_counters(&n, REV_UDP).flows, 2);
	assert_drops_only(&n, CAPSTAN_DROP_NONE, 0);
}

TEST(nodeport_udp_fragments_follow_the_first)
{
	struct node n = setup();
	struct spec dg = { .src = CLIENT,
			   .dst = NODE,
			   .sport = 5002,
			   .dport = NP_UDP_PORT,
			   .proto = IPPROTO_UDP,
			   .payload = 64,
			   .id = 0x4242 };
	struct pkt whole = build(&dg), f1, f2, out1, out2, orphan, out;
	__u8 joined[8 + 64];
	struct iphdr *iph;

	/* Split the datagram: header + 32 bytes (MF), then 32 bytes at offset 40. */
	f1 = whole;
	iph = pkt_ip(&f1);
	iph->tot_len = htons(20 + 40);
	iph->frag_off = htons(0x2000);
	iph->check = 0;
	iph->check = htons(csum(iph, 20, 0));
	f1.len = ETH_HLEN + 20 + 40;
	f2 = whole;
	iph = pkt_ip(&f2);
	iph->tot_len = htons(20 + 32);
	iph->frag_off = htons(40 / 8);
	iph->check = 0;
	iph->check = htons(csum(iph, 20, 0));
	memmove(f2.b + ETH_HLEN + 20, whole.b + ETH_HLEN + 20 + 40, 32);
	f2.len = ETH_HLEN + 20 + 32;

	ASSERT_EQ(run_tc(&n, n.in, &f1, &out1), TC_ACT_UNSPEC);
	check_tuple(&out1, CLIENT, 5002, LOCAL_UDP_BE, UDP_BE_PORT);
	check_ip_csum(&out1);
	ASSERT_EQ(run_tc(&n, n.in, &f2, &out2), TC_ACT_UNSPEC);
	check_tuple(&out2, CLIENT, -1, LOCAL_UDP_BE, -1);
	check_ip_csum(&out2);
	ASSERT_MSG(memcmp(out2.b + ETH_HLEN + 20, whole.b + ETH_HLEN + 20 + 40, 32) == 0,
		   "a later fragment's payload changed");

	/* Reassembled, the datagram's checksum holds for the new addresses. */
	memcpy(joined, out1.b + ETH_HLEN + 20, 40);
	memcpy(joined + 40, out2.b + ETH_HLEN + 20, 32);
	ASSERT_EQ(csum(joined, sizeof(joined),
		       pseudo_sum(ip(CLIENT), ip(LOCAL_UDP_BE), IPPROTO_UDP, sizeof(joined))),
		  0);

	/* A later fragment whose first was never seen: the node's own traffic passes... */
	orphan = f2;
	pkt_ip(&orphan)->id = htons(0x4343);
	pkt_ip(&orphan)->check = 0;
	pkt_ip(&orphan)->check = htons(csum(pkt_ip(&orphan), 20, 0));
	ASSERT_EQ(run_tc(&n, n.in, &orphan, &out), TC_ACT_UNSPEC);
	check_untouched(&orphan, &out);
	assert_drops_only(&n, CAPSTAN_DROP_NONE, 0);
	/* ...one to an external service address is dropped and counted. */
	pkt_ip(&orphan)->daddr = ip(EXT_IP);
	pkt_ip(&orphan)->protocol = IPPROTO_TCP;
	pkt_ip(&orphan)->check = 0;
	pkt_ip(&orphan)->check = htons(csum(pkt_ip(&orphan), 20, 0));
	ASSERT_EQ(run_tc(&n, n.in, &orphan, &out), TC_ACT_SHOT);
	assert_drops_only(&n, CAPSTAN_DROP_FRAG_NO_FLOW, 1);

	/* XDP leaves fragments to tc. */
	ASSERT_EQ(run_xdp(&n, &f1, &out), XDP_PASS);
	check_untouched(&f1, &out);
}

/* ---------------------------------------------------------------- ICMP */

TEST(nodeport_icmp_echo_is_untouched)
{
	struct node n = setup();
	struct spec s = { .src = CLIENT, .dst = NODE };
	struct pkt in, out;
	__u8 *icmp;

	memset(&in, 0, sizeof(in));
	icmp = in.b + ETH_HLEN + 20;
	icmp[0] = 8;			/* echo request */
	put16(icmp + 4, NP_LOCAL_PORT); /* an id that equals a NodePort changes nothing */
	put16(icmp + 6, 1);
	put16(icmp + 2, csum(icmp, 16, 0));
	build_eth_ip(&in, &s, IPPROTO_ICMP, 16);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_UNSPEC);
	check_untouched(&in, &out);
	ASSERT_EQ(run_tc(&n, n.out, &in, &out), TC_ACT_UNSPEC);
	check_untouched(&in, &out);
	ASSERT_EQ(run_xdp(&n, &in, &out), XDP_PASS);
	check_untouched(&in, &out);
	assert_drops_only(&n, CAPSTAN_DROP_NONE, 0);
}

/* The ICMP message's checksum and its quote's IP and L4 checksums. */
static void check_icmp_error(struct pkt *p, __u32 quote_l4len)
{
	struct iphdr *iph = pkt_ip(p), *inner;
	__u32 icmp_len = ntohs(iph->tot_len) - 20;
	__u8 *icmp = pkt_l4(p), *l4;

	check_ip_csum(p);
	ASSERT_MSG(csum(icmp, icmp_len, 0) == 0, "ICMP checksum is wrong");
	inner = (struct iphdr *)(icmp + 8);
	ASSERT_MSG(csum(inner, 20, 0) == 0, "quoted IPv4 header checksum is wrong");
	l4 = icmp + 8 + 20;
	ASSERT_MSG(csum(l4, quote_l4len,
			pseudo_sum(inner->saddr, inner->daddr, inner->protocol, quote_l4len)) == 0,
		   "quoted L4 checksum is wrong");
}

static void check_quote(struct pkt *p, const char *src, int sport, const char *dst, int dport)
{
	struct iphdr *inner = (struct iphdr *)(pkt_l4(p) + 8);
	__u8 *l4 = pkt_l4(p) + 8 + 20;
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &inner->saddr, a, sizeof(a));
	inet_ntop(AF_INET, &inner->daddr, b, sizeof(b));
	ASSERT_STREQ(a, src);
	ASSERT_STREQ(b, dst);
	ASSERT_EQ(get16(l4), sport);
	ASSERT_EQ(get16(l4 + 2), dport);
}

TEST(nodeport_icmp_error_from_a_local_backend)
{
	struct node n = setup();
	struct spec dg = { .src = CLIENT,
			   .dst = NODE,
			   .sport = 5003,
			   .dport = NP_UDP_PORT,
			   .proto = IPPROTO_UDP,
			   .payload = 12 };
	struct spec delivered = dg;
	struct pkt in, out, quoted, err;

	in = build(&dg);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_UNSPEC);

	/* The backend's port unreachable quotes what it got: client -> backend. */
	delivered.dst = LOCAL_UDP_BE;
	delivered.dport = UDP_BE_PORT;
	quoted = build(&delivered);
	err = build_icmp_error(LOCAL_UDP_BE, CLIENT, 3, 3, &quoted, 20 + 8 + 12, NODE_MAC);
	ASSERT_EQ(run_tc(&n, n.out, &err, &out), TC_ACT_UNSPEC);
	check_tuple(&out, NODE, -1, CLIENT, -1);
	check_quote(&out, CLIENT, 5003, NODE, NP_UDP_PORT);
	check_icmp_error(&out, 8 + 12);
	/* The quote is now exactly what the client sent. */
	ASSERT_MSG(memcmp(pkt_l4(&out) + 8, in.b + ETH_HLEN, 20 + 8 + 12) == 0,
		   "quote differs from the client's datagram");
	assert_drops_only(&n, CAPSTAN_DROP_NONE, 0);
}

TEST(nodeport_icmp_errors_about_snat_flows_reach_both_ends)
{
	struct node n = setup();
	struct spec sent = { .src = NODE,
			     .dst = REMOTE_BE,
			     .dport = BE_PORT,
			     .proto = IPPROTO_TCP,
			     .tcp_flags = 0x02,
			     .seq = 1 };
	struct spec client_sent = { .src = CLIENT,
				    .dst = NODE,
				    .sport = 40010,
				    .dport = NP_REMOTE_PORT,
				    .proto = IPPROTO_TCP,
				    .tcp_flags = 0x02,
				    .seq = 1 };
	struct spec replied = { .src = NODE,
				.dst = CLIENT,
				.sport = NP_REMOTE_PORT,
				.dport = 40010,
				.proto = IPPROTO_TCP,
				.tcp_flags = 0x12,
				.seq = 5 };
	struct pkt out, quoted, err, orig;
	int port = remote_syn(&n, 40010, &out);

	/* A router towards the backend: fragmentation needed, about node -> backend. */
	sent.sport = port;
	quoted = build(&sent);
	err = build_icmp_error(ROUTER, NODE, 3, 4, &quoted, 40, ROUTER_MAC);
	ASSERT_EQ(run_tc(&n, n.in, &err, &out), TC_ACT_REDIRECT);
	check_tuple(&out, ROUTER, -1, CLIENT, -1);
	check_macs(&out, CLIENT_MAC, NODE_MAC);
	check_quote(&out, CLIENT, 40010, NODE, NP_REMOTE_PORT);
	check_icmp_error(&out, 20);
	orig = build(&client_sent);
	ASSERT_MSG(memcmp(pkt_l4(&out) + 8 + 20, orig.b + ETH_HLEN + 20, 20) == 0,
		   "quoted TCP header differs from the client's");

	/* The backend itself: its address is replaced by the frontend's. */
	err = build_icmp_error(REMOTE_BE, NODE, 3, 3, &quoted, 28, ROUTER_MAC);
	ASSERT_EQ(run_tc(&n, n.in, &err, &out), TC_ACT_REDIRECT);
	check_tuple(&out, NODE, -1, CLIENT, -1);
	check_quote(&out, CLIENT, 40010, NODE, NP_REMOTE_PORT);
	check_ip_csum(&out);
	ASSERT_EQ(csum(pkt_l4(&out), 8 + 28, 0), 0);

	/* The client, about a reply it got from the NodePort: goes to the backend. */
	quoted = build(&replied);
	err = build_icmp_error(CLIENT, NODE, 3, 3, &quoted, 40, CLIENT_MAC);
	ASSERT_EQ(run_tc(&n, n.in, &err, &out), TC_ACT_REDIRECT);
	check_tuple(&out, NODE, -1, REMOTE_BE, -1);
	check_macs(&out, ROUTER_MAC, NODE_MAC);
	check_quote(&out, REMOTE_BE, BE_PORT, NODE, port);
	check_icmp_error(&out, 20);
	assert_drops_only(&n, CAPSTAN_DROP_NONE, 0);
}

TEST(nodeport_icmp_error_about_an_unknown_flow_is_untouched)
{
	struct node n = setup();
	struct spec sent = { .src = NODE,
			     .dst = REMOTE_BE,
			     .sport = 61234,
			     .dport = BE_PORT,
			     .proto = IPPROTO_TCP,
			     .tcp_flags = 0x02,
			     .seq = 1 };
	struct pkt quoted = build(&sent), err, out;

	err = build_icmp_error(ROUTER, NODE, 3, 4, &quoted, 40, ROUTER_MAC);
	ASSERT_EQ(run_tc(&n, n.in, &err, &out), TC_ACT_UNSPEC);
	check_untouched(&err, &out);
	assert_drops_only(&n, CAPSTAN_DROP_NONE, 0);
}

/* ---------------------------------------------------------------- refusals */

TEST(nodeport_syn_without_backend_gets_a_reset)
{
	struct node n = setup();
	struct spec syn = { .src = CLIENT,
			    .dst = EXT_IP,
			    .sport = 40020,
			    .dport = EXT_PORT,
			    .proto = IPPROTO_TCP,
			    .tcp_flags = 0x02,
			    .seq = 0x10000000,
			    .payload = 10 };
	struct pkt in = build(&syn), out;
	__u8 *tcp;

	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_REDIRECT);
	ASSERT_EQ(out.len, ETH_HLEN + 40);
	check_tuple(&out, EXT_IP, EXT_PORT, CLIENT, 40020);
	check_macs(&out, CLIENT_MAC, NODE_MAC);
	check_ip_csum(&out);
	check_l4_csum(&out);
	tcp = pkt_l4(&out);
	ASSERT_EQ(tcp[13], 0x14); /* RST | ACK */
	ASSERT_EQ(get16(tcp + 8) << 16 | get16(tcp + 10), 0x10000000 + 1 + 10);
	ASSERT_EQ(svc_counters(&n, REV_EXT).refused, 1);
	assert_drops_only(&n, CAPSTAN_DROP_NO_BACKEND, 1);

	/* Not a SYN: dropped, counted, no reset. */
	syn.tcp_flags = 0x10;
	in = build(&syn);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_SHOT);
	assert_drops_only(&n, CAPSTAN_DROP_NO_BACKEND, 2);

	/* With resets off, a SYN is dropped too. XDP leaves the refusal to tc. */
	set_config(&n, CAPSTAN_CFG_NO_RST);
	syn.tcp_flags = 0x02;
	in = build(&syn);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_SHOT);
	assert_drops_only(&n, CAPSTAN_DROP_NO_BACKEND, 3);
	ASSERT_EQ(run_xdp(&n, &in, &out), XDP_PASS);
	check_untouched(&in, &out);
}

TEST(nodeport_source_ranges_admit_only_listed_clients)
{
	struct node n = setup();
	struct spec syn = { .src = CLIENT,
			    .dst = LB_IP,
			    .sport = 40030,
			    .dport = LB_PORT,
			    .proto = IPPROTO_TCP,
			    .tcp_flags = 0x02,
			    .seq = 1 };
	struct pkt in = build(&syn), out;

	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_SHOT); /* .50 is outside /28 */
	assert_drops_only(&n, CAPSTAN_DROP_SOURCE_RANGE, 1);
	ASSERT_EQ(run_xdp(&n, &in, &out), XDP_DROP);
	assert_drops_only(&n, CAPSTAN_DROP_SOURCE_RANGE, 2);

	syn.src = CLIENT_IN_RANGE;
	in = build(&syn);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_UNSPEC);
	check_tuple(&out, CLIENT_IN_RANGE, 40030, LOCAL_BE, BE_PORT);
	check_l4_csum(&out);
	ASSERT_EQ(svc_counters(&n, REV_LB).flows, 1);
}

/* ---------------------------------------------------------------- not ours */

TEST(nodeport_other_traffic_passes_untouched)
{
	struct node n = setup();
	struct spec ssh = { .src = CLIENT,
			    .dst = NODE,
			    .sport = 40040,
			    .dport = 22,
			    .proto = IPPROTO_TCP,
			    .tcp_flags = 0x02,
			    .seq = 1 };
	struct spec udp = { .src = CLIENT,
			    .dst = NODE,
			    .sport = 40040,
			    .dport = NP_LOCAL_PORT,
			    .proto = IPPROTO_UDP,
			    .payload = 4 }; /* the TCP NodePort, over UDP */
	struct pkt in, out;

	in = build(&ssh);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_UNSPEC);
	check_untouched(&in, &out);
	ASSERT_EQ(run_xdp(&n, &in, &out), XDP_PASS);
	check_untouched(&in, &out);
	ASSERT_EQ(run_tc(&n, n.out, &in, &out), TC_ACT_UNSPEC);
	check_untouched(&in, &out);
	in = build(&udp);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_UNSPEC);
	check_untouched(&in, &out);

	/* IPv6 and ARP are not parsed at all. */
	memset(&in, 0, sizeof(in));
	memcpy(in.b, NODE_MAC, 6);
	memcpy(in.b + 6, CLIENT_MAC, 6);
	put16(in.b + 12, ETH_P_IPV6);
	in.b[14] = 0x60;
	in.len = 14 + 40 + 20;
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_UNSPEC);
	check_untouched(&in, &out);
	ASSERT_EQ(run_xdp(&n, &in, &out), XDP_PASS);
	check_untouched(&in, &out);
	put16(in.b + 12, ETH_P_ARP);
	in.len = 14 + 28;
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_UNSPEC);
	check_untouched(&in, &out);
	assert_drops_only(&n, CAPSTAN_DROP_NONE, 0);

	/* Before the agent writes the config, nothing is translated. */
	{
		struct capstan_config none = { 0 };
		__u32 key = 0;
		struct spec np = ssh;

		ASSERT_OK(bpf_map_update_elem(map_fd(n.skel->maps.capstan_cfg_v2), &key, &none,
					      BPF_ANY));
		np.dport = NP_LOCAL_PORT;
		in = build(&np);
		ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_UNSPEC);
		check_untouched(&in, &out);
		ASSERT_EQ(run_xdp(&n, &in, &out), XDP_PASS);
		check_untouched(&in, &out);
	}
}

static void fix_ip_csum(struct pkt *p)
{
	pkt_ip(p)->check = 0;
	pkt_ip(p)->check = htons(csum(pkt_ip(p), pkt_ip(p)->ihl * 4, 0));
}

TEST(nodeport_malformed_headers_are_dropped_only_for_service_addresses)
{
	struct node n = setup();
	struct spec syn = { .src = CLIENT,
			    .dst = EXT_IP,
			    .sport = 40050,
			    .dport = EXT_PORT,
			    .proto = IPPROTO_TCP,
			    .tcp_flags = 0x02,
			    .seq = 1 };
	struct pkt in, out;

	/* IHL below 5, to an external IP: dropped by tc; XDP leaves it to tc. */
	in = build(&syn);
	pkt_ip(&in)->ihl = 4;
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_SHOT);
	assert_drops_only(&n, CAPSTAN_DROP_MALFORMED, 1);
	ASSERT_EQ(run_xdp(&n, &in, &out), XDP_PASS);
	check_untouched(&in, &out);
	assert_drops_only(&n, CAPSTAN_DROP_MALFORMED, 1);
	/* The same to the node's address is the node's business. */
	pkt_ip(&in)->daddr = ip(NODE);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_UNSPEC);
	check_untouched(&in, &out);

	/* Total length shorter than the header. */
	in = build(&syn);
	pkt_ip(&in)->tot_len = htons(12);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_SHOT);
	assert_drops_only(&n, CAPSTAN_DROP_MALFORMED, 2);

	/* IPv4 header cut short: where it goes is unknown, so it passes. */
	in = build(&syn);
	in.len = ETH_HLEN + 12;
	ASSERT_EQ(run_xdp(&n, &in, &out), XDP_PASS);
	assert_drops_only(&n, CAPSTAN_DROP_MALFORMED, 2);

	/* TCP header cut short: dropped when sent to an external service address... */
	in = build(&syn);
	in.len = ETH_HLEN + 20 + 10;
	pkt_ip(&in)->tot_len = htons(30);
	fix_ip_csum(&in);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_SHOT);
	assert_drops_only(&n, CAPSTAN_DROP_MALFORMED, 3);
	/* ...but the node's own address is not ours to police. */
	pkt_ip(&in)->daddr = ip(NODE);
	fix_ip_csum(&in);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_UNSPEC);
	check_untouched(&in, &out);
	assert_drops_only(&n, CAPSTAN_DROP_MALFORMED, 3);
}

TEST(nodeport_big_tcp_length_zero_is_not_malformed)
{
	struct node n = setup();
	struct spec ack = { .src = CLIENT,
			    .dst = NODE,
			    .sport = 40051,
			    .dport = 22,
			    .proto = IPPROTO_TCP,
			    .tcp_flags = 0x10,
			    .seq = 1,
			    .payload = 100 };
	struct pkt in = build(&ack), out;

	/* IPv4 BIG TCP: tot_len 0, the length is the packet's. */
	pkt_ip(&in)->tot_len = 0;
	fix_ip_csum(&in);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_UNSPEC);
	check_untouched(&in, &out);
	ack.dport = NP_LOCAL_PORT;
	in = build(&ack);
	pkt_ip(&in)->tot_len = 0;
	fix_ip_csum(&in);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_UNSPEC);
	check_tuple(&out, CLIENT, 40051, LOCAL_BE, BE_PORT);
	ASSERT_EQ(svc_counters(&n, REV_LOCAL).bytes, 20 + 20 + 100);
	assert_drops_only(&n, CAPSTAN_DROP_NONE, 0);
}

TEST(nodeport_reset_that_cannot_be_built_drops_the_syn)
{
	struct node n = setup();
	struct spec syn = { .src = CLIENT,
			    .dst = EXT_IP,
			    .sport = 40052,
			    .dport = EXT_PORT,
			    .proto = IPPROTO_TCP,
			    .tcp_flags = 0x02,
			    .seq = 1 };
	struct pkt in, out;
	__u8 *ip_hdr;

	/* A SYN with 4 bytes of IP options (NOPs): the reset builder does not do options. */
	in = build(&syn);
	ip_hdr = in.b + ETH_HLEN;
	memmove(ip_hdr + 24, ip_hdr + 20, in.len - ETH_HLEN - 20);
	memset(ip_hdr + 20, 1, 4);
	in.len += 4;
	pkt_ip(&in)->ihl = 6;
	pkt_ip(&in)->tot_len = htons(ntohs(pkt_ip(&in)->tot_len) + 4);
	fix_ip_csum(&in);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_SHOT);
	ASSERT_EQ(drops(&n, CAPSTAN_DROP_NO_BACKEND), 1);
	ASSERT_EQ(drops(&n, CAPSTAN_DROP_MALFORMED), 1);
}

/* ---------------------------------------------------------------- XDP */

TEST(nodeport_xdp_forwards_to_a_remote_backend_and_back)
{
	struct node n = setup();
	struct spec syn = { .src = CLIENT,
			    .dst = NODE,
			    .sport = 40060,
			    .dport = NP_REMOTE_PORT,
			    .proto = IPPROTO_TCP,
			    .tcp_flags = 0x02,
			    .seq = 1 };
	struct spec reply = { .src = REMOTE_BE,
			      .dst = NODE,
			      .sport = BE_PORT,
			      .proto = IPPROTO_TCP,
			      .tcp_flags = 0x12,
			      .seq = 9,
			      .payload = 5,
			      .dmac = NODE_MAC,
			      .smac = ROUTER_MAC };
	struct pkt in = build(&syn), out, tc_out;
	int port;

	/* The router is on the ingress link: the packet goes back out of it. */
	ASSERT_EQ(run_xdp(&n, &in, &out), XDP_TX);
	port = get16(pkt_l4(&out));
	ASSERT(port >= CAPSTAN_SNAT_PORT_MIN);
	check_tuple(&out, NODE, port, REMOTE_BE, BE_PORT);
	check_macs(&out, ROUTER_MAC, NODE_MAC);
	ASSERT_EQ(pkt_ip(&out)->ttl, 63);
	check_ip_csum(&out);
	check_l4_csum(&out);

	/* tc agrees with XDP about the established flow. */
	ASSERT_EQ(run_tc(&n, n.in, &in, &tc_out), TC_ACT_REDIRECT);
	ASSERT_EQ(tc_out.len, out.len);
	ASSERT_MSG(memcmp(tc_out.b, out.b, out.len) == 0, "tc and XDP rewrote differently");

	reply.dport = port;
	in = build(&reply);
	ASSERT_EQ(run_xdp(&n, &in, &out), XDP_TX);
	check_tuple(&out, NODE, NP_REMOTE_PORT, CLIENT, 40060);
	check_macs(&out, CLIENT_MAC, NODE_MAC);
	check_ip_csum(&out);
	check_l4_csum(&out);
	ASSERT_EQ(svc_counters(&n, REV_REMOTE).flows, 1);
	ASSERT_EQ(svc_counters(&n, REV_REMOTE).packets, 3);
	assert_drops_only(&n, CAPSTAN_DROP_NONE, 0);
}

TEST(nodeport_xdp_local_backend_is_passed_translated)
{
	struct node n = setup();
	struct spec dg = { .src = CLIENT,
			   .dst = NODE,
			   .sport = 5010,
			   .dport = NP_UDP_PORT,
			   .proto = IPPROTO_UDP,
			   .payload = 30 };
	struct pkt in = build(&dg), out;

	ASSERT_EQ(run_xdp(&n, &in, &out), XDP_PASS);
	check_tuple(&out, CLIENT, 5010, LOCAL_UDP_BE, UDP_BE_PORT);
	check_ip_csum(&out);
	check_l4_csum(&out);
	ASSERT_EQ(pkt_ip(&out)->ttl, 64);
	ASSERT_EQ(svc_counters(&n, REV_UDP).flows, 1);
}

/* ---------------------------------------------------------------- events */

struct seen_events {
	struct capstan_event ev[4];
	int n;
};

static int on_event(void *ctx, void *data, size_t len)
{
	struct seen_events *s = ctx;

	if (len >= sizeof(struct capstan_event) && s->n < 4)
		memcpy(&s->ev[s->n++], data, sizeof(struct capstan_event));
	return 0;
}

TEST(nodeport_events_name_the_client_hook_and_backend)
{
	struct node n = setup();
	struct spec syn = { .src = CLIENT,
			    .dst = NODE,
			    .sport = 40070,
			    .dport = NP_LOCAL_PORT,
			    .proto = IPPROTO_TCP,
			    .tcp_flags = 0x02,
			    .seq = 1 };
	struct spec refused = { .src = CLIENT,
				.dst = LB_IP,
				.sport = 40071,
				.dport = LB_PORT,
				.proto = IPPROTO_TCP,
				.tcp_flags = 0x02,
				.seq = 1 };
	struct seen_events seen = { .n = 0 };
	struct ring_buffer *rb;
	struct pkt in, out;

	set_config(&n, CAPSTAN_CFG_EVENTS);
	rb = ring_buffer__new(map_fd(n.skel->maps.capstan_evt_v2), on_event, &seen, NULL);
	ASSERT_NOT_NULL(rb);
	in = build(&syn);
	ASSERT_EQ(run_xdp(&n, &in, &out), XDP_PASS);	       /* a new flow: one event */
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_UNSPEC); /* established: none */
	in = build(&refused);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_SHOT);
	ASSERT(ring_buffer__consume(rb) >= 0);
	ring_buffer__free(rb);

	ASSERT_EQ(seen.n, 2);
	ASSERT_EQ(seen.ev[0].hook, CAPSTAN_HOOK_XDP);
	ASSERT_EQ(seen.ev[0].drop, 0);
	ASSERT_EQ(seen.ev[0].rev_nat_id, REV_LOCAL);
	ASSERT_EQ(seen.ev[0].backend_id, BE_LOCAL);
	ASSERT_EQ(seen.ev[0].be_addr, ip(LOCAL_BE));
	ASSERT_EQ(seen.ev[0].svc_addr, ip(NODE));
	ASSERT_EQ(seen.ev[0].client_addr, ip(CLIENT));
	ASSERT_EQ(seen.ev[0].client_port, htons(40070));
	ASSERT_EQ(seen.ev[1].hook, CAPSTAN_HOOK_TC_INGRESS);
	ASSERT_EQ(seen.ev[1].drop, CAPSTAN_DROP_SOURCE_RANGE);
	ASSERT_EQ(seen.ev[1].backend_id, 0);
}

/* ---------------------------------------------------------------- TCP state */

TEST(nodeport_tcp_state_unanswered_established_and_closing)
{
	struct node n = setup();
	struct spec data = { .src = CLIENT,
			     .dst = NODE,
			     .sport = 40080,
			     .dport = NP_REMOTE_PORT,
			     .proto = IPPROTO_TCP,
			     .tcp_flags = 0x10,
			     .seq = 2 };
	struct spec reply = { .src = REMOTE_BE,
			      .dst = NODE,
			      .sport = BE_PORT,
			      .proto = IPPROTO_TCP,
			      .tcp_flags = 0x12,
			      .seq = 9,
			      .dmac = NODE_MAC,
			      .smac = ROUTER_MAC };
	struct capstan_ct_entry e;
	struct pkt in, out;
	int port = remote_syn(&n, 40080, &out);
	__u8 st;

	/* Nobody answered yet: short-lived. */
	ct_entry(&n, CLIENT, 40080, NODE, NP_REMOTE_PORT, IPPROTO_TCP, CAPSTAN_CT_FORWARD, &e,
		 true);
	ASSERT_EQ(e.flags & CAPSTAN_CT_F_ESTABLISHED, 0);
	ct_entry(&n, REMOTE_BE, BE_PORT, NODE, port, IPPROTO_TCP, CAPSTAN_CT_REPLY, &e, true);
	ASSERT_EQ(e.flags & CAPSTAN_CT_F_ESTABLISHED, 0);

	/*
	 * The backend answers: REPLY knows. FORWARD learns it with the first
	 * packet due for its once-a-second refresh, not before (a plain data
	 * packet within the second does not look at REPLY).
	 */
	reply.dport = port;
	in = build(&reply);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_REDIRECT);
	ct_entry(&n, REMOTE_BE, BE_PORT, NODE, port, IPPROTO_TCP, CAPSTAN_CT_REPLY, &e, true);
	ASSERT(e.flags & CAPSTAN_CT_F_ESTABLISHED);
	in = build(&data);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_REDIRECT);
	ct_entry(&n, CLIENT, 40080, NODE, NP_REMOTE_PORT, IPPROTO_TCP, CAPSTAN_CT_FORWARD, &e,
		 true);
	ASSERT_EQ(e.flags & CAPSTAN_CT_F_ESTABLISHED, 0);
	age_forward(&n, 40080, NP_REMOTE_PORT, IPPROTO_TCP);
	in = build(&data);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_REDIRECT);
	ct_entry(&n, CLIENT, 40080, NODE, NP_REMOTE_PORT, IPPROTO_TCP, CAPSTAN_CT_FORWARD, &e,
		 true);
	ASSERT(e.flags & CAPSTAN_CT_F_ESTABLISHED);

	/* Half close from the client: not closing yet; the backend's FIN closes it. */
	data.tcp_flags = 0x11;
	in = build(&data);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_REDIRECT);
	ct_entry(&n, CLIENT, 40080, NODE, NP_REMOTE_PORT, IPPROTO_TCP, CAPSTAN_CT_FORWARD, &e,
		 true);
	st = e.flags;
	ASSERT(st & CAPSTAN_CT_F_FIN_CLIENT);
	ASSERT_EQ(st & CAPSTAN_CT_F_CLOSING, 0);
	reply.tcp_flags = 0x11;
	in = build(&reply);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_REDIRECT);
	ct_entry(&n, REMOTE_BE, BE_PORT, NODE, port, IPPROTO_TCP, CAPSTAN_CT_REPLY, &e, true);
	ASSERT(e.flags & CAPSTAN_CT_F_CLOSING);
}

TEST(nodeport_snat_flow_that_lost_its_reply_entry_takes_a_new_port)
{
	struct node n = setup();
	struct spec data = { .src = CLIENT,
			     .dst = NODE,
			     .sport = 40090,
			     .dport = NP_REMOTE_PORT,
			     .proto = IPPROTO_TCP,
			     .tcp_flags = 0x10,
			     .seq = 2 };
	struct capstan_ct_key k;
	struct pkt in, out;
	int port = remote_syn(&n, 40090, &out), again;

	/* The REPLY entry is gone (LRU eviction): the port may be someone else's now. */
	k = ct_key(REMOTE_BE, BE_PORT, NODE, port, IPPROTO_TCP, CAPSTAN_CT_REPLY);
	ASSERT_OK(bpf_map_delete_elem(map_fd(n.skel->maps.capstan_ct_v1), &k));
	/* Noticed at the flow's next check: its once-a-second refresh (or a SYN, FIN, RST). */
	age_forward(&n, 40090, NP_REMOTE_PORT, IPPROTO_TCP);
	in = build(&data);
	ASSERT_EQ(run_tc(&n, n.in, &in, &out), TC_ACT_REDIRECT);
	again = get16(pkt_l4(&out));
	ASSERT_EQ(svc_counters(&n, REV_REMOTE).flows, 2); /* a new flow */
	ASSERT_OK(bpf_map_lookup_elem(map_fd(n.skel->maps.capstan_ct_v1),
				      &(struct capstan_ct_key){ .saddr = ip(REMOTE_BE),
								.daddr = ip(NODE),
								.sport = htons(BE_PORT),
								.dport = htons(again),
								.proto = IPPROTO_TCP,
								.dir = CAPSTAN_CT_REPLY },
				      &(struct capstan_ct_entry){ 0 }));
}
