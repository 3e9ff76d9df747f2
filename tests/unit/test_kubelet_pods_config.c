/*
 * Unit tests for agent/kubelet/containers.c: the environment (fieldRef,
 * resourceFieldRef, ConfigMap and Secret references, envFrom, $(VAR)
 * expansion), command/args, resources, security context, mounts, QoS and
 * pod limits, and the sandbox configuration.
 */
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/kubelet/containers.h"
#include "agent/kubelet/pods.h"
#include "jsonx.h"
#include "util.h"

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	ASSERT_MSG(j != NULL, "bad test JSON: %s: %s", e.text, text);
	return j;
}

/* ConfigMaps and Secrets of the lookup callback, by "kind/ns/name". */
static json_t *objects;
static int lookups;

static int lookup(void *ctx, const char *kind, const char *ns, const char *name, json_t **out)
{
	char key[256];
	json_t *o;

	lookups++;
	snprintf(key, sizeof(key), "%s/%s/%s", kind, ns, name);
	o = json_object_get(objects, key);
	if (!o)
		return -ENOENT;
	*out = json_incref(o);
	return 0;
}

static json_t *pod_of(const char *container)
{
	char *text = xasprintf(
		"{\"metadata\":{\"name\":\"web\",\"namespace\":\"prod\",\"uid\":\"u-1\","
		"\"labels\":{\"app\":\"web\",\"io.kubernetes.pod.uid\":\"spoofed\"},"
		"\"annotations\":{\"team\":\"blue\"}},"
		"\"spec\":{\"nodeName\":\"node1\",\"serviceAccountName\":\"sa1\","
		"\"securityContext\":{\"runAsUser\":1000,\"supplementalGroups\":[5],\"fsGroup\":7,"
		"\"sysctls\":[{\"name\":\"net.ipv4.ip_unprivileged_port_start\",\"value\":\"0\"}]},"
		"\"volumes\":[{\"name\":\"scratch\",\"emptyDir\":{}},"
		"{\"name\":\"host\",\"hostPath\":{\"path\":\"/srv/data\"}},"
		"{\"name\":\"cfg\",\"configMap\":{\"name\":\"c\"}}],"
		"\"containers\":[%s,{\"name\":\"side\",\"image\":\"busybox:1\","
		"\"resources\":{\"limits\":{\"cpu\":\"2\",\"memory\":\"1Gi\"}}}]}}",
		container);
	json_t *pod = J(text);

	free(text);
	return pod;
}

static struct pods_ctr_input input(const json_t *pod)
{
	return (struct pods_ctr_input){
		.pod = pod,
		.container = jsonx_get_path(pod, "spec.containers[0]"),
		.attempt = 3,
		.image = "sha256:abc",
		.image_uid = -1,
		.pod_ip = "10.244.1.5",
		.host_ip = "192.168.1.2",
		.node_name = "node1",
		.pod_dir = "/var/lib/capstan/kubelet/pods/u-1",
		.mem_capacity = 8LL << 30,
		.cpu_capacity = 4,
		.lookup = lookup,
	};
}

static void setup(void)
{
	objects = json_pack("{s:{s:{s:s,s:s}},s:{s:{s:s,s:s,s:s}}}", "configmaps/prod/cm", "data",
			    "LEVEL", "debug", "url", "http://x", "secrets/prod/sec", "data",
			    "password", "aHVudGVyMg==", "1bad", "eA==", "TOKEN", "dG9r");
	lookups = 0;
}

static void teardown(void)
{
	json_decref(objects);
	objects = NULL;
}

TEST(kubelet_pods_expand_rules)
{
	json_t *vars = json_pack("{s:s,s:s,s:s}", "A", "x", "B", "$(A)", "EMPTY", "");
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "$(A)", "x" },
		{ "pre-$(A)-post", "pre-x-post" },
		{ "$(A)$(A)", "xx" },
		{ "$(B)", "$(A)" }, /* values are not expanded again */
		{ "$(MISSING)", "$(MISSING)" },
		{ "$$(A)", "$(A)" }, /* escaped */
		{ "$$$(A)", "$x" },
		{ "$", "$" },
		{ "a$", "a$" },
		{ "$A", "$A" },
		{ "$(A", "$(A" }, /* unterminated */
		{ "$()", "$()" },
		{ "$(EMPTY)|", "|" },
		{ "", "" },
		{ "$(A)$", "x$" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *out = pods_expand(cases[i].in, vars);

		ASSERT_MSG(!strcmp(out, cases[i].out), "%s -> %s, want %s", cases[i].in, out,
			   cases[i].out);
		free(out);
	}
	{
		char *out = pods_expand(NULL, vars);

		ASSERT_STREQ(out, "");
		free(out);
	}
	json_decref(vars);
}

