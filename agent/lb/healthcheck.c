/* healthcheck.c - see healthcheck.h. */
#include "agent/lb/healthcheck.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define HC_BUF_SIZE 4096   /* request head, then the response */
#define HC_BACKLOG 128	   /* pending connections per port */
#define HC_EVENTS 64	   /* epoll events per batch */
#define HC_ACCEPT_BATCH 64 /* accepts per listener event, so one busy port cannot starve others */
#define HC_DRAIN_BATCH 16  /* reads per event while draining a closing connection */

/* What an epoll event's data.ptr points to: the first member of each. */
enum hc_kind {
	HC_WAKE,
	HC_LISTENER,
	HC_CONN,
};

struct hc_listener {
	enum hc_kind kind;
	int fd;
	uint16_t req_port; /* as asked by lb_hc_set (0: ephemeral); the identity of the port */
	uint16_t port;	   /* bound */
	char ns[LB_HC_NAME_MAX];
	char name[LB_HC_NAME_MAX];
	uint32_t local_endpoints;
	bool claimed; /* scratch of lb_hc_set */
	bool dead;    /* closed by lb_hc_set; on hc->dead_listeners until the thread frees it */
	struct hc_listener *next;
};

enum hc_conn_state {
	HC_READING,  /* request head into buf */
	HC_WRITING,  /* response from buf, waiting for EPOLLOUT */
	HC_DRAINING, /* response sent and our side shut down: read until the client closes */
};

struct hc_conn {
	enum hc_kind kind;
	int fd; /* -1 once closed, until freed at the end of the batch */
	enum hc_conn_state state;
	uint32_t events;	     /* registered with epoll */
	struct hc_listener *l;	     /* accepted on; closed before l is freed */
	struct hc_conn *prev, *next; /* hc's open list, oldest first; next: the dead list */
	uint64_t deadline_ns;	     /* CLOCK_MONOTONIC */
	size_t len;		     /* bytes in buf */
	size_t parsed;		     /* buf[0..parsed) is whole, validated lines */
	size_t off;		     /* response bytes sent */
	size_t method_len, target_off, target_len; /* request line, once parsed */
	char buf[HC_BUF_SIZE];
};

struct lb_hc {
	pthread_mutex_t lock;
	/* Under lock: shared by lb_hc_set / lb_hc_port and the server thread. */
	struct hc_listener *listeners;
	struct hc_listener *dead_listeners;

	/* Fixed after lb_hc_new. */
	struct sockaddr_storage addr; /* port 0 */
	socklen_t addrlen;
	char addr_str[INET6_ADDRSTRLEN];
	uint64_t timeout_ns;
	unsigned max_conns;
	int epfd, wakefd;
	enum hc_kind wake_kind; /* the eventfd's epoll data.ptr */
	pthread_t thread;
	bool thread_started;
	bool stopping; /* __atomic */

	/* Owned by the server thread. */
	struct hc_conn *oldest,
		*newest;	    /* open connections; deadlines ascend, as timeout is fixed */
	struct hc_conn *dead_conns; /* closed in this batch, freed after it */
	unsigned nconns;
	int sparefd; /* given up to shed a connection when out of descriptors */
	uint64_t last_shed_warn_ns;
};

/* ---------------------------------------------------------------- HTTP */

static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 405:
		return "Method Not Allowed";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	}
	return "Error";
}

/* RFC 9110 IMF-fixdate, spelled out so the locale cannot change it. */
static void http_date(char *out, size_t len)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, len, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
		 months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* JSON string contents of s; out must hold 6 bytes per input byte plus 1. */
static void json_escape(char *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			*out++ = '\\';
			*out++ = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			out += sprintf(out, "\\u%04x", c);
		} else {
			*out++ = (char)c;
		}
	}
	*out = '\0';
}

/*
 * The request line "METHOD SP TARGET SP HTTP/1.x", CR already stripped.
 * 0 with the offsets in c, or the status to answer with.
 */
