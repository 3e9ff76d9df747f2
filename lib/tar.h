/*
 * tar.h - a POSIX ustar writer and reader, for image layers and OCI image
 * layout archives.
 *
 * The writer exists so that image builds are reproducible byte for byte:
 * the caller decides the order of entries and one fixed mtime, and every
 * entry is owned by 0:0 ("root"), so the same inputs always give the same
 * archive and therefore the same digest. It emits only what layers need:
 * directories, regular files and symbolic links. Names longer than ustar can
 * hold (100 bytes, or a prefix of up to 155 bytes split at a '/' plus 100)
 * are rejected with -ENAMETOOLONG rather than written as PAX or GNU
 * extensions: capstan's images never need them, and one format is one thing
 * to test. Output goes through a sink callback so that the caller can hash
 * and write in the same pass.
 *
 * The reader walks an archive held in a file (it needs random access: it
 * reports where each entry's data starts instead of copying it), validates
 * every header checksum and bound, and understands what common tools add to
 * names: PAX extended headers ('x': path, linkpath) and GNU long names ('L',
 * 'K'). Global PAX headers are skipped. Numbers in base-256 (GNU, for sizes
 * over 8 GiB) are refused with -EFBIG.
 */
#ifndef CAPSTAN_TAR_H
#define CAPSTAN_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TAR_BLOCK 512
/* Longest name or link target the reader returns (with the NUL). */
#define TAR_NAME_MAX 4096
/* Largest entry the writer accepts: 11 octal digits. */
#define TAR_MAX_SIZE 077777777777ull

/* Typeflags. */
#define TAR_TYPE_FILE '0'
#define TAR_TYPE_SYMLINK '2'
#define TAR_TYPE_DIR '5'

/* Receives the archive's bytes in order; returns 0 or -errno. */
typedef int (*tar_sink_fn)(void *ctx, const void *data, size_t len);

struct tar_writer {
	tar_sink_fn sink;
	void *ctx;
	uint64_t mtime;	 /* seconds since the epoch, for every entry */
	uint64_t offset; /* bytes written so far */
	int err;	 /* first error; every later call returns it */
};

void tar_writer_init(struct tar_writer *w, tar_sink_fn sink, void *ctx, uint64_t mtime);

/*
 * Entry names are relative ("bin/sh", not "/bin/sh" or "./bin/sh"), have no
 * empty, "." or ".." component, and no trailing '/' (tar_add_dir adds it).
 * mode holds permission bits only (<= 07777). All return 0 on success, or
 * -EINVAL (bad name, mode or target), -ENAMETOOLONG (name does not fit
 * ustar, link target over 100 bytes), -EFBIG (size over TAR_MAX_SIZE), the
 * sink's error, or -EIO when a file descriptor gave fewer bytes than
 * promised. A failed call writes nothing of its entry; a sink or read error
 * is sticky (the archive is broken), an argument error is not.
 */
/* True when name follows the rules above. */
bool tar_name_is_clean(const char *name);
int tar_add_dir(struct tar_writer *w, const char *name, unsigned mode);
int tar_add_file(struct tar_writer *w, const char *name, unsigned mode, const void *data,
		 uint64_t size);
/* Copies exactly size bytes read from fd (from its current offset). */
int tar_add_file_fd(struct tar_writer *w, const char *name, unsigned mode, int fd, uint64_t size);
int tar_add_symlink(struct tar_writer *w, const char *name, const char *target);
/* The end-of-archive marker: two zero blocks. */
int tar_finish(struct tar_writer *w);

/*
 * Fill a 512-byte ustar header. Exposed for tests of the format itself.
 * 0 on success, or the errors of tar_add_*.
 */
int tar_header(uint8_t hdr[TAR_BLOCK], const char *name, char type, unsigned mode, uint64_t size,
	       uint64_t mtime, const char *linkname);

struct tar_reader {
	int fd;	      /* not owned */
	uint64_t pos; /* offset of the next header */
	uint64_t file_size;
};

struct tar_entry {
	char name[TAR_NAME_MAX]; /* as stored, trailing '/' of directories removed */
	char linkname[TAR_NAME_MAX];
	char type; /* typeflag; '\0' is reported as TAR_TYPE_FILE */
	unsigned mode;
	uint64_t size;
	uint64_t offset; /* where the data starts in the file */
};

/* fd: an archive in a regular file. 0, or -errno from fstat. */
int tar_reader_init(struct tar_reader *r, int fd);
/*
 * The next entry. 1 with *e filled, 0 at the end of the archive (a zero
 * block, or end of file exactly at a header boundary), -EINVAL for a
 * malformed or truncated archive (bad checksum, bad number, data past the
 * end of the file, a name without NUL), -EFBIG for base-256 numbers, -errno
 * for read errors.
 */
int tar_next(struct tar_reader *r, struct tar_entry *e);

#endif
