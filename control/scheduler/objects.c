/* objects.c - see objects.h. */
#include "control/scheduler/objects.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "ktime.h"
#include "quantity.h"
#include "util.h"

/* ---------------------------------------------------------------- resources */

bool sched_is_scalar_resource(const char *name)
{
	if (strncmp(name, "hugepages-", 10) == 0 || strncmp(name, "attachable-volumes-", 19) == 0)
		return true;
	/* Extended resources: domain-qualified names outside kubernetes.io (native ones), and
	 * not the quota spelling "requests.x". */
	return strchr(name, '/') && strncmp(name, "kubernetes.io/", 14) != 0 &&
	       strncmp(name, "requests.", 9) != 0;
}

static struct sched_scalar *scalar_slot(struct sched_res *r, const char *name)
{
	for (size_t i = 0; i < r->nscalar; i++)
		if (strcmp(r->scalar[i].name, name) == 0)
			return &r->scalar[i];
	r->scalar = xrealloc(r->scalar, (r->nscalar + 1) * sizeof(*r->scalar));
	r->scalar[r->nscalar] = (struct sched_scalar){ xstrdup(name), 0 };
	return &r->scalar[r->nscalar++];
}

int64_t sched_res_scalar(const struct sched_res *r, const char *name)
{
	for (size_t i = 0; i < r->nscalar; i++)
		if (strcmp(r->scalar[i].name, name) == 0)
			return r->scalar[i].value;
	return 0;
}

void sched_res_add(struct sched_res *dst, const struct sched_res *src, int sign)
{
	dst->milli_cpu += sign * src->milli_cpu;
	dst->memory += sign * src->memory;
	dst->ephemeral += sign * src->ephemeral;
	dst->pods += sign * src->pods;
	for (size_t i = 0; i < src->nscalar; i++)
		scalar_slot(dst, src->scalar[i].name)->value += sign * src->scalar[i].value;
}

/* dst = max(dst, src) per resource (SetMaxResource). */
static void res_max(struct sched_res *dst, const struct sched_res *src)
{
	dst->milli_cpu = MAX(dst->milli_cpu, src->milli_cpu);
	dst->memory = MAX(dst->memory, src->memory);
	dst->ephemeral = MAX(dst->ephemeral, src->ephemeral);
	for (size_t i = 0; i < src->nscalar; i++) {
		struct sched_scalar *s = scalar_slot(dst, src->scalar[i].name);

		s->value = MAX(s->value, src->scalar[i].value);
	}
}

void sched_res_free(struct sched_res *r)
{
	for (size_t i = 0; i < r->nscalar; i++)
		free(r->scalar[i].name);
	free(r->scalar);
	*r = (struct sched_res){ 0 };
}

int sched_res_parse(const json_t *list, struct sched_res *out)
{
	const char *name;
	json_t *v;
	int ret = 0;

	*out = (struct sched_res){ 0 };
	json_object_foreach((json_t *)list, name, v) {
		struct quantity q;

		if (quantity_parse_json(v, &q) < 0) {
			ret = -EINVAL;
			continue;
		}
		if (strcmp(name, "cpu") == 0)
			out->milli_cpu = quantity_milli(&q);
		else if (strcmp(name, "memory") == 0)
			out->memory = quantity_value(&q);
		else if (strcmp(name, "ephemeral-storage") == 0)
			out->ephemeral = quantity_value(&q);
		else if (strcmp(name, "pods") == 0)
			out->pods = quantity_value(&q);
		else if (sched_is_scalar_resource(name))
			scalar_slot(out, name)->value = quantity_value(&q);
	}
	return ret;
}

/* ---------------------------------------------------------------- pod parsing */

/* Keep the first problem only: it is what the FailedScheduling event reports. */
static void set_err(struct sched_pod *p, const char *what, const char *why)
{
	if (!p->err)
		p->err = xasprintf("%s: %s", what, why);
}

/*
 * One container's request. With nonzero, a missing cpu / memory key is charged the
 * defaults; pods never count.
 */
