/*
 * route.h - the safety route: `unreachable <service CIDR>` in the agent's
 * network namespace.
 *
 * Service addresses are virtual: the socket hooks translate them before a
 * packet exists. Anything that escapes translation (a process outside the
 * hooked cgroup, a window while the programs are replaced, a service
 * without a slot 0 yet) would otherwise follow the default route off the
 * node, to whoever owns those addresses outside. The unreachable route
 * makes such a connect() fail at once with EHOSTUNREACH instead.
 *
 * Installed through libnl-route-3 in the main table, idempotently: an
 * existing unreachable route for the CIDR is left alone; a route of another
 * type for exactly that prefix (a blackhole, a unicast route someone added)
 * is replaced, and the caller is told which type it replaced so it can log
 * it. Routes for other prefixes are never touched.
 */
#ifndef CAPSTAN_AGENT_LB_ROUTE_H
#define CAPSTAN_AGENT_LB_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

/*
 * Parse "a.b.c.d/len" (len 0..32, no host bits set). 0 with *addr (network
 * order) and *prefix set, or -EINVAL with a message in err.
 */
int lb_parse_cidr(const char *s, __be32 *addr, unsigned *prefix, char *err, size_t errlen);

enum lb_route_action {
	LB_ROUTE_PRESENT,  /* already an unreachable route: nothing done */
	LB_ROUTE_ADDED,	   /* no route for the prefix: added */
	LB_ROUTE_REPLACED, /* a route of another type: replaced */
};

/*
 * Make sure `unreachable cidr` is in the main table. 0 on success with
 * *what set (and, for LB_ROUTE_REPLACED, the old route type's name in
 * old_type); -EINVAL for a bad CIDR, -EPERM without CAP_NET_ADMIN, -EIO for
 * other netlink errors; err holds a message on failure.
 */
int lb_route_ensure_unreachable(const char *cidr, enum lb_route_action *what, char *old_type,
				size_t old_len, char *err, size_t errlen);

#endif
