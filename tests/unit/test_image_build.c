/*
 * Unit tests for cli/image_build: the OCI layout it writes (every digest in
 * index, manifest and config matches its blob, diff_ids equal the
 * uncompressed layer's digest), the config fields, the layer's entries,
 * byte-for-byte reproducibility, busybox, and every kind of bad spec (with
 * the output left untouched and no temporary file left behind).
 */
#include "test.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/image.h"
#include "cli/image_build.h"
#include "cli/image_layout.h"
#include "jsonx.h"
#include "sha256.h"
#include "tar.h"
#include "test_image_fixture.h"

/* Digest of the blob's bytes in the archive. */
static void blob_digest(const struct img_archive *a, const struct img_blob *b,
			char out[SHA256_DIGEST_STR_LEN])
{
	char *data = xmalloc((size_t)b->size + 1);
	struct sha256 s;

	ASSERT_EQ(pread(a->fd, data, (size_t)b->size, (off_t)b->offset), (ssize_t)b->size);
	sha256_init(&s);
	sha256_update(&s, data, (size_t)b->size);
	sha256_final_str(&s, out);
	free(data);
}

/* Check one descriptor: blob present, size and digest match. Returns the blob. */
static const struct img_blob *check_desc(const struct img_archive *a, const json_t *desc,
					 const char *want_mt)
{
	const char *mt, *digest;
	const struct img_blob *b;
	char got[SHA256_DIGEST_STR_LEN];
	uint64_t size;

	ASSERT_OK(img_descriptor(desc, &mt, &digest, &size));
	ASSERT_STREQ(mt, want_mt);
	b = img_archive_find(a, digest);
	ASSERT_MSG(b != NULL, "blob %s missing", digest);
	ASSERT_EQ(b->size, size);
	blob_digest(a, b, got);
	ASSERT_STREQ(got, digest);
	return b;
}

/* Name -> entry of the layer (a copy of the layer blob read with the tar reader). */
struct layer_view {
	struct tar_entry e[64];
	int n;
	char data[64][64]; /* first bytes of each file */
};

static void read_layer(const struct img_archive *a, const struct img_blob *b, struct layer_view *v)
{
	const char *path = fx_path("layer.tar");
	struct tar_reader r;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644), ret;

	ASSERT(fd >= 0);
	ASSERT_OK(img_archive_copy(a, b, fd));
	ASSERT_OK(tar_reader_init(&r, fd));
	v->n = 0;
	while (v->n < 64 && (ret = tar_next(&r, &v->e[v->n])) == 1) {
		size_t n = MIN(v->e[v->n].size, (uint64_t)63);

		ASSERT_EQ(pread(fd, v->data[v->n], n, (off_t)v->e[v->n].offset), (ssize_t)n);
		v->data[v->n][n] = '\0';
		v->n++;
	}
	ASSERT_EQ(ret, 0);
	close(fd);
}

static int find(const struct layer_view *v, const char *name)
{
	for (int i = 0; i < v->n; i++)
		if (strcmp(v->e[i].name, name) == 0)
			return i;
	return -1;
}

