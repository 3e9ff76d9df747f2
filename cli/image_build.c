/*
 * image_build.c - see image_build.h.
 *
 * Entries are collected in spec order, each with a sequence number, then
 * sorted by (path, sequence): equal paths end up adjacent with the latest
 * last, which makes "a later file replaces an earlier one" a single pass,
 * and strcmp order puts every directory before its contents (a prefix sorts
 * first), which is what extractors expect. Missing parents are added after
 * that pass and the list sorted once more.
 *
 * The two small JSON blobs are kept in memory; only the layer goes through a
 * temporary file (its size must be known before its tar header is written
 * into the output). Both temporary files live next to the output, so the
 * final rename is atomic and never crosses file systems.
 */
#include "image_build.h"

#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "image_layout.h"
#include "ktime.h"
#include "tar.h"
#include "util.h"

/* busybox --list prints a few hundred names; anything near this is not busybox. */
#define APPLETS_MAX 4096
#define LIST_OUTPUT_MAX (256u << 10)

extern char **environ;

struct entry {
	char *path; /* relative and clean: "bin/sh" */
	char type;  /* TAR_TYPE_* */
	unsigned mode;
	size_t seq;
	const char *src; /* host file for a TAR_TYPE_FILE without data */
	char *data;	 /* inline content */
	size_t len;
	char *target; /* symlink target */
};

struct layer {
	struct entry *v;
	size_t n, cap;
};

const char *img_host_arch(void)
{
	static const struct {
		const char *machine, *arch;
	} map[] = {
		{ "x86_64", "amd64" },	  { "aarch64", "arm64" },   { "i686", "386" },
		{ "armv7l", "arm" },	  { "ppc64le", "ppc64le" }, { "s390x", "s390x" },
		{ "riscv64", "riscv64" },
	};
	static struct utsname u;

	if (uname(&u) != 0)
		return "amd64";
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (strcmp(u.machine, map[i].machine) == 0)
			return map[i].arch;
	return u.machine;
}

/* ---------------------------------------------------------------- processes */

int img_run(const char *const argv[], struct buf *out, size_t limit, int *status)
{
	posix_spawn_file_actions_t fa;
	int pipefd[2] = { -1, -1 }, wstatus, err;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) != 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	err = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (err) {
		close(pipefd[0]);
		return -err;
	}
	for (;;) {
		char chunk[4096];
		ssize_t n = read(pipefd[0], chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out && out->len < limit)
			buf_append(out, chunk, MIN((size_t)n, limit - out->len));
	}
	close(pipefd[0]);
	while (waitpid(pid, &wstatus, 0) < 0)
		if (errno != EINTR)
			return -errno;
	*status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
	return 0;
}

/* ---------------------------------------------------------------- entries */

static void layer_free(struct layer *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].path);
		free(l->v[i].data);
		free(l->v[i].target);
	}
	free(l->v);
}

static struct entry *layer_add(struct layer *l, const char *path, char type, unsigned mode)
{
	struct entry *e;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	e = &l->v[l->n];
	memset(e, 0, sizeof(*e));
	e->path = xstrdup(path);
	e->type = type;
	e->mode = mode;
	e->seq = l->n++;
	return e;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	return c ? c : (x->seq < y->seq ? -1 : x->seq > y->seq);
}

static int entry_cmp_path_only(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->path, ((const struct entry *)b)->path);
}

static void entry_release(struct entry *e)
{
	free(e->path);
	free(e->data);
	free(e->target);
}

/*
 * Sort, keep the last of each path (two directories merge into the later
 * one's mode), and add missing parent directories. -EEXIST when a path is a
 * directory once and something else another time, -ENOTDIR when a parent is
 * not a directory.
 */
