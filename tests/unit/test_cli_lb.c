/*
 * Unit tests for `capstan lb` (cli/lb*.c) without root: listings, stats and
 * event lines formatted from snapshots built in memory, argument parsing,
 * and the errors for missing pins and bad input.
 */
#include "test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/lb.h"
#include "cli/lb_format.h"
#include "cli/lb_monitor.h"
#include "cli/lb_snapshot.h"
#include "jsonx.h"

static __be32 ip(const char *s)
{
	struct in_addr a;

	ASSERT_MSG(inet_pton(AF_INET, s, &a) == 1, "bad address %s", s);
	return a.s_addr;
}

/* A service port: slot 0 with count n, then slots 1..n naming ids. */
static void add_service(struct cli_lb_snapshot *s, const char *addr, int port, int proto,
			__u16 rev_nat_id, __u32 flags, __u32 affinity, const __u32 *ids, int n)
{
	struct capstan_svc_key k = { .addr = ip(addr), .port = htons(port), .proto = proto };
	struct capstan_svc_val v = {
		.count = n, .rev_nat_id = rev_nat_id, .flags = flags, .affinity_timeout = affinity
	};

	cli_lb_snapshot_add_svc(s, &k, &v);
	for (int i = 0; i < n; i++) {
		struct capstan_svc_val slot = { .backend_id = ids[i] };

		k.slot = i + 1;
		cli_lb_snapshot_add_svc(s, &k, &slot);
	}
}

/* One slot entry alone (for states the agent passes through). */
static void add_slot(struct cli_lb_snapshot *s, const char *addr, int port, int proto, int slot,
		     __u32 backend_id)
{
	struct capstan_svc_key k = {
		.addr = ip(addr), .port = htons(port), .proto = proto, .slot = slot
	};
	struct capstan_svc_val v = { .backend_id = backend_id };

	cli_lb_snapshot_add_svc(s, &k, &v);
}

static void add_backend(struct cli_lb_snapshot *s, __u32 id, const char *addr, int port, int proto,
			int state)
{
	struct capstan_backend be = {
		.addr = ip(addr), .port = htons(port), .proto = proto, .state = state
	};

	cli_lb_snapshot_add_backend(s, id, &be);
}

/*
 * Added out of order on purpose: addresses and ports must sort as numbers
 * (10.96.0.9 < 10.96.0.10 < 10.100.0.1; 80 < 443 < 8080), which the raw
 * network-order bytes read as host integers would not give.
 */
static void fill_cluster(struct cli_lb_snapshot *s)
{
	add_service(s, "10.100.0.1", 8080, IPPROTO_TCP, 5, 0, 0, (__u32[]){ 12 }, 1);
	add_service(s, "10.96.0.10", 8080, IPPROTO_TCP, 8, 0, 0, (__u32[]){ 7 }, 1);
	add_service(s, "10.96.0.10", 80, IPPROTO_TCP, 3,
		    CAPSTAN_SVC_F_AFFINITY | CAPSTAN_SVC_F_LOCAL_INTERNAL | CAPSTAN_SVC_F_NODEPORT,
		    10800, (__u32[]){ 7, 9 }, 2);
	add_service(s, "10.96.0.10", 53, IPPROTO_UDP, 4, 0, 0, NULL, 0);
	add_service(s, "10.96.0.10", 443, IPPROTO_TCP, 6, 0, 0, (__u32[]){ 13 }, 1);
	add_service(s, "10.96.0.10", 53, IPPROTO_TCP, 7, 0, 0, (__u32[]){ 15 }, 1);
	add_service(s, "10.96.0.9", 443, IPPROTO_TCP, 2, 0, 0, (__u32[]){ 11 }, 1);
	add_backend(s, 9, "10.244.2.9", 8080, IPPROTO_TCP, CAPSTAN_BE_ACTIVE);
	add_backend(s, 7, "10.244.1.5", 8080, IPPROTO_TCP, CAPSTAN_BE_ACTIVE);
	add_backend(s, 8, "10.244.1.6", 8080, IPPROTO_TCP, CAPSTAN_BE_TERMINATING);
	add_backend(s, 14, "10.244.0.2", 8080, IPPROTO_TCP, CAPSTAN_BE_TERMINATING);
	add_backend(s, 11, "10.244.1.7", 8443, IPPROTO_TCP, CAPSTAN_BE_ACTIVE);
	add_backend(s, 12, "10.244.3.1", 80, IPPROTO_TCP, CAPSTAN_BE_ACTIVE);
	add_backend(s, 13, "10.244.2.3", 8443, IPPROTO_TCP, CAPSTAN_BE_ACTIVE);
	add_backend(s, 15, "10.244.1.8", 53, IPPROTO_TCP, CAPSTAN_BE_ACTIVE);
}

static const char cluster_text[] =
	"10.96.0.9:443/TCP (rev-nat 2)\n"
	"  slot 1 -> 10.244.1.7:8443/TCP (backend 11)\n"
	"10.96.0.10:53/TCP (rev-nat 7)\n"
	"  slot 1 -> 10.244.1.8:53/TCP (backend 15)\n"
	"10.96.0.10:53/UDP (rev-nat 4)\n"
	"  (no ready backend: connections are refused)\n"
	"10.96.0.10:80/TCP (rev-nat 3) [affinity 10800s] [local] [nodeport]\n"
	"  slot 1 -> 10.244.1.5:8080/TCP (backend 7)\n"
	"  slot 2 -> 10.244.2.9:8080/TCP (backend 9)\n"
	"10.96.0.10:443/TCP (rev-nat 6)\n"
	"  slot 1 -> 10.244.2.3:8443/TCP (backend 13)\n"
	"10.96.0.10:8080/TCP (rev-nat 8)\n"
	"  slot 1 -> 10.244.1.5:8080/TCP (backend 7)\n"
	"10.100.0.1:8080/TCP (rev-nat 5)\n"
	"  slot 1 -> 10.244.3.1:80/TCP (backend 12)\n"
	"\n"
	"terminating backends (draining: kept for existing connections and affinity):\n"
	"  10.244.0.2:8080/TCP (backend 14)\n"
	"  10.244.1.6:8080/TCP (backend 8)\n";

