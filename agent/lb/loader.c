/* loader.c - see loader.h. */
#include "agent/lb/loader.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>

#include "log.h"
#include "sock_lb.skel.h"
#include "util.h"

struct lb_loader {
	struct sock_lb *skel;
	struct bpf_link *links[LB_LOADER_MAX_PROGS];
	struct lb_loader_program progs[LB_LOADER_MAX_PROGS];
	size_t nprogs;
	int cgroup_fd;
	unsigned long long cgroup_id;
	char *dir;
};

__attribute__((format(printf, 2, 0))) static int libbpf_to_log(enum libbpf_print_level level,
							       const char *fmt, va_list ap)
{
	enum log_level lvl = level == LIBBPF_WARN   ? LOG_LVL_WARN
			     : level == LIBBPF_INFO ? LOG_LVL_DEBUG
						    : LOG_LVL_TRACE;
	char line[1024];
	size_t n;

	if (!log_enabled(lvl))
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	/*
	 * bpf_tc_hook_create on a device that already has its clsact qdisc
	 * (every agent start after the first) fails with EEXIST, which the
	 * caller expects; libbpf still relays the kernel's note about it.
	 */
	if (lvl == LOG_LVL_WARN && strstr(line, "Exclusivity flag on"))
		lvl = LOG_LVL_DEBUG;
	if (!log_enabled(lvl))
		return 0;
	log_emit(lvl, "libbpf", 0, "%s", line);
	return 0;
}

void lb_loader_log_libbpf(void)
{
	libbpf_set_print(libbpf_to_log);
}

int lb_loader_find_cgroup2(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (rc && fgets(line, sizeof(line), f)) {
		char mnt[1024], fstype[64];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(sep, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2") != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %1023s", mnt) == 1 && strlen(mnt) < len) {
			snprintf(out, len, "%s", mnt);
			rc = 0;
		}
	}
	fclose(f);
	return rc;
}

static bool is_fs(const char *path, long magic)
{
	struct statfs s;

	return statfs(path, &s) == 0 && s.f_type == magic;
}

