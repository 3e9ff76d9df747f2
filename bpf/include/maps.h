/*
 * maps.h - the map definitions of the service datapath (BPF side only).
 *
 * Every program object that includes this file shares the same maps once
 * loaded, because each map is pinned by name (LIBBPF_PIN_BY_NAME) under the
 * pin root the loader chooses: the socket hooks and, later, the tc/XDP
 * programs see one set of services and backends. Layouts live in abi.h.
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
} capstan_svc_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct capstan_backend);
	__uint(max_entries, CAPSTAN_BACKEND_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} capstan_be_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct capstan_svc_counters);
	__uint(max_entries, CAPSTAN_REVNAT_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} capstan_scnt_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct capstan_backend_counters);
	__uint(max_entries, CAPSTAN_BACKEND_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} capstan_bcnt_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, CAPSTAN_DROP__MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} capstan_drop_v1 SEC(".maps");

static __always_inline void count_drop(enum capstan_drop_reason reason)
{
	__u32 key = reason;
	__u64 *n = bpf_map_lookup_elem(&capstan_drop_v1, &key);

	if (n)
		*n += 1;
}

#endif
