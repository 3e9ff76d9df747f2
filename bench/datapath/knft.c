/* knft.c - see knft.h. */
#include "knft.h"

#include <errno.h>
#include <string.h>

#include "kproxy.h"
#include "proc.h"
#include "topo.h"
#include "util.h"

/* kube-proxy's masquerade mark (the iptables mode's bit 14, kept by nftables mode). */
#define MASQ_MARK "0x4000"

struct nft_svc {
	char name[64]; /* "bench/svc-00042/tcp/http": namespace/name/protocol/port name */
	char addr[32];
	char chain[96];	   /* service-<hash>-<name> */
	const char *proto; /* "tcp" or "udp" */
};

/* kube-proxy: a chain is its prefix, 8 base32 characters of a hash, and the readable name. */
static void nft_chain(char *out, size_t len, const char *prefix, const char *name)
{
	char code[9];

	kproxy_hash_code(code, sizeof(code), name, 8);
	snprintf(out, len, "%s-%s-%s", prefix, code, name);
}

static void nft_svc(struct nft_svc *s, int i, int nsvc)
{
	snprintf(s->name, sizeof(s->name), "bench/svc-%05d/tcp/http", i);
	topo_svc_addr(i, nsvc, s->addr, sizeof(s->addr));
	nft_chain(s->chain, sizeof(s->chain), "service", s->name);
	s->proto = "tcp";
}

/* The packet-rate service (flood.h): UDP to TOPO_PPS_SVC_ADDR. */
static void nft_pps_svc(struct nft_svc *s)
{
	snprintf(s->name, sizeof(s->name), "bench/pps/udp/udp");
	snprintf(s->addr, sizeof(s->addr), "%s", TOPO_PPS_SVC_ADDR);
	nft_chain(s->chain, sizeof(s->chain), "service", s->name);
	s->proto = "udp";
}

/* Endpoint e's chain of service s: endpoint-<hash>-<service name>__<addr>/<port>. */
static void nft_ep(const struct nft_svc *s, int e, char *pod, size_t podlen, char *chain,
		   size_t len)
{
	char name[128];

	topo_pod_addr(e, pod, (int)podlen);
	snprintf(name, sizeof(name), "%s__%s/%d", s->name, pod, TOPO_POD_PORT);
	nft_chain(chain, len, "endpoint", name);
}

/*
 * The service chain: traffic to the cluster IP from outside the pod
 * network is marked for masquerade (kube-proxy with --cluster-cidr), then
 * one endpoint of n is picked by `numgen random mod n`.
 */
static void write_service_chain(FILE *f, const struct nft_svc *s, int nep)
{
	char pod[20], ep[160];

	fprintf(f,
		"add rule ip kube-proxy %s ip daddr %s %s dport %d ip saddr != %s jump "
		"mark-for-masquerade\n",
		s->chain, s->addr, s->proto, TOPO_SVC_PORT, TOPO_POD_CIDR);
	fprintf(f, "add rule ip kube-proxy %s numgen random mod %d vmap { ", s->chain, nep);
	for (int e = 0; e < nep; e++) {
		nft_ep(s, e, pod, sizeof(pod), ep, sizeof(ep));
		fprintf(f, "%s%d : goto %s", e ? " , " : "", e, ep);
	}
	fputs(" }\n", f);
}

/* Endpoint e's chain. */
static void write_ep_chain(FILE *f, const struct nft_svc *s, int e)
{
	char pod[20], ep[160];

	nft_ep(s, e, pod, sizeof(pod), ep, sizeof(ep));
	/* Hairpin: a pod reaching itself through the service is masqueraded. */
	fprintf(f,
		"add chain ip kube-proxy %s\n"
		"add rule ip kube-proxy %s ip saddr %s jump mark-for-masquerade\n"
		"add rule ip kube-proxy %s meta l4proto %s dnat to %s:%d\n",
		ep, ep, pod, ep, s->proto, pod, TOPO_POD_PORT);
}

