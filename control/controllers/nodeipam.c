/*
 * nodeipam.c - the node IPAM controller: every Node without spec.podCIDR
 * gets a range of --cluster-cidr (ipam_cidr.c), written with a merge patch
 * of spec.podCIDR and spec.podCIDRs; the kubelet waits for it before the
 * node reports Ready (its CNI needs the range).
 *
 * Before the first allocation the ranges every node already carries are
 * occupied, so a restart never hands out a range twice. One worker: the
 * allocator is one set and allocations are rare, so parallel workers would
 * only contend on its lock. When the set is full the node gets an Event
 * (CIDRNotAvailable) and waits; a deleted node's range is released and the
 * waiting nodes are queued again.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "control/controllers/controllers.h"
#include "control/controllers/ctrl.h"
#include "control/controllers/ipam_cidr.h"
#include "jsonx.h"
#include "log.h"
#include "util.h"

struct ipam_ctrl {
	struct cm *cm;
	struct cm_api events;
	struct workqueue *q;
	struct cm_workers *workers;
	pthread_mutex_t lock; /* guards set */
	struct ipam_cidr *set;
};

/* spec.podCIDR, or the first of spec.podCIDRs, or "". */
static const char *pod_cidr(const json_t *node)
{
	const char *c = jsonx_path_str(node, "spec.podCIDR", "");

	return *c ? c : jsonx_path_str(node, "spec.podCIDRs[0]", "");
}

static void node_on_add(void *ctx, const json_t *node)
{
	struct ipam_ctrl *c = ctx;

	wq_add(c->q, jsonx_path_str(node, "metadata.name", ""));
}

static void node_on_update(void *ctx, const json_t *old_node, const json_t *new_node)
{
	struct ipam_ctrl *c = ctx;

	if (!*pod_cidr(new_node) || strcmp(pod_cidr(old_node), pod_cidr(new_node)) != 0)
		wq_add(c->q, jsonx_path_str(new_node, "metadata.name", ""));
}

/* Record a range a node carries; 0, or the ipam_cidr_occupy error (logged). */
static int occupy(struct ipam_ctrl *c, const char *node, const char *cidr)
{
	int rc;

	pthread_mutex_lock(&c->lock);
	rc = ipam_cidr_occupy(c->set, node, cidr);
	pthread_mutex_unlock(&c->lock);
	if (rc == -EEXIST)
		log_warn("node %s: podCIDR %s overlaps another node's range", node, cidr);
	else if (rc == -ERANGE)
		log_debug("node %s: podCIDR %s is outside the cluster CIDR", node, cidr);
	else if (rc < 0)
		log_warn("node %s: podCIDR '%s' does not parse", node, cidr);
	return rc;
}

/* Space came free: nodes still without a range try again. */
static void requeue_waiting(struct ipam_ctrl *c)
{
	json_t *nodes = cm_list(c->cm, CM_NODES, NULL, NULL), *n;
	size_t i;

	json_array_foreach(nodes, i, n)
		if (!*pod_cidr(n))
			wq_add(c->q, jsonx_path_str(n, "metadata.name", ""));
	json_decref(nodes);
}

static int sync_node(void *ctx, const char *name)
{
	struct ipam_ctrl *c = ctx;
	json_t *node = cm_get(c->cm, CM_NODES, NULL, name), *patch;
	char cidr[IPAM_CIDR_STRLEN];
	int rc;

	if (!node) {
		pthread_mutex_lock(&c->lock);
		rc = ipam_cidr_release(c->set, name);
		pthread_mutex_unlock(&c->lock);
		if (rc == 0) {
			log_info("node %s deleted: its pod CIDR is free", name);
			requeue_waiting(c);
		}
		return 0;
	}
	if (*pod_cidr(node)) {
		occupy(c, name, pod_cidr(node));
		json_decref(node);
		return 0;
	}
	pthread_mutex_lock(&c->lock);
	rc = ipam_cidr_allocate(c->set, name, cidr, sizeof(cidr));
	pthread_mutex_unlock(&c->lock);
	if (rc == -ENOSPC) {
		log_warn("node %s: no pod CIDR left in %s", name, cm_config(c->cm)->cluster_cidr);
		cm_api_event(&c->events, node, "Node", "v1", "Normal", "CIDRNotAvailable",
			     "Node %s status is now: CIDRNotAvailable", name);
		json_decref(node);
		return 0; /* a release queues it again */
	}
	patch = json_pack("{s:{s:s, s:[s]}}", "spec", "podCIDR", cidr, "podCIDRs", cidr);
	rc = cm_patch(c->cm, CM_NODES, NULL, name, NULL, "merge", patch, NULL);
	json_decref(patch);
	if (rc == 200) {
		log_info("node %s: podCIDR %s", name, cidr);
		rc = 0;
	} else {
		/* Not written: the range goes back (a 404 node is gone anyway). */
		log_warn("node %s: writing podCIDR %s: %d", name, cidr, rc);
		pthread_mutex_lock(&c->lock);
		ipam_cidr_release(c->set, name);
		pthread_mutex_unlock(&c->lock);
		if (rc != 404)
			cm_api_event(&c->events, node, "Node", "v1", "Warning",
				     "CIDRAssignmentFailed",
				     "Node %s status is now: CIDRAssignmentFailed", name);
		rc = rc == 404 ? 0 : -EIO;
	}
	json_decref(node);
	return rc;
}

static int ipam_init(struct cm *cm, void **state)
{
	static const struct informer_handlers node_h = { node_on_add, node_on_update, node_on_add };
	const struct cm_config *cfg = cm_config(cm);
	struct ipam_ctrl *c;
	struct ipam_cidr *set;
	char err[256];
	int rc;

	rc = ipam_cidr_new(cfg->cluster_cidr, cfg->node_cidr_mask, &set, err, sizeof(err));
	if (rc < 0) {
		log_error("node IPAM: %s", err);
		return rc;
	}
	c = xcalloc(1, sizeof(*c));
	c->cm = cm;
	c->set = set;
	cm_api_init(&c->events, cm, "cidrAllocator");
	c->q = wq_new("nodeipam", 0, 0);
	pthread_mutex_init(&c->lock, NULL);
	cm_watch(cm, CM_NODES, &node_h, c);
	*state = c;
	return 0;
}

static int ipam_start(struct cm *cm, void *state)
{
	struct ipam_ctrl *c = state;
	json_t *nodes = cm_list(cm, CM_NODES, NULL, NULL), *n;
	size_t i, held = 0;

	/* Every range in use is known before the first one is handed out. */
	json_array_foreach(nodes, i, n)
		if (*pod_cidr(n) &&
		    occupy(c, jsonx_path_str(n, "metadata.name", ""), pod_cidr(n)) == 0)
			held++;
	json_decref(nodes);
	log_info("node IPAM: %s in /%u ranges, %zu of %zu in use", cm_config(cm)->cluster_cidr,
		 cm_config(cm)->node_cidr_mask, held, ipam_cidr_total(c->set));
	c->workers = cm_workers_start("nodeipam", c->q, 1, sync_node, c);
	return c->workers ? 0 : -EAGAIN;
}

static void ipam_stop(struct cm *cm, void *state)
{
	struct ipam_ctrl *c = state;

	(void)cm;
	if (!c)
		return;
	cm_workers_stop(c->workers);
	wq_free(c->q);
	ipam_cidr_free(c->set);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

const struct controller nodeipam_controller = {
	.name = "nodeipam",
	.init = ipam_init,
	.start = ipam_start,
	.stop = ipam_stop,
};
