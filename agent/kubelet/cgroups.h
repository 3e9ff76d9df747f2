/*
 * cgroups.h - pod cgroups in the cgroupfs layout (kcg_).
 *
 * containerd runs with SystemdCgroup = false, so a sandbox's
 * LinuxPodSandboxConfig.cgroup_parent is a plain path that runc creates its
 * container cgroups under, in every hierarchy it joins. The kubelet owns the
 * levels above: <cgroup_root> (default /kubepods), the QoS level
 * (Guaranteed pods directly below the root, Burstable under burstable/,
 * BestEffort under besteffort/) and the pod level pod<uid>, where the
 * pod-wide CPU shares, CFS quota and memory limit are written.
 *
 * Which hierarchies: every cgroup (v1) and cgroup2 mount in mountinfo, not a
 * fixed list of controllers, because on a hybrid host runc joins all of them
 * (name=systemd and the unified one included) and fails when a parent is
 * missing in one. Hierarchies are read once (kcg_open); mount points are
 * used as found, so tests point kcg_open at a fake mountinfo whose mounts
 * are plain directories in a scratch dir.
 */
#ifndef CAPSTAN_KUBELET_CGROUPS_H
#define CAPSTAN_KUBELET_CGROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum kcg_qos {
	KCG_GUARANTEED = 0,
	KCG_BURSTABLE,
	KCG_BESTEFFORT,
};

/* "Guaranteed", "Burstable", "BestEffort" (the Pod's status.qosClass). */
const char *kcg_qos_name(enum kcg_qos qos);

struct kcg_hierarchy {
	char *mount; /* mount point, e.g. /sys/fs/cgroup/memory */
	bool v2;     /* cgroup2 */
};

struct kcg {
	struct kcg_hierarchy *h;
	size_t n;
};

/*
 * Read the cgroup mounts from mountinfo (NULL: /proc/self/mountinfo).
 * 0 with *out set; -ENOENT when there is no cgroup mount at all; -errno
 * when the file cannot be read.
 */
int kcg_open(const char *mountinfo, struct kcg **out);
void kcg_free(struct kcg *cg);

/*
 * The pod's cgroup parent: "<root>/pod<uid>", "<root>/burstable/pod<uid>" or
 * "<root>/besteffort/pod<uid>" (root "/kubepods" by default, "" or "/" for
 * the top). 0; -EINVAL for an empty uid or a uid with '/' or a bad qos;
 * -ENAMETOOLONG when it does not fit in len.
 */
int kcg_pod_parent(const char *root, enum kcg_qos qos, const char *uid, char *buf, size_t len);

/* Pod-level limits; 0 leaves a value alone. */
struct kcg_limits {
	int64_t cpu_shares; /* cgroup v1 cpu.shares (v2 cpu.weight converted) */
	int64_t cpu_quota;  /* us per period; with cpu_period */
	int64_t cpu_period; /* us */
	int64_t memory;	    /* bytes */
};

/*
 * Create parent (and the levels above it) in every hierarchy and write the
 * limits into whichever of cpu.shares, cpu.cfs_period_us, cpu.cfs_quota_us,
 * memory.limit_in_bytes (v1) and cpu.weight, cpu.max, memory.max (v2) exist
 * there. In a cpuset hierarchy, new levels inherit cpuset.cpus/mems (an
 * empty cpuset cannot hold tasks). 0 on success; -errno with a message in
 * err for the first failure (the other hierarchies are still tried).
 */
int kcg_pod_create(const struct kcg *cg, const char *parent, const struct kcg_limits *lim,
		   char *err, size_t errlen);

/*
 * Remove parent, with any empty cgroups left below it, from every
 * hierarchy; missing is fine. 0, or -EBUSY / -ENOTEMPTY while something
 * still lives there (try again later).
 */
int kcg_pod_remove(const struct kcg *cg, const char *parent);

/*
 * The pod cgroups under root in the first hierarchy that has root: a new
 * object { uid: parent path } in *out. 0 or -errno; root missing everywhere
 * gives an empty object.
 */
int kcg_list_pods(const struct kcg *cg, const char *root, json_t **out);

#endif