/* One service port: its chains, its endpoints' chains, its map and set elements. */
static void write_service(FILE *f, const struct nft_svc *s, int nep)
{
	fprintf(f, "add chain ip kube-proxy %s\n", s->chain);
	for (int e = 0; e < nep; e++)
		write_ep_chain(f, s, e);
	write_service_chain(f, s, nep);
	fprintf(f,
		"add element ip kube-proxy cluster-ips { %s }\n"
		"add element ip kube-proxy service-ips { %s . %s . %d : goto %s }\n",
		s->addr, s->addr, s->proto, TOPO_SVC_PORT, s->chain);
}

int knft_write_rules(FILE *f, int nsvc, int nep)
{
	if (nsvc < 1 || nep < 1 || nep > TOPO_MAX_PODS)
		return -EINVAL;
	/*
	 * The table and its fixed part, as kube-proxy's first sync creates
	 * them: base chains on the filter hooks at priority -110 that every
	 * new connection passes (LoadBalancer source-range firewall, REJECT
	 * for services and NodePorts without endpoints, REJECT for unused
	 * ports of cluster IPs after DNAT), the nat hooks jumping to
	 * `services`, and the masquerade of marked packets (clearing the
	 * mark, fully random ports).
	 */
	fputs("add table ip kube-proxy { comment \"rules for kube-proxy\" ; }\n"
	      "add set ip kube-proxy cluster-ips { type ipv4_addr ; comment \"Active ClusterIPs\" "
	      "; }\n"
	      "add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : "
	      "verdict ; comment \"ClusterIP, ExternalIP and LoadBalancer IP traffic\" ; }\n"
	      "add map ip kube-proxy service-nodeports { type inet_proto . inet_service : verdict "
	      "; "
	      "comment \"NodePort traffic\" ; }\n"
	      "add map ip kube-proxy no-endpoint-services { type ipv4_addr . inet_proto . "
	      "inet_service : verdict ; comment \"vmap to drop or reject packets to services with "
	      "no endpoints\" ; }\n"
	      "add map ip kube-proxy no-endpoint-nodeports { type inet_proto . inet_service : "
	      "verdict ; comment \"vmap to drop or reject packets to service nodeports with no "
	      "endpoints\" ; }\n"
	      "add map ip kube-proxy firewall-ips { type ipv4_addr . inet_proto . inet_service : "
	      "verdict ; comment \"destinations that are subject to LoadBalancerSourceRanges\" ; "
	      "}\n"
	      "add chain ip kube-proxy mark-for-masquerade\n"
	      "add rule ip kube-proxy mark-for-masquerade meta mark set meta mark or " MASQ_MARK
	      "\n"
	      "add chain ip kube-proxy masquerading\n"
	      "add rule ip kube-proxy masquerading meta mark and " MASQ_MARK " == 0 return\n"
	      "add rule ip kube-proxy masquerading meta mark set meta mark xor " MASQ_MARK "\n"
	      "add rule ip kube-proxy masquerading masquerade fully-random\n"
	      "add chain ip kube-proxy firewall-check\n"
	      "add rule ip kube-proxy firewall-check ip daddr . meta l4proto . th dport vmap "
	      "@firewall-ips\n"
	      "add chain ip kube-proxy service-endpoints-check\n"
	      "add rule ip kube-proxy service-endpoints-check ip daddr . meta l4proto . th dport "
	      "vmap @no-endpoint-services\n"
	      "add chain ip kube-proxy nodeport-endpoints-check\n"
	      "add rule ip kube-proxy nodeport-endpoints-check ip daddr != 127.0.0.0/8 fib daddr "
	      "type local meta l4proto . th dport vmap @no-endpoint-nodeports\n"
	      "add chain ip kube-proxy cluster-ips-check\n"
	      "add rule ip kube-proxy cluster-ips-check ip daddr @cluster-ips reject comment "
	      "\"Reject traffic to invalid ports of ClusterIPs\"\n"
	      "add chain ip kube-proxy services\n"
	      "add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap "
	      "@service-ips\n"
	      "add rule ip kube-proxy services ip daddr != 127.0.0.0/8 fib daddr type local meta "
	      "l4proto . th dport vmap @service-nodeports\n"
	      "add chain ip kube-proxy filter-prerouting { type filter hook prerouting priority "
	      "-110 ; }\n"
	      "add rule ip kube-proxy filter-prerouting ct state new jump firewall-check\n"
	      "add chain ip kube-proxy filter-input { type filter hook input priority -110 ; }\n"
	      "add rule ip kube-proxy filter-input ct state new jump nodeport-endpoints-check\n"
	      "add rule ip kube-proxy filter-input ct state new jump service-endpoints-check\n"
	      "add chain ip kube-proxy filter-forward { type filter hook forward priority -110 ; "
	      "}\n"
	      "add rule ip kube-proxy filter-forward ct state new jump service-endpoints-check\n"
	      "add rule ip kube-proxy filter-forward ct state new jump cluster-ips-check\n"
	      "add chain ip kube-proxy filter-output { type filter hook output priority -110 ; }\n"
	      "add rule ip kube-proxy filter-output ct state new jump service-endpoints-check\n"
	      "add rule ip kube-proxy filter-output ct state new jump firewall-check\n"
	      "add chain ip kube-proxy filter-output-post-dnat { type filter hook output priority "
	      "-90 ; }\n"
	      "add rule ip kube-proxy filter-output-post-dnat ct state new jump cluster-ips-check\n"
	      "add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; "
	      "}\n"
	      "add rule ip kube-proxy nat-prerouting jump services\n"
	      "add chain ip kube-proxy nat-output { type nat hook output priority -100 ; }\n"
	      "add rule ip kube-proxy nat-output jump services\n"
	      "add chain ip kube-proxy nat-postrouting { type nat hook postrouting priority 100 ; "
	      "}\n"
	      "add rule ip kube-proxy nat-postrouting jump masquerading\n",
	      f);
	for (int i = 0; i < nsvc; i++) {
		struct nft_svc s;

		nft_svc(&s, i, nsvc);
		write_service(f, &s, nep);
	}
	{
		struct nft_svc pps;

		nft_pps_svc(&pps);
		write_service(f, &pps, nep);
	}
	return ferror(f) ? -EIO : 0;
}

