/*
 * http.h - one API request as the handlers see it, over libmicrohttpd.
 *
 * http.c owns the libmicrohttpd callbacks: it collects the body (refusing
 * it with 413 past the size limit, before reading it), parses the path into
 * a route, calls api_dispatch() once the body is complete, and turns the
 * reply the handler set into an HTTP response. Handlers never see
 * libmicrohttpd except for streamed replies (watch, logs).
 */
#ifndef CAPSTAN_APISERVER_HTTP_H
#define CAPSTAN_APISERVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "control/apiserver/registry.h"
#include "util.h"

struct apiserver;

enum route_kind {
	ROUTE_NONE,
	ROUTE_VERSION,		/* /version */
	ROUTE_HEALTH,		/* /healthz, /livez, /readyz (and their sub-checks) */
	ROUTE_API,		/* /api */
	ROUTE_APIS,		/* /apis */
	ROUTE_GROUP,		/* /apis/<group> */
	ROUTE_GROUP_VERSION,	/* /api/v1, /apis/<group>/<version> */
	ROUTE_OPENAPI_V2,	/* /openapi/v2 */
	ROUTE_OPENAPI_V3,	/* /openapi/v3 */
	ROUTE_OPENAPI_V3_GV,	/* /openapi/v3/api/v1, /openapi/v3/apis/<g>/<v> */
	ROUTE_RESOURCE,		/* a resource, object or subresource */
};

struct route {
	enum route_kind kind;
	char group[64];
	char version[16];
	const struct resource *res;	/* ROUTE_RESOURCE: NULL if unknown */
	char resource[64];		/* as in the URL */
	char ns[256];			/* "" = no namespace in the URL */
	char name[256];			/* "" = the collection */
	char sub[32];			/* subresource, "" = none */
};

/* Parse a request path. Returns false for a path no route matches. */
bool route_parse(const char *path, struct route *rt);

struct api_req {
	struct apiserver *srv;
	struct MHD_Connection *conn;
	const char *method;
	const char *path;
	struct route route;
	struct buf body;
	uint64_t start_ns;

	/* The reply, set by exactly one api_reply_* or api_stream call. */
	unsigned status;
	char *reply;
	size_t reply_len;
	const char *reply_type;
	struct buf warnings;	/* "299 - \"text\"" values, NUL-separated */
	MHD_ContentReaderCallback stream_fn;
	void *stream_ctx;
	MHD_ContentReaderFreeCallback stream_free;
};

/* Handle a complete request (handlers.c). */
void api_dispatch(struct api_req *req);

const char *api_query(const struct api_req *req, const char *key);
const char *api_header(const struct api_req *req, const char *name);

/* Reply with a JSON value (stolen). */
void api_reply_json(struct api_req *req, unsigned status, json_t *body);
/* Reply with bytes (stolen, malloc'd). */
void api_reply_raw(struct api_req *req, unsigned status, const char *type, char *body,
		   size_t len);
/* Reply with a Status (stolen); the HTTP code is the Status's code. */
void api_reply_status(struct api_req *req, json_t *status);
/* Reply with a chunked stream; fn runs in this connection's thread. */
void api_stream(struct api_req *req, unsigned status, const char *type,
		MHD_ContentReaderCallback fn, void *ctx, MHD_ContentReaderFreeCallback free_fn);
/* Add a Warning header (HTTP 299) to the reply. */
void api_warn(struct api_req *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Start/stop libmicrohttpd for srv (server.c calls these). */
int http_start(struct apiserver *srv, char *err, size_t errlen);
void http_stop(struct apiserver *srv);

#endif
