/*
 * probes.c - the probe state machine and the probe runner (see probes.h).
 *
 * The runner is synchronous and bounded by the probe's timeoutSeconds: the
 * pod worker runs due probes between reconcile steps, so a probe never
 * overlaps a kill or a restart of the same pod. httpGet uses a tiny HTTP/1.1
 * client over a non-blocking socket rather than lib/httpc: a probe needs
 * arbitrary headers, a fresh connection each time ("Connection: close", as
 * upstream's prober does) and only the status line, none of which the API
 * client is shaped for. HTTPS is not supported (the probe fails saying so).
 */
#include "agent/kubelet/probes.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jsonx.h"
#include "util.h"

#define NS_PER_SEC 1000000000LL
#define PROBE_USER_AGENT "kube-probe/1.32"

static const char *const probe_keys[PROBE__MAX] = { "livenessProbe", "readinessProbe",
						    "startupProbe" };

const char *probe_kind_name(enum probe_kind kind)
{
	static const char *const names[PROBE__MAX] = { "Liveness", "Readiness", "Startup" };

	return (unsigned)kind < PROBE__MAX ? names[kind] : "Unknown";
}

static enum probe_result initial_result(enum probe_kind kind)
{
	switch (kind) {
	case PROBE_LIVENESS:
		return PROBE_SUCCESS;
	case PROBE_READINESS:
		return PROBE_FAILURE;
	default:
		return PROBE_UNKNOWN;
	}
}

static int at_least(long long v, int min)
{
	return v < min ? min : (v > 86400 * 365 ? 86400 * 365 : (int)v);
}

void probe_set_init(struct probe_set *s, const json_t *container)
{
	memset(s, 0, sizeof(*s));
	for (int k = 0; k < PROBE__MAX; k++) {
		const json_t *p = jsonx_obj(container, probe_keys[k]);
		struct probe_state *st = &s->p[k];

		st->result = initial_result(k);
		if (!p)
			continue;
		st->configured = true;
		st->initial_delay_s = at_least(jsonx_int(p, "initialDelaySeconds", 0), 0);
		st->period_s = at_least(jsonx_int(p, "periodSeconds", 10), 1);
		st->timeout_s = at_least(jsonx_int(p, "timeoutSeconds", 1), 1);
		st->success_threshold = at_least(jsonx_int(p, "successThreshold", 1), 1);
		st->failure_threshold = at_least(jsonx_int(p, "failureThreshold", 3), 1);
	}
}

void probe_set_track(struct probe_set *s, const char *cid, int64_t started_ns, int64_t now_ns)
{
	if (!cid)
		cid = "";
	if (!strcmp(s->cid, cid))
		return;
	snprintf(s->cid, sizeof(s->cid), "%s", cid);
	s->started_ns = started_ns;
	for (int k = 0; k < PROBE__MAX; k++) {
		struct probe_state *st = &s->p[k];
		int64_t first = started_ns + (int64_t)st->initial_delay_s * NS_PER_SEC;

		st->result = initial_result(k);
		st->last = PROBE_UNKNOWN;
		st->run = 0;
		st->on_hold = false;
		st->next_ns = first > now_ns ? first : now_ns;
	}
}

/* May kind run at all now (configured, an instance, not held, not gated)? */
static bool probe_may_run(const struct probe_set *s, enum probe_kind k)
{
	const struct probe_state *st = &s->p[k];

	if (!st->configured || !s->cid[0] || st->on_hold)
		return false;
	if (k == PROBE_STARTUP)
		return st->result != PROBE_SUCCESS;
	return !s->p[PROBE_STARTUP].configured || s->p[PROBE_STARTUP].result == PROBE_SUCCESS;
}

enum probe_kind probe_set_due(const struct probe_set *s, int64_t now_ns)
{
	enum probe_kind best = PROBE__MAX;

	for (int k = 0; k < PROBE__MAX; k++) {
		if (!probe_may_run(s, k) || s->p[k].next_ns > now_ns)
			continue;
		if (best == PROBE__MAX || s->p[k].next_ns < s->p[best].next_ns)
			best = k;
	}
	return best;
}

int64_t probe_set_next(const struct probe_set *s)
{
	int64_t next = INT64_MAX;

	for (int k = 0; k < PROBE__MAX; k++)
		if (probe_may_run(s, k) && s->p[k].next_ns < next)
			next = s->p[k].next_ns;
	return next;
}

