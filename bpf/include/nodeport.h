/*
 * nodeport.h - the north-south load balancer: NodePorts, externalIPs and
 * LoadBalancer ingress IPs for clients that are not sockets on this node
 * (BPF side only; entry points in nodeport.bpf.c).
 *
 * A client's packet to a frontend of the external view (abi.h) is DNATed to
 * a backend. A backend on this node gets the packet as the client sent it
 * (source preserved) and its replies are translated back at tc egress of the
 * external interface. A backend on another node also gets SNAT to the node
 * address, so that its replies come back here; the packet is then forwarded
 * at once (FIB lookup, redirect), never through the local stack, which would
 * refuse a packet carrying its own address as source. Replies are matched
 * by the conntrack map's REPLY entries.
 *
 * Backend choice for a new flow: sessionAffinity ClientIP first (the
 * affinity LRU keyed by the client address), else the frontend's Maglev
 * table indexed by a hash of the 5-tuple, so that every node that sees the
 * flow (an upstream router may spread one LoadBalancer IP over all nodes)
 * sends it to the same backend, and a backend change moves few flows. The
 * table is missing only in the moment between the agent writing a frontend
 * and its table; a slot drawn by the same hash serves then. After the
 * choice, conntrack pins the flow: later packets do not depend on the table.
 *
 * The code runs in two program types. `xdp` is a compile-time constant at
 * every call site (each entry point passes a literal), so the branches of
 * the other type are pruned. tc rewrites through bpf_skb_store_bytes and
 * the kernel's checksum helpers (which know about partial checksums); XDP
 * writes the packet directly and updates checksums itself (csum.h). XDP
 * handles the forward path and SNAT replies of unfragmented TCP and UDP and
 * passes anything else untouched to tc: ICMP errors, fragments, resets for
 * frontends without backends, and packets whose next hop has no neighbour
 * entry yet.
 *
 * Helpers return NP_* verdicts or a negative enum capstan_drop_reason that
 * has been counted; the entry points map them to TC_ACT_* / XDP_*.
 */
#ifndef CAPSTAN_BPF_NODEPORT_H
#define CAPSTAN_BPF_NODEPORT_H

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "abi.h"
#include "csum.h"
#include "maps.h"
#include "parse.h"

#define NP_PASS 0	  /* not ours: untouched */
#define NP_LOCAL 1	  /* translated: let the stack deliver it */
#define NP_REDIRECTED 2	  /* translated and redirected (tc: bpf_redirect's verdict) */
#define NP_TX 3		  /* XDP: translated, send back out the ingress interface */
#define NP_XDP_REDIRECT 4 /* XDP: translated, bpf_redirect to another interface */
#define NP_TO_TC 5	  /* XDP: untouched, leave it to tc */

#define NP_NSEC_PER_SEC 1000000000ULL
#define NP_SNAT_TRIES 16
#define NP_AF_INET 2

#define NP_ICMP_DEST_UNREACH 3
#define NP_ICMP_TIME_EXCEEDED 11
#define NP_ICMP_PARAMETERPROB 12

/* What one run of a program knows. */
struct np_run {
	void *ctx;
	__u32 ifindex; /* the interface the program is attached to */
	__u8 hook;     /* enum capstan_hook */
	struct np_pkt p;
	struct capstan_config cfg;
	__u64 now;
};

static __always_inline int np_drop(enum capstan_drop_reason reason)
{
	count_drop(reason);
	return -(int)reason;
}

static __always_inline bool np_load_config(struct np_run *r)
{
	__u32 key = 0;
	struct capstan_config *cfg = bpf_map_lookup_elem(&capstan_cfg_v2, &key);

	if (!cfg || !cfg->node_ip || !cfg->maglev_m)
		return false;
	r->cfg = *cfg;
	return true;
}

/* ---------------------------------------------------------------- accounting */

static __always_inline void np_count_packet(__u16 rev_nat_id, __u32 len)
{
	__u32 key = rev_nat_id;
	struct capstan_svc_counters *sc = bpf_map_lookup_elem(&capstan_scnt_v2, &key);

	if (sc) {
		__sync_fetch_and_add(&sc->packets, 1);
		__sync_fetch_and_add(&sc->bytes, len);
	}
}

static __always_inline void np_count_flow(__u16 rev_nat_id, __u32 backend_id)
{
	__u32 key = rev_nat_id;
	struct capstan_svc_counters *sc = bpf_map_lookup_elem(&capstan_scnt_v2, &key);
	struct capstan_backend_counters *bc;

	if (sc)
		__sync_fetch_and_add(&sc->flows, 1);
	key = backend_id;
	bc = bpf_map_lookup_elem(&capstan_bcnt_v2, &key);
	if (bc)
		__sync_fetch_and_add(&bc->flows, 1);
}

