/*
 * Unit tests for agent/lb/metrics: the Prometheus text the agent serves,
 * from the writer's labels and the (fake) per-CPU counters, and the HTTP
 * endpoint with its health check.
 */
#include "test.h"
#include "test_agent_fake.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "agent/lb/metrics.h"
#include "agent/lb/writer.h"
#include "httpc.h"

TEST(agent_metrics_histogram_is_cumulative)
{
	static const double b[] = { 0.1, 1, 10 };
	struct lb_hist h;
	struct buf out = { 0 };

	ASSERT_OK(lb_hist_init(&h, b, 3));
	lb_hist_observe(&h, 0.05);
	lb_hist_observe(&h, 0.1); /* le is inclusive */
	lb_hist_observe(&h, 5);
	lb_hist_observe(&h, 50);
	lb_hist_render(&out, "x_seconds", "help text", &h);
	ASSERT_STREQ(out.data, "# HELP x_seconds help text\n"
			       "# TYPE x_seconds histogram\n"
			       "x_seconds_bucket{le=\"0.1\"} 2\n"
			       "x_seconds_bucket{le=\"1\"} 2\n"
			       "x_seconds_bucket{le=\"10\"} 3\n"
			       "x_seconds_bucket{le=\"+Inf\"} 4\n"
			       "x_seconds_sum 55.15\n"
			       "x_seconds_count 4\n");
	buf_free(&out);
	lb_hist_destroy(&h);
}

TEST(agent_metrics_histogram_rejects_bad_buckets)
{
	static const double down[] = { 1, 0.5 };
	static const double many[LB_HIST_MAX_BUCKETS + 1] = { 0 };
	struct lb_hist h;

	ASSERT_EQ(lb_hist_init(&h, down, 2), -EINVAL);
	ASSERT_EQ(lb_hist_init(&h, many, LB_HIST_MAX_BUCKETS + 1), -EINVAL);
}

TEST(agent_metrics_label_escaping)
{
	struct buf out = { 0 };

	lb_metrics_escape(&out, "a\"b\\c\nd");
	ASSERT_STREQ(out.data, "a\\\"b\\\\c\\nd");
	buf_free(&out);
}

static struct fake_maps fm;

static struct lb_writer *programmed(void)
{
	struct lb_writer_config wc = { .ops = &fake_ops, .ops_ctx = &fm };
	struct lb_writer *w;
	struct capstan_backend be[2] = { fake_backend("10.244.1.1", 8080, IPPROTO_TCP, 0),
					 fake_backend("10.244.1.2", 8080, IPPROTO_TCP, 0) };
	struct lb_frontend f = { .proto = IPPROTO_TCP,
				 .vip_flags = CAPSTAN_VIP_F_CLUSTER_IP,
				 .backends = be,
				 .n_active = 2 };

	fake_init(&fm);
	w = lb_writer_new(&wc);
	inet_pton(AF_INET, "10.96.0.10", &f.addr);
	f.port = htons(80);
	lb_writer_begin(w, false);
	ASSERT_OK(lb_writer_set_service(w, "shop/we\"b", &f, 1, NULL));
	ASSERT_OK(lb_writer_commit(w, NULL));
	return w;
}

