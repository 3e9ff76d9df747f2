/* config.c - see config.h. */
#include "agent/kubelet/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/lb/config.h"
#include "agent/lb/route.h"
#include "log.h"

enum {
	OPT_KUBECONFIG = 0x100,
	OPT_NODE_NAME,
	OPT_RUNTIME_ENDPOINT,
	OPT_ROOT_DIR,
	OPT_PORT,
	OPT_NODE_IP,
	OPT_POD_CIDR,
	OPT_CNI_BIN_DIR,
	OPT_CNI_CONF_DIR,
	OPT_CGROUP_ROOT,
	OPT_NODE_STATUS_INTERVAL,
	OPT_LEASE_INTERVAL,
};

void kl_config_usage(FILE *out)
{
	fprintf(out,
		"usage: capstan-kubelet --kubeconfig FILE --node-name NAME [options]\n"
		"\n"
		"Registers this machine as a Node and runs the pods bound to it through a CRI\n"
		"runtime (containerd).\n"
		"\n"
		"Options:\n"
		"  --kubeconfig=FILE                   API server access (required)\n"
		"  --node-name=NAME                    name of the Node object (required)\n"
		"  --container-runtime-endpoint=URL    CRI socket, unix:///PATH\n"
		"                                      (default " KL_DEFAULT_RUNTIME_ENDPOINT ")\n"
		"  --root-dir=DIR                      pod directories, logs and state\n"
		"                                      (default " KL_DEFAULT_ROOT_DIR ")\n"
		"  --port=N                            /healthz, /metrics, /containerLogs\n"
		"                                      (default %d)\n"
		"  --node-ip=ADDR                      the Node's InternalIP (default: the IPv4\n"
		"                                      address of the default-route interface)\n"
		"  --pod-cidr=CIDR                     pod range of this node (default: the\n"
		"                                      Node's spec.podCIDR)\n"
		"  --cni-bin-dir=DIR                   CNI plugins (default " KL_DEFAULT_CNI_BIN_DIR
		")\n"
		"  --cni-conf-dir=DIR                  where the CNI configuration is written\n"
		"                                      (default " KL_DEFAULT_CNI_CONF_DIR ")\n"
		"  --cgroup-root=PATH                  pod cgroups under this cgroup\n"
		"                                      (default " KL_DEFAULT_CGROUP_ROOT ")\n"
		"  --node-status-interval=DURATION     Node status report period (default %ds)\n"
		"  --lease-interval=DURATION           node Lease renewal period (default %ds,\n"
		"                                      below the lease duration of %ds)\n"
		"  -h, --help                          this text\n" LOG_OPTIONS_HELP,
		KL_DEFAULT_PORT, KL_DEFAULT_NODE_STATUS_INTERVAL_S, KL_DEFAULT_LEASE_INTERVAL_S,
		KL_LEASE_DURATION_S);
}

static const char *opt_name(const struct option *opts, int val)
{
	for (; opts->name; opts++)
		if (opts->val == val)
			return opts->name;
	return "?";
}

/* Whole seconds from a Go duration or a bare number of seconds; 0 or -EINVAL. */
static int parse_seconds(const char *s, unsigned *out)
{
	uint64_t ns;
	char *end;
	unsigned long v;

	if (*s >= '0' && *s <= '9') {
		errno = 0;
		v = strtoul(s, &end, 10);
		if (!*end) {
			if (errno || v > UINT32_MAX)
				return -EINVAL;
			*out = (unsigned)v;
			return 0;
		}
	}
	if (lb_parse_duration(s, &ns) < 0 || ns % 1000000000ull || ns / 1000000000ull > UINT32_MAX)
		return -EINVAL;
	*out = (unsigned)(ns / 1000000000ull);
	return 0;
}

static bool is_abs_path(const char *s)
{
	return s[0] == '/';
}

/* unix:///abs/path or /abs/path. */
static bool is_runtime_endpoint(const char *s)
{
	if (strncmp(s, "unix://", 7) == 0)
		s += 7;
	return is_abs_path(s) && s[1];
}

static int check(const struct kubelet_config *cfg, char *err, size_t errlen)
{
	if (!cfg->kubeconfig) {
		snprintf(err, errlen, "--kubeconfig FILE is required");
		return -EINVAL;
	}
	if (!cfg->node_name) {
		snprintf(err, errlen, "--node-name NAME is required");
		return -EINVAL;
	}
	if (cfg->lease_interval_s >= KL_LEASE_DURATION_S) {
		snprintf(err, errlen,
			 "--lease-interval (%us) must be below the lease duration (%ds), or the "
			 "lease expires between renewals",
			 cfg->lease_interval_s, KL_LEASE_DURATION_S);
		return -EINVAL;
	}
	return 0;
}