static json_t *parse_json(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	ASSERT_MSG(j != NULL, "not JSON (%s): %s", e.text, text);
	return j;
}

TEST(cli_lb_list_services_text_sorted_with_terminating)
{
	struct cli_lb_snapshot s = { 0 };
	struct buf b = { 0 };

	fill_cluster(&s);
	ASSERT_OK(cli_lb_format_list(&s, CLI_LB_VIEW_SERVICES, CLI_LB_OUT_TEXT, &b));
	ASSERT_STREQ(b.data, cluster_text);
	buf_free(&b);
	cli_lb_snapshot_free(&s);
}

TEST(cli_lb_list_services_json)
{
	struct cli_lb_snapshot s = { 0 };
	struct buf b = { 0 };
	json_t *j;

	fill_cluster(&s);
	ASSERT_OK(cli_lb_format_list(&s, CLI_LB_VIEW_SERVICES, CLI_LB_OUT_JSON, &b));
	j = parse_json(b.data);
	ASSERT_EQ(json_array_size(jsonx_arr(j, "services")), 7);
	ASSERT_STREQ(jsonx_path_str(j, "services[0].address", ""), "10.96.0.9");
	ASSERT_EQ(jsonx_path_int(j, "services[0].port", 0), 443);
	ASSERT_STREQ(jsonx_path_str(j, "services[2].protocol", ""), "UDP");
	ASSERT(jsonx_path_bool(j, "services[2].no_ready_backend", false));
	ASSERT_EQ(json_array_size(jsonx_get_path(j, "services[2].slots")), 0);
	/* 10.96.0.10:80 */
	ASSERT_EQ(jsonx_path_int(j, "services[3].rev_nat_id", 0), 3);
	ASSERT_EQ(jsonx_path_int(j, "services[3].affinity_timeout", 0), 10800);
	ASSERT_EQ(json_array_size(jsonx_get_path(j, "services[3].flags")), 3);
	ASSERT_STREQ(jsonx_path_str(j, "services[3].flags[1]", ""), "local");
	ASSERT_EQ(jsonx_path_int(j, "services[3].slots[1].slot", 0), 2);
	ASSERT_EQ(jsonx_path_int(j, "services[3].slots[1].backend_id", 0), 9);
	ASSERT_STREQ(jsonx_path_str(j, "services[3].slots[1].address", ""), "10.244.2.9");
	ASSERT_EQ(jsonx_path_int(j, "services[3].slots[1].port", 0), 8080);
	ASSERT_STREQ(jsonx_path_str(j, "services[3].slots[1].state", ""), "active");
	ASSERT(!jsonx_path_bool(j, "services[3].no_ready_backend", false));
	ASSERT_STREQ(jsonx_path_str(j, "services[6].address", ""), "10.100.0.1");
	ASSERT_EQ(json_array_size(jsonx_arr(j, "terminating_backends")), 2);
	ASSERT_EQ(jsonx_path_int(j, "terminating_backends[0].backend_id", 0), 14);
	ASSERT_STREQ(jsonx_path_str(j, "terminating_backends[1].state", ""), "terminating");
	json_decref(j);
	buf_free(&b);
	cli_lb_snapshot_free(&s);
}

/*
 * What a connection meets while the agent edits a service: missing slots
 * (collapsed into a range), a slot naming a deleted backend, a slot beyond
 * the count, slots before their slot 0 exists, a terminating backend still
 * in a slot, flags and a scope this CLI does not know, and a corrupt count
 * that must not print a line per slot.
 */
