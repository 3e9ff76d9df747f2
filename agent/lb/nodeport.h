/*
 * nodeport.h - loads the north-south programs (bpf/nodeport.bpf.c) and
 * attaches them to the node's external interfaces: tc ingress and egress
 * (clsact) always, XDP when asked for.
 *
 * The object shares every map with the socket hooks: both pin by name
 * under the same bpffs directory, so whichever loads first creates a map
 * and the other reuses it. tc filters and XDP programs stay attached to the
 * device when the agent exits, as the pinned socket links do: translation
 * goes on while the agent restarts. On the next start the tc filters are
 * replaced in place (BPF_TC_F_REPLACE on our handle and priority: no gap).
 * Our XDP program is detached and attached again, because a native and a
 * generic one cannot coexist and the mode may have changed; in that moment
 * packets simply take the tc path, which handles everything XDP does.
 *
 * Only programs of ours are ever detached: a tc filter is ours by its
 * handle and priority, an XDP program by its name. Rejected: tcx links
 * (kernel 6.6+, and Debian 12's libbpf 1.1 has no API for them), which
 * would have let a pin in bpffs own the attachment as for the socket hooks.
 */
#ifndef CAPSTAN_AGENT_LB_NODEPORT_H
#define CAPSTAN_AGENT_LB_NODEPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "abi.h"

#define LB_NP_MAX_DEVICES 8
#define LB_TC_HANDLE 0xca57 /* our tc filter: this handle at this priority */
#define LB_TC_PRIORITY 1

enum lb_xdp_mode {
	LB_XDP_OFF = 0,
	LB_XDP_NATIVE,	/* in the driver (XDP_FLAGS_DRV_MODE) */
	LB_XDP_GENERIC, /* after the skb is built (XDP_FLAGS_SKB_MODE): any device */
};

struct lb_np_config {
	const char *bpffs_dir;
	const char *const *devices; /* interface names */
	size_t ndevices;
	enum lb_xdp_mode xdp;
};

struct lb_np;

/*
 * Load the object (maps from bpffs_dir) and attach it to every device. 0
 * with *out set, or -errno with a message in err (unknown device, verifier,
 * attach failure; XDP native on a driver without it). Attachments made
 * before a failure stay (they translate correctly on their own).
 */
int lb_np_open(const struct lb_np_config *cfg, struct lb_np **out, char *err, size_t errlen);
/* Release the process's handles; the attachments stay. NULL is a no-op. */
void lb_np_close(struct lb_np *np);

/* Detach our tc filters and XDP program from the named devices. 0 or the first -errno. */
int lb_np_detach(const char *const *devices, size_t n, char *err, size_t errlen);

/*
 * Write the runtime configuration (abi.h struct capstan_config) through the
 * config map's fd, keeping the CAPSTAN_CFG_EVENTS bit that `capstan lb
 * monitor` may have set. 0 or -errno.
 */
int lb_np_write_config(int cfg_fd, const struct capstan_config *want);

/*
 * The interface that holds addr (network order) as one of its IPv4
 * addresses. 0 with ifname filled, -ENODEV when none does.
 */
int lb_np_device_of(__be32 addr, char *ifname, size_t len);

/*
 * The node address when none is given: the first IPv4 address of the
 * interface the default route leaves through (from /proc/net/route). 0 with
 * *addr set, -ENOENT when there is no default route or it has no address.
 */
int lb_np_default_addr(__be32 *addr);

#endif
