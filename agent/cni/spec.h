/*
 * spec.h - the CNI protocol as capstan-cni speaks it: spec versions, the
 * environment a runtime passes, the error object and the VERSION reply.
 *
 * A CNI plugin is a one-shot executable. The runtime (containerd) puts the
 * operation and its parameters in the environment (CNI_COMMAND,
 * CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS, CNI_PATH), the network
 * configuration on stdin, and reads one JSON document from stdout: the result
 * on success (exit 0) or an error object {cniVersion, code, msg, details} with
 * a non-zero exit. Everything else, logs included, goes to stderr.
 *
 * This module holds the parts of that contract that do not depend on what the
 * plugin does, so they can be unit-tested without root: which spec versions
 * are understood (0.3.0 through 1.0.0; containerd 1.6 may still send 0.4.0
 * configurations), how the environment is validated per command, the
 * well-known error codes, and the JSON of errors and of the VERSION reply.
 *
 * The environment is read from an envp array rather than getenv() so tests
 * can hand in any environment without touching the process's own.
 */
#ifndef CAPSTAN_CNI_SPEC_H
#define CAPSTAN_CNI_SPEC_H

#include <stdarg.h>
#include <stdbool.h>

/* The newest spec version implemented; used for replies when nothing else is known. */
#define CNI_SPEC_VERSION "1.0.0"

/*
 * Error codes. 1-99 are the spec's well-known codes and mean exactly what
 * the spec says; 100 and up are capstan-cni's own.
 */
enum cni_err_code {
	CNI_ERR_INCOMPATIBLE_VERSION = 1,
	CNI_ERR_UNSUPPORTED_FIELD = 2,
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_INVALID_ENV = 4,     /* msg names the variable */
	CNI_ERR_IO = 5,		     /* e.g. reading stdin failed */
	CNI_ERR_DECODE = 6,	     /* stdin is not JSON */
	CNI_ERR_INVALID_CONFIG = 7,  /* a field fails validation */
	CNI_ERR_TRY_AGAIN = 11,	     /* transient: the IPAM lock is held too long */
	CNI_ERR_INTERNAL = 100,	     /* a netlink, netns or file operation failed */
	CNI_ERR_NO_ADDRESS = 101,    /* the pod CIDR is exhausted */
	CNI_ERR_CHECK_FAILED = 102,  /* CHECK found the attachment not as prevResult says */
	CNI_ERR_NAME_CONFLICT = 103, /* the host interface name belongs to another container */
};

/* An error as it will be printed: code, short message, optional details. */
struct cni_error {
	int code;
	char msg[256];
	char details[1024];
};

/* Fill err with code and a formatted msg; details are cleared. */
void cni_error_set(struct cni_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* cni_error_set with a va_list. */
void cni_error_vset(struct cni_error *err, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* Set err's details (the long explanation). */
void cni_error_details(struct cni_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * The error object {"cniVersion","code","msg","details"} as compact JSON,
 * without a trailing newline; cni_version NULL or unsupported gives
 * CNI_SPEC_VERSION. The caller frees the string. Never NULL.
 */
char *cni_error_json(const char *cni_version, const struct cni_error *err);

/* true for the versions this plugin implements: 0.3.0, 0.3.1, 0.4.0, 1.0.0. */
bool cni_version_supported(const char *version);
/* The static string equal to version when it is supported, else NULL (also for NULL). */
const char *cni_version_find(const char *version);
/* true when version (supported) has the CHECK command (0.4.0 and later). */
bool cni_version_has_check(const char *version);
/* true when the version's "ips" entries carry a "version" field (before 1.0.0). */
bool cni_version_has_ip_version(const char *version);
/*
 * The VERSION reply: {"cniVersion": V, "supportedVersions": [...]} where V is
 * requested when that is a supported version, else CNI_SPEC_VERSION. The
 * caller frees the string. Never NULL.
 */
char *cni_version_json(const char *requested);

enum cni_command {
	CNI_CMD_ADD,
	CNI_CMD_DEL,
	CNI_CMD_CHECK,
	CNI_CMD_VERSION,
};

/*
 * The invocation's environment. Strings point into the envp array given to
 * cni_env_parse() (valid while it is).
 */
struct cni_env {
	enum cni_command command;
	const char *container_id; /* NULL only for VERSION */
	const char *netns;	  /* NULL when unset or empty (allowed for DEL) */
	const char *ifname;	  /* NULL only for VERSION */
	const char *args;	  /* CNI_ARGS, NULL when unset */
	/* From CNI_ARGS (K8S_POD_NAMESPACE, K8S_POD_NAME), for logs; "" if absent. */
	char pod_namespace[64];
	char pod_name[254];
};

/*
 * Read and validate the CNI variables from envp (a NULL-terminated
 * "NAME=value" array such as environ). CNI_COMMAND must be ADD, DEL, CHECK
 * or VERSION. ADD and CHECK need CNI_CONTAINERID, CNI_NETNS and CNI_IFNAME;
 * DEL needs CNI_CONTAINERID and CNI_IFNAME (the runtime's second DEL comes
 * without a netns); VERSION needs nothing else. A container id must start
 * with a letter or digit followed by letters, digits, '_', '.' or '-', at
 * most CNI_CONTAINER_ID_MAX characters; an
 * interface name must be 1-15 characters, not "." or "..", without '/', ':'
 * or whitespace. CNI_ARGS never makes the call fail: unknown or malformed
 * pairs are ignored.
 *
 * 0 on success and *out filled; -EINVAL with err set (code
 * CNI_ERR_INVALID_ENV, msg naming the variable) otherwise.
 */
int cni_env_parse(char *const *envp, struct cni_env *out, struct cni_error *err);

/* The command's name as the runtime spells it ("ADD", ...). */
const char *cni_command_name(enum cni_command cmd);

/*
 * Longest container id accepted. The spec sets no limit; runtimes use 64 hex
 * digits, and ids are stored in IPAM records and interface aliases.
 */
#define CNI_CONTAINER_ID_MAX 200

/* true when s is a valid container id / interface name (the rules above). */
bool cni_container_id_is_valid(const char *s);
bool cni_ifname_is_valid(const char *s);

#endif
