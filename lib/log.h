/*
 * log.h - levelled logging for every capstan daemon and tool.
 *
 * One line per message on stderr (or a chosen fd), written with a single
 * write() so lines from several threads never interleave:
 *
 *   2026-11-30T16:42:15.123456Z INFO  capstan-agent[812] sync.c:88: 12 services
 *
 * The level is checked by the macro before any argument is evaluated, so a
 * disabled trace line costs one compare even when its arguments are calls.
 * Formats are checked by the compiler (printf attribute).
 *
 * Levels follow the usual error < warn < info < debug < trace ordering and
 * are set with --log-level=NAME or, for people used to klog, --v=N:
 * 0-3 -> info, 4-5 -> debug, 6 and above -> trace.
 */
#ifndef CAPSTAN_LOG_H
#define CAPSTAN_LOG_H

#include <getopt.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
	LOG_LVL_TRACE,
};

/* Highest level that is printed; read by the macros, set by log_set_*(). */
extern int log_threshold;

#define log_enabled(lvl) ((int)(lvl) <= log_threshold)

#define log_at(lvl, ...)                                                  \
	do {                                                              \
		if (log_enabled(lvl))                                     \
			log_emit((lvl), __FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

#define log_error(...) log_at(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_at(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_trace(...) log_at(LOG_LVL_TRACE, __VA_ARGS__)

void log_emit(enum log_level lvl, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Name shown in every line (the binary name); the string is copied. */
void log_init(const char *component);
/* Where lines go (default 2, stderr). The fd is not owned. */
void log_set_fd(int fd);

/* "error", "warn", "info", "debug", "trace". 0 on success, -EINVAL otherwise. */
int log_set_level(const char *name);
/* klog-style verbosity, a number >= 0. 0 on success, -EINVAL otherwise. */
int log_set_verbosity(const char *v);
const char *log_level_name(enum log_level lvl);

/*
 * getopt_long integration: put LOG_LONG_OPTIONS in the option table and pass
 * every option to log_handle_option() first. It returns 1 when the option
 * was a log option and was applied, 0 when it was not a log option, -EINVAL
 * when the value is bad (a message has been printed).
 */
#define LOG_OPT_LEVEL 0x4c01
#define LOG_OPT_V 0x4c02
#define LOG_LONG_OPTIONS                                         \
	{ "log-level", required_argument, NULL, LOG_OPT_LEVEL }, \
	{                                                        \
		"v", required_argument, NULL, LOG_OPT_V          \
	}
#define LOG_OPTIONS_HELP                                                     \
	"  --log-level=LEVEL  error, warn, info (default), debug or trace\n" \
	"  --v=N              klog-style verbosity: 0-3 info, 4-5 debug, 6+ trace\n"

int log_handle_option(int opt, const char *arg);

#endif
