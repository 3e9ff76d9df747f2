/*
 * quantity.c - see quantity.h.
 *
 * Parsing never goes through floating point. The digits of the number are
 * read in place (no copy, so input length is not limited) as one significand
 * S with a decimal exponent: value = S * 10^k nano-units, times 2^b for a
 * binary suffix. Leading and trailing zeros of S are dropped first, so S has
 * at most 31 digits whenever the value can be in range, and a 128-bit integer
 * holds it.
 *
 * The only delicate case is a value finer than a nano-unit, which must be
 * rounded up *after* the binary multiplication ("0.0000000001Ki" is 102.4n,
 * so 103n, not 1n * 1024). The fractional nano digits are doubled b times
 * as a decimal digit string, with the integer carries collected separately.
 * Only the first 63 fractional digits are kept, plus one "sticky" digit that
 * is non-zero when anything further was: multiples of 2^-b (b <= 60) are
 * multiples of 10^-60, so no integer boundary of the product can fall inside
 * the truncated interval, and the rounded result is exact.
 */
#include "quantity.h"
#include "util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NANO_PER_UNIT 1000000000LL
#define NANO_PER_MILLI 1000000LL
/* 10^30 nano-units = 10^21 units, the documented limit. */
#define MAX_NANO ((__int128)1000000000000000LL * 1000000000000000LL)
/* Digits of MAX_NANO; a value with more integer digits is out of range. */
#define MAX_NANO_DIGITS 31
/* Exponents are read saturating here: far beyond any value in range. */
#define EXP_SATURATE 1000000000LL
/* Fraction digits kept while multiplying by 2^b; must be >= 60 (see above). */
#define FRAC_DIGITS 63

/* The number part as it appears in the text: "12.50" is {"12", 2, "50", 2}. */
struct number {
	const char *int_part;
	size_t int_len;
	const char *frac_part;
	size_t frac_len;
};

