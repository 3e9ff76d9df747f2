/*
 * httpc.h - the one HTTP client in capstan, over libcurl.
 *
 * Every component talks to the API server through this module. One struct
 * httpc owns one curl easy handle, so consecutive requests reuse the same
 * TCP (later TLS) connection: keep-alive comes from curl's per-handle
 * connection cache. A handle is used by one thread at a time; a component
 * that needs parallel streams (one watch per informer) creates one handle
 * per stream with httpc_new(), which is cheap.
 *
 * Two ways to receive a body:
 *   httpc_do()            buffers it (bounded by HTTPC_MAX_BODY);
 *   httpc_stream_lines()  hands each newline-terminated line to a callback
 *                         as it arrives: the framing of Kubernetes watch
 *                         streams (one JSON object per line).
 *
 * httpc_cancel() may be called from any thread. It is sticky: the running
 * transfer ends at once (the socket is shut down, which wakes curl's poll)
 * and later transfers fail with -ECANCELED. That is what a daemon needs to
 * stop a blocked watch without a race between "check flag" and "start the
 * next request".
 */
#ifndef CAPSTAN_HTTPC_H
#define CAPSTAN_HTTPC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "util.h"

/* Largest buffered body and largest single streamed line. */
#define HTTPC_MAX_BODY (512u << 20)
#define HTTPC_MAX_LINE (64u << 20)

struct httpc_config {
	const char *server;	 /* base URL, e.g. "http://127.0.0.1:6443" */
	const char *ca_file;	 /* PEM file to verify the server, or NULL */
	const char *ca_pem;	 /* PEM text instead of ca_file, or NULL */
	const char *cert_file;	 /* client certificate (PEM file), or NULL */
	const char *cert_pem;	 /* ... or PEM text */
	const char *key_file;	 /* client key (PEM file), or NULL */
	const char *key_pem;	 /* ... or PEM text */
	const char *token;	 /* bearer token, or NULL */
	bool insecure;		 /* skip server certificate verification */
	long connect_timeout_ms; /* 0 = 5000 */
	long timeout_ms;	 /* whole request, 0 = 30000; streams have none */
	const char *user_agent;	 /* NULL = "capstan" */
};

struct httpc_request {
	const char *method;	  /* NULL = "GET" */
	const char *path;	  /* path and query, e.g. "/api/v1/pods?limit=500" */
	const char *accept;	  /* NULL = "application/json" */
	const char *content_type; /* of body; NULL = "application/json" when body set */
	const void *body;
	size_t body_len;
	long timeout_ms; /* 0 = the client's default; -1 = no limit */
};

struct httpc_response {
	long status;	 /* HTTP status code */
	struct buf body; /* whole body (httpc_do) or error body (streams) */
	char content_type[128];
};

struct httpc;
struct kubeconfig;

/*
 * Fill cfg from a loaded kubeconfig (server, CA, client cert/key, token,
 * insecure flag). The strings stay owned by kc: keep kc alive while cfg is
 * used, or until httpc_new()/informer_new() have copied them.
 */
void httpc_config_from_kubeconfig(struct httpc_config *cfg, const struct kubeconfig *kc);

/* Copies the configuration. NULL when cfg->server is missing or not http(s). */
struct httpc *httpc_new(const struct httpc_config *cfg);
void httpc_free(struct httpc *c);

/*
 * Perform one request and buffer the response.
 * Returns 0 when a response was received (whatever its status; see
 * resp->status), -ECANCELED after httpc_cancel(), -ECONNREFUSED, -ETIMEDOUT,
 * -EHOSTUNREACH, -EPROTO (TLS), -EFBIG (body over HTTPC_MAX_BODY), -EINVAL
 * (bad request), -EIO (other transport errors; see httpc_error()).
 * resp is always initialised and must be released with httpc_response_free.
 */
int httpc_do(struct httpc *c, const struct httpc_request *req, struct httpc_response *resp);

/*
 * JSON convenience: send body (may be NULL) as JSON, parse the answer.
 * Returns the HTTP status (> 0) or -errno as httpc_do. *out (may be NULL)
 * receives the parsed body, or NULL if it was empty or not JSON.
 */
int httpc_json(struct httpc *c, const char *method, const char *path, const json_t *body,
	       json_t **out);

/*
 * Called for each complete line of a streamed body, without the newline.
 * Return 0 to continue, anything else to stop the stream (then
 * httpc_stream_lines returns -ECANCELED).
 */
typedef int (*httpc_line_fn)(void *ctx, const char *line, size_t len);

/*
 * GET path with no overall time limit and hand each line of a 2xx body to fn.
 * A non-2xx body is not streamed: it is buffered into resp->body.
 * Returns 0 when the server ended the body, -ECANCELED when fn or
 * httpc_cancel() stopped it, -E2BIG for a line over HTTPC_MAX_LINE, or a
 * transport error as httpc_do. A final line without a newline is delivered.
 */
int httpc_stream_lines(struct httpc *c, const char *path, httpc_line_fn fn, void *ctx,
		       struct httpc_response *resp);

/* From any thread: end the current transfer and fail later ones (sticky). */
void httpc_cancel(struct httpc *c);
bool httpc_cancelled(struct httpc *c);

/* Text of the last transport error ("" if none). */
const char *httpc_error(const struct httpc *c);

void httpc_response_free(struct httpc_response *resp);

/* Percent-encode s for a query string value; the result is malloc'd. */
char *httpc_escape(const char *s);

#endif
