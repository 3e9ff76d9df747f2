/*
 * framework.h - one scheduling cycle: plugins filter nodes, score the survivors, pick one.
 *
 * Plugins are rows of one table, sched_plugins[] (plugins.c), in upstream's default order
 * and with upstream's default score weights. A row holds up to five functions:
 *
 *   pre_filter  once per pod: compute what filter needs (counts over all nodes, compiled
 *               terms); SCHED_SKIP means "nothing to check for this pod", so filter is not
 *               called at all; SCHED_UNSCHEDULABLE / _UNRESOLVABLE rejects every node.
 *   filter      once per (pod, node): SCHED_OK, or a rejection with reasons in the status.
 *   pre_score   once per pod over the feasible nodes; SCHED_SKIP drops the plugin's score.
 *   score       once per feasible node: a raw score.
 *   normalize   over all feasible nodes: bring raw scores to 0..SCHED_MAX_NODE_SCORE.
 *
 * Result codes (enum sched_code), as upstream's framework statuses:
 *
 *   SCHED_OK             the node passes (or the step succeeded);
 *   SCHED_UNSCHEDULABLE  the node does not fit now, but could after other pods leave it
 *                        (what preemption would work on: resources, ports, anti-affinity);
 *   SCHED_UNRESOLVABLE   the node cannot fit whatever happens to its pods (taints,
 *                        selectors, affinity rules, missing topology labels);
 *   SCHED_ERROR          an internal error: the pod is retried after its back-off;
 *   SCHED_SKIP           from pre_filter / pre_score only: the plugin does not apply.
 *
 * Filtering runs over the nodes on --parallelism threads and stops once enough feasible
 * nodes are found, as upstream's percentageOfNodesToScore does. With P unset (0, the
 * default) the share is adaptive: every node when there are fewer than 100; otherwise
 * max(5, 50 - nodes/125) percent of the nodes, but at least 100 (so 50% of 100 nodes ->
 * 100, 42% of 1,000 -> 420, 10% of 5,000 -> 500, 5% from 5,625 nodes on). Each cycle
 * starts where the previous one stopped, so every node gets its turn. When no node is
 * feasible every node has been checked, and the reasons of all of them are aggregated into
 * upstream's message ("0/3 nodes are available: 1 node(s) had untolerated taint {k: v},
 * 2 Insufficient cpu."). Preemption is not implemented, so upstream's trailing
 * "preemption: ..." sentence is never added.
 *
 * Scores of all plugins are computed per node in parallel, normalized per plugin, weighted
 * and summed; the highest total wins, ties broken uniformly at random by reservoir
 * sampling. A single feasible node is taken without scoring.
 */
#ifndef CAPSTAN_SCHED_FRAMEWORK_H
#define CAPSTAN_SCHED_FRAMEWORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/scheduler/cache.h"
#include "control/scheduler/objects.h"
#include "control/scheduler/pool.h"

#define SCHED_MAX_NODE_SCORE 100
#define SCHED_MAX_PLUGINS 16
#define SCHED_REASONS_LEN 512
/* Upstream's minFeasibleNodesToFind and minFeasibleNodesPercentageToFind. */
#define SCHED_MIN_FEASIBLE_NODES 100
#define SCHED_MIN_FEASIBLE_PERCENT 5

enum sched_code {
	SCHED_OK = 0,
	SCHED_UNSCHEDULABLE,
	SCHED_UNRESOLVABLE,
	SCHED_ERROR,
	SCHED_SKIP,
};

/* Why a node was rejected: one or more reasons (NodeResourcesFit may give several). */
struct sched_status {
	enum sched_code code;
	int plugin; /* index in sched_plugins of the deciding plugin, -1 when none */
	unsigned nreasons;
	char reasons[SCHED_REASONS_LEN]; /* reasons separated by '\n' */
};

