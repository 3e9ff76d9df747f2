/*
 * Unit tests for agent/lb/healthcheck: the healthCheckNodePort server, over
 * real sockets on 127.0.0.1 (and ::1) with ephemeral ports. A client here is
 * a blocking socket read with poll: every wait is bounded, so a server that
 * never answers fails the test instead of hanging it.
 */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/lb/healthcheck.h"
#include "jsonx.h"

#define LO4 "127.0.0.1"
#define LO6 "::1"
#define WAIT_MS 2000 /* for anything the server should do at once */

static const char GET[] = "GET / HTTP/1.1\r\nHost: node\r\nUser-Agent: probe\r\n\r\n";

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static struct lb_hc *hc_start(const char *addr, unsigned timeout_ms, unsigned max_conns)
{
	struct lb_hc_limits lim = { .timeout_ms = timeout_ms, .max_conns = max_conns };
	char err[256] = "";
	struct lb_hc *hc = lb_hc_new_limits(addr, &lim, err, sizeof(err));

	ASSERT_MSG(hc, "lb_hc_new_limits(%s): %s", addr, err);
	return hc;
}

static struct lb_hc_service svc(const char *ns, const char *name, uint16_t port, uint32_t eps)
{
	struct lb_hc_service s = { .port = port, .local_endpoints = eps };

	snprintf(s.ns, sizeof(s.ns), "%s", ns);
	snprintf(s.name, sizeof(s.name), "%s", name);
	return s;
}

/* lb_hc_set that must succeed; the bound port of the first entry. */
static int hc_set_ok(struct lb_hc *hc, const struct lb_hc_service *s, size_t n)
{
	char err[256] = "";
	int rc = lb_hc_set(hc, s, n, err, sizeof(err));

	ASSERT_MSG(rc == 0, "lb_hc_set: %d (%s)", rc, err);
	if (!n)
		return 0;
	rc = lb_hc_port(hc, s[0].ns, s[0].name);
	ASSERT_MSG(rc > 0 && rc <= 65535, "lb_hc_port(%s/%s): %d", s[0].ns, s[0].name, rc);
	if (s[0].port)
		ASSERT_EQ(rc, s[0].port);
	return rc;
}

static socklen_t loopback(const char *ip, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		return sizeof(*in);
	}
	ASSERT(inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1);
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons((uint16_t)port);
	return sizeof(*in6);
}

/* A connected socket, or -errno (ECONNREFUSED for a closed port). */
static int try_connect(const char *ip, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(ip, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	ASSERT_MSG(fd >= 0, "socket: %s", strerror(errno));
	/* Loopback connects complete (or are refused) at once. */
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int connect_to(const char *ip, int port)
{
	int fd = try_connect(ip, port);

	ASSERT_MSG(fd >= 0, "connect %s port %d: %s", ip, port, strerror(-fd));
	return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		ASSERT_MSG(n > 0, "send: %s", strerror(errno));
		data += n;
		len -= (size_t)n;
	}
}

/* An ephemeral port nobody listens on right now, for entries that need a number. */
static uint16_t free_port(void)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(LO4, 0, &ss);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ASSERT(fd >= 0);
	ASSERT_OK(bind(fd, (struct sockaddr *)&ss, len) < 0 ? -errno : 0);
	ASSERT_OK(getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ? -errno : 0);
	close(fd);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/*
 * How the server ended the connection within timeout_ms: 0 for an orderly
 * close (EOF), -ECONNRESET, or -ETIMEDOUT while it is still open. Data
 * arriving first fails the test: these connections expect none.
 */
static int wait_closed(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;
	ssize_t n;

	if (poll(&p, 1, timeout_ms) == 0)
		return -ETIMEDOUT;
	n = recv(fd, &c, 1, MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	ASSERT_MSG(n == 0, "unexpected data from the server: '%c'", c);
	return 0;
}

static bool is_open(int fd)
{
	return wait_closed(fd, 0) == -ETIMEDOUT;
}

struct resp {
	char raw[8192];
	size_t len;
	int status;
	const char *body; /* into raw, after the blank line */
	size_t body_len;
};

/*
 * Read a whole response: the server closes every connection after one, so
 * read to EOF, within WAIT_MS. Fails on a reset or a malformed head.
 */
static void read_response(int fd, struct resp *r)
{
	double end = now_ms() + WAIT_MS;
	const char *sep;

	memset(r, 0, sizeof(*r));
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)(end - now_ms());
		ssize_t n;

		ASSERT_MSG(left > 0 && poll(&p, 1, left) == 1,
			   "no end of response within %d ms; got %zu bytes: %.*s", WAIT_MS, r->len,
			   (int)r->len, r->raw);
		n = recv(fd, r->raw + r->len, sizeof(r->raw) - 1 - r->len, 0);
		ASSERT_MSG(n >= 0, "recv after %zu bytes: %s", r->len, strerror(errno));
		if (n == 0)
			break;
		r->len += (size_t)n;
		ASSERT_MSG(r->len < sizeof(r->raw) - 1, "response too long");
	}
	r->raw[r->len] = '\0';
	ASSERT_MSG(sscanf(r->raw, "HTTP/1.1 %3d ", &r->status) == 1, "bad status line: %s", r->raw);
	sep = strstr(r->raw, "\r\n\r\n");
	ASSERT_MSG(sep, "no end of head: %s", r->raw);
	r->body = sep + 4;
	r->body_len = r->len - (size_t)(r->body - r->raw);
}

