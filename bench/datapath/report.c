/* report.c - see report.h. */
#include "report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *const report_path_title[PATH__MAX] = {
	[PATH_DIRECT] = "direct to the pod",
	[PATH_DIRECT_CG] = "direct, client in the agent's cgroup",
	[PATH_SOCKLB] = "capstan socket LB (ClusterIP)",
	[PATH_IPT_NFT] = "kube-proxy iptables rules, nf_tables (ClusterIP)",
	[PATH_IPT_LEGACY] = "kube-proxy iptables rules, legacy (ClusterIP)",
	[PATH_NFT] = "kube-proxy nftables mode rules (ClusterIP)",
	[PATH_DIRECT_TC] = "direct, NodePort tc programs on the node's link",
	[PATH_NP_TC] = "capstan NodePort, tc",
	[PATH_DIRECT_XDP] = "direct, NodePort XDP + tc programs on the node's link",
	[PATH_NP_XDP] = "capstan NodePort, XDP (native)",
};

enum bench_path report_base_path(enum bench_path p)
{
	switch (p) {
	case PATH_NP_TC:
		return PATH_DIRECT_TC;
	case PATH_NP_XDP:
		return PATH_DIRECT_XDP;
	default:
		return PATH_DIRECT;
	}
}

const char *const report_prog_title[PROG__MAX] = {
	[PROG_AGENT_HEALTHZ] = "capstan-agent: start to /healthz 200",
	[PROG_AGENT_MAPS] = "capstan-agent: start to services map holding every service",
	[PROG_IPT_NFT] = "iptables-nft-restore --noflush --counters (kube-proxy's full sync)",
	[PROG_IPT_NFT_EMPTY] = "iptables-nft-restore into empty tables",
	[PROG_IPT_LEGACY] = "iptables-legacy-restore --noflush --counters (kube-proxy's full sync)",
	[PROG_IPT_LEGACY_EMPTY] = "iptables-legacy-restore into empty tables",
	[PROG_NFT] = "nft -f (kube-proxy nftables mode's first sync)",
	[PROG_AGENT_CHANGE_SYNC] = "one endpoint change: capstan-agent sync (diff + map writes)",
	[PROG_AGENT_CHANGE_FIRST] = "one endpoint change: capstan-agent sync, the first after "
				    "its start-up sync",
	[PROG_AGENT_CHANGE_E2E] = "one endpoint change: capstan-agent, SIGHUP to the map "
				  "(includes re-reading the whole --static file)",
	[PROG_IPT_NFT_CHANGE] = "one endpoint change: iptables-nft-restore --noflush "
				"(kube-proxy's partial sync)",
	[PROG_IPT_LEGACY_CHANGE] = "one endpoint change: iptables-legacy-restore --noflush "
				   "(kube-proxy's partial sync)",
	[PROG_NFT_CHANGE] = "one endpoint change: nft -f (kube-proxy nftables mode)",
};

struct summary {
	int n;
	double min, med, max;
};

void report_init(struct report *r)
{
	memset(r, 0, sizeof(*r));
	for (int p = 0; p < PROG__MAX; p++)
		for (int c = 0; c < REPORT_MAX_COUNTS; c++)
			for (int i = 0; i < REPORT_MAX_ROUNDS; i++)
				r->prog_s[p][c][i] = -1;
	/* prog_limit_s stays 0: no limit was hit. */
}

void report_note(struct report *r, const char *fmt, ...)
{
	size_t used = strlen(r->notes);
	va_list ap;

	/* A Markdown list item per note. */
	if (used + 4 >= sizeof(r->notes))
		return;
	memcpy(r->notes + used, "- ", 3);
	used += 2;
	va_start(ap, fmt);
	vsnprintf(r->notes + used, sizeof(r->notes) - used - 1, fmt, ap);
	va_end(ap);
	strcat(r->notes, "\n");
}

static struct summary summarize(double *v, int n)
{
	struct summary s = { .n = n };

	if (!n)
		return s;
	s.med = sort_median(v, (size_t)n);
	s.min = v[0];
	s.max = v[n - 1];
	return s;
}

static double field(const struct measure *m, enum report_field f)
{
	switch (f) {
	case REPORT_F_CPS:
		return m->cps;
	case REPORT_F_RPS:
		return m->rps;
	case REPORT_F_P50:
		return m->p50_us;
	case REPORT_F_P99:
		return m->p99_us;
	case REPORT_F_CPU_CONN:
		return m->cpu_us_conn;
	case REPORT_F_CPU_REQ:
		return m->cpu_us_req;
	}
	return 0;
}

