/* test_kubelet_pods_fake.c - see test_kubelet_pods_fake.h. */
#include "test_kubelet_pods_fake.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/kubelet/containers.h"
#include "control/apiserver/validate.h"
#include "jsonx.h"
#include "test.h"

/* ---------------------------------------------------------------- helpers */

static void logf_(struct kfake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct kfake *f, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_appendf(&f->log, "%s\n", line);
}

static struct kfake_sandbox *find_sb(struct kfake *f, const char *id)
{
	for (size_t i = 0; i < f->n_sb; i++)
		if (!f->sb[i].removed && !strcmp(f->sb[i].id, id))
			return &f->sb[i];
	return NULL;
}

static struct kfake_container *find_c(struct kfake *f, const char *id)
{
	for (size_t i = 0; i < f->n_c; i++)
		if (!f->c[i].removed && !strcmp(f->c[i].id, id))
			return &f->c[i];
	return NULL;
}

static int not_found(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: not found", what);
	return CRI_NOT_FOUND;
}

/* Label value of a sandbox / container for a selector key. */
static const char *sb_label(const struct kfake_sandbox *s, const char *key)
{
	if (!strcmp(key, PODS_LABEL_UID))
		return s->uid;
	if (!strcmp(key, PODS_LABEL_NAME))
		return s->name;
	if (!strcmp(key, PODS_LABEL_NAMESPACE))
		return s->ns;
	return NULL;
}

/* Every selector entry must match (the entries of both filters share a layout). */
static bool selected(Runtime__V1__ContainerFilter__LabelSelectorEntry *const *sel, size_t n,
		     const char *(*label)(const void *, const char *), const void *obj)
{
	for (size_t i = 0; i < n; i++) {
		const char *v = label(obj, sel[i]->key);

		if (!v || strcmp(v, sel[i]->value))
			return false;
	}
	return true;
}

static const char *sb_label_v(const void *o, const char *k)
{
	return sb_label(o, k);
}

static const char *c_label_v(const void *o, const char *k)
{
	const struct kfake_container *c = o;

	if (!strcmp(k, PODS_LABEL_UID))
		return c->uid;
	if (!strcmp(k, PODS_LABEL_CONTAINER))
		return c->name;
	return NULL;
}

/* ---------------------------------------------------------------- CRI */

static int run_sandbox(struct kfake *f, const Runtime__V1__RunPodSandboxRequest *r,
		       ProtobufCMessage **resp)
{
	Runtime__V1__RunPodSandboxResponse *out;
	struct kfake_sandbox *s = &f->sb[f->n_sb++];
	const Runtime__V1__PodSandboxConfig *c = r->config;

	ASSERT(f->n_sb < KFAKE_MAX);
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "sb%d", ++f->ids);
	snprintf(s->uid, sizeof(s->uid), "%s",
		 pods_map_get((void *const *)c->labels, c->n_labels, PODS_LABEL_UID));
	snprintf(s->name, sizeof(s->name), "%s", c->metadata->name);
	snprintf(s->ns, sizeof(s->ns), "%s", c->metadata->namespace_);
	snprintf(s->log_dir, sizeof(s->log_dir), "%s", c->log_directory);
	snprintf(s->cgroup_parent, sizeof(s->cgroup_parent), "%s", c->linux_->cgroup_parent);
	snprintf(s->hostname, sizeof(s->hostname), "%s", c->hostname);
	s->net_mode = c->linux_->security_context->namespace_options->network;
	s->attempt = c->metadata->attempt;
	s->ready = true;
	s->created = f->now;
	snprintf(s->ip, sizeof(s->ip), "10.244.0.%d", f->ids);
	logf_(f, "RunPodSandbox %s %u", s->name, s->attempt);
	out = pods_msg_new(&runtime__v1__run_pod_sandbox_response__descriptor);
	out->pod_sandbox_id = xstrdup(s->id);
	*resp = &out->base;
	return 0;
}

static void exit_container(struct kfake *f, struct kfake_container *c, int code)
{
	if (c->state != RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING)
		return;
	c->state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
	c->exit_code = code;
	c->finished = f->now;
	snprintf(c->reason, sizeof(c->reason), "%s", code ? "Error" : "Completed");
}

