/*
 * subresources.c - pods/binding, pods/eviction, pods/log and the scale
 * subresource of deployments and replicasets.
 *
 * Binding bypasses the generic update path on purpose: spec.nodeName is
 * immutable through a pod update, and binding is the one way to set it,
 * once, together with the PodScheduled condition.
 *
 * Logs are proxied from the pod's kubelet (GET /containerLogs/... on its
 * daemon endpoint). A helper thread runs the kubelet request and writes the
 * body into a pipe; the client's connection thread streams from the pipe,
 * so a `kubectl logs -f` streams for as long as both ends stay open, and a
 * client that goes away closes the pipe, which ends the kubelet request.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "control/apiserver/encode.h"
#include "control/apiserver/handlers.h"
#include "control/apiserver/patch.h"
#include "control/apiserver/server.h"
#include "control/apiserver/status.h"
#include "httpc.h"
#include "jsonx.h"
#include "ktime.h"
#include "log.h"
#include "selector.h"

/* ---------------------------------------------------------------- binding */

static void set_condition(json_t *pod, const char *type, const char *status)
{
	json_t *st = json_object_get(pod, "status"), *conds, *c;
	char now[KTIME_BUFSZ];
	size_t i;

	if (!json_is_object(st)) {
		st = json_object();
		json_object_set_new(pod, "status", st);
	}
	conds = json_object_get(st, "conditions");
	if (!json_is_array(conds)) {
		conds = json_array();
		json_object_set_new(st, "conditions", conds);
	}
	now_rfc3339(now, sizeof(now));
	json_array_foreach(conds, i, c) {
		if (strcmp(jsonx_str(c, "type", ""), type) == 0) {
			json_array_remove(conds, i);
			break;
		}
	}
	json_array_append_new(conds, json_pack("{s:s,s:s,s:n,s:s}", "type", type, "status",
					       status, "lastProbeTime", "lastTransitionTime", now));
}

void handle_binding(struct api_req *req, const struct resource *r)
{
	struct apiserver *s = req->srv;
	const char *pod_name, *node;
	json_t *b, *ann, *v;
	const char *k;
	char key[600];
	bool dry;
	int err = -ESTALE;

	if (strcmp(req->method, "POST") != 0) {
		api_reply_status(req, status_failure(REASON_METHOD_NOT_ALLOWED, NULL, NULL, NULL,
						     "binding supports POST only"));
		return;
	}
	if (req_dry_run(req, &dry) < 0 || req_decode_object(req, r, "v1", "Binding", &b) < 0)
		return;
	pod_name = *req->route.name ? req->route.name : jsonx_path_str(b, "metadata.name", "");
	node = jsonx_path_str(b, "target.name", "");
	if (!*node || !*pod_name) {
		api_reply_status(req, status_failure(REASON_INVALID, r, pod_name,
						     json_pack("[{s:s,s:s,s:s}]", "reason",
							       "FieldValueRequired", "message",
							       "Required value", "field",
							       *node ? "metadata.name" : "target.name"),
						     "Binding \"%s\" is invalid: %s: Required value",
						     pod_name, *node ? "metadata.name" : "target.name"));
		goto out;
	}
	registry_key(r, req->route.ns, pod_name, key, sizeof(key));
	for (int attempt = 0; attempt < 5 && err == -ESTALE; attempt++) {
		struct cache_obj *cur = cache_get(s->cache, key), *res = NULL;
		const char *bound;
		json_t *pod;

		if (!cur) {
			api_reply_status(req, status_from_errno(-ENOENT, r, pod_name));
			goto out;
		}
		bound = jsonx_path_str(cur->obj, "spec.nodeName", "");
		if (*bound) {
			api_reply_status(req, status_failure(REASON_CONFLICT, r, pod_name, NULL,
							     "Operation cannot be fulfilled on "
							     "pods/binding \"%s\": pod %s is already "
							     "assigned to node \"%s\"",
							     pod_name, pod_name, bound));
			cache_obj_unref(cur);
			goto out;
		}
		if (jsonx_get_path(cur->obj, "metadata.deletionTimestamp")) {
			api_reply_status(req, status_failure(REASON_CONFLICT, r, pod_name, NULL,
							     "Operation cannot be fulfilled on "
							     "pods/binding \"%s\": pod %s is being "
							     "deleted, cannot be assigned to a host",
							     pod_name, pod_name));
			cache_obj_unref(cur);
			goto out;
		}
		pod = json_deep_copy(cur->obj);
		json_object_set_new(json_object_get(pod, "spec"), "nodeName", json_string(node));
		ann = jsonx_get_path(b, "metadata.annotations");
		if (json_object_size(ann)) {
			json_t *meta = obj_meta(pod), *pa = json_object_get(meta, "annotations");

			if (!json_is_object(pa)) {
				pa = json_object();
				json_object_set_new(meta, "annotations", pa);
			}
			json_object_foreach(ann, k, v)
				json_object_set(pa, k, v);
		}
		set_condition(pod, "PodScheduled", "True");
		err = dry ? 0 : store_write_update(s, r, key, cur, pod, &res);
		cache_obj_unref(res);
		cache_obj_unref(cur);
		json_decref(pod);
	}
	if (err)
		api_reply_status(req, status_from_errno(err, r, pod_name));
	else
		api_reply_json(req, 201, status_success(NULL, NULL, NULL));
out:
	json_decref(b);
}

