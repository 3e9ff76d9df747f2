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
 *
 * Two datapaths read these maps. East-west, the socket hooks (sock_lb.bpf.c)
 * translate connections made by processes on the node; they read the
 * services map's internal view (scope 0). North-south, the tc and XDP
 * programs on the node's external interfaces (nodeport.bpf.c) translate
 * packets from clients elsewhere; they read the external view (scope 1),
 * choose backends by Maglev and keep per-flow state in a conntrack map.
 */
#ifndef CAPSTAN_BPF_ABI_H
#define CAPSTAN_BPF_ABI_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Pinned map names (BPF object names are at most 15 characters). */
#define CAPSTAN_MAP_SVC "capstan_svc_v2"
#define CAPSTAN_MAP_BACKEND "capstan_be_v2"
#define CAPSTAN_MAP_REVNAT "capstan_rnat_v1"
#define CAPSTAN_MAP_VIP "capstan_vip_v2"
#define CAPSTAN_MAP_SOCK_REVNAT "capstan_skn_v1"
#define CAPSTAN_MAP_AFFINITY "capstan_aff_v1"
#define CAPSTAN_MAP_SVC_COUNTERS "capstan_scnt_v2"
#define CAPSTAN_MAP_BACKEND_COUNTERS "capstan_bcnt_v2"
#define CAPSTAN_MAP_DROPS "capstan_drop_v2"
#define CAPSTAN_MAP_CONFIG "capstan_cfg_v2"
#define CAPSTAN_MAP_EVENTS "capstan_evt_v2"
#define CAPSTAN_MAP_CT "capstan_ct_v1"
#define CAPSTAN_MAP_MAGLEV "capstan_mgl_v1"
#define CAPSTAN_MAP_FRAG "capstan_frag_v1"
#define CAPSTAN_MAP_SRC_RANGES "capstan_srcr_v1"

#define CAPSTAN_SVC_MAX 262144 /* service map entries (all slots); not preallocated */
#define CAPSTAN_BACKEND_MAX 65536 /* backend ids are 1..CAPSTAN_BACKEND_MAX-1 */
#define CAPSTAN_REVNAT_MAX 65536  /* rev-NAT ids are 1..CAPSTAN_REVNAT_MAX-1 */
#define CAPSTAN_VIP_MAX 65536 /* service addresses; not preallocated */
#define CAPSTAN_SOCK_REVNAT_MAX 65536 /* LRU */
#define CAPSTAN_AFFINITY_MAX 65536    /* LRU */
#define CAPSTAN_MAX_BACKENDS_PER_SVC 4096
#define CAPSTAN_EVENTS_BYTES (1 << 20) /* ring buffer size */
#define CAPSTAN_CT_MAX 262144	       /* LRU: two entries per north-south flow */
#define CAPSTAN_MAGLEV_MAX 4096	       /* frontends with a Maglev table */
#define CAPSTAN_MAGLEV_DEFAULT_M 16381 /* entries per table (prime) */
#define CAPSTAN_FRAG_MAX 8192	       /* LRU: datagrams in flight as fragments */
#define CAPSTAN_SRC_RANGES_MAX 16384   /* loadBalancerSourceRanges prefixes, all services */

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
	__be32 addr; /* frontend IPv4 address, network byte order */
	__be16 port; /* frontend port, network byte order */
	__u16 slot;  /* 0 = the service entry, 1..count = backend slots */
	__u8 proto;  /* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
	__u8 scope;  /* CAPSTAN_SCOPE_*: which datapath reads the entry */
	__u8 pad[2]; /* zero */
};

/*
 * A frontend (address, port, protocol) may have two views with their own
 * rev-NAT ids, slots and counters: what sockets on the node reach
 * (internal), and what clients elsewhere reach through the node's external
 * interfaces (external). They differ when externalTrafficPolicy is Local:
 * outside clients get local backends only, the node's own sockets all of
 * them. ClusterIPs have only the internal view; NodePorts (on the node
 * address), externalIPs and LoadBalancer ingress IPs have both.
 */
enum capstan_scope {
	CAPSTAN_SCOPE_INTERNAL = 0, /* socket hooks */
	CAPSTAN_SCOPE_EXTERNAL = 1, /* tc / XDP on external interfaces */
};

struct capstan_svc_val {
	__u32 backend_id;	/* slot > 0: backend in this slot; slot 0: 0 */
	__u16 count;		/* slot 0: backend slots in use (0 = no ready backend) */
	__u16 rev_nat_id;	/* slot 0: service port id (rev-NAT map, counters) */
	__u32 flags;		/* slot 0: CAPSTAN_SVC_F_* */
	__u32 affinity_timeout; /* slot 0: seconds, with CAPSTAN_SVC_F_AFFINITY */
};

