/*
 * abi.h - every map key, value, flag, event and drop reason shared by the
 * BPF programs and user space (capstan-agent, `capstan lb`, the tests).
 *
 * Nothing about a map's layout is written anywhere else. Maps are pinned
 * under the agent's bpffs directory by name, and a pinned map outlives the
 * agent: a layout change therefore bumps the _vN suffix of the map's name,
 * so a new agent never reuses a pinned map of the old shape (the kernel
 * would refuse it with -EINVAL anyway).
 *
 * Byte order: addresses and ports are network byte order (as they sit in
 * sockaddr and packets); ids, counts, slots, times and flags are host order.
 * Every key is fully initialised, padding included: hash maps compare keys
 * as bytes.
 *
 * Services are IPv4 (the API server allocates from an IPv4 range). The v6
 * socket hooks translate IPv4-mapped addresses (::ffff:a.b.c.d) through the
 * same maps, so dual-stack sockets reach IPv4 services.
 */
#ifndef CAPSTAN_BPF_ABI_H
#define CAPSTAN_BPF_ABI_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Pinned map names (BPF object names are at most 15 characters). */
#define CAPSTAN_MAP_SVC "capstan_svc_v1"
#define CAPSTAN_MAP_BACKEND "capstan_be_v1"
#define CAPSTAN_MAP_REVNAT "capstan_rnat_v1"
#define CAPSTAN_MAP_VIP "capstan_vip_v1"
#define CAPSTAN_MAP_SOCK_REVNAT "capstan_skn_v1"
#define CAPSTAN_MAP_AFFINITY "capstan_aff_v1"
#define CAPSTAN_MAP_SVC_COUNTERS "capstan_scnt_v1"
#define CAPSTAN_MAP_BACKEND_COUNTERS "capstan_bcnt_v1"
#define CAPSTAN_MAP_DROPS "capstan_drop_v1"
#define CAPSTAN_MAP_CONFIG "capstan_cfg_v1"
#define CAPSTAN_MAP_EVENTS "capstan_evt_v1"

#define CAPSTAN_SVC_MAX 65536		/* service map entries (all slots) */
#define CAPSTAN_BACKEND_MAX 65536	/* backend ids are 1..CAPSTAN_BACKEND_MAX-1 */
#define CAPSTAN_REVNAT_MAX 65536	/* rev-NAT ids are 1..CAPSTAN_REVNAT_MAX-1 */
#define CAPSTAN_VIP_MAX 16384
#define CAPSTAN_SOCK_REVNAT_MAX 65536	/* LRU */
#define CAPSTAN_AFFINITY_MAX 65536	/* LRU */
#define CAPSTAN_MAX_BACKENDS_PER_SVC 4096
#define CAPSTAN_EVENTS_BYTES (1 << 20)	/* ring buffer size */

/*
 * Services map (hash). One service port (address, port, protocol) owns
 * count+1 entries: slot 0 describes the service, slots 1..count each name
 * one backend. A new connection picks a slot at random (or its affinity
 * backend). count == 0 means "no ready backend": connect() is refused.
 *
 * The agent changes a service port in an order that never exposes a
 * missing slot: backends first, then slots, then slot 0's count (growing);
 * or slot 0's count first, then the slots beyond it (shrinking).
 */
struct capstan_svc_key {
	__be32 addr;	/* service IPv4 address, network byte order */
	__be16 port;	/* service port, network byte order */
	__u16 slot;	/* 0 = the service entry, 1..count = backend slots */
	__u8 proto;	/* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
	__u8 scope;	/* reserved for external/internal views; 0 */
	__u8 pad[2];	/* zero */
};

struct capstan_svc_val {
	__u32 backend_id;	/* slot > 0: backend in this slot; slot 0: 0 */
	__u16 count;		/* slot 0: backend slots in use (0 = no ready backend) */
	__u16 rev_nat_id;	/* slot 0: service port id (rev-NAT map, counters) */
	__u32 flags;		/* slot 0: CAPSTAN_SVC_F_* */
	__u32 affinity_timeout;	/* slot 0: seconds, with CAPSTAN_SVC_F_AFFINITY */
};

/* Service flags (slot 0). */
#define CAPSTAN_SVC_F_AFFINITY (1u << 0)	/* sessionAffinity: ClientIP */
#define CAPSTAN_SVC_F_LOCAL_INTERNAL (1u << 1)	/* internalTrafficPolicy: Local (slots hold
						 * local backends only) */
#define CAPSTAN_SVC_F_NODEPORT (1u << 2)	/* the ClusterIP part of a NodePort or
						 * LoadBalancer service (informational) */

/* Backends map (hash): backend id (__u32, host order) -> address. */
struct capstan_backend {
	__be32 addr;	/* backend IPv4 address, network byte order */
	__be16 port;	/* backend port, network byte order */
	__u8 proto;	/* IPPROTO_TCP or IPPROTO_UDP */
	__u8 state;	/* CAPSTAN_BE_* */
};

enum capstan_backend_state {
	CAPSTAN_BE_ACTIVE = 0,
	CAPSTAN_BE_TERMINATING = 1,	/* in no slot: kept for existing flows; an affinity
					 * entry naming it is not followed */
};

