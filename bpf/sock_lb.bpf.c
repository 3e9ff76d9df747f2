// SPDX-License-Identifier: GPL-2.0
/*
 * sock_lb.bpf.c - ClusterIP load balancing at the socket layer.
 *
 * A connect() to a service address is rewritten, inside the kernel's
 * connect path, to the address of one backend. The connection is then made
 * straight to the backend: no packet is ever translated, so the datapath
 * costs nothing per packet. The hooks are attached to a cgroup v2 directory
 * and apply to every process below it, whatever network namespace the
 * process is in (a pod's netns included).
 *
 * A service whose slot 0 says count == 0 has no ready backend: connect()
 * fails at once with ECONNREFUSED (bpf_set_retval), as kube-proxy's reject
 * rule does, instead of hanging on an address nobody answers.
 *
 * The backend is picked uniformly at random among the slots, which the agent
 * fills with ready, non-terminating backends only.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "abi.h"
#include "maps.h"

#define SYS_REJECT 0
#define SYS_PROCEED 1

#ifndef ECONNREFUSED
#define ECONNREFUSED 111
#endif

/* Per-service and per-backend accounting; a missing slot is not an error. */
static __always_inline void count_connect(__u16 rev_nat_id, __u32 backend_id)
{
	__u32 key = rev_nat_id;
	struct capstan_svc_counters *sc = bpf_map_lookup_elem(&capstan_scnt_v1, &key);
	struct capstan_backend_counters *bc;

	if (sc)
		sc->connects++;
	key = backend_id;
	bc = bpf_map_lookup_elem(&capstan_bcnt_v1, &key);
	if (bc)
		bc->connects++;
}

static __always_inline void count_refused(__u16 rev_nat_id)
{
	__u32 key = rev_nat_id;
	struct capstan_svc_counters *sc = bpf_map_lookup_elem(&capstan_scnt_v1, &key);

	if (sc)
		sc->refused++;
}

/*
 * Translate ctx's destination if it is a service. Returns 0 when the
 * connection may proceed (translated or not a service) or a negative drop
 * reason when it must be refused.
 */
static __always_inline int lb4_xlate(struct bpf_sock_addr *ctx, __u8 proto)
{
	struct capstan_svc_key key = {
		.addr = ctx->user_ip4,
		.port = (__be16)ctx->user_port,
		.proto = proto,
	};
	struct capstan_svc_val *svc, *slot;
	struct capstan_backend *be;
	__u32 backend_id;
	__u16 rev_nat_id;

	svc = bpf_map_lookup_elem(&capstan_svc_v1, &key);
	if (!svc)
		return 0;
	rev_nat_id = svc->rev_nat_id;
	if (svc->count == 0) {
		count_refused(rev_nat_id);
		return -CAPSTAN_DROP_NO_BACKEND;
	}

	key.slot = (bpf_get_prandom_u32() % svc->count) + 1;
	slot = bpf_map_lookup_elem(&capstan_svc_v1, &key);
	if (!slot)
		return -CAPSTAN_DROP_NO_SLOT;
	backend_id = slot->backend_id;
	be = bpf_map_lookup_elem(&capstan_be_v1, &backend_id);
	if (!be)
		return -CAPSTAN_DROP_NO_BACKEND_ENTRY;

	ctx->user_ip4 = be->addr;
	ctx->user_port = (__u32)be->port;
	count_connect(rev_nat_id, backend_id);
	return 0;
}

static __always_inline __u8 sock_proto(struct bpf_sock_addr *ctx)
{
	return ctx->type == SOCK_DGRAM ? IPPROTO_UDP : IPPROTO_TCP;
}

SEC("cgroup/connect4")
int capstan_connect4(struct bpf_sock_addr *ctx)
{
	int ret = lb4_xlate(ctx, sock_proto(ctx));

	if (ret < 0) {
		count_drop(-ret);
		/* Fail closed: a service that cannot be translated is refused,
		 * never sent to its virtual address. */
		bpf_set_retval(-ECONNREFUSED);
		return SYS_REJECT;
	}
	return SYS_PROCEED;
}

char LICENSE[] SEC("license") = "GPL";
