/*
 * Unit tests for cli/registry and cli/registry_store: `registry add` into a
 * layout directory (content verification, replacement by name, unnamed and
 * corrupt tarballs), and an in-process server answering the distribution
 * API: /v2/, manifests by tag and digest, blobs (whole, ranges), HEAD,
 * tags and catalog with pagination, 404s with the error JSON, bad names and
 * digests, "../" in every position, methods other than GET and HEAD, and
 * picking up a new index.json while it runs.
 */
#include "test.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/image_layout.h"
#include "cli/registry.h"
#include "cli/registry_store.h"
#include "jsonx.h"
#include "log.h"
#include "sha256.h"
#include "test_image_fixture.h"

struct world {
	char store[512];
	struct img_result httpd, echo, other;
	struct registry *reg;
	uint16_t port;
};

static struct world *w;

static void stop_registry(void)
{
	if (w && w->reg)
		registry_stop(w->reg);
	free(w);
	w = NULL;
}

/* Two repositories: httpd (tags 1 and 2) and udp-echo (tag 1), served on a free port. */
static void setup(void)
{
	char err[512];

	log_set_level("error"); /* reloads and skips are logged at info/warn */
	w = xcalloc(1, sizeof(*w));
	test_defer(stop_registry);
	snprintf(w->store, sizeof(w->store), "%s/store", test_tmpdir());
	ASSERT_OK(registry_add(w->store,
			       fx_image("capstan.local/httpd:1", "h1", "httpd v1", &w->httpd), err,
			       sizeof(err)));
	ASSERT_OK(registry_add(w->store,
			       fx_image("capstan.local/httpd:2", "h2", "httpd v2", &w->other), err,
			       sizeof(err)));
	ASSERT_OK(registry_add(w->store,
			       fx_image("capstan.local/udp-echo:1", "u1", "echo", &w->echo), err,
			       sizeof(err)));
	ASSERT_MSG(registry_start(w->store, "127.0.0.1:0", &w->reg, err, sizeof(err)) == 0, "%s",
		   err);
	w->port = registry_port(w->reg);
	ASSERT(w->port != 0);
}

static const char *error_code(const struct fx_http *r)
{
	static char code[64];
	json_t *j = json_loads(r->body, 0, NULL);

	snprintf(code, sizeof(code), "%s", jsonx_path_str(j, "errors[0].code", "(none)"));
	ASSERT_MSG(json_is_string(jsonx_get_path(j, "errors[0].message")), "no message in %s",
		   r->body);
	json_decref(j);
	return code;
}

static void expect_error(const char *method, const char *path, int status, const char *code)
{
	struct fx_http r;
	char h[128];

	fx_http(w->port, method, path, NULL, &r);
	ASSERT_MSG(r.status == status, "%s %s: status %d, want %d", method, path, r.status, status);
	/* HEAD answers carry no body, so no error document */
	if (strcmp(method, "HEAD") != 0)
		ASSERT_MSG(!strcmp(error_code(&r), code), "%s %s: code %s, want %s", method, path,
			   error_code(&r), code);
	ASSERT_STREQ(fx_header(&r, "Docker-Distribution-API-Version", h, sizeof(h)),
		     "registry/2.0");
	ASSERT(!strstr(r.body, "root:"));
	fx_http_free(&r);
}

TEST(registry_base_endpoint)
{
	struct fx_http r;
	char h[128];

	setup();
	fx_http(w->port, "GET", "/v2/", NULL, &r);
	ASSERT_EQ(r.status, 200);
	ASSERT_STREQ(fx_header(&r, "Docker-Distribution-API-Version", h, sizeof(h)),
		     "registry/2.0");
	ASSERT_STREQ(r.body, "{}");
	fx_http_free(&r);
}

static void sha_of(const struct fx_http *r, char out[SHA256_DIGEST_STR_LEN])
{
	struct sha256 s;

	sha256_init(&s);
	sha256_update(&s, r->body, r->body_len);
	sha256_final_str(&s, out);
}

