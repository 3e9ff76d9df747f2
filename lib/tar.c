/*
 * tar.c - see tar.h.
 *
 * Header layout (POSIX.1-1988 ustar): name[100] mode[8] uid[8] gid[8]
 * size[12] mtime[12] chksum[8] typeflag[1] linkname[100] magic[6] "ustar\0"
 * version[2] "00" uname[32] gname[32] devmajor[8] devminor[8] prefix[155],
 * padded to 512 bytes. Numbers are zero-padded octal ending in a NUL; the
 * checksum is the sum of the header's bytes taken as unsigned, counting the
 * checksum field as eight spaces, written as six digits, NUL, space. Data
 * follows in whole 512-byte blocks (zero padded).
 */
#include "tar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

enum {
	OFF_NAME = 0,
	OFF_MODE = 100,
	OFF_UID = 108,
	OFF_GID = 116,
	OFF_SIZE = 124,
	OFF_MTIME = 136,
	OFF_CHKSUM = 148,
	OFF_TYPE = 156,
	OFF_LINK = 157,
	OFF_MAGIC = 257,
	OFF_VERSION = 263,
	OFF_UNAME = 265,
	OFF_GNAME = 297,
	OFF_DEVMAJOR = 329,
	OFF_DEVMINOR = 337,
	OFF_PREFIX = 345,
};

#define NAME_LEN 100
#define PREFIX_LEN 155
/* A PAX extended header larger than this is refused rather than read. */
#define PAX_MAX (64u << 10)

static const uint8_t zero_block[TAR_BLOCK];

void tar_writer_init(struct tar_writer *w, tar_sink_fn sink, void *ctx, uint64_t mtime)
{
	memset(w, 0, sizeof(*w));
	w->sink = sink;
	w->ctx = ctx;
	w->mtime = mtime;
}

/* width - 1 octal digits and a NUL. */
static int put_octal(uint8_t *field, size_t width, uint64_t v)
{
	char tmp[24];

	if (width - 1 < 22 && v >> (3 * (width - 1)))
		return -EFBIG;
	snprintf(tmp, sizeof(tmp), "%0*llo", (int)(width - 1), (unsigned long long)v);
	memcpy(field, tmp, width);
	return 0;
}

bool tar_name_is_clean(const char *name)
{
	const char *p = name;

	if (!name || !*name || *name == '/')
		return false;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!slash)
			break;
		p = slash + 1;
		if (!*p)
			return false; /* trailing '/' */
	}
	return true;
}

/* Store full in name[100], or split it at a '/' into prefix[155] + name[100]. */
static int put_name(uint8_t *hdr, const char *full)
{
	size_t len = strlen(full), i;

	if (len <= NAME_LEN) {
		memcpy(hdr + OFF_NAME, full, len);
		return 0;
	}
	/* The first '/' that leaves at most 100 bytes after it. */
	for (i = len - NAME_LEN - 1; i < len && full[i] != '/'; i++)
		;
	if (i >= len - 1 || i > PREFIX_LEN)
		return -ENAMETOOLONG;
	memcpy(hdr + OFF_PREFIX, full, i);
	memcpy(hdr + OFF_NAME, full + i + 1, len - i - 1);
	return 0;
}

int tar_header(uint8_t hdr[TAR_BLOCK], const char *name, char type, unsigned mode, uint64_t size,
	       uint64_t mtime, const char *linkname)
{
	char full[NAME_LEN + PREFIX_LEN + 2];
	unsigned sum = 0;
	int err;

	if (!tar_name_is_clean(name) || mode > 07777)
		return -EINVAL;
	if (type == TAR_TYPE_SYMLINK && (!linkname || !*linkname))
		return -EINVAL;
	if (linkname && strlen(linkname) > NAME_LEN)
		return -ENAMETOOLONG;
	if (size > TAR_MAX_SIZE)
		return -EFBIG;
	if (strlen(name) + 1 >= sizeof(full))
		return -ENAMETOOLONG;
	snprintf(full, sizeof(full), "%s%s", name, type == TAR_TYPE_DIR ? "/" : "");

	memset(hdr, 0, TAR_BLOCK);
	err = put_name(hdr, full);
	if (err)
		return err;
	put_octal(hdr + OFF_MODE, 8, mode);
	put_octal(hdr + OFF_UID, 8, 0);
	put_octal(hdr + OFF_GID, 8, 0);
	put_octal(hdr + OFF_SIZE, 12, size);
	err = put_octal(hdr + OFF_MTIME, 12, mtime);
	if (err)
		return -EINVAL;
	hdr[OFF_TYPE] = (uint8_t)type;
	if (linkname)
		memcpy(hdr + OFF_LINK, linkname, strlen(linkname));
	memcpy(hdr + OFF_MAGIC, "ustar", 6);
	memcpy(hdr + OFF_VERSION, "00", 2);
	memcpy(hdr + OFF_UNAME, "root", 4);
	memcpy(hdr + OFF_GNAME, "root", 4);
	put_octal(hdr + OFF_DEVMAJOR, 8, 0);
	put_octal(hdr + OFF_DEVMINOR, 8, 0);

	memset(hdr + OFF_CHKSUM, ' ', 8);
	for (int i = 0; i < TAR_BLOCK; i++)
		sum += hdr[i];
	snprintf((char *)hdr + OFF_CHKSUM, 8, "%06o", sum);
	hdr[OFF_CHKSUM + 7] = ' ';
	return 0;
}