/* The value of header name (case-insensitive), or NULL; valid until the next call. */
static const char *resp_header(const struct resp *r, const char *name)
{
	static char value[256];
	size_t nlen = strlen(name);

	for (const char *line = strstr(r->raw, "\r\n") + 2; line < r->body - 2;
	     line = strstr(line, "\r\n") + 2) {
		const char *eol = strstr(line, "\r\n");

		if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			const char *v = line + nlen + 1;

			while (*v == ' ')
				v++;
			snprintf(value, sizeof(value), "%.*s", (int)(eol - v), v);
			return value;
		}
	}
	return NULL;
}

#define ASSERT_HEADER(r, name, want)                                                           \
	do {                                                                                   \
		const char *h_ = resp_header((r), (name));                                     \
		ASSERT_MSG(h_ &&strcmp(h_, (want)) == 0, "header %s: want \"%s\", got \"%s\"", \
			   (name), (want), h_ ? h_ : "(none)");                                \
	} while (0)

/* The headers every response carries, whatever the status. */
static void check_common_headers(const struct resp *r)
{
	const char *cl;

	ASSERT_HEADER(r, "X-Content-Type-Options", "nosniff");
	ASSERT_HEADER(r, "Connection", "close");
	ASSERT_NOT_NULL(resp_header(r, "Date"));
	cl = resp_header(r, "Content-Length");
	ASSERT_NOT_NULL(cl);
	ASSERT_EQ(strtoul(cl, NULL, 10), r->body_len);
}

/* One request on a new connection: send it whole, read the response. */
static void request_on(const char *ip, int port, const char *req, size_t len, struct resp *r)
{
	int fd = connect_to(ip, port);

	send_all(fd, req, len);
	read_response(fd, r);
	close(fd);
}

static void request(int port, const char *req, struct resp *r)
{
	request_on(LO4, port, req, strlen(req), r);
}

/* The body must be exactly kube-proxy's object for ns/name with eps endpoints. */
static void check_json(const struct resp *r, const char *ns, const char *name, long long eps)
{
	json_error_t jerr;
	json_t *j = json_loadb(r->body, r->body_len, 0, &jerr);

	ASSERT_MSG(j, "body is not JSON (%s): %.*s", jerr.text, (int)r->body_len, r->body);
	ASSERT_HEADER(r, "Content-Type", "application/json");
	ASSERT_EQ(json_object_size(j), 3);
	ASSERT_EQ(json_object_size(jsonx_obj(j, "service")), 2);
	ASSERT_STREQ(jsonx_path_str(j, "service.namespace", "(none)"), ns);
	ASSERT_STREQ(jsonx_path_str(j, "service.name", "(none)"), name);
	ASSERT(json_is_integer(json_object_get(j, "localEndpoints")));
	ASSERT_EQ(jsonx_int(j, "localEndpoints", -1), eps);
	ASSERT(json_is_true(json_object_get(j, "serviceProxyHealthy")));
	json_decref(j);
}

