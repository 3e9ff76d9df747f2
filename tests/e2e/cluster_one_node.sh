#!/bin/bash
# A one-node cluster from `capstan up` (the code behind `make up`), driven by
# the real kubectl: the seed scenario (a Deployment of the HTTP test image,
# exposed, answering on its ClusterIP from the host and from another pod,
# and the kubernetes Service answering from a pod), everyday kubectl verbs,
# a multi-document apply and its update, a deleted pod replaced, scale to
# zero refusing connections at once, and every component restarted in turn
# under a loop of requests that must not see one failure.
source "$(dirname "$0")/../harness/lib.sh"
source "$(dirname "$0")/../harness/cluster.sh"

capstan=$BUILD/bin/capstan
cluster_up
sup=$(cat "$CLUSTER_DATA/supervisor.pid")

expect() { # expect "what" "needle" "haystack"
	grep -qF -- "$2" <<<"$3" || fail "$1: expected '$2' in:
$3"
}

# The node, and `capstan up` a second time is harmless.
out=$(kubectl get nodes)
grep -qE '^node1 +Ready ' <<<"$out" || fail "node1 not Ready: $out"
out=$("$capstan" up --data-dir "$CLUSTER_DATA")
expect "second up" "already running (supervisor $sup)" "$out"
[ "$(cat "$CLUSTER_DATA/supervisor.pid")" = "$sup" ] || fail "second up replaced the supervisor"
out=$("$capstan" status --data-dir "$CLUSTER_DATA")
for c in apiserver controller-manager scheduler registry node1-containerd node1-kubelet node1-agent; do
	grep -qE "^  $c +pid [0-9]+" <<<"$out" || fail "status lacks $c: $out"
done

# ---------------------------------------------------------------- seed scenario
kubectl create deployment web --image=capstan.local/httpd:1 --replicas=3 >/dev/null
kubectl expose deployment web --port=80 >/dev/null
kubectl rollout status deployment/web --timeout=120s >/dev/null
ip=$(kubectl get service web -o jsonpath='{.spec.clusterIP}')
pods=$(kubectl get pods -l app=web -o jsonpath='{.items[*].metadata.name}')
[ "$(wc -w <<<"$pods")" -eq 3 ] || fail "pods: $pods"

three_backends() { [ "$("$capstan" lb list | grep -c -- "-> 10.244.")" -eq 3 ]; }
wait_for 20 three_backends || fail "datapath: $("$capstan" lb list)"
# From the host: every answer from one of the pods, all three seen.
answers=$(for i in $(seq 30); do curl -sf -m 3 "http://$ip/" || echo FAILED; done)
grep -q FAILED <<<"$answers" && fail "requests from the host failed: $answers"
for p in $pods; do expect "answers spread over the pods" "$p" "$answers"; done
[ "$(sort -u <<<"$answers" | wc -l)" -eq 3 ] || fail "answers not from the 3 pods: $answers"
out=$("$capstan" lb list)
expect "lb list" "$ip:80/TCP" "$out"
# A NodePort on the node address (the host here): both views programmed, and
# the host's own connection translated by the socket hooks.
kubectl expose deployment web --name web-np --type=NodePort --port=80 >/dev/null
np=$(kubectl get service web-np -o jsonpath='{.spec.ports[0].nodePort}')
np_views() { [ "$("$capstan" lb list | grep -c "^172.31.0.1:$np/TCP")" -eq 2 ]; }
wait_for 20 np_views || fail "NodePort views: $("$capstan" lb list | grep -A3 "^172.31.0.1")"
"$capstan" lb list | grep -q "^172.31.0.1:$np/TCP .*\[nodeport\] \[external view\]" ||
	fail "no external view: $("$capstan" lb list | grep "^172.31.0.1")"
