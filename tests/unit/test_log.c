/* Unit tests for lib/log: levels, flags, line format, lazy arguments. */
#include "test.h"
#include "log.h"

#include <regex.h>
#include <unistd.h>

static int out_pipe[2];

static void capture(void)
{
	ASSERT_OK(pipe(out_pipe));
	log_set_fd(out_pipe[1]);
	log_init("unit-log");
}

static const char *captured(void)
{
	static char buf[8192];
	ssize_t n;

	close(out_pipe[1]);
	n = read(out_pipe[0], buf, sizeof(buf) - 1);
	ASSERT(n >= 0);
	buf[n] = '\0';
	close(out_pipe[0]);
	return buf;
}

static int side_effects;

static int touch(void)
{
	return ++side_effects;
}

TEST(log_disabled_level_does_not_evaluate_arguments)
{
	capture();
	ASSERT_OK(log_set_level("info"));
	log_debug("value %d", touch());
	log_trace("value %d %d", touch(), touch());
	ASSERT_EQ(side_effects, 0);
	log_info("value %d", touch());
	ASSERT_EQ(side_effects, 1);
	ASSERT(strstr(captured(), "value 1") != NULL);
}

TEST(log_line_format)
{
	regex_t re;
	const char *out;

	capture();
	ASSERT_OK(log_set_level("debug"));
	log_warn("disk %s at %d%%", "sda", 91);
	out = captured();
	ASSERT_OK(regcomp(&re,
			  "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z "
			  "WARN  unit-log\\[[0-9]+\\] test_log\\.c:[0-9]+: disk sda at 91%\n$",
			  REG_EXTENDED));
	ASSERT_MSG(regexec(&re, out, 0, NULL, 0) == 0, "unexpected line: %s", out);
	regfree(&re);
}

TEST(log_levels_filter)
{
	const char *out;

	capture();
	ASSERT_OK(log_set_level("warn"));
	log_error("e-line");
	log_warn("w-line");
	log_info("i-line");
	log_debug("d-line");
	out = captured();
	ASSERT(strstr(out, "ERROR") && strstr(out, "e-line"));
	ASSERT(strstr(out, "w-line"));
	ASSERT(!strstr(out, "i-line"));
	ASSERT(!strstr(out, "d-line"));
}

TEST(log_set_level_names_and_errors)
{
	ASSERT_OK(log_set_level("TRACE"));
	ASSERT_EQ(log_threshold, LOG_LVL_TRACE);
	ASSERT_OK(log_set_level("warning"));
	ASSERT_EQ(log_threshold, LOG_LVL_WARN);
	ASSERT_EQ(log_set_level("loud"), -EINVAL);
	ASSERT_EQ(log_set_level(""), -EINVAL);
	ASSERT_EQ(log_threshold, LOG_LVL_WARN);
	ASSERT_STREQ(log_level_name(LOG_LVL_DEBUG), "debug");
	ASSERT_STREQ(log_level_name((enum log_level)42), "unknown");
}

TEST(log_klog_verbosity)
{
	ASSERT_OK(log_set_verbosity("0"));
	ASSERT_EQ(log_threshold, LOG_LVL_INFO);
	ASSERT_OK(log_set_verbosity("4"));
	ASSERT_EQ(log_threshold, LOG_LVL_DEBUG);
	ASSERT_OK(log_set_verbosity("10"));
	ASSERT_EQ(log_threshold, LOG_LVL_TRACE);
	ASSERT_EQ(log_set_verbosity("-1"), -EINVAL);
	ASSERT_EQ(log_set_verbosity("2x"), -EINVAL);
	ASSERT_EQ(log_set_verbosity(""), -EINVAL);
}

TEST(log_getopt_integration)
{
	static const struct option opts[] = { LOG_LONG_OPTIONS,
					      { "other", no_argument, NULL, 'o' },
					      { 0 } };
	char *argv[] = { "prog", "--v=5", "--other", "--log-level", "error", NULL };
	int argc = 5, opt, handled = 0, others = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int r = log_handle_option(opt, optarg);

		ASSERT(r >= 0);
		if (r)
			handled++;
		else if (opt == 'o')
			others++;
	}
	ASSERT_EQ(handled, 2);
	ASSERT_EQ(others, 1);
	ASSERT_EQ(log_threshold, LOG_LVL_ERROR);
	/* Bad values are rejected and leave the level alone. */
	ASSERT_EQ(log_handle_option(LOG_OPT_V, "lots"), -EINVAL);
	ASSERT_EQ(log_threshold, LOG_LVL_ERROR);
}

TEST(log_long_message_is_truncated_on_one_line)
{
	char big[10000];
	const char *out;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	capture();
	ASSERT_OK(log_set_level("info"));
	log_info("%s", big);
	out = captured();
	ASSERT(strlen(out) < 4096);
	ASSERT(strstr(out, "...[truncated]\n") != NULL);
	ASSERT_EQ(strchr(out, '\n') - out, (long)strlen(out) - 1);
}
