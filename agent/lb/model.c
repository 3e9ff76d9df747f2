/* model.c - see model.h. */
#include "agent/lb/model.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "log.h"
#include "util.h"

/* Readiness of one endpoint, best first (the order deduplication keeps). */
enum ep_state {
	EP_READY = 0,
	EP_SERVING_TERMINATING,
	EP_UNUSABLE,
};

struct ep {
	__be32 addr;
	__be16 port;
	enum ep_state state;
};

void lb_service_ports_free(struct lb_service_ports *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].backends);
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

int lb_model_proto(const char *name)
{
	if (!name || strcmp(name, "TCP") == 0)
		return IPPROTO_TCP;
	if (strcmp(name, "UDP") == 0)
		return IPPROTO_UDP;
	return 0;
}

/* Copy the listed keys of src (when present) into a new object. */
static json_t *pick(const json_t *src, const char *const *keys)
{
	json_t *dst = json_object();

	for (; *keys; keys++) {
		json_t *v = json_object_get(src, *keys);

		if (v)
			json_object_set_new(dst, *keys, json_deep_copy(v));
	}
	return dst;
}

/* A new array with pick(elem, keys) of every element of arr, or NULL. */
static json_t *pick_each(const json_t *arr, const char *const *keys)
{
	json_t *out, *elem;
	size_t i;

	if (!json_is_array(arr))
		return NULL;
	out = json_array();
	json_array_foreach(arr, i, elem)
		json_array_append_new(out, pick(elem, keys));
	return out;
}

static json_t *digest_metadata(const json_t *obj, bool with_service_label)
{
	const json_t *meta = jsonx_obj(obj, "metadata");
	const char *name = jsonx_str(meta, "name", NULL);
	const char *svc;
	json_t *out;

	if (!name || !*name)
		return NULL;
	out = json_pack("{ss}", "name", name);
	json_object_set_new(out, "namespace", json_string(jsonx_str(meta, "namespace", "default")));
	svc = jsonx_str(jsonx_obj(meta, "labels"), LB_LABEL_SERVICE_NAME, NULL);
	if (with_service_label && svc)
		json_object_set_new(out, "labels", json_pack("{ss}", LB_LABEL_SERVICE_NAME, svc));
	return out;
}

json_t *lb_model_service_digest(const json_t *svc)
{
	static const char *const spec_keys[] = { "type",
						 "clusterIP",
						 "clusterIPs",
						 "sessionAffinity",
						 "sessionAffinityConfig",
						 "internalTrafficPolicy",
						 NULL };
	static const char *const port_keys[] = { "name", "protocol", "port", NULL };
	const json_t *spec = jsonx_obj(svc, "spec");
	json_t *meta = digest_metadata(svc, false), *out, *dspec, *ports;

	if (!meta)
		return NULL;
	dspec = pick(spec, spec_keys);
	ports = pick_each(jsonx_arr(spec, "ports"), port_keys);
	if (ports)
		json_object_set_new(dspec, "ports", ports);
	out = json_pack("{soso}", "metadata", meta, "spec", dspec);
	return out;
}

json_t *lb_model_slice_digest(const json_t *slice)
{
	static const char *const port_keys[] = { "name", "protocol", "port", NULL };
	static const char *const ep_keys[] = { "addresses", "conditions", "nodeName", NULL };
	json_t *meta = digest_metadata(slice, true), *out, *arr;
	const char *type = jsonx_str(slice, "addressType", NULL);

	if (!meta)
		return NULL;
	out = json_pack("{so}", "metadata", meta);
	if (type)
		json_object_set_new(out, "addressType", json_string(type));
	arr = pick_each(jsonx_arr(slice, "ports"), port_keys);
	if (arr)
		json_object_set_new(out, "ports", arr);
	arr = pick_each(jsonx_arr(slice, "endpoints"), ep_keys);
	if (arr)
		json_object_set_new(out, "endpoints", arr);
	return out;
}

const char *lb_model_slice_service(const json_t *slice)
{
	return jsonx_str(jsonx_getv(slice, "metadata", "labels", NULL), LB_LABEL_SERVICE_NAME,
			 NULL);
}

/* The backend port number (network order) a slice gives this service port, or 0. */
static __be16 slice_port(const json_t *slice, const char *port_name, int proto)
{
	const json_t *p;
	size_t i;

	json_array_foreach(jsonx_arr(slice, "ports"), i, p) {
		long long num = jsonx_int(p, "port", 0);

		if (strcmp(jsonx_str(p, "name", ""), port_name) != 0 ||
		    lb_model_proto(jsonx_str(p, "protocol", NULL)) != proto)
			continue;
		/* A null port means the pods do not expose the named port. */
		return num >= 1 && num <= 65535 ? htons((uint16_t)num) : 0;
	}
	return 0;
}