/* Service flags (slot 0). */
#define CAPSTAN_SVC_F_AFFINITY (1u << 0) /* sessionAffinity: ClientIP */
#define CAPSTAN_SVC_F_LOCAL_INTERNAL                          \
	(1u << 1) /* internalTrafficPolicy: Local (slots hold \
		   * local backends only) */
#define CAPSTAN_SVC_F_NODEPORT                                 \
	(1u << 2) /* a NodePort frontend (the node address and \
		   * the node port) */
#define CAPSTAN_SVC_F_LOCAL_EXTERNAL                        \
	(1u << 3) /* externalTrafficPolicy: Local (external \
		   * view: local backends only, no SNAT) */
#define CAPSTAN_SVC_F_SOURCE_RANGES                                                     \
	(1u << 4)			     /* loadBalancerSourceRanges: a client must \
					      * match an entry of the source-ranges trie */
#define CAPSTAN_SVC_F_EXTERNAL_IP (1u << 5)  /* a spec.externalIPs frontend */
#define CAPSTAN_SVC_F_LOADBALANCER (1u << 6) /* a status.loadBalancer ingress IP */

/* Backends map (hash): backend id (__u32, host order) -> address. */
struct capstan_backend {
	__be32 addr; /* backend IPv4 address, network byte order */
	__be16 port; /* backend port, network byte order */
	__u8 proto;  /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 state;  /* CAPSTAN_BE_* */
	__u8 flags;  /* CAPSTAN_BE_F_* */
	__u8 pad[3]; /* zero */
};

/*
 * The backend runs on this node: the north-south path delivers to it
 * without SNAT. A remote one gets the node address as source, so its
 * replies come back through this node to be translated.
 */
#define CAPSTAN_BE_F_LOCAL (1u << 0)

enum capstan_backend_state {
	CAPSTAN_BE_ACTIVE = 0,
	CAPSTAN_BE_TERMINATING = 1, /* in no slot: kept for existing flows; an affinity
				     * entry naming it is not followed */
};

/*
 * Rev-NAT map (hash): rev_nat_id (__u16 widened to __u32, host order) ->
 * the service address, so replies and getpeername() show the service, not
 * the backend.
 */
