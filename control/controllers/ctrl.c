/*
 * ctrl.c - see ctrl.h.
 *
 * Expectations are a jansson object key -> {"adds": n, "dels": {uid: true},
 * "at": ns} under one mutex: controllers touch them from informer threads
 * (observations) and workers (expect, check), never for long.
 *
 * The template hash is FNV-1a (32 bits) over the template's canonical JSON
 * (sorted keys, compact), with the collision count mixed in, written in
 * base 27 over an alphabet without vowels (so no hash spells a word) and
 * without characters that look alike. Upstream hashes Go's in-memory
 * struct; only the properties matter here (stable, short, label-safe, a
 * different value after a collision), not the exact string.
 */
#include "control/controllers/ctrl.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "ktime.h"
#include "log.h"
#include "util.h"

/* ---------------------------------------------------------------- writes */

static int real_create(void *ctx, enum cm_resource r, const json_t *obj, json_t **out)
{
	return cm_create(ctx, r, obj, out);
}

static int real_update(void *ctx, enum cm_resource r, const json_t *obj, const char *sub,
		       json_t **out)
{
	return cm_update(ctx, r, obj, sub, out);
}

static int real_patch(void *ctx, enum cm_resource r, const char *ns, const char *name,
		      const char *sub, const char *type, const json_t *patch, json_t **out)
{
	return cm_patch(ctx, r, ns, name, sub, type, patch, out);
}

static int real_del(void *ctx, enum cm_resource r, const char *ns, const char *name,
		    const json_t *opts, json_t **out)
{
	return cm_delete(ctx, r, ns, name, opts, out);
}

static void real_event(void *ctx, const char *component, const json_t *obj, const char *type,
		       const char *reason, const char *message)
{
	cm_event(ctx, component, obj, type, reason, "%s", message);
}

void cm_api_init(struct cm_api *api, struct cm *cm, const char *component)
{
	*api = (struct cm_api){ .create = real_create,
				.update = real_update,
				.patch = real_patch,
				.del = real_del,
				.event = real_event,
				.ctx = cm,
				.component = component };
}

void cm_api_event(const struct cm_api *api, const json_t *obj, const char *kind,
		  const char *api_version, const char *type, const char *reason, const char *fmt,
		  ...)
{
	char msg[1024];
	json_t *copy;
	va_list ap;

	if (!api->event)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Objects from a list may lack kind and apiVersion; Events need them. */
	copy = json_copy((json_t *)obj);
	if (!copy)
		return;
	json_object_set_new(copy, "kind", json_string(kind));
	json_object_set_new(copy, "apiVersion", json_string(api_version));
	api->event(api->ctx, api->component, copy, type, reason, msg);
	json_decref(copy);
}

int cm_api_update_status(const struct cm_api *api, enum cm_resource r, const json_t *obj,
			 const json_t *status, json_t **out)
{
	json_t *copy = json_copy((json_t *)obj);
	int rc;

	if (!copy) {
		if (out)
			*out = NULL;
		return -EINVAL;
	}
	json_object_set_new(copy, "status", json_deep_copy(status));
	rc = api->update(api->ctx, r, copy, "status", out);
	json_decref(copy);
	return rc;
}

static bool is_zero(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_NULL:
		return true;
	case JSON_INTEGER:
		return json_integer_value(v) == 0;
	case JSON_REAL:
		return json_real_value(v) == 0;
	case JSON_STRING:
		return json_string_length(v) == 0;
	case JSON_ARRAY:
		return json_array_size(v) == 0;
	case JSON_OBJECT:
		return json_object_size(v) == 0;
	default:
		return false;
	}
}

/* Every member of a that is not zero appears, equal, in b. */
static bool covers(const json_t *a, const json_t *b)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)a, k, v) {
		json_t *w = json_object_get(b, k);

		if (is_zero(v) ? !(w == NULL || is_zero(w)) : !jsonx_equal(v, w))
			return false;
	}
	return true;
}

bool cm_status_equal(const json_t *a, const json_t *b)
{
	json_t *empty = json_object();
	bool eq;

	a = json_is_object(a) ? a : empty;
	b = json_is_object(b) ? b : empty;
	eq = covers(a, b) && covers(b, a);
	json_decref(empty);
	return eq;
}

/* ---------------------------------------------------------------- workers */

struct cm_workers {
	char *name;
	struct workqueue *q;
	cm_sync_fn fn;
	void *ctx;
	pthread_t *threads;
	unsigned n;
};

