/*
 * Unit tests for agent/kubelet/grpc.c and cri.c against an in-test gRPC
 * server: an nghttp2 server session per connection (h2c prior knowledge)
 * on a unix socket in the test's scratch directory, one thread per
 * connection so that a delayed answer on one stream holds up nothing else.
 *
 * The server's behaviour is chosen by the request path (/t.T/<Mode>), so
 * each test states what the wire looks like: split DATA frames, error
 * trailers, trailers-only answers, silence, oversized or malformed answers,
 * a dropped connection, and a few CRI methods for the typed wrappers.
 */
#include "test.h"
#include "util.h"

#include "agent/kubelet/cri.h"
#include "agent/kubelet/grpc.h"

#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ------------------------------------------------------------ the test server */

struct srv_req {
	int32_t id;
	char path[128];
	struct buf hdrs; /* "name: value\n" lines */
	struct buf body; /* request DATA as received */
	struct buf out;	 /* response DATA to send */
	size_t out_off;
	size_t chunk;		    /* bytes per DATA frame, 0 = as many as fit */
	const char *trailer_status; /* NULL: END_STREAM on the last DATA frame */
	const char *trailer_message;
	uint64_t respond_at; /* monotonic ns; 0 = not scheduled */
	struct srv_req *next;
};

struct srv;

struct srv_conn {
	struct srv *srv;
	int fd;
	pthread_t thread;
	nghttp2_session *sess;
	struct srv_req *reqs;
	bool close_now;
	struct srv_conn *next;
};

struct srv {
	char path[108];
	int lfd;
	int stop[2]; /* a pipe: readable once the server stops */
	pthread_t acceptor;
	pthread_mutex_t lock;
	struct srv_conn *conns;
	int requests;
	int shut; /* connections this server has shut down */
	char last_headers[4096];
	uint8_t last_body[64];
	size_t last_body_len;
};

static void srv_req_free(struct srv_req *r)
{
	buf_free(&r->hdrs);
	buf_free(&r->body);
	buf_free(&r->out);
	free(r);
}

static ssize_t srv_read_body(nghttp2_session *sess, int32_t id, uint8_t *buf, size_t len,
			     uint32_t *flags, nghttp2_data_source *src, void *user)
{
	struct srv_req *r = src->ptr;
	size_t n = MIN(len, r->out.len - r->out_off);

	if (r->chunk)
		n = MIN(n, r->chunk);
	if (n)
		memcpy(buf, r->out.data + r->out_off, n);
	r->out_off += n;
	if (r->out_off == r->out.len) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (r->trailer_status) {
			nghttp2_nv t[2];
			size_t nt = 0;

			t[nt++] = (nghttp2_nv){ (uint8_t *)"grpc-status",
						(uint8_t *)r->trailer_status, 11,
						strlen(r->trailer_status), 0 };
			if (r->trailer_message)
				t[nt++] = (nghttp2_nv){ (uint8_t *)"grpc-message",
							(uint8_t *)r->trailer_message, 12,
							strlen(r->trailer_message), 0 };
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
			nghttp2_submit_trailer(sess, id, t, nt);
		}
	}
	return (ssize_t)n;
}

#define NV(n, v) ((nghttp2_nv){ (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), 0 })

static void frame_msg(struct buf *b, uint8_t flag, uint32_t declared, const void *msg, size_t len)
{
	uint8_t p[5] = { flag, declared >> 24, declared >> 16, declared >> 8, declared };

	buf_append(b, p, 5);
	buf_append(b, msg, len);
}

/* Start the answer: headers, then r->out as DATA, then the trailers. */
static void srv_send(struct srv_conn *sc, struct srv_req *r, const char *status, const char *ctype)
{
	nghttp2_nv h[2] = { NV(":status", status), NV("content-type", ctype) };
	nghttp2_data_provider dp = { .source.ptr = r, .read_callback = srv_read_body };

	nghttp2_submit_response(sc->sess, r->id, h, 2, &dp);
}

