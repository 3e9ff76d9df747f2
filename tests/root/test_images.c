/*
 * The project's images against a real containerd 1.6, with no outside
 * registry: capstan's registry (in this process, on 127.0.0.1:<free port>)
 * serves build/images/{httpd,udp-echo}.tar, containerd finds it through a
 * hosts.toml for capstan.local under its registry config_path, and the
 * images run in a network namespace the test creates:
 *
 *   - CRI PullImage capstan.local/httpd:1 (the kubelet's path, through the
 *     config_path), ctr runs it in the netns, curl inside the netns gets the
 *     container's hostname, and httpd logged the request;
 *   - ctr pull --hosts-dir capstan.local/udp-echo:1, run likewise, and a
 *     datagram sent inside the netns comes back as "<hostname>: <payload>";
 *   - `capstan image load` imports busybox.tar (ctr lists it, it runs), and
 *     says what failed for a file that is no image or a socket with no
 *     containerd; pause exits 0 on SIGTERM.
 *
 * Each test starts its own containerd (root, state, runc root, opt and
 * socket in the scratch directory). At the end, whatever happened: tasks and
 * containers are removed through ctr, containerd is stopped by PID, shims
 * still alive are killed by the PID in their bundle's shim.pid (and their
 * socket, named in the bundle's address file, removed), every mount below
 * the scratch directory is detached, the netns deleted, the registry
 * stopped. Images come from make (`make images`); the test fails, not
 * skips, when they are missing.
 */
#include "test.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/kubelet/cri.h"
#include "cli/image_layout.h"
#include "cli/registry.h"
#include "cli/registry_store.h"
#include "log.h"

static struct {
	char dir[200];
	char sock[256];
	char build[256];
	char netns[64];
	bool netns_made;
	pid_t pid;
	struct registry *reg;
} t;

/* ------------------------------------------------------------ helpers */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a shell command; its exit status. */
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *capture(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a shell command (stderr included); its output, trailing newlines cut. */
static char *capture(const char *fmt, ...)
{
	struct buf out = { 0 };
	char cmd[4096], chunk[4096];
	va_list ap;
	FILE *p;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	p = popen(cmd, "r");
	ASSERT_NOT_NULL(p);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		buf_append(&out, chunk, n);
	pclose(p);
	buf_append(&out, "", 0);
	while (out.len && out.data[out.len - 1] == '\n')
		out.data[--out.len] = '\0';
	return out.data;
}

static char *read_text(const char *path)
{
	return capture("cat %s", path);
}

#define CTR "ctr --address %s -n k8s.io"

/* ------------------------------------------------------------ cleanup */

/* The first line of bundle/name (at most len - 1 bytes), or "" when unreadable. */
static void bundle_file(const char *bundle, const char *name, char *buf, size_t len)
{
	char *path = xasprintf("%s/%s", bundle, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (fd >= 0)
		close(fd);
	free(path);
}

/* Kill a shim containerd left behind, and remove its socket (it cannot). */
static void kill_leftover_shim(const char *bundle)
{
	char text[512];
	int pid;

	bundle_file(bundle, "shim.pid", text, sizeof(text));
	pid = atoi(text);
	if (pid <= 1 || kill(pid, SIGKILL) != 0)
		return;
	bundle_file(bundle, "address", text, sizeof(text));
	if (!strncmp(text, "unix://", 7))
		unlink(text + 7);
}

static void kill_leftover_shims(void)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/state/io.containerd.runtime.v2.task/k8s.io", t.dir);
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		char *bundle;

		if (e->d_name[0] == '.')
			continue;
		bundle = xasprintf("%s/%s", path, e->d_name);
		kill_leftover_shim(bundle);
		free(bundle);
	}
	closedir(d);
}

static int by_length_desc(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

	return la < lb ? 1 : la > lb ? -1 : 0;
}