int knft_write_change(FILE *f, int nsvc, int nep)
{
	struct nft_svc s;
	char pod[20], ep[160];

	if (nsvc < 1 || nep < 2 || nep > TOPO_MAX_PODS)
		return -EINVAL;
	/* What kube-proxy sends: the service chain flushed and rewritten, the endpoint gone. */
	nft_svc(&s, nsvc - 1, nsvc);
	fprintf(f, "flush chain ip kube-proxy %s\n", s.chain);
	write_service_chain(f, &s, nep - 1);
	nft_ep(&s, nep - 1, pod, sizeof(pod), ep, sizeof(ep));
	fprintf(f, "delete chain ip kube-proxy %s\n", ep);
	return ferror(f) ? -EIO : 0;
}

int knft_write_back(FILE *f, int nsvc, int nep)
{
	struct nft_svc s;

	if (nsvc < 1 || nep < 2 || nep > TOPO_MAX_PODS)
		return -EINVAL;
	/* The endpoint's chain first (the service chain jumps to it), then the service chain. */
	nft_svc(&s, nsvc - 1, nsvc);
	write_ep_chain(f, &s, nep - 1);
	fprintf(f, "flush chain ip kube-proxy %s\n", s.chain);
	write_service_chain(f, &s, nep);
	return ferror(f) ? -EIO : 0;
}

int knft_load(const char *netns, const char *file, const char *log, double limit_s,
	      double *elapsed_s)
{
	struct proc_opts o = { .netns = netns, .output_path = log };
	const char *argv[] = { "nft", "-f", file, NULL };
	double secs;
	int rc;

	rc = proc_run(&o, (char *const *)argv, limit_s, &secs);
	if (rc < 0)
		return rc;
	if (rc != 0)
		return -EIO;
	*elapsed_s = secs;
	return 0;
}
