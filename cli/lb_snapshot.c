/*
 * lb_snapshot.c - see lb_snapshot.h.
 *
 * Maps are opened by pin path and checked against a table of the layouts
 * abi.h defines, so the sizes are written here once, as sizeof() of the ABI
 * structs, never as numbers. A missing pin is detected with stat() before
 * the bpf() call: the "is the agent running?" answer must not depend on
 * whether the caller may use bpf() at all (unprivileged bpf() fails with
 * EPERM before it looks at the path).
 */
#include "lb_snapshot.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "util.h"

struct map_layout {
	const char *name;
	enum bpf_map_type type;
	__u32 key_size; /* 0: not checked (ring buffer) */
	__u32 value_size;
};

static const struct map_layout layouts[] = {
	{ CAPSTAN_MAP_SVC, BPF_MAP_TYPE_HASH, sizeof(struct capstan_svc_key),
	  sizeof(struct capstan_svc_val) },
	{ CAPSTAN_MAP_BACKEND, BPF_MAP_TYPE_HASH, sizeof(__u32), sizeof(struct capstan_backend) },
	{ CAPSTAN_MAP_REVNAT, BPF_MAP_TYPE_HASH, sizeof(__u32), sizeof(struct capstan_revnat) },
	{ CAPSTAN_MAP_SVC_COUNTERS, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32),
	  sizeof(struct capstan_svc_counters) },
	{ CAPSTAN_MAP_BACKEND_COUNTERS, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32),
	  sizeof(struct capstan_backend_counters) },
	{ CAPSTAN_MAP_DROPS, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(__u64) },
	{ CAPSTAN_MAP_CONFIG, BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct capstan_config) },
	{ CAPSTAN_MAP_EVENTS, BPF_MAP_TYPE_RINGBUF, 0, 0 },
};

/* ---------------------------------------------------------------- building */

/* Make room for one more element of `size` bytes in a growable array. */
static void *grow(void *arr, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return arr;
	*cap = *cap ? *cap * 2 : 16;
	return xrealloc(arr, *cap * size);
}

void cli_lb_snapshot_add_svc(struct cli_lb_snapshot *snap, const struct capstan_svc_key *key,
			     const struct capstan_svc_val *val)
{
	snap->svc = grow(snap->svc, &snap->cap_svc, snap->n_svc, sizeof(*snap->svc));
	snap->svc[snap->n_svc++] = (struct cli_lb_svc_entry){ *key, *val };
	snap->sorted = false;
}

void cli_lb_snapshot_add_backend(struct cli_lb_snapshot *snap, __u32 id,
				 const struct capstan_backend *be)
{
	snap->backends = grow(snap->backends, &snap->cap_backends, snap->n_backends,
			      sizeof(*snap->backends));
	snap->backends[snap->n_backends++] = (struct cli_lb_backend_entry){ id, *be };
	snap->sorted = false;
}

void cli_lb_snapshot_add_revnat(struct cli_lb_snapshot *snap, __u32 id,
				const struct capstan_revnat *rn)
{
	snap->revnat = grow(snap->revnat, &snap->cap_revnat, snap->n_revnat, sizeof(*snap->revnat));
	snap->revnat[snap->n_revnat++] = (struct cli_lb_revnat_entry){ id, *rn };
	snap->sorted = false;
}

void cli_lb_snapshot_add_svc_count(struct cli_lb_snapshot *snap, __u32 rev_nat_id,
				   const struct capstan_svc_counters *c)
{
	snap->svc_counts = grow(snap->svc_counts, &snap->cap_svc_counts, snap->n_svc_counts,
				sizeof(*snap->svc_counts));
	snap->svc_counts[snap->n_svc_counts++] = (struct cli_lb_svc_count){ rev_nat_id, *c };
	snap->have_counters = true;
	snap->sorted = false;
}

void cli_lb_snapshot_add_backend_count(struct cli_lb_snapshot *snap, __u32 backend_id,
				       const struct capstan_backend_counters *c)
{
	snap->backend_counts = grow(snap->backend_counts, &snap->cap_backend_counts,
				    snap->n_backend_counts, sizeof(*snap->backend_counts));
	snap->backend_counts[snap->n_backend_counts++] =
		(struct cli_lb_backend_count){ backend_id, *c };
	snap->have_counters = true;
	snap->sorted = false;
}

void cli_lb_snapshot_free(struct cli_lb_snapshot *snap)
{
	free(snap->svc);
	free(snap->backends);
	free(snap->revnat);
	free(snap->svc_counts);
	free(snap->backend_counts);
	*snap = (struct cli_lb_snapshot){ 0 };
}