static __always_inline void np_count_refused(__u16 rev_nat_id)
{
	__u32 key = rev_nat_id;
	struct capstan_svc_counters *sc = bpf_map_lookup_elem(&capstan_scnt_v2, &key);

	if (sc)
		__sync_fetch_and_add(&sc->refused, 1);
}

/* A new flow (drop == 0) or a refusal, when events are on. */
static __always_inline void np_emit(struct np_run *r, __u16 rev_nat_id, __u32 backend_id,
				    const struct capstan_backend *be, enum capstan_drop_reason drop)
{
	struct capstan_event *e;

	if (!(r->cfg.flags & CAPSTAN_CFG_EVENTS))
		return;
	e = bpf_ringbuf_reserve(&capstan_evt_v2, sizeof(*e), 0);
	if (!e) {
		count_drop(CAPSTAN_DROP_EVENT_LOST);
		return;
	}
	/* Reserved records are not zeroed: every byte is written. */
	e->ts_ns = r->now;
	e->cookie = 0;
	e->netns = 0;
	e->hook = r->hook;
	e->proto = r->p.t.proto;
	e->drop = drop;
	e->pad = 0;
	e->rev_nat_id = rev_nat_id;
	e->pad2 = 0;
	e->backend_id = be ? backend_id : 0;
	e->svc_addr = r->p.t.daddr;
	e->svc_port = r->p.t.dport;
	e->be_port = be ? be->port : 0;
	e->be_addr = be ? be->addr : 0;
	e->client_addr = r->p.t.saddr;
	e->client_port = r->p.t.sport;
	e->pad3 = 0;
	bpf_ringbuf_submit(e, 0);
}

/* ---------------------------------------------------------------- rewriting */

/* Packet offset of the L4 checksum, 0 when there is none to update. */
static __always_inline __u32 np_l4_csum_off(const struct np_pkt *p)
{
	if (!p->has_l4)
		return 0;
	if (p->t.proto == IPPROTO_TCP)
		return p->l4_off + 16;
	if (p->t.proto == IPPROTO_UDP)
		return p->l4_off + 6;
	return 0;
}

/* Replace the source (field 12) or destination (16) address. */
static __always_inline int np_set_addr(struct np_run *r, bool xdp, __u32 field, __be32 from,
				       __be32 to)
{
	__u32 csum_off = np_l4_csum_off(&r->p) & 0xff;
	bool udp = r->p.t.proto == IPPROTO_UDP;

	if (from == to)
		return 0;
	if (!xdp) {
		struct __sk_buff *skb = r->ctx;
		__u64 flags = BPF_F_PSEUDO_HDR | sizeof(to) | (udp ? BPF_F_MARK_MANGLED_0 : 0);

		if (csum_off && bpf_l4_csum_replace(skb, csum_off, from, to, flags))
			return np_drop(CAPSTAN_DROP_CSUM);
		if (bpf_l3_csum_replace(skb, NP_ETH_HLEN + 10, from, to, sizeof(to)))
			return np_drop(CAPSTAN_DROP_CSUM);
		if (bpf_skb_store_bytes(skb, NP_ETH_HLEN + field, &to, sizeof(to), 0))
			return np_drop(CAPSTAN_DROP_CSUM);
		return 0;
	} else {
		struct xdp_md *xctx = r->ctx;
		void *data = (void *)(long)xctx->data, *end = (void *)(long)xctx->data_end;
		struct iphdr *ip = data + NP_ETH_HLEN;
		__u16 *csum;

		if ((void *)(ip + 1) > end)
			return np_drop(CAPSTAN_DROP_MALFORMED);
		if (field == 12)
			ip->saddr = to;
		else
			ip->daddr = to;
		csum_replace4(&ip->check, from, to);
		if (!csum_off)
			return 0;
		csum = data + csum_off;
		if ((void *)(csum + 1) > end)
			return np_drop(CAPSTAN_DROP_MALFORMED);
		if (udp)
			csum_replace4_udp(csum, from, to);
		else
			csum_replace4(csum, from, to);
		return 0;
	}
}

/* Replace the source (field 0) or destination (2) port. */
static __always_inline int np_set_port(struct np_run *r, bool xdp, __u32 field, __be16 from,
				       __be16 to)
{
	__u32 csum_off = np_l4_csum_off(&r->p) & 0xff;
	__u32 off = (r->p.l4_off + field) & 0xff;
	bool udp = r->p.t.proto == IPPROTO_UDP;

	if (from == to || !csum_off)
		return 0;
	if (!xdp) {
		struct __sk_buff *skb = r->ctx;
		__u64 flags = sizeof(to) | (udp ? BPF_F_MARK_MANGLED_0 : 0);

		if (bpf_l4_csum_replace(skb, csum_off, from, to, flags))
			return np_drop(CAPSTAN_DROP_CSUM);
		if (bpf_skb_store_bytes(skb, off, &to, sizeof(to), 0))
			return np_drop(CAPSTAN_DROP_CSUM);
		return 0;
	} else {
		struct xdp_md *xctx = r->ctx;
		void *data = (void *)(long)xctx->data, *end = (void *)(long)xctx->data_end;
		__be16 *port = data + off;
		__u16 *csum = data + csum_off;

		if ((void *)(port + 1) > end || (void *)(csum + 1) > end)
			return np_drop(CAPSTAN_DROP_MALFORMED);
		*port = to;
		if (udp)
			csum_replace2_udp(csum, from, to);
		else
			csum_replace2(csum, from, to);
		return 0;
	}
}