static int emit(struct tar_writer *w, const void *data, size_t len)
{
	int err;

	if (w->err)
		return w->err;
	err = w->sink(w->ctx, data, len);
	if (err) {
		w->err = err < 0 ? err : -EIO;
		return w->err;
	}
	w->offset += len;
	return 0;
}

static int emit_padding(struct tar_writer *w, uint64_t size)
{
	size_t rem = (size_t)(size % TAR_BLOCK);

	return rem ? emit(w, zero_block, TAR_BLOCK - rem) : 0;
}

static int add_entry(struct tar_writer *w, const char *name, char type, unsigned mode,
		     uint64_t size, const char *linkname)
{
	uint8_t hdr[TAR_BLOCK];
	int err;

	if (w->err)
		return w->err;
	err = tar_header(hdr, name, type, mode, size, w->mtime, linkname);
	return err ? err : emit(w, hdr, sizeof(hdr));
}

int tar_add_dir(struct tar_writer *w, const char *name, unsigned mode)
{
	return add_entry(w, name, TAR_TYPE_DIR, mode, 0, NULL);
}

int tar_add_symlink(struct tar_writer *w, const char *name, const char *target)
{
	return add_entry(w, name, TAR_TYPE_SYMLINK, 0777, 0, target ? target : "");
}

int tar_add_file(struct tar_writer *w, const char *name, unsigned mode, const void *data,
		 uint64_t size)
{
	int err = add_entry(w, name, TAR_TYPE_FILE, mode, size, NULL);

	if (!err && size)
		err = emit(w, data, (size_t)size);
	return err ? err : emit_padding(w, size);
}

int tar_add_file_fd(struct tar_writer *w, const char *name, unsigned mode, int fd, uint64_t size)
{
	char buf[65536];
	uint64_t left = size;
	int err = add_entry(w, name, TAR_TYPE_FILE, mode, size, NULL);

	while (!err && left) {
		ssize_t n = read(fd, buf, (size_t)MIN(left, (uint64_t)sizeof(buf)));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* The file shrank (or failed) under us: the archive is broken. */
			w->err = n < 0 ? -errno : -EIO;
			return w->err;
		}
		err = emit(w, buf, (size_t)n);
		left -= (uint64_t)n;
	}
	return err ? err : emit_padding(w, size);
}

int tar_finish(struct tar_writer *w)
{
	int err = emit(w, zero_block, TAR_BLOCK);

	return err ? err : emit(w, zero_block, TAR_BLOCK);
}

/* ---------------------------------------------------------------- reader */

int tar_reader_init(struct tar_reader *r, int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -errno;
	r->fd = fd;
	r->pos = 0;
	r->file_size = (uint64_t)st.st_size;
	return 0;
}

static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EINVAL;
		done += (size_t)n;
	}
	return 0;
}

