/*
 * Unit tests for control/apiserver/schema: strict checks of realistic
 * manifests (kubectl 1.32 client dry-run output and objects as the kubelet and
 * controllers write them), unknown fields and wrong types at every depth, and
 * the OpenAPI components (references resolve, kinds carry their GVK, patch
 * metadata where kubectl apply needs it). A generated body with every field
 * the OpenAPI document declares ties the two halves together.
 */
#include "test.h"
#include "control/apiserver/schema.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Manifests are written with single quotes to stay readable; none needs an apostrophe. */
static json_t *load(const char *text)
{
	char *s = strdup(text);
	json_error_t err;
	json_t *j;

	ASSERT_NOT_NULL(s);
	for (char *p = s; *p; p++) {
		if (*p == '\'')
			*p = '"';
	}
	j = json_loads(s, 0, &err);
	free(s);
	ASSERT_MSG(j != NULL, "bad test JSON: %s at %d", err.text, err.position);
	return j;
}

static char *dump(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

/* v equals the JSON text expected (single-quoted like the manifests). */
static void expect_json(const json_t *v, const char *expected)
{
	json_t *want = load(expected);

	if (!json_equal(v, want)) {
		char *got = dump(v), *exp = dump(want);

		ASSERT_MSG(0, "got %s, expected %s", got ? got : "(null)", exp);
	}
	json_decref(want);
}

/* The problems of text checked as kind; fails unless there are exactly count. */
static json_t *problems_of(const char *group, const char *version, const char *kind,
			   const char *text, int count)
{
	json_t *obj = load(text), *problems = json_array();
	int n = schema_check(group, version, kind, obj, problems);

	if (n != count) {
		char *s = dump(problems);

		ASSERT_MSG(0, "%s: %d problems, expected %d: %s", kind, n, count, s);
	}
	ASSERT_EQ(json_array_size(problems), count);
	json_decref(obj);
	return problems;
}

static void expect_clean(const char *group, const char *version, const char *kind, const char *text)
{
	json_decref(problems_of(group, version, kind, text, 0));
}

/* The problem for field, or NULL. */
static json_t *problem_at(const json_t *problems, const char *field)
{
	size_t i;
	json_t *p;

	json_array_foreach(problems, i, p) {
		if (!strcmp(json_string_value(json_object_get(p, "field")), field))
			return p;
	}
	return NULL;
}

static void expect_unknown(const json_t *problems, const char *field)
{
	json_t *p = problem_at(problems, field);

	ASSERT_MSG(p != NULL, "no problem at %s", field);
	ASSERT_STREQ(json_string_value(json_object_get(p, "type")), "unknown");
}

static void expect_invalid(const json_t *problems, const char *field, const char *expected,
			   const char *got)
{
	json_t *p = problem_at(problems, field);

	ASSERT_MSG(p != NULL, "no problem at %s", field);
	ASSERT_STREQ(json_string_value(json_object_get(p, "type")), "invalid");
	ASSERT_STREQ(json_string_value(json_object_get(p, "expected")), expected);
	ASSERT_STREQ(json_string_value(json_object_get(p, "got")), got);
}

static const char *const group_versions[][2] = {
	{ "", "v1" },
	{ "apps", "v1" },
	{ "autoscaling", "v1" },
	{ "policy", "v1" },
	{ "discovery.k8s.io", "v1" },
	{ "coordination.k8s.io", "v1" },
};

TEST(schema_knows_the_served_kinds)
{
	static const char *const core[] = { "Namespace", "Pod",		 "Service",
					    "Endpoints", "Node",	 "Event",
					    "ConfigMap", "Secret",	 "ServiceAccount",
					    "Binding",	 "DeleteOptions" };

	for (size_t i = 0; i < sizeof(core) / sizeof(core[0]); i++)
		ASSERT_MSG(schema_has_kind("", "v1", core[i]), "v1 %s", core[i]);
	ASSERT(schema_has_kind("apps", "v1", "Deployment"));
	ASSERT(schema_has_kind("apps", "v1", "ReplicaSet"));
	ASSERT(schema_has_kind("apps", "v1", "DaemonSet"));
	ASSERT(schema_has_kind("autoscaling", "v1", "Scale"));
	ASSERT(schema_has_kind("policy", "v1", "Eviction"));
	ASSERT(schema_has_kind("discovery.k8s.io", "v1", "EndpointSlice"));
	ASSERT(schema_has_kind("coordination.k8s.io", "v1", "Lease"));

	ASSERT(!schema_has_kind("", "v1", "Deployment"));
	ASSERT(!schema_has_kind("apps", "v1beta1", "Deployment"));
	ASSERT(!schema_has_kind("apps", "v1", "StatefulSet"));
	ASSERT(!schema_has_kind("", "v1", "pod"));
	ASSERT(!schema_has_kind(NULL, "v1", "Pod"));
	ASSERT(!schema_has_kind("", NULL, "Pod"));
	ASSERT(!schema_has_kind("", "v1", NULL));
}

/* kubectl 1.32 `create ... --dry-run=client -o json`, verbatim. */
TEST(schema_kubectl_create_output_is_clean)
{
	expect_clean("apps", "v1", "Deployment",
		     "{'kind':'Deployment','apiVersion':'apps/v1','metadata':{'name':'web',"
		     "'creationTimestamp':null,'labels':{'app':'web'}},'spec':{'replicas':3,"
		     "'selector':{'matchLabels':{'app':'web'}},'template':{'metadata':{"
		     "'creationTimestamp':null,'labels':{'app':'web'}},'spec':{'containers':[{"
		     "'name':'nginx','image':'nginx:1.27','ports':[{'containerPort':80}],"
		     "'resources':{}}]}},'strategy':{}},'status':{}}");
	expect_clean("", "v1", "Service",
		     "{'kind':'Service','apiVersion':'v1','metadata':{'name':'web',"
		     "'creationTimestamp':null,'labels':{'app':'web'}},'spec':{'ports':[{"
		     "'name':'80-8080','protocol':'TCP','port':80,'targetPort':8080,"
		     "'nodePort':30080}],'selector':{'app':'web'},'type':'NodePort'},"
		     "'status':{'loadBalancer':{}}}");
	expect_clean("", "v1", "ConfigMap",
		     "{'kind':'ConfigMap','apiVersion':'v1','metadata':{'name':'cfg',"
		     "'creationTimestamp':null},'data':{'a':'1','b':'two'}}");
	expect_clean("", "v1", "Secret",
		     "{'kind':'Secret','apiVersion':'v1','metadata':{'name':'s',"
		     "'creationTimestamp':null},'data':{'password':'aHVudGVyMg=='}}");
	expect_clean("", "v1", "Namespace",
		     "{'kind':'Namespace','apiVersion':'v1','metadata':{'name':'team-a',"
		     "'creationTimestamp':null},'spec':{},'status':{}}");
	expect_clean("", "v1", "ServiceAccount",
		     "{'kind':'ServiceAccount','apiVersion':'v1','metadata':{'name':'builder',"
		     "'creationTimestamp':null}}");
}

static const char full_pod[] =
	"{'apiVersion':'v1','kind':'Pod','metadata':{'name':'web-0','namespace':'shop',"
	" 'uid':'5f1c0c53-7a4b-4a5e-9d55-2a0f1f1e6b10','resourceVersion':'4711',"
	" 'generation':1,'creationTimestamp':'2024-05-01T10:00:00Z',"
	" 'labels':{'app.kubernetes.io/name':'web','pod-template-hash':'6d4cf56db6'},"
	" 'annotations':{'kubectl.kubernetes.io/restartedAt':'2024-05-01T09:59:00Z'},"
	" 'finalizers':['example.com/cleanup'],"
	" 'ownerReferences':[{'apiVersion':'apps/v1','kind':'ReplicaSet','name':'web-6d4cf56db6',"
	"  'uid':'0b2b1c7e-1111-2222-3333-444455556666','controller':true,"
	"  'blockOwnerDeletion':true}],"
	" 'managedFields':[{'manager':'kubectl-client-side-apply','operation':'Update',"
	"  'apiVersion':'v1','time':'2024-05-01T10:00:00Z','fieldsType':'FieldsV1',"
	"  'fieldsV1':{'f:metadata':{'f:labels':{'.':{},'f:app':{}}}}}]},"
	"'spec':{"
	" 'initContainers':[{'name':'log-shipper','image':'fluent-bit:3','restartPolicy':'Always',"
	"  'resizePolicy':[{'resourceName':'cpu','restartPolicy':'NotRequired'}]}],"
	" 'containers':[{'name':'app','image':'registry.example/web:1.4.2',"
	"  'imagePullPolicy':'IfNotPresent','command':['/bin/web'],'args':['--port=8080'],"
	"  'workingDir':'/srv',"
	"  'ports':[{'name':'http','containerPort':8080,'protocol':'TCP'},"
	"   {'name':'metrics','containerPort':9090,'hostPort':19090,'hostIP':'0.0.0.0'}],"
	"  'env':[{'name':'MODE','value':'prod'},"
	"   {'name':'POD_IP','valueFrom':{'fieldRef':{'apiVersion':'v1',"
	"    'fieldPath':'status.podIP'}}},"
	"   {'name':'DB_PASS','valueFrom':{'secretKeyRef':{'name':'db','key':'pass',"
	"    'optional':false}}},"
	"   {'name':'FLAGS','valueFrom':{'configMapKeyRef':{'name':'web','key':'flags'}}},"
	"   {'name':'MEM','valueFrom':{'resourceFieldRef':{'containerName':'app',"
	"    'resource':'limits.memory','divisor':'1Mi'}}}],"
	"  'envFrom':[{'prefix':'CFG_','configMapRef':{'name':'web'}},"
	"   {'secretRef':{'name':'web'}}],"
	"  'resources':{'limits':{'cpu':'500m','memory':'256Mi','ephemeral-storage':'1Gi'},"
	"   'requests':{'cpu':0.25,'memory':134217728},'claims':[{'name':'gpu','request':'one'}]},"
	"  'volumeMounts':[{'name':'config','mountPath':'/etc/web','readOnly':true,"
	"    'recursiveReadOnly':'IfPossible'},"
	"   {'name':'cache','mountPath':'/cache','subPathExpr':'$(POD_NAME)',"
	"    'mountPropagation':'None'}],"
	"  'volumeDevices':[{'name':'raw','devicePath':'/dev/xvda'}],"
	"  'livenessProbe':{'httpGet':{'path':'/healthz','port':'http','scheme':'HTTP',"
	"    'httpHeaders':[{'name':'X-Probe','value':'1'}]},'initialDelaySeconds':5,"
	"   'periodSeconds':10,'timeoutSeconds':1,'failureThreshold':3,'successThreshold':1,"
	"   'terminationGracePeriodSeconds':30},"
	"  'readinessProbe':{'tcpSocket':{'port':8080}},"
	"  'startupProbe':{'grpc':{'port':9090,'service':'health'},'failureThreshold':30},"
	"  'lifecycle':{'postStart':{'exec':{'command':['sh','-c','echo up']}},"
	"   'preStop':{'sleep':{'seconds':5}}},"
	"  'terminationMessagePath':'/dev/termination-log',"
	"  'terminationMessagePolicy':'FallbackToLogsOnError',"
	"  'securityContext':{'runAsNonRoot':true,'runAsUser':10001,'runAsGroup':10001,"
	"   'allowPrivilegeEscalation':false,'readOnlyRootFilesystem':true,'privileged':false,"
	"   'capabilities':{'drop':['ALL'],'add':['NET_BIND_SERVICE']},"
	"   'seccompProfile':{'type':'RuntimeDefault'},'appArmorProfile':{'type':'RuntimeDefault'},"
	"   'procMount':'Default','seLinuxOptions':{'level':'s0:c123,c456'}},"
	"  'stdin':false,'stdinOnce':false,'tty':false}],"
	" 'volumes':[{'name':'config','configMap':{'name':'web','defaultMode':420,"
	"   'items':[{'key':'web.yaml','path':'web.yaml','mode':256}],'optional':true}},"
	"  {'name':'tls','secret':{'secretName':'web-tls','defaultMode':288}},"
	"  {'name':'cache','emptyDir':{'medium':'Memory','sizeLimit':'64Mi'}},"
	"  {'name':'host','hostPath':{'path':'/var/log','type':'Directory'}},"
	"  {'name':'data','persistentVolumeClaim':{'claimName':'web-data','readOnly':false}},"
	"  {'name':'kube-api-access','projected':{'defaultMode':420,'sources':["
	"   {'serviceAccountToken':{'expirationSeconds':3607,'path':'token','audience':'api'}},"
	"   {'configMap':{'name':'kube-root-ca.crt','items':[{'key':'ca.crt','path':'ca.crt'}]}},"
	"   {'downwardAPI':{'items':[{'path':'namespace','fieldRef':{'apiVersion':'v1',"
	"     'fieldPath':'metadata.namespace'}}]}},"
	"   {'clusterTrustBundle':{'signerName':'example.com/signer','path':'bundle.pem',"
	"     'labelSelector':{'matchLabels':{'trust':'yes'}}}}]}},"
	"  {'name':'scratch','ephemeral':{'volumeClaimTemplate':{'metadata':{'labels':{'t':'s'}},"
	"   'spec':{'accessModes':['ReadWriteOnce'],'storageClassName':'fast',"
	"    'resources':{'requests':{'storage':'1Gi'}}}}}},"
	"  {'name':'raw','csi':{'driver':'csi.example.com','volumeAttributes':{'size':'1'},"
	"   'nodePublishSecretRef':{'name':'csi'}}},"
	"  {'name':'model','image':{'reference':'registry.example/model:v1',"
	"   'pullPolicy':'IfNotPresent'}},"
	"  {'name':'share','nfs':{'server':'nfs.example','path':'/export','readOnly':true}},"
	"  {'name':'info','downwardAPI':{'items':[{'path':'limits','resourceFieldRef':{"
	"   'containerName':'app','resource':'limits.cpu','divisor':'1m'}}]}}],"
	" 'restartPolicy':'Always','terminationGracePeriodSeconds':30,'activeDeadlineSeconds':"
	"86400,"
	" 'dnsPolicy':'ClusterFirst','dnsConfig':{'nameservers':['1.1.1.1'],'searches':['svc.local'"
	"],"
	"  'options':[{'name':'ndots','value':'2'},{'name':'edns0'}]},"
	" 'nodeSelector':{'kubernetes.io/os':'linux'},'serviceAccountName':'web',"
	" 'serviceAccount':'web','automountServiceAccountToken':true,'nodeName':'node-1',"
	" 'hostNetwork':false,'hostPID':false,'hostIPC':false,'shareProcessNamespace':false,"
	" 'hostUsers':false,'hostname':'web-0','subdomain':'web','setHostnameAsFQDN':false,"
	" 'securityContext':{'fsGroup':2000,'fsGroupChangePolicy':'OnRootMismatch',"
	"  'supplementalGroups':[3000],'supplementalGroupsPolicy':'Merge',"
	"  'seLinuxChangePolicy':'MountOption','runAsNonRoot':true,"
	"  'sysctls':[{'name':'net.ipv4.ip_unprivileged_port_start','value':'0'}],"
	"  'seccompProfile':{'type':'Localhost','localhostProfile':'profiles/web.json'}},"
	" 'imagePullSecrets':[{'name':'regcred'}],"
	" 'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':{"
	"   'nodeSelectorTerms':[{'matchExpressions':[{'key':'topology.kubernetes.io/zone',"
	"    'operator':'In','values':['a','b']}]}]},"
	"   'preferredDuringSchedulingIgnoredDuringExecution':[{'weight':50,'preference':{"
	"    'matchFields':[{'key':'metadata.name','operator':'NotIn','values':['node-9']}]}}]},"
	"  'podAntiAffinity':{'preferredDuringSchedulingIgnoredDuringExecution':[{'weight':100,"
	"   'podAffinityTerm':{'labelSelector':{'matchExpressions':[{'key':'app',"
	"    'operator':'In','values':['web']}]},'topologyKey':'kubernetes.io/hostname',"
	"    'matchLabelKeys':['pod-template-hash'],'namespaces':['shop']}}]},"
	"  'podAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':[{"
	"   'labelSelector':{'matchLabels':{'app':'db'}},"
	"   'topologyKey':'topology.kubernetes.io/zone',"
	"   'namespaceSelector':{}}]}},"
	" 'tolerations':[{'key':'node.kubernetes.io/not-ready','operator':'Exists',"
	"  'effect':'NoExecute','tolerationSeconds':300},{'key':'gpu','value':'yes',"
	"  'operator':'Equal','effect':'NoSchedule'}],"
	" 'topologySpreadConstraints':[{'maxSkew':1,'topologyKey':'topology.kubernetes.io/zone',"
	"  'whenUnsatisfiable':'ScheduleAnyway','labelSelector':{'matchLabels':{'app':'web'}},"
	"  'minDomains':2,'nodeAffinityPolicy':'Honor','nodeTaintsPolicy':'Ignore',"
	"  'matchLabelKeys':['pod-template-hash']}],"
	" 'hostAliases':[{'ip':'10.1.2.3','hostnames':['db.local']}],"
	" 'priorityClassName':'high','priority':1000,'preemptionPolicy':'PreemptLowerPriority',"
	" 'runtimeClassName':'runc','enableServiceLinks':false,'schedulerName':'default-scheduler',"
	" 'readinessGates':[{'conditionType':'example.com/ready'}],"
	" 'schedulingGates':[{'name':'example.com/quota'}],'os':{'name':'linux'},"
	" 'overhead':{'cpu':'10m'},'resources':{'limits':{'cpu':'1'}},"
	" 'resourceClaims':[{'name':'gpu','resourceClaimTemplateName':'gpu-template'}]},"
	"'status':{'phase':'Running','qosClass':'Burstable','hostIP':'192.0.2.10',"
	" 'hostIPs':[{'ip':'192.0.2.10'}],'podIP':'10.244.1.7','podIPs':[{'ip':'10.244.1.7'}],"
	" 'startTime':'2024-05-01T10:00:01Z',"
	" 'conditions':[{'type':'Ready','status':'True','lastProbeTime':null,"
	"  'lastTransitionTime':'2024-05-01T10:00:09Z'},{'type':'PodScheduled','status':'True',"
	"  'lastProbeTime':null,'lastTransitionTime':'2024-05-01T10:00:00Z'}],"
	" 'initContainerStatuses':[{'name':'log-shipper','ready':true,'restartCount':0,"
	"  'started':true,'image':'fluent-bit:3','imageID':'sha256:aa',"
	"  'state':{'running':{'startedAt':'2024-05-01T10:00:03Z'}}}],"
	" 'containerStatuses':[{'name':'app','ready':true,'restartCount':1,'started':true,"
	"  'image':'registry.example/web:1.4.2','imageID':'registry.example/web@sha256:bb',"
	"  'containerID':'containerd://0123abcd',"
	"  'state':{'running':{'startedAt':'2024-05-01T10:00:05Z'}},"
	"  'lastState':{'terminated':{'exitCode':137,'reason':'OOMKilled','signal':9,"
	"   'startedAt':'2024-05-01T09:00:00Z','finishedAt':'2024-05-01T09:59:59Z',"
	"   'containerID':'containerd://00ff','message':'killed'}},"
	"  'allocatedResources':{'cpu':'250m','memory':'128Mi'},"
	"  'resources':{'limits':{'cpu':'500m'},'requests':{'cpu':'250m'}},"
	"  'user':{'linux':{'uid':10001,'gid':10001,'supplementalGroups':[10001,3000]}},"
	"  'volumeMounts':[{'name':'config','mountPath':'/etc/web','readOnly':true,"
	"   'recursiveReadOnly':'Enabled'}],"
	"  'allocatedResourcesStatus':[{'name':'claim:gpu','resources':[{'resourceID':'gpu-0',"
	"   'health':'Healthy'}]}]}],"
	" 'resourceClaimStatuses':[{'name':'gpu','resourceClaimName':'web-0-gpu-x7k2p'}]}}";

TEST(schema_full_pod_is_clean)
{
	expect_clean("", "v1", "Pod", full_pod);
}

/* The same pod spec as a Deployment's and a DaemonSet's template, with status. */
TEST(schema_workloads_are_clean)
{
	expect_clean(
		"apps", "v1", "Deployment",
		"{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web',"
		"'namespace':'shop','generation':4,'annotations':{"
		"'deployment.kubernetes.io/revision':'3'}},'spec':{'replicas':3,"
		"'revisionHistoryLimit':10,'progressDeadlineSeconds':600,'minReadySeconds':5,"
		"'paused':false,'selector':{'matchLabels':{'app':'web'},'matchExpressions':[{"
		"'key':'tier','operator':'Exists'}]},'strategy':{'type':'RollingUpdate',"
		"'rollingUpdate':{'maxSurge':'25%','maxUnavailable':0}},'template':{'metadata':{"
		"'labels':{'app':'web','tier':'front'}},'spec':{'containers':[{'name':'web',"
		"'image':'nginx:1.27','resources':{'requests':{'cpu':'100m'}}}]}}},"
		"'status':{'observedGeneration':4,'replicas':3,'updatedReplicas':3,"
		"'readyReplicas':3,'availableReplicas':3,'unavailableReplicas':0,"
		"'collisionCount':0,'conditions':[{'type':'Progressing','status':'True',"
		"'reason':'NewReplicaSetAvailable','message':'ReplicaSet has successfully "
		"progressed.',"
		"'lastUpdateTime':'2024-05-01T10:00:00Z','lastTransitionTime':'2024-05-01T09:00:"
		"00Z'}]}}");
	expect_clean(
		"apps", "v1", "ReplicaSet",
		"{'apiVersion':'apps/v1','kind':'ReplicaSet','metadata':{'name':'web-6d4cf56db6',"
		"'ownerReferences':[{'apiVersion':'apps/v1','kind':'Deployment','name':'web',"
		"'uid':'u1','controller':true,'blockOwnerDeletion':true}]},'spec':{"
		"'replicas':3,'minReadySeconds':0,'selector':{'matchLabels':{'app':'web'}},"
		"'template':{'metadata':{'labels':{'app':'web'}},'spec':{'containers':[{"
		"'name':'web','image':'nginx'}]}}},'status':{'replicas':3,"
		"'fullyLabeledReplicas':3,'readyReplicas':2,'availableReplicas':2,"
		"'observedGeneration':1,'conditions':[{'type':'ReplicaFailure',"
		"'status':'False','lastTransitionTime':'2024-05-01T10:00:00Z'}]}}");
	expect_clean(
		"apps", "v1", "DaemonSet",
		"{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':{'name':'agent',"
		"'namespace':'kube-system'},'spec':{'selector':{'matchLabels':{'app':'agent'}},"
		"'revisionHistoryLimit':10,'minReadySeconds':0,'updateStrategy':{"
		"'type':'RollingUpdate','rollingUpdate':{'maxUnavailable':'10%','maxSurge':0}},"
		"'template':{'metadata':{'labels':{'app':'agent'}},'spec':{'hostNetwork':true,"
		"'tolerations':[{'operator':'Exists'}],'containers':[{'name':'agent',"
		"'image':'agent:1','securityContext':{'privileged':true}}]}}},"
		"'status':{'currentNumberScheduled':2,'desiredNumberScheduled':2,"
		"'numberMisscheduled':0,'numberReady':2,'numberAvailable':2,"
		"'numberUnavailable':0,'updatedNumberScheduled':2,'observedGeneration':1,"
		"'collisionCount':0,'conditions':[]}}");
	expect_clean("autoscaling", "v1", "Scale",
		     "{'apiVersion':'autoscaling/v1','kind':'Scale','metadata':{'name':'web',"
		     "'namespace':'shop','resourceVersion':'12'},'spec':{'replicas':5},"
		     "'status':{'replicas':3,'selector':'app=web'}}");
}

TEST(schema_node_as_the_kubelet_reports_it_is_clean)
{
	expect_clean(
		"", "v1", "Node",
		"{'apiVersion':'v1','kind':'Node','metadata':{'name':'node-1','labels':{"
		"'kubernetes.io/hostname':'node-1','kubernetes.io/os':'linux',"
		"'node-role.kubernetes.io/control-plane':''},'annotations':{"
		"'node.alpha.kubernetes.io/ttl':'0'}},"
		"'spec':{'podCIDR':'10.244.1.0/24','podCIDRs':['10.244.1.0/24','fd00:1::/64'],"
		"'providerID':'capstan://node-1','unschedulable':false,'taints':[{"
		"'key':'node-role.kubernetes.io/control-plane','effect':'NoSchedule'},{"
		"'key':'node.kubernetes.io/unreachable','effect':'NoExecute',"
		"'timeAdded':'2024-05-01T10:00:00Z'}]},"
		"'status':{'capacity':{'cpu':'4','memory':'16318712Ki','pods':'110',"
		"'ephemeral-storage':'102687672Ki','hugepages-2Mi':'0'},'allocatable':{'cpu':'4',"
		"'memory':'16216312Ki','pods':'110','ephemeral-storage':'94636958344',"
		"'hugepages-2Mi':'0'},'conditions':[{'type':'MemoryPressure','status':'False',"
		"'lastHeartbeatTime':'2024-05-01T10:00:00Z','lastTransitionTime':'2024-05-01T09:00:"
		"00Z',"
		"'reason':'KubeletHasSufficientMemory','message':'kubelet has sufficient memory "
		"available'},"
		"{'type':'Ready','status':'True','lastHeartbeatTime':'2024-05-01T10:00:00Z',"
		"'lastTransitionTime':'2024-05-01T09:00:10Z','reason':'KubeletReady',"
		"'message':'kubelet is posting ready status'}],'addresses':[{'type':'InternalIP',"
		"'address':'192.0.2.10'},{'type':'Hostname','address':'node-1'}],"
		"'daemonEndpoints':{'kubeletEndpoint':{'Port':10250}},'nodeInfo':{"
		"'machineID':'0f1e2d3c','systemUUID':'4b5a6978','bootID':'a1b2c3d4',"
		"'kernelVersion':'6.1.0-18-amd64','osImage':'Debian GNU/Linux 12 (bookworm)',"
		"'containerRuntimeVersion':'containerd://1.6.20','kubeletVersion':'v1.32.0',"
		"'kubeProxyVersion':'','operatingSystem':'linux','architecture':'amd64'},"
		"'images':[{'names':['registry.k8s.io/pause@sha256:ee','registry.k8s.io/"
		"pause:3.10'],"
		"'sizeBytes':320368}],'volumesInUse':['kubernetes.io/csi/x'],'volumesAttached':[{"
		"'name':'kubernetes.io/csi/x','devicePath':''}],'runtimeHandlers':[{'name':'runc',"
		"'features':{'recursiveReadOnlyMounts':true,'userNamespaces':true}},{'name':'',"
		"'features':{'recursiveReadOnlyMounts':true,'userNamespaces':false}}],"
		"'features':{'supplementalGroupsPolicy':true},'phase':'Running'}}");
}

TEST(schema_networking_objects_are_clean)
{
	expect_clean(
		"discovery.k8s.io", "v1", "EndpointSlice",
		"{'apiVersion':'discovery.k8s.io/v1','kind':'EndpointSlice','metadata':{"
		"'name':'web-abcde','namespace':'shop','generateName':'web-','labels':{"
		"'kubernetes.io/service-name':'web','endpointslice.kubernetes.io/managed-by':"
		"'endpointslice-controller.k8s.io'},'ownerReferences':[{'apiVersion':'v1',"
		"'kind':'Service','name':'web','uid':'u2','controller':true,"
		"'blockOwnerDeletion':true}]},'addressType':'IPv4','endpoints':[{"
		"'addresses':['10.244.1.7'],'conditions':{'ready':true,'serving':true,"
		"'terminating':false},'nodeName':'node-1','zone':'a','hostname':'web-0',"
		"'targetRef':{'kind':'Pod','namespace':'shop','name':'web-0','uid':'u3'},"
		"'hints':{'forZones':[{'name':'a'}]},'deprecatedTopology':{'k':'v'}}],"
		"'ports':[{'name':'http','port':8080,'protocol':'TCP','appProtocol':'http'}]}");
	expect_clean(
		"", "v1", "Endpoints",
		"{'apiVersion':'v1','kind':'Endpoints','metadata':{'name':'web',"
		"'namespace':'shop'},'subsets':[{'addresses':[{'ip':'10.244.1.7',"
		"'nodeName':'node-1','hostname':'web-0','targetRef':{'kind':'Pod',"
		"'name':'web-0','namespace':'shop','uid':'u3'}}],'notReadyAddresses':[{"
		"'ip':'10.244.2.9'}],'ports':[{'name':'http','port':8080,'protocol':'TCP'}]}]}");
	expect_clean(
		"", "v1", "Service",
		"{'apiVersion':'v1','kind':'Service','metadata':{'name':'lb'},'spec':{"
		"'type':'LoadBalancer','clusterIP':'10.96.0.20','clusterIPs':['10.96.0.20'],"
		"'ipFamilies':['IPv4'],'ipFamilyPolicy':'SingleStack','externalIPs':[],"
		"'externalTrafficPolicy':'Local','internalTrafficPolicy':'Cluster',"
		"'healthCheckNodePort':31000,'allocateLoadBalancerNodePorts':true,"
		"'loadBalancerClass':'example.com/lb','loadBalancerSourceRanges':['0.0.0.0/0'],"
		"'sessionAffinity':'ClientIP','sessionAffinityConfig':{'clientIP':{"
		"'timeoutSeconds':10800}},'publishNotReadyAddresses':false,"
		"'trafficDistribution':'PreferClose','ports':[{'name':'https','port':443,"
		"'targetPort':'https','nodePort':30443,'protocol':'TCP','appProtocol':'https'}],"
		"'selector':{'app':'web'}},'status':{'loadBalancer':{'ingress':[{"
		"'ip':'203.0.113.5','ipMode':'VIP','ports':[{'port':443,'protocol':'TCP',"
		"'error':'x'}]}]},'conditions':[{'type':'LoadBalancerPortsError',"
		"'status':'False','observedGeneration':1,'reason':'Ok','message':'',"
		"'lastTransitionTime':'2024-05-01T10:00:00Z'}]}}");
}

TEST(schema_events_leases_and_request_bodies_are_clean)
{
	expect_clean(
		"", "v1", "Event",
		"{'apiVersion':'v1','kind':'Event','metadata':{'name':'web-0.17cb1f5e0c1a2b3c',"
		"'namespace':'shop'},'involvedObject':{'apiVersion':'v1','kind':'Pod',"
		"'name':'web-0','namespace':'shop','uid':'u3','resourceVersion':'4711',"
		"'fieldPath':'spec.containers{app}'},'reason':'Pulled','message':"
		"'Container image already present on machine','source':{'component':'kubelet',"
		"'host':'node-1'},'firstTimestamp':'2024-05-01T10:00:02Z','lastTimestamp':"
		"'2024-05-01T10:00:02Z','count':1,'type':'Normal','eventTime':null,"
		"'reportingComponent':'kubelet','reportingInstance':'node-1'}");
	expect_clean(
		"", "v1", "Event",
		"{'apiVersion':'v1','kind':'Event','metadata':{'name':'x','namespace':'shop'},"
		"'involvedObject':{'kind':'Deployment','name':'web'},'reason':'ScalingReplicaSet',"
		"'eventTime':'2024-05-01T10:00:02.123456Z','action':'Scale','related':{"
		"'kind':'ReplicaSet','name':'web-1'},'series':{'count':3,'lastObservedTime':"
		"'2024-05-01T10:05:02.000001Z'},'reportingComponent':'deployment-controller',"
		"'reportingInstance':'cm-1','type':'Normal'}");
	expect_clean("coordination.k8s.io", "v1", "Lease",
		     "{'apiVersion':'coordination.k8s.io/v1','kind':'Lease','metadata':{"
		     "'name':'node-1','namespace':'kube-node-lease','ownerReferences':[{"
		     "'apiVersion':'v1','kind':'Node','name':'node-1','uid':'u4'}]},'spec':{"
		     "'holderIdentity':'node-1','leaseDurationSeconds':40,'acquireTime':"
		     "'2024-05-01T09:00:00.000000Z','renewTime':'2024-05-01T10:00:00.123456Z',"
		     "'leaseTransitions':2,'strategy':'OldestEmulationVersion',"
		     "'preferredHolder':'node-2'}}");
	expect_clean(
		"", "v1", "Binding",
		"{'apiVersion':'v1','kind':'Binding','metadata':{'name':'web-0',"
		"'namespace':'shop'},'target':{'apiVersion':'v1','kind':'Node','name':'node-1'}}");
	expect_clean("policy", "v1", "Eviction",
		     "{'apiVersion':'policy/v1','kind':'Eviction','metadata':{'name':'web-0',"
		     "'namespace':'shop'},'deleteOptions':{'gracePeriodSeconds':30,"
		     "'preconditions':{'uid':'u3','resourceVersion':'4711'}}}");
	expect_clean(
		"apps", "v1", "DeleteOptions",
		"{'kind':'DeleteOptions','apiVersion':'apps/v1','propagationPolicy':'Foreground',"
		"'dryRun':['All'],'orphanDependents':false,"
		"'ignoreStoreReadErrorWithClusterBreakingPotential':false}");
	expect_clean("", "v1", "Status",
		     "{'kind':'Status','apiVersion':'v1','metadata':{},'status':'Failure',"
		     "'message':'pods \\'x\\' not found','reason':'NotFound','details':{'name':'x',"
		     "'kind':'pods','causes':[{'reason':'FieldValueInvalid','message':'m',"
		     "'field':'spec'}],'retryAfterSeconds':1},'code':404}");
}

/* Typos at every depth, reported with the path upstream's strict decoder prints. */
TEST(schema_reports_unknown_fields_with_their_path)
{
	json_t *problems = problems_of(
		"apps", "v1", "Deployment",
		"{'apiVersion':'apps/v1','kind':'Deployment','specc':{},'metadata':{'name':'web',"
		"'lables':{'a':'b'}},'spec':{'replicas':1,'template':{'spec':{'containers':["
		"{'name':'a','image':'x'},{'name':'b','imagePullPolicyy':'Always',"
		"'livenessProbe':{'httpGet':{'portt':80}}}],'volumes':[{'name':'v',"
		"'configMap':{'name':'c','itemz':[]}}],'affinity':{'nodeAffinity':{"
		"'requiredDuringSchedulingIgnoredDuringExecution':{'nodeSelectorTerms':[{"
		"'matchExpressions':[{'key':'k','operator':'In','valuez':['v']}]}]}}}}},"
		"'strategy':{'rollingUpdate':{'maxSurge':1,'MaxUnavailable':1}}}}",
		7);

	expect_unknown(problems, "specc");
	expect_unknown(problems, "metadata.lables");
	expect_unknown(problems, "spec.template.spec.containers[1].imagePullPolicyy");
	expect_unknown(problems, "spec.template.spec.containers[1].livenessProbe.httpGet.portt");
	expect_unknown(problems, "spec.template.spec.volumes[0].configMap.itemz");
	expect_unknown(problems,
		       "spec.template.spec.affinity.nodeAffinity."
		       "requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]."
		       "matchExpressions[0].valuez");
	/* Matching is case-sensitive, as sigs.k8s.io/json's strict mode is. */
	expect_unknown(problems, "spec.strategy.rollingUpdate.MaxUnavailable");
	json_decref(problems);
}

TEST(schema_reports_wrong_types)
{
	json_t *problems = problems_of(
		"apps", "v1", "Deployment",
		"{'apiVersion':'apps/v1','kind':7,'metadata':{'name':'web','labels':{'app':5},"
		"'creationTimestamp':'yesterday','generation':'1'},'spec':{'replicas':'3',"
		"'paused':'yes','selector':[],'template':{'spec':{'containers':{'name':'a'},"
		"'initContainers':[{'name':'i','ports':[{'containerPort':80.5},"
		"{'containerPort':3000000000}],'resources':{'limits':{'cpu':'lots','memory':true},"
		"'requests':{'cpu':[]}},'args':'--x','env':[{'name':'A','value':1}],"
		"'readinessProbe':{'httpGet':{'port':true},'tcpSocket':{'port':1.5}}}],"
		"'volumes':['config']}}}}",
		18);

	expect_invalid(problems, "kind", "string", "integer");
	expect_invalid(problems, "metadata.labels[app]", "string", "integer");
	expect_invalid(problems, "metadata.creationTimestamp", "date-time", "string");
	expect_invalid(problems, "metadata.generation", "integer", "string");
	expect_invalid(problems, "spec.replicas", "integer", "string");
	expect_invalid(problems, "spec.paused", "boolean", "string");
	expect_invalid(problems, "spec.selector", "object", "array");
	expect_invalid(problems, "spec.template.spec.containers", "array", "object");
	expect_invalid(problems, "spec.template.spec.initContainers[0].ports[0].containerPort",
		       "integer", "number");
	expect_invalid(problems, "spec.template.spec.initContainers[0].ports[1].containerPort",
		       "integer", "integer");
	expect_invalid(problems, "spec.template.spec.initContainers[0].resources.limits[cpu]",
		       "quantity", "string");
	expect_invalid(problems, "spec.template.spec.initContainers[0].resources.limits[memory]",
		       "quantity", "boolean");
	expect_invalid(problems, "spec.template.spec.initContainers[0].resources.requests[cpu]",
		       "quantity", "array");
	expect_invalid(problems, "spec.template.spec.initContainers[0].args", "array", "string");
	expect_invalid(problems, "spec.template.spec.initContainers[0].env[0].value", "string",
		       "integer");
	expect_invalid(problems, "spec.template.spec.initContainers[0].readinessProbe.httpGet.port",
		       "int-or-string", "boolean");
	expect_invalid(problems,
		       "spec.template.spec.initContainers[0].readinessProbe.tcpSocket.port",
		       "int-or-string", "number");
	expect_invalid(problems, "spec.template.spec.volumes[0]", "object", "string");
	json_decref(problems);
}

TEST(schema_scalar_edge_cases)
{
	json_t *problems;

	/* Integral reals are integers; null is absent everywhere; int32 bounds are inclusive. */
	expect_clean("apps", "v1", "Deployment",
		     "{'apiVersion':null,'kind':'Deployment','metadata':null,'spec':{"
		     "'replicas':3.0,'minReadySeconds':2147483647,'paused':null,'strategy':{"
		     "'rollingUpdate':{'maxSurge':-2147483648,'maxUnavailable':'50%'}},"
		     "'template':{'spec':{'containers':[null,{'name':'a','ports':null,"
		     "'resources':{'limits':{'cpu':1e3,'memory':'1.5Gi','x':null}}}],"
		     "'terminationGracePeriodSeconds':9007199254740992}}}}");
	/* Secrets: base64 with padding, line breaks allowed, empty value allowed. */
	expect_clean("", "v1", "Secret",
		     "{'data':{'a':'aGk=','b':'aGVsbG8=\\n','c':'','d':'YWJj\\r\\nZGVm'},"
		     "'stringData':{'e':'plain text'}}");

	problems = problems_of("", "v1", "Secret",
			       "{'data':{'a':'not base64!','b':'aGk','c':'a===','d':'aG=k'},"
			       "'binaryData':{'e':'aGk='}}",
			       5);
	expect_invalid(problems, "data[a]", "base64 string", "string");
	expect_invalid(problems, "data[b]", "base64 string", "string");
	expect_invalid(problems, "data[c]", "base64 string", "string");
	expect_invalid(problems, "data[d]", "base64 string", "string");
	/* A Secret has no binaryData (a ConfigMap does). */
	expect_unknown(problems, "binaryData");
	json_decref(problems);

	problems =
		problems_of("apps", "v1", "Deployment",
			    "{'spec':{'replicas':2147483648,'minReadySeconds':-2147483649,"
			    "'revisionHistoryLimit':1.0e300},'status':{'observedGeneration':1.5}}",
			    4);
	expect_invalid(problems, "spec.replicas", "integer", "integer");
	expect_invalid(problems, "spec.minReadySeconds", "integer", "integer");
	expect_invalid(problems, "spec.revisionHistoryLimit", "integer", "number");
	expect_invalid(problems, "status.observedGeneration", "integer", "number");
	json_decref(problems);

	/* MicroTime and Time need RFC 3339; an empty string is not a time. */
	problems = problems_of("coordination.k8s.io", "v1", "Lease",
			       "{'spec':{'renewTime':'2024-05-01 10:00:00','acquireTime':'',"
			       "'leaseDurationSeconds':'40'}}",
			       3);
	expect_invalid(problems, "spec.renewTime", "date-time", "string");
	expect_invalid(problems, "spec.acquireTime", "date-time", "string");
	expect_invalid(problems, "spec.leaseDurationSeconds", "integer", "string");
	json_decref(problems);
}

TEST(schema_free_form_maps_accept_any_key)
{
	expect_clean("", "v1", "ConfigMap",
		     "{'metadata':{'name':'c','labels':{'app.kubernetes.io/name':'x',"
		     "'example.com/a.b_c-d':'','spec':'not a field'},'annotations':{"
		     "'kubectl.kubernetes.io/last-applied-configuration':'{\\'kind\\':1}',"
		     "'metadata.name':'x','[weird] key':'y'},'managedFields':[{'manager':'m',"
		     "'fieldsV1':{'f:data':{'.':{},'f:anything':{'k:{\\'a\\':1}':{}}},"
		     "'f:binaryData':{'v:1':{}}}}]},'data':{'.hidden':'1','spec':'2',"
		     "'with space':'3'},'binaryData':{'bin':'AAEC'}}");

	/* Keys that look like fields are still map keys: no descent into them. */
	json_t *problems =
		problems_of("", "v1", "ConfigMap",
			    "{'metadata':{'labels':{'x':{'nested':1}}},'data':{'k':['v']}}", 2);

	expect_invalid(problems, "metadata.labels[x]", "string", "object");
	expect_invalid(problems, "data[k]", "string", "array");
	json_decref(problems);
}

/*
 * A body nested as deep as the JSON parser allows (jansson stops at 2048
 * levels), far deeper than any type: one problem, and nothing walked.
 */
static json_t *nested(int depth)
{
	size_t len = (size_t)depth * 6 + 3;
	char *text = malloc(len), *p = text;
	json_error_t err;
	json_t *j;

	ASSERT_NOT_NULL(text);
	for (int i = 0; i < depth; i++)
		p += sprintf(p, "{\"a\":");
	p += sprintf(p, "1");
	for (int i = 0; i < depth; i++)
		*p++ = '}';
	*p = '\0';
	j = json_loads(text, 0, &err);
	free(text);
	ASSERT_MSG(j != NULL, "%s", err.text);
	return j;
}

TEST(schema_depth_bomb_is_bounded)
{
	json_t *obj, *problems = json_array(), *fields;

	/* Under an unknown field: reported once, not walked. */
	obj = json_pack("{s:{s:o}}", "spec", "bomb", nested(2000));
	ASSERT_EQ(schema_check("", "v1", "Pod", obj, problems), 1);
	expect_unknown(problems, "spec.bomb");
	json_decref(obj);

	/* Under FieldsV1, whose content is free-form: accepted, not walked. */
	json_array_clear(problems);
	fields = json_pack("{s:[{s:s, s:o}]}", "managedFields", "manager", "m", "fieldsV1",
			   nested(2000));
	obj = json_pack("{s:o}", "metadata", fields);
	ASSERT_EQ(schema_check("", "v1", "Pod", obj, problems), 0);
	ASSERT_EQ(json_array_size(problems), 0);

	/* Under a map value: one type problem at the entry. */
	json_object_set_new(json_object_get(obj, "metadata"), "labels",
			    json_pack("{s:o}", "deep", nested(2000)));
	ASSERT_EQ(schema_check("", "v1", "Pod", obj, problems), 1);
	expect_invalid(problems, "metadata.labels[deep]", "string", "object");
	json_decref(problems);
	json_decref(obj);
}

TEST(schema_status_and_type_meta_follow_the_kind)
{
	json_t *problems;

	/* Kinds with a status accept it; ConfigMap has none upstream either. */
	expect_clean("", "v1", "Pod", "{'apiVersion':'v1','kind':'Pod','status':{'phase':'x'}}");
	problems = problems_of("", "v1", "ConfigMap",
			       "{'apiVersion':'v1','kind':'ConfigMap','status':{}}", 1);
	expect_unknown(problems, "status");
	json_decref(problems);
}

TEST(schema_bad_arguments)
{
	json_t *problems = json_array(), *obj = load("{'bogus':1,'spec':{'bogus':2}}");
	json_t *arr = load("[1,2]");

	/* Unknown kinds are not checked here: schema_has_kind tells them apart. */
	ASSERT_EQ(schema_check("", "v1", "Widget", obj, problems), 0);
	ASSERT_EQ(schema_check("apps", "v2", "Deployment", obj, problems), 0);
	ASSERT_EQ(schema_check(NULL, NULL, NULL, obj, problems), 0);
	ASSERT_EQ(json_array_size(problems), 0);
	ASSERT_EQ(schema_check("", "v1", "Pod", NULL, problems), 0);
	ASSERT_EQ(schema_check("", "v1", "Pod", json_null(), problems), 0);

	/* Without an array to fill, problems are still counted. */
	ASSERT_EQ(schema_check("", "v1", "Pod", obj, NULL), 2);
	ASSERT_EQ(json_array_size(problems), 0);

	ASSERT_EQ(schema_check("", "v1", "Pod", arr, problems), 1);
	expect_invalid(problems, "", "object", "array");

	/* Problems are appended after what the array held. */
	ASSERT_EQ(schema_check("", "v1", "Pod", obj, problems), 2);
	ASSERT_EQ(json_array_size(problems), 3);
	json_decref(arr);
	json_decref(obj);
	json_decref(problems);
}

/* ---- OpenAPI ---- */

static void collect_refs(const json_t *v, json_t *refs)
{
	const char *key;
	json_t *child;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, child) {
			if (!strcmp(key, "$ref") && json_is_string(child))
				json_array_append(refs, child);
			else
				collect_refs(child, refs);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child)
			collect_refs(child, refs);
	}
}

