/*
 * registry.c - see registry.h.
 *
 * libmicrohttpd with a small internal thread pool: every handler answers
 * from memory or hands MHD a file descriptor (blobs and manifests go out
 * with sendfile, never through a user-space buffer), so no handler blocks
 * and four threads keep up with a node's pulls. The listening socket is
 * created here, not by MHD, so that port 0 can be resolved to the real port
 * before registry_start() returns.
 *
 * The store is a reference-counted immutable snapshot. Each request takes a
 * reference under a mutex, after a stat() of index.json has decided whether
 * a newer snapshot must be loaded first; the old one is freed when its last
 * request finishes. A reload that fails (index.json mid-edit by hand, say)
 * keeps serving the previous snapshot.
 *
 * Routing reads the URL from the right, because repository names contain
 * slashes: ".../tags/list", else the last "/manifests/" or "/blobs/".
 */
#include "registry.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "image_layout.h"
#include "log.h"
#include "registry_store.h"
#include "util.h"

#define THREADS 4
#define CONNECTION_LIMIT 512
#define CONNECTION_TIMEOUT_S 60
/* Longest list /tags/list or /_catalog returns in one answer. */
#define LIST_MAX 10000

struct snapshot {
	struct registry_store *store;
	int refs; /* requests using it, +1 while it is current */
};

struct registry {
	struct MHD_Daemon *mhd;
	char *dir;
	uint16_t port;
	pthread_mutex_t lock;
	struct snapshot *current;
};

/* ---------------------------------------------------------------- snapshots */

static void snapshot_put_locked(struct snapshot *s)
{
	if (--s->refs == 0) {
		registry_store_free(s->store);
		free(s);
	}
}

static struct snapshot *snapshot_get(struct registry *r)
{
	struct snapshot *s;

	pthread_mutex_lock(&r->lock);
	if (registry_store_is_stale(r->current->store)) {
		struct registry_store *store;
		char err[512];

		if (registry_store_load(r->dir, &store, err, sizeof(err)) == 0) {
			s = xcalloc(1, sizeof(*s));
			s->store = store;
			s->refs = 1;
			snapshot_put_locked(r->current);
			r->current = s;
			log_info("registry: reloaded %s: %zu repositories", r->dir, store->nrepos);
		} else {
			log_warn("registry: keeping the previous content: %s", err);
		}
	}
	s = r->current;
	s->refs++;
	pthread_mutex_unlock(&r->lock);
	return s;
}

static void snapshot_put(struct registry *r, struct snapshot *s)
{
	pthread_mutex_lock(&r->lock);
	snapshot_put_locked(s);
	pthread_mutex_unlock(&r->lock);
}

/* ---------------------------------------------------------------- answers */

static enum MHD_Result send_response(struct MHD_Connection *conn, unsigned status,
				     struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Docker-Distribution-API-Version", "registry/2.0");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, json_t *body,
				 const char *link)
{
	char *text = json_dumps(body, JSON_COMPACT);
	struct MHD_Response *resp;

	json_decref(body);
	if (!text)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
	if (link)
		MHD_add_response_header(resp, "Link", link);
	return send_response(conn, status, resp);
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *code,
				  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *code,
				  const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return send_json(conn, status,
			 json_pack("{s:[{s:s, s:s%, s:{}}]}", "errors", "code", code, "message",
				   msg, strlen(msg), "detail"),
			 NULL);
}

/*
 * Open a content file and check it still has the size the store recorded
 * (the directory is shared with `registry add` and people). -1 when not.
 */
