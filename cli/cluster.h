/*
 * cluster.h - `capstan up` / `capstan down`: a local cluster of separate
 * processes, supervised.
 *
 * Layout. `capstan up` forks a supervisor that starts, in order, the image
 * registry, capstan-apiserver, capstan-controller-manager and
 * capstan-scheduler on the host, then for every node containerd,
 * capstan-kubelet and capstan-agent, restarts whichever dies (back-off 1 s
 * doubling to 30 s) and, on SIGTERM (`capstan down`), stops them in reverse
 * and removes everything it made on the host. `capstan up` itself waits
 * until the cluster works (nodes Ready, the kubernetes Service answering
 * through the eBPF datapath) and prints how to use it.
 *
 * Addresses (none of them on the machine's own uplink):
 *   172.31.0.1/24       the host, on bridge capstan0: API server (:6443),
 *                       registry (:5000)
 *   one node            the host itself is the node (node IP 172.31.0.1);
 *                       its agent attaches to the root cgroup v2, so host
 *                       processes reach services too
 *   --nodes N > 1       node i (1..N) is a network namespace capstan-node<i>
 *                       with address 172.31.0.(10+i)/24 on eth0, a veth
 *                       whose host end is a port of capstan0; its own
 *                       containerd, kubelet and agent, cgroup subtree
 *                       capstan-node<i> and bpffs directory
 *   pods of node i      10.244.i.0/24, routed via node i's address from the
 *                       host and from every other node (host-gw style)
 *   services            10.96.0.0/12, unreachable everywhere untranslated
 *
 * Data directory (kept by `down` unless --purge):
 *   kubeconfig, supervisor.pid, supervisor.log, <component>.log,
 *   apiserver/ (the store), registry/, nodes/<node>/{containerd,kubelet,...}
 */
#ifndef CAPSTAN_CLI_CLUSTER_H
#define CAPSTAN_CLI_CLUSTER_H

#include <limits.h>
#include <stdbool.h>

#define CLUSTER_MAX_NODES 8
#define CLUSTER_HOST_IP "172.31.0.1"
#define CLUSTER_BRIDGE "capstan0"
#define CLUSTER_NODE_PREFIX 24
#define CLUSTER_API_PORT 6443
#define CLUSTER_REGISTRY_PORT 5000
#define CLUSTER_SERVICE_CIDR "10.96.0.0/12"

struct cluster {
	char data_dir[PATH_MAX];  /* absolute */
	char bin_dir[PATH_MAX];	  /* where capstan-* are (this binary's dir) */
	char build_dir[PATH_MAX]; /* bin_dir/.. : images/, cni/bin/ */
	char cgroup2[PATH_MAX];	  /* the cgroup v2 mount */
	int nodes;
	unsigned node_grace_s; /* controller manager's node monitor grace */
	bool multi;	       /* nodes > 1: nodes in namespaces */
};

/* `capstan up|down|status [options]`: argv[0] is the command. Exit code. */
int cluster_up_main(int argc, char **argv, const char *default_data_dir);
int cluster_down_main(int argc, char **argv, const char *default_data_dir);
int cluster_status_main(int argc, char **argv, const char *default_data_dir);

/* Node i (1-based): name "node<i>", IP, pod CIDR, netns name ("" when the host). */
void cluster_node_name(int i, char *buf, size_t len);
void cluster_node_ip(const struct cluster *c, int i, char *buf, size_t len);
void cluster_node_cidr(int i, char *buf, size_t len);
void cluster_node_netns(const struct cluster *c, int i, char *buf, size_t len);
/* Node i's cgroup v2 directory ("" when the host: the root). */
void cluster_node_cgroup(const struct cluster *c, int i, char *buf, size_t len);

/* Run the supervisor in this process until SIGTERM/SIGINT. Exit code. */
int supervisor_run(const struct cluster *c);
/* Stop and clean up after a supervisor that is gone. */
void supervisor_cleanup(const struct cluster *c);

/*
 * Host network for the cluster: set up (idempotent) or remove what setup
 * made. 0 or -1 with a message logged.
 */
int hostnet_setup(const struct cluster *c);
void hostnet_teardown(const struct cluster *c);

/* stdout and stderr appended to log, stdin from /dev/null (in a child). */
void cluster_redirect_stdio(const char *log);

/* Run a shell command (logged at debug); its exit status, or -1. */
int cluster_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