/* Rewrite the packet's tuple from r->p.t to *to (fields that differ). */
static __always_inline int np_rewrite(struct np_run *r, bool xdp, const struct np_tuple *to)
{
	int ret;

	ret = np_set_addr(r, xdp, 12, r->p.t.saddr, to->saddr);
	if (ret < 0)
		return ret;
	ret = np_set_addr(r, xdp, 16, r->p.t.daddr, to->daddr);
	if (ret < 0)
		return ret;
	if (!r->p.has_l4)
		return 0;
	ret = np_set_port(r, xdp, 0, r->p.t.sport, to->sport);
	if (ret < 0)
		return ret;
	return np_set_port(r, xdp, 2, r->p.t.dport, to->dport);
}

/*
 * Forward a translated packet towards daddr (a remote backend, or a
 * client): FIB lookup as a router would, TTL decremented, MACs rewritten,
 * redirected. For tc an unresolved neighbour is left to bpf_redirect_neigh;
 * XDP checks the route first (np_route) and never gets here without one.
 */
static __always_inline int np_fib(struct np_run *r, bool xdp, __be32 saddr, __be32 daddr,
				  struct bpf_fib_lookup *fib)
{
	int ret;

	__builtin_memset(fib, 0, sizeof(*fib));
	/*
	 * XDP asks about the MTU too: a frame too big for the egress device
	 * goes on to tc (and the stack's answer) rather than being dropped by
	 * the device. tc does not: its skbs may be GRO aggregates, segmented
	 * again on the way out.
	 */
	if (xdp)
		fib->tot_len = (__u16)r->p.len;
	fib->family = NP_AF_INET;
	fib->l4_protocol = r->p.t.proto;
	fib->ifindex = r->ifindex;
	fib->ipv4_src = saddr;
	fib->ipv4_dst = daddr;
	ret = bpf_fib_lookup(r->ctx, fib, sizeof(*fib), 0);
	return ret;
}

static __always_inline int np_dec_ttl(struct np_run *r, bool xdp)
{
	if (r->p.ttl <= 1)
		return np_drop(CAPSTAN_DROP_FIB);
	if (!xdp) {
		struct __sk_buff *skb = r->ctx;
		__u16 old, new;
		__u8 ttl = r->p.ttl - 1;

		/* TTL and protocol share a checksum word. */
		if (bpf_skb_load_bytes(skb, NP_ETH_HLEN + 8, &old, sizeof(old)))
			return np_drop(CAPSTAN_DROP_MALFORMED);
		new = old;
		((__u8 *)&new)[0] = ttl;
		if (bpf_l3_csum_replace(skb, NP_ETH_HLEN + 10, old, new, sizeof(new)))
			return np_drop(CAPSTAN_DROP_CSUM);
		if (bpf_skb_store_bytes(skb, NP_ETH_HLEN + 8, &ttl, sizeof(ttl), 0))
			return np_drop(CAPSTAN_DROP_CSUM);
		return 0;
	} else {
		struct xdp_md *xctx = r->ctx;
		void *data = (void *)(long)xctx->data, *end = (void *)(long)xctx->data_end;
		struct iphdr *ip = data + NP_ETH_HLEN;
		__u16 old, new;

		if ((void *)(ip + 1) > end)
			return np_drop(CAPSTAN_DROP_MALFORMED);
		old = *(__u16 *)&ip->ttl;
		ip->ttl--;
		new = *(__u16 *)&ip->ttl;
		csum_replace2(&ip->check, old, new);
		return 0;
	}
}

static __always_inline int np_set_macs(struct np_run *r, bool xdp, const struct bpf_fib_lookup *fib)
{
	if (!xdp) {
		if (bpf_skb_store_bytes(r->ctx, 0, fib->dmac, 6, 0) ||
		    bpf_skb_store_bytes(r->ctx, 6, fib->smac, 6, 0))
			return np_drop(CAPSTAN_DROP_CSUM);
		return 0;
	} else {
		struct xdp_md *xctx = r->ctx;
		void *data = (void *)(long)xctx->data, *end = (void *)(long)xctx->data_end;
		struct ethhdr *eth = data;

		if ((void *)(eth + 1) > end)
			return np_drop(CAPSTAN_DROP_MALFORMED);
		__builtin_memcpy(eth->h_dest, fib->dmac, 6);
		__builtin_memcpy(eth->h_source, fib->smac, 6);
		return 0;
	}
}

