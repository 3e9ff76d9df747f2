/*
 * ipam_cidr.c - see ipam_cidr.h.
 *
 * Ranges are numbered 0..total-1 from the start of the cluster CIDR; range
 * i starts at base + i * 2^(32 - mask). The owner of each node is a jansson
 * object node -> [first, last] (the codebase's hash table), and the bitmap
 * answers "is range i free" in O(1).
 */
#include "control/controllers/ipam_cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util.h"

struct ipam_cidr {
	uint32_t base;	 /* cluster network, host order */
	unsigned prefix; /* cluster prefix length */
	unsigned mask;	 /* node range prefix length */
	size_t total;	 /* ranges */
	size_t used;	 /* bits set */
	size_t next;	 /* where the next search starts */
	uint8_t *bits;	 /* one bit per range */
	json_t *owners;	 /* node -> [first, last] */
};

/* "a.b.c.d/n" into host-order address and prefix. 0 or -EINVAL. */
static int parse_cidr4(const char *s, uint32_t *addr, unsigned *prefix)
{
	char ip[INET_ADDRSTRLEN];
	const char *slash = s ? strchr(s, '/') : NULL;
	struct in_addr a;
	unsigned long n;
	char *end;

	if (!slash || (size_t)(slash - s) >= sizeof(ip) || !slash[1])
		return -EINVAL;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	if (inet_pton(AF_INET, ip, &a) != 1)
		return -EINVAL;
	/* strtoul would take "+8" or " 8": only digits are a prefix length. */
	for (const char *p = slash + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return -EINVAL;
	errno = 0;
	n = strtoul(slash + 1, &end, 10);
	if (errno || *end || n > 32 || strlen(slash + 1) > 2)
		return -EINVAL;
	*addr = ntohl(a.s_addr);
	*prefix = (unsigned)n;
	return 0;
}

static uint32_t prefix_mask(unsigned prefix)
{
	return prefix ? ~(uint32_t)0 << (32 - prefix) : 0;
}

static bool bit_get(const struct ipam_cidr *s, size_t i)
{
	return s->bits[i / 8] & (1u << (i % 8));
}

static void bit_set(struct ipam_cidr *s, size_t i, bool on)
{
	if (on == bit_get(s, i))
		return;
	if (on) {
		s->bits[i / 8] |= (uint8_t)(1u << (i % 8));
		s->used++;
	} else {
		s->bits[i / 8] &= (uint8_t) ~(1u << (i % 8));
		s->used--;
	}
}

static void range_string(const struct ipam_cidr *s, size_t i, char *buf, size_t len)
{
	struct in_addr a = { .s_addr = htonl(s->base + (uint32_t)(i << (32 - s->mask))) };
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	snprintf(buf, len, "%s/%u", ip, s->mask);
}

int ipam_cidr_new(const char *cluster_cidr, unsigned node_mask, struct ipam_cidr **out, char *err,
		  size_t errlen)
{
	struct ipam_cidr *s;
	uint32_t addr;
	unsigned prefix;

	if (parse_cidr4(cluster_cidr, &addr, &prefix) < 0) {
		snprintf(err, errlen, "--cluster-cidr: \"%s\" is not an IPv4 CIDR",
			 cluster_cidr ? cluster_cidr : "");
		return -EINVAL;
	}
	if (addr & ~prefix_mask(prefix)) {
		snprintf(err, errlen, "--cluster-cidr: \"%s\" has host bits set", cluster_cidr);
		return -EINVAL;
	}
	if (node_mask < prefix || node_mask > 32) {
		snprintf(
			err, errlen,
			"--node-cidr-mask-size: /%u must be between the cluster prefix /%u and /32",
			node_mask, prefix);
		return -EINVAL;
	}
	if (node_mask - prefix > 16) {
		snprintf(err, errlen,
			 "--node-cidr-mask-size: /%u is more than 16 bits longer than /%u",
			 node_mask, prefix);
		return -EINVAL;
	}
	s = xcalloc(1, sizeof(*s));
	s->base = addr;
	s->prefix = prefix;
	s->mask = node_mask;
	s->total = (size_t)1 << (node_mask - prefix);
	s->bits = xcalloc((s->total + 7) / 8, 1);
	s->owners = json_object();
	*out = s;
	return 0;
}

void ipam_cidr_free(struct ipam_cidr *s)
{
	if (!s)
		return;
	json_decref(s->owners);
	free(s->bits);
	free(s);
}

static void held(const struct ipam_cidr *s, const char *node, size_t *first, size_t *last,
		 bool *has)
{
	const json_t *r = json_object_get(s->owners, node);

	*has = json_is_array(r);
	if (*has) {
		*first = (size_t)json_integer_value(json_array_get(r, 0));
		*last = (size_t)json_integer_value(json_array_get(r, 1));
	}
}

int ipam_cidr_release(struct ipam_cidr *s, const char *node)
{
	size_t first = 0, last = 0;
	bool has;

	held(s, node ? node : "", &first, &last, &has);
	if (!has)
		return -ENOENT;
	for (size_t i = first; i <= last; i++)
		bit_set(s, i, false);
	json_object_del(s->owners, node);
	return 0;
}

/* Node holding range i, or NULL. Linear in nodes: only used on a conflict. */
static const char *owner_of(const struct ipam_cidr *s, size_t i)
{
	const char *node;
	json_t *r;

	json_object_foreach(s->owners, node, r) {
		if ((size_t)json_integer_value(json_array_get(r, 0)) <= i &&
		    i <= (size_t)json_integer_value(json_array_get(r, 1)))
			return node;
	}
	return NULL;
}

int ipam_cidr_occupy(struct ipam_cidr *s, const char *node, const char *cidr)
{
	uint32_t addr, lo, hi, cl_hi;
	unsigned prefix;
	size_t first, last, hf = 0, hl = 0;
	bool has;

	if (!node || !*node || parse_cidr4(cidr, &addr, &prefix) < 0)
		return -EINVAL;
	lo = addr & prefix_mask(prefix);
	hi = lo | ~prefix_mask(prefix);
	cl_hi = s->base | ~prefix_mask(s->prefix);
	if (hi < s->base || lo > cl_hi)
		return -ERANGE;
	/* A range wider than the cluster CIDR is clamped to it, as upstream does. */
	lo = MAX(lo, s->base);
	hi = MIN(hi, cl_hi);
	first = (lo - s->base) >> (32 - s->mask);
	last = (hi - s->base) >> (32 - s->mask);
	held(s, node, &hf, &hl, &has);
	if (has && hf == first && hl == last)
		return 0;
	for (size_t i = first; i <= last; i++) {
		const char *o = bit_get(s, i) ? owner_of(s, i) : NULL;

		if (o && strcmp(o, node) != 0)
			return -EEXIST;
	}
	if (has)
		ipam_cidr_release(s, node);
	for (size_t i = first; i <= last; i++)
		bit_set(s, i, true);
	json_object_set_new(s->owners, node,
			    json_pack("[I,I]", (json_int_t)first, (json_int_t)last));
	return 0;
}

int ipam_cidr_allocate(struct ipam_cidr *s, const char *node, char *buf, size_t len)
{
	size_t first = 0, last = 0;
	bool has;

	if (!node || !*node || len < IPAM_CIDR_STRLEN)
		return -EINVAL;
	held(s, node, &first, &last, &has);
	if (has) {
		range_string(s, first, buf, len);
		return 0;
	}
	for (size_t n = 0; n < s->total; n++) {
		size_t i = (s->next + n) % s->total;

		if (bit_get(s, i))
			continue;
		bit_set(s, i, true);
		json_object_set_new(s->owners, node,
				    json_pack("[I,I]", (json_int_t)i, (json_int_t)i));
		s->next = (i + 1) % s->total;
		range_string(s, i, buf, len);
		return 0;
	}
	return -ENOSPC;
}

int ipam_cidr_lookup(const struct ipam_cidr *s, const char *node, char *buf, size_t len)
{
	size_t first = 0, last = 0;
	bool has;

	if (len < IPAM_CIDR_STRLEN)
		return -EINVAL;
	held(s, node ? node : "", &first, &last, &has);
	if (!has)
		return -ENOENT;
	range_string(s, first, buf, len);
	return 0;
}

size_t ipam_cidr_total(const struct ipam_cidr *s)
{
	return s->total;
}

size_t ipam_cidr_free_count(const struct ipam_cidr *s)
{
	return s->total - s->used;
}
