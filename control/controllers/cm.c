/*
 * cm.c - see cm.h: shared informers with handler fan-out, cached reads,
 * API calls through a pool of HTTP clients, and Events.
 *
 * Informers. lib/informer calls one handler set per informer, so each
 * resource gets one informer whose handlers are the fan-out functions here:
 * they call every controller's handlers in registration order. Handlers are
 * registered before cm_start() and never change afterwards, so the fan-out
 * reads them without a lock. A controller that only reads a resource from
 * the cache registers NULL handlers; the informer runs all the same.
 *
 * API calls. A curl handle serves one thread at a time, and controllers
 * call the API from many worker threads, so requests borrow a client from a
 * pool (creating one when all are busy) and return it afterwards: the
 * number of clients settles at the number of threads that call at once, and
 * each keeps its keep-alive connection. cm_stop() cancels every client, so
 * a worker blocked in a request returns at once.
 *
 * Events. cm_event() only formats and queues; one sender thread creates
 * the Event objects, so a controller never waits on them and a slow API
 * server cannot stall a sync. Like client-go's correlator, a repeat of an
 * Event already sent (same object, type, reason, message and source) is
 * not a new object: the sender raises the existing one's count and
 * lastTimestamp with a merge patch. The map of sent Events is bounded and
 * simply forgotten when full; the cost is one extra object per repeat.
 *
 * Rejected: one HTTP client per controller (workers of one controller would
 * serialise on it), and sending Events synchronously from the workers.
 */
#include "control/controllers/cm.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonx.h"
#include "kubeconfig.h"
#include "ktime.h"
#include "log.h"
#include "selector.h"
#include "util.h"

#define CM_MAX_HANDLERS 16
#define CM_EVENT_QUEUE_MAX 1000
#define CM_EVENT_SEEN_MAX 4096

struct cm_resource_info {
	const char *prefix; /* "/api/v1", "/apis/apps/v1" */
	const char *plural;
	const char *kind;
	const char *api_version;
	const char *path; /* prefix + "/" + plural */
	bool namespaced;
};

static const struct cm_resource_info resources[CM__RESOURCES] = {
	[CM_PODS] = { "/api/v1", "pods", "Pod", "v1", "/api/v1/pods", true },
	[CM_NODES] = { "/api/v1", "nodes", "Node", "v1", "/api/v1/nodes", false },
	[CM_SERVICES] = { "/api/v1", "services", "Service", "v1", "/api/v1/services", true },
	[CM_ENDPOINTS] = { "/api/v1", "endpoints", "Endpoints", "v1", "/api/v1/endpoints", true },
	[CM_ENDPOINTSLICES] = { "/apis/discovery.k8s.io/v1", "endpointslices", "EndpointSlice",
				"discovery.k8s.io/v1", "/apis/discovery.k8s.io/v1/endpointslices",
				true },
	[CM_NAMESPACES] = { "/api/v1", "namespaces", "Namespace", "v1", "/api/v1/namespaces",
			    false },
	[CM_DEPLOYMENTS] = { "/apis/apps/v1", "deployments", "Deployment", "apps/v1",
			     "/apis/apps/v1/deployments", true },
	[CM_REPLICASETS] = { "/apis/apps/v1", "replicasets", "ReplicaSet", "apps/v1",
			     "/apis/apps/v1/replicasets", true },
	[CM_DAEMONSETS] = { "/apis/apps/v1", "daemonsets", "DaemonSet", "apps/v1",
			    "/apis/apps/v1/daemonsets", true },
	[CM_LEASES] = { "/apis/coordination.k8s.io/v1", "leases", "Lease", "coordination.k8s.io/v1",
			"/apis/coordination.k8s.io/v1/leases", true },
	[CM_CONFIGMAPS] = { "/api/v1", "configmaps", "ConfigMap", "v1", "/api/v1/configmaps",
			    true },
	[CM_SECRETS] = { "/api/v1", "secrets", "Secret", "v1", "/api/v1/secrets", true },
	[CM_SERVICEACCOUNTS] = { "/api/v1", "serviceaccounts", "ServiceAccount", "v1",
				 "/api/v1/serviceaccounts", true },
	[CM_EVENTS] = { "/api/v1", "events", "Event", "v1", "/api/v1/events", true },
};

struct cm_handler {
	struct informer_handlers h;
	void *ctx;
};

struct cm_shared {
	struct cm *cm;
	bool wanted;
	struct informer *inf;
	struct cm_handler handlers[CM_MAX_HANDLERS];
	size_t n;
};

