/*
 * Unit tests for agent/kubelet/cgroups.c: cgroup parent naming per QoS,
 * hierarchies read from a mountinfo, and creating, limiting, listing and
 * removing pod cgroups in hierarchies that are plain scratch directories.
 */
#include "test.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/kubelet/cgroups.h"
#include "jsonx.h"
#include "util.h"

TEST(kubelet_cgroups_parent_per_qos)
{
	char buf[128];

	ASSERT_OK(kcg_pod_parent("/kubepods", KCG_GUARANTEED, "u1", buf, sizeof(buf)));
	ASSERT_STREQ(buf, "/kubepods/podu1");
	ASSERT_OK(kcg_pod_parent("/kubepods", KCG_BURSTABLE, "u1", buf, sizeof(buf)));
	ASSERT_STREQ(buf, "/kubepods/burstable/podu1");
	ASSERT_OK(kcg_pod_parent("/kubepods/", KCG_BESTEFFORT, "u1", buf, sizeof(buf)));
	ASSERT_STREQ(buf, "/kubepods/besteffort/podu1");
	ASSERT_OK(kcg_pod_parent("kubepods", KCG_GUARANTEED, "u1", buf, sizeof(buf)));
	ASSERT_STREQ(buf, "/kubepods/podu1");
	ASSERT_OK(kcg_pod_parent("/", KCG_BURSTABLE, "u1", buf, sizeof(buf)));
	ASSERT_STREQ(buf, "/burstable/podu1");
	ASSERT_OK(kcg_pod_parent(NULL, KCG_GUARANTEED, "u1", buf, sizeof(buf)));
	ASSERT_STREQ(buf, "/podu1");
	ASSERT_EQ(kcg_pod_parent("/kubepods", KCG_GUARANTEED, "", buf, sizeof(buf)), -EINVAL);
	ASSERT_EQ(kcg_pod_parent("/kubepods", KCG_GUARANTEED, "../x", buf, sizeof(buf)), -EINVAL);
	ASSERT_EQ(kcg_pod_parent("/kubepods", (enum kcg_qos)7, "u", buf, sizeof(buf)), -EINVAL);
	ASSERT_EQ(kcg_pod_parent("/kubepods", KCG_BURSTABLE, "u1", buf, 10), -ENAMETOOLONG);
	ASSERT_STREQ(buf, "");
	ASSERT_STREQ(kcg_qos_name(KCG_BURSTABLE), "Burstable");
	ASSERT_STREQ(kcg_qos_name(KCG_GUARANTEED), "Guaranteed");
	ASSERT_STREQ(kcg_qos_name(KCG_BESTEFFORT), "BestEffort");
}

/* A mountinfo whose cgroup mounts are directories under the scratch dir. */
static struct kcg *fake_hierarchies(void)
{
	const char *tmp = test_tmpdir();
	char path[512];
	struct kcg *cg = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/mountinfo", tmp);
	f = fopen(path, "w");
	ASSERT_NOT_NULL(f);
	fprintf(f, "22 1 0:21 / /proc rw,nosuid - proc proc rw\n");
	fprintf(f, "31 23 0:28 / %s/cg rw,relatime - tmpfs tmpfs rw,mode=755\n", tmp);
	fprintf(f, "32 31 0:29 / %s/cg/cpu rw,relatime shared:9 - cgroup cgroup rw,cpu\n", tmp);
	fprintf(f, "35 31 0:32 / %s/cg/my\\040memory rw,relatime - cgroup cgroup rw,memory\n", tmp);
	fprintf(f, "34 31 0:31 / %s/cg/cpuset rw,relatime - cgroup cgroup rw,cpuset\n", tmp);
	fprintf(f, "41 31 0:38 / %s/cg/unified rw,relatime - cgroup2 cgroup2 rw\n", tmp);
	fprintf(f, "garbage line\n");
	fclose(f);
	for (const char *d = "cg\0cg/cpu\0cg/my memory\0cg/cpuset\0cg/unified\0"; *d;
	     d += strlen(d) + 1) {
		snprintf(path, sizeof(path), "%s/%s", tmp, d);
		ASSERT_OK(mkdir(path, 0755));
	}
	snprintf(path, sizeof(path), "%s/mountinfo", tmp);
	ASSERT_OK(kcg_open(path, &cg));
	return cg;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ASSERT_MSG(f != NULL, "open %s", path);
	fputs(text, f);
	fclose(f);
}