/*
 * Rev-NAT map (hash): rev_nat_id (__u16 widened to __u32, host order) ->
 * the service address, so replies and getpeername() show the service, not
 * the backend.
 */
struct capstan_revnat {
	__be32 addr;	/* service IPv4 address */
	__be16 port;	/* service port */
	__u8 proto;
	__u8 pad;
};

/*
 * VIP map (hash): every service address (__be32) -> CAPSTAN_VIP_* flags.
 * A connection to a known service address on a port that is not one of its
 * service ports is refused (CAPSTAN_DROP_PORT_NOT_SERVED) rather than sent
 * untranslated to an address nobody owns.
 */
#define CAPSTAN_VIP_F_CLUSTER_IP (1u << 0)

/*
 * Socket rev-NAT (LRU hash): what a socket's translated destination was.
 * Written by connect and unconnected sendmsg, read by recvmsg (UDP replies
 * appear to come from the service) and getpeername.
 */
struct capstan_sock_revnat_key {
	__u64 cookie;	/* bpf_get_socket_cookie() of the socket */
	__be32 addr;	/* backend address the socket talks to */
	__be16 port;	/* backend port */
	__u16 pad;	/* zero */
};

struct capstan_sock_revnat_val {
	__be32 addr;		/* service address */
	__be16 port;		/* service port */
	__u16 rev_nat_id;
};

/*
 * Affinity (LRU hash) for sessionAffinity: ClientIP. At the socket layer the
 * client is identified by its network namespace (one per pod, one for the
 * host), which is what ClientIP means for a pod.
 */
struct capstan_affinity_key {
	__u64 client;		/* bpf_get_netns_cookie() of the connecting socket */
	__u32 rev_nat_id;	/* the service port */
	__u32 pad;		/* zero */
};

/*
 * An entry names a backend id only, so the agent must not hand a freed id to
 * another backend while an entry may still name it: ids are allocated
 * round-robin over the whole id space, never "lowest free first".
 */
struct capstan_affinity_val {
	__u32 backend_id;
	__u32 pad;
	__u64 last_used_ns;	/* bpf_ktime_get_ns() of the last connection */
};

/* Per-CPU counters per service port, indexed by rev_nat_id. */
struct capstan_svc_counters {
	__u64 connects;		/* connect() translated (TCP and connected UDP) */
	__u64 udp_msgs;		/* unconnected UDP datagrams translated (sendmsg) */
	__u64 refused;		/* refused because no backend was ready */
};

/* Per-CPU counters per backend, indexed by backend id. */
struct capstan_backend_counters {
	__u64 connects;		/* connections sent to this backend */
	__u64 udp_msgs;		/* unconnected datagrams sent to this backend */
};

/*
 * Why a program refused something. Index of the per-CPU drop counter array;
 * the negative value is what datapath helpers return.
 */
enum capstan_drop_reason {
	CAPSTAN_DROP_NONE = 0,
	CAPSTAN_DROP_NO_BACKEND,	/* service has no ready backend */
	CAPSTAN_DROP_NO_SLOT,		/* a slot 1..count is missing (never expected) */
	CAPSTAN_DROP_NO_BACKEND_ENTRY,	/* a slot names a backend id not in the map */
	CAPSTAN_DROP_PORT_NOT_SERVED,	/* service address, but not a service port */
	CAPSTAN_DROP_EVENT_LOST,	/* a trace event found the ring buffer full (the
					 * connection itself went through) */
	CAPSTAN_DROP__MAX,
};

/* Names for tools, indexed by enum capstan_drop_reason. */
#define CAPSTAN_DROP_NAMES                                                                 \
	{ "none", "no_backend", "no_slot", "no_backend_entry", "port_not_served",          \
	  "event_lost" }

/* Runtime configuration: the single entry (key 0) of the config array map. */
struct capstan_config {
	__u32 flags;		/* CAPSTAN_CFG_* */
	__u32 pad;
};

#define CAPSTAN_CFG_EVENTS (1u << 0)	/* emit a capstan_event per translation/refusal */

/* Where an event came from. */
enum capstan_hook {
	CAPSTAN_HOOK_CONNECT4 = 1,
	CAPSTAN_HOOK_SENDMSG4,
	CAPSTAN_HOOK_RECVMSG4,
	CAPSTAN_HOOK_GETPEERNAME4,
	CAPSTAN_HOOK_CONNECT6,
	CAPSTAN_HOOK_SENDMSG6,
	CAPSTAN_HOOK_RECVMSG6,
	CAPSTAN_HOOK_GETPEERNAME6,
};

/* One ring buffer record (CAPSTAN_CFG_EVENTS on). */
struct capstan_event {
	__u64 ts_ns;		/* bpf_ktime_get_ns() */
	__u64 cookie;		/* socket cookie */
	__u64 netns;		/* netns cookie of the socket */
	__u8 hook;		/* enum capstan_hook */
	__u8 proto;
	__u8 drop;		/* enum capstan_drop_reason; 0 = translated */
	__u8 pad;
	__u16 rev_nat_id;
	__u16 pad2;
	__u32 backend_id;	/* 0 when refused */
	__be32 svc_addr;	/* destination as the application asked */
	__be16 svc_port;
	__be16 be_port;		/* translated destination (0 when refused) */
	__be32 be_addr;
};

#endif
