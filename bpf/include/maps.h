/*
 * maps.h - the map definitions of the service datapath (BPF side only).
 *
 * Every program object that includes this file shares the same maps once
 * loaded, because each map is pinned by name (LIBBPF_PIN_BY_NAME) under the
 * pin root the loader chooses: the socket hooks and, later, the tc/XDP
 * programs see one set of services and backends. Layouts live in abi.h; the
 * variable names here are the pinned names (CAPSTAN_MAP_*).
 *
 * Maps the agent writes (services, backends, rev-NAT, VIPs) are hash maps
 * without preallocation: they hold what the cluster has, not their maximum.
 * Maps the datapath writes per connection (socket rev-NAT, affinity) are LRU
 * hashes, so a full map evicts the oldest entry instead of failing a
 * connection; the kernel's LRU evicts somewhat before max_entries.
 */
#ifndef CAPSTAN_BPF_MAPS_H
#define CAPSTAN_BPF_MAPS_H

#include "abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct capstan_svc_key);
	__type(value, struct capstan_svc_val);
	__uint(max_entries, CAPSTAN_SVC_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} capstan_svc_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct capstan_backend);
	__uint(max_entries, CAPSTAN_BACKEND_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} capstan_be_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct capstan_revnat);
	__uint(max_entries, CAPSTAN_REVNAT_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} capstan_rnat_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __be32);
	__type(value, __u32);
	__uint(max_entries, CAPSTAN_VIP_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} capstan_vip_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct capstan_sock_revnat_key);
	__type(value, struct capstan_sock_revnat_val);
	__uint(max_entries, CAPSTAN_SOCK_REVNAT_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} capstan_skn_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct capstan_affinity_key);
	__type(value, struct capstan_affinity_val);
	__uint(max_entries, CAPSTAN_AFFINITY_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} capstan_aff_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct capstan_svc_counters);
	__uint(max_entries, CAPSTAN_REVNAT_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} capstan_scnt_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct capstan_backend_counters);
	__uint(max_entries, CAPSTAN_BACKEND_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} capstan_bcnt_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, CAPSTAN_DROP__MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} capstan_drop_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct capstan_config);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} capstan_cfg_v2 SEC(".maps");

/* A full ring buffer drops silently: writers count CAPSTAN_DROP_EVENT_LOST. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CAPSTAN_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} capstan_evt_v2 SEC(".maps");

/* North-south conntrack: see struct capstan_ct_key in abi.h. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct capstan_ct_key);
	__type(value, struct capstan_ct_entry);
	__uint(max_entries, CAPSTAN_CT_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} capstan_ct_v1 SEC(".maps");

/*
 * Maglev tables. The inner template only gives the type; BPF_F_INNER_MAP
 * lets the agent's tables have another size (--maglev-table-size), which
 * the programs read from the config map.
 */
struct capstan_maglev_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, CAPSTAN_MAGLEV_DEFAULT_M);
	__uint(map_flags, BPF_F_INNER_MAP);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, CAPSTAN_MAGLEV_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct capstan_maglev_inner);
} capstan_mgl_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct capstan_frag_key);
	__type(value, struct capstan_frag_val);
	__uint(max_entries, CAPSTAN_FRAG_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} capstan_frag_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct capstan_src_range_key);
	__type(value, __u8);
	__uint(max_entries, CAPSTAN_SRC_RANGES_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} capstan_srcr_v1 SEC(".maps");

/*
 * Per-CPU counters are bumped atomically all the same: a cgroup sock_addr
 * program runs with migration, not preemption, disabled, so on a preemptible
 * kernel another task on the same CPU can run it between a load and a store.
 */
static __always_inline void count_drop(enum capstan_drop_reason reason)
{
	__u32 key = reason;
	__u64 *n = bpf_map_lookup_elem(&capstan_drop_v2, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
}

#endif
