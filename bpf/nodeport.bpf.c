// SPDX-License-Identifier: GPL-2.0
/*
 * nodeport.bpf.c - north-south service traffic: NodePorts, externalIPs and
 * LoadBalancer ingress IPs, for packets that enter the node through its
 * external interfaces (the logic is in nodeport.h).
 *
 *   capstan_np_in    tc ingress: clients' packets to frontends (DNAT, SNAT
 *                    for remote backends), remote backends' replies, ICMP
 *                    errors about translated flows, fragments, and resets
 *                    for frontends without a backend
 *   capstan_np_out   tc egress: local backends' replies (and their ICMP
 *                    errors) get the frontend back as their source
 *   capstan_np_xdp   XDP: the forward path and SNAT replies of unfragmented
 *                    TCP and UDP, before an skb exists; the rest passes to
 *                    capstan_np_in untouched
 *
 * A packet that is not for a frontend and not a reply of a translated flow
 * passes untouched (TC_ACT_UNSPEC: on to the next filter, XDP_PASS),
 * whatever it is: these programs sit on the node's uplink and must not
 * disturb its other traffic. Even a malformed header is dropped only when
 * it was sent to an external service address. Every drop is counted by
 * reason.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "abi.h"
#include "maps.h"
#include "nodeport.h"
#include "icmp.h"

/*
 * Not TC_ACT_OK: in direct-action mode any verdict >= 0 ends the filter
 * chain, and other filters on the device (a firewall, another tool) must
 * still see what we pass or translate.
 */
#define TC_ACT_UNSPEC (-1)
#define TC_ACT_SHOT 2

/*
 * Answer a client's SYN to a frontend without a ready backend with a RST, as
 * a host with no listener would, so the client fails at once instead of
 * retrying into silence. Built in place: addresses and ports swapped, the
 * segment cut to a bare header, both checksums computed from scratch (the
 * headers are small and fixed here), and sent back out of the interface it
 * came in on. Options in the IP header are not handled (dropped, counted).
 */
static __always_inline long np_reset(struct np_run *r)
{
	struct __sk_buff *skb = r->ctx;
	struct {
		struct iphdr ip;
		struct tcphdr tcp;
	} h = {};
	__u8 macs[12], swapped[12];
	__u32 sum = 0, i;
	__u16 *w;

	if (r->p.l4_off != NP_ETH_HLEN + 20)
		return np_drop(CAPSTAN_DROP_MALFORMED);
	if (bpf_skb_load_bytes(skb, 0, macs, sizeof(macs)))
		return np_drop(CAPSTAN_DROP_MALFORMED);
	__builtin_memcpy(swapped, macs + 6, 6);
	__builtin_memcpy(swapped + 6, macs, 6);

	h.ip.version = 4;
	h.ip.ihl = 5;
	h.ip.tot_len = bpf_htons(sizeof(h));
	h.ip.ttl = 64;
	h.ip.protocol = IPPROTO_TCP;
	h.ip.saddr = r->p.t.daddr;
	h.ip.daddr = r->p.t.saddr;
	w = (__u16 *)&h.ip;
	for (i = 0; i < sizeof(h.ip) / 2; i++)
		sum += w[i];
	h.ip.check = (__u16)~csum_fold32(sum);

	h.tcp.source = r->p.t.dport;
	h.tcp.dest = r->p.t.sport;
	h.tcp.ack_seq = bpf_htonl(bpf_ntohl(r->p.tcp_seq) + 1 + r->p.tcp_payload);
	h.tcp.doff = 5;
	h.tcp.rst = 1;
	h.tcp.ack = 1;
	/* Pseudo header: addresses, protocol, TCP length. */
	sum = (h.ip.saddr & 0xffff) + (h.ip.saddr >> 16) + (h.ip.daddr & 0xffff) +
	      (h.ip.daddr >> 16) + bpf_htons(IPPROTO_TCP) + bpf_htons(sizeof(h.tcp));
	w = (__u16 *)&h.tcp;
	for (i = 0; i < sizeof(h.tcp) / 2; i++)
		sum += w[i];
	h.tcp.check = (__u16)~csum_fold32(sum);

	if (bpf_skb_change_tail(skb, NP_ETH_HLEN + sizeof(h), 0))
		return np_drop(CAPSTAN_DROP_MALFORMED);
	if (bpf_skb_store_bytes(skb, 0, swapped, sizeof(swapped), 0) ||
	    bpf_skb_store_bytes(skb, NP_ETH_HLEN, &h, sizeof(h), 0))
		return np_drop(CAPSTAN_DROP_CSUM);
	return bpf_redirect(r->ifindex, 0);
}

