/*
 * schema.h - the field schema of every kind capstan serves.
 *
 * One table describes, for each Kubernetes type the API server stores
 * (Pod, PodSpec, Container, ... ObjectMeta ...), its fields, their JSON
 * types and the shape of their values. It answers three questions:
 *   - strict decoding: which fields of a request body are unknown (rejected
 *     with fieldValidation=Strict, reported as warnings with Warn) and which
 *     have the wrong JSON type (always a 400, as upstream's decoder does);
 *   - the OpenAPI v3 documents served at /openapi/v3/..., which kubectl
 *     reads for apply and explain;
 *   - nothing about a field is written twice: patch metadata and
 *     validation keep their own rules, but field names live here.
 */
#ifndef CAPSTAN_APISERVER_SCHEMA_H
#define CAPSTAN_APISERVER_SCHEMA_H

#include <stdbool.h>

#include <jansson.h>

/*
 * Check obj, a body for the given group/version/kind ("" for the core
 * group), against the schema. For every field the schema does not define
 * append {"field": "spec.template.spec.containers[0].imagePullPolicyy",
 * "type": "unknown"}; for every value of the wrong JSON type append
 * {"field": "spec.replicas", "type": "invalid", "expected": "integer",
 * "got": "string"} to problems (a JSON array). Fields of free-form types
 * (labels, annotations, data, RawExtension, FieldsV1) accept any key.
 * Integers accept JSON integers and integral reals; quantities and
 * int-or-string accept strings and numbers. Returns the number of
 * problems appended; 0 for kinds the schema does not know (they are not
 * checked), and unknown kinds are reported by schema_has_kind().
 */
int schema_check(const char *group, const char *version, const char *kind, const json_t *obj,
		 json_t *problems);

bool schema_has_kind(const char *group, const char *version, const char *kind);

/*
 * The OpenAPI v3 "components.schemas" object for one group version: every
 * type reachable from its kinds, named as upstream names them (e.g.
 * "io.k8s.api.core.v1.Pod"), with x-kubernetes-group-version-kind on the
 * top-level kinds and x-kubernetes-patch-merge-key /
 * x-kubernetes-patch-strategy where upstream has them. A new reference.
 */
json_t *schema_openapi_components(const char *group, const char *version);

#endif
