#!/bin/bash
# capstan-scheduler against the real capstan-apiserver, pods created with kubectl, Node
# objects only (no kubelet, no containerd): node selectors, taints and tolerations,
# resource requests (a pod too big stays Pending with upstream's PodScheduled message and
# a FailedScheduling event, then lands once a big enough node appears), required
# anti-affinity spreading replicas over nodes, a burst of 50 pods that must not overcommit
# any node, and a deleted pod making room for a pending one.
source "$(dirname "$0")/../harness/lib.sh"
command -v kubectl >/dev/null || skip "kubectl is not installed"
command -v jq >/dev/null || skip "jq is not installed"

scratch dir
apilog=$dir/apiserver.log
schedlog=$dir/scheduler.log
kc=$dir/kubeconfig

"$BUILD/bin/capstan-apiserver" --data-dir "$dir/data" --listen 127.0.0.1:0 --unsafe-no-fsync \
	>"$apilog" 2>&1 &
api_pid=$!
defer stop_pid "$api_pid"
wait_for 20 grep -q "listening on http://" "$apilog" || { cat "$apilog"; fail "apiserver did not start"; }
url=$(grep -o 'listening on http://[0-9.:]*' "$apilog" | awk '{print $3}')
write_kubeconfig "$kc" "$url"
k() { kubectl --kubeconfig "$kc" "$@"; }