/* The field over the rounds, as a value or as a ratio to direct in the same round. */
static struct summary collect(const struct report *r, int path, int c, enum report_field f,
			      bool ratio)
{
	double v[REPORT_MAX_ROUNDS];
	int n = 0;

	for (int i = 0; i < r->rounds; i++) {
		const struct measure *m = &r->m[path][c][i];
		const struct measure *d = &r->m[report_base_path(path)][c][i];

		if (!m->ok || (ratio && (!d->ok || field(d, f) <= 0)))
			continue;
		v[n++] = ratio ? field(m, f) / field(d, f) : field(m, f);
	}
	return summarize(v, n);
}

/* A ratio over the rounds: "1.00x" for the base path itself, "-" when none. */
static void print_ratio(FILE *f, struct summary s, bool base)
{
	if (base)
		fputs("1.00x", f);
	else if (!s.n)
		fputs("-", f);
	else
		fprintf(f, "%.2fx / %.2fx / %.2fx", s.min, s.med, s.max);
}

static void rate_table(FILE *f, const struct report *r, enum report_field fld, const char *title)
{
	fprintf(f, "\n## %s\n\n", title);
	fputs("| services | path | median | ratio to its direct: min / median / max |\n"
	      "|---:|---|---:|---|\n",
	      f);
	for (int c = 0; c < r->ncounts; c++)
		for (int p = 0; p < PATH__MAX; p++) {
			struct summary v = collect(r, p, c, fld, false);

			if (!v.n)
				continue;
			fprintf(f, "| %d | %s | %.0f /s | ", r->counts[c], report_path_title[p],
				v.med);
			print_ratio(f, collect(r, p, c, fld, true), p == PATH_DIRECT);
			fputs(" |\n", f);
		}
}

static void latency_table(FILE *f, const struct report *r)
{
	fputs("\n## Latency of one request on a new connection (one connection at a time)\n\n"
	      "| services | path | p50 | p99 | p50 ratio to its direct: min / median / max "
	      "| p99 ratio (median) |\n"
	      "|---:|---|---:|---:|---|---:|\n",
	      f);
	for (int c = 0; c < r->ncounts; c++)
		for (int p = 0; p < PATH__MAX; p++) {
			struct summary p50 = collect(r, p, c, REPORT_F_P50, false);
			struct summary p99 = collect(r, p, c, REPORT_F_P99, false);
			struct summary r99 = collect(r, p, c, REPORT_F_P99, true);

			if (!p50.n)
				continue;
			fprintf(f, "| %d | %s | %.0f us | %.0f us | ", r->counts[c],
				report_path_title[p], p50.med, p99.med);
			print_ratio(f, collect(r, p, c, REPORT_F_P50, true), p == PATH_DIRECT);
			if (p == PATH_DIRECT)
				fputs(" | 1.00x |\n", f);
			else
				fprintf(f, " | %.2fx |\n", r99.med);
		}
}

/* CPU per operation: lower is better, so its ratio is the path's cost over direct's. */
static void cpu_table(FILE *f, const struct report *r)
{
	fputs("\n## CPU time per operation (whole machine: client, node, pods, softirqs)\n\n"
	      "| services | path | per new connection | ratio to its direct: min / median / max "
	      "| per request (kept connection) | ratio (median) |\n"
	      "|---:|---|---:|---|---:|---:|\n",
	      f);
	for (int c = 0; c < r->ncounts; c++)
		for (int p = 0; p < PATH__MAX; p++) {
			struct summary conn = collect(r, p, c, REPORT_F_CPU_CONN, false);
			struct summary req = collect(r, p, c, REPORT_F_CPU_REQ, false);
			struct summary rreq = collect(r, p, c, REPORT_F_CPU_REQ, true);

			if (!conn.n || conn.med <= 0)
				continue;
			fprintf(f, "| %d | %s | %.1f us | ", r->counts[c], report_path_title[p],
				conn.med);
			print_ratio(f, collect(r, p, c, REPORT_F_CPU_CONN, true), p == PATH_DIRECT);
			fprintf(f, " | %.2f us | ", req.med);
			if (p == PATH_DIRECT)
				fputs("1.00x |\n", f);
			else if (rreq.n)
				fprintf(f, "%.2fx |\n", rreq.med);
			else
				fputs("- |\n", f);
		}
}

