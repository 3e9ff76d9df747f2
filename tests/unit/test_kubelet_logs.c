/*
 * Unit tests for agent/kubelet/logs: CRI log line parsing, joining of
 * partial lines, tail/since/limit, query parsing, and following a file that
 * grows, is rotated or is truncated while a writer thread works on it.
 */
#include "test.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/kubelet/logs.h"
#include "ktime.h"
#include "util.h"

/* 2024-01-02T03:04:05Z plus i seconds, in RFC3339Nano. */
static const char *ts(int i)
{
	static char buf[8][KTIME_BUFSZ];
	static int slot;
	char *b = buf[slot++ % 8];

	ktime_format_nano(1704164645000000000ll + (int64_t)i * 1000000000ll + 123, b, KTIME_BUFSZ);
	return b;
}

static char *path_in_tmp(const char *name)
{
	return xasprintf("%s/%s", test_tmpdir(), name);
}

static void write_file(const char *path, const char *text, const char *mode)
{
	FILE *f = fopen(path, mode);

	ASSERT_NOT_NULL(f);
	fputs(text, f);
	ASSERT_OK(fclose(f));
}

/* Read until LOGS_EOF (or 5 s), into a malloc'd string. */
static char *read_all(const char *path, const struct logs_options *o, bool (*alive)(void *),
		      void *ctx)
{
	struct logs_reader *r;
	struct buf out = { 0 };
	uint64_t deadline = now_mono_ns() + 5000000000ull;
	char chunk[7]; /* small on purpose: output must survive being cut anywhere */

	ASSERT_OK(logs_reader_open(path, o, alive, ctx, &r));
	for (;;) {
		ssize_t n = logs_reader_read(r, chunk, sizeof(chunk), 100);

		if (n == LOGS_EOF)
			break;
		ASSERT_MSG(n >= 0, "read: %zd", n);
		buf_append(&out, chunk, (size_t)n);
		ASSERT_MSG(now_mono_ns() < deadline, "no end of stream; got \"%s\"",
			   out.data ? out.data : "");
	}
	logs_reader_close(r);
	if (!out.data)
		buf_append(&out, "", 0);
	return out.data;
}

static const struct logs_options all = { .tail_lines = -1 };

TEST(logs_parse_full_and_partial_lines)
{
	struct logs_line l;
	const char *line = "2024-01-02T03:04:05.123456789Z stdout F hello world";

	ASSERT_OK(logs_parse_line(line, strlen(line), &l));
	ASSERT_EQ(l.stream, LOGS_STDOUT);
	ASSERT(!l.partial);
	ASSERT_EQ(l.ts_ns, 1704164645123456789ll);
	ASSERT_EQ(l.len, 11);
	ASSERT(memcmp(l.text, "hello world", 11) == 0);

	line = "2024-01-02T03:04:05+01:00 stderr P  two  spaces ";
	ASSERT_OK(logs_parse_line(line, strlen(line), &l));
	ASSERT_EQ(l.stream, LOGS_STDERR);
	ASSERT(l.partial);
	ASSERT_EQ(l.ts_ns, 1704164645000000000ll - 3600000000000ll);
	ASSERT_EQ(l.len, strlen(" two  spaces "));

	/* Extra tag fields are reserved by the format and ignored. */
	line = "2024-01-02T03:04:05Z stdout F:x:y text";
	ASSERT_OK(logs_parse_line(line, strlen(line), &l));
	ASSERT(!l.partial);
	ASSERT_EQ(l.len, 4);

	/* Empty output lines, with and without the separating space. */
	line = "2024-01-02T03:04:05Z stdout F ";
	ASSERT_OK(logs_parse_line(line, strlen(line), &l));
	ASSERT_EQ(l.len, 0);
	line = "2024-01-02T03:04:05Z stdout F";
	ASSERT_OK(logs_parse_line(line, strlen(line), &l));
	ASSERT_EQ(l.len, 0);
}

