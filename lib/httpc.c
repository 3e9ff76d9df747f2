/*
 * httpc.c - see httpc.h.
 *
 * Cancellation: curl offers a progress callback, but it runs only about once
 * a second on an idle stream, which would make every daemon's shutdown (and
 * every test) wait. Instead the handle records the socket curl opens
 * (CURLOPT_OPENSOCKETFUNCTION / CLOSESOCKETFUNCTION) under a mutex, and
 * httpc_cancel() shuts it down: curl's poll wakes with an error at once. The
 * progress callback is kept for the connect phase, before a socket exists.
 *
 * Streaming: the write callback checks the status code on its first call and
 * only frames 2xx bodies into lines; an error answer (a Kubernetes Status)
 * is buffered so the caller can read its reason.
 */
#include "httpc.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "kubeconfig.h"

struct httpc {
	CURL *curl;
	char *server;
	char *auth_header;
	char *user_agent;
	long connect_timeout_ms;
	long timeout_ms;
	atomic_bool cancelled;
	pthread_mutex_t sock_lock;
	curl_socket_t sock; /* the open connection, or CURL_SOCKET_BAD */
	char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
}

static curl_socket_t open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct httpc *c = ctx;
	curl_socket_t fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);

	if (fd < 0)
		return CURL_SOCKET_BAD;
	pthread_mutex_lock(&c->sock_lock);
	c->sock = fd;
	if (atomic_load(&c->cancelled))
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&c->sock_lock);
	return fd;
}

static int close_socket(void *ctx, curl_socket_t fd)
{
	struct httpc *c = ctx;

	pthread_mutex_lock(&c->sock_lock);
	if (c->sock == fd)
		c->sock = CURL_SOCKET_BAD;
	close(fd);
	pthread_mutex_unlock(&c->sock_lock);
	return 0;
}

static int progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		    curl_off_t ulnow)
{
	struct httpc *c = ctx;

	return atomic_load(&c->cancelled) ? 1 : 0;
}

static int set_blob(CURL *curl, CURLoption opt, const char *pem)
{
	struct curl_blob blob = { .data = (void *)pem,
				  .len = strlen(pem),
				  .flags = CURL_BLOB_COPY };

	return curl_easy_setopt(curl, opt, &blob) == CURLE_OK ? 0 : -EINVAL;
}

struct httpc *httpc_new(const struct httpc_config *cfg)
{
	struct httpc *c;
	size_t n;

	if (!cfg->server ||
	    (strncmp(cfg->server, "http://", 7) != 0 && strncmp(cfg->server, "https://", 8) != 0))
		return NULL;
	pthread_once(&curl_once, curl_init_once);

