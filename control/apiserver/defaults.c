/*
 * defaults.c - the defaults upstream fills into objects before validating and storing
 * them, so that what capstan stores (and kubectl shows) matches a real cluster.
 *
 * Design. Four upstream layers are folded into defaults_apply(), in upstream's order:
 *
 *   1. the v1 / apps/v1 / discovery/v1 SetDefaults_* functions as defaulter-gen wires
 *      them (a Deployment gets SetDefaults_PodSpec for its template but not
 *      SetDefaults_Pod, whose enableServiceLinks and requests-from-limits are Pod-only);
 *   2. what serialization does on the way to storage: quantities printed in canonical
 *      form after SetDefaults_ResourceList's round-up to milli ("0.5" -> "500m"),
 *      Secret stringData merged into data, the deprecated spec.serviceAccount mirrored;
 *   3. registry strategies that behave like defaults on create: a Service's clusterIPs
 *      from clusterIP and its IP families (for an IPv4 single-stack cluster), a
 *      Namespace's "kubernetes" finalizer;
 *   4. the admission plugins every Pod passes: ServiceAccount (serviceAccountName
 *      "default"), DefaultTolerationSeconds (not-ready / unreachable for 300 s) and
 *      Priority (priority 0 or a system class's value, preemptionPolicy).
 *
 * Go fills a field when it is unset, and "unset" depends on the Go type: nil for
 * pointer fields (absent or JSON null here) but also the zero value for plain ones
 * ("" or 0), so each default below says which it means. A member of the wrong JSON
 * type is never touched: validation reports it, and defaulting must not hide it.
 *
 * Not done here: allocation (cluster IPs, node ports), name generation, the
 * ServiceAccount plugin's token volume, and the Pod status a create starts with.
 */
#include "control/apiserver/validate.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "quantity.h"
#include "util.h"

/* ------------------------------------------------------------------ helpers */

/* Absent or null: a nil pointer field. */
static bool unset(const json_t *obj, const char *key)
{
	json_t *j = json_object_get(obj, key);

	return !j || json_is_null(j);
}

/* Absent, null or "": a plain string field at its zero value. */
static bool unset_str(const json_t *obj, const char *key)
{
	json_t *j = json_object_get(obj, key);

	return !j || json_is_null(j) || (json_is_string(j) && !json_string_length(j));
}

/* Absent, null or 0: a plain number field at its zero value. */
static bool unset_num(const json_t *obj, const char *key)
{
	json_t *j = json_object_get(obj, key);

	return !j || json_is_null(j) || (json_is_number(j) && json_number_value(j) == 0);
}

static void set_str(json_t *obj, const char *key, const char *val)
{
	json_object_set_new(obj, key, json_string(val));
}

static void set_int(json_t *obj, const char *key, long long val)
{
	json_object_set_new(obj, key, json_integer(val));
}

static void default_str(json_t *obj, const char *key, const char *val)
{
	if (json_is_object(obj) && unset_str(obj, key))
		set_str(obj, key, val);
}

/* The object at key, created when absent or null; NULL when it has another type. */
static json_t *ensure_obj(json_t *obj, const char *key)
{
	json_t *j = json_object_get(obj, key);

	if (!json_is_object(obj))
		return NULL;
	if (!j || json_is_null(j)) {
		j = json_object();
		json_object_set_new(obj, key, j);
	}
	return json_is_object(j) ? j : NULL;
}

static json_t *ensure_arr(json_t *obj, const char *key)
{
	json_t *j = json_object_get(obj, key);

	if (!json_is_object(obj))
		return NULL;
	if (!j || json_is_null(j)) {
		j = json_array();
		json_object_set_new(obj, key, j);
	}
	return json_is_array(j) ? j : NULL;
}

/* ------------------------------------------------------------------ quantities */

/*
 * SetDefaults_ResourceList rounds every quantity up to milli precision, and the
 * serializer prints it in canonical form; unparsable values are left for validation.
 */
static void resource_list(json_t *list)
{
	const char *k;
	json_t *val;

	json_object_foreach(list, k, val) {
		struct quantity q;
		char buf[QUANTITY_BUFSZ];
		__int128 rem;

		if (quantity_parse_json(val, &q))
			continue;
		rem = q.nano % 1000000;
		if (rem)
			q.nano += rem > 0 ? 1000000 - rem : -1000000 - rem;
		if (!quantity_format(&q, buf, sizeof(buf)))
			set_str(list, k, buf);
	}
}

