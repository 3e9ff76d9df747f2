/*
 * test_agent_fake.h - an in-memory stand-in for the datapath maps behind
 * struct lb_map_ops, for the agent's unit tests.
 *
 * Every operation is applied to a small table and appended to a log, one
 * line per operation, so tests can assert the exact sequence of writes:
 *
 *   S+ 10.96.0.10:80/6#0 count=2 rnat=1 flags=0 to=0   slot 0 written
 *   S+ 10.96.0.10:80/6#1 be=3                          slot 1 written
 *   S- 10.96.0.10:80/6#2                               slot 2 deleted
 *   B+ 3 10.244.1.1:8080/6 active                       backend written
 *   B- 3                                               backend deleted
 *   R+ 1 10.96.0.10:80/6 / R- 1                        rev-NAT
 *   V+ 10.96.0.10 1 / V- 10.96.0.10                    VIP
 *   Z scnt 1 / Z bcnt 3                                counters zeroed
 *   A- 7/1                                             affinity entry (client/port) deleted
 *   S+ 172.31.0.11:30080/6ext#0 ...                    an external view's entry
 *   L+ 5 10.0.0.0/8 / L- 5 10.0.0.0/8                  source range of rev-NAT id 5
 *   M+ 5 m=251 ids=1,2 / M- 5                          Maglev table of rev-NAT id 5
 *
 * fail_at makes the Nth operation from now fail with -EIO (and not apply),
 * to check that the writer's mirror stays true to the maps.
 */
#ifndef CAPSTAN_TEST_AGENT_FAKE_H
#define CAPSTAN_TEST_AGENT_FAKE_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/lb/mapops.h"
#include "util.h"

struct fake_entry {
	enum lb_map_id map;
	_Alignas(8) unsigned char key[16];
	_Alignas(8) unsigned char val[32];
};

#define FAKE_MAGLEV_MAX 64

struct fake_maps {
	struct fake_entry *v;
	size_t n, cap;
	struct buf log;
	long fail_at; /* operations until one fails; -1 = never */
	/* Counter values returned by sum, per map and id (up to 6 fields). */
	__u64 counters[LB_MAP__MAX][64][6];
	/* Maglev tables by rev-NAT id (< FAKE_MAGLEV_MAX), as last set. */
	__u32 *maglev[FAKE_MAGLEV_MAX];
	__u32 maglev_m[FAKE_MAGLEV_MAX];
	bool maglev_fail; /* every maglev_set fails with -EIO while set */
};

extern const struct lb_map_ops fake_ops;

void fake_init(struct fake_maps *f);
void fake_free(struct fake_maps *f);
/* The log since the last reset ("" when empty). */
const char *fake_log(struct fake_maps *f);
void fake_log_reset(struct fake_maps *f);
/* Line number (0-based) of the first log line equal to line, or -1. */
int fake_log_index(struct fake_maps *f, const char *line);
/* Lines in the log. */
int fake_log_lines(struct fake_maps *f);
/* lines (NULL-terminated) joined as a log would hold them; a static buffer. */
const char *fake_join(const char *const *lines);

/* Entries of one map. */
size_t fake_count(struct fake_maps *f, enum lb_map_id map);
/* Look an entry up; false when absent. */
bool fake_get(struct fake_maps *f, enum lb_map_id map, const void *key, void *val);
/* Service entry of vip:port/proto, slot. */
bool fake_svc(struct fake_maps *f, const char *vip, unsigned port, int proto, unsigned slot,
	      struct capstan_svc_val *out);
/* Put an entry without logging (pre-populating for restore tests). */
void fake_put(struct fake_maps *f, enum lb_map_id map, const void *key, const void *val);

/* Helpers to build values. */
struct capstan_svc_key fake_svc_key(const char *vip, unsigned port, int proto, unsigned slot);
struct capstan_backend fake_backend(const char *addr, unsigned port, int proto, int state);

#endif
