/*
 * Unit tests for agent/lb/model: which service ports a Service has and
 * which backends each gets from the EndpointSlices, per Kubernetes rules.
 */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "agent/lb/model.h"
#include "jsonx.h"
#include "util.h"

/* Parse test JSON written with ' for " (no test string contains a quote). */
static json_t *J(const char *text)
{
	char *dq = xstrdup(text);
	json_error_t e;
	json_t *j;

	for (char *p = dq; *p; p++)
		if (*p == '\'')
			*p = '"';
	j = json_loads(dq, 0, &e);
	ASSERT_MSG(j != NULL, "bad test JSON: %s: %s", e.text, dq);
	free(dq);
	return j;
}

/* Build svc with the given slices (NULL-terminated JSON texts). */
static void build(const char *svc, const char *const *slices, const char *node,
		  struct lb_service_ports *out)
{
	json_t *s = J(svc), *sl[8];
	size_t n = 0;
	char err[256];

	for (; slices && slices[n]; n++)
		sl[n] = J(slices[n]);
	ASSERT_OK(lb_model_build(s, (const json_t *const *)sl, n, node, out, err, sizeof(err)));
	for (size_t i = 0; i < n; i++)
		json_decref(sl[i]);
	json_decref(s);
}

/* "addr:port" of backend i of frontend f, into a static buffer. */
static const char *be(const struct lb_frontend *f, size_t i)
{
	static char buf[64];
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &f->backends[i].addr, a, sizeof(a));
	snprintf(buf, sizeof(buf), "%s:%u", a, ntohs(f->backends[i].port));
	return buf;
}

/* Test JSON is laid out by hand, with ' standing for ". */
/* clang-format off */
/* A Service "web" in "prod"; the spec object follows, then "}". */
#define SVC "{'metadata':{'name':'web','namespace':'prod'},'spec':"
/* An EndpointSlice of web; ports and endpoints follow, then "}". */
#define SLICE(name) \
	"{'metadata':{'name':'" name "','namespace':'prod'," \
	"'labels':{'kubernetes.io/service-name':'web'}},'addressType':'IPv4',"
#define READY(addr) "{'addresses':['" addr "'],'conditions':{'ready':true},'nodeName':'n1'}"
#define SERVING_TERMINATING(addr) \
	"{'addresses':['" addr "'],'conditions':{'ready':false,'serving':true,'terminating':true}}"
/* clang-format on */

TEST(agent_model_named_target_port_resolves_per_slice)
{
	const char *slices[] = {
		SLICE("web-a") "'ports':[{'name':'http','port':8080,'protocol':'TCP'}],"
			       "'endpoints':[" READY("10.244.1.1") "]}",
		SLICE("web-b") "'ports':[{'name':'http','port':9090}],"
			       "'endpoints':[" READY("10.244.2.1") "]}",
		NULL,
	};
	struct lb_service_ports p;

	build(SVC
	      "{'clusterIP':'10.96.0.10','ports':[{'name':'http','port':80,'targetPort':'http'}]}}",
	      slices, "n1", &p);
	ASSERT_EQ(p.n, 1);
	ASSERT_EQ(ntohs(p.v[0].port), 80);
	ASSERT_EQ(p.v[0].proto, IPPROTO_TCP);
	ASSERT_STREQ(p.v[0].port_name, "http");
	ASSERT_EQ(p.v[0].n_active, 2);
	ASSERT_STREQ(be(&p.v[0], 0), "10.244.1.1:8080");
	ASSERT_STREQ(be(&p.v[0], 1), "10.244.2.1:9090");
	ASSERT_EQ(p.v[0].flags, 0);
	lb_service_ports_free(&p);
}