/* ---------------------------------------------------------------- eviction */

void handle_eviction(struct api_req *req, const struct resource *r)
{
	json_t *ev, *out = NULL, *err_status = NULL;
	unsigned status;
	char key[600];
	bool dry;
	int err = -ESTALE;

	if (strcmp(req->method, "POST") != 0) {
		api_reply_status(req, status_failure(REASON_METHOD_NOT_ALLOWED, NULL, NULL, NULL,
						     "eviction supports POST only"));
		return;
	}
	if (req_dry_run(req, &dry) < 0 ||
	    req_decode_object(req, r, "policy/v1", "Eviction", &ev) < 0)
		return;
	if (*jsonx_path_str(ev, "metadata.name", "") &&
	    strcmp(jsonx_path_str(ev, "metadata.name", ""), req->route.name) != 0) {
		api_reply_status(req, status_failure(REASON_BAD_REQUEST, r, req->route.name, NULL,
						     "name in URL does not match name in Eviction "
						     "object"));
		goto out;
	}
	/* No PodDisruptionBudgets are served, so every eviction is allowed. */
	req_key(req, r, key, sizeof(key));
	for (int attempt = 0; attempt < 5 && err == -ESTALE; attempt++) {
		json_decref(out);
		json_decref(err_status);
		err = delete_object(req->srv, r, key, json_object_get(ev, "deleteOptions"), dry,
				    &status, &out, &err_status);
	}
	if (err_status)
		api_reply_status(req, json_incref(err_status));
	else if (err)
		api_reply_status(req, status_from_errno(err, r, req->route.name));
	else
		api_reply_json(req, 201, status_success(NULL, NULL, NULL));
out:
	json_decref(out);
	json_decref(err_status);
	json_decref(ev);
}

/* ---------------------------------------------------------------- scale */

static json_t *scale_of(const json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata");
	json_t *scale_meta = json_object();
	static const char *const keep[] = { "name", "namespace", "uid", "resourceVersion",
					    "creationTimestamp" };
	struct selector *sel = NULL;
	struct buf sel_text = { 0 };
	char err[256];
	json_t *scale;

	for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
		json_t *v = json_object_get(meta, keep[i]);

		if (v)
			json_object_set(scale_meta, keep[i], v);
	}
	if (selector_from_json(jsonx_get_path(obj, "spec.selector"), &sel, err, sizeof(err)) == 0)
		selector_string(sel, &sel_text);
	selector_free(sel);
	scale = json_pack("{s:s,s:s,s:o,s:{s:I},s:{s:I,s:s}}", "kind", "Scale", "apiVersion",
			  "autoscaling/v1", "metadata", scale_meta, "spec", "replicas",
			  (json_int_t)jsonx_path_int(obj, "spec.replicas", 1), "status", "replicas",
			  (json_int_t)jsonx_path_int(obj, "status.replicas", 0), "selector",
			  sel_text.data ? sel_text.data : "");
	buf_free(&sel_text);
	return scale;
}

