/*
 * containers.c - pod spec to CRI configurations (see containers.h).
 *
 * The rules are upstream's, reimplemented: the QoS class from requests and
 * limits (GetPodQOS), CPU shares / CFS quota / oom_score_adj from the
 * container's resources, the environment (envFrom, then env with
 * valueFrom and $(VAR) expansion against what is already defined), command
 * and args expanded against the final environment (CRI then applies
 * "command replaces ENTRYPOINT, args replace CMD"), the namespaces of a
 * pod (hostNetwork -> NODE, shareProcessNamespace -> POD pid, ...), and the
 * default masked / read-only /proc paths for unprivileged containers.
 *
 * Volumes: emptyDir and hostPath mounts are mapped (the directories are
 * prepared by pods_volumes_prepare); other volume types make the container
 * fail with CreateContainerConfigError rather than run without the data it
 * expects.
 *
 * Messages are built with pods_msg_new() and owned strings throughout, so
 * protobuf_c_message_free_unpacked() releases them; singular strings left
 * at the empty default point at protobuf_c_empty_string, which it skips.
 */
#include "agent/kubelet/containers.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/kubelet/pods.h"
#include "jsonx.h"
#include "quantity.h"
#include "util.h"

/* What unprivileged containers must not see or change (upstream's defaults). */
static const char *const masked_paths[] = {
	"/proc/asound",
	"/proc/acpi",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/sys/firmware",
	"/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
					      "/proc/sysrq-trigger" };

/* ---------------------------------------------------------------- messages */

void *pods_msg_new(const ProtobufCMessageDescriptor *desc)
{
	void *m = xcalloc(1, desc->sizeof_message);

	desc->message_init(m);
	return m;
}

void *pods_map_entry(const ProtobufCMessageDescriptor *desc, const char *key, const char *value)
{
	char *m = pods_msg_new(desc);

	/* Map entries are {key = 1, value = 2}; fields are sorted by number. */
	*(char **)(m + desc->fields[0].offset) = xstrdup(key);
	*(char **)(m + desc->fields[1].offset) = xstrdup(value);
	return m;
}

/* A singular string field: owned copy, or the shared empty default. */
static char *str_field(const char *s)
{
	return s && *s ? xstrdup(s) : (char *)protobuf_c_empty_string;
}

static Runtime__V1__Int64Value *int64_value(int64_t v)
{
	Runtime__V1__Int64Value *iv = pods_msg_new(&runtime__v1__int64_value__descriptor);

	iv->value = v;
	return iv;
}

/* ---------------------------------------------------------------- resources */

static int64_t qty_milli(const json_t *j)
{
	struct quantity q;

	return quantity_parse_json(j, &q) == 0 ? quantity_milli(&q) : 0;
}

static int64_t qty_value(const json_t *j)
{
	struct quantity q;

	return quantity_parse_json(j, &q) == 0 ? quantity_value(&q) : 0;
}

void pods_container_resources(const json_t *container, struct pods_resources *out)
{
	const json_t *res = jsonx_obj(container, "resources");
	const json_t *req = jsonx_obj(res, "requests"), *lim = jsonx_obj(res, "limits");

	memset(out, 0, sizeof(*out));
	out->cpu_request_milli = qty_milli(json_object_get(req, "cpu"));
	out->mem_request = qty_value(json_object_get(req, "memory"));
	out->cpu_limit_milli = qty_milli(json_object_get(lim, "cpu"));
	out->mem_limit = qty_value(json_object_get(lim, "memory"));
	/* Zero is "not given" for QoS purposes, as upstream counts only positive values. */
	if (out->cpu_request_milli < 0)
		out->cpu_request_milli = 0;
	if (out->mem_request < 0)
		out->mem_request = 0;
	out->has_cpu_limit = out->cpu_limit_milli > 0;
	out->has_mem_limit = out->mem_limit > 0;
}

enum kcg_qos pods_qos(const json_t *pod)
{
	static const char *const lists[] = { "initContainers", "containers" };
	const json_t *spec = jsonx_obj(pod, "spec"), *c;
	bool any = false, guaranteed = true;
	size_t i;

	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		json_array_foreach(jsonx_arr(spec, lists[l]), i, c) {
			struct pods_resources r;

			pods_container_resources(c, &r);
			if (r.cpu_request_milli || r.mem_request || r.has_cpu_limit ||
			    r.has_mem_limit)
				any = true;
			if (!r.has_cpu_limit || !r.has_mem_limit ||
			    r.cpu_request_milli != r.cpu_limit_milli ||
			    r.mem_request != r.mem_limit)
				guaranteed = false;
		}
	}
	if (!any)
		return KCG_BESTEFFORT;
	return guaranteed ? KCG_GUARANTEED : KCG_BURSTABLE;
}

enum kcg_qos pods_pod_qos(const json_t *pod)
{
	const char *q = jsonx_path_str(pod, "status.qosClass", "");

	for (int i = KCG_GUARANTEED; i <= KCG_BESTEFFORT; i++)
		if (!strcmp(q, kcg_qos_name(i)))
			return i;
	return pods_qos(pod);
}

int64_t pods_cpu_shares(int64_t milli)
{
	int64_t shares = milli > 0 ? milli * 1024 / 1000 : 0;

	if (shares < 2)
		return 2;
	return shares > 262144 ? 262144 : shares;
}

int64_t pods_cpu_quota(int64_t milli, int64_t period_us)
{
	int64_t quota = milli * period_us / 1000;

	return quota < 1000 ? 1000 : quota;
}

int pods_oom_score_adj(enum kcg_qos qos, int64_t mem_request, int64_t mem_capacity)
{
	__int128 adj;

	if (qos == KCG_GUARANTEED)
		return -997;
	if (qos == KCG_BESTEFFORT)
		return 1000;
	if (mem_capacity <= 0)
		return 999;
	adj = 1000 - ((__int128)1000 * mem_request) / mem_capacity;
	/* Never as protected as Guaranteed (-997 + 1000), never as exposed as BestEffort. */
	if (adj < 3)
		return 3;
	if (adj >= 1000)
		return 999;
	return (int)adj;
}

