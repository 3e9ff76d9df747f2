/*
 * status.c - see status.h. The one place that turns errors into Status
 * objects, so messages read the same as upstream's wherever they come from.
 */
#include "control/apiserver/status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const struct {
	const char *reason;
	int code;
} reasons[] = {
	[REASON_BAD_REQUEST] = { "BadRequest", 400 },
	[REASON_UNAUTHORIZED] = { "Unauthorized", 401 },
	[REASON_FORBIDDEN] = { "Forbidden", 403 },
	[REASON_NOT_FOUND] = { "NotFound", 404 },
	[REASON_METHOD_NOT_ALLOWED] = { "MethodNotAllowed", 405 },
	[REASON_NOT_ACCEPTABLE] = { "NotAcceptable", 406 },
	[REASON_ALREADY_EXISTS] = { "AlreadyExists", 409 },
	[REASON_CONFLICT] = { "Conflict", 409 },
	[REASON_GONE] = { "Gone", 410 },
	[REASON_EXPIRED] = { "Expired", 410 },
	[REASON_REQUEST_TOO_LARGE] = { "RequestEntityTooLarge", 413 },
	[REASON_UNSUPPORTED_MEDIA_TYPE] = { "UnsupportedMediaType", 415 },
	[REASON_INVALID] = { "Invalid", 422 },
	[REASON_TOO_MANY_REQUESTS] = { "TooManyRequests", 429 },
	[REASON_INTERNAL_ERROR] = { "InternalError", 500 },
	[REASON_SERVICE_UNAVAILABLE] = { "ServiceUnavailable", 503 },
	[REASON_TIMEOUT] = { "Timeout", 504 },
};

int status_code(enum api_reason reason)
{
	return reasons[reason].code;
}

static json_t *status_base(const char *status)
{
	return json_pack("{s:s,s:s,s:{},s:s}", "kind", "Status", "apiVersion", "v1", "metadata",
			 "status", status);
}

static json_t *details(const struct resource *r, const char *name)
{
	json_t *d = json_object();

	if (name && *name)
		json_object_set_new(d, "name", json_string(name));
	if (r) {
		if (r->group[0])
			json_object_set_new(d, "group", json_string(r->group));
		json_object_set_new(d, "kind", json_string(r->name));
	}
	return d;
}

json_t *status_failure(enum api_reason reason, const struct resource *r, const char *name,
		       json_t *causes, const char *fmt, ...)
{
	json_t *st = status_base("Failure");
	json_t *d = details(r, name);
	char *msg;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	json_object_set_new(st, "message", json_string(msg));
	free(msg);
	json_object_set_new(st, "reason", json_string(reasons[reason].reason));
	if (causes)
		json_object_set_new(d, "causes", causes);
	if (json_object_size(d))
		json_object_set_new(st, "details", d);
	else
		json_decref(d);
	json_object_set_new(st, "code", json_integer(reasons[reason].code));
	return st;
}

json_t *status_success(const struct resource *r, const char *name, const char *uid)
{
	json_t *st = status_base("Success");
	json_t *d = details(r, name);

	if (uid)
		json_object_set_new(d, "uid", json_string(uid));
	if (json_object_size(d))
		json_object_set_new(st, "details", d);
	else
		json_decref(d);
	return st;
}

/* "Deployment.apps" or "Pod". */
static void qualified_kind(const struct resource *r, char *buf, size_t len)
{
	if (!r)
		snprintf(buf, len, "Object");
	else if (r->group[0])
		snprintf(buf, len, "%s.%s", r->kind, r->group);
	else
		snprintf(buf, len, "%s", r->kind);
}

json_t *status_invalid(const struct resource *r, const char *name, json_t *causes)
{
	struct buf msg = { 0 };
	char kind[128];
	size_t i;
	json_t *c, *st;

	qualified_kind(r, kind, sizeof(kind));
	buf_appendf(&msg, "%s \"%s\" is invalid: ", kind, name ? name : "");
	if (json_array_size(causes) > 1)
		buf_appendf(&msg, "[");
	json_array_foreach(causes, i, c) {
		const char *field = json_string_value(json_object_get(c, "field"));
		const char *m = json_string_value(json_object_get(c, "message"));

		buf_appendf(&msg, "%s%s%s%s", i ? ", " : "", field ? field : "",
			    field ? ": " : "", m ? m : "");
	}
	if (json_array_size(causes) > 1)
		buf_appendf(&msg, "]");
	st = status_failure(REASON_INVALID, r, name, causes, "%s", msg.data);
	buf_free(&msg);
	/* Invalid names the Kind, where NotFound and friends name the resource. */
	if (r)
		json_object_set_new(json_object_get(st, "details"), "kind", json_string(r->kind));
	return st;
}

json_t *status_from_errno(int err, const struct resource *r, const char *name)
{
	char kind[128];
	const char *what = r ? r->name : "object";

	/* Upstream names the resource as "plural.group" in these messages. */
	if (r && r->group[0])
		snprintf(kind, sizeof(kind), "%s.%s", r->name, r->group);
	else
		snprintf(kind, sizeof(kind), "%s", what);
	switch (err) {
	case -ENOENT:
		return status_failure(REASON_NOT_FOUND, r, name, NULL, "%s \"%s\" not found", kind,
				      name ? name : "");
	case -EEXIST:
		return status_failure(REASON_ALREADY_EXISTS, r, name, NULL,
				      "%s \"%s\" already exists", kind, name ? name : "");
	case -ESTALE:
		return status_failure(REASON_CONFLICT, r, name, NULL,
				      "Operation cannot be fulfilled on %s \"%s\": the object has "
				      "been modified; please apply your changes to the latest "
				      "version and try again",
				      kind, name ? name : "");
	default:
		return status_failure(REASON_INTERNAL_ERROR, r, name, NULL,
				      "Internal error occurred: %s", strerror(-err));
	}
}
