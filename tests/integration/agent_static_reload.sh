#!/bin/bash
# capstan-agent --static: SIGHUP re-reads the file and applies it as one
# batch (a Service and the EndpointSlices changed with it land in one sync);
# a file that does not parse is refused and the maps keep what they had.
source "$(dirname "$0")/../harness/lib.sh"
source "$(dirname "$0")/../harness/netns.sh"
require_root
[ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF"
command -v jq >/dev/null || skip "jq is not installed (make deps)"

scratch dir
test_cgroup cg
private_bpffs bpffs
node_create node

svc() { # NAME IP PORT
	echo "{\"kind\":\"Service\",\"metadata\":{\"name\":\"$1\",\"namespace\":\"default\"},
	  \"spec\":{\"clusterIP\":\"$2\",\"ports\":[{\"name\":\"http\",\"port\":$3,\"protocol\":\"TCP\"}]}}"
}
slice() { # SERVICE PORT ADDR...
	local name=$1 port=$2 eps="" a
	shift 2
	for a in "$@"; do
		eps+="{\"addresses\":[\"$a\"],\"conditions\":{\"ready\":true},\"nodeName\":\"n1\"},"
	done
	echo "{\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"$name-x\",\"namespace\":\"default\",
	  \"labels\":{\"kubernetes.io/service-name\":\"$name\"}},\"addressType\":\"IPv4\",
	  \"ports\":[{\"name\":\"http\",\"port\":$port,\"protocol\":\"TCP\"}],\"endpoints\":[${eps%,}]}"
}
# 3,000 unchanged services with their slices: the reload takes long enough to
# feed that a sync started at its first change would not see its last ones.
filler=""
for i in $(seq 0 2999); do
	filler+=",$(svc "f$i" "10.96.$((60 + i / 250)).$((i % 250 + 1))" 80)"
	filler+=",$(slice "f$i" 8080 "10.244.8.$((i % 250 + 1))")"
done
write() { # FIRST-ITEM ITEM... -> the --static file (fillers after the first), in one rename
	local first=$1 IFS=,
	shift
	echo "{\"kind\":\"List\",\"items\":[$first$filler,$*]}" >"$dir/next.json"
	mv "$dir/next.json" "$dir/static.json"
}
# "ADDR:PORT BACKEND,BACKEND" per service port, sorted: what the maps hold.
programmed() {
	"$BUILD/bin/capstan" lb list --bpffs-dir "$bpffs/capstan" -o json |
		jq -r '.services[] | "\(.address):\(.port) \([.slots[].address // empty] | unique | join(","))"' |
		grep '^10\.96\.50\.' | sort
}
programmed_is() { [ "$(programmed)" = "$1" ]; }
syncs() { grep -c 'sync (' "$dir/agent.log"; }

write "$(svc a 10.96.50.1 80)" "$(slice a 8080 10.244.9.1)" \
	"$(svc b 10.96.50.2 80)" "$(slice b 8080 10.244.9.2)"
bg_in_ns node "$BUILD/bin/capstan-agent" --static "$dir/static.json" --nodeport=false \
	--node-name n1 --cgroup-path "$cg" --bpffs-dir "$bpffs/capstan" \
	--metrics-listen 127.0.0.1:9964 --v=4 >>"$dir/agent.log" 2>&1
agent_pid=$!
defer stop_pid "$agent_pid"
defer "$BUILD/bin/capstan-agent" --cleanup --bpffs-dir "$bpffs/capstan" --cgroup-path "$cg"
wait_for 20 in_ns node curl -sf http://127.0.0.1:9964/healthz ||
	{ tail -30 "$dir/agent.log"; fail "agent not healthy"; }
want=$'10.96.50.1:80 10.244.9.1\n10.96.50.2:80 10.244.9.2'
wait_for 10 programmed_is "$want" || fail "first sync: got
$(programmed)
want
$want"

# a: new port and a second endpoint (Service and slice together); b gone; c new.
before=$(syncs)
sleep 0.3 # past --sync-min-interval (100 ms): a change may start a sync at once
write "$(svc a 10.96.50.1 81)" "$(slice a 8081 10.244.9.1 10.244.9.3)" \
	"$(svc c 10.96.50.3 80)" "$(slice c 8080 10.244.9.4)"
kill -HUP "$agent_pid"
want=$'10.96.50.1:81 10.244.9.1,10.244.9.3\n10.96.50.3:80 10.244.9.4'
wait_for 10 programmed_is "$want" || fail "after SIGHUP: got
$(programmed)
want
$want"
# One batch: the first sync after the SIGHUP rebuilt all three services (a, b, c).
first=$(grep 'sync (' "$dir/agent.log" | sed -n "$((before + 1))p")
grep -q "3 services rebuilt" <<<"$first" || fail "the reload was not one sync: $first"

# A broken file changes nothing.
echo '{"kind":"List","items":[' >"$dir/static.json"
kill -HUP "$agent_pid"
wait_for 10 grep -q "SIGHUP: .*keeping the previous contents" "$dir/agent.log" ||
	fail "no refusal logged: $(tail -5 "$dir/agent.log")"
[ "$(programmed)" = "$want" ] || fail "a broken file changed the maps: $(programmed)"
kill -0 "$agent_pid" || fail "the agent died on a broken file"
echo "agent --static: SIGHUP applies the file in one sync, a broken file changes nothing"