static void srv_answer_cri(struct srv_conn *sc, struct srv_req *r)
{
	const uint8_t *msg = (const uint8_t *)r->body.data + 5;
	size_t len = r->body.len >= 5 ? r->body.len - 5 : 0;

	if (strcmp(r->path, "/runtime.v1.RuntimeService/Version") == 0) {
		Runtime__V1__VersionRequest *q =
			runtime__v1__version_request__unpack(NULL, len, msg);
		Runtime__V1__VersionResponse a = RUNTIME__V1__VERSION_RESPONSE__INIT;
		uint8_t out[256];
		size_t n;

		a.version = q ? q->version : "?";
		a.runtime_name = "fake";
		a.runtime_version = "1.2.3";
		a.runtime_api_version = "v1";
		n = runtime__v1__version_response__pack(&a, out);
		frame_msg(&r->out, 0, n, out, n);
		runtime__v1__version_request__free_unpacked(q, NULL);
		r->trailer_status = "0";
	} else if (strcmp(r->path, "/runtime.v1.RuntimeService/ContainerStatus") == 0) {
		r->trailer_status = "5";
		r->trailer_message = "container \"c1\" not found";
	} else {
		/* ImageStatus: bytes that are no protobuf message (a truncated varint). */
		frame_msg(&r->out, 0, 3, "\x08\xff\xff", 3);
		r->trailer_status = "0";
	}
	srv_send(sc, r, "200", "application/grpc");
}

/* The request is complete: answer it now, later, or never, as its path says. */
static void srv_dispatch(struct srv_conn *sc, struct srv_req *r)
{
	const char *mode = strncmp(r->path, "/t.T/", 5) == 0 ? r->path + 5 : "";
	struct srv *s = sc->srv;
	nghttp2_nv h[4];

	pthread_mutex_lock(&s->lock);
	s->requests++;
	snprintf(s->last_headers, sizeof(s->last_headers), "%s", r->hdrs.data ? r->hdrs.data : "");
	s->last_body_len = MIN(r->body.len, sizeof(s->last_body));
	memcpy(s->last_body, r->body.data, s->last_body_len);
	pthread_mutex_unlock(&s->lock);

	if (strncmp(r->path, "/runtime.v1.", 12) == 0) {
		srv_answer_cri(sc, r);
	} else if (!strcmp(mode, "Echo") || !strcmp(mode, "Split")) {
		buf_append(&r->out, r->body.data, r->body.len);
		r->chunk = !strcmp(mode, "Split") ? 7 : 0;
		r->trailer_status = "0";
		srv_send(sc, r, "200", "application/grpc");
	} else if (!strcmp(mode, "Slow")) {
		buf_append(&r->out, r->body.data, r->body.len);
		r->trailer_status = "0";
		r->respond_at = now_mono_ns() + 1500 * 1000000ull;
	} else if (!strcmp(mode, "Status")) {
		r->trailer_status = "5";
		r->trailer_message = "no such thing: %22x%22 100%25 %zz";
		srv_send(sc, r, "200", "application/grpc");
	} else if (!strcmp(mode, "TrailersOnly")) {
		h[0] = NV(":status", "200");
		h[1] = NV("content-type", "application/grpc");
		h[2] = NV("grpc-status", "9");
		h[3] = NV("grpc-message", "precondition failed");
		nghttp2_submit_response(sc->sess, r->id, h, 4, NULL);
	} else if (!strcmp(mode, "Big")) {
		frame_msg(&r->out, 0, (16u << 20) + 1, "xxxx", 4);
		r->trailer_status = "0";
		srv_send(sc, r, "200", "application/grpc");
	} else if (!strcmp(mode, "Truncated")) {
		frame_msg(&r->out, 0, 10, "abc", 3);
		r->trailer_status = "0";
		srv_send(sc, r, "200", "application/grpc");
	} else if (!strcmp(mode, "Two")) {
		frame_msg(&r->out, 0, 2, "ab", 2);
		frame_msg(&r->out, 0, 2, "cd", 2);
		r->trailer_status = "0";
		srv_send(sc, r, "200", "application/grpc");
	} else if (!strcmp(mode, "Compressed")) {
		frame_msg(&r->out, 1, 2, "ab", 2);
		r->trailer_status = "0";
		srv_send(sc, r, "200", "application/grpc");
	} else if (!strcmp(mode, "Http503")) {
		buf_append(&r->out, "busy", 4);
		srv_send(sc, r, "503", "text/plain");
	} else if (!strcmp(mode, "TextPlain")) {
		frame_msg(&r->out, 0, 2, "ab", 2);
		r->trailer_status = "0";
		srv_send(sc, r, "200", "text/plain");
	} else if (!strcmp(mode, "NoStatus")) {
		frame_msg(&r->out, 0, 2, "ab", 2);
		srv_send(sc, r, "200", "application/grpc");
	} else if (!strcmp(mode, "BadStatus")) {
		r->trailer_status = "OK";
		srv_send(sc, r, "200", "application/grpc");
	} else if (!strcmp(mode, "NoMessage")) {
		r->trailer_status = "0";
		srv_send(sc, r, "200", "application/grpc");
	} else if (!strcmp(mode, "Reset")) {
		nghttp2_submit_rst_stream(sc->sess, NGHTTP2_FLAG_NONE, r->id,
					  NGHTTP2_INTERNAL_ERROR);
	} else if (!strcmp(mode, "Close")) {
		sc->close_now = true;
	} else if (!strcmp(mode, "AnswerClose")) {
		/* The whole answer, then the connection goes at once. */
		buf_append(&r->out, r->body.data, r->body.len);
		r->trailer_status = "0";
		srv_send(sc, r, "200", "application/grpc");
		sc->close_now = true;
	}
	/* Hang: no answer at all. */
}

