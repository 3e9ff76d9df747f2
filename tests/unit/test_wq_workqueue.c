/*
 * Unit tests for control/controllers/workqueue: dedup, one worker per key,
 * re-queue after done, back-off growth and cap, delayed adds (earliest
 * wins), shutdown, bad arguments. Timing checks use small back-offs and
 * bound the measured delay on both sides with slack for a loaded machine.
 */
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "control/controllers/workqueue.h"
#include "util.h"

static void get_expect(struct workqueue *q, const char *want, int timeout_ms)
{
	char buf[64];

	ASSERT_OK(wq_get(q, buf, sizeof(buf), timeout_ms));
	ASSERT_STREQ(buf, want);
}

static void get_none(struct workqueue *q, int timeout_ms)
{
	char buf[64];

	ASSERT_EQ(wq_get(q, buf, sizeof(buf), timeout_ms), -ETIMEDOUT);
}

/* Milliseconds until the next key arrives (which must be want). */
static long wait_ms(struct workqueue *q, const char *want)
{
	uint64_t t0 = now_mono_ns();

	get_expect(q, want, 5000);
	return (long)((now_mono_ns() - t0) / 1000000);
}

TEST(wq_dedup_and_fifo_order)
{
	struct workqueue *q = wq_new("t", 0, 0);

	wq_add(q, "ns/a");
	wq_add(q, "ns/b");
	wq_add(q, "ns/a");
	wq_add(q, "ns/c");
	ASSERT_EQ(wq_len(q), 3);
	get_expect(q, "ns/a", 0);
	get_expect(q, "ns/b", 0);
	get_expect(q, "ns/c", 0);
	get_none(q, 0);
	wq_done(q, "ns/a");
	wq_done(q, "ns/b");
	wq_done(q, "ns/c");
	ASSERT_EQ(wq_len(q), 0);
	wq_free(q);
}

TEST(wq_key_being_processed_is_not_handed_out_and_requeued_after_done)
{
	struct workqueue *q = wq_new("t", 0, 0);

	wq_add(q, "k");
	get_expect(q, "k", 0);
	wq_add(q, "k");
	wq_add(q, "k");
	ASSERT_EQ(wq_len(q), 0);
	get_none(q, 20);
	wq_done(q, "k");
	ASSERT_EQ(wq_len(q), 1);
	get_expect(q, "k", 0);
	wq_done(q, "k");
	/* Not added while processed the second time: gone for good. */
	ASSERT_EQ(wq_len(q), 0);
	get_none(q, 0);
	wq_free(q);
}

/* Workers check that no two of them ever hold the same key. */
struct excl {
	struct workqueue *q;
	atomic_int holders[4];
	atomic_int violations;
	atomic_int processed;
};

static void *excl_worker(void *arg)
{
	struct excl *e = arg;
	char key[16];

	while (wq_get(e->q, key, sizeof(key), -1) == 0) {
		int k = key[1] - '0';

		if (atomic_fetch_add(&e->holders[k], 1) != 0)
			atomic_fetch_add(&e->violations, 1);
		usleep(200);
		atomic_fetch_sub(&e->holders[k], 1);
		atomic_fetch_add(&e->processed, 1);
		wq_done(e->q, key);
	}
	return NULL;
}

TEST(wq_no_two_workers_hold_one_key)
{
	struct excl e = { .q = wq_new("t", 0, 0) };
	pthread_t th[6];
	char key[8];

	for (size_t i = 0; i < ARRAY_SIZE(th); i++)
		ASSERT_OK(pthread_create(&th[i], NULL, excl_worker, &e));
	for (int i = 0; i < 4000; i++) {
		snprintf(key, sizeof(key), "k%d", i % 4);
		wq_add(e.q, key);
		if (i % 50 == 0)
			usleep(100);
	}
	/* Let the workers drain, then stop them. */
	for (int i = 0; i < 200 && wq_len(e.q) > 0; i++)
		usleep(10000);
	usleep(20000);
	wq_shutdown(e.q);
	for (size_t i = 0; i < ARRAY_SIZE(th); i++)
		pthread_join(th[i], NULL);
	ASSERT_EQ(atomic_load(&e.violations), 0);
	/* Deduplication means far fewer runs than adds, but at least one per key. */
	ASSERT(atomic_load(&e.processed) >= 4);
	ASSERT(atomic_load(&e.processed) < 4000);
	wq_free(e.q);
}

TEST(wq_backoff_doubles_caps_and_resets_on_forget)
{
	struct workqueue *q = wq_new("t", 20, 80);
	const long want[] = { 20, 40, 80, 80 };
	long ms;

	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		wq_add_rate_limited(q, "k");
		ASSERT_EQ(wq_requeues(q, "k"), i + 1);
		/* Not queued yet: it is delayed. */
		ASSERT_EQ(wq_len(q), 0);
		ms = wait_ms(q, "k");
		ASSERT_MSG(ms >= want[i] - 1 && ms < want[i] + 500,
			   "failure %zu: requeued after %ld ms, want %ld", i + 1, ms, want[i]);
		wq_done(q, "k");
	}
	wq_forget(q, "k");
	ASSERT_EQ(wq_requeues(q, "k"), 0);
	wq_add_rate_limited(q, "k");
	ms = wait_ms(q, "k");
	ASSERT_MSG(ms >= 19 && ms < 520, "after forget: %ld ms, want 20", ms);
	wq_done(q, "k");
	/* Back-off is per key. */
	ASSERT_EQ(wq_requeues(q, "other"), 0);
	wq_free(q);
}