	c = xcalloc(1, sizeof(*c));
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return NULL;
	}
	c->server = xstrdup(cfg->server);
	n = strlen(c->server);
	while (n > 0 && c->server[n - 1] == '/')
		c->server[--n] = '\0';
	if (cfg->token && *cfg->token)
		c->auth_header = xasprintf("Authorization: Bearer %s", cfg->token);
	c->user_agent = xstrdup(cfg->user_agent ? cfg->user_agent : "capstan");
	c->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 5000;
	c->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 30000;
	c->sock = CURL_SOCKET_BAD;
	pthread_mutex_init(&c->sock_lock, NULL);

	/* Options that hold for every request of this handle. */
	CURL *h = c->curl;
	int err = 0;
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, c);
	curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
	curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, c);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (cfg->ca_file)
		err |= curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file) != CURLE_OK;
	if (cfg->ca_pem)
		err |= set_blob(h, CURLOPT_CAINFO_BLOB, cfg->ca_pem);
	if (cfg->cert_file)
		err |= curl_easy_setopt(h, CURLOPT_SSLCERT, cfg->cert_file) != CURLE_OK;
	if (cfg->cert_pem) {
		err |= set_blob(h, CURLOPT_SSLCERT_BLOB, cfg->cert_pem);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (cfg->key_file)
		err |= curl_easy_setopt(h, CURLOPT_SSLKEY, cfg->key_file) != CURLE_OK;
	if (cfg->key_pem) {
		err |= set_blob(h, CURLOPT_SSLKEY_BLOB, cfg->key_pem);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (cfg->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (err) {
		httpc_free(c);
		return NULL;
	}
	return c;
}

void httpc_config_from_kubeconfig(struct httpc_config *cfg, const struct kubeconfig *kc)
{
	*cfg = (struct httpc_config){
		.server = kc->server,
		.ca_file = kc->ca_file,
		.ca_pem = kc->ca_pem,
		.cert_file = kc->client_cert_file,
		.cert_pem = kc->client_cert_pem,
		.key_file = kc->client_key_file,
		.key_pem = kc->client_key_pem,
		.token = kc->token,
		.insecure = kc->insecure_skip_tls_verify,
	};
}

void httpc_free(struct httpc *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	pthread_mutex_destroy(&c->sock_lock);
	free(c->server);
	free(c->auth_header);
	free(c->user_agent);
	free(c);
}

void httpc_cancel(struct httpc *c)
{
	atomic_store(&c->cancelled, true);
	pthread_mutex_lock(&c->sock_lock);
	if (c->sock != CURL_SOCKET_BAD)
		shutdown(c->sock, SHUT_RDWR);
	pthread_mutex_unlock(&c->sock_lock);
}

bool httpc_cancelled(struct httpc *c)
{
	return atomic_load(&c->cancelled);
}

const char *httpc_error(const struct httpc *c)
{
	return c->errbuf;
}

void httpc_response_free(struct httpc_response *resp)
{
	buf_free(&resp->body);
	resp->status = 0;
	resp->content_type[0] = '\0';
}

char *httpc_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	char *r;

	if (!e)
		abort();
	r = xstrdup(e);
	curl_free(e);
	return r;
}

/* State shared by the write callback of one transfer. */
struct transfer {
	struct httpc *c;
	struct httpc_response *resp;
	httpc_line_fn line_fn; /* NULL: buffer everything */
	void *ctx;
	int status_known; /* 0 unknown, 1 stream lines, 2 buffer (error) */
	struct buf line;
	int stop_err; /* why the write callback stopped, -errno */
};

static int deliver_lines(struct transfer *t, const char *data, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;

		if (t->line.len + take > HTTPC_MAX_LINE)
			return -E2BIG;
		if (!nl) {
			buf_append(&t->line, data, take);
			return 0;
		}
		const char *line = data;
		size_t line_len = take;
		if (t->line.len) {
			buf_append(&t->line, data, take);
			line = t->line.data;
			line_len = t->line.len;
		}
		if (line_len > 0 && line[line_len - 1] == '\r')
			line_len--;
		if (line_len > 0 && t->line_fn(t->ctx, line, line_len) != 0)
			return -ECANCELED;
		buf_reset(&t->line);
		data += take + 1;
		len -= take + 1;
	}
	return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct transfer *t = ctx;
	size_t len = size * nmemb;

	if (t->line_fn && !t->status_known) {
		long code = 0;

		curl_easy_getinfo(t->c->curl, CURLINFO_RESPONSE_CODE, &code);
		t->status_known = code >= 200 && code < 300 ? 1 : 2;
	}
	if (t->status_known == 1) {
		int err = deliver_lines(t, data, len);

		if (err) {
			t->stop_err = err;
			return CURL_WRITEFUNC_ERROR;
		}
		return len;
	}
	if (t->resp->body.len + len > HTTPC_MAX_BODY) {
		t->stop_err = -EFBIG;
		return CURL_WRITEFUNC_ERROR;
	}
	buf_append(&t->resp->body, data, len);
	return len;
}