TEST(registry_manifest_by_tag_and_digest)
{
	struct fx_http r;
	char h[256], got[SHA256_DIGEST_STR_LEN], path[256];

	setup();
	fx_http(w->port, "GET", "/v2/httpd/manifests/1", NULL, &r);
	ASSERT_EQ(r.status, 200);
	ASSERT_STREQ(fx_header(&r, "Content-Type", h, sizeof(h)), IMG_MT_MANIFEST);
	ASSERT_STREQ(fx_header(&r, "Docker-Content-Digest", h, sizeof(h)),
		     w->httpd.manifest_digest);
	ASSERT_EQ(atoll(fx_header(&r, "Content-Length", h, sizeof(h))), (long long)r.body_len);
	ASSERT_EQ(r.body_len, w->httpd.manifest_size);
	sha_of(&r, got);
	ASSERT_STREQ(got, w->httpd.manifest_digest);
	fx_http_free(&r);

	/* tag 2 is another manifest of the same repository */
	fx_http(w->port, "GET", "/v2/httpd/manifests/2", NULL, &r);
	ASSERT_EQ(r.status, 200);
	ASSERT_STREQ(fx_header(&r, "Docker-Content-Digest", h, sizeof(h)),
		     w->other.manifest_digest);
	fx_http_free(&r);

	snprintf(path, sizeof(path), "/v2/httpd/manifests/%s", w->httpd.manifest_digest);
	fx_http(w->port, "GET", path, NULL, &r);
	ASSERT_EQ(r.status, 200);
	sha_of(&r, got);
	ASSERT_STREQ(got, w->httpd.manifest_digest);
	fx_http_free(&r);

	/* HEAD: the same headers, no body */
	fx_http(w->port, "HEAD", "/v2/httpd/manifests/1", NULL, &r);
	ASSERT_EQ(r.status, 200);
	ASSERT_EQ(r.body_len, 0);
	ASSERT_EQ(atoll(fx_header(&r, "Content-Length", h, sizeof(h))),
		  (long long)w->httpd.manifest_size);
	ASSERT_STREQ(fx_header(&r, "Docker-Content-Digest", h, sizeof(h)),
		     w->httpd.manifest_digest);
	ASSERT_STREQ(fx_header(&r, "Content-Type", h, sizeof(h)), IMG_MT_MANIFEST);
	fx_http_free(&r);
}

TEST(registry_blobs_whole_head_and_ranges)
{
	struct fx_http r;
	char h[256], got[SHA256_DIGEST_STR_LEN], path[256], *whole;
	size_t size;

	setup();
	snprintf(path, sizeof(path), "/v2/httpd/blobs/%s", w->httpd.layer_digest);
	fx_http(w->port, "GET", path, NULL, &r);
	ASSERT_EQ(r.status, 200);
	ASSERT_EQ(r.body_len, w->httpd.layer_size);
	sha_of(&r, got);
	ASSERT_STREQ(got, w->httpd.layer_digest);
	ASSERT_STREQ(fx_header(&r, "Docker-Content-Digest", h, sizeof(h)), w->httpd.layer_digest);
	ASSERT_STREQ(fx_header(&r, "Content-Type", h, sizeof(h)), "application/octet-stream");
	whole = r.body;
	size = r.body_len;

	snprintf(path, sizeof(path), "/v2/httpd/blobs/%s", w->httpd.config_digest);
	fx_http(w->port, "GET", path, NULL, &r);
	ASSERT_EQ(r.status, 200);
	sha_of(&r, got);
	ASSERT_STREQ(got, w->httpd.config_digest);
	fx_http_free(&r);

	snprintf(path, sizeof(path), "/v2/httpd/blobs/%s", w->httpd.layer_digest);
	fx_http(w->port, "HEAD", path, NULL, &r);
	ASSERT_EQ(r.status, 200);
	ASSERT_EQ(r.body_len, 0);
	ASSERT_EQ(atoll(fx_header(&r, "Content-Length", h, sizeof(h))), (long long)size);
	fx_http_free(&r);

	fx_http(w->port, "GET", path, "Range: bytes=10-19\r\n", &r);
	ASSERT_EQ(r.status, 206);
	ASSERT_EQ(r.body_len, 10);
	ASSERT(memcmp(r.body, whole + 10, 10) == 0);
	snprintf(got, sizeof(got), "bytes 10-19/%zu", size);
	ASSERT_STREQ(fx_header(&r, "Content-Range", h, sizeof(h)), got);
	fx_http_free(&r);

	fx_http(w->port, "GET", path, "Range: bytes=-7\r\n", &r);
	ASSERT_EQ(r.status, 206);
	ASSERT_EQ(r.body_len, 7);
	ASSERT(memcmp(r.body, whole + size - 7, 7) == 0);
	fx_http_free(&r);

	fx_http(w->port, "GET", path, "Range: bytes=512-\r\n", &r);
	ASSERT_EQ(r.status, 206);
	ASSERT_EQ(r.body_len, size - 512);
	fx_http_free(&r);

	fx_http(w->port, "GET", path, "Range: bytes=99999999-\r\n", &r);
	ASSERT_EQ(r.status, 416);
	snprintf(got, sizeof(got), "bytes */%zu", size);
	ASSERT_STREQ(fx_header(&r, "Content-Range", h, sizeof(h)), got);
	fx_http_free(&r);

	/* an unparsable range is ignored: the whole blob */
	fx_http(w->port, "GET", path, "Range: pages=1-2\r\n", &r);
	ASSERT_EQ(r.status, 200);
	ASSERT_EQ(r.body_len, size);
	fx_http_free(&r);
	free(whole);
}