/*
 * Send the already rewritten packet on towards fib's destination. Returns
 * NP_REDIRECTED (tc: the caller returns bpf_redirect's verdict, kept in
 * *verdict), NP_TX / NP_XDP_REDIRECT (XDP), or a drop.
 */
static __always_inline int np_forward(struct np_run *r, bool xdp, struct bpf_fib_lookup *fib,
				      int fib_ret, long *verdict)
{
	int ret = np_dec_ttl(r, xdp);

	if (ret < 0)
		return ret;
	if (!xdp && fib_ret == BPF_FIB_LKUP_RET_NO_NEIGH) {
		struct bpf_redir_neigh nh = { .nh_family = NP_AF_INET, .ipv4_nh = fib->ipv4_dst };

		*verdict = bpf_redirect_neigh(fib->ifindex, &nh, sizeof(nh), 0);
		return NP_REDIRECTED;
	}
	if (fib_ret != BPF_FIB_LKUP_RET_SUCCESS)
		return np_drop(CAPSTAN_DROP_FIB);
	ret = np_set_macs(r, xdp, fib);
	if (ret < 0)
		return ret;
	if (xdp) {
		if (fib->ifindex == r->ifindex)
			return NP_TX;
		*verdict = bpf_redirect(fib->ifindex, 0);
		return NP_XDP_REDIRECT;
	}
	*verdict = bpf_redirect(fib->ifindex, 0);
	return NP_REDIRECTED;
}

/* ---------------------------------------------------------------- conntrack */

static __always_inline bool np_ct_alive(const struct capstan_ct_entry *e, __u8 proto, __u64 now)
{
	__u64 life = CAPSTAN_CT_OTHER_LIFETIME;

	if (proto == IPPROTO_TCP)
		life = e->flags & CAPSTAN_CT_F_CLOSING	     ? CAPSTAN_CT_TCP_CLOSING_LIFETIME
		       : e->flags & CAPSTAN_CT_F_ESTABLISHED ? CAPSTAN_CT_TCP_LIFETIME
							     : CAPSTAN_CT_TCP_SYN_LIFETIME;
	/* Unsigned: an entry stamped in the future counts as expired. */
	return now - e->last_seen_ns < life * NP_NSEC_PER_SEC;
}

/* The TCP state bits a packet adds; from_backend: it travels backend -> client. */
static __always_inline __u8 np_ct_state(const struct np_pkt *p, bool from_backend)
{
	__u8 f = 0;

	if (p->t.proto != IPPROTO_TCP)
		return 0;
	if (from_backend)
		f |= CAPSTAN_CT_F_ESTABLISHED;
	if (p->tcp_flags & NP_TCP_FIN)
		f |= from_backend ? CAPSTAN_CT_F_FIN_BACKEND : CAPSTAN_CT_F_FIN_CLIENT;
	if (p->tcp_flags & NP_TCP_RST)
		f |= CAPSTAN_CT_F_CLOSING;
	return f;
}

/*
 * Refresh last_seen at most once a second, and add state bits. A plain
 * store (BPF has no 8-bit atomics): two CPUs adding different bits at once
 * may lose one, which the next packet of that direction adds again; a lost
 * bit only lengthens an entry's life.
 */
static __always_inline void np_ct_note(struct capstan_ct_entry *e, __u8 add, __u64 now)
{
	__u8 next = e->flags | add;

	if ((next & (CAPSTAN_CT_F_FIN_CLIENT | CAPSTAN_CT_F_FIN_BACKEND)) ==
	    (CAPSTAN_CT_F_FIN_CLIENT | CAPSTAN_CT_F_FIN_BACKEND))
		next |= CAPSTAN_CT_F_CLOSING;
	if (now - e->last_seen_ns > NP_NSEC_PER_SEC)
		e->last_seen_ns = now;
	if (next != e->flags)
		e->flags = next;
}

static __always_inline void np_ct_touch(struct capstan_ct_entry *e, const struct np_pkt *p,
					__u64 now, bool from_backend)
{
	np_ct_note(e, np_ct_state(p, from_backend), now);
}

static __always_inline void np_ct_key(struct capstan_ct_key *k, __be32 saddr, __be32 daddr,
				      __be16 sport, __be16 dport, __u8 proto, __u8 dir)
{
	k->saddr = saddr;
	k->daddr = daddr;
	k->sport = sport;
	k->dport = dport;
	k->proto = proto;
	k->dir = dir;
	k->pad[0] = 0;
	k->pad[1] = 0;
}

/* ---------------------------------------------------------------- backend choice */

