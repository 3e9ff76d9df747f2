/* server.c - the kubelet's HTTP port; see server.h for the design. */
#include "agent/kubelet/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "agent/kubelet/events.h"
#include "agent/kubelet/logs.h"
#include "agent/kubelet/pods.h"
#include "log.h"
#include "util.h"

#define SERVER_STREAM_BLOCK (32u << 10)
/* How long a follower's content callback waits before checking its client. */
#define SERVER_FOLLOW_WAIT_MS 250
#define SERVER_MAX_CONNECTIONS 256
#define SERVER_IDLE_TIMEOUT_S 300

struct kl_server {
	struct kubelet *k;
	struct kl_server_ops ops;
	struct MHD_Daemon *daemon;
	int port;
	atomic_bool stopping;
	atomic_int streams; /* open /containerLogs responses */
	atomic_ulong requests;
};

/* One /containerLogs response. */
struct log_stream {
	struct kl_server *srv;
	struct logs_reader *reader;
	int fd; /* the client's socket */
	bool previous;
	char *ns, *pod, *container;
	char path[PATH_MAX];
};

/* ---------------------------------------------------------------- defaults */

static bool cri_container_running(struct kubelet *k, const char *ns, const char *pod,
				  const char *container)
{
	Runtime__V1__ContainerFilter__LabelSelectorEntry e[3] = {
		RUNTIME__V1__CONTAINER_FILTER__LABEL_SELECTOR_ENTRY__INIT,
		RUNTIME__V1__CONTAINER_FILTER__LABEL_SELECTOR_ENTRY__INIT,
		RUNTIME__V1__CONTAINER_FILTER__LABEL_SELECTOR_ENTRY__INIT,
	};
	Runtime__V1__ContainerFilter__LabelSelectorEntry *sel[3] = { &e[0], &e[1], &e[2] };
	Runtime__V1__ContainerStateValue state = RUNTIME__V1__CONTAINER_STATE_VALUE__INIT;
	Runtime__V1__ContainerFilter filter = RUNTIME__V1__CONTAINER_FILTER__INIT;
	Runtime__V1__ListContainersRequest req = RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
	Runtime__V1__ListContainersResponse *resp = NULL;
	char err[256];
	bool running;

	if (!k->cri)
		return true;
	e[0].key = PODS_LABEL_NAMESPACE;
	e[0].value = (char *)ns;
	e[1].key = PODS_LABEL_NAME;
	e[1].value = (char *)pod;
	e[2].key = PODS_LABEL_CONTAINER;
	e[2].value = (char *)container;
	state.state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
	filter.state = &state;
	filter.n_label_selector = 3;
	filter.label_selector = sel;
	req.filter = &filter;
	/* When the runtime cannot say, keep following: ending a stream early loses lines. */
	if (cri_list_containers(k->cri, &req, &resp, err, sizeof(err)) != 0)
		return true;
	running = resp->n_containers > 0;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return running;
}

static const struct kl_server_ops default_ops = {
	.log_path = pods_container_log_path,
	.container_running = cri_container_running,
	.running_pods = pods_running_count,
};

/* ---------------------------------------------------------------- replies */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
			     const char *body)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *fmt,
				  ...) __attribute__((format(printf, 3, 4)));

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *fmt,
				  ...)
{
	char body[1024];
	va_list ap;

	/* No trailing newline: the API server puts the text in a Status message as is. */
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	return reply(conn, status, "text/plain; charset=utf-8", body);
}

/* ---------------------------------------------------------------- /metrics */

