/*
 * capstan-apiserver - the Kubernetes REST API on an embedded SQLite store.
 *
 * Flags are parsed here; everything else lives in server.c and its modules.
 * The main thread blocks every signal before any thread starts and then
 * waits for SIGTERM or SIGINT, so shutdown runs in one known place.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/apiserver/server.h"
#include "log.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: capstan-apiserver --data-dir DIR [options]\n"
		"\n"
		"Serves the Kubernetes API (plain HTTP for now) from an embedded SQLite store.\n"
		"\n"
		"Options:\n"
		"  --data-dir=DIR                   where state.db lives (required)\n"
		"  --listen=ADDR:PORT               address to serve on (default 127.0.0.1:6443)\n"
		"  --advertise-address=ADDR         address published in the kubernetes\n"
		"                                   Endpoints (default: the listen address)\n"
		"  --service-cluster-ip-range=CIDR  ClusterIP range (default 10.96.0.0/12)\n"
		"  --service-node-port-range=LO-HI  NodePort range (default 30000-32767)\n"
		"  --max-request-bytes=N            request body limit (default 3145728)\n"
		"  --unsafe-no-fsync                do not fsync writes (tests only)\n"
		"  -h, --help                       this text\n" LOG_OPTIONS_HELP);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "advertise-address", required_argument, NULL, 'a' },
		{ "service-cluster-ip-range", required_argument, NULL, 's' },
		{ "service-node-port-range", required_argument, NULL, 'n' },
		{ "max-request-bytes", required_argument, NULL, 'm' },
		{ "unsafe-no-fsync", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		LOG_LONG_OPTIONS,
		{ 0 },
	};
	struct apiserver_config cfg = { 0 };
	struct apiserver *srv;
	char err[512];
	sigset_t set;
	int opt, sig;

	log_init("capstan-apiserver");
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int r = log_handle_option(opt, optarg);

		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		switch (opt) {
		case 'd':
			cfg.data_dir = optarg;
			break;
		case 'l':
			cfg.listen = optarg;
			break;
		case 'a':
			cfg.advertise_address = optarg;
			break;
		case 's':
			cfg.service_cidr = optarg;
			break;
		case 'n':
			cfg.node_port_range = optarg;
			break;
		case 'm': {
			char *end;

			cfg.max_body = strtoull(optarg, &end, 10);
			if (*end || cfg.max_body < 1024) {
				fprintf(stderr, "capstan-apiserver: bad --max-request-bytes '%s'\n",
					optarg);
				return 2;
			}
			break;
		}
		case 'F':
			cfg.no_fsync = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || !cfg.data_dir) {
		fprintf(stderr, "capstan-apiserver: %s\n",
			optind < argc ? "unexpected arguments" : "--data-dir is required");
		usage(stderr);
		return 2;
	}

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (apiserver_start(&cfg, &srv, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return 1;
	}
	sigdelset(&set, SIGPIPE);
	do {
		if (sigwait(&set, &sig) != 0)
			sig = SIGTERM;
	} while (sig != SIGTERM && sig != SIGINT);
	log_info("%s: shutting down", strsignal(sig));
	apiserver_stop(srv);
	return 0;
}