/* ---------------------------------------------------------------- sorting */

static int cmp_svc(const void *pa, const void *pb)
{
	const struct capstan_svc_key *a = &((const struct cli_lb_svc_entry *)pa)->key;
	const struct capstan_svc_key *b = &((const struct cli_lb_svc_entry *)pb)->key;
	__u32 aa = ntohl(a->addr), ba = ntohl(b->addr);
	__u16 ap = ntohs(a->port), bp = ntohs(b->port);

	if (aa != ba)
		return aa < ba ? -1 : 1;
	if (ap != bp)
		return ap < bp ? -1 : 1;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->scope != b->scope)
		return a->scope < b->scope ? -1 : 1;
	if (a->slot != b->slot)
		return a->slot < b->slot ? -1 : 1;
	return 0;
}

/* Every id-keyed record starts with its __u32 id; a bare __u32 works as a bsearch key. */
static int cmp_leading_u32(const void *pa, const void *pb)
{
	__u32 a = *(const __u32 *)pa, b = *(const __u32 *)pb;

	return a < b ? -1 : a > b;
}

/*
 * Bottom-up merge sort: qsort is not stable, and the duplicates a restarted
 * walk produces must keep the order they were read in.
 */
static void stable_sort(char *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	char *tmp;

	if (n < 2)
		return;
	tmp = xmalloc(n * size);
	for (size_t width = 1; width < n; width *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * width) {
			size_t mid = MIN(lo + width, n), hi = MIN(lo + 2 * width, n);
			size_t i = lo, j = mid, k = lo;

			while (i < mid && j < hi) {
				/* Take from the right run only when strictly smaller. */
				if (cmp(base + j * size, base + i * size) < 0)
					memcpy(tmp + k++ * size, base + j++ * size, size);
				else
					memcpy(tmp + k++ * size, base + i++ * size, size);
			}
			memcpy(tmp + k * size, base + i * size, (mid - i) * size);
			k += mid - i;
			memcpy(tmp + k * size, base + j * size, (hi - j) * size);
		}
		memcpy(base, tmp, n * size);
	}
	free(tmp);
}

/* Sort and keep one record per key, the one added last; returns the new length. */
static size_t sort_unique(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	char *p = base;
	size_t out = 0;

	if (n == 0)
		return 0;
	stable_sort(p, n, size, cmp);
	for (size_t i = 1; i < n; i++) {
		if (cmp(p + out * size, p + i * size) != 0)
			out++;
		if (out != i)
			memcpy(p + out * size, p + i * size, size);
	}
	return out + 1;
}

void cli_lb_snapshot_sort(struct cli_lb_snapshot *snap)
{
	if (snap->sorted)
		return;
	snap->n_svc = sort_unique(snap->svc, snap->n_svc, sizeof(*snap->svc), cmp_svc);
	snap->n_backends = sort_unique(snap->backends, snap->n_backends, sizeof(*snap->backends),
				       cmp_leading_u32);
	snap->n_revnat =
		sort_unique(snap->revnat, snap->n_revnat, sizeof(*snap->revnat), cmp_leading_u32);
	snap->n_svc_counts = sort_unique(snap->svc_counts, snap->n_svc_counts,
					 sizeof(*snap->svc_counts), cmp_leading_u32);
	snap->n_backend_counts = sort_unique(snap->backend_counts, snap->n_backend_counts,
					     sizeof(*snap->backend_counts), cmp_leading_u32);
	snap->sorted = true;
}

/* bsearch by the leading __u32 id; an empty array may be NULL, which bsearch must not see. */
static const void *find_id(const void *base, size_t n, size_t size, __u32 id)
{
	return n ? bsearch(&id, base, n, size, cmp_leading_u32) : NULL;
}

const struct cli_lb_backend_entry *cli_lb_snapshot_backend(const struct cli_lb_snapshot *snap,
							   __u32 id)
{
	return find_id(snap->backends, snap->n_backends, sizeof(*snap->backends), id);
}

const struct cli_lb_svc_count *cli_lb_snapshot_svc_count(const struct cli_lb_snapshot *snap,
							 __u32 rev_nat_id)
{
	return find_id(snap->svc_counts, snap->n_svc_counts, sizeof(*snap->svc_counts), rev_nat_id);
}

const struct cli_lb_backend_count *cli_lb_snapshot_backend_count(const struct cli_lb_snapshot *snap,
								 __u32 backend_id)
{
	return find_id(snap->backend_counts, snap->n_backend_counts, sizeof(*snap->backend_counts),
		       backend_id);
}

/* ---------------------------------------------------------------- opening */