static bool under_bpffs_root(const char *dir)
{
	size_t n = strlen(LB_BPFFS_ROOT);

	return strncmp(dir, LB_BPFFS_ROOT, n) == 0 && (dir[n] == '/' || dir[n] == '\0');
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int lb_loader_prepare_bpffs(const char *dir, char *err, size_t errlen)
{
	char links[4096];
	int rc;

	if (under_bpffs_root(dir) && !is_fs(LB_BPFFS_ROOT, BPF_FS_MAGIC)) {
		if (mount("bpf", LB_BPFFS_ROOT, "bpf", 0, "mode=0700") < 0) {
			rc = -errno;
			snprintf(err, errlen, "mount bpffs at %s: %s", LB_BPFFS_ROOT,
				 strerror(-rc));
			return rc;
		}
		log_info("mounted bpffs at %s", LB_BPFFS_ROOT);
	}
	snprintf(links, sizeof(links), "%s/links", dir);
	rc = mkdir_p(links, 0700);
	if (rc < 0) {
		snprintf(err, errlen, "create %s: %s", links, strerror(-rc));
		return rc;
	}
	if (!is_fs(dir, BPF_FS_MAGIC)) {
		snprintf(err, errlen, "%s is not on a bpffs (mount -t bpf bpf DIR)", dir);
		return -EINVAL;
	}
	return 0;
}

static int link_info(int fd, struct bpf_link_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

static unsigned prog_id(struct bpf_program *prog)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
		return 0;
	return info.id;
}

/* Can this pinned link carry prog? Same kind of link, same cgroup, same hook. */
static bool link_fits(struct lb_loader *l, struct bpf_link *link, struct bpf_program *prog)
{
	struct bpf_link_info info;

	if (link_info(bpf_link__fd(link), &info) < 0)
		return false;
	return info.type == BPF_LINK_TYPE_CGROUP && info.cgroup.cgroup_id == l->cgroup_id &&
	       info.cgroup.attach_type == bpf_program__expected_attach_type(prog);
}

static int attach_one(struct lb_loader *l, struct bpf_program *prog, char *err, size_t errlen)
{
	struct lb_loader_program *p = &l->progs[l->nprogs];
	struct bpf_link *old = NULL, *link = NULL;
	struct bpf_link_info info;
	char path[4096];
	bool had_pin;
	int rc;

	snprintf(p->name, sizeof(p->name), "%s", bpf_program__name(prog));
	snprintf(path, sizeof(path), "%s/links/%s", l->dir, p->name);
	had_pin = access(path, F_OK) == 0;
	if (had_pin) {
		old = bpf_link__open(path);
		if (!old)
			log_warn("%s: pinned link %s cannot be opened (%s), attaching anew",
				 p->name, path, strerror(errno));
	}
	if (old && link_fits(l, old, prog)) {
		rc = bpf_link__update_program(old, prog);
		if (rc == 0) {
			link = old;
			old = NULL;
			p->action = LB_ATTACH_UPDATED;
		} else {
			log_warn("%s: swapping the program into the pinned link failed (%s), "
				 "attaching a new link",
				 p->name, strerror(-rc));
		}
	}
	if (!link) {
		link = bpf_program__attach_cgroup(prog, l->cgroup_fd);
		if (!link) {
			rc = -errno;
			snprintf(err, errlen, "attach %s to the cgroup: %s", p->name,
				 strerror(-rc));
			goto out;
		}
		/* The new link is attached before the old pin goes: no gap. */
		if (unlink(path) < 0 && errno != ENOENT) {
			rc = -errno;
			snprintf(err, errlen, "remove stale pin %s: %s", path, strerror(-rc));
			goto out;
		}
		rc = bpf_link__pin(link, path);
		if (rc < 0) {
			snprintf(err, errlen, "pin %s: %s", path, strerror(-rc));
			goto out;
		}
		p->action = had_pin ? LB_ATTACH_REPLACED : LB_ATTACH_NEW;
	}
	p->link_id = link_info(bpf_link__fd(link), &info) == 0 ? info.id : 0;
	p->prog_id = prog_id(prog);
	l->links[l->nprogs++] = link;
	link = NULL;
	rc = 0;
out:
	/* Closing a link fd leaves the link alive while it is pinned; an old
	 * link whose pin was removed above is detached here. */
	bpf_link__destroy(link);
	bpf_link__destroy(old);
	return rc;
}

/*
 * Maps of earlier layouts, replaced by a new name (abi.h): their pins are
 * removed once the programs use the new ones. A program still holding one
 * (a tc filter not replaced yet) keeps it alive until it is replaced.
 */
static const char *const retired_maps[] = {
	"capstan_svc_v1", /* services map, 65,536 entries */
	"capstan_vip_v1", /* service addresses, 16,384 */
	"capstan_be_v1",   "capstan_cfg_v1",  "capstan_scnt_v1",
	"capstan_bcnt_v1", "capstan_drop_v1", "capstan_evt_v1",
};

static void drop_retired_maps(const struct lb_loader *l)
{
	for (size_t i = 0; i < ARRAY_SIZE(retired_maps); i++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", l->dir, retired_maps[i]);
		if (unlink(path) == 0)
			log_info("removed %s: a map of an earlier layout", path);
		else if (errno != ENOENT)
			log_warn("cannot remove %s: %s", path, strerror(errno));
	}
}

/* Release pinned links of programs the object no longer has (detaches them). */
static void drop_stale_links(struct lb_loader *l)
{
	char path[4096];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/links", l->dir);
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d))) {
		bool known = false;

		if (e->d_name[0] == '.')
			continue;
		for (size_t i = 0; i < l->nprogs && !known; i++)
			known = strcmp(l->progs[i].name, e->d_name) == 0;
		if (known)
			continue;
		snprintf(path, sizeof(path), "%s/links/%s", l->dir, e->d_name);
		if (unlink(path) == 0)
			log_info("released pinned link %s: the program no longer exists", path);
		else
			log_warn("cannot remove stale link %s: %s", path, strerror(errno));
	}
	closedir(d);
}

static const char *action_name(enum lb_attach_action a)
{
	switch (a) {
	case LB_ATTACH_NEW:
		return "attached";
	case LB_ATTACH_UPDATED:
		return "swapped into its pinned link";
	default:
		return "attached, unusable pinned link replaced";
	}
}

