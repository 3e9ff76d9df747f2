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
	bool local; /* nodeName is this node */
};

void lb_service_ports_free(struct lb_service_ports *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].backends);
		free(p->v[i].ranges);
	}
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
						 "externalTrafficPolicy",
						 "externalIPs",
						 "loadBalancerSourceRanges",
						 "healthCheckNodePort",
						 NULL };
	static const char *const port_keys[] = { "name", "protocol", "port", "nodePort", NULL };
	static const char *const ingress_keys[] = { "ip", "ipMode", NULL };
	const json_t *spec = jsonx_obj(svc, "spec");
	json_t *meta = digest_metadata(svc, false), *out, *dspec, *ports, *ingress;

	if (!meta)
		return NULL;
	dspec = pick(spec, spec_keys);
	ports = pick_each(jsonx_arr(spec, "ports"), port_keys);
	if (ports)
		json_object_set_new(dspec, "ports", ports);
	out = json_pack("{soso}", "metadata", meta, "spec", dspec);
	ingress =
		pick_each(jsonx_getv(svc, "status", "loadBalancer", "ingress", NULL), ingress_keys);
	if (ingress)
		json_object_set_new(out, "status",
				    json_pack("{s{so}}", "loadBalancer", "ingress", ingress));
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

/*
 * Every usable endpoint of the slices for one service port, deduplicated,
 * marked local when its nodeName is node (NULL: none is).
 */
static void collect_endpoints(const json_t *const *slices, size_t nslices, const char *port_name,
			      int proto, const char *node, struct ep_list *out)
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
			e.local = node && endpoint_is_local(ep, node);
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

/* The endpoints of in that run on this node. */
static void local_endpoints(const struct ep_list *in, struct ep_list *out)
{
	for (size_t i = 0; i < in->n; i++)
		if (in->v[i].local)
			ep_push(out, in->v[i]);
}

static void push_backend(struct lb_frontend *fe, const struct ep *e, __u8 state)
{
	fe->backends[fe->n_active + fe->n_terminating] = (struct capstan_backend){
		.addr = e->addr,
		.port = e->port,
		.proto = fe->proto,
		.state = state,
		.flags = e->local ? CAPSTAN_BE_F_LOCAL : 0,
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

/* IPv4 addresses of a string array (externalIPs); others are skipped. */
static size_t ipv4_list(const json_t *arr, const char *field, const char *key, const char *svc,
			__be32 *out, size_t max)
{
	const json_t *v;
	size_t i, n = 0;

	json_array_foreach(arr, i, v) {
		const char *s = key ? jsonx_str(v, key, NULL) : json_string_value(v);
		__be32 a;

		if (!s || n == max)
			continue;
		/* ipMode Proxy: the load balancer proxies, packets do not carry its IP. */
		if (key && strcmp(jsonx_str(v, "ipMode", "VIP"), "Proxy") == 0)
			continue;
		if (inet_pton(AF_INET, s, &a) != 1) {
			log_debug("service %s: %s \"%s\" skipped: not an IPv4 address", svc, field,
				  s);
			continue;
		}
		out[n++] = a;
	}
	return n;
}

/* spec.loadBalancerSourceRanges as prefixes; *n = 0 when absent. */
static struct lb_src_range *source_ranges(const json_t *spec, const char *svc, size_t *n)
{
	const json_t *arr = jsonx_arr(spec, "loadBalancerSourceRanges"), *v;
	struct lb_src_range *r = xcalloc(json_array_size(arr) + 1, sizeof(*r));
	size_t i;

	*n = 0;
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v), *slash;
		char addr[INET_ADDRSTRLEN];
		unsigned long len = 32;
		char *end = NULL;
		__be32 a;

		if (!s)
			continue;
		slash = strchr(s, '/');
		if (slash) {
			len = strtoul(slash + 1, &end, 10);
			if (end == slash + 1 || *end || len > 32)
				goto bad;
		}
		snprintf(addr, sizeof(addr), "%.*s", (int)(slash ? slash - s : (long)strlen(s)), s);
		if (inet_pton(AF_INET, addr, &a) != 1)
			goto bad;
		r[*n].len = (__u8)len;
		r[*n].addr = len ? a & htonl(~0u << (32 - len)) : 0;
		(*n)++;
		continue;
	bad:
		log_warn("service %s: loadBalancerSourceRanges entry \"%s\" is not an IPv4 CIDR, "
			 "ignored",
			 svc, s);
	}
	return r;
}

