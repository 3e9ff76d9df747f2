#!/bin/bash
# `capstan up --nodes 3`: three simulated nodes (network namespaces on the
# bridge capstan0, each with its own containerd, kubelet and agent). Pods
# spread over the nodes; pods reach pods on other nodes and services
# balance across nodes; a NodePort on one node reaches pods on every node
# (and with externalTrafficPolicy Local, its own); a node whose kubelet stops goes NotReady, its pods
# are evicted after their (shortened) toleration and recreated on the other
# nodes, and the service keeps answering throughout.
source "$(dirname "$0")/../harness/lib.sh"
source "$(dirname "$0")/../harness/cluster.sh"

capstan=$BUILD/bin/capstan
cluster_up --nodes 3 --node-grace-period 10

out=$(kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.spec.podCIDR} {.status.addresses[0].address}{"\n"}{end}')
for i in 1 2 3; do
	grep -qx "node$i 10.244.$i.0/24 172.31.0.$((10 + i))" <<<"$out" || fail "node$i: $out"
done

cat >"$CLUSTER_DIR/web.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 6
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 5}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 5}
      containers:
      - name: httpd
        image: capstan.local/httpd:1
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
EOF
kubectl apply -f "$CLUSTER_DIR/web.yaml" >/dev/null
kubectl rollout status deployment/web --timeout=120s >/dev/null
ip=$(kubectl get service web -o jsonpath='{.spec.clusterIP}')
placement() {
	kubectl get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName} {.status.podIP} {.metadata.deletionTimestamp}{"\n"}{end}'
}
pods=$(placement)
for i in 1 2 3; do
	grep -q " node$i 10.244.$i\." <<<"$pods" || fail "no web pod on node$i: $pods"
done

# Every node's datapath has the six backends.
six_backends() {
	local i
	for i in 1 2 3; do
		[ "$("$capstan" lb list --bpffs-dir "/sys/fs/bpf/capstan-node$i" | grep -c -- "-> 10.244.")" -eq 6 ] || return 1
	done
}
wait_for 20 six_backends || fail "datapath: $("$capstan" lb list --bpffs-dir /sys/fs/bpf/capstan-node1)"

# From a pod on node1: each web pod on the other nodes directly, then the
# service, which must answer from pods of all three nodes.
others=$(awk '$2 != "node1" { print $3 }' <<<"$pods" | tr '\n' ' ')
kubectl run client --image=capstan.local/busybox:1 --restart=Never \
	--overrides='{"apiVersion":"v1","spec":{"nodeSelector":{"kubernetes.io/hostname":"node1"}}}' \
	--command -- sh -c "
	for p in $others; do echo \"direct \$p \$(timeout 5 wget -qO- http://\$p/)\"; done
	for i in \$(seq 30); do echo \"service \$(timeout 5 wget -qO- http://$ip/)\"; done" >/dev/null
pod_wait_done client 90
[ "$(kubectl get pod client -o jsonpath='{.spec.nodeName}')" = node1 ] || fail "client not on node1"
out=$(kubectl logs client)
for p in $others; do
	name=$(awk -v ip="$p" '$3 == ip { print $1 }' <<<"$pods")
	grep -qx "direct $p $name" <<<"$out" || fail "pod-to-pod node1 -> $p ($name): $out"
done
[ "$(grep -c '^service web-' <<<"$out")" -eq 30 ] || fail "service from node1: $out"
every_node_answered() { # ANSWERS WHAT: some pod of each node is among ANSWERS
	local i name seen
	for i in 1 2 3; do
		seen=0
		for name in $(awk -v n="node$i" '$2 == n { print $1 }' <<<"$pods"); do
			grep -q "$name$" <<<"$1" && seen=1
		done
		[ $seen -eq 1 ] || fail "$2: no answer from node$i's pods: $1"
	done
}
every_node_answered "$(grep '^service ' <<<"$out")" "service from node1"

# A process on node2 itself (its cgroup and namespace) reaches the service too.
node_run 2 curl -sf -m 3 "http://$ip/" | grep -q '^web-' || fail "service from node2's host"

