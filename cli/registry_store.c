/*
 * registry_store.c - see registry_store.h.
 *
 * Loading walks every named descriptor of index.json with img_walk, reading
 * manifests and indexes from the blob files and checking that every blob
 * they reach is present with the size its descriptor claims (a stat, not a
 * hash: contents were verified when registry_add copied them, and hashing
 * every layer on each reload would make a reload cost as much as a pull).
 * What an image reaches is collected first and merged into its repository
 * only when the whole walk succeeded, so a broken image never leaves half
 * of itself served.
 */
#include "registry_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "image_layout.h"
#include "log.h"
#include "util.h"

typedef char digest_t[SHA256_DIGEST_STR_LEN];

int registry_blob_path(const char *dir, const char *digest, char *buf, size_t len)
{
	int n;

	if (!sha256_digest_is_valid(digest))
		return -EINVAL;
	n = snprintf(buf, len, "%s/blobs/sha256/%s", dir, digest + 7);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

/* A JSON file of at most IMG_JSON_MAX bytes, or NULL. */
static json_t *load_json_file(const char *path, struct stat *st_out, int *errp)
{
	struct stat st;
	json_t *j = NULL;
	char *data = NULL;
	ssize_t n;
	int fd;

	*errp = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		*errp = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)IMG_JSON_MAX) {
		*errp = -EINVAL;
		goto out;
	}
	data = xmalloc((size_t)st.st_size + 1);
	n = pread(fd, data, (size_t)st.st_size, 0);
	if (n != st.st_size) {
		*errp = n < 0 ? -errno : -EIO;
		goto out;
	}
	j = json_loadb(data, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
	if (!j)
		*errp = -EINVAL;
	else if (st_out)
		*st_out = st;
out:
	if (fd >= 0)
		close(fd);
	free(data);
	return j;
}

static bool index_is_valid(const json_t *index)
{
	return json_is_object(index) && json_is_array(json_object_get(index, "manifests")) &&
	       json_integer_value(json_object_get(index, "schemaVersion")) == 2;
}

/* ---------------------------------------------------------------- loading */

struct reach {
	const char *dir;
	struct registry_manifest *m;
	size_t nm;
	digest_t *b;
	size_t nb;
	char bad[SHA256_DIGEST_STR_LEN + 64]; /* what broke the walk */
};

static json_t *fetch_file(void *ctx, const char *digest)
{
	struct reach *r = ctx;
	char path[4096];
	int err;

	if (registry_blob_path(r->dir, digest, path, sizeof(path)) != 0)
		return NULL;
	return load_json_file(path, NULL, &err);
}

static int visit_file(void *ctx, const char *media_type, const char *digest, uint64_t size)
{
	struct reach *r = ctx;
	char path[4096];
	struct stat st;

	if (registry_blob_path(r->dir, digest, path, sizeof(path)) != 0 || stat(path, &st) != 0) {
		snprintf(r->bad, sizeof(r->bad), "%s is missing", digest);
		return -ENOENT;
	}
	if ((uint64_t)st.st_size != size) {
		snprintf(r->bad, sizeof(r->bad), "%s has %lld bytes, not %llu", digest,
			 (long long)st.st_size, (unsigned long long)size);
		return -EBADMSG;
	}
	if (img_media_type_is_manifest(media_type) || img_media_type_is_index(media_type)) {
		struct registry_manifest *m;

		r->m = xrealloc(r->m, (r->nm + 1) * sizeof(*r->m));
		m = &r->m[r->nm++];
		memcpy(m->digest, digest, sizeof(m->digest));
		m->media_type = xstrdup(media_type);
		m->size = size;
	} else {
		r->b = xrealloc(r->b, (r->nb + 1) * sizeof(*r->b));
		memcpy(r->b[r->nb++], digest, sizeof(digest_t));
	}
	return 0;
}

static void reach_free(struct reach *r)
{
	for (size_t i = 0; i < r->nm; i++)
		free(r->m[i].media_type);
	free(r->m);
	free(r->b);
}

static struct registry_repo *repo_get(struct registry_store *s, const char *name)
{
	struct registry_repo *r;

	for (size_t i = 0; i < s->nrepos; i++)
		if (strcmp(s->repos[i].name, name) == 0)
			return &s->repos[i];
	s->repos = xrealloc(s->repos, (s->nrepos + 1) * sizeof(*s->repos));
	r = &s->repos[s->nrepos++];
	memset(r, 0, sizeof(*r));
	r->name = xstrdup(name);
	return r;
}

/* Move what one image reaches into its repository and point the tag at it. */
static void repo_merge(struct registry_repo *repo, const char *tag, const char *digest,
		       struct reach *r)
{
	struct registry_tag *t = NULL;

