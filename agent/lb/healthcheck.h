/*
 * healthcheck.h - the per-Service health check ports of Services with
 * externalTrafficPolicy: Local (spec.healthCheckNodePort), as kube-proxy
 * serves them: an external load balancer probes every node on that port and
 * sends traffic only to the nodes that answer 200, i.e. those with at least
 * one local endpoint of the Service.
 *
 * Any method GET or HEAD on any path is answered with
 *
 *   200 OK (local endpoints > 0) or 503 Service Unavailable (none)
 *   Content-Type: application/json
 *   X-Content-Type-Options: nosniff
 *   {"service":{"namespace":"NS","name":"NAME"},"localEndpoints":N,"serviceProxyHealthy":true}
 *
 * (kube-proxy pretty-prints the same object). Other methods get 405, broken
 * requests 400, 414, 431 or 505. There is no keep-alive: every response says
 * Connection: close.
 *
 * One server thread runs an epoll loop over every listening socket, an
 * eventfd and every open connection; a node may carry hundreds of these
 * ports, so neither a thread per port (one libmicrohttpd daemon each) nor a
 * thread per connection was acceptable. The thread owns the connections;
 * the listeners and their counts are shared with lb_hc_set() under one
 * mutex. lb_hc_set() opens and closes the listening sockets itself, so a
 * bind error is returned to the caller and a removed port refuses
 * connections as soon as the call returns; the struct of a removed listener
 * is freed by the server thread, which may still hold it in an epoll batch.
 *
 * Hostile or broken clients cost bounded memory and time: a request head
 * must fit in 4 KiB, each connection has one deadline (lb_hc_limits
 * .timeout_ms from accept, covering the request, the response and the
 * lingering close), and past .max_conns open connections the oldest one is
 * closed to make room for the new one, so idle connections cannot lock
 * probes out. Sockets are nonblocking and written with MSG_NOSIGNAL.
 */
#ifndef CAPSTAN_AGENT_LB_HEALTHCHECK_H
#define CAPSTAN_AGENT_LB_HEALTHCHECK_H

#include <stddef.h>
#include <stdint.h>

/* A namespace and a Service name are DNS labels: at most 63 characters. */
#define LB_HC_NAME_MAX 64

#define LB_HC_DEFAULT_TIMEOUT_MS 5000
#define LB_HC_DEFAULT_MAX_CONNS 256

struct lb_hc_service {
	/*
	 * Host byte order. 0 binds an ephemeral port (tests): such entries are
	 * matched across lb_hc_set() calls by namespace and name, and
	 * lb_hc_port() tells the bound port.
	 */
	uint16_t port;
	char ns[LB_HC_NAME_MAX];
	char name[LB_HC_NAME_MAX];
	uint32_t local_endpoints; /* ready endpoints of the Service on this node */
};

struct lb_hc_limits {
	unsigned timeout_ms; /* a connection's whole life; 0: LB_HC_DEFAULT_TIMEOUT_MS */
	unsigned max_conns;  /* open connections over all ports; 0: LB_HC_DEFAULT_MAX_CONNS */
};

struct lb_hc;

/*
 * Start the server thread, holding no port yet. listen_addr is an IPv4 or
 * IPv6 literal every port is bound on (NULL: "0.0.0.0"; "::" is dual-stack).
 * NULL on failure (bad address, no thread), with the reason in err.
 */
struct lb_hc *lb_hc_new(const char *listen_addr, char *err, size_t errlen);
/* The same with limits (NULL: the defaults). */
struct lb_hc *lb_hc_new_limits(const char *listen_addr, const struct lb_hc_limits *lim, char *err,
			       size_t errlen);

/*
 * Make the server serve exactly svcs[0..n): open listeners for new ports,
 * close the ports no longer listed (with their open connections), and update
 * names and counts of the others in place, without touching their sockets.
 * When two entries have the same port the first one wins and the later one
 * fails with -EADDRINUSE.
 *
 * Returns 0, or the -errno of the first entry (in svcs order) that could not
 * be served; every other entry is still applied, and a port that could not
 * be opened is tried again by the next call. err (may be NULL) then says
 * which port failed and why, and how many others did. Thread-safe.
 */
int lb_hc_set(struct lb_hc *hc, const struct lb_hc_service *svcs, size_t n, char *err,
	      size_t errlen);

/*
 * The port bound for the Service ns/name (the requested one, or the
 * ephemeral one chosen for port 0): 1..65535, or -ENOENT when the Service
 * has no open port.
 */
int lb_hc_port(struct lb_hc *hc, const char *ns, const char *name);

/* Stop the thread and close every socket. NULL is a no-op. */
void lb_hc_free(struct lb_hc *hc);

#endif