TEST(agent_model_multiple_ports_get_their_own_backend_ports)
{
	/* clang-format off */
	const char *slices[] = {
		SLICE("web-a")
		"'ports':[{'name':'http','port':8080},{'name':'metrics','port':9100}],"
		"'endpoints':[" READY("10.244.1.1") "," READY("10.244.1.2") "]}",
		NULL,
	};
	/* clang-format on */
	struct lb_service_ports p;

	build(SVC "{'clusterIP':'10.96.0.10','ports':[{'name':'http','port':80},"
		  "{'name':'metrics','port':9100}]}}",
	      slices, "n1", &p);
	ASSERT_EQ(p.n, 2);
	ASSERT_EQ(ntohs(p.v[0].port), 80);
	ASSERT_STREQ(be(&p.v[0], 1), "10.244.1.2:8080");
	ASSERT_EQ(ntohs(p.v[1].port), 9100);
	ASSERT_STREQ(p.v[1].port_name, "metrics");
	ASSERT_EQ(p.v[1].n_active, 2);
	ASSERT_STREQ(be(&p.v[1], 0), "10.244.1.1:9100");
	lb_service_ports_free(&p);
}

TEST(agent_model_unnamed_port_and_protocol_must_match)
{
	const char *slices[] = {
		SLICE("s") "'ports':[{'port':5353,'protocol':'UDP'}],"
			   "'endpoints':[" READY("10.244.1.1") "]}",
		NULL,
	};
	struct lb_service_ports p;

	build(SVC "{'clusterIP':'10.96.0.10','ports':[{'port':53,'protocol':'UDP'},"
		  "{'name':'tcp','port':53,'protocol':'TCP'}]}}",
	      slices, "n1", &p);
	ASSERT_EQ(p.n, 2);
	ASSERT_EQ(p.v[0].proto, IPPROTO_UDP);
	ASSERT_EQ(p.v[0].n_active, 1);
	ASSERT_STREQ(be(&p.v[0], 0), "10.244.1.1:5353");
	ASSERT_EQ(p.v[0].backends[0].proto, IPPROTO_UDP);
	/* The TCP port has no slice port of its name and protocol. */
	ASSERT_EQ(p.v[1].proto, IPPROTO_TCP);
	ASSERT_EQ(p.v[1].n_active, 0);
	lb_service_ports_free(&p);
}

TEST(agent_model_readiness_decides_the_slots)
{
	/* clang-format off */
	const char *slices[] = {
		SLICE("s") "'ports':[{'port':8080}],'endpoints':["
		/* ready */
		READY("10.244.1.1") ","
		/* conditions absent: unknown counts as ready */
		"{'addresses':['10.244.1.2']},"
		/* not ready */
		"{'addresses':['10.244.1.3'],'conditions':{'ready':false}},"
		/* terminating but serving: not for new connections */
		SERVING_TERMINATING("10.244.1.4") ","
		/* terminating, not serving */
		"{'addresses':['10.244.1.5'],"
		"'conditions':{'ready':false,'serving':false,'terminating':true}},"
		/* no address */
		"{'addresses':[],'conditions':{'ready':true}}]}",
		NULL,
	};
	/* clang-format on */
	struct lb_service_ports p;

	build(SVC "{'clusterIP':'10.96.0.10','ports':[{'port':80}]}}", slices, "n1", &p);
	ASSERT_EQ(p.n, 1);
	ASSERT_EQ(p.v[0].n_active, 2);
	ASSERT_STREQ(be(&p.v[0], 0), "10.244.1.1:8080");
	ASSERT_STREQ(be(&p.v[0], 1), "10.244.1.2:8080");
	/* Without affinity nothing needs the terminating one. */
	ASSERT_EQ(p.v[0].n_terminating, 0);
	lb_service_ports_free(&p);
}

TEST(agent_model_serving_terminating_endpoints_used_when_none_is_ready)
{
	/* clang-format off */
	const char *slices[] = {
		SLICE("s") "'ports':[{'port':8080}],'endpoints':["
		SERVING_TERMINATING("10.244.1.4") ","
		"{'addresses':['10.244.1.5'],"
		"'conditions':{'ready':false,'serving':false,'terminating':true}}]}",
		NULL,
	};
	/* clang-format on */
	struct lb_service_ports p;

	build(SVC "{'clusterIP':'10.96.0.10','ports':[{'port':80}]}}", slices, "n1", &p);
	ASSERT_EQ(p.v[0].n_active, 1);
	ASSERT_STREQ(be(&p.v[0], 0), "10.244.1.4:8080");
	ASSERT_EQ(p.v[0].backends[0].state, CAPSTAN_BE_ACTIVE);
	lb_service_ports_free(&p);
}

