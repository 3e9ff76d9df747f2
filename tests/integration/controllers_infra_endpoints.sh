#!/bin/bash
# EndpointSlice and Endpoints controllers against the real API server, with
# the test playing the kubelet: slices follow pod readiness (a pod turning
# unready leaves the ready set well within a second), terminating pods stay
# serving but not ready, named targetPorts resolve per pod (pods that
# resolve a name differently get slices of their own), the legacy Endpoints
# object packs addresses and notReadyAddresses, a selectorless Service is
# left alone, and deleting the Service removes its slices (garbage
# collector) and its Endpoints.
source "$(dirname "$0")/controllers_infra.bash"

start_apiserver
start_cm
node_up n1 '{"topology.kubernetes.io/zone":"zone-a"}'

# pod NAME IP [PORT-NAME PORT]: a pod of app=web bound to n1, running and ready.
pod() {
	jq -cn --arg name "$1" --arg pn "${3:-http}" --argjson port "${4:-8080}" \
		'{apiVersion: "v1", kind: "Pod", metadata: {name: $name, labels: {app: "web"}},
		  spec: {nodeName: "n1", containers: [{name: "c", image: "capstan.local/pause:1",
			ports: [{name: $pn, containerPort: $port}]}]}}' | k create -f - >/dev/null
	pod_status default "$1" "$2" True
}
# slices SVC: the Service's slices (curl, not kubectl: the readiness timing polls this).
slices() {
	api GET "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D$1"
}
# ready_set SVC: the sorted addresses whose endpoint is ready, comma-joined.
ready_set() {
	slices "$1" | jq -r '[.items[].endpoints[]? | select(.conditions.ready) | .addresses[0]] | sort | join(",")'
}
ready_is() { [ "$(ready_set "$1")" = "$2" ]; }

k create service clusterip web --tcp=80:8080 >/dev/null
k patch service web --type=merge -p '{"spec":{"selector":{"app":"web"}}}' >/dev/null
# No pods yet: one empty placeholder slice, an empty Endpoints.
wait_for 10 bash -c "[ \"\$(kubectl --kubeconfig '$kc' get endpointslices -l kubernetes.io/service-name=web -o name | wc -l)\" = 1 ]" ||
	fail "no placeholder slice: $(slices web)"
[ "$(slices web | jq '.items[0].endpoints | length')" = 0 ] || fail "placeholder has endpoints"
wait_for 10 k get endpoints web || fail "no Endpoints object"

pod a 10.244.0.11
pod b 10.244.0.12
pod c 10.244.0.13
wait_for 10 ready_is web 10.244.0.11,10.244.0.12,10.244.0.13 ||
	fail "ready set '$(ready_set web)' after three ready pods"
