/*
 * lb_format.c - see lb_format.h.
 *
 * The services view first turns one service port's entries into rows (a
 * backend slot, a run of missing slots, a slot beyond the count) and then
 * prints the rows as text or JSON, so what a state means is decided once for
 * both outputs. JSON is built with jansson and printed with
 * JSON_PRESERVE_ORDER, so fields come out in the order written here.
 */
#include "lb_format.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ktime.h"

static const char *const drop_names[] = CAPSTAN_DROP_NAMES;
_Static_assert(ARRAY_SIZE(drop_names) == CAPSTAN_DROP__MAX,
	       "CAPSTAN_DROP_NAMES must name every enum capstan_drop_reason");

static const char *const hook_names[] = {
	[CAPSTAN_HOOK_CONNECT4] = "connect4", [CAPSTAN_HOOK_SENDMSG4] = "sendmsg4",
	[CAPSTAN_HOOK_RECVMSG4] = "recvmsg4", [CAPSTAN_HOOK_GETPEERNAME4] = "getpeername4",
	[CAPSTAN_HOOK_CONNECT6] = "connect6", [CAPSTAN_HOOK_SENDMSG6] = "sendmsg6",
	[CAPSTAN_HOOK_RECVMSG6] = "recvmsg6", [CAPSTAN_HOOK_GETPEERNAME6] = "getpeername6",
	[CAPSTAN_HOOK_TC_INGRESS] = "tc-in",  [CAPSTAN_HOOK_TC_EGRESS] = "tc-out",
	[CAPSTAN_HOOK_XDP] = "xdp",
};

/* "255.255.255.255:65535/proto255" and its NUL. */
#define EP_LEN 40

const char *cli_lb_drop_name(unsigned int reason)
{
	return reason < ARRAY_SIZE(drop_names) ? drop_names[reason] : NULL;
}

static const char *proto_name(__u8 proto, bool upper, char *buf, size_t len)
{
	if (proto == IPPROTO_TCP)
		return upper ? "TCP" : "tcp";
	if (proto == IPPROTO_UDP)
		return upper ? "UDP" : "udp";
	snprintf(buf, len, "proto%u", proto);
	return buf;
}

static void fmt_addr(char *buf, size_t len, __be32 addr)
{
	if (!inet_ntop(AF_INET, &addr, buf, len))
		snprintf(buf, len, "?");
}

/* "10.96.0.10:80/TCP" */
static const char *fmt_ep(char *buf, size_t len, __be32 addr, __be16 port, __u8 proto)
{
	char a[INET_ADDRSTRLEN], p[16];

	fmt_addr(a, sizeof(a), addr);
	snprintf(buf, len, "%s:%u/%s", a, ntohs(port), proto_name(proto, true, p, sizeof(p)));
	return buf;
}

static const char *state_name(__u8 state, char *buf, size_t len)
{
	if (state == CAPSTAN_BE_ACTIVE)
		return "active";
	if (state == CAPSTAN_BE_TERMINATING)
		return "terminating";
	snprintf(buf, len, "state%u", state);
	return buf;
}

/* Set "address", "port", "protocol" on obj. */
static void json_set_ep(json_t *obj, __be32 addr, __be16 port, __u8 proto)
{
	char a[INET_ADDRSTRLEN], p[16];

	fmt_addr(a, sizeof(a), addr);
	json_object_set_new(obj, "address", json_string(a));
	json_object_set_new(obj, "port", json_integer(ntohs(port)));
	json_object_set_new(obj, "protocol", json_string(proto_name(proto, true, p, sizeof(p))));
}

/* Print root to out as fmt asks and release it. */
static void json_emit(json_t *root, enum cli_lb_output fmt, struct buf *out)
{
	size_t flags = JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6);
	char *s;

	flags |= fmt == CLI_LB_OUT_JSON ? JSON_INDENT(2) : JSON_COMPACT;
	s = json_dumps(root, flags);
	if (s) {
		buf_appendf(out, "%s\n", s);
		free(s);
	}
	json_decref(root);
}

/* ---------------------------------------------------------------- grouping */

static bool same_service(const struct capstan_svc_key *a, const struct capstan_svc_key *b)
{
	return a->addr == b->addr && a->port == b->port && a->proto == b->proto &&
	       a->scope == b->scope;
}

/* End (exclusive) of the service port whose entries start at begin. */
static size_t group_end(const struct cli_lb_snapshot *s, size_t begin)
{
	size_t end = begin + 1;

	while (end < s->n_svc && same_service(&s->svc[begin].key, &s->svc[end].key))
		end++;
	return end;
}

/* One line under a service: a backend slot or a run of missing slots. */
struct slot_row {
	unsigned int slot, last; /* last > slot only for a run of missing slots */
	bool missing;		 /* no entry for these slots */
	bool unused;		 /* beyond the count: no connection picks it */
	__u32 backend_id;
	const struct capstan_backend *be; /* NULL: id not in the backends map */
};