static int layer_settle(struct layer *l, char *err, size_t errlen)
{
	size_t i, out = 0, base;
	int ret = 0;

	if (l->n == 0)
		return 0;
	qsort(l->v, l->n, sizeof(*l->v), entry_cmp);
	/* The pass always completes, so that each entry is owned exactly once after it. */
	for (i = 0; i < l->n; i++) {
		if (out > 0 && strcmp(l->v[out - 1].path, l->v[i].path) == 0) {
			struct entry *prev = &l->v[out - 1];

			if ((prev->type == TAR_TYPE_DIR) != (l->v[i].type == TAR_TYPE_DIR) &&
			    !ret) {
				errbuf_setf(err, errlen, "/%s is added both as a directory and not",
					    prev->path);
				ret = -EEXIST;
			}
			entry_release(prev);
			*prev = l->v[i];
			continue;
		}
		l->v[out++] = l->v[i];
	}
	l->n = out;
	if (ret)
		return ret;

	/* Parents: every proper prefix ending before a '/' must be a directory. */
	base = l->n;
	for (i = 0; i < base; i++) {
		char *p = xstrdup(l->v[i].path), *slash;

		for (slash = strchr(p, '/'); slash; slash = strchr(slash + 1, '/')) {
			struct entry key = { .path = p }, *found;

			*slash = '\0';
			found = bsearch(&key, l->v, base, sizeof(*l->v), entry_cmp_path_only);
			if (!found) {
				/* Also look among the parents added so far. */
				for (size_t j = base; j < l->n && !found; j++)
					if (strcmp(l->v[j].path, p) == 0)
						found = &l->v[j];
			}
			if (!found) {
				layer_add(l, p, TAR_TYPE_DIR, 0755);
			} else if (found->type != TAR_TYPE_DIR) {
				errbuf_setf(err, errlen,
					    "/%s is not a directory but /%s is below it", p,
					    l->v[i].path);
				free(p);
				return -ENOTDIR;
			}
			*slash = '/';
		}
		free(p);
	}
	qsort(l->v, l->n, sizeof(*l->v), entry_cmp);
	return 0;
}

/* ---------------------------------------------------------------- inputs */

/* 0 for an ELF executable without a PT_INTERP header (static), -ENOEXEC otherwise. */
static int check_static(const char *path, char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	int fd, ret = -ENOEXEC;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		errbuf_setf(err, errlen, "busybox %s: %s", path, strerror(-ret));
		return ret;
	}
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) || eh.e_phentsize < sizeof(Elf64_Phdr) ||
	    eh.e_phnum > 4096) {
		errbuf_setf(err, errlen, "busybox %s is not a 64-bit ELF executable", path);
		goto out;
	}
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (pread(fd, &ph, sizeof(ph),
			  (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) !=
		    (ssize_t)sizeof(ph)) {
			errbuf_setf(err, errlen, "busybox %s: truncated program headers", path);
			goto out;
		}
		if (ph.p_type == PT_INTERP) {
			errbuf_setf(err, errlen,
				    "busybox %s is dynamically linked; the image has no C library "
				    "(install busybox-static)",
				    path);
			goto out;
		}
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

static bool applet_name_is_valid(const char *s)
{
	if (!*s || !strcmp(s, ".") || !strcmp(s, "..") || !strcmp(s, "busybox"))
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || strchr("._-[]", *s)))
			return false;
	return true;
}