TEST(agent_model_session_affinity_lists_terminating_backends)
{
	/* clang-format off */
	const char *slices[] = {
		SLICE("s") "'ports':[{'port':8080}],'endpoints':["
		READY("10.244.1.1") "," SERVING_TERMINATING("10.244.1.4") "]}",
		NULL,
	};
	/* clang-format on */
	struct lb_service_ports p;

	build(SVC "{'clusterIP':'10.96.0.10','ports':[{'port':80}],'sessionAffinity':'ClientIP'}}",
	      slices, "n1", &p);
	ASSERT_EQ(p.v[0].flags, CAPSTAN_SVC_F_AFFINITY);
	ASSERT_EQ(p.v[0].affinity_timeout, LB_AFFINITY_TIMEOUT_DEFAULT);
	ASSERT_EQ(p.v[0].n_active, 1);
	ASSERT_EQ(p.v[0].n_terminating, 1);
	ASSERT_STREQ(be(&p.v[0], 1), "10.244.1.4:8080");
	ASSERT_EQ(p.v[0].backends[1].state, CAPSTAN_BE_TERMINATING);
	lb_service_ports_free(&p);

	build(SVC "{'clusterIP':'10.96.0.10','ports':[{'port':80}],'sessionAffinity':'ClientIP',"
		  "'sessionAffinityConfig':{'clientIP':{'timeoutSeconds':60}}}}",
	      NULL, "n1", &p);
	ASSERT_EQ(p.v[0].affinity_timeout, 60);
	lb_service_ports_free(&p);
	build(SVC "{'clusterIP':'10.96.0.10','ports':[{'port':80}],'sessionAffinity':'ClientIP',"
		  "'sessionAffinityConfig':{'clientIP':{'timeoutSeconds':0}}}}",
	      NULL, "n1", &p);
	ASSERT_EQ(p.v[0].affinity_timeout, LB_AFFINITY_TIMEOUT_DEFAULT);
	lb_service_ports_free(&p);
	build(SVC "{'clusterIP':'10.96.0.10','ports':[{'port':80}],'sessionAffinity':'None'}}",
	      NULL, "n1", &p);
	ASSERT_EQ(p.v[0].flags, 0);
	ASSERT_EQ(p.v[0].affinity_timeout, 0);
	lb_service_ports_free(&p);
}

TEST(agent_model_internal_traffic_policy_local_keeps_this_node)
{
	const char *slices[] = {
		SLICE("s") "'ports':[{'port':8080}],'endpoints':["
			   "{'addresses':['10.244.1.1'],'nodeName':'n1'},"
			   "{'addresses':['10.244.2.1'],'nodeName':'n2'},"
			   "{'addresses':['10.244.3.1']}]}",
		NULL,
	};
	const char *svc = SVC "{'clusterIP':'10.96.0.10','ports':[{'port':80}],"
			      "'internalTrafficPolicy':'Local'}}";
	struct lb_service_ports p;

	build(svc, slices, "n2", &p);
	ASSERT_EQ(p.v[0].flags, CAPSTAN_SVC_F_LOCAL_INTERNAL);
	ASSERT_EQ(p.v[0].n_active, 1);
	ASSERT_STREQ(be(&p.v[0], 0), "10.244.2.1:8080");
	lb_service_ports_free(&p);
	/* Unknown node: nothing is local (not everything). */
	build(svc, slices, NULL, &p);
	ASSERT_EQ(p.v[0].n_active, 0);
	lb_service_ports_free(&p);
	/* Cluster policy: all three. */
	build(SVC "{'clusterIP':'10.96.0.10','ports':[{'port':80}],"
		  "'internalTrafficPolicy':'Cluster'}}",
	      slices, "n2", &p);
	ASSERT_EQ(p.v[0].n_active, 3);
	lb_service_ports_free(&p);
}

