/* Unit tests for lib/httpc against a live HTTP server on loopback. */
#include "test.h"
#include "httpc.h"
#include "kubeconfig.h"
#include "testsrv.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

/* What the echo handler saw last. */
struct seen {
	char method[16];
	char url[128];
	char content_type[64];
	char accept[128];
	char auth[128];
	char body[256];
	char query_name[64];
};

static const char *hdr(struct MHD_Connection *conn, const char *name)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);

	return v ? v : "";
}

static enum MHD_Result echo_handler(void *ctx, const struct testsrv_request *req)
{
	struct seen *seen = ctx;
	const char *q = testsrv_query(req, "name");

	snprintf(seen->method, sizeof(seen->method), "%s", req->method);
	snprintf(seen->url, sizeof(seen->url), "%s", req->url);
	snprintf(seen->content_type, sizeof(seen->content_type), "%s",
		 hdr(req->conn, "Content-Type"));
	snprintf(seen->accept, sizeof(seen->accept), "%s", hdr(req->conn, "Accept"));
	snprintf(seen->auth, sizeof(seen->auth), "%s", hdr(req->conn, "Authorization"));
	snprintf(seen->body, sizeof(seen->body), "%s", req->body);
	snprintf(seen->query_name, sizeof(seen->query_name), "%s", q ? q : "");

	if (strcmp(req->url, "/missing") == 0)
		return testsrv_reply(req->conn, 404, "application/json",
				     "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"code\":404}");
	if (strcmp(req->url, "/slow") == 0) {
		usleep(800 * 1000);
		return testsrv_reply(req->conn, 200, "text/plain", "late");
	}
	char body[512];
	snprintf(body, sizeof(body), "{\"method\":\"%s\",\"len\":%zu}", req->method, req->body_len);
	return testsrv_reply(req->conn, 200, "application/json", body);
}

static struct httpc *client_for(struct testsrv *srv, const char *token)
{
	struct httpc_config cfg = { .server = testsrv_url(srv), .token = token };
	struct httpc *c = httpc_new(&cfg);

	ASSERT_NOT_NULL(c);
	return c;
}

TEST(httpc_get_json_and_headers)
{
	struct seen seen = { 0 };
	struct testsrv *srv = testsrv_start(echo_handler, &seen);
	struct httpc *c;
	json_t *out = NULL;

	ASSERT_NOT_NULL(srv);
	c = client_for(srv, "s3cret");
	ASSERT_EQ(httpc_json(c, "GET", "/api/v1/pods?name=a%20b", NULL, &out), 200);
	ASSERT_NOT_NULL(out);
	ASSERT_STREQ(json_string_value(json_object_get(out, "method")), "GET");
	ASSERT_STREQ(seen.url, "/api/v1/pods");
	ASSERT_STREQ(seen.query_name, "a b");
	ASSERT_STREQ(seen.accept, "application/json");
	ASSERT_STREQ(seen.auth, "Bearer s3cret");
	json_decref(out);

	/* An error status is a response, not a transport error. */
	ASSERT_EQ(httpc_json(c, "GET", "/missing", NULL, &out), 404);
	ASSERT_STREQ(json_string_value(json_object_get(out, "reason")), "NotFound");
	json_decref(out);
	httpc_free(c);
	testsrv_stop(srv);
}

