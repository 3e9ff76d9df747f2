/*
 * writer.c - see writer.h.
 *
 * Mirror layout: service ports in a u64map by packed key, backends in an
 * array indexed by backend id (ids are dense and bounded, 65536 entries of
 * a few bytes), service ports also indexed by rev-NAT id, VIPs in a u64map
 * with a count of the service ports on each address, and services (owners)
 * in a u64map by string hash with chaining, each listing its ports.
 *
 * Reference counts on backends: one per slot entry in the map naming it,
 * one per terminating list holding it, one per in-flight use while a
 * service port is being written, and one "restore hold" from
 * lb_writer_restore until the first full round has had its say. A backend
 * whose count is zero at commit is deleted.
 */
#include "agent/lb/writer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/lb/ids.h"
#include "agent/lb/maglev.h"
#include "agent/lb/u64map.h"
#include "log.h"
#include "util.h"

/*
 * Packed keys of real backends have bits 24..31 clear (see lb_key_pack):
 * a restored backend whose address duplicates another id's gets this
 * pseudo key instead, so its id stays reserved until it is deleted.
 */
#define LB_PSEUDO_KEY(id) ((1ull << 24) | (uint64_t)(id))

struct owner_rec {
	char *name;
	struct fe_state **fes;
	size_t n, cap;
	struct owner_rec *next; /* same hash bucket */
};

struct fe_state {
	uint64_t key;
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 scope;
	bool present; /* slot 0 is in the map, holding s0 */
	struct capstan_svc_val s0;
	__u16 rev_nat_id;	  /* 0 until allocated */
	bool revnat_ok;		  /* the rev-NAT entry holds this port */
	__u32 *slots;		  /* slots[i]: backend id in slot i+1; 0 = no entry */
	size_t nslots, slots_cap; /* nslots: highest slot with an entry */
	__u32 *term;		  /* backend ids held as terminating */
	size_t nterm;
	struct owner_rec *owner; /* NULL: restored, not claimed yet */
	char port_name[LB_PORT_NAME_MAX];
	struct lb_src_range *ranges; /* source-range entries written for it */
	size_t nranges, ranges_cap;
	bool mgl_present; /* a Maglev table may be in the map (external views) */
	uint64_t mgl_sig; /* what the table was built from; 0 = unknown */
	__u32 *mgl_ids;	  /* backend ids the table names (each holds a reference) */
	size_t mgl_n;
	uint64_t gen;  /* round that last set it */
	uint64_t seen; /* set_service call that last set it */
};

struct be_state {
	struct capstan_backend val; /* as written */
	bool written;
	bool restore_hold;
	uint32_t refs;
	uint32_t active_refs; /* slot entries */
	uint32_t mark;	      /* scratch for fe_apply */
};

struct vip_state {
	uint32_t refs; /* service ports on this address */
	bool written;
	__u32 flags; /* as written */
	__u32 want;  /* union of its service ports' vip_flags */
};

struct lb_writer {
	pthread_mutex_t mu;
	const struct lb_map_ops *ops;
	void *ctx;
	uint32_t max_rev_nat, max_backend;
	uint32_t maglev_m, maglev_seed;
	struct lb_ids *rnat_ids, *be_ids;
	struct be_state *be;	   /* [max_backend] */
	struct fe_state **by_rnat; /* [max_rev_nat] */
	struct u64map fes, vips, owners;
	struct capstan_svc_key *orphan_svc;
	size_t norphan_svc, orphan_svc_cap;
	__u32 *orphan_rnat, *orphan_be;
	size_t norphan_rnat, orphan_rnat_cap, norphan_be, orphan_be_cap;
	struct capstan_src_range_key *orphan_ranges;
	size_t norphan_ranges, orphan_ranges_cap;
	/*
	 * What an incremental commit looks at: backend ids whose references
	 * went down (or that were written) and addresses whose last service
	 * port went, this round. A full commit looks at everything, so a
	 * round that changed one service of 10,000 costs what that service
	 * costs, not a walk of every id and address.
	 */
	__u32 *be_dirty;
	size_t nbe_dirty, be_dirty_cap;
	uint64_t *vip_dirty;
	size_t nvip_dirty, vip_dirty_cap;
	/*
	 * Affinity entries to delete at commit, as rev_nat_id << 32 | backend
	 * id (backend 0: every entry of the service port). Values are (void *)1.
	 */
	struct u64map purge;
	bool restored; /* the next round must be full */
	bool full;
	uint64_t gen, call;
	uint32_t stamp;
	struct lb_write_stats st;
};

/* ---------------------------------------------------------------- small helpers */

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return p;
	*cap = MAX(need, *cap ? *cap * 2 : 8);
	return xrealloc(p, *cap * size);
}

static const char *fe_name(const struct fe_state *st, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &st->addr, a, sizeof(a));
	snprintf(buf, len, "%s:%u/%s%s", a, ntohs(st->port),
		 st->proto == IPPROTO_UDP ? "udp" : "tcp",
		 st->scope == CAPSTAN_SCOPE_EXTERNAL ? " (external)" : "");
	return buf;
}

static struct capstan_svc_key svc_key(const struct fe_state *st, __u16 slot)
{
	struct capstan_svc_key k;

	memset(&k, 0, sizeof(k)); /* padding included: the kernel hashes bytes */
	k.addr = st->addr;
	k.port = st->port;
	k.slot = slot;
	k.proto = st->proto;
	k.scope = st->scope;
	return k;
}

static struct capstan_src_range_key range_key(__u16 rev_nat_id, const struct lb_src_range *r)
{
	struct capstan_src_range_key k;

	memset(&k, 0, sizeof(k));
	k.prefixlen = 32 + r->len;
	k.rev_nat_id = htons(rev_nat_id);
	k.addr = r->addr;
	return k;
}

/* Count one map operation and log a failure with the map it was for. */
static int op_done(struct lb_writer *w, int err, bool deletion, enum lb_map_id map)
{
	if (err) {
		w->st.errors++;
		log_warn("%s %s failed: %s", deletion ? "delete from" : "write to",
			 lb_map_layouts[map].name, strerror(-err));
	} else if (deletion) {
		w->st.deletes++;
	} else {
		w->st.updates++;
	}
	return err;
}

static int op_update(struct lb_writer *w, enum lb_map_id map, const void *key, const void *val)
{
	return op_done(w, w->ops->update(w->ctx, map, key, val), false, map);
}

static int op_remove(struct lb_writer *w, enum lb_map_id map, const void *key)
{
	return op_done(w, w->ops->remove(w->ctx, map, key), true, map);
}

/* A per-CPU counter reset counts as a write. */
static int op_zero(struct lb_writer *w, enum lb_map_id map, __u32 id)
{
	return op_done(w, w->ops->zero(w->ctx, map, id), false, map);
}

/* ---------------------------------------------------------------- owners */

static uint64_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static struct owner_rec *owner_find(struct lb_writer *w, const char *name, bool create)
{
	uint64_t h = str_hash(name);
	struct owner_rec *head = u64map_get(&w->owners, h), *r;

	for (r = head; r; r = r->next)
		if (strcmp(r->name, name) == 0)
			return r;
	if (!create)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->name = xstrdup(name);
	r->next = head;
	u64map_put(&w->owners, h, r);
	return r;
}