	for (size_t i = 0; i < repo->ntags && !t; i++)
		if (strcmp(repo->tags[i].name, tag) == 0)
			t = &repo->tags[i];
	if (!t) {
		repo->tags = xrealloc(repo->tags, (repo->ntags + 1) * sizeof(*repo->tags));
		t = &repo->tags[repo->ntags++];
		t->name = xstrdup(tag);
	}
	memcpy(t->digest, digest, sizeof(t->digest));

	repo->manifests =
		xrealloc(repo->manifests, (repo->nmanifests + r->nm) * sizeof(*repo->manifests));
	memcpy(repo->manifests + repo->nmanifests, r->m, r->nm * sizeof(*r->m));
	repo->nmanifests += r->nm;
	repo->blobs = xrealloc(repo->blobs, (repo->nblobs + r->nb) * sizeof(*repo->blobs));
	memcpy(repo->blobs + repo->nblobs, r->b, r->nb * sizeof(*r->b));
	repo->nblobs += r->nb;
	free(r->m);
	free(r->b);
	r->m = NULL, r->b = NULL, r->nm = r->nb = 0;
}

static int cmp_repo(const void *a, const void *b)
{
	return strcmp(((const struct registry_repo *)a)->name,
		      ((const struct registry_repo *)b)->name);
}

static int cmp_tag(const void *a, const void *b)
{
	return strcmp(((const struct registry_tag *)a)->name,
		      ((const struct registry_tag *)b)->name);
}

static int cmp_manifest(const void *a, const void *b)
{
	return strcmp(((const struct registry_manifest *)a)->digest,
		      ((const struct registry_manifest *)b)->digest);
}

static int cmp_digest(const void *a, const void *b)
{
	return strcmp(*(const digest_t *)a, *(const digest_t *)b);
}

/* Sort for bsearch and drop duplicates (an image shares layers with another). */
static void repo_finish(struct registry_repo *r)
{
	size_t out = 0;

	qsort(r->tags, r->ntags, sizeof(*r->tags), cmp_tag);
	qsort(r->manifests, r->nmanifests, sizeof(*r->manifests), cmp_manifest);
	for (size_t i = 0; i < r->nmanifests; i++) {
		if (out && !strcmp(r->manifests[out - 1].digest, r->manifests[i].digest))
			free(r->manifests[i].media_type);
		else
			r->manifests[out++] = r->manifests[i];
	}
	r->nmanifests = out;
	qsort(r->blobs, r->nblobs, sizeof(*r->blobs), cmp_digest);
	out = 0;
	for (size_t i = 0; i < r->nblobs; i++)
		if (!out || strcmp(r->blobs[out - 1], r->blobs[i]))
			memmove(r->blobs[out++], r->blobs[i], sizeof(digest_t));
	r->nblobs = out;
}

/* index.json's identity, to notice a replacement (rename) or a rewrite. */
static void stamp(struct registry_store *s, const struct stat *st)
{
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	s->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	s->size = st->st_size;
}

int registry_store_load(const char *dir, struct registry_store **out, char *err, size_t errlen)
{
	struct registry_store *s;
	struct stat st;
	char path[4096];
	json_t *index, *desc;
	size_t i;
	int ret;

	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		ret = errno == ENOENT ? -ENOENT : -ENOTDIR;
		errbuf_setf(err, errlen, "%s: %s", dir, strerror(-ret));
		return ret;
	}
	s = xcalloc(1, sizeof(*s));
	s->dir = xstrdup(dir);
	s->mtime_ns = -1; /* no index.json */
	snprintf(path, sizeof(path), "%s/index.json", dir);
	index = load_json_file(path, &st, &ret);
	if (!index && ret == -ENOENT) {
		*out = s;
		return 0;
	}
	if (!index || !index_is_valid(index)) {
		errbuf_setf(err, errlen, "%s: %s", path,
			    index ? "not an image index" : strerror(-ret));
		json_decref(index);
		registry_store_free(s);
		return index ? -EINVAL : ret;
	}
	stamp(s, &st);
	json_array_foreach(json_object_get(index, "manifests"), i, desc) {
		struct reach r = { .dir = dir };
		struct img_ref ref;
		char name[512];
		const char *digest = json_string_value(json_object_get(desc, "digest"));

		ret = img_descriptor_name(desc, &ref, name, sizeof(name));
		if (ret) {
			if (ret != -ENOENT)
				log_warn("registry: %s: manifest %zu has an invalid name; skipped",
					 path, i);
			continue;
		}
		ret = img_walk(desc, fetch_file, visit_file, &r);
		if (ret) {
			log_warn("registry: %s: image %s skipped: %s", dir, name,
				 r.bad[0] ? r.bad : strerror(-ret));
			reach_free(&r);
			continue;
		}
		repo_merge(repo_get(s, ref.repo), ref.tag, digest, &r);
	}
	json_decref(index);
	qsort(s->repos, s->nrepos, sizeof(*s->repos), cmp_repo);
	for (i = 0; i < s->nrepos; i++)
		repo_finish(&s->repos[i]);
	*out = s;
	return 0;
}

