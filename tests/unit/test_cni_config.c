/*
 * Unit tests for capstan-cni's protocol layer (agent/cni/spec) and its
 * configuration (agent/cni/config): environment validation per command, the
 * error and VERSION JSON, every configuration field with its bad values, and
 * the host interface naming. No root needed.
 */
#include "test.h"

#include <jansson.h>
#include <stdlib.h>

#include "agent/cni/config.h"
#include "agent/cni/plugin.h"
#include "agent/cni/spec.h"
#include "util.h"

/* ---------------------------------------------------------------- errors, versions */

TEST(cni_error_json_has_the_spec_fields)
{
	struct cni_error err;
	char *s;
	json_t *j;

	cni_error_set(&err, CNI_ERR_INVALID_CONFIG, "podCIDR %s is bad", "x");
	cni_error_details(&err, "why: %d", 42);
	s = cni_error_json("0.4.0", &err);
	j = json_loads(s, 0, NULL);
	ASSERT_NOT_NULL(j);
	ASSERT_STREQ(json_string_value(json_object_get(j, "cniVersion")), "0.4.0");
	ASSERT_EQ(json_integer_value(json_object_get(j, "code")), 7);
	ASSERT_STREQ(json_string_value(json_object_get(j, "msg")), "podCIDR x is bad");
	ASSERT_STREQ(json_string_value(json_object_get(j, "details")), "why: 42");
	ASSERT(!strchr(s, '\n'));
	json_decref(j);
	free(s);

	/* Unknown or absent versions are answered in the newest one. */
	cni_error_set(&err, CNI_ERR_TRY_AGAIN, "later");
	s = cni_error_json("9.9.9", &err);
	j = json_loads(s, 0, NULL);
	ASSERT_STREQ(json_string_value(json_object_get(j, "cniVersion")), "1.0.0");
	ASSERT_EQ(json_integer_value(json_object_get(j, "code")), 11);
	ASSERT_STREQ(json_string_value(json_object_get(j, "details")), ""); /* cleared by set */
	json_decref(j);
	free(s);

	/* A message cut inside a multi-byte character is still valid JSON. */
	cni_error_set(&err, CNI_ERR_INVALID_ENV, "bad \xc3");
	s = cni_error_json(NULL, &err);
	j = json_loads(s, 0, NULL);
	ASSERT_NOT_NULL(j);
	ASSERT_STREQ(json_string_value(json_object_get(j, "msg")), "bad ?");
	json_decref(j);
	free(s);
}

TEST(cni_versions_and_version_reply)
{
	char *s;
	json_t *j, *list;

	ASSERT(cni_version_supported("1.0.0") && cni_version_supported("0.4.0"));
	ASSERT(cni_version_supported("0.3.0") && cni_version_supported("0.3.1"));
	ASSERT(!cni_version_supported("0.2.0") && !cni_version_supported("1.1.0"));
	ASSERT(!cni_version_supported("") && !cni_version_supported(NULL));
	ASSERT(cni_version_has_check("0.4.0") && cni_version_has_check("1.0.0"));
	ASSERT(!cni_version_has_check("0.3.1"));
	ASSERT(cni_version_has_ip_version("0.4.0") && !cni_version_has_ip_version("1.0.0"));

	s = cni_version_json(NULL);
	j = json_loads(s, 0, NULL);
	ASSERT_STREQ(json_string_value(json_object_get(j, "cniVersion")), "1.0.0");
	list = json_object_get(j, "supportedVersions");
	ASSERT_EQ(json_array_size(list), 4);
	ASSERT_STREQ(json_string_value(json_array_get(list, 0)), "0.3.0");
	ASSERT_STREQ(json_string_value(json_array_get(list, 3)), "1.0.0");
	json_decref(j);
	free(s);
	s = cni_version_json("0.4.0");
	ASSERT(strstr(s, "\"cniVersion\":\"0.4.0\""));
	free(s);
	s = cni_version_json("0.1.0");
	ASSERT(strstr(s, "\"cniVersion\":\"1.0.0\""));
	free(s);
}

/* ---------------------------------------------------------------- environment */

static int parse_env(char **envp, struct cni_env *env, struct cni_error *err)
{
	memset(err, 0, sizeof(*err));
	return cni_env_parse(envp, env, err);
}

