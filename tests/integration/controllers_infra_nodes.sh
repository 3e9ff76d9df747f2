#!/bin/bash
# Node IPAM and node lifecycle against the real API server, with the test
# playing the kubelets of three nodes:
#   - every node gets its own /24 of --cluster-cidr, a pre-set podCIDR is
#     kept and never handed out again, a deleted node's range is released;
#   - a node whose Lease stops being renewed gets its conditions set to
#     Unknown (NodeStatusUnknown) and the unreachable taints (NoSchedule
#     and NoExecute) after the grace period (--node-monitor-grace-period=3s),
#     its ready pods are marked not ready;
#   - on that node, a pod tolerating unreachable for 2 s is evicted after
#     about 2 s (with a TaintManagerEviction Event), one with the default
#     300 s toleration is not, and a pod without any toleration for a
#     user's NoExecute taint goes at once;
#   - the node coming back (renewals, Ready posted) loses the taints.
source "$(dirname "$0")/controllers_infra.bash"

start_apiserver
# Pre-existing assignment: n0 already carries 10.244.0.0/24.
api POST /api/v1/nodes '{"apiVersion":"v1","kind":"Node","metadata":{"name":"n0"},"spec":{"podCIDR":"10.244.0.0/24","podCIDRs":["10.244.0.0/24"]}}' >/dev/null
start_cm --node-monitor-grace-period=3s --cluster-cidr=10.244.0.0/16 --node-cidr-mask-size=24
finish_loop

cidr_of() { k get node "$1" -o jsonpath='{.spec.podCIDR}'; }
has_cidr() { [ -n "$(cidr_of "$1")" ]; }
for n in n1 n2 n3; do
	node_up "$n"
done
renew_loop n1
n1_renew=$renew_pid
renew_loop n2
renew_loop n3
for n in n1 n2 n3; do
	wait_for 10 has_cidr "$n" || fail "$n got no podCIDR"
done
cidrs=$(k get nodes -o json | jq -r '[.items[].spec.podCIDR] | sort | join(" ")')
[ "$(tr ' ' '\n' <<<"$cidrs" | sort -u | wc -l)" = 4 ] || fail "podCIDRs not distinct: $cidrs"
[ "$(cidr_of n0)" = 10.244.0.0/24 ] || fail "n0's podCIDR changed: $(cidr_of n0)"
for n in n1 n2 n3; do
	[[ $(cidr_of "$n") =~ ^10\.244\.[0-9]+\.0/24$ ]] || fail "$n: $(cidr_of "$n") is not a /24 of 10.244.0.0/16"
	[ "$(k get node "$n" -o jsonpath='{.spec.podCIDRs[0]}')" = "$(cidr_of "$n")" ] || fail "$n: podCIDRs"
done
# A deleted node's range is free again; a new node still gets a distinct one.
k delete node n0 >/dev/null
node_up n4
wait_for 10 has_cidr n4 || fail "n4 got no podCIDR"
[ "$(k get nodes -o json | jq -r '[.items[].spec.podCIDR] | unique | length')" = 4 ] || fail "duplicate podCIDR after a release"
k delete node n4 >/dev/null

# Pods on n1: a short toleration, the default (300 s), and one that is ready.
pod() { # NAME TOLERATIONS-JSON
	jq -cn --arg name "$1" --argjson tol "$2" \
		'{apiVersion: "v1", kind: "Pod", metadata: {name: $name},
		  spec: {nodeName: "n1", tolerations: $tol,
			 containers: [{name: "c", image: "capstan.local/pause:1"}]}}' | k create -f - >/dev/null
}
pod short '[{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":2}]'
pod patient '[]'
pod_status default patient 10.244.7.7 True
[ "$(k get pod patient -o jsonpath='{.spec.tolerations[?(@.key=="node.kubernetes.io/unreachable")].tolerationSeconds}')" = 300 ] ||
	fail "the API server did not add the default toleration"

