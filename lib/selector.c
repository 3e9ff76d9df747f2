/*
 * selector.c - label and field selectors with Kubernetes' exact semantics.
 *
 * Label selectors are parsed in two steps, as apimachinery does: a lexer cuts the string
 * into identifiers (any run of bytes that is neither whitespace nor one of = ! ( ) , > <)
 * and operators ("!=" and "==" win over their one-byte prefixes), then a recursive-descent
 * parser walks the token array with one token of lookahead. "in" and "notin" are keywords
 * only where an operator is expected, so `in in (in)` is the key "in" with the value "in".
 * The parser reproduces Kubernetes' handling of empty list elements token by token rather
 * than with a cleaner grammar, because its quirks are observable: `(a,)` and `(,a)` add "",
 * `()` means `("")`, and `(a,,)` is an error while `(a,,,)` is not. Rejected alternative: a
 * regular grammar over the whole string, which would disagree with real API servers on
 * exactly those inputs and make a selector that works against Kubernetes fail here.
 *
 * A selector is an array of requirements stably sorted by key (the order Kubernetes prints
 * and that the first-match rule of selector_get_eq depends on); values are kept sorted so
 * matching is a binary search and printing needs no copy. Gt/Lt bounds are converted to an
 * int64 once at build time.
 *
 * Field selectors are simpler on purpose, as in Kubernetes: split on unescaped commas, sort
 * the raw terms, split each at the first operator, unescape the value. Fields are not
 * validated here; which fields exist depends on the resource, so the API server passes its
 * list to fieldsel_check_fields().
 *
 * Every user-supplied byte quoted in an error message is escaped (\xNN outside printable
 * ASCII) so messages can go straight into a JSON Status without breaking UTF-8.
 */
#include "selector.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define LABEL_NAME_MAX 63
#define LABEL_VALUE_MAX 63
#define DNS_SUBDOMAIN_MAX 253

#define MSG_NAME_CHARS                                                                      \
	"must consist of alphanumeric characters, '-', '_' or '.', and must start and end " \
	"with an alphanumeric character"
#define MSG_VALUE_CHARS                                                                      \
	"a valid label must be an empty string or consist of alphanumeric characters, '-', " \
	"'_' or '.', and must start and end with an alphanumeric character"
#define MSG_DNS_CHARS                                                                         \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, " \
	"'-' or '.', and must start and end with an alphanumeric character"

/* ------------------------------------------------------------------ shared helpers */

static void msg_copy(char *err, size_t errlen, const struct buf *msg)
{
	errbuf_setf(err, errlen, "%s", msg->data ? msg->data : "");
}

static void put_str(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

/* Append n bytes of user input, escaping anything that is not printable ASCII. */
static void put_safe(struct buf *b, const char *s, size_t n, bool quoting)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f)
			buf_appendf(b, "\\x%02x", c);
		else if (quoting && (c == '"' || c == '\\'))
			buf_appendf(b, "\\%c", c);
		else
			buf_append(b, &s[i], 1);
	}
}

static void put_quoted(struct buf *b, const char *s)
{
	buf_append(b, "\"", 1);
	put_safe(b, s, strlen(s), true);
	buf_append(b, "\"", 1);
}

/* "<path>: Invalid value: "<value>": <why>", the shape of a field.Error. */
static void put_invalid(struct buf *b, const char *path, const char *value, const char *why)
{
	if (path && *path)
		buf_appendf(b, "%s: ", path);
	put_str(b, "Invalid value: ");
	put_quoted(b, value);
	buf_appendf(b, ": %s", why);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A growable array of owned strings. */
struct strv {
	char **v;
	size_t n, cap;
};

static void strv_push(struct strv *sv, char *s)
{
	if (sv->n == sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 4;
		sv->v = xrealloc(sv->v, sv->cap * sizeof(*sv->v));
	}
	sv->v[sv->n++] = s;
}

static void strv_free(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	*sv = (struct strv){ 0 };
}

/* ------------------------------------------------------------------ validation */

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_lower_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]: non-empty, alphanumeric at both ends. */
static bool name_chars_ok(const char *s, size_t n)
{
	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!is_alnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

/* Dot-separated labels of [a-z0-9]([-a-z0-9]*[a-z0-9])?; no per-label length limit. */
static bool dns_subdomain_chars_ok(const char *s, size_t n)
{
	size_t start = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (i == start || !is_lower_alnum(s[start]) || !is_lower_alnum(s[i - 1]))
				return false;
			start = i + 1;
		} else if (!is_lower_alnum(s[i]) && s[i] != '-') {
			return false;
		}
	}
	return true;
}

static void why_add(struct buf *why, const char *msg)
{
	if (why->len)
		buf_append(why, "; ", 2);
	put_str(why, msg);
}

/*
 * A qualified name: [prefix/]name. Every problem is reported, joined by "; ", as
 * IsQualifiedName does, so an empty name says both "non-empty" and the character rule.
 */