void pods_pod_limits(const json_t *pod, struct kcg_limits *out)
{
	const json_t *spec = jsonx_obj(pod, "spec"), *c;
	int64_t cpu_req = 0, cpu_lim = 0, mem_lim = 0;
	int64_t init_cpu_req = 0, init_cpu_lim = 0, init_mem_lim = 0;
	bool all_cpu = true, all_mem = true;
	size_t i;

	memset(out, 0, sizeof(*out));
	json_array_foreach(jsonx_arr(spec, "containers"), i, c) {
		struct pods_resources r;

		pods_container_resources(c, &r);
		cpu_req += r.cpu_request_milli;
		cpu_lim += r.cpu_limit_milli;
		mem_lim += r.mem_limit;
		all_cpu &= r.has_cpu_limit;
		all_mem &= r.has_mem_limit;
	}
	/* Init containers run one at a time: the pod needs the largest of them. */
	json_array_foreach(jsonx_arr(spec, "initContainers"), i, c) {
		struct pods_resources r;

		pods_container_resources(c, &r);
		init_cpu_req = MAX(init_cpu_req, r.cpu_request_milli);
		init_cpu_lim = MAX(init_cpu_lim, r.cpu_limit_milli);
		init_mem_lim = MAX(init_mem_lim, r.mem_limit);
		all_cpu &= r.has_cpu_limit;
		all_mem &= r.has_mem_limit;
	}
	out->cpu_shares = pods_cpu_shares(MAX(cpu_req, init_cpu_req));
	if (all_cpu && json_array_size(jsonx_arr(spec, "containers"))) {
		out->cpu_period = PODS_CPU_PERIOD_US;
		out->cpu_quota = pods_cpu_quota(MAX(cpu_lim, init_cpu_lim), PODS_CPU_PERIOD_US);
	}
	if (all_mem && json_array_size(jsonx_arr(spec, "containers")))
		out->memory = MAX(mem_lim, init_mem_lim);
}

/* ---------------------------------------------------------------- expansion */

char *pods_expand(const char *in, const json_t *vars)
{
	struct buf b = { 0 };
	size_t i = 0, n = in ? strlen(in) : 0;

	buf_append(&b, "", 0);
	while (i < n) {
		const char *close;

		if (in[i] != '$' || i + 1 >= n) {
			buf_append(&b, in + i, 1);
			i++;
			continue;
		}
		if (in[i + 1] == '$') {
			buf_append(&b, "$", 1);
			i += 2;
			continue;
		}
		if (in[i + 1] != '(') {
			buf_append(&b, in + i, 2);
			i += 2;
			continue;
		}
		close = strchr(in + i + 2, ')');
		if (!close) {
			buf_append(&b, "$(", 2);
			i += 2;
			continue;
		}
		{
			char *name = xstrndup(in + i + 2, (size_t)(close - in - i - 2));
			const json_t *v = json_object_get(vars, name);

			if (json_is_string(v))
				buf_append(&b, json_string_value(v), json_string_length(v));
			else
				buf_appendf(&b, "$(%s)", name);
			free(name);
		}
		i = (size_t)(close - in) + 1;
	}
	return b.data;
}

void pods_container_hash(const json_t *container, char *buf, size_t len)
{
	char *text = jsonx_dumps_compact(container);
	uint64_t h = 1469598103934665603ULL;

	for (const char *p = text ? text : ""; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 1099511628211ULL;
	}
	free(text);
	snprintf(buf, len, "%016llx", (unsigned long long)h);
}

/* ---------------------------------------------------------------- environment */