TEST(cni_env_add_needs_container_netns_and_ifname)
{
	char *ok[] = { "PATH=/bin",
		       "CNI_COMMAND=ADD",
		       "CNI_CONTAINERID=abc123",
		       "CNI_NETNS=/var/run/netns/x",
		       "CNI_IFNAME=eth0",
		       "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;"
		       "K8S_POD_INFRA_CONTAINER_ID=abc123",
		       NULL };
	char *no_netns[] = { "CNI_COMMAND=ADD", "CNI_CONTAINERID=abc", "CNI_IFNAME=eth0",
			     "CNI_NETNS=", NULL };
	char *no_id[] = { "CNI_COMMAND=CHECK", "CNI_NETNS=/x", "CNI_IFNAME=eth0", NULL };
	char *no_if[] = { "CNI_COMMAND=ADD", "CNI_CONTAINERID=abc", "CNI_NETNS=/x", NULL };
	struct cni_env env;
	struct cni_error err;

	ASSERT_OK(parse_env(ok, &env, &err));
	ASSERT_EQ(env.command, CNI_CMD_ADD);
	ASSERT_STREQ(env.container_id, "abc123");
	ASSERT_STREQ(env.netns, "/var/run/netns/x");
	ASSERT_STREQ(env.ifname, "eth0");
	ASSERT_STREQ(env.pod_namespace, "default");
	ASSERT_STREQ(env.pod_name, "web-0");

	ASSERT_EQ(parse_env(no_netns, &env, &err), -EINVAL);
	ASSERT_EQ(err.code, CNI_ERR_INVALID_ENV);
	ASSERT(strstr(err.msg, "CNI_NETNS"));
	ASSERT_EQ(parse_env(no_id, &env, &err), -EINVAL);
	ASSERT(strstr(err.msg, "CNI_CONTAINERID"));
	ASSERT_EQ(parse_env(no_if, &env, &err), -EINVAL);
	ASSERT(strstr(err.msg, "CNI_IFNAME"));
}

TEST(cni_env_del_without_netns_and_version_alone)
{
	char *del[] = { "CNI_COMMAND=DEL", "CNI_CONTAINERID=abc", "CNI_IFNAME=eth0", NULL };
	char *ver[] = { "CNI_COMMAND=VERSION", NULL };
	struct cni_env env;
	struct cni_error err;

	ASSERT_OK(parse_env(del, &env, &err));
	ASSERT_EQ(env.command, CNI_CMD_DEL);
	ASSERT_NULL(env.netns);
	ASSERT_STREQ(env.pod_name, ""); /* no CNI_ARGS */
	ASSERT_OK(parse_env(ver, &env, &err));
	ASSERT_EQ(env.command, CNI_CMD_VERSION);
	ASSERT_NULL(env.container_id);
}

TEST(cni_env_rejects_bad_command_id_and_ifname)
{
	char *none[] = { "CNI_CONTAINERID=abc", NULL };
	char *gc[] = { "CNI_COMMAND=GC", NULL };
	char *lower[] = { "CNI_COMMAND=add", NULL };
	struct cni_env env;
	struct cni_error err;
	const char *bad_ids[] = { "-abc", "a/b", "a b", "_x", "abc;rm" };
	const char *bad_ifs[] = { "..", ".", "eth0/1", "eth:0", "eth 0", "abcdefghijklmnop" };

	ASSERT_EQ(parse_env(none, &env, &err), -EINVAL);
	ASSERT(strstr(err.msg, "CNI_COMMAND is not set"));
	ASSERT_EQ(parse_env(gc, &env, &err), -EINVAL);
	ASSERT(strstr(err.msg, "\"GC\""));
	ASSERT_EQ(parse_env(lower, &env, &err), -EINVAL);
	ASSERT_EQ(err.code, CNI_ERR_INVALID_ENV);

	for (size_t i = 0; i < ARRAY_SIZE(bad_ids); i++) {
		char id[64];
		char *envp[] = { "CNI_COMMAND=DEL", id, "CNI_IFNAME=eth0", NULL };

		snprintf(id, sizeof(id), "CNI_CONTAINERID=%s", bad_ids[i]);
		ASSERT_MSG(parse_env(envp, &env, &err) == -EINVAL, "accepted id %s", bad_ids[i]);
		ASSERT(strstr(err.msg, "CNI_CONTAINERID"));
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad_ifs); i++) {
		char ifn[64];
		char *envp[] = { "CNI_COMMAND=DEL", "CNI_CONTAINERID=abc", ifn, NULL };

		snprintf(ifn, sizeof(ifn), "CNI_IFNAME=%s", bad_ifs[i]);
		ASSERT_MSG(parse_env(envp, &env, &err) == -EINVAL, "accepted ifname %s",
			   bad_ifs[i]);
		ASSERT(strstr(err.msg, "CNI_IFNAME"));
	}
	/* The length limit on ids. */
	char *longid = xmalloc(CNI_CONTAINER_ID_MAX + 32);
	memset(longid, 'a', CNI_CONTAINER_ID_MAX + 17);
	memcpy(longid, "CNI_CONTAINERID=", 16);
	longid[CNI_CONTAINER_ID_MAX + 17] = '\0';
	char *envp[] = { "CNI_COMMAND=DEL", longid, "CNI_IFNAME=eth0", NULL };
	ASSERT_EQ(parse_env(envp, &env, &err), -EINVAL);
	longid[CNI_CONTAINER_ID_MAX + 16] = '\0'; /* exactly the limit */
	ASSERT_OK(parse_env(envp, &env, &err));
	free(longid);
	ASSERT(cni_ifname_is_valid("abcdefghijklmno")); /* 15 characters */
}

