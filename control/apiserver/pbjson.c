/*
 * pbjson.c - kubectl's protobuf bodies turned into the JSON the server speaks.
 *
 * protobuf-c unpacks the body against the project's own .proto subset
 * (control/apiserver/proto/), and one generic walk turns any message into
 * JSON by its ProtobufCMessageDescriptor: there is no per-kind code. What a
 * descriptor cannot say lives in four small tables below:
 *
 *   pb_kinds     (apiVersion, kind) -> the message the Unknown's raw bytes hold;
 *   pb_special   types with their own JSON form: Time, MicroTime, Duration,
 *                Quantity, IntOrString, FieldsV1, RawExtension;
 *   pb_inline    fields Go embeds with `json:",inline"` (a Volume's
 *                volumeSource, a Probe's handler, ...): their fields merge
 *                into the parent object. They are the only fields whose
 *                protobuf name is not their JSON name (checked against the
 *                struct tags compiled into kubectl 1.32);
 *   pb_pointers  scalar fields that are pointers in Go.
 *
 * Why pointers matter: Go's protobuf encoder writes every non-pointer field,
 * zero or not ("namespace": "", "generation": 0 are on the wire of every
 * kubectl body), and a pointer field only when it is set; the wire does not
 * say which field is which. A zero in a non-pointer field means exactly what
 * an absent field means to Go's JSON decoder, so it is left out, as kubectl's
 * own JSON leaves it out; a zero in a pointer field ("replicas: 0",
 * "gracePeriodSeconds: 0") is a value and is kept. Messages are kept whenever
 * present: Go writes a pointer message only when it is set (`emptyDir: {}`
 * selects the volume type) and a value message always, which Go's JSON
 * prints as {} too. An empty Time is Go's zero time, JSON null.
 *
 * Strictness: a field number the subset does not know fails the decode
 * (-EINVAL naming the number, the message and the path) instead of storing
 * an object other than the one the client sent; so do strings that are not
 * UTF-8, invalid quantities and times ktime cannot print (before 1677 or
 * after 2262). Depth is bounded by PBJSON_MAX_DEPTH because a RawExtension
 * may hold another protobuf object, which may hold another.
 *
 * Rejected: per-kind C converters (hand-written or from a protoc plugin):
 * thousands of lines for ~160 messages, each one a chance to forget a field.
 * Known limit: protobuf-c hands strings over as C strings, so a string with
 * an embedded NUL is cut there (no Kubernetes name, label or key may hold
 * one).
 */
#include "control/apiserver/pbjson.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "control/apiserver/proto/apps.pb-c.h"
#include "control/apiserver/proto/coordination.pb-c.h"
#include "control/apiserver/proto/core.pb-c.h"
#include "control/apiserver/proto/intstr.pb-c.h"
#include "control/apiserver/proto/meta.pb-c.h"
#include "control/apiserver/proto/policy.pb-c.h"
#include "control/apiserver/proto/resource.pb-c.h"
#include "control/apiserver/proto/runtime.pb-c.h"
#include "ktime.h"
#include "quantity.h"
#include "util.h"

/*
 * Message levels, nested Unknowns included. The deepest path the schema
 * allows is about 12 (Deployment ... volumeClaimTemplate.metadata.
 * managedFields.fieldsV1), so this only ever stops RawExtension chains.
 */
#define PBJSON_MAX_DEPTH 48

#define PB_PROTOBUF_TYPE "application/vnd.kubernetes.protobuf"

static const uint8_t pb_magic[4] = { 'k', '8', 's', 0 };

struct pb_ctx {
	char *err;
	size_t errlen;
	int depth;
	size_t plen;	/* strlen(path) */
	char path[256]; /* where the walk is, for messages: spec.ports[0] */
};

typedef int (*pb_special_fn)(struct pb_ctx *c, const ProtobufCMessage *m, json_t **out);

static int decode_body(struct pb_ctx *c, const uint8_t *body, size_t len, json_t **out);
static int message_json(struct pb_ctx *c, const ProtobufCMessage *m, json_t **out);

/* ------------------------------------------------------------ tables */

static const struct pb_kind {
	const char *api_version; /* NULL: any group version */
	const char *kind;
	const ProtobufCMessageDescriptor *desc;
} pb_kinds[] = {
	{ "apps/v1", "Deployment", &kube__apps__v1__deployment__descriptor },
	{ "apps/v1", "ControllerRevision", &kube__apps__v1__controller_revision__descriptor },
	{ "v1", "Namespace", &kube__core__v1__namespace__descriptor },
	{ "v1", "Service", &kube__core__v1__service__descriptor },
	{ "v1", "ConfigMap", &kube__core__v1__config_map__descriptor },
	{ "v1", "Secret", &kube__core__v1__secret__descriptor },
	{ "v1", "ServiceAccount", &kube__core__v1__service_account__descriptor },
	{ "policy/v1", "Eviction", &kube__policy__v1__eviction__descriptor },
	{ "coordination.k8s.io/v1", "Lease", &kube__coordination__v1__lease__descriptor },
	/*
	 * Kubernetes registers DeleteOptions in every group version and a
	 * typed client stamps its own ("v1" for pods, "apps/v1" for
	 * deployments); the handler knows which one the URL serves.
	 */
	{ NULL, "DeleteOptions", &kube__meta__v1__delete_options__descriptor },
};

