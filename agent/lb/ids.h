/*
 * ids.h - allocation of the small integer ids the datapath maps are indexed
 * by: rev-NAT ids (one per service port) and backend ids (one per backend
 * address, port and protocol).
 *
 * An id table maps a 64-bit identity (see lb_key_pack in writer.h) to an id
 * in 1..max-1 and back; 0 is never handed out, because the BPF side reads 0
 * as "none". Reference counting is the caller's business (the writer counts
 * slots, the table only knows allocated or free), which keeps this module a
 * plain bijection.
 *
 * Freed ids are reused in FIFO order, after every id that was never used:
 * an id comes back as late as possible. That matters because things the
 * agent does not control still name old ids for a while: affinity entries
 * (up to their timeout) and per-CPU counters being read by a scrape. A LIFO
 * free list would hand the id of a backend that just went away to the next
 * new backend at once. Restored ids (after an agent restart) are claimed
 * with lb_ids_adopt; their stale queue entries are skipped when popped.
 */
#ifndef CAPSTAN_AGENT_LB_IDS_H
#define CAPSTAN_AGENT_LB_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lb_ids;

/* A table handing out ids 1..max-1; max is 2..65536. NULL if max is out of range. */
struct lb_ids *lb_ids_new(uint32_t max);
void lb_ids_free(struct lb_ids *ids);

/* The id of key, or 0 when it has none. */
uint32_t lb_ids_lookup(const struct lb_ids *ids, uint64_t key);
/* The key of an allocated id; false when id is free or out of range. */
bool lb_ids_key(const struct lb_ids *ids, uint32_t id, uint64_t *key);

/*
 * Give key an id. 0 on success with *id set (the existing id if key already
 * has one); -ENOSPC when every id is in use.
 */
int lb_ids_alloc(struct lb_ids *ids, uint64_t key, uint32_t *id);
/*
 * Give key exactly this id (restoring state from pinned maps). 0 on success;
 * -ERANGE when id is 0 or >= max; -EEXIST when id or key is already taken.
 */
int lb_ids_adopt(struct lb_ids *ids, uint64_t key, uint32_t id);
/* Free id (and its key). Freeing a free id does nothing. */
void lb_ids_release(struct lb_ids *ids, uint32_t id);

/* Ids in use. */
size_t lb_ids_count(const struct lb_ids *ids);

#endif
