/*
 * log.c - see log.h.
 *
 * The line is formatted into a stack buffer and written with one write();
 * messages longer than the buffer are truncated with a marker rather than
 * split, because a split line is worse for grep than a short one. No locks:
 * write() on one fd is atomic enough for lines of this size, and the
 * timestamp and format do not share state.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int log_threshold = LOG_LVL_INFO;
static int log_fd = 2;
static char log_component[64] = "capstan";

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "error", [LOG_LVL_WARN] = "warn",   [LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug", [LOG_LVL_TRACE] = "trace",
};

static const char *const level_tags[] = {
	[LOG_LVL_ERROR] = "ERROR", [LOG_LVL_WARN] = "WARN ",  [LOG_LVL_INFO] = "INFO ",
	[LOG_LVL_DEBUG] = "DEBUG", [LOG_LVL_TRACE] = "TRACE",
};

void log_init(const char *component)
{
	snprintf(log_component, sizeof(log_component), "%s", component);
}

void log_set_fd(int fd)
{
	log_fd = fd;
}

const char *log_level_name(enum log_level lvl)
{
	if ((int)lvl < 0 || lvl > LOG_LVL_TRACE)
		return "unknown";
	return level_names[lvl];
}

int log_set_level(const char *name)
{
	for (int i = LOG_LVL_ERROR; i <= LOG_LVL_TRACE; i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			log_threshold = i;
			return 0;
		}
	}
	if (strcasecmp(name, "warning") == 0) {
		log_threshold = LOG_LVL_WARN;
		return 0;
	}
	return -EINVAL;
}

int log_set_verbosity(const char *v)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < 0)
		return -EINVAL;
	if (n >= 6)
		log_threshold = LOG_LVL_TRACE;
	else if (n >= 4)
		log_threshold = LOG_LVL_DEBUG;
	else
		log_threshold = LOG_LVL_INFO;
	return 0;
}

int log_handle_option(int opt, const char *arg)
{
	switch (opt) {
	case LOG_OPT_LEVEL:
		if (log_set_level(arg) < 0) {
			fprintf(stderr,
				"%s: bad --log-level '%s' (error, warn, info, debug, trace)\n",
				log_component, arg);
			return -EINVAL;
		}
		return 1;
	case LOG_OPT_V:
		if (log_set_verbosity(arg) < 0) {
			fprintf(stderr, "%s: bad --v '%s' (a number >= 0)\n", log_component, arg);
			return -EINVAL;
		}
		return 1;
	default:
		return 0;
	}
}

void log_emit(enum log_level lvl, const char *file, int line, const char *fmt, ...)
{
	char buf[4096];
	struct timespec ts;
	struct tm tm;
	const char *base = strrchr(file, '/');
	size_t n;
	int r;
	va_list ap;

	if ((int)lvl < 0 || lvl > LOG_LVL_TRACE)
		lvl = LOG_LVL_ERROR;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	r = snprintf(buf, sizeof(buf),
		     "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s %s[%d] %s:%d: ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000,
		     level_tags[lvl], log_component, (int)getpid(), base ? base + 1 : file, line);
	if (r < 0)
		return;
	n = (size_t)r < sizeof(buf) ? (size_t)r : sizeof(buf) - 1;

	va_start(ap, fmt);
	r = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (r < 0)
		r = 0;
	n += (size_t)r;
	if (n >= sizeof(buf) - 1) {
		static const char more[] = "...[truncated]";
		n = sizeof(buf) - 1;
		memcpy(buf + n - sizeof(more), more, sizeof(more) - 1);
		n--;
	}
	/* Strip trailing newlines the caller may have put, then end the line. */
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n++] = '\n';
	if (write(log_fd, buf, n) < 0)
		return;
}