static void *worker_main(void *arg)
{
	struct cm_workers *w = arg;
	char key[512];
	int rc;

	for (;;) {
		rc = wq_get(w->q, key, sizeof(key), -1);
		if (rc == -ECANCELED)
			break;
		if (rc < 0)
			continue;
		rc = w->fn(w->ctx, key);
		if (rc < 0) {
			log_debug("%s: sync %s: %s (retry %u)", w->name, key, strerror(-rc),
				  wq_requeues(w->q, key) + 1);
			wq_add_rate_limited(w->q, key);
		} else {
			wq_forget(w->q, key);
		}
		wq_done(w->q, key);
	}
	return NULL;
}

struct cm_workers *cm_workers_start(const char *name, struct workqueue *q, unsigned n,
				    cm_sync_fn fn, void *ctx)
{
	struct cm_workers *w = xcalloc(1, sizeof(*w));

	w->name = xstrdup(name ? name : "");
	w->q = q;
	w->fn = fn;
	w->ctx = ctx;
	w->threads = xcalloc(n ? n : 1, sizeof(*w->threads));
	for (unsigned i = 0; i < (n ? n : 1); i++) {
		if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0)
			break;
		w->n++;
	}
	if (w->n == 0) {
		free(w->threads);
		free(w->name);
		free(w);
		return NULL;
	}
	return w;
}

void cm_workers_stop(struct cm_workers *w)
{
	if (!w)
		return;
	wq_shutdown(w->q);
	for (unsigned i = 0; i < w->n; i++)
		pthread_join(w->threads[i], NULL);
	free(w->threads);
	free(w->name);
	free(w);
}

int cm_split_key(const char *key, char *ns, size_t nslen, const char **name)
{
	const char *slash = key ? strchr(key, '/') : NULL;

	if (!slash || slash == key || !slash[1] || (size_t)(slash - key) >= nslen)
		return -EINVAL;
	snprintf(ns, nslen, "%.*s", (int)(slash - key), key);
	*name = slash + 1;
	return 0;
}

/* ---------------------------------------------------------------- expectations */

#define CM_EXP_TTL_NS (300ull * 1000000000ull)

struct cm_expectations {
	pthread_mutex_t lock;
	json_t *map;
	uint64_t ttl_ns;
};

struct cm_expectations *cm_exp_new(void)
{
	struct cm_expectations *e = xcalloc(1, sizeof(*e));

	pthread_mutex_init(&e->lock, NULL);
	e->map = json_object();
	e->ttl_ns = CM_EXP_TTL_NS;
	return e;
}

void cm_exp_free(struct cm_expectations *e)
{
	if (!e)
		return;
	json_decref(e->map);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

void cm_exp_set_ttl(struct cm_expectations *e, uint64_t ttl_ns)
{
	e->ttl_ns = ttl_ns;
}

void cm_exp_expect(struct cm_expectations *e, const char *key, int adds,
		   const char *const *del_uids, size_t ndel)
{
	json_t *rec =
		json_pack("{s:i,s:{},s:I}", "adds", adds, "dels", "at", (json_int_t)now_mono_ns());
	json_t *dels = json_object_get(rec, "dels");

	for (size_t i = 0; i < ndel; i++)
		if (del_uids[i])
			json_object_set_new(dels, del_uids[i], json_true());
	pthread_mutex_lock(&e->lock);
	json_object_set_new(e->map, key, rec);
	pthread_mutex_unlock(&e->lock);
}

void cm_exp_creation_observed(struct cm_expectations *e, const char *key)
{
	json_t *rec;

	pthread_mutex_lock(&e->lock);
	rec = json_object_get(e->map, key);
	if (rec)
		json_object_set_new(rec, "adds", json_integer(jsonx_int(rec, "adds", 0) - 1));
	pthread_mutex_unlock(&e->lock);
}

void cm_exp_deletion_observed(struct cm_expectations *e, const char *key, const char *uid)
{
	json_t *rec;

	if (!uid)
		return;
	pthread_mutex_lock(&e->lock);
	rec = json_object_get(e->map, key);
	if (rec)
		json_object_del(json_object_get(rec, "dels"), uid);
	pthread_mutex_unlock(&e->lock);
}

bool cm_exp_satisfied(struct cm_expectations *e, const char *key)
{
	bool ok = true;
	json_t *rec;

	pthread_mutex_lock(&e->lock);
	rec = json_object_get(e->map, key);
	if (rec) {
		uint64_t at = (uint64_t)jsonx_int(rec, "at", 0);

		ok = (jsonx_int(rec, "adds", 0) <= 0 &&
		      json_object_size(json_object_get(rec, "dels")) == 0) ||
		     now_mono_ns() - at > e->ttl_ns;
	}
	pthread_mutex_unlock(&e->lock);
	return ok;
}

void cm_exp_forget(struct cm_expectations *e, const char *key)
{
	pthread_mutex_lock(&e->lock);
	json_object_del(e->map, key);
	pthread_mutex_unlock(&e->lock);
}

/* ---------------------------------------------------------------- values */

/* "N%" of total, rounded as asked. */
static int percent_of(const char *s, int total, bool round_up, int *out)
{
	long long scaled;
	char *end;
	long pct;

	if (!s || !*s || s[0] == '-' || s[0] == '+' || s[0] == ' ')
		return -EINVAL;
	errno = 0;
	pct = strtol(s, &end, 10);
	if (errno || end == s || strcmp(end, "%") != 0 || pct < 0 || pct > 1000000)
		return -EINVAL;
	scaled = (long long)pct * (total > 0 ? total : 0);
	*out = (int)(round_up ? (scaled + 99) / 100 : scaled / 100);
	return 0;
}

int cm_int_or_percent(const json_t *v, const char *def, int total, bool round_up, int *out)
{
	json_int_t n;

	if (!v || json_is_null(v)) {
		if (!def)
			return -EINVAL;
		if (strchr(def, '%'))
			return percent_of(def, total, round_up, out);
		*out = atoi(def);
		return 0;
	}
	if (json_is_string(v))
		return percent_of(json_string_value(v), total, round_up, out);
	if (!json_is_integer(v))
		return -EINVAL;
	n = json_integer_value(v);
	if (n < 0 || n > INT_MAX)
		return -EINVAL;
	*out = (int)n;
	return 0;
}

void cm_template_hash(const json_t *tmpl, long long collision_count, char *buf, size_t len)
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	char *text = jsonx_dumps_compact(tmpl);
	uint32_t h = 2166136261u;
	char out[16];
	size_t n = 0;

	for (const char *p = text ? text : ""; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 16777619u;
	}
	free(text);
	if (collision_count >= 0) {
		for (int i = 0; i < 8; i++) {
			h ^= (unsigned char)((unsigned long long)collision_count >> (8 * i));
			h *= 16777619u;
		}
	}
	do {
		out[n++] = alphabet[h % (sizeof(alphabet) - 1)];
		h /= sizeof(alphabet) - 1;
	} while (h && n < sizeof(out) - 1);
	out[n] = '\0';
	snprintf(buf, len, "%s", out);
}