struct pb_field_ref {
	const ProtobufCMessageDescriptor *msg;
	const char *field;
};

static const struct pb_field_ref pb_inline[] = {
	{ &kube__core__v1__volume__descriptor, "volumeSource" },
	{ &kube__core__v1__probe__descriptor, "handler" },
	{ &kube__core__v1__ephemeral_container__descriptor, "ephemeralContainerCommon" },
	{ &kube__core__v1__config_map_key_selector__descriptor, "localObjectReference" },
	{ &kube__core__v1__secret_key_selector__descriptor, "localObjectReference" },
	{ &kube__core__v1__config_map_env_source__descriptor, "localObjectReference" },
	{ &kube__core__v1__secret_env_source__descriptor, "localObjectReference" },
	{ &kube__core__v1__config_map_volume_source__descriptor, "localObjectReference" },
	{ &kube__core__v1__config_map_projection__descriptor, "localObjectReference" },
	{ &kube__core__v1__secret_projection__descriptor, "localObjectReference" },
};

/* Scalars declared *T in k8s.io/api and apimachinery v1.32. */
static const struct pb_field_ref pb_pointers[] = {
	/* meta/v1 */
	{ &kube__meta__v1__object_meta__descriptor, "deletionGracePeriodSeconds" },
	{ &kube__meta__v1__owner_reference__descriptor, "controller" },
	{ &kube__meta__v1__owner_reference__descriptor, "blockOwnerDeletion" },
	{ &kube__meta__v1__delete_options__descriptor, "gracePeriodSeconds" },
	{ &kube__meta__v1__delete_options__descriptor, "orphanDependents" },
	{ &kube__meta__v1__delete_options__descriptor, "propagationPolicy" },
	{ &kube__meta__v1__delete_options__descriptor,
	  "ignoreStoreReadErrorWithClusterBreakingPotential" },
	{ &kube__meta__v1__preconditions__descriptor, "uid" },
	{ &kube__meta__v1__preconditions__descriptor, "resourceVersion" },
	/* apps/v1, coordination/v1 */
	{ &kube__apps__v1__deployment_spec__descriptor, "replicas" },
	{ &kube__apps__v1__deployment_spec__descriptor, "revisionHistoryLimit" },
	{ &kube__apps__v1__deployment_spec__descriptor, "progressDeadlineSeconds" },
	{ &kube__apps__v1__deployment_status__descriptor, "collisionCount" },
	{ &kube__coordination__v1__lease_spec__descriptor, "holderIdentity" },
	{ &kube__coordination__v1__lease_spec__descriptor, "leaseDurationSeconds" },
	{ &kube__coordination__v1__lease_spec__descriptor, "leaseTransitions" },
	{ &kube__coordination__v1__lease_spec__descriptor, "strategy" },
	{ &kube__coordination__v1__lease_spec__descriptor, "preferredHolder" },
	/* core/v1 objects */
	{ &kube__core__v1__config_map__descriptor, "immutable" },
	{ &kube__core__v1__secret__descriptor, "immutable" },
	{ &kube__core__v1__service_account__descriptor, "automountServiceAccountToken" },
	{ &kube__core__v1__service_spec__descriptor, "ipFamilyPolicy" },
	{ &kube__core__v1__service_spec__descriptor, "allocateLoadBalancerNodePorts" },
	{ &kube__core__v1__service_spec__descriptor, "loadBalancerClass" },
	{ &kube__core__v1__service_spec__descriptor, "internalTrafficPolicy" },
	{ &kube__core__v1__service_spec__descriptor, "trafficDistribution" },
	{ &kube__core__v1__service_port__descriptor, "appProtocol" },
	{ &kube__core__v1__client_ipconfig__descriptor, "timeoutSeconds" },
	{ &kube__core__v1__load_balancer_ingress__descriptor, "ipMode" },
	{ &kube__core__v1__port_status__descriptor, "error" },
	/* pod spec */
	{ &kube__core__v1__pod_spec__descriptor, "terminationGracePeriodSeconds" },
	{ &kube__core__v1__pod_spec__descriptor, "activeDeadlineSeconds" },
	{ &kube__core__v1__pod_spec__descriptor, "automountServiceAccountToken" },
	{ &kube__core__v1__pod_spec__descriptor, "shareProcessNamespace" },
	{ &kube__core__v1__pod_spec__descriptor, "priority" },
	{ &kube__core__v1__pod_spec__descriptor, "runtimeClassName" },
	{ &kube__core__v1__pod_spec__descriptor, "enableServiceLinks" },
	{ &kube__core__v1__pod_spec__descriptor, "preemptionPolicy" },
	{ &kube__core__v1__pod_spec__descriptor, "setHostnameAsFQDN" },
	{ &kube__core__v1__pod_spec__descriptor, "hostUsers" },
	{ &kube__core__v1__pod_resource_claim__descriptor, "resourceClaimName" },
	{ &kube__core__v1__pod_resource_claim__descriptor, "resourceClaimTemplateName" },
	{ &kube__core__v1__pod_dnsconfig_option__descriptor, "value" },
	{ &kube__core__v1__toleration__descriptor, "tolerationSeconds" },
	{ &kube__core__v1__topology_spread_constraint__descriptor, "minDomains" },
	{ &kube__core__v1__topology_spread_constraint__descriptor, "nodeAffinityPolicy" },
	{ &kube__core__v1__topology_spread_constraint__descriptor, "nodeTaintsPolicy" },
	/* containers */
	{ &kube__core__v1__container__descriptor, "restartPolicy" },
	{ &kube__core__v1__ephemeral_container_common__descriptor, "restartPolicy" },
	{ &kube__core__v1__volume_mount__descriptor, "recursiveReadOnly" },
	{ &kube__core__v1__volume_mount__descriptor, "mountPropagation" },
	{ &kube__core__v1__probe__descriptor, "terminationGracePeriodSeconds" },
	{ &kube__core__v1__grpcaction__descriptor, "service" },
	{ &kube__core__v1__config_map_key_selector__descriptor, "optional" },
	{ &kube__core__v1__secret_key_selector__descriptor, "optional" },
	{ &kube__core__v1__config_map_env_source__descriptor, "optional" },
	{ &kube__core__v1__secret_env_source__descriptor, "optional" },
	/* security */
	{ &kube__core__v1__security_context__descriptor, "privileged" },
	{ &kube__core__v1__security_context__descriptor, "runAsUser" },
	{ &kube__core__v1__security_context__descriptor, "runAsGroup" },
	{ &kube__core__v1__security_context__descriptor, "runAsNonRoot" },
	{ &kube__core__v1__security_context__descriptor, "readOnlyRootFilesystem" },
	{ &kube__core__v1__security_context__descriptor, "allowPrivilegeEscalation" },
	{ &kube__core__v1__security_context__descriptor, "procMount" },
	{ &kube__core__v1__pod_security_context__descriptor, "runAsUser" },
	{ &kube__core__v1__pod_security_context__descriptor, "runAsGroup" },
	{ &kube__core__v1__pod_security_context__descriptor, "runAsNonRoot" },
	{ &kube__core__v1__pod_security_context__descriptor, "supplementalGroupsPolicy" },
	{ &kube__core__v1__pod_security_context__descriptor, "fsGroup" },
	{ &kube__core__v1__pod_security_context__descriptor, "fsGroupChangePolicy" },
	{ &kube__core__v1__pod_security_context__descriptor, "seLinuxChangePolicy" },
	{ &kube__core__v1__windows_security_context_options__descriptor, "gmsaCredentialSpecName" },
	{ &kube__core__v1__windows_security_context_options__descriptor, "gmsaCredentialSpec" },
	{ &kube__core__v1__windows_security_context_options__descriptor, "runAsUserName" },
	{ &kube__core__v1__windows_security_context_options__descriptor, "hostProcess" },
	{ &kube__core__v1__seccomp_profile__descriptor, "localhostProfile" },
	{ &kube__core__v1__app_armor_profile__descriptor, "localhostProfile" },
	/* volumes */
	{ &kube__core__v1__host_path_volume_source__descriptor, "type" },
	{ &kube__core__v1__secret_volume_source__descriptor, "defaultMode" },
	{ &kube__core__v1__secret_volume_source__descriptor, "optional" },
	{ &kube__core__v1__config_map_volume_source__descriptor, "defaultMode" },
	{ &kube__core__v1__config_map_volume_source__descriptor, "optional" },
	{ &kube__core__v1__downward_apivolume_source__descriptor, "defaultMode" },
	{ &kube__core__v1__projected_volume_source__descriptor, "defaultMode" },
	{ &kube__core__v1__key_to_path__descriptor, "mode" },
	{ &kube__core__v1__downward_apivolume_file__descriptor, "mode" },
	{ &kube__core__v1__secret_projection__descriptor, "optional" },
	{ &kube__core__v1__config_map_projection__descriptor, "optional" },
	{ &kube__core__v1__service_account_token_projection__descriptor, "expirationSeconds" },
	{ &kube__core__v1__cluster_trust_bundle_projection__descriptor, "name" },
	{ &kube__core__v1__cluster_trust_bundle_projection__descriptor, "signerName" },
	{ &kube__core__v1__cluster_trust_bundle_projection__descriptor, "optional" },
	{ &kube__core__v1__persistent_volume_claim_spec__descriptor, "storageClassName" },
	{ &kube__core__v1__persistent_volume_claim_spec__descriptor, "volumeMode" },
	{ &kube__core__v1__persistent_volume_claim_spec__descriptor, "volumeAttributesClassName" },
	{ &kube__core__v1__typed_local_object_reference__descriptor, "apiGroup" },
	{ &kube__core__v1__typed_object_reference__descriptor, "apiGroup" },
	{ &kube__core__v1__typed_object_reference__descriptor, "namespace" },
	{ &kube__core__v1__csivolume_source__descriptor, "readOnly" },
	{ &kube__core__v1__csivolume_source__descriptor, "fsType" },
	{ &kube__core__v1__iscsivolume_source__descriptor, "initiatorName" },
	{ &kube__core__v1__azure_disk_volume_source__descriptor, "cachingMode" },
	{ &kube__core__v1__azure_disk_volume_source__descriptor, "fsType" },
	{ &kube__core__v1__azure_disk_volume_source__descriptor, "readOnly" },
	{ &kube__core__v1__azure_disk_volume_source__descriptor, "kind" },
};

