/*
 * capstan-controller-manager - the control loops that make the cluster's
 * objects come true: ReplicaSets, Deployments, DaemonSets, EndpointSlices,
 * node lifecycle and IPAM, namespaces, garbage collection.
 *
 * Flags are parsed here and every enabled controller is initialised (its
 * informer handlers registered), then the shared informers start and sync,
 * then the controllers' workers start. The main thread blocks every signal
 * before any thread starts and waits for SIGTERM or SIGINT. Shutdown stops
 * the informers and cancels in-flight requests first (cm_stop), so no
 * handler runs into a controller that is being freed, then stops the
 * controllers in reverse order.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/controllers/cm.h"
#include "control/controllers/controllers.h"
#include "log.h"

const struct controller *const cm_controllers[] = {
	&nodeipam_controller,
	&nodelifecycle_controller,
	&replicaset_controller,
	&deployment_controller,
	&daemonset_controller,
	&endpointslice_controller,
	&namespace_controller,
	&gc_controller,
	NULL,
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: capstan-controller-manager --kubeconfig FILE [options]\n"
		"\n"
		"Runs the controllers that reconcile workloads, endpoints, nodes, namespaces\n"
		"and owner references.\n"
		"\n"
		"Options:\n"
		"  --kubeconfig=FILE                  API server and credentials (required)\n"
		"  --controllers=LIST                 '*' (default) or a comma list of names;\n"
		"                                     '-name' disables one, e.g. '*,-nodeipam'\n"
		"  --cluster-cidr=CIDR                pod network split into node ranges\n"
		"                                     (default 10.244.0.0/16)\n"
		"  --node-cidr-mask-size=N            prefix length of each node's range (24)\n"
		"  --node-monitor-grace-period=DUR    silence before a node is NotReady (40s)\n"
		"  --pod-eviction-timeout=DUR         default NoExecute toleration (300s)\n"
		"  --concurrent-syncs=N               workers per controller (2)\n"
		"  -h, --help                         this text\n" LOG_OPTIONS_HELP "\n"
		"Controllers:");
	for (const struct controller *const *c = cm_controllers; *c; c++)
		fprintf(out, " %s", (*c)->name);
	fputc('\n', out);
}

/* A Go-style duration ("40s", "5m", "1m30s", "1h") in whole seconds. 0 or -EINVAL. */
static int parse_duration(const char *s, unsigned *out)
{
	unsigned long long total = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	while (*p) {
		unsigned long long mult;
		char *end;
		unsigned long long n;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		n = strtoull(p, &end, 10);
		if (strncmp(end, "ms", 2) == 0) {
			/* Sub-second parts round up: a grace period is never shortened. */
			total += (n + 999) / 1000;
			p = end + 2;
			continue;
		}
		switch (*end) {
		case 'h':
			mult = 3600;
			break;
		case 'm':
			mult = 60;
			break;
		case 's':
			mult = 1;
			break;
		default:
			return -EINVAL;
		}
		if (n > 100000000ull)
			return -EINVAL;
		total += n * mult;
		p = end + 1;
	}
	if (total == 0 || total > 0x7fffffffull)
		return -EINVAL;
	*out = (unsigned)total;
	return 0;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	v = strtoul(s, &end, 10);
	if (*end || v < lo || v > hi)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/*
 * Whether controller name is enabled by list ("*", names, "-name"): an
 * explicit name or "-name" wins over "*". Unknown names make the list bad.
 */
static bool enabled(const char *list, const char *name)
{
	char *copy = strdup(list), *save = NULL;
	bool star = false, on = false, off = false;

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "*") == 0)
			star = true;
		else if (t[0] == '-' && strcmp(t + 1, name) == 0)
			off = true;
		else if (strcmp(t, name) == 0)
			on = true;
	}
	free(copy);
	return !off && (on || star);
}

static int check_list(const char *list)
{
	char *copy = strdup(list), *save = NULL;
	int rc = 0;

	for (char *t = strtok_r(copy, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save)) {
		const char *n = t[0] == '-' ? t + 1 : t;
		bool known = strcmp(t, "*") == 0;

		for (const struct controller *const *c = cm_controllers; *c && !known; c++)
			known = strcmp((*c)->name, n) == 0;
		if (!known) {
			fprintf(stderr, "capstan-controller-manager: unknown controller '%s'\n", n);
			rc = -EINVAL;
		}
	}
	free(copy);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "controllers", required_argument, NULL, 'c' },
		{ "cluster-cidr", required_argument, NULL, 'C' },
		{ "node-cidr-mask-size", required_argument, NULL, 'M' },
		{ "node-monitor-grace-period", required_argument, NULL, 'g' },
		{ "pod-eviction-timeout", required_argument, NULL, 'e' },
		{ "concurrent-syncs", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		LOG_LONG_OPTIONS,
		{ 0 },
	};
	struct cm_config cfg = { .controllers = "*" };
	void *state[16] = { 0 };
	bool on[16] = { false };
	struct cm *cm = NULL;
	char err[512];
	sigset_t set;
	int opt, idx = 0, sig, rc = 1, n = 0;

	log_init("capstan-controller-manager");
	while ((opt = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		int r = log_handle_option(opt, optarg), bad = 0;

		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		switch (opt) {
		case 'k':
			cfg.kubeconfig = optarg;
			break;
		case 'c':
			cfg.controllers = optarg;
			break;
		case 'C':
			cfg.cluster_cidr = optarg;
			break;
		case 'M':
			bad = parse_uint(optarg, 1, 128, &cfg.node_cidr_mask);
			break;
		case 'g':
			bad = parse_duration(optarg, &cfg.node_monitor_grace_s);
			break;
		case 'e':
			bad = parse_duration(optarg, &cfg.pod_eviction_timeout_s);
			break;
		case 'w':
			bad = parse_uint(optarg, 1, 64, &cfg.workers);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (bad) {
			fprintf(stderr, "capstan-controller-manager: bad value '%s' for --%s\n",
				optarg, opts[idx].name);
			return 2;
		}
	}
	if (optind < argc || !cfg.kubeconfig) {
		fprintf(stderr, "capstan-controller-manager: %s\n",
			optind < argc ? "unexpected arguments" : "--kubeconfig is required");
		usage(stderr);
		return 2;
	}
	if (check_list(cfg.controllers) < 0)
		return 2;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (cm_new(&cfg, &cm, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return 1;
	}
	for (n = 0; cm_controllers[n]; n++) {
		const struct controller *c = cm_controllers[n];

		if (n >= (int)(sizeof(state) / sizeof(state[0])) ||
		    !enabled(cfg.controllers, c->name))
			continue;
		if (c->init(cm, &state[n]) < 0) {
			log_error("controller %s: init failed", c->name);
			goto out;
		}
		on[n] = true;
	}
	if (cm_start(cm, 120000) < 0) {
		log_error("caches did not sync");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		if (!on[i])
			continue;
		if (cm_controllers[i]->start(cm, state[i]) < 0) {
			log_error("controller %s: start failed", cm_controllers[i]->name);
			goto out;
		}
		log_info("started %s controller", cm_controllers[i]->name);
	}
	sigdelset(&set, SIGPIPE);
	do {
		if (sigwait(&set, &sig) != 0)
			sig = SIGTERM;
	} while (sig != SIGTERM && sig != SIGINT);
	log_info("%s: shutting down", strsignal(sig));
	rc = 0;
out:
	cm_stop(cm);
	for (int i = n - 1; i >= 0; i--)
		if (on[i])
			cm_controllers[i]->stop(cm, state[i]);
	cm_free(cm);
	return rc;
}