/* Detach the mounts below dir (overlay rootfs, shm), deepest first. */
static void detach_mounts(const char *dir)
{
	char line[4096], *mnts[256];
	size_t n = 0, dlen = strlen(dir);
	FILE *f = fopen("/proc/self/mounts", "r");

	if (!f)
		return;
	while (n < ARRAY_SIZE(mnts) && fgets(line, sizeof(line), f)) {
		char mp[4096];

		/* Our paths have no spaces, so the octal escapes never matter here. */
		if (sscanf(line, "%*s %4095s", mp) == 1 && !strncmp(mp, dir, dlen) &&
		    mp[dlen] == '/')
			mnts[n++] = xstrdup(mp);
	}
	fclose(f);
	qsort(mnts, n, sizeof(*mnts), by_length_desc);
	for (size_t i = 0; i < n; i++) {
		umount2(mnts[i], MNT_DETACH);
		free(mnts[i]);
	}
}

static void teardown(void)
{
	if (t.pid > 0) {
		sh("{ c='" CTR "'; for x in $($c tasks ls -q); do $c tasks kill -s KILL $x; done; "
		   "sleep 0.2; for x in $($c containers ls -q); do $c tasks delete -f $x; "
		   "$c containers delete $x; done; } >/dev/null 2>&1",
		   t.sock);
		kill(t.pid, SIGTERM);
		for (int i = 0; i < 500 && waitpid(t.pid, NULL, WNOHANG) != t.pid; i++)
			usleep(20000);
		if (kill(t.pid, 0) == 0) {
			kill(t.pid, SIGKILL);
			waitpid(t.pid, NULL, 0);
		}
		t.pid = 0;
	}
	kill_leftover_shims();
	detach_mounts(t.dir);
	if (t.netns_made)
		sh("ip netns delete %s 2>/dev/null", t.netns);
	t.netns_made = false;
	registry_stop(t.reg);
	t.reg = NULL;
}

/* ------------------------------------------------------------ setup */

static const char *image_path(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/images/%.64s.tar", t.build, name);
	ASSERT_MSG(access(path, R_OK) == 0, "%s missing: run `make images` first", path);
	return path;
}

/*
 * containerd in the scratch directory; with a registry when registry_images
 * is non-NULL (NULL-terminated names of tarballs in build/images), reachable as
 * capstan.local through hosts.toml under the CRI registry config_path.
 */