/* Set code and append a reason (printf format); returns code, for `return sched_reject(...)`. */
enum sched_code sched_reject(struct sched_status *st, enum sched_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* What plugins see during one cycle. */
struct sched_cycle {
	const struct sched_pod *pod;
	const struct sched_cache *cache;
	void *state[SCHED_MAX_PLUGINS];
	enum sched_code pre[SCHED_MAX_PLUGINS]; /* pre_filter result per plugin */
};

struct sched_plugin {
	const char *name;
	int weight;	 /* score weight (upstream default); 0 without score */
	unsigned events; /* SCHED_EV_* that can make a pod this plugin rejected fit */
	enum sched_code (*pre_filter)(struct sched_cycle *cy, void **state,
				      struct sched_status *st);
	enum sched_code (*filter)(const struct sched_cycle *cy, const void *state,
				  const struct sched_node *n, struct sched_status *st);
	enum sched_code (*pre_score)(struct sched_cycle *cy, struct sched_node *const *nodes,
				     size_t n, void **state);
	int64_t (*score)(const struct sched_cycle *cy, const void *state,
			 const struct sched_node *n);
	void (*normalize)(const struct sched_cycle *cy, const void *state,
			  struct sched_node *const *nodes, int64_t *scores, size_t n);
	void (*free_state)(void *state);
};

extern const struct sched_plugin sched_plugins[];
extern const size_t sched_nplugins;

/* Index of the plugin called name, or -1. */
int sched_plugin_index(const char *name);
/* Bit mask of the plugins whose events include any of events. */
unsigned sched_plugins_for_events(unsigned events);

struct sched_framework {
	struct sched_pool *pool; /* not owned */
	unsigned percentage;	 /* percentageOfNodesToScore; 0 = adaptive */
	size_t next_start;	 /* where the next cycle's node walk starts */
	uint64_t rand;		 /* xorshift state for tie-breaks */
	/* Per-node scratch reused by every cycle, sized for the largest cluster seen: a
	 * 5,000-node status array is megabytes, too much to allocate per pod. */
	size_t cap;
	struct sched_status *status;
	unsigned char *verdict;
	struct sched_node **feasible;
	int64_t *scores; /* [plugin][node] */
	int64_t *total;
};

struct sched_result {
	struct sched_node *node; /* the chosen node when code is SCHED_OK */
	enum sched_code code;	 /* SCHED_OK, SCHED_UNSCHEDULABLE or SCHED_ERROR */
	unsigned rejected_by;	 /* plugins that rejected nodes (bit i = sched_plugins[i]) */
	size_t evaluated;	 /* nodes filtered */
	size_t feasible;	 /* nodes that passed */
	char *message;		 /* why not scheduled (malloc'd); NULL on success */
};

/* seed 0 picks one from the clock. */
void sched_framework_init(struct sched_framework *fw, struct sched_pool *pool, unsigned percentage,
			  uint64_t seed);
/* Free the scratch buffers (not the pool). */
void sched_framework_destroy(struct sched_framework *fw);

/*
 * Run one cycle for pod over the cache's live nodes. Always fills *res (release with
 * sched_result_free). Returns 0 when a node was chosen, -ENOSPC when the pod fits no node
 * (res->code SCHED_UNSCHEDULABLE, res->message upstream's FitError text or "no nodes
 * available to schedule pods"), -EINVAL when a plugin failed or the pod cannot be parsed
 * (res->code SCHED_ERROR, res->message the error).
 */
int sched_schedule(struct sched_framework *fw, const struct sched_cache *c,
		   const struct sched_pod *pod, struct sched_result *res);
void sched_result_free(struct sched_result *res);

/* How many feasible nodes end the search among nodes (percentage 0 = adaptive). */
size_t sched_num_feasible_to_find(size_t nodes, unsigned percentage);

/*
 * Upstream's FitError message for nall nodes given the rejected nodes' statuses: "0/N nodes
 * are available: " + the histogram of reasons as "COUNT REASON", sorted as strings and
 * joined with ", ", + ".". The result is malloc'd.
 */
char *sched_fit_message(size_t nall, const struct sched_status *const *st, size_t n);

/*
 * Run a single plugin, for tests and debugging. sched_filter_one returns the plugin's
 * verdict for one node (SCHED_SKIP when its pre_filter skips the pod). sched_score_one
 * fills scores[] with the normalized scores of the plugin for nodes[] and returns SCHED_OK,
 * or SCHED_SKIP when its pre_score skips (scores untouched).
 */
enum sched_code sched_filter_one(const struct sched_cache *c, const struct sched_pod *pod,
				 int plugin, const struct sched_node *n, struct sched_status *st);
enum sched_code sched_score_one(const struct sched_cache *c, const struct sched_pod *pod,
				int plugin, struct sched_node *const *nodes, size_t n,
				int64_t *scores);

#endif