/* Upstream's IsEnvVarName: [-._a-zA-Z][-._a-zA-Z0-9]* */
static bool env_name_ok(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' || *s == '_'))
			return false;
	return true;
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard base64 (Secret data) to a new string; NULL when malformed. */
static char *b64_decode(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out = xmalloc(n / 4 * 3 + 4);
	unsigned acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		int v;

		if (s[i] == '=')
			break;
		v = b64_val(s[i]);
		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	return out;
}

/* data[key] of a ConfigMap or (decoded) Secret: a new string or NULL. */
static char *source_value(const json_t *obj, bool secret, const char *key)
{
	const json_t *v = json_object_get(jsonx_obj(obj, "data"), key);

	if (!json_is_string(v))
		return NULL;
	return secret ? b64_decode(json_string_value(v)) : xstrdup(json_string_value(v));
}

static int lookup_source(const struct pods_ctr_input *in, bool secret, const char *name,
			 json_t **obj, char *err, size_t errlen)
{
	const char *ns = jsonx_path_str(in->pod, "metadata.namespace", "");
	int rc = -ENOENT;

	*obj = NULL;
	if (in->lookup && *name)
		rc = in->lookup(in->lookup_ctx, secret ? "secrets" : "configmaps", ns, name, obj);
	if (rc == -ENOENT)
		snprintf(err, errlen, "%s \"%s\" not found", secret ? "secret" : "configmap", name);
	else if (rc < 0)
		snprintf(err, errlen, "couldn't get %s %s/%s: %s", secret ? "secret" : "configMap",
			 ns, name, strerror(-rc));
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int env_from(const struct pods_ctr_input *in, json_t *vars, char *err, size_t errlen)
{
	const json_t *e;
	size_t i;

	json_array_foreach(jsonx_arr(in->container, "envFrom"), i, e) {
		const json_t *ref = jsonx_obj(e, "configMapRef");
		bool secret = !ref;
		const char *prefix = jsonx_str(e, "prefix", ""), *key, **keys;
		json_t *obj, *data, *k;
		size_t j, nkeys;
		int rc;

		if (secret)
			ref = jsonx_obj(e, "secretRef");
		if (!ref)
			continue;
		rc = lookup_source(in, secret, jsonx_str(ref, "name", ""), &obj, err, errlen);
		if (rc == -ENOENT && jsonx_bool(ref, "optional", false))
			continue;
		if (rc < 0)
			return rc;
		/* Sorted, so the order does not depend on how the API server stored them. */
		data = jsonx_obj(obj, "data");
		keys = xcalloc(json_object_size(data) + 1, sizeof(*keys));
		nkeys = 0;
		json_object_foreach(data, key, k)
			keys[nkeys++] = key;
		qsort(keys, nkeys, sizeof(*keys), cmp_str);
		for (j = 0; j < nkeys; j++) {
			char *name = xasprintf("%s%s", prefix, keys[j]);
			char *val = source_value(obj, secret, keys[j]);

			if (val && env_name_ok(name))
				json_object_set_new(vars, name, json_string(val));
			free(name);
			free(val);
		}
		free(keys);
		json_decref(obj);
	}
	return 0;
}

/* "metadata.labels['key']" -> key (a new string), or NULL. */
static char *subscript(const char *path, const char *prefix)
{
	size_t pl = strlen(prefix), n = strlen(path);

	if (strncmp(path, prefix, pl) || n < pl + 4 || strncmp(path + pl, "['", 2) ||
	    strcmp(path + n - 2, "']"))
		return NULL;
	return xstrndup(path + pl + 2, n - pl - 4);
}

static char *join_ips(const json_t *ips, const char *fallback)
{
	struct buf b = { 0 };
	const json_t *ip;
	size_t i;

	buf_append(&b, "", 0);
	json_array_foreach(ips, i, ip)
		if (json_is_string(ip))
			buf_appendf(&b, "%s%s", b.len ? "," : "", json_string_value(ip));
	if (!b.len)
		buf_appendf(&b, "%s", fallback ? fallback : "");
	return b.data;
}

static int field_ref(const struct pods_ctr_input *in, const char *path, char **out, char *err,
		     size_t errlen)
{
	const json_t *pod = in->pod;
	char *key;

	if (!strcmp(path, "metadata.name"))
		*out = xstrdup(jsonx_path_str(pod, "metadata.name", ""));
	else if (!strcmp(path, "metadata.namespace"))
		*out = xstrdup(jsonx_path_str(pod, "metadata.namespace", ""));
	else if (!strcmp(path, "metadata.uid"))
		*out = xstrdup(jsonx_path_str(pod, "metadata.uid", ""));
	else if (!strcmp(path, "spec.nodeName"))
		*out = xstrdup(in->node_name ? in->node_name
					     : jsonx_path_str(pod, "spec.nodeName", ""));
	else if (!strcmp(path, "spec.serviceAccountName"))
		*out = xstrdup(jsonx_path_str(pod, "spec.serviceAccountName", ""));
	else if (!strcmp(path, "status.podIP"))
		*out = xstrdup(in->pod_ip ? in->pod_ip : "");
	else if (!strcmp(path, "status.podIPs"))
		*out = join_ips(in->pod_ips, in->pod_ip);
	else if (!strcmp(path, "status.hostIP") || !strcmp(path, "status.hostIPs"))
		*out = xstrdup(in->host_ip ? in->host_ip : "");
	else if ((key = subscript(path, "metadata.labels"))) {
		*out = xstrdup(jsonx_str(jsonx_getv(pod, "metadata", "labels", NULL), key, ""));
		free(key);
	} else if ((key = subscript(path, "metadata.annotations"))) {
		*out = xstrdup(
			jsonx_str(jsonx_getv(pod, "metadata", "annotations", NULL), key, ""));
		free(key);
	} else {
		snprintf(err, errlen, "unsupported fieldPath: %s", path);
		return -EINVAL;
	}
	return 0;
}

static const json_t *find_container(const json_t *pod, const char *name)
{
	static const char *const lists[] = { "containers", "initContainers" };
	const json_t *c;
	size_t i;

	for (size_t l = 0; l < ARRAY_SIZE(lists); l++)
		json_array_foreach(jsonx_arr(jsonx_obj(pod, "spec"), lists[l]), i, c)
			if (!strcmp(jsonx_str(c, "name", ""), name))
				return c;
	return NULL;
}

static int64_t div_ceil(int64_t a, int64_t b)
{
	if (b <= 0)
		b = 1;
	return a / b + (a % b != 0 && a > 0);
}

static int resource_ref(const struct pods_ctr_input *in, const json_t *ref, char **out, char *err,
			size_t errlen)
{
	const char *cname = jsonx_str(ref, "containerName", "");
	const char *res = jsonx_str(ref, "resource", "");
	const json_t *c = *cname ? find_container(in->pod, cname) : in->container;
	const json_t *div = json_object_get(ref, "divisor");
	struct pods_resources r;
	struct quantity q;
	int64_t v;
	bool cpu = strstr(res, ".cpu") != NULL;

	if (!c) {
		snprintf(err, errlen, "container %s not found", cname);
		return -EINVAL;
	}
	if (!div || quantity_parse_json(div, &q) || q.nano <= 0)
		q = quantity_from_value(1, QUANTITY_DECIMAL_SI);
	pods_container_resources(c, &r);
	if (!strcmp(res, "limits.cpu"))
		v = r.has_cpu_limit ? r.cpu_limit_milli : (int64_t)in->cpu_capacity * 1000;
	else if (!strcmp(res, "requests.cpu"))
		v = r.cpu_request_milli;
	else if (!strcmp(res, "limits.memory"))
		v = r.has_mem_limit ? r.mem_limit : in->mem_capacity;
	else if (!strcmp(res, "requests.memory"))
		v = r.mem_request;
	else {
		snprintf(err, errlen, "unsupported container resource : %s", res);
		return -EINVAL;
	}
	/* CPU in whole divisors (millicores against the divisor's), memory in bytes. */
	v = cpu ? div_ceil(v, quantity_milli(&q)) : div_ceil(v, quantity_value(&q));
	*out = xasprintf("%lld", (long long)v);
	return 0;
}

/* One valueFrom: 0 with *out, 1 when an optional source is missing (skip), -errno. */
static int value_from(const struct pods_ctr_input *in, const json_t *vf, char **out, char *err,
		      size_t errlen)
{
	const json_t *ref;
	bool secret = false;
	json_t *obj;
	int rc;

	if ((ref = jsonx_obj(vf, "fieldRef")))
		return field_ref(in, jsonx_str(ref, "fieldPath", ""), out, err, errlen);
	if ((ref = jsonx_obj(vf, "resourceFieldRef")))
		return resource_ref(in, ref, out, err, errlen);
	if (!(ref = jsonx_obj(vf, "configMapKeyRef"))) {
		ref = jsonx_obj(vf, "secretKeyRef");
		secret = true;
	}
	if (!ref) {
		snprintf(err, errlen, "unsupported valueFrom");
		return -EINVAL;
	}
	rc = lookup_source(in, secret, jsonx_str(ref, "name", ""), &obj, err, errlen);
	if (rc == -ENOENT && jsonx_bool(ref, "optional", false))
		return 1;
	if (rc < 0)
		return rc;
	*out = source_value(obj, secret, jsonx_str(ref, "key", ""));
	json_decref(obj);
	if (*out)
		return 0;
	if (jsonx_bool(ref, "optional", false))
		return 1;
	snprintf(err, errlen, "couldn't find key %s in %s %s/%s", jsonx_str(ref, "key", ""),
		 secret ? "Secret" : "ConfigMap", jsonx_path_str(in->pod, "metadata.namespace", ""),
		 jsonx_str(ref, "name", ""));
	return -ENOENT;
}

/* "my-svc" -> "MY_SVC". */
static void env_name(const char *in, char *out, size_t len)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < len; i++)
		out[i] = in[i] == '-' ? '_' : (char)toupper((unsigned char)in[i]);
	out[i] = '\0';
}