TEST(registry_not_found_answers)
{
	char path[256];

	setup();
	expect_error("GET", "/v2/nginx/manifests/1", 404, "NAME_UNKNOWN");
	expect_error("GET", "/v2/httpd/manifests/3", 404, "MANIFEST_UNKNOWN");
	expect_error("HEAD", "/v2/httpd/manifests/latest", 404, "MANIFEST_UNKNOWN");
	expect_error("GET", "/v2/nginx/tags/list", 404, "NAME_UNKNOWN");
	snprintf(path, sizeof(path), "/v2/httpd/blobs/sha256:%064d", 0);
	expect_error("GET", path, 404, "BLOB_UNKNOWN");
	/* blobs are scoped to their repository: udp-echo's layer is not httpd's */
	snprintf(path, sizeof(path), "/v2/httpd/blobs/%s", w->echo.layer_digest);
	expect_error("GET", path, 404, "BLOB_UNKNOWN");
	snprintf(path, sizeof(path), "/v2/udp-echo/manifests/%s", w->httpd.manifest_digest);
	expect_error("GET", path, 404, "MANIFEST_UNKNOWN");
	expect_error("GET", "/", 404, "UNSUPPORTED");
	expect_error("GET", "/v2/httpd", 404, "UNSUPPORTED");
	expect_error("GET", "/v1/_ping", 404, "UNSUPPORTED");
}

TEST(registry_refuses_bad_names_digests_and_traversal)
{
	static const struct {
		const char *path;
		int status;
		const char *code;
	} cases[] = {
		{ "/v2/httpd/blobs/../../../../etc/passwd", 400, "DIGEST_INVALID" },
		{ "/v2/httpd/blobs/sha256:../../../../../etc/passwd", 400, "DIGEST_INVALID" },
		{ "/v2/httpd/blobs/%2e%2e%2f%2e%2e%2fetc%2fpasswd", 400, "DIGEST_INVALID" },
		{ "/v2/../../../etc/passwd/manifests/1", 400, "NAME_INVALID" },
		{ "/v2/httpd/../../manifests/1", 400, "NAME_INVALID" },
		{ "/v2/..%2f..%2fetc/manifests/1", 400, "NAME_INVALID" },
		{ "/v2/httpd/manifests/..%2f..%2fpasswd", 400, "TAG_INVALID" },
		{ "/v2/httpd/manifests/../index.json", 400, "TAG_INVALID" },
		{ "/v2/httpd/manifests/sha512:abcd", 400, "DIGEST_INVALID" },
		{ "/v2/HTTPD/manifests/1", 400, "NAME_INVALID" },
		{ "/v2/httpd/blobs/sha256:ABCDEF", 400, "DIGEST_INVALID" },
		{ "/v2/.../tags/list", 400, "NAME_INVALID" },
		{ "/v2//manifests/1", 400, "NAME_INVALID" },
	};

	setup();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		expect_error("GET", cases[i].path, cases[i].status, cases[i].code);
}