int lb_loader_open(const struct lb_loader_config *cfg, struct lb_loader **out, char *err,
		   size_t errlen)
{
	struct lb_loader *l = xcalloc(1, sizeof(*l));
	struct bpf_program *prog;
	struct stat st;
	int rc;

	l->cgroup_fd = -1;
	l->dir = xstrdup(cfg->bpffs_dir);
	rc = lb_loader_prepare_bpffs(l->dir, err, errlen);
	if (rc < 0)
		goto fail;
	l->cgroup_fd = open(cfg->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->cgroup_fd < 0 || fstat(l->cgroup_fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "open cgroup %s: %s", cfg->cgroup_path, strerror(-rc));
		goto fail;
	}
	if (!is_fs(cfg->cgroup_path, CGROUP2_SUPER_MAGIC)) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s is not a cgroup v2 directory", cfg->cgroup_path);
		goto fail;
	}
	/* On cgroup v2 the directory's inode number is the cgroup id. */
	l->cgroup_id = st.st_ino;

	{
		LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = l->dir);

		l->skel = sock_lb__open_opts(&opts);
	}
	if (!l->skel) {
		rc = -errno;
		snprintf(err, errlen, "open the BPF object: %s", strerror(-rc));
		goto fail;
	}
	rc = sock_lb__load(l->skel);
	if (rc < 0) {
		snprintf(err, errlen,
			 "load the BPF object: %s (see the libbpf messages above; a pinned map "
			 "of another layout in %s is refused)",
			 strerror(-rc), l->dir);
		goto fail;
	}
	bpf_object__for_each_program(prog, l->skel->obj) {
		if (l->nprogs == LB_LOADER_MAX_PROGS) {
			rc = -E2BIG;
			snprintf(err, errlen, "more than %d programs", LB_LOADER_MAX_PROGS);
			goto fail;
		}
		rc = attach_one(l, prog, err, errlen);
		if (rc < 0)
			goto fail;
		log_info("program %s %s (link %u, program %u)", l->progs[l->nprogs - 1].name,
			 action_name(l->progs[l->nprogs - 1].action),
			 l->progs[l->nprogs - 1].link_id, l->progs[l->nprogs - 1].prog_id);
	}
	drop_stale_links(l);
	drop_retired_maps(l);
	*out = l;
	return 0;
fail:
	lb_loader_close(l);
	return rc;
}

struct bpf_object *lb_loader_object(struct lb_loader *l)
{
	return l->skel->obj;
}

size_t lb_loader_programs(const struct lb_loader *l, const struct lb_loader_program **progs)
{
	*progs = l->progs;
	return l->nprogs;
}

void lb_loader_close(struct lb_loader *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nprogs; i++)
		bpf_link__destroy(l->links[i]);
	sock_lb__destroy(l->skel);
	if (l->cgroup_fd >= 0)
		close(l->cgroup_fd);
	free(l->dir);
	free(l);
}

static int remove_pin(const char *path, int *first, char *err, size_t errlen)
{
	if (unlink(path) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	if (!*first) {
		*first = -errno;
		snprintf(err, errlen, "remove %s: %s", path, strerror(errno));
	}
	return 0;
}

int lb_loader_cleanup(const char *dir, char *err, size_t errlen)
{
	struct sock_lb *skel = NULL;
	struct bpf_map *map;
	struct dirent *e;
	char path[4096];
	int first = 0, n = 0;
	DIR *d;

	err[0] = '\0';
	snprintf(path, sizeof(path), "%s/links", dir);
	d = opendir(path);
	if (d) {
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/links/%s", dir, e->d_name);
			n += remove_pin(path, &first, err, errlen);
		}
		closedir(d);
		snprintf(path, sizeof(path), "%s/links", dir);
		if (rmdir(path) < 0 && errno != ENOENT && !first) {
			first = -errno;
			snprintf(err, errlen, "remove %s: %s", path, strerror(errno));
		}
	}
	log_info("%d pinned links removed from %s/links", n, dir);

	/* The maps the object declares, and any older layout of ours (capstan_*_vN). */
	n = 0;
	skel = sock_lb__open();
	if (skel) {
		bpf_object__for_each_map(map, skel->obj) {
			snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map));
			n += remove_pin(path, &first, err, errlen);
		}
		sock_lb__destroy(skel);
	}
	d = opendir(dir);
	if (d) {
		while ((e = readdir(d))) {
			if (strncmp(e->d_name, "capstan_", 8) != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			n += remove_pin(path, &first, err, errlen);
		}
		closedir(d);
	}
	log_info("%d pinned maps removed from %s", n, dir);
	if (rmdir(dir) < 0 && errno != ENOENT) {
		if (errno == ENOTEMPTY || errno == EEXIST)
			log_warn("%s is not empty; left in place", dir);
		else if (!first) {
			first = -errno;
			snprintf(err, errlen, "remove %s: %s", dir, strerror(errno));
		}
	}
	return first;
}
