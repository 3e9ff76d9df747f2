/* load.c - see load.h. */
#include "load.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

#define MAX_THREADS 64
#define MAX_CONCURRENCY 1024
/* In-flight operations may finish this long after the time limit, then are abandoned. */
#define GRACE_S 2.0
/* A path where failures outnumber successes past this many is broken: stop early. */
#define MAX_ERRORS 200
/* The HTTP mode's bounds: one request header, and what a client that does not read is owed. */
#define HTTP_MAX_HEADER 8192
#define HTTP_MAX_OWED (4 * LOAD_MAX_MSG)

static bool params_ok(const struct load_params *p)
{
	return p->ntargets >= 1 && p->ntargets <= LOAD_MAX_TARGETS && p->threads >= 1 &&
	       p->threads <= MAX_THREADS && p->concurrency >= 1 &&
	       p->concurrency <= MAX_CONCURRENCY && p->count >= 1 && p->seconds > 0 &&
	       p->req_size >= 1 && p->req_size <= LOAD_MAX_MSG && p->resp_size >= 1 &&
	       p->resp_size <= LOAD_MAX_MSG;
}

static void set_nodelay(int fd)
{
	int one = 1;

	/* Request/response ping-pong: never wait for Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---------------------------------------------------------------- client */

enum cconn_state {
	CC_IDLE,
	CC_CONNECTING,
	CC_READING,  /* request sent, response incomplete */
	CC_DRAINING, /* LOAD_CONN_RATE: response complete, waiting for the server's FIN */
};

struct cconn {
	int fd;
	enum cconn_state state;
	int got; /* response bytes received */
};

struct cthread {
	pthread_t th;
	const struct load_params *p;
	int ep;
	char req[LOAD_MAX_MSG];
	char buf[LOAD_MAX_MSG];
	long budget;  /* operations this thread may start */
	long started; /* operations started */
	long done;
	long errors;
	int first_errno;
	int next_target;
	double deadline; /* no new operation after this */
	double end;	 /* last completion */
	double *lat_us;	 /* LOAD_LATENCY samples */
};

static void note_error(struct cthread *t, int err)
{
	t->errors++;
	if (!t->first_errno)
		t->first_errno = err ? err : EIO;
}

static bool thread_broken(const struct cthread *t)
{
	return t->errors > MAX_ERRORS && t->errors > t->done;
}

static bool may_start(const struct cthread *t)
{
	return t->started < t->budget && proc_now() < t->deadline && !thread_broken(t) &&
	       !proc_interrupted;
}

static const struct sockaddr_in *next_target(struct cthread *t)
{
	const struct sockaddr_in *a = &t->p->targets[t->next_target];

	t->next_target = (t->next_target + 1) % t->p->ntargets;
	return a;
}

static void cconn_close(struct cconn *c)
{
	if (c->fd >= 0)
		close(c->fd); /* also leaves the epoll set */
	c->fd = -1;
	c->state = CC_IDLE;
}

/* Start a non-blocking connect; false (error counted) when it failed at once. */
static bool cconn_open(struct cthread *t, struct cconn *c)
{
	const struct sockaddr_in *a = next_target(t);
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };

	t->started++;
	c->got = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		note_error(t, errno);
		return false;
	}
	set_nodelay(c->fd);
	/*
	 * The socket LB rewrites the address inside this call; a refused or
	 * unroutable service fails here, synchronously.
	 */
	if (connect(c->fd, (const struct sockaddr *)a, sizeof(*a)) < 0 && errno != EINPROGRESS) {
		note_error(t, errno);
		cconn_close(c);
		return false;
	}
	if (epoll_ctl(t->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		note_error(t, errno);
		cconn_close(c);
		return false;
	}
	c->state = CC_CONNECTING;
	return true;
}

/* Open connections until one is in flight or no more may start. */
static bool cconn_restart(struct cthread *t, struct cconn *c)
{
	while (may_start(t))
		if (cconn_open(t, c))
			return true;
	return false;
}

