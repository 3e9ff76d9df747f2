/* config.c - see config.h. */
#include "agent/lb/config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/lb/loader.h"
#include "agent/lb/metrics.h"
#include "agent/lb/route.h"
#include "log.h"

enum {
	OPT_KUBECONFIG = 0x100,
	OPT_NODE_NAME,
	OPT_CGROUP_PATH,
	OPT_BPFFS_DIR,
	OPT_SERVICE_CIDR,
	OPT_METRICS_LISTEN,
	OPT_STATIC,
	OPT_SYNC_MIN,
	OPT_SYNC_MAX,
	OPT_CLEANUP,
};

void lb_config_usage(FILE *out)
{
	fprintf(out,
		"usage: capstan-agent (--kubeconfig FILE | --static FILE) [options]\n"
		"       capstan-agent --cleanup [--bpffs-dir DIR]\n"
		"\n"
		"Programs the eBPF socket load balancer from Services and EndpointSlices\n"
		"(the kube-proxy replacement for ClusterIP traffic).\n"
		"\n"
		"Options:\n"
		"  --kubeconfig=FILE         watch the API server this kubeconfig names\n"
		"  --static=FILE             read Services and EndpointSlices from a JSON List\n"
		"                            (kubectl get svc,endpointslices -A -o json);\n"
		"                            SIGHUP re-reads it\n"
		"  --node-name=NAME          this node (default: the host name)\n"
		"  --cgroup-path=DIR         cgroup v2 directory to attach to (default: the\n"
		"                            cgroup2 mount)\n"
		"  --bpffs-dir=DIR           pins of maps and links (default " LB_BPFFS_DEFAULT_DIR
		")\n"
		"  --service-cidr=CIDR       service range, made unreachable "
		"(default " LB_DEFAULT_SERVICE_CIDR ")\n"
		"  --metrics-listen=ADDR:PORT  /metrics and /healthz "
		"(default " LB_DEFAULT_METRICS_LISTEN ")\n"
		"  --sync-min-interval=DUR   at most one sync per DUR (default 100ms)\n"
		"  --sync-max-interval=DUR   full reconcile at least every DUR (default 30s)\n"
		"  --cleanup                 detach the programs and remove every pin, then exit\n"
		"  -h, --help                this text\n" LOG_OPTIONS_HELP);
}

int lb_parse_duration(const char *s, uint64_t *ns)
{
	static const struct {
		const char *unit;
		uint64_t ns;
	} units[] = {
		/* Longest first, so "ms" is not read as "m" followed by junk. */
		{ "ns", 1 },
		{ "us", 1000 },
		{ "ms", 1000000 },
		{ "s", 1000000000ull },
		{ "m", 60000000000ull },
		{ "h", 3600000000000ull },
	};
	uint64_t total = 0;

	if (!s || !*s)
		return -EINVAL;
	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return 0;
	}
	while (*s) {
		uint64_t n = 0, mult = 0;
		size_t i;

		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		for (; isdigit((unsigned char)*s); s++) {
			if (n > (UINT64_MAX - 9) / 10)
				return -EINVAL;
			n = n * 10 + (uint64_t)(*s - '0');
		}
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t len = strlen(units[i].unit);

			if (strncmp(s, units[i].unit, len) == 0) {
				mult = units[i].ns;
				s += len;
				break;
			}
		}
		if (!mult || (n && mult > UINT64_MAX / n) || total > UINT64_MAX - n * mult)
			return -EINVAL;
		total += n * mult;
	}
	*ns = total;
	return 0;
}

