/*
 * capstan-scheduler - assigns pending pods to nodes.
 *
 * Flags are parsed in config.c; the daemon lives in scheduler.c and the modules beside
 * it. The main thread blocks every signal before any thread starts and then waits for
 * SIGTERM or SIGINT, so shutdown runs in one known place.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "control/scheduler/config.h"
#include "control/scheduler/scheduler.h"
#include "log.h"

int main(int argc, char **argv)
{
	struct sched_config cfg;
	struct sched_daemon *d;
	char err[512];
	sigset_t set;
	int sig;

	log_init("capstan-scheduler");
	if (sched_config_parse(&cfg, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "capstan-scheduler: %s (see --help)\n", err);
		return 2;
	}
	if (cfg.help) {
		sched_config_usage(stdout);
		return 0;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (sched_start(&cfg, &d, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return 1;
	}
	sigdelset(&set, SIGPIPE);
	do {
		if (sigwait(&set, &sig) != 0)
			sig = SIGTERM;
	} while (sig != SIGTERM && sig != SIGINT);
	log_info("%s: shutting down", strsignal(sig));
	sched_stop(d);
	return 0;
}