static void container_req(struct sched_pod *p, const json_t *c, bool nonzero, struct sched_res *out)
{
	const json_t *reqs = jsonx_getv(c, "resources", "requests", NULL);

	if (sched_res_parse(reqs, out) < 0)
		set_err(p, "resources.requests", "invalid quantity");
	out->pods = 0;
	if (nonzero) {
		if (!json_object_get(reqs, "cpu"))
			out->milli_cpu = SCHED_DEFAULT_MILLI_CPU;
		if (!json_object_get(reqs, "memory"))
			out->memory = SCHED_DEFAULT_MEMORY;
	}
}

/* Upstream PodRequests over containers, init containers (sidecars included) and overhead. */
static void pod_requests(struct sched_pod *p, const json_t *spec, bool nonzero,
			 struct sched_res *out)
{
	struct sched_res sidecars = { 0 }, init = { 0 }, c = { 0 }, over;
	const json_t *ct;
	size_t i;

	*out = (struct sched_res){ 0 };
	json_array_foreach(jsonx_arr(spec, "containers"), i, ct) {
		container_req(p, ct, nonzero, &c);
		sched_res_add(out, &c, 1);
		sched_res_free(&c);
	}
	json_array_foreach(jsonx_arr(spec, "initContainers"), i, ct) {
		container_req(p, ct, nonzero, &c);
		if (strcmp(jsonx_str(ct, "restartPolicy", ""), "Always") == 0) {
			/* A sidecar keeps running next to the app containers. */
			sched_res_add(out, &c, 1);
			sched_res_add(&sidecars, &c, 1);
			res_max(&init, &sidecars);
		} else {
			sched_res_add(&c, &sidecars, 1);
			res_max(&init, &c);
		}
		sched_res_free(&c);
	}
	res_max(out, &init);
	if (sched_res_parse(jsonx_obj(spec, "overhead"), &over) < 0)
		set_err(p, "spec.overhead", "invalid quantity");
	over.pods = 0;
	sched_res_add(out, &over, 1);
	sched_res_free(&over);
	sched_res_free(&sidecars);
	sched_res_free(&init);
}

static void parse_ports(struct sched_pod *p, const json_t *spec)
{
	const json_t *c, *port;
	size_t i, j;

	json_array_foreach(jsonx_arr(spec, "containers"), i, c) {
		json_array_foreach(jsonx_arr(c, "ports"), j, port) {
			long long hp = jsonx_int(port, "hostPort", 0);
			const char *ip = jsonx_str(port, "hostIP", ""), *proto;

			if (hp <= 0)
				continue;
			proto = jsonx_str(port, "protocol", "");
			p->ports = xrealloc(p->ports, (p->nports + 1) * sizeof(*p->ports));
			p->ports[p->nports++] = (struct sched_port){
				.ip = *ip ? ip : "0.0.0.0",
				.proto = *proto ? proto : "TCP",
				.port = (int)hp,
			};
		}
	}
}

static void parse_tolerations(struct sched_pod *p, const json_t *spec)
{
	const json_t *arr = jsonx_arr(spec, "tolerations"), *t;
	size_t i;

	p->ntols = json_array_size(arr);
	p->tols = p->ntols ? xcalloc(p->ntols, sizeof(*p->tols)) : NULL;
	json_array_foreach(arr, i, t) {
		const char *op = jsonx_str(t, "operator", "");

		p->tols[i] = (struct sched_toleration){
			.key = jsonx_str(t, "key", ""),
			.value = jsonx_str(t, "value", ""),
			.effect = jsonx_str(t, "effect", ""),
			.op = !*op || strcmp(op, "Equal") == 0 ? SCHED_TOL_EQUAL
			      : strcmp(op, "Exists") == 0      ? SCHED_TOL_EXISTS
							       : SCHED_TOL_BAD,
		};
	}
}

static int node_op(const char *op, enum selector_op *out)
{
	static const struct {
		const char *name;
		enum selector_op op;
	} ops[] = {
		{ "In", SELECTOR_OP_IN },	  { "NotIn", SELECTOR_OP_NOT_IN },
		{ "Exists", SELECTOR_OP_EXISTS }, { "DoesNotExist", SELECTOR_OP_DOES_NOT_EXIST },
		{ "Gt", SELECTOR_OP_GT },	  { "Lt", SELECTOR_OP_LT },
	};

	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		if (strcmp(op, ops[i].name) == 0) {
			*out = ops[i].op;
			return 0;
		}
	}
	return -EINVAL;
}