struct scale_ctx {
	json_t *body;		/* PUT: the Scale; PATCH: the patch */
	const char *patch_type;	/* NULL for PUT */
};

/* Desired object = current with spec.replicas from the (patched) Scale. */
static int build_scale(struct api_req *req, void *ctx, const json_t *cur, json_t **want)
{
	struct scale_ctx *sc = ctx;
	json_t *scale = NULL, *replicas, *next;
	char err[512];
	int e = 0;

	if (!sc->patch_type) {
		scale = json_incref(sc->body);
	} else {
		json_t *base = scale_of(cur);

		if (strcmp(sc->patch_type, "json") == 0)
			e = patch_json(base, sc->body, &scale, err, sizeof(err));
		else if (strcmp(sc->patch_type, "merge") == 0)
			e = patch_merge(base, sc->body, &scale, err, sizeof(err));
		else
			e = patch_strategic("Scale", base, sc->body, &scale, err, sizeof(err));
		json_decref(base);
		if (e) {
			api_reply_status(req, status_failure(e == -EINVAL ? REASON_BAD_REQUEST
									  : REASON_INVALID,
							     NULL, NULL, NULL, "%s", err));
			return -1;
		}
	}
	replicas = jsonx_get_path(scale, "spec.replicas");
	if (!json_is_integer(replicas) || json_integer_value(replicas) < 0) {
		api_reply_status(req, status_failure(REASON_INVALID, NULL, req->route.name,
						     json_pack("[{s:s,s:s,s:s}]", "reason",
							       "FieldValueInvalid", "message",
							       "Invalid value: must be greater than or "
							       "equal to 0",
							       "field", "spec.replicas"),
						     "Scale.autoscaling \"%s\" is invalid: "
						     "spec.replicas: Invalid value: must be greater "
						     "than or equal to 0",
						     req->route.name));
		json_decref(scale);
		return -1;
	}
	next = json_deep_copy(cur);
	json_object_set(json_object_get(next, "spec"), "replicas", replicas);
	json_object_set_new(obj_meta(next), "resourceVersion",
			    json_string(*obj_rv(scale) ? obj_rv(scale) : obj_rv(cur)));
	json_decref(scale);
	*want = next;
	return 0;
}

/* Turn a successful object reply into the Scale of that object. */
static void reply_as_scale(struct api_req *req)
{
	json_t *obj;

	if (req->status != 200 || !req->reply)
		return;
	obj = json_loadb(req->reply, req->reply_len, 0, NULL);
	if (obj)
		api_reply_json(req, 200, scale_of(obj));
	json_decref(obj);
}

void handle_scale(struct api_req *req, const struct resource *r)
{
	struct scale_ctx sc = { 0 };
	const char *ct = api_header(req, "Content-Type");
	char key[600];

	if (strcmp(req->method, "GET") == 0) {
		struct cache_obj *o;

		req_key(req, r, key, sizeof(key));
		o = cache_get(req->srv->cache, key);
		if (!o) {
			api_reply_status(req, status_from_errno(-ENOENT, r, req->route.name));
			return;
		}
		api_reply_json(req, 200, scale_of(o->obj));
		cache_obj_unref(o);
		return;
	}
	if (strcmp(req->method, "PUT") == 0) {
		if (req_decode_object(req, r, "autoscaling/v1", "Scale", &sc.body) < 0)
			return;
	} else if (strcmp(req->method, "PATCH") == 0) {
		if (ct && strncmp(ct, "application/json-patch+json", 27) == 0)
			sc.patch_type = "json";
		else if (ct && strncmp(ct, "application/merge-patch+json", 28) == 0)
			sc.patch_type = "merge";
		else
			sc.patch_type = "strategic";
		if (req_decode_body(req, &sc.body) < 0)
			return;
	} else {
		api_reply_status(req, status_failure(REASON_METHOD_NOT_ALLOWED, NULL, NULL, NULL,
						     "scale supports GET, PUT and PATCH"));
		return;
	}
	/* Only the replica count changes: the generic update path does the rest. */
	do_update(req, r, "", build_scale, &sc, !sc.patch_type);
	reply_as_scale(req);
	json_decref(sc.body);
}