static int add_busybox(struct layer *l, const char *path, char *err, size_t errlen)
{
	static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
				     "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
	static const char group[] = "root:x:0:\nnobody:x:65534:\n";
	static const struct {
		const char *path;
		unsigned mode;
	} dirs[] = {
		{ "bin", 0755 },  { "dev", 0755 }, { "etc", 0755 },  { "proc", 0555 },
		{ "root", 0700 }, { "sys", 0555 }, { "tmp", 01777 },
	};
	const char *argv[] = { path, "--list", NULL };
	struct buf out = { 0 };
	struct entry *e;
	size_t napplets = 0;
	char *line, *save = NULL;
	int ret, status;

	ret = check_static(path, err, errlen);
	if (ret)
		return ret;
	ret = img_run(argv, &out, LIST_OUTPUT_MAX, &status);
	if (ret || status != 0) {
		errbuf_setf(err, errlen, "%s --list failed: %s", path,
			    ret ? strerror(-ret) : "non-zero exit status");
		ret = ret ? ret : -ENOEXEC;
		goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		layer_add(l, dirs[i].path, TAR_TYPE_DIR, dirs[i].mode);
	e = layer_add(l, "bin/busybox", TAR_TYPE_FILE, 0755);
	e->src = path;
	e = layer_add(l, "etc/passwd", TAR_TYPE_FILE, 0644);
	e->data = xstrdup(passwd);
	e->len = sizeof(passwd) - 1;
	e = layer_add(l, "etc/group", TAR_TYPE_FILE, 0644);
	e->data = xstrdup(group);
	e->len = sizeof(group) - 1;

	for (line = strtok_r(out.data ? out.data : (char *)"", "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[300];

		if (!applet_name_is_valid(line) || strlen(line) > 200)
			continue;
		if (++napplets > APPLETS_MAX) {
			errbuf_setf(err, errlen, "%s --list printed over %d names", path,
				    APPLETS_MAX);
			ret = -EINVAL;
			goto out;
		}
		snprintf(name, sizeof(name), "bin/%s", line);
		e = layer_add(l, name, TAR_TYPE_SYMLINK, 0777);
		e->target = xstrdup("busybox");
	}
	if (napplets == 0) {
		errbuf_setf(err, errlen, "%s --list printed no applets", path);
		ret = -ENOEXEC;
	}
out:
	buf_free(&out);
	return ret;
}

static int add_files(struct layer *l, const struct img_spec *spec, char *err, size_t errlen)
{
	for (size_t i = 0; i < spec->nfiles; i++) {
		const struct img_file *f = &spec->files[i];
		struct stat st;
		struct entry *e;
		unsigned mode;

		if (!f->dst || f->dst[0] != '/' || !tar_name_is_clean(f->dst + 1)) {
			errbuf_setf(
				err, errlen,
				"destination '%s' must be an absolute path without '.', '..' or "
				"empty components",
				f->dst ? f->dst : "");
			return -EINVAL;
		}
		if (f->mode < -1 || f->mode > 07777) {
			errbuf_setf(err, errlen, "mode %o of %s is out of range", f->mode, f->dst);
			return -EINVAL;
		}
		if (stat(f->src, &st) != 0) {
			int ret = -errno;

			errbuf_setf(err, errlen, "%s: %s", f->src, strerror(-ret));
			return ret;
		}
		if (!S_ISREG(st.st_mode)) {
			errbuf_setf(err, errlen, "%s is not a regular file", f->src);
			return -EINVAL;
		}
		mode = f->mode >= 0 ? (unsigned)f->mode : (st.st_mode & 0111) ? 0755 : 0644;
		e = layer_add(l, f->dst + 1, TAR_TYPE_FILE, mode);
		e->src = f->src;
	}
	return 0;
}

/* ---------------------------------------------------------------- config */

static json_t *string_array(const char *text, const char *what, char *err, size_t errlen)
{
	json_t *a = json_loads(text, JSON_REJECT_DUPLICATES, NULL), *v;
	size_t i;

	if (!json_is_array(a))
		goto bad;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v))
			goto bad;
	}
	return a;
bad:
	json_decref(a);
	errbuf_setf(err, errlen, "%s must be a JSON array of strings, e.g. [\"/httpd\",\"-v\"]: %s",
		    what, text);
	return NULL;
}

/* JSON strings must be UTF-8; json_string() says whether s is. */
static bool is_utf8(const char *s)
{
	json_t *j = json_string(s);
	bool ok = j != NULL;

	json_decref(j);
	return ok;
}

/* "80", "80/tcp", "5353/udp" into "80/tcp" form. */
static int port_key(const char *s, char *out, size_t len)
{
	const char *slash = strchr(s, '/'), *proto = slash ? slash + 1 : "tcp";
	char *end;
	long port;

	errno = 0;
	port = strtol(s, &end, 10);
	if (errno || end == s || (slash ? end != slash : *end != '\0') || port < 1 || port > 65535)
		return -EINVAL;
	if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp"))
		return -EINVAL;
	snprintf(out, len, "%ld/%s", port, proto);
	return 0;
}