static int parse_request_line(struct hc_conn *c, const char *line, size_t len)
{
	size_t i = 0, t;

	while (i < len && is_tchar((unsigned char)line[i]))
		i++;
	if (i == 0 || i == len || line[i] != ' ')
		return 400;
	c->method_len = i;
	t = ++i;
	while (i < len && line[i] > ' ' && line[i] < 0x7f)
		i++;
	if (i == t || i == len || line[i] != ' ')
		return 400;
	c->target_off = t;
	c->target_len = i - t;
	line += i + 1;
	len -= i + 1;
	if (len != 8 || memcmp(line, "HTTP/", 5) != 0 || line[5] < '0' || line[5] > '9' ||
	    line[6] != '.' || line[7] < '0' || line[7] > '9')
		return 400;
	return line[5] == '1' ? 0 : 505;
}

/* "NAME: value" with NAME a token and no control characters but tab. */
static bool header_line_is_valid(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && is_tchar((unsigned char)line[i]))
		i++;
	if (i == 0 || i == len || line[i] != ':')
		return false;
	for (i++; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		if ((ch < ' ' && ch != '\t') || ch == 0x7f)
			return false;
	}
	return true;
}

/*
 * Validate the lines completed since the last call, so a client trickling
 * its head byte by byte costs linear time. 0 while the head is incomplete,
 * 1 once it is complete and valid, or an error status to answer with.
 * Line ends are CRLF or a bare LF, as most servers accept.
 */
static int conn_parse(struct hc_conn *c)
{
	for (;;) {
		char *line = c->buf + c->parsed;
		char *nl = memchr(line, '\n', c->len - c->parsed);
		size_t len;
		int rc;

		if (!nl) {
			/* Fail fast on what is not HTTP at all (TLS, binary) rather than
			 * wait for a line end that may never come. */
			for (size_t i = 0; c->parsed == 0 && i < c->len && i < 32; i++) {
				if (c->buf[i] == ' ')
					break;
				if (!is_tchar((unsigned char)c->buf[i]))
					return 400;
			}
			if (c->len < sizeof(c->buf))
				return 0;
			return c->parsed == 0 ? 414 : 431;
		}
		len = (size_t)(nl - line);
		if (len && line[len - 1] == '\r')
			len--;
		if (c->parsed == 0)
			rc = parse_request_line(c, line, len);
		else if (len == 0)
			return 1;
		else
			rc = header_line_is_valid(line, len) ? 0 : 400;
		if (rc)
			return rc;
		c->parsed = (size_t)(nl + 1 - c->buf);
	}
}

static bool conn_method_is(const struct hc_conn *c, const char *m)
{
	return c->method_len == strlen(m) && memcmp(c->buf, m, c->method_len) == 0;
}

/*
 * Replace the request in c->buf by the response: for status 200 the
 * Service's JSON (turned into a 503 by the caller when it has no local
 * endpoint), otherwise a short text. Called with hc->lock held.
 */
static void conn_build_response(struct hc_conn *c, int status, bool head)
{
	const struct hc_listener *l = c->l;
	char body[2 * 6 * LB_HC_NAME_MAX + 160], date[64];
	const char *type = "application/json", *extra = "";
	int blen, n;

	if (status == 200 || status == 503) {
		char ns[6 * LB_HC_NAME_MAX + 1], name[6 * LB_HC_NAME_MAX + 1];

		json_escape(ns, l->ns);
		json_escape(name, l->name);
		blen = snprintf(body, sizeof(body),
				"{\"service\":{\"namespace\":\"%s\",\"name\":\"%s\"},"
				"\"localEndpoints\":%u,\"serviceProxyHealthy\":true}",
				ns, name, l->local_endpoints);
	} else {
		type = "text/plain; charset=utf-8";
		if (status == 405)
			extra = "Allow: GET, HEAD\r\n";
		blen = snprintf(body, sizeof(body), "%d %s\n", status, status_text(status));
	}
	http_date(date, sizeof(date));
	n = snprintf(c->buf, sizeof(c->buf),
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: %s\r\n"
		     "X-Content-Type-Options: nosniff\r\n"
		     "%s"
		     "Date: %s\r\n"
		     "Content-Length: %d\r\n"
		     "Connection: close\r\n"
		     "\r\n"
		     "%s",
		     status, status_text(status), type, extra, date, blen, head ? "" : body);
	/* Cannot truncate: names are bounded, and escaping at most sextuples them. */
	c->len = (size_t)MIN(n, (int)sizeof(c->buf) - 1);
	c->off = 0;
}

/* ---------------------------------------------------------------- connections */