/* ---------------------------------------------------------------- answers */

TEST(agent_healthcheck_local_endpoints_answer_200_with_json)
{
	struct lb_hc *hc = hc_start(LO4, 0, 0);
	struct lb_hc_service s = svc("shop", "web", 0, 2);
	int port = hc_set_ok(hc, &s, 1);
	struct resp r;

	request(port, GET, &r);
	ASSERT_EQ(r.status, 200);
	ASSERT(strncmp(r.raw, "HTTP/1.1 200 OK\r\n", 17) == 0);
	check_common_headers(&r);
	check_json(&r, "shop", "web", 2);

	/* Any path, HTTP/1.0 and bare LF line ends are answered the same. */
	request(port, "GET /healthz?probe=1 HTTP/1.0\nHost: x\n\n", &r);
	ASSERT_EQ(r.status, 200);
	check_json(&r, "shop", "web", 2);
	lb_hc_free(hc);
}

TEST(agent_healthcheck_no_local_endpoints_answer_503)
{
	struct lb_hc *hc = hc_start(LO4, 0, 0);
	struct lb_hc_service s = svc("shop", "web", 0, 0);
	int port = hc_set_ok(hc, &s, 1);
	struct resp r;

	request(port, GET, &r);
	ASSERT_EQ(r.status, 503);
	ASSERT(strncmp(r.raw, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0);
	check_common_headers(&r);
	check_json(&r, "shop", "web", 0);
	lb_hc_free(hc);
}

TEST(agent_healthcheck_names_are_json_escaped)
{
	struct lb_hc *hc = hc_start(LO4, 0, 0);
	/* Not DNS labels, but whatever the names hold must stay valid JSON. */
	struct lb_hc_service s = svc("we\"b\\", "a\x01z", 0, 1);
	int port = hc_set_ok(hc, &s, 1);
	struct resp r;

	request(port, GET, &r);
	ASSERT_EQ(r.status, 200);
	check_json(&r, "we\"b\\", "a\x01z", 1);
	lb_hc_free(hc);
}

TEST(agent_healthcheck_head_has_headers_and_no_body)
{
	struct lb_hc *hc = hc_start(LO4, 0, 0);
	struct lb_hc_service s = svc("shop", "web", 0, 3);
	int port = hc_set_ok(hc, &s, 1);
	struct resp get, head;

	request(port, GET, &get);
	request(port, "HEAD / HTTP/1.1\r\nHost: node\r\n\r\n", &head);
	ASSERT_EQ(head.status, 200);
	ASSERT_HEADER(&head, "Content-Type", "application/json");
	ASSERT_HEADER(&head, "X-Content-Type-Options", "nosniff");
	ASSERT_HEADER(&head, "Connection", "close");
	ASSERT_EQ(head.body_len, 0);
	/* Content-Length is that of the body a GET would get. */
	ASSERT_NE(get.body_len, 0);
	ASSERT_EQ(strtoul(resp_header(&head, "Content-Length"), NULL, 10), get.body_len);
	lb_hc_free(hc);
}

TEST(agent_healthcheck_other_methods_get_405)
{
	static const char post[] =
		"POST / HTTP/1.1\r\nHost: node\r\nContent-Length: 5\r\n\r\nhello";
	struct lb_hc *hc = hc_start(LO4, 0, 0);
	struct lb_hc_service s = svc("shop", "web", 0, 1);
	int port = hc_set_ok(hc, &s, 1);
	struct resp r;

	/* The unread body is drained, not reset: the response arrives whole. */
	request(port, post, &r);
	ASSERT_EQ(r.status, 405);
	check_common_headers(&r);
	ASSERT_HEADER(&r, "Allow", "GET, HEAD");
	ASSERT(r.body_len > 0 && strstr(r.body, "405"));

	/* Methods are case-sensitive. */
	request(port, "get / HTTP/1.1\r\n\r\n", &r);
	ASSERT_EQ(r.status, 405);
	request(port, "DELETE / HTTP/1.1\r\n\r\n", &r);
	ASSERT_EQ(r.status, 405);
	lb_hc_free(hc);
}

TEST(agent_healthcheck_broken_requests_get_400)
{
#define BAD(what, req)                     \
	{                                  \
		what, req, sizeof(req) - 1 \
	}
	static const struct {
		const char *what;
		const char *req;
		size_t len;
	} cases[] = {
		/* A TLS ClientHello has no line end: refused on its first bytes. */
		BAD("TLS", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
		BAD("no version", "GET /\r\n\r\n"),
		BAD("no target", "GET  HTTP/1.1\r\n\r\n"),
		BAD("bad version", "GET / HTTP/1.1x\r\n\r\n"),
		BAD("bad protocol", "GET / HTTX/1.1\r\n\r\n"),
		BAD("empty method", " / HTTP/1.1\r\n\r\n"),
		BAD("header without colon", "GET / HTTP/1.1\r\nHost node\r\n\r\n"),
		BAD("header folding", "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n"),
		BAD("control character", "GET / HTTP/1.1\r\nA: \x01\r\n\r\n"),
	};
#undef BAD
	struct lb_hc *hc = hc_start(LO4, 0, 0);
	struct lb_hc_service s = svc("shop", "web", 0, 1);
	int port = hc_set_ok(hc, &s, 1);
	struct resp r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		request_on(LO4, port, cases[i].req, cases[i].len, &r);
		ASSERT_MSG(r.status == 400, "%s: status %d", cases[i].what, r.status);
		check_common_headers(&r);
		ASSERT_HEADER(&r, "Content-Type", "text/plain; charset=utf-8");
	}
	lb_hc_free(hc);
}

TEST(agent_healthcheck_oversized_heads_get_431_and_414)
{
	struct lb_hc *hc = hc_start(LO4, 0, 0);
	struct lb_hc_service s = svc("shop", "web", 0, 1);
	int port = hc_set_ok(hc, &s, 1);
	char *req = malloc(8192);
	struct resp r;
	size_t len;

	/* Headers past 4 KiB: 431, and the rest of the head is drained, not reset. */
	ASSERT_NOT_NULL(req);
	len = (size_t)sprintf(req, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 100; i++)
		len += (size_t)sprintf(req + len, "X-Filler-%02d: %060d\r\n", i, i);
	len += (size_t)sprintf(req + len, "\r\n");
	ASSERT(len > 4096 + 1024);
	request_on(LO4, port, req, len, &r);
	ASSERT_EQ(r.status, 431);
	check_common_headers(&r);

	/* A request line past 4 KiB: 414. */
	len = (size_t)sprintf(req, "GET /");
	memset(req + len, 'a', 5000);
	len += 5000;
	len += (size_t)sprintf(req + len, " HTTP/1.1\r\n\r\n");
	request_on(LO4, port, req, len, &r);
	ASSERT_EQ(r.status, 414);
	check_common_headers(&r);
	free(req);
	lb_hc_free(hc);
}

TEST(agent_healthcheck_other_http_versions_get_505)
{
	/* HTTP/2 with prior knowledge starts with this preface. */
	static const char h2[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	struct lb_hc *hc = hc_start(LO4, 0, 0);
	struct lb_hc_service s = svc("shop", "web", 0, 1);
	int port = hc_set_ok(hc, &s, 1);
	struct resp r;

	request(port, "GET / HTTP/2.0\r\nHost: node\r\n\r\n", &r);
	ASSERT_EQ(r.status, 505);
	ASSERT(strncmp(r.raw, "HTTP/1.1 505 HTTP Version Not Supported\r\n", 41) == 0);
	check_common_headers(&r);
	request(port, h2, &r);
	ASSERT_EQ(r.status, 505);
	request(port, "GET / HTTP/0.9\r\n\r\n", &r);
	ASSERT_EQ(r.status, 505);
	lb_hc_free(hc);
}

TEST(agent_healthcheck_request_one_byte_at_a_time_is_answered)
{
	struct lb_hc *hc = hc_start(LO4, 0, 0);
	struct lb_hc_service s = svc("shop", "web", 0, 1);
	int port = hc_set_ok(hc, &s, 1);
	int fd = connect_to(LO4, port), one = 1;
	struct resp r;

	/* No Nagle: every byte is its own segment, and most its own read. */
	ASSERT_OK(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
	for (size_t i = 0; i < strlen(GET); i++) {
		send_all(fd, GET + i, 1);
		sleep_ms(1);
	}
	read_response(fd, &r);
	ASSERT_EQ(r.status, 200);
	check_json(&r, "shop", "web", 1);
	close(fd);
	lb_hc_free(hc);
}

TEST(agent_healthcheck_pipelined_requests_get_one_response)
{
	struct lb_hc *hc = hc_start(LO4, 0, 0);
	struct lb_hc_service s = svc("shop", "web", 0, 1);
	int port = hc_set_ok(hc, &s, 1);
	char req[3 * sizeof(GET)];
	struct resp r;

	snprintf(req, sizeof(req), "%s%s%s", GET, GET, GET);
	request(port, req, &r);
	ASSERT_EQ(r.status, 200);
	check_json(&r, "shop", "web", 1);
	/* One response, then the close: no second status line anywhere. */
	ASSERT_NULL(strstr(r.raw + 1, "HTTP/1.1 "));
	lb_hc_free(hc);
}

/* ---------------------------------------------------------------- lb_hc_set */

TEST(agent_healthcheck_set_updates_count_in_place)
{
	struct lb_hc *hc = hc_start(LO4, 0, 0);
	struct lb_hc_service s = svc("shop", "web", 0, 0);
	int port = hc_set_ok(hc, &s, 1), fd;
	struct resp r;

	request(port, GET, &r);
	ASSERT_EQ(r.status, 503);

	/* A connection open across the update is served by the same socket. */
	fd = connect_to(LO4, port);
	s.local_endpoints = 4;
	ASSERT_EQ(hc_set_ok(hc, &s, 1), port);
	send_all(fd, GET, strlen(GET));
	read_response(fd, &r);
	close(fd);
	ASSERT_EQ(r.status, 200);
	check_json(&r, "shop", "web", 4);

	s.local_endpoints = 0;
	ASSERT_EQ(hc_set_ok(hc, &s, 1), port);
	request(port, GET, &r);
	ASSERT_EQ(r.status, 503);
	check_json(&r, "shop", "web", 0);
	lb_hc_free(hc);
}

TEST(agent_healthcheck_removed_service_closes_its_port)
{
	struct lb_hc *hc = hc_start(LO4, 0, 0);
	struct lb_hc_service s[2] = { svc("shop", "web", 0, 1), svc("shop", "db", 0, 1) };
	int port = hc_set_ok(hc, s, 2), db_port = lb_hc_port(hc, "shop", "db"), idle;
	struct resp r;

	idle = connect_to(LO4, port);
	ASSERT_EQ(hc_set_ok(hc, &s[1], 1), db_port);
	/* Refused as soon as lb_hc_set returns, not when the thread gets to it. */
	ASSERT_EQ(try_connect(LO4, port), -ECONNREFUSED);
	ASSERT_EQ(lb_hc_port(hc, "shop", "web"), -ENOENT);
	/* Its open connections are closed too; the other port is untouched. */
	ASSERT_NE(wait_closed(idle, WAIT_MS), -ETIMEDOUT);
	close(idle);
	request(db_port, GET, &r);
	check_json(&r, "shop", "db", 1);

	ASSERT_OK(lb_hc_set(hc, NULL, 0, NULL, 0));
	ASSERT_EQ(try_connect(LO4, db_port), -ECONNREFUSED);
	ASSERT_EQ(lb_hc_port(hc, "shop", "db"), -ENOENT);
	lb_hc_free(hc);
}

TEST(agent_healthcheck_ephemeral_ports_are_kept_by_name)
{
	struct lb_hc *hc = hc_start(LO4, 0, 0);
	struct lb_hc_service a = svc("shop", "web", 0, 1);
	struct lb_hc_service two[2] = { svc("shop", "db", 0, 2), a };
	struct lb_hc_service twice[2] = { svc("shop", "db", 0, 2), svc("shop", "db", 0, 3) };
	int port = hc_set_ok(hc, &a, 1), db_port;
	char err[256] = "";
	struct resp r;

	db_port = hc_set_ok(hc, two, 2);
	ASSERT_NE(db_port, port);
	ASSERT_EQ(lb_hc_port(hc, "shop", "web"), port);
	request(port, GET, &r);
	check_json(&r, "shop", "web", 1);
	request(db_port, GET, &r);
	check_json(&r, "shop", "db", 2);

	/* The same Service twice: the first entry is served, the second refused. */
	ASSERT_EQ(lb_hc_set(hc, twice, 2, err, sizeof(err)), -EADDRINUSE);
	ASSERT_MSG(strstr(err, "shop/db"), "err: %s", err);
	ASSERT_EQ(lb_hc_port(hc, "shop", "db"), db_port);
	ASSERT_EQ(try_connect(LO4, port), -ECONNREFUSED);
	request(db_port, GET, &r);
	check_json(&r, "shop", "db", 2);
	lb_hc_free(hc);
}

TEST(agent_healthcheck_new_service_listed_twice_opens_one_port)
{
	struct lb_hc *hc = hc_start(LO4, 0, 0);
	struct lb_hc_service twice[2] = { svc("shop", "db", 0, 2), svc("shop", "db", 0, 3) };
	char err[256] = "";
	struct resp r;
	int port;

	/* Both entries are new here: still only the first may open a port. */
	ASSERT_EQ(lb_hc_set(hc, twice, 2, err, sizeof(err)), -EADDRINUSE);
	ASSERT_MSG(strstr(err, "shop/db"), "err: %s", err);
	port = lb_hc_port(hc, "shop", "db");
	ASSERT(port > 0);
	request(port, GET, &r);
	check_json(&r, "shop", "db", 2);
	/* And the same list again keeps that one port and the same answer. */
	ASSERT_EQ(lb_hc_set(hc, twice, 2, NULL, 0), -EADDRINUSE);
	ASSERT_EQ(lb_hc_port(hc, "shop", "db"), port);
	request(port, GET, &r);
	check_json(&r, "shop", "db", 2);
	lb_hc_free(hc);
}

TEST(agent_healthcheck_same_port_twice_serves_the_first)
{
	struct lb_hc *hc = hc_start(LO4, 0, 0);
	uint16_t p = free_port();
	struct lb_hc_service s[2] = { svc("shop", "web", p, 1), svc("shop", "db", p, 5) };
	char err[256] = "", want[32];
	struct resp r;

	ASSERT_EQ(lb_hc_set(hc, s, 2, err, sizeof(err)), -EADDRINUSE);
	snprintf(want, sizeof(want), "port %u", p);
	ASSERT_MSG(strstr(err, want) && strstr(err, "shop/db"), "err: %s", err);
	ASSERT_EQ(lb_hc_port(hc, "shop", "web"), p);
	ASSERT_EQ(lb_hc_port(hc, "shop", "db"), -ENOENT);
	request(p, GET, &r);
	ASSERT_EQ(r.status, 200);
	check_json(&r, "shop", "web", 1);

	/* An explicit port is its own identity: another Service takes it over in place. */
	ASSERT_EQ(hc_set_ok(hc, &s[1], 1), p);
	request(p, GET, &r);
	check_json(&r, "shop", "db", 5);
	lb_hc_free(hc);
}

TEST(agent_healthcheck_port_in_use_is_reported_and_retried)
{
	struct lb_hc *hc = hc_start(LO4, 0, 0);
	struct sockaddr_storage ss;
	socklen_t len = loopback(LO4, 0, &ss);
	int blocker = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), other;
	struct lb_hc_service s[2];
	char err[256] = "", want[32];
	uint16_t p;
	struct resp r;

	/* Someone else listens on the port first. */
	ASSERT(blocker >= 0);
	ASSERT_OK(bind(blocker, (struct sockaddr *)&ss, len) < 0 ? -errno : 0);
	ASSERT_OK(listen(blocker, 1) < 0 ? -errno : 0);
	ASSERT_OK(getsockname(blocker, (struct sockaddr *)&ss, &len) < 0 ? -errno : 0);
	p = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	s[0] = svc("shop", "web", p, 1);
	s[1] = svc("shop", "db", 0, 1);

	ASSERT_EQ(lb_hc_set(hc, s, 2, err, sizeof(err)), -EADDRINUSE);
	snprintf(want, sizeof(want), "port %u", p);
	ASSERT_MSG(strstr(err, want) && strstr(err, "shop/web"), "err: %s", err);
	ASSERT_EQ(lb_hc_port(hc, "shop", "web"), -ENOENT);
	/* Every other entry is still applied. */
	other = lb_hc_port(hc, "shop", "db");
	ASSERT(other > 0);
	request(other, GET, &r);
	check_json(&r, "shop", "db", 1);

	/* The port frees up: the next call opens it, and leaves the other alone. */
	close(blocker);
	ASSERT_EQ(hc_set_ok(hc, s, 2), p);
	ASSERT_EQ(lb_hc_port(hc, "shop", "db"), other);
	request(p, GET, &r);
	check_json(&r, "shop", "web", 1);
	lb_hc_free(hc);
}

/* ---------------------------------------------------------------- limits */

TEST(agent_healthcheck_idle_connection_is_closed_at_the_deadline)
{
	struct lb_hc *hc = hc_start(LO4, 200, 0);
	struct lb_hc_service s = svc("shop", "web", 0, 1);
	int port = hc_set_ok(hc, &s, 1);
	int idle = connect_to(LO4, port), partial = connect_to(LO4, port);
	double start = now_ms(), waited;
	struct resp r;

	/* One sends nothing, one half a request line: both are cut off. */
	send_all(partial, "GET / HT", 8);
	ASSERT_NE(wait_closed(idle, WAIT_MS), -ETIMEDOUT);
	waited = now_ms() - start;
	ASSERT_MSG(waited >= 150 && waited < 1500, "closed after %.0f ms, want ~200", waited);
	ASSERT_NE(wait_closed(partial, 500), -ETIMEDOUT);
	close(idle);
	close(partial);
	/* A probe after them is served as usual. */
	request(port, GET, &r);
	ASSERT_EQ(r.status, 200);
	lb_hc_free(hc);
}

TEST(agent_healthcheck_max_conns_evicts_the_oldest)
{
	struct lb_hc *hc = hc_start(LO4, 0, 2);
	struct lb_hc_service s = svc("shop", "web", 0, 1);
	int port = hc_set_ok(hc, &s, 1);
	int a = connect_to(LO4, port), b = connect_to(LO4, port), c;
	struct resp r;

	/* Let both be accepted (and stay open) before the third arrives. */
	sleep_ms(20);
	ASSERT(is_open(a));
	ASSERT(is_open(b));
	c = connect_to(LO4, port);
	send_all(c, GET, strlen(GET));
	read_response(c, &r);
	ASSERT_EQ(r.status, 200);
	check_json(&r, "shop", "web", 1);
	ASSERT_NE(wait_closed(a, WAIT_MS), -ETIMEDOUT);
	/* b was not the oldest: still open. */
	ASSERT(is_open(b));
	close(a);
	close(b);
	close(c);
	lb_hc_free(hc);
}

/* ---------------------------------------------------------------- life cycle */

TEST(agent_healthcheck_free_closes_everything)
{
	struct lb_hc *hc = hc_start(LO4, 0, 0);
	struct lb_hc_service s[2] = { svc("shop", "web", 0, 1), svc("shop", "db", 0, 0) };
	int web = hc_set_ok(hc, s, 2), db = lb_hc_port(hc, "shop", "db");
	int fds[3] = { connect_to(LO4, web), connect_to(LO4, db), connect_to(LO4, db) };
	struct resp r;

	/* Connections idle and mid-request, one answered, and a removed listener. */
	send_all(fds[1], "GET / HTTP/1.1\r\nHost:", 21);
	request(web, GET, &r);
	ASSERT_EQ(r.status, 200);
	sleep_ms(20);
	ASSERT_OK(lb_hc_set(hc, &s[1], 1, NULL, 0));
	lb_hc_free(hc);
	/* LeakSanitizer checks the rest at the end of the test. */
	for (int i = 0; i < 3; i++) {
		ASSERT_NE(wait_closed(fds[i], WAIT_MS), -ETIMEDOUT);
		close(fds[i]);
	}
	ASSERT_EQ(try_connect(LO4, db), -ECONNREFUSED);
	lb_hc_free(NULL);
}

static void *free_thread(void *hc)
{
	lb_hc_free(hc);
	return NULL;
}

/* lb_hc_free, failing the test if it does not return within timeout_ms. */
static void free_within(struct lb_hc *hc, int timeout_ms)
{
	struct timespec deadline;
	pthread_t t;
	int rc;

	ASSERT_OK(-pthread_create(&t, NULL, free_thread, hc));
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	rc = pthread_timedjoin_np(t, NULL, &deadline);
	ASSERT_MSG(rc == 0, "lb_hc_free did not return within %d ms: %s", timeout_ms, strerror(rc));
}

TEST(agent_healthcheck_free_right_after_set_does_not_hang)
{
	/*
	 * lb_hc_set's wake-up for a closed port and lb_hc_free's for the stop
	 * race in the thread: the stop must not be lost, whichever wins. A spin
	 * of 0 to 40 us moves the stop across the thread's wake-up and batch; a
	 * lost one would hang lb_hc_free, so it runs in a thread joined with a
	 * deadline.
	 */
	for (int i = 0; i < 400; i++) {
		struct lb_hc *hc = hc_start(LO4, 0, 0);
		struct lb_hc_service s = svc("shop", "web", 0, 1);
		double until;

		hc_set_ok(hc, &s, 1);
		ASSERT_OK(lb_hc_set(hc, NULL, 0, NULL, 0));
		until = now_ms() + (i % 200) * 0.0002;
		while (now_ms() < until)
			;
		free_within(hc, WAIT_MS);
	}
}

TEST(agent_healthcheck_ipv6_loopback)
{
	struct lb_hc *hc = hc_start(LO6, 0, 0);
	struct lb_hc_service s = svc("shop", "web", 0, 2);
	char err[256] = "";
	struct resp r;
	int rc = lb_hc_set(hc, &s, 1, err, sizeof(err)), port;

	if (rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL) {
		lb_hc_free(hc);
		SKIP("no IPv6 loopback: %s", err);
	}
	ASSERT_MSG(rc == 0, "lb_hc_set: %s", err);
	port = lb_hc_port(hc, "shop", "web");
	ASSERT(port > 0);
	request_on(LO6, port, GET, strlen(GET), &r);
	ASSERT_EQ(r.status, 200);
	check_json(&r, "shop", "web", 2);
	lb_hc_free(hc);
}

TEST(agent_healthcheck_bad_listen_address_is_refused)
{
	static const char *const bad[] = {
		"localhost", "",       "127.0.0.1:80",
		"256.0.0.1", "::1%lo", "1111:2222:3333:4444:5555:6666:7777:8888:9999"
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";

		ASSERT_NULL(lb_hc_new(bad[i], err, sizeof(err)));
		ASSERT_MSG(strstr(err, "address") && strstr(err, bad[i]), "\"%s\": err \"%s\"",
			   bad[i], err);
	}
	/* err is optional. */
	ASSERT_NULL(lb_hc_new("nope", NULL, 0));
}
