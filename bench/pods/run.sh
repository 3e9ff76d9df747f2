#!/bin/bash
# bench/pods: pod startup latency and kubelet memory on a simulated node
# (network namespace with capstan-apiserver, a private containerd and
# capstan-kubelet), built with the same test harness the integration tests
# use, and torn down afterwards. Root. Usage: bench/pods/run.sh [PODS]
source "$(dirname "$0")/../../tests/harness/lib.sh"
source "$(dirname "$0")/../../tests/harness/netns.sh"
source "$(dirname "$0")/../../tests/harness/containerd.sh"
require_root
pods=${1:-50}

scratch dir
cgroot=/kubepods-bench$$
node_create node
in_ns node ip addr add 172.30.0.10/32 dev lo
in_ns node ip route add unreachable 10.96.0.0/12
rm_cgroups() {
	local d
	for d in /sys/fs/cgroup/*/"${cgroot#/}"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	return 0
}
defer rm_cgroups
bg_in_ns node "$BUILD/bin/capstan-apiserver" --data-dir "$dir/api" --listen 127.0.0.1:6443 \
	>"$dir/apiserver.log" 2>&1
defer stop_pid $!
k() { in_ns node kubectl --server http://127.0.0.1:6443 "$@"; }
wait_for 20 k get ns default || fail "apiserver did not start"
containerd_start "$dir/containerd" node
images_load
printf 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:6443"}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n' >"$dir/kubeconfig"
bg_in_ns node "$BUILD/bin/capstan-kubelet" --kubeconfig "$dir/kubeconfig" --node-name node1 \
	--container-runtime-endpoint "unix://$CONTAINERD_SOCK" --root-dir "$dir/kubelet" \
	--port 10250 --node-ip 172.30.0.10 --pod-cidr 10.244.9.0/24 \
	--cni-bin-dir "$BUILD/cni/bin" --cni-conf-dir "$dir/containerd/net.d" \
	--cgroup-root "$cgroot" >"$dir/kubelet.log" 2>&1
kubelet_pid=$!
defer stop_pid "$kubelet_pid"
defer k delete pods --all --grace-period=1 --wait=true --timeout=120s
ready() { [ "$(k get node node1 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
wait_for 60 ready || fail "node not Ready"
cpu_s() { awk '{ printf "%.1f", ($14 + $15) / 100 }' "/proc/$1/stat"; }
in_ns node "$BUILD/bin/capstan-bench-pods" --server http://127.0.0.1:6443 --node node1 \
	--pods "$pods" --timeout 300 --kubelet-pid "$kubelet_pid"
echo "| CPU time so far: kubelet / containerd | $(cpu_s "$kubelet_pid") s / $(cpu_s "$CONTAINERD_PID") s | |"
echo
echo "machine: $(nproc) cores, kernel $(uname -r), $(containerd --version | awk '{print $3}')"
