#!/bin/bash
# capstan-agent programs the socket-level load balancer from a real
# capstan-apiserver, on a simulated node made of network namespaces:
#
#   node namespace: capstan-apiserver, capstan-agent, "host" clients
#   pod namespaces: backends pod1..pod3 (10.244.1.11-13) and a client pod
#                   (10.244.2.21), each behind a veth
#
# Clients join the test's cgroup, to which the agent attaches its hooks.
# Services and EndpointSlices are written with the real kubectl (no
# controllers yet: the test writes the EndpointSlices itself).
source "$(dirname "$0")/../harness/lib.sh"
source "$(dirname "$0")/../harness/netns.sh"
require_root
[ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF"
command -v kubectl >/dev/null || skip "kubectl is not installed"

probe=$BUILD/tests/tools/lbprobe
scratch dir
test_cgroup cg
private_bpffs bpffs

node_create node
pod_create node pod1 10.244.1.11
pod_create node pod2 10.244.1.12
pod_create node pod3 10.244.1.13
pod_create node client 10.244.2.21
for i in 1 2 3; do
	bg_in_ns pod$i "$probe" serve tcp 8080 pod$i
	defer stop_pid $!
	bg_in_ns pod$i "$probe" serve udp 5353 pod$i-udp
	defer stop_pid $!
done

# Control plane inside the node namespace.
apiserver_in_ns node "$dir"

start_agent() {
	bg_in_ns node "$BUILD/bin/capstan-agent" --kubeconfig "$dir/kubeconfig" --node-name node1 \
		--cgroup-path "$cg" --bpffs-dir "$bpffs/capstan" --service-cidr 10.96.0.0/12 \
		--metrics-listen 127.0.0.1:9963 --v=4 >>"$dir/agent.log" 2>&1
	agent_pid=$!
	defer stop_pid "$agent_pid"
	wait_for 20 in_ns node curl -sf http://127.0.0.1:9963/healthz ||
		{ tail -30 "$dir/agent.log"; fail "agent not healthy"; }
}
start_agent
defer "$BUILD/bin/capstan-agent" --cleanup --bpffs-dir "$bpffs/capstan" --cgroup-path "$cg"

# The safety route.
in_ns node ip route show type unreachable | grep -q '^unreachable 10.96.0.0/12' ||
	fail "no unreachable route for the service range"

slice() { # NAME SERVICE PORTNAME PORT PROTO ADDR:ready:terminating...
	local name=$1 svc=$2 pname=$3 port=$4 proto=$5
	shift 5
	local eps="" e
	for e in "$@"; do
		IFS=: read -r addr ready term <<<"$e"
		eps+="{\"addresses\":[\"$addr\"],\"conditions\":{\"ready\":$ready,\"serving\":true,\"terminating\":$term},\"nodeName\":\"node1\"},"
	done
	cat <<EOF
{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"$name","namespace":"default",
 "labels":{"kubernetes.io/service-name":"$svc"}},"addressType":"IPv4",
 "endpoints":[${eps%,}],"ports":[{"name":"$pname","port":$port,"protocol":"$proto"}]}
EOF
}

# web: three backends behind a named targetPort.
cat <<EOF | k apply -f - >/dev/null
{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default"},
 "spec":{"clusterIP":"10.96.100.10","ports":[{"name":"http","port":80,"targetPort":"http"}],
 "selector":{"app":"web"}}}
EOF
slice web-1 web http 8080 TCP 10.244.1.11:true:false 10.244.1.12:true:false \
	10.244.1.13:true:false | k apply -f - >/dev/null

spread() { # the "NAME COUNT" lines of lbprobe tcp from the node, in the cgroup
	in_cg_ns "$cg" node "$probe" tcp 10.96.100.10 80 "$1"
}
answers() { # ADDR PORT [PROTO]: one request from the node reaches a pod
	in_cg_ns "$cg" node "$probe" "${3:-tcp}" "$1" "$2" 1 | grep -q '^pod'
}
refuses() { # ADDR PORT
	in_cg_ns "$cg" node "$probe" refused "$1" "$2" | grep -q ECONNREFUSED
}
avoids() { # POD: 20 new connections to web, none reach POD
	! in_cg_ns "$cg" node "$probe" tcp 10.96.100.10 80 20 | grep -q "^$1 "
}
wait_for 10 answers 10.96.100.10 80 || { tail -30 "$dir/agent.log"; fail "the service never answered"; }

out=$(spread 300)
for i in 1 2 3; do
	n=$(awk -v p=pod$i '$1 == p { print $2 }' <<<"$out")
	[ "${n:-0}" -ge 50 ] || fail "pod$i got ${n:-0} of 300 connections:
$out"
done
grep -q '^error' <<<"$out" && fail "errors on a healthy service: $out"

# From another pod's namespace too (the hooks follow the cgroup, not the netns).
out=$(in_cg_ns "$cg" client "$probe" tcp 10.96.100.10 80 30)
[ "$(awk '/^pod/ { s += $2 } END { print s }' <<<"$out")" = 30 ] || fail "pod client: $out"
# getpeername shows the service, not the backend.
out=$(in_cg_ns "$cg" node "$probe" peer 10.96.100.10 80)
[ "$out" = "peer 10.96.100.10:80" ] || fail "getpeername: $out"
# A process outside the cgroup is not translated: the unreachable route stops it.
out=$(in_ns node "$probe" refused 10.96.100.10 80)
[[ $out == "errno EHOSTUNREACH"* ]] || fail "outside the cgroup: $out"
# A service address on a port that is not served is refused.
out=$(in_cg_ns "$cg" node "$probe" refused 10.96.100.10 81)
[[ $out == "errno ECONNREFUSED"* ]] || fail "unserved port: $out"

