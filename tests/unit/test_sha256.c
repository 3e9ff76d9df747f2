/*
 * Unit tests for lib/sha256: the FIPS 180-4 / NIST example vectors, padding
 * at every block boundary, incremental updates split at every offset, the
 * digest string checks and hashing a file.
 */
#include "test.h"
#include "sha256.h"
#include "util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static void check_hex(const void *msg, size_t len, const char *want)
{
	uint8_t d[SHA256_DIGEST_LEN];
	char hex[SHA256_HEX_LEN];

	sha256_buf(msg, len, d);
	sha256_hex(d, hex);
	ASSERT_MSG(strcmp(hex, want) == 0, "len %zu: got %s, want %s", len, hex, want);
}

TEST(sha256_nist_short_vectors)
{
	check_hex("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_hex("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* 448 bits: the length field no longer fits in the first block. */
	check_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* 896 bits */
	check_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
		  "klmnopqrlmnopqrsmnopqrstnopqrstu",
		  112, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(sha256_nist_million_a)
{
	static const char want[] =
		"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
	char chunk[1000], hex[SHA256_HEX_LEN];
	uint8_t d[SHA256_DIGEST_LEN];
	struct sha256 s;
	char *big;

	/* Once in 1000 updates of 1000 bytes... */
	memset(chunk, 'a', sizeof(chunk));
	sha256_init(&s);
	for (int i = 0; i < 1000; i++)
		sha256_update(&s, chunk, sizeof(chunk));
	sha256_final(&s, d);
	sha256_hex(d, hex);
	ASSERT_STREQ(hex, want);

	/* ...and once in one buffer. */
	big = malloc(1000000);
	ASSERT_NOT_NULL(big);
	memset(big, 'a', 1000000);
	check_hex(big, 1000000, want);
	free(big);
}

TEST(sha256_padding_boundaries)
{
	static const struct {
		size_t len;
		const char *hex;
	} cases[] = {
		{ 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
		{ 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
		{ 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
		{ 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
		{ 65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0" },
	};
	char msg[65];

	memset(msg, 'a', sizeof(msg));
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		check_hex(msg, cases[i].len, cases[i].hex);
}

/* Any split of the input into two or three updates gives the one-shot digest. */
TEST(sha256_incremental_matches_one_shot)
{
	uint8_t msg[300], want[SHA256_DIGEST_LEN], got[SHA256_DIGEST_LEN];
	struct sha256 s;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + 3);
	sha256_buf(msg, sizeof(msg), want);
	for (size_t a = 0; a <= sizeof(msg); a++) {
		size_t b = a + (sizeof(msg) - a) / 3;

		sha256_init(&s);
		sha256_update(&s, msg, a);
		sha256_update(&s, msg + a, b - a);
		sha256_update(&s, msg + b, 0);
		sha256_update(&s, msg + b, sizeof(msg) - b);
		sha256_final(&s, got);
		ASSERT_MSG(memcmp(got, want, sizeof(want)) == 0, "split at %zu/%zu differs", a, b);
	}
}

TEST(sha256_digest_strings)
{
	char out[SHA256_DIGEST_STR_LEN];
	struct sha256 s;

	sha256_init(&s);
	sha256_update(&s, "abc", 3);
	sha256_final_str(&s, out);
	ASSERT_STREQ(out,
		     "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ASSERT(sha256_digest_is_valid(out));

	ASSERT(!sha256_digest_is_valid(NULL));
	ASSERT(!sha256_digest_is_valid(""));
	ASSERT(!sha256_digest_is_valid("sha256:"));
	/* upper case, short, long, other algorithm, path characters */
	ASSERT(!sha256_digest_is_valid(
		"sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
	ASSERT(!sha256_digest_is_valid(
		"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a"));
	ASSERT(!sha256_digest_is_valid(
		"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0"));
	ASSERT(!sha256_digest_is_valid(
		"sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	ASSERT(!sha256_digest_is_valid(
		"sha256:../../../../etc/passwd/a396177a9cb410ff61f20015ad0000000000000"));
}

TEST(sha256_file_hashes_contents)
{
	char path[512], out[SHA256_DIGEST_STR_LEN];
	uint64_t size = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/f", test_tmpdir());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ASSERT(fd >= 0);
	ASSERT_EQ(write(fd, "abc", 3), 3);
	close(fd);
	ASSERT_OK(sha256_file(path, out, &size));
	ASSERT_STREQ(out,
		     "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ASSERT_EQ(size, 3);

	snprintf(path, sizeof(path), "%s/missing", test_tmpdir());
	ASSERT_EQ(sha256_file(path, out, &size), -ENOENT);
}
