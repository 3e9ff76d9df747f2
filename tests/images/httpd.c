/*
 * httpd - the test web server of image capstan.local/httpd:1.
 *
 * Every request gets "200 OK" and the pod's hostname plus a newline as its
 * body (after $HTTPD_BANNER and a space when that is set: image
 * capstan.local/httpd:2 sets it to "v2", so rollouts can be told apart), which is what service and
 * load-balancing tests need to see which backend answered. It speaks HTTP/1.1 with keep-alive and
 * pipelining (HTTP/1.0 keeps the connection only when asked), skips request bodies announced by
 * Content-Length, refuses chunked bodies (501) and malformed requests (400), and logs one line per
 * request to stdout.
 *
 *   httpd [-p PORT]        (or $PORT; default 80)
 *
 * One thread, one epoll set, level-triggered: each connection has a bounded
 * input buffer (a request head larger than it gets 431) and a bounded output
 * buffer; when the output buffer cannot take another answer the connection
 * stops being read until the peer drains it, so a client that pipelines and
 * never reads costs at most those two buffers. Idle connections are closed
 * after a minute; past the connection limit new connections are closed at
 * once. The socket is IPv6 dual-stack when the namespace has IPv6, IPv4
 * otherwise. SIGTERM and SIGINT (through a signalfd) end it with status 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "imgprog.h"

#define IN_MAX 8192
#define OUT_MAX 8192
/* Room an answer needs in the output buffer (headers + hostname). */
#define ANSWER_MAX 512
#define CONN_MAX 8192
#define IDLE_S 60
/* How long a closing connection's unread input is drained (see conn_linger). */
#define LINGER_S 2
#define LOG_TARGET_MAX 200

struct conn {
	int fd;
	char in[IN_MAX];
	size_t in_len;
	char out[OUT_MAX];
	size_t out_len, out_off;
	uint64_t body_left; /* request body bytes still to skip */
	bool closing;	    /* close once out is drained */
	bool eof;	    /* the peer will send nothing more */
	bool lingering;	    /* answered and shut down: draining input until EOF */
	uint32_t events;    /* what epoll watches now */
	time_t last;
	char peer[64];
};

static char hostname[256];
static size_t hostname_len;
static int epfd = -1;
static struct conn **conns; /* by fd */
static int conns_cap;
static int nconns;

static void conn_close(struct conn *c)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	conns[c->fd] = NULL;
	nconns--;
	free(c);
}

/*
 * Closing while the peer may still be sending would make the kernel answer
 * with a reset, which can destroy our answer in flight (a 400 or 431 sent
 * before the rest of the request arrived). So: stop sending, then read and
 * drop input until the peer closes or LINGER_S passes.
 */
static void conn_linger(struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	shutdown(c->fd, SHUT_WR);
	c->lingering = true;
	c->in_len = 0;
	c->last = time(NULL);
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->events = EPOLLIN;
}

/* Watch for input only while there is room to take it and answer it. */
static void conn_update(struct conn *c)
{
	uint32_t want = 0;
	struct epoll_event ev;

	if (!c->closing && !c->eof && c->in_len < IN_MAX && OUT_MAX - c->out_len >= ANSWER_MAX)
		want |= EPOLLIN;
	if (c->out_len > c->out_off)
		want |= EPOLLOUT;
	if (want == c->events)
		return;
	ev.events = want;
	ev.data.ptr = c;
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->events = want;
}

/* Send what is buffered. false when the connection was closed. */
static bool conn_flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn_close(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		if (c->eof) {
			conn_close(c);
			return false;
		}
		if (c->closing) {
			conn_linger(c);
			return false;
		}
	} else if (c->out_off > OUT_MAX / 2) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	return true;
}

