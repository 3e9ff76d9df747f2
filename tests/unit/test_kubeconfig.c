/*
 * Unit tests for lib/kubeconfig: kubectl-style files, contexts, base64 data,
 * relative paths, tokenFile, every error the loader reports, hostile YAML
 * (malformed, deep, alias bombs, random mutations), writing and reading back
 * (also through the real kubectl when it is installed), $KUBECONFIG.
 */
#include "test.h"
#include "kubeconfig.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define KUBECTL "/usr/lib/google-cloud-sdk/bin/kubectl.1.32"

/* base64 of "-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAKHHIG\n-----END CERTIFICATE-----\n" */
#define CA_PEM "-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAKHHIG\n-----END CERTIFICATE-----\n"
#define CA_B64                                                                         \
	"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJrVENCK3dJSkFLSEhJRwotLS0tLUVORCBD" \
	"RVJUSUZJQ0FURS0tLS0tCg=="

static char err[512];

/* Write CONTENT (LEN bytes) to DIR/NAME; returns the path (freed by the caller). */
static char *write_file_len(const char *name, const char *content, size_t len)
{
	char *path = xasprintf("%s/%s", test_tmpdir(), name);
	FILE *f = fopen(path, "w");

	ASSERT_MSG(f != NULL, "fopen %s: %s", path, strerror(errno));
	ASSERT_EQ(fwrite(content, 1, len, f), len);
	ASSERT_OK(fclose(f));
	return path;
}

static char *write_file(const char *name, const char *content)
{
	return write_file_len(name, content, strlen(content));
}

/* Load YAML written to a fresh kubeconfig file; the error text lands in err. */
static int load_yaml(const char *yaml, const char *context, struct kubeconfig **kc)
{
	char *path = write_file("config", yaml);
	int rc;

	*kc = NULL;
	rc = kubeconfig_load(path, context, kc, err, sizeof(err));
	if (rc)
		ASSERT_MSG(strncmp(err, path, strlen(path)) == 0, "error lacks the path: %s", err);
	free(path);
	return rc;
}

/* Expect load_yaml to fail with RC and a message containing WANT. */
static void expect_error(const char *yaml, const char *context, int rc, const char *want)
{
	struct kubeconfig *kc = NULL;
	int got = load_yaml(yaml, context, &kc);

	ASSERT_MSG(got == rc, "expected %d (%s), got %d; err: %s\nyaml:\n%s", rc, want, got, err,
		   yaml);
	ASSERT_NULL(kc);
	ASSERT_MSG(strstr(err, want) != NULL, "error \"%s\" does not mention \"%s\"", err, want);
}

static char *full_config(void)
{
	const char *d = test_tmpdir();

	free(write_file("ca.crt", CA_PEM));
	free(write_file("admin.crt", "cert"));
	free(write_file("admin.key", "key"));
	return xasprintf("apiVersion: v1\n"
			 "kind: Config\n"
			 "preferences: {}\n"
			 "clusters:\n"
			 "- cluster:\n"
			 "    certificate-authority: %s/ca.crt\n"
			 "    server: https://10.0.0.1:6443\n"
			 "  name: prod\n"
			 "- cluster:\n"
			 "    insecure-skip-tls-verify: true\n"
			 "    server: https://staging.example.com:443/\n"
			 "    tls-server-name: api.staging\n"
			 "    extensions:\n"
			 "    - name: ignored\n"
			 "      extension: {a: [1, 2, {b: c}]}\n"
			 "  name: staging\n"
			 "users:\n"
			 "- name: admin\n"
			 "  user:\n"
			 "    client-certificate: %s/admin.crt\n"
			 "    client-key: %s/admin.key\n"
			 "- name: dev\n"
			 "  user:\n"
			 "    token: dev-token-123\n"
			 "contexts:\n"
			 "- context:\n"
			 "    cluster: prod\n"
			 "    user: admin\n"
			 "    namespace: kube-system\n"
			 "  name: prod-admin\n"
			 "- context:\n"
			 "    cluster: staging\n"
			 "    user: dev\n"
			 "  name: staging-dev\n"
			 "current-context: prod-admin\n",
			 d, d, d);
}

TEST(kubeconfig_full_file_current_context)
{
	char *yaml = full_config(), *ca = xasprintf("%s/ca.crt", test_tmpdir());
	char *crt = xasprintf("%s/admin.crt", test_tmpdir());
	char *key = xasprintf("%s/admin.key", test_tmpdir());
	struct kubeconfig *kc;

	ASSERT_OK(load_yaml(yaml, NULL, &kc));
	ASSERT_STREQ(kc->context, "prod-admin");
	ASSERT_STREQ(kc->cluster, "prod");
	ASSERT_STREQ(kc->user, "admin");
	ASSERT_STREQ(kc->server, "https://10.0.0.1:6443");
	ASSERT_STREQ(kc->namespace, "kube-system");
	ASSERT_STREQ(kc->ca_file, ca);
	ASSERT_NULL(kc->ca_pem);
	ASSERT_STREQ(kc->client_cert_file, crt);
	ASSERT_STREQ(kc->client_key_file, key);
	ASSERT_NULL(kc->client_cert_pem);
	ASSERT_NULL(kc->token);
	ASSERT_NULL(kc->tls_server_name);
	ASSERT(!kc->insecure_skip_tls_verify);
	kubeconfig_free(kc);
	free(yaml);
	free(ca);
	free(crt);
	free(key);
}

