/*
 * capstan-kubelet - the node agent: registers the Node, keeps its status and
 * Lease, runs the pods bound to it through the CRI runtime, and serves their
 * logs.
 *
 * Flags are parsed in config.c; the work lives in the modules kubelet.h
 * lists. main() only puts them together in order (API access, runtime, node
 * IP, events, node, HTTP port, pods), waits for SIGTERM or SIGINT in one
 * known place (every signal is blocked before the first thread starts), and
 * takes them down in reverse. Stopping leaves the containers running: a
 * kubelet restart must not restart the node's workloads.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/kubelet/config.h"
#include "agent/kubelet/kubelet.h"
#include "agent/kubelet/node.h"
#include "kubeconfig.h"
#include "log.h"
#include "util.h"

/* How long to wait for the runtime to answer before giving up. */
#define RUNTIME_WAIT_S 120
#define RUNTIME_LOG_EVERY_S 10

/* A signal that asks us to stop, or 0 when the wait timed out. */
static int wait_signal(const sigset_t *set, long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	int sig;

	do
		sig = ms < 0 ? sigwaitinfo(set, NULL) : sigtimedwait(set, NULL, &ts);
	while (sig < 0 && errno == EINTR);
	return sig == SIGTERM || sig == SIGINT ? sig : 0;
}

/*
 * Ask the runtime its version until it answers (containerd may start after
 * us). 0 with k->runtime_version set, 1 when a stop signal came first,
 * -ETIMEDOUT.
 */
static int wait_for_runtime(struct kubelet *k, const sigset_t *stop)
{
	Runtime__V1__VersionRequest req = RUNTIME__V1__VERSION_REQUEST__INIT;
	uint64_t start = now_mono_ns(), logged = 0;
	char err[512];

	req.version = "v1";
	for (;;) {
		Runtime__V1__VersionResponse *resp = NULL;
		int rc = cri_version(k->cri, &req, &resp, err, sizeof(err));
		uint64_t now = now_mono_ns();

		if (rc == 0) {
			snprintf(k->runtime_version, sizeof(k->runtime_version), "%s://%s",
				 *resp->runtime_name ? resp->runtime_name : "containerd",
				 resp->runtime_version);
			log_info("container runtime %s (CRI %s) at %s", k->runtime_version,
				 resp->runtime_api_version, k->cfg.runtime_endpoint);
			protobuf_c_message_free_unpacked(&resp->base, NULL);
			return 0;
		}
		if (rc < 0)
			snprintf(err, sizeof(err), "%s", strerror(-rc));
		if (now - start >= RUNTIME_WAIT_S * 1000000000ull) {
			log_error("container runtime at %s did not answer in %ds: %s",
				  k->cfg.runtime_endpoint, RUNTIME_WAIT_S, err);
			return -ETIMEDOUT;
		}
		if (!logged || now - logged >= RUNTIME_LOG_EVERY_S * 1000000000ull) {
			log_warn("waiting for the container runtime at %s: %s",
				 k->cfg.runtime_endpoint, err);
			logged = now;
		}
		if (wait_signal(stop, 1000))
			return 1;
	}
}

static int resolve_node_ip(struct kubelet *k)
{
	int rc;

	if (k->cfg.node_ip) {
		snprintf(k->node_ip, sizeof(k->node_ip), "%s", k->cfg.node_ip);
		return 0;
	}
	rc = node_resolve_ip("", k->node_ip, sizeof(k->node_ip));
	if (rc < 0) {
		log_error("no IPv4 address found for the node (%s); pass --node-ip", strerror(-rc));
		return rc;
	}
	log_info("node IP %s (the default route's interface)", k->node_ip);
	return 0;
}

static void starting_event(struct kubelet *k)
{
	json_t *ref = json_pack("{s:s, s:s, s:{s:s, s:s}}", "kind", "Node", "apiVersion", "v1",
				"metadata", "name", k->cfg.node_name, "uid", k->cfg.node_name);

	kl_event(k, ref, "Normal", "Starting", "Starting kubelet.");
	json_decref(ref);
}

/* Start everything in order; wait for a stop signal; stop in reverse. 0 or 1. */
static int run(struct kubelet *k, const sigset_t *stop)
{
	enum { NONE, EVENTS, NODE, SERVER, PODS } up = NONE;
	char err[512];
	int rc, sig;

	rc = kubeconfig_load(k->cfg.kubeconfig, NULL, &k->kc, err, sizeof(err));
	if (rc < 0) {
		log_error("%s", err);
		return 1;
	}
	httpc_config_from_kubeconfig(&k->http, k->kc);
	k->http.user_agent = "capstan-kubelet/" KUBELET_VERSION;
	rc = cri_open(k->cfg.runtime_endpoint, &k->cri, err, sizeof(err));
	if (rc < 0) {
		log_error("%s", err);
		goto out;
	}
	rc = wait_for_runtime(k, stop);
	if (rc != 0)
		goto out;
	rc = resolve_node_ip(k);
	if (rc < 0)
		goto out;

	if ((rc = events_start(k)) < 0) {
		log_error("starting the event recorder: %s", strerror(-rc));
		goto out;
	}
	up = EVENTS;
	starting_event(k);
	if ((rc = node_start(k)) < 0)
		goto out;
	up = NODE;
	if ((rc = kl_server_start(k)) < 0) {
		log_error("serving on port %d: %s", k->cfg.port, strerror(-rc));
		goto out;
	}
	up = SERVER;
	if ((rc = pods_start(k)) < 0) {
		log_error("starting the pod workers: %s", strerror(-rc));
		goto out;
	}
	up = PODS;
	log_info("kubelet %s running as node %s", KUBELET_VERSION, k->cfg.node_name);

	sig = wait_signal(stop, -1);
	log_info("%s: shutting down (containers keep running)", strsignal(sig));
	rc = 0;
out:
	pthread_mutex_lock(&k->lock);
	atomic_store(&k->stopping, true);
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
	switch (up) {
	case PODS:
		log_debug("stopping the pod workers");
		pods_stop(k);
		/* fallthrough */
	case SERVER:
		log_debug("stopping the HTTP server");
		kl_server_stop(k);
		/* fallthrough */
	case NODE:
		log_debug("stopping the node status and lease");
		node_stop(k);
		/* fallthrough */
	case EVENTS:
		log_debug("stopping the event recorder");
		events_stop(k);
		/* fallthrough */
	case NONE:
		break;
	}
	cri_close(k->cri);
	kubeconfig_free(k->kc);
	/* A stop signal while waiting for the runtime is a clean exit. */
	return rc == 0 || rc == 1 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct kubelet k = { 0 };
	pthread_condattr_t ca;
	sigset_t stop, blocked;
	char err[512];
	bool help;
	int rc;

	log_init("capstan-kubelet");
	if (kl_config_parse(&k.cfg, &help, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "capstan-kubelet: %s (see --help)\n", err);
		return 2;
	}
	if (help) {
		kl_config_usage(stdout);
		return 0;
	}
	/* Before any thread: every thread inherits the mask, so signals come to sigwait. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	blocked = stop;
	sigaddset(&blocked, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &blocked, NULL);

	pthread_mutex_init(&k.lock, NULL);
	/* kl_wait_network_ready() waits on k.cond with monotonic deadlines. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k.cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = run(&k, &stop);
	pthread_cond_destroy(&k.cond);
	pthread_mutex_destroy(&k.lock);
	return rc;
}
