# cluster.sh - a local cluster for end-to-end tests, brought up by
# `capstan up`, the same code as `make up`; source after lib.sh.
#
#   cluster_up [capstan up options]   start a cluster in a scratch data
#                                     directory: sets CLUSTER_DIR, exports
#                                     KUBECONFIG, defers `capstan down`
#   cluster_restart NAME              kill one supervised component by PID
#                                     (apiserver, node1-kubelet, ...) and
#                                     wait until the supervisor restarted it
#   node_run N CMD...                 run CMD on node N: in its cgroup and
#                                     network namespace (multi-node), or on
#                                     the host (one node)
#   pod_wait_done NAME [SECONDS]      wait until pod NAME Succeeded (fails
#                                     with its logs when it Failed)
#   cluster_down_and_check            `capstan down --purge`, then fail if
#                                     anything it made is left on the host
#
# The cluster owns fixed host resources (bridge capstan0, 172.31.0.1), so a
# test refuses to start while another cluster runs, and tests using it run
# one after the other (the runner runs them in order).

cluster_up() {
	require_root
	command -v kubectl >/dev/null || skip "kubectl is not installed"
	if ip link show capstan0 >/dev/null 2>&1; then
		fail "a capstan cluster already runs on this machine (bridge capstan0); stop it with make down"
	fi
	_cluster_forward=$(cat /proc/sys/net/ipv4/ip_forward)
	_cluster_routes=$(ip route show table all | grep -c '10\.96\.0\.0/12' || true)
	scratch CLUSTER_DIR
	exec {_cluster_err}>&2 # teardown silences deferred steps; the log dump is wanted
	defer _cluster_down "$CLUSTER_DIR/data"
	if ! "$BUILD/bin/capstan" up --data-dir "$CLUSTER_DIR/data" "$@"; then
		fail "capstan up failed"
	fi
	export KUBECONFIG=$CLUSTER_DIR/data/kubeconfig
	CLUSTER_DATA=$CLUSTER_DIR/data
}

# On a failing test, the component logs' warnings and errors first.
_cluster_down() {
	local data=$1 f
	if [ "${rc:-0}" -ne 0 ]; then
		for f in "$data"/*.log; do
			echo "--- $(basename "$f") (warnings and errors, last 15)"
			grep -E ' (WARN|ERROR) | level=(warning|error)' "$f" | tail -n 15
		done >&"$_cluster_err"
	fi
	"$BUILD/bin/capstan" down --data-dir "$data" >&"$_cluster_err" 2>&1
}

cluster_pid() {
	cat "$CLUSTER_DATA/pids/$1.pid" 2>/dev/null
}

cluster_restart() {
	local name=$1 old new
	old=$(cluster_pid "$name")
	[ -n "$old" ] || fail "no running component $name"
	kill -TERM "$old"
	_restarted() { new=$(cluster_pid "$name") && [ -n "$new" ] && [ "$new" != "$old" ]; }
	wait_for 30 _restarted || fail "$name was not restarted"
}

node_run() {
	local i=$1
	shift
	if [ ! -e "/run/netns/capstan-node$i" ]; then
		"$@"
		return
	fi
	local cg
	cg=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)/capstan-node$i
	(echo "$BASHPID" >"$cg/cgroup.procs" && exec nsenter --net="/run/netns/capstan-node$i" "$@")
}

pod_wait_done() {
	local name=$1 limit=${2:-60} phase deadline
	deadline=$((SECONDS + limit))
	while :; do
		phase=$(kubectl get pod "$name" -o jsonpath='{.status.phase}')
		case $phase in
		Succeeded) return 0 ;;
		Failed) fail "pod $name failed: $(kubectl logs "$name" 2>&1)" ;;
		esac
		[ $SECONDS -lt $deadline ] || fail "pod $name still $phase after $limit s: $(kubectl describe pod "$name")"
		sleep 0.3
	done
}

cluster_down_and_check() {
	local left=() data=$CLUSTER_DATA
	"$BUILD/bin/capstan" down --data-dir "$data" --purge >/dev/null || fail "capstan down failed"
	[ ! -e "$data" ] || left+=("the data directory")
	ip link show capstan0 >/dev/null 2>&1 && left+=("bridge capstan0")
	ip -br link | grep -q '^capn' && left+=("veths: $(ip -br link | grep '^capn')")
	ip netns list | grep -q capstan-node && left+=("netns: $(ip netns list | grep capstan-node)")
	ip -br addr | grep -q '172\.31\.0\.' && left+=("addresses in 172.31.0.0/24")
	ip route show table all | grep -qE '10\.244\.|172\.31\.0\.' && left+=("routes: $(ip route show table all | grep -E '10\.244\.|172\.31\.0\.')")
	local routes
	routes=$(ip route show table all | grep -c '10\.96\.0\.0/12' || true)
	[ "$routes" = "$_cluster_routes" ] ||
		left+=("the unreachable service route ($_cluster_routes before up, $routes after down: $(ip route show table all | grep '10\.96\.0\.0/12' | tr '\n' ';'); capstan processes: $(pgrep -af 'capstan-' | tr '\n' ';'))")
	[ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$_cluster_forward" ] || left+=("ip_forward not restored")
	ls -d /sys/fs/bpf/capstan* >/dev/null 2>&1 && left+=("bpffs pins: $(ls -d /sys/fs/bpf/capstan*)")
	ls -d /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/capstan-node* \
		/sys/fs/cgroup/capstan-node* >/dev/null 2>&1 && left+=("cgroups")
	grep -q " $data" /proc/self/mountinfo && left+=("mounts below $data")
	pgrep -f "$data" >/dev/null && left+=("processes: $(pgrep -af "$data")")
	[ ${#left[@]} -eq 0 ] || fail "capstan down left: ${left[*]}"
}