static void service_env(json_t *vars, const json_t *svc)
{
	const char *ip = jsonx_str(jsonx_obj(svc, "spec"), "clusterIP", "");
	const json_t *ports = jsonx_arr(jsonx_obj(svc, "spec"), "ports"), *p;
	char name[256], key[512], hostport[96], proto[16], lproto[16];
	size_t i;

	env_name(jsonx_str(jsonx_obj(svc, "metadata"), "name", ""), name, sizeof(name));
	if (!*name || !*ip || strcmp(ip, "None") == 0 || json_array_size(ports) == 0)
		return;
	snprintf(key, sizeof(key), "%s_SERVICE_HOST", name);
	json_object_set_new(vars, key, json_string(ip));
	snprintf(key, sizeof(key), "%s_SERVICE_PORT", name);
	json_object_set_new(vars, key,
			    json_sprintf("%lld", jsonx_int(json_array_get(ports, 0), "port", 0)));
	json_array_foreach(ports, i, p) {
		const char *pname = jsonx_str(p, "name", "");
		long long port = jsonx_int(p, "port", 0);
		char pn[128];

		if (*pname) {
			env_name(pname, pn, sizeof(pn));
			snprintf(key, sizeof(key), "%s_SERVICE_PORT_%s", name, pn);
			json_object_set_new(vars, key, json_sprintf("%lld", port));
		}
	}
	json_array_foreach(ports, i, p) {
		long long port = jsonx_int(p, "port", 0);
		size_t k;

		env_name(jsonx_str(p, "protocol", "TCP"), proto, sizeof(proto));
		for (k = 0; proto[k]; k++)
			lproto[k] = (char)tolower((unsigned char)proto[k]);
		lproto[k] = '\0';
		snprintf(hostport, sizeof(hostport), strchr(ip, ':') ? "[%s]:%lld" : "%s:%lld", ip,
			 port);
		if (i == 0) {
			snprintf(key, sizeof(key), "%s_PORT", name);
			json_object_set_new(vars, key, json_sprintf("%s://%s", lproto, hostport));
		}
		snprintf(key, sizeof(key), "%s_PORT_%lld_%s", name, port, proto);
		json_object_set_new(vars, key, json_sprintf("%s://%s", lproto, hostport));
		snprintf(key, sizeof(key), "%s_PORT_%lld_%s_PROTO", name, port, proto);
		json_object_set_new(vars, key, json_string(lproto));
		snprintf(key, sizeof(key), "%s_PORT_%lld_%s_PORT", name, port, proto);
		json_object_set_new(vars, key, json_sprintf("%lld", port));
		snprintf(key, sizeof(key), "%s_PORT_%lld_%s_ADDR", name, port, proto);
		json_object_set_new(vars, key, json_string(ip));
	}
}

json_t *pods_service_env(const json_t *services, const char *ns, bool links)
{
	json_t *chosen = json_object(), *vars = json_object(), *svc;
	const char *key;
	size_t i;

	/* By name: the master service, then (replacing it) the namespace's own. */
	json_array_foreach(services, i, svc) {
		const json_t *md = jsonx_obj(svc, "metadata");

		if (strcmp(jsonx_str(md, "namespace", ""), "default") == 0 &&
		    strcmp(jsonx_str(md, "name", ""), "kubernetes") == 0 &&
		    !json_object_get(chosen, "kubernetes"))
			json_object_set(chosen, "kubernetes", svc);
	}
	json_array_foreach(services, i, svc) {
		const json_t *md = jsonx_obj(svc, "metadata");

		if (links && strcmp(jsonx_str(md, "namespace", ""), ns ? ns : "") == 0)
			json_object_set(chosen, jsonx_str(md, "name", ""), svc);
	}
	json_object_foreach(chosen, key, svc)
		service_env(vars, svc);
	json_decref(chosen);
	return vars;
}

