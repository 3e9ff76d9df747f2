/*
 * eps_compute.c - see eps_compute.h.
 *
 * Maps are jansson objects (the codebase's hash table) keyed by strings
 * made for the purpose: an endpoint's identity is its sorted addresses,
 * hostname and target pod (upstream's endpoint hash), a slice group's key
 * its address type and the compact JSON of its port list. Pods are taken
 * in name order, so a plan is a function of its input and tests can spell
 * out exactly which endpoint lands in which slice.
 */
#include "control/controllers/eps_compute.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/controllers/podutil.h"
#include "jsonx.h"
#include "util.h"

/* ---------------------------------------------------------------- pods */

static const char *name_of(const json_t *o)
{
	return jsonx_path_str(o, "metadata.name", "");
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(name_of(*(const json_t *const *)a), name_of(*(const json_t *const *)b));
}

/* The elements of arr sorted by name: borrowed pointers in a new C array. */
static const json_t **sorted_by_name(const json_t *arr, size_t *n)
{
	const json_t **out = xcalloc(json_array_size(arr) + 1, sizeof(*out));
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
		out[i] = v;
	*n = json_array_size(arr);
	qsort(out, *n, sizeof(*out), cmp_name);
	return out;
}

bool eps_service_managed(const json_t *svc)
{
	return json_is_object(jsonx_get_path(svc, "spec.selector")) &&
	       strcmp(jsonx_path_str(svc, "spec.type", ""), "ExternalName") != 0;
}

/* ip is an address of family ("IPv4" / "IPv6"). */
static bool ip_of_family(const char *ip, bool v6)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(v6 ? AF_INET6 : AF_INET, ip, buf) == 1;
}

/*
 * The pod's first address of family, or NULL. Addresses that do not parse
 * are skipped: the API server would refuse a slice holding one, and one bad
 * pod must not stall its Service's other endpoints.
 */
static const char *pod_ip(const json_t *pod, const char *family)
{
	bool want6 = strcmp(family, "IPv6") == 0;
	const char *ip;
	json_t *p;
	size_t i;

	json_array_foreach(jsonx_get_path(pod, "status.podIPs"), i, p) {
		ip = jsonx_str(p, "ip", "");
		if (ip_of_family(ip, want6))
			return ip;
	}
	ip = jsonx_path_str(pod, "status.podIP", "");
	return ip_of_family(ip, want6) ? ip : NULL;
}

bool eps_pod_included(const json_t *pod, bool include_terminating)
{
	const char *phase = jsonx_path_str(pod, "status.phase", "");

	if (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)
		return false;
	if (!*jsonx_path_str(pod, "status.podIP", "") &&
	    json_array_size(jsonx_get_path(pod, "status.podIPs")) == 0)
		return false;
	return include_terminating || !cm_is_deleting(pod);
}

static int port_in(const json_t *containers, const char *name, const char *proto, bool sidecars)
{
	json_t *c, *p;
	size_t i, j;

	json_array_foreach(containers, i, c) {
		/* Init containers count only as sidecars (restartPolicy Always). */
		if (sidecars && strcmp(jsonx_str(c, "restartPolicy", ""), "Always") != 0)
			continue;
		json_array_foreach(jsonx_arr(c, "ports"), j, p)
			if (strcmp(jsonx_str(p, "name", ""), name) == 0 &&
			    strcmp(jsonx_str(p, "protocol", "TCP"), proto) == 0)
				return (int)jsonx_int(p, "containerPort", 0);
	}
	return -ENOENT;
}

