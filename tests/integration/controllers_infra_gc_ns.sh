#!/bin/bash
# Garbage collector and namespace controller against the real API server
# (with the controller manager's ReplicaSet controller making the pods):
#   - background cascade: deleting a ReplicaSet deletes its pods;
#   - foreground cascade: the ReplicaSet stays (foregroundDeletion) while
#     its pods finish their graceful deletion, and goes once they are gone;
#   - orphan: the pods stay, without the owner reference;
#   - a pod whose owner never existed (dangling reference) is deleted;
#   - deleting a namespace deletes everything in it, reports what remains
#     (an object held by a finalizer) in the namespace's conditions, and
#     removes the namespace once that is gone.
source "$(dirname "$0")/controllers_infra.bash"

start_apiserver
start_cm
node_up n1
renew_loop n1

rs() { # NAME REPLICAS [NODE]
	jq -cn --arg name "$1" --argjson n "$2" --arg node "${3:-}" \
		'{apiVersion: "apps/v1", kind: "ReplicaSet", metadata: {name: $name},
		  spec: {replicas: $n, selector: {matchLabels: {app: $name}},
			 template: {metadata: {labels: {app: $name}},
				    spec: ({containers: [{name: "c", image: "capstan.local/pause:1"}]} +
					   (if $node == "" then {} else {nodeName: $node} end))}}}' |
		k create -f - >/dev/null
}
pods_of() { k get pods -l app="$1" -o name | wc -l; }
count_is() { [ "$(pods_of "$1")" = "$2" ]; }
owned_count() { # RS: pods with an owner reference to it
	k get pods -l app="$1" -o json | jq --arg rs "$1" '[.items[] | select(.metadata.ownerReferences[]?.name == $rs)] | length'
}

# Background.
rs bg 3
wait_for 10 count_is bg 3 || fail "ReplicaSet bg made $(pods_of bg) pods"
[ "$(owned_count bg)" = 3 ] || fail "bg's pods are not owned by it"
k delete rs bg --cascade=background >/dev/null
wait_for 10 count_is bg 0 || fail "background: $(pods_of bg) pods left"

# Foreground, with pods on a node so their deletion waits for the "kubelet".
rs fg 3 n1
wait_for 10 count_is fg 3 || fail "ReplicaSet fg made $(pods_of fg) pods"
k delete rs fg --cascade=foreground --wait=false >/dev/null
terminating() { # RS: all its pods have a deletionTimestamp
	[ "$(k get pods -l app="$1" -o json | jq '[.items[] | select(.metadata.deletionTimestamp == null)] | length')" = 0 ]
}
wait_for 10 terminating fg || fail "foreground: pods not deleted"
[ "$(k get rs fg -o jsonpath='{.metadata.finalizers}')" = '["foregroundDeletion"]' ] ||
	fail "foreground: owner not waiting: $(k get rs fg -o jsonpath='{.metadata.finalizers}' 2>&1)"
sleep 1
k get rs fg >/dev/null 2>&1 || fail "foreground: owner gone while its pods still exist"
finish_loop
wait_for 10 count_is fg 0 || fail "foreground: pods not finished"
wait_for 10 gone get rs fg || fail "foreground: owner still there after its pods: $(k get rs fg -o json | jq -c .metadata)"

# Orphan.
rs orphan 2
wait_for 10 count_is orphan 2 || fail "ReplicaSet orphan made $(pods_of orphan) pods"
k delete rs orphan --cascade=orphan >/dev/null
wait_for 10 gone get rs orphan || fail "orphan: owner not deleted"
wait_for 10 bash -c "[ \"\$(kubectl --kubeconfig '$kc' get pods -l app=orphan -o json | jq '[.items[].metadata.ownerReferences // [] | length] | add')\" = 0 ]" ||
	fail "orphan: owner references kept: $(k get pods -l app=orphan -o json | jq -c '[.items[].metadata.ownerReferences]')"
sleep 1
count_is orphan 2 || fail "orphan: pods deleted"

# A dangling reference: the owner never existed.
k create -f - >/dev/null <<'EOF'
{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dangling","ownerReferences":[
 {"apiVersion":"apps/v1","kind":"ReplicaSet","name":"ghost","uid":"00000000-0000-0000-0000-000000000001"}]}}
EOF
k create configmap survivor --from-literal=a=1 >/dev/null
wait_for 10 gone get configmap dangling || fail "object with a dangling owner reference kept"
k get configmap survivor >/dev/null || fail "unowned object deleted"

# Namespace deletion.
k create namespace doomed >/dev/null
k -n doomed create configmap plain --from-literal=a=1 >/dev/null
k -n doomed create secret generic s --from-literal=a=1 >/dev/null
k -n doomed create service clusterip svc --tcp=80:8080 >/dev/null
k -n doomed create -f - >/dev/null <<'EOF'
{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"held","finalizers":["example.com/hold"]}}
EOF
jq -cn '{apiVersion: "apps/v1", kind: "ReplicaSet", metadata: {name: "web", namespace: "doomed"},
	 spec: {replicas: 2, selector: {matchLabels: {app: "web"}},
		template: {metadata: {labels: {app: "web"}},
			   spec: {nodeName: "n1", containers: [{name: "c", image: "capstan.local/pause:1"}]}}}}' |
	k create -f - >/dev/null
wait_for 10 bash -c "[ \"\$(kubectl --kubeconfig '$kc' -n doomed get pods -o name | wc -l)\" = 2 ]" || fail "doomed/web made no pods"
wait_for 10 k -n doomed get endpointslices -l kubernetes.io/service-name=svc -o name || fail "no slice for doomed/svc"
k delete namespace doomed --wait=false >/dev/null
cond() { k get namespace doomed -o json | jq -r --arg t "$1" '.status.conditions[]? | select(.type == $t) | "\(.status) \(.message)"'; }
remains_held() {
	[ "$(cond NamespaceContentRemaining)" = "True Some resources are remaining: configmaps has 1 resource instances" ] &&
		[ "$(cond NamespaceFinalizersRemaining)" = "True Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances" ]
}
wait_for 15 remains_held || fail "namespace conditions: $(k get namespace doomed -o json | jq -c .status)"
[ "$(k get namespace doomed -o jsonpath='{.status.phase}')" = Terminating ] || fail "namespace not Terminating"
left=$(api GET /api/v1/namespaces/doomed/pods | jq '.items | length')
[ "$left" = 0 ] || fail "pods left in doomed: $left"
for r in secrets services deployments replicasets endpoints; do
	[ "$(k -n doomed get "$r" -o name | wc -l)" = 0 ] || fail "$r left in doomed"
done
k -n doomed patch configmap held --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
wait_for 15 gone get namespace doomed || fail "namespace not removed: $(k get namespace doomed -o json | jq -c .status)"
echo "garbage collector and namespace controller ok"