/* Send one request ('C' or 'K' first) and wait for its response. -errno on failure. */
static int cconn_send(struct cthread *t, struct cconn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	ssize_t n;

	t->req[0] = t->p->mode == LOAD_KEPT_RPS ? 'K' : 'C';
	n = write(c->fd, t->req, t->p->req_size);
	/* A fresh or idle socket's send buffer always takes one small request whole. */
	if (n != t->p->req_size)
		return n < 0 ? -errno : -EPROTO;
	c->got = 0;
	c->state = CC_READING;
	if (epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		return -errno;
	return 0;
}

/*
 * Advance c on an epoll event. Returns 0 while the connection goes on, 1
 * when it ended well, -errno when it failed.
 */
static int cconn_step(struct cthread *t, struct cconn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->state == CC_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			return -errno;
		if (err)
			return -err;
		/* The connection's start counted as its first request's (cconn_open). */
		return cconn_send(t, c);
	}
	for (;;) {
		ssize_t n = read(c->fd, t->buf, sizeof(t->buf));

		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (n == 0) /* the server closes only after a whole 'C' response */
			return c->state == CC_DRAINING ? 1 : -EPROTO;
		c->got += n;
		if (c->got < t->p->resp_size)
			continue;
		if (c->got > t->p->resp_size)
			return -EPROTO;
		if (t->p->mode == LOAD_CONN_RATE) {
			c->state = CC_DRAINING;
			continue;
		}
		/* LOAD_KEPT_RPS: one request done; send the next on the same connection. */
		t->done++;
		t->end = proc_now();
		if (!may_start(t))
			return 1;
		t->started++;
		err = cconn_send(t, c);
		if (err < 0)
			return err;
	}
}

static void *client_epoll_main(void *arg)
{
	struct cthread *t = arg;
	int conc = t->p->concurrency, active = 0;
	struct cconn *conns = xcalloc(conc, sizeof(*conns));
	struct epoll_event evs[64];

	t->ep = epoll_create1(EPOLL_CLOEXEC);
	if (t->ep < 0) {
		note_error(t, errno);
		free(conns);
		return NULL;
	}
	for (int i = 0; i < conc; i++) {
		conns[i].fd = -1;
		if (cconn_restart(t, &conns[i]))
			active++;
	}
	while (active > 0 && proc_now() < t->deadline + GRACE_S && !proc_interrupted) {
		int n = epoll_wait(t->ep, evs, ARRAY_SIZE(evs), 50);

		for (int i = 0; i < n; i++) {
			struct cconn *c = evs[i].data.ptr;
			int r = cconn_step(t, c);

			if (r == 0)
				continue;
			if (r < 0)
				note_error(t, -r);
			else if (t->p->mode == LOAD_CONN_RATE) {
				t->done++;
				t->end = proc_now();
			}
			cconn_close(c);
			if (!cconn_restart(t, c))
				active--;
		}
	}
	/* Whatever is still in flight after the grace period is abandoned. */
	for (int i = 0; i < conc; i++)
		cconn_close(&conns[i]);
	close(t->ep);
	free(conns);
	return NULL;
}

static void set_timeouts(int fd, double s)
{
	struct timeval tv = { .tv_sec = (long)s, .tv_usec = (long)((s - (long)s) * 1e6) };

	/* SO_SNDTIMEO bounds a blocking connect() too. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* One blocking connection: connect, request, response, EOF. -errno on failure. */
static int latency_once(struct cthread *t, double *us)
{
	const struct sockaddr_in *a = next_target(t);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), got = 0, err = 0;
	double t0, t1 = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	set_nodelay(fd);
	set_timeouts(fd, GRACE_S);
	t->req[0] = 'C';
	t0 = proc_now();
	if (connect(fd, (const struct sockaddr *)a, sizeof(*a)) < 0 ||
	    write(fd, t->req, t->p->req_size) != t->p->req_size) {
		err = errno ? -errno : -EPROTO;
		goto out;
	}
	while ((n = read(fd, t->buf, sizeof(t->buf))) > 0) {
		got += n;
		if (got == t->p->resp_size)
			t1 = proc_now();
	}
	if (n < 0)
		err = -errno;
	else if (got != t->p->resp_size)
		err = -EPROTO;
	else
		*us = (t1 - t0) * 1e6;
out:
	close(fd);
	return err;
}

static void *client_latency_main(void *arg)
{
	struct cthread *t = arg;

	while (may_start(t)) {
		double us = 0;
		int err;

		t->started++;
		errno = 0;
		err = latency_once(t, &us);
		if (err < 0) {
			note_error(t, -err);
			continue;
		}
		t->lat_us[t->done++] = us;
		t->end = proc_now();
	}
	return NULL;
}

