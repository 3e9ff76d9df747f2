#!/bin/bash
# North-south service traffic through capstan-agent's tc and XDP programs,
# with real packets between network namespaces this test creates:
#
#   client  10.244.200.2 --- np1a 10.244.200.1 [node1] np1b 10.244.201.1 --- 10.244.201.2 [node2]
#                                  |  pod1 10.244.1.11                           |  pod2 10.244.2.11
#
# node1 runs capstan-apiserver and capstan-agent (--node-ip 10.244.200.1,
# --devices np1a,np1b); node2 only routes to its pod. The client is not in
# the agent's cgroup: its packets meet the programs on np1a. Backends answer
# "NAME@SOURCE" so the test sees whether the client address was kept.
# Checked in tc mode, then again after restarts with XDP, generic and native.
source "$(dirname "$0")/../harness/lib.sh"
source "$(dirname "$0")/../harness/netns.sh"
require_root
[ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF"
command -v kubectl >/dev/null || skip "kubectl is not installed"
command -v ethtool >/dev/null || skip "ethtool is not installed (make deps)"

probe=$BUILD/tests/tools/lbprobe
scratch dir
test_cgroup cg
private_bpffs bpffs

node_create node1
node_create node2
node_create client
link() { # NS1 IF1 ADDR1 NS2 IF2 ADDR2
	ip link add "$2" netns "$(ns_name "$1")" type veth peer name "$5" netns "$(ns_name "$4")"
	ip -n "$(ns_name "$1")" addr add "$3" dev "$2"
	ip -n "$(ns_name "$4")" addr add "$6" dev "$5"
	ip -n "$(ns_name "$1")" link set "$2" up
	ip -n "$(ns_name "$4")" link set "$5" up
}
link client eth0 10.244.200.2/24 node1 np1a 10.244.200.1/24
link node1 np1b 10.244.201.1/24 node2 np2b 10.244.201.2/24
pod_create node1 pod1 10.244.1.11
pod_create node2 pod2 10.244.2.11
ip -n "$(ns_name node1)" route add 10.244.2.0/24 via 10.244.201.2
ip -n "$(ns_name node2)" route add default via 10.244.201.1
ip -n "$(ns_name client)" route add 10.244.250.0/24 via 10.244.200.1
for ns in client node2; do
	ip -n "$(ns_name $ns)" route add unreachable 10.96.0.0/12
done
bg_in_ns pod1 "$probe" serve tcpsrc 8080 pod1
defer stop_pid $!
bg_in_ns pod2 "$probe" serve tcpsrc 8080 pod2
defer stop_pid $!

apiserver_in_ns node1 "$dir"

start_agent() { # XDP-MODE [FLAGS...]
	local mode=$1
	shift
	bg_in_ns node1 "$BUILD/bin/capstan-agent" --kubeconfig "$dir/kubeconfig" --node-name node1 \
		--cgroup-path "$cg" --bpffs-dir "$bpffs/capstan" --node-ip 10.244.200.1 \
		--devices np1a,np1b --xdp "$mode" --metrics-listen 127.0.0.1:9963 --v=4 "$@" \
		>>"$dir/agent.log" 2>&1
	agent_pid=$!
	defer stop_pid "$agent_pid"
	wait_for 20 in_ns node1 curl -sf http://127.0.0.1:9963/healthz ||
		{ tail -30 "$dir/agent.log"; fail "agent not healthy"; }
}
start_agent off
defer in_ns node1 "$BUILD/bin/capstan-agent" --cleanup --bpffs-dir "$bpffs/capstan" \
	--devices np1a,np1b

service() { # NAME TYPE NODEPORT EXTRA-SPEC
	cat <<EOF | k apply -f - >/dev/null
{"apiVersion":"v1","kind":"Service","metadata":{"name":"$1","namespace":"default"},
 "spec":{"type":"$2","ports":[{"port":80,"targetPort":8080${3:+,\"nodePort\":$3}}]${4:-}}}
EOF
}
slice() { # SERVICE POD-ADDR:NODE...
	local svc=$1 eps="" e
	shift
	for e in "$@"; do
		eps+="{\"addresses\":[\"${e%%:*}\"],\"conditions\":{\"ready\":true},\"nodeName\":\"${e##*:}\"},"
	done
	cat <<EOF | k apply -f - >/dev/null
{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"$svc-1",
 "namespace":"default","labels":{"kubernetes.io/service-name":"$svc"}},"addressType":"IPv4",
 "endpoints":[${eps%,}],"ports":[{"port":8080,"protocol":"TCP"}]}
EOF
}
service np-local NodePort 30080 ""
slice np-local 10.244.1.11:node1
service np-remote NodePort 30081 ""
slice np-remote 10.244.2.11:node2
service ext ClusterIP "" ',"externalIPs":["10.244.250.1"]'
slice ext 10.244.1.11:node1
service lb-local LoadBalancer 30083 ',"externalTrafficPolicy":"Local"'
slice lb-local 10.244.1.11:node1 10.244.2.11:node2
k patch svc lb-local --subresource=status --type=merge \
	-p '{"status":{"loadBalancer":{"ingress":[{"ip":"10.244.250.2","ipMode":"VIP"}]}}}' >/dev/null
service lb-none LoadBalancer 30084 ',"externalTrafficPolicy":"Local"'
slice lb-none 10.244.2.11:node2

from_client() { # ADDR PORT N: the "NAME@SOURCE COUNT" lines
	in_ns client "$probe" tcp "$1" "$2" "$3"
}
only() { # ADDR PORT N ANSWER: all N connections got ANSWER
	local out
	out=$(from_client "$1" "$2" "$3")
	[ "$out" = "$4 $3" ] || { echo "$1:$2 -> $out (want $4 $3)"; return 1; }
}
check_paths() { # MODE
	wait_for 10 only 10.244.200.1 30080 1 pod1@10.244.200.2 ||
		{ tail -30 "$dir/agent.log"; fail "$1: NodePort never answered"; }
	# A local backend sees the client itself; a remote one the node (SNAT).
	only 10.244.200.1 30080 20 pod1@10.244.200.2 || fail "$1: NodePort, local backend"
	only 10.244.200.1 30081 20 pod2@10.244.201.1 >/dev/null && fail "$1: SNAT source is not the node address"
	only 10.244.200.1 30081 20 pod2@10.244.200.1 || fail "$1: NodePort, remote backend"
	only 10.244.250.1 80 10 pod1@10.244.200.2 || fail "$1: externalIP"
	# externalTrafficPolicy Local: the local endpoint only, client address kept.
	only 10.244.250.2 80 20 pod1@10.244.200.2 || fail "$1: LoadBalancer IP, Local policy"
	only 10.244.200.1 30083 20 pod1@10.244.200.2 || fail "$1: NodePort, Local policy"
	# Local policy without a local endpoint: refused at once (reset), not hung.
	out=$(in_ns client "$probe" refused 10.244.200.1 30084)
	[[ $out == "errno ECONNREFUSED"* ]] || fail "$1: no local endpoint: $out"
}
check_paths tc

# healthCheckNodePort: 200 with a local endpoint, 503 without.
hc_of() { k get svc "$1" -o jsonpath='{.spec.healthCheckNodePort}'; }
hc_local=$(hc_of lb-local) hc_none=$(hc_of lb-none)
[ -n "$hc_local" ] && [ -n "$hc_none" ] || fail "no healthCheckNodePort allocated"
wait_for 10 in_ns client curl -sf "http://10.244.200.1:$hc_local/" || fail "health check port closed"
body=$(in_ns client curl -s -w ' %{http_code}' "http://10.244.200.1:$hc_local/")
[[ $body == *'"localEndpoints": 1'* || $body == *'"localEndpoints":1'* ]] && [[ $body == *' 200' ]] ||
	fail "health check with a local endpoint: $body"
body=$(in_ns client curl -s -w ' %{http_code}' "http://10.244.200.1:$hc_none/")
[[ $body == *'"localEndpoints":0'* || $body == *'"localEndpoints": 0'* ]] && [[ $body == *' 503' ]] ||
	fail "health check without a local endpoint: $body"

# The counters saw it, by service port and drop reason.
stats=$(in_ns node1 "$BUILD/bin/capstan" lb stats --bpffs-dir "$bpffs/capstan")
# "ADDR:PORT/TCP ext REV CONNECTIONS UDP REFUSED FLOWS PACKETS" rows
flows=$(awk '$2 == "ext" { s += $7 } END { print s + 0 }' <<<"$stats")
[ "$flows" -ge 100 ] || fail "external flows counted: $flows
$stats"

# XDP: the same paths. Checksums must be complete for XDP's own arithmetic.
in_ns client ethtool -K eth0 tx off >/dev/null
in_ns pod2 ethtool -K eth0 tx off >/dev/null
in_ns node2 ethtool -K np2b tx off >/dev/null
stop_pid "$agent_pid"
start_agent generic
in_ns node1 ip link show np1a | grep -q xdpgeneric || fail "no XDP program on np1a"
in_ns node1 ip link show np1b | grep -q xdpgeneric || fail "no XDP program on np1b"
check_paths xdp-generic

# XDP in the veth driver. A veth only takes XDP_TX / redirected frames when
# its peer runs NAPI, which GRO turns on.
in_ns client ethtool -K eth0 gro on >/dev/null
in_ns node2 ethtool -K np2b gro on >/dev/null
stop_pid "$agent_pid"
start_agent native
in_ns node1 ip link show np1a | grep -q 'xdp ' || fail "no native XDP program on np1a"
check_paths xdp-native
# New flows are translated by the XDP program itself, not passed on to tc.
in_ns node1 "$BUILD/bin/capstan" lb monitor --bpffs-dir "$bpffs/capstan" --count 5 \
	--duration 10 >"$dir/monitor.out" 2>&1 &
mon=$!
defer stop_pid "$mon"
sleep 0.5
only 10.244.200.1 30081 5 pod2@10.244.200.1 || fail "xdp-native: NodePort during monitor"
wait "$mon" || true
[ "$(grep -c ' xdp tcp 10.244.200.1:30081 -> 10.244.2.11:8080 .* client 10.244.200.2:' \
	"$dir/monitor.out")" -eq 5 ] || fail "monitor: $(cat "$dir/monitor.out")"
m=$(in_ns node1 curl -s http://127.0.0.1:9963/metrics)
grep -q 'capstan_service_flows_total{namespace="default",service="np-remote",port="30081",proto="tcp",address="10.244.200.1",scope="external"} [1-9]' <<<"$m" ||
	fail "flows metric: $(grep flows_total <<<"$m")"

# --nodeport-reset=false: a SYN without a local endpoint is dropped and counted.
stop_pid "$agent_pid"
start_agent off --nodeport-reset=false
drops() { in_ns node1 "$BUILD/bin/capstan" lb stats --bpffs-dir "$bpffs/capstan" | awk '$1 == "no_backend" { print $2 }'; }
before=$(drops)
out=$(in_ns client "$probe" refused 10.244.200.1 30084)
[[ $out == "errno ECONNREFUSED"* ]] && fail "reset sent with --nodeport-reset=false"
[ "$(drops)" -gt "$before" ] || fail "dropped SYN not counted: $before -> $(drops)"

# --cleanup detaches from the devices.
stop_pid "$agent_pid"
in_ns node1 "$BUILD/bin/capstan-agent" --cleanup --bpffs-dir "$bpffs/capstan" --devices np1a,np1b \
	>>"$dir/agent.log" 2>&1 || fail "cleanup failed"
[ -z "$(in_ns node1 tc filter show dev np1a ingress)" ] || fail "tc filter left on np1a"
in_ns node1 ip link show np1a | grep -q xdp && fail "XDP program left on np1a"
echo "north-south: NodePort local+remote (SNAT), externalIP, LB IP with Local policy, reset, health check ports; tc, XDP generic and native"