/* ---------------------------------------------------------------- configuration */

#define BASE "\"cniVersion\":\"1.0.0\",\"name\":\"capstan\",\"type\":\"capstan-cni\""

static int parse(const char *json, struct cni_config *cfg, struct cni_error *err)
{
	memset(cfg, 0, sizeof(*cfg));
	memset(err, 0, sizeof(*err));
	return cni_config_parse(json, strlen(json), false, cfg, err);
}

/* Expect json to fail with code; return the message for more checks. */
static const char *parse_fails(const char *json, int code)
{
	static struct cni_error err;
	struct cni_config cfg;
	int ret = parse(json, &cfg, &err);

	ASSERT_MSG(ret == -EINVAL, "accepted: %s", json);
	ASSERT_MSG(err.code == code, "code %d, want %d (%s) for %s", err.code, code, err.msg, json);
	ASSERT(err.msg[0]);
	/* Nothing to free after a failure. */
	ASSERT_NULL(cfg.dns);
	ASSERT_NULL(cfg.prev_result);
	return err.msg;
}

TEST(cni_config_full_and_defaults)
{
	struct cni_config cfg;
	struct cni_error err;
	char buf[CNI_IP4_STRLEN];

	ASSERT_OK(parse("{" BASE ",\"podCIDR\":\"10.244.1.0/24\",\"dataDir\":\"/tmp/x\","
			"\"mtu\":1450,\"gateway\":\"10.244.1.254\",\"logLevel\":\"debug\","
			"\"dns\":{\"nameservers\":[\"10.96.0.10\"]},\"args\":{\"a\":1},"
			"\"runtimeConfig\":{},\"capabilities\":{},\"ipMasq\":false}",
			&cfg, &err));
	ASSERT_STREQ(cfg.cni_version, "1.0.0");
	ASSERT_STREQ(cfg.name, "capstan");
	ASSERT_STREQ(cni_ip4_cidr_str(cfg.pod_cidr.addr, cfg.pod_cidr.prefix, buf),
		     "10.244.1.0/24");
	ASSERT_STREQ(cni_ip4_str(cfg.gateway, buf), "10.244.1.254");
	ASSERT_STREQ(cfg.data_dir, "/tmp/x");
	ASSERT_EQ(cfg.mtu, 1450);
	ASSERT_STREQ(cfg.log_level, "debug");
	ASSERT(json_is_object(cfg.dns));
	ASSERT_NULL(cfg.prev_result);
	cni_config_free(&cfg);

	ASSERT_OK(parse("{\"cniVersion\":\"0.4.0\",\"name\":\"n1\",\"type\":\"x\","
			"\"podCIDR\":\"10.244.0.0/16\",\"prevResult\":{\"ips\":[]}}",
			&cfg, &err));
	ASSERT_STREQ(cfg.cni_version, "0.4.0");
	ASSERT_STREQ(cni_ip4_str(cfg.gateway, buf), "10.244.0.1"); /* the first address */
	ASSERT_STREQ(cfg.data_dir, CNI_DEFAULT_DATA_DIR);
	ASSERT_EQ(cfg.mtu, CNI_DEFAULT_MTU);
	ASSERT_STREQ(cfg.log_level, "info");
	ASSERT(json_is_object(cfg.prev_result));
	cni_config_free(&cfg);
	cni_config_free(&cfg); /* safe twice */
}

