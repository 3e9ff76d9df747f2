/*
 * Unit tests for control/apiserver/pbjson: kubectl's captured protobuf bodies
 * against the JSON the same commands print, hand-built messages for the
 * special JSON forms, inline fields and Go pointers, and hostile input
 * (truncation, bad magic, unknown kinds and fields, deep nesting, random
 * bytes) that must fail cleanly.
 */
#include "test.h"
#include "control/apiserver/pbjson.h"
#include "control/apiserver/proto/apps.pb-c.h"
#include "control/apiserver/proto/coordination.pb-c.h"
#include "control/apiserver/proto/core.pb-c.h"
#include "control/apiserver/proto/meta.pb-c.h"
#include "control/apiserver/proto/policy.pb-c.h"
#include "control/apiserver/proto/runtime.pb-c.h"
#include "jsonx.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>

#define FIXTURES "tests/unit/fixtures/proto/"

static uint8_t *load_fixture(const char *name, size_t *len)
{
	char *path = xasprintf(FIXTURES "%s", name);
	FILE *f = fopen(path, "rb");
	uint8_t *data;
	long n;

	ASSERT_MSG(f != NULL, "%s: %s (run from the repository root)", path, strerror(errno));
	ASSERT_OK(fseek(f, 0, SEEK_END));
	n = ftell(f);
	ASSERT(n >= 0);
	rewind(f);
	data = xmalloc(n ? n : 1);
	ASSERT_EQ(fread(data, 1, n, f), n);
	fclose(f);
	free(path);
	*len = n;
	return data;
}

static json_t *decode_ok(const uint8_t *body, size_t len)
{
	json_t *out = NULL;
	char err[512];
	int rc = pbjson_decode(body, len, &out, err, sizeof(err));

	ASSERT_MSG(rc == 0, "pbjson_decode: %d (%s)", rc, err);
	ASSERT_NOT_NULL(out);
	return out;
}

/* The error code; err holds the message, which must not be empty. */
static int decode_fail(const uint8_t *body, size_t len, char *err, size_t errlen)
{
	json_t *out = NULL;
	int rc = pbjson_decode(body, len, &out, err, errlen);

	ASSERT_MSG(rc < 0, "pbjson_decode accepted the body: %d", rc);
	ASSERT_NULL(out);
	ASSERT_MSG(err[0] != '\0', "no error message for %d", rc);
	return rc;
}

static void expect_json(json_t *got, const char *want_text)
{
	json_error_t jerr;
	json_t *want = json_loads(want_text, 0, &jerr);
	char where[256];

	ASSERT_MSG(want != NULL, "bad expected JSON: %s", jerr.text);
	if (jsonx_diff_path(got, want, where, sizeof(where))) {
		char *g = jsonx_dumps_compact(got), *w = jsonx_dumps_compact(want);

		test_fail(__FILE__, __LINE__, "differs at \"%s\"\n   got %s\n  want %s", where, g,
			  w);
	}
	json_decref(want);
}

/* "k8s\0" + runtime.Unknown{typeMeta{apiVersion, kind}, raw = msg packed}. */
static uint8_t *envelope(const char *api_version, const char *kind, const ProtobufCMessage *msg,
			 size_t *len)
{
	Kube__Runtime__Unknown u = KUBE__RUNTIME__UNKNOWN__INIT;
	Kube__Runtime__TypeMeta tm = KUBE__RUNTIME__TYPE_META__INIT;
	uint8_t *raw = NULL, *out;
	size_t n;

	tm.apiversion = (char *)api_version;
	tm.kind = (char *)kind;
	u.typemeta = &tm;
	if (msg) {
		n = protobuf_c_message_get_packed_size(msg);
		raw = xmalloc(n + 1);
		protobuf_c_message_pack(msg, raw);
		u.has_raw = 1;
		u.raw.data = raw;
		u.raw.len = n;
	}
	n = kube__runtime__unknown__get_packed_size(&u);
	out = xmalloc(4 + n);
	memcpy(out, "k8s", 4);
	kube__runtime__unknown__pack(&u, out + 4);
	free(raw);
	*len = 4 + n;
	return out;
}

static json_t *decode_msg(const char *api_version, const char *kind, const ProtobufCMessage *msg)
{
	size_t len;
	uint8_t *body = envelope(api_version, kind, msg, &len);
	json_t *out = decode_ok(body, len);

	free(body);
	return out;
}

static int decode_msg_fail(const char *api_version, const char *kind, const ProtobufCMessage *msg,
			   char *err, size_t errlen)
{
	size_t len;
	uint8_t *body = envelope(api_version, kind, msg, &len);
	int rc = decode_fail(body, len, err, errlen);

	free(body);
	return rc;
}

/* A Deployment around a pod spec, for tests about what the pod holds. */
struct deployment_shell {
	Kube__Apps__V1__Deployment dep;
	Kube__Apps__V1__DeploymentSpec spec;
	Kube__Core__V1__PodTemplateSpec tmpl;
};

static void deployment_shell_init(struct deployment_shell *s, Kube__Core__V1__PodSpec *pod)
{
	kube__apps__v1__deployment__init(&s->dep);
	kube__apps__v1__deployment_spec__init(&s->spec);
	kube__core__v1__pod_template_spec__init(&s->tmpl);
	s->tmpl.spec = pod;
	s->spec.template_ = &s->tmpl;
	s->dep.spec = &s->spec;
}

/* ------------------------------------------------------------ captured bodies */

static const char *const captured[] = {
	"deployment-web",
	"deployment-multi",
	"namespace-ns1",
	"service-clusterip-svc1",
	"service-nodeport-np1",
	"service-loadbalancer-lb1",
	"service-externalname-en1",
	"configmap-cm1",
	"secret-s1",
	"secret-docker-registry-dr1",
	"serviceaccount-sa1",
	"deleteoptions-drain",
};

TEST(pbjson_captured_bodies_match_kubectl_json)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(captured); i++) {
		char *pb_name = xasprintf("%s.pb", captured[i]);
		char *json_name = xasprintf("%s.json", captured[i]);
		size_t pb_len, json_len;
		uint8_t *pb = load_fixture(pb_name, &pb_len);
		uint8_t *want_text = load_fixture(json_name, &json_len);
		json_t *got = decode_ok(pb, pb_len), *want;
		json_error_t jerr;
		char where[256];

		want = json_loadb((const char *)want_text, json_len, 0, &jerr);
		ASSERT_MSG(want != NULL, "%s: %s", json_name, jerr.text);
		if (jsonx_diff_path(got, want, where, sizeof(where)))
			test_fail(__FILE__, __LINE__,
				  "%s differs from kubectl's JSON at \"%s\": %s", captured[i],
				  where, jsonx_dumps_compact(got));
		json_decref(got);
		json_decref(want);
		free(pb);
		free(want_text);
		free(pb_name);
		free(json_name);
	}
}

