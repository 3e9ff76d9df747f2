/* test_agent_fake.c - see test_agent_fake.h (helpers only, no tests). */
#include "test_agent_fake.h"

#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *ip(__be32 a, char *buf)
{
	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
	return buf;
}

static void log_op(struct fake_maps *f, bool update, enum lb_map_id map, const void *key,
		   const void *val)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	switch (map) {
	case LB_MAP_SVC: {
		const struct capstan_svc_key *k = key;
		const struct capstan_svc_val *v = val;

		buf_appendf(&f->log, "S%c %s:%u/%u%s#%u", update ? '+' : '-', ip(k->addr, a),
			    ntohs(k->port), k->proto, k->scope ? "ext" : "", k->slot);
		if (update && k->slot == 0)
			buf_appendf(&f->log, " count=%u rnat=%u flags=%u to=%u", v->count,
				    v->rev_nat_id, v->flags, v->affinity_timeout);
		else if (update)
			buf_appendf(&f->log, " be=%u", v->backend_id);
		break;
	}
	case LB_MAP_BACKEND: {
		const struct capstan_backend *v = val;

		buf_appendf(&f->log, "B%c %u", update ? '+' : '-', *(const __u32 *)key);
		if (update)
			buf_appendf(&f->log, " %s:%u/%u %s", ip(v->addr, b), ntohs(v->port),
				    v->proto,
				    v->state == CAPSTAN_BE_ACTIVE ? "active" : "terminating");
		break;
	}
	case LB_MAP_REVNAT: {
		const struct capstan_revnat *v = val;

		buf_appendf(&f->log, "R%c %u", update ? '+' : '-', *(const __u32 *)key);
		if (update)
			buf_appendf(&f->log, " %s:%u/%u", ip(v->addr, b), ntohs(v->port), v->proto);
		break;
	}
	case LB_MAP_VIP:
		buf_appendf(&f->log, "V%c %s", update ? '+' : '-', ip(*(const __be32 *)key, a));
		if (update)
			buf_appendf(&f->log, " %u", *(const __u32 *)val);
		break;
	case LB_MAP_AFFINITY: {
		const struct capstan_affinity_key *k = key;

		buf_appendf(&f->log, "A%c %llu/%u", update ? '+' : '-',
			    (unsigned long long)k->client, k->rev_nat_id);
		break;
	}
	case LB_MAP_SRC_RANGES: {
		const struct capstan_src_range_key *k = key;

		buf_appendf(&f->log, "L%c %u %s/%u", update ? '+' : '-', ntohs(k->rev_nat_id),
			    ip(k->addr, a), k->prefixlen - 32);
		break;
	}
	default:
		buf_appendf(&f->log, "?%c %s", update ? '+' : '-', lb_map_layouts[map].name);
	}
	buf_append(&f->log, "\n", 1);
}

static struct fake_entry *find(struct fake_maps *f, enum lb_map_id map, const void *key)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->v[i].map == map &&
		    memcmp(f->v[i].key, key, lb_map_layouts[map].key_size) == 0)
			return &f->v[i];
	return NULL;
}

void fake_put(struct fake_maps *f, enum lb_map_id map, const void *key, const void *val)
{
	struct fake_entry *e = find(f, map, key);

	if (!e) {
		if (f->n == f->cap) {
			f->cap = f->cap ? f->cap * 2 : 64;
			f->v = xrealloc(f->v, f->cap * sizeof(*f->v));
		}
		e = &f->v[f->n++];
		memset(e, 0, sizeof(*e));
		e->map = map;
		memcpy(e->key, key, lb_map_layouts[map].key_size);
	}
	memcpy(e->val, val, lb_map_layouts[map].value_size);
}

static bool should_fail(struct fake_maps *f)
{
	if (f->fail_at < 0)
		return false;
	if (f->fail_at-- == 0) {
		f->fail_at = -1;
		return true;
	}
	return false;
}

static int fake_update(void *ctx, enum lb_map_id map, const void *key, const void *val)
{
	struct fake_maps *f = ctx;

	if (should_fail(f))
		return -EIO;
	fake_put(f, map, key, val);
	log_op(f, true, map, key, val);
	return 0;
}

static int fake_remove(void *ctx, enum lb_map_id map, const void *key)
{
	struct fake_maps *f = ctx;
	struct fake_entry *e;

	if (should_fail(f))
		return -EIO;
	e = find(f, map, key);
	if (e)
		*e = f->v[--f->n];
	log_op(f, false, map, key, NULL);
	return 0;
}

static int fake_walk(void *ctx, enum lb_map_id map, lb_map_walk_fn fn, void *arg)
{
	struct fake_maps *f = ctx;

	for (size_t i = 0; i < f->n; i++) {
		if (f->v[i].map == map) {
			int rc = fn(arg, f->v[i].key, f->v[i].val);

			if (rc)
				return rc;
		}
	}
	return 0;
}

static int fake_zero(void *ctx, enum lb_map_id map, __u32 id)
{
	struct fake_maps *f = ctx;

	if (should_fail(f))
		return -EIO;
	if (id < 64)
		memset(f->counters[map][id], 0, sizeof(f->counters[map][id]));
	buf_appendf(&f->log, "Z %s %u\n",
		    map == LB_MAP_SVC_COUNTERS	     ? "scnt"
		    : map == LB_MAP_BACKEND_COUNTERS ? "bcnt"
						     : "?",
		    id);
	return 0;
}

