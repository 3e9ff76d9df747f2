/*
 * grpc.c - gRPC unary calls over HTTP/2 on a unix socket (see grpc.h).
 *
 * Design. Every call owns one HTTP/2 connection for its duration: it takes
 * an idle one from the client's pool (or dials), submits one stream, and
 * drives the socket itself with poll() against its own deadline until the
 * stream closes; then the connection goes back to the pool (at most
 * GRPC_MAX_IDLE are kept). So calls never wait for each other - a PullImage
 * of two minutes and a ContainerStatus of a millisecond run side by side on
 * two connections - and no thread or lock is shared with nghttp2.
 *
 * Rejected: one multiplexed connection driven by an I/O thread. It saves a
 * few sockets, but needs a thread per client, a hand-off queue, per-call
 * wake-ups and stream cancellation on timeout, and one broken connection
 * fails every call in flight at once. On a local unix socket dialling costs
 * microseconds, and containerd serves each connection's streams
 * concurrently either way.
 *
 * Failure handling. A connection that saw EOF, a socket error, a protocol
 * error, a GOAWAY or a timed-out call is closed rather than returned: on
 * timeout, closing is how the server learns to cancel the call (containerd
 * cancels a stream's context when its connection goes). An idle connection
 * is checked (non-blocking read) before reuse, so one whose server
 * restarted is dropped there and the call dials a fresh one; a request is
 * never re-sent after it may have reached the server, as RunPodSandbox or
 * CreateContainer must not run twice.
 *
 * Bounds: messages up to GRPC_MAX_MESSAGE each way (checked on the length
 * prefix, before the body is buffered), 64 KiB of response header fields,
 * 1 KiB of grpc-message kept.
 */
#include "agent/kubelet/grpc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "util.h"

#define GRPC_PREFIX_LEN 5
#define GRPC_MAX_HEADER_BYTES (64 * 1024)
#define GRPC_MAX_STATUS_TEXT 1024
/* Our receive window: large enough that a typical answer needs no WINDOW_UPDATE round trip. */
#define GRPC_WINDOW (1 << 20)
#define GRPC_READ_CHUNK (16 * 1024)
/* How much nghttp2 output we collect before writing. */
#define GRPC_OUT_BATCH (64 * 1024)

/* One call's stream, as the nghttp2 callbacks see it. */
struct grpc_stream {
	int32_t id;
	const uint8_t *req; /* prefix + message */
	size_t req_len, req_off;
	struct buf data; /* response DATA as received: prefix + message */
	int http_status; /* 0 until :status */
	bool bad_content_type;
	int grpc_status;    /* -1 until seen */
	char *grpc_message; /* percent-decoded, NULL until seen */
	size_t header_bytes;
	int err; /* -errno: a bad answer seen by a callback */
	char errmsg[128];
	bool closed;
	uint32_t close_error; /* HTTP/2 error code of RST_STREAM, 0 for a clean end */
};

struct grpc_conn {
	int fd;
	nghttp2_session *sess;
	struct buf out; /* nghttp2 output not yet written */
	size_t out_off;
	bool eof;	   /* the peer closed its side */
	bool write_failed; /* the peer stopped reading: never reused */
	bool goaway;
	struct grpc_stream *st; /* the call using it; NULL when idle */
	struct grpc_conn *next; /* idle list */
};