/* ---------------------------------------------------------------- log */

struct log_proxy {
	char *url;
	int fd[2];		/* pipe: helper thread writes, client thread reads */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	long status;		/* kubelet's HTTP status once known */
	bool done;		/* the kubelet request ended */
	bool client_gone;
	int refs;		/* helper thread + client side */
	struct buf error;	/* kubelet's body when status != 200 */
	char curl_err[CURL_ERROR_SIZE];
};

static void proxy_unref(struct log_proxy *p)
{
	bool last;

	pthread_mutex_lock(&p->lock);
	last = --p->refs == 0;
	pthread_mutex_unlock(&p->lock);
	if (!last)
		return;
	if (p->fd[0] >= 0)
		close(p->fd[0]);
	if (p->fd[1] >= 0)
		close(p->fd[1]);
	buf_free(&p->error);
	free(p->url);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}

static size_t proxy_write(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct log_proxy *p = ctx;
	size_t len = size * nmemb, off = 0;

	pthread_mutex_lock(&p->lock);
	bool ok = p->status == 200;
	if (!ok && p->error.len < 64 * 1024)
		buf_append(&p->error, data, len);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (!ok)
		return len;
	while (off < len) {
		ssize_t n = write(p->fd[1], data + off, len - off);

		if (n < 0)
			return CURL_WRITEFUNC_ERROR;	/* client gone: stop */
		off += n;
	}
	return len;
}

static size_t proxy_header(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct log_proxy *p = ctx;
	int code;

	if (sscanf(data, "HTTP/%*s %d", &code) == 1) {
		pthread_mutex_lock(&p->lock);
		p->status = code;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
	return size * nmemb;
}

static void *proxy_thread(void *arg)
{
	struct log_proxy *p = arg;
	CURL *h = curl_easy_init();
	CURLcode rc = CURLE_FAILED_INIT;

	if (h) {
		curl_easy_setopt(h, CURLOPT_URL, p->url);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, p->curl_err);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, proxy_write);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, p);
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, proxy_header);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, p);
		rc = curl_easy_perform(h);
		curl_easy_cleanup(h);
	}
	pthread_mutex_lock(&p->lock);
	if (rc != CURLE_OK && !p->curl_err[0])
		snprintf(p->curl_err, sizeof(p->curl_err), "%s", curl_easy_strerror(rc));
	p->done = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	/* EOF for the client side. */
	close(p->fd[1]);
	p->fd[1] = -1;
	proxy_unref(p);
	return NULL;
}

static ssize_t proxy_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct log_proxy *p = cls;
	ssize_t n = read(p->fd[0], buf, max);

	if (n > 0)
		return n;
	return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void proxy_free(void *cls)
{
	struct log_proxy *p = cls;

	/* Closing our end makes the helper's next write fail, ending its request. */
	close(p->fd[0]);
	p->fd[0] = -1;
	proxy_unref(p);
}

/* The container to read: the `container` parameter, or the pod's only one. */
static const char *log_container(struct api_req *req, const json_t *pod)
{
	const char *c = api_query(req, "container");
	json_t *cs = jsonx_get_path(pod, "spec.containers"), *x;
	struct buf names = { 0 };
	size_t i;

	if (c && *c)
		return c;
	if (json_array_size(cs) == 1)
		return jsonx_str(json_array_get(cs, 0), "name", "");
	json_array_foreach(cs, i, x)
		buf_appendf(&names, "%s%s", i ? " " : "", jsonx_str(x, "name", ""));
	api_reply_status(req, status_failure(REASON_BAD_REQUEST, NULL, NULL, NULL,
					     "a container name must be specified for pod %s, "
					     "choose one of: [%s]",
					     req->route.name, names.data ? names.data : ""));
	buf_free(&names);
	return NULL;
}