static int open_blob(const struct registry_store *s, const char *digest, uint64_t *size)
{
	char path[4096];
	struct stat st;
	int fd;

	if (registry_blob_path(s->dir, digest, path, sizeof(path)) != 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (*size && (uint64_t)st.st_size != *size)) {
		close(fd);
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

static enum MHD_Result get_manifest(struct MHD_Connection *conn, const struct registry_store *s,
				    const char *name, const char *ref)
{
	const struct registry_repo *repo = registry_store_repo(s, name);
	const struct registry_manifest *m;
	struct MHD_Response *resp;
	const char *digest = ref;
	uint64_t size;
	int fd;

	if (strchr(ref, ':')) {
		if (!sha256_digest_is_valid(ref))
			return send_error(conn, 400, "DIGEST_INVALID",
					  "unsupported or malformed digest");
	} else if (!img_tag_is_valid(ref)) {
		return send_error(conn, 400, "TAG_INVALID", "malformed tag");
	}
	if (!repo)
		return send_error(conn, 404, "NAME_UNKNOWN", "repository %s is not known", name);
	if (!strchr(ref, ':')) {
		digest = registry_repo_tag(repo, ref);
		if (!digest)
			return send_error(conn, 404, "MANIFEST_UNKNOWN", "%s has no tag %s", name,
					  ref);
	}
	m = registry_repo_manifest(repo, digest);
	size = m ? m->size : 0;
	fd = m ? open_blob(s, digest, &size) : -1;
	if (fd < 0)
		return send_error(conn, 404, "MANIFEST_UNKNOWN", "manifest %s is not in %s", digest,
				  name);
	resp = MHD_create_response_from_fd64(size, fd);
	if (!resp) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", m->media_type);
	MHD_add_response_header(resp, "Docker-Content-Digest", m->digest);
	return send_response(conn, 200, resp);
}

/*
 * A single "bytes=A-B", "bytes=A-" or "bytes=-N" range. 1 with the range,
 * 0 when there is no usable Range header (serve everything, as RFC 9110
 * allows for what it cannot parse), -1 when unsatisfiable.
 */
static int parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
	unsigned long long a, b;
	char *end;

	if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return 0;
	h += 6;
	if (*h == '-') {
		errno = 0;
		b = strtoull(h + 1, &end, 10);
		if (errno || end == h + 1 || *end)
			return 0;
		if (b == 0 || size == 0)
			return -1;
		*len = MIN(b, size);
		*off = size - *len;
		return 1;
	}
	if (*h < '0' || *h > '9')
		return 0;
	errno = 0;
	a = strtoull(h, &end, 10);
	if (errno || *end != '-')
		return 0;
	if (end[1] == '\0') {
		b = size ? size - 1 : 0;
	} else {
		const char *bs = end + 1;

		if (*bs < '0' || *bs > '9')
			return 0;
		b = strtoull(bs, &end, 10);
		if (errno || *end || b < a)
			return 0;
	}
	if (a >= size)
		return -1;
	b = MIN(b, size - 1);
	*off = a;
	*len = b - a + 1;
	return 1;
}

static enum MHD_Result get_blob(struct MHD_Connection *conn, const struct registry_store *s,
				const char *name, const char *digest)
{
	const struct registry_repo *repo = registry_store_repo(s, name);
	const char *range = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Range");
	struct MHD_Response *resp;
	uint64_t size = 0, off = 0, len = 0;
	char cr[96];
	int fd, r;

	if (!sha256_digest_is_valid(digest))
		return send_error(conn, 400, "DIGEST_INVALID", "unsupported or malformed digest");
	if (!repo)
		return send_error(conn, 404, "NAME_UNKNOWN", "repository %s is not known", name);
	fd = registry_repo_has_blob(repo, digest) ? open_blob(s, digest, &size) : -1;
	if (fd < 0)
		return send_error(conn, 404, "BLOB_UNKNOWN", "blob %s is not in %s", digest, name);
	r = parse_range(range, size, &off, &len);
	if (r < 0) {
		close(fd);
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
		if (resp)
			MHD_add_response_header(resp, "Content-Range", cr);
		return send_response(conn, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp);
	}
	resp = r ? MHD_create_response_from_fd_at_offset64(len, fd, off)
		 : MHD_create_response_from_fd64(size, fd);
	if (!resp) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
	MHD_add_response_header(resp, "Docker-Content-Digest", digest);
	MHD_add_response_header(resp, "Accept-Ranges", "bytes");
	if (r) {
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)off,
			 (unsigned long long)(off + len - 1), (unsigned long long)size);
		MHD_add_response_header(resp, "Content-Range", cr);
	}
	return send_response(conn, r ? 206 : 200, resp);
}

