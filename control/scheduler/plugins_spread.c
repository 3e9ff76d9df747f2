/*
 * plugins_spread.c - PodTopologySpread: keep matching pods evenly spread over domains.
 *
 * A constraint names a topology key (a node label), a selector and maxSkew. Eligible
 * nodes carry every constraint's key and pass its node inclusion policies (the pod's node
 * affinity unless nodeAffinityPolicy is Ignore; taints only when nodeTaintsPolicy is
 * Honor); each distinct value among them is a domain, counted with the pods on those nodes
 * that match the selector in the pod's namespace and are not terminating.
 *
 * Filter (whenUnsatisfiable DoNotSchedule): a node without the key is unresolvable
 * ("... (missing required label)"); otherwise placing the pod must keep
 * count(node's domain) + (1 if the pod matches its own selector) - min(count over
 * domains) <= maxSkew, where the minimum is 0 while fewer than minDomains domains exist.
 * Counts are kept per constraint (upstream sums constraints that share a key into one
 * pair; with distinct keys, the usual case, both agree).
 *
 * Score (ScheduleAnyway): upstream's formula per node, summed over constraints:
 * count * log(domains + 2) + maxSkew - 1, where fewer matching pods is better; nodes
 * lacking a key are ignored (score 0) and the rest normalized as 100 * (max + min - s) /
 * max. A pod without constraints gets upstream's system defaults (hostname maxSkew 3,
 * zone maxSkew 5, ScheduleAnyway) when it has a controller owner; the pods "of the same
 * workload" are those with the same controller owner UID (upstream derives a selector
 * from the Services, ReplicaSets and StatefulSets selecting the pod, which this scheduler
 * does not watch), and nodes without a zone label still take part.
 */
#include "control/scheduler/plugins.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define HOSTNAME_KEY "kubernetes.io/hostname"
#define ZONE_KEY "topology.kubernetes.io/zone"

struct constraint {
	const struct sched_spread *c; /* the pod's, or NULL for a system default */
	const char *key;
	int max_skew;
	const char *owner_uid; /* system default: same controller */
	bool honor_affinity, honor_taints;
	/* filter */
	struct sched_counts counts;
	size_t domains;
	int64_t min;
	/* score */
	double weight;
};

struct spread_state {
	struct constraint *cs;
	size_t n;
	bool require_all;	/* nodes must carry every key to count or score */
	unsigned char *ignored; /* score: by live node index */
};

static bool pod_counts(const struct constraint *c, const struct sched_pod *pod,
		       const struct sched_pod *e)
{
	if (e->terminating || strcmp(e->ns, pod->ns) != 0)
		return false;
	if (c->owner_uid)
		return e->owner_uid && strcmp(e->owner_uid, c->owner_uid) == 0;
	return selector_matches(c->c->sel, e->labels);
}

static int64_t count_on_node(const struct constraint *c, const struct sched_pod *pod,
			     const struct sched_node *n)
{
	int64_t k = 0;

	for (size_t i = 0; i < n->npods; i++)
		k += pod_counts(c, pod, n->pods[i]);
	return k;
}

static bool has_all_keys(const struct spread_state *s, const struct sched_node *n)
{
	for (size_t i = 0; i < s->n; i++)
		if (!sched_node_label(n, s->cs[i].key))
			return false;
	return true;
}

static bool tolerates_all(const struct sched_pod *pod, const struct sched_node *n)
{
	for (size_t i = 0; i < n->ntaints; i++) {
		const struct sched_taint *t = &n->taints[i];

		if ((strcmp(t->effect, "NoSchedule") == 0 || strcmp(t->effect, "NoExecute") == 0) &&
		    !sched_pod_tolerates(pod, t))
			return false;
	}
	return true;
}

static bool node_included(const struct constraint *c, const struct sched_pod *pod,
			  const struct sched_node *n)
{
	return (!c->honor_affinity || sched_pod_matches_node_affinity(pod, n)) &&
	       (!c->honor_taints || tolerates_all(pod, n));
}