/* Compile one NodeSelectorTerm; an empty or invalid term matches nothing, as upstream. */
static void parse_node_term(const json_t *term, struct sched_node_term *out)
{
	const json_t *exprs = jsonx_arr(term, "matchExpressions"), *fields, *e;
	size_t i;

	*out = (struct sched_node_term){ .valid = true };
	fields = jsonx_arr(term, "matchFields");
	if (!json_array_size(exprs) && !json_array_size(fields)) {
		out->valid = false;
		return;
	}
	json_array_foreach(fields, i, e) {
		const char *op = jsonx_str(e, "operator", "");

		if (strcmp(jsonx_str(e, "key", ""), "metadata.name") != 0 ||
		    (strcmp(op, "In") != 0 && strcmp(op, "NotIn") != 0) ||
		    json_array_size(jsonx_arr(e, "values")) == 0)
			out->valid = false;
	}
	out->fields = json_array_size(fields) ? fields : NULL;
	if (!json_array_size(exprs))
		return;
	out->labels = selector_everything();
	json_array_foreach(exprs, i, e) {
		const json_t *vals = jsonx_arr(e, "values"), *v;
		const char **sv = xcalloc(json_array_size(vals) + 1, sizeof(*sv));
		enum selector_op op;
		size_t j;

		json_array_foreach(vals, j, v)
			sv[j] = json_is_string(v) ? json_string_value(v) : "";
		if (node_op(jsonx_str(e, "operator", ""), &op) < 0 ||
		    selector_add(out->labels, jsonx_str(e, "key", ""), op, sv,
				 json_array_size(vals), NULL, 0) < 0)
			out->valid = false;
		free(sv);
	}
}

static struct sched_node_term *parse_node_terms(const json_t *arr, bool weighted, size_t *n)
{
	struct sched_node_term *terms;
	const json_t *t;
	size_t i;

	*n = json_array_size(arr);
	if (!*n)
		return NULL;
	terms = xcalloc(*n, sizeof(*terms));
	json_array_foreach(arr, i, t) {
		parse_node_term(weighted ? jsonx_obj(t, "preference") : t, &terms[i]);
		terms[i].weight = weighted ? (int)jsonx_int(t, "weight", 0) : 0;
	}
	return terms;
}

/* Add key In (value) / NotIn (value) for matchLabelKeys / mismatchLabelKeys. */
static int merge_label_keys(struct sched_pod *p, struct selector *sel, const json_t *keys,
			    enum selector_op op)
{
	const json_t *k;
	size_t i;

	json_array_foreach(keys, i, k) {
		const char *v = jsonx_str(p->labels, json_string_value(k), NULL);

		if (v && selector_add(sel, json_string_value(k), op, &v, 1, NULL, 0) < 0)
			return -EINVAL;
	}
	return 0;
}

static struct sched_aff_term *parse_aff_terms(struct sched_pod *p, const json_t *arr, bool weighted,
					      size_t *n, const char *what)
{
	struct sched_aff_term *terms;
	const json_t *w;
	size_t i;

	*n = json_array_size(arr);
	if (!*n)
		return NULL;
	terms = xcalloc(*n, sizeof(*terms));
	json_array_foreach(arr, i, w) {
		const json_t *t = weighted ? jsonx_obj(w, "podAffinityTerm") : w;
		const json_t *nss = jsonx_arr(t, "namespaces"), *nsel;
		struct sched_aff_term *a = &terms[i];
		char why[256];

		a->weight = weighted ? (int)jsonx_int(w, "weight", 0) : 0;
		a->topology_key = jsonx_str(t, "topologyKey", "");
		if (selector_from_json(json_object_get(t, "labelSelector"), &a->sel, why,
				       sizeof(why)) < 0) {
			set_err(p, what, why);
			a->sel = selector_nothing();
		} else if (merge_label_keys(p, a->sel, jsonx_arr(t, "matchLabelKeys"),
					    SELECTOR_OP_IN) < 0 ||
			   merge_label_keys(p, a->sel, jsonx_arr(t, "mismatchLabelKeys"),
					    SELECTOR_OP_NOT_IN) < 0) {
			set_err(p, what, "invalid matchLabelKeys");
		}
		nsel = json_object_get(t, "namespaceSelector");
		if (nsel && !json_is_null(nsel) &&
		    selector_from_json(nsel, &a->ns_sel, why, sizeof(why)) < 0) {
			set_err(p, what, why);
			a->ns_sel = NULL;
		}
		if (json_array_size(nss))
			a->namespaces = nss;
		else if (!nsel || json_is_null(nsel))
			a->own_ns = p->ns;
	}
	return terms;
}

