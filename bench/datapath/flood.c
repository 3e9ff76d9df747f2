/* flood.c - see flood.h. */
#include "flood.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "proc.h"
#include "util.h"

#include "bench_gen.skel.h"

#define FLOOD_FRAME 60	 /* 64 on the wire with the FCS */
#define FLOOD_BATCH 64	 /* frames per burst, and per live frame batch */
#define FLOOD_FLOWS 1024 /* random source ports of the frames */
#define FLOOD_SPORT 20000
#define FLOOD_SENDER_CPU 0
#define FLOOD_NODE_CPU 1

/* ---------------------------------------------------------------- the pods' sink */

/* In a child inside the pod: attach (or detach) the drop program on eth0. */
static int sink_child(bool attach)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_DROP },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int ifindex = (int)if_nametoindex("eth0"), fd;

	if (!ifindex)
		return 1;
	if (!attach)
		return bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL) == 0 ? 0 : 2;
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "bench_sink", "GPL", insns, ARRAY_SIZE(insns), NULL);
	if (fd < 0)
		return 3;
	/* Not a link: the program stays on the device when this child exits. */
	return bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE, NULL) == 0 ? 0 : 4;
}

/* In a child inside the pod: the sum of eth0's xdp_drops counters, written to fd. */
static int count_child(int fd)
{
	FILE *p = popen("ethtool -S eth0 2>/dev/null", "r");
	char line[256];
	long long sum = 0, v;

	if (!p)
		return 1;
	while (fgets(line, sizeof(line), p)) {
		const char *c = strstr(line, "xdp_drops:");

		if (c && sscanf(c, "xdp_drops: %lld", &v) == 1)
			sum += v;
	}
	pclose(p);
	return write(fd, &sum, sizeof(sum)) == sizeof(sum) ? 0 : 2;
}

/* Run fn in a child in netns, for at most limit_s; its exit status (0 = fine) or -errno. */
static int in_netns_for(const char *netns, int (*fn)(void *), void *arg, double limit_s)
{
	struct proc_opts o = { .netns = netns };
	int status, err;
	pid_t pid = proc_fork(&o);

	if (pid < 0)
		return pid;
	if (pid == 0)
		_exit(fn(arg));
	err = proc_wait(pid, limit_s, &status);
	if (err < 0) {
		proc_stop(pid, 1);
		return err;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -EIO;
}

static int in_netns(const char *netns, int (*fn)(void *), void *arg)
{
	return in_netns_for(netns, fn, arg, 30);
}

static int attach_fn(void *arg)
{
	return sink_child(*(bool *)arg);
}

static int count_fn(void *arg)
{
	return count_child(*(int *)arg);
}

/* Frames the pods' sink programs have dropped so far, or -errno. */
static long long delivered(const struct topo *t)
{
	long long total = 0;

	for (int i = 0; i < t->npods; i++) {
		int pfd[2], rc;
		long long v = 0;

		if (pipe(pfd) < 0)
			return -errno;
		rc = in_netns(t->pod[i], count_fn, &pfd[1]);
		close(pfd[1]);
		if (rc != 0 || read(pfd[0], &v, sizeof(v)) != sizeof(v)) {
			close(pfd[0]);
			return rc < 0 ? rc : -EIO;
		}
		close(pfd[0]);
		total += v;
	}
	return total;
}

static int sinks(const struct topo *t, bool attach)
{
	for (int i = 0; i < t->npods; i++) {
		int rc = in_netns(t->pod[i], attach_fn, &attach);

		if (rc != 0 && attach)
			return rc < 0 ? rc : -EIO;
	}
	return 0;
}

/* ---------------------------------------------------------------- the node's CPU */

/* In a child in a namespace: that namespace's /sys, and ifname's NAPI made threaded. */
static int threaded_fn(void *arg)
{
	char path[128];

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("sysfs", "/sys", "sysfs", 0, NULL) < 0)
		return 1;
	snprintf(path, sizeof(path), "/sys/class/net/%s/threaded", (const char *)arg);
	return proc_write_file(path, "1") == 0 ? 0 : 2;
}

/* Up to max kernel threads whose name starts with "napi/": PIDs, and names when names. */
static int napi_threads(pid_t *out, char (*names)[16], int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)) && n < max) {
		char path[300], comm[64] = "";
		FILE *f;
		long pid = strtol(e->d_name, NULL, 10);

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, "napi/", 5)) {
			comm[strcspn(comm, "\n")] = '\0';
			if (names)
				snprintf(names[n], sizeof(names[n]), "%s", comm);
			out[n++] = (pid_t)pid;
		}
		fclose(f);
	}
	if (d)
		closedir(d);
	return n;
}

/*
 * The node's link receives through NAPI on every path: XDP frames from the
 * generator need it (without an XDP program there, GRO turns it on).
 */
static int napi_receive(const struct topo *t)
{
	int rc = proc_runl(true, t->node, "ethtool", "-K", TOPO_NODE_CLIENT_IF, "gro", "on", NULL);

	return rc == 0 ? 0 : rc < 0 ? rc : -EIO;
}