static const struct map_layout *find_layout(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(layouts); i++)
		if (strcmp(layouts[i].name, name) == 0)
			return &layouts[i];
	return NULL;
}

static bool pin_exists(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

int cli_lb_map_open(const char *dir, const char *name, bool rdonly, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = rdonly ? BPF_F_RDONLY : 0);
	const struct map_layout *want = name ? find_layout(name) : NULL;
	struct bpf_map_info info = { 0 };
	__u32 info_len = sizeof(info);
	char path[PATH_MAX];
	int fd, ret;

	if (!dir || !*dir || !want) {
		snprintf(err, errlen, "no map layout for '%s' in abi.h", name ? name : "(null)");
		return -EINVAL;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	if (!pin_exists(dir, name)) {
		if (!pin_exists(dir, CAPSTAN_MAP_SVC))
			snprintf(
				err, errlen,
				"no capstan maps under %s (is capstan-agent running? --bpffs-dir?)",
				dir);
		else
			snprintf(err, errlen,
				 "%s is not pinned (is capstan-agent older than this capstan?)",
				 path);
		return -ENOENT;
	}
	fd = bpf_obj_get_opts(path, &opts);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s%s", path, strerror(-ret),
			 ret == -EPERM || ret == -EACCES ? " (capstan lb needs root)" : "");
		return ret;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &info_len) != 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: map info: %s", path, strerror(-ret));
		close(fd);
		return ret;
	}
	if (info.type != want->type || (want->key_size && (info.key_size != want->key_size ||
							   info.value_size != want->value_size))) {
		snprintf(err, errlen,
			 "%s: map type %u, key %u bytes, value %u bytes; abi.h says type %u, "
			 "key %u, value %u (capstan-agent and this capstan disagree on the ABI)",
			 path, info.type, info.key_size, info.value_size, want->type,
			 want->key_size, want->value_size);
		close(fd);
		return -EPROTO;
	}
	return fd;
}

/* ---------------------------------------------------------------- reading */

int cli_lb_percpu_sum(int fd, __u32 key, size_t value_size, void *out)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t stride = (value_size + 7) & ~(size_t)7, fields = value_size / 8;
	__u64 *vals, *sum = out;
	int ret = 0;

	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	if (value_size == 0 || value_size % 8)
		return -EINVAL;
	vals = xcalloc(ncpu, stride);
	if (bpf_map_lookup_elem(fd, &key, vals) != 0) {
		ret = -errno;
		goto out;
	}
	memset(sum, 0, value_size);
	for (int cpu = 0; cpu < ncpu; cpu++)
		for (size_t f = 0; f < fields; f++)
			sum[f] += vals[cpu * (stride / 8) + f];
out:
	free(vals);
	return ret;
}

typedef void (*hash_entry_fn)(struct cli_lb_snapshot *snap, const void *key, const void *val);

static void add_svc_entry(struct cli_lb_snapshot *snap, const void *key, const void *val)
{
	cli_lb_snapshot_add_svc(snap, key, val);
}

static void add_backend_entry(struct cli_lb_snapshot *snap, const void *key, const void *val)
{
	cli_lb_snapshot_add_backend(snap, *(const __u32 *)key, val);
}

static void add_revnat_entry(struct cli_lb_snapshot *snap, const void *key, const void *val)
{
	cli_lb_snapshot_add_revnat(snap, *(const __u32 *)key, val);
}

/*
 * Walk a hash map. A key deleted under the walk makes get_next_key start
 * over, so the walk is bounded (twice the map's capacity) and duplicates are
 * removed by cli_lb_snapshot_sort().
 */
static int read_hash(int fd, const char *name, size_t key_size, hash_entry_fn add,
		     struct cli_lb_snapshot *snap, char *err, size_t errlen)
{
	struct bpf_map_info info = { 0 };
	__u32 info_len = sizeof(info);
	char key[64], next[64], val[64];
	unsigned long bound, steps = 0;
	bool first = true;
	int ret;

	if (bpf_obj_get_info_by_fd(fd, &info, &info_len) != 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: map info: %s", name, strerror(-ret));
		return ret;
	}
	bound = 2ul * info.max_entries + 16;
	while (steps++ < bound) {
		if (bpf_map_get_next_key(fd, first ? NULL : key, next) != 0) {
			ret = -errno;
			if (ret == -ENOENT)
				return 0;
			snprintf(err, errlen, "%s: next key: %s", name, strerror(-ret));
			return ret;
		}
		first = false;
		memcpy(key, next, key_size);
		if (bpf_map_lookup_elem(fd, key, val) != 0) {
			ret = -errno;
			if (ret == -ENOENT) /* deleted between next_key and lookup */
				continue;
			snprintf(err, errlen, "%s: lookup: %s", name, strerror(-ret));
			return ret;
		}
		add(snap, key, val);
	}
	return 0; /* the agent kept changing the map: show what was read */
}

