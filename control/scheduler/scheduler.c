/* scheduler.c - see scheduler.h. */
#include "control/scheduler/scheduler.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control/scheduler/cache.h"
#include "control/scheduler/framework.h"
#include "control/scheduler/queue.h"
#include "httpc.h"
#include "informer.h"
#include "jsonx.h"
#include "ktime.h"
#include "kubeconfig.h"
#include "log.h"
#include "util.h"

#define NS_PER_SEC 1000000000ull
/* The loop wakes at least this often to expire assumptions and flush parked pods. */
#define HOUSEKEEPING_NS NS_PER_SEC

/* ---------------------------------------------------------------- reports (pure) */

json_t *sched_event_new(const json_t *pod, const char *component, const char *type,
			const char *reason, const char *message, int64_t now_ns)
{
	const json_t *meta = jsonx_obj(pod, "metadata");
	const char *name = jsonx_str(meta, "name", ""), *ns = jsonx_str(meta, "namespace", "");
	char ts[KTIME_BUFSZ], host[256] = "";
	char *ev_name = xasprintf("%s.%llx", name, (unsigned long long)now_ns);
	json_t *ev;

	ktime_format(now_ns, ts, sizeof(ts));
	gethostname(host, sizeof(host) - 1);
	ev = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s,s:s,s:s,s:s},s:s,s:s,s:{s:s},"
		       "s:s,s:s,s:i,s:s,s:s,s:s}",
		       "apiVersion", "v1", "kind", "Event", "metadata", "name", ev_name,
		       "namespace", ns, "involvedObject", "apiVersion", "v1", "kind", "Pod", "name",
		       name, "namespace", ns, "uid", jsonx_str(meta, "uid", ""), "resourceVersion",
		       jsonx_str(meta, "resourceVersion", ""), "reason", reason, "message", message,
		       "source", "component", component, "firstTimestamp", ts, "lastTimestamp", ts,
		       "count", 1, "type", type, "reportingComponent", component,
		       "reportingInstance", host);
	free(ev_name);
	return ev;
}

json_t *sched_condition_patch(const json_t *pod, const char *reason, const char *message,
			      int64_t now_ns)
{
	const json_t *cond, *prev = NULL;
	char ts[KTIME_BUFSZ];
	const char *since;
	size_t i;

	json_array_foreach(jsonx_get_path(pod, "status.conditions"), i, cond)
		if (strcmp(jsonx_str(cond, "type", ""), "PodScheduled") == 0)
			prev = cond;
	if (prev && strcmp(jsonx_str(prev, "status", ""), "False") == 0 &&
	    strcmp(jsonx_str(prev, "reason", ""), reason) == 0 &&
	    strcmp(jsonx_str(prev, "message", ""), message) == 0)
		return NULL;
	ktime_format(now_ns, ts, sizeof(ts));
	/* The transition time moves only when the status does. */
	since = prev && strcmp(jsonx_str(prev, "status", ""), "False") == 0
			? jsonx_str(prev, "lastTransitionTime", ts)
			: ts;
	return json_pack("{s:{s:[{s:s,s:s,s:s,s:s,s:n,s:s}]}}", "status", "conditions", "type",
			 "PodScheduled", "status", "False", "reason", reason, "message", message,
			 "lastProbeTime", "lastTransitionTime", since);
}

/* ---------------------------------------------------------------- plumbing */

enum msg_type {
	MSG_POD_SET,
	MSG_POD_DELETE,
	MSG_NODE_SET,
	MSG_NODE_DELETE,
	MSG_NS_SET,
	MSG_NS_DELETE,
	MSG_BOUND, /* a binding request finished */
};

struct msg {
	enum msg_type type;
	json_t *obj; /* the object (a reference) */
	char *key;   /* MSG_BOUND: pod key */
	char *node;  /* MSG_BOUND: target node */
	long status; /* MSG_BOUND: HTTP status, or -errno */
	struct msg *next;
};

enum job_type { JOB_BIND, JOB_STATUS, JOB_EVENT };

struct job {
	enum job_type type;
	char *path;
	char *content_type; /* NULL = JSON */
	json_t *body;
	char *key, *node; /* JOB_BIND */
	struct job *next;
};

