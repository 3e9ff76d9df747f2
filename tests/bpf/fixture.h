/*
 * fixture.h - what the BPF tests set up around a program: a private bpffs
 * mount for pinned maps, a cgroup v2 directory to attach socket hooks to,
 * and child processes that run inside that cgroup and their own network
 * namespace (with the `unreachable` service route, so an untranslated
 * service packet can never leave).
 *
 * Everything is undone at the test's end (test_defer), including when an
 * assertion ends the test early. A machine without BTF, cgroup v2 or bpffs
 * makes the test SKIP with the reason.
 */
#ifndef CAPSTAN_BPF_FIXTURE_H
#define CAPSTAN_BPF_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Skip unless root with BTF and cgroup v2. */
void fixture_require_bpf(void);
/* Mount a private bpffs for this test; returns its path. */
const char *fixture_bpffs(void);
/* Create a cgroup v2 directory for this test; returns its path. */
const char *fixture_cgroup(void);
/* Open fd of fixture_cgroup(). */
int fixture_cgroup_fd(void);

/*
 * Run fn in a child process that first joins the test cgroup (if join_cgroup)
 * then a new network namespace with lo up and an unreachable route for
 * 10.96.0.0/12. Returns the child's exit status (0 = fn returned 0).
 */
int fixture_run_child(bool join_cgroup, int (*fn)(void *arg), void *arg);

/*
 * Zeroed memory shared with the children fixture_run_child() forks, so they
 * can hand results back (which backend they reached, their netns cookie).
 * One region per test; unmapped at the test's end. Never returns NULL.
 */
void *fixture_shared(size_t len);

#endif
