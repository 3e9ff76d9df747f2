/*
 * agent.h - one run of the real capstan-agent for the socket-LB path.
 *
 * The agent is the binary users run, started the way a node would, minus
 * the API server: `--static FILE` hands it a v1 List of the benchmark's
 * Services and EndpointSlices, `--bpffs-dir` a bpffs mounted just for this
 * run, `--cgroup-path` a cgroup v2 directory made for this run (the socket
 * LB's clients join it; nothing else on the machine is in it), and
 * `--metrics-listen` 127.0.0.1 with a free port in the agent's own network
 * namespace.
 *
 * Its programming time is read from the outside, twice: from the fork to
 * the first `GET /healthz` answered 200, and from the fork to the moment
 * the pinned services map (capstan_svc_v2, abi.h) holds the measured
 * service with all its backends and a slot-0 entry for every service.
 * The second is what a client can rely on; the first is what a readiness
 * probe would see.
 *
 * Everything is undone by agent_stop: the process (by PID), the bpffs mount
 * (which drops every pin, hence the programs' links), the cgroup.
 */
#ifndef CAPSTAN_BENCH_AGENT_H
#define CAPSTAN_BENCH_AGENT_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

struct agent {
	pid_t pid;
	double started; /* proc_now() at fork */
	int port;	/* metrics and /healthz on 127.0.0.1:port, in netns */
	char netns[64];
	char cgroup[512];
	char bpffs[512];
	char log[512];
	bool cgroup_made, bpffs_mounted;
	/* agent_wait_programmed also waits for the measured NodePort's external view */
	bool want_nodeport;
};

/*
 * Write the --static List for nsvc services (service i at topo_svc_addr(i),
 * port 80 -> 8080, the measured one last and also a NodePort at
 * TOPO_NODEPORT) with nep ready endpoints each
 * (pods 0..nep-1) to f. 0 on success, -EINVAL for bad counts, -EIO when
 * writing failed.
 */
int agent_write_static(FILE *f, int nsvc, int nep);
/* The same List after one change: the measured service lost its last endpoint. */
int agent_write_static_change(FILE *f, int nsvc, int nep);

/*
 * Start binary with the static file, in network namespace netns, its bpffs
 * and log under workdir, its cgroup named after tag, and the flags in extra
 * (NULL-terminated; may be NULL). 0 on success (fills *a), -errno on
 * failure with a reason in err; call agent_stop either way.
 */
int agent_start(struct agent *a, const char *binary, const char *static_path, const char *netns,
		const char *workdir, const char *tag, const char *const *extra, char *err,
		size_t errlen);

/*
 * Wait (at most timeout_s) until /healthz answers 200 and the services map
 * holds nsvc services, the measured one with nep backends. 0 on success
 * with both times (seconds since the fork) set; -ETIMEDOUT, -ESRCH (the
 * agent exited) or -EINTR otherwise, with a reason in err.
 */
int agent_wait_programmed(struct agent *a, int nsvc, int nep, double timeout_s, double *healthz_s,
			  double *maps_s, char *err, size_t errlen);

/*
 * The caller has just replaced the agent's --static file with a changed
 * one: SIGHUP the agent and wait (at most timeout_s) until the measured
 * service has want backends in the map. 0 with *e2e_s (SIGHUP to the map
 * holding the change: includes re-reading the whole file) and *sync_s (the
 * agent's own sync duration, from its log: the diff and its map writes)
 * set; -ETIMEDOUT, -EINTR or -EIO with a reason in err.
 */
int agent_apply_change(struct agent *a, int want, double timeout_s, double *e2e_s, double *sync_s,
		       char *err, size_t errlen);

/* Stop the agent (by PID), unmount its bpffs, remove its cgroup. Safe to call twice. */
void agent_stop(struct agent *a);

#endif