struct workers {
	struct sched_daemon *d;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	size_t events; /* queued JOB_EVENTs */
	unsigned long dropped;
	bool stop;
	pthread_t *threads;
	unsigned nthreads;
};

struct sched_daemon {
	struct sched_config cfg;
	struct kubeconfig *kc;
	struct httpc_config http;
	struct informer *pods, *nodes, *namespaces;

	pthread_mutex_t lock; /* the inbox */
	pthread_cond_t cond;
	struct msg *head, *tail;
	bool stopping;
	pthread_t loop;
	bool loop_started;

	/* owned by the loop thread */
	struct sched_cache cache;
	struct sched_queue queue;
	struct sched_framework fw;
	struct sched_pool *pool;
	bool synced;
	unsigned long scheduled, failed;

	struct workers binders, reporters;
};

static void msg_free(struct msg *m)
{
	json_decref(m->obj);
	free(m->key);
	free(m->node);
	free(m);
}

static void post(struct sched_daemon *d, struct msg *m)
{
	pthread_mutex_lock(&d->lock);
	if (d->tail)
		d->tail->next = m;
	else
		d->head = m;
	d->tail = m;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

static void post_obj(struct sched_daemon *d, enum msg_type type, const json_t *obj)
{
	struct msg *m = xcalloc(1, sizeof(*m));

	m->type = type;
	m->obj = json_incref((json_t *)obj);
	post(d, m);
}

static void on_pod_add(void *ctx, const json_t *obj)
{
	post_obj(ctx, MSG_POD_SET, obj);
}

static void on_pod_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
	post_obj(ctx, MSG_POD_SET, new_obj);
}

static void on_pod_delete(void *ctx, const json_t *obj)
{
	post_obj(ctx, MSG_POD_DELETE, obj);
}

static void on_node_add(void *ctx, const json_t *obj)
{
	post_obj(ctx, MSG_NODE_SET, obj);
}

static void on_node_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
	post_obj(ctx, MSG_NODE_SET, new_obj);
}

static void on_node_delete(void *ctx, const json_t *obj)
{
	post_obj(ctx, MSG_NODE_DELETE, obj);
}

static void on_ns_add(void *ctx, const json_t *obj)
{
	post_obj(ctx, MSG_NS_SET, obj);
}

static void on_ns_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
	post_obj(ctx, MSG_NS_SET, new_obj);
}

static void on_ns_delete(void *ctx, const json_t *obj)
{
	post_obj(ctx, MSG_NS_DELETE, obj);
}

/* ---------------------------------------------------------------- workers */

static void job_free(struct job *j)
{
	free(j->path);
	free(j->content_type);
	json_decref(j->body);
	free(j->key);
	free(j->node);
	free(j);
}

