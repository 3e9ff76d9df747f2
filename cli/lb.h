/*
 * lb.h - `capstan lb`: inspect the service load balancer of this node.
 *
 *   capstan lb list [--backends | --revnat]   services and their backend slots
 *   capstan lb stats [--watch N]              counters, drops, rates
 *   capstan lb monitor [--count N] [--duration S]   trace events
 *
 * Every subcommand reads the maps capstan-agent pinned under --bpffs-dir
 * (default /sys/fs/bpf/capstan) and takes -o json. The CLI only reads what
 * the agent wrote; the one thing it writes is the events flag of the config
 * map, for the duration of a monitor (see lb_monitor.h).
 *
 * This file parses the arguments and runs the command; reading the maps is
 * lb_snapshot.c, printing is lb_format.c, the event loop is lb_monitor.c.
 * Arguments are checked before any map is touched, and every number has a
 * bound (--watch at most 3600 turns, --duration at most one hour), so no
 * invocation can run unbounded.
 */
#ifndef CAPSTAN_CLI_LB_H
#define CAPSTAN_CLI_LB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lb_format.h"

#define CLI_LB_WATCH_MAX 3600

enum cli_lb_cmd {
	CLI_LB_CMD_LIST = 0,
	CLI_LB_CMD_STATS,
	CLI_LB_CMD_MONITOR,
};

struct cli_lb_args {
	enum cli_lb_cmd cmd;
	const char *dir;	    /* --bpffs-dir (borrowed from argv) */
	enum cli_lb_output fmt;	    /* -o json: CLI_LB_OUT_JSON */
	enum cli_lb_list_view view; /* list: --backends, --revnat */
	unsigned int watch;	    /* stats: reprint this many times, 0 = once */
	unsigned long count;	    /* monitor: 0 = no limit but the duration */
	uint64_t duration_ms;	    /* monitor */
	bool help;		    /* -h: print cli_lb_usage() and do nothing else */
};

/*
 * Parse argv ("lb", SUBCOMMAND, options...; argc counts them all) into *a.
 * 0 on success; -EINVAL with a one-line message in err for a missing or
 * unknown subcommand, an unknown option, an option another subcommand owns,
 * a bad or out-of-range number, an unknown output format or a stray
 * argument. Sets *a only on success. Uses getopt_long (resets optind).
 */
int cli_lb_parse_args(int argc, char **argv, struct cli_lb_args *a, char *err, size_t errlen);

/* The help text of `capstan lb`. */
void cli_lb_usage(FILE *f);

/*
 * Run a parsed command, its output to out (monitor notes to info, which may
 * be NULL). 0 on success, -errno with a message in err on failure.
 */
int cli_lb_run(const struct cli_lb_args *a, FILE *out, FILE *info, char *err, size_t errlen);

/*
 * `capstan lb ...` from main(): parse, run, print errors to stderr. Returns
 * the exit status: 0 success, 1 failure (maps missing, ...), 2 usage error.
 */
int cli_lb_main(int argc, char **argv);

#endif