static enum ep_state endpoint_state(const json_t *ep)
{
	const json_t *cond = jsonx_obj(ep, "conditions");
	/* Absent conditions mean "unknown", which consumers read as ready. */
	bool ready = jsonx_bool(cond, "ready", true);
	bool serving = jsonx_bool(cond, "serving", ready);
	bool terminating = jsonx_bool(cond, "terminating", false);

	if (ready && !terminating)
		return EP_READY;
	if (serving && terminating)
		return EP_SERVING_TERMINATING;
	return EP_UNUSABLE;
}

static bool endpoint_is_local(const json_t *ep, const char *node)
{
	const char *ep_node = jsonx_str(ep, "nodeName", "");

	return *node && strcmp(ep_node, node) == 0;
}

static int ep_cmp(const void *a, const void *b)
{
	const struct ep *x = a, *y = b;
	uint32_t xa = ntohl(x->addr), ya = ntohl(y->addr);
	uint16_t xp = ntohs(x->port), yp = ntohs(y->port);

	if (xa != ya)
		return xa < ya ? -1 : 1;
	if (xp != yp)
		return xp < yp ? -1 : 1;
	return (int)x->state - (int)y->state;
}

struct ep_list {
	struct ep *v;
	size_t n, cap;
};

static void ep_push(struct ep_list *l, struct ep e)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = e;
}

/* Every usable endpoint of the slices for one service port, deduplicated. */
static void collect_endpoints(const json_t *const *slices, size_t nslices, const char *port_name,
			      int proto, const char *local_node, struct ep_list *out)
{
	size_t w = 0;

	for (size_t s = 0; s < nslices; s++) {
		const char *type = jsonx_str(slices[s], "addressType", "IPv4");
		__be16 port = slice_port(slices[s], port_name, proto);
		const json_t *ep;
		size_t i;

		if (strcmp(type, "IPv4") != 0 || !port)
			continue;
		json_array_foreach(jsonx_arr(slices[s], "endpoints"), i, ep) {
			/* Addresses of one endpoint are fungible: use the first. */
			const char *addr =
				json_string_value(json_array_get(jsonx_arr(ep, "addresses"), 0));
			struct ep e = { .port = port, .state = endpoint_state(ep) };

			if (e.state == EP_UNUSABLE || !addr ||
			    inet_pton(AF_INET, addr, &e.addr) != 1)
				continue;
			if (local_node && !endpoint_is_local(ep, local_node))
				continue;
			ep_push(out, e);
		}
	}
	if (out->n == 0)
		return;
	/* Sorted by address, port, then best state: keep the first of each run. */
	qsort(out->v, out->n, sizeof(*out->v), ep_cmp);
	for (size_t r = 0; r < out->n; r++) {
		if (w > 0 && out->v[w - 1].addr == out->v[r].addr &&
		    out->v[w - 1].port == out->v[r].port)
			continue;
		out->v[w++] = out->v[r];
	}
	out->n = w;
}

static void push_backend(struct lb_frontend *fe, const struct ep *e, __u8 state)
{
	fe->backends[fe->n_active + fe->n_terminating] = (struct capstan_backend){
		.addr = e->addr, .port = e->port, .proto = fe->proto, .state = state
	};
	if (state == CAPSTAN_BE_ACTIVE)
		fe->n_active++;
	else
		fe->n_terminating++;
}

static void fill_backends(struct lb_frontend *fe, const struct ep_list *eps, bool keep_terminating,
			  const char *svc_name)
{
	enum ep_state slot_state = EP_SERVING_TERMINATING;

	for (size_t i = 0; i < eps->n; i++)
		if (eps->v[i].state == EP_READY)
			slot_state = EP_READY;
	fe->backends = xcalloc(eps->n ? eps->n : 1, sizeof(*fe->backends));
	for (size_t i = 0; i < eps->n; i++) {
		if (eps->v[i].state != slot_state)
			continue;
		if (fe->n_active == CAPSTAN_MAX_BACKENDS_PER_SVC) {
			log_warn("service %s port %u: more than %d backends, the rest are not used",
				 svc_name, ntohs(fe->port), CAPSTAN_MAX_BACKENDS_PER_SVC);
			break;
		}
		push_backend(fe, &eps->v[i], CAPSTAN_BE_ACTIVE);
	}
	/* Terminating ones are listed apart only when they are not in the slots. */
	if (!keep_terminating || slot_state != EP_READY)
		return;
	for (size_t i = 0; i < eps->n && fe->n_terminating < CAPSTAN_MAX_BACKENDS_PER_SVC; i++)
		if (eps->v[i].state == EP_SERVING_TERMINATING)
			push_backend(fe, &eps->v[i], CAPSTAN_BE_TERMINATING);
}

