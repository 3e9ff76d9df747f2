/* sync.c - see sync.h. */
#include "agent/lb/sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/lb/model.h"
#include "agent/lb/tracker.h"
#include "informer.h"
#include "jsonx.h"
#include "log.h"
#include "util.h"

struct lb_sync {
	char *node;
	struct lb_writer *writer;
	void (*on_change)(void *ctx);
	void *ctx;
	struct lb_hist *event_to_map;
	__be32 node_ip;
	struct lb_hc *hc;
	struct tracker *svc_changes, *slice_changes;
	/* Owned by the sync thread. */
	json_t *services; /* "ns/name" -> service digest */
	json_t *slices;	  /* "ns/name" -> slice digest */
	json_t *by_svc;	  /* "ns/service" -> { slice key: true } */
	json_t *retry;	  /* "ns/service" -> true: last write failed */
	json_t *health;	  /* "ns/service" -> [port, local endpoints] */
	bool health_dirty;
};

struct lb_sync *lb_sync_new(const struct lb_sync_config *cfg)
{
	struct lb_sync *s;

	if (!cfg->writer)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->node = cfg->node ? xstrdup(cfg->node) : NULL;
	s->writer = cfg->writer;
	s->on_change = cfg->on_change;
	s->ctx = cfg->ctx;
	s->event_to_map = cfg->event_to_map;
	s->node_ip = cfg->node_ip;
	s->hc = cfg->hc;
	s->health = json_object();
	s->svc_changes = tracker_new();
	s->slice_changes = tracker_new();
	s->services = json_object();
	s->slices = json_object();
	s->by_svc = json_object();
	s->retry = json_object();
	return s;
}

void lb_sync_free(struct lb_sync *s)
{
	if (!s)
		return;
	tracker_free(s->svc_changes);
	tracker_free(s->slice_changes);
	json_decref(s->services);
	json_decref(s->slices);
	json_decref(s->by_svc);
	json_decref(s->retry);
	json_decref(s->health);
	free(s->node);
	free(s);
}

static void record(struct lb_sync *s, struct tracker *t, json_t *(*digest)(const json_t *),
		   const json_t *old, const json_t *cur)
{
	json_t *d_old = old ? digest(old) : NULL, *d_cur = cur ? digest(cur) : NULL;
	char key[512];

	if (informer_key(d_cur ? d_cur : d_old, key, sizeof(key)) == 0 &&
	    tracker_update(t, key, d_old, d_cur, now_mono_ns()) && s->on_change)
		s->on_change(s->ctx);
	json_decref(d_old);
	json_decref(d_cur);
}

void lb_sync_service_event(struct lb_sync *s, const json_t *old, const json_t *cur)
{
	record(s, s->svc_changes, lb_model_service_digest, old, cur);
}

void lb_sync_slice_event(struct lb_sync *s, const json_t *old, const json_t *cur)
{
	record(s, s->slice_changes, lb_model_slice_digest, old, cur);
}

size_t lb_sync_pending(struct lb_sync *s)
{
	return tracker_pending(s->svc_changes) + tracker_pending(s->slice_changes);
}

/* Mark service key dirty; since_ns = 0 for "no event" (full runs, retries). */
static void dirty_add(json_t *dirty, const char *key, uint64_t since_ns)
{
	json_t *have = json_object_get(dirty, key);
	json_int_t t = (json_int_t)since_ns;

	if (!have)
		json_object_set_new(dirty, key, json_integer(t));
	else if (t && (!json_integer_value(have) || t < json_integer_value(have)))
		json_integer_set(have, t);
}

/* "ns/service" of a slice digest, or false when it names no service. */
static bool slice_owner(const json_t *slice, char *buf, size_t len)
{
	const char *svc = lb_model_slice_service(slice);
	const char *ns = jsonx_path_str(slice, "metadata.namespace", "default");
	int n;

	if (!slice || !svc || !*svc)
		return false;
	n = snprintf(buf, len, "%s/%s", ns, svc);
	return n > 0 && (size_t)n < len;
}

static void apply_service_changes(struct lb_sync *s, const struct tracker_changes *c, json_t *dirty)
{
	for (size_t i = 0; i < c->n; i++) {
		if (c->v[i].cur)
			json_object_set(s->services, c->v[i].key, c->v[i].cur);
		else
			json_object_del(s->services, c->v[i].key);
		dirty_add(dirty, c->v[i].key, c->v[i].since_ns);
	}
}

static void apply_slice_changes(struct lb_sync *s, const struct tracker_changes *c, json_t *dirty)
{
	char owner[512];

	for (size_t i = 0; i < c->n; i++) {
		const char *key = c->v[i].key;
		json_t *old = json_object_get(s->slices, key);

		if (slice_owner(old, owner, sizeof(owner))) {
			json_t *set = json_object_get(s->by_svc, owner);

			json_object_del(set, key);
			if (json_object_size(set) == 0)
				json_object_del(s->by_svc, owner);
			dirty_add(dirty, owner, c->v[i].since_ns);
		}
		if (!c->v[i].cur) {
			json_object_del(s->slices, key);
			continue;
		}
		json_object_set(s->slices, key, c->v[i].cur);
		if (slice_owner(c->v[i].cur, owner, sizeof(owner))) {
			json_t *set = json_object_get(s->by_svc, owner);

			if (!set) {
				set = json_object();
				json_object_set_new(s->by_svc, owner, set);
			}
			json_object_set_new(set, key, json_true());
			dirty_add(dirty, owner, c->v[i].since_ns);
		}
	}
}