static bool field_in(const struct pb_field_ref *refs, size_t n,
		     const ProtobufCMessageDescriptor *msg, const ProtobufCFieldDescriptor *f)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (refs[i].msg == msg && strcmp(refs[i].field, f->name) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------ errors and paths */

static int __attribute__((format(printf, 3, 4)))
pb_error(struct pb_ctx *c, int code, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (!c->err || !c->errlen)
		return code;
	if (c->plen)
		n = snprintf(c->err, c->errlen, "%s: ", c->path);
	if (n < 0 || (size_t)n >= c->errlen)
		return code;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - n, fmt, ap);
	va_end(ap);
	return code;
}

#define pb_fail(c, ...) pb_error((c), -EINVAL, __VA_ARGS__)

/* Appends to the path; returns the length to restore with path_pop. */
static size_t __attribute__((format(printf, 2, 3)))
path_push(struct pb_ctx *c, const char *fmt, ...)
{
	size_t saved = c->plen;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->path + c->plen, sizeof(c->path) - c->plen, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->plen = MIN(c->plen + (size_t)n, sizeof(c->path) - 1);
	return saved;
}

static size_t path_push_field(struct pb_ctx *c, const char *name)
{
	return path_push(c, c->plen ? ".%s" : "%s", name);
}

static void path_pop(struct pb_ctx *c, size_t saved)
{
	c->plen = saved;
	c->path[saved] = '\0';
}