static void start(const char *const *registry_images)
{
	char cfg[512], certs[512], text[4096], err[512];
	const char *build = getenv("BUILD");
	FILE *f;

	test_require_root();
	if (sh("for p in containerd ctr runc containerd-shim-runc-v2 ip nsenter curl; do "
	       "command -v $p >/dev/null || exit 1; done") != 0)
		SKIP("containerd, ctr, runc, the runc shim, ip, nsenter or curl missing "
		     "(make deps installs them)");
	log_set_level("warn");
	snprintf(t.build, sizeof(t.build), "%s", build && *build ? build : "build");
	snprintf(t.dir, sizeof(t.dir), "%s", test_tmpdir());
	snprintf(t.sock, sizeof(t.sock), "%s/containerd.sock", t.dir);
	snprintf(t.netns, sizeof(t.netns), "capstan-img-%d", (int)getpid());
	snprintf(certs, sizeof(certs), "%s/certs.d", t.dir);
	test_defer(teardown);

	if (registry_images) {
		char store[512], url[64];

		snprintf(store, sizeof(store), "%s/registry", t.dir);
		for (size_t i = 0; registry_images[i]; i++)
			ASSERT_MSG(registry_add(store, image_path(registry_images[i]), err,
						sizeof(err)) == 0,
				   "registry add: %s", err);
		ASSERT_MSG(registry_start(store, "127.0.0.1:0", &t.reg, err, sizeof(err)) == 0,
			   "registry: %s", err);
		snprintf(url, sizeof(url), "http://127.0.0.1:%u", registry_port(t.reg));
		ASSERT_OK(registry_write_hosts_toml(certs, "capstan.local", url));
	}

	snprintf(text, sizeof(text),
		 "version = 2\n"
		 "root = \"%1$s/root\"\n"
		 "state = \"%1$s/state\"\n"
		 "[grpc]\n"
		 "  address = \"%2$s\"\n"
		 "[plugins.\"io.containerd.internal.v1.opt\"]\n"
		 "  path = \"%1$s/opt\"\n"
		 "[plugins.\"io.containerd.grpc.v1.cri\"]\n"
		 "  restrict_oom_score_adj = true\n"
		 "  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
		 "    runtime_type = \"io.containerd.runc.v2\"\n"
		 "    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n"
		 "      SystemdCgroup = false\n"
		 "      Root = \"%1$s/runc\"\n"
		 "  [plugins.\"io.containerd.grpc.v1.cri\".cni]\n"
		 "    bin_dir = \"%1$s/cni/bin\"\n"
		 "    conf_dir = \"%1$s/cni/net.d\"\n"
		 "  [plugins.\"io.containerd.grpc.v1.cri\".registry]\n"
		 "    config_path = \"%3$s\"\n",
		 t.dir, t.sock, certs);
	snprintf(cfg, sizeof(cfg), "%s/config.toml", t.dir);
	f = fopen(cfg, "w");
	ASSERT_NOT_NULL(f);
	fputs(text, f);
	ASSERT_OK(fclose(f));

	fflush(NULL);
	t.pid = fork();
	ASSERT(t.pid >= 0);
	if (t.pid == 0) {
		char logpath[512];
		int fd;

		prctl(PR_SET_PDEATHSIG, SIGTERM); /* the test timing out takes containerd along */
		snprintf(logpath, sizeof(logpath), "%s/containerd.log", t.dir);
		fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("containerd", "containerd", "--config", cfg, (char *)NULL);
		_exit(127);
	}
	for (int i = 0;; i++) {
		if (sh(CTR " version >/dev/null 2>&1", t.sock) == 0)
			break;
		if (i == 200 || waitpid(t.pid, NULL, WNOHANG) == t.pid) {
			char *log = capture("tail -c 1500 %s/containerd.log", t.dir);

			t.pid = 0;
			test_fail(__FILE__, __LINE__, "containerd did not start:\n%s", log);
		}
		usleep(100000);
	}
}

/* A netns with lo up and no way to reach service addresses (section 7 rule). */
static void make_netns(void)
{
	ASSERT_OK(sh("ip netns add %s", t.netns));
	t.netns_made = true;
	ASSERT_OK(sh("ip -n %1$s link set lo up && ip -n %1$s route add unreachable 10.96.0.0/12",
		     t.netns));
}

/* Run image as a detached task named id in our netns, stdout to logfile. */
static void run_in_netns(const char *image, const char *id, const char *logfile)
{
	char *out = capture(CTR " run -d --log-uri file://%s --with-ns network:/run/netns/%s %s %s",
			    t.sock, logfile, t.netns, image, id);

	ASSERT_MSG(sh(CTR " tasks ls -q | grep -qx %s", t.sock, id) == 0, "ctr run %s: %s", id,
		   out);
	free(out);
}

/* The hostname the container sees. */
static char *container_hostname(const char *id)
{
	char *h = capture(CTR " tasks exec --exec-id hn-%d %s hostname", t.sock, (int)getpid(), id);

	ASSERT_MSG(*h && !strchr(h, ' '), "hostname in %s: %s", id, h);
	return h;
}

/* ------------------------------------------------------------ tests */