static const char *read_file(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;

	ASSERT_MSG(f != NULL, "open %s", path);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

TEST(kubelet_cgroups_reads_mountinfo)
{
	struct kcg *cg = fake_hierarchies();
	char path[512];

	ASSERT_EQ(cg->n, 4);
	snprintf(path, sizeof(path), "%s/cg/my memory", test_tmpdir());
	ASSERT_STREQ(cg->h[1].mount, path); /* \040 unescaped */
	ASSERT(!cg->h[0].v2 && cg->h[3].v2);
	kcg_free(cg);
	ASSERT_EQ(kcg_open("/nonexistent/mountinfo", &cg), -ENOENT);
	snprintf(path, sizeof(path), "%s/empty", test_tmpdir());
	write_file(path, "22 1 0:21 / /proc rw - proc proc rw\n");
	ASSERT_EQ(kcg_open(path, &cg), -ENOENT);
	kcg_free(NULL);
}

TEST(kubelet_cgroups_create_limits_list_remove)
{
	struct kcg *cg = fake_hierarchies();
	const char *tmp = test_tmpdir();
	struct kcg_limits lim = {
		.cpu_shares = 1024, .cpu_quota = 50000, .cpu_period = 100000, .memory = 1 << 30
	};
	char path[512], err[256];
	json_t *pods;

	/* The cpuset root has CPUs; a new level must inherit them. */
	snprintf(path, sizeof(path), "%s/cg/cpuset/cpuset.cpus", tmp);
	write_file(path, "0-3\n");
	snprintf(path, sizeof(path), "%s/cg/cpuset/kubepods", tmp);
	ASSERT_OK(mkdir(path, 0755));
	snprintf(path, sizeof(path), "%s/cg/cpuset/kubepods/cpuset.cpus", tmp);
	write_file(path, "\n");
	ASSERT_OK(kcg_pod_create(cg, "/kubepods/burstable/podu1", NULL, err, sizeof(err)));
	for (size_t i = 0; i < cg->n; i++) {
		snprintf(path, sizeof(path), "%s/kubepods/burstable/podu1", cg->h[i].mount);
		ASSERT_MSG(is_dir(path), "%s missing", path);
	}
	snprintf(path, sizeof(path), "%s/cg/cpuset/kubepods/cpuset.cpus", tmp);
	ASSERT_STREQ(read_file(path), "0-3\n");
	/* Control files the kernel would create, so the limits have somewhere to go. */
	for (const char *f = "cpu/kubepods/burstable/podu1/cpu.shares\0"
			     "cpu/kubepods/burstable/podu1/cpu.cfs_period_us\0"
			     "cpu/kubepods/burstable/podu1/cpu.cfs_quota_us\0"
			     "my memory/kubepods/burstable/podu1/memory.limit_in_bytes\0"
			     "unified/kubepods/burstable/podu1/cpu.weight\0"
			     "unified/kubepods/burstable/podu1/memory.max\0";
	     *f; f += strlen(f) + 1) {
		snprintf(path, sizeof(path), "%s/cg/%s", tmp, f);
		write_file(path, "");
	}
	ASSERT_OK(kcg_pod_create(cg, "/kubepods/burstable/podu1", &lim, err, sizeof(err)));
	snprintf(path, sizeof(path), "%s/cg/cpu/kubepods/burstable/podu1/cpu.shares", tmp);
	ASSERT_STREQ(read_file(path), "1024");
	snprintf(path, sizeof(path), "%s/cg/cpu/kubepods/burstable/podu1/cpu.cfs_quota_us", tmp);
	ASSERT_STREQ(read_file(path), "50000");
	snprintf(path, sizeof(path), "%s/cg/cpu/kubepods/burstable/podu1/cpu.cfs_period_us", tmp);
	ASSERT_STREQ(read_file(path), "100000");
	snprintf(path, sizeof(path),
		 "%s/cg/my memory/kubepods/burstable/podu1/memory.limit_in_bytes", tmp);
	ASSERT_STREQ(read_file(path), "1073741824");
	snprintf(path, sizeof(path), "%s/cg/unified/kubepods/burstable/podu1/cpu.weight", tmp);
	ASSERT_STREQ(read_file(path), "39"); /* 1 + (1024 - 2) * 9999 / 262142 */
	snprintf(path, sizeof(path), "%s/cg/unified/kubepods/burstable/podu1/memory.max", tmp);
	ASSERT_STREQ(read_file(path), "1073741824");

	ASSERT_OK(kcg_pod_create(cg, "/kubepods/podu2", NULL, err, sizeof(err)));
	ASSERT_OK(kcg_list_pods(cg, "/kubepods", &pods));
	ASSERT_EQ(json_object_size(pods), 2);
	ASSERT_STREQ(jsonx_str(pods, "u1", ""), "/kubepods/burstable/podu1");
	ASSERT_STREQ(jsonx_str(pods, "u2", ""), "/kubepods/podu2");
	json_decref(pods);

	/* A leftover container cgroup below the pod is removed with it. */
	snprintf(path, sizeof(path), "%s/cg/unified/kubepods/podu2/sandbox1", tmp);
	ASSERT_OK(mkdir(path, 0755));
	ASSERT_OK(kcg_pod_remove(cg, "/kubepods/podu2"));
	snprintf(path, sizeof(path), "%s/cg/unified/kubepods/podu2", tmp);
	ASSERT(!is_dir(path));
	snprintf(path, sizeof(path), "%s/cg/unified/kubepods", tmp);
	ASSERT(is_dir(path)); /* the levels above stay */
	/* Removing again is fine; a non-empty one is reported (on tmpfs: files inside). */
	ASSERT_OK(kcg_pod_remove(cg, "/kubepods/podu2"));
	ASSERT_EQ(kcg_pod_remove(cg, "/kubepods/burstable/podu1"), -ENOTEMPTY);
	ASSERT_EQ(kcg_pod_remove(cg, "/"), -EINVAL);
	ASSERT_EQ(kcg_pod_remove(cg, "relative"), -EINVAL);
	ASSERT_EQ(kcg_pod_create(cg, "relative", NULL, err, sizeof(err)), -EINVAL);
	ASSERT_OK(kcg_list_pods(cg, "/nothing", &pods));
	ASSERT_EQ(json_object_size(pods), 0);
	json_decref(pods);
	kcg_free(cg);
}
