/* alloc.c - see alloc.h. */
#include "control/apiserver/alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util.h"

static uint32_t rand32(void)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)now_mono_ns();
	return r;
}

static int bit_get(const uint8_t *bits, uint32_t i)
{
	return bits[i / 8] >> (i % 8) & 1;
}

static void bit_set(uint8_t *bits, uint32_t i, int v)
{
	if (v)
		bits[i / 8] |= 1u << (i % 8);
	else
		bits[i / 8] &= ~(1u << (i % 8));
}

/* A free index in [lo, hi) starting at a random point, or -1. */
static int64_t find_free(const uint8_t *bits, uint32_t lo, uint32_t hi)
{
	uint32_t n = hi - lo, start;

	if (hi <= lo)
		return -1;
	start = rand32() % n;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = lo + (start + k) % n;

		if (!bit_get(bits, i))
			return i;
	}
	return -1;
}

int ipalloc_init(struct ipalloc *a, const char *cidr)
{
	char addr[32];
	const char *slash = strchr(cidr, '/');
	struct in_addr in;
	char *end;
	long prefix;

	memset(a, 0, sizeof(*a));
	if (!slash || (size_t)(slash - cidr) >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, cidr, slash - cidr);
	addr[slash - cidr] = '\0';
	prefix = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || prefix < 8 || prefix > 29 ||
	    inet_pton(AF_INET, addr, &in) != 1)
		return -EINVAL;
	a->prefix = prefix;
	a->size = 1u << (32 - prefix);
	a->base = ntohl(in.s_addr) & ~(a->size - 1);
	a->bits = xcalloc(a->size / 8 + 1, 1);
	/* The network and broadcast addresses are never handed out. */
	bit_set(a->bits, 0, 1);
	bit_set(a->bits, a->size - 1, 1);
	in.s_addr = htonl(a->base);
	snprintf(a->cidr, sizeof(a->cidr), "%s/%u", inet_ntoa(in), a->prefix);
	return 0;
}

void ipalloc_destroy(struct ipalloc *a)
{
	free(a->bits);
	a->bits = NULL;
}

/* Index of ip in the range, or -errno. */
static int64_t ip_index(const struct ipalloc *a, const char *ip)
{
	struct in_addr in;
	uint32_t h;

	if (!ip || inet_pton(AF_INET, ip, &in) != 1)
		return -EINVAL;
	h = ntohl(in.s_addr);
	if ((h & ~(a->size - 1)) != a->base)
		return -ERANGE;
	h -= a->base;
	if (h == 0 || h == a->size - 1)
		return -ERANGE;
	return h;
}

int ipalloc_take(struct ipalloc *a, const char *ip)
{
	int64_t i = ip_index(a, ip);

	if (i < 0)
		return (int)i;
	if (bit_get(a->bits, i))
		return -EEXIST;
	bit_set(a->bits, i, 1);
	a->used++;
	return 0;
}

static void format_ip(const struct ipalloc *a, uint32_t i, char *buf, size_t len)
{
	struct in_addr in = { .s_addr = htonl(a->base + i) };

	inet_ntop(AF_INET, &in, buf, len);
}

int ipalloc_next(struct ipalloc *a, char *buf, size_t len)
{
	uint32_t band = MIN(MAX(16u, a->size / 16), 256u);
	int64_t i;

	if (band >= a->size)
		band = 0;
	i = find_free(a->bits, band, a->size);
	if (i < 0)
		i = find_free(a->bits, 0, band);
	if (i < 0)
		return -ENOSPC;
	bit_set(a->bits, i, 1);
	a->used++;
	format_ip(a, i, buf, len);
	return 0;
}

void ipalloc_release(struct ipalloc *a, const char *ip)
{
	int64_t i = ip_index(a, ip);

	if (i > 0 && bit_get(a->bits, i)) {
		bit_set(a->bits, i, 0);
		a->used--;
	}
}

void ipalloc_first(const struct ipalloc *a, char *buf, size_t len)
{
	format_ip(a, 1, buf, len);
}

int portalloc_init(struct portalloc *p, const char *range)
{
	int lo, hi, n = 0;

	memset(p, 0, sizeof(*p));
	if (sscanf(range, "%d-%d%n", &lo, &hi, &n) != 2 || range[n] || lo < 1 || hi > 65535 ||
	    lo > hi)
		return -EINVAL;
	p->lo = lo;
	p->hi = hi;
	p->bits = xcalloc((hi - lo + 1) / 8 + 1, 1);
	snprintf(p->range, sizeof(p->range), "%d-%d", lo, hi);
	return 0;
}

void portalloc_destroy(struct portalloc *p)
{
	free(p->bits);
	p->bits = NULL;
}

int portalloc_take(struct portalloc *p, int port)
{
	if (port < p->lo || port > p->hi)
		return -ERANGE;
	if (bit_get(p->bits, port - p->lo))
		return -EEXIST;
	bit_set(p->bits, port - p->lo, 1);
	return 0;
}

int portalloc_next(struct portalloc *p, int *port)
{
	uint32_t size = p->hi - p->lo + 1;
	uint32_t band = MIN(MAX(16u, size / 32), 128u);
	int64_t i;

	if (band >= size)
		band = 0;
	i = find_free(p->bits, band, size);
	if (i < 0)
		i = find_free(p->bits, 0, band);
	if (i < 0)
		return -ENOSPC;
	bit_set(p->bits, i, 1);
	*port = p->lo + (int)i;
	return 0;
}

void portalloc_release(struct portalloc *p, int port)
{
	if (port >= p->lo && port <= p->hi)
		bit_set(p->bits, port - p->lo, 0);
}
