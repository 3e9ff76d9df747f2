/* agent.c - see agent.h. */
#include "agent/lb/agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/lb/healthcheck.h"
#include "agent/lb/loader.h"
#include "agent/lb/maglev.h"
#include "agent/lb/mapops.h"
#include "agent/lb/nodeport.h"
#include "agent/lb/metrics.h"
#include "agent/lb/route.h"
#include "agent/lb/runner.h"
#include "agent/lb/staticsrc.h"
#include "agent/lb/sync.h"
#include "agent/lb/writer.h"
#include "informer.h"
#include "jsonx.h"
#include "kubeconfig.h"
#include "log.h"
#include "util.h"

enum { INF_SERVICES, INF_SLICES, INF_NODE, INF__MAX };

struct agent {
	const struct lb_config *cfg;
	struct lb_loader *loader;
	struct lb_bpf_maps maps;
	struct lb_writer *writer;
	struct lb_metrics metrics;
	struct lb_httpd *httpd;
	struct lb_sync *sync;
	struct lb_runner *runner;
	struct informer *inf[INF__MAX];
	struct lb_static_objects objects; /* --static: what the file said last */
	struct lb_np *np;		  /* north-south programs; NULL when off */
	struct lb_hc *hc;		  /* healthCheckNodePort server; NULL when off */
	__be32 node_ip;			  /* 0 when north-south is off */
	bool synced;			  /* first sync done (__atomic) */
	bool force_full;		  /* SIGHUP in informer mode (__atomic) */
	bool reloading;			  /* --static re-read in progress (main thread) */
	bool reload_changed;		  /* ... and it changed something */
};

/* ---------------------------------------------------------------- sync */

static int agent_sync(void *ctx, bool full)
{
	struct agent *a = ctx;
	struct lb_sync_result res = { 0 };
	bool forced = __atomic_exchange_n(&a->force_full, false, __ATOMIC_RELAXED);
	int rc = lb_sync_run(a->sync, full || forced, &res);
	double secs = (double)res.duration_ns / 1e9;

	lb_hist_observe(&a->metrics.sync_seconds, secs);
	__atomic_add_fetch(&a->metrics.syncs, 1, __ATOMIC_RELAXED);
	if (rc)
		__atomic_add_fetch(&a->metrics.sync_errors, 1, __ATOMIC_RELAXED);
	log_info("sync (%s): %zu changes, %zu services rebuilt; %zu services, %zu service ports, "
		 "%zu backends; %zu writes, %zu deletes, %zu errors in %.3f ms",
		 res.full ? "full" : "incremental", res.changes, res.services, res.total_services,
		 res.frontends, res.backends, res.writes.updates, res.writes.deletes,
		 res.writes.errors, secs * 1e3);
	if (rc)
		log_warn("sync incomplete (%s); the failed services are retried", strerror(-rc));
	__atomic_store_n(&a->synced, true, __ATOMIC_RELEASE);
	return rc;
}

static void on_change(void *ctx)
{
	struct agent *a = ctx;

	/* A --static re-read is one batch: its sync starts when it is all fed. */
	if (a->reloading) {
		a->reload_changed = true;
		return;
	}
	lb_runner_trigger(a->runner);
}

static bool healthy(void *ctx)
{
	struct agent *a = ctx;

	return __atomic_load_n(&a->synced, __ATOMIC_ACQUIRE);
}

/* ---------------------------------------------------------------- informers */

static void svc_add(void *ctx, const json_t *obj)
{
	lb_sync_service_event(((struct agent *)ctx)->sync, NULL, obj);
}

static void svc_update(void *ctx, const json_t *old, const json_t *obj)
{
	lb_sync_service_event(((struct agent *)ctx)->sync, old, obj);
}

static void svc_delete(void *ctx, const json_t *obj)
{
	lb_sync_service_event(((struct agent *)ctx)->sync, obj, NULL);
}

static void slice_add(void *ctx, const json_t *obj)
{
	lb_sync_slice_event(((struct agent *)ctx)->sync, NULL, obj);
}

static void slice_update(void *ctx, const json_t *old, const json_t *obj)
{
	lb_sync_slice_event(((struct agent *)ctx)->sync, old, obj);
}

static void slice_delete(void *ctx, const json_t *obj)
{
	lb_sync_slice_event(((struct agent *)ctx)->sync, obj, NULL);
}

/*
 * The Node object is watched so the agent notices its node's registration
 * and zone (for topology-aware routing later); ClusterIP translation does
 * not depend on it, so it only logs.
 */
static void node_seen(void *ctx, const json_t *obj)
{
	const char *zone = jsonx_str(jsonx_getv(obj, "metadata", "labels", NULL),
				     "topology.kubernetes.io/zone", "(none)");

	log_info("node %s is registered (zone %s)", jsonx_path_str(obj, "metadata.name", "?"),
		 zone);
}

