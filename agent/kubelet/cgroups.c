/*
 * cgroups.c - pod cgroup directories in every mounted hierarchy (see
 * cgroups.h).
 *
 * The kubelet creates a pod's cgroup before RunPodSandbox and removes it
 * after RemovePodSandbox; runc creates and removes the sandbox's and the
 * containers' cgroups below it. Only mkdir, rmdir and writes of single
 * values are used, so the same code runs against cgroupfs and against plain
 * directories in tests. A value is written only where its file exists: a
 * hierarchy without the controller (or a cgroup2 mount whose parent does
 * not delegate it) simply has no such file, which is not an error.
 *
 * QoS-level directories (burstable/, besteffort/) are created on demand and
 * never removed: they are shared by every pod of that class and cost
 * nothing empty. Rejected: mirroring upstream's QoS-level reservations
 * (cpu.shares of burstable/ recomputed from all pods): without node
 * allocatable accounting there is nothing meaningful to reserve.
 */
#include "agent/kubelet/cgroups.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

const char *kcg_qos_name(enum kcg_qos qos)
{
	switch (qos) {
	case KCG_GUARANTEED:
		return "Guaranteed";
	case KCG_BURSTABLE:
		return "Burstable";
	case KCG_BESTEFFORT:
		return "BestEffort";
	}
	return "BestEffort";
}