static int check_key(const char *key, struct buf *why)
{
	const char *slash = strchr(key, '/');
	const char *name = key;
	size_t nlen;

	if (slash && strchr(slash + 1, '/')) {
		why_add(why, "a qualified name " MSG_NAME_CHARS
			     " with an optional DNS subdomain prefix and '/' (e.g. "
			     "'example.com/MyName')");
		return -EINVAL;
	}
	if (slash) {
		size_t plen = (size_t)(slash - key);

		if (plen == 0) {
			why_add(why, "prefix part must be non-empty");
		} else {
			if (plen > DNS_SUBDOMAIN_MAX)
				why_add(why, "prefix part must be no more than 253 characters");
			if (!dns_subdomain_chars_ok(key, plen))
				why_add(why, "prefix part " MSG_DNS_CHARS);
		}
		name = slash + 1;
	}
	nlen = strlen(name);
	if (nlen == 0)
		why_add(why, "name part must be non-empty");
	else if (nlen > LABEL_NAME_MAX)
		why_add(why, "name part must be no more than 63 characters");
	if (!name_chars_ok(name, nlen))
		why_add(why, "name part " MSG_NAME_CHARS);
	return why->len ? -EINVAL : 0;
}

static int check_value(const char *value, struct buf *why)
{
	size_t n = strlen(value);

	if (n > LABEL_VALUE_MAX)
		why_add(why, "must be no more than 63 characters");
	if (n && !name_chars_ok(value, n))
		why_add(why, MSG_VALUE_CHARS);
	return why->len ? -EINVAL : 0;
}

int selector_validate_key(const char *key, char *why, size_t whylen)
{
	struct buf b = { 0 };
	int ret = check_key(key, &b);

	if (ret)
		msg_copy(why, whylen, &b);
	buf_free(&b);
	return ret;
}

int selector_validate_value(const char *value, char *why, size_t whylen)
{
	struct buf b = { 0 };
	int ret = check_value(value, &b);

	if (ret)
		msg_copy(why, whylen, &b);
	buf_free(&b);
	return ret;
}

/*
 * strconv.ParseInt(s, 10, 64): optional sign, at least one decimal digit, nothing else (no
 * whitespace, unlike strtoll), and the result must fit an int64.
 */
static bool parse_int64(const char *s, long long *out)
{
	unsigned long long acc = 0, limit = LLONG_MAX;
	bool neg = false;

	if (*s == '+' || *s == '-') {
		neg = *s == '-';
		s++;
	}
	if (!*s)
		return false;
	if (neg)
		limit = (unsigned long long)LLONG_MAX + 1;
	for (; *s; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return false;
		d = (unsigned)(*s - '0');
		if (acc > (limit - d) / 10)
			return false;
		acc = acc * 10 + d;
	}
	if (neg)
		*out = acc > (unsigned long long)LLONG_MAX ? LLONG_MIN : -(long long)acc;
	else
		*out = (long long)acc;
	return true;
}

/* ------------------------------------------------------------------ label selector core */

struct req {
	char *key;
	enum selector_op op;
	char **values; /* sorted (strcmp) */
	size_t nvalues;
	long long bound; /* SELECTOR_OP_GT / _LT only */
	size_t seq;	 /* insertion order: ties on key keep it */
};

struct selector {
	bool nothing;
	struct req *reqs;
	size_t nreqs, cap;
	size_t next_seq;
};

static struct selector *selector_alloc(bool nothing)
{
	struct selector *sel = xcalloc(1, sizeof(*sel));

	sel->nothing = nothing;
	return sel;
}

struct selector *selector_everything(void)
{
	return selector_alloc(false);
}

struct selector *selector_nothing(void)
{
	return selector_alloc(true);
}

static void req_free(struct req *r)
{
	for (size_t i = 0; i < r->nvalues; i++)
		free(r->values[i]);
	free(r->values);
	free(r->key);
}

void selector_free(struct selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->nreqs; i++)
		req_free(&sel->reqs[i]);
	free(sel->reqs);
	free(sel);
}