int pods_container_env(const struct pods_ctr_input *in, json_t **out, char *err, size_t errlen)
{
	json_t *vars = in->services ? pods_service_env(in->services,
						       jsonx_str(jsonx_obj(in->pod, "metadata"),
								 "namespace", ""),
						       jsonx_bool(jsonx_obj(in->pod, "spec"),
								  "enableServiceLinks", true))
				    : json_object();
	const json_t *e;
	size_t i;
	int rc;

	rc = env_from(in, vars, err, errlen);
	if (rc < 0)
		goto fail;
	json_array_foreach(jsonx_arr(in->container, "env"), i, e) {
		const char *name = jsonx_str(e, "name", ""), *value = jsonx_str(e, "value", "");
		const json_t *vf = jsonx_obj(e, "valueFrom");
		char *v = NULL;

		if (!*name)
			continue;
		if (*value || !vf) {
			v = pods_expand(value, vars);
		} else {
			rc = value_from(in, vf, &v, err, errlen);
			if (rc < 0)
				goto fail;
			if (rc > 0)
				continue;
		}
		json_object_set_new(vars, name, json_string(v));
		free(v);
	}
	*out = vars;
	return 0;
fail:
	json_decref(vars);
	return rc;
}

/* ---------------------------------------------------------------- namespaces, security */

static Runtime__V1__NamespaceOption *namespaces(const json_t *spec)
{
	Runtime__V1__NamespaceOption *ns = pods_msg_new(&runtime__v1__namespace_option__descriptor);

	ns->network = jsonx_bool(spec, "hostNetwork", false) ? RUNTIME__V1__NAMESPACE_MODE__NODE
							     : RUNTIME__V1__NAMESPACE_MODE__POD;
	if (jsonx_bool(spec, "hostPID", false))
		ns->pid = RUNTIME__V1__NAMESPACE_MODE__NODE;
	else if (jsonx_bool(spec, "shareProcessNamespace", false))
		ns->pid = RUNTIME__V1__NAMESPACE_MODE__POD;
	else
		ns->pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
	ns->ipc = jsonx_bool(spec, "hostIPC", false) ? RUNTIME__V1__NAMESPACE_MODE__NODE
						     : RUNTIME__V1__NAMESPACE_MODE__POD;
	return ns;
}

/* The container's setting, else the pod's (runAsUser, runAsGroup, runAsNonRoot). */
static const json_t *sc_field(const json_t *pod_sc, const json_t *ctr_sc, const char *key)
{
	const json_t *v = json_object_get(ctr_sc, key);

	return v && !json_is_null(v) ? v : json_object_get(pod_sc, key);
}

static void supplemental_groups(const json_t *pod_sc, size_t *n, int64_t **groups)
{
	const json_t *g;
	size_t i;

	json_array_foreach(jsonx_arr(pod_sc, "supplementalGroups"), i, g)
		if (json_is_integer(g))
			PODS_PUSH(*n, *groups, (int64_t)json_integer_value(g));
	if (json_is_integer(json_object_get(pod_sc, "fsGroup")))
		PODS_PUSH(*n, *groups,
			  (int64_t)json_integer_value(json_object_get(pod_sc, "fsGroup")));
}

static bool any_privileged(const json_t *spec)
{
	static const char *const lists[] = { "initContainers", "containers" };
	const json_t *c;
	size_t i;

	for (size_t l = 0; l < ARRAY_SIZE(lists); l++)
		json_array_foreach(jsonx_arr(spec, lists[l]), i, c)
			if (jsonx_path_bool(c, "securityContext.privileged", false))
				return true;
	return false;
}

static int non_root_check(const struct pods_ctr_input *in, const json_t *pod_sc,
			  const json_t *ctr_sc, char *err, size_t errlen)
{
	const json_t *uid = sc_field(pod_sc, ctr_sc, "runAsUser");
	const char *cname = jsonx_str(in->container, "name", "");
	char pod[600];

	if (!json_is_true(sc_field(pod_sc, ctr_sc, "runAsNonRoot")))
		return 0;
	snprintf(pod, sizeof(pod), "%s_%s(%s)", jsonx_path_str(in->pod, "metadata.name", ""),
		 jsonx_path_str(in->pod, "metadata.namespace", ""),
		 jsonx_path_str(in->pod, "metadata.uid", ""));
	if (json_is_integer(uid)) {
		if (json_integer_value(uid) != 0)
			return 0;
		snprintf(
			err, errlen,
			"container's runAsUser breaks non-root policy (pod: \"%s\", container: %s)",
			pod, cname);
		return -EPERM;
	}
	if (in->image_user && *in->image_user) {
		snprintf(err, errlen,
			 "container has runAsNonRoot and image has non-numeric user (%s), cannot "
			 "verify user is non-root (pod: \"%s\", container: %s)",
			 in->image_user, pod, cname);
		return -EPERM;
	}
	if (in->image_uid == 0) {
		snprintf(err, errlen,
			 "container has runAsNonRoot and image will run as root (pod: \"%s\", "
			 "container: %s)",
			 pod, cname);
		return -EPERM;
	}
	return 0;
}

