/*
 * capstan-cni: the pod network plugin containerd runs for every sandbox, and
 * the loopback plugin when invoked under the name "loopback".
 *
 * The entry point only wires the CNI contract to the modules: read stdin and
 * the environment (spec.c, config.c), run the command (plugin.c), print the
 * result or the error object to stdout and exit 0 or 1. See plugin.h for the
 * network model and config.h for the configuration fields.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/cni/config.h"
#include "agent/cni/plugin.h"
#include "agent/cni/spec.h"
#include "log.h"
#include "util.h"

extern char **environ;

/* A configuration is a few hundred bytes; a prevResult a few kilobytes. */
#define STDIN_MAX (1 << 20)

/* Read all of stdin into b. 0, -EFBIG past STDIN_MAX, or -errno. */
static int read_stdin(struct buf *b)
{
	char chunk[4096];

	for (;;) {
		ssize_t n = read(0, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if (b->len + (size_t)n > STDIN_MAX)
			return -EFBIG;
		buf_append(b, chunk, (size_t)n);
	}
}

/* Print one JSON document and its newline on stdout; false if that failed. */
static bool print_json(const char *json)
{
	return printf("%s\n", json) >= 0 && fflush(stdout) == 0;
}

/* Report a failure: a log line for people, the error object for the runtime. Returns 1. */
static int fail(const char *what, const char *version, const struct cni_error *err)
{
	char *json = cni_error_json(version, err);

	cni_log_error("%s failed (code %d): %s", what, err->code, err->msg);
	print_json(json);
	free(json);
	return 1;
}

int main(int argc, char **argv)
{
	const char *slash = strrchr(argv[0], '/'), *version;
	const char *self = slash ? slash + 1 : argv[0];
	bool loopback = strcmp(self, "loopback") == 0;
	struct cni_config cfg = { 0 };
	struct cni_error err = { 0 };
	struct cni_env env;
	struct buf in = { 0 };
	char *result = NULL;
	int ret, status = 1;

	log_init(loopback ? "loopback" : "capstan-cni");
	if (argc > 1) {
		fprintf(stderr,
			"%s: a CNI plugin: run by the container runtime with CNI_COMMAND "
			"and the network configuration on stdin (see CNI spec 1.0.0)\n",
			self);
		return 2;
	}
	ret = read_stdin(&in);
	version = cni_config_peek_version(in.data, in.len);
	if (cni_env_parse(environ, &env, &err) < 0) {
		status = fail("environment", version, &err);
		goto out;
	}
	if (env.command == CNI_CMD_VERSION) {
		result = cni_version_json(version);
		status = print_json(result) ? 0 : 1;
		goto out;
	}
	if (ret < 0) {
		cni_error_set(&err, CNI_ERR_IO,
			      "cannot read the network configuration from stdin: %s",
			      strerror(-ret));
		status = fail(cni_command_name(env.command), version, &err);
		goto out;
	}
	if (cni_config_parse(in.data, in.len, loopback, &cfg, &err) < 0) {
		status = fail("network configuration", version, &err);
		goto out;
	}
	if (!loopback) {
		log_set_level(cfg.log_level);
		cni_log_open(cfg.data_dir);
	}
	cni_log_debug("%s container %s ifname %s netns %s", cni_command_name(env.command),
		      env.container_id, env.ifname, env.netns ? env.netns : "(none)");
	if (cni_plugin_run(&env, &cfg, loopback, &result, &err) < 0) {
		status = fail(cni_command_name(env.command), cfg.cni_version, &err);
		goto out;
	}
	status = !result || print_json(result) ? 0 : 1;
out:
	free(result);
	cni_config_free(&cfg);
	cni_log_close();
	buf_free(&in);
	return status;
}
