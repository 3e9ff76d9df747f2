/*
 * encode.h - how objects leave the API server: plain JSON (objects, lists,
 * watch events) or a meta.k8s.io/v1 Table when the client asks for one
 * (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, what kubectl get
 * sends).
 *
 * Lists and events are assembled from each cached object's ready-made JSON
 * text; only Tables are built as JSON trees (their AGE column changes with
 * the clock, so they cannot be cached).
 */
#ifndef CAPSTAN_APISERVER_ENCODE_H
#define CAPSTAN_APISERVER_ENCODE_H

#include <stdbool.h>
#include <stdint.h>

#include "control/apiserver/cache.h"
#include "control/apiserver/http.h"

enum include_object {
	INCLUDE_METADATA,	/* rows carry PartialObjectMetadata (the default) */
	INCLUDE_NONE,
	INCLUDE_OBJECT,
};

struct out_format {
	bool table;
	enum include_object include;
};

/* What the request's Accept header and includeObject parameter ask for. */
void encode_format(const struct api_req *req, struct out_format *fmt);

/* Reply with one object (JSON or a one-row Table). */
void encode_object(struct api_req *req, unsigned status, const struct resource *r,
		   const struct cache_obj *o, const struct out_format *fmt);
/* Same for an object that is not in the cache (dry runs). obj is borrowed. */
void encode_json_object(struct api_req *req, unsigned status, const struct resource *r,
			const json_t *obj, const struct out_format *fmt);

/*
 * Reply with a list: "<Kind>List" with metadata.resourceVersion = rev and,
 * when cont is set, metadata.continue (and remainingItemCount when known,
 * i.e. >= 0), or a Table.
 */
void encode_list(struct api_req *req, const struct resource *r, struct cache_obj **items,
		 size_t n, int64_t rev, const char *cont, long long remaining,
		 const struct out_format *fmt);

/*
 * One watch event, a line of text ending in "\n": {"type":T,"object":...}
 * where the object is the JSON text or a one-row Table (with column
 * definitions when with_columns). Returns a malloc'd string.
 */
char *encode_watch_event(const struct resource *r, const char *type, const struct cache_obj *o,
			 const struct out_format *fmt, bool with_columns);

/* "PodList" and the like. */
void encode_list_kind(const struct resource *r, char *buf, size_t len);

#endif
