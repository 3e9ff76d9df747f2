/*
 * config.h - capstan-kubelet's command line.
 *
 * Parsing is apart from main() so that every flag and every way to get one
 * wrong is unit-tested: a bad value is an error naming the flag and the
 * value, never a silent default. Only the syntax is checked here (paths are
 * absolute, addresses parse, a CIDR has no host bits); whether the files
 * and the runtime are there is the daemon's business, since it waits for
 * some of them.
 *
 * Durations are written as Go does ("10s", "1m30s") or as bare seconds
 * ("60"); the kubelet works in whole seconds, so "1500ms" is refused rather
 * than rounded. The duration and CIDR syntax are capstan-agent's
 * (lb_parse_duration, lb_parse_cidr), so both daemons accept the same text.
 */
#ifndef CAPSTAN_KUBELET_CONFIG_H
#define CAPSTAN_KUBELET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "agent/kubelet/kubelet.h"

#define KL_DEFAULT_RUNTIME_ENDPOINT "unix:///run/containerd/containerd.sock"
#define KL_DEFAULT_ROOT_DIR "/var/lib/capstan/kubelet"
#define KL_DEFAULT_PORT 10250
#define KL_DEFAULT_CNI_BIN_DIR "/opt/cni/bin"
#define KL_DEFAULT_CNI_CONF_DIR "/etc/cni/net.d"
#define KL_DEFAULT_CGROUP_ROOT "/kubepods"
#define KL_DEFAULT_NODE_STATUS_INTERVAL_S 60
#define KL_DEFAULT_LEASE_INTERVAL_S 10
/* The Lease's duration; renewals must come well inside it. */
#define KL_LEASE_DURATION_S 40

/*
 * Parse argv (argv[0] is the program name; getopt state is reset, so this
 * may be called more than once). 0 on success with *cfg filled (strings
 * point into argv) and *help set when --help was given (then nothing else
 * is checked). -EINVAL with a one-line message in err for an unknown flag,
 * a missing or bad value, a missing --kubeconfig or --node-name, or extra
 * arguments.
 */
int kl_config_parse(struct kubelet_config *cfg, bool *help, int argc, char **argv, char *err,
		    size_t errlen);
void kl_config_usage(FILE *out);

#endif