static int cmp_req(const void *a, const void *b)
{
	const struct req *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Kubernetes sorts by key only; the seq tie-break makes qsort behave like a stable sort. */
static void selector_sort(struct selector *sel)
{
	if (sel->nreqs > 1)
		qsort(sel->reqs, sel->nreqs, sizeof(*sel->reqs), cmp_req);
}

/*
 * NewRequirement: check the operator's arity and the values, then append. The key is
 * checked too (callers that validated it already pay one more scan). dedupe gives the set
 * semantics the string parser has. Messages go to msg; sel is untouched on failure.
 */
static int sel_add(struct selector *sel, const char *key, enum selector_op op,
		   const char *const *values, size_t n, bool dedupe, struct buf *msg)
{
	struct buf why = { 0 };
	char **vals = NULL;
	long long bound = 0;
	size_t nv = n;
	int ret = -EINVAL;

	if (check_key(key, &why)) {
		put_invalid(msg, "key", key, why.data);
		goto out;
	}
	if (n) {
		vals = xmalloc(n * sizeof(*vals));
		for (size_t i = 0; i < n; i++)
			vals[i] = xstrdup(values[i]);
		qsort(vals, n, sizeof(*vals), cmp_str);
		if (dedupe) {
			nv = 1;
			for (size_t i = 1; i < n; i++) {
				if (strcmp(vals[i], vals[nv - 1]) == 0)
					free(vals[i]);
				else
					vals[nv++] = vals[i];
			}
		}
	}

	switch (op) {
	case SELECTOR_OP_IN:
	case SELECTOR_OP_NOT_IN:
		if (nv == 0) {
			put_str(msg,
				"values: for 'in', 'notin' operators, values set can't be empty");
			goto out;
		}
		break;
	case SELECTOR_OP_EQUALS:
	case SELECTOR_OP_DOUBLE_EQUALS:
	case SELECTOR_OP_NOT_EQUALS:
		if (nv != 1) {
			put_str(msg, "values: exact-match compatibility requires one single value");
			goto out;
		}
		break;
	case SELECTOR_OP_EXISTS:
	case SELECTOR_OP_DOES_NOT_EXIST:
		if (nv != 0) {
			put_str(msg,
				"values: values set must be empty for exists and does not exist");
			goto out;
		}
		break;
	case SELECTOR_OP_GT:
	case SELECTOR_OP_LT:
		if (nv != 1) {
			put_str(msg,
				"values: for 'Gt', 'Lt' operators, exactly one value is required");
			goto out;
		}
		if (!parse_int64(vals[0], &bound)) {
			put_invalid(msg, "values[0]", vals[0],
				    "for 'Gt', 'Lt' operators, the value must be an integer");
			goto out;
		}
		break;
	default:
		buf_appendf(msg, "operator: Unsupported value: %d", (int)op);
		goto out;
	}

	for (size_t i = 0; i < nv; i++) {
		buf_reset(&why);
		if (check_value(vals[i], &why)) {
			char path[32];

			snprintf(path, sizeof(path), "values[%zu]", i);
			put_invalid(msg, path, vals[i], why.data);
			goto out;
		}
	}

	ret = 0;
	if (sel->nothing)
		goto out; /* Kubernetes' Nothing().Add() is still Nothing() */
	if (sel->nreqs == sel->cap) {
		sel->cap = sel->cap ? sel->cap * 2 : 4;
		sel->reqs = xrealloc(sel->reqs, sel->cap * sizeof(*sel->reqs));
	}
	sel->reqs[sel->nreqs++] = (struct req){
		.key = xstrdup(key),
		.op = op,
		.values = vals,
		.nvalues = nv,
		.bound = bound,
		.seq = sel->next_seq++,
	};
	vals = NULL;
	nv = 0;
out:
	for (size_t i = 0; vals && i < nv; i++)
		free(vals[i]);
	free(vals);
	buf_free(&why);
	return ret;
}

int selector_add(struct selector *sel, const char *key, enum selector_op op,
		 const char *const *values, size_t nvalues, char *err, size_t errlen)
{
	struct buf msg = { 0 };
	int ret;

	if (!sel || !key || (nvalues && !values)) {
		errbuf_setf(err, errlen, "invalid arguments");
		return -EINVAL;
	}
	for (size_t i = 0; i < nvalues; i++) {
		if (!values[i]) {
			errbuf_setf(err, errlen, "values[%zu]: Required value", i);
			return -EINVAL;
		}
	}
	ret = sel_add(sel, key, op, values, nvalues, false, &msg);
	if (ret)
		msg_copy(err, errlen, &msg);
	else
		selector_sort(sel);
	buf_free(&msg);
	return ret;
}

/* ------------------------------------------------------------------ lexer */

enum tok_kind {
	TOK_END,
	TOK_IDENT,
	TOK_IN,
	TOK_NOTIN,
	TOK_NOT, /* "!" */
	TOK_EQ,
	TOK_DEQ,
	TOK_NEQ,
	TOK_GT,
	TOK_LT,
	TOK_OPEN,
	TOK_CLOSE,
	TOK_COMMA,
};

struct token {
	enum tok_kind kind;
	const char *lit; /* points into the input; "" for TOK_END */
	size_t len;
};

struct tokens {
	struct token *v;
	size_t n, cap;
};

/* Only these four count as whitespace; \v or \f are identifier bytes (and then invalid). */
static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The one-byte operator c stands for, or TOK_IDENT when c can be part of an identifier. */
static enum tok_kind special_kind(char c)
{
	switch (c) {
	case '=':
		return TOK_EQ;
	case '!':
		return TOK_NOT;
	case '(':
		return TOK_OPEN;
	case ')':
		return TOK_CLOSE;
	case ',':
		return TOK_COMMA;
	case '>':
		return TOK_GT;
	case '<':
		return TOK_LT;
	default:
		return TOK_IDENT;
	}
}

static void tok_push(struct tokens *t, enum tok_kind kind, const char *lit, size_t len)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	t->v[t->n++] = (struct token){ kind, lit, len };
}

