/* nodelc_policy.c - see nodelc_policy.h. */
#include "control/controllers/nodelc_policy.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "control/controllers/podutil.h"
#include "jsonx.h"
#include "util.h"

/* The node's condition of type (borrowed), or NULL. */
static json_t *node_condition(const json_t *node, const char *type)
{
	return cm_cond_get(jsonx_obj(node, "status"), type);
}

/* Copy s into a remembered field; true when it differs from what was there. */
static bool remember(char *field, size_t len, const char *s)
{
	bool changed = strncmp(field, s, len - 1) != 0;

	snprintf(field, len, "%s", s);
	return changed;
}

bool nodelc_health_observe(struct nodelc_health *h, const json_t *node, const json_t *lease,
			   int64_t now_ns, int64_t grace_ns)
{
	const json_t *ready = node_condition(node, "Ready");
	bool heard = !h->seen;

	/* Both always run: each keeps its own last value for the next call. */
	heard |= remember(h->lease_renew, sizeof(h->lease_renew),
			  jsonx_path_str(lease, "spec.renewTime", ""));
	heard |= remember(h->heartbeat, sizeof(h->heartbeat),
			  jsonx_str(ready, "lastHeartbeatTime", ""));
	if (heard) {
		h->seen = true;
		h->probe_ns = now_ns;
	}
	return now_ns - h->probe_ns > grace_ns;
}

const char *nodelc_ready_status(const json_t *node)
{
	const json_t *ready = node_condition(node, "Ready");
	const char *st = jsonx_str(ready, "status", NULL);

	if (!ready)
		return NULL;
	if (st && (strcmp(st, "True") == 0 || strcmp(st, "False") == 0))
		return st;
	return "Unknown";
}

bool nodelc_silenced(const json_t *node)
{
	const json_t *ready = node_condition(node, "Ready");

	return ready && strcmp(jsonx_str(ready, "status", ""), "Unknown") == 0 &&
	       strcmp(jsonx_str(ready, "reason", ""), NODELC_REASON_UNKNOWN) == 0;
}

json_t *nodelc_conditions_unknown(const json_t *node, const char *now)
{
	static const char *const types[] = { "Ready", "MemoryPressure", "DiskPressure",
					     "PIDPressure" };
	const json_t *src = jsonx_get_path(node, "status.conditions");
	json_t *conds = json_is_array(src) ? json_deep_copy(src) : json_array();
	json_t *st = json_pack("{s:O}", "conditions", conds); /* for cm_cond_get */
	const char *created = jsonx_path_str(node, "metadata.creationTimestamp", NULL);
	bool changed = false;

	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		json_t *c = cm_cond_get(st, types[i]);

		if (!c) {
			c = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", types[i], "status",
				      "Unknown", "reason", "NodeStatusNeverUpdated", "message",
				      "Kubelet never posted node status.", "lastTransitionTime",
				      now);
			if (created)
				json_object_set_new(c, "lastHeartbeatTime", json_string(created));
			json_array_append_new(conds, c);
			changed = true;
		} else if (strcmp(jsonx_str(c, "status", ""), "Unknown") != 0) {
			json_object_set_new(c, "status", json_string("Unknown"));
			json_object_set_new(c, "reason", json_string(NODELC_REASON_UNKNOWN));
			json_object_set_new(c, "message", json_string(NODELC_MSG_UNKNOWN));
			json_object_set_new(c, "lastTransitionTime", json_string(now));
			changed = true;
		}
	}
	json_decref(st);
	if (!changed) {
		json_decref(conds);
		return NULL;
	}
	return conds;
}

/* Condition (type, status) -> NoSchedule taint, as upstream's nodeConditionToTaintKeyStatusMap. */
static const struct {
	const char *type, *status, *taint;
} cond_taints[] = {
	{ "Ready", "False", NODELC_TAINT_NOT_READY },
	{ "Ready", "Unknown", NODELC_TAINT_UNREACHABLE },
	{ "MemoryPressure", "True", "node.kubernetes.io/memory-pressure" },
	{ "DiskPressure", "True", "node.kubernetes.io/disk-pressure" },
	{ "PIDPressure", "True", "node.kubernetes.io/pid-pressure" },
	{ "NetworkUnavailable", "True", "node.kubernetes.io/network-unavailable" },
};
#define TAINT_UNSCHEDULABLE "node.kubernetes.io/unschedulable"

/* Is (key, effect) a taint this controller owns? */
static bool owned_taint(const char *key, const char *effect)
{
	if (strcmp(effect, "NoExecute") == 0)
		return strcmp(key, NODELC_TAINT_NOT_READY) == 0 ||
		       strcmp(key, NODELC_TAINT_UNREACHABLE) == 0;
	if (strcmp(effect, "NoSchedule") != 0)
		return false;
	if (strcmp(key, TAINT_UNSCHEDULABLE) == 0)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(cond_taints); i++)
		if (strcmp(key, cond_taints[i].taint) == 0)
			return true;
	return false;
}

static bool has_taint(const json_t *taints, const char *key, const char *effect)
{
	json_t *t;
	size_t i;

	json_array_foreach(taints, i, t)
		if (strcmp(jsonx_str(t, "key", ""), key) == 0 &&
		    strcmp(jsonx_str(t, "effect", ""), effect) == 0)
			return true;
	return false;
}

