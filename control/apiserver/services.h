/*
 * services.h - ClusterIP, NodePort and healthCheckNodePort allocation for
 * Service writes.
 *
 * A write that needs addresses or ports goes in two steps around the store
 * write: svc_alloc_prepare() reserves what the new object needs and fills
 * the allocated values into it; after the write, svc_alloc_commit() frees
 * what the old object held and the new one no longer does, or, if the
 * write failed, svc_alloc_rollback() returns what prepare reserved. Deletes
 * call svc_release(). The reservations are kept in memory only; at start
 * svc_alloc_rebuild() reserves what every stored Service holds.
 */
#ifndef CAPSTAN_APISERVER_SERVICES_H
#define CAPSTAN_APISERVER_SERVICES_H

#include <jansson.h>

struct apiserver;

#define SVC_TX_MAX 64

struct svc_alloc_tx {
	char took_ip[64];		/* reserved by prepare ("" = none) */
	int took_ports[SVC_TX_MAX];
	int ntook;
	char drop_ip[64];		/* held by old, not by new: freed on commit */
	int drop_ports[SVC_TX_MAX];
	int ndrop;
};

/*
 * Reserve for svc (modified in place: clusterIP(s), nodePorts,
 * healthCheckNodePort) what it needs beyond what old (NULL on create)
 * holds. Returns the number of causes appended to causes (0 = success);
 * on failure nothing stays reserved.
 */
int svc_alloc_prepare(struct apiserver *s, const json_t *old, json_t *svc,
		      struct svc_alloc_tx *tx, json_t *causes);
void svc_alloc_commit(struct apiserver *s, struct svc_alloc_tx *tx);
void svc_alloc_rollback(struct apiserver *s, struct svc_alloc_tx *tx);
/* Free everything a deleted Service held. */
void svc_release(struct apiserver *s, const json_t *svc);
/* Reserve what every Service in the cache holds (start-up). */
void svc_alloc_rebuild(struct apiserver *s);

#endif
