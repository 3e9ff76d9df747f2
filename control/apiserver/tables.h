/*
 * tables.h - server-side printing: the meta.k8s.io/v1 Table columns and
 * cells for each resource, as `kubectl get` shows them.
 *
 * kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints
 * whatever columns the server sends, so these columns are what users see.
 * They follow upstream's printers: pods NAME READY STATUS RESTARTS AGE (and,
 * at priority 1 for -o wide, IP NODE NOMINATED NODE READINESS GATES),
 * deployments NAME READY UP-TO-DATE AVAILABLE AGE (+ CONTAINERS IMAGES
 * SELECTOR), services NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE
 * (+ SELECTOR), nodes NAME STATUS ROLES AGE VERSION (+ INTERNAL-IP
 * EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME), and the others.
 * The NAME column is always first and holds metadata.name.
 */
#ifndef CAPSTAN_APISERVER_TABLES_H
#define CAPSTAN_APISERVER_TABLES_H

#include <stdint.h>

#include <jansson.h>

/*
 * Column definitions for a resource (plural, e.g. "pods"): a new JSON array
 * of {"name","type","format","description","priority"}. Unknown resources
 * get upstream's default: Name, Created At.
 */
json_t *table_columns(const char *resource);

/*
 * The cells of obj's row, a new JSON array in the order of table_columns()
 * (strings, integers, or null for an empty cell). now_ns is the current
 * wall-clock time (ns since the epoch) for the AGE column.
 */
json_t *table_cells(const char *resource, const json_t *obj, int64_t now_ns);

/*
 * Upstream's human-readable duration (HumanDuration): "0s", "45s", "5m3s",
 * "10m", "3h5m", "5h", "3d5h", "8d", "2y125d" ... into buf.
 */
void table_human_duration(int64_t ns, char *buf, size_t len);

#endif