/*
 * The node's link to threaded NAPI on FLOOD_NODE_CPU, alone: that CPU's
 * busy time is the node's forwarding and nothing else. The pods' links go
 * to threaded NAPI on FLOOD_SENDER_CPU with the generator: their drop
 * program and the return of the frames' pages to the generator's page pool
 * run where the pool lives. 0, or -errno when the kernel or the machine
 * cannot (the forwarding figure is then not measured).
 */
static int split_cpus(const struct topo *t)
{
	static pid_t before[256], after[256];
	static char names[256][16];
	char node_prefix[16];
	int nb, na, node = 0, rc;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return -ENODEV;
	nb = napi_threads(before, NULL, 256);
	rc = in_netns(t->node, threaded_fn, (void *)TOPO_NODE_CLIENT_IF);
	for (int i = 0; !rc && i < t->npods; i++)
		rc = in_netns(t->pod[i], threaded_fn, (void *)"eth0");
	if (rc)
		return rc < 0 ? rc : -EOPNOTSUPP;
	na = napi_threads(after, names, 256);
	/* Threads are named napi/<device>-<NAPI id>. */
	snprintf(node_prefix, sizeof(node_prefix), "napi/%s-", TOPO_NODE_CLIENT_IF);
	for (int i = 0; i < na; i++) {
		bool old = false, is_node = !strncmp(names[i], node_prefix, strlen(node_prefix));
		cpu_set_t set;

		for (int j = 0; j < nb && !old; j++)
			old = before[j] == after[i];
		if (old)
			continue;
		CPU_ZERO(&set);
		CPU_SET(is_node ? FLOOD_NODE_CPU : FLOOD_SENDER_CPU, &set);
		if (sched_setaffinity(after[i], sizeof(set), &set) < 0)
			return -errno;
		node += is_node;
	}
	return node ? 0 : -ESRCH;
}

/* ---------------------------------------------------------------- the sender */

struct sender {
	struct in_addr daddr;
	int dport;
	long count;
	double seconds;
	long rate; /* frames per second offered */
	int fd;	   /* results: sent (long), elapsed (double) */
};

static __u16 ip_csum(const void *data, size_t len)
{
	const __u8 *p = data;
	__u32 sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (__u32)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((__u16)~sum);
}

/* The gateway's MAC from the client's neighbour table (filled by earlier traffic). */
static int gateway_mac(__u8 mac[6])
{
	FILE *f = fopen("/proc/net/arp", "r");
	char line[256], ip[64], hw[64];
	int found = -ENOENT;

	if (!f)
		return -errno;
	while (found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %*s %*s %63s", ip, hw) == 2 && !strcmp(ip, TOPO_NODE_ADDR) &&
		    sscanf(hw, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3],
			   &mac[4], &mac[5]) == 6)
			found = 0;
	fclose(f);
	return found;
}

/* Make the kernel resolve the gateway: one datagram to a port nobody serves. */
static void poke_gateway(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, TOPO_NODE_ADDR, &a.sin_addr);
	if (fd >= 0) {
		sendto(fd, "x", 1, 0, (struct sockaddr *)&a, sizeof(a));
		close(fd);
	}
}

static void build_frame(__u8 *f, const __u8 *dmac, const __u8 *smac, struct in_addr saddr,
			struct in_addr daddr, int sport, int dport)
{
	struct ether_header *eth = (struct ether_header *)f;
	struct iphdr *ip = (struct iphdr *)(f + sizeof(*eth));
	struct udphdr *udp = (struct udphdr *)(ip + 1);

