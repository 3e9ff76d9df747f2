/*
 * ipam.c - see ipam.h for the layout and the reasons behind it.
 *
 * Every operation is: take the lock, scan the directory once into a sorted
 * array of taken addresses plus the list of records owned by the caller's
 * (id, ifname), act, fsync the directory, drop the lock. A /24 pool is at most
 * 253 small files, so a full scan per call costs less than the netlink work
 * around it and needs no index that could disagree with the files.
 */
#include "agent/cni/ipam.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/cni/spec.h"
#include "util.h"

#define RECORD_MAGIC "capstan-ipam v1\n"
#define RECORD_MAX 512
#define LOCK_TIMEOUT_MS_DEFAULT 10000

int cni_ip4_parse(const char *s, uint32_t *out)
{
	uint32_t addr = 0;
	int parts = 0;
	const char *p = s;

	if (!s)
		return -EINVAL;
	/* By hand: inet_aton accepts "10.1" and octal, inet_pton is fine but
	 * this keeps "what is an address" in one readable place. */
	while (parts < 4) {
		unsigned v = 0;
		int digits = 0;

		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (unsigned)(*p++ - '0');
			if (++digits > 3 || v > 255)
				return -EINVAL;
		}
		if (digits == 0)
			return -EINVAL;
		addr = addr << 8 | v;
		if (++parts < 4 && *p++ != '.')
			return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	*out = addr;
	return 0;
}

int cni_ip4_cidr_parse(const char *s, uint32_t *addr, unsigned *prefix)
{
	char buf[CNI_IP4_STRLEN];
	const char *slash = s ? strchr(s, '/') : NULL;
	size_t alen;
	unsigned n = 0;
	uint32_t a;

	if (!slash)
		return -EINVAL;
	alen = (size_t)(slash - s);
	if (alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (cni_ip4_parse(buf, &a) < 0)
		return -EINVAL;
	if (!slash[1] || strlen(slash + 1) > 2)
		return -EINVAL;
	for (const char *p = slash + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		n = n * 10 + (unsigned)(*p - '0');
	}
	if (n > 32)
		return -EINVAL;
	*addr = a;
	*prefix = n;
	return 0;
}

uint32_t cni_ip4_mask(unsigned prefix)
{
	/* A shift by 32 is undefined in C. */
	return prefix == 0 ? 0 : prefix >= 32 ? UINT32_MAX : ~(UINT32_MAX >> prefix);
}

/* unsigned char arguments let the compiler see that the text always fits. */
#define IP4_FMT "%u.%u.%u.%u"
#define IP4_ARGS(a)                                                                        \
	(unsigned char)((a) >> 24), (unsigned char)((a) >> 16), (unsigned char)((a) >> 8), \
		(unsigned char)(a)

char *cni_ip4_str(uint32_t addr, char *buf)
{
	snprintf(buf, CNI_IP4_STRLEN, IP4_FMT, IP4_ARGS(addr));
	return buf;
}

char *cni_ip4_cidr_str(uint32_t addr, unsigned prefix, char *buf)
{
	snprintf(buf, CNI_IP4_STRLEN, IP4_FMT "/%u", IP4_ARGS(addr),
		 (unsigned char)MIN(prefix, 32));
	return buf;
}

/* The addresses that may be handed out: [first, last] minus the gateway. */
struct range {
	uint32_t first, last, gateway;
};

static bool range_usable(const struct range *r, uint32_t a)
{
	return a >= r->first && a <= r->last && a != r->gateway;
}

static int conf_check(const struct cni_ipam_conf *conf, const char *id, const char *ifname,
		      struct range *r, char *err, size_t errlen)
{
	uint32_t mask;

	if (!conf || !conf->data_dir || !*conf->data_dir || !conf->network ||
	    !cni_container_id_is_valid(conf->network)) {
		errbuf_setf(err, errlen, "ipam: bad data directory or network name");
		return -EINVAL;
	}
	if (conf->net.prefix < 8 || conf->net.prefix > 30) {
		errbuf_setf(err, errlen, "ipam: prefix /%u out of range 8-30", conf->net.prefix);
		return -EINVAL;
	}
	mask = cni_ip4_mask(conf->net.prefix);
	if (conf->net.addr & ~mask) {
		errbuf_setf(err, errlen, "ipam: network address has host bits set");
		return -EINVAL;
	}
	r->first = conf->net.addr + 1;
	r->last = (conf->net.addr | ~mask) - 1;
	r->gateway = conf->gateway;
	if (conf->gateway < r->first || conf->gateway > r->last) {
		errbuf_setf(err, errlen, "ipam: gateway outside the usable range");
		return -EINVAL;
	}
	if (!cni_container_id_is_valid(id) || !cni_ifname_is_valid(ifname)) {
		errbuf_setf(err, errlen, "ipam: bad container id or interface name");
		return -EINVAL;
	}
	return 0;
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The state directory of conf: opened, and created first when create. */
static int open_state_dir(const struct cni_ipam_conf *conf, bool create, int *dirfd, char *err,
			  size_t errlen)
{
	char path[PATH_MAX];
	int n, fd, ret;

	n = snprintf(path, sizeof(path), "%s/ipam/%s", conf->data_dir, conf->network);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errbuf_setf(err, errlen, "ipam: data directory path too long");
		return -ENAMETOOLONG;
	}
	if (create) {
		ret = mkdir_p(path);
		if (ret < 0) {
			errbuf_setf(err, errlen, "ipam: create %s: %s", path, strerror(-ret));
			return ret;
		}
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		errbuf_setf(err, errlen, "ipam: open %s: %s", path, strerror(-ret));
		return ret;
	}
	*dirfd = fd;
	return 0;
}

/*
 * flock with a deadline. Polling rather than a blocking flock under an alarm:
 * signals would also interrupt the netlink work of the caller.
 */
static int lock_state(int dirfd, int how, int timeout_ms, int *lockfd, char *err, size_t errlen)
{
	uint64_t deadline;
	long sleep_us = 1000;
	int fd, ret;

	fd = openat(dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		errbuf_setf(err, errlen, "ipam: open lock: %s", strerror(-ret));
		return ret;
	}
	deadline = now_mono_ns() +
		   (uint64_t)(timeout_ms > 0 ? timeout_ms : LOCK_TIMEOUT_MS_DEFAULT) * 1000000ull;
	while (flock(fd, how | LOCK_NB) < 0) {
		struct timespec ts;

		if (errno != EWOULDBLOCK && errno != EINTR) {
			ret = -errno;
			errbuf_setf(err, errlen, "ipam: flock: %s", strerror(-ret));
			close(fd);
			return ret;
		}
		if (now_mono_ns() >= deadline) {
			errbuf_setf(err, errlen, "ipam: state is locked by another plugin process");
			close(fd);
			return -EAGAIN;
		}
		ts.tv_sec = 0;
		ts.tv_nsec = sleep_us * 1000;
		nanosleep(&ts, NULL);
		sleep_us = MIN(sleep_us * 2, 20000);
	}
	*lockfd = fd;
	return 0;
}

/* What one scan of the state directory found. */
struct scan {
	uint32_t *used; /* addresses in range that have a record, sorted */
	size_t nused, cap_used;
	uint32_t *owned; /* addresses whose record names the caller, any range */
	size_t nowned, cap_owned;
};

static void push(uint32_t **arr, size_t *n, size_t *cap, uint32_t v)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*arr = xrealloc(*arr, *cap * sizeof(**arr));
	}
	(*arr)[(*n)++] = v;
}

