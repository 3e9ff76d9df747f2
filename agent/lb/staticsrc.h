/*
 * staticsrc.h - Services and EndpointSlices from a JSON file instead of the
 * API server (--static): for tests, benchmarks and a node without a
 * control plane.
 *
 * The file is what `kubectl get svc,endpointslices -A -o json` prints: a v1
 * List ({"kind": "List", "items": [...]}) whose items carry their kind. A
 * typed list (ServiceList, EndpointSliceList) and a single Service or
 * EndpointSlice object are accepted too. Other kinds in the list are
 * skipped, so a dump of more resources still loads.
 *
 * A reload (SIGHUP) is fed to the sync as events: the difference between
 * the previous file and the new one, exactly as an informer would report
 * it, so the change tracker and the writer only touch what changed. A file
 * that fails to load leaves the previous state in place.
 */
#ifndef CAPSTAN_AGENT_LB_STATICSRC_H
#define CAPSTAN_AGENT_LB_STATICSRC_H

#include <stddef.h>

#include <jansson.h>

struct lb_sync;

struct lb_static_objects {
	json_t *services; /* "ns/name" -> Service */
	json_t *slices;	  /* "ns/name" -> EndpointSlice */
};

/*
 * Read path. 0 on success with *out filled (release with
 * lb_static_objects_free); -errno when the file cannot be read, -EINVAL for
 * invalid JSON, a top level that is not a list or object, an item without
 * metadata.name or a Service/EndpointSlice listed twice; the message in err
 * names the file and, for JSON errors, line and column.
 */
int lb_static_load(const char *path, struct lb_static_objects *out, char *err, size_t errlen);
void lb_static_objects_free(struct lb_static_objects *o);

/* Report to s every add, update and delete that turns prev into next (prev may be empty). */
void lb_static_feed(struct lb_sync *s, const struct lb_static_objects *prev,
		    const struct lb_static_objects *next);

#endif
