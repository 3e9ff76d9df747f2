/*
 * image_layout.h - what capstan knows about OCI images as files: image
 * references, media types, and OCI image layout archives (the tarballs
 * `capstan image build` writes and `ctr images import` reads).
 *
 * References follow the grammar containerd and Docker use, restricted to
 * what the project needs: [DOMAIN/]PATH[:TAG]. The first component is a
 * domain when it contains '.' or ':' or is "localhost" and more follows;
 * otherwise the domain is docker.io and a one-component path gets
 * "library/" in front, the normalisation containerd's CRI applies before it
 * looks an image up. So "capstan.local/httpd:1" is domain "capstan.local",
 * repository "httpd", tag "1", and "busybox" is
 * "docker.io/library/busybox:latest". Digest references (NAME@sha256:...)
 * are refused: images are built and named here, by tag.
 *
 * An archive is read once on open: oci-layout is checked, index.json parsed
 * and validated (every descriptor has a media type, a valid sha256 digest
 * and a size), and the position of every blobs/sha256/<hex> entry is
 * recorded, so blobs can then be copied out by digest with their content
 * verified against the name.
 */
#ifndef CAPSTAN_CLI_IMAGE_LAYOUT_H
#define CAPSTAN_CLI_IMAGE_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sha256.h"

#define IMG_MT_INDEX "application/vnd.oci.image.index.v1+json"
#define IMG_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define IMG_MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define IMG_MT_LAYER "application/vnd.oci.image.layer.v1.tar"
#define IMG_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define IMG_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

/* Annotations on index.json's manifest descriptors. */
#define IMG_ANN_REF_NAME "org.opencontainers.image.ref.name"
#define IMG_ANN_IMAGE_NAME "io.containerd.image.name"

/* Largest JSON document (index, manifest, config) read into memory. */
#define IMG_JSON_MAX (4u << 20)

#define IMG_DOMAIN_MAX 256
#define IMG_REPO_MAX 256
#define IMG_TAG_MAX 129

struct img_ref {
	char domain[IMG_DOMAIN_MAX]; /* "capstan.local", "127.0.0.1:5000", "docker.io" */
	char repo[IMG_REPO_MAX];     /* "httpd", "library/busybox" */
	char tag[IMG_TAG_MAX];	     /* "1", "latest" */
};

/* 0 with *out set, or -EINVAL when s is not a valid NAME[:TAG]. */
int img_ref_parse(const char *s, struct img_ref *out);
/* "domain/repo:tag" into buf; -ENOSPC when it does not fit, else 0. */
int img_ref_format(const struct img_ref *r, char *buf, size_t len);

/* The distribution spec's grammars: repository path and tag. */
bool img_repo_is_valid(const char *repo);
bool img_tag_is_valid(const char *tag);
/* True for the manifest and index media types (OCI and Docker). */
bool img_media_type_is_manifest(const char *mt);
bool img_media_type_is_index(const char *mt);

/*
 * Checks a descriptor object: mediaType a string, digest valid sha256, size
 * a non-negative integer. 0 with *digest, *size, *media_type (borrowed) set,
 * or -EINVAL.
 */
int img_descriptor(const json_t *desc, const char **media_type, const char **digest,
		   uint64_t *size);

/*
 * The normalised reference ("domain/repo:tag") a descriptor of index.json
 * names: its io.containerd.image.name annotation, else its
 * org.opencontainers.image.ref.name when that is a whole reference (has a
 * '/'; a bare tag names no repository). 0 with buf and *ref set (ref may be
 * NULL), -ENOENT when the descriptor names nothing, -EINVAL when the name is
 * not a valid reference.
 */
int img_descriptor_name(const json_t *desc, struct img_ref *ref, char *buf, size_t len);

/* Reads a manifest or index blob by digest (a new reference), or NULL. */
typedef json_t *(*img_fetch_fn)(void *ctx, const char *digest);
/* Called for each descriptor reached; non-zero stops the walk with that value. */
typedef int (*img_visit_fn)(void *ctx, const char *media_type, const char *digest, uint64_t size);

/*
 * Visit desc and everything it references: an image manifest's config and
 * layers, an index's manifests (recursively, at most 4 levels). 0 when the
 * walk completed; -ENOENT when fetch found no manifest/index blob; -EINVAL
 * for a malformed manifest, index or descriptor, or nesting too deep; or
 * visit's value.
 */
int img_walk(const json_t *desc, img_fetch_fn fetch, img_visit_fn visit, void *ctx);

struct img_blob {
	char digest[SHA256_DIGEST_STR_LEN];
	uint64_t offset; /* of the data in the archive */
	uint64_t size;
};

struct img_archive {
	int fd;
	json_t *index; /* index.json */
	struct img_blob *blobs;
	size_t nblobs;
};

/*
 * Open and check an OCI image layout archive. 0 on success (release with
 * img_archive_close), or -errno with a message in err: -ENOENT/-EACCES from
 * open, -EINVAL when it is not a tar, has no oci-layout or index.json, or
 * index.json is malformed or names a blob the archive lacks.
 */
int img_archive_open(const char *path, struct img_archive *a, char *err, size_t errlen);
void img_archive_close(struct img_archive *a);

/* The blob with this digest, or NULL. */
const struct img_blob *img_archive_find(const struct img_archive *a, const char *digest);

/*
 * Copy a blob into fd while hashing it. 0 when the content matches its
 * digest; -EBADMSG when it does not; -errno for I/O errors.
 */
int img_archive_copy(const struct img_archive *a, const struct img_blob *b, int fd);

/* Read a blob that holds JSON (at most IMG_JSON_MAX). NULL when absent or not JSON. */
json_t *img_archive_json(const struct img_archive *a, const char *digest);

/*
 * Write all of buf to fd (retrying short writes and EINTR). 0 or -errno.
 * Shared by every writer of image files.
 */
int img_write_all(int fd, const void *buf, size_t len);

#endif