/* The IPv4 cluster IPs of spec (network order) into ips[]; -EINVAL on garbage. */
static int cluster_ips(const json_t *spec, __be32 *ips, size_t *n, char *err, size_t errlen)
{
	const json_t *list = jsonx_arr(spec, "clusterIPs");
	const char *one = jsonx_str(spec, "clusterIP", "");
	size_t count = list && json_array_size(list) ? json_array_size(list) : 1;

	*n = 0;
	for (size_t i = 0; i < count && i < 2; i++) {
		const char *s = list && json_array_size(list)
					? json_string_value(json_array_get(list, i))
					: one;
		struct in6_addr a6;

		if (!s || !*s || strcmp(s, "None") == 0)
			continue; /* headless */
		if (inet_pton(AF_INET, s, &ips[*n]) == 1) {
			(*n)++;
			continue;
		}
		if (inet_pton(AF_INET6, s, &a6) == 1) {
			log_debug("cluster IP %s skipped: services are IPv4", s);
			continue;
		}
		snprintf(err, errlen, "clusterIP \"%s\" is not an IP address", s);
		return -EINVAL;
	}
	return 0;
}

int lb_model_build(const json_t *svc, const json_t *const *slices, size_t nslices, const char *node,
		   struct lb_service_ports *out, char *err, size_t errlen)
{
	const json_t *spec = jsonx_obj(svc, "spec"), *port;
	const char *type = jsonx_str(spec, "type", "ClusterIP");
	const char *name = jsonx_path_str(svc, "metadata.name", "?");
	__u32 flags = 0, timeout = 0;
	const char *local_node = NULL;
	__be32 ips[2];
	size_t nips, i;
	int err_code;

	*out = (struct lb_service_ports){ 0 };
	if (!json_is_object(svc)) {
		snprintf(err, errlen, "service is not an object");
		return -EINVAL;
	}
	if (strcmp(type, "ExternalName") == 0)
		return 0;
	err_code = cluster_ips(spec, ips, &nips, err, errlen);
	if (err_code < 0 || nips == 0)
		return err_code;

	if (strcmp(type, "NodePort") == 0 || strcmp(type, "LoadBalancer") == 0)
		flags |= CAPSTAN_SVC_F_NODEPORT;
	if (strcmp(jsonx_str(spec, "sessionAffinity", "None"), "ClientIP") == 0) {
		long long t = jsonx_path_int(spec, "sessionAffinityConfig.clientIP.timeoutSeconds",
					     LB_AFFINITY_TIMEOUT_DEFAULT);

		flags |= CAPSTAN_SVC_F_AFFINITY;
		/* The API allows 1..86400; anything else is treated as unset. */
		timeout = t >= 1 && t <= 86400 ? (__u32)t : LB_AFFINITY_TIMEOUT_DEFAULT;
	}
	if (strcmp(jsonx_str(spec, "internalTrafficPolicy", "Cluster"), "Local") == 0) {
		flags |= CAPSTAN_SVC_F_LOCAL_INTERNAL;
		/* Without a node name nothing is local: an empty list, not all. */
		local_node = node ? node : "";
	}

	out->v = xcalloc(json_array_size(jsonx_arr(spec, "ports")) * nips + 1, sizeof(*out->v));
	json_array_foreach(jsonx_arr(spec, "ports"), i, port) {
		const char *pname = jsonx_str(port, "name", "");
		const char *proto_name = jsonx_str(port, "protocol", "TCP");
		long long num = jsonx_int(port, "port", 0);
		int proto = lb_model_proto(proto_name);
		struct ep_list eps = { 0 };

		if (!proto) {
			log_debug("service %s port %lld: protocol %s is not load-balanced", name,
				  num, proto_name);
			continue;
		}
		if (num < 1 || num > 65535 || strlen(pname) >= LB_PORT_NAME_MAX) {
			log_debug("service %s: port %lld (%s) is not valid, skipped", name, num,
				  pname);
			continue;
		}
		collect_endpoints(slices, nslices, pname, proto, local_node, &eps);
		for (size_t a = 0; a < nips; a++) {
			struct lb_frontend *fe = &out->v[out->n++];

			fe->addr = ips[a];
			fe->port = htons((uint16_t)num);
			fe->proto = (__u8)proto;
			fe->flags = flags;
			fe->affinity_timeout = timeout;
			snprintf(fe->port_name, sizeof(fe->port_name), "%s", pname);
			fill_backends(fe, &eps, flags & CAPSTAN_SVC_F_AFFINITY, name);
		}
		free(eps.v);
	}
	return 0;
}
