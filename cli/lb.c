/*
 * lb.c - see lb.h.
 *
 * Options are parsed with one getopt_long table for the three subcommands,
 * then checked against the subcommand that owns each option, so a misplaced
 * option (`lb stats --count 5`) is an error naming its subcommand rather
 * than a silent no-op. `stats --watch` paces itself on absolute CLOCK_MONOTONIC
 * deadlines, one second apart, so the turns do not drift by the time each
 * read takes; the rate of each turn is divided by the time actually measured
 * between the two reads.
 */
#include "lb.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lb_monitor.h"
#include "lb_snapshot.h"

#define NS_PER_SEC 1000000000ull

static const char *const cmd_names[] = {
	[CLI_LB_CMD_LIST] = "list",
	[CLI_LB_CMD_STATS] = "stats",
	[CLI_LB_CMD_MONITOR] = "monitor",
};

/* Which subcommands take an option (bit per enum cli_lb_cmd). */
static const struct {
	int opt;
	unsigned int cmds;
	const char *name;
} owners[] = {
	{ 'B', 1u << CLI_LB_CMD_LIST, "--backends" },
	{ 'R', 1u << CLI_LB_CMD_LIST, "--revnat" },
	{ 'w', 1u << CLI_LB_CMD_STATS, "--watch" },
	{ 'c', 1u << CLI_LB_CMD_MONITOR, "--count" },
	{ 't', 1u << CLI_LB_CMD_MONITOR, "--duration" },
};

void cli_lb_usage(FILE *f)
{
	fprintf(f,
		"usage: capstan lb COMMAND [options]\n"
		"\n"
		"Commands (read the maps capstan-agent pinned in bpffs):\n"
		"  list       services with their backend slots, terminating backends\n"
		"    --backends        the backends map alone\n"
		"    --revnat          the rev-NAT map alone\n"
		"  stats      connections, udp messages and refusals per service and backend,\n"
		"             drops by reason, totals\n"
		"    --watch N         reprint every second N times (1-%d) with rates\n"
		"  monitor    print a line per translation or refusal while it runs\n"
		"    --count N         stop after N events\n"
		"    --duration S      stop after S seconds (default %llu, at most %llu)\n"
		"\n"
		"Options:\n"
		"  --bpffs-dir=DIR     where the maps are pinned (default %s)\n"
		"  -o, --output=json   machine-readable output (JSON; one object a line for\n"
		"                      --watch and monitor)\n"
		"  -h, --help          this text\n",
		CLI_LB_WATCH_MAX, CLI_LB_MONITOR_DEFAULT_MS / 1000, CLI_LB_MONITOR_MAX_MS / 1000,
		CLI_LB_BPFFS_DIR_DEFAULT);
}

/* A decimal integer in [min, max], digits only. */
static int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Seconds, possibly fractional, with an optional "s": "10", "0.5", "2s". */
static int parse_duration_ms(const char *s, uint64_t *out)
{
	size_t digits;
	double v;
	char *end;

	/* strtod alone would also take "1e3", "0x10" and "inf". */
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	digits = strspn(s, "0123456789.");
	if (s[digits] != '\0' && strcmp(s + digits, "s") != 0)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (*end == 's')
		end++;
	if (errno || *end || !isfinite(v))
		return -EINVAL;
	v = round(v * 1000);
	if (v < 1 || v > (double)CLI_LB_MONITOR_MAX_MS)
		return -EINVAL;
	*out = (uint64_t)v;
	return 0;
}

/*
 * The option getopt_long complained about. After an error optind points past
 * the word (argv[optind] in cli_lb_parse_args' unshifted argv); a short option
 * may sit in a group ("-xo"), so it is named by optopt.
 */
static const char *option_word(const char *last, int short_opt, char *buf, size_t len)
{
	if ((last && strncmp(last, "--", 2) == 0) || !short_opt)
		return last ? last : "?";
	snprintf(buf, len, "-%c", short_opt);
	return buf;
}

