/*
 * tables.c - server-side printing: meta.k8s.io/v1 Table columns and cells.
 *
 * kubectl prints a Table verbatim (column names upper-cased, priority-1
 * columns only with -o wide), so every column name, type and cell value here
 * follows what upstream's printers (pkg/printers/internalversion, 1.32)
 * produce, including their quirks: the pod STATUS decision order, RESTARTS as
 * a string "3 (2m ago)", integer cells in columns declared "string" (Data,
 * Up-to-date, Count), "<none>" / "<pending>" / "<unset>" placeholders, and
 * HumanDuration's uneven precision ("3m5s" but "15m", "5h3m" but "9h").
 * Upstream's server always prints the wide form and lets kubectl drop the
 * priority-1 columns, so every row carries all of its cells here too.
 *
 * The rules are written against the JSON object, not a decoded struct: each
 * resource is one row function reading fields through jsonx getters, so an
 * absent status, a field of the wrong type or a malformed timestamp gives the
 * empty value upstream's zero value would print, never a crash. Fields the
 * API server defaults on create (pod phase, namespace phase, service type,
 * port protocol, secret type, deployment and replica set replicas) are read
 * with that default, so an object stored without them prints as upstream
 * would print it after defaulting.
 *
 * Rejected: a generic JSONPath column table (as CRD printer columns do). The
 * built-in printers compute most cells (pod status, node roles, external IPs)
 * and a column language expressive enough for them would be harder to read
 * than the few functions below.
 */
#include "control/apiserver/tables.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "ktime.h"
#include "selector.h"
#include "util.h"

#define NS_PER_SEC 1000000000LL
#define AGE_BUFSZ 32

/* ------------------------------------------------------------------ small helpers */

/* A list of borrowed strings, for the sorted sets upstream builds (roles, LB ingress). */
struct strlist {
	const char **v;
	size_t n;
	size_t cap;
};

static void strlist_push(struct strlist *l, const char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = s;
}

static int strlist_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sort by bytes and drop duplicates: Go's sets.String List(). */
static void strlist_sort_unique(struct strlist *l)
{
	size_t i, out = 0;

	if (l->n == 0)
		return;
	qsort(l->v, l->n, sizeof(*l->v), strlist_cmp);
	for (i = 1; i < l->n; i++)
		if (strcmp(l->v[i], l->v[out]) != 0)
			l->v[++out] = l->v[i];
	l->n = out + 1;
}

static void strlist_join(const struct strlist *l, const char *sep, struct buf *out)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		buf_appendf(out, "%s%s", i ? sep : "", l->v[i]);
}

static void strlist_free(struct strlist *l)
{
	free(l->v);
	*l = (struct strlist){ 0 };
}

/* Non-empty string elements of arr, in order. */
static void strlist_from_array(struct strlist *l, const json_t *arr)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && json_string_length(v) > 0)
			strlist_push(l, json_string_value(v));
}

/* "" when the buffer was never written to. */
static const char *buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}

/*
 * Append a string cell. A string jansson refuses (not UTF-8, only possible for
 * objects built with the _nocheck calls) becomes null, so the row keeps one
 * cell per column.
 */
static void cell_str(json_t *cells, const char *s)
{
	json_t *v = json_string(s ? s : "");

	json_array_append_new(cells, v ? v : json_null());
}

static void cell_int(json_t *cells, long long v)
{
	json_array_append_new(cells, json_integer(v));
}

static void cell_buf(json_t *cells, const struct buf *b)
{
	cell_str(cells, buf_str(b));
}

/* a - b without overflow: instants far apart saturate instead of wrapping. */
static int64_t sub_sat(int64_t a, int64_t b)
{
	int64_t d;

	if (__builtin_sub_overflow(a, b, &d))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return d;
}

/*
 * Parse a metav1.Time / MicroTime string. False for absent, wrong type or
 * unparsable values: those are Go's zero time, which upstream prints as
 * "<unknown>" (the year-1 zero value itself is outside ktime's range too).
 */
static bool time_parse(const char *s, int64_t *ns)
{
	return s && *s && ktime_parse(s, ns) == 0;
}

/* translateTimestampSince: "<unknown>" for a zero time, else HumanDuration(now - ts). */
static void format_since(const char *ts, int64_t now_ns, char *buf, size_t len)
{
	int64_t t;

	if (!time_parse(ts, &t))
		snprintf(buf, len, "<unknown>");
	else
		table_human_duration(sub_sat(now_ns, t), buf, len);
}

static void cell_since(json_t *cells, const char *ts, int64_t now_ns)
{
	char age[AGE_BUFSZ];

	format_since(ts, now_ns, age, sizeof(age));
	cell_str(cells, age);
}

static void cell_age(json_t *cells, const json_t *obj, int64_t now_ns)
{
	cell_since(cells, jsonx_path_str(obj, "metadata.creationTimestamp", NULL), now_ns);
}

static const char *obj_name(const json_t *obj)
{
	return jsonx_path_str(obj, "metadata.name", "");
}

/* deletionTimestamp set: Go checks the pointer, so any non-empty value counts. */
static bool obj_is_deleting(const json_t *obj)
{
	return *jsonx_path_str(obj, "metadata.deletionTimestamp", "") != '\0';
}

/* labels.FormatLabels: "k1=v1,k2=v2" sorted by key, "<none>" when empty. */
static void format_labels(const json_t *map, struct buf *out)
{
	struct strlist keys = { 0 };
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_object(map)) {
		json_object_foreach((json_t *)map, key, v)
			if (json_is_string(v))
				strlist_push(&keys, key);
	}
	strlist_sort_unique(&keys);
	for (i = 0; i < keys.n; i++)
		buf_appendf(out, "%s%s=%s", i ? "," : "", keys.v[i], jsonx_str(map, keys.v[i], ""));
	if (keys.n == 0)
		buf_appendf(out, "<none>");
	strlist_free(&keys);
}