TEST(pbjson_create_deployment_fields)
{
	size_t len;
	uint8_t *body = load_fixture("deployment-web.pb", &len);
	json_t *d = decode_ok(body, len);

	ASSERT_STREQ(jsonx_str(d, "apiVersion", NULL), "apps/v1");
	ASSERT_STREQ(jsonx_str(d, "kind", NULL), "Deployment");
	ASSERT_STREQ(jsonx_path_str(d, "metadata.name", NULL), "web");
	ASSERT_EQ(jsonx_path_int(d, "spec.replicas", -1), 3);
	ASSERT_STREQ(jsonx_path_str(d, "spec.selector.matchLabels.app", NULL), "web");
	ASSERT_STREQ(jsonx_path_str(d, "spec.template.metadata.labels.app", NULL), "web");
	ASSERT_STREQ(jsonx_path_str(d, "spec.template.spec.containers[0].name", NULL), "nginx");
	ASSERT_STREQ(jsonx_path_str(d, "spec.template.spec.containers[0].image", NULL),
		     "nginx:1.25");
	ASSERT_EQ(jsonx_path_int(d, "spec.template.spec.containers[0].ports[0].containerPort", 0),
		  80);
	/* The wire carries namespace "" and generation 0: Go zero values, left out. */
	ASSERT_NULL(jsonx_get_path(d, "metadata.namespace"));
	ASSERT_NULL(jsonx_get_path(d, "metadata.generation"));
	ASSERT(json_is_null(jsonx_get_path(d, "metadata.creationTimestamp")));
	json_decref(d);
	free(body);
}

TEST(pbjson_create_secret_data_is_base64)
{
	size_t len;
	uint8_t *body = load_fixture("secret-s1.pb", &len);
	json_t *s = decode_ok(body, len);

	ASSERT_STREQ(jsonx_path_str(s, "data.k", NULL), "dg=="); /* "v" */
	ASSERT_NULL(jsonx_get_path(s, "type"));			 /* "" on the wire */
	json_decref(s);
	free(body);
}

TEST(pbjson_unsupported_kind_is_enotsup)
{
	size_t len;
	uint8_t *body = load_fixture("job-j1.pb", &len);
	char err[256];

	ASSERT_EQ(decode_fail(body, len, err, sizeof(err)), -ENOTSUP);
	ASSERT_MSG(strstr(err, "batch/v1") && strstr(err, "Job"), "message: %s", err);
	free(body);
	body = envelope("v1", "Pod", NULL, &len); /* no Pod in the subset either */
	ASSERT_EQ(decode_fail(body, len, err, sizeof(err)), -ENOTSUP);
	free(body);
	/* A kind in the wrong group version is unknown too. */
	body = envelope("apps/v1", "Service", NULL, &len);
	ASSERT_EQ(decode_fail(body, len, err, sizeof(err)), -ENOTSUP);
	free(body);
}

/* ------------------------------------------------------------ hand-built objects */

