/*
 * The CRI client (agent/kubelet/cri.h) against a real containerd 1.6.
 *
 * Each test starts its own containerd: root, state, sockets, runc state,
 * CNI directories (empty: the pods use the host network) and config all
 * live in the test's scratch directory, and pod cgroups go under a parent
 * named for this process. At the end, whatever the outcome, the pods are
 * removed through CRI, containerd is stopped by PID, leftovers in our
 * cgroups and our shims are killed by PID, every mount below the scratch
 * directory is detached (deepest first, before the harness deletes the
 * tree) and the cgroup directories are removed.
 *
 * containerd 1.6 places shim sockets in /run/containerd/s (named by a hash
 * of our socket path, removed when the shims exit, or by us when a shim had
 * to be killed); nothing else goes outside the scratch directory (runc's
 * state root is set in the config).
 */
#include "test.h"
#include "sha256.h"
#include "util.h"

#include "agent/kubelet/cri.h"

#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <regex.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BUSYBOX "capstan.local/busybox:1"
#define PAUSE "capstan.local/pause:1"

static struct {
	char dir[200];
	char sock[256];
	char cgparent[64]; /* "/capstan-test-cri-<pid>" */
	pid_t pid;
	struct cri *cri;
} ctd;

/* ------------------------------------------------------------ cleanup */

static void remove_all_pods(void)
{
	Runtime__V1__ListPodSandboxRequest lreq = RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__ListPodSandboxResponse *l = NULL;
	char err[256];

	if (!ctd.cri || cri_list_pod_sandbox(ctd.cri, &lreq, &l, err, sizeof(err)) != 0)
		return;
	for (size_t i = 0; i < l->n_items; i++) {
		Runtime__V1__StopPodSandboxRequest s = RUNTIME__V1__STOP_POD_SANDBOX_REQUEST__INIT;
		Runtime__V1__RemovePodSandboxRequest r =
			RUNTIME__V1__REMOVE_POD_SANDBOX_REQUEST__INIT;
		Runtime__V1__StopPodSandboxResponse *sr = NULL;
		Runtime__V1__RemovePodSandboxResponse *rr = NULL;

		s.pod_sandbox_id = r.pod_sandbox_id = l->items[i]->id;
		if (cri_stop_pod_sandbox(ctd.cri, &s, &sr, err, sizeof(err)) == 0)
			protobuf_c_message_free_unpacked(&sr->base, NULL);
		if (cri_remove_pod_sandbox(ctd.cri, &r, &rr, err, sizeof(err)) == 0)
			protobuf_c_message_free_unpacked(&rr->base, NULL);
	}
	protobuf_c_message_free_unpacked(&l->base, NULL);
}

static bool wait_exit(pid_t pid, int ms)
{
	for (int i = 0; i < ms / 20; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return true;
		usleep(20000);
	}
	return false;
}

/* Processes left in our pod cgroups (only if CRI removal failed). */
static int kill_cgroup_procs(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	char procs[PATH_MAX];
	FILE *f;
	int pid;

	if (flag != FTW_D)
		return 0;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	f = fopen(procs, "r");
	if (!f)
		return 0;
	while (fscanf(f, "%d", &pid) == 1)
		if (pid > 1)
			kill(pid, SIGKILL);
	fclose(f);
	return 0;
}

static int rmdir_cgroup(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP)
		rmdir(path);
	return 0;
}

static void for_each_cgroup_hierarchy(int (*fn)(const char *, const struct stat *, int,
						struct FTW *),
				      int flags)
{
	DIR *d = opendir("/sys/fs/cgroup");
	struct dirent *e;
	char path[PATH_MAX];

	if (!d)
		return;
	snprintf(path, sizeof(path), "/sys/fs/cgroup%s", ctd.cgparent);
	nftw(path, fn, 16, flags | FTW_PHYS);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/fs/cgroup/%s%s", e->d_name, ctd.cgparent);
		nftw(path, fn, 16, flags | FTW_PHYS);
	}
	closedir(d);
}

/* Remove what CRI could not, through containerd's own API (as ctr sees it). */
static void remove_all_tasks(void)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd),
		 "{ c='ctr --address %s -n k8s.io'; "
		 "for t in $($c tasks ls -q); do $c tasks kill -s KILL $t; done; "
		 "for t in $($c containers ls -q); do "
		 "$c tasks delete -f $t; $c containers delete $t; done; } >/dev/null 2>&1",
		 ctd.sock);
	if (system(cmd) != 0) {
		/* Best effort: what is left is killed by PID below. */
	}
}