static void scan_free(struct scan *s)
{
	free(s->used);
	free(s->owned);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool scan_is_used(const struct scan *s, uint32_t a)
{
	return s->nused && bsearch(&a, s->used, s->nused, sizeof(a), cmp_u32);
}

/*
 * Does the record file name in dirfd belong to (id, ifname)? A record that
 * cannot be read or does not parse belongs to nobody: its address stays
 * taken and no DEL can free it, which is the safe way to be wrong.
 */
static bool record_is_owned_by(int dirfd, const char *name, const char *id, const char *ifname)
{
	char buf[RECORD_MAX + 1], *p, *nl;
	ssize_t n;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, RECORD_MAX + 1);
	close(fd);
	if (n <= 0 || n > RECORD_MAX)
		return false;
	buf[n] = '\0';
	if (strncmp(buf, RECORD_MAGIC, strlen(RECORD_MAGIC)) != 0)
		return false;
	p = buf + strlen(RECORD_MAGIC);
	nl = strchr(p, '\n');
	if (!nl)
		return false;
	*nl = '\0';
	if (strcmp(p, id) != 0)
		return false;
	p = nl + 1;
	nl = strchr(p, '\n');
	if (!nl || nl[1] != '\0')
		return false;
	*nl = '\0';
	return strcmp(p, ifname) == 0;
}