static void append_answer(struct conn *c, int status, const char *reason, bool head, bool keep)
{
	const char *body = status == 200 ? hostname : reason;
	size_t body_len = status == 200 ? hostname_len : strlen(reason);
	int n;

	n = snprintf(c->out + c->out_len, OUT_MAX - c->out_len,
		     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
		     "Connection: %s\r\n\r\n%.*s",
		     status, reason, body_len + 1, keep ? "keep-alive" : "close",
		     head ? 0 : (int)body_len, body);
	if (n < 0 || (size_t)n >= OUT_MAX - c->out_len - 1)
		return; /* cannot happen: ANSWER_MAX of room is checked before parsing */
	c->out_len += (size_t)n;
	if (!head)
		c->out[c->out_len++] = '\n';
	if (!keep)
		c->closing = true;
}

static void log_request(const struct conn *c, const char *method, size_t mlen, const char *target,
			size_t tlen, const char *version, int status)
{
	char t[LOG_TARGET_MAX + 1], when[40];
	size_t n = tlen < LOG_TARGET_MAX ? tlen : LOG_TARGET_MAX;

	for (size_t i = 0; i < n; i++)
		t[i] = (target[i] > 0x20 && target[i] < 0x7f) ? target[i] : '?';
	t[n] = '\0';
	imgprog_time(when, sizeof(when));
	/* version is "-" or points at the 8 bytes "HTTP/1.x" inside the request. */
	printf("%s %s \"%.*s %s %.*s\" %d\n", when, c->peer, (int)mlen, method, t,
	       (int)strnlen(version, 8), version, status);
}

/* Does the comma-separated header value contain token (case-insensitive)? */
static bool has_token(const char *v, size_t len, const char *token)
{
	size_t tl = strlen(token), i = 0;

	while (i < len) {
		size_t start, end;

		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		start = i;
		while (i < len && v[i] != ',')
			i++;
		end = i;
		while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		if (end - start == tl && strncasecmp(v + start, token, tl) == 0)
			return true;
	}
	return false;
}

static bool is_tchar(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/*
 * Handle one complete request head of len bytes (without the blank line):
 * append the answer, and mark the connection closing when it must end.
 */
static void handle_head(struct conn *c, char *head, size_t len)
{
	char *line_end = memchr(head, '\n', len), *p, *sp1, *sp2, *version;
	size_t rl = line_end ? (size_t)(line_end - head) : len, mlen, tlen;
	bool http11, keep, head_method, bad = false, chunked = false;
	uint64_t content_length = 0;
	bool have_cl = false, expect = false;

	if (rl && head[rl - 1] == '\r')
		rl--;
	sp1 = memchr(head, ' ', rl);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', rl - (size_t)(sp1 + 1 - head)) : NULL;
	if (!sp1 || !sp2 || sp1 == head || sp2 == sp1 + 1) {
		append_answer(c, 400, "Bad Request", false, false);
		log_request(c, "-", 1, "-", 1, "-", 400);
		return;
	}
	mlen = (size_t)(sp1 - head);
	tlen = (size_t)(sp2 - sp1 - 1);
	version = sp2 + 1;
	for (size_t i = 0; i < mlen; i++)
		bad |= !is_tchar(head[i]);
	for (size_t i = 0; i < tlen; i++)
		bad |= (unsigned char)sp1[1 + i] <= 0x20 || sp1[1 + i] == 0x7f;
	if ((size_t)(head + rl - version) != 8 ||
	    (strncmp(version, "HTTP/1.1", 8) && strncmp(version, "HTTP/1.0", 8)))
		bad = true;
	if (bad) {
		append_answer(c, 400, "Bad Request", false, false);
		log_request(c, head, mlen, sp1 + 1, tlen, "-", 400);
		return;
	}
	http11 = version[7] == '1';
	keep = http11;
	head_method = mlen == 4 && memcmp(head, "HEAD", 4) == 0;

	/* Header fields: "Name: value" per line. */
	for (p = line_end ? line_end + 1 : head + len; p < head + len;) {
		char *nl = memchr(p, '\n', (size_t)(head + len - p)), *colon, *v;
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(head + len - p), nlen, vlen;

		if (ll && p[ll - 1] == '\r')
			ll--;
		colon = memchr(p, ':', ll);
		if (!colon || colon == p) {
			bad = true;
			break;
		}
		nlen = (size_t)(colon - p);
		v = colon + 1;
		vlen = ll - nlen - 1;
		while (vlen && (*v == ' ' || *v == '\t'))
			v++, vlen--;
		while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		if (nlen == 10 && !strncasecmp(p, "Connection", 10)) {
			if (has_token(v, vlen, "close"))
				keep = false;
			else if (has_token(v, vlen, "keep-alive"))
				keep = true;
		} else if (nlen == 14 && !strncasecmp(p, "Content-Length", 14)) {
			uint64_t cl = 0;

			if (vlen == 0 || vlen > 18)
				bad = true;
			for (size_t i = 0; i < vlen && !bad; i++) {
				if (v[i] < '0' || v[i] > '9')
					bad = true;
				else
					cl = cl * 10 + (uint64_t)(v[i] - '0');
			}
			if (have_cl && cl != content_length)
				bad = true; /* conflicting lengths: request smuggling bait */
			have_cl = true;
			content_length = cl;
		} else if (nlen == 17 && !strncasecmp(p, "Transfer-Encoding", 17)) {
			chunked = true;
		} else if (nlen == 6 && !strncasecmp(p, "Expect", 6)) {
			/*
			 * The client waits for "100 Continue" before its body; it gets
			 * the final answer instead and may or may not send the body, so
			 * the connection cannot be trusted afterwards.
			 */
			expect = true;
		}
		p = nl ? nl + 1 : head + len;
	}
	if (bad) {
		append_answer(c, 400, "Bad Request", false, false);
		log_request(c, head, mlen, sp1 + 1, tlen, version, 400);
		return;
	}
	if (chunked) {
		/* Not worth parsing chunked bodies here: say so and close. */
		append_answer(c, 501, "Not Implemented", head_method, false);
		log_request(c, head, mlen, sp1 + 1, tlen, version, 501);
		return;
	}
	c->body_left = content_length;
	append_answer(c, 200, "OK", head_method, keep && !(expect && content_length));
	log_request(c, head, mlen, sp1 + 1, tlen, version, 200);
}

/* The end of the first request head in buf ("\r\n\r\n" or "\n\n"), or NULL. */
static char *find_head_end(char *buf, size_t len, size_t *sep)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n') {
			*sep = 2;
			return buf + i;
		}
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
			*sep = 3;
			return buf + i;
		}
	}
	return NULL;
}

