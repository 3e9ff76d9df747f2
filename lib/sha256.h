/*
 * sha256.h - SHA-256 (FIPS 180-4, section 6.2), for content digests.
 *
 * Container images name every blob by the SHA-256 of its bytes
 * ("sha256:<64 lower-case hex>"), and the image builder and the registry
 * hash layers of megabytes while they stream them to disk, so the API is the
 * usual incremental one: init, update any number of times with any lengths,
 * final. Written from the specification rather than taken from OpenSSL so
 * that the CLI does not link libcrypto for one hash; speed is not the point
 * (a plain C compression function hashes a few hundred MB/s, far more than
 * the images need).
 */
#ifndef CAPSTAN_SHA256_H
#define CAPSTAN_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
/* 64 hex digits and a NUL. */
#define SHA256_HEX_LEN 65
/* "sha256:" + 64 hex digits + NUL. */
#define SHA256_DIGEST_STR_LEN 72

struct sha256 {
	uint32_t h[8];	   /* the running hash value H(i) */
	uint64_t len;	   /* bytes hashed so far */
	uint8_t block[64]; /* a partial block waiting for more input */
	size_t fill;	   /* bytes in block */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* Pads, writes the digest and leaves s unusable until sha256_init. */
void sha256_final(struct sha256 *s, uint8_t out[SHA256_DIGEST_LEN]);

/* One-shot digest of a buffer. */
void sha256_buf(const void *data, size_t len, uint8_t out[SHA256_DIGEST_LEN]);

/* 64 lower-case hex digits of a digest, NUL-terminated. */
void sha256_hex(const uint8_t digest[SHA256_DIGEST_LEN], char hex[SHA256_HEX_LEN]);

/* Finish s and write "sha256:<hex>" into out. */
void sha256_final_str(struct sha256 *s, char out[SHA256_DIGEST_STR_LEN]);

/*
 * True when s is exactly "sha256:" followed by 64 lower-case hex digits, the
 * only digest form capstan accepts (which also makes it safe to build a file
 * name from the hex part).
 */
bool sha256_digest_is_valid(const char *s);

/*
 * Hash the whole file at path into out ("sha256:<hex>"), and its size into
 * *size (may be NULL). 0 on success, -errno on failure; sets out and *size
 * only on success.
 */
int sha256_file(const char *path, char out[SHA256_DIGEST_STR_LEN], uint64_t *size);

#endif