/* ------------------------------------------------------------ scalars */

static int string_json(struct pb_ctx *c, const char *s, json_t **out)
{
	/* jansson refuses invalid UTF-8, which is what is wanted here. */
	*out = json_string(s ? s : "");
	if (!*out)
		return pb_fail(c, "string is not valid UTF-8");
	return 0;
}

/* Go encodes []byte in JSON as standard base64 with padding. */
static json_t *base64_json(const uint8_t *data, size_t len)
{
	static const char digits[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *s = xmalloc((len + 2) / 3 * 4 + 1), *p = s;
	json_t *j;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];

		*p++ = digits[v >> 18];
		*p++ = digits[(v >> 12) & 63];
		*p++ = digits[(v >> 6) & 63];
		*p++ = digits[v & 63];
	}
	if (i < len) {
		uint32_t v =
			(uint32_t)data[i] << 16 | (i + 1 < len ? (uint32_t)data[i + 1] << 8 : 0);

		*p++ = digits[v >> 18];
		*p++ = digits[(v >> 12) & 63];
		*p++ = i + 1 < len ? digits[(v >> 6) & 63] : '=';
		*p++ = '=';
	}
	*p = '\0';
	j = json_string(s);
	free(s);
	return j;
}

/* Bytes one element of a repeated field of this type takes in its C array. */
static size_t element_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
		return sizeof(int32_t);
	case PROTOBUF_C_TYPE_INT64:
		return sizeof(int64_t);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default:
		return 0; /* the subset uses no other type */
	}
}

