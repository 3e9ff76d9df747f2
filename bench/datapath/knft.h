/*
 * knft.h - the rules kube-proxy's nftables mode would write for the
 * benchmark's services, loaded with `nft -f` as kube-proxy loads its
 * transactions.
 *
 * nftables mode (kube-proxy 1.29+) keeps its own table `ip kube-proxy` and
 * finds a service with one verdict-map lookup instead of a rule walk: the
 * `services` chain does `ip daddr . meta l4proto . th dport vmap
 * @service-ips`, whose element for each service port jumps to a
 * service-<hash>-<ns>/<name>/<proto>/<port> chain; that one marks traffic
 * from outside the pod network for masquerade and picks an endpoint with
 * `numgen random mod n vmap {...}`, and each endpoint-<hash>-... chain does
 * the DNAT (marking hairpin traffic first). The filter-hook chains every
 * new connection passes (firewall-check, service-endpoints-check,
 * nodeport-endpoints-check, cluster-ips-check) and the masquerade chains
 * are written as kube-proxy writes them, with their maps and sets (empty
 * where every service has endpoints and no firewall). Each part's comment
 * in knft.c names the kube-proxy behaviour it reproduces.
 */
#ifndef CAPSTAN_BENCH_KNFT_H
#define CAPSTAN_BENCH_KNFT_H

#include <stdio.h>

/*
 * Write the `nft -f` input for nsvc services (the measured one last) with
 * nep endpoints each to f. 0, -EINVAL for bad counts, -EIO when writing
 * failed.
 */
int knft_write_rules(FILE *f, int nsvc, int nep);

/*
 * The transaction kube-proxy's nftables mode sends when the measured
 * service loses its last endpoint of nep: the service chain rewritten with
 * nep - 1 endpoints and the endpoint's chain deleted. 0, -EINVAL, -EIO.
 */
int knft_write_change(FILE *f, int nsvc, int nep);

/* The transaction that puts that endpoint back (after knft_write_change's). */
int knft_write_back(FILE *f, int nsvc, int nep);

/*
 * `nft -f file` inside network namespace netns, its output appended to
 * log, within limit_s seconds. 0 with *elapsed_s set, -ETIMEDOUT, -EINTR,
 * -EIO (nft failed), -errno.
 */
int knft_load(const char *netns, const char *file, const char *log, double limit_s,
	      double *elapsed_s);

#endif
