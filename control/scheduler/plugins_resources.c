/*
 * plugins_resources.c - NodeResourcesFit and NodeResourcesBalancedAllocation.
 *
 * Fit compares the pod's requests (objects.h: containers, init containers, sidecars,
 * overhead) with allocatable minus what the node's bound and assumed pods request, for
 * cpu, memory, ephemeral-storage and every extended resource the pod asks for, and checks
 * the pod count against allocatable "pods". Every shortage is a separate reason
 * ("Insufficient cpu", "Too many pods"), as upstream, so the message shows all of them.
 *
 * Scores use upstream's default resources (cpu and memory, weight 1 each):
 *   LeastAllocated      mean over resources of (allocatable - requested) * 100 /
 *                       allocatable, with the non-zero requests (objects.h), skipping a
 *                       resource the node does not declare;
 *   BalancedAllocation  (1 - stddev of the requested/allocatable fractions) * 100 with the
 *                       exact requests (fractions capped at 1), skipped for pods that
 *                       request neither cpu nor memory, as upstream does since kubernetes#129138
 *                       (best-effort pods would otherwise all pile onto one node).
 */
#include "control/scheduler/plugins.h"

#include <math.h>
#include <string.h>

#include "util.h"

enum sched_code sched_fit_filter(const struct sched_cycle *cy, const void *state,
				 const struct sched_node *n, struct sched_status *st)
{
	const struct sched_res *req = &cy->pod->req, *alloc = &n->alloc, *used = &n->requested;
	enum sched_code code = SCHED_OK;
	bool any = req->milli_cpu || req->memory || req->ephemeral;

	if ((int64_t)n->npods + 1 > alloc->pods)
		code = sched_reject(st, SCHED_UNSCHEDULABLE, "Too many pods");
	for (size_t i = 0; i < req->nscalar; i++)
		any |= req->scalar[i].value != 0;
	if (!any)
		return code;
	if (req->milli_cpu > 0 && req->milli_cpu > alloc->milli_cpu - used->milli_cpu)
		code = sched_reject(st, SCHED_UNSCHEDULABLE, "Insufficient cpu");
	if (req->memory > 0 && req->memory > alloc->memory - used->memory)
		code = sched_reject(st, SCHED_UNSCHEDULABLE, "Insufficient memory");
	if (req->ephemeral > 0 && req->ephemeral > alloc->ephemeral - used->ephemeral)
		code = sched_reject(st, SCHED_UNSCHEDULABLE, "Insufficient ephemeral-storage");
	for (size_t i = 0; i < req->nscalar; i++) {
		const char *name = req->scalar[i].name;

		if (req->scalar[i].value >
		    sched_res_scalar(alloc, name) - sched_res_scalar(used, name))
			code = sched_reject(st, SCHED_UNSCHEDULABLE, "Insufficient %s", name);
	}
	return code;
}

static int64_t least_requested(int64_t requested, int64_t capacity)
{
	if (requested > capacity)
		return 0;
	return (capacity - requested) * SCHED_MAX_NODE_SCORE / capacity;
}

int64_t sched_fit_score(const struct sched_cycle *cy, const void *state, const struct sched_node *n)
{
	int64_t sum = 0, weights = 0;

	if (n->alloc.milli_cpu > 0) {
		sum += least_requested(n->nz_milli_cpu + cy->pod->nz_milli_cpu, n->alloc.milli_cpu);
		weights++;
	}
	if (n->alloc.memory > 0) {
		sum += least_requested(n->nz_memory + cy->pod->nz_memory, n->alloc.memory);
		weights++;
	}
	return weights ? sum / weights : 0;
}

enum sched_code sched_balanced_pre_score(struct sched_cycle *cy, struct sched_node *const *nodes,
					 size_t n, void **state)
{
	/* Best-effort pods would all score 100 everywhere and pile onto one node. */
	return cy->pod->req.milli_cpu || cy->pod->req.memory ? SCHED_OK : SCHED_SKIP;
}

static void add_fraction(double *f, size_t *nf, int64_t requested, int64_t allocatable)
{
	double x;

	if (allocatable <= 0)
		return;
	x = (double)requested / (double)allocatable;
	f[(*nf)++] = x > 1 ? 1 : x;
}

int64_t sched_balanced_score(const struct sched_cycle *cy, const void *state,
			     const struct sched_node *n)
{
	double f[2], std = 0;
	size_t nf = 0;

	add_fraction(f, &nf, n->requested.milli_cpu + cy->pod->req.milli_cpu, n->alloc.milli_cpu);
	add_fraction(f, &nf, n->requested.memory + cy->pod->req.memory, n->alloc.memory);
	/* With two resources the standard deviation is half their difference. */
	if (nf == 2)
		std = fabs(f[0] - f[1]) / 2;
	return (int64_t)((1 - std) * SCHED_MAX_NODE_SCORE);
}
