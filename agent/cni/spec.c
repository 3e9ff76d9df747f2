/*
 * spec.c - see spec.h.
 *
 * Versions are compared as a fixed list rather than by semver ranges: the
 * result layout changed between releases (0.3 added interfaces, 1.0 dropped
 * the per-address "version"), so "supported" has to mean "we know exactly how
 * to answer in it", and a list says that plainly.
 */
#include "agent/cni/spec.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util.h"

static const char *const supported_versions[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0" };

void cni_error_vset(struct cni_error *err, int code, const char *fmt, va_list ap)
{
	err->code = code;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	err->details[0] = '\0';
}

void cni_error_set(struct cni_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cni_error_vset(err, code, fmt, ap);
	va_end(ap);
}

void cni_error_details(struct cni_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->details, sizeof(err->details), fmt, ap);
	va_end(ap);
}

/* jansson allocation failures abort, as xmalloc does: a plugin that cannot
 * allocate a few hundred bytes has no better way to report it. */
static char *dump_or_die(json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(obj);
	if (!s) {
		fputs("capstan-cni: out of memory\n", stderr);
		abort();
	}
	return s;
}

/*
 * Messages quote user input cut with %.Ns, which can split a multi-byte
 * character; jansson refuses invalid UTF-8, so such bytes become '?'.
 */
static json_t *string_lossy(const char *s)
{
	json_t *str = json_string(s);
	char *copy;

	if (str)
		return str;
	copy = xstrdup(s);
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	str = json_string(copy);
	free(copy);
	return str;
}

char *cni_error_json(const char *cni_version, const struct cni_error *err)
{
	json_t *obj = json_object();

	if (!cni_version || !cni_version_supported(cni_version))
		cni_version = CNI_SPEC_VERSION;
	json_object_set_new(obj, "cniVersion", json_string(cni_version));
	json_object_set_new(obj, "code", json_integer(err->code));
	json_object_set_new(obj, "msg", string_lossy(err->msg));
	json_object_set_new(obj, "details", string_lossy(err->details));
	return dump_or_die(obj);
}

const char *cni_version_find(const char *version)
{
	for (size_t i = 0; version && i < ARRAY_SIZE(supported_versions); i++)
		if (strcmp(version, supported_versions[i]) == 0)
			return supported_versions[i];
	return NULL;
}

bool cni_version_supported(const char *version)
{
	return cni_version_find(version) != NULL;
}

bool cni_version_has_check(const char *version)
{
	return cni_version_supported(version) && strcmp(version, "0.4.0") >= 0;
}

bool cni_version_has_ip_version(const char *version)
{
	return cni_version_supported(version) && strcmp(version, "1.0.0") < 0;
}

char *cni_version_json(const char *requested)
{
	json_t *obj = json_object(), *list = json_array();

	if (!cni_version_supported(requested))
		requested = CNI_SPEC_VERSION;
	json_object_set_new(obj, "cniVersion", json_string(requested));
	for (size_t i = 0; i < ARRAY_SIZE(supported_versions); i++)
		json_array_append_new(list, json_string(supported_versions[i]));
	json_object_set_new(obj, "supportedVersions", list);
	return dump_or_die(obj);
}

static const char *const command_names[] = {
	[CNI_CMD_ADD] = "ADD",
	[CNI_CMD_DEL] = "DEL",
	[CNI_CMD_CHECK] = "CHECK",
	[CNI_CMD_VERSION] = "VERSION",
};

const char *cni_command_name(enum cni_command cmd)
{
	if ((unsigned)cmd >= ARRAY_SIZE(command_names))
		return "?";
	return command_names[cmd];
}

