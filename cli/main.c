/*
 * capstan - the operator CLI: bring a local cluster up and down, and (as the
 * datapath grows) inspect it: `lb list`, `trace`, `monitor`, `bench`.
 *
 * Each subcommand is a function in this table; shared work lives in modules
 * beside this file.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cluster.h"
#include "image.h"
#include "lb.h"
#include "log.h"
#include "preflight.h"
#include "registry.h"

#define CAPSTAN_VERSION "0.1.0"

struct opts {
	const char *data_dir;
	int purge;
	int argc; /* the command and its own arguments */
	char **argv;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: capstan [options] COMMAND\n"
		"\n"
		"Commands:\n"
		"  up          start a local cluster and wait until it works (--nodes N for N\n"
		"              simulated nodes; see capstan up --help)\n"
		"  down        stop the local cluster and remove what it created on the host\n"
		"  status      show the local cluster's processes\n"
		"  preflight   check that this machine can run a capstan node\n"
		"  lb          inspect the service load balancer (list, stats, monitor;\n"
		"              see capstan lb --help)\n"
		"  image       build OCI image tarballs and load them into containerd\n"
		"              (build, load, inspect; see capstan image --help)\n"
		"  registry    a read-only OCI registry for those images (serve, add, list,\n"
		"              hosts; see capstan registry --help)\n"
		"  bench       run a benchmark on this machine (datapath, api, scheduler,\n"
		"              endpoints; see capstan bench --help)\n"
		"  version     print the version\n"
		"\n"
		"Options:\n"
		"  --data-dir=DIR   cluster state, logs and kubeconfig (default ./data)\n"
		"  --purge          with down: also remove the data directory\n"
		"  -h, --help       this text\n" LOG_OPTIONS_HELP);
}

static int cmd_preflight(const struct opts *o)
{
	int failed = preflight_run(stdout);

	if (failed)
		fprintf(stderr, "capstan: %d preflight check(s) failed\n", failed);
	return failed ? 1 : 0;
}

static int cmd_up(const struct opts *o)
{
	return cluster_up_main(o->argc, o->argv, o->data_dir);
}

static int cmd_down(const struct opts *o)
{
	int argc = o->argc;
	char **argv = o->argv;

	/* `capstan --purge down` (the global flag) still purges. */
	if (o->purge) {
		static char *purged[16];

		argc = 0;
		for (int i = 0; i < o->argc && i < 14; i++)
			purged[argc++] = o->argv[i];
		purged[argc++] = "--purge";
		purged[argc] = NULL;
		argv = purged;
	}
	return cluster_down_main(argc, argv, o->data_dir);
}

static int cmd_status(const struct opts *o)
{
	return cluster_status_main(o->argc, o->argv, o->data_dir);
}

static int cmd_version(const struct opts *o)
{
	printf("capstan %s\n", CAPSTAN_VERSION);
	return 0;
}

static int cmd_lb(const struct opts *o)
{
	return cli_lb_main(o->argc, o->argv);
}

static int cmd_image(const struct opts *o)
{
	return img_cli_main(o->argc, o->argv);
}

static int cmd_registry(const struct opts *o)
{
	return registry_cli_main(o->argc, o->argv);
}

static int cmd_bench(const struct opts *o)
{
	return cli_bench_main(o->argc, o->argv);
}

static const struct {
	const char *name;
	int (*fn)(const struct opts *o);
} commands[] = {
	{ "up", cmd_up },	    { "down", cmd_down },
	{ "status", cmd_status },   { "preflight", cmd_preflight },
	{ "version", cmd_version }, { "lb", cmd_lb },
	{ "image", cmd_image },	    { "registry", cmd_registry },
	{ "bench", cmd_bench },
};

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "purge", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		LOG_LONG_OPTIONS,
		{ 0 },
	};
	struct opts o = { .data_dir = "data" };
	int opt;

	log_init("capstan");
	while ((opt = getopt_long(argc, argv, "+h", long_opts, NULL)) != -1) {
		int r = log_handle_option(opt, optarg);

		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		switch (opt) {
		case 'd':
			o.data_dir = optarg;
			break;
		case 'p':
			o.purge = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	o.argc = argc - optind;
	o.argv = argv + optind;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			return commands[i].fn(&o);
	fprintf(stderr, "capstan: unknown command '%s' (see capstan --help)\n", argv[optind]);
	return 2;
}