static int fake_sum(void *ctx, enum lb_map_id map, __u32 id, __u64 *sums, size_t nfields)
{
	struct fake_maps *f = ctx;

	if (id >= 64 || nfields > 6)
		return -ENOENT;
	memcpy(sums, f->counters[map][id], nfields * sizeof(*sums));
	return 0;
}

/* "M+ rev m=M ids=a,b,c" (the distinct ids in table order of appearance). */
static int fake_maglev_set(void *ctx, __u32 rev, const __u32 *table, __u32 m)
{
	struct fake_maps *f = ctx;
	__u32 seen[16];
	size_t n = 0;

	if (should_fail(f) || f->maglev_fail)
		return -EIO;
	ASSERT(rev < FAKE_MAGLEV_MAX);
	free(f->maglev[rev]);
	f->maglev[rev] = xcalloc(m, sizeof(*table));
	memcpy(f->maglev[rev], table, m * sizeof(*table));
	f->maglev_m[rev] = m;
	buf_appendf(&f->log, "M+ %u m=%u ids=", rev, m);
	for (__u32 i = 0; i < m; i++) {
		size_t j = 0;

		while (j < n && seen[j] != table[i])
			j++;
		if (j < n || n == ARRAY_SIZE(seen))
			continue;
		seen[n++] = table[i];
	}
	/* sorted, so the log does not depend on the hash */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && seen[j - 1] > seen[j]; j--) {
			__u32 t = seen[j];

			seen[j] = seen[j - 1];
			seen[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++)
		buf_appendf(&f->log, "%s%u", i ? "," : "", seen[i]);
	buf_append(&f->log, "\n", 1);
	return 0;
}

static int fake_maglev_del(void *ctx, __u32 rev)
{
	struct fake_maps *f = ctx;

	if (should_fail(f))
		return -EIO;
	if (rev < FAKE_MAGLEV_MAX) {
		free(f->maglev[rev]);
		f->maglev[rev] = NULL;
		f->maglev_m[rev] = 0;
	}
	buf_appendf(&f->log, "M- %u\n", rev);
	return 0;
}

const struct lb_map_ops fake_ops = {
	.update = fake_update,
	.remove = fake_remove,
	.walk = fake_walk,
	.zero = fake_zero,
	.sum = fake_sum,
	.maglev_set = fake_maglev_set,
	.maglev_del = fake_maglev_del,
};

void fake_init(struct fake_maps *f)
{
	memset(f, 0, sizeof(*f));
	f->fail_at = -1;
}

void fake_free(struct fake_maps *f)
{
	for (size_t i = 0; i < FAKE_MAGLEV_MAX; i++)
		free(f->maglev[i]);
	free(f->v);
	buf_free(&f->log);
	memset(f, 0, sizeof(*f));
}

const char *fake_log(struct fake_maps *f)
{
	return f->log.data ? f->log.data : "";
}

void fake_log_reset(struct fake_maps *f)
{
	buf_reset(&f->log);
}

int fake_log_index(struct fake_maps *f, const char *line)
{
	const char *p = fake_log(f);
	size_t len = strlen(line);

	for (int i = 0; *p; i++) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (n == len && strncmp(p, line, len) == 0)
			return i;
		p += n + (nl ? 1 : 0);
	}
	return -1;
}

int fake_log_lines(struct fake_maps *f)
{
	int n = 0;

	for (const char *p = fake_log(f); *p; p++)
		n += *p == '\n';
	return n;
}

const char *fake_join(const char *const *lines)
{
	static char buf[8192];
	size_t n = 0;

	buf[0] = '\0';
	for (; *lines && n < sizeof(buf); lines++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\n", *lines);
	return buf;
}

size_t fake_count(struct fake_maps *f, enum lb_map_id map)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n; i++)
		n += f->v[i].map == map;
	return n;
}

bool fake_get(struct fake_maps *f, enum lb_map_id map, const void *key, void *val)
{
	struct fake_entry *e = find(f, map, key);

	if (e && val)
		memcpy(val, e->val, lb_map_layouts[map].value_size);
	return e != NULL;
}

struct capstan_svc_key fake_svc_key(const char *vip, unsigned port, int proto, unsigned slot)
{
	struct capstan_svc_key k;

	memset(&k, 0, sizeof(k));
	inet_pton(AF_INET, vip, &k.addr);
	k.port = htons((uint16_t)port);
	k.proto = (__u8)proto;
	k.slot = (__u16)slot;
	return k;
}

bool fake_svc(struct fake_maps *f, const char *vip, unsigned port, int proto, unsigned slot,
	      struct capstan_svc_val *out)
{
	struct capstan_svc_key k = fake_svc_key(vip, port, proto, slot);

	return fake_get(f, LB_MAP_SVC, &k, out);
}

struct capstan_backend fake_backend(const char *addr, unsigned port, int proto, int state)
{
	struct capstan_backend b;

	memset(&b, 0, sizeof(b));
	inet_pton(AF_INET, addr, &b.addr);
	b.port = htons((uint16_t)port);
	b.proto = (__u8)proto;
	b.state = (__u8)state;
	return b;
}
