/* maglev.c - see maglev.h. */
#include "agent/lb/maglev.h"

#include <errno.h>
#include <stdlib.h>

#include "util.h"

/* A table slot no turn has claimed yet; turn indices are < m < this. */
#define LB_MAGLEV_FREE UINT32_MAX

/* One backend's state while a table fills. */
struct lb_maglev_turn {
	uint64_t key;
	uint32_t id;
	uint32_t weight;
	uint32_t pos;	/* the next slot of its permutation to try */
	uint32_t skip;	/* 1..m-1 */
	uint32_t count; /* slots claimed so far */
};

/*
 * h1 (lane 0) and h2 (lane 1) of the paper. Keys from lb_key_pack differ
 * in a few low address bits, which mix64's avalanche spreads. The salt
 * separates seeds and lanes; two rounds keep h1 and h2 of one key unrelated
 * even though they differ only by the salt.
 */
static uint64_t lb_maglev_hash(uint64_t key, uint32_t seed, unsigned int lane)
{
	uint64_t salt = mix64(((uint64_t)seed << 1 | lane) + 0x9e3779b97f4a7c15ULL);

	return mix64(mix64(key ^ salt) + salt);
}

bool lb_maglev_size_ok(uint32_t m)
{
	if (m < LB_MAGLEV_MIN_M || m > LB_MAGLEV_MAX_M || m % 2 == 0)
		return false;
	/* Trial division: d <= sqrt(131071) < 363. */
	for (uint32_t d = 3; d * d <= m; d += 2)
		if (m % d == 0)
			return false;
	return true;
}

uint32_t lb_maglev_seed(const char *s)
{
	/* FNV-1a, 64-bit offset basis and prime; bytes as unsigned char whatever char is. */
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	h = mix64(h);
	return (uint32_t)(h >> 32) ^ (uint32_t)h;
}

static int lb_maglev_cmp_key(const void *a, const void *b)
{
	const struct lb_maglev_turn *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

/*
 * Whether turn a is due before turn b: a's next turn (its count-th) is due
 * at count_a / w_a. Cross-multiplied to stay in integers: counts are <= m
 * < 2^17 and weights < 2^32, so the products fit in 64 bits. Ties go to the
 * smaller index, i.e. the smaller key, which makes the order total.
 */
static bool lb_maglev_before(const struct lb_maglev_turn *t, uint32_t a, uint32_t b)
{
	uint64_t da = (uint64_t)t[a].count * t[b].weight;
	uint64_t db = (uint64_t)t[b].count * t[a].weight;

	return da < db || (da == db && a < b);
}

/* Restore the min-heap heap[0..len) after the root's due time grew. */
static void lb_maglev_sift_down(const struct lb_maglev_turn *t, uint32_t *heap, uint32_t len)
{
	uint32_t i = 0, top = heap[0];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= len)
			break;
		if (c + 1 < len && lb_maglev_before(t, heap[c + 1], heap[c]))
			c++;
		if (!lb_maglev_before(t, heap[c], top))
			break;
		heap[i] = heap[c];
		i = c;
	}
	heap[i] = top;
}

/*
 * Fill table[0..m) with indices into t[0..k). Each step gives one turn to
 * the backend due first (the heap's root); it walks its permutation to the
 * first free slot and claims it.
 *
 * Termination: a walk never fails, because the table is not full while a
 * turn is being taken and the walk covers all m slots before repeating
 * (skip is coprime to the prime m). Every turn claims exactly one slot, so
 * there are exactly m turns. A backend's position only moves forward along
 * its own permutation and stops on the slot it claims, so over the whole
 * fill it advances at most m times: at worst k m probes. The expected total
 * is the paper's m ln m (a probe misses with the filled fraction f, so a
 * turn costs 1 / (1 - f) probes on average), plus m heap steps of log k.
 */
static void lb_maglev_fill(struct lb_maglev_turn *t, uint32_t k, uint32_t m, uint32_t *table)
{
	uint32_t *heap = xcalloc(k, sizeof(*heap));

	/* Every count is 0, so due times tie and index order is already a heap. */
	for (uint32_t i = 0; i < k; i++)
		heap[i] = i;
	for (uint32_t s = 0; s < m; s++)
		table[s] = LB_MAGLEV_FREE;
	for (uint32_t filled = 0; filled < m; filled++) {
		struct lb_maglev_turn *b = &t[heap[0]];

		while (table[b->pos] != LB_MAGLEV_FREE) {
			b->pos += b->skip; /* both < m <= 2^17: no overflow */
			if (b->pos >= m)
				b->pos -= m;
		}
		table[b->pos] = heap[0];
		b->count++;
		lb_maglev_sift_down(t, heap, k);
	}
	free(heap);
}

int lb_maglev_build(const struct lb_maglev_backend *be, size_t n, uint32_t m, uint32_t seed,
		    uint32_t *table)
{
	struct lb_maglev_turn *t = NULL;
	size_t k = 0;
	int err = -EINVAL;

	if (!be || !table || n == 0 || !lb_maglev_size_ok(m))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		k += be[i].weight != 0;
	if (k == 0 || k > m)
		return -EINVAL;

	/* All n, weightless ones too: a repeated key is a caller bug either way. */
	t = xcalloc(n, sizeof(*t));
	for (size_t i = 0; i < n; i++) {
		t[i].key = be[i].key;
		t[i].id = be[i].id;
		t[i].weight = be[i].weight;
	}
	qsort(t, n, sizeof(*t), lb_maglev_cmp_key);
	for (size_t i = 1; i < n; i++)
		if (t[i].key == t[i - 1].key)
			goto out;

	/* Keep the weighted ones, still in key order: turn indices follow keys. */
	k = 0;
	for (size_t i = 0; i < n; i++) {
		if (t[i].weight == 0)
			continue;
		t[k] = t[i];
		t[k].pos = lb_maglev_hash(t[k].key, seed, 0) % m;
		t[k].skip = lb_maglev_hash(t[k].key, seed, 1) % (m - 1) + 1;
		t[k].count = 0;
		k++;
	}
	lb_maglev_fill(t, (uint32_t)k, m, table);
	for (uint32_t s = 0; s < m; s++)
		table[s] = t[table[s]].id;
	err = 0;
out:
	free(t);
	return err;
}