TEST(cli_lb_list_shows_transient_and_broken_states)
{
	struct cli_lb_snapshot s = { 0 };
	struct capstan_svc_key k = {
		.addr = ip("10.96.0.22"), .port = htons(80), .proto = IPPROTO_UDP, .scope = 1
	};
	struct capstan_svc_val v = { .count = 1, .rev_nat_id = 12, .flags = 0x100 };
	struct buf b = { 0 };
	json_t *j;

	/* count 5, but only slots 1, 4 and 7 exist */
	add_service(&s, "10.96.0.20", 80, IPPROTO_TCP, 10, 0, 0, NULL, 0);
	s.svc[s.n_svc - 1].val.count = 5;
	add_slot(&s, "10.96.0.20", 80, IPPROTO_TCP, 1, 7);
	add_slot(&s, "10.96.0.20", 80, IPPROTO_TCP, 4, 99);
	add_slot(&s, "10.96.0.20", 80, IPPROTO_TCP, 7, 7);
	add_slot(&s, "10.96.0.21", 80, IPPROTO_TCP, 1, 7);
	cli_lb_snapshot_add_svc(&s, &k, &v);
	k.slot = 1;
	v = (struct capstan_svc_val){ .backend_id = 8 };
	cli_lb_snapshot_add_svc(&s, &k, &v);
	add_service(&s, "10.96.0.23", 80, IPPROTO_TCP, 13, 0, 0, NULL, 0);
	s.svc[s.n_svc - 1].val.count = 3000;
	add_backend(&s, 7, "10.244.1.5", 8080, IPPROTO_TCP, CAPSTAN_BE_ACTIVE);
	add_backend(&s, 8, "10.244.1.6", 53, IPPROTO_UDP, CAPSTAN_BE_TERMINATING);

	ASSERT_OK(cli_lb_format_list(&s, CLI_LB_VIEW_SERVICES, CLI_LB_OUT_TEXT, &b));
	ASSERT_STREQ(b.data,
		     "10.96.0.20:80/TCP (rev-nat 10)\n"
		     "  slot 1 -> 10.244.1.5:8080/TCP (backend 7)\n"
		     "  slots 2-3 -> (missing: connections that pick it are refused)\n"
		     "  slot 4 -> backend 99 (not in the backends map: connections that pick it "
		     "are refused)\n"
		     "  slot 5 -> (missing: connections that pick it are refused)\n"
		     "  slot 7 -> 10.244.1.5:8080/TCP (backend 7) [unused: beyond count 5]\n"
		     "10.96.0.21:80/TCP (no slot 0: the agent is creating or removing this "
		     "service)\n"
		     "  slot 1 -> 10.244.1.5:8080/TCP (backend 7) [unused]\n"
		     "10.96.0.22:80/UDP (rev-nat 12) [flags 0x100] [external view]\n"
		     "  slot 1 -> 10.244.1.6:53/UDP (backend 8) [terminating]\n"
		     "10.96.0.23:80/TCP (rev-nat 13)\n"
		     "  slots 1-3000 -> (missing: connections that pick it are refused)\n"
		     "\n"
		     "terminating backends (draining: kept for existing connections and "
		     "affinity):\n"
		     "  10.244.1.6:53/UDP (backend 8)\n");

	buf_reset(&b);
	ASSERT_OK(cli_lb_format_list(&s, CLI_LB_VIEW_SERVICES, CLI_LB_OUT_JSON_LINE, &b));
	ASSERT(strchr(b.data, '\n') == b.data + b.len - 1); /* one line */
	j = parse_json(b.data);
	ASSERT_EQ(jsonx_path_int(j, "services[0].slots[1].slot", 0), 2);
	ASSERT_EQ(jsonx_path_int(j, "services[0].slots[1].last_slot", 0), 3);
	ASSERT(jsonx_path_bool(j, "services[0].slots[1].missing", false));
	ASSERT(jsonx_path_bool(j, "services[0].slots[2].backend_missing", false));
	ASSERT_EQ(jsonx_path_int(j, "services[0].slots[2].backend_id", 0), 99);
	ASSERT(jsonx_path_bool(j, "services[0].slots[4].unused", false));
	ASSERT(jsonx_path_bool(j, "services[1].no_service_entry", false));
	ASSERT_EQ(jsonx_path_int(j, "services[2].scope", 0), 1);
	ASSERT_EQ(jsonx_path_int(j, "services[2].raw_flags", 0), 0x100);
	ASSERT_EQ(json_array_size(jsonx_get_path(j, "services[3].slots")), 1);
	json_decref(j);
	buf_free(&b);
	cli_lb_snapshot_free(&s);
}

TEST(cli_lb_list_empty)
{
	struct cli_lb_snapshot s = { 0 };
	struct buf b = { 0 };
	json_t *j;

	ASSERT_OK(cli_lb_format_list(&s, CLI_LB_VIEW_SERVICES, CLI_LB_OUT_TEXT, &b));
	ASSERT_STREQ(b.data, "no services\n");
	buf_reset(&b);
	ASSERT_OK(cli_lb_format_list(&s, CLI_LB_VIEW_BACKENDS, CLI_LB_OUT_TEXT, &b));
	ASSERT_STREQ(b.data, "no backends\n");
	buf_reset(&b);
	ASSERT_OK(cli_lb_format_list(&s, CLI_LB_VIEW_REVNAT, CLI_LB_OUT_TEXT, &b));
	ASSERT_STREQ(b.data, "no rev-NAT entries\n");
	buf_reset(&b);
	ASSERT_OK(cli_lb_format_list(&s, CLI_LB_VIEW_SERVICES, CLI_LB_OUT_JSON, &b));
	j = parse_json(b.data);
	ASSERT_EQ(json_array_size(jsonx_arr(j, "services")), 0);
	ASSERT_EQ(json_array_size(jsonx_arr(j, "terminating_backends")), 0);
	json_decref(j);
	buf_free(&b);
}

TEST(cli_lb_list_backends_and_revnat_views)
{
	struct cli_lb_snapshot s = { 0 };
	struct capstan_revnat rn = { .addr = ip("10.96.0.10"),
				     .port = htons(80),
				     .proto = IPPROTO_TCP };
	struct buf b = { 0 };
	json_t *j;

	add_backend(&s, 9, "10.244.2.9", 8080, IPPROTO_TCP, CAPSTAN_BE_ACTIVE);
	add_backend(&s, 7, "10.244.1.5", 53, IPPROTO_UDP, CAPSTAN_BE_TERMINATING);
	add_backend(&s, 70000, "10.244.1.1", 1, 132, 5);
	cli_lb_snapshot_add_revnat(&s, 3, &rn);
	rn.port = htons(53);
	rn.proto = IPPROTO_UDP;
	cli_lb_snapshot_add_revnat(&s, 1, &rn);

	ASSERT_OK(cli_lb_format_list(&s, CLI_LB_VIEW_BACKENDS, CLI_LB_OUT_TEXT, &b));
	ASSERT_STREQ(b.data, "ID      BACKEND                  STATE\n"
			     "7       10.244.1.5:53/UDP        terminating\n"
			     "9       10.244.2.9:8080/TCP      active\n"
			     "70000   10.244.1.1:1/proto132    state5\n");
	buf_reset(&b);
	ASSERT_OK(cli_lb_format_list(&s, CLI_LB_VIEW_REVNAT, CLI_LB_OUT_TEXT, &b));
	ASSERT_STREQ(b.data, "REV-NAT SERVICE\n"
			     "1       10.96.0.10:53/UDP\n"
			     "3       10.96.0.10:80/TCP\n");
	buf_reset(&b);
	ASSERT_OK(cli_lb_format_list(&s, CLI_LB_VIEW_BACKENDS, CLI_LB_OUT_JSON, &b));
	j = parse_json(b.data);
	ASSERT_EQ(json_array_size(jsonx_arr(j, "backends")), 3);
	ASSERT_EQ(jsonx_path_int(j, "backends[2].backend_id", 0), 70000);
	ASSERT_STREQ(jsonx_path_str(j, "backends[2].protocol", ""), "proto132");
	json_decref(j);
	buf_reset(&b);
	ASSERT_OK(cli_lb_format_list(&s, CLI_LB_VIEW_REVNAT, CLI_LB_OUT_JSON, &b));
	j = parse_json(b.data);
	ASSERT_EQ(jsonx_path_int(j, "revnat[1].rev_nat_id", 0), 3);
	ASSERT_EQ(jsonx_path_int(j, "revnat[1].port", 0), 80);
	json_decref(j);
	buf_free(&b);
	cli_lb_snapshot_free(&s);
}

