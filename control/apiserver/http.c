/*
 * http.c - see http.h.
 *
 * libmicrohttpd calls the access handler several times per request: once
 * with the headers, then once per piece of body, then once with no data.
 * The first call allocates struct api_req and checks Content-Length against
 * the limit, so a too-large body is refused before it is read; the last
 * call dispatches. Watch streams are chunked responses whose reader
 * callback blocks in this connection's own thread.
 */
#include "control/apiserver/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/apiserver/server.h"
#include "control/apiserver/status.h"
#include "log.h"

/* Split path into at most max segments (modifies the copy in buf). */
static int split_path(char *buf, char **seg, int max)
{
	char *save = NULL;
	int n = 0;

	/* strtok_r: requests are parsed on many connection threads at once. */
	for (char *p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		if (n == max)
			return -1;
		seg[n++] = p;
	}
	return n;
}

static bool copy_seg(char *dst, size_t len, const char *src)
{
	if (strlen(src) >= len)
		return false;
	strcpy(dst, src);
	return true;
}

/* rest = segments after the group version: [namespaces/NS/]RES[/NAME[/SUB]]. */
static bool parse_resource(char **seg, int n, struct route *rt)
{
	rt->kind = ROUTE_RESOURCE;
	if (n >= 3 && strcmp(seg[0], "namespaces") == 0 &&
	    !(n == 3 && (strcmp(seg[2], "status") == 0 || strcmp(seg[2], "finalize") == 0))) {
		if (!copy_seg(rt->ns, sizeof(rt->ns), seg[1]))
			return false;
		seg += 2;
		n -= 2;
	}
	if (n < 1 || n > 3)
		return false;
	if (!copy_seg(rt->resource, sizeof(rt->resource), seg[0]))
		return false;
	if (n >= 2 && !copy_seg(rt->name, sizeof(rt->name), seg[1]))
		return false;
	if (n == 3 && !copy_seg(rt->sub, sizeof(rt->sub), seg[2]))
		return false;
	rt->res = registry_find(rt->group, rt->version, rt->resource);
	return true;
}

bool route_parse(const char *path, struct route *rt)
{
	char buf[1024];
	char *seg[12];
	int n;

	memset(rt, 0, sizeof(*rt));
	if (strlen(path) >= sizeof(buf))
		return false;
	strcpy(buf, path);
	n = split_path(buf, seg, 12);
	if (n <= 0)
		return false;

	if (strcmp(seg[0], "version") == 0 && n == 1) {
		rt->kind = ROUTE_VERSION;
		return true;
	}
	if (strcmp(seg[0], "healthz") == 0 || strcmp(seg[0], "livez") == 0 ||
	    strcmp(seg[0], "readyz") == 0) {
		rt->kind = ROUTE_HEALTH;
		return true;
	}
	if (strcmp(seg[0], "openapi") == 0) {
		if (n == 2 && strcmp(seg[1], "v2") == 0) {
			rt->kind = ROUTE_OPENAPI_V2;
			return true;
		}
		if (n < 2 || strcmp(seg[1], "v3") != 0)
			return false;
		if (n == 2) {
			rt->kind = ROUTE_OPENAPI_V3;
			return true;
		}
		rt->kind = ROUTE_OPENAPI_V3_GV;
		if (n == 4 && strcmp(seg[2], "api") == 0)
			return copy_seg(rt->version, sizeof(rt->version), seg[3]);
		if (n == 5 && strcmp(seg[2], "apis") == 0)
			return copy_seg(rt->group, sizeof(rt->group), seg[3]) &&
			       copy_seg(rt->version, sizeof(rt->version), seg[4]);
		return false;
	}
	if (strcmp(seg[0], "api") == 0) {
		if (n == 1) {
			rt->kind = ROUTE_API;
			return true;
		}
		if (!copy_seg(rt->version, sizeof(rt->version), seg[1]))
			return false;
		if (n == 2) {
			rt->kind = ROUTE_GROUP_VERSION;
			return true;
		}
		return parse_resource(seg + 2, n - 2, rt);
	}
	if (strcmp(seg[0], "apis") == 0) {
		if (n == 1) {
			rt->kind = ROUTE_APIS;
			return true;
		}
		if (!copy_seg(rt->group, sizeof(rt->group), seg[1]))
			return false;
		if (n == 2) {
			rt->kind = ROUTE_GROUP;
			return true;
		}
		if (!copy_seg(rt->version, sizeof(rt->version), seg[2]))
			return false;
		if (n == 3) {
			rt->kind = ROUTE_GROUP_VERSION;
			return true;
		}
		return parse_resource(seg + 3, n - 3, rt);
	}
	return false;
}

