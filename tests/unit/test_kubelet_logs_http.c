/*
 * Unit tests for agent/kubelet/server: /healthz, /metrics and
 * /containerLogs over real HTTP on 127.0.0.1, with fake pod lookups:
 * parameters, status codes and messages, following a growing log until the
 * container stops, headers before the first line, a client that goes away,
 * and stopping the server under a follower.
 */
#include "test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/kubelet/server.h"
#include "ktime.h"
#include "util.h"

static struct kubelet kl;
static char cur_log[4096], prev_log[4096];
static pthread_mutex_t paths_lock = PTHREAD_MUTEX_INITIALIZER; /* cur_log changes under a reader */
static atomic_bool running;
static atomic_int lookups;

static int fake_log_path(struct kubelet *k, const char *ns, const char *pod, const char *container,
			 bool previous, char *buf, size_t len)
{
	atomic_fetch_add(&lookups, 1);
	if (strcmp(ns, "web") || strcmp(pod, "api") || strcmp(container, "app"))
		return -ENOENT;
	pthread_mutex_lock(&paths_lock);
	snprintf(buf, len, "%s", previous ? prev_log : cur_log);
	pthread_mutex_unlock(&paths_lock);
	return 0;
}

static bool fake_running(struct kubelet *k, const char *ns, const char *pod, const char *container)
{
	return atomic_load(&running);
}

static int fake_pods(struct kubelet *k)
{
	return 3;
}

static const struct kl_server_ops ops = {
	.log_path = fake_log_path,
	.container_running = fake_running,
	.running_pods = fake_pods,
};

static void teardown(void)
{
	kl_server_stop(&kl);
	pthread_mutex_destroy(&kl.lock);
}