/* Per-node-core ratio of path p to kube-proxy iptables (nf_tables) over the rounds. */
static struct summary flood_ratio(const struct report *r, int p, int c)
{
	double v[REPORT_MAX_ROUNDS];
	int n = 0;

	for (int i = 0; i < r->rounds; i++) {
		double mine = r->flood[p][c][i].pps_node_core,
		       ipt = r->flood[PATH_IPT_NFT][c][i].pps_node_core;

		if (mine > 0 && ipt > 0)
			v[n++] = mine / ipt;
	}
	return summarize(v, n);
}

static void flood_table(FILE *f, const struct report *r)
{
	bool any = false;

	for (int p = 0; p < PATH__MAX && !any; p++)
		for (int c = 0; c < r->ncounts && !any; c++)
			any = r->flood[p][c][0].pps_node_core > 0;
	if (!any)
		return;
	fprintf(f,
		"\n## Forwarding 64-byte UDP frames (packets per second per node core)\n\n"
		"%ld frames per second offered to every path (at most %ld frames or %.0f s), "
		"made in the kernel as XDP frames (as from a NIC's ring) and dropped and "
		"counted by an XDP program in the pods. Per node core: frames delivered per "
		"busy second of the CPU that runs the node's receive work alone (threaded NAPI "
		"pinned to CPU 1; the generator and the pods on CPU 0).\n\n"
		"| services | path | delivered | delivered pps | per node core | ratio to "
		"kube-proxy iptables (nf_tables): min / median / max |\n"
		"|---:|---|---:|---:|---:|---|\n",
		r->flood_rate, r->flood_packets, r->flood_seconds);
	for (int c = 0; c < r->ncounts; c++)
		for (int p = 0; p < PATH__MAX; p++) {
			double pps[REPORT_MAX_ROUNDS], node[REPORT_MAX_ROUNDS],
				share[REPORT_MAX_ROUNDS];
			int n = 0;

			for (int i = 0; i < r->rounds; i++) {
				if (r->flood[p][c][i].pps_node_core <= 0)
					continue;
				pps[n] = r->flood[p][c][i].pps;
				share[n] = r->flood[p][c][i].sent
						   ? 100.0 * (double)r->flood[p][c][i].delivered /
							     (double)r->flood[p][c][i].sent
						   : 0;
				node[n++] = r->flood[p][c][i].pps_node_core;
			}
			if (!n)
				continue;
			fprintf(f, "| %d | %s | %.1f%% | %.0f | %.0f | ", r->counts[c],
				report_path_title[p], summarize(share, n).med,
				summarize(pps, n).med, summarize(node, n).med);
			print_ratio(f, flood_ratio(r, p, c), p == PATH_IPT_NFT);
			fputs(" |\n", f);
		}
}

int report_xdp_flood_worst(const struct report *r, double *ratio, int *count)
{
	bool found = false;

	for (int c = 0; c < r->ncounts; c++) {
		struct summary s = flood_ratio(r, PATH_NP_XDP, c);

		if (s.n && (!found || s.med < *ratio)) {
			*ratio = s.med;
			*count = r->counts[c];
			found = true;
		}
	}
	return found ? 0 : -ENOENT;
}

static void print_time(FILE *f, double s)
{
	if (s < 1e-3)
		fprintf(f, "%.0f us", s * 1e6);
	else if (s < 1)
		fprintf(f, "%.1f ms", s * 1e3);
	else
		fprintf(f, "%.2f s", s);
}

/* A programming time over the rounds that have it. */
static struct summary prog_summary(const struct report *r, int p, int c)
{
	double v[REPORT_MAX_ROUNDS];
	int n = 0;

	for (int i = 0; i < r->rounds; i++)
		if (r->prog_s[p][c][i] >= 0)
			v[n++] = r->prog_s[p][c][i];
	return summarize(v, n);
}

static void prog_table(FILE *f, const struct report *r)
{
	fputs("\n## Time to program N services, and to apply one change with N programmed\n\n"
	      "| services | what | min / median / max |\n"
	      "|---:|---|---|\n",
	      f);
	for (int c = 0; c < r->ncounts; c++)
		for (int p = 0; p < PROG__MAX; p++) {
			struct summary s = prog_summary(r, p, c);

			if (!s.n && r->prog_limit_s[p][c] > 0)
				fprintf(f,
					"| %d | %s | more than %.0f s (stopped at the limit) |\n",
					r->counts[c], report_prog_title[p], r->prog_limit_s[p][c]);
			if (!s.n)
				continue;
			fprintf(f, "| %d | %s | ", r->counts[c], report_prog_title[p]);
			print_time(f, s.min);
			fputs(" / ", f);
			print_time(f, s.med);
			fputs(" / ", f);
			print_time(f, s.max);
			fputs(" |\n", f);
		}
}

