/*
 * status.h - every error the API server returns is a meta/v1 Status.
 *
 * kubectl prints a Status's message, and clients branch on its reason and
 * code (NotFound, AlreadyExists, Conflict, Invalid, Expired, ...). All of
 * them are built here, in one place, from a reason enum; the handlers never
 * write an error body by hand.
 */
#ifndef CAPSTAN_APISERVER_STATUS_H
#define CAPSTAN_APISERVER_STATUS_H

#include <jansson.h>

#include "control/apiserver/registry.h"

enum api_reason {
	REASON_BAD_REQUEST,		/* 400 BadRequest */
	REASON_UNAUTHORIZED,		/* 401 Unauthorized */
	REASON_FORBIDDEN,		/* 403 Forbidden */
	REASON_NOT_FOUND,		/* 404 NotFound */
	REASON_METHOD_NOT_ALLOWED,	/* 405 MethodNotAllowed */
	REASON_NOT_ACCEPTABLE,		/* 406 NotAcceptable */
	REASON_ALREADY_EXISTS,		/* 409 AlreadyExists */
	REASON_CONFLICT,		/* 409 Conflict */
	REASON_GONE,			/* 410 Gone */
	REASON_EXPIRED,			/* 410 Expired */
	REASON_REQUEST_TOO_LARGE,	/* 413 RequestEntityTooLarge */
	REASON_UNSUPPORTED_MEDIA_TYPE,	/* 415 UnsupportedMediaType */
	REASON_INVALID,			/* 422 Invalid */
	REASON_TOO_MANY_REQUESTS,	/* 429 TooManyRequests */
	REASON_INTERNAL_ERROR,		/* 500 InternalError */
	REASON_SERVICE_UNAVAILABLE,	/* 503 ServiceUnavailable */
	REASON_TIMEOUT,			/* 504 Timeout */
};

/* The HTTP code of a reason. */
int status_code(enum api_reason reason);

/*
 * A Failure Status. details: r (may be NULL) and name give details.kind,
 * details.group and details.name; causes (may be NULL, reference stolen)
 * becomes details.causes. A new reference.
 */
json_t *status_failure(enum api_reason reason, const struct resource *r, const char *name,
		       json_t *causes, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A Success Status (e.g. for deletecollection / eviction). */
json_t *status_success(const struct resource *r, const char *name, const char *uid);

/*
 * The 422 Invalid Status for validation causes (stolen): message
 * `Kind.group "name" is invalid: field: message, field: message`.
 */
json_t *status_invalid(const struct resource *r, const char *name, json_t *causes);

/* Map an -errno from the store to a Status (NotFound, Conflict, ...). */
json_t *status_from_errno(int err, const struct resource *r, const char *name);

#endif