/*
 * The page of a sorted list after `last`, at most n (query values) long;
 * sets *link to the next page's Link header value when the list was cut.
 */
static json_t *page(struct MHD_Connection *conn, const char *const *items, size_t count,
		    const char *base, char **link)
{
	const char *ns = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "n");
	const char *last = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "last");
	unsigned long n = LIST_MAX;
	json_t *arr = json_array();
	size_t i = 0;

	if (ns) {
		char *end;

		errno = 0;
		n = strtoul(ns, &end, 10);
		if (errno || end == ns || *end || n > LIST_MAX)
			n = LIST_MAX;
	}
	if (last)
		while (i < count && strcmp(items[i], last) <= 0)
			i++;
	for (; i < count && json_array_size(arr) < n; i++)
		json_array_append_new(arr, json_string(items[i]));
	*link = NULL;
	if (i < count && json_array_size(arr) > 0)
		*link = xasprintf("<%s?n=%lu&last=%s>; rel=\"next\"", base, n,
				  json_string_value(json_array_get(arr, json_array_size(arr) - 1)));
	return arr;
}

static enum MHD_Result get_tags(struct MHD_Connection *conn, const struct registry_store *s,
				const char *name)
{
	const struct registry_repo *repo = registry_store_repo(s, name);
	const char **items;
	char *base, *link;
	json_t *tags;
	enum MHD_Result ret;

	if (!repo)
		return send_error(conn, 404, "NAME_UNKNOWN", "repository %s is not known", name);
	items = xcalloc(repo->ntags + 1, sizeof(*items));
	for (size_t i = 0; i < repo->ntags; i++)
		items[i] = repo->tags[i].name;
	base = xasprintf("/v2/%s/tags/list", name);
	tags = page(conn, items, repo->ntags, base, &link);
	ret = send_json(conn, 200, json_pack("{s:s, s:o}", "name", name, "tags", tags), link);
	free(link);
	free(base);
	free(items);
	return ret;
}

static enum MHD_Result get_catalog(struct MHD_Connection *conn, const struct registry_store *s)
{
	const char **items = xcalloc(s->nrepos + 1, sizeof(*items));
	char *link;
	json_t *repos;
	enum MHD_Result ret;

	for (size_t i = 0; i < s->nrepos; i++)
		items[i] = s->repos[i].name;
	repos = page(conn, items, s->nrepos, "/v2/_catalog", &link);
	ret = send_json(conn, 200, json_pack("{s:o}", "repositories", repos), link);
	free(link);
	free(items);
	return ret;
}

/* Where the last occurrence of suffix starts in path, or NULL. */
static const char *last_hit(const char *path, const char *suffix)
{
	const char *hit = NULL, *p = path;

	while ((p = strstr(p, suffix)) != NULL)
		hit = p++;
	return hit;
}