int64_t cm_time_ns(const json_t *obj, const char *path)
{
	const char *s = jsonx_path_str(obj, path, NULL);
	int64_t ns;

	if (!s || ktime_parse(s, &ns) < 0)
		return 0;
	return ns;
}

int64_t cm_creation_ns(const json_t *obj)
{
	return cm_time_ns(obj, "metadata.creationTimestamp");
}

void cm_format_time(int64_t ns, char *buf, size_t len)
{
	if (ktime_format(ns, buf, len) < 0 && len)
		buf[0] = '\0';
}

/* ---------------------------------------------------------------- conditions */

json_t *cm_cond_get(const json_t *status, const char *type)
{
	json_t *c;
	size_t i;

	json_array_foreach(jsonx_arr(status, "conditions"), i, c) {
		if (strcmp(jsonx_str(c, "type", ""), type) == 0)
			return c;
	}
	return NULL;
}

void cm_cond_remove(json_t *status, const char *type)
{
	json_t *conds = jsonx_arr(status, "conditions"), *c;
	size_t i;

	json_array_foreach(conds, i, c) {
		if (strcmp(jsonx_str(c, "type", ""), type) == 0) {
			json_array_remove(conds, i);
			i--;
		}
	}
}

void cm_cond_set(json_t *status, json_t *cond)
{
	const char *type = jsonx_str(cond, "type", "");
	json_t *cur = cm_cond_get(status, type), *conds;

	if (cur && strcmp(jsonx_str(cur, "status", ""), jsonx_str(cond, "status", "")) == 0) {
		if (strcmp(jsonx_str(cur, "reason", ""), jsonx_str(cond, "reason", "")) == 0) {
			json_decref(cond);
			return;
		}
		json_object_set(cond, "lastTransitionTime",
				json_object_get(cur, "lastTransitionTime"));
	}
	cm_cond_remove(status, type);
	conds = jsonx_arr(status, "conditions");
	if (!conds) {
		conds = json_array();
		json_object_set_new(status, "conditions", conds);
	}
	json_array_append_new(conds, cond);
}

json_t *cm_cond_new(const char *type, const char *status, const char *reason, const char *message,
		    int64_t now, bool with_update_time)
{
	char ts[KTIME_BUFSZ];
	json_t *c;

	cm_format_time(now, ts, sizeof(ts));
	c = json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", type, "status", status, "reason", reason,
		      "message", message, "lastTransitionTime", ts);
	if (with_update_time)
		json_object_set_new(c, "lastUpdateTime", json_string(ts));
	return c;
}