/*
 * A metav1.LabelSelector as labels.Selector.String() prints it
 * (LabelSelectorAsSelector semantics: absent selects nothing and prints "").
 * on_error replaces a selector that does not convert; on_empty an empty
 * string (metav1.FormatLabelSelector uses "<error>" and "<none>", the
 * deployment printer "<invalid>" and "").
 */
static void format_label_selector(const json_t *sel, const char *on_error, const char *on_empty,
				  struct buf *out)
{
	struct selector *s = NULL;
	char err[128];
	size_t start = out->len;

	if (selector_from_json(sel, &s, err, sizeof(err)) != 0) {
		buf_appendf(out, "%s", on_error);
		return;
	}
	selector_string(s, out);
	if (out->len == start)
		buf_appendf(out, "%s", on_empty);
	selector_free(s);
}

/* layoutContainerCells: names and images of the template's containers, comma-joined. */
static void cells_containers(json_t *cells, const json_t *pod_spec)
{
	struct buf names = { 0 }, images = { 0 };
	json_t *c;
	size_t i;

	json_array_foreach(jsonx_arr(pod_spec, "containers"), i, c) {
		buf_appendf(&names, "%s%s", i ? "," : "", jsonx_str(c, "name", ""));
		buf_appendf(&images, "%s%s", i ? "," : "", jsonx_str(c, "image", ""));
	}
	cell_buf(cells, &names);
	cell_buf(cells, &images);
	buf_free(&names);
	buf_free(&images);
}

/* The first condition of the given type in conds, or NULL. */
static const json_t *condition_first(const json_t *conds, const char *type)
{
	json_t *c;
	size_t i;

	json_array_foreach(conds, i, c)
		if (strcmp(jsonx_str(c, "type", ""), type) == 0)
			return c;
	return NULL;
}

static bool condition_is_true(const json_t *cond)
{
	return cond && strcmp(jsonx_str(cond, "status", ""), "True") == 0;
}

/* ------------------------------------------------------------------ pods */

/* The latest lastState.terminated.finishedAt seen: when the pod last restarted. */
struct restart_clock {
	bool set;
	int64_t at;
};

static void restart_clock_note(struct restart_clock *c, const json_t *ctr_status)
{
	int64_t t;

	if (!time_parse(jsonx_path_str(ctr_status, "lastState.terminated.finishedAt", NULL), &t))
		return;
	if (!c->set || c->at < t)
		*c = (struct restart_clock){ .set = true, .at = t };
}

struct pod_summary {
	struct buf reason;
	long long restarts;
	long long ready;
	long long total;
	struct restart_clock last_restart;
};

static void pod_set_reason(struct pod_summary *s, const char *prefix, const char *text)
{
	buf_reset(&s->reason);
	buf_appendf(&s->reason, "%s%s", prefix, text);
}

/* A terminated container's reason, else Signal:N or ExitCode:N. */
static void pod_set_terminated_reason(struct pod_summary *s, const char *prefix, const json_t *term)
{
	const char *why = jsonx_str(term, "reason", "");
	long long signal = jsonx_int(term, "signal", 0);

	buf_reset(&s->reason);
	if (*why)
		buf_appendf(&s->reason, "%s%s", prefix, why);
	else if (signal != 0)
		buf_appendf(&s->reason, "%sSignal:%lld", prefix, signal);
	else
		buf_appendf(&s->reason, "%sExitCode:%lld", prefix, jsonx_int(term, "exitCode", 0));
}

/* A sidecar: an init container with restartPolicy Always (found by name in spec). */
static bool pod_init_is_restartable(const json_t *spec, const char *name)
{
	json_t *c;
	size_t i;

	json_array_foreach(jsonx_arr(spec, "initContainers"), i, c)
		if (strcmp(jsonx_str(c, "name", ""), name) == 0)
			return strcmp(jsonx_str(c, "restartPolicy", ""), "Always") == 0;
	return false;
}

/*
 * Walk init container statuses in order until the first one that is neither
 * done (exit 0) nor a started sidecar; that one names the status
 * ("Init:ErrImagePull", "Init:1/3", ...). Returns true when the pod is still
 * initializing. Sidecar restarts are summed apart: they keep counting once
 * the pod has started.
 */
static bool pod_walk_init(const json_t *spec, const json_t *status, struct pod_summary *s,
			  long long *sidecar_restarts, struct restart_clock *sidecar_clock)
{
	size_t ninit = json_array_size(jsonx_arr(spec, "initContainers"));
	json_t *c;
	size_t i;

	json_array_foreach(jsonx_arr(status, "initContainerStatuses"), i, c) {
		bool sidecar = pod_init_is_restartable(spec, jsonx_str(c, "name", ""));
		json_t *term = jsonx_getv(c, "state", "terminated", NULL);
		json_t *wait = jsonx_getv(c, "state", "waiting", NULL);
		long long restarts = jsonx_int(c, "restartCount", 0);
		const char *why = jsonx_str(wait, "reason", "");

		if (!json_is_object(term))
			term = NULL;
		if (!json_is_object(wait))
			wait = NULL;
		s->restarts += restarts;
		restart_clock_note(&s->last_restart, c);
		if (sidecar) {
			*sidecar_restarts += restarts;
			restart_clock_note(sidecar_clock, c);
		}
		if (term && jsonx_int(term, "exitCode", 0) == 0)
			continue;
		if (sidecar && jsonx_bool(c, "started", false)) {
			if (jsonx_bool(c, "ready", false))
				s->ready++;
			continue;
		}
		if (term) {
			pod_set_terminated_reason(s, "Init:", term);
		} else if (wait && *why && strcmp(why, "PodInitializing") != 0) {
			pod_set_reason(s, "Init:", why);
		} else {
			buf_reset(&s->reason);
			buf_appendf(&s->reason, "Init:%zu/%zu", i, ninit);
		}
		return true;
	}
	return false;
}