static void owner_free(struct lb_writer *w, struct owner_rec *r)
{
	uint64_t h = str_hash(r->name);
	struct owner_rec *head = u64map_get(&w->owners, h), **pp;

	for (pp = &head; *pp != r; pp = &(*pp)->next)
		;
	*pp = r->next;
	if (head)
		u64map_put(&w->owners, h, head);
	else
		u64map_del(&w->owners, h);
	free(r->fes);
	free(r->name);
	free(r);
}

static void owner_attach(struct lb_writer *w, struct fe_state *st, struct owner_rec *r)
{
	r->fes = grow(r->fes, &r->cap, r->n + 1, sizeof(*r->fes));
	r->fes[r->n++] = st;
	st->owner = r;
}

static void owner_detach(struct lb_writer *w, struct fe_state *st)
{
	struct owner_rec *r = st->owner;

	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		if (r->fes[i] == st) {
			r->fes[i] = r->fes[--r->n];
			break;
		}
	}
	st->owner = NULL;
	if (r->n == 0)
		owner_free(w, r);
}

/* ---------------------------------------------------------------- service ports */

static struct fe_state *fe_new(struct lb_writer *w, __be32 addr, __be16 port, __u8 proto,
			       __u8 scope)
{
	struct fe_state *st = xcalloc(1, sizeof(*st));
	struct vip_state *vip = u64map_get(&w->vips, addr);

	st->key = lb_fe_key_pack(addr, port, proto, scope);
	st->addr = addr;
	st->port = port;
	st->proto = proto;
	st->scope = scope;
	u64map_put(&w->fes, st->key, st);
	if (!vip) {
		vip = xcalloc(1, sizeof(*vip));
		u64map_put(&w->vips, addr, vip);
	}
	vip->refs++;
	return st;
}

static void be_dirty(struct lb_writer *w, __u32 id)
{
	w->be_dirty = grow(w->be_dirty, &w->be_dirty_cap, w->nbe_dirty + 1, sizeof(*w->be_dirty));
	w->be_dirty[w->nbe_dirty++] = id;
}

static void be_unref(struct lb_writer *w, __u32 id, bool slot)
{
	be_dirty(w, id);
	w->be[id].refs--;
	if (slot)
		w->be[id].active_refs--;
}

static void be_ref(struct lb_writer *w, __u32 id, bool slot)
{
	w->be[id].refs++;
	if (slot)
		w->be[id].active_refs++;
}

static void fe_slot_store(struct lb_writer *w, struct fe_state *st, size_t slot, __u32 id)
{
	__u32 old;

	st->slots = grow(st->slots, &st->slots_cap, slot, sizeof(*st->slots));
	while (st->nslots < slot)
		st->slots[st->nslots++] = 0;
	old = st->slots[slot - 1];
	if (old)
		be_unref(w, old, true);
	st->slots[slot - 1] = id;
	if (id)
		be_ref(w, id, true);
	while (st->nslots && !st->slots[st->nslots - 1])
		st->nslots--;
}

static __u32 fe_slot(const struct fe_state *st, size_t slot)
{
	return slot <= st->nslots ? st->slots[slot - 1] : 0;
}

static int fe_slot_write(struct lb_writer *w, struct fe_state *st, size_t slot, __u32 id)
{
	struct capstan_svc_key k = svc_key(st, (__u16)slot);
	struct capstan_svc_val v = { .backend_id = id };
	int err = op_update(w, LB_MAP_SVC, &k, &v);

	if (!err)
		fe_slot_store(w, st, slot, id);
	return err;
}

static int fe_slot_delete(struct lb_writer *w, struct fe_state *st, size_t slot)
{
	struct capstan_svc_key k = svc_key(st, (__u16)slot);
	int err = op_remove(w, LB_MAP_SVC, &k);

	if (!err)
		fe_slot_store(w, st, slot, 0);
	return err;
}

static int fe_slot0_write(struct lb_writer *w, struct fe_state *st, const struct capstan_svc_val *v)
{
	struct capstan_svc_key k = svc_key(st, 0);
	int err = op_update(w, LB_MAP_SVC, &k, v);

	if (!err) {
		st->s0 = *v;
		st->present = true;
	}
	return err;
}

static void fe_set_term(struct lb_writer *w, struct fe_state *st, const __u32 *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		be_ref(w, ids[i], false);
	for (size_t i = 0; i < st->nterm; i++)
		be_unref(w, st->term[i], false);
	free(st->term);
	st->term = n ? xmalloc(n * sizeof(*ids)) : NULL;
	if (n)
		memcpy(st->term, ids, n * sizeof(*ids));
	st->nterm = n;
}

/*
 * The id of backend b, allocating it and writing its entry if needed. A
 * backend that will sit in a slot is written ACTIVE before any slot names
 * it. 0 on success, -errno.
 */
static int backend_get(struct lb_writer *w, const struct capstan_backend *b, bool active,
		       __u32 *out)
{
	uint64_t key = lb_key_pack(b->addr, b->port, b->proto);
	struct capstan_backend val = { .addr = b->addr,
				       .port = b->port,
				       .proto = b->proto,
				       .state = active ? CAPSTAN_BE_ACTIVE : CAPSTAN_BE_TERMINATING,
				       .flags = b->flags };
	__u32 id = lb_ids_lookup(w->be_ids, key);
	struct be_state *bs;
	int err;

	if (!id) {
		err = lb_ids_alloc(w->be_ids, key, &id);
		if (err) {
			log_warn("no free backend id (%u in use)", w->max_backend - 1);
			w->st.errors++;
			return err;
		}
		w->be[id] = (struct be_state){ 0 };
		/* The id may have been another backend's: start its counters at 0. */
		err = op_zero(w, LB_MAP_BACKEND_COUNTERS, id);
		if (err) {
			lb_ids_release(w->be_ids, id);
			return err;
		}
	}
	bs = &w->be[id];
	if (bs->written && bs->val.flags == val.flags &&
	    (!active || bs->val.state == CAPSTAN_BE_ACTIVE)) {
		*out = id;
		return 0;
	}
	/* Rewritten for its flags only: a terminating list does not change its state. */
	if (bs->written && !active)
		val.state = bs->val.state;
	be_dirty(w, id);
	err = op_update(w, LB_MAP_BACKEND, &id, &val);
	if (err) {
		if (!bs->written && bs->refs == 0)
			lb_ids_release(w->be_ids, id);
		return err;
	}
	bs->val = val;
	bs->written = true;
	*out = id;
	return 0;
}