TEST(cli_lb_format_rejects_bad_view_and_output)
{
	struct cli_lb_snapshot s = { 0 };
	struct buf b = { 0 };

	ASSERT_EQ(cli_lb_format_list(&s, (enum cli_lb_list_view)9, CLI_LB_OUT_TEXT, &b), -EINVAL);
	ASSERT_EQ(cli_lb_format_list(&s, CLI_LB_VIEW_SERVICES, (enum cli_lb_output)7, &b), -EINVAL);
	ASSERT_EQ(cli_lb_format_stats(&s, NULL, 0, 0, (enum cli_lb_output)7, &b), -EINVAL);
	ASSERT_EQ(b.len, 0);
	buf_free(&b);
}

TEST(cli_lb_snapshot_sort_drops_duplicates)
{
	struct cli_lb_snapshot s = { 0 };
	const struct capstan_svc_counters c = { .connects = 1, .udp_msgs = 2, .refused = 3 };

	/* A get_next_key walk that restarted reads some keys twice. */
	add_service(&s, "10.96.0.10", 80, IPPROTO_TCP, 3, 0, 0, (__u32[]){ 7 }, 1);
	add_service(&s, "10.96.0.10", 80, IPPROTO_TCP, 3, 0, 0, (__u32[]){ 7 }, 1);
	add_backend(&s, 7, "10.244.1.4", 8080, IPPROTO_TCP, 0);
	add_backend(&s, 2, "10.244.1.2", 8080, IPPROTO_TCP, 0);
	add_backend(&s, 7, "10.244.1.5", 8080, IPPROTO_TCP, 1); /* read last: kept */
	for (__u32 id = 239; id >= 200; id--) /* enough to need several merge passes */
		add_backend(&s, id, "10.244.9.9", 1, IPPROTO_TCP, 0);
	cli_lb_snapshot_add_svc_count(&s, 3, &c);
	cli_lb_snapshot_add_svc_count(&s, 3, &c);
	cli_lb_snapshot_sort(&s);
	ASSERT_EQ(s.n_svc, 2);
	ASSERT_EQ(s.n_backends, 42);
	for (size_t i = 1; i < s.n_backends; i++)
		ASSERT(s.backends[i - 1].id < s.backends[i].id);
	ASSERT_EQ(cli_lb_snapshot_backend(&s, 7)->be.addr, ip("10.244.1.5"));
	ASSERT_EQ(cli_lb_snapshot_backend(&s, 7)->be.state, 1);
	ASSERT_EQ(s.n_svc_counts, 1);
	ASSERT_NOT_NULL(cli_lb_snapshot_backend(&s, 7));
	ASSERT_NULL(cli_lb_snapshot_backend(&s, 8));
	ASSERT_EQ(cli_lb_snapshot_svc_count(&s, 3)->c.refused, 3);
	ASSERT_NULL(cli_lb_snapshot_backend_count(&s, 7));
	cli_lb_snapshot_free(&s);
	ASSERT_EQ(s.n_svc, 0);
	ASSERT_NULL(s.svc);
}

/* Two services, two backends, counters as summed from the per-CPU maps. */
static void fill_stats(struct cli_lb_snapshot *s, __u64 conns, __u64 udp, __u64 refused)
{
	add_service(s, "10.96.0.10", 80, IPPROTO_TCP, 3, 0, 0, (__u32[]){ 7, 9 }, 2);
	add_service(s, "10.96.0.10", 53, IPPROTO_UDP, 4, 0, 0, NULL, 0);
	add_backend(s, 9, "10.244.2.9", 8080, IPPROTO_TCP, 0);
	add_backend(s, 7, "10.244.1.5", 8080, IPPROTO_TCP, 0);
	cli_lb_snapshot_add_svc_count(s, 3, &(struct capstan_svc_counters){ .connects = conns });
	cli_lb_snapshot_add_svc_count(
		s, 4, &(struct capstan_svc_counters){ .udp_msgs = udp, .refused = refused });
	cli_lb_snapshot_add_backend_count(
		s, 7, &(struct capstan_backend_counters){ .connects = conns / 2 });
	cli_lb_snapshot_add_backend_count(
		s, 9, &(struct capstan_backend_counters){ .connects = conns / 2 });
	s->drops[CAPSTAN_DROP_NO_BACKEND] = refused;
	s->drops[CAPSTAN_DROP_EVENT_LOST] = 1;
}