# node NAME CPU LABELS-JSON [TAINTS-JSON]: a Node object, then its status as a kubelet would.
node() {
	k create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Node","metadata":{"name":"$1","labels":$3},"spec":{"taints":${4:-[]}}}
EOF
	k patch node "$1" --subresource=status --type=merge -p \
		"{\"status\":{\"capacity\":{\"cpu\":\"$2\",\"memory\":\"16Gi\",\"pods\":\"110\"},\"allocatable\":{\"cpu\":\"$2\",\"memory\":\"16Gi\",\"pods\":\"110\"}}}" >/dev/null
}
# pod NAME SPEC-JSON [LABELS-JSON]: SPEC may carry "resources" for the one container.
pod() {
	local labels='{}'
	[ $# -lt 3 ] || labels=$3
	jq -cn --arg name "$1" --argjson spec "$2" --argjson labels "$labels" \
		'{apiVersion: "v1", kind: "Pod", metadata: {name: $name, labels: $labels},
		  spec: ($spec + {containers: [{name: "c", image: "capstan.local/pause:1",
		                                resources: ($spec.resources // {})}]} | del(.resources))}' |
		k create -f - >/dev/null
}
node_of() { k get pod "$1" -o jsonpath='{.spec.nodeName}'; }
bound_to() { [ "$(node_of "$1")" = "$2" ]; }
is_bound() { [ -n "$(node_of "$1")" ]; }
condition_message() {
	k get pod "$1" -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].message}'
}
has_condition() { [ "$(condition_message "$1")" = "$2" ]; }
expect_pending() { # POD MESSAGE
	wait_for 15 has_condition "$1" "$2" || fail "$1: PodScheduled message '$(condition_message "$1")', want '$2'"
	[ -z "$(node_of "$1")" ] || fail "$1 was bound to $(node_of "$1")"
}

node n1 2 '{"kubernetes.io/hostname":"n1","zone":"a","disk":"ssd"}'
node n2 2 '{"kubernetes.io/hostname":"n2","zone":"b"}'
node n3 2 '{"kubernetes.io/hostname":"n3","zone":"c"}' '[{"key":"dedicated","value":"gpu","effect":"NoSchedule"}]'

"$BUILD/bin/capstan-scheduler" --kubeconfig "$kc" --v=4 >"$schedlog" 2>&1 &
sched_pid=$!
defer stop_pid "$sched_pid"
wait_for 20 grep -q "caches synced" "$schedlog" || { cat "$schedlog"; fail "scheduler did not sync"; }

# Node selector.
pod ssd '{"nodeSelector":{"disk":"ssd"}}'
wait_for 10 bound_to ssd n1 || fail "ssd pod on '$(node_of ssd)', want n1"
[ "$(k get pod ssd -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].status}')" = True ] ||
	fail "PodScheduled is not True after binding"
scheduled_event() {
	k get events --field-selector involvedObject.name=ssd,reason=Scheduled \
		-o jsonpath='{.items[*].message}' | grep -q 'Successfully assigned default/ssd to n1'
}
wait_for 10 scheduled_event || fail "no Scheduled event for ssd"

# Taints: tolerated goes to the tainted node, untolerated stays Pending.
pod gpu '{"nodeSelector":{"zone":"c"},"tolerations":[{"key":"dedicated","operator":"Equal","value":"gpu","effect":"NoSchedule"}]}'
wait_for 10 bound_to gpu n3 || fail "gpu pod on '$(node_of gpu)', want n3"
pod nogpu '{"nodeSelector":{"zone":"c"}}'
expect_pending nogpu "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 node(s) didn't match Pod's node affinity/selector."
k delete pod nogpu --grace-period=0 --force >/dev/null 2>&1

# Resources: too big for every node, then a big node appears.
pod big '{"resources":{"requests":{"cpu":"3","memory":"1Gi"}}}'
expect_pending big "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu."
[ "$(k get pod big -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].reason}')" = Unschedulable ] ||
	fail "PodScheduled reason is not Unschedulable"
events=$(k get events --field-selector involvedObject.name=big,reason=FailedScheduling -o json)
[ "$(jq -r '.items[0].source.component' <<<"$events")" = default-scheduler ] || fail "FailedScheduling event: $events"
[ "$(jq -r '.items[0].type' <<<"$events")" = Warning ] || fail "FailedScheduling event type: $events"
node n4 8 '{"kubernetes.io/hostname":"n4","zone":"a"}'
wait_for 30 bound_to big n4 || fail "big pod on '$(node_of big)' after n4 appeared, want n4"

# Required anti-affinity on the hostname: three replicas on three nodes, a fourth waits.
anti='{"affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"labelSelector":{"matchLabels":{"app":"spread"}},"topologyKey":"kubernetes.io/hostname"}]}}}'
for i in 1 2 3; do pod "spread-$i" "$anti" '{"app":"spread"}'; done
for i in 1 2 3; do wait_for 10 is_bound "spread-$i" || fail "spread-$i not scheduled"; done
hosts=$(for i in 1 2 3; do node_of "spread-$i"; echo; done | sort -u | wc -l)
[ "$hosts" = 3 ] || fail "anti-affinity replicas share nodes: $(for i in 1 2 3; do node_of spread-$i; echo -n ' '; done)"
pod spread-4 "$anti" '{"app":"spread"}'
expect_pending spread-4 "0/4 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 3 node(s) didn't match pod anti-affinity rules."

# A burst of 50 pods of 500m: free cpu is n1 2, n2 2, n4 8-3 = 5, so exactly 18 fit.
for i in $(seq 1 50); do
	echo "---"
	echo "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"burst-$i\",\"labels\":{\"app\":\"burst\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"capstan.local/pause:1\",\"resources\":{\"requests\":{\"cpu\":\"500m\"}}}]}}"
done >"$dir/burst.yaml"
k create -f "$dir/burst.yaml" >/dev/null
burst_bound() { k get pods -l app=burst -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | grep -c . || true; }
burst_settled() {
	[ "$(burst_bound)" = 18 ] &&
		[ "$(k get pods -l app=burst -o json | jq '[.items[] | select(.spec.nodeName == null and .status.conditions != null)] | length')" = 32 ]
}
wait_for 30 burst_settled || fail "burst: $(burst_bound) bound, want 18"
sleep 2
[ "$(burst_bound)" = 18 ] || fail "burst: $(burst_bound) bound after settling, want 18"
per_node=$(k get pods -l app=burst -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | grep . | sort | uniq -c | awk '{print $2"="$1}' | tr '\n' ' ')
for want in n1=4 n2=4 n4=10; do
	grep -qw "$want" <<<"$per_node" || fail "burst overcommits or underfills: $per_node (want n1=4 n2=4 n4=10)"
done
grep -q "n3=" <<<"$per_node" && fail "burst pod on the tainted node: $per_node"
msg=$(condition_message "$(k get pods -l app=burst -o json | jq -r '[.items[] | select(.spec.nodeName == null)][0].metadata.name')")
[ "$msg" = "0/4 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 3 Insufficient cpu." ] ||
	fail "pending burst pod message: $msg"

# Deleting a bound pod makes room: one pending burst pod takes its place.
victim=$(k get pods -l app=burst -o json | jq -r '[.items[] | select(.spec.nodeName == "n1")][0].metadata.name')
k delete pod "$victim" --grace-period=0 --force >/dev/null 2>&1
n1_count() { k get pods -l app=burst -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | grep -cx n1 || true; }
n1_full() { [ "$(n1_count)" = 4 ]; }
wait_for 30 n1_full || fail "no pending pod took the freed slot on n1 ($(n1_count) there)"
[ "$(burst_bound)" = 18 ] || fail "after the delete: $(burst_bound) bound, want 18"

grep -q "ERROR" "$schedlog" && { grep ERROR "$schedlog"; fail "scheduler logged errors"; }
echo "scheduler placed $(grep -c 'bound default/' "$schedlog") pods correctly"
