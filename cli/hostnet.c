/*
 * hostnet.c - the host side of a local cluster's network (see cluster.h).
 *
 * The host owns 172.31.0.1/24 on a bridge, capstan0, that plays the
 * nodes' shared network segment. Each simulated node namespace gets a veth
 * whose host end is a port of the bridge and whose node end, eth0, carries
 * the node's address in the same /24 with a default route via the host.
 * Pod CIDRs are routed host-gw style: every node, and the host, has a
 * route to each other node's pod CIDR via that node's address. Nothing is
 * bound to the machine's uplink, and no packet for the cluster's ranges is
 * routed there: every namespace that can send to a service address, the
 * host included, has an `unreachable` route for the service range.
 *
 * With one node the host is the node; the bridge then has no ports and only
 * carries the cluster's address.
 *
 * It shells out to iproute2 (a dependency): these are one-off setup steps,
 * where readable commands in the log beat a netlink library. Every step is
 * idempotent (replace, or "add if missing"), so a second `capstan up` and a
 * `capstan down` after a crash both work.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster.h"
#include "log.h"

int cluster_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	log_debug("sh: %s", cmd);
	st = system(cmd);
	if (st == -1)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void cluster_node_name(int i, char *buf, size_t len)
{
	snprintf(buf, len, "node%d", i);
}

void cluster_node_ip(const struct cluster *c, int i, char *buf, size_t len)
{
	if (c->multi)
		snprintf(buf, len, "172.31.0.%d", 10 + i);
	else
		snprintf(buf, len, "%s", CLUSTER_HOST_IP);
}

void cluster_node_cidr(int i, char *buf, size_t len)
{
	snprintf(buf, len, "10.244.%d.0/24", i);
}

void cluster_node_netns(const struct cluster *c, int i, char *buf, size_t len)
{
	if (c->multi)
		snprintf(buf, len, "capstan-node%d", i);
	else
		buf[0] = '\0';
}

void cluster_node_cgroup(const struct cluster *c, int i, char *buf, size_t len)
{
	if (c->multi)
		snprintf(buf, len, "%s/capstan-node%d", c->cgroup2, i);
	else
		buf[0] = '\0';
}

static void host_if(int i, char *buf, size_t len)
{
	snprintf(buf, len, "capn%d", i);
}

/* Remember the host's ip_forward once, to put it back on teardown. */
static void save_ip_forward(const struct cluster *c)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/ip_forward.orig", c->data_dir);
	if (access(path, F_OK) == 0)
		return;
	cluster_sh("cp /proc/sys/net/ipv4/ip_forward '%s'", path);
}

/*
 * bpffs at /sys/fs/bpf: the agents pin there. Mount it when the host has
 * none and remember that we did, so teardown unmounts it again once
 * nothing but the kernel's own debug entries is left in it.
 */
static int bpffs_setup(const struct cluster *c)
{
	if (cluster_sh("mountpoint -q /sys/fs/bpf") == 0)
		return 0;
	if (cluster_sh("mkdir -p /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf") != 0)
		return -1;
	return cluster_sh("touch '%s/bpffs.mounted'", c->data_dir) == 0 ? 0 : -1;
}

static void bpffs_teardown(const struct cluster *c)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/bpffs.mounted", c->data_dir);
	if (access(path, F_OK) != 0)
		return;
	if (cluster_sh("[ -z \"$(ls -A /sys/fs/bpf | grep -vx -e maps.debug -e progs.debug)\" ] "
		       "&& umount /sys/fs/bpf") == 0)
		unlink(path);
	else
		log_warn("/sys/fs/bpf still holds pins; left mounted");
}