static int stop_sandbox(struct kfake *f, const char *id, char *err, size_t errlen)
{
	struct kfake_sandbox *s = find_sb(f, id);

	if (!s)
		return not_found(err, errlen, id);
	logf_(f, "StopPodSandbox %s %u", s->name, s->attempt);
	s->ready = false;
	for (size_t i = 0; i < f->n_c; i++)
		if (!f->c[i].removed && !strcmp(f->c[i].sb, id))
			exit_container(f, &f->c[i], 137);
	return 0;
}

static int remove_sandbox(struct kfake *f, const char *id, char *err, size_t errlen)
{
	struct kfake_sandbox *s = find_sb(f, id);

	if (!s)
		return not_found(err, errlen, id);
	logf_(f, "RemovePodSandbox %s %u", s->name, s->attempt);
	s->removed = true;
	for (size_t i = 0; i < f->n_c; i++)
		if (!strcmp(f->c[i].sb, id))
			f->c[i].removed = true;
	return 0;
}

static Runtime__V1__PodSandboxMetadata *sb_meta(const struct kfake_sandbox *s)
{
	Runtime__V1__PodSandboxMetadata *m =
		pods_msg_new(&runtime__v1__pod_sandbox_metadata__descriptor);

	m->name = xstrdup(s->name);
	m->uid = xstrdup(s->uid);
	m->namespace_ = xstrdup(s->ns);
	m->attempt = s->attempt;
	return m;
}

static void list_sandboxes(struct kfake *f, const Runtime__V1__ListPodSandboxRequest *r,
			   ProtobufCMessage **resp)
{
	Runtime__V1__ListPodSandboxResponse *out =
		pods_msg_new(&runtime__v1__list_pod_sandbox_response__descriptor);

	for (size_t i = 0; i < f->n_sb; i++) {
		const struct kfake_sandbox *s = &f->sb[i];
		Runtime__V1__PodSandbox *it;
		void **labels = NULL;
		size_t nl = 0;

		if (s->removed ||
		    (r->filter && !selected((void *)r->filter->label_selector,
					    r->filter->n_label_selector, sb_label_v, s)))
			continue;
		it = pods_msg_new(&runtime__v1__pod_sandbox__descriptor);
		it->id = xstrdup(s->id);
		it->metadata = sb_meta(s);
		it->state = s->ready ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY
				     : RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
		it->created_at = s->created;
		if (s->uid[0]) {
			PODS_PUSH(
				nl, labels,
				pods_map_entry(&runtime__v1__pod_sandbox__labels_entry__descriptor,
					       PODS_LABEL_UID, s->uid));
			PODS_PUSH(
				nl, labels,
				pods_map_entry(&runtime__v1__pod_sandbox__labels_entry__descriptor,
					       PODS_LABEL_NAME, s->name));
			PODS_PUSH(
				nl, labels,
				pods_map_entry(&runtime__v1__pod_sandbox__labels_entry__descriptor,
					       PODS_LABEL_NAMESPACE, s->ns));
		}
		it->labels = (Runtime__V1__PodSandbox__LabelsEntry **)labels;
		it->n_labels = nl;
		PODS_PUSH(out->n_items, out->items, it);
	}
	*resp = &out->base;
}

static int sandbox_status(struct kfake *f, const Runtime__V1__PodSandboxStatusRequest *r,
			  ProtobufCMessage **resp, char *err, size_t errlen)
{
	struct kfake_sandbox *s = find_sb(f, r->pod_sandbox_id);
	Runtime__V1__PodSandboxStatusResponse *out;

	if (!s)
		return not_found(err, errlen, r->pod_sandbox_id);
	out = pods_msg_new(&runtime__v1__pod_sandbox_status_response__descriptor);
	out->status = pods_msg_new(&runtime__v1__pod_sandbox_status__descriptor);
	out->status->id = xstrdup(s->id);
	out->status->metadata = sb_meta(s);
	out->status->state = s->ready ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY
				      : RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
	out->status->network = pods_msg_new(&runtime__v1__pod_sandbox_network_status__descriptor);
	/* Host-network sandboxes have no address of their own. */
	out->status->network->ip =
		xstrdup(s->ready && s->net_mode != RUNTIME__V1__NAMESPACE_MODE__NODE ? s->ip : "");
	*resp = &out->base;
	return 0;
}