const char *api_query(const struct api_req *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *api_header(const struct api_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void api_reply_raw(struct api_req *req, unsigned status, const char *type, char *body,
		   size_t len)
{
	free(req->reply);
	req->status = status;
	req->reply = body;
	req->reply_len = len;
	req->reply_type = type;
}

void api_reply_json(struct api_req *req, unsigned status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);

	json_decref(body);
	if (!text)
		abort();
	api_reply_raw(req, status, "application/json", text, strlen(text));
}

void api_reply_status(struct api_req *req, json_t *status)
{
	json_int_t code = json_integer_value(json_object_get(status, "code"));

	api_reply_json(req, code ? (unsigned)code : 200, status);
}

void api_stream(struct api_req *req, unsigned status, const char *type,
		MHD_ContentReaderCallback fn, void *ctx, MHD_ContentReaderFreeCallback free_fn)
{
	req->status = status;
	req->reply_type = type;
	req->stream_fn = fn;
	req->stream_ctx = ctx;
	req->stream_free = free_fn;
}

void api_warn(struct api_req *req, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* Warning: 299 - "text" (quotes and backslashes escaped). */
	buf_appendf(&req->warnings, "299 - \"");
	for (const char *p = text; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_append(&req->warnings, "\\", 1);
		buf_append(&req->warnings, p, 1);
	}
	buf_append(&req->warnings, "\"", 2);	/* with the NUL separator */
}

static void req_free(struct api_req *req)
{
	buf_free(&req->body);
	buf_free(&req->warnings);
	free(req->reply);
	free((char *)req->path);
	free(req);
}

static enum MHD_Result send_reply(struct api_req *req)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (req->stream_fn) {
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, req->stream_fn,
						      req->stream_ctx, req->stream_free);
		req->stream_fn = NULL;
	} else {
		r = MHD_create_response_from_buffer(req->reply_len, req->reply,
						    MHD_RESPMEM_MUST_FREE);
		req->reply = NULL;
	}
	if (!r)
		return MHD_NO;
	if (req->reply_type)
		MHD_add_response_header(r, "Content-Type", req->reply_type);
	MHD_add_response_header(r, "Cache-Control", "no-cache, private");
	for (size_t off = 0; off < req->warnings.len;) {
		const char *w = req->warnings.data + off;

		MHD_add_response_header(r, "Warning", w);
		off += strlen(w) + 1;
	}
	ret = MHD_queue_response(req->conn, req->status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Rebuild the query string for the request log ("?a=b&c=d", unescaped). */
static enum MHD_Result append_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	struct buf *q = cls;

	buf_appendf(q, "%c%s%s%s", q->len ? '&' : '?', key, value ? "=" : "",
		    value ? value : "");
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	struct apiserver *srv = cls;
	struct api_req *req = *con_cls;
	size_t limit = srv->cfg.max_body;

	if (!req) {
		const char *cl;

		req = xcalloc(1, sizeof(*req));
		req->srv = srv;
		req->conn = conn;
		req->method = method;
		req->path = xstrdup(url);
		req->start_ns = now_mono_ns();
		*con_cls = req;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > limit) {
			api_reply_status(req, status_failure(REASON_REQUEST_TOO_LARGE, NULL, NULL,
							     NULL,
							     "Request entity too large: limit is %zu",
							     limit));
			return send_reply(req);
		}
		return MHD_YES;
	}
	if (*data_size) {
		if (req->status) {	/* already refused: drop the rest */
			*data_size = 0;
			return MHD_YES;
		}
		if (req->body.len + *data_size > limit) {
			api_reply_status(req, status_failure(REASON_REQUEST_TOO_LARGE, NULL, NULL,
							     NULL,
							     "Request entity too large: limit is %zu",
							     limit));
			*data_size = 0;
			return send_reply(req);
		}
		buf_append(&req->body, data, *data_size);
		*data_size = 0;
		return MHD_YES;
	}
	if (req->status)
		return MHD_YES;	/* reply already queued */
	if (!req->body.data)
		buf_append(&req->body, "", 0);
	if (!route_parse(url, &req->route))
		api_reply_status(req, status_failure(REASON_NOT_FOUND, NULL, NULL, NULL,
						     "the server could not find the requested "
						     "resource"));
	else
		api_dispatch(req);
	if (!req->status)
		api_reply_status(req, status_failure(REASON_INTERNAL_ERROR, NULL, NULL, NULL,
						     "no reply for %s %s", method, url));
	if (log_enabled(LOG_LVL_DEBUG)) {
		struct buf q = { 0 };

		MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, append_arg, &q);
		log_debug("%s %s%s -> %u (%.1f ms)", method, url, q.data ? q.data : "",
			  req->status, (now_mono_ns() - req->start_ns) / 1e6);
		buf_free(&q);
	}
	return send_reply(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct api_req *req = *con_cls;

	if (req) {
		if (req->stream_fn && req->stream_free)
			req->stream_free(req->stream_ctx);	/* never handed to MHD */
		req_free(req);
		*con_cls = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_debug("microhttpd: %s", msg);
}

int http_start(struct apiserver *srv, char *err, size_t errlen)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(srv->port) };
	const union MHD_DaemonInfo *info;

	if (inet_pton(AF_INET, srv->listen_host, &addr.sin_addr) != 1) {
		snprintf(err, errlen, "--listen: '%s' is not an IPv4 address", srv->listen_host);
		return -EINVAL;
	}
	srv->mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED,
		on_completed, srv,
		/* Watches end by their own timeoutSeconds (at most an hour). */
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)3700, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)4096, MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1 << 20),
		MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
	if (!srv->mhd) {
		snprintf(err, errlen, "cannot listen on %s:%u", srv->listen_host, srv->port);
		return -EADDRINUSE;
	}
	info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
	if (info)
		srv->port = info->port;
	snprintf(srv->url, sizeof(srv->url), "http://%s:%u", srv->listen_host, srv->port);
	return 0;
}

void http_stop(struct apiserver *srv)
{
	if (srv->mhd) {
		MHD_stop_daemon(srv->mhd);
		srv->mhd = NULL;
	}
}
