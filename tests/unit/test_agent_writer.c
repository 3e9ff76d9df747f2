/*
 * Unit tests for agent/lb/writer (and ids, u64map): the exact sequence of
 * map operations for each kind of change, that nothing still correct is
 * rewritten, id allocation and reuse, reading pinned maps back, failures,
 * and the byte layout of what is written.
 */
#include "test.h"
#include "test_agent_fake.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "agent/lb/ids.h"
#include "agent/lb/u64map.h"
#include "agent/lb/writer.h"

#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP

static struct fake_maps fm;

static struct lb_writer *writer(uint32_t max_rnat, uint32_t max_be)
{
	struct lb_writer_config c = {
		.ops = &fake_ops, .ops_ctx = &fm, .max_rev_nat = max_rnat, .max_backend = max_be
	};
	struct lb_writer *w;

	fake_init(&fm);
	w = lb_writer_new(&c);
	ASSERT_NOT_NULL(w);
	return w;
}

/*
 * A service port with backends "a.b.c.d:port" (active) and, after a "|",
 * terminating ones. bes must hold them all.
 */
static struct lb_frontend fe(const char *vip, unsigned port, int proto, struct capstan_backend *bes,
			     const char *const *list)
{
	struct lb_frontend f = { .proto = (__u8)proto,
				 .vip_flags = CAPSTAN_VIP_F_CLUSTER_IP,
				 .backends = bes };
	bool term = false;

	inet_pton(AF_INET, vip, &f.addr);
	f.port = htons((uint16_t)port);
	for (; list && *list; list++) {
		char addr[32];
		unsigned p;

		if (strcmp(*list, "|") == 0) {
			term = true;
			continue;
		}
		ASSERT_EQ(sscanf(*list, "%31[^:]:%u", addr, &p), 2);
		bes[f.n_active + f.n_terminating] = fake_backend(
			addr, p, proto, term ? CAPSTAN_BE_TERMINATING : CAPSTAN_BE_ACTIVE);
		if (term)
			f.n_terminating++;
		else
			f.n_active++;
	}
	return f;
}

/* One round that sets one service; returns the set_service result. */
static int apply(struct lb_writer *w, const char *owner, const struct lb_frontend *f, size_t n)
{
	int rc;

	lb_writer_begin(w, false);
	rc = lb_writer_set_service(w, owner, f, n, NULL);
	ASSERT_OK(lb_writer_commit(w, NULL));
	return rc;
}

static void done(struct lb_writer *w)
{
	lb_writer_free(w);
	fake_free(&fm);
}

/* The fake's log must be exactly these operations, in this order. */
#define EXPECT_OPS(...) \
	ASSERT_STREQ(fake_log(&fm), fake_join((const char *[]){ __VA_ARGS__, NULL }))

TEST(agent_writer_new_service_writes_backends_then_slots_then_slot0)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b[4];
	const char *list[] = { "10.244.1.2:8080", "10.244.1.1:8080", NULL };
	struct lb_frontend f = fe("10.96.0.10", 80, TCP, b, list);

	ASSERT_OK(apply(w, "default/web", &f, 1));
	EXPECT_OPS("Z bcnt 1", "B+ 1 10.244.1.2:8080/6 active", "Z bcnt 2",
		   "B+ 2 10.244.1.1:8080/6 active", "Z scnt 1", "R+ 1 10.96.0.10:80/6",
		   "S+ 10.96.0.10:80/6#1 be=1", "S+ 10.96.0.10:80/6#2 be=2",
		   "S+ 10.96.0.10:80/6#0 count=2 rnat=1 flags=0 to=0", "V+ 10.96.0.10 1");
	done(w);
}

TEST(agent_writer_unchanged_service_rewrites_nothing)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b[4];
	const char *list[] = { "10.244.1.1:8080", "10.244.1.2:8080", NULL };
	struct lb_frontend f = fe("10.96.0.10", 80, TCP, b, list);
	size_t ops = 99;

	ASSERT_OK(apply(w, "default/web", &f, 1));
	fake_log_reset(&fm);
	lb_writer_begin(w, true); /* even a full round */
	ASSERT_OK(lb_writer_set_service(w, "default/web", &f, 1, &ops));
	ASSERT_OK(lb_writer_commit(w, NULL));
	ASSERT_EQ(ops, 0);
	ASSERT_STREQ(fake_log(&fm), "");
	done(w);
}

TEST(agent_writer_grow_writes_new_slot_before_count)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b[4];
	const char *two[] = { "10.244.1.1:8080", "10.244.1.2:8080", NULL };
	const char *three[] = { "10.244.1.1:8080", "10.244.1.2:8080", "10.244.1.3:8080", NULL };
	struct lb_frontend f = fe("10.96.0.10", 80, TCP, b, two);

	ASSERT_OK(apply(w, "default/web", &f, 1));
	fake_log_reset(&fm);
	f = fe("10.96.0.10", 80, TCP, b, three);
	ASSERT_OK(apply(w, "default/web", &f, 1));
	EXPECT_OPS("Z bcnt 3", "B+ 3 10.244.1.3:8080/6 active", "S+ 10.96.0.10:80/6#3 be=3",
		   "S+ 10.96.0.10:80/6#0 count=3 rnat=1 flags=0 to=0");
	done(w);
}

TEST(agent_writer_shrink_writes_count_first_and_deletes_backends_last)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b[4];
	const char *three[] = { "10.244.1.1:8080", "10.244.1.2:8080", "10.244.1.3:8080", NULL };
	const char *one[] = { "10.244.1.3:8080", NULL };
	struct lb_frontend f = fe("10.96.0.10", 80, TCP, b, three);

	ASSERT_OK(apply(w, "default/web", &f, 1));
	fake_log_reset(&fm);
	f = fe("10.96.0.10", 80, TCP, b, one);
	ASSERT_OK(apply(w, "default/web", &f, 1));
	/* Backend 3 moves from slot 3 to slot 1 once the count says 1. */
	EXPECT_OPS("S+ 10.96.0.10:80/6#0 count=1 rnat=1 flags=0 to=0", "S+ 10.96.0.10:80/6#1 be=3",
		   "S- 10.96.0.10:80/6#3", "S- 10.96.0.10:80/6#2", "B- 1", "B- 2");
	done(w);
}