TEST(cni_config_rejects_bad_json_and_versions)
{
	ASSERT(strstr(parse_fails("{\"cniVersion\":", CNI_ERR_DECODE), "not valid JSON"));
	parse_fails("", CNI_ERR_DECODE);
	parse_fails("[1,2]", CNI_ERR_DECODE);
	parse_fails("\"1.0.0\"", CNI_ERR_DECODE);
	ASSERT(strstr(parse_fails("{\"cniVersion\":\"0.2.0\",\"name\":\"n\",\"type\":\"t\"}",
				  CNI_ERR_INCOMPATIBLE_VERSION),
		      "0.2.0"));
	parse_fails("{\"cniVersion\":1,\"name\":\"n\"}", CNI_ERR_INVALID_CONFIG);
	ASSERT(strstr(parse_fails("{\"name\":\"n\",\"type\":\"t\",\"podCIDR\":\"10.0.0.0/24\"}",
				  CNI_ERR_INVALID_CONFIG),
		      "cniVersion is required"));
}

TEST(cni_config_rejects_missing_and_bad_fields)
{
	ASSERT(strstr(parse_fails("{" BASE "}", CNI_ERR_INVALID_CONFIG), "podCIDR is required"));
	ASSERT(strstr(parse_fails("{\"cniVersion\":\"1.0.0\",\"type\":\"t\",\"podCIDR\":"
				  "\"10.244.1.0/24\"}",
				  CNI_ERR_INVALID_CONFIG),
		      "name is required"));
	parse_fails("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"podCIDR\":\"10.244.1.0/24\"}",
		    CNI_ERR_INVALID_CONFIG); /* no type */
	parse_fails("{" BASE ",\"podCIDR\":24}", CNI_ERR_INVALID_CONFIG);

	const char *bad_cidrs[] = { "10.244.1.0",    "10.244.1.0/33", "10.244.1.0/31", "10.0.0.0/7",
				    "10.244.1.5/24", "fd00::/64",     "10.244.1.0/24 " };
	for (size_t i = 0; i < ARRAY_SIZE(bad_cidrs); i++) {
		char json[256];

		snprintf(json, sizeof(json), "{" BASE ",\"podCIDR\":\"%s\"}", bad_cidrs[i]);
		ASSERT(strstr(parse_fails(json, CNI_ERR_INVALID_CONFIG), "podCIDR"));
	}
	ASSERT(strstr(
		parse_fails("{" BASE ",\"podCIDR\":\"10.244.1.5/24\"}", CNI_ERR_INVALID_CONFIG),
		"host bits set (network 10.244.1.0/24)"));

	const char *bad_gws[] = { "10.244.1.0", "10.244.1.255", "10.244.2.1", "x", "10.244.1" };
	for (size_t i = 0; i < ARRAY_SIZE(bad_gws); i++) {
		char json[256];

		snprintf(json, sizeof(json),
			 "{" BASE ",\"podCIDR\":\"10.244.1.0/24\",\"gateway\":\"%s\"}", bad_gws[i]);
		ASSERT(strstr(parse_fails(json, CNI_ERR_INVALID_CONFIG), "gateway"));
	}

	const char *bad_other[] = {
		"\"mtu\":\"1500\"",
		"\"mtu\":100",
		"\"mtu\":70000",
		"\"mtu\":1500.5",
		"\"dataDir\":\"relative/dir\"",
		"\"dataDir\":7",
		"\"logLevel\":\"loud\"",
		"\"dns\":[]",
		"\"prevResult\":[]",
		"\"gateway\":null",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad_other); i++) {
		char json[256];

		snprintf(json, sizeof(json), "{" BASE ",\"podCIDR\":\"10.244.1.0/24\",%s}",
			 bad_other[i]);
		parse_fails(json, CNI_ERR_INVALID_CONFIG);
	}

	const char *bad_names[] = { "../etc", "", "a/b", "-x", "a b" };
	for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++) {
		char json[256];

		snprintf(json, sizeof(json),
			 "{\"cniVersion\":\"1.0.0\",\"name\":\"%s\",\"type\":\"t\","
			 "\"podCIDR\":\"10.244.1.0/24\"}",
			 bad_names[i]);
		ASSERT(strstr(parse_fails(json, CNI_ERR_INVALID_CONFIG), "name"));
	}
}

