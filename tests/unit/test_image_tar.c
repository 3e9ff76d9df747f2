/*
 * Unit tests for lib/tar: ustar header fields and checksum, block padding,
 * the name rules (prefix split, too long, unclean), sticky sink errors, and
 * the reader on our own archives, on GNU tar's PAX and GNU long names, and
 * on corrupted or truncated input.
 */
#include "test.h"
#include "tar.h"
#include "util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_image_fixture.h"

static int buf_sink(void *ctx, const void *data, size_t len)
{
	buf_append(ctx, data, len);
	return 0;
}

static unsigned header_sum(const uint8_t *h)
{
	unsigned sum = 0;

	for (int i = 0; i < TAR_BLOCK; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return sum;
}

TEST(tar_header_fields_and_checksum)
{
	uint8_t h[TAR_BLOCK];
	char want[8];

	ASSERT_OK(tar_header(h, "bin/busybox", TAR_TYPE_FILE, 0755, 1234, 1704067200, NULL));
	ASSERT_STREQ((char *)h, "bin/busybox");
	ASSERT(memcmp(h + 100, "0000755\0", 8) == 0);
	ASSERT(memcmp(h + 108, "0000000\0", 8) == 0); /* uid */
	ASSERT(memcmp(h + 116, "0000000\0", 8) == 0); /* gid */
	ASSERT(memcmp(h + 124, "00000002322\0", 12) == 0);
	ASSERT(memcmp(h + 136, "14544400200\0", 12) == 0); /* 1704067200 */
	ASSERT_EQ(h[156], '0');
	ASSERT(memcmp(h + 257,
		      "ustar\0"
		      "00",
		      8) == 0);
	ASSERT_STREQ((char *)h + 265, "root");
	ASSERT_STREQ((char *)h + 297, "root");
	/* six octal digits, NUL, space */
	snprintf(want, sizeof(want), "%06o", header_sum(h));
	ASSERT(memcmp(h + 148, want, 6) == 0);
	ASSERT_EQ(h[154], '\0');
	ASSERT_EQ(h[155], ' ');

	ASSERT_OK(tar_header(h, "tmp", TAR_TYPE_DIR, 01777, 0, 0, NULL));
	ASSERT_STREQ((char *)h, "tmp/");
	ASSERT(memcmp(h + 100, "0001777\0", 8) == 0);
	ASSERT_EQ(h[156], '5');

	ASSERT_OK(tar_header(h, "bin/sh", TAR_TYPE_SYMLINK, 0777, 0, 0, "busybox"));
	ASSERT_EQ(h[156], '2');
	ASSERT_STREQ((char *)h + 157, "busybox");
}

TEST(tar_name_rules)
{
	uint8_t h[TAR_BLOCK];
	char name[400], target[120];

	ASSERT_EQ(tar_header(h, "", TAR_TYPE_FILE, 0644, 0, 0, NULL), -EINVAL);
	ASSERT_EQ(tar_header(h, "/etc/passwd", TAR_TYPE_FILE, 0644, 0, 0, NULL), -EINVAL);
	ASSERT_EQ(tar_header(h, "./etc", TAR_TYPE_FILE, 0644, 0, 0, NULL), -EINVAL);
	ASSERT_EQ(tar_header(h, "a/../b", TAR_TYPE_FILE, 0644, 0, 0, NULL), -EINVAL);
	ASSERT_EQ(tar_header(h, "a//b", TAR_TYPE_FILE, 0644, 0, 0, NULL), -EINVAL);
	ASSERT_EQ(tar_header(h, "a/", TAR_TYPE_FILE, 0644, 0, 0, NULL), -EINVAL);
	ASSERT_EQ(tar_header(h, "..", TAR_TYPE_DIR, 0755, 0, 0, NULL), -EINVAL);
	ASSERT_EQ(tar_header(h, "a", TAR_TYPE_FILE, 010000, 0, 0, NULL), -EINVAL);
	ASSERT_EQ(tar_header(h, "a", TAR_TYPE_FILE, 0644, TAR_MAX_SIZE + 1, 0, NULL), -EFBIG);
	ASSERT_EQ(tar_header(h, "a", TAR_TYPE_SYMLINK, 0777, 0, 0, ""), -EINVAL);
	ASSERT(tar_name_is_clean("usr/local/bin/x"));
	ASSERT(!tar_name_is_clean("usr/./bin"));

	/* exactly 100 bytes: the name field, no NUL, no prefix */
	memset(name, 'n', 100);
	name[100] = '\0';
	ASSERT_OK(tar_header(h, name, TAR_TYPE_FILE, 0644, 0, 0, NULL));
	ASSERT(memcmp(h, name, 100) == 0);
	ASSERT_EQ(h[345], '\0');
	/* 101 bytes without a '/': cannot be split */
	strcat(name, "n");
	ASSERT_EQ(tar_header(h, name, TAR_TYPE_FILE, 0644, 0, 0, NULL), -ENAMETOOLONG);

	/* 150-byte directory + '/' + 90-byte file: split into prefix and name */
	memset(name, 'd', 150);
	name[150] = '/';
	memset(name + 151, 'f', 90);
	name[241] = '\0';
	ASSERT_OK(tar_header(h, name, TAR_TYPE_FILE, 0644, 0, 0, NULL));
	ASSERT(memcmp(h + 345, name, 150) == 0 && h[345 + 150] == '\0');
	ASSERT(memcmp(h, name + 151, 90) == 0 && h[90] == '\0');
	/* a 160-byte first component leaves no valid split */
	memset(name, 'd', 160);
	name[160] = '/';
	memset(name + 161, 'f', 10);
	name[171] = '\0';
	ASSERT_EQ(tar_header(h, name, TAR_TYPE_FILE, 0644, 0, 0, NULL), -ENAMETOOLONG);
	/* over 256 bytes never fits */
	memset(name, 'a', 300);
	for (int i = 50; i < 300; i += 50)
		name[i] = '/';
	name[300] = '\0';
	ASSERT_EQ(tar_header(h, name, TAR_TYPE_FILE, 0644, 0, 0, NULL), -ENAMETOOLONG);

	memset(target, 't', 101);
	target[101] = '\0';
	ASSERT_EQ(tar_header(h, "l", TAR_TYPE_SYMLINK, 0777, 0, 0, target), -ENAMETOOLONG);
}

TEST(tar_writer_pads_to_blocks_and_ends_with_two_zero_blocks)
{
	static const uint8_t zeros[1024];
	struct buf out = { 0 };
	struct tar_writer w;
	char data[513];

	memset(data, 'x', sizeof(data));
	tar_writer_init(&w, buf_sink, &out, 0);
	ASSERT_OK(tar_add_file(&w, "empty", 0644, "", 0));
	ASSERT_EQ(w.offset, 512);
	ASSERT_OK(tar_add_file(&w, "one", 0644, data, 1));
	ASSERT_EQ(w.offset, 512 + 1024);
	ASSERT_OK(tar_add_file(&w, "block", 0644, data, 512));
	ASSERT_EQ(w.offset, 1536 + 1024);
	ASSERT_OK(tar_add_file(&w, "more", 0644, data, 513));
	ASSERT_EQ(w.offset, 2560 + 512 + 1024);
	/* the byte after "one"'s data is padding */
	ASSERT_EQ(out.data[512 + 512 + 1], 0);
	ASSERT_OK(tar_finish(&w));
	ASSERT_EQ(out.len, 4096 + 1024);
	ASSERT(memcmp(out.data + 4096, zeros, 1024) == 0);
	ASSERT_EQ(out.len % 512, 0);
	buf_free(&out);
}

static int failing_sink(void *ctx, const void *data, size_t len)
{
	int *calls = ctx;

	return ++*calls >= 2 ? -ENOSPC : 0;
}

TEST(tar_writer_errors_are_sticky_and_bad_entries_are_not)
{
	struct tar_writer w;
	int calls = 0, fd;
	const char *path = fx_path("short");

	tar_writer_init(&w, failing_sink, &calls, 0);
	/* an argument error writes nothing and does not break the archive */
	ASSERT_EQ(tar_add_dir(&w, "/abs", 0755), -EINVAL);
	ASSERT_EQ(calls, 0);
	ASSERT_OK(tar_add_dir(&w, "a", 0755));
	ASSERT_EQ(tar_add_file(&w, "b", 0644, "x", 1), -ENOSPC);
	ASSERT_EQ(tar_add_dir(&w, "c", 0755), -ENOSPC);
	ASSERT_EQ(tar_finish(&w), -ENOSPC);

	/* a file that holds fewer bytes than promised breaks the archive */
	fx_write(path, "abc", 3, 0644);
	fd = open(path, O_RDONLY);
	ASSERT(fd >= 0);
	{
		struct buf out = { 0 };

		tar_writer_init(&w, buf_sink, &out, 0);
		ASSERT_EQ(tar_add_file_fd(&w, "f", 0644, fd, 10), -EIO);
		ASSERT_EQ(tar_finish(&w), -EIO);
		buf_free(&out);
	}
	close(fd);
}

static int write_archive(const char *path, struct buf *out)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return -errno;
	ASSERT_EQ(write(fd, out->data, out->len), (ssize_t)out->len);
	close(fd);
	return 0;
}