static void hc_wake(struct lb_hc *hc)
{
	uint64_t one = 1;

	/* Only fails when the counter would overflow: the thread is awake then. */
	if (write(hc->wakefd, &one, sizeof(one)) < 0)
		log_trace("health check wake-up: %s", strerror(errno));
}

static int conn_set_events(struct lb_hc *hc, struct hc_conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (c->events == events)
		return 0;
	if (epoll_ctl(hc->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		return -errno;
	c->events = events;
	return 0;
}

static void conn_close(struct lb_hc *hc, struct hc_conn *c)
{
	if (c->fd < 0)
		return;
	epoll_ctl(hc->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		hc->oldest = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		hc->newest = c->prev;
	hc->nconns--;
	/* Later events of this batch may still point at c: free it after the batch. */
	c->prev = NULL;
	c->next = hc->dead_conns;
	hc->dead_conns = c;
}

/* Send what is left of the response; then half-close and drain. */
static void conn_write(struct lb_hc *hc, struct hc_conn *c)
{
	while (c->off < c->len) {
		ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* A client that does not read: wait for room until the deadline. */
			c->state = HC_WRITING;
			if (conn_set_events(hc, c, EPOLLOUT) < 0)
				conn_close(hc, c);
			return;
		}
		if (n <= 0) {
			conn_close(hc, c);
			return;
		}
		c->off += (size_t)n;
	}
	/*
	 * Lingering close: closing with unread request bytes (a body, pipelined
	 * requests, the rest of an oversized head) would send a RST that can
	 * destroy the response before the client reads it. Send our FIN and
	 * wait for the client's, within the same deadline.
	 */
	shutdown(c->fd, SHUT_WR);
	c->state = HC_DRAINING;
	if (conn_set_events(hc, c, EPOLLIN) < 0)
		conn_close(hc, c);
}

/* Answer the request in c->buf with status (200: the Service's own). */
static void conn_respond(struct lb_hc *hc, struct hc_conn *c, int status)
{
	const struct hc_listener *l = c->l;
	bool head = c->method_len && conn_method_is(c, "HEAD");

	if (status == 200 && !l->local_endpoints)
		status = 503;
	if (c->method_len)
		log_debug("health check port %u (%s/%s): %.*s %.*s -> %d", l->port, l->ns, l->name,
			  (int)c->method_len, c->buf, (int)MIN(c->target_len, 128),
			  c->buf + c->target_off, status);
	else
		log_debug("health check port %u (%s/%s): unparsable request -> %d", l->port, l->ns,
			  l->name, status);
	conn_build_response(c, status, head);
	conn_write(hc, c);
}

static void conn_read(struct lb_hc *hc, struct hc_conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		int rc;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* Gone (or half-closed) before a whole request: nothing to answer. */
			conn_close(hc, c);
			return;
		}
		c->len += (size_t)n;
		rc = conn_parse(c);
		if (rc == 0)
			continue;
		if (rc == 1)
			rc = conn_method_is(c, "GET") || conn_method_is(c, "HEAD") ? 200 : 405;
		else if (c->parsed == 0)
			c->method_len = 0; /* no valid request line: no method to echo */
		conn_respond(hc, c, rc);
		return;
	}
}