static void node_update(void *ctx, const json_t *old, const json_t *obj)
{
	const char *k = "topology.kubernetes.io/zone";

	if (strcmp(jsonx_str(jsonx_getv(old, "metadata", "labels", NULL), k, ""),
		   jsonx_str(jsonx_getv(obj, "metadata", "labels", NULL), k, "")) != 0)
		node_seen(ctx, obj);
}

static void node_delete(void *ctx, const json_t *obj)
{
	log_warn("node %s was deleted from the API", jsonx_path_str(obj, "metadata.name", "?"));
}

static int start_informers(struct agent *a)
{
	static const char *const paths[INF__MAX] = {
		[INF_SERVICES] = "/api/v1/services",
		[INF_SLICES] = "/apis/discovery.k8s.io/v1/endpointslices",
		[INF_NODE] = "/api/v1/nodes",
	};
	static const struct informer_handlers handlers[INF__MAX] = {
		[INF_SERVICES] = { svc_add, svc_update, svc_delete },
		[INF_SLICES] = { slice_add, slice_update, slice_delete },
		[INF_NODE] = { node_seen, node_update, node_delete },
	};
	struct kubeconfig *kc = NULL;
	char err[512], *node_sel;
	int rc;

	rc = kubeconfig_load(a->cfg->kubeconfig, NULL, &kc, err, sizeof(err));
	if (rc < 0) {
		log_error("%s", err);
		return rc;
	}
	node_sel = xasprintf("metadata.name=%s", a->cfg->node_name);
	for (int i = 0; i < INF__MAX && rc == 0; i++) {
		struct informer_config ic = {
			.path = paths[i],
			.field_selector = i == INF_NODE ? node_sel : NULL,
			.handlers = handlers[i],
			.ctx = a,
		};

		httpc_config_from_kubeconfig(&ic.http, kc);
		ic.http.user_agent = "capstan-agent";
		a->inf[i] = informer_new(&ic);
		if (!a->inf[i]) {
			log_error("cannot watch %s on %s", paths[i], kc->server);
			rc = -EINVAL;
		} else {
			rc = informer_start(a->inf[i]);
			if (rc < 0)
				log_error("cannot start the %s informer: %s", paths[i],
					  strerror(-rc));
		}
	}
	if (rc == 0)
		log_info("watching Services, EndpointSlices and node %s on %s", a->cfg->node_name,
			 kc->server);
	free(node_sel);
	kubeconfig_free(kc);
	return rc;
}

/* ---------------------------------------------------------------- signals */

static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	sigdelset(set, SIGPIPE);
}

/* Wait up to ms for one of set; 0 when none came. */
static int wait_signal(const sigset_t *set, long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	int sig = sigtimedwait(set, NULL, &ts);

	return sig < 0 ? 0 : sig;
}

static void reload_static(struct agent *a)
{
	struct lb_static_objects next, old;
	char err[1024];

	if (lb_static_load(a->cfg->static_file, &next, err, sizeof(err)) < 0) {
		log_error("SIGHUP: %s; keeping the previous contents", err);
		return;
	}
	log_info("SIGHUP: re-read %s (%zu services, %zu endpoint slices)", a->cfg->static_file,
		 json_object_size(next.services), json_object_size(next.slices));
	/*
	 * The file is applied as a whole: a sync started halfway through the
	 * feed could write a service without the slices changed with it.
	 */
	a->reloading = true;
	a->reload_changed = false;
	lb_static_feed(a->sync, &a->objects, &next);
	old = a->objects;
	a->objects = next;
	a->reloading = false;
	if (a->reload_changed)
		lb_runner_trigger(a->runner);
	/*
	 * Then, while the sync runs, the previous parse goes, and with it the
	 * pages the two parses held at once (the allocator would keep them:
	 * 1.08 GiB instead of 0.71 at 30,000 services).
	 */
	lb_static_objects_free(&old);
	malloc_trim(0);
}

/*
 * Wait until Services and EndpointSlices have been listed once; false when
 * told to stop first. The Node informer is not waited for: nothing the
 * first sync writes depends on it.
 */
static bool wait_sources(struct agent *a, const sigset_t *set)
{
	uint64_t start = now_mono_ns(), next_note = start + 10000000000ull;

	for (;;) {
		bool all = informer_synced(a->inf[INF_SERVICES]) &&
			   informer_synced(a->inf[INF_SLICES]);
		int sig;

		if (all)
			return true;
		sig = wait_signal(set, 200);
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("%s before the first sync: shutting down", strsignal(sig));
			return false;
		}
		if (now_mono_ns() > next_note) {
			log_warn("still waiting for the first list from the API server (%llu s)",
				 (unsigned long long)((now_mono_ns() - start) / 1000000000ull));
			next_note += 10000000000ull;
		}
	}
}