static void parse_spread(struct sched_pod *p, const json_t *spec)
{
	const json_t *arr = jsonx_arr(spec, "topologySpreadConstraints"), *c;
	size_t i;

	p->nspread = json_array_size(arr);
	p->spread = p->nspread ? xcalloc(p->nspread, sizeof(*p->spread)) : NULL;
	json_array_foreach(arr, i, c) {
		struct sched_spread *s = &p->spread[i];
		char why[256];

		s->max_skew = (int)jsonx_int(c, "maxSkew", 1);
		s->topology_key = jsonx_str(c, "topologyKey", "");
		s->hard = strcmp(jsonx_str(c, "whenUnsatisfiable", ""), "ScheduleAnyway") != 0;
		s->min_domains = (int)jsonx_int(c, "minDomains", 0);
		s->honor_affinity = strcmp(jsonx_str(c, "nodeAffinityPolicy", ""), "Ignore") != 0;
		s->honor_taints = strcmp(jsonx_str(c, "nodeTaintsPolicy", ""), "Honor") == 0;
		if (selector_from_json(json_object_get(c, "labelSelector"), &s->sel, why,
				       sizeof(why)) < 0) {
			set_err(p, "topologySpreadConstraints", why);
			s->sel = selector_nothing();
		} else if (merge_label_keys(p, s->sel, jsonx_arr(c, "matchLabelKeys"),
					    SELECTOR_OP_IN) < 0) {
			set_err(p, "topologySpreadConstraints", "invalid matchLabelKeys");
		}
		if (s->max_skew < 1 || !*s->topology_key)
			set_err(p, "topologySpreadConstraints",
				"maxSkew must be >= 1 and topologyKey set");
	}
}

static const char *controller_uid(const json_t *meta)
{
	const json_t *ref;
	size_t i;

	json_array_foreach(jsonx_arr(meta, "ownerReferences"), i, ref)
		if (jsonx_bool(ref, "controller", false))
			return jsonx_str(ref, "uid", NULL);
	return NULL;
}

