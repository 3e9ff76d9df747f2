/*
 * services.c - see services.h.
 *
 * Which ports need a node port: every port of a NodePort or LoadBalancer
 * Service. A port keeps the node port it had before an update when the
 * update leaves it 0 and the same (port, protocol) existed before, as
 * upstream does, so `kubectl apply` of a manifest without nodePort does not
 * move traffic to a new port.
 */
#include "control/apiserver/services.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "control/apiserver/server.h"
#include "jsonx.h"
#include "log.h"

static const char *svc_type(const json_t *svc)
{
	return jsonx_path_str(svc, "spec.type", "ClusterIP");
}

static bool needs_node_ports(const json_t *svc)
{
	const char *t = svc_type(svc);

	return strcmp(t, "NodePort") == 0 || strcmp(t, "LoadBalancer") == 0;
}

static bool needs_health_port(const json_t *svc)
{
	return strcmp(svc_type(svc), "LoadBalancer") == 0 &&
	       strcmp(jsonx_path_str(svc, "spec.externalTrafficPolicy", ""), "Local") == 0;
}

static const char *cluster_ip(const json_t *svc)
{
	return jsonx_path_str(svc, "spec.clusterIP", "");
}

static bool ip_is_real(const char *ip)
{
	return ip && *ip && strcmp(ip, "None") != 0;
}

/* Does old hold node port np (on any port, or as health check port)? */
static bool old_holds_port(const json_t *old, int np)
{
	json_t *p;
	size_t i;

	if (!old)
		return false;
	json_array_foreach(jsonx_get_path(old, "spec.ports"), i, p) {
		if (jsonx_int(p, "nodePort", 0) == np)
			return true;
	}
	return jsonx_path_int(old, "spec.healthCheckNodePort", 0) == np;
}

/* The node port old gave the same (port, protocol), or 0. */
static int old_node_port(const json_t *old, const json_t *port)
{
	json_t *p;
	size_t i;

	if (!old || !needs_node_ports(old))
		return 0;
	json_array_foreach(jsonx_get_path(old, "spec.ports"), i, p) {
		if (jsonx_int(p, "port", -1) == jsonx_int(port, "port", -2) &&
		    strcmp(jsonx_str(p, "protocol", "TCP"), jsonx_str(port, "protocol", "TCP")) == 0)
			return (int)jsonx_int(p, "nodePort", 0);
	}
	return 0;
}

static void add_cause(json_t *causes, const char *field, const char *fmt_msg)
{
	json_array_append_new(causes, json_pack("{s:s,s:s,s:s}", "reason", "FieldValueInvalid",
						"message", fmt_msg, "field", field));
}

/* Reserve node port np for field (np may be 0: pick one). Lock held. */
static int take_port(struct apiserver *s, int *np, struct svc_alloc_tx *tx, const char *field,
		     json_t *causes)
{
	char msg[256];
	int err;

	if (tx->ntook == SVC_TX_MAX) {
		add_cause(causes, field, "Invalid value: too many ports");
		return -ENOSPC;
	}
	err = *np ? portalloc_take(&s->ports, *np) : portalloc_next(&s->ports, np);
	if (!err) {
		tx->took_ports[tx->ntook++] = *np;
		return 0;
	}
	if (err == -ERANGE)
		snprintf(msg, sizeof(msg),
			 "Invalid value: %d: provided port is not in the valid range. The range "
			 "of valid ports is %s",
			 *np, s->ports.range);
	else if (err == -EEXIST)
		snprintf(msg, sizeof(msg), "Invalid value: %d: provided port is already allocated",
			 *np);
	else
		snprintf(msg, sizeof(msg), "Invalid value: %d: range is full", *np);
	add_cause(causes, field, msg);
	return err;
}

static void undo_locked(struct apiserver *s, struct svc_alloc_tx *tx)
{
	if (tx->took_ip[0])
		ipalloc_release(&s->ips, tx->took_ip);
	for (int i = 0; i < tx->ntook; i++)
		portalloc_release(&s->ports, tx->took_ports[i]);
	tx->took_ip[0] = '\0';
	tx->ntook = 0;
}

