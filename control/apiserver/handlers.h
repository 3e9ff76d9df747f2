/*
 * handlers.h - the pieces the resource handlers share (handlers.c,
 * delete.c, subresources.c, watch.c, discovery.c).
 */
#ifndef CAPSTAN_APISERVER_HANDLERS_H
#define CAPSTAN_APISERVER_HANDLERS_H

#include <stdbool.h>

#include <jansson.h>

#include "control/apiserver/cache.h"
#include "control/apiserver/http.h"
#include "control/apiserver/registry.h"

struct apiserver;

/* The storage key of the request's object (route ns/name). */
void req_key(const struct api_req *req, const struct resource *r, char *buf, size_t len);

/* dryRun=All? (Replies 400 for a bad value and returns -1.) */
int req_dry_run(struct api_req *req, bool *dry);

/*
 * Decode the request body (JSON or kubectl's protobuf) into an object.
 * 0 with *out set, or -1 after replying with the error (400/415).
 */
int req_decode_body(struct api_req *req, json_t **out);

/*
 * Decode the body as an object of kind r->kind (or, with kind set, that
 * kind/apiVersion), checking apiVersion/kind, strict field validation
 * (fieldValidation=Strict|Warn|Ignore) and JSON types against the schema.
 * 0 with *out set, or -1 after replying.
 */
int req_decode_object(struct api_req *req, const struct resource *r, const char *api_version,
		      const char *kind, json_t **out);

/* The labelSelector and fieldSelector of a list, watch or deletecollection. */
struct list_filter {
	const struct resource *r;
	struct selector *labels;	/* NULL: all */
	struct fieldsel *fields;	/* NULL: all */
};

/* Parse the request's selectors. 0, or -1 after replying 400. */
int list_filter_init(struct api_req *req, const struct resource *r, struct list_filter *f);
void list_filter_free(struct list_filter *f);
bool list_filter_match(const struct list_filter *f, const json_t *obj);

/* metadata of obj, created if missing (borrowed). */
json_t *obj_meta(json_t *obj);
const char *obj_name(const json_t *obj);
const char *obj_rv(const json_t *obj);

/*
 * Server-owned state of a new object, as upstream's PrepareForCreate sets
 * it: uid, creationTimestamp, generation, initial status.
 */
void object_prepare_create(const struct resource *r, json_t *obj);
/* The text stored for obj: compact JSON without resourceVersion (malloc'd). */
char *object_storage_text(json_t *obj, size_t *len);

/* RFC 3339 "now" (seconds) into buf. */
void now_rfc3339(char *buf, size_t len);

/*
 * Write an updated object over cur (compare-and-swap on cur's revision),
 * deleting it instead when it is being deleted and has no finalizers left.
 * 0 with *out (a cache reference to the result, NULL if deleted) or -errno
 * from the store (-ESTALE on a conflict).
 */
int store_write_update(struct apiserver *s, const struct resource *r, const char *key,
		       const struct cache_obj *cur, json_t *obj, struct cache_obj **out);

/* Verbs implemented outside handlers.c. */
void handle_delete(struct api_req *req, const struct resource *r);
void handle_delete_collection(struct api_req *req, const struct resource *r);
void handle_watch(struct api_req *req, const struct resource *r);
void handle_binding(struct api_req *req, const struct resource *r);
void handle_eviction(struct api_req *req, const struct resource *r);
void handle_scale(struct api_req *req, const struct resource *r);
void handle_log(struct api_req *req, const struct resource *r);
void handle_finalize(struct api_req *req, const struct resource *r);
void handle_discovery(struct api_req *req);
void handle_openapi(struct api_req *req);

/* The shared update path (PUT and PATCH of objects and subresources). */
typedef int (*update_build_fn)(struct api_req *req, void *ctx, const json_t *cur, json_t **want);
void do_update(struct api_req *req, const struct resource *r, const char *sub,
	       update_build_fn build, void *ctx, bool pinned_rv_only);

/*
 * Delete the object at key as a DELETE with these options would (graceful
 * pods, finalizers, propagation). opts may be NULL. *status_out gets
 * 200 or 202; *out the object as returned to the client (a new reference).
 * 0 or -errno (-ENOENT, -ESTALE), with *err_status a Status to send when
 * the failure is not a plain store error.
 */
int delete_object(struct apiserver *s, const struct resource *r, const char *key,
		  const json_t *opts, bool dry, unsigned *status_out, json_t **out,
		  json_t **err_status);

#endif
