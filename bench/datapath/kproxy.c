/* kproxy.c - see kproxy.h. */
#include "kproxy.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "topo.h"
#include "util.h"

/* kube-proxy's masquerade mark (its --iptables-masquerade-bit default, 14). */
#define MASQ_MARK "0x4000"

/*
 * kube-proxy names a chain "KUBE-SVC-"/"KUBE-SEP-" plus the first 16 base32
 * characters of a hash of the service port (and endpoint); nftables mode
 * uses 8. Any hash of the same length gives the same chain-name lengths and
 * lookups; this one is FNV-1a, twice with different seeds for 80 bits.
 */
void kproxy_hash_code(char *out, size_t len, const char *key, int nchars)
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	uint64_t h[2] = { 0xcbf29ce484222325ull, 0x84222325cbf29ce4ull };
	int i;

	for (int k = 0; k < 2; k++)
		for (const char *p = key; *p; p++)
			h[k] = (h[k] ^ (unsigned char)*p) * 0x100000001b3ull;
	for (i = 0; i < nchars && i < 16 && (size_t)i + 1 < len; i++) {
		uint64_t w = i < 12 ? h[0] >> (5 * i) : h[1] >> (5 * (i - 12));

		out[i] = b32[w & 31];
	}
	out[i] = '\0';
}

static void chain_name(char *out, size_t len, const char *prefix, const char *key)
{
	char code[17];

	kproxy_hash_code(code, sizeof(code), key, 16);
	snprintf(out, len, "%s%s", prefix, code);
}

struct svc_names {
	char port_name[64]; /* "bench/svc-00042:http", kube-proxy's ServicePortName */
	char addr[32];
	char svc_chain[32];
};

static void svc_names(struct svc_names *s, int i, int nsvc)
{
	char key[96];

	snprintf(s->port_name, sizeof(s->port_name), "bench/svc-%05d:http", i);
	topo_svc_addr(i, nsvc, s->addr, sizeof(s->addr));
	snprintf(key, sizeof(key), "%stcp", s->port_name);
	chain_name(s->svc_chain, sizeof(s->svc_chain), "KUBE-SVC-", key);
}

struct ep_names {
	char pod[20]; /* pod address */
	char ep[32];  /* "addr:port" */
	char sep[32]; /* its KUBE-SEP-* chain for this service port */
};

static void ep_names(struct ep_names *n, const struct svc_names *s, int e)
{
	char key[128];

	topo_pod_addr(e, n->pod, sizeof(n->pod));
	snprintf(n->ep, sizeof(n->ep), "%s:%d", n->pod, TOPO_POD_PORT);
	snprintf(key, sizeof(key), "%stcp%s", s->port_name, n->ep);
	chain_name(n->sep, sizeof(n->sep), "KUBE-SEP-", key);
}

/*
 * The filter table. Every forwarded packet of a new connection passes
 * KUBE-PROXY-FIREWALL (LoadBalancer source ranges), KUBE-FORWARD (accept
 * marked and established traffic, drop conntrack-INVALID), KUBE-SERVICES
 * (REJECT for services without endpoints: empty here, every service has
 * endpoints) and KUBE-EXTERNAL-SERVICES (the same for external IPs). kube-
 * proxy inserts the jumps from INPUT/FORWARD/OUTPUT itself; the node is
 * fresh, so appending them here gives the same chains.
 */
static void write_filter(FILE *f)
{
	fputs("*filter\n"
	      ":KUBE-NODEPORTS - [0:0]\n"
	      ":KUBE-SERVICES - [0:0]\n"
	      ":KUBE-EXTERNAL-SERVICES - [0:0]\n"
	      ":KUBE-FORWARD - [0:0]\n"
	      ":KUBE-PROXY-FIREWALL - [0:0]\n"
	      "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load "
	      "balancer firewall\" -j KUBE-PROXY-FIREWALL\n"
	      "-A INPUT -m comment --comment \"kubernetes health check service ports\" "
	      "-j KUBE-NODEPORTS\n"
	      "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes "
	      "externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES\n"
	      "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes load "
	      "balancer firewall\" -j KUBE-PROXY-FIREWALL\n"
	      "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD\n"
	      "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service "
	      "portals\" -j KUBE-SERVICES\n"
	      "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes "
	      "externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES\n"
	      "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load "
	      "balancer firewall\" -j KUBE-PROXY-FIREWALL\n"
	      "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service "
	      "portals\" -j KUBE-SERVICES\n"
	      "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP\n"
	      "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark "
	      "--mark " MASQ_MARK "/" MASQ_MARK " -j ACCEPT\n"
	      "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" "
	      "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
	      "COMMIT\n",
	      f);
}

/*
 * An endpoint's chain: a pod reaching itself through the service (hairpin)
 * is masqueraded so the reply comes back through the node; then the DNAT
 * to the endpoint.
 */