static ProtobufCMessage *clone_msg(const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = xmalloc(n + 1);
	ProtobufCMessage *c;

	protobuf_c_message_pack(m, buf);
	c = protobuf_c_message_unpack(m->descriptor, NULL, n, buf);
	free(buf);
	return c;
}

static int create_container(struct kfake *f, const Runtime__V1__CreateContainerRequest *r,
			    ProtobufCMessage **resp, char *err, size_t errlen)
{
	struct kfake_sandbox *s = find_sb(f, r->pod_sandbox_id);
	const Runtime__V1__ContainerConfig *cfg = r->config;
	Runtime__V1__CreateContainerResponse *out;
	struct kfake_container *c;
	const char *hash;

	if (!s)
		return not_found(err, errlen, r->pod_sandbox_id);
	ASSERT(f->n_c < KFAKE_MAX);
	ASSERT(r->sandbox_config != NULL);
	c = &f->c[f->n_c++];
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "c%d", ++f->ids);
	snprintf(c->sb, sizeof(c->sb), "%s", s->id);
	snprintf(c->name, sizeof(c->name), "%s",
		 pods_map_get((void *const *)cfg->labels, cfg->n_labels, PODS_LABEL_CONTAINER));
	snprintf(c->uid, sizeof(c->uid), "%s",
		 pods_map_get((void *const *)cfg->labels, cfg->n_labels, PODS_LABEL_UID));
	snprintf(c->image, sizeof(c->image), "%s", cfg->image->image);
	hash = pods_map_get((void *const *)cfg->annotations, cfg->n_annotations, PODS_ANN_HASH);
	snprintf(c->hash, sizeof(c->hash), "%s", hash ? hash : "");
	snprintf(c->log_path, sizeof(c->log_path), "%s/%s", s->log_dir, cfg->log_path);
	c->attempt = cfg->metadata->attempt;
	c->state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED;
	c->created = f->now;
	c->cfg = (Runtime__V1__ContainerConfig *)clone_msg(&cfg->base);
	logf_(f, "CreateContainer %s %u", c->name, c->attempt);
	out = pods_msg_new(&runtime__v1__create_container_response__descriptor);
	out->container_id = xstrdup(c->id);
	*resp = &out->base;
	return 0;
}

static int start_container(struct kfake *f, const char *id, char *err, size_t errlen)
{
	struct kfake_container *c = find_c(f, id);

	if (!c)
		return not_found(err, errlen, id);
	logf_(f, "StartContainer %s %u", c->name, c->attempt);
	if (c->cfg->n_command && !strcmp(c->cfg->command[0], "fail-start")) {
		c->state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
		c->exit_code = 128;
		c->finished = f->now;
		snprintf(c->reason, sizeof(c->reason), "StartError");
		snprintf(err, errlen, "failed to start: exec: \"fail-start\" not found");
		return 2;
	}
	c->state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
	c->started = f->now;
	return 0;
}

static Runtime__V1__ContainerMetadata *c_meta(const struct kfake_container *c)
{
	Runtime__V1__ContainerMetadata *m =
		pods_msg_new(&runtime__v1__container_metadata__descriptor);

	m->name = xstrdup(c->name);
	m->attempt = c->attempt;
	return m;
}

static void list_containers(struct kfake *f, const Runtime__V1__ListContainersRequest *r,
			    ProtobufCMessage **resp)
{
	Runtime__V1__ListContainersResponse *out =
		pods_msg_new(&runtime__v1__list_containers_response__descriptor);

	for (size_t i = 0; i < f->n_c; i++) {
		const struct kfake_container *c = &f->c[i];
		Runtime__V1__Container *it;
		void **labels = NULL, **ann = NULL;
		size_t nl = 0, na = 0;

		if (c->removed ||
		    (r->filter && !selected(r->filter->label_selector, r->filter->n_label_selector,
					    c_label_v, c)))
			continue;
		it = pods_msg_new(&runtime__v1__container__descriptor);
		it->id = xstrdup(c->id);
		it->pod_sandbox_id = xstrdup(c->sb);
		it->metadata = c_meta(c);
		it->image = pods_msg_new(&runtime__v1__image_spec__descriptor);
		it->image->image = xstrdup(c->image);
		it->image_ref = xstrdup(c->image);
		it->state = c->state;
		it->created_at = c->created;
		if (c->uid[0])
			PODS_PUSH(nl, labels,
				  pods_map_entry(&runtime__v1__container__labels_entry__descriptor,
						 PODS_LABEL_UID, c->uid));
		PODS_PUSH(nl, labels,
			  pods_map_entry(&runtime__v1__container__labels_entry__descriptor,
					 PODS_LABEL_CONTAINER, c->name));
		PODS_PUSH(na, ann,
			  pods_map_entry(&runtime__v1__container__annotations_entry__descriptor,
					 PODS_ANN_HASH, c->hash));
		it->labels = (Runtime__V1__Container__LabelsEntry **)labels;
		it->n_labels = nl;
		it->annotations = (Runtime__V1__Container__AnnotationsEntry **)ann;
		it->n_annotations = na;
		PODS_PUSH(out->n_containers, out->containers, it);
	}
	*resp = &out->base;
}

