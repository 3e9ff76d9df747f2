#!/bin/bash
# Build a small OCI image from busybox-static, with no registry and no Docker:
# a one-layer root filesystem (busybox and its applet links), an image config
# and a manifest, written as an OCI image layout tarball that
# `ctr images import` (and later capstan up) loads into containerd.
#
#   build-image.sh OUT.tar NAME:TAG [CMD...]
#
# The image is reproducible: fixed timestamps and owners, sorted entries, so
# the same busybox gives the same digest.
set -euo pipefail

out=$1 ref=$2
shift 2
cmd_json='["/bin/sh"]'
if [ $# -gt 0 ]; then
	cmd_json="[$(printf '"%s",' "$@" | sed 's/,$//')]"
fi
busybox=/bin/busybox
# The image has no libc: only a static busybox (package busybox-static) works.
if ! "$busybox" true || ldd "$busybox" >/dev/null 2>&1; then
	echo "build-image: $busybox is missing or not static (make deps installs busybox-static)" >&2
	exit 1
fi

work=$(mktemp -d /tmp/capstan-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs layout=$work/layout
mkdir -p "$rootfs"/{bin,etc,tmp,proc,sys,dev,root,var/www} "$layout/blobs/sha256"
cp "$busybox" "$rootfs/bin/busybox"
for applet in $("$busybox" --list); do
	[ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$rootfs/etc/group"
chmod 1777 "$rootfs/tmp"

# Layer: a deterministic tar, then its digest (uncompressed: diff_id == digest).
tar --sort=name --mtime='2024-01-01 00:00:00' --owner=0 --group=0 --numeric-owner \
	-C "$rootfs" -cf "$work/layer.tar" .
layer_digest=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
layer_size=$(stat -c %s "$work/layer.tar")
mv "$work/layer.tar" "$layout/blobs/sha256/$layer_digest"

blob() { # write stdin as a blob, print "digest size"
	local tmp=$work/blob d
	cat >"$tmp"
	d=$(sha256sum "$tmp" | cut -d' ' -f1)
	mv "$tmp" "$layout/blobs/sha256/$d"
	echo "$d $(stat -c %s "$layout/blobs/sha256/$d")"
}

read -r config_digest config_size < <(printf '%s' "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/bin\"],\"Cmd\":$cmd_json,\"WorkingDir\":\"/\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$layer_digest\"]},\"created\":\"2024-01-01T00:00:00Z\"}" | blob)

read -r manifest_digest manifest_size < <(printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$config_digest\",\"size\":$config_size},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$layer_digest\",\"size\":$layer_size}]}" | blob)

printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
printf '%s' "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$manifest_digest\",\"size\":$manifest_size,\"annotations\":{\"io.containerd.image.name\":\"$ref\",\"org.opencontainers.image.ref.name\":\"${ref##*:}\"}}]}" >"$layout/index.json"

tar --sort=name --mtime='2024-01-01 00:00:00' --owner=0 --group=0 --numeric-owner \
	-C "$layout" -cf "$out" .
echo "sha256:$manifest_digest"
