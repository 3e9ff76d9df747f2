/*
 * proc.h - the processes of the datapath benchmark: started in a network
 * namespace (and a cgroup), waited for with a deadline, ended by PID.
 *
 * Every process the benchmark starts is a direct child forked here: the
 * child joins its cgroup first (the socket hooks follow the cgroup), then
 * enters its network namespace with setns() (as `nsenter --net` does; `ip
 * netns exec` would remount /sys and hide the cgroup and bpffs mounts), and
 * asks the kernel to kill it when the benchmark dies (PR_SET_PDEATHSIG), so
 * even a SIGKILLed run leaves no load generator, server or agent behind.
 *
 * Waits go through a pidfd, so a timed command (iptables-restore) is timed
 * to the microsecond and a Ctrl-C interrupts every wait: the SIGINT/SIGTERM
 * handler sets proc_interrupted and every loop here checks it.
 */
#ifndef CAPSTAN_BENCH_PROC_H
#define CAPSTAN_BENCH_PROC_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Set by the SIGINT/SIGTERM/SIGHUP handler (proc_install_signals). */
extern volatile sig_atomic_t proc_interrupted;

/* Where and how a child starts; every field may be left 0/NULL. */
struct proc_opts {
	const char *netns;	 /* name under /run/netns to enter, or NULL */
	const char *cgroup;	 /* cgroup v2 directory to join first, or NULL */
	const char *stdin_path;	 /* redirect stdin from this file */
	const char *output_path; /* redirect stdout and stderr to this file (appended) */
	bool quiet;		 /* stdout and stderr to /dev/null (unless output_path) */
};

/* Handlers for SIGINT, SIGTERM and SIGHUP that set proc_interrupted (no SA_RESTART). */
void proc_install_signals(void);

/*
 * Fork a child placed as o says. Returns the child's PID in the parent, 0 in
 * the child (which is then in its cgroup and namespace), -errno when fork
 * fails. A child that cannot be placed exits with status 125 at once.
 */
pid_t proc_fork(const struct proc_opts *o);

/*
 * Run argv[0] (looked up in PATH) placed as o says and wait for it at most
 * timeout_s seconds (then it is killed). Returns its exit status (0..255),
 * -ETIMEDOUT, -EINTR when interrupted, or -errno; sets *elapsed_s (when not
 * NULL) to the wall time from fork to exit.
 */
int proc_run(const struct proc_opts *o, char *const argv[], double timeout_s, double *elapsed_s);

/*
 * proc_run with argv given inline (NULL-terminated) and a 30 s limit; the
 * output is shown unless quiet (cleanup of what may already be gone).
 */
int proc_runl(bool quiet, const char *netns, const char *arg0, ...) __attribute__((sentinel));

/*
 * Wait for child pid at most timeout_s seconds (< 0: no limit). Returns 0
 * with *status (waitpid form) when it exited and was reaped, -ETIMEDOUT,
 * -EINTR (proc_interrupted), or -errno.
 */
int proc_wait(pid_t pid, double timeout_s, int *status);

/*
 * End a child the benchmark started: SIGTERM, up to grace_s seconds, then
 * SIGKILL; always reaps it. A pid <= 0 is ignored. Never signals anything
 * but this one (still unreaped, hence never reused) PID.
 */
void proc_stop(pid_t pid, double grace_s);

/* Write text to an existing file (a cgroup or sysctl knob) in one write. 0 or -errno. */
int proc_write_file(const char *path, const char *text);

/* The last non-empty line of a log file, "" when there is none (for error messages). */
void proc_file_tail(const char *path, char *buf, size_t len);

/* Monotonic time in seconds. */
double proc_now(void);

/*
 * Share of all CPUs' time spent idle (or waiting for I/O) over the next
 * window_s seconds, 0..1; -errno when /proc/stat cannot be read.
 */
double proc_cpu_idle(double window_s);

/*
 * CPU seconds all CPUs have spent busy since boot (user, system, interrupts,
 * steal; not idle or I/O wait), at the kernel's clock tick; -1 when
 * /proc/stat cannot be read. The difference over a measurement is the
 * whole machine's cost of it: client, node, pods and the softirqs between.
 */
double proc_cpu_busy_s(void);
/* The same for one CPU (cpu >= 0). */
double proc_cpu_busy_s_on(int cpu);

/*
 * Wait until a 0.2 s window shows the CPUs at least `idle` idle, for at
 * most max_s seconds. Returns the idle share of the last window (so the
 * caller can tell it gave up), or -EINTR.
 */
double proc_settle(double idle, double max_s);

#endif
