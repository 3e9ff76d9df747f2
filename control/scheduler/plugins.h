/*
 * plugins.h - the functions behind the rows of sched_plugins[] and what they share.
 *
 * The table itself (plugins.c) is the one place that says which plugins run, in which
 * order and with which weight; each plugins_*.c file implements a family:
 *
 *   plugins_node.c       NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts
 *   plugins_resources.c  NodeResourcesFit (+ LeastAllocated score), BalancedAllocation
 *   plugins_interpod.c   InterPodAffinity (required and preferred, both directions)
 *   plugins_spread.c     PodTopologySpread (DoNotSchedule filter, ScheduleAnyway score and
 *                        the system default spreading of pods of one owner)
 *
 * Reasons are upstream's strings, word for word, because users and tools grep
 * FailedScheduling messages for them.
 */
#ifndef CAPSTAN_SCHED_PLUGINS_H
#define CAPSTAN_SCHED_PLUGINS_H

#include <stdbool.h>
#include <stdint.h>

#include "control/scheduler/framework.h"
#include "control/scheduler/strmap.h"

/* ---------------------------------------------------------------- shared helpers */

/* Counters keyed by a topology pair (label key, label value). */
struct sched_counts {
	struct sched_map m; /* "key=value" -> int64_t * (label keys cannot hold '=') */
};

void sched_counts_add(struct sched_counts *c, const char *key, const char *value, int64_t d);
/* The count of (key, value); 0 and *found false when the pair was never added. */
int64_t sched_counts_get(const struct sched_counts *c, const char *key, const char *value,
			 bool *found);
void sched_counts_free(struct sched_counts *c);

/*
 * Upstream's DefaultNormalizeScore: scale to 0..100 by the maximum (all 0 stay 0), and
 * with reverse take 100 minus that (all 0 become 100).
 */
void sched_default_normalize(int64_t *scores, size_t n, bool reverse);

/* ---------------------------------------------------------------- plugins_node.c */

enum sched_code sched_unschedulable_filter(const struct sched_cycle *cy, const void *state,
					   const struct sched_node *n, struct sched_status *st);
enum sched_code sched_nodename_pre_filter(struct sched_cycle *cy, void **state,
					  struct sched_status *st);
enum sched_code sched_nodename_filter(const struct sched_cycle *cy, const void *state,
				      const struct sched_node *n, struct sched_status *st);
enum sched_code sched_taint_filter(const struct sched_cycle *cy, const void *state,
				   const struct sched_node *n, struct sched_status *st);
int64_t sched_taint_score(const struct sched_cycle *cy, const void *state,
			  const struct sched_node *n);
void sched_taint_normalize(const struct sched_cycle *cy, const void *state,
			   struct sched_node *const *nodes, int64_t *scores, size_t n);
enum sched_code sched_nodeaffinity_pre_filter(struct sched_cycle *cy, void **state,
					      struct sched_status *st);
enum sched_code sched_nodeaffinity_filter(const struct sched_cycle *cy, const void *state,
					  const struct sched_node *n, struct sched_status *st);
enum sched_code sched_nodeaffinity_pre_score(struct sched_cycle *cy,
					     struct sched_node *const *nodes, size_t n,
					     void **state);
int64_t sched_nodeaffinity_score(const struct sched_cycle *cy, const void *state,
				 const struct sched_node *n);
void sched_nodeaffinity_normalize(const struct sched_cycle *cy, const void *state,
				  struct sched_node *const *nodes, int64_t *scores, size_t n);
enum sched_code sched_ports_pre_filter(struct sched_cycle *cy, void **state,
				       struct sched_status *st);
enum sched_code sched_ports_filter(const struct sched_cycle *cy, const void *state,
				   const struct sched_node *n, struct sched_status *st);

/* ---------------------------------------------------------------- plugins_resources.c */

enum sched_code sched_fit_filter(const struct sched_cycle *cy, const void *state,
				 const struct sched_node *n, struct sched_status *st);
int64_t sched_fit_score(const struct sched_cycle *cy, const void *state,
			const struct sched_node *n);
enum sched_code sched_balanced_pre_score(struct sched_cycle *cy, struct sched_node *const *nodes,
					 size_t n, void **state);
int64_t sched_balanced_score(const struct sched_cycle *cy, const void *state,
			     const struct sched_node *n);

/* ---------------------------------------------------------------- plugins_interpod.c */

enum sched_code sched_interpod_pre_filter(struct sched_cycle *cy, void **state,
					  struct sched_status *st);
enum sched_code sched_interpod_filter(const struct sched_cycle *cy, const void *state,
				      const struct sched_node *n, struct sched_status *st);
enum sched_code sched_interpod_pre_score(struct sched_cycle *cy, struct sched_node *const *nodes,
					 size_t n, void **state);
int64_t sched_interpod_score(const struct sched_cycle *cy, const void *state,
			     const struct sched_node *n);
void sched_interpod_normalize(const struct sched_cycle *cy, const void *state,
			      struct sched_node *const *nodes, int64_t *scores, size_t n);
void sched_interpod_free(void *state);

/* ---------------------------------------------------------------- plugins_spread.c */

enum sched_code sched_spread_pre_filter(struct sched_cycle *cy, void **state,
					struct sched_status *st);
enum sched_code sched_spread_filter(const struct sched_cycle *cy, const void *state,
				    const struct sched_node *n, struct sched_status *st);
enum sched_code sched_spread_pre_score(struct sched_cycle *cy, struct sched_node *const *nodes,
				       size_t n, void **state);
int64_t sched_spread_score(const struct sched_cycle *cy, const void *state,
			   const struct sched_node *n);
void sched_spread_normalize(const struct sched_cycle *cy, const void *state,
			    struct sched_node *const *nodes, int64_t *scores, size_t n);
void sched_spread_free(void *state);

#endif