TEST(httpc_methods_send_bodies)
{
	static const char *const methods[] = { "POST", "PUT", "PATCH", "DELETE" };
	struct seen seen = { 0 };
	struct testsrv *srv = testsrv_start(echo_handler, &seen);
	struct httpc *c = client_for(srv, NULL);
	json_t *body = json_pack("{s:s}", "kind", "Pod");

	for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
		json_t *out = NULL;

		ASSERT_EQ(httpc_json(c, methods[i], "/x", body, &out), 200);
		ASSERT_STREQ(seen.method, methods[i]);
		ASSERT_STREQ(seen.body, "{\"kind\":\"Pod\"}");
		ASSERT_STREQ(seen.content_type, "application/json");
		ASSERT_STREQ(seen.auth, "");
		json_decref(out);
	}
	/* A GET after bodies is a plain GET again (no stale POSTFIELDS). */
	json_t *out = NULL;
	ASSERT_EQ(httpc_json(c, "GET", "/x", NULL, &out), 200);
	ASSERT_STREQ(seen.method, "GET");
	ASSERT_EQ(json_integer_value(json_object_get(out, "len")), 0);
	json_decref(out);
	/* POST without a body sends an empty one. */
	ASSERT_EQ(httpc_json(c, "POST", "/x", NULL, &out), 200);
	ASSERT_STREQ(seen.method, "POST");
	json_decref(out);

	/* Raw request with another content type and Accept. */
	struct httpc_request req = { .method = "PATCH",
				     .path = "/y",
				     .accept = "application/json;as=Table;v=v1;g=meta.k8s.io",
				     .content_type = "application/merge-patch+json",
				     .body = "{\"a\":1}",
				     .body_len = 7 };
	struct httpc_response resp;
	ASSERT_OK(httpc_do(c, &req, &resp));
	ASSERT_EQ(resp.status, 200);
	ASSERT_STREQ(resp.content_type, "application/json");
	ASSERT_STREQ(seen.content_type, "application/merge-patch+json");
	ASSERT_STREQ(seen.accept, "application/json;as=Table;v=v1;g=meta.k8s.io");
	ASSERT_STREQ(seen.body, "{\"a\":1}");
	httpc_response_free(&resp);

	json_decref(body);
	httpc_free(c);
	testsrv_stop(srv);
}

TEST(httpc_keeps_the_connection_alive)
{
	struct seen seen = { 0 };
	struct testsrv *srv = testsrv_start(echo_handler, &seen);
	struct httpc *c = client_for(srv, NULL);

	for (int i = 0; i < 25; i++) {
		json_t *out = NULL;

		ASSERT_EQ(httpc_json(c, i % 2 ? "PUT" : "GET", "/k", NULL, &out), 200);
		json_decref(out);
	}
	ASSERT_EQ(testsrv_connections(srv), 1);
	/* A second client is a second connection: the counter does count. */
	struct httpc *c2 = client_for(srv, NULL);
	ASSERT_EQ(httpc_json(c2, "GET", "/k", NULL, NULL), 200);
	ASSERT_EQ(testsrv_connections(srv), 2);
	httpc_free(c2);
	httpc_free(c);
	testsrv_stop(srv);
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ASSERT(fd >= 0);
	ASSERT_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_OK(getsockname(fd, (struct sockaddr *)&a, &len));
	close(fd);
	return ntohs(a.sin_port);
}

TEST(httpc_transport_errors)
{
	char url[64];
	struct httpc_config cfg = { .server = url };
	struct httpc *c;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", free_port());
	c = httpc_new(&cfg);
	ASSERT_NOT_NULL(c);
	ASSERT_EQ(httpc_json(c, "GET", "/x", NULL, NULL), -ECONNREFUSED);
	ASSERT(httpc_error(c)[0] != '\0');
	ASSERT_EQ(httpc_json(c, "GET", "no-slash", NULL, NULL), -EINVAL);
	httpc_free(c);

	/* Only http and https servers are accepted. */
	cfg.server = "ftp://127.0.0.1";
	ASSERT_NULL(httpc_new(&cfg));
	cfg.server = NULL;
	ASSERT_NULL(httpc_new(&cfg));
}

TEST(httpc_request_timeout)
{
	struct seen seen = { 0 };
	struct testsrv *srv = testsrv_start(echo_handler, &seen);
	struct httpc *c = client_for(srv, NULL);
	struct httpc_request req = { .path = "/slow", .timeout_ms = 200 };
	struct httpc_response resp;

	ASSERT_EQ(httpc_do(c, &req, &resp), -ETIMEDOUT);
	httpc_response_free(&resp);
	httpc_free(c);
	testsrv_stop(srv);
}

