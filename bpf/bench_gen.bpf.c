// SPDX-License-Identifier: GPL-2.0
/*
 * bench_gen.bpf.c - the frame generator of `capstan bench datapath`'s
 * forwarding measurement (bench/datapath/flood.c), not part of the
 * datapath.
 *
 * User space runs bench_gen with BPF_PROG_RUN in live frame mode on the
 * client's link: every run gets a page-pool copy of a 60-byte UDP frame,
 * and XDP_TX hands it to the link's peer (the node) as an XDP frame, the
 * way a NIC's receive ring hands a node raw buffers. Pages are recycled
 * without being rewritten, and a page may come back from a path that
 * rewrote the headers in place (MACs, TTL, addresses, ports), so the
 * headers are written from the template every time.
 *
 * The offered rate is held here, in bursts of `burst` frames, one every
 * burst_ns: the first run of a burst waits (a bpf_loop spinning on the
 * clock) until the burst is due. Waiting instead of dropping keeps the
 * pages of the frames not sent out of the page pool's recycling ring,
 * which the node's CPU uses to give back the pages of the frames sent.
 * With bursts as long as the live frame mode's batches, each burst reaches
 * the node as one transmission, taken by its NAPI in one poll, as from a
 * NIC's ring under a steady load.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define GEN_WORDS 6 /* 48 bytes: Ethernet, IPv4 and UDP headers (42) and some payload */
#define GEN_TEMPLATE (GEN_WORDS * 8)
#define GEN_SPORT_OFF (14 + 20)

/* Set by user space before loading. */
const volatile __u64 template[GEN_WORDS]; /* the frame's first bytes, as they lie in memory */
const volatile __u64 burst_ns = 320000;
const volatile __u32 burst = 64;
const volatile __u64 max_frames = 0; /* stop sending after this many; 0 = no limit */
const volatile __u16 sport_base = 20000;
const volatile __u16 flows = 1024; /* source ports sport_base .. + flows - 1 */

/*
 * Read by user space. The program runs on one CPU at a time (a BPF_PROG_RUN
 * call), so plain updates are enough.
 */
__u64 sent;	  /* frames returned with XDP_TX */
__u64 next_ns;	  /* when the next burst is due */
__u32 burst_left; /* frames the current burst may still send */

static long until_due(__u64 index, void *ctx)
{
	return bpf_ktime_get_ns() >= next_ns; /* 1 ends the loop */
}

SEC("xdp")
int bench_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u64 now;

	if (data + GEN_TEMPLATE > end || (max_frames && sent >= max_frames))
		return XDP_DROP;
	if (!burst_left) {
		/* At most 1<<23 clock reads (a few hundred milliseconds): plenty for a burst. */
		bpf_loop(1 << 23, until_due, NULL, 0);
		now = bpf_ktime_get_ns();
		if (now < next_ns)
			return XDP_DROP;
		/* Behind (a stall between two BPF_PROG_RUN calls): start afresh. */
		next_ns = next_ns + burst_ns > now ? next_ns + burst_ns : now + burst_ns;
		burst_left = burst;
	}
	burst_left--;
	/* Word by word: volatile reads, or the compiler assumes the zeros it was built with. */
#pragma unroll
	for (int i = 0; i < GEN_WORDS; i++)
		((__u64 *)data)[i] = template[i];
	*(__be16 *)(data + GEN_SPORT_OFF) =
		bpf_htons(sport_base + (__u16)(bpf_get_prandom_u32() % flows));
	sent++;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