TEST(cni_config_unknown_and_unsupported_fields_name_key_and_value)
{
	const char *msg;

	msg = parse_fails("{" BASE ",\"podCIDR\":\"10.244.1.0/24\",\"podCidr\":\"10.0.0.0/8\"}",
			  CNI_ERR_UNSUPPORTED_FIELD);
	ASSERT(strstr(msg, "podCidr") && strstr(msg, "10.0.0.0/8"));
	msg = parse_fails("{" BASE ",\"podCIDR\":\"10.244.1.0/24\",\"MTU\":9000}",
			  CNI_ERR_UNSUPPORTED_FIELD);
	ASSERT(strstr(msg, "MTU") && strstr(msg, "9000"));
	msg = parse_fails("{" BASE
			  ",\"podCIDR\":\"10.244.1.0/24\",\"ipam\":{\"type\":\"host-local\"}}",
			  CNI_ERR_UNSUPPORTED_FIELD);
	ASSERT(strstr(msg, "ipam") && strstr(msg, "host-local"));
	parse_fails("{" BASE ",\"podCIDR\":\"10.244.1.0/24\",\"ipMasq\":true}",
		    CNI_ERR_UNSUPPORTED_FIELD);
}

TEST(cni_config_loopback_mode_reads_only_the_version)
{
	struct cni_config cfg;
	struct cni_error err = { 0 };
	const char *lo =
		"{\"cniVersion\":\"1.0.0\",\"name\":\"cni-loopback\",\"type\":\"loopback\","
		"\"whatever\":1}";

	ASSERT_OK(cni_config_parse(lo, strlen(lo), true, &cfg, &err));
	ASSERT_STREQ(cfg.cni_version, "1.0.0");
	cni_config_free(&cfg);
	ASSERT_EQ(cni_config_parse("{\"cniVersion\":\"0.1.0\"}",
				   strlen("{\"cniVersion\":\"0.1.0\"}"), true, &cfg, &err),
		  -EINVAL);
	ASSERT_EQ(err.code, CNI_ERR_INCOMPATIBLE_VERSION);
	/* The same text is an error for the pod network plugin. */
	ASSERT_EQ(cni_config_parse(lo, strlen(lo), false, &cfg, &err), -EINVAL);
}

TEST(cni_config_peek_version)
{
	const char *s = "{\"cniVersion\":\"0.4.0\",\"mtu\":\"junk\"}";

	ASSERT_STREQ(cni_config_peek_version(s, strlen(s)), "0.4.0");
	ASSERT_NULL(cni_config_peek_version("{\"cniVersion\":\"7\"}", 18));
	ASSERT_NULL(cni_config_peek_version("not json", 8));
	ASSERT_NULL(cni_config_peek_version(NULL, 0));
}

/* ---------------------------------------------------------------- naming */

TEST(cni_host_ifname_is_short_stable_and_distinct)
{
	char a[CNI_HOST_IFNAME_LEN + 1], b[CNI_HOST_IFNAME_LEN + 1], alias[256];
	const char *id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

	cni_host_ifname(id, "eth0", a);
	ASSERT_EQ(strlen(a), CNI_HOST_IFNAME_LEN);
	ASSERT(strncmp(a, "csn", 3) == 0);
	ASSERT(strspn(a + 3, "0123456789abcdef") == 8);
	ASSERT(cni_ifname_is_valid(a));
	cni_host_ifname(id, "eth0", b);
	ASSERT_STREQ(a, b);
	cni_host_ifname(id, "net1", b);
	ASSERT(strcmp(a, b) != 0);
	/* The separator keeps (id, ifname) splits apart. */
	cni_host_ifname("ab", "c", a);
	cni_host_ifname("a", "bc", b);
	ASSERT(strcmp(a, b) != 0);
	cni_host_alias("abc", "eth0", alias, sizeof(alias));
	ASSERT_STREQ(alias, "capstan-cni abc eth0");
}
