/* framework.c - see framework.h. */
#include "control/scheduler/framework.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum sched_code sched_reject(struct sched_status *st, enum sched_code code, const char *fmt, ...)
{
	size_t len = strlen(st->reasons);
	va_list ap;

	st->code = code;
	if (len && len + 1 < sizeof(st->reasons))
		st->reasons[len++] = '\n';
	va_start(ap, fmt);
	vsnprintf(st->reasons + len, sizeof(st->reasons) - len, fmt, ap);
	va_end(ap);
	st->nreasons++;
	return code;
}

void sched_framework_init(struct sched_framework *fw, struct sched_pool *pool, unsigned percentage,
			  uint64_t seed)
{
	*fw = (struct sched_framework){
		.pool = pool,
		.percentage = percentage,
		.rand = seed ? seed : now_mono_ns() | 1,
	};
}

void sched_framework_destroy(struct sched_framework *fw)
{
	free(fw->status);
	free(fw->verdict);
	free(fw->feasible);
	free(fw->scores);
	free(fw->total);
	fw->status = NULL;
	fw->verdict = NULL;
	fw->feasible = NULL;
	fw->scores = fw->total = NULL;
	fw->cap = 0;
}

static void reserve(struct sched_framework *fw, size_t nodes)
{
	if (nodes <= fw->cap)
		return;
	fw->cap = MAX(nodes, fw->cap * 2);
	fw->status = xrealloc(fw->status, fw->cap * sizeof(*fw->status));
	fw->verdict = xrealloc(fw->verdict, fw->cap);
	fw->feasible = xrealloc(fw->feasible, fw->cap * sizeof(*fw->feasible));
	fw->scores = xrealloc(fw->scores, fw->cap * SCHED_MAX_PLUGINS * sizeof(*fw->scores));
	fw->total = xrealloc(fw->total, fw->cap * sizeof(*fw->total));
}

void sched_result_free(struct sched_result *res)
{
	free(res->message);
	res->message = NULL;
}

size_t sched_num_feasible_to_find(size_t nodes, unsigned percentage)
{
	size_t pct = percentage, n;

	if (nodes < SCHED_MIN_FEASIBLE_NODES || pct >= 100)
		return nodes;
	if (!pct) {
		long adaptive = 50 - (long)(nodes / 125);

		pct = adaptive < SCHED_MIN_FEASIBLE_PERCENT ? SCHED_MIN_FEASIBLE_PERCENT
							    : (size_t)adaptive;
	}
	n = nodes * pct / 100;
	return n < SCHED_MIN_FEASIBLE_NODES ? SCHED_MIN_FEASIBLE_NODES : n;
}

/* ---------------------------------------------------------------- the message */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *sched_fit_message(size_t nall, const struct sched_status *const *st, size_t n)
{
	char **reasons = NULL, **lines = NULL;
	size_t nreasons = 0, nlines = 0;
	struct buf out = { 0 };

	/* Split every status into its reasons, sort them, count equal runs. */
	for (size_t i = 0; i < n; i++) {
		char *copy = xstrdup(st[i]->reasons), *save = NULL;

		for (char *r = strtok_r(copy, "\n", &save); r; r = strtok_r(NULL, "\n", &save)) {
			reasons = xrealloc(reasons, (nreasons + 1) * sizeof(*reasons));
			reasons[nreasons++] = xstrdup(r);
		}
		free(copy);
	}
	if (nreasons)
		qsort(reasons, nreasons, sizeof(*reasons), cmp_str);
	for (size_t i = 0, j; i < nreasons; i = j) {
		for (j = i + 1; j < nreasons && strcmp(reasons[i], reasons[j]) == 0; j++)
			;
		lines = xrealloc(lines, (nlines + 1) * sizeof(*lines));
		lines[nlines++] = xasprintf("%zu %s", j - i, reasons[i]);
	}
	/* Upstream sorts the "COUNT REASON" strings themselves, so "10 x" sorts before
	 * "2 y": keep that, tools compare these messages. */
	if (nlines)
		qsort(lines, nlines, sizeof(*lines), cmp_str);
	buf_appendf(&out, "0/%zu nodes are available:", nall);
	for (size_t i = 0; i < nlines; i++)
		buf_appendf(&out, "%s%s", i ? ", " : " ", lines[i]);
	if (nlines)
		buf_append(&out, ".", 1);
	for (size_t i = 0; i < nreasons; i++)
		free(reasons[i]);
	for (size_t i = 0; i < nlines; i++)
		free(lines[i]);
	free(reasons);
	free(lines);
	return out.data;
}

/* ---------------------------------------------------------------- one cycle */

