/*
 * lb.h - service lookup, backend choice, reverse translation, accounting and
 * trace events of the socket-level load balancer (BPF side only), shared by
 * the v4 and v6 hooks of sock_lb.bpf.c.
 *
 * The hooks differ only in where the address sits in their context (user_ip4,
 * or the last word of an IPv4-mapped user_ip6) and in what a refusal becomes
 * (ECONNREFUSED for connect and sendmsg), so everything here works on a
 * struct lb_flow: the destination the application named and the backend it
 * was translated to. Helpers return LB_PASS (not a service: leave the socket
 * alone), LB_XLATED (the flow holds the translation) or a negative enum
 * capstan_drop_reason that has already been counted and traced; the caller
 * only turns it into an errno.
 *
 * The backend is drawn uniformly at random from slots 1..count, which the
 * agent fills with ready backends only. A consistent hash (Maglev) was
 * rejected for this path: the choice is made once per connection on the
 * client's own node, nothing has to agree with another node, and a random
 * draw needs no per-service table. With sessionAffinity the client is the
 * socket's network namespace (one per pod) and its last backend is
 * remembered per service port in an LRU; it is reused only while it is
 * younger than the service's timeout, still in the backends map and ACTIVE,
 * so a terminating pod gets no new connections through an old entry.
 *
 * Every forward translation records {socket cookie, backend} -> service in
 * the socket rev-NAT LRU, which recvmsg (UDP replies) and getpeername read to
 * show the service address instead of the backend.
 *
 * Anything missing that the agent promised to write (a slot within count, the
 * backend a slot names) refuses the connection and counts why: a service
 * address is never sent untranslated.
 */
#ifndef CAPSTAN_BPF_LB_H
#define CAPSTAN_BPF_LB_H

#include <bpf/bpf_helpers.h>

#include "abi.h"
#include "maps.h"

#define LB_PASS 0
#define LB_XLATED 1

#define LB_NSEC_PER_SEC 1000000000ULL

/* One translation, in the byte orders of abi.h. */
struct lb_flow {
	__be32 svc_addr;  /* the service address the application named */
	__be16 svc_port;  /* the service port */
	__u8 proto;	  /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 hook;	  /* enum capstan_hook, for events */
	__u16 rev_nat_id; /* 0 until a service port matched */
	__u32 backend_id; /* 0 until chosen; 0 on reverse translation */
	__be32 be_addr;	  /* the backend address */
	__be16 be_port;	  /* the backend port */
};

static __always_inline bool lb_events_enabled(void)
{
	__u32 key = 0;
	struct capstan_config *cfg = bpf_map_lookup_elem(&capstan_cfg_v2, &key);

	return cfg && (cfg->flags & CAPSTAN_CFG_EVENTS);
}

/*
 * Trace one translation (drop == CAPSTAN_DROP_NONE) or refusal when events
 * are on. A full ring buffer loses the event, never the connection.
 */
static __always_inline void lb_emit(void *ctx, const struct lb_flow *f,
				    enum capstan_drop_reason drop)
{
	struct capstan_event *e;
	bool refused = drop != CAPSTAN_DROP_NONE;

	if (!lb_events_enabled())
		return;
	e = bpf_ringbuf_reserve(&capstan_evt_v2, sizeof(*e), 0);
	if (!e) {
		count_drop(CAPSTAN_DROP_EVENT_LOST);
		return;
	}
	/* A reserved record is not zeroed: write every byte, padding included,
	 * or stale ring buffer contents reach user space. */
	e->ts_ns = bpf_ktime_get_ns();
	e->cookie = bpf_get_socket_cookie(ctx);
	e->netns = bpf_get_netns_cookie(ctx);
	e->hook = f->hook;
	e->proto = f->proto;
	e->drop = drop;
	e->pad = 0;
	e->rev_nat_id = f->rev_nat_id;
	e->pad2 = 0;
	e->backend_id = refused ? 0 : f->backend_id;
	e->svc_addr = f->svc_addr;
	e->svc_port = f->svc_port;
	e->be_port = refused ? 0 : f->be_port;
	e->be_addr = refused ? 0 : f->be_addr;
	e->client_addr = 0;
	e->client_port = 0;
	e->pad3 = 0;
	bpf_ringbuf_submit(e, 0);
}