TEST(agent_model_skips_headless_externalname_sctp_and_ipv6)
{
	struct lb_service_ports p;

	build(SVC "{'clusterIP':'None','ports':[{'port':80}]}}", NULL, "n1", &p);
	ASSERT_EQ(p.n, 0);
	lb_service_ports_free(&p);
	build(SVC "{'type':'ExternalName','externalName':'example.org','ports':[{'port':80}]}}",
	      NULL, "n1", &p);
	ASSERT_EQ(p.n, 0);
	lb_service_ports_free(&p);
	build(SVC "{'clusterIP':'10.96.0.10','ports':[{'port':80,'protocol':'SCTP'},{'port':81}]}}",
	      NULL, "n1", &p);
	ASSERT_EQ(p.n, 1);
	ASSERT_EQ(ntohs(p.v[0].port), 81);
	lb_service_ports_free(&p);
	build(SVC "{'clusterIP':'fd00::10','clusterIPs':['fd00::10'],'ports':[{'port':80}]}}", NULL,
	      "n1", &p);
	ASSERT_EQ(p.n, 0);
	lb_service_ports_free(&p);
	/* Dual stack: the IPv4 address is programmed. */
	build(SVC "{'clusterIP':'fd00::10','clusterIPs':['fd00::10','10.96.0.10'],"
		  "'ports':[{'port':80}]}}",
	      NULL, "n1", &p);
	ASSERT_EQ(p.n, 1);
	ASSERT_EQ(p.v[0].addr, inet_addr("10.96.0.10"));
	lb_service_ports_free(&p);
	/* No clusterIP yet (not allocated): nothing. */
	build(SVC "{'ports':[{'port':80}]}}", NULL, "n1", &p);
	ASSERT_EQ(p.n, 0);
	lb_service_ports_free(&p);
}

TEST(agent_model_ignores_ipv6_and_fqdn_slices)
{
	/* clang-format off */
	const char *slices[] = {
		"{'metadata':{'name':'s6','namespace':'prod'},'addressType':'IPv6',"
		"'ports':[{'port':8080}],'endpoints':[{'addresses':['fd00::1']}]}",
		"{'metadata':{'name':'sf','namespace':'prod'},'addressType':'FQDN',"
		"'ports':[{'port':8080}],'endpoints':[{'addresses':['a.example']}]}",
		SLICE("s4") "'ports':[{'port':8080}],"
		"'endpoints':[{'addresses':['not-an-ip']},{'addresses':['10.244.1.1']}]}",
		NULL,
	};
	/* clang-format on */
	struct lb_service_ports p;

	build(SVC "{'clusterIP':'10.96.0.10','ports':[{'port':80}]}}", slices, "n1", &p);
	ASSERT_EQ(p.v[0].n_active, 1);
	ASSERT_STREQ(be(&p.v[0], 0), "10.244.1.1:8080");
	lb_service_ports_free(&p);
}

TEST(agent_model_deduplicates_endpoints_across_slices)
{
	/* clang-format off */
	const char *slices[] = {
		SLICE("web-old") "'ports':[{'port':8080}],'endpoints':["
		"{'addresses':['10.244.1.1'],'conditions':{'ready':false}},"
		READY("10.244.1.2") "]}",
		SLICE("web-new") "'ports':[{'port':8080}],'endpoints':["
		READY("10.244.1.1") "," READY("10.244.1.2") "]}",
		/* Same address, another port number: another backend. */
		SLICE("web-odd") "'ports':[{'port':8081}],'endpoints':["
		READY("10.244.1.2") "]}",
		NULL,
	};
	/* clang-format on */
	struct lb_service_ports p;

	build(SVC "{'clusterIP':'10.96.0.10','ports':[{'port':80}]}}", slices, "n1", &p);
	ASSERT_EQ(p.v[0].n_active, 3);
	ASSERT_STREQ(be(&p.v[0], 0), "10.244.1.1:8080");
	ASSERT_STREQ(be(&p.v[0], 1), "10.244.1.2:8080");
	ASSERT_STREQ(be(&p.v[0], 2), "10.244.1.2:8081");
	lb_service_ports_free(&p);
}

