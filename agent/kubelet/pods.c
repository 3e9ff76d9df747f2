/*
 * pods.c - the kubelet's pod lifecycle: the informer, one thread per pod,
 * the orphan sweep, and the real environment behind struct pods_env (see
 * kubelet.h for the public side, pods.h for the inside).
 *
 * One thread per pod rather than a pool: a pod's worker blocks in CRI calls
 * that take as long as they take (a pull, a StopContainer honouring a 30 s
 * grace period, an exec probe), and a thread per pod keeps one slow pod
 * from delaying another without any queueing logic. A node runs ~100 pods,
 * so ~100 mostly sleeping threads. Each thread sleeps until its pod
 * changes (the informer kicks it) or its next pass is due, runs
 * pods_worker_sync, and ends when the pod is gone and cleaned up.
 *
 * Adoption at start needs no special path: a worker finds its pod's
 * sandboxes and containers by the uid label and carries on with them (a
 * running container is not restarted). What needs the whole picture is
 * what belongs to no pod, so once the informer has listed every pod bound
 * here, and every minute after, the sweeper lists all labelled sandboxes
 * and containers and removes those whose pod has no worker (StopPodSandbox
 * first, which runs the CNI DEL), then pod cgroups, pod directories and log
 * directories of unknown uids. CRI is read before the workers are
 * consulted: a pod added meanwhile has a worker before it has a sandbox, so
 * nothing new is mistaken for an orphan.
 *
 * pods_stop ends the threads without touching containers: a kubelet
 * restart must not restart pods.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/kubelet/cgroups.h"
#include "agent/kubelet/kubelet.h"
#include "agent/kubelet/pods.h"
#include "informer.h"
#include "jsonx.h"
#include "log.h"
#include "util.h"

#define SWEEP_INTERVAL_MS 60000
#define SYNC_WAIT_MS 5000
#define ORPHAN_GRACE_S 2

struct pod_thread {
	struct pod_thread *next;
	struct pods *ps;
	struct pod_worker *w;
	pthread_t th;
	pthread_cond_t cond; /* with ps->lock */
	bool kick;	     /* the pod changed */
	bool exited;	     /* the thread has returned */
};

struct pods {
	struct kubelet *k;
	struct pods_env env;
	struct kcg *cg;
	char *cgroup_root, *root_dir;
	struct informer *inf;
	struct informer *svc_inf; /* every Service: the containers' service variables */

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t cond;  /* the sweeper's wake-up */
	struct pod_thread *threads;
	bool stopping;
	struct httpc **idle; /* API clients not in use */
	size_t n_idle;

	pthread_t sweeper;
	bool sweeper_started;
};

/* ---------------------------------------------------------------- environment */

static int env_cri(void *ctx, const char *method, const ProtobufCMessage *req,
		   const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
		   int timeout_ms, char *err, size_t errlen)
{
	struct pods *ps = ctx;

	return cri_call(ps->k->cri, method, req, resp_desc, resp, timeout_ms, err, errlen);
}

/* httpc handles serve one thread at a time: borrow one from the idle list. */
static struct httpc *api_get(struct pods *ps)
{
	struct httpc *h = NULL;

	pthread_mutex_lock(&ps->lock);
	if (ps->n_idle)
		h = ps->idle[--ps->n_idle];
	pthread_mutex_unlock(&ps->lock);
	return h ? h : httpc_new(&ps->k->http);
}

static void api_put(struct pods *ps, struct httpc *h)
{
	pthread_mutex_lock(&ps->lock);
	ps->idle = xrealloc(ps->idle, (ps->n_idle + 1) * sizeof(*ps->idle));
	ps->idle[ps->n_idle++] = h;
	pthread_mutex_unlock(&ps->lock);
}

static int env_api(void *ctx, const char *method, const char *path, const char *content_type,
		   const json_t *body, json_t **out)
{
	struct pods *ps = ctx;
	struct httpc *h = api_get(ps);
	struct httpc_request req = { .method = method, .path = path, .content_type = content_type };
	struct httpc_response resp;
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int rc;

	if (out)
		*out = NULL;
	if (!h) {
		free(text);
		return -EINVAL;
	}
	if (text) {
		req.body = text;
		req.body_len = strlen(text);
	}
	rc = httpc_do(h, &req, &resp);
	if (rc == 0) {
		rc = (int)resp.status;
		if (out && resp.body.len)
			*out = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	}
	httpc_response_free(&resp);
	free(text);
	api_put(ps, h);
	return rc;
}

