/* Unit tests for agent/kubelet/config: every flag, defaults, and bad values. */
#include "test.h"

#include "agent/kubelet/config.h"
#include "log.h"

static int parse(struct kubelet_config *cfg, bool *help, char *err, const char *const *args)
{
	char *argv[64];
	int argc = 0;

	argv[argc++] = "capstan-kubelet";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	err[0] = '\0';
	return kl_config_parse(cfg, help, argc, argv, err, 512);
}

#define PARSE(cfg, help, err, ...) parse(cfg, help, err, (const char *const[]){ __VA_ARGS__, NULL })

TEST(kubelet_config_defaults)
{
	struct kubelet_config cfg;
	bool help = true;
	char err[512];

	ASSERT_OK(PARSE(&cfg, &help, err, "--kubeconfig", "/etc/k.conf", "--node-name", "n1"));
	ASSERT(!help);
	ASSERT_STREQ(cfg.kubeconfig, "/etc/k.conf");
	ASSERT_STREQ(cfg.node_name, "n1");
	ASSERT_STREQ(cfg.runtime_endpoint, "unix:///run/containerd/containerd.sock");
	ASSERT_STREQ(cfg.root_dir, "/var/lib/capstan/kubelet");
	ASSERT_EQ(cfg.port, 10250);
	ASSERT_NULL(cfg.node_ip);
	ASSERT_NULL(cfg.pod_cidr);
	ASSERT_STREQ(cfg.cni_bin_dir, "/opt/cni/bin");
	ASSERT_STREQ(cfg.cni_conf_dir, "/etc/cni/net.d");
	ASSERT_STREQ(cfg.cgroup_root, "/kubepods");
	ASSERT_EQ(cfg.node_status_interval_s, 60);
	ASSERT_EQ(cfg.lease_interval_s, 10);
}

TEST(kubelet_config_every_flag)
{
	struct kubelet_config cfg;
	bool help;
	char err[512];

	ASSERT_OK(PARSE(&cfg, &help, err, "--kubeconfig=/k", "--node-name=worker-1.example",
			"--container-runtime-endpoint", "unix:///tmp/x/containerd.sock",
			"--root-dir", "/tmp/kl", "--port", "10255", "--node-ip", "10.0.0.7",
			"--pod-cidr", "10.244.3.0/24", "--cni-bin-dir", "/tmp/bin",
			"--cni-conf-dir", "/tmp/conf", "--cgroup-root", "/capstan/pods",
			"--node-status-interval", "1m30s", "--lease-interval", "5", "--log-level",
			"debug"));
	ASSERT_STREQ(cfg.kubeconfig, "/k");
	ASSERT_STREQ(cfg.node_name, "worker-1.example");
	ASSERT_STREQ(cfg.runtime_endpoint, "unix:///tmp/x/containerd.sock");
	ASSERT_STREQ(cfg.root_dir, "/tmp/kl");
	ASSERT_EQ(cfg.port, 10255);
	ASSERT_STREQ(cfg.node_ip, "10.0.0.7");
	ASSERT_STREQ(cfg.pod_cidr, "10.244.3.0/24");
	ASSERT_STREQ(cfg.cni_bin_dir, "/tmp/bin");
	ASSERT_STREQ(cfg.cni_conf_dir, "/tmp/conf");
	ASSERT_STREQ(cfg.cgroup_root, "/capstan/pods");
	ASSERT_EQ(cfg.node_status_interval_s, 90);
	ASSERT_EQ(cfg.lease_interval_s, 5);
	ASSERT(log_enabled(LOG_LVL_DEBUG));

	/* A plain socket path and an IPv6 node address are fine too. */
	ASSERT_OK(PARSE(&cfg, &help, err, "--kubeconfig=/k", "--node-name=n",
			"--container-runtime-endpoint=/run/c.sock", "--node-ip=fd00::7",
			"--lease-interval=39s", "--node-status-interval=1h"));
	ASSERT_STREQ(cfg.runtime_endpoint, "/run/c.sock");
	ASSERT_STREQ(cfg.node_ip, "fd00::7");
	ASSERT_EQ(cfg.lease_interval_s, 39);
	ASSERT_EQ(cfg.node_status_interval_s, 3600);
}