TEST(agent_model_sorts_addresses_numerically)
{
	/* clang-format off */
	const char *slices[] = {
		SLICE("s") "'ports':[{'port':8080}],'endpoints':["
		READY("10.244.1.10") "," READY("10.244.1.9") "," READY("9.1.1.1") "]}",
		NULL,
	};
	/* clang-format on */
	struct lb_service_ports p;

	build(SVC "{'clusterIP':'10.96.0.10','ports':[{'port':80}]}}", slices, "n1", &p);
	ASSERT_STREQ(be(&p.v[0], 0), "9.1.1.1:8080");
	ASSERT_STREQ(be(&p.v[0], 1), "10.244.1.9:8080");
	ASSERT_STREQ(be(&p.v[0], 2), "10.244.1.10:8080");
	lb_service_ports_free(&p);
}

TEST(agent_model_slice_port_without_number_gives_no_backend)
{
	/* clang-format off */
	const char *slices[] = {
		SLICE("s") "'ports':[{'name':'http','port':null}],'endpoints':["
		READY("10.244.1.1") "]}",
		SLICE("t") "'ports':null,'endpoints':[" READY("10.244.1.2") "]}",
		NULL,
	};
	/* clang-format on */
	struct lb_service_ports p;

	build(SVC "{'clusterIP':'10.96.0.10','ports':[{'name':'http','port':80}]}}", slices, "n1",
	      &p);
	ASSERT_EQ(p.n, 1);
	ASSERT_EQ(p.v[0].n_active, 0);
	lb_service_ports_free(&p);
}

/* Like build(), for a node with an address. */
static void build_node(const char *svc, const char *const *slices, const char *node,
		       const char *node_ip, struct lb_service_ports *out)
{
	struct lb_model_node n = { .name = node };
	json_t *s = J(svc), *sl[8];
	size_t cnt = 0;
	char err[256];

	ASSERT_EQ(inet_pton(AF_INET, node_ip, &n.addr), 1);
	for (; slices && slices[cnt]; cnt++)
		sl[cnt] = J(slices[cnt]);
	ASSERT_OK(
		lb_model_build_node(s, (const json_t *const *)sl, cnt, &n, out, err, sizeof(err)));
	for (size_t i = 0; i < cnt; i++)
		json_decref(sl[i]);
	json_decref(s);
}

static const char *fe_addr(const struct lb_frontend *f)
{
	static char buf[64];
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &f->addr, a, sizeof(a));
	snprintf(buf, sizeof(buf), "%s:%u/%d", a, ntohs(f->port), f->scope);
	return buf;
}

/* clang-format off */
static const char *const two_nodes[] = {
	SLICE("web-a") "'ports':[{'port':8080}],'endpoints':["
		"{'addresses':['10.244.1.5'],'conditions':{'ready':true},'nodeName':'n1'},"
		"{'addresses':['10.244.2.5'],'conditions':{'ready':true},'nodeName':'n2'}]}",
	NULL,
};
/* clang-format on */