/* The JSON of one value of field f stored at p (a member or an array element). */
static int value_json(struct pb_ctx *c, const ProtobufCFieldDescriptor *f, const void *p,
		      json_t **out)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
		*out = json_integer(*(const int32_t *)p);
		return 0;
	case PROTOBUF_C_TYPE_INT64:
		*out = json_integer(*(const int64_t *)p);
		return 0;
	case PROTOBUF_C_TYPE_BOOL:
		*out = json_boolean(*(const protobuf_c_boolean *)p);
		return 0;
	case PROTOBUF_C_TYPE_STRING:
		return string_json(c, *(char *const *)p, out);
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;

		*out = base64_json(b->data, b->len);
		return 0;
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		return message_json(c, *(ProtobufCMessage *const *)p, out);
	default:
		return pb_fail(c, "field %s has a protobuf type the decoder does not handle",
			       f->name);
	}
}

static bool value_is_zero(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
		return *(const int32_t *)p == 0;
	case PROTOBUF_C_TYPE_INT64:
		return *(const int64_t *)p == 0;
	case PROTOBUF_C_TYPE_BOOL:
		return !*(const protobuf_c_boolean *)p;
	case PROTOBUF_C_TYPE_STRING:
		return **(char *const *)p == '\0';
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)p)->len == 0;
	default:
		return false;
	}
}

/* Whether an optional field was on the wire: has_ flag, or a non-NULL pointer. */
static bool field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const char *base = (const char *)m;

	if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
		return *(void *const *)(base + f->offset) != NULL;
	return *(const protobuf_c_boolean *)(base + f->quantifier_offset);
}

/* ------------------------------------------------------------ messages */

static int check_known(struct pb_ctx *c, const ProtobufCMessage *m)
{
	if (!m->n_unknown_fields)
		return 0;
	return pb_fail(c, "unknown field number %u (wire type %d) in %s", m->unknown_fields[0].tag,
		       (int)m->unknown_fields[0].wire_type, m->descriptor->short_name);
}

static int depth_enter(struct pb_ctx *c)
{
	if (c->depth >= PBJSON_MAX_DEPTH)
		return pb_fail(c, "objects nested deeper than %d levels", PBJSON_MAX_DEPTH);
	c->depth++;
	return 0;
}

/* protoc-c turns map<K, V> into a repeated FooEntry {key = 1; value = 2}. */
static bool is_map_entry(const ProtobufCMessageDescriptor *d)
{
	size_t n = strlen(d->short_name);

	return d->n_fields == 2 && n > 5 && strcmp(d->short_name + n - 5, "Entry") == 0 &&
	       d->fields[0].id == 1 && d->fields[0].type == PROTOBUF_C_TYPE_STRING &&
	       strcmp(d->fields[0].name, "key") == 0 && d->fields[1].id == 2 &&
	       strcmp(d->fields[1].name, "value") == 0;
}

/*
 * A map entry without its value decodes, as in Go, to the zero value of the
 * value type; for a message that is the JSON of an empty message (a zero
 * Quantity is "0"), obtained by unpacking zero bytes.
 */
static int absent_value_json(struct pb_ctx *c, const ProtobufCFieldDescriptor *f, json_t **out)
{
	static const union {
		int64_t i;
		ProtobufCBinaryData b;
		void *p;
	} zero;
	ProtobufCMessage *m;
	int err;

	if (f->type != PROTOBUF_C_TYPE_MESSAGE)
		return value_json(c, f, &zero, out);
	m = protobuf_c_message_unpack(f->descriptor, NULL, 0, (const uint8_t *)&zero);
	if (!m)
		return pb_fail(c, "out of memory");
	err = message_json(c, m, out);
	protobuf_c_message_free_unpacked(m, NULL);
	return err;
}

static int map_json(struct pb_ctx *c, const ProtobufCFieldDescriptor *f,
		    ProtobufCMessage *const *entries, size_t n, json_t **out)
{
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
	json_t *obj = json_object();
	int err = 0;
	size_t i;

	for (i = 0; i < n && !err; i++) {
		const ProtobufCMessage *e = entries[i];
		const char *key = *(char *const *)((const char *)e + kf->offset);
		json_t *v = NULL;
		size_t saved;

		key = key ? key : "";
		saved = path_push(c, "[\"%s\"]", key);
		err = check_known(c, e);
		if (!err)
			err = field_present(e, vf)
				      ? value_json(c, vf, (const char *)e + vf->offset, &v)
				      : absent_value_json(c, vf, &v);
		/* A repeated key overwrites, as a Go map does. */
		if (!err && json_object_set_new(obj, key, v))
			err = pb_fail(c, "map key is not valid UTF-8");
		path_pop(c, saved);
	}
	if (err) {
		json_decref(obj);
		return err;
	}
	*out = obj;
	return 0;
}