/*
 * Counters of every service port (rev-NAT ids of slot 0 entries and of the
 * rev-NAT map) and every backend read, and the drop counters. An id beyond
 * the counter array is skipped: the listing shows it without counters.
 */
static int read_counters(int scnt_fd, int bcnt_fd, int drop_fd, struct cli_lb_snapshot *snap,
			 char *err, size_t errlen)
{
	__u32 *ids = xcalloc(snap->n_svc + snap->n_revnat + 1, sizeof(*ids));
	struct capstan_backend_counters bc;
	struct capstan_svc_counters sc;
	size_t n = 0;
	int ret = 0;

	for (size_t i = 0; i < snap->n_svc; i++)
		if (snap->svc[i].key.slot == 0)
			ids[n++] = snap->svc[i].val.rev_nat_id;
	for (size_t i = 0; i < snap->n_revnat; i++)
		ids[n++] = snap->revnat[i].id;
	n = sort_unique(ids, n, sizeof(*ids), cmp_leading_u32);
	for (size_t i = 0; i < n; i++)
		if (cli_lb_percpu_sum(scnt_fd, ids[i], sizeof(sc), &sc) == 0)
			cli_lb_snapshot_add_svc_count(snap, ids[i], &sc);
	for (size_t i = 0; i < snap->n_backends; i++)
		if (cli_lb_percpu_sum(bcnt_fd, snap->backends[i].id, sizeof(bc), &bc) == 0)
			cli_lb_snapshot_add_backend_count(snap, snap->backends[i].id, &bc);
	for (__u32 r = 0; r < CAPSTAN_DROP__MAX; r++) {
		ret = cli_lb_percpu_sum(drop_fd, r, sizeof(__u64), &snap->drops[r]);
		if (ret) {
			snprintf(err, errlen, "%s: drop counter %u: %s", CAPSTAN_MAP_DROPS, r,
				 strerror(-ret));
			break;
		}
	}
	snap->have_counters = true;
	free(ids);
	return ret;
}

int cli_lb_snapshot_read(const char *dir, unsigned int what, struct cli_lb_snapshot *snap,
			 char *err, size_t errlen)
{
	static const struct {
		unsigned int what;
		const char *name;
	} need[] = {
		{ CLI_LB_READ_SERVICES, CAPSTAN_MAP_SVC },
		{ CLI_LB_READ_BACKENDS, CAPSTAN_MAP_BACKEND },
		{ CLI_LB_READ_REVNAT, CAPSTAN_MAP_REVNAT },
		{ CLI_LB_READ_COUNTERS, CAPSTAN_MAP_SVC_COUNTERS },
		{ CLI_LB_READ_COUNTERS, CAPSTAN_MAP_BACKEND_COUNTERS },
		{ CLI_LB_READ_COUNTERS, CAPSTAN_MAP_DROPS },
	};
	int fds[ARRAY_SIZE(need)];
	int ret = 0;

	*snap = (struct cli_lb_snapshot){ 0 };
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		fds[i] = -1;
	if (!dir || !*dir || !what || (what & ~0xfu)) {
		snprintf(err, errlen, "bad arguments to cli_lb_snapshot_read");
		return -EINVAL;
	}
	/* Open everything first: a missing map fails before anything is read. */
	for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
		if (!(what & need[i].what))
			continue;
		fds[i] = cli_lb_map_open(dir, need[i].name, true, err, errlen);
		if (fds[i] < 0) {
			ret = fds[i];
			goto out;
		}
	}
	if (fds[0] >= 0)
		ret = read_hash(fds[0], CAPSTAN_MAP_SVC, sizeof(struct capstan_svc_key),
				add_svc_entry, snap, err, errlen);
	if (!ret && fds[1] >= 0)
		ret = read_hash(fds[1], CAPSTAN_MAP_BACKEND, sizeof(__u32), add_backend_entry, snap,
				err, errlen);
	if (!ret && fds[2] >= 0)
		ret = read_hash(fds[2], CAPSTAN_MAP_REVNAT, sizeof(__u32), add_revnat_entry, snap,
				err, errlen);
	cli_lb_snapshot_sort(snap);
	if (!ret && (what & CLI_LB_READ_COUNTERS))
		ret = read_counters(fds[3], fds[4], fds[5], snap, err, errlen);
	cli_lb_snapshot_sort(snap);
out:
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (ret)
		cli_lb_snapshot_free(snap);
	return ret;
}