TEST(agent_model_nodeport_has_two_views_on_the_node_address)
{
	struct lb_service_ports p;

	build_node(SVC "{'type':'NodePort','clusterIP':'10.96.0.10','ports':[{'port':80,"
		       "'nodePort':30080}]}}",
		   two_nodes, "n1", "172.31.0.11", &p);
	ASSERT_EQ(p.n, 3);
	ASSERT_STREQ(fe_addr(&p.v[0]), "10.96.0.10:80/0");
	ASSERT_EQ(p.v[0].flags, 0); /* the cluster IP is not a NodePort frontend */
	ASSERT_EQ(p.v[0].vip_flags, CAPSTAN_VIP_F_CLUSTER_IP);
	ASSERT_STREQ(fe_addr(&p.v[1]), "172.31.0.11:30080/0");
	ASSERT_EQ(p.v[1].flags, CAPSTAN_SVC_F_NODEPORT);
	ASSERT_EQ(p.v[1].vip_flags, 0); /* the node address is never a VIP */
	ASSERT_STREQ(fe_addr(&p.v[2]), "172.31.0.11:30080/1");
	ASSERT_EQ(p.v[2].flags, CAPSTAN_SVC_F_NODEPORT);
	for (size_t i = 0; i < 3; i++) {
		ASSERT_EQ(p.v[i].n_active, 2);
		ASSERT_STREQ(be(&p.v[i], 0), "10.244.1.5:8080");
		ASSERT_EQ(p.v[i].backends[0].flags, CAPSTAN_BE_F_LOCAL);
		ASSERT_EQ(p.v[i].backends[1].flags, 0);
	}
	ASSERT_EQ(p.hc_port, 0);
	lb_service_ports_free(&p);

	/* Without a node address: the cluster IP only. */
	build(SVC "{'type':'NodePort','clusterIP':'10.96.0.10','ports':[{'port':80,"
		  "'nodePort':30080}]}}",
	      two_nodes, "n1", &p);
	ASSERT_EQ(p.n, 1);
	lb_service_ports_free(&p);
}

TEST(agent_model_loadbalancer_local_policy_ranges_and_health_port)
{
	struct lb_service_ports p;
	char a[INET_ADDRSTRLEN];

	build_node(SVC "{'type':'LoadBalancer','clusterIP':'10.96.0.10',"
		       "'externalTrafficPolicy':'Local','healthCheckNodePort':32000,"
		       "'externalIPs':['10.244.250.1','fd00::1'],"
		       "'loadBalancerSourceRanges':['10.0.0.0/8','10.1.2.3/16','bad/99'],"
		       "'sessionAffinity':'ClientIP',"
		       "'ports':[{'port':80,'nodePort':30080}]},"
		       "'status':{'loadBalancer':{'ingress':[{'ip':'10.244.250.2'},"
		       "{'ip':'10.244.250.3','ipMode':'Proxy'},{'hostname':'lb.example'}]}}}",
		   two_nodes, "n1", "172.31.0.11", &p);
	ASSERT_EQ(p.hc_port, 32000);
	ASSERT_EQ(p.local_endpoints, 1);
	/* cluster IP, then node address, externalIP and LB IP with two views each */
	ASSERT_EQ(p.n, 7);
	ASSERT_STREQ(fe_addr(&p.v[3]), "10.244.250.1:80/0");
	ASSERT_EQ(p.v[3].flags, CAPSTAN_SVC_F_EXTERNAL_IP | CAPSTAN_SVC_F_AFFINITY);
	ASSERT_EQ(p.v[3].vip_flags, CAPSTAN_VIP_F_EXTERNAL);
	ASSERT_EQ(p.v[3].n_active, 2); /* sockets on the node reach every endpoint */
	ASSERT_STREQ(fe_addr(&p.v[4]), "10.244.250.1:80/1");
	ASSERT_EQ(p.v[4].flags, CAPSTAN_SVC_F_EXTERNAL_IP | CAPSTAN_SVC_F_AFFINITY |
					CAPSTAN_SVC_F_LOCAL_EXTERNAL);
	ASSERT_EQ(p.v[4].n_active, 1); /* outside clients: this node's only */
	ASSERT_STREQ(be(&p.v[4], 0), "10.244.1.5:8080");
	ASSERT_EQ(p.v[4].nranges, 0); /* source ranges are for LoadBalancer IPs */
	ASSERT_STREQ(fe_addr(&p.v[6]), "10.244.250.2:80/1");
	ASSERT_EQ(p.v[6].flags, CAPSTAN_SVC_F_LOADBALANCER | CAPSTAN_SVC_F_AFFINITY |
					CAPSTAN_SVC_F_LOCAL_EXTERNAL | CAPSTAN_SVC_F_SOURCE_RANGES);
	ASSERT_EQ(p.v[6].nranges, 2);
	inet_ntop(AF_INET, &p.v[6].ranges[1].addr, a, sizeof(a));
	ASSERT_STREQ(a, "10.1.0.0"); /* host bits cleared */
	ASSERT_EQ(p.v[6].ranges[1].len, 16);
	ASSERT_EQ(p.v[5].nranges, 0); /* the internal view is not filtered */
	ASSERT_EQ(p.v[2].flags,
		  CAPSTAN_SVC_F_NODEPORT | CAPSTAN_SVC_F_AFFINITY | CAPSTAN_SVC_F_LOCAL_EXTERNAL);
	lb_service_ports_free(&p);
}

