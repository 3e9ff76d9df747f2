/*
 * test_sched_fixture.h - in-memory nodes and pods for the scheduler's unit tests.
 *
 * Objects are written as JSON with single quotes ('a' for "a"), so a table row stays on
 * one readable line; fx_json() swaps them and fails the test on a parse error. Pods get
 * namespace "default" unless they name one. Everything registered here is released by
 * fx_reset() (called from a test_defer hook that the first fx_ call installs), so a test
 * never frees by hand and LeakSanitizer still sees a clean exit.
 */
#ifndef CAPSTAN_TEST_SCHED_FIXTURE_H
#define CAPSTAN_TEST_SCHED_FIXTURE_H

#include <jansson.h>

#include "control/scheduler/cache.h"
#include "control/scheduler/framework.h"
#include "control/scheduler/objects.h"

/* Parse JSON with ' for ". The reference is owned by the fixture. */
json_t *fx_json(const char *text);
/* A pod from JSON (metadata.namespace defaults to "default"); owned by the fixture. */
struct sched_pod *fx_pod(const char *text);
/* The fixture's cache, created on first use. */
struct sched_cache *fx_cache(void);
/* Add or update a node in the fixture's cache from JSON; returns it. */
struct sched_node *fx_node(const char *text);
/* A node named name with cpu / memory / pods allocatable and labels (JSON object or NULL). */
struct sched_node *fx_simple_node(const char *name, const char *cpu, const char *memory,
				  const char *pods, const char *labels);
/*
 * Four 4-CPU nodes a1, a2 (zone a), b1 (zone b) and b2 (no zone label), each with its
 * kubernetes.io/hostname label, in that cache order.
 */
void fx_zones(void);
/* A pod from JSON bound to node (spec.nodeName set) and added to the cache. */
struct sched_pod *fx_bound(const char *node, const char *text);
/* The result of plugin `name` for pod on node (pre_filter included). */
enum sched_code fx_filter(const char *plugin, const struct sched_pod *pod,
			  const struct sched_node *n, struct sched_status *st);
/* Normalized scores of plugin `name` over every live node of the cache, in cache order. */
enum sched_code fx_scores(const char *plugin, const struct sched_pod *pod, int64_t *scores);

#endif