TEST(agent_writer_replacing_one_backend_rewrites_one_slot)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b[4];
	const char *before[] = { "10.244.1.1:8080", "10.244.1.2:8080", "10.244.1.3:8080", NULL };
	const char *after[] = { "10.244.1.1:8080", "10.244.1.3:8080", "10.244.1.4:8080", NULL };
	struct lb_frontend f = fe("10.96.0.10", 80, TCP, b, before);

	ASSERT_OK(apply(w, "default/web", &f, 1));
	fake_log_reset(&fm);
	f = fe("10.96.0.10", 80, TCP, b, after);
	ASSERT_OK(apply(w, "default/web", &f, 1));
	EXPECT_OPS("Z bcnt 4", "B+ 4 10.244.1.4:8080/6 active", "S+ 10.96.0.10:80/6#2 be=4",
		   "B- 2");
	done(w);
}

TEST(agent_writer_flags_change_rewrites_only_slot0)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b[4];
	const char *list[] = { "10.244.1.1:8080", NULL };
	struct lb_frontend f = fe("10.96.0.10", 80, TCP, b, list);

	ASSERT_OK(apply(w, "default/web", &f, 1));
	fake_log_reset(&fm);
	f.flags = CAPSTAN_SVC_F_AFFINITY;
	f.affinity_timeout = 60;
	ASSERT_OK(apply(w, "default/web", &f, 1));
	EXPECT_OPS("S+ 10.96.0.10:80/6#0 count=1 rnat=1 flags=1 to=60");
	done(w);
}

TEST(agent_writer_remove_service_deletes_slot0_first)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b[4];
	const char *list[] = { "10.244.1.1:8080", "10.244.1.2:8080", NULL };
	struct lb_frontend f = fe("10.96.0.10", 80, TCP, b, list);

	ASSERT_OK(apply(w, "default/web", &f, 1));
	fake_log_reset(&fm);
	ASSERT_OK(apply(w, "default/web", NULL, 0));
	EXPECT_OPS("S- 10.96.0.10:80/6#0", "S- 10.96.0.10:80/6#2", "S- 10.96.0.10:80/6#1", "R- 1",
		   "V- 10.96.0.10", "B- 1", "B- 2");
	ASSERT_EQ(fm.n, 0);
	done(w);
}

TEST(agent_writer_empty_service_has_count_zero)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b[1];
	struct lb_frontend f = fe("10.96.0.11", 53, UDP, b, NULL);
	struct capstan_svc_val v;

	ASSERT_OK(apply(w, "kube-system/dns", &f, 1));
	ASSERT(fake_svc(&fm, "10.96.0.11", 53, UDP, 0, &v));
	ASSERT_EQ(v.count, 0);
	ASSERT_EQ(v.rev_nat_id, 1);
	ASSERT_EQ(fake_count(&fm, LB_MAP_SVC), 1);
	done(w);
}

TEST(agent_writer_shared_backend_has_one_id_and_lives_while_used)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b1[2], b2[2];
	const char *list[] = { "10.244.1.1:8080", NULL };
	struct lb_frontend f1 = fe("10.96.0.10", 80, TCP, b1, list);
	struct lb_frontend f2 = fe("10.96.0.20", 8080, TCP, b2, list);
	struct capstan_svc_val v1, v2;
	__u32 id = 1;

	lb_writer_begin(w, false);
	ASSERT_OK(lb_writer_set_service(w, "a/one", &f1, 1, NULL));
	ASSERT_OK(lb_writer_set_service(w, "a/two", &f2, 1, NULL));
	ASSERT_OK(lb_writer_commit(w, NULL));
	ASSERT(fake_svc(&fm, "10.96.0.10", 80, TCP, 1, &v1));
	ASSERT(fake_svc(&fm, "10.96.0.20", 8080, TCP, 1, &v2));
	ASSERT_EQ(v1.backend_id, v2.backend_id);
	ASSERT_EQ(fake_count(&fm, LB_MAP_BACKEND), 1);

	ASSERT_OK(apply(w, "a/one", NULL, 0));
	ASSERT(fake_get(&fm, LB_MAP_BACKEND, &id, NULL));
	ASSERT_OK(apply(w, "a/two", NULL, 0));
	ASSERT(!fake_get(&fm, LB_MAP_BACKEND, &id, NULL));
	done(w);
}

TEST(agent_writer_same_address_other_protocol_is_another_backend)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend bt[2], bu[2];
	const char *list[] = { "10.244.1.1:53", NULL };
	struct lb_frontend f[2] = { fe("10.96.0.10", 53, TCP, bt, list),
				    fe("10.96.0.10", 53, UDP, bu, list) };

	ASSERT_OK(apply(w, "kube-system/dns", f, 2));
	ASSERT_EQ(fake_count(&fm, LB_MAP_BACKEND), 2);
	ASSERT_EQ(fake_count(&fm, LB_MAP_REVNAT), 2);
	ASSERT_EQ(fake_count(&fm, LB_MAP_VIP), 1);
	/* Dropping one port keeps the VIP for the other. */
	ASSERT_OK(apply(w, "kube-system/dns", &f[1], 1));
	ASSERT_EQ(fake_count(&fm, LB_MAP_VIP), 1);
	ASSERT(!fake_svc(&fm, "10.96.0.10", 53, TCP, 0, NULL));
	ASSERT(fake_svc(&fm, "10.96.0.10", 53, UDP, 0, NULL));
	done(w);
}

