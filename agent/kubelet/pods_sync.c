/*
 * pods_sync.c - one pod's worker: reconcile what the spec asks for with
 * what CRI runs (see pods.h).
 *
 * A pass loads the pod's view from CRI and takes the first actions that
 * apply, in upstream's order: a sandbox when there is no ready one (after
 * the pod cgroup and, unless hostNetwork, the network); init containers one
 * at a time, each to exit 0 before the next; then every container that is
 * missing or exited and should restart per restartPolicy, through the
 * image (ImageStatus, PullImage per imagePullPolicy, with back-off), its
 * configuration, CreateContainer and StartContainer; kills for liveness or
 * startup failures and for a changed container spec. When a pass acted, the
 * next pass starts from a fresh view (a few per sync), so one sync
 * converges as far as it can without waiting; then due probes run, and the
 * status is computed and patched when it differs from what was last sent.
 *
 * The pass is driven by state, not by events: every decision is made again
 * from CRI's answer each time, so a kubelet restart, a lost update or a
 * failed call needs no recovery path. The only memory a worker has is what
 * CRI cannot tell: back-off entries, why a container waits (the "reason
 * cache"), probe results, and the status last sent.
 *
 * Restarted containers: the instance before the newest is kept (stopped),
 * as upstream's container GC keeps one, because it carries lastState and
 * the log of `kubectl logs --previous` across a kubelet restart; older ones
 * are removed with their log files when a new instance starts.
 *
 * Termination (deletionTimestamp, or gone from the watch): containers are
 * stopped in parallel, each with the grace period (CRI sends SIGTERM, waits,
 * SIGKILLs), then StopPodSandbox (CNI DEL), RemoveContainer,
 * RemovePodSandbox, the pod cgroup, pod directory and logs, and finally the
 * DELETE with gracePeriodSeconds=0 and the pod's uid as precondition.
 * Pods that reach Succeeded/Failed get their sandbox stopped and keep their
 * containers (and logs) until deleted.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/kubelet/containers.h"
#include "agent/kubelet/podstatus.h"
#include "agent/kubelet/pods.h"
#include "agent/kubelet/probes.h"
#include "jsonx.h"
#include "log.h"
#include "util.h"

#define MAX_PASSES 6
#define CALL_TIMEOUT_MS 10000
#define SANDBOX_TIMEOUT_MS (4 * 60 * 1000)
#define PULL_TIMEOUT_MS (10 * 60 * 1000)
#define MIN_GRACE_S 2
#define PODS_SOON_NS (200 * 1000000LL)

static const char *const probe_keys[PROBE__MAX] = { "livenessProbe", "readinessProbe",
						    "startupProbe" };

/* What the worker remembers about one container of the spec. */
struct ctr_rt {
	char *name;
	bool init;
	char hash[32];		     /* spec hash the probes were set up from */
	struct pods_backoff restart; /* keyed by the instance's finish time */
	struct pods_backoff pull;    /* keyed by the last failed pull */
	char *reason, *message;	     /* why it waits; NULL when it does not */
	int64_t backoff_event_ns;    /* last BackOff event (they repeat every pass) */
	struct probe_set probes;
};

struct pod_worker {
	const struct pods_env *env;
	char *uid, *ns, *name;

	pthread_mutex_t mu; /* guards the fields up to the blank line */
	json_t *pod;	    /* the informer's latest; NULL once gone */
	json_t *last_pod;   /* the last one seen (for a pod that is gone) */
	json_t *logs;	    /* container -> {"cur": path|null, "prev": path|null} */
	bool running, done;

	/* Owned by the syncing thread. */
	struct ctr_rt *c;
	size_t n_c;
	json_t *sent;	  /* the owned status keys last patched */
	bool terminal;	  /* Succeeded or Failed */
	bool api_deleted; /* the final DELETE went through */
	struct pods_backoff sandbox_backoff;
	int64_t sandbox_failed_ns;
	json_t *stopped; /* ids of sandboxes this worker has stopped: { id: true } */
};

/* ---------------------------------------------------------------- helpers */

static int64_t now_ns(const struct pod_worker *w)
{
	return w->env->now(w->env->ctx);
}

static void next_at(int64_t *next, int64_t t)
{
	if (t > 0 && t < *next)
		*next = t;
}

/* The pod as format.Pod prints it in messages: name_namespace(uid). */
static void pod_label(const struct pod_worker *w, char *buf, size_t len)
{
	snprintf(buf, len, "%s_%s(%s)", w->name, w->ns, w->uid);
}

static bool is_init(const json_t *pod, const char *name)
{
	const json_t *c;
	size_t i;

	json_array_foreach(jsonx_arr(jsonx_obj(pod, "spec"), "initContainers"), i, c)
		if (!strcmp(jsonx_str(c, "name", ""), name))
			return true;
	return false;
}

/*
 * An Event about the pod, or about one of its containers (cname) with
 * upstream's fieldPath "spec.containers{name}" / "spec.initContainers{name}".
 */
static void event(struct pod_worker *w, const json_t *pod, const char *cname, const char *type,
		  const char *reason, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void event(struct pod_worker *w, const json_t *pod, const char *cname, const char *type,
		  const char *reason, const char *fmt, ...)
{
	char *msg = NULL, *path = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (cname)
		path = xasprintf("spec.%s{%s}",
				 is_init(pod, cname) ? "initContainers" : "containers", cname);
	if (msg)
		w->env->event(w->env->ctx, pod, path, type, reason, msg);
	free(path);
	free(msg);
}

/*
 * A back-off is re-checked on every pass (every 2 s): tell it at most every
 * 10 s, about what a 10 s resync would report, so the Event's count stays
 * meaningful.
 */
static bool backoff_event_due(struct ctr_rt *ct, int64_t now)
{
	if (now - ct->backoff_event_ns < 10 * PODS_NS_PER_S && ct->backoff_event_ns)
		return false;
	ct->backoff_event_ns = now;
	return true;
}

/* One CRI call; err always says something on failure. */
static int call(struct pod_worker *w, const char *method, const ProtobufCMessage *req,
		const ProtobufCMessageDescriptor *desc, void *resp, int timeout_ms, char *err,
		size_t errlen)
{
	ProtobufCMessage *r = NULL;
	int rc;

	err[0] = '\0';
	rc = w->env->cri(w->env->ctx, method, req, desc, &r, timeout_ms, err, errlen);
	if (rc == 0) {
		if (resp)
			*(ProtobufCMessage **)resp = r;
		else if (r)
			protobuf_c_message_free_unpacked(r, NULL);
	} else if (!err[0]) {
		snprintf(err, errlen, "%s", rc < 0 ? strerror(-rc) : "rpc error");
	}
	return rc;
}

static void set_reason(struct ctr_rt *ct, const char *reason, const char *message)
{
	free(ct->reason);
	free(ct->message);
	ct->reason = reason ? xstrdup(reason) : NULL;
	ct->message = message && *message ? xstrdup(message) : NULL;
}

static struct ctr_rt *rt(struct pod_worker *w, const char *name)
{
	for (size_t i = 0; i < w->n_c; i++)
		if (!strcmp(w->c[i].name, name))
			return &w->c[i];
	return NULL;
}

/* Keep one ctr_rt per container of the spec; re-read probes when a spec changes. */
static void track_containers(struct pod_worker *w, const json_t *pod)
{
	static const char *const lists[] = { "initContainers", "containers" };
	const json_t *c;
	size_t i;

	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		json_array_foreach(jsonx_arr(jsonx_obj(pod, "spec"), lists[l]), i, c) {
			const char *name = jsonx_str(c, "name", "");
			struct ctr_rt *ct = rt(w, name);
			char hash[32];

			if (!*name)
				continue;
			if (!ct) {
				w->c = xrealloc(w->c, (w->n_c + 1) * sizeof(*w->c));
				ct = &w->c[w->n_c++];
				memset(ct, 0, sizeof(*ct));
				ct->name = xstrdup(name);
				ct->init = l == 0;
			}
			pods_container_hash(c, hash, sizeof(hash));
			if (strcmp(ct->hash, hash)) {
				snprintf(ct->hash, sizeof(ct->hash), "%s", hash);
				/* Init containers have no probes (validation forbids them). */
				probe_set_init(&ct->probes, ct->init ? NULL : c);
			}
		}
	}
}

