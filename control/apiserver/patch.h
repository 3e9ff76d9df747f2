/*
 * patch.h - the three patch formats of the Kubernetes API.
 *
 *   application/merge-patch+json            RFC 7386 JSON merge patch
 *                                           (kubectl label, annotate, scale)
 *   application/json-patch+json             RFC 6902 JSON patch
 *                                           (kubectl patch --type=json)
 *   application/strategic-merge-patch+json  strategic merge patch
 *                                           (kubectl apply, patch, set image,
 *                                           rollout restart, cordon)
 *
 * All functions are pure: they never modify their inputs and return a new
 * document. Errors carry a message written for the person who sent the
 * patch; the API server turns -EINVAL into 400 BadRequest and -ENOENT /
 * -ECANCELED into 422 Invalid as upstream does.
 */
#ifndef CAPSTAN_APISERVER_PATCH_H
#define CAPSTAN_APISERVER_PATCH_H

#include <stddef.h>

#include <jansson.h>

/*
 * RFC 7386. 0 on success with *out a new reference; -EINVAL if patch is not
 * a JSON object (message in err). A null value deletes a key; objects merge
 * recursively; every other value (arrays included) replaces.
 */
int patch_merge(const json_t *doc, const json_t *patch, json_t **out, char *err, size_t errlen);

/*
 * RFC 6902: ops add, remove, replace, move, copy, test, applied in order, all
 * or nothing. 0 on success with *out a new reference. -EINVAL for a
 * malformed patch (not an array, unknown op, bad JSON pointer, missing
 * "value"/"from"), -ENOENT when a path does not exist where it must,
 * -ECANCELED when a test op fails. JSON pointers per RFC 6901 (~0, ~1, "-"
 * for the end of an array).
 */
int patch_json(const json_t *doc, const json_t *ops, json_t **out, char *err, size_t errlen);

/*
 * Strategic merge patch for objects of the given kind ("Pod", "Deployment",
 * ... as in the object's "kind"). Lists listed in the kind's schema are
 * merged by their merge key (containers by name, ports by containerPort,
 * ...); other lists replace. Directives: $patch (replace, merge, delete) in
 * maps and list elements, $setElementOrder/<list>, $retainKeys,
 * $deleteFromPrimitiveList/<list>; null deletes a key. Unknown kinds are
 * patched with no merge keys (every list replaces), as upstream does for
 * types without patch metadata.
 * 0 on success with *out a new reference; -EINVAL with a message for a
 * malformed patch or directive.
 */
int patch_strategic(const char *kind, const json_t *doc, const json_t *patch, json_t **out,
		    char *err, size_t errlen);

#endif