static void env_event(void *ctx, const json_t *pod, const char *field_path, const char *type,
		      const char *reason, const char *msg)
{
	struct pods *ps = ctx;

	kl_event_at(ps->k, pod, field_path, type, reason, "%s", msg);
}

static json_t *env_services(void *ctx)
{
	struct pods *ps = ctx;

	return informer_synced(ps->svc_inf) ? informer_list(ps->svc_inf) : NULL;
}

static bool env_network_ready(void *ctx, int timeout_ms)
{
	struct pods *ps = ctx;

	return kl_wait_network_ready(ps->k, timeout_ms);
}

static int64_t env_now(void *ctx)
{
	return (int64_t)now_real_ns();
}

static void env_pod_log_dir(void *ctx, const char *ns, const char *name, const char *uid, char *buf,
			    size_t len)
{
	struct pods *ps = ctx;

	kl_pod_log_dir(ps->k, ns, name, uid, buf, len);
}

/* ---------------------------------------------------------------- workers */

static void *worker_main(void *arg)
{
	struct pod_thread *t = arg;
	struct pods *ps = t->ps;
	bool was_running = false;

	for (;;) {
		int64_t next = pods_worker_sync(t->w);
		bool running = pods_worker_running(t->w), stop;

		if (running != was_running)
			node_status_poke(ps->k);
		was_running = running;
		if (pods_worker_done(t->w))
			break;
		pthread_mutex_lock(&ps->lock);
		while (!t->kick && !ps->stopping) {
			int64_t wait_ms = (next - ps->env.now(ps->env.ctx)) / 1000000;
			struct timespec ts;

			if (wait_ms <= 0)
				break;
			deadline_after_ms(&ts, CLOCK_MONOTONIC, wait_ms);
			if (pthread_cond_timedwait(&t->cond, &ps->lock, &ts) == ETIMEDOUT)
				break;
		}
		t->kick = false;
		stop = ps->stopping;
		pthread_mutex_unlock(&ps->lock);
		if (stop)
			break;
	}
	pthread_mutex_lock(&ps->lock);
	t->exited = true;
	pthread_cond_broadcast(&ps->cond);
	pthread_mutex_unlock(&ps->lock);
	return NULL;
}

static void cond_init_mono(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

/*
 * The live worker of uid, under ps->lock. A finished one (about to be
 * reaped) does not count: should its pod come back (a re-list that had
 * missed it), a new worker takes it up.
 */
static struct pod_thread *find_uid(struct pods *ps, const char *uid)
{
	for (struct pod_thread *t = ps->threads; t; t = t->next)
		if (!t->exited && !strcmp(pods_worker_uid(t->w), uid) && !pods_worker_done(t->w))
			return t;
	return NULL;
}

/* A pod appeared or changed: hand it to its worker, starting one if needed. */
static void pod_changed(struct pods *ps, const json_t *pod)
{
	const char *uid = jsonx_path_str(pod, "metadata.uid", "");
	struct pod_thread *t;

	pthread_mutex_lock(&ps->lock);
	if (ps->stopping)
		goto out;
	t = find_uid(ps, uid);
	if (t) {
		pods_worker_set_pod(t->w, pod);
		t->kick = true;
		pthread_cond_signal(&t->cond);
		goto out;
	}
	t = xcalloc(1, sizeof(*t));
	t->ps = ps;
	t->w = pods_worker_new(&ps->env, pod);
	if (!t->w) {
		log_warn("ignoring a pod without uid, name or namespace");
		free(t);
		goto out;
	}
	cond_init_mono(&t->cond);
	if (pthread_create(&t->th, NULL, worker_main, t)) {
		log_error("pod %s: cannot start a worker thread", uid);
		pthread_cond_destroy(&t->cond);
		pods_worker_free(t->w);
		free(t);
		goto out;
	}
	t->next = ps->threads;
	ps->threads = t;
out:
	pthread_mutex_unlock(&ps->lock);
}

static void pod_gone(struct pods *ps, const char *uid)
{
	struct pod_thread *t;

	pthread_mutex_lock(&ps->lock);
	t = find_uid(ps, uid);
	if (t) {
		pods_worker_set_pod(t->w, NULL);
		t->kick = true;
		pthread_cond_signal(&t->cond);
	}
	pthread_mutex_unlock(&ps->lock);
}

static void on_add(void *ctx, const json_t *obj)
{
	pod_changed(ctx, obj);
}

static void on_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
	const char *ou = jsonx_path_str(old_obj, "metadata.uid", "");

	/* Deleted and recreated under the same name between two looks. */
	if (strcmp(ou, jsonx_path_str(new_obj, "metadata.uid", "")))
		pod_gone(ctx, ou);
	pod_changed(ctx, new_obj);
}