static void lex(const char *s, struct tokens *t)
{
	for (;;) {
		enum tok_kind kind;
		const char *start;

		while (is_ws(*s))
			s++;
		if (!*s) {
			tok_push(t, TOK_END, "", 0);
			return;
		}
		kind = special_kind(*s);
		if (kind != TOK_IDENT) {
			/* Longest match: "!=" and "==" are the only two-byte operators. */
			if ((kind == TOK_NOT || kind == TOK_EQ) && s[1] == '=') {
				tok_push(t, kind == TOK_NOT ? TOK_NEQ : TOK_DEQ, s, 2);
				s += 2;
			} else {
				tok_push(t, kind, s, 1);
				s++;
			}
			continue;
		}
		start = s;
		while (*s && !is_ws(*s) && special_kind(*s) == TOK_IDENT)
			s++;
		if (s - start == 2 && !memcmp(start, "in", 2))
			kind = TOK_IN;
		else if (s - start == 5 && !memcmp(start, "notin", 5))
			kind = TOK_NOTIN;
		tok_push(t, kind, start, (size_t)(s - start));
	}
}

/* ------------------------------------------------------------------ parser */

struct parser {
	const struct token *toks;
	size_t n, pos;
	struct buf *msg;
};

/*
 * Outside operator position the keywords are ordinary identifiers: "in" can be a key or a
 * value. Only parse_operator() looks at tokens with keywords = true.
 */
static enum tok_kind kind_of(const struct token *t, bool keywords)
{
	if (!keywords && (t->kind == TOK_IN || t->kind == TOK_NOTIN))
		return TOK_IDENT;
	return t->kind;
}

static const struct token *peek(const struct parser *p)
{
	return &p->toks[p->pos];
}

/* The last token is TOK_END and is never stepped over, so peek() stays in bounds. */
static const struct token *take(struct parser *p)
{
	const struct token *t = &p->toks[p->pos];

	if (p->pos + 1 < p->n)
		p->pos++;
	return t;
}

static int found(struct parser *p, const struct token *t, const char *expected)
{
	put_str(p->msg, "found '");
	put_safe(p->msg, t->lit, t->len, false);
	buf_appendf(p->msg, "'%s", expected);
	return -EINVAL;
}

/* After "key in (": the list up to, not including, ")". Empty elements become "". */
static int parse_ident_list(struct parser *p, struct strv *vals)
{
	for (;;) {
		const struct token *t = take(p);
		enum tok_kind next;

		switch (kind_of(t, false)) {
		case TOK_IDENT:
			strv_push(vals, xstrndup(t->lit, t->len));
			next = kind_of(peek(p), false);
			if (next == TOK_COMMA)
				continue;
			if (next == TOK_CLOSE)
				return 0;
			return found(p, peek(p), ", expected: ',' or ')'");
		case TOK_COMMA:
			/*
			 * Kubernetes looks at most one token past a comma, which is why "(a,,)"
			 * fails but "(a,,,)" parses; reproduced as is (see the file comment).
			 */
			if (vals->n == 0)
				strv_push(vals, xstrdup(""));
			next = kind_of(peek(p), false);
			if (next == TOK_CLOSE) {
				strv_push(vals, xstrdup(""));
				return 0;
			}
			if (next == TOK_COMMA) {
				take(p);
				strv_push(vals, xstrdup(""));
			}
			continue;
		default:
			return found(p, t, ", expected: ',', or identifier");
		}
	}
}

static int parse_values(struct parser *p, struct strv *vals)
{
	const struct token *t = take(p);
	int ret;

	if (kind_of(t, false) != TOK_OPEN)
		return found(p, t, " expected: '('");
	switch (kind_of(peek(p), false)) {
	case TOK_IDENT:
	case TOK_COMMA:
		ret = parse_ident_list(p, vals);
		if (ret)
			return ret;
		t = take(p);
		if (kind_of(t, false) != TOK_CLOSE)
			return found(p, t, ", expected: ')'");
		return 0;
	case TOK_CLOSE:
		take(p);
		strv_push(vals, xstrdup("")); /* "()" is the set {""}, not an empty set */
		return 0;
	default:
		return found(p, peek(p), ", expected: ',', ')' or identifier");
	}
}

/* "key=" and "key=," carry the empty value; anything but an identifier is an error. */
static int parse_exact_value(struct parser *p, struct strv *vals)
{
	const struct token *t;
	enum tok_kind next = kind_of(peek(p), false);

	if (next == TOK_END || next == TOK_COMMA) {
		strv_push(vals, xstrdup(""));
		return 0;
	}
	t = take(p);
	if (kind_of(t, false) != TOK_IDENT)
		return found(p, t, ", expected: identifier");
	strv_push(vals, xstrndup(t->lit, t->len));
	return 0;
}

static int parse_operator(struct parser *p, enum selector_op *op)
{
	const struct token *t = take(p);

	switch (kind_of(t, true)) {
	case TOK_IN:
		*op = SELECTOR_OP_IN;
		return 0;
	case TOK_NOTIN:
		*op = SELECTOR_OP_NOT_IN;
		return 0;
	case TOK_EQ:
		*op = SELECTOR_OP_EQUALS;
		return 0;
	case TOK_DEQ:
		*op = SELECTOR_OP_DOUBLE_EQUALS;
		return 0;
	case TOK_NEQ:
		*op = SELECTOR_OP_NOT_EQUALS;
		return 0;
	case TOK_GT:
		*op = SELECTOR_OP_GT;
		return 0;
	case TOK_LT:
		*op = SELECTOR_OP_LT;
		return 0;
	default:
		return found(p, t, ", expected: in, notin, =, ==, !=, gt, lt");
	}
}