TEST(agent_writer_terminating_backends_stay_out_of_slots)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b[4], got;
	const char *start[] = { "10.244.1.1:8080", "|", "10.244.1.2:8080", NULL };
	const char *swap[] = { "10.244.1.2:8080", "|", "10.244.1.1:8080", NULL };
	struct lb_frontend f = fe("10.96.0.10", 80, TCP, b, start);
	__u32 id1 = 1, id2 = 2;

	f.flags = CAPSTAN_SVC_F_AFFINITY;
	ASSERT_OK(apply(w, "default/web", &f, 1));
	ASSERT(fake_get(&fm, LB_MAP_BACKEND, &id2, &got));
	ASSERT_EQ(got.state, CAPSTAN_BE_TERMINATING);
	ASSERT(!fake_svc(&fm, "10.96.0.10", 80, TCP, 2, NULL));

	/* Backend 2 becomes active (written before its slot), 1 terminating
	 * (rewritten at commit, after the slot stopped naming it). */
	fake_log_reset(&fm);
	f = fe("10.96.0.10", 80, TCP, b, swap);
	f.flags = CAPSTAN_SVC_F_AFFINITY;
	ASSERT_OK(apply(w, "default/web", &f, 1));
	EXPECT_OPS("B+ 2 10.244.1.2:8080/6 active", "S+ 10.96.0.10:80/6#1 be=2",
		   "B+ 1 10.244.1.1:8080/6 terminating");
	ASSERT(fake_get(&fm, LB_MAP_BACKEND, &id1, &got));
	ASSERT_EQ(got.state, CAPSTAN_BE_TERMINATING);

	/* Gone from the list: deleted. */
	f = fe("10.96.0.10", 80, TCP, b, (const char *[]){ "10.244.1.2:8080", NULL });
	ASSERT_OK(apply(w, "default/web", &f, 1));
	ASSERT(!fake_get(&fm, LB_MAP_BACKEND, &id1, NULL));
	done(w);
}

TEST(agent_writer_backend_ids_reused_oldest_freed_first)
{
	struct lb_writer *w = writer(0, 5); /* backend ids 1..4 */
	struct capstan_backend b[4];
	struct lb_frontend f;
	struct capstan_svc_val v;

	f = fe("10.96.0.10", 80, TCP, b,
	       (const char *[]){ "10.244.1.1:80", "10.244.1.2:80", "10.244.1.3:80", NULL });
	ASSERT_OK(apply(w, "d/s", &f, 1));
	/* Free 2, then 1: never-used id 4 goes first, then 2, then 1. */
	f = fe("10.96.0.10", 80, TCP, b,
	       (const char *[]){ "10.244.1.1:80", "10.244.1.3:80", NULL });
	ASSERT_OK(apply(w, "d/s", &f, 1));
	f = fe("10.96.0.10", 80, TCP, b, (const char *[]){ "10.244.1.3:80", NULL });
	ASSERT_OK(apply(w, "d/s", &f, 1));
	fake_log_reset(&fm);
	f = fe("10.96.0.10", 80, TCP, b,
	       (const char *[]){ "10.244.1.3:80", "10.244.1.7:80", "10.244.1.8:80", "10.244.1.9:80",
				 NULL });
	ASSERT_OK(apply(w, "d/s", &f, 1));
	ASSERT(fake_log_index(&fm, "B+ 4 10.244.1.7:80/6 active") >= 0);
	ASSERT(fake_log_index(&fm, "B+ 2 10.244.1.8:80/6 active") >= 0);
	ASSERT(fake_log_index(&fm, "B+ 1 10.244.1.9:80/6 active") >= 0);
	/* A reused id starts with zeroed counters, before anything names it. */
	ASSERT(fake_log_index(&fm, "Z bcnt 2") >= 0);
	ASSERT(fake_log_index(&fm, "Z bcnt 2") <
	       fake_log_index(&fm, "B+ 2 10.244.1.8:80/6 active"));
	ASSERT(fake_svc(&fm, "10.96.0.10", 80, TCP, 0, &v));
	ASSERT_EQ(v.count, 4);
	done(w);
}

TEST(agent_writer_out_of_ids_fails_without_breaking_what_exists)
{
	struct lb_writer *w = writer(0, 3); /* backend ids 1..2 */
	struct capstan_backend b[4];
	struct lb_frontend f = fe("10.96.0.10", 80, TCP, b,
				  (const char *[]){ "10.244.1.1:80", "10.244.1.2:80", NULL });
	struct capstan_svc_val v;

	ASSERT_OK(apply(w, "d/s", &f, 1));
	f = fe("10.96.0.10", 80, TCP, b,
	       (const char *[]){ "10.244.1.1:80", "10.244.1.2:80", "10.244.1.3:80", NULL });
	ASSERT_EQ(apply(w, "d/s", &f, 1), -ENOSPC);
	ASSERT(fake_svc(&fm, "10.96.0.10", 80, TCP, 0, &v));
	ASSERT_EQ(v.count, 2);
	ASSERT_EQ(fake_count(&fm, LB_MAP_BACKEND), 2);
	done(w);
}

TEST(agent_writer_rev_nat_ids_stay_with_their_service_port)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b1[1], b2[1], b3[1];
	struct lb_frontend a = fe("10.96.0.10", 80, TCP, b1, NULL);
	struct lb_frontend c = fe("10.96.0.30", 80, TCP, b3, NULL);
	struct lb_frontend both[2] = { fe("10.96.0.20", 80, TCP, b2, NULL), a };
	struct capstan_svc_val v;

	ASSERT_OK(apply(w, "d/a", &a, 1));
	ASSERT_OK(apply(w, "d/b", &both[0], 1));
	/* Service a keeps id 1 whatever happens to b. */
	ASSERT_OK(apply(w, "d/b", NULL, 0));
	ASSERT_OK(apply(w, "d/c", &c, 1));
	ASSERT(fake_svc(&fm, "10.96.0.10", 80, TCP, 0, &v));
	ASSERT_EQ(v.rev_nat_id, 1);
	/* b's freed id 2 waits behind never-used ids. */
	ASSERT(fake_svc(&fm, "10.96.0.30", 80, TCP, 0, &v));
	ASSERT_EQ(v.rev_nat_id, 3);
	done(w);
}

