/*
 * pods.h - the inside of the kubelet's pod lifecycle, shared by pods.c and
 * the modules beside it:
 *
 *   pods.c          the pod informer, one worker thread per pod, the orphan
 *                   sweep (at start and every minute), and the real
 *                   environment (cri.c, httpc, events.c, node.c) behind
 *                   struct pods_env
 *   pods_sync.c     one reconcile pass of one pod: sandbox, images, init
 *                   containers, containers, restarts, probes, status,
 *                   termination and deletion
 *   pods_runtime.c  what CRI says about pods (struct pods_view) and which
 *                   sandboxes/containers belong to no pod (adoption)
 *   pods_backoff.c  the restart / image pull back-off schedule
 *   containers.c    pod spec -> CRI PodSandboxConfig / ContainerConfig
 *   podstatus.c     CRI view + kubelet knowledge -> the Pod's status
 *   probes.c        liveness, readiness and startup probes
 *   cgroups.c       the pod cgroup directories (cgroupfs layout)
 *
 * Every CRI call, API request, Event, clock read and wait for the network
 * goes through struct pods_env, so the whole lifecycle runs in unit tests
 * against an in-memory CRI and API server (tests/unit/test_kubelet_pods_fake.c).
 *
 * Identity: CRI objects are tied to pods by the labels upstream's kubelet
 * puts on them (io.kubernetes.pod.uid, .name, .namespace on sandboxes and
 * containers, io.kubernetes.container.name on containers), so `crictl pods`
 * and `crictl ps` show what a Kubernetes user expects, and nothing else
 * needs to be stored on disk: a restarted kubelet finds its pods by label.
 */
#ifndef CAPSTAN_KUBELET_PODS_H
#define CAPSTAN_KUBELET_PODS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#define PODS_LABEL_UID "io.kubernetes.pod.uid"
#define PODS_LABEL_NAME "io.kubernetes.pod.name"
#define PODS_LABEL_NAMESPACE "io.kubernetes.pod.namespace"
#define PODS_LABEL_CONTAINER "io.kubernetes.container.name"
/* Annotations on containers (upstream's names where upstream has one). */
#define PODS_ANN_RESTART_COUNT "io.kubernetes.container.restartCount"
#define PODS_ANN_HASH "io.kubernetes.container.hash"

/* How often a pod is reconciled when nothing wakes its worker earlier. */
#define PODS_RESYNC_NS (2 * 1000000000LL)
#define PODS_NS_PER_S 1000000000LL

struct kcg;

/*
 * The world as the pod lifecycle sees it. Real implementation in pods.c;
 * fakes in the unit tests. Every function pointer is required but services.
 */
struct pods_env {
	void *ctx;
	/* cri_call()'s contract: 0, a positive gRPC code (message in err), or -errno. */
	int (*cri)(void *ctx, const char *method, const ProtobufCMessage *req,
		   const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
		   int timeout_ms, char *err, size_t errlen);
	/*
	 * One API server request with a JSON body (NULL for none) of content_type
	 * (NULL = application/json). The HTTP status (> 0) or -errno; *out (may
	 * be NULL) gets the parsed answer or NULL.
	 */
	int (*api)(void *ctx, const char *method, const char *path, const char *content_type,
		   const json_t *body, json_t **out);
	/*
	 * kl_event() with a formatted message; field_path is NULL for the pod,
	 * "spec.containers{name}" for one of its containers.
	 */
	void (*event)(void *ctx, const json_t *pod, const char *field_path, const char *type,
		      const char *reason, const char *msg);
	/* kl_wait_network_ready(). */
	bool (*network_ready)(void *ctx, int timeout_ms);
	/* Wall clock, nanoseconds since the epoch (CRI timestamps use it too). */
	int64_t (*now)(void *ctx);

	/* kl_pod_log_dir(). */
	void (*pod_log_dir)(void *ctx, const char *ns, const char *name, const char *uid, char *buf,
			    size_t len);

	/*
	 * Every Service (a new array), or NULL while they have not been read
	 * once: containers wait, as upstream's do. NULL function: no service
	 * variables (tests).
	 */
	json_t *(*services)(void *ctx);

	const char *node_name;
	const char *node_ip;
	const char *root_dir;	 /* the kubelet's; pod directories in <root_dir>/pods/<uid> */
	const char *cgroup_root; /* "/kubepods" */
	const struct kcg *cg;	 /* NULL: pod cgroups are not managed (tests) */
	int64_t mem_capacity;	 /* node memory, bytes (oom_score_adj, resourceFieldRef) */
	int cpu_capacity;	 /* node CPUs (resourceFieldRef) */
};

/* ------------------------------------------------------------ pods.c */

struct kubelet;

/*
 * pods_start() with env instead of the real environment (env copied; its
 * ctx must outlive pods_stop). The informer still reads k->http; NULL env
 * is pods_start(). Tests use it to run the informer, threads and sweep
 * against a fake runtime. 0 or -errno.
 */
int pods_start_env(struct kubelet *k, const struct pods_env *env);

/* ------------------------------------------------------------ pods_runtime.c */

enum pods_ctr_state {
	PODS_CTR_CREATED = 0, /* the CRI enum's values */
	PODS_CTR_RUNNING = 1,
	PODS_CTR_EXITED = 2,
	PODS_CTR_UNKNOWN = 3,
};

struct pods_sandbox {
	char *id;
	char *uid, *name, *ns; /* from the labels ("" when absent) */
	unsigned attempt;
	bool ready;
	int64_t created_ns;
	/* From PodSandboxStatus (loaded for ready sandboxes of one pod only). */
	char *ip;    /* "" when none */
	json_t *ips; /* array of strings: ip first, then the additional ones */
};