s=$(slices web)
[ "$(jq '.items | length' <<<"$s")" = 1 ] || fail "want one slice, got: $s"
jq -e '.items[0] | .addressType == "IPv4" and .ports == [{"name":"80-8080","port":8080,"protocol":"TCP"}]
	and .metadata.ownerReferences[0].kind == "Service" and .metadata.ownerReferences[0].controller
	and .metadata.labels["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"' \
	<<<"$s" >/dev/null || fail "slice shape: $s"
jq -e '[.items[0].endpoints[] | select(.nodeName == "n1" and .zone == "zone-a" and .targetRef.kind == "Pod")] | length == 3' \
	<<<"$s" >/dev/null || fail "endpoint fields: $s"

# Readiness: b turns unready; it must leave the ready set within a second.
t0=$(date +%s%N)
pod_status default b 10.244.0.12 False
until ready_is web 10.244.0.11,10.244.0.13; do
	[ "$(ms_since "$t0")" -lt 1000 ] || fail "b still ready after 1 s: $(ready_set web)"
	sleep 0.01
done
took=$(ms_since "$t0")
echo "unready pod left the ready set in $took ms"
slices web | jq -e '.items[].endpoints[] | select(.addresses[0] == "10.244.0.12") |
	.conditions == {"ready": false, "serving": false, "terminating": false}' >/dev/null ||
	fail "b's conditions: $(slices web)"
# ... and comes back as fast.
t0=$(date +%s%N)
pod_status default b 10.244.0.12 True
until ready_is web 10.244.0.11,10.244.0.12,10.244.0.13; do
	[ "$(ms_since "$t0")" -lt 1000 ] || fail "b not ready again after 1 s"
	sleep 0.01
done

# A readiness flip rewrote the slice in place: still one slice, same name.
name_before=$(slices web | jq -r '.items[0].metadata.name')
pod_status default a 10.244.0.11 False
wait_for 5 ready_is web 10.244.0.12,10.244.0.13 || fail "a still ready"
[ "$(slices web | jq -r '[.items[].metadata.name] | join(",")')" = "$name_before" ] ||
	fail "slice replaced instead of updated: $(slices web | jq -c '[.items[].metadata.name]')"

# Legacy Endpoints: ready addresses and notReadyAddresses.
ep_is() {
	[ "$(k get endpoints web -o json | jq -c '[.subsets[] | {r: [.addresses[]?.ip], n: [.notReadyAddresses[]?.ip], p: [.ports[].port]}]')" = "$1" ]
}
wait_for 5 ep_is '[{"r":["10.244.0.12","10.244.0.13"],"n":["10.244.0.11"],"p":[8080]}]' ||
	fail "Endpoints: $(k get endpoints web -o json | jq -c .subsets)"

# Terminating: not ready, still serving, flagged terminating; out of Endpoints.
k delete pod c --wait=false >/dev/null
wait_for 5 bash -c "kubectl --kubeconfig '$kc' get endpointslices -l kubernetes.io/service-name=web -o json |
	jq -e '.items[].endpoints[] | select(.addresses[0] == \"10.244.0.13\") |
	.conditions == {\"ready\": false, \"serving\": true, \"terminating\": true}'" ||
	fail "terminating pod's conditions: $(slices web | jq -c '.items[].endpoints')"
wait_for 5 ep_is '[{"r":["10.244.0.12"],"n":["10.244.0.11"],"p":[8080]}]' ||
	fail "Endpoints with a terminating pod: $(k get endpoints web -o json | jq -c .subsets)"
api DELETE "/api/v1/namespaces/default/pods/c?gracePeriodSeconds=0" >/dev/null
wait_for 5 bash -c "[ \"\$(kubectl --kubeconfig '$kc' get endpointslices -l kubernetes.io/service-name=web -o json |
	jq '[.items[].endpoints[]] | length')\" = 2 ]" || fail "deleted pod still listed"

# Named targetPort: pods resolving "http" to different numbers get their own slices.
k create service clusterip named --tcp=80:8080 >/dev/null
k patch service named --type=merge -p \
	'{"spec":{"selector":{"app":"web"},"ports":[{"name":"web","port":80,"protocol":"TCP","targetPort":"http"}]}}' >/dev/null
pod d 10.244.0.14 http 9090
named_ok() {
	slices named | jq -e '[.items[] | select(.endpoints | length > 0) |
		{port: .ports[0].port, name: .ports[0].name, ips: ([.endpoints[].addresses[0]] | sort)}] | sort_by(.port) ==
		[{port: 8080, name: "web", ips: ["10.244.0.11","10.244.0.12"]}, {port: 9090, name: "web", ips: ["10.244.0.14"]}]' >/dev/null
}
wait_for 10 named_ok || fail "named port slices: $(slices named | jq -c '[.items[] | {ports, endpoints: [.endpoints[].addresses[0]]}]')"
k get endpoints named -o json | jq -e '[.subsets[] | {p: .ports[0].port, ips: [.addresses[]?.ip, .notReadyAddresses[]?.ip] | sort}] | sort_by(.p) ==
	[{p: 8080, ips: ["10.244.0.11","10.244.0.12"]}, {p: 9090, ips: ["10.244.0.14"]}]' >/dev/null ||
	fail "named port Endpoints: $(k get endpoints named -o json | jq -c .subsets)"

# A Service without a selector is left alone: no slices, no Endpoints written.
k create -f - >/dev/null <<'EOF'
{"apiVersion":"v1","kind":"Service","metadata":{"name":"manual"},"spec":{"ports":[{"port":80}]}}
EOF
sleep 1
[ "$(slices manual | jq '.items | length')" = 0 ] || fail "slices for a selectorless service"
gone get endpoints manual || fail "Endpoints written for a selectorless service"

# Deleting the Service: its slices go (owner references, garbage collector), its Endpoints too.
k delete service web >/dev/null
wait_for 10 bash -c "[ \"\$(kubectl --kubeconfig '$kc' get endpointslices -l kubernetes.io/service-name=web -o name | wc -l)\" = 0 ]" ||
	fail "slices of a deleted service remain"
wait_for 10 gone get endpoints web || fail "Endpoints of a deleted service remain"
echo "endpoint controllers ok (readiness change visible in $took ms)"