TEST(tar_round_trip_and_gnu_tar_agrees)
{
	const char *path = fx_path("rt.tar");
	struct buf out = { 0 };
	struct tar_writer w;
	struct tar_reader r;
	struct tar_entry *e = xmalloc(sizeof(*e));
	char cmd[1024], name[300], got[16];
	FILE *p;
	int fd;

	memset(name, 'd', 150);
	name[150] = '/';
	strcpy(name + 151, "file");
	tar_writer_init(&w, buf_sink, &out, 1704067200);
	ASSERT_OK(tar_add_dir(&w, "etc", 0755));
	ASSERT_OK(tar_add_file(&w, "etc/hostname", 0600, "pod-a\n", 6));
	ASSERT_OK(tar_add_symlink(&w, "etc/link", "hostname"));
	ASSERT_OK(tar_add_file(&w, name, 0644, "long", 4));
	ASSERT_OK(tar_finish(&w));
	ASSERT_OK(write_archive(path, &out));
	buf_free(&out);

	fd = open(path, O_RDONLY);
	ASSERT_OK(tar_reader_init(&r, fd));
	ASSERT_EQ(tar_next(&r, e), 1);
	ASSERT_STREQ(e->name, "etc");
	ASSERT_EQ(e->type, TAR_TYPE_DIR);
	ASSERT_EQ(e->mode, 0755);
	ASSERT_EQ(tar_next(&r, e), 1);
	ASSERT_STREQ(e->name, "etc/hostname");
	ASSERT_EQ(e->size, 6);
	ASSERT_EQ(e->mode, 0600);
	ASSERT_EQ(pread(fd, got, 6, (off_t)e->offset), 6);
	ASSERT(memcmp(got, "pod-a\n", 6) == 0);
	ASSERT_EQ(tar_next(&r, e), 1);
	ASSERT_EQ(e->type, TAR_TYPE_SYMLINK);
	ASSERT_STREQ(e->linkname, "hostname");
	ASSERT_EQ(tar_next(&r, e), 1);
	ASSERT_STREQ(e->name, name);
	ASSERT_EQ(tar_next(&r, e), 0);
	ASSERT_EQ(tar_next(&r, e), 0);
	close(fd);

	/* GNU tar reads it the same way (and finds no checksum or format error). */
	snprintf(cmd, sizeof(cmd), "tar -tvf %s --numeric-owner 2>&1", path);
	p = popen(cmd, "r");
	ASSERT_NOT_NULL(p);
	{
		char line[512], all[4096] = "";

		while (fgets(line, sizeof(line), p))
			strncat(all, line, sizeof(all) - strlen(all) - 1);
		ASSERT_EQ(pclose(p), 0);
		ASSERT_MSG(strstr(all, "drwxr-xr-x 0/0") && strstr(all, "etc/hostname") &&
				   strstr(all, "etc/link -> hostname") &&
				   strstr(all, "2024-01-01 00:00") && strstr(all, "dddd/file"),
			   "tar -tv printed:\n%s", all);
	}
	free(e);
}