/* The pod's constraints with the given hardness, or the system defaults. */
static struct spread_state *build(const struct sched_pod *pod, bool hard)
{
	struct spread_state *s = xcalloc(1, sizeof(*s));

	s->require_all = true;
	if (pod->nspread) {
		s->cs = xcalloc(pod->nspread, sizeof(*s->cs));
		for (size_t i = 0; i < pod->nspread; i++) {
			const struct sched_spread *sp = &pod->spread[i];

			if (sp->hard != hard)
				continue;
			s->cs[s->n++] = (struct constraint){
				.c = sp,
				.key = sp->topology_key,
				.max_skew = sp->max_skew,
				.honor_affinity = sp->honor_affinity,
				.honor_taints = sp->honor_taints,
			};
		}
	} else if (!hard && pod->owner_uid) {
		s->cs = xcalloc(2, sizeof(*s->cs));
		s->cs[0] = (struct constraint){ .key = HOSTNAME_KEY,
						.max_skew = 3,
						.owner_uid = pod->owner_uid,
						.honor_affinity = true };
		s->cs[1] = (struct constraint){ .key = ZONE_KEY,
						.max_skew = 5,
						.owner_uid = pod->owner_uid,
						.honor_affinity = true };
		s->n = 2;
		s->require_all = false;
	}
	return s;
}

void sched_spread_free(void *state)
{
	struct spread_state *s = state;

	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		sched_counts_free(&s->cs[i].counts);
	free(s->cs);
	free(s->ignored);
	free(s);
}

/* ---------------------------------------------------------------- filter */

/* min over domains of each constraint's counts; 0 for a constraint without domains */
static void find_minimum(struct constraint *c)
{
	const char *k;
	void *v;

	c->domains = c->counts.m.len;
	c->min = c->domains ? INT64_MAX : 0;
	for (size_t it = 0; sched_map_next(&c->counts.m, &it, &k, &v);)
		c->min = MIN(c->min, *(int64_t *)v);
}

enum sched_code sched_spread_pre_filter(struct sched_cycle *cy, void **state,
					struct sched_status *st)
{
	const struct sched_cache *cache = cy->cache;
	struct spread_state *s = build(cy->pod, true);

	*state = s;
	if (!s->n)
		return SCHED_SKIP;
	for (size_t i = 0; i < cache->nlive; i++) {
		const struct sched_node *n = cache->live[i];

		if (!has_all_keys(s, n))
			continue;
		for (size_t j = 0; j < s->n; j++) {
			struct constraint *c = &s->cs[j];

			if (node_included(c, cy->pod, n))
				sched_counts_add(&c->counts, c->key, sched_node_label(n, c->key),
						 count_on_node(c, cy->pod, n));
		}
	}
	for (size_t j = 0; j < s->n; j++)
		find_minimum(&s->cs[j]);
	return SCHED_OK;
}

enum sched_code sched_spread_filter(const struct sched_cycle *cy, const void *state,
				    const struct sched_node *n, struct sched_status *st)
{
	const struct spread_state *s = state;

	for (size_t j = 0; j < s->n; j++) {
		const struct constraint *c = &s->cs[j];
		const char *v = sched_node_label(n, c->key);
		int64_t min = c->min, self, match;

		if (!v)
			return sched_reject(st, SCHED_UNRESOLVABLE,
					    "node(s) didn't match pod topology spread constraints "
					    "(missing required label)");
		if (c->c->min_domains > 0 && c->domains < (size_t)c->c->min_domains)
			min = 0;
		self = selector_matches(c->c->sel, cy->pod->labels);
		match = sched_counts_get(&c->counts, c->key, v, NULL);
		if (match + self - min > c->max_skew)
			return sched_reject(st, SCHED_UNSCHEDULABLE,
					    "node(s) didn't match pod topology spread constraints");
	}
	return SCHED_OK;
}