# Removing a backend: no new connections to it, the established one finishes.
in_cg_ns "$cg" node "$probe" hold 10.96.100.10 80 4 >"$dir/hold.out" &
hold_pid=$!
wait_for 5 grep -q '^connected' "$dir/hold.out" || fail "hold did not connect"
held=$(awk '{ print $2 }' "$dir/hold.out")
keep=(10.244.1.11:true:false 10.244.1.12:true:false 10.244.1.13:true:false)
gone=${held#pod}
keep[$((gone - 1))]="10.244.1.1$gone:false:true"	# terminating
slice web-1 web http 8080 TCP "${keep[@]}" | k apply -f - >/dev/null
wait_for 10 avoids "$held" || fail "$held still gets new connections after it became terminating"
out=$(spread 100)
grep -q "^$held " <<<"$out" && fail "$held got new connections: $out"
wait "$hold_pid" || fail "the held connection to $held was cut: $(cat "$dir/hold.out")"
grep -q "^held $held $held" "$dir/hold.out" || fail "held connection: $(cat "$dir/hold.out")"

# Session affinity: one client namespace sticks to one backend.
cat <<EOF | k apply -f - >/dev/null
{"apiVersion":"v1","kind":"Service","metadata":{"name":"sticky","namespace":"default"},
 "spec":{"clusterIP":"10.96.100.11","ports":[{"name":"http","port":80,"targetPort":8080}],
 "sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":60}}}}
EOF
slice sticky-1 sticky http 8080 TCP 10.244.1.11:true:false 10.244.1.12:true:false \
	10.244.1.13:true:false | k apply -f - >/dev/null
wait_for 10 answers 10.96.100.11 80 || fail "sticky service never answered"
out=$(in_cg_ns "$cg" node "$probe" tcp 10.96.100.11 80 40)
[ "$(grep -c '^pod' <<<"$out")" = 1 ] || fail "affinity did not stick: $out"

# No endpoints: refused at once.
cat <<EOF | k apply -f - >/dev/null
{"apiVersion":"v1","kind":"Service","metadata":{"name":"empty","namespace":"default"},
 "spec":{"clusterIP":"10.96.100.12","ports":[{"port":80}]}}
EOF
wait_for 10 refuses 10.96.100.12 80 || fail "service without endpoints was not refused"
out=$(in_cg_ns "$cg" node "$probe" refused 10.96.100.12 80)
ms=$(awk '{ print int($3) }' <<<"$out")
[ "$ms" -lt 100 ] || fail "refusal took $ms ms"

# UDP: replies come from the service address, connected or not.
cat <<EOF | k apply -f - >/dev/null
{"apiVersion":"v1","kind":"Service","metadata":{"name":"dns","namespace":"default"},
 "spec":{"clusterIP":"10.96.100.53","ports":[{"name":"dns","port":53,"protocol":"UDP","targetPort":5353}]}}
EOF
slice dns-1 dns dns 5353 UDP 10.244.1.11:true:false 10.244.1.12:true:false | k apply -f - >/dev/null
wait_for 10 answers 10.96.100.53 53 udp || fail "UDP service never answered"
out=$(in_cg_ns "$cg" node "$probe" udp 10.96.100.53 53 20)
grep -q '^from 10.96.100.53:53$' <<<"$out" || fail "UDP reply source: $out"
[ "$(awk '/^pod/ { s += $2 } END { print s }' <<<"$out")" = 20 ] || fail "UDP replies: $out"
out=$(in_cg_ns "$cg" node "$probe" udpconn 10.96.100.53 53 5)
grep -q '^peer 10.96.100.53:53$' <<<"$out" || fail "connected UDP peer: $out"
grep -q '^from 10.96.100.53:53$' <<<"$out" || fail "connected UDP source: $out"

# kill -9 and restart of the agent during 10,000 short connections: none lost.
in_cg_ns "$cg" node "$probe" tcp 10.96.100.10 80 10000 >"$dir/loop.out" &
loop_pid=$!
sleep 1
kill -KILL "$agent_pid"
sleep 0.5
start_agent
wait "$loop_pid"
out=$(cat "$dir/loop.out")
[ "$(awk '/^pod/ { s += $2 } END { print s }' <<<"$out")" = 10000 ] ||
	fail "connections lost across an agent kill -9: $out"

# Metrics reflect what happened.
m=$(in_ns node curl -s http://127.0.0.1:9963/metrics)
grep -q '^capstan_drops_total{reason="port_not_served"} [1-9]' <<<"$m" || fail "drop metric: $(grep drops <<<"$m")"
grep -q 'capstan_service_connections_total{namespace="default",service="web"' <<<"$m" ||
	fail "service metric missing"
echo "socket LB: 3 backends spread, affinity, drain, refusal in ${ms} ms, UDP from VIP, 10000 connections across kill -9"