static int list_json(struct pb_ctx *c, const ProtobufCFieldDescriptor *f, const char *elems,
		     size_t n, json_t **out)
{
	size_t size = element_size(f->type), i;
	json_t *arr = json_array();
	int err = 0;

	if (!size)
		err = pb_fail(c, "field %s has a protobuf type the decoder does not handle",
			      f->name);
	for (i = 0; i < n && !err; i++) {
		size_t saved = path_push(c, "[%zu]", i);
		json_t *v = NULL;

		err = value_json(c, f, elems + i * size, &v);
		if (!err)
			json_array_append_new(arr, v);
		path_pop(c, saved);
	}
	if (err) {
		json_decref(arr);
		return err;
	}
	*out = arr;
	return 0;
}

static int fields_into(struct pb_ctx *c, const ProtobufCMessage *m, json_t *obj);

/* Adds field f of m to obj, or nothing when it is absent (or a zero non-pointer). */
static int field_into(struct pb_ctx *c, const ProtobufCMessage *m,
		      const ProtobufCFieldDescriptor *f, json_t *obj)
{
	const char *member = (const char *)m + f->offset;
	json_t *v = NULL;
	size_t saved;
	int err;

	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
		const char *elems = *(const char *const *)member;

		if (!n)
			return 0;
		saved = path_push_field(c, f->name);
		if (f->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(f->descriptor))
			err = map_json(c, f, (ProtobufCMessage *const *)elems, n, &v);
		else
			err = list_json(c, f, elems, n, &v);
	} else {
		if (!field_present(m, f))
			return 0;
		if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
		    field_in(pb_inline, ARRAY_SIZE(pb_inline), m->descriptor, f)) {
			err = depth_enter(c);
			if (err)
				return err;
			err = fields_into(c, *(ProtobufCMessage *const *)member, obj);
			c->depth--;
			return err;
		}
		if (value_is_zero(f, member) &&
		    !field_in(pb_pointers, ARRAY_SIZE(pb_pointers), m->descriptor, f))
			return 0;
		saved = path_push_field(c, f->name);
		err = value_json(c, f, member, &v);
	}
	path_pop(c, saved);
	if (err)
		return err;
	json_object_set_new(obj, f->name, v);
	return 0;
}

static int fields_into(struct pb_ctx *c, const ProtobufCMessage *m, json_t *obj)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	unsigned i;
	int err;

	err = check_known(c, m);
	for (i = 0; i < d->n_fields && !err; i++)
		err = field_into(c, m, &d->fields[i], obj);
	return err;
}

/* ------------------------------------------------------------ special forms */

/*
 * Time and MicroTime: Go decodes an empty message as the zero time (JSON
 * null) and anything else as time.Unix(seconds, nanos), zero included.
 */
static int instant_json(struct pb_ctx *c, bool set, int64_t seconds, int32_t nanos,
			int (*format)(int64_t, char *, size_t), json_t **out)
{
	char buf[KTIME_BUFSZ];
	int64_t ns;

	if (!set) {
		*out = json_null();
		return 0;
	}
	if (__builtin_mul_overflow(seconds, (int64_t)1000000000, &ns) ||
	    __builtin_add_overflow(ns, (int64_t)nanos, &ns) || format(ns, buf, sizeof(buf)))
		return pb_fail(c, "time %" PRId64 "s%+" PRId32 "ns is outside 1677..2262", seconds,
			       nanos);
	*out = json_string(buf);
	return 0;
}

static int time_json(struct pb_ctx *c, const ProtobufCMessage *m, json_t **out)
{
	const Kube__Meta__V1__Time *t = (const Kube__Meta__V1__Time *)m;

	return instant_json(c, t->has_seconds || t->has_nanos, t->seconds, t->nanos, ktime_format,
			    out);
}

static int micro_time_json(struct pb_ctx *c, const ProtobufCMessage *m, json_t **out)
{
	const Kube__Meta__V1__MicroTime *t = (const Kube__Meta__V1__MicroTime *)m;

	return instant_json(c, t->has_seconds || t->has_nanos, t->seconds, t->nanos,
			    ktime_format_micro, out);
}

/* ".5" for 5 of 10 (digits 1), ".25" for 250 of 1000: trailing zeros cut, "" for 0. */
static void fraction(uint64_t rem, int digits, char *buf, size_t len)
{
	int n;

	if (!rem) {
		buf[0] = '\0';
		return;
	}
	n = snprintf(buf, len, ".%0*" PRIu64, digits, rem);
	while (n > 1 && buf[n - 1] == '0')
		buf[--n] = '\0';
}