static struct srv_req *srv_req_of(struct srv_conn *sc, int32_t id)
{
	for (struct srv_req *r = sc->reqs; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

static int srv_on_begin_headers(nghttp2_session *sess, const nghttp2_frame *f, void *user)
{
	struct srv_conn *sc = user;
	struct srv_req *r = xcalloc(1, sizeof(*r));

	r->id = f->hd.stream_id;
	r->next = sc->reqs;
	sc->reqs = r;
	return 0;
}

static int srv_on_header(nghttp2_session *sess, const nghttp2_frame *f, const uint8_t *name,
			 size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
			 void *user)
{
	struct srv_req *r = srv_req_of(user, f->hd.stream_id);

	if (!r)
		return 0;
	buf_appendf(&r->hdrs, "%.*s: %.*s\n", (int)namelen, name, (int)valuelen, value);
	if (namelen == 5 && !memcmp(name, ":path", 5))
		snprintf(r->path, sizeof(r->path), "%.*s", (int)valuelen, value);
	return 0;
}

static int srv_on_data(nghttp2_session *sess, uint8_t flags, int32_t id, const uint8_t *data,
		       size_t len, void *user)
{
	struct srv_req *r = srv_req_of(user, id);

	if (r)
		buf_append(&r->body, data, len);
	return 0;
}

static int srv_on_frame(nghttp2_session *sess, const nghttp2_frame *f, void *user)
{
	struct srv_req *r;

	if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM) && (r = srv_req_of(user, f->hd.stream_id)))
		srv_dispatch(user, r);
	return 0;
}

static int srv_on_close(nghttp2_session *sess, int32_t id, uint32_t code, void *user)
{
	struct srv_conn *sc = user;

	for (struct srv_req **p = &sc->reqs; *p; p = &(*p)->next) {
		if ((*p)->id == id) {
			struct srv_req *r = *p;

			*p = r->next;
			srv_req_free(r);
			break;
		}
	}
	return 0;
}

static bool srv_flush(struct srv_conn *sc)
{
	const uint8_t *p;
	ssize_t n;

	while ((n = nghttp2_session_mem_send(sc->sess, &p)) > 0) {
		while (n > 0) {
			ssize_t w = send(sc->fd, p, n, MSG_NOSIGNAL);

			if (w <= 0)
				return false;
			p += w;
			n -= w;
		}
	}
	return n == 0;
}