struct grpc_client {
	char *path;
	pthread_mutex_t lock; /* guards the fields below */
	pthread_cond_t cond;  /* a connection slot was released */
	struct grpc_conn *idle;
	unsigned nidle, nbusy;
	unsigned dials;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void stream_fail(struct grpc_stream *st, int err, const char *msg)
{
	if (st->err)
		return;
	st->err = err;
	snprintf(st->errmsg, sizeof(st->errmsg), "%s", msg);
	/* Nothing more of this answer is needed. */
	buf_free(&st->data);
}

/* ------------------------------------------------------------ header values */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* grpc-message is percent-encoded; a malformed escape is kept as it is. */
static char *percent_decode(const uint8_t *v, size_t len)
{
	size_t n = MIN(len, (size_t)GRPC_MAX_STATUS_TEXT), o = 0;
	char *s = xmalloc(n + 1);

	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (v[i] == '%' && i + 2 < len && (hi = hexval(v[i + 1])) >= 0 &&
		    (lo = hexval(v[i + 2])) >= 0) {
			s[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			s[o++] = (char)v[i];
		}
	}
	s[o] = '\0';
	return s;
}

/* Digits only, at most 3 of them: -1 when that is not what we got. */
static int parse_small_uint(const uint8_t *v, size_t len)
{
	int n = 0;

	if (len == 0 || len > 3)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	return n;
}

/* "application/grpc", "application/grpc+proto", "application/grpc;..." */
static bool is_grpc_content_type(const uint8_t *v, size_t len)
{
	static const char ct[] = "application/grpc";
	size_t n = sizeof(ct) - 1;

	if (len < n || memcmp(v, ct, n) != 0)
		return false;
	return len == n || v[n] == '+' || v[n] == ';';
}

#define NAME_IS(lit) (namelen == sizeof(lit) - 1 && memcmp(name, lit, namelen) == 0)

/* ------------------------------------------------------------ nghttp2 callbacks */

static struct grpc_stream *stream_of(struct grpc_conn *c, int32_t id)
{
	return c->st && c->st->id == id ? c->st : NULL;
}

static int on_header(nghttp2_session *sess, const nghttp2_frame *frame, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user_data)
{
	struct grpc_stream *st = stream_of(user_data, frame->hd.stream_id);
	int n;

	if (!st || frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	st->header_bytes += namelen + valuelen + 32;
	if (st->header_bytes > GRPC_MAX_HEADER_BYTES) {
		stream_fail(st, -EPROTO, "response header fields too large");
		/* Resets the stream; the call then ends with the error above. */
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	if (NAME_IS(":status")) {
		n = parse_small_uint(value, valuelen);
		st->http_status = n < 0 ? 999 : n;
	} else if (NAME_IS("content-type")) {
		if (!is_grpc_content_type(value, valuelen))
			st->bad_content_type = true;
	} else if (NAME_IS("grpc-status")) {
		n = parse_small_uint(value, valuelen);
		if (n < 0 || n > 16)
			stream_fail(st, -EPROTO, "malformed grpc-status");
		else
			st->grpc_status = n;
	} else if (NAME_IS("grpc-message")) {
		free(st->grpc_message);
		st->grpc_message = percent_decode(value, valuelen);
	}
	return 0;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int on_data_chunk(nghttp2_session *sess, uint8_t flags, int32_t stream_id,
			 const uint8_t *data, size_t len, void *user_data)
{
	struct grpc_stream *st = stream_of(user_data, stream_id);
	uint32_t declared;

	if (!st || st->err)
		return 0;
	if (st->data.len + len > GRPC_PREFIX_LEN + GRPC_MAX_MESSAGE) {
		stream_fail(st, -EMSGSIZE, "answer larger than the message limit");
		goto reset;
	}
	buf_append(&st->data, data, len);
	if (st->data.len < GRPC_PREFIX_LEN)
		return 0;
	declared = be32((const uint8_t *)st->data.data + 1);
	if (declared > GRPC_MAX_MESSAGE) {
		stream_fail(st, -EMSGSIZE, "answer larger than the message limit");
		goto reset;
	}
	if (st->data.len > GRPC_PREFIX_LEN + (size_t)declared) {
		stream_fail(st, -EPROTO, "more than one message in a unary answer");
		goto reset;
	}
	return 0;
reset:
	nghttp2_submit_rst_stream(sess, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
	return 0;
}

static int on_stream_close(nghttp2_session *sess, int32_t stream_id, uint32_t error_code,
			   void *user_data)
{
	struct grpc_stream *st = stream_of(user_data, stream_id);

	if (st) {
		st->closed = true;
		st->close_error = error_code;
	}
	return 0;
}

static int on_frame_recv(nghttp2_session *sess, const nghttp2_frame *frame, void *user_data)
{
	struct grpc_conn *c = user_data;

	if (frame->hd.type == NGHTTP2_GOAWAY)
		c->goaway = true;
	return 0;
}

static ssize_t read_request(nghttp2_session *sess, int32_t stream_id, uint8_t *out, size_t len,
			    uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
	struct grpc_stream *st = source->ptr;
	size_t n = MIN(len, st->req_len - st->req_off);

	memcpy(out, st->req + st->req_off, n);
	st->req_off += n;
	if (st->req_off == st->req_len)
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* ------------------------------------------------------------ connections */

static void conn_free(struct grpc_conn *c)
{
	if (!c)
		return;
	nghttp2_session_del(c->sess);
	if (c->fd >= 0)
		close(c->fd);
	buf_free(&c->out);
	free(c);
}

static int ms_left(uint64_t deadline_ns)
{
	uint64_t now = now_mono_ns();

	if (now >= deadline_ns)
		return 0;
	/* Round up: a wait of 0 ms would spin. */
	return (int)MIN((deadline_ns - now + 999999) / 1000000, (uint64_t)INT32_MAX);
}

static int conn_dial(const char *path, uint64_t deadline_ns, struct grpc_conn **out, char *err,
		     size_t errlen)
{
	nghttp2_settings_entry settings[] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, GRPC_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, GRPC_MAX_HEADER_BYTES },
	};
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	nghttp2_session_callbacks *cbs = NULL;
	struct grpc_conn *c = xcalloc(1, sizeof(*c));
	int ms = ms_left(deadline_ns), ret;
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	c->fd = -1;
	strcpy(sa.sun_path, path); /* length checked by grpc_open */
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		ret = -errno;
		set_err(err, errlen, "socket: %s", strerror(-ret));
		goto out;
	}
	/* A unix connect blocks only while the listen backlog is full; bound that wait. */
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		set_err(err, errlen, "connect %s: %s", path, strerror(-ret));
		if (ret == -ENOENT)
			ret = -ECONNREFUSED;
		else if (ret == -EAGAIN || ret == -EINPROGRESS)
			ret = -ETIMEDOUT;
		goto out;
	}
	if (fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0) {
		ret = -errno;
		set_err(err, errlen, "fcntl: %s", strerror(-ret));
		goto out;
	}

	if (nghttp2_session_callbacks_new(&cbs) != 0)
		abort(); /* allocation failure is fatal, as with xmalloc */
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	if (nghttp2_session_client_new(&c->sess, cbs, c) != 0)
		abort();
	if (nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, settings, ARRAY_SIZE(settings)) !=
		    0 ||
	    nghttp2_session_set_local_window_size(c->sess, NGHTTP2_FLAG_NONE, 0, GRPC_WINDOW) !=
		    0) {
		ret = -EPROTO;
		set_err(err, errlen, "cannot set up the HTTP/2 session");
		goto out;
	}
	*out = c;
	c = NULL;
	ret = 0;
out:
	nghttp2_session_callbacks_del(cbs);
	conn_free(c);
	return ret;
}

/*
 * One round of I/O: read what arrived and feed it to nghttp2 (which runs the
 * callbacks), write what nghttp2 has to send. Waits at most timeout_ms for
 * the socket. 0 on progress, -ETIMEDOUT when nothing happened, -ECONNRESET
 * once the peer has closed, -EPROTO on an HTTP/2 error.
 *
 * Reading comes first and a failed write only stops further writes: a
 * server that sends its whole answer and closes at once must still have
 * that answer read, though our pending WINDOW_UPDATE can no longer go out.
 */
static int conn_pump(struct grpc_conn *c, int timeout_ms)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	uint8_t in[GRPC_READ_CHUNK];
	ssize_t n;

