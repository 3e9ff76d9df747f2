/*
 * flood.h - forwarding packets per second per core: how many packets a
 * path moves from the client to the pods for each second of CPU the whole
 * machine spends, with as little else in the way as possible.
 *
 * The connection benchmark's packets each cost a socket, a TCP state
 * machine and a server on both ends, which hides how cheap or dear the
 * translation itself is. Here:
 *
 *   - the client writes prebuilt 64-byte UDP frames straight to its link
 *     (AF_PACKET, PACKET_QDISC_BYPASS, sendmmsg batches), cycling over 1024
 *     source ports so the paths see many flows, bounded in count and time;
 *   - each pod's eth0 runs a one-instruction XDP program that drops every
 *     frame, counted by the veth driver (ethtool -S "xdp_drops"): nothing
 *     above the driver runs in the pods;
 *   - between them, the path under test: capstan's NodePort at XDP (SNAT
 *     and a redirect to the pod's veth, no skb ever built) or at tc, or
 *     kube-proxy's iptables DNAT (skb, conntrack, nat table, routing,
 *     forwarding).
 *
 * Two figures: frames that reached the pods per busy CPU second of the
 * whole machine (the sender's cost is in every path's denominator alike),
 * and per busy second of the node's CPU alone. For the second the work is
 * split over two CPUs: the sender runs on CPU 0, and the receive work of
 * the node's link and the pods' links runs in threaded NAPI kthreads
 * pinned to CPU 1 (GRO on the node's link makes it use NAPI on every
 * path, as native XDP does), so CPU 1's busy time is the node's
 * forwarding (plus the pods' one-instruction drop). Machines with one CPU,
 * or kernels without threaded NAPI, get the first figure only.
 */
#ifndef CAPSTAN_BENCH_FLOOD_H
#define CAPSTAN_BENCH_FLOOD_H

#include <stdbool.h>
#include <stddef.h>

#include "topo.h"

struct flood_result {
	long sent;	      /* frames written by the client */
	long delivered;	      /* frames dropped by the pods' XDP program */
	double seconds;	      /* wall time of the send */
	double cpu_s;	      /* busy CPU seconds of the whole machine meanwhile */
	double pps;	      /* delivered / seconds */
	double pps_core;      /* delivered / cpu_s */
	double node_cpu_s;    /* busy seconds of the node's CPU; 0 = not split */
	double pps_node_core; /* delivered / node_cpu_s */
};

/*
 * Flood daddr:dport (UDP) from the client for at most count frames and
 * seconds, with the drop program on every pod's eth0 for the duration.
 * The pods' eth0 are left without it. 0 with *out filled, -EINTR, or
 * -errno with a reason in err.
 */
int flood_run(const struct topo *t, const char *daddr, int dport, long count, double seconds,
	      struct flood_result *out, char *err, size_t errlen);

#endif