/*
 * Regular containers, last to first as upstream walks them, so the first
 * container's waiting or terminated reason wins. Returns true when at least
 * one container is running and ready.
 */
static bool pod_walk_containers(const json_t *status, struct pod_summary *s)
{
	json_t *arr = jsonx_arr(status, "containerStatuses");
	bool running = false;
	size_t i;

	for (i = json_array_size(arr); i-- > 0;) {
		json_t *c = json_array_get(arr, i);
		json_t *wait = jsonx_getv(c, "state", "waiting", NULL);
		json_t *term = jsonx_getv(c, "state", "terminated", NULL);
		json_t *run = jsonx_getv(c, "state", "running", NULL);

		s->restarts += jsonx_int(c, "restartCount", 0);
		restart_clock_note(&s->last_restart, c);
		if (json_is_object(wait) && *jsonx_str(wait, "reason", "")) {
			pod_set_reason(s, "", jsonx_str(wait, "reason", ""));
		} else if (json_is_object(term)) {
			pod_set_terminated_reason(s, "", term);
		} else if (jsonx_bool(c, "ready", false) && json_is_object(run)) {
			running = true;
			s->ready++;
		}
	}
	return running;
}

static void pod_cell_readiness_gates(json_t *cells, const json_t *spec, const json_t *status)
{
	json_t *gates = jsonx_arr(spec, "readinessGates");
	json_t *conds = jsonx_arr(status, "conditions");
	size_t i, n = json_array_size(gates), passed = 0;
	json_t *g;
	char out[48];

	if (n == 0) {
		cell_str(cells, "<none>");
		return;
	}
	json_array_foreach(gates, i, g)
		if (condition_is_true(condition_first(conds, jsonx_str(g, "conditionType", ""))))
			passed++;
	snprintf(out, sizeof(out), "%zu/%zu", passed, n);
	cell_str(cells, out);
}

static const char *or_none(const char *s)
{
	return s && *s ? s : "<none>";
}

static void pod_row(json_t *cells, const json_t *pod, int64_t now_ns)
{
	const json_t *spec = jsonx_obj(pod, "spec"), *status = jsonx_obj(pod, "status");
	const char *phase = jsonx_str(status, "phase", "Pending");
	const char *status_reason = jsonx_str(status, "reason", "");
	const char *ip = jsonx_str(status, "podIP", "");
	struct pod_summary s = { 0 };
	struct restart_clock sidecar_clock = { 0 };
	long long sidecar_restarts = 0;
	json_t *c;
	size_t i;
	char text[AGE_BUFSZ + 48];

	buf_appendf(&s.reason, "%s", *status_reason ? status_reason : phase);
	json_array_foreach(jsonx_arr(status, "conditions"), i, c)
		if (strcmp(jsonx_str(c, "type", ""), "PodScheduled") == 0 &&
		    strcmp(jsonx_str(c, "reason", ""), "SchedulingGated") == 0)
			pod_set_reason(&s, "", "SchedulingGated");

	s.total = (long long)json_array_size(jsonx_arr(spec, "containers"));
	json_array_foreach(jsonx_arr(spec, "initContainers"), i, c)
		if (strcmp(jsonx_str(c, "restartPolicy", ""), "Always") == 0)
			s.total++;

	if (!pod_walk_init(spec, status, &s, &sidecar_restarts, &sidecar_clock) ||
	    condition_is_true(condition_first(jsonx_arr(status, "conditions"), "Initialized"))) {
		/* Once initialized, only sidecar restarts still count from init containers. */
		s.restarts = sidecar_restarts;
		s.last_restart = sidecar_clock;
		if (pod_walk_containers(status, &s) &&
		    strcmp(buf_str(&s.reason), "Completed") == 0) {
			bool ready = false;

			json_array_foreach(jsonx_arr(status, "conditions"), i, c)
				ready |= strcmp(jsonx_str(c, "type", ""), "Ready") == 0 &&
					 condition_is_true(c);
			pod_set_reason(&s, "", ready ? "Running" : "NotReady");
		}
	}

	if (obj_is_deleting(pod) && strcmp(status_reason, "NodeLost") == 0)
		pod_set_reason(&s, "", "Unknown");
	else if (obj_is_deleting(pod) && strcmp(phase, "Succeeded") != 0 &&
		 strcmp(phase, "Failed") != 0)
		pod_set_reason(&s, "", "Terminating");

	cell_str(cells, obj_name(pod));
	snprintf(text, sizeof(text), "%lld/%lld", s.ready, s.total);
	cell_str(cells, text);
	cell_buf(cells, &s.reason);
	if (s.restarts != 0 && s.last_restart.set) {
		char ago[AGE_BUFSZ];

		table_human_duration(sub_sat(now_ns, s.last_restart.at), ago, sizeof(ago));
		snprintf(text, sizeof(text), "%lld (%s ago)", s.restarts, ago);
	} else {
		snprintf(text, sizeof(text), "%lld", s.restarts);
	}
	cell_str(cells, text);
	cell_age(cells, pod, now_ns);

	/* status.podIP wins over podIPs[0] when both are set, as v1 conversion decides. */
	if (!*ip)
		ip = jsonx_path_str(status, "podIPs[0].ip", "");
	cell_str(cells, or_none(ip));
	cell_str(cells, or_none(jsonx_str(spec, "nodeName", "")));
	cell_str(cells, or_none(jsonx_str(status, "nominatedNodeName", "")));
	pod_cell_readiness_gates(cells, spec, status);
	buf_free(&s.reason);
}