TEST(pbjson_pod_template_inline_pointers_and_special_forms)
{
	struct deployment_shell d;
	Kube__Meta__V1__ObjectMeta meta = KUBE__META__V1__OBJECT_META__INIT;
	Kube__Meta__V1__ObjectMeta tmeta = KUBE__META__V1__OBJECT_META__INIT;
	Kube__Meta__V1__ObjectMeta__LabelsEntry lab =
		KUBE__META__V1__OBJECT_META__LABELS_ENTRY__INIT;
	Kube__Meta__V1__ObjectMeta__LabelsEntry *labs[] = { &lab };
	Kube__Meta__V1__Time created = KUBE__META__V1__TIME__INIT;
	Kube__Apps__V1__DeploymentStatus status = KUBE__APPS__V1__DEPLOYMENT_STATUS__INIT;
	Kube__Meta__V1__LabelSelector sel = KUBE__META__V1__LABEL_SELECTOR__INIT;
	Kube__Meta__V1__LabelSelector__MatchLabelsEntry ml =
		KUBE__META__V1__LABEL_SELECTOR__MATCH_LABELS_ENTRY__INIT;
	Kube__Meta__V1__LabelSelector__MatchLabelsEntry *mls[] = { &ml };
	Kube__Apps__V1__DeploymentStrategy strat = KUBE__APPS__V1__DEPLOYMENT_STRATEGY__INIT;
	Kube__Apps__V1__RollingUpdateDeployment ru =
		KUBE__APPS__V1__ROLLING_UPDATE_DEPLOYMENT__INIT;
	Kube__Intstr__IntOrString surge = KUBE__INTSTR__INT_OR_STRING__INIT;
	Kube__Intstr__IntOrString unavail = KUBE__INTSTR__INT_OR_STRING__INIT;
	Kube__Core__V1__PodSpec pod = KUBE__CORE__V1__POD_SPEC__INIT;
	Kube__Core__V1__PodSecurityContext psc = KUBE__CORE__V1__POD_SECURITY_CONTEXT__INIT;
	Kube__Core__V1__Container ctr = KUBE__CORE__V1__CONTAINER__INIT;
	Kube__Core__V1__Container *ctrs[] = { &ctr };
	char *cmd[] = { "sh", "-c", "" };
	Kube__Core__V1__ContainerPort port = KUBE__CORE__V1__CONTAINER_PORT__INIT;
	Kube__Core__V1__ContainerPort *ports[] = { &port };
	Kube__Core__V1__EnvVar env_a = KUBE__CORE__V1__ENV_VAR__INIT;
	Kube__Core__V1__EnvVar env_b = KUBE__CORE__V1__ENV_VAR__INIT;
	Kube__Core__V1__EnvVar *envs[] = { &env_a, &env_b };
	Kube__Core__V1__EnvVarSource from = KUBE__CORE__V1__ENV_VAR_SOURCE__INIT;
	Kube__Core__V1__ConfigMapKeySelector cmk = KUBE__CORE__V1__CONFIG_MAP_KEY_SELECTOR__INIT;
	Kube__Core__V1__LocalObjectReference cm_ref = KUBE__CORE__V1__LOCAL_OBJECT_REFERENCE__INIT;
	Kube__Core__V1__ResourceRequirements res = KUBE__CORE__V1__RESOURCE_REQUIREMENTS__INIT;
	Kube__Core__V1__ResourceRequirements__LimitsEntry lim_cpu =
		KUBE__CORE__V1__RESOURCE_REQUIREMENTS__LIMITS_ENTRY__INIT;
	Kube__Core__V1__ResourceRequirements__LimitsEntry lim_mem =
		KUBE__CORE__V1__RESOURCE_REQUIREMENTS__LIMITS_ENTRY__INIT;
	Kube__Core__V1__ResourceRequirements__LimitsEntry *lims[] = { &lim_cpu, &lim_mem };
	Kube__Core__V1__ResourceRequirements__RequestsEntry req_cpu =
		KUBE__CORE__V1__RESOURCE_REQUIREMENTS__REQUESTS_ENTRY__INIT;
	Kube__Core__V1__ResourceRequirements__RequestsEntry *reqs[] = { &req_cpu };
	Kube__Resource__Quantity q500m = KUBE__RESOURCE__QUANTITY__INIT;
	Kube__Resource__Quantity q128 = KUBE__RESOURCE__QUANTITY__INIT;
	Kube__Resource__Quantity q250m = KUBE__RESOURCE__QUANTITY__INIT;
	Kube__Core__V1__Probe probe = KUBE__CORE__V1__PROBE__INIT;
	Kube__Core__V1__ProbeHandler handler = KUBE__CORE__V1__PROBE_HANDLER__INIT;
	Kube__Core__V1__HTTPGetAction get = KUBE__CORE__V1__HTTPGET_ACTION__INIT;
	Kube__Intstr__IntOrString named = KUBE__INTSTR__INT_OR_STRING__INIT;
	Kube__Core__V1__VolumeMount vm = KUBE__CORE__V1__VOLUME_MOUNT__INIT;
	Kube__Core__V1__VolumeMount *vms[] = { &vm };
	Kube__Core__V1__SecurityContext sc = KUBE__CORE__V1__SECURITY_CONTEXT__INIT;
	Kube__Core__V1__Capabilities caps = KUBE__CORE__V1__CAPABILITIES__INIT;
	char *add[] = { "NET_ADMIN" };
	Kube__Core__V1__Volume vol_data = KUBE__CORE__V1__VOLUME__INIT;
	Kube__Core__V1__Volume vol_cfg = KUBE__CORE__V1__VOLUME__INIT;
	Kube__Core__V1__Volume *vols[] = { &vol_data, &vol_cfg };
	Kube__Core__V1__VolumeSource src_data = KUBE__CORE__V1__VOLUME_SOURCE__INIT;
	Kube__Core__V1__VolumeSource src_cfg = KUBE__CORE__V1__VOLUME_SOURCE__INIT;
	Kube__Core__V1__EmptyDirVolumeSource empty = KUBE__CORE__V1__EMPTY_DIR_VOLUME_SOURCE__INIT;
	Kube__Core__V1__ConfigMapVolumeSource cmv = KUBE__CORE__V1__CONFIG_MAP_VOLUME_SOURCE__INIT;
	Kube__Core__V1__KeyToPath item = KUBE__CORE__V1__KEY_TO_PATH__INIT;
	Kube__Core__V1__KeyToPath *items[] = { &item };
	Kube__Core__V1__Toleration tol = KUBE__CORE__V1__TOLERATION__INIT;
	Kube__Core__V1__Toleration *tols[] = { &tol };
	json_t *got;

	deployment_shell_init(&d, &pod);
	lab.key = "app";
	lab.value = "web";
	meta.name = "web";
	meta.namespace_ = "";
	meta.has_generation = 1; /* zero, as Go writes it: left out */
	meta.n_labels = 1;
	meta.labels = labs;
	meta.creationtimestamp = &created; /* empty: the zero time, null */
	d.dep.metadata = &meta;

	ml.key = "app";
	ml.value = "web";
	sel.n_matchlabels = 1;
	sel.matchlabels = mls;
	d.spec.has_replicas = 1; /* a pointer: 0 is kept */
	d.spec.replicas = 0;
	d.spec.selector = &sel;
	surge.has_type = 1;
	surge.type = 1;
	surge.strval = "25%";
	unavail.has_intval = 1;
	ru.maxsurge = &surge;
	ru.maxunavailable = &unavail;
	strat.type = "RollingUpdate";
	strat.rollingupdate = &ru;
	d.spec.strategy = &strat;

	tmeta.n_labels = 1;
	tmeta.labels = labs;
	d.tmpl.metadata = &tmeta;
	pod.restartpolicy = "Always";
	pod.dnspolicy = "";
	pod.has_hostnetwork = 1;
	pod.has_terminationgraceperiodseconds = 1;
	psc.has_runasuser = 1;
	psc.has_fsgroup = 1;
	psc.fsgroup = 2000;
	pod.securitycontext = &psc;

	ctr.name = "app";
	ctr.image = "img";
	ctr.n_command = 3;
	ctr.command = cmd;
	port.name = "http";
	port.has_containerport = 1;
	port.containerport = 8080;
	port.protocol = "TCP";
	port.has_hostport = 1;
	ctr.n_ports = 1;
	ctr.ports = ports;
	env_a.name = "A";
	env_a.value = "1";
	env_b.name = "B";
	cm_ref.name = "cm";
	cmk.localobjectreference = &cm_ref;
	cmk.key = "k";
	cmk.has_optional = 1;
	from.configmapkeyref = &cmk;
	env_b.valuefrom = &from;
	ctr.n_env = 2;
	ctr.env = envs;
	q500m.string = "500m";
	q128.string = "128Mi";
	q250m.string = "250m";
	lim_cpu.key = "cpu";
	lim_cpu.value = &q500m;
	lim_mem.key = "memory";
	lim_mem.value = &q128;
	req_cpu.key = "cpu";
	req_cpu.value = &q250m;
	res.n_limits = 2;
	res.limits = lims;
	res.n_requests = 1;
	res.requests = reqs;
	ctr.resources = &res;
	named.has_type = 1;
	named.type = 1;
	named.strval = "http";
	get.path = "/healthz";
	get.port = &named;
	handler.httpget = &get;
	probe.handler = &handler;
	probe.has_initialdelayseconds = 1;
	probe.initialdelayseconds = 3;
	probe.has_periodseconds = 1;
	ctr.livenessprobe = &probe;
	vm.name = "data";
	vm.mountpath = "/data";
	vm.has_readonly = 1;
	vm.readonly = 1;
	ctr.n_volumemounts = 1;
	ctr.volumemounts = vms;
	sc.has_privileged = 1;
	caps.n_add = 1;
	caps.add = add;
	sc.capabilities = &caps;
	ctr.securitycontext = &sc;
	pod.n_containers = 1;
	pod.containers = ctrs;

	vol_data.name = "data";
	src_data.emptydir = &empty;
	vol_data.volumesource = &src_data;
	vol_cfg.name = "cfg";
	cmv.localobjectreference = &cm_ref;
	cmv.has_defaultmode = 1;
	cmv.defaultmode = 0644;
	item.key = "a";
	item.path = "a.txt";
	cmv.n_items = 1;
	cmv.items = items;
	src_cfg.configmap = &cmv;
	vol_cfg.volumesource = &src_cfg;
	pod.n_volumes = 2;
	pod.volumes = vols;
	tol.key = "k";
	tol.operator_ = "Exists";
	tol.effect = "NoSchedule";
	tol.has_tolerationseconds = 1;
	pod.n_tolerations = 1;
	pod.tolerations = tols;
	d.dep.status = &status;

	got = decode_msg("apps/v1", "Deployment", &d.dep.base);
	expect_json(
		got,
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		"\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"web\"},"
		"\"creationTimestamp\":null},"
		"\"spec\":{\"replicas\":0,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
		"\"strategy\":{\"type\":\"RollingUpdate\","
		"\"rollingUpdate\":{\"maxSurge\":\"25%\",\"maxUnavailable\":0}},"
		"\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{"
		"\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":0,"
		"\"securityContext\":{\"runAsUser\":0,\"fsGroup\":2000},"
		"\"containers\":[{\"name\":\"app\",\"image\":\"img\","
		"\"command\":[\"sh\",\"-c\",\"\"],"
		"\"ports\":[{\"name\":\"http\",\"containerPort\":8080,\"protocol\":\"TCP\"}],"
		"\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"valueFrom\":"
		"{\"configMapKeyRef\":{\"name\":\"cm\",\"key\":\"k\",\"optional\":false}}}],"
		"\"resources\":{\"limits\":{\"cpu\":\"500m\",\"memory\":\"128Mi\"},"
		"\"requests\":{\"cpu\":\"250m\"}},"
		"\"livenessProbe\":{\"httpGet\":{\"path\":\"/healthz\",\"port\":\"http\"},"
		"\"initialDelaySeconds\":3},"
		"\"volumeMounts\":[{\"name\":\"data\",\"readOnly\":true,\"mountPath\":\"/data\"}],"
		"\"securityContext\":{\"privileged\":false,"
		"\"capabilities\":{\"add\":[\"NET_ADMIN\"]}}}],"
		"\"volumes\":[{\"name\":\"data\",\"emptyDir\":{}},{\"name\":\"cfg\","
		"\"configMap\":{\"name\":\"cm\",\"items\":[{\"key\":\"a\",\"path\":\"a.txt\"}],"
		"\"defaultMode\":420}}],"
		"\"tolerations\":[{\"key\":\"k\",\"operator\":\"Exists\","
		"\"effect\":\"NoSchedule\",\"tolerationSeconds\":0}]}}},"
		"\"status\":{}}");
	json_decref(got);
}

