/*
 * BPF_PROG_TEST_RUN tests for bpf/bench_gen.bpf.c, the frame generator of
 * the forwarding benchmark: every frame it sends carries the template's
 * headers (whatever the page held before) with a source port in range, and
 * it holds its rate in bursts, dropping the runs in between.
 */
#include "test.h"
#include "fixture.h"

#include <linux/if_link.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_gen.skel.h"

#define FRAME 60

static void template_frame(__u8 *f)
{
	for (int i = 0; i < FRAME; i++)
		f[i] = (__u8)(0x40 + i);
	f[34] = 0; /* the source port: written by the program */
	f[35] = 0;
}

static struct bench_gen *load(const __u8 *tmpl, __u64 burst_ns, __u32 burst, __u64 max)
{
	struct bench_gen *g = bench_gen__open();

	ASSERT(g);
	memcpy((void *)g->rodata->template, tmpl, sizeof(g->rodata->template));
	g->rodata->burst_ns = burst_ns;
	g->rodata->burst = burst;
	g->rodata->max_frames = max;
	g->rodata->sport_base = 20000;
	g->rodata->flows = 16;
	ASSERT_OK(bench_gen__load(g));
	return g;
}

/* One run on a page full of junk: returns the verdict, out holds the frame. */
static __u32 run(struct bench_gen *g, __u8 *out)
{
	__u8 junk[FRAME];

	memset(junk, 0xee, sizeof(junk));
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = junk, .data_size_in = FRAME, .data_out = out,
		    .data_size_out = FRAME, .repeat = 1);
	ASSERT_OK(bpf_prog_test_run_opts(bpf_program__fd(g->progs.bench_gen), &o));
	return o.retval;
}

TEST(bench_gen_writes_template_and_port)
{
	__u8 tmpl[FRAME], out[FRAME];
	struct bench_gen *g;
	bool seen[16] = { false };
	int distinct = 0;

	fixture_require_bpf();
	template_frame(tmpl);
	g = load(tmpl, 1, 1000000, 0);
	for (int i = 0; i < 400; i++) {
		unsigned port;

		ASSERT_EQ(run(g, out), XDP_TX);
		/* Every header byte from the template, the port aside; the payload left alone. */
		for (int b = 0; b < 48; b++)
			if (b != 34 && b != 35)
				ASSERT_MSG(out[b] == tmpl[b], "byte %d: %#x, want %#x", b, out[b],
					   tmpl[b]);
		ASSERT_EQ(out[50], 0xee);
		port = (unsigned)out[34] << 8 | out[35];
		ASSERT_MSG(port >= 20000 && port < 20016, "source port %u", port);
		if (!seen[port - 20000]) {
			seen[port - 20000] = true;
			distinct++;
		}
	}
	/* 400 random picks of 16 ports: all of them, but for odds below 1e-10. */
	ASSERT_EQ(distinct, 16);
	ASSERT_EQ(g->bss->sent, 400);
	bench_gen__destroy(g);
}

TEST(bench_gen_holds_the_rate_in_bursts)
{
	__u8 tmpl[FRAME], out[FRAME];
	struct bench_gen *g;
	struct timespec a, b;
	double ms;

	fixture_require_bpf();
	template_frame(tmpl);
	/* Bursts of 4 frames, one every 20 ms: 12 frames are 3 bursts, the last two waited for. */
	g = load(tmpl, 20 * 1000000ull, 4, 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 12; i++)
		ASSERT_EQ(run(g, out), XDP_TX); /* waited for, never dropped */
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	ASSERT_MSG(ms >= 39, "12 frames in %.1f ms, want at least 2 x 20 ms", ms);
	ASSERT_EQ(g->bss->sent, 12);
	bench_gen__destroy(g);
}

TEST(bench_gen_stops_at_max_frames)
{
	__u8 tmpl[FRAME], out[FRAME];
	struct bench_gen *g;
	int tx = 0;

	fixture_require_bpf();
	template_frame(tmpl);
	g = load(tmpl, 1, 1000000, 7);
	for (int i = 0; i < 20; i++)
		tx += run(g, out) == XDP_TX;
	ASSERT_EQ(tx, 7);
	bench_gen__destroy(g);
}

TEST(bench_gen_drops_short_frames)
{
	__u8 tmpl[FRAME], small[20] = { 0 };
	struct bench_gen *g;

	fixture_require_bpf();
	template_frame(tmpl);
	g = load(tmpl, 1, 1000000, 0);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = small, .data_size_in = sizeof(small),
		    .repeat = 1);
	ASSERT_OK(bpf_prog_test_run_opts(bpf_program__fd(g->progs.bench_gen), &o));
	ASSERT_EQ(o.retval, XDP_DROP);
	ASSERT_EQ(g->bss->sent, 0);
	bench_gen__destroy(g);
}
