/*
 * image_build.h - build a one-layer OCI image from host files, without a
 * registry, a daemon or Docker, and write it as an OCI image layout tarball.
 *
 * The image is described by a struct img_spec (what `capstan image build`
 * parses from its command line): the reference, optional busybox root
 * filesystem, host files to add, and the image config (entrypoint, cmd,
 * env, working directory, exposed ports). img_build() then
 *
 *   1. collects the layer's entries: busybox's (bin/busybox, one symlink per
 *      applet, a minimal /etc/passwd and /etc/group, /tmp 1777, mount
 *      points), then each --add file, then every missing parent directory;
 *      a later file replaces an earlier one at the same path;
 *   2. sorts them by path and writes the layer as an uncompressed ustar
 *      archive, hashing it on the way (its digest is also its diff_id);
 *   3. writes the config and the manifest (compact JSON, sorted keys) and an
 *      index.json whose one descriptor carries io.containerd.image.name (the
 *      normalised reference) and org.opencontainers.image.ref.name (the tag);
 *   4. packs oci-layout, index.json and the three blobs into the output
 *      tarball, through a temporary file renamed into place, so a failed
 *      build never leaves a half-written image where make expects one.
 *
 * Reproducible: every entry has the same mtime (spec->mtime, the config's
 * "created" too), owner 0:0, and modes that depend only on the spec (an
 * added file is 0755 when any execute bit is set on the host, else 0644,
 * unless a mode is given), so the same inputs give the same bytes and the
 * same digests. The busybox binary must be static (no PT_INTERP program
 * header): the image has no C library.
 */
#ifndef CAPSTAN_CLI_IMAGE_BUILD_H
#define CAPSTAN_CLI_IMAGE_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sha256.h"
#include "util.h"

/* 2024-01-01T00:00:00Z: the default timestamp of every built image. */
#define IMG_DEFAULT_MTIME 1704067200ull
#define IMG_DEFAULT_BUSYBOX "/bin/busybox"
#define IMG_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct img_file {
	const char *src; /* a regular file on the host */
	const char *dst; /* absolute path in the image */
	int mode;	 /* permission bits, or -1 for 0755/0644 from the source */
};

struct img_spec {
	const char *ref;	  /* NAME[:TAG] */
	bool busybox;		  /* add busybox and a minimal root */
	const char *busybox_path; /* NULL = IMG_DEFAULT_BUSYBOX */
	const struct img_file *files;
	size_t nfiles;
	const char *entrypoint_json; /* a JSON array of strings, or NULL */
	const char *cmd_json;	     /* a JSON array of strings, or NULL */
	const char *const *env;	     /* "K=V"; PATH defaults to IMG_DEFAULT_PATH */
	size_t nenv;
	const char *workdir;	   /* absolute; NULL = "/" */
	const char *const *expose; /* "80", "80/tcp", "5353/udp" */
	size_t nexpose;
	uint64_t mtime;	  /* seconds since the epoch */
	const char *arch; /* GOARCH name; NULL = this machine's */
};

struct img_result {
	char ref[512]; /* normalised: domain/repo:tag */
	char manifest_digest[SHA256_DIGEST_STR_LEN];
	char config_digest[SHA256_DIGEST_STR_LEN];
	char layer_digest[SHA256_DIGEST_STR_LEN];
	uint64_t manifest_size, config_size, layer_size;
	uint64_t archive_size; /* the output tarball */
	size_t entries;	       /* in the layer */
};

/*
 * Build the image and write the tarball to out_path. 0 on success with *res
 * filled (res may be NULL); -errno with a message in err otherwise: -EINVAL
 * for a bad spec (reference, JSON, env, port, path, mode), -ENOENT/-EACCES
 * for unreadable inputs, -ENOEXEC when busybox is not a static executable,
 * -ENAMETOOLONG for a path ustar cannot hold, -EEXIST when a path is both a
 * file and a directory, -ENOTDIR when a file has a non-directory above it,
 * or the I/O error. The output is untouched on failure.
 */
int img_build(const struct img_spec *spec, const char *out_path, struct img_result *res, char *err,
	      size_t errlen);

/*
 * Run argv (argv[0] looked up in PATH) with stdin from /dev/null and stdout
 * and stderr captured into out (at most limit bytes kept; the rest is read
 * and dropped so the child never blocks). 0 with *status set to the exit
 * status (or 128 + signal), -ENOENT when the program is missing, -errno on
 * other failures to start it.
 */
int img_run(const char *const argv[], struct buf *out, size_t limit, int *status);

/* GOARCH name of this machine ("amd64", "arm64", ...). */
const char *img_host_arch(void);

#endif