TEST(cli_lb_stats_text)
{
	struct cli_lb_snapshot s = { 0 };
	struct buf b = { 0 };

	fill_stats(&s, 100, 40, 2);
	ASSERT_OK(cli_lb_format_stats(&s, NULL, 0, 0, CLI_LB_OUT_TEXT, &b));
	ASSERT_STREQ(b.data,
		     "SERVICE                  REV-NAT  CONNECTIONS     UDP MSGS      REFUSED"
		     "        FLOWS      PACKETS\n"
		     "10.96.0.10:53/UDP              4            0           40            2"
		     "            0            0\n"
		     "10.96.0.10:80/TCP              3          100            0            0"
		     "            0            0\n"
		     "\n"
		     "BACKEND                       ID  CONNECTIONS     UDP MSGS        FLOWS\n"
		     "10.244.1.5:8080/TCP            7           50            0            0\n"
		     "10.244.2.9:8080/TCP            9           50            0            0\n"
		     "\n"
		     "DROP REASON                             COUNT\n"
		     "no_backend                                  2\n"
		     "no_slot                                     0\n"
		     "no_backend_entry                            0\n"
		     "port_not_served                             0\n"
		     "event_lost                                  1\n"
		     "malformed                                   0\n"
		     "frag_no_flow                                0\n"
		     "source_range                                0\n"
		     "snat_exhausted                              0\n"
		     "fib                                         0\n"
		     "ct_full                                     0\n"
		     "csum                                        0\n"
		     "\n"
		     "total: 100 connections, 40 udp messages, 2 refused, 3 drops\n");
	buf_free(&b);
	cli_lb_snapshot_free(&s);
}

TEST(cli_lb_stats_rates_between_two_snapshots)
{
	struct cli_lb_snapshot prev = { 0 }, cur = { 0 };
	struct buf b = { 0 };
	json_t *j;

	fill_stats(&prev, 90, 40, 10);
	/* refused went down: the counter was reset, so its rate counts from 0 */
	fill_stats(&cur, 100, 46, 2);
	ASSERT_OK(cli_lb_format_stats(&cur, &prev, 2000000000ull, 0, CLI_LB_OUT_TEXT, &b));
	ASSERT_MSG(strstr(b.data, "10.96.0.10:80/TCP              3          100        5.0"
				  "            0        0.0            0        0.0"
				  "            0        0.0            0        0.0\n"),
		   "%s", b.data);
	ASSERT_MSG(strstr(b.data, "10.96.0.10:53/UDP              4            0        0.0"
				  "           46        3.0            2        1.0"
				  "            0        0.0            0        0.0\n"),
		   "%s", b.data);
	ASSERT_MSG(strstr(b.data, "rate:  5.0 connections/s, 3.0 udp messages/s, 1.0 refused/s, "
				  "1.0 drops/s\n"),
		   "%s", b.data);

	buf_reset(&b);
	ASSERT_OK(cli_lb_format_stats(&cur, &prev, 2000000000ull, 1700000000123456789ll,
				      CLI_LB_OUT_JSON_LINE, &b));
	j = parse_json(b.data);
	ASSERT_STREQ(jsonx_str(j, "time", ""), "2023-11-14T22:13:20.123456Z");
	ASSERT(json_real_value(jsonx_get_path(j, "interval_s")) == 2.0);
	ASSERT_EQ(jsonx_path_int(j, "services[1].connections", 0), 100);
	ASSERT(json_real_value(jsonx_get_path(j, "services[1].rates.connections")) == 5.0);
	ASSERT(json_real_value(jsonx_get_path(j, "services[0].rates.refused")) == 1.0);
	ASSERT(json_real_value(jsonx_get_path(j, "backends[0].rates.connections")) == 2.5);
	ASSERT_EQ(jsonx_path_int(j, "drops.no_backend", -1), 2);
	ASSERT_EQ(jsonx_path_int(j, "totals.drops", -1), 3);
	ASSERT(json_real_value(jsonx_get_path(j, "totals.rates.udp_msgs")) == 3.0);
	json_decref(j);

	/* Without an interval there is nothing to divide by: no rates at all. */
	buf_reset(&b);
	ASSERT_OK(cli_lb_format_stats(&cur, &prev, 0, 0, CLI_LB_OUT_JSON, &b));
	j = parse_json(b.data);
	ASSERT_NULL(jsonx_get_path(j, "services[0].rates"));
	ASSERT_NULL(jsonx_get_path(j, "interval_s"));
	ASSERT_EQ(jsonx_path_int(j, "totals.connections", -1), 100);
	json_decref(j);
	buf_free(&b);
	cli_lb_snapshot_free(&prev);
	cli_lb_snapshot_free(&cur);
}

/* An event at 12:00:01.123456 UTC on 2024-01-02, with ts_ns 5 s of uptime. */
#define EV_TS_NS 5000000000ll
#define EV_WALL_NS (1704196801123456000ll)

static struct capstan_event event(int hook, int proto, int drop)
{
	struct capstan_event ev = {
		.ts_ns = EV_TS_NS,
		.cookie = 77,
		.netns = 4026531840ull,
		.hook = hook,
		.proto = proto,
		.drop = drop,
		.rev_nat_id = 3,
		.backend_id = drop ? 0 : 7,
		.svc_addr = ip("10.96.0.10"),
		.svc_port = htons(80),
	};

	if (!drop) {
		ev.be_addr = ip("10.244.1.5");
		ev.be_port = htons(8080);
	}
	return ev;
}

static void utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

