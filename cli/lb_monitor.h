/*
 * lb_monitor.h - `capstan lb monitor`: print the datapath's trace events.
 *
 * The BPF programs write a struct capstan_event to the pinned ring buffer
 * for every translation and refusal, but only while CAPSTAN_CFG_EVENTS is set
 * in the config map, so a node nobody watches pays nothing. The monitor sets
 * the flag, consumes the ring buffer with libbpf's ring_buffer (epoll on the
 * map fd), prints one line per event and, when it stops (count reached,
 * duration over, SIGINT or SIGTERM, or its output closed), puts the flag back
 * to the value it found: a monitor started while another had the events on
 * leaves them on.
 *
 * Rejected: a reference count of monitors in the config map. Two monitors
 * would also split the events between them (a ring buffer has one consumer
 * position), so concurrent monitors are not a case worth a protocol; the
 * "restore what you found" rule keeps a single monitor correct and never
 * leaves events on after the last one started with them off. A monitor
 * killed with SIGKILL cannot restore the flag: events then stay on, which
 * costs a ring buffer write per translation but changes no verdict, and a
 * later monitor cannot tell that from another monitor running, so it leaves
 * them on too (bpftool map update on the config map turns them off).
 *
 * Records older than the monitor's start (left in the ring buffer while
 * nobody consumed it) are skipped, and the events the ring buffer lost while
 * full are reported from the event_lost drop counter.
 */
#ifndef CAPSTAN_CLI_LB_MONITOR_H
#define CAPSTAN_CLI_LB_MONITOR_H

#include <stdint.h>
#include <stdio.h>

#include "lb_format.h"

#define CLI_LB_MONITOR_DEFAULT_MS 10000ull
#define CLI_LB_MONITOR_MAX_MS 3600000ull /* one hour */

struct cli_lb_monitor_opts {
	const char *dir;	/* bpffs directory holding the agent's pins */
	unsigned long count;	/* stop after this many events; 0 = at the end of duration */
	uint64_t duration_ms;	/* 1..CLI_LB_MONITOR_MAX_MS */
	enum cli_lb_output fmt; /* CLI_LB_OUT_TEXT or CLI_LB_OUT_JSON_LINE (CLI_LB_OUT_JSON is
				 * printed one object a line too) */
};

struct cli_lb_monitor_result {
	unsigned long events;	 /* events printed */
	unsigned long long lost; /* events the ring buffer dropped meanwhile (when known) */
	int restored_flags;	 /* config flags written back at the end, -1 if untouched */
};

/*
 * Run the monitor: events to out, one line each (flushed per line), the
 * start and end notes to info (may be NULL). 0 on success (count reached,
 * duration over, interrupted by SIGINT/SIGTERM, or out closed); -errno on
 * failure with a message in err (-EINVAL for bad options, -ENOENT with "no
 * capstan maps under DIR ..." when the pins are missing). *res (may be NULL)
 * is filled on success and failure alike.
 */
int cli_lb_monitor_run(const struct cli_lb_monitor_opts *o, FILE *out, FILE *info,
		       struct cli_lb_monitor_result *res, char *err, size_t errlen);

#endif
