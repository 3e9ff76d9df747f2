/* metrics.c - see metrics.h. */
#include "agent/lb/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "agent/lb/mapops.h"
#include "agent/lb/writer.h"

const double lb_sync_buckets[] = { 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10 };
const size_t lb_sync_nbuckets = ARRAY_SIZE(lb_sync_buckets);
const double lb_latency_buckets[] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5,
				      1,     2.5,   5,	  10,	30,  60 };
const size_t lb_latency_nbuckets = ARRAY_SIZE(lb_latency_buckets);

int lb_hist_init(struct lb_hist *h, const double *bounds, size_t nbounds)
{
	if (nbounds > LB_HIST_MAX_BUCKETS)
		return -EINVAL;
	for (size_t i = 1; i < nbounds; i++)
		if (!(bounds[i] > bounds[i - 1]))
			return -EINVAL;
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->mu, NULL);
	h->bounds = bounds;
	h->nbounds = nbounds;
	return 0;
}

void lb_hist_destroy(struct lb_hist *h)
{
	pthread_mutex_destroy(&h->mu);
}

void lb_hist_observe(struct lb_hist *h, double v)
{
	size_t i = 0;

	while (i < h->nbounds && v > h->bounds[i])
		i++;
	pthread_mutex_lock(&h->mu);
	h->counts[i]++;
	h->count++;
	h->sum += v;
	pthread_mutex_unlock(&h->mu);
}

void lb_hist_render(struct buf *out, const char *name, const char *help, struct lb_hist *h)
{
	uint64_t counts[LB_HIST_MAX_BUCKETS + 1], cum = 0, count;
	double sum;

	pthread_mutex_lock(&h->mu);
	memcpy(counts, h->counts, sizeof(counts));
	count = h->count;
	sum = h->sum;
	pthread_mutex_unlock(&h->mu);

	buf_appendf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (size_t i = 0; i < h->nbounds; i++) {
		cum += counts[i];
		buf_appendf(out, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i],
			    (unsigned long long)cum);
	}
	buf_appendf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)count);
	buf_appendf(out, "%s_sum %.9g\n%s_count %llu\n", name, sum, name,
		    (unsigned long long)count);
}

void lb_metrics_escape(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_append(out, "\\\\", 2);
		else if (*s == '"')
			buf_append(out, "\\\"", 2);
		else if (*s == '\n')
			buf_append(out, "\\n", 2);
		else
			buf_append(out, s, 1);
	}
}

void lb_metrics_init(struct lb_metrics *m)
{
	memset(m, 0, sizeof(*m));
	lb_hist_init(&m->sync_seconds, lb_sync_buckets, lb_sync_nbuckets);
	lb_hist_init(&m->event_to_map_seconds, lb_latency_buckets, lb_latency_nbuckets);
}

void lb_metrics_destroy(struct lb_metrics *m)
{
	lb_hist_destroy(&m->sync_seconds);
	lb_hist_destroy(&m->event_to_map_seconds);
}

