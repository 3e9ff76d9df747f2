/*
 * registry.h - the resources capstan-apiserver serves, in one table.
 *
 * Everything that differs between resources and is not a field rule
 * (validate.c) or a printer (tables.c) lives in struct resource: names for
 * discovery, scope, subresources, the field labels a fieldSelector may use,
 * and the strategy flags the generic handlers consult (status kept apart
 * from the main resource, generation bumped on spec changes, create on
 * update). Adding a resource is adding a row.
 */
#ifndef CAPSTAN_APISERVER_REGISTRY_H
#define CAPSTAN_APISERVER_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

enum res_sub {
	RES_SUB_STATUS = 1 << 0,
	RES_SUB_SCALE = 1 << 1,	  /* autoscaling/v1 Scale */
	RES_SUB_BINDING = 1 << 2, /* pods/binding */
	RES_SUB_LOG = 1 << 3,	  /* pods/log */
	RES_SUB_EVICTION = 1 << 4,
	RES_SUB_FINALIZE = 1 << 5, /* namespaces/finalize */
};

struct resource {
	const char *group;	/* "" for the core group */
	const char *version;
	const char *name;	/* plural, also the storage prefix */
	const char *singular;
	const char *kind;
	bool namespaced;
	const char *short_names[3];
	bool category_all;	/* listed by `kubectl get all` */
	unsigned subresources;	/* RES_SUB_* */
	/* fieldSelector labels besides metadata.name and metadata.namespace */
	const char *const *field_labels;
	/* Strategy. */
	bool status_apart;	/* status changes only through /status */
	bool generation;	/* metadata.generation counts spec changes */
	bool create_on_update;	/* PUT of a missing object creates it */
	bool graceful_delete;	/* pods: bound pods get a deletionTimestamp first */
};

/* Every served resource, ending with a row whose name is NULL. */
extern const struct resource registry_resources[];

/* Look a resource up by group and plural name (version must match). */
const struct resource *registry_find(const char *group, const char *version, const char *name);
/* By kind within a group (e.g. for ownerReferences). */
const struct resource *registry_find_kind(const char *group, const char *kind);

/* "apps/v1" or "v1". */
void registry_api_version(const struct resource *r, char *buf, size_t len);

/*
 * Storage key of an object: "/registry/pods/ns/name" or "/registry/nodes/name".
 * With name NULL, the prefix of a collection ("/registry/pods/ns/" or
 * "/registry/pods/"), ns NULL or "" meaning all namespaces.
 */
void registry_key(const struct resource *r, const char *ns, const char *name, char *buf,
		  size_t len);

/*
 * The value of a field label of obj as a fieldSelector sees it ("" when
 * absent; booleans "true"/"false"). NULL when r does not support the label.
 */
const char *registry_field_value(const struct resource *r, const json_t *obj, const char *label,
				 char *scratch, size_t len);

/* NULL-terminated list of every field label r supports (for error messages). */
void registry_field_labels(const struct resource *r, const char **out, size_t max);

#endif
