/*
 * Unit tests for agent/lb/config (capstan-agent's flags), durations, CIDRs
 * and listen addresses.
 */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "agent/lb/config.h"
#include "agent/lb/loader.h"
#include "agent/lb/metrics.h"
#include "agent/lb/nodeport.h"
#include "agent/lb/route.h"
#include "log.h"

/* Parse a NULL-terminated flag list (the program name is added). */
static int parse(struct lb_config *cfg, char *err, size_t len, const char **flags)
{
	char *argv[32] = { "capstan-agent" };
	int argc = 1;

	for (; *flags; flags++)
		argv[argc++] = (char *)*flags;
	argv[argc] = NULL;
	return lb_config_parse(cfg, argc, argv, err, len);
}

#define PARSE(cfg, ...) parse(cfg, err, sizeof(err), (const char *[]){ __VA_ARGS__, NULL })

TEST(agent_config_defaults)
{
	struct lb_config c;
	char err[256];

	ASSERT_OK(PARSE(&c, "--static", "/tmp/x.json"));
	ASSERT_STREQ(c.static_file, "/tmp/x.json");
	ASSERT_NULL(c.kubeconfig);
	ASSERT_NULL(c.cgroup_path);
	ASSERT_STREQ(c.bpffs_dir, "/sys/fs/bpf/capstan");
	ASSERT_STREQ(c.service_cidr, "10.96.0.0/12");
	ASSERT_STREQ(c.metrics_listen, "127.0.0.1:9963");
	ASSERT_EQ(c.sync_min_ns, 100000000ull);
	ASSERT_EQ(c.sync_max_ns, 30000000000ull);
	ASSERT(c.node_name[0] != '\0'); /* the host name */
	ASSERT(!c.cleanup && !c.help);
}

TEST(agent_config_every_flag)
{
	struct lb_config c;
	char err[256];

	ASSERT_OK(PARSE(&c, "--kubeconfig=/etc/k.conf", "--node-name", "node-7", "--cgroup-path",
			"/sys/fs/cgroup/unified/x", "--bpffs-dir=/sys/fs/bpf/t", "--service-cidr",
			"10.100.0.0/16", "--metrics-listen", "[::1]:9000",
			"--sync-min-interval=250ms", "--sync-max-interval", "1m30s", "--log-level",
			"debug"));
	ASSERT_STREQ(c.kubeconfig, "/etc/k.conf");
	ASSERT_STREQ(c.node_name, "node-7");
	ASSERT_STREQ(c.cgroup_path, "/sys/fs/cgroup/unified/x");
	ASSERT_STREQ(c.bpffs_dir, "/sys/fs/bpf/t");
	ASSERT_STREQ(c.service_cidr, "10.100.0.0/16");
	ASSERT_STREQ(c.metrics_listen, "[::1]:9000");
	ASSERT_EQ(c.sync_min_ns, 250000000ull);
	ASSERT_EQ(c.sync_max_ns, 90000000000ull);
	ASSERT(log_enabled(LOG_LVL_DEBUG));
	log_set_level("info");
	/* Parsing twice works (getopt state reset). */
	ASSERT_OK(PARSE(&c, "--static", "f"));
	ASSERT_STREQ(c.static_file, "f");
}

TEST(agent_config_cleanup_and_help)
{
	struct lb_config c;
	char err[256];

	ASSERT_OK(PARSE(&c, "--cleanup", "--bpffs-dir", "/x/y"));
	ASSERT(c.cleanup);
	ASSERT_STREQ(c.bpffs_dir, "/x/y");
	ASSERT_OK(PARSE(&c, "--help"));
	ASSERT(c.help);
	ASSERT_OK(PARSE(&c, "-h"));
	ASSERT(c.help);
}

static void expect_bad(const char **flags, const char *part)
{
	struct lb_config c;
	char err[256] = "";

	ASSERT_EQ(parse(&c, err, sizeof(err), flags), -EINVAL);
	ASSERT_MSG(strstr(err, part) != NULL, "error \"%s\" lacks \"%s\"", err, part);
}

#define BAD(part, ...) expect_bad((const char *[]){ __VA_ARGS__, NULL }, part)