	if (c->eof)
		return -ECONNRESET;
	if (!c->write_failed && c->out_off == c->out.len) {
		buf_reset(&c->out);
		c->out_off = 0;
		while (c->out.len < GRPC_OUT_BATCH) {
			const uint8_t *p;

			n = nghttp2_session_mem_send(c->sess, &p);
			if (n < 0)
				return -EPROTO;
			if (n == 0)
				break;
			buf_append(&c->out, p, (size_t)n);
		}
	}
	if (!c->write_failed && c->out_off < c->out.len)
		pfd.events |= POLLOUT;
	n = poll(&pfd, 1, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -ETIMEDOUT;

	if (pfd.revents & (POLLIN | POLLERR | POLLHUP)) {
		n = recv(c->fd, in, sizeof(in), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			c->eof = true;
			return -ECONNRESET;
		}
		if (n > 0 && nghttp2_session_mem_recv(c->sess, in, (size_t)n) < 0)
			return -EPROTO;
	}
	if (pfd.revents & (POLLOUT | POLLERR | POLLHUP) && (pfd.events & POLLOUT)) {
		n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			c->write_failed = true;
		if (n > 0)
			c->out_off += (size_t)n;
	}
	return 0;
}

/*
 * An idle connection is usable if its server has not closed it or said
 * GOAWAY meanwhile: drain what is waiting (a few frames at most; bounded so
 * a chatty peer cannot hold us here) without blocking.
 */
static bool conn_alive(struct grpc_conn *c)
{
	int ret, rounds = 0;

	do
		ret = conn_pump(c, 0);
	while (ret == 0 && !c->goaway && ++rounds < 64);
	if (ret == 0)
		ret = -ETIMEDOUT; /* still talking, but alive */
	return ret == -ETIMEDOUT && !c->goaway && !c->write_failed &&
	       nghttp2_session_want_read(c->sess);
}

/* ------------------------------------------------------------ the pool */

static int conn_get(struct grpc_client *g, uint64_t deadline_ns, struct grpc_conn **out, char *err,
		    size_t errlen)
{
	struct timespec ts = { .tv_sec = deadline_ns / 1000000000,
			       .tv_nsec = deadline_ns % 1000000000 };
	struct grpc_conn *c;
	int ret;

	pthread_mutex_lock(&g->lock);
	for (;;) {
		c = g->idle;
		if (c) {
			g->idle = c->next;
			g->nidle--;
			g->nbusy++;
			pthread_mutex_unlock(&g->lock);
			c->next = NULL;
			if (conn_alive(c)) {
				*out = c;
				return 0;
			}
			conn_free(c);
			pthread_mutex_lock(&g->lock);
			g->nbusy--;
			continue;
		}
		if (g->nbusy < GRPC_MAX_CONNS)
			break;
		if (pthread_cond_timedwait(&g->cond, &g->lock, &ts) == ETIMEDOUT) {
			pthread_mutex_unlock(&g->lock);
			set_err(err, errlen, "all %d connections busy until the deadline",
				GRPC_MAX_CONNS);
			return -ETIMEDOUT;
		}
	}
	g->nbusy++;
	g->dials++;
	pthread_mutex_unlock(&g->lock);

	ret = conn_dial(g->path, deadline_ns, out, err, errlen);
	if (ret < 0) {
		pthread_mutex_lock(&g->lock);
		g->nbusy--;
		pthread_cond_signal(&g->cond);
		pthread_mutex_unlock(&g->lock);
	}
	return ret;
}

static void conn_put(struct grpc_client *g, struct grpc_conn *c, bool reusable)
{
	pthread_mutex_lock(&g->lock);
	g->nbusy--;
	if (reusable && g->nidle < GRPC_MAX_IDLE) {
		c->next = g->idle;
		g->idle = c;
		g->nidle++;
		c = NULL;
	}
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->lock);
	conn_free(c);
}

