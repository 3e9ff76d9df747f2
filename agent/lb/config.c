/* config.c - see config.h. */
#include "agent/lb/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/lb/loader.h"
#include "agent/lb/maglev.h"
#include "agent/lb/metrics.h"
#include "agent/lb/nodeport.h"
#include "agent/lb/route.h"
#include "log.h"
#include "util.h"

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
	OPT_DEVICES,
	OPT_NODE_IP,
	OPT_XDP,
	OPT_MAGLEV_SIZE,
	OPT_MAGLEV_SEED,
	OPT_NODEPORT,
	OPT_RESET,
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
		"\n"
		"North-south (NodePort, externalIPs, LoadBalancer IPs at tc and XDP):\n"
		"  --node-ip=ADDR            this node's address: NodePorts listen on it, remote\n"
		"                            backends see it as the source (default: the address\n"
		"                            of the default route's interface)\n"
		"  --devices=IF[,IF...]      external interfaces (default: the one holding the\n"
		"                            node address)\n"
		"  --xdp=native|generic|off  also run the forward path at XDP (default off)\n"
		"  --maglev-table-size=N     entries per Maglev table, a prime "
		"(default 16381)\n"
		"  --maglev-seed=STRING      flow hash seed; the same on every node "
		"(default capstan)\n"
		"  --nodeport=false          no tc/XDP programs (socket load balancing only)\n"
		"  --nodeport-reset=false    drop (and count) a SYN to a frontend without a ready\n"
		"                            backend instead of answering it with a TCP reset\n"
		"\n"
		"  --cleanup                 detach the programs and remove every pin, then exit\n"
		"                            (with --devices: detach from those interfaces)\n"
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

/* "eth0,eth1": each a distinct interface name. */
static int parse_devices(struct lb_config *cfg, const char *arg, char *err, size_t errlen)
{
	const char *p = arg;

	cfg->ndevices = 0;
	while (*p) {
		size_t len = strcspn(p, ",");

		if (len == 0 || len >= IF_NAMESIZE || cfg->ndevices == ARRAY_SIZE(cfg->devices)) {
			snprintf(err, errlen,
				 "--devices \"%s\": a list of at most %zu interface names", arg,
				 ARRAY_SIZE(cfg->devices));
			return -EINVAL;
		}
		snprintf(cfg->devices[cfg->ndevices], IF_NAMESIZE, "%.*s", (int)len, p);
		for (size_t i = 0; i < cfg->ndevices; i++)
			if (strcmp(cfg->devices[i], cfg->devices[cfg->ndevices]) == 0) {
				snprintf(err, errlen, "--devices: %s is listed twice",
					 cfg->devices[i]);
				return -EINVAL;
			}
		cfg->ndevices++;
		p += len;
		if (*p == ',' && *++p == '\0') {
			snprintf(err, errlen, "--devices \"%s\" ends with a comma", arg);
			return -EINVAL;
		}
	}
	if (cfg->ndevices == 0) {
		snprintf(err, errlen, "--devices is empty");
		return -EINVAL;
	}
	return 0;
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
		{ "devices", required_argument, NULL, OPT_DEVICES },
		{ "node-ip", required_argument, NULL, OPT_NODE_IP },
		{ "xdp", required_argument, NULL, OPT_XDP },
		{ "maglev-table-size", required_argument, NULL, OPT_MAGLEV_SIZE },
		{ "maglev-seed", required_argument, NULL, OPT_MAGLEV_SEED },
		{ "nodeport", required_argument, NULL, OPT_NODEPORT },
		{ "nodeport-reset", required_argument, NULL, OPT_RESET },
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
		.xdp = LB_XDP_OFF,
		.nodeport = true,
		.nodeport_reset = true,
		.maglev_m = LB_MAGLEV_DEFAULT_M,
		.maglev_seed = "capstan",
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
		case OPT_DEVICES:
			if (parse_devices(cfg, optarg, err, errlen) < 0)
				return -EINVAL;
			break;
		case OPT_NODE_IP:
			if (inet_pton(AF_INET, optarg, &cfg->node_ip) != 1 || cfg->node_ip == 0) {
				snprintf(err, errlen, "--node-ip \"%s\" is not an IPv4 address",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_XDP:
			if (strcmp(optarg, "native") == 0)
				cfg->xdp = LB_XDP_NATIVE;
			else if (strcmp(optarg, "generic") == 0)
				cfg->xdp = LB_XDP_GENERIC;
			else if (strcmp(optarg, "off") == 0)
				cfg->xdp = LB_XDP_OFF;
			else {
				snprintf(err, errlen, "--xdp \"%s\": native, generic or off",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_MAGLEV_SIZE: {
			char *end;
			unsigned long m = strtoul(optarg, &end, 10);

			if (*end || end == optarg || m > UINT32_MAX ||
			    !lb_maglev_size_ok((uint32_t)m)) {
				snprintf(err, errlen,
					 "--maglev-table-size \"%s\" is not a prime in %u..%u",
					 optarg, LB_MAGLEV_MIN_M, LB_MAGLEV_MAX_M);
				return -EINVAL;
			}
			cfg->maglev_m = (uint32_t)m;
			break;
		}
		case OPT_MAGLEV_SEED:
			cfg->maglev_seed = optarg;
			break;
		case OPT_NODEPORT:
		case OPT_RESET:
			if (strcmp(optarg, "true") != 0 && strcmp(optarg, "false") != 0) {
				snprintf(err, errlen, "%s \"%s\": true or false",
					 opt == OPT_NODEPORT ? "--nodeport" : "--nodeport-reset",
					 optarg);
				return -EINVAL;
			}
			*(opt == OPT_NODEPORT ? &cfg->nodeport : &cfg->nodeport_reset) =
				strcmp(optarg, "true") == 0;
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