int cli_lb_parse_args(int argc, char **argv, struct cli_lb_args *out, char *err, size_t errlen)
{
	static const struct option long_opts[] = {
		{ "bpffs-dir", required_argument, NULL, 'd' },
		{ "output", required_argument, NULL, 'o' },
		{ "backends", no_argument, NULL, 'B' },
		{ "revnat", no_argument, NULL, 'R' },
		{ "watch", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cli_lb_args a = { .dir = CLI_LB_BPFFS_DIR_DEFAULT,
				 .duration_ms = CLI_LB_MONITOR_DEFAULT_MS };
	unsigned long v;
	unsigned int seen = 0; /* bit per owners[] entry */
	char word[8];
	int opt;
	size_t c;

	if (argc < 2 || !argv || !argv[1]) {
		snprintf(err, errlen, "missing command: list, stats or monitor");
		return -EINVAL;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		*out = a;
		out->help = true;
		return 0;
	}
	for (c = 0; c < ARRAY_SIZE(cmd_names); c++)
		if (strcmp(argv[1], cmd_names[c]) == 0)
			break;
	if (c == ARRAY_SIZE(cmd_names)) {
		snprintf(err, errlen, "unknown command '%s': list, stats or monitor", argv[1]);
		return -EINVAL;
	}
	a.cmd = (enum cli_lb_cmd)c;

	/* getopt sees the subcommand as its argv[0]. optind = 0 restarts GNU getopt. */
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc - 1, argv + 1, ":ho:", long_opts, NULL)) != -1) {
		for (size_t i = 0; i < ARRAY_SIZE(owners); i++)
			if (owners[i].opt == opt)
				seen |= 1u << i;
		switch (opt) {
		case 'd':
			if (!*optarg) {
				snprintf(err, errlen, "--bpffs-dir needs a directory");
				return -EINVAL;
			}
			a.dir = optarg;
			break;
		case 'o':
			if (strcmp(optarg, "json") == 0) {
				a.fmt = CLI_LB_OUT_JSON;
			} else if (strcmp(optarg, "text") == 0) {
				a.fmt = CLI_LB_OUT_TEXT;
			} else {
				snprintf(err, errlen, "unknown output '%s': json or text", optarg);
				return -EINVAL;
			}
			break;
		case 'B':
		case 'R':
			if (a.view != CLI_LB_VIEW_SERVICES) {
				snprintf(err, errlen, "--backends and --revnat exclude each other");
				return -EINVAL;
			}
			a.view = opt == 'B' ? CLI_LB_VIEW_BACKENDS : CLI_LB_VIEW_REVNAT;
			break;
		case 'w':
			if (parse_ulong(optarg, 1, CLI_LB_WATCH_MAX, &v)) {
				snprintf(err, errlen,
					 "--watch wants a count from 1 to %d, not '%s'",
					 CLI_LB_WATCH_MAX, optarg);
				return -EINVAL;
			}
			a.watch = (unsigned int)v;
			break;
		case 'c':
			if (parse_ulong(optarg, 1, 1000000000ul, &v)) {
				snprintf(err, errlen,
					 "--count wants a number of events from 1 to 1000000000, "
					 "not '%s'",
					 optarg);
				return -EINVAL;
			}
			a.count = v;
			break;
		case 't':
			if (parse_duration_ms(optarg, &a.duration_ms)) {
				snprintf(err, errlen,
					 "--duration wants seconds from 0.001 to %llu, not '%s'",
					 CLI_LB_MONITOR_MAX_MS / 1000, optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			a.help = true;
			break;
		case ':':
			snprintf(err, errlen, "option '%s' needs a value",
				 option_word(argv[optind], optopt, word, sizeof(word)));
			return -EINVAL;
		default:
			snprintf(err, errlen, "unknown option '%s'",
				 option_word(argv[optind], optopt, word, sizeof(word)));
			return -EINVAL;
		}
	}
	if (optind < argc - 1) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[1 + optind]);
		return -EINVAL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(owners); i++) {
		if ((seen & (1u << i)) && !(owners[i].cmds & (1u << a.cmd))) {
			snprintf(err, errlen, "%s is not an option of 'lb %s'", owners[i].name,
				 cmd_names[a.cmd]);
			return -EINVAL;
		}
	}
	*out = a;
	return 0;
}