/* A 5-tuple hash that every node computes alike (same program, same seed). */
static __always_inline __u32 np_flow_hash(const struct np_tuple *t, __u32 seed)
{
	__u64 h = seed ^ 0x9e3779b97f4a7c15ULL;

	h ^= ((__u64)t->saddr << 32) | t->daddr;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h ^= ((__u64)t->sport << 24) | ((__u64)t->dport << 8) | t->proto;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (__u32)h ^ (__u32)(h >> 32);
}

/* The backend Maglev (or, without a table yet, the slot hash) picks. */
static __always_inline int np_pick_hashed(struct np_run *r, struct capstan_svc_key *key,
					  __u16 rev_nat_id, __u16 count, __u32 *id)
{
	__u32 hash = np_flow_hash(&r->p.t, r->cfg.maglev_seed);
	__u32 outer = rev_nat_id;
	void *table = bpf_map_lookup_elem(&capstan_mgl_v1, &outer);
	struct capstan_svc_val *slot;

	if (table) {
		__u32 idx = hash % r->cfg.maglev_m;
		__u32 *entry = bpf_map_lookup_elem(table, &idx);

		if (entry && *entry) {
			*id = *entry;
			return 0;
		}
	}
	key->slot = (hash % count) + 1;
	slot = bpf_map_lookup_elem(&capstan_svc_v2, key);
	if (!slot)
		return np_drop(CAPSTAN_DROP_NO_SLOT);
	*id = slot->backend_id;
	return 0;
}

/*
 * sessionAffinity: ClientIP, keyed by the client address. The sticky
 * backend is reused while fresh and ACTIVE; otherwise the hashed choice is
 * remembered.
 */
static __always_inline int np_pick(struct np_run *r, struct capstan_svc_key *key,
				   const struct capstan_svc_val *svc, __u32 *id,
				   struct capstan_backend **be)
{
	struct capstan_affinity_key akey = {
		.client = CAPSTAN_AFF_CLIENT_ADDR | bpf_ntohl(r->p.t.saddr),
		.rev_nat_id = svc->rev_nat_id,
	};
	struct capstan_affinity_val *prev, next = {};
	bool affinity = svc->flags & CAPSTAN_SVC_F_AFFINITY;
	int ret;

	if (affinity) {
		prev = bpf_map_lookup_elem(&capstan_aff_v1, &akey);
		if (prev &&
		    r->now - prev->last_used_ns < (__u64)svc->affinity_timeout * NP_NSEC_PER_SEC) {
			__u32 cand = prev->backend_id;

			*be = bpf_map_lookup_elem(&capstan_be_v2, &cand);
			if (*be && (*be)->state == CAPSTAN_BE_ACTIVE) {
				prev->last_used_ns = r->now;
				*id = cand;
				return 0;
			}
		}
	}
	ret = np_pick_hashed(r, key, svc->rev_nat_id, svc->count, id);
	if (ret < 0)
		return ret;
	*be = bpf_map_lookup_elem(&capstan_be_v2, id);
	if (!*be)
		return np_drop(CAPSTAN_DROP_NO_BACKEND_ENTRY);
	if (affinity) {
		next.backend_id = *id;
		next.last_used_ns = r->now;
		bpf_map_update_elem(&capstan_aff_v1, &akey, &next, BPF_ANY);
	}
	return 0;
}

/*
 * A source port on node_ip towards be that no live flow uses: the client's
 * own port when it is in the SNAT range, else a hashed start, then a
 * bounded walk. The REPLY entry is claimed here (BPF_NOEXIST, or over a
 * dead entry), so two CPUs never hand out the same port.
 */
static __always_inline int np_snat_claim(struct np_run *r, const struct capstan_backend *be,
					 struct capstan_ct_entry *reply, __be16 *port)
{
	__u32 lo = r->cfg.snat_port_min, hi = r->cfg.snat_port_max, range, start, i;
	__u32 cport = bpf_ntohs(r->p.t.sport);
	struct capstan_ct_key key;

	if (lo == 0 || hi < lo)
		return np_drop(CAPSTAN_DROP_SNAT_EXHAUSTED);
	range = hi - lo + 1;
	start = cport >= lo && cport <= hi ? cport - lo
					   : np_flow_hash(&r->p.t, r->cfg.maglev_seed) % range;
	for (i = 0; i < NP_SNAT_TRIES; i++) {
		__u32 cand = lo + (start + i * 4099) % range;
		struct capstan_ct_entry *cur;

		np_ct_key(&key, be->addr, r->cfg.node_ip, be->port, bpf_htons(cand), r->p.t.proto,
			  CAPSTAN_CT_REPLY);
		reply->snat_port = bpf_htons(cand);
		cur = bpf_map_lookup_elem(&capstan_ct_v1, &key);
		if (cur) {
			if (np_ct_alive(cur, r->p.t.proto, r->now))
				continue;
			/*
			 * Dead: delete it and claim the key like a free one. An
			 * overwrite (BPF_EXIST) would let two CPUs that both saw
			 * it dead both succeed.
			 */
			bpf_map_delete_elem(&capstan_ct_v1, &key);
		}
		if (bpf_map_update_elem(&capstan_ct_v1, &key, reply, BPF_NOEXIST) == 0) {
			*port = bpf_htons(cand);
			return 0;
		}
	}
	return np_drop(CAPSTAN_DROP_SNAT_EXHAUSTED);
}