TEST(pbjson_times)
{
	Kube__Core__V1__Namespace ns = KUBE__CORE__V1__NAMESPACE__INIT;
	Kube__Meta__V1__ObjectMeta meta = KUBE__META__V1__OBJECT_META__INIT;
	Kube__Meta__V1__Time created = KUBE__META__V1__TIME__INIT;
	Kube__Meta__V1__Time deleted = KUBE__META__V1__TIME__INIT;
	Kube__Coordination__V1__Lease lease = KUBE__COORDINATION__V1__LEASE__INIT;
	Kube__Coordination__V1__LeaseSpec ls = KUBE__COORDINATION__V1__LEASE_SPEC__INIT;
	Kube__Meta__V1__MicroTime renew = KUBE__META__V1__MICRO_TIME__INIT;
	Kube__Meta__V1__MicroTime acquire = KUBE__META__V1__MICRO_TIME__INIT;
	char err[256];
	json_t *got;

	/* Time keeps whole seconds; seconds = 0 present is the epoch, not null. */
	created.has_seconds = 1;
	created.seconds = 1704164645;
	created.has_nanos = 1;
	created.nanos = 999999999;
	deleted.has_seconds = 1;
	meta.name = "ns1";
	meta.creationtimestamp = &created;
	meta.deletiontimestamp = &deleted;
	meta.has_deletiongraceperiodseconds = 1; /* a pointer: 0 is kept */
	ns.metadata = &meta;
	got = decode_msg("v1", "Namespace", &ns.base);
	expect_json(got, "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{"
			 "\"name\":\"ns1\",\"creationTimestamp\":\"2024-01-02T03:04:05Z\","
			 "\"deletionTimestamp\":\"1970-01-01T00:00:00Z\","
			 "\"deletionGracePeriodSeconds\":0}}");
	json_decref(got);

	/* MicroTime keeps 6 digits; pointer strings keep "" and ints keep 0. */
	renew.has_seconds = 1;
	renew.seconds = 1704164645;
	renew.has_nanos = 1;
	renew.nanos = 123456789;
	ls.holderidentity = "";
	ls.has_leasedurationseconds = 1;
	ls.leasedurationseconds = 40;
	ls.has_leasetransitions = 1;
	ls.renewtime = &renew;
	ls.acquiretime = &acquire;
	lease.spec = &ls;
	got = decode_msg("coordination.k8s.io/v1", "Lease", &lease.base);
	expect_json(got, "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
			 "\"spec\":{\"holderIdentity\":\"\",\"leaseDurationSeconds\":40,"
			 "\"acquireTime\":null,\"renewTime\":\"2024-01-02T03:04:05.123456Z\","
			 "\"leaseTransitions\":0}}");
	json_decref(got);

	/* Beyond what an int64 of nanoseconds (and so ktime) holds. */
	created.seconds = 300000000000LL;
	ASSERT_EQ(decode_msg_fail("v1", "Namespace", &ns.base, err, sizeof(err)), -EINVAL);
	ASSERT_MSG(strstr(err, "metadata.creationTimestamp"), "message: %s", err);
	created.seconds = INT64_MAX;
	ASSERT_EQ(decode_msg_fail("v1", "Namespace", &ns.base, err, sizeof(err)), -EINVAL);
}