TEST(agent_writer_conflicting_owners_first_wins)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b1[1], b2[1];
	struct lb_frontend fa =
		fe("10.96.0.10", 80, TCP, b1, (const char *[]){ "10.244.1.1:80", NULL });
	struct lb_frontend fb =
		fe("10.96.0.10", 80, TCP, b2, (const char *[]){ "10.244.1.2:80", NULL });
	struct capstan_backend got;
	struct capstan_svc_val v;

	ASSERT_OK(apply(w, "d/a", &fa, 1));
	ASSERT_OK(apply(w, "d/b", &fb, 1));
	ASSERT(fake_svc(&fm, "10.96.0.10", 80, TCP, 1, &v));
	ASSERT(fake_get(&fm, LB_MAP_BACKEND, &v.backend_id, &got));
	ASSERT_EQ(got.addr, fake_backend("10.244.1.1", 80, TCP, 0).addr);
	/* b's removal does not touch a's port. */
	ASSERT_OK(apply(w, "d/b", NULL, 0));
	ASSERT(fake_svc(&fm, "10.96.0.10", 80, TCP, 0, NULL));
	/* a leaves and b takes the address in one full round. */
	lb_writer_begin(w, true);
	ASSERT_OK(lb_writer_set_service(w, "d/b", &fb, 1, NULL));
	ASSERT_OK(lb_writer_commit(w, NULL));
	ASSERT(fake_svc(&fm, "10.96.0.10", 80, TCP, 1, &v));
	ASSERT(fake_get(&fm, LB_MAP_BACKEND, &v.backend_id, &got));
	ASSERT_EQ(got.addr, fake_backend("10.244.1.2", 80, TCP, 0).addr);
	ASSERT_EQ(fake_count(&fm, LB_MAP_BACKEND), 1);
	done(w);
}

TEST(agent_writer_full_round_removes_services_not_set)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b1[1], b2[1];
	struct lb_frontend fa = fe("10.96.0.10", 80, TCP, b1, NULL);
	struct lb_frontend fb = fe("10.96.0.20", 80, TCP, b2, NULL);

	lb_writer_begin(w, false);
	ASSERT_OK(lb_writer_set_service(w, "d/a", &fa, 1, NULL));
	ASSERT_OK(lb_writer_set_service(w, "d/b", &fb, 1, NULL));
	ASSERT_OK(lb_writer_commit(w, NULL));
	ASSERT(lb_writer_begin(w, true));
	ASSERT_OK(lb_writer_set_service(w, "d/a", &fa, 1, NULL));
	ASSERT_OK(lb_writer_commit(w, NULL));
	ASSERT(fake_svc(&fm, "10.96.0.10", 80, TCP, 0, NULL));
	ASSERT(!fake_svc(&fm, "10.96.0.20", 80, TCP, 0, NULL));
	ASSERT_EQ(fake_count(&fm, LB_MAP_VIP), 1);
	done(w);
}

TEST(agent_writer_failed_write_is_repaired_without_rewrites)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b[4];
	struct lb_frontend f = fe("10.96.0.10", 80, TCP, b,
				  (const char *[]){ "10.244.1.1:80", "10.244.1.2:80", NULL });
	struct lb_write_stats st;
	struct capstan_svc_val v;

	/* Ops: Z B+ Z B+ Z R+ S#1 S#2 ...: the 8th (slot 2) fails. */
	fm.fail_at = 7;
	lb_writer_begin(w, false);
	ASSERT_EQ(lb_writer_set_service(w, "d/s", &f, 1, NULL), -EIO);
	ASSERT_OK(lb_writer_commit(w, &st));
	ASSERT_EQ(st.errors, 1);
	/* No slot 0 yet: the half-written service is invisible. */
	ASSERT(!fake_svc(&fm, "10.96.0.10", 80, TCP, 0, NULL));
	ASSERT(fake_svc(&fm, "10.96.0.10", 80, TCP, 1, NULL));
	/* Backend 2 was written but nothing named it: the commit deleted it. */
	ASSERT_EQ(fake_log_index(&fm, "B- 2"), fake_log_lines(&fm) - 1);
	fake_log_reset(&fm);
	ASSERT_OK(apply(w, "d/s", &f, 1));
	/* Slot 1, backend 1 and the rev-NAT entry are not written again. */
	EXPECT_OPS("Z bcnt 3", "B+ 3 10.244.1.2:80/6 active", "S+ 10.96.0.10:80/6#2 be=3",
		   "S+ 10.96.0.10:80/6#0 count=2 rnat=1 flags=0 to=0", "V+ 10.96.0.10 1");
	ASSERT(fake_svc(&fm, "10.96.0.10", 80, TCP, 0, &v));
	ASSERT_EQ(v.count, 2);
	done(w);
}

TEST(agent_writer_failed_delete_is_retried_by_the_next_commit)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b[2];
	struct lb_frontend f =
		fe("10.96.0.10", 80, TCP, b, (const char *[]){ "10.244.1.1:80", NULL });

	ASSERT_OK(apply(w, "d/s", &f, 1));
	/* Removal: S-#0 S-#1 R- then commit V- B-: make V- fail. */
	fm.fail_at = 3;
	lb_writer_begin(w, false);
	ASSERT_OK(lb_writer_set_service(w, "d/s", NULL, 0, NULL));
	ASSERT_EQ(lb_writer_commit(w, NULL), -EIO);
	ASSERT_EQ(fake_count(&fm, LB_MAP_VIP), 1);
	lb_writer_begin(w, false);
	ASSERT_OK(lb_writer_commit(w, NULL));
	ASSERT_EQ(fm.n, 0);
	done(w);
}

static void put_affinity(__u64 client, __u32 rev_nat_id, __u32 backend_id)
{
	struct capstan_affinity_key k = { .client = client, .rev_nat_id = rev_nat_id };
	struct capstan_affinity_val v = { .backend_id = backend_id, .last_used_ns = 1 };

	fake_put(&fm, LB_MAP_AFFINITY, &k, &v);
}

static bool has_affinity(__u64 client, __u32 rev_nat_id)
{
	struct capstan_affinity_key k = { .client = client, .rev_nat_id = rev_nat_id };

	return fake_get(&fm, LB_MAP_AFFINITY, &k, NULL);
}

