#!/bin/bash
# capstan-kubelet runs pods on a real containerd through CRI, with pod
# networking from capstan-cni, on a simulated node: a network namespace
# holding capstan-apiserver, a private containerd and the kubelet. Pods are
# created already bound (spec.nodeName): no scheduler is needed here.
source "$(dirname "$0")/../harness/lib.sh"
source "$(dirname "$0")/../harness/netns.sh"
source "$(dirname "$0")/../harness/containerd.sh"
require_root
command -v kubectl >/dev/null || skip "kubectl is not installed"
[ -f "$BUILD/images/httpd.tar" ] || fail "images not built (make)"

scratch dir
cgroot=/kubepods-it$$
netns_before=$(ls /var/run/netns 2>/dev/null | sort)

node_create node
# The node's own address (hostIP, hostNetwork pods), on its loopback.
in_ns node ip addr add 172.30.0.10/32 dev lo
in_ns node ip route add unreachable 10.96.0.0/12

apiserver_in_ns node "$dir"

# The cgroup directories the kubelet made, and any pod netns a failure left:
# removed last, once containerd and its containers are gone.
rm_cgroups() {
	local d
	for d in /sys/fs/cgroup/*/"${cgroot#/}"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	for d in $(ls /var/run/netns 2>/dev/null | sort | comm -13 <(echo "$netns_before") -); do
		[[ $d == cni-* ]] && ip netns del "$d" 2>/dev/null
	done
	return 0
}
defer rm_cgroups
containerd_start "$dir/containerd" node
images_load


start_kubelet() {
	bg_in_ns node "$BUILD/bin/capstan-kubelet" --kubeconfig "$dir/kubeconfig" --node-name node1 \
		--container-runtime-endpoint "unix://$CONTAINERD_SOCK" --root-dir "$dir/kubelet" \
		--port 10250 --node-ip 172.30.0.10 --pod-cidr 10.244.7.0/24 \
		--cni-bin-dir "$BUILD/cni/bin" --cni-conf-dir "$dir/containerd/net.d" \
		--cgroup-root "$cgroot" --v=4 >>"$dir/kubelet.log" 2>&1
	kubelet_pid=$!
	# Teardown, newest kubelet first: its pods go through its own deletion
	# path (containers, sandbox, CNI, cgroups), then it stops.
	defer stop_pid "$kubelet_pid"
	defer k delete pods --all --grace-period=1 --wait=true --timeout=60s
}
start_kubelet

node_ready() { [ "$(k get node node1 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
wait_for 60 node_ready || { tail -40 "$dir/kubelet.log"; fail "node never became Ready"; }
out=$(k get node node1 -o jsonpath='{.status.nodeInfo.containerRuntimeVersion} {.status.addresses[0].address} {.status.daemonEndpoints.kubeletEndpoint.Port}')
[[ $out == "containerd://1."*" 172.30.0.10 10250" ]] || fail "node status: $out"
k get lease -n kube-node-lease node1 >/dev/null || fail "no node Lease"

pod() { # NAME SPEC-JSON (metadata.name/namespace and nodeName are filled in)
	echo "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$1\",\"namespace\":\"default\"},\"spec\":$2}" |
		sed 's/"spec":{/"spec":{"nodeName":"node1","terminationGracePeriodSeconds":2,/' |
		k apply -f - >/dev/null
}
phase() { k get pod "$1" -o jsonpath='{.status.phase}'; }
running() { [ "$(phase "$1")" = Running ]; }
field() { k get pod "$1" -o jsonpath="$2"; }

# Pod network and host network.
pod web '{"containers":[{"name":"httpd","image":"capstan.local/httpd:1"}]}'
pod host '{"hostNetwork":true,"containers":[{"name":"c","image":"capstan.local/busybox:1","command":["sleep","3600"]}]}'
wait_for 60 running web || { tail -40 "$dir/kubelet.log"; k describe pod web; fail "web not Running"; }
wait_for 60 running host || fail "host-network pod not Running"
web_ip=$(field web '{.status.podIP}')
[[ $web_ip == 10.244.7.* ]] || fail "web podIP $web_ip not from the pod CIDR"
[ "$(field web '{.status.hostIP}')" = 172.30.0.10 ] || fail "hostIP"
[ "$(field host '{.status.podIP}')" = 172.30.0.10 ] || fail "host-network pod IP"
[ "$(field web '{.status.containerStatuses[0].ready}')" = true ] || fail "web not ready"
cid=$(field web '{.status.containerStatuses[0].containerID}')
[[ $cid == containerd://* ]] || fail "containerID $cid"

# The node reaches the pod, and a second pod reaches the first.
in_ns node curl -s --max-time 5 "http://$web_ip/" | grep -qx web || fail "node cannot reach the pod"
pod client "{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"capstan.local/busybox:1\",\"command\":[\"sh\",\"-c\",\"timeout 5 wget -q -O- http://$web_ip/\"]}]}"
done_ok() { [ "$(phase "$1")" = Succeeded ]; }
wait_for 60 done_ok client || fail "client pod did not succeed: $(phase client)"
[ "$(k logs client)" = web ] || fail "pod-to-pod: $(k logs client)"

# env, fieldRef and configMap values.
k create configmap settings --from-literal=greeting=hello-from-cm >/dev/null
pod envy '{"containers":[{"name":"c","image":"capstan.local/busybox:1","command":["sh","-c","echo A=$A POD=$POD CM=$CM; sleep 3600"],
  "env":[{"name":"A","value":"one"},{"name":"POD","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},
         {"name":"CM","valueFrom":{"configMapKeyRef":{"name":"settings","key":"greeting"}}}]}]}'
wait_for 60 running envy || fail "envy not Running"
wait_for 10 sh -c "true" # the line is written at once; logs may lag a moment
logs_have() { k logs "$1" 2>/dev/null | grep -q "$2"; }
wait_for 10 logs_have envy "A=one POD=envy CM=hello-from-cm" || fail "env: $(k logs envy)"

# Crash loop: restarts with back-off.
pod crash '{"containers":[{"name":"c","image":"capstan.local/busybox:1","command":["sh","-c","echo boom; exit 3"]}]}'
restarted() { [ "$(field "$1" '{.status.containerStatuses[0].restartCount}')" -ge "$2" ] 2>/dev/null; }
wait_for 60 restarted crash 1 || fail "crashing container was not restarted"
backoff() { [ "$(field crash '{.status.containerStatuses[0].state.waiting.reason}')" = CrashLoopBackOff ]; }
wait_for 30 backoff || fail "no CrashLoopBackOff: $(field crash '{.status.containerStatuses[0].state}')"
[ "$(field crash '{.status.containerStatuses[0].lastState.terminated.exitCode}')" = 3 ] || fail "exit code"
k get events --field-selector involvedObject.name=crash -o jsonpath='{.items[*].reason}' | grep -q BackOff ||
	fail "no BackOff event"

# Liveness: a failing probe restarts the container.
pod liveness '{"containers":[{"name":"httpd","image":"capstan.local/httpd:1",
  "livenessProbe":{"httpGet":{"path":"/","port":81},"periodSeconds":1,"failureThreshold":2}}]}'
wait_for 90 restarted liveness 1 || fail "failing liveness probe did not restart"

# Readiness follows the probe both ways.
pod ready '{"containers":[{"name":"c","image":"capstan.local/busybox:1",
  "command":["sh","-c","sleep 3; touch /tmp/ok; sleep 6; rm /tmp/ok; sleep 3600"],
  "readinessProbe":{"exec":{"command":["test","-f","/tmp/ok"]},"periodSeconds":1}}]}'
cond() { [ "$(field ready '{.status.conditions[?(@.type=="Ready")].status}')" = "$1" ]; }
wait_for 30 running ready || fail "ready pod not Running"
wait_for 20 cond True || fail "Ready never became True"
wait_for 20 cond False || fail "Ready never went back to False"

# kubectl logs -f streams as the container writes.
pod ticker '{"containers":[{"name":"c","image":"capstan.local/busybox:1","command":["sh","-c","i=0; while [ $i -lt 600 ]; do echo tick $i; i=$((i+1)); sleep 0.2; done"]}]}'
wait_for 60 running ticker || fail "ticker not Running"
in_ns node timeout 4 kubectl --server http://127.0.0.1:6443 logs -f ticker >"$dir/follow.out" 2>&1 || true
n=$(grep -c '^tick ' "$dir/follow.out")
[ "$n" -ge 10 ] || fail "logs -f got $n lines: $(head -3 "$dir/follow.out")"
last=$(grep '^tick ' "$dir/follow.out" | tail -1 | awk '{print $2}')
first=$(grep '^tick ' "$dir/follow.out" | head -1 | awk '{print $2}')
[ $((last - first)) -ge 8 ] || fail "logs -f did not follow new lines ($first..$last)"

# Kubelet restart: running pods are adopted, not restarted.
rc_before=$(field web '{.status.containerStatuses[0].restartCount}')
stop_pid "$kubelet_pid"
ctr_k8s tasks ls | grep -q RUNNING || fail "containers stopped with the kubelet"
start_kubelet
sleep 5
wait_for 30 running web || fail "web not Running after kubelet restart"
[ "$(field web '{.status.containerStatuses[0].containerID}')" = "$cid" ] || fail "web container replaced on kubelet restart"
[ "$(field web '{.status.containerStatuses[0].restartCount}')" = "$rc_before" ] || fail "restart count changed"
in_ns node curl -s --max-time 5 "http://$web_ip/" | grep -qx web || fail "web unreachable after kubelet restart"

# Deletion cleans up everything: containers, sandbox, netns, veth, address, cgroup.
uid=$(field web '{.metadata.uid}')
netns_count() { ls /var/run/netns 2>/dev/null | grep -c '^cni-'; }
ns_before=$(netns_count)
veths_before=$(in_ns node ip -o link show | grep -c ': csn')
k delete pod web --wait=true --timeout=60s >/dev/null || fail "delete did not finish"
gone() { ! ctr_k8s containers ls -q | xargs -r -n1 ctr_k8s containers info 2>/dev/null | grep -q "$uid"; }
wait_for 30 gone || fail "containers of the deleted pod remain"
! in_ns node ip route | grep -q "^$web_ip " || fail "host route to the deleted pod remains"
netns_gone() { [ "$(netns_count)" -eq $((ns_before - 1)) ]; }
wait_for 10 netns_gone || fail "the pod's network namespace remains ($ns_before -> $(netns_count))"
veths_gone() { [ "$(in_ns node ip -o link show | grep -c ': csn')" -eq $((veths_before - 1)) ]; }
wait_for 10 veths_gone || fail "the pod's veth remains"
! ls "$dir/kubelet/cni/ipam/capstan" 2>/dev/null | grep -qx "$web_ip" || fail "IPAM entry remains"
! find /sys/fs/cgroup/*/"${cgroot#/}" -type d -name "pod$uid" 2>/dev/null | grep -q . || fail "pod cgroup remains"
echo "kubelet: pod + host network, pod-to-pod, env/configmap, crash back-off, liveness, readiness, logs -f, restart adoption, deletion cleanup"