static bool host_network(const json_t *pod)
{
	return jsonx_path_bool(pod, "spec.hostNetwork", false);
}

static int64_t grace_of(const json_t *pod)
{
	long long g = jsonx_path_int(pod, "spec.terminationGracePeriodSeconds", 30);

	return g < MIN_GRACE_S ? MIN_GRACE_S : g;
}

static void log_dir(const struct pod_worker *w, char *buf, size_t len)
{
	w->env->pod_log_dir(w->env->ctx, w->ns, w->name, w->uid, buf, len);
}

static void cgroup_parent(const struct pod_worker *w, const json_t *pod, char *buf, size_t len)
{
	buf[0] = '\0';
	if (w->env->cgroup_root &&
	    kcg_pod_parent(w->env->cgroup_root, pods_pod_qos(pod), w->uid, buf, len) < 0)
		buf[0] = '\0';
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int pods_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 ? -errno : 0;
}

static void mkdir_quiet(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		log_debug("mkdir %s: %s", path, strerror(errno));
}

/* The log file of an instance: CRI's path, else where it was asked to write. */
static char *instance_log(const struct pod_worker *w, const struct pods_ctr *c)
{
	char dir[1024];

	if (c->log_path && *c->log_path)
		return xstrdup(c->log_path);
	log_dir(w, dir, sizeof(dir));
	return xasprintf("%s/%s/%u.log", dir, c->name, c->attempt);
}

/* ---------------------------------------------------------------- CRI actions */

static int stop_container(struct pod_worker *w, const char *id, int64_t grace_s, char *err,
			  size_t errlen)
{
	Runtime__V1__StopContainerRequest req = RUNTIME__V1__STOP_CONTAINER_REQUEST__INIT;

	req.container_id = (char *)id;
	req.timeout = grace_s;
	return call(w, "/runtime.v1.RuntimeService/StopContainer", &req.base,
		    &runtime__v1__stop_container_response__descriptor, NULL,
		    (int)(grace_s + 15) * 1000, err, errlen);
}

static int remove_container(struct pod_worker *w, const char *id, char *err, size_t errlen)
{
	Runtime__V1__RemoveContainerRequest req = RUNTIME__V1__REMOVE_CONTAINER_REQUEST__INIT;
	int rc;

	req.container_id = (char *)id;
	rc = call(w, "/runtime.v1.RuntimeService/RemoveContainer", &req.base,
		  &runtime__v1__remove_container_response__descriptor, NULL, CALL_TIMEOUT_MS, err,
		  errlen);
	return rc == CRI_NOT_FOUND ? 0 : rc;
}

static int sandbox_call(struct pod_worker *w, const char *method,
			const ProtobufCMessageDescriptor *desc, const char *id, char *err,
			size_t errlen)
{
	/* Stop and Remove requests share their layout: { base, pod_sandbox_id }. */
	Runtime__V1__StopPodSandboxRequest req = RUNTIME__V1__STOP_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__RemovePodSandboxRequest rreq = RUNTIME__V1__REMOVE_POD_SANDBOX_REQUEST__INIT;
	bool stop = desc == &runtime__v1__stop_pod_sandbox_response__descriptor;
	int rc;

	req.pod_sandbox_id = (char *)id;
	rreq.pod_sandbox_id = (char *)id;
	rc = call(w, method, stop ? &req.base : &rreq.base, desc, NULL,
		  stop ? SANDBOX_TIMEOUT_MS : CALL_TIMEOUT_MS, err, errlen);
	return rc == CRI_NOT_FOUND ? 0 : rc;
}

static int stop_sandbox(struct pod_worker *w, const char *id, char *err, size_t errlen)
{
	return sandbox_call(w, "/runtime.v1.RuntimeService/StopPodSandbox",
			    &runtime__v1__stop_pod_sandbox_response__descriptor, id, err, errlen);
}

static int remove_sandbox(struct pod_worker *w, const char *id, char *err, size_t errlen)
{
	return sandbox_call(w, "/runtime.v1.RuntimeService/RemovePodSandbox",
			    &runtime__v1__remove_pod_sandbox_response__descriptor, id, err, errlen);
}

/*
 * A sandbox that stopped being ready on its own (its pause process died)
 * still holds its network namespace and address until StopPodSandbox runs
 * the CNI DEL; containerd also refuses to remove it before. Stop each such
 * sandbox once.
 */
static void stop_once(struct pod_worker *w, const struct pods_sandbox *sb)
{
	char err[512];

	if (json_object_get(w->stopped, sb->id))
		return;
	if (stop_sandbox(w, sb->id, err, sizeof(err)) == 0)
		json_object_set_new(w->stopped, sb->id, json_true());
	else
		log_warn("pod %s/%s: stop sandbox %s: %s", w->ns, w->name, sb->id, err);
}

/* Kill one instance with a Killing event. */
static void kill_one(struct pod_worker *w, const json_t *pod, const struct pods_ctr *c,
		     int64_t grace_s, const char *why)
{
	char err[512];

	event(w, pod, c->name, "Normal", "Killing", "%s", why);
	if (stop_container(w, c->id, grace_s, err, sizeof(err)))
		log_warn("pod %s/%s: stop container %s: %s", w->ns, w->name, c->name, err);
}

struct kill_job {
	struct pod_worker *w;
	const char *id;
	int64_t grace_s;
	int rc;
	char err[256];
	pthread_t th;
	bool threaded;
};

static void *kill_thread(void *arg)
{
	struct kill_job *j = arg;

	j->rc = stop_container(j->w, j->id, j->grace_s, j->err, sizeof(j->err));
	return NULL;
}

/*
 * Stop every running instance at once, each with the whole grace period
 * (sequential stops would hand the later containers only what is left).
 * 0 or the first failure.
 */