/*
 * Streaming server: sends the lines queued by the test, one chunk each, and
 * blocks in between. The client's line callback queues the next line only
 * after it received the previous one, so the test deadlocks (and times out)
 * unless lines are delivered as they arrive.
 */
struct stream {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char queue[16][128];
	int head, tail;
	int closed; /* end the body after the queue drains */
	int status; /* HTTP status to answer */
	const char *error_body;
};

static void stream_push(struct stream *st, const char *s)
{
	pthread_mutex_lock(&st->lock);
	snprintf(st->queue[st->tail++ % 16], 128, "%s", s);
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
}

/* End the body once the queue drains. */
static void stream_close(struct stream *st)
{
	pthread_mutex_lock(&st->lock);
	st->closed = 1;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	ssize_t n = 0;

	pthread_mutex_lock(&st->lock);
	while (st->head == st->tail && !st->closed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&st->cond, &st->lock, &ts);
	}
	if (st->head != st->tail) {
		const char *s = st->queue[st->head++ % 16];

		n = strlen(s) < max ? strlen(s) : max;
		memcpy(buf, s, n);
	} else {
		n = MHD_CONTENT_READER_END_OF_STREAM;
	}
	pthread_mutex_unlock(&st->lock);
	return n;
}

static enum MHD_Result stream_handler(void *ctx, const struct testsrv_request *req)
{
	struct stream *st = ctx;
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (st->status != 200)
		return testsrv_reply(req->conn, st->status, "application/json", st->error_body);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, stream_reader, st, NULL);
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(req->conn, 200, r);
	MHD_destroy_response(r);
	return ret;
}

struct collected {
	struct stream *st;
	char lines[8][128];
	int n;
	int stop_after;
};

static int collect_line(void *ctx, const char *line, size_t len)
{
	struct collected *col = ctx;

	ASSERT(col->n < 8);
	snprintf(col->lines[col->n], 128, "%.*s", (int)len, line);
	col->n++;
	if (col->stop_after && col->n == col->stop_after)
		return 1;
	/* Only now may the server send more. */
	if (col->n == 1)
		stream_push(col->st, "{\"n\":2}\r\n{\"n\":");
	else if (col->n == 2)
		stream_push(col->st, "3}\n");
	else if (col->n == 3) {
		stream_push(col->st, "{\"n\":4}"); /* no final newline */
		stream_close(col->st);
	}
	return 0;
}

static struct stream *stream_new(void)
{
	struct stream *st = xcalloc(1, sizeof(*st));

	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->cond, NULL);
	st->status = 200;
	return st;
}

TEST(httpc_stream_delivers_lines_as_they_arrive)
{
	struct stream *st = stream_new();
	struct testsrv *srv = testsrv_start(stream_handler, st);
	struct httpc *c = client_for(srv, NULL);
	struct collected col = { .st = st };
	struct httpc_response resp;

	stream_push(st, "{\"n\":1}\n");
	ASSERT_OK(httpc_stream_lines(c, "/watch", collect_line, &col, &resp));
	ASSERT_EQ(resp.status, 200);
	ASSERT_EQ(col.n, 4);
	ASSERT_STREQ(col.lines[0], "{\"n\":1}");
	ASSERT_STREQ(col.lines[1], "{\"n\":2}"); /* CR stripped */
	ASSERT_STREQ(col.lines[2], "{\"n\":3}"); /* joined across chunks */
	ASSERT_STREQ(col.lines[3], "{\"n\":4}"); /* unterminated last line */
	httpc_response_free(&resp);
	httpc_free(c);
	testsrv_stop(srv);
	free(st);
}