static const char *ref_target(const char *ref)
{
	static const char prefix[] = "#/components/schemas/";

	ASSERT_MSG(!strncmp(ref, prefix, strlen(prefix)), "bad $ref %s", ref);
	return ref + strlen(prefix);
}

/* Longest chain of references from name; fails on a cycle. */
static int ref_depth(const json_t *doc, const char *name, json_t *on_path)
{
	json_t *refs = json_array(), *r;
	int best = 0;
	size_t i;

	ASSERT_MSG(!json_object_get(on_path, name), "reference cycle through %s", name);
	json_object_set_new(on_path, name, json_true());
	collect_refs(json_object_get(doc, name), refs);
	json_array_foreach(refs, i, r) {
		int d = ref_depth(doc, ref_target(json_string_value(r)), on_path);

		if (d > best)
			best = d;
	}
	json_object_del(on_path, name);
	json_decref(refs);
	return best + 1;
}

TEST(schema_openapi_refs_resolve_in_every_document)
{
	for (size_t g = 0; g < sizeof(group_versions) / sizeof(group_versions[0]); g++) {
		json_t *doc = schema_openapi_components(group_versions[g][0], group_versions[g][1]);
		json_t *refs = json_array(), *r, *on_path = json_object();
		const char *name;
		json_t *schema;
		size_t i;

		ASSERT_MSG(doc != NULL, "no document for %s/%s", group_versions[g][0],
			   group_versions[g][1]);
		collect_refs(doc, refs);
		ASSERT(json_array_size(refs) > 0);
		json_array_foreach(refs, i, r) {
			const char *target = ref_target(json_string_value(r));

			ASSERT_MSG(json_object_get(doc, target) != NULL, "%s/%s: dangling %s",
				   group_versions[g][0], group_versions[g][1], target);
		}
		/* Every component is acyclic and shallower than the check's depth guard. */
		json_object_foreach(doc, name, schema) {
			ASSERT_MSG(json_is_object(schema), "%s is not a schema", name);
			ASSERT(ref_depth(doc, name, on_path) < 32);
		}
		json_decref(on_path);
		json_decref(refs);
		json_decref(doc);
	}
	ASSERT_NULL(schema_openapi_components("", "v2"));
	ASSERT_NULL(schema_openapi_components("batch", "v1"));
	ASSERT_NULL(schema_openapi_components(NULL, "v1"));
}

