/*
 * test_image_fixture.h - what the image, layout and registry unit tests
 * share: small images built into the test's scratch directory, whole-file
 * reads, and a raw HTTP/1.1 client (a socket, not curl, so that request
 * paths reach the server exactly as written: "../" included).
 */
#ifndef CAPSTAN_TEST_IMAGE_FIXTURE_H
#define CAPSTAN_TEST_IMAGE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "cli/image_build.h"

/* A path in the test's scratch directory (static buffer per call slot). */
const char *fx_path(const char *name);

/* Send this test's stdout and stderr to /dev/null (CLI tests print usage). */
void fx_quiet(void);

/* Write a file with the given content and mode; asserts on failure. */
void fx_write(const char *path, const void *data, size_t len, unsigned mode);

/* Whole file into a malloc'd NUL-terminated buffer; asserts on failure. */
char *fx_read(const char *path, size_t *len);

/*
 * Build an image with one file /app (content as given, mode 0755),
 * entrypoint ["/app"], into the scratch directory as <name>.tar.
 * Returns the tarball path (static per name slot) and fills *res.
 */
const char *fx_image(const char *ref, const char *name, const char *content,
		     struct img_result *res);

struct fx_http {
	int status;
	char headers[8192]; /* raw header block, "\r\n"-separated */
	char *body;	    /* malloc'd, NUL-terminated */
	size_t body_len;
};

/*
 * Send "METHOD PATH HTTP/1.1" with extra header lines (may be NULL, each
 * ending in "\r\n") and Connection: close to 127.0.0.1:port; read the whole
 * answer. 0 on success; asserts on transport errors.
 */
void fx_http(uint16_t port, const char *method, const char *path, const char *extra,
	     struct fx_http *out);
/* Header value (case-insensitive name) copied into buf, or NULL. */
const char *fx_header(const struct fx_http *r, const char *name, char *buf, size_t len);
void fx_http_free(struct fx_http *r);

#endif