TEST(registry_is_read_only)
{
	static const char *const methods[] = { "PUT", "POST", "DELETE", "PATCH" };
	struct fx_http r;
	char h[64];

	setup();
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
		fx_http(w->port, methods[i], "/v2/httpd/blobs/uploads/", NULL, &r);
		ASSERT_EQ(r.status, 405);
		ASSERT_STREQ(error_code(&r), "UNSUPPORTED");
		ASSERT_STREQ(fx_header(&r, "Allow", h, sizeof(h)), "GET, HEAD");
		fx_http_free(&r);
	}
}

TEST(registry_tags_and_catalog_with_pagination)
{
	struct fx_http r;
	json_t *j;
	char h[256];

	setup();
	fx_http(w->port, "GET", "/v2/httpd/tags/list", NULL, &r);
	ASSERT_EQ(r.status, 200);
	j = json_loads(r.body, 0, NULL);
	ASSERT_STREQ(jsonx_str(j, "name", NULL), "httpd");
	ASSERT_EQ(json_array_size(json_object_get(j, "tags")), 2);
	ASSERT_STREQ(jsonx_path_str(j, "tags[0]", NULL), "1");
	ASSERT_STREQ(jsonx_path_str(j, "tags[1]", NULL), "2");
	ASSERT_NULL(fx_header(&r, "Link", h, sizeof(h)));
	json_decref(j);
	fx_http_free(&r);

	fx_http(w->port, "GET", "/v2/httpd/tags/list?n=1", NULL, &r);
	j = json_loads(r.body, 0, NULL);
	ASSERT_EQ(json_array_size(json_object_get(j, "tags")), 1);
	ASSERT_STREQ(jsonx_path_str(j, "tags[0]", NULL), "1");
	ASSERT_STREQ(fx_header(&r, "Link", h, sizeof(h)),
		     "</v2/httpd/tags/list?n=1&last=1>; rel=\"next\"");
	json_decref(j);
	fx_http_free(&r);

	fx_http(w->port, "GET", "/v2/httpd/tags/list?n=1&last=1", NULL, &r);
	j = json_loads(r.body, 0, NULL);
	ASSERT_STREQ(jsonx_path_str(j, "tags[0]", NULL), "2");
	ASSERT_NULL(fx_header(&r, "Link", h, sizeof(h)));
	json_decref(j);
	fx_http_free(&r);

	fx_http(w->port, "GET", "/v2/_catalog", NULL, &r);
	ASSERT_EQ(r.status, 200);
	ASSERT_STREQ(r.body, "{\"repositories\":[\"httpd\",\"udp-echo\"]}");
	fx_http_free(&r);
}

TEST(registry_serves_a_new_index_without_restart)
{
	struct img_result res;
	struct fx_http r;
	char err[512], h[128];

	setup();
	expect_error("GET", "/v2/pause/manifests/1", 404, "NAME_UNKNOWN");
	ASSERT_OK(registry_add(w->store, fx_image("capstan.local/pause:1", "p1", "pause", &res),
			       err, sizeof(err)));
	fx_http(w->port, "GET", "/v2/pause/manifests/1", NULL, &r);
	ASSERT_EQ(r.status, 200);
	ASSERT_STREQ(fx_header(&r, "Docker-Content-Digest", h, sizeof(h)), res.manifest_digest);
	fx_http_free(&r);

	/* re-adding a name replaces its tag */
	ASSERT_OK(registry_add(w->store, fx_image("capstan.local/pause:1", "p2", "pause v2", &res),
			       err, sizeof(err)));
	fx_http(w->port, "GET", "/v2/pause/manifests/1", NULL, &r);
	ASSERT_STREQ(fx_header(&r, "Docker-Content-Digest", h, sizeof(h)), res.manifest_digest);
	fx_http_free(&r);
}