/* ---------------------------------------------------------------- run */

/*
 * The tc/XDP half: node address and devices, the config map (before the
 * programs attach: until node_ip is set they translate nothing), the
 * programs, the health check server.
 */
static int setup_nodeport(struct agent *a)
{
	const struct lb_config *cfg = a->cfg;
	struct capstan_config nc = {
		.flags = cfg->nodeport_reset ? 0 : CAPSTAN_CFG_NO_RST,
		.maglev_m = cfg->maglev_m,
		.maglev_seed = lb_maglev_seed(cfg->maglev_seed),
		.snat_port_min = CAPSTAN_SNAT_PORT_MIN,
		.snat_port_max = CAPSTAN_SNAT_PORT_MAX,
	};
	const char *devs[ARRAY_SIZE(cfg->devices)];
	char auto_dev[IF_NAMESIZE], addr[INET_ADDRSTRLEN], err[1024];
	struct lb_np_config npc = { .bpffs_dir = cfg->bpffs_dir, .devices = devs, .xdp = cfg->xdp };
	int rc;

	if (!cfg->nodeport) {
		log_info("north-south programs off (--nodeport=false)");
		return 0;
	}
	nc.node_ip = cfg->node_ip;
	if (!nc.node_ip && lb_np_default_addr(&nc.node_ip) < 0) {
		log_warn("no --node-ip and no default route to take it from: NodePorts, "
			 "externalIPs and LoadBalancer IPs are not served on this node");
		return 0;
	}
	inet_ntop(AF_INET, &nc.node_ip, addr, sizeof(addr));
	for (size_t i = 0; i < cfg->ndevices; i++)
		devs[npc.ndevices++] = cfg->devices[i];
	if (npc.ndevices == 0) {
		if (lb_np_device_of(nc.node_ip, auto_dev, sizeof(auto_dev)) < 0) {
			log_error("no interface holds the node address %s; give --devices", addr);
			return -ENODEV;
		}
		devs[npc.ndevices++] = auto_dev;
	}
	if (a->maps.fd[LB_MAP_CONFIG] < 0) {
		log_error("the BPF object has no %s map", CAPSTAN_MAP_CONFIG);
		return -ENOENT;
	}
	rc = lb_np_write_config(a->maps.fd[LB_MAP_CONFIG], &nc);
	if (rc < 0) {
		log_error("write %s: %s", CAPSTAN_MAP_CONFIG, strerror(-rc));
		return rc;
	}
	rc = lb_np_open(&npc, &a->np, err, sizeof(err));
	if (rc < 0) {
		log_error("%s", err);
		return rc;
	}
	a->hc = lb_hc_new("0.0.0.0", err, sizeof(err));
	if (!a->hc) {
		log_error("health check server: %s", err);
		return -EIO;
	}
	a->node_ip = nc.node_ip;
	log_info("node address %s: NodePorts served there, Maglev table size %u, seed \"%s\"", addr,
		 cfg->maglev_m, cfg->maglev_seed);
	return 0;
}

static int setup_datapath(struct agent *a, const char *cgroup)
{
	struct lb_loader_config lc = { .bpffs_dir = a->cfg->bpffs_dir, .cgroup_path = cgroup };
	struct lb_writer_config wc = { .ops = &lb_bpf_ops,
				       .ops_ctx = &a->maps,
				       .maglev_m = a->cfg->maglev_m,
				       .maglev_seed = lb_maglev_seed(a->cfg->maglev_seed) };
	struct lb_restore_stats rs = { 0 };
	enum lb_route_action act;
	char err[1024], old[32] = "";
	int rc;

	rc = lb_loader_open(&lc, &a->loader, err, sizeof(err));
	if (rc < 0) {
		log_error("%s", err);
		return rc;
	}
	rc = lb_bpf_maps_init(&a->maps, lb_loader_object(a->loader), err, sizeof(err));
	if (rc < 0) {
		log_error("%s", err);
		return rc;
	}
	if (err[0])
		log_warn("%s: the features they back are off", err);

	rc = lb_route_ensure_unreachable(a->cfg->service_cidr, &act, old, sizeof(old), err,
					 sizeof(err));
	if (rc < 0) {
		log_error("safety route: %s", err);
		return rc;
	}
	if (act == LB_ROUTE_ADDED)
		log_info("added route unreachable %s", a->cfg->service_cidr);
	else if (act == LB_ROUTE_REPLACED)
		log_warn("replaced the %s route for %s with an unreachable one", old,
			 a->cfg->service_cidr);
	else
		log_info("route unreachable %s is already in place", a->cfg->service_cidr);

	a->writer = lb_writer_new(&wc);
	rc = lb_writer_restore(a->writer, &rs);
	if (rc < 0)
		log_warn("could not read the pinned maps back (%s): every entry is rewritten",
			 strerror(-rc));
	else
		log_info("pinned maps hold %zu service ports and %zu backends (%zu stale entries)",
			 rs.frontends, rs.backends, rs.stale);
	return setup_nodeport(a);
}