int load_client(const struct load_params *p, struct load_result *out)
{
	int nthreads = p->mode == LOAD_LATENCY ? 1 : p->threads;
	struct cthread *ts;
	struct load_result r = { 0 };
	double start;

	if (!params_ok(p))
		return -EINVAL;
	ts = xcalloc(nthreads, sizeof(*ts));
	start = proc_now();
	for (int i = 0; i < nthreads; i++) {
		struct cthread *t = &ts[i];

		t->p = p;
		t->budget = p->count / nthreads + (i < p->count % nthreads);
		t->deadline = start + p->seconds;
		t->end = start;
		t->next_target = i % p->ntargets;
		memset(t->req, 'q', p->req_size);
		if (p->mode == LOAD_LATENCY)
			t->lat_us = xcalloc(t->budget, sizeof(double));
	}
	for (int i = 0; i < nthreads; i++)
		pthread_create(&ts[i].th, NULL,
			       p->mode == LOAD_LATENCY ? client_latency_main : client_epoll_main,
			       &ts[i]);
	for (int i = 0; i < nthreads; i++) {
		struct cthread *t = &ts[i];

		pthread_join(t->th, NULL);
		r.done += t->done;
		r.errors += t->errors;
		if (!r.first_errno)
			r.first_errno = t->first_errno;
		r.elapsed_s = MAX(r.elapsed_s, t->end - start);
	}
	r.rate = r.elapsed_s > 0 ? r.done / r.elapsed_s : 0;
	if (p->mode == LOAD_LATENCY && r.done > 0) {
		double *v = ts[0].lat_us;

		if (p->lat_us)
			memcpy(p->lat_us, v, r.done * sizeof(*v));
		qsort(v, r.done, sizeof(*v), cmp_double);
		r.p50_us = v[(r.done - 1) / 2];
		r.p99_us = v[(long)((r.done - 1) * 0.99)];
	}
	for (int i = 0; i < nthreads; i++)
		free(ts[i].lat_us);
	free(ts);
	*out = r;
	return 0;
}

/* ---------------------------------------------------------------- server */

struct sconn {
	int fd;
	int rin;	  /* bytes of the current request received */
	long out_left;	  /* response bytes still to write */
	bool close_after; /* a 'C' request was answered: close once written */
	bool want_out;	  /* EPOLLOUT is armed */
	bool http;	  /* the first byte was 'G': HTTP/1.1 GET requests (for wrk) */
	struct buf hreq;  /* HTTP: the current request's header so far */
	struct buf hout;  /* HTTP: the owed responses, header and body */
	size_t hout_off;  /* HTTP: bytes of hout written */
};

struct sthread {
	pthread_t th;
	int lfd;
	int ep;
	int req_size;
	int resp_size;
};

static char resp_fill[LOAD_MAX_MSG];

static void sconn_free(struct sconn *c)
{
	close(c->fd);
	buf_free(&c->hreq);
	buf_free(&c->hout);
	free(c);
}

/* HTTP: arm or disarm EPOLLOUT as bytes are owed or not. */
static int sconn_want_out(struct sthread *t, struct sconn *c, bool owed)
{
	struct epoll_event ev = { .events = EPOLLIN | (owed ? EPOLLOUT : 0), .data.ptr = c };

	if (owed == c->want_out)
		return 0;
	c->want_out = owed;
	return epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0 ? -errno : 0;
}

/* HTTP: write the owed responses. Like sconn_flush. */
static int sconn_flush_http(struct sthread *t, struct sconn *c)
{
	while (c->hout_off < c->hout.len) {
		ssize_t n = write(c->fd, c->hout.data + c->hout_off, c->hout.len - c->hout_off);

		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -errno;
		c->hout_off += (size_t)n;
	}
	if (c->hout_off == c->hout.len) {
		buf_reset(&c->hout);
		c->hout_off = 0;
		if (c->close_after)
			return 1;
	}
	return sconn_want_out(t, c, c->hout.len > 0);
}

/* Write what is owed. -errno when the connection is dead; 1 when it is to be closed. */
static int sconn_flush(struct sthread *t, struct sconn *c)
{
	while (c->out_left > 0) {
		ssize_t n = write(c->fd, resp_fill, MIN(c->out_left, (long)sizeof(resp_fill)));

		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -errno;
		c->out_left -= n;
	}
	if (c->out_left == 0 && c->close_after)
		return 1;
	return sconn_want_out(t, c, c->out_left > 0);
}

/*
 * HTTP: take n bytes of GET requests (no bodies). Each whole header (up to
 * the empty line) is answered with 200 and resp_size bytes; "Connection:
 * close" in it is answered in kind, the connection closed once written.
 * 1 when the connection is to be closed (a header over HTTP_MAX_HEADER, or
 * a client owed more than HTTP_MAX_OWED that does not read), else 0.
 */