TEST(images_cri_pulls_httpd_from_capstan_registry_and_it_serves)
{
	static const char *const imgs[] = { "httpd", NULL };
	Runtime__V1__PullImageRequest req = RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__PullImageResponse *resp = NULL;
	struct img_archive a;
	struct cri *cri = NULL;
	char err[512], ep[300], logfile[512], *host, *answer = NULL, *log;
	json_t *manifest;
	int ret;

	start(imgs);
	/* The image id CRI reports is the config digest of what we built. */
	ASSERT_OK(img_archive_open(image_path("httpd"), &a, err, sizeof(err)));
	manifest = img_archive_json(
		&a, json_string_value(json_object_get(
			    json_array_get(json_object_get(a.index, "manifests"), 0), "digest")));
	ASSERT_NOT_NULL(manifest);

	snprintf(ep, sizeof(ep), "unix://%s", t.sock);
	ASSERT_OK(cri_open(ep, &cri, err, sizeof(err)));
	spec.image = "capstan.local/httpd:1";
	req.image = &spec;
	ret = cri_pull_image(cri, &req, &resp, err, sizeof(err));
	ASSERT_MSG(ret == 0, "PullImage: %d %s\n%s", ret, err,
		   capture("tail -c 1500 %s/containerd.log", t.dir));
	ASSERT_STREQ(resp->image_ref, json_string_value(json_object_get(
					      json_object_get(manifest, "config"), "digest")));
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	cri_close(cri);
	json_decref(manifest);
	img_archive_close(&a);
	ASSERT_OK(sh(CTR " images ls -q | grep -qx capstan.local/httpd:1", t.sock));

	make_netns();
	snprintf(logfile, sizeof(logfile), "%s/httpd.log", t.dir);
	run_in_netns("capstan.local/httpd:1", "httpd", logfile);
	host = container_hostname("httpd");
	for (int i = 0; i < 100; i++) {
		free(answer);
		answer = capture(
			"nsenter --net=/run/netns/%s curl -s -m 2 http://127.0.0.1:80/probe",
			t.netns);
		if (!strcmp(answer, host))
			break;
		usleep(100000);
	}
	ASSERT_MSG(!strcmp(answer, host), "curl in the netns got '%s', want '%s'", answer, host);
	/* Only inside the netns: the host's port 80 is not httpd. */
	log = read_text(logfile);
	ASSERT_MSG(strstr(log, "httpd: listening on port 80") &&
			   strstr(log, "\"GET /probe HTTP/1.1\" 200"),
		   "httpd log:\n%s", log);
	free(log);

	/* SIGTERM stops it. */
	ASSERT_OK(sh(CTR " tasks kill -s SIGTERM httpd", t.sock));
	for (int i = 0; i < 50 && sh(CTR " tasks ls | grep -q 'httpd .*STOPPED'", t.sock); i++)
		usleep(100000);
	ASSERT_OK(sh(CTR " tasks ls | grep -q 'httpd .*STOPPED'", t.sock));
	free(host);
	free(answer);
}

/* Send payload to 127.0.0.1:port inside the netns; the answer, or "" after a timeout. */
static void udp_roundtrip(const char *payload, char *answer, size_t len)
{
	int pipefd[2];
	pid_t pid;
	ssize_t n;

	ASSERT_OK(pipe(pipefd));
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(5353) };
		struct timeval tv = { .tv_sec = 1 };
		char path[128], got[512];
		int nsfd, s;
		ssize_t r = 0;

		snprintf(path, sizeof(path), "/run/netns/%s", t.netns);
		nsfd = open(path, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0)
			_exit(1);
		to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s = socket(AF_INET, SOCK_DGRAM, 0);
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (sendto(s, payload, strlen(payload), 0, (struct sockaddr *)&to, sizeof(to)) >= 0)
			r = recv(s, got, sizeof(got), 0);
		if (r > 0 && write(pipefd[1], got, (size_t)r) < 0)
			_exit(1);
		_exit(0);
	}
	close(pipefd[1]);
	n = read(pipefd[0], answer, len - 1);
	answer[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);
	waitpid(pid, NULL, 0);
}

TEST(images_ctr_pulls_udp_echo_with_hosts_dir_and_it_echoes)
{
	static const char *const imgs[] = { "udp-echo", NULL };
	char logfile[512], answer[512], want[600], *host, *out, *log;

	start(imgs);
	out = capture(CTR " images pull --hosts-dir %s/certs.d capstan.local/udp-echo:1", t.sock,
		      t.dir);
	ASSERT_MSG(sh(CTR " images ls -q | grep -qx capstan.local/udp-echo:1", t.sock) == 0,
		   "ctr pull: %s", out);
	free(out);

	make_netns();
	snprintf(logfile, sizeof(logfile), "%s/udp-echo.log", t.dir);
	run_in_netns("capstan.local/udp-echo:1", "udp-echo", logfile);
	host = container_hostname("udp-echo");
	snprintf(want, sizeof(want), "%s: hello capstan", host);
	for (int i = 0; i < 20; i++) {
		udp_roundtrip("hello capstan", answer, sizeof(answer));
		if (!strcmp(answer, want))
			break;
		usleep(100000);
	}
	ASSERT_MSG(!strcmp(answer, want), "echo answered '%s', want '%s'", answer, want);
	log = read_text(logfile);
	ASSERT_MSG(strstr(log, "13 bytes, answered") != NULL, "udp-echo log:\n%s", log);
	free(log);
	free(host);
}

