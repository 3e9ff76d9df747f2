/*
 * Unit tests for agent/lb/maglev: the properties maglev.h promises (even
 * shares, small disruption on a backend change, the weighted share bound,
 * the same table on every node whatever order and ids it sees) checked on
 * realistic keys, and the exact tables checked against a reference written
 * out here from the paper and maglev.h's description.
 *
 * The reference (ref_*) is deliberately naive: the paper's round-robin for
 * equal weights, a linear scan for "whose turn is due" with weights. It
 * repeats the hash of maglev.c on purpose: that hash decides which backend
 * every node picks for a flow, so it may never change, and a second copy
 * that must keep agreeing is what makes a change visible. The pinned values
 * at the end guard the same thing without trusting the reference.
 */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>

#include "agent/lb/maglev.h"
#include "agent/lb/writer.h"
#include "util.h"

#define M LB_MAGLEV_DEFAULT_M

/*
 * Disruption bound, as a fraction of M, on the slots that move from one
 * surviving backend to another when a backend is added or removed. Plain
 * Maglev is not minimally disruptive: measured here at M = 16381 it is
 * up to 0.6% (N = 10) and 1.5% (N = 100) of M, the same as the paper's
 * algorithm with random permutations. 3% leaves a factor of two; modulo
 * hashing would move 80-99% of the table.
 */
#define EXTRA_MOVES_MAX (M * 3 / 100)

static uint32_t tab_a[M], tab_b[M];

/* A backend key as the agent makes it: 10.244.x.y:8080/TCP. */
static uint64_t test_key(uint32_t i)
{
	return lb_key_pack(htonl(0x0af40000u + i), htons(8080), IPPROTO_TCP);
}

/* splitmix64: the tests' own PRNG, fixed seeds, so every run is the same. */
static uint64_t test_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void test_shuffle(struct lb_maglev_backend *be, size_t n, uint64_t *state)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = test_rand(state) % i;
		struct lb_maglev_backend tmp = be[i - 1];

		be[i - 1] = be[j];
		be[j] = tmp;
	}
}

/* n backends with keys test_key(1..n), ids 1..n, weight 1. */
static struct lb_maglev_backend *test_backends(size_t n)
{
	struct lb_maglev_backend *be = xcalloc(n, sizeof(*be));

	for (size_t i = 0; i < n; i++) {
		be[i].key = test_key((uint32_t)i + 1);
		be[i].id = (uint32_t)i + 1;
		be[i].weight = 1;
	}
	return be;
}

static uint32_t test_count(const uint32_t *table, uint32_t m, uint32_t id)
{
	uint32_t c = 0;

	for (uint32_t s = 0; s < m; s++)
		c += table[s] == id;
	return c;
}

/*
 * maglev.h's share bound for every backend of be[0..n) (ids distinct):
 * s_i - N w_i / W <= c_i <= s_i + 1 with s_i = m w_i / W, multiplied by W
 * to stay in integers; weight 0 means no entry at all.
 */
static void test_check_shares(const struct lb_maglev_backend *be, size_t n, const uint32_t *table,
			      uint32_t m)
{
	uint64_t w_sum = 0, weighted = 0, total = 0;

	for (size_t i = 0; i < n; i++) {
		w_sum += be[i].weight;
		weighted += be[i].weight != 0;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t c = test_count(table, m, be[i].id), w = be[i].weight;

		total += c;
		if (w == 0) {
			ASSERT_MSG(c == 0, "weightless id %u has %llu entries", be[i].id,
				   (unsigned long long)c);
			continue;
		}
		ASSERT_MSG(c * w_sum + weighted * w >= (uint64_t)m * w &&
				   c * w_sum <= (uint64_t)m * w + w_sum,
			   "id %u weight %llu: %llu entries of %u, share %.2f", be[i].id,
			   (unsigned long long)w, (unsigned long long)c, m,
			   (double)m * (double)w / (double)w_sum);
	}
	ASSERT_EQ(total, m);
}

/* With equal weights the bound is floor(m / n) or ceil(m / n). */
static void test_check_even(const struct lb_maglev_backend *be, size_t n, const uint32_t *table,
			    uint32_t m)
{
	uint32_t lo = m / (uint32_t)n, hi = lo + (m % n != 0), total = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t c = test_count(table, m, be[i].id);

		ASSERT_MSG(c == lo || c == hi, "n %zu: id %u has %u entries, not %u or %u", n,
			   be[i].id, c, lo, hi);
		total += c;
	}
	ASSERT_EQ(total, m);
}