TEST(agent_model_digest_keeps_what_the_external_views_read)
{
	json_t *svc =
		J(SVC "{'type':'LoadBalancer','clusterIP':'10.96.0.10',"
		      "'externalTrafficPolicy':'Local','healthCheckNodePort':32000,"
		      "'externalIPs':['10.244.250.1'],'loadBalancerSourceRanges':['10.0.0.0/8'],"
		      "'ports':[{'port':80,'nodePort':30080,'targetPort':8080}]},"
		      "'status':{'loadBalancer':{'ingress':[{'ip':'10.244.250.2'}]},"
		      "'conditions':[]}}");
	json_t *d = lb_model_service_digest(svc);

	ASSERT_STREQ(jsonx_path_str(d, "spec.externalTrafficPolicy", ""), "Local");
	ASSERT_EQ(jsonx_path_int(d, "spec.healthCheckNodePort", 0), 32000);
	ASSERT_EQ(json_array_size(jsonx_get_path(d, "spec.externalIPs")), 1);
	ASSERT_EQ(json_array_size(jsonx_get_path(d, "spec.loadBalancerSourceRanges")), 1);
	ASSERT_EQ(jsonx_int(json_array_get(jsonx_get_path(d, "spec.ports"), 0), "nodePort", 0),
		  30080);
	ASSERT_NULL(
		json_object_get(json_array_get(jsonx_get_path(d, "spec.ports"), 0), "targetPort"));
	ASSERT_EQ(json_array_size(jsonx_get_path(d, "status.loadBalancer.ingress")), 1);
	ASSERT_NULL(jsonx_get_path(d, "status.conditions"));
	json_decref(d);
	json_decref(svc);
}

TEST(agent_model_caps_backends_per_service_port)
{
	json_t *svc = J(SVC "{'clusterIP':'10.96.0.10','ports':[{'port':80}]}}");
	json_t *slice = J(SLICE("big") "'ports':[{'port':8080}],'endpoints':[]}");
	json_t *eps = jsonx_arr(slice, "endpoints");
	struct lb_service_ports p;
	char err[128];

	for (int i = 0; i < CAPSTAN_MAX_BACKENDS_PER_SVC + 100; i++) {
		char addr[32];

		snprintf(addr, sizeof(addr), "10.%d.%d.%d", 100 + i / 65536, (i / 256) % 256,
			 i % 256);
		json_array_append_new(eps, json_pack("{s[s]}", "addresses", addr));
	}
	ASSERT_OK(
		lb_model_build(svc, (const json_t *const *)&slice, 1, "n1", &p, err, sizeof(err)));
	ASSERT_EQ(p.v[0].n_active, CAPSTAN_MAX_BACKENDS_PER_SVC);
	lb_service_ports_free(&p);
	json_decref(svc);
	json_decref(slice);
}

