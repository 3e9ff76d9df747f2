/*
 * config.h - capstan-cni's network configuration: the JSON object the runtime
 * writes to the plugin's stdin (one plugin entry of a conflist, with the
 * list's cniVersion and name filled in, plus prevResult for CHECK and DEL).
 *
 *   {
 *     "cniVersion": "1.0.0",          required: 0.3.0, 0.3.1, 0.4.0 or 1.0.0
 *     "name": "capstan",              required: the network name; a letter or
 *                                     digit, then letters, digits, '_', '.',
 *                                     '-' (at most 64); names the IPAM pool
 *     "type": "capstan-cni",          required: the executable (not checked:
 *                                     the binary may be installed as another name)
 *     "podCIDR": "10.244.1.0/24",     required: this node's pod network, IPv4,
 *                                     /8 to /30, host bits clear
 *     "gateway": "10.244.1.1",        optional: the pods' next hop, put on every
 *                                     host-side veth; default: the first
 *                                     address of podCIDR; must be a usable
 *                                     address inside podCIDR
 *     "dataDir": "/var/lib/capstan/cni",  optional, absolute: IPAM state under
 *                                     dataDir/ipam/<name>/, and capstan-cni.log
 *     "mtu": 1500,                    optional: MTU of both veth ends, 576-65535
 *     "logLevel": "info",             optional: error, warn, info, debug, trace
 *     "dns": {...}                    optional: copied into the ADD result
 *   }
 *
 * The spec's other well-known keys are accepted and ignored (args,
 * runtimeConfig, capabilities, prevResult as input of CHECK/DEL) except those
 * that ask for something this plugin does not do: "ipam" (addresses come from
 * podCIDR, no IPAM plugin is called) and "ipMasq": true are rejected with
 * code 2, as is any other unknown key, so a misspelt "podCidr" or "MTU" fails
 * loudly instead of silently falling back to a default.
 *
 * In loopback mode (the binary invoked as "loopback") only cniVersion is
 * read; every other field is ignored, because containerd's loopback entry
 * carries nothing else that matters.
 */
#ifndef CAPSTAN_CNI_CONFIG_H
#define CAPSTAN_CNI_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/cni/ipam.h"
#include "agent/cni/spec.h"

#define CNI_DEFAULT_DATA_DIR "/var/lib/capstan/cni"
#define CNI_DEFAULT_MTU 1500
#define CNI_NETWORK_NAME_MAX 64

struct cni_config {
	char cni_version[8];
	char name[CNI_NETWORK_NAME_MAX + 1];
	struct cni_ip4_net pod_cidr;
	uint32_t gateway; /* host byte order */
	char data_dir[PATH_MAX];
	int mtu;
	char log_level[8];   /* a name log_set_level() takes */
	json_t *dns;	     /* owned; NULL when absent */
	json_t *prev_result; /* owned; NULL when absent */
};

/*
 * Read the cniVersion of a configuration without validating anything else,
 * so an error about the rest can still be answered in the caller's version.
 * Returns a supported version string (static) or NULL.
 */
const char *cni_config_peek_version(const char *json, size_t len);

/*
 * Parse and validate the configuration json (len bytes, not necessarily
 * NUL-terminated). loopback: the loopback plugin's lenient rules.
 *
 * 0 on success with *out filled (release with cni_config_free); -EINVAL with
 * err set otherwise: code 6 when json does not decode, 1 for an unsupported
 * cniVersion, 2 for an unsupported field, 7 for a missing or bad value. *out
 * is left untouched on failure.
 */
int cni_config_parse(const char *json, size_t len, bool loopback, struct cni_config *out,
		     struct cni_error *err);

/* Release what cni_config_parse took. Safe on a zeroed struct. */
void cni_config_free(struct cni_config *cfg);

#endif
