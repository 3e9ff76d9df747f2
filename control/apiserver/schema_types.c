/*
 * schema_types.c - the field table of every type capstan serves, as of
 * k8s.io/api 1.32.
 *
 * This file is data only; schema.c parses it once into linked structures.
 * Each type is written as a short Go-like field list so that a reviewer can
 * hold it side by side with the upstream struct:
 *
 *   { "core.Container", "args []string atomic; env []EnvVar merge(name) map(name); ..." }
 *
 * Type names are "<package>.<Name>", the package being an alias of the
 * upstream OpenAPI prefix (schema.c keeps the alias list: core, meta, apps,
 * autoscaling, policy, discovery, coordination). A reference without a
 * package means the declaring type's package.
 *
 * A field is "<json name> <shape> [attributes]", fields separated by ';'.
 * Shapes:
 *   string int32 int64 bool double     JSON scalars (integers range-checked)
 *   bytes                              base64 string ([]byte)
 *   quantity                           resource.Quantity: string or number
 *   intstr                             intstr.IntOrString: string or integer
 *   time microtime                     metav1.Time / MicroTime: RFC 3339 string
 *   fieldsv1                           metav1.FieldsV1: any JSON object
 *   Name, pkg.Name                     an object of that type
 *   []X, map[]X                        a list or a string-keyed map of X
 * Attributes, the upstream struct tags and list markers:
 *   merge, merge(key), merge+retain(key)  patchStrategy merge (retainKeys) and
 *                                         patchMergeKey
 *   atomic, set, map(k1,k2)               +listType and +listMapKey
 * "@Name" in place of a field copies every field of Name (an inlined
 * struct: EphemeralContainer has all of Container's fields).
 *
 * Field names and shapes were read from k8s.io/api v0.32; patch tags and
 * list markers from the same types' struct tags. List kinds, descriptions,
 * defaults and "required" are not kept: nothing here needs them.
 */
#include <stddef.h>

#include "util.h"

/* Declared in schema.c, the only reader. */

/* {group, version, kind, type}: every kind the schema checks and documents. */
const char *const schema_kind_src[][4] = {
	{ "", "v1", "Namespace", "core.Namespace" },
	{ "", "v1", "Pod", "core.Pod" },
	{ "", "v1", "Service", "core.Service" },
	{ "", "v1", "Endpoints", "core.Endpoints" },
	{ "", "v1", "Node", "core.Node" },
	{ "", "v1", "Event", "core.Event" },
	{ "", "v1", "ConfigMap", "core.ConfigMap" },
	{ "", "v1", "Secret", "core.Secret" },
	{ "", "v1", "ServiceAccount", "core.ServiceAccount" },
	{ "", "v1", "Binding", "core.Binding" },
	{ "", "v1", "Status", "meta.Status" },
	{ "apps", "v1", "Deployment", "apps.Deployment" },
	{ "apps", "v1", "ReplicaSet", "apps.ReplicaSet" },
	{ "apps", "v1", "DaemonSet", "apps.DaemonSet" },
	{ "autoscaling", "v1", "Scale", "autoscaling.Scale" },
	{ "policy", "v1", "Eviction", "policy.Eviction" },
	{ "discovery.k8s.io", "v1", "EndpointSlice", "discovery.EndpointSlice" },
	{ "coordination.k8s.io", "v1", "Lease", "coordination.Lease" },
	/* DELETE bodies: upstream registers DeleteOptions in every group version. */
	{ "", "v1", "DeleteOptions", "meta.DeleteOptions" },
	{ "apps", "v1", "DeleteOptions", "meta.DeleteOptions" },
	{ "autoscaling", "v1", "DeleteOptions", "meta.DeleteOptions" },
	{ "policy", "v1", "DeleteOptions", "meta.DeleteOptions" },
	{ "discovery.k8s.io", "v1", "DeleteOptions", "meta.DeleteOptions" },
	{ "coordination.k8s.io", "v1", "DeleteOptions", "meta.DeleteOptions" },
};
const size_t schema_kind_src_count = ARRAY_SIZE(schema_kind_src);

/*
 * {group, version, type}: types a group version's document holds besides its
 * own kinds, because its subresources take or return them (pods/eviction,
 * deployments/scale, replicasets/scale).
 */
const char *const schema_doc_extra_src[][3] = {
	{ "", "v1", "policy.Eviction" },
	{ "apps", "v1", "autoscaling.Scale" },
};
const size_t schema_doc_extra_src_count = ARRAY_SIZE(schema_doc_extra_src);