static int curl_to_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_FUNCTION_ARGUMENT:
		return -EINVAL;
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
		return -EPROTO;
	default:
		return -EIO;
	}
}

static int perform(struct httpc *c, const struct httpc_request *req, struct transfer *t)
{
	CURL *h = c->curl;
	struct curl_slist *headers = NULL;
	char hdr[256];
	char *url;
	const char *ct = NULL;
	long timeout = req->timeout_ms ? req->timeout_ms : c->timeout_ms;
	CURLcode rc;
	int err;

	*t->resp = (struct httpc_response){ 0 };
	c->errbuf[0] = '\0';
	if (atomic_load(&c->cancelled))
		return -ECANCELED;
	if (!req->path || req->path[0] != '/')
		return -EINVAL;

	url = xasprintf("%s%s", c->server, req->path);
	snprintf(hdr, sizeof(hdr), "Accept: %s", req->accept ? req->accept : "application/json");
	headers = curl_slist_append(headers, hdr);
	if (req->body) {
		ct = req->content_type ? req->content_type : "application/json";
		snprintf(hdr, sizeof(hdr), "Content-Type: %s", ct);
		headers = curl_slist_append(headers, hdr);
		/* No "Expect: 100-continue" round trip for large bodies. */
		headers = curl_slist_append(headers, "Expect:");
	}
	if (c->auth_header)
		headers = curl_slist_append(headers, c->auth_header);

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout < 0 ? 0L : timeout);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
	/* Reset the method options a previous request may have left behind. */
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
	if (req->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
	} else if (req->method &&
		   (strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0 ||
		    strcmp(req->method, "PATCH") == 0)) {
		/* An empty body with Content-Length: 0, not a GET in disguise. */
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
	}
	if (req->method && strcmp(req->method, "GET") != 0) {
		if (strcmp(req->method, "HEAD") == 0)
			curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		else
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	}

	rc = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
	curl_slist_free_all(headers);
	free(url);

	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &t->resp->status);
	char *rct = NULL;
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &rct);
	if (rct)
		snprintf(t->resp->content_type, sizeof(t->resp->content_type), "%s", rct);

	if (atomic_load(&c->cancelled))
		return -ECANCELED;
	if (rc == CURLE_WRITE_ERROR && t->stop_err)
		return t->stop_err;
	err = curl_to_errno(rc);
	if (err && !c->errbuf[0])
		snprintf(c->errbuf, sizeof(c->errbuf), "%s", curl_easy_strerror(rc));
	return err;
}

int httpc_do(struct httpc *c, const struct httpc_request *req, struct httpc_response *resp)
{
	struct transfer t = { .c = c, .resp = resp };

	return perform(c, req, &t);
}

int httpc_stream_lines(struct httpc *c, const char *path, httpc_line_fn fn, void *ctx,
		       struct httpc_response *resp)
{
	struct httpc_request req = { .path = path, .timeout_ms = -1 };
	struct transfer t = { .c = c, .resp = resp, .line_fn = fn, .ctx = ctx };
	int err = perform(c, &req, &t);

	/* A last line without a newline still counts when the body ended cleanly. */
	if (!err && t.status_known == 1 && t.line.len > 0 && fn(ctx, t.line.data, t.line.len))
		err = -ECANCELED;
	buf_free(&t.line);
	return err;
}

int httpc_json(struct httpc *c, const char *method, const char *path, const json_t *body,
	       json_t **out)
{
	struct httpc_request req = { .method = method, .path = path };
	struct httpc_response resp;
	char *text = NULL;
	int err;

	if (out)
		*out = NULL;
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text)
			return -ENOMEM;
		req.body = text;
		req.body_len = strlen(text);
	}
	err = httpc_do(c, &req, &resp);
	free(text);
	if (err) {
		httpc_response_free(&resp);
		return err;
	}
	if (out && resp.body.len)
		*out = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	err = (int)resp.status;
	httpc_response_free(&resp);
	return err;
}
