# netns.sh - a simulated node made of network namespaces, for shell tests.
# Source after lib.sh. Everything made here is undone by the caller's
# teardown (defer), in reverse order.
#
#   node_create NODE                 a namespace for the node (lo up)
#   pod_create NODE POD IP           a pod namespace with IP/32 on eth0, reached
#                                    from the node through a veth (/32 route on
#                                    the node side, default route via the
#                                    link-local 169.254.1.1 on the pod side)
#   in_ns NS CMD...                  run CMD in namespace NS (nsenter --net,
#                                    which keeps /sys and the cgroup mounts)
#   bg_in_ns NS CMD...               in the background; $! is CMD's PID
#   in_cg_ns CGROUP NS CMD...        the same, joined to the cgroup v2 directory
#                                    CGROUP first (the socket LB follows the cgroup)
#   test_cgroup VAR                  make a cgroup v2 directory for this test
#   private_bpffs VAR                mount a private bpffs for this test
#
# Names carry the test's PID so parallel runs cannot collide.

NS_PREFIX="cs$$"

ns_name() { echo "${NS_PREFIX}-$1"; }

node_create() {
	local ns
	ns=$(ns_name "$1")
	ip netns add "$ns"
	defer ip netns del "$ns"
	ip -n "$ns" link set lo up
	# The node routes between its pods.
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
}

_veth_seq=0
pod_create() {
	local node pod ip host_if
	node=$(ns_name "$1")
	pod=$(ns_name "$2")
	ip=$3
	_veth_seq=$((_veth_seq + 1))
	host_if="v${$}x${_veth_seq}"
	ip netns add "$pod"
	defer ip netns del "$pod"
	ip -n "$pod" link set lo up
	ip link add "$host_if" netns "$node" type veth peer name eth0 netns "$pod"
	ip -n "$node" link set "$host_if" up
	ip -n "$node" addr add 169.254.1.1/32 dev "$host_if"
	ip -n "$node" route add "$ip/32" dev "$host_if"
	ip -n "$pod" addr add "$ip/32" dev eth0
	ip -n "$pod" link set eth0 up
	ip -n "$pod" route add 169.254.1.1 dev eth0
	ip -n "$pod" route add default via 169.254.1.1 dev eth0
	# Service traffic that escaped translation must not leave this namespace.
	ip -n "$pod" route add unreachable 10.96.0.0/12
}

in_ns() {
	local ns
	ns=$(ns_name "$1")
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

# bg_in_ns NS CMD...: start CMD in the background in NS; $! is CMD's own PID
# (nsenter execs it), so `defer stop_pid $!` ends exactly that process.
bg_in_ns() {
	local ns
	ns=$(ns_name "$1")
	shift
	nsenter --net="/run/netns/$ns" "$@" &
}

in_cg_ns() {
	local cg=$1 ns
	ns=$(ns_name "$2")
	shift 2
	(echo "$BASHPID" >"$cg/cgroup.procs" && exec nsenter --net="/run/netns/$ns" "$@")
}

test_cgroup() {
	local root _cg_dir
	root=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
	[ -n "$root" ] || skip "no cgroup v2 hierarchy mounted"
	_cg_dir="$root/capstan-test-$$-$RANDOM"
	mkdir "$_cg_dir"
	defer rmdir "$_cg_dir"
	printf -v "$1" %s "$_cg_dir"
}

private_bpffs() {
	local _bpffs_dir
	scratch _bpffs_dir
	mount -t bpf bpf "$_bpffs_dir" || skip "cannot mount bpffs"
	defer umount -l "$_bpffs_dir"
	printf -v "$1" %s "$_bpffs_dir"
}

# apiserver_in_ns NS DIR: capstan-apiserver inside namespace NS on
# 127.0.0.1:6443 (data and log under DIR), stopped at exit; waits until it
# answers. Afterwards `k ARGS...` runs kubectl against it from NS, and
# DIR/kubeconfig names it for the node daemons started in NS.
apiserver_in_ns() {
	local dir=$2
	_apiserver_ns=$1
	bg_in_ns "$_apiserver_ns" "$BUILD/bin/capstan-apiserver" --data-dir "$dir/api" \
		--listen 127.0.0.1:6443 --unsafe-no-fsync >"$dir/apiserver.log" 2>&1
	defer stop_pid $!
	wait_for 20 k get ns default || { cat "$dir/apiserver.log"; fail "apiserver did not start"; }
	write_kubeconfig "$dir/kubeconfig" http://127.0.0.1:6443
}
k() { in_ns "$_apiserver_ns" kubectl --server http://127.0.0.1:6443 "$@"; }