TEST(agent_writer_affinity_entries_follow_backends_leaving_the_service)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend ba[4], bb[2];
	const char *xy[] = { "10.244.1.1:80", "10.244.1.2:80", NULL };
	const char *x[] = { "10.244.1.1:80", NULL };
	const char *y[] = { "10.244.1.2:80", NULL };
	struct lb_frontend a = fe("10.96.0.10", 80, TCP, ba, xy);
	struct lb_frontend b = fe("10.96.0.20", 80, TCP, bb, x);

	a.flags = CAPSTAN_SVC_F_AFFINITY;
	a.affinity_timeout = 60;
	lb_writer_begin(w, false);
	ASSERT_OK(lb_writer_set_service(w, "d/a", &a, 1, NULL)); /* rev-NAT 1; x = 1, y = 2 */
	ASSERT_OK(lb_writer_set_service(w, "d/b", &b, 1, NULL)); /* rev-NAT 2 */
	ASSERT_OK(lb_writer_commit(w, NULL));
	put_affinity(7, 1, 1);
	put_affinity(8, 1, 2);
	put_affinity(9, 2, 1);

	/* x leaves a but still serves b (so it stays ACTIVE): a forgets it. */
	fake_log_reset(&fm);
	a = fe("10.96.0.10", 80, TCP, ba, y);
	a.flags = CAPSTAN_SVC_F_AFFINITY;
	a.affinity_timeout = 60;
	ASSERT_OK(apply(w, "d/a", &a, 1));
	ASSERT(!has_affinity(7, 1));
	ASSERT(has_affinity(8, 1));
	ASSERT(has_affinity(9, 2));
	ASSERT(fake_log_index(&fm, "A- 7/1") >= 0);

	/* Changes to a service without affinity never touch the map. */
	fake_log_reset(&fm);
	ASSERT_OK(apply(w, "d/b", NULL, 0));
	ASSERT(strstr(fake_log(&fm), "A-") == NULL);
	ASSERT(has_affinity(9, 2));

	/* Switching affinity off forgets the port's entries. */
	a.flags = 0;
	a.affinity_timeout = 0;
	ASSERT_OK(apply(w, "d/a", &a, 1));
	ASSERT(!has_affinity(8, 1));
	done(w);
}

TEST(agent_writer_removed_affinity_service_forgets_its_entries)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b[2];
	struct lb_frontend a =
		fe("10.96.0.10", 80, TCP, b, (const char *[]){ "10.244.1.1:80", NULL });

	a.flags = CAPSTAN_SVC_F_AFFINITY;
	ASSERT_OK(apply(w, "d/a", &a, 1));
	put_affinity(7, 1, 1);
	put_affinity(8, 1, 1);
	ASSERT_OK(apply(w, "d/a", NULL, 0));
	ASSERT_EQ(fake_count(&fm, LB_MAP_AFFINITY), 0);
	/* Affinity entries go before the backend they name. */
	ASSERT(fake_log_index(&fm, "A- 7/1") >= 0);
	ASSERT(fake_log_index(&fm, "A- 7/1") < fake_log_index(&fm, "B- 1"));
	done(w);
}

/* The state a previous agent left: one good service and assorted leftovers. */
static void prepopulate(void)
{
	struct capstan_svc_key k;
	struct capstan_svc_val v;
	struct capstan_backend be;
	struct capstan_revnat rn = { 0 };
	__u32 id, flags = CAPSTAN_VIP_F_CLUSTER_IP;
	__be32 vip;

	for (id = 11; id <= 13; id++) {
		char addr[32];

		snprintf(addr, sizeof(addr), "10.244.1.%u", id - 10);
		be = fake_backend(addr, 8080, TCP, CAPSTAN_BE_ACTIVE);
		fake_put(&fm, LB_MAP_BACKEND, &id, &be);
	}
	/* web: 10.96.0.10:80, rev-NAT 7, slots -> 11, 12. */
	k = fake_svc_key("10.96.0.10", 80, TCP, 0);
	v = (struct capstan_svc_val){ .count = 2, .rev_nat_id = 7 };
	fake_put(&fm, LB_MAP_SVC, &k, &v);
	for (unsigned s = 1; s <= 2; s++) {
		k = fake_svc_key("10.96.0.10", 80, TCP, s);
		v = (struct capstan_svc_val){ .backend_id = 10 + s };
		fake_put(&fm, LB_MAP_SVC, &k, &v);
	}
	id = 7;
	rn.addr = k.addr;
	rn.port = k.port;
	rn.proto = TCP;
	fake_put(&fm, LB_MAP_REVNAT, &id, &rn);
	inet_pton(AF_INET, "10.96.0.10", &vip);
	fake_put(&fm, LB_MAP_VIP, &vip, &flags);
	/* gone: 10.96.0.20:53/udp, rev-NAT 8, slot 1 -> 13 (its service was deleted). */
	k = fake_svc_key("10.96.0.20", 53, UDP, 0);
	v = (struct capstan_svc_val){ .count = 1, .rev_nat_id = 8 };
	fake_put(&fm, LB_MAP_SVC, &k, &v);
	k.slot = 1;
	v = (struct capstan_svc_val){ .backend_id = 13 };
	fake_put(&fm, LB_MAP_SVC, &k, &v);
	id = 8;
	rn.addr = k.addr;
	rn.port = k.port;
	rn.proto = UDP;
	fake_put(&fm, LB_MAP_REVNAT, &id, &rn);
	inet_pton(AF_INET, "10.96.0.20", &vip);
	fake_put(&fm, LB_MAP_VIP, &vip, &flags);
	/* A slot without slot 0, a rev-NAT id nobody has. */
	k = fake_svc_key("10.96.0.30", 80, TCP, 1);
	v = (struct capstan_svc_val){ .backend_id = 11 };
	fake_put(&fm, LB_MAP_SVC, &k, &v);
	id = 9;
	fake_put(&fm, LB_MAP_REVNAT, &id, &rn);
}