static void *srv_conn_main(void *arg)
{
	struct srv_conn *sc = arg;
	nghttp2_session_callbacks *cbs;
	uint8_t in[16384];

	nghttp2_session_callbacks_new(&cbs);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, srv_on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, srv_on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, srv_on_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, srv_on_frame);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, srv_on_close);
	nghttp2_session_server_new(&sc->sess, cbs, sc);
	nghttp2_session_callbacks_del(cbs);
	nghttp2_submit_settings(sc->sess, NGHTTP2_FLAG_NONE, NULL, 0);

	for (;;) {
		struct pollfd p[2] = { { .fd = sc->fd, .events = POLLIN },
				       { .fd = sc->srv->stop[0], .events = POLLIN } };
		uint64_t now = now_mono_ns(), next = 0;
		int timeout = -1;
		ssize_t n;

		for (struct srv_req *r = sc->reqs; r; r = r->next) {
			if (r->respond_at && r->respond_at <= now) {
				r->respond_at = 0;
				srv_send(sc, r, "200", "application/grpc");
			} else if (r->respond_at && (!next || r->respond_at < next)) {
				next = r->respond_at;
			}
		}
		if (next)
			timeout = (int)((next - now) / 1000000) + 1;
		if (!srv_flush(sc) || sc->close_now)
			break;
		if (poll(p, 2, timeout) < 0 || (p[1].revents & POLLIN))
			break;
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = recv(sc->fd, in, sizeof(in), 0);
		if (n <= 0 || nghttp2_session_mem_recv(sc->sess, in, n) < 0)
			break;
	}
	shutdown(sc->fd, SHUT_RDWR);
	pthread_mutex_lock(&sc->srv->lock);
	sc->srv->shut++;
	pthread_mutex_unlock(&sc->srv->lock);
	nghttp2_session_del(sc->sess);
	while (sc->reqs) {
		struct srv_req *r = sc->reqs;

		sc->reqs = r->next;
		srv_req_free(r);
	}
	return NULL;
}

static void *srv_accept_main(void *arg)
{
	struct srv *s = arg;

	for (;;) {
		struct pollfd p[2] = { { .fd = s->lfd, .events = POLLIN },
				       { .fd = s->stop[0], .events = POLLIN } };
		struct srv_conn *sc;
		int fd;

		if (poll(p, 2, -1) < 0 || (p[1].revents & POLLIN))
			return NULL;
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		sc = xcalloc(1, sizeof(*sc));
		sc->srv = s;
		sc->fd = fd;
		pthread_mutex_lock(&s->lock);
		sc->next = s->conns;
		s->conns = sc;
		pthread_mutex_unlock(&s->lock);
		pthread_create(&sc->thread, NULL, srv_conn_main, sc);
	}
}

static struct srv *srv_start(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct srv *s = xcalloc(1, sizeof(*s));

	snprintf(s->path, sizeof(s->path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	pthread_mutex_init(&s->lock, NULL);
	ASSERT_OK(pipe2(s->stop, O_CLOEXEC));
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT(s->lfd >= 0);
	unlink(path);
	ASSERT_OK(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)));
	ASSERT_OK(listen(s->lfd, 64));
	pthread_create(&s->acceptor, NULL, srv_accept_main, s);
	return s;
}