static const char *proto_label(__u8 proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

static void family(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void service_labels(struct buf *out, const struct lb_snapshot_frontend *f)
{
	char owner[sizeof(f->owner)], addr[INET_ADDRSTRLEN];
	char *slash;

	snprintf(owner, sizeof(owner), "%s", f->owner);
	slash = strchr(owner, '/');
	if (slash)
		*slash = '\0';
	buf_appendf(out, "{namespace=\"");
	lb_metrics_escape(out, slash ? owner : "");
	buf_appendf(out, "\",service=\"");
	lb_metrics_escape(out, slash ? slash + 1 : owner);
	inet_ntop(AF_INET, &f->addr, addr, sizeof(addr));
	buf_appendf(out, "\",port=\"%u\",proto=\"%s\",address=\"%s\",scope=\"%s\"}", ntohs(f->port),
		    proto_label(f->proto), addr,
		    f->scope == CAPSTAN_SCOPE_EXTERNAL ? "external" : "internal");
}

static void render_services(struct lb_metrics *m, const struct lb_snapshot *s, struct buf *out)
{
	static const struct {
		const char *name, *help;
	} fams[] = {
		{ "capstan_service_connections_total",
		  "Connections (TCP and connected UDP) translated to a backend of the service "
		  "port." },
		{ "capstan_service_udp_messages_total",
		  "Unconnected UDP datagrams translated for the service port." },
		{ "capstan_service_refused_total",
		  "Connections (or, external scope, new flows) refused because the service port "
		  "had no ready backend." },
		{ "capstan_service_flows_total",
		  "New north-south flows translated by the tc/XDP programs (external scope)." },
		{ "capstan_service_packets_total",
		  "Packets of north-south flows translated, both directions (external scope)." },
		{ "capstan_service_bytes_total",
		  "IP bytes of north-south packets translated, both directions (external scope)." },
	};
	__u64(*sums)[6] = xcalloc(s->nfe + 1, sizeof(*sums));
	bool *ok = xcalloc(s->nfe + 1, sizeof(*ok));

	for (size_t i = 0; i < s->nfe; i++)
		ok[i] = m->ops->sum(m->ops_ctx, LB_MAP_SVC_COUNTERS, s->fe[i].rev_nat_id, sums[i],
				    6) == 0;
	for (size_t f = 0; f < ARRAY_SIZE(fams); f++) {
		family(out, fams[f].name, "counter", fams[f].help);
		for (size_t i = 0; i < s->nfe; i++) {
			if (!ok[i])
				continue;
			buf_appendf(out, "%s", fams[f].name);
			service_labels(out, &s->fe[i]);
			buf_appendf(out, " %llu\n", (unsigned long long)sums[i][f]);
		}
	}
	free(ok);
	free(sums);
}

static void render_backends(struct lb_metrics *m, const struct lb_snapshot *s, struct buf *out)
{
	static const struct {
		const char *name, *help;
	} fams[] = {
		{ "capstan_backend_connections_total", "Connections sent to the backend." },
		{ "capstan_backend_udp_messages_total",
		  "Unconnected UDP datagrams sent to the backend." },
		{ "capstan_backend_flows_total", "North-south flows sent to the backend." },
	};
	__u64(*sums)[3] = xcalloc(s->nbe + 1, sizeof(*sums));
	bool *ok = xcalloc(s->nbe + 1, sizeof(*ok));

	for (size_t i = 0; i < s->nbe; i++)
		ok[i] = m->ops->sum(m->ops_ctx, LB_MAP_BACKEND_COUNTERS, s->be[i].id, sums[i], 3) ==
			0;
	for (size_t f = 0; f < ARRAY_SIZE(fams); f++) {
		family(out, fams[f].name, "counter", fams[f].help);
		for (size_t i = 0; i < s->nbe; i++) {
			char a[INET_ADDRSTRLEN];

			if (!ok[i])
				continue;
			inet_ntop(AF_INET, &s->be[i].be.addr, a, sizeof(a));
			buf_appendf(out, "%s{address=\"%s\",port=\"%u\",proto=\"%s\"} %llu\n",
				    fams[f].name, a, ntohs(s->be[i].be.port),
				    proto_label(s->be[i].be.proto), (unsigned long long)sums[i][f]);
		}
	}
	free(ok);
	free(sums);
}

static void render_drops(struct lb_metrics *m, struct buf *out)
{
	static const char *const names[] = CAPSTAN_DROP_NAMES;

	family(out, "capstan_drops_total", "counter",
	       "Connections or datagrams the datapath refused, by reason.");
	for (__u32 r = CAPSTAN_DROP_NONE + 1; r < CAPSTAN_DROP__MAX && r < ARRAY_SIZE(names); r++) {
		__u64 n;

		if (m->ops->sum(m->ops_ctx, LB_MAP_DROPS, r, &n, 1) == 0)
			buf_appendf(out, "capstan_drops_total{reason=\"%s\"} %llu\n", names[r],
				    (unsigned long long)n);
	}
}

void lb_metrics_render(struct lb_metrics *m, struct buf *out)
{
	struct lb_snapshot snap = { 0 };
	size_t services = 0;

	if (m->writer) {
		lb_writer_snapshot(m->writer, &snap);
		for (size_t i = 0; i < snap.nfe; i++)
			if (i == 0 || strcmp(snap.fe[i].owner, snap.fe[i - 1].owner) != 0)
				services++;
	}
	family(out, "capstan_services", "gauge", "Services with at least one programmed port.");
	buf_appendf(out, "capstan_services %zu\n", services);
	family(out, "capstan_service_ports", "gauge", "Service ports programmed in the datapath.");
	buf_appendf(out, "capstan_service_ports %zu\n", snap.nfe);
	family(out, "capstan_backends", "gauge", "Backends programmed in the datapath.");
	buf_appendf(out, "capstan_backends %zu\n", snap.nbe);
	if (m->ops) {
		render_services(m, &snap, out);
		render_backends(m, &snap, out);
		render_drops(m, out);
	}
	family(out, "capstan_syncs_total", "counter", "Syncs of the datapath maps run.");
	buf_appendf(out, "capstan_syncs_total %llu\n",
		    (unsigned long long)__atomic_load_n(&m->syncs, __ATOMIC_RELAXED));
	family(out, "capstan_sync_errors_total", "counter",
	       "Syncs in which a map write failed (retried by the next sync).");
	buf_appendf(out, "capstan_sync_errors_total %llu\n",
		    (unsigned long long)__atomic_load_n(&m->sync_errors, __ATOMIC_RELAXED));
	lb_hist_render(out, "capstan_sync_duration_seconds",
		       "Time to apply one batch of changes to the datapath maps.",
		       &m->sync_seconds);
	lb_hist_render(out, "capstan_event_to_map_seconds",
		       "Time from the API event that caused a change to its map write.",
		       &m->event_to_map_seconds);
	lb_snapshot_free(&snap);
}

/* ---------------------------------------------------------------- HTTP */

struct lb_httpd {
	struct MHD_Daemon *d;
	struct lb_metrics *m;
	bool (*healthy)(void *ctx);
	void *ctx;
	unsigned port;
};

int lb_parse_listen(const char *s, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *hs = s;
	size_t hl;
	char *end;
	unsigned long port;

	memset(ss, 0, sizeof(*ss));
	if (!s)
		return -EINVAL;
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		hs = s + 1;
		hl = (size_t)(close - hs);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host) || !colon[1])
		return -EINVAL;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (*end || errno || port > 65535 || colon[1] == '-' || colon[1] == '+')
		return -EINVAL;
	if (*s != '[') {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		return inet_pton(AF_INET, host, &in->sin_addr) == 1 ? 0 : -EINVAL;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host, &in6->sin6_addr) == 1 ? 0 : -EINVAL;
	}
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
			     const char *body, size_t len)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result httpd_handle(void *cls, struct MHD_Connection *c, const char *url,
				    const char *method, const char *version,
				    const char *upload_data, size_t *upload_data_size,
				    void **con_cls)
{
	struct lb_httpd *h = cls;
	enum MHD_Result ret;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "GET only\n", 9);
	if (strcmp(url, "/metrics") == 0) {
		struct buf b = { 0 };

		lb_metrics_render(h->m, &b);
		ret = reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
			    b.data ? b.data : "", b.len);
		buf_free(&b);
		return ret;
	}
	if (strcmp(url, "/healthz") == 0) {
		if (h->healthy && h->healthy(h->ctx))
			return reply(c, MHD_HTTP_OK, "text/plain", "ok\n", 3);
		return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
			     "the first sync is not done\n", 27);
	}
	return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n", 10);
}

int lb_httpd_start(const char *listen_addr, struct lb_metrics *m, bool (*healthy)(void *ctx),
		   void *ctx, struct lb_httpd **out, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct lb_httpd *h;
	int fd = -1, one = 1, rc;

	if (lb_parse_listen(listen_addr, &ss) < 0) {
		snprintf(err, errlen, "bad listen address \"%s\" (want ADDR:PORT)",
			 listen_addr ? listen_addr : "");
		return -EINVAL;
	}
	len = ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	/* Bind ourselves: MHD would only say "failed" when the port is taken. */
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot listen on %s: %s", listen_addr, strerror(-rc));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	h = xcalloc(1, sizeof(*h));
	h->m = m;
	h->healthy = healthy;
	h->ctx = ctx;
	h->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						: ((struct sockaddr_in6 *)&ss)->sin6_port);
	h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
					(ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
				0, NULL, NULL, httpd_handle, h, MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
	if (!h->d) {
		snprintf(err, errlen, "cannot start the HTTP server on %s", listen_addr);
		close(fd);
		free(h);
		return -EIO;
	}
	*out = h;
	return 0;
}

unsigned lb_httpd_port(const struct lb_httpd *h)
{
	return h->port;
}

void lb_httpd_stop(struct lb_httpd *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