TEST(pbjson_secret_bytes_and_map_values)
{
	Kube__Core__V1__Secret sec = KUBE__CORE__V1__SECRET__INIT;
	Kube__Core__V1__Secret__DataEntry e[5] = {
		KUBE__CORE__V1__SECRET__DATA_ENTRY__INIT, KUBE__CORE__V1__SECRET__DATA_ENTRY__INIT,
		KUBE__CORE__V1__SECRET__DATA_ENTRY__INIT, KUBE__CORE__V1__SECRET__DATA_ENTRY__INIT,
		KUBE__CORE__V1__SECRET__DATA_ENTRY__INIT,
	};
	Kube__Core__V1__Secret__DataEntry *ep[] = { &e[0], &e[1], &e[2], &e[3], &e[4] };
	Kube__Core__V1__Secret__StringDataEntry sd =
		KUBE__CORE__V1__SECRET__STRING_DATA_ENTRY__INIT;
	Kube__Core__V1__Secret__StringDataEntry *sdp[] = { &sd };
	uint8_t bin[] = { 0xff, 0xfe }, nul[] = { 0 };
	json_t *got;

	e[0].key = "one";
	e[0].has_value = 1;
	e[0].value = (ProtobufCBinaryData){ 1, nul };
	e[1].key = "two";
	e[1].has_value = 1;
	e[1].value = (ProtobufCBinaryData){ 2, (uint8_t *)"ab" };
	e[2].key = "three";
	e[2].has_value = 1;
	e[2].value = (ProtobufCBinaryData){ 3, (uint8_t *)"abc" };
	e[3].key = "bin";
	e[3].has_value = 1;
	e[3].value = (ProtobufCBinaryData){ 2, bin };
	e[4].key = "none"; /* no value on the wire: Go's zero, an empty []byte */
	sec.n_data = 5;
	sec.data = ep;
	sd.key = "plain";
	sec.n_stringdata = 1;
	sec.stringdata = sdp;
	sec.has_immutable = 1; /* *bool false is kept */
	sec.type = "Opaque";
	got = decode_msg("v1", "Secret", &sec.base);
	expect_json(got,
		    "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"data\":{\"one\":\"AA==\","
		    "\"two\":\"YWI=\",\"three\":\"YWJj\",\"bin\":\"//4=\",\"none\":\"\"},"
		    "\"stringData\":{\"plain\":\"\"},\"type\":\"Opaque\",\"immutable\":false}");
	json_decref(got);
}

TEST(pbjson_map_with_message_values)
{
	struct deployment_shell d;
	Kube__Core__V1__PodSpec pod = KUBE__CORE__V1__POD_SPEC__INIT;
	Kube__Core__V1__PodSpec__OverheadEntry oh = KUBE__CORE__V1__POD_SPEC__OVERHEAD_ENTRY__INIT;
	Kube__Core__V1__PodSpec__OverheadEntry *ohp[] = { &oh, &oh };
	Kube__Resource__Quantity q = KUBE__RESOURCE__QUANTITY__INIT;
	char err[256];
	json_t *got;

	/* A value-less entry is the zero Quantity; a repeated key keeps the last. */
	oh.key = "cpu";
	pod.n_overhead = 1;
	pod.overhead = ohp;
	deployment_shell_init(&d, &pod);
	got = decode_msg("apps/v1", "Deployment", &d.dep.base);
	expect_json(got, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"spec\":"
			 "{\"template\":{\"spec\":{\"overhead\":{\"cpu\":\"0\"}}}}}");
	json_decref(got);

	q.string = "1x";
	oh.value = &q;
	pod.n_overhead = 2;
	ASSERT_EQ(decode_msg_fail("apps/v1", "Deployment", &d.dep.base, err, sizeof(err)), -EINVAL);
	ASSERT_MSG(strstr(err, "spec.template.spec.overhead[\"cpu\"]: quantities must match"),
		   "message: %s", err);
	q.string = ""; /* Go writes "0" for a zero Quantity, never "" */
	ASSERT_EQ(decode_msg_fail("apps/v1", "Deployment", &d.dep.base, err, sizeof(err)), -EINVAL);
}

TEST(pbjson_int_or_string_type_must_be_known)
{
	Kube__Core__V1__Service svc = KUBE__CORE__V1__SERVICE__INIT;
	Kube__Core__V1__ServiceSpec spec = KUBE__CORE__V1__SERVICE_SPEC__INIT;
	Kube__Core__V1__ServicePort port = KUBE__CORE__V1__SERVICE_PORT__INIT;
	Kube__Core__V1__ServicePort *ports[] = { &port };
	Kube__Intstr__IntOrString target = KUBE__INTSTR__INT_OR_STRING__INIT;
	char err[256];
	json_t *got;

	port.has_port = 1;
	port.port = 80;
	port.targetport = &target; /* all zero: the int 0, as Go prints it */
	spec.n_ports = 1;
	spec.ports = ports;
	spec.has_allocateloadbalancernodeports = 1;
	svc.spec = &spec;
	got = decode_msg("v1", "Service", &svc.base);
	expect_json(got, "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"spec\":{\"ports\":"
			 "[{\"port\":80,\"targetPort\":0}],"
			 "\"allocateLoadBalancerNodePorts\":false}}");
	json_decref(got);

	target.has_type = 1;
	target.type = 2;
	ASSERT_EQ(decode_msg_fail("v1", "Service", &svc.base, err, sizeof(err)), -EINVAL);
	ASSERT_MSG(strstr(err, "spec.ports[0].targetPort: IntOrString type 2"), "message: %s", err);
}

