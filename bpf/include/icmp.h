/*
 * icmp.h - ICMP errors about translated north-south flows (tc only).
 *
 * An ICMP error (destination unreachable, time exceeded, parameter problem)
 * quotes the IP header and at least 8 bytes of the datagram that caused it.
 * When that datagram was translated, both the error's outer addresses and
 * the quoted header must be translated the other way, or the sender of the
 * original packet cannot match the error to its socket (a "fragmentation
 * needed" lost this way breaks path MTU discovery). Three directions:
 *
 *   ingress, about a packet we SNATed to a remote backend: the error (from
 *     the backend or a router on the way) is addressed to node_ip and quotes
 *     node_ip:snat_port -> backend; it goes on to the client and quotes
 *     client -> frontend.
 *   ingress, from a client about a reply we sent it: the error is addressed
 *     to the frontend and quotes frontend -> client; it goes to the backend
 *     and quotes backend -> client (or backend -> node_ip:snat_port).
 *   egress, from a local backend about a packet we delivered to it: it
 *     quotes client -> backend and leaves with client -> frontend quoted and
 *     the frontend as its source.
 *
 * The quoted datagram is rewritten in a stack copy (its IP header, its
 * first 8 L4 bytes and, for TCP, the checksum word when quoted) with the
 * inner IP and L4 checksums updated, so the quote reads exactly as the
 * original sender sent it. The ICMP checksum, which covers the quote and
 * has no pseudo-header, then changes by the difference of the old and new
 * bytes (bpf_csum_diff). An error whose quote has IP options, or is not
 * TCP/UDP, or matches no flow passes untouched. Echo and the other
 * non-error types pass untouched: they are the node's own business.
 *
 * XDP leaves ICMP to tc.
 */
#ifndef CAPSTAN_BPF_ICMP_H
#define CAPSTAN_BPF_ICMP_H

#include "nodeport.h"

#define NP_ICMP_HLEN 8

/* The quoted datagram's start, as copied out of the packet. */
struct np_quote {
	struct iphdr ip;
	__u8 l4[8]; /* ports at 0 and 2; UDP checksum at 6 */
};

struct np_icmp {
	__u32 quote_off;    /* packet offset of the quoted IP header */
	__u32 tcp_csum_off; /* packet offset of the quoted TCP checksum word, 0 if cut */
	struct np_quote old;
	struct np_quote new;
	__u32 tcp_csum_old; /* the 4 bytes at tcp_csum_off (checksum, urgent pointer) */
	__u32 tcp_csum_new;
};

static __always_inline bool np_icmp_is_error(__u8 type)
{
	return type == NP_ICMP_DEST_UNREACH || type == NP_ICMP_TIME_EXCEEDED ||
	       type == NP_ICMP_PARAMETERPROB;
}

/* True when daddr is an externalIP or LoadBalancer IP (not the node address). */
static __always_inline bool np_is_external_vip(const struct np_run *r)
{
	__be32 addr = r->p.t.daddr;
	__u32 *flags;

	if (addr == r->cfg.node_ip)
		return false;
	flags = bpf_map_lookup_elem(&capstan_vip_v2, &addr);
	return flags && (*flags & CAPSTAN_VIP_F_EXTERNAL);
}

/*
 * Copy the quote out of an ICMP error. 1 when there is a TCP/UDP quote to
 * look at, 0 when the packet is not such an error (pass it).
 */
static __always_inline int np_icmp_load(struct np_run *r, struct np_icmp *q)
{
	struct __sk_buff *skb = r->ctx;
	__u8 type;

	if (r->p.fragment || bpf_skb_load_bytes(skb, r->p.l4_off, &type, 1) ||
	    !np_icmp_is_error(type))
		return 0;
	q->quote_off = r->p.l4_off + NP_ICMP_HLEN;
	if (bpf_skb_load_bytes(skb, q->quote_off, &q->old, sizeof(q->old)))
		return 0;
	if (q->old.ip.version != 4 || q->old.ip.ihl != 5 ||
	    (q->old.ip.protocol != IPPROTO_TCP && q->old.ip.protocol != IPPROTO_UDP))
		return 0;
	q->tcp_csum_off = 0;
	if (q->old.ip.protocol == IPPROTO_TCP &&
	    !bpf_skb_load_bytes(skb, q->quote_off + 20 + 16, &q->tcp_csum_old, 4))
		q->tcp_csum_off = q->quote_off + 20 + 16;
	q->new = q->old;
	q->tcp_csum_new = q->tcp_csum_old;
	return 1;
}

static __always_inline __be16 np_quote_port(const struct np_quote *x, __u32 at)
{
	return *(const __be16 *)&x->l4[at & 2];
}