static int container_status(struct kfake *f, const char *id, ProtobufCMessage **resp, char *err,
			    size_t errlen)
{
	struct kfake_container *c = find_c(f, id);
	Runtime__V1__ContainerStatusResponse *out;
	Runtime__V1__ContainerStatus *s;

	if (!c)
		return not_found(err, errlen, id);
	out = pods_msg_new(&runtime__v1__container_status_response__descriptor);
	s = out->status = pods_msg_new(&runtime__v1__container_status__descriptor);
	s->id = xstrdup(c->id);
	s->metadata = c_meta(c);
	s->state = c->state;
	s->created_at = c->created;
	s->started_at = c->started;
	s->finished_at = c->finished;
	s->exit_code = c->exit_code;
	s->image = pods_msg_new(&runtime__v1__image_spec__descriptor);
	s->image->image = xstrdup("docker.io/library/busybox:1");
	s->image_ref = xstrdup("docker.io/library/busybox@sha256:feed");
	s->reason = xstrdup(c->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED ? c->reason
										       : "");
	s->log_path = xstrdup(c->log_path);
	*resp = &out->base;
	return 0;
}

static void image_status(struct kfake *f, const Runtime__V1__ImageStatusRequest *r,
			 ProtobufCMessage **resp)
{
	Runtime__V1__ImageStatusResponse *out =
		pods_msg_new(&runtime__v1__image_status_response__descriptor);
	const char *id = jsonx_str(f->images, r->image->image, NULL);

	logf_(f, "ImageStatus %s", r->image->image);
	if (id) {
		out->image = pods_msg_new(&runtime__v1__image__descriptor);
		out->image->id = xstrdup(id);
		out->image->size = 4096;
	}
	*resp = &out->base;
}

static int pull_image(struct kfake *f, const Runtime__V1__PullImageRequest *r,
		      ProtobufCMessage **resp, char *err, size_t errlen)
{
	Runtime__V1__PullImageResponse *out;
	char id[160];

	logf_(f, "PullImage %s", r->image->image);
	if (f->pull_error[0]) {
		snprintf(err, errlen, "%s", f->pull_error);
		return 2;
	}
	snprintf(id, sizeof(id), "sha256:%s", r->image->image);
	json_object_set_new(f->images, r->image->image, json_string(id));
	out = pods_msg_new(&runtime__v1__pull_image_response__descriptor);
	out->image_ref = xstrdup(id);
	*resp = &out->base;
	return 0;
}