TEST(kubelet_config_help)
{
	struct kubelet_config cfg;
	bool help = false;
	char err[512];

	/* --help wins even without the required flags. */
	ASSERT_OK(PARSE(&cfg, &help, err, "--help"));
	ASSERT(help);
	ASSERT_OK(PARSE(&cfg, &help, err, "--node-name", "x", "-h"));
	ASSERT(help);
}

TEST(kubelet_config_bad_values)
{
	static const struct {
		const char *args[4];
		const char *needle; /* part of the message */
	} cases[] = {
		{ { "--node-name", "n" }, "--kubeconfig" },
		{ { "--kubeconfig", "/k" }, "--node-name" },
		{ { "--port", "0" }, "--port \"0\"" },
		{ { "--port", "65536" }, "--port" },
		{ { "--port", "80x" }, "--port" },
		{ { "--port", "" }, "--port" },
		{ { "--node-ip", "10.0.0.256" }, "--node-ip" },
		{ { "--node-ip", "eth0" }, "not an IP" },
		{ { "--pod-cidr", "10.244.1.1/24" }, "host bits" },
		{ { "--pod-cidr", "10.244.1.0" }, "--pod-cidr" },
		{ { "--pod-cidr", "10.244.1.0/33" }, "--pod-cidr" },
		{ { "--root-dir", "relative/dir" }, "absolute" },
		{ { "--cni-bin-dir", "bin" }, "--cni-bin-dir" },
		{ { "--cni-conf-dir", "" }, "--cni-conf-dir" },
		{ { "--cgroup-root", "kubepods" }, "--cgroup-root" },
		{ { "--container-runtime-endpoint", "tcp://1.2.3.4:1" }, "unix" },
		{ { "--container-runtime-endpoint", "unix://relative.sock" }, "unix" },
		{ { "--container-runtime-endpoint", "unix://" }, "unix" },
		{ { "--node-status-interval", "0s" }, "at least 1s" },
		{ { "--node-status-interval", "1500ms" }, "whole seconds" },
		{ { "--node-status-interval", "soon" }, "--node-status-interval" },
		{ { "--lease-interval", "40s" }, "lease duration" },
		{ { "--lease-interval", "-5" }, "--lease-interval" },
		{ { "--log-level", "loud" }, "--log-level" },
		{ { "--no-such-flag" }, "unknown option --no-such-flag" },
		{ { "--port" }, "needs a value" },
		{ { "extra" }, "unexpected argument \"extra\"" },
	};
	struct kubelet_config cfg;
	bool help;
	char err[512];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *args[12];
		size_t n = 0;

		/* The required flags first, so only the case's own flag can be wrong. */
		if (strcmp(cases[i].needle, "--kubeconfig") != 0) {
			args[n++] = "--kubeconfig";
			args[n++] = "/k";
		}
		if (strcmp(cases[i].needle, "--node-name") != 0) {
			args[n++] = "--node-name";
			args[n++] = "n";
		}
		for (size_t j = 0; j < 4 && cases[i].args[j]; j++)
			args[n++] = cases[i].args[j];
		args[n] = NULL;
		ASSERT_MSG(parse(&cfg, &help, err, args) == -EINVAL, "case %zu (%s) accepted", i,
			   cases[i].args[0]);
		ASSERT_MSG(strstr(err, cases[i].needle) != NULL, "case %zu: \"%s\" lacks \"%s\"", i,
			   err, cases[i].needle);
	}
}

TEST(kubelet_config_parses_twice)
{
	struct kubelet_config cfg;
	bool help;
	char err[512];

	ASSERT_OK(PARSE(&cfg, &help, err, "--kubeconfig", "/a", "--node-name", "a", "--port=1"));
	ASSERT_OK(PARSE(&cfg, &help, err, "--kubeconfig", "/b", "--node-name", "b"));
	ASSERT_STREQ(cfg.kubeconfig, "/b");
	ASSERT_EQ(cfg.port, 10250); /* defaults again, nothing left from the first parse */
}