/*
 * The rows of the group [begin, end): slots 1..count in order with missing
 * runs filled in, then the entries beyond the count. Returns the row count;
 * *rows is allocated (at most two rows per entry plus one).
 */
static size_t group_rows(const struct cli_lb_snapshot *s, size_t begin, size_t end,
			 struct slot_row **rows)
{
	const struct cli_lb_svc_entry *slot0 = s->svc[begin].key.slot == 0 ? &s->svc[begin] : NULL;
	unsigned int count = slot0 ? slot0->val.count : 0, expected = 1;
	struct slot_row *r = xcalloc(2 * (end - begin) + 1, sizeof(*r));
	size_t n = 0;

	for (size_t i = begin; i < end; i++) {
		const struct cli_lb_svc_entry *e = &s->svc[i];
		const struct cli_lb_backend_entry *be;
		unsigned int last_missing = MIN(e->key.slot - 1u, count);

		if (e->key.slot == 0)
			continue;
		if (expected <= last_missing) {
			r[n++] = (struct slot_row){ .slot = expected,
						    .last = last_missing,
						    .missing = true };
			expected = last_missing + 1;
		}
		be = cli_lb_snapshot_backend(s, e->val.backend_id);
		r[n++] = (struct slot_row){ .slot = e->key.slot,
					    .last = e->key.slot,
					    .unused = e->key.slot > count,
					    .backend_id = e->val.backend_id,
					    .be = be ? &be->be : NULL };
		if (e->key.slot <= count)
			expected = e->key.slot + 1;
	}
	if (expected <= count)
		r[n++] = (struct slot_row){ .slot = expected, .last = count, .missing = true };
	*rows = r;
	return n;
}

