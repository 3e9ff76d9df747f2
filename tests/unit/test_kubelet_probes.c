/*
 * Unit tests for agent/kubelet/probes.c: the state machine with a fake
 * clock (initial delay, periods, thresholds, startup gating, holds, new
 * instances) and the runners (exec through a fake callback, tcpSocket and
 * httpGet against listeners on 127.0.0.1).
 */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/kubelet/probes.h"
#include "util.h"

#define SEC 1000000000LL
#define T0 (1000 * SEC)

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	ASSERT_MSG(j != NULL, "bad test JSON: %s: %s", e.text, text);
	return j;
}

static void setup(struct probe_set *s, const char *container)
{
	json_t *c = J(container);

	probe_set_init(s, c);
	json_decref(c);
}

TEST(kubelet_probe_initial_results_and_delay)
{
	struct probe_set s;

	setup(&s, "{\"livenessProbe\":{\"exec\":{},\"initialDelaySeconds\":5,\"periodSeconds\":3},"
		  "\"readinessProbe\":{\"exec\":{}}}");
	/* No instance: nothing runs, nothing is started or ready. */
	ASSERT_EQ(probe_set_due(&s, T0), PROBE__MAX);
	ASSERT_EQ(probe_set_next(&s), INT64_MAX);
	ASSERT(!probe_set_started(&s) && !probe_set_ready(&s));
	probe_set_track(&s, "c1", T0, T0);
	ASSERT(probe_set_started(&s));
	ASSERT(!probe_set_ready(&s));	     /* readiness starts as failure */
	ASSERT(!probe_set_failed(&s, NULL)); /* liveness starts as success */
	/* Readiness (no delay) is due at once, liveness after 5 s. */
	ASSERT_EQ(probe_set_due(&s, T0), PROBE_READINESS);
	probe_set_record(&s, PROBE_READINESS, PROBE_SUCCESS, T0);
	ASSERT(probe_set_ready(&s));
	ASSERT_EQ(probe_set_due(&s, T0 + 4 * SEC), PROBE__MAX);
	ASSERT_EQ(probe_set_next(&s), T0 + 5 * SEC);
	ASSERT_EQ(probe_set_due(&s, T0 + 5 * SEC), PROBE_LIVENESS);
	probe_set_record(&s, PROBE_LIVENESS, PROBE_SUCCESS, T0 + 5 * SEC);
	ASSERT_EQ(probe_set_next(&s), T0 + 8 * SEC); /* liveness period 3 s, readiness 10 s */
	ASSERT_EQ(probe_set_due(&s, T0 + 8 * SEC), PROBE_LIVENESS);
	ASSERT_EQ(probe_set_due(&s, T0 + 10 * SEC), PROBE_LIVENESS); /* the earlier one first */

	/* An instance that started long ago (kubelet restart): probed at once. */
	probe_set_track(&s, "c2", T0 - 100 * SEC, T0 + 20 * SEC);
	ASSERT(!probe_set_ready(&s));
	ASSERT_EQ(probe_set_next(&s), T0 + 20 * SEC);
}

TEST(kubelet_probe_thresholds)
{
	struct probe_set s;
	int64_t t = T0;

	setup(&s, "{\"readinessProbe\":{\"exec\":{},\"successThreshold\":2,\"failureThreshold\":3,"
		  "\"periodSeconds\":1}}");
	probe_set_track(&s, "c1", t, t);
	ASSERT(!probe_set_record(&s, PROBE_READINESS, PROBE_SUCCESS, t));
	ASSERT(!probe_set_ready(&s));
	ASSERT(probe_set_record(&s, PROBE_READINESS, PROBE_SUCCESS, t += SEC));
	ASSERT(probe_set_ready(&s));
	/* Two failures are not enough, a success in between starts the count over. */
	ASSERT(!probe_set_record(&s, PROBE_READINESS, PROBE_FAILURE, t += SEC));
	ASSERT(!probe_set_record(&s, PROBE_READINESS, PROBE_FAILURE, t += SEC));
	ASSERT(!probe_set_record(&s, PROBE_READINESS, PROBE_SUCCESS, t += SEC));
	ASSERT(!probe_set_record(&s, PROBE_READINESS, PROBE_FAILURE, t += SEC));
	ASSERT(!probe_set_record(&s, PROBE_READINESS, PROBE_FAILURE, t += SEC));
	ASSERT(probe_set_ready(&s));
	ASSERT(probe_set_record(&s, PROBE_READINESS, PROBE_FAILURE, t += SEC));
	ASSERT(!probe_set_ready(&s));
	/* Readiness failures never ask for a kill and keep probing. */
	ASSERT(!probe_set_failed(&s, NULL));
	ASSERT_EQ(probe_set_due(&s, t + SEC), PROBE_READINESS);
	/* Unknown results are ignored. */
	ASSERT(!probe_set_record(&s, PROBE_READINESS, PROBE_UNKNOWN, t));
	ASSERT(!probe_set_record(&s, PROBE__MAX, PROBE_SUCCESS, t));
}

