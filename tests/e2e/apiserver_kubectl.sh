#!/bin/bash
# capstan-apiserver driven by the real kubectl (the dispatcher on PATH picks
# kubectl 1.32 from the server's /version): protobuf creates, get in every
# output form, watch, apply/diff, the three patch types, label, annotate,
# scale, replace with a stale resourceVersion, delete with propagation,
# describe, api-resources, get all, chunked lists, errors as Status
# messages, and a server restart in the middle that loses nothing.
source "$(dirname "$0")/../harness/lib.sh"
command -v kubectl >/dev/null || skip "kubectl is not installed"

scratch dir
data=$dir/data
log=$dir/apiserver.log

start_server() { # [port]
	"$BUILD/bin/capstan-apiserver" --data-dir "$data" --listen "127.0.0.1:${1:-0}" \
		--unsafe-no-fsync --v=4 >>"$log" 2>&1 &
	server_pid=$!
	defer stop_pid "$server_pid"
	wait_for 20 grep -q "listening on http://" "$log" || { cat "$log"; fail "apiserver did not start"; }
	url=$(grep -o 'listening on http://[0-9.:]*' "$log" | tail -1 | awk '{print $3}')
	port=${url##*:}
}
start_server
k() { kubectl --server "$url" "$@"; }
expect() { # expect "what" "needle" "haystack"
	grep -qF -- "$2" <<<"$3" || fail "$1: expected '$2' in:
$3"
}

# Discovery and version.
out=$(k version -o json)
expect "server version" '"minor": "32"' "$out"
out=$(k api-resources)
for r in "pods *po *v1 *true *Pod" "deployments *deploy *apps/v1 *true *Deployment" \
	"endpointslices *discovery.k8s.io/v1" "leases *coordination.k8s.io/v1" "nodes *no *v1 *false"; do
	grep -qE "^$r" <<<"$out" || fail "api-resources lacks '$r':
$out"
done
k get namespaces -o name | grep -qx namespace/kube-system || fail "bootstrap namespaces missing"
out=$(k get svc kubernetes -o jsonpath='{.spec.clusterIP} {.spec.ports[0].port}')
[ "$out" = "10.96.0.1 443" ] || fail "kubernetes service: $out"

# Creates that kubectl 1.32 sends as protobuf.
k create namespace e2e >/dev/null
k -n e2e create deployment web --image=capstan.local/httpd:1 --replicas=2 --port=8080 >/dev/null
k -n e2e create service clusterip web --tcp=80:8080 >/dev/null
k -n e2e create service nodeport np --tcp=81:8080 --node-port=30081 >/dev/null
k -n e2e create configmap cm1 --from-literal=a=1 --from-literal=b=2 >/dev/null
grep -qE "POST /apis/apps/v1/namespaces/e2e/deployments(\?[^ ]*)? -> 201" "$log" || fail "deployment create not logged"
out=$(k -n e2e get deployment web -o jsonpath='{.spec.replicas} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort} {.spec.strategy.type} {.metadata.generation}')
[ "$out" = "2 capstan.local/httpd:1 8080 RollingUpdate 1" ] || fail "deployment fields: $out"
out=$(k -n e2e get svc np -o jsonpath='{.spec.type} {.spec.ports[0].nodePort} {.spec.clusterIP}')
[[ $out == "NodePort 30081 10."* ]] || fail "nodeport service: $out"
out=$(k -n e2e get cm cm1 -o jsonpath='{.data.a}{.data.b}')
[ "$out" = 12 ] || fail "configmap data: $out"

# get: server-side tables, wide, yaml, name.
out=$(k -n e2e get deployments)
expect "deployment table" "NAME   READY   UP-TO-DATE   AVAILABLE   AGE" "$out"
expect "deployment row" "web    0/2" "$out"
out=$(k -n e2e get svc -o wide)
expect "service table" "CLUSTER-IP" "$out"
expect "nodeport ports" "81:30081/TCP" "$out"
expect "service selector" "app=np" "$out"
out=$(k -n e2e get deploy web -o yaml)
expect "yaml" "kind: Deployment" "$out"
expect "yaml" "resourceVersion:" "$out"
out=$(k -n e2e get all)
expect "get all" "service/web" "$out"
expect "get all" "deployment.apps/web" "$out"

# apply: new, unchanged, changed; diff.
cat >"$dir/pod.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: p1
  namespace: e2e
  labels: {app: p}
spec:
  containers:
  - name: c
    image: capstan.local/busybox:1
    command: ["sleep", "3600"]
    env:
    - {name: A, value: "1"}
YAML
out=$(k apply -f "$dir/pod.yaml")
expect "apply new" "pod/p1 created" "$out"
out=$(k apply -f "$dir/pod.yaml")
expect "apply unchanged" "pod/p1 unchanged" "$out"
sed -i 's/app: p}/app: p, tier: x}/' "$dir/pod.yaml"
set +e
out=$(k diff -f "$dir/pod.yaml" 2>&1)
rc=$?
set -e
[ $rc -eq 1 ] || fail "kubectl diff exit $rc: $out"
expect "diff" "+    tier: x" "$out"
out=$(k apply -f "$dir/pod.yaml")
expect "apply changed" "pod/p1 configured" "$out"
[ "$(k -n e2e get pod p1 -o jsonpath='{.metadata.labels.tier}')" = x ] || fail "apply did not set the label"
# Strict field validation: a typo is refused with the field's path.
sed 's/image:/imagee:/' "$dir/pod.yaml" >"$dir/typo.yaml"
set +e
out=$(k apply -f "$dir/typo.yaml" 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] || fail "apply with an unknown field succeeded"
expect "strict decoding" 'unknown field "spec.containers[0].imagee"' "$out"

# patch: strategic (merge env by name), merge, json.
k -n e2e patch deployment web -p '{"spec":{"template":{"spec":{"containers":[{"name":"httpd","env":[{"name":"X","value":"1"}]}]}}}}' >/dev/null
out=$(k -n e2e get deploy web -o jsonpath='{.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[0].name} {.metadata.generation}')
[ "$out" = "capstan.local/httpd:1 X 2" ] || fail "strategic patch: $out"
k -n e2e patch cm cm1 --type=merge -p '{"data":{"a":null,"c":"3"}}' >/dev/null
[ "$(k -n e2e get cm cm1 -o jsonpath='{.data}')" = '{"b":"2","c":"3"}' ] || fail "merge patch"
k -n e2e patch cm cm1 --type=json -p '[{"op":"replace","path":"/data/b","value":"22"},{"op":"add","path":"/data/d","value":"4"}]' >/dev/null
[ "$(k -n e2e get cm cm1 -o jsonpath='{.data.b}{.data.d}')" = 224 ] || fail "json patch"
set +e
out=$(k -n e2e patch cm cm1 --type=json -p '[{"op":"test","path":"/data/b","value":"nope"}]' 2>&1)
set -e
expect "failed json patch test" "The request is invalid" "$out"

# label, annotate, scale, set image.
k -n e2e label deployment web team=net >/dev/null
k -n e2e annotate deployment web note=hello >/dev/null
out=$(k -n e2e get deploy web -o jsonpath='{.metadata.labels.team} {.metadata.annotations.note}')
[ "$out" = "net hello" ] || fail "label/annotate: $out"
k -n e2e label deployment web team- >/dev/null
[ -z "$(k -n e2e get deploy web -o jsonpath='{.metadata.labels.team}')" ] || fail "label removal"
k -n e2e scale deployment web --replicas=5 >/dev/null
[ "$(k -n e2e get deploy web -o jsonpath='{.spec.replicas}')" = 5 ] || fail "scale"
k -n e2e set image deployment/web httpd=capstan.local/httpd:2 >/dev/null
[ "$(k -n e2e get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}')" = capstan.local/httpd:2 ] || fail "set image"

# replace with a stale resourceVersion: 409 Conflict.
k -n e2e get cm cm1 -o json >"$dir/cm1.json"
k -n e2e patch cm cm1 --type=merge -p '{"data":{"e":"5"}}' >/dev/null
set +e
out=$(k replace -f "$dir/cm1.json" 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] || fail "stale replace succeeded"
expect "conflict" "the object has been modified; please apply your changes to the latest version and try again" "$out"

# Errors are Status messages.
set +e
out=$(k -n e2e get pod nope 2>&1)
expect "not found" 'Error from server (NotFound): pods "nope" not found' "$out"
out=$(k -n e2e create configmap cm1 2>&1)
expect "already exists" 'configmaps "cm1" already exists' "$out"
out=$(k -n e2e create deployment Bad_Name --image=x 2>&1)
expect "invalid" 'is invalid: metadata.name: Invalid value: "Bad_Name"' "$out"
out=$(k get pods -n nope-ns 2>&1)
set -e

# describe.
out=$(k -n e2e describe deployment web)
expect "describe" "Name:                   web" "$out"
expect "describe" "Replicas:" "$out"

# Chunked lists.
for i in 1 2 3 4 5; do k -n e2e create configmap chunk-$i --from-literal=i=$i >/dev/null; done
out=$(k -n e2e get cm --chunk-size=2 -o name | grep -c chunk-)
[ "$out" = 5 ] || fail "chunked list returned $out of 5"
grep -qE "GET /api/v1/namespaces/e2e/configmaps\?continue=[A-Za-z0-9_-]+&limit=2 " "$log" || fail "no continue request seen"

# watch: kubectl get -w prints a create as it happens.
timeout 15 kubectl --server "$url" -n e2e get cm -w >"$dir/watch.out" 2>&1 &
watch_pid=$!
wait_for 10 grep -q "chunk-5" "$dir/watch.out" || fail "watch did not list first"
k -n e2e create configmap watched --from-literal=x=y >/dev/null
wait_for 10 grep -q "^watched" "$dir/watch.out" || fail "watch did not show the new configmap: $(cat "$dir/watch.out")"
kill "$watch_pid" 2>/dev/null || true

# Delete with propagation: foreground waits on its finalizer, background goes.
out=$(k -n e2e delete deployment web --cascade=foreground --wait=false)
expect "foreground delete" 'deployment.apps "web" deleted' "$out"
out=$(k -n e2e get deploy web -o jsonpath='{.metadata.finalizers} {.metadata.deletionTimestamp}')
[[ $out == '["foregroundDeletion"] 20'* ]] || fail "foreground deletion state: $out"
k -n e2e delete configmap chunk-1 >/dev/null
set +e
k -n e2e get cm chunk-1 >/dev/null 2>&1 && fail "background delete left the object"
set -e

# Restart: every acknowledged write is still there, revisions keep growing.
rv_before=$(k -n e2e get cm cm1 -o jsonpath='{.metadata.resourceVersion}')
stop_pid "$server_pid"
start_server "$port"
[ "$(k -n e2e get cm cm1 -o jsonpath='{.metadata.resourceVersion}')" = "$rv_before" ] || fail "resourceVersion changed across restart"
[ "$(k -n e2e get cm -o name | grep -c chunk-)" = 4 ] || fail "objects lost across restart"
k -n e2e create configmap after-restart >/dev/null
rv_after=$(k -n e2e get cm after-restart -o jsonpath='{.metadata.resourceVersion}')
[ "$rv_after" -gt "$rv_before" ] || fail "revision went backwards: $rv_after <= $rv_before"
[ "$(k -n e2e get svc np -o jsonpath='{.spec.ports[0].nodePort}')" = 30081 ] || fail "service lost"
# The node port is still held after the restart: asking for it again fails.
set +e
out=$(k -n e2e create service nodeport np2 --tcp=82:8080 --node-port=30081 2>&1)
set -e
expect "node port held" "provided port is already allocated" "$out"
echo "kubectl drove capstan-apiserver through $(grep -c ' -> ' "$log") requests"