/* Stop accepting, drop every connection (as a runtime restart does), free all. */
static void srv_stop(struct srv *s)
{
	if (!s)
		return;
	ASSERT_EQ(write(s->stop[1], "x", 1), 1);
	pthread_join(s->acceptor, NULL);
	while (s->conns) {
		struct srv_conn *sc = s->conns;

		s->conns = sc->next;
		pthread_join(sc->thread, NULL);
		close(sc->fd);
		free(sc);
	}
	close(s->lfd);
	close(s->stop[0]);
	close(s->stop[1]);
	unlink(s->path);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int srv_requests(struct srv *s)
{
	int n;

	pthread_mutex_lock(&s->lock);
	n = s->requests;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/*
 * Waits (up to two seconds) until the server has shut n connections. A
 * server that answers and then closes does so a moment after the client has
 * the answer; the client's check before reuse can only see a close that has
 * happened, and a request sent just before it is lost, never re-sent.
 */
static void srv_wait_shut(struct srv *s, int n)
{
	for (int i = 0; i < 2000; i++) {
		int shut;

		pthread_mutex_lock(&s->lock);
		shut = s->shut;
		pthread_mutex_unlock(&s->lock);
		if (shut >= n)
			return;
		usleep(1000);
	}
	ASSERT_MSG(false, "the server did not shut %d connections in 2 s", n);
}

/* ------------------------------------------------------------ fixtures */

static struct srv *server;
static struct grpc_client *client;

static void teardown(void)
{
	grpc_close(client);
	client = NULL;
	srv_stop(server);
	server = NULL;
}

static const char *sock_path(void)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/grpc.sock", test_tmpdir());
	return path;
}

static void setup(void)
{
	char err[256];

	server = srv_start(sock_path());
	ASSERT_OK(grpc_open(sock_path(), &client, err, sizeof(err)));
	test_defer(teardown);
}

/* A call whose answer must echo msg. */
static void expect_echo(const char *path, const void *msg, size_t len)
{
	char err[256] = "";
	void *resp = NULL;
	size_t resp_len = 0;
	int ret = grpc_call(client, path, msg, len, &resp, &resp_len, 5000, err, sizeof(err));

	ASSERT_MSG(ret == 0, "%s: %d (%s)", path, ret, err);
	ASSERT_EQ(resp_len, len);
	ASSERT(memcmp(resp, msg, len) == 0);
	free(resp);
}

/* A call that must fail with want; returns the error text. */
static const char *expect_fail(const char *path, int want, int timeout_ms)
{
	static char err[256];
	void *resp = NULL;
	size_t resp_len = 0;
	int ret;

	err[0] = '\0';
	ret = grpc_call(client, path, "ping", 4, &resp, &resp_len, timeout_ms, err, sizeof(err));
	ASSERT_MSG(ret == want, "%s: got %d (%s), want %d", path, ret, err, want);
	ASSERT_NULL(resp);
	ASSERT_MSG(err[0] != '\0', "%s: no error message", path);
	return err;
}

static double elapsed_ms(uint64_t since)
{
	return (double)(now_mono_ns() - since) / 1e6;
}

/* ------------------------------------------------------------ grpc tests */

TEST(grpc_echo_sends_grpc_headers_and_framing)
{
	static const uint8_t want_body[] = { 0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o' };

	setup();
	expect_echo("/t.T/Echo", "hello", 5);
	ASSERT(strstr(server->last_headers, ":method: POST\n"));
	ASSERT(strstr(server->last_headers, ":scheme: http\n"));
	ASSERT(strstr(server->last_headers, ":path: /t.T/Echo\n"));
	ASSERT(strstr(server->last_headers, ":authority: localhost\n"));
	ASSERT(strstr(server->last_headers, "content-type: application/grpc\n"));
	ASSERT(strstr(server->last_headers, "te: trailers\n"));
	ASSERT(strstr(server->last_headers, "grpc-timeout: 5000m\n"));
	ASSERT_EQ(server->last_body_len, sizeof(want_body));
	ASSERT(memcmp(server->last_body, want_body, sizeof(want_body)) == 0);
	/* The second call reuses the connection. */
	expect_echo("/t.T/Echo", "again", 5);
	ASSERT_EQ(grpc_dial_count(client), 1);
}

TEST(grpc_answer_split_over_many_data_frames)
{
	char msg[1000];

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)(i * 7);
	setup();
	/* 7-byte frames: the 5-byte prefix itself straddles two frames. */
	expect_echo("/t.T/Split", msg, sizeof(msg));
	expect_echo("/t.T/Split", "x", 1);
}

TEST(grpc_large_messages_both_ways)
{
	size_t len = 4u << 20;
	char *msg = xmalloc(len);

	for (size_t i = 0; i < len; i++)
		msg[i] = (char)(i % 251);
	setup();
	/* Far beyond both sides' flow-control windows. */
	expect_echo("/t.T/Echo", msg, len);
	free(msg);
}

TEST(grpc_empty_message)
{
	char err[256];
	void *resp = NULL;
	size_t len = 99;

	setup();
	ASSERT_OK(grpc_call(client, "/t.T/Echo", NULL, 0, &resp, &len, 1000, err, sizeof(err)));
	ASSERT_NOT_NULL(resp);
	ASSERT_EQ(len, 0);
	free(resp);
}

TEST(grpc_status_error_with_message)
{
	setup();
	/* Percent-decoded; a malformed escape is kept as sent. */
	ASSERT_STREQ(expect_fail("/t.T/Status", 5, 1000), "no such thing: \"x\" 100% %zz");
}

TEST(grpc_trailers_only_error)
{
	setup();
	ASSERT_STREQ(expect_fail("/t.T/TrailersOnly", 9, 1000), "precondition failed");
	/* The connection stays usable. */
	expect_echo("/t.T/Echo", "ok", 2);
	ASSERT_EQ(grpc_dial_count(client), 1);
}

TEST(grpc_timeout_on_silent_server)
{
	uint64_t t0;

	setup();
	t0 = now_mono_ns();
	expect_fail("/t.T/Hang", -ETIMEDOUT, 300);
	ASSERT(elapsed_ms(t0) >= 299 && elapsed_ms(t0) < 2000);
	ASSERT(strstr(server->last_headers, "grpc-timeout: 300m\n"));
	/* The timed-out connection is dropped; the next call dials anew. */
	expect_echo("/t.T/Echo", "after", 5);
	ASSERT_EQ(grpc_dial_count(client), 2);
}

struct worker {
	pthread_t thread;
	bool slow;
	int failures;
	uint64_t done_at;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char err[256], msg[32];

	for (int i = 0; i < (w->slow ? 1 : 20); i++) {
		void *resp = NULL;
		size_t len = 0;
		int n = snprintf(msg, sizeof(msg), "call %d", i);

		if (grpc_call(client, w->slow ? "/t.T/Slow" : "/t.T/Echo", msg, n, &resp, &len,
			      5000, err, sizeof(err)) != 0 ||
		    len != (size_t)n || memcmp(resp, msg, n) != 0)
			w->failures++;
		free(resp);
	}
	w->done_at = now_mono_ns();
	return NULL;
}

TEST(grpc_concurrent_calls_slow_one_blocks_nothing)
{
	struct worker w[8] = { { .slow = true } };
	uint64_t t0;

	setup();
	t0 = now_mono_ns();
	for (int i = 0; i < 8; i++)
		pthread_create(&w[i].thread, NULL, worker_main, &w[i]);
	for (int i = 0; i < 8; i++)
		pthread_join(w[i].thread, NULL);
	for (int i = 0; i < 8; i++)
		ASSERT_MSG(w[i].failures == 0, "worker %d: %d failed calls", i, w[i].failures);
	ASSERT_MSG((double)(w[0].done_at - t0) / 1e6 >= 1400, "the slow call was not slow");
	/* 140 short calls all finished while the slow one was still waiting. */
	for (int i = 1; i < 8; i++)
		ASSERT_MSG(w[i].done_at < w[0].done_at, "worker %d waited for the slow call", i);
	ASSERT_EQ(srv_requests(server), 1 + 7 * 20);
}

TEST(grpc_reconnects_after_server_restart)
{
	setup();
	expect_echo("/t.T/Echo", "one", 3);
	ASSERT_EQ(grpc_dial_count(client), 1);

	/* Restart between two calls: the idle connection is found dead and replaced. */
	srv_stop(server);
	server = srv_start(sock_path());
	expect_echo("/t.T/Echo", "two", 3);
	ASSERT_EQ(grpc_dial_count(client), 2);

	/* Down: refused, with the reason. */
	srv_stop(server);
	server = NULL;
	ASSERT(strstr(expect_fail("/t.T/Echo", -ECONNREFUSED, 1000), "grpc.sock"));

	/* Back: the next call dials again. */
	server = srv_start(sock_path());
	expect_echo("/t.T/Echo", "three", 5);
	ASSERT_EQ(grpc_dial_count(client), 4);
}

TEST(grpc_connection_dropped_during_call)
{
	size_t big_len = 700 * 1024;
	char *big = xmalloc(big_len);

	setup();
	expect_fail("/t.T/Close", -ECONNRESET, 2000);
	expect_echo("/t.T/Echo", "fine", 4);
	ASSERT_EQ(grpc_dial_count(client), 2);
	expect_fail("/t.T/Reset", -ECONNRESET, 2000);
	/* An answer followed at once by the close still counts, though the
	 * WINDOW_UPDATE it made us owe can no longer be sent. */
	memset(big, 'b', big_len);
	expect_echo("/t.T/AnswerClose", big, big_len);
	free(big);
	srv_wait_shut(server, 2);
	expect_echo("/t.T/Echo", "fine", 4);
	ASSERT_EQ(grpc_dial_count(client), 3);
}

TEST(grpc_oversized_request_and_answer)
{
	char err[256];
	void *resp = NULL;
	size_t len = 0;
	char *big = xmalloc(GRPC_MAX_MESSAGE + 1);

	setup();
	memset(big, 'a', GRPC_MAX_MESSAGE + 1);
	ASSERT_EQ(grpc_call(client, "/t.T/Echo", big, GRPC_MAX_MESSAGE + 1, &resp, &len, 1000, err,
			    sizeof(err)),
		  -EMSGSIZE);
	free(big);
	ASSERT_EQ(grpc_dial_count(client), 0); /* refused before sending anything */
	/* Refused on the length prefix alone, before 16 MiB is buffered. */
	expect_fail("/t.T/Big", -EMSGSIZE, 2000);
	expect_echo("/t.T/Echo", "still fine", 10);
}

TEST(grpc_malformed_answers)
{
	static const char *const modes[] = {
		"/t.T/Truncated", "/t.T/Two",	   "/t.T/Compressed", "/t.T/Http503",
		"/t.T/TextPlain", "/t.T/NoStatus", "/t.T/BadStatus",  "/t.T/NoMessage",
	};

	setup();
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++)
		expect_fail(modes[i], -EPROTO, 2000);
	ASSERT(strstr(expect_fail("/t.T/Http503", -EPROTO, 2000), "503"));
	expect_echo("/t.T/Echo", "ok", 2);
}

