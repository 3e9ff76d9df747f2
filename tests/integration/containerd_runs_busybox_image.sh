#!/bin/bash
# The runtime pieces `make deps` installs work on this machine: containerd
# starts with the settings capstan uses (no systemd cgroups, restricted OOM
# score adjustment), `capstan image load` imports the busybox image make
# builds (build/images/busybox.tar, `capstan image build`), and runc runs a
# container from it.
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

image=$BUILD/images/busybox.tar
[ -r "$image" ] || fail "$image missing (make images builds it)"
digest=$("$BUILD/bin/capstan" image inspect "$image" | cut -f3)
[[ $digest == sha256:* ]] || fail "image inspect printed '$digest'"
"$BUILD/bin/capstan" image load --address "$sock" --namespace capstan-test "$image" >/dev/null
"${ctr[@]}" images ls -q | grep -qx capstan.local/busybox:1 || fail "image not listed after load"

out=$(timeout 60 "${ctr[@]}" run --rm capstan.local/busybox:1 capstan-it-$$ /bin/echo hello-capstan)
[ "$out" = hello-capstan ] || fail "container printed '$out'"
# The image's PATH is honoured too, and the container runs as root.
out=$(timeout 60 "${ctr[@]}" run --rm capstan.local/busybox:1 capstan-it2-$$ sh -c 'echo $PATH; id -u')
[ "$out" = "$(printf '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n0')" ] ||
	fail "container environment: '$out'"
echo "containerd $(containerd --version | awk '{print $3}') ran busybox from image $digest"