TEST(cli_lb_event_lines)
{
	struct capstan_event ev = event(CAPSTAN_HOOK_CONNECT4, IPPROTO_TCP, 0);
	const int64_t off = EV_WALL_NS - EV_TS_NS;
	struct buf b = { 0 };

	utc();
	ASSERT_OK(cli_lb_format_event(&ev, sizeof(ev), off, CLI_LB_OUT_TEXT, &b));
	ASSERT_STREQ(b.data, "12:00:01.123456 connect4 tcp 10.96.0.10:80 -> 10.244.1.5:8080 "
			     "backend 7 netns 4026531840\n");
	buf_reset(&b);
	ev = event(CAPSTAN_HOOK_CONNECT4, IPPROTO_TCP, CAPSTAN_DROP_NO_BACKEND);
	ASSERT_OK(cli_lb_format_event(&ev, sizeof(ev), off, CLI_LB_OUT_TEXT, &b));
	ASSERT_STREQ(b.data, "12:00:01.123456 connect4 tcp 10.96.0.10:80 refused: no_backend "
			     "netns 4026531840\n");
	buf_reset(&b);
	ev = event(CAPSTAN_HOOK_RECVMSG4, IPPROTO_UDP, 0);
	ASSERT_OK(cli_lb_format_event(&ev, sizeof(ev), off, CLI_LB_OUT_TEXT, &b));
	ASSERT_STREQ(b.data, "12:00:01.123456 recvmsg4 udp 10.96.0.10:80 <- 10.244.1.5:8080 "
			     "backend 7 netns 4026531840\n");
	/* values a newer agent might send: printed as numbers, not dropped */
	buf_reset(&b);
	ev = event(42, 132, 200);
	ASSERT_OK(cli_lb_format_event(&ev, sizeof(ev), off, CLI_LB_OUT_TEXT, &b));
	ASSERT_STREQ(b.data, "12:00:01.123456 hook42 proto132 10.96.0.10:80 refused: drop200 "
			     "netns 4026531840\n");
	buf_free(&b);
}

TEST(cli_lb_event_packet_path_names_the_client)
{
	struct capstan_event ev = event(CAPSTAN_HOOK_XDP, IPPROTO_TCP, 0);
	const int64_t off = EV_WALL_NS - EV_TS_NS;
	struct buf b = { 0 };
	json_t *j;

	utc();
	ev.cookie = 0;
	ev.netns = 0;
	ev.client_addr = ip("10.244.200.2");
	ev.client_port = htons(40000);
	ASSERT_OK(cli_lb_format_event(&ev, sizeof(ev), off, CLI_LB_OUT_TEXT, &b));
	ASSERT_STREQ(b.data, "12:00:01.123456 xdp tcp 10.96.0.10:80 -> 10.244.1.5:8080 "
			     "backend 7 client 10.244.200.2:40000\n");
	buf_reset(&b);
	ev.hook = CAPSTAN_HOOK_TC_INGRESS;
	ev.drop = CAPSTAN_DROP_SOURCE_RANGE;
	ASSERT_OK(cli_lb_format_event(&ev, sizeof(ev), off, CLI_LB_OUT_TEXT, &b));
	ASSERT_STREQ(b.data, "12:00:01.123456 tc-in tcp 10.96.0.10:80 refused: source_range "
			     "client 10.244.200.2:40000\n");
	buf_reset(&b);
	ASSERT_OK(cli_lb_format_event(&ev, sizeof(ev), off, CLI_LB_OUT_JSON, &b));
	j = parse_json(b.data);
	ASSERT_STREQ(jsonx_str(j, "hook", ""), "tc-in");
	ASSERT_STREQ(jsonx_str(j, "client_address", ""), "10.244.200.2");
	ASSERT_EQ(jsonx_int(j, "client_port", 0), 40000);
	ASSERT_NULL(json_object_get(j, "netns"));
	json_decref(j);
	buf_free(&b);
}

TEST(cli_lb_event_json_and_longer_record)
{
	char rec[sizeof(struct capstan_event) + 16] = { 0 };
	struct capstan_event ev = event(CAPSTAN_HOOK_SENDMSG4, IPPROTO_UDP, 0);
	struct buf b = { 0 };
	json_t *j;

	memcpy(rec, &ev, sizeof(ev));
	ASSERT_OK(
		cli_lb_format_event(rec, sizeof(rec), EV_WALL_NS - EV_TS_NS, CLI_LB_OUT_JSON, &b));
	ASSERT(strchr(b.data, '\n') == b.data + b.len - 1);
	j = parse_json(b.data);
	ASSERT_STREQ(jsonx_str(j, "time", ""), "2024-01-02T12:00:01.123456Z");
	ASSERT_STREQ(jsonx_str(j, "hook", ""), "sendmsg4");
	ASSERT_STREQ(jsonx_str(j, "protocol", ""), "udp");
	ASSERT_STREQ(jsonx_str(j, "verdict", ""), "translated");
	ASSERT_STREQ(jsonx_str(j, "backend_address", ""), "10.244.1.5");
	ASSERT_EQ(jsonx_int(j, "backend_port", 0), 8080);
	ASSERT_EQ(jsonx_int(j, "netns", 0), 4026531840ll);
	ASSERT_EQ(jsonx_int(j, "cookie", 0), 77);
	ASSERT_NULL(json_object_get(j, "drop"));
	json_decref(j);
	buf_reset(&b);
	ev = event(CAPSTAN_HOOK_CONNECT4, IPPROTO_TCP, CAPSTAN_DROP_PORT_NOT_SERVED);
	ASSERT_OK(cli_lb_format_event(&ev, sizeof(ev), 0, CLI_LB_OUT_JSON_LINE, &b));
	j = parse_json(b.data);
	ASSERT_STREQ(jsonx_str(j, "verdict", ""), "refused");
	ASSERT_STREQ(jsonx_str(j, "drop", ""), "port_not_served");
	ASSERT_NULL(json_object_get(j, "backend_address"));
	json_decref(j);
	buf_free(&b);
}

TEST(cli_lb_event_short_record)
{
	struct capstan_event ev = event(CAPSTAN_HOOK_CONNECT4, IPPROTO_TCP, 0);
	struct buf b = { 0 };
	json_t *j;

	ASSERT_EQ(cli_lb_format_event(&ev, sizeof(ev) - 1, 0, CLI_LB_OUT_TEXT, &b), -EINVAL);
	ASSERT_STREQ(b.data, "short event record: 55 bytes, expected 56\n");
	buf_reset(&b);
	ASSERT_EQ(cli_lb_format_event(NULL, 0, 0, CLI_LB_OUT_JSON_LINE, &b), -EINVAL);
	j = parse_json(b.data);
	ASSERT_EQ(jsonx_int(j, "bytes", -1), 0);
	json_decref(j);
	buf_reset(&b);
	ASSERT_EQ(cli_lb_format_event(&ev, sizeof(ev), 0, (enum cli_lb_output)5, &b), -EINVAL);
	ASSERT_EQ(b.len, 0);
	buf_free(&b);
}

