/*
 * abi.h - every map key, value, flag and drop reason shared by the BPF
 * programs and user space (capstan-agent, `capstan lb`, the tests).
 *
 * Nothing about a map's layout is written anywhere else. Maps are pinned
 * under the agent's bpffs directory by name, and a pinned map outlives the
 * agent: a layout change therefore bumps the _vN suffix of the map's name,
 * so a new agent never reuses a pinned map of the old shape (the kernel
 * would refuse it with -EINVAL anyway).
 *
 * Byte order: addresses and ports are network byte order (as they sit in
 * sockaddr and packets); ids, counts and slots are host order.
 */
#ifndef CAPSTAN_BPF_ABI_H
#define CAPSTAN_BPF_ABI_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Pinned map names (BPF object names are at most 15 characters). */
#define CAPSTAN_MAP_SVC "capstan_svc_v1"
#define CAPSTAN_MAP_BACKEND "capstan_be_v1"
#define CAPSTAN_MAP_SVC_COUNTERS "capstan_scnt_v1"
#define CAPSTAN_MAP_BACKEND_COUNTERS "capstan_bcnt_v1"
#define CAPSTAN_MAP_DROPS "capstan_drop_v1"

#define CAPSTAN_SVC_MAX 65536	  /* service map entries (all slots) */
#define CAPSTAN_BACKEND_MAX 65536 /* backend ids are 1..CAPSTAN_BACKEND_MAX-1 */
#define CAPSTAN_REVNAT_MAX 65536  /* rev-NAT ids (one per service port) */
#define CAPSTAN_MAX_BACKENDS_PER_SVC 4096

/*
 * Services map key. One service port (address, port, protocol) owns
 * count+1 entries: slot 0 describes the service, slots 1..count each name
 * one backend. A new connection picks a slot at random.
 */
struct capstan_svc_key {
	__be32 addr; /* service IPv4 address, network byte order */
	__be16 port; /* service port, network byte order */
	__u16 slot;  /* 0 = the service entry, 1..count = backend slots */
	__u8 proto;  /* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
	__u8 scope;  /* reserved for external/internal views; 0 */
	__u8 pad[2]; /* zero: the key is hashed as bytes */
};

struct capstan_svc_val {
	__u32 backend_id;	/* slot > 0: backend in this slot; slot 0: 0 */
	__u16 count;		/* slot 0: backend slots in use (0 = no ready backend) */
	__u16 rev_nat_id;	/* slot 0: service port id, index of the counters */
	__u32 flags;		/* slot 0: CAPSTAN_SVC_F_* */
	__u32 affinity_timeout; /* slot 0: seconds, with CAPSTAN_SVC_F_AFFINITY */
};

/* Service flags (slot 0). */
#define CAPSTAN_SVC_F_AFFINITY (1u << 0)       /* sessionAffinity: ClientIP */
#define CAPSTAN_SVC_F_LOCAL_INTERNAL (1u << 1) /* internalTrafficPolicy: Local */

/* Backends map: id -> address. */
struct capstan_backend {
	__be32 addr; /* backend IPv4 address, network byte order */
	__be16 port; /* backend port, network byte order */
	__u8 proto;  /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 state;  /* CAPSTAN_BE_* */
};

enum capstan_backend_state {
	CAPSTAN_BE_ACTIVE = 0,
	CAPSTAN_BE_TERMINATING = 1, /* draining: kept for existing flows only */
};

/* Per-CPU counters per service port, indexed by rev_nat_id. */
struct capstan_svc_counters {
	__u64 connects; /* connections (or UDP flows) translated */
	__u64 refused;	/* refused because no backend was ready */
};

/* Per-CPU counters per backend, indexed by backend id. */
struct capstan_backend_counters {
	__u64 connects; /* connections sent to this backend */
};

/*
 * Why a program refused or dropped something. Index of the per-CPU drop
 * counter array; also the negative return of datapath helpers.
 */
enum capstan_drop_reason {
	CAPSTAN_DROP_NONE = 0,
	CAPSTAN_DROP_NO_BACKEND,       /* service has no ready backend */
	CAPSTAN_DROP_NO_SLOT,	       /* a slot 1..count is missing (agent mid-update) */
	CAPSTAN_DROP_NO_BACKEND_ENTRY, /* a slot names a backend id not in the map */
	CAPSTAN_DROP__MAX,
};

#endif