static int kill_all(struct pod_worker *w, const json_t *pod, const struct pods_view *v,
		    int64_t grace_s)
{
	struct kill_job *jobs = xcalloc(v->n_ctr + 1, sizeof(*jobs));
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < v->n_ctr; i++) {
		const struct pods_ctr *c = &v->ctr[i];

		if (c->state != PODS_CTR_RUNNING && c->state != PODS_CTR_UNKNOWN)
			continue;
		if (pod)
			event(w, pod, c->name, "Normal", "Killing", "Stopping container %s",
			      c->name);
		jobs[n] = (struct kill_job){ .w = w, .id = c->id, .grace_s = grace_s };
		jobs[n].threaded = pthread_create(&jobs[n].th, NULL, kill_thread, &jobs[n]) == 0;
		if (!jobs[n].threaded)
			kill_thread(&jobs[n]);
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].threaded)
			pthread_join(jobs[i].th, NULL);
		if (jobs[i].rc && !rc) {
			log_warn("pod %s/%s: stop container: %s", w->ns, w->name, jobs[i].err);
			rc = jobs[i].rc;
		}
	}
	free(jobs);
	return rc;
}

/* ---------------------------------------------------------------- images */

static const char *default_pull_policy(const char *image)
{
	const char *slash = strrchr(image, '/'), *colon = strrchr(image, ':');

	if (strchr(image, '@'))
		return "IfNotPresent";
	if (!colon || (slash && colon < slash))
		return "Always";
	return strcmp(colon + 1, "latest") ? "IfNotPresent" : "Always";
}

struct image_info {
	char ref[512];	/* the image id to run */
	int64_t uid;	/* image user id, -1 when it names a user */
	char user[128]; /* image user name, "" when numeric or none */
	uint64_t size;
};