/* The image config without rootfs.diff_ids (added once the layer is written). */
static json_t *make_config(const struct img_spec *spec, const char *arch, const char *created,
			   char *err, size_t errlen)
{
	json_t *cfg = json_object(), *c = json_object(), *env = json_array(), *ports, *a;
	bool has_path = false;

	for (size_t i = 0; i < spec->nenv; i++)
		has_path |= strncmp(spec->env[i], "PATH=", 5) == 0;
	if (!has_path)
		json_array_append_new(env, json_string(IMG_DEFAULT_PATH));
	for (size_t i = 0; i < spec->nenv; i++) {
		const char *eq = strchr(spec->env[i], '=');

		if (!eq || eq == spec->env[i] || !is_utf8(spec->env[i])) {
			errbuf_setf(err, errlen, "--env '%s' must be KEY=VALUE", spec->env[i]);
			goto fail;
		}
		json_array_append_new(env, json_string(spec->env[i]));
	}
	json_object_set_new(c, "Env", env);
	env = NULL;
	if (spec->entrypoint_json) {
		a = string_array(spec->entrypoint_json, "--entrypoint", err, errlen);
		if (!a)
			goto fail;
		json_object_set_new(c, "Entrypoint", a);
	}
	if (spec->cmd_json) {
		a = string_array(spec->cmd_json, "--cmd", err, errlen);
		if (!a)
			goto fail;
		json_object_set_new(c, "Cmd", a);
	}
	if (spec->workdir && (spec->workdir[0] != '/' || !is_utf8(spec->workdir))) {
		errbuf_setf(err, errlen, "--workdir '%s' must be an absolute path", spec->workdir);
		goto fail;
	}
	json_object_set_new(c, "WorkingDir", json_string(spec->workdir ? spec->workdir : "/"));
	if (spec->nexpose) {
		ports = json_object();
		json_object_set_new(c, "ExposedPorts", ports);
		for (size_t i = 0; i < spec->nexpose; i++) {
			char key[32];

			if (port_key(spec->expose[i], key, sizeof(key)) != 0) {
				errbuf_setf(
					err, errlen,
					"--expose '%s' must be PORT[/tcp|udp|sctp], PORT 1-65535",
					spec->expose[i]);
				goto fail;
			}
			json_object_set_new(ports, key, json_object());
		}
	}
	json_object_set_new(cfg, "architecture", json_string(arch));
	json_object_set_new(cfg, "os", json_string("linux"));
	json_object_set_new(cfg, "created", json_string(created));
	json_object_set_new(cfg, "config", c);
	json_object_set_new(
		cfg, "history",
		json_pack("[{s:s, s:s}]", "created", created, "created_by", "capstan image build"));
	return cfg;
fail:
	json_decref(env);
	json_decref(c);
	json_decref(cfg);
	return NULL;
}

/* Compact, sorted keys: the same object always gives the same bytes. */
static char *dump(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	if (!s)
		abort(); /* only allocation fails here */
	return s;
}

static void digest_of(const char *data, size_t len, char out[SHA256_DIGEST_STR_LEN])
{
	struct sha256 s;

	sha256_init(&s);
	sha256_update(&s, data, len);
	sha256_final_str(&s, out);
}

/* ---------------------------------------------------------------- writing */

struct hash_sink {
	int fd;
	struct sha256 sha;
};

static int hash_sink_write(void *ctx, const void *data, size_t len)
{
	struct hash_sink *h = ctx;

	sha256_update(&h->sha, data, len);
	return img_write_all(h->fd, data, len);
}

static int fd_sink_write(void *ctx, const void *data, size_t len)
{
	return img_write_all(*(int *)ctx, data, len);
}

static int write_entry(struct tar_writer *w, const struct entry *e, char *err, size_t errlen)
{
	struct stat st;
	int fd, ret;

	switch (e->type) {
	case TAR_TYPE_DIR:
		ret = tar_add_dir(w, e->path, e->mode);
		break;
	case TAR_TYPE_SYMLINK:
		ret = tar_add_symlink(w, e->path, e->target);
		break;
	default:
		if (!e->src) {
			ret = tar_add_file(w, e->path, e->mode, e->data, e->len);
			break;
		}
		fd = open(e->src, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) != 0) {
			ret = -errno;
			errbuf_setf(err, errlen, "%s: %s", e->src, strerror(-ret));
			if (fd >= 0)
				close(fd);
			return ret;
		}
		ret = S_ISREG(st.st_mode)
			      ? tar_add_file_fd(w, e->path, e->mode, fd, (uint64_t)st.st_size)
			      : -EINVAL;
		close(fd);
	}
	if (ret)
		errbuf_setf(err, errlen, "layer entry /%s: %s", e->path, strerror(-ret));
	return ret;
}