struct capstan_revnat {
	__be32 addr; /* service IPv4 address */
	__be16 port; /* service port */
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
 * An externalIP or LoadBalancer ingress IP: the north-south programs drop
 * (and count) malformed packets and orphan fragments sent to it, which they
 * let pass for any other address (the node's own address included: its
 * other traffic is not theirs to judge). Sockets are not refused for it.
 */
#define CAPSTAN_VIP_F_EXTERNAL (1u << 1)

/*
 * Socket rev-NAT (LRU hash): what a socket's translated destination was.
 * Written by connect and unconnected sendmsg, read by recvmsg (UDP replies
 * appear to come from the service) and getpeername.
 */
struct capstan_sock_revnat_key {
	__u64 cookie; /* bpf_get_socket_cookie() of the socket */
	__be32 addr;  /* backend address the socket talks to */
	__be16 port;  /* backend port */
	__u16 pad;    /* zero */
};

struct capstan_sock_revnat_val {
	__be32 addr; /* service address */
	__be16 port; /* service port */
	__u16 rev_nat_id;
};

/*
 * Affinity (LRU hash) for sessionAffinity: ClientIP. At the socket layer the
 * client is identified by its network namespace (one per pod, one for the
 * host), which is what ClientIP means for a pod. On the north-south path it
 * is the client's IPv4 address, tagged with CAPSTAN_AFF_CLIENT_ADDR (netns
 * cookies count up from 1 and never reach bit 63).
 */
#define CAPSTAN_AFF_CLIENT_ADDR (1ULL << 63)

struct capstan_affinity_key {
	__u64 client;	  /* netns cookie, or CAPSTAN_AFF_CLIENT_ADDR | host-order IPv4 */
	__u32 rev_nat_id; /* the service port */
	__u32 pad;	  /* zero */
};

/*
 * An entry names a backend id only, so the agent must not hand a freed id to
 * another backend while an entry may still name it: ids are allocated
 * round-robin over the whole id space, never "lowest free first".
 */
struct capstan_affinity_val {
	__u32 backend_id;
	__u32 pad;
	__u64 last_used_ns; /* bpf_ktime_get_ns() of the last connection */
};

/* Per-CPU counters per service port (view), indexed by rev_nat_id. */
struct capstan_svc_counters {
	__u64 connects; /* connect() translated (TCP and connected UDP) */
	__u64 udp_msgs; /* unconnected UDP datagrams translated (sendmsg) */
	__u64 refused;	/* refused because no backend was ready */
	__u64 flows;	/* external view: new flows translated (tc / XDP) */
	__u64 packets;	/* external view: packets translated, both directions */
	__u64 bytes;	/* external view: bytes of those packets (IP length) */
};

/* Per-CPU counters per backend, indexed by backend id. */
struct capstan_backend_counters {
	__u64 connects; /* connections sent to this backend */
	__u64 udp_msgs; /* unconnected datagrams sent to this backend */
	__u64 flows;	/* north-south flows sent to this backend */
};

/*
 * Why a program refused something. Index of the per-CPU drop counter array;
 * the negative value is what datapath helpers return.
 */
enum capstan_drop_reason {
	CAPSTAN_DROP_NONE = 0,
	CAPSTAN_DROP_NO_BACKEND,       /* service has no ready backend */
	CAPSTAN_DROP_NO_SLOT,	       /* a slot 1..count is missing (never expected) */
	CAPSTAN_DROP_NO_BACKEND_ENTRY, /* a slot names a backend id not in the map */
	CAPSTAN_DROP_PORT_NOT_SERVED,  /* service address, but not a service port */
	CAPSTAN_DROP_EVENT_LOST,       /* a trace event found the ring buffer full (the
					* connection itself went through) */
	CAPSTAN_DROP_MALFORMED,	       /* a packet for a frontend with a bad or cut header */
	CAPSTAN_DROP_FRAG_NO_FLOW,     /* a non-first fragment whose first was not seen */
	CAPSTAN_DROP_SOURCE_RANGE,     /* client outside loadBalancerSourceRanges */
	CAPSTAN_DROP_SNAT_EXHAUSTED,   /* no free SNAT port towards that backend */
	CAPSTAN_DROP_FIB,	       /* no route or neighbour to forward a translated
					* packet */
	CAPSTAN_DROP_CT_FULL,	       /* the conntrack map refused a new entry */
	CAPSTAN_DROP_CSUM,	       /* a checksum helper failed */
	CAPSTAN_DROP__MAX,
};

/* Names for tools, indexed by enum capstan_drop_reason. */
#define CAPSTAN_DROP_NAMES                                                              \
	{                                                                               \
		"none", "no_backend", "no_slot", "no_backend_entry", "port_not_served", \
			"event_lost", "malformed", "frag_no_flow", "source_range",      \
			"snat_exhausted", "fib", "ct_full", "csum"                      \
	}

/*
 * Runtime configuration: the single entry (key 0) of the config array map,
 * written by the agent before it attaches the north-south programs. Until
 * then node_ip is 0 and those programs translate nothing.
 */
struct capstan_config {
	__u32 flags;	     /* CAPSTAN_CFG_* */
	__u32 maglev_m;	     /* entries of every Maglev table (prime) */
	__u32 maglev_seed;   /* flow hash seed, the same on every node */
	__be32 node_ip;	     /* SNAT source for remote backends, network order */
	__u16 snat_port_min; /* SNAT source ports, host order: a range the node's */
	__u16 snat_port_max; /* own sockets do not use (outside ip_local_port_range) */
	__u32 pad;
};

#define CAPSTAN_CFG_EVENTS (1u << 0) /* emit a capstan_event per translation/refusal */
#define CAPSTAN_CFG_NO_RST                                      \
	(1u << 1) /* drop a SYN for a frontend without backends \
		   * instead of answering it with a reset */

#define CAPSTAN_SNAT_PORT_MIN 61000 /* above Linux's default ip_local_port_range */
#define CAPSTAN_SNAT_PORT_MAX 65535

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
	CAPSTAN_HOOK_TC_INGRESS, /* north-south, from a client or a remote backend */
	CAPSTAN_HOOK_TC_EGRESS,	 /* north-south, a local backend's reply */
	CAPSTAN_HOOK_XDP,
};

/* One ring buffer record (CAPSTAN_CFG_EVENTS on). */
struct capstan_event {
	__u64 ts_ns;  /* bpf_ktime_get_ns() */
	__u64 cookie; /* socket cookie; 0 on the packet path */
	__u64 netns;  /* netns cookie of the socket; 0 on the packet path */
	__u8 hook;    /* enum capstan_hook */
	__u8 proto;
	__u8 drop; /* enum capstan_drop_reason; 0 = translated */
	__u8 pad;
	__u16 rev_nat_id;
	__u16 pad2;
	__u32 backend_id; /* 0 when refused */
	__be32 svc_addr;  /* destination as the application asked */
	__be16 svc_port;
	__be16 be_port; /* translated destination (0 when refused) */
	__be32 be_addr;
	__be32 client_addr; /* packet path: the client (0 on the socket path) */
	__be16 client_port;
	__u16 pad3;
};