/*
 * Last resort for shims still running after containerd stopped: ours name
 * our socket in "-address". containerd 1.6 puts a shim's socket at
 * /run/containerd/s/<hex sha256 of "<address>/<namespace>/<id>">; a killed
 * shim cannot remove it, so we do.
 */
static void kill_our_shims(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		const char *id = NULL, *ns = NULL, *addr = NULL;
		char path[64], sock[128], cmd[4096], *key;
		uint8_t digest[SHA256_DIGEST_LEN];
		char hex[SHA256_HEX_LEN];
		int pid = atoi(e->d_name), fd;
		ssize_t n;

		if (pid <= 1 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		if (n <= 0)
			continue;
		cmd[n] = '\0';
		if (!strstr(cmd, "containerd-shim")) /* argv[0] */
			continue;
		for (char *a = cmd; a < cmd + n; a += strlen(a) + 1) {
			char *next = a + strlen(a) + 1;

			if (next >= cmd + n)
				break;
			if (!strcmp(a, "-id"))
				id = next;
			else if (!strcmp(a, "-namespace"))
				ns = next;
			else if (!strcmp(a, "-address"))
				addr = next;
		}
		if (!addr || strcmp(addr, ctd.sock) != 0)
			continue;
		kill(pid, SIGKILL);
		if (!id || !ns)
			continue;
		key = xasprintf("%s/%s/%s", addr, ns, id);
		sha256_buf(key, strlen(key), digest);
		sha256_hex(digest, hex);
		snprintf(sock, sizeof(sock), "/run/containerd/s/%s", hex);
		unlink(sock);
		free(key);
	}
	closedir(d);
}

static int cmp_len_desc(const void *a, const void *b)
{
	return (int)strlen(*(char *const *)b) - (int)strlen(*(char *const *)a);
}

/* Detach every mount below dir, deepest first; repeats for stacked mounts. */
static void umount_below(const char *dir)
{
	size_t dlen = strlen(dir);

	for (int round = 0; round < 8; round++) {
		FILE *f = fopen("/proc/self/mountinfo", "r");
		char line[4096], *mnts[512];
		size_t n = 0;

		if (!f)
			return;
		while (n < ARRAY_SIZE(mnts) && fgets(line, sizeof(line), f)) {
			char mp[4096], dec[4096];
			size_t o = 0;

			if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
				continue;
			/* mountinfo escapes space, tab, newline and backslash as \ooo. */
			for (size_t i = 0; mp[i]; i++) {
				if (mp[i] == '\\' && mp[i + 1] && mp[i + 2] && mp[i + 3]) {
					dec[o++] = (char)strtol(
						(char[]){ mp[i + 1], mp[i + 2], mp[i + 3], 0 },
						NULL, 8);
					i += 3;
				} else {
					dec[o++] = mp[i];
				}
			}
			dec[o] = '\0';
			if (strncmp(dec, dir, dlen) == 0 && dec[dlen] == '/')
				mnts[n++] = xstrdup(dec);
		}
		fclose(f);
		if (n == 0)
			return;
		qsort(mnts, n, sizeof(mnts[0]), cmp_len_desc);
		for (size_t i = 0; i < n; i++) {
			umount2(mnts[i], MNT_DETACH);
			free(mnts[i]);
		}
	}
}

static void containerd_stop(void)
{
	remove_all_pods();
	cri_close(ctd.cri);
	ctd.cri = NULL;
	if (ctd.pid > 0)
		remove_all_tasks();
	if (ctd.pid > 0) {
		kill(ctd.pid, SIGTERM);
		if (!wait_exit(ctd.pid, 10000)) {
			kill(ctd.pid, SIGKILL);
			waitpid(ctd.pid, NULL, 0);
		}
		ctd.pid = 0;
	}
	for_each_cgroup_hierarchy(kill_cgroup_procs, 0);
	kill_our_shims();
	usleep(100000);
	umount_below(ctd.dir);
	for_each_cgroup_hierarchy(rmdir_cgroup, FTW_DEPTH);
}

/* ------------------------------------------------------------ setup */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ASSERT_MSG(f, "cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	ASSERT_OK(fclose(f));
}

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	ASSERT_MSG(st == 0, "`%s` failed (status %d)", cmd, st);
}