static Runtime__V1__LinuxContainerSecurityContext *
container_security(const json_t *spec, const json_t *pod_sc, const json_t *ctr_sc)
{
	Runtime__V1__LinuxContainerSecurityContext *sc =
		pods_msg_new(&runtime__v1__linux_container_security_context__descriptor);
	const json_t *caps = jsonx_obj(ctr_sc, "capabilities"), *v;
	size_t i;

	if (caps) {
		sc->capabilities = pods_msg_new(&runtime__v1__capability__descriptor);
		json_array_foreach(jsonx_arr(caps, "add"), i, v)
			if (json_is_string(v))
				PODS_PUSH(sc->capabilities->n_add_capabilities,
					  sc->capabilities->add_capabilities,
					  xstrdup(json_string_value(v)));
		json_array_foreach(jsonx_arr(caps, "drop"), i, v)
			if (json_is_string(v))
				PODS_PUSH(sc->capabilities->n_drop_capabilities,
					  sc->capabilities->drop_capabilities,
					  xstrdup(json_string_value(v)));
	}
	sc->privileged = jsonx_bool(ctr_sc, "privileged", false);
	sc->readonly_rootfs = jsonx_bool(ctr_sc, "readOnlyRootFilesystem", false);
	if (json_is_integer(v = sc_field(pod_sc, ctr_sc, "runAsUser")))
		sc->run_as_user = int64_value(json_integer_value(v));
	if (json_is_integer(v = sc_field(pod_sc, ctr_sc, "runAsGroup")))
		sc->run_as_group = int64_value(json_integer_value(v));
	supplemental_groups(pod_sc, &sc->n_supplemental_groups, &sc->supplemental_groups);
	sc->no_new_privs = json_is_false(json_object_get(ctr_sc, "allowPrivilegeEscalation"));
	sc->namespace_options = namespaces(spec);
	if (!sc->privileged && strcmp(jsonx_str(ctr_sc, "procMount", ""), "Unmasked")) {
		for (i = 0; i < ARRAY_SIZE(masked_paths); i++)
			PODS_PUSH(sc->n_masked_paths, sc->masked_paths, xstrdup(masked_paths[i]));
		for (i = 0; i < ARRAY_SIZE(readonly_paths); i++)
			PODS_PUSH(sc->n_readonly_paths, sc->readonly_paths,
				  xstrdup(readonly_paths[i]));
	}
	return sc;
}

/* ---------------------------------------------------------------- mounts */

static const json_t *find_volume(const json_t *spec, const char *name)
{
	const json_t *v;
	size_t i;

	json_array_foreach(jsonx_arr(spec, "volumes"), i, v)
		if (!strcmp(jsonx_str(v, "name", ""), name))
			return v;
	return NULL;
}

static bool path_escapes(const char *p)
{
	if (p[0] == '/')
		return true;
	for (const char *s = p; (s = strstr(s, "..")); s += 2)
		if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
			return true;
	return false;
}

static int mounts(const struct pods_ctr_input *in, Runtime__V1__ContainerConfig *cfg, char *err,
		  size_t errlen)
{
	const json_t *spec = jsonx_obj(in->pod, "spec"), *vm;
	size_t i;

	json_array_foreach(jsonx_arr(in->container, "volumeMounts"), i, vm) {
		const char *vname = jsonx_str(vm, "name", ""), *sub = jsonx_str(vm, "subPath", "");
		const char *prop = jsonx_str(vm, "mountPropagation", "None");
		const json_t *vol = find_volume(spec, vname);
		Runtime__V1__Mount *m;
		char *host;

		if (!vol) {
			snprintf(err, errlen,
				 "cannot find volume \"%s\" to mount into container \"%s\"", vname,
				 jsonx_str(in->container, "name", ""));
			return -ENOENT;
		}
		if (jsonx_obj(vol, "hostPath"))
			host = xstrdup(jsonx_path_str(vol, "hostPath.path", ""));
		else if (jsonx_obj(vol, "emptyDir") && in->pod_dir)
			host = xasprintf("%s/volumes/kubernetes.io~empty-dir/%s", in->pod_dir,
					 vname);
		else {
			snprintf(err, errlen,
				 "volume \"%s\": only emptyDir and hostPath volumes are "
				 "supported",
				 vname);
			return -ENOTSUP;
		}
		if (*sub) {
			char *full;

			if (path_escapes(sub)) {
				free(host);
				snprintf(err, errlen,
					 "subPath \"%s\" must be a relative path without ..", sub);
				return -EINVAL;
			}
			full = xasprintf("%s/%s", host, sub);
			free(host);
			host = full;
		}
		m = pods_msg_new(&runtime__v1__mount__descriptor);
		m->container_path = str_field(jsonx_str(vm, "mountPath", ""));
		m->host_path = host;
		m->readonly = jsonx_bool(vm, "readOnly", false);
		if (!strcmp(prop, "HostToContainer"))
			m->propagation =
				RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER;
		else if (!strcmp(prop, "Bidirectional"))
			m->propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL;
		PODS_PUSH(cfg->n_mounts, cfg->mounts, m);
	}
	return 0;
}

/* mkdir -p path (mode for the levels it creates). 0 or -errno. */
static int mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	int err = 0;

	for (char *s = p + 1; !err; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			err = -errno;
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return err;
}

int pods_volumes_prepare(const json_t *pod, const char *pod_dir, char *err, size_t errlen)
{
	const json_t *v;
	size_t i;
	int rc;

	json_array_foreach(jsonx_arr(jsonx_obj(pod, "spec"), "volumes"), i, v) {
		const char *name = jsonx_str(v, "name", "");
		char *dir = NULL;

		if (jsonx_obj(v, "emptyDir") && *name && !strchr(name, '/'))
			dir = xasprintf("%s/volumes/kubernetes.io~empty-dir/%s", pod_dir, name);
		else if (!strcmp(jsonx_path_str(v, "hostPath.type", ""), "DirectoryOrCreate"))
			dir = xstrdup(jsonx_path_str(v, "hostPath.path", ""));
		if (!dir || !*dir || dir[0] != '/') {
			free(dir);
			continue;
		}
		rc = mkdir_p(dir, 0755);
		if (rc < 0) {
			snprintf(err, errlen, "volume \"%s\": mkdir %s: %s", name, dir,
				 strerror(-rc));
			free(dir);
			return rc;
		}
		free(dir);
	}
	return 0;
}

/* ---------------------------------------------------------------- container */

static void push_strings(const json_t *arr, const json_t *vars, size_t *n, char ***out)
{
	const json_t *s;
	size_t i;

	json_array_foreach(arr, i, s)
		PODS_PUSH(*n, *out,
			  pods_expand(json_is_string(s) ? json_string_value(s) : "", vars));
}

