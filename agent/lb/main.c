/*
 * capstan-agent - the kube-proxy replacement: programs the eBPF socket load
 * balancer from Services and EndpointSlices.
 *
 * Flags are parsed in config.c; the daemon lives in agent.c and its
 * modules.
 */
#include <stdio.h>

#include "agent/lb/agent.h"
#include "agent/lb/config.h"
#include "log.h"

int main(int argc, char **argv)
{
	struct lb_config cfg;
	char err[512];

	log_init("capstan-agent");
	if (lb_config_parse(&cfg, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "capstan-agent: %s (see --help)\n", err);
		return 2;
	}
	if (cfg.help) {
		lb_config_usage(stdout);
		return 0;
	}
	if (cfg.cleanup)
		return lb_agent_cleanup(&cfg);
	return lb_agent_run(&cfg);
}