static void on_delete(void *ctx, const json_t *obj)
{
	pod_gone(ctx, jsonx_path_str(obj, "metadata.uid", ""));
}

/* Join and free the threads that ended. */
static void reap(struct pods *ps)
{
	struct pod_thread **pp, *done = NULL, *t;

	pthread_mutex_lock(&ps->lock);
	for (pp = &ps->threads; (t = *pp);) {
		if (t->exited) {
			*pp = t->next;
			t->next = done;
			done = t;
		} else {
			pp = &t->next;
		}
	}
	pthread_mutex_unlock(&ps->lock);
	while ((t = done)) {
		done = t->next;
		pthread_join(t->th, NULL);
		pthread_cond_destroy(&t->cond);
		pods_worker_free(t->w);
		free(t);
	}
}

/* ---------------------------------------------------------------- orphans */

/* A uid with a live worker (called without ps->lock held). */
static bool known_uid(void *ctx, const char *uid)
{
	struct pods *ps = ctx;
	struct pod_thread *t;
	bool known;

	pthread_mutex_lock(&ps->lock);
	t = find_uid(ps, uid);
	known = t != NULL;
	pthread_mutex_unlock(&ps->lock);
	return known;
}

/* One CRI call through the environment, the answer dropped. */
static int cri_do(struct pods *ps, const char *method, const ProtobufCMessage *req,
		  const ProtobufCMessageDescriptor *desc, int timeout_ms, char *err, size_t errlen)
{
	ProtobufCMessage *resp = NULL;
	int rc = ps->env.cri(ps->env.ctx, method, req, desc, &resp, timeout_ms, err, errlen);

	if (!rc && resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	return rc;
}

static void remove_orphans(struct pods *ps, const struct pods_view *all)
{
	const char **sbs, **ctrs;
	char err[512];

	if (!pods_adopt_plan(all, known_uid, ps, &sbs, &ctrs))
		goto out;
	for (size_t i = 0; ctrs[i]; i++) {
		Runtime__V1__StopContainerRequest st = RUNTIME__V1__STOP_CONTAINER_REQUEST__INIT;
		Runtime__V1__RemoveContainerRequest rm =
			RUNTIME__V1__REMOVE_CONTAINER_REQUEST__INIT;

		log_info("removing container %s: its pod is not bound to this node", ctrs[i]);
		st.container_id = (char *)ctrs[i];
		st.timeout = ORPHAN_GRACE_S;
		cri_do(ps, "/runtime.v1.RuntimeService/StopContainer", &st.base,
		       &runtime__v1__stop_container_response__descriptor,
		       (ORPHAN_GRACE_S + 15) * 1000, err, sizeof(err));
		rm.container_id = (char *)ctrs[i];
		if (cri_do(ps, "/runtime.v1.RuntimeService/RemoveContainer", &rm.base,
			   &runtime__v1__remove_container_response__descriptor, 10000, err,
			   sizeof(err)))
			log_warn("remove container %s: %s", ctrs[i], err);
	}
	for (size_t i = 0; sbs[i]; i++) {
		Runtime__V1__StopPodSandboxRequest st = RUNTIME__V1__STOP_POD_SANDBOX_REQUEST__INIT;
		Runtime__V1__RemovePodSandboxRequest rm =
			RUNTIME__V1__REMOVE_POD_SANDBOX_REQUEST__INIT;

		log_info("removing sandbox %s: its pod is not bound to this node", sbs[i]);
		st.pod_sandbox_id = (char *)sbs[i];
		/* StopPodSandbox runs the CNI DEL: the address and veth go with it. */
		if (cri_do(ps, "/runtime.v1.RuntimeService/StopPodSandbox", &st.base,
			   &runtime__v1__stop_pod_sandbox_response__descriptor, 240000, err,
			   sizeof(err))) {
			log_warn("stop sandbox %s: %s", sbs[i], err);
			continue;
		}
		rm.pod_sandbox_id = (char *)sbs[i];
		if (cri_do(ps, "/runtime.v1.RuntimeService/RemovePodSandbox", &rm.base,
			   &runtime__v1__remove_pod_sandbox_response__descriptor, 10000, err,
			   sizeof(err)))
			log_warn("remove sandbox %s: %s", sbs[i], err);
	}
out:
	free(sbs);
	free(ctrs);
}

/* The uid at the end of "<ns>_<name>_<uid>" (pod log directories). */
static const char *log_dir_uid(const char *entry)
{
	const char *u = strrchr(entry, '_');

	return u && u[1] ? u + 1 : NULL;
}

/* Remove entries of dir (a uid, or a log directory name) whose pod is unknown. */
static void sweep_dir(struct pods *ps, const char *dir, bool log_dirs)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	json_t *names = json_array(), *n;
	size_t i;

	if (!d) {
		json_decref(names);
		return;
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			json_array_append_new(names, json_string(de->d_name));
	closedir(d);
	json_array_foreach(names, i, n) {
		const char *e = json_string_value(n);
		const char *uid = log_dirs ? log_dir_uid(e) : e;
		char *path;

		if (!uid || known_uid(ps, uid))
			continue;
		path = xasprintf("%s/%s", dir, e);
		log_info("removing %s: its pod is not bound to this node", path);
		pods_remove_tree(path);
		free(path);
	}
	json_decref(names);
}

static void sweep(struct pods *ps)
{
	struct pods_view all;
	json_t *cgs = NULL, *v;
	const char *uid;
	char err[512], *dir;

	/* Read everything first, consult the workers after (see the top comment). */
	if (pods_view_load(&ps->env, NULL, false, &all, err, sizeof(err))) {
		log_warn("orphan sweep: %s", err);
		return;
	}
	if (ps->env.cg && ps->env.cgroup_root)
		kcg_list_pods(ps->env.cg, ps->env.cgroup_root, &cgs);
	remove_orphans(ps, &all);
	pods_view_free(&all);
	json_object_foreach(cgs, uid, v) {
		if (known_uid(ps, uid))
			continue;
		if (kcg_pod_remove(ps->env.cg, json_string_value(v)) == 0)
			log_info("removed cgroup %s: its pod is not bound to this node",
				 json_string_value(v));
	}
	json_decref(cgs);
	if (!ps->env.root_dir)
		return;
	dir = xasprintf("%s/pods", ps->env.root_dir);
	sweep_dir(ps, dir, false);
	free(dir);
	/* kl_pod_log_dir() puts every pod's directory in <root>/pod-logs. */
	dir = xasprintf("%s/pod-logs", ps->env.root_dir);
	sweep_dir(ps, dir, true);
	free(dir);
}

static void *sweeper_main(void *arg)
{
	struct pods *ps = arg;
	int64_t next_sweep = 0;

	/* Only a complete list says which pods are bound here. */
	while (informer_wait_synced(ps->inf, SYNC_WAIT_MS) == -ETIMEDOUT) {
		reap(ps);
		if (atomic_load(&ps->k->stopping))
			break;
	}
	for (;;) {
		struct timespec ts;
		bool stop;

		if (informer_synced(ps->inf) && (int64_t)now_mono_ns() >= next_sweep) {
			sweep(ps);
			next_sweep = (int64_t)now_mono_ns() + (int64_t)SWEEP_INTERVAL_MS * 1000000;
		}
		reap(ps);
		pthread_mutex_lock(&ps->lock);
		if (!ps->stopping) {
			deadline_after_ms(&ts, CLOCK_MONOTONIC, 1000);
			pthread_cond_timedwait(&ps->cond, &ps->lock, &ts);
		}
		stop = ps->stopping;
		pthread_mutex_unlock(&ps->lock);
		if (stop)
			break;
	}
	return NULL;
}

/* ---------------------------------------------------------------- public */

static int64_t mem_capacity(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

	return pages > 0 && size > 0 ? (int64_t)pages * size : 0;
}

int pods_start_env(struct kubelet *k, const struct pods_env *env)
{
	struct informer_config ic = { 0 };
	struct pods *ps;
	char *sel;
	int rc;

	if (!k || !k->cfg.node_name || !k->cfg.root_dir || (!env && !k->cri))
		return -EINVAL;
	ps = xcalloc(1, sizeof(*ps));
	ps->k = k;
	pthread_mutex_init(&ps->lock, NULL);
	cond_init_mono(&ps->cond);
	ps->cgroup_root = xstrdup(k->cfg.cgroup_root ? k->cfg.cgroup_root : "/kubepods");
	ps->root_dir = xstrdup(k->cfg.root_dir);
	if (env) {
		ps->env = *env;
	} else {
		rc = kcg_open(NULL, &ps->cg);
		if (rc < 0) {
			log_warn("no cgroup hierarchy found (%s): pod cgroups are left to the "
				 "runtime",
				 strerror(-rc));
			ps->cg = NULL;
		}
		ps->env = (struct pods_env){
			.ctx = ps,
			.cri = env_cri,
			.api = env_api,
			.event = env_event,
			.network_ready = env_network_ready,
			.now = env_now,
			.pod_log_dir = env_pod_log_dir,
			.services = env_services,
			.node_name = k->cfg.node_name,
			.node_ip = k->node_ip,
			.root_dir = ps->root_dir,
			.cgroup_root = ps->cgroup_root,
			.cg = ps->cg,
			.mem_capacity = mem_capacity(),
			.cpu_capacity = (int)sysconf(_SC_NPROCESSORS_ONLN),
		};
	}
	sel = xasprintf("spec.nodeName=%s", k->cfg.node_name);
	ic.http = k->http;
	ic.path = "/api/v1/pods";
	ic.field_selector = sel;
	ic.handlers = (struct informer_handlers){ on_add, on_update, on_delete };
	ic.ctx = ps;
	ps->inf = informer_new(&ic);
	free(sel);
	k->pods = ps;
	if (!ps->inf) {
		rc = -EINVAL;
		goto fail;
	}
	rc = informer_start(ps->inf);
	if (rc < 0)
		goto fail;
	if (!env) {
		struct informer_config sc = { .http = k->http, .path = "/api/v1/services" };

		ps->svc_inf = informer_new(&sc);
		rc = ps->svc_inf ? informer_start(ps->svc_inf) : -EINVAL;
		if (rc < 0)
			goto fail;
	}
	rc = -pthread_create(&ps->sweeper, NULL, sweeper_main, ps);
	if (rc < 0)
		goto fail;
	ps->sweeper_started = true;
	return 0;
fail:
	pods_stop(k);
	return rc;
}

int pods_start(struct kubelet *k)
{
	return pods_start_env(k, NULL);
}

void pods_stop(struct kubelet *k)
{
	struct pods *ps = k ? k->pods : NULL;

	if (!ps)
		return;
	if (ps->inf)
		informer_stop(ps->inf);
	if (ps->svc_inf)
		informer_stop(ps->svc_inf);
	pthread_mutex_lock(&ps->lock);
	ps->stopping = true;
	for (struct pod_thread *t = ps->threads; t; t = t->next)
		pthread_cond_signal(&t->cond);
	pthread_cond_broadcast(&ps->cond);
	pthread_mutex_unlock(&ps->lock);
	if (ps->sweeper_started)
		pthread_join(ps->sweeper, NULL);
	/* Every worker sees stopping after its current pass. */
	for (;;) {
		bool left;

		reap(ps);
		pthread_mutex_lock(&ps->lock);
		left = ps->threads != NULL;
		if (left) {
			struct timespec ts;

			deadline_after_ms(&ts, CLOCK_MONOTONIC, 200);
			pthread_cond_timedwait(&ps->cond, &ps->lock, &ts);
		}
		pthread_mutex_unlock(&ps->lock);
		if (!left)
			break;
	}
	informer_free(ps->inf);
	informer_free(ps->svc_inf);
	for (size_t i = 0; i < ps->n_idle; i++)
		httpc_free(ps->idle[i]);
	free(ps->idle);
	kcg_free(ps->cg);
	pthread_cond_destroy(&ps->cond);
	pthread_mutex_destroy(&ps->lock);
	free(ps->cgroup_root);
	free(ps->root_dir);
	free(ps);
	k->pods = NULL;
}

int pods_running_count(struct kubelet *k)
{
	struct pods *ps = k ? k->pods : NULL;
	int n = 0;

	if (!ps)
		return 0;
	pthread_mutex_lock(&ps->lock);
	for (struct pod_thread *t = ps->threads; t; t = t->next)
		n += pods_worker_running(t->w);
	pthread_mutex_unlock(&ps->lock);
	return n;
}

int pods_container_log_path(struct kubelet *k, const char *ns, const char *pod,
			    const char *container, bool previous, char *buf, size_t len)
{
	struct pods *ps = k ? k->pods : NULL;
	int rc = -ENOENT;

	if (!ps || !ns || !pod || !container || !buf)
		return -ENOENT;
	pthread_mutex_lock(&ps->lock);
	for (struct pod_thread *t = ps->threads; t && rc == -ENOENT; t = t->next)
		if (pods_worker_is(t->w, ns, pod) && !pods_worker_done(t->w))
			rc = pods_worker_log_path(t->w, container, previous, buf, len);
	pthread_mutex_unlock(&ps->lock);
	return rc;
}