TEST(agent_writer_restore_keeps_ids_and_removes_only_stale_entries)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b[4];
	struct lb_frontend f = fe("10.96.0.10", 80, TCP, b,
				  (const char *[]){ "10.244.1.1:8080", "10.244.1.2:8080", NULL });
	struct lb_restore_stats rs;
	struct lb_snapshot snap;
	size_t ops = 99;

	prepopulate();
	ASSERT_OK(lb_writer_restore(w, &rs));
	ASSERT_EQ(rs.frontends, 2);
	ASSERT_EQ(rs.backends, 3);
	ASSERT_EQ(rs.stale, 2); /* the lone slot and rev-NAT 9 */
	/* The first round after a restore is full, whatever the caller wants. */
	ASSERT(lb_writer_begin(w, false));
	ASSERT_OK(lb_writer_set_service(w, "default/web", &f, 1, &ops));
	ASSERT_EQ(ops, 0);
	ASSERT_OK(lb_writer_commit(w, NULL));
	/* Only deletions, of exactly the leftovers. */
	ASSERT(strchr(fake_log(&fm), '+') == NULL);
	ASSERT_EQ(fake_log_lines(&fm), 8);
	ASSERT(fake_log_index(&fm, "M- 9") >= 0); /* a table the orphan id may have had */
	ASSERT(fake_log_index(&fm, "S- 10.96.0.20:53/17#0") >= 0);
	ASSERT(fake_log_index(&fm, "S- 10.96.0.20:53/17#0") <
	       fake_log_index(&fm, "S- 10.96.0.20:53/17#1"));
	ASSERT(fake_log_index(&fm, "R- 8") >= 0);
	ASSERT(fake_log_index(&fm, "S- 10.96.0.30:80/6#1") >= 0);
	ASSERT(fake_log_index(&fm, "R- 9") >= 0);
	ASSERT(fake_log_index(&fm, "V- 10.96.0.20") >= 0);
	ASSERT_EQ(fake_log_index(&fm, "B- 13"), 7); /* last */
	ASSERT_EQ(fm.n, 3 + 2 + 1 + 1);
	/* Ids kept: web is rev-NAT 7 and the snapshot labels it now. */
	lb_writer_snapshot(w, &snap);
	ASSERT_EQ(snap.nfe, 1);
	ASSERT_STREQ(snap.fe[0].owner, "default/web");
	ASSERT_EQ(snap.fe[0].rev_nat_id, 7);
	ASSERT_EQ(snap.nbe, 2);
	ASSERT_EQ(snap.be[0].id, 11);
	lb_snapshot_free(&snap);
	/* Later rounds are incremental again. */
	ASSERT(!lb_writer_begin(w, false));
	ASSERT_OK(lb_writer_commit(w, NULL));
	done(w);
}

TEST(agent_writer_restore_drops_affinity_entries_it_cannot_vouch_for)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b[4];
	struct lb_frontend f = fe("10.96.0.10", 80, TCP, b,
				  (const char *[]){ "10.244.1.1:8080", "10.244.1.2:8080", NULL });
	struct capstan_svc_key k = fake_svc_key("10.96.0.10", 80, TCP, 0);
	struct capstan_svc_val v = {
		.count = 2, .rev_nat_id = 7, .flags = CAPSTAN_SVC_F_AFFINITY, .affinity_timeout = 60
	};

	prepopulate();
	fake_put(&fm, LB_MAP_SVC, &k, &v);
	put_affinity(1, 7, 11); /* good: web's backend 10.244.1.1 */
	put_affinity(2, 7, 13); /* web never had backend 13 */
	put_affinity(3, 9, 11); /* rev-NAT 9 belongs to nobody */
	put_affinity(4, 8, 13); /* the deleted service's */
	ASSERT_OK(lb_writer_restore(w, NULL));
	f.flags = CAPSTAN_SVC_F_AFFINITY;
	f.affinity_timeout = 60;
	lb_writer_begin(w, false);
	ASSERT_OK(lb_writer_set_service(w, "default/web", &f, 1, NULL));
	ASSERT_OK(lb_writer_commit(w, NULL));
	ASSERT(has_affinity(1, 7));
	ASSERT(!has_affinity(2, 7));
	ASSERT(!has_affinity(3, 9));
	ASSERT(!has_affinity(4, 8));
	/* Only the restore round checks everything: later rounds leave entries be. */
	put_affinity(5, 7, 13);
	ASSERT_OK(apply(w, "default/web", &f, 1));
	ASSERT(has_affinity(5, 7));
	done(w);
}

TEST(agent_writer_restore_then_change_reuses_restored_slots)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b[4];
	struct lb_frontend f = fe("10.96.0.10", 80, TCP, b,
				  (const char *[]){ "10.244.1.2:8080", "10.244.1.3:8080", NULL });

	prepopulate();
	ASSERT_OK(lb_writer_restore(w, NULL));
	fake_log_reset(&fm);
	lb_writer_begin(w, true);
	ASSERT_OK(lb_writer_set_service(w, "default/web", &f, 1, NULL));
	ASSERT_OK(lb_writer_commit(w, NULL));
	/* 10.244.1.3 keeps its id 13 (restored); it takes slot 1, 12 stays in 2. */
	ASSERT_EQ(fake_log_index(&fm, "S+ 10.96.0.10:80/6#1 be=13"), 0);
	ASSERT(fake_log_index(&fm, "B- 11") > 0);
	ASSERT(fake_log_index(&fm, "B- 13") < 0);
	ASSERT(strstr(fake_log(&fm), "#0 count") == NULL);
	done(w);
}

TEST(agent_writer_restore_repairs_inconsistent_entries)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b[4];
	struct lb_frontend f =
		fe("10.96.0.40", 80, TCP, b, (const char *[]){ "10.244.1.1:8080", NULL });
	struct capstan_svc_key k;
	struct capstan_svc_val v;
	struct capstan_backend be = fake_backend("10.244.1.1", 8080, TCP, CAPSTAN_BE_ACTIVE);
	struct capstan_revnat rn = { 0 }; /* wrong: all zero */
	__u32 id = 3;

	fake_put(&fm, LB_MAP_BACKEND, &id, &be);
	k = fake_svc_key("10.96.0.40", 80, TCP, 0);
	v = (struct capstan_svc_val){ .count = 1, .rev_nat_id = 5 };
	fake_put(&fm, LB_MAP_SVC, &k, &v);
	k.slot = 1; /* names a backend that does not exist */
	v = (struct capstan_svc_val){ .backend_id = 99 };
	fake_put(&fm, LB_MAP_SVC, &k, &v);
	k.slot = 3; /* beyond the count */
	v = (struct capstan_svc_val){ .backend_id = 3 };
	fake_put(&fm, LB_MAP_SVC, &k, &v);
	id = 5;
	fake_put(&fm, LB_MAP_REVNAT, &id, &rn);

	ASSERT_OK(lb_writer_restore(w, NULL));
	lb_writer_begin(w, true);
	ASSERT_OK(lb_writer_set_service(w, "d/s", &f, 1, NULL));
	ASSERT_OK(lb_writer_commit(w, NULL));
	EXPECT_OPS("R+ 5 10.96.0.40:80/6", "S+ 10.96.0.40:80/6#1 be=3", "S- 10.96.0.40:80/6#3",
		   "V+ 10.96.0.40 1");
	done(w);
}