static int scan_dir(int dirfd, const struct range *r, const char *id, const char *ifname,
		    bool remove_tmp, struct scan *s, char *err, size_t errlen)
{
	DIR *d;
	struct dirent *de;
	int fd = dup(dirfd), ret = 0;

	if (fd < 0 || !(d = fdopendir(fd))) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		errbuf_setf(err, errlen, "ipam: read state directory: %s", strerror(-ret));
		return ret;
	}
	rewinddir(d);
	errno = 0;
	while ((de = readdir(d))) {
		uint32_t a;

		if (strncmp(de->d_name, ".tmp.", 5) == 0) {
			/* A crashed writer's leftover: no writer runs while we hold
			 * the lock exclusively. */
			if (remove_tmp)
				unlinkat(dirfd, de->d_name, 0);
			continue;
		}
		if (cni_ip4_parse(de->d_name, &a) < 0)
			continue; /* ".", "lock", "last", anything foreign */
		if (range_usable(r, a))
			push(&s->used, &s->nused, &s->cap_used, a);
		if (record_is_owned_by(dirfd, de->d_name, id, ifname))
			push(&s->owned, &s->nowned, &s->cap_owned, a);
	}
	if (errno) {
		ret = -errno;
		errbuf_setf(err, errlen, "ipam: read state directory: %s", strerror(-ret));
	}
	closedir(d);
	if (s->nused)
		qsort(s->used, s->nused, sizeof(*s->used), cmp_u32);
	return ret;
}

/* Write content to a temporary file in dirfd and fsync it; its name goes to tmp. */
static int write_tmp(int dirfd, const char *tag, const char *content, char *tmp, size_t tmplen)
{
	size_t len = strlen(content);
	int fd, ret = 0;

	snprintf(tmp, tmplen, ".tmp.%d.%s", (int)getpid(), tag);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, content, len) != (ssize_t)len || fsync(fd) < 0)
		ret = errno ? -errno : -EIO;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (ret)
		unlinkat(dirfd, tmp, 0);
	return ret;
}

/*
 * Take address a for (id, ifname). -EEXIST when its file appeared although
 * the scan did not see it (never expected under the lock; the caller moves
 * on instead of overwriting).
 */
static int record_create(int dirfd, uint32_t a, const char *id, const char *ifname)
{
	char name[CNI_IP4_STRLEN], tmp[64], *content;
	int ret;

	cni_ip4_str(a, name);
	content = xasprintf(RECORD_MAGIC "%s\n%s\n", id, ifname);
	ret = write_tmp(dirfd, name, content, tmp, sizeof(tmp));
	free(content);
	if (ret < 0)
		return ret;
	/* link() fails if the name exists: taking an address is atomic. */
	if (linkat(dirfd, tmp, dirfd, name, 0) < 0)
		ret = -errno;
	unlinkat(dirfd, tmp, 0);
	return ret;
}

/* The address in "last", or false when it is missing or damaged. */
static bool last_read(int dirfd, uint32_t *out)
{
	char buf[32];
	ssize_t n;
	int fd = openat(dirfd, "last", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 1 || buf[n - 1] != '\n')
		return false;
	buf[n - 1] = '\0';
	return cni_ip4_parse(buf, out) == 0;
}

static int last_write(int dirfd, uint32_t a)
{
	char addr[CNI_IP4_STRLEN], content[CNI_IP4_STRLEN + 1], tmp[64];
	int ret;

	snprintf(content, sizeof(content), "%s\n", cni_ip4_str(a, addr));
	ret = write_tmp(dirfd, "last", content, tmp, sizeof(tmp));
	if (ret < 0)
		return ret;
	if (renameat(dirfd, tmp, dirfd, "last") < 0) {
		ret = -errno;
		unlinkat(dirfd, tmp, 0);
	}
	return ret;
}