TEST(agent_config_rejects_bad_flags)
{
	BAD("unknown option --frobnicate", "--static", "f", "--frobnicate");
	BAD("--kubeconfig needs a value", "--kubeconfig");
	BAD("required", "--node-name", "n");
	BAD("exclude each other", "--static", "f", "--kubeconfig", "k");
	BAD("--service-cidr", "--static", "f", "--service-cidr", "10.96.0.1/12");
	BAD("--service-cidr", "--static", "f", "--service-cidr", "10.96.0.0/33");
	BAD("--service-cidr", "--static", "f", "--service-cidr", "fd00::/108");
	BAD("--service-cidr", "--static", "f", "--service-cidr", "10.96.0.0");
	BAD("--metrics-listen", "--static", "f", "--metrics-listen", "127.0.0.1");
	BAD("--metrics-listen", "--static", "f", "--metrics-listen", "localhost:99");
	BAD("--metrics-listen", "--static", "f", "--metrics-listen", "127.0.0.1:70000");
	BAD("--sync-min-interval", "--static", "f", "--sync-min-interval", "1");
	BAD("--sync-max-interval", "--static", "f", "--sync-max-interval", "-5s");
	BAD("not below", "--static", "f", "--sync-min-interval", "10s", "--sync-max-interval",
	    "5s");
	BAD("above 0", "--static", "f", "--sync-min-interval", "0", "--sync-max-interval", "0");
	BAD("absolute", "--static", "f", "--bpffs-dir", "relative/dir");
	BAD("not a node name", "--static", "f", "--node-name", "");
	BAD("unexpected argument", "--static", "f", "extra");
	BAD("--log-level", "--static", "f", "--log-level", "loud");
}

TEST(agent_config_durations)
{
	uint64_t ns;

	ASSERT_OK(lb_parse_duration("1s", &ns));
	ASSERT_EQ(ns, 1000000000ull);
	ASSERT_OK(lb_parse_duration("500ms", &ns));
	ASSERT_EQ(ns, 500000000ull);
	ASSERT_OK(lb_parse_duration("1m30s", &ns));
	ASSERT_EQ(ns, 90000000000ull);
	ASSERT_OK(lb_parse_duration("2h", &ns));
	ASSERT_EQ(ns, 7200000000000ull);
	ASSERT_OK(lb_parse_duration("10us5ns", &ns));
	ASSERT_EQ(ns, 10005);
	ASSERT_OK(lb_parse_duration("0", &ns));
	ASSERT_EQ(ns, 0);
	ASSERT_OK(lb_parse_duration("0s", &ns));
	ASSERT_EQ(ns, 0);
	ASSERT_EQ(lb_parse_duration("", &ns), -EINVAL);
	ASSERT_EQ(lb_parse_duration(NULL, &ns), -EINVAL);
	ASSERT_EQ(lb_parse_duration("5", &ns), -EINVAL);
	ASSERT_EQ(lb_parse_duration("s", &ns), -EINVAL);
	ASSERT_EQ(lb_parse_duration("1.5s", &ns), -EINVAL);
	ASSERT_EQ(lb_parse_duration("1x", &ns), -EINVAL);
	ASSERT_EQ(lb_parse_duration("-1s", &ns), -EINVAL);
	ASSERT_EQ(lb_parse_duration("99999999999999999999h", &ns), -EINVAL);
	ASSERT_EQ(lb_parse_duration("9999999999h", &ns), -EINVAL);
}

