/*
 * server.h - the capstan-apiserver process: configuration, state shared by
 * the handlers, start and stop.
 *
 * Threads: libmicrohttpd runs one thread per connection, so a handler may
 * block (a write waits for the store's group commit, a watch waits for
 * events) without stalling other clients. State shared between handlers is
 * either immutable after start (configuration, registry), internally
 * locked (store, cache) or guarded by alloc_lock (the service IP and node
 * port allocators).
 */
#ifndef CAPSTAN_APISERVER_SERVER_H
#define CAPSTAN_APISERVER_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "control/apiserver/alloc.h"
#include "control/apiserver/cache.h"
#include "control/apiserver/registry.h"
#include "control/store/store.h"
#include "util.h"

struct apiserver_config {
	const char *data_dir;		/* holds state.db */
	const char *listen;		/* "127.0.0.1:6443"; port 0 picks one */
	const char *advertise_address;	/* address in the kubernetes Endpoints; NULL = listen host */
	const char *service_cidr;	/* default 10.96.0.0/12 */
	const char *node_port_range;	/* default 30000-32767 */
	size_t max_body;		/* request body limit, 0 = 3 MiB */
	unsigned compact_interval_s;	/* 0 = 300 */
	size_t history;			/* watch history per resource, 0 = 10000 */
	bool no_fsync;			/* tests only: writes not fsync'd */
};

struct apiserver {
	struct apiserver_config cfg;
	char listen_host[64];
	unsigned port;			/* bound port */
	char url[96];			/* http://host:port */
	struct store *store;
	struct cache *cache;
	struct MHD_Daemon *mhd;

	pthread_mutex_t alloc_lock;	/* guards ips and ports */
	struct ipalloc ips;
	struct portalloc ports;

	pthread_t compactor;
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	atomic_bool stopping;
	uint64_t start_ns;
};

/*
 * Open the store, fill the cache, bootstrap (namespaces, the kubernetes
 * Service), rebuild the allocators and start listening. 0 on success with
 * *out set; -errno and a message in err otherwise.
 */
int apiserver_start(const struct apiserver_config *cfg, struct apiserver **out, char *err,
		    size_t errlen);
/* Stop listening, end watches, close the store. Frees s. */
void apiserver_stop(struct apiserver *s);

#endif
