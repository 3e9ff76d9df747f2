/*
 * preflight.h - can this machine run a capstan node?
 *
 * Checks what the node daemons rely on and loads the eBPF datapath into the
 * kernel once (then unloads it), so a missing feature is reported before a
 * cluster is started rather than as a daemon crash loop later.
 */
#ifndef CAPSTAN_CLI_PREFLIGHT_H
#define CAPSTAN_CLI_PREFLIGHT_H

#include <stdio.h>

/* Print one line per check to out. Returns the number of failed checks. */
int preflight_run(FILE *out);

#endif