static int fe_revnat(struct lb_writer *w, struct fe_state *st)
{
	struct capstan_revnat rn;
	__u32 id;
	int err;

	if (!st->rev_nat_id) {
		err = lb_ids_alloc(w->rnat_ids, st->key, &id);
		if (err) {
			log_warn("no free rev-NAT id (%u in use)", w->max_rev_nat - 1);
			w->st.errors++;
			return err;
		}
		err = op_zero(w, LB_MAP_SVC_COUNTERS, id);
		/*
		 * A table left under this id (by a crash between a port's removal
		 * and its table's) must not serve the new port before its own
		 * table is written.
		 */
		if (!err && st->scope == CAPSTAN_SCOPE_EXTERNAL && w->ops->maglev_del)
			err = op_done(w, w->ops->maglev_del(w->ctx, id), true, LB_MAP_MAGLEV);
		if (err) {
			lb_ids_release(w->rnat_ids, id);
			return err;
		}
		st->rev_nat_id = (__u16)id;
		st->revnat_ok = false;
		w->by_rnat[id] = st;
	}
	if (st->revnat_ok)
		return 0;
	memset(&rn, 0, sizeof(rn));
	rn.addr = st->addr;
	rn.port = st->port;
	rn.proto = st->proto;
	id = st->rev_nat_id;
	err = op_update(w, LB_MAP_REVNAT, &id, &rn);
	if (!err)
		st->revnat_ok = true;
	return err;
}

/*
 * The VIP entry holds the union of the address's service ports' flags. It
 * only grows while the address is in use (two kinds of frontend on one
 * address do not happen through the API); the node's own address (flags
 * 0) has no entry at all, or sockets would be refused on its other ports.
 */
static int fe_vip(struct lb_writer *w, struct fe_state *st, __u32 flags)
{
	struct vip_state *vip = u64map_get(&w->vips, st->addr);
	int err;

	vip->want |= flags;
	if (vip->want == 0) {
		if (!vip->written)
			return 0;
		err = op_remove(w, LB_MAP_VIP, &st->addr);
		if (!err)
			vip->written = false;
		return err;
	}
	if (vip->written && vip->flags == vip->want)
		return 0;
	err = op_update(w, LB_MAP_VIP, &st->addr, &vip->want);
	if (!err) {
		vip->written = true;
		vip->flags = vip->want;
	}
	return err;
}

static bool range_eq(const struct lb_src_range *a, const struct lb_src_range *b)
{
	return a->addr == b->addr && a->len == b->len;
}

static bool range_in(const struct lb_src_range *r, const struct lb_src_range *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (range_eq(r, &v[i]))
			return true;
	return false;
}

/* Write the wanted source ranges the trie does not hold yet. */
static int fe_ranges_add(struct lb_writer *w, struct fe_state *st, const struct lb_frontend *fe)
{
	__u8 one = 1;

	for (size_t i = 0; i < fe->nranges; i++) {
		struct capstan_src_range_key k;
		int err;

		if (range_in(&fe->ranges[i], st->ranges, st->nranges))
			continue;
		k = range_key(st->rev_nat_id, &fe->ranges[i]);
		err = op_update(w, LB_MAP_SRC_RANGES, &k, &one);
		if (err)
			return err;
		st->ranges =
			grow(st->ranges, &st->ranges_cap, st->nranges + 1, sizeof(*st->ranges));
		st->ranges[st->nranges++] = fe->ranges[i];
	}
	return 0;
}

/* Delete the written source ranges not in want[0..n). */
static int fe_ranges_prune(struct lb_writer *w, struct fe_state *st,
			   const struct lb_src_range *want, size_t n)
{
	size_t keep = 0;
	int first = 0;

	for (size_t i = 0; i < st->nranges; i++) {
		struct capstan_src_range_key k = range_key(st->rev_nat_id, &st->ranges[i]);
		int err;

		if (range_in(&st->ranges[i], want, n)) {
			st->ranges[keep++] = st->ranges[i];
			continue;
		}
		err = op_remove(w, LB_MAP_SRC_RANGES, &k);
		if (err) {
			st->ranges[keep++] = st->ranges[i];
			if (!first)
				first = err;
		}
	}
	st->nranges = keep;
	return first;
}

/* FNV-1a over 64-bit words, never 0 (0 means "unknown"). */
static uint64_t sig_add(uint64_t h, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		h ^= (v >> (8 * i)) & 0xff;
		h *= 0x100000001b3ULL;
	}
	return h ? h : 1;
}

