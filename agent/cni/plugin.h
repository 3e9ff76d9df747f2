/*
 * plugin.h - what capstan-cni does for ADD, DEL and CHECK, as the pod network
 * plugin and as the loopback plugin.
 *
 * Network model: routed point-to-point, no bridge. Each pod gets a veth
 * pair: CNI_IFNAME (eth0) in the sandbox carrying the pod's address as a
 * /32, and a host end "csn" + 8 hex digits (a hash of container id and
 * ifname) in the caller's namespace. The pod CIDR's gateway address (the
 * first address unless configured) is put, as a /32, on every host end;
 * inside the pod a link route to the gateway and a default route via it
 * send everything to the node, which routes it on: to another pod through
 * that pod's /32 host route (dev csnXXXXXXXX, source the gateway), to the
 * node itself (the gateway address is local), or onwards by the node's own
 * routes. So pods on one node reach each other and the node, the node
 * reaches every pod, and the pod's ARP for the gateway is answered by the
 * host end because it really owns that address: no proxy_arp, and no
 * dependence on the node having a default route.
 *
 * Why /32 on eth0 and not the podCIDR prefix: with a /24 the pod would ARP
 * for its neighbours directly, and nothing on a point-to-point link would
 * answer; with a /32 every packet goes to the node, which is also where the
 * datapath (and later policy) sees it. Why an address on each host end
 * rather than a bridge: no shared L2 segment between pods, per-pod devices
 * for tc programs, and removing a pod is removing one link.
 *
 * The host end carries an alias "capstan-cni <container id> <ifname>". A
 * stale host end of the same container (an ADD retried after a crash) is
 * replaced; a host end with another container's alias (a hash collision) is
 * never touched, and ADD fails with code 103 instead.
 *
 * Logging: lines go to stderr (containerd records the plugin's stderr) and,
 * when dataDir exists, are appended to dataDir/capstan-cni.log. stdout
 * carries only the result.
 */
#ifndef CAPSTAN_CNI_PLUGIN_H
#define CAPSTAN_CNI_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/cni/config.h"
#include "agent/cni/spec.h"
#include "log.h"

/*
 * Run env->command (ADD, DEL or CHECK) with cfg; loopback selects the
 * loopback plugin's behaviour. On success *result is the JSON to print
 * (ADD) or NULL (DEL and CHECK print nothing); the caller frees it.
 * 0 on success; a negative errno with err filled on failure.
 */
int cni_plugin_run(const struct cni_env *env, const struct cni_config *cfg, bool loopback,
		   char **result, struct cni_error *err);

/* Length of a host interface name: "csn" + 8 hex digits. */
#define CNI_HOST_IFNAME_LEN 11

/*
 * The host-side veth name of (id, ifname): "csn" + the 32-bit FNV-1a hash of
 * id, a NUL byte and ifname, in lowercase hex. out has room for
 * CNI_HOST_IFNAME_LEN + 1 bytes.
 */
void cni_host_ifname(const char *id, const char *ifname, char *out);
/* The alias marking a host end as (id, ifname)'s, into out (len bytes). */
void cni_host_alias(const char *id, const char *ifname, char *out, size_t len);

/*
 * Also append log lines to <data_dir>/capstan-cni.log when data_dir exists
 * (NULL: stderr only). A log over 8 MiB is moved to capstan-cni.log.1 first.
 */
void cni_log_open(const char *data_dir);
void cni_log_close(void);
/* Write one line to stderr and to the log file; use the cni_log_* macros. */
void cni_log_emit(enum log_level lvl, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define cni_log_at(lvl, ...)                                                  \
	do {                                                                  \
		if (log_enabled(lvl))                                         \
			cni_log_emit((lvl), __FILE__, __LINE__, __VA_ARGS__); \
	} while (0)
#define cni_log_error(...) cni_log_at(LOG_LVL_ERROR, __VA_ARGS__)
#define cni_log_warn(...) cni_log_at(LOG_LVL_WARN, __VA_ARGS__)
#define cni_log_info(...) cni_log_at(LOG_LVL_INFO, __VA_ARGS__)
#define cni_log_debug(...) cni_log_at(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