static enum MHD_Result route(struct MHD_Connection *conn, const struct registry_store *s,
			     const char *url)
{
	const char *path, *rest, *m, *b;
	char *name = NULL;
	enum MHD_Result ret;
	size_t len;

	if (!strcmp(url, "/v2/") || !strcmp(url, "/v2"))
		return send_json(conn, 200, json_object(), NULL);
	if (strncmp(url, "/v2/", 4) != 0)
		return send_error(conn, 404, "UNSUPPORTED", "not a registry API path");
	path = url + 4;
	if (!strcmp(path, "_catalog"))
		return get_catalog(conn, s);
	len = strlen(path);
	m = last_hit(path, "/manifests/");
	b = last_hit(path, "/blobs/");
	if (len > 10 && !strcmp(path + len - 10, "/tags/list")) {
		name = xstrndup(path, len - 10);
		ret = img_repo_is_valid(name)
			      ? get_tags(conn, s, name)
			      : send_error(conn, 400, "NAME_INVALID", "invalid repository name");
	} else if (m || b) {
		/* The later keyword is the endpoint; the earlier belongs to the name. */
		bool manifests = m && (!b || m > b);
		const char *hit = manifests ? m : b;

		name = xstrndup(path, (size_t)(hit - path));
		rest = hit + (manifests ? 11 : 7);
		if (!img_repo_is_valid(name))
			ret = send_error(conn, 400, "NAME_INVALID", "invalid repository name");
		else if (manifests)
			ret = get_manifest(conn, s, name, rest);
		else
			ret = get_blob(conn, s, name, rest);
	} else {
		ret = send_error(conn, 404, "UNSUPPORTED", "not a registry API path");
	}
	free(name);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct registry *r = cls;
	struct snapshot *snap;
	enum MHD_Result ret;

	log_debug("registry: %s %s", method, url);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		struct MHD_Response *resp;
		char *text = xstrdup("{\"errors\":[{\"code\":\"UNSUPPORTED\","
				     "\"message\":\"this registry is read-only\",\"detail\":{}}]}");

		resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
		if (!resp) {
			free(text);
			return MHD_NO;
		}
		MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
		MHD_add_response_header(resp, "Allow", "GET, HEAD");
		return send_response(conn, 405, resp);
	}
	snap = snapshot_get(r);
	ret = route(conn, snap->store, url);
	snapshot_put(r, snap);
	return ret;
}

/* ---------------------------------------------------------------- lifecycle */

static int listen_socket(const char *addr, uint16_t *port, char *err, size_t errlen)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	const char *colon = addr ? strrchr(addr, ':') : NULL;
	char host[INET_ADDRSTRLEN];
	unsigned long p;
	char *end;
	int fd, one = 1, ret;

	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		goto bad;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || p > 65535 ||
	    inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		goto bad;
	sin.sin_port = htons((uint16_t)p);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		errbuf_setf(err, errlen, "socket: %s", strerror(-ret));
		return ret;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(fd, 128) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &slen) != 0) {
		ret = -errno;
		errbuf_setf(err, errlen, "listen on %s: %s", addr, strerror(-ret));
		close(fd);
		return ret;
	}
	*port = ntohs(sin.sin_port);
	return fd;
bad:
	errbuf_setf(err, errlen, "listen address '%s' must be IPV4:PORT, e.g. %s", addr ? addr : "",
		    REGISTRY_DEFAULT_LISTEN);
	return -EINVAL;
}

int registry_start(const char *dir, const char *listen, struct registry **out, char *err,
		   size_t errlen)
{
	struct registry *r;
	struct registry_store *store;
	int fd, ret;

	ret = registry_store_load(dir, &store, err, errlen);
	if (ret)
		return ret;
	r = xcalloc(1, sizeof(*r));
	r->dir = xstrdup(dir);
	pthread_mutex_init(&r->lock, NULL);
	r->current = xcalloc(1, sizeof(*r->current));
	r->current->store = store;
	r->current->refs = 1;
	fd = listen_socket(listen, &r->port, err, errlen);
	if (fd < 0) {
		ret = fd;
		goto fail;
	}
	r->mhd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, handle, r,
				  MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE,
				  (unsigned)THREADS, MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
				  (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_END);
	if (!r->mhd) {
		close(fd);
		errbuf_setf(err, errlen, "libmicrohttpd did not start on %s", listen);
		ret = -EIO;
		goto fail;
	}
	*out = r;
	return 0;
fail:
	registry_stop(r);
	return ret;
}

uint16_t registry_port(const struct registry *r)
{
	return r->port;
}

void registry_stop(struct registry *r)
{
	if (!r)
		return;
	if (r->mhd)
		MHD_stop_daemon(r->mhd); /* closes the listening socket too */
	snapshot_put_locked(r->current);
	pthread_mutex_destroy(&r->lock);
	free(r->dir);
	free(r);
}

/* ---------------------------------------------------------------- hosts.toml */

static bool toml_safe(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (*s == '"' || *s == '\\' || *s == '\n' || *s == '\r' || (unsigned char)*s < 0x20)
			return false;
	return true;
}