static int node_setup(const struct cluster *c, int i)
{
	char ns[64], ip[32], hif[32];

	cluster_node_netns(c, i, ns, sizeof(ns));
	cluster_node_ip(c, i, ip, sizeof(ip));
	host_if(i, hif, sizeof(hif));
	if (cluster_sh("ip netns list | grep -qw '^%s' || ip netns add %s", ns, ns) != 0)
		return -1;
	cluster_sh("ip -n %s link set lo up", ns);
	if (cluster_sh("ip link show %s >/dev/null 2>&1 || "
		       "ip link add %s type veth peer name eth0 netns %s",
		       hif, hif, ns) != 0)
		return -1;
	if (cluster_sh("ip link set %s master %s up", hif, CLUSTER_BRIDGE) != 0)
		return -1;
	cluster_sh("ip -n %s link set eth0 up", ns);
	cluster_sh("ip -n %s addr replace %s/%d dev eth0", ns, ip, CLUSTER_NODE_PREFIX);
	cluster_sh("ip -n %s route replace default via %s dev eth0", ns, CLUSTER_HOST_IP);
	cluster_sh("ip -n %s route replace unreachable %s", ns, CLUSTER_SERVICE_CIDR);
	cluster_sh("ip netns exec %s sysctl -qw net.ipv4.ip_forward=1", ns);
	return 0;
}

/* Routes to node j's pod CIDR via node j, in node i's namespace (i = 0: the host). */
static int pod_route(const struct cluster *c, int i, int j)
{
	char ns[64] = "", ip[32], cidr[32], prefix[80] = "";

	if (i > 0) {
		cluster_node_netns(c, i, ns, sizeof(ns));
		snprintf(prefix, sizeof(prefix), "-n %s ", ns);
	}
	cluster_node_ip(c, j, ip, sizeof(ip));
	cluster_node_cidr(j, cidr, sizeof(cidr));
	return cluster_sh("ip %sroute replace %s via %s dev %s", prefix, cidr, ip,
			  i > 0 ? "eth0" : CLUSTER_BRIDGE) == 0
		       ? 0
		       : -1;
}

int hostnet_setup(const struct cluster *c)
{
	save_ip_forward(c);
	if (bpffs_setup(c) < 0 || cluster_sh("sysctl -qw net.ipv4.ip_forward=1") != 0 ||
	    cluster_sh("ip link show %s >/dev/null 2>&1 || ip link add %s type bridge",
		       CLUSTER_BRIDGE, CLUSTER_BRIDGE) != 0 ||
	    cluster_sh("ip link set %s up", CLUSTER_BRIDGE) != 0 ||
	    cluster_sh("ip addr replace %s/%d dev %s", CLUSTER_HOST_IP, CLUSTER_NODE_PREFIX,
		       CLUSTER_BRIDGE) != 0 ||
	    cluster_sh("ip route replace unreachable %s", CLUSTER_SERVICE_CIDR) != 0) {
		log_error("host network setup failed (see the commands above at --v=4)");
		return -1;
	}
	for (int i = 1; c->multi && i <= c->nodes; i++) {
		if (node_setup(c, i) < 0) {
			log_error("network setup of node%d failed", i);
			return -1;
		}
	}
	for (int i = 0; c->multi && i <= c->nodes; i++) {
		for (int j = 1; j <= c->nodes; j++) {
			if (i != j && pod_route(c, i, j) < 0) {
				log_error("cannot route node%d's pods from %s%d", j,
					  i ? "node" : "the host", i);
				return -1;
			}
		}
	}
	return 0;
}

void hostnet_teardown(const struct cluster *c)
{
	char path[PATH_MAX + 32];

	for (int i = 1; i <= CLUSTER_MAX_NODES; i++) {
		char cidr[32], hif[32], ns[64];

		cluster_node_cidr(i, cidr, sizeof(cidr));
		host_if(i, hif, sizeof(hif));
		snprintf(ns, sizeof(ns), "capstan-node%d", i);
		cluster_sh("ip route del %s via 172.31.0.%d 2>/dev/null", cidr, 10 + i);
		cluster_sh("ip link del %s 2>/dev/null", hif);
		cluster_sh("ip netns del %s 2>/dev/null", ns);
	}
	/* In single-node mode the host's pod CIDR routes belong to the CNI (gone with the pods). */
	cluster_sh("ip route del unreachable %s 2>/dev/null", CLUSTER_SERVICE_CIDR);
	cluster_sh("ip link del %s 2>/dev/null", CLUSTER_BRIDGE);
	bpffs_teardown(c);
	snprintf(path, sizeof(path), "%s/ip_forward.orig", c->data_dir);
	if (access(path, R_OK) == 0) {
		cluster_sh("cat '%s' > /proc/sys/net/ipv4/ip_forward && rm -f '%s'", path, path);
	}
}