static int prepare_ip(struct apiserver *s, const json_t *old, json_t *svc,
		      struct svc_alloc_tx *tx, json_t *causes)
{
	json_t *spec = json_object_get(svc, "spec");
	const char *want = cluster_ip(svc), *had = old ? cluster_ip(old) : "";
	char ip[64], msg[512];
	int err;

	if (strcmp(svc_type(svc), "ExternalName") == 0)
		return 0;
	if (strcmp(want, "None") == 0) {
		json_object_set_new(spec, "clusterIPs", json_pack("[s]", "None"));
		return 0;
	}
	if (!*want && ip_is_real(had))
		want = had;	/* kept across updates that leave it empty */
	if (*want && strcmp(want, had) == 0) {
		snprintf(ip, sizeof(ip), "%s", want);
	} else if (*want) {
		snprintf(ip, sizeof(ip), "%s", want);
		err = ipalloc_take(&s->ips, ip);
		if (err) {
			snprintf(msg, sizeof(msg),
				 "Invalid value: []string{\"%s\"}: failed to allocate IP %s: %s", ip,
				 ip,
				 err == -EEXIST ? "provided IP is already allocated"
				 : err == -ERANGE
					 ? "provided IP is not in the valid range. The range of "
					   "valid IPs is "
					 : "not a valid IP address");
			if (err == -ERANGE)
				strncat(msg, s->ips.cidr, sizeof(msg) - strlen(msg) - 1);
			add_cause(causes, "spec.clusterIPs", msg);
			return -1;
		}
		snprintf(tx->took_ip, sizeof(tx->took_ip), "%s", ip);
	} else {
		if (ipalloc_next(&s->ips, ip, sizeof(ip)) < 0) {
			add_cause(causes, "spec.clusterIPs",
				  "Invalid value: []string{}: failed to allocate a serviceIP: range is "
				  "full");
			return -1;
		}
		snprintf(tx->took_ip, sizeof(tx->took_ip), "%s", ip);
	}
	json_object_set_new(spec, "clusterIP", json_string(ip));
	json_object_set_new(spec, "clusterIPs", json_pack("[s]", ip));
	if (ip_is_real(had) && strcmp(had, ip) != 0)
		snprintf(tx->drop_ip, sizeof(tx->drop_ip), "%s", had);
	return 0;
}

int svc_alloc_prepare(struct apiserver *s, const json_t *old, json_t *svc,
		      struct svc_alloc_tx *tx, json_t *causes)
{
	json_t *spec = json_object_get(svc, "spec"), *p;
	size_t before = json_array_size(causes), i;
	char field[64];

	memset(tx, 0, sizeof(*tx));
	if (!json_is_object(spec))
		return 0;	/* validation reports it */
	pthread_mutex_lock(&s->alloc_lock);
	if (prepare_ip(s, old, svc, tx, causes) < 0)
		goto fail;
	json_array_foreach(json_object_get(spec, "ports"), i, p) {
		int np = (int)jsonx_int(p, "nodePort", 0);

		if (!json_is_object(p))
			continue;
		if (!needs_node_ports(svc)) {
			if (np && strcmp(svc_type(svc), "ClusterIP") == 0 && old &&
			    needs_node_ports(old))
				json_object_del(p, "nodePort");	/* type changed away */
			continue;
		}
		if (!np)
			np = old_node_port(old, p);
		snprintf(field, sizeof(field), "spec.ports[%zu].nodePort", i);
		if (!(np && old_holds_port(old, np)) && take_port(s, &np, tx, field, causes) < 0)
			goto fail;
		json_object_set_new(p, "nodePort", json_integer(np));
	}
	if (needs_health_port(svc)) {
		int np = (int)jsonx_int(spec, "healthCheckNodePort", 0);

		if (!np && old)
			np = (int)jsonx_path_int(old, "spec.healthCheckNodePort", 0);
		if (!(np && old_holds_port(old, np)) &&
		    take_port(s, &np, tx, "spec.healthCheckNodePort", causes) < 0)
			goto fail;
		json_object_set_new(spec, "healthCheckNodePort", json_integer(np));
	}
	/* What old held and svc no longer does is freed once the write lands. */
	if (old) {
		json_array_foreach(jsonx_get_path(old, "spec.ports"), i, p) {
			int np = (int)jsonx_int(p, "nodePort", 0);

			if (np && !old_holds_port(svc, np) && tx->ndrop < SVC_TX_MAX)
				tx->drop_ports[tx->ndrop++] = np;
		}
		int hc = (int)jsonx_path_int(old, "spec.healthCheckNodePort", 0);
		if (hc && !old_holds_port(svc, hc) && tx->ndrop < SVC_TX_MAX)
			tx->drop_ports[tx->ndrop++] = hc;
	}
	pthread_mutex_unlock(&s->alloc_lock);
	return 0;
fail:
	undo_locked(s, tx);
	pthread_mutex_unlock(&s->alloc_lock);
	return (int)(json_array_size(causes) - before);
}