/* One layout throughout, name then fields; clang-format would reflow the strings. */
/* clang-format off */
const char *const schema_type_src[][2] = {
	/* meta/v1 */
	{ "meta.ObjectMeta",
	  "annotations map[]string; creationTimestamp time; deletionGracePeriodSeconds int64;"
	  "deletionTimestamp time; finalizers []string merge set; generateName string;"
	  "generation int64; labels map[]string; managedFields []ManagedFieldsEntry atomic;"
	  "name string; namespace string;"
	  "ownerReferences []OwnerReference merge(uid) map(uid); resourceVersion string;"
	  "selfLink string; uid string" },
	{ "meta.ManagedFieldsEntry",
	  "apiVersion string; fieldsType string; fieldsV1 fieldsv1; manager string;"
	  "operation string; subresource string; time time" },
	{ "meta.OwnerReference",
	  "apiVersion string; blockOwnerDeletion bool; controller bool; kind string; name string;"
	  "uid string" },
	{ "meta.LabelSelector",
	  "matchExpressions []LabelSelectorRequirement atomic; matchLabels map[]string" },
	{ "meta.LabelSelectorRequirement", "key string; operator string; values []string atomic" },
	{ "meta.DeleteOptions",
	  "apiVersion string; dryRun []string atomic; gracePeriodSeconds int64;"
	  "ignoreStoreReadErrorWithClusterBreakingPotential bool; kind string;"
	  "orphanDependents bool; preconditions Preconditions; propagationPolicy string" },
	{ "meta.Preconditions", "resourceVersion string; uid string" },
	{ "meta.Status",
	  "apiVersion string; code int32; details StatusDetails; kind string; message string;"
	  "metadata ListMeta; reason string; status string" },
	{ "meta.StatusDetails",
	  "causes []StatusCause atomic; group string; kind string; name string;"
	  "retryAfterSeconds int32; uid string" },
	{ "meta.StatusCause", "field string; message string; reason string" },
	{ "meta.ListMeta",
	  "continue string; remainingItemCount int64; resourceVersion string; selfLink string" },
	{ "meta.Condition",
	  "lastTransitionTime time; message string; observedGeneration int64; reason string;"
	  "status string; type string" },

	/* core/v1: the kinds */
	{ "core.Namespace",
	  "apiVersion string; kind string; metadata meta.ObjectMeta; spec NamespaceSpec;"
	  "status NamespaceStatus" },
	{ "core.NamespaceSpec", "finalizers []string atomic" },
	{ "core.NamespaceStatus",
	  "conditions []NamespaceCondition merge(type) map(type); phase string" },
	{ "core.NamespaceCondition",
	  "lastTransitionTime time; message string; reason string; status string; type string" },
	{ "core.Pod",
	  "apiVersion string; kind string; metadata meta.ObjectMeta; spec PodSpec;"
	  "status PodStatus" },
	{ "core.PodTemplateSpec", "metadata meta.ObjectMeta; spec PodSpec" },
	{ "core.Service",
	  "apiVersion string; kind string; metadata meta.ObjectMeta; spec ServiceSpec;"
	  "status ServiceStatus" },
	{ "core.Endpoints",
	  "apiVersion string; kind string; metadata meta.ObjectMeta;"
	  "subsets []EndpointSubset atomic" },
	{ "core.Node",
	  "apiVersion string; kind string; metadata meta.ObjectMeta; spec NodeSpec;"
	  "status NodeStatus" },
	{ "core.Event",
	  "action string; apiVersion string; count int32; eventTime microtime;"
	  "firstTimestamp time; involvedObject ObjectReference; kind string;"
	  "lastTimestamp time; message string; metadata meta.ObjectMeta; reason string;"
	  "related ObjectReference; reportingComponent string; reportingInstance string;"
	  "series EventSeries; source EventSource; type string" },
	{ "core.EventSeries", "count int32; lastObservedTime microtime" },
	{ "core.EventSource", "component string; host string" },
	{ "core.ConfigMap",
	  "apiVersion string; binaryData map[]bytes; data map[]string; immutable bool;"
	  "kind string; metadata meta.ObjectMeta" },
	{ "core.Secret",
	  "apiVersion string; data map[]bytes; immutable bool; kind string;"
	  "metadata meta.ObjectMeta; stringData map[]string; type string" },
	{ "core.ServiceAccount",
	  "apiVersion string; automountServiceAccountToken bool;"
	  "imagePullSecrets []LocalObjectReference atomic; kind string;"
	  "metadata meta.ObjectMeta; secrets []ObjectReference merge(name) map(name)" },
	{ "core.Binding",
	  "apiVersion string; kind string; metadata meta.ObjectMeta; target ObjectReference" },
	{ "core.ObjectReference",
	  "apiVersion string; fieldPath string; kind string; name string; namespace string;"
	  "resourceVersion string; uid string" },
	{ "core.LocalObjectReference", "name string" },
	{ "core.TypedLocalObjectReference", "apiGroup string; kind string; name string" },
	{ "core.TypedObjectReference",
	  "apiGroup string; kind string; name string; namespace string" },

	/* core/v1: PodSpec */
	{ "core.PodSpec",
	  "activeDeadlineSeconds int64; affinity Affinity; automountServiceAccountToken bool;"
	  "containers []Container merge(name) map(name); dnsConfig PodDNSConfig;"
	  "dnsPolicy string; enableServiceLinks bool;"
	  "ephemeralContainers []EphemeralContainer merge(name) map(name);"
	  "hostAliases []HostAlias merge(ip) map(ip); hostIPC bool; hostNetwork bool;"
	  "hostPID bool; hostUsers bool; hostname string;"
	  "imagePullSecrets []LocalObjectReference merge(name) map(name);"
	  "initContainers []Container merge(name) map(name); nodeName string;"
	  "nodeSelector map[]string; os PodOS; overhead map[]quantity;"
	  "preemptionPolicy string; priority int32; priorityClassName string;"
	  "readinessGates []PodReadinessGate atomic;"
	  "resourceClaims []PodResourceClaim merge+retain(name) map(name);"
	  "resources ResourceRequirements; restartPolicy string; runtimeClassName string;"
	  "schedulerName string; schedulingGates []PodSchedulingGate merge(name) map(name);"
	  "securityContext PodSecurityContext; serviceAccount string;"
	  "serviceAccountName string; setHostnameAsFQDN bool; shareProcessNamespace bool;"
	  "subdomain string; terminationGracePeriodSeconds int64;"
	  "tolerations []Toleration atomic;"
	  "topologySpreadConstraints []TopologySpreadConstraint merge(topologyKey)"
	  " map(topologyKey,whenUnsatisfiable);"
	  "volumes []Volume merge+retain(name) map(name)" },
	{ "core.PodOS", "name string" },
	{ "core.PodReadinessGate", "conditionType string" },
	{ "core.PodResourceClaim",
	  "name string; resourceClaimName string; resourceClaimTemplateName string" },
	{ "core.PodSchedulingGate", "name string" },
	{ "core.HostAlias", "hostnames []string atomic; ip string" },
	{ "core.PodDNSConfig", "nameservers []string atomic; options []PodDNSConfigOption atomic;"
			       "searches []string atomic" },
	{ "core.PodDNSConfigOption", "name string; value string" },
	{ "core.Toleration",
	  "effect string; key string; operator string; tolerationSeconds int64; value string" },
	{ "core.TopologySpreadConstraint",
	  "labelSelector meta.LabelSelector; matchLabelKeys []string atomic; maxSkew int32;"
	  "minDomains int32; nodeAffinityPolicy string; nodeTaintsPolicy string;"
	  "topologyKey string; whenUnsatisfiable string" },
	{ "core.PodSecurityContext",
	  "appArmorProfile AppArmorProfile; fsGroup int64; fsGroupChangePolicy string;"
	  "runAsGroup int64; runAsNonRoot bool; runAsUser int64; seLinuxChangePolicy string;"
	  "seLinuxOptions SELinuxOptions; seccompProfile SeccompProfile;"
	  "supplementalGroups []int64 atomic; supplementalGroupsPolicy string;"
	  "sysctls []Sysctl atomic; windowsOptions WindowsSecurityContextOptions" },
	{ "core.Sysctl", "name string; value string" },
	{ "core.AppArmorProfile", "localhostProfile string; type string" },
	{ "core.SeccompProfile", "localhostProfile string; type string" },
	{ "core.SELinuxOptions", "level string; role string; type string; user string" },
	{ "core.WindowsSecurityContextOptions",
	  "gmsaCredentialSpec string; gmsaCredentialSpecName string; hostProcess bool;"
	  "runAsUserName string" },

	/* core/v1: affinity */
	{ "core.Affinity",
	  "nodeAffinity NodeAffinity; podAffinity PodAffinity; podAntiAffinity PodAntiAffinity" },
	{ "core.NodeAffinity",
	  "preferredDuringSchedulingIgnoredDuringExecution []PreferredSchedulingTerm atomic;"
	  "requiredDuringSchedulingIgnoredDuringExecution NodeSelector" },
	{ "core.PreferredSchedulingTerm", "preference NodeSelectorTerm; weight int32" },
	{ "core.NodeSelector", "nodeSelectorTerms []NodeSelectorTerm atomic" },
	{ "core.NodeSelectorTerm", "matchExpressions []NodeSelectorRequirement atomic;"
				   "matchFields []NodeSelectorRequirement atomic" },
	{ "core.NodeSelectorRequirement", "key string; operator string; values []string atomic" },
	{ "core.PodAffinity",
	  "preferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm atomic;"
	  "requiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm atomic" },
	{ "core.PodAntiAffinity", "@PodAffinity" },
	{ "core.WeightedPodAffinityTerm", "podAffinityTerm PodAffinityTerm; weight int32" },
	{ "core.PodAffinityTerm",
	  "labelSelector meta.LabelSelector; matchLabelKeys []string atomic;"
	  "mismatchLabelKeys []string atomic; namespaceSelector meta.LabelSelector;"
	  "namespaces []string atomic; topologyKey string" },

	/* core/v1: containers */
	{ "core.Container",
	  "args []string atomic; command []string atomic; env []EnvVar merge(name) map(name);"
	  "envFrom []EnvFromSource atomic; image string; imagePullPolicy string;"
	  "lifecycle Lifecycle; livenessProbe Probe; name string;"
	  "ports []ContainerPort merge(containerPort) map(containerPort,protocol);"
	  "readinessProbe Probe; resizePolicy []ContainerResizePolicy atomic;"
	  "resources ResourceRequirements; restartPolicy string;"
	  "securityContext SecurityContext; startupProbe Probe; stdin bool; stdinOnce bool;"
	  "terminationMessagePath string; terminationMessagePolicy string; tty bool;"
	  "volumeDevices []VolumeDevice merge(devicePath) map(devicePath);"
	  "volumeMounts []VolumeMount merge(mountPath) map(mountPath); workingDir string" },
	{ "core.EphemeralContainer", "@Container; targetContainerName string" },
	{ "core.ContainerPort",
	  "containerPort int32; hostIP string; hostPort int32; name string; protocol string" },
	{ "core.ContainerResizePolicy", "resourceName string; restartPolicy string" },
	{ "core.EnvVar", "name string; value string; valueFrom EnvVarSource" },
	{ "core.EnvVarSource",
	  "configMapKeyRef ConfigMapKeySelector; fieldRef ObjectFieldSelector;"
	  "resourceFieldRef ResourceFieldSelector; secretKeyRef SecretKeySelector" },
	{ "core.ConfigMapKeySelector", "key string; name string; optional bool" },
	{ "core.SecretKeySelector", "key string; name string; optional bool" },
	{ "core.ObjectFieldSelector", "apiVersion string; fieldPath string" },
	{ "core.ResourceFieldSelector", "containerName string; divisor quantity; resource string" },
	{ "core.EnvFromSource",
	  "configMapRef ConfigMapEnvSource; prefix string; secretRef SecretEnvSource" },
	{ "core.ConfigMapEnvSource", "name string; optional bool" },
	{ "core.SecretEnvSource", "name string; optional bool" },
	{ "core.ResourceRequirements",
	  "claims []ResourceClaim map(name); limits map[]quantity; requests map[]quantity" },
	{ "core.ResourceClaim", "name string; request string" },
	{ "core.VolumeMount",
	  "mountPath string; mountPropagation string; name string; readOnly bool;"
	  "recursiveReadOnly string; subPath string; subPathExpr string" },
	{ "core.VolumeDevice", "devicePath string; name string" },
	{ "core.Probe",
	  "exec ExecAction; failureThreshold int32; grpc GRPCAction; httpGet HTTPGetAction;"
	  "initialDelaySeconds int32; periodSeconds int32; successThreshold int32;"
	  "tcpSocket TCPSocketAction; terminationGracePeriodSeconds int64;"
	  "timeoutSeconds int32" },
	{ "core.Lifecycle", "postStart LifecycleHandler; preStop LifecycleHandler" },
	{ "core.LifecycleHandler", "exec ExecAction; httpGet HTTPGetAction; sleep SleepAction;"
				   "tcpSocket TCPSocketAction" },
	{ "core.ExecAction", "command []string atomic" },
	{ "core.HTTPGetAction",
	  "host string; httpHeaders []HTTPHeader atomic; path string; port intstr;"
	  "scheme string" },
	{ "core.HTTPHeader", "name string; value string" },
	{ "core.TCPSocketAction", "host string; port intstr" },
	{ "core.GRPCAction", "port int32; service string" },
	{ "core.SleepAction", "seconds int64" },
	{ "core.SecurityContext",
	  "allowPrivilegeEscalation bool; appArmorProfile AppArmorProfile;"
	  "capabilities Capabilities; privileged bool; procMount string;"
	  "readOnlyRootFilesystem bool; runAsGroup int64; runAsNonRoot bool; runAsUser int64;"
	  "seLinuxOptions SELinuxOptions; seccompProfile SeccompProfile;"
	  "windowsOptions WindowsSecurityContextOptions" },
	{ "core.Capabilities", "add []string atomic; drop []string atomic" },

	/* core/v1: volumes, every source that exists in 1.32 */
	{ "core.Volume",
	  "awsElasticBlockStore AWSElasticBlockStoreVolumeSource;"
	  "azureDisk AzureDiskVolumeSource; azureFile AzureFileVolumeSource;"
	  "cephfs CephFSVolumeSource; cinder CinderVolumeSource;"
	  "configMap ConfigMapVolumeSource; csi CSIVolumeSource;"
	  "downwardAPI DownwardAPIVolumeSource; emptyDir EmptyDirVolumeSource;"
	  "ephemeral EphemeralVolumeSource; fc FCVolumeSource; flexVolume FlexVolumeSource;"
	  "flocker FlockerVolumeSource; gcePersistentDisk GCEPersistentDiskVolumeSource;"
	  "gitRepo GitRepoVolumeSource; glusterfs GlusterfsVolumeSource;"
	  "hostPath HostPathVolumeSource; image ImageVolumeSource; iscsi ISCSIVolumeSource;"
	  "name string; nfs NFSVolumeSource;"
	  "persistentVolumeClaim PersistentVolumeClaimVolumeSource;"
	  "photonPersistentDisk PhotonPersistentDiskVolumeSource;"
	  "portworxVolume PortworxVolumeSource; projected ProjectedVolumeSource;"
	  "quobyte QuobyteVolumeSource; rbd RBDVolumeSource; scaleIO ScaleIOVolumeSource;"
	  "secret SecretVolumeSource; storageos StorageOSVolumeSource;"
	  "vsphereVolume VsphereVirtualDiskVolumeSource" },
	{ "core.AWSElasticBlockStoreVolumeSource",
	  "fsType string; partition int32; readOnly bool; volumeID string" },
	{ "core.AzureDiskVolumeSource",
	  "cachingMode string; diskName string; diskURI string; fsType string; kind string;"
	  "readOnly bool" },
	{ "core.AzureFileVolumeSource", "readOnly bool; secretName string; shareName string" },
	{ "core.CephFSVolumeSource",
	  "monitors []string atomic; path string; readOnly bool; secretFile string;"
	  "secretRef LocalObjectReference; user string" },
	{ "core.CinderVolumeSource",
	  "fsType string; readOnly bool; secretRef LocalObjectReference; volumeID string" },
	{ "core.ConfigMapVolumeSource",
	  "defaultMode int32; items []KeyToPath atomic; name string; optional bool" },
	{ "core.CSIVolumeSource",
	  "driver string; fsType string; nodePublishSecretRef LocalObjectReference;"
	  "readOnly bool; volumeAttributes map[]string" },
	{ "core.DownwardAPIVolumeSource",
	  "defaultMode int32; items []DownwardAPIVolumeFile atomic" },
	{ "core.DownwardAPIVolumeFile", "fieldRef ObjectFieldSelector; mode int32; path string;"
					"resourceFieldRef ResourceFieldSelector" },
	{ "core.EmptyDirVolumeSource", "medium string; sizeLimit quantity" },
	{ "core.EphemeralVolumeSource", "volumeClaimTemplate PersistentVolumeClaimTemplate" },
	{ "core.PersistentVolumeClaimTemplate",
	  "metadata meta.ObjectMeta; spec PersistentVolumeClaimSpec" },
	{ "core.PersistentVolumeClaimSpec",
	  "accessModes []string atomic; dataSource TypedLocalObjectReference;"
	  "dataSourceRef TypedObjectReference; resources VolumeResourceRequirements;"
	  "selector meta.LabelSelector; storageClassName string;"
	  "volumeAttributesClassName string; volumeMode string; volumeName string" },
	{ "core.VolumeResourceRequirements", "limits map[]quantity; requests map[]quantity" },
	{ "core.FCVolumeSource",
	  "fsType string; lun int32; readOnly bool; targetWWNs []string atomic;"
	  "wwids []string atomic" },
	{ "core.FlexVolumeSource",
	  "driver string; fsType string; options map[]string; readOnly bool;"
	  "secretRef LocalObjectReference" },
	{ "core.FlockerVolumeSource", "datasetName string; datasetUUID string" },
	{ "core.GCEPersistentDiskVolumeSource",
	  "fsType string; partition int32; pdName string; readOnly bool" },
	{ "core.GitRepoVolumeSource", "directory string; repository string; revision string" },
	{ "core.GlusterfsVolumeSource", "endpoints string; path string; readOnly bool" },
	{ "core.HostPathVolumeSource", "path string; type string" },
	{ "core.ImageVolumeSource", "pullPolicy string; reference string" },
	{ "core.ISCSIVolumeSource",
	  "chapAuthDiscovery bool; chapAuthSession bool; fsType string; initiatorName string;"
	  "iqn string; iscsiInterface string; lun int32; portals []string atomic;"
	  "readOnly bool; secretRef LocalObjectReference; targetPortal string" },
	{ "core.NFSVolumeSource", "path string; readOnly bool; server string" },
	{ "core.PersistentVolumeClaimVolumeSource", "claimName string; readOnly bool" },
	{ "core.PhotonPersistentDiskVolumeSource", "fsType string; pdID string" },
	{ "core.PortworxVolumeSource", "fsType string; readOnly bool; volumeID string" },
	{ "core.ProjectedVolumeSource", "defaultMode int32; sources []VolumeProjection atomic" },
	{ "core.VolumeProjection",
	  "clusterTrustBundle ClusterTrustBundleProjection; configMap ConfigMapProjection;"
	  "downwardAPI DownwardAPIProjection; secret SecretProjection;"
	  "serviceAccountToken ServiceAccountTokenProjection" },
	{ "core.ClusterTrustBundleProjection",
	  "labelSelector meta.LabelSelector; name string; optional bool; path string;"
	  "signerName string" },
	{ "core.ConfigMapProjection", "items []KeyToPath atomic; name string; optional bool" },
	{ "core.DownwardAPIProjection", "items []DownwardAPIVolumeFile atomic" },
	{ "core.SecretProjection", "items []KeyToPath atomic; name string; optional bool" },
	{ "core.ServiceAccountTokenProjection",
	  "audience string; expirationSeconds int64; path string" },
	{ "core.KeyToPath", "key string; mode int32; path string" },
	{ "core.QuobyteVolumeSource",
	  "group string; readOnly bool; registry string; tenant string; user string;"
	  "volume string" },
	{ "core.RBDVolumeSource",
	  "fsType string; image string; keyring string; monitors []string atomic; pool string;"
	  "readOnly bool; secretRef LocalObjectReference; user string" },
	{ "core.ScaleIOVolumeSource",
	  "fsType string; gateway string; protectionDomain string; readOnly bool;"
	  "secretRef LocalObjectReference; sslEnabled bool; storageMode string;"
	  "storagePool string; system string; volumeName string" },
	{ "core.SecretVolumeSource",
	  "defaultMode int32; items []KeyToPath atomic; optional bool; secretName string" },
	{ "core.StorageOSVolumeSource",
	  "fsType string; readOnly bool; secretRef LocalObjectReference; volumeName string;"
	  "volumeNamespace string" },
	{ "core.VsphereVirtualDiskVolumeSource",
	  "fsType string; storagePolicyID string; storagePolicyName string; volumePath string" },

	/* core/v1: PodStatus */
	{ "core.PodStatus",
	  "conditions []PodCondition merge(type) map(type);"
	  "containerStatuses []ContainerStatus atomic;"
	  "ephemeralContainerStatuses []ContainerStatus atomic; hostIP string;"
	  "hostIPs []HostIP merge(ip) atomic; initContainerStatuses []ContainerStatus atomic;"
	  "message string; nominatedNodeName string; phase string; podIP string;"
	  "podIPs []PodIP merge(ip) map(ip); qosClass string; reason string; resize string;"
	  "resourceClaimStatuses []PodResourceClaimStatus merge+retain(name) map(name);"
	  "startTime time" },
	{ "core.PodCondition",
	  "lastProbeTime time; lastTransitionTime time; message string; reason string;"
	  "status string; type string" },
	{ "core.HostIP", "ip string" },
	{ "core.PodIP", "ip string" },
	{ "core.PodResourceClaimStatus", "name string; resourceClaimName string" },
	{ "core.ContainerStatus",
	  "allocatedResources map[]quantity;"
	  "allocatedResourcesStatus []ResourceStatus merge(name) map(name);"
	  "containerID string; image string; imageID string; lastState ContainerState;"
	  "name string; ready bool; resources ResourceRequirements; restartCount int32;"
	  "started bool; state ContainerState; user ContainerUser;"
	  "volumeMounts []VolumeMountStatus merge(mountPath) map(mountPath)" },
	{ "core.ResourceStatus", "name string; resources []ResourceHealth map(resourceID)" },
	{ "core.ResourceHealth", "health string; resourceID string" },
	{ "core.ContainerState",
	  "running ContainerStateRunning; terminated ContainerStateTerminated;"
	  "waiting ContainerStateWaiting" },
	{ "core.ContainerStateRunning", "startedAt time" },
	{ "core.ContainerStateTerminated",
	  "containerID string; exitCode int32; finishedAt time; message string; reason string;"
	  "signal int32; startedAt time" },
	{ "core.ContainerStateWaiting", "message string; reason string" },
	{ "core.ContainerUser", "linux LinuxContainerUser" },
	{ "core.LinuxContainerUser", "gid int64; supplementalGroups []int64 atomic; uid int64" },
	{ "core.VolumeMountStatus",
	  "mountPath string; name string; readOnly bool; recursiveReadOnly string" },

	/* core/v1: Service */
	{ "core.ServiceSpec",
	  "allocateLoadBalancerNodePorts bool; clusterIP string; clusterIPs []string atomic;"
	  "externalIPs []string atomic; externalName string; externalTrafficPolicy string;"
	  "healthCheckNodePort int32; internalTrafficPolicy string;"
	  "ipFamilies []string atomic; ipFamilyPolicy string; loadBalancerClass string;"
	  "loadBalancerIP string; loadBalancerSourceRanges []string atomic;"
	  "ports []ServicePort merge(port) map(port,protocol); publishNotReadyAddresses bool;"
	  "selector map[]string; sessionAffinity string;"
	  "sessionAffinityConfig SessionAffinityConfig; trafficDistribution string;"
	  "type string" },
	{ "core.ServicePort",
	  "appProtocol string; name string; nodePort int32; port int32; protocol string;"
	  "targetPort intstr" },
	{ "core.SessionAffinityConfig", "clientIP ClientIPConfig" },
	{ "core.ClientIPConfig", "timeoutSeconds int32" },
	{ "core.ServiceStatus",
	  "conditions []meta.Condition merge(type) map(type); loadBalancer LoadBalancerStatus" },
	{ "core.LoadBalancerStatus", "ingress []LoadBalancerIngress atomic" },
	{ "core.LoadBalancerIngress",
	  "hostname string; ip string; ipMode string; ports []PortStatus atomic" },
	{ "core.PortStatus", "error string; port int32; protocol string" },

	/* core/v1: Endpoints */
	{ "core.EndpointSubset",
	  "addresses []EndpointAddress atomic; notReadyAddresses []EndpointAddress atomic;"
	  "ports []EndpointPort atomic" },
	{ "core.EndpointAddress",
	  "hostname string; ip string; nodeName string; targetRef ObjectReference" },
	{ "core.EndpointPort", "appProtocol string; name string; port int32; protocol string" },

	/* core/v1: Node */
	{ "core.NodeSpec", "configSource NodeConfigSource; externalID string; podCIDR string;"
			   "podCIDRs []string merge set; providerID string; taints []Taint atomic;"
			   "unschedulable bool" },
	{ "core.NodeConfigSource", "configMap ConfigMapNodeConfigSource" },
	{ "core.ConfigMapNodeConfigSource",
	  "kubeletConfigKey string; name string; namespace string; resourceVersion string;"
	  "uid string" },
	{ "core.Taint", "effect string; key string; timeAdded time; value string" },
	{ "core.NodeStatus",
	  "addresses []NodeAddress merge(type) map(type); allocatable map[]quantity;"
	  "capacity map[]quantity; conditions []NodeCondition merge(type) map(type);"
	  "config NodeConfigStatus; daemonEndpoints NodeDaemonEndpoints;"
	  "features NodeFeatures; images []ContainerImage atomic; nodeInfo NodeSystemInfo;"
	  "phase string; runtimeHandlers []NodeRuntimeHandler atomic;"
	  "volumesAttached []AttachedVolume atomic; volumesInUse []string atomic" },
	{ "core.NodeAddress", "address string; type string" },
	{ "core.NodeCondition",
	  "lastHeartbeatTime time; lastTransitionTime time; message string; reason string;"
	  "status string; type string" },
	{ "core.NodeConfigStatus",
	  "active NodeConfigSource; assigned NodeConfigSource; error string;"
	  "lastKnownGood NodeConfigSource" },
	{ "core.NodeDaemonEndpoints", "kubeletEndpoint DaemonEndpoint" },
	/* Capital P: an old tag spelled the JSON name with the Go field name. */
	{ "core.DaemonEndpoint", "Port int32" },
	{ "core.NodeFeatures", "supplementalGroupsPolicy bool" },
	{ "core.ContainerImage", "names []string atomic; sizeBytes int64" },
	{ "core.NodeSystemInfo",
	  "architecture string; bootID string; containerRuntimeVersion string;"
	  "kernelVersion string; kubeProxyVersion string; kubeletVersion string;"
	  "machineID string; operatingSystem string; osImage string; systemUUID string" },
	{ "core.NodeRuntimeHandler", "features NodeRuntimeHandlerFeatures; name string" },
	{ "core.NodeRuntimeHandlerFeatures", "recursiveReadOnlyMounts bool; userNamespaces bool" },
	{ "core.AttachedVolume", "devicePath string; name string" },

	/* apps/v1 */
	{ "apps.Deployment",
	  "apiVersion string; kind string; metadata meta.ObjectMeta; spec DeploymentSpec;"
	  "status DeploymentStatus" },
	{ "apps.DeploymentSpec",
	  "minReadySeconds int32; paused bool; progressDeadlineSeconds int32; replicas int32;"
	  "revisionHistoryLimit int32; selector meta.LabelSelector;"
	  "strategy DeploymentStrategy; template core.PodTemplateSpec" },
	{ "apps.DeploymentStrategy", "rollingUpdate RollingUpdateDeployment; type string" },
	{ "apps.RollingUpdateDeployment", "maxSurge intstr; maxUnavailable intstr" },
	{ "apps.DeploymentStatus",
	  "availableReplicas int32; collisionCount int32;"
	  "conditions []DeploymentCondition merge(type) map(type); observedGeneration int64;"
	  "readyReplicas int32; replicas int32; unavailableReplicas int32;"
	  "updatedReplicas int32" },
	{ "apps.DeploymentCondition",
	  "lastTransitionTime time; lastUpdateTime time; message string; reason string;"
	  "status string; type string" },
	{ "apps.ReplicaSet",
	  "apiVersion string; kind string; metadata meta.ObjectMeta; spec ReplicaSetSpec;"
	  "status ReplicaSetStatus" },
	{ "apps.ReplicaSetSpec",
	  "minReadySeconds int32; replicas int32; selector meta.LabelSelector;"
	  "template core.PodTemplateSpec" },
	{ "apps.ReplicaSetStatus",
	  "availableReplicas int32; conditions []ReplicaSetCondition merge(type) map(type);"
	  "fullyLabeledReplicas int32; observedGeneration int64; readyReplicas int32;"
	  "replicas int32" },
	{ "apps.ReplicaSetCondition",
	  "lastTransitionTime time; message string; reason string; status string; type string" },
	{ "apps.DaemonSet",
	  "apiVersion string; kind string; metadata meta.ObjectMeta; spec DaemonSetSpec;"
	  "status DaemonSetStatus" },
	{ "apps.DaemonSetSpec",
	  "minReadySeconds int32; revisionHistoryLimit int32; selector meta.LabelSelector;"
	  "template core.PodTemplateSpec; updateStrategy DaemonSetUpdateStrategy" },
	{ "apps.DaemonSetUpdateStrategy", "rollingUpdate RollingUpdateDaemonSet; type string" },
	{ "apps.RollingUpdateDaemonSet", "maxSurge intstr; maxUnavailable intstr" },
	{ "apps.DaemonSetStatus",
	  "collisionCount int32; conditions []DaemonSetCondition merge(type) map(type);"
	  "currentNumberScheduled int32; desiredNumberScheduled int32; numberAvailable int32;"
	  "numberMisscheduled int32; numberReady int32; numberUnavailable int32;"
	  "observedGeneration int64; updatedNumberScheduled int32" },
	{ "apps.DaemonSetCondition",
	  "lastTransitionTime time; message string; reason string; status string; type string" },

	/* autoscaling/v1, policy/v1 */
	{ "autoscaling.Scale",
	  "apiVersion string; kind string; metadata meta.ObjectMeta; spec ScaleSpec;"
	  "status ScaleStatus" },
	{ "autoscaling.ScaleSpec", "replicas int32" },
	{ "autoscaling.ScaleStatus", "replicas int32; selector string" },
	{ "policy.Eviction", "apiVersion string; deleteOptions meta.DeleteOptions; kind string;"
			     "metadata meta.ObjectMeta" },

	/* discovery.k8s.io/v1 */
	{ "discovery.EndpointSlice",
	  "addressType string; apiVersion string; endpoints []Endpoint atomic; kind string;"
	  "metadata meta.ObjectMeta; ports []EndpointPort atomic" },
	{ "discovery.Endpoint",
	  "addresses []string set; conditions EndpointConditions;"
	  "deprecatedTopology map[]string; hints EndpointHints; hostname string;"
	  "nodeName string; targetRef core.ObjectReference; zone string" },
	{ "discovery.EndpointConditions", "ready bool; serving bool; terminating bool" },
	{ "discovery.EndpointHints", "forZones []ForZone atomic" },
	{ "discovery.ForZone", "name string" },
	{ "discovery.EndpointPort",
	  "appProtocol string; name string; port int32; protocol string" },

	/* coordination.k8s.io/v1 */
	{ "coordination.Lease",
	  "apiVersion string; kind string; metadata meta.ObjectMeta; spec LeaseSpec" },
	{ "coordination.LeaseSpec",
	  "acquireTime microtime; holderIdentity string; leaseDurationSeconds int32;"
	  "leaseTransitions int32; preferredHolder string; renewTime microtime;"
	  "strategy string" },
};
/* clang-format on */
const size_t schema_type_src_count = ARRAY_SIZE(schema_type_src);