# (its EndpointSlice follows the Service: until then the port is refused)
wait_for 20 curl -sf -m 3 "http://172.31.0.1:$np/" || fail "NodePort from the host never answered"
answers=$(for i in $(seq 10); do curl -sf -m 3 "http://172.31.0.1:$np/" || echo FAILED; done)
grep -q FAILED <<<"$answers" && fail "NodePort from the host: $answers"
kubectl delete service web-np >/dev/null

# From inside another pod: by ClusterIP, by the service variables the kubelet
# sets, and the API through the kubernetes Service.
kubectl run client --image=capstan.local/busybox:1 --restart=Never --command -- sh -c "
	for i in 1 2 3 4 5 6; do timeout 5 wget -qO- http://$ip/; done
	timeout 5 wget -qO- http://\$WEB_SERVICE_HOST:\$WEB_SERVICE_PORT/
	timeout 5 wget -qO- http://\$KUBERNETES_SERVICE_HOST:\$KUBERNETES_SERVICE_PORT/version" >/dev/null
pod_wait_done client
out=$(kubectl logs client)
[ "$(grep -c '^web-' <<<"$out")" -eq 7 ] || fail "answers in the pod: $out"
expect "kubernetes Service from a pod" '"gitVersion":"v1.32' "$out"
kubectl delete pod client --wait=false >/dev/null

