/*
 * server.c - see server.h.
 *
 * Start-up order matters: the cache is filled from one consistent list of
 * the store and only then subscribed to the store's events, before anything
 * can write; bootstrap objects are written through the store like any other
 * write; the listener opens last, so no request ever sees a half-built
 * server.
 *
 * Compaction: every interval the store forgets history older than the
 * revision seen one interval earlier, so watchers and continue tokens get
 * at least one interval of history (the cache keeps its own, bounded by
 * count).
 */
#include "control/apiserver/server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "control/apiserver/handlers.h"
#include "control/apiserver/http.h"
#include "control/apiserver/services.h"
#include "jsonx.h"
#include "log.h"

static const char *const bootstrap_namespaces[] = { "default", "kube-system", "kube-public",
						     "kube-node-lease" };

/* Create key with obj unless it exists. 0 (created or present) or -errno. */
static int bootstrap_create(struct apiserver *s, const struct resource *r, const char *ns,
			    json_t *obj)
{
	char key[512];
	struct cache_obj *cur;
	size_t len;
	char *text;
	int err;

	registry_key(r, ns, jsonx_path_str(obj, "metadata.name", ""), key, sizeof(key));
	cur = cache_get(s->cache, key);
	if (cur) {
		cache_obj_unref(cur);
		return 0;
	}
	object_prepare_create(r, obj);
	text = object_storage_text(obj, &len);
	err = store_create(s->store, key, text, len, NULL, NULL);
	free(text);
	return err == -EEXIST ? 0 : err;
}

/* Replace key's content with obj when it differs in the given field. */
static int bootstrap_reconcile(struct apiserver *s, const struct resource *r, const char *ns,
			       json_t *obj, const char *field)
{
	char key[512];
	struct cache_obj *cur, *res = NULL;
	json_t *next;
	int err;

	registry_key(r, ns, jsonx_path_str(obj, "metadata.name", ""), key, sizeof(key));
	cur = cache_get(s->cache, key);
	if (!cur)
		return bootstrap_create(s, r, ns, obj);
	if (jsonx_equal(json_object_get(cur->obj, field), json_object_get(obj, field))) {
		cache_obj_unref(cur);
		return 0;
	}
	next = json_deep_copy(cur->obj);
	json_object_set(next, field, json_object_get(obj, field));
	err = store_write_update(s, r, key, cur, next, &res);
	cache_obj_unref(res);
	cache_obj_unref(cur);
	json_decref(next);
	return err;
}