bool probe_set_record(struct probe_set *s, enum probe_kind kind, enum probe_result r,
		      int64_t now_ns)
{
	struct probe_state *st;
	enum probe_result old;

	if ((unsigned)kind >= PROBE__MAX || r == PROBE_UNKNOWN)
		return false;
	st = &s->p[kind];
	st->next_ns = now_ns + (int64_t)st->period_s * NS_PER_SEC;
	if (r == st->last) {
		st->run++;
	} else {
		st->last = r;
		st->run = 1;
	}
	if ((r == PROBE_FAILURE && st->run < st->failure_threshold) ||
	    (r == PROBE_SUCCESS && st->run < st->success_threshold))
		return false;
	old = st->result;
	st->result = r;
	if (r == PROBE_FAILURE && (kind == PROBE_LIVENESS || kind == PROBE_STARTUP)) {
		st->on_hold = true;
		st->run = 0;
	}
	if (kind == PROBE_STARTUP && r == PROBE_SUCCESS) {
		/* The gated probes may run at once. */
		for (int k = 0; k < PROBE__MAX; k++)
			if (k != PROBE_STARTUP && s->p[k].next_ns < now_ns)
				s->p[k].next_ns = now_ns;
	}
	return old != r;
}

bool probe_set_started(const struct probe_set *s)
{
	if (!s->cid[0])
		return false;
	return !s->p[PROBE_STARTUP].configured || s->p[PROBE_STARTUP].result == PROBE_SUCCESS;
}

bool probe_set_ready(const struct probe_set *s)
{
	if (!probe_set_started(s))
		return false;
	return !s->p[PROBE_READINESS].configured || s->p[PROBE_READINESS].result == PROBE_SUCCESS;
}

bool probe_set_failed(const struct probe_set *s, enum probe_kind *why)
{
	static const enum probe_kind killers[] = { PROBE_STARTUP, PROBE_LIVENESS };

	if (!s->cid[0])
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(killers); i++) {
		const struct probe_state *st = &s->p[killers[i]];

		if (st->configured && st->result == PROBE_FAILURE) {
			if (why)
				*why = killers[i];
			return true;
		}
	}
	return false;
}

/* ---------------------------------------------------------------- runner */

int probe_port(const json_t *port, const json_t *container)
{
	const char *name;
	json_t *p;
	size_t i;
	char *end;
	long v;

	if (json_is_integer(port)) {
		v = (long)json_integer_value(port);
		return v > 0 && v < 65536 ? (int)v : -EINVAL;
	}
	if (!json_is_string(port) || !*(name = json_string_value(port)))
		return -EINVAL;
	json_array_foreach(jsonx_arr(container, "ports"), i, p) {
		if (!strcmp(jsonx_str(p, "name", ""), name)) {
			v = (long)jsonx_int(p, "containerPort", 0);
			return v > 0 && v < 65536 ? (int)v : -EINVAL;
		}
	}
	/* As upstream: maybe a number written as a string. */
	errno = 0;
	v = strtol(name, &end, 10);
	if (errno || *end || v <= 0 || v >= 65536)
		return -ENOENT;
	return (int)v;
}

static int64_t mono_ms(void)
{
	return (int64_t)(now_mono_ns() / 1000000);
}

static int remaining_ms(int64_t deadline)
{
	int64_t r = deadline - mono_ms();

	return r < 0 ? 0 : (int)r;
}

/* "host:port", bracketing IPv6 literals. */
static void host_port(const char *host, int port, char *buf, size_t len)
{
	if (strchr(host, ':'))
		snprintf(buf, len, "[%s]:%d", host, port);
	else
		snprintf(buf, len, "%s:%d", host, port);
}

