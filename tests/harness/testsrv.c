/* testsrv.c - see testsrv.h. */
#include "testsrv.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct testsrv {
	struct MHD_Daemon *daemon;
	testsrv_handler fn;
	void *ctx;
	char url[64];
	pthread_mutex_t lock;
	int connections;
};

/* Per-request upload buffer, kept in MHD's con_cls. */
struct upload {
	struct buf body;
};

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct testsrv *s = cls;

	if (code != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	pthread_mutex_lock(&s->lock);
	s->connections++;
	pthread_mutex_unlock(&s->lock);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct upload *u = *con_cls;

	if (u) {
		buf_free(&u->body);
		free(u);
		*con_cls = NULL;
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	struct testsrv *s = cls;
	struct upload *u = *con_cls;

	if (!u) {
		u = xcalloc(1, sizeof(*u));
		*con_cls = u;
		return MHD_YES;
	}
	if (*data_size) {
		buf_append(&u->body, data, *data_size);
		*data_size = 0;
		return MHD_YES;
	}
	struct testsrv_request req = {
		.conn = conn,
		.method = method,
		.url = url,
		.body = u->body.data ? u->body.data : "",
		.body_len = u->body.len,
	};
	return s->fn(s->ctx, &req);
}

struct testsrv *testsrv_start(testsrv_handler fn, void *ctx)
{
	struct testsrv *s = xcalloc(1, sizeof(*s));
	const union MHD_DaemonInfo *info;
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	s->fn = fn;
	s->ctx = ctx;
	pthread_mutex_init(&s->lock, NULL);
	s->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
		on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_NOTIFY_COMPLETED,
		on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
	if (!s->daemon) {
		free(s);
		return NULL;
	}
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", info ? info->port : 0);
	return s;
}

const char *testsrv_url(const struct testsrv *s)
{
	return s->url;
}

int testsrv_connections(struct testsrv *s)
{
	int n;

	pthread_mutex_lock(&s->lock);
	n = s->connections;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void testsrv_stop(struct testsrv *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

enum MHD_Result testsrv_reply(struct MHD_Connection *conn, unsigned status,
			      const char *content_type, const char *body)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", content_type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

const char *testsrv_query(const struct testsrv_request *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}