/* What every frontend of one service port shares. */
struct port_ctx {
	struct lb_service_ports *out;
	__be16 port;
	int proto;
	__u32 timeout;
	const char *pname, *svc_name;
	bool keep_terminating;
};

static struct lb_frontend *add_frontend(const struct port_ctx *c, __be32 addr, __be16 port,
					__u8 scope, __u32 flags, __u32 vip_flags,
					const struct ep_list *eps)
{
	struct lb_frontend *fe = &c->out->v[c->out->n++];

	fe->addr = addr;
	fe->port = port;
	fe->proto = (__u8)c->proto;
	fe->scope = scope;
	fe->flags = flags;
	fe->vip_flags = vip_flags;
	fe->affinity_timeout = c->timeout;
	snprintf(fe->port_name, sizeof(fe->port_name), "%s", c->pname);
	fill_backends(fe, eps, c->keep_terminating, c->svc_name);
	return fe;
}

/* Distinct addresses of ready endpoints on this node, over every port. */
static __u32 count_local_ready(const json_t *const *slices, size_t nslices, const char *node)
{
	struct ep_list l = { 0 };
	__u32 n = 0;

	for (size_t s = 0; s < nslices && node; s++) {
		const json_t *ep;
		size_t i;

		if (strcmp(jsonx_str(slices[s], "addressType", "IPv4"), "IPv4") != 0)
			continue;
		json_array_foreach(jsonx_arr(slices[s], "endpoints"), i, ep) {
			const char *addr =
				json_string_value(json_array_get(jsonx_arr(ep, "addresses"), 0));
			struct ep e = { 0 };

			if (endpoint_state(ep) == EP_READY && endpoint_is_local(ep, node) && addr &&
			    inet_pton(AF_INET, addr, &e.addr) == 1)
				ep_push(&l, e);
		}
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), ep_cmp);
	for (size_t i = 0; i < l.n; i++)
		n += i == 0 || l.v[i].addr != l.v[i - 1].addr;
	free(l.v);
	return n;
}

int lb_model_build(const json_t *svc, const json_t *const *slices, size_t nslices, const char *node,
		   struct lb_service_ports *out, char *err, size_t errlen)
{
	struct lb_model_node n = { .name = node };

	return lb_model_build_node(svc, slices, nslices, &n, out, err, errlen);
}

#define LB_EXTERNAL_ADDRS_MAX 64 /* externalIPs, and LoadBalancer ingress IPs, each */

