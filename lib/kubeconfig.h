/*
 * kubeconfig.h - load and write kubeconfig files the way kubectl does.
 *
 * Every capstan component that talks to the API server (scheduler,
 * controller-manager, kubelet, agent, the CLI) takes --kubeconfig FILE. This
 * module reads that file, picks a context (current-context, or an override
 * such as --context), follows it to its cluster and user, and hands the HTTP
 * client one flat struct with everything it needs: server URL, namespace, CA,
 * client certificate and key, bearer token, basic auth, TLS options.
 *
 * Semantics follow client-go's clientcmd loader: relative file paths are
 * relative to the kubeconfig's own directory; *-data fields are standard
 * base64 (padding required, line breaks allowed); a CA or client certificate
 * given both as a file and as data is an error, as is a token together with a
 * username/password; a context without a user is anonymous; when several
 * entries share a name the last one wins. Only the first entry of a
 * colon-separated $KUBECONFIG is used: capstan does not merge files.
 *
 * The YAML is parsed with libyaml into a small tree first, so the whole file
 * is checked and error messages carry line:column. Anchors, aliases and
 * "<<" merge keys are supported without expanding them (an alias shares the
 * anchored node), nesting depth and total lookup work are bounded, and files
 * larger than KUBECONFIG_MAX_SIZE are refused, so hostile files cannot blow
 * the stack, the heap or the CPU.
 */
#ifndef CAPSTAN_KUBECONFIG_H
#define CAPSTAN_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* Largest kubeconfig accepted, in bytes (real ones are a few KiB each cluster). */
#define KUBECONFIG_MAX_SIZE (16u << 20)
/* Deepest nesting of YAML collections accepted (a kubeconfig needs 4). */
#define KUBECONFIG_MAX_DEPTH 64

/*
 * The resolved connection settings. Every pointer is owned by the struct and
 * may be NULL when the kubeconfig does not set it; the *_pem buffers hold the
 * decoded bytes of the *-data fields, NUL-terminated for convenience, with
 * their length beside them (a curl_blob wants both). File paths are absolute
 * whenever the kubeconfig was loaded from a file.
 */
struct kubeconfig {
	char *context; /* context used; NULL when built by kubeconfig_from_server */
	char *cluster; /* cluster entry name, or NULL */
	char *user;    /* user entry name, or NULL (anonymous) */

	char *server;	 /* e.g. "https://10.0.0.1:6443", never ends in '/' */
	char *namespace; /* context namespace, "default" when unset; never NULL */

	char *ca_file; /* certificate-authority */
	char *ca_pem;  /* certificate-authority-data, decoded */
	size_t ca_pem_len;
	bool insecure_skip_tls_verify;
	char *tls_server_name; /* SNI and name to verify instead of the URL host */

	char *client_cert_file; /* client-certificate */
	char *client_cert_pem;	/* client-certificate-data, decoded */
	size_t client_cert_pem_len;
	char *client_key_file; /* client-key */
	char *client_key_pem;  /* client-key-data, decoded */
	size_t client_key_pem_len;

	char *token;	  /* bearer token: user.token, else contents of tokenFile */
	char *token_file; /* tokenFile, kept so a client may re-read a rotated token */
	char *username;	  /* basic auth */
	char *password;
};

/*
 * Load PATH and resolve CONTEXT_OVERRIDE (NULL or "" = the file's
 * current-context). 0 on success, -errno on failure; sets *out only on
 * success, to a struct released with kubeconfig_free(). On failure a
 * one-line message naming the file (and line:column for YAML errors) is
 * written to ERR (when ERRLEN > 0). Errors: -ENOENT/-EACCES/... when the
 * kubeconfig, a tokenFile or a referenced certificate file cannot be read;
 * -EFBIG when the file exceeds KUBECONFIG_MAX_SIZE; -EOPNOTSUPP for exec and
 * auth-provider users; -EINVAL for everything else (invalid YAML, wrong
 * types, no or unknown context, missing cluster or user, cluster without
 * server, bad base64, conflicting fields, excessive nesting).
 */
int kubeconfig_load(const char *path, const char *context_override, struct kubeconfig **out,
		    char *err, size_t errlen);

/*
 * A kubeconfig that only names a server (a plain --server flag, tests), with
 * namespace "default" and no credentials. Trailing '/' are dropped. Returns
 * NULL when URL is NULL or empty.
 */
struct kubeconfig *kubeconfig_from_server(const char *url);

/* Release a struct from kubeconfig_load/kubeconfig_from_server; NULL is fine. */
void kubeconfig_free(struct kubeconfig *kc);

/*
 * The file kubectl would read: the first non-empty entry of the
 * colon-separated $KUBECONFIG, else $HOME/.kube/config (home from the
 * password database when $HOME is unset). Returns a malloc'd string the
 * caller frees, or NULL when no home directory can be found.
 */
char *kubeconfig_default_path(void);

/*
 * Write a minimal kubeconfig to PATH with one cluster, user and context, all
 * named "capstan", and current-context set to it, in the standard
 * apiVersion: v1 / kind: Config layout that kubectl reads. SERVER is
 * required; CA_PATH, CERT_PATH, KEY_PATH and TOKEN may each be NULL (CERT_PATH
 * and KEY_PATH go together). Paths are written as given: a relative one is
 * later resolved against PATH's directory. The file is written to a
 * temporary file in the same directory with mode 0600, synced and renamed
 * over PATH, so a reader sees the old file or the whole new one.
 * 0 on success, -errno on failure (-EINVAL for bad arguments).
 */
int kubeconfig_write(const char *path, const char *server, const char *ca_path,
		     const char *cert_path, const char *key_path, const char *token);

#endif