/*
 * Start a flow: REPLY entry first, then FORWARD. fwd comes back filled.
 */
static __always_inline int np_ct_create(struct np_run *r, __u16 rev_nat_id, __u32 backend_id,
					const struct capstan_backend *be, bool snat,
					struct capstan_ct_entry *fwd)
{
	struct capstan_ct_entry reply = {
		.last_seen_ns = r->now,
		.backend_id = backend_id,
		.rev_nat_id = rev_nat_id,
		.flags = snat ? CAPSTAN_CT_F_SNAT : 0,
		.client_addr = r->p.t.saddr,
		.client_port = r->p.t.sport,
	};
	struct capstan_ct_key key;
	__be16 port = 0;
	int ret;

	if (snat) {
		ret = np_snat_claim(r, be, &reply, &port);
		if (ret < 0)
			return ret;
	} else {
		np_ct_key(&key, be->addr, r->p.t.saddr, be->port, r->p.t.sport, r->p.t.proto,
			  CAPSTAN_CT_REPLY);
		if (bpf_map_update_elem(&capstan_ct_v1, &key, &reply, BPF_ANY))
			return np_drop(CAPSTAN_DROP_CT_FULL);
	}
	__builtin_memset(fwd, 0, sizeof(*fwd));
	fwd->last_seen_ns = r->now;
	fwd->backend_id = backend_id;
	fwd->rev_nat_id = rev_nat_id;
	fwd->flags = reply.flags;
	fwd->client_addr = r->p.t.saddr;
	fwd->client_port = r->p.t.sport;
	fwd->snat_port = port;
	np_ct_key(&key, r->p.t.saddr, r->p.t.daddr, r->p.t.sport, r->p.t.dport, r->p.t.proto,
		  CAPSTAN_CT_FORWARD);
	if (bpf_map_update_elem(&capstan_ct_v1, &key, fwd, BPF_ANY))
		return np_drop(CAPSTAN_DROP_CT_FULL);
	return 0;
}

/*
 * An existing flow's REPLY entry must still point back at it. Merges what
 * the REPLY entry learnt from the backend's packets into fwd. 0, or -1
 * when a SNAT flow lost its REPLY entry (evicted, expired, or its port
 * handed to another flow): the flow is gone and the packet starts a new
 * one with a port of its own, rather than two flows sharing one. Without
 * SNAT the key is the client's own tuple, which only this flow can have:
 * the entry is rewritten.
 *
 * Checked on every TCP SYN, FIN and RST (state changes must be seen at
 * once), and otherwise when fwd's last_seen is due for its once-a-second
 * refresh: a second lookup on every packet of a busy flow would cost a
 * fifth of the XDP path. So the backend's state reaches fwd within a
 * second, and a REPLY entry lost to LRU eviction (the map full) is noticed
 * within a second of the flow's packets.
 */
static __always_inline int np_ct_check_reply(struct np_run *r, struct capstan_ct_entry *fwd,
					     const struct capstan_backend *be)
{
	struct capstan_ct_entry reply = {
		.last_seen_ns = r->now,
		.backend_id = fwd->backend_id,
		.rev_nat_id = fwd->rev_nat_id,
		.flags = fwd->flags,
		.client_addr = r->p.t.saddr,
		.client_port = r->p.t.sport,
		.snat_port = fwd->snat_port,
	};
	struct capstan_ct_entry *cur;
	struct capstan_ct_key key;

	if (!(r->p.tcp_flags & (NP_TCP_SYN | NP_TCP_FIN | NP_TCP_RST)) &&
	    r->now - fwd->last_seen_ns <= NP_NSEC_PER_SEC)
		return 0;
	if (fwd->flags & CAPSTAN_CT_F_SNAT)
		np_ct_key(&key, be->addr, r->cfg.node_ip, be->port, fwd->snat_port, r->p.t.proto,
			  CAPSTAN_CT_REPLY);
	else
		np_ct_key(&key, be->addr, r->p.t.saddr, be->port, r->p.t.sport, r->p.t.proto,
			  CAPSTAN_CT_REPLY);
	cur = bpf_map_lookup_elem(&capstan_ct_v1, &key);
	if (cur && cur->rev_nat_id == fwd->rev_nat_id && cur->client_addr == reply.client_addr &&
	    cur->client_port == reply.client_port && np_ct_alive(cur, r->p.t.proto, r->now)) {
		np_ct_touch(cur, &r->p, r->now, false);
		np_ct_note(fwd, cur->flags & ~CAPSTAN_CT_F_SNAT, r->now);
		return 0;
	}
	if (fwd->flags & CAPSTAN_CT_F_SNAT)
		return -1;
	reply.flags = fwd->flags;
	bpf_map_update_elem(&capstan_ct_v1, &key, &reply, BPF_ANY);
	return 0;
}

