/* staticsrc.c - see staticsrc.h. */
#include "agent/lb/staticsrc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/lb/sync.h"
#include "informer.h"
#include "jsonx.h"
#include "log.h"

void lb_static_objects_free(struct lb_static_objects *o)
{
	json_decref(o->services);
	json_decref(o->slices);
	o->services = o->slices = NULL;
}

/* Add one item; kind_hint is the element kind of a typed list (or NULL). */
static int add_item(struct lb_static_objects *o, const json_t *item, size_t index,
		    const char *kind_hint, char *err, size_t errlen)
{
	const char *kind = jsonx_str(item, "kind", kind_hint);
	json_t *into;
	char key[512];

	if (!json_is_object(item)) {
		snprintf(err, errlen, "items[%zu] is not an object", index);
		return -EINVAL;
	}
	if (kind && strcmp(kind, "Service") == 0) {
		into = o->services;
	} else if (kind && strcmp(kind, "EndpointSlice") == 0) {
		into = o->slices;
	} else {
		log_debug("static file: items[%zu] of kind %s skipped", index,
			  kind ? kind : "(none)");
		return 0;
	}
	if (informer_key(item, key, sizeof(key)) < 0) {
		snprintf(err, errlen, "items[%zu] (%s) has no metadata.name", index, kind);
		return -EINVAL;
	}
	/* A cluster-scoped key would not match the "ns/name" of its service. */
	if (!strchr(key, '/')) {
		char nskey[600];

		snprintf(nskey, sizeof(nskey), "default/%s", key);
		snprintf(key, sizeof(key), "%.*s", (int)sizeof(key) - 1, nskey);
	}
	if (json_object_get(into, key)) {
		snprintf(err, errlen, "%s %s is listed twice", kind, key);
		return -EINVAL;
	}
	json_object_set(into, key, (json_t *)item);
	return 0;
}

int lb_static_load(const char *path, struct lb_static_objects *out, char *err, size_t errlen)
{
	struct lb_static_objects o = { json_object(), json_object() };
	const char *kind, *hint = NULL;
	json_error_t jerr;
	json_t *root = NULL, *items, *item;
	FILE *f;
	char msg[1024];
	size_t i;
	int rc = 0;

	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		goto out;
	}
	root = json_loadf(f, 0, &jerr);
	fclose(f);
	if (!root) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
		goto out;
	}
	kind = jsonx_str(root, "kind", "");
	items = jsonx_arr(root, "items");
	if (strcmp(kind, "ServiceList") == 0)
		hint = "Service";
	else if (strcmp(kind, "EndpointSliceList") == 0)
		hint = "EndpointSlice";
	if (items) {
		json_array_foreach(items, i, item) {
			rc = add_item(&o, item, i, hint, msg, sizeof(msg));
			if (rc < 0)
				break;
		}
	} else if (strcmp(kind, "Service") == 0 || strcmp(kind, "EndpointSlice") == 0) {
		rc = add_item(&o, root, 0, NULL, msg, sizeof(msg));
	} else {
		rc = -EINVAL;
		snprintf(msg, sizeof(msg),
			 "not a List (no \"items\" array) nor a Service or "
			 "EndpointSlice");
	}
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path, msg);
out:
	json_decref(root);
	if (rc < 0) {
		lb_static_objects_free(&o);
		return rc;
	}
	*out = o;
	return 0;
}

static void feed_kind(struct lb_sync *s, const json_t *prev, const json_t *next,
		      void (*event)(struct lb_sync *, const json_t *, const json_t *))
{
	const char *key;
	json_t *obj;

	json_object_foreach((json_t *)next, key, obj) {
		const json_t *old = prev ? json_object_get(prev, key) : NULL;

		if (!old || !jsonx_equal(old, obj))
			event(s, old, obj);
	}
	if (!prev)
		return;
	json_object_foreach((json_t *)prev, key, obj)
		if (!json_object_get(next, key))
			event(s, obj, NULL);
}

void lb_static_feed(struct lb_sync *s, const struct lb_static_objects *prev,
		    const struct lb_static_objects *next)
{
	feed_kind(s, prev ? prev->services : NULL, next->services, lb_sync_service_event);
	feed_kind(s, prev ? prev->slices : NULL, next->slices, lb_sync_slice_event);
}