TEST(agent_writer_map_values_use_network_byte_order)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b[2];
	struct lb_frontend f =
		fe("10.96.1.2", 8443, TCP, b, (const char *[]){ "10.244.3.4:8080", NULL });
	const unsigned char want_key[12] = { 10, 96, 1, 2, 0x20, 0xfb, 0, 0, 6, 0, 0, 0 };
	const unsigned char want_be[8] = { 10, 244, 3, 4, 0x1f, 0x90, 6, 0 };
	struct capstan_svc_key k = fake_svc_key("10.96.1.2", 8443, TCP, 0);
	struct capstan_svc_val v;
	struct capstan_backend got;
	__u32 id = 1;

	ASSERT_EQ(sizeof(struct capstan_svc_key), 12);
	ASSERT_OK(apply(w, "d/s", &f, 1));
	ASSERT(memcmp(&k, want_key, sizeof(want_key)) == 0);
	ASSERT(fake_get(&fm, LB_MAP_SVC, &k, &v));
	/* Ids and counts are host order. */
	ASSERT_EQ(v.count, 1);
	ASSERT_EQ(v.rev_nat_id, 1);
	ASSERT(fake_get(&fm, LB_MAP_BACKEND, &id, &got));
	ASSERT(memcmp(&got, want_be, sizeof(want_be)) == 0);
	k.slot = 1;
	ASSERT(fake_get(&fm, LB_MAP_SVC, &k, &v));
	ASSERT_EQ(((const unsigned char *)&k)[6], 1); /* slot 1, little-endian host */
	ASSERT_EQ(v.backend_id, 1);
	done(w);
}

TEST(agent_writer_rejects_bad_config)
{
	struct lb_writer_config c = { .ops = &fake_ops };

	c.max_backend = 1;
	ASSERT_NULL(lb_writer_new(&c));
	c.max_backend = 70000;
	ASSERT_NULL(lb_writer_new(&c));
	c.max_backend = 0;
	c.ops = NULL;
	ASSERT_NULL(lb_writer_new(&c));
}

/* ---------------------------------------------------------------- ids, u64map */

TEST(agent_ids_alloc_lookup_release_and_adopt)
{
	struct lb_ids *ids = lb_ids_new(4); /* 1..3 */
	uint32_t id;
	uint64_t key;

	ASSERT_NULL(lb_ids_new(1));
	ASSERT_NULL(lb_ids_new(65537));
	ASSERT_NOT_NULL(ids);
	ASSERT_OK(lb_ids_adopt(ids, 100, 2));
	ASSERT_EQ(lb_ids_adopt(ids, 101, 2), -EEXIST);
	ASSERT_EQ(lb_ids_adopt(ids, 100, 3), -EEXIST);
	ASSERT_EQ(lb_ids_adopt(ids, 102, 0), -ERANGE);
	ASSERT_EQ(lb_ids_adopt(ids, 102, 4), -ERANGE);
	ASSERT_OK(lb_ids_alloc(ids, 200, &id));
	ASSERT_EQ(id, 1);
	ASSERT_OK(lb_ids_alloc(ids, 200, &id)); /* same key, same id */
	ASSERT_EQ(id, 1);
	ASSERT_OK(lb_ids_alloc(ids, 300, &id));
	ASSERT_EQ(id, 3); /* 2 is adopted */
	ASSERT_EQ(lb_ids_alloc(ids, 400, &id), -ENOSPC);
	ASSERT_EQ(lb_ids_count(ids), 3);
	ASSERT(lb_ids_key(ids, 3, &key));
	ASSERT_EQ(key, 300);
	lb_ids_release(ids, 2);
	lb_ids_release(ids, 2); /* twice is harmless */
	ASSERT(!lb_ids_key(ids, 2, &key));
	ASSERT_EQ(lb_ids_lookup(ids, 100), 0);
	ASSERT_OK(lb_ids_alloc(ids, 400, &id));
	ASSERT_EQ(id, 2);
	lb_ids_free(ids);
}

TEST(agent_ids_survive_many_adopt_release_cycles)
{
	struct lb_ids *ids = lb_ids_new(3); /* 1..2 */
	uint32_t id;

	for (int i = 0; i < 50; i++) {
		ASSERT_OK(lb_ids_adopt(ids, 7, 1));
		lb_ids_release(ids, 1);
	}
	ASSERT_OK(lb_ids_alloc(ids, 8, &id));
	ASSERT_OK(lb_ids_alloc(ids, 9, &id));
	ASSERT_EQ(lb_ids_alloc(ids, 10, &id), -ENOSPC);
	ASSERT_EQ(lb_ids_count(ids), 2);
	lb_ids_free(ids);
}

TEST(agent_u64map_put_get_delete_many)
{
	struct u64map m = { 0 };
	uint64_t key;
	void *val;
	size_t it = 0, n = 0;

	for (uint64_t k = 0; k < 5000; k++)
		u64map_put(&m, k * 7919, (void *)(uintptr_t)(k + 1));
	ASSERT_EQ(m.len, 5000);
	for (uint64_t k = 0; k < 5000; k += 2)
		ASSERT_EQ((uintptr_t)u64map_del(&m, k * 7919), k + 1);
	ASSERT_NULL(u64map_del(&m, 1));
	for (uint64_t k = 0; k < 5000; k++)
		ASSERT_EQ((uintptr_t)u64map_get(&m, k * 7919), k % 2 ? k + 1 : 0);
	while (u64map_next(&m, &it, &key, &val)) {
		ASSERT_EQ(key % 7919, 0);
		n++;
	}
	ASSERT_EQ(n, 2500);
	u64map_free(&m);
	ASSERT_NULL(u64map_get(&m, 0));
}

/* ---------------------------------------------------------------- external views */