/* Unlink the record of a; a record already gone counts as removed. */
static int record_remove(int dirfd, uint32_t a)
{
	char name[CNI_IP4_STRLEN];

	if (unlinkat(dirfd, cni_ip4_str(a, name), 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Walk from after "last" to the first free address and take it. */
static int take_next(int dirfd, const struct range *r, const struct scan *s, const char *id,
		     const char *ifname, uint32_t *out, char *err, size_t errlen)
{
	uint32_t c, count = r->last - r->first + 1;
	char addr[CNI_IP4_STRLEN];
	int ret;

	if (!last_read(dirfd, &c) || c < r->first || c > r->last)
		c = r->last; /* so the walk starts at first */
	for (uint32_t i = 0; i < count; i++) {
		c = c == r->last ? r->first : c + 1;
		if (c == r->gateway || scan_is_used(s, c))
			continue;
		ret = record_create(dirfd, c, id, ifname);
		if (ret == -EEXIST)
			continue;
		if (ret < 0) {
			errbuf_setf(err, errlen, "ipam: write record %s: %s", cni_ip4_str(c, addr),
				    strerror(-ret));
			return ret;
		}
		/* The record is what counts; a stale "last" only moves where
		 * the next search starts. */
		last_write(dirfd, c);
		*out = c;
		return 0;
	}
	errbuf_setf(err, errlen, "ipam: no free address");
	return -ENOSPC;
}

/*
 * One operation's locked view of the state directory. A writer (alloc,
 * release) creates the directory, locks it exclusively and clears crash
 * leftovers; a reader (lookup) needs it to exist and shares the lock.
 */
struct session {
	int dirfd, lockfd;
	struct range r;
	struct scan s;
};

static int session_begin(struct session *ss, const struct cni_ipam_conf *conf, const char *id,
			 const char *ifname, bool write, char *err, size_t errlen)
{
	int ret;

	memset(ss, 0, sizeof(*ss));
	ss->dirfd = ss->lockfd = -1;
	ret = conf_check(conf, id, ifname, &ss->r, err, errlen);
	if (ret == 0)
		ret = open_state_dir(conf, write, &ss->dirfd, err, errlen);
	if (ret == 0)
		ret = lock_state(ss->dirfd, write ? LOCK_EX : LOCK_SH, conf->lock_timeout_ms,
				 &ss->lockfd, err, errlen);
	if (ret == 0)
		ret = scan_dir(ss->dirfd, &ss->r, id, ifname, write, &ss->s, err, errlen);
	return ret;
}

/* Make the operation's changes durable. 0 or -errno. */
static int session_sync(struct session *ss, char *err, size_t errlen)
{
	int ret = 0;

	if (fsync(ss->dirfd) < 0) {
		ret = -errno;
		errbuf_setf(err, errlen, "ipam: fsync state directory: %s", strerror(-ret));
	}
	return ret;
}

/* Release a session whatever session_begin() got to. */
static void session_end(struct session *ss)
{
	scan_free(&ss->s);
	if (ss->lockfd >= 0)
		close(ss->lockfd); /* drops the flock */
	if (ss->dirfd >= 0)
		close(ss->dirfd);
}

int cni_ipam_alloc(const struct cni_ipam_conf *conf, const char *id, const char *ifname,
		   uint32_t *out, char *err, size_t errlen)
{
	struct session ss;
	bool have = false;
	uint32_t mine = 0;
	int ret;

	ret = session_begin(&ss, conf, id, ifname, true, err, errlen);
	if (ret < 0)
		goto out;
	/* Keep the lowest in-range record of the caller; drop the rest (records
	 * from an older pod CIDR, or a duplicate from a damaged past). */
	if (ss.s.nowned)
		qsort(ss.s.owned, ss.s.nowned, sizeof(*ss.s.owned), cmp_u32);
	for (size_t i = 0; i < ss.s.nowned; i++) {
		if (!have && range_usable(&ss.r, ss.s.owned[i])) {
			mine = ss.s.owned[i];
			have = true;
		} else {
			record_remove(ss.dirfd, ss.s.owned[i]);
		}
	}
	if (have)
		*out = mine;
	else
		ret = take_next(ss.dirfd, &ss.r, &ss.s, id, ifname, out, err, errlen);
	if (ret == 0)
		ret = session_sync(&ss, err, errlen);
out:
	session_end(&ss);
	return ret;
}

int cni_ipam_release(const struct cni_ipam_conf *conf, const char *id, const char *ifname,
		     char *err, size_t errlen)
{
	struct session ss;
	char addr[CNI_IP4_STRLEN];
	int ret, released = 0;

	ret = session_begin(&ss, conf, id, ifname, true, err, errlen);
	for (size_t i = 0; ret == 0 && i < ss.s.nowned; i++) {
		ret = record_remove(ss.dirfd, ss.s.owned[i]);
		if (ret < 0)
			errbuf_setf(err, errlen, "ipam: remove record %s: %s",
				    cni_ip4_str(ss.s.owned[i], addr), strerror(-ret));
		else
			released++;
	}
	if (ret == 0 && released)
		ret = session_sync(&ss, err, errlen);
	session_end(&ss);
	return ret < 0 ? ret : released;
}

int cni_ipam_lookup(const struct cni_ipam_conf *conf, const char *id, const char *ifname,
		    uint32_t *out, char *err, size_t errlen)
{
	struct session ss;
	int ret;

	ret = session_begin(&ss, conf, id, ifname, false, err, errlen);
	if (ret < 0)
		goto out;
	ret = -ENOENT;
	for (size_t i = 0; i < ss.s.nowned; i++) {
		if (range_usable(&ss.r, ss.s.owned[i]) && (ret < 0 || ss.s.owned[i] < *out)) {
			*out = ss.s.owned[i];
			ret = 0;
		}
	}
	if (ret < 0)
		errbuf_setf(err, errlen, "ipam: no address recorded for this container");
out:
	session_end(&ss);
	return ret;
}