TEST(agent_metrics_scrape_sums_datapath_counters)
{
	struct lb_metrics m;
	struct buf out = { 0 };
	struct lb_writer *w = programmed();

	lb_metrics_init(&m);
	m.writer = w;
	m.ops = &fake_ops;
	m.ops_ctx = &fm;
	fm.counters[LB_MAP_SVC_COUNTERS][1][0] = 12;
	fm.counters[LB_MAP_SVC_COUNTERS][1][1] = 3;
	fm.counters[LB_MAP_SVC_COUNTERS][1][2] = 1;
	fm.counters[LB_MAP_BACKEND_COUNTERS][2][0] = 7;
	fm.counters[LB_MAP_DROPS][CAPSTAN_DROP_PORT_NOT_SERVED][0] = 4;
	lb_hist_observe(&m.sync_seconds, 0.002);
	__atomic_add_fetch(&m.syncs, 1, __ATOMIC_RELAXED);
	lb_metrics_render(&m, &out);

#define HAS(s) ASSERT_MSG(strstr(out.data, s) != NULL, "missing: %s\n%s", s, out.data)
	HAS("capstan_services 1\n");
	HAS("capstan_service_ports 1\n");
	HAS("capstan_backends 2\n");
	HAS("# TYPE capstan_service_connections_total counter\n");
	HAS("capstan_service_connections_total{namespace=\"shop\",service=\"we\\\"b\",port=\"80\","
	    "proto=\"tcp\",address=\"10.96.0.10\",scope=\"internal\"} 12\n");
	HAS("capstan_service_udp_messages_total{namespace=\"shop\",service=\"we\\\"b\",port=\"80\","
	    "proto=\"tcp\",address=\"10.96.0.10\",scope=\"internal\"} 3\n");
	HAS("capstan_service_refused_total{namespace=\"shop\",service=\"we\\\"b\",port=\"80\","
	    "proto=\"tcp\",address=\"10.96.0.10\",scope=\"internal\"} 1\n");
	HAS("capstan_backend_connections_total{address=\"10.244.1.1\",port=\"8080\",proto=\"tcp\"} "
	    "0\n");
	HAS("capstan_backend_connections_total{address=\"10.244.1.2\",port=\"8080\",proto=\"tcp\"} "
	    "7\n");
	HAS("capstan_drops_total{reason=\"port_not_served\"} 4\n");
	HAS("capstan_drops_total{reason=\"no_backend\"} 0\n");
	HAS("capstan_sync_duration_seconds_count 1\n");
	HAS("capstan_event_to_map_seconds_count 0\n");
	HAS("capstan_syncs_total 1\n");
	ASSERT(strstr(out.data, "reason=\"none\"") == NULL);
#undef HAS
	buf_free(&out);
	lb_metrics_destroy(&m);
	lb_writer_free(w);
	fake_free(&fm);
}

static bool health;

static bool is_healthy(void *ctx)
{
	return health;
}

static long get(struct httpc *c, const char *path, struct httpc_response *resp)
{
	struct httpc_request req = { .path = path, .accept = "*/*" };

	ASSERT_OK(httpc_do(c, &req, resp));
	return resp->status;
}

TEST(agent_metrics_http_endpoint)
{
	struct lb_metrics m;
	struct lb_httpd *h = NULL;
	struct httpc_response resp;
	struct httpc *c;
	char err[256], url[64];

	lb_metrics_init(&m);
	health = false;
	ASSERT_OK(lb_httpd_start("127.0.0.1:0", &m, is_healthy, NULL, &h, err, sizeof(err)));
	ASSERT(lb_httpd_port(h) > 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", lb_httpd_port(h));
	c = httpc_new(&(struct httpc_config){ .server = url });
	ASSERT_NOT_NULL(c);

	ASSERT_EQ(get(c, "/healthz", &resp), 503);
	httpc_response_free(&resp);
	health = true;
	ASSERT_EQ(get(c, "/healthz", &resp), 200);
	ASSERT_STREQ(resp.body.data, "ok\n");
	httpc_response_free(&resp);
	ASSERT_EQ(get(c, "/metrics", &resp), 200);
	ASSERT(strstr(resp.content_type, "text/plain") != NULL);
	ASSERT(strstr(resp.body.data, "capstan_sync_duration_seconds_count 0\n") != NULL);
	httpc_response_free(&resp);
	ASSERT_EQ(get(c, "/nope", &resp), 404);
	httpc_response_free(&resp);

	/* The port is taken now: a second server says so. */
	{
		struct lb_httpd *h2 = NULL;
		char addr[64];

		snprintf(addr, sizeof(addr), "127.0.0.1:%u", lb_httpd_port(h));
		ASSERT_EQ(lb_httpd_start(addr, &m, is_healthy, NULL, &h2, err, sizeof(err)),
			  -EADDRINUSE);
		ASSERT(strstr(err, addr) != NULL);
		ASSERT_NULL(h2);
	}
	ASSERT_EQ(lb_httpd_start("nowhere", &m, is_healthy, NULL, &h, err, sizeof(err)), -EINVAL);
	httpc_free(c);
	lb_httpd_stop(h);
	lb_metrics_destroy(&m);
}