/* An octal field: optional leading spaces, digits, then NUL/space or the field's end. */
static int get_octal(const uint8_t *field, size_t width, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	bool digits = false;

	if (field[0] & 0x80)
		return -EFBIG; /* GNU base-256 */
	while (i < width && field[i] == ' ')
		i++;
	for (; i < width && field[i] >= '0' && field[i] <= '7'; i++) {
		if (v >> 60)
			return -EINVAL;
		v = v * 8 + (uint64_t)(field[i] - '0');
		digits = true;
	}
	for (; i < width; i++)
		if (field[i] != ' ' && field[i] != '\0')
			return -EINVAL;
	if (!digits)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A NUL-padded field into out (at most width bytes, NUL added). */
static size_t get_str(const uint8_t *field, size_t width, char *out)
{
	size_t n = strnlen((const char *)field, width);

	memcpy(out, field, n);
	out[n] = '\0';
	return n;
}

/*
 * PAX records: "<len> <key>=<value>\n", len counting the whole record. Only
 * path, linkpath and size matter here; other keys (mtime, uid, ...) are fine
 * to ignore for reading names and data.
 */
static int parse_pax(char *p, size_t len, char *name, char *link, uint64_t *size, bool *has_size)
{
	while (len > 0) {
		char *end, *eq;
		unsigned long rec = strtoul(p, &end, 10);
		size_t klen;

		if (end == p || *end != ' ' || rec > len || rec <= (size_t)(end + 1 - p) ||
		    p[rec - 1] != '\n')
			return -EINVAL;
		eq = memchr(end + 1, '=', (size_t)(p + rec - 1 - (end + 1)));
		if (!eq)
			return -EINVAL;
		p[rec - 1] = '\0';
		klen = (size_t)(eq - (end + 1));
		if (klen == 4 && memcmp(end + 1, "path", 4) == 0) {
			if (strlen(eq + 1) >= TAR_NAME_MAX)
				return -EINVAL;
			strcpy(name, eq + 1);
		} else if (klen == 8 && memcmp(end + 1, "linkpath", 8) == 0) {
			if (strlen(eq + 1) >= TAR_NAME_MAX)
				return -EINVAL;
			strcpy(link, eq + 1);
		} else if (klen == 4 && memcmp(end + 1, "size", 4) == 0) {
			char *e2;

			errno = 0;
			*size = strtoull(eq + 1, &e2, 10);
			if (errno || e2 == eq + 1 || *e2)
				return -EINVAL;
			*has_size = true;
		}
		p += rec;
		len -= rec;
	}
	return 0;
}

int tar_next(struct tar_reader *r, struct tar_entry *e)
{
	/* Overrides from PAX/GNU headers, for the next real entry only. */
	char *pax_name = xcalloc(1, TAR_NAME_MAX), *pax_link = xcalloc(1, TAR_NAME_MAX);
	char *meta = NULL;
	uint64_t pax_size = 0;
	bool has_size = false, overridden = false;
	int ret;

	for (;;) {
		uint8_t hdr[TAR_BLOCK];
		uint64_t stored, size, mode, sum = 0, data;
		char type, prefix[PREFIX_LEN + 1];

		if (r->pos == r->file_size) {
			/* A clean end without the zero blocks; not after a lone extension. */
			ret = overridden ? -EINVAL : 0;
			goto out;
		}
		if (r->file_size - r->pos < TAR_BLOCK) {
			ret = -EINVAL;
			goto out;
		}
		ret = read_at(r->fd, hdr, sizeof(hdr), r->pos);
		if (ret)
			goto out;
		if (memcmp(hdr, zero_block, TAR_BLOCK) == 0) {
			ret = overridden ? -EINVAL : 0;
			goto out;
		}
		for (int i = 0; i < TAR_BLOCK; i++)
			sum += (i >= OFF_CHKSUM && i < OFF_CHKSUM + 8) ? ' ' : hdr[i];
		ret = get_octal(hdr + OFF_CHKSUM, 8, &stored);
		if (ret || stored != sum || memcmp(hdr + OFF_MAGIC, "ustar", 5) != 0) {
			ret = ret == -EFBIG ? -EINVAL : (ret ? ret : -EINVAL);
			goto out;
		}
		ret = get_octal(hdr + OFF_SIZE, 12, &size);
		if (!ret)
			ret = get_octal(hdr + OFF_MODE, 8, &mode);
		if (ret)
			goto out;
		type = hdr[OFF_TYPE] ? (char)hdr[OFF_TYPE] : TAR_TYPE_FILE;
		if (has_size && type != 'x' && type != 'g' && type != 'L' && type != 'K')
			size = pax_size;
		data = r->pos + TAR_BLOCK;
		if (size > r->file_size - data) {
			ret = -EINVAL;
			goto out;
		}
		r->pos = data + (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
		if (r->pos > r->file_size)
			r->pos = r->file_size; /* last data block not padded: a clean end next */

		if (type == 'g')
			continue;
		if (type == 'x' || type == 'L' || type == 'K') {
			if (size >= (type == 'x' ? PAX_MAX : TAR_NAME_MAX)) {
				ret = -EINVAL;
				goto out;
			}
			meta = xrealloc(meta, (size_t)size + 1);
			ret = read_at(r->fd, meta, (size_t)size, data);
			if (ret)
				goto out;
			meta[size] = '\0';
			if (type == 'x')
				ret = parse_pax(meta, (size_t)size, pax_name, pax_link, &pax_size,
						&has_size);
			else /* GNU: the name, usually NUL-terminated inside the data */
				strcpy(type == 'L' ? pax_name : pax_link, meta);
			if (ret)
				goto out;
			overridden = true;
			continue;
		}

		memset(e, 0, sizeof(*e));
		if (pax_name[0]) {
			strcpy(e->name, pax_name);
		} else {
			size_t plen = get_str(hdr + OFF_PREFIX, PREFIX_LEN, prefix);

			if (plen)
				snprintf(e->name, sizeof(e->name), "%s/", prefix);
			get_str(hdr + OFF_NAME, NAME_LEN, e->name + strlen(e->name));
		}
		if (pax_link[0])
			strcpy(e->linkname, pax_link);
		else
			get_str(hdr + OFF_LINK, NAME_LEN, e->linkname);
		for (size_t n = strlen(e->name); n > 1 && e->name[n - 1] == '/'; n--)
			e->name[n - 1] = '\0';
		if (!e->name[0]) {
			ret = -EINVAL;
			goto out;
		}
		e->type = type;
		e->mode = (unsigned)(mode & 07777);
		e->size = size;
		e->offset = data;
		ret = 1;
		goto out;
	}
out:
	free(meta);
	free(pax_name);
	free(pax_link);
	return ret;
}
