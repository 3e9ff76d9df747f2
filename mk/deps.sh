#!/bin/bash
# Install every Debian package capstan needs to build, test and run.
#
# A quick no-op when everything is present (one dpkg-query call), so every
# make target can depend on it. When something is missing, the package index
# is refreshed once and the missing packages are installed non-interactively.
set -euo pipefail

packages=(
	# toolchain
	gcc make clang llvm bpftool pkg-config libclang-rt-14-dev
	# libraries (architecture brief, section 2)
	libbpf-dev libelf-dev zlib1g-dev libmicrohttpd-dev libjansson-dev
	libcurl4-openssl-dev libyaml-dev libsqlite3-dev sqlite3
	libprotobuf-c-dev protobuf-c-compiler libnghttp2-dev
	libnl-3-dev libnl-route-3-dev
	# runtime pieces
	containerd runc iproute2 busybox-static curl
	# tests read JSON answers with it
	jq
	# NodePort XDP tests: checksum offload off on test veths
	ethtool
	# benchmarks: kube-proxy-shaped rules for comparison, the plots, and wrk
	# to cross-check the datapath benchmark's own load generator
	iptables nftables gnuplot-nox wrk
)

missing=()
status=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${packages[@]}" 2>/dev/null || true)
for p in "${packages[@]}"; do
	if ! grep -q "^$p ii" <<<"$status"; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

echo "deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages and not root; run 'make deps' as root" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