/* A connected TCP socket within the deadline, or -errno with Go's dial message. */
static int dial(const char *host, int port, int64_t deadline, char *out, size_t outlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char portstr[8], hp[300];
	int fd = -1, err, soerr = 0;
	socklen_t sl = sizeof(soerr);
	struct pollfd pfd;

	host_port(host, port, hp, sizeof(hp));
	snprintf(portstr, sizeof(portstr), "%d", port);
	err = getaddrinfo(host, portstr, &hints, &ai);
	if (err) {
		snprintf(out, outlen, "dial tcp %s: lookup %s: %s", hp, host, gai_strerror(err));
		return -EHOSTUNREACH;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		goto out;
	if (errno != EINPROGRESS) {
		err = -errno;
		goto fail;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	err = poll(&pfd, 1, remaining_ms(deadline));
	if (err == 0) {
		err = -ETIMEDOUT;
		snprintf(out, outlen, "dial tcp %s: i/o timeout", hp);
		goto close;
	}
	if (err < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
		err = -errno;
		goto fail;
	}
	if (soerr) {
		err = -soerr;
		goto fail;
	}
out:
	freeaddrinfo(ai);
	return fd;
fail:
	/* Go's spelling: "connect: connection refused" (errno text in lower case). */
	snprintf(out, outlen, "dial tcp %s: connect: %s", hp, strerror(-err));
	{
		char *m = out + strlen(out) - strlen(strerror(-err));

		if (m >= out && *m >= 'A' && *m <= 'Z')
			*m = (char)(*m - 'A' + 'a');
	}
close:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return err;
}

static bool header_set(const json_t *headers, const char *name)
{
	json_t *h;
	size_t i;

	json_array_foreach(headers, i, h)
		if (!strcasecmp(jsonx_str(h, "name", ""), name))
			return true;
	return false;
}

static bool header_ok(const char *s)
{
	for (; *s; s++)
		if (*s == '\r' || *s == '\n')
			return false;
	return true;
}

static enum probe_result http_probe(const json_t *g, const struct probe_target *t, int timeout_s,
				    char *out, size_t outlen)
{
	const json_t *headers = jsonx_arr(g, "httpHeaders"), *h;
	const char *host = jsonx_str(g, "host", ""), *path = jsonx_str(g, "path", "/");
	int64_t deadline = mono_ms() + (int64_t)timeout_s * 1000;
	int port = probe_port(json_object_get(g, "port"), t->container), fd = -1, code = 0;
	char hp[300], url[1200], resp[1024];
	enum probe_result res = PROBE_FAILURE;
	struct buf req = { 0 };
	size_t got = 0, i;

	if (strcasecmp(jsonx_str(g, "scheme", "HTTP"), "HTTP")) {
		snprintf(out, outlen, "scheme %s is not supported", jsonx_str(g, "scheme", ""));
		return PROBE_FAILURE;
	}
	if (!*host)
		host = t->pod_ip ? t->pod_ip : "";
	if (port < 0 || !*host) {
		snprintf(out, outlen, "cannot resolve the probe's %s", port < 0 ? "port" : "host");
		return PROBE_FAILURE;
	}
	host_port(host, port, hp, sizeof(hp));
	snprintf(url, sizeof(url), "http://%s%s%s", hp, path[0] == '/' ? "" : "/", path);
	if (!header_ok(path)) {
		snprintf(out, outlen, "invalid path %s", path);
		return PROBE_FAILURE;
	}
	buf_appendf(&req, "GET %s%s HTTP/1.1\r\n", path[0] == '/' ? "" : "/", path);
	if (!header_set(headers, "Host"))
		buf_appendf(&req, "Host: %s\r\n", hp);
	if (!header_set(headers, "User-Agent"))
		buf_appendf(&req, "User-Agent: %s\r\n", PROBE_USER_AGENT);
	if (!header_set(headers, "Accept"))
		buf_appendf(&req, "Accept: */*\r\n");
	json_array_foreach(headers, i, h) {
		const char *n = jsonx_str(h, "name", ""), *v = jsonx_str(h, "value", "");

		if (*n && header_ok(n) && header_ok(v))
			buf_appendf(&req, "%s: %s\r\n", n, v);
	}
	buf_appendf(&req, "Connection: close\r\n\r\n");

	fd = dial(host, port, deadline, out, outlen);
	if (fd < 0) {
		char *tmp = xasprintf("Get \"%s\": %s", url, out);

		snprintf(out, outlen, "%s", tmp);
		free(tmp);
		goto done;
	}
	for (size_t off = 0; off < req.len;) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ssize_t n;

		if (poll(&pfd, 1, remaining_ms(deadline)) <= 0)
			goto timeout;
		n = send(fd, req.data + off, req.len - off, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN) {
			snprintf(out, outlen, "Get \"%s\": write: %s", url, strerror(errno));
			goto done;
		}
		off += n > 0 ? (size_t)n : 0;
	}
	while (got < sizeof(resp) - 1 && !memchr(resp, '\n', got)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, remaining_ms(deadline)) <= 0)
			goto timeout;
		n = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	resp[got] = '\0';
	if (sscanf(resp, "HTTP/%*d.%*d %d", &code) != 1 || code < 100 || code > 999) {
		snprintf(out, outlen, "Get \"%s\": malformed HTTP response", url);
		goto done;
	}
	if (code >= 200 && code < 400) {
		snprintf(out, outlen, "HTTP probe succeeded with statuscode: %d", code);
		res = PROBE_SUCCESS;
	} else {
		snprintf(out, outlen, "HTTP probe failed with statuscode: %d", code);
	}
	goto done;
timeout:
	snprintf(out, outlen,
		 "Get \"%s\": context deadline exceeded (Client.Timeout exceeded while awaiting "
		 "headers)",
		 url);
done:
	if (fd >= 0)
		close(fd);
	buf_free(&req);
	return res;
}