static void rss_table(FILE *f, const struct report *r)
{
	bool any = false;

	for (int c = 0; c < r->ncounts; c++)
		for (int i = 0; i < r->rounds; i++)
			any |= r->agent_rss_kib[0][c][i] > 0;
	if (!any)
		return;
	fputs("\n## capstan-agent memory (resident, MiB): min / median / max\n\n"
	      "| services | every service programmed | after the endpoint changes (each "
	      "re-reads the whole --static file) |\n"
	      "|---:|---|---|\n",
	      f);
	for (int c = 0; c < r->ncounts; c++) {
		fprintf(f, "| %d |", r->counts[c]);
		for (int k = 0; k < 2; k++) {
			double v[REPORT_MAX_ROUNDS];
			int n = 0;
			struct summary s;

			for (int i = 0; i < r->rounds; i++)
				if (r->agent_rss_kib[k][c][i] > 0)
					v[n++] = (double)r->agent_rss_kib[k][c][i] / 1024;
			s = summarize(v, n);
			if (s.n)
				fprintf(f, " %.0f / %.0f / %.0f |", s.min, s.med, s.max);
			else
				fputs(" - |", f);
		}
		fputs("\n", f);
	}
}

/* wrk's figure (0: new connections, 1: kept) over the rounds, as a value or a ratio to direct. */
static struct summary wrk_collect(const struct report *r, int p, int c, int kind, bool ratio)
{
	double v[REPORT_MAX_ROUNDS];
	int n = 0;

	for (int i = 0; i < r->rounds; i++) {
		const struct wrk_measure *w = &r->wrk[p][c][i], *d = &r->wrk[PATH_DIRECT][c][i];
		double x = kind ? w->rps : w->cps, base = kind ? d->rps : d->cps;

		if (!w->ok || (ratio && (!d->ok || base <= 0)))
			continue;
		v[n++] = ratio ? x / base : x;
	}
	return summarize(v, n);
}

static void wrk_table(FILE *f, const struct report *r)
{
	if (r->wrk_slices <= 0)
		return;
	fprintf(f,
		"\n## Cross-check: the same targets through wrk\n\n"
		"wrk 4 (HTTP/1.1 GETs, which the pods' servers answer with a body of the same "
		"size; %d connections, each with a thread of its own, so that direct spreads "
		"them over the pods as a service does) right after our client in each round: %d "
		"one-second runs per figure, the paths of a group taking turns run by run, "
		"their median kept. Its absolute rates differ from our client's (HTTP, its own "
		"event loop); the ratios to direct are what both should agree on (ours in "
		"brackets).\n\n"
		"| services | path | new connections (Connection: close) | ratio to direct "
		"[ours] | kept connections | ratio to direct [ours] |\n"
		"|---:|---|---:|---|---:|---|\n",
		r->wrk_conns, r->wrk_slices);
	for (int c = 0; c < r->ncounts; c++)
		for (int p = 0; p < PATH__MAX; p++) {
			struct summary v = wrk_collect(r, p, c, 0, false);

			if (!v.n)
				continue;
			fprintf(f, "| %d | %s", r->counts[c], report_path_title[p]);
			for (int kind = 0; kind < 2; kind++) {
				enum report_field fld = kind ? REPORT_F_RPS : REPORT_F_CPS;
				struct summary ours = collect(r, p, c, fld, true);

				fprintf(f, " | %.0f /s | ", wrk_collect(r, p, c, kind, false).med);
				print_ratio(f, wrk_collect(r, p, c, kind, true), p == PATH_DIRECT);
				if (p != PATH_DIRECT && ours.n)
					fprintf(f, " [%.2fx]", ours.med);
			}
			fputs(" |\n", f);
		}
}

int report_socklb_worst(const struct report *r, double *ratio, int *count)
{
	bool found = false;

	for (int c = 0; c < r->ncounts; c++) {
		struct summary s = collect(r, PATH_SOCKLB, c, REPORT_F_CPS, true);

		if (s.n && (!found || s.med < *ratio)) {
			*ratio = s.med;
			*count = r->counts[c];
			found = true;
		}
	}
	return found ? 0 : -ENOENT;
}

