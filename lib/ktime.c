/*
 * ktime.c - see ktime.h.
 *
 * Calendar arithmetic counts days from 0000-01-01 of the proleptic Gregorian
 * calendar. Every year that can be parsed (0000-9999) is non-negative there,
 * so the number of leap years before year y is a closed formula with plain
 * integer division, and no floor-division care is needed. The inverse
 * (days -> year) starts from an underestimate (a year has at most 366 days)
 * and steps forward at most a few years, which is easier to check by eye than
 * the usual 400-year-era decomposition.
 */
#include "ktime.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#define NSEC_PER_SEC 1000000000LL
#define SEC_PER_DAY 86400LL

static const int days_before_month[2][13] = {
	{ 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365 },
	{ 0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366 },
};

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 0000-01-01 to y-01-01, for y >= 0. */
static int64_t days_before_year(int64_t y)
{
	/* Leap years in [0, y): multiples of 4, less those of 100, plus those of 400. */
	return 365 * y + (y + 3) / 4 - (y + 99) / 100 + (y + 399) / 400;
}

#define EPOCH_DAYS 719528 /* days_before_year(1970) */

/* Reads exactly n digits at *pp. Stops at the first non-digit, so never runs past a NUL. */
static bool read_digits(const char **pp, int n, int *out)
{
	const char *p = *pp;
	int v = 0;

	for (int i = 0; i < n; i++, p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	*out = v;
	*pp = p;
	return true;
}

static bool expect(const char **pp, char c)
{
	if (**pp != c)
		return false;
	(*pp)++;
	return true;
}

int ktime_parse(const char *s, int64_t *ns)
{
	int year, mon, day, hour, min, sec, off_h = 0, off_m = 0, off_sign = 0;
	int64_t frac = 0, secs, days, out;
	const char *p = s;
	int ndigits;

	if (!s || !ns)
		return -EINVAL;
	if (!read_digits(&p, 4, &year) || !expect(&p, '-') || !read_digits(&p, 2, &mon) ||
	    !expect(&p, '-') || !read_digits(&p, 2, &day))
		return -EINVAL;
	if (*p != 'T' && *p != 't')
		return -EINVAL;
	p++;
	if (!read_digits(&p, 2, &hour) || !expect(&p, ':') || !read_digits(&p, 2, &min) ||
	    !expect(&p, ':') || !read_digits(&p, 2, &sec))
		return -EINVAL;
	if (*p == '.') {
		p++;
		for (ndigits = 0; *p >= '0' && *p <= '9'; ndigits++, p++) {
			if (ndigits == 9)
				return -EINVAL;
			frac = frac * 10 + (*p - '0');
		}
		if (ndigits == 0)
			return -EINVAL;
		for (; ndigits < 9; ndigits++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		off_sign = *p++ == '+' ? 1 : -1;
		if (!read_digits(&p, 2, &off_h) || !expect(&p, ':') || !read_digits(&p, 2, &off_m))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;

	if (mon < 1 || mon > 12 || day < 1 || hour > 23 || min > 59 || sec > 59 || off_h > 23 ||
	    off_m > 59)
		return -EINVAL;
	if (day > days_before_month[is_leap(year)][mon] - days_before_month[is_leap(year)][mon - 1])
		return -EINVAL;

	days = days_before_year(year) + days_before_month[is_leap(year)][mon - 1] + day - 1 -
	       EPOCH_DAYS;
	/* The local time minus its offset from UTC is UTC. No overflow: |days| < 4e6. */
	secs = days * SEC_PER_DAY + hour * 3600 + min * 60 + sec -
	       off_sign * (off_h * 3600 + off_m * 60);
	/*
	 * Near the negative end secs * 10^9 alone can overflow while the sum
	 * fits (INT64_MIN is 1677-...:43.145224192): borrow a second so both
	 * parts have the same sign.
	 */
	if (secs < 0 && frac > 0) {
		secs++;
		frac -= NSEC_PER_SEC;
	}
	if (__builtin_mul_overflow(secs, NSEC_PER_SEC, &out) ||
	    __builtin_add_overflow(out, frac, &out))
		return -ERANGE;
	*ns = out;
	return 0;
}

/* digits: 0 for none, 6 for always six, -1 for up to nine with zeros trimmed. */
static int format_ns(int64_t ns, int digits, char *buf, size_t len)
{
	int64_t secs = ns / NSEC_PER_SEC, nsec = ns % NSEC_PER_SEC, days, sod, d0, y;
	char frac[16] = "";
	int mon, doy, leap, n;

	/* Floor, not truncation: -1ns is 23:59:59.999999999 of the day before. */
	if (nsec < 0) {
		nsec += NSEC_PER_SEC;
		secs--;
	}
	days = secs / SEC_PER_DAY;
	sod = secs % SEC_PER_DAY;
	if (sod < 0) {
		sod += SEC_PER_DAY;
		days--;
	}
	d0 = days + EPOCH_DAYS; /* > 0 for every int64 instant (year 1677 onwards) */
	for (y = d0 / 366; days_before_year(y + 1) <= d0; y++)
		;
	doy = (int)(d0 - days_before_year(y));
	leap = is_leap(y);
	for (mon = 1; days_before_month[leap][mon] <= doy; mon++)
		;

	if (digits == 6) {
		snprintf(frac, sizeof(frac), ".%06d", (int)(nsec / 1000));
	} else if (digits < 0 && nsec) {
		n = snprintf(frac, sizeof(frac), ".%09d", (int)nsec);
		while (frac[n - 1] == '0')
			frac[--n] = '\0';
	}
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", (int)y, mon,
		     doy - days_before_month[leap][mon - 1] + 1, (int)(sod / 3600),
		     (int)(sod / 60 % 60), (int)(sod % 60), frac);
	if (n < 0 || (size_t)n >= len) {
		if (len)
			buf[0] = '\0';
		return -ENOSPC;
	}
	return 0;
}

int ktime_format(int64_t ns, char *buf, size_t len)
{
	return format_ns(ns, 0, buf, len);
}

int ktime_format_micro(int64_t ns, char *buf, size_t len)
{
	return format_ns(ns, 6, buf, len);
}

int ktime_format_nano(int64_t ns, char *buf, size_t len)
{
	return format_ns(ns, -1, buf, len);
}
