/*
 * pods_runtime.c - what CRI reports about pods, as struct pods_view, and the
 * adoption decision at start (see pods.h).
 *
 * A view is loaded fresh for every reconcile pass: ListPodSandbox and
 * ListContainers filtered on the pod's uid label, then ContainerStatus per
 * container (exit code, times, reason, log path) and PodSandboxStatus per
 * ready sandbox (IPs). Nothing is cached between passes: CRI is the one
 * source of truth about what runs, which is what makes a restarted kubelet
 * see exactly what the previous one left. The cost is a handful of local
 * gRPC calls per pod every few seconds, which containerd answers from
 * memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/kubelet/containers.h"
#include "agent/kubelet/cri.h"
#include "agent/kubelet/pods.h"
#include "util.h"

#define LIST_TIMEOUT_MS 10000

/* Every protobuf-c map<string,string> entry has this layout. */
struct kv_entry {
	ProtobufCMessage base;
	char *key;
	char *value;
};

const char *pods_map_get(void *const *entries, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++) {
		const struct kv_entry *e = entries[i];

		if (e->key && !strcmp(e->key, key))
			return e->value ? e->value : "";
	}
	return NULL;
}

static char *dup_or_empty(const char *s)
{
	return xstrdup(s ? s : "");
}

static int cri_call_env(const struct pods_env *env, const char *method, const ProtobufCMessage *req,
			const ProtobufCMessageDescriptor *desc, void *resp, char *err,
			size_t errlen)
{
	return env->cri(env->ctx, method, req, desc, (ProtobufCMessage **)resp, LIST_TIMEOUT_MS,
			err, errlen);
}

static void load_sandbox_status(const struct pods_env *env, struct pods_sandbox *sb)
{
	Runtime__V1__PodSandboxStatusRequest req = RUNTIME__V1__POD_SANDBOX_STATUS_REQUEST__INIT;
	Runtime__V1__PodSandboxStatusResponse *resp = NULL;
	char err[256];

	req.pod_sandbox_id = sb->id;
	if (cri_call_env(env, "/runtime.v1.RuntimeService/PodSandboxStatus", &req.base,
			 &runtime__v1__pod_sandbox_status_response__descriptor, &resp, err,
			 sizeof(err)) != 0)
		return;
	if (resp->status && resp->status->network && resp->status->network->ip &&
	    *resp->status->network->ip) {
		Runtime__V1__PodSandboxNetworkStatus *n = resp->status->network;

		free(sb->ip);
		sb->ip = xstrdup(n->ip);
		json_array_append_new(sb->ips, json_string(n->ip));
		for (size_t i = 0; i < n->n_additional_ips; i++)
			if (n->additional_ips[i]->ip && *n->additional_ips[i]->ip)
				json_array_append_new(sb->ips,
						      json_string(n->additional_ips[i]->ip));
	}
	if (resp->status)
		sb->ready = resp->status->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
}