/* ------------------------------------------------------------ reference */

static bool ref_is_prime(uint32_t m)
{
	if (m < 2)
		return false;
	for (uint64_t d = 2; d * d <= m; d++)
		if (m % d == 0)
			return false;
	return true;
}

static uint64_t ref_mix(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* h1 (lane 0, the offset) and h2 (lane 1, the skip). */
static uint64_t ref_hash(uint64_t key, uint32_t seed, unsigned int lane)
{
	uint64_t salt = ref_mix((((uint64_t)seed << 1) | lane) + 0x9e3779b97f4a7c15ULL);

	return ref_mix(ref_mix(key ^ salt) + salt);
}

static uint32_t ref_seed(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; s[i]; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	h = ref_mix(h);
	return (uint32_t)(h >> 32) ^ (uint32_t)h;
}

static int ref_cmp_key(const void *a, const void *b)
{
	const struct lb_maglev_backend *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

/* be[0..n) sorted by key, weightless ones dropped; returns how many are left. */
static size_t ref_sorted(const struct lb_maglev_backend *be, size_t n,
			 struct lb_maglev_backend *out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (be[i].weight)
			out[k++] = be[i];
	qsort(out, k, sizeof(*out), ref_cmp_key);
	return k;
}

/* Slot j of backend key's permutation. */
static uint32_t ref_perm(uint64_t key, uint32_t seed, uint32_t m, uint32_t j)
{
	uint64_t offset = ref_hash(key, seed, 0) % m, skip = ref_hash(key, seed, 1) % (m - 1) + 1;

	return (uint32_t)((offset + j * skip) % m);
}

/* The paper's Algorithm 1: backends take turns in key order, each claims its next free slot. */
static void ref_build_paper(const struct lb_maglev_backend *be, size_t n, uint32_t m, uint32_t seed,
			    uint32_t *table)
{
	struct lb_maglev_backend *b = xcalloc(n, sizeof(*b));
	uint32_t *next = xcalloc(n, sizeof(*next));
	bool *taken = xcalloc(m, sizeof(*taken));
	size_t k = ref_sorted(be, n, b);
	uint32_t filled = 0;

	while (filled < m) {
		for (size_t i = 0; i < k && filled < m; i++) {
			uint32_t c = ref_perm(b[i].key, seed, m, next[i]);

			while (taken[c])
				c = ref_perm(b[i].key, seed, m, ++next[i]);
			taken[c] = true;
			table[c] = b[i].id;
			next[i]++;
			filled++;
		}
	}
	free(taken);
	free(next);
	free(b);
}

/*
 * maglev.h's weighted turns: the next turn goes to the backend whose
 * count / weight is smallest, ties to the smaller key; found by a linear
 * scan instead of a heap.
 */
static void ref_build_weighted(const struct lb_maglev_backend *be, size_t n, uint32_t m,
			       uint32_t seed, uint32_t *table)
{
	struct lb_maglev_backend *b = xcalloc(n, sizeof(*b));
	uint32_t *next = xcalloc(n, sizeof(*next)), *count = xcalloc(n, sizeof(*count));
	bool *taken = xcalloc(m, sizeof(*taken));
	size_t k = ref_sorted(be, n, b);

	for (uint32_t filled = 0; filled < m; filled++) {
		size_t best = 0;

		for (size_t i = 1; i < k; i++)
			if ((uint64_t)count[i] * b[best].weight <
			    (uint64_t)count[best] * b[i].weight)
				best = i;
		uint32_t c = ref_perm(b[best].key, seed, m, next[best]);

		while (taken[c])
			c = ref_perm(b[best].key, seed, m, ++next[best]);
		taken[c] = true;
		table[c] = b[best].id;
		next[best]++;
		count[best]++;
	}
	free(taken);
	free(count);
	free(next);
	free(b);
}

/* ------------------------------------------------------------ tests */

TEST(agent_maglev_size_ok)
{
	static const uint32_t good[] = { 251, 257, 16381, 65537, 131071 };
	static const uint32_t bad[] = { 0,     1,      2,      3,      241,	   250,
					252,   253,    255,    256,    361,	   16383,
					16129, 128881, 131072, 131073, UINT32_MAX, 4294967291u };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ASSERT_MSG(lb_maglev_size_ok(good[i]), "%u rejected", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_MSG(!lb_maglev_size_ok(bad[i]), "%u accepted", bad[i]);
	/* Every m up to past the upper bound against plain trial division. */
	for (uint32_t m = 0; m <= LB_MAGLEV_MAX_M + 1000; m++) {
		bool want = m >= LB_MAGLEV_MIN_M && m <= LB_MAGLEV_MAX_M && ref_is_prime(m);

		ASSERT_MSG(lb_maglev_size_ok(m) == want, "m %u: got %d, want %d", m,
			   lb_maglev_size_ok(m), want);
	}
	ASSERT(ref_is_prime(LB_MAGLEV_MIN_M) && ref_is_prime(LB_MAGLEV_DEFAULT_M) &&
	       ref_is_prime(LB_MAGLEV_MAX_M));
}

TEST(agent_maglev_seed)
{
	static const char *const s[] = {
		"",	    "a",	"b",	"A",	    "capstan",
		"capstan2", "2capstan", "\xff", "\x80\x01", "a much longer seed string"
	};
	size_t n = sizeof(s) / sizeof(s[0]);

	for (size_t i = 0; i < n; i++) {
		ASSERT_EQ(lb_maglev_seed(s[i]), lb_maglev_seed(s[i]));
		/* High bytes read as unsigned char, whatever char is here. */
		ASSERT_MSG(lb_maglev_seed(s[i]) == ref_seed(s[i]), "seed(\"%s\") %#x, want %#x",
			   s[i], lb_maglev_seed(s[i]), ref_seed(s[i]));
		for (size_t j = 0; j < i; j++)
			ASSERT_MSG(lb_maglev_seed(s[i]) != lb_maglev_seed(s[j]),
				   "\"%s\" and \"%s\" share a seed", s[i], s[j]);
	}
	ASSERT_EQ(lb_maglev_seed(NULL), lb_maglev_seed(""));
}

TEST(agent_maglev_equal_weights_are_even)
{
	static const size_t ns[] = { 1, 2, 3, 7, 10, 100, 1000 };
	uint32_t seed = lb_maglev_seed("capstan");

	for (size_t t = 0; t < sizeof(ns) / sizeof(ns[0]); t++) {
		struct lb_maglev_backend *be = test_backends(ns[t]);

		ASSERT_OK(lb_maglev_build(be, ns[t], M, seed, tab_a));
		test_check_even(be, ns[t], tab_a, M);
		free(be);
	}
	/* The smallest table, and as many backends as it has slots: one each. */
	struct lb_maglev_backend *be = test_backends(LB_MAGLEV_MIN_M);

	ASSERT_OK(lb_maglev_build(be, 3, LB_MAGLEV_MIN_M, seed, tab_a));
	test_check_even(be, 3, tab_a, LB_MAGLEV_MIN_M);
	ASSERT_OK(lb_maglev_build(be, LB_MAGLEV_MIN_M, LB_MAGLEV_MIN_M, seed, tab_a));
	test_check_even(be, LB_MAGLEV_MIN_M, tab_a, LB_MAGLEV_MIN_M);
	free(be);
}

TEST(agent_maglev_equal_weights_are_the_papers_maglev)
{
	static const size_t ns[] = { 1, 3, 10, 100 };
	static const uint32_t ms[] = { LB_MAGLEV_MIN_M, 1021, M };
	uint32_t seed = lb_maglev_seed("capstan");

	for (size_t t = 0; t < sizeof(ns) / sizeof(ns[0]); t++) {
		struct lb_maglev_backend *be = test_backends(ns[t]);

		for (size_t u = 0; u < sizeof(ms) / sizeof(ms[0]); u++) {
			ASSERT_OK(lb_maglev_build(be, ns[t], ms[u], seed, tab_a));
			ref_build_paper(be, ns[t], ms[u], seed, tab_b);
			for (uint32_t s = 0; s < ms[u]; s++)
				ASSERT_MSG(tab_a[s] == tab_b[s], "n %zu m %u slot %u: %u, want %u",
					   ns[t], ms[u], s, tab_a[s], tab_b[s]);
		}
		free(be);
	}
}

/*
 * Remove backend r from n and rebuild. Every slot the removed backend had
 * must go to a survivor; the slots that move between survivors are what
 * Maglev pays beyond the minimum.
 */
static void test_removals(size_t n, size_t step)
{
	struct lb_maglev_backend *be = test_backends(n), *rest = xcalloc(n, sizeof(*rest));
	uint32_t seed = lb_maglev_seed("capstan");

	ASSERT_OK(lb_maglev_build(be, n, M, seed, tab_a));
	for (size_t r = 0; r < n; r += step) {
		uint32_t gone = be[r].id, extra = 0, reassigned = 0;
		size_t k = 0;

		for (size_t i = 0; i < n; i++)
			if (i != r)
				rest[k++] = be[i];
		ASSERT_OK(lb_maglev_build(rest, k, M, seed, tab_b));
		test_check_even(rest, k, tab_b, M);
		for (uint32_t s = 0; s < M; s++) {
			ASSERT_MSG(tab_b[s] != gone, "removed id %u still in slot %u", gone, s);
			if (tab_a[s] == gone)
				reassigned++;
			else if (tab_b[s] != tab_a[s])
				extra++;
		}
		ASSERT_EQ(reassigned, test_count(tab_a, M, gone));
		ASSERT_MSG(extra < EXTRA_MOVES_MAX,
			   "n %zu, removing id %u moved %u survivor slots (bound %u)", n, gone,
			   extra, EXTRA_MOVES_MAX);
	}
	free(rest);
	free(be);
}

TEST(agent_maglev_removal_moves_little)
{
	test_removals(10, 1);
	test_removals(100, 7);
}

/* Add backend n + 1 to n: it takes its even share, and few other slots move. */
static void test_addition(size_t n)
{
	struct lb_maglev_backend *be = test_backends(n + 1);
	uint32_t seed = lb_maglev_seed("capstan"), added = be[n].id, taken = 0, extra = 0;

	ASSERT_OK(lb_maglev_build(be, n, M, seed, tab_a));
	ASSERT_OK(lb_maglev_build(be, n + 1, M, seed, tab_b));
	test_check_even(be, n + 1, tab_b, M);
	for (uint32_t s = 0; s < M; s++) {
		if (tab_b[s] == added)
			taken++;
		else if (tab_b[s] != tab_a[s])
			extra++;
	}
	ASSERT_EQ(taken, test_count(tab_b, M, added));
	ASSERT_MSG(extra < EXTRA_MOVES_MAX, "n %zu, adding one moved %u survivor slots (bound %u)",
		   n, extra, EXTRA_MOVES_MAX);
	free(be);
}

TEST(agent_maglev_addition_moves_little)
{
	test_addition(1);
	test_addition(10);
	test_addition(100);
}

/*
 * The cross-node property: two nodes list the same backends in different
 * orders under different node-local ids; slot by slot their tables name the
 * same backend (key).
 */
TEST(agent_maglev_same_table_whatever_order_and_ids)
{
	enum { N = 200 };
	struct lb_maglev_backend a[N], b[N];
	uint64_t rng = 1, key_of_a[N + 1] = { 0 }, key_of_b[3 * N] = { 0 };
	uint32_t seed = lb_maglev_seed("capstan");

	for (size_t i = 0; i < N; i++) {
		a[i].key = test_key((uint32_t)i + 1);
		a[i].id = (uint32_t)i + 1;
		/* Mixed weights, a few weightless backends among them. */
		a[i].weight = i % 17 == 0 ? 0 : 1 + (uint32_t)(test_rand(&rng) % 5);
		key_of_a[a[i].id] = a[i].key;
	}
	ASSERT_OK(lb_maglev_build(a, N, M, seed, tab_a));
	for (int round = 0; round < 3; round++) {
		uint32_t perm[N];

		/* The other node: shuffled input, ids a permutation of N..2N-1. */
		for (size_t i = 0; i < N; i++) {
			b[i] = a[i];
			perm[i] = N + (uint32_t)i;
		}
		test_shuffle(b, N, &rng);
		for (size_t i = N; i > 1; i--) {
			size_t j = test_rand(&rng) % i;
			uint32_t tmp = perm[i - 1];

			perm[i - 1] = perm[j];
			perm[j] = tmp;
		}
		for (size_t i = 0; i < N; i++) {
			b[i].id = perm[i];
			key_of_b[b[i].id] = b[i].key;
		}
		ASSERT_OK(lb_maglev_build(b, N, M, seed, tab_b));
		for (uint32_t s = 0; s < M; s++)
			ASSERT_MSG(key_of_a[tab_a[s]] == key_of_b[tab_b[s]],
				   "round %d slot %u: key %#llx, other node %#llx", round, s,
				   (unsigned long long)key_of_a[tab_a[s]],
				   (unsigned long long)key_of_b[tab_b[s]]);
	}
}

TEST(agent_maglev_weights_within_bound)
{
	uint32_t seed = lb_maglev_seed("capstan");
	struct lb_maglev_backend *be = test_backends(3);
	uint64_t rng = 7;

	/* 1:2:3 at the default size: the bound allows 2730..2731, 5460..5461, 8189..8191. */
	for (size_t i = 0; i < 3; i++)
		be[i].weight = (uint32_t)i + 1;
	ASSERT_OK(lb_maglev_build(be, 3, M, seed, tab_a));
	test_check_shares(be, 3, tab_a, M);
	ASSERT(test_count(tab_a, M, 1) >= 2730 && test_count(tab_a, M, 1) <= 2731);
	ASSERT(test_count(tab_a, M, 2) >= 5460 && test_count(tab_a, M, 2) <= 5461);
	ASSERT(test_count(tab_a, M, 3) >= 8189 && test_count(tab_a, M, 3) <= 8191);
	ref_build_weighted(be, 3, M, seed, tab_b);
	ASSERT(memcmp(tab_a, tab_b, M * sizeof(tab_a[0])) == 0);

	/* The largest weights: the turn arithmetic must not overflow. */
	be[0].weight = UINT32_MAX;
	be[1].weight = UINT32_MAX - 1;
	be[2].weight = UINT32_MAX / 3;
	ASSERT_OK(lb_maglev_build(be, 3, M, seed, tab_a));
	test_check_shares(be, 3, tab_a, M);
	free(be);

	/* Random weights over a wide range, against the bound and the linear-scan reference. */
	for (int round = 0; round < 4; round++) {
		size_t n = round == 0 ? 5 : 60;
		uint32_t m = round % 2 ? 1009 : M;

		be = test_backends(n);
		for (size_t i = 0; i < n; i++)
			be[i].weight = (uint32_t)(test_rand(&rng) % (round < 2 ? 10 : 100000));
		be[0].weight = 1; /* at least one weighted */
		ASSERT_OK(lb_maglev_build(be, n, m, seed, tab_a));
		test_check_shares(be, n, tab_a, m);
		ref_build_weighted(be, n, m, seed, tab_b);
		for (uint32_t s = 0; s < m; s++)
			ASSERT_MSG(tab_a[s] == tab_b[s], "round %d slot %u: %u, want %u", round, s,
				   tab_a[s], tab_b[s]);
		free(be);
	}
}

TEST(agent_maglev_every_weighted_backend_gets_a_slot)
{
	struct lb_maglev_backend *be = test_backends(LB_MAGLEV_MIN_M);
	uint32_t seed = lb_maglev_seed("capstan");

	/* One heavy backend among m: its second turn waits for everyone's first. */
	be[LB_MAGLEV_MIN_M / 2].weight = UINT32_MAX;
	ASSERT_OK(lb_maglev_build(be, LB_MAGLEV_MIN_M, LB_MAGLEV_MIN_M, seed, tab_a));
	for (size_t i = 0; i < LB_MAGLEV_MIN_M; i++)
		ASSERT_EQ(test_count(tab_a, LB_MAGLEV_MIN_M, be[i].id), 1);
	free(be);
}

TEST(agent_maglev_weightless_backends_are_left_out)
{
	enum { N = 30 };
	struct lb_maglev_backend *be = test_backends(N), only[N];
	uint32_t seed = lb_maglev_seed("capstan");
	size_t k = 0;

	for (size_t i = 0; i < N; i++) {
		if (i % 3 == 1)
			be[i].weight = 0;
		else
			only[k++] = be[i];
	}
	ASSERT_OK(lb_maglev_build(be, N, M, seed, tab_a));
	for (size_t i = 0; i < N; i++)
		if (be[i].weight == 0)
			ASSERT_EQ(test_count(tab_a, M, be[i].id), 0);
	test_check_even(only, k, tab_a, M);
	/* And they change nothing: the table is the one built without them. */
	ASSERT_OK(lb_maglev_build(only, k, M, seed, tab_b));
	ASSERT(memcmp(tab_a, tab_b, sizeof(tab_a)) == 0);
	/* More backends than slots is fine while at most m have a weight. */
	free(be);
	be = test_backends(LB_MAGLEV_MIN_M + 1);
	be[7].weight = 0;
	ASSERT_OK(lb_maglev_build(be, LB_MAGLEV_MIN_M + 1, LB_MAGLEV_MIN_M, seed, tab_a));
	ASSERT_EQ(test_count(tab_a, LB_MAGLEV_MIN_M, be[7].id), 0);
	free(be);
}

TEST(agent_maglev_shared_id_shares_entries)
{
	struct lb_maglev_backend *be = test_backends(3);

	be[1].id = be[0].id; /* ids are not checked */
	ASSERT_OK(lb_maglev_build(be, 3, M, lb_maglev_seed("capstan"), tab_a));
	ASSERT(test_count(tab_a, M, be[0].id) >= 2 * (M / 3));
	ASSERT(test_count(tab_a, M, be[2].id) >= M / 3);
	free(be);
}

/* Build must fail with -EINVAL and leave every slot of table[0..m) as it was. */
static void test_check_rejected(const struct lb_maglev_backend *be, size_t n, uint32_t m,
				const char *what)
{
	uint32_t seed = lb_maglev_seed("capstan");

	for (uint32_t s = 0; s < M; s++)
		tab_a[s] = 0xa5a5a5a5u ^ s;
	ASSERT_MSG(lb_maglev_build(be, n, m, seed, tab_a) == -EINVAL, "%s: not rejected", what);
	for (uint32_t s = 0; s < M; s++)
		ASSERT_MSG(tab_a[s] == (0xa5a5a5a5u ^ s), "%s: slot %u written", what, s);
}

TEST(agent_maglev_rejects_bad_input)
{
	struct lb_maglev_backend *be = test_backends(LB_MAGLEV_MIN_M + 1);
	uint32_t next_prime = LB_MAGLEV_MAX_M + 2;

	while (!ref_is_prime(next_prime))
		next_prime += 2;

	/* Bad sizes: not prime, or prime but out of range. */
	test_check_rejected(be, 3, 0, "m 0");
	test_check_rejected(be, 3, LB_MAGLEV_MIN_M + 1, "m 252");
	test_check_rejected(be, 3, M + 2, "m 16383");
	test_check_rejected(be, 3, 241, "m 241 (prime, too small)");
	test_check_rejected(be, 3, next_prime, "m above the bound (prime)");
	/* Nothing to build from or into. */
	test_check_rejected(NULL, 3, M, "be NULL");
	test_check_rejected(be, 0, M, "n 0");
	ASSERT_EQ(lb_maglev_build(be, 3, M, 1, NULL), -EINVAL);
	/* More weighted backends than slots. */
	test_check_rejected(be, LB_MAGLEV_MIN_M + 1, LB_MAGLEV_MIN_M, "m + 1 weighted");
	/* Every weight 0. */
	for (size_t i = 0; i < 3; i++)
		be[i].weight = 0;
	test_check_rejected(be, 3, M, "all weights 0");
	free(be);

	/* A repeated key, weighted or not, anywhere in the input. */
	be = test_backends(10);
	be[6].key = be[2].key;
	test_check_rejected(be, 10, M, "duplicate weighted keys");
	be[6].weight = 0;
	test_check_rejected(be, 10, M, "duplicate key, one weightless");
	be[2].weight = 0;
	test_check_rejected(be, 10, M, "duplicate weightless keys");
	be[6].key = test_key(1000);
	ASSERT_OK(lb_maglev_build(be, 10, M, 1, tab_a)); /* and fixed, it builds */
	free(be);
}

TEST(agent_maglev_seed_changes_table)
{
	struct lb_maglev_backend *be = test_backends(10);
	uint32_t differ = 0;

	ASSERT_OK(lb_maglev_build(be, 10, M, lb_maglev_seed("capstan"), tab_a));
	ASSERT_OK(lb_maglev_build(be, 10, M, lb_maglev_seed("capstan"), tab_b));
	ASSERT(memcmp(tab_a, tab_b, sizeof(tab_a)) == 0);
	/* Nearby seeds: two unrelated tables of 10 agree on about 1 slot in 10. */
	ASSERT_OK(lb_maglev_build(be, 10, M, 1, tab_a));
	ASSERT_OK(lb_maglev_build(be, 10, M, 2, tab_b));
	for (uint32_t s = 0; s < M; s++)
		differ += tab_a[s] != tab_b[s];
	ASSERT_MSG(differ > M * 3 / 4, "seeds 1 and 2 differ in only %u of %u slots", differ, M);
	free(be);
}

/*
 * Pinned values, taken once from this code. They pin the on-wire behaviour
 * across versions: every node must send a flow to the same backend, and
 * during a rolling upgrade nodes run different agent versions, so the seed
 * function and the table for given backends may never change. If this test
 * fails, the change breaks mixed-version clusters; do not update the
 * numbers, undo the change.
 */
TEST(agent_maglev_pinned_tables)
{
	/* lb_key_pack(10.0.0.x, 80, TCP) for x = 3, 1, 2 as a little-endian host packs them. */
	const struct lb_maglev_backend be[3] = {
		{ .key = 0x0300000a00500006ULL, .id = 3, .weight = 3 },
		{ .key = 0x0100000a00500006ULL, .id = 1, .weight = 1 },
		{ .key = 0x0200000a00500006ULL, .id = 2, .weight = 2 },
	};
	static const uint32_t head[24] = { 2, 2, 3, 3, 1, 1, 2, 3, 3, 2, 1, 1,
					   2, 2, 2, 2, 3, 1, 3, 3, 2, 3, 3, 1 };
	static const uint32_t head10[8] = { 2, 6, 4, 1, 9, 6, 7, 2 };
	uint32_t seed = lb_maglev_seed("capstan");
	uint64_t h;

	ASSERT_EQ(lb_maglev_seed(""), 0x5c9ffd72u);
	ASSERT_EQ(seed, 0x75c117a7u);
	ASSERT_EQ(lb_maglev_seed("\xff"), 0x5d6df5c2u);

	ASSERT_OK(lb_maglev_build(be, 3, LB_MAGLEV_MIN_M, seed, tab_a));
	for (uint32_t s = 0; s < 24; s++)
		ASSERT_MSG(tab_a[s] == head[s], "slot %u: %u, pinned %u", s, tab_a[s], head[s]);
	ASSERT_EQ(test_count(tab_a, LB_MAGLEV_MIN_M, 1), 42);
	ASSERT_EQ(test_count(tab_a, LB_MAGLEV_MIN_M, 2), 84);
	ASSERT_EQ(test_count(tab_a, LB_MAGLEV_MIN_M, 3), 125);
	/* The whole table, FNV-1a over the ids as numbers. */
	h = 0xcbf29ce484222325ULL;
	for (uint32_t s = 0; s < LB_MAGLEV_MIN_M; s++)
		h = (h ^ tab_a[s]) * 0x100000001b3ULL;
	ASSERT_EQ((uint32_t)(h >> 32) ^ (uint32_t)h, 0x243e9ab5u);

	/* Ten equal backends 10.244.0.1..10:8080/TCP at the default size. */
	struct lb_maglev_backend *ten = test_backends(10);

	ASSERT_OK(lb_maglev_build(ten, 10, M, seed, tab_a));
	for (uint32_t s = 0; s < 8; s++)
		ASSERT_MSG(tab_a[s] == head10[s], "slot %u: %u, pinned %u", s, tab_a[s], head10[s]);
	h = 0xcbf29ce484222325ULL;
	for (uint32_t s = 0; s < M; s++)
		h = (h ^ tab_a[s]) * 0x100000001b3ULL;
	ASSERT_EQ((uint32_t)(h >> 32) ^ (uint32_t)h, 0x23d4d737u);
	free(ten);
}