/* ------------------------------------------------------------------ services, endpoints */

/* The load balancer's ingress points (IP, else hostname), sorted and unique. */
static void service_lb_ingress(const json_t *status, struct strlist *out)
{
	json_t *ing;
	size_t i;

	json_array_foreach(jsonx_getv(status, "loadBalancer", "ingress", NULL), i, ing) {
		const char *ip = jsonx_str(ing, "ip", ""), *host = jsonx_str(ing, "hostname", "");

		if (*ip)
			strlist_push(out, ip);
		else if (*host)
			strlist_push(out, host);
	}
	strlist_sort_unique(out);
}

static void service_external_ip(const json_t *svc, const char *type, struct buf *out)
{
	const json_t *spec = jsonx_obj(svc, "spec");
	struct strlist ips = { 0 };

	if (strcmp(type, "ExternalName") == 0) {
		buf_appendf(out, "%s", jsonx_str(spec, "externalName", ""));
		return;
	}
	if (strcmp(type, "LoadBalancer") == 0) {
		/* Ingress points first, then spec.externalIPs; nothing yet means pending. */
		service_lb_ingress(jsonx_obj(svc, "status"), &ips);
		strlist_from_array(&ips, jsonx_arr(spec, "externalIPs"));
		if (ips.n == 0)
			buf_appendf(out, "<pending>");
	} else if (strcmp(type, "ClusterIP") == 0 || strcmp(type, "NodePort") == 0) {
		strlist_from_array(&ips, jsonx_arr(spec, "externalIPs"));
		if (ips.n == 0)
			buf_appendf(out, "<none>");
	} else {
		buf_appendf(out, "<unknown>");
	}
	strlist_join(&ips, ",", out);
	strlist_free(&ips);
}

static void service_row(json_t *cells, const json_t *svc, int64_t now_ns)
{
	const json_t *spec = jsonx_obj(svc, "spec");
	const char *type = jsonx_str(spec, "type", "");
	const char *cluster_ip = jsonx_str(spec, "clusterIP", "");
	struct buf b = { 0 };
	json_t *p;
	size_t i;

	if (!*type)
		type = "ClusterIP";
	if (!*cluster_ip)
		cluster_ip = jsonx_path_str(spec, "clusterIPs[0]", "");
	cell_str(cells, obj_name(svc));
	cell_str(cells, type);
	cell_str(cells, or_none(cluster_ip));
	service_external_ip(svc, type, &b);
	cell_buf(cells, &b);

	buf_reset(&b);
	json_array_foreach(jsonx_arr(spec, "ports"), i, p) {
		const char *proto = jsonx_str(p, "protocol", "");
		long long node_port = jsonx_int(p, "nodePort", 0);

		buf_appendf(&b, "%s%lld", i ? "," : "", jsonx_int(p, "port", 0));
		if (node_port > 0)
			buf_appendf(&b, ":%lld", node_port);
		buf_appendf(&b, "/%s", *proto ? proto : "TCP");
	}
	cell_str(cells, or_none(buf_str(&b)));
	cell_age(cells, svc, now_ns);
	buf_reset(&b);
	format_labels(jsonx_obj(spec, "selector"), &b);
	cell_buf(cells, &b);
	buf_free(&b);
}

/*
 * Shows at most this many addresses, then " + N more..." for the rest
 * (Endpoints, EndpointSlice addresses and ports).
 */
#define LIST_MAX 3

struct capped_list {
	struct buf text;
	size_t shown;
	size_t count;
};

/* Count one more item; true when it is to be shown (its separator is then written). */
static bool capped_next(struct capped_list *l)
{
	l->count++;
	if (l->shown == LIST_MAX)
		return false;
	if (l->shown++)
		buf_appendf(&l->text, ",");
	return true;
}

static void capped_cell(json_t *cells, struct capped_list *l, const char *if_empty)
{
	if (l->count > LIST_MAX)
		buf_appendf(&l->text, " + %zu more...", l->count - LIST_MAX);
	else if (l->count == 0 && if_empty)
		buf_appendf(&l->text, "%s", if_empty);
	cell_buf(cells, &l->text);
	buf_free(&l->text);
}

/* ip:port, with IPv6 addresses bracketed as net.JoinHostPort does. */
static void endpoints_add(struct capped_list *l, const char *ip, long long port)
{
	if (!capped_next(l))
		return;
	if (strchr(ip, ':'))
		buf_appendf(&l->text, "[%s]:%lld", ip, port);
	else
		buf_appendf(&l->text, "%s:%lld", ip, port);
}

static void endpoints_row(json_t *cells, const json_t *ep, int64_t now_ns)
{
	json_t *subsets = jsonx_arr(ep, "subsets");
	struct capped_list l = { 0 };
	json_t *ss, *port, *addr;
	size_t i, j, k;

	cell_str(cells, obj_name(ep));
	json_array_foreach(subsets, i, ss) {
		json_t *addrs = jsonx_arr(ss, "addresses");
		json_t *ports = jsonx_arr(ss, "ports");

		/* Headless services may have no ports: list bare IPs. */
		if (json_array_size(ports) == 0) {
			json_array_foreach(addrs, k, addr)
				if (capped_next(&l))
					buf_appendf(&l.text, "%s", jsonx_str(addr, "ip", ""));
			continue;
		}
		json_array_foreach(ports, j, port)
			json_array_foreach(addrs, k, addr)
				endpoints_add(&l, jsonx_str(addr, "ip", ""),
					      jsonx_int(port, "port", 0));
	}
	/* No subsets at all is "<none>"; subsets without ready addresses print "". */
	capped_cell(cells, &l, json_array_size(subsets) ? NULL : "<none>");
	cell_age(cells, ep, now_ns);
}

