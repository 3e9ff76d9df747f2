/*
 * scheduler.h - the capstan-scheduler daemon: informers in, bindings and reports out.
 *
 * Threads and what each owns:
 *
 *   informers (pods, nodes, namespaces)  list+watch; their handlers only post events to
 *                                        the loop's inbox (a mutex-protected list);
 *   the scheduling loop                  owns the cache, the queue and the framework:
 *                                        applies the inbox between cycles, pops the next
 *                                        pod, runs one cycle (on the filter pool's threads),
 *                                        assumes the pod and hands the binding on;
 *   binders (--bind-workers)             POST pods/NAME/binding, one keep-alive connection
 *                                        each, and post the outcome back to the inbox;
 *   reporters (2)                        PATCH pods/NAME/status (PodScheduled=False) and
 *                                        POST Events (Scheduled, FailedScheduling).
 *
 * Binding is asynchronous, as upstream's binding cycle: the loop schedules the next pod
 * while earlier bindings are in flight, and the cache's assumption keeps their resources
 * counted. The pod informer watches pods that are not Succeeded or Failed (upstream's
 * field selector), bound or not: bound ones feed the cache, pending ones with our
 * scheduler name (empty counts as default-scheduler), no deletionTimestamp and no
 * scheduling gates feed the queue.
 *
 * Events are sent best-effort: when more than SCHED_MAX_PENDING_EVENTS wait, new ones are
 * dropped (and counted in the log), as client-go's broadcaster drops on a full channel;
 * status patches are never dropped. A PodScheduled condition that already says the same
 * is not patched again.
 */
#ifndef CAPSTAN_SCHED_SCHEDULER_H
#define CAPSTAN_SCHED_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "control/scheduler/config.h"

#define SCHED_MAX_PENDING_EVENTS 1000
#define SCHED_REPORTERS 2

struct sched_daemon;

/*
 * Load the kubeconfig and start every thread. Scheduling begins once the informers have
 * listed (until then events are only recorded). 0 on success with *out; -errno with a
 * message in err (unreadable kubeconfig, thread creation).
 */
int sched_start(const struct sched_config *cfg, struct sched_daemon **out, char *err,
		size_t errlen);
/* Stop every thread and free everything; in-flight requests are abandoned. */
void sched_stop(struct sched_daemon *d);

/*
 * A core/v1 Event about pod (borrowed), as upstream's recorder writes it: name
 * "<pod>.<hex ns>", involvedObject the pod, source.component and reportingComponent
 * component, count 1, first/lastTimestamp now_ns (wall clock, ns). New reference.
 */
json_t *sched_event_new(const json_t *pod, const char *component, const char *type,
			const char *reason, const char *message, int64_t now_ns);
/*
 * The strategic merge patch for pods/NAME/status that sets PodScheduled=False with reason
 * and message, or NULL when pod (borrowed) already carries exactly that condition.
 * lastTransitionTime is now_ns unless the condition was already False.
 */
json_t *sched_condition_patch(const json_t *pod, const char *reason, const char *message,
			      int64_t now_ns);

#endif
