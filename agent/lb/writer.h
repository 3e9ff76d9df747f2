/*
 * writer.h - programs the service datapath maps from desired service ports,
 * writing only what differs and in an order that never exposes a
 * half-written service.
 *
 * The writer keeps a mirror of what the maps hold: per service port its
 * slot 0 and slots, per backend id its entry and how many slots (and
 * terminating lists) name it, per address whether the VIP entry exists. A
 * change is computed against the mirror, and the mirror is updated only
 * after each map operation succeeded, so after a failed write it still says
 * exactly what the kernel holds and the next round repairs the difference.
 *
 * Ids. A service port keeps its rev-NAT id and a backend (address, port,
 * protocol) its backend id for as long as they exist, whichever services
 * come and go around them: established flows, affinity entries and
 * counters refer to these ids. Backend ids are shared by every service
 * port that uses the same backend. A new id's per-CPU counters are zeroed
 * before use, since the id may have been someone else's.
 *
 * Order, per service port (abi.h): new backend entries are written first;
 * then, when the slot count grows or stays, the changed slots and slot 0
 * last; when it shrinks, slot 0 first, then the changed slots, then the
 * slots beyond the new count are deleted. A slot keeps its backend when that
 * backend is still wanted, so a change of one backend rewrites one slot.
 * The rev-NAT entry is written before slot 0 of a new service port, the VIP
 * entry right after it. Removing a service port deletes slot 0 first (the
 * service disappears in one step), then its slots and rev-NAT entry; the
 * VIP entry goes at commit, once no service port uses the address.
 * Backends nobody names any more are deleted at the end of the round
 * (lb_writer_commit), after every slot that could name them is gone, and a
 * backend that is only in terminating lists is rewritten as TERMINATING
 * there too. Before them the commit deletes the affinity entries of
 * backends that left a sessionAffinity service port (backend ids are shared
 * between services, so the datapath's "is it still active" check alone
 * would keep sending sticky clients to a backend that only left this
 * service), and after a restore every affinity entry the mirror cannot
 * vouch for.
 *
 * External views (scope 1, the tc/XDP programs) also get a Maglev table,
 * built from their active backends' identities and swapped in whole (a new
 * inner map) whenever that set changes, after the slots; and, with
 * loadBalancerSourceRanges, their prefixes in the source-ranges trie:
 * added before slot 0 turns the flag on, deleted after it turned it off.
 *
 * A round: lb_writer_begin, lb_writer_set_service for each service whose
 * desired ports may have changed (all of them in a full round), then
 * lb_writer_commit. In a full round every service port not set is removed:
 * that is how stale entries found by lb_writer_restore go away.
 *
 * Ownership. Each service port belongs to the service ("ns/name") that set
 * it. Two services claiming the same address, port and protocol (cannot
 * happen through the API server, can happen in a hand-written --static
 * file) are resolved first come, first served, with a warning.
 *
 * Threads: every function takes the writer's lock, so the metrics endpoint
 * may call lb_writer_snapshot while the sync thread writes.
 */
#ifndef CAPSTAN_AGENT_LB_WRITER_H
#define CAPSTAN_AGENT_LB_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/lb/mapops.h"
#include "agent/lb/model.h"

/* The identity of a service port or backend as one 64-bit key (bits, not numbers). */
static inline uint64_t lb_key_pack(__be32 addr, __be16 port, __u8 proto)
{
	return ((uint64_t)addr << 32) | ((uint64_t)port << 8) | proto;
}

/* A service port's view: its identity plus the scope, in bits 24..31. */
static inline uint64_t lb_fe_key_pack(__be32 addr, __be16 port, __u8 proto, __u8 scope)
{
	return lb_key_pack(addr, port, proto) | ((uint64_t)scope << 24);
}

struct lb_writer_config {
	const struct lb_map_ops *ops;
	void *ops_ctx;
	uint32_t max_rev_nat; /* ids 1..max-1; 0 = CAPSTAN_REVNAT_MAX */
	uint32_t max_backend; /* ids 1..max-1; 0 = CAPSTAN_BACKEND_MAX */
	uint32_t maglev_m;    /* Maglev table size (lb_maglev_size_ok); 0 = the default */
	uint32_t maglev_seed; /* the cluster-wide seed (lb_maglev_seed) */
};

struct lb_restore_stats {
	size_t frontends; /* service ports adopted with their rev-NAT ids */
	size_t backends;  /* backend ids adopted */
	size_t stale;	  /* entries that will be deleted (no valid owner) */
};

struct lb_write_stats {
	size_t updates; /* map entries written this round */
	size_t deletes; /* map entries deleted this round */
	size_t errors;	/* failed map operations this round */
};

struct lb_writer;

/* NULL when cfg has no ops or an id range is out of 2..65536. */
struct lb_writer *lb_writer_new(const struct lb_writer_config *cfg);
/* Forget the mirror; the maps are left as they are. */
void lb_writer_free(struct lb_writer *w);

/*
 * Replace the mirror with what the maps hold now: service ports with a
 * valid slot 0 keep their rev-NAT id and slots, backends their ids.
 * Everything that does not fit (slots without slot 0, duplicated ids, ...)
 * is deleted by the next commit unless a service claims it. The next round
 * is full. 0 on success, -errno from a walk (the mirror is then empty and
 * the next round writes everything).
 */
int lb_writer_restore(struct lb_writer *w, struct lb_restore_stats *st);

/*
 * Start a round. Returns whether the round is full: true when want_full,
 * and also after lb_writer_restore, whatever want_full says. In a full
 * round the caller must set every service that should exist.
 */
bool lb_writer_begin(struct lb_writer *w, bool want_full);

/*
 * Make the maps hold exactly fe[0..n) for the service owner ("ns/name"):
 * service ports of owner that are not in fe are removed. n == 0 removes the
 * service. Continues past a failed map operation with the next service port
 * and returns the first error (-errno from the ops, -ENOSPC when ids ran
 * out), 0 when everything was written. *ops (may be NULL) receives the
 * number of map operations performed.
 */
int lb_writer_set_service(struct lb_writer *w, const char *owner, const struct lb_frontend *fe,
			  size_t n, size_t *ops);

/*
 * End the round: remove service ports not set in a full round, delete
 * restored leftovers, then backends no slot names, and mark backends only
 * terminating lists name as TERMINATING. 0 or the first -errno (whatever
 * failed is retried by the next commit). st (may be NULL) receives the
 * round's counts.
 */
int lb_writer_commit(struct lb_writer *w, struct lb_write_stats *st);

/* Service ports and backend ids currently programmed. */
void lb_writer_counts(struct lb_writer *w, size_t *frontends, size_t *backends);

/* A copy of the mirror for metrics labels. */
struct lb_snapshot_frontend {
	char owner[256]; /* "ns/name" */
	char port_name[LB_PORT_NAME_MAX];
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 scope;
	__u16 rev_nat_id;
};

struct lb_snapshot_backend {
	__u32 id;
	struct capstan_backend be;
};

struct lb_snapshot {
	struct lb_snapshot_frontend *fe; /* sorted by owner, port, protocol */
	size_t nfe;
	struct lb_snapshot_backend *be; /* sorted by id */
	size_t nbe;
};

void lb_writer_snapshot(struct lb_writer *w, struct lb_snapshot *out);
void lb_snapshot_free(struct lb_snapshot *s);

#endif