TEST(cli_lb_drop_names_follow_the_abi)
{
	ASSERT_STREQ(cli_lb_drop_name(CAPSTAN_DROP_NONE), "none");
	ASSERT_STREQ(cli_lb_drop_name(CAPSTAN_DROP_NO_BACKEND), "no_backend");
	ASSERT_STREQ(cli_lb_drop_name(CAPSTAN_DROP_EVENT_LOST), "event_lost");
	ASSERT_NULL(cli_lb_drop_name(CAPSTAN_DROP__MAX));
	ASSERT_NULL(cli_lb_drop_name(~0u));
}

/* ---------------------------------------------------------------- arguments */

/* Parse "lb" + the given words (NULL-terminated); getopt needs writable argv. */
static int parse(struct cli_lb_args *a, char *err, size_t errlen, ...)
{
	static char *argv[32];
	int argc = 0;
	va_list ap;

	argv[argc++] = "lb";
	va_start(ap, errlen);
	while (argc < 31 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	err[0] = '\0';
	return cli_lb_parse_args(argc, argv, a, err, errlen);
}

TEST(cli_lb_parse_good_arguments)
{
	struct cli_lb_args a;
	char err[256];

	ASSERT_OK(parse(&a, err, sizeof(err), "list", NULL));
	ASSERT_EQ(a.cmd, CLI_LB_CMD_LIST);
	ASSERT_STREQ(a.dir, "/sys/fs/bpf/capstan");
	ASSERT_EQ(a.fmt, CLI_LB_OUT_TEXT);
	ASSERT_EQ(a.view, CLI_LB_VIEW_SERVICES);
	ASSERT_OK(parse(&a, err, sizeof(err), "list", "--backends", "-o", "json", "--bpffs-dir",
			"/tmp/x", NULL));
	ASSERT_EQ(a.view, CLI_LB_VIEW_BACKENDS);
	ASSERT_EQ(a.fmt, CLI_LB_OUT_JSON);
	ASSERT_STREQ(a.dir, "/tmp/x");
	ASSERT_OK(parse(&a, err, sizeof(err), "list", "--revnat", "--output=json", NULL));
	ASSERT_EQ(a.view, CLI_LB_VIEW_REVNAT);
	ASSERT_OK(parse(&a, err, sizeof(err), "stats", NULL));
	ASSERT_EQ(a.cmd, CLI_LB_CMD_STATS);
	ASSERT_EQ(a.watch, 0);
	ASSERT_OK(parse(&a, err, sizeof(err), "stats", "--watch", "3600", "-ojson", NULL));
	ASSERT_EQ(a.watch, 3600);
	ASSERT_OK(parse(&a, err, sizeof(err), "monitor", NULL));
	ASSERT_EQ(a.cmd, CLI_LB_CMD_MONITOR);
	ASSERT_EQ(a.count, 0);
	ASSERT_EQ(a.duration_ms, 10000);
	ASSERT_OK(
		parse(&a, err, sizeof(err), "monitor", "--count", "5", "--duration", "0.25", NULL));
	ASSERT_EQ(a.count, 5);
	ASSERT_EQ(a.duration_ms, 250);
	ASSERT_OK(parse(&a, err, sizeof(err), "monitor", "--duration=3600s", NULL));
	ASSERT_EQ(a.duration_ms, 3600000);
	ASSERT_OK(parse(&a, err, sizeof(err), "--help", NULL));
	ASSERT(a.help);
	ASSERT_OK(parse(&a, err, sizeof(err), "stats", "-h", NULL));
	ASSERT(a.help);
	ASSERT_EQ(a.cmd, CLI_LB_CMD_STATS);
}

static void expect_bad(const char *want, ...)
{
	char *argv[32] = { "lb" }, err[256] = "";
	struct cli_lb_args a = { .watch = 12345 };
	int argc = 1;
	va_list ap;

	va_start(ap, want);
	while (argc < 31 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	ASSERT_EQ(cli_lb_parse_args(argc, argv, &a, err, sizeof(err)), -EINVAL);
	ASSERT_MSG(strstr(err, want), "error '%s' does not say '%s'", err, want);
	ASSERT_EQ(a.watch, 12345); /* untouched on failure */
}

TEST(cli_lb_parse_bad_arguments)
{
	expect_bad("missing command", NULL);
	expect_bad("unknown command 'lsit'", "lsit", NULL);
	expect_bad("unknown option '--bogus'", "list", "--bogus", NULL);
	expect_bad("unknown option '-x'", "list", "-x", NULL);
	expect_bad("option '--bpffs-dir' needs a value", "list", "--bpffs-dir", NULL);
	expect_bad("option '-o' needs a value", "list", "-o", NULL);
	expect_bad("--bpffs-dir needs a directory", "list", "--bpffs-dir=", NULL);
	expect_bad("unknown output 'yaml'", "list", "-o", "yaml", NULL);
	expect_bad("exclude each other", "list", "--backends", "--revnat", NULL);
	expect_bad("unexpected argument 'extra'", "list", "extra", NULL);
	expect_bad("--backends is not an option of 'lb stats'", "stats", "--backends", NULL);
	expect_bad("--watch is not an option of 'lb list'", "list", "--watch", "2", NULL);
	expect_bad("--count is not an option of 'lb stats'", "stats", "--count", "2", NULL);
	expect_bad("--duration is not an option of 'lb list'", "list", "--duration", "2", NULL);
	expect_bad("--watch wants a count from 1 to 3600", "stats", "--watch", "0", NULL);
	expect_bad("--watch wants", "stats", "--watch", "3601", NULL);
	expect_bad("--watch wants", "stats", "--watch", "-1", NULL);
	expect_bad("--watch wants", "stats", "--watch", "2x", NULL);
	expect_bad("--watch wants", "stats", "--watch", "99999999999999999999999", NULL);
	expect_bad("--count wants", "monitor", "--count", "0", NULL);
	expect_bad("--count wants", "monitor", "--count", "+3", NULL);
	expect_bad("--count wants", "monitor", "--count", "1000000001", NULL);
	expect_bad("--duration wants seconds", "monitor", "--duration", "0", NULL);
	expect_bad("--duration wants", "monitor", "--duration", "0.0004", NULL);
	expect_bad("--duration wants", "monitor", "--duration", "3600.5", NULL);
	expect_bad("--duration wants", "monitor", "--duration", "nan", NULL);
	expect_bad("--duration wants", "monitor", "--duration", "inf", NULL);
	expect_bad("--duration wants", "monitor", "--duration", "1e400", NULL);
	expect_bad("--duration wants", "monitor", "--duration", "10m", NULL);
	expect_bad("--duration wants", "monitor", "--duration", "0x10", NULL);
	expect_bad("--duration wants", "monitor", "--duration", "1e3", NULL);
	expect_bad("--duration wants", "monitor", "--duration", "1.2.3", NULL);
	expect_bad("--duration wants", "monitor", "--duration", "5ss", NULL);
	expect_bad("--duration wants", "monitor", "--duration", "-5", NULL);
}

/* ---------------------------------------------------------------- missing pins */

TEST(cli_lb_missing_pins_say_so)
{
	struct cli_lb_snapshot s;
	char err[512], dir[512], path[600];
	struct cli_lb_monitor_opts mo = { .duration_ms = 100 };
	struct cli_lb_monitor_result res;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/nowhere", test_tmpdir());
	ASSERT_EQ(cli_lb_snapshot_read(dir, CLI_LB_READ_SERVICES | CLI_LB_READ_BACKENDS, &s, err,
				       sizeof(err)),
		  -ENOENT);
	ASSERT_NULL(s.svc);
	ASSERT_MSG(strstr(err, "no capstan maps under ") && strstr(err, "/nowhere (is "
									"capstan-agent running? "
									"--bpffs-dir?)"),
		   "%s", err);
	/* An empty directory is no better. */
	ASSERT_EQ(cli_lb_snapshot_read(test_tmpdir(), CLI_LB_READ_COUNTERS, &s, err, sizeof(err)),
		  -ENOENT);
	ASSERT(strstr(err, "no capstan maps under"));
	mo.dir = test_tmpdir();
	ASSERT_EQ(cli_lb_monitor_run(&mo, stdout, NULL, &res, err, sizeof(err)), -ENOENT);
	ASSERT(strstr(err, "no capstan maps under"));
	ASSERT_EQ(res.events, 0);
	ASSERT_EQ(res.restored_flags, -1);

	/* The services map is there but another one is not: name that one. */
	snprintf(path, sizeof(path), "%s/%s", test_tmpdir(), CAPSTAN_MAP_SVC);
	f = fopen(path, "w");
	ASSERT_NOT_NULL(f);
	fclose(f);
	ASSERT_EQ(cli_lb_snapshot_read(test_tmpdir(), CLI_LB_READ_BACKENDS, &s, err, sizeof(err)),
		  -ENOENT);
	ASSERT_MSG(strstr(err, "/capstan_be_v2 is not pinned"), "%s", err);
}

TEST(cli_lb_bad_calls_are_rejected)
{
	struct cli_lb_snapshot s;
	struct cli_lb_monitor_opts mo = { .dir = "/nonexistent", .duration_ms = 0 };
	char err[256];
	__u64 v[2];

	ASSERT_EQ(cli_lb_snapshot_read(NULL, CLI_LB_READ_SERVICES, &s, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(cli_lb_snapshot_read("", CLI_LB_READ_SERVICES, &s, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(cli_lb_snapshot_read("/x", 0, &s, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(cli_lb_snapshot_read("/x", 1u << 7, &s, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(cli_lb_map_open("/x", "not_a_capstan_map", true, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "not_a_capstan_map"));
	ASSERT_EQ(cli_lb_map_open(NULL, CAPSTAN_MAP_SVC, true, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(cli_lb_map_open("/x", NULL, true, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(cli_lb_percpu_sum(-1, 0, 12, v), -EINVAL);
	ASSERT_EQ(cli_lb_percpu_sum(-1, 0, 0, v), -EINVAL);
	ASSERT_EQ(cli_lb_monitor_run(&mo, stdout, NULL, NULL, err, sizeof(err)), -EINVAL);
	mo.duration_ms = CLI_LB_MONITOR_MAX_MS + 1;
	ASSERT_EQ(cli_lb_monitor_run(&mo, stdout, NULL, NULL, err, sizeof(err)), -EINVAL);
	mo.duration_ms = 100;
	mo.fmt = (enum cli_lb_output)9;
	ASSERT_EQ(cli_lb_monitor_run(&mo, stdout, NULL, NULL, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(cli_lb_monitor_run(NULL, stdout, NULL, NULL, err, sizeof(err)), -EINVAL);
}

TEST(cli_lb_main_exit_codes)
{
	char *usage_err[] = { "lb", "frobnicate", NULL };
	char *missing[] = { "lb", "list", "--bpffs-dir", "/nonexistent/capstan", NULL };

	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	/* The messages go to stderr (checked by the bpf layer); here only the status. */
	ASSERT(null >= 0 && dup2(null, 2) == 2);
	ASSERT_EQ(cli_lb_main(2, usage_err), 2);
	ASSERT_EQ(cli_lb_main(4, missing), 1);
}