/* Go's time.Duration.String(): "1h2m3.5s", "1m30s", "1.5ms", "0s". */
static void go_duration(int64_t d, char *buf, size_t len)
{
	uint64_t u = d < 0 ? -(uint64_t)d : (uint64_t)d;
	const char *sign = d < 0 ? "-" : "";
	uint64_t secs, h, m;
	char frac[16];

	if (u == 0) {
		snprintf(buf, len, "0s");
	} else if (u < 1000) {
		snprintf(buf, len, "%s%" PRIu64 "ns", sign, u);
	} else if (u < 1000000) {
		fraction(u % 1000, 3, frac, sizeof(frac));
		snprintf(buf, len, "%s%" PRIu64 "%s\xc2\xb5s", sign, u / 1000, frac);
	} else if (u < 1000000000) {
		fraction(u % 1000000, 6, frac, sizeof(frac));
		snprintf(buf, len, "%s%" PRIu64 "%sms", sign, u / 1000000, frac);
	} else {
		secs = u / 1000000000;
		fraction(u % 1000000000, 9, frac, sizeof(frac));
		h = secs / 3600;
		m = secs / 60 % 60;
		if (h)
			snprintf(buf, len, "%s%" PRIu64 "h%" PRIu64 "m%" PRIu64 "%ss", sign, h, m,
				 secs % 60, frac);
		else if (m)
			snprintf(buf, len, "%s%" PRIu64 "m%" PRIu64 "%ss", sign, m, secs % 60,
				 frac);
		else
			snprintf(buf, len, "%s%" PRIu64 "%ss", sign, secs, frac);
	}
}

static int duration_json(struct pb_ctx *c, const ProtobufCMessage *m, json_t **out)
{
	const Kube__Meta__V1__Duration *d = (const Kube__Meta__V1__Duration *)m;
	char buf[48];

	go_duration(d->has_duration ? d->duration : 0, buf, sizeof(buf));
	*out = json_string(buf);
	return 0;
}

/*
 * Go writes a Quantity as its canonical text, never empty; an absent string
 * is the zero Quantity ("0"), and anything that does not parse is refused as
 * Go's decoder refuses it.
 */
static int quantity_json(struct pb_ctx *c, const ProtobufCMessage *m, json_t **out)
{
	const Kube__Resource__Quantity *q = (const Kube__Resource__Quantity *)m;
	struct quantity parsed;

	if (!q->string) {
		*out = json_string("0");
		return 0;
	}
	if (quantity_parse(q->string, &parsed))
		return pb_fail(c, "quantities must match the regular expression "
				  "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
	*out = json_string(q->string);
	return 0;
}

static int int_or_string_json(struct pb_ctx *c, const ProtobufCMessage *m, json_t **out)
{
	const Kube__Intstr__IntOrString *v = (const Kube__Intstr__IntOrString *)m;

	switch (v->type) {
	case 0:
		*out = json_integer(v->intval);
		return 0;
	case 1:
		return string_json(c, v->strval, out);
	default:
		return pb_fail(c, "IntOrString type %" PRId64 " is neither 0 (int) nor 1 (string)",
			       v->type);
	}
}

static int embedded_json(struct pb_ctx *c, const ProtobufCBinaryData *raw, bool protobuf_ok,
			 json_t **out)
{
	json_error_t jerr;

	if (!raw->len) {
		*out = json_null();
		return 0;
	}
	if (protobuf_ok && raw->len >= sizeof(pb_magic) &&
	    memcmp(raw->data, pb_magic, sizeof(pb_magic)) == 0)
		return decode_body(c, raw->data, raw->len, out);
	*out = json_loadb((const char *)raw->data, raw->len, JSON_DECODE_ANY, &jerr);
	if (!*out)
		return pb_fail(c, "embedded JSON does not parse: %s", jerr.text);
	return 0;
}

static int fields_v1_json(struct pb_ctx *c, const ProtobufCMessage *m, json_t **out)
{
	return embedded_json(c, &((const Kube__Meta__V1__FieldsV1 *)m)->raw, false, out);
}

/* A RawExtension holds JSON, or a whole protobuf object when its sender used protobuf. */
static int raw_extension_json(struct pb_ctx *c, const ProtobufCMessage *m, json_t **out)
{
	return embedded_json(c, &((const Kube__Runtime__RawExtension *)m)->raw, true, out);
}

static const struct pb_special {
	const ProtobufCMessageDescriptor *desc;
	pb_special_fn fn;
} pb_special[] = {
	{ &kube__meta__v1__time__descriptor, time_json },
	{ &kube__meta__v1__micro_time__descriptor, micro_time_json },
	{ &kube__meta__v1__duration__descriptor, duration_json },
	{ &kube__meta__v1__fields_v1__descriptor, fields_v1_json },
	{ &kube__runtime__raw_extension__descriptor, raw_extension_json },
	{ &kube__resource__quantity__descriptor, quantity_json },
	{ &kube__intstr__int_or_string__descriptor, int_or_string_json },
};

static int message_json(struct pb_ctx *c, const ProtobufCMessage *m, json_t **out)
{
	json_t *obj;
	size_t i;
	int err;

	err = depth_enter(c);
	if (err)
		return err;
	for (i = 0; i < ARRAY_SIZE(pb_special); i++)
		if (pb_special[i].desc == m->descriptor)
			break;
	if (i < ARRAY_SIZE(pb_special)) {
		err = check_known(c, m);
		if (!err)
			err = pb_special[i].fn(c, m, out);
	} else {
		obj = json_object();
		err = fields_into(c, m, obj);
		if (err)
			json_decref(obj);
		else
			*out = obj;
	}
	c->depth--;
	return err;
}

/* ------------------------------------------------------------ the envelope */

static const struct pb_kind *kind_lookup(const char *api_version, const char *kind)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(pb_kinds); i++)
		if (strcmp(pb_kinds[i].kind, kind) == 0 &&
		    (!pb_kinds[i].api_version || strcmp(pb_kinds[i].api_version, api_version) == 0))
			return &pb_kinds[i];
	return NULL;
}