int sched_pod_parse(json_t *obj, struct sched_pod **out, char *err, size_t errlen)
{
	const json_t *meta = jsonx_obj(obj, "metadata"), *spec = jsonx_obj(obj, "spec"), *aff;
	const char *name = jsonx_str(meta, "name", ""), *ns = jsonx_str(meta, "namespace", "");
	const char *phase = jsonx_path_str(obj, "status.phase", "");
	const json_t *nodesel;
	struct sched_res nz;
	struct sched_pod *p;
	char why[256];

	if (!*name || !*ns) {
		snprintf(err, errlen, "pod without metadata.name or metadata.namespace");
		return -EINVAL;
	}
	p = xcalloc(1, sizeof(*p));
	p->refs = 1;
	p->obj = json_incref(obj);
	p->key = xasprintf("%s/%s", ns, name);
	p->ns = ns;
	p->name = name;
	p->uid = jsonx_str(meta, "uid", "");
	p->labels = jsonx_obj(meta, "labels");
	p->owner_uid = controller_uid(meta);
	p->node_name = jsonx_str(spec, "nodeName", "");
	p->scheduler_name = jsonx_str(spec, "schedulerName", "");
	if (!*p->scheduler_name)
		p->scheduler_name = SCHED_DEFAULT_SCHEDULER;
	p->priority = (int32_t)jsonx_int(spec, "priority", 0);
	if (ktime_parse(jsonx_str(meta, "creationTimestamp", ""), &p->created_ns) < 0)
		p->created_ns = 0;
	p->terminating = json_object_get(meta, "deletionTimestamp") &&
			 !json_is_null(json_object_get(meta, "deletionTimestamp"));
	p->finished = strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0;
	p->gated = json_array_size(jsonx_arr(spec, "schedulingGates")) > 0;

	pod_requests(p, spec, false, &p->req);
	pod_requests(p, spec, true, &nz);
	p->nz_milli_cpu = nz.milli_cpu;
	p->nz_memory = nz.memory;
	sched_res_free(&nz);
	parse_ports(p, spec);
	parse_tolerations(p, spec);

	nodesel = jsonx_obj(spec, "nodeSelector");
	if (json_object_size(nodesel) &&
	    selector_from_map(nodesel, &p->node_selector, why, sizeof(why)) < 0) {
		set_err(p, "spec.nodeSelector", why);
		p->node_selector = selector_nothing();
	}
	aff = jsonx_obj(spec, "affinity");
	{
		const json_t *na = jsonx_obj(aff, "nodeAffinity");
		const json_t *req = jsonx_obj(na, "requiredDuringSchedulingIgnoredDuringExecution");

		p->has_node_req = req != NULL;
		p->node_req =
			parse_node_terms(jsonx_arr(req, "nodeSelectorTerms"), false, &p->nnode_req);
		p->node_pref = parse_node_terms(
			jsonx_arr(na, "preferredDuringSchedulingIgnoredDuringExecution"), true,
			&p->nnode_pref);
	}
	{
		const json_t *pa = jsonx_obj(aff, "podAffinity"),
			     *paa = jsonx_obj(aff, "podAntiAffinity");
		static const char req[] = "requiredDuringSchedulingIgnoredDuringExecution";
		static const char pref[] = "preferredDuringSchedulingIgnoredDuringExecution";

		p->aff_req =
			parse_aff_terms(p, jsonx_arr(pa, req), false, &p->naff_req, "podAffinity");
		p->aff_pref =
			parse_aff_terms(p, jsonx_arr(pa, pref), true, &p->naff_pref, "podAffinity");
		p->anti_req = parse_aff_terms(p, jsonx_arr(paa, req), false, &p->nanti_req,
					      "podAntiAffinity");
		p->anti_pref = parse_aff_terms(p, jsonx_arr(paa, pref), true, &p->nanti_pref,
					       "podAntiAffinity");
	}
	parse_spread(p, spec);
	*out = p;
	return 0;
}

struct sched_pod *sched_pod_get(struct sched_pod *p)
{
	p->refs++;
	return p;
}

static void free_node_terms(struct sched_node_term *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		selector_free(t[i].labels);
	free(t);
}

static void free_aff_terms(struct sched_aff_term *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		selector_free(t[i].sel);
		selector_free(t[i].ns_sel);
	}
	free(t);
}

void sched_pod_put(struct sched_pod *p)
{
	if (!p || --p->refs > 0)
		return;
	sched_res_free(&p->req);
	free(p->ports);
	free(p->tols);
	selector_free(p->node_selector);
	free_node_terms(p->node_req, p->nnode_req);
	free_node_terms(p->node_pref, p->nnode_pref);
	free_aff_terms(p->aff_req, p->naff_req);
	free_aff_terms(p->aff_pref, p->naff_pref);
	free_aff_terms(p->anti_req, p->nanti_req);
	free_aff_terms(p->anti_pref, p->nanti_pref);
	for (size_t i = 0; i < p->nspread; i++)
		selector_free(p->spread[i].sel);
	free(p->spread);
	free(p->err);
	free(p->key);
	json_decref(p->obj);
	free(p);
}

/* ---------------------------------------------------------------- matching */

