/*
 * bench.h - `capstan bench NAME [options]`: the benchmarks users run on their
 * own machines, behind the one CLI they already have.
 *
 * Each benchmark is its own program (capstan-bench-NAME, built beside
 * capstan; see bench/NAME/README.md): they run for minutes, own namespaces,
 * servers and agents of their own, and must clean up after a Ctrl-C, which
 * is simplest in a process of their own. This module finds the program next
 * to the running capstan binary and replaces itself with it, adding the
 * paths of the daemons it drives (from the same directory) unless the user
 * gave them.
 */
#ifndef CAPSTAN_CLI_BENCH_H
#define CAPSTAN_CLI_BENCH_H

#include <stddef.h>

struct cli_bench_cmd {
	char **argv;	/* NULL-terminated; argv[0] is the benchmark's path */
	char *owned[4]; /* strings made here (freed by cli_bench_cmd_free) */
};

/*
 * The command line for `capstan bench` arguments argv[0..argc) (argv[0] is
 * "bench", argv[1] the benchmark) with the binaries in bin_dir. 0 with *out
 * filled; -ENOENT for an unknown name and -EINVAL for none, with err saying
 * which exist.
 */
int cli_bench_command(const char *bin_dir, int argc, char **argv, struct cli_bench_cmd *out,
		      char *err, size_t errlen);
void cli_bench_cmd_free(struct cli_bench_cmd *c);

/* `capstan bench ...`: execs the benchmark; returns (an exit code) only on failure. */
int cli_bench_main(int argc, char **argv);

#endif
