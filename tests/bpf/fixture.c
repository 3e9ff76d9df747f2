/* fixture.c - see fixture.h. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static char bpffs_path[512];
static char cgroup_path[512];
static int cgroup_fd = -1;
static void *shared_mem;
static size_t shared_len;

void fixture_require_bpf(void)
{
	test_require_root();
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
		SKIP("kernel has no BTF (/sys/kernel/btf/vmlinux)");
}

static void fixture_cleanup(void)
{
	if (shared_mem)
		munmap(shared_mem, shared_len);
	if (cgroup_fd >= 0)
		close(cgroup_fd);
	if (cgroup_path[0] && rmdir(cgroup_path) != 0 && errno != ENOENT)
		fprintf(stderr, "fixture: rmdir %s: %s\n", cgroup_path, strerror(errno));
	if (bpffs_path[0]) {
		/* Unmounting drops every pin made in this private mount. */
		if (umount2(bpffs_path, MNT_DETACH) != 0)
			fprintf(stderr, "fixture: umount %s: %s\n", bpffs_path, strerror(errno));
		rmdir(bpffs_path);
	}
}

static void register_cleanup(void)
{
	static bool registered;

	if (!registered) {
		test_defer(fixture_cleanup);
		registered = true;
	}
}

const char *fixture_bpffs(void)
{
	if (bpffs_path[0])
		return bpffs_path;
	register_cleanup();
	snprintf(bpffs_path, sizeof(bpffs_path), "%s/bpffs", test_tmpdir());
	ASSERT_OK(mkdir(bpffs_path, 0700));
	if (mount("bpf", bpffs_path, "bpf", 0, "mode=0700") != 0) {
		int err = errno;

		rmdir(bpffs_path);
		bpffs_path[0] = '\0';
		SKIP("cannot mount bpffs: %s", strerror(err));
	}
	return bpffs_path;
}

/* The cgroup2 mount point, from /proc/self/mountinfo. */
static bool find_cgroup2(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[1024];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char mnt[256], fstype[64];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(sep, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %255s", mnt) == 1) {
			snprintf(out, len, "%.*s", (int)(len - 1), mnt);
			found = true;
		}
	}
	fclose(f);
	return found;
}

const char *fixture_cgroup(void)
{
	char root[256];

	if (cgroup_path[0])
		return cgroup_path;
	if (!find_cgroup2(root, sizeof(root)))
		SKIP("no cgroup v2 hierarchy mounted");
	register_cleanup();
	snprintf(cgroup_path, sizeof(cgroup_path), "%s/capstan-test-%d", root, (int)getpid());
	if (mkdir(cgroup_path, 0755) != 0) {
		int err = errno;

		cgroup_path[0] = '\0';
		test_fail(__FILE__, __LINE__, "mkdir cgroup: %s", strerror(err));
	}
	return cgroup_path;
}

int fixture_cgroup_fd(void)
{
	if (cgroup_fd < 0) {
		cgroup_fd = open(fixture_cgroup(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ASSERT_MSG(cgroup_fd >= 0, "open cgroup: %s", strerror(errno));
	}
	return cgroup_fd;
}

static int join_cgroup(const char *path)
{
	char procs[600];
	int fd, n;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, "0", 1);
	close(fd);
	return n == 1 ? 0 : -errno;
}

static int lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) < 0))
		err = -errno;
	close(fd);
	return err;
}

int fixture_run_child(bool join, int (*fn)(void *arg), void *arg)
{
	const char *cg = join ? fixture_cgroup() : NULL;
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		if (cg && join_cgroup(cg) < 0) {
			fprintf(stderr, "child: join cgroup: %s\n", strerror(errno));
			_exit(90);
		}
		if (unshare(CLONE_NEWNET) < 0) {
			fprintf(stderr, "child: unshare netns: %s\n", strerror(errno));
			_exit(91);
		}
		if (lo_up() < 0) {
			fprintf(stderr, "child: lo up failed\n");
			_exit(92);
		}
		/* The service range must never be routed out of this namespace. */
		if (system("ip route add unreachable 10.96.0.0/12") != 0) {
			fprintf(stderr, "child: cannot add the unreachable service route\n");
			_exit(93);
		}
		_exit(fn(arg));
	}
	while (waitpid(pid, &status, 0) < 0)
		ASSERT(errno == EINTR);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

void *fixture_shared(size_t len)
{
	ASSERT_MSG(shared_mem == NULL, "fixture_shared: one region per test");
	register_cleanup();
	shared_mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared_mem == MAP_FAILED) {
		shared_mem = NULL;
		test_fail(__FILE__, __LINE__, "mmap shared: %s", strerror(errno));
	}
	shared_len = len;
	return shared_mem;
}