void report_print(FILE *f, const struct report *r)
{
	double worst;
	int worst_n;

	fprintf(f, "# capstan datapath benchmark, %s\n\n", r->date);
	if (r->interrupted)
		fputs("**Interrupted: partial results.**\n\n", f);
	fprintf(f, "- machine: %s, %d cores (%s)\n", r->kernel, r->cores, r->cpu);
	fprintf(f,
		"- topology: client netns -> node netns (IP forwarding) -> %d pod netns, veth "
		"pairs; every service has %d endpoints, the same %d pods; the measured service "
		"is the last one added\n",
		r->pods, r->pods, r->pods);
	fprintf(f,
		"- load: TCP, %d B request, %d B response, the server closes; connections/s: "
		"%d threads x %d connections in flight, %ld connections; requests/s: %d threads "
		"x %d kept connections, %ld requests; latency: one connection at a time, %ld "
		"connections; each measurement stops at %.0f s\n",
		r->req_size, r->resp_size, r->threads, r->concurrency, r->conns, r->threads,
		r->concurrency, r->requests, r->latency_conns, r->seconds);
	fprintf(f,
		"- %d rounds; in each, every measurement runs in %d slices, the direct, cgroup "
		"and socket-LB paths taking turns slice by slice, and a round's rate is the "
		"median of its slices' rates; each ratio is taken against the direct path of "
		"the same round and service count; min / median / max over the rounds\n",
		r->rounds, r->chunks);
	rate_table(f, r, REPORT_F_CPS,
		   "Connections per second (connect, request, response, close)");
	rate_table(f, r, REPORT_F_RPS, "Requests per second on kept connections");
	latency_table(f, r);
	cpu_table(f, r);
	flood_table(f, r);
	prog_table(f, r);
	rss_table(f, r);
	wrk_table(f, r);
	fputs("\n", f);
	if (report_socklb_worst(r, &worst, &worst_n) == 0)
		fprintf(f,
			"Target: socket LB at least 0.97x of direct for connection rate at every "
			"service count: **%s** (lowest median %.2fx, at %d service%s).\n",
			worst >= 0.97 ? "met" : "missed", worst, worst_n, worst_n == 1 ? "" : "s");
	if (report_xdp_flood_worst(r, &worst, &worst_n) == 0)
		fprintf(f,
			"\nTarget: capstan NodePort through XDP at least 3x kube-proxy-shaped "
			"iptables DNAT in forwarded packets per second per node core: **%s** "
			"(lowest median %.2fx, at %d service%s).\n",
			worst >= 3 ? "met" : "missed", worst, worst_n, worst_n == 1 ? "" : "s");
	{
		double sync = 0, first = -1;
		int at = 0;

		for (int c = 0; c < r->ncounts; c++) {
			double v;

			if (report_prog_median(r, PROG_AGENT_CHANGE_SYNC, c, &v) &&
			    r->counts[c] >= at) {
				sync = v;
				at = r->counts[c];
				if (!report_prog_median(r, PROG_AGENT_CHANGE_FIRST, c, &first))
					first = -1;
			}
		}
		if (at) {
			fprintf(f,
				"\nTarget: one endpoint change applied in under 1 ms with the most "
				"services programmed: **%s** (median %.3f ms at %d service%s",
				sync < 1e-3 ? "met" : "missed", sync * 1e3, at, at == 1 ? "" : "s");
			if (first >= 0)
				fprintf(f, "; the first change after start-up: %.3f ms",
					first * 1e3);
			fputs(").\n", f);
		}
	}
	for (int p = 0; p < PATH__MAX; p++)
		if (r->skipped[p][0])
			fprintf(f, "\nNot measured: %s: %s\n", report_path_title[p], r->skipped[p]);
	if (r->notes[0])
		fprintf(f, "\nNotes:\n\n%s", r->notes);
}

bool report_median(const struct report *r, enum bench_path p, int c, enum report_field f,
		   bool ratio, double *out)
{
	struct summary s = collect(r, p, c, f, ratio);

	if (!s.n)
		return false;
	*out = s.med;
	return true;
}

bool report_prog_median(const struct report *r, enum bench_prog p, int c, double *out)
{
	struct summary s = prog_summary(r, p, c);

	if (!s.n)
		return false;
	*out = s.med;
	return true;
}