TEST(image_build_layout_digests_and_config)
{
	static const char *const env[] = { "GREETING=hello world", "EMPTY=" };
	static const char *const expose[] = { "80", "5353/udp" };
	struct img_file files[2];
	struct img_spec spec = { 0 };
	struct img_result res;
	struct img_archive a;
	struct layer_view *v = xcalloc(1, sizeof(*v));
	json_t *desc, *manifest, *config, *diff_ids;
	const struct img_blob *mb, *lb;
	char err[512];
	const char *out = fx_path("app.tar");
	int i;

	fx_write(fx_path("app"), "#!/bin/sh\necho hi\n", 18, 0700);
	fx_write(fx_path("conf"), "key=value\n", 10, 0600);
	files[0] = (struct img_file){ fx_path("app"), "/usr/local/bin/app", -1 };
	files[1] = (struct img_file){ fx_path("conf"), "/etc/app.conf", 0640 };
	spec.ref = "capstan.local/app:v2";
	spec.files = files;
	spec.nfiles = 2;
	spec.entrypoint_json = "[\"/usr/local/bin/app\"]";
	spec.cmd_json = "[\"--flag\",\"x y\"]";
	spec.env = env;
	spec.nenv = 2;
	spec.workdir = "/srv";
	spec.expose = expose;
	spec.nexpose = 2;
	spec.mtime = 1700000000;
	spec.arch = "arm64";
	ASSERT_MSG(img_build(&spec, out, &res, err, sizeof(err)) == 0, "%s", err);
	ASSERT_STREQ(res.ref, "capstan.local/app:v2");

	ASSERT_OK(img_archive_open(out, &a, err, sizeof(err)));
	ASSERT_EQ(a.nblobs, 3);
	ASSERT_EQ(json_array_size(json_object_get(a.index, "manifests")), 1);
	ASSERT_STREQ(json_string_value(json_object_get(a.index, "mediaType")), IMG_MT_INDEX);
	desc = json_array_get(json_object_get(a.index, "manifests"), 0);
	mb = check_desc(&a, desc, IMG_MT_MANIFEST);
	ASSERT_STREQ(mb->digest, res.manifest_digest);
	ASSERT_STREQ(jsonx_path_str(desc, "annotations[\"io.containerd.image.name\"]", NULL),
		     "capstan.local/app:v2");
	ASSERT_STREQ(
		jsonx_path_str(desc, "annotations[\"org.opencontainers.image.ref.name\"]", NULL),
		"v2");
	ASSERT_STREQ(jsonx_path_str(desc, "platform.architecture", NULL), "arm64");

	manifest = img_archive_json(&a, res.manifest_digest);
	ASSERT_NOT_NULL(manifest);
	ASSERT_EQ(jsonx_int(manifest, "schemaVersion", 0), 2);
	check_desc(&a, json_object_get(manifest, "config"), IMG_MT_CONFIG);
	ASSERT_EQ(json_array_size(json_object_get(manifest, "layers")), 1);
	lb = check_desc(&a, json_array_get(json_object_get(manifest, "layers"), 0), IMG_MT_LAYER);
	ASSERT_STREQ(lb->digest, res.layer_digest);

	config = img_archive_json(&a, res.config_digest);
	ASSERT_NOT_NULL(config);
	/* uncompressed layer: its diff_id is its digest */
	diff_ids = jsonx_get_path(config, "rootfs.diff_ids");
	ASSERT_EQ(json_array_size(diff_ids), 1);
	ASSERT_STREQ(json_string_value(json_array_get(diff_ids, 0)), res.layer_digest);
	ASSERT_STREQ(jsonx_path_str(config, "rootfs.type", NULL), "layers");
	ASSERT_STREQ(jsonx_str(config, "architecture", NULL), "arm64");
	ASSERT_STREQ(jsonx_str(config, "os", NULL), "linux");
	ASSERT_STREQ(jsonx_str(config, "created", NULL), "2023-11-14T22:13:20Z");
	ASSERT_STREQ(jsonx_path_str(config, "config.Entrypoint[0]", NULL), "/usr/local/bin/app");
	ASSERT_STREQ(jsonx_path_str(config, "config.Cmd[1]", NULL), "x y");
	ASSERT_STREQ(jsonx_path_str(config, "config.Env[0]", NULL), IMG_DEFAULT_PATH);
	ASSERT_STREQ(jsonx_path_str(config, "config.Env[1]", NULL), "GREETING=hello world");
	ASSERT_STREQ(jsonx_path_str(config, "config.Env[2]", NULL), "EMPTY=");
	ASSERT_STREQ(jsonx_path_str(config, "config.WorkingDir", NULL), "/srv");
	ASSERT(json_is_object(jsonx_get_path(config, "config.ExposedPorts[\"80/tcp\"]")));
	ASSERT(json_is_object(jsonx_get_path(config, "config.ExposedPorts[\"5353/udp\"]")));

	/* The layer: sorted, parents first, modes as asked. */
	read_layer(&a, lb, v);
	ASSERT_EQ(v->n, 6);
	ASSERT_STREQ(v->e[0].name, "etc");
	ASSERT_STREQ(v->e[1].name, "etc/app.conf");
	ASSERT_STREQ(v->e[2].name, "usr");
	ASSERT_STREQ(v->e[3].name, "usr/local");
	ASSERT_STREQ(v->e[4].name, "usr/local/bin");
	ASSERT_STREQ(v->e[5].name, "usr/local/bin/app");
	ASSERT_EQ(v->e[0].type, TAR_TYPE_DIR);
	ASSERT_EQ(v->e[0].mode, 0755);
	ASSERT_EQ(v->e[1].mode, 0640);
	ASSERT_EQ(v->e[5].mode, 0755); /* executable source: 0755 */
	ASSERT_STREQ(v->data[5], "#!/bin/sh\necho hi\n");
	i = find(v, "etc/app.conf");
	ASSERT_STREQ(v->data[i], "key=value\n");

	json_decref(manifest);
	json_decref(config);
	img_archive_close(&a);
	free(v);
}