static long self_status_field(const char *key)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	size_t n = strlen(key);
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static enum MHD_Result serve_metrics(struct kl_server *srv, struct MHD_Connection *conn)
{
	struct kubelet *k = srv->k;
	struct buf b = { 0 };
	struct events_stats es = { 0 };
	long rss_kib = self_status_field("VmRSS"), threads = self_status_field("Threads");
	bool net;
	enum MHD_Result ret;

	pthread_mutex_lock(&k->lock);
	net = k->network_ready;
	pthread_mutex_unlock(&k->lock);
	if (k->events)
		events_get_stats(k->events, &es);
	buf_appendf(
		&b,
		"# HELP capstan_kubelet_running_pods Pods with a running sandbox on this node.\n"
		"# TYPE capstan_kubelet_running_pods gauge\n"
		"capstan_kubelet_running_pods %d\n",
		srv->ops.running_pods(k));
	buf_appendf(&b,
		    "# HELP capstan_kubelet_network_ready Whether the pod network is configured.\n"
		    "# TYPE capstan_kubelet_network_ready gauge\n"
		    "capstan_kubelet_network_ready %d\n",
		    net);
	buf_appendf(&b,
		    "# HELP capstan_kubelet_log_streams Open /containerLogs responses.\n"
		    "# TYPE capstan_kubelet_log_streams gauge\n"
		    "capstan_kubelet_log_streams %d\n",
		    atomic_load(&srv->streams));
	buf_appendf(&b,
		    "# HELP capstan_kubelet_http_requests_total Requests served on this port.\n"
		    "# TYPE capstan_kubelet_http_requests_total counter\n"
		    "capstan_kubelet_http_requests_total %lu\n",
		    atomic_load(&srv->requests));
	buf_appendf(&b,
		    "# HELP capstan_kubelet_events_total Events by outcome.\n"
		    "# TYPE capstan_kubelet_events_total counter\n"
		    "capstan_kubelet_events_total{outcome=\"created\"} %lu\n"
		    "capstan_kubelet_events_total{outcome=\"patched\"} %lu\n"
		    "capstan_kubelet_events_total{outcome=\"failed\"} %lu\n"
		    "# HELP capstan_kubelet_events_dropped_total Events dropped on a full queue.\n"
		    "# TYPE capstan_kubelet_events_dropped_total counter\n"
		    "capstan_kubelet_events_dropped_total %lu\n",
		    es.created, es.patched, es.failed, es.dropped);
	if (rss_kib >= 0)
		buf_appendf(&b,
			    "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
			    "# TYPE process_resident_memory_bytes gauge\n"
			    "process_resident_memory_bytes %ld\n",
			    rss_kib * 1024);
	if (threads >= 0)
		buf_appendf(&b,
			    "# HELP capstan_kubelet_threads Threads of the kubelet process.\n"
			    "# TYPE capstan_kubelet_threads gauge\n"
			    "capstan_kubelet_threads %ld\n",
			    threads);
	ret = reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.data);
	buf_free(&b);
	return ret;
}

/* ---------------------------------------------------------------- /containerLogs */

