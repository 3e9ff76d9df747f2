/*
 * kproxy.h - the rules kube-proxy's iptables mode would write for the
 * benchmark's services, and loading them the way kube-proxy does.
 *
 * The comparison is only fair if the rule set has kube-proxy's shape, since
 * its cost is the shape: one KUBE-SERVICES rule per service port walked in
 * order by every new connection, a KUBE-SVC-* chain splitting the load with
 * `-m statistic --mode random` (probability 1/n, 1/(n-1), ..., then an
 * unconditional jump), a KUBE-SEP-* chain per endpoint doing the DNAT, the
 * 0x4000 masquerade mark and KUBE-POSTROUTING, plus the filter-table hooks
 * every forwarded packet passes. Each generated rule says in a comment
 * which kube-proxy behaviour it reproduces (see kproxy.c).
 *
 * The text goes to `iptables-restore --noflush --counters` in one call, as
 * kube-proxy's full sync does, into the node namespace (where kube-proxy
 * runs and where a pod's packets meet PREROUTING).
 */
#ifndef CAPSTAN_BENCH_KPROXY_H
#define CAPSTAN_BENCH_KPROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * Write the iptables-restore input for nsvc services (the last one being
 * the measured one) with nep endpoints each (pods 0..nep-1) to f. 0 on
 * success, -EINVAL for bad counts, -EIO when writing failed.
 */
int kproxy_write_rules(FILE *f, int nsvc, int nep);

/*
 * The input of kube-proxy's partial sync after the measured service lost
 * its last endpoint of nep (only its chains change). 0, -EINVAL, -EIO.
 */
int kproxy_write_change(FILE *f, int nsvc, int nep);

/* The partial sync that puts that endpoint back (after kproxy_write_change's). */
int kproxy_write_back(FILE *f, int nsvc, int nep);

/*
 * Load the rules in file `rules` with `tool` (iptables-nft-restore or
 * iptables-legacy-restore) inside network namespace netns, the tool's
 * output appended to log, within limit_s seconds. noflush makes it
 * kube-proxy's exact call (`--noflush --counters`: chains the input does
 * not name are kept); without it the tables are replaced, which on a fresh
 * node gives the same rules. Returns 0 and sets *elapsed_s (wall time of
 * the tool) on success; -ETIMEDOUT (the tool was killed), -EINTR, -EIO when
 * the tool failed, -errno otherwise.
 */
int kproxy_restore(const char *tool, const char *netns, const char *rules, const char *log,
		   bool noflush, double limit_s, double *elapsed_s);

/* nchars (at most 16) base32 characters of a hash of key, as kube-proxy names chains. */
void kproxy_hash_code(char *out, size_t len, const char *key, int nchars);

/* Whether tool is an executable in PATH (1) or not (0). */
int kproxy_tool_present(const char *tool);

#endif
