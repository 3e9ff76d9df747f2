/*
 * containers.h - from a Pod's spec to what CRI is asked to run: the
 * PodSandboxConfig, each ContainerConfig (environment, command, resources,
 * security context, mounts), the QoS class and the pod-level cgroup limits.
 *
 * Everything here is a pure function of the pod, a little node knowledge
 * and, for configMapKeyRef / secretKeyRef / envFrom, a lookup callback, so
 * the mapping is tested against expected Runtime__V1__* contents without a
 * runtime. Messages are built on the heap, every string owned, and released
 * with protobuf_c_message_free_unpacked(msg, NULL).
 */
#ifndef CAPSTAN_KUBELET_CONTAINERS_H
#define CAPSTAN_KUBELET_CONTAINERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/kubelet/cgroups.h"
#include "agent/kubelet/cri.h"

#define PODS_CPU_PERIOD_US 100000

/* A container's requests and limits (0 / false when not given). */
struct pods_resources {
	int64_t cpu_request_milli, cpu_limit_milli;
	int64_t mem_request, mem_limit; /* bytes */
	bool has_cpu_limit, has_mem_limit;
};

void pods_container_resources(const json_t *container, struct pods_resources *out);
/* Upstream's GetPodQOS over init and regular containers. */
enum kcg_qos pods_qos(const json_t *pod);
/* The pod's qosClass: status.qosClass when the API server set one, else pods_qos. */
enum kcg_qos pods_pod_qos(const json_t *pod);
/* millicores * 1024 / 1000, at least 2 (and at most 262144). */
int64_t pods_cpu_shares(int64_t milli);
/* millicores * period / 1000, at least 1000 us. */
int64_t pods_cpu_quota(int64_t milli, int64_t period_us);
/* Upstream's oom_score_adj: Guaranteed -997, BestEffort 1000, Burstable by request. */
int pods_oom_score_adj(enum kcg_qos qos, int64_t mem_request, int64_t mem_capacity);
/*
 * Pod cgroup limits: shares from the summed CPU requests (the largest init
 * container's if larger), CFS quota and memory limit only when every
 * container has that limit.
 */
void pods_pod_limits(const json_t *pod, struct kcg_limits *out);

/*
 * Kubernetes' $(VAR) expansion: $(NAME) becomes the value of NAME in vars
 * (an object of strings) and stays as written when NAME is not there; $$
 * is a literal $; any other $ stays. Returns a new string.
 */
char *pods_expand(const char *in, const json_t *vars);

/* FNV-1a of the container's spec (sorted compact JSON): restarts on change. */
void pods_container_hash(const json_t *container, char *buf, size_t len);

/*
 * Look up a ConfigMap or Secret (kind "configmaps" / "secrets") by
 * namespace and name: 0 with *out (a new reference), -ENOENT when it does
 * not exist, another -errno when it could not be read.
 */
typedef int (*pods_lookup_fn)(void *ctx, const char *kind, const char *ns, const char *name,
			      json_t **out);

/* What a container's configuration is built from. */
struct pods_ctr_input {
	const json_t *pod;
	const json_t *container; /* an element of spec.containers / initContainers */
	unsigned attempt;	 /* = restart count */
	const char *image;	 /* image to run (the pulled image id); NULL: spec image */
	int64_t image_uid;	 /* the image's user id, -1 unknown (runAsNonRoot) */
	const char *image_user;	 /* the image's user name, NULL unknown */
	const char *pod_ip;	 /* "" before the sandbox has one */
	const json_t *pod_ips;	 /* array of strings, or NULL */
	const char *host_ip;
	const char *node_name;
	const char *pod_dir;  /* <kubelet root>/pods/<uid>: emptyDir volumes */
	int64_t mem_capacity; /* node, bytes */
	int cpu_capacity;     /* node CPUs */
	pods_lookup_fn lookup;
	void *lookup_ctx;
	const json_t *services; /* Service objects for pods_service_env; NULL: none */
};

/*
 * Kubernetes' service environment variables for a pod in namespace ns:
 * for each service with a cluster IP (headless and ExternalName services
 * have none) NAME_SERVICE_HOST, NAME_SERVICE_PORT (the first port),
 * NAME_SERVICE_PORT_<PORTNAME> per named port, and the Docker-link forms
 * NAME_PORT=tcp://IP:PORT (first port) and NAME_PORT_<PORT>_<PROTO> with
 * its _PROTO, _PORT and _ADDR, where NAME is the service name upper-cased
 * with '-' as '_'. The master service (default/kubernetes) always counts;
 * the others only when they are in ns and links (spec.enableServiceLinks)
 * is true; a service of ns wins over the master one of the same name.
 * A new object name -> value.
 */
json_t *pods_service_env(const json_t *services, const char *ns, bool links);

/*
 * The container's environment, in order (the service variables first, then
 * envFrom sources, then env, so $(VAR) in env sees the service variables
 * and a later definition replaces an earlier one in place): a new object of
 * name -> value. 0; -EINVAL / -ENOENT with the message upstream puts in a
 * CreateContainerConfigError (missing ConfigMap, key, unsupported fieldPath).
 */
int pods_container_env(const struct pods_ctr_input *in, json_t **out, char *err, size_t errlen);

/*
 * The whole ContainerConfig. log_path is "<name>/<attempt>.log" (relative
 * to the sandbox's log directory). 0 with *out; -errno with err as above.
 */
int pods_container_config(const struct pods_ctr_input *in, Runtime__V1__ContainerConfig **out,
			  char *err, size_t errlen);

/*
 * The PodSandboxConfig: metadata, hostname, log directory, port mappings
 * from hostPorts, labels and annotations, cgroup parent, namespaces,
 * run-as ids, sysctls. 0 with *out, -EINVAL for a pod without identity.
 */
int pods_sandbox_config(const json_t *pod, unsigned attempt, const char *log_dir,
			const char *cgroup_parent, Runtime__V1__PodSandboxConfig **out);

/*
 * Create what the pod's volumes need on the node: the emptyDir directories
 * under pod_dir (<kubelet root>/pods/<uid>) and hostPath directories of
 * type DirectoryOrCreate. 0 or -errno with a message in err.
 */
int pods_volumes_prepare(const json_t *pod, const char *pod_dir, char *err, size_t errlen);

/* Heap message helpers shared with the rest of the pod lifecycle. */
void *pods_msg_new(const ProtobufCMessageDescriptor *desc);
/* A map entry message (key, value: fields 1 and 2) of desc, strings copied. */
void *pods_map_entry(const ProtobufCMessageDescriptor *desc, const char *key, const char *value);
/* Append val to a protobuf-c repeated field (count n, array arr). */
#define PODS_PUSH(n, arr, val)                                       \
	do {                                                         \
		(arr) = xrealloc((arr), ((n) + 1) * sizeof(*(arr))); \
		(arr)[(n)++] = (val);                                \
	} while (0)

#endif
