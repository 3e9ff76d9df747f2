#!/bin/bash
# Runner for shell test layers (integration, e2e): runs every
# *.sh file in the given directory in name order, each with a time limit.
#
# A test exits 0 to pass, 77 to skip (only when the machine lacks a feature;
# it prints why on its last line of output), anything else to fail. Output of
# a test is kept in a log and shown only when it fails or skips.
set -u
dir=$1
limit=${CAPSTAN_TEST_TIMEOUT:-900}
passed=0 failed=0 skipped=0
logdir=$(mktemp -d /tmp/capstan-shtest.XXXXXX)
trap 'rm -rf "$logdir"' EXIT

shopt -s nullglob
for t in "$dir"/*.sh; do
	name=$(basename "$t" .sh)
	log="$logdir/$name.log"
	start=$SECONDS
	timeout --kill-after=10 "$limit" bash "$t" >"$log" 2>&1
	rc=$?
	took=$((SECONDS - start))
	case $rc in
	0)
		printf 'ok    %-44s (%d s)\n' "$name" "$took"
		passed=$((passed + 1)) ;;
	77)
		printf 'SKIP  %-44s %s\n' "$name" "$(tail -n 1 "$log")"
		skipped=$((skipped + 1)) ;;
	*)
		[ $rc -eq 124 ] && echo "  (timed out after $limit s)" >>"$log"
		printf 'FAIL  %-44s exit %d after %d s; log:\n' "$name" "$rc" "$took"
		sed 's/^/    | /' "$log" | tail -n 60
		failed=$((failed + 1)) ;;
	esac
done
[ $skipped -gt 0 ] && echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