/* GNU tar writes long names as PAX ('x') or GNU ('L') records: both are read. */
TEST(tar_reader_long_names_from_gnu_tar)
{
	static const char *const formats[] = { "pax", "gnu" };
	struct tar_entry *e = xmalloc(sizeof(*e));
	char dir[600], cmd[2048];

	snprintf(dir, sizeof(dir), "%s/src", test_tmpdir());
	ASSERT_OK(mkdir(dir, 0755));
	/* a 230-byte file name: more than ustar can hold in any split */
	snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/%0230d", 7);
	fx_write(dir, "payload", 7, 0644);
	for (size_t i = 0; i < ARRAY_SIZE(formats); i++) {
		const char *path = fx_path(formats[i]);
		struct tar_reader r;
		char got[8];
		int fd;

		snprintf(cmd, sizeof(cmd), "tar --format=%s -C %s/src -cf %s . 2>&1", formats[i],
			 test_tmpdir(), path);
		ASSERT_EQ(system(cmd), 0);
		fd = open(path, O_RDONLY);
		ASSERT_OK(tar_reader_init(&r, fd));
		while (tar_next(&r, e) == 1 && e->type != TAR_TYPE_FILE)
			;
		ASSERT_EQ(e->type, TAR_TYPE_FILE);
		ASSERT_EQ(strlen(e->name), 2 + 230);
		ASSERT(strncmp(e->name, "./0000", 6) == 0);
		ASSERT_EQ(e->size, 7);
		ASSERT_EQ(pread(fd, got, 7, (off_t)e->offset), 7);
		ASSERT(memcmp(got, "payload", 7) == 0);
		close(fd);
	}
	free(e);
}

