/*
 * model.h - what the datapath should hold for one Service: its service
 * ports (address, port, protocol) and, for each, the backends from the
 * Service's EndpointSlices.
 *
 * This is where Kubernetes semantics live, so the map writer below it only
 * deals in addresses and ids:
 *
 *   - only ClusterIP, NodePort and LoadBalancer Services with a real IPv4
 *     cluster IP are programmed; headless ("None") and ExternalName
 *     Services have no service port; IPv6 cluster IPs are skipped (the maps
 *     are IPv4); SCTP ports are skipped;
 *   - a service port's backends come from the slices labelled
 *     kubernetes.io/service-name=<service> in its namespace (the caller
 *     hands exactly those in), through the slice port whose name and
 *     protocol match the service port: that is how a named targetPort
 *     resolves to a number per pod;
 *   - an endpoint is ready when conditions.ready is true or absent and it
 *     is not terminating; only those go into slots. If a service port has
 *     no ready endpoint, its serving terminating endpoints take the slots
 *     instead (kube-proxy does the same since 1.26: connections keep
 *     working through a rolling update of the last pods instead of being
 *     refused);
 *   - for sessionAffinity: ClientIP, serving terminating endpoints that are
 *     not in slots are listed as terminating backends, so the writer keeps
 *     them in the backends map (affinity entries may still name them);
 *   - internalTrafficPolicy: Local keeps the endpoints whose nodeName is
 *     this node;
 *   - an address listed by several slices (they overlap while the
 *     EndpointSlice controller moves endpoints) counts once, in its most
 *     ready state;
 *   - backends are sorted by address and port, so the same input always
 *     gives the same order, and capped at CAPSTAN_MAX_BACKENDS_PER_SVC.
 *
 * North-south (external) frontends. A NodePort or LoadBalancer Service's
 * port is also reached on this node's address at its nodePort, and every
 * Service's port on each of its spec.externalIPs and (LoadBalancer)
 * status.loadBalancer.ingress IPs. Each such frontend has two views: the
 * internal one (scope 0, sockets on the node: every endpoint) and the
 * external one (scope 1, tc/XDP: every endpoint, or with
 * externalTrafficPolicy: Local only this node's, and then the client's
 * address is kept because no SNAT is needed). loadBalancerSourceRanges
 * restricts the external view of the LoadBalancer IPs. Backends whose
 * endpoint runs on this node carry CAPSTAN_BE_F_LOCAL (no SNAT).
 *
 * The digest functions keep only the fields used here; the change tracker
 * compares digests, so an update that touches nothing else (status,
 * annotations, resourceVersion, endpoint hints) is no change at all.
 */
#ifndef CAPSTAN_AGENT_LB_MODEL_H
#define CAPSTAN_AGENT_LB_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "abi.h"

/* Label naming the Service an EndpointSlice belongs to. */
#define LB_LABEL_SERVICE_NAME "kubernetes.io/service-name"
/* sessionAffinityConfig.clientIP.timeoutSeconds when unset (3 hours). */
#define LB_AFFINITY_TIMEOUT_DEFAULT 10800
#define LB_PORT_NAME_MAX 64

/* A loadBalancerSourceRanges entry. */
struct lb_src_range {
	__be32 addr; /* network byte order, host bits clear */
	__u8 len;    /* prefix length, 0..32 */
};

/* One service port (one view of it) and its backends. */
struct lb_frontend {
	__be32 addr;		     /* service address, network byte order */
	__be16 port;		     /* service port, network byte order */
	__u8 proto;		     /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 scope;		     /* CAPSTAN_SCOPE_*: which datapath reads it */
	__u32 flags;		     /* CAPSTAN_SVC_F_* */
	__u32 vip_flags;	     /* CAPSTAN_VIP_F_* of the address; 0: no VIP
				      * entry (the node's own address) */
	struct lb_src_range *ranges; /* CAPSTAN_SVC_F_SOURCE_RANGES: admitted clients */
	size_t nranges;
	__u32 affinity_timeout;		  /* seconds with CAPSTAN_SVC_F_AFFINITY, else 0 */
	char port_name[LB_PORT_NAME_MAX]; /* "" for an unnamed port */
	/*
	 * n_active backends for the slots (state CAPSTAN_BE_ACTIVE), then
	 * n_terminating ones to keep out of the slots (CAPSTAN_BE_TERMINATING).
	 * Each list sorted by address then port; no address appears twice.
	 */
	struct capstan_backend *backends;
	size_t n_active;
	size_t n_terminating;
};

struct lb_service_ports {
	struct lb_frontend *v;
	size_t n;
	/*
	 * externalTrafficPolicy: Local LoadBalancer: the healthCheckNodePort
	 * the agent answers (0: none) and this node's ready endpoints of the
	 * Service (distinct addresses over all its ports).
	 */
	__u16 hc_port;
	__u32 local_endpoints;
};

/* The node the model is built for. */
struct lb_model_node {
	const char *name; /* Node name: endpoints' nodeName is compared with it; may be NULL */
	__be32 addr;	  /* node address for NodePorts, network order; 0: no NodePort frontends */
};

void lb_service_ports_free(struct lb_service_ports *p);

/*
 * The digest of a Service / EndpointSlice: a new object holding only what
 * lb_model_build reads. NULL when obj has no metadata.name.
 */
json_t *lb_model_service_digest(const json_t *svc);
json_t *lb_model_slice_digest(const json_t *slice);

/* The Service an EndpointSlice (or its digest) belongs to, or NULL. */
const char *lb_model_slice_service(const json_t *slice);

/*
 * Build the service ports of svc (a Service or its digest) from its
 * EndpointSlices (objects or digests, in any order) as seen from node
 * (for internalTrafficPolicy: Local; may be NULL, then Local services get
 * no backend). Services that are not programmed give 0 ports.
 * 0 on success with *out filled (release with lb_service_ports_free);
 * -EINVAL with a message in err when svc is not an object or its cluster IP
 * is not an address (*out is then empty).
 */
int lb_model_build(const json_t *svc, const json_t *const *slices, size_t nslices, const char *node,
		   struct lb_service_ports *out, char *err, size_t errlen);
/* The same for a node with an address (NodePort frontends). */
int lb_model_build_node(const json_t *svc, const json_t *const *slices, size_t nslices,
			const struct lb_model_node *node, struct lb_service_ports *out, char *err,
			size_t errlen);

/* IPPROTO_TCP / IPPROTO_UDP for "TCP" / "UDP" (NULL = TCP), 0 for anything else. */
int lb_model_proto(const char *name);

#endif
