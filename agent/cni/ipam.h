/*
 * ipam.h - capstan-cni's address management: pod addresses from the node's
 * pod CIDR, kept in files so they survive plugin exits and node restarts.
 *
 * Layout, under <dataDir>/ipam/<network name>/:
 *
 *   lock          flock()ed exclusively by every allocation and release
 *   last          the address handed out last ("10.244.1.7\n")
 *   10.244.1.7    one file per allocated address, holding its owner:
 *                   capstan-ipam v1\n<container id>\n<ifname>\n
 *
 * Why one file per address and not one state file: an address is taken by
 * creating its file with link(2), which fails atomically if the file exists,
 * so even a bug in the scan could not hand one address out twice; a record is
 * written completely to a temporary name and fsync()ed before it is linked
 * into place, so a crash never leaves a half-written record under an address
 * name; and a damaged record spoils one address, not the whole pool. The
 * lock still serialises whole operations, because "is this container already
 * known?" and "which address is next?" need a consistent view of the
 * directory. Parallel sandbox creations run parallel plugin processes, so a
 * process-local mutex would not do; flock also goes away by itself when a
 * plugin dies holding it.
 *
 * Allocation is keyed by (container id, ifname), as the spec asks (the
 * network is the directory). An ADD for a key that already has an address in
 * the range gets that address again. Otherwise the search starts after the
 * address in "last" and wraps around, so a just-released address is reused
 * only when everything after it is taken: a stale client still talking to a
 * dead pod's address does not reach the next pod at once. The network
 * address, the broadcast address and the gateway are never handed out.
 *
 * Damage is handled so that it can never cause a duplicate: a record that
 * cannot be read or parsed keeps its address taken (and matches no
 * container); an unreadable "last" is ignored and rewritten; temporary files
 * left by a crash are removed under the lock (no writer can be active then);
 * files that are not addresses are ignored. Records of a container outside
 * the current range (the pod CIDR changed) are dropped when it allocates
 * again.
 */
#ifndef CAPSTAN_CNI_IPAM_H
#define CAPSTAN_CNI_IPAM_H

#include <stddef.h>
#include <stdint.h>

/* An IPv4 network. addr is in host byte order with the host bits clear. */
struct cni_ip4_net {
	uint32_t addr;
	unsigned prefix; /* 0-32 */
};

/* Room for "255.255.255.255/32" and its NUL (with slack for the compiler's
 * worst case of a 3-digit prefix). */
#define CNI_IP4_STRLEN 20

/*
 * Parse a dotted quad (exactly four decimal parts, no leading junk or
 * trailing characters) into host byte order. 0 or -EINVAL; sets *out only on
 * success.
 */
int cni_ip4_parse(const char *s, uint32_t *out);
/*
 * Parse "a.b.c.d/n" (n 0-32, decimal). The address is returned as written,
 * host bits included, so a pod address "10.244.1.5/32" and a network
 * "10.244.1.0/24" parse alike. 0 or -EINVAL; sets the outputs only on success.
 */
int cni_ip4_cidr_parse(const char *s, uint32_t *addr, unsigned *prefix);
/* The netmask of a prefix length, host byte order (prefix 0 gives 0). */
uint32_t cni_ip4_mask(unsigned prefix);
/* Format an address (host byte order) into buf (CNI_IP4_STRLEN bytes); returns buf. */
char *cni_ip4_str(uint32_t addr, char *buf);
/* Format "addr/prefix" into buf (CNI_IP4_STRLEN bytes); returns buf. */
char *cni_ip4_cidr_str(uint32_t addr, unsigned prefix, char *buf);

struct cni_ipam_conf {
	const char *data_dir;	/* state lives under <data_dir>/ipam/<network>/ */
	const char *network;	/* the network name: a letter or digit, then [A-Za-z0-9_.-] */
	struct cni_ip4_net net; /* prefix 8-30 */
	uint32_t gateway;	/* inside net; never handed out */
	int lock_timeout_ms;	/* how long to wait for the lock; 0 means 10000 */
};

/*
 * The address of (id, ifname): the one it already holds in conf's range, or
 * the next free one after "last". Creates the directories as needed.
 *
 * 0 on success with *out set; -ENOSPC when every address is taken;
 * -EAGAIN when the lock was not obtained within the timeout; -EINVAL for a
 * bad conf, id or ifname; another -errno when the state cannot be read or
 * written. On failure err (errlen bytes, may be NULL) says what failed.
 */
int cni_ipam_alloc(const struct cni_ipam_conf *conf, const char *id, const char *ifname,
		   uint32_t *out, char *err, size_t errlen);

/*
 * Release every address held by (id, ifname), in range or not. Holding none
 * is not an error (DEL is idempotent).
 *
 * The number of addresses released (0 or more) on success; -EAGAIN,
 * -EINVAL or another -errno as for cni_ipam_alloc.
 */
int cni_ipam_release(const struct cni_ipam_conf *conf, const char *id, const char *ifname,
		     char *err, size_t errlen);

/*
 * The address (id, ifname) holds in conf's range, without allocating.
 * 0 with *out set; -ENOENT when it holds none (also when the state
 * directory does not exist); other errors as for cni_ipam_alloc.
 */
int cni_ipam_lookup(const struct cni_ipam_conf *conf, const char *id, const char *ifname,
		    uint32_t *out, char *err, size_t errlen);

#endif
