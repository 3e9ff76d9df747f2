/*
 * Unit tests for cli/image_layout: reference parsing and normalisation, the
 * distribution spec's name and tag grammars, --add parsing, and opening
 * archives that are not (or not quite) OCI image layouts.
 */
#include "test.h"
#include "util.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/image.h"
#include "cli/image_layout.h"
#include "tar.h"
#include "test_image_fixture.h"

TEST(image_ref_parse_and_normalise)
{
	static const struct {
		const char *in, *domain, *repo, *tag;
	} ok[] = {
		{ "capstan.local/httpd:1", "capstan.local", "httpd", "1" },
		{ "capstan.local/httpd", "capstan.local", "httpd", "latest" },
		{ "busybox", "docker.io", "library/busybox", "latest" },
		{ "docker.io/busybox:1.36", "docker.io", "library/busybox", "1.36" },
		{ "library/busybox:x", "docker.io", "library/busybox", "x" },
		{ "localhost/a/b:v1.2-rc_3", "localhost", "a/b", "v1.2-rc_3" },
		{ "127.0.0.1:5000/team/app:7", "127.0.0.1:5000", "team/app", "7" },
		{ "reg-1.example/a__b.c-d/e", "reg-1.example", "a__b.c-d/e", "latest" },
	};
	static const char *const bad[] = {
		"",
		"UPPER/case",
		"capstan.local/Httpd:1",
		"capstan.local/httpd:",
		"capstan.local/httpd:-x",
		"capstan.local/"
		"httpd@sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"capstan.local//httpd",
		"capstan.local/httpd/",
		"capstan.local/a..b",
		"capstan.local/-a",
		"capstan.local/a-",
		"-bad.host/x",
		"host:99999999/x",
		"capstan.local/../etc",
		"a b",
		"capstan.local/httpd:1:2",
	};
	struct img_ref r;
	char buf[600];

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		ASSERT_MSG(img_ref_parse(ok[i].in, &r) == 0, "rejected %s", ok[i].in);
		ASSERT_STREQ(r.domain, ok[i].domain);
		ASSERT_STREQ(r.repo, ok[i].repo);
		ASSERT_STREQ(r.tag, ok[i].tag);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ASSERT_MSG(img_ref_parse(bad[i], &r) == -EINVAL, "accepted '%s'", bad[i]);
	ASSERT_EQ(img_ref_parse(NULL, &r), -EINVAL);

	ASSERT_OK(img_ref_parse("busybox", &r));
	ASSERT_OK(img_ref_format(&r, buf, sizeof(buf)));
	ASSERT_STREQ(buf, "docker.io/library/busybox:latest");
	ASSERT_EQ(img_ref_format(&r, buf, 10), -ENOSPC);

	/* a tag is at most 128 characters */
	memset(buf, 't', 129);
	buf[129] = '\0';
	ASSERT(!img_tag_is_valid(buf));
	buf[128] = '\0';
	ASSERT(img_tag_is_valid(buf));
	ASSERT(!img_repo_is_valid("a/"));
	ASSERT(!img_repo_is_valid("a/.b"));
	ASSERT(img_repo_is_valid("a---b/c_d"));
	ASSERT(!img_repo_is_valid("a___b"));
}

TEST(image_parse_add_argument)
{
	char *src, *dst;
	int mode;

	ASSERT_OK(img_parse_add("build/images/bin/httpd:/httpd", &src, &dst, &mode));
	ASSERT_STREQ(src, "build/images/bin/httpd");
	ASSERT_STREQ(dst, "/httpd");
	ASSERT_EQ(mode, -1);
	free(src);
	free(dst);

	ASSERT_OK(img_parse_add("a:b:/usr/local/bin/x:0750", &src, &dst, &mode));
	ASSERT_STREQ(src, "a:b");
	ASSERT_STREQ(dst, "/usr/local/bin/x");
	ASSERT_EQ(mode, 0750);
	free(src);
	free(dst);

	ASSERT_EQ(img_parse_add(NULL, &src, &dst, &mode), -EINVAL);
	ASSERT_EQ(img_parse_add("nodst", &src, &dst, &mode), -EINVAL);
	ASSERT_EQ(img_parse_add(":/x", &src, &dst, &mode), -EINVAL);
	ASSERT_EQ(img_parse_add("a:relative", &src, &dst, &mode), -EINVAL);
	ASSERT_EQ(img_parse_add("a:/", &src, &dst, &mode), -EINVAL);
	ASSERT_EQ(img_parse_add("a:/x:", &src, &dst, &mode), -EINVAL);
	ASSERT_EQ(img_parse_add("a:/x:999", &src, &dst, &mode), -EINVAL);
	ASSERT_EQ(img_parse_add("a:/x:-1", &src, &dst, &mode), -EINVAL);
	ASSERT_EQ(img_parse_add("a:/x:17777", &src, &dst, &mode), -EINVAL);
}

static int buf_sink(void *ctx, const void *data, size_t len)
{
	buf_append(ctx, data, len);
	return 0;
}

