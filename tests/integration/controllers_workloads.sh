#!/bin/bash
# The workload controllers of capstan-controller-manager against a real
# capstan-apiserver, driven by the real kubectl, with no container runtime:
# a fake node loop (below) plays scheduler and kubelet. It binds pending
# pods through pods/binding (DaemonSet pods to the node their matchFields
# affinity names, others spread by name), marks bound pods Running and
# Ready through pods/status after READY_DELAY seconds, and finishes
# graceful deletions (grace 0) after a short delay, as a kubelet does.
#
# Checks: a Deployment of 4 gets 4 ready pods; a rollout (kubectl set
# image) keeps live pods <= replicas + maxSurge and ready pods >=
# replicas - maxUnavailable at every event of a pod watch; `kubectl
# rollout status` returns exactly when the rollout is done; `kubectl rollout
# undo` goes back, reusing the old ReplicaSet at a new revision; scale up
# and down; Recreate; deleting a Deployment cascades (background and
# foreground, through the garbage collector); a DaemonSet runs one pod per
# node, follows a new node and rolls out a new template.
source "$(dirname "$0")/../harness/lib.sh"
command -v kubectl >/dev/null || skip "kubectl is not installed"
command -v jq >/dev/null || skip "jq is not installed"

READY_DELAY=1
scratch dir

"$BUILD/bin/capstan-apiserver" --data-dir "$dir/data" --listen 127.0.0.1:0 --unsafe-no-fsync \
	>"$dir/apiserver.log" 2>&1 &
defer stop_pid $!
wait_for 20 grep -q "listening on http://" "$dir/apiserver.log" ||
	{ cat "$dir/apiserver.log"; fail "apiserver did not start"; }
URL=$(grep -o 'listening on http://[0-9.:]*' "$dir/apiserver.log" | head -1 | awk '{print $3}')
write_kubeconfig "$dir/kubeconfig" "$URL"
export KUBECONFIG=$dir/kubeconfig

# Only the controllers under test (and the garbage collector for cascading
# deletes): node lifecycle would taint these kubelet-less nodes.
"$BUILD/bin/capstan-controller-manager" --kubeconfig "$dir/kubeconfig" \
	--controllers replicaset,deployment,daemonset,garbagecollector --v=4 \
	>"$dir/cm.log" 2>&1 &
cm_pid=$!
defer stop_pid "$cm_pid"
wait_for 20 grep -q "started deployment controller" "$dir/cm.log" ||
	{ cat "$dir/cm.log"; fail "controller manager did not start"; }

add_node() {
	curl -sf -XPOST -H 'Content-Type: application/json' "$URL/api/v1/nodes" \
		-d "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$1\"},
		     \"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}" >/dev/null ||
		fail "cannot create node $1"
}
add_node node-a
add_node node-b

# ---------------------------------------------------------------- fake nodes