/* Answer every complete request in the input buffer that fits the output. */
static void conn_process(struct conn *c)
{
	size_t used = 0;

	while (!c->closing && OUT_MAX - c->out_len >= ANSWER_MAX) {
		char *start = c->in + used, *end;
		size_t avail = c->in_len - used, sep = 0, skip;

		if (c->body_left) {
			skip = avail < c->body_left ? avail : (size_t)c->body_left;
			c->body_left -= skip;
			used += skip;
			if (c->body_left)
				break;
			continue;
		}
		/* Tolerate blank lines between requests (RFC 9112 2.2). */
		while (avail && (*start == '\r' || *start == '\n'))
			start++, avail--, used++;
		if (!avail)
			break;
		end = find_head_end(start, avail, &sep);
		if (!end) {
			if (c->in_len == IN_MAX && used == 0) {
				append_answer(c, 431, "Request Header Fields Too Large", false,
					      false);
				log_request(c, "-", 1, "-", 1, "-", 431);
			}
			break;
		}
		handle_head(c, start, (size_t)(end - start));
		used += (size_t)(end - start) + sep;
	}
	if (used) {
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
	}
}

/*
 * Answer and send until the input holds no complete request or the peer
 * stops taking answers. Input already buffered brings no new epoll event,
 * so a burst of pipelined requests is worked off here, not left waiting.
 */
static void conn_run(struct conn *c)
{
	for (;;) {
		size_t before = c->in_len;

		conn_process(c);
		if (!conn_flush(c))
			return;
		if (c->in_len == before || c->out_len > 0 || c->closing)
			break;
	}
	conn_update(c);
}

