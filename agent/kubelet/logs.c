/* logs.c - CRI log files for /containerLogs; see logs.h for the format and design. */
#include "agent/kubelet/logs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ktime.h"
#include "util.h"

#define LOGS_CHUNK (64u << 10)
/* A raw line longer than this is skipped (containerd splits at 16 KiB). */
#define LOGS_MAX_LINE (1u << 20)
/* Joined fragments are printed once they reach this, so memory stays bounded. */
#define LOGS_MAX_PENDING (1u << 20)
#define LOGS_POLL_MS 50
#define LOGS_ALIVE_CHECK_NS 1000000000ll

struct logs_pending {
	struct buf text;
	int64_t ts_ns; /* of the first fragment */
	bool active;
};

struct logs_reader {
	char *path;
	struct logs_options opt;
	bool (*writer_alive)(void *ctx);
	void *ctx;

	int fd;
	dev_t dev;
	ino_t ino;
	off_t off;	  /* bytes of fd consumed */
	off_t window;	  /* lines before this offset only feed fragments (tail) */
	struct buf in;	  /* raw bytes not yet split into lines */
	size_t in_pos;	  /* start of the unprocessed part of in */
	bool skipping;	  /* dropping an over-long line up to its newline */
	bool rotating;	  /* the path names a new file: one last read of the old one */
	bool writer_gone; /* writer_alive() said no: finish at the next end of file */
	int64_t alive_checked_ns;

	struct logs_pending pend[2]; /* per stream */
	struct buf out;
	size_t out_pos;
	long long emitted; /* towards limit_bytes */
	bool done;	   /* no more input will be processed */
};

/* ---------------------------------------------------------------- parsing */

int logs_parse_line(const char *line, size_t len, struct logs_line *out)
{
	const char *end = line + len, *sp, *p, *tag;
	char ts[KTIME_BUFSZ + 8];
	struct logs_line l;

	if (!line)
		return -EINVAL;
	sp = memchr(line, ' ', len);
	if (!sp || (size_t)(sp - line) >= sizeof(ts))
		return -EINVAL;
	memcpy(ts, line, (size_t)(sp - line));
	ts[sp - line] = '\0';
	if (ktime_parse(ts, &l.ts_ns) < 0)
		return -EINVAL;
	p = sp + 1;
	if ((size_t)(end - p) >= 7 && memcmp(p, "stdout ", 7) == 0)
		l.stream = LOGS_STDOUT;
	else if ((size_t)(end - p) >= 7 && memcmp(p, "stderr ", 7) == 0)
		l.stream = LOGS_STDERR;
	else
		return -EINVAL;
	tag = p + 7;
	/* The tag is "F" or "P", optionally followed by ":"-separated fields. */
	if (tag >= end || (*tag != 'F' && *tag != 'P'))
		return -EINVAL;
	p = tag + 1;
	if (p < end && *p == ':')
		while (p < end && *p != ' ')
			p++;
	if (p < end && *p != ' ')
		return -EINVAL;
	l.partial = *tag == 'P';
	/* "<ts> stdout F" with nothing after the tag is an empty line. */
	l.text = p < end ? p + 1 : end;
	l.len = (size_t)(end - l.text);
	*out = l;
	return 0;
}

static int parse_go_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_ll(const char *s, long long min, long long *out)
{
	char *end;
	long long v;

	if (!*s || *s == ' ' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min)
		return -EINVAL;
	*out = v;
	return 0;
}

