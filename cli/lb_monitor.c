/*
 * lb_monitor.c - see lb_monitor.h.
 *
 * The poll loop waits at most 200 ms at a time, so a signal that lands just
 * before epoll_wait (where it cannot interrupt the wait) still ends the
 * monitor promptly, and the deadline is checked on every turn. Signals are
 * installed without SA_RESTART so that a signal during the wait returns
 * -EINTR at once; the previous handlers are put back before returning.
 * SIGPIPE is ignored while running: a closed output (`| head`) must end the
 * loop through the write error and still restore the config flag, not kill
 * the process with events left on.
 */
#include "lb_monitor.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "util.h"

/* Longest single wait in the poll loop (ms). */
#define POLL_SLICE_MS 200

static volatile sig_atomic_t monitor_stop;

static void on_signal(int sig)
{
	monitor_stop = 1;
}

struct monitor_ctx {
	FILE *out;
	enum cli_lb_output fmt;
	int64_t wall_offset_ns;
	uint64_t start_mono_ns;
	unsigned long count, seen;
	bool out_failed;
	struct buf line;
};

static int on_event(void *arg, void *data, size_t len)
{
	struct monitor_ctx *m = arg;
	uint64_t ts;

	/* A record written before we started is stale: nobody consumed it in time. */
	if (len >= sizeof(ts)) {
		memcpy(&ts, data, sizeof(ts));
		if (ts < m->start_mono_ns)
			return 0;
	}
	buf_reset(&m->line);
	cli_lb_format_event(data, len, m->wall_offset_ns, m->fmt, &m->line);
	if (fputs(m->line.data, m->out) == EOF || fflush(m->out) == EOF) {
		m->out_failed = true;
		return -EPIPE;
	}
	m->seen++;
	/* A negative return makes ring_buffer__poll stop consuming here. */
	if (m->count && m->seen >= m->count)
		return -ECANCELED;
	return 0;
}

static int config_get(int fd, __u32 *flags)
{
	struct capstan_config cfg;
	__u32 key = 0;

	if (bpf_map_lookup_elem(fd, &key, &cfg) != 0)
		return -errno;
	*flags = cfg.flags;
	return 0;
}

/*
 * Only the flags change: the rest of the entry (node address, Maglev size
 * and seed, SNAT ports) is the agent's, and the north-south programs
 * translate nothing without it. The entry is read back and written whole
 * (an array map has no partial update); the agent writes it only when it
 * starts.
 */
static int config_set(int fd, __u32 flags)
{
	struct capstan_config cfg;
	__u32 key = 0;

	if (bpf_map_lookup_elem(fd, &key, &cfg) != 0)
		return -errno;
	cfg.flags = flags;
	return bpf_map_update_elem(fd, &key, &cfg, BPF_ANY) != 0 ? -errno : 0;
}

/* The event_lost drop counter, or 0 when it cannot be read. */
static unsigned long long events_lost(int drop_fd)
{
	__u64 n = 0;

	if (drop_fd < 0 || cli_lb_percpu_sum(drop_fd, CAPSTAN_DROP_EVENT_LOST, sizeof(n), &n) != 0)
		return 0;
	return n;
}

int cli_lb_monitor_run(const struct cli_lb_monitor_opts *o, FILE *out, FILE *info,
		       struct cli_lb_monitor_result *res, char *err, size_t errlen)
{
	struct sigaction sa = { .sa_handler = on_signal }, ign = { .sa_handler = SIG_IGN };
	struct sigaction old_int, old_term, old_pipe;
	struct monitor_ctx m = { .out = out };
	struct cli_lb_monitor_result r = { .restored_flags = -1 };
	struct ring_buffer *rb = NULL;
	int cfg_fd = -1, evt_fd = -1, drop_fd = -1, ret = 0;
	bool enabled = false, signals = false;
	unsigned long long lost_before, lost_after;
	char ignored[256];
	uint64_t deadline;
	__u32 found = 0, now_flags = 0;