static void endpointslice_row(json_t *cells, const json_t *eps, int64_t now_ns)
{
	struct capped_list ports = { 0 }, addrs = { 0 };
	json_t *p, *e, *a;
	size_t i, j;

	cell_str(cells, obj_name(eps));
	cell_str(cells, jsonx_str(eps, "addressType", ""));
	json_array_foreach(jsonx_arr(eps, "ports"), i, p) {
		json_t *num = json_object_get(p, "port");

		if (!capped_next(&ports))
			continue;
		if (json_is_integer(num))
			buf_appendf(&ports.text, "%lld", json_integer_value(num));
		else
			buf_appendf(&ports.text, "%s", jsonx_str(p, "name", "*"));
	}
	capped_cell(cells, &ports, "<unset>");
	json_array_foreach(jsonx_arr(eps, "endpoints"), i, e)
		json_array_foreach(jsonx_arr(e, "addresses"), j, a)
			if (json_is_string(a) && capped_next(&addrs))
				buf_appendf(&addrs.text, "%s", json_string_value(a));
	capped_cell(cells, &addrs, "<unset>");
	cell_age(cells, eps, now_ns);
}

/* ------------------------------------------------------------------ nodes, namespaces */

#define NODE_ROLE_PREFIX "node-role.kubernetes.io/"

static void node_row(json_t *cells, const json_t *node, int64_t now_ns)
{
	const json_t *status = jsonx_obj(node, "status");
	const json_t *info = jsonx_obj(status, "nodeInfo");
	const json_t *ready = NULL, *c, *addr;
	struct strlist roles = { 0 };
	struct buf b = { 0 };
	const char *key, *types[] = { "InternalIP", "ExternalIP" };
	const char *info_keys[] = { "osImage", "kernelVersion", "containerRuntimeVersion" };
	json_t *v;
	size_t i, t;

	cell_str(cells, obj_name(node));
	/* The last Ready condition wins; Unknown status still prints NotReady. */
	json_array_foreach(jsonx_arr(status, "conditions"), i, c)
		if (strcmp(jsonx_str(c, "type", ""), "Ready") == 0)
			ready = c;
	buf_appendf(&b, "%s", !ready ? "Unknown" : condition_is_true(ready) ? "Ready" : "NotReady");
	if (jsonx_path_bool(node, "spec.unschedulable", false))
		buf_appendf(&b, ",SchedulingDisabled");
	cell_buf(cells, &b);

	json_object_foreach(jsonx_getv(node, "metadata", "labels", NULL), key, v) {
		if (strncmp(key, NODE_ROLE_PREFIX, strlen(NODE_ROLE_PREFIX)) == 0 &&
		    key[strlen(NODE_ROLE_PREFIX)])
			strlist_push(&roles, key + strlen(NODE_ROLE_PREFIX));
		else if (strcmp(key, "kubernetes.io/role") == 0 && json_is_string(v) &&
			 json_string_length(v) > 0)
			strlist_push(&roles, json_string_value(v));
	}
	strlist_sort_unique(&roles);
	buf_reset(&b);
	strlist_join(&roles, ",", &b);
	cell_str(cells, or_none(buf_str(&b)));
	strlist_free(&roles);
	buf_free(&b);

	cell_age(cells, node, now_ns);
	cell_str(cells, jsonx_str(info, "kubeletVersion", ""));
	for (t = 0; t < ARRAY_SIZE(types); t++) {
		const char *found = NULL;

		json_array_foreach(jsonx_arr(status, "addresses"), i, addr)
			if (!found && strcmp(jsonx_str(addr, "type", ""), types[t]) == 0)
				found = jsonx_str(addr, "address", "");
		cell_str(cells, found ? found : "<none>");
	}
	for (t = 0; t < ARRAY_SIZE(info_keys); t++) {
		const char *s = jsonx_str(info, info_keys[t], "");

		cell_str(cells, *s ? s : "<unknown>");
	}
}

static void namespace_row(json_t *cells, const json_t *ns, int64_t now_ns)
{
	cell_str(cells, obj_name(ns));
	cell_str(cells, jsonx_path_str(ns, "status.phase", "Active"));
	cell_age(cells, ns, now_ns);
}

/* ------------------------------------------------------------------ events */