/* ---------------------------------------------------------------- fragments */

/*
 * First fragment: remember its ports. Later ones: take them; -1 when the
 * first has not been seen (or was evicted).
 */
static __always_inline int np_frag_ports(struct np_run *r)
{
	struct capstan_frag_key key = {
		.saddr = r->p.t.saddr,
		.daddr = r->p.t.daddr,
		.id = r->p.ip_id,
		.proto = r->p.t.proto,
	};
	struct capstan_frag_val *val;

	if (!r->p.fragment)
		return 0;
	if (r->p.has_l4) {
		struct capstan_frag_val v = { .sport = r->p.t.sport, .dport = r->p.t.dport };

		bpf_map_update_elem(&capstan_frag_v1, &key, &v, BPF_ANY);
		return 0;
	}
	val = bpf_map_lookup_elem(&capstan_frag_v1, &key);
	if (!val)
		return -1;
	r->p.t.sport = val->sport;
	r->p.t.dport = val->dport;
	return 0;
}

/* ---------------------------------------------------------------- the paths */

/*
 * A client's packet to a frontend of the external view. NP_PASS when dst is
 * not one; else the packet is translated (NP_LOCAL, or forwarded), refused,
 * or (XDP) left to tc.
 */
static __always_inline int np_forward_path(struct np_run *r, bool xdp, long *verdict)
{
	struct capstan_svc_key key = {
		.addr = r->p.t.daddr,
		.port = r->p.t.dport,
		.proto = r->p.t.proto,
		.scope = CAPSTAN_SCOPE_EXTERNAL,
	};
	struct capstan_ct_entry *fwd, created;
	struct capstan_backend *be = NULL;
	struct capstan_svc_val *svc, svc0;
	struct bpf_fib_lookup fib;
	struct capstan_ct_key ckey;
	struct np_tuple to;
	bool snat;
	__u32 backend_id;
	int fib_ret = 0, ret;

	svc = bpf_map_lookup_elem(&capstan_svc_v2, &key);
	if (!svc)
		return NP_PASS;
	svc0 = *svc; /* the agent may replace slot 0 while we run */

	if (svc0.flags & CAPSTAN_SVC_F_SOURCE_RANGES) {
		struct capstan_src_range_key sk = {
			.prefixlen = 64,
			.rev_nat_id = bpf_htons(svc0.rev_nat_id),
			.addr = r->p.t.saddr,
		};

		if (!bpf_map_lookup_elem(&capstan_srcr_v1, &sk)) {
			np_emit(r, svc0.rev_nat_id, 0, NULL, CAPSTAN_DROP_SOURCE_RANGE);
			return np_drop(CAPSTAN_DROP_SOURCE_RANGE);
		}
	}

	np_ct_key(&ckey, r->p.t.saddr, r->p.t.daddr, r->p.t.sport, r->p.t.dport, r->p.t.proto,
		  CAPSTAN_CT_FORWARD);
	fwd = bpf_map_lookup_elem(&capstan_ct_v1, &ckey);
	if (fwd && np_ct_alive(fwd, r->p.t.proto, r->now)) {
		backend_id = fwd->backend_id;
		be = bpf_map_lookup_elem(&capstan_be_v2, &backend_id);
		/* The backend side's state first: a SYN on a closing flow starts a new one. */
		if (be && np_ct_check_reply(r, fwd, be) < 0)
			be = NULL;
		if (be && (r->p.tcp_flags & (NP_TCP_SYN | NP_TCP_ACK)) == NP_TCP_SYN &&
		    (fwd->flags & CAPSTAN_CT_F_CLOSING))
			be = NULL;
	}
	if (!be) {
		/* A new flow. */
		if (svc0.count == 0) {
			if (xdp)
				return NP_TO_TC;
			np_count_refused(svc0.rev_nat_id);
			np_emit(r, svc0.rev_nat_id, 0, NULL, CAPSTAN_DROP_NO_BACKEND);
			return np_drop(CAPSTAN_DROP_NO_BACKEND);
		}
		ret = np_pick(r, &key, &svc0, &backend_id, &be);
		if (ret < 0)
			return ret;
		snat = !(be->flags & CAPSTAN_BE_F_LOCAL);
		if (xdp && snat) {
			/* Only translate what XDP can send on. */
			fib_ret = np_fib(r, xdp, r->cfg.node_ip, be->addr, &fib);
			if (fib_ret != BPF_FIB_LKUP_RET_SUCCESS)
				return NP_TO_TC;
		}
		ret = np_ct_create(r, svc0.rev_nat_id, backend_id, be, snat, &created);
		if (ret < 0)
			return ret;
		fwd = &created;
		np_count_flow(svc0.rev_nat_id, backend_id);
		np_emit(r, svc0.rev_nat_id, backend_id, be, CAPSTAN_DROP_NONE);
	} else {
		snat = fwd->flags & CAPSTAN_CT_F_SNAT;
		if (xdp && snat) {
			fib_ret = np_fib(r, xdp, r->cfg.node_ip, be->addr, &fib);
			if (fib_ret != BPF_FIB_LKUP_RET_SUCCESS)
				return NP_TO_TC;
		}
		np_ct_touch(fwd, &r->p, r->now, false);
	}

	to.saddr = snat ? r->cfg.node_ip : r->p.t.saddr;
	to.sport = snat ? fwd->snat_port : r->p.t.sport;
	to.daddr = be->addr;
	to.dport = be->port;
	to.proto = r->p.t.proto;
	ret = np_rewrite(r, xdp, &to);
	if (ret < 0)
		return ret;
	np_count_packet(svc0.rev_nat_id, r->p.len);
	if (!snat)
		return NP_LOCAL;
	if (!xdp)
		fib_ret = np_fib(r, xdp, to.saddr, to.daddr, &fib);
	return np_forward(r, xdp, &fib, fib_ret, verdict);
}

