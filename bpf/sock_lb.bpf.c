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
 *   connect4/6      TCP and connected UDP: translate once per connection
 *   sendmsg4/6      unconnected UDP: translate every datagram
 *   recvmsg4/6      UDP replies: show the service as the source
 *   getpeername4/6  connected sockets: show the service as the peer
 *
 * The v6 hooks handle IPv4-mapped addresses (::ffff:a.b.c.d) of dual-stack
 * sockets with the same v4 logic (lb.h); any other IPv6 address passes
 * untouched, since services are IPv4.
 *
 * A service whose slot 0 says count == 0 has no ready backend, and a service
 * address on a port that is not a service port serves nothing: connect() and
 * sendmsg() fail at once with ECONNREFUSED (bpf_set_retval), as kube-proxy's
 * reject rules do, instead of hanging on an address nobody answers. Only TCP
 * and UDP are translated: other protocols (ICMP ping sockets, SCTP) pass and
 * meet the node's unreachable route for the service range.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "abi.h"
#include "maps.h"
#include "lb.h"

#define SYS_REJECT 0
#define SYS_PROCEED 1

#ifndef ECONNREFUSED
#define ECONNREFUSED 111
#endif

/* 0 for a protocol the services map cannot hold. ctx->protocol, not
 * ctx->type: a SOCK_DGRAM socket may be an ICMP ping socket. */
static __always_inline __u8 sock_proto(struct bpf_sock_addr *ctx)
{
	__u32 proto = ctx->protocol;

	return proto == IPPROTO_TCP || proto == IPPROTO_UDP ? proto : 0;
}

static __always_inline bool sock6_is_v4mapped(struct bpf_sock_addr *ctx)
{
	return ctx->user_ip6[0] == 0 && ctx->user_ip6[1] == 0 &&
	       ctx->user_ip6[2] == bpf_htonl(0xffff);
}

/*
 * The IPv4 address and port in ctx's user_* fields; false for an IPv6
 * address that is not IPv4-mapped. v6 is a constant at every call site, so
 * each program keeps only its own family's context accesses (the verifier
 * rejects user_ip4 in a v6 program and user_ip6 in a v4 one).
 */
static __always_inline bool sock_addr_load(struct bpf_sock_addr *ctx, bool v6, __be32 *addr,
					   __be16 *port)
{
	if (v6) {
		if (!sock6_is_v4mapped(ctx))
			return false;
		*addr = ctx->user_ip6[3];
	} else {
		*addr = ctx->user_ip4;
	}
	/* user_port holds the network-order port in its low 16 bits. */
	*port = (__be16)ctx->user_port;
	return true;
}

/* Write an IPv4 address back; a v6 address stays mapped (words 0..2 kept). */
static __always_inline void sock_addr_store(struct bpf_sock_addr *ctx, bool v6, __be32 addr,
					    __be16 port)
{
	if (v6)
		ctx->user_ip6[3] = addr;
	else
		ctx->user_ip4 = addr;
	ctx->user_port = (__u32)port;
}

/* connect and sendmsg: service -> backend, or refuse. */
static __always_inline int sock_xlate_fwd(struct bpf_sock_addr *ctx, bool v6, __u8 hook,
					  bool per_msg)
{
	struct lb_flow f = { .hook = hook, .proto = sock_proto(ctx) };
	int ret;

	if (!f.proto || !sock_addr_load(ctx, v6, &f.svc_addr, &f.svc_port))
		return SYS_PROCEED;
	ret = lb4_xlate_fwd(ctx, &f, per_msg);
	if (ret < 0) {
		/* Return 0 alone would fail the call with EPERM. */
		bpf_set_retval(-ECONNREFUSED);
		return SYS_REJECT;
	}
	if (ret == LB_XLATED)
		sock_addr_store(ctx, v6, f.be_addr, f.be_port);
	return SYS_PROCEED;
}

/* recvmsg and getpeername: backend -> service. These hooks must return 1
 * (the verifier enforces it): they can rewrite, never refuse. */
static __always_inline int sock_xlate_rev(struct bpf_sock_addr *ctx, bool v6, __u8 hook)
{
	struct lb_flow f = { .hook = hook, .proto = sock_proto(ctx) };

	if (!f.proto || !sock_addr_load(ctx, v6, &f.be_addr, &f.be_port))
		return SYS_PROCEED;
	if (lb4_xlate_rev(ctx, &f) == LB_XLATED)
		sock_addr_store(ctx, v6, f.svc_addr, f.svc_port);
	return SYS_PROCEED;
}

SEC("cgroup/connect4")
int capstan_connect4(struct bpf_sock_addr *ctx)
{
	return sock_xlate_fwd(ctx, false, CAPSTAN_HOOK_CONNECT4, false);
}

SEC("cgroup/sendmsg4")
int capstan_sendmsg4(struct bpf_sock_addr *ctx)
{
	return sock_xlate_fwd(ctx, false, CAPSTAN_HOOK_SENDMSG4, true);
}

SEC("cgroup/recvmsg4")
int capstan_recvmsg4(struct bpf_sock_addr *ctx)
{
	return sock_xlate_rev(ctx, false, CAPSTAN_HOOK_RECVMSG4);
}

SEC("cgroup/getpeername4")
int capstan_getpeername4(struct bpf_sock_addr *ctx)
{
	return sock_xlate_rev(ctx, false, CAPSTAN_HOOK_GETPEERNAME4);
}

SEC("cgroup/connect6")
int capstan_connect6(struct bpf_sock_addr *ctx)
{
	return sock_xlate_fwd(ctx, true, CAPSTAN_HOOK_CONNECT6, false);
}

/*
 * Kernel quirk: udpv6_sendmsg() hands a datagram to an IPv4-mapped address
 * over to udp_sendmsg(), which runs sendmsg4 (with an AF_INET address), so
 * this hook rarely sees a mapped address; it handles one all the same.
 */
SEC("cgroup/sendmsg6")
int capstan_sendmsg6(struct bpf_sock_addr *ctx)
{
	return sock_xlate_fwd(ctx, true, CAPSTAN_HOOK_SENDMSG6, true);
}

SEC("cgroup/recvmsg6")
int capstan_recvmsg6(struct bpf_sock_addr *ctx)
{
	return sock_xlate_rev(ctx, true, CAPSTAN_HOOK_RECVMSG6);
}

SEC("cgroup/getpeername6")
int capstan_getpeername6(struct bpf_sock_addr *ctx)
{
	return sock_xlate_rev(ctx, true, CAPSTAN_HOOK_GETPEERNAME6);
}

char LICENSE[] SEC("license") = "GPL";