static int envelope_check(struct pb_ctx *c, const Kube__Runtime__Unknown *u)
{
	const Kube__Runtime__TypeMeta *tm = u->typemeta;
	int err;

	err = check_known(c, &u->base);
	if (!err && tm)
		err = check_known(c, &tm->base);
	if (err)
		return err;
	if (!tm || !tm->kind || !*tm->kind)
		return pb_fail(c, "Object 'Kind' is missing in the protobuf envelope");
	if (u->contentencoding && *u->contentencoding)
		return pb_error(c, -ENOTSUP, "content encoding \"%.64s\" is not supported",
				u->contentencoding);
	if (u->contenttype && *u->contenttype && strcmp(u->contenttype, PB_PROTOBUF_TYPE) != 0)
		return pb_error(c, -ENOTSUP, "embedded content type \"%.64s\" is not supported",
				u->contenttype);
	return 0;
}

static int decode_body(struct pb_ctx *c, const uint8_t *body, size_t len, json_t **out)
{
	static const uint8_t none[1];
	Kube__Runtime__Unknown *u = NULL;
	ProtobufCMessage *obj = NULL;
	const struct pb_kind *k;
	const char *api_version;
	json_t *json = NULL, *v;
	int err;

	if (len < sizeof(pb_magic) || memcmp(body, pb_magic, sizeof(pb_magic)) != 0)
		return pb_fail(c, "not a Kubernetes protobuf body (no \"k8s\\0\" prefix)");
	err = depth_enter(c);
	if (err)
		return err;
	u = kube__runtime__unknown__unpack(NULL, len - sizeof(pb_magic), body + sizeof(pb_magic));
	if (!u) {
		err = pb_fail(c, "malformed protobuf envelope (runtime.Unknown)");
		goto out;
	}
	err = envelope_check(c, u);
	if (err)
		goto out;
	api_version = u->typemeta->apiversion ? u->typemeta->apiversion : "";
	k = kind_lookup(api_version, u->typemeta->kind);
	if (!k) {
		err = pb_error(c, -ENOTSUP,
			       "no protobuf decoding for %.64s, Kind=%.64s; send application/json",
			       api_version, u->typemeta->kind);
		goto out;
	}
	obj = protobuf_c_message_unpack(k->desc, NULL, u->has_raw ? u->raw.len : 0,
					u->has_raw && u->raw.data ? u->raw.data : none);
	if (!obj) {
		err = pb_fail(c, "malformed protobuf %s body", k->kind);
		goto out;
	}
	json = json_object();
	err = string_json(c, api_version, &v);
	if (err)
		goto out;
	json_object_set_new(json, "apiVersion", v);
	json_object_set_new(json, "kind", json_string(k->kind));
	err = fields_into(c, obj, json);
out:
	if (err)
		json_decref(json);
	else
		*out = json;
	protobuf_c_message_free_unpacked(obj, NULL);
	if (u)
		kube__runtime__unknown__free_unpacked(u, NULL);
	c->depth--;
	return err;
}

/*
 * Messages quote client bytes (map keys in paths, kinds); the caller puts
 * them into a JSON Status, so keep them printable ASCII.
 */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

int pbjson_decode(const void *body, size_t len, json_t **out, char *err, size_t errlen)
{
	struct pb_ctx c = { .err = err, .errlen = errlen };
	json_t *json = NULL;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if ((!body && len) || !out)
		return pb_fail(&c, "pbjson_decode: no body or no result pointer");
	ret = decode_body(&c, body ? body : (const void *)"", len, &json);
	if (!ret)
		*out = json;
	else if (err && errlen)
		sanitize(err);
	return ret;
}