static int bootstrap(struct apiserver *s, char *err, size_t errlen)
{
	const struct resource *nsr = registry_find("", "v1", "namespaces");
	const struct resource *svcr = registry_find("", "v1", "services");
	const struct resource *epr = registry_find("", "v1", "endpoints");
	const struct resource *esr = registry_find("discovery.k8s.io", "v1", "endpointslices");
	const char *addr = s->cfg.advertise_address;
	char ip[64];
	json_t *obj;
	int e = 0;

	for (size_t i = 0; i < ARRAY_SIZE(bootstrap_namespaces) && !e; i++) {
		obj = json_pack("{s:s,s:s,s:{s:s},s:{s:[s]}}", "apiVersion", "v1", "kind",
				"Namespace", "metadata", "name", bootstrap_namespaces[i], "spec",
				"finalizers", "kubernetes");
		e = bootstrap_create(s, nsr, NULL, obj);
		json_decref(obj);
	}

	/* The kubernetes Service holds the first address of the range. */
	ipalloc_first(&s->ips, ip, sizeof(ip));
	pthread_mutex_lock(&s->alloc_lock);
	ipalloc_take(&s->ips, ip);	/* -EEXIST when it already exists: fine */
	pthread_mutex_unlock(&s->alloc_lock);
	obj = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s,s:s}},s:{s:s,s:s,s:[s],s:[{s:s,s:i,s:s,s:i}],"
			"s:s,s:[s],s:s,s:s}}",
			"apiVersion", "v1", "kind", "Service", "metadata", "name", "kubernetes",
			"namespace", "default", "labels", "component", "apiserver", "provider",
			"kubernetes", "spec", "type", "ClusterIP", "clusterIP", ip, "clusterIPs",
			ip, "ports", "name", "https", "port", 443, "protocol", "TCP", "targetPort",
			(int)s->port, "sessionAffinity", "None", "ipFamilies", "IPv4",
			"ipFamilyPolicy", "SingleStack", "internalTrafficPolicy", "Cluster");
	if (!e)
		e = bootstrap_create(s, svcr, "default", obj);
	json_decref(obj);

	/* Its endpoints: this server, reconciled at every start. */
	if (!addr || !*addr)
		addr = strcmp(s->listen_host, "0.0.0.0") == 0 ? "127.0.0.1" : s->listen_host;
	obj = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:[{s:[{s:s}],s:[{s:s,s:i,s:s}]}]}",
			"apiVersion", "v1", "kind", "Endpoints", "metadata", "name", "kubernetes",
			"namespace", "default", "labels",
			"endpointslice.kubernetes.io/skip-mirror", "true", "subsets", "addresses",
			"ip", addr, "ports", "name", "https", "port", (int)s->port, "protocol",
			"TCP");
	if (!e)
		e = bootstrap_reconcile(s, epr, "default", obj, "subsets");
	json_decref(obj);
	obj = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s,s:s}},s:s,s:[{s:[s],s:{s:b}}],"
			"s:[{s:s,s:i,s:s}]}",
			"apiVersion", "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata",
			"name", "kubernetes", "namespace", "default", "labels",
			"kubernetes.io/service-name", "kubernetes",
			"endpointslice.kubernetes.io/managed-by", "capstan-apiserver",
			"addressType", "IPv4", "endpoints", "addresses", addr, "conditions",
			"ready", 1, "ports", "name", "https", "port", (int)s->port, "protocol",
			"TCP");
	if (!e)
		e = bootstrap_reconcile(s, esr, "default", obj, "endpoints");
	if (!e)
		e = bootstrap_reconcile(s, esr, "default", obj, "ports");
	json_decref(obj);
	if (e)
		snprintf(err, errlen, "bootstrap objects: %s", strerror(-e));
	return e;
}

static void *compactor_main(void *arg)
{
	struct apiserver *s = arg;
	int64_t previous = store_current_rev(s->store);
	unsigned interval = s->cfg.compact_interval_s ? s->cfg.compact_interval_s : 300;

	pthread_mutex_lock(&s->stop_lock);
	while (!atomic_load(&s->stopping)) {
		struct timespec ts;

		deadline_after_ms(&ts, CLOCK_MONOTONIC, (long)interval * 1000);
		if (pthread_cond_timedwait(&s->stop_cond, &s->stop_lock, &ts) != ETIMEDOUT)
			continue;
		pthread_mutex_unlock(&s->stop_lock);
		if (previous > store_compacted_rev(s->store)) {
			int err = store_compact(s->store, previous);

			if (err)
				log_warn("compaction to revision %lld failed: %s",
					 (long long)previous, strerror(-err));
			else
				log_debug("compacted history up to revision %lld",
					  (long long)previous);
		}
		previous = store_current_rev(s->store);
		pthread_mutex_lock(&s->stop_lock);
	}
	pthread_mutex_unlock(&s->stop_lock);
	return NULL;
}

static int parse_listen(struct apiserver *s, const char *listen, char *err, size_t errlen)
{
	const char *colon = strrchr(listen, ':');
	char *end;
	long port;

	if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof(s->listen_host)) {
		snprintf(err, errlen, "--listen: expected ADDR:PORT, got '%s'", listen);
		return -EINVAL;
	}
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 0 || port > 65535) {
		snprintf(err, errlen, "--listen: bad port in '%s'", listen);
		return -EINVAL;
	}
	memcpy(s->listen_host, listen, colon - listen);
	s->listen_host[colon - listen] = '\0';
	s->port = (unsigned)port;
	return 0;
}