struct pods_ctr {
	char *id, *sandbox_id;
	char *uid, *name; /* pod uid and container name (labels) */
	unsigned attempt;
	enum pods_ctr_state state;
	int64_t created_ns, started_ns, finished_ns;
	int exit_code;
	char *reason, *message; /* CRI's ("OOMKilled", ...), "" when none */
	char *image, *image_ref;
	char *log_path; /* absolute, "" when unknown */
	char *hash;	/* PODS_ANN_HASH, "" when absent */
};

/* One pod's (or, for the sweep, every pod's) sandboxes and containers. */
struct pods_view {
	struct pods_sandbox *sb;
	size_t n_sb;
	struct pods_ctr *ctr;
	size_t n_ctr;
};

/*
 * Load from CRI the sandboxes and containers labelled with uid (all the
 * labelled ones when uid is NULL). With details, also ContainerStatus for
 * every container and PodSandboxStatus for ready sandboxes (IPs).
 * 0 on success with *out filled (free with pods_view_free); -errno or a
 * positive gRPC code with a message in err; *out is then empty.
 */
int pods_view_load(const struct pods_env *env, const char *uid, bool details, struct pods_view *out,
		   char *err, size_t errlen);
void pods_view_free(struct pods_view *v);

/*
 * The value of key in a protobuf-c map<string,string> field (entries, n:
 * e.g. (void *const *)sb->labels, sb->n_labels), or NULL when absent.
 */
const char *pods_map_get(void *const *entries, size_t n, const char *key);

/* The newest ready sandbox (highest attempt, then creation time), or NULL. */
const struct pods_sandbox *pods_view_current_sandbox(const struct pods_view *v);
/*
 * The newest instance of container name (highest attempt, then creation
 * time), optionally only in sandbox_id (NULL: any); with nth = 1 the one
 * before it, and so on. NULL when there is none.
 */
const struct pods_ctr *pods_view_instance(const struct pods_view *v, const char *name,
					  const char *sandbox_id, unsigned nth);
const struct pods_ctr *pods_view_find(const struct pods_view *v, const char *id);

/*
 * Adoption at start: which sandboxes and containers in `all` belong to no
 * known pod. known(ctx, uid) answers for one uid. Sandboxes or containers
 * without a uid label are someone else's and are left alone. *sandboxes
 * and *containers become NULL-terminated arrays of borrowed ids (free the
 * arrays, not the strings). Returns how many objects are to be removed.
 */
size_t pods_adopt_plan(const struct pods_view *all, bool (*known)(void *ctx, const char *uid),
		       void *ctx, const char ***sandboxes, const char ***containers);

/* ------------------------------------------------------------ pods_backoff.c */

/*
 * Kubernetes' back-off (flowcontrol.Backoff): the first failure is retried
 * at once, the next after 10 s, doubling to 5 min; an entry untouched for
 * twice the maximum (10 min) starts over.
 */
#define PODS_BACKOFF_INITIAL_NS (10 * PODS_NS_PER_S)
#define PODS_BACKOFF_MAX_NS (300 * PODS_NS_PER_S)

struct pods_backoff {
	int64_t delay_ns; /* 0: no entry */
	int64_t last_ns;  /* the event time of the last step */
};

/* Still waiting since event_ns (e.g. the container's finish time) at now_ns? */
bool pods_backoff_active(const struct pods_backoff *b, int64_t event_ns, int64_t now_ns);
/* Record a retry for an event at event_ns: start at 10 s or double, capped. */
void pods_backoff_next(struct pods_backoff *b, int64_t event_ns);
/* When the current wait for event_ns ends (0 without an entry). */
int64_t pods_backoff_until(const struct pods_backoff *b, int64_t event_ns);
/* "10s", "2m40s", "5m0s": Go's time.Duration spelling of whole seconds. */
void pods_backoff_string(int64_t ns, char *buf, size_t len);

/* ------------------------------------------------------------ pods_sync.c */

/*
 * rm -rf path, staying on its file system (a mount below it is left alone).
 * 0 (also when path does not exist) or -errno.
 */
int pods_remove_tree(const char *path);

struct pod_worker;

/*
 * A worker for one pod (keyed by its uid; the pod object is copied). NULL
 * when the pod has no uid, name or namespace.
 */
struct pod_worker *pods_worker_new(const struct pods_env *env, const json_t *pod);
void pods_worker_free(struct pod_worker *w);
const char *pods_worker_uid(const struct pod_worker *w);
/* The informer's latest version of the pod (copied); NULL: gone from the watch. */
void pods_worker_set_pod(struct pod_worker *w, const json_t *pod);
/*
 * One reconcile pass. Returns the wall-clock time (env->now) at which the
 * next pass is due, at the latest now + PODS_RESYNC_NS.
 */
int64_t pods_worker_sync(struct pod_worker *w);
/* Gone from the API and everything on the node removed: the worker can go. */
bool pods_worker_done(struct pod_worker *w);
/* Has a ready sandbox and is not terminal (for pods_running_count). */
bool pods_worker_running(struct pod_worker *w);
/* Namespace and name match (any uid), for the log lookup. */
bool pods_worker_is(struct pod_worker *w, const char *ns, const char *name);
/* pods_container_log_path for this pod: 0 or -ENOENT. */
int pods_worker_log_path(struct pod_worker *w, const char *container, bool previous, char *buf,
			 size_t len);

#endif
