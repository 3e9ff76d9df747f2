/*
 * kubelet.h - the state shared by capstan-kubelet's modules, and the
 * boundaries between them.
 *
 *   main.c, config.c   flags -> struct kubelet_config
 *   node.c             Node registration, status and conditions, the Lease,
 *                      the pod CIDR and the CNI configuration (network ready)
 *   pods.c, ...        the pod informer, one worker per pod: sandbox, images,
 *                      containers, restarts, probes, status, deletion,
 *                      cgroups, adoption of running sandboxes at start
 *   server.c           the kubelet's HTTP port: /healthz, /containerLogs, /metrics
 *   events.c           Events (Pulled, Created, Started, Killing, BackOff, ...)
 *   cri.c              the CRI client (cri.h)
 *
 * Modules talk through the functions declared here; nothing reaches into
 * another module's state.
 */
#ifndef CAPSTAN_KUBELET_H
#define CAPSTAN_KUBELET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "agent/kubelet/cri.h"
#include "httpc.h"

#define KUBELET_VERSION "v1.32.0-capstan"

struct kubelet_config {
	const char *kubeconfig;		/* API server access (required) */
	const char *node_name;		/* required */
	const char *runtime_endpoint;	/* unix:///run/containerd/containerd.sock */
	const char *root_dir;		/* /var/lib/capstan/kubelet: pod dirs, logs, state */
	int port;			/* 10250 */
	const char *node_ip;		/* NULL: the address of the default-route interface */
	const char *pod_cidr;		/* NULL: the Node's spec.podCIDR */
	const char *cni_bin_dir;	/* /opt/cni/bin */
	const char *cni_conf_dir;	/* /etc/cni/net.d */
	const char *cgroup_root;	/* "/kubepods": pod cgroups under it (cgroupfs) */
	unsigned node_status_interval_s; /* 60 */
	unsigned lease_interval_s;	/* 10 */
};

struct pods;		/* pods.c */
struct node_state;	/* node.c */
struct events;		/* events.c */
struct kl_server;	/* server.c */

struct kubelet {
	struct kubelet_config cfg;
	struct httpc_config http;	/* from the kubeconfig; strings owned by kc */
	struct kubeconfig *kc;
	struct cri *cri;
	char node_ip[64];		/* resolved at start */
	char runtime_version[64];	/* "containerd://1.6.20" */

	pthread_mutex_t lock;		/* guards the fields below */
	pthread_cond_t cond;		/* CLOCK_MONOTONIC (timed waits) */
	char pod_cidr[64];		/* "" until known */
	bool network_ready;		/* CNI configuration written */
	atomic_bool stopping;

	struct pods *pods;
	struct node_state *node;
	struct events *events;
	struct kl_server *server;
};

/* ---------------------------------------------------------------- node.c */

/* Register the Node, start status updates and the Lease. 0 or -errno. */
int node_start(struct kubelet *k);
void node_stop(struct kubelet *k);
/* Wait until the pod network is configured (CNI config written). false if stopping. */
bool kl_wait_network_ready(struct kubelet *k, int timeout_ms);
/* Ask node.c to push the Node status soon (e.g. the pod count changed). */
void node_status_poke(struct kubelet *k);

/* ---------------------------------------------------------------- pods.c */

/* Adopt running sandboxes, start the pod informer and workers. 0 or -errno. */
int pods_start(struct kubelet *k);
/* Stop workers (containers keep running: a kubelet restart does not kill pods). */
void pods_stop(struct kubelet *k);
/* Pods this kubelet is running now (for the Node status and /metrics). */
int pods_running_count(struct kubelet *k);
/*
 * Absolute path of a container's current log file (or the previous
 * instance's with previous). 0, -ENOENT (no such pod/container/instance).
 */
int pods_container_log_path(struct kubelet *k, const char *ns, const char *pod,
			    const char *container, bool previous, char *buf, size_t len);

/* ---------------------------------------------------------------- events.c */

int events_start(struct kubelet *k);
void events_stop(struct kubelet *k);
/*
 * Record an Event about obj (a Pod or the Node; borrowed). type "Normal" or
 * "Warning". Returns at once: events are sent in the background, repeats
 * of the same (object, reason, message) become a count on one Event.
 */
void kl_event(struct kubelet *k, const json_t *obj, const char *type, const char *reason,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The same for one container: field_path "spec.containers{web}" (may be NULL). */
void kl_event_at(struct kubelet *k, const json_t *obj, const char *field_path, const char *type,
		 const char *reason, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* ---------------------------------------------------------------- server.c */

int kl_server_start(struct kubelet *k);
void kl_server_stop(struct kubelet *k);

/* ---------------------------------------------------------------- paths */

/*
 * Where a pod's container logs go (the CRI LogDirectory of its sandbox):
 * <root>/pod-logs/<namespace>_<name>_<uid>. A container instance logs to
 * <that>/<container name>/<restart count>.log in the CRI log format
 * "<RFC3339Nano> stdout|stderr F|P <text>".
 */
void kl_pod_log_dir(const struct kubelet *k, const char *ns, const char *name, const char *uid,
		    char *buf, size_t len);

#endif
