/* cache.c - see cache.h. */
#include "control/scheduler/cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "util.h"

void sched_cache_init(struct sched_cache *c)
{
	*c = (struct sched_cache){ .assume_ttl_ns = SCHED_ASSUME_TTL_NS };
}

void sched_cache_destroy(struct sched_cache *c)
{
	const char *k;
	void *v;

	for (size_t it = 0; sched_map_next(&c->pods, &it, &k, &v);)
		sched_pod_put(v);
	for (size_t it = 0; sched_map_next(&c->nodes, &it, &k, &v);)
		sched_node_free(v);
	for (size_t it = 0; sched_map_next(&c->ns_labels, &it, &k, &v);)
		json_decref(v);
	sched_map_free(&c->pods);
	sched_map_free(&c->assumed);
	sched_map_free(&c->nodes);
	sched_map_free(&c->ns_labels);
	free(c->live);
	*c = (struct sched_cache){ 0 };
}

/* ---------------------------------------------------------------- nodes */

static void live_add(struct sched_cache *c, struct sched_node *n)
{
	if (c->nlive == c->livecap) {
		c->livecap = c->livecap ? c->livecap * 2 : 64;
		c->live = xrealloc(c->live, c->livecap * sizeof(*c->live));
	}
	n->index = c->nlive;
	c->live[c->nlive++] = n;
}

static void live_remove(struct sched_cache *c, struct sched_node *n)
{
	struct sched_node *last = c->live[--c->nlive];

	c->live[n->index] = last;
	last->index = n->index;
}

static struct sched_node *node_get_or_placeholder(struct sched_cache *c, const char *name)
{
	struct sched_node *n = sched_map_get(&c->nodes, name);

	if (!n) {
		n = xcalloc(1, sizeof(*n));
		n->name = xstrdup(name);
		sched_map_put(&c->nodes, name, n);
	}
	return n;
}

/* A placeholder that lost its last pod has no reason to exist. */
static void node_maybe_free(struct sched_cache *c, struct sched_node *n)
{
	if (n->obj || n->npods)
		return;
	sched_map_del(&c->nodes, n->name);
	sched_node_free(n);
}

static bool node_changed(const json_t *a, const json_t *b)
{
	static const char *const paths[] = { "metadata.labels", "spec.taints", "spec.unschedulable",
					     "status.allocatable" };

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		if (!jsonx_equal(jsonx_get_path(a, paths[i]), jsonx_get_path(b, paths[i])))
			return true;
	return false;
}

int sched_cache_set_node(struct sched_cache *c, json_t *obj, unsigned *events, char *err,
			 size_t errlen)
{
	const char *name = jsonx_path_str(obj, "metadata.name", "");
	struct sched_node *n;
	bool was_live;
	int ret;

	*events = 0;
	if (!*name) {
		snprintf(err, errlen, "node without metadata.name");
		return -EINVAL;
	}
	n = node_get_or_placeholder(c, name);
	was_live = n->obj != NULL;
	if (!was_live)
		*events = SCHED_EV_NODE_ADD;
	else if (node_changed(n->obj, obj))
		*events = SCHED_EV_NODE_UPDATE;
	ret = sched_node_set(n, obj, err, errlen);
	if (!was_live)
		live_add(c, n);
	return ret;
}

void sched_cache_delete_node(struct sched_cache *c, const char *name)
{
	struct sched_node *n = sched_map_get(&c->nodes, name);

	if (!n || !n->obj)
		return;
	live_remove(c, n);
	json_decref(n->obj);
	n->obj = NULL;
	n->labels = NULL;
	node_maybe_free(c, n);
}

struct sched_node *sched_cache_node(const struct sched_cache *c, const char *name)
{
	return sched_map_get(&c->nodes, name);
}

/* ---------------------------------------------------------------- pods on nodes */

static bool pod_has_affinity(const struct sched_pod *p)
{
	return p->naff_req || p->naff_pref || p->nanti_req || p->nanti_pref;
}

static void node_attach(struct sched_cache *c, struct sched_node *n, struct sched_pod *p)
{
	if (n->npods == n->podcap) {
		n->podcap = n->podcap ? n->podcap * 2 : 8;
		n->pods = xrealloc(n->pods, n->podcap * sizeof(*n->pods));
	}
	n->pods[n->npods++] = p;
	sched_res_add(&n->requested, &p->req, 1);
	n->nz_milli_cpu += p->nz_milli_cpu;
	n->nz_memory += p->nz_memory;
	n->n_ports += p->nports > 0;
	n->n_affinity += pod_has_affinity(p);
	n->n_anti_req += p->nanti_req > 0;
	c->n_affinity += pod_has_affinity(p);
	c->n_anti_req += p->nanti_req > 0;
	p->node = n;
}