/* ImageStatus: 1 present (info filled), 0 absent, <0 / >0 failure. */
static int image_status(struct pod_worker *w, const char *image, struct image_info *info, char *err,
			size_t errlen)
{
	Runtime__V1__ImageStatusRequest req = RUNTIME__V1__IMAGE_STATUS_REQUEST__INIT;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__ImageStatusResponse *resp = NULL;
	int rc;

	spec.image = (char *)image;
	req.image = &spec;
	rc = call(w, "/runtime.v1.ImageService/ImageStatus", &req.base,
		  &runtime__v1__image_status_response__descriptor, &resp, CALL_TIMEOUT_MS, err,
		  errlen);
	if (rc)
		return rc < 0 ? rc : -EIO;
	rc = resp->image && resp->image->id && *resp->image->id;
	if (rc) {
		Runtime__V1__Image *im = resp->image;

		snprintf(info->ref, sizeof(info->ref), "%s", im->id);
		snprintf(info->user, sizeof(info->user), "%s", im->username ? im->username : "");
		/* No uid and no user name: the image runs as root. */
		info->uid = im->uid ? im->uid->value : (info->user[0] ? -1 : 0);
		info->size = im->size;
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rc;
}

/*
 * Make the container's image available per imagePullPolicy. 0 with info
 * filled; -1 with the container's waiting reason set (and *next moved to
 * the end of a pull back-off).
 */
static int ensure_image(struct pod_worker *w, const json_t *pod, const json_t *spec_c,
			struct ctr_rt *ct, const Runtime__V1__PodSandboxConfig *sbcfg,
			struct image_info *info, int64_t *next)
{
	const char *image = jsonx_str(spec_c, "image", "");
	const char *policy = jsonx_str(spec_c, "imagePullPolicy", default_pull_policy(image));
	Runtime__V1__PullImageRequest req = RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__PullImageResponse *resp = NULL;
	char err[1024], *msg;
	int64_t now = now_ns(w), t0;
	int present, rc;

	present = image_status(w, image, info, err, sizeof(err));
	if (present < 0) {
		set_reason(ct, "ErrImageInspect", err);
		event(w, pod, ct->name, "Warning", "InspectFailed",
		      "Failed to inspect image \"%s\": %s", image, err);
		return -1;
	}
	if (present && strcmp(policy, "Always")) {
		event(w, pod, ct->name, "Normal", "Pulled",
		      "Container image \"%s\" already present on machine", image);
		return 0;
	}
	if (!strcmp(policy, "Never")) {
		msg = xasprintf("Container image \"%s\" is not present with pull policy of Never",
				image);
		set_reason(ct, "ErrImageNeverPull", msg);
		event(w, pod, ct->name, "Warning", "ErrImageNeverPull", "%s", msg);
		free(msg);
		return -1;
	}
	if (pods_backoff_active(&ct->pull, ct->pull.last_ns, now)) {
		msg = xasprintf("Back-off pulling image \"%s\"", image);
		set_reason(ct, "ImagePullBackOff", msg);
		if (backoff_event_due(ct, now)) {
			event(w, pod, ct->name, "Normal", "BackOff", "%s", msg);
			event(w, pod, ct->name, "Warning", "Failed", "Error: ImagePullBackOff");
		}
		next_at(next, pods_backoff_until(&ct->pull, ct->pull.last_ns));
		free(msg);
		return -1;
	}
	event(w, pod, ct->name, "Normal", "Pulling", "Pulling image \"%s\"", image);
	spec.image = (char *)image;
	req.image = &spec;
	req.sandbox_config = (Runtime__V1__PodSandboxConfig *)sbcfg;
	t0 = now_ns(w);
	rc = call(w, "/runtime.v1.ImageService/PullImage", &req.base,
		  &runtime__v1__pull_image_response__descriptor, &resp, PULL_TIMEOUT_MS, err,
		  sizeof(err));
	if (rc) {
		event(w, pod, ct->name, "Warning", "Failed", "Failed to pull image \"%s\": %s",
		      image, err);
		event(w, pod, ct->name, "Warning", "Failed", "Error: ErrImagePull");
		set_reason(ct, "ErrImagePull", err);
		pods_backoff_next(&ct->pull, now_ns(w));
		next_at(next, pods_backoff_until(&ct->pull, ct->pull.last_ns));
		return -1;
	}
	{
		double secs = (double)(now_ns(w) - t0) / 1e9;
		const char *ref = resp->image_ref && *resp->image_ref ? resp->image_ref : image;

		snprintf(info->ref, sizeof(info->ref), "%s", ref);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		if (image_status(w, image, info, err, sizeof(err)) <= 0) {
			info->uid = -1;
			info->user[0] = '\0';
		}
		event(w, pod, ct->name, "Normal", "Pulled",
		      "Successfully pulled image \"%s\" in %.3fs (%.3fs including waiting). Image "
		      "size: %llu bytes.",
		      image, secs, secs, (unsigned long long)info->size);
	}
	/* A success forgets earlier failures (upstream collects its entries). */
	memset(&ct->pull, 0, sizeof(ct->pull));
	return 0;
}

/* ---------------------------------------------------------------- containers */

static int lookup(void *ctx, const char *kind, const char *ns, const char *name, json_t **out)
{
	struct pod_worker *w = ctx;
	char *path = xasprintf("/api/v1/namespaces/%s/%s/%s", ns, kind, name);
	int rc = w->env->api(w->env->ctx, "GET", path, NULL, NULL, out);

	free(path);
	if (rc == 200 && *out)
		return 0;
	json_decref(*out);
	*out = NULL;
	if (rc == 404)
		return -ENOENT;
	return rc < 0 ? rc : -EIO;
}

/* Remove instances of name older than the one before attempt, with their logs. */
static void gc_instances(struct pod_worker *w, const struct pods_view *v, const char *name,
			 unsigned attempt)
{
	char err[256];

	for (size_t i = 0; i < v->n_ctr; i++) {
		const struct pods_ctr *c = &v->ctr[i];
		char *log;

		if (strcmp(c->name, name) || c->attempt + 1 >= attempt ||
		    c->state == PODS_CTR_RUNNING)
			continue;
		log = instance_log(w, c);
		if (remove_container(w, c->id, err, sizeof(err)) == 0)
			unlink(log);
		else
			log_warn("pod %s/%s: remove container %s: %s", w->ns, w->name, c->id, err);
		free(log);
	}
}

/*
 * The attempt of a container's first instance in this view: one past what
 * the status says when CRI forgot earlier ones (e.g. a new sandbox after a
 * node reboot), so restart counts never go back.
 */
static unsigned first_attempt(const json_t *pod, const char *name, bool init)
{
	const json_t *s;
	size_t i;

	json_array_foreach(jsonx_arr(jsonx_obj(pod, "status"),
				     init ? "initContainerStatuses" : "containerStatuses"),
			   i, s)
		if (!strcmp(jsonx_str(s, "name", ""), name) && *jsonx_str(s, "containerID", ""))
			return (unsigned)jsonx_int(s, "restartCount", 0) + 1;
	return 0;
}

struct pass {
	const json_t *pod;
	const struct pods_view *v;
	const struct pods_sandbox *sb;
	Runtime__V1__PodSandboxConfig *sbcfg; /* of sb, built on first use */
	int64_t now;
	int64_t *next;
};

static Runtime__V1__PodSandboxConfig *pass_sandbox_config(struct pod_worker *w, struct pass *p)
{
	char dir[1024], cg[512];

	if (!p->sbcfg) {
		log_dir(w, dir, sizeof(dir));
		cgroup_parent(w, p->pod, cg, sizeof(cg));
		if (pods_sandbox_config(p->pod, p->sb ? p->sb->attempt : 0, dir, cg, &p->sbcfg))
			p->sbcfg = NULL;
	}
	return p->sbcfg;
}

static const char *pod_ip_of(const struct pod_worker *w, const json_t *pod,
			     const struct pods_sandbox *sb)
{
	if (host_network(pod))
		return w->env->node_ip ? w->env->node_ip : "";
	return sb && sb->ip ? sb->ip : "";
}

/* StartContainer with its events. 0, or the failure (recorded as RunContainerError). */
static int start_instance(struct pod_worker *w, const json_t *pod, struct ctr_rt *ct,
			  const char *id)
{
	Runtime__V1__StartContainerRequest req = RUNTIME__V1__START_CONTAINER_REQUEST__INIT;
	char err[1024];
	int rc;

	req.container_id = (char *)id;
	rc = call(w, "/runtime.v1.RuntimeService/StartContainer", &req.base,
		  &runtime__v1__start_container_response__descriptor, NULL, CALL_TIMEOUT_MS * 3,
		  err, sizeof(err));
	if (rc) {
		set_reason(ct, "RunContainerError", err);
		event(w, pod, ct->name, "Warning", "Failed", "Error: %s", err);
		return rc;
	}
	event(w, pod, ct->name, "Normal", "Started", "Started container %s", ct->name);
	set_reason(ct, NULL, NULL);
	return 0;
}

/* Create and start one instance. true when CRI state changed. */
static bool start_container(struct pod_worker *w, struct pass *p, const json_t *spec_c,
			    struct ctr_rt *ct, unsigned attempt)
{
	Runtime__V1__CreateContainerRequest creq = RUNTIME__V1__CREATE_CONTAINER_REQUEST__INIT;
	Runtime__V1__CreateContainerResponse *cresp = NULL;
	Runtime__V1__ContainerConfig *cfg = NULL;
	Runtime__V1__PodSandboxConfig *sbcfg = pass_sandbox_config(w, p);
	const char *name = ct->name;
	struct image_info img = { .uid = -1 };
	char err[1024], dir[1024], pod_dir[1024];
	struct pods_ctr_input in;
	int rc;

	json_t *services = NULL;

	if (!sbcfg)
		return false;
	if (ensure_image(w, p->pod, spec_c, ct, sbcfg, &img, p->next))
		return false;
	if (w->env->services && !(services = w->env->services(w->env->ctx))) {
		snprintf(err, sizeof(err),
			 "services have not yet been read at least once, "
			 "cannot construct envvars");
		set_reason(ct, "CreateContainerConfigError", err);
		return false;
	}
	snprintf(pod_dir, sizeof(pod_dir), "%s/pods/%s", w->env->root_dir ? w->env->root_dir : "",
		 w->uid);
	in = (struct pods_ctr_input){
		.pod = p->pod,
		.container = spec_c,
		.attempt = attempt,
		.image = img.ref[0] ? img.ref : NULL,
		.image_uid = img.uid,
		.image_user = img.user[0] ? img.user : NULL,
		.pod_ip = pod_ip_of(w, p->pod, p->sb),
		.pod_ips = host_network(p->pod) ? NULL : p->sb->ips,
		.host_ip = w->env->node_ip,
		.node_name = w->env->node_name,
		.pod_dir = w->env->root_dir ? pod_dir : NULL,
		.mem_capacity = w->env->mem_capacity,
		.cpu_capacity = w->env->cpu_capacity,
		.lookup = lookup,
		.lookup_ctx = w,
		.services = services,
	};
	rc = w->env->root_dir ? pods_volumes_prepare(p->pod, pod_dir, err, sizeof(err)) : 0;
	if (!rc)
		rc = pods_container_config(&in, &cfg, err, sizeof(err));
	json_decref(services);
	if (rc) {
		set_reason(ct, "CreateContainerConfigError", err);
		event(w, p->pod, name, "Warning", "Failed", "Error: %s", err);
		return false;
	}
	/* containerd creates the file, not always its directory. */
	log_dir(w, dir, sizeof(dir));
	mkdir_quiet(dir);
	snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/%s", name);
	mkdir_quiet(dir);

	creq.pod_sandbox_id = p->sb->id;
	creq.config = cfg;
	creq.sandbox_config = sbcfg;
	rc = call(w, "/runtime.v1.RuntimeService/CreateContainer", &creq.base,
		  &runtime__v1__create_container_response__descriptor, &cresp, CALL_TIMEOUT_MS * 3,
		  err, sizeof(err));
	protobuf_c_message_free_unpacked(&cfg->base, NULL);
	if (rc) {
		set_reason(ct, "CreateContainerError", err);
		event(w, p->pod, name, "Warning", "Failed", "Error: %s", err);
		return false;
	}
	event(w, p->pod, name, "Normal", "Created", "Created container %s", name);
	rc = start_instance(w, p->pod, ct, cresp->container_id);
	protobuf_c_message_free_unpacked(&cresp->base, NULL);
	if (!rc)
		gc_instances(w, p->v, name, attempt);
	return true;
}

/* Start an instance that CRI created but never started (a kubelet died in between). */
static bool start_created(struct pod_worker *w, struct pass *p, const struct pods_ctr *c)
{
	struct ctr_rt *ct = rt(w, c->name);

	if (ct)
		start_instance(w, p->pod, ct, c->id);
	return ct != NULL;
}

/* Start (or restart, honouring the back-off) a container. true when CRI changed. */
static bool restart(struct pod_worker *w, struct pass *p, const json_t *spec_c, struct ctr_rt *ct,
		    const struct pods_ctr *last)
{
	char pod[600], delay[32];

	if (last && last->state == PODS_CTR_EXITED) {
		if (pods_backoff_active(&ct->restart, last->finished_ns, p->now)) {
			char *msg;

			pod_label(w, pod, sizeof(pod));
			pods_backoff_string(ct->restart.delay_ns, delay, sizeof(delay));
			msg = xasprintf("back-off %s restarting failed container=%s pod=%s", delay,
					ct->name, pod);
			set_reason(ct, "CrashLoopBackOff", msg);
			free(msg);
			if (backoff_event_due(ct, p->now))
				event(w, p->pod, ct->name, "Warning", "BackOff",
				      "Back-off restarting failed container %s in pod %s", ct->name,
				      pod);
			next_at(p->next, pods_backoff_until(&ct->restart, last->finished_ns));
			return false;
		}
		pods_backoff_next(&ct->restart, last->finished_ns);
	}
	return start_container(w, p, spec_c, ct,
			       last ? last->attempt + 1
				    : first_attempt(p->pod, ct->name, ct->init));
}

/* Init containers, in order. Returns 1 when all succeeded, 0 waiting, 2 acted. */
static int sync_init(struct pod_worker *w, struct pass *p)
{
	const char *policy = jsonx_path_str(p->pod, "spec.restartPolicy", "Always");
	const json_t *ic;
	size_t i;

	json_array_foreach(jsonx_arr(jsonx_obj(p->pod, "spec"), "initContainers"), i, ic) {
		const char *name = jsonx_str(ic, "name", "");
		const struct pods_ctr *cur = pods_view_instance(p->v, name, p->sb->id, 0);
		struct ctr_rt *ct = rt(w, name);

		if (!ct)
			continue;
		if (!cur)
			return restart(w, p, ic, ct, pods_view_instance(p->v, name, NULL, 0)) ? 2
											      : 0;
		switch (cur->state) {
		case PODS_CTR_RUNNING:
			return 0;
		case PODS_CTR_CREATED:
			return start_created(w, p, cur) ? 2 : 0;
		case PODS_CTR_UNKNOWN:
			kill_one(w, p->pod, cur, grace_of(p->pod), "Stopping container");
			return 2;
		case PODS_CTR_EXITED:
			if (cur->exit_code == 0)
				continue;
			/* Never: the pod has failed (the status says so). */
			if (!strcmp(policy, "Never"))
				return 0;
			return restart(w, p, ic, ct, cur) ? 2 : 0;
		}
	}
	return 1;
}

static bool sync_containers(struct pod_worker *w, struct pass *p)
{
	const json_t *c;
	bool acted = false;
	size_t i;

	json_array_foreach(jsonx_arr(jsonx_obj(p->pod, "spec"), "containers"), i, c) {
		const char *name = jsonx_str(c, "name", "");
		const struct pods_ctr *cur = pods_view_instance(p->v, name, p->sb->id, 0);
		const struct pods_ctr *last = pods_view_instance(p->v, name, NULL, 0);
		struct ctr_rt *ct = rt(w, name);
		enum probe_kind why;
		char hash[32], *msg;

		if (!ct)
			continue;
		if (cur && cur->state == PODS_CTR_RUNNING) {
			pods_container_hash(c, hash, sizeof(hash));
			if (probe_set_failed(&ct->probes, &why) &&
			    !strcmp(ct->probes.cid, cur->id)) {
				const json_t *probe = jsonx_obj(c, probe_keys[why]);
				long long g = jsonx_int(probe, "terminationGracePeriodSeconds",
							grace_of(p->pod));

				msg = xasprintf("Container %s failed %s probe, will be restarted",
						name,
						why == PROBE_STARTUP ? "startup" : "liveness");
				kill_one(w, p->pod, cur, g < MIN_GRACE_S ? MIN_GRACE_S : g, msg);
				free(msg);
				acted = true;
			} else if (*cur->hash && strcmp(cur->hash, hash)) {
				msg = xasprintf(
					"Container %s definition changed, will be restarted", name);
				kill_one(w, p->pod, cur, grace_of(p->pod), msg);
				free(msg);
				acted = true;
			}
			continue;
		}
		if (cur && cur->state == PODS_CTR_CREATED) {
			acted |= start_created(w, p, cur);
			continue;
		}
		if (cur && cur->state == PODS_CTR_UNKNOWN) {
			kill_one(w, p->pod, cur, grace_of(p->pod), "Stopping container");
			acted = true;
			continue;
		}
		/* Exited here, or only known from an older sandbox, or never created. */
		if (last && !podstatus_should_restart(p->pod, last, false))
			continue;
		acted |= restart(w, p, c, ct, last);
	}
	return acted;
}

/* Sandboxes that are not the current one: stop ready ones, remove forgotten ones. */
static bool gc_sandboxes(struct pod_worker *w, struct pass *p)
{
	char err[512];
	bool acted = false;

	for (size_t i = 0; i < p->v->n_sb; i++) {
		const struct pods_sandbox *sb = &p->v->sb[i];
		bool needed = false;

		if (p->sb && sb == p->sb)
			continue;
		if (sb->ready) {
			if (stop_sandbox(w, sb->id, err, sizeof(err)) == 0)
				acted = true;
			continue;
		}
		/* Kept while it holds an instance the status shows (newest or the one before). */
		for (size_t j = 0; j < p->v->n_ctr && !needed; j++) {
			const struct pods_ctr *c = &p->v->ctr[j];

			needed = !strcmp(c->sandbox_id, sb->id) &&
				 (c == pods_view_instance(p->v, c->name, NULL, 0) ||
				  c == pods_view_instance(p->v, c->name, NULL, 1));
		}
		stop_once(w, sb);
		if (!needed && remove_sandbox(w, sb->id, err, sizeof(err)) == 0) {
			json_object_del(w->stopped, sb->id);
			acted = true;
		}
	}
	return acted;
}

static bool start_sandbox(struct pod_worker *w, struct pass *p)
{
	const char *policy = jsonx_path_str(p->pod, "spec.restartPolicy", "Always");
	struct kcg_limits lim;
	char err[1024], dir[1024], cg[512];
	Runtime__V1__RunPodSandboxRequest req = RUNTIME__V1__RUN_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__RunPodSandboxResponse *resp = NULL;
	Runtime__V1__PodSandboxConfig *cfg = NULL;
	unsigned attempt = 0;
	bool acted = false;
	int rc;

	/* Whatever still runs in a sandbox that is no longer ready goes first. */
	if (kill_all(w, p->pod, p->v, grace_of(p->pod)) == 0)
		for (size_t i = 0; i < p->v->n_ctr; i++)
			acted |= p->v->ctr[i].state == PODS_CTR_RUNNING;
	for (size_t i = 0; i < p->v->n_sb; i++)
		stop_once(w, &p->v->sb[i]);
	/* A pod that never restarts containers does not get a second sandbox. */
	if (!strcmp(policy, "Never") && p->v->n_ctr > 0)
		return acted;
	if (pods_backoff_active(&w->sandbox_backoff, w->sandbox_failed_ns, p->now)) {
		next_at(p->next, pods_backoff_until(&w->sandbox_backoff, w->sandbox_failed_ns));
		return acted;
	}
	if (!host_network(p->pod) && !w->env->network_ready(w->env->ctx, 1000)) {
		event(w, p->pod, NULL, "Warning", "NetworkNotReady",
		      "network is not ready: container runtime network not ready");
		return acted;
	}
	cgroup_parent(w, p->pod, cg, sizeof(cg));
	if (w->env->cg && cg[0]) {
		pods_pod_limits(p->pod, &lim);
		if (kcg_pod_create(w->env->cg, cg, &lim, err, sizeof(err)))
			log_warn("pod %s/%s: %s", w->ns, w->name, err);
	}
	log_dir(w, dir, sizeof(dir));
	mkdir_quiet(dir);
	for (size_t i = 0; i < p->v->n_sb; i++)
		if (p->v->sb[i].attempt + 1 > attempt)
			attempt = p->v->sb[i].attempt + 1;
	if (pods_sandbox_config(p->pod, attempt, dir, cg, &cfg))
		return acted;
	if (p->v->n_sb)
		event(w, p->pod, NULL, "Normal", "SandboxChanged",
		      "Pod sandbox changed, it will be killed and re-created.");
	req.config = cfg;
	rc = call(w, "/runtime.v1.RuntimeService/RunPodSandbox", &req.base,
		  &runtime__v1__run_pod_sandbox_response__descriptor, &resp, SANDBOX_TIMEOUT_MS,
		  err, sizeof(err));
	protobuf_c_message_free_unpacked(&cfg->base, NULL);
	if (rc) {
		event(w, p->pod, NULL, "Warning", "FailedCreatePodSandBox",
		      "Failed to create pod sandbox: %s", err);
		w->sandbox_failed_ns = now_ns(w);
		pods_backoff_next(&w->sandbox_backoff, w->sandbox_failed_ns);
		next_at(p->next, pods_backoff_until(&w->sandbox_backoff, w->sandbox_failed_ns));
		return true;
	}
	memset(&w->sandbox_backoff, 0, sizeof(w->sandbox_backoff));
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return true;
}

/* Succeeded/Failed: nothing runs any more, the sandbox (and its network) goes. */
static bool stop_terminal(struct pod_worker *w, struct pass *p)
{
	char err[512];
	bool acted = false;

	if (kill_all(w, p->pod, p->v, grace_of(p->pod)) == 0)
		for (size_t i = 0; i < p->v->n_ctr; i++)
			acted |= p->v->ctr[i].state == PODS_CTR_RUNNING;
	for (size_t i = 0; i < p->v->n_sb; i++)
		if (p->v->sb[i].ready && stop_sandbox(w, p->v->sb[i].id, err, sizeof(err)) == 0)
			acted = true;
	return acted;
}

/* One pass of decisions over a fresh view. true when CRI state changed. */
static bool reconcile(struct pod_worker *w, struct pass *p)
{
	bool acted;
	int init;

	if (w->terminal)
		return stop_terminal(w, p);
	if (!p->sb)
		return start_sandbox(w, p);
	acted = gc_sandboxes(w, p);
	/* Instances still running in older sandboxes belong to nothing now. */
	for (size_t i = 0; i < p->v->n_ctr; i++) {
		const struct pods_ctr *c = &p->v->ctr[i];

		if (strcmp(c->sandbox_id, p->sb->id) && c->state == PODS_CTR_RUNNING) {
			kill_one(w, p->pod, c, grace_of(p->pod), "Stopping container");
			acted = true;
		}
	}
	init = sync_init(w, p);
	if (init != 1)
		return acted || init == 2;
	return sync_containers(w, p) || acted;
}

/* ---------------------------------------------------------------- probes */

static int probe_exec(void *ctx, const char *cid, const char *const *argv, size_t argc,
		      int timeout_s, int *exit_code, char *out, size_t outlen)
{
	struct pod_worker *w = ctx;
	Runtime__V1__ExecSyncRequest req = RUNTIME__V1__EXEC_SYNC_REQUEST__INIT;
	Runtime__V1__ExecSyncResponse *resp = NULL;
	char err[512];
	int rc;

	req.container_id = (char *)cid;
	req.cmd = (char **)argv;
	req.n_cmd = argc;
	req.timeout = timeout_s;
	rc = call(w, "/runtime.v1.RuntimeService/ExecSync", &req.base,
		  &runtime__v1__exec_sync_response__descriptor, &resp, (timeout_s + 10) * 1000, err,
		  sizeof(err));
	if (rc == CRI_DEADLINE_EXCEEDED || rc == -ETIMEDOUT || (rc > 0 && strstr(err, "timeout")))
		return -ETIMEDOUT;
	if (rc) {
		snprintf(out, outlen, "%s", err);
		return -EIO;
	}
	*exit_code = resp->exit_code;
	snprintf(out, outlen, "%.*s%.*s", (int)resp->stdout.len, (const char *)resp->stdout.data,
		 (int)resp->stderr.len, (const char *)resp->stderr.data);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return 0;
}

/* Point each container's probes at its running instance. */
static void track_probes(struct pod_worker *w, struct pass *p)
{
	const json_t *c;
	size_t i;

	json_array_foreach(jsonx_arr(jsonx_obj(p->pod, "spec"), "containers"), i, c) {
		const char *name = jsonx_str(c, "name", "");
		const struct pods_ctr *cur =
			p->sb ? pods_view_instance(p->v, name, p->sb->id, 0) : NULL;
		struct ctr_rt *ct = rt(w, name);

		if (!ct)
			continue;
		if (cur && cur->state == PODS_CTR_RUNNING)
			probe_set_track(&ct->probes, cur->id, cur->started_ns, p->now);
		else
			probe_set_track(&ct->probes, NULL, 0, p->now);
	}
}

/* Run the due probes. true when one asks for a kill. */
static bool run_probes(struct pod_worker *w, struct pass *p)
{
	const json_t *c;
	bool kill = false;
	size_t i;

	track_probes(w, p);
	json_array_foreach(jsonx_arr(jsonx_obj(p->pod, "spec"), "containers"), i, c) {
		struct ctr_rt *ct = rt(w, jsonx_str(c, "name", ""));
		enum probe_kind k;
		char out[1024];

		if (!ct)
			continue;
		while (!kill && (k = probe_set_due(&ct->probes, now_ns(w))) != PROBE__MAX) {
			struct probe_target t = {
				.cid = ct->probes.cid,
				.pod_ip = pod_ip_of(w, p->pod, p->sb),
				.container = c,
				.exec = probe_exec,
				.exec_ctx = w,
			};
			enum probe_result r =
				probe_run(jsonx_obj(c, probe_keys[k]), &t, out, sizeof(out));

			probe_set_record(&ct->probes, k, r, now_ns(w));
			if (r == PROBE_FAILURE)
				event(w, p->pod, ct->name, "Warning", "Unhealthy",
				      "%s probe failed: %s", probe_kind_name(k), out);
			kill = probe_set_failed(&ct->probes, NULL);
		}
		next_at(p->next, probe_set_next(&ct->probes));
	}
	return kill;
}

/* ---------------------------------------------------------------- status */

static void fill_extra(struct pod_worker *w, const json_t *pod, const char *list,
		       struct podstatus_ctr **out)
{
	const json_t *arr = jsonx_arr(jsonx_obj(pod, "spec"), list), *c;
	size_t i;

	*out = xcalloc(json_array_size(arr) + 1, sizeof(**out));
	json_array_foreach(arr, i, c) {
		struct ctr_rt *ct = rt(w, jsonx_str(c, "name", ""));

		if (!ct)
			continue;
		(*out)[i].reason = ct->reason;
		(*out)[i].message = ct->message;
		(*out)[i].ready = probe_set_ready(&ct->probes);
		(*out)[i].started = probe_set_started(&ct->probes);
	}
}

/*
 * The pod as the status should be computed from: the informer's copy lags
 * behind what this worker sent (startTime, transition times), so the keys
 * the kubelet owns come from the last patch, except conditions of types
 * others own (PodScheduled, DisruptionTarget, readiness gates), which only
 * the informer knows. A new reference.
 */
static json_t *status_base(struct pod_worker *w, const json_t *pod)
{
	json_t *base = json_deep_copy(pod), *st, *conds, *c;
	const char *key;
	size_t i;

	if (!w->sent)
		return base;
	st = json_object_get(base, "status");
	if (!json_is_object(st)) {
		st = json_object();
		json_object_set_new(base, "status", st);
	}
	conds = json_array();
	json_array_foreach(json_object_get(w->sent, "conditions"), i, c)
		json_array_append(conds, c);
	json_array_foreach(jsonx_arr(st, "conditions"), i, c) {
		const char *t = jsonx_str(c, "type", "");

		if (strcmp(t, "PodReadyToStartContainers") && strcmp(t, "Initialized") &&
		    strcmp(t, "Ready") && strcmp(t, "ContainersReady"))
			json_array_append(conds, c);
	}
	json_object_foreach(w->sent, key, c)
		json_object_set(st, key, c);
	json_object_set_new(st, "conditions", conds);
	return base;
}

static void update_status(struct pod_worker *w, struct pass *p)
{
	struct podstatus_ctr *init = NULL, *ctrs = NULL;
	struct podstatus_input in;
	json_t *st, *body, *base, *pod;
	char *path;
	int rc;

	track_probes(w, p);
	fill_extra(w, p->pod, "initContainers", &init);
	fill_extra(w, p->pod, "containers", &ctrs);
	pod = status_base(w, p->pod);
	in = (struct podstatus_input){
		.pod = pod,
		.view = p->v,
		.sandbox_ready = p->sb != NULL,
		.pod_ip = pod_ip_of(w, p->pod, p->sb),
		.pod_ips = host_network(p->pod) || !p->sb ? NULL : p->sb->ips,
		.host_ip = w->env->node_ip,
		.init = init,
		.ctrs = ctrs,
		.now_ns = p->now,
	};
	st = podstatus_compute(&in);
	free(init);
	free(ctrs);
	if (podstatus_phase_is_terminal(jsonx_str(st, "phase", "")) && !w->terminal) {
		w->terminal = true;
		next_at(p->next, p->now + PODS_SOON_NS); /* stop the sandbox soon */
	}
	base = podstatus_owned(jsonx_obj(pod, "status"));
	json_decref(pod);
	if (jsonx_equal(st, base)) {
		json_decref(base);
		json_decref(st);
		return;
	}
	json_decref(base);
	/* The uid makes the patch fail on a pod recreated under the same name. */
	body = json_pack("{s:{s:s},s:O}", "metadata", "uid", w->uid, "status", st);
	path = xasprintf("/api/v1/namespaces/%s/pods/%s/status", w->ns, w->name);
	rc = w->env->api(w->env->ctx, "PATCH", path, "application/merge-patch+json", body, NULL);
	if (rc == 200) {
		json_decref(w->sent);
		w->sent = json_incref(st);
	} else {
		log_warn("pod %s/%s: status update: %d", w->ns, w->name, rc);
	}
	free(path);
	json_decref(body);
	json_decref(st);
}

/* Log paths for pods_worker_log_path, and the running flag. */
static void publish(struct pod_worker *w, struct pass *p)
{
	static const char *const lists[] = { "initContainers", "containers" };
	json_t *logs = json_object(), *old;
	const json_t *c;
	size_t i;

	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		json_array_foreach(jsonx_arr(jsonx_obj(p->pod, "spec"), lists[l]), i, c) {
			const char *name = jsonx_str(c, "name", "");
			const struct pods_ctr *last = pods_view_instance(p->v, name, NULL, 0);
			const struct pods_ctr *prev = pods_view_instance(p->v, name, NULL, 1);
			struct ctr_rt *ct = rt(w, name);
			char *cur_log = last ? instance_log(w, last) : NULL, *prev_log;

			/* Waiting to restart: the newest instance is the "previous" one. */
			if (last && last->state == PODS_CTR_EXITED && ct && ct->reason)
				prev = last;
			prev_log = prev ? instance_log(w, prev) : NULL;
			json_object_set_new(
				logs, name,
				json_pack("{s:s?,s:s?}", "cur", cur_log, "prev", prev_log));
			free(cur_log);
			free(prev_log);
		}
	}
	pthread_mutex_lock(&w->mu);
	old = w->logs;
	w->logs = logs;
	w->running = p->sb && !w->terminal;
	pthread_mutex_unlock(&w->mu);
	json_decref(old);
}