static int cmp_backend_addr(const void *pa, const void *pb)
{
	const struct cli_lb_backend_entry *a = *(const struct cli_lb_backend_entry *const *)pa;
	const struct cli_lb_backend_entry *b = *(const struct cli_lb_backend_entry *const *)pb;
	__u32 aa = ntohl(a->be.addr), ba = ntohl(b->be.addr);
	__u16 ap = ntohs(a->be.port), bp = ntohs(b->be.port);

	if (aa != ba)
		return aa < ba ? -1 : 1;
	if (ap != bp)
		return ap < bp ? -1 : 1;
	if (a->be.proto != b->be.proto)
		return a->be.proto < b->be.proto ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

/* Backends sorted by address, port, protocol; only terminating ones if asked. */
static size_t backends_by_addr(const struct cli_lb_snapshot *s, bool terminating_only,
			       const struct cli_lb_backend_entry ***out)
{
	const struct cli_lb_backend_entry **v = xcalloc(s->n_backends + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < s->n_backends; i++)
		if (!terminating_only || s->backends[i].be.state == CAPSTAN_BE_TERMINATING)
			v[n++] = &s->backends[i];
	qsort(v, n, sizeof(*v), cmp_backend_addr);
	*out = v;
	return n;
}

/* ---------------------------------------------------------------- services view */

/* Service flags by name (affinity is shown with its timeout). */
static const struct {
	__u32 flag;
	const char *name;
} svc_flag_names[] = {
	{ CAPSTAN_SVC_F_LOCAL_INTERNAL, "local" },
	{ CAPSTAN_SVC_F_NODEPORT, "nodeport" },
	{ CAPSTAN_SVC_F_EXTERNAL_IP, "external-ip" },
	{ CAPSTAN_SVC_F_LOADBALANCER, "loadbalancer" },
	{ CAPSTAN_SVC_F_LOCAL_EXTERNAL, "external-local" },
	{ CAPSTAN_SVC_F_SOURCE_RANGES, "source-ranges" },
};

static void text_service_header(const struct cli_lb_svc_entry *first, struct buf *out)
{
	const struct capstan_svc_val *v = &first->val;
	__u32 known = CAPSTAN_SVC_F_AFFINITY;
	char ep[EP_LEN];

	buf_appendf(out, "%s",
		    fmt_ep(ep, sizeof(ep), first->key.addr, first->key.port, first->key.proto));
	if (first->key.slot != 0) {
		buf_appendf(out, " (no slot 0: the agent is creating or removing this service)\n");
		return;
	}
	buf_appendf(out, " (rev-nat %u)", v->rev_nat_id);
	if (v->flags & CAPSTAN_SVC_F_AFFINITY)
		buf_appendf(out, " [affinity %us]", v->affinity_timeout);
	for (size_t i = 0; i < ARRAY_SIZE(svc_flag_names); i++) {
		known |= svc_flag_names[i].flag;
		if (v->flags & svc_flag_names[i].flag)
			buf_appendf(out, " [%s]", svc_flag_names[i].name);
	}
	if (v->flags & ~known)
		buf_appendf(out, " [flags 0x%x]", v->flags & ~known);
	if (first->key.scope == CAPSTAN_SCOPE_EXTERNAL)
		buf_appendf(out, " [external view]");
	else if (first->key.scope)
		buf_appendf(out, " [scope %u]", first->key.scope);
	buf_appendf(out, "\n");
}

static void text_row(const struct slot_row *r, bool has_slot0, unsigned int count, struct buf *out)
{
	char ep[EP_LEN], st[16];

	if (r->missing) {
		if (r->last > r->slot)
			buf_appendf(out, "  slots %u-%u", r->slot, r->last);
		else
			buf_appendf(out, "  slot %u", r->slot);
		buf_appendf(out, " -> (missing: connections that pick it are refused)\n");
		return;
	}
	if (r->be)
		buf_appendf(out, "  slot %u -> %s (backend %u)", r->slot,
			    fmt_ep(ep, sizeof(ep), r->be->addr, r->be->port, r->be->proto),
			    r->backend_id);
	else
		buf_appendf(out,
			    "  slot %u -> backend %u (not in the backends map: "
			    "connections that pick it are refused)",
			    r->slot, r->backend_id);
	if (r->be && r->be->state != CAPSTAN_BE_ACTIVE)
		buf_appendf(out, " [%s]", state_name(r->be->state, st, sizeof(st)));
	if (r->unused && has_slot0)
		buf_appendf(out, " [unused: beyond count %u]", count);
	else if (r->unused)
		buf_appendf(out, " [unused]");
	buf_appendf(out, "\n");
}

static void text_services(struct cli_lb_snapshot *s, struct buf *out)
{
	const struct cli_lb_backend_entry **term;
	size_t n_term;
	char ep[EP_LEN];

	if (s->n_svc == 0)
		buf_appendf(out, "no services\n");
	for (size_t i = 0, end; i < s->n_svc; i = end) {
		const struct cli_lb_svc_entry *first = &s->svc[i];
		bool has_slot0 = first->key.slot == 0;
		unsigned int count = has_slot0 ? first->val.count : 0;
		struct slot_row *rows;
		size_t n;

		end = group_end(s, i);
		n = group_rows(s, i, end, &rows);
		text_service_header(first, out);
		if (has_slot0 && count == 0)
			buf_appendf(out, "  (no ready backend: connections are refused)\n");
		for (size_t r = 0; r < n; r++)
			text_row(&rows[r], has_slot0, count, out);
		free(rows);
	}
	n_term = backends_by_addr(s, true, &term);
	if (n_term)
		buf_appendf(out, "\nterminating backends (draining: kept for existing "
				 "connections and affinity):\n");
	for (size_t i = 0; i < n_term; i++)
		buf_appendf(out, "  %s (backend %u)\n",
			    fmt_ep(ep, sizeof(ep), term[i]->be.addr, term[i]->be.port,
				   term[i]->be.proto),
			    term[i]->id);
	free(term);
}

/* Set the fields of one backend on o (which may already hold others); returns o. */
static json_t *json_backend(json_t *o, __u32 id, const struct capstan_backend *be)
{
	char st[16];

	json_object_set_new(o, "backend_id", json_integer(id));
	json_set_ep(o, be->addr, be->port, be->proto);
	json_object_set_new(o, "state", json_string(state_name(be->state, st, sizeof(st))));
	return o;
}

static json_t *json_row(const struct slot_row *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "slot", json_integer(r->slot));
	if (r->missing) {
		json_object_set_new(o, "last_slot", json_integer(r->last));
		json_object_set_new(o, "missing", json_true());
		return o;
	}
	if (r->be) {
		json_backend(o, r->backend_id, r->be);
	} else {
		json_object_set_new(o, "backend_id", json_integer(r->backend_id));
		json_object_set_new(o, "backend_missing", json_true());
	}
	if (r->unused)
		json_object_set_new(o, "unused", json_true());
	return o;
}

static json_t *json_service_head(const struct cli_lb_svc_entry *first)
{
	const struct capstan_svc_val *v = &first->val;
	json_t *o = json_object(), *flags;

	json_set_ep(o, first->key.addr, first->key.port, first->key.proto);
	if (first->key.scope)
		json_object_set_new(o, "scope", json_integer(first->key.scope));
	if (first->key.slot != 0) {
		json_object_set_new(o, "no_service_entry", json_true());
		return o;
	}
	json_object_set_new(o, "rev_nat_id", json_integer(v->rev_nat_id));
	json_object_set_new(o, "count", json_integer(v->count));
	flags = json_array();
	if (v->flags & CAPSTAN_SVC_F_AFFINITY)
		json_array_append_new(flags, json_string("affinity"));
	for (size_t i = 0; i < ARRAY_SIZE(svc_flag_names); i++)
		if (v->flags & svc_flag_names[i].flag)
			json_array_append_new(flags, json_string(svc_flag_names[i].name));
	json_object_set_new(o, "flags", flags);
	json_object_set_new(o, "raw_flags", json_integer(v->flags));
	if (v->flags & CAPSTAN_SVC_F_AFFINITY)
		json_object_set_new(o, "affinity_timeout", json_integer(v->affinity_timeout));
	if (v->count == 0)
		json_object_set_new(o, "no_ready_backend", json_true());
	return o;
}

