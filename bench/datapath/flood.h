/*
 * flood.h - forwarding packets per second per core: how many packets a
 * path moves from the client to the pods for each second of the node's
 * CPU, with as little else in the way as possible.
 *
 * The connection benchmark's packets each cost a socket, a TCP state
 * machine and a server on both ends, which hides how cheap or dear the
 * translation itself is. Here:
 *
 *   - the client offers 64-byte UDP frames at a fixed rate (the same for
 *     every path, below the slowest one's limit), in bursts of 64, with
 *     random source ports of 1024 so the paths see many flows, bounded in
 *     count and time. The frames are made by an XDP program run in the
 *     kernel's live frame mode (bpf/bench_gen.bpf.c) and reach the node's
 *     link as XDP frames, the way a NIC's receive ring hands a node raw
 *     buffers: XDP runs on them without a copy, the stack paths build an
 *     skb around them (as NIC drivers do);
 *   - each pod's eth0 runs a one-instruction XDP program that drops every
 *     frame, counted by the veth driver (ethtool -S "xdp_drops"): nothing
 *     above the driver runs in the pods;
 *   - between them, the path under test: capstan's NodePort at XDP (SNAT
 *     and a redirect to the pod's veth, no skb ever built) or at tc, or
 *     kube-proxy's iptables DNAT (skb, conntrack, nat table, routing,
 *     forwarding).
 *
 * The figure is frames delivered per busy second of the node's CPU: the
 * node's link receives in a threaded NAPI kthread pinned to CPU 1, alone
 * there, so CPU 1's busy time is the node's forwarding and nothing else;
 * the generator and the pods' receive work (threaded NAPI) share CPU 0.
 * It needs two CPUs and threaded NAPI, and the live frame mode (5.18+).
 */
#ifndef CAPSTAN_BENCH_FLOOD_H
#define CAPSTAN_BENCH_FLOOD_H

#include <stdbool.h>
#include <stddef.h>

#include "topo.h"

struct flood_result {
	long rate;	      /* frames per second offered */
	long sent;	      /* frames the client sent */
	long delivered;	      /* frames dropped by the pods' XDP program */
	double seconds;	      /* wall time of the send */
	double pps;	      /* delivered / seconds */
	double node_cpu_s;    /* busy seconds of the node's CPU */
	double pps_node_core; /* delivered / node_cpu_s */
};

/*
 * Flood daddr:dport (UDP) from the client at rate frames per second for at
 * most count frames and seconds, with the drop program on every pod's eth0
 * for the duration.
 * The pods' eth0 are left without it. 0 with *out filled, -EINTR, or
 * -errno with a reason in err.
 */
int flood_run(const struct topo *t, const char *daddr, int dport, long count, double seconds,
	      long rate, struct flood_result *out, char *err, size_t errlen);

#endif
