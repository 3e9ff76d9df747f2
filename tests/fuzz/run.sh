#!/bin/bash
# Run a libFuzzer target for a bounded time from the committed seed corpus.
# New inputs go to a scratch copy of the corpus, never into the repository.
# A crash leaves its input in build/fuzz-crashes/ and fails the layer.
#
#   tests/fuzz/run.sh BINARY    (CAPSTAN_FUZZ_SECONDS, default 60)
set -u
bin=$1
name=$(basename "$bin")
seconds=${CAPSTAN_FUZZ_SECONDS:-60}
seeds=$(dirname "$0")/corpus
crashes=build/fuzz-crashes
work=$(mktemp -d /tmp/capstan-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$crashes"
cp -r "$seeds/." "$work/" 2>/dev/null || true

start=$SECONDS
"$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 -max_len=65536 \
	-artifact_prefix="$crashes/" -print_final_stats=1 "$work" >"$work.log" 2>&1
rc=$?
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work.log" | grep -o '[0-9]*$')
if [ $rc -eq 0 ]; then
	printf 'ok    %-44s (%d s, %s inputs)\n' "$name" $((SECONDS - start)) "${runs:-?}"
	echo "1 passed, 0 failed"
	rm -f "$work.log"
	exit 0
fi
printf 'FAIL  %-44s exit %d; crash inputs in %s\n' "$name" $rc "$crashes"
tail -n 60 "$work.log" | sed 's/^/    | /'
rm -f "$work.log"
echo "0 passed, 1 failed"
exit 1