void registry_store_free(struct registry_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nrepos; i++) {
		struct registry_repo *r = &s->repos[i];

		for (size_t j = 0; j < r->ntags; j++)
			free(r->tags[j].name);
		for (size_t j = 0; j < r->nmanifests; j++)
			free(r->manifests[j].media_type);
		free(r->tags);
		free(r->manifests);
		free(r->blobs);
		free(r->name);
	}
	free(s->repos);
	free(s->dir);
	free(s);
}

bool registry_store_is_stale(const struct registry_store *s)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/index.json", s->dir);
	if (stat(path, &st) != 0)
		return s->mtime_ns != -1;
	return s->mtime_ns == -1 || st.st_dev != s->dev || st.st_ino != s->ino ||
	       st.st_size != s->size ||
	       (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec != s->mtime_ns;
}

const struct registry_repo *registry_store_repo(const struct registry_store *s, const char *name)
{
	struct registry_repo key = { .name = (char *)name };

	return bsearch(&key, s->repos, s->nrepos, sizeof(*s->repos), cmp_repo);
}

const char *registry_repo_tag(const struct registry_repo *r, const char *tag)
{
	struct registry_tag key = { .name = (char *)tag };
	const struct registry_tag *t = bsearch(&key, r->tags, r->ntags, sizeof(*r->tags), cmp_tag);

	return t ? t->digest : NULL;
}

const struct registry_manifest *registry_repo_manifest(const struct registry_repo *r,
						       const char *digest)
{
	struct registry_manifest key;

	if (!sha256_digest_is_valid(digest))
		return NULL;
	memcpy(key.digest, digest, sizeof(key.digest));
	return bsearch(&key, r->manifests, r->nmanifests, sizeof(*r->manifests), cmp_manifest);
}

bool registry_repo_has_blob(const struct registry_repo *r, const char *digest)
{
	digest_t key;

	if (!sha256_digest_is_valid(digest))
		return false;
	memcpy(key, digest, sizeof(key));
	return bsearch(&key, r->blobs, r->nblobs, sizeof(*r->blobs), cmp_digest) ||
	       registry_repo_manifest(r, digest);
}

/* ---------------------------------------------------------------- adding */

struct add_ctx {
	const char *dir;
	const struct img_archive *a;
	char *err;
	size_t errlen;
};

static json_t *fetch_archive(void *ctx, const char *digest)
{
	struct add_ctx *c = ctx;

	return img_archive_json(c->a, digest);
}

/* Copy one blob into the store unless it is there already. */
static int visit_archive(void *ctx, const char *media_type, const char *digest, uint64_t size)
{
	struct add_ctx *c = ctx;
	const struct img_blob *b = img_archive_find(c->a, digest);
	char path[4096], *tmp = NULL;
	struct stat st;
	int fd = -1, ret;

	if (!b || b->size != size) {
		errbuf_setf(c->err, c->errlen, "the tarball %s blob %s (%llu bytes)",
			    b ? "has another size for" : "lacks", digest, (unsigned long long)size);
		return -EINVAL;
	}
	ret = registry_blob_path(c->dir, digest, path, sizeof(path));
	if (ret)
		return ret;
	if (stat(path, &st) == 0 && (uint64_t)st.st_size == size)
		return 0; /* verified when it was added */
	tmp = xasprintf("%s/blobs/sha256/.%s.XXXXXX", c->dir, digest + 7);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	ret = img_archive_copy(c->a, b, fd);
	if (!ret && fchmod(fd, 0644) != 0)
		ret = -errno;
	if (!ret && rename(tmp, path) != 0)
		ret = -errno;
out:
	if (ret == -EBADMSG)
		errbuf_setf(c->err, c->errlen, "blob %s in the tarball does not match its digest",
			    digest);
	else if (ret)
		errbuf_setf(c->err, c->errlen, "copying %s into %s: %s", digest, c->dir,
			    strerror(-ret));
	if (fd >= 0)
		close(fd);
	if (ret && fd >= 0)
		unlink(tmp);
	free(tmp);
	return ret;
}