static void conn_readable(struct conn *c)
{
	ssize_t n;

	if (c->lingering) {
		n = recv(c->fd, c->in, IN_MAX, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_close(c);
		return;
	}
	n = recv(c->fd, c->in + c->in_len, IN_MAX - c->in_len, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n < 0) {
		conn_close(c);
		return;
	}
	c->last = time(NULL);
	if (n == 0) {
		c->eof = true;
		if (c->out_len == c->out_off) {
			conn_close(c);
			return;
		}
	}
	c->in_len += (size_t)n;
	conn_run(c);
}

static void conn_writable(struct conn *c)
{
	c->last = time(NULL);
	conn_run(c); /* room again: answer pipelined requests held back */
}

static void accept_all(int lfd)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct epoll_event ev;
		struct conn *c;
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return; /* EAGAIN, or EMFILE: the listener stays readable, retried */
		if (fd >= conns_cap || nconns >= CONN_MAX) {
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->last = time(NULL);
		c->events = EPOLLIN;
		imgprog_peer(&ss, c->peer, sizeof(c->peer));
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			free(c);
			continue;
		}
		conns[fd] = c;
		nconns++;
	}
}

static void close_idle(time_t now)
{
	for (int fd = 0; fd < conns_cap; fd++)
		if (conns[fd] && now - conns[fd]->last > (conns[fd]->lingering ? LINGER_S : IDLE_S))
			conn_close(conns[fd]);
}

int main(int argc, char **argv)
{
	static char listener_tag, signal_tag;
	const char *port_s = getenv("PORT");
	struct epoll_event ev, events[256];
	struct rlimit rl;
	unsigned port = 80;
	sigset_t set;
	int lfd, sfd, opt;
	time_t last_sweep = time(NULL);

	while ((opt = getopt(argc, argv, "p:h")) != -1) {
		if (opt == 'p') {
			port_s = optarg;
		} else {
			fprintf(stderr, "usage: httpd [-p PORT]   (or $PORT; default 80)\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (port_s && imgprog_port(port_s, &port) != 0) {
		fprintf(stderr, "httpd: bad port '%s'\n", port_s);
		return 2;
	}
	hostname_len = imgprog_hostname(hostname, sizeof(hostname));
	if (getenv("HTTPD_BANNER") && *getenv("HTTPD_BANNER")) {
		char name[sizeof(hostname)];

		memcpy(name, hostname, sizeof(name));
		snprintf(hostname, sizeof(hostname), "%.64s %.128s", getenv("HTTPD_BANNER"), name);
		hostname_len = strlen(hostname);
	}

	/* Many connections: raise the soft descriptor limit to the hard one. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	conns_cap = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur
									      : 65536;
	conns = calloc((size_t)conns_cap, sizeof(*conns));

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	lfd = imgprog_bind(SOCK_STREAM, port);
	if (lfd >= 0 && listen(lfd, 1024) != 0) {
		close(lfd);
		lfd = -1;
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || sfd < 0 || lfd < 0 || epfd < 0) {
		fprintf(stderr, "httpd: cannot listen on port %u: %s\n", port, strerror(errno));
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = &listener_tag;
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.ptr = &signal_tag;
	epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev);
	printf("httpd: listening on port %u as %s\n", port, hostname);
	fflush(stdout);

	for (;;) {
		int n = epoll_wait(epfd, events, 256, 1000);
		time_t now;

		if (n < 0 && errno != EINTR) {
			perror("httpd: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			void *ptr = events[i].data.ptr;

			if (ptr == &listener_tag) {
				accept_all(lfd);
			} else if (ptr == &signal_tag) {
				printf("httpd: stopping on signal\n");
				fflush(stdout);
				return 0;
			} else {
				struct conn *c = ptr;
				int fd = c->fd;

				if (events[i].events & (EPOLLERR | EPOLLHUP) &&
				    !(events[i].events & EPOLLIN)) {
					conn_close(c);
					continue;
				}
				if (events[i].events & EPOLLOUT)
					conn_writable(c);
				/* conn_writable may have closed it */
				if (conns[fd] == c && events[i].events & EPOLLIN)
					conn_readable(c);
			}
		}
		fflush(stdout);
		now = time(NULL);
		if (now != last_sweep) {
			close_idle(now);
			last_sweep = now;
		}
	}
}