/* ---------------------------------------------------------------- score */

enum sched_code sched_spread_pre_score(struct sched_cycle *cy, struct sched_node *const *nodes,
				       size_t nn, void **state)
{
	const struct sched_cache *cache = cy->cache;
	struct spread_state *s;
	size_t ignored = 0;

	/* The filter's state (hard constraints) is not needed any more. */
	sched_spread_free(*state);
	*state = s = build(cy->pod, false);
	if (!s->n)
		return SCHED_SKIP;
	s->ignored = xcalloc(cache->nlive ? cache->nlive : 1, 1);
	for (size_t i = 0; i < nn; i++) {
		const struct sched_node *n = nodes[i];

		if (s->require_all && !has_all_keys(s, n)) {
			s->ignored[n->index] = 1;
			ignored++;
			continue;
		}
		for (size_t j = 0; j < s->n; j++) {
			struct constraint *c = &s->cs[j];
			const char *v = sched_node_label(n, c->key);

			/* Hostname domains are single nodes: counted per node at score time. */
			if (strcmp(c->key, HOSTNAME_KEY) != 0)
				sched_counts_add(&c->counts, c->key, v ? v : "", 0);
		}
	}
	for (size_t j = 0; j < s->n; j++) {
		struct constraint *c = &s->cs[j];
		size_t size = strcmp(c->key, HOSTNAME_KEY) == 0 ? nn - ignored : c->counts.m.len;

		c->weight = log((double)size + 2);
	}
	for (size_t i = 0; i < cache->nlive; i++) {
		const struct sched_node *n = cache->live[i];

		if (s->require_all && !has_all_keys(s, n))
			continue;
		for (size_t j = 0; j < s->n; j++) {
			struct constraint *c = &s->cs[j];
			const char *v = sched_node_label(n, c->key);
			bool known;

			if (strcmp(c->key, HOSTNAME_KEY) == 0 || !node_included(c, cy->pod, n))
				continue;
			sched_counts_get(&c->counts, c->key, v ? v : "", &known);
			/* Only domains some candidate belongs to matter. */
			if (known)
				sched_counts_add(&c->counts, c->key, v ? v : "",
						 count_on_node(c, cy->pod, n));
		}
	}
	return SCHED_OK;
}

int64_t sched_spread_score(const struct sched_cycle *cy, const void *state,
			   const struct sched_node *n)
{
	const struct spread_state *s = state;
	double score = 0;

	if (s->ignored[n->index])
		return 0;
	for (size_t j = 0; j < s->n; j++) {
		const struct constraint *c = &s->cs[j];
		const char *v = sched_node_label(n, c->key);
		int64_t cnt;

		if (!v)
			continue;
		cnt = strcmp(c->key, HOSTNAME_KEY) == 0
			      ? count_on_node(c, cy->pod, n)
			      : sched_counts_get(&c->counts, c->key, v, NULL);
		score += (double)cnt * c->weight + (double)(c->max_skew - 1);
	}
	return (int64_t)llround(score);
}

void sched_spread_normalize(const struct sched_cycle *cy, const void *state,
			    struct sched_node *const *nodes, int64_t *scores, size_t n)
{
	const struct spread_state *s = state;
	int64_t min = INT64_MAX, max = 0;

	for (size_t i = 0; i < n; i++) {
		if (s->ignored[nodes[i]->index])
			continue;
		min = MIN(min, scores[i]);
		max = MAX(max, scores[i]);
	}
	for (size_t i = 0; i < n; i++) {
		if (s->ignored[nodes[i]->index])
			scores[i] = 0;
		else if (max == 0)
			scores[i] = SCHED_MAX_NODE_SCORE;
		else
			scores[i] = SCHED_MAX_NODE_SCORE * (max + min - scores[i]) / max;
	}
}