TEST(httpc_stream_error_status_is_buffered)
{
	struct stream *st = stream_new();
	struct testsrv *srv;
	struct httpc *c;
	struct collected col = { .st = st };
	struct httpc_response resp;

	st->status = 410;
	st->error_body = "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}\n";
	srv = testsrv_start(stream_handler, st);
	c = client_for(srv, NULL);
	ASSERT_OK(httpc_stream_lines(c, "/watch", collect_line, &col, &resp));
	ASSERT_EQ(resp.status, 410);
	ASSERT_EQ(col.n, 0);
	ASSERT(strstr(resp.body.data, "Expired") != NULL);
	httpc_response_free(&resp);
	httpc_free(c);
	testsrv_stop(srv);
	free(st);
}

TEST(httpc_stream_stopped_by_callback)
{
	struct stream *st = stream_new();
	struct testsrv *srv = testsrv_start(stream_handler, st);
	struct httpc *c = client_for(srv, NULL);
	struct collected col = { .st = st, .stop_after = 2 };
	struct httpc_response resp;

	stream_push(st, "{\"n\":1}\n");
	ASSERT_EQ(httpc_stream_lines(c, "/watch", collect_line, &col, &resp), -ECANCELED);
	ASSERT_EQ(col.n, 2);
	httpc_response_free(&resp);
	httpc_free(c);
	stream_close(st);
	testsrv_stop(srv);
	free(st);
}

static void *cancel_later(void *arg)
{
	usleep(200 * 1000);
	httpc_cancel(arg);
	return NULL;
}

static int count_line(void *ctx, const char *line, size_t len)
{
	(*(int *)ctx)++;
	return 0;
}

TEST(httpc_cancel_ends_a_blocked_stream_and_sticks)
{
	struct stream *st = stream_new();
	struct testsrv *srv = testsrv_start(stream_handler, st);
	struct httpc *c = client_for(srv, NULL);
	struct httpc_response resp;
	pthread_t th;
	int lines = 0;
	uint64_t start = now_mono_ns();

	stream_push(st, "{\"n\":1}\n");
	ASSERT_OK(pthread_create(&th, NULL, cancel_later, c));
	ASSERT_EQ(httpc_stream_lines(c, "/watch", count_line, &lines, &resp), -ECANCELED);
	pthread_join(th, NULL);
	ASSERT_EQ(lines, 1);
	/* Socket shutdown wakes curl at once; the 1 s progress tick is not needed. */
	ASSERT_MSG(now_mono_ns() - start < 900ull * 1000 * 1000, "cancel took %llu ms",
		   (unsigned long long)(now_mono_ns() - start) / 1000000);
	httpc_response_free(&resp);
	ASSERT(httpc_cancelled(c));
	ASSERT_EQ(httpc_json(c, "GET", "/x", NULL, NULL), -ECANCELED);
	httpc_free(c);
	stream_close(st);
	testsrv_stop(srv);
	free(st);
}

TEST(httpc_escape_query_values)
{
	char *e = httpc_escape("app in (a,b),tier!=x");

	ASSERT_STREQ(e, "app%20in%20%28a%2Cb%29%2Ctier%21%3Dx");
	free(e);
}

TEST(httpc_uses_a_loaded_kubeconfig)
{
	struct seen seen = { 0 };
	struct testsrv *srv = testsrv_start(echo_handler, &seen);
	char path[512], err[256];
	struct kubeconfig *kc = NULL;
	struct httpc_config cfg;
	struct httpc *c;

	snprintf(path, sizeof(path), "%s/kubeconfig", test_tmpdir());
	ASSERT_OK(kubeconfig_write(path, testsrv_url(srv), NULL, NULL, NULL, "tok-123"));
	ASSERT_OK(kubeconfig_load(path, NULL, &kc, err, sizeof(err)));
	httpc_config_from_kubeconfig(&cfg, kc);
	c = httpc_new(&cfg);
	kubeconfig_free(kc); /* httpc_new copied what it needs */
	ASSERT_NOT_NULL(c);
	ASSERT_EQ(httpc_json(c, "GET", "/version", NULL, NULL), 200);
	ASSERT_STREQ(seen.auth, "Bearer tok-123");
	ASSERT_STREQ(seen.url, "/version");
	httpc_free(c);
	testsrv_stop(srv);
}
