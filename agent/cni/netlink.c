/*
 * netlink.c - see netlink.h.
 *
 * libnl objects are reference counted: setters that take an nl_addr take
 * their own reference, so every nl_addr built here is put right after it is
 * handed over, and each function releases its objects at its one exit.
 * Queries dump the whole table into a libnl cache and search it; the tables
 * a CNI call looks at (one pod's namespace, one node's routes) are small.
 */
#include "agent/cni/netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

/* libnl's NLE_* codes back to errno values, so callers can use strerror(). */
static int nl_to_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case 0:
		return 0;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:
		return -ENODEV;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_PERM:
		return -EPERM;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_NOADDR:
		return -EADDRNOTAVAIL;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	case NLE_INTR:
		return -EINTR;
	default:
		return -EIO;
	}
}

/* An AF_INET nl_addr for addr/prefix; NULL when libnl cannot allocate. */
static struct nl_addr *addr_build(uint32_t addr, unsigned prefix)
{
	uint32_t be = htonl(addr);
	struct nl_addr *a = nl_addr_build(AF_INET, &be, sizeof(be));

	if (a)
		nl_addr_set_prefixlen(a, (int)prefix);
	return a;
}

static void addr_put(struct nl_addr *a)
{
	if (a)
		nl_addr_put(a);
}

/* Is a (possibly NULL) the IPv4 address v? */
static bool addr_is(struct nl_addr *a, uint32_t v)
{
	uint32_t be = htonl(v);

	return a && nl_addr_get_family(a) == AF_INET && nl_addr_get_len(a) == sizeof(be) &&
	       memcmp(nl_addr_get_binary_addr(a), &be, sizeof(be)) == 0;
}

static int sock_connect(struct nl_sock **out)
{
	struct nl_sock *sk = nl_socket_alloc();
	int ret;

	if (!sk)
		return -ENOMEM;
	ret = nl_to_errno(nl_connect(sk, NETLINK_ROUTE));
	if (ret < 0) {
		nl_socket_free(sk);
		return ret;
	}
	*out = sk;
	return 0;
}

struct open_ctx {
	int netns_fd;
	struct nl_sock *sk;
	int ret;
};

/* Runs on its own thread: the setns() dies with the thread. */
static void *open_in_netns(void *arg)
{
	struct open_ctx *ctx = arg;

	if (setns(ctx->netns_fd, CLONE_NEWNET) < 0) {
		ctx->ret = -errno;
		return NULL;
	}
	ctx->ret = sock_connect(&ctx->sk);
	return NULL;
}

int cni_nl_open(int netns_fd, struct nl_sock **out)
{
	struct open_ctx ctx = { .netns_fd = netns_fd, .ret = -EIO };
	pthread_t t;
	int ret;

	if (netns_fd < 0)
		return sock_connect(out);
	ret = pthread_create(&t, NULL, open_in_netns, &ctx);
	if (ret)
		return -ret;
	pthread_join(t, NULL);
	if (ctx.ret < 0)
		return ctx.ret;
	*out = ctx.sk;
	return 0;
}

void cni_nl_close(struct nl_sock *sk)
{
	if (sk)
		nl_socket_free(sk);
}

int cni_nl_link_get(struct nl_sock *sk, const char *name, struct cni_nl_link *out)
{
	struct rtnl_link *link = NULL;
	struct nl_addr *mac;
	const char *s;
	int ret;

	ret = nl_to_errno(rtnl_link_get_kernel(sk, 0, name, &link));
	if (ret < 0)
		return ret;
	memset(out, 0, sizeof(*out));
	out->ifindex = rtnl_link_get_ifindex(link);
	out->flags = rtnl_link_get_flags(link);
	out->mtu = rtnl_link_get_mtu(link);
	mac = rtnl_link_get_addr(link);
	if (mac && nl_addr_get_len(mac) == 6) {
		const unsigned char *b = nl_addr_get_binary_addr(mac);

		snprintf(out->mac, sizeof(out->mac), "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1],
			 b[2], b[3], b[4], b[5]);
	}
	s = rtnl_link_get_ifalias(link);
	snprintf(out->alias, sizeof(out->alias), "%s", s ? s : "");
	s = rtnl_link_get_type(link);
	snprintf(out->kind, sizeof(out->kind), "%s", s ? s : "");
	rtnl_link_put(link);
	return 0;
}

int cni_nl_link_del(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *link = rtnl_link_alloc();
	int ret;

	if (!link)
		return -ENOMEM;
	rtnl_link_set_name(link, name);
	ret = nl_to_errno(rtnl_link_delete(sk, link));
	rtnl_link_put(link);
	return ret;
}

/* Apply the attributes set in change to ifindex. */
static int link_change(struct nl_sock *sk, int ifindex, struct rtnl_link *change)
{
	struct rtnl_link *orig = rtnl_link_alloc();
	int ret;

	if (!orig)
		return -ENOMEM;
	rtnl_link_set_ifindex(orig, ifindex);
	ret = nl_to_errno(rtnl_link_change(sk, orig, change, 0));
	rtnl_link_put(orig);
	return ret;
}

int cni_nl_link_up(struct nl_sock *sk, int ifindex)
{
	struct rtnl_link *change = rtnl_link_alloc();
	int ret;

	if (!change)
		return -ENOMEM;
	rtnl_link_set_flags(change, IFF_UP);
	ret = link_change(sk, ifindex, change);
	rtnl_link_put(change);
	return ret;
}

int cni_nl_link_set_alias(struct nl_sock *sk, int ifindex, const char *alias)
{
	struct rtnl_link *change = rtnl_link_alloc();
	int ret;

	if (!change)
		return -ENOMEM;
	rtnl_link_set_ifalias(change, alias);
	ret = link_change(sk, ifindex, change);
	rtnl_link_put(change);
	return ret;
}

