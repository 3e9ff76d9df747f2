/*
 * ktime.h - RFC 3339 timestamps as Kubernetes writes and reads them.
 *
 * Kubernetes uses three spellings of one instant:
 *
 *   metav1.Time       "2024-01-02T03:04:05Z"                seconds, UTC
 *   metav1.MicroTime  "2024-01-02T03:04:05.123456Z"         always 6 digits
 *   RFC3339Nano       "2024-01-02T03:04:05.1234Z"           log lines: up to 9
 *                                                           digits, trailing
 *                                                           zeros trimmed
 *
 * Instants are int64 nanoseconds since the Unix epoch (UTC), the unit of
 * now_real_ns() and of the log timestamps, which covers
 * 1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z. Dates are
 * computed with proleptic Gregorian arithmetic, not timegm()/gmtime(), so
 * neither the C library's time_t nor the TZ environment matter, and dates
 * before 1970 or after 2038 behave like any other.
 *
 * Parsing is strict RFC 3339 (section 5.6), with the same limits Go's
 * time.RFC3339 parser applies:
 *   - "T" and "Z" may be lower case ('t', 'z'), as RFC 3339 allows;
 *   - the offset is "Z" or +hh:mm / -hh:mm with hh <= 23, mm <= 59; "-0530",
 *     "+05", "+5:30" and a missing offset are rejected;
 *   - the fraction has 1 to 9 digits (10 or more is rejected, since the
 *     instant could not hold them);
 *   - month 01-12, a day that exists in that month (leap years included),
 *     hour 00-23, minute 00-59, second 00-59: leap second 60 is rejected,
 *     as Go does;
 *   - no space separator, no surrounding whitespace.
 * Formatting always writes UTC with "Z". Fractions are truncated, never
 * rounded (an instant is printed as the second it falls in, as Go does, also
 * for instants before 1970).
 */
#ifndef CAPSTAN_KTIME_H
#define CAPSTAN_KTIME_H

#include <stddef.h>
#include <stdint.h>

/* Enough for every ktime_format* output: "YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ" + NUL. */
#define KTIME_BUFSZ 32

/*
 * Parses an RFC 3339 timestamp into nanoseconds since the epoch. 0 on
 * success; -EINVAL when s or ns is NULL, the syntax is wrong or a field is
 * out of range (month 13, Feb 30, hour 24, ...); -ERANGE when the instant is
 * valid but outside int64 nanoseconds (before 1677 or after 2262). Sets *ns
 * only on success.
 */
int ktime_parse(const char *s, int64_t *ns);

/*
 * Write ns as "2024-01-02T03:04:05Z" (metav1.Time), "...05.123456Z"
 * (metav1.MicroTime) or the RFC3339Nano form ("...05.1234Z", "...05Z" when
 * the fraction is zero). 0 on success; -ENOSPC when len is too small
 * (KTIME_BUFSZ always suffices), and buf is then "" when len > 0.
 */
int ktime_format(int64_t ns, char *buf, size_t len);
int ktime_format_micro(int64_t ns, char *buf, size_t len);
int ktime_format_nano(int64_t ns, char *buf, size_t len);

#endif