TEST(pbjson_strings_must_be_utf8)
{
	Kube__Core__V1__ConfigMap cm = KUBE__CORE__V1__CONFIG_MAP__INIT;
	Kube__Core__V1__ConfigMap__DataEntry e = KUBE__CORE__V1__CONFIG_MAP__DATA_ENTRY__INIT;
	Kube__Core__V1__ConfigMap__DataEntry *ep[] = { &e };
	char err[256];
	const char *p;

	e.key = "k";
	e.value = "caf\xc3\xa9";
	cm.n_data = 1;
	cm.data = ep;
	json_decref(decode_msg("v1", "ConfigMap", &cm.base));
	e.value = "bad\xff";
	ASSERT_EQ(decode_msg_fail("v1", "ConfigMap", &cm.base, err, sizeof(err)), -EINVAL);
	ASSERT_MSG(strstr(err, "data[\"k\"]: string is not valid UTF-8"), "message: %s", err);
	e.value = "v";
	e.key = "\xc3";
	ASSERT_EQ(decode_msg_fail("v1", "ConfigMap", &cm.base, err, sizeof(err)), -EINVAL);
	/* The message quotes the key, but only as printable ASCII. */
	for (p = err; *p; p++)
		ASSERT((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
}

TEST(pbjson_delete_options_and_eviction)
{
	Kube__Meta__V1__DeleteOptions opts = KUBE__META__V1__DELETE_OPTIONS__INIT;
	Kube__Meta__V1__Preconditions pre = KUBE__META__V1__PRECONDITIONS__INIT;
	Kube__Policy__V1__Eviction ev = KUBE__POLICY__V1__EVICTION__INIT;
	Kube__Meta__V1__ObjectMeta meta = KUBE__META__V1__OBJECT_META__INIT;
	char *dry[] = { "All" };
	json_t *got;

	opts.has_graceperiodseconds = 1; /* 0: delete now, not "unset" */
	pre.uid = "";
	pre.resourceversion = "42";
	opts.preconditions = &pre;
	opts.propagationpolicy = "Foreground";
	opts.n_dryrun = 1;
	opts.dryrun = dry;
	got = decode_msg("apps/v1", "DeleteOptions", &opts.base);
	expect_json(got, "{\"apiVersion\":\"apps/v1\",\"kind\":\"DeleteOptions\","
			 "\"gracePeriodSeconds\":0,\"preconditions\":{\"uid\":\"\","
			 "\"resourceVersion\":\"42\"},\"propagationPolicy\":\"Foreground\","
			 "\"dryRun\":[\"All\"]}");
	json_decref(got);

	meta.name = "p1";
	meta.namespace_ = "default";
	ev.metadata = &meta;
	opts.preconditions = NULL;
	opts.propagationpolicy = NULL;
	opts.n_dryrun = 0;
	opts.graceperiodseconds = 30;
	ev.deleteoptions = &opts;
	got = decode_msg("policy/v1", "Eviction", &ev.base);
	expect_json(got, "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":"
			 "{\"name\":\"p1\",\"namespace\":\"default\"},"
			 "\"deleteOptions\":{\"gracePeriodSeconds\":30}}");
	json_decref(got);
}

TEST(pbjson_envelope_without_raw_is_bare_object)
{
	json_t *got = decode_msg("v1", "DeleteOptions", NULL);

	expect_json(got, "{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\"}");
	json_decref(got);
}

TEST(pbjson_embedded_json_and_protobuf)
{
	Kube__Apps__V1__ControllerRevision cr = KUBE__APPS__V1__CONTROLLER_REVISION__INIT;
	Kube__Runtime__RawExtension data = KUBE__RUNTIME__RAW_EXTENSION__INIT;
	Kube__Core__V1__ConfigMap cm = KUBE__CORE__V1__CONFIG_MAP__INIT;
	Kube__Meta__V1__ObjectMeta meta = KUBE__META__V1__OBJECT_META__INIT;
	Kube__Meta__V1__ManagedFieldsEntry mf = KUBE__META__V1__MANAGED_FIELDS_ENTRY__INIT;
	Kube__Meta__V1__ManagedFieldsEntry *mfp[] = { &mf };
	Kube__Meta__V1__FieldsV1 fv1 = KUBE__META__V1__FIELDS_V1__INIT;
	const char *fields = "{\"f:data\":{\"f:a\":{}}}";
	uint8_t *inner;
	size_t inner_len;
	char err[256];
	json_t *got;

	data.has_raw = 1;
	data.raw = (ProtobufCBinaryData){ 12, (uint8_t *)"{\"spec\":[1]}" };
	cr.data = &data;
	cr.has_revision = 1;
	cr.revision = 2;
	got = decode_msg("apps/v1", "ControllerRevision", &cr.base);
	expect_json(got, "{\"apiVersion\":\"apps/v1\",\"kind\":\"ControllerRevision\","
			 "\"data\":{\"spec\":[1]},\"revision\":2}");
	json_decref(got);

	/* A protobuf sender may embed a whole protobuf object. */
	mf.manager = "kubectl";
	mf.operation = "Update";
	mf.fieldstype = "FieldsV1";
	fv1.has_raw = 1;
	fv1.raw = (ProtobufCBinaryData){ strlen(fields), (uint8_t *)fields };
	mf.fieldsv1 = &fv1;
	meta.name = "cm1";
	meta.n_managedfields = 1;
	meta.managedfields = mfp;
	cm.metadata = &meta;
	inner = envelope("v1", "ConfigMap", &cm.base, &inner_len);
	data.raw = (ProtobufCBinaryData){ inner_len, inner };
	got = decode_msg("apps/v1", "ControllerRevision", &cr.base);
	expect_json(got, "{\"apiVersion\":\"apps/v1\",\"kind\":\"ControllerRevision\","
			 "\"data\":{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{"
			 "\"name\":\"cm1\",\"managedFields\":[{\"manager\":\"kubectl\","
			 "\"operation\":\"Update\",\"fieldsType\":\"FieldsV1\","
			 "\"fieldsV1\":{\"f:data\":{\"f:a\":{}}}}]}},\"revision\":2}");
	json_decref(got);
	free(inner);

	/* FieldsV1 is JSON only; broken JSON fails either way. */
	fv1.raw = (ProtobufCBinaryData){ 5, (uint8_t *)"{\"a\":" };
	ASSERT_EQ(decode_msg_fail("v1", "ConfigMap", &cm.base, err, sizeof(err)), -EINVAL);
	ASSERT_MSG(strstr(err, "metadata.managedFields[0].fieldsV1: embedded JSON"), "message: %s",
		   err);
	data.raw = (ProtobufCBinaryData){ 3, (uint8_t *)"{1}" };
	ASSERT_EQ(decode_msg_fail("apps/v1", "ControllerRevision", &cr.base, err, sizeof(err)),
		  -EINVAL);
}

/* ControllerRevision -> data -> ControllerRevision -> ... levels deep. */
static uint8_t *revision_chain(int levels, size_t *len)
{
	uint8_t *body = NULL;
	int i;

	for (i = 0; i < levels; i++) {
		Kube__Apps__V1__ControllerRevision cr = KUBE__APPS__V1__CONTROLLER_REVISION__INIT;
		Kube__Runtime__RawExtension data = KUBE__RUNTIME__RAW_EXTENSION__INIT;
		uint8_t *next;

		cr.has_revision = 1;
		cr.revision = i + 1;
		if (body) {
			data.has_raw = 1;
			data.raw = (ProtobufCBinaryData){ *len, body };
			cr.data = &data;
		}
		next = envelope("apps/v1", "ControllerRevision", &cr.base, len);
		free(body);
		body = next;
	}
	return body;
}

TEST(pbjson_nesting_is_bounded)
{
	size_t len;
	uint8_t *body = revision_chain(8, &len);
	json_t *got = decode_ok(body, len);
	char err[256];

	ASSERT_EQ(jsonx_path_int(got, "data.data.data.data.data.data.data.revision", -1), 1);
	ASSERT_NULL(jsonx_get_path(got, "data.data.data.data.data.data.data.data"));
	ASSERT_EQ(jsonx_path_int(got, "revision", -1), 8);
	json_decref(got);
	free(body);

	body = revision_chain(200, &len);
	ASSERT_EQ(decode_fail(body, len, err, sizeof(err)), -EINVAL);
	ASSERT_MSG(strstr(err, "nested deeper"), "message: %s", err);
	free(body);
}

TEST(pbjson_deep_fields_json_fails_cleanly)
{
	Kube__Core__V1__ConfigMap cm = KUBE__CORE__V1__CONFIG_MAP__INIT;
	Kube__Meta__V1__ObjectMeta meta = KUBE__META__V1__OBJECT_META__INIT;
	Kube__Meta__V1__ManagedFieldsEntry mf = KUBE__META__V1__MANAGED_FIELDS_ENTRY__INIT;
	Kube__Meta__V1__ManagedFieldsEntry *mfp[] = { &mf };
	Kube__Meta__V1__FieldsV1 fv1 = KUBE__META__V1__FIELDS_V1__INIT;
	size_t depth = 100000, i;
	uint8_t *deep = xmalloc(2 * depth);
	char err[256];

	for (i = 0; i < depth; i++) {
		deep[i] = '[';
		deep[2 * depth - 1 - i] = ']';
	}
	fv1.has_raw = 1;
	fv1.raw = (ProtobufCBinaryData){ 2 * depth, deep };
	mf.fieldsv1 = &fv1;
	meta.n_managedfields = 1;
	meta.managedfields = mfp;
	cm.metadata = &meta;
	ASSERT_EQ(decode_msg_fail("v1", "ConfigMap", &cm.base, err, sizeof(err)), -EINVAL);
	free(deep);
}

/* ------------------------------------------------------------ malformed input */

TEST(pbjson_unknown_field_is_rejected)
{
	struct deployment_shell d;
	Kube__Core__V1__PodSpec pod = KUBE__CORE__V1__POD_SPEC__INIT;
	Kube__Core__V1__Container ctr = KUBE__CORE__V1__CONTAINER__INIT;
	Kube__Core__V1__Container *ctrs[] = { &ctr };
	Kube__Core__V1__Volume vol = KUBE__CORE__V1__VOLUME__INIT;
	Kube__Core__V1__Volume *vols[] = { &vol };
	Kube__Core__V1__VolumeSource src = KUBE__CORE__V1__VOLUME_SOURCE__INIT;
	uint8_t one = 1;
	ProtobufCMessageUnknownField extra = { 77, PROTOBUF_C_WIRE_TYPE_VARINT, 1, &one };
	char err[256];

	ctr.name = "c";
	ctr.base.n_unknown_fields = 1;
	ctr.base.unknown_fields = &extra;
	pod.n_containers = 1;
	pod.containers = ctrs;
	deployment_shell_init(&d, &pod);
	ASSERT_EQ(decode_msg_fail("apps/v1", "Deployment", &d.dep.base, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "spec.template.spec.containers[0]: unknown field number 77 (wire type 0) "
			  "in Container");

	/* Inside an inline message (a volume source) too. */
	ctr.base.n_unknown_fields = 0;
	vol.name = "v";
	vol.volumesource = &src;
	src.base.n_unknown_fields = 1;
	src.base.unknown_fields = &extra;
	pod.n_volumes = 1;
	pod.volumes = vols;
	ASSERT_EQ(decode_msg_fail("apps/v1", "Deployment", &d.dep.base, err, sizeof(err)), -EINVAL);
	ASSERT_MSG(strstr(err, "77") && strstr(err, "VolumeSource"), "message: %s", err);
}

TEST(pbjson_unknown_field_injected_into_captured_body)
{
	size_t len;
	uint8_t *body = load_fixture("namespace-ns1.pb", &len);
	Kube__Runtime__Unknown *u = kube__runtime__unknown__unpack(NULL, len - 4, body + 4);
	uint8_t *raw, *out;
	size_t n;
	char err[256];

	/* Namespace field 9 (varint 5) appended to the object's own bytes. */
	ASSERT_NOT_NULL(u);
	raw = xmalloc(u->raw.len + 2);
	memcpy(raw, u->raw.data, u->raw.len);
	raw[u->raw.len] = 9 << 3;
	raw[u->raw.len + 1] = 5;
	free(u->raw.data); /* protobuf-c allocates bytes fields on their own */
	u->raw.data = raw; /* freed with the message below */
	u->raw.len += 2;
	n = kube__runtime__unknown__get_packed_size(u);
	out = xmalloc(n + 4);
	memcpy(out, "k8s", 4);
	kube__runtime__unknown__pack(u, out + 4);
	ASSERT_EQ(decode_fail(out, n + 4, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "unknown field number 9 (wire type 0) in Namespace");
	free(out);
	kube__runtime__unknown__free_unpacked(u, NULL);
	free(body);
}

TEST(pbjson_envelope_errors)
{
	Kube__Runtime__Unknown u = KUBE__RUNTIME__UNKNOWN__INIT;
	Kube__Runtime__TypeMeta tm = KUBE__RUNTIME__TYPE_META__INIT;
	uint8_t one = 1, buf[256];
	ProtobufCMessageUnknownField extra = { 9, PROTOBUF_C_WIRE_TYPE_VARINT, 1, &one };
	const char json_body[] = "{\"kind\":\"Namespace\"}";
	char err[256];
	size_t n;

	ASSERT_EQ(decode_fail((const uint8_t *)json_body, sizeof(json_body) - 1, err, sizeof(err)),
		  -EINVAL);
	ASSERT_MSG(strstr(err, "k8s\\0"), "message: %s", err);
	ASSERT_EQ(decode_fail((const uint8_t *)"k8s\1\x0a\x00", 6, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(decode_fail((const uint8_t *)"K8s", 4, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(decode_fail(NULL, 0, err, sizeof(err)), -EINVAL);

	/* No kind. */
	memcpy(buf, "k8s", 4);
	tm.apiversion = "v1";
	u.typemeta = &tm;
	n = kube__runtime__unknown__pack(&u, buf + 4);
	ASSERT_EQ(decode_fail(buf, n + 4, err, sizeof(err)), -EINVAL);
	ASSERT_MSG(strstr(err, "Kind"), "message: %s", err);

	/* Compressed or foreign embedded content. */
	tm.kind = "Namespace";
	u.contentencoding = "gzip";
	n = kube__runtime__unknown__pack(&u, buf + 4);
	ASSERT_EQ(decode_fail(buf, n + 4, err, sizeof(err)), -ENOTSUP);
	u.contentencoding = "";
	u.contenttype = "application/json";
	n = kube__runtime__unknown__pack(&u, buf + 4);
	ASSERT_EQ(decode_fail(buf, n + 4, err, sizeof(err)), -ENOTSUP);
	u.contenttype = "application/vnd.kubernetes.protobuf";
	n = kube__runtime__unknown__pack(&u, buf + 4);
	json_decref(decode_ok(buf, n + 4));

	/* Unknown fields in the envelope or its typeMeta. */
	u.base.n_unknown_fields = 1;
	u.base.unknown_fields = &extra;
	n = kube__runtime__unknown__pack(&u, buf + 4);
	ASSERT_EQ(decode_fail(buf, n + 4, err, sizeof(err)), -EINVAL);
	ASSERT_MSG(strstr(err, "in Unknown"), "message: %s", err);
	u.base.n_unknown_fields = 0;
	tm.base.n_unknown_fields = 1;
	tm.base.unknown_fields = &extra;
	n = kube__runtime__unknown__pack(&u, buf + 4);
	ASSERT_EQ(decode_fail(buf, n + 4, err, sizeof(err)), -EINVAL);
	ASSERT_MSG(strstr(err, "in TypeMeta"), "message: %s", err);
}

TEST(pbjson_wrong_wire_type_is_malformed)
{
	/* Namespace whose metadata (field 1, a message) arrives as a varint. */
	static const uint8_t body[] = { 'k', '8',  's',	 0,    0x0a, 0x0f, 0x0a, 0x02, 'v',
					'1', 0x12, 0x09, 'N',  'a',  'm',  'e',	 's',  'p',
					'a', 'c',  'e',	 0x12, 0x02, 0x08, 0x01 };
	char err[256];

	ASSERT_EQ(decode_fail(body, sizeof(body), err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "malformed protobuf Namespace body");
}

TEST(pbjson_bad_arguments)
{
	size_t len;
	uint8_t *body = load_fixture("namespace-ns1.pb", &len);
	json_t *out = NULL;
	char err[8];

	ASSERT_EQ(pbjson_decode(body, len, NULL, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(pbjson_decode(NULL, 4, &out, err, sizeof(err)), -EINVAL);
	ASSERT_NULL(out);
	/* No error buffer, or a tiny one, is fine. */
	ASSERT_EQ(pbjson_decode(body, 3, &out, NULL, 0), -EINVAL);
	ASSERT_EQ(pbjson_decode(body, 3, &out, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(strlen(err), sizeof(err) - 1);
	ASSERT_OK(pbjson_decode(body, len, &out, NULL, 0));
	json_decref(out);
	free(body);
}

/*
 * Cutting a kubectl body anywhere fails, except right after the envelope's
 * typeMeta (a valid Unknown without raw bytes: a bare object) and after raw
 * or contentEncoding, the last fields, which kubectl writes as "".
 */
TEST(pbjson_truncated_bodies_fail_cleanly)
{
	size_t f;

	for (f = 0; f < ARRAY_SIZE(captured); f++) {
		char *name = xasprintf("%s.pb", captured[f]);
		size_t len, cut;
		uint8_t *body = load_fixture(name, &len);
		size_t after_typemeta = 6 + body[5];

		ASSERT(len > after_typemeta + 4);
		for (cut = 0; cut < len; cut++) {
			uint8_t *copy = xmalloc(cut + 1); /* exact size, so ASan sees overreads */
			json_t *out = NULL;
			char err[256] = "";
			int rc;

			memcpy(copy, body, cut);
			rc = pbjson_decode(copy, cut, &out, err, sizeof(err));
			if (cut == after_typemeta || cut == len - 4 || cut == len - 2) {
				ASSERT_MSG(rc == 0, "%s cut at %zu: %d %s", name, cut, rc, err);
				json_decref(out);
			} else {
				ASSERT_MSG(rc == -EINVAL && !out && err[0],
					   "%s cut at %zu of %zu: %d", name, cut, len, rc);
			}
			free(copy);
		}
		free(body);
		free(name);
	}
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 32);
}

static void decode_anything(const uint8_t *data, size_t len, int *accepted)
{
	uint8_t *copy = xmalloc(len + 1);
	json_t *out = NULL;
	char err[128];
	int rc;

	memcpy(copy, data, len);
	rc = pbjson_decode(copy, len, &out, err, sizeof(err));
	ASSERT_MSG(rc == 0 || rc == -EINVAL || rc == -ENOTSUP, "rc %d", rc);
	ASSERT((rc == 0) == (out != NULL));
	if (out) {
		ASSERT(json_is_object(out));
		*accepted += 1;
	}
	json_decref(out);
	free(copy);
}

TEST(pbjson_random_and_mutated_bytes_fail_cleanly)
{
	uint8_t buf[512];
	int accepted = 0, i;
	size_t f;

	for (i = 0; i < 20000; i++) {
		size_t len = rng() % sizeof(buf), j;

		for (j = 0; j < len; j++)
			buf[j] = rng();
		if (len >= 4 && (i & 1))
			memcpy(buf, "k8s", 4);
		decode_anything(buf, len, &accepted);
	}
	/* Flipping bytes of real bodies reaches far deeper than noise does. */
	for (f = 0; f < ARRAY_SIZE(captured); f++) {
		char *name = xasprintf("%s.pb", captured[f]);
		size_t len;
		uint8_t *body = load_fixture(name, &len);

		for (i = 0; i < 3000; i++) {
			uint8_t *m = xmalloc(len);
			int flips = 1 + rng() % 3;

			memcpy(m, body, len);
			while (flips--)
				m[4 + rng() % (len - 4)] ^= (uint8_t)(1u << (rng() % 8));
			decode_anything(m, len, &accepted);
			free(m);
		}
		free(body);
		free(name);
	}
	/* Some mutations only change values; the decoder must accept those. */
	ASSERT(accepted > 0);
}