static Runtime__V1__LinuxContainerResources *container_resources(const struct pods_ctr_input *in)
{
	Runtime__V1__LinuxContainerResources *r =
		pods_msg_new(&runtime__v1__linux_container_resources__descriptor);
	struct pods_resources res;

	pods_container_resources(in->container, &res);
	r->cpu_shares = pods_cpu_shares(res.cpu_request_milli ? res.cpu_request_milli
							      : res.cpu_limit_milli);
	if (res.has_cpu_limit) {
		r->cpu_period = PODS_CPU_PERIOD_US;
		r->cpu_quota = pods_cpu_quota(res.cpu_limit_milli, PODS_CPU_PERIOD_US);
	}
	if (res.has_mem_limit)
		r->memory_limit_in_bytes = res.mem_limit;
	r->oom_score_adj =
		pods_oom_score_adj(pods_pod_qos(in->pod), res.mem_request, in->mem_capacity);
	return r;
}

static void pod_labels(const json_t *pod, size_t *n, void ***arr,
		       const ProtobufCMessageDescriptor *d)
{
	PODS_PUSH(*n, *arr,
		  pods_map_entry(d, PODS_LABEL_NAME, jsonx_path_str(pod, "metadata.name", "")));
	PODS_PUSH(*n, *arr,
		  pods_map_entry(d, PODS_LABEL_NAMESPACE,
				 jsonx_path_str(pod, "metadata.namespace", "")));
	PODS_PUSH(*n, *arr,
		  pods_map_entry(d, PODS_LABEL_UID, jsonx_path_str(pod, "metadata.uid", "")));
}

int pods_container_config(const struct pods_ctr_input *in, Runtime__V1__ContainerConfig **out,
			  char *err, size_t errlen)
{
	const json_t *c = in->container, *spec = jsonx_obj(in->pod, "spec");
	const json_t *pod_sc = jsonx_obj(spec, "securityContext");
	const json_t *ctr_sc = jsonx_obj(c, "securityContext");
	const char *name = jsonx_str(c, "name", ""), *key;
	Runtime__V1__ContainerConfig *cfg = NULL;
	json_t *vars = NULL, *v;
	char hash[32], num[32];
	void **labels = NULL, **ann = NULL;
	int rc;

	if (!*name || !*jsonx_path_str(in->pod, "metadata.uid", "")) {
		snprintf(err, errlen, "container or pod without a name or uid");
		return -EINVAL;
	}
	rc = non_root_check(in, pod_sc, ctr_sc, err, errlen);
	if (rc < 0)
		return rc;
	rc = pods_container_env(in, &vars, err, errlen);
	if (rc < 0)
		return rc;
	cfg = pods_msg_new(&runtime__v1__container_config__descriptor);
	rc = mounts(in, cfg, err, errlen);
	if (rc < 0)
		goto out;

	cfg->metadata = pods_msg_new(&runtime__v1__container_metadata__descriptor);
	cfg->metadata->name = xstrdup(name);
	cfg->metadata->attempt = in->attempt;
	cfg->image = pods_msg_new(&runtime__v1__image_spec__descriptor);
	cfg->image->image = str_field(in->image ? in->image : jsonx_str(c, "image", ""));
	push_strings(jsonx_arr(c, "command"), vars, &cfg->n_command, &cfg->command);
	push_strings(jsonx_arr(c, "args"), vars, &cfg->n_args, &cfg->args);
	cfg->working_dir = str_field(jsonx_str(c, "workingDir", ""));
	json_object_foreach(vars, key, v) {
		Runtime__V1__KeyValue *kv = pods_msg_new(&runtime__v1__key_value__descriptor);

		kv->key = str_field(key);
		kv->value = str_field(json_string_value(v));
		PODS_PUSH(cfg->n_envs, cfg->envs, kv);
	}

	labels = (void **)cfg->labels;
	pod_labels(in->pod, &cfg->n_labels, &labels,
		   &runtime__v1__container_config__labels_entry__descriptor);
	PODS_PUSH(cfg->n_labels, labels,
		  pods_map_entry(&runtime__v1__container_config__labels_entry__descriptor,
				 PODS_LABEL_CONTAINER, name));
	cfg->labels = (Runtime__V1__ContainerConfig__LabelsEntry **)labels;

	ann = (void **)cfg->annotations;
	snprintf(num, sizeof(num), "%u", in->attempt);
	PODS_PUSH(cfg->n_annotations, ann,
		  pods_map_entry(&runtime__v1__container_config__annotations_entry__descriptor,
				 PODS_ANN_RESTART_COUNT, num));
	pods_container_hash(c, hash, sizeof(hash));
	PODS_PUSH(cfg->n_annotations, ann,
		  pods_map_entry(&runtime__v1__container_config__annotations_entry__descriptor,
				 PODS_ANN_HASH, hash));
	snprintf(num, sizeof(num), "%lld", jsonx_int(spec, "terminationGracePeriodSeconds", 30));
	PODS_PUSH(cfg->n_annotations, ann,
		  pods_map_entry(&runtime__v1__container_config__annotations_entry__descriptor,
				 "io.kubernetes.pod.terminationGracePeriod", num));
	cfg->annotations = (Runtime__V1__ContainerConfig__AnnotationsEntry **)ann;

	cfg->log_path = xasprintf("%s/%u.log", name, in->attempt);
	cfg->stdin = jsonx_bool(c, "stdin", false);
	cfg->stdin_once = jsonx_bool(c, "stdinOnce", false);
	cfg->tty = jsonx_bool(c, "tty", false);
	cfg->linux_ = pods_msg_new(&runtime__v1__linux_container_config__descriptor);
	cfg->linux_->resources = container_resources(in);
	cfg->linux_->security_context = container_security(spec, pod_sc, ctr_sc);
	*out = cfg;
	cfg = NULL;
out:
	if (cfg)
		protobuf_c_message_free_unpacked(&cfg->base, NULL);
	json_decref(vars);
	return rc;
}

