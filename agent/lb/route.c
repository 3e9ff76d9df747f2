/* route.c - see route.h. */
#include "agent/lb/route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/route.h>
#include <netlink/route/rtnl.h>

int lb_parse_cidr(const char *s, __be32 *addr, unsigned *prefix, char *err, size_t errlen)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	char host[INET_ADDRSTRLEN];
	unsigned long len;
	uint32_t mask;
	__be32 a;
	char *end;

	if (!slash || (size_t)(slash - s) >= sizeof(host) || !slash[1] || slash[1] == '-' ||
	    slash[1] == '+') {
		snprintf(err, errlen, "\"%s\" is not a CIDR (want a.b.c.d/len)", s ? s : "");
		return -EINVAL;
	}
	memcpy(host, s, (size_t)(slash - s));
	host[slash - s] = '\0';
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (*end || errno || len > 32 || inet_pton(AF_INET, host, &a) != 1) {
		snprintf(err, errlen, "\"%s\" is not an IPv4 CIDR (want a.b.c.d/len)", s);
		return -EINVAL;
	}
	mask = len ? ~0u << (32 - len) : 0;
	if (ntohl(a) & ~mask) {
		snprintf(err, errlen, "\"%s\" has host bits set", s);
		return -EINVAL;
	}
	*addr = a;
	*prefix = (unsigned)len;
	return 0;
}

static int nl_errno(int nlerr)
{
	switch (-nlerr) {
	case NLE_PERM:
	case NLE_NOACCESS:
		return -EPERM;
	default:
		return -EIO;
	}
}

/* The main-table route for exactly dst (metric 0, tos 0), or NULL. */
static struct rtnl_route *find_route(struct nl_cache *cache, struct nl_addr *dst)
{
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		struct nl_addr *d = rtnl_route_get_dst(r);

		if (rtnl_route_get_table(r) != RT_TABLE_MAIN || rtnl_route_get_tos(r) != 0 ||
		    rtnl_route_get_priority(r) != 0 || !d)
			continue;
		if (nl_addr_get_prefixlen(d) == nl_addr_get_prefixlen(dst) &&
		    nl_addr_cmp_prefix(d, dst) == 0)
			return r;
	}
	return NULL;
}

int lb_route_ensure_unreachable(const char *cidr, enum lb_route_action *what, char *old_type,
				size_t old_len, char *err, size_t errlen)
{
	struct nl_sock *sk = NULL;
	struct nl_cache *cache = NULL;
	struct nl_addr *dst = NULL;
	struct rtnl_route *route = NULL, *have;
	unsigned prefix;
	__be32 addr;
	int rc, flags = NLM_F_CREATE | NLM_F_EXCL;

	rc = lb_parse_cidr(cidr, &addr, &prefix, err, errlen);
	if (rc < 0)
		return rc;
	sk = nl_socket_alloc();
	if (!sk) {
		snprintf(err, errlen, "cannot allocate a netlink socket");
		rc = -ENOMEM;
		goto out;
	}
	rc = nl_connect(sk, NETLINK_ROUTE);
	if (rc == 0)
		rc = rtnl_route_alloc_cache(sk, AF_INET, 0, &cache);
	if (rc < 0) {
		snprintf(err, errlen, "cannot read the routing table: %s", nl_geterror(rc));
		rc = nl_errno(rc);
		goto out;
	}
	dst = nl_addr_build(AF_INET, &addr, sizeof(addr));
	nl_addr_set_prefixlen(dst, (int)prefix);
	have = find_route(cache, dst);
	if (have && rtnl_route_get_type(have) == RTN_UNREACHABLE) {
		*what = LB_ROUTE_PRESENT;
		rc = 0;
		goto out;
	}
	if (have) {
		char name[32];

		snprintf(old_type, old_len, "%s",
			 nl_rtntype2str(rtnl_route_get_type(have), name, sizeof(name)));
		/* Same table, prefix, tos and metric: the kernel replaces it in place. */
		flags = NLM_F_CREATE | NLM_F_REPLACE;
	}
	route = rtnl_route_alloc();
	rtnl_route_set_family(route, AF_INET);
	rtnl_route_set_table(route, RT_TABLE_MAIN);
	rtnl_route_set_dst(route, dst);
	rtnl_route_set_type(route, RTN_UNREACHABLE);
	rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
	rtnl_route_set_protocol(route, RTPROT_STATIC);
	rc = rtnl_route_add(sk, route, flags);
	if (rc < 0) {
		snprintf(err, errlen, "cannot add route unreachable %s: %s", cidr, nl_geterror(rc));
		rc = nl_errno(rc);
		goto out;
	}
	*what = have ? LB_ROUTE_REPLACED : LB_ROUTE_ADDED;
out:
	if (route)
		rtnl_route_put(route);
	if (dst)
		nl_addr_put(dst);
	if (cache)
		nl_cache_free(cache);
	if (sk)
		nl_socket_free(sk);
	return rc;
}