TEST(image_build_is_reproducible)
{
	struct img_result r1, r2, r3;
	char *a, *b;
	size_t la, lb;
	const char *p1 = fx_image("capstan.local/r:1", "r1", "same content", &r1);

	p1 = strcpy(xmalloc(strlen(p1) + 1), p1);
	fx_image("capstan.local/r:1", "r2", "same content", &r2);
	a = fx_read(p1, &la);
	b = fx_read(fx_path("r2.tar"), &lb);
	ASSERT_EQ(la, lb);
	ASSERT(memcmp(a, b, la) == 0);
	ASSERT_STREQ(r1.manifest_digest, r2.manifest_digest);
	ASSERT_EQ(r1.archive_size, la);
	/* content changes the layer and so everything above it */
	fx_image("capstan.local/r:1", "r3", "other content", &r3);
	ASSERT(strcmp(r1.layer_digest, r3.layer_digest) != 0);
	ASSERT(strcmp(r1.config_digest, r3.config_digest) != 0);
	ASSERT(strcmp(r1.manifest_digest, r3.manifest_digest) != 0);
	free(a);
	free(b);
	free((char *)p1);
}

TEST(image_build_later_file_replaces_earlier)
{
	struct img_file files[2];
	struct img_spec spec = { .ref = "x.local/y", .mtime = 0 };
	struct img_result res;
	struct img_archive a;
	struct layer_view *v = xcalloc(1, sizeof(*v));
	char err[512];

	fx_write(fx_path("one"), "one", 3, 0644);
	fx_write(fx_path("two"), "two", 3, 0644);
	files[0] = (struct img_file){ fx_path("one"), "/etc/passwd", -1 };
	files[1] = (struct img_file){ fx_path("two"), "/etc/passwd", -1 };
	spec.files = files;
	spec.nfiles = 2;
	ASSERT_MSG(img_build(&spec, fx_path("o.tar"), &res, err, sizeof(err)) == 0, "%s", err);
	ASSERT_OK(img_archive_open(fx_path("o.tar"), &a, err, sizeof(err)));
	read_layer(&a, img_archive_find(&a, res.layer_digest), v);
	ASSERT_EQ(v->n, 2);
	ASSERT_STREQ(v->e[1].name, "etc/passwd");
	ASSERT_STREQ(v->data[1], "two");
	img_archive_close(&a);
	free(v);
}

static bool busybox_is_static(void)
{
	char err[256];
	struct img_spec spec = { .ref = "probe.local/x", .busybox = true };

	return access(IMG_DEFAULT_BUSYBOX, X_OK) == 0 &&
	       img_build(&spec, fx_path("probe.tar"), NULL, err, sizeof(err)) == 0;
}