static bool client_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static bool stream_writer_alive(void *ctx)
{
	struct log_stream *st = ctx;
	struct kl_server *srv = st->srv;
	char cur[PATH_MAX];
	int rc;

	if (st->previous)
		return false; /* a finished instance: nothing more will come */
	rc = srv->ops.log_path(srv->k, st->ns, st->pod, st->container, false, cur, sizeof(cur));
	if (rc < 0 || strcmp(cur, st->path) != 0)
		return false; /* the pod is gone, or the container restarted */
	return !srv->ops.container_running ||
	       srv->ops.container_running(srv->k, st->ns, st->pod, st->container);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct log_stream *st = cls;

	for (;;) {
		ssize_t n;

		if (atomic_load(&st->srv->stopping))
			return MHD_CONTENT_READER_END_WITH_ERROR;
		n = logs_reader_read(st->reader, buf, max, SERVER_FOLLOW_WAIT_MS);
		if (n > 0)
			return n;
		if (n == LOGS_EOF)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (n < 0) {
			log_warn("reading %s: %s", st->path, strerror((int)-n));
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		if (client_gone(st->fd))
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
}

static void stream_free(void *cls)
{
	struct log_stream *st = cls;

	atomic_fetch_sub(&st->srv->streams, 1);
	logs_reader_close(st->reader);
	free(st->ns);
	free(st->pod);
	free(st->container);
	free(st);
}

static const char *query_get(void *ctx, const char *name)
{
	return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

/* rest: "<namespace>/<pod>/<container>" */
static enum MHD_Result serve_logs(struct kl_server *srv, struct MHD_Connection *conn,
				  const char *rest)
{
	const union MHD_ConnectionInfo *ci;
	struct logs_options o;
	struct log_stream *st;
	struct MHD_Response *r;
	char *parts[3] = { NULL, NULL, NULL }, *copy = xstrdup(rest), *save = NULL, err[256];
	bool previous;
	enum MHD_Result ret;
	int n = 0, rc;

	for (char *p = strtok_r(copy, "/", &save); p; p = strtok_r(NULL, "/", &save))
		if (n++ < 3)
			parts[n - 1] = p;
	if (n != 3 || rest[strlen(rest) - 1] == '/' || strstr(rest, "//")) {
		free(copy);
		return reply_text(conn, MHD_HTTP_BAD_REQUEST,
				  "want /containerLogs/<namespace>/<pod>/<container>");
	}
	if (logs_options_from_query(query_get, conn, (int64_t)now_real_ns(), &o, &previous, err,
				    sizeof(err)) < 0) {
		free(copy);
		return reply_text(conn, MHD_HTTP_BAD_REQUEST, "%s", err);
	}
	st = xcalloc(1, sizeof(*st));
	st->srv = srv;
	st->previous = previous;
	st->ns = xstrdup(parts[0]);
	st->pod = xstrdup(parts[1]);
	st->container = xstrdup(parts[2]);
	free(copy);
	rc = srv->ops.log_path(srv->k, st->ns, st->pod, st->container, previous, st->path,
			       sizeof(st->path));
	if (rc < 0) {
		ret = reply_text(
			conn, MHD_HTTP_NOT_FOUND, "%scontainer \"%s\" in pod \"%s/%s\" not found",
			previous ? "previous terminated " : "", st->container, st->ns, st->pod);
		goto fail;
	}
	rc = logs_reader_open(st->path, &o, stream_writer_alive, st, &st->reader);
	if (rc == -ENOENT) {
		ret = reply_text(conn, MHD_HTTP_NOT_FOUND,
				 "log file of container \"%s\" in pod \"%s/%s\" not found",
				 st->container, st->ns, st->pod);
		goto fail;
	} else if (rc < 0) {
		ret = reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "opening %s: %s", st->path,
				 strerror(-rc));
		goto fail;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	st->fd = ci ? ci->connect_fd : -1;
	/* A quiet container is no idle client: only a hang-up ends a follow. */
	if (o.follow)
		MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
	atomic_fetch_add(&srv->streams, 1);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SERVER_STREAM_BLOCK, stream_read,
					      st, stream_free);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
fail:
	free(st->ns);
	free(st->pod);
	free(st->container);
	free(st);
	return ret;
}

/* ---------------------------------------------------------------- dispatch */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	static const char logs_prefix[] = "/containerLogs/";
	struct kl_server *srv = cls;

	if (!*con_cls) {
		/* First call: headers only. Answer on the next, as MHD wants for bodies. */
		*con_cls = srv;
		return MHD_YES;
	}
	if (*data_size) {
		*data_size = 0; /* no endpoint takes a body */
		return MHD_YES;
	}
	atomic_fetch_add(&srv->requests, 1);
	if (strcmp(method, "GET") != 0)
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method %s not allowed",
				  method);
	if (strcmp(url, "/healthz") == 0)
		return reply(conn, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok");
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(srv, conn);
	if (strncmp(url, logs_prefix, sizeof(logs_prefix) - 1) == 0)
		return serve_logs(srv, conn, url + sizeof(logs_prefix) - 1);
	return reply_text(conn, MHD_HTTP_NOT_FOUND, "404 page not found");
}

static struct MHD_Daemon *start_daemon(struct kl_server *srv, const char *addr, int port, int *err)
{
	const unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct MHD_Daemon *d;

	*err = -EINVAL;
	if (!addr) {
		d = MHD_start_daemon(flags | MHD_USE_DUAL_STACK, (uint16_t)port, NULL, NULL,
				     on_request, srv, MHD_OPTION_CONNECTION_LIMIT,
				     (unsigned)SERVER_MAX_CONNECTIONS,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVER_IDLE_TIMEOUT_S,
				     MHD_OPTION_END);
		if (d)
			return d;
		/* A kernel without IPv6: every IPv4 address instead. */
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
	} else if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
	} else {
		return NULL;
	}
	if (ss.ss_family == AF_INET)
		sin->sin_port = htons((uint16_t)port);
	else
		sin6->sin6_port = htons((uint16_t)port);
	d = MHD_start_daemon(flags | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), (uint16_t)port,
			     NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR,
			     (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
			     (unsigned)SERVER_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
			     (unsigned)SERVER_IDLE_TIMEOUT_S, MHD_OPTION_END);
	/* MHD does not say why; a taken port is by far the likeliest. */
	*err = -EADDRINUSE;
	return d;
}

int kl_server_start_opts(struct kubelet *k, const char *addr, int port,
			 const struct kl_server_ops *ops)
{
	struct kl_server *srv;
	const union MHD_DaemonInfo *info;
	int err;

	if (port < 0 || port > 65535)
		return -EINVAL;
	srv = xcalloc(1, sizeof(*srv));
	srv->k = k;
	srv->ops = ops ? *ops : default_ops;
	srv->daemon = start_daemon(srv, addr, port, &err);
	if (!srv->daemon) {
		free(srv);
		return err;
	}
	info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info ? info->port : port;
	k->server = srv;
	log_info("serving /healthz, /metrics and /containerLogs on %s port %d",
		 addr ? addr : "every address", srv->port);
	return 0;
}

int kl_server_start(struct kubelet *k)
{
	/* Only the node address: the port serves logs without authentication. */
	return kl_server_start_opts(k, k->node_ip[0] ? k->node_ip : NULL, k->cfg.port, NULL);
}

int kl_server_port(struct kubelet *k)
{
	return k->server ? k->server->port : -1;
}

void kl_server_stop(struct kubelet *k)
{
	struct kl_server *srv = k->server;

	if (!srv)
		return;
	/* Followers notice within SERVER_FOLLOW_WAIT_MS; MHD then joins their threads. */
	atomic_store(&srv->stopping, true);
	MHD_stop_daemon(srv->daemon);
	k->server = NULL;
	free(srv);
}