int grpc_open(const char *socket_path, struct grpc_client **out, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct grpc_client *g;
	pthread_condattr_t ca;

	if (!socket_path || !*socket_path || !out) {
		set_err(err, errlen, "no socket path");
		return -EINVAL;
	}
	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		set_err(err, errlen, "socket path longer than %zu bytes: %s",
			sizeof(sa.sun_path) - 1, socket_path);
		return -EINVAL;
	}
	g = xcalloc(1, sizeof(*g));
	g->path = xstrdup(socket_path);
	pthread_mutex_init(&g->lock, NULL);
	/* Deadlines come from the monotonic clock (now_mono_ns). */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cond, &ca);
	pthread_condattr_destroy(&ca);
	*out = g;
	return 0;
}

void grpc_close(struct grpc_client *g)
{
	if (!g)
		return;
	while (g->idle) {
		struct grpc_conn *c = g->idle;

		g->idle = c->next;
		conn_free(c);
	}
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
	free(g->path);
	free(g);
}

unsigned grpc_dial_count(struct grpc_client *g)
{
	unsigned n;

	pthread_mutex_lock(&g->lock);
	n = g->dials;
	pthread_mutex_unlock(&g->lock);
	return n;
}

/* ------------------------------------------------------------ calls */

/* grpc-timeout: at most 8 digits and a unit. */
static void format_timeout(char *buf, size_t len, int timeout_ms)
{
	if (timeout_ms <= 99999999)
		snprintf(buf, len, "%dm", timeout_ms);
	else
		snprintf(buf, len, "%dS", timeout_ms / 1000);
}

/* The outcome of a stream that closed (or a transport error, ret < 0). */
static int call_result(struct grpc_stream *st, void **resp, size_t *resp_len, char *err,
		       size_t errlen)
{
	const uint8_t *d = (const uint8_t *)st->data.data;
	uint32_t len;

	if (st->err) {
		set_err(err, errlen, "%s", st->errmsg);
		return st->err;
	}
	if (st->grpc_status < 0) {
		if (st->close_error)
			set_err(err, errlen, "stream reset by the server (HTTP/2 error %u)",
				st->close_error);
		else if (st->http_status != 200)
			set_err(err, errlen, "HTTP status %d without grpc-status", st->http_status);
		else
			set_err(err, errlen, "answer without grpc-status");
		return st->close_error && st->close_error != NGHTTP2_PROTOCOL_ERROR ? -ECONNRESET
										    : -EPROTO;
	}
	if (st->bad_content_type) {
		set_err(err, errlen, "answer is not application/grpc");
		return -EPROTO;
	}
	if (st->grpc_status != 0) {
		set_err(err, errlen, "%s",
			st->grpc_message && *st->grpc_message ? st->grpc_message
							      : "(no grpc-message)");
		return st->grpc_status;
	}
	if (st->http_status != 200) {
		set_err(err, errlen, "HTTP status %d", st->http_status);
		return -EPROTO;
	}
	if (st->data.len < GRPC_PREFIX_LEN) {
		set_err(err, errlen, "answer without a message");
		return -EPROTO;
	}
	len = be32(d + 1);
	if (d[0] != 0) {
		set_err(err, errlen, "compressed answer (flag %u) was not asked for", d[0]);
		return -EPROTO;
	}
	if (st->data.len != GRPC_PREFIX_LEN + (size_t)len) {
		set_err(err, errlen, "truncated answer: %zu of %u bytes",
			st->data.len - GRPC_PREFIX_LEN, len);
		return -EPROTO;
	}
	/* Hand over the buffer itself: an answer may be 16 MiB. */
	memmove(st->data.data, d + GRPC_PREFIX_LEN, len);
	*resp = st->data.data;
	*resp_len = len;
	st->data = (struct buf){ 0 };
	return 0;
}