static void conn_drain(struct lb_hc *hc, struct hc_conn *c)
{
	for (int i = 0; i < HC_DRAIN_BATCH; i++) {
		ssize_t n = recv(c->fd, c->buf, sizeof(c->buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_close(hc, c);
			return;
		}
	}
}

static void conn_event(struct lb_hc *hc, struct hc_conn *c)
{
	if (c->fd < 0)
		return;
	if (c->l->dead) {
		conn_close(hc, c);
		return;
	}
	switch (c->state) {
	case HC_READING:
		conn_read(hc, c);
		break;
	case HC_WRITING:
		conn_write(hc, c);
		break;
	case HC_DRAINING:
		conn_drain(hc, c);
		break;
	}
}

/*
 * Out of descriptors, a level-triggered listener would wake us forever:
 * give up the spare descriptor for a moment to accept and drop one
 * connection, and say so now and then.
 */
static void listener_shed(struct lb_hc *hc, struct hc_listener *l, int err)
{
	uint64_t now = now_mono_ns();

	if (hc->sparefd >= 0) {
		int fd;

		close(hc->sparefd);
		fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
		hc->sparefd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (now - hc->last_shed_warn_ns > 10ull * 1000000000ull || !hc->last_shed_warn_ns) {
		hc->last_shed_warn_ns = now;
		log_warn("health check port %u: cannot accept: %s; dropping connections", l->port,
			 strerror(err));
	}
}

static void listener_accept(struct lb_hc *hc, struct hc_listener *l)
{
	for (int i = 0; i < HC_ACCEPT_BATCH; i++) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct hc_conn *c;
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), err;

		if (fd < 0) {
			err = errno;
			if (err == EAGAIN || err == EWOULDBLOCK)
				return;
			if (err == EINTR || err == ECONNABORTED || err == EPROTO)
				continue;
			if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)
				listener_shed(hc, l, err);
			else
				log_warn("health check port %u: accept: %s", l->port,
					 strerror(err));
			return;
		}
		if (hc->nconns >= hc->max_conns) {
			/* Evict the oldest, so idle connections cannot lock probes out. */
			log_debug("health check: %u connections open, closing the oldest",
				  hc->nconns);
			conn_close(hc, hc->oldest);
		}
		c = xcalloc(1, sizeof(*c));
		c->kind = HC_CONN;
		c->fd = fd;
		c->l = l;
		c->state = HC_READING;
		c->events = EPOLLIN;
		c->deadline_ns = now_mono_ns() + hc->timeout_ns;
		ev.data.ptr = c;
		if (epoll_ctl(hc->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			log_warn("health check port %u: epoll_ctl: %s", l->port, strerror(errno));
			close(fd);
			free(c);
			return;
		}
		c->prev = hc->newest;
		if (hc->newest)
			hc->newest->next = c;
		else
			hc->oldest = c;
		hc->newest = c;
		hc->nconns++;
	}
}

/* ---------------------------------------------------------------- thread */

/* epoll_wait's timeout: until the oldest connection's deadline, or forever. */
static int next_timeout_ms(const struct lb_hc *hc)
{
	uint64_t now, ms;

	if (!hc->oldest)
		return -1;
	now = now_mono_ns();
	if (hc->oldest->deadline_ns <= now)
		return 0;
	ms = (hc->oldest->deadline_ns - now + 999999) / 1000000;
	return (int)MIN(ms, (uint64_t)60000);
}

static void expire_conns(struct lb_hc *hc)
{
	uint64_t now = now_mono_ns();

	while (hc->oldest && hc->oldest->deadline_ns <= now) {
		log_debug("health check port %u: closing a connection after %llu ms",
			  hc->oldest->l->port, (unsigned long long)(hc->timeout_ns / 1000000));
		conn_close(hc, hc->oldest);
	}
}

/* After a batch, with hc->lock held: free what lb_hc_set closed and what we closed. */
static void reap(struct lb_hc *hc)
{
	if (hc->dead_listeners) {
		for (struct hc_conn *c = hc->oldest, *next; c; c = next) {
			next = c->next;
			if (c->l->dead)
				conn_close(hc, c);
		}
		while (hc->dead_listeners) {
			struct hc_listener *l = hc->dead_listeners;

			hc->dead_listeners = l->next;
			free(l);
		}
	}
	while (hc->dead_conns) {
		struct hc_conn *c = hc->dead_conns;

		hc->dead_conns = c->next;
		free(c);
	}
}

static void *hc_thread(void *arg)
{
	struct lb_hc *hc = arg;
	struct epoll_event evs[HC_EVENTS];

	for (;;) {
		int n = epoll_wait(hc->epfd, evs, HC_EVENTS, next_timeout_ms(hc));
		bool stop;

		if (n < 0) {
			if (errno != EINTR) {
				log_error("health check server: epoll_wait: %s", strerror(errno));
				usleep(100000);
			}
			n = 0;
		}
		pthread_mutex_lock(&hc->lock);
		for (int i = 0; i < n; i++) {
			enum hc_kind *kind = evs[i].data.ptr;

			if (*kind == HC_WAKE) {
				uint64_t v;

				if (read(hc->wakefd, &v, sizeof(v)) < 0)
					log_trace("health check wake-up: %s", strerror(errno));
			} else if (*kind == HC_LISTENER) {
				struct hc_listener *l = (struct hc_listener *)kind;

				if (!l->dead)
					listener_accept(hc, l);
			} else {
				conn_event(hc, (struct hc_conn *)kind);
			}
		}
		expire_conns(hc);
		reap(hc);
		/*
		 * Checked after the batch, not before it: the batch may have read
		 * the eventfd and so consumed lb_hc_free's wake-up, and the flag it
		 * set before writing is visible once that read is done. Checked
		 * first, a stop landing between the check and the read was lost and
		 * the next epoll_wait slept forever under pthread_join.
		 */
		stop = __atomic_load_n(&hc->stopping, __ATOMIC_ACQUIRE);
		pthread_mutex_unlock(&hc->lock);
		if (stop)
			break;
	}
	return NULL;
}

