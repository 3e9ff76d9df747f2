# controllers_infra.bash - shared by the controllers_infra_*.sh tests (sourced,
# not a test itself: the runner only picks up *.sh).
#
# Each test runs the real capstan-apiserver (scratch data dir, free port) and
# the real capstan-controller-manager against it; no kubelet and no
# containerd. The test plays the kubelet itself with plain HTTP calls
# (curl): it registers Nodes with a Ready condition, renews their Leases in
# a background loop (stopping that loop is a node failure), marks pods
# Running/Ready with addresses through pods/status, and deletes with grace 0
# the pods its nodes were asked to stop, as a kubelet does when a graceful
# deletion ends.
source "$(dirname "${BASH_SOURCE[0]}")/../harness/lib.sh"
command -v kubectl >/dev/null || skip "kubectl is not installed"
command -v jq >/dev/null || skip "jq is not installed"
command -v curl >/dev/null || skip "curl is not installed"

scratch dir
apilog=$dir/apiserver.log
cmlog=$dir/controller-manager.log
kc=$dir/kubeconfig
CM_BIN=${CM_BIN:-$BUILD/bin/capstan-controller-manager}

k() { kubectl --kubeconfig "$kc" "$@"; }

start_apiserver() {
	"$BUILD/bin/capstan-apiserver" --data-dir "$dir/data" --listen 127.0.0.1:0 \
		--unsafe-no-fsync >"$apilog" 2>&1 &
	api_pid=$!
	defer stop_pid "$api_pid"
	wait_for 20 grep -q "listening on http://" "$apilog" ||
		{ cat "$apilog"; fail "apiserver did not start"; }
	url=$(grep -o 'listening on http://[0-9.:]*' "$apilog" | awk '{print $3}')
	write_kubeconfig "$kc" "$url"
}

# start_cm [FLAG...]: the controller manager with extra flags; waits for its caches.
start_cm() {
	"$CM_BIN" --kubeconfig "$kc" --v=4 "$@" >"$cmlog" 2>&1 &
	cm_pid=$!
	defer stop_pid "$cm_pid"
	wait_for 20 grep -q "caches synced" "$cmlog" ||
		{ cat "$cmlog"; fail "controller manager did not sync"; }
}

# api METHOD PATH [BODY [CONTENT-TYPE]]: one request, the answer on stdout; fails on >= 400.
api() {
	local args=(-sS -f -X "$1" "$url$2")
	[ $# -lt 3 ] || args+=(-H "Content-Type: ${4:-application/json}" --data-binary "$3")
	curl "${args[@]}"
}

now_micro() { date -u +%Y-%m-%dT%H:%M:%S.%6NZ; }
now_sec() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# node_up NAME [LABELS-JSON]: register the Node (once), post Ready, renew its Lease.
node_up() {
	local labels=${2:-'{}'}
	api GET "/api/v1/nodes/$1" >/dev/null 2>&1 ||
		api POST /api/v1/nodes "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$1\",\"labels\":$labels}}" >/dev/null
	api PATCH "/api/v1/nodes/$1/status" "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\",\"message\":\"kubelet is posting ready status\",\"lastHeartbeatTime\":\"$(now_sec)\",\"lastTransitionTime\":\"$(now_sec)\"}]}}" \
		application/merge-patch+json >/dev/null
	renew_lease "$1"
}

renew_lease() {
	local body="{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":\"$1\",\"namespace\":\"kube-node-lease\"},\"spec\":{\"holderIdentity\":\"$1\",\"leaseDurationSeconds\":40,\"renewTime\":\"$(now_micro)\"}}"

	api PATCH "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/$1" \
		"{\"spec\":{\"renewTime\":\"$(now_micro)\"}}" application/merge-patch+json \
		>/dev/null 2>&1 ||
		api POST /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases "$body" >/dev/null
}

# renew_loop NAME: renew the node's Lease every 0.3 s in the background; sets renew_pid.
renew_loop() {
	(
		trap 'exit 0' TERM
		for _ in $(seq 3000); do
			renew_lease "$1" || true
			sleep 0.3
		done
	) &
	renew_pid=$!
	defer kill "$renew_pid"
}

# pod_status NS NAME IP READY(True|False): what a kubelet reports for a running pod.
pod_status() {
	api PATCH "/api/v1/namespaces/$1/pods/$2/status" "{\"status\":{\"phase\":\"Running\",\"podIP\":\"$3\",\"podIPs\":[{\"ip\":\"$3\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"$4\",\"lastTransitionTime\":\"$(now_sec)\"}]}}" \
		application/merge-patch+json >/dev/null
}

# finish_loop: delete with grace 0 every pod marked for deletion on a node (the
# kubelet's last step of a graceful deletion), in the background.
finish_loop() {
	(
		trap 'exit 0' TERM
		for _ in $(seq 6000); do
			api GET /api/v1/pods 2>/dev/null |
				jq -r '.items[] | select(.metadata.deletionTimestamp != null and .spec.nodeName != null) |
					"\(.metadata.namespace)/\(.metadata.name)"' |
				while IFS=/ read -r ns name; do
					api DELETE "/api/v1/namespaces/$ns/pods/$name?gracePeriodSeconds=0" >/dev/null 2>&1 || true
				done
			sleep 0.2
		done
	) &
	finish_pid=$!
	defer kill "$finish_pid"
}

# ms_since T0: milliseconds since T0 (from date +%s%N).
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

gone() { ! k "$@" >/dev/null 2>&1; }