bool sched_toleration_matches(const struct sched_toleration *t, const struct sched_taint *taint)
{
	if (*t->effect && strcmp(t->effect, taint->effect) != 0)
		return false;
	if (*t->key && strcmp(t->key, taint->key) != 0)
		return false;
	switch (t->op) {
	case SCHED_TOL_EQUAL:
		return strcmp(t->value, taint->value) == 0;
	case SCHED_TOL_EXISTS:
		return true;
	default:
		return false;
	}
}

bool sched_pod_tolerates(const struct sched_pod *p, const struct sched_taint *taint)
{
	for (size_t i = 0; i < p->ntols; i++)
		if (sched_toleration_matches(&p->tols[i], taint))
			return true;
	return false;
}

static bool value_in(const json_t *vals, const char *s)
{
	const json_t *v;
	size_t i;

	json_array_foreach(vals, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

bool sched_node_term_matches(const struct sched_node_term *t, const struct sched_node *n)
{
	const json_t *f;
	size_t i;

	if (!t->valid)
		return false;
	if (t->labels && !selector_matches(t->labels, n->labels))
		return false;
	json_array_foreach(t->fields, i, f) {
		bool in = value_in(jsonx_arr(f, "values"), n->name);

		if (in != (strcmp(jsonx_str(f, "operator", ""), "In") == 0))
			return false;
	}
	return true;
}

bool sched_pod_matches_node_affinity(const struct sched_pod *p, const struct sched_node *n)
{
	if (p->node_selector && !selector_matches(p->node_selector, n->labels))
		return false;
	if (!p->has_node_req)
		return true;
	for (size_t i = 0; i < p->nnode_req; i++)
		if (sched_node_term_matches(&p->node_req[i], n))
			return true;
	return false;
}

bool sched_aff_term_matches(const struct sched_aff_term *t, const struct sched_pod *other,
			    const json_t *ns_labels)
{
	bool ns_ok = (t->own_ns && strcmp(t->own_ns, other->ns) == 0) ||
		     (t->namespaces && value_in(t->namespaces, other->ns)) ||
		     (t->ns_sel && selector_matches(t->ns_sel, ns_labels));

	return ns_ok && selector_matches(t->sel, other->labels);
}

/* ---------------------------------------------------------------- nodes */

int sched_node_set(struct sched_node *n, json_t *obj, char *err, size_t errlen)
{
	const char *name = jsonx_path_str(obj, "metadata.name", "");
	const json_t *taints, *t;
	size_t i;
	int ret = 0;

	if (!*name) {
		snprintf(err, errlen, "node without metadata.name");
		return -EINVAL;
	}
	json_incref(obj);
	json_decref(n->obj);
	n->obj = obj;
	if (!n->name) {
		n->name = xstrdup(name);
	} else if (strcmp(n->name, name) != 0) {
		free(n->name);
		n->name = xstrdup(name);
	}
	n->labels = jsonx_getv(obj, "metadata", "labels", NULL);
	n->unschedulable = jsonx_path_bool(obj, "spec.unschedulable", false);
	taints = jsonx_get_path(obj, "spec.taints");
	free(n->taints);
	n->ntaints = json_array_size(taints);
	n->taints = n->ntaints ? xcalloc(n->ntaints, sizeof(*n->taints)) : NULL;
	json_array_foreach(taints, i, t)
		n->taints[i] =
			(struct sched_taint){ jsonx_str(t, "key", ""), jsonx_str(t, "value", ""),
					      jsonx_str(t, "effect", "") };
	sched_res_free(&n->alloc);
	if (sched_res_parse(jsonx_get_path(obj, "status.allocatable"), &n->alloc) < 0) {
		snprintf(err, errlen, "node %s: invalid quantity in status.allocatable", name);
		ret = -EINVAL;
	}
	return ret;
}

const char *sched_node_label(const struct sched_node *n, const char *key)
{
	return json_string_value(json_object_get(n->labels, key));
}

void sched_node_free(struct sched_node *n)
{
	if (!n)
		return;
	json_decref(n->obj);
	free(n->name);
	free(n->taints);
	sched_res_free(&n->alloc);
	sched_res_free(&n->requested);
	free(n->pods);
	free(n);
}
