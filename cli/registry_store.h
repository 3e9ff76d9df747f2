/*
 * registry_store.h - the content `capstan registry serve` offers: an OCI
 * image layout directory (oci-layout, index.json, blobs/sha256/<hex>) seen
 * as repositories of tags, manifests and blobs.
 *
 * Each descriptor of index.json that names an image (io.containerd.image.name,
 * or a whole reference in org.opencontainers.image.ref.name) puts a tag into
 * the repository its reference names: capstan.local/httpd:1 is tag "1" of
 * repository "httpd". The registry does not care which host name a client
 * used (containerd maps capstan.local to it through hosts.toml), so the
 * domain is dropped; two images whose names differ only by domain share a
 * repository and the later descriptor's tag wins. A repository serves the
 * manifests and blobs reachable from its tags and nothing else, as a
 * registry scopes blobs to repositories; an image whose manifest, config or
 * layer file is missing or has the wrong size is left out (and said so
 * through log_warn) rather than served half.
 *
 * A loaded store is an immutable snapshot, so server threads read it
 * without locks; the server swaps in a new one when index.json changes.
 * registry_add() writes the directory: it copies each blob from a tarball
 * (verifying the content against its digest), then replaces index.json
 * atomically (temporary file + rename) under an flock on DIR/.lock, so a
 * running server sees either the old or the new index, and every blob the
 * new index names is already in place. Blobs no longer referenced are kept
 * (no garbage collection).
 */
#ifndef CAPSTAN_CLI_REGISTRY_STORE_H
#define CAPSTAN_CLI_REGISTRY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sha256.h"

struct registry_manifest {
	char digest[SHA256_DIGEST_STR_LEN];
	char *media_type;
	uint64_t size;
};

struct registry_tag {
	char *name;
	char digest[SHA256_DIGEST_STR_LEN];
};

struct registry_repo {
	char *name;		   /* "httpd", "library/busybox" */
	struct registry_tag *tags; /* sorted by name */
	size_t ntags;
	struct registry_manifest *manifests; /* sorted by digest */
	size_t nmanifests;
	char (*blobs)[SHA256_DIGEST_STR_LEN]; /* configs and layers, sorted */
	size_t nblobs;
};

struct registry_store {
	char *dir;
	struct registry_repo *repos; /* sorted by name */
	size_t nrepos;
	/* index.json as it was when loaded, to notice changes. */
	dev_t dev;
	ino_t ino;
	int64_t mtime_ns;
	off_t size;
};

/*
 * Load the layout in dir. A missing index.json is an empty store. 0 with
 * *out set (free with registry_store_free), -ENOENT when dir does not exist,
 * -EINVAL when index.json is not an image index, -errno for I/O errors; a
 * message in err.
 */
int registry_store_load(const char *dir, struct registry_store **out, char *err, size_t errlen);
void registry_store_free(struct registry_store *s);

/* True when dir's index.json is not the one s was loaded from. */
bool registry_store_is_stale(const struct registry_store *s);

/* Lookups; NULL / false when absent. */
const struct registry_repo *registry_store_repo(const struct registry_store *s, const char *name);
const char *registry_repo_tag(const struct registry_repo *r, const char *tag);
const struct registry_manifest *registry_repo_manifest(const struct registry_repo *r,
						       const char *digest);
/* Any content of the repository: a manifest, a config or a layer. */
bool registry_repo_has_blob(const struct registry_repo *r, const char *digest);

/* dir/blobs/sha256/<hex> for a valid digest into buf; -EINVAL or -ENOSPC. */
int registry_blob_path(const char *dir, const char *digest, char *buf, size_t len);

/*
 * Add every named image of an OCI layout tarball to the layout in dir
 * (created when missing). 0 on success; -EINVAL when the tarball is not a
 * layout, names no image or lacks a blob its manifests reference; -EBADMSG
 * when a blob's content does not match its digest; -errno for I/O errors;
 * a message in err. On failure index.json is unchanged (blobs already
 * copied stay, harmless).
 */
int registry_add(const char *dir, const char *tarball, char *err, size_t errlen);

#endif