static int write_file_atomic(const char *dir, const char *name, const char *data)
{
	char *path = xasprintf("%s/%s", dir, name), *tmp = xasprintf("%s/.%s.XXXXXX", dir, name);
	int fd = mkostemp(tmp, O_CLOEXEC), ret = 0;

	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	ret = img_write_all(fd, data, strlen(data));
	if (!ret && fchmod(fd, 0644) != 0)
		ret = -errno;
	if (!ret && fsync(fd) != 0)
		ret = -errno;
	close(fd);
	if (!ret && rename(tmp, path) != 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
out:
	free(path);
	free(tmp);
	return ret;
}

static int mkdir_p3(const char *dir)
{
	char *blobs = xasprintf("%s/blobs", dir), *sha = xasprintf("%s/blobs/sha256", dir);
	int ret = 0;

	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		ret = -errno;
	if (!ret && mkdir(blobs, 0755) != 0 && errno != EEXIST)
		ret = -errno;
	if (!ret && mkdir(sha, 0755) != 0 && errno != EEXIST)
		ret = -errno;
	free(blobs);
	free(sha);
	return ret;
}

/* Drop descriptors of index that name the image `name` (normalised). */
static void index_drop_name(json_t *manifests, const char *name)
{
	for (size_t i = json_array_size(manifests); i-- > 0;) {
		char other[512];

		if (img_descriptor_name(json_array_get(manifests, i), NULL, other, sizeof(other)) ==
			    0 &&
		    strcmp(other, name) == 0)
			json_array_remove(manifests, i);
	}
}

int registry_add(const char *dir, const char *tarball, char *err, size_t errlen)
{
	struct img_archive a = { .fd = -1 };
	struct add_ctx c = { .dir = dir, .a = &a, .err = err, .errlen = errlen };
	char *lock = NULL, *index_path = NULL, *layout_path = NULL, *text = NULL;
	json_t *index = NULL, *manifests, *desc;
	size_t i, named = 0;
	int lock_fd = -1, ret;

	ret = mkdir_p3(dir);
	if (ret) {
		errbuf_setf(err, errlen, "creating %s/blobs/sha256: %s", dir, strerror(-ret));
		return ret;
	}
	lock = xasprintf("%s/.lock", dir);
	lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX) != 0) {
		ret = -errno;
		errbuf_setf(err, errlen, "locking %s: %s", lock, strerror(-ret));
		goto out;
	}
	ret = img_archive_open(tarball, &a, err, errlen);
	if (ret)
		goto out;

	index_path = xasprintf("%s/index.json", dir);
	index = load_json_file(index_path, NULL, &ret);
	if (!index && ret == -ENOENT) {
		index = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType", IMG_MT_INDEX,
				  "manifests");
	} else if (!index || !index_is_valid(index)) {
		errbuf_setf(err, errlen, "%s: %s", index_path,
			    index ? "not an image index" : strerror(-ret));
		ret = index ? -EINVAL : ret;
		goto out;
	}
	manifests = json_object_get(index, "manifests");

	json_array_foreach(json_object_get(a.index, "manifests"), i, desc) {
		char name[512];

		ret = img_descriptor_name(desc, NULL, name, sizeof(name));
		if (ret == -ENOENT)
			continue;
		if (ret) {
			errbuf_setf(err, errlen, "%s: manifest %zu has an invalid image name",
				    tarball, i);
			goto out;
		}
		if (err && errlen)
			err[0] = '\0';
		ret = img_walk(desc, fetch_archive, visit_archive, &c);
		if (ret) {
			if (ret == -ENOENT)
				errbuf_setf(err, errlen,
					    "%s: a manifest of %s is missing or not JSON", tarball,
					    name);
			else if (err && errlen && !err[0])
				errbuf_setf(err, errlen, "%s: image %s is malformed: %s", tarball,
					    name, strerror(-ret));
			goto out;
		}
		index_drop_name(manifests, name);
		json_array_append_new(manifests, json_deep_copy(desc));
		named++;
	}
	if (!named) {
		errbuf_setf(err, errlen, "%s names no image (no %s annotation)", tarball,
			    IMG_ANN_IMAGE_NAME);
		ret = -EINVAL;
		goto out;
	}
	layout_path = xasprintf("%s/oci-layout", dir);
	if (access(layout_path, F_OK) != 0)
		ret = write_file_atomic(dir, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
	text = json_dumps(index, JSON_COMPACT);
	if (!ret)
		ret = text ? write_file_atomic(dir, "index.json", text) : -ENOMEM;
	if (ret)
		errbuf_setf(err, errlen, "writing %s: %s", index_path, strerror(-ret));
out:
	if (a.fd >= 0)
		img_archive_close(&a);
	if (lock_fd >= 0)
		close(lock_fd); /* drops the flock */
	json_decref(index);
	free(text);
	free(layout_path);
	free(index_path);
	free(lock);
	return ret;
}
