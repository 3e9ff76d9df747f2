/*
 * test_cm_fake.h - an in-memory struct cm_api for controller unit tests.
 *
 * Objects live in one map per resource, keyed "namespace/name". Creates
 * assign a name (generateName + a counter), uid, resourceVersion,
 * creationTimestamp (a clock that advances one second per create, so
 * creation order is total) and, for apps/v1 kinds, generation. Updates
 * check resourceVersion (409 on a mismatch) and keep spec and status apart
 * as the API server does; patches use the API server's own patch code.
 * Every call is recorded ("POST pods default/web-1"), every Event too, and
 * failures can be injected per verb.
 */
#ifndef CAPSTAN_TEST_CM_FAKE_H
#define CAPSTAN_TEST_CM_FAKE_H

#include <pthread.h>
#include <stdint.h>

#include <jansson.h>

#include "control/controllers/ctrl.h"

struct cm_fake {
	struct cm_api api;
	pthread_mutex_t lock;
	json_t *objs[CM__RESOURCES]; /* "ns/name" -> object */
	json_t *calls;		     /* strings "VERB resource ns/name[/sub]" */
	json_t *events;		     /* {type, reason, message, name} */
	int64_t clock;		     /* creationTimestamp of the next create */
	long seq;

	/* Injected failures: the HTTP status to answer with (0 = none). */
	int fail_create;
	int creates_before_failing; /* with fail_create: succeed this many first */
	int fail_delete;
	int fail_update;
	int fail_status;
};

void cm_fake_init(struct cm_fake *f, const char *component);
void cm_fake_free(struct cm_fake *f);

/* Store obj (stolen) as it is, filling uid/resourceVersion/creationTimestamp if missing. */
void cm_fake_put(struct cm_fake *f, enum cm_resource r, json_t *obj);
/* The stored object (borrowed) or NULL. */
json_t *cm_fake_get(struct cm_fake *f, enum cm_resource r, const char *ns, const char *name);
/* A new array of every stored object of r, sorted by name. */
json_t *cm_fake_list(struct cm_fake *f, enum cm_resource r);
size_t cm_fake_count(struct cm_fake *f, enum cm_resource r);
/* Calls whose text starts with prefix ("POST pods", "DELETE pods", "PUT replicasets"). */
int cm_fake_calls(struct cm_fake *f, const char *prefix);
/* Events with this reason. */
int cm_fake_events(struct cm_fake *f, const char *reason);
/* Message of the last Event with this reason, or NULL. */
const char *cm_fake_event_message(struct cm_fake *f, const char *reason);
void cm_fake_reset_log(struct cm_fake *f);

#endif
