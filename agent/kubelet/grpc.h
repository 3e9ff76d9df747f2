/*
 * grpc.h - a small gRPC client for unary calls over HTTP/2 (nghttp2, "h2c
 * with prior knowledge") on a unix socket: the transport under cri.c.
 *
 * A call sends one length-prefixed message and reads one back; the answer's
 * status comes from the grpc-status / grpc-message trailers (or from the
 * headers of a "trailers-only" answer). Messages are opaque bytes here: the
 * protobuf encoding is the caller's business.
 *
 * Concurrency: a struct grpc_client is shared by every thread. Each call
 * takes a connection of its own from a small pool (dialling one when none
 * is idle) and drives it itself, so a long call never delays a short one
 * and no I/O thread is needed. See grpc.c for why this beat multiplexing
 * streams on one connection.
 */
#ifndef CAPSTAN_KUBELET_GRPC_H
#define CAPSTAN_KUBELET_GRPC_H

#include <stddef.h>

/* Largest message sent or accepted (the 5-byte prefix not counted). */
#define GRPC_MAX_MESSAGE (16u << 20)
/* Calls in flight at once, each on its own connection; one more waits (within its timeout). */
#define GRPC_MAX_CONNS 32
/* Idle connections kept for reuse. */
#define GRPC_MAX_IDLE 8

struct grpc_client;

/*
 * socket_path: the unix socket (a filesystem path). Does not connect yet.
 * 0 with *out set; -EINVAL (empty or too long a path) with a message.
 */
int grpc_open(const char *socket_path, struct grpc_client **out, char *err, size_t errlen);
/* Close every connection. No call may be in flight. NULL is ignored. */
void grpc_close(struct grpc_client *g);

/*
 * One unary call to path ("/package.Service/Method") with the serialized
 * request req[0..req_len), within timeout_ms (sent as grpc-timeout too).
 *
 * Returns 0 with *resp (malloc'ed, free() it; never NULL, may hold 0
 * bytes) and *resp_len set; a positive gRPC status code (1..16) with the
 * grpc-message text in err; or -errno with a message in err:
 *   -EINVAL       bad arguments
 *   -EMSGSIZE     request or answer larger than GRPC_MAX_MESSAGE
 *   -ECONNREFUSED nothing listens on the socket (or it does not exist)
 *   -ECONNRESET   the connection or the stream broke before the answer
 *   -ETIMEDOUT    no complete answer within timeout_ms
 *   -EPROTO       a malformed answer (HTTP status, content-type, framing,
 *                 missing grpc-status, more or fewer than one message)
 * *resp and *resp_len are set only on success. A connection that failed is
 * dropped; the next call dials a new one.
 */
int grpc_call(struct grpc_client *g, const char *path, const void *req, size_t req_len, void **resp,
	      size_t *resp_len, int timeout_ms, char *err, size_t errlen);

/* Connections dialled so far (for tests of reuse and re-dialling). */
unsigned grpc_dial_count(struct grpc_client *g);

#endif
