/*
 * config.h - capstan-agent's command line.
 *
 * Parsing is separate from main() so that every flag and every way to get
 * one wrong is unit-tested: a bad value is an error naming the flag and the
 * value, never a silent default. Defaults that need the machine (the node
 * name from the host name) are filled here; the cgroup2 mount is looked up
 * by the agent when --cgroup-path is not given, since only the daemon needs
 * it.
 */
#ifndef CAPSTAN_AGENT_LB_CONFIG_H
#define CAPSTAN_AGENT_LB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <linux/types.h>
#include <net/if.h>

#define LB_DEFAULT_SERVICE_CIDR "10.96.0.0/12"
#define LB_DEFAULT_METRICS_LISTEN "127.0.0.1:9963"
/*
 * 100 ms: a sync costs well under a millisecond of map writes, so the
 * interval only bounds how often a burst is applied. kube-proxy waits 1 s
 * (minSyncPeriod) because each of its syncs rewrites rule tables.
 */
#define LB_DEFAULT_SYNC_MIN_NS 100000000ull
#define LB_DEFAULT_SYNC_MAX_NS 30000000000ull /* 30s, kube-proxy's syncPeriod */

struct lb_config {
	const char *kubeconfig;	 /* informers on the API server, or */
	const char *static_file; /* a JSON List re-read on SIGHUP */
	char node_name[254];
	const char *cgroup_path; /* NULL: the cgroup2 mount */
	const char *bpffs_dir;
	const char *service_cidr;
	const char *metrics_listen;
	uint64_t sync_min_ns, sync_max_ns;
	/* North-south: --devices (none: the one holding the node address), --node-ip. */
	char devices[8][IF_NAMESIZE];
	size_t ndevices;
	__be32 node_ip;	     /* network order; 0: the default route's interface address */
	int xdp;	     /* enum lb_xdp_mode */
	bool nodeport;	     /* --nodeport=false turns the tc/XDP programs off */
	bool nodeport_reset; /* answer a SYN without backend with a reset (else drop) */
	uint32_t maglev_m;
	const char *maglev_seed;
	bool cleanup; /* --cleanup: unpin everything and exit */
	bool help;
};

/*
 * Parse argv (argv[0] is the program name; getopt state is reset, so this
 * may be called more than once). 0 on success; -EINVAL with a message in
 * err for an unknown flag, a missing or bad value, conflicting or missing
 * source flags (exactly one of --kubeconfig and --static unless --cleanup),
 * or extra arguments. With --help, 0 and cfg->help set. Strings in cfg
 * point into argv.
 */
int lb_config_parse(struct lb_config *cfg, int argc, char **argv, char *err, size_t errlen);
void lb_config_usage(FILE *out);

/*
 * A duration as Go writes them: one or more <number><unit> with unit ns,
 * us, ms, s, m or h ("1s", "500ms", "1m30s"); "0" alone is zero. 0 with *ns
 * set, or -EINVAL (also on overflow).
 */
int lb_parse_duration(const char *s, uint64_t *ns);

#endif
