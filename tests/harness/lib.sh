# lib.sh - helpers for shell tests (integration and e2e layers); source it.
#
# Every test: `source tests/harness/lib.sh`, register undo steps with
# `defer CMD...` as it creates things (run in reverse order on any exit, via
# trap teardown EXIT), and call `skip REASON` (exit 77) only when the
# machine truly lacks a feature. Tests run from the repository root.
set -euo pipefail

CAPSTAN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$CAPSTAN_ROOT/build}
_deferred=()

defer() {
	_deferred+=("$(printf '%q ' "$@")")
}

teardown() {
	local rc=$? i
	set +e
	for ((i = ${#_deferred[@]} - 1; i >= 0; i--)); do
		eval "${_deferred[$i]}" >/dev/null 2>&1
	done
	exit $rc
}
trap teardown EXIT

skip() {
	echo "$*"
	exit 77
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

require_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (run as root, as CI does)"
}

# scratch VAR: make a scratch directory, removed at exit, and store its
# path in VAR (not `$(scratch)`: defer must run in this shell, not a subshell).
scratch() {
	local _scratch_dir
	_scratch_dir=$(mktemp -d /tmp/capstan-test.XXXXXX)
	defer rm -rf "$_scratch_dir"
	printf -v "$1" %s "$_scratch_dir"
}

# wait_for SECONDS CMD...: retry CMD every 0.1 s until it succeeds or time runs out.
wait_for() {
	local limit=$1 deadline
	shift
	deadline=$((SECONDS + limit))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.1
	done
}

# Stop a process we started, by PID: TERM, then KILL after 5 s.
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

# Unmount everything mounted below a directory (deepest first).
umount_below() {
	local dir=$1 m
	for m in $(awk -v d="$dir" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
}

# write_kubeconfig FILE SERVER-URL: a kubeconfig naming one API server, no credentials.
write_kubeconfig() {
	cat >"$1" <<EOC
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "$2"}}]
users: [{name: u, user: {}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
EOC
}