/* ContainerStatus into c. 0, or CRI_NOT_FOUND when it vanished meanwhile. */
static int load_container_status(const struct pods_env *env, struct pods_ctr *c)
{
	Runtime__V1__ContainerStatusRequest req = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
	Runtime__V1__ContainerStatusResponse *resp = NULL;
	Runtime__V1__ContainerStatus *s;
	char err[256];
	int rc;

	req.container_id = c->id;
	rc = cri_call_env(env, "/runtime.v1.RuntimeService/ContainerStatus", &req.base,
			  &runtime__v1__container_status_response__descriptor, &resp, err,
			  sizeof(err));
	if (rc != 0)
		return rc;
	s = resp->status;
	if (s) {
		c->state = (enum pods_ctr_state)s->state;
		c->started_ns = s->started_at;
		c->finished_ns = s->finished_at;
		c->exit_code = s->exit_code;
		free(c->reason);
		free(c->message);
		free(c->log_path);
		c->reason = dup_or_empty(s->reason);
		c->message = dup_or_empty(s->message);
		c->log_path = dup_or_empty(s->log_path);
		if (s->image && s->image->image && *s->image->image) {
			free(c->image);
			c->image = xstrdup(s->image->image);
		}
		if (s->image_ref && *s->image_ref) {
			free(c->image_ref);
			c->image_ref = xstrdup(s->image_ref);
		}
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return 0;
}

static void ctr_free(struct pods_ctr *c)
{
	free(c->id);
	free(c->sandbox_id);
	free(c->uid);
	free(c->name);
	free(c->reason);
	free(c->message);
	free(c->image);
	free(c->image_ref);
	free(c->log_path);
	free(c->hash);
}

void pods_view_free(struct pods_view *v)
{
	for (size_t i = 0; i < v->n_sb; i++) {
		free(v->sb[i].id);
		free(v->sb[i].uid);
		free(v->sb[i].name);
		free(v->sb[i].ns);
		free(v->sb[i].ip);
		json_decref(v->sb[i].ips);
	}
	for (size_t i = 0; i < v->n_ctr; i++)
		ctr_free(&v->ctr[i]);
	free(v->sb);
	free(v->ctr);
	memset(v, 0, sizeof(*v));
}

static int list_sandboxes(const struct pods_env *env, const char *uid, struct pods_view *v,
			  char *err, size_t errlen)
{
	Runtime__V1__ListPodSandboxRequest req = RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__PodSandboxFilter filter = RUNTIME__V1__POD_SANDBOX_FILTER__INIT;
	Runtime__V1__PodSandboxFilter__LabelSelectorEntry sel =
		RUNTIME__V1__POD_SANDBOX_FILTER__LABEL_SELECTOR_ENTRY__INIT;
	Runtime__V1__PodSandboxFilter__LabelSelectorEntry *sels[1] = { &sel };
	Runtime__V1__ListPodSandboxResponse *resp = NULL;
	int rc;

	if (uid) {
		sel.key = (char *)PODS_LABEL_UID;
		sel.value = (char *)uid;
		filter.n_label_selector = 1;
		filter.label_selector = sels;
		req.filter = &filter;
	}
	rc = cri_call_env(env, "/runtime.v1.RuntimeService/ListPodSandbox", &req.base,
			  &runtime__v1__list_pod_sandbox_response__descriptor, &resp, err, errlen);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < resp->n_items; i++) {
		Runtime__V1__PodSandbox *it = resp->items[i];
		const char *u =
			pods_map_get((void *const *)it->labels, it->n_labels, PODS_LABEL_UID);
		struct pods_sandbox *sb;

		if (!u || !*u || (uid && strcmp(u, uid)))
			continue;
		v->sb = xrealloc(v->sb, (v->n_sb + 1) * sizeof(*v->sb));
		sb = &v->sb[v->n_sb++];
		memset(sb, 0, sizeof(*sb));
		sb->id = dup_or_empty(it->id);
		sb->uid = xstrdup(u);
		sb->name = dup_or_empty(
			pods_map_get((void *const *)it->labels, it->n_labels, PODS_LABEL_NAME));
		sb->ns = dup_or_empty(pods_map_get((void *const *)it->labels, it->n_labels,
						   PODS_LABEL_NAMESPACE));
		sb->attempt = it->metadata ? it->metadata->attempt : 0;
		sb->ready = it->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
		sb->created_ns = it->created_at;
		sb->ip = xstrdup("");
		sb->ips = json_array();
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return 0;
}

static int list_containers(const struct pods_env *env, const char *uid, struct pods_view *v,
			   char *err, size_t errlen)
{
	Runtime__V1__ListContainersRequest req = RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
	Runtime__V1__ContainerFilter filter = RUNTIME__V1__CONTAINER_FILTER__INIT;
	Runtime__V1__ContainerFilter__LabelSelectorEntry sel =
		RUNTIME__V1__CONTAINER_FILTER__LABEL_SELECTOR_ENTRY__INIT;
	Runtime__V1__ContainerFilter__LabelSelectorEntry *sels[1] = { &sel };
	Runtime__V1__ListContainersResponse *resp = NULL;
	int rc;

	if (uid) {
		sel.key = (char *)PODS_LABEL_UID;
		sel.value = (char *)uid;
		filter.n_label_selector = 1;
		filter.label_selector = sels;
		req.filter = &filter;
	}
	rc = cri_call_env(env, "/runtime.v1.RuntimeService/ListContainers", &req.base,
			  &runtime__v1__list_containers_response__descriptor, &resp, err, errlen);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < resp->n_containers; i++) {
		Runtime__V1__Container *it = resp->containers[i];
		const char *u =
			pods_map_get((void *const *)it->labels, it->n_labels, PODS_LABEL_UID);
		const char *name =
			pods_map_get((void *const *)it->labels, it->n_labels, PODS_LABEL_CONTAINER);
		struct pods_ctr *c;

		if (!u || !*u || (uid && strcmp(u, uid)))
			continue;
		if (!name && it->metadata)
			name = it->metadata->name;
		v->ctr = xrealloc(v->ctr, (v->n_ctr + 1) * sizeof(*v->ctr));
		c = &v->ctr[v->n_ctr++];
		memset(c, 0, sizeof(*c));
		c->id = dup_or_empty(it->id);
		c->sandbox_id = dup_or_empty(it->pod_sandbox_id);
		c->uid = xstrdup(u);
		c->name = dup_or_empty(name);
		c->attempt = it->metadata ? it->metadata->attempt : 0;
		c->state = (enum pods_ctr_state)it->state;
		c->created_ns = it->created_at;
		c->reason = xstrdup("");
		c->message = xstrdup("");
		c->image = dup_or_empty(it->image ? it->image->image : NULL);
		c->image_ref = dup_or_empty(it->image_ref);
		c->log_path = xstrdup("");
		c->hash = dup_or_empty(pods_map_get((void *const *)it->annotations,
						    it->n_annotations, PODS_ANN_HASH));
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return 0;
}

int pods_view_load(const struct pods_env *env, const char *uid, bool details, struct pods_view *out,
		   char *err, size_t errlen)
{
	struct pods_view v = { 0 };
	int rc;

	memset(out, 0, sizeof(*out));
	rc = list_sandboxes(env, uid, &v, err, errlen);
	if (!rc)
		rc = list_containers(env, uid, &v, err, errlen);
	if (rc) {
		pods_view_free(&v);
		return rc;
	}
	if (details) {
		for (size_t i = 0; i < v.n_sb; i++)
			if (v.sb[i].ready)
				load_sandbox_status(env, &v.sb[i]);
		for (size_t i = 0; i < v.n_ctr;) {
			if (load_container_status(env, &v.ctr[i]) == CRI_NOT_FOUND) {
				/* Removed between the list and the status call: drop it. */
				ctr_free(&v.ctr[i]);
				v.ctr[i] = v.ctr[--v.n_ctr];
				continue;
			}
			i++;
		}
	}
	*out = v;
	return 0;
}

const struct pods_sandbox *pods_view_current_sandbox(const struct pods_view *v)
{
	const struct pods_sandbox *best = NULL;

	for (size_t i = 0; i < v->n_sb; i++) {
		const struct pods_sandbox *sb = &v->sb[i];

		if (!sb->ready)
			continue;
		if (!best || sb->attempt > best->attempt ||
		    (sb->attempt == best->attempt && sb->created_ns > best->created_ns))
			best = sb;
	}
	return best;
}

/* Newer first: higher attempt, then later creation. */
static bool newer(const struct pods_ctr *a, const struct pods_ctr *b)
{
	if (a->attempt != b->attempt)
		return a->attempt > b->attempt;
	return a->created_ns > b->created_ns;
}

const struct pods_ctr *pods_view_instance(const struct pods_view *v, const char *name,
					  const char *sandbox_id, unsigned nth)
{
	const struct pods_ctr *prev = NULL, *best;

	/* Selection by rank: small lists, no allocation. */
	for (unsigned k = 0; k <= nth; k++) {
		best = NULL;
		for (size_t i = 0; i < v->n_ctr; i++) {
			const struct pods_ctr *c = &v->ctr[i];

			if (strcmp(c->name, name) ||
			    (sandbox_id && strcmp(c->sandbox_id, sandbox_id)))
				continue;
			if (prev && (c == prev || !newer(prev, c)))
				continue;
			if (!best || newer(c, best))
				best = c;
		}
		if (!best)
			return NULL;
		prev = best;
	}
	return prev;
}

const struct pods_ctr *pods_view_find(const struct pods_view *v, const char *id)
{
	for (size_t i = 0; i < v->n_ctr; i++)
		if (!strcmp(v->ctr[i].id, id))
			return &v->ctr[i];
	return NULL;
}

size_t pods_adopt_plan(const struct pods_view *all, bool (*known)(void *ctx, const char *uid),
		       void *ctx, const char ***sandboxes, const char ***containers)
{
	size_t ns = 0, nc = 0;

	*sandboxes = xcalloc(all->n_sb + 1, sizeof(**sandboxes));
	*containers = xcalloc(all->n_ctr + 1, sizeof(**containers));
	for (size_t i = 0; i < all->n_sb; i++)
		if (*all->sb[i].uid && !known(ctx, all->sb[i].uid))
			(*sandboxes)[ns++] = all->sb[i].id;
	for (size_t i = 0; i < all->n_ctr; i++)
		if (*all->ctr[i].uid && !known(ctx, all->ctr[i].uid))
			(*containers)[nc++] = all->ctr[i].id;
	return ns + nc;
}