/* ---------------------------------------------------------------- termination */

static void terminate(struct pod_worker *w, const json_t *pod, const json_t *last, bool gone,
		      int64_t *next)
{
	const json_t *known = pod ? pod : last;
	long long grace =
		jsonx_path_int(known, "metadata.deletionGracePeriodSeconds",
			       jsonx_path_int(known, "spec.terminationGracePeriodSeconds", 30));
	struct pods_view v = { 0 };
	char err[512], path[1024];
	int rc = 0;

	*next = now_ns(w) + PODS_RESYNC_NS;
	if (pods_view_load(w->env, w->uid, false, &v, err, sizeof(err))) {
		log_warn("pod %s/%s: %s", w->ns, w->name, err);
		return;
	}
	if (grace < MIN_GRACE_S)
		grace = MIN_GRACE_S;
	if (kill_all(w, known, &v, grace))
		rc = -EAGAIN;
	for (size_t i = 0; i < v.n_sb; i++)
		if (stop_sandbox(w, v.sb[i].id, err, sizeof(err))) {
			log_warn("pod %s/%s: stop sandbox: %s", w->ns, w->name, err);
			rc = -EAGAIN;
		}
	for (size_t i = 0; i < v.n_ctr && !rc; i++)
		if (remove_container(w, v.ctr[i].id, err, sizeof(err)))
			rc = -EAGAIN;
	for (size_t i = 0; i < v.n_sb && !rc; i++)
		if (remove_sandbox(w, v.sb[i].id, err, sizeof(err)))
			rc = -EAGAIN;
	pods_view_free(&v);
	if (rc) {
		log_warn("pod %s/%s: cleanup: %s", w->ns, w->name, err);
		return;
	}
	if (w->env->cg) {
		/*
		 * runc may still be tearing down below it; a cgroup that will not go
		 * must not keep the pod from being deleted: the orphan sweep retries.
		 */
		cgroup_parent(w, known, path, sizeof(path));
		if (path[0] && (rc = kcg_pod_remove(w->env->cg, path)) < 0)
			log_info("pod %s/%s: cgroup %s: %s (left to the sweep)", w->ns, w->name,
				 path, strerror(-rc));
	}
	if (w->env->root_dir) {
		snprintf(path, sizeof(path), "%s/pods/%s", w->env->root_dir, w->uid);
		pods_remove_tree(path);
	}
	log_dir(w, path, sizeof(path));
	pods_remove_tree(path);
	if (!gone && !w->api_deleted) {
		json_t *opts =
			json_pack("{s:s,s:s,s:i,s:{s:s}}", "kind", "DeleteOptions", "apiVersion",
				  "v1", "gracePeriodSeconds", 0, "preconditions", "uid", w->uid);
		char *p = xasprintf("/api/v1/namespaces/%s/pods/%s", w->ns, w->name);

		rc = w->env->api(w->env->ctx, "DELETE", p, NULL, opts, NULL);
		/* 404: already gone; 409: a newer pod under the same name (not ours). */
		if (rc == 200 || rc == 202 || rc == 404 || rc == 409)
			w->api_deleted = true;
		else
			log_warn("pod %s/%s: delete: %d", w->ns, w->name, rc);
		free(p);
		json_decref(opts);
	}
	if (gone) {
		pthread_mutex_lock(&w->mu);
		w->done = true;
		w->running = false;
		pthread_mutex_unlock(&w->mu);
	}
}