int lb_model_build_node(const json_t *svc, const json_t *const *slices, size_t nslices,
			const struct lb_model_node *node, struct lb_service_ports *out, char *err,
			size_t errlen)
{
	const json_t *spec = jsonx_obj(svc, "spec"), *port;
	const char *type = jsonx_str(spec, "type", "ClusterIP");
	const char *name = jsonx_path_str(svc, "metadata.name", "?");
	const char *node_name = node ? node->name : NULL;
	__be32 node_ip = node ? node->addr : 0;
	__be32 ips[2], ext[LB_EXTERNAL_ADDRS_MAX], lbs[LB_EXTERNAL_ADDRS_MAX];
	__u32 flags = 0, timeout = 0;
	bool nodeport, etp_local, itp_local;
	struct lb_src_range *ranges = NULL;
	size_t nips, next, nlbs, nranges = 0, i;
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

	nodeport = strcmp(type, "NodePort") == 0 || strcmp(type, "LoadBalancer") == 0;
	if (strcmp(jsonx_str(spec, "sessionAffinity", "None"), "ClientIP") == 0) {
		long long t = jsonx_path_int(spec, "sessionAffinityConfig.clientIP.timeoutSeconds",
					     LB_AFFINITY_TIMEOUT_DEFAULT);

		flags |= CAPSTAN_SVC_F_AFFINITY;
		/* The API allows 1..86400; anything else is treated as unset. */
		timeout = t >= 1 && t <= 86400 ? (__u32)t : LB_AFFINITY_TIMEOUT_DEFAULT;
	}
	itp_local = strcmp(jsonx_str(spec, "internalTrafficPolicy", "Cluster"), "Local") == 0;
	etp_local = strcmp(jsonx_str(spec, "externalTrafficPolicy", "Cluster"), "Local") == 0;
	next = ipv4_list(jsonx_arr(spec, "externalIPs"), "externalIP", NULL, name, ext,
			 LB_EXTERNAL_ADDRS_MAX);
	nlbs = 0;
	if (strcmp(type, "LoadBalancer") == 0) {
		nlbs = ipv4_list(jsonx_getv(svc, "status", "loadBalancer", "ingress", NULL),
				 "load balancer ingress IP", "ip", name, lbs,
				 LB_EXTERNAL_ADDRS_MAX);
		ranges = source_ranges(spec, name, &nranges);
		if (etp_local) {
			long long hc = jsonx_int(spec, "healthCheckNodePort", 0);

			out->hc_port = hc >= 1 && hc <= 65535 ? (__u16)hc : 0;
			out->local_endpoints = count_local_ready(slices, nslices, node_name);
		}
	}

	/* Per service port: the cluster IPs, then two views of each external address. */
	out->v = xcalloc(
		json_array_size(jsonx_arr(spec, "ports")) * (nips + 2 * (1 + next + nlbs)) + 1,
		sizeof(*out->v));
	json_array_foreach(jsonx_arr(spec, "ports"), i, port) {
		const char *pname = jsonx_str(port, "name", "");
		const char *proto_name = jsonx_str(port, "protocol", "TCP");
		long long num = jsonx_int(port, "port", 0), np = jsonx_int(port, "nodePort", 0);
		int proto = lb_model_proto(proto_name);
		struct ep_list all = { 0 }, local = { 0 };
		struct port_ctx c = { .out = out,
				      .proto = proto,
				      .timeout = timeout,
				      .pname = pname,
				      .svc_name = name,
				      .keep_terminating = flags & CAPSTAN_SVC_F_AFFINITY };
		const struct ep_list *ext_eps;
		__u32 ext_flags = flags | (etp_local ? CAPSTAN_SVC_F_LOCAL_EXTERNAL : 0);

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
		c.port = htons((uint16_t)num);
		collect_endpoints(slices, nslices, pname, proto, node_name, &all);
		local_endpoints(&all, &local);
		ext_eps = etp_local ? &local : &all;
		for (size_t a = 0; a < nips; a++)
			add_frontend(&c, ips[a], c.port, CAPSTAN_SCOPE_INTERNAL,
				     flags | (itp_local ? CAPSTAN_SVC_F_LOCAL_INTERNAL : 0),
				     CAPSTAN_VIP_F_CLUSTER_IP, itp_local ? &local : &all);
		if (nodeport && node_ip && np >= 1 && np <= 65535) {
			__be16 p = htons((uint16_t)np);

			add_frontend(&c, node_ip, p, CAPSTAN_SCOPE_INTERNAL,
				     flags | CAPSTAN_SVC_F_NODEPORT, 0, &all);
			add_frontend(&c, node_ip, p, CAPSTAN_SCOPE_EXTERNAL,
				     ext_flags | CAPSTAN_SVC_F_NODEPORT, 0, ext_eps);
		}
		for (size_t a = 0; a < next; a++) {
			add_frontend(&c, ext[a], c.port, CAPSTAN_SCOPE_INTERNAL,
				     flags | CAPSTAN_SVC_F_EXTERNAL_IP, CAPSTAN_VIP_F_EXTERNAL,
				     &all);
			add_frontend(&c, ext[a], c.port, CAPSTAN_SCOPE_EXTERNAL,
				     ext_flags | CAPSTAN_SVC_F_EXTERNAL_IP, CAPSTAN_VIP_F_EXTERNAL,
				     ext_eps);
		}
		for (size_t a = 0; a < nlbs; a++) {
			struct lb_frontend *fe;

			add_frontend(&c, lbs[a], c.port, CAPSTAN_SCOPE_INTERNAL,
				     flags | CAPSTAN_SVC_F_LOADBALANCER, CAPSTAN_VIP_F_EXTERNAL,
				     &all);
			fe = add_frontend(&c, lbs[a], c.port, CAPSTAN_SCOPE_EXTERNAL,
					  ext_flags | CAPSTAN_SVC_F_LOADBALANCER |
						  (nranges ? CAPSTAN_SVC_F_SOURCE_RANGES : 0),
					  CAPSTAN_VIP_F_EXTERNAL, ext_eps);
			if (nranges) {
				fe->ranges = xcalloc(nranges, sizeof(*fe->ranges));
				memcpy(fe->ranges, ranges, nranges * sizeof(*ranges));
				fe->nranges = nranges;
			}
		}
		free(all.v);
		free(local.v);
	}
	free(ranges);
	return 0;
}