static int digit_at(const struct number *n, size_t i)
{
	return (i < n->int_len ? n->int_part[i] : n->frac_part[i - n->int_len]) - '0';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Decodes the suffix in [p, end). Sets *e10 / *b (the number is multiplied by
 * 10^e10 * 2^b) and *format. 0 or -EINVAL.
 */
static int parse_suffix(const char *p, const char *end, int64_t *e10, int *b,
			enum quantity_format *format)
{
	static const struct {
		char c;
		int e10;
	} decimal[] = {
		{ 'n', -9 }, { 'u', -6 }, { 'm', -3 }, { 'k', 3 },  { 'M', 6 },
		{ 'G', 9 },  { 'T', 12 }, { 'P', 15 }, { 'E', 18 },
	};
	static const char binary[] = "KMGTPE";
	size_t len = (size_t)(end - p), i;
	const char *hit;
	bool neg = false;
	int64_t e = 0;

	*e10 = 0;
	*b = 0;
	*format = QUANTITY_DECIMAL_SI;
	if (len == 0)
		return 0;
	/* A lone "E" is exa; "E" followed by digits is an exponent. */
	if (len == 1) {
		for (i = 0; i < ARRAY_SIZE(decimal); i++) {
			if (decimal[i].c == *p) {
				*e10 = decimal[i].e10;
				return 0;
			}
		}
		return -EINVAL;
	}
	if (len == 2 && p[1] == 'i' && p[0] && (hit = strchr(binary, p[0])) != NULL) {
		*b = 10 * (int)(hit - binary + 1);
		*format = QUANTITY_BINARY_SI;
		return 0;
	}
	if (*p != 'e' && *p != 'E')
		return -EINVAL;
	p++;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (p == end)
		return -EINVAL;
	for (; p < end; p++) {
		if (!is_digit(*p))
			return -EINVAL;
		e = e * 10 + (*p - '0');
		if (e > EXP_SATURATE)
			e = EXP_SATURATE;
	}
	*e10 = neg ? -e : e;
	*format = QUANTITY_DECIMAL_EXPONENT;
	return 0;
}

/*
 * Converts number * 10^e10 * 2^b into nano-units, rounding a finer non-zero
 * remainder up in magnitude. 0 or -ERANGE; the result is non-negative.
 */
static int to_nano(const struct number *n, int64_t e10, int b, __int128 *out)
{
	size_t total = n->int_len + n->frac_len, first, last, nsig, i;
	unsigned char frac[FRAC_DIGITS + 1];
	int64_t k, intlen, j;
	__int128 v = 0;
	uint64_t carry_int = 0;
	bool inexact = false;
	int round;

	for (first = 0; first < total && digit_at(n, first) == 0; first++)
		;
	if (first == total) {
		*out = 0;
		return 0;
	}
	for (last = total - 1; digit_at(n, last) == 0; last--)
		;
	nsig = last - first + 1;
	/* S = digits[first..last]; value = S * 10^k nano-units (before 2^b). */
	k = (int64_t)n->int_len - 1 - (int64_t)last + e10 + 9;
	intlen = (int64_t)nsig + k;
	if (intlen > MAX_NANO_DIGITS)
		return -ERANGE;

	if (k >= 0) {
		/* A whole number of nano-units: nsig + k <= 31 digits. */
		for (i = 0; i < nsig; i++)
			v = v * 10 + digit_at(n, first + i);
		for (j = 0; j < k; j++)
			v *= 10;
		if (v > (MAX_NANO >> b))
			return -ERANGE;
		*out = v << b;
		return 0;
	}

	for (j = 0; j < intlen; j++)
		v = v * 10 + digit_at(n, first + (size_t)j);
	/* Fraction digit j is S[intlen + j]; positions outside S are zeros. */
	for (j = 0; j < FRAC_DIGITS; j++) {
		int64_t idx = intlen + j;

		frac[j] = idx >= 0 && idx < (int64_t)nsig ? digit_at(n, first + (size_t)idx) : 0;
	}
	/* S ends in a non-zero digit, so digits were dropped iff it reaches past the kept ones. */
	frac[FRAC_DIGITS] = (int64_t)nsig - intlen > FRAC_DIGITS;

	for (round = 0; round < b; round++) {
		int carry = 0;

		for (j = FRAC_DIGITS; j >= 0; j--) {
			int x = frac[j] * 2 + carry;

			frac[j] = x % 10;
			carry = x / 10;
		}
		carry_int = carry_int * 2 + carry;
	}
	for (j = 0; j <= FRAC_DIGITS; j++)
		inexact |= frac[j] != 0;

	if (v > (MAX_NANO >> b))
		return -ERANGE;
	v = (v << b) + carry_int + inexact;
	if (v > MAX_NANO)
		return -ERANGE;
	*out = v;
	return 0;
}

static int parse_n(const char *s, size_t len, struct quantity *out)
{
	const char *p = s, *end = s + len;
	struct number n = { 0 };
	enum quantity_format format;
	bool neg = false;
	__int128 nano;
	int64_t e10;
	int b, err;

	if (p < end && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	n.int_part = p;
	while (p < end && is_digit(*p))
		p++;
	n.int_len = (size_t)(p - n.int_part);
	n.frac_part = p;
	if (p < end && *p == '.') {
		n.frac_part = ++p;
		while (p < end && is_digit(*p))
			p++;
		n.frac_len = (size_t)(p - n.frac_part);
	}
	if (n.int_len + n.frac_len == 0)
		return -EINVAL;
	err = parse_suffix(p, end, &e10, &b, &format);
	if (err)
		return err;
	err = to_nano(&n, e10, b, &nano);
	if (err)
		return err;
	out->nano = neg ? -nano : nano;
	out->format = format;
	return 0;
}

int quantity_parse(const char *s, struct quantity *out)
{
	if (!s || !out)
		return -EINVAL;
	return parse_n(s, strlen(s), out);
}

static bool is_ascii_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int quantity_parse_json(const json_t *j, struct quantity *out)
{
	char text[64];
	const char *s;
	size_t len;
	int err;

	if (!out)
		return -EINVAL;
	if (!j)
		return -ENOENT;
	switch (json_typeof(j)) {
	case JSON_NULL:
		*out = (struct quantity){ 0, QUANTITY_DECIMAL_SI };
		return 0;
	case JSON_STRING:
		s = json_string_value(j);
		len = json_string_length(j);
		while (len && is_ascii_space(*s)) {
			s++;
			len--;
		}
		while (len && is_ascii_space(s[len - 1]))
			len--;
		return parse_n(s, len, out);
	case JSON_INTEGER:
		snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		return quantity_parse(text, out);
	case JSON_REAL: {
		struct quantity q;
		double d = json_real_value(j);
		int prec;

		/*
		 * The shortest text that reads back as the same double is what the
		 * manifest most likely said; "%.17g" would turn 0.1 into
		 * 0.10000000000000001 and, rounded up to nano, into 100000001n.
		 */
		for (prec = 1; prec < 17; prec++) {
			snprintf(text, sizeof(text), "%.*g", prec, d);
			if (strtod(text, NULL) == d)
				break;
		}
		snprintf(text, sizeof(text), "%.*g", prec, d);
		err = quantity_parse(text, &q);
		if (err)
			return err;
		/* %g may have chosen exponent notation; the number itself had no suffix. */
		q.format = QUANTITY_DECIMAL_SI;
		*out = q;
		return 0;
	}
	default:
		return -EINVAL;
	}
}

struct quantity quantity_from_value(int64_t value, enum quantity_format format)
{
	return (struct quantity){ (__int128)value * NANO_PER_UNIT, format };
}

struct quantity quantity_from_milli(int64_t milli, enum quantity_format format)
{
	return (struct quantity){ (__int128)milli * NANO_PER_MILLI, format };
}

/* nano / div rounded away from zero, saturated to int64. */
static int64_t scaled_away(__int128 nano, int64_t div)
{
	__int128 v = nano / div;

	if (nano % div)
		v += nano > 0 ? 1 : -1;
	if (v > INT64_MAX)
		return INT64_MAX;
	if (v < INT64_MIN)
		return INT64_MIN;
	return (int64_t)v;
}

int64_t quantity_milli(const struct quantity *q)
{
	return scaled_away(q->nano, NANO_PER_MILLI);
}

int64_t quantity_value(const struct quantity *q)
{
	return scaled_away(q->nano, NANO_PER_UNIT);
}

int quantity_cmp(const struct quantity *a, const struct quantity *b)
{
	return (a->nano > b->nano) - (a->nano < b->nano);
}

static int store_sum(const struct quantity *a, const struct quantity *b, __int128 sum,
		     struct quantity *out)
{
	/* Both operands are within 10^30, so the 128-bit sum itself cannot wrap. */
	if (sum > MAX_NANO || sum < -MAX_NANO)
		return -ERANGE;
	out->format = a->nano ? a->format : b->format;
	out->nano = sum;
	return 0;
}

int quantity_add(const struct quantity *a, const struct quantity *b, struct quantity *out)
{
	return store_sum(a, b, a->nano + b->nano, out);
}

int quantity_sub(const struct quantity *a, const struct quantity *b, struct quantity *out)
{
	return store_sum(a, b, a->nano - b->nano, out);
}

/* Writes v in decimal ending just before *end; returns the first character. */
static char *put_u128(unsigned __int128 v, char *end)
{
	do {
		*--end = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	return end;
}

static const char *decimal_suffix(int exp)
{
	static const char *const names[] = { "n", "u", "m", "", "k", "M", "G", "T", "P", "E" };

	/* exp is a multiple of 3 in [-9, 18]. */
	return names[(exp + 9) / 3];
}

int quantity_format(const struct quantity *q, char *buf, size_t len)
{
	static const char *const binary[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
	char digits[48], suffix[16];
	enum quantity_format format = q->format;
	unsigned __int128 mag, m;
	const char *num;
	char *start;
	int exp = -9, i = 0, n;

	if (q->nano == 0) {
		num = "0";
		suffix[0] = '\0';
		goto out;
	}
	mag = q->nano < 0 ? -(unsigned __int128)q->nano : (unsigned __int128)q->nano;
	/* Binary suffixes only for whole values of at least 1Ki, as Kubernetes does. */
	if (format == QUANTITY_BINARY_SI &&
	    (mag < 1024 * (unsigned __int128)NANO_PER_UNIT || mag % NANO_PER_UNIT))
		format = QUANTITY_DECIMAL_SI;

	if (format == QUANTITY_BINARY_SI) {
		m = mag / NANO_PER_UNIT;
		/* Ei is the largest suffix; the limit (< 2^70) keeps i <= 6 anyway. */
		while (i < 6 && m % 1024 == 0) {
			m /= 1024;
			i++;
		}
		snprintf(suffix, sizeof(suffix), "%s", binary[i]);
	} else {
		m = mag;
		while (m % 10 == 0) {
			m /= 10;
			exp++;
		}
		/* Lower the exponent to a multiple of 3 (exp >= -9, so this is floor). */
		while ((exp + 9) % 3) {
			m *= 10;
			exp--;
		}
		if (format == QUANTITY_DECIMAL_SI && exp <= 18)
			snprintf(suffix, sizeof(suffix), "%s", decimal_suffix(exp));
		else if (exp == 0)
			suffix[0] = '\0';
		else
			snprintf(suffix, sizeof(suffix), "e%d", exp);
	}
	digits[sizeof(digits) - 1] = '\0';
	start = put_u128(m, digits + sizeof(digits) - 1);
	if (q->nano < 0)
		*--start = '-';
	num = start;
out:
	n = snprintf(buf, len, "%s%s", num, suffix);
	if (n < 0 || (size_t)n >= len) {
		if (len)
			buf[0] = '\0';
		return -ENOSPC;
	}
	return 0;
}