/* strings.TrimSpace, for the ASCII white space event messages carry. */
static void append_trimmed(struct buf *out, const char *s)
{
	size_t n;

	while (*s && isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	buf_append(out, s, n);
}

static void event_row(json_t *cells, const json_t *ev, int64_t now_ns)
{
	const json_t *involved = jsonx_obj(ev, "involvedObject");
	const json_t *series = jsonx_obj(ev, "series");
	const char *kind = jsonx_str(involved, "kind", ""), *name = jsonx_str(involved, "name", "");
	const char *component = jsonx_path_str(ev, "source.component", "");
	const char *host = jsonx_path_str(ev, "source.host", "");
	const char *first_ts = jsonx_str(ev, "firstTimestamp", NULL);
	const char *last_ts = jsonx_str(ev, "lastTimestamp", NULL);
	char first[AGE_BUFSZ], last[AGE_BUFSZ];
	long long count = jsonx_int(ev, "count", 0);
	struct buf b = { 0 };
	int64_t t;
	size_t i;

	/* Events of the events.k8s.io API only carry eventTime and series. */
	if (!time_parse(first_ts, &t))
		first_ts = jsonx_str(ev, "eventTime", NULL);
	format_since(first_ts, now_ns, first, sizeof(first));
	if (time_parse(last_ts, &t))
		format_since(last_ts, now_ns, last, sizeof(last));
	else
		snprintf(last, sizeof(last), "%s", first);
	if (series) {
		format_since(jsonx_str(series, "lastObservedTime", NULL), now_ns, last,
			     sizeof(last));
		count = jsonx_int(series, "count", 0);
	} else if (count == 0) {
		count = 1;
	}

	cell_str(cells, last);
	cell_str(cells, jsonx_str(ev, "type", ""));
	cell_str(cells, jsonx_str(ev, "reason", ""));
	for (i = 0; kind[i]; i++)
		buf_appendf(&b, "%c", tolower((unsigned char)kind[i]));
	if (*name)
		buf_appendf(&b, "/%s", name);
	cell_buf(cells, &b);
	cell_str(cells, jsonx_str(involved, "fieldPath", ""));

	/* Source: component (or reportingController), then ", host" (or reportingInstance). */
	buf_reset(&b);
	if (!*component)
		component = jsonx_str(ev, "reportingController", "");
	if (!*host)
		host = jsonx_str(ev, "reportingInstance", "");
	buf_appendf(&b, "%s", component);
	if (*host)
		buf_appendf(&b, ", %s", host);
	cell_buf(cells, &b);

	buf_reset(&b);
	append_trimmed(&b, jsonx_str(ev, "message", ""));
	cell_buf(cells, &b);
	cell_str(cells, first);
	cell_int(cells, count);
	cell_str(cells, obj_name(ev));
	buf_free(&b);
}

/* ------------------------------------------------------------------ config and identity */

static size_t object_size(const json_t *obj, const char *key)
{
	return json_object_size(jsonx_obj(obj, key));
}

static void configmap_row(json_t *cells, const json_t *cm, int64_t now_ns)
{
	cell_str(cells, obj_name(cm));
	cell_int(cells, (long long)(object_size(cm, "data") + object_size(cm, "binaryData")));
	cell_age(cells, cm, now_ns);
}

static void secret_row(json_t *cells, const json_t *secret, int64_t now_ns)
{
	const char *type = jsonx_str(secret, "type", "");

	cell_str(cells, obj_name(secret));
	cell_str(cells, *type ? type : "Opaque");
	cell_int(cells, (long long)object_size(secret, "data"));
	cell_age(cells, secret, now_ns);
}

static void serviceaccount_row(json_t *cells, const json_t *sa, int64_t now_ns)
{
	cell_str(cells, obj_name(sa));
	cell_int(cells, (long long)json_array_size(jsonx_arr(sa, "secrets")));
	cell_age(cells, sa, now_ns);
}

static void lease_row(json_t *cells, const json_t *lease, int64_t now_ns)
{
	cell_str(cells, obj_name(lease));
	cell_str(cells, jsonx_path_str(lease, "spec.holderIdentity", ""));
	cell_age(cells, lease, now_ns);
}

/* ------------------------------------------------------------------ workloads */

static void deployment_row(json_t *cells, const json_t *d, int64_t now_ns)
{
	const json_t *spec = jsonx_obj(d, "spec"), *status = jsonx_obj(d, "status");
	struct buf b = { 0 };

	cell_str(cells, obj_name(d));
	buf_appendf(&b, "%lld/%lld", jsonx_int(status, "readyReplicas", 0),
		    jsonx_int(spec, "replicas", 1));
	cell_buf(cells, &b);
	cell_int(cells, jsonx_int(status, "updatedReplicas", 0));
	cell_int(cells, jsonx_int(status, "availableReplicas", 0));
	cell_age(cells, d, now_ns);
	cells_containers(cells, jsonx_getv(spec, "template", "spec", NULL));
	buf_reset(&b);
	format_label_selector(jsonx_obj(spec, "selector"), "<invalid>", "", &b);
	cell_buf(cells, &b);
	buf_free(&b);
}

static void cell_format_label_selector(json_t *cells, const json_t *spec)
{
	struct buf b = { 0 };

	format_label_selector(jsonx_obj(spec, "selector"), "<error>", "<none>", &b);
	cell_buf(cells, &b);
	buf_free(&b);
}

static void replicaset_row(json_t *cells, const json_t *rs, int64_t now_ns)
{
	const json_t *spec = jsonx_obj(rs, "spec"), *status = jsonx_obj(rs, "status");

	cell_str(cells, obj_name(rs));
	cell_int(cells, jsonx_int(spec, "replicas", 1));
	cell_int(cells, jsonx_int(status, "replicas", 0));
	cell_int(cells, jsonx_int(status, "readyReplicas", 0));
	cell_age(cells, rs, now_ns);
	cells_containers(cells, jsonx_getv(spec, "template", "spec", NULL));
	cell_format_label_selector(cells, spec);
}

static void daemonset_row(json_t *cells, const json_t *ds, int64_t now_ns)
{
	const json_t *spec = jsonx_obj(ds, "spec"), *status = jsonx_obj(ds, "status");
	const json_t *pod_spec = jsonx_getv(spec, "template", "spec", NULL);
	const char *counters[] = { "desiredNumberScheduled", "currentNumberScheduled",
				   "numberReady", "updatedNumberScheduled", "numberAvailable" };
	struct buf b = { 0 };
	size_t i;

	cell_str(cells, obj_name(ds));
	for (i = 0; i < ARRAY_SIZE(counters); i++)
		cell_int(cells, jsonx_int(status, counters[i], 0));
	format_labels(jsonx_obj(pod_spec, "nodeSelector"), &b);
	cell_buf(cells, &b);
	buf_free(&b);
	cell_age(cells, ds, now_ns);
	cells_containers(cells, pod_spec);
	cell_format_label_selector(cells, spec);
}

/* ------------------------------------------------------------------ default */

/* Upstream's default table: the name and creationTimestamp as RFC 3339 UTC. */
static void default_row(json_t *cells, const json_t *obj, int64_t now_ns)
{
	char ts[KTIME_BUFSZ];
	int64_t t;

	(void)now_ns;
	cell_str(cells, obj_name(obj));
	if (time_parse(jsonx_path_str(obj, "metadata.creationTimestamp", NULL), &t) &&
	    ktime_format(t, ts, sizeof(ts)) == 0)
		cell_str(cells, ts);
	else
		cell_str(cells, "0001-01-01T00:00:00Z"); /* Go's zero time */
}

/* ------------------------------------------------------------------ registry */

struct table_column {
	const char *name;
	const char *type;
	const char *description;
	int priority; /* 0: always shown; 1: only with -o wide */
};

typedef void (*table_row_fn)(json_t *cells, const json_t *obj, int64_t now_ns);

struct table_printer {
	const char *resource;
	const struct table_column *columns;
	size_t ncolumns;
	table_row_fn row;
};

#define COL_NAME                                                                        \
	{                                                                               \
		"Name", "string", "Name of the object, unique within its namespace.", 0 \
	}
#define COL_AGE                                                          \
	{                                                                \
		"Age", "string", "Time since the object was created.", 0 \
	}
#define COL_CONTAINERS                                                                 \
	{ "Containers", "string", "Names of the containers in the pod template.", 1 }, \
	{                                                                              \
		"Images", "string", "Images of the containers in the pod template.", 1 \
	}

static const struct table_column pod_columns[] = {
	COL_NAME,
	{ "Ready", "string", "Ready containers out of all containers of the pod.", 0 },
	{ "Status", "string", "Summary of the pod's phase and its containers' states.", 0 },
	{ "Restarts", "string", "Container restarts, and how long ago the last one was.", 0 },
	COL_AGE,
	{ "IP", "string", "The pod's IP address.", 1 },
	{ "Node", "string", "The node the pod is bound to.", 1 },
	{ "Nominated Node", "string", "The node a preempting pod is expected to run on.", 1 },
	{ "Readiness Gates", "string", "Readiness gates whose condition is True, out of all.", 1 },
};

static const struct table_column service_columns[] = {
	COL_NAME,
	{ "Type", "string", "How the service is exposed.", 0 },
	{ "Cluster-IP", "string", "The service's virtual IP inside the cluster.", 0 },
	{ "External-IP", "string", "Addresses the service is reachable on from outside.", 0 },
	{ "Port(s)", "string", "Service ports, with node ports, and their protocols.", 0 },
	COL_AGE,
	{ "Selector", "string", "Labels of the pods that back the service.", 1 },
};

static const struct table_column endpoints_columns[] = {
	COL_NAME,
	{ "Endpoints", "string", "Ready addresses and ports behind the service.", 0 },
	COL_AGE,
};

static const struct table_column node_columns[] = {
	COL_NAME,
	{ "Status", "string", "The node's Ready condition and whether it is cordoned.", 0 },
	{ "Roles", "string", "Roles from the node-role.kubernetes.io labels.", 0 },
	COL_AGE,
	{ "Version", "string", "Version of the node's kubelet.", 0 },
	{ "Internal-IP", "string", "The node's first InternalIP address.", 1 },
	{ "External-IP", "string", "The node's first ExternalIP address.", 1 },
	{ "OS-Image", "string", "Operating system reported by the node.", 1 },
	{ "Kernel-Version", "string", "Kernel version reported by the node.", 1 },
	{ "Container-Runtime", "string", "Container runtime and its version.", 1 },
};

static const struct table_column namespace_columns[] = {
	COL_NAME,
	{ "Status", "string", "Phase of the namespace: Active or Terminating.", 0 },
	COL_AGE,
};

static const struct table_column event_columns[] = {
	{ "Last Seen", "string", "Time since the event was last observed.", 0 },
	{ "Type", "string", "Normal or Warning.", 0 },
	{ "Reason", "string", "Short machine-readable reason for the event.", 0 },
	{ "Object", "string", "The object the event is about, as kind/name.", 0 },
	{ "Subobject", "string", "Part of the object the event is about.", 1 },
	{ "Source", "string", "Component (and host) that reported the event.", 1 },
	{ "Message", "string", "Human-readable description of the event.", 0 },
	{ "First Seen", "string", "Time since the event was first observed.", 1 },
	{ "Count", "string", "How many times the event was observed.", 1 },
	{ "Name", "string", "Name of the event object.", 1 },
};

static const struct table_column configmap_columns[] = {
	COL_NAME,
	{ "Data", "string", "Number of data and binaryData entries.", 0 },
	COL_AGE,
};

static const struct table_column secret_columns[] = {
	COL_NAME,
	{ "Type", "string", "Type of the secret's data.", 0 },
	{ "Data", "string", "Number of data entries.", 0 },
	COL_AGE,
};

static const struct table_column serviceaccount_columns[] = {
	COL_NAME,
	{ "Secrets", "string", "Number of secrets listed by the service account.", 0 },
	COL_AGE,
};

static const struct table_column deployment_columns[] = {
	COL_NAME,
	{ "Ready", "string", "Ready pods out of desired replicas.", 0 },
	{ "Up-to-date", "string", "Pods running the latest pod template.", 0 },
	{ "Available", "string", "Pods available to serve.", 0 },
	COL_AGE,
	COL_CONTAINERS,
	{ "Selector", "string", "Label selector of the deployment's pods.", 1 },
};

static const struct table_column replicaset_columns[] = {
	COL_NAME,
	{ "Desired", "integer", "Number of replicas wanted.", 0 },
	{ "Current", "integer", "Number of replicas that exist.", 0 },
	{ "Ready", "integer", "Number of replicas that are ready.", 0 },
	COL_AGE,
	COL_CONTAINERS,
	{ "Selector", "string", "Label selector of the replica set's pods.", 1 },
};

static const struct table_column daemonset_columns[] = {
	COL_NAME,
	{ "Desired", "integer", "Nodes that should run the daemon pod.", 0 },
	{ "Current", "integer", "Nodes running at least one daemon pod.", 0 },
	{ "Ready", "integer", "Nodes whose daemon pod is ready.", 0 },
	{ "Up-to-date", "integer", "Nodes running the latest daemon pod template.", 0 },
	{ "Available", "integer", "Nodes whose daemon pod is available.", 0 },
	{ "Node Selector", "string", "Node labels the daemon pods are restricted to.", 0 },
	COL_AGE,
	COL_CONTAINERS,
	{ "Selector", "string", "Label selector of the daemon set's pods.", 1 },
};

static const struct table_column endpointslice_columns[] = {
	COL_NAME,
	{ "AddressType", "string", "IPv4, IPv6 or FQDN.", 0 },
	{ "Ports", "string", "Ports exposed by the endpoints of the slice.", 0 },
	{ "Endpoints", "string", "Addresses of the endpoints of the slice.", 0 },
	COL_AGE,
};

static const struct table_column lease_columns[] = {
	COL_NAME,
	{ "Holder", "string", "Identity of the current holder of the lease.", 0 },
	COL_AGE,
};

static const struct table_column default_columns[] = {
	COL_NAME,
	{ "Created At", "date", "Time the object was created.", 0 },
};

#define PRINTER(res, cols, fn)                  \
	{                                       \
		res, cols, ARRAY_SIZE(cols), fn \
	}

static const struct table_printer printers[] = {
	PRINTER("pods", pod_columns, pod_row),
	PRINTER("services", service_columns, service_row),
	PRINTER("endpoints", endpoints_columns, endpoints_row),
	PRINTER("nodes", node_columns, node_row),
	PRINTER("namespaces", namespace_columns, namespace_row),
	PRINTER("events", event_columns, event_row),
	PRINTER("configmaps", configmap_columns, configmap_row),
	PRINTER("secrets", secret_columns, secret_row),
	PRINTER("serviceaccounts", serviceaccount_columns, serviceaccount_row),
	PRINTER("deployments", deployment_columns, deployment_row),
	PRINTER("replicasets", replicaset_columns, replicaset_row),
	PRINTER("daemonsets", daemonset_columns, daemonset_row),
	PRINTER("endpointslices", endpointslice_columns, endpointslice_row),
	PRINTER("leases", lease_columns, lease_row),
};

static const struct table_printer default_printer = PRINTER(NULL, default_columns, default_row);

static const struct table_printer *printer_for(const char *resource)
{
	size_t i;

	for (i = 0; resource && i < ARRAY_SIZE(printers); i++)
		if (strcmp(printers[i].resource, resource) == 0)
			return &printers[i];
	return &default_printer;
}

/* ------------------------------------------------------------------ public */

json_t *table_columns(const char *resource)
{
	const struct table_printer *p = printer_for(resource);
	json_t *cols = json_array();
	size_t i;

	for (i = 0; i < p->ncolumns; i++) {
		const struct table_column *c = &p->columns[i];

		/* Format "name" marks the column holding metadata.name. */
		json_array_append_new(cols, json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", c->name,
						      "type", c->type, "format",
						      strcmp(c->name, "Name") == 0 ? "name" : "",
						      "description", c->description, "priority",
						      c->priority));
	}
	return cols;
}