TEST(kubelet_probe_liveness_failure_holds_until_new_instance)
{
	struct probe_set s;
	enum probe_kind why = PROBE__MAX;
	int64_t t = T0;

	setup(&s, "{\"livenessProbe\":{\"exec\":{},\"failureThreshold\":2,\"periodSeconds\":1}}");
	probe_set_track(&s, "c1", t, t);
	probe_set_record(&s, PROBE_LIVENESS, PROBE_FAILURE, t);
	ASSERT(!probe_set_failed(&s, NULL));
	ASSERT(probe_set_record(&s, PROBE_LIVENESS, PROBE_FAILURE, t += SEC));
	ASSERT(probe_set_failed(&s, &why));
	ASSERT_EQ(why, PROBE_LIVENESS);
	ASSERT_EQ(probe_set_due(&s, t + 100 * SEC), PROBE__MAX);
	/* Same instance again: nothing changes. */
	probe_set_track(&s, "c1", t, t + SEC);
	ASSERT(probe_set_failed(&s, NULL));
	/* The restarted instance starts clean. */
	probe_set_track(&s, "c2", t + 5 * SEC, t + 5 * SEC);
	ASSERT(!probe_set_failed(&s, NULL));
	ASSERT_EQ(probe_set_due(&s, t + 5 * SEC), PROBE_LIVENESS);
	/* No instance running: nothing to kill, nothing due. */
	probe_set_track(&s, NULL, 0, t + 6 * SEC);
	ASSERT(!probe_set_failed(&s, NULL));
	ASSERT_EQ(probe_set_due(&s, t + 60 * SEC), PROBE__MAX);
}

TEST(kubelet_probe_startup_gates_others)
{
	struct probe_set s;
	enum probe_kind why;
	int64_t t = T0;

	setup(&s, "{\"startupProbe\":{\"exec\":{},\"periodSeconds\":2,\"failureThreshold\":3},"
		  "\"livenessProbe\":{\"exec\":{},\"periodSeconds\":1},"
		  "\"readinessProbe\":{\"exec\":{},\"periodSeconds\":1}}");
	probe_set_track(&s, "c1", t, t);
	ASSERT(!probe_set_started(&s) && !probe_set_ready(&s));
	ASSERT_EQ(probe_set_due(&s, t), PROBE_STARTUP);
	probe_set_record(&s, PROBE_STARTUP, PROBE_FAILURE, t);
	/* Liveness and readiness stay quiet while startup has not succeeded. */
	ASSERT_EQ(probe_set_due(&s, t + SEC), PROBE__MAX);
	ASSERT_EQ(probe_set_next(&s), t + 2 * SEC);
	probe_set_record(&s, PROBE_STARTUP, PROBE_SUCCESS, t += 2 * SEC);
	ASSERT(probe_set_started(&s));
	ASSERT(!probe_set_ready(&s));
	/* Startup is done for this instance; the others run at once. */
	ASSERT_NE(probe_set_due(&s, t), PROBE_STARTUP);
	ASSERT_NE(probe_set_due(&s, t), PROBE__MAX);
	probe_set_record(&s, PROBE_READINESS, PROBE_SUCCESS, t);
	ASSERT(probe_set_ready(&s));

	/* A new instance whose startup probe keeps failing must be killed. */
	probe_set_track(&s, "c2", t, t);
	for (int i = 0; i < 3; i++)
		probe_set_record(&s, PROBE_STARTUP, PROBE_FAILURE, t += 2 * SEC);
	ASSERT(probe_set_failed(&s, &why));
	ASSERT_EQ(why, PROBE_STARTUP);
	ASSERT(!probe_set_started(&s));
}