static void node_detach(struct sched_cache *c, struct sched_pod *p)
{
	struct sched_node *n = p->node;

	for (size_t i = 0; i < n->npods; i++) {
		if (n->pods[i] == p) {
			n->pods[i] = n->pods[--n->npods];
			break;
		}
	}
	sched_res_add(&n->requested, &p->req, -1);
	n->nz_milli_cpu -= p->nz_milli_cpu;
	n->nz_memory -= p->nz_memory;
	n->n_ports -= p->nports > 0;
	n->n_affinity -= pod_has_affinity(p);
	n->n_anti_req -= p->nanti_req > 0;
	c->n_affinity -= pod_has_affinity(p);
	c->n_anti_req -= p->nanti_req > 0;
	p->node = NULL;
	node_maybe_free(c, n);
}

/* Take p out of the cache entirely and drop the cache's reference. */
static void pod_drop(struct sched_cache *c, struct sched_pod *p)
{
	sched_map_del(&c->pods, p->key);
	if (p->assumed)
		sched_map_del(&c->assumed, p->key);
	node_detach(c, p);
	sched_pod_put(p);
}

int sched_cache_add_pod(struct sched_cache *c, struct sched_pod *p)
{
	struct sched_pod *old;
	int events = 0;

	if (!*p->node_name)
		return -EINVAL;
	old = sched_map_get(&c->pods, p->key);
	if (old == p)
		return 0;
	/* A confirmed assumption counts as an add too, as upstream's AssignedPodAdd: pods
	 * waiting for an affinity partner are woken by their partner's binding. */
	if (!old || old->assumed)
		events = SCHED_EV_POD_ADD;
	else if (!jsonx_equal(old->labels, p->labels))
		events = SCHED_EV_POD_UPDATE;
	/* Attach the new version before dropping the old one, so a placeholder node that
	 * both share is not freed in between. */
	node_attach(c, node_get_or_placeholder(c, p->node_name), sched_pod_get(p));
	if (old)
		pod_drop(c, old);
	sched_map_put(&c->pods, p->key, p);
	return events;
}

bool sched_cache_remove_pod(struct sched_cache *c, const char *key)
{
	struct sched_pod *p = sched_map_get(&c->pods, key);

	if (!p)
		return false;
	pod_drop(c, p);
	return true;
}

struct sched_pod *sched_cache_pod(const struct sched_cache *c, const char *key)
{
	return sched_map_get(&c->pods, key);
}

int sched_cache_assume(struct sched_cache *c, struct sched_pod *p, struct sched_node *node)
{
	if (sched_map_get(&c->pods, p->key))
		return -EEXIST;
	if (!node->obj || node->index >= c->nlive || c->live[node->index] != node)
		return -ENOENT;
	node_attach(c, node, sched_pod_get(p));
	p->assumed = true;
	p->binding_done = false;
	sched_map_put(&c->pods, p->key, p);
	sched_map_put(&c->assumed, p->key, p);
	return 0;
}

void sched_cache_finish_binding(struct sched_cache *c, const char *key, uint64_t now_ns)
{
	struct sched_pod *p = sched_map_get(&c->assumed, key);

	if (!p)
		return;
	p->binding_done = true;
	p->deadline_ns = now_ns + c->assume_ttl_ns;
}

int sched_cache_forget(struct sched_cache *c, const char *key)
{
	struct sched_pod *p = sched_map_get(&c->assumed, key);

	if (!p)
		return -ENOENT;
	pod_drop(c, p);
	return 0;
}

size_t sched_cache_expire(struct sched_cache *c, uint64_t now_ns)
{
	const char **keys;
	struct sched_pod *p;
	size_t n = 0, dropped = 0;
	const char *k;
	void *v;

	if (!c->assumed.len)
		return 0;
	keys = xcalloc(c->assumed.len, sizeof(*keys));
	for (size_t it = 0; sched_map_next(&c->assumed, &it, &k, &v);) {
		p = v;
		if (p->binding_done && now_ns >= p->deadline_ns)
			keys[n++] = p->key;
	}
	/* The keys belong to the pods, which live until forgotten one by one below. */
	for (size_t i = 0; i < n; i++)
		dropped += sched_cache_forget(c, keys[i]) == 0;
	free(keys);
	return dropped;
}

/* ---------------------------------------------------------------- namespaces */

void sched_cache_set_namespace(struct sched_cache *c, const char *name, json_t *labels)
{
	json_t *old = labels ? sched_map_put(&c->ns_labels, name, json_incref(labels))
			     : sched_map_del(&c->ns_labels, name);

	json_decref(old);
}

const json_t *sched_cache_ns_labels(const struct sched_cache *c, const char *ns)
{
	return sched_map_get(&c->ns_labels, ns);
}