static int parse_requirement(struct parser *p, struct selector *sel)
{
	struct strv vals = { 0 };
	struct buf why = { 0 };
	const struct token *t = take(p);
	enum selector_op op = SELECTOR_OP_EXISTS;
	enum tok_kind next;
	bool negated = false;
	char *key = NULL;
	int ret;

	if (t->kind == TOK_NOT) {
		negated = true;
		t = take(p);
	}
	if (kind_of(t, false) != TOK_IDENT) {
		ret = found(p, t, ", expected: identifier");
		goto out;
	}
	key = xstrndup(t->lit, t->len);
	ret = check_key(key, &why);
	if (ret) {
		put_invalid(p->msg, NULL, key, why.data);
		goto out;
	}
	/*
	 * "!key" is complete whatever follows: in "!a=b" the "=" is then rejected by the
	 * caller as "expected ',' or end of string", as Kubernetes does.
	 */
	if (negated) {
		ret = sel_add(sel, key, SELECTOR_OP_DOES_NOT_EXIST, NULL, 0, true, p->msg);
		goto out;
	}
	next = kind_of(peek(p), false);
	if (next == TOK_END || next == TOK_COMMA) {
		ret = sel_add(sel, key, SELECTOR_OP_EXISTS, NULL, 0, true, p->msg);
		goto out;
	}
	ret = parse_operator(p, &op);
	if (ret)
		goto out;
	if (op == SELECTOR_OP_IN || op == SELECTOR_OP_NOT_IN)
		ret = parse_values(p, &vals);
	else
		ret = parse_exact_value(p, &vals);
	if (ret)
		goto out;
	ret = sel_add(sel, key, op, (const char *const *)vals.v, vals.n, true, p->msg);
out:
	strv_free(&vals);
	buf_free(&why);
	free(key);
	return ret;
}

static int parse_selector(struct parser *p, struct selector *sel)
{
	for (;;) {
		const struct token *t = peek(p);

		switch (kind_of(t, false)) {
		case TOK_IDENT:
		case TOK_NOT:
			put_str(p->msg, "unable to parse requirement: ");
			if (parse_requirement(p, sel))
				return -EINVAL;
			buf_reset(p->msg);
			t = take(p);
			switch (kind_of(t, false)) {
			case TOK_END:
				return 0;
			case TOK_COMMA:
				t = peek(p);
				if (kind_of(t, false) != TOK_IDENT && t->kind != TOK_NOT)
					return found(p, t, ", expected: identifier after ','");
				break;
			default:
				return found(p, t, ", expected: ',' or 'end of string'");
			}
			break;
		case TOK_END:
			return 0;
		default:
			return found(p, t, ", expected: !, identifier, or 'end of string'");
		}
	}
}

int selector_parse(const char *str, struct selector **out, char *err, size_t errlen)
{
	struct tokens toks = { 0 };
	struct buf msg = { 0 };
	struct selector *sel = selector_everything();
	struct parser p;
	int ret;

	lex(str ? str : "", &toks);
	p = (struct parser){ .toks = toks.v, .n = toks.n, .msg = &msg };
	ret = parse_selector(&p, sel);
	if (ret) {
		msg_copy(err, errlen, &msg);
		selector_free(sel);
		goto out;
	}
	selector_sort(sel);
	*out = sel;
out:
	free(toks.v);
	buf_free(&msg);
	return ret;
}

/* ------------------------------------------------------------------ structured forms */

/*
 * matchLabels or a plain map: every key and value validated (ValidateLabels), reported
 * against path ("matchLabels: Invalid value: ...") or bare when path is NULL.
 */
static int add_label_map(struct selector *sel, const json_t *map, const char *path, struct buf *msg)
{
	struct buf why = { 0 };
	const char *key;
	json_t *val;
	int ret = 0;

	if (!json_is_object(map)) {
		buf_appendf(msg, "%s%sInvalid value: must be an object of strings",
			    path ? path : "", path ? ": " : "");
		return -EINVAL;
	}
	json_object_foreach((json_t *)map, key, val) {
		const char *v = json_string_value(val);

		if (!json_is_string(val) || strlen(v) != json_string_length(val)) {
			buf_appendf(msg, "%s%sInvalid value: ", path ? path : "", path ? ": " : "");
			put_quoted(msg, key);
			put_str(msg, ": label values must be strings");
			ret = -EINVAL;
			break;
		}
		buf_reset(&why);
		if (check_key(key, &why)) {
			put_invalid(msg, path, key, why.data);
			ret = -EINVAL;
			break;
		}
		if (check_value(v, &why)) {
			put_invalid(msg, path, v, why.data);
			ret = -EINVAL;
			break;
		}
		ret = sel_add(sel, key, SELECTOR_OP_EQUALS, &v, 1, false, msg);
		if (ret)
			break;
	}
	buf_free(&why);
	return ret;
}

static const struct {
	const char *name;
	enum selector_op op;
} json_ops[] = {
	{ "In", SELECTOR_OP_IN },
	{ "NotIn", SELECTOR_OP_NOT_IN },
	{ "Exists", SELECTOR_OP_EXISTS },
	{ "DoesNotExist", SELECTOR_OP_DOES_NOT_EXIST },
};