int cni_nl_veth_add(struct nl_sock *sk, const char *name, int peer_netns_fd, const char *peer_name,
		    int mtu)
{
	struct rtnl_link *link = rtnl_link_veth_alloc(), *peer;
	int ret;

	if (!link)
		return -ENOMEM;
	peer = rtnl_link_veth_get_peer(link);
	rtnl_link_set_name(link, name);
	rtnl_link_set_mtu(link, (unsigned)mtu);
	rtnl_link_set_name(peer, peer_name);
	rtnl_link_set_mtu(peer, (unsigned)mtu);
	/* The kernel creates the peer in that namespace and checks its name
	 * there: "eth0" may exist on the node, never in a fresh sandbox. */
	rtnl_link_set_ns_fd(peer, peer_netns_fd);
	ret = nl_to_errno(rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL));
	rtnl_link_put(peer);
	rtnl_link_veth_release(link);
	return ret;
}

int cni_nl_addr_add(struct nl_sock *sk, int ifindex, uint32_t addr, unsigned prefix)
{
	struct rtnl_addr *a = rtnl_addr_alloc();
	struct nl_addr *local = addr_build(addr, prefix);
	int ret = -ENOMEM;

	if (!a || !local)
		goto out;
	rtnl_addr_set_ifindex(a, ifindex);
	ret = nl_to_errno(rtnl_addr_set_local(a, local));
	if (ret == 0)
		ret = nl_to_errno(rtnl_addr_add(sk, a, 0));
out:
	addr_put(local);
	if (a)
		rtnl_addr_put(a);
	return ret;
}

int cni_nl_addr_has(struct nl_sock *sk, int ifindex, uint32_t addr, unsigned prefix)
{
	struct nl_cache *cache = NULL;
	struct nl_object *obj;
	int ret;

	ret = nl_to_errno(rtnl_addr_alloc_cache(sk, &cache));
	if (ret < 0)
		return ret;
	for (obj = nl_cache_get_first(cache); obj && !ret; obj = nl_cache_get_next(obj)) {
		struct rtnl_addr *a = (struct rtnl_addr *)obj;

		ret = rtnl_addr_get_family(a) == AF_INET && rtnl_addr_get_ifindex(a) == ifindex &&
		      rtnl_addr_get_prefixlen(a) == (int)prefix &&
		      addr_is(rtnl_addr_get_local(a), addr);
	}
	nl_cache_free(cache);
	return ret;
}

int cni_nl_route_replace(struct nl_sock *sk, const struct cni_nl_route *r)
{
	struct rtnl_route *route = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *dst = addr_build(r->dst, r->prefix), *gw = NULL, *src = NULL;
	int ret = -ENOMEM;

	if (!route || !nh || !dst)
		goto out;
	if (r->gw && !(gw = addr_build(r->gw, 32)))
		goto out;
	if (r->prefsrc && !(src = addr_build(r->prefsrc, 32)))
		goto out;
	rtnl_route_set_family(route, AF_INET);
	rtnl_route_set_table(route, RT_TABLE_MAIN);
	rtnl_route_set_type(route, RTN_UNICAST);
	rtnl_route_set_protocol(route, RTPROT_BOOT);
	/* A route without a gateway reaches a neighbour on the link itself. */
	rtnl_route_set_scope(route, gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
	ret = nl_to_errno(rtnl_route_set_dst(route, dst));
	if (ret == 0 && src)
		ret = nl_to_errno(rtnl_route_set_pref_src(route, src));
	if (ret < 0)
		goto out;
	rtnl_route_nh_set_ifindex(nh, r->ifindex);
	if (gw)
		rtnl_route_nh_set_gateway(nh, gw);
	rtnl_route_add_nexthop(route, nh);
	nh = NULL; /* owned by route now */
	ret = nl_to_errno(rtnl_route_add(sk, route, NLM_F_REPLACE));
out:
	if (nh)
		rtnl_route_nh_free(nh);
	addr_put(dst);
	addr_put(gw);
	addr_put(src);
	if (route)
		rtnl_route_put(route);
	return ret;
}

/* Does one of route's next hops match r's gateway and device (0 = any)? */
static bool route_nexthop_matches(struct rtnl_route *route, const struct cni_nl_route *r)
{
	for (int i = 0; i < rtnl_route_get_nnexthops(route); i++) {
		struct rtnl_nexthop *nh = rtnl_route_nexthop_n(route, i);

		if ((!r->gw || addr_is(rtnl_route_nh_get_gateway(nh), r->gw)) &&
		    (!r->ifindex || rtnl_route_nh_get_ifindex(nh) == r->ifindex))
			return true;
	}
	return false;
}

int cni_nl_route_has(struct nl_sock *sk, const struct cni_nl_route *r)
{
	struct nl_cache *cache = NULL;
	struct nl_object *obj;
	int ret;

	ret = nl_to_errno(rtnl_route_alloc_cache(sk, AF_INET, 0, &cache));
	if (ret < 0)
		return ret;
	for (obj = nl_cache_get_first(cache); obj && !ret; obj = nl_cache_get_next(obj)) {
		struct rtnl_route *route = (struct rtnl_route *)obj;
		struct nl_addr *dst = rtnl_route_get_dst(route);
		int plen = dst ? nl_addr_get_prefixlen(dst) : 0;

		if (rtnl_route_get_table(route) != RT_TABLE_MAIN || plen != (int)r->prefix)
			continue;
		/* The default route's dst may be an empty address. */
		if (r->prefix && !addr_is(dst, r->dst))
			continue;
		ret = route_nexthop_matches(route, r);
	}
	nl_cache_free(cache);
	return ret;
}