/* Queue a job; events beyond the limit are dropped (the job is freed). */
static void submit(struct workers *w, struct job *j)
{
	pthread_mutex_lock(&w->lock);
	if (j->type == JOB_EVENT && w->events >= SCHED_MAX_PENDING_EVENTS) {
		if (w->dropped++ % 1000 == 0)
			log_warn("event queue full: dropped %lu events so far", w->dropped);
		pthread_mutex_unlock(&w->lock);
		job_free(j);
		return;
	}
	w->events += j->type == JOB_EVENT;
	if (w->tail)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static void run_job(struct sched_daemon *d, struct httpc *c, struct job *j)
{
	const char *method = j->type == JOB_STATUS ? "PATCH" : "POST";
	struct httpc_response resp;
	struct httpc_request req = {
		.method = method,
		.path = j->path,
		.content_type = j->content_type,
	};
	char *body = json_dumps(j->body, JSON_COMPACT);
	long status;
	int err;

	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	err = httpc_do(c, &req, &resp);
	status = err < 0 ? err : resp.status;
	if (j->type == JOB_BIND) {
		struct msg *m = xcalloc(1, sizeof(*m));

		if (status != 201 && status != 200)
			log_debug("binding %s to %s: %ld %.200s", j->key, j->node, status,
				  err < 0 ? httpc_error(c) : resp.body.data);
		m->type = MSG_BOUND;
		m->key = j->key;
		m->node = j->node;
		m->status = status;
		j->key = j->node = NULL;
		post(d, m);
	} else if (status < 200 || status > 299) {
		log_debug("%s %s: %ld %.200s", method, j->path, status,
			  err < 0 ? httpc_error(c) : resp.body.data);
	}
	httpc_response_free(&resp);
	free(body);
}

static void *worker_main(void *arg)
{
	struct workers *w = arg;
	struct httpc *c = httpc_new(&w->d->http);

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct job *j;

		while (!w->stop && !w->head)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		j = w->head;
		w->head = j->next;
		if (!w->head)
			w->tail = NULL;
		w->events -= j->type == JOB_EVENT;
		pthread_mutex_unlock(&w->lock);
		if (c)
			run_job(w->d, c, j);
		job_free(j);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	httpc_free(c);
	return NULL;
}

static int workers_start(struct workers *w, struct sched_daemon *d, unsigned n)
{
	w->d = d;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->threads = xcalloc(n, sizeof(*w->threads));
	for (unsigned i = 0; i < n; i++) {
		int err = pthread_create(&w->threads[i], NULL, worker_main, w);

		if (err)
			return -err;
		w->nthreads++;
	}
	return 0;
}

static void workers_stop(struct workers *w)
{
	struct job *j, *next;

	if (!w->d)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	/* A blocked request ends at its timeout (httpc's default), bounded. */
	for (unsigned i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	for (j = w->head; j; j = next) {
		next = j->next;
		job_free(j);
	}
	free(w->threads);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
}

static char *pod_path(const struct sched_pod *p, const char *sub)
{
	char *ns = httpc_escape(p->ns), *name = httpc_escape(p->name);
	char *path = xasprintf("/api/v1/namespaces/%s/pods/%s/%s", ns, name, sub);

	free(ns);
	free(name);
	return path;
}

static void send_event(struct sched_daemon *d, const struct sched_pod *p, const char *type,
		       const char *reason, const char *message)
{
	struct job *j = xcalloc(1, sizeof(*j));
	char *ns = httpc_escape(p->ns);

	j->type = JOB_EVENT;
	j->path = xasprintf("/api/v1/namespaces/%s/events", ns);
	j->body = sched_event_new(p->obj, d->cfg.scheduler_name, type, reason, message,
				  (int64_t)now_real_ns());
	free(ns);
	submit(&d->reporters, j);
}

/* PodScheduled=False on the pod and a FailedScheduling event, as upstream reports. */
static void report_failure(struct sched_daemon *d, const struct sched_pod *p, const char *reason,
			   const char *message)
{
	json_t *patch = sched_condition_patch(p->obj, reason, message, (int64_t)now_real_ns());

	if (patch) {
		struct job *j = xcalloc(1, sizeof(*j));

		j->type = JOB_STATUS;
		j->path = pod_path(p, "status");
		j->content_type = xstrdup("application/strategic-merge-patch+json");
		j->body = patch;
		submit(&d->reporters, j);
	}
	send_event(d, p, "Warning", "FailedScheduling", message);
}

static void start_binding(struct sched_daemon *d, const struct sched_pod *p,
			  const struct sched_node *n)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->type = JOB_BIND;
	j->path = pod_path(p, "binding");
	j->key = xstrdup(p->key);
	j->node = xstrdup(n->name);
	j->body = json_pack("{s:s,s:s,s:{s:s,s:s,s:s},s:{s:s,s:s,s:s}}", "apiVersion", "v1", "kind",
			    "Binding", "metadata", "name", p->name, "namespace", p->ns, "uid",
			    p->uid, "target", "apiVersion", "v1", "kind", "Node", "name", n->name);
	submit(&d->binders, j);
}

/* ---------------------------------------------------------------- the loop */

static void move_pods(struct sched_daemon *d, unsigned events)
{
	size_t n;

	if (!events)
		return;
	n = sched_queue_move(&d->queue, sched_plugins_for_events(events), now_mono_ns());
	if (n)
		log_debug("cluster event 0x%x: %zu unschedulable pods requeued", events, n);
}

static bool pod_is_pending_for_us(const struct sched_daemon *d, const struct sched_pod *p)
{
	return !*p->node_name && !p->terminating && !p->finished && !p->gated &&
	       strcmp(p->scheduler_name, d->cfg.scheduler_name) == 0;
}

static void apply_pod(struct sched_daemon *d, json_t *obj)
{
	struct sched_pod *p, *cached;
	char err[256];
	int ev;

	if (sched_pod_parse(obj, &p, err, sizeof(err)) < 0) {
		log_warn("ignoring pod: %s", err);
		return;
	}
	if (*p->node_name) {
		ev = sched_cache_add_pod(&d->cache, p);
		sched_queue_delete(&d->queue, p->key);
		move_pods(d, ev > 0 ? (unsigned)ev : 0);
	} else if ((cached = sched_cache_pod(&d->cache, p->key)) && cached->assumed) {
		/* Binding in flight: keep the assumption; the queue entry follows the update. */
		if (sched_queue_get(&d->queue, p->key))
			sched_queue_add(&d->queue, p, now_mono_ns());
	} else if (pod_is_pending_for_us(d, p)) {
		sched_queue_add(&d->queue, p, now_mono_ns());
	} else {
		sched_queue_delete(&d->queue, p->key);
	}
	sched_pod_put(p);
}

static void apply_pod_delete(struct sched_daemon *d, const json_t *obj)
{
	char key[600];

	if (informer_key(obj, key, sizeof(key)) < 0)
		return;
	if (sched_cache_remove_pod(&d->cache, key))
		move_pods(d, SCHED_EV_POD_DELETE);
	sched_queue_delete(&d->queue, key);
}

static void apply_bound(struct sched_daemon *d, const struct msg *m)
{
	struct sched_qpod *qp = sched_queue_get(&d->queue, m->key);
	struct sched_pod *p = sched_cache_pod(&d->cache, m->key);
	char *text;

	if (m->status == 200 || m->status == 201) {
		sched_cache_finish_binding(&d->cache, m->key, now_mono_ns());
		d->scheduled++;
		if (p || qp) {
			const struct sched_pod *pod = p ? p : qp->pod;

			log_debug("bound %s to %s", m->key, m->node);
			text = xasprintf("Successfully assigned %s to %s", m->key, m->node);
			send_event(d, pod, "Normal", "Scheduled", text);
			free(text);
		}
		return;
	}
	if (sched_cache_forget(&d->cache, m->key) == 0)
		move_pods(d, SCHED_EV_POD_DELETE);
	/* Whatever the cause (deleted, bound by someone else, a refused request), try again
	 * after the back-off: a pod that is gone or bound leaves the queue when the watch
	 * says so, which is the only source of truth about it. */
	if (!qp)
		return;
	log_info("binding %s to %s failed (%ld), retrying after back-off", m->key, m->node,
		 m->status);
	text = xasprintf("Binding rejected: %s returned %ld", "pods/binding", m->status);
	report_failure(d, qp->pod, "SchedulerError", text);
	free(text);
	sched_queue_backoff(&d->queue, qp, now_mono_ns());
}

static void apply(struct sched_daemon *d, struct msg *m)
{
	unsigned events;
	char err[256];

	switch (m->type) {
	case MSG_POD_SET:
		apply_pod(d, m->obj);
		break;
	case MSG_POD_DELETE:
		apply_pod_delete(d, m->obj);
		break;
	case MSG_NODE_SET:
		if (sched_cache_set_node(&d->cache, m->obj, &events, err, sizeof(err)) < 0)
			log_warn("%s", err);
		move_pods(d, events);
		break;
	case MSG_NODE_DELETE:
		sched_cache_delete_node(&d->cache, jsonx_path_str(m->obj, "metadata.name", ""));
		break;
	case MSG_NS_SET:
	case MSG_NS_DELETE:
		sched_cache_set_namespace(
			&d->cache, jsonx_path_str(m->obj, "metadata.name", ""),
			m->type == MSG_NS_SET ? jsonx_get_path(m->obj, "metadata.labels") : NULL);
		break;
	case MSG_BOUND:
		apply_bound(d, m);
		break;
	}
}

static void schedule_one(struct sched_daemon *d, struct sched_qpod *qp)
{
	struct sched_pod *p = sched_pod_get(qp->pod);
	struct sched_result res;
	uint64_t t0 = now_mono_ns();
	int err = sched_schedule(&d->fw, &d->cache, p, &res);

	if (err == 0) {
		log_trace("%s -> %s (%zu of %zu nodes evaluated, %zu feasible, %llu us)", p->key,
			  res.node->name, res.evaluated, d->cache.nlive, res.feasible,
			  (unsigned long long)(now_mono_ns() - t0) / 1000);
		if (sched_cache_assume(&d->cache, p, res.node) < 0) {
			sched_queue_backoff(&d->queue, qp, now_mono_ns());
		} else {
			sched_queue_binding(&d->queue, qp);
			start_binding(d, p, res.node);
		}
	} else if (err == -ENOSPC) {
		d->failed++;
		log_info("unable to schedule %s: %s", p->key, res.message);
		sched_queue_unschedulable(&d->queue, qp, res.rejected_by, now_mono_ns());
		report_failure(d, p, "Unschedulable", res.message);
	} else {
		d->failed++;
		log_warn("error scheduling %s: %s", p->key, res.message);
		sched_queue_backoff(&d->queue, qp, now_mono_ns());
		report_failure(d, p, "SchedulerError", res.message);
	}
	sched_result_free(&res);
	sched_pod_put(p);
}

static bool informers_synced(struct sched_daemon *d)
{
	if (!d->synced && informer_synced(d->pods) && informer_synced(d->nodes) &&
	    informer_synced(d->namespaces)) {
		d->synced = true;
		log_info("caches synced: %zu nodes, %zu pending pods; scheduling", d->cache.nlive,
			 sched_queue_active_len(&d->queue));
	}
	return d->synced;
}

/* Sleep until a message arrives, a back-off ends or housekeeping is due. */
static struct msg *wait_for_work(struct sched_daemon *d, bool can_pop, uint64_t housekeeping)
{
	struct msg *batch;

	pthread_mutex_lock(&d->lock);
	if (!d->head && !d->stopping && !can_pop) {
		uint64_t now = now_mono_ns();
		uint64_t until = MIN(sched_queue_next_wakeup(&d->queue), housekeeping);

		/* The informers signal nothing when they finish listing: poll for it. */
		if (!d->synced)
			until = MIN(until, now + 20 * 1000000ull);

		if (until > now) {
			struct timespec ts;

			deadline_after_ms(&ts, CLOCK_MONOTONIC,
					  (long)((until - now) / 1000000) + 1);
			pthread_cond_timedwait(&d->cond, &d->lock, &ts);
		}
	}
	batch = d->head;
	d->head = d->tail = NULL;
	pthread_mutex_unlock(&d->lock);
	return batch;
}

static void *loop_main(void *arg)
{
	struct sched_daemon *d = arg;
	uint64_t housekeeping = now_mono_ns() + HOUSEKEEPING_NS;

	for (;;) {
		bool synced = informers_synced(d);
		struct msg *m = wait_for_work(d, synced && sched_queue_active_len(&d->queue),
					      housekeeping),
			   *next;
		struct sched_qpod *qp;
		uint64_t now;

		if (__atomic_load_n(&d->stopping, __ATOMIC_ACQUIRE)) {
			for (; m; m = next) {
				next = m->next;
				msg_free(m);
			}
			break;
		}
		for (; m; m = next) {
			next = m->next;
			apply(d, m);
			msg_free(m);
		}
		now = now_mono_ns();
		if (now >= housekeeping) {
			size_t n = sched_cache_expire(&d->cache, now);

			if (n) {
				log_warn("%zu assumed pods expired without a bound watch event", n);
				move_pods(d, SCHED_EV_POD_DELETE);
			}
			housekeeping = now + HOUSEKEEPING_NS;
		}
		if (synced && (qp = sched_queue_pop(&d->queue, now)))
			schedule_one(d, qp);
	}
	return NULL;
}

/* ---------------------------------------------------------------- start / stop */

static struct informer *watch(struct sched_daemon *d, const char *path, const char *fields,
			      const struct informer_handlers *h)
{
	struct informer_config ic = {
		.http = d->http,
		.path = path,
		.field_selector = fields,
		.handlers = *h,
		.ctx = d,
	};
	struct informer *inf = informer_new(&ic);

	if (inf && informer_start(inf) < 0) {
		informer_free(inf);
		inf = NULL;
	}
	return inf;
}

int sched_start(const struct sched_config *cfg, struct sched_daemon **out, char *err, size_t errlen)
{
	static const struct informer_handlers pod_h = { on_pod_add, on_pod_update, on_pod_delete };
	static const struct informer_handlers node_h = { on_node_add, on_node_update,
							 on_node_delete };
	static const struct informer_handlers ns_h = { on_ns_add, on_ns_update, on_ns_delete };
	struct sched_daemon *d = xcalloc(1, sizeof(*d));
	pthread_condattr_t ca;
	int ret;

	d->cfg = *cfg;
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cond, &ca);
	pthread_condattr_destroy(&ca);
	sched_cache_init(&d->cache);
	sched_queue_init(&d->queue, cfg->initial_backoff_ns, cfg->max_backoff_ns);
	ret = kubeconfig_load(cfg->kubeconfig, NULL, &d->kc, err, errlen);
	if (ret < 0)
		goto fail;
	httpc_config_from_kubeconfig(&d->http, d->kc);
	d->http.user_agent = "capstan-scheduler";
	d->pool = sched_pool_new(cfg->parallelism);
	if (!d->pool) {
		ret = -EAGAIN;
		snprintf(err, errlen, "cannot start %u filter threads", cfg->parallelism);
		goto fail;
	}
	sched_framework_init(&d->fw, d->pool, cfg->percentage, 0);
	if ((ret = workers_start(&d->binders, d, cfg->bind_workers)) < 0 ||
	    (ret = workers_start(&d->reporters, d, SCHED_REPORTERS)) < 0) {
		snprintf(err, errlen, "cannot start worker threads: %s", strerror(-ret));
		goto fail;
	}
	/* Events wait in the inbox until the loop runs. */
	d->pods = watch(d, "/api/v1/pods", "status.phase!=Succeeded,status.phase!=Failed", &pod_h);
	d->nodes = watch(d, "/api/v1/nodes", NULL, &node_h);
	d->namespaces = watch(d, "/api/v1/namespaces", NULL, &ns_h);
	if (!d->pods || !d->nodes || !d->namespaces) {
		ret = -EINVAL;
		snprintf(err, errlen, "cannot watch %s (bad server URL?)", d->kc->server);
		goto fail;
	}
	ret = pthread_create(&d->loop, NULL, loop_main, d);
	if (ret) {
		ret = -ret;
		snprintf(err, errlen, "cannot start the scheduling loop: %s", strerror(-ret));
		goto fail;
	}
	d->loop_started = true;
	log_info("watching %s as %s (parallelism %u, %u bind workers)", d->kc->server,
		 cfg->scheduler_name, cfg->parallelism, cfg->bind_workers);
	*out = d;
	return 0;
fail:
	sched_stop(d);
	return ret;
}

void sched_stop(struct sched_daemon *d)
{
	struct msg *m, *next;

	if (!d)
		return;
	/* Informers first: after this nothing posts but the workers. */
	informer_free(d->pods);
	informer_free(d->nodes);
	informer_free(d->namespaces);
	pthread_mutex_lock(&d->lock);
	__atomic_store_n(&d->stopping, true, __ATOMIC_RELEASE);
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	if (d->loop_started)
		pthread_join(d->loop, NULL);
	workers_stop(&d->binders);
	workers_stop(&d->reporters);
	for (m = d->head; m; m = next) {
		next = m->next;
		msg_free(m);
	}
	if (d->loop_started)
		log_info("scheduled %lu pods, %lu failed attempts", d->scheduled, d->failed);
	sched_queue_destroy(&d->queue);
	sched_cache_destroy(&d->cache);
	sched_framework_destroy(&d->fw);
	sched_pool_free(d->pool);
	kubeconfig_free(d->kc);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free(d);
}