static int kfake_cri(void *ctx, const char *method, const ProtobufCMessage *req,
		     const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp,
		     int timeout_ms, char *err, size_t errlen)
{
	struct kfake *f = ctx;
	const char *m = strrchr(method, '/') + 1;
	int rc = 0;

	pthread_mutex_lock(&f->mu);
	if (!strcmp(m, "RunPodSandbox")) {
		rc = run_sandbox(f, (const void *)req, resp);
	} else if (!strcmp(m, "StopPodSandbox")) {
		rc = stop_sandbox(f,
				  ((const Runtime__V1__StopPodSandboxRequest *)req)->pod_sandbox_id,
				  err, errlen);
	} else if (!strcmp(m, "RemovePodSandbox")) {
		rc = remove_sandbox(
			f, ((const Runtime__V1__RemovePodSandboxRequest *)req)->pod_sandbox_id, err,
			errlen);
	} else if (!strcmp(m, "ListPodSandbox")) {
		list_sandboxes(f, (const void *)req, resp);
	} else if (!strcmp(m, "PodSandboxStatus")) {
		rc = sandbox_status(f, (const void *)req, resp, err, errlen);
	} else if (!strcmp(m, "CreateContainer")) {
		rc = create_container(f, (const void *)req, resp, err, errlen);
	} else if (!strcmp(m, "StartContainer")) {
		rc = start_container(
			f, ((const Runtime__V1__StartContainerRequest *)req)->container_id, err,
			errlen);
	} else if (!strcmp(m, "StopContainer")) {
		const Runtime__V1__StopContainerRequest *r = (const void *)req;
		struct kfake_container *c = find_c(f, r->container_id);

		if (!c) {
			rc = not_found(err, errlen, r->container_id);
		} else {
			logf_(f, "StopContainer %s %u t=%lld", c->name, c->attempt,
			      (long long)r->timeout);
			exit_container(f, c, 137);
		}
	} else if (!strcmp(m, "RemoveContainer")) {
		const Runtime__V1__RemoveContainerRequest *r = (const void *)req;
		struct kfake_container *c = find_c(f, r->container_id);

		if (!c) {
			rc = not_found(err, errlen, r->container_id);
		} else {
			logf_(f, "RemoveContainer %s %u", c->name, c->attempt);
			c->removed = true;
		}
	} else if (!strcmp(m, "ListContainers")) {
		list_containers(f, (const void *)req, resp);
	} else if (!strcmp(m, "ContainerStatus")) {
		rc = container_status(
			f, ((const Runtime__V1__ContainerStatusRequest *)req)->container_id, resp,
			err, errlen);
	} else if (!strcmp(m, "ExecSync")) {
		const Runtime__V1__ExecSyncRequest *r = (const void *)req;
		struct kfake_container *c = find_c(f, r->container_id);
		Runtime__V1__ExecSyncResponse *out;

		if (!c) {
			rc = not_found(err, errlen, r->container_id);
		} else {
			logf_(f, "ExecSync %s %u", c->name, c->attempt);
			out = pods_msg_new(&runtime__v1__exec_sync_response__descriptor);
			out->exit_code = f->exec_exit;
			out->stdout.len = strlen(f->exec_out);
			out->stdout.data = (uint8_t *)xstrdup(f->exec_out);
			*resp = &out->base;
		}
	} else if (!strcmp(m, "ImageStatus")) {
		image_status(f, (const void *)req, resp);
	} else if (!strcmp(m, "PullImage")) {
		rc = pull_image(f, (const void *)req, resp, err, errlen);
	} else {
		snprintf(err, errlen, "unimplemented %s", m);
		rc = 12;
	}
	/* Like a real runtime, every success carries a response. */
	if (!rc && !*resp)
		*resp = pods_msg_new(desc);
	ASSERT(rc || (*resp)->descriptor == desc);
	pthread_mutex_unlock(&f->mu);
	return rc;
}

/* ---------------------------------------------------------------- API, events, clock */