static void teardown(struct agent *a)
{
	lb_runner_stop(a->runner);
	for (int i = 0; i < INF__MAX; i++)
		informer_free(a->inf[i]);
	lb_httpd_stop(a->httpd);
	lb_runner_free(a->runner);
	lb_sync_free(a->sync);
	lb_writer_free(a->writer);
	lb_metrics_destroy(&a->metrics);
	lb_static_objects_free(&a->objects);
	lb_hc_free(a->hc);
	/* Links, tc filters, XDP and maps stay: translation goes on without us. */
	lb_np_close(a->np);
	lb_loader_close(a->loader);
}

int lb_agent_run(const struct lb_config *cfg)
{
	struct agent a = { .cfg = cfg };
	char cgroup[1024], err[1024];
	sigset_t set;
	int rc, sig, code = 1;

	block_signals(&set);
	lb_loader_log_libbpf();
	lb_metrics_init(&a.metrics);
	if (cfg->cgroup_path) {
		snprintf(cgroup, sizeof(cgroup), "%s", cfg->cgroup_path);
	} else if (lb_loader_find_cgroup2(cgroup, sizeof(cgroup)) < 0) {
		log_error("no cgroup2 mount found; give --cgroup-path");
		goto out;
	}
	log_info("node %s, cgroup %s, pins in %s, service range %s, source %s", cfg->node_name,
		 cgroup, cfg->bpffs_dir, cfg->service_cidr,
		 cfg->static_file ? cfg->static_file : cfg->kubeconfig);
	if (setup_datapath(&a, cgroup) < 0)
		goto out;

	a.metrics.writer = a.writer;
	a.metrics.ops = &lb_bpf_ops;
	a.metrics.ops_ctx = &a.maps;
	rc = lb_httpd_start(cfg->metrics_listen, &a.metrics, healthy, &a, &a.httpd, err,
			    sizeof(err));
	if (rc < 0) {
		log_error("metrics: %s", err);
		goto out;
	}
	log_info("serving /metrics and /healthz on %s (port %u)", cfg->metrics_listen,
		 lb_httpd_port(a.httpd));

	a.runner = lb_runner_new(cfg->sync_min_ns, cfg->sync_max_ns, agent_sync, &a);
	a.sync = lb_sync_new(
		&(struct lb_sync_config){ .node = cfg->node_name,
					  .writer = a.writer,
					  .on_change = on_change,
					  .ctx = &a,
					  .event_to_map = &a.metrics.event_to_map_seconds,
					  .node_ip = a.node_ip,
					  .hc = a.hc });
	if (cfg->static_file) {
		rc = lb_static_load(cfg->static_file, &a.objects, err, sizeof(err));
		if (rc < 0) {
			log_error("%s", err);
			goto out;
		}
		lb_static_feed(a.sync, NULL, &a.objects);
		log_info("read %s: %zu services, %zu endpoint slices", cfg->static_file,
			 json_object_size(a.objects.services), json_object_size(a.objects.slices));
	} else if (start_informers(&a) < 0) {
		goto out;
	} else if (!wait_sources(&a, &set)) {
		code = 0;
		goto out;
	}

	/* Events so far were only recorded: the first sync sees everything. */
	rc = lb_runner_start(a.runner);
	if (rc < 0) {
		log_error("cannot start the sync thread: %s", strerror(-rc));
		goto out;
	}
	lb_runner_trigger(a.runner);

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig != SIGHUP)
			continue;
		if (cfg->static_file) {
			reload_static(&a);
		} else {
			log_info("SIGHUP: full resync");
			__atomic_store_n(&a.force_full, true, __ATOMIC_RELAXED);
			lb_runner_trigger(a.runner);
		}
	}
	log_info("%s: shutting down; programs and maps stay pinned and keep translating",
		 strsignal(sig));
	code = 0;
out:
	teardown(&a);
	return code;
}

int lb_agent_cleanup(const struct lb_config *cfg)
{
	char err[1024];

	lb_loader_log_libbpf();
	if (cfg->ndevices) {
		const char *devs[ARRAY_SIZE(cfg->devices)];

		for (size_t i = 0; i < cfg->ndevices; i++)
			devs[i] = cfg->devices[i];
		if (lb_np_detach(devs, cfg->ndevices, err, sizeof(err)) < 0) {
			log_error("%s", err);
			return 1;
		}
	}
	if (lb_loader_cleanup(cfg->bpffs_dir, err, sizeof(err)) < 0) {
		log_error("cleanup of %s: %s", cfg->bpffs_dir, err);
		return 1;
	}
	return 0;
}