/* The quoted L4 checksum word, or NULL when it was not quoted. */
static __always_inline __u16 *np_quote_l4_csum(struct np_icmp *q)
{
	if (q->new.ip.protocol == IPPROTO_UDP)
		return (__u16 *)&q->new.l4[6];
	return q->tcp_csum_off ? (__u16 *)&q->tcp_csum_new : NULL;
}

/* Rewrite the quote's addresses and ports, with both of its checksums. */
static __always_inline void np_quote_set(struct np_icmp *q, __be32 saddr, __be16 sport,
					 __be32 daddr, __be16 dport)
{
	bool udp = q->new.ip.protocol == IPPROTO_UDP;
	__u16 *l4c = np_quote_l4_csum(q);
	__be16 *ports = (__be16 *)q->new.l4;

	csum_replace4(&q->new.ip.check, q->new.ip.saddr, saddr);
	csum_replace4(&q->new.ip.check, q->new.ip.daddr, daddr);
	if (l4c) {
		if (udp) {
			csum_replace4_udp(l4c, q->new.ip.saddr, saddr);
			csum_replace4_udp(l4c, q->new.ip.daddr, daddr);
			csum_replace2_udp(l4c, ports[0], sport);
			csum_replace2_udp(l4c, ports[1], dport);
		} else {
			csum_replace4(l4c, q->new.ip.saddr, saddr);
			csum_replace4(l4c, q->new.ip.daddr, daddr);
			csum_replace2(l4c, ports[0], sport);
			csum_replace2(l4c, ports[1], dport);
		}
	}
	q->new.ip.saddr = saddr;
	q->new.ip.daddr = daddr;
	ports[0] = sport;
	ports[1] = dport;
}

/*
 * Write the new quote and outer addresses into the packet. The ICMP
 * checksum absorbs the quote's change; the outer IP checksum the address
 * change (np_set_addr: ICMP has no pseudo-header, so it is not touched).
 */
static __always_inline int np_icmp_store(struct np_run *r, struct np_icmp *q, __be32 saddr,
					 __be32 daddr)
{
	struct __sk_buff *skb = r->ctx;
	__s64 diff;
	int ret;

	diff = bpf_csum_diff((__be32 *)&q->old, sizeof(q->old), (__be32 *)&q->new, sizeof(q->new),
			     0);
	if (diff < 0)
		return np_drop(CAPSTAN_DROP_CSUM);
	if (q->tcp_csum_off) {
		diff = bpf_csum_diff(&q->tcp_csum_old, 4, &q->tcp_csum_new, 4, (__wsum)diff);
		if (diff < 0)
			return np_drop(CAPSTAN_DROP_CSUM);
	}
	if (bpf_l4_csum_replace(skb, r->p.l4_off + 2, 0, (__u32)diff, 0))
		return np_drop(CAPSTAN_DROP_CSUM);
	if (bpf_skb_store_bytes(skb, q->quote_off, &q->new, sizeof(q->new), 0))
		return np_drop(CAPSTAN_DROP_CSUM);
	if (q->tcp_csum_off && bpf_skb_store_bytes(skb, q->tcp_csum_off, &q->tcp_csum_new, 4, 0))
		return np_drop(CAPSTAN_DROP_CSUM);
	ret = np_set_addr(r, false, 12, r->p.t.saddr, saddr);
	if (ret < 0)
		return ret;
	return np_set_addr(r, false, 16, r->p.t.daddr, daddr);
}

/* Forward a rewritten error towards daddr (the client, or a remote backend). */
static __always_inline int np_icmp_forward(struct np_run *r, __be32 saddr, __be32 daddr,
					   long *verdict)
{
	struct bpf_fib_lookup fib;
	int fib_ret = np_fib(r, false, saddr, daddr, &fib);

	return np_forward(r, false, &fib, fib_ret, verdict);
}

/* Ingress: an error about a packet this node SNATed towards a remote backend. */
static __always_inline int np_icmp_about_snat(struct np_run *r, struct np_icmp *q, long *verdict)
{
	struct capstan_ct_key key;
	struct capstan_ct_entry *e;
	struct capstan_revnat *fe;
	__be32 be_addr = q->old.ip.daddr, outer_src = r->p.t.saddr;
	__u32 rev;
	int ret;

	np_ct_key(&key, be_addr, q->old.ip.saddr, np_quote_port(&q->old, 2),
		  np_quote_port(&q->old, 0), q->old.ip.protocol, CAPSTAN_CT_REPLY);
	e = bpf_map_lookup_elem(&capstan_ct_v1, &key);
	if (!e || !(e->flags & CAPSTAN_CT_F_SNAT) || !np_ct_alive(e, key.proto, r->now))
		return NP_PASS;
	rev = e->rev_nat_id;
	fe = bpf_map_lookup_elem(&capstan_rnat_v1, &rev);
	if (!fe)
		return NP_PASS;
	np_quote_set(q, e->client_addr, e->client_port, fe->addr, fe->port);
	/* The backend itself speaks as the frontend; a router stays itself. */
	if (outer_src == be_addr)
		outer_src = fe->addr;
	ret = np_icmp_store(r, q, outer_src, e->client_addr);
	if (ret < 0)
		return ret;
	np_count_packet(e->rev_nat_id, r->p.len);
	return np_icmp_forward(r, outer_src, e->client_addr, verdict);
}