static int write_layer(const struct layer *l, uint64_t mtime, int fd,
		       char digest[SHA256_DIGEST_STR_LEN], uint64_t *size, char *err, size_t errlen)
{
	struct hash_sink h = { .fd = fd };
	struct tar_writer w;
	int ret = 0;

	sha256_init(&h.sha);
	tar_writer_init(&w, hash_sink_write, &h, mtime);
	for (size_t i = 0; i < l->n && !ret; i++)
		ret = write_entry(&w, &l->v[i], err, errlen);
	if (!ret)
		ret = tar_finish(&w);
	if (ret) {
		if (w.err)
			errbuf_setf(err, errlen, "writing the layer: %s", strerror(-ret));
		return ret;
	}
	sha256_final_str(&h.sha, digest);
	*size = w.offset;
	return 0;
}

struct blob {
	const char *digest;
	const char *data; /* or the layer file: */
	int fd;
	uint64_t size;
};

static int blob_cmp(const void *a, const void *b)
{
	return strcmp(((const struct blob *)a)->digest, ((const struct blob *)b)->digest);
}

static int write_archive(int fd, uint64_t mtime, struct blob *blobs, size_t nblobs,
			 const char *index, uint64_t *size)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	struct tar_writer w;
	int ret;

	qsort(blobs, nblobs, sizeof(*blobs), blob_cmp);
	tar_writer_init(&w, fd_sink_write, &fd, mtime);
	ret = tar_add_dir(&w, "blobs", 0755);
	if (!ret)
		ret = tar_add_dir(&w, "blobs/sha256", 0755);
	for (size_t i = 0; i < nblobs && !ret; i++) {
		char name[100];

		snprintf(name, sizeof(name), "blobs/sha256/%s", blobs[i].digest + 7);
		if (blobs[i].data) {
			ret = tar_add_file(&w, name, 0644, blobs[i].data, blobs[i].size);
		} else if (lseek(blobs[i].fd, 0, SEEK_SET) != 0) {
			ret = -errno;
		} else {
			ret = tar_add_file_fd(&w, name, 0644, blobs[i].fd, blobs[i].size);
		}
	}
	if (!ret)
		ret = tar_add_file(&w, "index.json", 0644, index, strlen(index));
	if (!ret)
		ret = tar_add_file(&w, "oci-layout", 0644, layout, sizeof(layout) - 1);
	if (!ret)
		ret = tar_finish(&w);
	*size = w.offset;
	return ret;
}

/* A temporary file next to path: "<path>.<what>.XXXXXX". */
static int temp_next_to(const char *path, const char *what, char **name)
{
	int fd;

	*name = xasprintf("%s.%s.XXXXXX", path, what);
	fd = mkostemp(*name, O_CLOEXEC);
	if (fd < 0) {
		int ret = -errno;

		free(*name);
		*name = NULL;
		return ret;
	}
	return fd;
}