TEST(agent_writer_external_view_gets_ranges_before_and_maglev_after_slot0)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b[4];
	const char *two[] = { "10.244.1.1:8080", "10.244.2.1:8080", NULL };
	const char *one[] = { "10.244.2.1:8080", NULL };
	struct lb_src_range r8 = { .len = 8 }, r16 = { .len = 16 };
	struct lb_frontend f = fe("10.244.250.2", 443, TCP, b, two);
	unsigned counts[3] = { 0 };

	inet_pton(AF_INET, "10.0.0.0", &r8.addr);
	inet_pton(AF_INET, "10.1.0.0", &r16.addr);
	f.scope = CAPSTAN_SCOPE_EXTERNAL;
	f.flags = CAPSTAN_SVC_F_LOADBALANCER | CAPSTAN_SVC_F_SOURCE_RANGES;
	f.vip_flags = CAPSTAN_VIP_F_EXTERNAL;
	f.ranges = &r8;
	f.nranges = 1;
	ASSERT_OK(apply(w, "prod/lb", &f, 1));
	EXPECT_OPS("Z bcnt 1", "B+ 1 10.244.1.1:8080/6 active", "Z bcnt 2",
		   "B+ 2 10.244.2.1:8080/6 active", "Z scnt 1", "M- 1", "R+ 1 10.244.250.2:443/6",
		   "L+ 1 10.0.0.0/8", "S+ 10.244.250.2:443/6ext#1 be=1",
		   "S+ 10.244.250.2:443/6ext#2 be=2",
		   "S+ 10.244.250.2:443/6ext#0 count=2 rnat=1 flags=80 to=0",
		   "M+ 1 m=16381 ids=1,2", "V+ 10.244.250.2 2");
	/* An even table: 8190 or 8191 entries each. */
	for (unsigned i = 0; i < fm.maglev_m[1]; i++)
		counts[fm.maglev[1][i]]++;
	ASSERT(counts[1] == 8190 || counts[1] == 8191);
	ASSERT_EQ(counts[1] + counts[2], 16381);

	/* Nothing changed: nothing written, the table is not rebuilt. */
	fake_log_reset(&fm);
	ASSERT_OK(apply(w, "prod/lb", &f, 1));
	ASSERT_STREQ(fake_log(&fm), "");

	/* A new prefix goes in before the old one goes; a lost backend rebuilds the table. */
	fake_log_reset(&fm);
	f = fe("10.244.250.2", 443, TCP, b, one);
	f.scope = CAPSTAN_SCOPE_EXTERNAL;
	f.flags = CAPSTAN_SVC_F_LOADBALANCER | CAPSTAN_SVC_F_SOURCE_RANGES;
	f.vip_flags = CAPSTAN_VIP_F_EXTERNAL;
	f.ranges = &r16;
	f.nranges = 1;
	ASSERT_OK(apply(w, "prod/lb", &f, 1));
	EXPECT_OPS("L+ 1 10.1.0.0/16", "S+ 10.244.250.2:443/6ext#0 count=1 rnat=1 flags=80 to=0",
		   "S+ 10.244.250.2:443/6ext#1 be=2", "M+ 1 m=16381 ids=2",
		   "S- 10.244.250.2:443/6ext#2", "L- 1 10.0.0.0/8", "B- 1");

	/* Removal: slot 0 first, then slots, prefixes, the table, the rest. */
	fake_log_reset(&fm);
	ASSERT_OK(apply(w, "prod/lb", NULL, 0));
	EXPECT_OPS("S- 10.244.250.2:443/6ext#0", "S- 10.244.250.2:443/6ext#1", "L- 1 10.1.0.0/16",
		   "M- 1", "R- 1", "V- 10.244.250.2", "B- 2");
	done(w);
}

TEST(agent_writer_node_address_views_have_no_vip_entry)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b[2];
	const char *one[] = { "10.244.1.1:8080", NULL };
	struct lb_frontend f[2];

	f[0] = fe("172.31.0.11", 30080, TCP, b, one);
	f[0].flags = CAPSTAN_SVC_F_NODEPORT;
	f[0].vip_flags = 0;
	f[1] = f[0];
	f[1].scope = CAPSTAN_SCOPE_EXTERNAL;
	ASSERT_OK(apply(w, "prod/web", f, 2));
	ASSERT_EQ(fake_count(&fm, LB_MAP_VIP), 0);
	ASSERT_EQ(fake_count(&fm, LB_MAP_SVC), 4); /* two views, slot 0 and slot 1 each */
	ASSERT_EQ(fake_log_index(&fm, "M+ 2 m=16381 ids=1"), fake_log_lines(&fm) - 1);
	ASSERT_EQ(fake_log_index(&fm, "M+ 1 m=16381 ids=1"), -1); /* internal: no table */
	done(w);
}

TEST(agent_writer_failed_table_swap_keeps_the_backends_it_names)
{
	struct lb_writer *w = writer(0, 0);
	struct capstan_backend b[4];
	const char *two[] = { "10.244.1.1:8080", "10.244.2.1:8080", NULL };
	const char *one[] = { "10.244.2.1:8080", NULL };
	struct lb_frontend f = fe("172.31.0.11", 30080, TCP, b, two);
	__u32 id = 1;

	f.scope = CAPSTAN_SCOPE_EXTERNAL;
	f.vip_flags = 0;
	ASSERT_OK(apply(w, "prod/web", &f, 1));
	ASSERT_EQ(fake_log_index(&fm, "M+ 1 m=16381 ids=1,2"), fake_log_lines(&fm) - 1);

	/* Backend 1 leaves; the slot writes work, the table swaps fail. */
	f = fe("172.31.0.11", 30080, TCP, b, one);
	f.scope = CAPSTAN_SCOPE_EXTERNAL;
	f.vip_flags = 0;
	fake_log_reset(&fm);
	fm.maglev_fail = true;
	lb_writer_begin(w, false);
	ASSERT_EQ(lb_writer_set_service(w, "prod/web", &f, 1, NULL), -EIO);
	ASSERT_OK(lb_writer_commit(w, NULL));
	fm.maglev_fail = false;
	/* The old table still names backend 1: it must stay in the map. */
	ASSERT(fake_get(&fm, LB_MAP_BACKEND, &id, &(struct capstan_backend){ 0 }));
	ASSERT_EQ(fake_log_index(&fm, "B- 1"), -1);

	/* The next round swaps the table, and only then backend 1 goes. */
	fake_log_reset(&fm);
	ASSERT_OK(apply(w, "prod/web", &f, 1));
	ASSERT(fake_log_index(&fm, "M+ 1 m=16381 ids=2") >= 0);
	ASSERT(fake_log_index(&fm, "B- 1") > fake_log_index(&fm, "M+ 1 m=16381 ids=2"));
	ASSERT(!fake_get(&fm, LB_MAP_BACKEND, &id, &(struct capstan_backend){ 0 }));
	done(w);
}