	if (!o || !o->dir || !*o->dir || !out || o->duration_ms == 0 ||
	    o->duration_ms > CLI_LB_MONITOR_MAX_MS ||
	    (o->fmt != CLI_LB_OUT_TEXT && o->fmt != CLI_LB_OUT_JSON &&
	     o->fmt != CLI_LB_OUT_JSON_LINE)) {
		snprintf(err, errlen, "bad monitor options (duration must be 1 ms to 1 hour)");
		ret = -EINVAL;
		goto out;
	}
	cfg_fd = cli_lb_map_open(o->dir, CAPSTAN_MAP_CONFIG, false, err, errlen);
	if (cfg_fd < 0) {
		ret = cfg_fd;
		goto out;
	}
	evt_fd = cli_lb_map_open(o->dir, CAPSTAN_MAP_EVENTS, false, err, errlen);
	if (evt_fd < 0) {
		ret = evt_fd;
		goto out;
	}
	/* Optional: without it the monitor cannot say how many events were lost. */
	drop_fd = cli_lb_map_open(o->dir, CAPSTAN_MAP_DROPS, true, ignored, sizeof(ignored));
	m.fmt = o->fmt == CLI_LB_OUT_JSON ? CLI_LB_OUT_JSON_LINE : o->fmt;
	m.count = o->count;
	rb = ring_buffer__new(evt_fd, on_event, &m, NULL);
	if (!rb) {
		ret = -errno;
		snprintf(err, errlen, "%s/%s: ring buffer: %s", o->dir, CAPSTAN_MAP_EVENTS,
			 strerror(-ret));
		goto out;
	}
	ret = config_get(cfg_fd, &found);
	if (ret) {
		snprintf(err, errlen, "%s/%s: read: %s", o->dir, CAPSTAN_MAP_CONFIG,
			 strerror(-ret));
		goto out;
	}

	monitor_stop = 0;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&ign.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGPIPE, &ign, &old_pipe);
	signals = true;

	lost_before = events_lost(drop_fd);
	m.start_mono_ns = now_mono_ns();
	m.wall_offset_ns = (int64_t)(now_real_ns() - m.start_mono_ns);
	if (!(found & CAPSTAN_CFG_EVENTS)) {
		ret = config_set(cfg_fd, found | CAPSTAN_CFG_EVENTS);
		if (ret) {
			snprintf(err, errlen, "%s/%s: write: %s", o->dir, CAPSTAN_MAP_CONFIG,
				 strerror(-ret));
			goto out;
		}
		enabled = true;
	}
	if (info) {
		fprintf(info, "capstan lb monitor: events from %s/%s for %g s", o->dir,
			CAPSTAN_MAP_EVENTS, (double)o->duration_ms / 1000);
		if (o->count)
			fprintf(info, " or %lu events", o->count);
		fprintf(info, " (Ctrl-C stops)\n");
	}

	deadline = m.start_mono_ns + o->duration_ms * 1000000ull;
	while (!monitor_stop && !m.out_failed) {
		uint64_t now = now_mono_ns();
		int n;

		if (now >= deadline)
			break;
		n = ring_buffer__poll(
			rb, (int)MIN((deadline - now) / 1000000 + 1, (uint64_t)POLL_SLICE_MS));
		if (n == -ECANCELED || n == -EPIPE) /* count reached, output closed */
			break;
		if (n < 0 && n != -EINTR) {
			ret = n;
			snprintf(err, errlen, "%s/%s: poll: %s", o->dir, CAPSTAN_MAP_EVENTS,
				 strerror(-n));
			break;
		}
	}
	r.events = m.seen;
	lost_after = events_lost(drop_fd);
	r.lost = lost_after >= lost_before ? lost_after - lost_before : lost_after;
	if (info && !ret)
		fprintf(info,
			"capstan lb monitor: %lu events printed, %llu lost to a full ring buffer\n",
			r.events, r.lost);
out:
	/* Put back the flag we found; leave every other bit as it is now. */
	if (enabled && config_get(cfg_fd, &now_flags) == 0) {
		now_flags &= ~CAPSTAN_CFG_EVENTS;
		if (config_set(cfg_fd, now_flags) == 0)
			r.restored_flags = (int)now_flags;
	}
	if (signals) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		sigaction(SIGPIPE, &old_pipe, NULL);
	}
	ring_buffer__free(rb);
	buf_free(&m.line);
	if (drop_fd >= 0)
		close(drop_fd);
	if (evt_fd >= 0)
		close(evt_fd);
	if (cfg_fd >= 0)
		close(cfg_fd);
	if (res)
		*res = r;
	return ret;
}
