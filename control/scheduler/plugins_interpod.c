/*
 * plugins_interpod.c - InterPodAffinity: required and preferred pod (anti-)affinity.
 *
 * A term selects pods (label selector, namespaces) and names a topology key; a node's
 * domain is its value of that label. pre_filter counts, per domain (key, value):
 *
 *   existing  domains holding a pod whose REQUIRED anti-affinity selects the incoming pod:
 *             the incoming pod may not join them ("node(s) didn't satisfy existing pods
 *             anti-affinity rules"), which makes anti-affinity symmetric;
 *   affinity  pods that match ALL the incoming pod's required affinity terms, per term's
 *             domain: a node passes when every term's domain holds one, and must carry
 *             every term's key ("node(s) didn't match pod affinity rules", unresolvable).
 *             When no pod anywhere matches and the pod matches its own terms, any node
 *             with the keys passes: the first replica of a self-affine set must land;
 *   anti      pods matching each required anti-affinity term: the node's domain must hold
 *             none ("node(s) didn't match pod anti-affinity rules").
 *
 * The score adds, per domain, the weights of the incoming pod's preferred terms matched by
 * pods there (anti-affinity negative), the weights of existing pods' preferred terms that
 * match the incoming pod, and 1 (upstream's hardPodAffinityWeight) per existing pod whose
 * required affinity matches it; scores are normalized to 0..100 between min and max.
 *
 * The walk over existing pods is bounded by the cache's per-node counters: nodes without
 * pods carrying anti-affinity are skipped for the symmetric check, and the whole plugin is
 * skipped for pods without terms when no existing pod has any.
 */
#include "control/scheduler/plugins.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct interpod_state {
	struct sched_counts existing, affinity, anti;
	/* score */
	struct sched_counts topo;
	const char **keys; /* distinct topology keys in topo */
	size_t nkeys;
};

static const json_t *ns_labels(const struct sched_cycle *cy, const struct sched_pod *p)
{
	return sched_cache_ns_labels(cy->cache, p->ns);
}

static bool matches_all(const struct sched_cycle *cy, const struct sched_aff_term *t, size_t n,
			const struct sched_pod *e)
{
	const json_t *nsl = ns_labels(cy, e);

	for (size_t i = 0; i < n; i++)
		if (!sched_aff_term_matches(&t[i], e, nsl))
			return false;
	return true;
}

static void count_term(struct sched_counts *c, const struct sched_aff_term *t,
		       const struct sched_node *n, int64_t d)
{
	const char *v = sched_node_label(n, t->topology_key);

	if (v)
		sched_counts_add(c, t->topology_key, v, d);
}

enum sched_code sched_interpod_pre_filter(struct sched_cycle *cy, void **state,
					  struct sched_status *st)
{
	const struct sched_pod *pod = cy->pod;
	const struct sched_cache *c = cy->cache;
	const json_t *own_nsl = ns_labels(cy, pod);
	struct interpod_state *s;

	/* The common case, decided without walking the nodes. */
	if (!c->n_anti_req && !pod->naff_req && !pod->nanti_req)
		return SCHED_SKIP;
	*state = s = xcalloc(1, sizeof(*s));
	for (size_t i = 0; i < c->nlive && c->n_anti_req; i++) {
		const struct sched_node *n = c->live[i];

		if (!n->n_anti_req)
			continue;
		for (size_t j = 0; j < n->npods; j++) {
			const struct sched_pod *e = n->pods[j];

			for (size_t k = 0; k < e->nanti_req; k++)
				if (sched_aff_term_matches(&e->anti_req[k], pod, own_nsl))
					count_term(&s->existing, &e->anti_req[k], n, 1);
		}
	}
	if (!s->existing.m.len && !pod->naff_req && !pod->nanti_req)
		return SCHED_SKIP;
	for (size_t i = 0; i < c->nlive && (pod->naff_req || pod->nanti_req); i++) {
		const struct sched_node *n = c->live[i];

		for (size_t j = 0; j < n->npods; j++) {
			const struct sched_pod *e = n->pods[j];
			const json_t *nsl = ns_labels(cy, e);

			if (pod->naff_req && matches_all(cy, pod->aff_req, pod->naff_req, e))
				for (size_t k = 0; k < pod->naff_req; k++)
					count_term(&s->affinity, &pod->aff_req[k], n, 1);
			for (size_t k = 0; k < pod->nanti_req; k++)
				if (sched_aff_term_matches(&pod->anti_req[k], e, nsl))
					count_term(&s->anti, &pod->anti_req[k], n, 1);
		}
	}
	return SCHED_OK;
}

static bool satisfies_affinity(const struct sched_cycle *cy, const struct interpod_state *s,
			       const struct sched_node *n)
{
	const struct sched_pod *pod = cy->pod;
	bool pods_exist = true;

	for (size_t k = 0; k < pod->naff_req; k++) {
		const char *key = pod->aff_req[k].topology_key, *v = sched_node_label(n, key);

		if (!v)
			return false;
		if (sched_counts_get(&s->affinity, key, v, NULL) <= 0)
			pods_exist = false;
	}
	if (pods_exist)
		return true;
	return !s->affinity.m.len && matches_all(cy, pod->aff_req, pod->naff_req, pod);
}

