/*
 * test_kubelet_pods_fake.h - an in-memory container runtime, API server and
 * event sink behind struct pods_env, for the pod lifecycle's unit tests.
 *
 * The fake CRI keeps sandboxes, containers and images in small tables and
 * answers the runtime.v1 calls the kubelet makes the way containerd does
 * (StopPodSandbox stops the sandbox's containers, RemovePodSandbox removes
 * them, NOT_FOUND for unknown ids). Containers only change state when the
 * kubelet or the test acts (kfake_exit), and time only moves when the test
 * moves fake.now, so every sync is deterministic.
 *
 * Every call is appended to a log, one line each, for sequence checks:
 *
 *   RunPodSandbox web 0        PullImage busybox:1        ImageStatus busybox:1
 *   CreateContainer app 0      StartContainer app 0       StopContainer app 0 t=30
 *   RemoveContainer app 0      StopPodSandbox web 0       RemovePodSandbox web 0
 *   ExecSync app 0             PATCH status               DELETE pods/web
 *
 * (List and status calls are not logged: every sync makes them.)
 */
#ifndef CAPSTAN_TEST_KUBELET_PODS_FAKE_H
#define CAPSTAN_TEST_KUBELET_PODS_FAKE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/kubelet/cri.h"
#include "agent/kubelet/pods.h"
#include "util.h"

#define KFAKE_MAX 64

struct kfake_sandbox {
	char id[32], uid[64], name[64], ns[64], log_dir[256];
	unsigned attempt;
	bool ready, removed;
	int64_t created;
	char ip[32];
	char cgroup_parent[256];
	char hostname[128];
	int net_mode; /* RUNTIME__V1__NAMESPACE_MODE__* */
};

struct kfake_container {
	char id[32], sb[32], name[64], uid[64], image[128], hash[32], log_path[300];
	unsigned attempt;
	int state; /* RUNTIME__V1__CONTAINER_STATE__* */
	int64_t created, started, finished;
	int exit_code;
	char reason[32];
	bool removed;
	Runtime__V1__ContainerConfig *cfg; /* a copy of what CreateContainer got */
};

struct kfake {
	pthread_mutex_t mu;
	struct kfake_sandbox sb[KFAKE_MAX];
	size_t n_sb;
	struct kfake_container c[KFAKE_MAX];
	size_t n_c;
	json_t *images;	      /* name -> id of images present */
	char pull_error[128]; /* non-empty: PullImage fails with it */
	int exec_exit;	      /* ExecSync's exit code */
	char exec_out[64];
	int64_t now; /* ns, the clock of the env */
	bool network_ready;
	int ids;
	struct buf log;		/* CRI and API calls */
	struct buf events;	/* "Type Reason: message" lines */
	struct buf event_paths; /* "Reason fieldPath" of events about a container */
	json_t *objects;	/* API: path -> object for GET */
	json_t *status;		/* the last status PATCHed */
	json_t *deleted;	/* the last DELETE body */
	int patch_status;	/* answer to PATCH (200) */
	struct pods_env env;
};

/* A fresh fake at time 1e18 ns (2001-09-09) with busybox:1 present, network ready. */
void kfake_init(struct kfake *f);
void kfake_free(struct kfake *f);
/* The call log / events since the last reset, then clears it. */
const char *kfake_log(struct kfake *f);
const char *kfake_events(struct kfake *f);
void kfake_reset(struct kfake *f);

/* The newest live instance of container name of any pod (NULL when none). */
struct kfake_container *kfake_ctr(struct kfake *f, const char *name);
/* Count live (not removed) containers named name / sandboxes. */
int kfake_count(struct kfake *f, const char *name);
int kfake_sandboxes(struct kfake *f, bool ready_only);
/* Make the running instance of name exit with code at f->now. */
void kfake_exit(struct kfake *f, const char *name, int code);

/* A pod from JSON text, with defaults a stored pod has (uid, namespace, node). */
json_t *kfake_pod(const char *spec_json);

#endif