TEST(logs_parse_rejects_malformed_lines)
{
	static const char *const bad[] = {
		"",
		"garbage",
		"2024-01-02T03:04:05Z",
		"2024-01-02T03:04:05Z stdout",
		"2024-01-02T03:04:05Z stdout ",
		"2024-01-02T03:04:05Z stdin F text",
		"2024-01-02T03:04:05Z stdout X text",
		"2024-01-02T03:04:05Z stdout Fx text",
		"2024-01-02 03:04:05Z stdout F text",
		"2024-13-02T03:04:05Z stdout F text",
		"2024-01-02T03:04:05 stdout F text",
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx stdout F text",
	};
	struct logs_line l = { .len = 99 };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ASSERT_MSG(logs_parse_line(bad[i], strlen(bad[i]), &l) == -EINVAL,
			   "accepted \"%s\"", bad[i]);
	ASSERT_EQ(l.len, 99); /* untouched on failure */
	ASSERT_EQ(logs_parse_line(NULL, 0, &l), -EINVAL);
}

TEST(logs_read_joins_partials_per_stream_and_skips_garbage)
{
	char *path = path_in_tmp("0.log"), *out, text[2048];

	snprintf(text, sizeof(text),
		 "%s stdout P hel\n"
		 "%s stderr F err one\n"
		 "not a cri line at all\n"
		 "%s stdout P lo \n"
		 "%s stdout F world\n"
		 "%s stderr P tail\n"
		 "%s stderr F \n"
		 "%s stdout F\n",
		 ts(0), ts(1), ts(2), ts(3), ts(4), ts(5), ts(6));
	write_file(path, text, "w");
	out = read_all(path, &all, NULL, NULL);
	ASSERT_STREQ(out, "err one\nhello world\ntail\n\n");
	free(out);
	free(path);
}

TEST(logs_timestamps_use_the_first_fragment)
{
	char *path = path_in_tmp("0.log"), *out, text[1024], want[1024];
	struct logs_options o = { .tail_lines = -1, .timestamps = true };

	snprintf(text, sizeof(text), "%s stdout P a\n%s stdout F b\n%s stderr F c\n", ts(0), ts(1),
		 ts(2));
	write_file(path, text, "w");
	out = read_all(path, &o, NULL, NULL);
	snprintf(want, sizeof(want), "%s ab\n%s c\n", ts(0), ts(2));
	ASSERT_STREQ(out, want);
	free(out);
	free(path);
}

TEST(logs_unterminated_fragment_is_printed_at_the_end)
{
	char *path = path_in_tmp("0.log"), *out, text[512];

	/* The program's last output had no newline; a torn last line is ignored. */
	snprintf(text, sizeof(text), "%s stdout F one\n%s stdout P no newline\n%s stdout F torn",
		 ts(0), ts(1), ts(2));
	write_file(path, text, "w");
	out = read_all(path, &all, NULL, NULL);
	ASSERT_STREQ(out, "one\nno newline");
	free(out);
	free(path);
}

static void five_lines(const char *path)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "%s stdout F one\n"
		 "%s stdout P tw\n"
		 "garbage line\n"
		 "%s stderr F three\n"
		 "%s stdout F o\n"
		 "%s stdout F four\n"
		 "%s stdout F five\n",
		 ts(1), ts(2), ts(3), ts(4), ts(5), ts(6));
	write_file(path, text, "w");
}

TEST(logs_tail_counts_joined_lines)
{
	static const struct {
		long long tail;
		const char *want;
	} cases[] = {
		{ 0, "" },
		{ 1, "five\n" },
		{ 2, "four\nfive\n" },
		/* "tw" + "o" is one line; the stderr line between them is another. */
		{ 3, "two\nfour\nfive\n" },
		{ 4, "three\ntwo\nfour\nfive\n" },
		{ 5, "one\nthree\ntwo\nfour\nfive\n" },
		{ 100, "one\nthree\ntwo\nfour\nfive\n" },
	};
	char *path = path_in_tmp("0.log");

	five_lines(path);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct logs_options o = { .tail_lines = cases[i].tail };
		char *out = read_all(path, &o, NULL, NULL);

		ASSERT_MSG(strcmp(out, cases[i].want) == 0, "tail %lld: \"%s\"", cases[i].tail,
			   out);
		free(out);
	}
	free(path);
}