TEST(kubeconfig_context_override)
{
	char *yaml = full_config();
	struct kubeconfig *kc;

	ASSERT_OK(load_yaml(yaml, "staging-dev", &kc));
	ASSERT_STREQ(kc->context, "staging-dev");
	ASSERT_STREQ(kc->cluster, "staging");
	ASSERT_STREQ(kc->user, "dev");
	/* Trailing slash dropped so the client can append /api/v1/... */
	ASSERT_STREQ(kc->server, "https://staging.example.com:443");
	ASSERT_STREQ(kc->namespace, "default");
	ASSERT(kc->insecure_skip_tls_verify);
	ASSERT_STREQ(kc->tls_server_name, "api.staging");
	ASSERT_STREQ(kc->token, "dev-token-123");
	ASSERT_NULL(kc->token_file);
	ASSERT_NULL(kc->ca_file);
	ASSERT_NULL(kc->client_cert_file);
	kubeconfig_free(kc);

	/* An empty override means "use current-context", like kubectl --context "". */
	ASSERT_OK(load_yaml(yaml, "", &kc));
	ASSERT_STREQ(kc->context, "prod-admin");
	kubeconfig_free(kc);

	expect_error(yaml, "nope", -EINVAL, "context \"nope\" does not exist");
	free(yaml);
}

TEST(kubeconfig_base64_data_fields)
{
	struct kubeconfig *kc;

	ASSERT_OK(load_yaml("clusters:\n"
			    "- name: c\n"
			    "  cluster:\n"
			    "    server: https://h:6443\n"
			    "    certificate-authority-data: " CA_B64 "\n"
			    "users:\n"
			    "- name: u\n"
			    "  user:\n"
			    /* Line-wrapped base64 in a literal block, as some tools write it. */
			    "    client-certificate-data: |\n"
			    "      Y2xpZW50LW\n"
			    "      NlcnQtcGVt\n"
			    "    client-key-data: \"AAEC/w==\"\n"
			    "contexts:\n"
			    "- name: x\n"
			    "  context: {cluster: c, user: u}\n"
			    "current-context: x\n",
			    NULL, &kc));
	ASSERT_EQ(kc->ca_pem_len, strlen(CA_PEM));
	ASSERT_STREQ(kc->ca_pem, CA_PEM);
	ASSERT_NULL(kc->ca_file);
	ASSERT_EQ(kc->client_cert_pem_len, strlen("client-cert-pem"));
	ASSERT_STREQ(kc->client_cert_pem, "client-cert-pem");
	/* Binary bytes, including NUL, come through with their length. */
	ASSERT_EQ(kc->client_key_pem_len, 4);
	ASSERT_EQ(memcmp(kc->client_key_pem, "\x00\x01\x02\xff", 4), 0);
	ASSERT_EQ(kc->client_key_pem[4], '\0');
	kubeconfig_free(kc);
}

TEST(kubeconfig_bad_base64)
{
	static const char *const bad[] = {
		"aGVsbG8",	   /* no padding */
		"aGVs bG8=",	   /* space */
		"aGVs*G8=",	   /* not in the alphabet */
		"a===",		   /* padding too early */
		"ab=c",		   /* data after padding */
		"YWI=YWJj",	   /* padding in the middle */
		"\"aGVs\\tbG8=\"", /* tab */
		"A",		   /* short */
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *yaml = xasprintf("clusters:\n"
				       "- name: c\n"
				       "  cluster:\n"
				       "    server: https://h\n"
				       "    certificate-authority-data: %s\n"
				       "contexts:\n"
				       "- name: x\n"
				       "  context: {cluster: c}\n"
				       "current-context: x\n",
				       bad[i]);

		/* Line 5, column 33: the value, so the user can find it. */
		expect_error(
			yaml, NULL, -EINVAL,
			":5:33: cluster \"c\": certificate-authority-data is not valid base64");
		free(yaml);
	}
	/* Bad data in an entry that is not used still fails, as in client-go. */
	expect_error("users:\n"
		     "- name: unused\n"
		     "  user: {client-key-data: '!!!!'}\n"
		     "clusters: [{name: c, cluster: {server: https://h}}]\n"
		     "contexts: [{name: x, context: {cluster: c}}]\n"
		     "current-context: x\n",
		     NULL, -EINVAL, "user \"unused\": client-key-data is not valid base64");
}

TEST(kubeconfig_relative_paths)
{
	char real[PATH_MAX], *want_ca, *want_crt, *want_tok;
	struct kubeconfig *kc;
	char *dir, *path;

	ASSERT_NOT_NULL(realpath(test_tmpdir(), real));
	dir = xasprintf("%s/sub", test_tmpdir());
	ASSERT_OK(mkdir(dir, 0700));
	free(dir);
	dir = xasprintf("%s/certs", test_tmpdir());
	ASSERT_OK(mkdir(dir, 0700));
	free(dir);
	free(write_file("sub/ca.crt", CA_PEM));
	free(write_file("certs/a.crt", "c"));
	free(write_file("certs/a.key", "k"));
	free(write_file("sub/token", "tok-rel\n"));
	path = write_file("sub/config",
			  "clusters:\n"
			  "- name: c\n"
			  "  cluster: {server: 'https://h', certificate-authority: ca.crt}\n"
			  "users:\n"
			  "- name: u\n"
			  "  user:\n"
			  "    client-certificate: ../certs/a.crt\n"
			  "    client-key: /dev/null\n"
			  "    tokenFile: ./token\n"
			  "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
			  "current-context: x\n");

	/* Relative to the kubeconfig's directory, not the working directory... */
	ASSERT_OK(chdir("/"));
	ASSERT_OK(kubeconfig_load(path, NULL, &kc, err, sizeof(err)));
	want_ca = xasprintf("%s/sub/ca.crt", test_tmpdir());
	want_crt = xasprintf("%s/sub/../certs/a.crt", test_tmpdir());
	want_tok = xasprintf("%s/sub/./token", test_tmpdir());
	ASSERT_STREQ(kc->ca_file, want_ca);
	ASSERT_STREQ(kc->client_cert_file, want_crt);
	ASSERT_STREQ(kc->client_key_file, "/dev/null");
	ASSERT_STREQ(kc->token_file, want_tok);
	ASSERT_STREQ(kc->token, "tok-rel");
	kubeconfig_free(kc);
	free(want_ca);
	free(want_crt);
	free(want_tok);

	/* ...and absolute even when the kubeconfig path itself is relative. */
	ASSERT_OK(chdir(test_tmpdir()));
	ASSERT_OK(kubeconfig_load("sub/config", NULL, &kc, err, sizeof(err)));
	want_ca = xasprintf("%s/sub/ca.crt", real);
	ASSERT_STREQ(kc->ca_file, want_ca);
	kubeconfig_free(kc);
	free(want_ca);
	ASSERT_OK(chdir("sub"));
	ASSERT_OK(kubeconfig_load("config", NULL, &kc, err, sizeof(err)));
	want_ca = xasprintf("%s/sub/ca.crt", real);
	ASSERT_STREQ(kc->ca_file, want_ca);
	kubeconfig_free(kc);
	free(want_ca);
	ASSERT_OK(chdir("/"));
	free(path);
}

