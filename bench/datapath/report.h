/*
 * report.h - what the datapath benchmark measured, and its Markdown table.
 *
 * Every figure is kept per path, per service count and per round, and is
 * shown as its median over the rounds with its ratio to the direct path of
 * the same round and service count (min / median / max of the per-round
 * ratios): the machines are shared, and a ratio taken within one round is
 * what survives their drift. Absolute numbers stand next to the ratios.
 */
#ifndef CAPSTAN_BENCH_REPORT_H
#define CAPSTAN_BENCH_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#define REPORT_MAX_ROUNDS 9
#define REPORT_MAX_COUNTS 8

enum bench_path {
	PATH_DIRECT,	 /* client -> pod address */
	PATH_DIRECT_CG,	 /* the same, the client in the agent's cgroup (hooks run, no service) */
	PATH_SOCKLB,	 /* client in the agent's cgroup -> ClusterIP */
	PATH_IPT_NFT,	 /* client -> ClusterIP, kube-proxy rules in the node, nf_tables */
	PATH_IPT_LEGACY, /* the same with iptables-legacy */
	PATH_NFT,	 /* client -> ClusterIP, kube-proxy nftables-mode rules in the node */
	PATH_DIRECT_TC,	 /* direct, with the agent's tc programs on the node's link */
	PATH_NP_TC,	 /* client -> node address:NodePort, translated at tc */
	PATH_DIRECT_XDP, /* direct, with the XDP and tc programs on the node's link */
	PATH_NP_XDP,	 /* client -> node address:NodePort, translated at XDP (native) */
	PATH__MAX,
};

/*
 * The path whose figure of the same round a path's ratio is taken against:
 * the NodePort paths against direct measured in their own group (the same
 * programs attached, the same offloads), those against plain direct.
 */
enum bench_path report_base_path(enum bench_path p);

enum bench_prog {
	PROG_AGENT_HEALTHZ,    /* agent start -> /healthz 200 */
	PROG_AGENT_MAPS,       /* agent start -> services map holds every service */
	PROG_IPT_NFT,	       /* iptables-nft-restore --noflush --counters (kube-proxy's call) */
	PROG_IPT_NFT_EMPTY,    /* iptables-nft-restore into empty tables */
	PROG_IPT_LEGACY,       /* iptables-legacy-restore --noflush --counters */
	PROG_IPT_LEGACY_EMPTY, /* iptables-legacy-restore into empty tables */
	PROG_NFT,	       /* nft -f of kube-proxy nftables mode's rules */
	/*
	 * One endpoint of the measured service leaves or comes back, N services
	 * programmed; per round the median of --changes changes.
	 */
	PROG_AGENT_CHANGE_SYNC,	 /* capstan-agent: the sync that applies it (diff + map writes) */
	PROG_AGENT_CHANGE_FIRST, /* ... the first change after the agent's start-up sync */
	PROG_AGENT_CHANGE_E2E, /* capstan-agent: SIGHUP (re-reads the whole --static file) to map */
	PROG_IPT_NFT_CHANGE,   /* iptables-nft-restore --noflush of kube-proxy's partial sync */
	PROG_IPT_LEGACY_CHANGE, /* the same with iptables-legacy-restore */
	PROG_NFT_CHANGE,	/* nft -f of kube-proxy nftables mode's transaction */
	PROG__MAX,
};

/* One path, one service count, one round. */
struct measure {
	bool ok;	    /* measured; false: not run or failed (see the notes) */
	double cps;	    /* connections per second (connect, request, response, close) */
	double rps;	    /* requests per second on kept connections */
	double p50_us;	    /* latency of one request on a new connection, median */
	double p99_us;	    /* ... 99th percentile */
	double cpu_us_conn; /* busy CPU time of the whole machine per new connection, us */
	double cpu_us_req;  /* ... per request on a kept connection, us */
	long done;	    /* operations completed over the three measurements */
	long errors;	    /* operations failed over the three measurements */
	int first_errno;    /* of the first failure */
};