/* Ingress: a client's error about a reply this node translated. */
static __always_inline int np_icmp_about_reply(struct np_run *r, struct np_icmp *q, long *verdict)
{
	struct capstan_ct_key key;
	struct capstan_ct_entry *e;
	struct capstan_backend *be;
	__u32 backend_id;
	__be32 daddr;
	__be16 dport;
	int ret;

	/* The quote is frontend -> client: the flow's FORWARD key reversed. */
	np_ct_key(&key, q->old.ip.daddr, q->old.ip.saddr, np_quote_port(&q->old, 2),
		  np_quote_port(&q->old, 0), q->old.ip.protocol, CAPSTAN_CT_FORWARD);
	e = bpf_map_lookup_elem(&capstan_ct_v1, &key);
	if (!e || !np_ct_alive(e, key.proto, r->now))
		return NP_PASS;
	backend_id = e->backend_id;
	be = bpf_map_lookup_elem(&capstan_be_v2, &backend_id);
	if (!be)
		return NP_PASS;
	daddr = q->old.ip.daddr;
	dport = np_quote_port(&q->old, 2);
	if (e->flags & CAPSTAN_CT_F_SNAT) {
		daddr = r->cfg.node_ip;
		dport = e->snat_port;
	}
	np_quote_set(q, be->addr, be->port, daddr, dport);
	ret = np_icmp_store(r, q, e->flags & CAPSTAN_CT_F_SNAT ? r->cfg.node_ip : r->p.t.saddr,
			    be->addr);
	if (ret < 0)
		return ret;
	np_count_packet(e->rev_nat_id, r->p.len);
	if (!(e->flags & CAPSTAN_CT_F_SNAT))
		return NP_LOCAL;
	return np_icmp_forward(r, r->cfg.node_ip, be->addr, verdict);
}

/* tc ingress: NP_PASS, NP_LOCAL, NP_REDIRECTED (*verdict) or a drop. */
static __always_inline int np_icmp_error_in(struct np_run *r, long *verdict)
{
	struct np_icmp q;
	__u32 sport;

	if (!np_icmp_load(r, &q))
		return NP_PASS;
	sport = bpf_ntohs(np_quote_port(&q.old, 0));
	if (r->p.t.daddr == r->cfg.node_ip && q.old.ip.saddr == r->cfg.node_ip &&
	    sport >= r->cfg.snat_port_min && sport <= r->cfg.snat_port_max)
		return np_icmp_about_snat(r, &q, verdict);
	if (q.old.ip.saddr == r->p.t.daddr)
		return np_icmp_about_reply(r, &q, verdict);
	return NP_PASS;
}

/* tc egress: a local backend's error about a packet delivered to it. */
static __always_inline int np_icmp_error_out(struct np_run *r)
{
	struct capstan_ct_key key;
	struct capstan_ct_entry *e;
	struct capstan_revnat *fe;
	struct np_icmp q;
	__be32 outer_src;
	__u32 rev;
	int ret;

	if (!np_icmp_load(r, &q))
		return NP_PASS;
	/* The quote is client -> backend: the flow's REPLY key reversed. */
	np_ct_key(&key, q.old.ip.daddr, q.old.ip.saddr, np_quote_port(&q.old, 2),
		  np_quote_port(&q.old, 0), q.old.ip.protocol, CAPSTAN_CT_REPLY);
	e = bpf_map_lookup_elem(&capstan_ct_v1, &key);
	if (!e || (e->flags & CAPSTAN_CT_F_SNAT) || !np_ct_alive(e, key.proto, r->now))
		return NP_PASS;
	rev = e->rev_nat_id;
	fe = bpf_map_lookup_elem(&capstan_rnat_v1, &rev);
	if (!fe)
		return NP_PASS;
	outer_src = r->p.t.saddr == q.old.ip.daddr ? fe->addr : r->p.t.saddr;
	np_quote_set(&q, q.old.ip.saddr, np_quote_port(&q.old, 0), fe->addr, fe->port);
	ret = np_icmp_store(r, &q, outer_src, r->p.t.daddr);
	if (ret < 0)
		return ret;
	np_count_packet(e->rev_nat_id, r->p.len);
	return NP_LOCAL;
}

#endif