TEST(kubeconfig_token_file)
{
	struct kubeconfig *kc;
	char *tok = write_file("tok", "  \tsecret-token-xyz\r\n\n");
	char *yaml;

	yaml = xasprintf("clusters: [{name: c, cluster: {server: https://h}}]\n"
			 "users: [{name: u, user: {tokenFile: %s}}]\n"
			 "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
			 "current-context: x\n",
			 tok);
	ASSERT_OK(load_yaml(yaml, NULL, &kc));
	ASSERT_STREQ(kc->token, "secret-token-xyz");
	ASSERT_STREQ(kc->token_file, tok);
	kubeconfig_free(kc);
	free(yaml);

	/* An inline token is used as is; the file is kept for re-reading. */
	yaml = xasprintf("clusters: [{name: c, cluster: {server: https://h}}]\n"
			 "users: [{name: u, user: {token: inline, tokenFile: %s}}]\n"
			 "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
			 "current-context: x\n",
			 tok);
	ASSERT_OK(load_yaml(yaml, NULL, &kc));
	ASSERT_STREQ(kc->token, "inline");
	ASSERT_STREQ(kc->token_file, tok);
	kubeconfig_free(kc);
	free(yaml);

	ASSERT_OK(unlink(tok));
	expect_error("clusters: [{name: c, cluster: {server: https://h}}]\n"
		     "users: [{name: u, user: {tokenFile: missing-token}}]\n"
		     "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
		     "current-context: x\n",
		     NULL, -ENOENT, "cannot read tokenFile");
	ASSERT(strstr(err, "missing-token") != NULL);

	free(write_file("blank", " \n\n"));
	expect_error("clusters: [{name: c, cluster: {server: https://h}}]\n"
		     "users: [{name: u, user: {tokenFile: blank}}]\n"
		     "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
		     "current-context: x\n",
		     NULL, -EINVAL, "is empty");
	free(tok);
}

