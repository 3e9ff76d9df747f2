/* config.c - see config.h. */
#include "control/scheduler/config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "agent/lb/config.h"
#include "control/scheduler/objects.h"
#include "log.h"

enum {
	OPT_KUBECONFIG = 0x100,
	OPT_NAME,
	OPT_PARALLELISM,
	OPT_BIND_WORKERS,
	OPT_PERCENTAGE,
	OPT_INITIAL_BACKOFF,
	OPT_MAX_BACKOFF,
};

void sched_config_usage(FILE *out)
{
	fprintf(out,
		"usage: capstan-scheduler --kubeconfig FILE [options]\n"
		"\n"
		"Assigns pending pods to nodes (kube-scheduler's default plugins).\n"
		"\n"
		"Options:\n"
		"  --kubeconfig=FILE               the API server to watch and bind through\n"
		"  --scheduler-name=NAME           schedule pods whose spec.schedulerName is NAME\n"
		"                                  (default " SCHED_DEFAULT_SCHEDULER ")\n"
		"  --parallelism=N                 filter and score threads (default 2)\n"
		"  --percentage-of-nodes-to-score=P  stop filtering once P%% of the nodes fit;\n"
		"                                  0 = adaptive, upstream's default: 50%% at 100\n"
		"                                  nodes falling to 5%%, never below 100 nodes\n"
		"  --bind-workers=N                binding requests in flight (default 16)\n"
		"  --pod-initial-backoff=DUR       back-off after a failed attempt (default 1s)\n"
		"  --pod-max-backoff=DUR           back-off limit, doubling from the initial\n"
		"                                  (default 10s)\n"
		"  -h, --help                      this text\n" LOG_OPTIONS_HELP);
}

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || *s == '-' || v < min || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

int sched_config_parse(struct sched_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	static const struct option opts[] = {
		{ "kubeconfig", required_argument, NULL, OPT_KUBECONFIG },
		{ "scheduler-name", required_argument, NULL, OPT_NAME },
		{ "parallelism", required_argument, NULL, OPT_PARALLELISM },
		{ "bind-workers", required_argument, NULL, OPT_BIND_WORKERS },
		{ "percentage-of-nodes-to-score", required_argument, NULL, OPT_PERCENTAGE },
		{ "pod-initial-backoff", required_argument, NULL, OPT_INITIAL_BACKOFF },
		{ "pod-max-backoff", required_argument, NULL, OPT_MAX_BACKOFF },
		{ "help", no_argument, NULL, 'h' },
		LOG_LONG_OPTIONS,
		{ 0 },
	};
	int opt;

	*cfg = (struct sched_config){
		.scheduler_name = SCHED_DEFAULT_SCHEDULER,
		.parallelism = SCHED_DEFAULT_PARALLELISM,
		.bind_workers = SCHED_DEFAULT_BIND_WORKERS,
		.initial_backoff_ns = SCHED_DEFAULT_INITIAL_BACKOFF_NS,
		.max_backoff_ns = SCHED_DEFAULT_MAX_BACKOFF_NS,
	};
	optind = 0; /* GNU: reinitialise, so parsing twice works */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		int r = log_handle_option(opt, optarg);
		uint64_t *dur = NULL;

		if (r < 0) {
			snprintf(err, errlen, "bad value \"%s\" for %s", optarg,
				 opt == LOG_OPT_LEVEL ? "--log-level" : "--v");
			return -EINVAL;
		}
		if (r > 0)
			continue;
		switch (opt) {
		case OPT_KUBECONFIG:
			cfg->kubeconfig = optarg;
			break;
		case OPT_NAME:
			if (!*optarg) {
				snprintf(err, errlen, "--scheduler-name must not be empty");
				return -EINVAL;
			}
			cfg->scheduler_name = optarg;
			break;
		case OPT_PARALLELISM:
		case OPT_BIND_WORKERS:
			if (parse_uint(optarg, 1, 256,
				       opt == OPT_PARALLELISM ? &cfg->parallelism
							      : &cfg->bind_workers) < 0) {
				snprintf(err, errlen, "%s: \"%s\" is not a number from 1 to 256",
					 opt == OPT_PARALLELISM ? "--parallelism"
								: "--bind-workers",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_PERCENTAGE:
			if (parse_uint(optarg, 0, 100, &cfg->percentage) < 0) {
				snprintf(err, errlen,
					 "--percentage-of-nodes-to-score: \"%s\" is not 0 to 100",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_INITIAL_BACKOFF:
		case OPT_MAX_BACKOFF:
			dur = opt == OPT_INITIAL_BACKOFF ? &cfg->initial_backoff_ns
							 : &cfg->max_backoff_ns;
			if (lb_parse_duration(optarg, dur) < 0 || *dur == 0) {
				snprintf(err, errlen,
					 "%s: \"%s\" is not a positive duration (e.g. 1s)",
					 opt == OPT_INITIAL_BACKOFF ? "--pod-initial-backoff"
								    : "--pod-max-backoff",
					 optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			cfg->help = true;
			return 0;
		case ':':
			snprintf(err, errlen, "%s needs a value", argv[optind - 1]);
			return -EINVAL;
		default:
			snprintf(err, errlen, "unknown option %s", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument \"%s\"", argv[optind]);
		return -EINVAL;
	}
	if (!cfg->kubeconfig) {
		snprintf(err, errlen, "--kubeconfig FILE is required");
		return -EINVAL;
	}
	if (cfg->max_backoff_ns < cfg->initial_backoff_ns) {
		snprintf(err, errlen, "--pod-max-backoff must not be below --pod-initial-backoff");
		return -EINVAL;
	}
	return 0;
}