struct dirty_item {
	const char *key;
	uint64_t since_ns;
	bool deleted;
};

static int dirty_cmp(const void *a, const void *b)
{
	const struct dirty_item *x = a, *y = b;

	if (x->deleted != y->deleted)
		return x->deleted ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* Remember a service's health check port (0: none); marks a change. */
static void health_note(struct lb_sync *s, const char *key, __u16 port, __u32 count)
{
	json_t *cur = json_object_get(s->health, key);

	if (!port) {
		if (cur) {
			json_object_del(s->health, key);
			s->health_dirty = true;
		}
		return;
	}
	if (cur && json_integer_value(json_array_get(cur, 0)) == port &&
	    json_integer_value(json_array_get(cur, 1)) == count)
		return;
	json_object_set_new(s->health, key, json_pack("[ii]", port, count));
	s->health_dirty = true;
}

/* Hand every health check port to the server. */
static void health_push(struct lb_sync *s)
{
	struct lb_hc_service *v;
	const char *key;
	json_t *val;
	size_t n = 0;
	char err[256];

	if (!s->hc || !s->health_dirty)
		return;
	v = xcalloc(json_object_size(s->health) + 1, sizeof(*v));
	json_object_foreach(s->health, key, val) {
		const char *slash = strchr(key, '/');

		if (!slash)
			continue;
		v[n].port = (uint16_t)json_integer_value(json_array_get(val, 0));
		v[n].local_endpoints = (uint32_t)json_integer_value(json_array_get(val, 1));
		snprintf(v[n].ns, sizeof(v[n].ns), "%.*s", (int)(slash - key), key);
		snprintf(v[n].name, sizeof(v[n].name), "%s", slash + 1);
		n++;
	}
	/* A port that could not be opened is retried by the next push. */
	s->health_dirty = lb_hc_set(s->hc, v, n, err, sizeof(err)) != 0;
	if (s->health_dirty)
		log_warn("health check ports: %s", err);
	free(v);
}

/* Rebuild one service and write it; returns the writer's result. */
static int sync_service(struct lb_sync *s, const struct dirty_item *d)
{
	const json_t *svc = json_object_get(s->services, d->key);
	json_t *set = json_object_get(s->by_svc, d->key), *v;
	const json_t **slices = xcalloc(json_object_size(set) + 1, sizeof(*slices));
	struct lb_service_ports ports = { 0 };
	size_t n = 0, ops = 0;
	const char *skey;
	char err[256];
	int rc;

	json_object_foreach(set, skey, v) {
		const json_t *slice = json_object_get(s->slices, skey);

		if (slice)
			slices[n++] = slice;
	}
	if (svc &&
	    lb_model_build_node(svc, slices, n,
				&(struct lb_model_node){ .name = s->node, .addr = s->node_ip },
				&ports, err, sizeof(err)) < 0)
		log_warn("service %s is not programmed: %s", d->key, err);
	health_note(s, d->key, ports.hc_port, ports.local_endpoints);
	rc = lb_writer_set_service(s->writer, d->key, ports.v, ports.n, &ops);
	if (rc == 0 && ops > 0 && d->since_ns && s->event_to_map)
		lb_hist_observe(s->event_to_map, (double)(now_mono_ns() - d->since_ns) / 1e9);
	if (ops > 0)
		log_debug("service %s: %zu service ports, %zu map operations", d->key, ports.n,
			  ops);
	lb_service_ports_free(&ports);
	free(slices);
	return rc;
}

int lb_sync_run(struct lb_sync *s, bool want_full, struct lb_sync_result *res)
{
	struct tracker_changes svc = { 0 }, slc = { 0 };
	uint64_t t0 = now_mono_ns();
	json_t *dirty = json_object(), *v;
	struct dirty_item *items;
	size_t n = 0;
	const char *key;
	bool full;
	int first = 0, rc;

	tracker_drain(s->svc_changes, &svc);
	tracker_drain(s->slice_changes, &slc);
	apply_service_changes(s, &svc, dirty);
	apply_slice_changes(s, &slc, dirty);

	full = lb_writer_begin(s->writer, want_full);
	if (full)
		json_object_foreach(s->services, key, v)
			dirty_add(dirty, key, 0);
	json_object_foreach(s->retry, key, v)
		dirty_add(dirty, key, 0);

	items = xcalloc(json_object_size(dirty) + 1, sizeof(*items));
	json_object_foreach(dirty, key, v) {
		items[n].key = key;
		items[n].since_ns = (uint64_t)json_integer_value(v);
		items[n].deleted = !json_object_get(s->services, key);
		n++;
	}
	qsort(items, n, sizeof(*items), dirty_cmp);
	for (size_t i = 0; i < n; i++) {
		rc = sync_service(s, &items[i]);
		if (rc) {
			json_object_set_new(s->retry, items[i].key, json_true());
			if (!first)
				first = rc;
		} else {
			json_object_del(s->retry, items[i].key);
		}
	}
	rc = lb_writer_commit(s->writer, res ? &res->writes : NULL);
	if (rc && !first)
		first = rc;
	health_push(s);

	if (res) {
		res->full = full;
		res->changes = svc.n + slc.n;
		res->services = n;
		res->total_services = json_object_size(s->services);
		lb_writer_counts(s->writer, &res->frontends, &res->backends);
		res->duration_ns = now_mono_ns() - t0;
	}
	free(items);
	json_decref(dirty);
	tracker_changes_free(&svc);
	tracker_changes_free(&slc);
	return first;
}
