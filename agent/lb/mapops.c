/*
 * mapops.c - see mapops.h.
 *
 * Hash maps are walked with bpf_map_get_next_key and a lookup per key: the
 * walk only runs when the agent starts (reading its state back), where a
 * batch lookup's speed does not matter and its partial-batch corner cases
 * (ENOENT mid-way, resizing buffers) are not worth the code. A key deleted
 * by the datapath during the walk simply ends up not visited.
 */
#include "agent/lb/mapops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "util.h"

const struct lb_map_layout lb_map_layouts[LB_MAP__MAX] = {
	[LB_MAP_SVC] = { CAPSTAN_MAP_SVC, sizeof(struct capstan_svc_key),
			 sizeof(struct capstan_svc_val), false },
	[LB_MAP_BACKEND] = { CAPSTAN_MAP_BACKEND, sizeof(__u32), sizeof(struct capstan_backend),
			     false },
	[LB_MAP_REVNAT] = { CAPSTAN_MAP_REVNAT, sizeof(__u32), sizeof(struct capstan_revnat),
			    false },
	[LB_MAP_VIP] = { CAPSTAN_MAP_VIP, sizeof(__be32), sizeof(__u32), false },
	[LB_MAP_SVC_COUNTERS] = { CAPSTAN_MAP_SVC_COUNTERS, sizeof(__u32),
				  sizeof(struct capstan_svc_counters), true },
	[LB_MAP_BACKEND_COUNTERS] = { CAPSTAN_MAP_BACKEND_COUNTERS, sizeof(__u32),
				      sizeof(struct capstan_backend_counters), true },
	[LB_MAP_DROPS] = { CAPSTAN_MAP_DROPS, sizeof(__u32), sizeof(__u64), true },
	[LB_MAP_AFFINITY] = { CAPSTAN_MAP_AFFINITY, sizeof(struct capstan_affinity_key),
			      sizeof(struct capstan_affinity_val), false },
	[LB_MAP_SRC_RANGES] = { CAPSTAN_MAP_SRC_RANGES, sizeof(struct capstan_src_range_key),
				sizeof(__u8), false },
	[LB_MAP_MAGLEV] = { CAPSTAN_MAP_MAGLEV, sizeof(__u32), sizeof(__u32), false },
	[LB_MAP_CONFIG] = { CAPSTAN_MAP_CONFIG, sizeof(__u32), sizeof(struct capstan_config),
			    false },
};

/* Per-CPU values are laid out at 8-byte strides, one per possible CPU. */
static size_t percpu_stride(enum lb_map_id map)
{
	return (lb_map_layouts[map].value_size + 7) & ~(size_t)7;
}

static int bpf_ops_update(void *ctx, enum lb_map_id map, const void *key, const void *val)
{
	struct lb_bpf_maps *m = ctx;

	if (m->fd[map] < 0)
		return 0;
	return bpf_map_update_elem(m->fd[map], key, val, BPF_ANY) ? -errno : 0;
}

static int bpf_ops_remove(void *ctx, enum lb_map_id map, const void *key)
{
	struct lb_bpf_maps *m = ctx;

	if (m->fd[map] < 0)
		return 0;
	if (bpf_map_delete_elem(m->fd[map], key) && errno != ENOENT)
		return -errno;
	return 0;
}

static int bpf_ops_walk(void *ctx, enum lb_map_id map, lb_map_walk_fn fn, void *arg)
{
	struct lb_bpf_maps *m = ctx;
	const struct lb_map_layout *l = &lb_map_layouts[map];
	__u64 key[8], next[8], val[8]; /* aligned for any abi.h structure */
	const void *prev = NULL;
	int err = 0;

	if (m->fd[map] < 0 || l->percpu)
		return 0;
	while (bpf_map_get_next_key(m->fd[map], prev, next) == 0) {
		memcpy(key, next, l->key_size);
		prev = key;
		if (bpf_map_lookup_elem(m->fd[map], key, val) != 0) {
			if (errno == ENOENT)
				continue; /* deleted meanwhile */
			return -errno;
		}
		err = fn(arg, key, val);
		if (err)
			return err;
	}
	return errno == ENOENT ? 0 : -errno;
}

static int bpf_ops_zero(void *ctx, enum lb_map_id map, __u32 id)
{
	struct lb_bpf_maps *m = ctx;
	void *vals;
	int err;

	if (m->fd[map] < 0)
		return 0;
	vals = xcalloc(m->ncpu, percpu_stride(map));
	err = bpf_map_update_elem(m->fd[map], &id, vals, BPF_ANY) ? -errno : 0;
	free(vals);
	return err;
}