static void json_services(struct cli_lb_snapshot *s, enum cli_lb_output fmt, struct buf *out)
{
	json_t *root = json_object(), *svcs = json_array(), *terms = json_array();
	const struct cli_lb_backend_entry **term;
	size_t n_term;

	for (size_t i = 0, end; i < s->n_svc; i = end) {
		json_t *svc = json_service_head(&s->svc[i]), *slots = json_array();
		struct slot_row *rows;
		size_t n;

		end = group_end(s, i);
		n = group_rows(s, i, end, &rows);
		for (size_t r = 0; r < n; r++)
			json_array_append_new(slots, json_row(&rows[r]));
		free(rows);
		json_object_set_new(svc, "slots", slots);
		json_array_append_new(svcs, svc);
	}
	n_term = backends_by_addr(s, true, &term);
	for (size_t i = 0; i < n_term; i++)
		json_array_append_new(terms,
				      json_backend(json_object(), term[i]->id, &term[i]->be));
	free(term);
	json_object_set_new(root, "services", svcs);
	json_object_set_new(root, "terminating_backends", terms);
	json_emit(root, fmt, out);
}

/* ---------------------------------------------------------------- raw views */

static void format_backends(const struct cli_lb_snapshot *s, enum cli_lb_output fmt,
			    struct buf *out)
{
	json_t *root, *arr;
	char ep[EP_LEN], st[16];

	if (fmt == CLI_LB_OUT_TEXT) {
		if (s->n_backends == 0) {
			buf_appendf(out, "no backends\n");
			return;
		}
		buf_appendf(out, "%-7s %-24s %s\n", "ID", "BACKEND", "STATE");
		for (size_t i = 0; i < s->n_backends; i++) {
			const struct cli_lb_backend_entry *b = &s->backends[i];

			buf_appendf(out, "%-7u %-24s %s\n", b->id,
				    fmt_ep(ep, sizeof(ep), b->be.addr, b->be.port, b->be.proto),
				    state_name(b->be.state, st, sizeof(st)));
		}
		return;
	}
	root = json_object();
	arr = json_array();
	for (size_t i = 0; i < s->n_backends; i++)
		json_array_append_new(
			arr, json_backend(json_object(), s->backends[i].id, &s->backends[i].be));
	json_object_set_new(root, "backends", arr);
	json_emit(root, fmt, out);
}

static void format_revnat(const struct cli_lb_snapshot *s, enum cli_lb_output fmt, struct buf *out)
{
	json_t *root, *arr;
	char ep[EP_LEN];

	if (fmt == CLI_LB_OUT_TEXT) {
		if (s->n_revnat == 0) {
			buf_appendf(out, "no rev-NAT entries\n");
			return;
		}
		buf_appendf(out, "%-7s %s\n", "REV-NAT", "SERVICE");
		for (size_t i = 0; i < s->n_revnat; i++) {
			const struct cli_lb_revnat_entry *r = &s->revnat[i];

			buf_appendf(out, "%-7u %s\n", r->id,
				    fmt_ep(ep, sizeof(ep), r->rn.addr, r->rn.port, r->rn.proto));
		}
		return;
	}
	root = json_object();
	arr = json_array();
	for (size_t i = 0; i < s->n_revnat; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "rev_nat_id", json_integer(s->revnat[i].id));
		json_set_ep(o, s->revnat[i].rn.addr, s->revnat[i].rn.port, s->revnat[i].rn.proto);
		json_array_append_new(arr, o);
	}
	json_object_set_new(root, "revnat", arr);
	json_emit(root, fmt, out);
}

int cli_lb_format_list(struct cli_lb_snapshot *snap, enum cli_lb_list_view view,
		       enum cli_lb_output fmt, struct buf *out)
{
	if (fmt != CLI_LB_OUT_TEXT && fmt != CLI_LB_OUT_JSON && fmt != CLI_LB_OUT_JSON_LINE)
		return -EINVAL;
	cli_lb_snapshot_sort(snap);
	switch (view) {
	case CLI_LB_VIEW_SERVICES:
		if (fmt == CLI_LB_OUT_TEXT)
			text_services(snap, out);
		else
			json_services(snap, fmt, out);
		return 0;
	case CLI_LB_VIEW_BACKENDS:
		format_backends(snap, fmt, out);
		return 0;
	case CLI_LB_VIEW_REVNAT:
		format_revnat(snap, fmt, out);
		return 0;
	}
	return -EINVAL;
}

/* ---------------------------------------------------------------- stats */