struct cm {
	struct cm_config cfg; /* strings owned */
	struct kubeconfig *kc;
	struct httpc_config http; /* strings borrowed from kc */
	atomic_bool stopping;
	bool started;

	struct cm_shared shared[CM__RESOURCES];

	pthread_mutex_t pool_lock; /* guards all, idle, nall, nidle */
	struct httpc **all;	   /* every client created */
	struct httpc **idle;
	size_t nall, nidle, cap;

	pthread_mutex_t ev_lock; /* guards ev_queue, ev_seen */
	pthread_cond_t ev_cond;
	json_t *ev_queue; /* pending Event descriptions */
	json_t *ev_seen;  /* dedup key -> {"ns","name","count"} */
	pthread_t ev_thread;
	bool ev_running;
};

const char *cm_resource_path(enum cm_resource r)
{
	return r < CM__RESOURCES ? resources[r].path : NULL;
}

const char *cm_resource_kind(enum cm_resource r)
{
	return r < CM__RESOURCES ? resources[r].kind : NULL;
}

const char *cm_resource_api_version(enum cm_resource r)
{
	return r < CM__RESOURCES ? resources[r].api_version : NULL;
}

/* ---------------------------------------------------------------- lifecycle */

static char *dup_or(const char *s, const char *def)
{
	return s ? xstrdup(s) : def ? xstrdup(def) : NULL;
}

int cm_new(const struct cm_config *cfg, struct cm **out, char *err, size_t errlen)
{
	struct cm *cm;
	struct httpc *probe;
	int rc;

	if (!cfg || !cfg->kubeconfig || !*cfg->kubeconfig) {
		snprintf(err, errlen, "--kubeconfig is required");
		return -EINVAL;
	}
	if (cfg->node_cidr_mask > 128) {
		snprintf(err, errlen, "bad node CIDR mask size %u", cfg->node_cidr_mask);
		return -EINVAL;
	}
	cm = xcalloc(1, sizeof(*cm));
	cm->cfg.kubeconfig = xstrdup(cfg->kubeconfig);
	cm->cfg.cluster_cidr = dup_or(cfg->cluster_cidr, "10.244.0.0/16");
	cm->cfg.node_cidr_mask = cfg->node_cidr_mask ? cfg->node_cidr_mask : 24;
	cm->cfg.node_monitor_grace_s = cfg->node_monitor_grace_s ? cfg->node_monitor_grace_s : 40;
	cm->cfg.pod_eviction_timeout_s =
		cfg->pod_eviction_timeout_s ? cfg->pod_eviction_timeout_s : 300;
	cm->cfg.workers = cfg->workers ? cfg->workers : 2;
	cm->cfg.controllers = dup_or(cfg->controllers, "*");
	pthread_mutex_init(&cm->pool_lock, NULL);
	pthread_mutex_init(&cm->ev_lock, NULL);
	pthread_cond_init(&cm->ev_cond, NULL);
	cm->ev_queue = json_array();
	cm->ev_seen = json_object();
	for (int r = 0; r < CM__RESOURCES; r++)
		cm->shared[r].cm = cm;

	rc = kubeconfig_load(cfg->kubeconfig, NULL, &cm->kc, err, errlen);
	if (rc < 0)
		goto fail;
	httpc_config_from_kubeconfig(&cm->http, cm->kc);
	cm->http.user_agent = "capstan-controller-manager";
	probe = httpc_new(&cm->http);
	if (!probe) {
		snprintf(err, errlen, "%s: unusable server URL '%s'", cfg->kubeconfig,
			 cm->kc->server ? cm->kc->server : "");
		rc = -EINVAL;
		goto fail;
	}
	httpc_free(probe);
	*out = cm;
	return 0;
fail:
	cm_free(cm);
	return rc;
}

static void fan_add(void *ctx, const json_t *obj)
{
	struct cm_shared *s = ctx;

	for (size_t i = 0; i < s->n; i++)
		if (s->handlers[i].h.on_add)
			s->handlers[i].h.on_add(s->handlers[i].ctx, obj);
}

static void fan_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
	struct cm_shared *s = ctx;

	for (size_t i = 0; i < s->n; i++)
		if (s->handlers[i].h.on_update)
			s->handlers[i].h.on_update(s->handlers[i].ctx, old_obj, new_obj);
}

static void fan_delete(void *ctx, const json_t *obj)
{
	struct cm_shared *s = ctx;

	for (size_t i = 0; i < s->n; i++)
		if (s->handlers[i].h.on_delete)
			s->handlers[i].h.on_delete(s->handlers[i].ctx, obj);
}