static int write_out(const struct buf *b, FILE *out, char *err, size_t errlen)
{
	if (b->len && (fwrite(b->data, 1, b->len, out) != b->len || fflush(out) == EOF)) {
		int ret = errno ? -errno : -EIO;

		snprintf(err, errlen, "writing output: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

static int run_list(const struct cli_lb_args *a, FILE *out, char *err, size_t errlen)
{
	static const unsigned int what[] = {
		[CLI_LB_VIEW_SERVICES] = CLI_LB_READ_SERVICES | CLI_LB_READ_BACKENDS,
		[CLI_LB_VIEW_BACKENDS] = CLI_LB_READ_BACKENDS,
		[CLI_LB_VIEW_REVNAT] = CLI_LB_READ_REVNAT,
	};
	struct cli_lb_snapshot snap;
	struct buf b = { 0 };
	int ret;

	ret = cli_lb_snapshot_read(a->dir, what[a->view], &snap, err, errlen);
	if (ret)
		return ret;
	ret = cli_lb_format_list(&snap, a->view, a->fmt, &b);
	if (ret)
		snprintf(err, errlen, "cannot format the listing");
	else
		ret = write_out(&b, out, err, errlen);
	buf_free(&b);
	cli_lb_snapshot_free(&snap);
	return ret;
}

static int run_stats(const struct cli_lb_args *a, FILE *out, char *err, size_t errlen)
{
	const unsigned int what =
		CLI_LB_READ_SERVICES | CLI_LB_READ_BACKENDS | CLI_LB_READ_COUNTERS;
	enum cli_lb_output fmt =
		a->fmt == CLI_LB_OUT_JSON && a->watch ? CLI_LB_OUT_JSON_LINE : a->fmt;
	struct cli_lb_snapshot prev = { 0 }, cur = { 0 };
	struct buf b = { 0 };
	uint64_t start, prev_ns;
	int ret;

	ret = cli_lb_snapshot_read(a->dir, what, &prev, err, errlen);
	if (ret)
		return ret;
	if (a->watch == 0) {
		cli_lb_format_stats(&prev, NULL, 0, 0, fmt, &b);
		ret = write_out(&b, out, err, errlen);
		goto out;
	}
	start = prev_ns = now_mono_ns();
	for (unsigned int turn = 1; turn <= a->watch; turn++) {
		uint64_t at = start + turn * NS_PER_SEC, now;
		struct timespec ts = { .tv_sec = at / NS_PER_SEC, .tv_nsec = at % NS_PER_SEC };

		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		ret = cli_lb_snapshot_read(a->dir, what, &cur, err, errlen);
		if (ret)
			goto out;
		now = now_mono_ns();
		buf_reset(&b);
		if (turn > 1 && fmt == CLI_LB_OUT_TEXT)
			buf_appendf(&b, "\n");
		cli_lb_format_stats(&cur, &prev, now - prev_ns, (int64_t)now_real_ns(), fmt, &b);
		ret = write_out(&b, out, err, errlen);
		if (ret)
			goto out;
		cli_lb_snapshot_free(&prev);
		prev = cur;
		cur = (struct cli_lb_snapshot){ 0 };
		prev_ns = now;
	}
out:
	cli_lb_snapshot_free(&cur);
	cli_lb_snapshot_free(&prev);
	buf_free(&b);
	return ret;
}

int cli_lb_run(const struct cli_lb_args *a, FILE *out, FILE *info, char *err, size_t errlen)
{
	struct cli_lb_monitor_opts mo;

	switch (a->cmd) {
	case CLI_LB_CMD_LIST:
		return run_list(a, out, err, errlen);
	case CLI_LB_CMD_STATS:
		return run_stats(a, out, err, errlen);
	case CLI_LB_CMD_MONITOR:
		mo = (struct cli_lb_monitor_opts){ .dir = a->dir,
						   .count = a->count,
						   .duration_ms = a->duration_ms,
						   .fmt = a->fmt };
		return cli_lb_monitor_run(&mo, out, info, NULL, err, errlen);
	}
	snprintf(err, errlen, "unknown command");
	return -EINVAL;
}

int cli_lb_main(int argc, char **argv)
{
	struct cli_lb_args a;
	char err[512] = "";

	if (cli_lb_parse_args(argc, argv, &a, err, sizeof(err)) != 0) {
		fprintf(stderr, "capstan lb: %s (see capstan lb --help)\n", err);
		return 2;
	}
	if (a.help) {
		cli_lb_usage(stdout);
		return 0;
	}
	if (cli_lb_run(&a, stdout, stderr, err, sizeof(err)) != 0) {
		fprintf(stderr, "capstan lb %s: %s\n", cmd_names[a.cmd], err);
		return 1;
	}
	return 0;
}
