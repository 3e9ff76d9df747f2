/*
 * node.h - the kubelet's Node: registration, status, the Lease, the pod
 * CIDR and the CNI configuration (node.c). kubelet.h declares what the
 * other modules call (node_start, node_stop, node_status_poke,
 * kl_wait_network_ready); this header holds the parts that are pure
 * functions of their inputs, so they are tested without an API server.
 *
 * Two threads, each with its own HTTP handle:
 *
 *   status  registers the Node (POST, or takes over an existing one by
 *           patching its labels), then every check interval (10 s) reads the
 *           machine (/proc, statvfs) and asks the runtime for its Status,
 *           builds the NodeStatus and sends it as a strategic merge patch of
 *           nodes/<name>/status when it differs from the last one sent
 *           (heartbeat times aside), when node_status_poke() asked, or when
 *           --node-status-interval (60 s) passed. While the pod CIDR is not
 *           known it also polls the Node's spec.podCIDR every second.
 *   lease   renews coordination.k8s.io/v1 Lease kube-node-lease/<name>
 *           every --lease-interval (10 s): the node controller's liveness
 *           signal, kept apart so that a slow status push never lets the
 *           Lease lapse.
 *
 * Polling spec.podCIDR (rejected: an informer on this one Node) because the
 * field is written once, by the node IPAM controller, shortly after
 * registration; a watch kept open for the kubelet's lifetime to see one
 * write is a connection and a thread for nothing, and every status patch
 * answers with the whole Node anyway, which catches a late allocation too.
 *
 * The node name doubles as the kubernetes.io/hostname label and the
 * Hostname address (upstream's --hostname-override, which capstan's
 * --node-name is): nodeSelectors and kubectl then agree on one name.
 *
 * Conditions follow upstream: MemoryPressure, DiskPressure, PIDPressure and
 * Ready, each with lastHeartbeatTime = the time of this status and
 * lastTransitionTime kept from the previous status while the condition's
 * status is unchanged. Pressure is computed from the hard eviction
 * thresholds upstream defaults to (memory.available < 100Mi,
 * nodefs.available < 10%, pid.available < 10%), and allocatable is capacity
 * minus those thresholds, as upstream's node allocatable is (no
 * kube-reserved or system-reserved here).
 */
#ifndef CAPSTAN_KUBELET_NODE_H
#define CAPSTAN_KUBELET_NODE_H

#include <ifaddrs.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/kubelet/kubelet.h"

#define NODE_MAX_PODS 110
#define NODE_LEASE_NAMESPACE "kube-node-lease"
#define NODE_MEMORY_AVAILABLE_MIN (100ull << 20) /* bytes */
#define NODE_DISK_AVAILABLE_MIN_PCT 10
#define NODE_PID_AVAILABLE_MIN_PCT 10
#define NODE_CNI_CONF_FILE "10-capstan.conflist"

/* What the machine says about itself; strings are "" when unknown. */
struct node_facts {
	unsigned cpus;		/* online CPUs */
	uint64_t mem_total;	/* bytes (MemTotal) */
	uint64_t mem_available; /* bytes (MemAvailable) */
	uint64_t disk_total;	/* bytes of the file system holding the root dir */
	uint64_t disk_available;
	uint64_t pid_max; /* kernel.pid_max */
	uint64_t pids;	  /* tasks in use (/proc/loadavg) */
	char machine_id[64];
	char system_uuid[64];
	char boot_id[64];
	char kernel_version[128];
	char os_image[128];
	char arch[32]; /* GOARCH spelling: amd64, arm64, ... */
};

/*
 * Read the facts. host_root prefixes every /proc, /sys and /etc path ("" for
 * the real machine; tests point it at a fake tree); root_dir is statvfs'd
 * for the disk. A missing file leaves its fields zero or "" (a container
 * may hide /sys/class/dmi, ...). 0 on success; -errno when /proc/meminfo
 * cannot be read (the one fact the status cannot do without). *out is
 * filled in any case.
 */
int node_facts_collect(const char *host_root, const char *root_dir, struct node_facts *out);

/* uname's machine ("x86_64", "aarch64", ...) in GOARCH spelling ("amd64", "arm64", ...). */
const char *node_goarch(const char *machine);

