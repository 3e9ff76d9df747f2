/*
 * validate.h - defaulting and validation of the built-in kinds, as the
 * upstream API server does them, so that objects stored by capstan look like
 * objects stored by Kubernetes and bad ones are refused with the same
 * field paths and messages.
 *
 * Kinds: Namespace, Pod, Service, Endpoints, Node, Event, ConfigMap, Secret,
 * ServiceAccount (v1); Deployment, ReplicaSet, DaemonSet (apps/v1);
 * EndpointSlice (discovery.k8s.io/v1); Lease (coordination.k8s.io/v1);
 * plus the Scale (autoscaling/v1), Binding and Eviction request bodies.
 *
 * A problem is reported as one Status cause object appended to `causes`:
 *   {"reason": "FieldValueRequired" | "FieldValueInvalid" |
 *              "FieldValueNotSupported" | "FieldValueDuplicate" |
 *              "FieldValueForbidden" | "FieldValueTooLong" |
 *              "FieldValueTypeInvalid" | "FieldValueNotFound" |
 *              "FieldValueTooMany",
 *    "field": "spec.template.spec.containers[0].image",
 *    "message": "Required value"}
 * The message has upstream's shape: "Required value",
 * "Invalid value: \"Foo_1\": a lowercase RFC 1123 label must consist of ...",
 * "Unsupported value: \"Sometimes\": supported values: \"Always\", \"Never\", \"OnFailure\"",
 * "Forbidden: ...", "Duplicate value: ...". The API server builds the
 * Status message "<Kind>[.<group>] \"<name>\" is invalid: <field>: <message>, ..."
 * from them.
 */
#ifndef CAPSTAN_APISERVER_VALIDATE_H
#define CAPSTAN_APISERVER_VALIDATE_H

#include <jansson.h>

/*
 * Apply upstream's defaults for kind to obj in place (e.g. Pod:
 * restartPolicy, dnsPolicy, terminationGracePeriodSeconds, schedulerName,
 * imagePullPolicy from the image tag, ports' protocol; Deployment:
 * replicas, strategy, revisionHistoryLimit, progressDeadlineSeconds, and
 * the pod template's defaults; Service: type, sessionAffinity, ports'
 * protocol and targetPort, ipFamilies, internalTrafficPolicy ...). Unknown
 * kinds are left alone. Never fails; ignores fields of the wrong type
 * (validation reports them).
 */
void defaults_apply(const char *kind, json_t *obj);

/*
 * Validate obj of kind for a create (old == NULL) or an update of old
 * (immutable fields: e.g. Deployment spec.selector, Service clusterIP,
 * most of a Pod's spec; metadata.name/namespace/uid). Includes metadata:
 * name format for the kind (DNS-1123 subdomain for most, DNS-1123 label for
 * Namespace, DNS-1035 label for Service as upstream), generateName, labels
 * and annotations (keys, values, total annotation size), namespace present
 * iff namespaced. Unknown kinds get the metadata rules only.
 * Appends one cause per problem; returns how many it appended (0 = valid).
 */
int validate_object(const char *kind, const json_t *obj, const json_t *old, json_t *causes);

/*
 * Validate an update through the status subresource (status rules of the
 * kind, e.g. Pod IPs and container state transitions, Deployment replica
 * counts >= 0; upstream does not restrict Pod phase values).
 * Same contract as validate_object.
 */
int validate_status(const char *kind, const json_t *obj, const json_t *old, json_t *causes);

/* DNS-1123 checks shared with the API server's URL handling: 0 or -EINVAL. */
int validate_dns1123_label(const char *s);
int validate_dns1123_subdomain(const char *s);

#endif