int registry_write_hosts_toml(const char *config_path, const char *host, const char *server_url)
{
	char *dir = NULL, *path = NULL, *text = NULL;
	FILE *f = NULL;
	int ret = 0;

	if (!toml_safe(host) || strchr(host, '/') || !strcmp(host, ".") || !strcmp(host, "..") ||
	    !toml_safe(server_url) ||
	    (strncmp(server_url, "http://", 7) != 0 && strncmp(server_url, "https://", 8) != 0))
		return -EINVAL;
	dir = xasprintf("%s/%s", config_path, host);
	if (mkdir(config_path, 0755) != 0 && errno != EEXIST) {
		ret = -errno;
		goto out;
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		ret = -errno;
		goto out;
	}
	path = xasprintf("%s/hosts.toml", dir);
	text = xasprintf("# Written by capstan registry hosts: pull %s from capstan's registry.\n"
			 "server = \"%s\"\n"
			 "\n"
			 "[host.\"%s\"]\n"
			 "  capabilities = [\"pull\", \"resolve\"]\n",
			 host, server_url, server_url);
	f = fopen(path, "we");
	if (!f) {
		ret = -errno;
		goto out;
	}
	if (fputs(text, f) == EOF)
		ret = -EIO;
	if (fclose(f) != 0 && !ret)
		ret = -errno;
out:
	free(text);
	free(path);
	free(dir);
	return ret;
}

/* ---------------------------------------------------------------- CLI */

void registry_cli_usage(FILE *f)
{
	fprintf(f,
		"usage: capstan registry COMMAND [options]\n"
		"\n"
		"A read-only OCI registry over plain HTTP, for `capstan image build` images.\n"
		"\n"
		"Commands:\n"
		"  serve --dir DIR [--listen ADDR]   serve the OCI layout in DIR (default listen\n"
		"                                    %s) until SIGINT/SIGTERM\n"
		"  add --dir DIR IMAGE.tar...        add image tarballs to DIR (made if missing)\n"
		"  list --dir DIR                    repositories, tags and manifest digests\n"
		"  hosts --config-path DIR [--host HOST] [--server URL]\n"
		"                                    write DIR/HOST/hosts.toml (default %s,\n"
		"                                    http://%s) for containerd's registry\n"
		"                                    config_path or ctr --hosts-dir\n"
		"\n"
		"Image names map to repositories without their host: capstan.local/httpd:1 is\n"
		"GET /v2/httpd/manifests/1. containerd finds the registry through\n"
		"<config_path>/capstan.local/hosts.toml:\n"
		"  server = \"http://%s\"\n"
		"  [host.\"http://%s\"]\n"
		"    capabilities = [\"pull\", \"resolve\"]\n",
		REGISTRY_DEFAULT_LISTEN, REGISTRY_DEFAULT_HOST, REGISTRY_DEFAULT_LISTEN,
		REGISTRY_DEFAULT_LISTEN, REGISTRY_DEFAULT_LISTEN);
}

struct cli_opts {
	const char *dir, *listen, *config_path, *host, *server;
};

/* Options of every subcommand in one table; each command checks what it needs. */
static int parse_opts(int argc, char **argv, struct cli_opts *o)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "config-path", required_argument, NULL, 'c' },
		{ "host", required_argument, NULL, 'H' },
		{ "server", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		LOG_LONG_OPTIONS,
		{ 0 },
	};
	int opt;

	optind = 0; /* restarts GNU getopt: the caller parsed argv too */
	while ((opt = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		int r = log_handle_option(opt, optarg);

		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		switch (opt) {
		case 'd':
			o->dir = optarg;
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 'c':
			o->config_path = optarg;
			break;
		case 'H':
			o->host = optarg;
			break;
		case 's':
			o->server = optarg;
			break;
		case 'h':
			registry_cli_usage(stdout);
			return 1;
		default:
			registry_cli_usage(stderr);
			return 2;
		}
	}
	return 0;
}