TEST(logs_tail_across_many_chunks)
{
	char *path = path_in_tmp("big.log"), *out, want[256];
	FILE *f = fopen(path, "w");
	struct logs_options o = { .tail_lines = 3 };

	ASSERT_NOT_NULL(f);
	/* ~9 MB: the backwards scan crosses many 64 KiB chunks and lines straddle them. */
	for (int i = 0; i < 150000; i++)
		fprintf(f, "%s stdout F line number %d with some padding text\n", ts(i % 1000), i);
	ASSERT_OK(fclose(f));
	out = read_all(path, &o, NULL, NULL);
	snprintf(want, sizeof(want),
		 "line number 149997 with some padding text\n"
		 "line number 149998 with some padding text\n"
		 "line number 149999 with some padding text\n");
	ASSERT_STREQ(out, want);
	free(out);
	free(path);
}

TEST(logs_since_drops_older_lines)
{
	char *path = path_in_tmp("0.log"), *out;
	struct logs_options o = { .tail_lines = -1 };

	five_lines(path);
	/* Lines are at +1..+6 s (+123 ns): "o" at +4 s is dropped, its line began at +2 s. */
	ASSERT_OK(ktime_parse("2024-01-02T03:04:09Z", &o.since_ns));
	out = read_all(path, &o, NULL, NULL);
	ASSERT_STREQ(out, "four\nfive\n");
	free(out);
	ASSERT_OK(ktime_parse("2024-01-02T03:04:07.5Z", &o.since_ns));
	out = read_all(path, &o, NULL, NULL);
	/* "two" began at +2 s, before since: the whole joined line goes. */
	ASSERT_STREQ(out, "three\nfour\nfive\n");
	free(out);
	/* tail picks the start first, then since filters. */
	o.tail_lines = 2;
	out = read_all(path, &o, NULL, NULL);
	ASSERT_STREQ(out, "four\nfive\n");
	free(out);
	free(path);
}

TEST(logs_limit_bytes_cuts_exactly)
{
	char *path = path_in_tmp("0.log"), *out;
	struct logs_options o = { .tail_lines = -1, .limit_bytes = 7 };

	five_lines(path);
	out = read_all(path, &o, NULL, NULL);
	ASSERT_STREQ(out, "one\nthr");
	free(out);
	o.limit_bytes = 4;
	out = read_all(path, &o, NULL, NULL);
	ASSERT_STREQ(out, "one\n");
	free(out);
	/* Timestamps count towards the limit. */
	o.timestamps = true;
	o.limit_bytes = 10;
	out = read_all(path, &o, NULL, NULL);
	ASSERT_STREQ(out, "2024-01-02");
	free(out);
	/* A limit larger than the output changes nothing. */
	o.timestamps = false;
	o.limit_bytes = 1000;
	out = read_all(path, &o, NULL, NULL);
	ASSERT_STREQ(out, "one\nthree\ntwo\nfour\nfive\n");
	free(out);
	free(path);
}

TEST(logs_overlong_line_is_skipped)
{
	char *path = path_in_tmp("0.log"), *out;
	FILE *f = fopen(path, "w");
	char *junk = xmalloc((1u << 20) + 100);

	ASSERT_NOT_NULL(f);
	memset(junk, 'x', (1u << 20) + 99);
	junk[(1u << 20) + 99] = '\0';
	fprintf(f, "%s stdout F before\n%s stdout F %s\n%s stdout F after\n", ts(0), ts(1), junk,
		ts(2));
	ASSERT_OK(fclose(f));
	out = read_all(path, &all, NULL, NULL);
	ASSERT_STREQ(out, "before\nafter\n");
	free(out);
	free(junk);
	free(path);
}

TEST(logs_open_errors)
{
	struct logs_reader *r = NULL;

	ASSERT_EQ(logs_reader_open("/nonexistent/0.log", &all, NULL, NULL, &r), -ENOENT);
	ASSERT_EQ(logs_reader_open(test_tmpdir(), &all, NULL, NULL, &r), -EINVAL);
	ASSERT_NULL(r);
}