int apiserver_start(const struct apiserver_config *cfg, struct apiserver **out, char *err,
		    size_t errlen)
{
	struct apiserver *s = xcalloc(1, sizeof(*s));
	struct store_sqlite_options so = { .no_fsync = cfg->no_fsync };
	pthread_condattr_t attr;
	char path[1024];
	int64_t rev = 0;
	int e;

	s->cfg = *cfg;
	if (!s->cfg.max_body)
		s->cfg.max_body = 3 << 20;
	s->start_ns = now_real_ns();
	pthread_mutex_init(&s->alloc_lock, NULL);
	pthread_mutex_init(&s->stop_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->stop_cond, &attr);
	pthread_condattr_destroy(&attr);

	e = parse_listen(s, cfg->listen ? cfg->listen : "127.0.0.1:6443", err, errlen);
	if (e)
		goto fail;
	e = ipalloc_init(&s->ips, cfg->service_cidr ? cfg->service_cidr : "10.96.0.0/12");
	if (e) {
		snprintf(err, errlen, "--service-cluster-ip-range: '%s' is not an IPv4 CIDR with "
			 "a prefix of 8 to 29 bits", cfg->service_cidr);
		goto fail;
	}
	e = portalloc_init(&s->ports, cfg->node_port_range ? cfg->node_port_range
							   : "30000-32767");
	if (e) {
		snprintf(err, errlen, "--service-node-port-range: '%s' is not LOW-HIGH",
			 cfg->node_port_range);
		goto fail;
	}
	if (mkdir(cfg->data_dir, 0700) < 0 && errno != EEXIST) {
		e = -errno;
		snprintf(err, errlen, "--data-dir %s: %s", cfg->data_dir, strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/state.db", cfg->data_dir);
	e = store_sqlite_open(path, &so, &s->store, err, errlen);
	if (e)
		goto fail;
	s->cache = cache_new(cfg->history);
	e = store_list(s->store, "/registry/", &rev, cache_load_kv, s->cache);
	if (e) {
		snprintf(err, errlen, "reading %s: %s", path, strerror(-e));
		goto fail;
	}
	cache_loaded(s->cache, rev);
	store_set_event_fn(s->store, cache_apply, s->cache);
	svc_alloc_rebuild(s);

	/* The kubernetes Service's targetPort is our port: listen first. */
	e = http_start(s, err, errlen);
	if (e)
		goto fail;
	e = bootstrap(s, err, errlen);
	if (e)
		goto fail;
	if (pthread_create(&s->compactor, NULL, compactor_main, s) != 0) {
		e = -EAGAIN;
		snprintf(err, errlen, "cannot start the compactor thread");
		goto fail;
	}
	log_info("listening on %s (data %s, revision %lld, %s)", s->url, path,
		 (long long)store_current_rev(s->store), s->ips.cidr);
	*out = s;
	return 0;
fail:
	http_stop(s);
	if (s->cache)
		cache_shutdown(s->cache);
	store_close(s->store);
	cache_free(s->cache);
	ipalloc_destroy(&s->ips);
	portalloc_destroy(&s->ports);
	free(s);
	return e;
}

void apiserver_stop(struct apiserver *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->stop_lock);
	atomic_store(&s->stopping, true);
	pthread_cond_broadcast(&s->stop_cond);
	pthread_mutex_unlock(&s->stop_lock);
	pthread_join(s->compactor, NULL);
	/* Watches return at once; then the listener waits for connection threads. */
	cache_shutdown(s->cache);
	http_stop(s);
	store_close(s->store);
	cache_free(s->cache);
	ipalloc_destroy(&s->ips);
	portalloc_destroy(&s->ports);
	pthread_mutex_destroy(&s->alloc_lock);
	pthread_mutex_destroy(&s->stop_lock);
	pthread_cond_destroy(&s->stop_cond);
	free(s);
}