void cm_watch(struct cm *cm, enum cm_resource r, const struct informer_handlers *h, void *ctx)
{
	struct cm_shared *s;

	if (r >= CM__RESOURCES)
		return;
	s = &cm->shared[r];
	s->wanted = true;
	if (!h)
		return;
	if (cm->started || s->n == CM_MAX_HANDLERS) {
		/* A programming error in a controller, not a runtime condition. */
		log_error("cm_watch(%s): %s", resources[r].plural,
			  cm->started ? "called after cm_start" : "too many handlers");
		return;
	}
	s->handlers[s->n].h = *h;
	s->handlers[s->n].ctx = ctx;
	s->n++;
}

static void *event_main(void *arg);

int cm_start(struct cm *cm, int sync_timeout_ms)
{
	uint64_t end =
		now_mono_ns() + (uint64_t)(sync_timeout_ms > 0 ? sync_timeout_ms : 0) * 1000000ull;
	int rc;

	if (cm->started)
		return -EALREADY;
	cm->started = true;
	for (int r = 0; r < CM__RESOURCES; r++) {
		struct cm_shared *s = &cm->shared[r];
		struct informer_config ic = {
			.http = cm->http,
			.path = resources[r].path,
			.handlers = { fan_add, fan_update, fan_delete },
			.ctx = s,
		};

		if (!s->wanted)
			continue;
		s->inf = informer_new(&ic);
		if (!s->inf)
			return -EINVAL;
		rc = informer_start(s->inf);
		if (rc < 0)
			return rc;
	}
	if (pthread_create(&cm->ev_thread, NULL, event_main, cm) != 0)
		return -EAGAIN;
	cm->ev_running = true;
	for (int r = 0; r < CM__RESOURCES; r++) {
		uint64_t now = now_mono_ns();
		int left = end > now ? (int)((end - now) / 1000000ull) : 0;

		if (!cm->shared[r].inf)
			continue;
		rc = informer_wait_synced(cm->shared[r].inf, sync_timeout_ms > 0 ? left : -1);
		if (rc < 0) {
			log_error("informer for %s did not sync: %s", resources[r].plural,
				  strerror(-rc));
			return rc;
		}
	}
	log_info("caches synced");
	return 0;
}

void cm_stop(struct cm *cm)
{
	if (!cm)
		return;
	atomic_store(&cm->stopping, true);
	pthread_mutex_lock(&cm->pool_lock);
	for (size_t i = 0; i < cm->nall; i++)
		httpc_cancel(cm->all[i]);
	pthread_mutex_unlock(&cm->pool_lock);
	for (int r = 0; r < CM__RESOURCES; r++)
		if (cm->shared[r].inf)
			informer_stop(cm->shared[r].inf);
	pthread_mutex_lock(&cm->ev_lock);
	pthread_cond_broadcast(&cm->ev_cond);
	pthread_mutex_unlock(&cm->ev_lock);
	if (cm->ev_running) {
		pthread_join(cm->ev_thread, NULL);
		cm->ev_running = false;
	}
}

void cm_free(struct cm *cm)
{
	if (!cm)
		return;
	cm_stop(cm);
	for (int r = 0; r < CM__RESOURCES; r++)
		if (cm->shared[r].inf)
			informer_free(cm->shared[r].inf);
	for (size_t i = 0; i < cm->nall; i++)
		httpc_free(cm->all[i]);
	free(cm->all);
	free(cm->idle);
	json_decref(cm->ev_queue);
	json_decref(cm->ev_seen);
	pthread_mutex_destroy(&cm->pool_lock);
	pthread_mutex_destroy(&cm->ev_lock);
	pthread_cond_destroy(&cm->ev_cond);
	kubeconfig_free(cm->kc);
	free((char *)cm->cfg.kubeconfig);
	free((char *)cm->cfg.cluster_cidr);
	free((char *)cm->cfg.controllers);
	free(cm);
}

bool cm_stopping(struct cm *cm)
{
	return atomic_load(&cm->stopping);
}

const struct cm_config *cm_config(struct cm *cm)
{
	return &cm->cfg;
}

/* ---------------------------------------------------------------- caches */

json_t *cm_get(struct cm *cm, enum cm_resource r, const char *ns, const char *name)
{
	if (r >= CM__RESOURCES || !cm->shared[r].inf || !name)
		return NULL;
	return informer_get(cm->shared[r].inf, resources[r].namespaced ? ns : NULL, name);
}

