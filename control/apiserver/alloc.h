/*
 * alloc.h - the service ClusterIP and NodePort allocators.
 *
 * Bitmaps over the configured ranges. Allocation state is not stored: the
 * API server rebuilds it at start from the Services in the cache (the
 * store is the only truth, and a single server owns it). Callers hold the
 * server's alloc_lock.
 *
 * Dynamic choices are random and come from the upper part of a range first,
 * leaving the lower band (1/16 of a service range, at least 16 and at most
 * 256 addresses; 1/32 of a port range, 16..128 ports) to users who ask for
 * a specific address or port, as upstream does, so static requests rarely
 * collide with dynamic ones.
 */
#ifndef CAPSTAN_APISERVER_ALLOC_H
#define CAPSTAN_APISERVER_ALLOC_H

#include <stddef.h>
#include <stdint.h>

struct ipalloc {
	uint32_t base;		/* network address, host byte order */
	unsigned prefix;
	uint32_t size;		/* addresses in the range, network and broadcast included */
	uint32_t used;
	uint8_t *bits;
	char cidr[32];
};

/* "10.96.0.0/12" (prefix 8..29). 0 or -EINVAL. */
int ipalloc_init(struct ipalloc *a, const char *cidr);
void ipalloc_destroy(struct ipalloc *a);
/* Reserve a given address. 0, -EINVAL (not IPv4), -ERANGE (outside, or the
 * network/broadcast address), -EEXIST (taken). */
int ipalloc_take(struct ipalloc *a, const char *ip);
/* Reserve any free address into buf. 0 or -ENOSPC. */
int ipalloc_next(struct ipalloc *a, char *buf, size_t len);
void ipalloc_release(struct ipalloc *a, const char *ip);
/* The first usable address (the kubernetes Service's). */
void ipalloc_first(const struct ipalloc *a, char *buf, size_t len);

struct portalloc {
	int lo, hi;		/* inclusive */
	uint8_t *bits;
	char range[24];
};

/* "30000-32767". 0 or -EINVAL. */
int portalloc_init(struct portalloc *p, const char *range);
void portalloc_destroy(struct portalloc *p);
/* 0, -ERANGE (outside the range), -EEXIST (taken). */
int portalloc_take(struct portalloc *p, int port);
/* 0 with *port set, or -ENOSPC. */
int portalloc_next(struct portalloc *p, int *port);
void portalloc_release(struct portalloc *p, int port);

#endif