TEST(agent_config_cidrs)
{
	__be32 a;
	unsigned p;
	char err[128];

	ASSERT_OK(lb_parse_cidr("10.96.0.0/12", &a, &p, err, sizeof(err)));
	ASSERT_EQ(a, inet_addr("10.96.0.0"));
	ASSERT_EQ(p, 12);
	ASSERT_OK(lb_parse_cidr("0.0.0.0/0", &a, &p, err, sizeof(err)));
	ASSERT_OK(lb_parse_cidr("10.1.2.3/32", &a, &p, err, sizeof(err)));
	ASSERT_EQ(lb_parse_cidr("10.96.0.0/+12", &a, &p, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(lb_parse_cidr("10.96.0.0/", &a, &p, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(lb_parse_cidr("10.96.0.0/12x", &a, &p, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(lb_parse_cidr("10.97.0.0/12", &a, &p, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "host bits") != NULL);
	ASSERT_EQ(lb_parse_cidr(NULL, &a, &p, err, sizeof(err)), -EINVAL);
}

TEST(agent_config_listen_addresses)
{
	struct sockaddr_storage ss;

	ASSERT_OK(lb_parse_listen("127.0.0.1:9963", &ss));
	ASSERT_EQ(ss.ss_family, AF_INET);
	ASSERT_EQ(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9963);
	ASSERT_OK(lb_parse_listen("0.0.0.0:0", &ss));
	ASSERT_OK(lb_parse_listen("[::1]:80", &ss));
	ASSERT_EQ(ss.ss_family, AF_INET6);
	ASSERT_EQ(lb_parse_listen("[::1]80", &ss), -EINVAL);
	ASSERT_EQ(lb_parse_listen("::1:80", &ss), -EINVAL);
	ASSERT_EQ(lb_parse_listen(":80", &ss), -EINVAL);
	ASSERT_EQ(lb_parse_listen("1.2.3.4:", &ss), -EINVAL);
	ASSERT_EQ(lb_parse_listen("1.2.3.4:-1", &ss), -EINVAL);
	ASSERT_EQ(lb_parse_listen("1.2.3.4:65536", &ss), -EINVAL);
	ASSERT_EQ(lb_parse_listen(NULL, &ss), -EINVAL);
}

TEST(agent_config_finds_the_cgroup2_mount)
{
	char path[256];
	int rc = lb_loader_find_cgroup2(path, sizeof(path));

	if (rc == -ENOENT)
		SKIP("no cgroup2 mount on this machine");
	ASSERT_OK(rc);
	ASSERT(path[0] == '/');
	ASSERT_EQ(lb_loader_find_cgroup2(path, 2), -ENOENT); /* does not fit */
}

TEST(agent_config_north_south_flags)
{
	struct lb_config c;
	char err[256];
	__be32 want;

	ASSERT_OK(PARSE(&c, "--static", "/tmp/x.json"));
	ASSERT_EQ(c.ndevices, 0);
	ASSERT_EQ(c.node_ip, 0);
	ASSERT_EQ(c.xdp, LB_XDP_OFF);
	ASSERT(c.nodeport);
	ASSERT(c.nodeport_reset);
	ASSERT_EQ(c.maglev_m, 16381);
	ASSERT_STREQ(c.maglev_seed, "capstan");

	ASSERT_OK(PARSE(&c, "--static", "/tmp/x.json", "--devices=eth0,bond1", "--node-ip",
			"172.31.0.11", "--xdp=generic", "--maglev-table-size", "65537",
			"--maglev-seed=prod-east", "--nodeport=false", "--nodeport-reset=false"));
	ASSERT_EQ(c.ndevices, 2);
	ASSERT_STREQ(c.devices[0], "eth0");
	ASSERT_STREQ(c.devices[1], "bond1");
	inet_pton(AF_INET, "172.31.0.11", &want);
	ASSERT_EQ(c.node_ip, want);
	ASSERT_EQ(c.xdp, LB_XDP_GENERIC);
	ASSERT_EQ(c.maglev_m, 65537);
	ASSERT_STREQ(c.maglev_seed, "prod-east");
	ASSERT(!c.nodeport);
	ASSERT(!c.nodeport_reset);
	ASSERT_OK(PARSE(&c, "--static", "/tmp/x.json", "--xdp", "native"));
	ASSERT_EQ(c.xdp, LB_XDP_NATIVE);
}

TEST(agent_config_north_south_bad_values_name_the_flag)
{
	static const struct {
		const char *flag, *value, *msg;
	} cases[] = {
		{ "--devices", "", "--devices" },
		{ "--devices", "eth0,", "ends with a comma" },
		{ "--devices", "eth0,,eth1", "--devices" },
		{ "--devices", "eth0,eth0", "listed twice" },
		{ "--devices", "a-name-longer-than-ifnamsiz", "--devices" },
		{ "--devices", "a,b,c,d,e,f,g,h,i", "at most 8" },
		{ "--node-ip", "10.0.0", "--node-ip" },
		{ "--node-ip", "fd00::1", "not an IPv4 address" },
		{ "--node-ip", "0.0.0.0", "--node-ip" },
		{ "--xdp", "fast", "native, generic or off" },
		{ "--maglev-table-size", "16380", "not a prime" },
		{ "--maglev-table-size", "131", "not a prime in 251..131071" },
		{ "--maglev-table-size", "262147", "--maglev-table-size" },
		{ "--maglev-table-size", "16381x", "--maglev-table-size" },
		{ "--nodeport", "yes", "true or false" },
		{ "--nodeport-reset", "1", "--nodeport-reset \"1\": true or false" },
	};
	struct lb_config c;
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASSERT_EQ(PARSE(&c, "--static", "/tmp/x.json", cases[i].flag, cases[i].value),
			  -EINVAL);
		ASSERT_MSG(strstr(err, cases[i].msg) != NULL, "%s %s: %s", cases[i].flag,
			   cases[i].value, err);
	}
}