json_t *nodelc_taints_want(const json_t *node, bool noexec, const char *now)
{
	const json_t *have = jsonx_arr(jsonx_obj(node, "spec"), "taints");
	const char *ready = nodelc_ready_status(node);
	json_t *want = json_array(), *out = json_array(), *t;
	bool changed = false;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cond_taints); i++) {
		const json_t *c = node_condition(node, cond_taints[i].type);
		const char *st = jsonx_str(c, "status", "");

		/* Ready's status is normalised: anything but True/False is Unknown. */
		if (c && strcmp(cond_taints[i].type, "Ready") == 0)
			st = ready;
		if (c && strcmp(st, cond_taints[i].status) == 0)
			json_array_append_new(want,
					      json_pack("{s:s, s:s}", "key", cond_taints[i].taint,
							"effect", "NoSchedule"));
	}
	if (jsonx_path_bool(node, "spec.unschedulable", false))
		json_array_append_new(want, json_pack("{s:s, s:s}", "key", TAINT_UNSCHEDULABLE,
						      "effect", "NoSchedule"));
	if (ready && noexec && strcmp(ready, "True") != 0)
		json_array_append_new(want, json_pack("{s:s, s:s, s:s}", "key",
						      strcmp(ready, "False") == 0
							      ? NODELC_TAINT_NOT_READY
							      : NODELC_TAINT_UNREACHABLE,
						      "effect", "NoExecute", "timeAdded", now));

	json_array_foreach(have, i, t) {
		const char *key = jsonx_str(t, "key", ""), *eff = jsonx_str(t, "effect", "");

		/* Without a Ready condition nothing is known: NoExecute taints stay. */
		bool keep = !owned_taint(key, eff) || has_taint(want, key, eff) ||
			    (!ready && strcmp(eff, "NoExecute") == 0);

		if (keep && !has_taint(out, key, eff))
			json_array_append(out, t);
		else
			changed = true;
	}
	json_array_foreach(want, i, t) {
		if (has_taint(out, jsonx_str(t, "key", ""), jsonx_str(t, "effect", "")))
			continue;
		json_array_append(out, t);
		changed = true;
	}
	json_decref(want);
	if (!changed) {
		json_decref(out);
		return NULL;
	}
	return out;
}

bool nodelc_all_disrupted(const json_t *nodes)
{
	json_t *n;
	size_t i;

	json_array_foreach(nodes, i, n) {
		const char *st = nodelc_ready_status(n);

		if (st && strcmp(st, "True") == 0)
			return false;
	}
	return json_array_size(nodes) > 0;
}

bool nodelc_tolerates(const json_t *toleration, const json_t *taint)
{
	const char *eff = jsonx_str(toleration, "effect", ""),
		   *key = jsonx_str(toleration, "key", "");
	const char *op = jsonx_str(toleration, "operator", "");

	/* Not an object: not a toleration at all (as an empty one it would match everything). */
	if (!json_is_object(toleration) || !json_is_object(taint))
		return false;
	if (*eff && strcmp(eff, jsonx_str(taint, "effect", "")) != 0)
		return false;
	if (*key && strcmp(key, jsonx_str(taint, "key", "")) != 0)
		return false;
	if (strcmp(op, "Exists") == 0)
		return true;
	if (!*op || strcmp(op, "Equal") == 0)
		return strcmp(jsonx_str(toleration, "value", ""), jsonx_str(taint, "value", "")) ==
		       0;
	return false;
}

long long nodelc_eviction_delay(const json_t *taints, const json_t *tolerations,
				long long default_s)
{
	long long min = LLONG_MAX;
	json_t *t, *tol;
	size_t i, j;

	json_array_foreach(taints, i, t) {
		const char *key = jsonx_str(t, "key", "");
		const json_t *used = NULL;
		long long secs;

		if (strcmp(jsonx_str(t, "effect", ""), "NoExecute") != 0)
			continue;
		/* Upstream counts the first toleration that matches each taint. */
		json_array_foreach(tolerations, j, tol) {
			if (nodelc_tolerates(tol, t)) {
				used = tol;
				break;
			}
		}
		if (used && json_is_integer(json_object_get(used, "tolerationSeconds")))
			secs = jsonx_int(used, "tolerationSeconds", 0);
		else if (used)
			continue; /* tolerated for ever */
		else if (strcmp(key, NODELC_TAINT_NOT_READY) == 0 ||
			 strcmp(key, NODELC_TAINT_UNREACHABLE) == 0)
			secs = default_s;
		else
			return 0;
		if (secs <= 0)
			return 0;
		min = MIN(min, secs);
	}
	return min == LLONG_MAX ? -1 : min;
}

json_t *nodelc_pod_not_ready(const json_t *pod, const char *now)
{
	json_t *copy, *c;

	if (!cm_pod_is_ready(pod))
		return NULL;
	copy = json_deep_copy(pod);
	c = cm_cond_get(jsonx_obj(copy, "status"), "Ready");
	json_object_set_new(c, "status", json_string("False"));
	json_object_set_new(c, "lastTransitionTime", json_string(now));
	return copy;
}