static int kfake_api(void *ctx, const char *method, const char *path, const char *ct,
		     const json_t *body, json_t **out)
{
	struct kfake *f = ctx;
	int rc = 200;

	pthread_mutex_lock(&f->mu);
	if (out)
		*out = NULL;
	if (!strcmp(method, "GET")) {
		json_t *o = json_object_get(f->objects, path);

		if (o && out)
			*out = json_deep_copy(o);
		rc = o ? 200 : 404;
	} else if (!strcmp(method, "PATCH")) {
		ASSERT_STREQ(ct, "application/merge-patch+json");
		ASSERT(strstr(path, "/status") != NULL);
		json_decref(f->status);
		f->status = json_deep_copy(json_object_get(body, "status"));
		ASSERT(jsonx_path_str(body, "metadata.uid", NULL) != NULL);
		logf_(f, "PATCH status");
		rc = f->patch_status;
	} else if (!strcmp(method, "DELETE")) {
		json_decref(f->deleted);
		f->deleted = json_deep_copy(body);
		logf_(f, "DELETE %s", strstr(path, "pods/") ? strstr(path, "pods/") : path);
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static void kfake_event(void *ctx, const json_t *pod, const char *field_path, const char *type,
			const char *reason, const char *msg)
{
	struct kfake *f = ctx;

	ASSERT(pod != NULL);
	pthread_mutex_lock(&f->mu);
	buf_appendf(&f->events, "%s %s: %s\n", type, reason, msg);
	if (field_path)
		buf_appendf(&f->event_paths, "%s %s\n", reason, field_path);
	pthread_mutex_unlock(&f->mu);
}

static bool kfake_network(void *ctx, int timeout_ms)
{
	return ((struct kfake *)ctx)->network_ready;
}

static int64_t kfake_now(void *ctx)
{
	return ((struct kfake *)ctx)->now;
}

static void kfake_log_dir(void *ctx, const char *ns, const char *name, const char *uid, char *buf,
			  size_t len)
{
	snprintf(buf, len, "%s/pod-logs/%s_%s_%s", test_tmpdir(), ns, name, uid);
}

/* ---------------------------------------------------------------- public */

void kfake_init(struct kfake *f)
{
	char dir[512];

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	f->images = json_pack("{s:s}", "busybox:1", "sha256:busybox1");
	f->objects = json_object();
	f->now = 1000000000000000000LL;
	f->network_ready = true;
	f->patch_status = 200;
	snprintf(dir, sizeof(dir), "%s/pod-logs", test_tmpdir());
	mkdir(dir, 0755);
	f->env = (struct pods_env){
		.ctx = f,
		.cri = kfake_cri,
		.api = kfake_api,
		.event = kfake_event,
		.network_ready = kfake_network,
		.now = kfake_now,
		.pod_log_dir = kfake_log_dir,
		.node_name = "node1",
		.node_ip = "192.168.56.10",
		.root_dir = test_tmpdir(),
		.cgroup_root = "/kubepods",
		.cg = NULL,
		.mem_capacity = 8LL << 30,
		.cpu_capacity = 4,
	};
}

void kfake_free(struct kfake *f)
{
	for (size_t i = 0; i < f->n_c; i++)
		if (f->c[i].cfg)
			protobuf_c_message_free_unpacked(&f->c[i].cfg->base, NULL);
	json_decref(f->images);
	json_decref(f->objects);
	json_decref(f->status);
	json_decref(f->deleted);
	buf_free(&f->log);
	buf_free(&f->events);
	buf_free(&f->event_paths);
	pthread_mutex_destroy(&f->mu);
}

const char *kfake_log(struct kfake *f)
{
	return f->log.data ? f->log.data : "";
}

const char *kfake_events(struct kfake *f)
{
	return f->events.data ? f->events.data : "";
}

void kfake_reset(struct kfake *f)
{
	buf_reset(&f->log);
	buf_reset(&f->events);
	buf_reset(&f->event_paths);
}

struct kfake_container *kfake_ctr(struct kfake *f, const char *name)
{
	struct kfake_container *best = NULL;

	for (size_t i = 0; i < f->n_c; i++)
		if (!f->c[i].removed && !strcmp(f->c[i].name, name))
			best = &f->c[i];
	return best;
}

int kfake_count(struct kfake *f, const char *name)
{
	int n = 0;

	for (size_t i = 0; i < f->n_c; i++)
		n += !f->c[i].removed && !strcmp(f->c[i].name, name);
	return n;
}

int kfake_sandboxes(struct kfake *f, bool ready_only)
{
	int n = 0;

	for (size_t i = 0; i < f->n_sb; i++)
		n += !f->sb[i].removed && (!ready_only || f->sb[i].ready);
	return n;
}

void kfake_exit(struct kfake *f, const char *name, int code)
{
	struct kfake_container *c = kfake_ctr(f, name);

	ASSERT_MSG(c && c->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING,
		   "container %s is not running", name);
	exit_container(f, c, code);
}

json_t *kfake_pod(const char *text)
{
	json_error_t e;
	json_t *pod = json_loads(text, 0, &e);

	ASSERT_MSG(pod != NULL, "bad test JSON: %s: %s", e.text, text);
	defaults_apply("Pod", pod);
	if (!jsonx_path_str(pod, "metadata.namespace", NULL))
		jsonx_set_path(pod, "metadata.namespace", json_string("default"));
	if (!jsonx_path_str(pod, "metadata.uid", NULL)) {
		char *uid = xasprintf("uid-%s", jsonx_path_str(pod, "metadata.name", "x"));

		jsonx_set_path(pod, "metadata.uid", json_string(uid));
		free(uid);
	}
	if (!jsonx_path_str(pod, "spec.nodeName", NULL))
		jsonx_set_path(pod, "spec.nodeName", json_string("node1"));
	return pod;
}