TEST(kubelet_probe_defaults_and_bad_numbers)
{
	struct probe_set s;

	setup(&s, "{\"livenessProbe\":{\"exec\":{},\"periodSeconds\":0,\"failureThreshold\":-4,"
		  "\"timeoutSeconds\":\"x\"}}");
	ASSERT(s.p[PROBE_LIVENESS].configured);
	ASSERT(!s.p[PROBE_READINESS].configured);
	ASSERT_EQ(s.p[PROBE_LIVENESS].period_s, 1);
	ASSERT_EQ(s.p[PROBE_LIVENESS].failure_threshold, 1);
	ASSERT_EQ(s.p[PROBE_LIVENESS].timeout_s, 1);
	ASSERT_EQ(s.p[PROBE_LIVENESS].success_threshold, 1);
	setup(&s, "{}");
	probe_set_track(&s, "c", T0, T0);
	ASSERT(probe_set_ready(&s) && probe_set_started(&s));
	ASSERT_EQ(probe_set_next(&s), INT64_MAX);
	ASSERT_STREQ(probe_kind_name(PROBE_STARTUP), "Startup");
}

TEST(kubelet_probe_ports)
{
	json_t *c = J("{\"ports\":[{\"name\":\"http\",\"containerPort\":8080},"
		      "{\"name\":\"bad\",\"containerPort\":70000}]}");
	json_t *p;

	p = json_integer(80);
	ASSERT_EQ(probe_port(p, c), 80);
	json_decref(p);
	p = json_string("http");
	ASSERT_EQ(probe_port(p, c), 8080);
	json_decref(p);
	p = json_string("9090");
	ASSERT_EQ(probe_port(p, c), 9090);
	json_decref(p);
	p = json_string("nope");
	ASSERT_EQ(probe_port(p, c), -ENOENT);
	json_decref(p);
	p = json_string("bad");
	ASSERT_EQ(probe_port(p, c), -EINVAL);
	json_decref(p);
	p = json_integer(0);
	ASSERT_EQ(probe_port(p, c), -EINVAL);
	json_decref(p);
	ASSERT_EQ(probe_port(NULL, c), -EINVAL);
	json_decref(c);
}

/* ---------------------------------------------------------------- runners */

static int exec_code;
static char exec_seen[128];

static int fake_exec(void *ctx, const char *cid, const char *const *argv, size_t argc,
		     int timeout_s, int *exit_code, char *out, size_t outlen)
{
	snprintf(exec_seen, sizeof(exec_seen), "%s:%zu:%s:%d", cid, argc, argv[argc - 1],
		 timeout_s);
	if (exec_code < 0)
		return exec_code;
	*exit_code = exec_code;
	snprintf(out, outlen, "%s", exec_code ? "boom\n" : "fine");
	return 0;
}

TEST(kubelet_probe_run_exec)
{
	json_t *probe =
		J("{\"exec\":{\"command\":[\"cat\",\"/tmp/healthy\"]},\"timeoutSeconds\":4}");
	struct probe_target t = { .cid = "c9", .exec = fake_exec };
	char out[256];

	exec_code = 0;
	ASSERT_EQ(probe_run(probe, &t, out, sizeof(out)), PROBE_SUCCESS);
	ASSERT_STREQ(exec_seen, "c9:2:/tmp/healthy:4");
	exec_code = 1;
	ASSERT_EQ(probe_run(probe, &t, out, sizeof(out)), PROBE_FAILURE);
	ASSERT_STREQ(out, "boom");
	exec_code = -ETIMEDOUT;
	ASSERT_EQ(probe_run(probe, &t, out, sizeof(out)), PROBE_FAILURE);
	ASSERT_STREQ(out, "command \"cat /tmp/healthy\" timed out");
	json_decref(probe);

	probe = J("{\"exec\":{\"command\":[]}}");
	ASSERT_EQ(probe_run(probe, &t, out, sizeof(out)), PROBE_FAILURE);
	json_decref(probe);
	probe = J("{\"grpc\":{\"port\":1}}");
	ASSERT_EQ(probe_run(probe, &t, out, sizeof(out)), PROBE_FAILURE);
	ASSERT_STREQ(out, "gRPC probes are not supported");
	json_decref(probe);
	probe = J("{}");
	ASSERT_EQ(probe_run(probe, &t, out, sizeof(out)), PROBE_FAILURE);
	json_decref(probe);
}

