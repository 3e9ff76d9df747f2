/* nodeport.c - see nodeport.h. */
#include "agent/lb/nodeport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "nodeport.skel.h"
#include "util.h"

#define LB_NP_XDP_NAME "capstan_np_xdp"

struct lb_np {
	struct nodeport *skel;
};

/* Is the XDP program with this id ours (by name)? */
static bool xdp_prog_is_ours(__u32 id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);
	bool ours;

	if (fd < 0)
		return false;
	memset(&info, 0, sizeof(info));
	ours = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
	       strncmp(info.name, LB_NP_XDP_NAME, sizeof(info.name) - 1) == 0;
	close(fd);
	return ours;
}

/* Detach our XDP program in either mode; someone else's is left alone. */
static int xdp_detach_ours(int ifindex)
{
	static const __u32 modes[] = { XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE };

	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		__u32 id = 0;

		if (bpf_xdp_query_id(ifindex, (int)modes[i], &id) != 0 || id == 0 ||
		    !xdp_prog_is_ours(id))
			continue;
		if (bpf_xdp_detach(ifindex, modes[i], NULL) != 0)
			return -errno;
	}
	return 0;
}

static int tc_attach(int ifindex, enum bpf_tc_attach_point where, int prog_fd)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = LB_TC_HANDLE, .priority = LB_TC_PRIORITY,
			    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int rc = bpf_tc_hook_create(&hook);

	/* The clsact qdisc holds both hooks: it exists after the first. */
	if (rc < 0 && rc != -EEXIST)
		return rc;
	return bpf_tc_attach(&hook, &opts);
}

static int tc_detach(int ifindex, enum bpf_tc_attach_point where)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = LB_TC_HANDLE, .priority = LB_TC_PRIORITY);
	int rc = bpf_tc_detach(&hook, &opts);

	return rc == -ENOENT || rc == -EINVAL ? 0 : rc;
}

static const char *xdp_mode_name(enum lb_xdp_mode m)
{
	return m == LB_XDP_NATIVE ? "native" : m == LB_XDP_GENERIC ? "generic" : "off";
}

static int attach_device(struct lb_np *np, const char *dev, enum lb_xdp_mode xdp, char *err,
			 size_t errlen)
{
	int ifindex = (int)if_nametoindex(dev), rc;

	if (ifindex == 0) {
		snprintf(err, errlen, "device %s: %s", dev, strerror(errno));
		return -ENODEV;
	}
	rc = tc_attach(ifindex, BPF_TC_INGRESS, bpf_program__fd(np->skel->progs.capstan_np_in));
	if (rc == 0)
		rc = tc_attach(ifindex, BPF_TC_EGRESS,
			       bpf_program__fd(np->skel->progs.capstan_np_out));
	if (rc < 0) {
		snprintf(err, errlen, "attach tc programs to %s: %s", dev, strerror(-rc));
		return rc;
	}
	rc = xdp_detach_ours(ifindex);
	if (rc == 0 && xdp != LB_XDP_OFF) {
		/* Someone else's XDP program is refused (EBUSY), never replaced. */
		__u32 flags = XDP_FLAGS_UPDATE_IF_NOEXIST |
			      (xdp == LB_XDP_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE);

		if (bpf_xdp_attach(ifindex, bpf_program__fd(np->skel->progs.capstan_np_xdp), flags,
				   NULL) != 0)
			rc = -errno;
	}
	if (rc < 0) {
		snprintf(err, errlen, "XDP (%s) on %s: %s%s", xdp_mode_name(xdp), dev,
			 strerror(-rc),
			 rc == -EBUSY || rc == -EEXIST ? " (another XDP program is attached)" : "");
		return rc;
	}
	if (xdp == LB_XDP_GENERIC)
		log_warn("XDP generic on %s runs after GRO: its checksum arithmetic needs complete "
			 "checksums, so turn GRO and checksum offload off there (ethtool -K %s gro "
			 "off tx off) or use native XDP",
			 dev, dev);
	log_info("north-south programs on %s (ifindex %d): tc ingress and egress, XDP %s", dev,
		 ifindex, xdp_mode_name(xdp));
	return 0;
}