int eps_find_port(const json_t *pod, const json_t *service_port)
{
	const json_t *tp = json_object_get(service_port, "targetPort");
	const char *proto = jsonx_str(service_port, "protocol", "TCP");
	int n;

	if (json_is_string(tp)) {
		n = port_in(jsonx_get_path(pod, "spec.containers"), json_string_value(tp), proto,
			    false);
		if (n < 0)
			n = port_in(jsonx_get_path(pod, "spec.initContainers"),
				    json_string_value(tp), proto, true);
		return n;
	}
	if (json_is_integer(tp) && json_integer_value(tp) > 0)
		return (int)json_integer_value(tp);
	/* No targetPort (the API server defaults it to port): the port itself. */
	return (int)jsonx_int(service_port, "port", 0);
}

bool eps_pod_changed(const json_t *a, const json_t *b)
{
	static const char *const paths[] = {
		"metadata.labels", "metadata.deletionTimestamp",
		"status.podIP",	   "status.podIPs",
		"status.phase",	   "spec.nodeName",
		"spec.hostname",   "spec.subdomain",
		"metadata.uid",
	};

	if (cm_pod_is_ready(a) != cm_pod_is_ready(b))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		if (!jsonx_equal(jsonx_get_path(a, paths[i]), jsonx_get_path(b, paths[i])))
			return true;
	return false;
}

/* ---------------------------------------------------------------- services */

static bool is_headless(const json_t *svc)
{
	const char *ip = jsonx_path_str(svc, "spec.clusterIP", "");

	return !*ip || strcmp(ip, "None") == 0;
}

static bool sets_hostname(const json_t *svc, const json_t *pod)
{
	return *jsonx_path_str(pod, "spec.hostname", "") &&
	       strcmp(jsonx_path_str(pod, "spec.subdomain", ""), name_of(svc)) == 0 &&
	       strcmp(jsonx_path_str(pod, "metadata.namespace", ""),
		      jsonx_path_str(svc, "metadata.namespace", "")) == 0;
}

/* The pod's ports for the Service (name always set for slices, only when non-empty otherwise). */
static json_t *pod_ports(const json_t *svc, const json_t *pod, bool slice)
{
	json_t *out = json_array(), *sp;
	size_t i;

	json_array_foreach(jsonx_get_path(svc, "spec.ports"), i, sp) {
		const char *name = jsonx_str(sp, "name", ""),
			   *ap = jsonx_str(sp, "appProtocol", NULL);
		int n = eps_find_port(pod, sp);
		json_t *p;

		if (n <= 0)
			continue; /* upstream skips a port it cannot resolve */
		p = json_pack("{s:i, s:s}", "port", n, "protocol",
			      jsonx_str(sp, "protocol", "TCP"));
		if (slice || *name)
			json_object_set_new(p, "name", json_string(name));
		if (ap)
			json_object_set_new(p, "appProtocol", json_string(ap));
		json_array_append_new(out, p);
	}
	return out;
}

static json_t *target_ref(const json_t *pod)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "kind", "Pod", "namespace",
			 jsonx_path_str(pod, "metadata.namespace", ""), "name", name_of(pod), "uid",
			 jsonx_path_str(pod, "metadata.uid", ""));
}

/* ---------------------------------------------------------------- slices */