/* One LabelSelectorRequirement, checked in the API server's order: operator, key, values. */
static int add_expression(struct selector *sel, const json_t *expr, size_t idx, struct buf *msg)
{
	struct buf why = { 0 };
	const char **vals = NULL;
	const char *key, *opname;
	json_t *values, *v;
	size_t nvals = 0, i;
	enum selector_op op = SELECTOR_OP_IN;
	bool known = false;
	int ret = -EINVAL;

	if (!json_is_object(expr)) {
		buf_appendf(msg, "matchExpressions[%zu]: Invalid value: must be an object", idx);
		goto out;
	}
	key = json_string_value(json_object_get(expr, "key"));
	opname = json_string_value(json_object_get(expr, "operator"));
	values = json_object_get(expr, "values");
	if (values && !json_is_null(values)) {
		if (!json_is_array(values)) {
			buf_appendf(msg,
				    "matchExpressions[%zu].values: Invalid value: must be a list",
				    idx);
			goto out;
		}
		nvals = json_array_size(values);
		vals = xcalloc(nvals, sizeof(*vals));
		json_array_foreach(values, i, v) {
			vals[i] = json_string_value(v);
			if (!vals[i] || strlen(vals[i]) != json_string_length(v)) {
				buf_appendf(msg,
					    "matchExpressions[%zu].values[%zu]: Invalid value: "
					    "must be a string",
					    idx, i);
				goto out;
			}
		}
	}

	for (i = 0; opname && i < ARRAY_SIZE(json_ops); i++) {
		if (!strcmp(opname, json_ops[i].name)) {
			op = json_ops[i].op;
			known = true;
		}
	}
	if (!known) {
		buf_appendf(msg, "matchExpressions[%zu].operator: Invalid value: ", idx);
		put_quoted(msg, opname ? opname : "");
		put_str(msg, ": not a valid selector operator");
		goto out;
	}
	if ((op == SELECTOR_OP_IN || op == SELECTOR_OP_NOT_IN) && nvals == 0) {
		buf_appendf(msg,
			    "matchExpressions[%zu].values: Required value: must be specified when "
			    "`operator` is 'In' or 'NotIn'",
			    idx);
		goto out;
	}
	if ((op == SELECTOR_OP_EXISTS || op == SELECTOR_OP_DOES_NOT_EXIST) && nvals > 0) {
		buf_appendf(msg,
			    "matchExpressions[%zu].values: Forbidden: may not be specified when "
			    "`operator` is 'Exists' or 'DoesNotExist'",
			    idx);
		goto out;
	}
	if (!key) {
		buf_appendf(msg, "matchExpressions[%zu].key: Required value", idx);
		goto out;
	}
	if (check_key(key, &why)) {
		char path[64];

		snprintf(path, sizeof(path), "matchExpressions[%zu].key", idx);
		put_invalid(msg, path, key, why.data);
		goto out;
	}
	for (i = 0; i < nvals; i++) {
		buf_reset(&why);
		if (check_value(vals[i], &why)) {
			char path[80];

			snprintf(path, sizeof(path), "matchExpressions[%zu].values[%zu]", idx, i);
			put_invalid(msg, path, vals[i], why.data);
			goto out;
		}
	}
	ret = sel_add(sel, key, op, vals, nvals, false, msg);
out:
	free(vals);
	buf_free(&why);
	return ret;
}

int selector_from_json(const json_t *label_selector, struct selector **out, char *err,
		       size_t errlen)
{
	struct selector *sel = NULL;
	struct buf msg = { 0 };
	const json_t *labels, *exprs, *expr;
	size_t i;
	int ret = -EINVAL;

	if (!label_selector || json_is_null(label_selector)) {
		*out = selector_nothing();
		return 0;
	}
	if (!json_is_object(label_selector)) {
		put_str(&msg, "Invalid value: a label selector must be an object");
		goto out;
	}
	sel = selector_everything();
	labels = json_object_get(label_selector, "matchLabels");
	if (labels && !json_is_null(labels)) {
		if (add_label_map(sel, labels, "matchLabels", &msg))
			goto out;
	}
	exprs = json_object_get(label_selector, "matchExpressions");
	if (exprs && !json_is_null(exprs)) {
		if (!json_is_array(exprs)) {
			put_str(&msg, "matchExpressions: Invalid value: must be a list");
			goto out;
		}
		json_array_foreach(exprs, i, expr) {
			if (add_expression(sel, expr, i, &msg))
				goto out;
		}
	}
	selector_sort(sel);
	*out = sel;
	sel = NULL;
	ret = 0;
out:
	if (ret)
		msg_copy(err, errlen, &msg);
	selector_free(sel);
	buf_free(&msg);
	return ret;
}

int selector_from_map(const json_t *map, struct selector **out, char *err, size_t errlen)
{
	struct selector *sel = selector_everything();
	struct buf msg = { 0 };
	int ret = 0;

	if (map && !json_is_null(map))
		ret = add_label_map(sel, map, NULL, &msg);
	if (ret) {
		msg_copy(err, errlen, &msg);
		selector_free(sel);
	} else {
		selector_sort(sel);
		*out = sel;
	}
	buf_free(&msg);
	return ret;
}