TEST(image_build_busybox_root)
{
	struct img_spec spec = { .ref = "capstan.local/busybox:1", .busybox = true };
	struct img_result res;
	struct img_archive a;
	struct tar_reader r;
	struct tar_entry *e = xmalloc(sizeof(*e));
	bool sh = false, busybox = false, passwd = false, tmp = false;
	char err[512];
	int fd;

	if (!busybox_is_static())
		SKIP("no static %s (make deps installs busybox-static)", IMG_DEFAULT_BUSYBOX);
	spec.cmd_json = "[\"sh\"]";
	ASSERT_MSG(img_build(&spec, fx_path("bb.tar"), &res, err, sizeof(err)) == 0, "%s", err);
	ASSERT(res.entries > 100);
	ASSERT_OK(img_archive_open(fx_path("bb.tar"), &a, err, sizeof(err)));
	fd = open(fx_path("bblayer.tar"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	ASSERT_OK(img_archive_copy(&a, img_archive_find(&a, res.layer_digest), fd));
	ASSERT_OK(tar_reader_init(&r, fd));
	while (tar_next(&r, e) == 1) {
		if (!strcmp(e->name, "bin/sh"))
			sh = e->type == TAR_TYPE_SYMLINK && !strcmp(e->linkname, "busybox");
		if (!strcmp(e->name, "bin/busybox"))
			busybox = e->type == TAR_TYPE_FILE && e->mode == 0755 && e->size > 100000;
		if (!strcmp(e->name, "etc/passwd"))
			passwd = e->size > 0;
		if (!strcmp(e->name, "tmp"))
			tmp = e->type == TAR_TYPE_DIR && e->mode == 01777;
	}
	ASSERT(sh && busybox && passwd && tmp);
	close(fd);
	img_archive_close(&a);
	free(e);
}

/* /tmp is busybox's directory; a file there is a conflict, found after other duplicates. */
TEST(image_build_file_over_a_busybox_directory_is_refused)
{
	struct img_file files[3];
	struct img_spec spec = { .ref = "x.local/y", .busybox = true };
	char err[512];

	if (!busybox_is_static())
		SKIP("no static %s (make deps installs busybox-static)", IMG_DEFAULT_BUSYBOX);
	fx_write(fx_path("f"), "f", 1, 0644);
	files[0] = (struct img_file){ fx_path("f"), "/aaa", -1 };
	files[1] = (struct img_file){ fx_path("f"), "/aaa", -1 };
	files[2] = (struct img_file){ fx_path("f"), "/tmp", -1 };
	spec.files = files;
	spec.nfiles = 3;
	ASSERT_EQ(img_build(&spec, fx_path("c.tar"), NULL, err, sizeof(err)), -EEXIST);
	ASSERT(strstr(err, "/tmp is added both as a directory and not") != NULL);
	/* a file over busybox's symlink is fine: the later one wins */
	files[2].dst = "/bin/sh";
	ASSERT_MSG(img_build(&spec, fx_path("c.tar"), NULL, err, sizeof(err)) == 0, "%s", err);
}

TEST(image_build_refuses_dynamic_busybox)
{
	struct img_spec spec = { .ref = "x.local/y", .busybox = true };
	char err[512];
	const char *dyn = access("/bin/ls", X_OK) == 0 ? "/bin/ls" : NULL;

	if (!dyn)
		SKIP("no /bin/ls to stand for a dynamic executable");
	spec.busybox_path = dyn;
	ASSERT_EQ(img_build(&spec, fx_path("dyn.tar"), NULL, err, sizeof(err)), -ENOEXEC);
	ASSERT(strstr(err, "dynamically linked") != NULL);
	spec.busybox_path = fx_path("notelf");
	fx_write(spec.busybox_path, "#!/bin/sh\n", 10, 0755);
	ASSERT_EQ(img_build(&spec, fx_path("dyn.tar"), NULL, err, sizeof(err)), -ENOEXEC);
	spec.busybox_path = fx_path("absent");
	ASSERT_EQ(img_build(&spec, fx_path("dyn.tar"), NULL, err, sizeof(err)), -ENOENT);
	ASSERT_EQ(access(fx_path("dyn.tar"), F_OK), -1);
}

/* Only the inputs written by the test remain: no output, no temporary file. */
static void assert_dir_holds_only(const char *const *names, size_t n)
{
	DIR *d = opendir(test_tmpdir());
	struct dirent *de;

	ASSERT_NOT_NULL(d);
	while ((de = readdir(d)) != NULL) {
		bool known = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");

		for (size_t i = 0; i < n && !known; i++)
			known = !strcmp(de->d_name, names[i]);
		ASSERT_MSG(known, "unexpected file %s left in the scratch directory", de->d_name);
	}
	closedir(d);
}

TEST(image_build_rejects_bad_specs)
{
	static const char *const bad_env[] = { "NOVALUE" };
	static const char *const bad_env2[] = { "=x" };
	static const char *const bad_port[] = { "0/tcp" };
	static const char *const bad_port2[] = { "80/icmp" };
	static const char *const bad_port3[] = { "80tcp" };
	static const char *const inputs[] = { "f", "sub" };
	struct img_file file = { NULL, "/f", -1 };
	struct img_spec base = { .ref = "x.local/y:1", .nfiles = 1 }, s;
	const char *out = fx_path("out.tar");
	char err[512];

	fx_write(fx_path("f"), "f", 1, 0644);
	ASSERT_OK(mkdir(fx_path("sub"), 0755));
	file.src = fx_path("f");
	base.files = &file;

#define BAD(field_set, want, needle)                                                             \
	do {                                                                                     \
		s = base;                                                                        \
		field_set;                                                                       \
		err[0] = '\0';                                                                   \
		ASSERT_EQ(img_build(&s, out, NULL, err, sizeof(err)), want);                     \
		ASSERT_MSG(strstr(err, needle) != NULL, "message '%s' lacks '%s'", err, needle); \
	} while (0)

	BAD(s.ref = NULL, -EINVAL, "image reference");
	BAD(s.ref = "Bad/Name", -EINVAL, "image reference");
	BAD(s.ref = "x.local/y@sha256:00", -EINVAL, "image reference");
	BAD(s.entrypoint_json = "not json", -EINVAL, "--entrypoint");
	BAD(s.entrypoint_json = "[1]", -EINVAL, "--entrypoint");
	BAD(s.cmd_json = "{\"a\":\"b\"}", -EINVAL, "--cmd");
	BAD((s.env = bad_env, s.nenv = 1), -EINVAL, "NOVALUE");
	BAD((s.env = bad_env2, s.nenv = 1), -EINVAL, "=x");
	BAD((s.expose = bad_port, s.nexpose = 1), -EINVAL, "--expose");
	BAD((s.expose = bad_port2, s.nexpose = 1), -EINVAL, "--expose");
	BAD((s.expose = bad_port3, s.nexpose = 1), -EINVAL, "--expose");
	BAD(s.workdir = "relative", -EINVAL, "--workdir");
	BAD(s.nfiles = 0, -EINVAL, "empty");
	{
		struct img_file f2 = file;

		BAD((f2.dst = "relative", s.files = &f2), -EINVAL, "absolute");
		BAD((f2.dst = "/a/../../etc/shadow", s.files = &f2), -EINVAL, "absolute");
		BAD((f2.dst = "/", s.files = &f2), -EINVAL, "absolute");
		BAD((f2.dst = "/f", f2.mode = 010000, s.files = &f2), -EINVAL, "mode");
		BAD((f2.mode = -1, f2.src = fx_path("nope"), s.files = &f2), -ENOENT, "nope");
		BAD((f2.src = fx_path("sub"), s.files = &f2), -EINVAL, "not a regular file");
	}
	{
		/* /bin is a file, and something is placed below it */
		struct img_file two[2] = { { fx_path("f"), "/bin", -1 },
					   { fx_path("f"), "/bin/sh", -1 } };

		BAD((s.files = two, s.nfiles = 2), -ENOTDIR, "not a directory");
	}
	{
		char longname[400] = "/";

		for (int i = 0; i < 3; i++)
			strcat(longname,
			       "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
			       "ddddddddddddddddddddddddddddddddddddddddddddddd/");
		strcat(longname, "f");
		{
			struct img_file f3 = { fx_path("f"), longname, -1 };

			BAD(s.files = &f3, -ENAMETOOLONG, "layer entry");
		}
	}
	BAD(s.mtime = UINT64_MAX, -EINVAL, "timestamp");
	BAD(s.arch = "x86/64", -EINVAL, "GOARCH");
	BAD(s.arch = "", -EINVAL, "GOARCH");
#undef BAD
	/* No output, and the temporary files were removed. */
	assert_dir_holds_only(inputs, ARRAY_SIZE(inputs));
}

TEST(image_build_failure_keeps_previous_output)
{
	struct img_result res;
	struct img_spec spec = { .ref = "x.local/y:1", .entrypoint_json = "[" };
	char *before, *after, err[256];
	size_t lb, la;
	const char *out = fx_image("x.local/y:1", "keep", "data", &res);

	before = fx_read(out, &lb);
	ASSERT_EQ(img_build(&spec, out, NULL, err, sizeof(err)), -EINVAL);
	after = fx_read(out, &la);
	ASSERT_EQ(la, lb);
	ASSERT(memcmp(before, after, la) == 0);
	free(before);
	free(after);
}

TEST(image_run_captures_output_and_status)
{
	const char *ok[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
	const char *missing[] = { "/nonexistent/capstan-no-such-program", NULL };
	const char *big[] = { "sh", "-c", "yes 0123456789 | head -c 100000", NULL };
	struct buf out = { 0 };
	int status = -1;

	ASSERT_OK(img_run(ok, &out, 1024, &status));
	ASSERT_EQ(status, 3);
	ASSERT(strstr(out.data, "out\n") && strstr(out.data, "err\n"));
	buf_reset(&out);
	ASSERT_EQ(img_run(missing, &out, 1024, &status), -ENOENT);
	/* output past the limit is drained, not kept, and the child is not blocked */
	ASSERT_OK(img_run(big, &out, 100, &status));
	ASSERT_EQ(status, 0);
	ASSERT_EQ(out.len, 100);
	buf_free(&out);
}

/* The command line: usage errors exit 2, failures 1, success 0 with the file written. */
TEST(image_cli_build_exit_codes)
{
	char add[600], out[600];
	char *ok[] = { "image",	   "build",    "-t",	"capstan.local/cli:1",
		       "--add",	   add,	       "--env", "A=b",
		       "--expose", "8080/tcp", "--cmd", "[\"/app\"]",
		       "-o",	   out,	       NULL };
	char *no_out[] = { "image", "build", "-t", "x.local/y", NULL };
	char *bad_add[] = {
		"image", "build", "-t", "x.local/y", "--add", "nodst", "-o", out, NULL
	};
	char *bad_json[] = { "image", "build", "-t", "x.local/y", "--add", add,
			     "--cmd", "[",     "-o", out,	  NULL };
	char *unknown[] = { "image", "frobnicate", NULL };
	char *inspect[] = { "image", "inspect", out, NULL };

	fx_quiet();
	fx_write(fx_path("app"), "x", 1, 0755);
	snprintf(add, sizeof(add), "%s:/app", fx_path("app"));
	snprintf(out, sizeof(out), "%s", fx_path("cli.tar"));
	ASSERT_EQ(img_cli_main(ARRAY_SIZE(no_out) - 1, no_out), 2);
	ASSERT_EQ(img_cli_main(ARRAY_SIZE(bad_add) - 1, bad_add), 2);
	ASSERT_EQ(img_cli_main(ARRAY_SIZE(bad_json) - 1, bad_json), 1);
	ASSERT_EQ(img_cli_main(ARRAY_SIZE(unknown) - 1, unknown), 2);
	ASSERT_EQ(access(out, F_OK), -1);
	ASSERT_EQ(img_cli_main(ARRAY_SIZE(ok) - 1, ok), 0);
	ASSERT_OK(access(out, R_OK));
	ASSERT_EQ(img_cli_main(ARRAY_SIZE(inspect) - 1, inspect), 0);
}