static void resources(json_t *r)
{
	resource_list(jsonx_obj(r, "limits"));
	resource_list(jsonx_obj(r, "requests"));
}

/* ------------------------------------------------------------------ images */

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A path component: [a-z0-9]+ joined by '.', '_', "__" or runs of '-'. */
static bool path_component_ok(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t run = 0, sep = 0;

		while (i < n && lower_alnum(s[i]))
			i++, run++;
		if (!run)
			return false;
		if (i == n)
			return true;
		if (s[i] == '.' || s[i] == '_') {
			sep = s[i] == '_' && i + 1 < n && s[i + 1] == '_' ? 2 : 1;
		} else {
			while (i + sep < n && s[i + sep] == '-')
				sep++;
		}
		if (!sep)
			return false;
		i += sep;
		if (i == n)
			return false;
	}
	return false;
}

static bool domain_ok(const char *s, size_t n)
{
	size_t i;

	if (!n)
		return false;
	if (s[0] == '[')
		return memchr(s, ']', n) != NULL;
	for (i = 0; i < n && s[i] != ':'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
			return false;
	if (!i || s[0] == '.' || s[0] == '-')
		return false;
	if (i < n) {
		if (i + 1 == n)
			return false;
		for (i++; i < n; i++)
			if (s[i] < '0' || s[i] > '9')
				return false;
	}
	return true;
}

/* The repository part of a reference, as docker's ParseNormalizedNamed accepts it. */
static bool repository_ok(const char *s, size_t n)
{
	const char *slash = memchr(s, '/', n);
	size_t first = slash ? (size_t)(slash - s) : n, start = 0;
	bool domain = false;

	if (!n || n > 255)
		return false;
	if (slash) {
		domain = memchr(s, '.', first) || memchr(s, ':', first) ||
			 (first == 9 && !strncmp(s, "localhost", 9));
		for (size_t i = 0; i < first && !domain; i++)
			domain = s[i] >= 'A' && s[i] <= 'Z';
	}
	if (domain) {
		if (!domain_ok(s, first))
			return false;
		start = first + 1;
	}
	while (start <= n) {
		const char *next = memchr(s + start, '/', n - start);
		size_t end = next ? (size_t)(next - s) : n;

		if (!path_component_ok(s + start, end - start))
			return false;
		start = end + 1;
	}
	return true;
}

static bool tag_ok(const char *s, size_t n)
{
	if (!n || n > 128 || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

/*
 * SetDefaults_Container's rule via parsers.ParseImageName: an image whose tag is
 * "latest", or that has neither tag nor digest, is pulled Always; a tagged or digested
 * one IfNotPresent; so is one that does not parse (validation reports it elsewhere).
 */
static bool image_pulls_always(const char *image)
{
	const char *at = strchr(image, '@');
	size_t n = at ? (size_t)(at - image) : strlen(image), name_len = n;
	const char *slash = memrchr(image, '/', n);
	const char *from = slash ? slash + 1 : image;
	const char *colon = memchr(from, ':', n - (size_t)(from - image));

	if (at && (!strchr(at + 1, ':') || at[1] == ':'))
		return false;
	if (colon) {
		name_len = (size_t)(colon - image);
		if (!tag_ok(colon + 1, n - name_len - 1))
			return false;
	}
	if (!repository_ok(image, name_len))
		return false;
	if (colon)
		return n - name_len - 1 == 6 && !strncmp(colon + 1, "latest", 6);
	return !at;
}

/* ------------------------------------------------------------------ pod spec */

static void field_ref(json_t *holder)
{
	default_str(jsonx_obj(holder, "fieldRef"), "apiVersion", "v1");
}

static void http_get(json_t *h)
{
	json_t *g = jsonx_obj(h, "httpGet");

	default_str(g, "path", "/");
	default_str(g, "scheme", "HTTP");
}

static void probe(json_t *p)
{
	static const struct {
		const char *key;
		int val;
	} timing[] = { { "timeoutSeconds", 1 },
		       { "periodSeconds", 10 },
		       { "successThreshold", 1 },
		       { "failureThreshold", 3 } };

	if (!json_is_object(p))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(timing); i++)
		if (unset_num(p, timing[i].key))
			set_int(p, timing[i].key, timing[i].val);
	http_get(p);
}

static void container(json_t *c)
{
	json_t *arr, *e, *lc;
	size_t i;

	if (!json_is_object(c))
		return;
	if (unset_str(c, "imagePullPolicy") &&
	    (json_is_string(json_object_get(c, "image")) || unset(c, "image")))
		set_str(c, "imagePullPolicy",
			image_pulls_always(jsonx_str(c, "image", "")) ? "Always" : "IfNotPresent");
	default_str(c, "terminationMessagePath", "/dev/termination-log");
	default_str(c, "terminationMessagePolicy", "File");
	arr = jsonx_arr(c, "ports");
	json_array_foreach(arr, i, e)
		default_str(e, "protocol", "TCP");
	arr = jsonx_arr(c, "env");
	json_array_foreach(arr, i, e)
		field_ref(jsonx_obj(e, "valueFrom"));
	resources(jsonx_obj(c, "resources"));
	probe(jsonx_obj(c, "livenessProbe"));
	probe(jsonx_obj(c, "readinessProbe"));
	probe(jsonx_obj(c, "startupProbe"));
	lc = jsonx_obj(c, "lifecycle");
	http_get(jsonx_obj(lc, "postStart"));
	http_get(jsonx_obj(lc, "preStop"));
}

static void default_mode(json_t *src)
{
	if (json_is_object(src) && unset(src, "defaultMode"))
		set_int(src, "defaultMode", 0644);
}

static void downward_items(json_t *src)
{
	json_t *f;
	size_t i;

	json_array_foreach(jsonx_arr(src, "items"), i, f)
		field_ref(f);
}

static void volume(json_t *vol)
{
	json_t *s, *src;
	bool any = false;
	size_t i;

	const char *key;
	json_t *val;

	if (!json_is_object(vol))
		return;
	/*
	 * A volume that names no source is an emptyDir. Any member but the name counts as
	 * a source here (upstream would drop unknown members first; validation rejects
	 * those anyway, as not a volume type).
	 */
	json_object_foreach(vol, key, val)
		any |= strcmp(key, "name") && !json_is_null(val);
	if (!any)
		json_object_set_new(vol, "emptyDir", json_object());
	if ((src = jsonx_obj(vol, "hostPath")) && unset(src, "type"))
		set_str(src, "type", "");
	default_mode(jsonx_obj(vol, "secret"));
	default_mode(jsonx_obj(vol, "configMap"));
	if ((src = jsonx_obj(vol, "downwardAPI"))) {
		default_mode(src);
		downward_items(src);
	}
	if ((src = jsonx_obj(vol, "projected"))) {
		default_mode(src);
		json_array_foreach(jsonx_arr(src, "sources"), i, s) {
			json_t *tok = jsonx_obj(s, "serviceAccountToken");

			downward_items(jsonx_obj(s, "downwardAPI"));
			if (tok && unset(tok, "expirationSeconds"))
				set_int(tok, "expirationSeconds", 3600);
		}
	}
	default_str(jsonx_obj(vol, "iscsi"), "iscsiInterface", "default");
	if ((src = jsonx_obj(vol, "rbd"))) {
		default_str(src, "pool", "rbd");
		default_str(src, "user", "admin");
		default_str(src, "keyring", "/etc/ceph/keyring");
	}
	if ((src = jsonx_obj(vol, "azureDisk"))) {
		if (unset(src, "cachingMode"))
			set_str(src, "cachingMode", "ReadWrite");
		if (unset(src, "fsType"))
			set_str(src, "fsType", "ext4");
		if (unset(src, "readOnly"))
			json_object_set_new(src, "readOnly", json_false());
		if (unset(src, "kind"))
			set_str(src, "kind", "Shared");
	}
	if ((src = jsonx_obj(vol, "scaleIO"))) {
		default_str(src, "storageMode", "ThinProvisioned");
		default_str(src, "fsType", "xfs");
	}
	src = jsonx_getv(vol, "ephemeral", "volumeClaimTemplate", "spec", NULL);
	if (json_is_object(src)) {
		if (unset(src, "volumeMode"))
			set_str(src, "volumeMode", "Filesystem");
		resources(jsonx_obj(src, "resources"));
	}
}

/* v1 conversion keeps the deprecated serviceAccount equal to serviceAccountName. */
static void service_account_mirror(json_t *spec)
{
	const char *dep = jsonx_str(spec, "serviceAccount", "");

	if (unset_str(spec, "serviceAccountName") && *dep)
		set_str(spec, "serviceAccountName", dep);
	if (json_is_string(json_object_get(spec, "serviceAccountName")) &&
	    *jsonx_str(spec, "serviceAccountName", ""))
		set_str(spec, "serviceAccount", jsonx_str(spec, "serviceAccountName", ""));
}

/* SetDefaults_PodSpec plus the defaults of everything inside a pod spec. */
static void pod_spec(json_t *spec)
{
	static const char *const lists[] = { "initContainers", "containers", "ephemeralContainers",
					     NULL };
	json_t *c;
	size_t i;

	if (!json_is_object(spec))
		return;
	default_str(spec, "dnsPolicy", "ClusterFirst");
	default_str(spec, "restartPolicy", "Always");
	if (unset(spec, "securityContext"))
		json_object_set_new(spec, "securityContext", json_object());
	if (unset(spec, "terminationGracePeriodSeconds"))
		set_int(spec, "terminationGracePeriodSeconds", 30);
	default_str(spec, "schedulerName", "default-scheduler");
	json_array_foreach(jsonx_arr(spec, "volumes"), i, c)
		volume(c);
	for (size_t l = 0; lists[l]; l++)
		json_array_foreach(jsonx_arr(spec, lists[l]), i, c)
			container(c);
	resource_list(jsonx_obj(spec, "overhead"));
	service_account_mirror(spec);
}

static void pod_template(json_t *obj)
{
	pod_spec(jsonx_getv(obj, "spec", "template", "spec", NULL));
}

/* ------------------------------------------------------------------ Pod */

/* SetDefaults_Pod: requests default to limits, per resource, for a Pod only. */
static void requests_from_limits(json_t *c)
{
	json_t *r = jsonx_obj(c, "resources"), *lim = jsonx_obj(r, "limits"), *req, *val;
	const char *k;

	if (!lim || !(req = ensure_obj(r, "requests")))
		return;
	json_object_foreach(lim, k, val)
		if (!json_object_get(req, k))
			json_object_set_new(req, k, json_deep_copy(val));
}

static void host_network_ports(json_t *c)
{
	json_t *p;
	size_t i;

	json_array_foreach(jsonx_arr(c, "ports"), i, p)
		if (json_is_object(p) && unset_num(p, "hostPort") &&
		    json_is_integer(json_object_get(p, "containerPort")))
			json_object_set(p, "hostPort", json_object_get(p, "containerPort"));
}

static json_t *toleration(const char *key)
{
	return json_pack("{ss ss ss sI}", "key", key, "operator", "Exists", "effect", "NoExecute",
			 "tolerationSeconds", (json_int_t)300);
}

/*
 * DefaultTolerationSeconds: unless the pod already tolerates the taint (a toleration
 * with that key or no key, and effect NoExecute or none), it is evicted 300 s after
 * its node goes not-ready or unreachable.
 */
static void default_tolerations(json_t *spec)
{
	static const char *const taints[] = { "node.kubernetes.io/not-ready",
					      "node.kubernetes.io/unreachable" };
	json_t *arr = ensure_arr(spec, "tolerations"), *t;
	bool have[2] = { false, false };
	size_t i;

	if (!arr)
		return;
	json_array_foreach(arr, i, t) {
		const char *key = jsonx_str(t, "key", ""), *eff = jsonx_str(t, "effect", "");

		for (int k = 0; k < 2; k++)
			if ((!strcmp(key, taints[k]) || !*key) &&
			    (!strcmp(eff, "NoExecute") || !*eff))
				have[k] = true;
	}
	for (int k = 0; k < 2; k++)
		if (!have[k])
			json_array_append_new(arr, toleration(taints[k]));
}

/*
 * Priority admission without PriorityClass objects: no class means priority 0 (no
 * global default class exists); the two system classes have fixed values. Other class
 * names need a lookup the caller does; they are left alone.
 */
static void priority(json_t *spec)
{
	const char *pc = jsonx_str(spec, "priorityClassName", NULL);
	long long prio;

	if (pc && !strcmp(pc, "system-node-critical"))
		prio = 2000001000;
	else if (pc && !strcmp(pc, "system-cluster-critical"))
		prio = 2000000000;
	else if (!pc || !*pc)
		prio = 0;
	else
		return;
	if (unset(spec, "priority"))
		set_int(spec, "priority", prio);
	if (unset(spec, "preemptionPolicy"))
		set_str(spec, "preemptionPolicy", "PreemptLowerPriority");
}

static void pod(json_t *obj)
{
	json_t *spec = jsonx_obj(obj, "spec"), *c;
	json_t *ann = jsonx_getv(obj, "metadata", "annotations", NULL);
	size_t i;

	if (!spec)
		return;
	json_array_foreach(jsonx_arr(spec, "containers"), i, c)
		requests_from_limits(c);
	json_array_foreach(jsonx_arr(spec, "initContainers"), i, c)
		requests_from_limits(c);
	if (unset(spec, "enableServiceLinks"))
		json_object_set_new(spec, "enableServiceLinks", json_true());
	if (jsonx_bool(spec, "hostNetwork", false)) {
		json_array_foreach(jsonx_arr(spec, "containers"), i, c)
			host_network_ports(c);
		json_array_foreach(jsonx_arr(spec, "initContainers"), i, c)
			host_network_ports(c);
	}
	pod_spec(spec);
	/* The ServiceAccount plugin leaves static (mirror) pods alone. */
	if (!jsonx_str(ann, "kubernetes.io/config.mirror", NULL))
		default_str(spec, "serviceAccountName", "default");
	service_account_mirror(spec);
	default_tolerations(spec);
	priority(spec);
}

/* ------------------------------------------------------------------ apps/v1 */

static void int_or_string(json_t *obj, const char *key, json_t *val)
{
	if (unset(obj, key))
		json_object_set_new(obj, key, val);
	else
		json_decref(val);
}

static void deployment(json_t *obj)
{
	json_t *spec = jsonx_obj(obj, "spec"), *st, *ru;

	if (!spec)
		return;
	if (unset(spec, "replicas"))
		set_int(spec, "replicas", 1);
	st = ensure_obj(spec, "strategy");
	default_str(st, "type", "RollingUpdate");
	if (st && !strcmp(jsonx_str(st, "type", ""), "RollingUpdate") &&
	    (ru = ensure_obj(st, "rollingUpdate"))) {
		int_or_string(ru, "maxUnavailable", json_string("25%"));
		int_or_string(ru, "maxSurge", json_string("25%"));
	}
	if (unset(spec, "revisionHistoryLimit"))
		set_int(spec, "revisionHistoryLimit", 10);
	if (unset(spec, "progressDeadlineSeconds"))
		set_int(spec, "progressDeadlineSeconds", 600);
	pod_template(obj);
}

static void replicaset(json_t *obj)
{
	json_t *spec = jsonx_obj(obj, "spec");

	if (spec && unset(spec, "replicas"))
		set_int(spec, "replicas", 1);
	pod_template(obj);
}

static void daemonset(json_t *obj)
{
	json_t *spec = jsonx_obj(obj, "spec"), *st, *ru;

	if (!spec)
		return;
	st = ensure_obj(spec, "updateStrategy");
	default_str(st, "type", "RollingUpdate");
	if (st && !strcmp(jsonx_str(st, "type", ""), "RollingUpdate") &&
	    (ru = ensure_obj(st, "rollingUpdate"))) {
		int_or_string(ru, "maxUnavailable", json_integer(1));
		int_or_string(ru, "maxSurge", json_integer(0));
	}
	if (unset(spec, "revisionHistoryLimit"))
		set_int(spec, "revisionHistoryLimit", 10);
	pod_template(obj);
}

/* ------------------------------------------------------------------ Service */

static bool is_ipv6(const char *ip)
{
	/* IPv4-mapped IPv6 counts as IPv4, as Go's net.IP does. */
	return strchr(ip, ':') && strncasecmp(ip, "::ffff:", 7);
}

static bool first_is_ipv4(const json_t *fams)
{
	const char *f = json_string_value(json_array_get(fams, 0));

	return f && !strcmp(f, "IPv4");
}

/*
 * The service registry's IP-family initialisation on create, for a cluster whose
 * service CIDR is IPv4 only: SingleStack unless headless and selectorless (those
 * default to RequireDualStack and list both families), families inferred from the
 * cluster IPs, else IPv4.
 */
static void service_ip_families(json_t *spec)
{
	const char *cip = jsonx_str(spec, "clusterIP", "");
	json_t *ips = jsonx_arr(spec, "clusterIPs"), *fams, *ip;
	json_t *sel = json_object_get(spec, "selector");
	bool headless_nosel =
		!strcmp(cip, "None") &&
		(!sel || json_is_null(sel) || (json_is_object(sel) && !json_object_size(sel)));
	size_t i;

	if (*cip && unset(spec, "clusterIPs")) {
		json_object_set_new(spec, "clusterIPs", json_pack("[s]", cip));
		ips = jsonx_arr(spec, "clusterIPs");
	}
	if (unset(spec, "ipFamilyPolicy"))
		set_str(spec, "ipFamilyPolicy",
			headless_nosel ? "RequireDualStack" : "SingleStack");
	if (!(fams = ensure_arr(spec, "ipFamilies")))
		return;
	json_array_foreach(ips, i, ip) {
		const char *s = json_string_value(ip);

		if (!s || !strcmp(s, "None"))
			break;
		if (i >= json_array_size(fams))
			json_array_append_new(fams, json_string(is_ipv6(s) ? "IPv6" : "IPv4"));
	}
	if (!json_array_size(fams))
		json_array_append_new(fams, json_string("IPv4"));
	if (headless_nosel && json_array_size(fams) < 2 &&
	    strcmp(jsonx_str(spec, "ipFamilyPolicy", ""), "SingleStack"))
		json_array_append_new(fams, json_string(first_is_ipv4(fams) ? "IPv6" : "IPv4"));
}

static void service(json_t *obj)
{
	json_t *spec = jsonx_obj(obj, "spec"), *p, *ing;
	const char *type, *aff;
	size_t i;

	if (!spec)
		return;
	default_str(spec, "sessionAffinity", "None");
	aff = jsonx_str(spec, "sessionAffinity", "");
	if (!strcmp(aff, "None")) {
		json_object_del(spec, "sessionAffinityConfig");
	} else if (!strcmp(aff, "ClientIP") &&
		   unset(jsonx_getv(spec, "sessionAffinityConfig", "clientIP", NULL),
			 "timeoutSeconds")) {
		json_object_set_new(
			spec, "sessionAffinityConfig",
			json_pack("{s{sI}}", "clientIP", "timeoutSeconds", (json_int_t)10800));
	}
	default_str(spec, "type", "ClusterIP");
	type = jsonx_str(spec, "type", "");
	json_array_foreach(jsonx_arr(spec, "ports"), i, p) {
		json_t *tp;

		if (!json_is_object(p))
			continue;
		default_str(p, "protocol", "TCP");
		tp = json_object_get(p, "targetPort");
		if ((!tp || json_is_null(tp) || (json_is_integer(tp) && !json_integer_value(tp)) ||
		     (json_is_string(tp) && !json_string_length(tp))) &&
		    json_is_integer(json_object_get(p, "port")))
			json_object_set(p, "targetPort", json_object_get(p, "port"));
	}
	if ((!strcmp(type, "LoadBalancer") || !strcmp(type, "NodePort") ||
	     (!strcmp(type, "ClusterIP") && json_array_size(jsonx_arr(spec, "externalIPs")))))
		default_str(spec, "externalTrafficPolicy", "Cluster");
	if (unset(spec, "internalTrafficPolicy") &&
	    (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer") ||
	     !strcmp(type, "ClusterIP")))
		set_str(spec, "internalTrafficPolicy", "Cluster");
	if (!strcmp(type, "LoadBalancer")) {
		if (unset(spec, "allocateLoadBalancerNodePorts"))
			json_object_set_new(spec, "allocateLoadBalancerNodePorts", json_true());
		ing = jsonx_getv(obj, "status", "loadBalancer", "ingress", NULL);
		json_array_foreach(ing, i, p)
			if (*jsonx_str(p, "ip", "") && unset(p, "ipMode"))
				set_str(p, "ipMode", "VIP");
	}
	if (strcmp(type, "ExternalName"))
		service_ip_families(spec);
}

/* ------------------------------------------------------------------ other core kinds */

static void namespace(json_t *obj)
{
	json_t *md = jsonx_obj(obj, "metadata"), *labels, *spec, *fin, *f, *status;
	const char *name = jsonx_str(md, "name", "");
	bool has = false;
	size_t i;

	if (*name && (labels = ensure_obj(md, "labels")))
		set_str(labels, "kubernetes.io/metadata.name", name);
	/*
	 * The strategy adds "kubernetes" on create. A terminating namespace is being
	 * finalized, which removes it on purpose: never put it back then.
	 */
	if (unset(md, "deletionTimestamp") && (spec = ensure_obj(obj, "spec")) &&
	    (fin = ensure_arr(spec, "finalizers"))) {
		json_array_foreach(fin, i, f)
			has |= json_is_string(f) && !strcmp(json_string_value(f), "kubernetes");
		if (!has)
			json_array_append_new(fin, json_string("kubernetes"));
	}
	if ((status = ensure_obj(obj, "status")))
		default_str(status, "phase", "Active");
}

static void base64_encode(struct buf *out, const unsigned char *s, size_t n)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16;
		char q[4];

		if (i + 1 < n)
			v |= (unsigned)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		q[0] = tbl[(v >> 18) & 63];
		q[1] = tbl[(v >> 12) & 63];
		q[2] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? tbl[v & 63] : '=';
		buf_append(out, q, 4);
	}
}

