/*
 * topo.h - the simulated node the datapath benchmark measures on.
 *
 *   client netns ──veth── node netns ──veth── pod1 .. podN netns
 *   10.244.0.2            forwards,           10.244.1.1 .. 10.244.1.N
 *                         169.254.1.1 on      (servers on :8080)
 *                         every veth
 *   agent netns: lo only (capstan-agent's metrics listener)
 *
 * The wiring is the one the project's shell tests use (tests/harness/
 * netns.sh): each pod has its address as a /32 on eth0 and reaches the node
 * through the link-local 169.254.1.1; the node has a /32 route per pod. No
 * namespace has a default route or any link outside the benchmark, and every
 * namespace first gets `unreachable 10.96.0.0/12`, so a service packet that
 * escaped translation stops where it is.
 *
 * One exception, for the iptables path: kube-proxy's rules live in the node,
 * hooked from PREROUTING, and the client must hand service packets to it.
 * The client therefore routes the one measured service address
 * (TOPO_SVC_ADDR/32) to the node; the node holds the unreachable route, so
 * an untranslated packet still stops there. The DNAT cannot run in the
 * client's own OUTPUT chain: connect() looks the route up before OUTPUT
 * runs, and the unreachable route fails it with EHOSTUNREACH.
 *
 * Between paths the node namespace is thrown away and made anew
 * (topo_reset_node): iptables' tables, once instantiated, and the conntrack
 * they switch on live as long as the namespace, and the direct and
 * socket-LB paths must not pay for them.
 *
 * Names carry the benchmark's PID (capstan-bench-<pid>-node, ...), so two
 * runs never collide.
 */
#ifndef CAPSTAN_BENCH_TOPO_H
#define CAPSTAN_BENCH_TOPO_H

#include <stdbool.h>

#define TOPO_MAX_PODS 16
#define TOPO_POD_PORT 8080
#define TOPO_SVC_PORT 80
#define TOPO_POD_CIDR "10.244.0.0/16"
#define TOPO_SVC_CIDR "10.96.0.0/12"
#define TOPO_CLIENT_ADDR "10.244.0.2"
#define TOPO_SVC_ADDR "10.96.0.10" /* the measured service, always the last one added */
/*
 * The node's address as the client sees it (the link-local gateway on every
 * node veth; the client's link is "vc"), and the measured service's
 * NodePort on it.
 */
#define TOPO_NODE_ADDR "169.254.1.1"
#define TOPO_NODE_CLIENT_IF "vc"
#define TOPO_NODEPORT 30080
/*
 * The node's name: the agent's --node-name and every endpoint's nodeName.
 * The pods are this node's, so NodePort traffic to them needs no SNAT (a
 * remote backend's replies would come back through a pod veth, where no
 * program translates them).
 */
#define TOPO_NODE_NAME "bench-node"
/*
 * The packet-rate service (flood.h): UDP port 80 at this cluster IP and
 * NodePort, its endpoints on another node as far as the agent knows (so the
 * NodePort path SNATs and redirects, never handing a packet to the stack).
 */
#define TOPO_PPS_SVC_ADDR "10.96.0.11"
#define TOPO_PPS_NODEPORT 30081

struct topo {
	char node[64];
	char client[64];
	char agent[64];
	char pod[TOPO_MAX_PODS][64];
	int npods;
	bool made_node, made_client, made_agent;
	bool made_pod[TOPO_MAX_PODS];
};

/*
 * Make every namespace and link for npods pods (1..TOPO_MAX_PODS), named
 * after prefix (e.g. "capstan-bench-1234"). 0 on success, -errno on failure
 * (what was made is recorded in t: call topo_destroy either way).
 */
int topo_create(struct topo *t, const char *prefix, int npods);

/* Delete the node namespace and its veths, and make them anew. 0 or -errno. */
int topo_reset_node(struct topo *t);

/* Delete everything topo_create made. Safe to call twice and after a failure. */
void topo_destroy(struct topo *t);

/* Pod i's (0-based) address, "10.244.1.<i+1>". */
void topo_pod_addr(int i, char *buf, int len);

/*
 * Address of service i of n (0-based): the last one (i == n-1) is the
 * measured TOPO_SVC_ADDR; the others count up from 10.96.1.0.
 */
void topo_svc_addr(int i, int n, char *buf, int len);

#endif