static int mgl_backend_cmp(const void *a, const void *b)
{
	const struct lb_maglev_backend *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

/* The table now names ids[0..n): hold them instead of the previous ones. */
static void fe_maglev_hold(struct lb_writer *w, struct fe_state *st, const __u32 *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		be_ref(w, ids[i], false);
	for (size_t i = 0; i < st->mgl_n; i++)
		be_unref(w, st->mgl_ids[i], false);
	free(st->mgl_ids);
	st->mgl_ids = n ? xmalloc(n * sizeof(*ids)) : NULL;
	if (n)
		memcpy(st->mgl_ids, ids, n * sizeof(*ids));
	st->mgl_n = n;
}

/*
 * An external view's Maglev table over the backends its slots hold now (the
 * mirror, so a table never names a backend that a failed slot write left
 * out of the map): rebuilt and swapped only when that set (identities and
 * ids) changed. No backends: no table (the datapath refuses before it
 * would look). The ids a table names hold a reference, so a backend stays
 * in the backends map while a table that could not be replaced still
 * names it.
 */
static int fe_maglev(struct lb_writer *w, struct fe_state *st)
{
	size_t m = st->present ? MIN((size_t)st->s0.count, st->nslots) : 0, n = 0;
	struct lb_maglev_backend *mb;
	uint64_t sig = 0xcbf29ce484222325ULL;
	__u32 *table, *ids;
	int err;

	if (st->scope != CAPSTAN_SCOPE_EXTERNAL || !w->ops->maglev_set || !w->ops->maglev_del)
		return 0;
	mb = xcalloc(m + 1, sizeof(*mb));
	for (size_t i = 0; i < m; i++) {
		const struct capstan_backend *b;

		if (!st->slots[i])
			continue;
		b = &w->be[st->slots[i]].val;
		mb[n].key = lb_key_pack(b->addr, b->port, b->proto);
		mb[n].id = st->slots[i];
		mb[n].weight = 1;
		n++;
	}
	if (n == 0) {
		free(mb);
		if (!st->mgl_present)
			return 0;
		err = op_done(w, w->ops->maglev_del(w->ctx, st->rev_nat_id), true, LB_MAP_MAGLEV);
		if (!err) {
			st->mgl_present = false;
			st->mgl_sig = 0;
			fe_maglev_hold(w, st, NULL, 0);
		}
		return err;
	}
	qsort(mb, n, sizeof(*mb), mgl_backend_cmp);
	for (size_t i = 0; i < n; i++)
		sig = sig_add(sig_add(sig, mb[i].key), mb[i].id);
	if (st->mgl_present && st->mgl_sig == sig) {
		free(mb);
		return 0;
	}
	table = xcalloc(w->maglev_m, sizeof(*table));
	ids = xcalloc(n, sizeof(*ids));
	err = lb_maglev_build(mb, n, w->maglev_m, w->maglev_seed, table);
	if (!err)
		err = op_done(w, w->ops->maglev_set(w->ctx, st->rev_nat_id, table, w->maglev_m),
			      false, LB_MAP_MAGLEV);
	if (!err) {
		st->mgl_present = true;
		st->mgl_sig = sig;
		for (size_t i = 0; i < n; i++)
			ids[i] = mb[i].id;
		fe_maglev_hold(w, st, ids, n);
	}
	free(ids);
	free(table);
	free(mb);
	return err;
}

static uint32_t next_stamp(struct lb_writer *w)
{
	w->stamp += 2;
	if (w->stamp < 2)
		w->stamp = 2;
	return w->stamp;
}

/* The backend ids a service port names now (slots, then terminating). */
static __u32 *fe_backend_ids(const struct fe_state *st, size_t *n)
{
	__u32 *ids = xmalloc((st->nslots + st->nterm + 1) * sizeof(*ids));

	*n = 0;
	for (size_t i = 0; i < st->nslots; i++)
		if (st->slots[i])
			ids[(*n)++] = st->slots[i];
	for (size_t i = 0; i < st->nterm; i++)
		ids[(*n)++] = st->term[i];
	return ids;
}

static void purge_add(struct lb_writer *w, __u16 rev_nat_id, __u32 backend_id)
{
	u64map_put(&w->purge, ((uint64_t)rev_nat_id << 32) | backend_id, (void *)1);
}

/*
 * Affinity entries are keyed by service port and name a backend id, and a
 * backend id is shared by every service using that backend: a backend
 * that leaves this service port but still serves another stays ACTIVE, and
 * the datapath would keep sending this port's sticky clients to it. So
 * when a backend leaves an affinity service port (or affinity is switched
 * off), its entries are deleted at commit.
 */
static void affinity_forget(struct lb_writer *w, struct fe_state *st, const __u32 *old, size_t nold,
			    __u32 old_flags)
{
	bool had = old_flags & CAPSTAN_SVC_F_AFFINITY;
	bool has = st->present && (st->s0.flags & CAPSTAN_SVC_F_AFFINITY);
	uint32_t stamp;

	if (!st->rev_nat_id || (!had && !has))
		return;
	if (!has) {
		purge_add(w, st->rev_nat_id, 0);
		return;
	}
	stamp = next_stamp(w);
	for (size_t i = 0; i < st->nslots; i++)
		if (st->slots[i])
			w->be[st->slots[i]].mark = stamp;
	for (size_t i = 0; i < st->nterm; i++)
		w->be[st->term[i]].mark = stamp;
	for (size_t i = 0; i < nold; i++)
		if (w->be[old[i]].mark != stamp)
			purge_add(w, st->rev_nat_id, old[i]);
}

/*
 * Slot assignment: a wanted backend already in a slot within the new count
 * stays there; the others fill the free slots in order. wanted[] are
 * distinct ids with be[id].mark == stamp.
 */
static void fe_place(struct lb_writer *w, const struct fe_state *st, const __u32 *wanted, size_t m,
		     uint32_t stamp, __u32 *slots)
{
	size_t j = 0;

	for (size_t i = 0; i < m; i++) {
		__u32 id = fe_slot(st, i + 1);

		if (id && w->be[id].mark == stamp) {
			slots[i] = id;
			w->be[id].mark = stamp + 1;
		}
	}
	for (size_t k = 0; k < m; k++) {
		__u32 id = wanted[k];

		if (w->be[id].mark != stamp)
			continue;
		while (slots[j])
			j++;
		slots[j] = id;
		w->be[id].mark = stamp + 1;
	}
}

static int fe_apply(struct lb_writer *w, struct fe_state *st, const struct lb_frontend *fe)
{
	size_t nb = fe->n_active + fe->n_terminating, m = 0, nterm = 0, nheld = 0, cur;
	__u32 *wanted = xcalloc(nb + 1, sizeof(*wanted)), *term = xcalloc(nb + 1, sizeof(*term));
	__u32 *held = xcalloc(nb + 1, sizeof(*held)), *slots = NULL;
	struct capstan_svc_val s0 = { 0 };
	__u32 *old, old_flags;
	size_t nold;
	uint32_t stamp;
	bool s0_same, terms_known = false;
	int err = 0;

	/* Two marks per call: stamp = wanted in a slot, stamp + 1 = seen. */
	stamp = next_stamp(w);
	old = fe_backend_ids(st, &nold);
	old_flags = st->present ? st->s0.flags : 0;

	for (size_t i = 0; i < nb; i++) {
		bool active = i < fe->n_active;
		__u32 id;

		err = backend_get(w, &fe->backends[i], active, &id);
		if (err)
			goto out;
		be_ref(w, id, false);
		held[nheld++] = id;
		if (w->be[id].mark == stamp || w->be[id].mark == stamp + 1)
			continue; /* listed twice */
		w->be[id].mark = active ? stamp : stamp + 1;
		if (active)
			wanted[m++] = id;
		else
			term[nterm++] = id;
	}
	terms_known = true;

	err = fe_revnat(w, st);
	if (err)
		goto out;
	/* Prefixes first: slot 0 may be about to require them. */
	err = fe_ranges_add(w, st, fe);
	if (err)
		goto out;

	slots = xcalloc(m + 1, sizeof(*slots));
	fe_place(w, st, wanted, m, stamp, slots);
	s0.count = (__u16)m;
	s0.rev_nat_id = st->rev_nat_id;
	s0.flags = fe->flags;
	s0.affinity_timeout = fe->affinity_timeout;
	s0_same = st->present && memcmp(&st->s0, &s0, sizeof(s0)) == 0;
	cur = st->present ? st->s0.count : 0;

	/* Shrinking: the count goes down before the slots beyond it go. */
	if (m < cur && !s0_same) {
		err = fe_slot0_write(w, st, &s0);
		if (err)
			goto out;
		s0_same = true;
	}
	for (size_t i = 0; i < m; i++) {
		if (fe_slot(st, i + 1) != slots[i]) {
			err = fe_slot_write(w, st, i + 1, slots[i]);
			if (err)
				goto out;
		}
	}
	/* Growing: the count goes up once every slot below it is in place. */
	if (!s0_same) {
		err = fe_slot0_write(w, st, &s0);
		if (err)
			goto out;
	}
	/* The table follows the slots before the slots beyond the count go. */
	err = fe_maglev(w, st);
	if (err)
		goto out;
	for (size_t i = st->nslots; i > m; i--) {
		if (fe_slot(st, i)) {
			err = fe_slot_delete(w, st, i);
			if (err)
				goto out;
		}
	}
	err = fe_vip(w, st, fe->vip_flags);
	if (err)
		goto out;
	err = fe_ranges_prune(w, st, fe->ranges, fe->nranges);
out:
	/*
	 * Whatever failed, the terminating list and the table follow what the
	 * slots hold now: a backend that left the slots keeps its reference
	 * (established flows), and the table names nothing the slots dropped.
	 */
	if (terms_known)
		fe_set_term(w, st, term, nterm);
	if (err && st->rev_nat_id)
		fe_maglev(w, st);
	affinity_forget(w, st, old, nold, old_flags);
	for (size_t i = 0; i < nheld; i++)
		be_unref(w, held[i], false);
	free(old);
	free(slots);
	free(held);
	free(term);
	free(wanted);
	return err;
}

static void fe_free(struct lb_writer *w, struct fe_state *st)
{
	struct vip_state *vip = u64map_get(&w->vips, st->addr);

	owner_detach(w, st);
	u64map_del(&w->fes, st->key);
	/* A VIP entry that is still written is deleted by the commit. */
	if (vip && --vip->refs == 0 && !vip->written)
		free(u64map_del(&w->vips, st->addr));
	else if (vip && vip->refs == 0) {
		w->vip_dirty = grow(w->vip_dirty, &w->vip_dirty_cap, w->nvip_dirty + 1,
				    sizeof(*w->vip_dirty));
		w->vip_dirty[w->nvip_dirty++] = st->addr;
	}
	free(st->slots);
	free(st->term);
	free(st->ranges);
	free(st->mgl_ids);
	free(st);
}

/* Delete a service port from the maps: slot 0, slots, rev-NAT, then VIP (at commit). */
static int fe_remove(struct lb_writer *w, struct fe_state *st)
{
	struct capstan_svc_key k = svc_key(st, 0);
	int err;

	if (st->present) {
		err = op_remove(w, LB_MAP_SVC, &k);
		if (err)
			return err;
		st->present = false;
	}
	for (size_t i = st->nslots; i > 0; i--) {
		if (fe_slot(st, i)) {
			err = fe_slot_delete(w, st, i);
			if (err)
				return err;
		}
	}
	err = fe_ranges_prune(w, st, NULL, 0);
	if (err)
		return err;
	err = fe_maglev(w, st);
	if (err)
		return err;
	if (st->rev_nat_id) {
		__u32 id = st->rev_nat_id;

		err = op_remove(w, LB_MAP_REVNAT, &id);
		if (err)
			return err;
		if (st->s0.flags & CAPSTAN_SVC_F_AFFINITY)
			purge_add(w, st->rev_nat_id, 0);
		w->by_rnat[id] = NULL;
		lb_ids_release(w->rnat_ids, id);
		st->rev_nat_id = 0;
	}
	fe_set_term(w, st, NULL, 0);
	fe_free(w, st);
	return 0;
}

/* ---------------------------------------------------------------- public */

struct lb_writer *lb_writer_new(const struct lb_writer_config *cfg)
{
	struct lb_writer *w;
	uint32_t rmax = cfg->max_rev_nat ? cfg->max_rev_nat : CAPSTAN_REVNAT_MAX;
	uint32_t bmax = cfg->max_backend ? cfg->max_backend : CAPSTAN_BACKEND_MAX;

	if (!cfg->ops || rmax < 2 || rmax > 65536 || bmax < 2 || bmax > 65536 ||
	    (cfg->maglev_m && !lb_maglev_size_ok(cfg->maglev_m)))
		return NULL;
	w = xcalloc(1, sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
	w->ops = cfg->ops;
	w->ctx = cfg->ops_ctx;
	w->max_rev_nat = rmax;
	w->max_backend = bmax;
	w->maglev_m = cfg->maglev_m ? cfg->maglev_m : LB_MAGLEV_DEFAULT_M;
	w->maglev_seed = cfg->maglev_seed;
	w->rnat_ids = lb_ids_new(rmax);
	w->be_ids = lb_ids_new(bmax);
	w->be = xcalloc(bmax, sizeof(*w->be));
	w->by_rnat = xcalloc(rmax, sizeof(*w->by_rnat));
	return w;
}

/* Forget every mirrored entry (not the maps'). */
static void mirror_reset(struct lb_writer *w)
{
	struct fe_state **all = xcalloc(w->fes.len + 1, sizeof(*all));
	size_t n = 0, it = 0;
	uint64_t key;
	void *val;

	while (u64map_next(&w->fes, &it, &key, &val))
		all[n++] = val;
	for (size_t i = 0; i < n; i++) {
		owner_detach(w, all[i]);
		free(all[i]->slots);
		free(all[i]->term);
		free(all[i]->ranges);
		free(all[i]->mgl_ids);
		free(all[i]);
	}
	free(all);
	it = 0;
	while (u64map_next(&w->vips, &it, &key, &val))
		free(val);
	u64map_free(&w->fes);
	u64map_free(&w->vips);
	u64map_free(&w->owners);
	u64map_free(&w->purge);
	lb_ids_free(w->rnat_ids);
	lb_ids_free(w->be_ids);
	w->rnat_ids = lb_ids_new(w->max_rev_nat);
	w->be_ids = lb_ids_new(w->max_backend);
	memset(w->be, 0, w->max_backend * sizeof(*w->be));
	memset(w->by_rnat, 0, w->max_rev_nat * sizeof(*w->by_rnat));
	w->norphan_svc = w->norphan_rnat = w->norphan_be = w->norphan_ranges = 0;
	w->nbe_dirty = w->nvip_dirty = 0;
}

void lb_writer_free(struct lb_writer *w)
{
	if (!w)
		return;
	mirror_reset(w);
	lb_ids_free(w->rnat_ids);
	lb_ids_free(w->be_ids);
	free(w->be);
	free(w->by_rnat);
	free(w->orphan_svc);
	free(w->orphan_rnat);
	free(w->orphan_be);
	free(w->orphan_ranges);
	free(w->be_dirty);
	free(w->vip_dirty);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

bool lb_writer_begin(struct lb_writer *w, bool want_full)
{
	bool full;

	pthread_mutex_lock(&w->mu);
	w->gen++;
	w->full = want_full || w->restored;
	w->st = (struct lb_write_stats){ 0 };
	full = w->full;
	pthread_mutex_unlock(&w->mu);
	return full;
}

int lb_writer_set_service(struct lb_writer *w, const char *owner, const struct lb_frontend *fe,
			  size_t n, size_t *ops)
{
	struct owner_rec *rec;
	struct fe_state **gone = NULL;
	size_t before, ngone = 0;
	char name[64];
	int first = 0, err;

	pthread_mutex_lock(&w->mu);
	before = w->st.updates + w->st.deletes + w->st.errors;
	w->call++;
	rec = owner_find(w, owner, n > 0);
	for (size_t i = 0; i < n; i++) {
		uint64_t key = lb_fe_key_pack(fe[i].addr, fe[i].port, fe[i].proto, fe[i].scope);
		struct fe_state *st = u64map_get(&w->fes, key);

		if (st && st->seen == w->call)
			continue; /* the same port twice in one service */
		if (st && st->owner && st->owner != rec) {
			/* In a full round a port not yet set this round is free to move. */
			if (!w->full || st->gen == w->gen) {
				log_warn("%s is claimed by %s and %s; keeping %s",
					 fe_name(st, name, sizeof(name)), st->owner->name, owner,
					 st->owner->name);
				continue;
			}
			owner_detach(w, st);
		}
		if (!st)
			st = fe_new(w, fe[i].addr, fe[i].port, fe[i].proto, fe[i].scope);
		if (!st->owner)
			owner_attach(w, st, rec);
		st->gen = w->gen;
		st->seen = w->call;
		snprintf(st->port_name, sizeof(st->port_name), "%s", fe[i].port_name);
		err = fe_apply(w, st, &fe[i]);
		if (err && !first)
			first = err;
	}
	if (rec) {
		gone = xcalloc(rec->n + 1, sizeof(*gone));
		for (size_t i = 0; i < rec->n; i++)
			if (rec->fes[i]->seen != w->call)
				gone[ngone++] = rec->fes[i];
		/* Every port it asked for belongs to someone else. */
		if (rec->n == 0)
			owner_free(w, rec);
	}
	/* fe_remove may free rec with its last port: rec is not used below. */
	for (size_t i = 0; i < ngone; i++) {
		err = fe_remove(w, gone[i]);
		if (err && !first)
			first = err;
	}
	free(gone);
	if (ops)
		*ops = w->st.updates + w->st.deletes + w->st.errors - before;
	pthread_mutex_unlock(&w->mu);
	return first;
}

static bool orphan_claimed(struct lb_writer *w, const struct capstan_svc_key *k)
{
	const struct fe_state *st;

	if (k->scope > CAPSTAN_SCOPE_EXTERNAL || k->pad[0] || k->pad[1])
		return false;
	st = u64map_get(&w->fes, lb_fe_key_pack(k->addr, k->port, k->proto, k->scope));
	if (!st)
		return false;
	return k->slot == 0 ? st->present : fe_slot(st, k->slot) != 0;
}

static void commit_orphans(struct lb_writer *w, int *first)
{
	size_t keep = 0;
	int err;

	for (size_t i = 0; i < w->norphan_svc; i++) {
		if (orphan_claimed(w, &w->orphan_svc[i]))
			continue;
		err = op_remove(w, LB_MAP_SVC, &w->orphan_svc[i]);
		if (err) {
			w->orphan_svc[keep++] = w->orphan_svc[i];
			if (!*first)
				*first = err;
		}
	}
	w->norphan_svc = keep;
	keep = 0;
	for (size_t i = 0; i < w->norphan_rnat; i++) {
		__u32 id = w->orphan_rnat[i];
		const struct fe_state *st = id < w->max_rev_nat ? w->by_rnat[id] : NULL;

		/* A live port that took the id has written its own entry. */
		if (st && st->revnat_ok)
			continue;
		err = op_remove(w, LB_MAP_REVNAT, &id);
		if (!err && w->ops->maglev_del)
			err = op_done(w, w->ops->maglev_del(w->ctx, id), true, LB_MAP_MAGLEV);
		if (err) {
			w->orphan_rnat[keep++] = id;
			if (!*first)
				*first = err;
		}
	}
	w->norphan_rnat = keep;
	keep = 0;
	for (size_t i = 0; i < w->norphan_ranges; i++) {
		const struct capstan_src_range_key *k = &w->orphan_ranges[i];
		__u16 id = ntohs(k->rev_nat_id);
		const struct fe_state *st = id < w->max_rev_nat ? w->by_rnat[id] : NULL;
		struct lb_src_range r = { .addr = k->addr, .len = (__u8)(k->prefixlen - 32) };

		/* A live port that took the id may have written this very prefix. */
		if (st && range_in(&r, st->ranges, st->nranges))
			continue;
		err = op_remove(w, LB_MAP_SRC_RANGES, k);
		if (err) {
			w->orphan_ranges[keep++] = *k;
			if (!*first)
				*first = err;
		}
	}
	w->norphan_ranges = keep;
}

static void commit_vips(struct lb_writer *w, int *first)
{
	uint64_t *dead = w->vip_dirty, key;
	size_t n = w->nvip_dirty, it = 0, keep = 0;
	void *val;

	/* A full round looks at every address (a restore leaves unused ones). */
	if (w->full) {
		dead = xcalloc(w->vips.len + 1, sizeof(*dead));
		n = 0;
		while (u64map_next(&w->vips, &it, &key, &val))
			if (((struct vip_state *)val)->refs == 0)
				dead[n++] = key;
	}
	for (size_t i = 0; i < n; i++) {
		struct vip_state *vip = u64map_get(&w->vips, dead[i]);
		__be32 addr = (__be32)dead[i];
		int err;

		if (!vip || vip->refs)
			continue; /* gone already, or taken again this round */
		err = op_remove(w, LB_MAP_VIP, &addr);
		if (err) {
			if (!*first)
				*first = err;
			if (dead != w->vip_dirty) /* keep it for the next round */
				continue;
			w->vip_dirty[keep++] = dead[i];
			continue;
		}
		free(u64map_del(&w->vips, dead[i]));
	}
	if (dead != w->vip_dirty)
		free(dead);
	else
		w->nvip_dirty = keep;
	if (w->full)
		w->nvip_dirty = 0;
}

struct affinity_walk {
	struct lb_writer *w;
	struct u64map *valid; /* restore round: every (port, backend) pair that may stick */
	struct capstan_affinity_key *dead;
	size_t n, cap;
};

static int affinity_collect(void *arg, const void *key, const void *val)
{
	struct affinity_walk *a = arg;
	struct capstan_affinity_key k;
	struct capstan_affinity_val v;
	uint64_t port, pair;
	bool drop;

	/* Copies: the walker's buffers carry no alignment promise. */
	memcpy(&k, key, sizeof(k));
	memcpy(&v, val, sizeof(v));
	port = (uint64_t)k.rev_nat_id << 32;
	pair = port | v.backend_id;
	drop = u64map_get(&a->w->purge, port) || u64map_get(&a->w->purge, pair);
	if (a->valid && !u64map_get(a->valid, pair))
		drop = true;
	if (drop) {
		a->dead = grow(a->dead, &a->cap, a->n + 1, sizeof(*a->dead));
		a->dead[a->n++] = k;
	}
	return 0;
}

/*
 * Delete the affinity entries recorded by affinity_forget; after a restore,
 * every entry whose service port or backend the mirror does not know.
 */
static void commit_affinity(struct lb_writer *w, int *first)
{
	struct affinity_walk a = { .w = w };
	struct u64map valid = { 0 };
	size_t it = 0;
	uint64_t key;
	void *val;
	int err;

	if (w->restored && w->full) {
		while (u64map_next(&w->fes, &it, &key, &val)) {
			const struct fe_state *st = val;
			size_t n;
			__u32 *ids;

			if (!st->present || !(st->s0.flags & CAPSTAN_SVC_F_AFFINITY))
				continue;
			ids = fe_backend_ids(st, &n);
			for (size_t i = 0; i < n; i++)
				u64map_put(&valid, ((uint64_t)st->rev_nat_id << 32) | ids[i],
					   (void *)1);
			free(ids);
		}
		a.valid = &valid;
	} else if (w->purge.len == 0) {
		return;
	}
	err = w->ops->walk(w->ctx, LB_MAP_AFFINITY, affinity_collect, &a);
	if (err) {
		log_warn("reading %s failed: %s", lb_map_layouts[LB_MAP_AFFINITY].name,
			 strerror(-err));
		w->st.errors++;
		if (!*first)
			*first = err;
	}
	for (size_t i = 0; i < a.n; i++) {
		err = op_remove(w, LB_MAP_AFFINITY, &a.dead[i]);
		if (err && !*first)
			*first = err;
	}
	/* Entries that could not go expire with their timeout. */
	u64map_free(&w->purge);
	u64map_free(&valid);
	free(a.dead);
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * A backend nobody names is deleted; one only terminating lists name is
 * marked TERMINATING. 0, or the -errno of a failed map operation.
 */
static int commit_backend(struct lb_writer *w, __u32 id, int *first)
{
	struct be_state *bs = &w->be[id];
	int err;

	if (!bs->written)
		return 0;
	if (bs->refs == 0) {
		err = op_remove(w, LB_MAP_BACKEND, &id);
		if (!err) {
			lb_ids_release(w->be_ids, id);
			*bs = (struct be_state){ 0 };
		}
	} else if (bs->active_refs == 0 && bs->val.state == CAPSTAN_BE_ACTIVE) {
		struct capstan_backend val = bs->val;

		val.state = CAPSTAN_BE_TERMINATING;
		err = op_update(w, LB_MAP_BACKEND, &id, &val);
		if (!err)
			bs->val = val;
	} else {
		return 0;
	}
	if (err && !*first)
		*first = err;
	return err;
}

static void commit_backends(struct lb_writer *w, int *first)
{
	size_t keep = 0;
	int err;

	for (size_t i = 0; i < w->norphan_be; i++) {
		err = op_remove(w, LB_MAP_BACKEND, &w->orphan_be[i]);
		if (err) {
			w->orphan_be[keep++] = w->orphan_be[i];
			if (!*first)
				*first = err;
		}
	}
	w->norphan_be = keep;
	if (w->full) {
		for (__u32 id = 1; id < w->max_backend; id++) {
			struct be_state *bs = &w->be[id];

			if (bs->restore_hold) {
				bs->restore_hold = false;
				bs->refs--;
			}
			commit_backend(w, id, first);
		}
		w->nbe_dirty = 0;
		return;
	}
	/*
	 * Only the ids this round touched, in id order (as a full round goes),
	 * each once; one whose write failed stays for the next round.
	 */
	if (w->nbe_dirty)
		qsort(w->be_dirty, w->nbe_dirty, sizeof(*w->be_dirty), cmp_u32);
	keep = 0;
	for (size_t i = 0; i < w->nbe_dirty; i++) {
		__u32 id = w->be_dirty[i];

		if (i > 0 && id == w->be_dirty[i - 1])
			continue;
		if (commit_backend(w, id, first) < 0)
			w->be_dirty[keep++] = id;
	}
	w->nbe_dirty = keep;
}

int lb_writer_commit(struct lb_writer *w, struct lb_write_stats *st)
{
	int first = 0;

	pthread_mutex_lock(&w->mu);
	if (w->full) {
		struct fe_state **stale = xcalloc(w->fes.len + 1, sizeof(*stale));
		size_t n = 0, it = 0;
		uint64_t key;
		void *val;

		while (u64map_next(&w->fes, &it, &key, &val))
			if (((struct fe_state *)val)->gen != w->gen)
				stale[n++] = val;
		for (size_t i = 0; i < n; i++) {
			int err = fe_remove(w, stale[i]);

			if (err && !first)
				first = err;
		}
		free(stale);
	}
	commit_orphans(w, &first);
	commit_vips(w, &first);
	commit_affinity(w, &first);
	/* Last: nothing can name these backends any more. */
	commit_backends(w, &first);
	if (w->full)
		w->restored = false;
	if (st)
		*st = w->st;
	pthread_mutex_unlock(&w->mu);
	return first;
}

/* ---------------------------------------------------------------- restore */

struct entry {
	union {
		struct capstan_svc_key svc;
		struct capstan_src_range_key range;
		__u32 id;
		__be32 addr;
	} k;
	union {
		struct capstan_svc_val svc;
		struct capstan_backend be;
		struct capstan_revnat rn;
		__u32 flags;
	} v;
};

struct entries {
	struct entry *v;
	size_t n, cap;
	enum lb_map_id map;
};

static int collect(void *arg, const void *key, const void *val)
{
	struct entries *e = arg;
	struct entry *x;

	e->v = grow(e->v, &e->cap, e->n + 1, sizeof(*e->v));
	x = &e->v[e->n++];
	memset(x, 0, sizeof(*x));
	memcpy(&x->k, key, lb_map_layouts[e->map].key_size);
	memcpy(&x->v, val, lb_map_layouts[e->map].value_size);
	return 0;
}

static int svc_entry_cmp(const void *a, const void *b)
{
	const struct capstan_svc_key *x = &((const struct entry *)a)->k.svc;
	const struct capstan_svc_key *y = &((const struct entry *)b)->k.svc;
	uint64_t kx = lb_fe_key_pack(x->addr, x->port, x->proto, x->scope);
	uint64_t ky = lb_fe_key_pack(y->addr, y->port, y->proto, y->scope);

	if (kx != ky)
		return kx < ky ? -1 : 1;
	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return memcmp(x, y, sizeof(*x));
}

static int id_entry_cmp(const void *a, const void *b)
{
	__u32 x = ((const struct entry *)a)->k.id, y = ((const struct entry *)b)->k.id;

	return x < y ? -1 : x > y;
}

static void add_orphan_svc(struct lb_writer *w, const struct capstan_svc_key *k)
{
	w->orphan_svc =
		grow(w->orphan_svc, &w->orphan_svc_cap, w->norphan_svc + 1, sizeof(*w->orphan_svc));
	w->orphan_svc[w->norphan_svc++] = *k;
}

static void add_orphan_id(__u32 **v, size_t *n, size_t *cap, __u32 id)
{
	*v = grow(*v, cap, *n + 1, sizeof(**v));
	(*v)[(*n)++] = id;
}

static void restore_backends(struct lb_writer *w, struct entries *e)
{
	qsort(e->v, e->n, sizeof(*e->v), id_entry_cmp);
	for (size_t i = 0; i < e->n; i++) {
		__u32 id = e->v[i].k.id;
		const struct capstan_backend *b = &e->v[i].v.be;

		if (id == 0 || id >= w->max_backend) {
			add_orphan_id(&w->orphan_be, &w->norphan_be, &w->orphan_be_cap, id);
			continue;
		}
		if (lb_ids_adopt(w->be_ids, lb_key_pack(b->addr, b->port, b->proto), id) != 0)
			lb_ids_adopt(w->be_ids, LB_PSEUDO_KEY(id), id);
		w->be[id] = (struct be_state){
			.val = *b, .written = true, .restore_hold = true, .refs = 1
		};
	}
}

/* One service port's entries e[0..n), sorted by slot. */
static void restore_frontend(struct lb_writer *w, const struct entry *e, size_t n)
{
	const struct capstan_svc_key *k0 = &e[0].k.svc;
	struct fe_state *st;
	__u32 rid = k0->slot == 0 ? e[0].v.svc.rev_nat_id : 0;
	uint64_t key = lb_fe_key_pack(k0->addr, k0->port, k0->proto, k0->scope);
	bool valid = k0->scope <= CAPSTAN_SCOPE_EXTERNAL && !k0->pad[0] && !k0->pad[1] &&
		     (k0->proto == IPPROTO_TCP || k0->proto == IPPROTO_UDP);

	if (!valid || rid == 0 || rid >= w->max_rev_nat || lb_ids_adopt(w->rnat_ids, key, rid)) {
		for (size_t i = 0; i < n; i++)
			add_orphan_svc(w, &e[i].k.svc);
		return;
	}
	st = fe_new(w, k0->addr, k0->port, k0->proto, k0->scope);
	st->present = true;
	/* Its table, if any, is rebuilt by the first round (the signature is unknown). */
	st->mgl_present = k0->scope == CAPSTAN_SCOPE_EXTERNAL;
	st->s0 = e[0].v.svc;
	st->rev_nat_id = (__u16)rid;
	w->by_rnat[rid] = st;
	for (size_t i = 1; i < n; i++) {
		__u32 id = e[i].v.svc.backend_id;
		size_t slot = e[i].k.svc.slot;

		if (slot > CAPSTAN_MAX_BACKENDS_PER_SVC || id == 0 || id >= w->max_backend ||
		    !w->be[id].written || e[i].k.svc.pad[0] || e[i].k.svc.pad[1]) {
			/* Not representable in the mirror: delete unless rewritten. */
			add_orphan_svc(w, &e[i].k.svc);
			continue;
		}
		fe_slot_store(w, st, slot, id);
	}
}

static void restore_services(struct lb_writer *w, struct entries *e)
{
	size_t start = 0;

	qsort(e->v, e->n, sizeof(*e->v), svc_entry_cmp);
	for (size_t i = 1; i <= e->n; i++) {
		const struct capstan_svc_key *a = &e->v[start].k.svc;
		const struct capstan_svc_key *b = i < e->n ? &e->v[i].k.svc : NULL;

		if (b && lb_fe_key_pack(a->addr, a->port, a->proto, a->scope) ==
				 lb_fe_key_pack(b->addr, b->port, b->proto, b->scope))
			continue;
		restore_frontend(w, &e->v[start], i - start);
		start = i;
	}
}

static void restore_revnat(struct lb_writer *w, const struct entries *e)
{
	for (size_t i = 0; i < e->n; i++) {
		__u32 id = e->v[i].k.id;
		const struct capstan_revnat *rn = &e->v[i].v.rn;
		struct fe_state *st = id < w->max_rev_nat ? w->by_rnat[id] : NULL;

		if (!st) {
			add_orphan_id(&w->orphan_rnat, &w->norphan_rnat, &w->orphan_rnat_cap, id);
			continue;
		}
		st->revnat_ok = rn->addr == st->addr && rn->port == st->port &&
				rn->proto == st->proto && rn->pad == 0;
	}
}

static void restore_vips(struct lb_writer *w, const struct entries *e)
{
	for (size_t i = 0; i < e->n; i++) {
		struct vip_state *vip = u64map_get(&w->vips, e->v[i].k.addr);

		if (!vip) {
			vip = xcalloc(1, sizeof(*vip));
			u64map_put(&w->vips, e->v[i].k.addr, vip);
		}
		/* Flags that differ from what the ports want are rewritten by fe_vip. */
		vip->written = true;
		vip->flags = e->v[i].v.flags;
	}
}

/* Source-range entries go back to their port's mirror, or are deleted at commit. */
static void restore_ranges(struct lb_writer *w, const struct entries *e)
{
	for (size_t i = 0; i < e->n; i++) {
		const struct capstan_src_range_key *k = &e->v[i].k.range;
		__u16 id = ntohs(k->rev_nat_id);
		struct fe_state *st = id < w->max_rev_nat ? w->by_rnat[id] : NULL;

		if (st && st->scope == CAPSTAN_SCOPE_EXTERNAL && k->prefixlen >= 32 &&
		    k->prefixlen <= 64 && k->pad == 0) {
			st->ranges = grow(st->ranges, &st->ranges_cap, st->nranges + 1,
					  sizeof(*st->ranges));
			st->ranges[st->nranges++] =
				(struct lb_src_range){ .addr = k->addr,
						       .len = (__u8)(k->prefixlen - 32) };
			continue;
		}
		w->orphan_ranges = grow(w->orphan_ranges, &w->orphan_ranges_cap,
					w->norphan_ranges + 1, sizeof(*w->orphan_ranges));
		w->orphan_ranges[w->norphan_ranges++] = *k;
	}
}

int lb_writer_restore(struct lb_writer *w, struct lb_restore_stats *st)
{
	static const enum lb_map_id order[] = { LB_MAP_BACKEND, LB_MAP_SVC, LB_MAP_REVNAT,
						LB_MAP_VIP, LB_MAP_SRC_RANGES };
	struct entries e[ARRAY_SIZE(order)] = { 0 };
	int err = 0;

	pthread_mutex_lock(&w->mu);
	mirror_reset(w);
	w->restored = true;
	for (size_t i = 0; i < ARRAY_SIZE(order) && !err; i++) {
		e[i].map = order[i];
		err = w->ops->walk(w->ctx, order[i], collect, &e[i]);
		if (err)
			log_warn("reading %s back failed: %s", lb_map_layouts[order[i]].name,
				 strerror(-err));
	}
	if (!err) {
		restore_backends(w, &e[0]);
		restore_services(w, &e[1]);
		restore_revnat(w, &e[2]);
		restore_vips(w, &e[3]);
		restore_ranges(w, &e[4]);
	}
	if (st) {
		st->frontends = w->fes.len;
		st->backends = lb_ids_count(w->be_ids);
		st->stale = w->norphan_svc + w->norphan_rnat + w->norphan_be + w->norphan_ranges;
	}
	for (size_t i = 0; i < ARRAY_SIZE(order); i++)
		free(e[i].v);
	pthread_mutex_unlock(&w->mu);
	return err;
}

/* ---------------------------------------------------------------- introspection */

void lb_writer_counts(struct lb_writer *w, size_t *frontends, size_t *backends)
{
	pthread_mutex_lock(&w->mu);
	if (frontends)
		*frontends = w->fes.len;
	if (backends)
		*backends = lb_ids_count(w->be_ids);
	pthread_mutex_unlock(&w->mu);
}

static int snap_fe_cmp(const void *a, const void *b)
{
	const struct lb_snapshot_frontend *x = a, *y = b;
	int c = strcmp(x->owner, y->owner);

	if (c)
		return c;
	if (x->port != y->port)
		return ntohs(x->port) < ntohs(y->port) ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->scope < y->scope ? -1 : x->scope > y->scope;
}

void lb_writer_snapshot(struct lb_writer *w, struct lb_snapshot *out)
{
	size_t it = 0;
	uint64_t key;
	void *val;

	pthread_mutex_lock(&w->mu);
	out->fe = xcalloc(w->fes.len + 1, sizeof(*out->fe));
	out->nfe = 0;
	while (u64map_next(&w->fes, &it, &key, &val)) {
		const struct fe_state *st = val;
		struct lb_snapshot_frontend *f;

		if (!st->owner || !st->rev_nat_id)
			continue;
		f = &out->fe[out->nfe++];
		snprintf(f->owner, sizeof(f->owner), "%s", st->owner->name);
		snprintf(f->port_name, sizeof(f->port_name), "%s", st->port_name);
		f->addr = st->addr;
		f->port = st->port;
		f->proto = st->proto;
		f->scope = st->scope;
		f->rev_nat_id = st->rev_nat_id;
	}
	out->be = xcalloc(lb_ids_count(w->be_ids) + 1, sizeof(*out->be));
	out->nbe = 0;
	for (__u32 id = 1; id < w->max_backend; id++) {
		if (!w->be[id].written)
			continue;
		out->be[out->nbe].id = id;
		out->be[out->nbe].be = w->be[id].val;
		out->nbe++;
	}
	pthread_mutex_unlock(&w->mu);
	qsort(out->fe, out->nfe, sizeof(*out->fe), snap_fe_cmp);
}

void lb_snapshot_free(struct lb_snapshot *s)
{
	free(s->fe);
	free(s->be);
	*s = (struct lb_snapshot){ 0 };
}
