/*
 * parse.h - reading the headers of a packet on the north-south path, the
 * same way for tc and XDP: every access goes through a bounds check against
 * data_end (`if (hdr + 1 > end)`), and what the later stages need is copied
 * into a struct np_pkt, so they never hold a packet pointer across a helper
 * that may move the data (bpf_skb_store_bytes, the checksum helpers).
 *
 * Only Ethernet + IPv4 is parsed. Anything else (IPv6, VLAN tags, ARP) is
 * "not ours": services are IPv4, and a node's VLAN devices get their own
 * program. A fragmented datagram's first fragment has the L4 header; later
 * ones do not, and take their ports from the fragments map.
 */
#ifndef CAPSTAN_BPF_PARSE_H
#define CAPSTAN_BPF_PARSE_H

#include <bpf/bpf_endian.h>

#include "abi.h"

#define NP_ETH_HLEN 14
#define NP_ETH_P_IP 0x0800
#define NP_IP_MF 0x2000
#define NP_IP_OFFSET 0x1fff
#define NP_IPPROTO_ICMP 1

#define NP_TCP_FIN 0x01
#define NP_TCP_SYN 0x02
#define NP_TCP_RST 0x04
#define NP_TCP_ACK 0x10

/* A flow's addresses as on the wire (network order), and its protocol. */
struct np_tuple {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
};

struct np_pkt {
	struct np_tuple t;
	__u32 l4_off; /* packet offset of the L4 header (ETH_HLEN + ihl * 4) */
	__u32 len;    /* IP total length, host order */
	__be16 ip_id; /* IPv4 identification */
	__u8 ttl;
	__u8 tcp_flags;	   /* NP_TCP_* of a TCP header; 0 otherwise */
	bool has_l4;	   /* the L4 header is in this packet (not a later fragment) */
	bool fragment;	   /* part of a fragmented datagram (first or later) */
	__be32 tcp_seq;	   /* for building a reset */
	__u16 tcp_payload; /* TCP segment payload length, host order */
};

enum np_parse {
	NP_PARSE_OK = 0,
	NP_PARSE_NOT_IPV4,  /* not for us: pass untouched (also a header too short to
			     * tell where it goes) */
	NP_PARSE_MALFORMED, /* an IPv4 header with impossible fields; t.saddr/t.daddr
			     * are filled, so the caller can tell whether it was sent to
			     * a service address */
	NP_PARSE_CUT_L4,    /* IPv4 fine, but the TCP/UDP/ICMP header is cut */
};

/*
 * Fill p from the packet in [data, end). For ICMP the "ports" are 0 (its
 * id is not a port: echo is not translated).
 */
static __always_inline enum np_parse np_parse(void *data, void *end, struct np_pkt *p)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u32 ihl, frag;

	if ((void *)(eth + 1) > end)
		return NP_PARSE_NOT_IPV4;
	if (eth->h_proto != bpf_htons(NP_ETH_P_IP))
		return NP_PARSE_NOT_IPV4;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return NP_PARSE_NOT_IPV4;
	p->t.saddr = ip->saddr;
	p->t.daddr = ip->daddr;
	ihl = ip->ihl;
	if (ip->version != 4 || ihl < 5)
		return NP_PARSE_MALFORMED;
	/*
	 * tot_len 0 is how the stack marks an IPv4 BIG TCP aggregate (over
	 * 64 KiB): take the length from the packet instead.
	 */
	p->len = bpf_ntohs(ip->tot_len);
	if (p->len == 0)
		p->len = (__u32)(end - (void *)ip);
	if (p->len < ihl * 4)
		return NP_PARSE_MALFORMED;
	p->l4_off = NP_ETH_HLEN + ihl * 4;
	p->t.proto = ip->protocol;
	p->t.sport = 0;
	p->t.dport = 0;
	p->ip_id = ip->id;
	p->ttl = ip->ttl;
	p->tcp_flags = 0;
	p->tcp_seq = 0;
	p->tcp_payload = 0;
	frag = bpf_ntohs(ip->frag_off);
	p->fragment = (frag & (NP_IP_MF | NP_IP_OFFSET)) != 0;
	p->has_l4 = (frag & NP_IP_OFFSET) == 0;
	if (!p->has_l4)
		return NP_PARSE_OK;

	if (p->t.proto == IPPROTO_TCP) {
		struct tcphdr *tcp = data + p->l4_off;
		__u32 doff;

		if (p->l4_off > NP_ETH_HLEN + 60 || (void *)(tcp + 1) > end)
			return NP_PARSE_CUT_L4;
		p->t.sport = tcp->source;
		p->t.dport = tcp->dest;
		p->tcp_flags = ((__u8 *)tcp)[13];
		p->tcp_seq = tcp->seq;
		doff = tcp->doff * 4;
		if (p->len >= ihl * 4 + doff)
			p->tcp_payload = p->len - ihl * 4 - doff;
	} else if (p->t.proto == IPPROTO_UDP) {
		struct udphdr *udp = data + p->l4_off;

		if (p->l4_off > NP_ETH_HLEN + 60 || (void *)(udp + 1) > end)
			return NP_PARSE_CUT_L4;
		p->t.sport = udp->source;
		p->t.dport = udp->dest;
	} else if (p->t.proto == NP_IPPROTO_ICMP) {
		/* type, code, checksum and 4 more bytes */
		if (p->l4_off > NP_ETH_HLEN + 60 || data + p->l4_off + 8 > end)
			return NP_PARSE_CUT_L4;
	}
	return NP_PARSE_OK;
}

#endif
