/*
 * lb_snapshot.h - the agent's pinned load-balancer maps, read into memory.
 *
 * `capstan lb` never formats straight from a map: it first copies what it
 * needs (service entries, backends, rev-NAT entries, per-CPU counters summed
 * over CPUs, drop counters) into a struct cli_lb_snapshot, then lb_format.c turns
 * the snapshot into text or JSON. That split lets the formatting be tested
 * from in-memory data without root, and lets `lb stats --watch` compare two
 * snapshots to show rates.
 *
 * The snapshot keeps the raw ABI records (abi.h) rather than a grouped tree:
 * grouping slots under their service is the formatter's job, and a raw copy
 * can show the states the agent passes through (slots without a slot 0 while
 * a service is created, a slot naming a backend that is gone) instead of
 * hiding them.
 *
 * Reading a hash map with get_next_key while the agent edits it can restart
 * the walk (a deleted key sends the kernel back to the first bucket), so the
 * reader bounds the walk and cli_lb_snapshot_sort() drops the duplicates that a
 * restart produces, keeping the copy read last. The result is a best-effort view of a moving
 * target, which is what an operator's listing is; it is never written back.
 *
 * Every pinned map is checked against the layout abi.h gives (type, key and
 * value size) before it is read, so a CLI and an agent that disagree on the
 * ABI fail with a clear message instead of printing garbage.
 */
#ifndef CAPSTAN_CLI_LB_SNAPSHOT_H
#define CAPSTAN_CLI_LB_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>

#include "abi.h"

/* Default pin directory of capstan-agent. */
#define CLI_LB_BPFFS_DIR_DEFAULT "/sys/fs/bpf/capstan"

struct cli_lb_svc_entry {
	struct capstan_svc_key key;
	struct capstan_svc_val val;
};

struct cli_lb_backend_entry {
	__u32 id;
	struct capstan_backend be;
};

struct cli_lb_revnat_entry {
	__u32 id;
	struct capstan_revnat rn;
};

/* Counters summed over every CPU. */
struct cli_lb_svc_count {
	__u32 rev_nat_id;
	struct capstan_svc_counters c;
};

struct cli_lb_backend_count {
	__u32 backend_id;
	struct capstan_backend_counters c;
};

struct cli_lb_snapshot {
	struct cli_lb_svc_entry *svc; /* every key of the services map, all slots */
	size_t n_svc, cap_svc;
	struct cli_lb_backend_entry *backends;
	size_t n_backends, cap_backends;
	struct cli_lb_revnat_entry *revnat;
	size_t n_revnat, cap_revnat;
	struct cli_lb_svc_count *svc_counts;
	size_t n_svc_counts, cap_svc_counts;
	struct cli_lb_backend_count *backend_counts;
	size_t n_backend_counts, cap_backend_counts;
	__u64 drops[CAPSTAN_DROP__MAX]; /* indexed by enum capstan_drop_reason */
	bool have_counters;		/* counters and drops were read */
	bool sorted;			/* cli_lb_snapshot_sort() ran after the last add */
};

/* What cli_lb_snapshot_read() copies. */
enum cli_lb_read_what {
	CLI_LB_READ_SERVICES = 1 << 0, /* services map */
	CLI_LB_READ_BACKENDS = 1 << 1, /* backends map */
	CLI_LB_READ_REVNAT = 1 << 2,   /* rev-NAT map */
	/* counters of every service/backend read, and the drop counters */
	CLI_LB_READ_COUNTERS = 1 << 3,
};

/*
 * Read the maps named by `what` (CLI_LB_READ_*) pinned under dir into *snap (which
 * must be zeroed or freed), then sort it. 0 on success; -errno on failure with
 * a one-line message in err (for example "no capstan maps under DIR (is
 * capstan-agent running? --bpffs-dir?)" when the pins are missing, -ENOENT);
 * on failure *snap is left empty.
 */
int cli_lb_snapshot_read(const char *dir, unsigned int what, struct cli_lb_snapshot *snap,
			 char *err, size_t errlen);

/* Release what the snapshot holds and zero it. */
void cli_lb_snapshot_free(struct cli_lb_snapshot *snap);

/* Append records (used by the reader and by tests building a snapshot). */
void cli_lb_snapshot_add_svc(struct cli_lb_snapshot *snap, const struct capstan_svc_key *key,
			     const struct capstan_svc_val *val);
void cli_lb_snapshot_add_backend(struct cli_lb_snapshot *snap, __u32 id,
				 const struct capstan_backend *be);
void cli_lb_snapshot_add_revnat(struct cli_lb_snapshot *snap, __u32 id,
				const struct capstan_revnat *rn);
void cli_lb_snapshot_add_svc_count(struct cli_lb_snapshot *snap, __u32 rev_nat_id,
				   const struct capstan_svc_counters *c);
void cli_lb_snapshot_add_backend_count(struct cli_lb_snapshot *snap, __u32 backend_id,
				       const struct capstan_backend_counters *c);

/*
 * Sort every array (services by address, port, protocol, slot; the rest by
 * id) and drop duplicate keys, keeping the record added last. Idempotent.
 */
void cli_lb_snapshot_sort(struct cli_lb_snapshot *snap);

/* Lookups in a sorted snapshot; NULL when absent. */
const struct cli_lb_backend_entry *cli_lb_snapshot_backend(const struct cli_lb_snapshot *snap,
							   __u32 id);
const struct cli_lb_svc_count *cli_lb_snapshot_svc_count(const struct cli_lb_snapshot *snap,
							 __u32 rev_nat_id);
const struct cli_lb_backend_count *cli_lb_snapshot_backend_count(const struct cli_lb_snapshot *snap,
								 __u32 backend_id);

/*
 * Open the map pinned as dir/name and check it against abi.h's layout for
 * that name (one of the CAPSTAN_MAP_* names). Returns the fd (the caller
 * closes it), or -errno with a message in err: -ENOENT with "no capstan maps
 * under DIR ..." when not even the services map is pinned there, -ENOENT
 * naming the one map when only it is missing, -EPROTO when the pinned map's
 * type or sizes differ from abi.h, -EINVAL for a name abi.h does not define.
 * rdonly opens the map read-only (listings); the monitor needs read-write.
 */
int cli_lb_map_open(const char *dir, const char *name, bool rdonly, char *err, size_t errlen);

/*
 * Sum a per-CPU array value over every possible CPU: *out gets value_size
 * bytes, each __u64 field the sum of that field on every CPU (value_size
 * must be a multiple of 8). 0 on success, -errno on failure.
 */
int cli_lb_percpu_sum(int fd, __u32 key, size_t value_size, void *out);

#endif