json_t *cm_list(struct cm *cm, enum cm_resource r, const char *ns, const json_t *selector)
{
	struct selector *sel = NULL;
	json_t *all, *out = json_array(), *obj;
	char err[256];
	size_t i;

	if (r >= CM__RESOURCES || !cm->shared[r].inf)
		return out;
	if (selector && selector_from_json(selector, &sel, err, sizeof(err)) < 0) {
		log_debug("list %s: bad selector: %s", resources[r].plural, err);
		return out;
	}
	all = informer_list(cm->shared[r].inf);
	json_array_foreach(all, i, obj) {
		if (ns && strcmp(jsonx_path_str(obj, "metadata.namespace", ""), ns) != 0)
			continue;
		if (sel && !selector_matches(sel, jsonx_get_path(obj, "metadata.labels")))
			continue;
		json_array_append(out, obj);
	}
	json_decref(all);
	selector_free(sel);
	return out;
}

/* ---------------------------------------------------------------- API calls */

static struct httpc *client_take(struct cm *cm)
{
	struct httpc *c = NULL;

	pthread_mutex_lock(&cm->pool_lock);
	if (cm->nidle) {
		c = cm->idle[--cm->nidle];
	} else if (!atomic_load(&cm->stopping)) {
		c = httpc_new(&cm->http);
		if (c) {
			if (cm->nall == cm->cap) {
				cm->cap = cm->cap ? cm->cap * 2 : 8;
				cm->all = xrealloc(cm->all, cm->cap * sizeof(*cm->all));
				cm->idle = xrealloc(cm->idle, cm->cap * sizeof(*cm->idle));
			}
			cm->all[cm->nall++] = c;
		}
	}
	pthread_mutex_unlock(&cm->pool_lock);
	return c;
}

static void client_give(struct cm *cm, struct httpc *c)
{
	pthread_mutex_lock(&cm->pool_lock);
	cm->idle[cm->nidle++] = c;
	pthread_mutex_unlock(&cm->pool_lock);
}

/* One request with a JSON (or patch) body. Returns the HTTP status or -errno. */
static int call(struct cm *cm, const char *method, const char *path, const char *ctype,
		const json_t *body, json_t **out)
{
	struct httpc_request req = { .method = method, .path = path, .content_type = ctype };
	struct httpc_response resp;
	char *text = NULL;
	struct httpc *c;
	int rc;

	if (out)
		*out = NULL;
	if (atomic_load(&cm->stopping))
		return -ECANCELED;
	c = client_take(cm);
	if (!c)
		return atomic_load(&cm->stopping) ? -ECANCELED : -ENOMEM;
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text) {
			client_give(cm, c);
			return -EINVAL;
		}
		req.body = text;
		req.body_len = strlen(text);
	}
	rc = httpc_do(c, &req, &resp);
	if (rc == 0) {
		rc = (int)resp.status;
		if (out && resp.body.len)
			*out = json_loadb(resp.body.data, resp.body.len, 0, NULL);
		log_trace("%s %s -> %d", method, path, rc);
	} else {
		log_debug("%s %s: %s (%s)", method, path, strerror(-rc), httpc_error(c));
	}
	httpc_response_free(&resp);
	client_give(cm, c);
	free(text);
	return rc;
}

/* Path of a collection (name NULL) or object, with an optional subresource. */
static int object_path(enum cm_resource r, const char *ns, const char *name, const char *sub,
		       struct buf *out)
{
	const struct cm_resource_info *ri;

	if (r >= CM__RESOURCES)
		return -EINVAL;
	ri = &resources[r];
	if ((ri->namespaced && (!ns || !*ns)) || (name && !*name))
		return -EINVAL;
	/* Names are DNS labels or subdomains; anything that would change the URL is refused. */
	if ((name && strpbrk(name, "/?#% ")) || (ns && strpbrk(ns, "/?#% ")))
		return -EINVAL;
	buf_appendf(out, "%s", ri->prefix);
	if (ri->namespaced)
		buf_appendf(out, "/namespaces/%s", ns);
	buf_appendf(out, "/%s", ri->plural);
	if (name)
		buf_appendf(out, "/%s", name);
	if (sub && *sub)
		buf_appendf(out, "/%s", sub);
	return 0;
}

