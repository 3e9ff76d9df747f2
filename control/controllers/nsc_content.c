/* nsc_content.c - see nsc_content.h. */
#include "control/controllers/nsc_content.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "control/controllers/ctrl.h"
#include "jsonx.h"
#include "ktime.h"
#include "util.h"

static bool has_str(const json_t *arr, const char *s)
{
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

static int cmp_resource(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
	int c = strcmp(jsonx_str(x, "group", ""), jsonx_str(y, "group", ""));

	return c ? c : strcmp(jsonx_str(x, "resource", ""), jsonx_str(y, "resource", ""));
}

json_t *nsc_resources_from_discovery(const json_t *lists)
{
	json_t *seen = json_object(), *out = json_array(), *l, *r;
	const json_t **v;
	size_t i, j, n;

	json_array_foreach(lists, i, l) {
		const char *gv = jsonx_str(l, "groupVersion", "");
		const char *slash = strchr(gv, '/');
		char *group = xstrndup(gv, slash ? (size_t)(slash - gv) : 0);
		char *prefix = slash ? xasprintf("/apis/%s", gv) : xasprintf("/api/%s", gv);

		json_array_foreach(jsonx_arr(l, "resources"), j, r) {
			const char *name = jsonx_str(r, "name", "");
			const json_t *verbs = jsonx_arr(r, "verbs");
			char *key;

			if (!*gv || !*name || strchr(name, '/') ||
			    !jsonx_bool(r, "namespaced", false) || !has_str(verbs, "list") ||
			    !(has_str(verbs, "delete") || has_str(verbs, "deletecollection")))
				continue;
			key = xasprintf("%s/%s", group, name);
			if (!json_object_get(seen, key)) {
				json_object_set_new(seen, key, json_true());
				json_array_append_new(out,
						      json_pack("{s:s, s:s, s:s}", "prefix", prefix,
								"resource", name, "group", group));
			}
			free(key);
		}
		free(group);
		free(prefix);
	}
	json_decref(seen);
	/* Sort through a C array of the elements, then rebuild the array. */
	n = json_array_size(out);
	v = xcalloc(n + 1, sizeof(*v));
	json_array_foreach(out, i, r)
		v[i] = json_incref(r);
	qsort(v, n, sizeof(*v), cmp_resource);
	json_array_clear(out);
	for (i = 0; i < n; i++)
		json_array_append_new(out, (json_t *)v[i]);
	free(v);
	return out;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "k1 <sep> N<tail>, k2 <sep> M<tail>" over counts, keys sorted. */
static char *join_counts(const json_t *counts, const char *sep, const char *tail)
{
	const char **keys = xcalloc(json_object_size(counts) + 1, sizeof(*keys)), *k;
	struct buf b = { 0 };
	size_t n = 0;
	json_t *v;

	json_object_foreach((json_t *)counts, k, v)
		keys[n++] = k;
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (size_t i = 0; i < n; i++)
		buf_appendf(&b, "%s%s %s %lld%s", i ? ", " : "", keys[i], sep,
			    (long long)json_integer_value(json_object_get(counts, keys[i])), tail);
	free(keys);
	return b.data ? b.data : xstrdup("");
}

json_t *nsc_conditions(const json_t *ns, const struct nsc_report *r, const char *now)
{
	const json_t *old = jsonx_get_path(ns, "status.conditions");
	json_t *conds = json_is_array(old) ? json_deep_copy(old) : json_array();
	json_t *st = json_pack("{s:O}", "conditions", conds); /* for cm_cond_get */
	char *remaining = json_object_size(r->remaining)
				  ? join_counts(r->remaining, "has", " resource instances")
				  : NULL;
	char *fins = json_object_size(r->finalizers)
			     ? join_counts(r->finalizers, "in", " resource instances")
			     : NULL;
	char *disc = r->discovery_error
			     ? xasprintf("Discovery failed for some groups: %s", r->discovery_error)
			     : NULL;
	char *content = r->content_error ? xasprintf("Failed to delete all resource types: %s",
						     r->content_error)
					 : NULL;
	char *rem_msg = remaining ? xasprintf("Some resources are remaining: %s", remaining) : NULL;
	char *fin_msg = fins ? xasprintf("Some content in the namespace has finalizers "
					 "remaining: %s",
					 fins)
			     : NULL;
	const struct {
		const char *type;
		bool on;
		const char *reason_on, *msg_on, *reason_off, *msg_off;
	} want[] = {
		{ "NamespaceDeletionDiscoveryFailure", disc, "DiscoveryFailed", disc,
		  "ResourcesDiscovered", "All resources successfully discovered" },
		{ "NamespaceDeletionGroupVersionParsingFailure", false, "", "",
		  "ParsedGroupVersions", "All legacy kube types successfully parsed" },
		{ "NamespaceDeletionContentFailure", content, "ContentDeletionFailed", content,
		  "ContentDeleted",
		  "All content successfully deleted, may be waiting on "
		  "finalization" },
		{ "NamespaceContentRemaining", rem_msg, "SomeResourcesRemain", rem_msg,
		  "ContentRemoved", "All content successfully removed" },
		{ "NamespaceFinalizersRemaining", fin_msg, "SomeFinalizersRemain", fin_msg,
		  "ContentHasNoFinalizers", "All content-preserving finalizers finished" },
	};
	json_t *out;

	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		const char *status = want[i].on ? "True" : "False";
		json_t *c = cm_cond_get(st, want[i].type);
		const char *since = now;

		if (c && strcmp(jsonx_str(c, "status", ""), status) == 0)
			since = jsonx_str(c, "lastTransitionTime", now);
		json_t *n = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", want[i].type, "status",
				      status, "lastTransitionTime", since, "reason",
				      want[i].on ? want[i].reason_on : want[i].reason_off,
				      "message", want[i].on ? want[i].msg_on : want[i].msg_off);

		if (c)
			json_object_update(c, n); /* in place, keeping the order */
		else
			json_array_append(conds, n);
		json_decref(n);
	}
	out = jsonx_equal(conds, old) ? NULL : json_incref(conds);
	json_decref(st);
	json_decref(conds);
	free(remaining);
	free(fins);
	free(disc);
	free(content);
	free(rem_msg);
	free(fin_msg);
	return out;
}

long long nsc_requeue_seconds(const json_t *pods, int64_t now_ns)
{
	long long longest = 0;
	json_t *p;
	size_t i;

	json_array_foreach(pods, i, p) {
		const char *dt = jsonx_path_str(p, "metadata.deletionTimestamp", NULL);
		int64_t at;

		if (dt && ktime_parse(dt, &at) == 0 && at > now_ns)
			longest = MAX(longest, (long long)((at - now_ns) / 1000000000ll));
	}
	return longest / 2 + 1;
}

json_t *nsc_finalize_body(const json_t *ns)
{
	const json_t *fin = jsonx_get_path(ns, "spec.finalizers");
	json_t *out, *keep, *v;
	size_t i;

	if (!has_str(fin, NSC_FINALIZER))
		return NULL;
	keep = json_array();
	json_array_foreach(fin, i, v)
		if (!json_is_string(v) || strcmp(json_string_value(v), NSC_FINALIZER) != 0)
			json_array_append(keep, v);
	out = json_deep_copy(ns);
	json_object_set_new(json_object_get(out, "spec"), "finalizers", keep);
	return out;
}