TEST(images_capstan_image_load_imports_and_reports_failures)
{
	char capstan[512], junk[512], loadout[512], *out;
	int rc;

	start(NULL);
	snprintf(capstan, sizeof(capstan), "%s/bin/capstan", t.build);
	ASSERT_MSG(access(capstan, X_OK) == 0, "%s missing: run make", capstan);

	out = capture("%s image load --address %s %s", capstan, t.sock, image_path("busybox"));
	ASSERT_MSG(strstr(out, "loaded") != NULL, "image load: %s", out);
	free(out);
	ASSERT_OK(sh(CTR " images ls -q | grep -qx capstan.local/busybox:1", t.sock));
	out = capture(CTR " run --rm capstan.local/busybox:1 bb-%d sh -c 'echo ok-$((6*7))'",
		      t.sock, (int)getpid());
	ASSERT_STREQ(out, "ok-42");
	free(out);

	/* Failures are reported, with exit status 1. */
	snprintf(junk, sizeof(junk), "%s/junk.tar", t.dir);
	snprintf(loadout, sizeof(loadout), "%s/load.out", t.dir);
	ASSERT_OK(sh("echo not-an-image > %s", junk));
	rc = sh("%s image load --address %s %s > %s 2>&1", capstan, t.sock, junk, loadout);
	out = read_text(loadout);
	ASSERT_MSG(rc == 1 && strstr(out, "not a valid tar archive"), "rc %d: %s", rc, out);
	free(out);
	rc = sh("%s image load --address %s/nothing.sock %s > %s 2>&1", capstan, t.dir,
		image_path("busybox"), loadout);
	out = read_text(loadout);
	ASSERT_MSG(rc == 1 && strstr(out, "no containerd socket"), "rc %d: %s", rc, out);
	free(out);
	/* ctr itself failing (a namespace name containerd refuses) is passed on */
	rc = sh("%s image load --address %s --namespace 'Bad/NS' %s > %s 2>&1", capstan, t.sock,
		image_path("busybox"), loadout);
	out = read_text(loadout);
	ASSERT_MSG(rc == 1 && strstr(out, "`ctr images import") && strstr(out, "failed (exit"),
		   "rc %d: %s", rc, out);
	free(out);
}

TEST(images_pause_exits_zero_on_sigterm)
{
	char id[64], logfile[512], *log;
	pid_t run;
	int st;

	start(NULL);
	ASSERT_OK(sh(CTR " images import %s >/dev/null", t.sock, image_path("pause")));
	snprintf(id, sizeof(id), "pause-%d", (int)getpid());
	snprintf(logfile, sizeof(logfile), "%s/pause.log", t.dir);
	/* In the foreground, ctr run exits with the task's status. */
	fflush(NULL);
	run = fork();
	ASSERT(run >= 0);
	if (run == 0) {
		char cmd[1024];

		snprintf(cmd, sizeof(cmd),
			 CTR " run --rm --log-uri file://%s capstan.local/pause:1 %s", t.sock,
			 logfile, id);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && sh(CTR " tasks ls | grep -q '%s .*RUNNING'", t.sock, id); i++)
		usleep(100000);
	ASSERT_OK(sh(CTR " tasks kill -s SIGTERM %s", t.sock, id));
	ASSERT_EQ(waitpid(run, &st, 0), run);
	log = read_text(logfile);
	ASSERT_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "ctr run: status %d, log:\n%s", st, log);
	ASSERT(strstr(log, "pause: SIGTERM, exiting") != NULL);
	free(log);
}
