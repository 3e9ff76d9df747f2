/*
 * logs.h - reading container log files in the CRI format, for
 * /containerLogs (kubectl logs).
 *
 * The runtime writes one line per chunk of container output:
 *
 *   2024-01-02T03:04:05.123456789Z stdout F hello world
 *   <RFC3339Nano timestamp>        <stream> <tag> <text>
 *
 * Tag F ends a line of the program's output; tag P is a fragment of a longer
 * line (containerd splits at 16 KiB) and the rest follows on later lines of
 * the same stream. Lines of the two streams may interleave, so fragments are
 * joined per stream: the reader prints one whole line when the F arrives,
 * stamped (with timestamps) with the time of its first fragment. Lines that
 * do not parse are skipped, as the runtime is the only writer and a torn
 * line can only come from a crash.
 *
 * The reader is pull-based (logs_reader_read fills the caller's buffer),
 * which is the shape of an HTTP server's content callback. Filters apply in
 * upstream's order: tailLines picks the starting point (the last N lines,
 * counted in joined lines, found by scanning the file backwards), then
 * sinceTime drops older lines, then limitBytes cuts the output at exactly N
 * bytes.
 *
 * Following: at the end of the file the reader waits for growth by polling
 * (one stat and one fstat per 50 ms per follower; rejected: an inotify
 * descriptor per request, which misses nothing either but needs a second
 * watch on the directory to see a rotation, and a wakeup path for a client
 * that hangs up). When the
 * path names another inode (the log was rotated: renamed and reopened by
 * the runtime) the old file is read to its end and the new one from its
 * start; when the file shrank below the read position (truncated in place)
 * reading restarts at 0. The follow ends when the caller's writer_alive()
 * says the container instance is gone and the file has been read to the
 * end, at which point a pending unterminated fragment is printed as is.
 *
 * Tail with interleaved streams: the window of the last N lines starts
 * after the (N+1)-th F line from the end, but a line of the other stream
 * completing inside the window may have begun with P fragments before that
 * point. The reader starts early enough to pick those up and, before the
 * window, only collects fragments (a line completing there is not printed).
 */
#ifndef CAPSTAN_KUBELET_LOGS_H
#define CAPSTAN_KUBELET_LOGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum logs_stream {
	LOGS_STDOUT = 0,
	LOGS_STDERR = 1,
};

/* One parsed CRI log line; text points into the parsed buffer. */
struct logs_line {
	int64_t ts_ns; /* nanoseconds since the epoch */
	enum logs_stream stream;
	bool partial; /* tag P: the line continues on a later line */
	const char *text;
	size_t len;
};

/*
 * Parse one line (without its newline). 0 on success; -EINVAL when the
 * timestamp, the stream or the tag is malformed. The tag may carry more
 * ':'-separated fields after P/F (the CRI format reserves them), which are
 * ignored. Sets *out only on success.
 */
int logs_parse_line(const char *line, size_t len, struct logs_line *out);

struct logs_options {
	bool follow;
	bool timestamps;       /* prefix each line with its RFC3339Nano time and a space */
	long long tail_lines;  /* the last N lines only; -1 for all */
	int64_t since_ns;      /* drop lines older than this instant; 0 for all */
	long long limit_bytes; /* stop after this many bytes of output; 0 for no limit */
};

/*
 * Fill *o from the /containerLogs query parameters (kubectl's
 * PodLogOptions): follow, previous, timestamps (booleans as Go's ParseBool:
 * 1 t T TRUE true True 0 f F FALSE false False), tailLines >= 0,
 * sinceSeconds >= 1 (relative to now_ns), sinceTime (RFC 3339), limitBytes
 * >= 1. get(ctx, name) returns a parameter or NULL. 0 on success; -EINVAL
 * with a message in err for a bad value or both sinceSeconds and sinceTime.
 * *previous is set only on success.
 */
int logs_options_from_query(const char *(*get)(void *ctx, const char *name), void *ctx,
			    int64_t now_ns, struct logs_options *o, bool *previous, char *err,
			    size_t errlen);

struct logs_reader;

/* Returned by logs_reader_read when the output is complete. */
#define LOGS_EOF (-ENODATA)

/*
 * Open path for reading with options o. writer_alive(ctx) (may be NULL:
 * always alive) is asked, at most about once a second, when a follower
 * reaches the end of the file: false means no more lines will come. The
 * starting point for tail_lines is computed here. 0 with *out set, or
 * -errno (-ENOENT when the file does not exist).
 */
int logs_reader_open(const char *path, const struct logs_options *o,
		     bool (*writer_alive)(void *ctx), void *ctx, struct logs_reader **out);

/*
 * Copy up to len bytes of output into buf. Returns the number of bytes (> 0);
 * 0 when following and nothing new arrived within timeout_ms (call again);
 * LOGS_EOF when the output is complete (not following: the end of the file;
 * following: the writer is gone and everything was read; or limit_bytes was
 * reached); another -errno on a read error.
 */
ssize_t logs_reader_read(struct logs_reader *r, char *buf, size_t len, int timeout_ms);

void logs_reader_close(struct logs_reader *r);

#endif
