/*
 * loader.h - loads the socket load balancer (bpf/sock_lb.bpf.c) and keeps
 * it attached across agent restarts.
 *
 * Maps are pinned by name under the bpffs directory (libbpf's pin_root_path
 * with LIBBPF_PIN_BY_NAME), so a restarted agent reuses them and every
 * service, backend, affinity entry and counter survives. Programs are
 * attached to the cgroup through BPF links, and each link is pinned at
 * <bpffs dir>/links/<program name>: a pinned link keeps its program
 * attached when the agent exits or crashes. On the next start the loader
 * opens the pinned link and swaps the freshly loaded program in with
 * BPF_LINK_UPDATE, an atomic replacement: there is no moment without
 * translation, and no moment with two programs either.
 *
 * A pinned link that cannot be reused (it points at another cgroup because
 * --cgroup-path changed, its attach type differs, or the pin is not a link)
 * is replaced the safe way round: the new link is attached and pinned
 * first, the old one released after. Pinned links of programs the object
 * no longer has are released at the end, which detaches them.
 *
 * The loader iterates over the object's programs and maps generically, so
 * a new hook in sock_lb.bpf.c needs no change here.
 *
 * lb_loader_cleanup undoes it all (for `capstan down` and tests): removing
 * the link pins detaches the programs (no process holds them), removing
 * the map pins frees the maps.
 */
#ifndef CAPSTAN_AGENT_LB_LOADER_H
#define CAPSTAN_AGENT_LB_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#define LB_BPFFS_ROOT "/sys/fs/bpf"
#define LB_BPFFS_DEFAULT_DIR LB_BPFFS_ROOT "/capstan"

struct lb_loader_config {
	const char *bpffs_dir;	 /* pin directory, on a bpffs */
	const char *cgroup_path; /* cgroup v2 directory the hooks attach to */
};

enum lb_attach_action {
	LB_ATTACH_NEW,	    /* no pinned link: attached and pinned */
	LB_ATTACH_UPDATED,  /* pinned link reused, program swapped in */
	LB_ATTACH_REPLACED, /* pinned link unusable: new link, old released */
};

struct lb_loader_program {
	char name[64];
	enum lb_attach_action action;
	unsigned link_id;
	unsigned prog_id;
};

#define LB_LOADER_MAX_PROGS 32

struct lb_loader;
struct bpf_object;

/*
 * Prepare the bpffs directory (see lb_loader_prepare_bpffs), load the
 * object with its maps pinned there, attach every program to the cgroup.
 * 0 on success with *out set; -errno with a message in err (bad cgroup
 * path, directory not on a bpffs, verifier or pinned-map mismatch, attach
 * failure). On failure nothing that was already attached is detached:
 * either the old programs still run or nothing was attached yet.
 */
int lb_loader_open(const struct lb_loader_config *cfg, struct lb_loader **out, char *err,
		   size_t errlen);
/* The loaded object (for its maps). */
struct bpf_object *lb_loader_object(struct lb_loader *l);
/* What happened to each program. */
size_t lb_loader_programs(const struct lb_loader *l, const struct lb_loader_program **progs);
/* Release the process's handles; pinned links and maps stay (and keep working). */
void lb_loader_close(struct lb_loader *l);

/*
 * Make dir usable for pins: when it is under /sys/fs/bpf and no bpffs is
 * mounted there, mount one; create dir and dir/links (mode 0700). 0, or
 * -errno with a message (for instance when dir is not on a bpffs).
 */
int lb_loader_prepare_bpffs(const char *dir, char *err, size_t errlen);

/*
 * Remove the link pins (detaching the programs) and the map pins under dir,
 * then the directories. A missing directory is not an error. 0, or the
 * first -errno with a message.
 */
int lb_loader_cleanup(const char *dir, char *err, size_t errlen);

/* The first cgroup2 mount point in /proc/self/mountinfo. 0, or -ENOENT. */
int lb_loader_find_cgroup2(char *out, size_t len);

/* Send libbpf's messages through lib/log (warn -> warn, info -> debug, debug -> trace). */
void lb_loader_log_libbpf(void);

#endif