static void write_sep(FILE *f, const struct svc_names *s, const struct ep_names *n)
{
	fprintf(f,
		"-A %s -m comment --comment %s -s %s/32 -j KUBE-MARK-MASQ\n"
		"-A %s -m comment --comment %s -m tcp -p tcp -j DNAT --to-destination %s\n",
		n->sep, s->port_name, n->pod, n->sep, s->port_name, n->ep);
}

/*
 * A service's chain with its first live endpoints. The service's cluster
 * IP rule in KUBE-SERVICES is written by the caller (its order matters);
 * here: with --cluster-cidr set (as kubeadm does), traffic to the cluster
 * IP from outside the pod network is marked for masquerade; then the
 * random split: endpoint e of n is taken with probability 1/(n-e), the last
 * one always, which gives every endpoint 1/n.
 */
static void write_svc_chain(FILE *f, const struct svc_names *s, int live)
{
	struct ep_names n;

	fprintf(f,
		"-A %s -m comment --comment \"%s cluster IP\" -m tcp -p tcp -d %s/32 --dport %d "
		"! -s %s -j KUBE-MARK-MASQ\n",
		s->svc_chain, s->port_name, s->addr, TOPO_SVC_PORT, TOPO_POD_CIDR);
	for (int e = 0; e < live; e++) {
		ep_names(&n, s, e);
		if (e < live - 1)
			fprintf(f,
				"-A %s -m comment --comment \"%s -> %s\" -m statistic --mode "
				"random --probability %0.10f -j %s\n",
				s->svc_chain, s->port_name, n.ep, 1.0 / (live - e), n.sep);
		else
			fprintf(f, "-A %s -m comment --comment \"%s -> %s\" -j %s\n", s->svc_chain,
				s->port_name, n.ep, n.sep);
	}
}

/* The per-service part of the nat table: chain declarations (pass 0) or rules (pass 1). */
static void write_service(FILE *f, int i, int nsvc, int nep, int pass)
{
	struct svc_names s;
	struct ep_names n;

	svc_names(&s, i, nsvc);
	if (pass == 0) {
		fprintf(f, ":%s - [0:0]\n", s.svc_chain);
		for (int e = 0; e < nep; e++) {
			ep_names(&n, &s, e);
			fprintf(f, ":%s - [0:0]\n", n.sep);
		}
		return;
	}
	write_svc_chain(f, &s, nep);
	for (int e = 0; e < nep; e++) {
		ep_names(&n, &s, e);
		write_sep(f, &s, &n);
	}
}

/*
 * The packet-rate service (flood.h): UDP to TOPO_PPS_SVC_ADDR, the same
 * KUBE-SVC / KUBE-SEP shape; declarations (pass 0) or rules (pass 1). Its
 * KUBE-SERVICES rule is the last one, after every measured-shape service.
 */
static void write_pps_service(FILE *f, int nep, int pass)
{
	const char *port_name = "bench/pps:udp";
	char svc[32], sep[32], key[128], pod[20];

	chain_name(svc, sizeof(svc), "KUBE-SVC-", "bench/pps:udpudp");
	if (pass == 0)
		fprintf(f, ":%s - [0:0]\n", svc);
	else
		fprintf(f,
			"-A KUBE-SERVICES -m comment --comment \"%s cluster IP\" -m udp -p udp "
			"-d %s/32 --dport %d -j %s\n",
			port_name, TOPO_PPS_SVC_ADDR, TOPO_SVC_PORT, svc);
	for (int e = 0; e < nep; e++) {
		topo_pod_addr(e, pod, sizeof(pod));
		snprintf(key, sizeof(key), "%sudp%s:%d", port_name, pod, TOPO_POD_PORT);
		chain_name(sep, sizeof(sep), "KUBE-SEP-", key);
		if (pass == 0) {
			fprintf(f, ":%s - [0:0]\n", sep);
			continue;
		}
		if (e < nep - 1)
			fprintf(f,
				"-A %s -m comment --comment \"%s -> %s:%d\" -m statistic --mode "
				"random --probability %0.10f -j %s\n",
				svc, port_name, pod, TOPO_POD_PORT, 1.0 / (nep - e), sep);
		else
			fprintf(f, "-A %s -m comment --comment \"%s -> %s:%d\" -j %s\n", svc,
				port_name, pod, TOPO_POD_PORT, sep);
		fprintf(f,
			"-A %s -m comment --comment %s -s %s/32 -j KUBE-MARK-MASQ\n"
			"-A %s -m comment --comment %s -m udp -p udp -j DNAT --to-destination "
			"%s:%d\n",
			sep, port_name, pod, sep, port_name, pod, TOPO_POD_PORT);
	}
}

