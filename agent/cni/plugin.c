/*
 * plugin.c - see plugin.h for the network model.
 *
 * Each command is a straight sequence over two netlink sockets, one in the
 * caller's namespace and one in the sandbox's. ADD undoes what it made when a
 * later step fails (the host veth, which takes the pod end along, and the
 * address), because the runtime's DEL after a failed ADD is a "should", not
 * a promise. DEL treats everything already gone as done: the runtime calls it
 * twice, the second time without a netns, and after the netns was deleted
 * (which destroys both veth ends by itself).
 */
#include "agent/cni/plugin.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cni/ipam.h"
#include "agent/cni/netlink.h"
#include "util.h"

#define LOG_FILE "capstan-cni.log"
#define LOG_ROTATE_BYTES (8l << 20)

/* ---------------------------------------------------------------- logging */

static int log_file_fd = -1;

void cni_log_open(const char *data_dir)
{
	char path[PATH_MAX], old[PATH_MAX + 2];
	struct stat st;

	cni_log_close();
	if (!data_dir || stat(data_dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	if (snprintf(path, sizeof(path), "%s/%s", data_dir, LOG_FILE) >= (int)sizeof(path))
		return;
	/* Racy between parallel plugins, harmlessly: a line may land in .1. */
	if (stat(path, &st) == 0 && st.st_size > LOG_ROTATE_BYTES) {
		snprintf(old, sizeof(old), "%s.1", path);
		rename(path, old);
	}
	log_file_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

void cni_log_close(void)
{
	if (log_file_fd >= 0)
		close(log_file_fd);
	log_file_fd = -1;
}

void cni_log_emit(enum log_level lvl, const char *file, int line, const char *fmt, ...)
{
	char msg[3072];
	va_list ap;

	/* Formatted once: log_emit writes to one fd, and arguments must not be
	 * evaluated twice. */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_set_fd(2);
	log_emit(lvl, file, line, "%s", msg);
	if (log_file_fd >= 0) {
		log_set_fd(log_file_fd);
		log_emit(lvl, file, line, "%s", msg);
		log_set_fd(2);
	}
}

/* ---------------------------------------------------------------- naming */

void cni_host_ifname(const char *id, const char *ifname, char *out)
{
	uint32_t h = 2166136261u;

	/* FNV-1a over id, a NUL separator and ifname: "ab"+"c" != "a"+"bc". */
	for (const char *p = id; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h *= 16777619u;
	for (const char *p = ifname; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	snprintf(out, CNI_HOST_IFNAME_LEN + 1, "csn%08x", h);
}

void cni_host_alias(const char *id, const char *ifname, char *out, size_t len)
{
	snprintf(out, len, "capstan-cni %s %s", id, ifname);
}

/* ---------------------------------------------------------------- helpers */

/* What one command works with; released by ctx_release(). */
struct ctx {
	const struct cni_env *env;
	const struct cni_config *cfg;
	struct cni_error *err;
	struct cni_ipam_conf ipam;
	char host_if[CNI_HOST_IFNAME_LEN + 1];
	char alias[256];
	char cidr[CNI_IP4_STRLEN]; /* the pod CIDR, for messages */
	char pod[320];		   /* pod_name()'s buffer */
	int netns_fd;
	struct nl_sock *host_sk, *pod_sk;
};

static void ctx_init(struct ctx *c, const struct cni_env *env, const struct cni_config *cfg,
		     struct cni_error *err)
{
	memset(c, 0, sizeof(*c));
	c->env = env;
	c->cfg = cfg;
	c->err = err;
	c->netns_fd = -1;
	c->ipam.data_dir = cfg->data_dir;
	c->ipam.network = cfg->name;
	c->ipam.net = cfg->pod_cidr;
	c->ipam.gateway = cfg->gateway;
	cni_ip4_cidr_str(cfg->pod_cidr.addr, cfg->pod_cidr.prefix, c->cidr);
	if (env->container_id && env->ifname) {
		cni_host_ifname(env->container_id, env->ifname, c->host_if);
		cni_host_alias(env->container_id, env->ifname, c->alias, sizeof(c->alias));
	}
}

/* "namespace/name" from CNI_ARGS for log lines, "-" when the runtime gave none. */
static const char *pod_name(struct ctx *c)
{
	if (!c->env->pod_name[0])
		return "-";
	snprintf(c->pod, sizeof(c->pod), "%s/%s", c->env->pod_namespace, c->env->pod_name);
	return c->pod;
}

static void ctx_release(struct ctx *c)
{
	cni_nl_close(c->host_sk);
	cni_nl_close(c->pod_sk);
	if (c->netns_fd >= 0)
		close(c->netns_fd);
}

/* Fill err for a failed step; returns ret for `return fail(...)`. */
static int fail(struct ctx *c, int ret, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct ctx *c, int ret, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cni_error_vset(c->err, code, fmt, ap);
	va_end(ap);
	return ret < 0 ? ret : -EIO;
}

/* Open CNI_NETNS and a netlink socket inside it. */
static int open_sandbox(struct ctx *c)
{
	int ret;

	c->netns_fd = open(c->env->netns, O_RDONLY | O_CLOEXEC);
	if (c->netns_fd < 0) {
		ret = -errno;
		return fail(c, ret, CNI_ERR_INTERNAL, "cannot open netns %s: %s", c->env->netns,
			    strerror(-ret));
	}
	ret = cni_nl_open(c->netns_fd, &c->pod_sk);
	if (ret == -EINVAL)
		return fail(c, ret, CNI_ERR_INTERNAL, "%s is not a network namespace",
			    c->env->netns);
	if (ret < 0)
		return fail(c, ret, CNI_ERR_INTERNAL, "netlink in netns %s: %s", c->env->netns,
			    strerror(-ret));
	return 0;
}

static int open_host(struct ctx *c)
{
	int ret = cni_nl_open(-1, &c->host_sk);

	if (ret < 0)
		return fail(c, ret, CNI_ERR_INTERNAL, "netlink: %s", strerror(-ret));
	return 0;
}

/* Is link (a host end found under our name) this container's? */
static bool host_link_is_ours(const struct ctx *c, const struct cni_nl_link *link)
{
	/* No alias: a crash between creating the pair and naming it; only
	 * capstan-cni makes csn* links, and a collision would carry an alias. */
	return !link->alias[0] || strcmp(link->alias, c->alias) == 0;
}

/*
 * Delete this container's host end if it exists. 0 when it is gone (or was
 * never there); -EEXIST when the name is another container's; -errno when
 * the delete failed.
 */
static int host_link_remove(struct ctx *c)
{
	struct cni_nl_link link;
	int ret = cni_nl_link_get(c->host_sk, c->host_if, &link);

	if (ret == -ENODEV)
		return 0;
	if (ret < 0)
		return ret;
	if (!host_link_is_ours(c, &link))
		return -EEXIST;
	ret = cni_nl_link_del(c->host_sk, c->host_if);
	return ret == -ENODEV ? 0 : ret;
}

/* Set a sysctl to value unless it already has it. */
static int sysctl_ensure(const char *path, const char *value)
{
	char cur[16] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;
	ssize_t n;

	if (fd >= 0) {
		n = read(fd, cur, sizeof(cur) - 1);
		cur[n > 0 ? n : 0] = '\0';
		close(fd);
		if (strncmp(cur, value, strlen(value)) == 0 && cur[strlen(value)] == '\n')
			return 0;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* ---------------------------------------------------------------- results */

static json_t *result_new(const struct cni_config *cfg)
{
	json_t *res = json_object();

	json_object_set_new(res, "cniVersion", json_string(cfg->cni_version));
	json_object_set_new(res, "interfaces", json_array());
	json_object_set_new(res, "ips", json_array());
	return res;
}

static void result_add_iface(json_t *res, const char *name, const char *mac, const char *sandbox)
{
	json_t *iface = json_object();

	json_object_set_new(iface, "name", json_string(name));
	if (mac && *mac)
		json_object_set_new(iface, "mac", json_string(mac));
	if (sandbox)
		json_object_set_new(iface, "sandbox", json_string(sandbox));
	json_array_append_new(json_object_get(res, "interfaces"), iface);
}

static void result_add_ip(json_t *res, const struct cni_config *cfg, const char *address,
			  const char *gateway, int iface)
{
	json_t *ip = json_object();

	/* Before 1.0.0 every entry names its IP version. */
	if (cni_version_has_ip_version(cfg->cni_version))
		json_object_set_new(ip, "version", json_string("4"));
	json_object_set_new(ip, "address", json_string(address));
	if (gateway)
		json_object_set_new(ip, "gateway", json_string(gateway));
	json_object_set_new(ip, "interface", json_integer(iface));
	json_array_append_new(json_object_get(res, "ips"), ip);
}

static char *result_dump(json_t *res)
{
	char *s = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(res);
	if (!s)
		abort(); /* jansson only fails here when out of memory */
	return s;
}

/* ---------------------------------------------------------------- ADD */

/* The node side: alias, gateway address, up, forwarding, the pod's /32 route. */
static int setup_host_end(struct ctx *c, uint32_t addr, struct cni_nl_link *host)
{
	struct cni_nl_route r = { .dst = addr, .prefix = 32, .prefsrc = c->cfg->gateway };
	char path[128];
	int ret;

	ret = cni_nl_link_get(c->host_sk, c->host_if, host);
	if (ret < 0)
		return fail(c, ret, CNI_ERR_INTERNAL, "host interface %s vanished: %s", c->host_if,
			    strerror(-ret));
	r.ifindex = host->ifindex;
	ret = cni_nl_link_set_alias(c->host_sk, host->ifindex, c->alias);
	if (ret == 0) {
		ret = cni_nl_addr_add(c->host_sk, host->ifindex, c->cfg->gateway, 32);
		if (ret == -EEXIST)
			ret = 0;
	}
	if (ret == 0)
		ret = cni_nl_link_up(c->host_sk, host->ifindex);
	if (ret == 0)
		ret = cni_nl_route_replace(c->host_sk, &r);
	if (ret < 0)
		return fail(c, ret, CNI_ERR_INTERNAL, "configure host interface %s: %s", c->host_if,
			    strerror(-ret));

	/* The node routes between pods: forwarding must be on (the global
	 * switch also turns it on for every interface). */
	ret = sysctl_ensure("/proc/sys/net/ipv4/ip_forward", "1");
	if (ret == 0) {
		snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding", c->host_if);
		ret = sysctl_ensure(path, "1");
	}
	if (ret < 0)
		return fail(c, ret, CNI_ERR_INTERNAL, "enable IPv4 forwarding: %s", strerror(-ret));
	return 0;
}

/* The pod side: the /32 address, up, a link route to the gateway, the default route. */
static int setup_pod_end(struct ctx *c, uint32_t addr, struct cni_nl_link *pod)
{
	struct cni_nl_route to_gw = { .dst = c->cfg->gateway, .prefix = 32 };
	struct cni_nl_route dflt = { .gw = c->cfg->gateway };
	int ret;

	ret = cni_nl_link_get(c->pod_sk, c->env->ifname, pod);
	if (ret < 0)
		return fail(c, ret, CNI_ERR_INTERNAL, "%s vanished from netns %s: %s",
			    c->env->ifname, c->env->netns, strerror(-ret));
	to_gw.ifindex = dflt.ifindex = pod->ifindex;
	ret = cni_nl_addr_add(c->pod_sk, pod->ifindex, addr, 32);
	if (ret == 0)
		ret = cni_nl_link_up(c->pod_sk, pod->ifindex);
	if (ret == 0)
		ret = cni_nl_route_replace(c->pod_sk, &to_gw);
	if (ret == 0)
		ret = cni_nl_route_replace(c->pod_sk, &dflt);
	if (ret < 0)
		return fail(c, ret, CNI_ERR_INTERNAL, "configure %s in netns %s: %s",
			    c->env->ifname, c->env->netns, strerror(-ret));
	return 0;
}

static int alloc_address(struct ctx *c, uint32_t *addr)
{
	char msg[256];
	int ret = cni_ipam_alloc(&c->ipam, c->env->container_id, c->env->ifname, addr, msg,
				 sizeof(msg));

	if (ret == -ENOSPC)
		return fail(c, ret, CNI_ERR_NO_ADDRESS, "no free address in %s", c->cidr);
	if (ret == -EAGAIN)
		return fail(c, ret, CNI_ERR_TRY_AGAIN, "%s", msg);
	if (ret < 0)
		return fail(c, ret, CNI_ERR_INTERNAL, "%s", msg);
	return 0;
}

static int release_address(struct ctx *c)
{
	char msg[256];
	int ret =
		cni_ipam_release(&c->ipam, c->env->container_id, c->env->ifname, msg, sizeof(msg));

	if (ret == -EAGAIN)
		return fail(c, ret, CNI_ERR_TRY_AGAIN, "%s", msg);
	if (ret < 0)
		return fail(c, ret, CNI_ERR_INTERNAL, "%s", msg);
	return ret;
}

static int cmd_add(struct ctx *c, char **result)
{
	struct cni_nl_link host, pod;
	char addr_s[CNI_IP4_STRLEN], cidr_s[CNI_IP4_STRLEN], gw_s[CNI_IP4_STRLEN];
	bool allocated = false, created = false;
	uint32_t addr;
	json_t *res, *route;
	int ret;

	if (c->cfg->prev_result)
		cni_log_debug("ignoring prevResult: capstan-cni is the first plugin of its chain");
	ret = open_sandbox(c);
	if (ret == 0)
		ret = open_host(c);
	if (ret == 0)
		ret = alloc_address(c, &addr);
	if (ret < 0)
		goto out;
	allocated = true;

	ret = host_link_remove(c);
	if (ret == -EEXIST) {
		ret = fail(c, ret, CNI_ERR_NAME_CONFLICT,
			   "host interface %s belongs to another container", c->host_if);
		goto out;
	}
	if (ret < 0) {
		ret = fail(c, ret, CNI_ERR_INTERNAL, "remove stale %s: %s", c->host_if,
			   strerror(-ret));
		goto out;
	}
	ret = cni_nl_veth_add(c->host_sk, c->host_if, c->netns_fd, c->env->ifname, c->cfg->mtu);
	if (ret == -EEXIST) {
		ret = fail(c, ret, CNI_ERR_INTERNAL, "interface %s already exists in netns %s",
			   c->env->ifname, c->env->netns);
		goto out;
	}
	if (ret < 0) {
		ret = fail(c, ret, CNI_ERR_INTERNAL, "create veth %s/%s: %s", c->host_if,
			   c->env->ifname, strerror(-ret));
		goto out;
	}
	created = true;
	ret = setup_host_end(c, addr, &host);
	if (ret == 0)
		ret = setup_pod_end(c, addr, &pod);
	if (ret < 0)
		goto out;

	cni_ip4_cidr_str(addr, 32, cidr_s);
	cni_ip4_str(c->cfg->gateway, gw_s);
	res = result_new(c->cfg);
	result_add_iface(res, c->host_if, host.mac, NULL);
	result_add_iface(res, c->env->ifname, pod.mac, c->env->netns);
	result_add_ip(res, c->cfg, cidr_s, gw_s, 1);
	route = json_pack("{s:s, s:s}", "dst", "0.0.0.0/0", "gw", gw_s);
	json_object_set_new(res, "routes", json_pack("[o]", route));
	json_object_set_new(res, "dns", c->cfg->dns ? json_deep_copy(c->cfg->dns) : json_object());
	*result = result_dump(res);
	cni_log_info("ADD pod %s container %.12s: %s on %s (host %s)", pod_name(c),
		     c->env->container_id, cni_ip4_str(addr, addr_s), c->env->ifname, c->host_if);
out:
	if (ret < 0) {
		if (created && host_link_remove(c) < 0)
			cni_log_warn("cannot remove %s after the failed ADD", c->host_if);
		if (allocated)
			cni_ipam_release(&c->ipam, c->env->container_id, c->env->ifname, NULL, 0);
	}
	return ret;
}

/* ---------------------------------------------------------------- DEL */

static int cmd_del(struct ctx *c)
{
	int ret;

	ret = open_host(c);
	if (ret < 0)
		return ret;
	/* Interfaces first: the address must not be handed out while a route
	 * to it still points at this pod's veth. Deleting the host end takes
	 * the pod end along, so the sandbox (CNI_NETNS may be empty or gone by
	 * now) is never entered. */
	ret = host_link_remove(c);
	if (ret == -EEXIST)
		cni_log_warn("DEL: %s belongs to another container; leaving it", c->host_if);
	else if (ret < 0)
		return fail(c, ret, CNI_ERR_INTERNAL, "delete %s: %s", c->host_if, strerror(-ret));
	ret = release_address(c);
	if (ret < 0)
		return ret;
	cni_log_info("DEL pod %s container %.12s: %d address(es) released, host %s gone",
		     pod_name(c), c->env->container_id, ret, c->host_if);
	return 0;
}

/* ---------------------------------------------------------------- CHECK */

/* What CHECK reads from prevResult. */
struct expected {
	const char *mac;     /* the sandbox interface's, NULL when not given */
	const char *host_if; /* the host interface's name */
	uint32_t addr;
	unsigned prefix;
	json_t *routes; /* borrowed, may be NULL */
};

static int check_fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int check_fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cni_error_vset(c->err, CNI_ERR_CHECK_FAILED, fmt, ap);
	va_end(ap);
	return -ENOENT;
}

static int parse_prev_result(struct ctx *c, struct expected *exp)
{
	json_t *prev = c->cfg->prev_result, *ifaces, *ips, *v;
	const char *addr = NULL;
	size_t i;
	long sandbox = -1;

	memset(exp, 0, sizeof(*exp));
	exp->host_if = c->host_if;
	ifaces = json_object_get(prev, "interfaces");
	json_array_foreach(ifaces, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *sb = json_string_value(json_object_get(v, "sandbox"));

		if (!name)
			continue;
		if (sb && *sb && !strcmp(name, c->env->ifname)) {
			sandbox = (long)i;
			exp->mac = json_string_value(json_object_get(v, "mac"));
		} else if (!sb || !*sb) {
			exp->host_if = name;
		}
	}
	if (sandbox < 0)
		return fail(c, -EINVAL, CNI_ERR_INVALID_CONFIG,
			    "prevResult has no sandbox interface %s", c->env->ifname);
	ips = json_object_get(prev, "ips");
	json_array_foreach(ips, i, v) {
		json_t *idx = json_object_get(v, "interface");

		addr = json_string_value(json_object_get(v, "address"));
		if (addr && json_is_integer(idx) && json_integer_value(idx) == sandbox)
			break;
	}
	if (i == json_array_size(ips) || cni_ip4_cidr_parse(addr, &exp->addr, &exp->prefix) < 0)
		return fail(c, -EINVAL, CNI_ERR_INVALID_CONFIG,
			    "prevResult has no IPv4 address for %s", c->env->ifname);
	exp->routes = json_object_get(prev, "routes");
	return 0;
}

static int check_routes(struct ctx *c, const struct expected *exp, int ifindex)
{
	size_t i;
	json_t *v;

	json_array_foreach(exp->routes, i, v) {
		const char *dst = json_string_value(json_object_get(v, "dst"));
		const char *gw = json_string_value(json_object_get(v, "gw"));
		struct cni_nl_route r = { .ifindex = ifindex };
		int ret;

		if (!dst || cni_ip4_cidr_parse(dst, &r.dst, &r.prefix) < 0)
			continue; /* not ours to judge (another family, say) */
		if (gw && cni_ip4_parse(gw, &r.gw) < 0)
			continue;
		ret = cni_nl_route_has(c->pod_sk, &r);
		if (ret < 0)
			return fail(c, ret, CNI_ERR_INTERNAL, "read routes: %s", strerror(-ret));
		if (!ret)
			return check_fail(c, "route %s%s%s is missing in netns %s", dst,
					  gw ? " via " : "", gw ? gw : "", c->env->netns);
	}
	return 0;
}

static int check_host_side(struct ctx *c, const struct expected *exp)
{
	struct cni_nl_link host;
	struct cni_nl_route r = { .dst = exp->addr, .prefix = 32 };
	char addr_s[CNI_IP4_STRLEN], msg[256];
	uint32_t recorded;
	int ret;

	ret = cni_nl_link_get(c->host_sk, exp->host_if, &host);
	if (ret == -ENODEV)
		return check_fail(c, "host interface %s is missing", exp->host_if);
	if (ret < 0)
		return fail(c, ret, CNI_ERR_INTERNAL, "read %s: %s", exp->host_if, strerror(-ret));
	if (!(host.flags & IFF_UP))
		return check_fail(c, "host interface %s is down", exp->host_if);
	r.ifindex = host.ifindex;
	ret = cni_nl_route_has(c->host_sk, &r);
	if (ret < 0)
		return fail(c, ret, CNI_ERR_INTERNAL, "read routes: %s", strerror(-ret));
	if (!ret)
		return check_fail(c, "host route %s/32 dev %s is missing",
				  cni_ip4_str(exp->addr, addr_s), exp->host_if);
	ret = cni_ipam_lookup(&c->ipam, c->env->container_id, c->env->ifname, &recorded, msg,
			      sizeof(msg));
	if (ret == -ENOENT || (ret == 0 && recorded != exp->addr))
		return check_fail(c, "address %s is not reserved for this container",
				  cni_ip4_str(exp->addr, addr_s));
	if (ret < 0)
		return fail(c, ret, ret == -EAGAIN ? CNI_ERR_TRY_AGAIN : CNI_ERR_INTERNAL, "%s",
			    msg);
	return 0;
}

static int cmd_check(struct ctx *c)
{
	struct expected exp;
	struct cni_nl_link pod;
	char cidr_s[CNI_IP4_STRLEN];
	int ret;

	ret = parse_prev_result(c, &exp);
	if (ret == 0)
		ret = open_sandbox(c);
	if (ret == 0)
		ret = open_host(c);
	if (ret < 0)
		return ret;
	ret = cni_nl_link_get(c->pod_sk, c->env->ifname, &pod);
	if (ret == -ENODEV)
		return check_fail(c, "%s is missing in netns %s", c->env->ifname, c->env->netns);
	if (ret < 0)
		return fail(c, ret, CNI_ERR_INTERNAL, "read %s: %s", c->env->ifname,
			    strerror(-ret));
	if (!(pod.flags & IFF_UP))
		return check_fail(c, "%s is down in netns %s", c->env->ifname, c->env->netns);
	if (exp.mac && strcasecmp(exp.mac, pod.mac) != 0)
		return check_fail(c, "%s has MAC %s, prevResult says %s", c->env->ifname, pod.mac,
				  exp.mac);
	ret = cni_nl_addr_has(c->pod_sk, pod.ifindex, exp.addr, exp.prefix);
	if (ret < 0)
		return fail(c, ret, CNI_ERR_INTERNAL, "read addresses: %s", strerror(-ret));
	if (!ret)
		return check_fail(c, "%s has no address %s", c->env->ifname,
				  cni_ip4_cidr_str(exp.addr, exp.prefix, cidr_s));
	ret = check_routes(c, &exp, pod.ifindex);
	if (ret == 0)
		ret = check_host_side(c, &exp);
	return ret;
}

/* ---------------------------------------------------------------- loopback */

static int loopback_get(struct ctx *c, struct cni_nl_link *lo)
{
	int ret = open_sandbox(c);

	if (ret < 0)
		return ret;
	ret = cni_nl_link_get(c->pod_sk, "lo", lo);
	if (ret < 0)
		return fail(c, ret, CNI_ERR_INTERNAL, "lo in netns %s: %s", c->env->netns,
			    strerror(-ret));
	return 0;
}

static int loopback_run(struct ctx *c, char **result)
{
	struct cni_nl_link lo;
	json_t *res;
	int ret;

	switch (c->env->command) {
	case CNI_CMD_ADD:
		ret = loopback_get(c, &lo);
		if (ret == 0 && (ret = cni_nl_link_up(c->pod_sk, lo.ifindex)) < 0)
			fail(c, ret, CNI_ERR_INTERNAL, "bring lo up in netns %s: %s", c->env->netns,
			     strerror(-ret));
		if (ret < 0)
			return ret;
		res = result_new(c->cfg);
		result_add_iface(res, "lo", "00:00:00:00:00:00", c->env->netns);
		result_add_ip(res, c->cfg, "127.0.0.1/8", NULL, 0);
		json_object_set_new(res, "dns", json_object());
		*result = result_dump(res);
		return 0;
	case CNI_CMD_CHECK:
		ret = loopback_get(c, &lo);
		if (ret == 0 && !(lo.flags & IFF_UP))
			ret = check_fail(c, "lo is down in netns %s", c->env->netns);
		return ret;
	default:
		/* DEL: the namespace's lo goes away with the namespace. */
		return 0;
	}
}

/* ---------------------------------------------------------------- entry */

int cni_plugin_run(const struct cni_env *env, const struct cni_config *cfg, bool loopback,
		   char **result, struct cni_error *err)
{
	struct ctx c;
	int ret;

	*result = NULL;
	if (env->command == CNI_CMD_CHECK && !cni_version_has_check(cfg->cni_version)) {
		cni_error_set(err, CNI_ERR_INCOMPATIBLE_VERSION,
			      "CHECK is not defined for cniVersion %s", cfg->cni_version);
		return -EINVAL;
	}
	if (env->command == CNI_CMD_CHECK && !loopback && !cfg->prev_result) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG, "CHECK needs prevResult");
		return -EINVAL;
	}
	ctx_init(&c, env, cfg, err);
	if (loopback) {
		ret = loopback_run(&c, result);
	} else {
		switch (env->command) {
		case CNI_CMD_ADD:
			ret = cmd_add(&c, result);
			break;
		case CNI_CMD_DEL:
			ret = cmd_del(&c);
			break;
		case CNI_CMD_CHECK:
			ret = cmd_check(&c);
			break;
		default:
			cni_error_set(err, CNI_ERR_INVALID_ENV,
				      "CNI_COMMAND %s is not handled here",
				      cni_command_name(env->command));
			ret = -EINVAL;
		}
	}
	ctx_release(&c);
	return ret;
}
