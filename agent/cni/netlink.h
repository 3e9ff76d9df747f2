/*
 * netlink.h - the few rtnetlink operations capstan-cni needs, over
 * libnl-route-3, in whichever network namespace a socket was opened.
 *
 * Network namespaces. The plugin works in two namespaces at once: the
 * caller's (the node, where the host veth end and the pod's /32 route go)
 * and the sandbox's (CNI_NETNS). A netlink socket stays bound to the
 * namespace it was created in, so cni_nl_open() creates the sandbox's socket
 * on a short-lived thread that setns()es into the sandbox and exits; the
 * main thread never changes namespace and so never has to restore one
 * (setns on the main thread would also move every later file and socket
 * operation, and a forgotten restore would put the host side in the pod).
 * A veth pair is created from the node side with the peer placed straight
 * into the sandbox (IFLA_NET_NS_FD), so no interface is ever moved.
 *
 * Addresses are IPv4 in host byte order, as in ipam.h. Functions return 0 or
 * a negative errno translated from libnl's codes (-ENODEV for a missing
 * link, -EEXIST for an existing one, ...).
 */
#ifndef CAPSTAN_CNI_NETLINK_H
#define CAPSTAN_CNI_NETLINK_H

#include <stdbool.h>
#include <stdint.h>

struct nl_sock;

/*
 * A route netlink socket in the namespace of netns_fd (-1: the caller's).
 * 0 or -errno (-EINVAL when netns_fd is not a network namespace); sets *out
 * only on success. Close with cni_nl_close().
 */
int cni_nl_open(int netns_fd, struct nl_sock **out);
void cni_nl_close(struct nl_sock *sk);

struct cni_nl_link {
	int ifindex;
	unsigned flags; /* IFF_* */
	unsigned mtu;
	char mac[18];	 /* "aa:bb:cc:dd:ee:ff" */
	char alias[256]; /* IFLA_IFALIAS, "" when none */
	char kind[16];	 /* "veth", "" for devices without rtnl link ops (lo) */
};

/* Look up a link by name. 0, -ENODEV when there is none, or -errno. */
int cni_nl_link_get(struct nl_sock *sk, const char *name, struct cni_nl_link *out);
/* Delete a link by name (a veth takes its peer along). 0, -ENODEV or -errno. */
int cni_nl_link_del(struct nl_sock *sk, const char *name);
/* Set IFF_UP. 0 or -errno. */
int cni_nl_link_up(struct nl_sock *sk, int ifindex);
/* Set the interface alias (IFLA_IFALIAS). 0 or -errno. */
int cni_nl_link_set_alias(struct nl_sock *sk, int ifindex, const char *alias);

/*
 * Create a veth pair: name in sk's namespace, peer_name in the namespace of
 * peer_netns_fd, both with mtu. 0, -EEXIST when either name is taken, or
 * -errno.
 */
int cni_nl_veth_add(struct nl_sock *sk, const char *name, int peer_netns_fd, const char *peer_name,
		    int mtu);

/* Add addr/prefix to ifindex. 0, -EEXIST or -errno. */
int cni_nl_addr_add(struct nl_sock *sk, int ifindex, uint32_t addr, unsigned prefix);
/* 1 when ifindex has addr/prefix, 0 when not, -errno on failure. */
int cni_nl_addr_has(struct nl_sock *sk, int ifindex, uint32_t addr, unsigned prefix);

/* A main-table IPv4 route. */
struct cni_nl_route {
	uint32_t dst;
	unsigned prefix;
	uint32_t gw;	  /* 0: directly connected (scope link) */
	int ifindex;	  /* 0 in a query: any device */
	uint32_t prefsrc; /* 0: none (ignored by queries) */
};

/* Add (or replace) a route. 0 or -errno. */
int cni_nl_route_replace(struct nl_sock *sk, const struct cni_nl_route *r);
/*
 * 1 when the main table has a route to r->dst/r->prefix whose next hop has
 * gateway r->gw (when not 0) and device r->ifindex (when not 0); 0 when not;
 * -errno on failure.
 */
int cni_nl_route_has(struct nl_sock *sk, const struct cni_nl_route *r);

#endif