/* ------------------------------------------------------------------ queries */

static bool req_has_value(const struct req *r, const char *v)
{
	return bsearch(&v, r->values, r->nvalues, sizeof(*r->values), cmp_str) != NULL;
}

static bool req_matches(const struct req *r, const json_t *labels)
{
	const json_t *jv = json_object_get(labels, r->key);
	const char *v = json_is_string(jv) ? json_string_value(jv) : NULL;
	/* A value with an embedded NUL equals no valid label value and is no integer. */
	bool comparable = v && strlen(v) == json_string_length(jv);
	long long n;

	switch (r->op) {
	case SELECTOR_OP_EQUALS:
	case SELECTOR_OP_DOUBLE_EQUALS:
	case SELECTOR_OP_IN:
		return comparable && req_has_value(r, v);
	case SELECTOR_OP_NOT_EQUALS:
	case SELECTOR_OP_NOT_IN:
		return !comparable || !req_has_value(r, v);
	case SELECTOR_OP_EXISTS:
		return v != NULL;
	case SELECTOR_OP_DOES_NOT_EXIST:
		return v == NULL;
	case SELECTOR_OP_GT:
		return comparable && parse_int64(v, &n) && n > r->bound;
	case SELECTOR_OP_LT:
		return comparable && parse_int64(v, &n) && n < r->bound;
	}
	return false;
}

bool selector_matches(const struct selector *sel, const json_t *labels)
{
	if (!sel || sel->nothing)
		return false;
	if (!json_is_object(labels))
		labels = NULL; /* json_object_get(NULL, ...) is NULL: every key is absent */
	for (size_t i = 0; i < sel->nreqs; i++) {
		if (!req_matches(&sel->reqs[i], labels))
			return false;
	}
	return true;
}

bool selector_empty(const struct selector *sel)
{
	return sel && !sel->nothing && sel->nreqs == 0;
}

bool selector_is_nothing(const struct selector *sel)
{
	return sel && sel->nothing;
}

size_t selector_len(const struct selector *sel)
{
	return sel ? sel->nreqs : 0;
}

static const char *const op_text[] = {
	[SELECTOR_OP_EQUALS] = "=",
	[SELECTOR_OP_DOUBLE_EQUALS] = "==",
	[SELECTOR_OP_NOT_EQUALS] = "!=",
	[SELECTOR_OP_IN] = " in ",
	[SELECTOR_OP_NOT_IN] = " notin ",
	[SELECTOR_OP_EXISTS] = "",
	[SELECTOR_OP_DOES_NOT_EXIST] = "",
	[SELECTOR_OP_GT] = ">",
	[SELECTOR_OP_LT] = "<",
};

const char *selector_string(const struct selector *sel, struct buf *out)
{
	buf_append(out, "", 0); /* out->data is never NULL from here */
	for (size_t i = 0; sel && i < sel->nreqs; i++) {
		const struct req *r = &sel->reqs[i];
		bool set = r->op == SELECTOR_OP_IN || r->op == SELECTOR_OP_NOT_IN;

		if (i)
			buf_append(out, ",", 1);
		if (r->op == SELECTOR_OP_DOES_NOT_EXIST)
			buf_append(out, "!", 1);
		put_str(out, r->key);
		put_str(out, op_text[r->op]);
		if (set)
			buf_append(out, "(", 1);
		for (size_t j = 0; j < r->nvalues; j++) {
			if (j)
				buf_append(out, ",", 1);
			put_str(out, r->values[j]);
		}
		if (set)
			buf_append(out, ")", 1);
	}
	return out->data;
}

const char *selector_get_eq(const struct selector *sel, const char *key)
{
	for (size_t i = 0; sel && key && i < sel->nreqs; i++) {
		const struct req *r = &sel->reqs[i];

		if (strcmp(r->key, key))
			continue;
		if ((r->op == SELECTOR_OP_EQUALS || r->op == SELECTOR_OP_DOUBLE_EQUALS ||
		     r->op == SELECTOR_OP_IN) &&
		    r->nvalues == 1)
			return r->values[0];
		return NULL;
	}
	return NULL;
}

/* ------------------------------------------------------------------ field selectors */

struct fieldsel_term {
	char *field;
	char *value; /* unescaped */
	bool not_equal;
};

struct fieldsel {
	struct fieldsel_term *terms;
	size_t n;
};

void fieldsel_free(struct fieldsel *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->n; i++) {
		free(sel->terms[i].field);
		free(sel->terms[i].value);
	}
	free(sel->terms);
	free(sel);
}

/* Commas preceded by a backslash are data; the backslash stays for unescape_value(). */
static void split_terms(const char *s, struct strv *terms)
{
	const char *start = s;
	bool in_slash = false;

	if (!*s)
		return;
	for (; *s; s++) {
		if (in_slash)
			in_slash = false;
		else if (*s == '\\')
			in_slash = true;
		else if (*s == ',') {
			strv_push(terms, xstrndup(start, (size_t)(s - start)));
			start = s + 1;
		}
	}
	strv_push(terms, xstrdup(start));
}