struct cycle_run {
	struct sched_cycle cy;
	struct sched_node *const *all; /* the cache's live nodes */
	size_t nall, start, want;
	/* filter */
	struct sched_status *status;  /* per walk position */
	unsigned char *verdict;	      /* per walk position: 0 not run, 1 feasible, 2 rejected */
	struct sched_node **feasible; /* want slots */
	atomic_size_t nfeasible;
	/* score */
	struct sched_node **nodes; /* the feasible nodes, compacted */
	size_t n;
	int64_t *scores; /* [plugin][node] */
	int64_t *total;
	bool scored[SCHED_MAX_PLUGINS];
};

static enum sched_code run_filters(const struct sched_cycle *cy, const struct sched_node *n,
				   struct sched_status *st)
{
	for (size_t p = 0; p < sched_nplugins; p++) {
		enum sched_code code;

		if (!sched_plugins[p].filter || cy->pre[p] == SCHED_SKIP)
			continue;
		code = sched_plugins[p].filter(cy, cy->state[p], n, st);
		if (code != SCHED_OK) {
			st->code = code;
			st->plugin = (int)p;
			return code;
		}
	}
	return SCHED_OK;
}

static void filter_one(void *ctx, size_t i)
{
	struct cycle_run *r = ctx;
	struct sched_status *st = &r->status[i];
	size_t slot;

	/* Enough found: leave the rest of the walk for the next cycles. */
	if (atomic_load(&r->nfeasible) >= r->want)
		return;
	st->code = SCHED_OK;
	st->plugin = -1;
	st->nreasons = 0;
	st->reasons[0] = '\0';
	if (run_filters(&r->cy, r->all[(r->start + i) % r->nall], st) != SCHED_OK) {
		r->verdict[i] = 2;
		return;
	}
	slot = atomic_fetch_add(&r->nfeasible, 1);
	if (slot >= r->want)
		return; /* found by a racing thread after the quota: not counted as processed */
	r->feasible[slot] = r->all[(r->start + i) % r->nall];
	r->verdict[i] = 1;
}

static void score_one(void *ctx, size_t i)
{
	struct cycle_run *r = ctx;

	for (size_t p = 0; p < sched_nplugins; p++)
		if (r->scored[p])
			r->scores[p * r->n + i] =
				sched_plugins[p].score(&r->cy, r->cy.state[p], r->nodes[i]);
}

static uint64_t next_rand(struct sched_framework *fw)
{
	uint64_t x = fw->rand;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	fw->rand = x;
	return x;
}

/* Score the feasible nodes and pick the best; ties uniformly at random. */
static struct sched_node *select_node(struct sched_framework *fw, struct cycle_run *r)
{
	struct sched_node *best = NULL;
	int64_t best_score = INT64_MIN;
	int64_t *total = r->total;
	size_t ties = 0;

	for (size_t p = 0; p < sched_nplugins; p++) {
		const struct sched_plugin *pl = &sched_plugins[p];

		r->scored[p] = pl->score &&
			       (!pl->pre_score || pl->pre_score(&r->cy, r->nodes, r->n,
								&r->cy.state[p]) != SCHED_SKIP);
	}
	sched_pool_run(fw->pool, r->n, score_one, r);
	memset(total, 0, r->n * sizeof(*total));
	for (size_t p = 0; p < sched_nplugins; p++) {
		if (!r->scored[p])
			continue;
		if (sched_plugins[p].normalize)
			sched_plugins[p].normalize(&r->cy, r->cy.state[p], r->nodes,
						   &r->scores[p * r->n], r->n);
		for (size_t i = 0; i < r->n; i++)
			total[i] += r->scores[p * r->n + i] * sched_plugins[p].weight;
	}
	for (size_t i = 0; i < r->n; i++) {
		if (total[i] > best_score) {
			best_score = total[i];
			best = r->nodes[i];
			ties = 1;
		} else if (total[i] == best_score && next_rand(fw) % ++ties == 0) {
			best = r->nodes[i];
		}
	}
	return best;
}

/* Every node was rejected: aggregate why, or report the first plugin error. */
static int fail_unschedulable(struct cycle_run *r, struct sched_result *res)
{
	const struct sched_status **sts = xcalloc(r->nall, sizeof(*sts));
	size_t n = 0;

	for (size_t i = 0; i < r->nall; i++) {
		if (r->verdict[i] != 2)
			continue;
		if (r->status[i].code == SCHED_ERROR) {
			res->code = SCHED_ERROR;
			res->message = xasprintf("running %s filter plugin: %s",
						 sched_plugins[r->status[i].plugin].name,
						 r->status[i].reasons);
			free(sts);
			return -EINVAL;
		}
		res->rejected_by |= 1u << r->status[i].plugin;
		sts[n++] = &r->status[i];
	}
	res->code = SCHED_UNSCHEDULABLE;
	res->message = sched_fit_message(r->nall, sts, n);
	free(sts);
	return -ENOSPC;
}

