#!/bin/bash
# `capstan bench datapath` end to end, small: every path it compares is set
# up, measured and torn down (its own namespaces, agents, kube-proxy-shaped
# rules, XDP programs), and the report holds a row for each, the one-change
# timings, the forwarding figures, the agent's memory, wrk's cross-check,
# the target lines and the plots. The figures themselves are not judged here (the machine is
# shared); that they exist, are positive and came from working paths is.
source "$(dirname "$0")/../harness/lib.sh"
require_root
[ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF"
for tool in iptables-nft-restore nft ethtool wrk; do
	command -v "$tool" >/dev/null || skip "$tool is not installed (make deps)"
done

scratch dir
bench_dirs() { find /tmp -maxdepth 1 -name 'capstan-bench-datapath-*' | wc -l; }
left_before=$(bench_dirs)
out=$("$BUILD/bin/capstan" bench datapath --services 1,200 --rounds 1 --conns 600 \
	--requests 4000 --latency-conns 60 --chunks 1 --seconds 3 --flood-packets 50000 \
	--flood-seconds 2 --wrk 1 --results-dir "$dir" 2>"$dir/stderr") ||
	{ tail -30 "$dir/stderr"; fail "the benchmark failed"; }

row() { # COUNT TITLE: the connections-per-second row of a path, with a rate
	grep -qE "^\| $1 \| $2 \| [0-9]+ /s \|" <<<"$out"
}
for n in 1 200; do
	for path in "direct to the pod" "capstan socket LB \(ClusterIP\)" \
		"kube-proxy iptables rules, nf_tables \(ClusterIP\)" \
		"kube-proxy nftables mode rules \(ClusterIP\)" "capstan NodePort, tc" \
		"capstan NodePort, XDP \(native\)"; do
		row "$n" "$path" || fail "no figures for $path at $n services:
$out"
	done
	# The cross-check: wrk's rates (new and kept connections) next to ratios, ours beside.
	grep -qE "^\| $n \| direct to the pod \| [1-9][0-9]* /s \| 1.00x \| [1-9][0-9]* /s \| 1.00x \|" <<<"$out" ||
		fail "no wrk figures for direct at $n services"
	for path in "capstan socket LB \(ClusterIP\)" "kube-proxy iptables rules, nf_tables \(ClusterIP\)"; do
		grep -qE "^\| $n \| $path \| [1-9][0-9]* /s \| [0-9.]+x / [0-9.]+x / [0-9.]+x \[[0-9.]+x\] \| [1-9][0-9]* /s \|" <<<"$out" ||
			fail "no wrk figures for $path at $n services"
	done
	grep -qE "^\| $n \| [1-9][0-9]* / [1-9][0-9]* / [1-9][0-9]* \| [1-9][0-9]* / [1-9][0-9]* / [1-9][0-9]* \|$" <<<"$out" ||
		fail "no capstan-agent memory figures at $n services"
	grep -qE "^\| $n \| one endpoint change: capstan-agent sync" <<<"$out" ||
		fail "no one-change figure for capstan at $n services"
	grep -qE "^\| $n \| one endpoint change: nft -f" <<<"$out" ||
		fail "no one-change figure for nftables mode at $n services"
	grep -qE "^\| $n \| capstan NodePort, XDP \(native\) \| [0-9.]+% \| [1-9][0-9]* \| [1-9][0-9]* \|" <<<"$out" ||
		fail "no forwarding figure for XDP at $n services"
done
if grep -qE "figures dropped|no wrk figures" <<<"$out"; then
	fail "a path failed its operations: $(grep -A20 '^Notes' <<<"$out")"
fi
for t in "socket LB at least 0.97x" "NodePort through XDP at least 3x" "one endpoint change applied"; do
	grep -q "^Target: .*$t" <<<"$out" || fail "no target line for: $t"
done
for f in cps rps p50 p99 cpu prog; do
	[ -s "$dir/datapath-$(date +%F)-$f.png" ] || fail "no $f plot in $dir: $(ls "$dir")"
done
# Nothing of the run is left: namespaces, cgroups, temp dirs.
if ip netns list | grep -q capstan-bench-; then fail "namespaces left: $(ip netns list)"; fi
[ "$(bench_dirs)" -eq "$left_before" ] || fail "a temp dir of the run was left in /tmp"
echo "bench datapath: every path measured, one-change and forwarding figures, targets and plots"