static void log_tail(char *buf, size_t len)
{
	char cmd[512];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "tail -c %zu %s/containerd.log 2>&1", len - 1, ctd.dir);
	p = popen(cmd, "r");
	n = p ? fread(buf, 1, len - 1, p) : 0;
	buf[n] = '\0';
	if (p)
		pclose(p);
}

/* Start containerd in the scratch directory and import the two images. */
static void containerd_start(void)
{
	Runtime__V1__VersionRequest vreq = RUNTIME__V1__VERSION_REQUEST__INIT;
	Runtime__V1__VersionResponse *v = NULL;
	char cfg[PATH_MAX], text[4096], err[256], ep[300];
	int ret = -1;

	test_require_root();
	if (system("command -v containerd >/dev/null && command -v ctr >/dev/null && "
		   "command -v runc >/dev/null && command -v containerd-shim-runc-v2 >/dev/null") !=
	    0)
		SKIP("containerd, ctr, runc or containerd-shim-runc-v2 missing (make deps)");
	/* The image builder is run as `bash tests/images/...`: the runner's cwd is the repo. */
	if (access("tests/images/build-image.sh", R_OK) != 0)
		test_fail(__FILE__, __LINE__, "run from the repository root (tests/images/)");

	snprintf(ctd.dir, sizeof(ctd.dir), "%s", test_tmpdir());
	snprintf(ctd.sock, sizeof(ctd.sock), "%s/containerd.sock", ctd.dir);
	snprintf(ctd.cgparent, sizeof(ctd.cgparent), "/capstan-test-cri-%d", (int)getpid());
	test_defer(containerd_stop);
	run("mkdir -p %1$s/cni/bin %1$s/cni/net.d %1$s/opt", ctd.dir);

	snprintf(text, sizeof(text),
		 "version = 2\n"
		 "root = \"%1$s/root\"\n"
		 "state = \"%1$s/state\"\n"
		 "disabled_plugins = [\"io.containerd.snapshotter.v1.aufs\", "
		 "\"io.containerd.snapshotter.v1.btrfs\", \"io.containerd.snapshotter.v1.zfs\", "
		 "\"io.containerd.snapshotter.v1.devmapper\"]\n"
		 "[grpc]\n"
		 "  address = \"%2$s\"\n"
		 "[plugins.\"io.containerd.internal.v1.opt\"]\n"
		 "  path = \"%1$s/opt\"\n"
		 "[plugins.\"io.containerd.grpc.v1.cri\"]\n"
		 "  restrict_oom_score_adj = true\n"
		 "  sandbox_image = \"" PAUSE "\"\n"
		 "  [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
		 "    snapshotter = \"overlayfs\"\n"
		 "    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
		 "      runtime_type = \"io.containerd.runc.v2\"\n"
		 "      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n"
		 "        SystemdCgroup = false\n"
		 "        Root = \"%1$s/runc\"\n"
		 "  [plugins.\"io.containerd.grpc.v1.cri\".cni]\n"
		 "    bin_dir = \"%1$s/cni/bin\"\n"
		 "    conf_dir = \"%1$s/cni/net.d\"\n",
		 ctd.dir, ctd.sock);
	snprintf(cfg, sizeof(cfg), "%s/config.toml", ctd.dir);
	write_file(cfg, text);

	fflush(NULL);
	ctd.pid = fork();
	ASSERT(ctd.pid >= 0);
	if (ctd.pid == 0) {
		char logpath[PATH_MAX];
		int fd;

		/* If this test process dies (timeout), containerd goes too. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		snprintf(logpath, sizeof(logpath), "%s/containerd.log", ctd.dir);
		fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("containerd", "containerd", "--config", cfg, (char *)NULL);
		_exit(127);
	}

	snprintf(ep, sizeof(ep), "unix://%s", ctd.sock);
	ASSERT_OK(cri_open(ep, &ctd.cri, err, sizeof(err)));
	for (int i = 0; i < 300 && ret != 0; i++) {
		if (waitpid(ctd.pid, NULL, WNOHANG) == ctd.pid) {
			ctd.pid = 0;
			log_tail(text, 1500);
			test_fail(__FILE__, __LINE__, "containerd exited:\n%s", text);
		}
		ret = cri_version(ctd.cri, &vreq, &v, err, sizeof(err));
		if (ret != 0)
			usleep(100000);
	}
	if (ret != 0) {
		log_tail(text, 1500);
		test_fail(__FILE__, __LINE__, "containerd CRI not ready: %d %s\n%s", ret, err,
			  text);
	}
	protobuf_c_message_free_unpacked(&v->base, NULL);

	run("bash tests/images/build-image.sh %s/busybox.tar " BUSYBOX " >/dev/null", ctd.dir);
	run("bash tests/images/build-image.sh %s/pause.tar " PAUSE " sleep 2147483647 >/dev/null",
	    ctd.dir);
	run("ctr --address %s -n k8s.io images import %s/busybox.tar >/dev/null", ctd.sock,
	    ctd.dir);
	run("ctr --address %s -n k8s.io images import %s/pause.tar >/dev/null", ctd.sock, ctd.dir);
}

/* ------------------------------------------------------------ helpers */

static Runtime__V1__Image *image_status(const char *ref, Runtime__V1__ImageStatusResponse **keep)
{
	Runtime__V1__ImageStatusRequest req = RUNTIME__V1__IMAGE_STATUS_REQUEST__INIT;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	char err[256];

	spec.image = (char *)ref;
	req.image = &spec;
	*keep = NULL;
	ASSERT_MSG(cri_image_status(ctd.cri, &req, keep, err, sizeof(err)) == 0, "%s", err);
	return (*keep)->image;
}

static bool has_string(char **list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

/* The pod every test runs: host network, so no CNI is needed. */
struct pod {
	Runtime__V1__PodSandboxConfig cfg;
	Runtime__V1__PodSandboxMetadata meta;
	Runtime__V1__LinuxPodSandboxConfig linux_;
	Runtime__V1__LinuxSandboxSecurityContext sec;
	Runtime__V1__NamespaceOption ns;
	Runtime__V1__PodSandboxConfig__LabelsEntry label, *labels[1];
	char logdir[PATH_MAX];
	char *id;
};

static void pod_init(struct pod *p)
{
	*p = (struct pod){
		.cfg = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT,
		.meta = RUNTIME__V1__POD_SANDBOX_METADATA__INIT,
		.linux_ = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT,
		.sec = RUNTIME__V1__LINUX_SANDBOX_SECURITY_CONTEXT__INIT,
		.ns = RUNTIME__V1__NAMESPACE_OPTION__INIT,
		.label = RUNTIME__V1__POD_SANDBOX_CONFIG__LABELS_ENTRY__INIT,
	};
	p->meta.name = "crit";
	p->meta.uid = "uid-1";
	p->meta.namespace_ = "default";
	snprintf(p->logdir, sizeof(p->logdir), "%s/logs/default_crit_uid-1", ctd.dir);
	run("mkdir -p %s/main", p->logdir);
	p->ns.network = RUNTIME__V1__NAMESPACE_MODE__NODE;
	p->ns.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
	p->ns.ipc = RUNTIME__V1__NAMESPACE_MODE__POD;
	p->sec.namespace_options = &p->ns;
	p->linux_.security_context = &p->sec;
	p->linux_.cgroup_parent = ctd.cgparent;
	p->label.key = "capstan-test";
	p->label.value = "cri";
	p->labels[0] = &p->label;
	p->cfg.metadata = &p->meta;
	p->cfg.log_directory = p->logdir;
	p->cfg.linux_ = &p->linux_;
	p->cfg.n_labels = 1;
	p->cfg.labels = p->labels;
}

static Runtime__V1__ContainerStatusResponse *container_status(const char *id)
{
	Runtime__V1__ContainerStatusRequest req = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
	Runtime__V1__ContainerStatusResponse *resp = NULL;
	char err[256];

	req.container_id = (char *)id;
	req.verbose = true;
	ASSERT_MSG(cri_container_status(ctd.cri, &req, &resp, err, sizeof(err)) == 0, "%s", err);
	ASSERT_NOT_NULL(resp->status);
	return resp;
}

/* The pid from the verbose "info" JSON of ContainerStatus. */
static long status_pid(const Runtime__V1__ContainerStatusResponse *s)
{
	long pid = -1;

	for (size_t i = 0; i < s->n_info; i++) {
		json_t *j;

		if (strcmp(s->info[i]->key, "info") != 0)
			continue;
		j = json_loads(s->info[i]->value, 0, NULL);
		pid = (long)json_integer_value(json_object_get(j, "pid"));
		json_decref(j);
	}
	return pid;
}

static size_t count_containers(const char *sandbox_id)
{
	Runtime__V1__ListContainersRequest req = RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
	Runtime__V1__ContainerFilter filter = RUNTIME__V1__CONTAINER_FILTER__INIT;
	Runtime__V1__ListContainersResponse *resp = NULL;
	char err[256];
	size_t n;

	if (sandbox_id) {
		filter.pod_sandbox_id = (char *)sandbox_id;
		req.filter = &filter;
	}
	ASSERT_MSG(cri_list_containers(ctd.cri, &req, &resp, err, sizeof(err)) == 0, "%s", err);
	n = resp->n_containers;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return n;
}

static Runtime__V1__ListPodSandboxResponse *list_pods(const char *id, bool by_label)
{
	Runtime__V1__ListPodSandboxRequest req = RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__PodSandboxFilter filter = RUNTIME__V1__POD_SANDBOX_FILTER__INIT;
	Runtime__V1__PodSandboxFilter__LabelSelectorEntry sel =
		RUNTIME__V1__POD_SANDBOX_FILTER__LABEL_SELECTOR_ENTRY__INIT;
	Runtime__V1__PodSandboxFilter__LabelSelectorEntry *sels[1] = { &sel };
	Runtime__V1__ListPodSandboxResponse *resp = NULL;
	char err[256];

	filter.id = id ? (char *)id : "";
	if (by_label) {
		sel.key = "capstan-test";
		sel.value = "cri";
		filter.n_label_selector = 1;
		filter.label_selector = sels;
	}
	req.filter = &filter;
	ASSERT_MSG(cri_list_pod_sandbox(ctd.cri, &req, &resp, err, sizeof(err)) == 0, "%s", err);
	return resp;
}

static ProtobufCMessage *exec_sync(const char *id, char **cmd, size_t ncmd,
				   Runtime__V1__ExecSyncResponse **out)
{
	Runtime__V1__ExecSyncRequest req = RUNTIME__V1__EXEC_SYNC_REQUEST__INIT;
	char err[256];

	req.container_id = (char *)id;
	req.cmd = cmd;
	req.n_cmd = ncmd;
	req.timeout = 10;
	*out = NULL;
	ASSERT_MSG(cri_exec_sync(ctd.cri, &req, out, err, sizeof(err)) == 0, "exec: %s", err);
	return &(*out)->base;
}

/* Wait for the container's first log line; returns it (static). */
static const char *first_log_line(const char *path)
{
	static char line[512];

	for (int i = 0; i < 100; i++) {
		FILE *f = fopen(path, "r");

		if (f) {
			bool got = fgets(line, sizeof(line), f) && strchr(line, '\n');

			fclose(f);
			if (got)
				return line;
		}
		usleep(50000);
	}
	test_fail(__FILE__, __LINE__, "no log line in %s", path);
}

/* ------------------------------------------------------------ tests */

TEST(cri_containerd_version_status_images)
{
	Runtime__V1__VersionRequest vreq = RUNTIME__V1__VERSION_REQUEST__INIT;
	Runtime__V1__VersionResponse *v = NULL;
	Runtime__V1__StatusRequest sreq = RUNTIME__V1__STATUS_REQUEST__INIT;
	Runtime__V1__StatusResponse *s = NULL;
	Runtime__V1__ListImagesRequest lreq = RUNTIME__V1__LIST_IMAGES_REQUEST__INIT;
	Runtime__V1__ListImagesResponse *l = NULL;
	Runtime__V1__RemoveImageRequest rreq = RUNTIME__V1__REMOVE_IMAGE_REQUEST__INIT;
	Runtime__V1__RemoveImageResponse *r = NULL;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__ImageStatusResponse *keep;
	Runtime__V1__Image *img;
	bool runtime_ready = false, found = false;
	char err[256];

	containerd_start();

	vreq.version = "v1";
	ASSERT_MSG(cri_version(ctd.cri, &vreq, &v, err, sizeof(err)) == 0, "%s", err);
	ASSERT_STREQ(v->runtime_name, "containerd");
	ASSERT_STREQ(v->runtime_api_version, "v1");
	ASSERT_MSG(strncmp(v->runtime_version, "1.6", 3) == 0 ||
			   strncmp(v->runtime_version, "v1.6", 4) == 0,
		   "runtime version %s", v->runtime_version);
	protobuf_c_message_free_unpacked(&v->base, NULL);

	ASSERT_MSG(cri_status(ctd.cri, &sreq, &s, err, sizeof(err)) == 0, "%s", err);
	ASSERT_NOT_NULL(s->status);
	for (size_t i = 0; i < s->status->n_conditions; i++) {
		Runtime__V1__RuntimeCondition *c = s->status->conditions[i];

		if (strcmp(c->type, "RuntimeReady") == 0)
			runtime_ready = c->status;
		/* No CNI configuration in conf_dir: the pod network is not ready. */
		if (strcmp(c->type, "NetworkReady") == 0) {
			ASSERT(!c->status);
			ASSERT(c->reason[0] != '\0');
		}
	}
	ASSERT(runtime_ready);
	protobuf_c_message_free_unpacked(&s->base, NULL);

	img = image_status(BUSYBOX, &keep);
	ASSERT_NOT_NULL(img);
	ASSERT(strncmp(img->id, "sha256:", 7) == 0);
	ASSERT(has_string(img->repo_tags, img->n_repo_tags, BUSYBOX));
	ASSERT(img->size > 0);
	protobuf_c_message_free_unpacked(&keep->base, NULL);
	/* Absent: success with no image. */
	ASSERT_NULL(image_status("capstan.local/absent:1", &keep));
	protobuf_c_message_free_unpacked(&keep->base, NULL);

	ASSERT_MSG(cri_list_images(ctd.cri, &lreq, &l, err, sizeof(err)) == 0, "%s", err);
	for (size_t i = 0; i < l->n_images; i++)
		found |= has_string(l->images[i]->repo_tags, l->images[i]->n_repo_tags, PAUSE);
	ASSERT(found);
	protobuf_c_message_free_unpacked(&l->base, NULL);

	spec.image = BUSYBOX;
	rreq.image = &spec;
	ASSERT_MSG(cri_remove_image(ctd.cri, &rreq, &r, err, sizeof(err)) == 0, "%s", err);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	ASSERT_NULL(image_status(BUSYBOX, &keep));
	protobuf_c_message_free_unpacked(&keep->base, NULL);
}

TEST(cri_containerd_pod_lifecycle)
{
	struct pod pod;
	Runtime__V1__RunPodSandboxRequest runreq = RUNTIME__V1__RUN_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__RunPodSandboxResponse *run_resp = NULL;
	Runtime__V1__PodSandboxStatusRequest psreq = RUNTIME__V1__POD_SANDBOX_STATUS_REQUEST__INIT;
	Runtime__V1__PodSandboxStatusResponse *ps = NULL;
	Runtime__V1__ListPodSandboxResponse *pl;
	Runtime__V1__ContainerConfig cc = RUNTIME__V1__CONTAINER_CONFIG__INIT;
	Runtime__V1__ContainerMetadata cmeta = RUNTIME__V1__CONTAINER_METADATA__INIT;
	Runtime__V1__ImageSpec cimg = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__LinuxContainerConfig clinux = RUNTIME__V1__LINUX_CONTAINER_CONFIG__INIT;
	Runtime__V1__LinuxContainerSecurityContext csec =
		RUNTIME__V1__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
	Runtime__V1__CreateContainerRequest creq = RUNTIME__V1__CREATE_CONTAINER_REQUEST__INIT;
	Runtime__V1__CreateContainerResponse *cresp = NULL;
	Runtime__V1__StartContainerRequest sreq = RUNTIME__V1__START_CONTAINER_REQUEST__INIT;
	Runtime__V1__StartContainerResponse *sresp = NULL;
	Runtime__V1__ReopenContainerLogRequest rlreq =
		RUNTIME__V1__REOPEN_CONTAINER_LOG_REQUEST__INIT;
	Runtime__V1__ReopenContainerLogResponse *rlresp = NULL;
	Runtime__V1__StopContainerRequest stopreq = RUNTIME__V1__STOP_CONTAINER_REQUEST__INIT;
	Runtime__V1__StopContainerResponse *stopresp = NULL;
	Runtime__V1__RemoveContainerRequest rmreq = RUNTIME__V1__REMOVE_CONTAINER_REQUEST__INIT;
	Runtime__V1__RemoveContainerResponse *rmresp = NULL;
	Runtime__V1__StopPodSandboxRequest spreq = RUNTIME__V1__STOP_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__StopPodSandboxResponse *spresp = NULL;
	Runtime__V1__RemovePodSandboxRequest rpreq = RUNTIME__V1__REMOVE_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__RemovePodSandboxResponse *rpresp = NULL;
	Runtime__V1__ContainerStatusResponse *cs;
	Runtime__V1__ExecSyncResponse *ex;
	char *cmd[] = { "sh", "-c", "echo hello; sleep 300" };
	char *echo_hi[] = { "echo", "hi" }, *fail[] = { "false" };
	char err[256], logpath[PATH_MAX + 16], procpath[64];
	const char *line;
	char *cid;
	regex_t re;
	uint64_t t0;
	long pid;

	containerd_start();
	pod_init(&pod);

	/* Sandbox. */
	runreq.config = &pod.cfg;
	ASSERT_MSG(cri_run_pod_sandbox(ctd.cri, &runreq, &run_resp, err, sizeof(err)) == 0,
		   "RunPodSandbox: %s", err);
	pod.id = xstrdup(run_resp->pod_sandbox_id);
	protobuf_c_message_free_unpacked(&run_resp->base, NULL);
	ASSERT(strlen(pod.id) == 64);

	psreq.pod_sandbox_id = pod.id;
	ASSERT_MSG(cri_pod_sandbox_status(ctd.cri, &psreq, &ps, err, sizeof(err)) == 0, "%s", err);
	ASSERT_STREQ(ps->status->id, pod.id);
	ASSERT_EQ(ps->status->state, RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY);
	ASSERT_STREQ(ps->status->metadata->name, "crit");
	ASSERT_STREQ(ps->status->metadata->namespace_, "default");
	ASSERT(ps->status->created_at > 0);
	ASSERT_NOT_NULL(ps->status->linux_);
	ASSERT_EQ(ps->status->linux_->namespaces->options->network,
		  RUNTIME__V1__NAMESPACE_MODE__NODE);
	ASSERT_EQ(ps->status->n_labels, 1);
	ASSERT_STREQ(ps->status->labels[0]->key, "capstan-test");
	protobuf_c_message_free_unpacked(&ps->base, NULL);

	pl = list_pods(pod.id, false);
	ASSERT_EQ(pl->n_items, 1);
	ASSERT_STREQ(pl->items[0]->id, pod.id);
	ASSERT_EQ(pl->items[0]->state, RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY);
	protobuf_c_message_free_unpacked(&pl->base, NULL);
	pl = list_pods(NULL, true);
	ASSERT_EQ(pl->n_items, 1);
	protobuf_c_message_free_unpacked(&pl->base, NULL);

	/* Container. */
	cmeta.name = "main";
	cimg.image = BUSYBOX;
	csec.namespace_options = &pod.ns;
	clinux.security_context = &csec;
	cc.metadata = &cmeta;
	cc.image = &cimg;
	cc.command = cmd;
	cc.n_command = ARRAY_SIZE(cmd);
	cc.log_path = "main/0.log";
	cc.linux_ = &clinux;
	creq.pod_sandbox_id = pod.id;
	creq.config = &cc;
	creq.sandbox_config = &pod.cfg;
	ASSERT_MSG(cri_create_container(ctd.cri, &creq, &cresp, err, sizeof(err)) == 0,
		   "CreateContainer: %s", err);
	cid = xstrdup(cresp->container_id);
	protobuf_c_message_free_unpacked(&cresp->base, NULL);
	cs = container_status(cid);
	ASSERT_EQ(cs->status->state, RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED);
	protobuf_c_message_free_unpacked(&cs->base, NULL);

	sreq.container_id = cid;
	ASSERT_MSG(cri_start_container(ctd.cri, &sreq, &sresp, err, sizeof(err)) == 0,
		   "StartContainer: %s", err);
	protobuf_c_message_free_unpacked(&sresp->base, NULL);

	cs = container_status(cid);
	ASSERT_EQ(cs->status->state, RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING);
	ASSERT(cs->status->started_at > 0);
	ASSERT_STREQ(cs->status->metadata->name, "main");
	snprintf(logpath, sizeof(logpath), "%s/main/0.log", pod.logdir);
	ASSERT_STREQ(cs->status->log_path, logpath);
	pid = status_pid(cs);
	protobuf_c_message_free_unpacked(&cs->base, NULL);
	ASSERT_MSG(pid > 1, "no pid in the verbose status");
	snprintf(procpath, sizeof(procpath), "/proc/%ld", pid);
	ASSERT_OK(access(procpath, F_OK));
	ASSERT_EQ(count_containers(pod.id), 1);

	/* The log: "<RFC3339Nano> stdout F hello". */
	line = first_log_line(logpath);
	ASSERT_OK(regcomp(&re,
			  "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?"
			  "(Z|[+-][0-9]{2}:[0-9]{2}) stdout F hello\n$",
			  REG_EXTENDED | REG_NOSUB));
	ASSERT_MSG(regexec(&re, line, 0, NULL, 0) == 0, "log line: %s", line);
	regfree(&re);
	rlreq.container_id = cid;
	ASSERT_MSG(cri_reopen_container_log(ctd.cri, &rlreq, &rlresp, err, sizeof(err)) == 0,
		   "ReopenContainerLog: %s", err);
	protobuf_c_message_free_unpacked(&rlresp->base, NULL);

	/* ExecSync. */
	exec_sync(cid, echo_hi, ARRAY_SIZE(echo_hi), &ex);
	ASSERT_EQ(ex->exit_code, 0);
	ASSERT_EQ(ex->stdout.len, 3);
	ASSERT(memcmp(ex->stdout.data, "hi\n", 3) == 0);
	ASSERT_EQ(ex->stderr.len, 0);
	protobuf_c_message_free_unpacked(&ex->base, NULL);
	exec_sync(cid, fail, ARRAY_SIZE(fail), &ex);
	ASSERT_EQ(ex->exit_code, 1);
	protobuf_c_message_free_unpacked(&ex->base, NULL);

	/* Stop: sh is PID 1 of its namespace and ignores SIGTERM, so the grace
	 * period runs out and it is killed: exit code 128 + SIGKILL. */
	stopreq.container_id = cid;
	stopreq.timeout = 1;
	t0 = now_mono_ns();
	ASSERT_MSG(cri_stop_container(ctd.cri, &stopreq, &stopresp, err, sizeof(err)) == 0,
		   "StopContainer: %s", err);
	protobuf_c_message_free_unpacked(&stopresp->base, NULL);
	ASSERT(now_mono_ns() - t0 >= 900 * 1000000ull);
	cs = container_status(cid);
	ASSERT_EQ(cs->status->state, RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED);
	ASSERT_EQ(cs->status->exit_code, 137);
	ASSERT(cs->status->finished_at >= cs->status->started_at);
	protobuf_c_message_free_unpacked(&cs->base, NULL);
	ASSERT(access(procpath, F_OK) != 0);

	rmreq.container_id = cid;
	ASSERT_MSG(cri_remove_container(ctd.cri, &rmreq, &rmresp, err, sizeof(err)) == 0, "%s",
		   err);
	protobuf_c_message_free_unpacked(&rmresp->base, NULL);
	ASSERT_EQ(count_containers(pod.id), 0);

	/* Sandbox down. */
	spreq.pod_sandbox_id = pod.id;
	ASSERT_MSG(cri_stop_pod_sandbox(ctd.cri, &spreq, &spresp, err, sizeof(err)) == 0, "%s",
		   err);
	protobuf_c_message_free_unpacked(&spresp->base, NULL);
	ASSERT_MSG(cri_pod_sandbox_status(ctd.cri, &psreq, &ps, err, sizeof(err)) == 0, "%s", err);
	ASSERT_EQ(ps->status->state, RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY);
	protobuf_c_message_free_unpacked(&ps->base, NULL);
	rpreq.pod_sandbox_id = pod.id;
	ASSERT_MSG(cri_remove_pod_sandbox(ctd.cri, &rpreq, &rpresp, err, sizeof(err)) == 0, "%s",
		   err);
	protobuf_c_message_free_unpacked(&rpresp->base, NULL);
	pl = list_pods(NULL, false);
	ASSERT_EQ(pl->n_items, 0);
	protobuf_c_message_free_unpacked(&pl->base, NULL);
	ASSERT_EQ(count_containers(NULL), 0);

	/* Unknown ids: NotFound, with the runtime's message. */
	ps = NULL;
	ASSERT_EQ(cri_pod_sandbox_status(ctd.cri, &psreq, &ps, err, sizeof(err)), CRI_NOT_FOUND);
	ASSERT_NULL(ps);
	ASSERT(err[0] != '\0');
	cs = NULL;
	{
		Runtime__V1__ContainerStatusRequest q = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;

		q.container_id = "0123456789abcdef-no-such-container";
		err[0] = '\0';
		ASSERT_EQ(cri_container_status(ctd.cri, &q, &cs, err, sizeof(err)), CRI_NOT_FOUND);
		ASSERT_NULL(cs);
		ASSERT(strstr(err, "not found") || strstr(err, "no such"));
	}
	free(cid);
	free(pod.id);
}