int lb_np_open(const struct lb_np_config *cfg, struct lb_np **out, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = cfg->bpffs_dir);
	struct lb_np *np = xcalloc(1, sizeof(*np));
	int rc;

	np->skel = nodeport__open_opts(&opts);
	if (!np->skel) {
		rc = -errno;
		snprintf(err, errlen, "open the north-south object: %s", strerror(-rc));
		goto fail;
	}
	rc = nodeport__load(np->skel);
	if (rc < 0) {
		snprintf(err, errlen, "load the north-south programs: %s (see the libbpf log)",
			 strerror(-rc));
		goto fail;
	}
	for (size_t i = 0; i < cfg->ndevices; i++) {
		rc = attach_device(np, cfg->devices[i], cfg->xdp, err, errlen);
		if (rc < 0)
			goto fail;
	}
	*out = np;
	return 0;
fail:
	lb_np_close(np);
	return rc;
}

void lb_np_close(struct lb_np *np)
{
	if (!np)
		return;
	nodeport__destroy(np->skel);
	free(np);
}

int lb_np_detach(const char *const *devices, size_t n, char *err, size_t errlen)
{
	int first = 0;

	err[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int ifindex = (int)if_nametoindex(devices[i]), rc;

		if (ifindex == 0)
			continue; /* gone with its namespace: nothing left to detach */
		rc = tc_detach(ifindex, BPF_TC_INGRESS);
		if (rc == 0)
			rc = tc_detach(ifindex, BPF_TC_EGRESS);
		if (rc == 0)
			rc = xdp_detach_ours(ifindex);
		if (rc < 0 && !first) {
			first = rc;
			snprintf(err, errlen, "detach from %s: %s", devices[i], strerror(-rc));
		} else if (rc == 0) {
			log_info("north-south programs detached from %s", devices[i]);
		}
	}
	return first;
}

/*
 * SNAT source ports must not be ports the node's own sockets pick: warn
 * when ip_local_port_range reaches into them.
 */
static void check_port_range(const struct capstan_config *c)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	unsigned lo, hi;

	if (!f)
		return;
	if (fscanf(f, "%u %u", &lo, &hi) == 2 && hi >= c->snat_port_min && lo <= c->snat_port_max)
		log_warn("ip_local_port_range %u-%u overlaps the NodePort SNAT ports %u-%u: a "
			 "connection of the node's own may collide with a translated flow",
			 lo, hi, c->snat_port_min, c->snat_port_max);
	fclose(f);
}

int lb_np_write_config(int cfg_fd, const struct capstan_config *want)
{
	struct capstan_config cur, next = *want;
	__u32 key = 0;

	check_port_range(want);
	if (bpf_map_lookup_elem(cfg_fd, &key, &cur) == 0)
		next.flags = (next.flags & ~CAPSTAN_CFG_EVENTS) | (cur.flags & CAPSTAN_CFG_EVENTS);
	return bpf_map_update_elem(cfg_fd, &key, &next, BPF_ANY) == 0 ? 0 : -errno;
}

int lb_np_device_of(__be32 addr, char *ifname, size_t len)
{
	struct ifaddrs *ifs, *i;
	int rc = -ENODEV;

	if (getifaddrs(&ifs) != 0)
		return -errno;
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		if (((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == addr) {
			snprintf(ifname, len, "%s", i->ifa_name);
			rc = 0;
			break;
		}
	}
	freeifaddrs(ifs);
	return rc;
}

int lb_np_default_addr(__be32 *addr)
{
	char line[512], dev[64] = "";
	struct ifaddrs *ifs, *i;
	FILE *f = fopen("/proc/net/route", "r");
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char name[64];
		unsigned long dst, mask;

		/* Iface Destination Gateway Flags RefCnt Use Metric Mask ... (hex, host order) */
		if (sscanf(line, "%63s %lx %*x %*x %*d %*d %*d %lx", name, &dst, &mask) == 3 &&
		    dst == 0 && mask == 0) {
			snprintf(dev, sizeof(dev), "%s", name);
			break;
		}
	}
	fclose(f);
	if (!dev[0] || getifaddrs(&ifs) != 0)
		return -ENOENT;
	for (i = ifs; i; i = i->ifa_next) {
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    strcmp(i->ifa_name, dev) == 0) {
			*addr = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
			rc = 0;
			break;
		}
	}
	freeifaddrs(ifs);
	return rc;
}