static json_t *slice_endpoint(const struct eps_input *in, const json_t *pod, const char *ip)
{
	const json_t *svc = in->service;
	bool pub = jsonx_path_bool(svc, "spec.publishNotReadyAddresses", false);
	bool podready = cm_pod_is_ready(pod), term = cm_is_deleting(pod);
	const char *node = jsonx_path_str(pod, "spec.nodeName", "");
	char zbuf[128];
	const char *zone;
	json_t *ep;

	/* ready never says true for a terminating pod unless publishNotReady. */
	ep = json_pack("{s:[s], s:{s:b, s:b, s:b}, s:o}", "addresses", ip, "conditions", "ready",
		       pub || (podready && !term), "serving", pub || podready, "terminating", term,
		       "targetRef", target_ref(pod));
	if (*node) {
		json_object_set_new(ep, "nodeName", json_string(node));
		zone = in->zone ? in->zone(in->zone_ctx, node, zbuf, sizeof(zbuf)) : NULL;
		if (zone && *zone)
			json_object_set_new(ep, "zone", json_string(zone));
	}
	if (sets_hostname(svc, pod))
		json_object_set_new(ep, "hostname",
				    json_string(jsonx_path_str(pod, "spec.hostname", "")));
	return ep;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Upstream's endpoint hash: sorted addresses, hostname, target namespace/name. */
static char *ep_identity(const json_t *ep)
{
	const json_t *addrs = jsonx_arr(ep, "addresses");
	const char **v = xcalloc(json_array_size(addrs) + 1, sizeof(*v));
	struct buf b = { 0 };
	size_t i, n = 0;
	json_t *a;

	json_array_foreach(addrs, i, a)
		if (json_is_string(a))
			v[n++] = json_string_value(a);
	qsort(v, n, sizeof(*v), cmp_str);
	for (i = 0; i < n; i++)
		buf_appendf(&b, "%s,", v[i]);
	buf_appendf(&b, "\n%s\n%s/%s", jsonx_str(ep, "hostname", ""),
		    jsonx_path_str(ep, "targetRef.namespace", ""),
		    jsonx_path_str(ep, "targetRef.name", ""));
	free(v);
	return b.data;
}

static char *group_key(const char *family, const json_t *ports)
{
	json_t *empty = json_array();
	char *dump = jsonx_dumps_compact(json_array_size(ports) ? ports : empty);
	char *key = xasprintf("%s\n%s", family, dump ? dump : "[]");

	free(dump);
	json_decref(empty);
	return key;
}

static json_t *slice_labels(const json_t *svc)
{
	json_t *l = json_object(), *v;
	const char *k;

	json_object_foreach(jsonx_get_path(svc, "metadata.labels"), k, v) {
		if (strcmp(k, EPS_LABEL_SERVICE) == 0 || strcmp(k, EPS_LABEL_MANAGED_BY) == 0 ||
		    strcmp(k, EPS_LABEL_HEADLESS) == 0)
			continue;
		json_object_set(l, k, v);
	}
	if (is_headless(svc))
		json_object_set_new(l, EPS_LABEL_HEADLESS, json_string(""));
	json_object_set_new(l, EPS_LABEL_SERVICE, json_string(name_of(svc)));
	json_object_set_new(l, EPS_LABEL_MANAGED_BY, json_string(EPS_MANAGED_BY));
	return l;
}

static bool owned_by(const json_t *slice, const json_t *svc)
{
	const char *uid = jsonx_path_str(svc, "metadata.uid", "");
	json_t *r;
	size_t i;

	json_array_foreach(jsonx_get_path(slice, "metadata.ownerReferences"), i, r)
		if (strcmp(jsonx_str(r, "uid", ""), uid) == 0 &&
		    strcmp(jsonx_str(r, "kind", ""), "Service") == 0 &&
		    strcmp(jsonx_str(r, "apiVersion", ""), "v1") == 0)
			return true;
	return false;
}

static json_t *new_slice(const json_t *svc, const char *family, const json_t *ports,
			 const json_t *labels)
{
	char *gen = xasprintf("%s-", name_of(svc));
	json_t *s;

	s = json_pack(
		"{s:s, s:s, s:{s:s, s:s, s:o, s:[{s:s, s:s, s:s, s:s, s:b, s:b}]}, s:s, "
		"s:[], s:o}",
		"apiVersion", "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata",
		"generateName", gen, "namespace", jsonx_path_str(svc, "metadata.namespace", ""),
		"labels", json_deep_copy(labels), "ownerReferences", "apiVersion", "v1", "kind",
		"Service", "name", name_of(svc), "uid", jsonx_path_str(svc, "metadata.uid", ""),
		"controller", 1, "blockOwnerDeletion", 1, "addressType", family, "endpoints",
		"ports", ports ? json_deep_copy(ports) : json_array());
	free(gen);
	return s;
}

/* Desired endpoints that share an address type and a port list. */
struct group {
	char *key;
	const char *family;
	json_t *ports;
	json_t *eps;  /* in pod order */
	json_t *byid; /* identity -> index in eps */
	bool *taken;
};

/* An existing slice being rewritten: a copy to PUT or a new one to POST. */
struct pending {
	json_t *slice;
	size_t index; /* order seen, for a stable sort */
	bool is_new;
};

static int cmp_fullest(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;
	size_t nx = json_array_size(jsonx_arr(x->slice, "endpoints"));
	size_t ny = json_array_size(jsonx_arr(y->slice, "endpoints"));

	if (nx != ny)
		return nx > ny ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static void fill(json_t *slice, const json_t *eps, const size_t *rest, size_t nrest, size_t *next,
		 size_t max)
{
	json_t *arr = jsonx_arr(slice, "endpoints");

	while (*next < nrest && json_array_size(arr) < max)
		json_array_append(arr, json_array_get(eps, rest[(*next)++]));
}

/* The closest fit among unchanged slices for n more endpoints, or -1. */
static long closest_fit(const json_t *const *unchanged, size_t nu, size_t n, size_t max)
{
	size_t best_room = max;
	long best = -1;

	for (size_t i = 0; i < nu; i++) {
		size_t have;

		if (!unchanged[i])
			continue;
		have = json_array_size(jsonx_arr(unchanged[i], "endpoints"));
		if (have + n <= max && max - (have + n) < best_room) {
			best_room = max - (have + n);
			best = (long)i;
			if (!best_room)
				break;
		}
	}
	return best;
}

/* Upstream's reconcileByPortMapping for one group and the slices that have its key. */
static void reconcile_group(const struct eps_input *in, struct group *g, const json_t *existing,
			    const json_t *labels, size_t max, struct eps_plan *plan)
{
	size_t ne = json_array_size(existing), neps = json_array_size(g->eps);
	struct pending *pend = xcalloc(ne + neps + 1, sizeof(*pend));
	const json_t **unchanged = xcalloc(ne + 1, sizeof(*unchanged));
	size_t *rest = xcalloc(neps + 1, sizeof(*rest));
	size_t np = 0, nu = 0, nrest = 0, next = 0, i, j;
	json_t *s, *ep;

	/* 1. Keep each endpoint where it is; refresh changed ones, drop gone ones. */
	json_array_foreach(existing, i, s) {
		json_t *keep = json_array();
		bool changed = !jsonx_equal(jsonx_get_path(s, "metadata.labels"), labels);

		json_array_foreach(jsonx_arr(s, "endpoints"), j, ep) {
			char *id = ep_identity(ep);
			json_t *idx = json_object_get(g->byid, id), *want;
			size_t k = idx ? (size_t)json_integer_value(idx) : 0;

			free(id);
			if (!idx || g->taken[k]) {
				changed = true; /* gone, or listed twice */
				continue;
			}
			g->taken[k] = true;
			want = json_array_get(g->eps, k);
			changed |= !jsonx_equal(want, ep);
			json_array_append(keep, want);
		}
		if (!json_array_size(keep)) {
			json_array_append(plan->remove, s);
			json_decref(keep);
		} else if (changed) {
			json_t *u = json_deep_copy(s);

			json_object_set_new(u, "endpoints", keep);
			json_object_set_new(json_object_get(u, "metadata"), "labels",
					    json_deep_copy(labels));
			pend[np].slice = u;
			pend[np].index = np;
			np++;
		} else {
			unchanged[nu++] = s;
			json_decref(keep);
		}
	}
	for (i = 0; i < neps; i++)
		if (!g->taken[i])
			rest[nrest++] = i;

	/* 2. New endpoints go first into slices that are written anyway, fullest first. */
	qsort(pend, np, sizeof(*pend), cmp_fullest);
	for (i = 0; i < np; i++)
		fill(pend[i].slice, g->eps, rest, nrest, &next, max);

	/* 3. Then into the unchanged slice they fit best, else into new slices. */
	while (next < nrest) {
		long f = nrest - next < max ? closest_fit(unchanged, nu, nrest - next, max) : -1;

		if (f >= 0) {
			pend[np].slice = json_deep_copy(unchanged[f]);
			unchanged[f] = NULL;
		} else {
			pend[np].slice = new_slice(in->service, g->family, g->ports, labels);
			pend[np].is_new = true;
		}
		fill(pend[np].slice, g->eps, rest, nrest, &next, max);
		np++;
	}
	for (i = 0; i < np; i++)
		json_array_append_new(pend[i].is_new ? plan->create : plan->update, pend[i].slice);
	free(pend);
	free(unchanged);
	free(rest);
}

static bool is_placeholder(const json_t *slice, const json_t *labels)
{
	return json_array_size(jsonx_arr(slice, "endpoints")) == 0 &&
	       json_array_size(jsonx_arr(slice, "ports")) == 0 &&
	       jsonx_equal(jsonx_get_path(slice, "metadata.labels"), labels);
}

static size_t count_family(const json_t *slices, const char *family, json_t **last)
{
	size_t i, n = 0;
	json_t *s;

	json_array_foreach(slices, i, s) {
		if (strcmp(jsonx_str(s, "addressType", ""), family) == 0) {
			n++;
			if (last)
				*last = s;
		}
	}
	return n;
}

/*
 * A family whose slices all go and gets none keeps (or gets) one empty
 * placeholder; an existing placeholder is not deleted and re-created.
 */
static void placeholder(const json_t *svc, const char *family, const json_t *owned,
			const json_t *labels, struct eps_plan *plan)
{
	json_t *gone = NULL;
	size_t i, nrm = count_family(plan->remove, family, &gone);
	json_t *s;

	if (count_family(owned, family, NULL) != nrm || count_family(plan->create, family, NULL))
		return;
	if (nrm == 1 && is_placeholder(gone, labels)) {
		json_array_foreach(plan->remove, i, s) {
			if (s == gone) {
				json_array_remove(plan->remove, i);
				break;
			}
		}
		return;
	}
	json_array_append_new(plan->create, new_slice(svc, family, NULL, labels));
}

static json_t *families_of(const json_t *svc)
{
	json_t *out = json_array(), *f;
	size_t i;

	json_array_foreach(jsonx_get_path(svc, "spec.ipFamilies"), i, f)
		if (json_is_string(f) && (strcmp(json_string_value(f), "IPv4") == 0 ||
					  strcmp(json_string_value(f), "IPv6") == 0))
			json_array_append(out, f);
	if (!json_array_size(out))
		json_array_append_new(out, json_string("IPv4"));
	return out;
}

/* Build the wanted groups: returns how many, in *out (group index by key in *index). */
static size_t build_groups(const struct eps_input *in, const json_t *families, struct group **out,
			   json_t *index)
{
	size_t npods, ng = 0, i, f;
	const json_t **pods = sorted_by_name(in->pods, &npods);
	struct group *g = NULL;
	json_t *fam;

	json_array_foreach(families, f, fam) {
		const char *family = json_string_value(fam);

		for (i = 0; i < npods; i++) {
			const char *ip =
				eps_pod_included(pods[i], true) ? pod_ip(pods[i], family) : NULL;
			json_t *ports, *ep, *gi;
			struct group *cur;
			char *key, *id;

			if (!ip)
				continue;
			ports = pod_ports(in->service, pods[i], true);
			key = group_key(family, ports);
			gi = json_object_get(index, key);
			if (!gi) {
				g = xrealloc(g, (ng + 1) * sizeof(*g));
				g[ng] = (struct group){ .key = key,
							.family = family,
							.ports = ports,
							.eps = json_array(),
							.byid = json_object() };
				json_object_set_new(index, key, json_integer((json_int_t)ng));
				cur = &g[ng++];
			} else {
				cur = &g[json_integer_value(gi)];
				free(key);
				json_decref(ports);
			}
			ep = slice_endpoint(in, pods[i], ip);
			id = ep_identity(ep);
			json_object_set_new(cur->byid, id,
					    json_integer((json_int_t)json_array_size(cur->eps)));
			free(id);
			json_array_append_new(cur->eps, ep);
		}
	}
	for (i = 0; i < ng; i++)
		g[i].taken = xcalloc(json_array_size(g[i].eps) + 1, sizeof(bool));
	free(pods);
	*out = g;
	return ng;
}

int eps_plan_slices(const struct eps_input *in, struct eps_plan *plan, char *err, size_t errlen)
{
	const json_t *svc = in ? in->service : NULL;
	size_t max = in && in->max_per_slice ? in->max_per_slice : EPS_MAX_PER_SLICE;
	json_t *families, *labels, *index, *buckets, *owned, *foreign, *fam, *none, *b, *served;
	const json_t **slices;
	struct group *groups = NULL;
	size_t ng, nslices, i;
	const char *k;

	if (!svc || !*name_of(svc) || !*jsonx_path_str(svc, "metadata.namespace", "") ||
	    !*jsonx_path_str(svc, "metadata.uid", "")) {
		snprintf(err, errlen, "service without name, namespace or uid");
		return -EINVAL;
	}
	if (!eps_service_managed(svc)) {
		snprintf(err, errlen, "service %s has no selector or is ExternalName",
			 name_of(svc));
		return -EINVAL;
	}
	plan->create = json_array();
	plan->update = json_array();
	plan->remove = json_array();
	families = families_of(svc);
	labels = slice_labels(svc);
	index = json_object();
	buckets = json_object();
	owned = json_array();
	foreign = json_array();
	none = json_array();
	served = json_object(); /* the families, as a set */
	ng = build_groups(in, families, &groups, index);
	json_array_foreach(families, i, fam)
		json_object_set_new(served, json_string_value(fam), json_true());

	/* Existing slices by group key; foreign or obsolete ones go. */
	slices = sorted_by_name(in->slices, &nslices);
	for (i = 0; i < nslices; i++) {
		const char *type = jsonx_str(slices[i], "addressType", "");
		char *key;

		if (!owned_by(slices[i], svc) || !json_object_get(served, type)) {
			json_array_append(foreign, (json_t *)slices[i]);
			continue;
		}
		json_array_append(owned, (json_t *)slices[i]);
		key = group_key(type, jsonx_arr(slices[i], "ports"));
		b = json_object_get(buckets, key);
		if (!b) {
			b = json_array();
			json_object_set_new(buckets, key, b);
		}
		json_array_append(b, (json_t *)slices[i]);
		free(key);
	}
	free(slices);

	for (i = 0; i < ng; i++) {
		b = json_object_get(buckets, groups[i].key);
		reconcile_group(in, &groups[i], b ? b : none, labels, max, plan);
		json_object_del(buckets, groups[i].key);
	}
	/* Port lists nobody wants any more. */
	json_object_foreach(buckets, k, b)
		json_array_extend(plan->remove, b);
	json_array_foreach(families, i, fam)
		placeholder(svc, json_string_value(fam), owned, labels, plan);
	/* Slices of another Service uid or of a family no longer served. */
	json_array_extend(plan->remove, foreign);

	for (i = 0; i < ng; i++) {
		free(groups[i].key);
		json_decref(groups[i].ports);
		json_decref(groups[i].eps);
		json_decref(groups[i].byid);
		free(groups[i].taken);
	}
	free(groups);
	json_decref(families);
	json_decref(labels);
	json_decref(index);
	json_decref(buckets);
	json_decref(owned);
	json_decref(foreign);
	json_decref(none);
	json_decref(served);
	return 0;
}

void eps_plan_free(struct eps_plan *plan)
{
	json_decref(plan->create);
	json_decref(plan->update);
	json_decref(plan->remove);
	plan->create = plan->update = plan->remove = NULL;
}

/* ---------------------------------------------------------------- Endpoints */

/* Sort key of an address: IP, then target uid (upstream's LessEndpointAddress). */
static char *addr_key(const json_t *addr)
{
	return xasprintf("%s\n%s", jsonx_str(addr, "ip", ""),
			 jsonx_path_str(addr, "targetRef.uid", ""));
}

/*
 * Record (port, address, ready) in pm: port key -> {port, ready: {key: addr},
 * notready: {...}}. Ready wins when an address is listed both ways.
 */
static void pack_add(json_t *pm, const json_t *port, const json_t *addr, bool ready)
{
	char *pk = port ? jsonx_dumps_compact(port) : xstrdup("");
	char *ak = addr_key(addr);
	json_t *e = json_object_get(pm, pk), *r, *nr;

	if (!e) {
		e = json_pack("{s:O?, s:{}, s:{}}", "port", port, "ready", "notready");
		json_object_set_new(pm, pk, e);
	}
	r = json_object_get(e, "ready");
	nr = json_object_get(e, "notready");
	if (ready) {
		json_object_del(nr, ak);
		json_object_set(r, ak, (json_t *)addr);
	} else if (!json_object_get(r, ak)) {
		json_object_set(nr, ak, (json_t *)addr);
	}
	free(ak);
	free(pk);
}

/* The keys of obj, sorted, as a new C array of borrowed strings. */
static const char **sorted_keys(const json_t *obj, size_t *n)
{
	const char **keys = xcalloc(json_object_size(obj) + 1, sizeof(*keys)), *k;
	json_t *v;

	*n = 0;
	json_object_foreach((json_t *)obj, k, v)
		keys[(*n)++] = k;
	qsort(keys, *n, sizeof(*keys), cmp_str);
	return keys;
}

static json_t *sorted_values(const json_t *obj, struct buf *sig)
{
	size_t n;
	const char **keys = sorted_keys(obj, &n);
	json_t *out = json_array();

	for (size_t i = 0; i < n; i++) {
		json_array_append_new(out, json_deep_copy(json_object_get(obj, keys[i])));
		buf_appendf(sig, "%s\t", keys[i]);
	}
	free(keys);
	return out;
}

/* Ports with equal address sets share a subset; everything in canonical order. */
static json_t *pack_finish(const json_t *pm)
{
	json_t *subsets = json_array(), *bysig = json_object();
	size_t n;
	const char **pkeys = sorted_keys(pm, &n);

	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_object_get(pm, pkeys[i]), *port = json_object_get(e, "port");
		struct buf sig = { 0 };
		json_t *ready = sorted_values(json_object_get(e, "ready"), &sig);
		json_t *notready, *ss;

		buf_appendf(&sig, "|");
		notready = sorted_values(json_object_get(e, "notready"), &sig);
		ss = json_object_get(bysig, sig.data);
		if (!ss) {
			ss = json_object();
			if (json_array_size(ready))
				json_object_set(ss, "addresses", ready);
			if (json_array_size(notready))
				json_object_set(ss, "notReadyAddresses", notready);
			json_object_set_new(bysig, sig.data, ss);
			if (json_object_size(ss))
				json_array_append(subsets, ss);
		}
		if (json_is_object(port)) {
			if (!json_object_get(ss, "ports"))
				json_object_set_new(ss, "ports", json_array());
			json_array_append(json_object_get(ss, "ports"), (json_t *)port);
		}
		json_decref(ready);
		json_decref(notready);
		buf_free(&sig);
	}
	free(pkeys);
	json_decref(bysig);
	return subsets;
}

json_t *eps_subsets_repack(const json_t *subsets)
{
	json_t *pm = json_object(), *ss, *out;
	size_t i;

	json_array_foreach(subsets, i, ss) {
		static const char *const lists[] = { "addresses", "notReadyAddresses" };
		const json_t *ports = jsonx_arr(ss, "ports");

		for (size_t l = 0; l < 2; l++) {
			json_t *a, *p;
			size_t j, k;

			json_array_foreach(jsonx_arr(ss, lists[l]), j, a) {
				if (!json_array_size(ports))
					pack_add(pm, NULL, a, l == 0);
				json_array_foreach(ports, k, p)
					pack_add(pm, p, a, l == 0);
			}
		}
	}
	out = pack_finish(pm);
	json_decref(pm);
	return out;
}

static json_t *endpoints_labels(const json_t *svc)
{
	const json_t *l = jsonx_get_path(svc, "metadata.labels");
	json_t *out = json_is_object(l) ? json_deep_copy(l) : json_object();

	if (is_headless(svc))
		json_object_set_new(out, EPS_LABEL_HEADLESS, json_string(""));
	else
		json_object_del(out, EPS_LABEL_HEADLESS);
	return out;
}

json_t *eps_endpoints_build(const json_t *svc, const json_t *pods)
{
	const char *ns = jsonx_path_str(svc, "metadata.namespace", "");
	bool pub = jsonx_path_bool(svc, "spec.publishNotReadyAddresses", false);
	const json_t *sports = jsonx_get_path(svc, "spec.ports");
	json_t *families, *pm, *out;
	const json_t **sorted;
	const char *family;
	size_t n;

	if (!*name_of(svc) || !*ns)
		return NULL;
	families = families_of(svc);
	family = json_string_value(json_array_get(families, 0));
	pm = json_object();
	sorted = sorted_by_name(pods, &n);
	for (size_t i = 0; i < n; i++) {
		const json_t *pod = sorted[i];
		const char *ip = eps_pod_included(pod, pub) ? pod_ip(pod, family) : NULL;
		const char *node = jsonx_path_str(pod, "spec.nodeName", "");
		bool ready = pub || cm_pod_is_ready(pod);
		json_t *addr, *ports, *p;
		size_t j;

		if (!ip)
			continue;
		addr = json_pack("{s:s, s:o}", "ip", ip, "targetRef", target_ref(pod));
		if (*node)
			json_object_set_new(addr, "nodeName", json_string(node));
		if (sets_hostname(svc, pod))
			json_object_set_new(addr, "hostname",
					    json_string(jsonx_path_str(pod, "spec.hostname", "")));
		/* A headless Service may have no ports: addresses only. */
		if (!json_array_size(sports) && is_headless(svc))
			pack_add(pm, NULL, addr, ready);
		ports = pod_ports(svc, pod, false);
		json_array_foreach(ports, j, p)
			pack_add(pm, p, addr, ready);
		json_decref(ports);
		json_decref(addr);
	}
	free(sorted);
	out = json_pack("{s:s, s:s, s:{s:s, s:s, s:o}, s:o}", "apiVersion", "v1", "kind",
			"Endpoints", "metadata", "name", name_of(svc), "namespace", ns, "labels",
			endpoints_labels(svc), "subsets", pack_finish(pm));
	json_decref(pm);
	json_decref(families);
	return out;
}

bool eps_endpoints_equal(const json_t *cur, const json_t *want)
{
	const json_t *cl = jsonx_get_path(cur, "metadata.labels");
	json_t *empty = json_object(), *packed;
	bool eq;

	if (!cur || !want)
		eq = false;
	else if (!jsonx_equal(json_is_object(cl) ? cl : empty,
			      jsonx_get_path(want, "metadata.labels")))
		eq = false;
	else {
		packed = eps_subsets_repack(jsonx_arr(cur, "subsets"));
		eq = jsonx_equal(packed, jsonx_arr(want, "subsets"));
		json_decref(packed);
	}
	json_decref(empty);
	return eq;
}