void svc_alloc_commit(struct apiserver *s, struct svc_alloc_tx *tx)
{
	pthread_mutex_lock(&s->alloc_lock);
	if (tx->drop_ip[0])
		ipalloc_release(&s->ips, tx->drop_ip);
	for (int i = 0; i < tx->ndrop; i++)
		portalloc_release(&s->ports, tx->drop_ports[i]);
	pthread_mutex_unlock(&s->alloc_lock);
	memset(tx, 0, sizeof(*tx));
}

void svc_alloc_rollback(struct apiserver *s, struct svc_alloc_tx *tx)
{
	pthread_mutex_lock(&s->alloc_lock);
	undo_locked(s, tx);
	pthread_mutex_unlock(&s->alloc_lock);
	memset(tx, 0, sizeof(*tx));
}

void svc_release(struct apiserver *s, const json_t *svc)
{
	json_t *p;
	size_t i;

	pthread_mutex_lock(&s->alloc_lock);
	if (ip_is_real(cluster_ip(svc)))
		ipalloc_release(&s->ips, cluster_ip(svc));
	json_array_foreach(jsonx_get_path(svc, "spec.ports"), i, p) {
		if (jsonx_int(p, "nodePort", 0))
			portalloc_release(&s->ports, (int)jsonx_int(p, "nodePort", 0));
	}
	if (jsonx_path_int(svc, "spec.healthCheckNodePort", 0))
		portalloc_release(&s->ports, (int)jsonx_path_int(svc, "spec.healthCheckNodePort", 0));
	pthread_mutex_unlock(&s->alloc_lock);
}

void svc_alloc_rebuild(struct apiserver *s)
{
	struct cache_list l;

	cache_list(s->cache, "/registry/services/", NULL, 0, NULL, NULL, &l);
	pthread_mutex_lock(&s->alloc_lock);
	for (size_t n = 0; n < l.n; n++) {
		const json_t *svc = l.items[n]->obj;
		json_t *p;
		size_t i;

		if (ip_is_real(cluster_ip(svc)) && ipalloc_take(&s->ips, cluster_ip(svc)) < 0)
			log_warn("service %s: clusterIP %s outside the range or taken twice",
				 l.items[n]->key, cluster_ip(svc));
		json_array_foreach(jsonx_get_path(svc, "spec.ports"), i, p) {
			int np = (int)jsonx_int(p, "nodePort", 0);

			if (np && portalloc_take(&s->ports, np) < 0)
				log_warn("service %s: nodePort %d outside the range or taken twice",
					 l.items[n]->key, np);
		}
		int hc = (int)jsonx_path_int(svc, "spec.healthCheckNodePort", 0);
		if (hc && portalloc_take(&s->ports, hc) < 0)
			log_warn("service %s: healthCheckNodePort %d outside the range or taken twice",
				 l.items[n]->key, hc);
	}
	pthread_mutex_unlock(&s->alloc_lock);
	cache_list_release(&l);
}
