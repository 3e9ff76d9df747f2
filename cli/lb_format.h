/*
 * lb_format.h - `capstan lb` output: text for people, JSON for programs.
 *
 * Every function appends to a struct buf and does no I/O, so the output of
 * each command is tested byte for byte from a snapshot built in memory.
 *
 * Text follows what operators know from `cilium bpf lb list`: one block per
 * service port, its header carrying the rev-NAT id and the flags, then one
 * line per slot naming the backend. Services sort by address, port and
 * protocol as numbers (10.96.0.9 before 10.96.0.10), never by the bytes of
 * the network-order fields. States the agent passes through while it edits
 * a service (a slot missing, a slot naming a deleted backend, slots beyond
 * the count, slots without a slot 0) are printed as what they mean for a
 * connection rather than hidden, since those are what an operator is
 * looking for when a listing is asked for.
 *
 * JSON carries the same facts with stable field names (addresses as dotted
 * strings, ports as numbers in host order); watch and monitor print one
 * compact JSON object per line so the output can be piped.
 */
#ifndef CAPSTAN_CLI_LB_FORMAT_H
#define CAPSTAN_CLI_LB_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "lb_snapshot.h"
#include "util.h"

enum cli_lb_output {
	CLI_LB_OUT_TEXT = 0,
	CLI_LB_OUT_JSON,
	CLI_LB_OUT_JSON_LINE, /* JSON on one line (watch, monitor) */
};

enum cli_lb_list_view {
	CLI_LB_VIEW_SERVICES = 0, /* services with their slots (the default) */
	CLI_LB_VIEW_BACKENDS,	  /* the backends map alone */
	CLI_LB_VIEW_REVNAT,	  /* the rev-NAT map alone */
};

/* The name of a drop reason (CAPSTAN_DROP_NAMES), or NULL when out of range. */
const char *cli_lb_drop_name(unsigned int reason);

/*
 * Append the listing of view to out. Sorts snap in place (cli_lb_snapshot_sort).
 * 0 on success, -EINVAL for an unknown view or output.
 */
int cli_lb_format_list(struct cli_lb_snapshot *snap, enum cli_lb_list_view view,
		       enum cli_lb_output fmt, struct buf *out);

/*
 * Append the counters of cur (read with CLI_LB_READ_COUNTERS) to out. With prev
 * and elapsed_ns > 0, also the rate per second of each counter since prev
 * (a counter lower than in prev was reset: its rate counts from zero).
 * wall_ns, when not 0, is printed as the time of the sample (JSON "time").
 * Sorts both snapshots in place. 0 on success, -EINVAL for an unknown output.
 */
int cli_lb_format_stats(struct cli_lb_snapshot *cur, struct cli_lb_snapshot *prev,
			uint64_t elapsed_ns, int64_t wall_ns, enum cli_lb_output fmt,
			struct buf *out);

/*
 * Append one line for a struct capstan_event record of len bytes to out.
 * The event's ts_ns (CLOCK_MONOTONIC, as bpf_ktime_get_ns) plus
 * wall_offset_ns is the wall-clock time printed (local time of day in text,
 * RFC 3339 UTC in JSON; both JSON outputs give one object on one line, as
 * events are a stream). 0 on success; -EINVAL for a record shorter than
 * struct capstan_event (a line saying so is still appended) or an unknown
 * output. Longer records are accepted: fields appended by a newer agent are
 * ignored.
 */
int cli_lb_format_event(const void *data, size_t len, int64_t wall_offset_ns,
			enum cli_lb_output fmt, struct buf *out);

#endif