/* mountinfo escapes blanks in paths as octal (\040); undo it in place. */
static void unescape_octal(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

int kcg_open(const char *mountinfo, struct kcg **out)
{
	FILE *f = fopen(mountinfo ? mountinfo : "/proc/self/mountinfo", "re");
	struct kcg *cg;
	char *line = NULL;
	size_t cap = 0;
	int err = 0;

	if (!f)
		return -errno;
	cg = xcalloc(1, sizeof(*cg));
	while (getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
		char *fields[5] = { 0 }, *sep, *save = NULL, *tok, *fstype;
		int i = 0;

		sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		fstype = strtok_r(sep + 3, " \n", &save);
		if (!fstype || (strcmp(fstype, "cgroup") && strcmp(fstype, "cgroup2")))
			continue;
		save = NULL;
		for (tok = strtok_r(line, " ", &save); tok && i < 5;
		     tok = strtok_r(NULL, " ", &save))
			fields[i++] = tok;
		if (i < 5)
			continue;
		unescape_octal(fields[4]);
		cg->h = xrealloc(cg->h, (cg->n + 1) * sizeof(*cg->h));
		cg->h[cg->n].mount = xstrdup(fields[4]);
		cg->h[cg->n].v2 = strcmp(fstype, "cgroup2") == 0;
		cg->n++;
	}
	if (ferror(f))
		err = -EIO;
	else if (cg->n == 0)
		err = -ENOENT;
	free(line);
	fclose(f);
	if (err) {
		kcg_free(cg);
		return err;
	}
	*out = cg;
	return 0;
}

void kcg_free(struct kcg *cg)
{
	if (!cg)
		return;
	for (size_t i = 0; i < cg->n; i++)
		free(cg->h[i].mount);
	free(cg->h);
	free(cg);
}

/* The QoS levels below the root, indexed by enum kcg_qos. */
static const char *const qos_level[] = { "", "/burstable", "/besteffort" };

/* root as an absolute path without trailing '/' ("" for the top) into buf. */
static void normalize_root(const char *root, char *buf, size_t len)
{
	size_t rl = root ? strlen(root) : 0;

	while (rl > 0 && root[rl - 1] == '/')
		rl--;
	snprintf(buf, len, "%s%.*s", rl && root[0] != '/' ? "/" : "", (int)rl, rl ? root : "");
}

int kcg_pod_parent(const char *root, enum kcg_qos qos, const char *uid, char *buf, size_t len)
{
	char r[4096];
	int n;

	if (!uid || !*uid || strchr(uid, '/') || (unsigned)qos > KCG_BESTEFFORT || !buf)
		return -EINVAL;
	normalize_root(root, r, sizeof(r));
	n = snprintf(buf, len, "%s%s/pod%s", r, qos_level[qos], uid);
	if (n < 0 || (size_t)n >= len) {
		if (len)
			buf[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

/* dir/file into buf; false when it does not fit (then nothing is done with it). */
static bool path_join(char *buf, size_t len, const char *dir, const char *file)
{
	int n = snprintf(buf, len, "%s/%s", dir, file);

	return n >= 0 && (size_t)n < len;
}

/* Read a small file into buf (trailing newline kept). Bytes read or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	else
		buf[n] = '\0';
	close(fd);
	return n;
}

/* Write value to dir/file if that file exists. 0 (also when absent) or -errno. */
static int write_if_present(const char *dir, const char *file, const char *value)
{
	char path[4096];
	int fd, err = 0;

	if (!path_join(path, sizeof(path), dir, file))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (write(fd, value, strlen(value)) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* An empty cpuset.cpus/mems means "no CPU": copy the parent's. */
static void cpuset_inherit(const char *dir, const char *parent)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	char path[4096], cur[512], val[512];

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		if (!path_join(path, sizeof(path), dir, files[i]) ||
		    read_small(path, cur, sizeof(cur)) < 0 || (cur[0] && cur[0] != '\n'))
			continue;
		if (!path_join(path, sizeof(path), parent, files[i]) ||
		    read_small(path, val, sizeof(val)) <= 0)
			continue;
		write_if_present(dir, files[i], val);
	}
}

/* mkdir -p mount/parent, one level at a time so each level gets its cpuset. */
static int mkdir_levels(const char *mount, const char *parent)
{
	char path[4096], up[4096];
	size_t ml = strlen(mount);
	const char *p = parent;

	if (ml + strlen(parent) + 1 >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, mount, ml + 1);
	while (*p) {
		const char *slash;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		slash = strchrnul(p, '/');
		memcpy(up, path, strlen(path) + 1);
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%.*s",
			 (int)(slash - p), p);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		/* Existing levels too: one created by someone else may still be empty. */
		cpuset_inherit(path, up);
		p = slash;
	}
	return 0;
}

/* Weight from shares, as runc converts them: [2, 262144] -> [1, 10000]. */
static int64_t shares_to_weight(int64_t shares)
{
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

static int write_limits(const struct kcg_hierarchy *h, const char *dir,
			const struct kcg_limits *lim)
{
	char v[64];
	int err = 0, e;

	if (lim->cpu_shares > 0) {
		if (h->v2)
			snprintf(v, sizeof(v), "%" PRId64, shares_to_weight(lim->cpu_shares));
		else
			snprintf(v, sizeof(v), "%" PRId64, lim->cpu_shares);
		e = write_if_present(dir, h->v2 ? "cpu.weight" : "cpu.shares", v);
		err = err ? err : e;
	}
	if (lim->cpu_quota > 0 && lim->cpu_period > 0) {
		if (h->v2) {
			snprintf(v, sizeof(v), "%" PRId64 " %" PRId64, lim->cpu_quota,
				 lim->cpu_period);
			e = write_if_present(dir, "cpu.max", v);
		} else {
			/* The period first: the kernel checks quota against it. */
			snprintf(v, sizeof(v), "%" PRId64, lim->cpu_period);
			e = write_if_present(dir, "cpu.cfs_period_us", v);
			err = err ? err : e;
			snprintf(v, sizeof(v), "%" PRId64, lim->cpu_quota);
			e = write_if_present(dir, "cpu.cfs_quota_us", v);
		}
		err = err ? err : e;
	}
	if (lim->memory > 0) {
		snprintf(v, sizeof(v), "%" PRId64, lim->memory);
		e = write_if_present(dir, h->v2 ? "memory.max" : "memory.limit_in_bytes", v);
		err = err ? err : e;
	}
	return err;
}

int kcg_pod_create(const struct kcg *cg, const char *parent, const struct kcg_limits *lim,
		   char *err, size_t errlen)
{
	static const struct kcg_limits none;
	int rc = 0;

	if (!cg || !parent || parent[0] != '/') {
		snprintf(err, errlen, "bad cgroup parent");
		return -EINVAL;
	}
	for (size_t i = 0; i < cg->n; i++) {
		char dir[4096];
		int e = mkdir_levels(cg->h[i].mount, parent);

		snprintf(dir, sizeof(dir), "%s%s", cg->h[i].mount, parent);
		if (!e)
			e = write_limits(&cg->h[i], dir, lim ? lim : &none);
		if (e && !rc) {
			snprintf(err, errlen, "cgroup %s: %s", dir, strerror(-e));
			rc = e;
		}
	}
	return rc;
}

/* rmdir dir after its (empty) child cgroups, depth first. */
static int rmdir_tree(const char *dir, int depth)
{
	DIR *d;
	struct dirent *de;
	int err = 0;

	if (depth > 16)
		return -ELOOP;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char sub[4096];

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		if (!err)
			err = rmdir_tree(sub, depth + 1);
	}
	closedir(d);
	if (!err && rmdir(dir) < 0 && errno != ENOENT)
		err = -errno;
	return err;
}

int kcg_pod_remove(const struct kcg *cg, const char *parent)
{
	int rc = 0;

	if (!cg || !parent || parent[0] != '/' || !strcmp(parent, "/"))
		return -EINVAL;
	for (size_t i = 0; i < cg->n; i++) {
		char dir[4096];
		int e;

		snprintf(dir, sizeof(dir), "%s%s", cg->h[i].mount, parent);
		e = rmdir_tree(dir, 0);
		if (e && !rc)
			rc = e;
	}
	return rc;
}

static void list_level(const char *dir, const char *rel, json_t *out)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *path;

		if (de->d_type != DT_DIR || strncmp(de->d_name, "pod", 3) || !de->d_name[3])
			continue;
		path = xasprintf("%s/%s", rel, de->d_name);
		json_object_set_new(out, de->d_name + 3, json_string(path));
		free(path);
	}
	closedir(d);
}

int kcg_list_pods(const struct kcg *cg, const char *root, json_t **out)
{
	char base[4096], rel[4096], dir[4096];

	if (!cg || !out)
		return -EINVAL;
	normalize_root(root, rel, sizeof(rel));
	*out = json_object();
	for (size_t i = 0; i < cg->n; i++) {
		struct stat st;

		snprintf(base, sizeof(base), "%s%s", cg->h[i].mount, rel);
		if (stat(base, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		for (size_t l = 0; l < ARRAY_SIZE(qos_level); l++) {
			char r[4200];

			snprintf(dir, sizeof(dir), "%s%s", base, qos_level[l]);
			snprintf(r, sizeof(r), "%s%s", rel, qos_level[l]);
			list_level(dir, r, *out);
		}
		break;
	}
	return 0;
}
