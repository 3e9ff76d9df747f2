/*
 * image_layout.c - see image_layout.h.
 *
 * Archives are read in place: tar_next() tells where each blob's data starts,
 * and blobs are copied or parsed from there with pread, so opening a layout
 * costs one pass over the headers and no copy of the layers. Names inside
 * the archive may carry a leading "./" (GNU tar writes them so); both forms
 * are accepted.
 */
#include "image_layout.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tar.h"
#include "util.h"

/* ---------------------------------------------------------------- references */

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)* for one component of len bytes. */
static bool component_is_valid(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t run = 0;

		while (i < len && is_lower_alnum(s[i]))
			i++, run++;
		if (run == 0)
			return false;
		if (i == len)
			return true;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i += (i + 1 < len && s[i + 1] == '_') ? 2 : 1;
		} else if (s[i] == '-') {
			while (i < len && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i == len)
			return false; /* a separator must be followed by a run */
	}
	return false;
}

bool img_repo_is_valid(const char *repo)
{
	const char *p = repo;

	if (!repo || !*repo || strlen(repo) >= IMG_REPO_MAX)
		return false;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (!component_is_valid(p, n))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

bool img_tag_is_valid(const char *tag)
{
	size_t n = tag ? strlen(tag) : 0;

	if (n == 0 || n > 128 || !(isalnum((unsigned char)tag[0]) || tag[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)tag[i]) || tag[i] == '_' || tag[i] == '.' ||
		      tag[i] == '-'))
			return false;
	return true;
}

/* host[.host...][:port], each label [A-Za-z0-9] with inner '-'. */
static bool domain_is_valid(const char *d)
{
	const char *colon = strchr(d, ':');
	size_t hlen = colon ? (size_t)(colon - d) : strlen(d);
	size_t label = 0;

	if (hlen == 0 || hlen >= IMG_DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < hlen; i++) {
		if (d[i] == '.') {
			if (label == 0 || d[i - 1] == '-')
				return false;
			label = 0;
		} else if (isalnum((unsigned char)d[i]) || (d[i] == '-' && label > 0)) {
			label++;
		} else {
			return false;
		}
	}
	if (label == 0 || d[hlen - 1] == '-')
		return false;
	if (colon) {
		const char *p = colon + 1;

		if (!*p || strlen(p) > 5)
			return false;
		for (; *p; p++)
			if (!isdigit((unsigned char)*p))
				return false;
	}
	return true;
}

int img_ref_parse(const char *s, struct img_ref *out)
{
	struct img_ref r;
	const char *slash, *colon, *path, *end;
	size_t n;

	memset(&r, 0, sizeof(r));
	if (!s || !*s || strlen(s) > IMG_DOMAIN_MAX + IMG_REPO_MAX || strchr(s, '@'))
		return -EINVAL;
	slash = strrchr(s, '/');
	colon = strrchr(s, ':');
	end = s + strlen(s);
	if (colon && (!slash || colon > slash)) {
		if ((size_t)(end - colon - 1) >= sizeof(r.tag))
			return -EINVAL;
		memcpy(r.tag, colon + 1, (size_t)(end - colon - 1));
		end = colon;
	} else {
		strcpy(r.tag, "latest");
	}

	slash = memchr(s, '/', (size_t)(end - s));
	n = slash ? (size_t)(slash - s) : 0;
	if (slash && (memchr(s, '.', n) || memchr(s, ':', n) ||
		      (n == 9 && memcmp(s, "localhost", 9) == 0))) {
		if (n >= sizeof(r.domain))
			return -EINVAL;
		memcpy(r.domain, s, n);
		path = slash + 1;
	} else {
		strcpy(r.domain, "docker.io");
		path = s;
	}
	n = (size_t)(end - path);
	if (strcmp(r.domain, "docker.io") == 0 && !memchr(path, '/', n)) {
		if (n + 8 >= sizeof(r.repo))
			return -EINVAL;
		snprintf(r.repo, sizeof(r.repo), "library/%.*s", (int)n, path);
	} else {
		if (n >= sizeof(r.repo))
			return -EINVAL;
		memcpy(r.repo, path, n);
	}
	if (!domain_is_valid(r.domain) || !img_repo_is_valid(r.repo) || !img_tag_is_valid(r.tag))
		return -EINVAL;
	*out = r;
	return 0;
}