int grpc_call(struct grpc_client *g, const char *path, const void *req, size_t req_len, void **resp,
	      size_t *resp_len, int timeout_ms, char *err, size_t errlen)
{
	struct grpc_stream st = { .grpc_status = -1 };
	nghttp2_data_provider body = { .source.ptr = &st, .read_callback = read_request };
	struct grpc_conn *c = NULL;
	char timeout[16];
	uint8_t *framed = NULL;
	uint64_t deadline;
	bool reusable = false;
	int ret;

	if (!g || !path || path[0] != '/' || (!req && req_len) || !resp || !resp_len ||
	    timeout_ms <= 0) {
		set_err(err, errlen, "bad arguments to grpc_call");
		return -EINVAL;
	}
	if (req_len > GRPC_MAX_MESSAGE) {
		set_err(err, errlen, "request of %zu bytes is over the %u-byte limit", req_len,
			GRPC_MAX_MESSAGE);
		return -EMSGSIZE;
	}
	deadline = now_mono_ns() + (uint64_t)timeout_ms * 1000000;
	format_timeout(timeout, sizeof(timeout), timeout_ms);

	nghttp2_nv hdrs[] = {
#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE }
		NV(":method", "POST"),
		NV(":scheme", "http"),
		NV(":path", path),
		NV(":authority", "localhost"),
		NV("content-type", "application/grpc"),
		NV("te", "trailers"),
		NV("grpc-timeout", timeout),
		NV("user-agent", "capstan-kubelet/1"),
#undef NV
	};

	framed = xmalloc(GRPC_PREFIX_LEN + req_len);
	framed[0] = 0; /* not compressed */
	framed[1] = (uint8_t)(req_len >> 24);
	framed[2] = (uint8_t)(req_len >> 16);
	framed[3] = (uint8_t)(req_len >> 8);
	framed[4] = (uint8_t)req_len;
	if (req_len)
		memcpy(framed + GRPC_PREFIX_LEN, req, req_len);
	st.req = framed;
	st.req_len = GRPC_PREFIX_LEN + req_len;

	ret = conn_get(g, deadline, &c, err, errlen);
	if (ret < 0)
		goto out;

	c->st = &st;
	st.id = nghttp2_submit_request(c->sess, NULL, hdrs, ARRAY_SIZE(hdrs), &body, NULL);
	if (st.id < 0) {
		/* Stream ids run out after 2^30 calls on one connection: dial anew next time. */
		ret = -EPROTO;
		set_err(err, errlen, "cannot start a stream: %s", nghttp2_strerror(st.id));
		goto out;
	}
	while (!st.closed) {
		int ms = ms_left(deadline);

		if (ms == 0) {
			ret = -ETIMEDOUT;
			set_err(err, errlen, "no answer to %s within %d ms", path, timeout_ms);
			goto out;
		}
		ret = conn_pump(c, ms);
		if (ret == -ETIMEDOUT || ret == 0 || st.closed)
			continue;
		if (ret == -ECONNRESET)
			set_err(err, errlen, "connection closed by the server during %s", path);
		else
			set_err(err, errlen, "HTTP/2 failure during %s: %s", path, strerror(-ret));
		goto out;
	}
	ret = call_result(&st, resp, resp_len, err, errlen);
	reusable = !c->eof && !c->write_failed && !c->goaway && nghttp2_session_want_read(c->sess);
out:
	if (c) {
		c->st = NULL;
		conn_put(g, c, reusable);
	}
	free(framed);
	buf_free(&st.data);
	free(st.grpc_message);
	return ret;
}