static const json_t *prop(const json_t *doc, const char *type, const char *field)
{
	const json_t *p =
		json_object_get(json_object_get(json_object_get(doc, type), "properties"), field);

	ASSERT_MSG(p != NULL, "%s has no property %s", type, field);
	return p;
}

static void expect_ext(const json_t *p, const char *ext, const char *value)
{
	ASSERT_STREQ(json_string_value(json_object_get(p, ext)), value);
}

TEST(schema_openapi_core_document)
{
	json_t *doc = schema_openapi_components("", "v1");
	const json_t *pod, *gvk, *p;

	ASSERT_NOT_NULL(doc);
	pod = json_object_get(doc, "io.k8s.api.core.v1.Pod");
	ASSERT_STREQ(json_string_value(json_object_get(pod, "type")), "object");
	gvk = json_object_get(pod, "x-kubernetes-group-version-kind");
	expect_json(gvk, "[{'group':'','kind':'Pod','version':'v1'}]");
	expect_json(prop(doc, "io.k8s.api.core.v1.Pod", "spec"),
		    "{'$ref':'#/components/schemas/io.k8s.api.core.v1.PodSpec'}");
	expect_json(
		prop(doc, "io.k8s.api.core.v1.Pod", "metadata"),
		"{'$ref':'#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'}");
	/* Types that are not kinds carry no GVK. */
	ASSERT_NULL(json_object_get(json_object_get(doc, "io.k8s.api.core.v1.PodSpec"),
				    "x-kubernetes-group-version-kind"));

	/* The merge keys kubectl apply needs. */
	p = prop(doc, "io.k8s.api.core.v1.PodSpec", "containers");
	ASSERT_STREQ(json_string_value(json_object_get(p, "type")), "array");
	expect_json(json_object_get(p, "items"),
		    "{'$ref':'#/components/schemas/io.k8s.api.core.v1.Container'}");
	expect_ext(p, "x-kubernetes-patch-strategy", "merge");
	expect_ext(p, "x-kubernetes-patch-merge-key", "name");
	expect_ext(p, "x-kubernetes-list-type", "map");
	p = prop(doc, "io.k8s.api.core.v1.PodSpec", "volumes");
	expect_ext(p, "x-kubernetes-patch-strategy", "merge,retainKeys");
	expect_ext(p, "x-kubernetes-patch-merge-key", "name");
	p = prop(doc, "io.k8s.api.core.v1.Container", "ports");
	expect_ext(p, "x-kubernetes-patch-merge-key", "containerPort");
	expect_json(json_object_get(p, "x-kubernetes-list-map-keys"),
		    "['containerPort','protocol']");
	expect_ext(prop(doc, "io.k8s.api.core.v1.Container", "env"), "x-kubernetes-patch-merge-key",
		   "name");
	expect_ext(prop(doc, "io.k8s.api.core.v1.Container", "volumeMounts"),
		   "x-kubernetes-patch-merge-key", "mountPath");
	expect_ext(prop(doc, "io.k8s.api.core.v1.EphemeralContainer", "env"),
		   "x-kubernetes-patch-merge-key", "name");
	expect_ext(prop(doc, "io.k8s.api.core.v1.ServiceSpec", "ports"),
		   "x-kubernetes-patch-merge-key", "port");
	expect_ext(prop(doc, "io.k8s.api.core.v1.PodStatus", "conditions"),
		   "x-kubernetes-patch-merge-key", "type");
	expect_ext(prop(doc, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences"),
		   "x-kubernetes-patch-merge-key", "uid");
	p = prop(doc, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers");
	expect_ext(p, "x-kubernetes-patch-strategy", "merge");
	ASSERT_NULL(json_object_get(p, "x-kubernetes-patch-merge-key"));
	expect_ext(prop(doc, "io.k8s.api.core.v1.Container", "command"), "x-kubernetes-list-type",
		   "atomic");
	/* Lists without patch metadata replace. */
	ASSERT_NULL(json_object_get(prop(doc, "io.k8s.api.core.v1.PodSpec", "tolerations"),
				    "x-kubernetes-patch-strategy"));

	/* Shapes of maps and primitives. */
	expect_json(prop(doc, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "labels"),
		    "{'additionalProperties':{'type':'string'},'type':'object'}");
	expect_json(prop(doc, "io.k8s.api.core.v1.Secret", "data"),
		    "{'additionalProperties':{'format':'byte','type':'string'},'type':'object'}");
	expect_json(prop(doc, "io.k8s.api.core.v1.ResourceRequirements", "limits"),
		    "{'additionalProperties':{'$ref':'#/components/schemas/"
		    "io.k8s.apimachinery.pkg.api.resource.Quantity'},'type':'object'}");
	expect_json(prop(doc, "io.k8s.api.core.v1.ContainerPort", "containerPort"),
		    "{'format':'int32','type':'integer'}");
	expect_json(json_object_get(doc, "io.k8s.apimachinery.pkg.util.intstr.IntOrString"),
		    "{'format':'int-or-string','oneOf':[{'type':'integer'},{'type':'string'}],"
		    "'x-kubernetes-int-or-string':true}");
	expect_json(json_object_get(doc, "io.k8s.apimachinery.pkg.api.resource.Quantity"),
		    "{'oneOf':[{'type':'string'},{'type':'number'}]}");
	expect_json(json_object_get(doc, "io.k8s.apimachinery.pkg.apis.meta.v1.Time"),
		    "{'format':'date-time','type':'string'}");

	/* pods/eviction's body lives in the core document, with its own GVK. */
	expect_json(json_object_get(json_object_get(doc, "io.k8s.api.policy.v1.Eviction"),
				    "x-kubernetes-group-version-kind"),
		    "[{'group':'policy','kind':'Eviction','version':'v1'}]");
	ASSERT_NOT_NULL(json_object_get(doc, "io.k8s.apimachinery.pkg.apis.meta.v1.Status"));
	ASSERT_NOT_NULL(json_object_get(doc, "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"));
	/* Nothing from other groups' kinds leaks in. */
	ASSERT_NULL(json_object_get(doc, "io.k8s.api.apps.v1.Deployment"));
	json_decref(doc);
}

TEST(schema_openapi_group_documents)
{
	json_t *apps = schema_openapi_components("apps", "v1");
	json_t *disc = schema_openapi_components("discovery.k8s.io", "v1");
	json_t *coord = schema_openapi_components("coordination.k8s.io", "v1");
	const json_t *gvks;

	ASSERT_NOT_NULL(apps);
	ASSERT_NOT_NULL(disc);
	ASSERT_NOT_NULL(coord);
	expect_json(json_object_get(json_object_get(apps, "io.k8s.api.apps.v1.Deployment"),
				    "x-kubernetes-group-version-kind"),
		    "[{'group':'apps','kind':'Deployment','version':'v1'}]");
	/* The pod template's types come along, and the scale subresource's body. */
	ASSERT_NOT_NULL(json_object_get(apps, "io.k8s.api.core.v1.PodSpec"));
	ASSERT_NOT_NULL(json_object_get(apps, "io.k8s.api.core.v1.Container"));
	ASSERT_NOT_NULL(json_object_get(apps, "io.k8s.api.autoscaling.v1.Scale"));
	ASSERT_NULL(json_object_get(apps, "io.k8s.api.core.v1.NodeStatus"));
	expect_ext(prop(apps, "io.k8s.api.apps.v1.DeploymentStatus", "conditions"),
		   "x-kubernetes-patch-merge-key", "type");
	expect_json(
		prop(apps, "io.k8s.api.apps.v1.RollingUpdateDeployment", "maxSurge"),
		"{'$ref':'#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString'}");
	/* DeleteOptions names every group version it is registered in. */
	gvks = json_object_get(json_object_get(apps, "io.k8s.apimachinery.pkg.apis.meta.v1."
						     "DeleteOptions"),
			       "x-kubernetes-group-version-kind");
	ASSERT_EQ(json_array_size(gvks), 6);

	expect_ext(prop(disc, "io.k8s.api.discovery.v1.EndpointSlice", "endpoints"),
		   "x-kubernetes-list-type", "atomic");
	expect_ext(prop(disc, "io.k8s.api.discovery.v1.Endpoint", "addresses"),
		   "x-kubernetes-list-type", "set");
	ASSERT_NOT_NULL(json_object_get(disc, "io.k8s.api.core.v1.ObjectReference"));
	ASSERT_NULL(json_object_get(disc, "io.k8s.api.core.v1.Pod"));

	expect_json(
		prop(coord, "io.k8s.api.coordination.v1.LeaseSpec", "renewTime"),
		"{'$ref':'#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime'}");
	ASSERT_NOT_NULL(json_object_get(coord, "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"));
	json_decref(apps);
	json_decref(disc);
	json_decref(coord);
}

/*
 * A body with every field the OpenAPI document declares, one list element and
 * one map entry each, filled with a valid value of its shape.
 */
static json_t *sample(const json_t *doc, const json_t *schema)
{
	const char *ref = json_string_value(json_object_get(schema, "$ref"));
	const char *type = json_string_value(json_object_get(schema, "type"));
	const char *format = json_string_value(json_object_get(schema, "format"));

	if (ref) {
		const char *name = ref_target(ref);

		if (strstr(name, ".Quantity"))
			return json_string("250m");
		if (strstr(name, ".IntOrString"))
			return json_integer(8080);
		if (strstr(name, ".MicroTime"))
			return json_string("2024-05-01T10:00:00.123456Z");
		if (strstr(name, ".Time"))
			return json_string("2024-05-01T10:00:00Z");
		if (strstr(name, ".FieldsV1"))
			return json_pack("{s:{}}", "f:metadata");
		return sample(doc, json_object_get(doc, name));
	}
	ASSERT_MSG(type != NULL, "a schema with neither $ref nor type");
	if (!strcmp(type, "array"))
		return json_pack("[o]", sample(doc, json_object_get(schema, "items")));
	if (!strcmp(type, "object") && json_object_get(schema, "additionalProperties"))
		return json_pack("{s:o}", "k",
				 sample(doc, json_object_get(schema, "additionalProperties")));
	if (!strcmp(type, "object")) {
		json_t *out = json_object(), *p;
		const char *key;

		json_object_foreach(json_object_get(schema, "properties"), key, p)
			json_object_set_new(out, key, sample(doc, p));
		return out;
	}
	if (!strcmp(type, "integer"))
		return json_integer(7);
	if (!strcmp(type, "number"))
		return json_real(0.5);
	if (!strcmp(type, "boolean"))
		return json_true();
	if (format && !strcmp(format, "byte"))
		return json_string("aGk=");
	return json_string("x");
}

/*
 * Replace values of the sample body in turn by one of the wrong JSON type and
 * expect exactly one problem, at that value's path. A boolean is wrong for
 * every shape but bool, and a string for bool. Map entries are the sample's
 * "k" keys (no field is named "k"), written "[k]".
 */
struct mutation {
	const char *group, *kind;
	json_t *root;
	char path[1024];
	int checked;
};

static void mutate_one(struct mutation *m, json_t *parent, const char *key, size_t idx,
		       json_t *value)
{
	json_t *wrong = json_is_boolean(value) ? json_string("x") : json_true();
	json_t *problems = json_array();
	int n;

	json_incref(value);
	if (key)
		json_object_set_new(parent, key, wrong);
	else
		json_array_set_new(parent, idx, wrong);
	n = schema_check(m->group, "v1", m->kind, m->root, problems);
	if (key)
		json_object_set_new(parent, key, value);
	else
		json_array_set_new(parent, idx, value);
	if (n != 1 || !problem_at(problems, m->path)) {
		char *s = dump(problems);

		ASSERT_MSG(0, "%s: wrong type at %s gave %d problems: %s", m->kind, m->path, n, s);
	}
	json_decref(problems);
	m->checked++;
}

static void mutate_walk(struct mutation *m, json_t *node)
{
	size_t len = strlen(m->path), i;
	const char *key;
	json_t *child;

	if (json_is_object(node)) {
		json_object_foreach(node, key, child) {
			if (!strcmp(key, "k"))
				snprintf(m->path + len, sizeof(m->path) - len, "[k]");
			else
				snprintf(m->path + len, sizeof(m->path) - len, len ? ".%s" : "%s",
					 key);
			mutate_one(m, node, key, 0, child);
			/* FieldsV1 content is free-form: nothing inside it can be wrong. */
			if (strcmp(key, "fieldsV1"))
				mutate_walk(m, child);
		}
	} else if (json_is_array(node)) {
		json_array_foreach(node, i, child) {
			snprintf(m->path + len, sizeof(m->path) - len, "[%zu]", i);
			mutate_one(m, node, NULL, i, child);
			mutate_walk(m, child);
		}
	}
	m->path[len] = '\0';
}

TEST(schema_every_documented_field_is_accepted)
{
	static const char *const cases[][3] = {
		{ "", "v1", "io.k8s.api.core.v1.Pod" },
		{ "", "v1", "io.k8s.api.core.v1.Node" },
		{ "", "v1", "io.k8s.api.core.v1.Service" },
		{ "", "v1", "io.k8s.api.core.v1.Event" },
		{ "", "v1", "io.k8s.api.core.v1.Secret" },
		{ "apps", "v1", "io.k8s.api.apps.v1.DaemonSet" },
		{ "discovery.k8s.io", "v1", "io.k8s.api.discovery.v1.EndpointSlice" },
		{ "coordination.k8s.io", "v1", "io.k8s.api.coordination.v1.Lease" },
	};

	int total = 0;

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		json_t *doc = schema_openapi_components(cases[c][0], cases[c][1]);
		json_t *body = sample(doc, json_object_get(doc, cases[c][2]));
		const char *kind = strrchr(cases[c][2], '.') + 1;
		json_t *problems = json_array();
		struct mutation m = { .group = cases[c][0], .kind = kind, .root = body };
		int n;

		n = schema_check(cases[c][0], "v1", kind, body, problems);
		if (n) {
			char *s = dump(problems);

			ASSERT_MSG(0, "%s: %d problems: %s", kind, n, s);
		}
		mutate_walk(&m, body);
		ASSERT_MSG(m.checked > 0, "%s: nothing mutated", kind);
		total += m.checked;
		json_decref(problems);
		json_decref(body);
		json_decref(doc);
	}
	ASSERT_MSG(total > 1000, "only %d values mutated", total);
}
