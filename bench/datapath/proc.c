/* proc.c - see proc.h. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

volatile sig_atomic_t proc_interrupted;

static void on_signal(int sig)
{
	proc_interrupted = 1;
}

void proc_install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	/* No SA_RESTART: a blocking wait must return EINTR so the run can stop. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

double proc_now(void)
{
	return now_mono_ns() / 1e9;
}

/* Idle and total jiffies of one CPU (cpu >= 0) or of all, from /proc/stat. */
static int cpu_times_of(int cpu, unsigned long long *idle, unsigned long long *total)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	char line[512], want[16];
	int n = 0;

	if (!f)
		return -errno;
	snprintf(want, sizeof(want), cpu < 0 ? "cpu " : "cpu%d ", cpu);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, want, strlen(want))) {
			n = sscanf(line + strlen(want), "%llu %llu %llu %llu %llu %llu %llu %llu",
				   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
			break;
		}
	fclose(f);
	if (n < 5)
		return -EIO;
	*idle = v[3] + v[4];
	*total = 0;
	for (int i = 0; i < 8; i++)
		*total += v[i];
	return 0;
}

static int cpu_times(unsigned long long *idle, unsigned long long *total)
{
	return cpu_times_of(-1, idle, total);
}

double proc_cpu_busy_s_on(int cpu)
{
	unsigned long long idle, total;
	long hz = sysconf(_SC_CLK_TCK);

	if (cpu_times_of(cpu, &idle, &total) < 0 || hz <= 0)
		return -1;
	return (double)(total - idle) / (double)hz;
}

double proc_cpu_busy_s(void)
{
	return proc_cpu_busy_s_on(-1);
}

double proc_cpu_idle(double window_s)
{
	unsigned long long i0, t0, i1, t1;
	struct timespec ts = { .tv_sec = (time_t)window_s,
			       .tv_nsec = (long)((window_s - (time_t)window_s) * 1e9) };
	int err = cpu_times(&i0, &t0);

	if (err < 0)
		return err;
	nanosleep(&ts, NULL);
	err = cpu_times(&i1, &t1);
	if (err < 0)
		return err;
	return t1 > t0 ? (double)(i1 - i0) / (double)(t1 - t0) : 1;
}

double proc_settle(double idle, double max_s)
{
	double deadline = proc_now() + max_s, got;

	do {
		got = proc_cpu_idle(0.2);
		if (proc_interrupted)
			return -EINTR;
	} while (got >= 0 && got < idle && proc_now() < deadline);
	return got;
}

int proc_write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;
	size_t len = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		err = -errno;
	close(fd);
	return err;
}

static int join_cgroup(const char *dir)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	/* "0" is the writing process itself. */
	return proc_write_file(path, "0");
}

static int enter_netns(const char *name)
{
	char path[4096];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) < 0)
		err = -errno;
	close(fd);
	return err;
}

static int redirect(const char *path, int flags, int fd1, int fd2)
{
	int fd = open(path, flags | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	if (dup2(fd, fd1) < 0 || (fd2 >= 0 && dup2(fd, fd2) < 0)) {
		close(fd);
		return -errno;
	}
	close(fd);
	return 0;
}

/* In the child: everything proc_fork promises, or exit 125 with a reason on stderr. */
static void place_child(const struct proc_opts *o)
{
	const char *what = NULL;
	int err = 0;

	/* Die with the benchmark, even when it is SIGKILLed. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(125);
	signal(SIGPIPE, SIG_DFL);
	/* The cgroup before the namespace: the order that also holds for tools that remount /sys.
	 */
	if (o->cgroup && (err = join_cgroup(o->cgroup)) < 0)
		what = o->cgroup;
	else if (o->netns && (err = enter_netns(o->netns)) < 0)
		what = o->netns;
	else if (o->stdin_path && (err = redirect(o->stdin_path, O_RDONLY, 0, -1)) < 0)
		what = o->stdin_path;
	else if (o->output_path &&
		 (err = redirect(o->output_path, O_WRONLY | O_CREAT | O_APPEND, 1, 2)) < 0)
		what = o->output_path;
	else if (!o->output_path && o->quiet && (err = redirect("/dev/null", O_WRONLY, 1, 2)) < 0)
		what = "/dev/null";
	if (err < 0) {
		fprintf(stderr, "capstan-bench-datapath: child setup (%s): %s\n", what,
			strerror(-err));
		_exit(125);
	}
}

pid_t proc_fork(const struct proc_opts *o)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		place_child(o);
	return pid;
}

int proc_wait(pid_t pid, double timeout_s, int *status)
{
	double deadline = timeout_s < 0 ? -1 : proc_now() + timeout_s;
	int pfd = pidfd_open(pid, 0), err = 0;

	if (pfd < 0)
		return -errno;
	for (;;) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };
		int ms = -1, n;

		if (deadline >= 0) {
			double left = deadline - proc_now();

			if (left <= 0) {
				err = -ETIMEDOUT;
				break;
			}
			ms = (int)(left * 1000) + 1;
		}
		n = poll(&p, 1, ms);
		if (n > 0) {
			if (waitpid(pid, status, 0) < 0)
				err = -errno;
			break;
		}
		if (n < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		if (proc_interrupted) {
			err = -EINTR;
			break;
		}
	}
	close(pfd);
	return err;
}

void proc_stop(pid_t pid, double grace_s)
{
	int status;

	if (pid <= 0)
		return;
	/* The child is ours and not yet reaped, so this PID cannot name anything else. */
	kill(pid, SIGTERM);
	if (proc_wait(pid, grace_s, &status) == 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

int proc_run(const struct proc_opts *o, char *const argv[], double timeout_s, double *elapsed_s)
{
	double start = proc_now();
	int status, err;
	pid_t pid;

	pid = proc_fork(o);
	if (pid < 0)
		return pid;
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "capstan-bench-datapath: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	err = proc_wait(pid, timeout_s, &status);
	if (elapsed_s)
		*elapsed_s = proc_now() - start;
	if (err < 0) {
		proc_stop(pid, 1);
		return err;
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int proc_runl(bool quiet, const char *netns, const char *arg0, ...)
{
	struct proc_opts o = { .netns = netns, .quiet = quiet };
	const char *argv[32];
	size_t n = 0;
	va_list ap;

	argv[n++] = arg0;
	va_start(ap, arg0);
	while (n < ARRAY_SIZE(argv) - 1 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	return proc_run(&o, (char *const *)argv, 30, NULL);
}

void proc_file_tail(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	char line[512];

	buf[0] = '\0';
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0])
			snprintf(buf, len, "%s", line);
	}
	if (f)
		fclose(f);
}