/* An archive with the given files (name, content pairs, NULL-terminated). */
static const char *make_tar(const char *name, ...)
{
	const char *path = fx_path(name), *entry;
	struct buf out = { 0 };
	struct tar_writer w;
	va_list ap;

	tar_writer_init(&w, buf_sink, &out, 0);
	va_start(ap, name);
	while ((entry = va_arg(ap, const char *)) != NULL) {
		const char *content = va_arg(ap, const char *);

		ASSERT_OK(tar_add_file(&w, entry, 0644, content, strlen(content)));
	}
	va_end(ap);
	ASSERT_OK(tar_finish(&w));
	fx_write(path, out.data, out.len, 0644);
	buf_free(&out);
	return path;
}

static int open_err(const char *path, char *err, size_t errlen)
{
	struct img_archive a;
	int ret = img_archive_open(path, &a, err, errlen);

	if (ret == 0)
		img_archive_close(&a);
	return ret;
}

#define LAYOUT "{\"imageLayoutVersion\":\"1.0.0\"}"
#define ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define ABC_FILE "blobs/sha256/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

TEST(image_archive_open_rejects_what_is_not_a_layout)
{
	char err[512];
	const char *path;

	path = fx_path("missing.tar");
	ASSERT_EQ(open_err(path, err, sizeof(err)), -ENOENT);

	fx_write(fx_path("junk.tar"), "this is not a tar archive, not even close.", 42, 0644);
	ASSERT_EQ(open_err(fx_path("junk.tar"), err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "not a valid tar") != NULL);

	path = make_tar("nolayout.tar", "index.json", "{}", NULL);
	ASSERT_EQ(open_err(path, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "no oci-layout") != NULL);

	path = make_tar("badlayout.tar", "oci-layout", "{}", NULL);
	ASSERT_EQ(open_err(path, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "imageLayoutVersion") != NULL);

	path = make_tar("noindex.tar", "oci-layout", LAYOUT, NULL);
	ASSERT_EQ(open_err(path, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "index.json") != NULL);

	path = make_tar("notjson.tar", "oci-layout", LAYOUT, "index.json", "{\"schemaVersion\":2,",
			NULL);
	ASSERT_EQ(open_err(path, err, sizeof(err)), -EINVAL);

	/* a descriptor with a malformed digest */
	path = make_tar("baddesc.tar", "oci-layout", LAYOUT, "index.json",
			"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":"
			"\"sha256:../../etc/passwd\",\"size\":3}]}",
			NULL);
	ASSERT_EQ(open_err(path, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "not a valid descriptor") != NULL);

	/* a descriptor naming a blob the archive lacks, or with the wrong size */
	path = make_tar("noblob.tar", "oci-layout", LAYOUT, "index.json",
			"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" ABC
			"\",\"size\":3}]}",
			NULL);
	ASSERT_EQ(open_err(path, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "lacks") != NULL);
	path = make_tar("badsize.tar", "oci-layout", LAYOUT, ABC_FILE, "abc", "index.json",
			"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" ABC
			"\",\"size\":4}]}",
			NULL);
	ASSERT_EQ(open_err(path, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "another size") != NULL);

	/* GNU tar's "./" prefixes are fine, and the minimal valid layout opens */
	{
		char dir[512], cmd[1200];
		static const char index[] = "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
					    "\"x\",\"digest\":\"" ABC "\",\"size\":3}]}";

		snprintf(dir, sizeof(dir), "%s/layout", test_tmpdir());
		ASSERT_OK(mkdir(dir, 0755));
		snprintf(cmd, sizeof(cmd), "%s/blobs", dir);
		ASSERT_OK(mkdir(cmd, 0755));
		snprintf(cmd, sizeof(cmd), "%s/blobs/sha256", dir);
		ASSERT_OK(mkdir(cmd, 0755));
		snprintf(cmd, sizeof(cmd), "%s/" ABC_FILE, dir);
		fx_write(cmd, "abc", 3, 0644);
		snprintf(cmd, sizeof(cmd), "%s/oci-layout", dir);
		fx_write(cmd, LAYOUT, strlen(LAYOUT), 0644);
		snprintf(cmd, sizeof(cmd), "%s/index.json", dir);
		fx_write(cmd, index, strlen(index), 0644);
		path = fx_path("gnu.tar");
		snprintf(cmd, sizeof(cmd), "tar -C %s -cf %s .", dir, path);
		ASSERT_EQ(system(cmd), 0);
		ASSERT_MSG(open_err(path, err, sizeof(err)) == 0, "%s", err);
	}
}

TEST(image_archive_copy_verifies_content)
{
	struct img_archive a;
	const struct img_blob *b;
	char err[512];
	const char *path;
	int fd;

	/* "abd" stored under the digest of "abc" */
	path = make_tar("lie.tar", "oci-layout", LAYOUT, ABC_FILE, "abd", "index.json",
			"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" ABC
			"\",\"size\":3}]}",
			NULL);
	ASSERT_OK(img_archive_open(path, &a, err, sizeof(err)));
	b = img_archive_find(&a, ABC);
	ASSERT_NOT_NULL(b);
	ASSERT_NULL(img_archive_find(&a, "sha256:00"));
	fd = open(fx_path("copy"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ASSERT(fd >= 0);
	ASSERT_EQ(img_archive_copy(&a, b, fd), -EBADMSG);
	close(fd);
	ASSERT_NULL(img_archive_json(&a, ABC));
	img_archive_close(&a);
}
