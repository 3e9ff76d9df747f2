/*
 * test.c - runner for the C test layers (see test.h).
 *
 * Usage: <binary> [-l] [-t SECONDS] [FILTER...]
 *   -l          list the tests
 *   -t SECONDS  per-test time limit (default 120, or $CAPSTAN_TEST_TIMEOUT)
 *   FILTER      run only tests whose name or file contains one of them
 *
 * Exit status: 0 when no test failed (skips are not failures), 1 otherwise.
 */
#include "test.h"
#include "log.h"
#include "util.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TEST_MAX 1024
#define TEST_EXIT_SKIP 77
#define TEST_EXIT_FAIL 1

struct test_case {
	const char *name;
	const char *file;
	test_fn fn;
};

static struct test_case tests[TEST_MAX];
static int ntests;
static int report_fd = -1; /* child side of the report pipe */
static char tmpdir[256];

void test_register(const char *name, const char *file, test_fn fn)
{
	if (ntests == TEST_MAX) {
		fprintf(stderr, "test harness: more than %d tests\n", TEST_MAX);
		abort();
	}
	tests[ntests++] = (struct test_case){ name, file, fn };
}

static void report(const char *fmt, va_list ap)
{
	char buf[2048];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);

	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (report_fd >= 0 && write(report_fd, buf, n) < 0)
		return;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void (*deferred[32])(void);
static int ndeferred;

void test_defer(void (*fn)(void))
{
	if (ndeferred == (int)ARRAY_SIZE(deferred))
		test_fail(__FILE__, __LINE__, "too many deferred cleanups");
	deferred[ndeferred++] = fn;
}

/* End of a test: deferred cleanups, then the scratch directory. */
static void remove_tmpdir(void)
{
	while (ndeferred > 0)
		deferred[--ndeferred]();
	if (tmpdir[0])
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	tmpdir[0] = '\0';
}

const char *test_tmpdir(void)
{
	if (!tmpdir[0]) {
		const char *base = getenv("TMPDIR");

		snprintf(tmpdir, sizeof(tmpdir), "%s/capstan-test-XXXXXX", base ? base : "/tmp");
		if (!mkdtemp(tmpdir)) {
			tmpdir[0] = '\0';
			test_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
		}
	}
	return tmpdir;
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	char where[512];

	snprintf(where, sizeof(where), "%s:%d: ", file, line);
	if (report_fd >= 0 && write(report_fd, where, strlen(where)) < 0)
		exit(TEST_EXIT_FAIL);
	va_start(ap, fmt);
	report(fmt, ap);
	va_end(ap);
	remove_tmpdir();
	exit(TEST_EXIT_FAIL);
}

void test_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(fmt, ap);
	va_end(ap);
	remove_tmpdir();
	exit(TEST_EXIT_SKIP);
}

void test_require_root(void)
{
	if (geteuid() != 0)
		test_skip("needs root (run as root, as CI does)");
}

static bool selected(const struct test_case *t, int nfilters, char **filters)
{
	if (nfilters == 0)
		return true;
	for (int i = 0; i < nfilters; i++)
		if (strstr(t->name, filters[i]) || strstr(t->file, filters[i]))
			return true;
	return false;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Run one test in a child; returns 0 pass, 1 fail, 2 skip. */
static int run_one(const struct test_case *t, int timeout)
{
	int fds[2], status;
	char msg[4096];
	size_t len = 0;
	double start = now_ms();
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		perror("pipe2");
		exit(2);
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		close(fds[0]);
		report_fd = fds[1];
		/* The default SIGALRM action kills the child: reported as a timeout. */
		alarm(timeout);
		/* Library logs would interleave with the results: errors only,
		 * unless CAPSTAN_TEST_LOG_LEVEL asks for more. */
		const char *lvl = getenv("CAPSTAN_TEST_LOG_LEVEL");
		if (log_set_level(lvl ? lvl : "error") < 0)
			log_set_level("error");
		t->fn();
		remove_tmpdir();
		exit(0);
	}
	close(fds[1]);
	for (;;) {
		ssize_t n = read(fds[0], msg + len, sizeof(msg) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
		if (len == sizeof(msg) - 1)
			break;
	}
	msg[len] = '\0';
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;

	double ms = now_ms() - start;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("ok    %-44s (%.0f ms)\n", t->name, ms);
		return 0;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == TEST_EXIT_SKIP) {
		printf("SKIP  %-44s %s\n", t->name, msg);
		return 2;
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		snprintf(msg + len, sizeof(msg) - len, "timed out after %d s", timeout);
	else if (WIFSIGNALED(status))
		snprintf(msg + len, sizeof(msg) - len, "%skilled by signal %d (%s)",
			 len ? "; " : "", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else if (!len)
		snprintf(msg, sizeof(msg), "exit status %d (sanitizer report above?)",
			 WEXITSTATUS(status));
	printf("FAIL  %-44s %s\n", t->name, msg);
	return 1;
}

int main(int argc, char **argv)
{
	int timeout = 120, passed = 0, failed = 0, skipped = 0, opt;
	bool list = false;
	const char *env = getenv("CAPSTAN_TEST_TIMEOUT");

	if (env)
		timeout = atoi(env);
	while ((opt = getopt(argc, argv, "lt:h")) != -1) {
		switch (opt) {
		case 'l':
			list = true;
			break;
		case 't':
			timeout = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-l] [-t SECONDS] [FILTER...]\n", argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (timeout <= 0)
		timeout = 120;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);

	for (int i = 0; i < ntests; i++) {
		const struct test_case *t = &tests[i];

		if (!selected(t, argc - optind, argv + optind))
			continue;
		if (list) {
			printf("%s (%s)\n", t->name, t->file);
			continue;
		}
		switch (run_one(t, timeout)) {
		case 0:
			passed++;
			break;
		case 1:
			failed++;
			break;
		default:
			skipped++;
		}
	}
	if (list)
		return 0;
	if (skipped)
		printf("%d skipped\n", skipped);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