fake_nodes() {
	local -A first_bound first_deleting
	local pods nodes now ns name target uid image n
	while :; do
		pods=$(curl -sf "$URL/api/v1/pods") || { sleep 0.2; continue; }
		mapfile -t nodes < <(curl -sf "$URL/api/v1/nodes" | jq -r '.items[].metadata.name')
		now=$(date +%s)
		# Schedule: DaemonSet pods where their affinity pins them, the rest spread by name.
		while IFS=$'\t' read -r ns name target; do
			if [ -z "$target" ]; then
				n=$(printf %s "$name" | cksum | cut -d' ' -f1)
				target=${nodes[$((n % ${#nodes[@]}))]}
			fi
			curl -sf -XPOST -H 'Content-Type: application/json' \
				"$URL/api/v1/namespaces/$ns/pods/$name/binding" \
				-d "{\"apiVersion\":\"v1\",\"kind\":\"Binding\",\"metadata\":{\"name\":\"$name\"},
				     \"target\":{\"kind\":\"Node\",\"name\":\"$target\"}}" >/dev/null || true
		done < <(jq -r '.items[] | select((.spec.nodeName // "") == "" and .metadata.deletionTimestamp == null)
			| [.metadata.namespace, .metadata.name,
			   (.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
			    .nodeSelectorTerms[0].matchFields[0].values[0] // "")] | @tsv' <<<"$pods")
		# Start: Running and Ready READY_DELAY seconds after binding.
		while IFS=$'\t' read -r ns name uid image; do
			[ -n "${first_bound[$uid]:-}" ] || first_bound[$uid]=$now
			[ $((now - ${first_bound[$uid]})) -ge $READY_DELAY ] || continue
			ts=$(date -u +%Y-%m-%dT%H:%M:%SZ)
			curl -sf -XPATCH -H 'Content-Type: application/merge-patch+json' \
				"$URL/api/v1/namespaces/$ns/pods/$name/status" \
				-d "{\"status\":{\"phase\":\"Running\",\"startTime\":\"$ts\",
				     \"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"True\"},
				       {\"type\":\"Initialized\",\"status\":\"True\"},
				       {\"type\":\"ContainersReady\",\"status\":\"True\",\"lastTransitionTime\":\"$ts\"},
				       {\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"$ts\"}],
				     \"containerStatuses\":[{\"name\":\"c\",\"ready\":true,\"started\":true,
				       \"restartCount\":0,\"image\":\"$image\",\"imageID\":\"\",
				       \"state\":{\"running\":{\"startedAt\":\"$ts\"}}}]}}" >/dev/null || true
		done < <(jq -r '.items[] | select((.spec.nodeName // "") != "" and .metadata.deletionTimestamp == null
			and (.status.phase // "") != "Running")
			| [.metadata.namespace, .metadata.name, .metadata.uid, .spec.containers[0].image] | @tsv' <<<"$pods")
		# Stop: finish graceful deletions half a second later.
		while IFS=$'\t' read -r ns name uid; do
			[ -n "${first_deleting[$uid]:-}" ] || { first_deleting[$uid]=$now; continue; }
			curl -sf -XDELETE -H 'Content-Type: application/json' \
				"$URL/api/v1/namespaces/$ns/pods/$name" \
				-d "{\"gracePeriodSeconds\":0,\"preconditions\":{\"uid\":\"$uid\"}}" >/dev/null || true
		done < <(jq -r '.items[] | select(.metadata.deletionTimestamp != null)
			| [.metadata.namespace, .metadata.name, .metadata.uid] | @tsv' <<<"$pods")
		sleep 0.3
	done
}
fake_nodes >"$dir/fake-nodes.log" 2>&1 &
defer stop_pid $!

# ---------------------------------------------------------------- helpers

# Pods of app=$1 that are not being deleted, ready ones, and ready ones with image $2.
live_pods() {
	kubectl get pods -l "app=$1" -o json |
		jq '[.items[] | select(.metadata.deletionTimestamp == null)] | length'
}
ready_pods() {
	kubectl get pods -l "app=$1" -o json | jq --arg img "${2:-}" '[.items[]
		| select(.metadata.deletionTimestamp == null)
		| select($img == "" or .spec.containers[0].image == $img)
		| select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length'
}
count_is() { [ "$("$@" | tail -1)" = "$EXPECT" ]; }
expect_pods() { # app want_live want_ready [image] [seconds]
	EXPECT=$2 wait_for "${5:-60}" count_is live_pods "$1" &&
		EXPECT=$3 wait_for "${5:-60}" count_is ready_pods "$1" "${4:-}" ||
		{
			kubectl get deploy,rs,pods -o wide
			tail -40 "$dir/cm.log"
			fail "app=$1: want $2 live / $3 ready ${4:-} pods, have $(live_pods "$1") / $(ready_pods "$1" "${4:-}")"
		}
}

# Watch pods of app=$1 from now on into $dir/$2.{list,watch}.
start_pod_watch() {
	local rv
	curl -sf "$URL/api/v1/namespaces/default/pods?labelSelector=app%3D$1" >"$dir/$2.list"
	rv=$(jq -r .metadata.resourceVersion "$dir/$2.list")
	curl -sN "$URL/api/v1/namespaces/default/pods?watch=1&labelSelector=app%3D$1&resourceVersion=$rv" \
		>"$dir/$2.watch" &
	watch_pid=$!
	defer stop_pid "$watch_pid"
}

# Replay the watch: at every event, live pods <= $2 and ready live pods >= $3.
check_pod_watch() {
	local name=$1 max_live=$2 min_ready=$3 out
	stop_pid "$watch_pid"
	out=$(jq -n --slurpfile init "$dir/$name.list" --slurpfile ev "$dir/$name.watch" \
		--argjson max_live "$max_live" --argjson min_ready "$min_ready" '
		def live: [.[] | select(.metadata.deletionTimestamp == null)];
		def ready: [.[] | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))];
		reduce ($ev[] | select(.type != "BOOKMARK")) as $e (
			{pods: ($init[0].items | map({key: .metadata.name, value: .}) | from_entries),
			 events: 0, max_live: 0, min_ready: 1000000, bad: []};
			(if $e.type == "DELETED" then .pods |= del(.[$e.object.metadata.name])
			 else .pods[$e.object.metadata.name] = $e.object end)
			| ([.pods[]] | live) as $l | ($l | length) as $n | ($l | ready | length) as $r
			| .events += 1 | .max_live = ([.max_live, $n] | max) | .min_ready = ([.min_ready, $r] | min)
			| if $n > $max_live or $r < $min_ready
			  then .bad += [{event: $e.type, pod: $e.object.metadata.name, live: $n, ready: $r}]
			  else . end)
		| del(.pods)')
	echo "$name: $out"
	[ "$(jq '.bad | length' <<<"$out")" = 0 ] || fail "$name: bounds violated: $out"
	[ "$(jq .events <<<"$out")" -gt 10 ] || fail "$name: too few events to judge: $out"
}

rollout_status() { # deploy|ds name: run kubectl rollout status, then check the state at once
	kubectl rollout status "$1/$2" --timeout=120s >"$dir/rollout.out" 2>&1 ||
		{ cat "$dir/rollout.out"; kubectl get "$1/$2" -o yaml; fail "rollout status $1/$2 failed"; }
}

# Done means: every live pod has the new image and is ready, and there are exactly $3 of them.
assert_rolled_out() { # app image replicas
	local state
	state=$(kubectl get pods -l "app=$1" -o json | jq -c --arg img "$2" '[.items[]
		| select(.metadata.deletionTimestamp == null)
		| {img: .spec.containers[0].image,
		   ready: any(.status.conditions[]?; .type == "Ready" and .status == "True")}]
		| {live: length, new_ready: map(select(.img == $img and .ready)) | length}')
	[ "$state" = "{\"live\":$3,\"new_ready\":$3}" ] ||
		fail "rollout status returned early: pods $state, want $3 ready with $2"
}

rs_count() { kubectl get rs -l "app=$1" -o json | jq '.items | length'; }

# ---------------------------------------------------------------- Deployment

kubectl create deployment web --image=nginx:1 --replicas=4 >/dev/null
kubectl patch deployment web --type=merge \
	-p '{"spec":{"strategy":{"rollingUpdate":{"maxSurge":2,"maxUnavailable":1}}}}' >/dev/null
expect_pods web 4 4 nginx:1
rollout_status deployment web
echo "deployment of 4: 4 ready pods"
[ "$(rs_count web)" = 1 ] || fail "want one ReplicaSet"
rs1=$(kubectl get rs -l app=web -o jsonpath='{.items[0].metadata.name}')
hash=$(kubectl get rs "$rs1" -o jsonpath='{.metadata.labels.pod-template-hash}')
[ "$rs1" = "web-$hash" ] || fail "ReplicaSet $rs1 is not named after its hash $hash"
[ "$(kubectl get pods -l app=web,pod-template-hash="$hash" -o name | wc -l)" = 4 ] ||
	fail "pods lack the pod-template-hash label"
kubectl get events --field-selector reason=ScalingReplicaSet -o jsonpath='{.items[*].message}' |
	grep -q "Scaled up replica set $rs1 from 0 to 4" || fail "no ScalingReplicaSet event"

# Rolling update with the pod watch running: live <= 4+2, ready >= 4-1.
start_pod_watch web roll1
kubectl set image deployment/web nginx=nginx:2 >/dev/null
rollout_status deployment web
assert_rolled_out web nginx:2 4
check_pod_watch roll1 6 3
[ "$(rs_count web)" = 2 ] || fail "want two ReplicaSets after one rollout"
[ "$(kubectl get deploy web -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')" = 2 ] ||
	fail "deployment revision is not 2"
kubectl get deploy web -o json | jq -e '.status | .replicas == 4 and .updatedReplicas == 4 and
	.readyReplicas == 4 and .availableReplicas == 4 and (.unavailableReplicas // 0) == 0 and
	(.conditions | any(.type == "Available" and .status == "True")) and
	(.conditions | any(.type == "Progressing" and .reason == "NewReplicaSetAvailable"))' >/dev/null ||
	fail "deployment status after rollout: $(kubectl get deploy web -o jsonpath='{.status}')"
echo "rolling update nginx:1 -> nginx:2 within maxSurge 2 / maxUnavailable 1"

# Undo: back to nginx:1 through the first ReplicaSet, now revision 3.
start_pod_watch web undo
kubectl rollout undo deployment/web >/dev/null
rollout_status deployment web
assert_rolled_out web nginx:1 4
check_pod_watch undo 6 3
[ "$(rs_count web)" = 2 ] || fail "undo created a new ReplicaSet instead of reusing $rs1"
[ "$(kubectl get rs "$rs1" -o jsonpath='{.spec.replicas}')" = 4 ] || fail "$rs1 was not scaled back up"
[ "$(kubectl get rs "$rs1" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')" = 3 ] ||
	fail "$rs1 did not get revision 3"
kubectl rollout history deployment/web | grep -q '^3 ' || fail "rollout history lacks revision 3"
echo "rollout undo: back to nginx:1 on $rs1, revision 3"

# Scale up and down.
kubectl scale deployment web --replicas=7 >/dev/null
expect_pods web 7 7 nginx:1
rollout_status deployment web
kubectl scale deployment web --replicas=2 >/dev/null
expect_pods web 2 2 nginx:1
rollout_status deployment web
echo "scaled 4 -> 7 -> 2"

# Recreate: every old pod is gone before the first new one exists.
kubectl patch deployment web --type=merge \
	-p '{"spec":{"strategy":{"type":"Recreate","rollingUpdate":null}}}' >/dev/null
start_pod_watch web recreate
kubectl set image deployment/web nginx=nginx:3 >/dev/null
rollout_status deployment web
assert_rolled_out web nginx:3 2
stop_pid "$watch_pid"
jq -s 'map(select(.type != "BOOKMARK")) | (map(.type == "ADDED" and .object.spec.containers[0].image == "nginx:3")
	| index(true)) as $first_new
	| (map(.type == "DELETED" and .object.spec.containers[0].image == "nginx:1") | rindex(true)) as $last_old
	| $first_new != null and $last_old != null and $last_old < $first_new' "$dir/recreate.watch" |
	grep -q true || fail "Recreate created a new pod before the old ones were gone"
echo "Recreate: old pods gone before new ones"

# Cascading deletes through the garbage collector.
kubectl delete deployment web >/dev/null
wait_for 60 sh -c '[ "$(kubectl get rs,pods -l app=web -o name | wc -l)" = 0 ]' ||
	{ kubectl get rs,pods -l app=web; fail "background delete of the Deployment left ReplicaSets or pods"; }
echo "delete (background): ReplicaSets and pods collected"
kubectl create deployment fg --image=nginx:1 --replicas=2 >/dev/null
expect_pods fg 2 2 nginx:1
kubectl delete deployment fg --cascade=foreground --wait=false >/dev/null
wait_for 60 sh -c '! kubectl get deployment fg >/dev/null 2>&1' ||
	{ kubectl get deploy fg -o yaml; fail "foreground delete did not finish"; }
[ "$(kubectl get rs,pods -l app=fg -o name | wc -l)" = 0 ] ||
	fail "foreground delete removed the Deployment before its dependents"
echo "delete (foreground): dependents first, then the Deployment"

# ---------------------------------------------------------------- DaemonSet

kubectl apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: default}
spec:
  selector: {matchLabels: {app: agent}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: c, image: agent:1}]}
EOF
expect_pods agent 2 2 agent:1
for n in node-a node-b; do
	[ "$(kubectl get pods -l app=agent --field-selector spec.nodeName=$n -o name | wc -l)" = 1 ] ||
		fail "want one agent pod on $n"
done
add_node node-c
expect_pods agent 3 3 agent:1
[ "$(kubectl get pods -l app=agent --field-selector spec.nodeName=node-c -o name | wc -l)" = 1 ] ||
	fail "no agent pod on the new node"
kubectl get pods -l app=agent -o json | jq -e 'all(.items[]; .spec.affinity.nodeAffinity
	.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values[0]
	== .spec.nodeName)' >/dev/null || fail "agent pods are not pinned by node affinity"
rollout_status ds agent
kubectl get ds agent -o json | jq -e '.status | .desiredNumberScheduled == 3 and
	.currentNumberScheduled == 3 and .numberReady == 3 and .numberAvailable == 3 and
	.updatedNumberScheduled == 3 and (.numberMisscheduled // 0) == 0' >/dev/null ||
	fail "daemonset status: $(kubectl get ds agent -o jsonpath='{.status}')"
echo "daemonset: one pod per node, followed node-c"

start_pod_watch agent dsroll
kubectl set image ds/agent c=agent:2 >/dev/null
rollout_status ds agent
assert_rolled_out agent agent:2 3
check_pod_watch dsroll 3 2
echo "daemonset rolling update within maxUnavailable 1"
kubectl delete ds agent >/dev/null
wait_for 60 sh -c '[ "$(kubectl get pods -l app=agent -o name | wc -l)" = 0 ]' ||
	fail "daemon pods were not collected"
grep -q "ERROR" "$dir/cm.log" && { grep ERROR "$dir/cm.log" | head; fail "controller manager logged errors"; }
echo "ok"
