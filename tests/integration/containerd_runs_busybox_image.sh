#!/bin/bash
# The runtime pieces `make deps` installs work on this machine: containerd
# starts with the settings capstan uses (no systemd cgroups, restricted OOM
# score adjustment), imports the busybox image built by
# tests/images/build-image.sh, and runc runs a container from it.
source "$(dirname "$0")/../harness/lib.sh"
require_root
command -v containerd >/dev/null || fail "containerd missing (make deps installs it)"

scratch dir
defer umount_below "$dir"
sock=$dir/containerd.sock
cat >"$dir/config.toml" <<CONF
version = 2
root = "$dir/root"
state = "$dir/state"
[grpc]
  address = "$sock"
[plugins."io.containerd.grpc.v1.cri"]
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
CONF

containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
pid=$!
defer stop_pid "$pid"
wait_for 20 test -S "$sock" || { cat "$dir/containerd.log"; fail "containerd did not start"; }
ctr=(ctr --address "$sock" -n capstan-test)
wait_for 20 "${ctr[@]}" version || fail "containerd does not answer"

digest=$(bash "$CAPSTAN_ROOT/tests/images/build-image.sh" "$dir/busybox.tar" capstan.local/busybox:test)
[[ $digest == sha256:* ]] || fail "image build printed '$digest'"
"${ctr[@]}" images import "$dir/busybox.tar" >/dev/null
"${ctr[@]}" images ls -q | grep -qx capstan.local/busybox:test || fail "image not listed after import"

out=$(timeout 60 "${ctr[@]}" run --rm capstan.local/busybox:test capstan-it-$$ /bin/echo hello-capstan)
[ "$out" = hello-capstan ] || fail "container printed '$out'"
# The image's default command and PATH are honoured too.
out=$(timeout 60 "${ctr[@]}" run --rm capstan.local/busybox:test capstan-it2-$$ sh -c 'echo $PATH; id -u')
[ "$out" = "$(printf '/bin\n0')" ] || fail "container environment: '$out'"
echo "containerd $(containerd --version | awk '{print $3}') ran busybox from image $digest"
