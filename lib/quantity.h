/*
 * quantity.h - Kubernetes resource quantities ("100m", "64Mi", "1.5Gi", "1e3").
 *
 * A quantity is a decimal number with a suffix, following the grammar of
 * Kubernetes' resource.Quantity:
 *
 *   quantity  ::= [sign] number suffix
 *   number    ::= digits | digits "." | digits "." digits | "." digits
 *   suffix    ::= binarySI | decimalSI | decimalExponent
 *   binarySI  ::= Ki | Mi | Gi | Ti | Pi | Ei              (2^10 ... 2^60)
 *   decimalSI ::= n | u | m | "" | k | M | G | T | P | E   (10^-9 ... 10^18)
 *   decimalExponent ::= ("e" | "E") [sign] digits          (10^N)
 *
 * "1E" is 10^18 (exa); "1E6" is 10^6. Nothing else is accepted: no spaces, no
 * "Kb", "K", "mi" or "KiB", no hexadecimal. Unlike Kubernetes, a sign or dot
 * without any digit ("-", ".") is an error rather than zero.
 *
 * Representation. The value is kept exactly as a signed count of nano-units
 * (10^-9) in a 128-bit integer, which is what Kubernetes guarantees too: it
 * keeps a quantity only down to nano, rounding a finer non-zero value away
 * from zero when parsing ("0.1n" is 1n, "-0.1n" is -1n). A 64-bit milli count
 * was rejected because it stops at 8 PiB and cannot hold "1n"; a 64-bit
 * mantissa plus exponent (Kubernetes' fast path) because sums need alignment
 * and overflow handling that 128 bits make trivial.
 *
 * Limit. |value| <= 10^21 units: memory up to 1000E
 * bytes (~867 EiB, "867Ei" fits, "868Ei" does not) and CPU up to 10^24
 * millicores. Larger values give -ERANGE from parse, add and sub. Kubernetes
 * instead caps binarySI quantities silently at 2^63-1 ("8Ei" parses as
 * 9223372036854775807); here "8Ei" keeps its value, and the int64 accessors
 * saturate.
 *
 * The format (which suffix family the text used) is remembered, as in
 * Kubernetes, because it decides how the quantity is printed back.
 */
#ifndef CAPSTAN_QUANTITY_H
#define CAPSTAN_QUANTITY_H

#include <stdint.h>
#include <stddef.h>

#include <jansson.h>

enum quantity_format {
	QUANTITY_DECIMAL_SI = 0,   /* "12M", "100m", "5" */
	QUANTITY_BINARY_SI,	   /* "12Mi" */
	QUANTITY_DECIMAL_EXPONENT, /* "12e6" */
};

struct quantity {
	__int128 nano; /* exact value in units of 10^-9 */
	enum quantity_format format;
};

/* Enough for any quantity_format() output (sign, 31 digits, suffix, NUL). */
#define QUANTITY_BUFSZ 48

/*
 * Parses s. 0 on success; -EINVAL when s is NULL, empty or not in the grammar
 * above (spaces, trailing junk, unknown suffix); -ERANGE when the value is
 * larger than 10^21 units in magnitude (an exponent too large to even read,
 * "1e99999999999", is -ERANGE too; a zero mantissa is 0 whatever its
 * exponent). Sets *out only on success.
 */
int quantity_parse(const char *s, struct quantity *out);

/*
 * Parses a quantity from a manifest, where Kubernetes accepts a string or a
 * JSON number. As Kubernetes' UnmarshalJSON does, leading and trailing ASCII
 * whitespace inside a string is ignored and JSON null is the zero quantity.
 * A number is read from its shortest round-trip decimal form (0.1 is "0.1",
 * not 0.1000000000000000055...) and always gets the DecimalSI format: jansson
 * does not keep the number's text, so 1e3 and 1000.0 cannot be told apart,
 * and a manifest converted from YAML carries plain numbers anyway (Kubernetes
 * would print a literal JSON 1e3 as "1e3", here it is "1k").
 *
 * 0 on success; -ENOENT when j is NULL (the field is absent); -EINVAL for
 * booleans, objects, arrays and bad strings; -ERANGE as quantity_parse.
 * Sets *out only on success.
 */
int quantity_parse_json(const json_t *j, struct quantity *out);

/* value units (or value / 1000 units) with the given format. */
struct quantity quantity_from_value(int64_t value, enum quantity_format format);
struct quantity quantity_from_milli(int64_t milli, enum quantity_format format);

/*
 * The value in thousandths / in units, rounded away from zero as Kubernetes'
 * MilliValue() and Value() do ("1n" -> 1 milli, "100m" -> 1, "1.5" -> 2,
 * "-100m" -> -1). Values beyond int64 saturate at INT64_MAX / INT64_MIN
 * (Kubernetes overflows silently instead).
 */
int64_t quantity_milli(const struct quantity *q);
int64_t quantity_value(const struct quantity *q);

/* <0, 0, >0 as a is less than, equal to, greater than b; formats are ignored. */
int quantity_cmp(const struct quantity *a, const struct quantity *b);

/*
 * *out = a + b or a - b. out may alias a or b. The result keeps a's format,
 * or b's when a is zero (Kubernetes' Add/Sub rule, so summing into a zero
 * accumulator prints like the first addend). 0 on success; -ERANGE when the
 * result would exceed 10^21 units in magnitude, and *out is then unchanged.
 */
int quantity_add(const struct quantity *a, const struct quantity *b, struct quantity *out);
int quantity_sub(const struct quantity *a, const struct quantity *b, struct quantity *out);

/*
 * Writes the canonical form, as Kubernetes' Quantity.String() prints a
 * quantity it did not get as already-canonical text:
 *
 *   - zero is "0";
 *   - DecimalSI and DecimalExponent: the smallest integer mantissa whose
 *     exponent is a multiple of 3, with the suffix for that exponent
 *     ("0.5" -> "500m", "1000m" -> "1", "1.2345" -> "1234500u", "1e4" ->
 *     "10e3"); a DecimalSI exponent above 18 falls back to "eN" as recent
 *     Kubernetes does ("1000E" -> "1e21");
 *   - BinarySI: whole values of at least 1024 in magnitude use the largest
 *     power of 1024 that divides them ("1.5Gi" -> "1536Mi", "1024Ki" -> "1Mi",
 *     "1.5Ki" -> "1536"); smaller or fractional values print as DecimalSI
 *     ("0.5Ki" -> "512", "1.1Ki" -> "1126400m").
 *
 * Simplification: Kubernetes remembers the original text when it already
 * looks canonical and prints that back ("+1k" stays "+1k", "0100" stays
 * "0100"); here the output is always computed ("1k", "100"), which is the
 * same for every input that has no sign, leading zeros or similar noise.
 *
 * 0 on success; -ENOSPC when len is too small (QUANTITY_BUFSZ always
 * suffices), and buf is then "" when len > 0.
 */
int quantity_format(const struct quantity *q, char *buf, size_t len);

#endif