static void line(const char *path, int i, const char *stream)
{
	char text[128], stamp[KTIME_BUFSZ];
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	ASSERT(fd >= 0);
	ktime_format_nano(1704164645000000000ll + i * 1000000000ll, stamp, sizeof(stamp));
	snprintf(text, sizeof(text), "%s %s F line %d\n", stamp, stream, i);
	ASSERT_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void setup(void)
{
	memset(&kl, 0, sizeof(kl));
	pthread_mutex_init(&kl.lock, NULL);
	snprintf(cur_log, sizeof(cur_log), "%s/1.log", test_tmpdir());
	snprintf(prev_log, sizeof(prev_log), "%s/0.log", test_tmpdir());
	atomic_store(&running, true);
	ASSERT_OK(kl_server_start_opts(&kl, "127.0.0.1", 0, &ops));
	test_defer(teardown);
	ASSERT(kl_server_port(&kl) > 0);
}

/* A raw connection with one request sent. */
static int request(const char *path)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(kl_server_port(&kl)) };
	char req[1024];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ASSERT(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_OK(connect(fd, (struct sockaddr *)&sin, sizeof(sin)));
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
	ASSERT_EQ(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	return fd;
}

/* Read from fd until needle shows up (or timeout_ms passes); returns what was read. */
static char *read_until(int fd, const char *needle, int timeout_ms)
{
	struct buf b = { 0 };
	uint64_t end = now_mono_ns() + (uint64_t)timeout_ms * 1000000;

	buf_append(&b, "", 0);
	while (!strstr(b.data, needle) && now_mono_ns() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char chunk[4096];
		ssize_t n;

		if (poll(&p, 1, 50) <= 0)
			continue;
		n = read(fd, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		buf_append(&b, chunk, (size_t)n);
	}
	return b.data;
}

/* The whole response of a request that ends (Connection: close). */
static char *fetch(const char *path)
{
	int fd = request(path);
	char *all = read_until(fd, "\x01never", 5000);

	close(fd);
	return all;
}

static const char *body_of(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");

	return b ? b + 4 : "";
}

/* Chunked bodies: drop the chunk framing for comparisons. */
static char *dechunk(const char *body)
{
	struct buf out = { 0 };

	buf_append(&out, "", 0);
	for (;;) {
		char *end;
		unsigned long n = strtoul(body, &end, 16);

		if (end == body || strncmp(end, "\r\n", 2) != 0 || n == 0)
			break;
		buf_append(&out, end + 2, n);
		body = end + 2 + n + 2;
	}
	return out.data;
}

TEST(server_healthz_and_metrics)
{
	char *r;

	setup();
	r = fetch("/healthz");
	ASSERT(strncmp(r, "HTTP/1.1 200", 12) == 0);
	ASSERT_STREQ(body_of(r), "ok");
	free(r);
	r = fetch("/metrics");
	ASSERT(strncmp(r, "HTTP/1.1 200", 12) == 0);
	ASSERT(strstr(r, "Content-Type: text/plain; version=0.0.4") != NULL);
	ASSERT(strstr(r, "\ncapstan_kubelet_running_pods 3\n") != NULL);
	ASSERT(strstr(r, "# TYPE capstan_kubelet_running_pods gauge\n") != NULL);
	ASSERT(strstr(r, "\nprocess_resident_memory_bytes ") != NULL);
	ASSERT(strstr(r, "\ncapstan_kubelet_threads ") != NULL);
	ASSERT(strstr(r, "\ncapstan_kubelet_log_streams 0\n") != NULL);
	ASSERT(strstr(r, "\ncapstan_kubelet_events_dropped_total 0\n") != NULL);
	free(r);
	r = fetch("/nope");
	ASSERT(strncmp(r, "HTTP/1.1 404", 12) == 0);
	free(r);
}

TEST(server_container_logs)
{
	char *r, *body;

	setup();
	line(cur_log, 1, "stdout");
	line(cur_log, 2, "stderr");
	line(cur_log, 3, "stdout");
	line(prev_log, 0, "stdout");
	r = fetch("/containerLogs/web/api/app");
	ASSERT(strncmp(r, "HTTP/1.1 200", 12) == 0);
	body = dechunk(body_of(r));
	ASSERT_STREQ(body, "line 1\nline 2\nline 3\n");
	free(body);
	free(r);
	r = fetch("/containerLogs/web/api/app?tailLines=1&timestamps=true");
	body = dechunk(body_of(r));
	ASSERT_STREQ(body, "2024-01-02T03:04:08Z line 3\n");
	free(body);
	free(r);
	r = fetch("/containerLogs/web/api/app?sinceTime=2024-01-02T03:04:07Z&limitBytes=9");
	body = dechunk(body_of(r));
	ASSERT_STREQ(body, "line 2\nli");
	free(body);
	free(r);
	r = fetch("/containerLogs/web/api/app?previous=true");
	body = dechunk(body_of(r));
	ASSERT_STREQ(body, "line 0\n");
	free(body);
	free(r);
}

TEST(server_container_logs_errors)
{
	static const struct {
		const char *path;
		const char *status;
		const char *needle;
	} cases[] = {
		{ "/containerLogs/web/nope/app", "404",
		  "container \"app\" in pod \"web/nope\" not found" },
		{ "/containerLogs/web/api/app?previous=1", "404", "log file" },
		{ "/containerLogs/web/api/app?tailLines=-3", "400", "tailLines" },
		{ "/containerLogs/web/api/app?follow=maybe", "400", "follow" },
		{ "/containerLogs/web/api/app?sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z", "400",
		  "at most one" },
		{ "/containerLogs/web/api", "400", "want /containerLogs/" },
		{ "/containerLogs/web/api/app/extra", "400", "want /containerLogs/" },
		{ "/containerLogs/web//app", "400", "want /containerLogs/" },
	};

	setup();
	line(cur_log, 1, "stdout"); /* the current log exists, the previous one does not */
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *r = fetch(cases[i].path);

		ASSERT_MSG(strncmp(r + 9, cases[i].status, 3) == 0, "%s: %.40s", cases[i].path, r);
		ASSERT_MSG(strstr(body_of(r), cases[i].needle) != NULL, "%s: body \"%s\"",
			   cases[i].path, body_of(r));
		free(r);
	}
	/* Only GET. */
	{
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_port = htons(kl_server_port(&kl)) };
		const char *req = "POST /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
				  "Content-Length: 2\r\n\r\nhi";
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		char *r;

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ASSERT_OK(connect(fd, (struct sockaddr *)&sin, sizeof(sin)));
		ASSERT_EQ(write(fd, req, strlen(req)), (ssize_t)strlen(req));
		r = read_until(fd, "\x01never", 3000);
		ASSERT(strncmp(r, "HTTP/1.1 405", 12) == 0);
		free(r);
		close(fd);
	}
}