static int object_call(struct cm *cm, const char *method, enum cm_resource r, const char *ns,
		       const char *name, const char *sub, const char *ctype, const json_t *body,
		       json_t **out)
{
	struct buf path = { 0 };
	int rc;

	if (out)
		*out = NULL;
	rc = object_path(r, ns, name, sub, &path);
	if (rc == 0)
		rc = call(cm, method, path.data, ctype, body, out);
	buf_free(&path);
	return rc;
}

int cm_create(struct cm *cm, enum cm_resource r, const json_t *obj, json_t **out)
{
	if (!json_is_object(obj)) {
		if (out)
			*out = NULL;
		return -EINVAL;
	}
	return object_call(cm, "POST", r, jsonx_path_str(obj, "metadata.namespace", NULL), NULL,
			   NULL, NULL, obj, out);
}

int cm_update(struct cm *cm, enum cm_resource r, const json_t *obj, const char *sub, json_t **out)
{
	const char *name = jsonx_path_str(obj, "metadata.name", NULL);

	if (!json_is_object(obj) || !name) {
		if (out)
			*out = NULL;
		return -EINVAL;
	}
	return object_call(cm, "PUT", r, jsonx_path_str(obj, "metadata.namespace", NULL), name, sub,
			   NULL, obj, out);
}

int cm_patch(struct cm *cm, enum cm_resource r, const char *ns, const char *name, const char *sub,
	     const char *type, const json_t *patch, json_t **out)
{
	const char *ctype;

	if (out)
		*out = NULL;
	if (!type || !name || !patch)
		return -EINVAL;
	if (strcmp(type, "merge") == 0)
		ctype = "application/merge-patch+json";
	else if (strcmp(type, "strategic") == 0)
		ctype = "application/strategic-merge-patch+json";
	else if (strcmp(type, "json") == 0)
		ctype = "application/json-patch+json";
	else
		return -EINVAL;
	return object_call(cm, "PATCH", r, ns, name, sub, ctype, patch, out);
}

int cm_delete(struct cm *cm, enum cm_resource r, const char *ns, const char *name,
	      const json_t *opts, json_t **out)
{
	if (!name) {
		if (out)
			*out = NULL;
		return -EINVAL;
	}
	return object_call(cm, "DELETE", r, ns, name, NULL, NULL, opts, out);
}

int cm_request(struct cm *cm, const char *method, const char *path, const json_t *body,
	       json_t **out)
{
	if (out)
		*out = NULL;
	if (!method || !path || path[0] != '/')
		return -EINVAL;
	return call(cm, method, path, NULL, body, out);
}

/* ---------------------------------------------------------------- events */

void cm_event(struct cm *cm, const char *component, const json_t *obj, const char *type,
	      const char *reason, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	json_t *ev;

	if (!json_is_object(obj) || !reason || !fmt)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ev = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "component",
		       component ? component : "controller-manager", "type", type ? type : "Normal",
		       "reason", reason, "message", msg, "kind", jsonx_str(obj, "kind", ""),
		       "apiVersion", jsonx_str(obj, "apiVersion", ""), "namespace",
		       jsonx_path_str(obj, "metadata.namespace", ""), "name",
		       jsonx_path_str(obj, "metadata.name", ""), "uid",
		       jsonx_path_str(obj, "metadata.uid", ""), "resourceVersion",
		       jsonx_path_str(obj, "metadata.resourceVersion", ""));
	if (!ev)
		return; /* not UTF-8: nothing sensible to send */
	log_debug("event %s %s/%s %s: %s", jsonx_str(ev, "kind", ""),
		  jsonx_str(ev, "namespace", ""), jsonx_str(ev, "name", ""), reason, msg);
	pthread_mutex_lock(&cm->ev_lock);
	if (json_array_size(cm->ev_queue) < CM_EVENT_QUEUE_MAX && !atomic_load(&cm->stopping)) {
		json_array_append_new(cm->ev_queue, ev);
		pthread_cond_signal(&cm->ev_cond);
	} else {
		json_decref(ev);
	}
	pthread_mutex_unlock(&cm->ev_lock);
}

static void now_time(char *buf, size_t len)
{
	ktime_format((int64_t)now_real_ns(), buf, len);
}