int kproxy_write_rules(FILE *f, int nsvc, int nep)
{
	struct svc_names s;

	if (nsvc < 1 || nep < 1 || nep > TOPO_MAX_PODS)
		return -EINVAL;
	write_filter(f);
	fputs("*nat\n"
	      ":KUBE-SERVICES - [0:0]\n"
	      ":KUBE-NODEPORTS - [0:0]\n"
	      ":KUBE-POSTROUTING - [0:0]\n"
	      ":KUBE-MARK-MASQ - [0:0]\n",
	      f);
	for (int i = 0; i < nsvc; i++)
		write_service(f, i, nsvc, nep, 0);
	write_pps_service(f, nep, 0);
	/*
	 * Service traffic enters KUBE-SERVICES from PREROUTING (pods, other
	 * hosts) and OUTPUT (the node's own processes). KUBE-POSTROUTING
	 * masquerades exactly the packets that carry the mark (clearing it,
	 * so a re-routed packet is not masqueraded twice); --random-fully as
	 * kube-proxy passes it on kernels that support it.
	 */
	fputs("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
	      "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
	      "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" "
	      "-j KUBE-POSTROUTING\n"
	      "-A KUBE-POSTROUTING -m mark ! --mark " MASQ_MARK "/" MASQ_MARK " -j RETURN\n"
	      "-A KUBE-POSTROUTING -j MARK --xor-mark " MASQ_MARK "\n"
	      "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring "
	      "SNAT\" -j MASQUERADE --random-fully\n"
	      "-A KUBE-MARK-MASQ -j MARK --or-mark " MASQ_MARK "\n",
	      f);
	/*
	 * One rule per service port in KUBE-SERVICES, matched in order by
	 * every new connection: this list is the linear cost. kube-proxy's
	 * order follows its map iteration; the measured service goes last,
	 * the worst case.
	 */
	for (int i = 0; i < nsvc; i++) {
		svc_names(&s, i, nsvc);
		fprintf(f,
			"-A KUBE-SERVICES -m comment --comment \"%s cluster IP\" -m tcp -p tcp "
			"-d %s/32 --dport %d -j %s\n",
			s.port_name, s.addr, TOPO_SVC_PORT, s.svc_chain);
	}
	write_pps_service(f, nep, 1);
	for (int i = 0; i < nsvc; i++)
		write_service(f, i, nsvc, nep, 1);
	/* NodePorts are matched by destination type after every service (empty here). */
	fputs("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this "
	      "must be the last rule in this chain\" -m addrtype --dst-type LOCAL "
	      "-j KUBE-NODEPORTS\n"
	      "COMMIT\n",
	      f);
	return ferror(f) ? -EIO : 0;
}

/* kube-proxy's partial sync after endpoint nep - 1 of the measured service left (or came back). */
static int write_partial(FILE *f, int nsvc, int nep, bool back)
{
	int live = back ? nep : nep - 1;
	struct svc_names s;
	struct ep_names n;

	if (nsvc < 1 || nep < 2 || nep > TOPO_MAX_PODS)
		return -EINVAL;
	/*
	 * MinimizeIPTablesRestore (the default since 1.27): only the service's
	 * chain is rewritten (a ":CHAIN" line under --noflush flushes it) with
	 * the random split for its endpoints now; a leaving endpoint's chain
	 * is deleted, a returning one's written again; KUBE-SERVICES is left
	 * as it is.
	 */
	svc_names(&s, nsvc - 1, nsvc);
	ep_names(&n, &s, nep - 1);
	fprintf(f, "*filter\nCOMMIT\n*nat\n:%s - [0:0]\n:%s - [0:0]\n", s.svc_chain, n.sep);
	write_svc_chain(f, &s, live);
	if (back)
		write_sep(f, &s, &n);
	else
		fprintf(f, "-X %s\n", n.sep);
	fputs("COMMIT\n", f);
	return ferror(f) ? -EIO : 0;
}

int kproxy_write_change(FILE *f, int nsvc, int nep)
{
	return write_partial(f, nsvc, nep, false);
}

int kproxy_write_back(FILE *f, int nsvc, int nep)
{
	return write_partial(f, nsvc, nep, true);
}

int kproxy_tool_present(const char *tool)
{
	const char *path = getenv("PATH");
	char *dirs = xstrdup(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
	int found = 0;

	for (char *save, *d = strtok_r(dirs, ":", &save); d && !found;
	     d = strtok_r(NULL, ":", &save)) {
		char *p = xasprintf("%s/%s", d, tool);

		found = access(p, X_OK) == 0;
		free(p);
	}
	free(dirs);
	return found;
}

int kproxy_restore(const char *tool, const char *netns, const char *rules, const char *log,
		   bool noflush, double limit_s, double *elapsed_s)
{
	struct proc_opts o = { .netns = netns, .stdin_path = rules, .output_path = log };
	/* kube-proxy's full sync: one restore of both tables, chains not named are kept. */
	const char *sync[] = { tool, "-w", "5", "--noflush", "--counters", NULL };
	const char *replace[] = { tool, "-w", "5", NULL };
	double secs;
	int rc;

	rc = proc_run(&o, (char *const *)(noflush ? sync : replace), limit_s, &secs);
	if (rc < 0)
		return rc;
	if (rc != 0)
		return -EIO;
	*elapsed_s = secs;
	return 0;
}