/* Up to three counters of one service port or backend, with their rates. */
struct counter_row {
	__u32 id;
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 state;
	__u8 scope; /* services: CAPSTAN_SCOPE_* */
	__u64 v[5];
	double rate[5];
};

/*
 * Service ports count socket connections and datagrams (internal view) and
 * north-south flows and packets (external view); backends the same but
 * refusals and packets.
 */
#define SVC_NCOLS 5
#define BE_NCOLS 3
static const char *const svc_cols[] = { "connections", "udp_msgs", "refused", "flows", "packets" };
static const char *const svc_heads[] = { "CONNECTIONS", "UDP MSGS", "REFUSED", "FLOWS", "PACKETS" };
static const char *const svc_rate_heads[] = { "CONN/S", "UDP/S", "REFUSED/S", "FLOWS/S", "PKTS/S" };
static const char *const be_cols[] = { "connections", "udp_msgs", "flows" };
static const char *const be_heads[] = { "CONNECTIONS", "UDP MSGS", "FLOWS" };
static const char *const be_rate_heads[] = { "CONN/S", "UDP/S", "FLOWS/S" };

static double rate_of(__u64 cur, __u64 prev, uint64_t elapsed_ns)
{
	/* A counter that went down was reset (the id was reused): count from zero. */
	__u64 delta = cur >= prev ? cur - prev : cur;

	return elapsed_ns ? (double)delta * 1e9 / (double)elapsed_ns : 0;
}

static void set_rates(struct counter_row *row, const __u64 *prev, int n, uint64_t elapsed_ns)
{
	for (int i = 0; i < n; i++)
		row->rate[i] = rate_of(row->v[i], prev[i], elapsed_ns);
}

/* The counters of one service port as an array (zeros when it has none). */
static void svc_values(const struct cli_lb_svc_count *c, __u64 v[SVC_NCOLS])
{
	v[0] = c ? c->c.connects : 0;
	v[1] = c ? c->c.udp_msgs : 0;
	v[2] = c ? c->c.refused : 0;
	v[3] = c ? c->c.flows : 0;
	v[4] = c ? c->c.packets : 0;
}

static void backend_values(const struct cli_lb_backend_count *c, __u64 v[BE_NCOLS])
{
	v[0] = c ? c->c.connects : 0;
	v[1] = c ? c->c.udp_msgs : 0;
	v[2] = c ? c->c.flows : 0;
}

/* One row per service port that has a slot 0, in address order. */
static size_t service_rows(const struct cli_lb_snapshot *cur, const struct cli_lb_snapshot *prev,
			   uint64_t elapsed_ns, struct counter_row **out)
{
	struct counter_row *rows = xcalloc(cur->n_svc + 1, sizeof(*rows));
	size_t n = 0;

	for (size_t i = 0; i < cur->n_svc; i++) {
		const struct cli_lb_svc_entry *e = &cur->svc[i];
		struct counter_row *row;
		__u64 pv[SVC_NCOLS];

		if (e->key.slot != 0)
			continue;
		row = &rows[n++];
		row->id = e->val.rev_nat_id;
		row->addr = e->key.addr;
		row->port = e->key.port;
		row->proto = e->key.proto;
		row->scope = e->key.scope;
		svc_values(cli_lb_snapshot_svc_count(cur, row->id), row->v);
		if (prev) {
			svc_values(cli_lb_snapshot_svc_count(prev, row->id), pv);
			set_rates(row, pv, SVC_NCOLS, elapsed_ns);
		}
	}
	*out = rows;
	return n;
}

/* One row per backend, in address order. */
static size_t backend_rows(const struct cli_lb_snapshot *cur, const struct cli_lb_snapshot *prev,
			   uint64_t elapsed_ns, struct counter_row **out)
{
	const struct cli_lb_backend_entry **bes;
	size_t n = backends_by_addr(cur, false, &bes);
	struct counter_row *rows = xcalloc(n + 1, sizeof(*rows));

	for (size_t i = 0; i < n; i++) {
		struct counter_row *row = &rows[i];
		__u64 pv[BE_NCOLS];

		row->id = bes[i]->id;
		row->state = bes[i]->be.state;
		row->addr = bes[i]->be.addr;
		row->port = bes[i]->be.port;
		row->proto = bes[i]->be.proto;
		backend_values(cli_lb_snapshot_backend_count(cur, row->id), row->v);
		if (prev) {
			backend_values(cli_lb_snapshot_backend_count(prev, row->id), pv);
			set_rates(row, pv, BE_NCOLS, elapsed_ns);
		}
	}
	free(bes);
	*out = rows;
	return n;
}

