/*
 * fuzz_apiserver.c - libFuzzer target for the API server's input paths:
 * everything a client can put in a request body or query string before the
 * server has checked anything.
 *
 * The first byte picks the path, the rest is the input:
 *   0  kubectl protobuf body           -> pbjson_decode
 *   1  JSON doc NUL JSON patch         -> patch_merge, patch_json, patch_strategic
 *   2  label selector NUL field sel.   -> selector_parse, fieldsel_parse (+ match)
 *   3  JSON object                     -> schema_check, defaults_apply, validate_object
 *                                         for every served kind
 * Any crash, leak, or sanitizer report is a bug; results are not checked.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "control/apiserver/patch.h"
#include "control/apiserver/pbjson.h"
#include "control/apiserver/schema.h"
#include "control/apiserver/validate.h"
#include "selector.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const kinds[][3] = {
	{ "", "v1", "Pod" },		 { "", "v1", "Service" },
	{ "", "v1", "Namespace" },	 { "", "v1", "Node" },
	{ "", "v1", "ConfigMap" },	 { "", "v1", "Secret" },
	{ "", "v1", "Event" },		 { "", "v1", "Endpoints" },
	{ "", "v1", "ServiceAccount" },	 { "apps", "v1", "Deployment" },
	{ "apps", "v1", "ReplicaSet" },	 { "apps", "v1", "DaemonSet" },
	{ "discovery.k8s.io", "v1", "EndpointSlice" },
	{ "coordination.k8s.io", "v1", "Lease" },
};

/* Split at the first NUL: a and b are NUL-terminated copies. */
static void split(const uint8_t *data, size_t size, char **a, char **b)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t alen = nul ? (size_t)(nul - data) : size;

	*a = xstrndup((const char *)data, alen);
	*b = nul ? xstrndup((const char *)nul + 1, size - alen - 1) : xstrdup("");
}

static void fuzz_patch(const uint8_t *data, size_t size)
{
	char *a, *b, err[256];
	json_t *doc, *patch, *out;

	split(data, size, &a, &b);
	doc = json_loads(a, 0, NULL);
	patch = json_loads(b, 0, NULL);
	if (doc && patch) {
		if (patch_merge(doc, patch, &out, err, sizeof(err)) == 0)
			json_decref(out);
		if (patch_json(doc, patch, &out, err, sizeof(err)) == 0)
			json_decref(out);
		if (patch_strategic("Pod", doc, patch, &out, err, sizeof(err)) == 0)
			json_decref(out);
		if (patch_strategic("Deployment", doc, patch, &out, err, sizeof(err)) == 0)
			json_decref(out);
	}
	json_decref(doc);
	json_decref(patch);
	free(a);
	free(b);
}

static const char *field_get(void *ctx, const char *field)
{
	return strlen(field) % 2 ? "x" : NULL;
}

static void fuzz_selectors(const uint8_t *data, size_t size)
{
	char *a, *b, err[256];
	struct selector *sel;
	struct fieldsel *fs;
	json_t *labels = json_pack("{s:s,s:s}", "app", "web", "tier", "1");

	split(data, size, &a, &b);
	if (selector_parse(a, &sel, err, sizeof(err)) == 0) {
		struct buf s = { 0 };

		selector_matches(sel, labels);
		selector_string(sel, &s);
		buf_free(&s);
		selector_free(sel);
	}
	if (fieldsel_parse(b, &fs, err, sizeof(err)) == 0) {
		fieldsel_matches(fs, field_get, NULL);
		fieldsel_free(fs);
	}
	json_decref(labels);
	free(a);
	free(b);
}

static void fuzz_objects(const uint8_t *data, size_t size)
{
	json_t *obj = json_loadb((const char *)data, size, 0, NULL);

	if (!obj)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		json_t *problems = json_array(), *causes = json_array();
		json_t *copy = json_deep_copy(obj);

		schema_check(kinds[i][0], kinds[i][1], kinds[i][2], copy, problems);
		defaults_apply(kinds[i][2], copy);
		validate_object(kinds[i][2], copy, NULL, causes);
		validate_object(kinds[i][2], copy, obj, causes);
		validate_status(kinds[i][2], copy, obj, causes);
		json_decref(copy);
		json_decref(problems);
		json_decref(causes);
	}
	json_decref(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	json_t *out;

	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		if (pbjson_decode(data + 1, size - 1, &out, err, sizeof(err)) == 0)
			json_decref(out);
		break;
	case 1:
		fuzz_patch(data + 1, size - 1);
		break;
	case 2:
		fuzz_selectors(data + 1, size - 1);
		break;
	case 3:
		fuzz_objects(data + 1, size - 1);
		break;
	}
	return 0;
}
