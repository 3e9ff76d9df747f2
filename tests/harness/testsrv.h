/*
 * testsrv.h - a small HTTP server on 127.0.0.1 for tests of HTTP clients.
 *
 * Built on libmicrohttpd with one thread per connection, so a handler may
 * block (a watch stream waiting for the test to push events). The server
 * collects request bodies before calling the handler, counts accepted TCP
 * connections (to check keep-alive) and picks a free port itself.
 */
#ifndef CAPSTAN_TESTSRV_H
#define CAPSTAN_TESTSRV_H

#include <stddef.h>
#include <microhttpd.h>

struct testsrv_request {
	struct MHD_Connection *conn;
	const char *method;
	const char *url;  /* path without the query */
	const char *body; /* NUL-terminated, may be empty */
	size_t body_len;
};

/* Return an MHD_queue_response() result (testsrv_reply does that). */
typedef enum MHD_Result (*testsrv_handler)(void *ctx, const struct testsrv_request *req);

struct testsrv;

/* Start on 127.0.0.1 with an ephemeral port; NULL on failure. */
struct testsrv *testsrv_start(testsrv_handler fn, void *ctx);
/* "http://127.0.0.1:PORT" */
const char *testsrv_url(const struct testsrv *s);
/* TCP connections accepted so far. */
int testsrv_connections(struct testsrv *s);
/* Stop accepting, wait for every connection thread. Handlers must return. */
void testsrv_stop(struct testsrv *s);

/* Queue a buffered response (body copied). */
enum MHD_Result testsrv_reply(struct MHD_Connection *conn, unsigned status,
			      const char *content_type, const char *body);
/* Query parameter of the request, or NULL. */
const char *testsrv_query(const struct testsrv_request *req, const char *key);

#endif