void handle_log(struct api_req *req, const struct resource *r)
{
	static const char *const passed[] = { "follow", "previous", "timestamps", "tailLines",
					      "sinceSeconds", "sinceTime", "limitBytes" };
	struct cache_obj *pod = NULL, *node = NULL;
	struct log_proxy *p = NULL;
	struct buf url = { 0 };
	const char *container, *node_name, *addr = NULL;
	char key[600];
	json_t *a;
	size_t i;
	pthread_t th;
	long port;

	if (strcmp(req->method, "GET") != 0) {
		api_reply_status(req, status_failure(REASON_METHOD_NOT_ALLOWED, NULL, NULL, NULL,
						     "log supports GET only"));
		return;
	}
	req_key(req, r, key, sizeof(key));
	pod = cache_get(req->srv->cache, key);
	if (!pod) {
		api_reply_status(req, status_from_errno(-ENOENT, r, req->route.name));
		return;
	}
	container = log_container(req, pod->obj);
	if (!container)
		goto out;
	node_name = jsonx_path_str(pod->obj, "spec.nodeName", "");
	if (!*node_name) {
		api_reply_status(req, status_failure(REASON_BAD_REQUEST, NULL, NULL, NULL,
						     "pod %s does not have a host assigned",
						     req->route.name));
		goto out;
	}
	registry_key(registry_find("", "v1", "nodes"), NULL, node_name, key, sizeof(key));
	node = cache_get(req->srv->cache, key);
	json_array_foreach(node ? jsonx_get_path(node->obj, "status.addresses") : NULL, i, a) {
		if (strcmp(jsonx_str(a, "type", ""), "InternalIP") == 0)
			addr = jsonx_str(a, "address", NULL);
	}
	port = node ? jsonx_path_int(node->obj, "status.daemonEndpoints.kubeletEndpoint.Port", 0)
		    : 0;
	if (!addr || port <= 0 || port > 65535) {
		api_reply_status(req, status_failure(REASON_INTERNAL_ERROR, NULL, NULL, NULL,
						     "no kubelet address known for node %s",
						     node_name));
		goto out;
	}
	buf_appendf(&url, "http://%s:%ld/containerLogs/%s/%s/%s?", addr, port, req->route.ns,
		    req->route.name, container);
	for (i = 0; i < ARRAY_SIZE(passed); i++) {
		const char *v = api_query(req, passed[i]);

		if (v) {
			char *e = httpc_escape(v);

			buf_appendf(&url, "%s=%s&", passed[i], e);
			free(e);
		}
	}
	p = xcalloc(1, sizeof(*p));
	p->url = url.data;
	url.data = NULL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->refs = 2;
	if (pipe2(p->fd, O_CLOEXEC) < 0 || pthread_create(&th, NULL, proxy_thread, p) != 0) {
		api_reply_status(req, status_failure(REASON_INTERNAL_ERROR, NULL, NULL, NULL,
						     "cannot start the log proxy"));
		p->refs = 1;
		proxy_unref(p);
		goto out;
	}
	pthread_detach(th);
	/* Wait for the kubelet's answer (or failure) before choosing our status. */
	pthread_mutex_lock(&p->lock);
	while (!p->status && !p->done)
		pthread_cond_wait(&p->cond, &p->lock);
	while (p->status != 200 && !p->done)
		pthread_cond_wait(&p->cond, &p->lock);	/* collect the error body */
	long status = p->status;
	pthread_mutex_unlock(&p->lock);
	if (status == 200) {
		api_stream(req, 200, "text/plain", proxy_read, p, proxy_free);
		p = NULL;
	} else if (status > 0) {
		api_reply_status(req, status_failure(status == 404 ? REASON_NOT_FOUND
								   : REASON_BAD_REQUEST,
						     NULL, NULL, NULL, "%.*s",
						     (int)MIN(p->error.len, 4096),
						     p->error.data ? p->error.data : ""));
	} else {
		api_reply_status(req, status_failure(REASON_INTERNAL_ERROR, NULL, NULL, NULL,
						     "Get \"%s\": %s", p->url, p->curl_err));
	}
	if (p)
		proxy_free(p);
out:
	buf_free(&url);
	cache_obj_unref(pod);
	cache_obj_unref(node);
}
