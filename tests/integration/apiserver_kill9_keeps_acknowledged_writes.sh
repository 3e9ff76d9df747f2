#!/bin/bash
# Every write the API server acknowledged with 201 survives kill -9 in the
# middle of a burst of writes: the reply is only sent once the write is
# fsync'd (group commit), and the store recovers from its WAL on restart.
source "$(dirname "$0")/../harness/lib.sh"

scratch dir
log=$dir/apiserver.log

start() {
	: >"$log"
	"$BUILD/bin/capstan-apiserver" --data-dir "$dir/data" --listen "127.0.0.1:${1:-0}" \
		>>"$log" 2>&1 &
	pid=$!
	defer stop_pid "$pid"
	wait_for 20 grep -q "listening on http://" "$log" || { cat "$log"; fail "no start"; }
	url=$(grep -o 'listening on http://[0-9.:]*' "$log" | tail -1 | awk '{print $3}')
}
start

# Four writers, each recording a name only after its 201.
writer() {
	local w=$1 i=0
	while :; do
		i=$((i + 1))
		code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
			-X POST "$url/api/v1/namespaces/default/configmaps" \
			-d "{\"metadata\":{\"name\":\"w$w-$i\"},\"data\":{\"i\":\"$i\"}}") || break
		[ "$code" = 201 ] || break
		echo "w$w-$i" >>"$dir/acked.$w"
		[ $i -lt 5000 ] || break
	done
}
for w in 1 2 3 4; do writer $w & done
sleep 2
kill -KILL "$pid"
wait 2>/dev/null || true
cat "$dir"/acked.* >"$dir/acked"
acked=$(wc -l <"$dir/acked")
[ "$acked" -gt 20 ] || fail "only $acked writes were acknowledged before the kill"

port=${url##*:}
start "$port"
curl -s "$url/api/v1/namespaces/default/configmaps" | grep -o '"name":"w[0-9]*-[0-9]*"' |
	sed 's/"name":"\(.*\)"/\1/' | sort >"$dir/present"
missing=$(sort "$dir/acked" | comm -23 - "$dir/present" | wc -l)
[ "$missing" -eq 0 ] || fail "$missing of $acked acknowledged writes are missing after kill -9: $(sort "$dir/acked" | comm -23 - "$dir/present" | head -5)"
echo "$acked acknowledged creates, all present after kill -9 and restart"