int logs_options_from_query(const char *(*get)(void *ctx, const char *name), void *ctx,
			    int64_t now_ns, struct logs_options *o, bool *previous, char *err,
			    size_t errlen)
{
	static const struct {
		const char *name;
		long long min;
	} numbers[] = { { "tailLines", 0 }, { "sinceSeconds", 1 }, { "limitBytes", 1 } };
	struct logs_options opt = { .tail_lines = -1 };
	static const char *const flag_names[] = { "follow", "previous", "timestamps" };
	bool prev = false;
	bool *flags[] = { &opt.follow, &prev, &opt.timestamps };
	long long n[3] = { -1, -1, -1 };
	const char *since_time;

	for (size_t i = 0; i < ARRAY_SIZE(flag_names); i++) {
		const char *v = get(ctx, flag_names[i]);

		if (v && parse_go_bool(v, flags[i]) < 0) {
			snprintf(err, errlen, "%s: \"%s\" is not a boolean", flag_names[i], v);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(numbers); i++) {
		const char *v = get(ctx, numbers[i].name);

		if (v && parse_ll(v, numbers[i].min, &n[i]) < 0) {
			snprintf(err, errlen, "%s: \"%s\" must be an integer >= %lld",
				 numbers[i].name, v, numbers[i].min);
			return -EINVAL;
		}
	}
	since_time = get(ctx, "sinceTime");
	if (since_time && n[1] >= 0) {
		snprintf(err, errlen, "at most one of sinceTime or sinceSeconds may be specified");
		return -EINVAL;
	}
	if (since_time && ktime_parse(since_time, &opt.since_ns) < 0) {
		snprintf(err, errlen, "sinceTime: \"%s\" is not an RFC 3339 time", since_time);
		return -EINVAL;
	}
	if (n[1] >= 0) {
		/* Anything older than the epoch means "everything". */
		opt.since_ns = n[1] >= now_ns / 1000000000ll ? 1 : now_ns - n[1] * 1000000000ll;
	}
	opt.tail_lines = n[0];
	opt.limit_bytes = n[2] > 0 ? n[2] : 0;
	*o = opt;
	*previous = prev;
	return 0;
}

/* ---------------------------------------------------------------- tail */

/* Complete lines of a file from the last one backwards. */
struct back_iter {
	int fd;
	char *chunk;
	off_t pos;	/* file offset of chunk[0] */
	size_t i;	/* bytes of chunk not yet scanned */
	off_t line_end; /* the newline ending the line being scanned; -1: none yet */
};

/* The next line [*start, *end) going backwards: 1, 0 at the beginning, -EIO. */
static int back_next(struct back_iter *it, off_t *start, off_t *end)
{
	for (;;) {
		while (it->i > 0) {
			off_t nl;

			if (it->chunk[--it->i] != '\n')
				continue;
			nl = it->pos + (off_t)it->i;
			if (it->line_end >= 0) {
				*start = nl + 1;
				*end = it->line_end;
				it->line_end = nl;
				return 1;
			}
			/* Bytes after the last newline are a line still being written. */
			it->line_end = nl;
		}
		if (it->pos == 0) {
			if (it->line_end < 0)
				return 0;
			*start = 0;
			*end = it->line_end;
			it->line_end = -1;
			return 1;
		}
		size_t want = (size_t)MIN((off_t)LOGS_CHUNK, it->pos);

		it->pos -= (off_t)want;
		if (pread(it->fd, it->chunk, want, it->pos) != (ssize_t)want)
			return -EIO;
		it->i = want;
	}
}

/* Parse the head of the line at [start, end) (the text is cut, which the tag does not mind). */
static int line_at(int fd, off_t start, off_t end, struct logs_line *l)
{
	char head[96];
	ssize_t n = pread(fd, head, (size_t)MIN((off_t)sizeof(head), end - start), start);

	return n > 0 ? logs_parse_line(head, (size_t)n, l) : -EINVAL;
}

/*
 * Where reading starts for the last n lines (*start), and where those lines
 * begin (*window). Lines are counted joined: every F line ends one, and an
 * unterminated group of P lines at the very end counts as one too (it is
 * printed when it completes or the follow ends). The window starts right
 * after the (n+1)-th F line from the end; but a line of the other stream
 * inside the window may have begun with P fragments before that point, so
 * the start moves back over them, and lines between start and window only
 * feed those fragments (see take_line). The look-back is bounded: a
 * fragment run longer than twice LOGS_MAX_PENDING was split anyway.
 * On a read error everything is printed.
 */
static void tail_start(int fd, off_t size, long long n, off_t *start, off_t *window)
{
	struct back_iter it = { .fd = fd, .pos = size, .line_end = -1 };
	struct logs_line l;
	bool closed[2] = { false, false }, seen_line = false, found = false;
	long long count = 0;
	off_t s, e;

	*start = *window = n == 0 ? size : 0;
	if (n <= 0)
		return;
	it.chunk = xmalloc(LOGS_CHUNK);
	while (back_next(&it, &s, &e) > 0) {
		if (line_at(fd, s, e, &l) < 0)
			continue;
		count += !l.partial || !seen_line;
		seen_line = true;
		if (!l.partial && count == n + 1) {
			found = true;
			break;
		}
	}
	if (found) {
		*start = *window = e + 1;
		closed[l.stream] = true;
		while (!(closed[0] && closed[1]) && *window - s < 2 * (off_t)LOGS_MAX_PENDING &&
		       back_next(&it, &s, &e) > 0) {
			if (line_at(fd, s, e, &l) < 0 || closed[l.stream])
				continue;
			if (l.partial)
				*start = s;
			else
				closed[l.stream] = true;
		}
	}
	free(it.chunk);
}

/* ---------------------------------------------------------------- output */

static void out_append(struct logs_reader *r, const char *data, size_t len)
{
	if (r->done)
		return;
	if (r->opt.limit_bytes > 0 && (long long)len >= r->opt.limit_bytes - r->emitted) {
		len = (size_t)(r->opt.limit_bytes - r->emitted);
		r->done = true;
	}
	buf_append(&r->out, data, len);
	r->emitted += (long long)len;
}

/* One joined line: prefix, the pending fragments, then text (and a newline if whole). */
static void emit(struct logs_reader *r, struct logs_pending *p, int64_t ts, const char *text,
		 size_t len, bool whole)
{
	if (p->active)
		ts = p->ts_ns;
	if (!r->opt.since_ns || ts >= r->opt.since_ns) {
		if (r->opt.timestamps) {
			char stamp[KTIME_BUFSZ + 1];

			ktime_format_nano(ts, stamp, sizeof(stamp) - 1);
			strcat(stamp, " ");
			out_append(r, stamp, strlen(stamp));
		}
		if (p->text.len)
			out_append(r, p->text.data, p->text.len);
		out_append(r, text, len);
		if (whole)
			out_append(r, "\n", 1);
	}
	buf_reset(&p->text);
	p->active = false;
}

/*
 * One line of the file. Before the tail window (pre), only fragments are
 * kept, for a line that completes inside the window; a line that completes
 * before it is not printed.
 */
static void take_line(struct logs_reader *r, const char *line, size_t len, bool pre)
{
	struct logs_line l;
	struct logs_pending *p;

	if (logs_parse_line(line, len, &l) < 0)
		return;
	p = &r->pend[l.stream];
	if (!l.partial && pre) {
		buf_reset(&p->text);
		p->active = false;
		return;
	}
	if (!l.partial) {
		emit(r, p, l.ts_ns, l.text, l.len, true);
		return;
	}
	if (!p->active) {
		p->active = true;
		p->ts_ns = l.ts_ns;
	}
	buf_append(&p->text, l.text, l.len);
	if (p->text.len >= LOGS_MAX_PENDING)
		emit(r, p, l.ts_ns, "", 0, false);
}

/* The writer is done: print unterminated fragments as they are. */
static void finish(struct logs_reader *r)
{
	for (int s = 0; s < 2; s++)
		if (r->pend[s].active)
			emit(r, &r->pend[s], 0, "", 0, false);
	r->done = true;
}

/* Split the buffered input into lines (stopping once limit_bytes is reached). */
static void process(struct logs_reader *r)
{
	while (!r->done && r->in_pos < r->in.len) {
		char *start = r->in.data + r->in_pos;
		size_t avail = r->in.len - r->in_pos;
		char *nl = memchr(start, '\n', avail);

		if (!nl) {
			if (avail > LOGS_MAX_LINE) {
				r->skipping = true;
				r->in_pos = r->in.len;
			}
			break;
		}
		if (!r->skipping && (size_t)(nl - start) <= LOGS_MAX_LINE) {
			off_t at = r->off - (off_t)avail; /* the file offset of start */

			take_line(r, start, (size_t)(nl - start), at < r->window);
		}
		r->skipping = false;
		r->in_pos += (size_t)(nl - start) + 1;
	}
	if (r->in_pos == r->in.len) {
		buf_reset(&r->in);
		r->in_pos = 0;
	}
}

/* A new file (rotated or truncated): nothing buffered applies to it, nor the tail window. */
static void input_reset(struct logs_reader *r)
{
	buf_reset(&r->in);
	r->in_pos = 0;
	r->skipping = false;
	r->window = 0;
}

/* Read the next chunk of the file into r->in: bytes read, 0 at the end, -errno. */
static ssize_t fill(struct logs_reader *r)
{
	char chunk[16384];
	ssize_t n;

	if (r->in_pos) {
		memmove(r->in.data, r->in.data + r->in_pos, r->in.len - r->in_pos);
		r->in.len -= r->in_pos;
		r->in.data[r->in.len] = '\0';
		r->in_pos = 0;
	}
	do
		n = read(r->fd, chunk, sizeof(chunk));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	buf_append(&r->in, chunk, (size_t)n);
	r->off += n;
	return n;
}

/* ---------------------------------------------------------------- follow */

/*
 * At the end of the file while following: 1 when there is something new to
 * read (the file was replaced or truncated), 0 when not, -errno on failure.
 */
static int follow_check(struct logs_reader *r)
{
	struct stat st;
	int fd;

	if (stat(r->path, &st) == 0 && (st.st_ino != r->ino || st.st_dev != r->dev)) {
		/*
		 * Rotated. Lines written to the old file between our last read and
		 * the runtime's reopen are still there: read it to the end once
		 * more before switching.
		 */
		if (!r->rotating) {
			r->rotating = true;
			return 1;
		}
		fd = open(r->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return errno == ENOENT ? 0 : -errno;
		if (fstat(fd, &st) < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
		close(r->fd);
		r->fd = fd;
		r->dev = st.st_dev;
		r->ino = st.st_ino;
		r->off = 0;
		r->rotating = false;
		/* The old file's unterminated last line can never be completed. */
		input_reset(r);
		return 1;
	}
	/* stat failing (ENOENT) means renamed and not yet recreated: wait. */
	if (fstat(r->fd, &st) == 0 && st.st_size < r->off) {
		if (lseek(r->fd, 0, SEEK_SET) < 0)
			return -errno;
		r->off = 0;
		input_reset(r);
		return 1;
	}
	return 0;
}

static int64_t mono_ns(void)
{
	return (int64_t)now_mono_ns();
}

/* ---------------------------------------------------------------- reader */

int logs_reader_open(const char *path, const struct logs_options *o,
		     bool (*writer_alive)(void *ctx), void *ctx, struct logs_reader **out)
{
	struct logs_reader *r;
	struct stat st;
	off_t start, window;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	tail_start(fd, st.st_size, o->tail_lines, &start, &window);
	if (lseek(fd, start, SEEK_SET) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	r = xcalloc(1, sizeof(*r));
	r->path = xstrdup(path);
	r->opt = *o;
	r->writer_alive = writer_alive;
	r->ctx = ctx;
	r->fd = fd;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	r->off = start;
	r->window = window;
	*out = r;
	return 0;
}

/* The end of the file while following: finish, or wait for more. 1 to read again, 0 to wait. */
static int at_end_following(struct logs_reader *r)
{
	int64_t now;
	int rc = follow_check(r);

	if (rc != 0)
		return rc;
	if (r->writer_gone) {
		finish(r);
		return 1;
	}
	now = mono_ns();
	if (r->writer_alive && now - r->alive_checked_ns >= LOGS_ALIVE_CHECK_NS) {
		r->alive_checked_ns = now;
		if (!r->writer_alive(r->ctx)) {
			/* One more read catches what was written just before the exit. */
			r->writer_gone = true;
			return 1;
		}
	}
	return 0;
}

ssize_t logs_reader_read(struct logs_reader *r, char *buf, size_t len, int timeout_ms)
{
	int64_t deadline = mono_ns() + (int64_t)MAX(timeout_ms, 0) * 1000000;

	for (;;) {
		ssize_t n;
		int rc;

		if (r->out_pos < r->out.len) {
			size_t k = MIN(len, r->out.len - r->out_pos);

			memcpy(buf, r->out.data + r->out_pos, k);
			r->out_pos += k;
			if (r->out_pos == r->out.len) {
				buf_reset(&r->out);
				r->out_pos = 0;
			}
			return (ssize_t)k;
		}
		if (r->done)
			return LOGS_EOF;
		if (r->in_pos < r->in.len &&
		    memchr(r->in.data + r->in_pos, '\n', r->in.len - r->in_pos)) {
			process(r);
			continue;
		}
		n = fill(r);
		if (n < 0)
			return n;
		if (n > 0) {
			process(r);
			continue;
		}
		if (!r->opt.follow) {
			finish(r);
			continue;
		}
		rc = at_end_following(r);
		if (rc < 0)
			return rc;
		if (rc > 0)
			continue;
		int64_t left = deadline - mono_ns();

		if (left <= 0)
			return 0;
		struct timespec ts = { 0, MIN(left, (int64_t)LOGS_POLL_MS * 1000000) };

		nanosleep(&ts, NULL);
	}
}

void logs_reader_close(struct logs_reader *r)
{
	if (!r)
		return;
	close(r->fd);
	free(r->path);
	buf_free(&r->in);
	buf_free(&r->out);
	buf_free(&r->pend[0].text);
	buf_free(&r->pend[1].text);
	free(r);
}
