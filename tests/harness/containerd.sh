# containerd.sh - a private containerd for tests; source after lib.sh.
#
#   containerd_start DIR [NODE_NS]
#       start containerd with everything under DIR (root, state, socket,
#       opt dir, CNI conf dir DIR/net.d, registry hosts dir DIR/hosts.d) and
#       the settings capstan uses (cgroupfs, restricted oom_score_adj, the
#       capstan.local/pause:1 sandbox image, capstan's CNI plugins from
#       build/cni/bin). With NODE_NS, containerd runs inside that network
#       namespace (netns.sh), so pod veths are created there.
#       Sets CONTAINERD_SOCK and CONTAINERD_PID; stopped and cleaned at exit.
#   ctr_k8s ARGS...       ctr against it, in the k8s.io namespace
#   images_load           load capstan's images (build/images/*.tar) into it

containerd_write_config() {
	local dir=$1
	mkdir -p "$dir/net.d" "$dir/hosts.d" "$dir/opt"
	cat >"$dir/config.toml" <<CONF
version = 2
root = "$dir/root"
state = "$dir/state"
[grpc]
  address = "$dir/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "capstan.local/pause:1"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$BUILD/cni/bin"
    conf_dir = "$dir/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$dir/hosts.d"
CONF
}

containerd_start() {
	local dir=$1 ns=${2:-}
	command -v containerd >/dev/null || fail "containerd is not installed (make deps)"
	containerd_write_config "$dir"
	CONTAINERD_SOCK=$dir/containerd.sock
	if [ -n "$ns" ]; then
		bg_in_ns "$ns" containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1
	else
		containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
	fi
	CONTAINERD_PID=$!
	# Undone in reverse: containers and their mounts, then the daemon's mounts.
	defer umount_below "$dir"
	defer stop_pid "$CONTAINERD_PID"
	defer containerd_remove_all
	wait_for 30 ctr_k8s version ||
		{ tail -20 "$dir/containerd.log"; fail "containerd did not start"; }
}

ctr_k8s() {
	ctr --address "$CONTAINERD_SOCK" -n k8s.io "$@"
}

# Stop and remove every task and container it runs (before the daemon stops).
containerd_remove_all() {
	local c
	for c in $(ctr_k8s tasks ls -q 2>/dev/null); do
		ctr_k8s tasks kill -s KILL "$c" >/dev/null 2>&1
	done
	sleep 0.5
	for c in $(ctr_k8s containers ls -q 2>/dev/null); do
		ctr_k8s tasks delete -f "$c" >/dev/null 2>&1
		ctr_k8s containers delete "$c" >/dev/null 2>&1
	done
}

images_load() {
	local t
	for t in "$BUILD"/images/*.tar; do
		ctr_k8s images import "$t" >/dev/null || fail "cannot import $t"
	done
}