/* Local time of day, "12:00:01" or with micro "12:00:01.123456". */
static void fmt_clock(int64_t wall_ns, bool micro, char *buf, size_t len)
{
	time_t sec;
	struct tm tm;

	if (wall_ns < 0)
		wall_ns = 0;
	sec = (time_t)(wall_ns / 1000000000);
	localtime_r(&sec, &tm);
	if (micro)
		snprintf(buf, len, "%02d:%02d:%02d.%06ld", tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (long)(wall_ns % 1000000000 / 1000));
	else
		snprintf(buf, len, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void text_cells_head(struct buf *out, int n, bool rates, const char *const *heads,
			    const char *const *rate_heads)
{
	for (int i = 0; i < n; i++) {
		buf_appendf(out, " %12s", heads[i]);
		if (rates)
			buf_appendf(out, " %10s", rate_heads[i]);
	}
	buf_appendf(out, "\n");
}

static void text_cells(struct buf *out, const struct counter_row *row, int n, bool rates)
{
	for (int i = 0; i < n; i++) {
		buf_appendf(out, " %12llu", (unsigned long long)row->v[i]);
		if (rates)
			buf_appendf(out, " %10.1f", row->rate[i]);
	}
	buf_appendf(out, "\n");
}

/*
 * A table of counter rows: endpoint (" ext" marks a service port's external
 * view), id, then n counters (and their rates).
 */
static void text_table(struct buf *out, const char *what, const char *id,
		       const struct counter_row *rows, size_t n_rows, int n, bool rates,
		       const char *const *heads, const char *const *rate_heads)
{
	char ep[EP_LEN], col[EP_LEN + 8];

	buf_appendf(out, "%-24s %7s", what, id);
	text_cells_head(out, n, rates, heads, rate_heads);
	for (size_t i = 0; i < n_rows; i++) {
		snprintf(col, sizeof(col), "%s%s",
			 fmt_ep(ep, sizeof(ep), rows[i].addr, rows[i].port, rows[i].proto),
			 rows[i].scope == CAPSTAN_SCOPE_EXTERNAL ? " ext" : "");
		buf_appendf(out, "%-24s %7u", col, rows[i].id);
		text_cells(out, &rows[i], n, rates);
	}
}

struct totals {
	__u64 v[4]; /* connections, udp messages, refused, drops */
	double rate[4];
};

static void text_stats(const struct counter_row *svcs, size_t n_svcs, const struct counter_row *bes,
		       size_t n_bes, const __u64 *drops, const double *drop_rates,
		       const struct totals *t, bool rates, int64_t wall_ns, struct buf *out)
{
	char clock[32];

	if (wall_ns) {
		fmt_clock(wall_ns, false, clock, sizeof(clock));
		buf_appendf(out, "--- %s ---\n", clock);
	}
	text_table(out, "SERVICE", "REV-NAT", svcs, n_svcs, SVC_NCOLS, rates, svc_heads,
		   svc_rate_heads);
	buf_appendf(out, "\n");
	text_table(out, "BACKEND", "ID", bes, n_bes, BE_NCOLS, rates, be_heads, be_rate_heads);
	buf_appendf(out, "\n%-32s %12s%s\n", "DROP REASON", "COUNT", rates ? "     RATE/S" : "");
	for (unsigned int r = 1; r < CAPSTAN_DROP__MAX; r++) {
		buf_appendf(out, "%-32s %12llu", drop_names[r], (unsigned long long)drops[r]);
		if (rates)
			buf_appendf(out, " %10.1f", drop_rates[r]);
		buf_appendf(out, "\n");
	}
	buf_appendf(out, "\ntotal: %llu connections, %llu udp messages, %llu refused, %llu drops\n",
		    (unsigned long long)t->v[0], (unsigned long long)t->v[1],
		    (unsigned long long)t->v[2], (unsigned long long)t->v[3]);
	if (rates)
		buf_appendf(out,
			    "rate:  %.1f connections/s, %.1f udp messages/s, %.1f refused/s, "
			    "%.1f drops/s\n",
			    t->rate[0], t->rate[1], t->rate[2], t->rate[3]);
}

/* {"connections": N, ...} and, with rates, "rates": {...} on obj. */
static void json_counters(json_t *obj, const __u64 *v, const double *rate, int n, bool rates,
			  const char *const *names)
{
	json_t *r = rates ? json_object() : NULL;

	for (int i = 0; i < n; i++) {
		json_object_set_new(obj, names[i], json_integer((json_int_t)v[i]));
		if (r)
			json_object_set_new(r, names[i], json_real(rate[i]));
	}
	if (r)
		json_object_set_new(obj, "rates", r);
}

static void json_stats(const struct counter_row *svcs, size_t n_svcs, const struct counter_row *bes,
		       size_t n_bes, const __u64 *drops, const double *drop_rates,
		       const struct totals *t, bool rates, uint64_t elapsed_ns, int64_t wall_ns,
		       enum cli_lb_output fmt, struct buf *out)
{
	static const char *const total_cols[] = { "connections", "udp_msgs", "refused", "drops" };
	json_t *root = json_object(), *arr, *o;
	char when[KTIME_BUFSZ], st[16];

	if (wall_ns && ktime_format_micro(wall_ns, when, sizeof(when)) == 0)
		json_object_set_new(root, "time", json_string(when));
	if (rates)
		json_object_set_new(root, "interval_s", json_real((double)elapsed_ns / 1e9));
	arr = json_array();
	for (size_t i = 0; i < n_svcs; i++) {
		o = json_object();
		json_set_ep(o, svcs[i].addr, svcs[i].port, svcs[i].proto);
		json_object_set_new(o, "rev_nat_id", json_integer(svcs[i].id));
		json_object_set_new(o, "scope",
				    json_string(svcs[i].scope == CAPSTAN_SCOPE_EXTERNAL
							? "external"
							: "internal"));
		json_counters(o, svcs[i].v, svcs[i].rate, SVC_NCOLS, rates, svc_cols);
		json_array_append_new(arr, o);
	}
	json_object_set_new(root, "services", arr);
	arr = json_array();
	for (size_t i = 0; i < n_bes; i++) {
		o = json_object();
		json_object_set_new(o, "backend_id", json_integer(bes[i].id));
		json_set_ep(o, bes[i].addr, bes[i].port, bes[i].proto);
		json_object_set_new(o, "state",
				    json_string(state_name(bes[i].state, st, sizeof(st))));
		json_counters(o, bes[i].v, bes[i].rate, BE_NCOLS, rates, be_cols);
		json_array_append_new(arr, o);
	}
	json_object_set_new(root, "backends", arr);
	o = json_object();
	for (unsigned int r = 1; r < CAPSTAN_DROP__MAX; r++)
		json_object_set_new(o, drop_names[r], json_integer((json_int_t)drops[r]));
	json_object_set_new(root, "drops", o);
	if (rates) {
		o = json_object();
		for (unsigned int r = 1; r < CAPSTAN_DROP__MAX; r++)
			json_object_set_new(o, drop_names[r], json_real(drop_rates[r]));
		json_object_set_new(root, "drop_rates", o);
	}
	o = json_object();
	json_counters(o, t->v, t->rate, 4, rates, total_cols);
	json_object_set_new(root, "totals", o);
	json_emit(root, fmt, out);
}

int cli_lb_format_stats(struct cli_lb_snapshot *cur, struct cli_lb_snapshot *prev,
			uint64_t elapsed_ns, int64_t wall_ns, enum cli_lb_output fmt,
			struct buf *out)
{
	bool rates = prev && elapsed_ns > 0;
	struct counter_row *svcs, *bes;
	double drop_rates[CAPSTAN_DROP__MAX] = { 0 };
	struct totals t = { 0 };
	size_t n_svcs, n_bes;

	if (fmt != CLI_LB_OUT_TEXT && fmt != CLI_LB_OUT_JSON && fmt != CLI_LB_OUT_JSON_LINE)
		return -EINVAL;
	cli_lb_snapshot_sort(cur);
	if (prev)
		cli_lb_snapshot_sort(prev);
	n_svcs = service_rows(cur, rates ? prev : NULL, elapsed_ns, &svcs);
	n_bes = backend_rows(cur, rates ? prev : NULL, elapsed_ns, &bes);
	for (size_t i = 0; i < n_svcs; i++)
		for (int c = 0; c < 3; c++) {
			t.v[c] += svcs[i].v[c];
			t.rate[c] += svcs[i].rate[c];
		}
	for (unsigned int r = 1; r < CAPSTAN_DROP__MAX; r++) {
		t.v[3] += cur->drops[r];
		if (rates)
			drop_rates[r] = rate_of(cur->drops[r], prev->drops[r], elapsed_ns);
		t.rate[3] += drop_rates[r];
	}
	if (fmt == CLI_LB_OUT_TEXT)
		text_stats(svcs, n_svcs, bes, n_bes, cur->drops, drop_rates, &t, rates, wall_ns,
			   out);
	else
		json_stats(svcs, n_svcs, bes, n_bes, cur->drops, drop_rates, &t, rates, elapsed_ns,
			   wall_ns, fmt, out);
	free(svcs);
	free(bes);
	return 0;
}

/* ---------------------------------------------------------------- events */

static const char *hook_name(__u8 hook, char *buf, size_t len)
{
	if (hook < ARRAY_SIZE(hook_names) && hook_names[hook])
		return hook_names[hook];
	snprintf(buf, len, "hook%u", hook);
	return buf;
}

/* The north-south programs see packets from a client, not sockets. */
static bool hook_is_packet(__u8 hook)
{
	return hook == CAPSTAN_HOOK_TC_INGRESS || hook == CAPSTAN_HOOK_TC_EGRESS ||
	       hook == CAPSTAN_HOOK_XDP;
}

/* recvmsg and getpeername translate a reply back: the service comes from the backend. */
static bool hook_is_reverse(__u8 hook)
{
	return hook == CAPSTAN_HOOK_RECVMSG4 || hook == CAPSTAN_HOOK_GETPEERNAME4 ||
	       hook == CAPSTAN_HOOK_RECVMSG6 || hook == CAPSTAN_HOOK_GETPEERNAME6;
}

static const char *drop_label(__u8 drop, char *buf, size_t len)
{
	const char *name = cli_lb_drop_name(drop);

	if (name)
		return name;
	snprintf(buf, len, "drop%u", drop);
	return buf;
}

static void json_event(const struct capstan_event *ev, int64_t wall_ns, struct buf *out)
{
	json_t *o = json_object();
	char when[KTIME_BUFSZ], a[INET_ADDRSTRLEN], h[16], p[16], d[16];

	if (ktime_format_micro(wall_ns, when, sizeof(when)) == 0)
		json_object_set_new(o, "time", json_string(when));
	json_object_set_new(o, "ts_ns", json_integer((json_int_t)ev->ts_ns));
	json_object_set_new(o, "hook", json_string(hook_name(ev->hook, h, sizeof(h))));
	json_object_set_new(o, "protocol", json_string(proto_name(ev->proto, false, p, sizeof(p))));
	fmt_addr(a, sizeof(a), ev->svc_addr);
	json_object_set_new(o, "service_address", json_string(a));
	json_object_set_new(o, "service_port", json_integer(ntohs(ev->svc_port)));
	json_object_set_new(o, "rev_nat_id", json_integer(ev->rev_nat_id));
	if (ev->drop) {
		json_object_set_new(o, "verdict", json_string("refused"));
		json_object_set_new(o, "drop", json_string(drop_label(ev->drop, d, sizeof(d))));
	} else {
		json_object_set_new(o, "verdict", json_string("translated"));
		fmt_addr(a, sizeof(a), ev->be_addr);
		json_object_set_new(o, "backend_address", json_string(a));
		json_object_set_new(o, "backend_port", json_integer(ntohs(ev->be_port)));
		json_object_set_new(o, "backend_id", json_integer(ev->backend_id));
	}
	if (hook_is_packet(ev->hook)) {
		fmt_addr(a, sizeof(a), ev->client_addr);
		json_object_set_new(o, "client_address", json_string(a));
		json_object_set_new(o, "client_port", json_integer(ntohs(ev->client_port)));
	} else {
		json_object_set_new(o, "netns", json_integer((json_int_t)ev->netns));
		json_object_set_new(o, "cookie", json_integer((json_int_t)ev->cookie));
	}
	json_emit(o, CLI_LB_OUT_JSON_LINE, out);
}

int cli_lb_format_event(const void *data, size_t len, int64_t wall_offset_ns,
			enum cli_lb_output fmt, struct buf *out)
{
	struct capstan_event ev;
	char clock[32], svc[INET_ADDRSTRLEN], be[INET_ADDRSTRLEN], h[16], p[16], d[16];
	int64_t wall_ns;

	if (fmt != CLI_LB_OUT_TEXT && fmt != CLI_LB_OUT_JSON && fmt != CLI_LB_OUT_JSON_LINE)
		return -EINVAL;
	if (!data || len < sizeof(ev)) {
		if (fmt == CLI_LB_OUT_TEXT)
			buf_appendf(out, "short event record: %zu bytes, expected %zu\n", len,
				    sizeof(ev));
		else
			buf_appendf(out, "{\"error\":\"short event record\",\"bytes\":%zu}\n", len);
		return -EINVAL;
	}
	memcpy(&ev, data, sizeof(ev));
	wall_ns = (int64_t)ev.ts_ns + wall_offset_ns;
	if (fmt != CLI_LB_OUT_TEXT) {
		json_event(&ev, wall_ns, out);
		return 0;
	}
	fmt_clock(wall_ns, true, clock, sizeof(clock));
	fmt_addr(svc, sizeof(svc), ev.svc_addr);
	buf_appendf(out, "%s %s %s %s:%u", clock, hook_name(ev.hook, h, sizeof(h)),
		    proto_name(ev.proto, false, p, sizeof(p)), svc, ntohs(ev.svc_port));
	if (ev.drop) {
		buf_appendf(out, " refused: %s", drop_label(ev.drop, d, sizeof(d)));
	} else {
		fmt_addr(be, sizeof(be), ev.be_addr);
		buf_appendf(out, " %s %s:%u backend %u", hook_is_reverse(ev.hook) ? "<-" : "->", be,
			    ntohs(ev.be_port), ev.backend_id);
	}
	if (hook_is_packet(ev.hook)) {
		fmt_addr(be, sizeof(be), ev.client_addr);
		buf_appendf(out, " client %s:%u\n", be, ntohs(ev.client_port));
	} else {
		buf_appendf(out, " netns %llu\n", (unsigned long long)ev.netns);
	}
	return 0;
}