TEST(agent_model_bad_input_is_an_error)
{
	struct lb_service_ports p;
	json_t *svc = J(SVC "{'clusterIP':'10.96.0.300','ports':[{'port':80}]}}");
	json_t *arr = json_array();
	char err[128] = "";

	ASSERT_EQ(lb_model_build(svc, NULL, 0, "n1", &p, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "10.96.0.300") != NULL);
	ASSERT_EQ(p.n, 0);
	ASSERT_EQ(lb_model_build(arr, NULL, 0, "n1", &p, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(lb_model_build(NULL, NULL, 0, "n1", &p, err, sizeof(err)), -EINVAL);
	json_decref(svc);
	json_decref(arr);
	/* Ports out of range are skipped, not fatal. */
	build(SVC "{'clusterIP':'10.96.0.10','ports':[{'port':0},{'port':70000},{'port':'80'},"
		  "{'port':81}]}}",
	      NULL, "n1", &p);
	ASSERT_EQ(p.n, 1);
	ASSERT_EQ(ntohs(p.v[0].port), 81);
	lb_service_ports_free(&p);
}

TEST(agent_model_digests_keep_only_what_matters)
{
	json_t *a =
		J("{'metadata':{'name':'web','namespace':'prod','resourceVersion':'1',"
		  "'annotations':{'x':'1'}},'spec':{'clusterIP':'10.96.0.10',"
		  "'ports':[{'port':80,'targetPort':8080}],'selector':{'app':'a'}},'status':{}}");
	json_t *b = J("{'metadata':{'name':'web','namespace':'prod','resourceVersion':'2'},"
		      "'spec':{'clusterIP':'10.96.0.10','ports':[{'port':80,'targetPort':9090}],"
		      "'selector':{'app':'b'}},'status':{'x':1}}");
	json_t *c = J(SVC "{'clusterIP':'10.96.0.10','ports':[{'port':81}]}}");
	json_t *s1 =
		J(SLICE("s") "'ports':[{'port':8080}],'endpoints':[{'addresses':['10.244.1.1'],"
			     "'conditions':{'ready':true},'targetRef':{'name':'p1'},"
			     "'hints':{'forZones':[{'name':'z'}]}}]}");
	json_t *s2 =
		J(SLICE("s") "'ports':[{'port':8080}],'endpoints':[{'addresses':['10.244.1.1'],"
			     "'conditions':{'ready':true},'targetRef':{'name':'p2'}}]}");
	json_t *s3 =
		J(SLICE("s") "'ports':[{'port':8080}],'endpoints':[{'addresses':['10.244.1.1'],"
			     "'conditions':{'ready':false}}]}");
	json_t *da = lb_model_service_digest(a), *db = lb_model_service_digest(b);
	json_t *dc = lb_model_service_digest(c), *d1 = lb_model_slice_digest(s1);
	json_t *d2 = lb_model_slice_digest(s2), *d3 = lb_model_slice_digest(s3);
	json_t *nameless = J("{'metadata':{},'spec':{}}");

	ASSERT(jsonx_equal(da, db));
	ASSERT(!jsonx_equal(da, dc));
	ASSERT(jsonx_equal(d1, d2));
	ASSERT(!jsonx_equal(d1, d3));
	ASSERT_STREQ(lb_model_slice_service(d1), "web");
	ASSERT_STREQ(jsonx_path_str(da, "metadata.namespace", ""), "prod");
	ASSERT_NULL(lb_model_service_digest(nameless));
	ASSERT_NULL(lb_model_slice_digest(nameless));
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(s1);
	json_decref(s2);
	json_decref(s3);
	json_decref(nameless);
	json_decref(da);
	json_decref(db);
	json_decref(dc);
	json_decref(d1);
	json_decref(d2);
	json_decref(d3);
}

TEST(agent_model_protocol_names)
{
	ASSERT_EQ(lb_model_proto(NULL), IPPROTO_TCP);
	ASSERT_EQ(lb_model_proto("TCP"), IPPROTO_TCP);
	ASSERT_EQ(lb_model_proto("UDP"), IPPROTO_UDP);
	ASSERT_EQ(lb_model_proto("SCTP"), 0);
	ASSERT_EQ(lb_model_proto("tcp"), 0);
}