static int bpf_ops_sum(void *ctx, enum lb_map_id map, __u32 id, __u64 *sums, size_t nfields)
{
	struct lb_bpf_maps *m = ctx;
	size_t stride = percpu_stride(map);
	char *vals;
	int err = 0;

	memset(sums, 0, nfields * sizeof(*sums));
	if (m->fd[map] < 0)
		return 0;
	if (nfields * sizeof(__u64) > lb_map_layouts[map].value_size)
		return -EINVAL;
	vals = xcalloc(m->ncpu, stride);
	if (bpf_map_lookup_elem(m->fd[map], &id, vals) != 0) {
		err = -errno;
		goto out;
	}
	for (int cpu = 0; cpu < m->ncpu; cpu++) {
		const __u64 *v = (const __u64 *)(vals + (size_t)cpu * stride);

		for (size_t f = 0; f < nfields; f++)
			sums[f] += v[f];
	}
out:
	free(vals);
	return err;
}

/*
 * A new inner array filled in one batch, then swapped into the outer map:
 * a lookup in the datapath holds either the old inner map (kept alive by
 * RCU until it is done) or the new one. The inner map needs
 * BPF_F_INNER_MAP like the outer map's template, which is what lets its
 * size differ from the template's.
 */
static int bpf_ops_maglev_set(void *ctx, __u32 rev_nat_id, const __u32 *table, __u32 m)
{
	struct lb_bpf_maps *mp = ctx;
	LIBBPF_OPTS(bpf_map_create_opts, copts, .map_flags = BPF_F_INNER_MAP);
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	__u32 *keys = NULL, count = m;
	int inner = -1, err = 0;

	if (mp->fd[LB_MAP_MAGLEV] < 0)
		return 0;
	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "capstan_mgl_in", sizeof(__u32), sizeof(__u32),
			       m, &copts);
	if (inner < 0)
		return -errno;
	keys = xcalloc(m, sizeof(*keys));
	for (__u32 i = 0; i < m; i++)
		keys[i] = i;
	if (bpf_map_update_batch(inner, keys, table, &count, &bopts) != 0) {
		err = -errno;
		goto out;
	}
	if (bpf_map_update_elem(mp->fd[LB_MAP_MAGLEV], &rev_nat_id, &inner, BPF_ANY) != 0)
		err = -errno;
out:
	free(keys);
	close(inner);
	return err;
}

static int bpf_ops_maglev_del(void *ctx, __u32 rev_nat_id)
{
	return bpf_ops_remove(ctx, LB_MAP_MAGLEV, &rev_nat_id);
}

const struct lb_map_ops lb_bpf_ops = {
	.update = bpf_ops_update,
	.remove = bpf_ops_remove,
	.walk = bpf_ops_walk,
	.zero = bpf_ops_zero,
	.sum = bpf_ops_sum,
	.maglev_set = bpf_ops_maglev_set,
	.maglev_del = bpf_ops_maglev_del,
};

int lb_bpf_maps_init(struct lb_bpf_maps *m, struct bpf_object *obj, char *err, size_t errlen)
{
	size_t used = 0;

	err[0] = '\0';
	m->ncpu = libbpf_num_possible_cpus();
	if (m->ncpu <= 0) {
		snprintf(err, errlen, "cannot count possible CPUs: %s", strerror(-m->ncpu));
		return m->ncpu < 0 ? m->ncpu : -EINVAL;
	}
	for (int i = 0; i < LB_MAP__MAX; i++) {
		const struct lb_map_layout *l = &lb_map_layouts[i];
		struct bpf_map *map = bpf_object__find_map_by_name(obj, l->name);

		m->fd[i] = -1;
		if (!map) {
			if (i == LB_MAP_SVC || i == LB_MAP_BACKEND) {
				snprintf(err, errlen, "the BPF object has no map %s", l->name);
				return -ENOENT;
			}
			if (used < errlen)
				used += snprintf(err + used, errlen - used, "%s%s",
						 used ? ", " : "missing maps: ", l->name);
			continue;
		}
		if (bpf_map__key_size(map) != l->key_size ||
		    bpf_map__value_size(map) != l->value_size) {
			snprintf(err, errlen,
				 "map %s has key/value size %u/%u, abi.h says %zu/%zu (stale "
				 "object?)",
				 l->name, bpf_map__key_size(map), bpf_map__value_size(map),
				 l->key_size, l->value_size);
			return -EINVAL;
		}
		m->fd[i] = bpf_map__fd(map);
	}
	return 0;
}