/* wrk's figures for one path, one service count, one round (the cross-check). */
struct wrk_measure {
	bool ok;       /* measured, at most 1% of requests failed */
	double cps;    /* requests per second, each on a new connection (Connection: close) */
	double rps;    /* requests per second on kept connections */
	long requests; /* over all its runs */
	long errors;   /* socket errors and non-200 answers, over all its runs */
	char why[160]; /* when not ok: what went wrong */
};

struct report {
	/* the run */
	char date[16];	  /* YYYY-MM-DD */
	char kernel[256]; /* uname -srm */
	char cpu[128];	  /* model name */
	int cores;
	int rounds;
	int ncounts;
	int counts[REPORT_MAX_COUNTS];
	int pods;    /* = endpoints of every service */
	int threads; /* client threads */
	int concurrency;
	int chunks; /* each measurement in this many slices, interleaved between paths */
	long conns, requests, latency_conns;
	double seconds; /* time limit of one measurement */
	int req_size, resp_size;
	/* the figures */
	struct measure m[PATH__MAX][REPORT_MAX_COUNTS][REPORT_MAX_ROUNDS];
	/* forwarding 64-byte UDP frames (flood.h) */
	struct {
		double pps;	      /* delivered per second */
		double pps_node_core; /* per busy second of the node's CPU; 0 = not measured */
		long sent, delivered;
	} flood[PATH__MAX][REPORT_MAX_COUNTS][REPORT_MAX_ROUNDS];
	long flood_packets;
	double flood_seconds;
	long flood_rate; /* frames per second offered */
	/*
	 * capstan-agent's resident memory (KiB; 0 = not measured): [0] once every
	 * service is programmed, [1] after the endpoint changes (each re-reads
	 * the whole --static file)
	 */
	long agent_rss_kib[2][REPORT_MAX_COUNTS][REPORT_MAX_ROUNDS];
	/* the cross-check with wrk; wrk_slices 0 = not run */
	struct wrk_measure wrk[PATH__MAX][REPORT_MAX_COUNTS][REPORT_MAX_ROUNDS];
	int wrk_slices;
	int wrk_conns; /* wrk's connections, a thread each */
	double prog_s[PROG__MAX][REPORT_MAX_COUNTS][REPORT_MAX_ROUNDS]; /* < 0: none */
	double prog_limit_s[PROG__MAX][REPORT_MAX_COUNTS]; /* > 0: stopped at this limit */
	/* why a path is missing, and what went wrong on the way; "" when nothing */
	char skipped[PATH__MAX][1024];
	char notes[4096];
	bool interrupted;
};

/* Path names as the table shows them. */
extern const char *const report_path_title[PATH__MAX];
extern const char *const report_prog_title[PROG__MAX];

enum report_field {
	REPORT_F_CPS,
	REPORT_F_RPS,
	REPORT_F_P50,
	REPORT_F_P99,
	REPORT_F_CPU_CONN,
	REPORT_F_CPU_REQ,
};

/*
 * A field's median over the rounds for path p and count c, as a value or
 * as a ratio to the path's direct baseline (report_base_path) in each
 * round. false when no round has it.
 */
bool report_median(const struct report *r, enum bench_path p, int c, enum report_field f,
		   bool ratio, double *out);
/* A programming time's median over the rounds, seconds; false when none. */
bool report_prog_median(const struct report *r, enum bench_prog p, int c, double *out);

/* Empty report: every prog_s < 0, every measure not ok. */
void report_init(struct report *r);

/* Append a line to r->notes (dropped once the buffer is full). */
void report_note(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The whole Markdown report. */
void report_print(FILE *f, const struct report *r);

/*
 * The lowest median ratio of socket LB to direct connection rate over the
 * service counts (the target is >= 0.97). 0 on success, -ENOENT
 * when no socket-LB figure exists.
 */
int report_socklb_worst(const struct report *r, double *ratio, int *count);

/*
 * The lowest median ratio of XDP NodePort to kube-proxy iptables (nf_tables)
 * forwarding packets per second per node core over the service counts (the
 * target is >= 3). 0, or -ENOENT when either figure is missing.
 */
int report_xdp_flood_worst(const struct report *r, double *ratio, int *count);

#endif
