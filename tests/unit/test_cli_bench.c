/* Unit tests for cli/bench: `capstan bench NAME` command lines. */
#include "test.h"

#include <errno.h>

#include "cli/bench.h"

static const char *joined(const struct cli_bench_cmd *c)
{
	static char buf[512];
	size_t n = 0;

	buf[0] = '\0';
	for (char **a = c->argv; *a; a++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", n ? " " : "", *a);
	return buf;
}

TEST(cli_bench_datapath_gets_the_agent_beside_capstan)
{
	char *argv[] = { "bench", "datapath", "--services", "1,1000", NULL };
	struct cli_bench_cmd c;
	char err[256];

	ASSERT_OK(cli_bench_command("/opt/capstan/bin", 4, argv, &c, err, sizeof(err)));
	ASSERT_STREQ(joined(&c), "/opt/capstan/bin/capstan-bench-datapath --agent "
				 "/opt/capstan/bin/capstan-agent --services 1,1000");
	cli_bench_cmd_free(&c);
}

TEST(cli_bench_user_flags_win)
{
	char *given[] = { "bench", "datapath", "--agent=/x/agent", NULL };
	char *help[] = { "bench", "api", "--help", NULL };
	char *endpoints[] = { "bench", "endpoints", NULL };
	struct cli_bench_cmd c;
	char err[256];

	ASSERT_OK(cli_bench_command("/b", 3, given, &c, err, sizeof(err)));
	ASSERT_STREQ(joined(&c), "/b/capstan-bench-datapath --agent=/x/agent");
	cli_bench_cmd_free(&c);
	ASSERT_OK(cli_bench_command("/b", 3, help, &c, err, sizeof(err)));
	ASSERT_STREQ(joined(&c), "/b/capstan-bench-api --help");
	cli_bench_cmd_free(&c);
	ASSERT_OK(cli_bench_command("/b", 2, endpoints, &c, err, sizeof(err)));
	ASSERT_STREQ(joined(&c), "/b/capstan-bench-endpoints --bin /b");
	cli_bench_cmd_free(&c);
}

TEST(cli_bench_unknown_or_missing_name_lists_the_benchmarks)
{
	char *unknown[] = { "bench", "disk", NULL };
	char *none[] = { "bench", NULL };
	struct cli_bench_cmd c;
	char err[512];

	ASSERT_EQ(cli_bench_command("/b", 2, unknown, &c, err, sizeof(err)), -ENOENT);
	ASSERT(strstr(err, "unknown benchmark 'disk'"));
	ASSERT(strstr(err, "datapath"));
	ASSERT_NULL(c.argv);
	ASSERT_EQ(cli_bench_command("/b", 1, none, &c, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "usage: capstan bench NAME"));
}