/* Count, trace and return a refusal. */
static __always_inline int lb_refuse(void *ctx, const struct lb_flow *f,
				     enum capstan_drop_reason reason)
{
	count_drop(reason);
	lb_emit(ctx, f, reason);
	return -(int)reason;
}

/*
 * Per-service and per-backend accounting. A counter index beyond the arrays
 * (an id the agent should never hand out) is skipped, not an error.
 */
static __always_inline void lb_count(const struct lb_flow *f, bool per_msg)
{
	__u32 key = f->rev_nat_id;
	struct capstan_svc_counters *sc = bpf_map_lookup_elem(&capstan_scnt_v2, &key);
	struct capstan_backend_counters *bc;

	if (sc)
		__sync_fetch_and_add(per_msg ? &sc->udp_msgs : &sc->connects, 1);
	key = f->backend_id;
	bc = bpf_map_lookup_elem(&capstan_bcnt_v2, &key);
	if (bc)
		__sync_fetch_and_add(per_msg ? &bc->udp_msgs : &bc->connects, 1);
}

static __always_inline void lb_count_refused(__u16 rev_nat_id)
{
	__u32 key = rev_nat_id;
	struct capstan_svc_counters *sc = bpf_map_lookup_elem(&capstan_scnt_v2, &key);

	if (sc)
		__sync_fetch_and_add(&sc->refused, 1);
}

/*
 * Draw a slot of 1..count and resolve its backend into f and *be. Returns 0
 * or the negative drop reason of the missing entry.
 */
static __always_inline int lb4_pick_slot(struct capstan_svc_key *key, __u16 count,
					 struct lb_flow *f, struct capstan_backend **be)
{
	struct capstan_svc_val *slot;
	__u32 id;

	key->slot = (bpf_get_prandom_u32() % count) + 1;
	slot = bpf_map_lookup_elem(&capstan_svc_v2, key);
	if (!slot)
		return -CAPSTAN_DROP_NO_SLOT;
	id = slot->backend_id;
	*be = bpf_map_lookup_elem(&capstan_be_v2, &id);
	if (!*be)
		return -CAPSTAN_DROP_NO_BACKEND_ENTRY;
	f->backend_id = id;
	return 0;
}

static __always_inline bool lb_backend_is_active(const struct capstan_backend *be)
{
	return be->state == CAPSTAN_BE_ACTIVE;
}

/*
 * sessionAffinity: ClientIP. Reuse the namespace's backend while fresh and
 * active, else draw a slot and remember it. Two first connections racing
 * from one namespace may draw different backends; the later write wins and
 * every connection after it sticks to that one.
 */
static __always_inline int lb4_pick_affinity(void *ctx, struct capstan_svc_key *key, __u16 count,
					     __u32 timeout_s, struct lb_flow *f,
					     struct capstan_backend **be)
{
	struct capstan_affinity_key akey = {
		.client = bpf_get_netns_cookie(ctx),
		.rev_nat_id = f->rev_nat_id,
	};
	struct capstan_affinity_val *prev, next = {};
	__u64 now = bpf_ktime_get_ns();
	int ret;

	prev = bpf_map_lookup_elem(&capstan_aff_v1, &akey);
	/* Unsigned age: an entry stamped in the future counts as expired. */
	if (prev && now - prev->last_used_ns < (__u64)timeout_s * LB_NSEC_PER_SEC) {
		__u32 id = prev->backend_id;
		struct capstan_backend *cand = bpf_map_lookup_elem(&capstan_be_v2, &id);

		if (cand && lb_backend_is_active(cand)) {
			prev->last_used_ns = now;
			f->backend_id = id;
			*be = cand;
			return 0;
		}
	}
	ret = lb4_pick_slot(key, count, f, be);
	if (ret < 0)
		return ret;
	next.backend_id = f->backend_id;
	next.last_used_ns = now;
	/* An LRU update evicts rather than fails for room; should it fail
	 * anyway the connection still goes to a good backend, it only loses
	 * its stickiness. */
	bpf_map_update_elem(&capstan_aff_v1, &akey, &next, BPF_ANY);
	return 0;
}

/*
 * Remember what this socket's backend stands for. Unconnected UDP calls this
 * per datagram: an unchanged entry is not rewritten, which would cost an LRU
 * update (and its lock) every time. A socket talking to two services that
 * share one backend address and port keeps the last one (replies cannot say
 * which service they answer).
 */