/* ---------------------------------------------------------------- query */

static const char *const *query;

static const char *get_param(void *ctx, const char *name)
{
	for (const char *const *q = query; *q; q += 2)
		if (strcmp(q[0], name) == 0)
			return q[1];
	return NULL;
}

static int parse_query(const char *const *q, struct logs_options *o, bool *previous, char *err)
{
	query = q;
	return logs_options_from_query(get_param, NULL, 1704164645000000000ll, o, previous, err,
				       256);
}

TEST(logs_query_parameters)
{
	static const char *const q1[] = { "follow",	"true", "previous",	"1",
					  "timestamps", "T",	"tailLines",	"10",
					  "limitBytes", "500",	"sinceSeconds", "60",
					  NULL };
	static const char *const q2[] = { "sinceTime", "2024-01-01T00:00:00Z", "follow", "False",
					  NULL };
	static const char *const q3[] = { NULL };
	struct logs_options o;
	bool previous = false;
	char err[256];

	ASSERT_OK(parse_query(q1, &o, &previous, err));
	ASSERT(o.follow && previous && o.timestamps);
	ASSERT_EQ(o.tail_lines, 10);
	ASSERT_EQ(o.limit_bytes, 500);
	ASSERT_EQ(o.since_ns, 1704164645000000000ll - 60000000000ll);

	ASSERT_OK(parse_query(q2, &o, &previous, err));
	ASSERT(!o.follow && !previous && !o.timestamps);
	ASSERT_EQ(o.since_ns, 1704067200000000000ll);
	ASSERT_EQ(o.tail_lines, -1);
	ASSERT_EQ(o.limit_bytes, 0);

	ASSERT_OK(parse_query(q3, &o, &previous, err));
	ASSERT_EQ(o.since_ns, 0);
}

TEST(logs_query_rejects_bad_values)
{
	static const char *const bad[][5] = {
		{ "follow", "yes", NULL },
		{ "previous", "", NULL },
		{ "timestamps", "2", NULL },
		{ "tailLines", "-1", NULL },
		{ "tailLines", "ten", NULL },
		{ "tailLines", "99999999999999999999999", NULL },
		{ "tailLines", " 5", NULL },
		{ "sinceSeconds", "0", NULL },
		{ "sinceSeconds", "1.5", NULL },
		{ "limitBytes", "0", NULL },
		{ "limitBytes", "+5", NULL },
		{ "sinceTime", "yesterday", NULL },
		{ "sinceTime", "2024-01-01T00:00:00Z", "sinceSeconds", "5", NULL },
	};
	struct logs_options o = { .tail_lines = 77 };
	bool previous = true;
	char err[256];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		ASSERT_MSG(parse_query(bad[i], &o, &previous, err) == -EINVAL, "accepted %s=%s",
			   bad[i][0], bad[i][1]);
		ASSERT_MSG(err[0] != '\0', "no message for %s", bad[i][0]);
	}
	ASSERT_EQ(o.tail_lines, 77);
	ASSERT(previous);
	/* Messages name the parameter. */
	parse_query(bad[3], &o, &previous, err);
	ASSERT(strstr(err, "tailLines") != NULL);
}

/* ---------------------------------------------------------------- follow */

struct writer {
	char *path;
	int mode;	       /* 0 grow, 1 rotate, 2 truncate */
	atomic_int lines_read; /* by the follower so far */
	atomic_bool done;
};

