/*
 * server.h - the kubelet's HTTP port (server.c): /healthz, /metrics and
 * /containerLogs/<namespace>/<pod>/<container>, the endpoint the API
 * server proxies `kubectl logs` to.
 *
 * libmicrohttpd with one thread per connection, because a followed log is
 * a long, mostly idle response: its content callback blocks in
 * logs_reader_read() for a few hundred milliseconds at a time and, between
 * waits, checks whether the client hung up (poll for POLLRDHUP on the
 * connection's socket) and whether the server is stopping, so neither a
 * vanished client nor a shutdown leaves a thread behind. A suspended-
 * connection design would need a timer and a file watcher per stream to
 * resume them; the thread is simpler and the number of followers on one
 * node is small.
 *
 * A follow ends when the container instance being read is gone: asked at
 * most once a second at the end of the file, "gone" means the pod lookup
 * now names another log file (a restart) or none, or the runtime lists no
 * running container with the pod's and container's labels.
 *
 * Plain HTTP (upstream serves HTTPS with client authentication on 10250):
 * the API server is the only intended client, and the log proxy speaks
 * http:// to it.
 */
#ifndef CAPSTAN_KUBELET_SERVER_H
#define CAPSTAN_KUBELET_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/kubelet/kubelet.h"

/* What the server needs from the rest of the kubelet; tests pass fakes. */
struct kl_server_ops {
	/* pods_container_log_path()'s contract. */
	int (*log_path)(struct kubelet *k, const char *ns, const char *pod, const char *container,
			bool previous, char *buf, size_t len);
	/* Is a container of that name running in the pod? */
	bool (*container_running)(struct kubelet *k, const char *ns, const char *pod,
				  const char *container);
	/* pods_running_count(). */
	int (*running_pods)(struct kubelet *k);
};

/*
 * Serve on addr (NULL: every address, IPv6 and IPv4) and port (0: an
 * ephemeral one, see kl_server_port). ops NULL: the real kubelet's. 0 or
 * -errno (-EADDRINUSE, -EINVAL for a bad address).
 */
int kl_server_start_opts(struct kubelet *k, const char *addr, int port,
			 const struct kl_server_ops *ops);
/* The port the server is bound to, or -1 when it is not running. */
int kl_server_port(struct kubelet *k);

#endif