/* A listener on 127.0.0.1 with an ephemeral port. */
static int listener(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ASSERT(fd >= 0);
	ASSERT_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_OK(listen(fd, 8));
	ASSERT_OK(getsockname(fd, (struct sockaddr *)&a, &len));
	*port = ntohs(a.sin_port);
	return fd;
}

/* The port of a socket that is bound but not listening: connects are refused. */
static int refusing_port(int *fd)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_OK(bind(*fd, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_OK(getsockname(*fd, (struct sockaddr *)&a, &len));
	return ntohs(a.sin_port);
}

TEST(kubelet_probe_run_tcp)
{
	char out[256], *text;
	int port, fd = listener(&port), closed_fd, closed = refusing_port(&closed_fd);
	struct probe_target t = { .pod_ip = "127.0.0.1" };
	json_t *probe;

	text = xasprintf("{\"tcpSocket\":{\"port\":%d}}", port);
	probe = J(text);
	ASSERT_EQ(probe_run(probe, &t, out, sizeof(out)), PROBE_SUCCESS);
	json_decref(probe);
	free(text);
	text = xasprintf("{\"tcpSocket\":{\"port\":%d}}", closed);
	probe = J(text);
	ASSERT_EQ(probe_run(probe, &t, out, sizeof(out)), PROBE_FAILURE);
	free(text);
	text = xasprintf("dial tcp 127.0.0.1:%d: connect: connection refused", closed);
	ASSERT_STREQ(out, text);
	free(text);
	json_decref(probe);
	/* A named port the container does not have. */
	probe = J("{\"tcpSocket\":{\"port\":\"web\"}}");
	ASSERT_EQ(probe_run(probe, &t, out, sizeof(out)), PROBE_FAILURE);
	json_decref(probe);
	close(fd);
	close(closed_fd);
}

struct http_srv {
	int fd;
	const char *reply; /* status line and headers, or NULL: never answer */
	char request[2048];
};

static void *http_serve(void *arg)
{
	struct http_srv *s = arg;
	int c = accept(s->fd, NULL, NULL);
	ssize_t n = 0, got;

	if (c < 0)
		return NULL;
	while (n < (ssize_t)sizeof(s->request) - 1 && !strstr(s->request, "\r\n\r\n")) {
		got = recv(c, s->request + n, sizeof(s->request) - 1 - n, 0);
		if (got <= 0)
			break;
		n += got;
		s->request[n] = '\0';
	}
	if (s->reply) {
		if (send(c, s->reply, strlen(s->reply), MSG_NOSIGNAL) < 0)
			s->request[0] = '\0';
	} else {
		usleep(1500 * 1000); /* longer than the probe's timeout */
	}
	close(c);
	return NULL;
}

/* tmpl with "%d" replaced by the port (a template, not a format string). */
static char *with_port(const char *tmpl, int port)
{
	struct buf b = { 0 };
	const char *p;

	buf_append(&b, "", 0);
	while ((p = strstr(tmpl, "%d"))) {
		buf_append(&b, tmpl, (size_t)(p - tmpl));
		buf_appendf(&b, "%d", port);
		tmpl = p + 2;
	}
	buf_appendf(&b, "%s", tmpl);
	return b.data;
}

static enum probe_result http_run(const char *reply, const char *probe_fmt, char *request,
				  char *out, size_t outlen)
{
	struct http_srv s = { .reply = reply };
	struct probe_target t = { .pod_ip = "127.0.0.1" };
	enum probe_result r;
	pthread_t th;
	json_t *probe, *c;
	char *text;
	int port;

	s.fd = listener(&port);
	c = json_pack("{s:[{s:s,s:i}]}", "ports", "name", "web", "containerPort", port);
	t.container = c;
	text = with_port(probe_fmt, port);
	probe = J(text);
	free(text);
	ASSERT_OK(pthread_create(&th, NULL, http_serve, &s));
	r = probe_run(probe, &t, out, outlen);
	shutdown(s.fd, SHUT_RDWR);
	pthread_join(th, NULL);
	close(s.fd);
	if (request)
		snprintf(request, 2048, "%s", s.request);
	json_decref(probe);
	json_decref(c);
	return r;
}

TEST(kubelet_probe_run_http)
{
	char out[512], req[2048];

	ASSERT_EQ(http_run("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			   "{\"httpGet\":{\"path\":\"/healthz?x=1\",\"port\":\"web\","
			   "\"httpHeaders\":[{\"name\":\"X-Probe\",\"value\":\"yes\"},"
			   "{\"name\":\"User-Agent\",\"value\":\"mine\"},"
			   "{\"name\":\"X-Bad\",\"value\":\"a\\r\\nEvil: 1\"}]}}",
			   req, out, sizeof(out)),
		  PROBE_SUCCESS);
	ASSERT(strncmp(req, "GET /healthz?x=1 HTTP/1.1\r\n", 27) == 0);
	ASSERT(strstr(req, "\r\nHost: 127.0.0.1:") != NULL);
	ASSERT(strstr(req, "\r\nX-Probe: yes\r\n") != NULL);
	ASSERT(strstr(req, "\r\nUser-Agent: mine\r\n") != NULL);
	ASSERT(strstr(req, "kube-probe") == NULL);
	ASSERT(strstr(req, "Evil") == NULL); /* a header with a line break is dropped */
	ASSERT(strstr(req, "\r\nConnection: close\r\n") != NULL);

	/* Redirects count as success; 4xx/5xx do not. */
	ASSERT_EQ(http_run("HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n",
			   "{\"httpGet\":{\"port\":%d}}", req, out, sizeof(out)),
		  PROBE_SUCCESS);
	ASSERT(strstr(req, "User-Agent: kube-probe/") != NULL);
	ASSERT(strncmp(req, "GET / HTTP/1.1", 14) == 0);
	ASSERT_EQ(http_run("HTTP/1.0 503 Service Unavailable\r\n\r\n",
			   "{\"httpGet\":{\"path\":\"/h\",\"port\":%d}}", NULL, out, sizeof(out)),
		  PROBE_FAILURE);
	ASSERT_STREQ(out, "HTTP probe failed with statuscode: 503");
	ASSERT_EQ(
		http_run("garbage\r\n\r\n", "{\"httpGet\":{\"port\":%d}}", NULL, out, sizeof(out)),
		PROBE_FAILURE);
	ASSERT(strstr(out, "malformed HTTP response") != NULL);
	/* No answer within timeoutSeconds. */
	ASSERT_EQ(http_run(NULL, "{\"httpGet\":{\"port\":%d},\"timeoutSeconds\":1}", NULL, out,
			   sizeof(out)),
		  PROBE_FAILURE);
	ASSERT(strstr(out, "context deadline exceeded") != NULL);
	/* Other schemes are refused before connecting. */
	ASSERT_EQ(http_run("HTTP/1.1 200 OK\r\n\r\n",
			   "{\"httpGet\":{\"port\":%d,\"scheme\":\"HTTPS\"}}", NULL, out,
			   sizeof(out)),
		  PROBE_FAILURE);
	ASSERT_STREQ(out, "scheme HTTPS is not supported");
}

TEST(kubelet_probe_run_http_refused)
{
	char out[512], *text, *want;
	int fd, port = refusing_port(&fd);
	struct probe_target t = { .pod_ip = "127.0.0.1" };
	json_t *probe;

	text = xasprintf("{\"httpGet\":{\"path\":\"/h\",\"port\":%d}}", port);
	probe = J(text);
	ASSERT_EQ(probe_run(probe, &t, out, sizeof(out)), PROBE_FAILURE);
	want = xasprintf("Get \"http://127.0.0.1:%d/h\": dial tcp 127.0.0.1:%d: connect: "
			 "connection refused",
			 port, port);
	ASSERT_STREQ(out, want);
	free(want);
	free(text);
	json_decref(probe);
	/* No pod IP yet. */
	t.pod_ip = "";
	probe = J("{\"httpGet\":{\"port\":80}}");
	ASSERT_EQ(probe_run(probe, &t, out, sizeof(out)), PROBE_FAILURE);
	json_decref(probe);
	close(fd);
}