int sched_schedule(struct sched_framework *fw, const struct sched_cache *c,
		   const struct sched_pod *pod, struct sched_result *res)
{
	struct cycle_run r = { .cy = { .pod = pod, .cache = c } };
	struct sched_status pre_st = { .plugin = -1 };
	int ret = 0;

	*res = (struct sched_result){ .code = SCHED_OK };
	if (pod->err) {
		res->code = SCHED_ERROR;
		res->message = xstrdup(pod->err);
		return -EINVAL;
	}
	if (!c->nlive) {
		/* Upstream's ErrNoNodesAvailable, reported as unschedulable. */
		res->code = SCHED_UNSCHEDULABLE;
		res->message = xstrdup("no nodes available to schedule pods");
		return -ENOSPC;
	}
	for (size_t p = 0; p < sched_nplugins; p++) {
		const struct sched_plugin *pl = &sched_plugins[p];

		r.cy.pre[p] =
			pl->pre_filter ? pl->pre_filter(&r.cy, &r.cy.state[p], &pre_st) : SCHED_OK;
		if (r.cy.pre[p] == SCHED_OK || r.cy.pre[p] == SCHED_SKIP)
			continue;
		/* A pre_filter rejection applies to every node, stated once. */
		res->code = r.cy.pre[p] == SCHED_ERROR ? SCHED_ERROR : SCHED_UNSCHEDULABLE;
		res->rejected_by = 1u << p;
		res->message =
			res->code == SCHED_ERROR
				? xasprintf("running %s pre-filter: %s", pl->name, pre_st.reasons)
				: xasprintf("0/%zu nodes are available: %s.", c->nlive,
					    pre_st.reasons);
		ret = res->code == SCHED_ERROR ? -EINVAL : -ENOSPC;
		goto out;
	}

	r.all = c->live;
	r.nall = c->nlive;
	r.start = fw->next_start % r.nall;
	r.want = sched_num_feasible_to_find(r.nall, fw->percentage);
	reserve(fw, r.nall);
	r.status = fw->status;
	r.verdict = memset(fw->verdict, 0, r.nall);
	r.feasible = fw->feasible;
	r.scores = fw->scores;
	r.total = fw->total;
	atomic_init(&r.nfeasible, 0);
	sched_pool_run(fw->pool, r.nall, filter_one, &r);

	r.n = MIN(atomic_load(&r.nfeasible), r.want);
	for (size_t i = 0; i < r.nall; i++)
		res->evaluated += r.verdict[i] != 0;
	res->feasible = r.n;
	fw->next_start = (r.start + res->evaluated) % r.nall;
	if (!r.n) {
		ret = fail_unschedulable(&r, res);
		goto out;
	}
	r.nodes = r.feasible;
	res->node = r.n == 1 ? r.nodes[0] : select_node(fw, &r);
out:
	for (size_t p = 0; p < sched_nplugins; p++)
		if (r.cy.state[p] && sched_plugins[p].free_state)
			sched_plugins[p].free_state(r.cy.state[p]);
	return ret;
}

/* ---------------------------------------------------------------- single plugins */

enum sched_code sched_filter_one(const struct sched_cache *c, const struct sched_pod *pod,
				 int plugin, const struct sched_node *n, struct sched_status *st)
{
	const struct sched_plugin *pl = &sched_plugins[plugin];
	struct sched_cycle cy = { .pod = pod, .cache = c };
	enum sched_code code = SCHED_OK;

	*st = (struct sched_status){ .plugin = plugin };
	if (pl->pre_filter)
		code = pl->pre_filter(&cy, &cy.state[plugin], st);
	if (code == SCHED_OK && pl->filter)
		code = pl->filter(&cy, cy.state[plugin], n, st);
	if (cy.state[plugin] && pl->free_state)
		pl->free_state(cy.state[plugin]);
	st->code = code;
	return code;
}

enum sched_code sched_score_one(const struct sched_cache *c, const struct sched_pod *pod,
				int plugin, struct sched_node *const *nodes, size_t n,
				int64_t *scores)
{
	const struct sched_plugin *pl = &sched_plugins[plugin];
	struct sched_cycle cy = { .pod = pod, .cache = c };
	enum sched_code code = SCHED_OK;

	if (!pl->score)
		return SCHED_SKIP;
	if (pl->pre_score)
		code = pl->pre_score(&cy, nodes, n, &cy.state[plugin]);
	if (code == SCHED_OK) {
		for (size_t i = 0; i < n; i++)
			scores[i] = pl->score(&cy, cy.state[plugin], nodes[i]);
		if (pl->normalize)
			pl->normalize(&cy, cy.state[plugin], nodes, scores, n);
	}
	if (cy.state[plugin] && pl->free_state)
		pl->free_state(cy.state[plugin]);
	return code;
}