/*
 * A remote backend's reply to node_ip:snat_port (ingress): restore the
 * frontend as source and the client as destination, forward to the client.
 */
static __always_inline int np_snat_reply_path(struct np_run *r, bool xdp, long *verdict)
{
	__u32 port = bpf_ntohs(r->p.t.dport);
	struct capstan_ct_entry *e;
	struct capstan_revnat *fe;
	struct bpf_fib_lookup fib;
	struct capstan_ct_key key;
	struct np_tuple to;
	__u32 rev;
	int fib_ret, ret;

	if (r->p.t.daddr != r->cfg.node_ip || port < r->cfg.snat_port_min ||
	    port > r->cfg.snat_port_max)
		return NP_PASS;
	np_ct_key(&key, r->p.t.saddr, r->p.t.daddr, r->p.t.sport, r->p.t.dport, r->p.t.proto,
		  CAPSTAN_CT_REPLY);
	e = bpf_map_lookup_elem(&capstan_ct_v1, &key);
	if (!e || !(e->flags & CAPSTAN_CT_F_SNAT) || !np_ct_alive(e, r->p.t.proto, r->now))
		return NP_PASS;
	rev = e->rev_nat_id;
	fe = bpf_map_lookup_elem(&capstan_rnat_v1, &rev);
	if (!fe)
		return NP_PASS;
	to.saddr = fe->addr;
	to.sport = fe->port;
	to.daddr = e->client_addr;
	to.dport = e->client_port;
	to.proto = r->p.t.proto;
	fib_ret = np_fib(r, xdp, to.saddr, to.daddr, &fib);
	if (xdp && fib_ret != BPF_FIB_LKUP_RET_SUCCESS)
		return NP_TO_TC;
	np_ct_touch(e, &r->p, r->now, true);
	ret = np_rewrite(r, xdp, &to);
	if (ret < 0)
		return ret;
	np_count_packet(e->rev_nat_id, r->p.len);
	return np_forward(r, xdp, &fib, fib_ret, verdict);
}

/* A local backend's reply leaving through the external interface (tc egress). */
static __always_inline int np_local_reply_path(struct np_run *r)
{
	struct capstan_ct_entry *e;
	struct capstan_revnat *fe;
	struct capstan_ct_key key;
	struct np_tuple to;
	__u32 rev;
	int ret;

	np_ct_key(&key, r->p.t.saddr, r->p.t.daddr, r->p.t.sport, r->p.t.dport, r->p.t.proto,
		  CAPSTAN_CT_REPLY);
	e = bpf_map_lookup_elem(&capstan_ct_v1, &key);
	if (!e || (e->flags & CAPSTAN_CT_F_SNAT) || !np_ct_alive(e, r->p.t.proto, r->now))
		return NP_PASS;
	rev = e->rev_nat_id;
	fe = bpf_map_lookup_elem(&capstan_rnat_v1, &rev);
	if (!fe)
		return NP_PASS;
	to = r->p.t;
	to.saddr = fe->addr;
	to.sport = fe->port;
	np_ct_touch(e, &r->p, r->now, true);
	ret = np_rewrite(r, false, &to);
	if (ret < 0)
		return ret;
	np_count_packet(e->rev_nat_id, r->p.len);
	return NP_LOCAL;
}

#endif
