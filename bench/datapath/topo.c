/* topo.c - see topo.h. */
#include "topo.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

#define GW TOPO_NODE_ADDR

/* A command's exit status as 0 or -errno: ip has already said why it failed. */
static int status_to_err(int rc)
{
	return rc == 0 ? 0 : rc < 0 ? rc : -EIO;
}

/* `ip ARGS...` run inside namespace ns (NULL: this one). */
#define IP(ns, ...) status_to_err(proc_runl(false, ns, "ip", __VA_ARGS__, NULL))

void topo_pod_addr(int i, char *buf, int len)
{
	snprintf(buf, len, "10.244.1.%d", i + 1);
}

void topo_svc_addr(int i, int n, char *buf, int len)
{
	if (i == n - 1)
		snprintf(buf, len, "%s", TOPO_SVC_ADDR);
	else
		snprintf(buf, len, "10.96.%d.%d", 1 + i / 256, i % 256);
}

/* A namespace with lo up and the unreachable service route. */
static int ns_make(const char *name, bool *made)
{
	int err;

	err = IP(NULL, "netns", "add", name);
	if (err < 0)
		return err;
	*made = true;
	err = IP(name, "link", "set", "lo", "up");
	if (!err)
		err = IP(name, "route", "add", "unreachable", TOPO_SVC_CIDR);
	return err;
}

static int ns_delete(const char *name, bool *made)
{
	int rc = 0;

	if (*made)
		rc = proc_runl(true, NULL, "ip", "netns", "del", name, NULL);
	*made = false;
	return rc == 0 ? 0 : -EIO;
}

/* net.ipv4.ip_forward=1 in ns: written from a child that entered it (the file is per-netns). */
static int enable_forwarding(const char *ns)
{
	struct proc_opts o = { .netns = ns };
	int status, err;
	pid_t pid;

	pid = proc_fork(&o);
	if (pid < 0)
		return pid;
	if (pid == 0)
		_exit(proc_write_file("/proc/sys/net/ipv4/ip_forward", "1") == 0 ? 0 : 1);
	err = proc_wait(pid, 10, &status);
	if (err < 0) {
		proc_stop(pid, 1);
		return err;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/*
 * A veth from the node (node_if, 169.254.1.1) to eth0 in ns (addr/32), the
 * /32 route to it on the node, and in ns the routes to the pod network (and
 * to extra, when not NULL) through the node.
 */
static int wire(struct topo *t, const char *node_if, const char *ns, const char *addr,
		const char *extra)
{
	char a32[32];
	int err;

	snprintf(a32, sizeof(a32), "%s/32", addr);
	err = IP(t->node, "link", "add", node_if, "type", "veth", "peer", "name", "eth0");
	/* The peer is created in the node, then moved. */
	if (!err)
		err = IP(t->node, "link", "set", "eth0", "netns", ns);
	if (!err)
		err = IP(t->node, "addr", "add", GW "/32", "dev", node_if);
	if (!err)
		err = IP(t->node, "link", "set", node_if, "up");
	if (!err)
		err = IP(t->node, "route", "add", a32, "dev", node_if);
	if (!err)
		err = IP(ns, "addr", "add", a32, "dev", "eth0");
	if (!err)
		err = IP(ns, "link", "set", "eth0", "up");
	if (!err)
		err = IP(ns, "route", "add", GW, "dev", "eth0", "scope", "link");
	if (!err)
		err = IP(ns, "route", "add", TOPO_POD_CIDR, "via", GW, "dev", "eth0");
	if (!err && extra)
		err = IP(ns, "route", "add", extra, "via", GW, "dev", "eth0");
	return err;
}

static int node_make(struct topo *t)
{
	char node_if[16], addr[32];
	int err;

	err = ns_make(t->node, &t->made_node);
	if (!err)
		err = enable_forwarding(t->node);
	if (!err)
		err = wire(t, TOPO_NODE_CLIENT_IF, t->client, TOPO_CLIENT_ADDR,
			   TOPO_SVC_ADDR "/32");
	if (!err)
		err = IP(t->client, "route", "add", TOPO_PPS_SVC_ADDR "/32", "via", GW, "dev",
			 "eth0");
	for (int i = 0; !err && i < t->npods; i++) {
		snprintf(node_if, sizeof(node_if), "vp%d", i + 1);
		topo_pod_addr(i, addr, sizeof(addr));
		err = wire(t, node_if, t->pod[i], addr, NULL);
	}
	return err;
}

static void node_delete(struct topo *t)
{
	char node_if[16];

	if (!t->made_node)
		return;
	/*
	 * Deleting the namespace destroys its veths only once the kernel's
	 * asynchronous namespace cleanup runs; deleting them first makes the
	 * peers' eth0 disappear now, so the next node can reuse the names.
	 */
	proc_runl(true, t->node, "ip", "link", "del", TOPO_NODE_CLIENT_IF, NULL);
	for (int i = 0; i < t->npods; i++) {
		snprintf(node_if, sizeof(node_if), "vp%d", i + 1);
		proc_runl(true, t->node, "ip", "link", "del", node_if, NULL);
	}
	ns_delete(t->node, &t->made_node);
}

int topo_create(struct topo *t, const char *prefix, int npods)
{
	int err;

	memset(t, 0, sizeof(*t));
	if (npods < 1 || npods > TOPO_MAX_PODS)
		return -EINVAL;
	t->npods = npods;
	snprintf(t->node, sizeof(t->node), "%s-node", prefix);
	snprintf(t->client, sizeof(t->client), "%s-client", prefix);
	snprintf(t->agent, sizeof(t->agent), "%s-agent", prefix);
	err = ns_make(t->client, &t->made_client);
	if (!err)
		err = ns_make(t->agent, &t->made_agent);
	for (int i = 0; !err && i < npods; i++) {
		snprintf(t->pod[i], sizeof(t->pod[i]), "%s-pod%d", prefix, i + 1);
		err = ns_make(t->pod[i], &t->made_pod[i]);
	}
	if (!err)
		err = node_make(t);
	return err;
}

int topo_reset_node(struct topo *t)
{
	node_delete(t);
	return node_make(t);
}

void topo_destroy(struct topo *t)
{
	node_delete(t);
	ns_delete(t->client, &t->made_client);
	ns_delete(t->agent, &t->made_agent);
	for (int i = 0; i < t->npods; i++)
		ns_delete(t->pod[i], &t->made_pod[i]);
}