# ---------------------------------------------------------------- kubectl verbs
out=$(kubectl get deployment web -o wide)
expect "get -o wide" "capstan.local/httpd:1" "$out"
out=$(kubectl describe deployment web)
expect "describe deployment" "3 desired | 3 updated | 3 total | 3 available | 0 unavailable" "$out"
pod=$(kubectl get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
pod_ip=$(kubectl get pod "$pod" -o jsonpath='{.status.podIP}')
out=$(kubectl describe pod "$pod")
grep -qE '^Node: +node1/172\.31\.0\.1$' <<<"$out" || fail "describe pod: $out"
expect "describe pod events" "Started container httpd" "$out"
kubectl label pod "$pod" tier=gold >/dev/null
[ "$(kubectl get pods -l tier=gold -o name)" = "pod/$pod" ] || fail "label selector"

# logs and logs -f: httpd logs each request.
curl -sf -m 3 "http://$pod_ip/logs-marker" >/dev/null
out=$(kubectl logs "$pod")
expect "logs" "GET /logs-marker" "$out"
kubectl logs -f --tail=1 "$pod" >"$CLUSTER_DIR/follow.log" 2>&1 &
follow=$!
defer stop_pid "$follow"
for i in 1 2 3; do
	sleep 0.5
	curl -sf -m 3 "http://$pod_ip/followed-$i" >/dev/null
done
followed() { [ "$(grep -c 'GET /followed-' "$CLUSTER_DIR/follow.log")" -eq 3 ]; }
wait_for 10 followed || fail "logs -f: $(cat "$CLUSTER_DIR/follow.log")"
stop_pid "$follow"

# scale
kubectl scale deployment web --replicas=5 >/dev/null
kubectl rollout status deployment/web --timeout=60s >/dev/null
five_backends() { [ "$("$capstan" lb list | grep -c -- "-> 10.244.")" -eq 5 ]; }
wait_for 20 five_backends || fail "scale to 5: $("$capstan" lb list)"

# set image, rollout status, undo: httpd:2 answers "v2 <pod>".
kubectl set image deployment/web httpd=capstan.local/httpd:2 >/dev/null
kubectl rollout status deployment/web --timeout=120s >/dev/null
all_v2() {
	local a
	a=$(for i in $(seq 10); do curl -sf -m 3 "http://$ip/"; done)
	[ "$(grep -c '^v2 web-' <<<"$a")" -eq 10 ]
}
wait_for 30 all_v2 || fail "after set image: $(curl -s -m 3 "http://$ip/")"
out=$(kubectl rollout history deployment/web)
grep -qE '^2 +<none>' <<<"$out" || fail "rollout history: $out"
kubectl rollout undo deployment/web >/dev/null
kubectl rollout status deployment/web --timeout=120s >/dev/null
all_v1() {
	local a
	a=$(for i in $(seq 10); do curl -sf -m 3 "http://$ip/"; done)
	[ "$(grep -c '^web-' <<<"$a")" -eq 10 ]
}
wait_for 30 all_v1 || fail "after rollout undo: $(curl -s -m 3 "http://$ip/")"
[ "$(kubectl get deployment web -o jsonpath='{.spec.template.spec.containers[0].image}')" = \
	capstan.local/httpd:1 ] || fail "undo did not restore the image"

# A deleted pod is replaced; the service answers throughout the change.
victim=$(kubectl get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
kubectl delete pod "$victim" --wait=false >/dev/null
replaced() {
	local live
	live=$(kubectl get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.deletionTimestamp} {.status.phase}{"\n"}{end}' |
		awk 'NF == 2 && $2 == "Running" { print $1 }')
	[ "$(wc -w <<<"$live")" -eq 5 ] && ! grep -qw "$victim" <<<"$live"
}
wait_for 60 replaced || fail "pod $victim not replaced: $(kubectl get pods -l app=web)"
wait_for 20 five_backends || fail "endpoints after the replacement: $("$capstan" lb list)"
answers=$(for i in $(seq 10); do curl -sf -m 3 "http://$ip/" || echo FAILED; done)
grep -q FAILED <<<"$answers" && fail "service after the replacement: $answers"
grep -q "$victim" <<<"$answers" && fail "the deleted pod still answers"

# Scale to zero: connections are refused at once (not a timeout); back to 2.
kubectl scale deployment web --replicas=0 >/dev/null
refused() {
	local t0 rc=0
	t0=$(date +%s%N)
	curl -s -m 3 -o /dev/null "http://$ip/" || rc=$?
	[ $rc -eq 7 ] && [ $(($(date +%s%N) - t0)) -lt 500000000 ]
}
wait_for 30 refused || fail "scaled to 0 but not refused: $(curl -sv -m 3 "http://$ip/" 2>&1 | tail -3)"
kubectl scale deployment web --replicas=2 >/dev/null
kubectl rollout status deployment/web --timeout=60s >/dev/null
answers_again() { curl -sf -m 3 "http://$ip/" >/dev/null; }
wait_for 20 answers_again || fail "service did not come back after scaling up"

# ---------------------------------------------------------------- apply
cat >"$CLUSTER_DIR/app.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: banner
data:
  text: blue
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels: {app: shop}
      annotations: {config: "1"}
    spec:
      containers:
      - name: httpd
        image: capstan.local/httpd:1
        imagePullPolicy: Always
        env:
        - name: HTTPD_BANNER
          valueFrom:
            configMapKeyRef: {name: banner, key: text}
        readinessProbe:
          httpGet: {path: /ready, port: 80}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector: {app: shop}
  ports:
  - name: http
    port: 8080
    targetPort: 80
EOF
out=$(kubectl apply -f "$CLUSTER_DIR/app.yaml")
expect "apply" "configmap/banner created" "$out"
expect "apply" "deployment.apps/shop created" "$out"
expect "apply" "service/shop created" "$out"
kubectl rollout status deployment/shop --timeout=120s >/dev/null
shop=$(kubectl get service shop -o jsonpath='{.spec.clusterIP}')
banner_is() { [ "$(curl -sf -m 3 "http://$shop:8080/" | cut -d' ' -f1)" = "$1" ]; }
wait_for 20 banner_is blue || fail "shop: $(curl -s -m 3 "http://$shop:8080/")"
# The image came through the registry (imagePullPolicy: Always).
out=$(kubectl describe pod -l app=shop)
expect "pulled from the registry" "Successfully pulled image \"capstan.local/httpd:1\"" "$out"
# Update: a new ConfigMap value and template annotation; a second apply.
sed -i -e 's/text: blue/text: green/' -e 's/config: "1"/config: "2"/' "$CLUSTER_DIR/app.yaml"
out=$(kubectl apply -f "$CLUSTER_DIR/app.yaml")
expect "apply update" "configmap/banner configured" "$out"
expect "apply update" "deployment.apps/shop configured" "$out"
expect "apply update" "service/shop unchanged" "$out"
kubectl rollout status deployment/shop --timeout=120s >/dev/null
all_green() {
	local a
	a=$(for i in $(seq 6); do curl -sf -m 3 "http://$shop:8080/"; done)
	[ "$(grep -c '^green shop-' <<<"$a")" -eq 6 ]
}
wait_for 30 all_green || fail "shop after the update: $(curl -s -m 3 "http://$shop:8080/")"
[ "$(kubectl get deployment shop -o jsonpath='{.metadata.generation}')" = 2 ] || fail "generation"

# ---------------------------------------------------------------- restarts
# A bounded loop of requests (at most 3000, at most 150 s) runs while every
# component is restarted in turn; it must see no failure at all.
uids_before=$(kubectl get deployments,services,configmaps -o jsonpath='{range .items[*]}{.kind}/{.metadata.name}={.metadata.uid} {end}')
loop_log=$CLUSTER_DIR/loop.log
(
	end=$((SECONDS + 150))
	for i in $(seq 3000); do
		[ $SECONDS -lt $end ] && [ ! -e "$CLUSTER_DIR/loop.stop" ] || break
		if curl -sf -m 2 -o /dev/null "http://$shop:8080/"; then echo ok; else echo "FAILED at $(date +%T.%N)"; fi
		sleep 0.02
	done >"$loop_log"
) &
loop=$!
defer stop_pid "$loop"
sleep 1

cluster_restart apiserver
wait_for 30 kubectl get --raw /readyz || fail "apiserver did not come back"
uids_after=$(kubectl get deployments,services,configmaps -o jsonpath='{range .items[*]}{.kind}/{.metadata.name}={.metadata.uid} {end}')
[ "$uids_after" = "$uids_before" ] || fail "state changed across the apiserver restart:
before: $uids_before
after:  $uids_after"

cluster_restart scheduler
kubectl run after-scheduler --image=capstan.local/busybox:1 --restart=Never -- true >/dev/null
pod_wait_done after-scheduler

cluster_restart controller-manager
kubectl scale deployment shop --replicas=3 >/dev/null
kubectl rollout status deployment/shop --timeout=60s >/dev/null

cluster_restart node1-kubelet
sleep 3
cluster_restart node1-agent
sleep 3
# The restarted kubelet and agent still do their work.
kubectl scale deployment shop --replicas=2 >/dev/null
kubectl rollout status deployment/shop --timeout=60s >/dev/null
two_shop() { [ "$("$capstan" lb list | grep -A3 "$shop:8080" | grep -c -- "-> 10.244.")" -eq 2 ]; }
wait_for 20 two_shop || fail "agent after restart: $("$capstan" lb list)"

touch "$CLUSTER_DIR/loop.stop"
wait "$loop" || true
total=$(wc -l <"$loop_log")
[ "$total" -ge 100 ] || fail "the request loop ran only $total requests"
if grep -q FAILED "$loop_log"; then
	fail "$(grep -c FAILED "$loop_log") of $total requests failed during the restarts: $(grep FAILED "$loop_log" | head -5)"
fi
echo "restarts: $total requests, none failed"

# ---------------------------------------------------------------- delete, down
# Deleting the Deployment removes its pods; deleting the Service, its entry.
kubectl delete deployment web >/dev/null
kubectl delete service web >/dev/null
no_web() { [ -z "$(kubectl get pods -l app=web -o name)" ] && ! "$capstan" lb list | grep -q "$ip:80"; }
wait_for 60 no_web || fail "after delete: $(kubectl get pods -l app=web) $("$capstan" lb list)"

cluster_down_and_check