TEST(wq_default_backoff_starts_at_5ms)
{
	struct workqueue *q = wq_new("t", 0, 0);
	long ms;

	wq_add_rate_limited(q, "k");
	ms = wait_ms(q, "k");
	ASSERT_MSG(ms >= 4 && ms < 500, "first retry after %ld ms, want 5", ms);
	wq_done(q, "k");
	wq_free(q);
}

TEST(wq_delayed_adds_fire_in_due_order_and_earliest_wins)
{
	struct workqueue *q = wq_new("t", 0, 0);
	uint64_t t0 = now_mono_ns();
	long ms;

	wq_add_after(q, "late", 120);
	wq_add_after(q, "early", 30);
	ASSERT_EQ(wq_len(q), 0);
	get_expect(q, "early", 5000);
	ms = (long)((now_mono_ns() - t0) / 1000000);
	ASSERT_MSG(ms >= 29 && ms < 119 + 500, "early after %ld ms", ms);
	get_expect(q, "late", 5000);
	ms = (long)((now_mono_ns() - t0) / 1000000);
	ASSERT_MSG(ms >= 119, "late after %ld ms", ms);
	wq_done(q, "early");
	wq_done(q, "late");

	/* Delayed twice: fires once, at the earlier time. */
	t0 = now_mono_ns();
	wq_add_after(q, "k", 600);
	wq_add_after(q, "k", 20);
	wq_add_after(q, "k", 400);
	get_expect(q, "k", 5000);
	ms = (long)((now_mono_ns() - t0) / 1000000);
	ASSERT_MSG(ms >= 19 && ms < 380, "k after %ld ms, want 20", ms);
	wq_done(q, "k");
	/* The later entries for it are stale: nothing fires at 400 or 600 ms. */
	get_none(q, 700);

	/* A delay of 0 is an immediate add. */
	wq_add_after(q, "now", 0);
	ASSERT_EQ(wq_len(q), 1);
	get_expect(q, "now", 0);
	wq_done(q, "now");
	wq_free(q);
}

TEST(wq_delayed_key_already_queued_is_not_duplicated)
{
	struct workqueue *q = wq_new("t", 0, 0);

	wq_add(q, "k");
	wq_add_after(q, "k", 10);
	usleep(30000);
	ASSERT_EQ(wq_len(q), 1);
	get_expect(q, "k", 0);
	get_none(q, 0);
	wq_done(q, "k");
	wq_free(q);
}

struct blocked {
	struct workqueue *q;
	int rc;
};

static void *blocked_get(void *arg)
{
	struct blocked *b = arg;
	char key[16];

	b->rc = wq_get(b->q, key, sizeof(key), -1);
	return NULL;
}

TEST(wq_shutdown_wakes_waiters_and_ignores_later_adds)
{
	struct blocked b[3];
	struct workqueue *q = wq_new("t", 0, 0);
	pthread_t th[3];
	char key[16];

	for (int i = 0; i < 3; i++) {
		b[i] = (struct blocked){ .q = q, .rc = 1 };
		ASSERT_OK(pthread_create(&th[i], NULL, blocked_get, &b[i]));
	}
	usleep(30000);
	wq_shutdown(q);
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		ASSERT_EQ(b[i].rc, -ECANCELED);
	}
	wq_add(q, "k");
	wq_add_after(q, "d", 1);
	wq_add_rate_limited(q, "r");
	usleep(5000);
	ASSERT_EQ(wq_len(q), 0);
	ASSERT_EQ(wq_get(q, key, sizeof(key), 100), -ECANCELED);
	wq_free(q);
}

TEST(wq_timeout_and_bad_arguments)
{
	struct workqueue *q = wq_new(NULL, 0, 0);
	uint64_t t0 = now_mono_ns();
	char small[4], buf[32];

	get_none(q, 50);
	ASSERT((now_mono_ns() - t0) / 1000000 >= 49);
	ASSERT_EQ(wq_get(q, buf, 0, 0), -EINVAL);
	ASSERT_EQ(wq_get(q, NULL, 10, 0), -EINVAL);
	/* A key longer than the buffer stays queued instead of being cut. */
	wq_add(q, "default/long-name");
	ASSERT_EQ(wq_get(q, small, sizeof(small), 0), -ENOSPC);
	ASSERT_EQ(wq_len(q), 1);
	ASSERT_OK(wq_get(q, buf, sizeof(buf), 0));
	ASSERT_STREQ(buf, "default/long-name");
	wq_done(q, buf);
	/* Keys jansson cannot hold (not UTF-8) are dropped, not crashed on. */
	wq_add(q, "bad\xff");
	ASSERT_EQ(wq_len(q), 0);
	/* Freeing with work still queued and delayed releases everything. */
	wq_add(q, "a");
	wq_add_after(q, "b", 100000);
	wq_free(q);
	wq_free(NULL);
}