# Healthy for longer than the grace period: no taint.
sleep 4
[ "$(k get node n1 -o jsonpath='{.spec.taints}')" = "" ] || fail "healthy n1 tainted: $(k get node n1 -o jsonpath='{.spec.taints}')"

# n1's kubelet dies: no more renewals.
kill "$n1_renew"
t0=$(date +%s%N)
taints_of() { k get node "$1" -o json | jq -c '[.spec.taints[]? | "\(.key):\(.effect)"] | sort'; }
tainted() {
	[ "$(taints_of n1)" = '["node.kubernetes.io/unreachable:NoExecute","node.kubernetes.io/unreachable:NoSchedule"]' ]
}
wait_for 15 tainted || fail "n1 not tainted: $(taints_of n1)"
took=$(ms_since "$t0")
evicted() { [ -n "$(k get pod "$1" -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null)" ] || gone get pod "$1"; }
evicted short && fail "pod 'short' evicted before its 2 s toleration ran out"
[ "$took" -ge 2500 ] || fail "tainted after $took ms, before the 3 s grace period"
echo "n1 tainted $took ms after its last renewal"
ready=$(k get node n1 -o json | jq -c '.status.conditions[] | select(.type == "Ready") | [.status, .reason, .message]')
[ "$ready" = '["Unknown","NodeStatusUnknown","Kubelet stopped posting node status."]' ] || fail "n1 Ready: $ready"
k get node n1 -o json | jq -e '[.status.conditions[] | select(.type != "Ready") | .status] | length >= 3 and all(. == "Unknown")' >/dev/null ||
	fail "pressure conditions: $(k get node n1 -o jsonpath='{.status.conditions}')"
# The other nodes are fine.
[ "$(taints_of n2)" = '[]' ] || fail "n2 tainted: $(taints_of n2)"
# Its ready pod is marked not ready.
wait_for 5 bash -c "[ \"\$(kubectl --kubeconfig '$kc' get pod patient -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}')\" = False ]" ||
	fail "pod on the silent node still ready"

# The short toleration runs out about 2 s after the taint; the default one does not.
t1=$(date +%s%N)
wait_for 10 evicted short || fail "pod 'short' not evicted"
took=$(ms_since "$t1")
since_silent=$(ms_since "$t0")
echo "pod 'short' evicted $since_silent ms after n1 went silent ($took ms after the taint was seen)"
[ "$took" -le 4000 ] || fail "eviction took $took ms for a 2 s toleration"
# Silent for the 3 s grace, then tolerated for 2 s (the last renewal was <= 0.3 s before).
[ "$since_silent" -ge 4500 ] || fail "evicted $since_silent ms after the node went silent: too early"
k get events --field-selector reason=TaintManagerEviction -o json |
	jq -e '[.items[] | select(.involvedObject.name == "short") | .message] | index("Marking for deletion Pod default/short") != null' >/dev/null ||
	fail "no TaintManagerEviction event: $(k get events -o json | jq -c '[.items[] | [.reason, .message]]')"
evicted patient && fail "pod 'patient' (300 s toleration) evicted"

# A NoExecute taint nobody tolerates: the pod goes at once.
k taint node n2 dedicated=db:NoExecute >/dev/null
jq -cn '{apiVersion: "v1", kind: "Pod", metadata: {name: "intruder"},
	 spec: {nodeName: "n2", containers: [{name: "c", image: "capstan.local/pause:1"}]}}' | k create -f - >/dev/null 2>&1 || true
wait_for 5 evicted intruder || fail "pod on a node with an untolerated NoExecute taint not evicted"

# n1 comes back: renewals and a Ready status; the taints go.
node_up n1
renew_loop n1
wait_for 10 bash -c "[ \"\$(kubectl --kubeconfig '$kc' get node n1 -o jsonpath='{.spec.taints}')\" = '' ]" ||
	fail "n1 still tainted after recovery: $(taints_of n1)"
evicted patient && fail "pod 'patient' evicted although n1 recovered"
echo "node controllers ok"