static void *stop_container_later(void *arg)
{
	struct timespec ts = { 0, 100000000 };

	for (int i = 2; i <= 4; i++) {
		nanosleep(&ts, NULL);
		line(cur_log, i, "stdout");
	}
	nanosleep(&ts, NULL);
	atomic_store(&running, false);
	return NULL;
}

TEST(server_follow_streams_until_the_container_stops)
{
	pthread_t th;
	char *r, *body;
	int fd;

	setup();
	line(cur_log, 1, "stdout");
	fd = request("/containerLogs/web/api/app?follow=true");
	ASSERT_OK(pthread_create(&th, NULL, stop_container_later, NULL));
	r = read_until(fd, "\r\n0\r\n\r\n", 8000); /* the last chunk */
	pthread_join(th, NULL);
	close(fd);
	ASSERT(strncmp(r, "HTTP/1.1 200", 12) == 0);
	body = dechunk(body_of(r));
	ASSERT_STREQ(body, "line 1\nline 2\nline 3\nline 4\n");
	free(body);
	free(r);
}

TEST(server_follow_sends_headers_before_any_line)
{
	char *r;
	int fd;

	setup();
	line(cur_log, 1, "stdout");
	/* tailLines=0: nothing to send yet, but the status must come at once. */
	fd = request("/containerLogs/web/api/app?follow=true&tailLines=0");
	r = read_until(fd, "\r\n\r\n", 2000);
	ASSERT_MSG(strncmp(r, "HTTP/1.1 200", 12) == 0, "got \"%s\"", r);
	free(r);
	line(cur_log, 2, "stdout");
	r = read_until(fd, "line 2\n", 3000);
	ASSERT(strstr(r, "line 2\n") != NULL);
	ASSERT(strstr(r, "line 1") == NULL);
	free(r);
	close(fd);
}

static int streams_gauge(void)
{
	char *r = fetch("/metrics");
	const char *p = strstr(r, "\ncapstan_kubelet_log_streams ");
	int n = p ? atoi(p + strlen("\ncapstan_kubelet_log_streams ")) : -1;

	free(r);
	return n;
}

TEST(server_follow_ends_when_the_client_leaves)
{
	char *r;
	int fd, n = -1;

	setup();
	line(cur_log, 1, "stdout");
	fd = request("/containerLogs/web/api/app?follow=1");
	r = read_until(fd, "line 1\n", 2000);
	free(r);
	ASSERT_EQ(streams_gauge(), 1);
	close(fd);
	for (int i = 0; i < 100 && n != 0; i++) {
		struct timespec ts = { 0, 20000000 };

		nanosleep(&ts, NULL);
		n = streams_gauge();
	}
	ASSERT_EQ(n, 0);
}

TEST(server_follow_ends_when_the_container_restarts)
{
	char *r;
	int fd;

	setup();
	line(cur_log, 1, "stdout");
	fd = request("/containerLogs/web/api/app?follow=true");
	r = read_until(fd, "line 1\n", 2000);
	free(r);
	/* A new instance logs elsewhere: the followed file is finished. */
	pthread_mutex_lock(&paths_lock);
	snprintf(cur_log, sizeof(cur_log), "%s/2.log", test_tmpdir());
	pthread_mutex_unlock(&paths_lock);
	/* The earlier read took "line 1"'s chunk: what remains is the last chunk. */
	r = read_until(fd, "0\r\n\r\n", 5000);
	ASSERT_STREQ(r, "0\r\n\r\n");
	free(r);
	close(fd);
}

TEST(server_stops_under_a_follower)
{
	uint64_t t0;
	char *r;
	int fd;

	setup();
	line(cur_log, 1, "stdout");
	fd = request("/containerLogs/web/api/app?follow=true");
	r = read_until(fd, "line 1\n", 2000);
	ASSERT(strstr(r, "line 1\n") != NULL);
	free(r);
	t0 = now_mono_ns();
	kl_server_stop(&kl);
	ASSERT(now_mono_ns() - t0 < 3000000000ull);
	ASSERT_EQ(kl_server_port(&kl), -1);
	close(fd);
}

TEST(server_bad_address_and_port)
{
	memset(&kl, 0, sizeof(kl));
	ASSERT_EQ(kl_server_start_opts(&kl, "not-an-address", 0, &ops), -EINVAL);
	ASSERT_EQ(kl_server_start_opts(&kl, "127.0.0.1", 70000, &ops), -EINVAL);
	ASSERT_NULL(kl.server);
}