struct node_pressure {
	bool memory, disk, pid;
};
/* Pressure from the thresholds above; unknown (zero) facts mean no pressure. */
struct node_pressure node_pressure_of(const struct node_facts *f);

struct node_status_input {
	const struct node_facts *facts;
	const char *node_name;	     /* the Hostname address */
	const char *node_ip;	     /* the InternalIP address */
	int port;		     /* daemonEndpoints.kubeletEndpoint.Port */
	const char *runtime_version; /* "containerd://1.6.20" */
	/* Why the runtime is not ready ("" or NULL: it is). */
	const char *runtime_problem;
	bool network_configured; /* the CNI configuration is written */
	int64_t now_ns;
};

/*
 * The Node's status. prev_status (the last status sent or found, may be
 * NULL) supplies lastTransitionTime for conditions whose status did not
 * change. Returns a new object.
 */
json_t *node_status_build(const struct node_status_input *in, const json_t *prev_status);

/* Do two statuses differ in anything but the conditions' lastHeartbeatTime? */
bool node_status_differs(const json_t *a, const json_t *b);

/*
 * The Node to create: metadata (name, labels kubernetes.io/hostname, os,
 * arch and their beta.kubernetes.io twins) and, when pod_cidr is set, spec
 * podCIDR/podCIDRs. Returns a new object.
 */
json_t *node_object_build(const char *name, const struct node_facts *f, const char *pod_cidr);

/*
 * The Lease to send: existing (the server's copy, may be NULL) with
 * holderIdentity = node, leaseDurationSeconds = duration_s, renewTime =
 * now (MicroTime) and, when node_uid is set, an ownerReference to the Node.
 * Returns a new object.
 */
json_t *node_lease_build(const json_t *existing, const char *node, const char *node_uid,
			 int duration_s, int64_t now_ns);

/*
 * Why the runtime is not ready, from a StatusResponse, in upstream's words
 * ("container runtime network not ready: NetworkReady=false
 * reason:NetworkPluginNotReady message:..."); "" when RuntimeReady and
 * NetworkReady are both true.
 */
void node_runtime_problem(const Runtime__V1__StatusResponse *resp, char *buf, size_t len);

/*
 * Write <conf_dir>/10-capstan.conflist for capstan-cni:
 *   {"cniVersion":"1.0.0","name":"capstan","plugins":[{"type":"capstan-cni",
 *    "podCIDR":CIDR,"dataDir":"<root_dir>/cni"}]}
 * atomically (a temporary file in conf_dir, fsync, rename, fsync of the
 * directory), creating conf_dir if needed; an identical file is left
 * alone. 0 on success; -EINVAL for a bad CIDR; -errno with a message in err.
 */
int node_write_cni_conf(const char *conf_dir, const char *root_dir, const char *pod_cidr, char *err,
			size_t errlen);

/*
 * The interface of the default IPv4 route in a /proc/net/route file (the
 * lowest metric wins). 0 with iface set, -ENOENT without a default route,
 * -errno when the file cannot be read.
 */
int node_default_route_iface(const char *route_file, char *iface, size_t len);

/*
 * The node IP from an interface list: the first IPv4 address of iface
 * (when given and present), else the first IPv4 address of an interface
 * that is up and not loopback. 0 with buf set, or -ENOENT.
 */
int node_pick_ipv4(const struct ifaddrs *list, const char *iface, char *buf, size_t len);

/* Both of the above on the real machine (host_root as for the facts). */
int node_resolve_ip(const char *host_root, char *buf, size_t len);

/* Knobs for tests; the daemon uses node_start() with the defaults. */
struct node_options {
	const char *host_root; /* NULL: "" */
	/*
	 * Fill problem with why the runtime is not ready ("" when it is).
	 * NULL: ask k->cri for its Status (node_runtime_problem).
	 */
	void (*runtime_problem)(struct kubelet *k, char *problem, size_t len);
	unsigned check_interval_ms; /* 0 = 10 s */
	unsigned cidr_poll_ms;	    /* 0 = 1 s */
	unsigned lease_interval_ms; /* 0 = k->cfg.lease_interval_s */
	unsigned retry_max_ms;	    /* registration back-off cap; 0 = 30 s */
};

int node_start_opts(struct kubelet *k, const struct node_options *o);

#endif