TEST(kubelet_pods_env_field_refs_and_expansion)
{
	json_t *pod, *env;
	struct pods_ctr_input in;
	char err[256];

	setup();
	pod = pod_of(
		"{\"name\":\"app\",\"image\":\"busybox:1\",\"env\":["
		"{\"name\":\"POD\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}},"
		"{\"name\":\"NS\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata."
		"namespace\"}}},"
		"{\"name\":\"UID\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.uid\"}}},"
		"{\"name\":\"APP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.labels['"
		"app']\"}}},"
		"{\"name\":\"TEAM\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata."
		"annotations['team']\"}}},"
		"{\"name\":\"NOPE\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.labels['"
		"nope']\"}}},"
		"{\"name\":\"NODE\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"spec.nodeName\"}}}"
		","
		"{\"name\":\"SA\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"spec."
		"serviceAccountName\"}}},"
		"{\"name\":\"IP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.podIP\"}}},"
		"{\"name\":\"IPS\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.podIPs\"}}},"
		"{\"name\":\"HOST\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.hostIP\"}}}"
		","
		"{\"name\":\"URL\",\"value\":\"http://$(IP):80/$(POD)/$(LATER)\"},"
		"{\"name\":\"LATER\",\"value\":\"late\"},"
		"{\"name\":\"POD\",\"value\":\"renamed-$(POD)\"}]}");
	in = input(pod);
	ASSERT_OK(pods_container_env(&in, &env, err, sizeof(err)));
	ASSERT_STREQ(jsonx_str(env, "NS", ""), "prod");
	ASSERT_STREQ(jsonx_str(env, "UID", ""), "u-1");
	ASSERT_STREQ(jsonx_str(env, "APP", ""), "web");
	ASSERT_STREQ(jsonx_str(env, "TEAM", ""), "blue");
	ASSERT_STREQ(jsonx_str(env, "NOPE", "x"), "");
	ASSERT_STREQ(jsonx_str(env, "NODE", ""), "node1");
	ASSERT_STREQ(jsonx_str(env, "SA", ""), "sa1");
	ASSERT_STREQ(jsonx_str(env, "IP", ""), "10.244.1.5");
	ASSERT_STREQ(jsonx_str(env, "IPS", ""), "10.244.1.5");
	ASSERT_STREQ(jsonx_str(env, "HOST", ""), "192.168.1.2");
	/* Only what is defined before expands. */
	ASSERT_STREQ(jsonx_str(env, "URL", ""), "http://10.244.1.5:80/web/$(LATER)");
	/* A redefinition replaces in place and sees the earlier value. */
	ASSERT_STREQ(jsonx_str(env, "POD", ""), "renamed-web");
	ASSERT_STREQ(json_object_iter_key(json_object_iter(env)), "POD");
	json_decref(env);
	json_decref(pod);

	/* An unknown fieldPath is a configuration error. */
	pod = pod_of("{\"name\":\"app\",\"env\":[{\"name\":\"X\",\"valueFrom\":{\"fieldRef\":"
		     "{\"fieldPath\":\"spec.bogus\"}}}]}");
	in = input(pod);
	ASSERT_EQ(pods_container_env(&in, &env, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "unsupported fieldPath: spec.bogus");
	json_decref(pod);
	teardown();
}

/* Services of two namespaces, a headless one, and a "kubernetes" of prod. */
static json_t *services_fixture(bool shadow_master)
{
	json_t *svcs = J(
		"[{\"metadata\":{\"namespace\":\"default\",\"name\":\"kubernetes\"},"
		"\"spec\":{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"name\":\"https\",\"port\":443,"
		"\"protocol\":\"TCP\"}]}},"
		"{\"metadata\":{\"namespace\":\"prod\",\"name\":\"my-db\"},"
		"\"spec\":{\"clusterIP\":\"10.96.5.6\",\"ports\":[{\"port\":5432},"
		"{\"name\":\"dns-udp\",\"port\":53,\"protocol\":\"UDP\"}]}},"
		"{\"metadata\":{\"namespace\":\"prod\",\"name\":\"headless\"},"
		"\"spec\":{\"clusterIP\":\"None\",\"ports\":[{\"port\":80}]}},"
		"{\"metadata\":{\"namespace\":\"prod\",\"name\":\"ext\"},"
		"\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"x.example\"}},"
		"{\"metadata\":{\"namespace\":\"other\",\"name\":\"cache\"},"
		"\"spec\":{\"clusterIP\":\"10.96.7.7\",\"ports\":[{\"port\":6379}]}}]");

	if (shadow_master)
		json_array_append_new(svcs,
				      J("{\"metadata\":{\"namespace\":\"prod\",\"name\":"
					"\"kubernetes\"},\"spec\":{\"clusterIP\":\"10.96.9.9\","
					"\"ports\":[{\"port\":8443}]}}"));
	return svcs;
}

TEST(kubelet_pods_env_service_variables)
{
	json_t *svcs = services_fixture(false), *env, *pod;
	struct pods_ctr_input in;
	char err[256];

	env = pods_service_env(svcs, "prod", true);
	ASSERT_STREQ(jsonx_str(env, "KUBERNETES_SERVICE_HOST", ""), "10.96.0.1");
	ASSERT_STREQ(jsonx_str(env, "KUBERNETES_SERVICE_PORT", ""), "443");
	ASSERT_STREQ(jsonx_str(env, "KUBERNETES_SERVICE_PORT_HTTPS", ""), "443");
	ASSERT_STREQ(jsonx_str(env, "KUBERNETES_PORT", ""), "tcp://10.96.0.1:443");
	ASSERT_STREQ(jsonx_str(env, "KUBERNETES_PORT_443_TCP", ""), "tcp://10.96.0.1:443");
	ASSERT_STREQ(jsonx_str(env, "KUBERNETES_PORT_443_TCP_PROTO", ""), "tcp");
	ASSERT_STREQ(jsonx_str(env, "KUBERNETES_PORT_443_TCP_PORT", ""), "443");
	ASSERT_STREQ(jsonx_str(env, "KUBERNETES_PORT_443_TCP_ADDR", ""), "10.96.0.1");
	/* '-' becomes '_'; only named ports get a _SERVICE_PORT_<NAME>. */
	ASSERT_STREQ(jsonx_str(env, "MY_DB_SERVICE_HOST", ""), "10.96.5.6");
	ASSERT_STREQ(jsonx_str(env, "MY_DB_SERVICE_PORT", ""), "5432");
	ASSERT_STREQ(jsonx_str(env, "MY_DB_SERVICE_PORT_DNS_UDP", ""), "53");
	ASSERT_STREQ(jsonx_str(env, "MY_DB_PORT", ""), "tcp://10.96.5.6:5432");
	ASSERT_STREQ(jsonx_str(env, "MY_DB_PORT_53_UDP", ""), "udp://10.96.5.6:53");
	ASSERT_STREQ(jsonx_str(env, "MY_DB_PORT_53_UDP_PROTO", ""), "udp");
	/* Headless, ExternalName and other namespaces: nothing. */
	ASSERT_NULL(json_object_get(env, "HEADLESS_SERVICE_HOST"));
	ASSERT_NULL(json_object_get(env, "EXT_SERVICE_HOST"));
	ASSERT_NULL(json_object_get(env, "CACHE_SERVICE_HOST"));
	ASSERT_EQ(json_object_size(env), 8 + 12); /* 3 + 1 + 4 per port for my-db */
	json_decref(env);

	/* Without links only the master service. */
	env = pods_service_env(svcs, "prod", false);
	ASSERT_EQ(json_object_size(env), 8);
	ASSERT_STREQ(jsonx_str(env, "KUBERNETES_SERVICE_HOST", ""), "10.96.0.1");
	json_decref(env);
	json_decref(svcs);

	/* The namespace's own "kubernetes" wins over the master service. */
	svcs = services_fixture(true);
	env = pods_service_env(svcs, "prod", true);
	ASSERT_STREQ(jsonx_str(env, "KUBERNETES_SERVICE_HOST", ""), "10.96.9.9");
	ASSERT_STREQ(jsonx_str(env, "KUBERNETES_SERVICE_PORT", ""), "8443");
	json_decref(env);
	env = pods_service_env(svcs, "other", false);
	ASSERT_STREQ(jsonx_str(env, "KUBERNETES_SERVICE_HOST", ""), "10.96.0.1");
	json_decref(env);

	/* In the container: env sees them in $(VAR) and may override them. */
	setup();
	pod = pod_of("{\"name\":\"app\",\"env\":[{\"name\":\"DB\",\"value\":"
		     "\"postgres://$(MY_DB_SERVICE_HOST):$(MY_DB_SERVICE_PORT)\"},"
		     "{\"name\":\"MY_DB_SERVICE_PORT\",\"value\":\"1\"}]}");
	in = input(pod);
	in.services = svcs;
	ASSERT_OK(pods_container_env(&in, &env, err, sizeof(err)));
	ASSERT_STREQ(jsonx_str(env, "DB", ""), "postgres://10.96.5.6:5432");
	ASSERT_STREQ(jsonx_str(env, "MY_DB_SERVICE_PORT", ""), "1");
	ASSERT_STREQ(jsonx_str(env, "KUBERNETES_SERVICE_HOST", ""), "10.96.9.9");
	json_decref(env);
	/* enableServiceLinks: false keeps only the master service. */
	json_object_set_new(jsonx_obj(pod, "spec"), "enableServiceLinks", json_false());
	ASSERT_OK(pods_container_env(&in, &env, err, sizeof(err)));
	ASSERT_STREQ(jsonx_str(env, "KUBERNETES_SERVICE_HOST", ""), "10.96.0.1");
	ASSERT_STREQ(jsonx_str(env, "DB", ""),
		     "postgres://$(MY_DB_SERVICE_HOST):$(MY_DB_SERVICE_PORT)");
	json_decref(env);
	json_decref(pod);
	json_decref(svcs);
	teardown();
}

TEST(kubelet_pods_env_configmaps_secrets_and_env_from)
{
	json_t *pod, *env;
	struct pods_ctr_input in;
	char err[256];

	setup();
	pod = pod_of("{\"name\":\"app\",\"envFrom\":[{\"configMapRef\":{\"name\":\"cm\"},"
		     "\"prefix\":\"CM_\"},{\"secretRef\":{\"name\":\"sec\"}},"
		     "{\"configMapRef\":{\"name\":\"absent\",\"optional\":true}}],"
		     "\"env\":[{\"name\":\"PW\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"sec\","
		     "\"key\":\"password\"}}},"
		     "{\"name\":\"LVL\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"cm\","
		     "\"key\":\"LEVEL\"}}},"
		     "{\"name\":\"OPT\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"cm\","
		     "\"key\":\"nokey\",\"optional\":true}}},"
		     "{\"name\":\"OPT2\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"none\","
		     "\"key\":\"k\",\"optional\":true}}},"
		     "{\"name\":\"BOTH\",\"value\":\"$(CM_LEVEL)/$(TOKEN)\"}]}");
	in = input(pod);
	ASSERT_OK(pods_container_env(&in, &env, err, sizeof(err)));
	ASSERT_STREQ(jsonx_str(env, "CM_LEVEL", ""), "debug");
	ASSERT_STREQ(jsonx_str(env, "CM_url", ""), "http://x");
	ASSERT_STREQ(jsonx_str(env, "TOKEN", ""), "tok");
	ASSERT_NULL(json_object_get(env, "1bad")); /* not a valid variable name */
	ASSERT_STREQ(jsonx_str(env, "PW", ""), "hunter2");
	ASSERT_STREQ(jsonx_str(env, "LVL", ""), "debug");
	ASSERT_NULL(json_object_get(env, "OPT"));
	ASSERT_NULL(json_object_get(env, "OPT2"));
	ASSERT_STREQ(jsonx_str(env, "BOTH", ""), "debug/tok");
	ASSERT_EQ(json_object_size(env), 7);
	json_decref(env);
	json_decref(pod);

	/* Missing, not optional: upstream's messages. */
	pod = pod_of(
		"{\"name\":\"app\",\"env\":[{\"name\":\"X\",\"valueFrom\":{\"configMapKeyRef\":"
		"{\"name\":\"cm\",\"key\":\"nokey\"}}}]}");
	in = input(pod);
	ASSERT_EQ(pods_container_env(&in, &env, err, sizeof(err)), -ENOENT);
	ASSERT_STREQ(err, "couldn't find key nokey in ConfigMap prod/cm");
	json_decref(pod);
	pod = pod_of("{\"name\":\"app\",\"envFrom\":[{\"secretRef\":{\"name\":\"gone\"}}]}");
	in = input(pod);
	ASSERT_EQ(pods_container_env(&in, &env, err, sizeof(err)), -ENOENT);
	ASSERT_STREQ(err, "secret \"gone\" not found");
	json_decref(pod);
	pod = pod_of("{\"name\":\"app\",\"env\":[{\"name\":\"X\",\"valueFrom\":{\"secretKeyRef\":"
		     "{\"name\":\"sec\",\"key\":\"missing\"}}}]}");
	in = input(pod);
	ASSERT_EQ(pods_container_env(&in, &env, err, sizeof(err)), -ENOENT);
	ASSERT_STREQ(err, "couldn't find key missing in Secret prod/sec");
	json_decref(pod);
	teardown();
}

TEST(kubelet_pods_env_resource_field_refs)
{
	json_t *pod, *env;
	struct pods_ctr_input in;
	char err[256];

	setup();
	pod = pod_of("{\"name\":\"app\",\"resources\":{\"requests\":{\"cpu\":\"250m\","
		     "\"memory\":\"64Mi\"},\"limits\":{\"memory\":\"128Mi\"}},\"env\":["
		     "{\"name\":\"RC\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":"
		     "\"requests.cpu\"}}},"
		     "{\"name\":\"RCM\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":"
		     "\"requests.cpu\",\"divisor\":\"1m\"}}},"
		     "{\"name\":\"LC\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":\"limits."
		     "cpu\"}}},"
		     "{\"name\":\"LM\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":\"limits."
		     "memory\",\"divisor\":\"1Mi\"}}},"
		     "{\"name\":\"SIDE\",\"valueFrom\":{\"resourceFieldRef\":{\"containerName\":"
		     "\"side\",\"resource\":\"limits.memory\"}}}]}");
	in = input(pod);
	ASSERT_OK(pods_container_env(&in, &env, err, sizeof(err)));
	ASSERT_STREQ(jsonx_str(env, "RC", ""), "1"); /* rounded up */
	ASSERT_STREQ(jsonx_str(env, "RCM", ""), "250");
	ASSERT_STREQ(jsonx_str(env, "LC", ""), "4"); /* no limit: the node's CPUs */
	ASSERT_STREQ(jsonx_str(env, "LM", ""), "128");
	ASSERT_STREQ(jsonx_str(env, "SIDE", ""), "1073741824");
	json_decref(env);
	json_decref(pod);
	teardown();
}

TEST(kubelet_pods_container_config_mapping)
{
	json_t *pod;
	struct pods_ctr_input in;
	Runtime__V1__ContainerConfig *c;
	Runtime__V1__LinuxContainerResources *r;
	Runtime__V1__LinuxContainerSecurityContext *sc;
	char err[256], hash[32];
	bool found = false;

	setup();
	pod = pod_of("{\"name\":\"app\",\"image\":\"busybox:1\",\"command\":[\"sh\",\"-c\"],"
		     "\"args\":[\"echo $(MSG) $$(MSG)\"],\"workingDir\":\"/w\","
		     "\"env\":[{\"name\":\"MSG\",\"value\":\"hi\"}],"
		     "\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":\"64Mi\"},"
		     "\"limits\":{\"cpu\":\"500m\",\"memory\":\"128Mi\"}},"
		     "\"securityContext\":{\"runAsGroup\":3000,\"privileged\":false,"
		     "\"readOnlyRootFilesystem\":true,\"allowPrivilegeEscalation\":false,"
		     "\"capabilities\":{\"add\":[\"NET_ADMIN\"],\"drop\":[\"ALL\"]}},"
		     "\"volumeMounts\":[{\"name\":\"scratch\",\"mountPath\":\"/tmp/s\"},"
		     "{\"name\":\"host\",\"mountPath\":\"/data\",\"readOnly\":true,"
		     "\"subPath\":\"sub\",\"mountPropagation\":\"HostToContainer\"}],"
		     "\"tty\":true}");
	in = input(pod);
	ASSERT_OK(pods_container_config(&in, &c, err, sizeof(err)));
	ASSERT_STREQ(c->metadata->name, "app");
	ASSERT_EQ(c->metadata->attempt, 3);
	ASSERT_STREQ(c->image->image, "sha256:abc");
	ASSERT_EQ(c->n_command, 2);
	ASSERT_STREQ(c->command[1], "-c");
	ASSERT_EQ(c->n_args, 1);
	ASSERT_STREQ(c->args[0], "echo hi $(MSG)");
	ASSERT_STREQ(c->working_dir, "/w");
	ASSERT_STREQ(c->log_path, "app/3.log");
	ASSERT(c->tty && !c->stdin);
	ASSERT_EQ(c->n_envs, 1);
	for (size_t i = 0; i < c->n_labels; i++)
		if (!strcmp(c->labels[i]->key, PODS_LABEL_CONTAINER))
			found = !strcmp(c->labels[i]->value, "app");
	ASSERT(found);
	pods_container_hash(in.container, hash, sizeof(hash));
	found = false;
	for (size_t i = 0; i < c->n_annotations; i++) {
		if (!strcmp(c->annotations[i]->key, PODS_ANN_HASH))
			found = !strcmp(c->annotations[i]->value, hash);
		if (!strcmp(c->annotations[i]->key, PODS_ANN_RESTART_COUNT))
			ASSERT_STREQ(c->annotations[i]->value, "3");
	}
	ASSERT(found);

	r = c->linux_->resources;
	ASSERT_EQ(r->cpu_shares, 256);
	ASSERT_EQ(r->cpu_period, 100000);
	ASSERT_EQ(r->cpu_quota, 50000);
	ASSERT_EQ(r->memory_limit_in_bytes, 128 << 20);
	/* Burstable (the sidecar's requests equal limits, this one's do not). */
	ASSERT_EQ(r->oom_score_adj, 1000 - (1000 * (64LL << 20)) / (8LL << 30));

	sc = c->linux_->security_context;
	ASSERT_EQ(sc->run_as_user->value, 1000); /* from the pod */
	ASSERT_EQ(sc->run_as_group->value, 3000);
	ASSERT_EQ(sc->n_supplemental_groups, 2);
	ASSERT_EQ(sc->supplemental_groups[0], 5);
	ASSERT_EQ(sc->supplemental_groups[1], 7);
	ASSERT(sc->readonly_rootfs && !sc->privileged && sc->no_new_privs);
	ASSERT_EQ(sc->capabilities->n_add_capabilities, 1);
	ASSERT_STREQ(sc->capabilities->add_capabilities[0], "NET_ADMIN");
	ASSERT_STREQ(sc->capabilities->drop_capabilities[0], "ALL");
	ASSERT_EQ(sc->namespace_options->network, RUNTIME__V1__NAMESPACE_MODE__POD);
	ASSERT_EQ(sc->namespace_options->pid, RUNTIME__V1__NAMESPACE_MODE__CONTAINER);
	ASSERT(sc->n_masked_paths > 5);
	ASSERT_STREQ(sc->readonly_paths[3], "/proc/sys");

	ASSERT_EQ(c->n_mounts, 2);
	ASSERT_STREQ(c->mounts[0]->container_path, "/tmp/s");
	ASSERT_STREQ(c->mounts[0]->host_path,
		     "/var/lib/capstan/kubelet/pods/u-1/volumes/kubernetes.io~empty-dir/scratch");
	ASSERT_STREQ(c->mounts[1]->host_path, "/srv/data/sub");
	ASSERT(c->mounts[1]->readonly);
	ASSERT_EQ(c->mounts[1]->propagation,
		  RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER);
	protobuf_c_message_free_unpacked(&c->base, NULL);
	json_decref(pod);
	teardown();
}

TEST(kubelet_pods_container_config_defaults_and_errors)
{
	json_t *pod;
	struct pods_ctr_input in;
	Runtime__V1__ContainerConfig *c = NULL;
	char err[256];

	setup();
	/* BestEffort: 2 shares, no quota, no memory limit, oom 1000; privileged unmasked. */
	pod = J("{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"uid\":\"u\"},\"spec\":{"
		"\"containers\":[{\"name\":\"a\",\"image\":\"busybox:1\",\"securityContext\":"
		"{\"privileged\":true}}]}}");
	in = input(pod);
	in.image = NULL;
	ASSERT_OK(pods_container_config(&in, &c, err, sizeof(err)));
	ASSERT_STREQ(c->image->image, "busybox:1");
	ASSERT_EQ(c->linux_->resources->cpu_shares, 2);
	ASSERT_EQ(c->linux_->resources->cpu_quota, 0);
	ASSERT_EQ(c->linux_->resources->memory_limit_in_bytes, 0);
	ASSERT_EQ(c->linux_->resources->oom_score_adj, 1000);
	ASSERT(c->linux_->security_context->privileged);
	ASSERT_EQ(c->linux_->security_context->n_masked_paths, 0);
	ASSERT_NULL(c->linux_->security_context->run_as_user);
	ASSERT_EQ(c->n_command + c->n_args, 0);
	protobuf_c_message_free_unpacked(&c->base, NULL);
	json_decref(pod);

	/* Unsupported volume type, unknown volume, escaping subPath. */
	pod = pod_of("{\"name\":\"a\",\"volumeMounts\":[{\"name\":\"cfg\",\"mountPath\":\"/c\"}]}");
	in = input(pod);
	ASSERT_EQ(pods_container_config(&in, &c, err, sizeof(err)), -ENOTSUP);
	ASSERT(strstr(err, "cfg") != NULL);
	json_decref(pod);
	pod = pod_of("{\"name\":\"a\",\"volumeMounts\":[{\"name\":\"zz\",\"mountPath\":\"/c\"}]}");
	in = input(pod);
	ASSERT_EQ(pods_container_config(&in, &c, err, sizeof(err)), -ENOENT);
	json_decref(pod);
	pod = pod_of("{\"name\":\"a\",\"volumeMounts\":[{\"name\":\"host\",\"mountPath\":\"/c\","
		     "\"subPath\":\"../etc\"}]}");
	in = input(pod);
	ASSERT_EQ(pods_container_config(&in, &c, err, sizeof(err)), -EINVAL);
	json_decref(pod);

	/* runAsNonRoot against the image's user. */
	pod = pod_of("{\"name\":\"a\",\"securityContext\":{\"runAsNonRoot\":true,"
		     "\"runAsUser\":0}}");
	in = input(pod);
	ASSERT_EQ(pods_container_config(&in, &c, err, sizeof(err)), -EPERM);
	ASSERT(strstr(err, "runAsUser breaks non-root policy") != NULL);
	json_decref(pod);
	pod = J("{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"uid\":\"u\"},\"spec\":{"
		"\"containers\":[{\"name\":\"a\",\"securityContext\":{\"runAsNonRoot\":true}}]}}");
	in = input(pod);
	in.image_uid = 0;
	ASSERT_EQ(pods_container_config(&in, &c, err, sizeof(err)), -EPERM);
	ASSERT(strstr(err, "image will run as root") != NULL);
	in.image_uid = 1001;
	ASSERT_OK(pods_container_config(&in, &c, err, sizeof(err)));
	protobuf_c_message_free_unpacked(&c->base, NULL);
	json_decref(pod);

	/* No uid: refused. */
	pod = J("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"a\"}]}}");
	in = input(pod);
	ASSERT_EQ(pods_container_config(&in, &c, err, sizeof(err)), -EINVAL);
	json_decref(pod);
	teardown();
}

TEST(kubelet_pods_qos_and_resources)
{
	static const struct {
		const char *containers;
		enum kcg_qos qos;
	} cases[] = {
		{ "[{\"name\":\"a\"}]", KCG_BESTEFFORT },
		{ "[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"1\"}}}]",
		  KCG_BURSTABLE },
		{ "[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},"
		  "\"requests\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}]",
		  KCG_GUARANTEED },
		{ "[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},"
		  "\"requests\":{\"cpu\":\"500m\",\"memory\":\"1Gi\"}}}]",
		  KCG_BURSTABLE },
		{ "[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},"
		  "\"requests\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}},{\"name\":\"b\"}]",
		  KCG_BURSTABLE },
		{ "[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"1\"},\"requests\":"
		  "{\"cpu\":\"1\"}}}]",
		  KCG_BURSTABLE },
		{ "[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"0\"}}}]",
		  KCG_BESTEFFORT },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *text = xasprintf("{\"spec\":{\"containers\":%s}}", cases[i].containers);
		json_t *pod = J(text);

		ASSERT_MSG(pods_qos(pod) == cases[i].qos, "case %zu: %s", i,
			   kcg_qos_name(pods_qos(pod)));
		free(text);
		json_decref(pod);
	}
	ASSERT_EQ(pods_cpu_shares(0), 2);
	ASSERT_EQ(pods_cpu_shares(1), 2);
	ASSERT_EQ(pods_cpu_shares(100), 102);
	ASSERT_EQ(pods_cpu_shares(1000), 1024);
	ASSERT_EQ(pods_cpu_shares(1000000), 262144);
	ASSERT_EQ(pods_cpu_quota(250, 100000), 25000);
	ASSERT_EQ(pods_cpu_quota(1, 100000), 1000);
	ASSERT_EQ(pods_oom_score_adj(KCG_GUARANTEED, 0, 1 << 30), -997);
	ASSERT_EQ(pods_oom_score_adj(KCG_BESTEFFORT, 0, 1 << 30), 1000);
	ASSERT_EQ(pods_oom_score_adj(KCG_BURSTABLE, 0, 1 << 30), 999);
	ASSERT_EQ(pods_oom_score_adj(KCG_BURSTABLE, 1 << 29, 1 << 30), 500);
	ASSERT_EQ(pods_oom_score_adj(KCG_BURSTABLE, 1LL << 31, 1 << 30), 3);
}

TEST(kubelet_pods_pod_level_limits)
{
	json_t *pod = J("{\"spec\":{\"initContainers\":[{\"name\":\"i\",\"resources\":{\"limits\":"
			"{\"cpu\":\"3\",\"memory\":\"64Mi\"},\"requests\":{\"cpu\":\"3\"}}}],"
			"\"containers\":[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"1\","
			"\"memory\":\"128Mi\"},\"requests\":{\"cpu\":\"500m\"}}},"
			"{\"name\":\"b\",\"resources\":{\"limits\":{\"cpu\":\"500m\","
			"\"memory\":\"128Mi\"},\"requests\":{\"cpu\":\"500m\"}}}]}}");
	struct kcg_limits lim;

	pods_pod_limits(pod, &lim);
	ASSERT_EQ(lim.cpu_shares, 3072); /* the init container's 3 CPUs beat 1 CPU */
	ASSERT_EQ(lim.cpu_period, 100000);
	ASSERT_EQ(lim.cpu_quota, 300000);
	ASSERT_EQ(lim.memory, 256 << 20);
	json_decref(pod);

	/* One container without a memory limit: no pod memory limit. */
	pod = J("{\"spec\":{\"containers\":[{\"name\":\"a\",\"resources\":{\"limits\":"
		"{\"memory\":\"128Mi\"}}},{\"name\":\"b\"}]}}");
	pods_pod_limits(pod, &lim);
	ASSERT_EQ(lim.memory, 0);
	ASSERT_EQ(lim.cpu_quota, 0);
	ASSERT_EQ(lim.cpu_shares, 2);
	json_decref(pod);
}

TEST(kubelet_pods_sandbox_config_mapping)
{
	json_t *pod;
	Runtime__V1__PodSandboxConfig *c;
	bool uid_ok = false, app_ok = false;

	pod = J("{\"metadata\":{\"name\":\"a-very-long-pod-name-that-goes-on-and-on-beyond-63-"
		"characters--for-sure\",\"namespace\":\"ns\",\"uid\":\"u-2\","
		"\"labels\":{\"app\":\"x\",\"io.kubernetes.pod.uid\":\"spoofed\"},"
		"\"annotations\":{\"a\":\"b\"}},\"spec\":{\"hostIPC\":true,"
		"\"shareProcessNamespace\":true,\"securityContext\":{\"runAsUser\":5,"
		"\"sysctls\":[{\"name\":\"net.core.somaxconn\",\"value\":\"1024\"}]},"
		"\"containers\":[{\"name\":\"a\",\"ports\":[{\"containerPort\":80,\"hostPort\":"
		"8080},"
		"{\"containerPort\":53,\"hostPort\":5353,\"protocol\":\"UDP\",\"hostIP\":\"127.0.0."
		"1\"},"
		"{\"containerPort\":9090}]}]}}");
	ASSERT_OK(pods_sandbox_config(pod, 2, "/logs/x", "/kubepods/besteffort/podu-2", &c));
	ASSERT_STREQ(c->metadata->name,
		     "a-very-long-pod-name-that-goes-on-and-on-beyond-63-characters--for-sure");
	ASSERT_STREQ(c->metadata->uid, "u-2");
	ASSERT_STREQ(c->metadata->namespace_, "ns");
	ASSERT_EQ(c->metadata->attempt, 2);
	/* 63 bytes, without the trailing '-'s. */
	ASSERT_STREQ(c->hostname, "a-very-long-pod-name-that-goes-on-and-on-beyond-63-characters");
	ASSERT_STREQ(c->log_directory, "/logs/x");
	ASSERT_EQ(c->n_port_mappings, 2);
	ASSERT_EQ(c->port_mappings[0]->host_port, 8080);
	ASSERT_EQ(c->port_mappings[0]->container_port, 80);
	ASSERT_EQ(c->port_mappings[1]->protocol, RUNTIME__V1__PROTOCOL__UDP);
	ASSERT_STREQ(c->port_mappings[1]->host_ip, "127.0.0.1");
	for (size_t i = 0; i < c->n_labels; i++) {
		if (!strcmp(c->labels[i]->key, PODS_LABEL_UID)) {
			ASSERT(!uid_ok); /* exactly once, ours */
			uid_ok = !strcmp(c->labels[i]->value, "u-2");
		}
		app_ok |= !strcmp(c->labels[i]->key, "app") && !strcmp(c->labels[i]->value, "x");
	}
	ASSERT(uid_ok && app_ok);
	ASSERT_EQ(c->n_annotations, 1);
	ASSERT_STREQ(c->linux_->cgroup_parent, "/kubepods/besteffort/podu-2");
	ASSERT_EQ(c->linux_->security_context->namespace_options->network,
		  RUNTIME__V1__NAMESPACE_MODE__POD);
	ASSERT_EQ(c->linux_->security_context->namespace_options->pid,
		  RUNTIME__V1__NAMESPACE_MODE__POD);
	ASSERT_EQ(c->linux_->security_context->namespace_options->ipc,
		  RUNTIME__V1__NAMESPACE_MODE__NODE);
	ASSERT_EQ(c->linux_->security_context->run_as_user->value, 5);
	ASSERT_EQ(c->linux_->n_sysctls, 1);
	ASSERT_STREQ(c->linux_->sysctls[0]->key, "net.core.somaxconn");
	ASSERT_STREQ(c->linux_->sysctls[0]->value, "1024");
	protobuf_c_message_free_unpacked(&c->base, NULL);
	json_decref(pod);

	/* hostNetwork: the node's namespace and hostname. */
	pod = J("{\"metadata\":{\"name\":\"h\",\"namespace\":\"ns\",\"uid\":\"u\"},"
		"\"spec\":{\"hostNetwork\":true,\"hostname\":\"custom\",\"containers\":[]}}");
	ASSERT_OK(pods_sandbox_config(pod, 0, "/l", "", &c));
	ASSERT_EQ(c->linux_->security_context->namespace_options->network,
		  RUNTIME__V1__NAMESPACE_MODE__NODE);
	ASSERT_STREQ(c->hostname, "");
	protobuf_c_message_free_unpacked(&c->base, NULL);
	json_object_del(jsonx_get_path(pod, "spec"), "hostNetwork");
	ASSERT_OK(pods_sandbox_config(pod, 0, "/l", "", &c));
	ASSERT_STREQ(c->hostname, "custom");
	protobuf_c_message_free_unpacked(&c->base, NULL);
	json_decref(pod);

	pod = J("{\"metadata\":{\"name\":\"h\"}}");
	ASSERT_EQ(pods_sandbox_config(pod, 0, "/l", "", &c), -EINVAL);
	json_decref(pod);
}

TEST(kubelet_pods_hash_follows_spec)
{
	json_t *a = J("{\"name\":\"a\",\"image\":\"x:1\"}"),
	       *b = J("{\"image\":\"x:1\",\"name\":\"a\"}");
	char ha[32], hb[32];

	pods_container_hash(a, ha, sizeof(ha));
	pods_container_hash(b, hb, sizeof(hb));
	ASSERT_STREQ(ha, hb); /* key order does not matter */
	ASSERT_EQ(strlen(ha), 16);
	json_object_set_new(b, "image", json_string("x:2"));
	pods_container_hash(b, hb, sizeof(hb));
	ASSERT(strcmp(ha, hb) != 0);
	json_decref(a);
	json_decref(b);
}

TEST(kubelet_pods_volumes_prepare_creates_empty_dirs)
{
	char dir[512], path[600], err[256];
	json_t *pod;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/pods/u1", test_tmpdir());
	snprintf(path, sizeof(path), "%s/hp/a/b", test_tmpdir());
	pod = json_pack("{s:{s:[{s:s,s:{}},{s:s,s:{s:s,s:s}},{s:s,s:{s:s}}]}}", "spec", "volumes",
			"name", "scratch", "emptyDir", "name", "hp", "hostPath", "path", path,
			"type", "DirectoryOrCreate", "name", "other", "hostPath", "path",
			"/nonexistent/should/not/be/created");
	ASSERT_OK(pods_volumes_prepare(pod, dir, err, sizeof(err)));
	snprintf(path, sizeof(path), "%s/volumes/kubernetes.io~empty-dir/scratch", dir);
	ASSERT_OK(stat(path, &st));
	ASSERT(S_ISDIR(st.st_mode));
	snprintf(path, sizeof(path), "%s/hp/a/b", test_tmpdir());
	ASSERT_OK(stat(path, &st));
	ASSERT(stat("/nonexistent/should", &st) < 0);
	json_decref(pod);
}