static int cmd_serve(const struct cli_opts *o, int nargs)
{
	struct registry *r;
	char err[1024];
	sigset_t set;
	int sig;

	if (!o->dir || nargs) {
		fprintf(stderr, "capstan registry serve: needs --dir DIR and no other arguments\n");
		return 2;
	}
	/* Block the stop signals before the server threads exist, so they inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (registry_start(o->dir, o->listen ? o->listen : REGISTRY_DEFAULT_LISTEN, &r, err,
			   sizeof(err)) != 0) {
		fprintf(stderr, "capstan registry serve: %s\n", err);
		return 1;
	}
	log_info("registry: serving %s on port %u", o->dir, registry_port(r));
	printf("serving %s on http://%s (port %u)\n", o->dir,
	       o->listen ? o->listen : REGISTRY_DEFAULT_LISTEN, registry_port(r));
	fflush(stdout);
	sigwait(&set, &sig);
	registry_stop(r);
	return 0;
}

static int cmd_add(const struct cli_opts *o, int argc, char **argv)
{
	char err[1024];
	int rc = 0;

	if (!o->dir || argc == 0) {
		fprintf(stderr, "capstan registry add: needs --dir DIR and IMAGE.tar...\n");
		return 2;
	}
	for (int i = 0; i < argc; i++) {
		if (registry_add(o->dir, argv[i], err, sizeof(err)) != 0) {
			fprintf(stderr, "capstan registry add: %s\n", err);
			rc = 1;
			continue;
		}
		printf("added %s to %s\n", argv[i], o->dir);
	}
	return rc;
}

static int cmd_list(const struct cli_opts *o, int nargs)
{
	struct registry_store *s;
	char err[1024];

	if (!o->dir || nargs) {
		fprintf(stderr, "capstan registry list: needs --dir DIR\n");
		return 2;
	}
	if (registry_store_load(o->dir, &s, err, sizeof(err)) != 0) {
		fprintf(stderr, "capstan registry list: %s\n", err);
		return 1;
	}
	for (size_t i = 0; i < s->nrepos; i++)
		for (size_t j = 0; j < s->repos[i].ntags; j++)
			printf("%s:%s\t%s\n", s->repos[i].name, s->repos[i].tags[j].name,
			       s->repos[i].tags[j].digest);
	registry_store_free(s);
	return 0;
}

static int cmd_hosts(const struct cli_opts *o, int nargs)
{
	const char *host = o->host ? o->host : REGISTRY_DEFAULT_HOST;
	char *server =
		o->server ? xstrdup(o->server) : xasprintf("http://%s", REGISTRY_DEFAULT_LISTEN);
	int ret;

	if (!o->config_path || nargs) {
		fprintf(stderr, "capstan registry hosts: needs --config-path DIR\n");
		free(server);
		return 2;
	}
	ret = registry_write_hosts_toml(o->config_path, host, server);
	if (ret)
		fprintf(stderr, "capstan registry hosts: %s/%s/hosts.toml: %s\n", o->config_path,
			host, ret == -EINVAL ? "bad host or server URL" : strerror(-ret));
	else
		printf("%s/%s/hosts.toml: %s -> %s\n", o->config_path, host, host, server);
	free(server);
	return ret ? 1 : 0;
}

int registry_cli_main(int argc, char **argv)
{
	struct cli_opts o = { 0 };
	const char *cmd;
	int r;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		registry_cli_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	r = parse_opts(argc - 1, argv + 1, &o);
	if (r)
		return r == 1 ? 0 : r;
	argc -= optind + 1;
	argv += optind + 1;
	if (!strcmp(cmd, "serve"))
		return cmd_serve(&o, argc);
	if (!strcmp(cmd, "add"))
		return cmd_add(&o, argc, argv);
	if (!strcmp(cmd, "list"))
		return cmd_list(&o, argc);
	if (!strcmp(cmd, "hosts"))
		return cmd_hosts(&o, argc);
	fprintf(stderr, "capstan registry: unknown command '%s' (see capstan registry --help)\n",
		cmd);
	return 2;
}
