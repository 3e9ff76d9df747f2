/*
 * mapops.h - the few operations the agent performs on the datapath maps,
 * behind a table of function pointers.
 *
 * The writer (writer.h) decides what to write and in which order; this
 * interface is how it reaches the maps. In the daemon the implementation is
 * the BPF syscalls on the pinned maps (lb_bpf_ops, below); unit tests plug
 * in an in-memory fake that records every call, so the order of writes and
 * the absence of needless rewrites can be asserted without root or BPF.
 *
 * Keys and values are the abi.h structures, passed by pointer; which
 * structure goes with which map is the lb_map_layouts table, the one place
 * that pairs an lb_map_id with abi.h's names and sizes.
 */
#ifndef CAPSTAN_AGENT_LB_MAPOPS_H
#define CAPSTAN_AGENT_LB_MAPOPS_H

#include <stdbool.h>
#include <stddef.h>

#include "abi.h"

enum lb_map_id {
	LB_MAP_SVC,		 /* struct capstan_svc_key -> struct capstan_svc_val */
	LB_MAP_BACKEND,		 /* __u32 backend id -> struct capstan_backend */
	LB_MAP_REVNAT,		 /* __u32 rev_nat_id -> struct capstan_revnat */
	LB_MAP_VIP,		 /* __be32 address -> __u32 CAPSTAN_VIP_F_* */
	LB_MAP_SVC_COUNTERS,	 /* per-CPU: __u32 rev_nat_id -> struct capstan_svc_counters */
	LB_MAP_BACKEND_COUNTERS, /* per-CPU: __u32 backend id -> struct capstan_backend_counters */
	LB_MAP_DROPS,		 /* per-CPU: __u32 enum capstan_drop_reason -> __u64 */
	LB_MAP_AFFINITY,   /* LRU: struct capstan_affinity_key -> struct capstan_affinity_val */
	LB_MAP_SRC_RANGES, /* LPM: struct capstan_src_range_key -> __u8 1 */
	LB_MAP_MAGLEV,	   /* hash of maps: __u32 rev_nat_id -> inner map (id when read) */
	LB_MAP_CONFIG,	   /* array: __u32 0 -> struct capstan_config */
	LB_MAP__MAX,
};

struct lb_map_layout {
	const char *name; /* pinned name, from abi.h */
	size_t key_size;
	size_t value_size; /* per CPU for per-CPU maps */
	bool percpu;	   /* per-CPU array of __u64 counters */
};

extern const struct lb_map_layout lb_map_layouts[LB_MAP__MAX];

/* Called for each entry by walk; a nonzero return stops the walk and is returned. */
typedef int (*lb_map_walk_fn)(void *arg, const void *key, const void *val);

struct lb_map_ops {
	/* Insert or replace one entry. 0 or -errno. */
	int (*update)(void *ctx, enum lb_map_id map, const void *key, const void *val);
	/* Delete one entry; an absent key is not an error. 0 or -errno. */
	int (*remove)(void *ctx, enum lb_map_id map, const void *key);
	/* Visit every entry of a hash map. 0, fn's nonzero result, or -errno. */
	int (*walk)(void *ctx, enum lb_map_id map, lb_map_walk_fn fn, void *arg);
	/* Per-CPU counter maps: zero entry id on every CPU. 0 or -errno. */
	int (*zero)(void *ctx, enum lb_map_id map, __u32 id);
	/*
	 * Per-CPU counter maps: sum each of the first nfields __u64 fields of
	 * entry id over all CPUs into sums[]. 0 or -errno.
	 */
	int (*sum)(void *ctx, enum lb_map_id map, __u32 id, __u64 *sums, size_t nfields);
	/*
	 * Maglev: make table[0..m) the table of rev_nat_id, replacing any
	 * earlier one in one step (the datapath sees the old or the new table,
	 * never a mix). 0 or -errno.
	 */
	int (*maglev_set)(void *ctx, __u32 rev_nat_id, const __u32 *table, __u32 m);
	/* Drop rev_nat_id's table; an absent one is not an error. 0 or -errno. */
	int (*maglev_del)(void *ctx, __u32 rev_nat_id);
};

struct bpf_object;

/* The BPF implementation; ctx is a struct lb_bpf_maps. */
extern const struct lb_map_ops lb_bpf_ops;

struct lb_bpf_maps {
	int fd[LB_MAP__MAX]; /* -1 when the object has no such map */
	int ncpu;
};

/*
 * Find the maps of a loaded object by their abi.h names and check their key
 * and value sizes against lb_map_layouts. The fds stay owned by the object.
 * 0 on success; -ENOENT naming the missing map in err when one of the maps
 * the writer needs (services, backends) is absent; -EINVAL when a map's
 * sizes disagree with abi.h. Absent optional maps get fd -1 and their
 * operations succeed without effect (reported in err with return 0, "" when
 * every map is present).
 */
int lb_bpf_maps_init(struct lb_bpf_maps *m, struct bpf_object *obj, char *err, size_t errlen);

#endif