/* Create a new Event object for ev; remember it under key. */
static void event_create(struct cm *cm, const json_t *ev, const char *key)
{
	const char *ns = jsonx_str(ev, "namespace", ""), *k;
	char name[320], now[KTIME_BUFSZ];
	json_t *obj, *ref, *v, *tmp;
	int rc;

	if (!*ns)
		ns = "default"; /* cluster-scoped objects: as kubectl looks for them */
	now_time(now, sizeof(now));
	snprintf(name, sizeof(name), "%.230s.%llx", jsonx_str(ev, "name", "unknown"),
		 (unsigned long long)now_real_ns());
	obj = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s,s:s,s:s,s:s},s:s,s:s,s:{s:s},"
			"s:s,s:s,s:i,s:s,s:s}",
			"apiVersion", "v1", "kind", "Event", "metadata", "name", name, "namespace",
			ns, "involvedObject", "kind", jsonx_str(ev, "kind", ""), "apiVersion",
			jsonx_str(ev, "apiVersion", ""), "namespace",
			jsonx_str(ev, "namespace", ""), "name", jsonx_str(ev, "name", ""), "uid",
			jsonx_str(ev, "uid", ""), "resourceVersion",
			jsonx_str(ev, "resourceVersion", ""), "reason", jsonx_str(ev, "reason", ""),
			"message", jsonx_str(ev, "message", ""), "source", "component",
			jsonx_str(ev, "component", ""), "firstTimestamp", now, "lastTimestamp", now,
			"count", 1, "type", jsonx_str(ev, "type", ""), "reportingComponent",
			jsonx_str(ev, "component", ""));
	if (!obj)
		return;
	/* Empty strings are "unset" in an ObjectReference; do not send them. */
	ref = json_object_get(obj, "involvedObject");
	json_object_foreach_safe(ref, tmp, k, v) {
		if (!*json_string_value(v))
			json_object_del(ref, k);
	}
	rc = cm_create(cm, CM_EVENTS, obj, NULL);
	if (rc == 201) {
		pthread_mutex_lock(&cm->ev_lock);
		if (json_object_size(cm->ev_seen) >= CM_EVENT_SEEN_MAX)
			json_object_clear(cm->ev_seen);
		json_object_set_new(cm->ev_seen, key,
				    json_pack("{s:s,s:s,s:i}", "ns", ns, "name", name, "count", 1));
		pthread_mutex_unlock(&cm->ev_lock);
	} else {
		log_debug("event %s: create answered %d", name, rc);
	}
	json_decref(obj);
}

static void event_send(struct cm *cm, const json_t *ev)
{
	char *key = xasprintf("%s|%s|%s|%s|%s|%s|%s|%s", jsonx_str(ev, "uid", ""),
			      jsonx_str(ev, "kind", ""), jsonx_str(ev, "namespace", ""),
			      jsonx_str(ev, "name", ""), jsonx_str(ev, "type", ""),
			      jsonx_str(ev, "reason", ""), jsonx_str(ev, "component", ""),
			      jsonx_str(ev, "message", ""));
	json_t *seen, *patch;
	char now[KTIME_BUFSZ];
	long long count;
	int rc;

	pthread_mutex_lock(&cm->ev_lock);
	seen = json_object_get(cm->ev_seen, key);
	json_incref(seen);
	pthread_mutex_unlock(&cm->ev_lock);
	if (!seen) {
		event_create(cm, ev, key);
		free(key);
		return;
	}
	count = jsonx_int(seen, "count", 1) + 1;
	now_time(now, sizeof(now));
	patch = json_pack("{s:I,s:s}", "count", (json_int_t)count, "lastTimestamp", now);
	rc = cm_patch(cm, CM_EVENTS, jsonx_str(seen, "ns", ""), jsonx_str(seen, "name", ""), NULL,
		      "merge", patch, NULL);
	json_decref(patch);
	if (rc == 200) {
		pthread_mutex_lock(&cm->ev_lock);
		json_object_set_new(seen, "count", json_integer(count));
		pthread_mutex_unlock(&cm->ev_lock);
	} else if (rc == 404) {
		/* Deleted meanwhile (events expire): start over. */
		event_create(cm, ev, key);
	}
	json_decref(seen);
	free(key);
}

static void *event_main(void *arg)
{
	struct cm *cm = arg;

	for (;;) {
		json_t *ev;

		pthread_mutex_lock(&cm->ev_lock);
		while (!atomic_load(&cm->stopping) && json_array_size(cm->ev_queue) == 0)
			pthread_cond_wait(&cm->ev_cond, &cm->ev_lock);
		if (atomic_load(&cm->stopping)) {
			pthread_mutex_unlock(&cm->ev_lock);
			break;
		}
		ev = json_incref(json_array_get(cm->ev_queue, 0));
		json_array_remove(cm->ev_queue, 0);
		pthread_mutex_unlock(&cm->ev_lock);
		event_send(cm, ev);
		json_decref(ev);
	}
	return NULL;
}