TEST(grpc_bad_arguments)
{
	char err[256], path[200];
	void *resp = NULL;
	size_t len;

	ASSERT_EQ(grpc_open(NULL, &client, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(grpc_open("", &client, err, sizeof(err)), -EINVAL);
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	ASSERT_EQ(grpc_open(path, &client, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "longer"));
	ASSERT_NULL(client);

	setup();
	ASSERT_EQ(grpc_call(client, "t.T/Echo", "x", 1, &resp, &len, 1000, err, sizeof(err)),
		  -EINVAL);
	ASSERT_EQ(grpc_call(client, NULL, "x", 1, &resp, &len, 1000, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(grpc_call(client, "/t.T/Echo", "x", 1, &resp, &len, 0, err, sizeof(err)),
		  -EINVAL);
	ASSERT_EQ(grpc_call(client, "/t.T/Echo", NULL, 3, &resp, &len, 1000, err, sizeof(err)),
		  -EINVAL);
	ASSERT_EQ(grpc_call(client, "/t.T/Echo", "x", 1, NULL, &len, 1000, err, sizeof(err)),
		  -EINVAL);
	/* A NULL error buffer is allowed. */
	ASSERT_EQ(grpc_call(client, "/t.T/Echo", "x", 1, &resp, &len, -5, NULL, 0), -EINVAL);
	ASSERT_NULL(resp);
	ASSERT_EQ(srv_requests(server), 0);
}

/* ------------------------------------------------------------ cri tests */

TEST(cri_open_endpoints)
{
	static const char *const bad[] = { "", "tcp://127.0.0.1:1", "unix://relative.sock",
					   "relative.sock", "npipe:////./pipe/x" };
	struct cri *c = NULL;
	char err[256];

	ASSERT_OK(cri_open("unix:///run/x/containerd.sock", &c, err, sizeof(err)));
	cri_close(c);
	c = NULL;
	ASSERT_OK(cri_open("/run/x/containerd.sock", &c, err, sizeof(err)));
	cri_close(c);
	c = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		ASSERT_MSG(cri_open(bad[i], &c, err, sizeof(err)) == -EINVAL, "accepted %s",
			   bad[i]);
		ASSERT(err[0] != '\0');
	}
	ASSERT_EQ(cri_open(NULL, &c, err, sizeof(err)), -EINVAL);
	ASSERT_NULL(c);
	cri_close(NULL);
}

static struct cri *cri;

static void cri_teardown(void)
{
	cri_close(cri);
	cri = NULL;
}

static void cri_setup(void)
{
	char err[256], ep[300];

	setup();
	snprintf(ep, sizeof(ep), "unix://%s", sock_path());
	ASSERT_OK(cri_open(ep, &cri, err, sizeof(err)));
	test_defer(cri_teardown);
}

TEST(cri_typed_calls_encode_and_decode)
{
	Runtime__V1__VersionRequest vreq = RUNTIME__V1__VERSION_REQUEST__INIT;
	Runtime__V1__VersionResponse *vresp = NULL;
	Runtime__V1__ContainerStatusRequest sreq = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
	Runtime__V1__ContainerStatusResponse *sresp = NULL;
	Runtime__V1__ImageStatusRequest ireq = RUNTIME__V1__IMAGE_STATUS_REQUEST__INIT;
	Runtime__V1__ImageStatusResponse *iresp = NULL;
	char err[256];

	cri_setup();
	vreq.version = "v1";
	ASSERT_OK(cri_version(cri, &vreq, &vresp, err, sizeof(err)));
	ASSERT_STREQ(vresp->version, "v1");
	ASSERT_STREQ(vresp->runtime_name, "fake");
	ASSERT_STREQ(vresp->runtime_version, "1.2.3");
	ASSERT_STREQ(vresp->runtime_api_version, "v1");
	protobuf_c_message_free_unpacked(&vresp->base, NULL);
	ASSERT(strstr(server->last_headers, ":path: /runtime.v1.RuntimeService/Version\n"));
	ASSERT(strstr(server->last_headers, "grpc-timeout: 10000m\n"));

	sreq.container_id = "c1";
	ASSERT_EQ(cri_container_status(cri, &sreq, &sresp, err, sizeof(err)), CRI_NOT_FOUND);
	ASSERT_STREQ(err, "container \"c1\" not found");
	ASSERT_NULL(sresp);

	ASSERT_EQ(cri_image_status(cri, &ireq, &iresp, err, sizeof(err)), -EPROTO);
	ASSERT(strstr(err, "decode"));
	ASSERT_NULL(iresp);
	ASSERT(strstr(server->last_headers, ":path: /runtime.v1.ImageService/ImageStatus\n"));

	ASSERT_EQ(cri_version(cri, NULL, &vresp, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(cri_call(cri, "/runtime.v1.RuntimeService/Version", &vreq.base, NULL,
			   (ProtobufCMessage **)&vresp, 1000, err, sizeof(err)),
		  -EINVAL);
}

TEST(cri_timeouts_follow_the_request)
{
	Runtime__V1__ExecSyncRequest ereq = RUNTIME__V1__EXEC_SYNC_REQUEST__INIT;
	Runtime__V1__ExecSyncResponse *eresp = NULL;
	Runtime__V1__StopContainerRequest sreq = RUNTIME__V1__STOP_CONTAINER_REQUEST__INIT;
	Runtime__V1__StopContainerResponse *sresp = NULL;
	char err[256];

	cri_setup();
	/* The fake answers these paths with undecodable bytes; only the headers matter. */
	ereq.timeout = 5;
	cri_exec_sync(cri, &ereq, &eresp, err, sizeof(err));
	ASSERT(strstr(server->last_headers, "grpc-timeout: 15000m\n"));
	ereq.timeout = 0;
	cri_exec_sync(cri, &ereq, &eresp, err, sizeof(err));
	ASSERT(strstr(server->last_headers, "grpc-timeout: 120000m\n"));
	sreq.timeout = 30;
	cri_stop_container(cri, &sreq, &sresp, err, sizeof(err));
	ASSERT(strstr(server->last_headers, "grpc-timeout: 40000m\n"));
	ASSERT(strstr(server->last_headers, ":path: /runtime.v1.RuntimeService/StopContainer\n"));
	ASSERT_NULL(eresp);
	ASSERT_NULL(sresp);
}

TEST(cri_unreachable_runtime)
{
	Runtime__V1__VersionRequest vreq = RUNTIME__V1__VERSION_REQUEST__INIT;
	Runtime__V1__VersionResponse *vresp = NULL;
	char err[256], ep[300];

	snprintf(ep, sizeof(ep), "unix://%s/nothing.sock", test_tmpdir());
	ASSERT_OK(cri_open(ep, &cri, err, sizeof(err)));
	test_defer(cri_teardown);
	ASSERT_EQ(cri_version(cri, &vreq, &vresp, err, sizeof(err)), -ECONNREFUSED);
	ASSERT(strstr(err, "nothing.sock"));
	ASSERT_NULL(vresp);
}