/* ---------------------------------------------------------------- listeners */

/* Bind, listen and register a port. 0, or -errno with the failing step in why. */
static int listener_open(struct lb_hc *hc, struct hc_listener *l, char *why, size_t whylen)
{
	struct sockaddr_storage ss = hc->addr;
	socklen_t len = hc->addrlen;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };
	const char *step;
	int fd, one = 1, err;

	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(l->req_port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(l->req_port);
	step = "socket";
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	step = "SO_REUSEADDR";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	step = "bind";
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		goto fail;
	step = "listen";
	if (listen(fd, HC_BACKLOG) < 0)
		goto fail;
	step = "getsockname";
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		goto fail;
	l->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						: ((struct sockaddr_in6 *)&ss)->sin6_port);
	l->fd = fd;
	step = "epoll_ctl";
	if (epoll_ctl(hc->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		goto fail;
	return 0;
fail:
	err = -errno;
	snprintf(why, whylen, "%s: %s", step, strerror(-err));
	if (fd >= 0)
		close(fd);
	l->fd = -1;
	return err;
}

/* With hc->lock held. The thread frees l once no epoll batch can hold it. */
static void listener_close(struct lb_hc *hc, struct hc_listener *l)
{
	log_info("health check port %u for %s/%s closed", l->port, l->ns, l->name);
	epoll_ctl(hc->epfd, EPOLL_CTL_DEL, l->fd, NULL);
	close(l->fd);
	l->fd = -1;
	l->dead = true;
	l->next = hc->dead_listeners;
	hc->dead_listeners = l;
}

static void copy_name(char *dst, const char *src)
{
	size_t n = strnlen(src, LB_HC_NAME_MAX - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Identity of a port: the requested number, or namespace/name for ephemeral ones. */
static int key_cmp(uint16_t pa, const char *nsa, const char *na, uint16_t pb, const char *nsb,
		   const char *nb)
{
	int r;

	if (pa != pb)
		return pa < pb ? -1 : 1;
	if (pa)
		return 0;
	r = strncmp(nsa, nsb, LB_HC_NAME_MAX);
	return r ? r : strncmp(na, nb, LB_HC_NAME_MAX);
}

static int listener_ptr_cmp(const void *a, const void *b)
{
	const struct hc_listener *la = *(struct hc_listener *const *)a;
	const struct hc_listener *lb = *(struct hc_listener *const *)b;

	return key_cmp(la->req_port, la->ns, la->name, lb->req_port, lb->ns, lb->name);
}

static int svc_listener_cmp(const void *key, const void *elem)
{
	const struct lb_hc_service *s = key;
	const struct hc_listener *l = *(struct hc_listener *const *)elem;

	return key_cmp(s->port, s->ns, s->name, l->req_port, l->ns, l->name);
}

/*
 * Whether an ephemeral entry's Service is already among the new ones: the
 * taken bitmap cannot tell, and two ports would open for one name. A linear
 * scan, as only tests use port 0.
 */
static bool fresh_has(const struct lb_hc_service *svcs, const size_t *fresh, size_t nfresh,
		      const struct lb_hc_service *s)
{
	for (size_t k = 0; k < nfresh; k++) {
		const struct lb_hc_service *f = &svcs[fresh[k]];

		if (!key_cmp(f->port, f->ns, f->name, s->port, s->ns, s->name))
			return true;
	}
	return false;
}

/* The error lb_hc_set reports: that of the first entry in svcs order. */
struct set_errors {
	size_t first;
	int rc;
	unsigned count;
	char msg[256];
};

static void __attribute__((format(printf, 4, 5)))
set_error(struct set_errors *e, size_t i, int rc, const char *fmt, ...)
{
	va_list ap;

	e->count++;
	if (e->rc && i >= e->first)
		return;
	e->first = i;
	e->rc = rc;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

int lb_hc_set(struct lb_hc *hc, const struct lb_hc_service *svcs, size_t n, char *err,
	      size_t errlen)
{
	struct set_errors e = { 0 };
	struct hc_listener **sorted = NULL, **pp;
	uint64_t *taken = xcalloc(65536 / 64, sizeof(*taken));
	size_t *fresh = xcalloc(n + 1, sizeof(*fresh));
	size_t nl = 0, nfresh = 0;
	bool closed = false;

	pthread_mutex_lock(&hc->lock);
	for (struct hc_listener *l = hc->listeners; l; l = l->next)
		nl++;
	sorted = xcalloc(nl + 1, sizeof(*sorted));
	nl = 0;
	for (struct hc_listener *l = hc->listeners; l; l = l->next) {
		l->claimed = false;
		sorted[nl++] = l;
	}
	qsort(sorted, nl, sizeof(*sorted), listener_ptr_cmp);

	/* Match entries to open ports; update those in place. */
	for (size_t i = 0; i < n; i++) {
		const struct lb_hc_service *s = &svcs[i];
		struct hc_listener **found, *l;

		if (s->port && (taken[s->port / 64] >> (s->port % 64)) & 1) {
			set_error(
				&e, i, -EADDRINUSE,
				"health check port %u of %.63s/%.63s: taken by an earlier Service",
				s->port, s->ns, s->name);
			continue;
		}
		if (s->port)
			taken[s->port / 64] |= 1ull << (s->port % 64);
		found = bsearch(s, sorted, nl, sizeof(*sorted), svc_listener_cmp);
		if (!found) {
			if (!s->port && fresh_has(svcs, fresh, nfresh, s)) {
				set_error(&e, i, -EADDRINUSE, "%.63s/%.63s listed twice", s->ns,
					  s->name);
				continue;
			}
			fresh[nfresh++] = i;
			continue;
		}
		l = *found;
		if (l->claimed) { /* the same ephemeral Service twice */
			set_error(&e, i, -EADDRINUSE, "%.63s/%.63s listed twice", s->ns, s->name);
			continue;
		}
		l->claimed = true;
		if (strncmp(l->ns, s->ns, LB_HC_NAME_MAX) ||
		    strncmp(l->name, s->name, LB_HC_NAME_MAX)) {
			copy_name(l->ns, s->ns);
			copy_name(l->name, s->name);
			log_info("health check port %u now serves %s/%s", l->port, l->ns, l->name);
		}
		if (l->local_endpoints != s->local_endpoints)
			log_debug("health check port %u (%s/%s): %u -> %u local endpoints", l->port,
				  l->ns, l->name, l->local_endpoints, s->local_endpoints);
		l->local_endpoints = s->local_endpoints;
	}

	/* Close before opening, so a port can move from one entry kind to another. */
	for (pp = &hc->listeners; *pp;) {
		struct hc_listener *l = *pp;

		if (l->claimed) {
			pp = &l->next;
			continue;
		}
		*pp = l->next;
		listener_close(hc, l);
		closed = true;
	}

	for (size_t k = 0; k < nfresh; k++) {
		const struct lb_hc_service *s = &svcs[fresh[k]];
		struct hc_listener *l = xcalloc(1, sizeof(*l));
		char why[128];
		int rc;

		l->kind = HC_LISTENER;
		l->req_port = s->port;
		copy_name(l->ns, s->ns);
		copy_name(l->name, s->name);
		l->local_endpoints = s->local_endpoints;
		rc = listener_open(hc, l, why, sizeof(why));
		if (rc < 0) {
			set_error(&e, fresh[k], rc, "health check port %u of %s/%s on %s: %s",
				  s->port, l->ns, l->name, hc->addr_str, why);
			free(l);
			continue;
		}
		l->next = hc->listeners;
		hc->listeners = l;
		log_info("health check port %u for %s/%s open on %s (%u local endpoints)", l->port,
			 l->ns, l->name, hc->addr_str, l->local_endpoints);
	}
	pthread_mutex_unlock(&hc->lock);

	/* The thread closes the removed ports' connections and frees them. */
	if (closed)
		hc_wake(hc);
	free(sorted);
	free(fresh);
	free(taken);
	if (e.rc && e.count > 1)
		errbuf_setf(err, errlen, "%s (and %u more)", e.msg, e.count - 1);
	else if (e.rc)
		errbuf_setf(err, errlen, "%s", e.msg);
	return e.rc;
}

int lb_hc_port(struct lb_hc *hc, const char *ns, const char *name)
{
	int port = -ENOENT;

	pthread_mutex_lock(&hc->lock);
	for (struct hc_listener *l = hc->listeners; l; l = l->next) {
		if (!strncmp(l->ns, ns, LB_HC_NAME_MAX) &&
		    !strncmp(l->name, name, LB_HC_NAME_MAX)) {
			port = l->port;
			break;
		}
	}
	pthread_mutex_unlock(&hc->lock);
	return port;
}

/* ---------------------------------------------------------------- life cycle */

static int parse_addr(struct lb_hc *hc, const char *addr)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&hc->addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&hc->addr;

	if (!addr)
		addr = "0.0.0.0";
	if (strlen(addr) >= sizeof(hc->addr_str))
		return -EINVAL;
	memset(&hc->addr, 0, sizeof(hc->addr));
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		hc->addrlen = sizeof(*in);
	} else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		hc->addrlen = sizeof(*in6);
	} else {
		return -EINVAL;
	}
	snprintf(hc->addr_str, sizeof(hc->addr_str), "%s", addr);
	return 0;
}

struct lb_hc *lb_hc_new_limits(const char *listen_addr, const struct lb_hc_limits *lim, char *err,
			       size_t errlen)
{
	struct lb_hc *hc = xcalloc(1, sizeof(*hc));
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t all, old;
	int rc;

	pthread_mutex_init(&hc->lock, NULL);
	hc->epfd = hc->wakefd = hc->sparefd = -1;
	hc->wake_kind = HC_WAKE;
	hc->timeout_ns =
		(uint64_t)(lim && lim->timeout_ms ? lim->timeout_ms : LB_HC_DEFAULT_TIMEOUT_MS) *
		1000000ull;
	hc->max_conns = lim && lim->max_conns ? lim->max_conns : LB_HC_DEFAULT_MAX_CONNS;
	if (parse_addr(hc, listen_addr) < 0) {
		errbuf_setf(err, errlen,
			    "bad health check listen address \"%s\" (want an IP address)",
			    listen_addr);
		goto fail;
	}
	hc->epfd = epoll_create1(EPOLL_CLOEXEC);
	hc->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	hc->sparefd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ev.data.ptr = &hc->wake_kind;
	if (hc->epfd < 0 || hc->wakefd < 0 ||
	    epoll_ctl(hc->epfd, EPOLL_CTL_ADD, hc->wakefd, &ev) < 0) {
		errbuf_setf(err, errlen, "health check server: %s", strerror(errno));
		goto fail;
	}
	/* The agent waits for signals in one thread; this one must never take them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&hc->thread, NULL, hc_thread, hc);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		errbuf_setf(err, errlen, "health check server thread: %s", strerror(rc));
		goto fail;
	}
	hc->thread_started = true;
	return hc;
fail:
	lb_hc_free(hc);
	return NULL;
}

struct lb_hc *lb_hc_new(const char *listen_addr, char *err, size_t errlen)
{
	return lb_hc_new_limits(listen_addr, NULL, err, errlen);
}

void lb_hc_free(struct lb_hc *hc)
{
	unsigned nports = 0;

	if (!hc)
		return;
	if (hc->thread_started) {
		__atomic_store_n(&hc->stopping, true, __ATOMIC_RELEASE);
		hc_wake(hc);
		pthread_join(hc->thread, NULL);
	}
	/* Single-threaded from here. */
	while (hc->oldest)
		conn_close(hc, hc->oldest);
	while (hc->listeners) {
		struct hc_listener *l = hc->listeners;

		hc->listeners = l->next;
		close(l->fd);
		free(l);
		nports++;
	}
	reap(hc);
	if (nports)
		log_info("health check server stopped, %u ports closed", nports);
	if (hc->epfd >= 0)
		close(hc->epfd);
	if (hc->wakefd >= 0)
		close(hc->wakefd);
	if (hc->sparefd >= 0)
		close(hc->sparefd);
	pthread_mutex_destroy(&hc->lock);
	free(hc);
}