/* Check and store one flag's value; 0 or -EINVAL with the message in err. */
static int apply(struct kubelet_config *cfg, int opt, const char *name, const char *v, char *err,
		 size_t errlen)
{
	unsigned char addr[16];
	const char *why = NULL;
	unsigned secs;
	char *end;

	switch (opt) {
	case OPT_KUBECONFIG:
		if (!*v)
			why = "is empty";
		cfg->kubeconfig = v;
		break;
	case OPT_NODE_NAME:
		/* The API server checks the DNS-1123 syntax when the Node is created. */
		if (!*v || strlen(v) > 253 || strchr(v, '/'))
			why = "is not a node name";
		cfg->node_name = v;
		break;
	case OPT_RUNTIME_ENDPOINT:
		if (!is_runtime_endpoint(v))
			why = "is not unix:///PATH (only unix sockets are supported)";
		cfg->runtime_endpoint = v;
		break;
	case OPT_ROOT_DIR:
	case OPT_CNI_BIN_DIR:
	case OPT_CNI_CONF_DIR:
	case OPT_CGROUP_ROOT:
		if (!is_abs_path(v))
			why = "must be an absolute path";
		*(opt == OPT_ROOT_DIR	    ? &cfg->root_dir
		  : opt == OPT_CNI_BIN_DIR  ? &cfg->cni_bin_dir
		  : opt == OPT_CNI_CONF_DIR ? &cfg->cni_conf_dir
					    : &cfg->cgroup_root) = v;
		break;
	case OPT_PORT: {
		long port;

		errno = 0;
		port = strtol(v, &end, 10);
		if (!*v || *end || errno || port < 1 || port > 65535)
			why = "is not a port (1-65535)";
		cfg->port = (int)port;
		break;
	}
	case OPT_NODE_IP:
		if (inet_pton(AF_INET, v, addr) != 1 && inet_pton(AF_INET6, v, addr) != 1)
			why = "is not an IP address";
		cfg->node_ip = v;
		break;
	case OPT_POD_CIDR: {
		char cidr_err[160];
		__be32 net;
		unsigned prefix;

		if (lb_parse_cidr(v, &net, &prefix, cidr_err, sizeof(cidr_err)) < 0) {
			snprintf(err, errlen, "--%s: %s", name, cidr_err);
			return -EINVAL;
		}
		cfg->pod_cidr = v;
		break;
	}
	case OPT_NODE_STATUS_INTERVAL:
	case OPT_LEASE_INTERVAL:
		if (parse_seconds(v, &secs) < 0 || secs == 0)
			why = "is not a duration of whole seconds, at least 1s (e.g. 10s, 1m)";
		*(opt == OPT_LEASE_INTERVAL ? &cfg->lease_interval_s
					    : &cfg->node_status_interval_s) = secs;
		break;
	}
	if (why) {
		snprintf(err, errlen, "--%s \"%s\" %s", name, v, why);
		return -EINVAL;
	}
	return 0;
}

int kl_config_parse(struct kubelet_config *cfg, bool *help, int argc, char **argv, char *err,
		    size_t errlen)
{
	static const struct option opts[] = {
		{ "kubeconfig", required_argument, NULL, OPT_KUBECONFIG },
		{ "node-name", required_argument, NULL, OPT_NODE_NAME },
		{ "container-runtime-endpoint", required_argument, NULL, OPT_RUNTIME_ENDPOINT },
		{ "root-dir", required_argument, NULL, OPT_ROOT_DIR },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "node-ip", required_argument, NULL, OPT_NODE_IP },
		{ "pod-cidr", required_argument, NULL, OPT_POD_CIDR },
		{ "cni-bin-dir", required_argument, NULL, OPT_CNI_BIN_DIR },
		{ "cni-conf-dir", required_argument, NULL, OPT_CNI_CONF_DIR },
		{ "cgroup-root", required_argument, NULL, OPT_CGROUP_ROOT },
		{ "node-status-interval", required_argument, NULL, OPT_NODE_STATUS_INTERVAL },
		{ "lease-interval", required_argument, NULL, OPT_LEASE_INTERVAL },
		{ "help", no_argument, NULL, 'h' },
		LOG_LONG_OPTIONS,
		{ 0 },
	};
	int opt;

	*cfg = (struct kubelet_config){
		.runtime_endpoint = KL_DEFAULT_RUNTIME_ENDPOINT,
		.root_dir = KL_DEFAULT_ROOT_DIR,
		.port = KL_DEFAULT_PORT,
		.cni_bin_dir = KL_DEFAULT_CNI_BIN_DIR,
		.cni_conf_dir = KL_DEFAULT_CNI_CONF_DIR,
		.cgroup_root = KL_DEFAULT_CGROUP_ROOT,
		.node_status_interval_s = KL_DEFAULT_NODE_STATUS_INTERVAL_S,
		.lease_interval_s = KL_DEFAULT_LEASE_INTERVAL_S,
	};
	*help = false;
	optind = 0; /* GNU: reinitialise, so parsing twice works */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		int r = log_handle_option(opt, optarg);

		if (r < 0) {
			snprintf(err, errlen, "bad value \"%s\" for %s", optarg,
				 opt == LOG_OPT_LEVEL ? "--log-level" : "--v");
			return -EINVAL;
		}
		if (r > 0)
			continue;
		switch (opt) {
		case 'h':
			*help = true;
			return 0;
		case ':':
			snprintf(err, errlen, "%s needs a value", argv[optind - 1]);
			return -EINVAL;
		case '?':
			snprintf(err, errlen, "unknown option %s", argv[optind - 1]);
			return -EINVAL;
		default:
			if (apply(cfg, opt, opt_name(opts, opt), optarg, err, errlen) < 0)
				return -EINVAL;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument \"%s\"", argv[optind]);
		return -EINVAL;
	}
	return check(cfg, err, errlen);
}
