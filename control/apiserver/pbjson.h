/*
 * pbjson.h - kubectl's protobuf request bodies, decoded into JSON.
 *
 * kubectl 1.32 sends `application/vnd.kubernetes.protobuf` bodies for some
 * commands (create deployment|namespace|service|configmap, the
 * DeleteOptions of drain/eviction). Such a body is the 4-byte magic
 * "k8s\0" followed by a runtime.Unknown message {typeMeta=1 {apiVersion=1,
 * kind=2}, raw=2, contentEncoding=3, contentType=4} whose raw bytes are the
 * object's own message. The API server answers in JSON either way, so the
 * object is decoded once, here, into the JSON the rest of the server works
 * with: field names are the JSON names, and the types with special JSON
 * forms get them (Time and MicroTime -> RFC 3339 strings, Quantity ->
 * string, IntOrString -> number or string, bytes -> base64, maps ->
 * objects, RawExtension -> embedded JSON, Duration -> Go duration string).
 *
 * Fields the project's .proto subset does not know make the decode fail
 * rather than silently dropping data.
 */
#ifndef CAPSTAN_APISERVER_PBJSON_H
#define CAPSTAN_APISERVER_PBJSON_H

#include <stddef.h>

#include <jansson.h>

/*
 * Decode body. 0 on success with *out a new JSON object whose "apiVersion"
 * and "kind" come from the Unknown's typeMeta. -EINVAL for a malformed body
 * (no magic, bad wire format, unknown field: HTTP 400), -ENOTSUP for a kind
 * outside the subset (HTTP 415). A message goes to err either way.
 */
int pbjson_decode(const void *body, size_t len, json_t **out, char *err, size_t errlen);

#endif