/* ---------------------------------------------------------------- sandbox */

/* Upstream's truncation: 63 bytes, without a trailing '-' or '.'. */
static char *hostname_of(const json_t *pod)
{
	const char *h = jsonx_path_str(pod, "spec.hostname", "");
	char *s;
	size_t n;

	if (!*h)
		h = jsonx_path_str(pod, "metadata.name", "");
	n = strlen(h);
	if (n > 63)
		n = 63;
	s = xstrndup(h, n);
	while (n > 0 && (s[n - 1] == '-' || s[n - 1] == '.'))
		s[--n] = '\0';
	return s;
}

static void port_mappings(const json_t *spec, Runtime__V1__PodSandboxConfig *cfg)
{
	const json_t *c, *p;
	size_t i, j;

	json_array_foreach(jsonx_arr(spec, "containers"), i, c) {
		json_array_foreach(jsonx_arr(c, "ports"), j, p) {
			const char *proto = jsonx_str(p, "protocol", "TCP");
			Runtime__V1__PortMapping *m;

			if (jsonx_int(p, "hostPort", 0) <= 0)
				continue;
			m = pods_msg_new(&runtime__v1__port_mapping__descriptor);
			m->protocol = !strcmp(proto, "UDP")    ? RUNTIME__V1__PROTOCOL__UDP
				      : !strcmp(proto, "SCTP") ? RUNTIME__V1__PROTOCOL__SCTP
							       : RUNTIME__V1__PROTOCOL__TCP;
			m->container_port = (int32_t)jsonx_int(p, "containerPort", 0);
			m->host_port = (int32_t)jsonx_int(p, "hostPort", 0);
			m->host_ip = str_field(jsonx_str(p, "hostIP", ""));
			PODS_PUSH(cfg->n_port_mappings, cfg->port_mappings, m);
		}
	}
}

int pods_sandbox_config(const json_t *pod, unsigned attempt, const char *log_dir,
			const char *cgroup_parent, Runtime__V1__PodSandboxConfig **out)
{
	const json_t *spec = jsonx_obj(pod, "spec"), *pod_sc = jsonx_obj(spec, "securityContext");
	const json_t *v, *s;
	const char *key, *uid = jsonx_path_str(pod, "metadata.uid", "");
	Runtime__V1__PodSandboxConfig *cfg;
	Runtime__V1__LinuxSandboxSecurityContext *sc;
	void **arr;
	size_t i;

	if (!*uid || !*jsonx_path_str(pod, "metadata.name", "") ||
	    !*jsonx_path_str(pod, "metadata.namespace", ""))
		return -EINVAL;
	cfg = pods_msg_new(&runtime__v1__pod_sandbox_config__descriptor);
	cfg->metadata = pods_msg_new(&runtime__v1__pod_sandbox_metadata__descriptor);
	cfg->metadata->name = xstrdup(jsonx_path_str(pod, "metadata.name", ""));
	cfg->metadata->uid = xstrdup(uid);
	cfg->metadata->namespace_ = xstrdup(jsonx_path_str(pod, "metadata.namespace", ""));
	cfg->metadata->attempt = attempt;
	if (!jsonx_bool(spec, "hostNetwork", false))
		cfg->hostname = hostname_of(pod);
	cfg->log_directory = str_field(log_dir);
	port_mappings(spec, cfg);

	/* Pod labels, then the identity labels (which win). */
	arr = NULL;
	json_object_foreach(jsonx_getv(pod, "metadata", "labels", NULL), key, v)
		if (json_is_string(v) && strcmp(key, PODS_LABEL_NAME) &&
		    strcmp(key, PODS_LABEL_NAMESPACE) && strcmp(key, PODS_LABEL_UID))
			PODS_PUSH(
				cfg->n_labels, arr,
				pods_map_entry(
					&runtime__v1__pod_sandbox_config__labels_entry__descriptor,
					key, json_string_value(v)));
	pod_labels(pod, &cfg->n_labels, &arr,
		   &runtime__v1__pod_sandbox_config__labels_entry__descriptor);
	cfg->labels = (Runtime__V1__PodSandboxConfig__LabelsEntry **)arr;
	arr = NULL;
	json_object_foreach(jsonx_getv(pod, "metadata", "annotations", NULL), key, v)
		if (json_is_string(v))
			PODS_PUSH(
				cfg->n_annotations, arr,
				pods_map_entry(
					&runtime__v1__pod_sandbox_config__annotations_entry__descriptor,
					key, json_string_value(v)));
	cfg->annotations = (Runtime__V1__PodSandboxConfig__AnnotationsEntry **)arr;

	cfg->linux_ = pods_msg_new(&runtime__v1__linux_pod_sandbox_config__descriptor);
	cfg->linux_->cgroup_parent = str_field(cgroup_parent);
	sc = pods_msg_new(&runtime__v1__linux_sandbox_security_context__descriptor);
	sc->namespace_options = namespaces(spec);
	if (json_is_integer(v = json_object_get(pod_sc, "runAsUser")))
		sc->run_as_user = int64_value(json_integer_value(v));
	if (json_is_integer(v = json_object_get(pod_sc, "runAsGroup")))
		sc->run_as_group = int64_value(json_integer_value(v));
	supplemental_groups(pod_sc, &sc->n_supplemental_groups, &sc->supplemental_groups);
	sc->privileged = any_privileged(spec);
	cfg->linux_->security_context = sc;
	arr = NULL;
	json_array_foreach(jsonx_arr(pod_sc, "sysctls"), i, s)
		if (*jsonx_str(s, "name", ""))
			PODS_PUSH(
				cfg->linux_->n_sysctls, arr,
				pods_map_entry(
					&runtime__v1__linux_pod_sandbox_config__sysctls_entry__descriptor,
					jsonx_str(s, "name", ""), jsonx_str(s, "value", "")));
	cfg->linux_->sysctls = (Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry **)arr;
	*out = cfg;
	return 0;
}