TEST(tar_reader_rejects_corrupt_and_truncated_archives)
{
	const char *path = fx_path("bad.tar");
	struct tar_entry *e = xmalloc(sizeof(*e));
	struct buf out = { 0 };
	struct tar_writer w;
	struct tar_reader r;
	char junk[2048];
	int fd;

	tar_writer_init(&w, buf_sink, &out, 0);
	ASSERT_OK(tar_add_file(&w, "f", 0644, "0123456789", 10));
	ASSERT_OK(tar_finish(&w));

	/* a flipped byte in the name breaks the checksum */
	out.data[0] ^= 1;
	ASSERT_OK(write_archive(path, &out));
	fd = open(path, O_RDONLY);
	ASSERT_OK(tar_reader_init(&r, fd));
	ASSERT_EQ(tar_next(&r, e), -EINVAL);
	close(fd);
	out.data[0] ^= 1;

	/* data cut short: the header promises more than the file holds */
	out.len = 512 + 5;
	ASSERT_OK(write_archive(path, &out));
	fd = open(path, O_RDONLY);
	ASSERT_OK(tar_reader_init(&r, fd));
	ASSERT_EQ(tar_next(&r, e), -EINVAL);
	close(fd);

	/* half a header */
	out.len = 100;
	ASSERT_OK(write_archive(path, &out));
	fd = open(path, O_RDONLY);
	ASSERT_OK(tar_reader_init(&r, fd));
	ASSERT_EQ(tar_next(&r, e), -EINVAL);
	close(fd);

	/* not a tar at all */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 31 + 7);
	fx_write(path, junk, sizeof(junk), 0644);
	fd = open(path, O_RDONLY);
	ASSERT_OK(tar_reader_init(&r, fd));
	ASSERT_EQ(tar_next(&r, e), -EINVAL);
	close(fd);

	/* an empty file is an empty archive */
	fx_write(path, "", 0, 0644);
	fd = open(path, O_RDONLY);
	ASSERT_OK(tar_reader_init(&r, fd));
	ASSERT_EQ(tar_next(&r, e), 0);
	close(fd);
	buf_free(&out);
	free(e);
}