	memset(f, 0, FLOOD_FRAME);
	memcpy(eth->ether_dhost, dmac, 6);
	memcpy(eth->ether_shost, smac, 6);
	eth->ether_type = htons(ETHERTYPE_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(FLOOD_FRAME - sizeof(*eth));
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->saddr = saddr.s_addr;
	ip->daddr = daddr.s_addr;
	ip->check = ip_csum(ip, sizeof(*ip));
	udp->source = htons((__u16)sport);
	udp->dest = htons((__u16)dport);
	udp->len = htons(FLOOD_FRAME - sizeof(*eth) - sizeof(*ip));
	udp->check = 0; /* none: IPv4 allows it, and no path needs to fix it up */
}

/*
 * XDP live frames (bpf/bench_gen.bpf.c): BPF_PROG_RUN calls of many runs
 * each (a call costs tens of milliseconds of set-up, so they are long),
 * the program holding the rate; the time and count limits are checked
 * between calls and by the program. Returns 0, or an exit code.
 */
static int send_fn(void *arg)
{
	const struct sender *s = arg;
	struct xdp_md ctx = { .data_end = FLOOD_FRAME };
	struct bench_gen *g = NULL;
	__u8 frame[FLOOD_FRAME], dmac[6], smac[6];
	struct in_addr saddr;
	struct ifreq ifr;
	long sent = 0;
	double t0, elapsed;
	int fd, rc = 0;

	inet_pton(AF_INET, TOPO_CLIENT_ADDR, &saddr);
	if (gateway_mac(dmac) < 0) {
		poke_gateway();
		usleep(200 * 1000);
		if (gateway_mac(dmac) < 0)
			return 10;
	}
	{
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(FLOOD_SENDER_CPU, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			return 16;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
	if (fd < 0 || ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		return 12;
	close(fd);
	memcpy(smac, ifr.ifr_hwaddr.sa_data, 6);
	build_frame(frame, dmac, smac, saddr, s->daddr, FLOOD_SPORT, s->dport);
	ctx.ingress_ifindex = if_nametoindex("eth0");

	g = bench_gen__open();
	if (!g)
		return 11;
	memcpy((void *)g->rodata->template, frame, sizeof(g->rodata->template));
	g->rodata->burst = FLOOD_BATCH;
	g->rodata->burst_ns = (__u64)(1e9 * FLOOD_BATCH / (double)s->rate);
	g->rodata->max_frames = (__u64)s->count;
	g->rodata->sport_base = FLOOD_SPORT;
	g->rodata->flows = FLOOD_FLOWS;
	if (bench_gen__load(g)) {
		bench_gen__destroy(g);
		return 13;
	}
	t0 = proc_now();
	while ((long)g->bss->sent < s->count && proc_now() - t0 < s->seconds && !proc_interrupted) {
		/*
		 * Half a second of frames per call: a call costs tens of
		 * milliseconds of set-up and tear-down, when nothing is sent.
		 */
		long runs = MIN(MAX(s->rate / 2, (long)FLOOD_BATCH), s->count - (long)g->bss->sent);
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = FLOOD_FRAME,
			    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = FLOOD_BATCH,
			    .repeat = (__u32)runs);

		if (bpf_prog_test_run_opts(bpf_program__fd(g->progs.bench_gen), &o) < 0) {
			rc = errno == EINVAL || errno == EOPNOTSUPP ? 14 : 17;
			break;
		}
	}
	elapsed = proc_now() - t0;
	sent = (long)g->bss->sent;
	bench_gen__destroy(g);
	if (rc)
		return rc;
	if (write(s->fd, &sent, sizeof(sent)) != sizeof(sent) ||
	    write(s->fd, &elapsed, sizeof(elapsed)) != sizeof(elapsed))
		return 15;
	return 0;
}

int flood_run(const struct topo *t, const char *daddr, int dport, long count, double seconds,
	      long rate, struct flood_result *out, char *err, size_t errlen)
{
	struct sender s = { .dport = dport, .count = count, .seconds = seconds, .rate = rate };
	long long before, after;
	double node0, node1;
	int pfd[2] = { -1, -1 }, rc;

	memset(out, 0, sizeof(*out));
	inet_pton(AF_INET, daddr, &s.daddr);
	rc = sinks(t, true);
	if (rc < 0) {
		snprintf(err, errlen, "attach the pods' XDP sink: %s", strerror(-rc));
		goto out;
	}
	before = delivered(t);
	if (before < 0 || pipe(pfd) < 0) {
		rc = before < 0 ? (int)before : -errno;
		snprintf(err, errlen, "read the pods' counters (ethtool -S): %s", strerror(-rc));
		goto out;
	}
	s.fd = pfd[1];
	rc = napi_receive(t);
	if (rc < 0) {
		snprintf(err, errlen, "GRO on the node's link (ethtool -K): %s", strerror(-rc));
		goto out;
	}
	rc = split_cpus(t);
	if (rc < 0) {
		snprintf(err, errlen,
			 "the node's receive work cannot get a CPU of its own (two CPUs and "
			 "threaded NAPI needed): %s",
			 strerror(-rc));
		goto out;
	}
	node0 = proc_cpu_busy_s_on(FLOOD_NODE_CPU);
	/* The sender stops itself after `seconds` (and at most a call more). */
	rc = in_netns_for(t->client, send_fn, &s, seconds + 30);
	node1 = proc_cpu_busy_s_on(FLOOD_NODE_CPU);
	if (rc != 0) {
		if (rc == 14)
			snprintf(err, errlen,
				 "the kernel has no XDP live frame mode for the sender (Linux "
				 "5.18+)");
		else
			snprintf(err, errlen, "the sender failed (%d)", rc);
		rc = rc < 0 ? rc : -EIO;
		goto out;
	}
	if (read(pfd[0], &out->sent, sizeof(out->sent)) != sizeof(out->sent) ||
	    read(pfd[0], &out->seconds, sizeof(out->seconds)) != sizeof(out->seconds)) {
		rc = -EIO;
		snprintf(err, errlen, "no result from the sender");
		goto out;
	}
	/* Frames still in flight land within milliseconds. */
	usleep(100 * 1000);
	after = delivered(t);
	if (after < 0) {
		rc = (int)after;
		snprintf(err, errlen, "read the pods' counters: %s", strerror(-rc));
		goto out;
	}
	out->rate = rate;
	out->delivered = (long)(after - before);
	out->pps = out->seconds > 0 ? (double)out->delivered / out->seconds : 0;
	if (node1 > node0) {
		out->node_cpu_s = node1 - node0;
		out->pps_node_core = (double)out->delivered / out->node_cpu_s;
	}
	rc = proc_interrupted ? -EINTR : 0;
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	sinks(t, false);
	return rc;
}
