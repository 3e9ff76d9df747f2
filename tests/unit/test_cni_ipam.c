/*
 * Unit tests for agent/cni/ipam: IPv4 parsing, allocation order, idempotent
 * ADD, release and reuse order, exhaustion, persistence, damaged state, the
 * lock, and concurrent allocation from several processes. No root needed:
 * the state lives in the test's scratch directory.
 */
#include "test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/cni/ipam.h"
#include "util.h"

static uint32_t ip(const char *s)
{
	uint32_t a = 0;

	ASSERT_MSG(cni_ip4_parse(s, &a) == 0, "bad address in test: %s", s);
	return a;
}

static const char *str(uint32_t a)
{
	static char bufs[4][CNI_IP4_STRLEN];
	static int n;

	return cni_ip4_str(a, bufs[n++ % 4]);
}

/* An IPAM configuration for net (e.g. "10.244.1.0/24") in the scratch dir. */
static struct cni_ipam_conf conf_for(const char *net, const char *gw)
{
	struct cni_ipam_conf c = { .data_dir = test_tmpdir(), .network = "capstan" };

	ASSERT_OK(cni_ip4_cidr_parse(net, &c.net.addr, &c.net.prefix));
	c.gateway = gw ? ip(gw) : c.net.addr + 1;
	return c;
}

static uint32_t alloc_ok(const struct cni_ipam_conf *c, const char *id, const char *ifname)
{
	char err[256] = "";
	uint32_t a = 0;
	int ret = cni_ipam_alloc(c, id, ifname, &a, err, sizeof(err));

	ASSERT_MSG(ret == 0, "alloc %s/%s: %d (%s)", id, ifname, ret, err);
	return a;
}

/* The path of a file in the state directory. */
static const char *state_path(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/ipam/capstan/%s", test_tmpdir(), name);
	return path;
}

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	ASSERT_NOT_NULL(f);
	fputs(content, f);
	ASSERT_OK(fclose(f));
}

