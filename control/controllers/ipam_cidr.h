/*
 * ipam_cidr.h - the node IPAM controller's range allocator: the cluster CIDR
 * (10.244.0.0/16) cut into per-node ranges (/24), handed out one per node.
 *
 * A set is a bitmap of the ranges plus a map node -> ranges it holds, so a
 * node that asks twice (the informer cache had not yet seen the first
 * answer) gets the same range back and no range is ever given to two nodes.
 * Allocation is round robin, as upstream's cidrset does: the search starts
 * after the last range handed out, so a range released by a deleted node is
 * reused as late as possible (its old pods' addresses may still sit in
 * caches elsewhere). Ranges a node already carries at start are occupied
 * whatever their size: a /25 inside the cluster CIDR occupies the /24 it
 * falls in, a /23 both /24s it covers.
 *
 * IPv4 only, like the rest of capstan's pod network. At most 2^16 ranges per
 * set (node mask minus cluster prefix <= 16, upstream's limit). Not
 * thread-safe: the controller holds one lock around every call.
 */
#ifndef CAPSTAN_CONTROLLERS_IPAM_CIDR_H
#define CAPSTAN_CONTROLLERS_IPAM_CIDR_H

#include <stddef.h>

struct ipam_cidr;

/* Longest range string: "255.255.255.255/32" + NUL. */
#define IPAM_CIDR_STRLEN 19

/*
 * A set for cluster_cidr ("10.244.0.0/16") cut into /node_mask ranges.
 * 0 and *out set; -EINVAL with a message in err ("--cluster-cidr: ...")
 * when the CIDR does not parse, is not IPv4, has host bits set, or the mask
 * is smaller than the cluster prefix, over 32 or more than 16 bits longer.
 */
int ipam_cidr_new(const char *cluster_cidr, unsigned node_mask, struct ipam_cidr **out, char *err,
		  size_t errlen);
void ipam_cidr_free(struct ipam_cidr *s);

/*
 * Record that node carries cidr (from its spec.podCIDR). 0 on success (also
 * when node already holds exactly these ranges); -EINVAL when cidr does not
 * parse or node is empty; -ERANGE when cidr lies outside the cluster CIDR;
 * -EEXIST when a range it covers belongs to another node (nothing changes).
 * A node that held other ranges releases them first.
 */
int ipam_cidr_occupy(struct ipam_cidr *s, const char *node, const char *cidr);

/*
 * A range for node into buf (at least IPAM_CIDR_STRLEN bytes): the one it
 * holds already, else the next free one. 0 on success; -ENOSPC when every
 * range is taken; -EINVAL for an empty node or a short buffer.
 */
int ipam_cidr_allocate(struct ipam_cidr *s, const char *node, char *buf, size_t len);

/* Free what node holds. 0, or -ENOENT when it holds nothing. */
int ipam_cidr_release(struct ipam_cidr *s, const char *node);

/* The first range node holds into buf. 0, -ENOENT, or -EINVAL for a short buffer. */
int ipam_cidr_lookup(const struct ipam_cidr *s, const char *node, char *buf, size_t len);

/* Ranges in the set, and how many are free. */
size_t ipam_cidr_total(const struct ipam_cidr *s);
size_t ipam_cidr_free_count(const struct ipam_cidr *s);

#endif