/* ---------------------------------------------------------------- the worker */

struct pod_worker *pods_worker_new(const struct pods_env *env, const json_t *pod)
{
	const char *uid = jsonx_path_str(pod, "metadata.uid", "");
	const char *ns = jsonx_path_str(pod, "metadata.namespace", "");
	const char *name = jsonx_path_str(pod, "metadata.name", "");
	struct pod_worker *w;

	if (!*uid || !*ns || !*name || strchr(uid, '/'))
		return NULL;
	w = xcalloc(1, sizeof(*w));
	w->env = env;
	w->uid = xstrdup(uid);
	w->ns = xstrdup(ns);
	w->name = xstrdup(name);
	pthread_mutex_init(&w->mu, NULL);
	w->pod = json_deep_copy(pod);
	w->last_pod = json_incref(w->pod);
	w->logs = json_object();
	w->stopped = json_object();
	w->terminal = podstatus_phase_is_terminal(jsonx_path_str(pod, "status.phase", ""));
	return w;
}

void pods_worker_free(struct pod_worker *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_c; i++) {
		free(w->c[i].name);
		free(w->c[i].reason);
		free(w->c[i].message);
	}
	free(w->c);
	json_decref(w->pod);
	json_decref(w->last_pod);
	json_decref(w->logs);
	json_decref(w->sent);
	json_decref(w->stopped);
	pthread_mutex_destroy(&w->mu);
	free(w->uid);
	free(w->ns);
	free(w->name);
	free(w);
}

