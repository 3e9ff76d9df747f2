/*
 * maglev.h - the Maglev lookup tables that the NodePort datapath indexes by
 * flow hash, so that every node sends a flow to the same backend and a
 * backend change moves as few flows as possible.
 *
 * A table has a prime size M and holds node-local backend ids. Ids differ
 * from node to node (ids.c hands them out in arrival order), so nothing in
 * the table's shape may depend on them: each backend's permutation comes
 * from its cluster-wide key (lb_key_pack: address, port, protocol) and a
 * seed every node shares, and the backends take their turns in key order,
 * not input order. Two nodes that see the same backends therefore build
 * tables that name the same backend in every slot, whatever ids they use.
 *
 * Population is the Maglev paper's (Eisenbud et al., NSDI 2016): backend i
 * prefers slots offset_i, offset_i + skip_i, offset_i + 2 skip_i, ... (mod M)
 * with offset_i = h1(key) mod M and skip_i = h2(key) mod (M - 1) + 1; M prime
 * makes every skip coprime to M, so the walk visits every slot once. On its
 * turn a backend claims its next preferred slot that is still free. The
 * walk is computed on the fly from (offset, skip, position), never stored as
 * the paper's N x M permutation array (2 GiB at N = 4096, M = 131071).
 *
 * Weights decide whose turn it is. Backend i's k-th turn (k = 0, 1, ...) is
 * due at virtual time k / w_i; the next turn goes to the smallest due time,
 * ties to the smaller key. With equal weights every round is "each backend
 * once, in key order", which is plain Maglev. In general every weighted
 * backend gets its first turn in round one (so it is in the table, given
 * N <= M), and backend i ends with c_i entries where, with s_i = M w_i / W,
 * W the sum of weights and N the number of weighted backends:
 *
 *	s_i - N w_i / W  <=  c_i  <=  s_i + 1
 *
 * (all turns before the last due time T were taken: c_i >= T w_i; at most
 * one at T: c_i <= T w_i + 1; summing, (M - N) / W <= T <= M / W). With
 * equal weights that is floor(M / N) or ceil(M / N).
 *
 * Rejected: weights as w virtual copies of a backend (w distinct keys and
 * w times the turns for one backend; a weight change reshuffles more than
 * the share that moves); a "filled" bitmap beside the table (the table
 * itself holds turn indices while it fills and ids only at the end); hashes
 * from a library (the table must be identical across nodes, builds and
 * agent versions, so the hash is written out here and pinned by a test).
 */
#ifndef CAPSTAN_AGENT_LB_MAGLEV_H
#define CAPSTAN_AGENT_LB_MAGLEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The default table size: prime, about 100 times the backends a service is expected to have. */
#define LB_MAGLEV_DEFAULT_M 16381
/*
 * Table sizes accepted by lb_maglev_build. The lower bound is the largest
 * prime below 256: a smaller table spreads even two or three backends
 * coarsely (the paper asks for M >= 100 N). The upper bound is 2^17 - 1
 * (prime): 512 KiB of ids per frontend, and it keeps turn counts times
 * weights within 64 bits.
 */
#define LB_MAGLEV_MIN_M 251
#define LB_MAGLEV_MAX_M 131071

struct lb_maglev_backend {
	uint64_t key;	 /* cluster-wide identity: lb_key_pack(address, port, protocol) */
	uint32_t id;	 /* what the table holds for it: the node-local backend id */
	uint32_t weight; /* relative share of the table; 0 = not in the table */
};

/* True when m is a prime in [LB_MAGLEV_MIN_M, LB_MAGLEV_MAX_M]. */
bool lb_maglev_size_ok(uint32_t m);

/*
 * A 32-bit seed from a string (the --maglev-seed flag): FNV-1a over its
 * bytes, then mixed, so it is the same on every machine, compiler and
 * build. NULL reads as "".
 */
uint32_t lb_maglev_seed(const char *s);

/*
 * Fill table[0..m) with the ids of be[0..n). 0 on success. -EINVAL, with
 * table untouched, when m is not lb_maglev_size_ok, be or table is NULL,
 * n is 0, every weight is 0, more than m backends have a weight (they could
 * not all get a slot), or two backends (weighted or not) share a key.
 * Ids are not checked: two keys with one id simply share its entries.
 *
 * Deterministic: the same set of backends, m and seed give the same table
 * on every machine, in whatever order be[] lists them. Scratch memory is
 * O(n); the table itself is the only O(m) memory. Aborts when the scratch
 * cannot be allocated, as every x*alloc caller does.
 */
int lb_maglev_build(const struct lb_maglev_backend *be, size_t n, uint32_t m, uint32_t seed,
		    uint32_t *table);

#endif
