/*
 * preflight.c - see preflight.h.
 *
 * The datapath check loads bpf/sock_lb.bpf.c through its skeleton with
 * pinning switched off, so it leaves nothing behind in bpffs and works
 * whether or not bpffs is mounted yet.
 */
#include "preflight.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "sock_lb.skel.h"

static int failures;

static void report(FILE *out, bool ok, const char *what, const char *detail)
{
	fprintf(out, "  %-4s %-28s %s\n", ok ? "ok" : "FAIL", what, detail);
	if (!ok)
		failures++;
}

/* The mount point of the first filesystem of this type, or "" if none. */
static void find_mount(const char *fstype, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mounts", "r");
	char dev[256], mnt[256], type[64];

	out[0] = '\0';
	if (!f)
		return;
	while (fscanf(f, "%255s %255s %63s %*[^\n]", dev, mnt, type) == 3) {
		if (strcmp(type, fstype) == 0) {
			snprintf(out, len, "%s", mnt);
			break;
		}
	}
	fclose(f);
}

static int silent_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

static void check_datapath(FILE *out)
{
	struct sock_lb *skel;
	struct bpf_map *map;
	char detail[256];
	int err;

	libbpf_set_print(silent_libbpf);
	skel = sock_lb__open();
	if (!skel) {
		snprintf(detail, sizeof(detail), "open: %s", strerror(errno));
		report(out, false, "eBPF socket LB loads", detail);
		return;
	}
	bpf_object__for_each_map(map, skel->obj)
		bpf_map__set_pin_path(map, NULL);
	err = sock_lb__load(skel);
	if (err)
		snprintf(detail, sizeof(detail), "load: %s", strerror(-err));
	else
		snprintf(detail, sizeof(detail), "connect4 verified and loaded");
	report(out, err == 0, "eBPF socket LB loads", detail);
	sock_lb__destroy(skel);
	libbpf_set_print(NULL);
}

static void check_binary(FILE *out, const char *name, const char *why)
{
	char cmd[256], detail[256];
	bool ok;

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	ok = system(cmd) == 0;
	snprintf(detail, sizeof(detail), "%s%s", ok ? "" : "missing: ", why);
	report(out, ok, name, detail);
}

int preflight_run(FILE *out)
{
	struct utsname u;
	char path[256], detail[320];

	failures = 0;
	uname(&u);
	fprintf(out, "preflight (kernel %s, %s):\n", u.release, u.machine);
	report(out, geteuid() == 0, "running as root", "the node daemons need root");
	report(out, access("/sys/kernel/btf/vmlinux", R_OK) == 0, "kernel BTF",
	       "/sys/kernel/btf/vmlinux");
	find_mount("cgroup2", path, sizeof(path));
	snprintf(detail, sizeof(detail), "%s", path[0] ? path : "no cgroup2 mount");
	report(out, path[0] != '\0', "cgroup v2 hierarchy", detail);
	find_mount("bpf", path, sizeof(path));
	fprintf(out, "  %-4s %-28s %s\n", "info", "bpffs",
		path[0] ? path : "not mounted (the agent mounts it at /sys/fs/bpf)");
	if (geteuid() == 0)
		check_datapath(out);
	check_binary(out, "containerd", "container runtime (make deps)");
	check_binary(out, "runc", "OCI runtime (make deps)");
	check_binary(out, "kubectl", "the client every command goes through");
	return failures;
}
