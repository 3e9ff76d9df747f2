#!/bin/bash
# Run test layers in order and fail if any failed. Every layer runs even when
# an earlier one failed, so one run shows everything that is broken.
#
#   tests/run-layers.sh unit unit-asan bpf integration e2e
#
# Layers: unit and unit-asan (C, no root), fuzz (libFuzzer for a bounded
# time, no root), bpf (C, root), integration and e2e
# (shell scripts, root). Each layer's runner prints one line per test and a
# closing `N passed, N failed` line.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}

declare -A result
failed_layers=()

run_layer() {
	local layer=$1
	echo "=== layer: $layer"
	case $layer in
	unit)
		"$BUILD/tests/unit-tests" ;;
	unit-asan)
		# detect_leaks: every test is a child process that must free what it took.
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			"$BUILD/tests/unit-tests-asan" ;;
	fuzz)
		bash tests/fuzz/run.sh "$BUILD/tests/fuzz-apiserver" ;;
	bpf)
		"$BUILD/tests/bpf-tests" ;;
	integration)
		# C tests with root and real runtimes first, then the shell tests.
		local rc=0
		"$BUILD/tests/root-tests" || rc=1
		bash tests/harness/run-sh.sh "tests/$layer" || rc=1
		return $rc ;;
	e2e)
		bash tests/harness/run-sh.sh "tests/$layer" ;;
	*)
		echo "unknown layer $layer" >&2
		return 2 ;;
	esac
}

for layer in "$@"; do
	start=$SECONDS
	if run_layer "$layer"; then
		result[$layer]="ok ($((SECONDS - start)) s)"
	else
		result[$layer]="FAILED ($((SECONDS - start)) s)"
		failed_layers+=("$layer")
	fi
done

if [ $# -gt 1 ]; then
	echo "=== summary"
	for layer in "$@"; do
		printf '  %-12s %s\n' "$layer" "${result[$layer]}"
	done
fi
if [ ${#failed_layers[@]} -gt 0 ]; then
	echo "failed layers: ${failed_layers[*]}"
	exit 1
fi