static int count_records(void)
{
	char cmd[600];
	FILE *p;
	int n = -1;

	/* Address-named files only: the lock and "last" are not records. */
	snprintf(cmd, sizeof(cmd), "ls %s | grep -c '^[0-9.]*$'", state_path(""));
	p = popen(cmd, "r");
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

TEST(cni_ip4_parse_accepts_only_dotted_quads)
{
	uint32_t a = 7;
	unsigned p = 99;
	char buf[CNI_IP4_STRLEN];

	ASSERT_OK(cni_ip4_parse("10.244.1.5", &a));
	ASSERT_EQ(a, 0x0af40105);
	ASSERT_OK(cni_ip4_parse("255.255.255.255", &a));
	ASSERT_EQ(a, 0xffffffffu);
	ASSERT_OK(cni_ip4_parse("0.0.0.0", &a));
	ASSERT_EQ(a, 0);

	const char *bad[] = { "",	  "10.244.1",	"10.244.1.5.6", "256.1.1.1",
			      "1.2.3.4 ", " 1.2.3.4",	"1..3.4",	"1.2.3.",
			      "a.b.c.d",  "1.2.3.1000", "-1.2.3.4",	"1.2.3.4/24" };
	a = 7;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ASSERT_MSG(cni_ip4_parse(bad[i], &a) == -EINVAL, "accepted \"%s\"", bad[i]);
	ASSERT_EQ(a, 7); /* untouched on failure */
	ASSERT_EQ(cni_ip4_parse(NULL, &a), -EINVAL);

	ASSERT_OK(cni_ip4_cidr_parse("10.244.1.5/32", &a, &p));
	ASSERT_EQ(a, 0x0af40105);
	ASSERT_EQ(p, 32);
	ASSERT_OK(cni_ip4_cidr_parse("0.0.0.0/0", &a, &p));
	ASSERT_EQ(p, 0);
	const char *bad_cidr[] = { "10.244.1.0", "10.244.1.0/",	   "10.244.1.0/33", "10.244.1.0/2a",
				   "/24",	 "10.244.1.0/024", "10.244.1.0/-1", "x/24" };
	for (size_t i = 0; i < ARRAY_SIZE(bad_cidr); i++)
		ASSERT_MSG(cni_ip4_cidr_parse(bad_cidr[i], &a, &p) == -EINVAL, "accepted \"%s\"",
			   bad_cidr[i]);

	ASSERT_STREQ(cni_ip4_str(0x0af40105, buf), "10.244.1.5");
	ASSERT_STREQ(cni_ip4_cidr_str(0xffffffff, 32, buf), "255.255.255.255/32");
	ASSERT_EQ(cni_ip4_mask(0), 0);
	ASSERT_EQ(cni_ip4_mask(24), 0xffffff00u);
	ASSERT_EQ(cni_ip4_mask(32), 0xffffffffu);
}

TEST(cni_ipam_allocates_in_order_skipping_the_gateway)
{
	struct cni_ipam_conf c = conf_for("10.244.1.0/24", NULL);

	ASSERT_STREQ(str(alloc_ok(&c, "c1", "eth0")), "10.244.1.2");
	ASSERT_STREQ(str(alloc_ok(&c, "c2", "eth0")), "10.244.1.3");
	ASSERT_STREQ(str(alloc_ok(&c, "c3", "eth0")), "10.244.1.4");
	ASSERT_EQ(count_records(), 3);
}

TEST(cni_ipam_custom_gateway_is_never_handed_out)
{
	struct cni_ipam_conf c = conf_for("10.244.1.0/29", "10.244.1.3");
	uint32_t got[5];

	for (int i = 0; i < 5; i++) {
		char id[16];

		snprintf(id, sizeof(id), "c%d", i);
		got[i] = alloc_ok(&c, id, "eth0");
		ASSERT(got[i] != ip("10.244.1.3"));
	}
	/* .1 is usable when the gateway is elsewhere. */
	ASSERT_STREQ(str(got[0]), "10.244.1.1");
	ASSERT_STREQ(str(got[4]), "10.244.1.6");
}

TEST(cni_ipam_add_is_idempotent_per_container_and_ifname)
{
	struct cni_ipam_conf c = conf_for("10.244.1.0/24", NULL);
	uint32_t a = alloc_ok(&c, "c1", "eth0"), b, got = 0;
	char err[128];

	ASSERT_EQ(alloc_ok(&c, "c1", "eth0"), a);
	ASSERT_EQ(alloc_ok(&c, "c1", "eth0"), a);
	b = alloc_ok(&c, "c1", "net1"); /* another interface of the same container */
	ASSERT(b != a);
	ASSERT_EQ(count_records(), 2);
	ASSERT_OK(cni_ipam_lookup(&c, "c1", "eth0", &got, err, sizeof(err)));
	ASSERT_EQ(got, a);
	ASSERT_EQ(cni_ipam_lookup(&c, "c2", "eth0", &got, err, sizeof(err)), -ENOENT);
	ASSERT_EQ(got, a); /* untouched */
}

TEST(cni_ipam_many_allocations_never_duplicate_then_exhaust)
{
	struct cni_ipam_conf c = conf_for("10.244.1.0/24", NULL);
	static uint8_t seen[256];
	char err[128] = "";
	uint32_t a;

	for (int i = 0; i < 253; i++) {
		char id[16];

		snprintf(id, sizeof(id), "pod%d", i);
		a = alloc_ok(&c, id, "eth0");
		ASSERT_EQ(a & 0xffffff00u, ip("10.244.1.0"));
		ASSERT_MSG(!seen[a & 0xff], "%s handed out twice", str(a));
		seen[a & 0xff] = 1;
	}
	/* Network, gateway and broadcast were never given. */
	ASSERT(!seen[0] && !seen[1] && !seen[255]);
	ASSERT_EQ(cni_ipam_alloc(&c, "one-more", "eth0", &a, err, sizeof(err)), -ENOSPC);
	ASSERT(strstr(err, "no free address"));
	ASSERT_EQ(count_records(), 253);
}

TEST(cni_ipam_exhaustion_on_a_slash_29)
{
	struct cni_ipam_conf c = conf_for("10.244.1.0/29", NULL);
	char err[128] = "";
	uint32_t a = 0;

	/* .0 network, .1 gateway, .7 broadcast: .2-.6 are the pods'. */
	for (int i = 0; i < 5; i++) {
		char id[16];

		snprintf(id, sizeof(id), "c%d", i);
		ASSERT_EQ(alloc_ok(&c, id, "eth0"), ip("10.244.1.2") + (uint32_t)i);
	}
	ASSERT_EQ(cni_ipam_alloc(&c, "c5", "eth0", &a, err, sizeof(err)), -ENOSPC);
	ASSERT_EQ(a, 0);
	/* A full pool still answers a container that already has an address. */
	ASSERT_STREQ(str(alloc_ok(&c, "c3", "eth0")), "10.244.1.5");
}

TEST(cni_ipam_release_then_reuse_walks_past_the_freed_address)
{
	struct cni_ipam_conf c = conf_for("10.244.1.0/29", NULL);
	char err[128];

	ASSERT_STREQ(str(alloc_ok(&c, "a", "eth0")), "10.244.1.2");
	ASSERT_STREQ(str(alloc_ok(&c, "b", "eth0")), "10.244.1.3");
	ASSERT_STREQ(str(alloc_ok(&c, "c", "eth0")), "10.244.1.4");
	ASSERT_EQ(cni_ipam_release(&c, "b", "eth0", err, sizeof(err)), 1);
	/* Not .3 again at once: the search goes on after the last one. */
	ASSERT_STREQ(str(alloc_ok(&c, "d", "eth0")), "10.244.1.5");
	ASSERT_STREQ(str(alloc_ok(&c, "e", "eth0")), "10.244.1.6");
	/* Only now does it wrap around to the freed .3. */
	ASSERT_STREQ(str(alloc_ok(&c, "f", "eth0")), "10.244.1.3");
	/* Release twice: the second finds nothing and still succeeds. */
	ASSERT_EQ(cni_ipam_release(&c, "a", "eth0", err, sizeof(err)), 1);
	ASSERT_EQ(cni_ipam_release(&c, "a", "eth0", err, sizeof(err)), 0);
	ASSERT_EQ(cni_ipam_release(&c, "never-added", "eth0", err, sizeof(err)), 0);
	ASSERT_STREQ(str(alloc_ok(&c, "g", "eth0")), "10.244.1.2");
	/* Release is per (id, ifname): c's other interface name holds nothing. */
	ASSERT_EQ(cni_ipam_release(&c, "c", "net1", err, sizeof(err)), 0);
	ASSERT_EQ(count_records(), 5);
}

TEST(cni_ipam_state_persists_across_processes)
{
	struct cni_ipam_conf c = conf_for("10.244.1.0/24", NULL);
	char err[128];
	uint32_t got;
	pid_t pid;
	int status;

	ASSERT_STREQ(str(alloc_ok(&c, "a", "eth0")), "10.244.1.2");
	ASSERT_STREQ(str(alloc_ok(&c, "b", "eth0")), "10.244.1.3");
	ASSERT_EQ(cni_ipam_release(&c, "b", "eth0", err, sizeof(err)), 1);

	/* A new process (as every plugin run is) sees the records and "last". */
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		uint32_t a = 0;

		if (cni_ipam_alloc(&c, "c", "eth0", &a, NULL, 0) != 0 || a != ip("10.244.1.4"))
			_exit(1);
		if (cni_ipam_alloc(&c, "a", "eth0", &a, NULL, 0) != 0 || a != ip("10.244.1.2"))
			_exit(2);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	ASSERT_OK(cni_ipam_lookup(&c, "c", "eth0", &got, err, sizeof(err)));
	ASSERT_STREQ(str(got), "10.244.1.4");
	ASSERT_STREQ(str(alloc_ok(&c, "d", "eth0")), "10.244.1.5");
}

TEST(cni_ipam_damaged_record_keeps_its_address_taken)
{
	struct cni_ipam_conf c = conf_for("10.244.1.0/24", NULL);
	char err[128];
	uint32_t got;

	alloc_ok(&c, "first", "eth0"); /* creates the directory: .2 */
	write_file(state_path("10.244.1.3"), "garbage\n");
	write_file(state_path("10.244.1.4"), "");		       /* an empty record */
	write_file(state_path("10.244.1.5"), "capstan-ipam v1\nc1\n"); /* truncated */
	ASSERT_STREQ(str(alloc_ok(&c, "c1", "eth0")), "10.244.1.6");
	/* The truncated record is not c1's: lookup and release ignore it. */
	ASSERT_OK(cni_ipam_lookup(&c, "c1", "eth0", &got, err, sizeof(err)));
	ASSERT_STREQ(str(got), "10.244.1.6");
	ASSERT_EQ(cni_ipam_release(&c, "c1", "eth0", err, sizeof(err)), 1);
	ASSERT_EQ(access(state_path("10.244.1.5"), F_OK), 0);
	ASSERT_EQ(access(state_path("10.244.1.3"), F_OK), 0);
}

TEST(cni_ipam_damaged_last_and_leftovers_are_repaired)
{
	struct cni_ipam_conf c = conf_for("10.244.1.0/24", NULL);
	char buf[64] = "";
	FILE *f;

	alloc_ok(&c, "a", "eth0"); /* .2 */
	write_file(state_path("last"), "not an address\n");
	write_file(state_path(".tmp.12345.10.244.1.9"), "capstan-ipam v1\nx\neth0\n");
	write_file(state_path("README"), "foreign file\n");
	write_file(state_path("10.244.1.300"), "capstan-ipam v1\nb\neth0\n");
	/* Unreadable "last": the search starts over at the first free address. */
	ASSERT_STREQ(str(alloc_ok(&c, "b", "eth0")), "10.244.1.3");
	/* ... and "last" is valid again. */
	f = fopen(state_path("last"), "r");
	ASSERT_NOT_NULL(f);
	ASSERT(fgets(buf, sizeof(buf), f) != NULL);
	fclose(f);
	ASSERT_STREQ(buf, "10.244.1.3\n");
	/* The crashed writer's temporary file is gone, foreign files stay. */
	ASSERT_EQ(access(state_path(".tmp.12345.10.244.1.9"), F_OK), -1);
	ASSERT_EQ(access(state_path("README"), F_OK), 0);

	/* A "last" outside the range is ignored the same way. */
	write_file(state_path("last"), "192.168.0.1\n");
	ASSERT_STREQ(str(alloc_ok(&c, "c", "eth0")), "10.244.1.4");
}

TEST(cni_ipam_records_from_an_old_cidr_are_replaced)
{
	struct cni_ipam_conf old = conf_for("10.244.9.0/24", NULL);
	struct cni_ipam_conf cur = conf_for("10.244.1.0/24", NULL);
	char err[128];
	uint32_t got;

	ASSERT_STREQ(str(alloc_ok(&old, "c1", "eth0")), "10.244.9.2");
	/* The pod CIDR changed: the old address is not returned... */
	ASSERT_EQ(cni_ipam_lookup(&cur, "c1", "eth0", &got, err, sizeof(err)), -ENOENT);
	ASSERT_STREQ(str(alloc_ok(&cur, "c1", "eth0")), "10.244.1.2");
	/* ... and its record is dropped. */
	ASSERT_EQ(access(state_path("10.244.9.2"), F_OK), -1);
	ASSERT_EQ(count_records(), 1);
}

TEST(cni_ipam_rejects_bad_configuration)
{
	struct cni_ipam_conf c = conf_for("10.244.1.0/24", NULL), bad;
	char err[128];
	uint32_t a = 0;

	bad = c;
	bad.network = "../escape";
	ASSERT_EQ(cni_ipam_alloc(&bad, "c1", "eth0", &a, err, sizeof(err)), -EINVAL);
	bad = c;
	bad.network = NULL;
	ASSERT_EQ(cni_ipam_alloc(&bad, "c1", "eth0", &a, err, sizeof(err)), -EINVAL);
	bad = c;
	bad.data_dir = "";
	ASSERT_EQ(cni_ipam_alloc(&bad, "c1", "eth0", &a, err, sizeof(err)), -EINVAL);
	bad = c;
	bad.net.prefix = 31;
	ASSERT_EQ(cni_ipam_alloc(&bad, "c1", "eth0", &a, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "prefix"));
	bad = c;
	bad.net.addr |= 5; /* host bits */
	ASSERT_EQ(cni_ipam_alloc(&bad, "c1", "eth0", &a, err, sizeof(err)), -EINVAL);
	bad = c;
	bad.gateway = ip("10.244.1.255"); /* broadcast */
	ASSERT_EQ(cni_ipam_alloc(&bad, "c1", "eth0", &a, err, sizeof(err)), -EINVAL);
	bad.gateway = ip("10.244.2.1"); /* outside */
	ASSERT_EQ(cni_ipam_alloc(&bad, "c1", "eth0", &a, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(cni_ipam_alloc(&c, "../c1", "eth0", &a, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(cni_ipam_alloc(&c, "c1", "a/b", &a, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(cni_ipam_release(&c, "", "eth0", err, sizeof(err)), -EINVAL);
	ASSERT_EQ(cni_ipam_lookup(&c, "c1", NULL, &a, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(cni_ipam_alloc(NULL, "c1", "eth0", &a, NULL, 0), -EINVAL);
	ASSERT_EQ(a, 0);
}

TEST(cni_ipam_unusable_state_directory_is_an_error)
{
	struct cni_ipam_conf c = conf_for("10.244.1.0/24", NULL);
	char dir[512], err[256] = "";
	uint32_t a;

	/* Lookup before anything was allocated: nothing recorded. */
	ASSERT_EQ(cni_ipam_lookup(&c, "c1", "eth0", &a, err, sizeof(err)), -ENOENT);
	/* dataDir/ipam is a file, not a directory. */
	snprintf(dir, sizeof(dir), "%s/ipam", test_tmpdir());
	write_file(dir, "not a directory");
	ASSERT_EQ(cni_ipam_alloc(&c, "c1", "eth0", &a, err, sizeof(err)), -ENOTDIR);
	ASSERT(strstr(err, "ipam/capstan"));
}

TEST(cni_ipam_lock_timeout_is_try_again)
{
	struct cni_ipam_conf c = conf_for("10.244.1.0/24", NULL);
	char err[128] = "";
	uint64_t start;
	uint32_t a;
	int fd;

	alloc_ok(&c, "a", "eth0");
	fd = open(state_path("lock"), O_RDWR);
	ASSERT(fd >= 0);
	/* A separate open file description: conflicts like another process. */
	ASSERT_OK(flock(fd, LOCK_EX));
	c.lock_timeout_ms = 150;
	start = now_mono_ns();
	ASSERT_EQ(cni_ipam_alloc(&c, "b", "eth0", &a, err, sizeof(err)), -EAGAIN);
	ASSERT(now_mono_ns() - start >= 140 * 1000000ull);
	ASSERT(strstr(err, "locked"));
	ASSERT_EQ(cni_ipam_release(&c, "a", "eth0", err, sizeof(err)), -EAGAIN);
	ASSERT_OK(flock(fd, LOCK_UN));
	ASSERT_STREQ(str(alloc_ok(&c, "b", "eth0")), "10.244.1.3");
	close(fd);
}

#define PROCS 8
#define PER_PROC 30

TEST(cni_ipam_concurrent_processes_never_share_an_address)
{
	struct cni_ipam_conf c = conf_for("10.244.1.0/24", NULL);
	uint32_t *got = mmap(NULL, PROCS * PER_PROC * sizeof(*got), PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	static uint8_t seen[256];
	pid_t pids[PROCS];

	ASSERT(got != MAP_FAILED);
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		ASSERT(pids[p] >= 0);
		if (pids[p] == 0) {
			for (int i = 0; i < PER_PROC; i++) {
				char id[32];

				snprintf(id, sizeof(id), "p%d-c%d", p, i);
				if (cni_ipam_alloc(&c, id, "eth0", &got[p * PER_PROC + i], NULL,
						   0) != 0)
					_exit(1);
				/* Interleave releases with the other processes' work. */
				if (i % 5 == 4 && cni_ipam_release(&c, id, "eth0", NULL, 0) != 1)
					_exit(2);
			}
			_exit(0);
		}
	}
	for (int p = 0; p < PROCS; p++) {
		int status;

		ASSERT_EQ(waitpid(pids[p], &status, 0), pids[p]);
		ASSERT_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			   "child %d exited with status %d", p, status);
	}
	/* Every address still held is held once, and matches its record. */
	for (int p = 0; p < PROCS; p++) {
		for (int i = 0; i < PER_PROC; i++) {
			uint32_t a = got[p * PER_PROC + i], held;
			char id[32];

			if (i % 5 == 4)
				continue;
			ASSERT_EQ(a & 0xffffff00u, ip("10.244.1.0"));
			ASSERT_MSG(!seen[a & 0xff], "%s held twice", str(a));
			seen[a & 0xff] = 1;
			snprintf(id, sizeof(id), "p%d-c%d", p, i);
			ASSERT_OK(cni_ipam_lookup(&c, id, "eth0", &held, NULL, 0));
			ASSERT_EQ(held, a);
		}
	}
	ASSERT_EQ(count_records(), PROCS * PER_PROC * 4 / 5);
	munmap(got, PROCS * PER_PROC * sizeof(*got));
}