json_t *table_cells(const char *resource, const json_t *obj, int64_t now_ns)
{
	json_t *cells = json_array();

	printer_for(resource)->row(cells, obj, now_ns);
	return cells;
}

void table_human_duration(int64_t ns, char *buf, size_t len)
{
	/* C division truncates toward zero, like Go's int(d.Seconds()) and d / time.Minute. */
	long long secs = ns / NS_PER_SEC, mins = secs / 60, hours = mins / 60, days = hours / 24;

	if (!buf || len == 0)
		return;
	/* Up to two seconds in the future is clock skew between machines, not an error. */
	if (secs < -1)
		snprintf(buf, len, "<invalid>");
	else if (secs < 0)
		snprintf(buf, len, "0s");
	else if (secs < 2 * 60)
		snprintf(buf, len, "%llds", secs);
	else if (mins < 10 && secs % 60)
		snprintf(buf, len, "%lldm%llds", mins, secs % 60);
	else if (mins < 3 * 60)
		snprintf(buf, len, "%lldm", mins);
	else if (hours < 8 && mins % 60)
		snprintf(buf, len, "%lldh%lldm", hours, mins % 60);
	else if (hours < 48)
		snprintf(buf, len, "%lldh", hours);
	else if (hours < 24 * 8 && hours % 24)
		snprintf(buf, len, "%lldd%lldh", days, hours % 24);
	else if (hours < 24 * 365 * 2)
		snprintf(buf, len, "%lldd", days);
	else if (hours < 24 * 365 * 8 && days % 365)
		snprintf(buf, len, "%lldy%lldd", days / 365, days % 365);
	else
		snprintf(buf, len, "%lldy", days / 365);
}
