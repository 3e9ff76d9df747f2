/*
 * agent.h - capstan-agent put together: loader, safety route, writer,
 * sources (informers or a static file), sync runner and metrics.
 *
 * Start-up order is chosen so that a restart never disturbs traffic:
 *
 *   1. load the programs and swap them into the pinned links (translation
 *      continues with the maps as they are);
 *   2. install the unreachable route for the service range;
 *   3. read the pinned maps back into the writer's mirror;
 *   4. start the sources and wait until each has listed everything once:
 *      events are only recorded meanwhile, because a sync that saw the
 *      Services but not yet their EndpointSlices would empty every
 *      service's slots;
 *   5. start the runner: the first sync is full, keeps every id that is
 *      still right and removes only what no Service wants any more.
 *
 * Shutdown (SIGTERM, SIGINT) stops the threads and closes handles; the
 * pinned links and maps stay, so the datapath keeps translating with the
 * last state until the next agent takes over. SIGHUP re-reads the --static
 * file, or asks for a full resync in informer mode.
 *
 * Signals are taken synchronously (sigwait in the main thread, every other
 * thread starts with them blocked), so shutdown runs in one known place.
 */
#ifndef CAPSTAN_AGENT_LB_AGENT_H
#define CAPSTAN_AGENT_LB_AGENT_H

#include "agent/lb/config.h"

/* Run the daemon until SIGTERM or SIGINT. Returns the process exit code. */
int lb_agent_run(const struct lb_config *cfg);

/* --cleanup: unpin links and maps under cfg->bpffs_dir. Returns the exit code. */
int lb_agent_cleanup(const struct lb_config *cfg);

#endif