static __always_inline int np_tc_verdict(int ret, long verdict)
{
	if (ret == NP_REDIRECTED)
		return (int)verdict;
	return ret < 0 ? TC_ACT_SHOT : TC_ACT_UNSPEC;
}

SEC("tc")
int capstan_np_in(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct np_run r = { .ctx = skb, .ifindex = skb->ifindex, .hook = CAPSTAN_HOOK_TC_INGRESS };
	enum np_parse parsed;
	long verdict = TC_ACT_UNSPEC;
	int ret;

	parsed = np_parse(data, end, &r.p);
	if (parsed == NP_PARSE_NOT_IPV4 || !np_load_config(&r))
		return TC_ACT_UNSPEC;
	r.now = bpf_ktime_get_ns();
	if (parsed == NP_PARSE_MALFORMED || parsed == NP_PARSE_CUT_L4)
		return np_is_external_vip(&r) ? np_tc_verdict(np_drop(CAPSTAN_DROP_MALFORMED), 0)
					      : TC_ACT_UNSPEC;

	if (r.p.t.proto == NP_IPPROTO_ICMP) {
		ret = np_icmp_error_in(&r, &verdict);
		return np_tc_verdict(ret, verdict);
	}
	if (r.p.t.proto != IPPROTO_TCP && r.p.t.proto != IPPROTO_UDP)
		return TC_ACT_UNSPEC;
	if (np_frag_ports(&r) < 0) {
		if (np_is_external_vip(&r))
			return np_tc_verdict(np_drop(CAPSTAN_DROP_FRAG_NO_FLOW), 0);
		return TC_ACT_UNSPEC;
	}

	ret = np_snat_reply_path(&r, false, &verdict);
	if (ret != NP_PASS)
		return np_tc_verdict(ret, verdict);
	ret = np_forward_path(&r, false, &verdict);
	if (ret == -CAPSTAN_DROP_NO_BACKEND && r.p.t.proto == IPPROTO_TCP &&
	    (r.p.tcp_flags & (NP_TCP_SYN | NP_TCP_ACK | NP_TCP_RST)) == NP_TCP_SYN &&
	    !(r.cfg.flags & CAPSTAN_CFG_NO_RST)) {
		long rst = np_reset(&r);

		/* A reset that could not be built: the SYN is dropped (and counted). */
		return rst < 0 ? TC_ACT_SHOT : (int)rst;
	}
	return np_tc_verdict(ret, verdict);
}

SEC("tc")
int capstan_np_out(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct np_run r = { .ctx = skb, .ifindex = skb->ifindex, .hook = CAPSTAN_HOOK_TC_EGRESS };
	int ret;

	/* What this node sends is not ours to judge: only replies are translated. */
	if (np_parse(data, end, &r.p) != NP_PARSE_OK || !np_load_config(&r))
		return TC_ACT_UNSPEC;
	r.now = bpf_ktime_get_ns();
	if (r.p.t.proto == NP_IPPROTO_ICMP)
		return np_tc_verdict(np_icmp_error_out(&r), 0);
	if (r.p.t.proto != IPPROTO_TCP && r.p.t.proto != IPPROTO_UDP)
		return TC_ACT_UNSPEC;
	if (np_frag_ports(&r) < 0)
		return TC_ACT_UNSPEC;
	ret = np_local_reply_path(&r);
	return np_tc_verdict(ret, 0);
}

SEC("xdp")
int capstan_np_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct np_run r = { .ctx = ctx, .ifindex = ctx->ingress_ifindex, .hook = CAPSTAN_HOOK_XDP };
	enum np_parse parsed;
	long verdict = XDP_PASS;
	int ret;

	/* Anything unusual, malformed headers included, is judged (and counted) by tc. */
	parsed = np_parse(data, end, &r.p);
	if (parsed != NP_PARSE_OK || r.p.fragment ||
	    (r.p.t.proto != IPPROTO_TCP && r.p.t.proto != IPPROTO_UDP) || !np_load_config(&r))
		return XDP_PASS;
	r.now = bpf_ktime_get_ns();

	ret = np_snat_reply_path(&r, true, &verdict);
	if (ret == NP_PASS)
		ret = np_forward_path(&r, true, &verdict);
	switch (ret) {
	case NP_TX:
		return XDP_TX;
	case NP_XDP_REDIRECT:
		return (int)verdict;
	default:
		return ret < 0 ? XDP_DROP : XDP_PASS;
	}
}

char LICENSE[] SEC("license") = "GPL";
