/*
 * util.h - small helpers used everywhere.
 *
 * Allocation failure in capstan's daemons is treated as fatal (xmalloc and
 * friends abort): a process that cannot allocate a few bytes cannot keep its
 * promises to the API server either, and its supervisor restarts it. Library
 * functions that take input from the network still validate sizes before
 * allocating, so hostile input cannot trigger this path.
 */
#ifndef CAPSTAN_UTIL_H
#define CAPSTAN_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* asprintf that aborts on allocation failure. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Write a message into a caller's error buffer, as libraries report why
 * they failed; does nothing when err is NULL or errlen 0.
 */
void errbuf_setf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * splitmix64's finaliser: a bijection on 64 bits in which every input bit
 * flips each output bit with probability close to 1/2, so keys that differ
 * in a few bits spread. Fixed forever: Maglev tables, which every node must
 * build alike, are derived from it.
 */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* qsort comparator for doubles, ascending. */
int cmp_double(const void *a, const void *b);

/*
 * Sort v[0..n) ascending and return its median (the mean of the middle two
 * for even n); 0 for n = 0.
 */
double sort_median(double *v, size_t n);

/* A growable byte buffer, always NUL-terminated. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

void buf_append(struct buf *b, const void *data, size_t len);
void buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

struct timespec;
/* *ts = now on clock + ms: an absolute deadline for timed waits. */
void deadline_after_ms(struct timespec *ts, int clock, long ms);

/* Monotonic and wall-clock time in nanoseconds. */
uint64_t now_mono_ns(void);
uint64_t now_real_ns(void);

/* Resident memory of process pid (VmRSS of /proc/PID/status) in KiB; -1 when unreadable. */
long proc_rss_kib(int pid);

#endif