static bool satisfies_anti(const struct sched_cycle *cy, const struct interpod_state *s,
			   const struct sched_node *n)
{
	const struct sched_pod *pod = cy->pod;

	for (size_t k = 0; k < pod->nanti_req && s->anti.m.len; k++) {
		const char *key = pod->anti_req[k].topology_key, *v = sched_node_label(n, key);

		if (v && sched_counts_get(&s->anti, key, v, NULL) > 0)
			return false;
	}
	return true;
}

static bool satisfies_existing(const struct interpod_state *s, const struct sched_node *n)
{
	const char *key;
	json_t *v;

	if (!s->existing.m.len)
		return true;
	json_object_foreach((json_t *)n->labels, key, v)
		if (json_is_string(v) &&
		    sched_counts_get(&s->existing, key, json_string_value(v), NULL) > 0)
			return false;
	return true;
}

enum sched_code sched_interpod_filter(const struct sched_cycle *cy, const void *state,
				      const struct sched_node *n, struct sched_status *st)
{
	const struct interpod_state *s = state;

	if (!satisfies_affinity(cy, s, n))
		return sched_reject(st, SCHED_UNRESOLVABLE,
				    "node(s) didn't match pod affinity rules");
	if (!satisfies_anti(cy, s, n))
		return sched_reject(st, SCHED_UNSCHEDULABLE,
				    "node(s) didn't match pod anti-affinity rules");
	if (!satisfies_existing(s, n))
		return sched_reject(st, SCHED_UNSCHEDULABLE,
				    "node(s) didn't satisfy existing pods anti-affinity rules");
	return SCHED_OK;
}

/* ---------------------------------------------------------------- score */

static void add_key(struct interpod_state *s, const char *key)
{
	for (size_t i = 0; i < s->nkeys; i++)
		if (strcmp(s->keys[i], key) == 0)
			return;
	s->keys = xrealloc(s->keys, (s->nkeys + 1) * sizeof(*s->keys));
	s->keys[s->nkeys++] = key;
}

/* Add weight * sign to the domain of n for every term in t that selects pod p. */
static void score_terms(struct interpod_state *s, const struct sched_aff_term *t, size_t nt,
			const struct sched_pod *p, const json_t *nsl, const struct sched_node *n,
			int sign, bool hard)
{
	for (size_t i = 0; i < nt; i++) {
		int w = hard ? 1 : t[i].weight;
		const char *v = sched_node_label(n, t[i].topology_key);

		if (!w || !v || !sched_aff_term_matches(&t[i], p, nsl))
			continue;
		sched_counts_add(&s->topo, t[i].topology_key, v, (int64_t)w * sign);
		add_key(s, t[i].topology_key);
	}
}

enum sched_code sched_interpod_pre_score(struct sched_cycle *cy, struct sched_node *const *nodes,
					 size_t nn, void **state)
{
	const struct sched_pod *pod = cy->pod;
	const struct sched_cache *c = cy->cache;
	bool own = pod->naff_pref || pod->nanti_pref;
	const json_t *own_nsl = ns_labels(cy, pod);
	struct interpod_state *s = *state;

	if (!own && !c->n_affinity)
		return SCHED_SKIP;
	if (!s)
		*state = s = xcalloc(1, sizeof(*s));
	for (size_t i = 0; i < c->nlive; i++) {
		const struct sched_node *n = c->live[i];

		if (!json_object_size(n->labels) || (!own && !n->n_affinity))
			continue;
		for (size_t j = 0; j < n->npods; j++) {
			const struct sched_pod *e = n->pods[j];
			const json_t *nsl = ns_labels(cy, e);

			score_terms(s, pod->aff_pref, pod->naff_pref, e, nsl, n, 1, false);
			score_terms(s, pod->anti_pref, pod->nanti_pref, e, nsl, n, -1, false);
			score_terms(s, e->aff_req, e->naff_req, pod, own_nsl, n, 1, true);
			score_terms(s, e->aff_pref, e->naff_pref, pod, own_nsl, n, 1, false);
			score_terms(s, e->anti_pref, e->nanti_pref, pod, own_nsl, n, -1, false);
		}
	}
	return s->nkeys ? SCHED_OK : SCHED_SKIP;
}

int64_t sched_interpod_score(const struct sched_cycle *cy, const void *state,
			     const struct sched_node *n)
{
	const struct interpod_state *s = state;
	int64_t sum = 0;

	for (size_t i = 0; i < s->nkeys; i++) {
		const char *v = sched_node_label(n, s->keys[i]);

		if (v)
			sum += sched_counts_get(&s->topo, s->keys[i], v, NULL);
	}
	return sum;
}

void sched_interpod_normalize(const struct sched_cycle *cy, const void *state,
			      struct sched_node *const *nodes, int64_t *scores, size_t n)
{
	int64_t min = INT64_MAX, max = INT64_MIN;

	for (size_t i = 0; i < n; i++) {
		min = MIN(min, scores[i]);
		max = MAX(max, scores[i]);
	}
	for (size_t i = 0; i < n; i++)
		scores[i] = max > min ? (int64_t)((double)SCHED_MAX_NODE_SCORE *
						  (double)(scores[i] - min) / (double)(max - min))
				      : 0;
}

void sched_interpod_free(void *state)
{
	struct interpod_state *s = state;

	if (!s)
		return;
	sched_counts_free(&s->existing);
	sched_counts_free(&s->affinity);
	sched_counts_free(&s->anti);
	sched_counts_free(&s->topo);
	free(s->keys);
	free(s);
}
