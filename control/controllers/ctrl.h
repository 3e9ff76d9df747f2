/*
 * ctrl.h - what the workload controllers share beyond cm.h: the write
 * interface they call (struct cm_api), worker threads over a work queue,
 * expectations, int-or-percent values, template hashes and status
 * conditions.
 *
 * The controllers' sync functions take their inputs (the object, the pods
 * or ReplicaSets it owns, the time) as arguments and make every write
 * through a struct cm_api. In the daemon the table forwards to cm_create()
 * and friends; unit tests pass a table that records the writes and answers
 * from memory, so a sync can be checked step by step without an API server.
 */
#ifndef CAPSTAN_CONTROLLERS_CTRL_H
#define CAPSTAN_CONTROLLERS_CTRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "control/controllers/cm.h"

/* ---------------------------------------------------------------- writes */

/*
 * Writes as cm_create/cm_update/cm_patch/cm_delete define them: each returns
 * the HTTP status or -errno and sets *out (may be NULL) to the answer or NULL.
 */
struct cm_api {
	int (*create)(void *ctx, enum cm_resource r, const json_t *obj, json_t **out);
	int (*update)(void *ctx, enum cm_resource r, const json_t *obj, const char *sub,
		      json_t **out);
	int (*patch)(void *ctx, enum cm_resource r, const char *ns, const char *name,
		     const char *sub, const char *type, const json_t *patch, json_t **out);
	int (*del)(void *ctx, enum cm_resource r, const char *ns, const char *name,
		   const json_t *opts, json_t **out);
	/* An Event about obj (borrowed); message already formatted. */
	void (*event)(void *ctx, const char *component, const json_t *obj, const char *type,
		      const char *reason, const char *message);
	void *ctx;
	const char *component; /* Event source, e.g. "replicaset-controller" */
};

/* The table over a running cm. */
void cm_api_init(struct cm_api *api, struct cm *cm, const char *component);

/* Format and record an Event through api (kind and apiVersion as given, obj may lack them). */
void cm_api_event(const struct cm_api *api, const json_t *obj, const char *kind,
		  const char *api_version, const char *type, const char *reason, const char *fmt,
		  ...) __attribute__((format(printf, 7, 8)));

/*
 * PUT obj (borrowed) with status (borrowed) to its /status. Returns the
 * HTTP status (200) or -errno; *out (may be NULL) gets the answer.
 */
int cm_api_update_status(const struct cm_api *api, enum cm_resource r, const json_t *obj,
			 const json_t *status, json_t **out);

/*
 * Two status objects are equal when their members are, counting a missing
 * member, null, 0, "", [] and {} as the same (the API server may drop
 * zero values that a controller writes out).
 */
bool cm_status_equal(const json_t *a, const json_t *b);

/* ---------------------------------------------------------------- workers */

/*
 * A sync function: 0 when the key is done (its back-off is reset), -errno
 * to retry it with back-off. It may requeue the key itself with
 * wq_add_after() (e.g. when a pod becomes available later).
 */
typedef int (*cm_sync_fn)(void *ctx, const char *key);

struct cm_workers;

/* Start n threads taking keys from q. NULL when no thread could start. */
struct cm_workers *cm_workers_start(const char *name, struct workqueue *q, unsigned n,
				    cm_sync_fn fn, void *ctx);
/* Shut the queue down, wait for the threads, free. NULL is fine. */
void cm_workers_stop(struct cm_workers *w);

/* Split a key "namespace/name": 0 with ns filled and *name pointing into key, or -EINVAL. */
int cm_split_key(const char *key, char *ns, size_t nslen, const char **name);

/* ---------------------------------------------------------------- expectations */

/*
 * What a controller is waiting to see in its informer after its own
 * creates and deletes, per controller key (client-go's
 * UIDTrackingControllerExpectations): a count of creations, and the UIDs of
 * the pods it deleted. Until they are seen (or five minutes pass) the
 * controller must not act on the count of pods again, or it would create or
 * delete twice. Thread-safe.
 */
struct cm_expectations;

struct cm_expectations *cm_exp_new(void);
void cm_exp_free(struct cm_expectations *e);
/* Replace key's expectations: adds creations, and the deletion of each UID. */
void cm_exp_expect(struct cm_expectations *e, const char *key, int adds,
		   const char *const *del_uids, size_t ndel);
/* One creation seen (or given up on). */
void cm_exp_creation_observed(struct cm_expectations *e, const char *key);
/* The deletion of uid seen (or given up on); other UIDs are ignored. */
void cm_exp_deletion_observed(struct cm_expectations *e, const char *key, const char *uid);
/* True when key has no record, every expectation was met, or the record expired. */
bool cm_exp_satisfied(struct cm_expectations *e, const char *key);
void cm_exp_forget(struct cm_expectations *e, const char *key);
/* Tests: the record's age limit (default 5 minutes). */
void cm_exp_set_ttl(struct cm_expectations *e, uint64_t ttl_ns);

/* ---------------------------------------------------------------- values */

/*
 * An IntOrString such as maxSurge: an integer, or "N%" of total rounded up
 * or down. NULL or JSON null gives def. 0 with *out set; -EINVAL for
 * anything else (negative numbers, "abc", "10", "5.5%").
 */
int cm_int_or_percent(const json_t *v, const char *def, int total, bool round_up, int *out);

/*
 * A short label-safe hash of a pod template (its canonical JSON) and a
 * collision count (< 0 when there is none): lower-case consonants and
 * digits, at most 10 characters. Equal templates give equal hashes.
 */
void cm_template_hash(const json_t *tmpl, long long collision_count, char *buf, size_t len);

/* RFC 3339 time of an object field as ns since the epoch, or 0 when absent/bad. */
int64_t cm_time_ns(const json_t *obj, const char *path);
/* metadata.creationTimestamp as ns, or 0. */
int64_t cm_creation_ns(const json_t *obj);
/* now (ns since the epoch) as metav1.Time into buf (KTIME_BUFSZ). */
void cm_format_time(int64_t ns, char *buf, size_t len);

/* ---------------------------------------------------------------- conditions */

/* The condition of type in status.conditions (borrowed), or NULL. */
json_t *cm_cond_get(const json_t *status, const char *type);
void cm_cond_remove(json_t *status, const char *type);
/*
 * Set cond (stolen) as upstream's SetCondition does: nothing changes when a
 * condition of that type with the same status and reason exists; when only
 * the reason or message changes lastTransitionTime is kept; the condition
 * moves to the end of the list.
 */
void cm_cond_set(json_t *status, json_t *cond);
/* A new condition {type, status, reason, message, lastUpdateTime?, lastTransitionTime}. */
json_t *cm_cond_new(const char *type, const char *status, const char *reason, const char *message,
		    int64_t now, bool with_update_time);

#endif