# ---------------------------------------------------------------- NodePort
# From the host, outside every node: node1's address at the NodePort reaches
# pods on all three nodes (node1's own directly, the others through SNAT),
# translated by node1's tc programs on its eth0.
kubectl patch service web -p '{"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":30080}]}}' >/dev/null
nodeport_answers() { # N: "NAME" per answer from 172.31.0.11:30080
	local i
	for i in $(seq "$1"); do curl -sf -m 2 http://172.31.0.11:30080/ || echo failed; done
}
wait_for 20 curl -sf -m 2 http://172.31.0.11:30080/ || fail "NodePort on node1 never answered"
out=$(nodeport_answers 30)
grep -q failed <<<"$out" && fail "NodePort requests failed: $out"
every_node_answered "$out" "NodePort on node1"
flows=$("$capstan" lb stats --bpffs-dir /sys/fs/bpf/capstan-node1 |
	awk '$1 == "172.31.0.11:30080/TCP" && $2 == "ext" { print $7 }')
[ "${flows:-0}" -ge 30 ] || fail "node1 counted ${flows:-no} NodePort flows"
# externalTrafficPolicy Local: node1's pods only.
kubectl patch service web -p '{"spec":{"externalTrafficPolicy":"Local"}}' >/dev/null
on_node1=$(awk '$2 == "node1" { print $1 }' <<<"$pods")
only_node1() {
	[ "$(nodeport_answers 10 | grep -cxF -f <(echo "$on_node1"))" -eq 10 ]
}
wait_for 20 only_node1 || fail "Local policy: answers from other nodes: $(nodeport_answers 10)"

# ---------------------------------------------------------------- node failure
# node3's kubelet stops (SIGSTOP: a hung kubelet; the supervisor does not
# restart it). A bounded request loop from node1 runs throughout.
loop_log=$CLUSTER_DIR/loop.log
(
	end=$((SECONDS + 120))
	for i in $(seq 4000); do
		[ $SECONDS -lt $end ] && [ ! -e "$CLUSTER_DIR/loop.stop" ] || break
		if a=$(node_run 1 curl -sf -m 2 "http://$ip/"); then echo "ok $a"; else echo "FAILED at $(date +%T.%N)"; fi
		sleep 0.05
	done >"$loop_log"
) &
loop=$!
defer stop_pid "$loop"

kubelet3=$(cluster_pid node3-kubelet)
kill -STOP "$kubelet3"
defer kill -CONT "$kubelet3"
on_node3=$(awk '$2 == "node3" { print $1 }' <<<"$pods")
not_ready() {
	[ "$(kubectl get node node3 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" != True ]
}
wait_for 60 not_ready || fail "node3 still Ready with its kubelet stopped"
evicted() {
	local now p
	now=$(placement)
	for p in $on_node3; do
		grep -qE "^$p node3 [0-9.]+ [0-9T:Z-]+$" <<<"$now" || return 1
	done
	[ "$(awk 'NF == 3 && $2 != "node3"' <<<"$now" | wc -l)" -eq 6 ]
}
wait_for 90 evicted || fail "node3's pods not evicted and recreated: $(placement)"
kubectl rollout status deployment/web --timeout=90s >/dev/null
out=$(kubectl get events --field-selector reason=TaintManagerEviction -o name | wc -l)
[ "$out" -ge 1 ] || fail "no TaintManagerEviction event"
# Once the agents drop the evicted endpoints only node1's and node2's pods answer.
survivors=$(placement | awk 'NF == 3 { print $1 }')
only_survivors() {
	local a
	a=$(for i in $(seq 10); do node_run 1 curl -sf -m 2 "http://$ip/"; done)
	[ "$(grep -cxF -f <(echo "$survivors") <<<"$a")" -eq 10 ]
}
wait_for 20 only_survivors || fail "service still answers from evicted pods"
touch "$CLUSTER_DIR/loop.stop"
wait "$loop" || true
total=$(wc -l <"$loop_log")
[ "$total" -ge 50 ] || fail "the request loop ran only $total requests"
if grep -q FAILED "$loop_log"; then
	fail "$(grep -c FAILED "$loop_log") of $total requests failed while node3 failed"
fi
echo "node failure: $total requests, none failed"

# The kubelet comes back: node3 Ready again, and it removes the evicted pods.
kill -CONT "$kubelet3"
ready_again() { ! not_ready; }
wait_for 60 ready_again || fail "node3 not Ready after its kubelet resumed"
gone() { [ "$(placement | grep -c ' node3 ')" -eq 0 ]; }
wait_for 60 gone || fail "evicted pods not removed by the resumed kubelet: $(placement)"

cluster_down_and_check