static void default_node_name(struct lb_config *cfg)
{
	char host[256];

	if (gethostname(host, sizeof(host)) != 0)
		return;
	host[sizeof(host) - 1] = '\0';
	/* Node names are lower-case DNS names, as the kubelet registers them. */
	for (char *p = host; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	snprintf(cfg->node_name, sizeof(cfg->node_name), "%.*s", (int)sizeof(cfg->node_name) - 1,
		 host);
}

static int check(struct lb_config *cfg, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	__be32 addr;
	unsigned prefix;
	char why[256];

	if (cfg->cleanup)
		return 0;
	if (!cfg->kubeconfig == !cfg->static_file) {
		snprintf(err, errlen,
			 cfg->kubeconfig ? "--kubeconfig and --static exclude each other"
					 : "--kubeconfig FILE or --static FILE is required");
		return -EINVAL;
	}
	if (!cfg->node_name[0]) {
		snprintf(err, errlen, "--node-name is empty and the host name is unknown");
		return -EINVAL;
	}
	if (lb_parse_cidr(cfg->service_cidr, &addr, &prefix, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "--service-cidr: %s", why);
		return -EINVAL;
	}
	if (lb_parse_listen(cfg->metrics_listen, &ss) < 0) {
		snprintf(err, errlen, "--metrics-listen: \"%s\" is not ADDR:PORT",
			 cfg->metrics_listen);
		return -EINVAL;
	}
	if (cfg->sync_max_ns == 0 || cfg->sync_min_ns > cfg->sync_max_ns) {
		snprintf(err, errlen,
			 "--sync-max-interval must be above 0 and not below --sync-min-interval");
		return -EINVAL;
	}
	return 0;
}

int lb_config_parse(struct lb_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	static const struct option opts[] = {
		{ "kubeconfig", required_argument, NULL, OPT_KUBECONFIG },
		{ "node-name", required_argument, NULL, OPT_NODE_NAME },
		{ "cgroup-path", required_argument, NULL, OPT_CGROUP_PATH },
		{ "bpffs-dir", required_argument, NULL, OPT_BPFFS_DIR },
		{ "service-cidr", required_argument, NULL, OPT_SERVICE_CIDR },
		{ "metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN },
		{ "static", required_argument, NULL, OPT_STATIC },
		{ "sync-min-interval", required_argument, NULL, OPT_SYNC_MIN },
		{ "sync-max-interval", required_argument, NULL, OPT_SYNC_MAX },
		{ "cleanup", no_argument, NULL, OPT_CLEANUP },
		{ "help", no_argument, NULL, 'h' },
		LOG_LONG_OPTIONS,
		{ 0 },
	};
	int opt;

	*cfg = (struct lb_config){
		.bpffs_dir = LB_BPFFS_DEFAULT_DIR,
		.service_cidr = LB_DEFAULT_SERVICE_CIDR,
		.metrics_listen = LB_DEFAULT_METRICS_LISTEN,
		.sync_min_ns = LB_DEFAULT_SYNC_MIN_NS,
		.sync_max_ns = LB_DEFAULT_SYNC_MAX_NS,
	};
	default_node_name(cfg);
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
		case OPT_KUBECONFIG:
			cfg->kubeconfig = optarg;
			break;
		case OPT_STATIC:
			cfg->static_file = optarg;
			break;
		case OPT_NODE_NAME:
			if (!*optarg || strlen(optarg) >= sizeof(cfg->node_name)) {
				snprintf(err, errlen, "--node-name \"%s\" is not a node name",
					 optarg);
				return -EINVAL;
			}
			snprintf(cfg->node_name, sizeof(cfg->node_name), "%s", optarg);
			break;
		case OPT_CGROUP_PATH:
			cfg->cgroup_path = optarg;
			break;
		case OPT_BPFFS_DIR:
			if (optarg[0] != '/') {
				snprintf(err, errlen, "--bpffs-dir \"%s\" must be an absolute path",
					 optarg);
				return -EINVAL;
			}
			cfg->bpffs_dir = optarg;
			break;
		case OPT_SERVICE_CIDR:
			cfg->service_cidr = optarg;
			break;
		case OPT_METRICS_LISTEN:
			cfg->metrics_listen = optarg;
			break;
		case OPT_SYNC_MIN:
		case OPT_SYNC_MAX:
			if (lb_parse_duration(optarg, opt == OPT_SYNC_MIN
							      ? &cfg->sync_min_ns
							      : &cfg->sync_max_ns) < 0) {
				snprintf(err, errlen,
					 "%s: \"%s\" is not a duration (e.g. 1s, 500ms)",
					 opt == OPT_SYNC_MIN ? "--sync-min-interval"
							     : "--sync-max-interval",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_CLEANUP:
			cfg->cleanup = true;
			break;
		case 'h':
			cfg->help = true;
			return 0;
		case ':':
			snprintf(err, errlen, "%s needs a value", argv[optind - 1]);
			return -EINVAL;
		default:
			snprintf(err, errlen, "unknown option %s", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument \"%s\"", argv[optind]);
		return -EINVAL;
	}
	return check(cfg, err, errlen);
}
