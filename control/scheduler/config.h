/*
 * config.h - capstan-scheduler's command line.
 *
 * Parsed into one struct that the daemon copies, so tests drive the parser without
 * starting anything. Durations are Go durations ("1s", "500ms"), read with the agent's
 * parser so every capstan daemon accepts the same spellings.
 */
#ifndef CAPSTAN_SCHED_CONFIG_H
#define CAPSTAN_SCHED_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SCHED_DEFAULT_PARALLELISM 2
#define SCHED_DEFAULT_BIND_WORKERS 16
#define SCHED_DEFAULT_INITIAL_BACKOFF_NS 1000000000ull /* 1s */
#define SCHED_DEFAULT_MAX_BACKOFF_NS 10000000000ull    /* 10s */

struct sched_config {
	const char *kubeconfig;
	const char *scheduler_name; /* pods with this spec.schedulerName are ours */
	unsigned parallelism;	    /* threads filtering and scoring nodes */
	unsigned bind_workers;	    /* concurrent binding requests */
	unsigned percentage;	    /* percentageOfNodesToScore, 0 = adaptive */
	uint64_t initial_backoff_ns, max_backoff_ns;
	bool help;
};

/*
 * Parse argv (log flags are applied on the way). 0 on success (cfg->help set for
 * --help, nothing else checked then); -EINVAL with a message in err for an unknown flag,
 * a missing or bad value, or a missing --kubeconfig.
 */
int sched_config_parse(struct sched_config *cfg, int argc, char **argv, char *err, size_t errlen);
void sched_config_usage(FILE *out);

#endif