int img_ref_format(const struct img_ref *r, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s:%s", r->domain, r->repo, r->tag);

	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

bool img_media_type_is_manifest(const char *mt)
{
	return mt && (!strcmp(mt, IMG_MT_MANIFEST) || !strcmp(mt, IMG_MT_DOCKER_MANIFEST));
}

bool img_media_type_is_index(const char *mt)
{
	return mt && (!strcmp(mt, IMG_MT_INDEX) || !strcmp(mt, IMG_MT_DOCKER_LIST));
}

int img_descriptor(const json_t *desc, const char **media_type, const char **digest, uint64_t *size)
{
	const json_t *mt = json_object_get(desc, "mediaType");
	const json_t *dg = json_object_get(desc, "digest");
	const json_t *sz = json_object_get(desc, "size");

	if (!json_is_string(mt) || !json_is_string(dg) || !json_is_integer(sz) ||
	    json_integer_value(sz) < 0 || !sha256_digest_is_valid(json_string_value(dg)))
		return -EINVAL;
	*media_type = json_string_value(mt);
	*digest = json_string_value(dg);
	*size = (uint64_t)json_integer_value(sz);
	return 0;
}

/* ---------------------------------------------------------------- archives */

int img_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static json_t *read_json_at(int fd, uint64_t off, uint64_t size)
{
	char *data;
	json_t *j = NULL;
	size_t done = 0;

	if (size > IMG_JSON_MAX)
		return NULL;
	data = xmalloc((size_t)size + 1);
	while (done < size) {
		ssize_t n = pread(fd, data + done, (size_t)size - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		done += (size_t)n;
	}
	j = json_loadb(data, (size_t)size, JSON_REJECT_DUPLICATES, NULL);
out:
	free(data);
	return j;
}

/* Record a blob entry; a name that repeats replaces the earlier one, as tar extraction would. */
static void add_blob(struct img_archive *a, const char *hex, const struct tar_entry *e)
{
	char digest[SHA256_DIGEST_STR_LEN];
	struct img_blob *b;

	snprintf(digest, sizeof(digest), "sha256:%s", hex);
	if (!sha256_digest_is_valid(digest))
		return; /* not a blob name capstan can use; ignore like any other file */
	b = (struct img_blob *)img_archive_find(a, digest);
	if (!b) {
		a->blobs = xrealloc(a->blobs, (a->nblobs + 1) * sizeof(*a->blobs));
		b = &a->blobs[a->nblobs++];
		memcpy(b->digest, digest, sizeof(digest));
	}
	b->offset = e->offset;
	b->size = e->size;
}

int img_archive_open(const char *path, struct img_archive *a, char *err, size_t errlen)
{
	struct tar_reader r;
	struct tar_entry *e = xmalloc(sizeof(*e));
	json_t *layout = NULL, *manifests, *desc;
	bool have_layout = false, have_index = false;
	uint64_t layout_off = 0, layout_size = 0, index_off = 0, index_size = 0;
	size_t i;
	int ret;

	memset(a, 0, sizeof(*a));
	a->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (a->fd < 0) {
		ret = -errno;
		errbuf_setf(err, errlen, "%s: %s", path, strerror(-ret));
		goto fail;
	}
	ret = tar_reader_init(&r, a->fd);
	while (ret == 0 && (ret = tar_next(&r, e)) == 1) {
		const char *name = e->name;

		ret = 0;
		if (strncmp(name, "./", 2) == 0)
			name += 2;
		if (e->type != TAR_TYPE_FILE)
			continue;
		if (strcmp(name, "oci-layout") == 0) {
			have_layout = true, layout_off = e->offset, layout_size = e->size;
		} else if (strcmp(name, "index.json") == 0) {
			have_index = true, index_off = e->offset, index_size = e->size;
		} else if (strncmp(name, "blobs/sha256/", 13) == 0) {
			add_blob(a, name + 13, e);
		}
	}
	if (ret < 0) {
		errbuf_setf(err, errlen, "%s: not a valid tar archive (%s)", path, strerror(-ret));
		ret = -EINVAL;
		goto fail;
	}
	ret = -EINVAL;
	if (!have_layout) {
		errbuf_setf(err, errlen, "%s: not an OCI image layout (no oci-layout file)", path);
		goto fail;
	}
	layout = read_json_at(a->fd, layout_off, layout_size);
	if (!json_is_string(json_object_get(layout, "imageLayoutVersion"))) {
		errbuf_setf(err, errlen, "%s: oci-layout has no imageLayoutVersion", path);
		goto fail;
	}
	a->index = have_index ? read_json_at(a->fd, index_off, index_size) : NULL;
	manifests = json_object_get(a->index, "manifests");
	if (!json_is_array(manifests) ||
	    json_integer_value(json_object_get(a->index, "schemaVersion")) != 2) {
		errbuf_setf(err, errlen, "%s: index.json missing or not an image index", path);
		goto fail;
	}
	json_array_foreach(manifests, i, desc) {
		const char *mt, *digest;
		const struct img_blob *b;
		uint64_t size;

		if (img_descriptor(desc, &mt, &digest, &size) != 0) {
			errbuf_setf(err, errlen,
				    "%s: index.json: manifest %zu is not a valid descriptor", path,
				    i);
			goto fail;
		}
		b = img_archive_find(a, digest);
		if (!b || b->size != size) {
			errbuf_setf(err, errlen, "%s: index.json names %s (%llu bytes), %s", path,
				    digest, (unsigned long long)size,
				    b ? "but the blob has another size"
				      : "which the archive lacks");
			goto fail;
		}
	}
	ret = 0;
	goto out;
fail:
	img_archive_close(a);
out:
	json_decref(layout);
	free(e);
	return ret;
}

void img_archive_close(struct img_archive *a)
{
	if (a->fd >= 0)
		close(a->fd);
	json_decref(a->index);
	free(a->blobs);
	memset(a, 0, sizeof(*a));
	a->fd = -1;
}

const struct img_blob *img_archive_find(const struct img_archive *a, const char *digest)
{
	for (size_t i = 0; i < a->nblobs; i++)
		if (strcmp(a->blobs[i].digest, digest) == 0)
			return &a->blobs[i];
	return NULL;
}

int img_archive_copy(const struct img_archive *a, const struct img_blob *b, int fd)
{
	char buf[65536], got[SHA256_DIGEST_STR_LEN];
	struct sha256 s;
	uint64_t done = 0;

	sha256_init(&s);
	while (done < b->size) {
		ssize_t n = pread(a->fd, buf, (size_t)MIN(b->size - done, (uint64_t)sizeof(buf)),
				  (off_t)(b->offset + done));
		int err;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		sha256_update(&s, buf, (size_t)n);
		err = img_write_all(fd, buf, (size_t)n);
		if (err)
			return err;
		done += (uint64_t)n;
	}
	sha256_final_str(&s, got);
	return strcmp(got, b->digest) == 0 ? 0 : -EBADMSG;
}

json_t *img_archive_json(const struct img_archive *a, const char *digest)
{
	const struct img_blob *b = img_archive_find(a, digest);
	char got[SHA256_DIGEST_STR_LEN];
	struct sha256 s;
	char *data;
	json_t *j = NULL;

	if (!b || b->size > IMG_JSON_MAX)
		return NULL;
	data = xmalloc((size_t)b->size + 1);
	if (pread(a->fd, data, (size_t)b->size, (off_t)b->offset) != (ssize_t)b->size)
		goto out;
	sha256_init(&s);
	sha256_update(&s, data, (size_t)b->size);
	sha256_final_str(&s, got);
	if (strcmp(got, digest) == 0)
		j = json_loadb(data, (size_t)b->size, JSON_REJECT_DUPLICATES, NULL);
out:
	free(data);
	return j;
}

/* ---------------------------------------------------------------- walking */

int img_descriptor_name(const json_t *desc, struct img_ref *ref, char *buf, size_t len)
{
	const json_t *ann = json_object_get(desc, "annotations");
	const char *name = json_string_value(json_object_get(ann, IMG_ANN_IMAGE_NAME));
	struct img_ref r;

	if (!name) {
		name = json_string_value(json_object_get(ann, IMG_ANN_REF_NAME));
		if (!name || !strchr(name, '/'))
			return -ENOENT;
	}
	if (img_ref_parse(name, &r) != 0 || img_ref_format(&r, buf, len) != 0)
		return -EINVAL;
	if (ref)
		*ref = r;
	return 0;
}

#define WALK_DEPTH_MAX 4

static int walk(const json_t *desc, img_fetch_fn fetch, img_visit_fn visit, void *ctx, int depth)
{
	const char *mt, *digest;
	json_t *doc, *child;
	uint64_t size;
	size_t i;
	int ret;

	if (depth > WALK_DEPTH_MAX || img_descriptor(desc, &mt, &digest, &size) != 0)
		return -EINVAL;
	ret = visit(ctx, mt, digest, size);
	if (ret || (!img_media_type_is_manifest(mt) && !img_media_type_is_index(mt)))
		return ret;
	doc = fetch(ctx, digest);
	if (!doc)
		return -ENOENT;
	if (img_media_type_is_index(mt)) {
		json_t *list = json_object_get(doc, "manifests");

		ret = json_is_array(list) ? 0 : -EINVAL;
		json_array_foreach(list, i, child) {
			ret = walk(child, fetch, visit, ctx, depth + 1);
			if (ret)
				break;
		}
	} else {
		json_t *layers = json_object_get(doc, "layers");
		const char *cmt, *cdigest;
		uint64_t csize;

		ret = json_is_array(layers) ? img_descriptor(json_object_get(doc, "config"), &cmt,
							     &cdigest, &csize)
					    : -EINVAL;
		if (!ret)
			ret = visit(ctx, cmt, cdigest, csize);
		json_array_foreach(layers, i, child) {
			if (ret)
				break;
			ret = img_descriptor(child, &cmt, &cdigest, &csize);
			if (!ret)
				ret = visit(ctx, cmt, cdigest, csize);
		}
	}
	json_decref(doc);
	return ret;
}

int img_walk(const json_t *desc, img_fetch_fn fetch, img_visit_fn visit, void *ctx)
{
	return walk(desc, fetch, visit, ctx, 0);
}