static int unescape_value(const char *s, char **out, struct buf *msg)
{
	struct buf v = { 0 };

	buf_append(&v, "", 0);
	for (; *s; s++) {
		if (*s == '\\') {
			if (s[1] != '\\' && s[1] != ',' && s[1] != '=') {
				put_str(msg, "invalid field selector: invalid escape sequence: \\");
				if (s[1])
					put_safe(msg, s + 1, 1, false);
				buf_free(&v);
				return -EINVAL;
			}
			s++;
		} else if (*s == ',' || *s == '=') {
			buf_appendf(msg,
				    "invalid field selector: unescaped character in value: '%c'",
				    *s);
			buf_free(&v);
			return -EINVAL;
		}
		buf_append(&v, s, 1);
	}
	*out = v.data;
	return 0;
}

int fieldsel_parse(const char *str, struct fieldsel **out, char *err, size_t errlen)
{
	struct fieldsel *sel = xcalloc(1, sizeof(*sel));
	struct strv terms = { 0 };
	struct buf msg = { 0 };
	int ret = 0;

	if (!str)
		str = "";
	split_terms(str, &terms);
	if (terms.n > 1)
		qsort(terms.v, terms.n, sizeof(*terms.v), cmp_str);
	sel->terms = xcalloc(terms.n, sizeof(*sel->terms));

	for (size_t i = 0; i < terms.n; i++) {
		const char *t = terms.v[i], *op = NULL;
		size_t oplen = 0;
		char *value = NULL;

		if (!*t)
			continue;
		/* The first operator wins; "!=" and "==" before "=" at the same offset. */
		for (const char *c = t; *c && !op; c++) {
			if ((c[0] == '!' || c[0] == '=') && c[1] == '=') {
				op = c;
				oplen = 2;
			} else if (c[0] == '=') {
				op = c;
				oplen = 1;
			}
		}
		if (!op) {
			put_str(&msg, "invalid selector: '");
			put_safe(&msg, str, strlen(str), false);
			put_str(&msg, "'; can't understand '");
			put_safe(&msg, t, strlen(t), false);
			put_str(&msg, "'");
			ret = -EINVAL;
			break;
		}
		ret = unescape_value(op + oplen, &value, &msg);
		if (ret)
			break;
		if (op == t && !*value) {
			/* "=" alone: Kubernetes' Transform drops a term with both sides empty. */
			free(value);
			continue;
		}
		sel->terms[sel->n++] = (struct fieldsel_term){
			.field = xstrndup(t, (size_t)(op - t)),
			.value = value,
			.not_equal = op[0] == '!',
		};
	}

	if (ret) {
		msg_copy(err, errlen, &msg);
		fieldsel_free(sel);
	} else {
		*out = sel;
	}
	strv_free(&terms);
	buf_free(&msg);
	return ret;
}

bool fieldsel_matches(const struct fieldsel *sel, fieldsel_get_fn get, void *ctx)
{
	for (size_t i = 0; sel && i < sel->n; i++) {
		const struct fieldsel_term *t = &sel->terms[i];
		const char *v = get ? get(ctx, t->field) : NULL;
		bool equal = strcmp(v ? v : "", t->value) == 0;

		if (equal == t->not_equal)
			return false;
	}
	return true;
}

int fieldsel_check_fields(const struct fieldsel *sel, const char *const *allowed, char *err,
			  size_t errlen)
{
	for (size_t i = 0; sel && i < sel->n; i++) {
		const char *f = sel->terms[i].field;
		bool ok = false;

		for (size_t j = 0; allowed && allowed[j] && !ok; j++)
			ok = strcmp(allowed[j], f) == 0;
		if (!ok) {
			struct buf msg = { 0 };

			put_str(&msg, "field label not supported: ");
			put_safe(&msg, f, strlen(f), false);
			msg_copy(err, errlen, &msg);
			buf_free(&msg);
			return -EINVAL;
		}
	}
	return 0;
}

const char *fieldsel_get_eq(const struct fieldsel *sel, const char *field)
{
	for (size_t i = 0; sel && field && i < sel->n; i++) {
		if (!sel->terms[i].not_equal && !strcmp(sel->terms[i].field, field))
			return sel->terms[i].value;
	}
	return NULL;
}

bool fieldsel_empty(const struct fieldsel *sel)
{
	return !sel || sel->n == 0;
}

void fieldsel_escape_value(const char *value, struct buf *out)
{
	buf_append(out, "", 0);
	for (; *value; value++) {
		if (*value == '\\' || *value == ',' || *value == '=')
			buf_append(out, "\\", 1);
		buf_append(out, value, 1);
	}
}

const char *fieldsel_string(const struct fieldsel *sel, struct buf *out)
{
	buf_append(out, "", 0);
	for (size_t i = 0; sel && i < sel->n; i++) {
		if (i)
			buf_append(out, ",", 1);
		put_str(out, sel->terms[i].field);
		put_str(out, sel->terms[i].not_equal ? "!=" : "=");
		fieldsel_escape_value(sel->terms[i].value, out);
	}
	return out->data;
}
