/*
 * registry.h - `capstan registry`: a read-only OCI distribution registry
 * over plain HTTP, so containerd can pull the project's images with no
 * outside registry.
 *
 *   capstan registry serve --dir DIR [--listen 127.0.0.1:5000]
 *   capstan registry add --dir DIR IMAGE.tar...
 *   capstan registry list --dir DIR
 *   capstan registry hosts --config-path DIR [--host capstan.local]
 *         [--server http://127.0.0.1:5000]
 *
 * DIR is an OCI image layout directory (registry_store.h says how it maps
 * to repositories); `add` fills it from tarballs built by `capstan image
 * build`, and a running server picks up the new index.json on the next
 * request. The API served (OCI distribution spec, pull side):
 *
 *   GET  /v2/                               200 {}  (API version check)
 *   GET  /v2/_catalog[?n=&last=]            repositories
 *   GET  /v2/<name>/tags/list[?n=&last=]    tags (Link: rel="next" when cut)
 *   GET|HEAD /v2/<name>/manifests/<ref>     by tag or digest: Content-Type
 *                                           (the manifest's media type),
 *                                           Docker-Content-Digest,
 *                                           Content-Length
 *   GET|HEAD /v2/<name>/blobs/<digest>      streamed from the file (sendfile),
 *                                           single byte ranges (206/416)
 *
 * Every answer carries Docker-Distribution-API-Version: registry/2.0. Errors
 * use the spec's body {"errors":[{"code","message","detail"}]}: 404
 * NAME_UNKNOWN, MANIFEST_UNKNOWN, BLOB_UNKNOWN or (for paths outside the API)
 * UNSUPPORTED; 400 NAME_INVALID, TAG_INVALID or DIGEST_INVALID for malformed
 * names, tags and digests (which is also how "../" in a path is refused:
 * names and digests are checked against their grammars, files are only ever
 * opened by a validated digest); 405 UNSUPPORTED for any method but GET and
 * HEAD (no push).
 *
 * Pointing containerd at it: containerd resolves "capstan.local/httpd:1"
 * through the hosts.toml files under its registry config_path (CRI:
 * [plugins."io.containerd.grpc.v1.cri".registry] config_path = "DIR"; ctr:
 * --hosts-dir DIR). DIR/capstan.local/hosts.toml must read
 *
 *   server = "http://127.0.0.1:5000"
 *
 *   [host."http://127.0.0.1:5000"]
 *     capabilities = ["pull", "resolve"]
 *
 * which `capstan registry hosts` writes (registry_write_hosts_toml).
 */
#ifndef CAPSTAN_CLI_REGISTRY_H
#define CAPSTAN_CLI_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define REGISTRY_DEFAULT_LISTEN "127.0.0.1:5000"
#define REGISTRY_DEFAULT_HOST "capstan.local"

struct registry;

/*
 * Serve the layout in dir on listen ("IPV4:PORT"; port 0 picks a free one).
 * Returns once the socket listens: 0 with *out set, -EINVAL for a bad
 * address, -ENOENT when dir does not exist, -EADDRINUSE etc. from bind, with
 * a message in err.
 */
int registry_start(const char *dir, const char *listen, struct registry **out, char *err,
		   size_t errlen);
/* The port actually listened on. */
uint16_t registry_port(const struct registry *r);
/* Stop serving, close the socket and free r (NULL is fine). */
void registry_stop(struct registry *r);

/*
 * Write <config_path>/<host>/hosts.toml sending pulls and resolves for host
 * to server_url (http://IP:PORT). 0 or -errno; -EINVAL when host or the URL
 * contain characters that do not belong in them.
 */
int registry_write_hosts_toml(const char *config_path, const char *host, const char *server_url);

/* argv[0] is "registry". Returns the process exit status. */
int registry_cli_main(int argc, char **argv);
void registry_cli_usage(FILE *f);

#endif