int img_build(const struct img_spec *spec, const char *out_path, struct img_result *res, char *err,
	      size_t errlen)
{
	struct img_result r;
	struct img_ref ref;
	struct layer l = { 0 };
	struct blob blobs[3];
	char created[KTIME_BUFSZ], *layer_tmp = NULL, *out_tmp = NULL;
	char *config_s = NULL, *manifest_s = NULL, *index_s = NULL;
	const char *arch = spec->arch ? spec->arch : img_host_arch();
	json_t *config = NULL, *manifest = NULL, *index = NULL;
	int layer_fd = -1, out_fd = -1, ret;

	memset(&r, 0, sizeof(r));
	if (!spec->ref || img_ref_parse(spec->ref, &ref) != 0 ||
	    img_ref_format(&ref, r.ref, sizeof(r.ref)) != 0) {
		errbuf_setf(err, errlen, "'%s' is not a valid image reference NAME[:TAG]",
			    spec->ref ? spec->ref : "");
		return -EINVAL;
	}
	if (!*arch || strspn(arch, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(arch)) {
		errbuf_setf(err, errlen, "architecture '%s' must be a GOARCH name like amd64",
			    arch);
		return -EINVAL;
	}
	if (spec->mtime > (uint64_t)INT64_MAX / 1000000000 ||
	    ktime_format((int64_t)spec->mtime * 1000000000, created, sizeof(created)) != 0) {
		errbuf_setf(err, errlen, "timestamp %llu is out of range",
			    (unsigned long long)spec->mtime);
		return -EINVAL;
	}
	config = make_config(spec, arch, created, err, errlen);
	if (!config)
		return -EINVAL;

	ret = spec->busybox
		      ? add_busybox(&l,
				    spec->busybox_path ? spec->busybox_path : IMG_DEFAULT_BUSYBOX,
				    err, errlen)
		      : 0;
	if (!ret)
		ret = add_files(&l, spec, err, errlen);
	if (!ret)
		ret = layer_settle(&l, err, errlen);
	if (ret)
		goto out;
	if (l.n == 0) {
		errbuf_setf(err, errlen, "the image would be empty: give --busybox or --add");
		ret = -EINVAL;
		goto out;
	}

	layer_fd = temp_next_to(out_path, "layer", &layer_tmp);
	if (layer_fd < 0) {
		ret = layer_fd;
		errbuf_setf(err, errlen, "temporary file next to %s: %s", out_path, strerror(-ret));
		goto out;
	}
	ret = write_layer(&l, spec->mtime, layer_fd, r.layer_digest, &r.layer_size, err, errlen);
	if (ret)
		goto out;

	json_object_set_new(
		config, "rootfs",
		json_pack("{s:s, s:[s]}", "type", "layers", "diff_ids", r.layer_digest));
	config_s = dump(config);
	r.config_size = strlen(config_s);
	digest_of(config_s, r.config_size, r.config_digest);

	manifest = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:[{s:s, s:s, s:I}]}", "schemaVersion",
			     2, "mediaType", IMG_MT_MANIFEST, "config", "mediaType", IMG_MT_CONFIG,
			     "digest", r.config_digest, "size", (json_int_t)r.config_size, "layers",
			     "mediaType", IMG_MT_LAYER, "digest", r.layer_digest, "size",
			     (json_int_t)r.layer_size);
	manifest_s = dump(manifest);
	r.manifest_size = strlen(manifest_s);
	digest_of(manifest_s, r.manifest_size, r.manifest_digest);

	index = json_pack("{s:i, s:s, s:[{s:s, s:s, s:I, s:{s:s, s:s}, s:{s:s, s:s}}]}",
			  "schemaVersion", 2, "mediaType", IMG_MT_INDEX, "manifests", "mediaType",
			  IMG_MT_MANIFEST, "digest", r.manifest_digest, "size",
			  (json_int_t)r.manifest_size, "platform", "architecture", arch, "os",
			  "linux", "annotations", IMG_ANN_IMAGE_NAME, r.ref, IMG_ANN_REF_NAME,
			  ref.tag);
	index_s = dump(index);

	out_fd = temp_next_to(out_path, "tmp", &out_tmp);
	if (out_fd < 0) {
		ret = out_fd;
		errbuf_setf(err, errlen, "temporary file next to %s: %s", out_path, strerror(-ret));
		goto out;
	}
	blobs[0] = (struct blob){ r.config_digest, config_s, -1, r.config_size };
	blobs[1] = (struct blob){ r.manifest_digest, manifest_s, -1, r.manifest_size };
	blobs[2] = (struct blob){ r.layer_digest, NULL, layer_fd, r.layer_size };
	ret = write_archive(out_fd, spec->mtime, blobs, ARRAY_SIZE(blobs), index_s,
			    &r.archive_size);
	if (!ret && fchmod(out_fd, 0644) != 0)
		ret = -errno;
	if (!ret && rename(out_tmp, out_path) != 0)
		ret = -errno;
	if (ret) {
		errbuf_setf(err, errlen, "writing %s: %s", out_path, strerror(-ret));
		goto out;
	}
	free(out_tmp);
	out_tmp = NULL; /* renamed: nothing to remove */
	r.entries = l.n;
	if (res)
		*res = r;
out:
	if (layer_fd >= 0)
		close(layer_fd);
	if (out_fd >= 0)
		close(out_fd);
	if (layer_tmp)
		unlink(layer_tmp);
	if (out_tmp)
		unlink(out_tmp);
	free(layer_tmp);
	free(out_tmp);
	free(config_s);
	free(manifest_s);
	free(index_s);
	json_decref(config);
	json_decref(manifest);
	json_decref(index);
	layer_free(&l);
	return ret;
}