/* stringData is write-only: the v1 conversion merges it into data, winning over it. */
static void secret(json_t *obj)
{
	json_t *sd = json_object_get(obj, "stringData"), *data, *val;
	const char *k;

	default_str(obj, "type", "Opaque");
	if (!json_is_object(sd))
		return;
	json_object_foreach(sd, k, val)
		if (!json_is_string(val))
			return;
	if (!(data = ensure_obj(obj, "data")))
		return;
	json_object_foreach(sd, k, val) {
		struct buf b = { 0 };

		base64_encode(&b, (const unsigned char *)json_string_value(val),
			      json_string_length(val));
		set_str(data, k, b.data ? b.data : "");
		buf_free(&b);
	}
	json_object_del(obj, "stringData");
}

static void endpoints(json_t *obj)
{
	json_t *ss, *p;
	size_t i, j;

	json_array_foreach(jsonx_arr(obj, "subsets"), i, ss)
		json_array_foreach(jsonx_arr(ss, "ports"), j, p)
			default_str(p, "protocol", "TCP");
}

static void endpointslice(json_t *obj)
{
	json_t *p;
	size_t i;

	json_array_foreach(jsonx_arr(obj, "ports"), i, p) {
		if (!json_is_object(p))
			continue;
		if (unset(p, "name"))
			set_str(p, "name", "");
		if (unset(p, "protocol"))
			set_str(p, "protocol", "TCP");
	}
}

static void node(json_t *obj)
{
	json_t *st = jsonx_obj(obj, "status"), *cap = jsonx_obj(st, "capacity");

	resource_list(cap);
	resource_list(jsonx_obj(st, "allocatable"));
	if (cap && unset(st, "allocatable"))
		json_object_set_new(st, "allocatable", json_deep_copy(cap));
}

/* ------------------------------------------------------------------ dispatch */

static const struct {
	const char *kind;
	void (*fn)(json_t *obj);
} defaulters[] = {
	{ "Pod", pod },
	{ "Service", service },
	{ "Namespace", namespace },
	{ "Secret", secret },
	{ "Endpoints", endpoints },
	{ "EndpointSlice", endpointslice },
	{ "Node", node },
	{ "Deployment", deployment },
	{ "ReplicaSet", replicaset },
	{ "DaemonSet", daemonset },
};

void defaults_apply(const char *kind, json_t *obj)
{
	if (!kind || !json_is_object(obj))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(defaulters); i++)
		if (!strcmp(defaulters[i].kind, kind))
			defaulters[i].fn(obj);
}