const char *pods_worker_uid(const struct pod_worker *w)
{
	return w->uid;
}

void pods_worker_set_pod(struct pod_worker *w, const json_t *pod)
{
	json_t *copy = pod ? json_deep_copy(pod) : NULL, *old;

	pthread_mutex_lock(&w->mu);
	old = w->pod;
	w->pod = copy;
	if (copy) {
		json_decref(w->last_pod);
		w->last_pod = json_incref(copy);
	}
	pthread_mutex_unlock(&w->mu);
	json_decref(old);
}

int64_t pods_worker_sync(struct pod_worker *w)
{
	int64_t now = now_ns(w), next = now + PODS_RESYNC_NS;
	struct pods_view v = { 0 };
	struct pass p = { 0 };
	json_t *pod, *last;
	bool gone, stale = false;
	char err[512];

	pthread_mutex_lock(&w->mu);
	pod = json_incref(w->pod);
	last = json_incref(w->last_pod);
	gone = !w->pod;
	pthread_mutex_unlock(&w->mu);
	if (pods_worker_done(w))
		goto out;
	track_containers(w, pod ? pod : last);
	if (gone || jsonx_path_str(pod, "metadata.deletionTimestamp", NULL)) {
		terminate(w, pod, last, gone, &next);
		goto out;
	}
	p.pod = pod;
	p.next = &next;
	for (int pass = 0; pass < MAX_PASSES; pass++) {
		pods_view_free(&v);
		if (p.sbcfg)
			protobuf_c_message_free_unpacked(&p.sbcfg->base, NULL);
		p.sbcfg = NULL;
		if (pods_view_load(w->env, w->uid, true, &v, err, sizeof(err))) {
			log_warn("pod %s/%s: %s", w->ns, w->name, err);
			goto out;
		}
		p.v = &v;
		p.sb = pods_view_current_sandbox(&v);
		p.now = now_ns(w);
		stale = reconcile(w, &p) || (!w->terminal && run_probes(w, &p));
		if (!stale)
			break;
	}
	if (stale) {
		pods_view_free(&v);
		if (pods_view_load(w->env, w->uid, true, &v, err, sizeof(err))) {
			log_warn("pod %s/%s: %s", w->ns, w->name, err);
			goto out;
		}
		p.sb = pods_view_current_sandbox(&v);
		p.now = now_ns(w);
		/* Not converged yet: go on soon (not at once: an action that never
		 * converges must not turn the worker into a busy loop). */
		next = p.now + PODS_SOON_NS;
	}
	update_status(w, &p);
	if (w->terminal)
		for (size_t i = 0; i < v.n_sb; i++)
			if (v.sb[i].ready)
				next_at(&next, p.now + PODS_SOON_NS);
	publish(w, &p);
out:
	if (p.sbcfg)
		protobuf_c_message_free_unpacked(&p.sbcfg->base, NULL);
	pods_view_free(&v);
	json_decref(pod);
	json_decref(last);
	now = now_ns(w);
	return next < now ? now : next;
}

bool pods_worker_done(struct pod_worker *w)
{
	bool done;

	pthread_mutex_lock(&w->mu);
	done = w->done;
	pthread_mutex_unlock(&w->mu);
	return done;
}

bool pods_worker_running(struct pod_worker *w)
{
	bool running;

	pthread_mutex_lock(&w->mu);
	running = w->running;
	pthread_mutex_unlock(&w->mu);
	return running;
}

bool pods_worker_is(struct pod_worker *w, const char *ns, const char *name)
{
	return !strcmp(w->ns, ns) && !strcmp(w->name, name);
}

int pods_worker_log_path(struct pod_worker *w, const char *container, bool previous, char *buf,
			 size_t len)
{
	const char *path;
	int rc = -ENOENT;

	pthread_mutex_lock(&w->mu);
	path = jsonx_str(json_object_get(w->logs, container), previous ? "prev" : "cur", NULL);
	if (path && (size_t)snprintf(buf, len, "%s", path) < len)
		rc = 0;
	else if (path)
		rc = -ENAMETOOLONG;
	pthread_mutex_unlock(&w->mu);
	return rc;
}
