/* Unit tests for the node IPAM range allocator (control/controllers/ipam_cidr). */
#include "test.h"

#include <stdlib.h>

#include "control/controllers/ipam_cidr.h"

static struct ipam_cidr *set_new(const char *cidr, unsigned mask)
{
	struct ipam_cidr *s = NULL;
	char err[256] = "";

	ASSERT_MSG(ipam_cidr_new(cidr, mask, &s, err, sizeof(err)) == 0, "%s: %s", cidr, err);
	return s;
}

TEST(ipam_next_free_is_round_robin_and_distinct)
{
	struct ipam_cidr *s = set_new("10.244.0.0/16", 24);
	char a[IPAM_CIDR_STRLEN], b[IPAM_CIDR_STRLEN], c[IPAM_CIDR_STRLEN];

	ASSERT_EQ(ipam_cidr_total(s), 256);
	ASSERT_OK(ipam_cidr_allocate(s, "n1", a, sizeof(a)));
	ASSERT_OK(ipam_cidr_allocate(s, "n2", b, sizeof(b)));
	ASSERT_STREQ(a, "10.244.0.0/24");
	ASSERT_STREQ(b, "10.244.1.0/24");
	/* Asking again for the same node gives the same range, not a new one. */
	ASSERT_OK(ipam_cidr_allocate(s, "n1", c, sizeof(c)));
	ASSERT_STREQ(c, "10.244.0.0/24");
	ASSERT_EQ(ipam_cidr_free_count(s), 254);
	ipam_cidr_free(s);
}

TEST(ipam_release_is_reused_last)
{
	struct ipam_cidr *s = set_new("10.0.0.0/30", 31);
	char buf[IPAM_CIDR_STRLEN];

	ASSERT_OK(ipam_cidr_allocate(s, "a", buf, sizeof(buf)));
	ASSERT_STREQ(buf, "10.0.0.0/31");
	ASSERT_OK(ipam_cidr_release(s, "a"));
	ASSERT_EQ(ipam_cidr_release(s, "a"), -ENOENT);
	/* Round robin: the released range waits until the others were given. */
	ASSERT_OK(ipam_cidr_allocate(s, "b", buf, sizeof(buf)));
	ASSERT_STREQ(buf, "10.0.0.2/31");
	ASSERT_OK(ipam_cidr_allocate(s, "c", buf, sizeof(buf)));
	ASSERT_STREQ(buf, "10.0.0.0/31");
	ASSERT_EQ(ipam_cidr_lookup(s, "a", buf, sizeof(buf)), -ENOENT);
	ASSERT_OK(ipam_cidr_lookup(s, "c", buf, sizeof(buf)));
	ASSERT_STREQ(buf, "10.0.0.0/31");
	ipam_cidr_free(s);
}

TEST(ipam_exhaustion_and_recovery)
{
	struct ipam_cidr *s = set_new("10.244.0.0/22", 24);
	char buf[IPAM_CIDR_STRLEN], name[16];

	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		ASSERT_OK(ipam_cidr_allocate(s, name, buf, sizeof(buf)));
	}
	ASSERT_EQ(ipam_cidr_free_count(s), 0);
	ASSERT_EQ(ipam_cidr_allocate(s, "n4", buf, sizeof(buf)), -ENOSPC);
	ASSERT_OK(ipam_cidr_release(s, "n2"));
	ASSERT_OK(ipam_cidr_allocate(s, "n4", buf, sizeof(buf)));
	ASSERT_STREQ(buf, "10.244.2.0/24");
	ipam_cidr_free(s);
}

TEST(ipam_preexisting_ranges_are_skipped)
{
	struct ipam_cidr *s = set_new("10.244.0.0/16", 24);
	char buf[IPAM_CIDR_STRLEN];

	ASSERT_OK(ipam_cidr_occupy(s, "old1", "10.244.0.0/24"));
	ASSERT_OK(ipam_cidr_occupy(s, "old1", "10.244.0.0/24")); /* idempotent */
	/* A /23 occupies both /24s it covers; a /25 the /24 it is in. */
	ASSERT_OK(ipam_cidr_occupy(s, "old2", "10.244.2.0/23"));
	ASSERT_OK(ipam_cidr_occupy(s, "old3", "10.244.1.128/25"));
	ASSERT_EQ(ipam_cidr_free_count(s), 252);
	ASSERT_OK(ipam_cidr_allocate(s, "new", buf, sizeof(buf)));
	ASSERT_STREQ(buf, "10.244.4.0/24");
	/* Someone else's range, outside ranges and garbage are refused. */
	ASSERT_EQ(ipam_cidr_occupy(s, "x", "10.244.3.0/24"), -EEXIST);
	ASSERT_EQ(ipam_cidr_occupy(s, "x", "10.245.0.0/24"), -ERANGE);
	ASSERT_EQ(ipam_cidr_occupy(s, "x", "10.244.9.0"), -EINVAL);
	ASSERT_EQ(ipam_cidr_occupy(s, "x", "10.244.9.0/+8"), -EINVAL);
	ASSERT_EQ(ipam_cidr_occupy(s, "", "10.244.9.0/24"), -EINVAL);
	/* Releasing the /23 frees both of its ranges. */
	ASSERT_OK(ipam_cidr_release(s, "old2"));
	ASSERT_EQ(ipam_cidr_free_count(s), 253);
	/* A node moving to another range gives up its old one. */
	ASSERT_OK(ipam_cidr_occupy(s, "old1", "10.244.7.0/24"));
	ASSERT_OK(ipam_cidr_occupy(s, "y", "10.244.0.0/24"));
	ipam_cidr_free(s);
}

TEST(ipam_bad_configuration)
{
	struct ipam_cidr *s = NULL;
	char err[256];

	ASSERT_EQ(ipam_cidr_new("10.244.0.0", 24, &s, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "not an IPv4 CIDR"));
	ASSERT_EQ(ipam_cidr_new("fd00::/48", 64, &s, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(ipam_cidr_new("10.244.1.0/16", 24, &s, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "host bits"));
	ASSERT_EQ(ipam_cidr_new("10.244.0.0/16", 8, &s, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(ipam_cidr_new("10.244.0.0/16", 33, &s, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(ipam_cidr_new("10.0.0.0/8", 25, &s, err, sizeof(err)), -EINVAL);
	ASSERT(strstr(err, "16 bits"));
	ASSERT_EQ(ipam_cidr_new(NULL, 24, &s, err, sizeof(err)), -EINVAL);
	ASSERT_NULL(s);
	/* The largest legal set: 65536 ranges. */
	ASSERT_OK(ipam_cidr_new("10.0.0.0/8", 24, &s, err, sizeof(err)));
	ASSERT_EQ(ipam_cidr_total(s), 65536);
	ipam_cidr_free(s);
}