static enum probe_result tcp_probe(const json_t *ts, const struct probe_target *t, int timeout_s,
				   char *out, size_t outlen)
{
	const char *host = jsonx_str(ts, "host", "");
	int port = probe_port(json_object_get(ts, "port"), t->container), fd;

	if (!*host)
		host = t->pod_ip ? t->pod_ip : "";
	if (port < 0 || !*host) {
		snprintf(out, outlen, "cannot resolve the probe's %s", port < 0 ? "port" : "host");
		return PROBE_FAILURE;
	}
	fd = dial(host, port, mono_ms() + (int64_t)timeout_s * 1000, out, outlen);
	if (fd < 0)
		return PROBE_FAILURE;
	close(fd);
	out[0] = '\0';
	return PROBE_SUCCESS;
}

static enum probe_result exec_probe(const json_t *ex, const struct probe_target *t, int timeout_s,
				    char *out, size_t outlen)
{
	const json_t *cmd = jsonx_arr(ex, "command"), *a;
	const char **argv;
	enum probe_result res = PROBE_FAILURE;
	struct buf joined = { 0 };
	size_t n = json_array_size(cmd), i;
	int code = -1, err;

	if (!n || !t->exec) {
		snprintf(out, outlen, "exec probe without a command");
		return PROBE_FAILURE;
	}
	argv = xcalloc(n + 1, sizeof(*argv));
	json_array_foreach(cmd, i, a) {
		argv[i] = json_is_string(a) ? json_string_value(a) : "";
		buf_appendf(&joined, "%s%s", i ? " " : "", argv[i]);
	}
	err = t->exec(t->exec_ctx, t->cid, argv, n, timeout_s, &code, out, outlen);
	/* The output ends up in an Event message: no trailing newline. */
	for (size_t l = strlen(out); l > 0 && (out[l - 1] == '\n' || out[l - 1] == '\r' ||
					       out[l - 1] == ' ' || out[l - 1] == '\t');
	     l--)
		out[l - 1] = '\0';
	if (err == -ETIMEDOUT)
		snprintf(out, outlen, "command \"%s\" timed out", joined.data);
	else if (!err && code == 0)
		res = PROBE_SUCCESS;
	else if (!err && !out[0])
		snprintf(out, outlen, "command \"%s\" exited with %d", joined.data, code);
	free(argv);
	buf_free(&joined);
	return res;
}

enum probe_result probe_run(const json_t *probe, const struct probe_target *t, char *out,
			    size_t outlen)
{
	int timeout_s = at_least(jsonx_int(probe, "timeoutSeconds", 1), 1);
	const json_t *h;

	out[0] = '\0';
	if ((h = jsonx_obj(probe, "exec")))
		return exec_probe(h, t, timeout_s, out, outlen);
	if ((h = jsonx_obj(probe, "httpGet")))
		return http_probe(h, t, timeout_s, out, outlen);
	if ((h = jsonx_obj(probe, "tcpSocket")))
		return tcp_probe(h, t, timeout_s, out, outlen);
	if (jsonx_obj(probe, "grpc"))
		snprintf(out, outlen, "gRPC probes are not supported");
	else
		snprintf(out, outlen, "probe has no handler");
	return PROBE_FAILURE;
}