static __always_inline void lb_sock_revnat_store(void *ctx, const struct lb_flow *f)
{
	struct capstan_sock_revnat_key key = {
		.cookie = bpf_get_socket_cookie(ctx),
		.addr = f->be_addr,
		.port = f->be_port,
	};
	struct capstan_sock_revnat_val val = {
		.addr = f->svc_addr,
		.port = f->svc_port,
		.rev_nat_id = f->rev_nat_id,
	};
	struct capstan_sock_revnat_val *cur = bpf_map_lookup_elem(&capstan_skn_v1, &key);

	if (cur && cur->addr == val.addr && cur->port == val.port &&
	    cur->rev_nat_id == val.rev_nat_id)
		return;
	/* Without the entry the connection still works; only recvmsg and
	 * getpeername would show the backend. An LRU update practically
	 * never fails, and there is no better answer than to go on. */
	bpf_map_update_elem(&capstan_skn_v1, &key, &val, BPF_ANY);
}

/*
 * A service address that is not a ClusterIP (an external IP may be a real
 * host elsewhere) is not ours to refuse on ports we do not serve.
 */
static __always_inline bool lb4_is_cluster_ip(__be32 addr)
{
	__u32 *flags = bpf_map_lookup_elem(&capstan_vip_v2, &addr);

	return flags && (*flags & CAPSTAN_VIP_F_CLUSTER_IP);
}

/*
 * Translate f's service address to a backend (connect, sendmsg). per_msg
 * counts an unconnected datagram instead of a connection. Returns LB_PASS,
 * LB_XLATED (f->be_* set) or a negative drop reason, already counted.
 */
static __always_inline int lb4_xlate_fwd(void *ctx, struct lb_flow *f, bool per_msg)
{
	struct capstan_svc_key key = {
		.addr = f->svc_addr,
		.port = f->svc_port,
		.proto = f->proto,
	};
	struct capstan_svc_val *svc;
	struct capstan_backend *be = NULL;
	__u32 flags, timeout_s;
	__u16 count;
	int ret;

	svc = bpf_map_lookup_elem(&capstan_svc_v2, &key);
	if (!svc) {
		if (lb4_is_cluster_ip(f->svc_addr))
			return lb_refuse(ctx, f, CAPSTAN_DROP_PORT_NOT_SERVED);
		return LB_PASS;
	}
	/* Read slot 0 once: the agent may replace it while we run. */
	f->rev_nat_id = svc->rev_nat_id;
	count = svc->count;
	flags = svc->flags;
	timeout_s = svc->affinity_timeout;
	if (count == 0) {
		lb_count_refused(f->rev_nat_id);
		return lb_refuse(ctx, f, CAPSTAN_DROP_NO_BACKEND);
	}

	if (flags & CAPSTAN_SVC_F_AFFINITY)
		ret = lb4_pick_affinity(ctx, &key, count, timeout_s, f, &be);
	else
		ret = lb4_pick_slot(&key, count, f, &be);
	if (ret < 0)
		return lb_refuse(ctx, f, -ret);

	f->be_addr = be->addr;
	f->be_port = be->port;
	lb_sock_revnat_store(ctx, f);
	lb_count(f, per_msg);
	lb_emit(ctx, f, CAPSTAN_DROP_NONE);
	return LB_XLATED;
}

/*
 * Map a backend address seen by this socket (a datagram's source, a
 * connected peer) back to the service it stands for (recvmsg, getpeername).
 * Returns LB_PASS or LB_XLATED (f->svc_* set).
 */
static __always_inline int lb4_xlate_rev(void *ctx, struct lb_flow *f)
{
	struct capstan_sock_revnat_key key = {
		.cookie = bpf_get_socket_cookie(ctx),
		.addr = f->be_addr,
		.port = f->be_port,
	};
	struct capstan_sock_revnat_val *val = bpf_map_lookup_elem(&capstan_skn_v1, &key);

	if (!val)
		return LB_PASS;
	f->svc_addr = val->addr;
	f->svc_port = val->port;
	f->rev_nat_id = val->rev_nat_id;
	lb_emit(ctx, f, CAPSTAN_DROP_NONE);
	return LB_XLATED;
}

#endif
