/* bench.c - see bench.h. */
#include "bench.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* The benchmarks, and the daemon flag each one needs pointed at a binary. */
static const struct {
	const char *name, *what;
	const char *flag, *daemon; /* --flag PATH-to-daemon, when the user gave none */
} benches[] = {
	{ "datapath", "service packet paths: direct, socket LB, NodePort tc/XDP, iptables",
	  "--agent", "capstan-agent" },
	{ "api", "API server writes, lists and watches against bare SQLite", "--apiserver",
	  "capstan-apiserver" },
	{ "scheduler", "pods scheduled per second with 1,000 and 5,000 nodes", "--apiserver",
	  "capstan-apiserver" },
	{ "endpoints", "readiness change to EndpointSlice latency", "--bin", NULL },
};

static void list_benches(char *err, size_t errlen, const char *lead)
{
	size_t used = (size_t)snprintf(err, errlen, "%s; benchmarks:", lead);

	for (size_t i = 0; i < ARRAY_SIZE(benches) && used < errlen; i++)
		used += (size_t)snprintf(err + used, errlen - used, "\n  %-10s %s", benches[i].name,
					 benches[i].what);
}

static bool has_flag(int argc, char **argv, const char *flag)
{
	size_t n = strlen(flag);

	for (int i = 2; i < argc; i++)
		if (strncmp(argv[i], flag, n) == 0 && (argv[i][n] == '\0' || argv[i][n] == '='))
			return true;
	return false;
}

int cli_bench_command(const char *bin_dir, int argc, char **argv, struct cli_bench_cmd *out,
		      char *err, size_t errlen)
{
	size_t i, n = 0;

	memset(out, 0, sizeof(*out));
	if (argc < 2 || argv[1][0] == '-') {
		list_benches(err, errlen,
			     "usage: capstan bench NAME [options] (NAME --help for its options)");
		return -EINVAL;
	}
	for (i = 0; i < ARRAY_SIZE(benches) && strcmp(benches[i].name, argv[1]); i++)
		;
	if (i == ARRAY_SIZE(benches)) {
		char lead[128];

		snprintf(lead, sizeof(lead), "unknown benchmark '%.64s'", argv[1]);
		list_benches(err, errlen, lead);
		return -ENOENT;
	}
	out->argv = xcalloc((size_t)argc + 3, sizeof(*out->argv));
	out->owned[0] = xasprintf("%s/capstan-bench-%s", bin_dir, benches[i].name);
	out->argv[n++] = out->owned[0];
	if (benches[i].flag && !has_flag(argc, argv, benches[i].flag) &&
	    !has_flag(argc, argv, "--help") && !has_flag(argc, argv, "--cleanup")) {
		out->owned[1] = xstrdup(benches[i].flag);
		out->owned[2] = benches[i].daemon ? xasprintf("%s/%s", bin_dir, benches[i].daemon)
						  : xstrdup(bin_dir);
		out->argv[n++] = out->owned[1];
		out->argv[n++] = out->owned[2];
	}
	for (int a = 2; a < argc; a++)
		out->argv[n++] = argv[a];
	out->argv[n] = NULL;
	return 0;
}

void cli_bench_cmd_free(struct cli_bench_cmd *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(c->owned); i++)
		free(c->owned[i]);
	free(c->argv);
	memset(c, 0, sizeof(*c));
}

int cli_bench_main(int argc, char **argv)
{
	char exe[PATH_MAX], err[1024];
	struct cli_bench_cmd cmd;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int rc;

	if (n <= 0) {
		fprintf(stderr, "capstan bench: cannot find my own binary: %s\n", strerror(errno));
		return 1;
	}
	exe[n] = '\0';
	rc = cli_bench_command(dirname(exe), argc, argv, &cmd, err, sizeof(err));
	if (rc < 0) {
		fprintf(rc == -EINVAL && argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
			"%s\n", err);
		return rc == -EINVAL && argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	execv(cmd.argv[0], cmd.argv);
	fprintf(stderr, "capstan bench: run %s: %s (build it with make)\n", cmd.argv[0],
		strerror(errno));
	cli_bench_cmd_free(&cmd);
	return 1;
}