bool cni_container_id_is_valid(const char *s)
{
	if (!s || !isalnum((unsigned char)s[0]) || strlen(s) > CNI_CONTAINER_ID_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return false;
	return true;
}

bool cni_ifname_is_valid(const char *s)
{
	size_t len;

	if (!s)
		return false;
	len = strlen(s);
	/* IFNAMSIZ is 16 with the NUL. */
	if (len == 0 || len > 15 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (const char *p = s; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p) ||
		    !isprint((unsigned char)*p))
			return false;
	return true;
}

/* The value of NAME in envp, or NULL. */
static const char *env_get(char *const *envp, const char *name)
{
	size_t len = strlen(name);

	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}

/* Copy the value of key from "K1=V1;K2=V2" into out, when present and fitting. */
static void args_get(const char *args, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);

	out[0] = '\0';
	for (const char *p = args; p && *p;) {
		const char *end = strchr(p, ';');
		size_t plen = end ? (size_t)(end - p) : strlen(p);

		if (plen > klen && strncmp(p, key, klen) == 0 && p[klen] == '=' &&
		    plen - klen - 1 < len) {
			memcpy(out, p + klen + 1, plen - klen - 1);
			out[plen - klen - 1] = '\0';
			return;
		}
		p = end ? end + 1 : NULL;
	}
}

int cni_env_parse(char *const *envp, struct cni_env *out, struct cni_error *err)
{
	struct cni_env env = { 0 };
	const char *cmd = env_get(envp, "CNI_COMMAND");
	bool found = false;

	for (size_t i = 0; cmd && i < ARRAY_SIZE(command_names); i++) {
		if (strcmp(cmd, command_names[i]) == 0) {
			env.command = (enum cni_command)i;
			found = true;
		}
	}
	if (!found) {
		cni_error_set(err, CNI_ERR_INVALID_ENV,
			      "CNI_COMMAND %s%s%s: want ADD, DEL, CHECK or VERSION",
			      cmd ? "\"" : "", cmd ? cmd : "is not set",
			      cmd ? "\" is not supported" : "");
		return -EINVAL;
	}
	if (env.command == CNI_CMD_VERSION) {
		*out = env;
		return 0;
	}

	env.container_id = env_get(envp, "CNI_CONTAINERID");
	if (!env.container_id || !*env.container_id) {
		cni_error_set(err, CNI_ERR_INVALID_ENV, "CNI_CONTAINERID is not set");
		return -EINVAL;
	}
	if (!cni_container_id_is_valid(env.container_id)) {
		cni_error_set(err, CNI_ERR_INVALID_ENV,
			      "CNI_CONTAINERID \"%.64s\" is not a valid container id",
			      env.container_id);
		cni_error_details(err,
				  "a container id starts with a letter or digit, followed by "
				  "letters, digits, '_', '.' or '-'; at most %d characters",
				  CNI_CONTAINER_ID_MAX);
		return -EINVAL;
	}

	env.ifname = env_get(envp, "CNI_IFNAME");
	if (!env.ifname || !*env.ifname) {
		cni_error_set(err, CNI_ERR_INVALID_ENV, "CNI_IFNAME is not set");
		return -EINVAL;
	}
	if (!cni_ifname_is_valid(env.ifname)) {
		cni_error_set(err, CNI_ERR_INVALID_ENV,
			      "CNI_IFNAME \"%.32s\" is not a valid interface name", env.ifname);
		cni_error_details(err, "1-15 characters, not \".\" or \"..\", without '/', ':' "
				       "or whitespace");
		return -EINVAL;
	}

	env.netns = env_get(envp, "CNI_NETNS");
	if (env.netns && !*env.netns)
		env.netns = NULL;
	if (!env.netns && env.command != CNI_CMD_DEL) {
		cni_error_set(err, CNI_ERR_INVALID_ENV, "CNI_NETNS is not set (needed for %s)",
			      cni_command_name(env.command));
		return -EINVAL;
	}

	env.args = env_get(envp, "CNI_ARGS");
	args_get(env.args, "K8S_POD_NAMESPACE", env.pod_namespace, sizeof(env.pod_namespace));
	args_get(env.args, "K8S_POD_NAME", env.pod_name, sizeof(env.pod_name));
	*out = env;
	return 0;
}