TEST(kubeconfig_missing_file)
{
	struct kubeconfig *kc = NULL;
	char *path = xasprintf("%s/does-not-exist", test_tmpdir());

	ASSERT_EQ(kubeconfig_load(path, NULL, &kc, err, sizeof(err)), -ENOENT);
	ASSERT_NULL(kc);
	ASSERT(strstr(err, path) != NULL);
	ASSERT(strstr(err, "No such file") != NULL);
	/* A directory is not a kubeconfig either. */
	ASSERT_EQ(kubeconfig_load(test_tmpdir(), NULL, &kc, err, sizeof(err)), -EISDIR);
	/* No path at all, and a NULL error buffer, are handled. */
	ASSERT_EQ(kubeconfig_load(NULL, NULL, &kc, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(kubeconfig_load("", NULL, &kc, NULL, 0), -EINVAL);
	ASSERT_EQ(kubeconfig_load(path, NULL, &kc, NULL, 0), -ENOENT);
	ASSERT_NULL(kc);
	free(path);
}

#define OK_TAIL                                                 \
	"clusters: [{name: c, cluster: {server: https://h}}]\n" \
	"users: [{name: u, user: {token: t}}]\n"

static const struct {
	const char *yaml;
	const char *context;
	int rc;
	const char *want;
} error_cases[] = {
	{ OK_TAIL "contexts: [{name: x, context: {cluster: c, user: u}}]\n", NULL, -EINVAL,
	  "current-context is not set" },
	{ OK_TAIL "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: ~\n", NULL,
	  -EINVAL, "current-context is not set" },
	{ OK_TAIL "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: y\n", NULL,
	  -EINVAL, "current-context \"y\" does not exist" },
	{ OK_TAIL "current-context: x\n", NULL, -EINVAL, "current-context \"x\" does not exist" },
	{ OK_TAIL "contexts: [{name: x, context: {cluster: nope, user: u}}]\n"
		  "current-context: x\n",
	  NULL, -EINVAL, ":3:12: context \"x\" refers to cluster \"nope\", which does not exist" },
	{ OK_TAIL "contexts: [{name: x, context: {user: u}}]\ncurrent-context: x\n", NULL, -EINVAL,
	  "context \"x\" does not name a cluster" },
	{ OK_TAIL "contexts: [{name: x}]\ncurrent-context: x\n", NULL, -EINVAL,
	  "context \"x\" does not name a cluster" },
	{ OK_TAIL "contexts: [{name: x, context: {cluster: c, user: who}}]\n"
		  "current-context: x\n",
	  NULL, -EINVAL, "context \"x\" refers to user \"who\", which does not exist" },
	{ "clusters: [{name: c, cluster: {certificate-authority-data: " CA_B64 "}}]\n"
	  "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n",
	  NULL, -EINVAL, ":1:12: cluster \"c\" has no server" },
	{ "clusters: [{name: c, cluster: {server: ''}}]\n"
	  "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n",
	  NULL, -EINVAL, "cluster \"c\" has no server" },
	{ "clusters: [{name: c}]\n"
	  "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n",
	  NULL, -EINVAL, "cluster \"c\" has no server" },
	{ "clusters: [{name: c, cluster: {server: h, certificate-authority: /x,\n"
	  "  certificate-authority-data: " CA_B64 "}}]\n"
	  "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n",
	  NULL, -EINVAL, "both certificate-authority and certificate-authority-data" },
	{ "clusters: [{name: c, cluster: {server: h, certificate-authority: /nonexistent/ca}}]\n"
	  "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n",
	  NULL, -ENOENT, "cannot read certificate-authority /nonexistent/ca for cluster \"c\"" },
	{ "clusters: [{name: c, cluster: {server: h}}]\n"
	  "users: [{name: u, user: {client-certificate-data: YWI=}}]\n"
	  "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
	  NULL, -EINVAL, "user \"u\" has a client certificate without a client key" },
	{ "clusters: [{name: c, cluster: {server: h}}]\n"
	  "users: [{name: u, user: {client-key: /dev/null}}]\n"
	  "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
	  NULL, -EINVAL, "user \"u\" has a client key without a client certificate" },
	{ "clusters: [{name: c, cluster: {server: h}}]\n"
	  "users: [{name: u, user: {client-certificate: /dev/null,\n"
	  "  client-certificate-data: YWI=, client-key: /dev/null}}]\n"
	  "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
	  NULL, -EINVAL, "both client-certificate and client-certificate-data" },
	{ "clusters: [{name: c, cluster: {server: h}}]\n"
	  "users: [{name: u, user: {client-certificate: /nonexistent/crt, client-key: "
	  "/dev/null}}]\n"
	  "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
	  NULL, -ENOENT, "cannot read client-certificate /nonexistent/crt for user \"u\"" },
	{ "clusters: [{name: c, cluster: {server: h}}]\n"
	  "users: [{name: u, user: {token: t, username: a, password: b}}]\n"
	  "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
	  NULL, -EINVAL, "only one authentication method" },
	{ "clusters: [{name: c, cluster: {server: h}}]\n"
	  "users: [{name: u, user: {exec: {command: aws, apiVersion: x}}}]\n"
	  "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
	  NULL, -EOPNOTSUPP, "exec credential plugin" },
	{ "clusters: {c: {server: h}}\n", NULL, -EINVAL, ":1:11: clusters must be a list" },
	{ "clusters: [c]\n", NULL, -EINVAL, "clusters[0] must be a mapping" },
	{ "clusters: [{name: c, cluster: [server, h]}]\n", NULL, -EINVAL,
	  "cluster \"c\": cluster must be a mapping" },
	{ "clusters: [{name: c, cluster: {server: [h]}}]\n", NULL, -EINVAL,
	  ":1:40: cluster \"c\": server must be a string" },
	{ "clusters: [{name: c, cluster: {server: \"a\\0b\"}}]\n", NULL, -EINVAL,
	  "server contains a NUL byte" },
	{ "clusters: [{name: [c]}]\n", NULL, -EINVAL, "clusters[0]: name must be a string" },
	{ "clusters: [{name: c, cluster: {server: h, insecure-skip-tls-verify: \"true\"}}]\n", NULL,
	  -EINVAL, "insecure-skip-tls-verify must be true or false" },
	{ "clusters: [{name: c, cluster: {server: h, insecure-skip-tls-verify: maybe}}]\n", NULL,
	  -EINVAL, "insecure-skip-tls-verify must be true or false" },
	{ "current-context: [x]\n", NULL, -EINVAL, "current-context must be a string" },
	{ "- just\n- a list\n", NULL, -EINVAL, "must be a mapping at the top level" },
	{ "just a string\n", NULL, -EINVAL, "must be a mapping at the top level" },
	{ "a: 1\n---\nb: 2\n", NULL, -EINVAL, ":2:1: more than one YAML document" },
	{ "clusters: \xc3\x28\n", NULL, -EINVAL,
	  "invalid YAML at byte 11: invalid trailing UTF-8 octet" },
};

TEST(kubeconfig_errors)
{
	for (size_t i = 0; i < ARRAY_SIZE(error_cases); i++)
		expect_error(error_cases[i].yaml, error_cases[i].context, error_cases[i].rc,
			     error_cases[i].want);
}

TEST(kubeconfig_anonymous_context_and_duplicates)
{
	struct kubeconfig *kc;

	/* No user: anonymous, as kubectl allows. Duplicate names: the last wins. */
	ASSERT_OK(load_yaml("clusters:\n"
			    "- {name: c, cluster: {server: https://first}}\n"
			    "- {name: c, cluster: {server: https://second}}\n"
			    "- {name: d, cluster: {server: https://other}}\n"
			    "contexts: [{name: x, context: {cluster: c, namespace: ns1}}]\n"
			    "current-context: x\n",
			    NULL, &kc));
	ASSERT_STREQ(kc->server, "https://second");
	ASSERT_STREQ(kc->namespace, "ns1");
	ASSERT_NULL(kc->user);
	ASSERT_NULL(kc->token);
	kubeconfig_free(kc);
}

TEST(kubeconfig_scalars_bools_and_server_forms)
{
	static const struct {
		const char *value;
		bool insecure;
	} bools[] = { { "true", true }, { "True", true },   { "yes", true },
		      { "on", true },	{ "false", false }, { "NO", false },
		      { "off", false }, { "~", false },	    { "null", false } };
	static const struct {
		const char *in, *out;
	} servers[] = {
		{ "localhost:8080", "http://localhost:8080" },
		{ "https://h:6443///", "https://h:6443" },
		{ "https://h/prefix/", "https://h/prefix" },
		{ "'http://[::1]:8080'", "http://[::1]:8080" },
		{ "\"https://x\"", "https://x" },
	};
	struct kubeconfig *kc;

	for (size_t i = 0; i < ARRAY_SIZE(bools); i++) {
		char *yaml = xasprintf("clusters: [{name: c, cluster: {server: https://h,\n"
				       "  insecure-skip-tls-verify: %s}}]\n"
				       "contexts: [{name: x, context: {cluster: c}}]\n"
				       "current-context: x\n",
				       bools[i].value);

		ASSERT_OK(load_yaml(yaml, NULL, &kc));
		ASSERT_MSG(kc->insecure_skip_tls_verify == bools[i].insecure, "value %s",
			   bools[i].value);
		kubeconfig_free(kc);
		free(yaml);
	}
	for (size_t i = 0; i < ARRAY_SIZE(servers); i++) {
		char *yaml = xasprintf("clusters: [{name: c, cluster: {server: %s}}]\n"
				       "contexts: [{name: x, context: {cluster: c}}]\n"
				       "current-context: x\n",
				       servers[i].in);

		ASSERT_OK(load_yaml(yaml, NULL, &kc));
		ASSERT_STREQ(kc->server, servers[i].out);
		kubeconfig_free(kc);
		free(yaml);
	}
	/* Numbers, quoted words and block scalars are all strings where strings go. */
	ASSERT_OK(load_yaml(
		"clusters: [{name: c, cluster: {server: https://h}}]\n"
		"users:\n"
		"- name: u\n"
		"  user:\n"
		"    username: 12345\n"
		"    password: >-\n"
		"      pass\n"
		"      word\n"
		"contexts: [{name: x, context: {cluster: c, user: u, namespace: 'null'}}]\n"
		"current-context: x\n",
		NULL, &kc));
	ASSERT_STREQ(kc->username, "12345");
	ASSERT_STREQ(kc->password, "pass word");
	ASSERT_STREQ(kc->namespace, "null");
	kubeconfig_free(kc);
}

TEST(kubeconfig_malformed_yaml)
{
	/* Each with the line:column libyaml reports. */
	expect_error("clusters:\n- name: a: b\n", NULL, -EINVAL,
		     ":2:10: invalid YAML: mapping values are not allowed in this context");
	expect_error("clusters: [{name: a, cluster: {server: x}\ncurrent-context: a\n", NULL,
		     -EINVAL,
		     ":2:1: invalid YAML: did not find expected ',' or '}' (while parsing a flow "
		     "mapping started at line 1 column 12)");
	expect_error("current-context: \"unterminated\n", NULL, -EINVAL,
		     ":2:1: invalid YAML: found unexpected end of stream");
	expect_error("clusters:\n  - name: a\n - name: b\n", NULL, -EINVAL, ":3:2: invalid YAML");
	expect_error("a:\n\t- b\n", NULL, -EINVAL,
		     ":2:1: invalid YAML: found character that "
		     "cannot start any token");
	expect_error("a: !<tag\n", NULL, -EINVAL, "invalid YAML");
	expect_error("a: &x\n  - 1\nb: *x\nc: *y\n", NULL, -EINVAL,
		     ":4:4: alias *y refers to an unknown anchor");
}

TEST(kubeconfig_empty_file)
{
	expect_error("", NULL, -EINVAL, "kubeconfig is empty");
	expect_error("# nothing but a comment\n\n", NULL, -EINVAL, "kubeconfig is empty");
	expect_error("---\n...\n", NULL, -EINVAL, "kubeconfig is empty");
	expect_error("~\n", NULL, -EINVAL, "kubeconfig is empty");
	/* A mapping with nothing useful in it is valid YAML but has no context. */
	expect_error("{}\n", NULL, -EINVAL, "current-context is not set");
	expect_error("clusters:\nusers:\ncontexts:\n", NULL, -EINVAL, "current-context is not set");
}

TEST(kubeconfig_deeply_nested)
{
	struct buf b = { 0 };
	struct kubeconfig *kc;

	/* Flow collections a hundred thousand deep: refused at the limit, no recursion. */
	for (int i = 0; i < 100000; i++)
		buf_append(&b, "[", 1);
	expect_error(b.data, NULL, -EINVAL, ":1:65: YAML nested deeper than 64 levels");
	buf_reset(&b);
	for (int i = 0; i < 100000; i++)
		buf_append(&b, "{a: ", 4);
	expect_error(b.data, NULL, -EINVAL, "nested deeper than 64 levels");
	buf_reset(&b);

	/* Block mappings by indentation: the 65th level opens on line 65. */
	for (int i = 0; i < 200; i++)
		buf_appendf(&b, "%*sk%d:\n", i, "", i);
	expect_error(b.data, NULL, -EINVAL, ":65:");
	ASSERT(strstr(err, "nested deeper than 64 levels"));
	buf_reset(&b);

	/* Sixty levels under an unknown key are fine. */
	buf_appendf(&b, "clusters: [{name: c, cluster: {server: https://h}}]\n"
			"contexts: [{name: x, context: {cluster: c}}]\n"
			"current-context: x\n"
			"extensions: ");
	for (int i = 0; i < 60; i++)
		buf_append(&b, "[", 1);
	for (int i = 0; i < 60; i++)
		buf_append(&b, "]", 1);
	buf_append(&b, "\n", 1);
	ASSERT_OK(load_yaml(b.data, NULL, &kc));
	ASSERT_STREQ(kc->server, "https://h");
	kubeconfig_free(kc);
	buf_free(&b);
}

TEST(kubeconfig_anchors_aliases_and_merge_keys)
{
	struct kubeconfig *kc;

	ASSERT_OK(load_yaml("base: &base\n"
			    "  server: https://base:6443\n"
			    "  insecure-skip-tls-verify: true\n"
			    "extra: &extra {tls-server-name: from-extra, server: https://extra}\n"
			    "clusters:\n"
			    "- name: one\n"
			    "  cluster:\n"
			    "    <<: [*base, *extra]\n"
			    "- name: two\n"
			    "  cluster:\n"
			    "    <<: *base\n"
			    "    server: https://override:6443\n"
			    "users:\n"
			    "- name: u\n"
			    "  user: &u {token: shared}\n"
			    "- name: u2\n"
			    "  user: *u\n"
			    "contexts:\n"
			    "- name: c1\n"
			    "  context: &ctx {cluster: one, user: u2, namespace: &ns team-a}\n"
			    "- name: c2\n"
			    "  context: {<<: *ctx, cluster: two, namespace: *ns}\n"
			    "current-context: c1\n",
			    NULL, &kc));
	/* The first merge source wins over later ones. */
	ASSERT_STREQ(kc->server, "https://base:6443");
	ASSERT_STREQ(kc->tls_server_name, "from-extra");
	ASSERT(kc->insecure_skip_tls_verify);
	ASSERT_STREQ(kc->token, "shared");
	ASSERT_STREQ(kc->namespace, "team-a");
	kubeconfig_free(kc);

	ASSERT_OK(load_yaml("base: &base {server: https://base:6443}\n"
			    "clusters: [{name: two, cluster: {<<: *base, server: https://o}}]\n"
			    "contexts: [{name: c2, context: {cluster: two}}]\n"
			    "current-context: c2\n",
			    NULL, &kc));
	/* An explicit key beats a merged one. */
	ASSERT_STREQ(kc->server, "https://o");
	kubeconfig_free(kc);

	/* A node cannot contain an alias to itself: the graph stays acyclic. */
	expect_error("a: &a [1, *a]\n", NULL, -EINVAL, "alias *a refers to an unknown anchor");
	expect_error("a: &a {b: *a}\n", NULL, -EINVAL, "alias *a refers to an unknown anchor");
	expect_error("clusters: [{name: c, cluster: {<<: 5}}]\n", NULL, -EINVAL,
		     "merge value must be a mapping or a list");
	expect_error("x: &x [1]\nclusters: [{name: c, cluster: {<<: [*x]}}]\n", NULL, -EINVAL,
		     "merge list may only hold mappings");
}

TEST(kubeconfig_alias_bomb_is_bounded)
{
	struct buf b = { 0 };
	struct kubeconfig *kc;

	/*
	 * Ten levels of eight-way merges: 8^10 paths to a key that is not
	 * there. Nothing is expanded in memory, and the lookup budget stops
	 * the walk instead of letting it run for hours.
	 */
	buf_appendf(&b, "l0: &l0 {x: 1}\n");
	for (int i = 1; i <= 10; i++) {
		buf_appendf(&b, "l%d: &l%d {<<: [", i, i);
		for (int j = 0; j < 8; j++)
			buf_appendf(&b, "%s*l%d", j ? ", " : "", i - 1);
		buf_appendf(&b, "]}\n");
	}
	buf_appendf(&b, "clusters: [{name: c, cluster: {<<: *l10, server: https://h}}]\n"
			"contexts: [{name: x, context: {cluster: c}}]\n"
			"current-context: x\n");
	expect_error(b.data, NULL, -EINVAL, "too many alias and merge-key lookups");

	/* Sharing a big node many times costs nothing without merges. */
	buf_reset(&b);
	buf_appendf(&b, "big: &big [");
	for (int i = 0; i < 1000; i++)
		buf_appendf(&b, "%s{a%d: %d}", i ? ", " : "", i, i);
	buf_appendf(&b, "]\nlots: [");
	for (int i = 0; i < 10000; i++)
		buf_appendf(&b, "%s*big", i ? ", " : "");
	buf_appendf(&b, "]\n"
			"clusters: [{name: c, cluster: {server: https://h}}]\n"
			"contexts: [{name: x, context: {cluster: c}}]\n"
			"current-context: x\n");
	ASSERT_OK(load_yaml(b.data, NULL, &kc));
	kubeconfig_free(kc);
	buf_free(&b);
}

/* Deterministic mutations of a valid file: every result is 0 or an error, never a crash. */
TEST(kubeconfig_hostile_mutations)
{
	static const char specials[] = "[]{}:-*&!|>'\"#%@`,?\n\t \\<=~\x80\xff";
	char *yaml = full_config(), *path = xasprintf("%s/config", test_tmpdir());
	size_t n = strlen(yaml);
	unsigned int seed = 12345;
	int ok = 0, failed = 0;

	for (int iter = 0; iter < 1500; iter++) {
		char *m = xmalloc(n + 16);
		size_t len = n;
		struct kubeconfig *kc = NULL;
		int rc, edits = 1 + rand_r(&seed) % 4;

		memcpy(m, yaml, n);
		for (int e = 0; e < edits; e++) {
			size_t at = (size_t)rand_r(&seed) % len;
			char c = specials[rand_r(&seed) % (sizeof(specials) - 1)];

			switch (rand_r(&seed) % 3) {
			case 0: /* replace */
				m[at] = c;
				break;
			case 1: /* insert */
				memmove(m + at + 1, m + at, len - at);
				m[at] = c;
				len++;
				break;
			default: /* truncate */
				len = at + 1;
				break;
			}
		}
		free(write_file_len("config", m, len));
		rc = kubeconfig_load(path, iter % 2 ? "staging-dev" : NULL, &kc, err, sizeof(err));
		if (rc == 0) {
			ASSERT_NOT_NULL(kc);
			ASSERT_NOT_NULL(kc->server);
			ASSERT_NOT_NULL(kc->namespace);
			ok++;
		} else {
			ASSERT(rc < 0);
			ASSERT_NULL(kc);
			ASSERT_MSG(err[0] != '\0', "no message for rc %d", rc);
			failed++;
		}
		kubeconfig_free(kc);
		free(m);
	}
	/* Both outcomes must occur, or the mutations are not exercising anything. */
	ASSERT(ok > 0);
	ASSERT(failed > 0);
	free(yaml);
	free(path);
}

TEST(kubeconfig_too_large)
{
	char *path = xasprintf("%s/big", test_tmpdir());
	struct kubeconfig *kc = NULL;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ASSERT(fd >= 0);
	ASSERT_OK(ftruncate(fd, (off_t)KUBECONFIG_MAX_SIZE + 1));
	close(fd);
	ASSERT_EQ(kubeconfig_load(path, NULL, &kc, err, sizeof(err)), -EFBIG);
	ASSERT(strstr(err, "larger than") != NULL);
	ASSERT_NULL(kc);
	free(path);
}

static int count_dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ASSERT_NOT_NULL(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

TEST(kubeconfig_write_round_trip)
{
	char *ca = write_file("ca.crt", CA_PEM), *crt = write_file("admin.crt", "c");
	char *key = write_file("admin.key", "k"), *path = xasprintf("%s/kubeconfig", test_tmpdir());
	/* Characters that would change meaning if written unquoted. */
	const char *token = "null: #\"x\\ 'y' \xc3\xa9";
	struct kubeconfig *kc;
	struct stat st;

	ASSERT_OK(kubeconfig_write(path, "https://127.0.0.1:6443", ca, crt, key, token));
	ASSERT_OK(stat(path, &st));
	ASSERT_EQ(st.st_mode & 0777, 0600);
	ASSERT_EQ(count_dir_entries(test_tmpdir()), 4); /* no temporary file left behind */
	ASSERT_OK(kubeconfig_load(path, NULL, &kc, err, sizeof(err)));
	ASSERT_STREQ(kc->context, "capstan");
	ASSERT_STREQ(kc->cluster, "capstan");
	ASSERT_STREQ(kc->user, "capstan");
	ASSERT_STREQ(kc->server, "https://127.0.0.1:6443");
	ASSERT_STREQ(kc->namespace, "default");
	ASSERT_STREQ(kc->ca_file, ca);
	ASSERT_STREQ(kc->client_cert_file, crt);
	ASSERT_STREQ(kc->client_key_file, key);
	ASSERT_STREQ(kc->token, token);
	kubeconfig_free(kc);

	/* Overwriting replaces the file; a token like "true" stays a string. */
	ASSERT_OK(chmod(path, 0644));
	ASSERT_OK(kubeconfig_write(path, "https://10.1.2.3:443", NULL, NULL, NULL, "true"));
	ASSERT_OK(stat(path, &st));
	ASSERT_EQ(st.st_mode & 0777, 0600);
	ASSERT_OK(kubeconfig_load(path, NULL, &kc, err, sizeof(err)));
	ASSERT_STREQ(kc->server, "https://10.1.2.3:443");
	ASSERT_NULL(kc->ca_file);
	ASSERT_NULL(kc->client_cert_file);
	ASSERT_STREQ(kc->token, "true");
	kubeconfig_free(kc);

	/* Only a server: the user is an empty mapping, still a valid file. Empty = unset. */
	ASSERT_OK(kubeconfig_write(path, "http://localhost:8080", "", NULL, NULL, ""));
	ASSERT_OK(kubeconfig_load(path, NULL, &kc, err, sizeof(err)));
	ASSERT_STREQ(kc->server, "http://localhost:8080");
	ASSERT_NULL(kc->token);
	ASSERT_NULL(kc->ca_file);
	kubeconfig_free(kc);

	/* Relative paths are written as given and resolved against the file's directory. */
	ASSERT_OK(kubeconfig_write(path, "https://h", "ca.crt", "admin.crt", "admin.key", NULL));
	ASSERT_OK(kubeconfig_load(path, NULL, &kc, err, sizeof(err)));
	ASSERT_STREQ(kc->ca_file, ca);
	ASSERT_STREQ(kc->client_key_file, key);
	kubeconfig_free(kc);
	ASSERT_EQ(count_dir_entries(test_tmpdir()), 4);
	free(ca);
	free(crt);
	free(key);
	free(path);
}

TEST(kubeconfig_write_errors)
{
	char *path = xasprintf("%s/kubeconfig", test_tmpdir());
	char *nodir = xasprintf("%s/no/such/dir/kubeconfig", test_tmpdir());
	struct stat st;

	ASSERT_EQ(kubeconfig_write(path, NULL, NULL, NULL, NULL, NULL), -EINVAL);
	ASSERT_EQ(kubeconfig_write(path, "", NULL, NULL, NULL, NULL), -EINVAL);
	ASSERT_EQ(kubeconfig_write(NULL, "https://h", NULL, NULL, NULL, NULL), -EINVAL);
	ASSERT_EQ(kubeconfig_write(path, "https://h", NULL, "/c.crt", NULL, NULL), -EINVAL);
	ASSERT_EQ(kubeconfig_write(path, "https://h", NULL, NULL, "/c.key", NULL), -EINVAL);
	/* Invalid UTF-8 cannot be written as YAML. */
	ASSERT_EQ(kubeconfig_write(path, "https://h", NULL, NULL, NULL, "bad\xff"), -EINVAL);
	ASSERT_EQ(stat(path, &st), -1);
	ASSERT_EQ(kubeconfig_write(nodir, "https://h", NULL, NULL, NULL, NULL), -ENOENT);
	ASSERT_EQ(count_dir_entries(test_tmpdir()), 0);
	free(path);
	free(nodir);
}

TEST(kubeconfig_from_server)
{
	struct kubeconfig *kc = kubeconfig_from_server("https://10.0.0.1:6443/");

	ASSERT_NOT_NULL(kc);
	ASSERT_STREQ(kc->server, "https://10.0.0.1:6443");
	ASSERT_STREQ(kc->namespace, "default");
	ASSERT_NULL(kc->context);
	ASSERT_NULL(kc->ca_file);
	ASSERT_NULL(kc->ca_pem);
	ASSERT_NULL(kc->token);
	ASSERT(!kc->insecure_skip_tls_verify);
	kubeconfig_free(kc);
	kc = kubeconfig_from_server("127.0.0.1:8080");
	ASSERT_STREQ(kc->server, "http://127.0.0.1:8080");
	kubeconfig_free(kc);
	ASSERT_NULL(kubeconfig_from_server(NULL));
	ASSERT_NULL(kubeconfig_from_server(""));
	kubeconfig_free(NULL);
}

TEST(kubeconfig_default_path_env)
{
	struct passwd *pw;
	struct kubeconfig *kc;
	char *p, *path;

	ASSERT_OK(setenv("HOME", "/home/someone", 1));
	ASSERT_OK(setenv("KUBECONFIG", "/a/first:/b/second", 1));
	p = kubeconfig_default_path();
	ASSERT_STREQ(p, "/a/first");
	free(p);
	ASSERT_OK(setenv("KUBECONFIG", "::/only/non-empty:", 1));
	p = kubeconfig_default_path();
	ASSERT_STREQ(p, "/only/non-empty");
	free(p);
	ASSERT_OK(setenv("KUBECONFIG", "single", 1));
	p = kubeconfig_default_path();
	ASSERT_STREQ(p, "single");
	free(p);
	ASSERT_OK(setenv("KUBECONFIG", ":::", 1));
	p = kubeconfig_default_path();
	ASSERT_STREQ(p, "/home/someone/.kube/config");
	free(p);
	ASSERT_OK(unsetenv("KUBECONFIG"));
	p = kubeconfig_default_path();
	ASSERT_STREQ(p, "/home/someone/.kube/config");
	free(p);
	/* Without $HOME the password database supplies the home directory. */
	ASSERT_OK(unsetenv("HOME"));
	pw = getpwuid(getuid());
	p = kubeconfig_default_path();
	if (pw) {
		char *want = xasprintf("%s/.kube/config", pw->pw_dir);

		ASSERT_STREQ(p, want);
		free(want);
	}
	free(p);

	/* End to end: $KUBECONFIG names the file that gets loaded. */
	path = xasprintf("%s/from-env", test_tmpdir());
	ASSERT_OK(kubeconfig_write(path, "https://env:6443", NULL, NULL, NULL, "t"));
	ASSERT_OK(setenv("KUBECONFIG", path, 1));
	p = kubeconfig_default_path();
	ASSERT_OK(kubeconfig_load(p, NULL, &kc, err, sizeof(err)));
	ASSERT_STREQ(kc->server, "https://env:6443");
	kubeconfig_free(kc);
	free(p);
	free(path);
}

/* `kubectl config view --raw -o jsonpath=JSONPATH` on KUBECONFIG: its stdout (static buffer). */
static const char *run_kubectl(const char *kubeconfig, const char *jsonpath)
{
	static char out[4096];
	int pipefd[2], status;
	size_t len = 0;
	ssize_t r;
	pid_t pid;

	ASSERT_OK(pipe(pipefd));
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		char *arg = xasprintf("jsonpath=%s", jsonpath);

		dup2(pipefd[1], 1);
		close(pipefd[0]);
		close(pipefd[1]);
		/* Keep kubectl away from the real home directory's cache. */
		setenv("HOME", test_tmpdir(), 1);
		execl(KUBECTL, "kubectl", "--kubeconfig", kubeconfig, "config", "view", "--raw",
		      "-o", arg, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while ((r = read(pipefd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)r;
	close(pipefd[0]);
	out[len] = '\0';
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "kubectl failed: status %d",
		   status);
	return out;
}

TEST(kubeconfig_kubectl_reads_written_file)
{
	char *path = xasprintf("%s/kubeconfig", test_tmpdir());
	/* A token that YAML would misread if it were written unquoted. */
	const char *token = "null: #\"x\\ 'y' \xc3\xa9";

	if (access(KUBECTL, X_OK) != 0)
		SKIP("%s is not installed", KUBECTL);
	ASSERT_OK(kubeconfig_write(path, "https://192.0.2.10:6443", "/etc/capstan/ca.crt",
				   "/etc/capstan/admin.crt", "/etc/capstan/admin.key", token));
	ASSERT_STREQ(run_kubectl(path, "{.clusters[0].cluster.server}"), "https://192.0.2.10:6443");
	ASSERT_STREQ(run_kubectl(path, "{.current-context}"), "capstan");
	ASSERT_STREQ(run_kubectl(path, "{.contexts[0].context.user}"), "capstan");
	ASSERT_STREQ(run_kubectl(path, "{.clusters[0].cluster.certificate-authority}"),
		     "/etc/capstan/ca.crt");
	ASSERT_STREQ(run_kubectl(path, "{.users[0].user.client-key}"), "/etc/capstan/admin.key");
	ASSERT_STREQ(run_kubectl(path, "{.users[0].user.token}"), token);
	free(path);
}