TEST(registry_leaves_out_an_image_with_missing_content)
{
	char path[600], err[256];
	struct registry_store *s;

	setup();
	/* lose httpd:1's layer: httpd:1 goes, httpd:2 and udp-echo stay */
	ASSERT_OK(registry_blob_path(w->store, w->httpd.layer_digest, path, sizeof(path)));
	ASSERT_OK(unlink(path));
	ASSERT_OK(registry_store_load(w->store, &s, err, sizeof(err)));
	ASSERT_NOT_NULL(registry_store_repo(s, "httpd"));
	ASSERT_NULL(registry_repo_tag(registry_store_repo(s, "httpd"), "1"));
	ASSERT_NOT_NULL(registry_repo_tag(registry_store_repo(s, "httpd"), "2"));
	ASSERT_NOT_NULL(registry_store_repo(s, "udp-echo"));
	ASSERT_EQ(registry_store_is_stale(s), false);
	registry_store_free(s);
}

TEST(registry_add_rejects_bad_tarballs)
{
	char store[512], err[512], index[600], *tar, *before, *after;
	struct img_result res;
	const char *path;
	size_t len, blen, alen;

	log_set_level("error");
	snprintf(store, sizeof(store), "%s/store", test_tmpdir());
	ASSERT_OK(registry_add(store, fx_image("capstan.local/a:1", "a", "aaaa", &res), err,
			       sizeof(err)));
	snprintf(index, sizeof(index), "%s/index.json", store);
	before = fx_read(index, &blen);

	fx_write(fx_path("junk.tar"), "junk", 4, 0644);
	ASSERT_EQ(registry_add(store, fx_path("junk.tar"), err, sizeof(err)), -EINVAL);
	ASSERT_EQ(registry_add(store, fx_path("absent.tar"), err, sizeof(err)), -ENOENT);

	/* flip one byte of the layer's content inside an otherwise valid tarball */
	path = fx_image("capstan.local/b:1", "b",
			"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
			&res);
	tar = fx_read(path, &len);
	{
		char *hit = memmem(tar, len, "bbbbbbbbbbbbbbbbbbbb", 20);

		ASSERT_NOT_NULL(hit);
		hit[3] = 'X';
	}
	fx_write(path, tar, len, 0644);
	free(tar);
	ASSERT_EQ(registry_add(store, path, err, sizeof(err)), -EBADMSG);
	ASSERT_MSG(strstr(err, "does not match its digest") != NULL, "%s", err);

	/* no image name in the index */
	{
		struct img_spec spec = { .ref = "capstan.local/c:1", .mtime = 0 };
		struct img_file f = { fx_path("a.src"), "/app", -1 };
		struct img_archive a;
		char cmd[2048];

		spec.files = &f;
		spec.nfiles = 1;
		ASSERT_OK(img_build(&spec, fx_path("c.tar"), NULL, err, sizeof(err)));
		ASSERT_OK(img_archive_open(fx_path("c.tar"), &a, err, sizeof(err)));
		img_archive_close(&a);
		/* rewrite index.json without annotations with GNU tar */
		snprintf(cmd, sizeof(cmd),
			 "set -e; d=%s/c; mkdir $d; tar -C $d -xf %s; "
			 "sed -i 's/\"annotations\":{[^}]*},//' $d/index.json; "
			 "tar -C $d -cf %s .",
			 test_tmpdir(), fx_path("c.tar"), fx_path("c2.tar"));
		ASSERT_EQ(system(cmd), 0);
		ASSERT_EQ(registry_add(store, fx_path("c2.tar"), err, sizeof(err)), -EINVAL);
		ASSERT_MSG(strstr(err, "names no image") != NULL, "%s", err);
	}

	/* none of this changed the store's index */
	after = fx_read(index, &alen);
	ASSERT_EQ(alen, blen);
	ASSERT(memcmp(before, after, alen) == 0);
	free(before);
	free(after);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

TEST(registry_start_errors_and_no_fd_leak)
{
	struct registry *r;
	char err[256], store[512];
	int before;

	log_set_level("error");
	snprintf(store, sizeof(store), "%s/empty", test_tmpdir());
	ASSERT_OK(mkdir(store, 0755));
	ASSERT_EQ(registry_start(store, "nonsense", &r, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "IPV4:PORT") != NULL);
	ASSERT_EQ(registry_start(store, "127.0.0.1:70000", &r, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(registry_start(store, "::1:5000", &r, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(registry_start(fx_path("absent"), "127.0.0.1:0", &r, err, sizeof(err)), -ENOENT);

	before = count_fds();
	ASSERT_OK(registry_start(store, "127.0.0.1:0", &r, err, sizeof(err)));
	{
		/* an empty store answers the base endpoint and 404s */
		struct fx_http resp;

		fx_http(registry_port(r), "GET", "/v2/", NULL, &resp);
		ASSERT_EQ(resp.status, 200);
		fx_http_free(&resp);
		fx_http(registry_port(r), "GET", "/v2/_catalog", NULL, &resp);
		ASSERT_STREQ(resp.body, "{\"repositories\":[]}");
		fx_http_free(&resp);
	}
	registry_stop(r);
	ASSERT_EQ(count_fds(), before);
	registry_stop(NULL);
}

TEST(registry_hosts_toml)
{
	char path[600], *text;

	snprintf(path, sizeof(path), "%s/certs.d", test_tmpdir());
	ASSERT_OK(registry_write_hosts_toml(path, "capstan.local", "http://127.0.0.1:5000"));
	snprintf(path, sizeof(path), "%s/certs.d/capstan.local/hosts.toml", test_tmpdir());
	text = fx_read(path, NULL);
	ASSERT(strstr(text, "server = \"http://127.0.0.1:5000\"\n") != NULL);
	ASSERT(strstr(text, "[host.\"http://127.0.0.1:5000\"]\n"
			    "  capabilities = [\"pull\", \"resolve\"]\n") != NULL);
	free(text);
	snprintf(path, sizeof(path), "%s/certs.d", test_tmpdir());
	ASSERT_EQ(registry_write_hosts_toml(path, "a\"b", "http://x"), -EINVAL);
	ASSERT_EQ(registry_write_hosts_toml(path, "../up", "http://x"), -EINVAL);
	ASSERT_EQ(registry_write_hosts_toml(path, "..", "http://x"), -EINVAL);
	ASSERT_EQ(registry_write_hosts_toml(path, "h", "ftp://x"), -EINVAL);
	ASSERT_EQ(registry_write_hosts_toml(path, "h", "http://x\"\n[evil]"), -EINVAL);
}

TEST(registry_cli_exit_codes)
{
	char dir[600], tar[600];
	struct img_result res;
	char *no_dir[] = { "registry", "add", tar, NULL };
	char *add[] = { "registry", "add", "--dir", dir, tar, NULL };
	char *add_bad[] = { "registry", "add", "--dir", dir, "/nonexistent.tar", NULL };
	char *list[] = { "registry", "list", "--dir", dir, NULL };
	char *serve_extra[] = { "registry", "serve", "--dir", dir, "extra", NULL };
	char *unknown[] = { "registry", "push", NULL };

	fx_quiet();
	log_set_level("error");
	snprintf(dir, sizeof(dir), "%s/cli-store", test_tmpdir());
	snprintf(tar, sizeof(tar), "%s", fx_image("capstan.local/cli:1", "cli", "x", &res));
	ASSERT_EQ(registry_cli_main(ARRAY_SIZE(no_dir) - 1, no_dir), 2);
	ASSERT_EQ(registry_cli_main(ARRAY_SIZE(add_bad) - 1, add_bad), 1);
	ASSERT_EQ(registry_cli_main(ARRAY_SIZE(add) - 1, add), 0);
	ASSERT_EQ(registry_cli_main(ARRAY_SIZE(list) - 1, list), 0);
	ASSERT_EQ(registry_cli_main(ARRAY_SIZE(serve_extra) - 1, serve_extra), 2);
	ASSERT_EQ(registry_cli_main(ARRAY_SIZE(unknown) - 1, unknown), 2);
}