/*
 * Conntrack (LRU hash) of the north-south path. A flow has two entries:
 *
 *   FORWARD  key = the client's packet as it arrives (client -> frontend);
 *            value: the backend chosen, the frontend's rev_nat_id and, for
 *            a remote backend, the SNAT source port on the node.
 *   REPLY    key = the backend's reply as it reaches this node's program
 *            (backend -> client for a local backend, seen at tc egress;
 *            backend -> node_ip:snat_port for a remote one, seen at
 *            ingress); value: rev_nat_id (the frontend, through the rev-NAT
 *            map) and the client to restore.
 *
 * Both are written when a flow starts, REPLY first, so a reply never finds
 * FORWARD without it. A TCP flow is "established" once the backend has
 * answered: until then its entries live briefly, so SYNs that nobody
 * answers (scans, spoofed sources) cannot hold SNAT ports and conntrack
 * space for hours. A FIN is noted per direction; a RST, or a FIN from both
 * ends, marks the flow closing. A TCP SYN on a closing or expired flow
 * starts a new one. Entries expire by age (last_seen_ns) as well as by LRU
 * eviction. Each program updates the entry it owns (FORWARD on the client
 * side, REPLY on the backend side); the forward path merges what the REPLY
 * entry learnt into FORWARD.
 */
enum capstan_ct_dir {
	CAPSTAN_CT_FORWARD = 0,
	CAPSTAN_CT_REPLY = 1,
};

struct capstan_ct_key {
	__be32 saddr; /* as on the wire, network order */
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;  /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 dir;    /* enum capstan_ct_dir */
	__u8 pad[2]; /* zero */
};

struct capstan_ct_entry {
	__u64 last_seen_ns; /* bpf_ktime_get_ns(), refreshed at most once a second */
	__u32 backend_id;   /* FORWARD: the backend; REPLY: the same */
	__u16 rev_nat_id;   /* the frontend's external view */
	__u8 flags;	    /* CAPSTAN_CT_F_* */
	__u8 pad;
	__be32 client_addr; /* REPLY: the client to restore as destination */
	__be16 client_port;
	__be16 snat_port; /* FORWARD and REPLY: the node's source port, 0 = no SNAT */
};

#define CAPSTAN_CT_F_SNAT (1u << 0)	   /* remote backend: source is node_ip:snat_port */
#define CAPSTAN_CT_F_CLOSING (1u << 1)	   /* TCP RST, or FIN from both ends */
#define CAPSTAN_CT_F_ESTABLISHED (1u << 2) /* TCP: the backend has answered */
#define CAPSTAN_CT_F_FIN_CLIENT (1u << 3)  /* TCP FIN from the client */
#define CAPSTAN_CT_F_FIN_BACKEND (1u << 4) /* TCP FIN from the backend */

/* Lifetimes, in seconds, of an entry since it was last seen. */
#define CAPSTAN_CT_TCP_LIFETIME 21600  /* established */
#define CAPSTAN_CT_TCP_SYN_LIFETIME 60 /* not answered yet */
#define CAPSTAN_CT_TCP_CLOSING_LIFETIME            \
	60 /* at least a backend's TIME_WAIT, so a \
	    * SNAT port is not reused under it */
#define CAPSTAN_CT_OTHER_LIFETIME 60

/*
 * Maglev (hash of maps): rev_nat_id of an external view (__u32, host order)
 * -> an array of maglev_m backend ids (__u32, host order). A new flow to that
 * view takes entry (flow hash % maglev_m). The agent builds the table in user
 * space from the backends' cluster-wide identity (address, port, protocol)
 * and the shared seed, so every node maps a flow to the same backend, and
 * replaces the whole inner map at once when the backends change. Inner
 * maps are created with BPF_F_INNER_MAP (the kernel compares their flags
 * with the template's; the flag is what lets their size differ from it).
 */

/*
 * Fragments (LRU hash): the ports of an IPv4 datagram that arrives in
 * fragments, learned from its first fragment, so the later ones (which carry
 * no L4 header) follow the same flow.
 */
struct capstan_frag_key {
	__be32 saddr;
	__be32 daddr;
	__be16 id; /* IPv4 identification */
	__u8 proto;
	__u8 pad; /* zero */
};

struct capstan_frag_val {
	__be16 sport;
	__be16 dport;
};

/*
 * loadBalancerSourceRanges (LPM trie): {rev_nat_id, client prefix} -> 1. A
 * frontend with CAPSTAN_SVC_F_SOURCE_RANGES admits only clients that match
 * one of its prefixes. prefixlen counts the rev_nat_id and pad bits too:
 * 32 + the CIDR's length.
 */
struct capstan_src_range_key {
	__u32 prefixlen;
	__be16 rev_nat_id; /* network order, so prefixes compare bit by bit */
	__u16 pad;	   /* zero */
	__be32 addr;	   /* client prefix, network order */
};

#endif