static void append_line(const char *path, int i)
{
	char line[128];
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	ASSERT(fd >= 0);
	snprintf(line, sizeof(line), "%s stdout F line %d\n", ts(i), i);
	ASSERT_EQ(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	close(fd);
}

static void pause_ms(long ms)
{
	struct timespec t = { 0, ms * 1000000 };

	nanosleep(&t, NULL);
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char *old = xasprintf("%s.1", w->path);

	for (int i = 0; i < 10; i++) {
		if (i == 5 && w->mode == 1) {
			/* As the runtime does on ReopenContainerLog: rename, then a new file. */
			if (rename(w->path, old) == 0)
				pause_ms(120);
		}
		if (i == 5 && w->mode == 2) {
			/*
			 * What a truncation catches before the follower read it is
			 * lost (as with any copytruncate): wait until it has.
			 */
			for (int k = 0; k < 300 && atomic_load(&w->lines_read) < 5; k++)
				pause_ms(10);
			if (truncate(w->path, 0) != 0)
				abort();
		}
		append_line(w->path, i);
		pause_ms(30);
	}
	atomic_store(&w->done, true);
	free(old);
	return NULL;
}

static bool writer_alive(void *ctx)
{
	return !atomic_load(&((struct writer *)ctx)->done);
}

static void follow_case(int mode)
{
	struct writer w = { .path = path_in_tmp("0.log"), .mode = mode };
	struct logs_options o = { .tail_lines = -1, .follow = true };
	struct buf want = { 0 }, out = { 0 };
	uint64_t deadline = now_mono_ns() + 8000000000ull;
	struct logs_reader *r;
	pthread_t th;
	char chunk[5];

	write_file(w.path, "", "w");
	ASSERT_OK(logs_reader_open(w.path, &o, writer_alive, &w, &r));
	ASSERT_OK(pthread_create(&th, NULL, writer_main, &w));
	for (;;) {
		ssize_t n = logs_reader_read(r, chunk, sizeof(chunk), 100);

		if (n == LOGS_EOF)
			break;
		ASSERT_MSG(n >= 0 && now_mono_ns() < deadline, "read %zd; got \"%s\"", n,
			   out.data ? out.data : "");
		buf_append(&out, chunk, (size_t)n);
		for (ssize_t i = 0; i < n; i++)
			if (chunk[i] == '\n')
				atomic_fetch_add(&w.lines_read, 1);
	}
	pthread_join(th, NULL);
	logs_reader_close(r);
	for (int i = 0; i < 10; i++)
		buf_appendf(&want, "line %d\n", i);
	ASSERT_STREQ(out.data, want.data);
	buf_free(&want);
	buf_free(&out);
	free(w.path);
}

TEST(logs_follow_growth)
{
	follow_case(0);
}

TEST(logs_follow_across_rotation)
{
	follow_case(1);
}

TEST(logs_follow_across_truncation)
{
	follow_case(2);
}

TEST(logs_follow_times_out_without_data_and_keeps_going)
{
	char *path = path_in_tmp("0.log"), buf[64];
	struct logs_options o = { .tail_lines = -1, .follow = true };
	struct logs_reader *r;
	uint64_t t0;
	ssize_t n;

	write_file(path, "", "w");
	ASSERT_OK(logs_reader_open(path, &o, NULL, NULL, &r));
	t0 = now_mono_ns();
	ASSERT_EQ(logs_reader_read(r, buf, sizeof(buf), 150), 0);
	ASSERT(now_mono_ns() - t0 >= 140000000ull);
	ASSERT(now_mono_ns() - t0 < 2000000000ull);
	append_line(path, 3);
	n = logs_reader_read(r, buf, sizeof(buf), 1000);
	ASSERT_EQ(n, 7);
	ASSERT(memcmp(buf, "line 3\n", 7) == 0);
	logs_reader_close(r);
	free(path);
}

TEST(logs_follow_tail_zero_starts_at_the_end)
{
	char *path = path_in_tmp("0.log"), buf[64];
	struct logs_options o = { .tail_lines = 0, .follow = true };
	struct logs_reader *r;

	append_line(path, 1);
	append_line(path, 2);
	ASSERT_OK(logs_reader_open(path, &o, NULL, NULL, &r));
	ASSERT_EQ(logs_reader_read(r, buf, sizeof(buf), 0), 0);
	append_line(path, 3);
	ASSERT_EQ(logs_reader_read(r, buf, sizeof(buf), 1000), 7);
	ASSERT(memcmp(buf, "line 3\n", 7) == 0);
	logs_reader_close(r);
	free(path);
}