static int sconn_take_http(struct sthread *t, struct sconn *c, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		bool closing;

		if (c->close_after)
			return 0; /* nothing after a Connection: close counts */
		buf_append(&c->hreq, &ch, 1);
		if (c->hreq.len > HTTP_MAX_HEADER)
			return 1;
		if (c->hreq.len < 4 || memcmp(c->hreq.data + c->hreq.len - 4, "\r\n\r\n", 4) != 0)
			continue;
		buf_append(&c->hreq, "", 1); /* a C string from here */
		closing = strcasestr(c->hreq.data, "\r\nconnection: close\r\n") != NULL;
		buf_reset(&c->hreq);
		buf_appendf(&c->hout, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n",
			    t->resp_size, closing ? "Connection: close\r\n" : "");
		buf_append(&c->hout, resp_fill, (size_t)t->resp_size);
		if (c->hout.len > HTTP_MAX_OWED)
			return 1;
		c->close_after = closing;
	}
	return 0;
}

/* Read and answer whole requests. -errno or 1 when the connection is to be closed. */
static int sconn_read(struct sthread *t, struct sconn *c)
{
	char buf[16384];

	for (;;) {
		ssize_t n = read(c->fd, buf, sizeof(buf));

		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (n == 0)
			return 1;
		if (c->rin == 0 && !c->out_left && !c->hreq.len && !c->hout.len && buf[0] == 'G')
			c->http = true; /* a GET where the first request would start */
		if (c->http) {
			int r = sconn_take_http(t, c, buf, (size_t)n);

			if (r == 0 && c->hout.len)
				r = sconn_flush_http(t, c);
			if (r != 0)
				return r;
			continue;
		}
		for (ssize_t pos = 0; pos < n;) {
			ssize_t take = MIN(n - pos, (ssize_t)(t->req_size - c->rin));

			if (c->rin == 0 && buf[pos] == 'C')
				c->close_after = true;
			c->rin += take;
			pos += take;
			if (c->rin == t->req_size) {
				c->rin = 0;
				c->out_left += t->resp_size;
			}
		}
		if (c->out_left) {
			int r = sconn_flush(t, c);

			if (r != 0)
				return r;
		}
	}
}

static void server_accept(struct sthread *t)
{
	for (;;) {
		int fd = accept4(t->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN };
		struct sconn *c;

		if (fd < 0)
			return; /* EAGAIN, or out of descriptors: the client retries */
		set_nodelay(fd);
		c = xcalloc(1, sizeof(*c));
		c->fd = fd;
		ev.data.ptr = c;
		if (epoll_ctl(t->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			sconn_free(c);
	}
}

static void *server_main(void *arg)
{
	struct sthread *t = arg;
	struct epoll_event evs[64];

	for (;;) {
		int n = epoll_wait(t->ep, evs, ARRAY_SIZE(evs), -1);

		for (int i = 0; i < n; i++) {
			struct sconn *c = evs[i].data.ptr;
			int r;

			if (!c) {
				server_accept(t);
				continue;
			}
			r = sconn_read(t, c);
			if (r == 0 && (evs[i].events & EPOLLOUT))
				r = c->http ? sconn_flush_http(t, c) : sconn_flush(t, c);
			if (r != 0)
				sconn_free(c);
		}
	}
	return NULL;
}

static int listen_on(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1, err;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int load_server(uint16_t port, int threads, int req_size, int resp_size, int ready_fd)
{
	struct sthread ts[MAX_THREADS];
	int err = 0, n = 0;

	if (threads < 1 || threads > MAX_THREADS || req_size < 1 || req_size > LOAD_MAX_MSG ||
	    resp_size < 1 || resp_size > LOAD_MAX_MSG)
		return -EINVAL;
	memset(resp_fill, 'r', sizeof(resp_fill));
	for (n = 0; n < threads; n++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

		ts[n] = (struct sthread){ .req_size = req_size, .resp_size = resp_size };
		ts[n].lfd = listen_on(port);
		if (ts[n].lfd < 0) {
			err = ts[n].lfd;
			goto out;
		}
		ts[n].ep = epoll_create1(EPOLL_CLOEXEC);
		if (ts[n].ep < 0 || epoll_ctl(ts[n].ep, EPOLL_CTL_ADD, ts[n].lfd, &ev) < 0) {
			err = -errno;
			close(ts[n].lfd);
			if (ts[n].ep >= 0)
				close(ts[n].ep);
			goto out;
		}
	}
	for (int i = 0; i < threads; i++)
		pthread_create(&ts[i].th, NULL, server_main, &ts[i]);
	if (ready_fd >= 0 && write(ready_fd, "r", 1) != 1)
		err = -errno;
	/* Serve until killed: the threads never return. */
	for (int i = 0; i < threads; i++)
		pthread_join(ts[i].th, NULL);
	return err;
out:
	while (n-- > 0) {
		close(ts[n].lfd);
		close(ts[n].ep);
	}
	return err;
}
